//! The rules engine in the running application: change-triggered evaluation, persisted alert
//! state across restarts, and hot reload.

use std::time::Duration;

use serde_json::{Value, json};

use super::helpers::{Options, TEST_RULES, metric_value, spawn_app_with, wait_for};

const WAIT: Duration = Duration::from_secs(20);

fn firing_messages(app: &super::helpers::TestApp) -> usize {
    app.slack
        .calls()
        .iter()
        .filter(|c| c.body.to_string().contains("FIRING"))
        .count()
}

async fn evaluations(app: &super::helpers::TestApp) -> f64 {
    metric_value(
        &app.metrics().await,
        r#"syncwatch_rule_evaluation_duration_seconds_count{group="test"}"#,
    )
    .unwrap_or(0.0)
}

async fn auth_alert(app: &super::helpers::TestApp, state: &str) -> Option<Value> {
    app.alerts()
        .await
        .into_iter()
        .find(|a| a["name"] == "ProviderAuthFailing" && a["state"] == state)
}

#[actix_web::test]
async fn a_metric_change_triggers_evaluation_without_waiting_for_the_tick() {
    // With a one-hour tick, only change-triggered evaluation can fire the alert.
    let app = spawn_app_with(Options {
        evaluation_interval: "1h",
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    wait_for("the alert to fire on change", WAIT, || {
        auth_alert(&app, "firing")
    })
    .await;
}

#[actix_web::test]
async fn a_firing_alert_survives_a_restart_without_a_second_page_and_still_resolves() {
    let mut app = spawn_app_with(Options::default()).await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let before = wait_for("the alert to fire", WAIT, || auth_alert(&app, "firing")).await;
    wait_for("the page", WAIT, || async {
        (firing_messages(&app) == 1).then_some(())
    })
    .await;
    app.wait_for_recorded_deliveries("slack", 1.0).await;

    app.restart();
    let after = wait_for("the restored alert", WAIT, || auth_alert(&app, "firing")).await;
    assert_eq!(
        after["since"], before["since"],
        "the same alert instance, not a new one"
    );
    assert_eq!(after["fired_at"], before["fired_at"]);
    // Let the restarted instance evaluate many times while the fault goes on.
    wait_for("evaluations after the restart", WAIT, || async {
        (evaluations(&app).await >= 20.0).then_some(())
    })
    .await;
    assert_eq!(firing_messages(&app), 1, "no second page after the restart");

    app.clear_faults().await;
    wait_for("the resolved message", WAIT, || async {
        app.slack
            .calls()
            .into_iter()
            .find(|c| c.body.to_string().contains("RESOLVED"))
    })
    .await;
    let tickets = app.tickets("").await;
    assert_eq!(tickets["tickets"].as_array().unwrap().len(), 1, "{tickets}");
    let t = wait_for("the ticket to resolve", WAIT, || async {
        let t = app.tickets("").await["tickets"][0].clone();
        (t["status"] == "resolved").then_some(t)
    })
    .await;
    assert_eq!(
        t["occurrences"], 1,
        "the restart did not count another occurrence"
    );
}

#[actix_web::test]
async fn a_pending_alert_keeps_its_for_progress_across_a_restart() {
    let rules = TEST_RULES.replacen(
        "        labels:\n          severity: critical",
        "        for: 4s\n        labels:\n          severity: critical",
        1,
    );
    assert_ne!(rules, TEST_RULES);
    let mut app = spawn_app_with(Options {
        rules,
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let pending = wait_for("the alert to be pending", WAIT, || {
        auth_alert(&app, "pending")
    })
    .await;
    app.restart();
    let fired = wait_for("the alert to fire", WAIT, || auth_alert(&app, "firing")).await;
    assert_eq!(
        fired["since"], pending["since"],
        "the pending time before the restart counts"
    );
    let since = chrono::DateTime::parse_from_rfc3339(fired["since"].as_str().unwrap()).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(fired["fired_at"].as_str().unwrap()).unwrap();
    assert!(
        (at - since).num_milliseconds() >= 4_000,
        "fired no earlier than for: 4s after it became pending"
    );
}

#[actix_web::test]
async fn changed_rule_files_reload_and_a_broken_one_keeps_the_previous_rules() {
    let app = spawn_app_with(Options::default()).await;
    let path = app.path().join("rules.yml");
    let always = format!(
        "{TEST_RULES}      - alert: Always\n        expr: vector(1)\n        labels:\n          severity: info\n"
    );
    std::fs::write(&path, &always).unwrap();
    wait_for("the new rule", WAIT, || async {
        app.alerts()
            .await
            .into_iter()
            .find(|a| a["name"] == "Always")
    })
    .await;

    std::fs::write(
        &path,
        "groups:\n  - name: test\n    rules:\n      - alert: Broken\n        expr: sum(\n",
    )
    .unwrap();
    let ready = wait_for("the refused reload to show", WAIT, || async {
        let r = app.get_json("/readyz").await;
        r["checks"]["rules_reload"]
            .as_str()
            .is_some_and(|s| s.contains("refused"))
            .then_some(r)
    })
    .await;
    let detail = ready["checks"]["rules_reload"].as_str().unwrap();
    assert!(
        detail.contains("rules.yml:5:") && detail.contains("could not parse"),
        "{detail}"
    );
    assert_eq!(
        metric_value(
            &app.metrics().await,
            "syncwatch_rules_last_reload_successful"
        ),
        Some(0.0)
    );
    assert!(
        app.alerts().await.iter().any(|a| a["name"] == "Always"),
        "the previous rules keep running"
    );

    std::fs::write(&path, TEST_RULES).unwrap();
    wait_for("the fixed file to load", WAIT, || async {
        let r = app.get_json("/readyz").await;
        (r["checks"]["rules_reload"] == "ok").then_some(())
    })
    .await;
    wait_for("the removed rule's alert to go", WAIT, || async {
        (!app.alerts().await.iter().any(|a| a["name"] == "Always")).then_some(())
    })
    .await;
    assert_eq!(
        metric_value(
            &app.metrics().await,
            "syncwatch_rules_last_reload_successful"
        ),
        Some(1.0)
    );
}

#[cfg(unix)]
#[test]
fn sighup_reloads_the_rules() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let port = super::helpers::free_port();
    let repo = super::helpers::repo();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: First\n        expr: vector(1)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("alerting.yml"),
        "route:\n  receiver: quiet\nreceivers:\n  - name: quiet\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("syncwatch.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[rules]\nfiles = [\"rules.yml\"]\nevaluation_interval = \"100ms\"\nwatch_interval = \"0s\"\n[runbooks]\ndir = \"{}\"\n",
            repo.join("runbooks").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_syncwatch"))
        .current_dir(dir.path())
        .args(["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let alerts = || -> Option<Vec<String>> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.write_all(b"GET /api/v1/alerts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut response = String::new();
        s.read_to_string(&mut response).ok()?;
        let body: Value = serde_json::from_str(response.split_once("\r\n\r\n")?.1).ok()?;
        Some(
            body["alerts"]
                .as_array()?
                .iter()
                .filter_map(|a| a["name"].as_str().map(str::to_string))
                .collect(),
        )
    };
    let until = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + WAIT;
        while !f() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("First", &|| alerts().is_some_and(|a| a == ["First"]));
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: Second\n        expr: vector(1)\n",
    )
    .unwrap();
    // File watching is off: nothing changes until the signal.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(alerts().unwrap(), ["First"]);
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    until("Second after SIGHUP", &|| {
        alerts().is_some_and(|a| a == ["Second"])
    });
    let _ = child.kill();
    let _ = child.wait();
}
