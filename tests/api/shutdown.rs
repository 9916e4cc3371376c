//! SIGTERM in the middle of an alert storm: syncwatch stops taking requests, flushes what it
//! accepted (even groups still in `group_wait`) into the outbox, finishes or leaves for later
//! what is under way, and exits 0 without a panic; after a restart every accepted alert reaches
//! its webhook and its ticket exists.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::fakes::FakeSlack;
use super::helpers::{ServeProcess, free_port, repo, wait_for};

fn config(dir: &std::path::Path, port: u16, hook: u16) {
    std::fs::write(
        dir.join("alerting.yml"),
        format!(
            r#"route:
  receiver: team
  group_by: [alertname, provider]
  group_wait: 30s
  group_interval: 1m
receivers:
  - name: team
    webhook_configs:
      - url: http://127.0.0.1:{hook}/hook
    ticket_configs:
      - tier: L1
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("syncwatch.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\nurl = \"sqlite://data/syncwatch.db\"\n[rules]\nfiles = []\n[alerting]\nconfig = \"alerting.yml\"\n[runbooks]\ndir = \"{}/runbooks\"\n",
            repo().display()
        ),
    )
    .unwrap();
}

#[actix_web::test]
async fn sigterm_mid_storm_exits_cleanly_and_loses_no_accepted_alert() {
    let hook = FakeSlack::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    config(dir.path(), port, hook.port);
    let app = ServeProcess::start(dir.path(), port, &[]).await;

    // Four clients post batches of 50 new alerts until the server stops answering.
    let accepted: Arc<Mutex<BTreeSet<(String, String)>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..4 {
        let (base, accepted) = (app.base.clone(), accepted.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for b in 0.. {
                let batch: Vec<(String, String)> = (0..50)
                    .map(|i| (format!("i-{c}-{b}-{i}"), format!("p{}", i % 20)))
                    .collect();
                let body: Vec<serde_json::Value> = batch
                    .iter()
                    .map(|(inst, p)| json!({"labels": {"alertname": "Storm", "instance": inst, "provider": p}}))
                    .collect();
                let sent = client
                    .post(format!("{base}/api/v2/alerts"))
                    .json(&body)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => accepted.lock().unwrap().extend(batch),
                    _ => return,
                }
            }
        }));
    }
    wait_for("a storm under way", Duration::from_secs(30), || async {
        (accepted.lock().unwrap().len() >= 2_000).then_some(())
    })
    .await;
    let (code, logs) = tokio::task::spawn_blocking(move || app.terminate())
        .await
        .unwrap();
    for c in clients {
        c.await.unwrap();
    }
    assert_eq!(code, Some(0), "exit code; logs:\n{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(
        logs.contains("stopped"),
        "the shutdown ran to its end:\n{logs}"
    );
    let accepted = accepted.lock().unwrap().clone();

    // Nothing reached the webhook yet (group_wait is 30 s); all of it must after the restart.
    let app = ServeProcess::start(dir.path(), port, &[]).await;
    let received = || {
        hook.calls()
            .iter()
            .filter(|c| c.method == "hook" && c.delivered)
            .flat_map(|c| c.body["alerts"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["labels"]["instance"].as_str().map(str::to_string))
            .collect::<BTreeSet<String>>()
    };
    let missing = wait_for("every accepted alert", Duration::from_secs(60), || async {
        let got = received();
        let missing: Vec<&String> = accepted
            .iter()
            .map(|(i, _)| i)
            .filter(|i| !got.contains(*i))
            .collect();
        missing.is_empty().then_some(0)
    })
    .await;
    assert_eq!(missing, 0);
    let providers: BTreeSet<&String> = accepted.iter().map(|(_, p)| p).collect();
    let tickets: serde_json::Value = reqwest::get(format!("{}/api/v1/tickets?limit=100", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticketed: BTreeSet<&str> = tickets["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["provider"].as_str())
        .collect();
    assert_eq!(
        ticketed.len(),
        providers.len(),
        "one ticket per provider of the accepted alerts: {ticketed:?}"
    );
    let logs = app.kill();
    assert!(!logs.contains("panicked"), "{logs}");
}
