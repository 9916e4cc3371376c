//! Breach to Slack: the time from a metric crossing an alert threshold to the Slack request
//! arriving at a Slack server, for syncwatch and for Prometheus + Alertmanager, in the same run.
//!
//! Each breach is a new series `bench_breach{i="k"}` set to 1 (rule `bench_breach > 0.5`, no
//! `for`), so each is a new alert in its own group (`group_by: [alertname, i]`,
//! `group_wait: 0s`). Breaches are 1.05 s apart (Slack's per-channel pace is one message a
//! second, and syncwatch keeps to it). At each breach the value is set at the same instant in
//! syncwatch's metrics recorder (the path of every syncwatch metric) and in a /metrics endpoint
//! that Prometheus scrapes every second, evaluating every second and sending to Alertmanager.
//! Two fake Slack servers (a thread each, recording the arrival time of each request before
//! answering like Slack) receive syncwatch's `chat.postMessage` and Alertmanager's webhook post.
//!
//! With `follow`, breaches come in pairs in the same channel, the second half a second after
//! the first, and pairs 2 s apart: the latency of an alert that follows another, which Slack's
//! burst allowance (a token bucket per channel) must not hold back.
//!
//! Run: `cargo bench --bench notify` (or `bench/notify.sh`); `-- N` sets the number of breaches
//! (default 100), `-- N follow` the pairs. Prometheus and Alertmanager are Debian's `prometheus` and
//! `prometheus-alertmanager`; without them only syncwatch is measured.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Children, free_port};
use syncwatch::domain::SystemClock;
use syncwatch::startup::Application;

const SPACING: Duration = Duration::from_millis(1050);
/// `follow`: the second of a pair this long after the first, and the next pair this long after.
const FOLLOW: Duration = Duration::from_millis(500);
const BETWEEN_PAIRS: Duration = Duration::from_millis(2000);
const RULES: &str = r#"groups:
  - name: bench
    interval: 1s
    rules:
      - alert: BenchBreach
        expr: bench_breach > 0.5
        annotations:
          summary: 'bench breach #{{ $labels.i }}#'
"#;

/// A minimal HTTP/1.1 server on a thread per connection (keep-alive). Every request's arrival
/// time and body go to the channel; `answer` gives the response body for a request path.
fn serve(
    answer: impl Fn(&str) -> (String, String) + Send + Sync + 'static,
) -> (u16, mpsc::Receiver<(Instant, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            let answer = answer.clone();
            std::thread::spawn(move || {
                let _ = connection(stream, &tx, &*answer);
            });
        }
    });
    (port, rx)
}

fn connection(
    stream: TcpStream,
    tx: &mpsc::Sender<(Instant, String)>,
    answer: &dyn Fn(&str) -> (String, String),
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let arrived = Instant::now();
        let (content_type, response) = answer(&path);
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{response}",
            response.len()
        )?;
        out.flush()?;
        let _ = tx.send((arrived, String::from_utf8_lossy(&body).into_owned()));
    }
}

/// A fake Slack: answers every call as Slack answers a posted message.
fn fake_slack() -> (u16, mpsc::Receiver<(Instant, String)>) {
    serve(|_| {
        (
            "application/json".into(),
            r#"{"ok":true,"channel":"C0BENCH","ts":"1700000000.000100"}"#.into(),
        )
    })
}

/// The breach number in a Slack request body (`#k#` from the summary).
fn breach_of(body: &str) -> Option<usize> {
    let start = body.find("bench breach #")? + "bench breach #".len();
    let end = start + body[start..].find('#')?;
    body[start..end].parse().ok()
}

struct Latencies {
    name: &'static str,
    sent: Vec<Option<Instant>>,
    got: HashMap<usize, Duration>,
    rx: mpsc::Receiver<(Instant, String)>,
}

impl Latencies {
    fn new(name: &'static str, n: usize, rx: mpsc::Receiver<(Instant, String)>) -> Self {
        Self {
            name,
            sent: vec![None; n],
            got: HashMap::new(),
            rx,
        }
    }

    fn drain(&mut self) {
        while let Ok((at, body)) = self.rx.try_recv() {
            if let Some(k) = breach_of(&body)
                && let Some(Some(sent)) = self.sent.get(k)
            {
                self.got.entry(k).or_insert(at - *sent);
            }
        }
    }

    fn done(&self) -> bool {
        self.got.len() == self.sent.len()
    }

    fn report(&self) -> Option<(f64, f64)> {
        self.report_of("", |_| true)
    }

    /// The figures of the breaches `which` keeps, their name after the integration's.
    fn report_of(&self, what: &str, which: impl Fn(usize) -> bool) -> Option<(f64, f64)> {
        let mut v: Vec<Duration> = self
            .got
            .iter()
            .filter(|(k, _)| which(**k))
            .map(|(_, d)| *d)
            .collect();
        v.sort();
        let expected = (0..self.sent.len()).filter(|k| which(*k)).count();
        println!(
            "{}{what}: {} of {expected} breaches reached Slack",
            self.name,
            v.len(),
        );
        if v.is_empty() {
            return None;
        }
        let p = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
        let (p50, p99, max) = (p(0.5), p(0.99), *v.last().unwrap());
        println!(
            "{}{what}: breach_to_slack_seconds p50 {:.4} p99 {:.4} max {:.4}",
            self.name,
            p50.as_secs_f64(),
            p99.as_secs_f64(),
            max.as_secs_f64()
        );
        Some((p50.as_secs_f64(), p99.as_secs_f64()))
    }
}

fn version(bin: &str) -> Option<String> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines().next().map(str::to_string)
}

/// The response (status line, headers, body) of a plain GET, or `None` when nothing answers.
fn http_get(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = TcpStream::connect(host).ok()?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

fn http_ok(url: &str) -> bool {
    http_get(url).is_some_and(|t| t.starts_with("HTTP/1.1 200") || t.starts_with("HTTP/1.0 200"))
}

/// Starts Prometheus (scraping `exporter`) and Alertmanager (posting to `slack`), and waits
/// until Prometheus has scraped the exporter. `None` when they are not installed.
fn start_peer(dir: &Path, exporter: u16, slack: u16) -> Option<Children> {
    let (Some(pv), Some(av)) = (version("prometheus"), version("prometheus-alertmanager")) else {
        println!(
            "peer: prometheus / prometheus-alertmanager not installed (apt-get install prometheus prometheus-alertmanager): syncwatch only"
        );
        return None;
    };
    println!("peer: {pv}; {av}");
    let (prom_port, am_port) = (free_port(), free_port());
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\nscrape_configs:\n  - job_name: bench\n    static_configs: [{{targets: ['127.0.0.1:{exporter}']}}]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("alertmanager.yml"),
        format!(
            "route:\n  receiver: slack\n  group_by: [alertname, i]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 4h\nreceivers:\n  - name: slack\n    slack_configs:\n      - api_url: 'http://127.0.0.1:{slack}/hook'\n        channel: '#bench'\n        text: '{{{{ .CommonAnnotations.summary }}}}'\n        send_resolved: false\n"
        ),
    )
    .unwrap();
    let log = |name: &str| Stdio::from(std::fs::File::create(dir.join(name)).unwrap());
    let am = Command::new("prometheus-alertmanager")
        .arg(format!(
            "--config.file={}",
            dir.join("alertmanager.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("am").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(log("alertmanager.log"))
        .spawn()
        .ok()?;
    let prom = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(log("prometheus.log"))
        .spawn()
        .ok()?;
    let children = Children(vec![am, prom]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let up = format!("http://127.0.0.1:{prom_port}/api/v1/query?query=up");
    while !(http_ok(&format!("http://127.0.0.1:{am_port}/-/ready"))
        && http_ok(&format!("http://127.0.0.1:{prom_port}/-/ready"))
        && scraped(&up))
    {
        assert!(
            Instant::now() < deadline,
            "Prometheus / Alertmanager did not start; see {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(children)
}

/// Whether Prometheus reports the exporter up.
fn scraped(url: &str) -> bool {
    http_get(url).is_some_and(|t| t.contains(r#""value":["#) && t.contains(r#","1"]"#))
}

/// Starts syncwatch (no providers, no simulator) with the bench rule and a Slack bot token
/// whose API is the fake Slack on `slack`.
async fn start_syncwatch(dir: &Path, slack: u16) -> Application {
    std::fs::write(dir.join("sw-rules.yml"), RULES).unwrap();
    std::fs::write(
        dir.join("alerting.yml"),
        format!(
            "route:\n  receiver: slack\n  group_by: [alertname, i]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 4h\nreceivers:\n  - name: slack\n    slack_configs:\n      - app_token: xoxb-bench\n        app_url: http://127.0.0.1:{slack}/api/chat.postMessage\n        channel: '#bench'\n        send_resolved: false\n"
        ),
    )
    .unwrap();
    let runbooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    std::fs::write(
        dir.join("syncwatch.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://127.0.0.1\"\n\n[storage]\nurl = \"sqlite://{db}\"\n\n[rules]\nfiles = [\"{rules}\"]\nevaluation_interval = \"1s\"\n\n[alerting]\nconfig = \"{alerting}\"\n\n[runbooks]\ndir = \"{runbooks}\"\n",
            db = dir.join("syncwatch.db").display(),
            rules = dir.join("sw-rules.yml").display(),
            alerting = dir.join("alerting.yml").display(),
            runbooks = runbooks.display(),
        ),
    )
    .unwrap();
    let no_env = |_: &str| None;
    let settings = syncwatch::config::load(&dir.join("syncwatch.toml"), &no_env)
        .unwrap_or_else(|p| panic!("bench config invalid:\n{p}"));
    Application::build(settings, Arc::new(SystemClock), &no_env)
        .await
        .expect("syncwatch starts")
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let follow = std::env::args().any(|a| a == "follow");
    let dir = tempfile::tempdir().unwrap();
    let system = actix_rt::System::new();
    system.block_on(async move {
        // The exporter Prometheus scrapes: bench_breach{i} for every breach so far.
        let values: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
        let exported = values.clone();
        let (exporter, _scrapes) = serve(move |_| {
            let mut text =
                String::from("# TYPE bench_breach gauge\nbench_breach{i=\"warmup\"} 0\n");
            for (i, v) in exported.lock().unwrap().iter().enumerate() {
                text.push_str(&format!("bench_breach{{i=\"{i}\"}} {v}\n"));
            }
            ("text/plain; version=0.0.4".into(), text)
        });
        let (sw_slack, sw_rx) = fake_slack();
        let (am_slack, am_rx) = fake_slack();
        let app = start_syncwatch(dir.path(), sw_slack).await;
        let metrics = app.metrics();
        actix_rt::spawn(app.run_until_stopped());
        let _peer = start_peer(dir.path(), exporter, am_slack);
        let peer = _peer.is_some();

        let mut sw = Latencies::new("syncwatch", n, sw_rx);
        let mut am = Latencies::new("prometheus+alertmanager", n, am_rx);
        if follow {
            println!(
                "{n} breaches in pairs, the second {:.2} s after the first, pairs {:.2} s apart; each a new series and alert group (group_wait 0s), all to one channel",
                FOLLOW.as_secs_f64(),
                BETWEEN_PAIRS.as_secs_f64()
            );
        } else {
            println!(
                "{n} breaches, {:.2} s apart, each a new series and alert group (group_wait 0s)",
                SPACING.as_secs_f64()
            );
        }
        for k in 0..n {
            let now = Instant::now();
            sw.sent[k] = Some(now);
            am.sent[k] = Some(now);
            values.lock().unwrap().push(1.0);
            metrics.record(|| metrics::gauge!("bench_breach", "i" => k.to_string()).set(1.0));
            let gap = match (follow, k % 2) {
                (false, _) => SPACING,
                (true, 0) => FOLLOW,
                (true, _) => BETWEEN_PAIRS,
            };
            tokio::time::sleep(gap).await;
            sw.drain();
            am.drain();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(sw.done() && (am.done() || !peer)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sw.drain();
            am.drain();
        }
        let ours = sw.report();
        if follow {
            sw.report_of(" (followers)", |k| k % 2 == 1);
        }
        if peer && let (Some((sw50, sw99)), Some((am50, am99))) = (ours, am.report()) {
            println!(
                "ratio syncwatch / prometheus+alertmanager: p50 {:.4} p99 {:.4}",
                sw50 / am50,
                sw99 / am99
            );
        }
        actix_rt::System::current().stop();
    });
}
