//! Rules benchmark (run by `bench/rules.sh`, or `cargo bench --bench rules -- FIXTURES_DIR`).
//!
//! 1. Evaluation: loads FIXTURES_DIR/rules.yml (1,000 rules) and the 10,000 series of
//!    FIXTURES_DIR/target/metrics, sampled every 5 s for 2 minutes (what Prometheus scrapes in the
//!    same run), and times full evaluations of every group.
//! 2. Breach to transition: the real `RulesActor` with those rules and series live; a gauge read by
//!    one rule crosses its threshold, and the time until the alert transition reaches the
//!    dispatcher's mailbox is measured, 200 times each way.
//!
//! Prints `key value` lines that bench/rules.sh reads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix::prelude::*;
use syncwatch::domain::{Labels, SystemClock};
use syncwatch::rules::file::{load_rule_files, parse_rule_file, retention_plan};
use syncwatch::rules::series::SeriesStore;
use syncwatch::rules::state::{EvalContext, GroupState, evaluate_group};
use syncwatch::rules::template::TemplateEnv;
use syncwatch::rules::{AlertTransitions, RulesActor, RulesOptions, RulesStatus};
use syncwatch::telemetry::{Metrics, MetricsRegistry};
use tokio::sync::mpsc;

fn parse_exposition(path: &Path) -> Vec<(String, Labels, f64)> {
    let text = std::fs::read_to_string(path).expect("fixtures: run bench/rules_fixtures.py first");
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("name{labels} value");
        let (name, rest) = series.split_once('{').expect("labels");
        let labels: Labels = rest
            .trim_end_matches('}')
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        out.push((name.to_string(), labels, value.parse().expect("value")));
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn evaluation(dir: &Path, series: &[(String, Labels, f64)]) {
    let groups =
        load_rule_files(&[dir.join("rules.yml").display().to_string()]).expect("rules load");
    let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
    let mut store = SeriesStore::with_plan(retention_plan(&groups, 600_000), 15_000, usize::MAX);
    let step_ms = 5_000;
    let steps = 24;
    for k in 0..=steps {
        for (name, labels, v) in series {
            let value = if name.ends_with("_total") {
                v + (k * 10) as f64
            } else {
                *v
            };
            store.push(name, labels, k * step_ms, value);
        }
    }
    let now = steps * step_ms;
    let env = TemplateEnv::default();
    let no_runbook = |_: &Labels| None;
    let ctx = EvalContext {
        now_ms: now,
        step_ms: 1_000,
        template_env: &env,
        generator_url: "",
        runbook_url: &no_runbook,
    };
    let mut states: Vec<GroupState> = groups.iter().map(GroupState::new).collect();
    let mut times = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        for (g, st) in groups.iter().zip(states.iter_mut()) {
            let out = evaluate_group(g, st, &mut store, &ctx);
            assert!(out.failures.is_empty(), "{:?}", out.failures);
        }
        times.push(started.elapsed());
    }
    times.sort();
    println!("rules {rules}");
    println!("series {}", series.len());
    println!("samples_per_series {}", steps + 1);
    println!(
        "syncwatch_eval_seconds_p50 {:.6}",
        percentile(&times, 0.5).as_secs_f64()
    );
    println!(
        "syncwatch_eval_seconds_p90 {:.6}",
        percentile(&times, 0.9).as_secs_f64()
    );
}

/// Receives the rules actor's transitions and reports when each batch arrived.
struct Collector(mpsc::UnboundedSender<(Instant, usize)>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<AlertTransitions> for Collector {
    type Result = ();

    fn handle(&mut self, msg: AlertTransitions, _: &mut Self::Context) {
        let breach = msg.0.iter().filter(|a| a.name() == "BenchBreach").count();
        if breach > 0 {
            let _ = self.0.send((Instant::now(), breach));
        }
    }
}

const BREACH_RULE: &str = "groups:\n  - name: breach\n    rules:\n      - alert: BenchBreach\n        expr: bench_breach > 0.5\n";

async fn breach(dir: PathBuf, series: Vec<(String, Labels, f64)>) {
    let mut groups =
        load_rule_files(&[dir.join("rules.yml").display().to_string()]).expect("rules load");
    groups.extend(parse_rule_file(Path::new("breach.yml"), BREACH_RULE).expect("breach rule"));
    let registry = Arc::new(MetricsRegistry::new());
    let set = |name: &str, labels: &Labels, v: f64| {
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(k.to_string(), v.to_string()))
            .collect();
        let key = metrics::Key::from_parts(name.to_string(), labels);
        metrics::with_local_recorder(&*registry, || {
            metrics::Recorder::register_gauge(
                &*registry,
                &key,
                &metrics::Metadata::new("bench", metrics::Level::INFO, None),
            )
            .set(v)
        });
    };
    for (name, labels, v) in &series {
        set(name, labels, *v);
    }
    set("bench_breach", &Labels::new(), 0.0);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let collector = Collector(tx).start();
    let actor = RulesActor::new(
        groups,
        Vec::new(),
        registry.live().clone(),
        Arc::new(SystemClock),
        collector.recipient(),
        None,
        Metrics::new(registry.clone()),
        RulesOptions {
            interval: Duration::from_secs(1),
            min_retention: Duration::from_secs(600),
            max_series: 1_000_000,
            generator_url: String::new(),
        },
        Arc::new(|_: &Labels| None),
        Arc::new(RwLock::new(RulesStatus::default())),
    )
    .start();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut latencies = Vec::new();
    for i in 0..400 {
        let value = if i % 2 == 0 { 1.0 } else { 0.0 };
        let started = Instant::now();
        set("bench_breach", &Labels::new(), value);
        let (at, _) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a transition")
            .expect("open");
        latencies.push(at - started);
        // Let the tick-free path settle so each breach is measured on its own.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(actor);
    latencies.sort();
    println!("breach_samples {}", latencies.len());
    println!(
        "breach_to_transition_seconds_p50 {:.6}",
        percentile(&latencies, 0.5).as_secs_f64()
    );
    println!(
        "breach_to_transition_seconds_p99 {:.6}",
        percentile(&latencies, 0.99).as_secs_f64()
    );
    println!(
        "breach_to_transition_seconds_max {:.6}",
        latencies.last().unwrap().as_secs_f64()
    );
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let d = std::env::temp_dir().join("syncwatch-bench-rules");
            let status = std::process::Command::new("python3")
                .arg("bench/rules_fixtures.py")
                .arg(&d)
                .status()
                .expect("python3");
            assert!(status.success());
            d
        });
    let series = parse_exposition(&dir.join("target/metrics"));
    evaluation(&dir, &series);
    let system = actix_rt::System::new();
    system.block_on(breach(dir, series));
}
