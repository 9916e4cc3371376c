//! Prometheus' rule template functions (`template/template.go` of Prometheus 2.42,
//! `NewTemplateExpander`), with the argument types, results and error text of the Go originals.
//!
//! `query`, `externalURL` and `pathPrefix` depend on the evaluation (the store, the time, the
//! server's URL): here they are stand-ins that fail, and the caller answers them through
//! [`super::Extra`] (see `rules::template`). `tmpl` exists only in Prometheus' console
//! templates (`ExpandHTML`), so a rule template using it is refused at load as promtool refuses
//! it.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use super::ExecError;
use super::funcs::humanize_duration;
use super::funcs::{FuncError, FuncMap, arity, err, float_fn, func, query_escape, string_arg};
use super::funcs::{string_fn, strings_title, to_float};
use super::time::Time;
use super::value::{Object, Value};
use crate::domain::Labels;

/// One element of a query's answer, Prometheus' `*template.sample`: `.Labels` (the series'
/// labels, `__name__` included) and `.Value`.
#[derive(Debug)]
pub struct Sample {
    pub labels: Arc<BTreeMap<String, Value>>,
    pub value: f64,
}

impl Object for Sample {
    fn type_name(&self) -> &'static str {
        "*template.sample"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>> {
        let v = match name {
            "Labels" => Value::Map(self.labels.clone()),
            "Value" => Value::Float(self.value),
            _ => return None,
        };
        Some(if args.is_empty() {
            Ok(v)
        } else {
            Err(ExecError::Message(format!(
                "{name} is not a method but has arguments"
            )))
        })
    }

    fn format_v(&self, out: &mut String) {
        out.push_str("&{");
        super::value::format_map(&self.labels, out);
        out.push(' ');
        Value::Float(self.value).format_v(out);
        out.push('}');
    }
}

/// A query's answer, Prometheus' `template.queryResult` (a slice of samples).
#[derive(Debug)]
pub struct QueryResult(pub Arc<[Value]>);

impl QueryResult {
    /// The answer to a query: each series' labels and value, in the evaluator's order.
    pub fn value(samples: impl IntoIterator<Item = (Labels, f64)>) -> Value {
        let items: Vec<Value> = samples
            .into_iter()
            .map(|(labels, value)| {
                Value::Object(Arc::new(Sample {
                    labels: Arc::new(
                        labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), Value::str(v)))
                            .collect(),
                    ),
                    value,
                }))
            })
            .collect();
        Value::Object(Arc::new(QueryResult(items.into())))
    }
}

impl Object for QueryResult {
    fn type_name(&self) -> &'static str {
        "template.queryResult"
    }

    fn get(&self, _: &str, _: &[Value]) -> Option<Result<Value, ExecError>> {
        None
    }

    fn as_list(&self) -> Option<Arc<[Value]>> {
        Some(self.0.clone())
    }

    fn format_v(&self, out: &mut String) {
        super::value::format_list(&self.0, out);
    }
}

/// A `map[string]interface{}` (what `args` returns): a missing key reads as a nil interface,
/// printed `<no value>`, where a `map[string]string` gives "".
#[derive(Debug)]
pub struct AnyMap(pub Arc<BTreeMap<String, Value>>);

impl Object for AnyMap {
    fn type_name(&self) -> &'static str {
        "map[string]interface {}"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>> {
        Some(if args.is_empty() {
            Ok(self.0.get(name).cloned().unwrap_or(Value::NoValue))
        } else {
            Err(ExecError::Message(format!(
                "{name} is not a method but has arguments"
            )))
        })
    }

    fn as_map(&self) -> Option<Arc<BTreeMap<String, Value>>> {
        Some(self.0.clone())
    }

    fn format_v(&self, out: &mut String) {
        super::value::format_map(&self.0, out);
    }
}

fn query_result_arg(args: &[Value], i: usize) -> Result<Arc<[Value]>, FuncError> {
    match &args[i] {
        Value::Object(o) if o.type_name() == "template.queryResult" => {
            Ok(o.as_list().unwrap_or_else(|| Arc::from(Vec::new())))
        }
        v => err(format!(
            "wrong type for value; expected template.queryResult; got {}",
            v.type_name()
        )),
    }
}

/// The sample argument `i`: its labels and value.
fn sample_arg(args: &[Value], i: usize) -> Result<(Arc<BTreeMap<String, Value>>, f64), FuncError> {
    if let Value::Object(o) = &args[i]
        && o.type_name() == "*template.sample"
        && let (Some(Ok(Value::Map(l))), Some(Ok(Value::Float(v)))) =
            (o.get("Labels", &[]), o.get("Value", &[]))
    {
        return Ok((l, v));
    }
    err(format!(
        "wrong type for value; expected *template.sample; got {}",
        args[i].type_name()
    ))
}

fn label_of(labels: &BTreeMap<String, Value>, name: &str) -> String {
    labels.get(name).map(Value::to_v).unwrap_or_default()
}

/// Go's `net.SplitHostPort`: `host:port`, `[v6]:port`; `None` where Go returns an error.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    let i = s.rfind(':')?;
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        // `]` must come right before the last `:` (`rest` starts one byte into `s`).
        if end + 2 != i {
            return None;
        }
        (&rest[..end], &s[i + 1..])
    } else {
        let host = &s[..i];
        if host.contains(':') {
            return None;
        }
        (host, &s[i + 1..])
    };
    if host.contains(['[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host, port))
}

/// Go's `net.JoinHostPort`.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Prometheus' `stripPort`: the host of `host:port`, else the text as it is.
pub fn strip_port(s: &str) -> String {
    split_host_port(s).map_or(s, |(h, _)| h).to_string()
}

/// Prometheus' `stripDomain`: the first label of a host name, port kept; IP addresses as they
/// are.
pub fn strip_domain(s: &str) -> String {
    let (host, port) = split_host_port(s).unwrap_or((s, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return s.to_string();
    }
    let host = host.split('.').next().unwrap_or_default();
    if port.is_empty() {
        host.to_string()
    } else {
        join_host_port(host, port)
    }
}

/// Prometheus' `floatToTime`: seconds since the epoch, truncated to the millisecond as
/// `model.TimeFromUnixNano` keeps them; `None` for NaN and the infinities. Times outside the
/// years -9999 to 9999 (which Go prints) are an error here: the calendar behind `Time` stops
/// there.
pub fn float_to_time(v: f64) -> Option<Result<Time, FuncError>> {
    if v.is_nan() || v.is_infinite() {
        return None;
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Some(err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            Value::Float(v).to_v()
        )));
    }
    let ms = (ns as i64) / 1_000_000;
    Some(
        Timestamp::from_millisecond(ms)
            .map(Time::utc)
            .map_err(|e| FuncError(e.to_string())),
    )
}

/// Prometheus' `humanizeTimestamp`: Go's `Time.String()` of the time, `%.4g` for NaN and ±Inf.
pub fn humanize_timestamp(v: f64) -> Result<String, FuncError> {
    match float_to_time(v) {
        None => Ok(super::fmt::sprintf("%.4g", &[Value::Float(v)])),
        Some(t) => Ok(t?.format(super::time::STRING_LAYOUT)),
    }
}

/// The names [`super::Extra`] must answer; as set functions they fail.
pub const CONTEXT_FUNCS: &[&str] = &["query", "externalURL", "pathPrefix"];

/// Prometheus 2.42's rule template functions.
pub fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    for name in CONTEXT_FUNCS {
        m.insert(
            (*name).into(),
            func(move |_| err(format!("{name} is not available here"))),
        );
    }
    m.insert(
        "first".into(),
        func(|a| {
            arity("first", a, 1)?;
            query_result_arg(a, 0)?
                .first()
                .cloned()
                .ok_or_else(|| FuncError("first() called on vector with no elements".into()))
        }),
    );
    m.insert(
        "label".into(),
        func(|a| {
            arity("label", a, 2)?;
            let name = string_arg(a, 0)?;
            let (labels, _) = sample_arg(a, 1)?;
            Ok(Value::str(label_of(&labels, name)))
        }),
    );
    m.insert(
        "value".into(),
        func(|a| {
            arity("value", a, 1)?;
            Ok(Value::Float(sample_arg(a, 0)?.1))
        }),
    );
    m.insert(
        "strvalue".into(),
        func(|a| {
            arity("strvalue", a, 1)?;
            Ok(Value::str(label_of(&sample_arg(a, 0)?.0, "__value__")))
        }),
    );
    m.insert(
        "args".into(),
        func(|a| {
            Ok(Value::Object(Arc::new(AnyMap(Arc::new(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| (format!("arg{i}"), v.clone()))
                    .collect(),
            )))))
        }),
    );
    m.insert(
        "sortByLabel".into(),
        func(|a| {
            arity("sortByLabel", a, 2)?;
            let name = string_arg(a, 0)?;
            let mut items = query_result_arg(a, 1)?.to_vec();
            let key = |v: &Value| match v {
                Value::Object(o) => match o.get("Labels", &[]) {
                    Some(Ok(Value::Map(l))) => label_of(&l, name),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            // Stable, as Go's sort.Stable.
            items.sort_by_cached_key(key);
            Ok(Value::Object(Arc::new(QueryResult(items.into()))))
        }),
    );
    m.insert("title".into(), string_fn("title", strings_title));
    m.insert(
        "toUpper".into(),
        string_fn("toUpper", super::funcs::go_to_upper),
    );
    m.insert(
        "toLower".into(),
        string_fn("toLower", super::funcs::go_to_lower),
    );
    m.insert("safeHtml".into(), string_fn("safeHtml", str::to_string));
    m.insert(
        "graphLink".into(),
        string_fn("graphLink", |e| {
            format!("/graph?g0.expr={}&g0.tab=0", query_escape(e))
        }),
    );
    m.insert(
        "tableLink".into(),
        string_fn("tableLink", |e| {
            format!("/graph?g0.expr={}&g0.tab=1", query_escape(e))
        }),
    );
    m.insert("stripPort".into(), string_fn("stripPort", strip_port));
    m.insert("stripDomain".into(), string_fn("stripDomain", strip_domain));
    super::funcs::insert_regex_funcs(&mut m);
    super::funcs::insert_humanize_funcs(&mut m);
    m.insert(
        "humanizeDuration".into(),
        float_fn("humanizeDuration", humanize_duration),
    );
    m.insert(
        "toTime".into(),
        func(|a| {
            arity("toTime", a, 1)?;
            match float_to_time(to_float(&a[0])?) {
                Some(t) => Ok(t?.value()),
                None => err("value is NaN or Inf"),
            }
        }),
    );
    m.insert(
        "parseDuration".into(),
        func(|a| {
            arity("parseDuration", a, 1)?;
            let s = string_arg(a, 0)?;
            crate::domain::duration::parse_duration(s)
                .map(|d| Value::Float(d.as_secs_f64()))
                .map_err(|_| FuncError(format!("not a valid duration string: {s:?}")))
        }),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_functions_follow_gos_net_package() {
        assert_eq!(strip_port("a:80"), "a");
        assert_eq!(strip_port("[::1]:9090"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("host"), "host");
        assert_eq!(strip_domain("a.b.c:80"), "a:80");
        assert_eq!(strip_domain("node1.example.com"), "node1");
        assert_eq!(strip_domain("10.0.0.1:9100"), "10.0.0.1:9100");
        assert_eq!(strip_domain("[::1]:80"), "[::1]:80");
    }

    #[test]
    fn timestamps_are_cut_to_the_millisecond_and_overflow_is_an_error() {
        assert_eq!(
            humanize_timestamp(1.5).unwrap(),
            "1970-01-01 00:00:01.5 +0000 UTC"
        );
        assert_eq!(
            humanize_timestamp(1.0009999).unwrap(),
            "1970-01-01 00:00:01 +0000 UTC"
        );
        assert_eq!(humanize_timestamp(f64::NAN).unwrap(), "NaN");
        assert_eq!(
            humanize_timestamp(1e20).unwrap_err().0,
            "1e+20 cannot be represented as a nanoseconds timestamp since it overflows int64"
        );
    }
}
