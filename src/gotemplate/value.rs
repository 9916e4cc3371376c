//! The values a template sees: Go's basic kinds, slices and string-keyed maps, plus objects with
//! fields and methods (Alertmanager's `Data`, `Alert`, `KV`, `time.Time`), printed as Go's `%v`
//! prints them.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use super::ExecError;

/// A value in a template, standing for the Go value the same template sees in Alertmanager or
/// Prometheus.
#[derive(Clone, Debug)]
pub enum Value {
    /// Go's untyped `nil` (printed `<nil>`).
    Nil,
    /// An invalid value: the result of a pipeline that produced nothing (printed `<no value>`).
    NoValue,
    Bool(bool),
    /// Go's `int` (template integer constants, `len`).
    Int(i64),
    /// Go's `float64`.
    Float(f64),
    String(Arc<str>),
    /// A slice; `[a b c]` under `%v`.
    List(Arc<[Value]>),
    /// A `map[string]string`-like map, iterated and printed in key order as Go does
    /// (`map[a:1 b:2]`). A missing key reads as the empty string, the zero value of the maps
    /// templates see (labels and annotations are `map[string]string` in both Prometheus and
    /// Alertmanager).
    Map(Arc<BTreeMap<String, Value>>),
    /// A Go struct or named type with methods.
    Object(Arc<dyn Object>),
}

/// A Go value with fields or methods (`.Alerts.Firing`, `.StartsAt.Format "…"`).
pub trait Object: Send + Sync + Debug {
    /// The Go type as Go's error messages name it (`template.Data`, `time.Time`).
    fn type_name(&self) -> &'static str;
    /// A field, or a method called with `args` (zero-argument methods are called on plain access,
    /// as Go calls them). `None`: the type has no such field or method.
    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>>;
    /// The elements, for a named slice type (`Alerts`, `Pairs`): `range`, `len` and `index` see
    /// them.
    fn as_list(&self) -> Option<Arc<[Value]>> {
        None
    }
    /// The entries, for a named map type (`KV`).
    fn as_map(&self) -> Option<Arc<BTreeMap<String, Value>>> {
        None
    }
    /// The time, for `time.Time` (the functions taking a time read it).
    fn as_time(&self) -> Option<&super::time::Time> {
        None
    }
    /// Go's `%v` of the value.
    fn format_v(&self, out: &mut String);
    /// What `%s` and `print` give, where the type has a `String()` method (`time.Time`).
    fn string_method(&self) -> Option<String> {
        None
    }
}

impl Value {
    pub fn str(s: impl Into<Arc<str>>) -> Self {
        Value::String(s.into())
    }

    pub fn list(items: impl IntoIterator<Item = Value>) -> Self {
        Value::List(items.into_iter().collect::<Vec<_>>().into())
    }

    pub fn string_map<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Value::Map(Arc::new(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::str(v)))
                .collect(),
        ))
    }

    /// The Go type name, as printed in `%!d(string=x)` and error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil | Value::NoValue => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]string",
            Value::Object(o) => o.type_name(),
        }
    }

    /// The elements of a slice or named slice type.
    pub fn as_list(&self) -> Option<Arc<[Value]>> {
        match self {
            Value::List(l) => Some(l.clone()),
            Value::Object(o) => o.as_list(),
            _ => None,
        }
    }

    /// The entries of a map or named map type.
    pub fn as_map(&self) -> Option<Arc<BTreeMap<String, Value>>> {
        match self {
            Value::Map(m) => Some(m.clone()),
            Value::Object(o) => o.as_map(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Go's `template.IsTrue`: the zero value of its type is false, and so is an empty slice or
    /// map; a struct is always true.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil | Value::NoValue => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => {
                if let Some(l) = o.as_list() {
                    !l.is_empty()
                } else if let Some(m) = o.as_map() {
                    !m.is_empty()
                } else {
                    true
                }
            }
        }
    }

    /// Go's `%v`, as `fmt.Sprint` prints one value.
    pub fn format_v(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("<nil>"),
            Value::NoValue => out.push_str("<no value>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&super::fmt::format_float(*f, 'g', None, false)),
            Value::String(s) => out.push_str(s),
            Value::List(l) => format_list(l, out),
            Value::Map(m) => format_map(m, out),
            Value::Object(o) => o.format_v(out),
        }
    }

    /// `%v` as a new string.
    pub fn to_v(&self) -> String {
        let mut s = String::new();
        self.format_v(&mut s);
        s
    }
}

/// Go's `%v` of a slice: `[a b c]`.
pub fn format_list(items: &[Value], out: &mut String) {
    out.push('[');
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        v.format_v(out);
    }
    out.push(']');
}

/// Go's `%v` of a map, keys sorted: `map[a:1 b:2]`.
pub fn format_map(m: &BTreeMap<String, Value>, out: &mut String) {
    out.push_str("map[");
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push(':');
        v.format_v(out);
    }
    out.push(']');
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::str(s)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
