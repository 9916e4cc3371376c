//! Secrets never shown: a secret planted in every field that takes one (the store's password,
//! Slack tokens and webhook paths, SMTP passwords, a webhook's URL token and HMAC key, S3 keys, a
//! provider's OAuth client secret, an API token) is searched for in everything syncwatch prints
//! or answers: its logs at debug level while deliveries, syncs and exports fail, every API route,
//! `/metrics`, `/readyz`, and the errors of `check` and of a `serve` that cannot start.

use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};
use syncwatch::api::auth::ROUTES;

use super::fakes::FakeSlack;
use super::helpers::{ServeProcess, free_port, postgres_database, repo, wait_for};

const PLANTED: [&str; 11] = [
    "PLANTED-PG-PASSWORD",
    "PLANTED-SLACK-BOT",
    "PLANTED-SLACK-PATH",
    "PLANTED-SMTP-PASSWORD",
    "PLANTED-GLOBAL-SMTP",
    "PLANTED-URL-PATH",
    "PLANTED-URL-TOKEN",
    "PLANTED-HMAC",
    "PLANTED-S3-SECRET",
    "PLANTED-OAUTH-SECRET",
    "PLANTED-API-TOKEN",
];

fn syncwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_syncwatch"))
}

fn assert_no_secret(what: &str, text: &str) {
    for s in PLANTED {
        assert!(!text.contains(s), "{what} shows {s}:\n{text}");
    }
}

/// The routing config with a secret in every field that takes one.
fn alerting_yml(slack: u16, dead: u16) -> String {
    format!(
        r#"global:
  smtp_smarthost: '127.0.0.1:{dead}'
  smtp_from: 'syncwatch@test.local'
  smtp_auth_username: syncwatch
  smtp_auth_password: PLANTED-GLOBAL-SMTP
  smtp_require_tls: false
  slack_api_url: http://127.0.0.1:{slack}/services/T0/B0/PLANTED-SLACK-PATH
route:
  receiver: everything
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: everything
    slack_configs:
      - app_token: xoxb-PLANTED-SLACK-BOT
        app_url: http://127.0.0.1:{slack}/api/chat.postMessage
        channel: '#ops'
      - channel: '#ops'
    email_configs:
      - to: oncall@test.local
        auth_username: oncall
        auth_password: PLANTED-SMTP-PASSWORD
    webhook_configs:
      - url: http://127.0.0.1:{slack}/hooks/PLANTED-URL-PATH?token=PLANTED-URL-TOKEN
        secret: PLANTED-HMAC
    ticket_configs:
      - tier: L1
"#
    )
}

#[actix_web::test]
async fn a_secret_planted_in_every_field_shows_in_no_log_answer_or_error() {
    let Some(db) = postgres_database().await else {
        return;
    };
    // PostgreSQL trusts local connections: the password is carried, never needed.
    let storage = db.replace(
        "postgres://postgres@",
        "postgres://postgres:PLANTED-PG-PASSWORD@",
    );
    let slack = FakeSlack::start();
    slack.fail_next(usize::MAX);
    let dead = free_port();
    let (port, sim) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("alerting.yml"),
        alerting_yml(slack.port, dead),
    )
    .unwrap();
    let token_hash = hex::encode(Sha256::digest(b"PLANTED-API-TOKEN"));
    let root = repo();
    let config = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
[storage]
url = "{storage}"
[rules]
files = ["{root}/rules/*.yml"]
[alerting]
config = "alerting.yml"
[runbooks]
dir = "{root}/runbooks"
[simulator]
enabled = true
listen = "127.0.0.1:{sim}"
[[pipelines]]
name = "dms"
stages = ["validate", "store", "export"]
schemas = "{root}/schemas"
export_url = "s3://exports/dms"
export_buffer_interval = "200ms"
export_s3 = {{ endpoint = "http://127.0.0.1:{dead}", region = "us-east-1", access_key_id = "syncwatch", secret_access_key = "PLANTED-S3-SECRET", allow_http = true }}
[[providers]]
name = "tekion"
profile = "{root}/providers/tekion.toml"
base_url = "http://127.0.0.1:{sim}/tekion"
connections = ["dealer-001"]
schedule = "1s"
pipeline = "dms"
[api]
metrics_auth = "token"
[[api.tokens]]
name = "ops"
token_sha256 = "{token_hash}"
scopes = ["admin"]
"#,
        root = root.display(),
    );
    std::fs::write(dir.path().join("syncwatch.toml"), config).unwrap();
    let app = ServeProcess::start(
        dir.path(),
        port,
        &[
            ("RUST_LOG", "debug"),
            ("TEKION_CLIENT_SECRET", "PLANTED-OAUTH-SECRET"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let base = app.base.clone();
    let alerts = serde_json::json!([{
        "labels": {"alertname": "DealerFeedDown", "provider": "cdk", "severity": "critical"},
        "annotations": {"summary": "feed down"}
    }]);
    let r = client
        .post(format!("{base}/api/v2/alerts"))
        .bearer_auth("PLANTED-API-TOKEN")
        .json(&alerts)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Deliveries fail and retry, syncs run (and fail their OAuth), exports fail.
    wait_for("failed deliveries", Duration::from_secs(30), || async {
        (slack.calls().len() >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut answers = String::new();
    for (method, pattern, _) in ROUTES {
        if *method != "GET" {
            continue;
        }
        let path = pattern
            .replace("{provider}", "tekion")
            .replace("{connection}", "dealer-001")
            .replace("{id}", "x");
        let r = client
            .get(format!("{base}{path}"))
            .bearer_auth("PLANTED-API-TOKEN")
            .send()
            .await
            .unwrap();
        answers.push_str(&format!("--- GET {path}: {}\n", r.status()));
        answers.push_str(&r.text().await.unwrap());
    }
    assert!(
        answers.contains("<secret>"),
        "/api/v2/status masks:\n{answers}"
    );
    assert!(
        answers.contains("syncwatch_notifications_failed_total"),
        "{answers}"
    );
    let logs = app.kill();
    assert!(logs.contains("DEBUG"), "debug logs were on:\n{logs}");
    assert!(
        logs.contains("notification failed"),
        "deliveries failed:\n{logs}"
    );
    assert_no_secret("an API answer", &answers);
    assert_no_secret("the log", &logs);
}

#[test]
fn check_and_a_failed_start_name_the_field_but_never_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let dead = free_port();
    std::fs::write(
        dir.path().join("alerting.yml"),
        alerting_yml(dead, dead).replace(
            "      - url: http://127.0.0.1",
            "      - url: http//PLANTED-URL-TOKEN@127.0.0.1",
        ),
    )
    .unwrap();
    let config = format!(
        "[storage]\nurl = \"postgres://syncwatch:PLANTED-PG-PASSWORD@127.0.0.1:{dead}/syncwatch\"\n[alerting]\nconfig = \"alerting.yml\"\n[rules]\nfiles = []\n[runbooks]\ndir = \"{}/runbooks\"\n",
        repo().display()
    );
    std::fs::write(dir.path().join("syncwatch.toml"), &config).unwrap();
    let out = syncwatch()
        .current_dir(dir.path())
        .args(["check"])
        .output()
        .unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains(
            "alerting.yml:24: receivers[everything].webhook_configs: url must be an http(s) URL"
        ),
        "{printed}"
    );
    assert_no_secret("check", &printed);

    // A valid routing file, and a store that refuses connections: serve names it, masked.
    std::fs::write(dir.path().join("alerting.yml"), alerting_yml(dead, dead)).unwrap();
    let out = syncwatch()
        .current_dir(dir.path())
        .args(["serve"])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("postgres://syncwatch:<secret>@127.0.0.1"),
        "{printed}"
    );
    assert_no_secret("serve", &printed);
}
