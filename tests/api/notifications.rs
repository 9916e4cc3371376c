//! Notifications through the durable outbox: outages delay, never drop; order holds; a restart
//! in the middle loses nothing and duplicates nothing.

use std::time::Duration;

use serde_json::json;

use super::helpers::{Options, spawn_app, spawn_app_with, wait_for};

const WAIT: Duration = Duration::from_secs(30);

#[actix_web::test]
async fn slack_down_for_a_while_delays_notifications_but_never_drops_or_reorders_them() {
    let app = spawn_app().await;
    app.slack.fail_next(4);
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    wait_for(
        "the firing message, after the failed attempts",
        WAIT,
        || async { app.slack.calls().iter().find(|c| c.delivered).map(|_| ()) },
    )
    .await;
    app.clear_faults().await;
    // The resolution is an update of the message plus a reply in its thread: wait for both.
    wait_for("the resolution and its thread reply", WAIT, || async {
        let calls = app.slack.calls();
        (calls
            .iter()
            .any(|c| c.delivered && c.method == "chat.update")
            && calls
                .iter()
                .any(|c| c.delivered && c.body["thread_ts"].is_string()))
        .then_some(())
    })
    .await;
    let delivered: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.delivered)
        .collect();
    let summary: Vec<(String, String)> = delivered
        .iter()
        .map(|c| {
            (
                c.method.clone(),
                c.body["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        delivered.len(),
        3,
        "post, update, thread reply: {summary:?}"
    );
    assert_eq!(delivered[0].method, "chat.postMessage");
    assert!(
        delivered[0].body.to_string().contains("FIRING"),
        "firing first"
    );
    assert_eq!(
        delivered[1].method, "chat.update",
        "the resolution edits the message: {summary:?}"
    );
    assert!(delivered[1].body.to_string().contains("RESOLVED"));
    assert!(
        delivered[2].body["thread_ts"].is_string()
            && delivered[2].body["text"]
                .as_str()
                .unwrap()
                .contains("Resolved after")
    );
    let m = app.metrics().await;
    assert!(
        m.contains(
            r#"syncwatch_notifications_failed_total{integration="slack",reason="serverError"} 4"#
        ),
        "{m}"
    );
    // The email integration was never down and was not held back by Slack.
    assert_eq!(
        app.smtp
            .messages()
            .iter()
            .filter(|m| m.contains("Subject: [FIRING:1]"))
            .count(),
        1
    );
}

/// Slack down from before an alert fires until after it resolves: when it is back, the group's
/// current state (resolved) is sent once, not the firing message and then its resolution, and
/// it is sent within the outbox's 15 s backoff cap of the recovery.
#[actix_web::test]
async fn an_outage_spanning_a_firing_and_its_resolution_sends_the_current_state_once() {
    let app = spawn_app().await;
    app.slack.fail_next(usize::MAX);
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    wait_for("Slack to be failing", WAIT, || async {
        (app.slack.calls().iter().filter(|c| !c.delivered).count() >= 2).then_some(())
    })
    .await;
    app.clear_faults().await;
    let store = app.store().await;
    // Recover only once the resolution has superseded the firing message and no attempt is
    // under way: an attempt already on the wire when Slack comes back could still deliver the
    // firing message (and then its resolution), which is right, but not this case.
    wait_for("the resolution alone in the outbox", WAIT, || async {
        let rows: Vec<_> = store
            .pending_notifications(100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.integration.starts_with("slack"))
            .collect();
        let alone = rows.len() == 1
            && rows[0].claimed_until_ms.is_none()
            && serde_json::from_str::<syncwatch::notify::Notification>(&rows[0].payload)
                .is_ok_and(|n| n.status() == "resolved");
        alone.then_some(())
    })
    .await;
    app.slack.fail_next(0);
    let recovered = std::time::Instant::now();
    let sent = wait_for("the current state", WAIT, || async {
        app.slack.calls().into_iter().find(|c| c.delivered)
    })
    .await;
    assert!(
        sent.at.duration_since(recovered) <= Duration::from_secs(20),
        "noticed {:?} after the recovery",
        sent.at.duration_since(recovered)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.delivered)
        .collect();
    assert_eq!(
        delivered.len(),
        1,
        "one message: {:?}",
        delivered.iter().map(|c| &c.body).collect::<Vec<_>>()
    );
    assert!(
        delivered[0].body.to_string().contains("RESOLVED"),
        "{}",
        delivered[0].body
    );
    let counts: std::collections::HashMap<String, i64> =
        store.outbox_counts().await.unwrap().into_iter().collect();
    assert!(
        counts.get("superseded").is_some_and(|n| *n >= 1),
        "{counts:?}"
    );
    let failed = app.slack.calls().iter().filter(|c| !c.delivered).count();
    let m = app.metrics().await;
    assert!(
        m.contains(&format!(
            r#"syncwatch_notifications_failed_total{{integration="slack",reason="serverError"}} {failed}"#
        )),
        "{m}"
    );
}

/// 60 alerts in one group once made one Slack message of 62 blocks, which Slack refuses
/// (`invalid_blocks`) and syncwatch gave up on. The fake Slack refuses what Slack refuses; the
/// message fits in 50 blocks with the rest summarised, and a 100 KB label fits too.
#[actix_web::test]
async fn a_group_too_big_for_one_slack_message_is_summarised_and_delivered() {
    let app = spawn_app_with(Options {
        providers: Vec::new(),
        ..Options::default()
    })
    .await;
    let alerts: Vec<serde_json::Value> = (0..60)
        .map(|i| {
            json!({"labels": {"alertname": "DealerFeedDown", "provider": "cdk", "connection": format!("dealer-{i:03}"), "severity": "critical"}})
        })
        .collect();
    app.post_alerts(&json!(alerts)).await;
    let huge = "y".repeat(100_000);
    app.post_alerts(
        &json!([{"labels": {"alertname": "Marker", "provider": huge, "severity": "warning"}}]),
    )
    .await;
    let big = wait_for("the big group's message", WAIT, || async {
        app.slack.delivered("DealerFeedDown").into_iter().next()
    })
    .await;
    let blocks = big.body["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 50, "{}", big.body);
    let summary = blocks[48]["text"]["text"].as_str().unwrap();
    assert!(summary.starts_with("… and 13 more"), "{summary}");
    let marker = wait_for("the huge label's message", WAIT, || async {
        app.slack.delivered("Marker").into_iter().next()
    })
    .await;
    assert!(
        marker.raw.len() < 20_000,
        "cut to fit: {} bytes",
        marker.raw.len()
    );
    let refused = app.slack.calls().iter().filter(|c| !c.delivered).count();
    assert_eq!(refused, 0, "nothing was refused");
}

#[actix_web::test]
async fn a_giant_group_sends_a_bounded_message_that_counts_every_alert() {
    let app = spawn_app_with(Options {
        providers: Vec::new(),
        extra_integrations:
            "    webhook_configs:\n      - url: http://127.0.0.1:{slack}/hook\n        max_alerts: 100\n"
                .into(),
        ..Options::default()
    })
    .await;
    // One group of 250 firing alerts (one post, so one flush): past the webhook's `max_alerts`
    // and Slack's 50. (Without `max_alerts` a webhook lists up to 10,000 the same way.)
    let alerts: Vec<serde_json::Value> = (0..250)
        .map(|n| json!({"labels": {"alertname": "DealerFeedDown", "provider": "cdk", "connection": format!("dealer-{n:05}"), "severity": "critical"}}))
        .collect();
    app.post_alerts(&json!(alerts)).await;
    let hook = wait_for("the webhook", WAIT, || async {
        app.slack.calls().into_iter().find(|c| c.method == "hook")
    })
    .await;
    assert_eq!(hook.body["alerts"].as_array().unwrap().len(), 100);
    assert_eq!(hook.body["truncatedAlerts"], 150);
    assert_eq!(hook.body["commonLabels"]["alertname"], "DealerFeedDown");
    let slack = wait_for("the Slack message", WAIT, || async {
        app.slack.delivered("DealerFeedDown").into_iter().next()
    })
    .await;
    let blocks = slack.body["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 50);
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING:250]"),
        "the title counts every alert: {}",
        blocks[0]
    );
    // 50 listed, 47 shown; 3 + the 200 left out of the listing.
    let summary = blocks[48]["text"]["text"].as_str().unwrap();
    assert!(summary.starts_with("… and 203 more"), "{summary}");
    assert!(slack.raw.len() < 100_000, "{} bytes", slack.raw.len());
}

#[actix_web::test]
async fn a_notification_pending_across_a_restart_is_delivered_once_after_it() {
    let mut app = spawn_app_with(Options::default()).await;
    app.slack.fail_next(usize::MAX);
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    wait_for("Slack to be failing", WAIT, || async {
        (app.slack.calls().iter().filter(|c| !c.delivered).count() >= 2).then_some(())
    })
    .await;
    app.restart();
    // Slack comes back after the restart.
    app.slack.fail_next(0);
    wait_for("the firing message", WAIT, || async {
        (app.slack.delivered("FIRING").len() == 1).then_some(())
    })
    .await;
    app.clear_faults().await;
    wait_for("the resolved message", WAIT, || async {
        (app.slack.delivered("RESOLVED").len() == 1).then_some(())
    })
    .await;
    // Some more time for anything duplicated to show up.
    wait_for("more evaluations", WAIT, || async {
        let m = app.metrics().await;
        super::helpers::metric_value(
            &m,
            r#"syncwatch_rule_evaluation_duration_seconds_count{group="test"}"#,
        )
        .filter(|n| *n > 30.0)
    })
    .await;
    assert_eq!(app.slack.delivered("FIRING").len(), 1, "no duplicate page");
    assert_eq!(app.slack.delivered("RESOLVED").len(), 1);
}

#[actix_web::test]
async fn a_webhook_gets_alertmanagers_payload_signed_with_the_secret() {
    use hmac::{Hmac, Mac};
    let app = spawn_app_with(Options {
        extra_integrations: "    webhook_configs:\n      - url: http://127.0.0.1:{slack}/hook\n        secret: s3cret\n".into(),
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let hook = wait_for("the webhook", WAIT, || async {
        app.slack.calls().into_iter().find(|c| c.method == "hook")
    })
    .await;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(hook.raw.as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        hook.signature.as_deref(),
        Some(expected.as_str()),
        "HMAC of the exact body"
    );
    let p = &hook.body;
    assert_eq!(p["version"], "4");
    assert_eq!(p["status"], "firing");
    assert_eq!(p["receiver"], "oncall");
    assert_eq!(
        p["groupLabels"],
        json!({"alertname": "ProviderAuthFailing", "provider": "tekion"})
    );
    assert_eq!(p["externalURL"], "http://syncwatch.test");
    assert_eq!(p["alerts"][0]["labels"]["alertname"], "ProviderAuthFailing");
    assert_eq!(p["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert!(
        p["groupKey"]
            .as_str()
            .unwrap()
            .ends_with(r#":{alertname="ProviderAuthFailing", provider="tekion"}"#),
        "{}",
        p["groupKey"]
    );
    app.clear_faults().await;
    let resolved = wait_for("the resolved webhook", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.method == "hook" && c.body["status"] == "resolved")
    })
    .await;
    assert_eq!(resolved.body["alerts"][0]["status"], "resolved");
}

#[actix_web::test]
async fn a_silence_mutes_the_page_and_expiring_it_lets_it_through() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let body = json!({
        "matchers": [{"name": "provider", "value": "tekion", "isRegex": false, "isEqual": true}],
        "startsAt": now.to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "oncall@example.com",
        "comment": "tekion maintenance"
    });
    let r = app.post_json("/api/v2/silences", &body).await;
    assert_eq!(r.status().as_u16(), 200);
    let id = r.json::<serde_json::Value>().await.unwrap()["silenceID"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = app.get_json("/api/v2/silences").await;
    assert_eq!(listed[0]["status"]["state"], "active");
    assert_eq!(listed[0]["comment"], "tekion maintenance");

    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    app.wait_for_alert("ProviderAuthFailing", "firing").await;
    // Give the dispatcher a few flushes: nothing goes out while silenced.
    wait_for("evaluations", WAIT, || async {
        super::helpers::metric_value(
            &app.metrics().await,
            r#"syncwatch_rule_evaluation_duration_seconds_count{group="test"}"#,
        )
        .filter(|n| *n > 20.0)
    })
    .await;
    assert!(
        app.slack.calls().is_empty(),
        "silenced: {:?}",
        app.slack.calls().len()
    );
    assert!(
        app.tickets("").await["tickets"]
            .as_array()
            .unwrap()
            .is_empty(),
        "no ticket for a silenced alert"
    );

    let r = app
        .client
        .delete(format!("{}/api/v2/silence/{id}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        app.get_json(&format!("/api/v2/silence/{id}")).await["status"]["state"],
        "expired"
    );
    wait_for("the page once the silence ended", WAIT, || async {
        (app.slack.delivered("FIRING").len() == 1).then_some(())
    })
    .await;

    // Silenced again while firing: the resolution of the notified alert still goes out.
    let r = app.post_json("/api/v2/silences", &body).await;
    assert_eq!(r.status().as_u16(), 200);
    app.clear_faults().await;
    wait_for("the resolution despite the silence", WAIT, || async {
        (app.slack.delivered("RESOLVED").len() == 1).then_some(())
    })
    .await;
}

/// As Alertmanager answers its clients: a silence of negative matchers only is accepted and
/// mutes the alerts without the label; a posted alert carrying the fields of a `GET` answer or
/// a webhook payload (`status`, `fingerprint`, `receivers`, `updatedAt`) is taken, the fields
/// ignored.
#[actix_web::test]
async fn negative_silences_and_forwarded_alerts_are_taken_as_alertmanager_takes_them() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let silence = json!({
        "matchers": [{"name": "team", "value": "db.+", "isRegex": true, "isEqual": false}],
        "startsAt": now.to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "me",
        "comment": "everything but the database team"
    });
    let r = app.post_json("/api/v2/silences", &silence).await;
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let forwarded = json!([
        {
            "labels": {"alertname": "Forwarded", "team": "web"},
            "annotations": {"summary": "from a webhook"},
            "startsAt": now.to_rfc3339(),
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
            "fingerprint": "0123456789abcdef",
            "receivers": [{"name": "somewhere"}],
            "updatedAt": now.to_rfc3339()
        },
        {"labels": {"alertname": "Forwarded", "team": "dba"}, "startsAt": now.to_rfc3339()}
    ]);
    let r = app.post_json("/api/v2/alerts", &forwarded).await;
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let held = wait_for("both alerts held", WAIT, || async {
        let all = app.get_json("/api/v2/alerts").await;
        (all.as_array()?.len() == 2).then_some(all)
    })
    .await;
    for a in held.as_array().unwrap() {
        let silenced = !a["status"]["silencedBy"].as_array().unwrap().is_empty();
        assert_eq!(silenced, a["labels"]["team"] == "web", "{a}");
    }
}

#[actix_web::test]
async fn bad_silences_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let bad = json!({
        "matchers": [{"name": "provider", "value": ".*", "isRegex": true, "isEqual": true}],
        "startsAt": now.to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "me"
    });
    let r = app.post_json("/api/v2/silences", &bad).await;
    assert_eq!(r.status().as_u16(), 400);
    let msg = r.json::<serde_json::Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("does not match the empty string"), "{msg}");
    let past = json!({"matchers": [{"name": "a", "value": "b", "isRegex": false}], "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2020-01-02T00:00:00Z", "createdBy": "me"});
    assert_eq!(
        app.post_json("/api/v2/silences", &past)
            .await
            .status()
            .as_u16(),
        400
    );
    let r = app
        .client
        .delete(format!("{}/api/v2/silence/nope", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], "no silence \"nope\"", "{body}");
    // The form refuses a duration Prometheus could not hold, instead of muting "until 1970".
    let form = [
        ("matchers", "provider=\"cdk\""),
        ("duration", "99999999999h"),
        ("created_by", "ana"),
        ("comment", "forever"),
    ];
    let r = app.post_silence_form(&form).await;
    assert_eq!(r.status().as_u16(), 400);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("duration: duration &#34;99999999999h&#34; out of range"),
        "{body}"
    );
    let r = app.get("/api/v1/tickets/x").await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], "no ticket \"x\"", "{body}");
    assert!(
        app.get_json("/api/v2/silences")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn alerts_posted_like_prometheus_does_are_routed_ticketed_and_resolved() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let alert = |ends: chrono::DateTime<chrono::Utc>| {
        json!([{
            "labels": {"alertname": "ExternalDiskFull", "provider": "cdk", "severity": "critical", "instance": "db-1"},
            "annotations": {"summary": "disk full on db-1"},
            "startsAt": now.to_rfc3339(),
            "endsAt": ends.to_rfc3339(),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=disk"
        }])
    };
    // Prometheus re-sends a firing alert with an endsAt a few minutes ahead.
    for _ in 0..3 {
        let r = app
            .post_json("/api/v2/alerts", &alert(now + chrono::Duration::minutes(4)))
            .await;
        assert_eq!(r.status().as_u16(), 200);
    }
    let page = wait_for("the page", WAIT, || async {
        app.slack.delivered("ExternalDiskFull").into_iter().next()
    })
    .await;
    assert!(page.body.to_string().contains("disk full on db-1"));
    let held = app.get_json("/api/v2/alerts").await;
    assert_eq!(held.as_array().unwrap().len(), 1, "{held}");
    assert_eq!(held[0]["labels"]["instance"], "db-1");
    assert_eq!(held[0]["receivers"][0]["name"], "oncall");
    assert_eq!(held[0]["status"]["state"], "active");
    let filtered = app
        .get_json("/api/v2/alerts?filter=instance%3D%22db-2%22")
        .await;
    assert!(filtered.as_array().unwrap().is_empty());
    let tickets = app.tickets("?alertname=ExternalDiskFull").await;
    assert_eq!(tickets["tickets"].as_array().unwrap().len(), 1);

    // Resolved: Prometheus sends endsAt at the resolution time.
    let r = app
        .post_json("/api/v2/alerts", &alert(chrono::Utc::now()))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    wait_for("the resolution", WAIT, || async {
        app.slack.delivered("RESOLVED").into_iter().next()
    })
    .await;
    assert_eq!(
        app.slack.delivered("FIRING").len(),
        1,
        "re-sends did not page again"
    );
    wait_for("the resolved ticket", WAIT, || async {
        let t = app.tickets("?alertname=ExternalDiskFull").await;
        (t["tickets"][0]["status"] == "resolved").then_some(())
    })
    .await;
    assert!(
        app.get_json("/api/v2/alerts")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn a_posted_alert_not_sent_again_resolves_at_its_end() {
    let app = spawn_app().await;
    let body = json!([{"labels": {"alertname": "Heartbeat", "provider": "xtime"}, "endsAt": (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339()}]);
    assert_eq!(
        app.post_json("/api/v2/alerts", &body)
            .await
            .status()
            .as_u16(),
        200
    );
    wait_for("the page", WAIT, || async {
        app.slack.delivered("Heartbeat").into_iter().next()
    })
    .await;
    wait_for("the resolution at endsAt", WAIT, || async {
        app.slack.delivered("RESOLVED").into_iter().next()
    })
    .await;
    let bad = json!([{"labels": {"alertname": "ok"}}, {"labels": {}}]);
    let r = app.post_json("/api/v2/alerts", &bad).await;
    assert_eq!(r.status().as_u16(), 400);
    let msg = r.json::<serde_json::Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(msg, "alerts[1].labels: at least one label is required");
    let status = app.get_json("/api/v2/status").await;
    assert!(
        status["config"]["original"]
            .as_str()
            .unwrap()
            .contains("receivers:")
    );
}

#[actix_web::test]
async fn amtool_queries_alerts_and_adds_queries_and_expires_silences() {
    use std::process::Command;
    let app = spawn_app().await;
    let url = format!("--alertmanager.url={}", app.address);
    let amtool = |args: &[&str]| Command::new("amtool").arg(&url).args(args).output();
    let Ok(version) = amtool(&["--version"]) else {
        super::helpers::skip_or_fail(
            "amtool is not installed (apt-get install prometheus-alertmanager)",
        );
        return;
    };
    assert!(version.status.success());
    let out = amtool(&[
        "alert",
        "add",
        "FromAmtool",
        "provider=xtime",
        "severity=info",
        "--annotation=summary=added by amtool",
    ])
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = amtool(&["alert", "query", "alertname=FromAmtool"]).unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && listed.contains("FromAmtool") && listed.contains("added by amtool"),
        "{listed}"
    );

    let out = amtool(&[
        "silence",
        "add",
        "provider=xtime",
        "--comment=maintenance",
        "--author=oncall",
        "--duration=1h",
    ])
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = amtool(&["silence", "query"]).unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(&id) && listed.contains("maintenance"),
        "{listed}"
    );
    let out = amtool(&["alert", "query", "--silenced", "alertname=FromAmtool"]).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FromAmtool"),
        "now silenced"
    );
    let out = amtool(&["silence", "expire", &id]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = amtool(&["silence", "query"]).unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&id),
        "expired silences leave the default query"
    );
}

#[actix_web::test]
async fn a_critical_alert_inhibits_warnings_of_the_same_provider() {
    let app = spawn_app_with(Options {
        extra_alerting: "inhibit_rules:\n  - source_matchers: ['severity=\"critical\"']\n    target_matchers: ['severity=\"warning\"']\n    equal: [provider]\n".into(),
        ..Options::default()
    })
    .await;
    let post = |name: &str, severity: &str, provider: &str| json!([{"labels": {"alertname": name, "severity": severity, "provider": provider}}]);
    assert_eq!(
        app.post_json("/api/v2/alerts", &post("DmsDown", "critical", "cdk"))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        app.post_json("/api/v2/alerts", &post("SlowSync", "warning", "cdk"))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        app.post_json("/api/v2/alerts", &post("SlowSync", "warning", "xtime"))
            .await
            .status()
            .as_u16(),
        200
    );
    wait_for("the critical page", WAIT, || async {
        app.slack.delivered("DmsDown").into_iter().next()
    })
    .await;
    wait_for("xtime's warning", WAIT, || async {
        app.slack
            .delivered("SlowSync")
            .into_iter()
            .find(|c| c.body.to_string().contains("xtime"))
    })
    .await;
    let held = app.get_json("/api/v2/alerts").await;
    let cdk_warning = held
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "SlowSync" && a["labels"]["provider"] == "cdk")
        .unwrap()
        .clone();
    assert_eq!(cdk_warning["status"]["state"], "suppressed");
    assert_eq!(
        cdk_warning["status"]["inhibitedBy"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        app.slack
            .delivered("SlowSync")
            .iter()
            .all(|c| !c.body.to_string().contains("cdk")),
        "cdk's warning is inhibited"
    );
}

#[actix_web::test]
async fn a_route_in_its_mute_time_sends_nothing_and_an_active_one_sends() {
    let app = spawn_app_with(Options {
        routes: "  routes:\n    - matchers: ['team=\"night\"']\n      mute_time_intervals: [always]\n    - matchers: ['team=\"day\"']\n      active_time_intervals: [always]\n".into(),
        extra_alerting: "time_intervals:\n  - name: always\n    time_intervals:\n      - times: [{start_time: '00:00', end_time: '24:00'}]\n".into(),
        ..Options::default()
    })
    .await;
    let post = |name: &str, team: &str| json!([{"labels": {"alertname": name, "team": team}}]);
    for (name, team) in [("NightJob", "night"), ("DayJob", "day")] {
        app.post_alerts(&post(name, team)).await;
    }
    // Both groups flush every 200ms; the muted one had several chances.
    assert_eq!(
        app.slack_count_after("DayJob", "NightJob").await,
        0,
        "the muted route sent a notification"
    );
    let held = app.get_json("/api/v2/alerts").await;
    let find = |name: &str| {
        held.as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .unwrap_or_else(|| panic!("{name} is not held: {held}"))
            .clone()
    };
    let night = find("NightJob");
    assert_eq!(night["status"]["state"], "suppressed");
    assert_eq!(night["status"]["mutedBy"], json!(["always"]));
    let day = find("DayJob");
    assert_eq!(day["status"]["state"], "active");
    assert_eq!(day["status"]["mutedBy"], json!([]));
}

#[actix_web::test]
async fn a_changed_alerting_yml_reloads_and_a_broken_one_keeps_the_previous_routing() {
    let app = spawn_app().await;
    let path = app.path().join("alerting.yml");
    let post = |name: &str, team: &str| json!([{"labels": {"alertname": name, "team": team}}]);
    let status = app
        .post_json("/api/v2/alerts", &post("BeforeReload", "old"))
        .await
        .status();
    assert_eq!(status.as_u16(), 200);
    wait_for("the first page", WAIT, || async {
        app.slack.delivered("BeforeReload").into_iter().next()
    })
    .await;

    // A new route to a new receiver that writes .eml files.
    let eml = app.path().join("eml");
    let original = std::fs::read_to_string(&path).unwrap();
    let changed = original.replace(
        "  group_interval: 200ms\n",
        "  group_interval: 200ms\n  routes:\n    - matchers: ['team=\"new\"']\n      receiver: fresh\n",
    ) + &format!(
        "  - name: fresh\n    eml_configs:\n      - dir: '{}'\n        to: 'fresh@test.local'\n",
        eml.display()
    );
    std::fs::write(&path, &changed).unwrap();
    wait_for("the new routing to load", WAIT, || async {
        let s = app.get_json("/api/v2/status").await;
        s["config"]["original"]
            .as_str()
            .is_some_and(|t| t.contains("name: fresh"))
            .then_some(())
    })
    .await;
    // Posts an alert for team "new" and waits for its .eml file.
    let mailed = |name: &'static str, what: &'static str| {
        let (app, eml) = (&app, &eml);
        async move {
            let status = app
                .post_json("/api/v2/alerts", &post(name, "new"))
                .await
                .status();
            assert_eq!(status.as_u16(), 200);
            wait_for(what, WAIT, || async {
                std::fs::read_dir(eml)
                    .ok()?
                    .flatten()
                    .find(|f| std::fs::read_to_string(f.path()).is_ok_and(|t| t.contains(name)))
            })
            .await;
        }
    };
    mailed("AfterReload", "the new receiver's email").await;
    // The alert notified before the reload is not paged again by it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.slack.delivered("BeforeReload").len(), 1);
    assert!(
        app.slack.delivered("AfterReload").is_empty(),
        "routed to fresh only"
    );

    std::fs::write(&path, "route:\n  receiver: nobody\n").unwrap();
    let ready = wait_for("the refused reload to show", WAIT, || async {
        let r = app.get_json("/readyz").await;
        r["checks"]["alerting_reload"]
            .as_str()
            .is_some_and(|s| s.contains("refused"))
            .then_some(r)
    })
    .await;
    let detail = ready["checks"]["alerting_reload"].as_str().unwrap();
    assert!(
        detail.contains("alerting.yml:2:") && detail.contains("\"nobody\" is not defined"),
        "{detail}"
    );
    assert_eq!(
        super::helpers::metric_value(
            &app.metrics().await,
            "syncwatch_alerting_last_reload_successful"
        ),
        Some(0.0)
    );
    mailed("WhileBroken", "the previous routing to deliver").await;
}

#[actix_web::test]
async fn the_slack_silence_link_opens_a_prefilled_form_that_silences_the_alert() {
    let app = spawn_app().await;
    let alert = json!([{"labels": {"alertname": "NoisyJob", "provider": "cdk", "note": "a \"quoted\" & <odd> value"}}]);
    let status = app.post_json("/api/v2/alerts", &alert).await.status();
    assert_eq!(status.as_u16(), 200);
    let call = wait_for("the page", WAIT, || async {
        app.slack.delivered("NoisyJob").into_iter().next()
    })
    .await;
    let body = call.body.to_string();
    let start = body.find("/silences/new?").expect("a silence link");
    let query = &body[start..];
    let query = &query[..query.find('|').unwrap()];
    // mrkdwn escapes `&` inside the link; Slack unescapes it before opening.
    let link = query.replace("&amp;", "&");
    let page = app.get(&link).await;
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    for m in [
        "alertname=&#34;NoisyJob&#34;",
        "provider=&#34;cdk&#34;",
        "note=&#34;a \\&#34;quoted\\&#34; &#38; &#60;odd&#62; value&#34;",
    ] {
        assert!(page.contains(m), "{m} missing from the form: {page}");
    }

    let post = |fields: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move { app.post_silence_form(&fields).await }
    };
    let matchers = "alertname=\"NoisyJob\"\nprovider=\"cdk\"";
    let bad = post(vec![
        ("matchers", "alertname=~\"(\""),
        ("duration", "2h"),
        ("created_by", "ana"),
        ("comment", "deploy"),
    ])
    .await;
    assert_eq!(bad.status().as_u16(), 400);
    let bad = bad.text().await.unwrap();
    assert!(bad.contains("matchers: invalid matcher"), "{bad}");
    assert!(
        bad.contains("value=\"ana\""),
        "what was typed is kept: {bad}"
    );

    let created = post(vec![
        ("matchers", matchers),
        ("duration", "1h"),
        ("created_by", "ana"),
        ("comment", "cdk maintenance"),
    ])
    .await;
    assert_eq!(created.status().as_u16(), 201);
    let created = created.text().await.unwrap();
    assert!(created.contains("Silence created"), "{created}");
    let silences = app.get_json("/api/v2/silences").await;
    let s = &silences.as_array().unwrap()[0];
    assert_eq!(s["createdBy"], "ana");
    assert_eq!(s["matchers"].as_array().unwrap().len(), 2);
    let held = app.get_json("/api/v2/alerts").await;
    let a = held
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "NoisyJob")
        .unwrap();
    assert_eq!(a["status"]["state"], "suppressed");
    assert_eq!(a["status"]["silencedBy"][0], s["id"]);
}

#[actix_web::test]
async fn a_slack_429_is_waited_out_for_its_retry_after_and_the_message_sent_once() {
    let app = spawn_app().await;
    app.slack.rate_limit_next(2);
    let alert = json!([{"labels": {"alertname": "Throttled", "provider": "cdk"}}]);
    let status = app.post_json("/api/v2/alerts", &alert).await.status();
    assert_eq!(status.as_u16(), 200);
    let sent = wait_for("the page after the rate limit", WAIT, || async {
        app.slack.delivered("Throttled").into_iter().next()
    })
    .await;
    let calls: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.body.to_string().contains("Throttled"))
        .collect();
    assert_eq!(calls.len(), 3, "two 429s, then the delivery");
    for pair in calls.windows(2) {
        assert!(
            pair[1].at.duration_since(pair[0].at) >= Duration::from_millis(950),
            "each retry waits for Retry-After: 1"
        );
    }
    assert_eq!(sent.body, calls[0].body, "the same message is retried");
    // Slack answered before the outbox recorded the delivery: wait for the count.
    let m = wait_for("the delivery counted", WAIT, || async {
        let m = app.metrics().await;
        m.contains(r#"syncwatch_notifications_total{integration="slack"} 1"#)
            .then_some(m)
    })
    .await;
    assert!(
        m.contains(
            r#"syncwatch_notifications_failed_total{integration="slack",reason="rateLimited"} 2"#
        ),
        "{m}"
    );
    // One delivery counted, its latency (post to Slack's acceptance, past two Retry-Afters)
    // recorded: at least the 2 s waited.
    assert!(
        m.contains(r#"syncwatch_notifications_total{integration="slack"} 1"#),
        "{m}"
    );
    let latency = super::helpers::metric_value(
        &m,
        r#"syncwatch_notification_latency_seconds_sum{integration="slack"}"#,
    )
    .expect("latency recorded");
    assert!(latency >= 1.9, "latency {latency}");
}

#[actix_web::test]
async fn slack_refusing_the_token_is_an_auth_error_that_is_not_retried() {
    let app = spawn_app_with(Options {
        slack_config: "app_token: xoxb-revoked\n        app_url: http://127.0.0.1:{slack}/api/chat.postMessage\n        channel: '#oncall'".into(),
        ..Options::default()
    })
    .await;
    let alert = json!([{"labels": {"alertname": "BadToken", "provider": "cdk"}}]);
    let status = app.post_json("/api/v2/alerts", &alert).await.status();
    assert_eq!(status.as_u16(), 200);
    wait_for("the auth error to be counted", WAIT, || async {
        let m = app.metrics().await;
        m.contains(
            r#"syncwatch_notifications_failed_total{integration="slack",reason="authError"} 1"#,
        )
        .then_some(())
    })
    .await;
    // Email, a separate integration, still delivers.
    wait_for("the email", WAIT, || async {
        app.smtp
            .messages()
            .into_iter()
            .find(|m| m.contains("BadToken"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.slack.calls().len(),
        1,
        "an auth error is given up, not retried"
    );
}

#[actix_web::test]
async fn a_resolution_updates_the_slack_message_and_replies_in_its_thread() {
    let app = spawn_app().await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let posted = wait_for("the page", WAIT, || async {
        app.slack.delivered("FIRING").into_iter().next()
    })
    .await;
    app.clear_faults().await;
    let update = wait_for("the update", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.delivered && c.method == "chat.update")
    })
    .await;
    // The fake answers the post with ts 1700000000.<n>, n the call number (from 1).
    let n = app
        .slack
        .calls()
        .iter()
        .position(|c| c.method == "chat.postMessage" && c.body == posted.body)
        .unwrap()
        + 1;
    let ts = format!("1700000000.{n:06}");
    assert_eq!(update.body["ts"], ts.as_str(), "the original message");
    assert_eq!(update.body["channel"], "C0123456789");
    assert!(
        update
            .body
            .to_string()
            .contains("[RESOLVED] ProviderAuthFailing tekion")
    );
    let reply = wait_for("the thread reply", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.delivered && c.body["thread_ts"].is_string())
    })
    .await;
    assert_eq!(reply.body["thread_ts"], ts.as_str());
    assert!(
        reply.body["text"]
            .as_str()
            .unwrap()
            .starts_with(":white_check_mark: Resolved after "),
        "{}",
        reply.body
    );
}

#[actix_web::test]
async fn an_alert_paged_before_a_restart_is_not_paged_again_when_posted_again() {
    let mut app = spawn_app().await;
    let alert = |name: &str, ends: Option<chrono::DateTime<chrono::Utc>>| {
        let mut a =
            json!({"labels": {"alertname": name, "severity": "critical", "instance": "db-1"}});
        if let Some(t) = ends {
            a["endsAt"] = json!(t.to_rfc3339());
        }
        a
    };
    app.post_alerts(&json!([alert("DiskFull", None)])).await;
    wait_for("the page", WAIT, || async {
        (app.slack.delivered("DiskFull").len() == 1).then_some(())
    })
    .await;
    app.wait_for_recorded_deliveries("slack", 1.0).await;

    // The restarted instance knows nothing of the alert until Prometheus sends it again, as it
    // does at every evaluation; a marker alert shows when that batch was routed and flushed.
    app.restart();
    app.post_alerts(&json!([alert("DiskFull", None), alert("Marker", None)]))
        .await;
    app.post_alerts(&json!([alert("DiskFull", None)])).await;
    assert_eq!(
        app.slack_count_after("Marker", "DiskFull").await,
        1,
        "the notification log knew it was paged"
    );

    // Its resolution still goes out: the group started from what it had notified.
    app.post_alerts(&json!([alert("DiskFull", Some(chrono::Utc::now()))]))
        .await;
    wait_for("the resolution", WAIT, || async {
        app.slack
            .delivered("DiskFull")
            .into_iter()
            .find(|c| c.body.to_string().contains("RESOLVED"))
    })
    .await;
}

#[actix_web::test]
async fn an_alert_still_in_group_wait_at_a_restart_is_paged_after_it() {
    let mut app = spawn_app_with(Options {
        routes: "  routes:\n    - matchers: ['alertname=\"ProviderAuthFailing\"']\n      receiver: oncall\n      group_wait: 5s\n".into(),
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    app.wait_for_alert("ProviderAuthFailing", "firing").await;
    assert!(
        app.slack.delivered("ProviderAuthFailing").is_empty(),
        "still in group_wait"
    );
    app.restart();
    wait_for("the page after the restart", WAIT, || async {
        (app.slack.delivered("ProviderAuthFailing").len() == 1).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn pagerduty_and_teams_get_their_events_through_the_outbox_and_resolve_them() {
    let app = spawn_app_with(Options {
        extra_integrations: "    pagerduty_configs:
      - routing_key: R0UT1NG
        url: http://127.0.0.1:{slack}/v2/enqueue
        severity: '{{ if eq .CommonLabels.severity \"critical\" }}critical{{ else }}warning{{ end }}'
        component: '{{ .GroupLabels.provider }}'
        links:
          - href: '{{ .ExternalURL }}/api/v1/alerts'
            text: all alerts
    msteams_configs:
      - webhook_url: http://127.0.0.1:{slack}/teams/connector
    msteamsv2_configs:
      - webhook_url: http://127.0.0.1:{slack}/workflows/flow
        title: '{{ .CommonLabels.alertname }} on {{ .GroupLabels.provider }}'
"
        .into(),
        ..Options::default()
    })
    .await;
    // The first attempt of every integration meets an outage: each is retried by the outbox.
    app.slack.fail_next(2);
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let trigger = wait_for("the PagerDuty trigger", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.method == "pagerduty" && c.delivered)
    })
    .await;
    let e = &trigger.body;
    assert_eq!(e["routing_key"], "R0UT1NG");
    assert_eq!(e["event_action"], "trigger");
    assert_eq!(e["payload"]["component"], "tekion");
    assert_eq!(e["payload"]["source"], "Alertmanager");
    assert!(
        e["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING:1] ProviderAuthFailing tekion"),
        "{e}"
    );
    assert_eq!(e["payload"]["custom_details"]["num_firing"], "1");
    assert_eq!(e["links"][0]["href"], "http://syncwatch.test/api/v1/alerts");
    let card = wait_for("the Teams card", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.method == "teams" && c.delivered)
    })
    .await;
    assert_eq!(card.body["type"], "MessageCard");
    assert_eq!(card.body["themeColor"], "8C1A1A");
    let flow = wait_for("the Teams workflow card", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.method == "workflow" && c.delivered)
    })
    .await;
    assert_eq!(
        flow.body["attachments"][0]["content"]["body"][0]["text"],
        "ProviderAuthFailing on tekion"
    );

    app.clear_faults().await;
    let resolve = wait_for("the PagerDuty resolve", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.method == "pagerduty" && c.body["event_action"] == "resolve")
    })
    .await;
    assert_eq!(
        resolve.body["dedup_key"], trigger.body["dedup_key"],
        "the resolve closes the incident the trigger opened"
    );
    let green = wait_for("the resolved Teams card", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.method == "teams" && c.body["themeColor"] == "2DC72D")
    })
    .await;
    assert!(green.delivered);
    let outages = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| !c.delivered && (c.method == "pagerduty" || c.method == "teams"))
        .count();
    assert!(outages >= 1, "an attempt met the outage and was retried");
}
