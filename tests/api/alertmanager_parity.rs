//! The same alerts through the same `alerting.yml` and templates, sent by Alertmanager 0.25
//! (Debian's `prometheus-alertmanager`, run here) and by syncwatch to fake Slack, webhook and
//! PagerDuty endpoints and to real SMTP servers (aiosmtpd): the rendered texts must be equal.
//!
//! What may differ, and why: the group key (Alertmanager's is the route's matcher path, `{}` for
//! the root; syncwatch's is the route's position in the tree), so the webhook's `groupKey` and
//! PagerDuty's `dedup_key` (its SHA-256) are compared by shape only.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::fakes::FakeSlack;
use super::helpers::{Options, free_port, repo, skip_or_fail, spawn_app_with, wait_for};
use super::smtp::{real_smtp, wait_listening};

const TEMPLATES: &str = r#"{{ define "parity.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} on {{ .GroupLabels.SortedPairs.Values | join ", " }}{{ end }}
{{ define "parity.text" }}{{ range .Alerts }}*{{ .Labels.severity | title }}* {{ .Annotations.summary }}
{{- with .Annotations.description }}
> {{ . }}{{ end }}
Started {{ .StartsAt.Format "2006-01-02 15:04 MST" }}, {{ len .Labels }} labels: {{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}
{{ end }}{{ end }}
{{ define "parity.html" }}<h1>{{ template "parity.title" . }}</h1>
<p><a href="{{ .CommonAnnotations.runbook_url }}?owner={{ .CommonAnnotations.owner }}">Runbook</a> <a href="{{ .CommonAnnotations.owner }}">x</a> {{ "<i>see above</i>" | safeHtml }} <!-- {{ .Receiver }} --></p>
<ul>{{ range .Alerts }}<li title="{{ .Annotations.summary }}" data-x={{ .Labels.instance }}>{{ .Labels.instance }}: {{ .Annotations.summary }}</li>{{ end }}</ul>{{ end }}
"#;

const ALERTING: &str = r#"global:
  smtp_smarthost: '127.0.0.1:{smtp}'
  smtp_from: 'alerts@example.com'
  smtp_require_tls: false
templates: ['{templates}']
route:
  receiver: team
  group_by: [alertname, cluster]
  # Long enough for both alerts of the one post to be in the group on a busy machine: with
  # 5s, Alertmanager once flushed the group with one of them while the whole suite ran.
  group_wait: 15s
  group_interval: 1h
  repeat_interval: 4h
receivers:
  - name: team
    slack_configs:
      - api_url: http://127.0.0.1:{slack}/services/T000/B000/XXX
        channel: '#ops-{{ .CommonLabels.cluster }}'
        title: '{{ template "parity.title" . }}'
        title_link: '{{ .ExternalURL }}/#/alerts'
        text: '{{ template "parity.text" . }}'
        color: '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
        short_fields: true
        fields:
          - title: Cluster
            value: '{{ .CommonLabels.cluster }}'
          - title: Count
            value: '{{ len .Alerts }}'
            short: false
        actions:
          - type: button
            text: 'Runbook {{ .CommonLabels.alertname }}'
            url: '{{ .CommonAnnotations.runbook_url }}'
    webhook_configs:
      - url: http://127.0.0.1:{slack}/hook
    pagerduty_configs:
      - routing_key: R0UT1NG
        url: http://127.0.0.1:{slack}/v2/enqueue
        severity: '{{ .CommonLabels.severity }}'
        class: '{{ .CommonLabels.alertname }}'
        details:
          instances: '{{ range .Alerts }}{{ .Labels.instance }} {{ end }}'
        links:
          - href: '{{ .CommonAnnotations.runbook_url }}'
            text: Runbook
    email_configs:
      - to: 'oncall@example.com'
        headers:
          Subject: '{{ template "parity.title" . }}'
        text: '{{ template "parity.text" . }}'
        html: '{{ template "parity.html" . }}'
"#;

fn alerts() -> Value {
    let alert = |instance: &str, description: &str| {
        json!({
            "labels": {"alertname": "DiskFull", "cluster": "eu-1", "severity": "critical", "instance": instance},
            "annotations": {"summary": format!("{instance} is > 97% full & \"rising\" +1%/h"), "description": description,
                            "runbook_url": "https://runbooks.example/disk-full", "owner": "db & infra/ops (eu)"},
            "startsAt": "2026-11-30T08:15:00Z",
            "generatorURL": "http://prometheus.example/graph?g0.expr=disk",
        })
    };
    json!([
        alert("db-1:9100", "/var grows 2% an hour"),
        alert("db-2:9100", "")
    ])
}

struct Alertmanager(Child);

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mime(raw: &str) -> Value {
    let mut child = Command::new("python3")
        .arg(repo().join("tests/api/mime_parts.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(raw.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).expect("mime_parts.py prints JSON")
}

fn call(fake: &FakeSlack, method: &str) -> Option<Value> {
    fake.calls()
        .into_iter()
        .find(|c| c.method == method)
        .map(|c| c.body)
}

#[actix_web::test]
async fn alertmanager_and_syncwatch_send_the_same_texts() {
    if Command::new("prometheus-alertmanager")
        .arg("--version")
        .output()
        .is_err()
    {
        return skip_or_fail("prometheus-alertmanager (Debian's package) is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("parity.tmpl");
    std::fs::write(&templates, TEMPLATES).unwrap();
    let config = ALERTING.replace("{templates}", &templates.display().to_string());

    // Alertmanager, with its own fake endpoints and SMTP server.
    let am_fake = FakeSlack::start();
    let (am_smtp_port, sw_smtp_port, am_port) = (free_port(), free_port(), free_port());
    let Some(am_smtp) = real_smtp(am_smtp_port) else {
        return;
    };
    let Some(sw_smtp) = real_smtp(sw_smtp_port) else {
        return;
    };
    let am_config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am_config,
        config
            .replace("{slack}", &am_fake.port.to_string())
            .replace("{smtp}", &am_smtp_port.to_string()),
    )
    .unwrap();
    let am = Alertmanager(
        Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", am_config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("am-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--web.external-url=http://syncwatch.test")
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Alertmanager starts"),
    );
    wait_listening(am_port);

    // syncwatch, with the same file.
    let app = spawn_app_with(Options {
        providers: vec![],
        rules: String::new(),
        smtp_port: Some(sw_smtp_port),
        alerting_yml: Some(config.clone()),
        ..Options::default()
    })
    .await;

    let client = reqwest::Client::new();
    let posted = client
        .post(format!("http://127.0.0.1:{am_port}/api/v2/alerts"))
        .json(&alerts())
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "Alertmanager took the alerts");
    app.post_alerts(&alerts()).await;

    let wait = Duration::from_secs(60);
    for (who, fake) in [("Alertmanager", &am_fake), ("syncwatch", &app.slack)] {
        for method in ["webhook", "hook", "pagerduty"] {
            wait_for(&format!("{who}'s {method}"), wait, || async {
                call(fake, method)
            })
            .await;
        }
    }
    let am_mail = wait_for("Alertmanager's email", wait, || async {
        am_smtp.messages().into_iter().next()
    })
    .await;
    let sw_mail = wait_for("syncwatch's email", wait, || async {
        sw_smtp.messages().into_iter().next()
    })
    .await;

    // Slack: the whole request, field for field.
    let (am_slack, sw_slack) = (
        call(&am_fake, "webhook").unwrap(),
        call(&app.slack, "webhook").unwrap(),
    );
    assert_eq!(sw_slack, am_slack, "Slack requests differ");
    assert_eq!(
        am_slack["channel"], "#ops-eu-1",
        "the comparison saw rendered text"
    );

    // Webhook: everything but the group key.
    let (mut am_hook, mut sw_hook) = (
        call(&am_fake, "hook").unwrap(),
        call(&app.slack, "hook").unwrap(),
    );
    for h in [&mut am_hook, &mut sw_hook] {
        let key = h["groupKey"].take();
        assert!(
            key.as_str()
                .unwrap()
                .ends_with(r#":{alertname="DiskFull", cluster="eu-1"}"#),
            "{key}"
        );
    }
    assert_eq!(sw_hook, am_hook, "webhook payloads differ");

    // PagerDuty: everything but the dedup key (a SHA-256 of the group key in both).
    let (mut am_pd, mut sw_pd) = (
        call(&am_fake, "pagerduty").unwrap(),
        call(&app.slack, "pagerduty").unwrap(),
    );
    for e in [&mut am_pd, &mut sw_pd] {
        let key = e["dedup_key"].take();
        assert_eq!(key.as_str().unwrap().len(), 64, "{key}");
    }
    assert_eq!(sw_pd, am_pd, "PagerDuty events differ");

    // Email: subject, text and HTML as a mail reader decodes them.
    let (am_parts, sw_parts) = (mime(&am_mail), mime(&sw_mail));
    assert_eq!(sw_parts, am_parts, "emails differ");
    assert!(
        am_parts["subject"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING:2] DiskFull")
    );
    drop(am);
}
