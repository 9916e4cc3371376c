//! Deterministic records: the same provider, connection and page always give the same records,
//! so tests can count what a sync must store.

use serde_json::{Value, json};

/// Records each connection has in its stream.
pub const RECORDS_PER_CONNECTION: usize = 120;

/// The providers the simulator serves.
pub const PROVIDERS: [&str; 5] = ["tekion", "cdk", "xtime", "mykaarma", "dealerfx"];

/// Every record is updated once per cycle, record `i` at `i / RECORDS_PER_CONNECTION` of the
/// way through it: a connection sees a change every 10 seconds, so incremental syncs usually
/// have something new.
pub const UPDATE_CYCLE_MS: i64 = 1_200_000;

/// The records of a connection's stream as of `now_ms`, changed after `since` (RFC 3339,
/// compared as text), in a fixed order.
pub fn records(
    provider: &str,
    connection: &str,
    stream: &str,
    since: Option<&str>,
    now_ms: i64,
) -> Vec<Value> {
    (0..RECORDS_PER_CONNECTION)
        .map(|i| record(provider, connection, stream, i, now_ms))
        .filter(|r| since.is_none_or(|s| r["updated_at"].as_str().is_some_and(|u| u > s)))
        .collect()
}

/// When record `i` last changed, at or before `now_ms`.
fn updated_at_ms(i: usize, now_ms: i64) -> i64 {
    let offset = UPDATE_CYCLE_MS * i as i64 / RECORDS_PER_CONNECTION as i64;
    let k = (now_ms - offset).div_euclid(UPDATE_CYCLE_MS);
    offset + k * UPDATE_CYCLE_MS
}

fn record(provider: &str, connection: &str, stream: &str, i: usize, now_ms: i64) -> Value {
    let status = ["open", "in_progress", "closed"][i % 3];
    json!({
        "id": format!("{connection}-{stream}-{i:05}"),
        "dealer_id": connection,
        "number": format!("RO{:06}", 100_000 + i),
        "status": status,
        "amount": ((i * 3719) % 100_000) as f64 / 100.0,
        "updated_at": chrono::DateTime::from_timestamp_millis(updated_at_ms(i, now_ms))
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        "source": provider,
    })
}

/// A record damaged the way a drifting provider damages them: no id, a number as a string.
pub fn malform(mut record: Value) -> Value {
    if let Some(obj) = record.as_object_mut() {
        obj.remove("id");
        if let Some(a) = obj.get("amount").and_then(Value::as_f64) {
            obj.insert("amount".into(), Value::String(format!("{a:.2} USD")));
        }
    }
    record
}

/// A record whose formats drifted: `updated_at` as `MM/DD/YYYY HH:MM`, `amount` as a string.
pub fn drift(mut record: Value) -> Value {
    if let Some(obj) = record.as_object_mut() {
        if let Some(t) = obj
            .get("updated_at")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            obj.insert(
                "updated_at".into(),
                Value::String(t.format("%m/%d/%Y %H:%M").to_string()),
            );
        }
        if let Some(a) = obj.get("amount").and_then(Value::as_f64) {
            obj.insert("amount".into(), Value::String(format!("{a:.2}")));
        }
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000;

    #[test]
    fn records_are_deterministic_and_filtered_by_since() {
        let all = records("cdk", "d1", "repair_orders", None, NOW);
        assert_eq!(all.len(), RECORDS_PER_CONNECTION);
        assert_eq!(all[0]["id"], "d1-repair_orders-00000");
        assert_eq!(
            records("cdk", "d1", "repair_orders", None, NOW),
            all,
            "deterministic"
        );
        let newest = all
            .iter()
            .filter_map(|r| r["updated_at"].as_str())
            .max()
            .unwrap()
            .to_string();
        assert!(records("cdk", "d1", "repair_orders", Some(&newest), NOW).is_empty());
        // A hundred seconds later about ten records changed.
        let changed = records("cdk", "d1", "repair_orders", Some(&newest), NOW + 100_000);
        assert!((9..=11).contains(&changed.len()), "{}", changed.len());
    }

    #[test]
    fn each_record_changes_once_a_cycle() {
        for i in [0, 1, 59, 119] {
            let t = updated_at_ms(i, NOW);
            assert!(t <= NOW && NOW - t < UPDATE_CYCLE_MS, "{i}");
            assert_eq!(updated_at_ms(i, t), t);
            assert_eq!(updated_at_ms(i, t - 1), t - UPDATE_CYCLE_MS);
        }
    }

    #[test]
    fn drifted_records_keep_their_id_but_change_formats() {
        let r = drift(records("cdk", "d1", "repair_orders", None, NOW)[0].clone());
        assert_eq!(r["id"], "d1-repair_orders-00000");
        let t = r["updated_at"].as_str().unwrap();
        assert_eq!(t.len(), "11/21/2026 10:00".len(), "{t}");
        assert!(r["amount"].is_string());
    }

    #[test]
    fn malformed_records_lose_their_id() {
        let bad = malform(records("cdk", "d1", "repair_orders", None, NOW)[0].clone());
        assert!(bad.get("id").is_none());
        assert!(bad["amount"].is_string());
    }
}
