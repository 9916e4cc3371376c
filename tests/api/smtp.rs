//! Email through a real SMTP server (Debian's python3-aiosmtpd), including an outage, implicit
//! TLS, required STARTTLS and SMTP AUTH against a private CA.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::helpers::{Options, skip_or_fail, spawn_app_with, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// Waits until email delivery failed twice as a `network` failure (and was retried).
async fn email_network_failures(app: &super::helpers::TestApp) {
    wait_for("failed email attempts", WAIT, || async {
        super::helpers::metric_value(
            &app.metrics().await,
            r#"syncwatch_notifications_failed_total{integration="email",reason="network"}"#,
        )
        .filter(|n| *n >= 2.0)
    })
    .await;
}

/// An SMTP server process writing every message it receives to a file, each after `separator`.
pub struct SmtpServer {
    child: Child,
    out: PathBuf,
    separator: &'static str,
    _dir: Option<tempfile::TempDir>,
}

impl SmtpServer {
    /// Starts `cmd` and waits until it listens on `port`.
    fn spawn(
        cmd: &mut Command,
        port: u16,
        out: PathBuf,
        separator: &'static str,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let child = cmd
            .stderr(Stdio::null())
            .spawn()
            .expect("the SMTP server starts");
        wait_listening(port);
        Self {
            child,
            out,
            separator,
            _dir: dir,
        }
    }

    /// The messages received so far.
    pub fn messages(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.split(self.separator)
            .skip(1)
            .map(str::to_string)
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether aiosmtpd can run; skips (or fails in strict mode) when it cannot.
fn aiosmtpd_installed() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip_or_fail("python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)");
    }
    ok
}

pub fn wait_listening(port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "aiosmtpd did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// aiosmtpd printing what it receives (plain SMTP, no auth); `None` (skipped, or failed in
/// strict mode) when aiosmtpd is not installed.
pub fn real_smtp(port: u16) -> Option<SmtpServer> {
    if !aiosmtpd_installed() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("messages.txt");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args([
        "-u",
        "-m",
        "aiosmtpd",
        "-n",
        "-l",
        &format!("127.0.0.1:{port}"),
        "-c",
        "aiosmtpd.handlers.Debugging",
    ])
    .stdout(std::fs::File::create(&out).unwrap());
    Some(SmtpServer::spawn(
        &mut cmd,
        port,
        out,
        "---------- MESSAGE FOLLOWS ----------",
        Some(dir),
    ))
}

#[actix_web::test]
async fn a_real_smtp_server_receives_the_alert_as_multipart_text_and_html() {
    let port = super::helpers::free_port();
    let Some(smtp) = real_smtp(port) else {
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
    email_network_failures(&app).await;
    let Some(smtp) = real_smtp(port) else {
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

/// A private CA with a server certificate for `localhost` only and a client certificate, written
/// as PEM files into a temporary directory.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

impl Pki {
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: String| std::fs::write(dir.path().join(name), pem).unwrap();
        let mut ca = CertificateParams::new(Vec::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        let ca_key = KeyPair::generate().unwrap();
        write("ca.pem", ca.self_signed(&ca_key).unwrap().pem());
        let issuer = Issuer::new(ca, ca_key);
        for (name, san) in [("server", "localhost"), ("client", "syncwatch-client")] {
            let mut params = CertificateParams::new(vec![san.to_string()]).unwrap();
            params.distinguished_name.push(DnType::CommonName, san);
            let key = KeyPair::generate().unwrap();
            write(
                &format!("{name}.pem"),
                params.signed_by(&key, &issuer).unwrap().pem(),
            );
            write(&format!("{name}-key.pem"), key.serialize_pem());
        }
        std::fs::write(dir.path().join("password"), "s3cret\n").unwrap();
        Self { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// `smtp_tls_server.py`: aiosmtpd with implicit TLS or required STARTTLS and required AUTH
/// (user `alerts`, password `s3cret`); each message is preceded by a line saying how it came.
fn tls_smtp(pki: &Pki, port: u16, mode: &str, client_ca: bool) -> Option<SmtpServer> {
    if !aiosmtpd_installed() {
        return None;
    }
    let out = pki.dir.path().join(format!("{mode}-messages.txt"));
    let script = super::helpers::repo().join("tests/api/smtp_tls_server.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args(["-W", "ignore"]).arg(script).args([
        "--port",
        &port.to_string(),
        "--mode",
        mode,
        "--cert",
        &pki.path("server.pem"),
        "--key",
        &pki.path("server-key.pem"),
        "--user",
        "alerts",
        "--password",
        "s3cret",
        "--out",
        &out.display().to_string(),
    ]);
    if client_ca {
        cmd.args(["--client-ca", &pki.path("ca.pem")]);
    }
    cmd.stdout(Stdio::null());
    Some(SmtpServer::spawn(
        &mut cmd,
        port,
        out,
        "==== MESSAGE ",
        None,
    ))
}

/// An `email_configs` entry for the TLS server on `port` (flow-style YAML on one line).
fn tls_email(port: u16, settings: &str) -> String {
    format!(
        "{{to: 'oncall@test.local', smarthost: '127.0.0.1:{port}', require_tls: true, auth_username: alerts, {settings}}}"
    )
}

/// Starts the TLS server in `mode` and an app whose email receiver has `settings` (given the
/// PKI), raises an alert and returns the firing email as the server received it.
async fn first_tls_mail(
    mode: &str,
    client_ca: bool,
    settings: impl Fn(&Pki) -> String,
) -> Option<String> {
    let pki = Pki::new();
    let port = super::helpers::free_port();
    let smtp = tls_smtp(&pki, port, mode, client_ca)?;
    let app = spawn_app_with(Options {
        email_config: tls_email(port, &settings(&pki)),
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    Some(
        wait_for("the email over TLS", WAIT, || async {
            smtp.messages().into_iter().find(|m| m.contains("FIRING"))
        })
        .await,
    )
}

#[actix_web::test]
async fn mail_goes_over_implicit_tls_with_auth_and_a_client_certificate() {
    let Some(mail) = first_tls_mail("implicit", true, |pki| {
        format!(
            "auth_password_file: '{pw}', force_implicit_tls: true, tls_config: {{ca_file: '{ca}', server_name: localhost, cert_file: '{cert}', key_file: '{key}'}}",
            pw = pki.path("password"),
            ca = pki.path("ca.pem"),
            cert = pki.path("client.pem"),
            key = pki.path("client-key.pem"),
        )
    })
    .await
    else {
        return;
    };
    assert!(
        mail.starts_with("tls=TLSv1.3 client=syncwatch-client login=alerts\n"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: [FIRING:1] ProviderAuthFailing tekion"),
        "{mail}"
    );
}

#[actix_web::test]
async fn starttls_is_required_and_checked_against_the_configured_ca_and_name() {
    // The server's certificate names `localhost`, the smarthost is 127.0.0.1: without
    // `server_name` the name check fails; with it, the mail goes through.
    let Some(mail) = first_tls_mail("starttls", false, |pki| {
        format!(
            "auth_password: s3cret, tls_config: {{ca_file: '{ca}', server_name: localhost}}",
            ca = pki.path("ca.pem"),
        )
    })
    .await
    else {
        return;
    };
    assert!(
        mail.starts_with("tls=TLSv1.3 client=none login=alerts\n"),
        "{mail}"
    );
}

#[actix_web::test]
async fn a_certificate_outside_the_trusted_roots_is_refused_and_retried() {
    let pki = Pki::new();
    let port = super::helpers::free_port();
    let Some(smtp) = tls_smtp(&pki, port, "starttls", false) else {
        return;
    };
    // No ca_file: the private CA is not among the built-in roots.
    let app = spawn_app_with(Options {
        email_config: tls_email(
            port,
            "auth_password: s3cret, tls_config: {server_name: localhost}",
        ),
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    email_network_failures(&app).await;
    assert!(smtp.messages().is_empty(), "{:?}", smtp.messages());
}

/// A 100 KB label value in `group_by` once made a subject line the SMTP server refused ("line
/// too long"), and the page was dropped: the subject is cut to fit and the mail arrives, the
/// whole value still in its body.
#[actix_web::test]
async fn a_huge_group_label_still_makes_a_mail_the_server_takes() {
    let port = super::helpers::free_port();
    let Some(smtp) = real_smtp(port) else {
        return;
    };
    let app = spawn_app_with(Options {
        smtp_port: Some(port),
        providers: Vec::new(),
        ..Options::default()
    })
    .await;
    let huge = "x".repeat(100_000);
    app.post_alerts(&json!([{
        "labels": {"alertname": "DealerFeedDown", "provider": huge, "severity": "critical"}
    }]))
    .await;
    let mail = wait_for("the email", WAIT, || async {
        smtp.messages()
            .into_iter()
            .find(|m| m.contains("DealerFeedDown"))
    })
    .await;
    let subject = mail
        .lines()
        .find(|l| l.starts_with("Subject:"))
        .expect("a subject");
    assert!(
        subject.len() < 300 && subject.ends_with('…') || subject.contains("=?utf-8?"),
        "{subject}"
    );
    assert!(
        mail.lines().all(|l| l.len() <= 998),
        "every line within RFC 5322's limit"
    );
    let failed = super::helpers::metric_value(
        &app.metrics().await,
        r#"syncwatch_notifications_failed_total{integration="email",reason="clientError"}"#,
    );
    assert_eq!(failed, None, "no attempt was refused");
}
