//! Events: how many stage observations `POST /api/v1/events` takes per second, in batches of
//! 1,000, with the shipped rules live (every request changes metrics the pipeline rules read,
//! so they are evaluated as the events arrive).
//!
//! One process of the release binary, `syncwatch serve` (no providers, no simulator), and the
//! load generator in this process: CLIENTS threads, each on one keep-alive loopback connection,
//! posting pre-built bodies of 1,000 events spread over 20 external stages. The target is
//! 250,000 events/s on this 2-core machine, load generator included. There is no peer to
//! measure: Prometheus has no equivalent push endpoint (it scrapes; remote-write is for samples).
//!
//! Run: `cargo bench --bench events` (or `bench/events.sh`); `-- SECONDS CLIENTS` (default 20
//! and 2).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{Children, free_port};

const EVENTS_PER_BATCH: usize = 1_000;
const STAGES: usize = 20;

/// One HTTP/1.1 request on a kept-alive connection; the status and body.
fn request(
    stream: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<(u16, String)> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let s = stream.get_mut();
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut line = String::new();
    stream.read_line(&mut line).ok()?;
    let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut length = 0usize;
    loop {
        line.clear();
        stream.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut buf = vec![0; length];
    stream.read_exact(&mut buf).ok()?;
    Some((status, String::from_utf8_lossy(&buf).into_owned()))
}

fn connect(port: u16) -> Option<BufReader<TcpStream>> {
    let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_nodelay(true).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    Some(BufReader::new(s))
}

/// What a batch's events add up to in `records_in`.
fn records_in(seed: usize) -> u64 {
    (0..EVENTS_PER_BATCH)
        .map(|i| 100 + ((seed * 7 + i * 13) % 100) as u64)
        .sum()
}

/// A batch of events; `seed` varies the numbers.
fn batch(seed: usize) -> Vec<u8> {
    let events: Vec<String> = (0..EVENTS_PER_BATCH)
        .map(|i| {
            let n = (seed * 7 + i * 13) % 100;
            format!(
                r#"{{"pipeline":"dms","stage":"ext-{:02}","records_in":{},"records_out":{},"records_failed":{},"duration_seconds":0.{:03},"iterator_age_seconds":{}.5,"queue_records":{}}}"#,
                i % STAGES,
                100 + n,
                100 + n - n % 3,
                n % 3,
                10 + n,
                n % 10,
                n
            )
        })
        .collect();
    format!(r#"{{"events":[{}]}}"#, events.join(",")).into_bytes()
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<u64>().ok());
    let seconds = args.next().unwrap_or(20);
    let clients = args.next().unwrap_or(2) as usize;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_syncwatch"));
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("alerting.yml"),
        "route:\n  receiver: quiet\nreceivers:\n  - name: quiet\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("syncwatch.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[storage]\nurl = \"sqlite://{db}\"\n\n[rules]\nfiles = [\"{rules}/*.yml\"]\n\n[alerting]\nconfig = \"{alerting}\"\n\n[runbooks]\ndir = \"{repo}/runbooks\"\n\n[[pipelines]]\nname = \"dms\"\nstages = [\"validate\", \"store\"]\n",
            db = dir.path().join("events.db").display(),
            rules = repo.join("rules").display(),
            alerting = dir.path().join("alerting.yml").display(),
            repo = repo.display(),
        ),
    )
    .unwrap();
    let serve = Command::new(&bin)
        .args(["serve", "--config"])
        .arg(dir.path().join("syncwatch.toml"))
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("syncwatch starts");
    let _children = Children(vec![serve]);
    let started = Instant::now();
    loop {
        if let Some(mut c) = connect(port)
            && request(&mut c, "GET", "/readyz", b"").is_some_and(|(s, _)| s == 200)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "syncwatch did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..16).map(batch).collect());
    let body_bytes = bodies[0].len();
    // Every stage once, so the counters exist before the clock starts.
    let mut warm = connect(port).unwrap();
    let (status, text) = request(&mut warm, "POST", "/api/v1/events", &bodies[0]).unwrap();
    assert_eq!(status, 202, "{text}");

    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let records_sent = Arc::new(AtomicU64::new(records_in(0)));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|k| {
            let (stop, accepted, bodies, records_sent) = (
                stop.clone(),
                accepted.clone(),
                bodies.clone(),
                records_sent.clone(),
            );
            std::thread::spawn(move || {
                let mut c = connect(port).expect("connect");
                let mut latencies = Vec::new();
                let mut i = k;
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let (status, text) =
                        request(&mut c, "POST", "/api/v1/events", &bodies[i % bodies.len()])
                            .expect("answer");
                    latencies.push(sent.elapsed());
                    assert_eq!(status, 202, "{text}");
                    accepted.fetch_add(EVENTS_PER_BATCH as u64, Ordering::Relaxed);
                    records_sent.fetch_add(records_in(i % bodies.len()), Ordering::Relaxed);
                    i += clients;
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let elapsed = t0.elapsed().as_secs_f64();
    latencies.sort();
    let n = accepted.load(Ordering::Relaxed);

    // The events arrived as metrics: the stages' received counters add up to what was sent.
    let mut c = connect(port).unwrap();
    let (_, metrics) = request(&mut c, "GET", "/metrics", b"").unwrap();
    let received: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("syncwatch_stage_records_received_total{pipeline=\"dms\",stage=\"ext-")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let evaluations: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("syncwatch_rule_evaluation_duration_seconds_count{group=\"pipelines\"}")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    println!(
        "{clients} clients, batches of {EVENTS_PER_BATCH} events ({body_bytes} bytes), {seconds} s, shipped rules live"
    );
    println!(
        "events accepted: {n} ({:.0} events/s; target ≥ 250,000/s: {:.2}x)",
        n as f64 / elapsed,
        n as f64 / elapsed / 250_000.0
    );
    println!(
        "request latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests)",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        latencies.len()
    );
    let sent = records_sent.load(Ordering::Relaxed);
    println!(
        "records_in sent {sent}, counted by syncwatch across the {STAGES} stages {received:.0}; pipeline rule group evaluated {evaluations:.0} times"
    );
    assert_eq!(received, sent as f64, "every accepted event is counted");
}
