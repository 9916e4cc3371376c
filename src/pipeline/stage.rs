//! Stage functions, pure: what a stage decides about each record.

use serde_json::Value;

use crate::domain::ErrorClass;
use crate::store::StoredRecord;

/// Why a record failed a stage.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFailure {
    pub class: ErrorClass,
    pub message: String,
}

fn schema(message: impl Into<String>) -> RecordFailure {
    RecordFailure {
        class: ErrorClass::Schema,
        message: message.into(),
    }
}

/// Fields whose type is checked when present.
const NUMBER_FIELDS: [&str; 1] = ["amount"];
const STRING_FIELDS: [&str; 2] = ["updated_at", "status"];

/// The id of a record: a JSON object with a non-empty `id` (string or integer), which the
/// store keys records by.
pub fn record_id(record: &Value) -> Result<String, RecordFailure> {
    let obj = record
        .as_object()
        .ok_or_else(|| schema("record is not a JSON object"))?;
    match obj.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(_) => Err(schema(
            "field id: expected a non-empty string or an integer",
        )),
        None => Err(schema("field id: missing")),
    }
}

/// Validates one record of a stream without a JSON Schema: an id, and the known fields of the
/// right type. Returns the record id.
pub fn validate(record: &Value) -> Result<String, RecordFailure> {
    let id = record_id(record)?;
    let Some(obj) = record.as_object() else {
        return Err(schema("record is not a JSON object"));
    };
    for f in NUMBER_FIELDS {
        if let Some(v) = obj.get(f).filter(|v| !v.is_null() && !v.is_number()) {
            return Err(schema(format!("field {f}: expected a number, got {v}")));
        }
    }
    for f in STRING_FIELDS {
        if let Some(v) = obj.get(f).filter(|v| !v.is_null() && !v.is_string()) {
            return Err(schema(format!("field {f}: expected a string, got {v}")));
        }
    }
    Ok(id)
}

/// A validated record as the store stage writes it.
pub fn to_stored(
    provider: &str,
    connection: &str,
    stream: &str,
    record: &Value,
) -> Result<StoredRecord, RecordFailure> {
    let id = record_id(record)?;
    Ok(StoredRecord {
        provider: provider.to_string(),
        stream: stream.to_string(),
        record_id: id,
        connection: connection.to_string(),
        payload: record.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_good_record_yields_its_id() {
        assert_eq!(validate(&json!({"id": "r1", "amount": 1.5})).unwrap(), "r1");
        assert_eq!(validate(&json!({"id": 42})).unwrap(), "42");
    }

    #[test]
    fn bad_records_say_which_field() {
        assert_eq!(
            validate(&json!([1])).unwrap_err().message,
            "record is not a JSON object"
        );
        assert_eq!(
            validate(&json!({"amount": 1})).unwrap_err().message,
            "field id: missing"
        );
        assert_eq!(
            validate(&json!({"id": ""})).unwrap_err().class,
            ErrorClass::Schema
        );
        assert_eq!(
            validate(&json!({"id": "x", "amount": "12.00 USD"}))
                .unwrap_err()
                .message,
            "field amount: expected a number, got \"12.00 USD\""
        );
    }
}
