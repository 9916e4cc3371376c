//! Template functions: Go's builtins (`text/template` `funcs.go`), Alertmanager's
//! (`template.DefaultFuncs`) and the `humanize*` family both Alertmanager and Prometheus share
//! (`prometheus/common` and `prometheus/template`), each with the argument types and error text
//! of its Go original.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::fmt::{sprint, sprintf, sprintln};
use super::time::{Duration, Time};
use super::value::Value;

/// What a template function reports when it fails; the executor adds the template and line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct FuncError(pub String);

/// A template function.
pub type Func = Arc<dyn Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync>;

/// Functions by name.
pub type FuncMap = BTreeMap<String, Func>;

pub(super) fn err<T>(msg: impl Into<String>) -> Result<T, FuncError> {
    Err(FuncError(msg.into()))
}

pub(super) fn arity(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() != n {
        return err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// The string argument `i`, or Go's type error.
pub(super) fn string_arg(args: &[Value], i: usize) -> Result<&str, FuncError> {
    match &args[i] {
        Value::String(s) => Ok(s),
        v => err(format!(
            "wrong type for value; expected string; got {}",
            v.type_name()
        )),
    }
}

fn time_arg(args: &[Value], i: usize) -> Result<Time, FuncError> {
    match &args[i] {
        Value::Object(o) if let Some(t) = o.as_time() => Ok(t.clone()),
        v => err(format!(
            "wrong type for value; expected time.Time; got {}",
            v.type_name()
        )),
    }
}

/// Alertmanager's `title` (`cases.Title(language.AmericanEnglish)` of golang.org/x/text):
/// in each word the first cased letter is upper-cased and the others lower-cased. Words run over
/// letters, digits and `_`, and over `'`, `.` and `:` between two letters (Unicode's word
/// boundaries, UAX #29), so `o'neil` gives `O'neil`, `3am` gives `3Am`, and `-` starts a word.
pub fn title(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let letter = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphabetic())
    };
    let mut out = String::with_capacity(s.len());
    let mut titled = false;
    for (i, &c) in chars.iter().enumerate() {
        let joiner = matches!(c, '\'' | '\u{2019}' | '.' | ':')
            && letter(i.checked_sub(1))
            && letter(Some(i + 1));
        if !(c.is_alphanumeric() || c == '_' || joiner) {
            titled = false;
            out.push(c);
        } else if c.is_lowercase() || c.is_uppercase() {
            if titled {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
                titled = true;
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `strings.Title` (Prometheus' `title`): upper-cases the first letter of each word and
/// leaves the rest as it is.
pub fn strings_title(s: &str) -> String {
    let separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if separator(prev) {
            out.push(go_title(c));
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Go's `template.HTMLEscapeString` (text/template's `html`).
pub fn html_escape(s: &str) -> String {
    escape_html(s, false)
}

/// HTML entities for `"`, `'`, `&`, `<`, `>` (and `+` when `plus`, as html/template's
/// `htmlEscaper` also escapes it); NUL becomes U+FFFD.
pub fn escape_html(s: &str, plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '+' if plus => out.push_str("&#43;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(super) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `evalArgs`: a single string as it is, anything else through `fmt.Sprint`.
fn eval_args(args: &[Value]) -> String {
    match args {
        [Value::String(s)] => s.to_string(),
        _ => sprint(args),
    }
}

#[derive(PartialEq, PartialOrd)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        _ => Kind::Other,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";

/// Go's `eq arg1 arg2…`: true when arg1 equals any of the others.
fn eq(args: &[Value]) -> Result<Value, FuncError> {
    let Some((a, rest)) = args.split_first() else {
        return err("wrong number of args for eq: want at least 1 got 0");
    };
    if rest.is_empty() {
        return err("missing argument for comparison");
    }
    for b in rest {
        let truth = match (a, b) {
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::String(x), Value::String(y)) => x == y,
            (Value::Nil | Value::NoValue, Value::Nil | Value::NoValue) => true,
            (Value::Nil | Value::NoValue, _) | (_, Value::Nil | Value::NoValue) => false,
            (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
                return err(format!(
                    "non-comparable type {}: {}",
                    a.to_v(),
                    a.type_name()
                ));
            }
            (Value::Object(x), Value::Object(y)) if x.type_name() == y.type_name() => {
                x.as_list().is_none() && x.as_map().is_none() && a.to_v() == b.to_v()
            }
            _ => return err(BAD_COMPARISON),
        };
        if truth {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// Go's `lt`: basic kinds of the same kind only.
fn less(a: &Value, b: &Value) -> Result<bool, FuncError> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::String(x), Value::String(y)) => Ok(x < y),
        _ if kind(a) == Kind::Other || kind(a) == Kind::Bool => err("invalid type for comparison"),
        _ => err(BAD_COMPARISON),
    }
}

fn compare(name: &'static str, args: &[Value]) -> Result<Value, FuncError> {
    arity(name, args, 2)?;
    let (a, b) = (&args[0], &args[1]);
    let r = match name {
        "lt" => less(a, b)?,
        "le" => less(a, b)? || eq(args)?.is_true(),
        "gt" => !less(a, b)? && !eq(args)?.is_true(),
        _ => !less(a, b)?,
    };
    Ok(Value::Bool(r))
}

fn index_of(len: usize, v: &Value, cap: usize) -> Result<usize, FuncError> {
    match v {
        Value::Int(i) if *i >= 0 && (*i as usize) < cap.max(len) => Ok(*i as usize),
        Value::Int(i) => err(format!("index out of range: {i}")),
        Value::Nil | Value::NoValue => err("cannot index slice/array with nil"),
        v => err(format!(
            "cannot index slice/array with type {}",
            v.type_name()
        )),
    }
}

fn index(args: &[Value]) -> Result<Value, FuncError> {
    let Some((item, idx)) = args.split_first() else {
        return err("wrong number of args for index: want at least 1 got 0");
    };
    let mut item = item.clone();
    for i in idx {
        item = if let Some(l) = item.as_list() {
            l[index_of(l.len(), i, 0)?].clone()
        } else if let Some(m) = item.as_map() {
            match i {
                Value::String(k) => m.get(k.as_ref()).cloned().unwrap_or(Value::str("")),
                v => {
                    return err(format!(
                        "value has type {}; should be string",
                        v.type_name()
                    ));
                }
            }
        } else if let Value::String(s) = &item {
            let b = s.as_bytes();
            Value::Int(i64::from(b[index_of(b.len(), i, 0)?]))
        } else if matches!(item, Value::Nil | Value::NoValue) {
            return err("index of untyped nil");
        } else {
            return err(format!("can't index item of type {}", item.type_name()));
        };
    }
    Ok(item)
}

fn slice(args: &[Value]) -> Result<Value, FuncError> {
    let Some((item, idx)) = args.split_first() else {
        return err("wrong number of args for slice: want at least 1 got 0");
    };
    if idx.len() > 3 {
        return err(format!("too many slice indexes: {}", idx.len()));
    }
    let len = match item {
        Value::String(s) => s.len(),
        v => match v.as_list() {
            Some(l) => l.len(),
            None => return err(format!("can't slice item of type {}", item.type_name())),
        },
    };
    if matches!(item, Value::String(_)) && idx.len() == 3 {
        return err("cannot 3-index slice a string");
    }
    let mut bounds = [0, len, len];
    for (k, i) in idx.iter().enumerate() {
        bounds[k] = index_of(len + 1, i, len + 1)?;
    }
    if bounds[0] > bounds[1] {
        return err(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        ));
    }
    match item {
        Value::String(s) => s
            .get(bounds[0]..bounds[1])
            .map(Value::str)
            .ok_or_else(|| FuncError("slice splits a character".into())),
        v => Ok(Value::List(
            v.as_list()
                .map(|l| l[bounds[0]..bounds[1]].to_vec().into())
                .unwrap_or_default(),
        )),
    }
}

fn length(args: &[Value]) -> Result<Value, FuncError> {
    arity("len", args, 1)?;
    let v = &args[0];
    let n = match v {
        Value::String(s) => s.len(),
        _ => match (v.as_list(), v.as_map()) {
            (Some(l), _) => l.len(),
            (_, Some(m)) => m.len(),
            _ => return err(format!("len of type {}", v.type_name())),
        },
    };
    Ok(Value::Int(n as i64))
}

/// Go's `int64(v)` on amd64: truncation, and `math.MinInt64` for NaN and values out of range
/// (the processor's "integer indefinite").
pub fn go_int64(v: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if !(-LIMIT..LIMIT).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// Go's `underscoreOK` for a decimal number: each `_` sits between two digits.
fn underscores_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut saw = '^';
    for c in s.chars() {
        if c.is_ascii_digit() {
            saw = '0';
        } else if c == '_' {
            if saw != '0' {
                return false;
            }
            saw = '_';
        } else {
            if saw == '_' {
                return false;
            }
            saw = '!';
        }
    }
    saw != '_'
}

/// Go's `strconv.ParseFloat(s, 64)`: no surrounding spaces; `_` between digits allowed.
fn parse_go_float(s: &str) -> Option<f64> {
    if s.contains('_') {
        if !underscores_ok(s) {
            return None;
        }
        return s.replace('_', "").parse::<f64>().ok();
    }
    s.parse::<f64>().ok().or_else(|| go_special_float(s))
}

/// Go's `unicode.ToUpper` of one rune: the simple, one-to-one mapping. Where the full mapping
/// gives several letters (`ß` → `SS`), Go keeps the letter, except the Greek letters with iota
/// subscript, whose simple upper case is their title-case form.
pub fn go_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => match c as u32 {
            0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => {
                char::from_u32(c as u32 + 8).unwrap_or(c)
            }
            0x1FB3 => '\u{1FBC}',
            0x1FC3 => '\u{1FCC}',
            0x1FF3 => '\u{1FFC}',
            _ => c,
        },
    }
}

/// Go's `unicode.ToLower` of one rune (`İ` → `i`; no final-sigma rule).
pub fn go_lower(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

/// Go's `unicode.ToTitle` of one rune: the upper case, except the Latin digraphs, which have
/// title-case forms of their own (`ǆ` → `ǅ`).
pub fn go_title(c: char) -> char {
    match c as u32 {
        0x1C4..=0x1C6 => '\u{1C5}',
        0x1C7..=0x1C9 => '\u{1C8}',
        0x1CA..=0x1CC => '\u{1CB}',
        0x1F1..=0x1F3 => '\u{1F2}',
        _ => go_upper(c),
    }
}

/// Go's `strings.ToUpper`, rune by rune.
pub fn go_to_upper(s: &str) -> String {
    s.chars().map(go_upper).collect()
}

/// Go's `strings.ToLower`, rune by rune.
pub fn go_to_lower(s: &str) -> String {
    s.chars().map(go_lower).collect()
}

/// Prometheus' `convertToFloat`: numbers, and strings parsed as floats.
pub fn to_float(v: &Value) -> Result<f64, FuncError> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::String(s) => parse_go_float(s).ok_or_else(|| {
            FuncError(format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                super::fmt::quote(s)
            ))
        }),
        v => err(format!("can't convert {} to float", v.type_name())),
    }
}

fn go_special_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    }
}

fn g4(v: f64) -> String {
    sprintf("%.4g", &[Value::Float(v)])
}

/// Prometheus' `humanize`: SI prefixes, 4 significant digits (`1.234k`, `12.5m`).
pub fn humanize(v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus' `humanize1024`: binary prefixes (`1ki`, `1.5Mi`).
pub fn humanize_1024(v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus' `humanizeDuration` of seconds: `1d 2h 3m 4s`, `1.5s`, `250ms`.
pub fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        // Go's int64 conversion: past 2^63 it is the minimum, whose parts come out negative.
        let d = go_int64(v);
        let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        return if days != 0 {
            format!("{sign}{days}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Prometheus' `humanizePercentage`: a ratio as a percentage (`0.1234` → `12.34%`).
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

pub(super) fn func(
    f: impl Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
) -> Func {
    Arc::new(f)
}

pub(super) fn string_fn(name: &'static str, f: fn(&str) -> String) -> Func {
    func(move |a| {
        arity(name, a, 1)?;
        Ok(Value::str(f(string_arg(a, 0)?)))
    })
}

pub(super) fn float_fn(name: &'static str, f: fn(f64) -> String) -> Func {
    func(move |a| {
        arity(name, a, 1)?;
        Ok(Value::str(f(to_float(&a[0])?)))
    })
}

/// Go's `text/template` builtins. `and` and `or` are listed for the parser and run lazily by
/// the executor.
pub fn builtins() -> FuncMap {
    let mut m = FuncMap::new();
    let lazy = func(|_| err("evaluated by the executor"));
    m.insert("and".into(), lazy.clone());
    m.insert("or".into(), lazy);
    m.insert(
        "not".into(),
        func(|a| {
            arity("not", a, 1)?;
            Ok(Value::Bool(!a[0].is_true()))
        }),
    );
    m.insert("len".into(), func(length));
    m.insert("index".into(), func(index));
    m.insert("slice".into(), func(slice));
    m.insert("print".into(), func(|a| Ok(Value::str(sprint(a)))));
    m.insert("println".into(), func(|a| Ok(Value::str(sprintln(a)))));
    m.insert(
        "printf".into(),
        func(|a| {
            let Some((f, rest)) = a.split_first() else {
                return err("wrong number of args for printf: want at least 1 got 0");
            };
            let Value::String(f) = f else {
                return err(format!(
                    "wrong type for value; expected string; got {}",
                    f.type_name()
                ));
            };
            Ok(Value::str(sprintf(f, rest)))
        }),
    );
    m.insert("eq".into(), func(eq));
    m.insert(
        "ne".into(),
        func(|a| {
            arity("ne", a, 2)?;
            Ok(Value::Bool(!eq(a)?.is_true()))
        }),
    );
    for name in ["lt", "le", "gt", "ge"] {
        m.insert(name.into(), func(move |a| compare(name, a)));
    }
    m.insert(
        "html".into(),
        func(|a| Ok(Value::str(html_escape(&eval_args(a))))),
    );
    m.insert(
        "js".into(),
        func(|a| Ok(Value::str(js_escape(&eval_args(a))))),
    );
    m.insert(
        "urlquery".into(),
        func(|a| Ok(Value::str(query_escape(&eval_args(a))))),
    );
    m
}

/// `match` (Go's `regexp.MatchString`, unanchored) and `reReplaceAll`, which Alertmanager and
/// Prometheus define alike.
pub(super) fn insert_regex_funcs(m: &mut FuncMap) {
    m.insert(
        "match".into(),
        func(|a| {
            arity("match", a, 2)?;
            let re = regex::Regex::new(string_arg(a, 0)?).map_err(|e| FuncError(e.to_string()))?;
            Ok(Value::Bool(re.is_match(string_arg(a, 1)?)))
        }),
    );
    m.insert(
        "reReplaceAll".into(),
        func(|a| {
            arity("reReplaceAll", a, 3)?;
            let re = regex::Regex::new(string_arg(a, 0)?).map_err(|e| FuncError(e.to_string()))?;
            Ok(Value::str(
                re.replace_all(string_arg(a, 2)?, string_arg(a, 1)?)
                    .into_owned(),
            ))
        }),
    );
}

/// Alertmanager's template functions (`template.DefaultFuncs`, 0.25 plus `trimSpace`, `date`,
/// `tz`, `since` and `humanizeDuration` of later releases).
pub fn alertmanager() -> FuncMap {
    let mut m = FuncMap::new();
    m.insert("toUpper".into(), string_fn("toUpper", go_to_upper));
    m.insert("toLower".into(), string_fn("toLower", go_to_lower));
    m.insert("title".into(), string_fn("title", title));
    m.insert(
        "trimSpace".into(),
        string_fn("trimSpace", |s| s.trim().to_string()),
    );
    m.insert("safeHtml".into(), string_fn("safeHtml", str::to_string));
    m.insert(
        "join".into(),
        func(|a| {
            arity("join", a, 2)?;
            let sep = string_arg(a, 0)?;
            let Some(l) = a[1].as_list() else {
                return err(format!(
                    "wrong type for value; expected []string; got {}",
                    a[1].type_name()
                ));
            };
            let parts = l
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.to_string()),
                    v => err(format!(
                        "wrong type for value; expected string; got {}",
                        v.type_name()
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::str(parts.join(sep)))
        }),
    );
    insert_regex_funcs(&mut m);
    m.insert(
        "stringSlice".into(),
        func(|a| {
            for i in 0..a.len() {
                string_arg(a, i)?;
            }
            Ok(Value::List(a.to_vec().into()))
        }),
    );
    m.insert(
        "date".into(),
        func(|a| {
            arity("date", a, 2)?;
            Ok(Value::str(time_arg(a, 1)?.format(string_arg(a, 0)?)))
        }),
    );
    m.insert(
        "tz".into(),
        func(|a| {
            arity("tz", a, 2)?;
            let name = string_arg(a, 0)?;
            let tz =
                TimeZone::get(name).map_err(|_| FuncError(format!("unknown time zone {name}")))?;
            Ok(Time {
                ts: time_arg(a, 1)?.ts,
                tz,
            }
            .value())
        }),
    );
    m.insert(
        "since".into(),
        func(|a| {
            arity("since", a, 1)?;
            let t = time_arg(a, 0)?;
            let ns = Timestamp::now().as_nanosecond() - t.ts.as_nanosecond();
            Ok(Duration(ns.clamp(i64::MIN.into(), i64::MAX.into()) as i64).value())
        }),
    );
    m.insert(
        "humanizeDuration".into(),
        func(|a| {
            arity("humanizeDuration", a, 1)?;
            let secs = match &a[0] {
                Value::Object(o) if o.type_name() == "time.Duration" => match o.get("Seconds", &[])
                {
                    Some(Ok(Value::Float(s))) => s,
                    _ => return err("can't convert time.Duration to float"),
                },
                v => to_float(v)?,
            };
            Ok(Value::str(humanize_duration(secs)))
        }),
    );
    insert_humanize_funcs(&mut m);
    m
}

/// `humanize`, `humanize1024`, `humanizePercentage` and `humanizeTimestamp`, which
/// Alertmanager and Prometheus define alike (each takes a number or a numeric string).
pub(super) fn insert_humanize_funcs(m: &mut FuncMap) {
    m.insert("humanize".into(), float_fn("humanize", humanize));
    m.insert(
        "humanize1024".into(),
        float_fn("humanize1024", humanize_1024),
    );
    m.insert(
        "humanizePercentage".into(),
        float_fn("humanizePercentage", humanize_percentage),
    );
    m.insert(
        "humanizeTimestamp".into(),
        func(|a| {
            arity("humanizeTimestamp", a, 1)?;
            super::prometheus::humanize_timestamp(to_float(&a[0])?).map(Value::str)
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_functions_give_prometheus_text() {
        assert_eq!(humanize(1234.0), "1.234k");
        assert_eq!(humanize(0.0125), "12.5m");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(1e30), "1e+06Y");
        assert_eq!(humanize_1024(1536.0), "1.5ki");
        assert_eq!(humanize_duration(93784.0), "1d 2h 3m 4s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.25), "250ms");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_percentage(0.12345), "12.35%");
        assert_eq!(strings_title("hello wORLD-foo_bar"), "Hello WORLD-Foo_bar");
        assert_eq!(
            title("hello wORLD-foo_bar o'neil 3am"),
            "Hello World-Foo_bar O'neil 3Am"
        );
    }
}
