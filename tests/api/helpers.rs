//! `spawn_app()` and the `TestApp` handle with one method per endpoint.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use syncwatch::config;
use syncwatch::domain::SystemClock;
use syncwatch::simulator::{self, Simulator};
use syncwatch::startup::Application;

use super::fakes::{FakeSlack, FakeSmtp};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port nothing listens on (for a server a test starts later, or never).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a missing tool fails the test (CI) instead of skipping it.
pub fn strict() -> bool {
    std::env::var("SYNCWATCH_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Skips (prints why) or, in strict mode, fails.
pub fn skip_or_fail(why: &str) {
    if strict() {
        panic!("SYNCWATCH_TEST_STRICT=1 and {why}");
    }
    eprintln!("skipped: {why}");
}

/// Runs `promtool ARGS` (with `stdin` when given) and asserts it succeeds; skips or fails
/// (strict mode) when promtool is not installed.
pub fn promtool(args: &[&std::ffi::OsStr], stdin: Option<&Path>) {
    tool("promtool", "prometheus", args, stdin)
}

/// Runs `name ARGS` and asserts it succeeds; skips or fails (strict mode) when the tool is not
/// installed (`package` says where it comes from).
pub fn tool(name: &str, package: &str, args: &[&std::ffi::OsStr], stdin: Option<&Path>) {
    let mut cmd = std::process::Command::new(name);
    cmd.args(args);
    if let Some(path) = stdin {
        cmd.stdin(std::fs::File::open(path).expect("tool input"));
    }
    match cmd.output() {
        Ok(out) => assert!(
            out.status.success(),
            "{name} {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => skip_or_fail(&format!(
            "{name} is not installed (apt-get install {package})"
        )),
    }
}

/// Rules with short windows so tests run in seconds; names match the shipped runbooks.
pub const TEST_RULES: &str = r#"groups:
  - name: test
    rules:
      - alert: ProviderAuthFailing
        expr: sum by (provider) (increase(syncwatch_sync_failures_total{error_class="auth"}[3s])) > 0
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.provider }} rejects syncwatch's credentials"
      - alert: RecordsDiscarded
        expr: sum by (pipeline, stage) (increase(syncwatch_stage_errors_total[1m])) > 0
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.pipeline }}/{{ $labels.stage }} sent records to the DLQ"
"#;

pub struct Options {
    pub providers: Vec<(&'static str, Vec<&'static str>)>,
    /// One `slack_configs` entry; `{slack}` is replaced by the fake Slack's port.
    pub slack_config: String,
    /// More integrations of the `oncall` receiver (YAML under it); `{slack}` is the fake's port.
    pub extra_integrations: String,
    /// Appended to alerting.yml (e.g. `inhibit_rules:`).
    pub extra_alerting: String,
    /// Child routes of the root route (`  routes:` and its list).
    pub routes: String,
    /// Send email to this port instead of the fake SMTP server's.
    pub smtp_port: Option<u16>,
    /// The `oncall` receiver's one `email_configs` entry.
    pub email_config: String,
    /// Appended to a provider's shipped profile (e.g. a shorter `[circuit_breaker]`).
    pub profile_extra: Vec<(&'static str, String)>,
    /// Text replaced in a provider's shipped profile: (provider, from, to).
    pub profile_edits: Vec<(&'static str, &'static str, &'static str)>,
    pub extra_config: String,
    /// The `dms` pipeline's stages, as TOML.
    pub stages: &'static str,
    /// The `transform` stage's mapping file, when the stages have one.
    pub transform: Option<String>,
    /// More keys of the `dms` pipeline (`{dir}` is the test's directory).
    pub pipeline_extra: &'static str,
    pub evaluation_interval: &'static str,
    pub rules: String,
    /// The database (default a SQLite file in the test's directory).
    pub storage_url: Option<String>,
    /// JSON Schema files of the validate stage: (path under `schemas/`, text).
    pub schemas: Vec<(&'static str, String)>,
    /// A whole `alerting.yml` instead of the generated one (`{slack}` is the fake Slack's port,
    /// `{smtp}` the fake SMTP server's).
    pub alerting_yml: Option<String>,
    /// The application's clock (default the system's): a test moves it to reach windows of
    /// hours or days at once.
    pub clock: Option<syncwatch::domain::ManualClock>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            providers: vec![("tekion", vec!["dealer-001", "dealer-002"])],
            slack_config: "app_token: xoxb-test-token\n        app_url: http://127.0.0.1:{slack}/api/chat.postMessage\n        channel: '#oncall'".into(),
            extra_integrations: String::new(),
            extra_alerting: String::new(),
            routes: String::new(),
            smtp_port: None,
            email_config: "to: 'oncall@test.local'".into(),
            profile_extra: Vec::new(),
            profile_edits: Vec::new(),
            extra_config: String::new(),
            stages: r#"["validate", "store"]"#,
            transform: None,
            pipeline_extra: "",
            evaluation_interval: "100ms",
            rules: TEST_RULES.into(),
            storage_url: None,
            schemas: Vec::new(),
            alerting_yml: None,
            clock: None,
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub sim_address: String,
    pub client: reqwest::Client,
    pub slack: FakeSlack,
    pub smtp: FakeSmtp,
    pub dir: tempfile::TempDir,
    storage_url: String,
    running: Option<Running>,
    clock: Arc<dyn syncwatch::domain::Clock>,
}

/// An application running in its own actix system on its own thread: stopping the system stops
/// every actor and server of that application, as a process exit would.
struct Running {
    system: actix_rt::System,
    thread: std::thread::JoinHandle<()>,
}

/// Starts syncwatch from a config file on a new thread, on `clock`; returns its HTTP port.
fn start_app(config_path: PathBuf, clock: Arc<dyn syncwatch::domain::Clock>) -> (u16, Running) {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("syncwatch-app".into())
        .spawn(move || {
            let system = actix_rt::System::new();
            system.block_on(async move {
                let no_env = |_: &str| None;
                let settings = config::load(&config_path, &no_env)
                    .unwrap_or_else(|p| panic!("test config invalid:\n{p}"));
                let app = Application::build(settings, clock, &no_env)
                    .await
                    .expect("app starts");
                let port = app.port();
                actix_rt::spawn(app.run_until_stopped());
                tx.send((port, actix_rt::System::current()))
                    .expect("test waits for the port");
            });
            system.run().expect("app system runs");
        })
        .expect("app thread starts");
    let (port, system) = rx.recv().expect("app started");
    (port, Running { system, thread })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.system.stop();
            let _ = r.thread.join();
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    // `TEST_LOG=1 cargo test …` shows the application's logs.
    if std::env::var("TEST_LOG").is_ok() {
        syncwatch::telemetry::init_tracing();
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(SystemClock);
    let sim_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sim_port = sim_listener.local_addr().unwrap().port();
    actix_web::rt::spawn(simulator::start(sim_listener, Simulator::new(clock.clone())).unwrap());
    let slack = FakeSlack::start();
    let smtp = FakeSmtp::start().await;

    let repo = repo();
    std::fs::write(dir.path().join("rules.yml"), &opts.rules).unwrap();
    std::fs::write(
        dir.path().join("alerting.yml"),
        format!(
            r#"global:
  smtp_smarthost: '127.0.0.1:{smtp}'
  smtp_from: 'syncwatch@test.local'
  smtp_require_tls: false
route:
  receiver: oncall
  group_by: [alertname, provider]
  group_wait: 0s
  group_interval: 200ms
{routes}receivers:
  - name: oncall
    slack_configs:
      - {slack_config}
    email_configs:
      - {email_config}
{extra_integrations}    ticket_configs:
      - tier: L2
{extra_alerting}"#,
            smtp = opts.smtp_port.unwrap_or(smtp.port),
            extra_alerting = opts.extra_alerting,
            email_config = opts.email_config,
            routes = opts.routes,
            extra_integrations = opts
                .extra_integrations
                .replace("{slack}", &slack.port.to_string()),
            slack_config = opts
                .slack_config
                .replace("{slack}", &slack.port.to_string()),
        ),
    )
    .unwrap();
    if let Some(text) = &opts.alerting_yml {
        let text = text
            .replace("{slack}", &slack.port.to_string())
            .replace("{smtp}", &opts.smtp_port.unwrap_or(smtp.port).to_string());
        std::fs::write(dir.path().join("alerting.yml"), text).unwrap();
    }
    let mut providers = String::new();
    for (name, conns) in &opts.providers {
        // A connection is a name, or an inline TOML table written out by the test.
        let conns: Vec<String> = conns
            .iter()
            .map(|c| {
                if c.starts_with('{') {
                    c.to_string()
                } else {
                    format!("{c:?}")
                }
            })
            .collect();
        let mut profile = repo.join("providers").join(format!("{name}.toml"));
        let extra = opts.profile_extra.iter().find(|(p, _)| p == name);
        let edits: Vec<_> = opts
            .profile_edits
            .iter()
            .filter(|(p, ..)| p == name)
            .collect();
        if extra.is_some() || !edits.is_empty() {
            let mut text = std::fs::read_to_string(&profile).unwrap();
            for (_, from, to) in edits {
                assert!(text.contains(from), "{name}.toml has no {from:?}");
                text = text.replacen(from, to, 1);
            }
            if let Some((_, extra)) = extra {
                text = text + "\n" + extra;
            }
            profile = dir.path().join(format!("{name}.toml"));
            std::fs::write(&profile, text).unwrap();
        }
        providers.push_str(&format!(
            "\n[[providers]]\nname = \"{name}\"\nprofile = \"{profile}\"\nbase_url = \"http://127.0.0.1:{sim_port}/{name}\"\nconnections = [{conns}]\nschedule = \"300ms\"\npipeline = \"dms\"\n",
            profile = profile.display(),
            conns = conns.join(", ")
        ));
    }
    // The pipeline's default schema directory is `schemas/` beside the config.
    for (name, text) in &opts.schemas {
        let path = dir.path().join("schemas").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let storage_url = opts
        .storage_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("syncwatch.db").display()));
    let config_text = format!(
        r#"[server]
listen = "127.0.0.1:0"
public_url = "http://syncwatch.test"

[storage]
url = "{db}"

[rules]
files = ["{rules}"]
evaluation_interval = "{interval}"
watch_interval = "200ms"


[alerting]
config = "{alerting}"

[runbooks]
dir = "{runbooks}"

[[pipelines]]
name = "dms"
stages = {stages}
{transform}
{pipeline_extra}
{providers}
{extra}"#,
        db = storage_url,
        rules = dir.path().join("rules.yml").display(),
        alerting = dir.path().join("alerting.yml").display(),
        runbooks = repo.join("runbooks").display(),
        extra = opts.extra_config,
        stages = opts.stages,
        pipeline_extra = opts
            .pipeline_extra
            .replace("{dir}", &dir.path().display().to_string()),
        transform = match &opts.transform {
            Some(t) => {
                let path = dir.path().join("transform.toml");
                std::fs::write(&path, t).unwrap();
                format!("transform = \"{}\"", path.display())
            }
            None => String::new(),
        },
        interval = opts.evaluation_interval,
    );
    let config_path = dir.path().join("syncwatch.toml");
    std::fs::write(&config_path, &config_text).unwrap();
    let app_clock: Arc<dyn syncwatch::domain::Clock> = match &opts.clock {
        Some(c) => Arc::new(c.clone()),
        None => Arc::new(SystemClock),
    };
    let (port, running) = start_app(config_path, app_clock.clone());
    let address = format!("http://127.0.0.1:{port}");
    TestApp {
        running: Some(running),
        address,
        sim_address: format!("http://127.0.0.1:{sim_port}"),
        client: reqwest::Client::new(),
        slack,
        smtp,
        dir,
        storage_url,
        clock: app_clock,
    }
}

/// The local PostgreSQL (trust auth).
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

/// The URL of a fresh database on the local PostgreSQL, or `None` (skipped; a failure under
/// `SYNCWATCH_TEST_STRICT`) when it is not reachable.
pub async fn postgres_database() -> Option<String> {
    let name = format!(
        "syncwatch_test_{}",
        syncwatch::store::new_id().replace('-', "")
    );
    let admin = match sqlx::PgPool::connect(&format!("{POSTGRES}/postgres")).await {
        Ok(p) => p,
        Err(e) => {
            skip_or_fail(&format!("PostgreSQL is not reachable at {POSTGRES}: {e}"));
            return None;
        }
    };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    Some(format!("{POSTGRES}/{name}"))
}

/// The value of one series in a Prometheus exposition.
pub fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Polls `check` every 50 ms until it returns `Some`, failing after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl TestApp {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until the outbox has recorded `n` deliveries through `integration`. A restart
    /// before that record sends the notification again (delivery is at least once).
    pub async fn wait_for_recorded_deliveries(&self, integration: &str, n: f64) {
        let series = format!(r#"syncwatch_notifications_total{{integration="{integration}"}}"#);
        wait_for(
            "deliveries recorded by the outbox",
            Duration::from_secs(30),
            || async { metric_value(&self.metrics().await, &series).filter(|v| *v >= n) },
        )
        .await;
    }

    /// A second handle on the application's SQLite store.
    pub async fn store(&self) -> syncwatch::store::Store {
        syncwatch::store::Store::connect(&self.storage_url)
            .await
            .unwrap()
    }

    /// Stops the application (all its actors and servers) and starts it again on the same
    /// database and files, as a process restart would.
    pub fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.system.stop();
            // A query in flight when the system stops can panic on drop, after the app is done.
            let _ = r.thread.join();
        }
        let (port, running) = start_app(self.dir.path().join("syncwatch.toml"), self.clock.clone());
        self.address = format!("http://127.0.0.1:{port}");
        self.running = Some(running);
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `POST /api/v2/alerts`, asserting it is accepted.
    pub async fn post_alerts(&self, alerts: &Value) {
        let r = self.post_json("/api/v2/alerts", alerts).await;
        let status = r.status().as_u16();
        assert_eq!(status, 200, "{}", r.text().await.unwrap_or_default());
    }

    /// Waits until a Slack message containing `marker` is delivered, gives anything sent with
    /// it one more second, then counts the delivered messages containing `needle`.
    pub async fn slack_count_after(&self, marker: &str, needle: &str) -> usize {
        wait_for(
            &format!("the {marker} message"),
            std::time::Duration::from_secs(30),
            || async { self.slack.delivered(marker).into_iter().next() },
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        self.slack.delivered(needle).len()
    }

    /// Waits until `GET /api/v1/alerts` shows the alert `name` in `state`; returns it.
    pub async fn wait_for_alert(&self, name: &str, state: &str) -> Value {
        let what = format!("{name} to be {state}");
        wait_for(&what, std::time::Duration::from_secs(30), || async {
            self.alerts()
                .await
                .into_iter()
                .find(|a| a["name"] == name && a["state"] == state)
        })
        .await
    }

    pub async fn alerts(&self) -> Vec<Value> {
        self.get_json("/api/v1/alerts").await["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn tickets(&self, query: &str) -> Value {
        self.get_json(&format!("/api/v1/tickets{query}")).await
    }

    /// Breaks each provider's auth in the simulator and waits for its ticket (one each, in
    /// that order); their ids.
    pub async fn ticket_per_provider(&self, providers: &[&str]) -> Vec<String> {
        for provider in providers {
            self.inject_fault(&json!({"provider": provider, "kind": "auth", "duration": "1h"}))
                .await;
        }
        let mut ids = Vec::new();
        for provider in providers {
            let id = wait_for("a ticket", Duration::from_secs(30), || async {
                self.tickets(&format!("?provider={provider}")).await["tickets"][0]["id"]
                    .as_str()
                    .map(str::to_string)
            })
            .await;
            ids.push(id);
        }
        ids
    }

    /// PATCHes ticket `id` against its current ETag; asserts 200.
    pub async fn patch_ticket(&self, id: &str, change: &Value) {
        let url = format!("{}/api/v1/tickets/{id}", self.address);
        let r = self.client.get(&url).send().await.unwrap();
        let tag = r.headers()["etag"].to_str().unwrap().to_string();
        let r = self
            .client
            .patch(&url)
            .header("if-match", tag)
            .json(change)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{change}");
    }

    /// Posts the silence form (`/silences/new`) as a browser would: with the CSRF cookie the
    /// form's page sets and the same value in the form.
    pub async fn post_silence_form(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let page = self.get("/silences/new").await;
        let csrf = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok()?.strip_prefix("syncwatch_csrf="))
            .map(|c| c.split(';').next().unwrap_or("").to_string())
            .next()
            .expect("the form sets its CSRF cookie");
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        self.client
            .post(format!("{}/silences/new", self.address))
            .header("cookie", format!("syncwatch_csrf={csrf}"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    pub async fn lookup(&self, body: &Value) -> reqwest::Response {
        self.post_json("/api/v1/runbooks/lookup", body).await
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }

    /// Injects a simulator fault; returns its id.
    pub async fn inject_fault(&self, fault: &Value) -> u64 {
        let r = self
            .client
            .post(format!("{}/admin/faults", self.sim_address))
            .json(fault)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "fault accepted");
        r.json::<Value>().await.unwrap()["id"].as_u64().unwrap()
    }

    pub async fn clear_faults(&self) {
        let r = self
            .client
            .delete(format!("{}/admin/faults", self.sim_address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }

    pub async fn simulator_requests(&self, provider: &str) -> Vec<Value> {
        self.client
            .get(format!(
                "{}/admin/requests?provider={provider}",
                self.sim_address
            ))
            .send()
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
    }
}

/// `syncwatch serve` as a real process (for signals, kills and restarts), its stdout and stderr
/// collected.
/// The demo as `cargo run -- serve` runs it, on free ports, in `dir`.
pub fn demo_config(dir: &Path, port: u16, simulator: u16) {
    let root = repo();
    let text = std::fs::read_to_string(root.join("syncwatch.toml"))
        .unwrap()
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:9100", &format!("127.0.0.1:{simulator}"));
    std::fs::write(dir.join("syncwatch.toml"), text).unwrap();
    std::fs::copy(root.join("alerting.yml"), dir.join("alerting.yml")).unwrap();
    for d in [
        "rules",
        "runbooks",
        "providers",
        "examples",
        "schemas",
        "slos",
    ] {
        std::os::unix::fs::symlink(root.join(d), dir.join(d)).unwrap();
    }
}

pub struct ServeProcess {
    child: std::process::Child,
    pub base: String,
    logs: Arc<std::sync::Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ServeProcess {
    /// Starts `syncwatch serve` in `dir` (its `syncwatch.toml`, listening on `port`) with
    /// `env`, and waits until it answers.
    pub async fn start(dir: &Path, port: u16, env: &[(&str, &str)]) -> Self {
        use std::io::Read;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_syncwatch"));
        cmd.current_dir(dir)
            .args(["serve", "--config", "syncwatch.toml"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("syncwatch starts");
        let logs: Arc<std::sync::Mutex<String>> = Arc::default();
        let mut readers = Vec::new();
        let out: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for mut stream in out {
            let logs = logs.clone();
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    logs.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let ready = format!("{base}/healthz");
        wait_for("syncwatch to answer", Duration::from_secs(60), || async {
            client.get(&ready).send().await.ok().map(|_| ())
        })
        .await;
        Self {
            child,
            base,
            logs,
            readers,
        }
    }

    /// Sends SIGTERM and waits for the exit; returns its code and everything printed.
    pub fn terminate(mut self) -> (Option<i32>, String) {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        (status.code(), self.finish())
    }

    /// Kills it (SIGKILL, as a crash) and returns everything printed.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.finish()
    }

    fn finish(&mut self) -> String {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Prometheus server that stops with the test.
pub struct PrometheusServer {
    child: std::process::Child,
    pub base: String,
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PrometheusServer {
    /// Starts Debian's `prometheus` with `config` (its YAML) and `args`, its data under `dir`
    /// (`tsdb/`); `None` when it is not installed.
    pub fn start(dir: &Path, config: &str, args: &[&str]) -> Option<Self> {
        let port = free_port();
        let path = dir.join("prometheus.yml");
        std::fs::write(&path, config).unwrap();
        let data = dir.join("tsdb");
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", path.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        Some(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    /// The result of an instant query now (an error answer panics with the query).
    pub async fn query(&self, expr: &str) -> Option<Vec<Value>> {
        self.query_at(expr, None).await
    }

    /// The result of an instant query at `at_s` (Unix seconds; now without it).
    pub async fn query_at(&self, expr: &str, at_s: Option<i64>) -> Option<Vec<Value>> {
        let mut params = vec![("query", expr.to_string())];
        if let Some(t) = at_s {
            params.push(("time", t.to_string()));
        }
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.base))
            .query(&params)
            .send()
            .await
            .ok()?;
        let body: Value = r.json().await.ok()?;
        assert_eq!(body["status"], "success", "{expr}: {body}");
        match &body["data"]["result"] {
            Value::Array(a) => Some(a.clone()),
            // A scalar answer is data too.
            v if !v.is_null() => Some(vec![v.clone()]),
            _ => None,
        }
    }
}
