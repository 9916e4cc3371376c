//! Prometheus' own PromQL test suite (`../shared/conformance/promqltest/`: the cases of
//! `promql/promqltest/testdata/*.test` in promtool's unit-test format, every expectation checked
//! by promtool 2.42). Each case is loaded and evaluated by syncwatch's evaluator and compared
//! here, not through `syncwatch rules test`'s comparator: the same labels, and values equal as
//! promtool compares them (exactly; NaN equals NaN, which promtool cannot check, so those cases
//! sit apart in `nan/`). A case that disagrees fails the test unless [`ALLOWED`] lists it with
//! the reason; a listed case that agrees fails it too, so the list only shrinks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use syncwatch::domain::Labels;
use syncwatch::domain::duration::parse_duration;
use syncwatch::rules::eval::{Value, check_supported, eval_with_step};
use syncwatch::rules::series::{STALE_NAN_BITS, SeriesStore};
use syncwatch::rules::unittest::{Point, expand_values, parse_series};

use super::helpers::{repo, skip_or_fail};

/// Cases syncwatch answers differently from promtool 2.42, each with its reason.
const ALLOWED: &[(&str, &str)] = &[];

#[derive(Deserialize)]
struct Index {
    cases: Vec<Case>,
    nan_cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    source: String,
    line: u32,
    file: String,
}

#[derive(Deserialize)]
struct CaseFile {
    evaluation_interval: Option<String>,
    tests: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    interval: Option<String>,
    #[serde(default)]
    input_series: Vec<Series>,
    promql_expr_test: Vec<ExprTest>,
}

#[derive(Deserialize)]
struct Series {
    series: String,
    values: String,
}

#[derive(Deserialize)]
struct ExprTest {
    expr: String,
    eval_time: String,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Deserialize)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    value: f64,
}

/// How a case came out.
#[derive(Debug, PartialEq)]
enum Outcome {
    Agrees,
    /// Parsed or evaluated with an error: syncwatch refuses the expression.
    Refused(String),
    /// A different answer: what was expected and what came.
    Differs(String),
}

fn ms(s: &str) -> i64 {
    parse_duration(s)
        .unwrap_or_else(|e| panic!("duration {s:?}: {e}"))
        .as_millis() as i64
}

/// Equal as promtool compares them, except that NaN equals NaN.
fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn show(samples: &[(Labels, f64)]) -> String {
    samples
        .iter()
        .map(|(l, v)| format!("{l} {v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn run_case(path: &Path) -> Outcome {
    let text = std::fs::read_to_string(path).unwrap();
    let file: CaseFile =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let step_ms = ms(file.evaluation_interval.as_deref().unwrap_or("1m"));
    let mut problems = Vec::new();
    for group in &file.tests {
        let interval_ms = group.interval.as_deref().map_or(step_ms, ms);
        // As promtool: the queries see the input samples up to the group's last eval_time.
        let last = group
            .promql_expr_test
            .iter()
            .map(|t| ms(&t.eval_time))
            .max()
            .unwrap_or(0);
        let mut store = SeriesStore::new(i64::MAX / 4, 1);
        for s in &group.input_series {
            let (name, labels) = parse_series(&s.series).unwrap();
            let name = name.expect("input series have names");
            for (k, p) in expand_values(&s.values).unwrap().into_iter().enumerate() {
                let t = k as i64 * interval_ms;
                if t > last {
                    break;
                }
                match p {
                    Point::Missing => {}
                    Point::Stale => store.push(&name, &labels, t, f64::from_bits(STALE_NAN_BITS)),
                    Point::Value(v) => store.push(&name, &labels, t, v),
                }
            }
        }
        for test in &group.promql_expr_test {
            let expr = match syncwatch::rules::eval::parse_promql(&test.expr) {
                Ok(e) => e,
                Err(e) => return Outcome::Refused(format!("parse: {e}")),
            };
            if let Err(e) = check_supported(&expr) {
                return Outcome::Refused(e);
            }
            let mut got: Vec<(Labels, f64)> =
                match eval_with_step(&expr, &store, ms(&test.eval_time), step_ms)
                    .and_then(Value::into_instant)
                {
                    Ok(v) => v.into_iter().map(|s| (s.labels, s.value)).collect(),
                    Err(e) => return Outcome::Refused(format!("evaluation: {e}")),
                };
            let mut exp: Vec<(Labels, f64)> = test
                .exp_samples
                .iter()
                .map(|s| {
                    let (name, mut labels) = parse_series(&s.labels).unwrap();
                    if let Some(n) = name {
                        labels.insert("__name__", n);
                    }
                    (labels, s.value)
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            exp.sort_by(|a, b| a.0.cmp(&b.0));
            let agree = got.len() == exp.len()
                && got
                    .iter()
                    .zip(&exp)
                    .all(|(g, e)| g.0 == e.0 && same_value(g.1, e.1));
            if !agree {
                problems.push(format!(
                    "{} at {}: expected [{}], got [{}]",
                    test.expr,
                    test.eval_time,
                    show(&exp),
                    show(&got)
                ));
            }
        }
    }
    if problems.is_empty() {
        Outcome::Agrees
    } else {
        Outcome::Differs(problems.join("; "))
    }
}

fn corpus() -> Option<PathBuf> {
    let dir = repo().join("../shared/conformance/promqltest");
    dir.join("index.json").is_file().then_some(dir)
}

#[test]
fn prometheus_promql_test_suite_agrees_case_by_case() {
    let Some(dir) = corpus() else {
        return skip_or_fail("the shared conformance corpus is not beside the repository");
    };
    let index: Index =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let cases: Vec<&Case> = index.cases.iter().chain(&index.nan_cases).collect();
    assert!(cases.len() >= 800, "the suite has {} cases", cases.len());
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for case in &cases {
        let outcome = run_case(&dir.join(&case.file));
        let kind = match &outcome {
            Outcome::Agrees => "agree",
            Outcome::Refused(_) => "refused",
            Outcome::Differs(_) => "differ",
        };
        *counts.entry(kind).or_default() += 1;
        let allowed = ALLOWED.iter().find(|(id, _)| *id == case.id);
        let at = format!("{} ({}:{})", case.id, case.source, case.line);
        match (&outcome, allowed) {
            (Outcome::Agrees, None) => {}
            (Outcome::Agrees, Some((_, why))) => {
                wrong.push(format!("{at}: agrees now; remove it from ALLOWED ({why})"))
            }
            (_, Some(_)) => {}
            (Outcome::Refused(e), None) => wrong.push(format!("{at}: refused: {e}")),
            (Outcome::Differs(d), None) => wrong.push(format!("{at}: {d}")),
        }
    }
    eprintln!(
        "PromQL test suite: {} cases: {counts:?}; {} allowed",
        cases.len(),
        ALLOWED.len()
    );
    assert!(
        wrong.is_empty(),
        "{} cases disagree with promtool 2.42:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
