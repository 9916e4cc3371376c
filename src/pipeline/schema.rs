//! JSON Schemas per stream for the `validate` stage, and schema drift.
//!
//! A pipeline's schema directory holds `<stream>.json`, or `<provider>/<stream>.json` for one
//! provider's stream (which wins). A record that fails its schema goes to the DLQ; either way
//! its differences from the schema are drift, classified:
//!
//! - `unexpected_field`: a top-level field the schema does not declare. Breaking when the schema
//!   forbids it (`additionalProperties: false`), otherwise not (an additive change).
//! - `missing_field`: a declared field absent. Breaking when `required`, otherwise not.
//! - `type_changed`: a value of another type than the schema's. Always breaking.
//! - `invalid_value`: any other violation (format, enum, range...). Always breaking.
//!
//! A stream without a schema file gets the built-in checks only (an `id`, known field types).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::stage::RecordFailure;
use crate::config::{Problem, Problems};
use crate::domain::ErrorClass;

/// How a record differs from its stream's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    UnexpectedField,
    MissingField,
    TypeChanged,
    InvalidValue,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::UnexpectedField => "unexpected_field",
            Change::MissingField => "missing_field",
            Change::TypeChanged => "type_changed",
            Change::InvalidValue => "invalid_value",
        }
    }
}

/// One difference of one record from its schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Drift {
    pub change: Change,
    /// Where in the record (a JSON pointer such as `/amount`).
    pub field: String,
    pub breaking: bool,
}

/// What checking a record found: its drift, and whether it failed the schema.
#[derive(Debug, Default)]
pub struct Checked {
    pub drift: Vec<Drift>,
    pub failure: Option<RecordFailure>,
}

pub struct StreamSchema {
    pub path: PathBuf,
    validator: jsonschema::Validator,
    /// Top-level `properties` the schema declares.
    declared: BTreeSet<String>,
    required: BTreeSet<String>,
    /// `additionalProperties: false`.
    closed: bool,
}

impl std::fmt::Debug for StreamSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamSchema({})", self.path.display())
    }
}

/// A pipeline's schemas: by (provider, stream), where `None` is every provider.
#[derive(Debug, Default)]
pub struct Schemas {
    by_stream: BTreeMap<(Option<String>, String), StreamSchema>,
}

impl Schemas {
    pub fn is_empty(&self) -> bool {
        self.by_stream.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_stream.len()
    }

    /// The schema of a provider's stream: its own, or the stream's for every provider.
    pub fn get(&self, provider: &str, stream: &str) -> Option<&StreamSchema> {
        self.by_stream
            .get(&(Some(provider.to_string()), stream.to_string()))
            .or_else(|| self.by_stream.get(&(None, stream.to_string())))
    }
}

impl StreamSchema {
    pub fn parse(path: &Path, text: &str) -> Result<Self, Problem> {
        let schema: Value = serde_json::from_str(text).map_err(|e| {
            Problem::new(
                path,
                Some(e.line()),
                format!("not JSON: {e} (column {})", e.column()),
            )
        })?;
        let validator = jsonschema::validator_for(&schema).map_err(|e| {
            // Checked against the meta-schema: the instance is the user's schema.
            let at = e.instance_path().as_str().to_string();
            Problem::new(
                path,
                line_of_pointer(text, &at),
                format!(
                    "not a valid JSON Schema at {}: {e}",
                    if at.is_empty() { "/" } else { &at }
                ),
            )
        })?;
        let names = |v: Option<&Value>| -> BTreeSet<String> {
            match v {
                Some(Value::Object(m)) => m.keys().cloned().collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => BTreeSet::new(),
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            validator,
            declared: names(schema.get("properties")),
            required: names(schema.get("required")),
            closed: schema.get("additionalProperties") == Some(&Value::Bool(false)),
        })
    }

    /// Checks one record against the schema.
    pub fn check(&self, record: &Value) -> Checked {
        let mut drift = Vec::new();
        let mut messages = Vec::new();
        for e in self.validator.iter_errors(record) {
            let at = e.instance_path().as_str().to_string();
            match e.kind() {
                ValidationErrorKind::Required { property } => {
                    let name = property
                        .as_str()
                        .map_or(property.to_string(), str::to_string);
                    drift.push(Drift {
                        change: Change::MissingField,
                        field: format!("{at}/{name}"),
                        breaking: true,
                    });
                }
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    for name in unexpected {
                        drift.push(Drift {
                            change: Change::UnexpectedField,
                            field: format!("{at}/{name}"),
                            breaking: true,
                        });
                    }
                }
                ValidationErrorKind::Type { .. } => drift.push(Drift {
                    change: Change::TypeChanged,
                    field: at.clone(),
                    breaking: true,
                }),
                _ => drift.push(Drift {
                    change: Change::InvalidValue,
                    field: at.clone(),
                    breaking: true,
                }),
            }
            let at = if at.is_empty() { "/".to_string() } else { at };
            messages.push(format!("{at}: {e}"));
        }
        // Differences the schema allows: fields it does not declare, optional ones absent.
        if let Value::Object(fields) = record {
            if !self.closed && !self.declared.is_empty() {
                for name in fields.keys().filter(|k| !self.declared.contains(*k)) {
                    drift.push(Drift {
                        change: Change::UnexpectedField,
                        field: format!("/{name}"),
                        breaking: false,
                    });
                }
            }
            for name in self
                .declared
                .iter()
                .filter(|k| !fields.contains_key(*k) && !self.required.contains(*k))
            {
                drift.push(Drift {
                    change: Change::MissingField,
                    field: format!("/{name}"),
                    breaking: false,
                });
            }
        }
        drift.sort();
        drift.dedup();
        let failure = (!messages.is_empty()).then(|| RecordFailure {
            class: ErrorClass::Schema,
            message: format!(
                "schema {}: {}",
                self.path.file_name().map_or_else(
                    || self.path.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                ),
                messages.join("; ")
            ),
        });
        Checked { drift, failure }
    }
}

/// The line of a schema file where a JSON pointer's last key is written, roughly (the first
/// `"key":` after the keys before it).
fn line_of_pointer(text: &str, pointer: &str) -> Option<usize> {
    let mut from = 0;
    for key in pointer.split('/').filter(|k| !k.is_empty()) {
        let needle = format!("\"{key}\"");
        match text[from..].find(&needle) {
            Some(i) => from += i + needle.len(),
            None => break,
        }
    }
    Some(text[..from].matches('\n').count() + 1)
}

/// Loads every `*.json` under `dir` (one level of provider directories). A missing directory
/// has no schemas.
pub fn load_dir(dir: &Path) -> Result<Schemas, Problems> {
    let mut schemas = Schemas::default();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(schemas);
    };
    let mut files: Vec<(Option<String>, PathBuf)> = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            let provider = e.file_name().to_string_lossy().into_owned();
            for f in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                files.push((Some(provider.clone()), f.path()));
            }
        } else {
            files.push((None, path));
        }
    }
    files.sort();
    for (provider, path) in files {
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let stream = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem::new(
                    &path,
                    None,
                    format!("cannot read schema: {e}"),
                ));
                continue;
            }
        };
        match StreamSchema::parse(&path, &text) {
            Ok(s) => {
                schemas.by_stream.insert((provider, stream), s);
            }
            Err(p) => problems.push(p),
        }
    }
    Problems::or_ok(problems, schemas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SCHEMA: &str = r#"{
  "type": "object",
  "required": ["id", "amount"],
  "properties": {
    "id": {"type": "string"},
    "amount": {"type": "number"},
    "status": {"enum": ["open", "closed"]},
    "note": {"type": "string"}
  }
}"#;

    fn schema(text: &str) -> StreamSchema {
        StreamSchema::parse(Path::new("schemas/repair_orders.json"), text).unwrap()
    }

    fn drift(c: &Checked) -> Vec<(Change, &str, bool)> {
        c.drift
            .iter()
            .map(|d| (d.change, d.field.as_str(), d.breaking))
            .collect()
    }

    #[test]
    fn a_matching_record_has_no_drift() {
        let c = schema(SCHEMA)
            .check(&json!({"id": "r1", "amount": 1.5, "status": "open", "note": "x"}));
        assert!(c.failure.is_none());
        assert!(c.drift.is_empty(), "{:?}", c.drift);
    }

    #[test]
    fn additive_changes_are_non_breaking_drift_and_the_record_passes() {
        let c =
            schema(SCHEMA).check(&json!({"id": "r1", "amount": 1, "status": "open", "vin": "X"}));
        assert!(c.failure.is_none());
        assert_eq!(
            drift(&c),
            vec![
                (Change::UnexpectedField, "/vin", false),
                (Change::MissingField, "/note", false),
            ]
        );
    }

    #[test]
    fn type_changes_and_missing_required_fields_are_breaking_and_fail_the_record() {
        let c = schema(SCHEMA)
            .check(&json!({"id": "r1", "amount": "12.00 USD", "note": "x", "status": "open"}));
        assert_eq!(drift(&c), vec![(Change::TypeChanged, "/amount", true)]);
        let f = c.failure.unwrap();
        assert_eq!(f.class, ErrorClass::Schema);
        assert!(
            f.message
                .starts_with("schema repair_orders.json: /amount: "),
            "{}",
            f.message
        );
        assert!(f.message.contains("\"12.00 USD\""), "{}", f.message);

        let c = schema(SCHEMA).check(&json!({"id": "r1", "note": "x", "status": "lost"}));
        assert_eq!(
            drift(&c),
            vec![
                (Change::MissingField, "/amount", true),
                (Change::InvalidValue, "/status", true),
            ]
        );
    }

    #[test]
    fn a_closed_schema_makes_unexpected_fields_breaking() {
        let closed = SCHEMA.replacen(
            "\"type\": \"object\",",
            "\"type\": \"object\", \"additionalProperties\": false,",
            1,
        );
        let c = schema(&closed)
            .check(&json!({"id": "r1", "amount": 1, "note": "x", "status": "open", "vin": "X"}));
        assert_eq!(drift(&c), vec![(Change::UnexpectedField, "/vin", true)]);
        assert!(c.failure.is_some());
    }

    #[test]
    fn bad_schema_files_name_their_line() {
        let err = StreamSchema::parse(Path::new("s.json"), "{\n  \"type\": \"object\",\n  oops\n}")
            .unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.starts_with("not JSON: "), "{}", err.message);
        let err = StreamSchema::parse(
            Path::new("s.json"),
            "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"amount\": {\"type\": \"money\"}\n  }\n}",
        )
        .unwrap_err();
        assert!(
            err.message
                .starts_with("not a valid JSON Schema at /properties/amount/type"),
            "{}",
            err.message
        );
        assert_eq!(err.line, Some(4));
    }

    #[test]
    fn a_providers_own_schema_wins_over_the_streams() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("repair_orders.json"), SCHEMA).unwrap();
        std::fs::create_dir(dir.path().join("cdk")).unwrap();
        std::fs::write(
            dir.path().join("cdk/repair_orders.json"),
            r#"{"type": "object", "required": ["ro_number"]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "not a schema").unwrap();
        let s = load_dir(dir.path()).unwrap();
        assert_eq!(s.len(), 2);
        let record = json!({"id": "r1", "amount": 1});
        assert!(
            s.get("tekion", "repair_orders")
                .unwrap()
                .check(&record)
                .failure
                .is_none()
        );
        assert!(
            s.get("cdk", "repair_orders")
                .unwrap()
                .check(&record)
                .failure
                .is_some()
        );
        assert!(s.get("tekion", "appointments").is_none());
        assert!(load_dir(&dir.path().join("missing")).unwrap().is_empty());
    }
}
