//! The Alertmanager API v2 subset for alerts and status: `POST /api/v2/alerts` (Prometheus can
//! use syncwatch as its Alertmanager), `GET /api/v2/alerts`, `GET /api/v2/status`. Silences are in
//! [`super::silences`].

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::alerting::{ListAlerts, PostAlerts};
use crate::domain::clock::rfc3339;
use crate::domain::{Alert, Labels, Matcher};

/// Go's zero time: Prometheus sends it for "not set".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An alert as Prometheus posts it. Other fields (`status`, `fingerprint`, `receivers`, … of a
/// forwarded webhook payload or a `GET` answer) are ignored, as Alertmanager ignores them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    generator_url: String,
}

fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn optional_time(field: &str, v: &Option<String>) -> Result<Option<i64>, String> {
    match v.as_deref() {
        None | Some("") | Some(ZERO_TIME) => Ok(None),
        Some(s) if s.starts_with("0001-01-01") => Ok(None),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| Some(d.timestamp_millis()))
            .map_err(|_| format!("{field}: {s:?} is not an RFC 3339 time")),
    }
}

/// Validates a posted batch; all or nothing, the error naming the offending item.
pub fn parse_alerts(
    items: Vec<PostableAlert>,
    now_ms: i64,
) -> Result<Vec<(Alert, Option<i64>)>, String> {
    let mut out = Vec::with_capacity(items.len());
    for (i, a) in items.into_iter().enumerate() {
        let at = |m: String| format!("[{i}].{m}");
        if a.labels.is_empty() {
            return Err(at("labels: at least one label is required".into()));
        }
        if let Some(bad) = a.labels.keys().find(|k| !valid_label_name(k)) {
            return Err(at(format!("labels: {bad:?} is not a valid label name")));
        }
        // PostgreSQL text cannot hold NUL, and no real label or annotation has one.
        for (field, map) in [("labels", &a.labels), ("annotations", &a.annotations)] {
            if let Some(k) = map.iter().find(|(_, v)| v.contains('\0')).map(|(k, _)| k) {
                return Err(at(format!("{field}.{k}: contains a NUL character")));
            }
        }
        let ends = optional_time("endsAt", &a.ends_at).map_err(at)?;
        // As Alertmanager: no startsAt means now, or the end for an alert sent already ended.
        let starts = optional_time("startsAt", &a.starts_at)
            .map_err(at)?
            .unwrap_or_else(|| ends.unwrap_or(now_ms));
        if ends.is_some_and(|e| e < starts) {
            return Err(at("endsAt: is before startsAt".into()));
        }
        let labels: Labels = a
            .labels
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        out.push((
            Alert {
                labels,
                annotations: a.annotations.into(),
                starts_at_ms: starts,
                ends_at_ms: None,
                value: None,
                generator_url: a.generator_url,
            },
            ends,
        ));
    }
    Ok(out)
}

/// Largest `POST /api/v2/alerts` body (413 past it): 8 MiB, about 40,000 alerts.
pub const MAX_ALERTS_BODY_BYTES: usize = 8 * 1024 * 1024;

pub async fn post_alerts(
    state: web::Data<AppState>,
    body: web::Json<Vec<PostableAlert>>,
) -> Result<HttpResponse, ApiError> {
    let alerts = parse_alerts(body.into_inner(), state.clock.now_ms())
        .map_err(|m| ApiError::bad_request(format!("alerts{m}")))?;
    state
        .dispatch
        .send(PostAlerts(alerts))
        .await
        .map_err(|_| ApiError::unavailable("dispatcher"))?;
    Ok(HttpResponse::Ok().finish())
}

/// amtool's query parameters: `filter` (repeated matchers), `silenced`, `inhibited`, `active`,
/// `receiver` (a regex).
fn query_params(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub async fn get_alerts(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = query_params(req.query_string());
    let flag = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v != "false")
            .unwrap_or(true)
    };
    let filters = params
        .iter()
        .filter(|(k, _)| k == "filter")
        .map(|(_, v)| Matcher::parse(v).map_err(|e| ApiError::bad_request(format!("filter: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let receiver = match params.iter().find(|(k, _)| k == "receiver") {
        Some((_, r)) => Some(
            regex::Regex::new(&format!("^(?:{r})$"))
                .map_err(|e| ApiError::bad_request(format!("receiver: {e}")))?,
        ),
        None => None,
    };
    let held = state
        .dispatch
        .send(ListAlerts)
        .await
        .map_err(|_| ApiError::unavailable("dispatcher"))?;
    let out: Vec<Value> = held
        .into_iter()
        .filter(|h| filters.iter().all(|f| f.matches(&h.alert.labels)))
        .filter(|h| {
            receiver
                .as_ref()
                .is_none_or(|re| h.receivers.iter().any(|r| re.is_match(r)))
        })
        .filter(|h| {
            if h.silenced_by.is_empty() {
                flag("active")
            } else {
                flag("silenced")
            }
        })
        .map(|h| {
            let a = &h.alert;
            json!({
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": rfc3339(a.starts_at_ms),
                "endsAt": h.ends_at_ms.map_or_else(|| ZERO_TIME.to_string(), rfc3339),
                "updatedAt": rfc3339(state.clock.now_ms()),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint().to_string(),
                "receivers": h.receivers.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
                "status": {
                    "state": if h.silenced_by.is_empty() && h.inhibited_by.is_empty() && h.muted_by.is_empty() { "active" } else { "suppressed" },
                    "silencedBy": h.silenced_by,
                    "inhibitedBy": h.inhibited_by,
                    "mutedBy": h.muted_by,
                },
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

pub async fn status(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "cluster": {"name": "syncwatch", "status": "disabled", "peers": []},
        "versionInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "none (syncwatch)",
        },
        "config": {"original": state.alerting_status.read().unwrap_or_else(|e| e.into_inner()).original},
        "uptime": rfc3339(state.started_at_ms),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: Value) -> PostableAlert {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_batch_is_validated_item_by_item() {
        let ok = parse_alerts(
            vec![item(
                json!({"labels": {"alertname": "A"}, "endsAt": "0001-01-01T00:00:00Z"}),
            )],
            5,
        )
        .unwrap();
        assert_eq!(ok[0].0.starts_at_ms, 5);
        assert_eq!(ok[0].1, None);
        let err = parse_alerts(
            vec![
                item(json!({"labels": {"alertname": "A"}})),
                item(json!({"labels": {}})),
            ],
            0,
        )
        .unwrap_err();
        assert_eq!(err, "[1].labels: at least one label is required");
        let err = parse_alerts(vec![item(json!({"labels": {"a-b": "x"}}))], 0).unwrap_err();
        assert!(err.contains("\"a-b\" is not a valid label name"), "{err}");
        // Sent resolved without startsAt: it started when it ended.
        let ok = parse_alerts(
            vec![item(
                json!({"labels": {"a": "x"}, "endsAt": "1970-01-01T00:00:01Z"}),
            )],
            5_000,
        )
        .unwrap();
        assert_eq!((ok[0].0.starts_at_ms, ok[0].1), (1_000, Some(1_000)));
        let err = parse_alerts(vec![item(json!({"labels": {"a": "x"}, "startsAt": "2026-01-02T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}))], 0)
            .unwrap_err();
        assert_eq!(err, "[0].endsAt: is before startsAt");
        let err =
            parse_alerts(vec![item(json!({"labels": {"alertname": "X\u{0}"}}))], 0).unwrap_err();
        assert_eq!(err, "[0].labels.alertname: contains a NUL character");
    }
}
