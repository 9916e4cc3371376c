//! The built-in pages at scale: 10,000 dealer connections syncing (against the simulator),
//! 1,000,000 tickets of a year, and 10,000 connection-level SLO groups with 30 days of history,
//! served by the release binary. Each page is requested one at a time on a new connection by a
//! client on loopback; prints its p50 / p99 / max time and its size (targets: p99 ≤ 50 ms,
//! ≤ 150 KB a page).
//!
//! No peer renders these pages on this machine (Alertmanager's UI is a single-page application
//! over its API; Sloth and Pyrra leave SLO pages to Grafana or their own SPA), so there is no
//! ratio.
//!
//! Run: `cargo bench --bench pages` (or `bench/pages.sh`); `-- CONNECTIONS TICKETS REQUESTS`
//! (default 10000, 1000000 and 200). Seeding writes the tickets (3 events each) and the SLO
//! history with SQL before syncwatch starts.

#[path = "support/profile.rs"]
mod profile;
#[path = "support/seed_slo.rs"]
mod seed_slo;
#[path = "support/seed_tickets.rs"]
mod seed_tickets;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use seed_slo::{PROVIDERS, connection};
use support::{Children, free_port};

/// One GET on a new connection, as a browser asks for a page: status and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted durations, in ms.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    let r = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    ms(sorted[r - 1])
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let connections = args.first().copied().unwrap_or(10_000);
    let tickets = args.get(1).copied().unwrap_or(1_000_000);
    let requests = args.get(2).copied().unwrap_or(200);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = repo.join("target/release/syncwatch");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pages.db");
    let url = format!("sqlite://{}", db.display());
    let now = chrono::Utc::now().timestamp_millis();

    println!(
        "Pages at scale: {connections} connections, {tickets} tickets, {connections} SLO groups with 30 days of history"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    rt.block_on(async {
        seed_tickets::seed(&db, tickets, 3, now).await;
        seed_slo::seed(&url, connections, 30, now).await;
    });
    eprintln!("seeding took {:.0} s", t.elapsed().as_secs_f64());

    let (sim_port, port) = (free_port(), free_port());
    let mut config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[storage]\nurl = \"{url}\"\n\n[rules]\nfiles = [\"{repo}/rules/*.yml\"]\n\n[alerting]\nconfig = \"{alerting}\"\n\n[runbooks]\ndir = \"{repo}/runbooks\"\n\n[slo]\nfiles = [\"{repo}/slos/syncwatch.yml\"]\n\n[[pipelines]]\nname = \"dms\"\nstages = [\"validate\", \"store\"]\nqueue_capacity = 64\n",
        alerting = dir.path().join("alerting.yml").display(),
        repo = repo.display(),
    );
    for (p_index, p) in PROVIDERS.iter().enumerate() {
        let path = dir.path().join(format!("{p}.toml"));
        std::fs::write(&path, profile::with_rate_limit(&repo, p, 32)).unwrap();
        // The connections the SLO history names: `connection(i)` puts i on provider i % 5.
        let conns: Vec<String> = (0..connections)
            .filter(|i| i % PROVIDERS.len() == p_index)
            .map(|i| format!("\"{}\"", connection(i).1))
            .collect();
        config.push_str(&format!(
            "\n[[providers]]\nname = \"{p}\"\nprofile = \"{}\"\nbase_url = \"http://127.0.0.1:{sim_port}/{p}\"\nconnections = [{}]\nschedule = \"5m\"\npipeline = \"dms\"\n",
            path.display(),
            conns.join(", ")
        ));
    }
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
        .unwrap_or_else(|e| panic!("{}: {e} (cargo build --release)", bin.display()));
    let serve = Command::new(&bin)
        .args(["serve", "--config"])
        .arg(dir.path().join("syncwatch.toml"))
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(log("serve.log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("syncwatch starts");
    let _children = Children(vec![sim, serve]);
    let started = Instant::now();
    while get(port, "/readyz").is_none_or(|(s, _)| s != 200) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "syncwatch did not start; see {}",
            dir.path().join("serve.log").display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The first syncs of every connection run, alerts fire, the ledger loads.
    std::thread::sleep(Duration::from_secs(60));

    let held = get(port, "/api/v2/alerts").map_or(0, |(_, body)| {
        serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0)
    });
    println!("alerts held by the dispatcher: {held}");
    let (p42, c42) = connection(42);
    let pages = [
        ("overview", "/".to_string()),
        ("SLA, worst 100 of every group", "/sla".to_string()),
        (
            "SLA, filtered by status",
            "/sla?status=breached".to_string(),
        ),
        ("SLA, filtered by text", "/sla?q=dealer-0004".to_string()),
        (
            "an SLO's groups",
            "/sla/syncwatch-data-freshness".to_string(),
        ),
        (
            "one group: burn-down and 12 months",
            format!("/sla/syncwatch-data-freshness?group=provider={p42},connection={c42}"),
        ),
        ("alerts", "/alerts".to_string()),
        ("tickets, newest", "/tickets".to_string()),
        (
            "tickets, open of a provider",
            "/tickets?status=open&provider=cdk".to_string(),
        ),
        ("a ticket", "/tickets/t00000100".to_string()),
        (
            "a provider: 2,000 connections",
            "/providers/cdk".to_string(),
        ),
        ("runbooks, searched", "/runbooks?q=cdk+429".to_string()),
        ("silences", "/silences".to_string()),
    ];
    println!(
        "each page {requests} times, one at a time on new connections (targets: p99 <= 50 ms, <= 150 KB)"
    );
    let mut worst = (0.0, String::new());
    let mut largest = (0, String::new());
    for (name, path) in &pages {
        let mut took = Vec::with_capacity(requests);
        let mut size = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let (status, body) = get(port, path).expect("an answer");
            took.push(t.elapsed());
            assert_eq!(status, 200, "{path}: {body}");
            size = size.max(body.len());
        }
        took.sort();
        let p99 = pct(&took, 0.99);
        println!(
            "  {name:<38} p50 {:>6.1} ms   p99 {:>6.1} ms   max {:>6.1} ms   {:>6.1} KB   {path}",
            pct(&took, 0.5),
            p99,
            ms(*took.last().unwrap()),
            size as f64 / 1024.0
        );
        if p99 > worst.0 {
            worst = (p99, name.to_string());
        }
        if size > largest.0 {
            largest = (size, name.to_string());
        }
    }
    println!(
        "worst p99: {:.1} ms ({}); largest page: {:.1} KB ({})",
        worst.0,
        worst.1,
        largest.0 as f64 / 1024.0,
        largest.1
    );
}
