//! SLOs at scale: the shipped data-freshness SLO (`by: [provider, connection]`) over 10,000
//! dealer connections, with 30 days of history. Prints:
//! - the SLI history on disk (SQLite file, and PostgreSQL's table when it is reachable)
//!   (target ≤ 200 MB);
//! - recording, once a minute: tallying the 10,000 groups from the series and writing their
//!   minute, as CPU time per minute and share of one core (target < 2 %); and the dashboards'
//!   gauges computed from the history once a minute, the same way;
//! - `GET /api/v1/sla` (30 days, every group ranked, the worst 100 answered) served by the
//!   release binary, measured from a client over HTTP on loopback, one request at a time:
//!   p50 / p99 (target p99 ≤ 50 ms); and for reference every group in one answer, `?month=`,
//!   `/api/v1/sla/{slo}` and the monthly report.
//!
//! No peer keeps SLO history on this machine (Sloth and Pyrra delegate to Prometheus), so there
//! is no ratio.
//!
//! Run: `cargo bench --bench sla` (or `bench/sla.sh`); `-- CONNECTIONS DAYS REQUESTS` (default
//! 10000, 30 and 400). Seeding writes the rows with SQL before syncwatch starts.
//! `SLA_BENCH_SLOW=1` prints each list request over 50 ms, with its time.

#[path = "support/seed_slo.rs"]
mod seed_slo;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use seed_slo::{SLO, connection, stale};
use sqlx::Executor;
use support::{Children, free_port};
use syncwatch::domain::Labels;
use syncwatch::rules::series::SeriesStore;
use syncwatch::slo::history::MINUTE_MS;

/// The process's CPU time (user + system) from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux's USER_HZ is 100.
    Duration::from_millis(ticks * 10)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let r = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    ms(sorted[r - 1])
}

/// One GET on a new connection: status and body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Recording at scale: 10,000 connections' series sampled every 15 s; each minute the
/// recorder tallies them, the store writes the minute and the ledger adds it; then the gauges
/// are computed from the ledger, as the running app does. Returns CPU time per minute of
/// (tally, write, ledger, gauges).
async fn recording(
    store: &syncwatch::store::Store,
    catalog: &syncwatch::slo::report::SloCatalog,
    connections: usize,
    now: i64,
    minutes: i64,
) -> (Duration, Duration, Duration, Duration) {
    let start = now / MINUTE_MS * MINUTE_MS;
    let mut ledger = syncwatch::slo::ledger::Ledger::load(store, start)
        .await
        .unwrap();
    let recorder = syncwatch::slo::recorder::SliRecorder::new(&catalog.slos);
    let mut series = SeriesStore::new(10 * MINUTE_MS, 15_000);
    let labels: Vec<Labels> = (0..connections)
        .map(|i| {
            let (p, c) = connection(i);
            [("provider", p), ("connection", c.as_str())]
                .into_iter()
                .collect()
        })
        .collect();
    let [mut tally, mut write, mut kept, mut gauges] = [Duration::ZERO; 4];
    for k in 0..minutes {
        let minute = start + k * MINUTE_MS;
        for s in 0..4 {
            let t = minute + s * 15_000;
            for (i, l) in labels.iter().enumerate() {
                let last_success = if stale(i, minute / MINUTE_MS) {
                    t / 1000 - 3_600
                } else {
                    t / 1000 - 30
                };
                series.push(
                    "syncwatch_sync_last_success_timestamp_seconds",
                    l,
                    t,
                    last_success as f64,
                );
                series.push("syncwatch_sync_schedule_seconds", l, t, 300.0);
            }
        }
        series.push(
            "syncwatch_sync_schedule_seconds",
            &labels[0],
            minute + MINUTE_MS,
            300.0,
        );
        let c0 = cpu_time();
        let tallies = recorder.tally(minute, &series);
        let c1 = cpu_time();
        assert_eq!(tallies.len(), connections, "one tally per connection");
        assert!(
            store
                .record_slo_minute(minute, &tallies, &catalog.timezone)
                .await
                .unwrap()
        );
        let c2 = cpu_time();
        ledger.add_minute(store, minute, &tallies).await.unwrap();
        let c3 = cpu_time();
        let figures = syncwatch::slo::gauges::figures(&ledger, catalog);
        assert_eq!(figures.len(), connections);
        let c4 = cpu_time();
        tally += c1 - c0;
        write += c2 - c1;
        kept += c3 - c2;
        gauges += c4 - c3;
        series.prune(minute + MINUTE_MS);
    }
    let n = minutes as u32;
    (tally / n, write / n, kept / n, gauges / n)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let connections: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let days: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let requests: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(400);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sla.db");
    let url = format!("sqlite://{}", db.display());
    let now = chrono::Utc::now().timestamp_millis();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let path = root.join("slos/syncwatch.yml");
    let slos =
        syncwatch::slo::spec::parse_slo_file(&path, &std::fs::read_to_string(&path).unwrap())
            .unwrap();
    let catalog = syncwatch::slo::report::SloCatalog {
        slos,
        timezone: jiff::tz::TimeZone::UTC,
    };

    println!("SLOs at scale: {connections} connection-level SLO groups, {days} days of history");
    let t = Instant::now();
    rt.block_on(async {
        syncwatch::store::Store::connect(&url).await.unwrap();
        seed_slo::seed(&url, connections, days, now).await;
    });
    eprintln!("seeding took {:.0} s", t.elapsed().as_secs_f64());
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let on_disk: u64 = ["sla.db", "sla.db-wal", "sla.db-shm"]
        .iter()
        .map(|f| size(&dir.path().join(f)))
        .sum();
    println!(
        "SLI history on disk (SQLite, the whole database): {:.1} MB (target ≤ 200 MB)",
        on_disk as f64 / 1e6
    );
    let pg = "postgres://postgres@127.0.0.1:5432/test";
    rt.block_on(async {
        let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(pg)
            .await
        else {
            println!("SLI history on disk (PostgreSQL): not measured, {pg} unreachable");
            return;
        };
        pool.execute("DROP SCHEMA IF EXISTS sla_bench CASCADE; CREATE SCHEMA sla_bench")
            .await
            .unwrap();
        let url = format!("{pg}?options=-c%20search_path%3Dsla_bench");
        syncwatch::store::Store::connect(&url).await.unwrap();
        seed_slo::seed(&url, connections, days, now).await;
        pool.execute("VACUUM ANALYZE sla_bench.slo_history")
            .await
            .unwrap();
        let bytes: i64 =
            sqlx::query_scalar("SELECT pg_total_relation_size('sla_bench.slo_history')")
                .fetch_one(&pool)
                .await
                .unwrap();
        println!(
            "SLI history on disk (PostgreSQL, table and index): {:.1} MB (target ≤ 200 MB)",
            bytes as f64 / 1e6
        );
        pool.execute("DROP SCHEMA sla_bench CASCADE").await.unwrap();
    });

    // Recording, on a copy so the served history stays as seeded.
    let copy = dir.path().join("recording.db");
    std::fs::copy(&db, &copy).unwrap();
    let (tally, write, kept, gauges) = rt.block_on(async {
        let store = syncwatch::store::Store::connect(&format!("sqlite://{}", copy.display()))
            .await
            .unwrap();
        // Across an hour boundary, where the day windows move.
        recording(&store, &catalog, connections, now, 70).await
    });
    let share = |d: Duration| d.as_secs_f64() / 60.0 * 100.0;
    println!(
        "recording a minute of {connections} groups (CPU per minute, mean of 70): tally {:.0} ms + write {:.0} ms + ledger {:.0} ms = {:.0} ms, {:.2} % of one core (target < 2 %)",
        ms(tally),
        ms(write),
        ms(kept),
        ms(tally + write + kept),
        share(tally + write + kept)
    );
    println!(
        "dashboard gauges computed from the ledger, once a minute: {:.0} ms, {:.2} % of one core",
        ms(gauges),
        share(gauges)
    );

    // The API, served by the release binary.
    let port = free_port();
    std::fs::write(
        dir.path().join("syncwatch.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\nurl = \"{url}\"\n[rules]\nfiles = []\n[alerting]\nconfig = \"{}\"\n[runbooks]\ndir = \"{}\"\n[slo]\nfiles = [\"{}\"]\n",
            root.join("alerting.yml").display(),
            root.join("runbooks").display(),
            path.display()
        ),
    )
    .unwrap();
    let bin = root.join("target/release/syncwatch");
    let mut children = Children(Vec::new());
    children.0.push(
        Command::new(&bin)
            .current_dir(dir.path())
            .args(["serve", "--config", "syncwatch.toml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e} (cargo build --release)", bin.display())),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "syncwatch did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Steady state: the ledger loaded and the first gauges (and monthly gauges) computed.
    let (status, _) = get(port, "/api/v1/sla");
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_secs(20));
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    for (name, path, n) in [
        ("GET /api/v1/sla (30d)", "/api/v1/sla".to_string(), requests),
        (
            "GET /api/v1/sla?limit=10000 (every group in one answer)",
            "/api/v1/sla?limit=10000".to_string(),
            40,
        ),
        (
            "GET /api/v1/sla?month=",
            format!("/api/v1/sla?month={month}"),
            20,
        ),
        (
            "GET /api/v1/sla/{slo}?group= (the connection alone: every group read)",
            format!("/api/v1/sla/{SLO}?group=connection=dealer-00042"),
            20,
        ),
        (
            "GET /api/v1/sla/{slo}?group= (provider and connection: one group read)",
            format!(
                "/api/v1/sla/{SLO}?group=provider={},connection=dealer-00042",
                connection(42).0
            ),
            100,
        ),
        (
            "GET /api/v1/sla/report",
            "/api/v1/sla/report?format=csv".to_string(),
            5,
        ),
    ] {
        let (status, body) = get(port, &path);
        assert_eq!(status, 200, "{path}: {body}");
        if name.ends_with("(30d)") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let n = v["total"].as_u64().unwrap_or(0) as usize;
            assert!(n >= connections, "{n} groups ranked");
        }
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let (status, _) = get(port, &path);
            times.push(t.elapsed());
            if std::env::var("SLA_BENCH_SLOW").is_ok() && t.elapsed() > Duration::from_millis(50) {
                eprintln!(
                    "slow: {:.0} ms at {}",
                    ms(t.elapsed()),
                    chrono::Utc::now().format("%H:%M:%S%.3f")
                );
            }
            assert_eq!(status, 200);
            // The 30-day list's requests are spread over more than a minute, so minutes
            // recorded (and the ledger moving) fall among them.
            if name.ends_with("(30d)") {
                std::thread::sleep(Duration::from_millis(150));
            }
        }
        times.sort();
        println!(
            "{name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {n} requests{}",
            pct(&times, 0.5),
            pct(&times, 0.99),
            ms(*times.last().unwrap()),
            if name.ends_with("(30d)") {
                " (target p99 ≤ 50 ms)"
            } else {
                ""
            }
        );
    }
}
