//! Crash safety, on SQLite and PostgreSQL: an alert storm (1,000 instances over 200 dedup keys,
//! re-posted every second as Prometheus re-sends what fires) to a webhook, email and tickets,
//! while syncwatch is killed (SIGKILL) at random moments and restarted; a 90 s store outage in
//! the middle of a storm; a webhook outage across a restart. Afterwards: exactly one active
//! ticket per key and none missing, every group delivered to both integrations, and duplicates
//! (a delivery the integration took just before a kill, sent again after the restart: delivery
//! is at least once) counted and printed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};

use super::fakes::{FakeSlack, FakeSmtp, TcpProxy};
use super::helpers::{POSTGRES, ServeProcess, free_port, postgres_database, repo, wait_for};

const PROVIDERS: usize = 200;
const INSTANCES: usize = 5;

struct Rig {
    dir: tempfile::TempDir,
    port: u16,
    hook: FakeSlack,
    smtp: FakeSmtp,
}

impl Rig {
    async fn new(storage_url: &str) -> Self {
        let (hook, smtp) = (FakeSlack::start(), FakeSmtp::start().await);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::write(
            dir.path().join("alerting.yml"),
            format!(
                r#"global:
  smtp_smarthost: '127.0.0.1:{smtp}'
  smtp_from: 'syncwatch@test.local'
  smtp_require_tls: false
route:
  receiver: team
  group_by: [alertname, provider]
  group_wait: 500ms
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs:
      - url: http://127.0.0.1:{hook}/hook
    email_configs:
      - to: oncall@test.local
    ticket_configs:
      - tier: L1
"#,
                smtp = smtp.port,
                hook = hook.port
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("syncwatch.toml"),
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\nurl = \"{storage_url}\"\n[rules]\nfiles = []\n[alerting]\nconfig = \"alerting.yml\"\n[runbooks]\ndir = \"{}/runbooks\"\n",
                repo().display()
            ),
        )
        .unwrap();
        Self {
            dir,
            port,
            hook,
            smtp,
        }
    }

    async fn start(&self) -> ServeProcess {
        ServeProcess::start(self.dir.path(), self.port, &[]).await
    }

    /// Posts every alert once a second (errors ignored: the server may be down) until stopped.
    fn storm(&self) -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("http://127.0.0.1:{}/api/v2/alerts", self.port);
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let alerts: Vec<Value> = (0..PROVIDERS * INSTANCES)
                .map(|i| {
                    json!({"labels": {
                        "alertname": "CrashStorm",
                        "provider": format!("p{:03}", i % PROVIDERS),
                        "instance": format!("i{i:04}"),
                        "severity": "critical"
                    }})
                })
                .collect();
            while !flag.load(Ordering::SeqCst) {
                for batch in alerts.chunks(100) {
                    let _ = client
                        .post(&url)
                        .json(&batch)
                        .timeout(Duration::from_secs(2))
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        (stop, task)
    }

    /// Webhook deliveries: per provider, each delivered body's firing instances.
    fn webhook_deliveries(&self) -> BTreeMap<String, Vec<BTreeSet<String>>> {
        let mut out: BTreeMap<String, Vec<BTreeSet<String>>> = BTreeMap::new();
        for c in self.hook.calls() {
            if c.method != "hook" || !c.delivered {
                continue;
            }
            let provider = c.body["groupLabels"]["provider"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let firing = c.body["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["status"] == "firing")
                .filter_map(|a| a["labels"]["instance"].as_str().map(str::to_string))
                .collect();
            out.entry(provider).or_default().push(firing);
        }
        out
    }

    /// Providers whose group reached email.
    fn emailed(&self) -> BTreeSet<String> {
        self.smtp
            .messages()
            .iter()
            .filter_map(|m| {
                let subject = m.lines().find(|l| l.starts_with("Subject:"))?;
                subject
                    .split_whitespace()
                    .find(|w| w.starts_with('p') && w.len() == 4)
                    .map(str::to_string)
            })
            .collect()
    }

    /// Waits until every group reached both integrations with all its instances, then checks
    /// the tickets; returns the duplicate webhook deliveries.
    async fn converged(&self, app: &ServeProcess, what: &str) -> usize {
        wait_for(
            &format!("every group delivered ({what})"),
            Duration::from_secs(120),
            || async {
                let got = self.webhook_deliveries();
                let complete = got
                    .values()
                    .filter(|d| d.iter().any(|f| f.len() == INSTANCES))
                    .count();
                (complete == PROVIDERS && self.emailed().len() == PROVIDERS).then_some(())
            },
        )
        .await;
        let mut tickets = Vec::new();
        let mut cursor = String::new();
        loop {
            let page: Value =
                reqwest::get(format!("{}/api/v1/tickets?limit=100{cursor}", app.base))
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
            tickets.extend(page["tickets"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
        for t in &tickets {
            assert_eq!(t["status"], "open", "{t}");
            *per_key
                .entry(t["provider"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        assert_eq!(per_key.len(), PROVIDERS, "a ticket for every key ({what})");
        assert!(
            per_key.values().all(|n| *n == 1),
            "exactly one ticket per key ({what}): {per_key:?}"
        );
        // A duplicate: the same group state delivered twice.
        let duplicates: usize = self
            .webhook_deliveries()
            .values()
            .map(|d| {
                let distinct: BTreeSet<&BTreeSet<String>> = d.iter().collect();
                d.len() - distinct.len()
            })
            .sum();
        let deliveries: usize = self.webhook_deliveries().values().map(Vec::len).sum();
        println!("{what}: {deliveries} webhook deliveries, {duplicates} duplicates");
        duplicates
    }
}

/// Five SIGKILLs at random moments of a storm, each followed by a restart.
async fn kills_mid_storm_lose_nothing(storage_url: &str, what: &str) {
    let rig = Rig::new(storage_url).await;
    let (stop, storm) = rig.storm();
    const KILLS: usize = 5;
    for _ in 0..KILLS {
        let app = rig.start().await;
        let after = rand::rng().random_range(500..3_000);
        tokio::time::sleep(Duration::from_millis(after)).await;
        let logs = tokio::task::spawn_blocking(move || app.kill())
            .await
            .unwrap();
        assert!(!logs.contains("panicked"), "{logs}");
    }
    let app = rig.start().await;
    let duplicates = rig.converged(&app, what).await;
    stop.store(true, Ordering::SeqCst);
    storm.await.unwrap();
    // At least once: a kill can repeat what was in flight at that moment, nothing more.
    assert!(
        duplicates <= KILLS * 10,
        "{duplicates} duplicates over {KILLS} kills"
    );
}

#[actix_web::test]
async fn sqlite_kills_mid_storm_lose_no_ticket_and_no_notification() {
    kills_mid_storm_lose_nothing("sqlite://data/syncwatch.db", "SQLite, 5 kills").await;
}

#[actix_web::test]
async fn postgres_kills_mid_storm_lose_no_ticket_and_no_notification() {
    if let Some(url) = postgres_database().await {
        kills_mid_storm_lose_nothing(&url, "PostgreSQL, 5 kills").await;
    }
}

#[actix_web::test]
async fn a_90_second_store_outage_mid_storm_loses_nothing() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().unwrap());
    let proxied = url.replace(
        POSTGRES,
        &format!("postgres://postgres@127.0.0.1:{}", proxy.port),
    );
    let rig = Rig::new(&proxied).await;
    let app = rig.start().await;
    proxy.cut();
    let (stop, storm) = rig.storm();
    tokio::time::sleep(Duration::from_secs(90)).await;
    proxy.restore();
    let duplicates = rig.converged(&app, "PostgreSQL, 90 s outage").await;
    stop.store(true, Ordering::SeqCst);
    storm.await.unwrap();
    assert_eq!(duplicates, 0, "no kill, so no duplicate");
    let logs = app.kill();
    assert!(!logs.contains("panicked"), "{logs}");
}

#[actix_web::test]
async fn a_webhook_outage_across_a_restart_loses_nothing() {
    let rig = Rig::new("sqlite://data/syncwatch.db").await;
    rig.hook.fail_next(usize::MAX);
    let app = rig.start().await;
    let (stop, storm) = rig.storm();
    wait_for(
        "failed webhook deliveries",
        Duration::from_secs(30),
        || async { (rig.hook.calls().len() >= 50).then_some(()) },
    )
    .await;
    let logs = tokio::task::spawn_blocking(move || app.kill())
        .await
        .unwrap();
    assert!(!logs.contains("panicked"), "{logs}");
    let app = rig.start().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    rig.hook.fail_next(0);
    rig.converged(&app, "SQLite, webhook outage across a restart")
        .await;
    stop.store(true, Ordering::SeqCst);
    storm.await.unwrap();
}
