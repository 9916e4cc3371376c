//! Providers: status, manual syncs, Retry-After.

use std::time::Duration;

use serde_json::json;

use super::helpers::{Options, spawn_app, spawn_app_with, wait_for};

#[actix_web::test]
async fn providers_report_each_connection_and_its_last_error() {
    let app = spawn_app().await;
    app.inject_fault(
        &json!({"provider": "tekion", "kind": "pending_subscription", "duration": "1h"}),
    )
    .await;
    let conn = wait_for("a config failure", Duration::from_secs(10), || async {
        let p = app.get_json("/api/v1/providers").await;
        let c = p["providers"][0]["connections"][0].clone();
        (c["last_error"]["error_class"] == "config").then_some(c)
    })
    .await;
    assert_eq!(conn["connection"], "dealer-001");
    assert!(
        conn["last_error"]["reason"]
            .as_str()
            .unwrap()
            .contains("subscription pending")
    );
    assert!(conn["next_run"].is_string());
}

#[actix_web::test]
async fn a_manual_sync_starts_and_unknown_targets_are_404() {
    let app = spawn_app().await;
    let r = app
        .post_json(
            "/api/v1/providers/tekion/connections/dealer-001/sync",
            &json!({}),
        )
        .await;
    assert!(matches!(r.status().as_u16(), 202 | 409), "{}", r.status());
    assert_eq!(
        app.post_json("/api/v1/providers/tekion/connections/nope/sync", &json!({}))
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        app.post_json("/api/v1/providers/nope/connections/x/sync", &json!({}))
            .await
            .status()
            .as_u16(),
        404
    );
}

#[actix_web::test]
async fn nobody_calls_a_provider_before_its_retry_after() {
    // One connection, so no other request can be in flight when the 429 arrives.
    let app = spawn_app_with(Options {
        providers: vec![("tekion", vec!["dealer-001"])],
        ..Options::default()
    })
    .await;
    app.inject_fault(
        &json!({"provider": "tekion", "kind": "rate_limit", "duration": "1h", "retry_after": "2s"}),
    )
    .await;
    let first_429 = wait_for("a 429", Duration::from_secs(10), || async {
        app.simulator_requests("tekion")
            .await
            .into_iter()
            .find(|r| r["status"] == 429)
    })
    .await;
    let at = first_429["at_ms"].as_i64().unwrap();
    // Let several schedule intervals (300 ms) pass inside the 2 s window.
    wait_for("the window to pass", Duration::from_secs(10), || async {
        app.simulator_requests("tekion")
            .await
            .iter()
            .any(|r| r["at_ms"].as_i64().unwrap() >= at + 2_000)
            .then_some(())
    })
    .await;
    let early: Vec<_> = app
        .simulator_requests("tekion")
        .await
        .into_iter()
        .filter(|r| {
            let t = r["at_ms"].as_i64().unwrap();
            t > at && t < at + 2_000
        })
        .collect();
    assert!(early.is_empty(), "called during Retry-After: {early:?}");
    // The 429 was counted once as a rate-limited failure, and the connection says it waits.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"syncwatch_provider_requests_total{provider="tekion",code="429"}"#),
        "{metrics}"
    );
}
