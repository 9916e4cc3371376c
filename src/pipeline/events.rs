//! Observations from stages outside syncwatch (`POST /api/v1/events`): a Lambda, a Kinesis
//! consumer, an S3 exporter. A batch is checked as a whole (one bad item refuses the request and
//! is named, so nothing is half-applied), then folded per pipeline and stage, so a batch of a
//! thousand events costs a handful of metric updates.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::ErrorClass;
use crate::telemetry::Metrics;

/// Events one request may carry.
pub const MAX_EVENTS: usize = 10_000;

/// How far in the future an event's timestamp may be (clocks drift).
const MAX_FUTURE_MS: i64 = 5 * 60 * 1000;
/// How old an event may be: older ones are mistakes (a zero date, a wrong unit), not late
/// reports, and would set a stage's heartbeat years back.
const MAX_PAST_MS: i64 = 7 * 24 * 3600 * 1000;
/// The largest count one event may report: 2^53, the largest integer every consumer of a
/// Prometheus sample (a float64) holds exactly. Sums saturate, so no counter wraps.
pub const MAX_COUNT: u64 = 1 << 53;
/// The longest duration or iterator age an event may report: 10 years, in seconds.
pub const MAX_SECONDS: f64 = 315_360_000.0;

/// One checked observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub pipeline: String,
    pub stage: String,
    pub timestamp_ms: i64,
    pub records_in: u64,
    pub records_out: u64,
    pub records_failed: u64,
    /// The class of the failed records (`server` unless given).
    pub error_class: ErrorClass,
    pub duration_seconds: Option<f64>,
    pub iterator_age_seconds: Option<f64>,
    pub queue_records: Option<u64>,
    pub queue_capacity_records: Option<u64>,
}

/// What a request's events add up to for one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTotals {
    pub pipeline: String,
    pub stage: String,
    pub records_in: u64,
    pub records_out: u64,
    pub failed: Vec<(ErrorClass, u64)>,
    /// Every processing duration reported, for the histogram.
    pub durations: Vec<f64>,
    /// The largest iterator age reported (Kinesis alarms on the maximum).
    pub iterator_age_seconds: Option<f64>,
    /// The queue depth of the newest event that reports one.
    pub queue_records: Option<u64>,
    pub queue_capacity_records: Option<u64>,
    /// The newest event's timestamp: the stage's heartbeat.
    pub last_ms: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch<'a> {
    #[serde(borrow)]
    events: Vec<RawEvent<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent<'a> {
    #[serde(borrow)]
    pipeline: Cow<'a, str>,
    #[serde(borrow)]
    stage: Cow<'a, str>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    records_in: Option<u64>,
    records_out: Option<u64>,
    records_failed: Option<u64>,
    #[serde(borrow, default)]
    error_class: Option<Cow<'a, str>>,
    duration_seconds: Option<f64>,
    iterator_age_seconds: Option<f64>,
    queue_records: Option<u64>,
    queue_capacity_records: Option<u64>,
}

const INTEGER_FIELDS: [&str; 5] = [
    "records_in",
    "records_out",
    "records_failed",
    "queue_records",
    "queue_capacity_records",
];
const SECONDS_FIELDS: [&str; 2] = ["duration_seconds", "iterator_age_seconds"];
const TEXT_FIELDS: [&str; 4] = ["pipeline", "stage", "timestamp", "error_class"];

/// Parses and checks a request body. An error names the item and field, e.g.
/// `events[3].records_in: expected a non-negative integer`.
pub fn parse(body: &[u8], now_ms: i64) -> Result<Vec<Event>, String> {
    let raw: RawBatch = match serde_json::from_slice(body) {
        Ok(b) => b,
        // The typed parse is the fast path; when it fails, find what exactly is wrong.
        Err(e) => return Err(explain(body).unwrap_or_else(|| format!("invalid JSON body: {e}"))),
    };
    if raw.events.is_empty() {
        return Err("events: at least one event is required".into());
    }
    if raw.events.len() > MAX_EVENTS {
        return Err(format!(
            "events: {} events in one request; at most {MAX_EVENTS}",
            raw.events.len()
        ));
    }
    raw.events
        .into_iter()
        .enumerate()
        .map(|(i, r)| check(r, now_ms).map_err(|m| format!("events[{i}].{m}")))
        .collect()
}

fn check(r: RawEvent<'_>, now_ms: i64) -> Result<Event, String> {
    for (field, value) in [("pipeline", &r.pipeline), ("stage", &r.stage)] {
        if !valid_name(value) {
            return Err(format!(
                "{field}: {value:?} must be 1 to 64 letters, digits, '_', '-', '.' or ':'"
            ));
        }
    }
    let timestamp_ms = match &r.timestamp {
        None => now_ms,
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|_| format!("timestamp: {t:?} is not an RFC 3339 time"))?
            .timestamp_millis(),
    };
    if timestamp_ms > now_ms + MAX_FUTURE_MS {
        return Err("timestamp: more than 5 minutes in the future".into());
    }
    if timestamp_ms < now_ms - MAX_PAST_MS {
        return Err("timestamp: more than 7 days in the past".into());
    }
    for (field, v) in [
        ("records_in", r.records_in),
        ("records_out", r.records_out),
        ("records_failed", r.records_failed),
        ("queue_records", r.queue_records),
        ("queue_capacity_records", r.queue_capacity_records),
    ] {
        if v.is_some_and(|v| v > MAX_COUNT) {
            return Err(format!("{field}: at most {MAX_COUNT} (2^53)"));
        }
    }
    for (field, v) in [
        ("duration_seconds", r.duration_seconds),
        ("iterator_age_seconds", r.iterator_age_seconds),
    ] {
        if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
            return Err(format!(
                "{field}: expected a non-negative number of seconds"
            ));
        }
        if v.is_some_and(|v| v > MAX_SECONDS) {
            return Err(format!("{field}: at most {MAX_SECONDS} seconds (10 years)"));
        }
    }
    let error_class = match &r.error_class {
        None => ErrorClass::Server,
        Some(c) => ErrorClass::parse(c).ok_or_else(|| {
            let all: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
            format!("error_class: {c:?} is not one of {}", all.join(", "))
        })?,
    };
    let measured = r.records_in.is_some()
        || r.records_out.is_some()
        || r.records_failed.is_some()
        || r.duration_seconds.is_some()
        || r.iterator_age_seconds.is_some()
        || r.queue_records.is_some();
    if !measured {
        return Err("records_in: at least one of records_in, records_out, records_failed, duration_seconds, iterator_age_seconds or queue_records is required".into());
    }
    Ok(Event {
        pipeline: r.pipeline.into_owned(),
        stage: r.stage.into_owned(),
        timestamp_ms,
        records_in: r.records_in.unwrap_or(0),
        records_out: r.records_out.unwrap_or(0),
        records_failed: r.records_failed.unwrap_or(0),
        error_class,
        duration_seconds: r.duration_seconds,
        iterator_age_seconds: r.iterator_age_seconds,
        queue_records: r.queue_records,
        queue_capacity_records: r.queue_capacity_records,
    })
}

pub fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// Why a body the typed parse refused is wrong, naming the item and field.
fn explain(body: &[u8]) -> Option<String> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(format!("invalid JSON body: {e}")),
    };
    let Some(obj) = v.as_object() else {
        return Some("expected a JSON object {\"events\": [...]}".into());
    };
    if let Some(k) = obj.keys().find(|k| *k != "events") {
        return Some(format!("{k}: unknown field (expected only \"events\")"));
    }
    let Some(events) = obj.get("events") else {
        return Some("events: missing".into());
    };
    let Some(events) = events.as_array() else {
        return Some("events: expected an array".into());
    };
    for (i, e) in events.iter().enumerate() {
        let Some(e) = e.as_object() else {
            return Some(format!("events[{i}]: expected an object"));
        };
        for field in ["pipeline", "stage"] {
            if !e.contains_key(field) {
                return Some(format!("events[{i}].{field}: missing"));
            }
        }
        for (k, value) in e {
            let problem = if INTEGER_FIELDS.contains(&k.as_str()) {
                (!value.is_u64()).then_some("expected a non-negative integer")
            } else if SECONDS_FIELDS.contains(&k.as_str()) {
                (!value.is_number()).then_some("expected a non-negative number of seconds")
            } else if TEXT_FIELDS.contains(&k.as_str()) {
                (!value.is_string()).then_some("expected a string")
            } else {
                Some("unknown field")
            };
            if let Some(p) = problem {
                return Some(format!("events[{i}].{k}: {p}"));
            }
        }
    }
    None
}

/// Adds a request's events up per stage, in order of first appearance.
pub fn fold(events: Vec<Event>) -> Vec<StageTotals> {
    let mut out: Vec<StageTotals> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    // The timestamp of the event each gauge value came from.
    let mut queue_at: Vec<i64> = Vec::new();
    for e in events {
        let key = (e.pipeline, e.stage);
        let i = match index.get(&key) {
            Some(i) => *i,
            None => {
                index.insert(key.clone(), out.len());
                out.push(StageTotals {
                    pipeline: key.0,
                    stage: key.1,
                    records_in: 0,
                    records_out: 0,
                    failed: Vec::new(),
                    durations: Vec::new(),
                    iterator_age_seconds: None,
                    queue_records: None,
                    queue_capacity_records: None,
                    last_ms: e.timestamp_ms,
                });
                queue_at.push(i64::MIN);
                out.len() - 1
            }
        };
        let t = &mut out[i];
        t.records_in = t.records_in.saturating_add(e.records_in);
        t.records_out = t.records_out.saturating_add(e.records_out);
        if e.records_failed > 0 {
            match t.failed.iter_mut().find(|(c, _)| *c == e.error_class) {
                Some((_, n)) => *n = n.saturating_add(e.records_failed),
                None => t.failed.push((e.error_class, e.records_failed)),
            }
        }
        t.durations.extend(e.duration_seconds);
        if let Some(age) = e.iterator_age_seconds {
            t.iterator_age_seconds = Some(t.iterator_age_seconds.map_or(age, |a| a.max(age)));
        }
        if e.queue_records.is_some() && e.timestamp_ms >= queue_at[i] {
            queue_at[i] = e.timestamp_ms;
            t.queue_records = e.queue_records;
        }
        if e.queue_capacity_records.is_some() {
            t.queue_capacity_records = e.queue_capacity_records;
        }
        t.last_ms = t.last_ms.max(e.timestamp_ms);
    }
    out
}

/// Stages outside syncwatch that one process tracks at most (each is a handful of series).
pub const MAX_EXTERNAL_STAGES: usize = 1_000;

/// Where checked events go: the stages seen so far (bounded) and their heartbeats.
#[derive(Debug)]
pub struct EventSink {
    /// Stages syncwatch runs itself: events may not report for them.
    internal: HashSet<(String, String)>,
    /// External stage → its newest heartbeat.
    seen: Mutex<HashMap<(String, String), i64>>,
    metrics: Metrics,
}

impl EventSink {
    pub fn new(internal: HashSet<(String, String)>, metrics: Metrics) -> Self {
        Self {
            internal,
            seen: Mutex::default(),
            metrics,
        }
    }

    /// Applies a request's events: all of them, or none when one stage is refused.
    pub fn apply(&self, events: Vec<Event>) -> Result<usize, String> {
        let n = events.len();
        let totals = fold(events);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut new = 0;
        for t in &totals {
            let key = (t.pipeline.clone(), t.stage.clone());
            if self.internal.contains(&key) {
                return Err(format!(
                    "events: stage {}/{} runs inside syncwatch; external stages need their own name",
                    t.pipeline, t.stage
                ));
            }
            if !seen.contains_key(&key) {
                new += 1;
            }
        }
        if seen.len() + new > MAX_EXTERNAL_STAGES {
            return Err(format!(
                "events: more than {MAX_EXTERNAL_STAGES} external stages; refusing new ones"
            ));
        }
        for t in &totals {
            let key = (t.pipeline.clone(), t.stage.clone());
            let first = !seen.contains_key(&key);
            // A late request does not move the heartbeat back.
            let last = seen.entry(key).or_insert(i64::MIN);
            *last = (*last).max(t.last_ms);
            self.metrics.external_stage(t, first, *last);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // 2026-11-21T00:00:00Z
    const NOW: i64 = 1_795_219_200_000;

    fn parse_json(v: Value) -> Result<Vec<Event>, String> {
        parse(v.to_string().as_bytes(), NOW)
    }

    #[test]
    fn a_good_batch_parses_with_defaults() {
        let events = parse_json(json!({"events": [
            {"pipeline": "dms", "stage": "export", "timestamp": "2026-11-19T10:00:00Z",
             "records_in": 100, "records_out": 98, "records_failed": 2, "error_class": "schema",
             "duration_seconds": 0.35, "iterator_age_seconds": 12.5, "queue_records": 40},
            {"pipeline": "dms", "stage": "lambda-enrich", "iterator_age_seconds": 3}
        ]}))
        .unwrap();
        assert_eq!(events.len(), 2);
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-19T10:00:00Z").unwrap();
        assert_eq!(events[0].timestamp_ms, t.timestamp_millis());
        assert_eq!(events[0].error_class, ErrorClass::Schema);
        assert_eq!(events[1].timestamp_ms, NOW, "no timestamp: now");
        assert_eq!(events[1].records_in, 0);
        assert_eq!(events[1].error_class, ErrorClass::Server);
    }

    #[test]
    fn a_bad_item_is_named_by_index_and_field() {
        let good = json!({"pipeline": "dms", "stage": "export", "records_in": 1});
        let cases = [
            (
                json!({"pipeline": "dms", "stage": "export", "records_in": -1}),
                "events[3].records_in: expected a non-negative integer",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "records_in": 1.5}),
                "events[3].records_in: expected a non-negative integer",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "records_in": "7"}),
                "events[3].records_in: expected a non-negative integer",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "iterator_age_seconds": -2}),
                "events[3].iterator_age_seconds: expected a non-negative number of seconds",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "duration_seconds": "fast"}),
                "events[3].duration_seconds: expected a non-negative number of seconds",
            ),
            (
                json!({"pipeline": "dms", "records_in": 1}),
                "events[3].stage: missing",
            ),
            (
                json!({"pipeline": "dms", "stage": "bad stage", "records_in": 1}),
                "events[3].stage: \"bad stage\" must be 1 to 64 letters",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "records_in": 1, "shard": "a"}),
                "events[3].shard: unknown field",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "timestamp": "yesterday", "records_in": 1}),
                "events[3].timestamp: \"yesterday\" is not an RFC 3339 time",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "timestamp": "0001-01-01T00:00:00Z", "records_in": 1}),
                "events[3].timestamp: more than 7 days in the past",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "iterator_age_seconds": 1e308}),
                "events[3].iterator_age_seconds: at most 315360000 seconds (10 years)",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "records_in": u64::MAX}),
                "events[3].records_in: at most 9007199254740992 (2^53)",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "timestamp": "2099-01-01T00:00:00Z", "records_in": 1}),
                "events[3].timestamp: more than 5 minutes in the future",
            ),
            (
                json!({"pipeline": "dms", "stage": "export", "records_failed": 1, "error_class": "oops"}),
                "events[3].error_class: \"oops\" is not one of auth",
            ),
            (
                json!({"pipeline": "dms", "stage": "export"}),
                "events[3].records_in: at least one of records_in, records_out",
            ),
            (json!(7), "events[3]: expected an object"),
        ];
        for (bad, want) in cases {
            let body = json!({"events": [good, good, good, bad, good]});
            let err = parse_json(body).unwrap_err();
            assert!(err.starts_with(want), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_envelopes_say_what_is_wrong() {
        for (body, want) in [
            ("{", "invalid JSON body"),
            ("[]", "expected a JSON object"),
            ("{}", "events: missing"),
            (r#"{"events": 3}"#, "events: expected an array"),
            (
                r#"{"events": []}"#,
                "events: at least one event is required",
            ),
            (r#"{"events": [], "extra": 1}"#, "extra: unknown field"),
        ] {
            let err = parse(body.as_bytes(), NOW).unwrap_err();
            assert!(err.starts_with(want), "{body}: {err}");
        }
        let many: Vec<Value> = (0..=MAX_EVENTS)
            .map(|_| json!({"pipeline": "p", "stage": "s", "records_in": 1}))
            .collect();
        let err = parse_json(json!({ "events": many })).unwrap_err();
        assert!(err.contains("at most 10000"), "{err}");
    }

    #[test]
    fn events_fold_per_stage() {
        let events = parse_json(json!({"events": [
            {"pipeline": "dms", "stage": "export", "timestamp": "2026-11-19T10:00:05Z", "records_in": 10, "records_out": 9, "records_failed": 1, "duration_seconds": 0.5, "iterator_age_seconds": 2, "queue_records": 5},
            {"pipeline": "dms", "stage": "lambda", "records_in": 4},
            {"pipeline": "dms", "stage": "export", "timestamp": "2026-11-19T10:00:01Z", "records_in": 5, "records_out": 5, "records_failed": 2, "error_class": "schema", "duration_seconds": 0.25, "iterator_age_seconds": 7, "queue_records": 50},
            {"pipeline": "dms", "stage": "export", "timestamp": "2026-11-19T10:00:03Z", "records_failed": 3}
        ]}))
        .unwrap();
        let totals = fold(events);
        assert_eq!(totals.len(), 2);
        let export = &totals[0];
        assert_eq!(export.stage, "export");
        assert_eq!((export.records_in, export.records_out), (15, 14));
        assert_eq!(
            export.failed,
            vec![(ErrorClass::Server, 4), (ErrorClass::Schema, 2)]
        );
        assert_eq!(export.durations, vec![0.5, 0.25]);
        assert_eq!(export.iterator_age_seconds, Some(7.0), "the maximum");
        assert_eq!(export.queue_records, Some(5), "the newest event's");
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-19T10:00:05Z").unwrap();
        assert_eq!(export.last_ms, t.timestamp_millis());
        assert_eq!(totals[1].last_ms, NOW);
    }
}
