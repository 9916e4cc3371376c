//! `GET /api/v1/tickets` (filters, newest first, cursor pagination), `GET /api/v1/tickets/{id}`
//! (with its strong `ETag`), `PATCH /api/v1/tickets/{id}` (a JSON merge patch, RFC 7396, made
//! against the ETag given in `If-Match`, RFC 9110 §13.1.1), `GET /api/v1/tickets/{id}/events`
//! (its history) and `GET /api/v1/ticket-events` (every ticket's events in commit order, after a
//! cursor: what a support tool syncs from).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, AppState};
use crate::domain::clock::rfc3339;
use crate::domain::ticket::{ChangeError, Priority, TicketChange, TicketStatus, Tier};
use crate::domain::ticket::{RunbookRef, Ticket};
use crate::domain::{Labels, Severity};
use crate::store::{TicketFilter, TicketUpdate, parse_cursor};

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
    resolution: Option<String>,
    resolved_by: Option<String>,
    /// Escalation steps taken since the ticket last became open.
    escalation_level: i64,
    /// When the ticket is due to be acknowledged / resolved (its priority's `ack_within` /
    /// `resolve_within`), and when it missed that target.
    acknowledge_by: Option<String>,
    resolve_by: Option<String>,
    ack_breached_at: Option<String>,
    resolve_breached_at: Option<String>,
}

impl TicketView {
    pub fn new(t: Ticket, public_url: &str) -> Self {
        let (acknowledge_by, resolve_by) = (t.ack_due_ms(), t.resolve_due_ms());
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
            escalation_level: t.escalation_level,
            acknowledge_by: acknowledge_by.map(rfc3339),
            resolve_by: resolve_by.map(rfc3339),
            ack_breached_at: t.ack_breached_at_ms.map(rfc3339),
            resolve_breached_at: t.resolve_breached_at_ms.map(rfc3339),
            resolution: t.resolution,
            resolved_by: t.resolved_by,
        }
    }
}

/// The ticket's strong ETag: its version, quoted.
fn etag(t: &Ticket) -> String {
    format!("\"{}\"", t.version)
}

/// The ticket with its ETag.
fn with_etag(status: StatusCode, t: Ticket, public_url: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(&t)))
        .json(TicketView::new(t, public_url))
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
    let since_ms = rfc3339_param("since", q.since)?;
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
        Some(t) => Ok(with_etag(StatusCode::OK, t, &state.public_url)),
        None => Err(ApiError::not_found(format!("no ticket {:?}", id.as_str()))),
    }
}

/// The version an `If-Match` names: `None` for `*` (any version), an error for a header that
/// is missing (428: a change must say what it was made against) or not one of our ETags.
fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let value = req
        .headers()
        .get("if-match")
        .ok_or_else(|| ApiError {
            status: StatusCode::PRECONDITION_REQUIRED,
            code: "precondition_required",
            message: "If-Match: the ticket's ETag (from GET) is required, so that two people \
                      never overwrite each other"
                .into(),
        })?
        .to_str()
        .unwrap_or("")
        .trim();
    if value == "*" {
        return Ok(None);
    }
    // A version no ticket has (a weak or foreign tag) can never match.
    Ok(Some(
        value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1),
    ))
}

/// Reads a merge patch: `status`, `assignee` (null unassigns), `tier`, `priority`,
/// `resolution`; anything else is refused by name.
fn parse_patch(body: &[u8]) -> Result<TicketChange, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let serde_json::Value::Object(fields) = value else {
        return Err(ApiError::bad_request(
            "the body is a JSON object (a merge patch)",
        ));
    };
    let text = |name: &str, v: &serde_json::Value| -> Result<String, ApiError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad_request(format!("{name}: expected a string")))
    };
    let mut change = TicketChange::default();
    for (name, v) in &fields {
        match name.as_str() {
            "status" => {
                let s = text(name, v)?;
                change.status = Some(TicketStatus::parse(&s).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "status: {s:?} is not one of open, acknowledged, resolved, closed"
                    ))
                })?);
            }
            "assignee" => {
                change.assignee = Some(match v {
                    serde_json::Value::Null => None,
                    v => Some(text(name, v)?).filter(|s| !s.trim().is_empty()),
                });
            }
            "tier" => {
                let s = text(name, v)?;
                change.tier = Some(Tier::parse(&s).ok_or_else(|| {
                    ApiError::bad_request(format!("tier: {s:?} is not one of L1, L2, L3"))
                })?);
            }
            "priority" => {
                let s = text(name, v)?;
                change.priority = Some(Priority::parse(&s).ok_or_else(|| {
                    ApiError::bad_request(format!("priority: {s:?} is not one of P1, P2, P3, P4"))
                })?);
            }
            "resolution" => {
                let s = text(name, v)?;
                if s.len() > MAX_RESOLUTION_BYTES {
                    return Err(ApiError::bad_request(format!(
                        "resolution: longer than {MAX_RESOLUTION_BYTES} bytes"
                    )));
                }
                change.resolution = Some(s);
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "{other}: not a field a PATCH changes (status, assignee, tier, priority, resolution)"
                )));
            }
        }
    }
    Ok(change)
}

/// The longest resolution text (as a comment: 16 KiB).
const MAX_RESOLUTION_BYTES: usize = 16 * 1024;

/// `PATCH /api/v1/tickets/{id}`: 200 with the ticket and its new ETag; 428 without `If-Match`,
/// 412 (with the current ETag) when the ticket changed since, 409 for a status change the
/// lifecycle does not allow (naming the allowed ones) or a reopen while another ticket of the
/// same problem is active, 422 for a resolution on a ticket left unresolved, 415 for a body
/// that is not JSON. The change is recorded as made by the request's token.
pub async fn patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if content_type != "application/json" && content_type != "application/merge-patch+json" {
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: "Content-Type: application/merge-patch+json or application/json".into(),
        });
    }
    let expected = if_match(&req)?;
    let change = parse_patch(&body)?;
    let actor = super::auth::actor(&req, &state);
    let now = state.clock.now_ms();
    let outcome = state
        .store
        .update_ticket(&id, expected, &change, &actor, now)
        .await
        .map_err(ApiError::internal)?;
    match outcome {
        TicketUpdate::Updated(t) => {
            observe_times(&state, &t, now);
            Ok(with_etag(StatusCode::OK, t, &state.public_url))
        }
        TicketUpdate::Stale(t) => Ok(HttpResponse::PreconditionFailed()
            .insert_header(("ETag", etag(&t)))
            .json(json!({"error": {
                "code": "precondition_failed",
                "message": format!("the ticket changed since (now {}): GET it again and re-apply the change", etag(&t)),
            }}))),
        TicketUpdate::NotFound => Err(ApiError::not_found(format!("no ticket {:?}", id.as_str()))),
        TicketUpdate::Refused(ChangeError::Transition(e)) => Err(ApiError::conflict(e.to_string())),
        TicketUpdate::Refused(ChangeError::Field(m)) => Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "unprocessable",
            message: m,
        }),
        TicketUpdate::DuplicateActive(other) => Err(ApiError::conflict(format!(
            "ticket {other:?} is already active for this problem; work that one"
        ))),
    }
}

/// Records MTTA / MTTR observations of a change made at `now`: a first acknowledgement (it
/// keeps its time) and a resolution.
fn observe_times(state: &AppState, t: &Ticket, now: i64) {
    let since_created = std::time::Duration::from_millis((now - t.created_at_ms).max(0) as u64);
    if t.acknowledged_at_ms == Some(now) {
        state
            .metrics
            .ticket_acknowledged(t.severity, t.tier, since_created);
    }
    if t.status == TicketStatus::Resolved && t.resolved_at_ms == Some(now) {
        state
            .metrics
            .ticket_resolved(t.severity, t.tier, since_created);
    }
}

/// 404 unless ticket `id` exists (for its sub-resources).
async fn require_ticket(state: &AppState, id: &str) -> Result<(), ApiError> {
    match state
        .store
        .get_ticket(id)
        .await
        .map_err(ApiError::internal)?
    {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!("no ticket {id:?}"))),
    }
}

/// `GET /api/v1/tickets/{id}/events`: the ticket's history, oldest first.
pub async fn events(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_ticket(&state, &id).await?;
    let events = state
        .store
        .ticket_events(&id)
        .await
        .map_err(ApiError::internal)?;
    let events: Vec<EventView> = events.into_iter().map(EventView::from).collect();
    Ok(HttpResponse::Ok().json(json!({"events": events})))
}

/// One recorded change of a ticket.
#[derive(Serialize)]
pub struct EventView {
    id: String,
    /// Where the feed continues after this event (`GET /api/v1/ticket-events?after=`).
    cursor: String,
    ticket_id: String,
    at: String,
    /// `created`, `occurrence`, `acknowledged`, `unacknowledged`, `assigned`, `tier_changed`,
    /// `priority_changed`, `commented`, `resolved`, `resolution_changed`, `reopened`, `closed`,
    /// `escalated`, `sla_breached`.
    kind: String,
    /// The API token's name, `anonymous`, or `syncwatch` for what it did itself.
    actor: String,
    from: Option<String>,
    to: Option<String>,
    detail: String,
}

impl From<crate::store::StoredTicketEvent> for EventView {
    fn from(e: crate::store::StoredTicketEvent) -> Self {
        Self {
            id: e.id,
            cursor: e.seq.to_string(),
            ticket_id: e.ticket_id,
            at: rfc3339(e.at_ms),
            kind: e.kind,
            actor: e.actor,
            from: e.from,
            to: e.to,
            detail: e.detail,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    after: Option<String>,
    limit: Option<i64>,
}

const FEED_DEFAULT_LIMIT: i64 = 100;
const FEED_MAX_LIMIT: i64 = 1_000;

/// `GET /api/v1/ticket-events?after=<cursor>&limit=`: every ticket's events in the order they
/// were committed, after `after` (from the first without it), at most `limit` (default 100, at
/// most 1,000). `next_cursor` is where to continue; it is `after` itself when nothing is new,
/// so a support tool polls with the last cursor it got and never misses or repeats an event,
/// however tickets are written meanwhile.
pub async fn feed(
    state: web::Data<AppState>,
    q: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let after = match q.after.as_deref() {
        None | Some("") => 0,
        Some(c) => c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::bad_request(format!(
                "after: {c:?} is not a cursor of this feed (use an event's cursor or next_cursor)"
            ))
        })?,
    };
    let limit = q.limit.unwrap_or(FEED_DEFAULT_LIMIT);
    if !(1..=FEED_MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: {limit} is not between 1 and {FEED_MAX_LIMIT}"
        )));
    }
    let events = state
        .store
        .ticket_event_feed(after, limit)
        .await
        .map_err(ApiError::internal)?;
    let next = events.last().map_or(after, |e| e.seq);
    let events: Vec<EventView> = events.into_iter().map(EventView::from).collect();
    Ok(HttpResponse::Ok().json(json!({"events": events, "next_cursor": next.to_string()})))
}

/// The longest comment (markdown): 16 KiB.
const MAX_COMMENT_BYTES: usize = 16 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    body: String,
    #[serde(default = "internal")]
    visibility: String,
}

fn internal() -> String {
    "internal".into()
}

fn comment_json(c: crate::store::StoredComment) -> serde_json::Value {
    json!({
        "id": c.id,
        "ticket_id": c.ticket_id,
        "at": rfc3339(c.at_ms),
        "actor": c.actor,
        "visibility": c.visibility,
        "body": c.body,
    })
}

/// `POST /api/v1/tickets/{id}/comments` `{body, visibility}`: 201 with the comment. `body` is
/// markdown, 1 byte to 16 KiB; `visibility` `internal` (default) or `public`. Recorded as made
/// by the request's token, with a `commented` event. Honours `Idempotency-Key`.
pub async fn comment(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<NewComment>,
) -> Result<HttpResponse, ApiError> {
    let NewComment { body, visibility } = body.into_inner();
    if body.trim().is_empty() {
        return Err(ApiError::bad_request("body: empty"));
    }
    if body.len() > MAX_COMMENT_BYTES {
        return Err(ApiError::bad_request(format!(
            "body: longer than {MAX_COMMENT_BYTES} bytes"
        )));
    }
    if visibility != "internal" && visibility != "public" {
        return Err(ApiError::bad_request(format!(
            "visibility: {visibility:?} is not internal or public"
        )));
    }
    let actor = super::auth::actor(&req, &state);
    let now = state.clock.now_ms();
    match state
        .store
        .add_comment(&id, &actor, &visibility, &body, now)
        .await
        .map_err(ApiError::internal)?
    {
        Some(c) => Ok(HttpResponse::Created().json(comment_json(c))),
        None => Err(ApiError::not_found(format!("no ticket {:?}", id.as_str()))),
    }
}

/// `GET /api/v1/tickets/{id}/comments`: the comments, oldest first.
pub async fn comments(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_ticket(&state, &id).await?;
    let comments = state
        .store
        .ticket_comments(&id)
        .await
        .map_err(ApiError::internal)?;
    let comments: Vec<serde_json::Value> = comments.into_iter().map(comment_json).collect();
    Ok(HttpResponse::Ok().json(json!({"comments": comments})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    since: Option<String>,
    until: Option<String>,
    group_by: Option<String>,
}

/// The window of figures when `since` is not given: the last 30 days.
const STATS_DEFAULT_WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;

fn rfc3339_param(name: &str, v: Option<String>) -> Result<Option<i64>, ApiError> {
    v.map(|s| {
        chrono::DateTime::parse_from_rfc3339(&s)
            .map(|d| d.timestamp_millis())
            .map_err(|_| {
                ApiError::bad_request(format!(
                    "{name}: {s:?} is not an RFC 3339 time such as 2026-11-21T10:00:00Z"
                ))
            })
    })
    .transpose()
}

/// `GET /api/v1/tickets/stats?since=&until=&group_by=`: the figures of the tickets created in
/// `[since, until)` (default: the 30 days before now), overall and per value of `group_by`
/// (`provider`, `alertname`, `severity`, `tier`, `priority`), as
/// [`crate::domain::ticket_stats`] defines them (MTTA, MTTR, escalations, breaches, repeats).
pub async fn stats(
    state: web::Data<AppState>,
    q: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    use crate::domain::ticket_stats::summarise;
    use crate::store::StatsGroup;
    let q = q.into_inner();
    let now = state.clock.now_ms();
    let until = rfc3339_param("until", q.until)?.unwrap_or(now);
    let since = rfc3339_param("since", q.since)?.unwrap_or(until - STATS_DEFAULT_WINDOW_MS);
    if since >= until {
        return Err(ApiError::bad_request("since: must be before until"));
    }
    let group = q
        .group_by
        .map(|g| {
            StatsGroup::parse(&g).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "group_by: {g:?} is not one of provider, alertname, severity, tier, priority"
                ))
            })
        })
        .transpose()?;
    let facts = state
        .store
        .ticket_facts(since, until, group)
        .await
        .map_err(ApiError::internal)?;
    let overall = summarise(facts.iter().map(|(_, f)| f));
    let mut groups = serde_json::Map::new();
    if group.is_some() {
        let mut by: std::collections::BTreeMap<
            &str,
            Vec<&crate::domain::ticket_stats::TicketFacts>,
        > = Default::default();
        for (g, f) in &facts {
            by.entry(g.as_str()).or_default().push(f);
        }
        for (g, fs) in by {
            groups.insert(g.to_string(), json!(summarise(fs)));
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "since": rfc3339(since),
        "until": rfc3339(until),
        "group_by": group.map(StatsGroup::as_str),
        "overall": overall,
        "groups": groups,
    })))
}
