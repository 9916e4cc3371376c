//! PromQL evaluation over a [`Queryable`] store, with Prometheus' semantics: 5 m lookback,
//! staleness, `rate`/`increase` extrapolation, one-to-one vector matching.
//!
//! [`check_supported`] refuses, at load time, every construct this evaluator does not implement,
//! so an expression is either evaluated as Prometheus would or not loaded at all.

use std::collections::HashMap;
use std::time::Duration;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{
    AggregateExpr, BinaryExpr, Call, Expr, LabelModifier, Offset, VectorMatchCardinality,
    VectorSelector,
};

use super::series::{Points, Queryable, is_stale};
use crate::domain::Labels;

/// How far back an instant selector looks for the latest sample.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

const METRIC_NAME: &str = "__name__";

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels, including `__name__` while the metric name is kept.
    pub labels: Labels,
    pub value: f64,
}

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<Sample>),
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
}

/// Why an evaluation failed (at run time; constructs are checked at load).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(msg.into()))
}

const FUNCTIONS: &[&str] = &[
    "rate",
    "increase",
    "delta",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "abs",
    "time",
];
const AGGREGATIONS: &[&str] = &["sum", "avg", "min", "max", "count"];

/// Refuses constructs the evaluator does not implement, naming them.
pub fn check_supported(expr: &Expr) -> Result<(), String> {
    match expr {
        Expr::NumberLiteral(_) => Ok(()),
        Expr::StringLiteral(_) => Err("string literals are not supported".into()),
        Expr::Paren(p) => check_supported(&p.expr),
        Expr::Unary(u) => check_supported(&u.expr),
        Expr::VectorSelector(vs) => check_selector(vs),
        Expr::MatrixSelector(ms) => check_selector(&ms.vs),
        Expr::Subquery(_) => Err("subqueries are not supported".into()),
        Expr::Extension(_) => Err("extension expressions are not supported".into()),
        Expr::Call(c) => {
            if !FUNCTIONS.contains(&c.func.name) {
                return Err(format!("function {}() is not supported", c.func.name));
            }
            c.args.args.iter().try_for_each(|a| check_supported(a))
        }
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS.contains(&op.as_str()) {
                return Err(format!("aggregation {op} is not supported"));
            }
            check_supported(&a.expr)
        }
        Expr::Binary(b) => {
            let op = b.op.to_string();
            if op == "atan2" {
                return Err("operator atan2 is not supported".into());
            }
            if let Some(m) = &b.modifier
                && matches!(
                    m.card,
                    VectorMatchCardinality::ManyToOne(_) | VectorMatchCardinality::OneToMany(_)
                )
            {
                return Err("group_left/group_right are not supported".into());
            }
            check_supported(&b.lhs)?;
            check_supported(&b.rhs)
        }
    }
}

fn check_selector(vs: &VectorSelector) -> Result<(), String> {
    if vs.at.is_some() {
        return Err("the @ modifier is not supported".into());
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err("'or' inside a selector is not supported".into());
    }
    Ok(())
}

/// The longest range plus offset the expression reads, for the store's retention.
pub fn max_window(expr: &Expr) -> Duration {
    let offset = |vs: &VectorSelector| match vs.offset {
        Some(Offset::Pos(d)) => d,
        _ => Duration::ZERO,
    };
    match expr {
        Expr::VectorSelector(vs) => offset(vs),
        Expr::MatrixSelector(ms) => ms.range + offset(&ms.vs),
        Expr::Paren(p) => max_window(&p.expr),
        Expr::Unary(u) => max_window(&u.expr),
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .map(|a| max_window(a))
            .max()
            .unwrap_or_default(),
        Expr::Aggregate(a) => max_window(&a.expr),
        Expr::Binary(b) => max_window(&b.lhs).max(max_window(&b.rhs)),
        Expr::Subquery(s) => max_window(&s.expr) + s.range,
        _ => Duration::ZERO,
    }
}

/// Evaluates `expr` at time `t` (Unix ms).
pub fn eval(expr: &Expr, store: &dyn Queryable, t: i64) -> Result<Value, EvalError> {
    Evaluator { store, t }.eval(expr)
}

struct Evaluator<'a> {
    store: &'a dyn Queryable,
    t: i64,
}

fn offset_ms(vs: &VectorSelector) -> i64 {
    match vs.offset {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
    }
}

fn matches(m: &Matcher, labels: &Labels, name: &str) -> bool {
    let v = if m.name == METRIC_NAME {
        name
    } else {
        labels.value(&m.name)
    };
    match &m.op {
        MatchOp::Equal => m.value == v,
        MatchOp::NotEqual => m.value != v,
        MatchOp::Re(re) => re.is_match(v),
        MatchOp::NotRe(re) => !re.is_match(v),
    }
}

fn with_name(labels: &Labels, name: &str) -> Labels {
    let mut l = labels.clone();
    l.insert(METRIC_NAME, name);
    l
}

fn drop_name(mut l: Labels) -> Labels {
    l.remove(METRIC_NAME);
    l
}

impl Evaluator<'_> {
    fn eval(&self, expr: &Expr) -> Result<Value, EvalError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(v) => Ok(Value::Vector(
                    v.into_iter()
                        .map(|s| Sample {
                            labels: drop_name(s.labels),
                            value: -s.value,
                        })
                        .collect(),
                )),
                Value::Matrix(_) => err("unary minus on a range vector"),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.instant(vs))),
            Expr::MatrixSelector(ms) => Ok(Value::Matrix(
                self.range(&ms.vs, ms.range.as_millis() as i64),
            )),
            Expr::Call(c) => self.call(c),
            Expr::Aggregate(a) => self.aggregate(a),
            Expr::Binary(b) => self.binary(b),
            other => err(format!("unsupported expression: {other}")),
        }
    }

    fn selected<'s>(&'s self, vs: &VectorSelector) -> Vec<(&'s str, &'s Labels, &'s Points)> {
        self.store
            .series(vs.name.as_deref())
            .into_iter()
            .filter(|(name, labels, _)| {
                vs.matchers
                    .matchers
                    .iter()
                    .all(|m| matches(m, labels, name))
            })
            .collect()
    }

    fn instant(&self, vs: &VectorSelector) -> Vec<Sample> {
        let at = self.t - offset_ms(vs);
        let mut out = Vec::new();
        for (name, labels, points) in self.selected(vs) {
            let idx = points.partition_point(|(t, _)| *t <= at);
            if idx == 0 {
                continue;
            }
            let (t, v) = points[idx - 1];
            if at - t > LOOKBACK_MS || is_stale(v) {
                continue;
            }
            out.push(Sample {
                labels: with_name(labels, name),
                value: v,
            });
        }
        out
    }

    fn range(&self, vs: &VectorSelector, range_ms: i64) -> Vec<(Labels, Vec<(i64, f64)>)> {
        let end = self.t - offset_ms(vs);
        let start = end - range_ms;
        let mut out = Vec::new();
        for (name, labels, points) in self.selected(vs) {
            let from = points.partition_point(|(t, _)| *t <= start);
            let to = points.partition_point(|(t, _)| *t <= end);
            let window: Vec<(i64, f64)> = points[from..to]
                .iter()
                .copied()
                .filter(|(_, v)| !is_stale(*v))
                .collect();
            if !window.is_empty() {
                out.push((with_name(labels, name), window));
            }
        }
        out
    }

    fn call(&self, c: &Call) -> Result<Value, EvalError> {
        let name = c.func.name;
        if name == "time" {
            return Ok(Value::Scalar(self.t as f64 / 1000.0));
        }
        let arg = c
            .args
            .args
            .first()
            .ok_or_else(|| EvalError(format!("{name}() needs an argument")))?;
        if name == "abs" {
            return match self.eval(arg)? {
                Value::Vector(v) => Ok(Value::Vector(
                    v.into_iter()
                        .map(|s| Sample {
                            labels: drop_name(s.labels),
                            value: s.value.abs(),
                        })
                        .collect(),
                )),
                _ => err("abs() expects an instant vector"),
            };
        }
        let Expr::MatrixSelector(ms) = arg.as_ref() else {
            return err(format!("{name}() expects a range vector selector"));
        };
        let range_ms = ms.range.as_millis() as i64;
        let end = self.t - offset_ms(&ms.vs);
        let mut out = Vec::new();
        for (labels, points) in self.range(&ms.vs, range_ms) {
            let value = match name {
                "rate" => extrapolated_delta(&points, end - range_ms, end, true, true),
                "increase" => extrapolated_delta(&points, end - range_ms, end, true, false),
                "delta" => extrapolated_delta(&points, end - range_ms, end, false, false),
                "avg_over_time" => {
                    Some(points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64)
                }
                "min_over_time" => points.iter().map(|p| p.1).reduce(f64::min),
                "max_over_time" => points.iter().map(|p| p.1).reduce(f64::max),
                "sum_over_time" => Some(points.iter().map(|p| p.1).sum()),
                "count_over_time" => Some(points.len() as f64),
                "last_over_time" => points.last().map(|p| p.1),
                other => return err(format!("function {other}() is not supported")),
            };
            if let Some(value) = value {
                // last_over_time keeps the metric name, as Prometheus does.
                let labels = if name == "last_over_time" {
                    labels
                } else {
                    drop_name(labels)
                };
                out.push(Sample { labels, value });
            }
        }
        Ok(Value::Vector(out))
    }

    fn aggregate(&self, a: &AggregateExpr) -> Result<Value, EvalError> {
        let Value::Vector(input) = self.eval(&a.expr)? else {
            return err("aggregation expects an instant vector");
        };
        let op = a.op.to_string();
        // group key -> (labels, values)
        let mut groups: Vec<(Labels, Vec<f64>)> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        for s in input {
            let key = match &a.modifier {
                Some(LabelModifier::Include(l)) => s.labels.keep(&l.labels),
                Some(LabelModifier::Exclude(l)) => drop_name(s.labels.drop_names(&l.labels)),
                None => Labels::new(),
            };
            let i = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push(s.value);
        }
        let out = groups
            .into_iter()
            .map(|(labels, values)| {
                let n = values.len() as f64;
                let value = match op.as_str() {
                    "sum" => values.iter().sum(),
                    "avg" => values.iter().sum::<f64>() / n,
                    "min" => values.iter().copied().fold(f64::NAN, nan_min),
                    "max" => values.iter().copied().fold(f64::NAN, nan_max),
                    _ => n, // count
                };
                Sample { labels, value }
            })
            .collect();
        Ok(Value::Vector(out))
    }

    fn binary(&self, b: &BinaryExpr) -> Result<Value, EvalError> {
        let op = b.op.to_string();
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        match (lhs, rhs) {
            (Value::Scalar(l), Value::Scalar(r)) => {
                let v = apply(&op, l, r)
                    .ok_or_else(|| EvalError(format!("operator {op} on scalars")))?;
                Ok(Value::Scalar(if is_comparison(&op) {
                    bool_value(v)
                } else {
                    v.value
                }))
            }
            (Value::Vector(v), Value::Scalar(s)) => {
                Ok(Value::Vector(vector_scalar(&op, v, s, false, return_bool)?))
            }
            (Value::Scalar(s), Value::Vector(v)) => {
                Ok(Value::Vector(vector_scalar(&op, v, s, true, return_bool)?))
            }
            (Value::Vector(l), Value::Vector(r)) => {
                let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
                if matches!(op.as_str(), "and" | "or" | "unless") {
                    Ok(Value::Vector(set_op(&op, l, r, matching.as_ref())))
                } else {
                    Ok(Value::Vector(vector_vector(
                        &op,
                        l,
                        r,
                        matching.as_ref(),
                        return_bool,
                    )?))
                }
            }
            _ => err(format!("operator {op} cannot take a range vector")),
        }
    }
}

fn nan_min(acc: f64, v: f64) -> f64 {
    if acc.is_nan() || v < acc { v } else { acc }
}

fn nan_max(acc: f64, v: f64) -> f64 {
    if acc.is_nan() || v > acc { v } else { acc }
}

/// The result of one operator application: the value, and for comparisons whether it held.
struct Applied {
    value: f64,
    holds: bool,
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

fn bool_value(a: Applied) -> f64 {
    if a.holds { 1.0 } else { 0.0 }
}

fn apply(op: &str, l: f64, r: f64) -> Option<Applied> {
    let cmp = |holds: bool| Applied { value: l, holds };
    let arith = |value: f64| Applied { value, holds: true };
    Some(match op {
        "+" => arith(l + r),
        "-" => arith(l - r),
        "*" => arith(l * r),
        "/" => arith(l / r),
        "%" => arith(l % r),
        "^" => arith(l.powf(r)),
        "==" => cmp(l == r),
        "!=" => cmp(l != r),
        ">" => cmp(l > r),
        "<" => cmp(l < r),
        ">=" => cmp(l >= r),
        "<=" => cmp(l <= r),
        _ => return None,
    })
}

fn vector_scalar(
    op: &str,
    v: Vec<Sample>,
    s: f64,
    scalar_left: bool,
    return_bool: bool,
) -> Result<Vec<Sample>, EvalError> {
    let mut out = Vec::new();
    for sample in v {
        let (l, r) = if scalar_left {
            (s, sample.value)
        } else {
            (sample.value, s)
        };
        let a = apply(op, l, r)
            .ok_or_else(|| EvalError(format!("operator {op} between vector and scalar")))?;
        if is_comparison(op) {
            if return_bool {
                out.push(Sample {
                    labels: drop_name(sample.labels),
                    value: bool_value(a),
                });
            } else if a.holds {
                // A filter keeps the vector's own value, whichever side it is on.
                out.push(Sample {
                    labels: sample.labels,
                    value: sample.value,
                });
            }
        } else {
            out.push(Sample {
                labels: drop_name(sample.labels),
                value: a.value,
            });
        }
    }
    Ok(out)
}

fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(l)) => labels.keep(&l.labels),
        Some(LabelModifier::Exclude(l)) => drop_name(labels.drop_names(&l.labels)),
        None => drop_name(labels.clone()),
    }
}

fn vector_vector(
    op: &str,
    l: Vec<Sample>,
    r: Vec<Sample>,
    matching: Option<&LabelModifier>,
    return_bool: bool,
) -> Result<Vec<Sample>, EvalError> {
    let mut right: HashMap<Labels, &Sample> = HashMap::new();
    for s in &r {
        if right.insert(signature(&s.labels, matching), s).is_some() {
            return err(format!(
                "found duplicate series for the match group on the right-hand side of {op}; many-to-many matching not allowed"
            ));
        }
    }
    let mut seen_left: HashMap<Labels, ()> = HashMap::new();
    let mut out = Vec::new();
    for ls in l {
        let sig = signature(&ls.labels, matching);
        let Some(rs) = right.get(&sig) else { continue };
        if seen_left.insert(sig, ()).is_some() {
            return err(format!(
                "found duplicate series for the match group on the left-hand side of {op}; many-to-many matching not allowed"
            ));
        }
        let a = apply(op, ls.value, rs.value)
            .ok_or_else(|| EvalError(format!("operator {op} between vectors")))?;
        let comparison = is_comparison(op);
        if comparison && !return_bool && !a.holds {
            continue;
        }
        let mut labels = match matching {
            Some(LabelModifier::Include(names)) => ls.labels.keep(&names.labels),
            Some(LabelModifier::Exclude(names)) => ls.labels.drop_names(&names.labels),
            None => ls.labels.clone(),
        };
        if !comparison || return_bool {
            labels = drop_name(labels);
        }
        let value = if comparison && return_bool {
            bool_value(a)
        } else {
            a.value
        };
        out.push(Sample { labels, value });
    }
    Ok(out)
}

fn set_op(
    op: &str,
    l: Vec<Sample>,
    r: Vec<Sample>,
    matching: Option<&LabelModifier>,
) -> Vec<Sample> {
    let right: std::collections::HashSet<Labels> =
        r.iter().map(|s| signature(&s.labels, matching)).collect();
    match op {
        "and" => l
            .into_iter()
            .filter(|s| right.contains(&signature(&s.labels, matching)))
            .collect(),
        "unless" => l
            .into_iter()
            .filter(|s| !right.contains(&signature(&s.labels, matching)))
            .collect(),
        _ => {
            let left: std::collections::HashSet<Labels> =
                l.iter().map(|s| signature(&s.labels, matching)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|s| !left.contains(&signature(&s.labels, matching))),
            );
            out
        }
    }
}

/// Prometheus' `extrapolatedRate`: the change over the window, extrapolated to its edges.
fn extrapolated_delta(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if is_counter {
        let mut prev = first_v;
        for &(_, v) in &points[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg_step = sampled / (points.len() - 1) as f64;
    if is_counter && result > 0.0 && first_v >= 0.0 {
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_step * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_step / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_step / 2.0
    };
    let mut value = result * (interval / sampled);
    if is_rate {
        value /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::series::SeriesStore;

    fn store() -> SeriesStore {
        let mut s = SeriesStore::new(3_600_000, 1_000);
        let l = |p: &str, c: &str| -> Labels {
            [("provider", p), ("error_class", c)].into_iter().collect()
        };
        // A counter growing by 1 every 15 s, sampled every 15 s, over 10 minutes.
        for i in 0..=40 {
            let t = i * 15_000;
            s.push("failures_total", &l("cdk", "auth"), t, i as f64);
            s.push("failures_total", &l("cdk", "server"), t, 0.0);
            s.push("failures_total", &l("tekion", "auth"), t, (i * 2) as f64);
            s.push(
                "runs_total",
                &[("provider", "cdk")].into_iter().collect(),
                t,
                (i * 4) as f64,
            );
            s.push(
                "runs_total",
                &[("provider", "tekion")].into_iter().collect(),
                t,
                (i * 4) as f64,
            );
        }
        s
    }

    fn run(q: &str, t: i64) -> Value {
        let expr = promql_parser::parser::parse(q).unwrap();
        check_supported(&expr).unwrap();
        eval(&expr, &store(), t).unwrap()
    }

    fn vector(q: &str, t: i64) -> Vec<(String, f64)> {
        let Value::Vector(v) = run(q, t) else {
            panic!("not a vector")
        };
        let mut out: Vec<(String, f64)> = v
            .into_iter()
            .map(|s| (s.labels.to_string(), s.value))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn instant_selector_applies_matchers_and_lookback() {
        let v = vector(
            r#"failures_total{provider="cdk", error_class=~"au.*"}"#,
            600_000,
        );
        assert_eq!(
            v,
            vec![(
                r#"{__name__="failures_total", error_class="auth", provider="cdk"}"#.into(),
                40.0
            )]
        );
        // Past the 5 m lookback nothing is left.
        assert!(vector("failures_total", 600_000 + LOOKBACK_MS + 1).is_empty());
        // offset looks back in time.
        assert_eq!(
            vector(
                r#"failures_total{provider="cdk",error_class="auth"} offset 1m"#,
                600_000
            )[0]
            .1,
            36.0
        );
    }

    #[test]
    fn rate_and_increase_match_prometheus_extrapolation() {
        // 1 per 15 s is 1/15 per second; a 1 m window holds 4 intervals plus extrapolation.
        let r = vector(
            r#"rate(failures_total{provider="cdk",error_class="auth"}[1m])"#,
            600_000,
        );
        assert!((r[0].1 - 1.0 / 15.0).abs() < 1e-9, "{r:?}");
        let i = vector(
            r#"increase(failures_total{provider="cdk",error_class="auth"}[1m])"#,
            600_000,
        );
        assert!((i[0].1 - 4.0).abs() < 1e-9, "{i:?}");
        assert_eq!(i[0].0, r#"{error_class="auth", provider="cdk"}"#);
    }

    #[test]
    fn counter_resets_are_compensated() {
        let mut s = SeriesStore::new(3_600_000, 1_000);
        let l = Labels::new();
        for (i, v) in [10.0, 20.0, 5.0, 15.0].into_iter().enumerate() {
            s.push("c", &l, i as i64 * 10_000, v);
        }
        let expr = promql_parser::parser::parse("increase(c[30s])").unwrap();
        let Value::Vector(v) = eval(&expr, &s, 30_000).unwrap() else {
            panic!()
        };
        // The window (0, 30s] is left-open, so it holds 20, 5, 15: 15 - 20 + 20 (the reset) = 15
        // over 20 s sampled, extrapolated to the 30 s window: 22.5.
        assert!((v[0].value - 22.5).abs() < 1e-9, "{v:?}");
    }

    #[test]
    fn sum_by_and_ratio_with_comparison() {
        let q = r#"sum by (provider) (rate(failures_total[5m])) / sum by (provider) (rate(runs_total[5m])) > 0.3"#;
        let v = vector(q, 600_000);
        assert_eq!(v, vec![(r#"{provider="tekion"}"#.into(), 0.5)]);
        let b = vector(
            r#"sum by (provider) (rate(failures_total[5m])) / sum by (provider) (rate(runs_total[5m])) > bool 0.3"#,
            600_000,
        );
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].1, 0.0);
    }

    #[test]
    fn aggregations_without_and_count() {
        let v = vector("count without (error_class) (failures_total)", 600_000);
        assert_eq!(
            v,
            vec![
                (r#"{provider="cdk"}"#.into(), 2.0),
                (r#"{provider="tekion"}"#.into(), 1.0)
            ]
        );
        let m = vector("max(failures_total)", 600_000);
        assert_eq!(m, vec![("{}".into(), 80.0)]);
    }

    #[test]
    fn set_operators_and_on_matching() {
        let v = vector(
            r#"failures_total{error_class="auth"} and on (provider) runs_total{provider="cdk"}"#,
            600_000,
        );
        assert_eq!(v.len(), 1);
        let u = vector(
            r#"failures_total{error_class="auth"} unless on (provider) runs_total{provider="cdk"}"#,
            600_000,
        );
        assert_eq!(u.len(), 1);
        assert!(u[0].0.contains("tekion"));
    }

    #[test]
    fn stale_samples_hide_the_series() {
        let mut s = SeriesStore::new(3_600_000, 1_000);
        s.push("g", &Labels::new(), 0, 1.0);
        s.mark_stale("g", &Labels::new(), 1_000);
        let expr = promql_parser::parser::parse("g").unwrap();
        assert_eq!(
            eval(&expr, &s, 500).unwrap(),
            Value::Vector(vec![Sample {
                labels: [("__name__", "g")].into_iter().collect(),
                value: 1.0
            }])
        );
        assert_eq!(eval(&expr, &s, 2_000).unwrap(), Value::Vector(vec![]));
    }

    #[test]
    fn unsupported_constructs_are_named() {
        let check =
            |q: &str| check_supported(&promql_parser::parser::parse(q).unwrap()).unwrap_err();
        assert_eq!(
            check("histogram_quantile(0.9, rate(x[5m]))"),
            "function histogram_quantile() is not supported"
        );
        assert_eq!(check("topk(3, x)"), "aggregation topk is not supported");
        assert_eq!(
            check("max_over_time(x[5m:1m])"),
            "subqueries are not supported"
        );
        assert_eq!(
            check("a * on (x) group_left b"),
            "group_left/group_right are not supported"
        );
    }

    #[test]
    fn many_to_many_is_an_error_not_a_guess() {
        let expr =
            promql_parser::parser::parse("failures_total / on (provider) runs_total").unwrap();
        assert!(
            eval(&expr, &store(), 600_000)
                .unwrap_err()
                .0
                .contains("many-to-many")
        );
    }

    #[test]
    fn max_window_includes_offset() {
        let expr = promql_parser::parser::parse("rate(x[5m] offset 1h) > rate(y[10m])").unwrap();
        assert_eq!(max_window(&expr), Duration::from_secs(3900));
    }
}
