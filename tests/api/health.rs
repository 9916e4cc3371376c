//! Health, readiness, metrics, errors.

use serde_json::json;

use super::helpers::{promtool, spawn_app};

#[actix_web::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get_json("/healthz").await["status"], "ok");
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["store"], "ok");
}

#[actix_web::test]
async fn metrics_use_the_contract_names_and_pass_promtool() {
    let app = spawn_app().await;
    super::helpers::wait_for(
        "a sync to be recorded",
        std::time::Duration::from_secs(10),
        || async {
            super::helpers::metric_value(
                &app.metrics().await,
                r#"syncwatch_sync_runs_total{provider="tekion",status="success"}"#,
            )
            .filter(|v| *v > 0.0)
        },
    )
    .await;
    let text = app.metrics().await;
    for name in [
        "syncwatch_sync_runs_total",
        "syncwatch_sync_failures_total",
        "syncwatch_sync_duration_seconds_bucket",
        "syncwatch_sync_last_success_timestamp_seconds",
        "syncwatch_provider_requests_total",
        "syncwatch_stage_records_received_total",
        "syncwatch_stage_iterator_age_seconds",
        "syncwatch_stage_queue_capacity_records",
        "syncwatch_rule_evaluation_duration_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    let path = app.path().join("metrics.txt");
    std::fs::write(&path, &text).unwrap();
    promtool(&["check".as_ref(), "metrics".as_ref()], Some(&path));
}

#[actix_web::test]
async fn unknown_paths_and_bad_bodies_get_json_errors() {
    let app = spawn_app().await;
    let r = app.get("/api/v1/nope").await;
    assert_eq!(r.status().as_u16(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let r = app
        .client
        .post(format!("{}/api/v1/runbooks/lookup", app.address))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid JSON"),
        "{body}"
    );

    let huge = "x".repeat(300 * 1024);
    let r = app.lookup(&json!({"query": huge})).await;
    assert_eq!(r.status().as_u16(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
}
