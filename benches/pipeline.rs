//! Pipeline: records per second through the four internal stages, validate → transform →
//! store (SQLite, upserts) → export (JSON Lines objects under a `file://` directory), in one
//! process as `serve` runs them (one actor per stage, bounded mailboxes).
//!
//! Records are the simulator's (7 fields, ~200 bytes each), in batches of one connection's
//! stream (120 records), sent by SENDERS concurrent senders (as concurrent syncs would). The
//! target is 100,000 records/s on this 2-core machine. No peer runs this kind of pipeline.
//!
//! Run: `cargo bench --bench pipeline` (or `bench/pipeline.sh`); `-- RECORDS SENDERS` (default
//! 240000 and 8).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use syncwatch::config::{PipelineSettings, StageKind};
use syncwatch::domain::{Clock, SystemClock};
use syncwatch::pipeline::{RecordBatch, build_pipeline, transform};
use syncwatch::simulator::data::{RECORDS_PER_CONNECTION, records};
use syncwatch::store::Store;
use syncwatch::telemetry::{Metrics, MetricsRegistry};

const TRANSFORM: &str = r#"
[[streams]]
name = "*"
steps = [
  { op = "rename", from = "dealer_id", to = "dealer" },
  { op = "cast", field = "amount", to = "number" },
  { op = "date", field = "updated_at", formats = ["rfc3339"] },
]
"#;

#[actix_web::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<usize>().ok());
    let total = args.next().unwrap_or(240_000);
    let senders = args.next().unwrap_or(8).max(1);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("p.db").display()))
        .await
        .unwrap();
    let metrics = Metrics::new(Arc::new(MetricsRegistry::new()));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let settings = PipelineSettings {
        name: "dms".into(),
        stages: vec![
            StageKind::Validate,
            StageKind::Transform,
            StageKind::Store,
            StageKind::Export,
        ],
        transform: None,
        export_dir: Some(dir.path().join("export")),
        queue_capacity_batches: 16,
    };
    let t = transform::parse(Path::new("bench.toml"), TRANSFORM).unwrap();
    let links = build_pipeline(
        &settings,
        RECORDS_PER_CONNECTION as u64,
        Some(Arc::new(t)),
        &store,
        &metrics,
        &clock,
    )
    .unwrap();
    let entry = links[0].1.clone();

    let connections = total.div_ceil(RECORDS_PER_CONNECTION);
    let now = clock.now_ms();
    let batches: Vec<RecordBatch> = (0..connections)
        .map(|c| RecordBatch {
            provider: "bench".into(),
            connection: format!("d{c:06}"),
            stream: "repair_orders".into(),
            records: records("bench", &format!("d{c:06}"), "repair_orders", None, now),
            dlq_ids: Vec::new(),
            ticket: 0,
        })
        .collect();
    let n: usize = batches.iter().map(|b| b.records.len()).sum();
    let mut lanes: Vec<Vec<RecordBatch>> = (0..senders).map(|_| Vec::new()).collect();
    for (i, b) in batches.into_iter().enumerate() {
        lanes[i % senders].push(b);
    }
    let started = Instant::now();
    futures::future::join_all(lanes.into_iter().map(|lane| {
        let entry = entry.clone();
        async move {
            for b in lane {
                entry.send(b).await.unwrap();
            }
        }
    }))
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let stored = store.count_records("bench").await.unwrap();
    let mut exported = 0usize;
    for path in walk(&dir.path().join("export")) {
        exported += std::fs::read_to_string(path).unwrap().lines().count();
    }
    println!(
        "{n} records in batches of {RECORDS_PER_CONNECTION}, {senders} senders: validate → transform → store (SQLite) → export (file://)"
    );
    println!(
        "{:.0} records/s (target ≥ 100,000/s: {:.2}x), {elapsed:.2} s",
        n as f64 / elapsed,
        n as f64 / elapsed / 100_000.0
    );
    println!("stored {stored}, exported {exported}");
    assert_eq!(stored as usize, n, "every record stored once");
    assert_eq!(exported, n, "every record exported");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
