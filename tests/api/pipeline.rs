//! Records through the pipeline: stored once, bad ones to the DLQ, metrics and alert.

use std::time::Duration;

use serde_json::json;
use syncwatch::simulator::data::RECORDS_PER_CONNECTION;

use super::helpers::{Options, metric_value, spawn_app, spawn_app_with, wait_for};

#[actix_web::test]
async fn synced_records_are_stored_once_and_malformed_ones_go_to_the_dlq() {
    let app = spawn_app().await;
    let store = app.store().await;
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

#[actix_web::test]
async fn a_transform_stage_repairs_drifted_formats_and_sends_what_it_cannot_to_the_dlq() {
    // MyKaarma's drifted records (dates as MM/DD/YYYY HH:MM, amounts as text) pass once the
    // transform normalises them before validation.
    let app = spawn_app_with(Options {
        providers: vec![("mykaarma", vec!["dealer-301"])],
        stages: r#"["transform", "validate", "store"]"#,
        transform: Some(
            r#"[[streams]]
name = "*"
steps = [
  { op = "rename", from = "dealer_id", to = "dealer" },
  { op = "cast", field = "amount", to = "number" },
  { op = "date", field = "updated_at", formats = ["rfc3339", "%m/%d/%Y %H:%M"] },
]
"#
            .into(),
        ),
        ..Options::default()
    })
    .await;
    let store = app.store().await;
    wait_for("every record stored", Duration::from_secs(20), || async {
        (store.count_records("mykaarma").await.unwrap() == RECORDS_PER_CONNECTION as i64)
            .then_some(())
    })
    .await;
    let payload = store
        .record_payloads("mykaarma", 1)
        .await
        .unwrap()
        .remove(0);
    let record: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(record["dealer"], "dealer-301", "{record}");
    assert!(record.get("dealer_id").is_none(), "{record}");

    app.inject_fault(&json!({"provider": "mykaarma", "kind": "format_drift", "duration": "1h"}))
        .await;
    let m = wait_for(
        "drifted records transformed",
        Duration::from_secs(40),
        || async {
            let m = app.metrics().await;
            metric_value(
                &m,
                r#"syncwatch_stage_records_sent_total{pipeline="dms",stage="transform"}"#,
            )
            .filter(|n| *n > RECORDS_PER_CONNECTION as f64)
            .map(|_| m)
        },
    )
    .await;
    assert_eq!(
        metric_value(
            &m,
            r#"syncwatch_stage_errors_total{pipeline="dms",stage="validate",error_class="schema"}"#
        ),
        Some(0.0),
        "normalised before validation: {m}"
    );
    assert_eq!(
        store.count_dead_letters("dms", "validate").await.unwrap(),
        0
    );
    // A value no step can repair goes to the DLQ at the transform stage, unchanged.
    app.clear_faults().await;
    app.inject_fault(
        &json!({"provider": "mykaarma", "kind": "malformed", "duration": "1h", "ratio": 1.0}),
    )
    .await;
    wait_for(
        "transform dead letters",
        Duration::from_secs(40),
        || async {
            (store.count_dead_letters("dms", "transform").await.unwrap() > 0).then_some(())
        },
    )
    .await;
    let page = app.get_json("/api/v1/dlq?stage=transform&limit=1").await;
    let letter = &page["dead_letters"][0];
    assert!(
        letter["error"]
            .as_str()
            .unwrap()
            .starts_with("field amount: cannot cast \""),
        "{letter}"
    );
    assert!(
        letter["record"].get("dealer_id").is_some(),
        "the original: {letter}"
    );
}

#[actix_web::test]
async fn the_export_stage_writes_each_batch_as_a_json_lines_object() {
    let app = spawn_app_with(Options {
        stages: r#"["validate", "store", "export"]"#,
        pipeline_extra: r#"export_url = "file://{dir}/export""#,
        ..Options::default()
    })
    .await;
    let root = app.path().join("export").join("tekion");
    let lines = || {
        let mut records = Vec::new();
        for stream in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            for day in std::fs::read_dir(stream.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                for object in std::fs::read_dir(day.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let name = object.file_name().to_string_lossy().into_owned();
                    assert!(name.ends_with(".jsonl"), "{name}");
                    let text = std::fs::read_to_string(object.path()).unwrap();
                    for line in text.lines() {
                        records.push(serde_json::from_str::<serde_json::Value>(line).unwrap());
                    }
                }
            }
        }
        records
    };
    let records = wait_for("every record exported", Duration::from_secs(20), || async {
        let r = lines();
        (r.len() >= 2 * RECORDS_PER_CONNECTION).then_some(r)
    })
    .await;
    let mut ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        2 * RECORDS_PER_CONNECTION,
        "every record of both connections"
    );
    let m = app.metrics().await;
    assert!(
        metric_value(
            &m,
            r#"syncwatch_stage_records_sent_total{pipeline="dms",stage="export"}"#
        )
        .is_some_and(|n| n >= (2 * RECORDS_PER_CONNECTION) as f64),
        "{m}"
    );
}
