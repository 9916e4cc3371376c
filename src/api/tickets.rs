//! `GET /api/v1/tickets` (filters, newest first, cursor pagination) and `GET /api/v1/tickets/{id}`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, AppState};
use crate::domain::clock::rfc3339;
use crate::domain::ticket::TicketStatus;
use crate::domain::ticket::{RunbookRef, Ticket};
use crate::domain::{Labels, Severity};
use crate::store::{TicketFilter, parse_cursor};

/// The ticket as clients see it (DESIGN §7).
#[derive(Serialize)]
pub struct TicketView {
    id: String,
    url: String,
    dedup_key: String,
    status: &'static str,
    severity: &'static str,
    priority: &'static str,
    tier: &'static str,
    title: String,
    summary: String,
    labels: Labels,
    provider: Option<String>,
    connection: Option<String>,
    alertname: String,
    runbook: Option<RunbookRef>,
    assignee: Option<String>,
    occurrences: i64,
    created_at: String,
    acknowledged_at: Option<String>,
    resolved_at: Option<String>,
    closed_at: Option<String>,
    updated_at: String,
}

impl TicketView {
    pub fn new(t: Ticket, public_url: &str) -> Self {
        Self {
            url: format!("{public_url}/api/v1/tickets/{}", t.id),
            id: t.id,
            dedup_key: t.dedup_key.as_str().to_string(),
            status: t.status.as_str(),
            severity: t.severity.as_str(),
            priority: t.priority.as_str(),
            tier: t.tier.as_str(),
            title: t.title,
            summary: t.summary,
            labels: t.labels,
            provider: t.provider,
            connection: t.connection,
            alertname: t.alertname,
            runbook: t.runbook,
            assignee: t.assignee,
            occurrences: t.occurrences,
            created_at: rfc3339(t.created_at_ms),
            acknowledged_at: t.acknowledged_at_ms.map(rfc3339),
            resolved_at: t.resolved_at_ms.map(rfc3339),
            closed_at: t.closed_at_ms.map(rfc3339),
            updated_at: rfc3339(t.updated_at_ms),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    severity: Option<String>,
    provider: Option<String>,
    connection: Option<String>,
    alertname: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// Parses the query into a filter, naming the offending parameter.
fn filter(q: ListQuery) -> Result<TicketFilter, ApiError> {
    let status = q
        .status
        .map(|s| {
            TicketStatus::parse(&s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status: {s:?} is not one of open, acknowledged, resolved, closed"
                ))
            })
        })
        .transpose()?;
    let severity = q
        .severity
        .map(|s| {
            Severity::ALL
                .into_iter()
                .find(|v| v.as_str() == s)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "severity: {s:?} is not one of critical, error, warning, info"
                    ))
                })
        })
        .transpose()?;
    let since_ms = q
        .since
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(&s)
                .map(|d| d.timestamp_millis())
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "since: {s:?} is not an RFC 3339 time such as 2026-11-21T10:00:00Z"
                    ))
                })
        })
        .transpose()?;
    let cursor = q
        .cursor
        .map(|c| {
            parse_cursor(&c).ok_or_else(|| {
                ApiError::bad_request("cursor: not a cursor returned as next_cursor")
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {MAX_LIMIT}"
        )));
    }
    Ok(TicketFilter {
        status,
        severity,
        provider: q.provider,
        connection: q.connection,
        alertname: q.alertname,
        since_ms,
        cursor,
        limit,
    })
}

pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .store
        .list_tickets(&filter(q.into_inner())?)
        .await
        .map_err(ApiError::internal)?;
    let tickets: Vec<TicketView> = page
        .tickets
        .into_iter()
        .map(|t| TicketView::new(t, &state.public_url))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"tickets": tickets, "next_cursor": page.next_cursor})))
}

pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match state
        .store
        .get_ticket(&id)
        .await
        .map_err(ApiError::internal)?
    {
        Some(t) => Ok(HttpResponse::Ok().json(TicketView::new(t, &state.public_url))),
        None => Err(ApiError::not_found(format!("no ticket {:?}", id.as_str()))),
    }
}
