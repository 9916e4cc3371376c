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

    // Long URLs: under the HTTP layer's 64 KiB URI limit syncwatch answers (JSON); past it the
    // HTTP layer refuses the request (400, then 431 past a 128 KiB head) and serves the next.
    // (Sent raw: an HTTP client refuses to build such a URI.)
    let long = |n: usize| format!("/api/v1/nope?q={}", "x".repeat(n));
    let (status, body) = raw_get(&app.address, &long(60 * 1024)).await;
    assert_eq!(status, 404);
    assert!(body.contains("\"not_found\""), "{body:.200}");
    assert_eq!(raw_get(&app.address, &long(100 * 1024)).await.0, 400);
    assert_eq!(raw_get(&app.address, &long(200 * 1024)).await.0, 431);
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}

/// `GET path` over a plain TCP connection: the status and the body.
async fn raw_get(address: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    // The server may answer and close before it has read the whole request.
    let _ = conn.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {answer:.200}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}
