//! Email through a real SMTP server (Debian's python3-aiosmtpd), including an outage.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::helpers::{Options, skip_or_fail, spawn_app_with, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// An aiosmtpd process printing every message it receives to a file.
struct RealSmtp {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl RealSmtp {
    /// `None` (skipped, or failed in strict mode) when aiosmtpd is not installed.
    fn start(port: u16) -> Option<Self> {
        let ok = Command::new("/usr/bin/python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip_or_fail("python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("messages.txt");
        let child = Command::new("/usr/bin/python3")
            .args([
                "-u",
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Debugging",
            ])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            child,
            out,
            _dir: dir,
        })
    }

    /// The messages received so far.
    fn messages(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.split("---------- MESSAGE FOLLOWS ----------")
            .skip(1)
            .map(str::to_string)
            .collect()
    }
}

impl Drop for RealSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_web::test]
async fn a_real_smtp_server_receives_the_alert_as_multipart_text_and_html() {
    let port = super::helpers::free_port();
    let Some(smtp) = RealSmtp::start(port) else {
        return;
    };
    let app = spawn_app_with(Options {
        smtp_port: Some(port),
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let mail = wait_for("the email", WAIT, || async {
        smtp.messages().into_iter().find(|m| m.contains("FIRING"))
    })
    .await;
    assert!(
        mail.contains("Subject: [FIRING:1] ProviderAuthFailing tekion"),
        "{mail}"
    );
    assert!(
        mail.contains("To: oncall@test.local") && mail.contains("From: syncwatch@test.local"),
        "{mail}"
    );
    assert!(
        mail.contains("multipart/alternative")
            && mail.contains("text/plain")
            && mail.contains("text/html"),
        "{mail}"
    );
    assert!(
        mail.contains("tekion-token-expired"),
        "runbook link: {mail}"
    );
}

#[actix_web::test]
async fn mail_waits_out_an_smtp_outage_and_arrives_once() {
    let port = super::helpers::free_port();
    // Nothing listens on the port yet: the SMTP server is down.
    let app = spawn_app_with(Options {
        smtp_port: Some(port),
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    wait_for("failed attempts", WAIT, || async {
        super::helpers::metric_value(
            &app.metrics().await,
            r#"syncwatch_notifications_failed_total{integration="email",reason="network"}"#,
        )
        .filter(|n| *n >= 2.0)
    })
    .await;
    let Some(smtp) = RealSmtp::start(port) else {
        return;
    };
    wait_for("the email after the outage", WAIT, || async {
        smtp.messages().into_iter().find(|m| m.contains("FIRING"))
    })
    .await;
    app.clear_faults().await;
    wait_for("the resolution", WAIT, || async {
        smtp.messages().into_iter().find(|m| m.contains("RESOLVED"))
    })
    .await;
    let messages = smtp.messages();
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.contains("Subject: [FIRING:1]"))
            .count(),
        1,
        "exactly once"
    );
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.contains("Subject: [RESOLVED]"))
            .count(),
        1
    );
}
