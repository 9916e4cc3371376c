//! Scale: 10,000 connections across the five providers, one sync a minute each, against the
//! simulator, on this machine. Prints syncwatch's peak RSS, the schedule lag (how late syncs
//! started after their slot) and how many connections went without a successful sync.
//!
//! Two processes of the release binary: `syncwatch simulate` (the providers) and `syncwatch
//! serve` (measured). The shipped profiles are used with a rate limit sized for the load (the
//! simulator allows it): `requests_per_second = 1000`, `max_concurrent_syncs = 64` per provider.
//! Pipeline: validate → store into SQLite.
//!
//! Run: `cargo bench --bench scale` (or `bench/scale.sh`); `-- CONNECTIONS SECONDS WARMUP`
//! (default 10000, 480 and 240). The first syncs fetch everything (120 records per connection,
//! 1.2 million in all); the figures after WARMUP seconds are the steady state of incremental
//! syncs.

#[path = "support/profile.rs"]
mod profile;
mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Children, free_port};

const PROVIDERS: [&str; 5] = ["tekion", "cdk", "xtime", "mykaarma", "dealerfx"];
const SCHEDULE_SECS: u64 = 60;

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// Resident set size of a process, in bytes.
fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `le` bucket counts of one histogram series.
fn buckets(metrics: &str, name: &str, provider: &str) -> BTreeMap<String, f64> {
    let prefix = format!("{name}_bucket{{provider=\"{provider}\",le=\"");
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, value) = rest.split_once("\"} ")?;
            Some((le.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Sums the providers' buckets, as (upper bound, cumulative count) sorted by bound.
fn lag_buckets(metrics: &str) -> Vec<(f64, f64)> {
    let mut sum: BTreeMap<String, f64> = BTreeMap::new();
    for p in PROVIDERS {
        for (le, v) in buckets(metrics, "syncwatch_sync_schedule_lag_seconds", p) {
            *sum.entry(le).or_default() += v;
        }
    }
    let mut v: Vec<(f64, f64)> = sum
        .into_iter()
        .map(|(le, c)| {
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (bound, c)
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Prometheus' `histogram_quantile` over cumulative buckets.
fn quantile(q: f64, b: &[(f64, f64)]) -> f64 {
    let total = b.last().map_or(0.0, |x| x.1);
    if total == 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(bound, count) in b {
        if count >= rank {
            if bound.is_infinite() {
                return prev.0;
            }
            let within = (rank - prev.1) / (count - prev.1).max(f64::MIN_POSITIVE);
            return prev.0 + (bound - prev.0) * within;
        }
        prev = (bound, count);
    }
    prev.0
}

fn share_within(b: &[(f64, f64)], bound: f64) -> f64 {
    let total = b.last().map_or(0.0, |x| x.1);
    let within = b
        .iter()
        .find(|(le, _)| (*le - bound).abs() < 1e-9)
        .map_or(0.0, |x| x.1);
    if total == 0.0 {
        f64::NAN
    } else {
        within / total
    }
}

/// Connections whose last successful sync is older than `max_age_s` (or that never had one).
fn starved(metrics: &str, connections: usize, now_s: f64, max_age_s: f64) -> (usize, f64) {
    let mut seen = 0;
    let mut stale = 0;
    let mut oldest: f64 = 0.0;
    for l in metrics
        .lines()
        .filter(|l| l.starts_with("syncwatch_sync_last_success_timestamp_seconds{"))
    {
        let Some(v) = l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        seen += 1;
        let age = now_s - v;
        oldest = oldest.max(age);
        if v == 0.0 || age > max_age_s {
            stale += 1;
        }
    }
    (stale + connections.saturating_sub(seen), oldest)
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<u64>().ok());
    let connections = args.next().unwrap_or(10_000) as usize;
    let seconds = args.next().unwrap_or(480);
    let warmup = args.next().unwrap_or(240);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_syncwatch"));
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let (sim_port, port) = (free_port(), free_port());

    let per = connections / PROVIDERS.len();
    let mut config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[storage]\nurl = \"sqlite://{db}\"\n\n[rules]\nfiles = [\"{rules}/*.yml\"]\n\n[alerting]\nconfig = \"{alerting}\"\n\n[runbooks]\ndir = \"{repo}/runbooks\"\n\n[[pipelines]]\nname = \"dms\"\nstages = [\"validate\", \"store\"]\nqueue_capacity = 64\n",
        db = dir.path().join("scale.db").display(),
        alerting = dir.path().join("alerting.yml").display(),
        rules = repo.join("rules").display(),
        repo = repo.display(),
    );
    for (i, p) in PROVIDERS.iter().enumerate() {
        let path = dir.path().join(format!("{p}.toml"));
        std::fs::write(&path, profile::with_rate_limit(&repo, p, 64)).unwrap();
        let conns: Vec<String> = (0..per).map(|c| format!("\"d{i}-{c:05}\"")).collect();
        config.push_str(&format!(
            "\n[[providers]]\nname = \"{p}\"\nprofile = \"{}\"\nbase_url = \"http://127.0.0.1:{sim_port}/{p}\"\nconnections = [{}]\nschedule = \"{SCHEDULE_SECS}s\"\npipeline = \"dms\"\n",
            path.display(),
            conns.join(", ")
        ));
    }
    // Alerts are evaluated and routed, to a receiver that sends nothing.
    std::fs::write(
        dir.path().join("alerting.yml"),
        "route:\n  receiver: quiet\nreceivers:\n  - name: quiet\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("syncwatch.toml"), config).unwrap();
    let log = |name: &str| Stdio::from(std::fs::File::create(dir.path().join(name)).unwrap());
    let sim = Command::new(&bin)
        .args(["simulate", "--listen", &format!("127.0.0.1:{sim_port}")])
        .current_dir(dir.path())
        .stdout(log("simulator.log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("simulator starts");
    let serve = Command::new(&bin)
        .args(["serve", "--config"])
        .arg(dir.path().join("syncwatch.toml"))
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(log("serve.log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("syncwatch starts");
    let pid = serve.id();
    let _children = Children(vec![sim, serve]);
    let started = Instant::now();
    while get(port, "/readyz").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "syncwatch did not start; see {}",
            dir.path().join("serve.log").display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "{connections} connections ({per} per provider), one sync every {SCHEDULE_SECS} s each, {seconds} s"
    );
    let mut peak = 0u64;
    let mut warm: Option<Vec<(f64, f64)>> = None;
    let end = started + Duration::from_secs(seconds);
    let mut next_line = started;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_secs(1));
        let now_rss = rss(pid).unwrap_or(0);
        peak = peak.max(now_rss);
        // A timeline: where the memory goes as the first full syncs give way to incremental ones.
        if Instant::now() >= next_line {
            next_line += Duration::from_secs(30);
            if let Some(m) = get(port, "/metrics") {
                let value = |name: &str| {
                    m.lines()
                        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
                        .unwrap_or(f64::NAN)
                };
                println!(
                    "  t={:>4} s  rss {:>4.0} MiB  rules' series {:>6.0} ({:>4.0} MiB)  syncs {:>7.0}",
                    started.elapsed().as_secs(),
                    now_rss as f64 / 1048576.0,
                    value("syncwatch_series"),
                    value("syncwatch_series_memory_bytes") / 1048576.0,
                    m.lines()
                        .filter(|l| l.starts_with("syncwatch_sync_runs_total{"))
                        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                        .sum::<f64>(),
                );
            }
        }
        if warm.is_none() && started.elapsed() >= Duration::from_secs(warmup) {
            warm = get(port, "/metrics").map(|m| lag_buckets(&m));
        }
    }
    let metrics = get(port, "/metrics").expect("metrics");
    peak = peak.max(rss(pid).unwrap_or(0));
    let all = lag_buckets(&metrics);
    let steady: Vec<(f64, f64)> = match &warm {
        Some(w) => all
            .iter()
            .zip(w)
            .map(|((b, c), (_, c0))| (*b, c - c0))
            .collect(),
        None => all.clone(),
    };
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (stale, oldest) = starved(&metrics, connections, now_s, 2.0 * SCHEDULE_SECS as f64);
    let runs: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("syncwatch_sync_runs_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    println!("syncs: {runs:.0} ({:.1}/s)", runs / seconds as f64);
    println!(
        "rss_peak_bytes {peak} ({:.0} MiB; target ≤ 256 MiB)",
        peak as f64 / 1048576.0
    );
    let after = format!("after the first {warmup} s");
    for (name, b) in [("all", &all), (after.as_str(), &steady)] {
        println!(
            "schedule lag ({name}): {:.0} syncs, p50 {:.3} s, p99 {:.3} s (histogram_quantile), {:.2}% within 1 s (target p99 ≤ 1 s)",
            b.last().map_or(0.0, |x| x.1),
            quantile(0.5, b),
            quantile(0.99, b),
            100.0 * share_within(b, 1.0)
        );
    }
    println!(
        "starved connections (no successful sync in the last {} s): {stale}; oldest last success {oldest:.0} s ago",
        2 * SCHEDULE_SECS
    );
}
