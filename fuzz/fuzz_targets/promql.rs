//! PromQL: any text is parsed, checked for what syncwatch evaluates, and evaluated over a small
//! series store (counters, gauges, a histogram, stale points) at a few times. Parse errors and
//! evaluation errors are answers; a panic, a hang or an abort is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syncwatch::domain::Labels;
use syncwatch::rules::eval::{check_supported, eval};
use syncwatch::rules::series::SeriesStore;

fn store() -> SeriesStore {
    let mut s = SeriesStore::new(3_600_000, 1_000);
    let labels = |pairs: &[(&str, &str)]| -> Labels { pairs.iter().copied().collect() };
    for step in 0..120i64 {
        let t = step * 15_000;
        for p in ["tekion", "cdk"] {
            s.push(
                "syncwatch_sync_runs_total",
                &labels(&[("provider", p), ("status", "failure")]),
                t,
                (step * 3 % 17) as f64,
            );
            s.push(
                "syncwatch_stage_queue_records",
                &labels(&[("pipeline", "dms"), ("stage", p)]),
                t,
                (step % 7) as f64 - 2.5,
            );
            for (le, n) in [("0.1", 1.0), ("1", 4.0), ("+Inf", 9.0)] {
                s.push(
                    "syncwatch_sync_duration_seconds_bucket",
                    &labels(&[("provider", p), ("le", le)]),
                    t,
                    n * step as f64,
                );
            }
        }
    }
    s.mark_stale(
        "syncwatch_stage_queue_records",
        &labels(&[("pipeline", "dms"), ("stage", "cdk")]),
        1_700_000,
    );
    s
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() > 4_096 {
        return;
    }
    let Ok(expr) = promql_parser::parser::parse(text) else {
        return;
    };
    if check_supported(&expr).is_err() {
        return;
    }
    let s = store();
    for t in [0, 600_000, 1_785_000, 3_600_000] {
        let _ = eval(&expr, &s, t);
    }
});
