//! Counting each SLO's events minute by minute, from the series the rules engine keeps.
//!
//! When a minute ends, every SLO's queries are evaluated at its end with `{{.window}}` = `1m`,
//! counting exactly ([`eval_counting`]: `increase`, `rate` and `delta` take a counter's change
//! since the minute's start, without extrapolation, so minutes add up to the counters' own
//! totals), and their results split into groups by the SLO's `by` labels:
//! - `events`: the error and total queries' values, summed per group. A query that is a
//!   per-second rate (Sloth's usual `rate(…[{{.window}}])`, with no `increase` or `*_over_time`)
//!   is multiplied by 60, so events are events per minute either way;
//! - `raw`: the error ratio per group is that minute's bad share, the minute one event;
//! - `timeslices`: each group the query returns is one event, bad when a value is not 0.
//!
//! Minutes while syncwatch is not running are not counted (no events, not bad ones).

use std::collections::BTreeMap;

use promql_parser::parser::Expr;

use super::budget::Tally;
use super::spec::{Sli, Slo};
use crate::rules::eval::{LastCounted, Value, eval_counting};
use crate::rules::series::Queryable;
use crate::store::MinuteTally;

const MINUTE_MS: i64 = super::history::MINUTE_MS;
/// Minutes caught up at most after a stall; older ones are left uncounted.
const CATCH_UP: i64 = 10;

#[derive(Debug, Clone)]
enum Queries {
    /// Each query with its scale to events per minute (60 for a per-second rate, else 1).
    Events {
        error: Expr,
        total: Expr,
        error_scale: f64,
        total_scale: f64,
    },
    Raw {
        ratio: Expr,
    },
    Timeslices {
        bad: Expr,
    },
}

#[derive(Debug, Clone)]
struct Compiled {
    id: String,
    by: Vec<String>,
    queries: Queries,
}

/// Tallies minutes as they end.
#[derive(Debug, Clone, Default)]
pub struct SliRecorder {
    slos: Vec<Compiled>,
    /// The start of the next minute to tally.
    next_minute_ms: Option<i64>,
    /// Each counter's value counted last, for a change after a gap in sampling.
    last_counted: LastCounted,
}

impl SliRecorder {
    /// Compiles the SLOs' queries for one-minute windows (they were checked at load; one that
    /// does not compile is left out, logged).
    pub fn new(slos: &[Slo]) -> Self {
        let parse = |id: &str, q: String| match crate::rules::eval::parse_promql(&q) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!(slo = id, error = %e, "SLO query does not compile; SLO not counted");
                None
            }
        };
        let slos = slos
            .iter()
            .filter_map(|s| {
                let mut q = s.sli.queries("1m").into_iter();
                let mut next = || parse(&s.id, q.next().unwrap_or_default());
                let queries = match &s.sli {
                    Sli::Events {
                        error_query,
                        total_query,
                    } => {
                        let scale = |q: &str| if is_per_second(q) { 60.0 } else { 1.0 };
                        Queries::Events {
                            error: next()?,
                            total: next()?,
                            error_scale: scale(error_query),
                            total_scale: scale(total_query),
                        }
                    }
                    Sli::Raw { .. } => Queries::Raw { ratio: next()? },
                    Sli::Timeslices { .. } => Queries::Timeslices { bad: next()? },
                };
                Some(Compiled {
                    id: s.id.clone(),
                    by: s.by.clone(),
                    queries,
                })
            })
            .collect();
        Self {
            slos,
            next_minute_ms: None,
            last_counted: LastCounted::default(),
        }
    }

    /// The expressions evaluated, for the series store to keep what they read.
    pub fn exprs(&self) -> Vec<&Expr> {
        self.slos
            .iter()
            .flat_map(|s| match &s.queries {
                Queries::Events { error, total, .. } => vec![error, total],
                Queries::Raw { ratio } => vec![ratio],
                Queries::Timeslices { bad } => vec![bad],
            })
            .collect()
    }

    /// The minutes (their starts) that have ended by `now_ms` and are not tallied yet. The first
    /// call skips the minute in progress (the series hold only part of it), so no minute is
    /// tallied from a partial view; at most the last ten minutes are caught up after a stall.
    pub fn due(&mut self, now_ms: i64) -> Vec<i64> {
        let current = now_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let next = *self.next_minute_ms.get_or_insert(current + MINUTE_MS);
        let first = next.max(current - CATCH_UP * MINUTE_MS);
        let due: Vec<i64> = (0..)
            .map(|i| first + i * MINUTE_MS)
            .take_while(|m| m + MINUTE_MS <= now_ms)
            .collect();
        if let Some(last) = due.last() {
            self.next_minute_ms = Some(last + MINUTE_MS);
        }
        due
    }

    /// Every SLO group's tally of the minute starting at `minute_ms`, from `series` evaluated
    /// at the minute's end. A query that fails to evaluate leaves its SLO out of the minute.
    pub fn tally(&self, minute_ms: i64, series: &dyn Queryable) -> Vec<MinuteTally> {
        let at = minute_ms + MINUTE_MS;
        let mut out = Vec::new();
        for s in &self.slos {
            let run = |e: &Expr| match eval_counting(e, series, at, &self.last_counted) {
                Ok(v) => Some(v),
                Err(err) => {
                    tracing::warn!(slo = %s.id, error = %err, "SLO query failed; minute not counted");
                    None
                }
            };
            let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
            match &s.queries {
                Queries::Events {
                    error,
                    total,
                    error_scale,
                    total_scale,
                } => {
                    let (Some(error), Some(total)) = (run(error), run(total)) else {
                        continue;
                    };
                    for (g, v) in by_group(&total, &s.by) {
                        groups.entry(g).or_default().total += v * total_scale;
                    }
                    for (g, v) in by_group(&error, &s.by) {
                        groups.entry(g).or_default().bad += v * error_scale;
                    }
                    // Bad events of a group without as many total ones: the queries disagree;
                    // counted as nothing rather than as a ratio above 1.
                    groups.retain(|g, t| {
                        let sound = t.bad <= t.total;
                        if !sound {
                            tracing::warn!(slo = %s.id, group = %g, bad = t.bad, total = t.total, "more bad events than total ones; minute not counted for the group");
                        }
                        sound
                    });
                }
                Queries::Raw { ratio } => {
                    let Some(ratio) = run(ratio) else { continue };
                    // Several series of one group: the worst share.
                    for (g, v) in by_group(&ratio, &s.by) {
                        let t = groups.entry(g).or_default();
                        t.total = 1.0;
                        t.bad = t.bad.max(v.clamp(0.0, 1.0));
                    }
                }
                Queries::Timeslices { bad } => {
                    let Some(bad) = run(bad) else { continue };
                    for (g, v) in by_group(&bad, &s.by) {
                        let t = groups.entry(g).or_default();
                        t.total = 1.0;
                        if v != 0.0 {
                            t.bad = 1.0;
                        }
                    }
                }
            }
            out.extend(
                groups
                    .into_iter()
                    .filter(|(_, t)| t.bad.is_finite() && t.total.is_finite())
                    .map(|(g, t)| (s.id.clone(), g, t)),
            );
        }
        out
    }
}

/// The values of a result, each with its group ([`group_key`]). NaN values are left out.
fn by_group<'a>(v: &'a Value, by: &'a [String]) -> Vec<(String, f64)> {
    match v {
        Value::Scalar(x) if by.is_empty() && !x.is_nan() => vec![(String::new(), *x)],
        Value::Vector(samples) => samples
            .iter()
            .filter(|s| !s.value.is_nan())
            .map(|s| (group_key(by, |l| s.labels.value(l)), s.value))
            .collect(),
        _ => Vec::new(),
    }
}

/// A group's name in the history: its `by` labels and their values as a JSON object with
/// sorted keys, `{"connection":"d1","provider":"cdk"}` (`""` without `by`).
pub fn group_key<'a>(by: &[String], value: impl Fn(&str) -> &'a str) -> String {
    if by.is_empty() {
        return String::new();
    }
    let labels: BTreeMap<&str, &str> = by.iter().map(|l| (l.as_str(), value(l))).collect();
    serde_json::to_string(&labels).unwrap_or_default()
}

/// The labels of a group's name ([`group_key`]); none for `""` or a name that is not one.
pub fn group_labels(key: &str) -> BTreeMap<String, String> {
    serde_json::from_str(key).unwrap_or_default()
}

/// Whether a query's values are per second: it takes a `rate` or `irate` and no function that
/// counts over its range (`increase`, `*_over_time`, `delta`).
fn is_per_second(query: &str) -> bool {
    let has = |f: &str| {
        query.match_indices(f).any(|(i, _)| {
            !query[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && query[i + f.len()..].trim_start().starts_with('(')
        })
    };
    (has("rate") || has("irate"))
        && !has("increase")
        && !has("delta")
        && !query.contains("_over_time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Labels;
    use crate::rules::series::{RetentionPlan, SeriesStore};
    use crate::telemetry::Sample;

    fn slos(text: &str) -> Vec<Slo> {
        super::super::spec::parse_slo_file(std::path::Path::new("x.yml"), text).unwrap()
    }

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            name: name.into(),
            labels: labels.iter().copied().collect::<Labels>(),
            value,
        }
    }

    const FILE: &str = r##"version: prometheus/v1
service: s
slos:
  - name: syncs
    objective: 99
    by: [provider]
    sli:
      events:
        error_query: sum by (provider) (increase(runs_total{status="failure"}[{{.window}}]))
        total_query: sum by (provider) (increase(runs_total[{{.window}}]))
    alerting: {name: SyncBurn}
  - name: fresh
    objective: 99
    by: [provider, connection]
    sli:
      timeslices:
        bad_query: age_seconds > bool 600
    alerting: {name: Stale}
"##;

    #[test]
    fn a_minute_is_tallied_per_group_from_the_series() {
        let rec = SliRecorder::new(&slos(FILE));
        assert_eq!(rec.exprs().len(), 3);
        let mut store = SeriesStore::with_plan(RetentionPlan::keep_all(600_000), 1_000, 10_000);
        // Counters sampled every 10 s through the minute [60 s, 120 s): cdk runs 1 a second
        // with 1 failure in 10, tekion only succeeds; two connections, one stale.
        for i in 0..=12 {
            let t = 60_000 + i * 10_000 - 10_000;
            let n = (i * 10) as f64;
            store.ingest(
                &[
                    sample(
                        "runs_total",
                        &[("provider", "cdk"), ("status", "success")],
                        n * 0.9,
                    ),
                    sample(
                        "runs_total",
                        &[("provider", "cdk"), ("status", "failure")],
                        n * 0.1,
                    ),
                    sample(
                        "runs_total",
                        &[("provider", "tekion"), ("status", "success")],
                        n,
                    ),
                    sample(
                        "age_seconds",
                        &[("provider", "cdk"), ("connection", "d1")],
                        30.0,
                    ),
                    sample(
                        "age_seconds",
                        &[("provider", "cdk"), ("connection", "d2")],
                        900.0,
                    ),
                ],
                t,
            );
        }
        let got = rec.tally(60_000, &store);
        let find = |slo: &str, g: &str| {
            got.iter()
                .find(|(s, grp, _)| s == slo && grp == g)
                .map(|(_, _, t)| *t)
                .unwrap_or_else(|| panic!("{slo} {g} in {got:?}"))
        };
        let cdk = find("s-syncs", r#"{"provider":"cdk"}"#);
        assert!(
            (cdk.total - 60.0).abs() < 1e-9 && (cdk.bad - 6.0).abs() < 1e-9,
            "{cdk:?}"
        );
        let tekion = find("s-syncs", r#"{"provider":"tekion"}"#);
        assert!((tekion.total - 60.0).abs() < 1e-9, "{tekion:?}");
        assert_eq!(tekion.bad, 0.0, "no failure series: no bad events");
        assert_eq!(
            find("s-fresh", r#"{"connection":"d1","provider":"cdk"}"#),
            Tally {
                bad: 0.0,
                total: 1.0
            }
        );
        assert_eq!(
            find("s-fresh", r#"{"connection":"d2","provider":"cdk"}"#),
            Tally {
                bad: 1.0,
                total: 1.0
            }
        );
        assert_eq!(
            group_labels(r#"{"connection":"d2","provider":"cdk"}"#)["provider"],
            "cdk"
        );
    }

    #[test]
    fn minutes_are_due_once_they_end_after_the_one_in_progress() {
        let mut rec = SliRecorder::new(&[]);
        assert!(
            rec.due(90_000).is_empty(),
            "the minute in progress is partial"
        );
        assert!(rec.due(120_000).is_empty(), "and is skipped");
        assert!(rec.due(179_999).is_empty());
        assert_eq!(rec.due(180_000), [120_000]);
        assert!(rec.due(200_000).is_empty());
        assert_eq!(rec.due(301_000), [180_000, 240_000]);
        // After a long stall only the last ten minutes are caught up.
        assert_eq!(rec.due(60 * 60_000 + 5).len(), 10);
    }

    #[test]
    fn rate_queries_are_per_second_and_counting_ones_are_not() {
        assert!(is_per_second("sum(rate(x[{{.window}}]))"));
        assert!(is_per_second("sum(irate (x[5m]))"));
        assert!(!is_per_second("sum(increase(x[5m]))"));
        assert!(!is_per_second("sum(sum_over_time(rate(x[1m])[5m:]))"));
        assert!(
            !is_per_second("sum(x_rate_total)"),
            "a metric named rate is not a rate"
        );
        assert!(!is_per_second("accurate(x)"));
    }
}
