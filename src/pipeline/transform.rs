//! The `transform` stage's declarative field mapping, from `transforms/<pipeline>.toml`: per
//! stream (or `*` for every stream), steps applied in order to each record's top-level fields.
//!
//! ```toml
//! [[streams]]
//! name = "*"
//! steps = [
//!   { op = "rename", from = "dealer_id", to = "dealer" },
//!   { op = "drop", field = "source" },
//!   { op = "cast", field = "amount", to = "number" },        # number, integer, string, boolean
//!   { op = "default", field = "status", value = "open" },
//!   { op = "date", field = "updated_at", formats = ["rfc3339", "%m/%d/%Y %H:%M"] },
//! ]
//! ```
//!
//! A step that cannot apply (a value that does not cast, a date in none of the formats) fails
//! the record as `schema`, naming the field: it goes to the DLQ, never half-transformed.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};
use toml::Spanned;

use super::stage::RecordFailure;
use crate::config::{Problem, Problems, line_of};
use crate::domain::ErrorClass;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CastTo {
    Number,
    Integer,
    String,
    Boolean,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Rename {
        from: String,
        to: String,
    },
    Drop {
        field: String,
    },
    Cast {
        field: String,
        to: CastTo,
    },
    Default {
        field: String,
        value: Value,
    },
    /// Parses with the first format that fits and writes RFC 3339 in UTC.
    Date {
        field: String,
        formats: Vec<String>,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transform {
    /// (stream name or `*`, steps), in file order; every entry that names the stream applies.
    streams: Vec<(String, Vec<Step>)>,
}

fn failure(field: &str, message: String) -> RecordFailure {
    RecordFailure {
        class: ErrorClass::Schema,
        message: format!("field {field}: {message}"),
    }
}

impl Transform {
    /// Applies every step for `stream` to one record.
    pub fn apply(&self, stream: &str, record: Value) -> Result<Value, RecordFailure> {
        let mut obj = match record {
            Value::Object(o) => o,
            _ => {
                return Err(RecordFailure {
                    class: ErrorClass::Schema,
                    message: "record is not a JSON object".into(),
                });
            }
        };
        for (name, steps) in &self.streams {
            if name != "*" && name != stream {
                continue;
            }
            for step in steps {
                apply_step(step, &mut obj)?;
            }
        }
        Ok(Value::Object(obj))
    }
}

fn apply_step(step: &Step, obj: &mut Map<String, Value>) -> Result<(), RecordFailure> {
    match step {
        Step::Rename { from, to } => {
            if let Some(v) = obj.remove(from) {
                obj.insert(to.clone(), v);
            }
        }
        Step::Drop { field } => {
            obj.remove(field);
        }
        Step::Default { field, value } => {
            if obj.get(field).is_none_or(Value::is_null) {
                obj.insert(field.clone(), value.clone());
            }
        }
        Step::Cast { field, to } => {
            if let Some(v) = obj.get_mut(field).filter(|v| !v.is_null()) {
                *v = cast(v, *to).ok_or_else(|| {
                    failure(field, format!("cannot cast {v} to {}", cast_name(*to)))
                })?;
            }
        }
        Step::Date { field, formats } => {
            if let Some(v) = obj.get_mut(field).filter(|v| !v.is_null()) {
                let text = v
                    .as_str()
                    .ok_or_else(|| failure(field, format!("expected a date as text, got {v}")))?;
                let t = parse_date(text, formats).ok_or_else(|| {
                    failure(
                        field,
                        format!("{text:?} is in none of the formats {}", formats.join(", ")),
                    )
                })?;
                *v = Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            }
        }
    }
    Ok(())
}

fn cast_name(to: CastTo) -> &'static str {
    match to {
        CastTo::Number => "number",
        CastTo::Integer => "integer",
        CastTo::String => "string",
        CastTo::Boolean => "boolean",
    }
}

fn cast(v: &Value, to: CastTo) -> Option<Value> {
    let number = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        }
    };
    match to {
        CastTo::Number => {
            number(v).and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
        }
        CastTo::Integer => {
            let f = number(v)?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then(|| Value::from(f as i64))
        }
        CastTo::String => Some(match v {
            Value::String(s) => Value::String(s.clone()),
            Value::Number(_) | Value::Bool(_) => Value::String(v.to_string()),
            _ => return None,
        }),
        CastTo::Boolean => match v {
            Value::Bool(b) => Some(Value::Bool(*b)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Some(Value::Bool(true)),
                "false" | "no" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(Value::Bool(true)),
                Some(0) => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        },
    }
}

/// `rfc3339`, or a chrono format: with an offset (`%z`), as a UTC date and time, or as a date.
fn parse_date(text: &str, formats: &[String]) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
    formats.iter().find_map(|f| {
        if f == "rfc3339" {
            return DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.with_timezone(&Utc));
        }
        DateTime::parse_from_str(text, f)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                NaiveDateTime::parse_from_str(text, f)
                    .ok()
                    .map(|t| t.and_utc())
            })
            .or_else(|| {
                NaiveDate::parse_from_str(text, f)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
            })
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    streams: Vec<RawStream>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStream {
    name: Spanned<String>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    op: String,
    field: Option<String>,
    from: Option<String>,
    to: Option<String>,
    value: Option<toml::Value>,
    formats: Option<Vec<String>>,
}

pub fn load(path: &Path) -> Result<Transform, Problems> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(path, None, format!("cannot read transform file: {e}")))?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Transform, Problems> {
    let raw: RawFile = toml::from_str(text).map_err(|e| Problem::from_toml(path, text, &e))?;
    let mut problems = Vec::new();
    let mut streams = Vec::new();
    for (i, s) in raw.streams.iter().enumerate() {
        let name = s.name.get_ref().clone();
        if name.is_empty() {
            problems.push(Problem::new(
                path,
                Some(line_of(text, s.name.span().start)),
                format!("streams[{i}].name: must not be empty (\"*\" is every stream)"),
            ));
        }
        let mut steps = Vec::new();
        for (j, st) in s.steps.iter().enumerate() {
            let key = format!("streams[{i}].steps[{j}]");
            match step(st.get_ref()) {
                Ok(step) => steps.push(step),
                Err(m) => problems.push(Problem::new(
                    path,
                    Some(line_of(text, st.span().start)),
                    format!("{key}.{m}"),
                )),
            }
        }
        streams.push((name, steps));
    }
    if problems.is_empty() {
        Ok(Transform { streams })
    } else {
        Err(Problems(problems))
    }
}

fn step(r: &RawStep) -> Result<Step, String> {
    let need = |v: &Option<String>, name: &str| -> Result<String, String> {
        match v {
            Some(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(format!("{name}: required for op {:?}", r.op)),
        }
    };
    let unused = |allowed: &[&str]| -> Result<(), String> {
        let given = [
            ("field", r.field.is_some()),
            ("from", r.from.is_some()),
            ("to", r.to.is_some()),
            ("value", r.value.is_some()),
            ("formats", r.formats.is_some()),
        ];
        match given.iter().find(|(k, set)| *set && !allowed.contains(k)) {
            Some((k, _)) => Err(format!("{k}: not used by op {:?}", r.op)),
            None => Ok(()),
        }
    };
    Ok(match r.op.as_str() {
        "rename" => {
            unused(&["from", "to"])?;
            Step::Rename {
                from: need(&r.from, "from")?,
                to: need(&r.to, "to")?,
            }
        }
        "drop" => {
            unused(&["field"])?;
            Step::Drop {
                field: need(&r.field, "field")?,
            }
        }
        "cast" => {
            unused(&["field", "to"])?;
            let to = match need(&r.to, "to")?.as_str() {
                "number" => CastTo::Number,
                "integer" => CastTo::Integer,
                "string" => CastTo::String,
                "boolean" => CastTo::Boolean,
                other => {
                    return Err(format!(
                        "to: {other:?} is not one of number, integer, string, boolean"
                    ));
                }
            };
            Step::Cast {
                field: need(&r.field, "field")?,
                to,
            }
        }
        "default" => {
            unused(&["field", "value"])?;
            let value = r
                .value
                .clone()
                .ok_or_else(|| "value: required for op \"default\"".to_string())?;
            Step::Default {
                field: need(&r.field, "field")?,
                value: serde_json::to_value(value).map_err(|e| format!("value: {e}"))?,
            }
        }
        "date" => {
            unused(&["field", "formats"])?;
            let formats = r.formats.clone().unwrap_or_else(|| vec!["rfc3339".into()]);
            if formats.is_empty() {
                return Err("formats: at least one format is required".into());
            }
            for f in &formats {
                if f != "rfc3339"
                    && chrono::format::StrftimeItems::new(f)
                        .any(|i| matches!(i, chrono::format::Item::Error))
                {
                    return Err(format!("formats: {f:?} is not a valid date format"));
                }
            }
            Step::Date {
                field: need(&r.field, "field")?,
                formats,
            }
        }
        other => {
            return Err(format!(
                "op: {other:?} is not one of rename, drop, cast, default, date"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FILE: &str = r#"
[[streams]]
name = "*"
steps = [
  { op = "rename", from = "dealer_id", to = "dealer" },
  { op = "drop", field = "source" },
]

[[streams]]
name = "repair_orders"
steps = [
  { op = "cast", field = "amount", to = "number" },
  { op = "cast", field = "lines", to = "integer" },
  { op = "default", field = "status", value = "open" },
  { op = "date", field = "updated_at", formats = ["rfc3339", "%m/%d/%Y %H:%M"] },
]
"#;

    fn transform() -> Transform {
        parse(Path::new("transforms/dms.toml"), FILE).unwrap()
    }

    #[test]
    fn steps_apply_in_order_to_the_named_streams() {
        let t = transform();
        let out = t
            .apply(
                "repair_orders",
                json!({"id": "r1", "dealer_id": "d1", "source": "cdk", "amount": "12.50",
                       "lines": "3", "updated_at": "11/21/2026 10:05"}),
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"id": "r1", "dealer": "d1", "amount": 12.5, "lines": 3, "status": "open",
                   "updated_at": "2026-11-21T10:05:00Z"})
        );
        // Only the `*` steps for another stream; RFC 3339 with an offset becomes UTC.
        let out = t
            .apply("appointments", json!({"dealer_id": "d2", "amount": "7"}))
            .unwrap();
        assert_eq!(out, json!({"dealer": "d2", "amount": "7"}));
        let out = t
            .apply(
                "repair_orders",
                json!({"updated_at": "2026-11-21T12:00:00+02:00", "status": "closed"}),
            )
            .unwrap();
        assert_eq!(out["updated_at"], "2026-11-21T10:00:00Z");
        assert_eq!(
            out["status"], "closed",
            "a default fills only what is missing"
        );
    }

    #[test]
    fn a_value_that_does_not_fit_fails_the_record_naming_the_field() {
        let t = transform();
        for (record, message) in [
            (
                json!({"amount": "12.00 USD"}),
                "field amount: cannot cast \"12.00 USD\" to number",
            ),
            (
                json!({"lines": 2.5}),
                "field lines: cannot cast 2.5 to integer",
            ),
            (
                json!({"updated_at": "yesterday"}),
                "field updated_at: \"yesterday\" is in none of the formats rfc3339, %m/%d/%Y %H:%M",
            ),
            (
                json!({"updated_at": 5}),
                "field updated_at: expected a date as text, got 5",
            ),
            (json!([1]), "record is not a JSON object"),
        ] {
            let f = t.apply("repair_orders", record).unwrap_err();
            assert_eq!(f.class, ErrorClass::Schema);
            assert_eq!(f.message, message);
        }
    }

    #[test]
    fn casts_convert_what_has_a_clear_meaning() {
        let c = |v: Value, to| cast(&v, to);
        assert_eq!(c(json!(" 4 "), CastTo::Integer), Some(json!(4)));
        assert_eq!(c(json!(4.0), CastTo::Integer), Some(json!(4)));
        assert_eq!(c(json!(12), CastTo::String), Some(json!("12")));
        assert_eq!(c(json!("yes"), CastTo::Boolean), Some(json!(true)));
        assert_eq!(c(json!(0), CastTo::Boolean), Some(json!(false)));
        assert_eq!(c(json!("maybe"), CastTo::Boolean), None);
        assert_eq!(c(json!("NaN"), CastTo::Number), None);
        assert_eq!(c(json!({"a": 1}), CastTo::String), None);
    }

    #[test]
    fn bad_steps_are_named_with_their_line() {
        let text = r#"
[[streams]]
name = "*"
steps = [
  { op = "rename", from = "a" },
  { op = "cast", field = "b", to = "decimal" },
  { op = "explode", field = "c" },
  { op = "drop", field = "d", to = "e" },
  { op = "date", field = "e", formats = ["%Q"] },
]
"#;
        let err = parse(Path::new("t.toml"), text).unwrap_err().to_string();
        for want in [
            "t.toml:5: streams[0].steps[0].to: required for op \"rename\"",
            "t.toml:6: streams[0].steps[1].to: \"decimal\" is not one of number, integer, string, boolean",
            "t.toml:7: streams[0].steps[2].op: \"explode\" is not one of rename, drop, cast, default, date",
            "t.toml:8: streams[0].steps[3].to: not used by op \"drop\"",
            "t.toml:9: streams[0].steps[4].formats: \"%Q\" is not a valid date format",
        ] {
            assert!(err.contains(want), "{want}\n in {err}");
        }
        let err = parse(Path::new("t.toml"), "[[streams]]\nnme = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.toml:2") && err.contains("unknown field `nme`"),
            "{err}"
        );
    }
}
