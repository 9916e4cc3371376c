//! `syncwatch rules test`: rule unit tests in the `promtool test rules` format, run on the same
//! evaluator and state machine that `serve` uses.
//!
//! Semantics follow promtool: input series start at time 0, one value per `interval`; every rule
//! group is evaluated at each `evaluation_interval` step up to the largest `eval_time`; an
//! `alert_rule_test` compares the *firing* alerts of the named rule at the evaluation at or just
//! before its `eval_time`; a `promql_expr_test` queries the series (including recorded ones)
//! after all evaluations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;
use serde::Deserialize;

use super::eval::{Value, eval_with_step};
use super::file::{RuleGroup, RuleKind, load_rule_files};
use super::series::{STALE_NAN_BITS, SeriesStore};
use super::state::{EvalContext, GroupState, evaluate_group};
use super::template::TemplateEnv;
use crate::config::{Problem, Problems};
use crate::domain::duration::{format_duration, parse_duration};
use crate::domain::{AlertState, Labels};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    evaluation_interval: Option<String>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    fuzzy_compare: bool,
    #[serde(default)]
    tests: Vec<RawTestGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTestGroup {
    name: Option<String>,
    interval: Option<String>,
    #[serde(default)]
    input_series: Vec<RawSeries>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    external_url: Option<String>,
    #[serde(default)]
    alert_rule_test: Vec<RawAlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<RawExprTest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    series: String,
    values: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertTest {
    eval_time: String,
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<RawExpAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExprTest {
    expr: String,
    eval_time: String,
    #[serde(default)]
    exp_samples: Vec<RawExpSample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpSample {
    #[serde(default)]
    labels: String,
    value: f64,
}

/// One value of an input series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Point {
    Missing,
    Stale,
    Value(f64),
}

/// Expands promtool's series notation: `1+2x3` → 1 3 5 7, `5x2` → 5 5 5, `_x2` → two
/// missing samples, `_`, `stale`, and plain numbers (`Inf`, `-1e3`, `NaN`).
pub fn expand_values(values: &str) -> Result<Vec<Point>, String> {
    let mut out = Vec::new();
    for tok in values.split_whitespace() {
        if tok == "_" {
            out.push(Point::Missing);
        } else if tok == "stale" {
            out.push(Point::Stale);
        } else if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n
                .parse()
                .map_err(|_| format!("bad repetition in {tok:?}"))?;
            out.extend(std::iter::repeat_n(Point::Missing, n));
        } else if let Some((head, n)) = tok
            .rsplit_once('x')
            .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            let n: usize = n
                .parse()
                .map_err(|_| format!("bad repetition in {tok:?}"))?;
            let bytes = head.as_bytes();
            let split = (1..bytes.len())
                .find(|&i| matches!(bytes[i], b'+' | b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
            let (a, b) = match split {
                Some(i) => (
                    parse_number(&head[..i], tok)?,
                    parse_number(&head[i..], tok)?,
                ),
                None => (parse_number(head, tok)?, 0.0),
            };
            // Repeated addition, as Prometheus' series parser does (not `a + k * b`, which
            // rounds differently for steps such as 0.1).
            let mut v = a;
            for _ in 0..=n {
                out.push(Point::Value(v));
                v += b;
            }
        } else {
            out.push(Point::Value(parse_number(tok, tok)?));
        }
    }
    Ok(out)
}

fn parse_number(s: &str, tok: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .map_err(|_| format!("invalid value {tok:?}"))
}

/// Parses `metric{label="value", …}` (or `{…}`, or empty) into name and labels.
pub fn parse_series(s: &str) -> Result<(Option<String>, Labels), String> {
    let t = s.trim();
    if t.is_empty() || t == "{}" {
        return Ok((None, Labels::new()));
    }
    let expr = promql_parser::parser::parse(t).map_err(|e| format!("invalid series {t:?}: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!(
            "invalid series {t:?}: expected metric{{label=\"value\"}}"
        ));
    };
    let mut labels = Labels::new();
    let mut name = vs.name.clone();
    for m in &vs.matchers.matchers {
        if m.op != MatchOp::Equal {
            return Err(format!(
                "invalid series {t:?}: only = matchers describe a series"
            ));
        }
        if m.name == "__name__" {
            name = Some(m.value.clone());
        } else {
            labels.insert(m.name.clone(), m.value.clone());
        }
    }
    Ok((name, labels))
}

/// An evaluation time as promtool prints it (`0m` as `0s`, `90s` as `1m30s`).
fn shown_time(s: &str) -> String {
    parse_duration(s).map_or_else(|_| s.to_string(), format_duration)
}

fn duration(field: &str, s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| format!("{field}: {e}"))
}

/// Whether a sample equals its expectation: NaN only NaN, an infinity only the same infinity,
/// finite values within the relative tolerance (1e-12, or 1e-6 with `fuzzy_compare`). The
/// tolerance is for finite values only: scaled by an infinite magnitude it would be infinite,
/// and `x / 0` would "equal" any expectation.
fn values_equal(a: f64, b: f64, fuzzy: bool) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if !a.is_finite() || !b.is_finite() {
        return false;
    }
    let tolerance = if fuzzy { 1e-6 } else { 1e-12 };
    (a - b).abs() <= tolerance * a.abs().max(b.abs())
}

/// Runs one test file. `Ok(failures)`: empty when every test passed; an expression that does
/// not parse or evaluate is one failure, and the other tests still run.
pub fn run_test_file(path: &Path) -> Result<Vec<String>, Problems> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(path, None, format!("cannot read test file: {e}")))?;
    let raw: RawTestFile =
        serde_norway::from_str(&text).map_err(|e| Problem::from_yaml(path, &text, &e, 0))?;
    let problem = |m: String| Problems::from(Problem::new(path, None, m));
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let patterns: Vec<String> = raw
        .rule_files
        .iter()
        .map(|f| {
            if Path::new(f).is_absolute() {
                f.clone()
            } else {
                base.join(f).display().to_string()
            }
        })
        .collect();
    let mut groups = load_rule_files(&patterns)?;
    let mut ordered = std::collections::HashSet::new();
    if let Some(name) = raw.group_eval_order.iter().find(|n| !ordered.insert(*n)) {
        return Err(problem(format!(
            "group name repeated in evaluation order: {name}"
        )));
    }
    if !raw.group_eval_order.is_empty() {
        let order = |g: &RuleGroup| {
            raw.group_eval_order
                .iter()
                .position(|n| *n == g.name)
                .unwrap_or(usize::MAX)
        };
        groups.sort_by_key(order);
    }
    let eval_interval = raw
        .evaluation_interval
        .as_deref()
        .map_or(Ok(Duration::from_secs(60)), |s| {
            duration("evaluation_interval", s)
        })
        .map_err(problem)?;
    if eval_interval.is_zero() {
        return Err(problem(
            "evaluation_interval: must be greater than 0".into(),
        ));
    }
    let mut failures = Vec::new();
    for (i, tg) in raw.tests.iter().enumerate() {
        let name = tg.name.clone().unwrap_or_default();
        let errors = run_group(tg, &groups, eval_interval, raw.fuzzy_compare)
            .map_err(|m| problem(format!("tests[{i}]: {m}")))?;
        for e in errors {
            failures.push(format!("    name: {name},\n{e}"));
        }
    }
    Ok(failures)
}

fn run_group(
    tg: &RawTestGroup,
    groups: &[RuleGroup],
    eval_interval: Duration,
    fuzzy: bool,
) -> Result<Vec<String>, String> {
    let interval = tg
        .interval
        .as_deref()
        .map_or(Ok(eval_interval), |s| duration("interval", s))?;
    let interval_ms = interval.as_millis() as i64;
    let step_ms = eval_interval.as_millis() as i64;
    let mut store = SeriesStore::new(i64::MAX / 4, 1);
    // The input samples, in time order: as promtool, each evaluation sees those up to its time
    // only (so a negative offset or a later `@` finds nothing beyond it).
    let mut input: Vec<(i64, usize, Labels, f64)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for s in &tg.input_series {
        let (name, labels) = parse_series(&s.series)?;
        let name = name.ok_or_else(|| format!("input series {:?} has no metric name", s.series))?;
        names.push(name);
        for (k, p) in expand_values(&s.values)
            .map_err(|e| format!("input series {:?}: {e}", s.series))?
            .into_iter()
            .enumerate()
        {
            let t = k as i64 * interval_ms;
            match p {
                Point::Missing => {}
                Point::Stale => input.push((
                    t,
                    names.len() - 1,
                    labels.clone(),
                    f64::from_bits(STALE_NAN_BITS),
                )),
                Point::Value(v) => input.push((t, names.len() - 1, labels.clone(), v)),
            }
        }
    }
    input.sort_by_key(|p| p.0);
    let mut loaded = 0;
    let mut load_till = |store: &mut SeriesStore, till: i64| {
        while let Some((t, name, labels, v)) = input.get(loaded)
            && *t <= till
        {
            store.push(&names[*name], labels, *t, *v);
            loaded += 1;
        }
    };
    let mut alert_tests = Vec::new();
    for at in &tg.alert_rule_test {
        alert_tests.push((duration("eval_time", &at.eval_time)?.as_millis() as i64, at));
    }
    alert_tests.sort_by_key(|(t, _)| *t);
    let mut expr_tests = Vec::new();
    for et in &tg.promql_expr_test {
        // An expression that does not parse fails its own test only, as in promtool.
        let expr = super::eval::parse_promql(&et.expr).and_then(|e| {
            super::eval::check_supported(&e)?;
            Ok(e)
        });
        expr_tests.push((
            duration("eval_time", &et.eval_time)?.as_millis() as i64,
            et,
            expr,
        ));
    }
    let max_t = alert_tests
        .iter()
        .map(|(t, _)| *t)
        .chain(expr_tests.iter().map(|(t, _, _)| *t))
        .max()
        .unwrap_or(0);

    let env = TemplateEnv {
        external_labels: tg
            .external_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        external_url: tg.external_url.clone().unwrap_or_default(),
    };
    let no_runbook = |_: &Labels| None;
    let mut states: Vec<GroupState> = groups.iter().map(GroupState::new).collect();
    let mut errors = Vec::new();
    let mut next_alert_test = 0;
    let mut ts = 0;
    while ts <= max_t {
        load_till(&mut store, ts);
        let ctx = EvalContext {
            now_ms: ts,
            step_ms,
            template_env: &env,
            generator_url: "",
            runbook_url: &no_runbook,
        };
        for (g, st) in groups.iter().zip(states.iter_mut()) {
            let outcome = evaluate_group(g, st, &mut store, &ctx);
            if let Some((rule, e)) = outcome.failures.first() {
                return Err(format!(
                    "rule: {rule}, time: {}, err: {e}",
                    format_duration(Duration::from_millis(ts as u64))
                ));
            }
        }
        // Alert tests whose eval_time falls in [ts, ts + interval) are checked against this evaluation.
        while next_alert_test < alert_tests.len() && alert_tests[next_alert_test].0 < ts + step_ms {
            let (t, at) = alert_tests[next_alert_test];
            next_alert_test += 1;
            if t < ts {
                continue;
            }
            if let Some(e) = check_alerts(at, groups, &states) {
                errors.push(e);
            }
        }
        ts += step_ms;
    }
    // Queries see the samples up to the group's last evaluation time.
    load_till(&mut store, max_t);
    for (t, et, expr) in &expr_tests {
        let outcome = match expr {
            Ok(expr) => check_expr(et, expr, &store, *t, step_ms, fuzzy),
            Err(e) => Err(e.clone()),
        };
        match outcome {
            Ok(Some(e)) => errors.push(e),
            Ok(None) => {}
            Err(e) => errors.push(format!(
                "    expr: {:?}, time: {},\n        err: {e}",
                et.expr,
                format_duration(Duration::from_millis(*t as u64))
            )),
        }
    }
    Ok(errors)
}

fn alert_key(labels: &Labels, annotations: &BTreeMap<String, String>) -> String {
    format!("{labels} {annotations:?}")
}

fn check_alerts(at: &RawAlertTest, groups: &[RuleGroup], states: &[GroupState]) -> Option<String> {
    let mut got: Vec<String> = Vec::new();
    for (g, st) in groups.iter().zip(states) {
        for (rule, alerts) in g.rules.iter().zip(&st.alerts) {
            if rule.name != at.alertname || !matches!(rule.kind, RuleKind::Alerting { .. }) {
                continue;
            }
            got.extend(
                alerts
                    .values()
                    .filter(|a| a.state == AlertState::Firing)
                    .map(|a| alert_key(&a.labels, &a.annotations)),
            );
        }
    }
    let mut exp: Vec<String> = at
        .exp_alerts
        .iter()
        .map(|e| {
            let mut labels: Labels = e
                .exp_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.insert("alertname", at.alertname.clone());
            alert_key(&labels, &e.exp_annotations)
        })
        .collect();
    got.sort();
    exp.sort();
    (got != exp).then(|| {
        format!(
            "    alertname: {}, time: {},\n        exp:{exp:#?},\n        got:{got:#?}",
            at.alertname,
            shown_time(&at.eval_time)
        )
    })
}

fn check_expr(
    et: &RawExprTest,
    expr: &Expr,
    store: &SeriesStore,
    t: i64,
    step_ms: i64,
    fuzzy: bool,
) -> Result<Option<String>, String> {
    let got: Vec<(Labels, f64)> = eval_with_step(expr, store, t, step_ms)
        .and_then(Value::into_instant)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|s| (s.labels, s.value))
        .collect();
    let mut exp = Vec::new();
    for s in &et.exp_samples {
        let (name, mut labels) = parse_series(&s.labels)?;
        if let Some(n) = name {
            labels.insert("__name__", n);
        }
        exp.push((labels, s.value));
    }
    let mut got_sorted = got.clone();
    got_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    exp.sort_by(|a, b| a.0.cmp(&b.0));
    let same = got_sorted.len() == exp.len()
        && got_sorted
            .iter()
            .zip(&exp)
            .all(|(g, e)| g.0 == e.0 && values_equal(g.1, e.1, fuzzy));
    let show = |v: &[(Labels, f64)]| {
        v.iter()
            .map(|(l, x)| format!("{l} {x}"))
            .collect::<Vec<_>>()
    };
    Ok((!same).then(|| {
        format!(
            "    expr: {:?}, time: {},\n        exp: {:#?}\n        got: {:#?}",
            et.expr,
            shown_time(&et.eval_time),
            show(&exp),
            show(&got_sorted)
        )
    }))
}

/// Runs every file; prints promtool-style results; returns whether all passed.
pub fn run_files(files: &[PathBuf]) -> bool {
    let mut ok = true;
    for f in files {
        println!("Unit Testing:  {}", f.display());
        match run_test_file(f) {
            Ok(failures) if failures.is_empty() => println!("  SUCCESS\n"),
            Ok(failures) => {
                ok = false;
                println!("  FAILED:");
                for fail in failures {
                    println!("{fail}");
                }
                println!();
            }
            Err(problems) => {
                ok = false;
                println!("  FAILED:\n{problems}\n");
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_promtool_series_notation() {
        let v = |s: &str| expand_values(s).unwrap();
        assert_eq!(v("1+2x3"), [1.0, 3.0, 5.0, 7.0].map(Point::Value));
        assert_eq!(v("5x2"), [5.0, 5.0, 5.0].map(Point::Value));
        assert_eq!(v("10-1x2"), [10.0, 9.0, 8.0].map(Point::Value));
        assert_eq!(v("1e3+1e2x1"), [1000.0, 1100.0].map(Point::Value));
        assert_eq!(v("-1+1x1"), [-1.0, 0.0].map(Point::Value));
        assert_eq!(
            v("_ _x2 stale 3"),
            vec![
                Point::Missing,
                Point::Missing,
                Point::Missing,
                Point::Stale,
                Point::Value(3.0)
            ]
        );
        assert!(matches!(v("Inf")[0], Point::Value(x) if x.is_infinite()));
        assert!(expand_values("1+x").is_err());
    }

    #[test]
    fn parses_series_descriptions() {
        let (name, labels) = parse_series(r#"up{job="api", instance="a:1"}"#).unwrap();
        assert_eq!(name.as_deref(), Some("up"));
        assert_eq!(labels.to_string(), r#"{instance="a:1", job="api"}"#);
        assert_eq!(parse_series("{}").unwrap(), (None, Labels::new()));
        assert!(parse_series(r#"up{job=~"a.*"}"#).is_err());
    }

    fn run(rules: &str, tests: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.yml"), rules).unwrap();
        let path = dir.path().join("t.yml");
        std::fs::write(&path, tests).unwrap();
        run_test_file(&path).unwrap()
    }

    const RULES: &str = r#"groups:
  - name: g
    rules:
      - record: job:errors:rate1m
        expr: sum by (job) (rate(errors_total[1m]))
      - alert: Errors
        expr: job:errors:rate1m > 0
        for: 2m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} errors at {{ $value }}/s"
"#;

    #[test]
    fn passing_alert_and_expression_tests_report_nothing() {
        let tests = r#"rule_files: [r.yml]
evaluation_interval: 1m
tests:
  - interval: 30s
    input_series:
      - series: 'errors_total{job="api", instance="a"}'
        values: '0x3 30+30x20'
    alert_rule_test:
      - eval_time: 3m
        alertname: Errors
      - eval_time: 4m
        alertname: Errors
        exp_alerts:
          - exp_labels: {job: api, severity: page}
            exp_annotations: {summary: "api errors at 1/s"}
    promql_expr_test:
      - expr: job:errors:rate1m
        eval_time: 5m
        exp_samples:
          - labels: 'job:errors:rate1m{job="api"}'
            value: 1
"#;
        assert!(run(RULES, tests).is_empty(), "{:?}", run(RULES, tests));
    }

    /// As promtool: an expression that fails is one failure and the rest still run; a group
    /// named twice in `group_eval_order` is refused.
    #[test]
    fn a_failing_expression_fails_alone_and_a_repeated_group_is_refused() {
        let tests = r#"rule_files: [r.yml]
tests:
  - interval: 1m
    input_series:
      - series: 'x'
        values: '1 2 3'
    promql_expr_test:
      - expr: 'foo('
        eval_time: 0m
      - expr: x
        eval_time: 2m
        exp_samples: [{labels: x, value: 99}]
"#;
        let failures = run(RULES, tests);
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0].contains("expr: \"foo(\", time: 0s,\n        err: "),
            "{}",
            failures[0]
        );
        assert!(
            failures[1].contains("got: [\n    \"{__name__=\\\"x\\\"} 3\""),
            "{}",
            failures[1]
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.yml"), RULES).unwrap();
        let path = dir.path().join("t.yml");
        std::fs::write(
            &path,
            "rule_files: [r.yml]\ngroup_eval_order: [g, g]\ntests: []\n",
        )
        .unwrap();
        let err = run_test_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("group name repeated in evaluation order: g"),
            "{err}"
        );
    }

    #[test]
    fn infinities_and_nan_equal_only_themselves() {
        let inf = f64::INFINITY;
        for fuzzy in [false, true] {
            assert!(!values_equal(inf, 42.0, fuzzy), "+Inf is not 42");
            assert!(!values_equal(42.0, inf, fuzzy));
            assert!(!values_equal(inf, -inf, fuzzy), "+Inf is not -Inf");
            assert!(!values_equal(-inf, f64::MAX, fuzzy));
            assert!(values_equal(inf, inf, fuzzy) && values_equal(-inf, -inf, fuzzy));
            assert!(values_equal(f64::NAN, f64::NAN, fuzzy));
            assert!(!values_equal(f64::NAN, 0.0, fuzzy) && !values_equal(inf, f64::NAN, fuzzy));
            assert!(!values_equal(f64::MAX, -f64::MAX, fuzzy));
        }
        assert!(values_equal(1.0, 1.0 + 1e-13, false));
        assert!(!values_equal(1.0, 1.0 + 1e-9, false));
        assert!(values_equal(1.0, 1.0 + 1e-9, true));
    }

    #[test]
    fn a_division_by_zero_does_not_pass_for_any_expected_value() {
        let tests = r#"rule_files: [r.yml]
tests:
  - name: inf
    interval: 1m
    input_series:
      - series: 'x'
        values: '1 1 1'
    promql_expr_test:
      - expr: x / 0
        eval_time: 1m
        exp_samples:
          - labels: '{}'
            value: 42
      - expr: -x / 0
        eval_time: 1m
        exp_samples:
          - labels: '{}'
            value: .inf
      - expr: x / 0
        eval_time: 1m
        exp_samples:
          - labels: '{}'
            value: .inf
"#;
        let failures = run(RULES, tests);
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(failures[0].contains("expr: \"x / 0\""), "{}", failures[0]);
        assert!(failures[1].contains("expr: \"-x / 0\""), "{}", failures[1]);
    }

    /// Every expected value here is what `promtool test rules` (Prometheus 2.42) computes for
    /// the same file (its `got:`), except that promtool never matches an expected NaN.
    #[test]
    fn edge_values_are_computed_as_prometheus_computes_them() {
        for tests in [KAHAN, EDGES, SAME_BOUND] {
            let failures = run("groups: []\n", tests);
            assert!(failures.is_empty(), "{failures:#?}");
        }
    }

    const KAHAN: &str = r#"rule_files: [r.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'x'
        values: '1 1e100 1 -1e100'
      - series: 'y'
        values: '9.988e307 9.988e307'
    promql_expr_test:
      - expr: sum_over_time(x[3m])
        eval_time: 3m
        exp_samples:
          - labels: '{}'
            value: 2
      - expr: avg_over_time(x[3m])
        eval_time: 3m
        exp_samples:
          - labels: '{}'
            value: -2.4283361152821613e+83
      - expr: avg_over_time(y[1m])
        eval_time: 1m
        exp_samples:
          - labels: '{}'
            value: 9.988e+307
      - expr: avg(y)
        eval_time: 1m
        exp_samples:
          - labels: '{}'
            value: 9.988e+307
"#;

    /// Buckets whose `le` is the same number spelled three ways are one bucket.
    const SAME_BOUND: &str = r#"rule_files: [r.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'h_bucket{le="0.1"}'
        values: '10'
      - series: 'h_bucket{le="0.2"}'
        values: '15'
      - series: 'h_bucket{le="2e-1"}'
        values: '5'
      - series: 'h_bucket{le="2.0e-1"}'
        values: '0'
      - series: 'h_bucket{le="+Inf"}'
        values: '40'
    promql_expr_test:
      - expr: histogram_quantile(0.5, h_bucket)
        eval_time: 0m
        exp_samples: [{labels: '{}', value: 0.2}]
      - expr: histogram_quantile(0.3, h_bucket)
        eval_time: 0m
        exp_samples: [{labels: '{}', value: 0.12000000000000001}]
"#;

    const EDGES: &str = r#"rule_files: [r.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'a{i="1"}'
        values: '0.1 0.1 0.1 0.1'
      - series: 'a{i="2"}'
        values: '0.1 0.1 0.1 0.1'
      - series: 'a{i="3"}'
        values: '0.1 0.1 0.1 0.1'
      - series: 'infy'
        values: '+Inf'
      - series: 'nany'
        values: 'NaN'
      - series: 'q{i="1"}'
        values: 'NaN'
      - series: 'q{i="2"}'
        values: '1'
      - series: 'q{i="3"}'
        values: '2'
    promql_expr_test:
      - expr: stddev_over_time(a{i="1"}[3m])
        eval_time: 3m
        exp_samples: [{labels: '{i="1"}', value: 0}]
      - expr: stdvar(a)
        eval_time: 0m
        exp_samples: [{labels: '{}', value: 0}]
      - expr: stddev_over_time(infy[1m])
        eval_time: 0m
        exp_samples: [{labels: '{}', value: .nan}]
      - expr: stddev_over_time(nany[1m])
        eval_time: 0m
        exp_samples: [{labels: '{}', value: .nan}]
      - expr: stddev(infy)
        eval_time: 0m
        exp_samples: [{labels: '{}', value: 0}]
      - expr: quantile(0, q)
        eval_time: 0m
        exp_samples: [{labels: '{}', value: .nan}]
      - expr: quantile(0.5, q)
        eval_time: 0m
        exp_samples: [{labels: '{}', value: 1}]
      - expr: clamp(q{i="2"}, NaN, 5)
        eval_time: 0m
        exp_samples: [{labels: '{i="2"}', value: .nan}]
      - expr: clamp_min(q{i="2"}, NaN)
        eval_time: 0m
        exp_samples: [{labels: '{i="2"}', value: .nan}]
"#;

    #[test]
    fn wrong_expectations_are_reported_with_exp_and_got() {
        let tests = r#"rule_files: [r.yml]
tests:
  - name: wrong
    interval: 30s
    input_series:
      - series: 'errors_total{job="api"}'
        values: '0x3 30+30x20'
    alert_rule_test:
      - eval_time: 3m
        alertname: Errors
        exp_alerts:
          - exp_labels: {job: api, severity: page}
    promql_expr_test:
      - expr: job:errors:rate1m
        eval_time: 5m
        exp_samples:
          - labels: 'job:errors:rate1m{job="api"}'
            value: 2
"#;
        let failures = run(RULES, tests);
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0].contains("name: wrong")
                && failures[0].contains("alertname: Errors, time: 3m"),
            "{}",
            failures[0]
        );
        assert!(
            failures[1].contains("expr: \"job:errors:rate1m\""),
            "{}",
            failures[1]
        );
    }
}
