//! A real Prometheus using syncwatch as its Alertmanager.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::helpers::{skip_or_fail, spawn_app, wait_for};

const WAIT: Duration = Duration::from_secs(40);

#[actix_web::test]
async fn a_real_prometheus_pages_and_resolves_through_syncwatch() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        skip_or_fail("prometheus is not installed (apt-get install prometheus)");
        return;
    }
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let port = super::helpers::free_port();
    let sw = app.address.trim_start_matches("http://").to_string();
    // Fires at once and resolves 15 seconds later (Prometheus may take seconds to start on a
    // busy machine, and an alert that resolved before its first evaluation never fires).
    let until = chrono::Utc::now().timestamp() + 15;
    std::fs::write(
        dir.path().join("rules.yml"),
        format!("groups:\n  - name: p\n    rules:\n      - alert: FromPrometheus\n        expr: vector(time()) < {until}\n        labels:\n          severity: critical\n          provider: dealerfx\n        annotations:\n          summary: sent by a real Prometheus\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!("global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{sw}']}}]\n"),
    )
    .unwrap();
    let mut prometheus = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // Its first send can precede Alertmanager discovery; re-send every second, not minute.
        .arg("--rules.alert.resend-delay=1s")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus starts");
    let log = dir.path().join("prometheus.log");
    let show_log = move || std::fs::read_to_string(&log).unwrap_or_default();
    let page = wait_for("the page from Prometheus", WAIT, || async {
        let log = show_log();
        assert!(
            !log.contains("level=error"),
            "Prometheus reports an error:\n{log}"
        );
        app.slack.delivered("FromPrometheus").into_iter().next()
    })
    .await;
    assert!(page.body.to_string().contains("sent by a real Prometheus"));
    let tickets = app.tickets("?alertname=FromPrometheus").await;
    assert_eq!(tickets["tickets"][0]["provider"], "dealerfx", "{tickets}");
    wait_for("the resolution from Prometheus", WAIT, || async {
        app.slack.delivered("RESOLVED").into_iter().next()
    })
    .await;
    assert_eq!(
        app.slack.delivered("FIRING").len(),
        1,
        "Prometheus' re-sends did not page again"
    );
    let _ = prometheus.kill();
    let _ = prometheus.wait();
}
