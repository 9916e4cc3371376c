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

/// The ticket as clients see it (DESIGN §7). Times are RFC 3339.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TicketView {
    id: String,
    url: String,
    dedup_key: String,
    #[schema(value_type = TicketStatus)]
    status: &'static str,
    /// `critical`, `error`, `warning` or `info`.
    severity: &'static str,
    #[schema(value_type = Priority)]
    priority: &'static str,
    #[schema(value_type = Tier)]
    tier: &'static str,
    title: String,
    summary: String,
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
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

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<TicketStatus>)]
    pub(crate) status: Option<String>,
    pub(crate) severity: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) connection: Option<String>,
    pub(crate) alertname: Option<String>,
    /// Created at or after this time.
    #[param(format = DateTime)]
    pub(crate) since: Option<String>,
    /// `next_cursor` of the page before.
    pub(crate) cursor: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub(crate) limit: Option<i64>,
}

/// A page of tickets, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TicketPage {
    tickets: Vec<TicketView>,
    /// Where the next page starts; `null` on the last page.
    next_cursor: Option<String>,
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// Parses the query into a filter, naming the offending parameter.
pub(crate) fn filter(q: ListQuery) -> Result<TicketFilter, ApiError> {
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

/// List tickets, newest first, filtered and paged by cursor.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(ListQuery),
    responses(
        (status = 200, description = "A page of tickets", body = TicketPage),
        (status = 400, description = "A parameter is invalid (named in the message)", body = super::ErrorBody),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .store
        .list_tickets(&filter(q.into_inner())?)
        .await
        .map_err(ApiError::store)?;
    let tickets: Vec<TicketView> = page
        .tickets
        .into_iter()
        .map(|t| TicketView::new(t, &state.public_url))
        .collect();
    Ok(HttpResponse::Ok().json(TicketPage {
        tickets,
        next_cursor: page.next_cursor,
    }))
}

/// Read a ticket, with its strong `ETag` (what a PATCH's `If-Match` names).
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id")),
    responses(
        (status = 200, description = "The ticket", body = TicketView,
            headers(("ETag" = String, description = "The ticket's version, quoted: a strong ETag"))),
        (status = 404, description = "No such ticket", body = super::ErrorBody),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // A ticket link opened in a browser (Slack, email, a ticket's own `url`) shows its page.
    if crate::web::wants_html(&req) {
        return Ok(HttpResponse::SeeOther()
            .insert_header((
                "location",
                format!(
                    "/tickets/{}",
                    url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
                ),
            ))
            .finish());
    }
    match state.store.get_ticket(&id).await.map_err(ApiError::store)? {
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
                    "{other}: not a field a PATCH changes ({})",
                    PATCH_FIELDS.join(", ")
                )));
            }
        }
    }
    Ok(change)
}

/// What a PATCH may change (a JSON merge patch, RFC 7396): a field left out stays as it is.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the body `parse_patch` reads
pub struct TicketPatch {
    /// As the lifecycle allows.
    status: Option<TicketStatus>,
    /// Who works it; `null` unassigns.
    assignee: Option<String>,
    tier: Option<Tier>,
    priority: Option<Priority>,
    /// How it was resolved (markdown, up to 16 KiB), when the ticket is or becomes resolved.
    #[schema(max_length = 16384)]
    resolution: Option<String>,
}

/// The fields [`parse_patch`] reads: those of [`TicketPatch`].
const PATCH_FIELDS: [&str; 5] = ["status", "assignee", "tier", "priority", "resolution"];

/// The longest resolution text (as a comment: 16 KiB).
pub(crate) const MAX_RESOLUTION_BYTES: usize = 16 * 1024;

/// `PATCH /api/v1/tickets/{id}`: 200 with the ticket and its new ETag; 428 without `If-Match`,
/// 412 (with the current ETag) when the ticket changed since, 409 for a status change the
/// lifecycle does not allow (naming the allowed ones) or a reopen while another ticket of the
/// same problem is active, 422 for a resolution on a ticket left unresolved, 415 for a body
/// that is not JSON. The change is recorded as made by the request's token.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(
        ("id" = String, Path, description = "The ticket's id"),
        ("If-Match" = String, Header, description = "The ETag the change was made against (from GET), or `*`"),
    ),
    request_body(content = TicketPatch, content_type = "application/merge-patch+json",
        description = "A JSON merge patch (`application/json` is taken too)"),
    responses(
        (status = 200, description = "Changed (or nothing to change): the ticket now", body = TicketView,
            headers(("ETag" = String, description = "The ticket's new version"))),
        (status = 400, description = "The body is not a merge patch of these fields", body = super::ErrorBody),
        (status = 404, description = "No such ticket", body = super::ErrorBody),
        (status = 409, description = "A status change the lifecycle does not allow (naming the allowed ones), or a reopen while another ticket of the problem is active", body = super::ErrorBody),
        (status = 412, description = "The ticket changed since that ETag", body = super::ErrorBody,
            headers(("ETag" = String, description = "The ticket's current version"))),
        (status = 415, description = "Not JSON", body = super::ErrorBody),
        (status = 422, description = "A resolution on a ticket left unresolved", body = super::ErrorBody),
        (status = 428, description = "No If-Match", body = super::ErrorBody),
    ))]
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
        .map_err(ApiError::store)?;
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
pub(crate) fn observe_times(state: &AppState, t: &Ticket, now: i64) {
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
    match state.store.get_ticket(id).await.map_err(ApiError::store)? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!("no ticket {id:?}"))),
    }
}

/// A ticket's history, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventList {
    events: Vec<EventView>,
}

/// `GET /api/v1/tickets/{id}/events`: the ticket's history, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/events", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id")),
    responses(
        (status = 200, description = "Its history, oldest first", body = EventList),
        (status = 404, description = "No such ticket", body = super::ErrorBody),
    ))]
pub async fn events(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_ticket(&state, &id).await?;
    let events = state
        .store
        .ticket_events(&id)
        .await
        .map_err(ApiError::store)?;
    let events: Vec<EventView> = events.into_iter().map(EventView::from).collect();
    Ok(HttpResponse::Ok().json(EventList { events }))
}

/// One recorded change of a ticket.
#[derive(Serialize, utoipa::ToSchema)]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// An event's `cursor`, or the last `next_cursor`; from the first event without it.
    after: Option<String>,
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
}

/// Events after a cursor, in commit order.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventFeed {
    events: Vec<EventView>,
    /// Where to continue: the last event's cursor, or `after` when nothing is new.
    next_cursor: String,
}

const FEED_DEFAULT_LIMIT: i64 = 100;
const FEED_MAX_LIMIT: i64 = 1_000;

/// `GET /api/v1/ticket-events?after=<cursor>&limit=`: every ticket's events in the order they
/// were committed, after `after` (from the first without it), at most `limit` (default 100, at
/// most 1,000). `next_cursor` is where to continue; it is `after` itself when nothing is new,
/// so a support tool polls with the last cursor it got and never misses or repeats an event,
/// however tickets are written meanwhile.
#[utoipa::path(get, path = "/api/v1/ticket-events", tag = "tickets", params(FeedQuery),
    responses(
        (status = 200, description = "Events after the cursor", body = EventFeed),
        (status = 400, description = "A parameter is invalid (named in the message)", body = super::ErrorBody),
    ))]
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
        .map_err(ApiError::store)?;
    let next = events.last().map_or(after, |e| e.seq);
    let events: Vec<EventView> = events.into_iter().map(EventView::from).collect();
    Ok(HttpResponse::Ok().json(EventFeed {
        events,
        next_cursor: next.to_string(),
    }))
}

/// The longest comment (markdown): 16 KiB.
pub(crate) const MAX_COMMENT_BYTES: usize = 16 * 1024;

/// A new comment.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// Markdown, 1 byte to 16 KiB.
    #[schema(min_length = 1, max_length = 16384)]
    body: String,
    /// `internal` (default: support only) or `public`.
    #[schema(pattern = "^(internal|public)$")]
    #[serde(default = "internal")]
    visibility: String,
}

fn internal() -> String {
    "internal".into()
}

/// A comment on a ticket.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CommentView {
    id: String,
    ticket_id: String,
    at: String,
    /// The API token's name, or `anonymous`.
    actor: String,
    /// `internal` or `public`.
    visibility: String,
    /// Markdown.
    body: String,
}

impl From<crate::store::StoredComment> for CommentView {
    fn from(c: crate::store::StoredComment) -> Self {
        Self {
            id: c.id,
            ticket_id: c.ticket_id,
            at: rfc3339(c.at_ms),
            actor: c.actor,
            visibility: c.visibility,
            body: c.body,
        }
    }
}

/// A ticket's comments, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CommentList {
    comments: Vec<CommentView>,
}

/// `POST /api/v1/tickets/{id}/comments` `{body, visibility}`: 201 with the comment. `body` is
/// markdown, 1 byte to 16 KiB; `visibility` `internal` (default) or `public`. Recorded as made
/// by the request's token, with a `commented` event. Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/comments", tag = "tickets",
    params(
        ("id" = String, Path, description = "The ticket's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Sent again with the same body: the first answer again, done once"),
    ),
    request_body = NewComment,
    responses(
        (status = 201, description = "The comment", body = CommentView),
        (status = 400, description = "An empty or too long body, or an unknown visibility", body = super::ErrorBody),
        (status = 404, description = "No such ticket", body = super::ErrorBody),
        (status = 409, description = "The same Idempotency-Key is still being answered", body = super::ErrorBody),
        (status = 422, description = "The Idempotency-Key was used with another body", body = super::ErrorBody),
    ))]
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
        .map_err(ApiError::store)?
    {
        Some(c) => Ok(HttpResponse::Created().json(CommentView::from(c))),
        None => Err(ApiError::not_found(format!("no ticket {:?}", id.as_str()))),
    }
}

/// `GET /api/v1/tickets/{id}/comments`: the comments, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/comments", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id")),
    responses(
        (status = 200, description = "Its comments, oldest first", body = CommentList),
        (status = 404, description = "No such ticket", body = super::ErrorBody),
    ))]
pub async fn comments(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_ticket(&state, &id).await?;
    let comments = state
        .store
        .ticket_comments(&id)
        .await
        .map_err(ApiError::store)?;
    let comments = comments.into_iter().map(CommentView::from).collect();
    Ok(HttpResponse::Ok().json(CommentList { comments }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Tickets created at or after this time (default: 30 days before `until`).
    #[param(format = DateTime)]
    since: Option<String>,
    /// … and before this one (default: now).
    #[param(format = DateTime)]
    until: Option<String>,
    /// `provider`, `connection` (named `provider/connection`), `alertname`, `severity`, `tier`
    /// or `priority`.
    #[param(pattern = "^(provider|connection|alertname|severity|tier|priority)$")]
    group_by: Option<String>,
}

/// The figures of the tickets created in `[since, until)`: overall and per group. MTTA: first
/// acknowledgement minus creation, over the tickets acknowledged at least once. MTTR:
/// resolution minus creation, over the tickets resolved or closed; a reopened ticket counts
/// once, up to its last resolution, and not while it is reopened. Percentiles are nearest-rank.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TicketStatsView {
    since: String,
    until: String,
    group_by: Option<&'static str>,
    overall: crate::domain::ticket_stats::TicketStats,
    /// By the `group_by` value (empty without `group_by`).
    groups: std::collections::BTreeMap<String, crate::domain::ticket_stats::TicketStats>,
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
/// (`provider`, `connection`, `alertname`, `severity`, `tier`, `priority`), as
/// [`crate::domain::ticket_stats`] defines them (MTTA, MTTR, escalations, breaches, repeats).
#[utoipa::path(get, path = "/api/v1/tickets/stats", tag = "tickets", params(StatsQuery),
    responses(
        (status = 200, description = "The figures", body = TicketStatsView),
        (status = 400, description = "A parameter is invalid (named in the message)", body = super::ErrorBody),
    ))]
pub async fn stats(
    state: web::Data<AppState>,
    q: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    use crate::domain::ticket_stats::{TicketTally, summarise};
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
                    "group_by: {g:?} is not one of provider, connection, alertname, severity, tier, priority"
                ))
            })
        })
        .transpose()?;
    let tallies = state
        .store
        .ticket_tallies(since, until, group)
        .await
        .map_err(ApiError::store)?;
    let mut whole = TicketTally::default();
    let mut groups = std::collections::BTreeMap::new();
    for (g, t) in tallies {
        if group.is_some() {
            groups.insert(g, summarise(t.clone()));
        }
        whole.add(t);
    }
    let overall = summarise(whole);
    Ok(HttpResponse::Ok().json(TicketStatsView {
        since: rfc3339(since),
        until: rfc3339(until),
        group_by: group.map(StatsGroup::as_str),
        overall,
        groups,
    }))
}
