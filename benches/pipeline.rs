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
use syncwatch::pipeline::{RecordBatch, build_pipeline, completion, schema, transform};
use syncwatch::simulator::data::{RECORDS_PER_CONNECTION, records};
use syncwatch::store::Store;
use syncwatch::telemetry::{Metrics, MetricsRegistry};

/// The allocator `serve` runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let total = args.next().unwrap_or(600_000);
    let senders = args.next().unwrap_or(8).max(1);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("p.db").display()))
        .await
        .unwrap();
    let registry = Arc::new(MetricsRegistry::new());
    let metrics = Metrics::new(registry.clone());
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
        schemas_dir: None,
        export_dir: Some(dir.path().join("export")),
        export_s3: None,
        queue_capacity_batches: 16,
        export_buffer_records: 10_000,
        export_buffer_interval: std::time::Duration::from_secs(1),
    };
    let t = transform::parse(Path::new("bench.toml"), TRANSFORM).unwrap();
    let links = build_pipeline(
        &settings,
        RECORDS_PER_CONNECTION as u64,
        Some(Arc::new(t)),
        Some(Arc::new(
            schema::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")).unwrap(),
        )),
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
            done: None,
        })
        .collect();
    let n: usize = batches.iter().map(|b| b.records.len()).sum();
    let mut lanes: Vec<Vec<RecordBatch>> = (0..senders).map(|_| Vec::new()).collect();
    for (i, b) in batches.into_iter().enumerate() {
        lanes[i % senders].push(b);
    }
    let started = Instant::now();
    // When each batch came out of the pipeline (written by the export stage), and its size.
    let finished_at = Arc::new(std::sync::Mutex::new(Vec::new()));
    futures::future::join_all(lanes.into_iter().map(|lane| {
        let entry = entry.clone();
        let finished_at = finished_at.clone();
        async move {
            let mut in_pipeline = Vec::new();
            for mut b in lane {
                let (done, finished) = completion();
                let size = b.records.len();
                b.done = Some(done);
                entry.send(b).await.unwrap();
                let finished_at = finished_at.clone();
                in_pipeline.push(actix::spawn(async move {
                    assert!(finished.wait().await, "a batch was abandoned");
                    finished_at
                        .lock()
                        .unwrap()
                        .push((started.elapsed().as_secs_f64(), size));
                }));
            }
            for f in in_pipeline {
                f.await.unwrap();
            }
        }
    }))
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    // Sustained rate: from the 10th to the 90th percentile of records out, which leaves out
    // the start (empty stages) and the end (the last export buffer waits its interval).
    let mut out = finished_at.lock().unwrap().clone();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    let at = |share: f64| {
        let mut sum = 0;
        out.iter()
            .find(|(_, size)| {
                sum += size;
                sum as f64 >= share * n as f64
            })
            .map_or(elapsed, |(t, _)| *t)
    };
    let sustained = 0.8 * n as f64 / (at(0.9) - at(0.1));
    let stored = store.count_records("bench").await.unwrap();
    let mut exported = 0usize;
    for path in walk(&dir.path().join("export")) {
        exported += std::fs::read_to_string(path).unwrap().lines().count();
    }
    println!(
        "{n} records in batches of {RECORDS_PER_CONNECTION}, {senders} senders: validate → transform → store (SQLite) → export (file://)"
    );
    println!(
        "{sustained:.0} records/s sustained (10th to 90th percentile of records out; target ≥ 100,000/s: {:.2}x)",
        sustained / 100_000.0
    );
    println!(
        "{:.0} records/s first in to last out, {elapsed:.2} s (with the last export buffer's wait)",
        n as f64 / elapsed,
    );
    println!("stored {stored}, exported {exported}");
    // Where the time went: each stage's busy seconds (the slowest bounds the throughput).
    for line in registry.render().lines() {
        if let Some(rest) = line.strip_prefix("syncwatch_stage_duration_seconds_sum") {
            println!("  busy {rest}");
        }
    }
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
