//! Deterministic records: the same provider, connection and page always give the same records,
//! so tests can count what a sync must store.

use serde_json::{Value, json};

/// Records each connection has in its stream.
pub const RECORDS_PER_CONNECTION: usize = 120;

/// The providers the simulator serves.
pub const PROVIDERS: [&str; 5] = ["tekion", "cdk", "xtime", "mykaarma", "dealerfx"];

/// One page of records (1-based page numbers) and whether another follows.
pub fn page(
    provider: &str,
    connection: &str,
    stream: &str,
    page: usize,
    page_size: usize,
) -> (Vec<Value>, bool) {
    let start = (page.saturating_sub(1)) * page_size;
    let end = (start + page_size).min(RECORDS_PER_CONNECTION);
    let records = (start..end)
        .map(|i| record(provider, connection, stream, i))
        .collect();
    (records, end < RECORDS_PER_CONNECTION)
}

fn record(provider: &str, connection: &str, stream: &str, i: usize) -> Value {
    let status = ["open", "in_progress", "closed"][i % 3];
    json!({
        "id": format!("{connection}-{stream}-{i:05}"),
        "dealer_id": connection,
        "number": format!("RO{:06}", 100_000 + i),
        "status": status,
        "amount": ((i * 3719) % 100_000) as f64 / 100.0,
        "updated_at": format!("2026-11-{:02}T{:02}:00:00Z", 1 + i % 20, i % 24),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_all_records_once() {
        let (p1, more1) = page("cdk", "d1", "repair_orders", 1, 50);
        let (p3, more3) = page("cdk", "d1", "repair_orders", 3, 50);
        assert_eq!(p1.len(), 50);
        assert!(more1);
        assert_eq!(p3.len(), 20);
        assert!(!more3);
        assert_eq!(p1[0]["id"], "d1-repair_orders-00000");
        assert_eq!(
            page("cdk", "d1", "repair_orders", 1, 50).0,
            p1,
            "deterministic"
        );
    }

    #[test]
    fn malformed_records_lose_their_id() {
        let (p, _) = page("cdk", "d1", "repair_orders", 1, 1);
        let bad = malform(p[0].clone());
        assert!(bad.get("id").is_none());
        assert!(bad["amount"].is_string());
    }
}
