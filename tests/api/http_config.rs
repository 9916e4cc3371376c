//! `http_config` on a receiver, against real servers: a bearer token from `credentials_file`, a
//! private CA, a client certificate and `server_name` over HTTPS (Python's `ssl` server), and
//! `basic_auth` through `proxy_url` (the same receiver standing in for a forward proxy).

use std::process::{Child, Command};
use std::time::Duration;

use serde_json::{Value, json};

use super::helpers::{Options, free_port, repo, spawn_app_with, wait_for};
use super::smtp::{Pki, wait_listening};

struct Receiver {
    child: Child,
    out: std::path::PathBuf,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(port: u16, out: std::path::PathBuf, tls: Option<&Pki>) -> Self {
        let mut cmd = Command::new("python3");
        cmd.arg(repo().join("tests/api/http_receiver.py"))
            .args(["--port", &port.to_string()])
            .arg("--out")
            .arg(&out);
        if let Some(pki) = tls {
            cmd.args(["--cert", &pki.path("server.pem")])
                .args(["--key", &pki.path("server-key.pem")])
                .args(["--client-ca", &pki.path("ca.pem")]);
        }
        let child = cmd.spawn().expect("python3 runs");
        wait_listening(port);
        Self { child, out }
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

#[actix_web::test]
async fn a_webhook_authenticates_with_a_token_and_a_client_certificate_and_goes_through_a_proxy() {
    let pki = Pki::new();
    let (https_port, proxy_port) = (free_port(), free_port());
    let https = Receiver::start(https_port, pki.path("https.jsonl").into(), Some(&pki));
    let proxy = Receiver::start(proxy_port, pki.path("proxy.jsonl").into(), None);
    let integrations = format!(
        "    webhook_configs:
      - url: https://127.0.0.1:{https_port}/hook
        http_config:
          authorization:
            credentials_file: {password}
          tls_config:
            ca_file: {ca}
            cert_file: {cert}
            key_file: {key}
            server_name: localhost
      - url: http://alerts.example.invalid/through-proxy
        http_config:
          basic_auth:
            username: alerts
            password: p@ss
          proxy_url: http://127.0.0.1:{proxy_port}
",
        password = pki.path("password"),
        ca = pki.path("ca.pem"),
        cert = pki.path("client.pem"),
        key = pki.path("client-key.pem"),
    );
    let app = spawn_app_with(Options {
        extra_integrations: integrations,
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let over_tls = wait_for("the HTTPS webhook", Duration::from_secs(60), || async {
        https.requests().into_iter().next()
    })
    .await;
    assert_eq!(over_tls["path"], "/hook");
    assert_eq!(over_tls["authorization"], "Bearer s3cret");
    assert_eq!(over_tls["client_cert"], "syncwatch-client");
    let body: Value = serde_json::from_str(over_tls["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["status"], "firing");

    let proxied = wait_for("the proxied webhook", Duration::from_secs(60), || async {
        proxy.requests().into_iter().next()
    })
    .await;
    assert_eq!(
        proxied["path"], "http://alerts.example.invalid/through-proxy",
        "the request went to the proxy in absolute form"
    );
    assert_eq!(proxied["authorization"], "Basic YWxlcnRzOnBAc3M=");
}
