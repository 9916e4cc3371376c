//! `POST /api/v1/runbooks/lookup`, `GET /api/v1/runbooks`, `GET /api/v1/runbooks/{id}`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::domain::Labels;
use crate::domain::clock::rfc3339;
use crate::runbooks::Runbook;
use crate::runbooks::file::SECTIONS;
use crate::runbooks::past_tickets::PastTicket;

/// A question, an alert's labels, or both.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// Free text, up to 2,000 characters.
    #[serde(default)]
    query: String,
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    labels: Labels,
    /// 1 to 50 (default 5).
    limit: Option<usize>,
}

/// A runbook in a listing.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RunbookSummary {
    id: String,
    title: String,
    providers: Vec<String>,
    alerts: Vec<String>,
    error_classes: Vec<String>,
    tags: Vec<String>,
    url: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RunbookList {
    runbooks: Vec<RunbookSummary>,
}

/// A runbook with its sections.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RunbookDetail {
    #[serde(flatten)]
    summary: RunbookSummary,
    /// `symptoms`, `diagnosis`, `fix`, `escalate_when`: each section's markdown ("" if absent).
    sections: std::collections::BTreeMap<String, String>,
    /// The whole runbook after its front matter.
    markdown: String,
}

/// A runbook that matches.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LookupHit {
    id: String,
    title: String,
    score: f32,
    /// `exact` (the alert, error class or an alert the question names maps to it), `keyword`
    /// (BM25 with the question's providers, statuses and metrics as boosts) or `semantic`
    /// (found by the embeddings only).
    #[schema(value_type = String)]
    match_reason: crate::runbooks::MatchReason,
    snippet: String,
    url: String,
}

/// A resolved ticket like the question or alert: of the same alert or connection, or sharing
/// its words.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SimilarTicket {
    id: String,
    title: String,
    /// `resolved` or `closed`.
    status: &'static str,
    resolved_at: Option<String>,
    /// What a person wrote when resolving it, or how syncwatch resolved it.
    resolution: String,
    /// A person wrote the resolution (these come first).
    documented: bool,
    url: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LookupAnswer {
    results: Vec<LookupHit>,
    /// Empty for a caller whose token lacks `tickets:read`.
    similar_tickets: Vec<SimilarTicket>,
}

const MAX_QUERY_CHARS: usize = 2_000;

fn summary(state: &AppState, rb: &Runbook) -> RunbookSummary {
    RunbookSummary {
        id: rb.id.clone(),
        title: rb.title.clone(),
        providers: rb.providers.clone(),
        alerts: rb.alerts.clone(),
        error_classes: rb
            .error_classes
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        tags: rb.tags.clone(),
        url: format!("{}/api/v1/runbooks/{}", state.public_url, rb.id),
    }
}

/// Find the runbooks for a question or an alert, with resolved tickets like it (documented
/// resolutions first, none older than `assistant.ticket_max_age`).
/// `similar_tickets` is empty for a caller whose token lacks `tickets:read`.
#[utoipa::path(post, path = "/api/v1/runbooks/lookup", tag = "runbooks",
    params(("Idempotency-Key" = Option<String>, Header, description = "Sent again with the same body: the first answer again")),
    request_body = LookupRequest,
    responses(
        (status = 200, description = "The best runbooks first", body = LookupAnswer),
        (status = 400, description = "No query and no labels, or a field out of range", body = super::ErrorBody),
    ))]
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
    // Ticket ids and titles are for callers who may read tickets.
    let may_read_tickets = super::auth::holds(&http, &state, "tickets:read");
    let retrieved = state
        .assistant
        .retrieve(
            &state.searcher,
            &req.query,
            req.labels.clone(),
            limit,
            if may_read_tickets { 5 } else { 0 },
            None,
            state.clock.now_ms(),
        )
        .await
        .map_err(ApiError::from)?;
    let results = retrieved.ranked.results;
    state
        .metrics
        .runbook_lookup(results.first().map_or("none", |r| r.match_reason.as_str()));
    let results = results.into_iter().map(|r| hit(&state, r)).collect();
    let similar = retrieved
        .tickets
        .into_iter()
        .map(|h| similar_ticket(&state, h.ticket))
        .collect();
    Ok(HttpResponse::Ok().json(LookupAnswer {
        results,
        similar_tickets: similar,
    }))
}

/// A runbook result as served.
pub(super) fn hit(state: &AppState, r: crate::runbooks::LookupResult) -> LookupHit {
    LookupHit {
        url: format!("{}/api/v1/runbooks/{}", state.public_url, r.id),
        id: r.id,
        title: r.title,
        score: r.score,
        match_reason: r.match_reason,
        snippet: r.snippet,
    }
}

/// A past ticket as served.
pub(super) fn similar_ticket(state: &AppState, t: PastTicket) -> SimilarTicket {
    SimilarTicket {
        url: format!("{}/api/v1/tickets/{}", state.public_url, t.id),
        id: t.id,
        title: t.title,
        status: t.status.as_str(),
        resolved_at: Some(rfc3339(t.resolved_at_ms)),
        resolution: t.resolution,
        documented: t.documented,
    }
}

/// The runbook catalogue.
#[utoipa::path(get, path = "/api/v1/runbooks", tag = "runbooks",
    responses((status = 200, description = "Every runbook", body = RunbookList)))]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    let runbooks = state
        .runbooks
        .runbooks()
        .iter()
        .map(|rb| summary(&state, rb))
        .collect();
    HttpResponse::Ok().json(RunbookList { runbooks })
}

/// One runbook with its sections. A browser (a request accepting `text/html`, as a click on a
/// runbook link in Slack or email is) is sent to the runbook's page instead.
#[utoipa::path(get, path = "/api/v1/runbooks/{id}", tag = "runbooks",
    params(("id" = String, Path, description = "The runbook's id")),
    responses(
        (status = 200, description = "The runbook", body = RunbookDetail),
        (status = 303, description = "To `/runbooks/{id}`, for a request that accepts text/html"),
        (status = 404, description = "No such runbook", body = super::ErrorBody),
    ))]
pub async fn get(
    http: actix_web::HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rb = state
        .runbooks
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no runbook {:?}", id.as_str())))?;
    if crate::web::wants_html(&http) {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("location", format!("/runbooks/{}", rb.id)))
            .finish());
    }
    let sections = SECTIONS
        .iter()
        .map(|s| {
            (
                s.to_lowercase().replace(' ', "_"),
                rb.section(s).unwrap_or_default().to_string(),
            )
        })
        .collect();
    Ok(HttpResponse::Ok().json(RunbookDetail {
        summary: summary(&state, rb),
        sections,
        markdown: rb.body.clone(),
    }))
}
