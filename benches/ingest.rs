//! Alert storms at Alertmanager's scale: `POST /api/v2/alerts` in batches of 100 new alerts,
//! against syncwatch and Alertmanager (Debian's `prometheus-alertmanager`, 0.25) in the same run,
//! each as its own process, one after the other, with the same client and the same config:
//! one route, `group_by: [alertname]` (so the storm is one group that grows to a million
//! alerts), `group_wait: 30s`, a receiver with no integration.
//!
//! Per server, each phase on a fresh process:
//! 1. **storm**: 16 concurrent keep-alive clients post for 20 s; alerts accepted per second and
//!    the request latency (p50, p99) over that time;
//! 2. **fill**: posting until 1,000,000 alerts are held, then past `group_wait` (the group's
//!    first flush, its notification log entry written to the store), timing a read that needs
//!    the store every 100 ms meanwhile; then the server's resident memory (VmRSS), and its
//!    CPU time over 10 idle seconds (a share of one core).
//!
//! Run: `cargo bench --bench ingest` (or `bench/ingest.sh`); `-- ALERTS SECONDS` change the fill
//! size and the storm's length. Without Alertmanager only syncwatch is measured.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{Children, free_port};

const BATCH: u64 = 100;
/// The routing's `group_wait`, for both servers.
const GROUP_WAIT: Duration = Duration::from_secs(30);
const CLIENTS: usize = 16;

/// One batch of `BATCH` new alerts, numbered from `first`.
fn batch(first: u64) -> String {
    let mut s = String::with_capacity(BATCH as usize * 160);
    s.push('[');
    for i in first..first + BATCH {
        if i > first {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"labels":{{"alertname":"Storm","job":"bench","instance":"host-{i}","severity":"warning"}},"annotations":{{"summary":"storm alert {i}"}}}}"#
        ));
    }
    s.push(']');
    s
}

struct Phase {
    alerts: u64,
    seconds: f64,
    latencies_ms: Vec<f64>,
    failures: u64,
}

/// Posts batches from `CLIENTS` clients until `until` says stop; numbers continue from `next`.
async fn post_until(
    url: &str,
    next: &Arc<AtomicU64>,
    until: impl Fn(u64, Duration) -> bool + Send + Sync + 'static,
) -> Phase {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let until = Arc::new(until);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, url, next, stop) =
            (client.clone(), url.to_string(), next.clone(), stop.clone());
        let (accepted, failures, until) = (accepted.clone(), failures.clone(), until.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let first = next.fetch_add(BATCH, Ordering::Relaxed);
                let body = batch(first);
                let t = Instant::now();
                let ok = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                if ok {
                    let total = accepted.fetch_add(BATCH, Ordering::Relaxed) + BATCH;
                    if until(total, started.elapsed()) {
                        stop.store(true, Ordering::Relaxed);
                    }
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies_ms = Vec::new();
    for t in tasks {
        latencies_ms.extend(t.await.unwrap());
    }
    latencies_ms.sort_by(f64::total_cmp);
    Phase {
        alerts: accepted.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        latencies_ms,
        failures: failures.load(Ordering::Relaxed),
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Resident memory of `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU time (user + system) of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

struct Figures {
    alerts_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_mib: f64,
    idle_cpu: f64,
    held: u64,
}

/// The storm on a fresh server: alerts/s and request latency over `storm`.
fn storm_phase(name: &str, port: u16, storm: Duration) -> (f64, f64, f64) {
    runtime().block_on(async {
        let url = format!("http://127.0.0.1:{port}/api/v2/alerts");
        let next = Arc::new(AtomicU64::new(0));
        let s = post_until(&url, &next, move |_, elapsed| elapsed >= storm).await;
        let alerts_per_s = s.alerts as f64 / s.seconds;
        let (p50, p99) = (
            percentile(&s.latencies_ms, 0.5),
            percentile(&s.latencies_ms, 0.99),
        );
        println!(
            "{name}: storm {} alerts in {:.1} s = {alerts_per_s:.0} alerts/s; request p50 {p50:.1} ms, p99 {p99:.1} ms; {} failed requests",
            s.alerts, s.seconds, s.failures
        );
        (alerts_per_s, p50, p99)
    })
}

/// On another fresh server: posts until `fill` alerts are held, waits past `group_wait` (the
/// group's first flush) reading `probe_path` every 100 ms, then reads resident memory and the
/// CPU of 10 idle seconds.
fn fill_phase(name: &str, port: u16, pid: u32, fill: u64, probe_path: &str) -> (f64, f64) {
    runtime().block_on(async {
        let url = format!("http://127.0.0.1:{port}/api/v2/alerts");
        let next = Arc::new(AtomicU64::new(0));
        let f = post_until(&url, &next, move |total, _| total >= fill).await;
        println!(
            "{name}: filled to {} alerts in {:.1} s ({:.0} alerts/s, request p99 {:.1} ms)",
            f.alerts,
            f.seconds,
            f.alerts as f64 / f.seconds.max(1e-9),
            percentile(&f.latencies_ms, 0.99)
        );
        // Through the group's first flush (a million alerts), a read that needs the store
        // (syncwatch's tickets, Alertmanager's silences) every 100 ms: how long others wait.
        let probe = format!("http://127.0.0.1:{port}{probe_path}");
        let client = reqwest::Client::new();
        let until = Instant::now() + GROUP_WAIT + Duration::from_secs(10);
        let mut waits = Vec::new();
        while Instant::now() < until {
            let t = Instant::now();
            let ok = client
                .get(&probe)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            assert!(ok, "{probe} fails during the flush");
            waits.push(t.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        waits.sort_by(f64::total_cmp);
        println!(
            "{name}: through the flush, GET {probe_path} every 100 ms: p50 {:.1} ms, max {:.1} ms",
            percentile(&waits, 0.5),
            waits.last().copied().unwrap_or(f64::NAN)
        );
        let rss = rss_mib(pid);
        let before = cpu_seconds(pid);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let idle_cpu = (cpu_seconds(pid) - before) / 10.0;
        println!(
            "{name}: {rss:.0} MiB resident with {} alerts held; idle CPU {:.1} % of a core",
            f.alerts,
            idle_cpu * 100.0
        );
        (rss, idle_cpu)
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Both phases, each on a fresh server started by `start`.
fn measure<C>(
    name: &str,
    probe_path: &str,
    start: impl Fn(&Path) -> Option<(C, u16, u32)>,
    dir: &Path,
    fill: u64,
    storm: Duration,
) -> Option<Figures> {
    let d = dir.join(format!("{name}-storm"));
    std::fs::create_dir_all(&d).unwrap();
    let (server, port, _) = start(&d)?;
    let (alerts_per_s, p50_ms, p99_ms) = storm_phase(name, port, storm);
    drop(server);
    let d = dir.join(format!("{name}-fill"));
    std::fs::create_dir_all(&d).unwrap();
    let (server, port, pid) = start(&d)?;
    let (rss_mib, idle_cpu) = fill_phase(name, port, pid, fill, probe_path);
    drop(server);
    Some(Figures {
        alerts_per_s,
        p50_ms,
        p99_ms,
        rss_mib,
        idle_cpu,
        held: fill,
    })
}

/// Waits until `GET path` on `port` answers 200.
fn wait_ready(port: u16, path: &str) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("127.0.0.1:{port}{path} never answered");
}

fn start_syncwatch(dir: &Path) -> Option<(Children, u16, u32)> {
    let port = free_port();
    std::fs::write(
        dir.join("alerting.yml"),
        "route:\n  receiver: sink\n  group_by: [alertname]\n  group_wait: 30s\n  group_interval: 5m\nreceivers:\n  - name: sink\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("syncwatch.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\nurl = \"sqlite://data/syncwatch.db\"\n[rules]\nfiles = []\n[alerting]\nconfig = \"alerting.yml\"\n[runbooks]\ndir = \"{}/runbooks\"\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_syncwatch"))
        .current_dir(dir)
        .args(["serve", "--config", "syncwatch.toml"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("syncwatch.log")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let children = Children(vec![child]);
    wait_ready(port, "/readyz");
    Some((children, port, pid))
}

/// `prometheus-alertmanager --version`'s first line, if it is installed.
fn alertmanager_version() -> Option<String> {
    let version = Command::new("prometheus-alertmanager")
        .arg("--version")
        .output()
        .ok()?;
    // Go programs print their version on stdout or stderr, depending on the release.
    let printed = [version.stdout, version.stderr].concat();
    Some(
        String::from_utf8_lossy(&printed)
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
    )
}

fn start_alertmanager(dir: &Path) -> Option<(Children, u16, u32)> {
    let port = free_port();
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route:\n  receiver: sink\n  group_by: [alertname]\n  group_wait: 30s\n  group_interval: 5m\nreceivers:\n  - name: sink\n",
    )
    .unwrap();
    let child = Command::new("prometheus-alertmanager")
        .arg(format!(
            "--config.file={}",
            dir.join("alertmanager.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("am").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("alertmanager.log")).unwrap())
        .spawn()
        .ok()?;
    let pid = child.id();
    let children = Children(vec![child]);
    wait_ready(port, "/-/ready");
    Some((children, port, pid))
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let fill = args.first().copied().unwrap_or(1_000_000);
    let storm = Duration::from_secs(args.get(1).copied().unwrap_or(20));
    let dir = tempfile::tempdir().unwrap();
    let am = match alertmanager_version() {
        Some(version) => {
            println!("peer: {version}");
            measure(
                "alertmanager",
                "/api/v2/silences",
                start_alertmanager,
                dir.path(),
                fill,
                storm,
            )
        }
        None => {
            println!(
                "peer: prometheus-alertmanager not installed (apt-get install prometheus-alertmanager): syncwatch only"
            );
            None
        }
    };
    let sw = measure(
        "syncwatch",
        "/api/v1/tickets",
        start_syncwatch,
        dir.path(),
        fill,
        storm,
    )
    .expect("syncwatch starts");
    if let Some(am) = am {
        println!(
            "ratio syncwatch / alertmanager: alerts/s {:.2} (target >= 3); request p99 {:.2} ({:.1} ms vs {:.1} ms; target <= 50 ms); memory with {} alerts {:.2} ({:.0} MiB vs {:.0} MiB; target <= 0.33); idle CPU {:.1} % vs {:.1} % of a core",
            sw.alerts_per_s / am.alerts_per_s,
            sw.p99_ms / am.p99_ms,
            sw.p99_ms,
            am.p99_ms,
            sw.held,
            sw.rss_mib / am.rss_mib,
            sw.rss_mib,
            am.rss_mib,
            sw.idle_cpu * 100.0,
            am.idle_cpu * 100.0,
        );
        let _ = (sw.p50_ms, am.p50_ms);
    }
}
