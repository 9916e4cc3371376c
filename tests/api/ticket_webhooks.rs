//! Ticket webhooks: deliveries verified by an independent implementation of Standard Webhooks
//! (the specification's Python library), in order per ticket, retried through an outage.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::helpers::{Options, free_port, skip_or_fail, spawn_app_with, wait_for};

/// The secret being rotated out and the one replacing it (Standard Webhooks' format).
const OLD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// `ticket_webhook_receiver.py`, killed when dropped.
struct Receiver {
    child: Child,
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    /// What it received so far, one JSON object per request.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Starts the receiver holding `secret`, answering 503 to its first `fail` deliveries; `None`
/// (skipped, or failed in strict mode) without Python's `standardwebhooks`.
async fn receiver(port: u16, secret: &str, fail: usize) -> Option<Receiver> {
    let importable = Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        skip_or_fail(
            "Python's standardwebhooks package is not installed (python3 -m pip install standardwebhooks)",
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("received.jsonl");
    let child = Command::new("python3")
        .arg(super::helpers::repo().join("tests/api/ticket_webhook_receiver.py"))
        .args(["--port", &port.to_string(), "--secret", secret])
        .args(["--fail", &fail.to_string(), "--out"])
        .arg(&out)
        .spawn()
        .unwrap();
    wait_for("the webhook receiver", Duration::from_secs(10), || async {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok()
            .then_some(())
    })
    .await;
    Some(Receiver {
        child,
        out,
        _dir: dir,
    })
}

#[actix_web::test]
async fn ticket_events_reach_a_webhook_signed_in_order_per_ticket_through_an_outage() {
    let port = free_port();
    // It holds only the new secret: the rotation's second signature must verify alone.
    let Some(rx) = receiver(port, NEW_SECRET, 3).await else {
        return;
    };
    let app = spawn_app_with(Options {
        providers: vec![("tekion", vec!["dealer-001"]), ("cdk", vec!["dealer-101"])],
        extra_config: format!(
            "[[tickets.webhooks]]\nname = \"desk\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
             secrets = [\"{OLD_SECRET}\", \"{NEW_SECRET}\"]\n\
             events = [\"created\", \"acknowledged\", \"commented\", \"resolved\"]\n"
        ),
        ..Options::default()
    })
    .await;
    let ids = app.ticket_per_provider(&["tekion", "cdk"]).await;
    let (tekion, cdk) = (ids[0].clone(), ids[1].clone());
    app.patch_ticket(&tekion, &json!({"status": "acknowledged"}))
        .await;
    let r = app
        .post_json(
            &format!("/api/v1/tickets/{tekion}/comments"),
            &json!({"body": "rotating the key"}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 201);
    app.patch_ticket(
        &tekion,
        &json!({"status": "resolved", "resolution": "rotated"}),
    )
    .await;

    let delivered = |rx: &Receiver, ticket: &str| -> Vec<String> {
        rx.received()
            .into_iter()
            .filter(|l| l["ticket"] == ticket && l["status"] == 204)
            .map(|l| l["type"].as_str().unwrap().to_string())
            .collect()
    };
    wait_for("every event delivered", Duration::from_secs(60), || async {
        (delivered(&rx, &tekion).len() == 4 && delivered(&rx, &cdk).len() == 1).then_some(())
    })
    .await;
    assert_eq!(
        delivered(&rx, &tekion),
        [
            "ticket.created",
            "ticket.acknowledged",
            "ticket.commented",
            "ticket.resolved"
        ],
        "in order per ticket, through the outage"
    );
    assert_eq!(delivered(&rx, &cdk), ["ticket.created"]);
    let all = rx.received();
    assert!(
        all.iter().all(|l| l["verified"] == true),
        "every delivery verifies with the receiver's secret: {all:?}"
    );
    // The outage: the first three answers were 503, and those events came again (same
    // webhook-id) until delivered; each event is delivered once.
    let failed: Vec<&Value> = all.iter().filter(|l| l["status"] == 503).collect();
    assert_eq!(failed.len(), 3, "{all:?}");
    let ok_ids: Vec<&str> = all
        .iter()
        .filter(|l| l["status"] == 204)
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    for f in &failed {
        assert!(ok_ids.contains(&f["id"].as_str().unwrap()), "{f} retried");
    }
    let mut unique = ok_ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ok_ids.len(), "each event delivered once");
    // Each attempt is logged and counted like any notification's.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("syncwatch_notifications_failed_total{integration=\"ticket_webhook\",reason=\"serverError\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("syncwatch_notifications_total{integration=\"ticket_webhook\"} 5"));
}
