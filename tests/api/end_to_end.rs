//! The whole path: a provider fault → alert → Slack, email and ticket with the runbook → the
//! fault clears → resolved message and resolved ticket.

use std::time::Duration;

use serde_json::json;

use super::helpers::{Options, spawn_app, spawn_app_with, wait_for};

const WAIT: Duration = Duration::from_secs(20);

#[actix_web::test]
async fn an_auth_fault_pages_slack_emails_and_tickets_then_resolves() {
    let app = spawn_app().await;
    // Healthy first: syncs succeed and nothing fires.
    wait_for("a first successful sync", WAIT, || async {
        let p = app.get_json("/api/v1/providers").await;
        p["providers"][0]["connections"][0]["last_success"]
            .is_string()
            .then_some(())
    })
    .await;
    assert!(app.alerts().await.is_empty());

    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;

    // Slack gets chat.postMessage naming the alert and the provider, with the runbook link.
    let firing = wait_for("the firing Slack message", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.body.to_string().contains("FIRING"))
    })
    .await;
    assert_eq!(firing.method, "chat.postMessage");
    assert_eq!(
        firing.authorization.as_deref(),
        Some("Bearer xoxb-test-token")
    );
    assert!(
        firing
            .content_type
            .as_deref()
            .unwrap_or_default()
            .starts_with("application/json")
    );
    assert_eq!(firing.body["channel"], "#oncall");
    let text = firing.body.to_string();
    assert!(text.contains("ProviderAuthFailing"), "{text}");
    assert!(text.contains("tekion"), "{text}");
    assert!(
        text.contains("http://syncwatch.test/api/v1/runbooks/tekion-token-expired"),
        "{text}"
    );
    assert!(
        text.contains("http://syncwatch.test/api/v1/tickets/"),
        "the message links the ticket: {text}"
    );
    assert!(
        firing.body["blocks"]
            .as_array()
            .is_some_and(|b| !b.is_empty()),
        "Block Kit blocks"
    );

    // An email arrives with the same facts.
    let email = wait_for("the firing email", WAIT, || async {
        app.smtp
            .messages()
            .into_iter()
            .find(|m| m.contains("FIRING"))
    })
    .await;
    assert!(
        email.contains("Subject: [FIRING:1] ProviderAuthFailing tekion"),
        "{email}"
    );
    assert!(email.contains("tekion-token-expired"), "{email}");

    // One ticket, open, with the runbook and the alert's facts.
    let tickets = app.tickets("?status=open").await;
    let list = tickets["tickets"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{tickets}");
    let t = &list[0];
    assert_eq!(t["alertname"], "ProviderAuthFailing");
    assert_eq!(t["provider"], "tekion");
    assert_eq!(t["severity"], "critical");
    assert_eq!(t["priority"], "P1");
    assert_eq!(t["tier"], "L2");
    assert_eq!(t["occurrences"], 1);
    assert_eq!(t["runbook"]["id"], "tekion-token-expired");
    let id = t["id"].as_str().unwrap().to_string();
    let one = app.get_json(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(
        one["dedup_key"],
        "alertname=ProviderAuthFailing,provider=tekion,connection="
    );

    // The alert lists its runbook and ticket.
    let alerts = app.alerts().await;
    let a = alerts
        .iter()
        .find(|a| a["name"] == "ProviderAuthFailing" && a["state"] == "firing")
        .expect("firing alert");
    assert_eq!(a["ticket"]["id"], id.as_str());
    assert_eq!(a["runbook"]["id"], "tekion-token-expired");

    app.clear_faults().await;

    let resolved = wait_for("the resolved Slack message", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.body.to_string().contains("RESOLVED"))
    })
    .await;
    assert!(resolved.body.to_string().contains("ProviderAuthFailing"));
    wait_for("the resolved email", WAIT, || async {
        app.smtp
            .messages()
            .into_iter()
            .find(|m| m.contains("Subject: [RESOLVED] ProviderAuthFailing tekion"))
    })
    .await;
    let t = wait_for("the ticket to resolve", WAIT, || async {
        let t = app.get_json(&format!("/api/v1/tickets/{id}")).await;
        (t["status"] == "resolved").then_some(t)
    })
    .await;
    assert!(t["resolved_at"].is_string());
    // Still one ticket: the whole episode never opened a second.
    assert_eq!(
        app.tickets("").await["tickets"].as_array().unwrap().len(),
        1
    );
    // Exactly one firing and one resolved message.
    let calls = app.slack.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.body.to_string().contains("FIRING"))
            .count(),
        1
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.body.to_string().contains("RESOLVED"))
            .count(),
        1
    );
}

#[actix_web::test]
async fn a_second_occurrence_after_resolution_reopens_the_same_ticket() {
    let app = spawn_app().await;
    for round in 1..=2 {
        app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
            .await;
        wait_for("the ticket to be open", WAIT, || async {
            let t = app.tickets("?status=open").await;
            (t["tickets"].as_array().map(Vec::len) == Some(1)).then_some(())
        })
        .await;
        app.clear_faults().await;
        wait_for("the ticket to resolve", WAIT, || async {
            let t = app.tickets("?status=resolved").await;
            (t["tickets"].as_array().map(Vec::len) == Some(1)).then_some(())
        })
        .await;
        let all = app.tickets("").await;
        assert_eq!(
            all["tickets"].as_array().unwrap().len(),
            1,
            "round {round}: {all}"
        );
        assert_eq!(all["tickets"][0]["occurrences"], round);
    }
}

#[actix_web::test]
async fn an_incoming_webhook_gets_firing_and_resolved_messages() {
    let app = spawn_app_with(Options {
        slack_config: "api_url: http://127.0.0.1:{slack}/services/T000/B000/XXXX".into(),
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let firing = wait_for("the webhook message", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.method == "webhook" && c.body.to_string().contains("FIRING"))
    })
    .await;
    assert!(firing.authorization.is_none(), "webhooks carry no token");
    assert!(
        firing.body["text"]
            .as_str()
            .unwrap()
            .contains("ProviderAuthFailing tekion")
    );
    app.clear_faults().await;
    wait_for("the resolved webhook message", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.method == "webhook" && c.body.to_string().contains("RESOLVED"))
    })
    .await;
    assert!(app.slack.calls().iter().all(|c| c.method == "webhook"));
}
