//! `POST /api/v1/runbooks/lookup`, `GET /api/v1/runbooks`, `GET /api/v1/runbooks/{id}`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState};
use crate::domain::Labels;
use crate::domain::clock::rfc3339;
use crate::runbooks::file::SECTIONS;
use crate::runbooks::{Lookup, Runbook};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    #[serde(default)]
    query: String,
    #[serde(default)]
    labels: Labels,
    limit: Option<usize>,
}

const MAX_QUERY_CHARS: usize = 2_000;

fn summary(state: &AppState, rb: &Runbook) -> serde_json::Value {
    json!({
        "id": rb.id,
        "title": rb.title,
        "providers": rb.providers,
        "alerts": rb.alerts,
        "error_classes": rb.error_classes,
        "tags": rb.tags,
        "url": format!("{}/api/v1/runbooks/{}", state.public_url, rb.id),
    })
}

/// `similar_tickets` is empty for a caller whose token lacks `tickets:read`.
pub async fn lookup(
    http: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LookupRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    if req.query.trim().is_empty() && req.labels.is_empty() {
        return Err(ApiError::bad_request(
            "query or labels: give a question, an alert's labels, or both",
        ));
    }
    if req.query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(format!(
            "query: longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let limit = req.limit.unwrap_or(5);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::bad_request("limit: must be between 1 and 50"));
    }
    let results = state
        .searcher
        .send(Lookup {
            query: req.query.clone(),
            labels: req.labels.clone(),
            limit,
        })
        .await
        .map_err(|_| ApiError::unavailable("runbook index"))?
        .map_err(ApiError::internal)?;
    state
        .metrics
        .runbook_lookup(results.first().map_or("none", |r| r.match_reason.as_str()));
    let alertname = req.labels.get("alertname").map(str::to_string).or_else(|| {
        results
            .first()
            .and_then(|r| state.runbooks.get(&r.id))
            .and_then(|rb| rb.alerts.first().cloned())
    });
    // Ticket ids and titles are for callers who may read tickets.
    let may_read_tickets = super::auth::holds(&http, &state, "tickets:read");
    let similar = match alertname {
        Some(a) if may_read_tickets => state
            .store
            .resolved_tickets_like(&a, 5)
            .await
            .map_err(ApiError::internal)?,
        _ => Vec::new(),
    };
    let results: Vec<serde_json::Value> = results
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "title": r.title,
                "score": r.score,
                "match_reason": r.match_reason,
                "snippet": r.snippet,
                "url": format!("{}/api/v1/runbooks/{}", state.public_url, r.id),
            })
        })
        .collect();
    let similar: Vec<serde_json::Value> = similar
        .into_iter()
        .map(|t| {
            let lasted = t.resolved_at_ms.map(|r| {
                crate::domain::format_duration(std::time::Duration::from_millis(
                    (r - t.created_at_ms).max(0) as u64,
                ))
            });
            json!({
                "id": t.id,
                "title": t.title,
                "status": t.status.as_str(),
                "resolved_at": t.resolved_at_ms.map(rfc3339),
                "resolution": match lasted {
                    Some(d) => format!("resolved automatically when the alert cleared after {d}"),
                    None => "closed".to_string(),
                },
                "url": format!("{}/api/v1/tickets/{}", state.public_url, t.id),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"results": results, "similar_tickets": similar})))
}

pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    let runbooks: Vec<serde_json::Value> = state
        .runbooks
        .runbooks()
        .iter()
        .map(|rb| summary(&state, rb))
        .collect();
    HttpResponse::Ok().json(json!({"runbooks": runbooks}))
}

pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rb = state
        .runbooks
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no runbook {:?}", id.as_str())))?;
    let mut v = summary(&state, rb);
    let sections: serde_json::Map<String, serde_json::Value> = SECTIONS
        .iter()
        .map(|s| {
            (
                s.to_lowercase().replace(' ', "_"),
                json!(rb.section(s).unwrap_or_default()),
            )
        })
        .collect();
    v["sections"] = json!(sections);
    v["markdown"] = json!(rb.body);
    Ok(HttpResponse::Ok().json(v))
}
