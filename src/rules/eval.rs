//! PromQL evaluation over a [`Queryable`] store, with Prometheus' semantics: 5 m lookback,
//! staleness, `rate`/`increase` extrapolation, vector matching (one-to-one and
//! `group_left`/`group_right`), aggregations, range functions and subqueries.
//!
//! [`check_supported`] refuses, at load time, every construct this evaluator does not implement
//! (the `@` modifier, `limitk`, experimental functions…), so an expression is either evaluated as
//! Prometheus would or not loaded at all.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use promql_parser::label::MatchOp;
use promql_parser::parser::{
    AggregateExpr, AtModifier, BinModifier, BinaryExpr, Call, Expr, LabelModifier, MatrixSelector,
    Offset, SubqueryExpr, VectorMatchCardinality, VectorSelector,
};

use super::go_math;
use super::series::{Points, Queryable, is_stale};
use crate::domain::Labels;

/// How far back an instant selector looks for the latest sample.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;
/// Subquery step when the expression gives none and the caller sets no other.
pub const DEFAULT_STEP_MS: i64 = 60 * 1000;

const METRIC_NAME: &str = "__name__";

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels, including `__name__` while the metric name is kept.
    pub labels: Labels,
    pub value: f64,
}

/// A series of a range vector: labels and samples, oldest first.
pub type Series = (Labels, Vec<(i64, f64)>);

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl Value {
    /// An instant query's answer as Prometheus' `EngineQueryFunc` gives it to rules, templates
    /// and unit tests: a vector as it is, a scalar as one sample without labels. `Err` for a
    /// range vector or a string, in Prometheus' words.
    pub fn into_instant(self) -> Result<Vec<Sample>, EvalError> {
        match self {
            Value::Vector(v) => Ok(v),
            Value::Scalar(value) => Ok(vec![Sample {
                labels: Labels::new(),
                value,
            }]),
            Value::Matrix(_) | Value::String(_) => err("rule result is not a vector or scalar"),
        }
    }
}

/// Why an evaluation failed (at run time; constructs are checked at load).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(msg.into()))
}

/// Functions over instant vectors that map each value and drop the metric name.
const MATH: &[&str] = &[
    "abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn", "sin", "cos", "tan",
    "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg", "rad",
];
/// Functions of a time in seconds (the argument's values, or the evaluation time), in UTC.
const DATE: &[&str] = &[
    "year",
    "month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
];
/// Functions over native histograms; Prometheus 2.42 skips float samples, so over classic
/// buckets they answer an empty vector.
const NATIVE_HISTOGRAM: &[&str] = &["histogram_count", "histogram_sum", "histogram_fraction"];
/// Functions over a range vector.
const RANGE: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "predict_linear",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "absent_over_time",
    "changes",
    "resets",
    "double_exponential_smoothing",
];
const OTHER: &[&str] = &[
    "round",
    "clamp",
    "clamp_min",
    "clamp_max",
    "time",
    "timestamp",
    "vector",
    "scalar",
    "absent",
    "histogram_quantile",
    "label_replace",
    "label_join",
    "sort",
    "sort_desc",
    "pi",
];
const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];

/// Parses PromQL as Prometheus 2.42 reads it: `holt_winters(…)`, 2.42's name for double
/// exponential smoothing, is read as `double_exponential_smoothing(…)` (the parser knows only
/// Prometheus 3's name for the same function). `Err`: the parser's message.
pub fn parse_promql(text: &str) -> Result<Expr, String> {
    const OLD: &str = "holt_winters";
    if !text.contains(OLD) {
        return promql_parser::parser::parse(text);
    }
    // Rename the identifier outside string literals, where followed by `(`.
    let mut out = String::with_capacity(text.len() + 16);
    let mut quote: Option<char> = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    let n = rest[1..].chars().next().map_or(0, char::len_utf8);
                    out.push_str(&rest[..1 + n]);
                    rest = &rest[1 + n..];
                    continue;
                }
                if c == q {
                    quote = None;
                }
            }
            None if matches!(c, '"' | '\'' | '`') => quote = Some(c),
            None if rest.starts_with(OLD)
                && !out.ends_with(|p: char| p.is_alphanumeric() || p == '_' || p == ':')
                && rest[OLD.len()..].trim_start().starts_with('(') =>
            {
                out.push_str("double_exponential_smoothing");
                rest = &rest[OLD.len()..];
                continue;
            }
            None => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    promql_parser::parser::parse(&out)
}

/// Refuses constructs the evaluator does not implement, naming them.
pub fn check_supported(expr: &Expr) -> Result<(), String> {
    match expr {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::Paren(p) => check_supported(&p.expr),
        Expr::Unary(u) => check_supported(&u.expr),
        Expr::VectorSelector(vs) => check_selector(vs),
        Expr::MatrixSelector(ms) => check_selector(&ms.vs),
        Expr::Subquery(s) => {
            check_at(&s.at)?;
            check_supported(&s.expr)
        }
        Expr::Extension(_) => Err("extension expressions are not supported".into()),
        Expr::Call(c) => {
            let n = c.func.name;
            if ![MATH, RANGE, OTHER, DATE, NATIVE_HISTOGRAM]
                .iter()
                .any(|l| l.contains(&n))
            {
                return Err(format!("function {n}() is not supported"));
            }
            if n == "label_replace"
                && let Some(Expr::StringLiteral(re)) = c.args.args.get(4).map(|a| a.as_ref())
            {
                regex::Regex::new(&format!("^(?:{})$", re.val))
                    .map_err(|e| format!("label_replace(): invalid regex {:?}: {e}", re.val))?;
            }
            c.args.args.iter().try_for_each(|a| check_supported(a))
        }
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS.contains(&op.as_str()) {
                return Err(format!("aggregation {op} is not supported"));
            }
            if let Some(p) = &a.param {
                check_supported(p)?;
            }
            check_supported(&a.expr)
        }
        Expr::Binary(b) => {
            if b.modifier
                .as_ref()
                .is_some_and(|m| m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return Err("fill modifiers are not supported".into());
            }
            check_supported(&b.lhs)?;
            check_supported(&b.rhs)
        }
    }
}

/// An `@` time must be a millisecond count that fits an int64 (Prometheus refuses those out of
/// bounds; the parser saturates larger ones, so they are refused here).
fn check_at(at: &Option<AtModifier>) -> Result<(), String> {
    let Some(AtModifier::At(t)) = at else {
        return Ok(());
    };
    let secs = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    if (secs * 1000.0).abs() >= i64::MAX as f64 {
        return Err(format!("timestamp out of bounds for @ modifier: {secs:.6}"));
    }
    Ok(())
}

fn check_selector(vs: &VectorSelector) -> Result<(), String> {
    check_at(&vs.at)?;
    if !vs.matchers.or_matchers.is_empty() {
        return Err("'or' inside a selector is not supported".into());
    }
    Ok(())
}

fn offset_of(o: &Option<Offset>) -> Duration {
    match o {
        Some(Offset::Pos(d)) => *d,
        _ => Duration::ZERO,
    }
}

/// The longest range plus offset the expression reads, for the store's retention.
pub fn max_window(expr: &Expr) -> Duration {
    match expr {
        Expr::VectorSelector(vs) => offset_of(&vs.offset),
        Expr::MatrixSelector(ms) => ms.range + offset_of(&ms.vs.offset),
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
        Expr::Subquery(s) => max_window(&s.expr) + s.range + offset_of(&s.offset),
        _ => Duration::ZERO,
    }
}

/// Every selector of the expression: its metric name (`None` when it selects by other labels
/// only) and how far back it reads, in ms (ranges, offsets and subqueries, plus the lookback).
pub fn selector_windows(expr: &Expr) -> Vec<(Option<String>, i64)> {
    fn name_of(vs: &VectorSelector) -> Option<String> {
        vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
                .map(|m| m.value.clone())
        })
    }
    fn walk(e: &Expr, outer_ms: i64, out: &mut Vec<(Option<String>, i64)>) {
        match e {
            Expr::VectorSelector(vs) => out.push((
                name_of(vs),
                outer_ms + offset_ms(&vs.offset).max(0) + LOOKBACK_MS,
            )),
            Expr::MatrixSelector(ms) => out.push((
                name_of(&ms.vs),
                outer_ms
                    + offset_ms(&ms.vs.offset).max(0)
                    + ms.range.as_millis() as i64
                    + LOOKBACK_MS,
            )),
            Expr::Subquery(s) => walk(
                &s.expr,
                outer_ms + offset_ms(&s.offset).max(0) + s.range.as_millis() as i64,
                out,
            ),
            Expr::Paren(p) => walk(&p.expr, outer_ms, out),
            Expr::Unary(u) => walk(&u.expr, outer_ms, out),
            Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, outer_ms, out)),
            Expr::Aggregate(a) => {
                walk(&a.expr, outer_ms, out);
                if let Some(p) = &a.param {
                    walk(p, outer_ms, out);
                }
            }
            Expr::Binary(b) => {
                walk(&b.lhs, outer_ms, out);
                walk(&b.rhs, outer_ms, out);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(expr, 0, &mut out);
    out
}

/// Evaluates `expr` at time `t` (Unix ms).
pub fn eval(expr: &Expr, store: &dyn Queryable, t: i64) -> Result<Value, EvalError> {
    eval_with_step(expr, store, t, DEFAULT_STEP_MS)
}

/// Evaluates with the subquery step used when a subquery names none (the evaluation interval).
pub fn eval_with_step(
    expr: &Expr,
    store: &dyn Queryable,
    t: i64,
    default_step_ms: i64,
) -> Result<Value, EvalError> {
    Evaluator {
        store,
        t,
        query_t: t,
        default_step_ms: default_step_ms.max(1),
        counting: None,
    }
    .eval(expr)
}

/// The last sample counted of each series, `(time, value)` by its labels' fingerprint (name
/// included), kept by the caller of [`eval_counting`] from one evaluation to the next.
pub type LastCounted = std::cell::RefCell<std::collections::HashMap<u64, (i64, f64)>>;

/// Evaluates `expr` at `t` counting exactly, for the SLI history: `increase`, `rate` and
/// `delta` over a plain range selector take the change from the series' last sample at or
/// before the range's start to its last sample in it, without Prometheus' extrapolation to the
/// range's edges. When the store holds no sample before the range (after a gap in sampling),
/// the change starts from the sample `last` counted before the range; a series never counted
/// before it starts from 0 (a counter created inside the range). Over consecutive ranges the changes add
/// up to the counter's own change, so minutes sum to exact totals. Everything else evaluates as
/// [`eval`] does.
pub fn eval_counting(
    expr: &Expr,
    store: &dyn Queryable,
    t: i64,
    last: &LastCounted,
) -> Result<Value, EvalError> {
    Evaluator {
        store,
        t,
        query_t: t,
        default_step_ms: DEFAULT_STEP_MS,
        counting: Some(last),
    }
    .eval(expr)
}

/// The most steps one subquery evaluates (`x[30d:5s]` is 518,400): a bound on the work one
/// expression can ask for, where Prometheus bounds the samples a query loads.
const MAX_SUBQUERY_STEPS: i64 = 1_000_000;

/// How far before a range counting looks for the sample its change starts from: a live series
/// is sampled at least every heartbeat (15 s), so a minute is plenty.
const COUNTING_LOOKBACK_MS: i64 = 60_000;

struct Evaluator<'a> {
    store: &'a dyn Queryable,
    t: i64,
    /// The time the whole query is evaluated at: what `@ start()` and `@ end()` name (an
    /// instant query's start and end).
    query_t: i64,
    default_step_ms: i64,
    /// [`eval_counting`]'s exact changes instead of extrapolated ones, and what was counted.
    counting: Option<&'a LastCounted>,
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
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

/// The labels `absent()` reports: the selector's equality matchers, minus repeated names.
fn absent_labels(expr: &Expr) -> Labels {
    let vs = match expr {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::new(),
    };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for m in &vs.matchers.matchers {
        *seen.entry(m.name.as_str()).or_default() += 1;
    }
    vs.matchers
        .matchers
        .iter()
        .filter(|m| m.name != METRIC_NAME && m.op == MatchOp::Equal && seen[m.name.as_str()] == 1)
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect()
}

/// Prometheus' `quantile`: linear interpolation between the closest ranks.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaN first, as Prometheus' `vectorByValueHeap` orders values.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - lower;
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Population variance of the `stdvar`/`stddev` aggregations by Welford's online algorithm, as
/// Prometheus 2.42 computes it: from the first value (so one sample gives 0, whatever it is);
/// identical values give exactly 0, where a two-pass sum can leave 1e-35.
fn variance(values: &[f64]) -> f64 {
    let (mut count, mut mean, mut aux) = (0.0, 0.0, 0.0);
    for (i, &v) in values.iter().enumerate() {
        // The aggregation starts from its first value.
        if i == 0 {
            (count, mean) = (1.0, v);
            continue;
        }
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        aux += delta * (v - mean);
    }
    aux / count
}

/// `stdvar_over_time` as Prometheus 2.42 computes it: Welford's algorithm with the mean and the
/// sum of squares each kept compensated (Kahan-Babuska), from a mean of 0 (so one infinite or
/// NaN sample gives NaN).
fn variance_over_time(values: &[f64]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &v in values {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Whether an infinite running mean stays as it is when `v` comes (Prometheus 2.42): an
/// infinity of the same sign, or any finite value, cannot change it, and subtracting the mean
/// from itself would turn it into NaN.
fn keeps_infinite_mean(mean: f64, v: f64) -> bool {
    mean.is_infinite()
        && ((v.is_infinite() && (mean > 0.0) == (v > 0.0)) || (!v.is_infinite() && !v.is_nan()))
}

/// `avg` as Prometheus 2.42 aggregates it: an incremental mean, each step divided before it
/// is subtracted so that large values do not overflow, and an infinite mean kept once reached
/// (unless a NaN or the opposite infinity comes).
fn go_avg(values: &[f64]) -> f64 {
    let Some((&first, rest)) = values.split_first() else {
        return f64::NAN;
    };
    let mut mean = first;
    let mut count = 1.0;
    for &v in rest {
        count += 1.0;
        if keeps_infinite_mean(mean, v) {
            continue;
        }
        mean += v / count - mean / count;
    }
    mean
}

/// Prometheus 2.42's `holt_winters` (Prometheus 3's `double_exponential_smoothing`): the
/// smoothed value after the last sample, with smoothing factor `sf` and trend factor `tf`;
/// `None` under two samples.
fn holt_winters(v: &[f64], sf: f64, tf: f64) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, v[0]);
    let mut trend = v[1] - v[0];
    for (i, &x) in v.iter().enumerate().skip(1) {
        let scaled = sf * x;
        if i > 1 {
            trend = tf * (s1 - s0) + (1.0 - tf) * trend;
        }
        let smoothed = (1.0 - sf) * (s1 + trend);
        (s0, s1) = (s1, scaled + smoothed);
    }
    Some(s1)
}

/// Least-squares slope and intercept at `intercept_ms`, as Prometheus' `linearRegression`.
fn linear_regression(points: &[(i64, f64)], intercept_ms: i64) -> (f64, f64) {
    let first = points[0].1;
    if points.iter().all(|p| p.1 == first) {
        return (0.0, first);
    }
    let n = points.len() as f64;
    let (mut sx, mut sy, mut sxy, mut sx2) = (0.0, 0.0, 0.0, 0.0);
    for &(t, v) in points {
        let x = (t - intercept_ms) as f64 / 1000.0;
        sx += x;
        sy += v;
        sxy += x * v;
        sx2 += x * x;
    }
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Prometheus' classic-histogram `bucketQuantile`.
pub fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Buckets with the same bound spelled differently (`le="0.2"`, `le="2e-1"`) are one bucket:
    // their counts add up (Prometheus' `coalesceBuckets`).
    let mut n = 0;
    for i in 0..buckets.len() {
        if n > 0 && buckets[n - 1].0 == buckets[i].0 {
            buckets[n - 1].1 += buckets[i].1;
        } else {
            buckets[n] = buckets[i];
            n += 1;
        }
    }
    let buckets = &mut buckets[..n];
    if buckets.len() < 2 {
        return f64::NAN;
    }
    // Counts must not decrease; fix what scrapes at different times can produce.
    let mut max = f64::NEG_INFINITY;
    for b in buckets.iter_mut() {
        if b.1 < max {
            b.1 = max;
        }
        max = b.1;
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = buckets
        .iter()
        .position(|x| x.1 >= rank)
        .unwrap_or(buckets.len() - 1);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (start, end) = (if b == 0 { 0.0 } else { buckets[b - 1].0 }, buckets[b].0);
    let mut count = buckets[b].1;
    if b > 0 {
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` (count_values labels).
fn format_float(v: f64) -> String {
    crate::rules::template::format_value(v)
}

impl Evaluator<'_> {
    fn at(&self, t: i64) -> Evaluator<'_> {
        Evaluator {
            store: self.store,
            t,
            query_t: self.query_t,
            default_step_ms: self.default_step_ms,
            counting: self.counting,
        }
    }

    /// The time a selector or subquery reads at: its `@` time (or the evaluation time), less
    /// its offset.
    fn anchor(&self, at: &Option<AtModifier>, offset: &Option<Offset>) -> i64 {
        let base = match at {
            None => self.t,
            Some(AtModifier::Start | AtModifier::End) => self.query_t,
            Some(AtModifier::At(time)) => match time.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_millis() as i64,
                Err(e) => -(e.duration().as_millis() as i64),
            },
        };
        base.saturating_sub(offset_ms(offset))
    }

    fn eval(&self, expr: &Expr) -> Result<Value, EvalError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
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
                _ => err("unary minus needs a scalar or an instant vector"),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(
                self.instant(vs).into_iter().map(|(s, _)| s).collect(),
            )),
            Expr::MatrixSelector(ms) => Ok(Value::Matrix(
                self.range(&ms.vs, ms.range.as_millis() as i64),
            )),
            Expr::Subquery(sq) => Ok(Value::Matrix(self.subquery(sq)?.0)),
            Expr::Call(c) => self.call(c),
            Expr::Aggregate(a) => self.aggregate(a),
            Expr::Binary(b) => self.binary(b),
            Expr::Extension(_) => err("extension expressions are not supported"),
        }
    }

    fn scalar(&self, expr: &Expr) -> Result<f64, EvalError> {
        match self.eval(expr)? {
            Value::Scalar(v) => Ok(v),
            _ => err(format!("expected a scalar, got {expr}")),
        }
    }

    fn string(&self, expr: &Expr) -> Result<String, EvalError> {
        match self.eval(expr)? {
            Value::String(s) => Ok(s),
            _ => err(format!("expected a string, got {expr}")),
        }
    }

    fn vector(&self, expr: &Expr) -> Result<Vec<Sample>, EvalError> {
        match self.eval(expr)? {
            Value::Vector(v) => Ok(v),
            _ => err(format!("expected an instant vector, got {expr}")),
        }
    }

    fn selected<'s>(&'s self, vs: &VectorSelector) -> Vec<(&'s str, &'s Labels, &'s Points)> {
        self.store.select(vs.name.as_deref(), &vs.matchers.matchers)
    }

    /// The instant vector of a selector, with each sample's timestamp.
    fn instant(&self, vs: &VectorSelector) -> Vec<(Sample, i64)> {
        let at = self.anchor(&vs.at, &vs.offset);
        let mut out = Vec::new();
        for (name, labels, points) in self.selected(vs) {
            let idx = points.partition_point(|(t, _)| *t <= at);
            if idx == 0 {
                continue;
            }
            let (t, v) = points[idx - 1];
            if at.saturating_sub(t) > LOOKBACK_MS || is_stale(v) {
                continue;
            }
            out.push((
                Sample {
                    labels: with_name(labels, name),
                    value: v,
                },
                t,
            ));
        }
        out
    }

    fn range(&self, vs: &VectorSelector, range_ms: i64) -> Vec<Series> {
        let end = self.anchor(&vs.at, &vs.offset);
        let start = end.saturating_sub(range_ms);
        let mut out = Vec::new();
        for (name, labels, points) in self.selected(vs) {
            // [start, end], closed at both ends, as Prometheus 2.x (the promtool this is checked against).
            let from = points.partition_point(|(t, _)| *t < start);
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

    /// [`eval_counting`]'s `increase`, `rate` or `delta` of a range selector.
    fn counted_change(&self, name: &str, ms: &MatrixSelector, last: &LastCounted) -> Value {
        let range = ms.range.as_millis() as i64;
        let start = self.anchor(&ms.vs.at, &ms.vs.offset).saturating_sub(range);
        let counter = name != "delta";
        let mut out = Vec::new();
        let mut last = last.borrow_mut();
        for (labels, points) in self.range(&ms.vs, range + COUNTING_LOOKBACK_MS) {
            let key = labels.fingerprint().0;
            let split = points.partition_point(|(t, _)| *t <= start);
            let inside = &points[split..];
            let base = match (split.checked_sub(1).map(|i| points[i].1), inside.first()) {
                (Some(v), _) => v,
                (None, Some(first)) => match last.get(&key).filter(|(t, _)| *t <= start) {
                    Some((_, v)) => *v,
                    None if counter => 0.0,
                    None => first.1,
                },
                (None, None) => continue,
            };
            if let Some(&(t, v)) = inside.last() {
                last.insert(key, (t, v));
            }
            let mut change = inside.last().map_or(0.0, |last| last.1 - base);
            if counter {
                let mut prev = base;
                for &(_, v) in inside {
                    if v < prev {
                        change += prev;
                    }
                    prev = v;
                }
            }
            if name == "rate" {
                change /= range as f64 / 1000.0;
            }
            out.push(Sample {
                labels: drop_name(labels),
                value: change,
            });
        }
        Value::Vector(out)
    }

    /// Evaluates the inner expression at every step in the window, aligned to the step.
    fn subquery(&self, sq: &SubqueryExpr) -> Result<(Vec<Series>, i64, i64), EvalError> {
        let end = self.anchor(&sq.at, &sq.offset);
        let range = sq.range.as_millis() as i64;
        let step = sq
            .step
            .map_or(self.default_step_ms, |s| s.as_millis() as i64)
            .max(1);
        let start = end.saturating_sub(range);
        let steps = (end.saturating_sub(start) / step).saturating_add(1);
        if steps > MAX_SUBQUERY_STEPS {
            return err(format!(
                "subquery [{}:{}] takes {steps} steps, more than {MAX_SUBQUERY_STEPS}",
                promql_parser::util::display_duration(&sq.range),
                promql_parser::util::display_duration(&Duration::from_millis(step as u64)),
            ));
        }
        // The first step at or after the window's start, aligned to the step (Prometheus 2.x).
        let mut ts = start.saturating_sub(start.rem_euclid(step));
        if ts < start {
            ts = ts.saturating_add(step);
        }
        let mut series: Vec<Series> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        while ts <= end {
            let samples = match self.at(ts).eval(&sq.expr)? {
                Value::Vector(v) => v,
                Value::Scalar(v) => vec![Sample {
                    labels: Labels::new(),
                    value: v,
                }],
                _ => return err("a subquery needs an instant vector or a scalar"),
            };
            for s in samples {
                let i = *index.entry(s.labels.clone()).or_insert_with(|| {
                    series.push((s.labels, Vec::new()));
                    series.len() - 1
                });
                series[i].1.push((ts, s.value));
            }
            let Some(next) = ts.checked_add(step) else {
                break;
            };
            ts = next;
        }
        Ok((series, start, end))
    }

    /// A range-vector argument with its window `(start, end]`.
    fn range_arg(&self, expr: &Expr) -> Result<(Vec<Series>, i64, i64), EvalError> {
        match expr {
            Expr::MatrixSelector(ms) => {
                let end = self.anchor(&ms.vs.at, &ms.vs.offset);
                let range = ms.range.as_millis() as i64;
                Ok((self.range(&ms.vs, range), end.saturating_sub(range), end))
            }
            Expr::Subquery(sq) => self.subquery(sq),
            Expr::Paren(p) => self.range_arg(&p.expr),
            other => err(format!("expected a range vector, got {other}")),
        }
    }

    fn call(&self, c: &Call) -> Result<Value, EvalError> {
        let name = c.func.name;
        let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
        let arg = |i: usize| {
            args.get(i)
                .copied()
                .ok_or_else(|| EvalError(format!("{name}() is missing argument {}", i + 1)))
        };
        let map = |v: Vec<Sample>, f: &dyn Fn(f64) -> f64| -> Value {
            Value::Vector(
                v.into_iter()
                    .map(|s| Sample {
                        labels: drop_name(s.labels),
                        value: f(s.value),
                    })
                    .collect(),
            )
        };
        if MATH.contains(&name) {
            let f: fn(f64) -> f64 = match name {
                "abs" => f64::abs,
                "ceil" => f64::ceil,
                "floor" => f64::floor,
                "exp" => f64::exp,
                "ln" => go_math::log,
                "log2" => go_math::log2,
                "log10" => go_math::log10,
                "sqrt" => f64::sqrt,
                "sin" => go_math::trig::sin,
                "cos" => go_math::trig::cos,
                "tan" => go_math::trig::tan,
                "asin" => go_math::trig::asin,
                "acos" => go_math::trig::acos,
                "atan" => go_math::trig::atan,
                "sinh" => f64::sinh,
                "cosh" => f64::cosh,
                "tanh" => f64::tanh,
                "asinh" => go_math::trig::asinh,
                "acosh" => go_math::trig::acosh,
                "atanh" => go_math::trig::atanh,
                "deg" => |v: f64| v * 180.0 / std::f64::consts::PI,
                "rad" => |v: f64| v * std::f64::consts::PI / 180.0,
                _ => |v: f64| {
                    if v > 0.0 {
                        1.0
                    } else if v < 0.0 {
                        -1.0
                    } else {
                        v
                    }
                },
            };
            return Ok(map(self.vector(arg(0)?)?, &f));
        }
        if RANGE.contains(&name) {
            return self.range_call(name, &args);
        }
        if let Some(f) = go_math::date_part(name) {
            return Ok(match args.first() {
                Some(a) => map(self.vector(a)?, &|v| f(go_math::go_int64(v))),
                None => Value::Vector(vec![Sample {
                    labels: Labels::new(),
                    // Go's integer division, as Prometheus' `enh.Ts / 1000`.
                    value: f(self.t / 1000),
                }]),
            });
        }
        if NATIVE_HISTOGRAM.contains(&name) {
            // Evaluated for its errors; every float sample is skipped.
            for a in &args {
                self.eval(a)?;
            }
            return Ok(Value::Vector(Vec::new()));
        }
        match name {
            "time" => Ok(Value::Scalar(self.t as f64 / 1000.0)),
            "pi" => Ok(Value::Scalar(std::f64::consts::PI)),
            "vector" => Ok(Value::Vector(vec![Sample {
                labels: Labels::new(),
                value: self.scalar(arg(0)?)?,
            }])),
            "scalar" => {
                let v = self.vector(arg(0)?)?;
                Ok(Value::Scalar(if v.len() == 1 {
                    v[0].value
                } else {
                    f64::NAN
                }))
            }
            "absent" => {
                let v = self.vector(arg(0)?)?;
                Ok(Value::Vector(if v.is_empty() {
                    vec![Sample {
                        labels: absent_labels(arg(0)?),
                        value: 1.0,
                    }]
                } else {
                    vec![]
                }))
            }
            "round" => {
                let to = match args.get(1) {
                    Some(a) => self.scalar(a)?,
                    None => 1.0,
                };
                let inv = 1.0 / to;
                Ok(map(self.vector(arg(0)?)?, &|v| {
                    (v * inv + 0.5).floor() / inv
                }))
            }
            "clamp" => {
                let (min, max) = (self.scalar(arg(1)?)?, self.scalar(arg(2)?)?);
                if min > max {
                    return Ok(Value::Vector(vec![]));
                }
                // Prometheus: math.Max(min, math.Min(max, v)), NaN bounds giving NaN.
                Ok(map(self.vector(arg(0)?)?, &|v| {
                    go_math::max(min, go_math::min(max, v))
                }))
            }
            "clamp_min" => {
                let min = self.scalar(arg(1)?)?;
                Ok(map(self.vector(arg(0)?)?, &|v| go_math::max(min, v)))
            }
            "clamp_max" => {
                let max = self.scalar(arg(1)?)?;
                Ok(map(self.vector(arg(0)?)?, &|v| go_math::min(max, v)))
            }
            "timestamp" => {
                let a = arg(0)?;
                let inner = match a {
                    Expr::Paren(p) => p.expr.as_ref(),
                    other => other,
                };
                let out = match inner {
                    // A selector's samples carry their own timestamps.
                    Expr::VectorSelector(vs) => self
                        .instant(vs)
                        .into_iter()
                        .map(|(s, t)| Sample {
                            labels: drop_name(s.labels),
                            value: t as f64 / 1000.0,
                        })
                        .collect(),
                    _ => self
                        .vector(a)?
                        .into_iter()
                        .map(|s| Sample {
                            labels: drop_name(s.labels),
                            value: self.t as f64 / 1000.0,
                        })
                        .collect(),
                };
                Ok(Value::Vector(out))
            }
            "histogram_quantile" => {
                let q = self.scalar(arg(0)?)?;
                let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
                let mut index: HashMap<Labels, usize> = HashMap::new();
                for s in self.vector(arg(1)?)? {
                    let Some(le) = s.labels.get("le").and_then(parse_le) else {
                        continue;
                    };
                    let mut key = drop_name(s.labels);
                    key.remove("le");
                    let i = *index.entry(key.clone()).or_insert_with(|| {
                        groups.push((key, Vec::new()));
                        groups.len() - 1
                    });
                    groups[i].1.push((le, s.value));
                }
                Ok(Value::Vector(
                    groups
                        .into_iter()
                        .map(|(labels, mut buckets)| Sample {
                            labels,
                            value: bucket_quantile(q, &mut buckets),
                        })
                        .collect(),
                ))
            }
            "label_replace" => {
                let (dst, repl, src, re) = (
                    self.string(arg(1)?)?,
                    self.string(arg(2)?)?,
                    self.string(arg(3)?)?,
                    self.string(arg(4)?)?,
                );
                let re = regex::Regex::new(&format!("^(?:{re})$"))
                    .map_err(|e| EvalError(format!("label_replace(): invalid regex: {e}")))?;
                if !super::file::valid_label_name(&dst) {
                    return err(format!(
                        "invalid destination label name in label_replace(): {dst}"
                    ));
                }
                let mut out = Vec::new();
                for mut s in self.vector(arg(0)?)? {
                    let value = s.labels.value(&src).to_string();
                    if let Some(caps) = re.captures(&value) {
                        let mut expanded = String::new();
                        caps.expand(&repl, &mut expanded);
                        s.labels.insert(dst.clone(), expanded);
                    }
                    out.push(s);
                }
                check_unique(&out)?;
                Ok(Value::Vector(out))
            }
            "label_join" => {
                let (dst, sep) = (self.string(arg(1)?)?, self.string(arg(2)?)?);
                let srcs = args[3..]
                    .iter()
                    .map(|a| self.string(a))
                    .collect::<Result<Vec<_>, _>>()?;
                if !super::file::valid_label_name(&dst) {
                    return err(format!(
                        "invalid destination label name in label_join(): {dst}"
                    ));
                }
                if let Some(bad) = srcs.iter().find(|s| !super::file::valid_label_name(s)) {
                    return err(format!("invalid source label name in label_join(): {bad}"));
                }
                let mut out = Vec::new();
                for mut s in self.vector(arg(0)?)? {
                    let joined = srcs
                        .iter()
                        .map(|n| s.labels.value(n).to_string())
                        .collect::<Vec<_>>()
                        .join(&sep);
                    s.labels.insert(dst.clone(), joined);
                    out.push(s);
                }
                check_unique(&out)?;
                Ok(Value::Vector(out))
            }
            "sort" | "sort_desc" => {
                let mut v = self.vector(arg(0)?)?;
                v.sort_by(|a, b| a.value.total_cmp(&b.value));
                if name == "sort_desc" {
                    v.reverse();
                }
                Ok(Value::Vector(v))
            }
            other => err(format!("function {other}() is not supported")),
        }
    }

    fn range_call(&self, name: &str, args: &[&Expr]) -> Result<Value, EvalError> {
        // quantile_over_time's range is its second argument.
        let (range_expr, param) = match name {
            "quantile_over_time" => (
                args.get(1),
                args.first().map(|a| self.scalar(a)).transpose()?,
            ),
            "predict_linear" => (
                args.first(),
                args.get(1).map(|a| self.scalar(a)).transpose()?,
            ),
            "double_exponential_smoothing" => {
                let factor = |i: usize, what: &str| -> Result<f64, EvalError> {
                    let v = self.scalar(args.get(i).ok_or_else(|| {
                        EvalError(format!("{name}() is missing its {what} factor"))
                    })?)?;
                    if v > 0.0 && v < 1.0 {
                        Ok(v)
                    } else {
                        err(format!(
                            "invalid {what} factor. Expected: 0 < {} < 1, got: {v:.6}",
                            if what == "smoothing" { "sf" } else { "tf" }
                        ))
                    }
                };
                let sf = factor(1, "smoothing")?;
                let tf = factor(2, "trend")?;
                let (series, _, _) = self.range_arg(
                    args.first()
                        .ok_or_else(|| EvalError(format!("{name}() needs a range vector")))?,
                )?;
                return Ok(Value::Vector(
                    series
                        .into_iter()
                        .filter_map(|(labels, points)| {
                            let v: Vec<f64> = points.iter().map(|p| p.1).collect();
                            holt_winters(&v, sf, tf).map(|value| Sample {
                                labels: drop_name(labels),
                                value,
                            })
                        })
                        .collect(),
                ));
            }
            _ => (args.first(), None),
        };
        let range_expr =
            range_expr.ok_or_else(|| EvalError(format!("{name}() needs a range vector")))?;
        if let Some(last) = self.counting
            && matches!(name, "rate" | "increase" | "delta")
            && let Expr::MatrixSelector(ms) = range_expr
        {
            return Ok(self.counted_change(name, ms, last));
        }
        let (series, start, end) = self.range_arg(range_expr)?;
        if name == "absent_over_time" {
            return Ok(Value::Vector(if series.is_empty() {
                vec![Sample {
                    labels: absent_labels(range_expr),
                    value: 1.0,
                }]
            } else {
                vec![]
            }));
        }
        let mut out = Vec::new();
        for (labels, points) in series {
            let values = || points.iter().map(|p| p.1);
            let value = match name {
                "rate" => extrapolated_delta(&points, start, end, true, true),
                "increase" => extrapolated_delta(&points, start, end, true, false),
                "delta" => extrapolated_delta(&points, start, end, false, false),
                "irate" | "idelta" => instant_delta(&points, name == "irate"),
                "deriv" => (points.len() >= 2).then(|| linear_regression(&points, points[0].0).0),
                "predict_linear" => (points.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(&points, self.t);
                    slope * param.unwrap_or(0.0) + intercept
                }),
                "avg_over_time" => Some(mean_over_time(values())),
                "min_over_time" => values().reduce(nan_min),
                "max_over_time" => values().reduce(nan_max),
                "sum_over_time" => Some(kahan_sum(values())),
                "count_over_time" => Some(points.len() as f64),
                "quantile_over_time" => {
                    let mut v: Vec<f64> = values().collect();
                    Some(quantile(param.unwrap_or(f64::NAN), &mut v))
                }
                "stddev_over_time" => {
                    Some(variance_over_time(&values().collect::<Vec<_>>()).sqrt())
                }
                "stdvar_over_time" => Some(variance_over_time(&values().collect::<Vec<_>>())),
                "last_over_time" => points.last().map(|p| p.1),
                "present_over_time" => Some(1.0),
                "changes" => Some(
                    points
                        .windows(2)
                        .filter(|w| w[0].1 != w[1].1 && !(w[0].1.is_nan() && w[1].1.is_nan()))
                        .count() as f64,
                ),
                "resets" => Some(points.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64),
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
        let input = self.vector(&a.expr)?;
        let op = a.op.to_string();
        let param = match (op.as_str(), &a.param) {
            ("topk" | "bottomk" | "quantile", Some(p)) => Param::Number(self.scalar(p)?),
            ("count_values", Some(p)) => Param::Label(self.string(p)?),
            _ => Param::None,
        };
        let mut groups: Vec<(Labels, Vec<Sample>)> = Vec::new();
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
            groups[i].1.push(s);
        }
        let mut out = Vec::new();
        for (labels, samples) in groups {
            let mut values: Vec<f64> = samples.iter().map(|s| s.value).collect();
            let n = values.len() as f64;
            let one = |value: f64| Sample {
                labels: labels.clone(),
                value,
            };
            match (op.as_str(), &param) {
                ("sum", _) => out.push(one(values.iter().sum())),
                ("avg", _) => out.push(one(go_avg(&values))),
                ("min", _) => out.push(one(values.iter().copied().fold(f64::NAN, nan_min))),
                ("max", _) => out.push(one(values.iter().copied().fold(f64::NAN, nan_max))),
                ("count", _) => out.push(one(n)),
                ("group", _) => out.push(one(1.0)),
                ("stddev", _) => out.push(one(variance(&values).sqrt())),
                ("stdvar", _) => out.push(one(variance(&values))),
                ("quantile", Param::Number(q)) => out.push(one(quantile(*q, &mut values))),
                ("topk" | "bottomk", Param::Number(k)) => {
                    // Prometheus 2.42's `convertibleToInt64`: between the smallest int64 and the
                    // largest float below 2^63; then truncated.
                    const MAX: f64 = 9_223_372_036_854_774_784.0;
                    if !(-9_223_372_036_854_775_808.0..=MAX).contains(k) {
                        return err(format!(
                            "Scalar value {} overflows int64",
                            crate::gotemplate::Value::Float(*k).to_v()
                        ));
                    }
                    let k = if *k < 1.0 {
                        0
                    } else {
                        k.min(samples.len() as f64) as usize
                    };
                    let mut sorted = samples;
                    // NaN sorts last either way, as in Prometheus.
                    sorted.sort_by(|x, y| match (x.value.is_nan(), y.value.is_nan()) {
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if op == "topk" => y.value.total_cmp(&x.value),
                        _ => x.value.total_cmp(&y.value),
                    });
                    out.extend(sorted.into_iter().take(k));
                }
                ("count_values", Param::Label(label)) => {
                    if !super::file::valid_label_name(label) {
                        return err(format!("invalid label name {label:?}"));
                    }
                    let mut counts: Vec<(String, f64)> = Vec::new();
                    for v in values {
                        let key = format_float(v);
                        match counts.iter_mut().find(|(k, _)| *k == key) {
                            Some((_, c)) => *c += 1.0,
                            None => counts.push((key, 1.0)),
                        }
                    }
                    for (value_label, count) in counts {
                        let mut l = labels.clone();
                        l.insert(label.clone(), value_label);
                        out.push(Sample {
                            labels: l,
                            value: count,
                        });
                    }
                }
                (other, _) => return err(format!("aggregation {other} needs a parameter")),
            }
        }
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
                if matches!(op.as_str(), "and" | "or" | "unless") {
                    let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
                    Ok(Value::Vector(set_op(&op, l, r, matching.as_ref())))
                } else {
                    Ok(Value::Vector(vector_vector(
                        &op,
                        l,
                        r,
                        b.modifier.as_ref(),
                        return_bool,
                    )?))
                }
            }
            _ => err(format!(
                "operator {op} cannot take a range vector or a string"
            )),
        }
    }
}

enum Param {
    None,
    Number(f64),
    Label(String),
}

fn parse_le(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        other => other.parse().ok(),
    }
}

/// Prometheus' check after `label_replace` and `label_join`, in its words.
fn check_unique(v: &[Sample]) -> Result<(), EvalError> {
    let mut seen = HashSet::new();
    for s in v {
        if !seen.insert(&s.labels) {
            return err("vector cannot contain metrics with the same labelset");
        }
    }
    Ok(())
}

fn instant_delta(points: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (t1, v1) = points[points.len() - 2];
    let (t2, v2) = points[points.len() - 1];
    let dt = (t2 - t1) as f64 / 1000.0;
    if dt == 0.0 {
        return None;
    }
    if is_rate {
        // A drop is a counter reset: the new value is the increase since it.
        let delta = if v2 < v1 { v2 } else { v2 - v1 };
        Some(delta / dt)
    } else {
        Some(v2 - v1)
    }
}

/// One step of Kahan-Babuška (Neumaier) compensated summation, as Prometheus' `kahanSumInc`:
/// the new sum and the new compensation.
fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// `sum_over_time`: compensated, so `1, 1e100, 1, -1e100` sums to 2 as in Prometheus.
fn kahan_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for v in values {
        (sum, c) = kahan_sum_inc(v, sum, c);
    }
    if sum.is_infinite() { sum } else { sum + c }
}

/// `avg_over_time` as Prometheus 2.42 computes it: an incremental, compensated mean, which
/// does not overflow near `f64::MAX` (two samples of 9.988e307 average to 9.988e307) and keeps
/// an infinite mean once reached unless a NaN or an opposite infinity comes.
fn mean_over_time(values: impl Iterator<Item = f64>) -> f64 {
    let (mut mean, mut count, mut c) = (0.0_f64, 0.0, 0.0);
    for v in values {
        count += 1.0;
        if keeps_infinite_mean(mean, v) {
            continue;
        }
        (mean, c) = kahan_sum_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() { mean } else { mean + c }
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
        "^" => arith(go_math::pow(l, r)),
        "atan2" => arith(go_math::trig::atan2(l, r)),
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
                labels: if drops_name(op) {
                    drop_name(sample.labels)
                } else {
                    sample.labels
                },
                value: a.value,
            });
        }
    }
    Ok(out)
}

/// Prometheus 2.42's `shouldDropMetricName`: arithmetic drops the metric name, `atan2` keeps
/// it (as do comparisons without `bool`).
fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^")
}

fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(l)) => labels.keep(&l.labels),
        Some(LabelModifier::Exclude(l)) => drop_name(labels.drop_names(&l.labels)),
        None => drop_name(labels.clone()),
    }
}

/// Arithmetic and comparison between two instant vectors, one-to-one or many-to-one.
fn vector_vector(
    op: &str,
    l: Vec<Sample>,
    r: Vec<Sample>,
    modifier: Option<&BinModifier>,
    return_bool: bool,
) -> Result<Vec<Sample>, EvalError> {
    // Nothing can match: no duplicate check either, as Prometheus short-circuits.
    if l.is_empty() || r.is_empty() {
        return Ok(Vec::new());
    }
    let matching = modifier.and_then(|m| m.matching.as_ref());
    let card = modifier.map_or(&VectorMatchCardinality::OneToOne, |m| &m.card);
    // The "many" side drives the output; for group_right that is the right-hand side.
    let (many, one, swapped, include) = match card {
        VectorMatchCardinality::OneToMany(inc) => (r, l, true, inc.labels.clone()),
        VectorMatchCardinality::ManyToOne(inc) => (l, r, false, inc.labels.clone()),
        _ => (l, r, false, Vec::new()),
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let mut one_side: HashMap<Labels, &Sample> = HashMap::new();
    for s in &one {
        let sig = signature(&s.labels, matching);
        if let Some(first) = one_side.get(&sig) {
            // Prometheus 2.42's words, naming the group and both series.
            let side = if swapped { "left" } else { "right" };
            return err(format!(
                "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                s.labels, first.labels
            ));
        }
        one_side.insert(sig, s);
    }
    let comparison = is_comparison(op);
    let mut seen_many: HashSet<Labels> = HashSet::new();
    let mut seen_out: HashSet<Labels> = HashSet::new();
    let mut out = Vec::new();
    for ms in many {
        let sig = signature(&ms.labels, matching);
        let Some(os) = one_side.get(&sig) else {
            continue;
        };
        let (lv, rv) = if swapped {
            (os.value, ms.value)
        } else {
            (ms.value, os.value)
        };
        let a =
            apply(op, lv, rv).ok_or_else(|| EvalError(format!("operator {op} between vectors")))?;
        if comparison && !return_bool && !a.holds {
            continue;
        }
        // Checked on the elements that pass a filter only, as Prometheus does.
        if one_to_one && !seen_many.insert(sig) {
            return err(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
            );
        }
        let mut labels = ms.labels.clone();
        if drops_name(op) || return_bool {
            labels = drop_name(labels);
        }
        if one_to_one {
            labels = match matching {
                Some(LabelModifier::Include(names)) => labels.keep(&names.labels),
                Some(LabelModifier::Exclude(names)) => labels.drop_names(&names.labels),
                None => labels,
            };
        }
        for name in &include {
            labels.insert(name.clone(), os.labels.value(name));
        }
        if !seen_out.insert(labels.clone()) {
            return err("multiple matches for labels: grouping labels must ensure unique matches");
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
    let right: HashSet<Labels> = r.iter().map(|s| signature(&s.labels, matching)).collect();
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
            let left: HashSet<Labels> = l.iter().map(|s| signature(&s.labels, matching)).collect();
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
    // The factor first, then the product, in Prometheus' order (the rounding differs).
    let mut factor = interval / sampled;
    if is_rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result * factor)
}

#[cfg(test)]
mod over_time_tests {
    use super::*;

    /// The expected values are promtool 2.42's answers (`promtool test rules`, `got:`).
    #[test]
    fn sums_and_means_over_time_are_compensated_as_prometheus_computes_them() {
        let x = [1.0, 1e100, 1.0, -1e100];
        assert_eq!(kahan_sum(x.into_iter()), 2.0);
        assert_eq!(mean_over_time(x.into_iter()), -2.4283361152821613e83);
        assert_eq!(
            mean_over_time([9.988e307, 9.988e307].into_iter()),
            9.988e307
        );
        assert_eq!(kahan_sum([f64::INFINITY, 1.0].into_iter()), f64::INFINITY);
        assert_eq!(
            mean_over_time([f64::INFINITY, 1.0].into_iter()),
            f64::INFINITY
        );
        assert!(mean_over_time([f64::INFINITY, f64::NEG_INFINITY].into_iter()).is_nan());
        assert_eq!(mean_over_time([1.0, 2.0, 3.0, 4.0].into_iter()), 2.5);
    }
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
    fn counting_changes_add_up_minute_by_minute_without_extrapolation() {
        let mut s = SeriesStore::new(3_600_000, 1_000);
        let l: Labels = [("provider", "cdk")].into_iter().collect();
        // Irregular samples: 3 events before the first minute ends, a reset to 0 and 4 more
        // after, 1 more in the third minute. A second counter appears at 130 s with 2.
        let samples = [
            (5_000, 0.0),
            (20_000, 1.0),
            (59_000, 3.0),
            (61_000, 3.0),
            (70_000, 0.0),
            (100_000, 4.0),
            (150_000, 5.0),
            (170_000, 5.0),
        ];
        for (t, v) in samples {
            s.push("c_total", &l, t, v);
        }
        let new: Labels = [("provider", "xtime")].into_iter().collect();
        s.push("c_total", &new, 130_000, 2.0);
        s.push("c_total", &new, 175_000, 2.0);
        let e = promql_parser::parser::parse("increase(c_total[1m])").unwrap();
        let last = LastCounted::default();
        let minute = |t: i64, p: &str| -> f64 {
            let Value::Vector(v) = eval_counting(&e, &s, t, &last).unwrap() else {
                panic!()
            };
            v.iter()
                .find(|x| x.labels.value("provider") == p)
                .map_or(0.0, |x| x.value)
        };
        // Minute 1 (0, 60 s]: 0 → 3 (the counter starts from 0 as first seen); minute 2: 3 → 0
        // → 4, a reset: 4; minute 3: 4 → 5.
        assert_eq!(
            (
                minute(60_000, "cdk"),
                minute(120_000, "cdk"),
                minute(180_000, "cdk")
            ),
            (3.0, 4.0, 1.0)
        );
        assert_eq!(minute(180_000, "xtime"), 2.0, "a new counter counts from 0");
        // Prometheus' increase extrapolates the same minute to more than what happened.
        let Value::Vector(v) = eval(&e, &s, 120_000).unwrap() else {
            panic!()
        };
        let cdk = v
            .iter()
            .find(|x| x.labels.value("provider") == "cdk")
            .unwrap();
        assert!(
            (cdk.value - 4.0 * 60.0 / 39.0).abs() < 1e-9,
            "{}",
            cdk.value
        );
        let Value::Vector(r) = eval_counting(
            &promql_parser::parser::parse("rate(c_total[1m])").unwrap(),
            &s,
            180_000,
            &last,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(r[0].value, 1.0 / 60.0);
        // After a gap longer than the look-back (nothing sampled from 170 s to 400 s), the
        // change starts from the value counted last, not from 0: 5 → 7 is 2, not 7.
        s.push("c_total", &l, 400_000, 7.0);
        let Value::Vector(v) = eval_counting(&e, &s, 420_000, &last).unwrap() else {
            panic!()
        };
        let cdk = v
            .iter()
            .find(|x| x.labels.value("provider") == "cdk")
            .unwrap();
        assert_eq!(cdk.value, 2.0);
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
        // The window [0, 30s] holds all four samples: 10 (10→20) + 5 (the reset to 5) + 10 (5→15).
        assert!((v[0].value - 25.0).abs() < 1e-9, "{v:?}");
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

    /// Values promtool 2.42 prints for the same series and queries.
    #[test]
    fn at_modifier_holt_winters_and_atan2_answer_as_promtool() {
        let mut s = SeriesStore::new(i64::MAX / 4, 1);
        let x: Labels = [("a", "1")].into_iter().collect();
        for (k, v) in [1.0, 3.0, 2.0, 8.0, 5.0, 9.0, 12.0, 10.0]
            .into_iter()
            .enumerate()
        {
            s.push("x", &x, k as i64 * 60_000, v);
        }
        for k in 0..=10 {
            s.push("y", &Labels::new(), k * 60_000, k as f64 * 10.0);
        }
        let one = |q: &str, t_min: i64| -> (String, f64) {
            let expr = parse_promql(q).unwrap();
            check_supported(&expr).unwrap();
            match eval(&expr, &s, t_min * 60_000).unwrap() {
                Value::Vector(v) if v.len() == 1 => (v[0].labels.to_string(), v[0].value),
                other => panic!("{q}: {other:?}"),
            }
        };
        assert_eq!(
            one("holt_winters(x[10m], 0.3, 0.6)", 8).1,
            11.689639902719996
        );
        assert_eq!(one("x @ 120", 8), ("{__name__=\"x\", a=\"1\"}".into(), 2.0));
        assert_eq!(one("sum_over_time(y[3m] @ 300 offset 1m)", 9).1, 100.0);
        assert_eq!(one("y @ end() - y @ start()", 9).1, 0.0);
        // Inside a subquery `@ end()` stays at the query's time (90 at 9m), where the steps
        // alone would read 60 to 90.
        assert_eq!(one("min_over_time((y @ end())[3m:1m])", 9).1, 90.0);
        assert_eq!(one("min_over_time(y[3m:1m])", 9).1, 60.0);
        assert_eq!(
            one("max_over_time(rate(y[2m])[4m:1m] @ 360)", 9).1,
            0.16666666666666666
        );
        assert_eq!(
            one("x atan2 x", 2),
            (
                "{__name__=\"x\", a=\"1\"}".into(),
                std::f64::consts::FRAC_PI_4
            )
        );
        let bad = eval(
            &parse_promql("holt_winters(x[10m], 1, 0.5)").unwrap(),
            &s,
            0,
        );
        assert!(bad.unwrap_err().0.contains("invalid smoothing factor"));
    }

    /// Prometheus' head block returns series in the order they were created, and `sum` adds
    /// in that order: 0.30000000000000004 + 0.2 + 0.1 is 0.6, where the order of the labels
    /// (0.1 + 0.2 + 0.30000000000000004) gives 0.6000000000000001.
    #[test]
    fn aggregations_add_series_in_the_order_they_were_created() {
        let mut s = SeriesStore::new(i64::MAX / 4, 1);
        for (i, v) in [("c", 0.30000000000000004), ("b", 0.2), ("a", 0.1)] {
            s.push("x", &[("i", i)].into_iter().collect(), 0, v);
        }
        s.push("y", &Labels::new(), 0, 0.1);
        let sum = |q: &str| match eval(&parse_promql(q).unwrap(), &s, 0).unwrap() {
            Value::Vector(v) => v[0].value,
            other => panic!("{other:?}"),
        };
        assert_eq!(sum("sum(x)"), 0.6);
        // Across metric names too: x's series, then y's.
        assert_eq!(sum(r#"sum({__name__=~"x|y", i!="a"})"#), 0.6);
    }

    /// Values and errors promtool 2.42 gives for the same series and queries.
    #[test]
    fn edge_answers_and_errors_are_prometheus_own() {
        let mut s = SeriesStore::new(i64::MAX / 4, 1);
        for (k, v) in [0.0, -0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
            .into_iter()
            .enumerate()
        {
            s.push("m", &Labels::new(), k as i64 * 60_000, v);
        }
        for (a, b) in [("1", "x"), ("1", "y")] {
            s.push("d", &[("a", a), ("b", b)].into_iter().collect(), 0, 1.0);
        }
        let run = |q: &str, t: i64| eval(&parse_promql(q).unwrap(), &s, t);
        let one = |q: &str, t: i64| match run(q, t).unwrap() {
            Value::Vector(v) if v.len() == 1 => v[0].value,
            Value::Scalar(v) => v,
            other => panic!("{q}: {other:?}"),
        };
        // Compensated running variance (the plain one gives 0.2222222222222222).
        assert_eq!(one("stdvar_over_time(m[5m])", 540_000), 0.22222222222222224);
        assert_eq!(one("10 ^ 100", 0), 1.0000000000000002e+100);
        let error = |q: &str| run(q, 0).unwrap_err().0;
        assert_eq!(error("topk(NaN, d)"), "Scalar value NaN overflows int64");
        assert_eq!(
            error("bottomk(-Inf, d)"),
            "Scalar value -Inf overflows int64"
        );
        assert_eq!(
            error(r#"count_values("a-b", d)"#),
            r#"invalid label name "a-b""#
        );
        assert_eq!(
            error(r#"label_replace(d, "1x", "y", "a", ".*")"#),
            "invalid destination label name in label_replace(): 1x"
        );
        assert_eq!(
            error(r#"label_join(d, "x", "-", "a-b")"#),
            "invalid source label name in label_join(): a-b"
        );
        assert_eq!(
            error(r#"label_replace(d, "b", "z", "a", ".*")"#),
            "vector cannot contain metrics with the same labelset"
        );
        // Nothing on one side: no match, so no duplicate to complain about.
        assert_eq!(
            run("absent_metric - ignoring (b) d", 0).unwrap(),
            Value::Vector(vec![])
        );
        assert!(
            check_supported(&parse_promql("d @ 1e20").unwrap())
                .unwrap_err()
                .starts_with("timestamp out of bounds for @ modifier")
        );
    }

    #[test]
    fn the_old_name_of_holt_winters_is_read_outside_strings_only() {
        let e = parse_promql(r#"holt_winters (x{a="holt_winters(1)"}[5m], 0.5, 0.5)"#).unwrap();
        assert_eq!(
            e.to_string(),
            r#"double_exponential_smoothing(x{a="holt_winters(1)"}[5m], 0.5, 0.5)"#
        );
        assert!(parse_promql("my_holt_winters(x)").is_err());
    }

    #[test]
    fn unsupported_constructs_are_named() {
        let check =
            |q: &str| check_supported(&promql_parser::parser::parse(q).unwrap()).unwrap_err();
        assert_eq!(
            check("sort_by_label(x, \"a\")"),
            "function sort_by_label() is not supported"
        );
        assert_eq!(
            check("mad_over_time(x[5m])"),
            "function mad_over_time() is not supported"
        );
        assert_eq!(check("limitk(1, x)"), "aggregation limitk is not supported");
        assert_eq!(
            check("x{a=\"b\" or c=\"d\"}"),
            "'or' inside a selector is not supported"
        );
    }

    #[test]
    fn many_to_many_is_an_error_not_a_guess() {
        // Prometheus 2.42's words: several left-hand series match one right-hand series.
        let expr =
            promql_parser::parser::parse("failures_total / on (provider) runs_total").unwrap();
        assert_eq!(
            eval(&expr, &store(), 600_000).unwrap_err().0,
            "multiple matches for labels: many-to-one matching must be explicit \
             (group_left/group_right)"
        );
        // Two right-hand series in one group: the group and both series are named.
        let expr =
            promql_parser::parser::parse("runs_total / on (provider) failures_total").unwrap();
        let e = eval(&expr, &store(), 600_000).unwrap_err().0;
        assert!(
            e.starts_with("found duplicate series for the match group {provider=")
                && e.contains(
                    "on the right hand-side of the operation: [{__name__=\"failures_total\""
                )
                && e.ends_with(
                    ";many-to-many matching not allowed: matching labels must be unique on one side"
                ),
            "{e}"
        );
    }

    #[test]
    fn max_window_includes_offset() {
        let expr = promql_parser::parser::parse("rate(x[5m] offset 1h) > rate(y[10m])").unwrap();
        assert_eq!(max_window(&expr), Duration::from_secs(3900));
    }
}
