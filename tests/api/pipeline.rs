//! Records through the pipeline: stored once, bad ones to the DLQ, metrics and alert.

use std::time::Duration;

use serde_json::json;
use syncwatch::simulator::data::RECORDS_PER_CONNECTION;
use syncwatch::store::Store;

use super::helpers::{metric_value, spawn_app, wait_for};

#[actix_web::test]
async fn synced_records_are_stored_once_and_malformed_ones_go_to_the_dlq() {
    let app = spawn_app().await;
    let store = Store::connect(&format!(
        "sqlite://{}",
        app.path().join("syncwatch.db").display()
    ))
    .await
    .unwrap();
    // Two connections, several syncs each: upserts keep exactly one row per record.
    wait_for("every record stored", Duration::from_secs(20), || async {
        (store.count_records("tekion").await.unwrap() == 2 * RECORDS_PER_CONNECTION as i64)
            .then_some(())
    })
    .await;
    wait_for("repeated syncs", Duration::from_secs(20), || async {
        metric_value(
            &app.metrics().await,
            r#"syncwatch_sync_runs_total{provider="tekion",status="success"}"#,
        )
        .filter(|n| *n >= 4.0)
    })
    .await;
    assert_eq!(
        store.count_records("tekion").await.unwrap(),
        2 * RECORDS_PER_CONNECTION as i64
    );
    // Every stage beats.
    let m = app.metrics().await;
    let now = chrono::Utc::now().timestamp() as f64;
    for stage in ["validate", "store"] {
        let beat = metric_value(
            &m,
            &format!(
                r#"syncwatch_stage_last_processed_timestamp_seconds{{pipeline="dms",stage="{stage}"}}"#
            ),
        )
        .unwrap_or_else(|| panic!("no heartbeat of {stage}: {m}"));
        assert!((now - beat).abs() < 30.0, "{stage}: {beat} vs {now}");
    }

    // Syncs are incremental: each connection sees a changed record about every 10 s, and
    // every record the provider sends from now on is damaged.
    app.inject_fault(
        &json!({"provider": "tekion", "kind": "malformed", "duration": "1h", "ratio": 1.0}),
    )
    .await;
    wait_for("dead letters", Duration::from_secs(40), || async {
        (store.count_dead_letters("dms", "validate").await.unwrap() > 0).then_some(())
    })
    .await;
    let alert = wait_for("RecordsDiscarded", Duration::from_secs(20), || async {
        app.alerts()
            .await
            .into_iter()
            .find(|a| a["name"] == "RecordsDiscarded" && a["state"] == "firing")
    })
    .await;
    assert_eq!(alert["labels"]["stage"], "validate");
    assert_eq!(alert["runbook"]["id"], "records-discarded-schema");
    let m = app.metrics().await;
    assert!(
        m.contains(
            r#"syncwatch_stage_errors_total{pipeline="dms",stage="validate",error_class="schema"}"#
        ),
        "{m}"
    );
    assert!(
        m.contains(r#"syncwatch_dlq_records{pipeline="dms",stage="validate"}"#),
        "{m}"
    );
    // Bad records never reach the store: the count is unchanged.
    assert_eq!(
        store.count_records("tekion").await.unwrap(),
        2 * RECORDS_PER_CONNECTION as i64
    );
}
