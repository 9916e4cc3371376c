//! `GET /tickets` (the API's filters in the URL, newest first, a page at a time) and
//! `GET /tickets/{id}` (the ticket, its history and comments, and forms to acknowledge,
//! assign, escalate, comment and resolve). `POST /tickets/{id}` applies a form the way
//! `PATCH /api/v1/tickets/{id}` does, against the version the page was read at (its ETag): when
//! someone changed the ticket since, nothing is overwritten and the page answers 412 with the
//! ticket as it is now and what changed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Chrome, Ctx, error_page, forged, markdown, not_found, when_ms};
use crate::api::tickets::{
    ListQuery, MAX_COMMENT_BYTES, MAX_RESOLUTION_BYTES, filter, observe_times,
};
use crate::api::{ApiError, AppState};
use crate::domain::ticket::{ChangeError, Ticket, TicketChange, TicketStatus, Tier};
use crate::store::TicketUpdate;

/// A ticket as a row.
struct TicketRow {
    id: String,
    title: String,
    status: &'static str,
    severity: &'static str,
    priority: &'static str,
    tier: &'static str,
    provider: String,
    assignee: String,
    created: String,
}

impl TicketRow {
    fn of(t: &Ticket) -> Self {
        Self {
            id: t.id.clone(),
            title: t.title.clone(),
            status: t.status.as_str(),
            severity: t.severity.as_str(),
            priority: t.priority.as_str(),
            tier: t.tier.as_str(),
            provider: [t.provider.as_deref(), t.connection.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("/"),
            assignee: t.assignee.clone().unwrap_or_default(),
            created: when_ms(t.created_at_ms),
        }
    }
}

/// `/tickets`' filters: those of `GET /api/v1/tickets`, empty ones ignored.
#[derive(Deserialize, Default)]
pub struct TicketFilters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    connection: String,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    cursor: String,
}

fn given(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|v| !v.is_empty())
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct TicketsPage {
    chrome: Chrome,
    f: TicketFilters,
    rows: Vec<TicketRow>,
    next: Option<String>,
    api: String,
}

/// `GET /tickets`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<TicketFilters>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let f = q.into_inner();
    let query = ListQuery {
        status: given(&f.status),
        severity: given(&f.severity),
        provider: given(&f.provider),
        connection: given(&f.connection),
        alertname: given(&f.alertname),
        cursor: given(&f.cursor),
        ..ListQuery::default()
    };
    let found = match filter(query) {
        Ok(filter) => state
            .store
            .list_tickets(&filter)
            .await
            .map_err(ApiError::store),
        Err(e) => Err(e),
    };
    let page = match found {
        Ok(p) => p,
        Err(e) => return error_page(&ctx, &e, "/tickets"),
    };
    let params = |cursor: &str| {
        super::sla::encode(
            &[
                ("status", f.status.as_str()),
                ("severity", &f.severity),
                ("provider", &f.provider),
                ("connection", &f.connection),
                ("alertname", &f.alertname),
                ("cursor", cursor),
            ]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect::<Vec<_>>(),
        )
    };
    let next = page
        .next_cursor
        .as_deref()
        .map(|c| format!("/tickets?{}", params(c)));
    let api = format!("/api/v1/tickets?{}", params(&f.cursor));
    ctx.respond(
        StatusCode::OK,
        TicketsPage {
            chrome: ctx.chrome("tickets"),
            rows: page.tickets.iter().map(TicketRow::of).collect(),
            next,
            api,
            f,
        }
        .render(),
    )
}

struct EventLine {
    at: String,
    kind: String,
    actor: String,
    change: String,
}

struct CommentLine {
    at: String,
    actor: String,
    visibility: String,
    /// Sanitised HTML of the comment's markdown.
    body: String,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    chrome: Chrome,
    t: TicketRow,
    summary: String,
    alertname: String,
    labels: Vec<(String, String)>,
    runbook: Option<(String, String)>,
    version: i64,
    occurrences: i64,
    acknowledge_by: String,
    resolve_by: String,
    resolution: String,
    can_acknowledge: bool,
    can_resolve: bool,
    /// The tier an escalation moves to.
    next_tier: Option<&'static str>,
    events: Vec<EventLine>,
    comments: Vec<CommentLine>,
    /// Why the last form was not taken (412, 409, 400…).
    problem: Option<String>,
}

/// The ticket's page, `problem` shown on top.
async fn ticket_page(
    state: &AppState,
    ctx: &Ctx,
    t: Ticket,
    problem: Option<String>,
) -> Result<Result<String, askama::Error>, ApiError> {
    let events = state
        .store
        .ticket_events(&t.id)
        .await
        .map_err(ApiError::store)?;
    let comments = state
        .store
        .ticket_comments(&t.id)
        .await
        .map_err(ApiError::store)?;
    let active = matches!(t.status, TicketStatus::Open | TicketStatus::Acknowledged);
    Ok(TicketPage {
        chrome: ctx.chrome("tickets"),
        summary: t.summary.clone(),
        alertname: t.alertname.clone(),
        labels: t
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        runbook: t.runbook.as_ref().map(|r| (r.id.clone(), r.title.clone())),
        version: t.version,
        occurrences: t.occurrences,
        acknowledge_by: t.ack_due_ms().map_or_else(|| "–".into(), when_ms),
        resolve_by: t.resolve_due_ms().map_or_else(|| "–".into(), when_ms),
        resolution: t.resolution.clone().unwrap_or_default(),
        can_acknowledge: t.status == TicketStatus::Open,
        can_resolve: active,
        next_tier: match t.tier {
            Tier::L1 if active => Some("L2"),
            Tier::L2 if active => Some("L3"),
            _ => None,
        },
        events: events
            .into_iter()
            .map(|e| EventLine {
                at: when_ms(e.at_ms),
                change: match (e.from, e.to) {
                    (Some(f), Some(t)) => format!("{f} → {t}"),
                    (None, Some(t)) => t,
                    (Some(f), None) => format!("{f} →"),
                    (None, None) => String::new(),
                },
                kind: e.kind,
                actor: e.actor,
            })
            .collect(),
        comments: comments
            .into_iter()
            .map(|c| CommentLine {
                at: when_ms(c.at_ms),
                actor: c.actor,
                visibility: c.visibility,
                body: markdown::to_safe_html(&c.body),
            })
            .collect(),
        problem,
        t: TicketRow::of(&t),
    }
    .render())
}

/// `GET /tickets/{id}`.
pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let t = match state.store.get_ticket(&id).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(&ctx, &format!("There is no ticket {:?}.", truncated(&id))),
        Err(e) => return error_page(&ctx, &ApiError::store(e), "/tickets"),
    };
    match ticket_page(&state, &ctx, t, None).await {
        Ok(page) => ctx.respond(StatusCode::OK, page),
        Err(e) => error_page(&ctx, &e, "/tickets"),
    }
}

fn truncated(id: &str) -> String {
    crate::domain::truncate(id, 100)
}

/// A form of the ticket page. `action` is `acknowledge`, `assign`, `escalate`, `comment` or
/// `resolve`; `version` the ticket's version when the page was read (its ETag).
#[derive(Deserialize)]
pub struct TicketForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    version: Option<i64>,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    visibility: String,
}

/// What a form asks for.
#[derive(Debug)]
enum Asked {
    Change(TicketChange),
    Comment { body: String, visibility: String },
}

/// Reads a form into a change, naming the field that is wrong.
fn asked(f: &TicketForm) -> Result<Asked, String> {
    let mut change = TicketChange::default();
    match f.action.as_str() {
        "acknowledge" => change.status = Some(TicketStatus::Acknowledged),
        "assign" => {
            change.assignee = Some(given(&f.assignee));
        }
        "escalate" => {
            change.tier = Some(
                Tier::parse(f.tier.trim())
                    .ok_or_else(|| format!("tier: {:?} is not one of L1, L2, L3", f.tier))?,
            );
        }
        "resolve" => {
            if f.resolution.len() > MAX_RESOLUTION_BYTES {
                return Err(format!(
                    "resolution: longer than {MAX_RESOLUTION_BYTES} bytes"
                ));
            }
            change.status = Some(TicketStatus::Resolved);
            if let Some(r) = given(&f.resolution) {
                change.resolution = Some(r);
            }
        }
        "comment" => {
            if f.body.trim().is_empty() {
                return Err("comment: empty".into());
            }
            if f.body.len() > MAX_COMMENT_BYTES {
                return Err(format!("comment: longer than {MAX_COMMENT_BYTES} bytes"));
            }
            let visibility = match f.visibility.as_str() {
                "" | "internal" => "internal",
                "public" => "public",
                other => return Err(format!("visibility: {other:?} is not internal or public")),
            };
            return Ok(Asked::Comment {
                body: f.body.clone(),
                visibility: visibility.into(),
            });
        }
        other => {
            return Err(format!(
                "action: {other:?} is not acknowledge, assign, escalate, comment or resolve"
            ));
        }
    }
    Ok(Asked::Change(change))
}

/// `POST /tickets/{id}`: 303 back to the ticket when done; the ticket page with the reason
/// otherwise (412 when it changed since the page was read, 409 for a change its status does
/// not allow, 400 for a wrong field).
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<TicketForm>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    if let Some(refused) = forged(&req, &state, &ctx, &form.csrf) {
        return refused;
    }
    let back = HttpResponse::SeeOther()
        .insert_header(("location", format!("/tickets/{}", urlencode(&id))))
        .finish();
    let actor = crate::api::auth::actor(&req, &state);
    let now = state.clock.now_ms();
    let (status, problem, current) = match asked(&form) {
        Err(problem) => (StatusCode::BAD_REQUEST, problem, None),
        Ok(Asked::Comment { body, visibility }) => {
            match state
                .store
                .add_comment(&id, &actor, &visibility, &body, now)
                .await
            {
                Ok(Some(_)) => return back,
                Ok(None) => {
                    return not_found(&ctx, &format!("There is no ticket {:?}.", truncated(&id)));
                }
                Err(e) => return error_page(&ctx, &ApiError::store(e), "/tickets"),
            }
        }
        Ok(Asked::Change(change)) => {
            let Some(version) = form.version else {
                return error_page(
                    &ctx,
                    &ApiError::bad_request("version: the form lacks the ticket's version"),
                    &format!("/tickets/{}", urlencode(&id)),
                );
            };
            match state
                .store
                .update_ticket(&id, Some(version), &change, &actor, now)
                .await
            {
                Ok(TicketUpdate::Updated(t)) => {
                    observe_times(&state, &t, now);
                    return back;
                }
                Ok(TicketUpdate::Stale(t)) => (
                    StatusCode::PRECONDITION_FAILED,
                    format!(
                        "Not changed: someone changed this ticket after you opened the page \
                         (you had version {version}, it is now {}; its history below says what \
                         changed). Check it is still what you want, then send the form again.",
                        t.version
                    ),
                    Some(t),
                ),
                Ok(TicketUpdate::NotFound) => {
                    return not_found(&ctx, &format!("There is no ticket {:?}.", truncated(&id)));
                }
                Ok(TicketUpdate::Refused(ChangeError::Transition(e))) => {
                    (StatusCode::CONFLICT, format!("Not changed: {e}"), None)
                }
                Ok(TicketUpdate::Refused(ChangeError::Field(m))) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("Not changed: {m}"),
                    None,
                ),
                Ok(TicketUpdate::DuplicateActive(other)) => (
                    StatusCode::CONFLICT,
                    format!("Not changed: ticket {other} is already active for this problem."),
                    None,
                ),
                Err(e) => return error_page(&ctx, &ApiError::store(e), "/tickets"),
            }
        }
    };
    let t = match current {
        Some(t) => t,
        None => match state.store.get_ticket(&id).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return not_found(&ctx, &format!("There is no ticket {:?}.", truncated(&id)));
            }
            Err(e) => return error_page(&ctx, &ApiError::store(e), "/tickets"),
        },
    };
    match ticket_page(&state, &ctx, t, Some(problem)).await {
        Ok(page) => ctx.respond(status, page),
        Err(e) => error_page(&ctx, &e, "/tickets"),
    }
}

/// A path segment, percent-encoded.
fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(action: &str) -> TicketForm {
        TicketForm {
            csrf: String::new(),
            action: action.into(),
            version: Some(1),
            assignee: String::new(),
            tier: String::new(),
            resolution: String::new(),
            body: String::new(),
            visibility: String::new(),
        }
    }

    #[test]
    fn each_form_asks_for_its_change() {
        let Ok(Asked::Change(c)) = asked(&form("acknowledge")) else {
            panic!()
        };
        assert_eq!(c.status, Some(TicketStatus::Acknowledged));
        let mut f = form("assign");
        f.assignee = " ana ".into();
        let Ok(Asked::Change(c)) = asked(&f) else {
            panic!()
        };
        assert_eq!(c.assignee, Some(Some("ana".into())));
        f.assignee = String::new();
        let Ok(Asked::Change(c)) = asked(&f) else {
            panic!()
        };
        assert_eq!(c.assignee, Some(None), "an empty assignee unassigns");
        let mut f = form("escalate");
        f.tier = "L2".into();
        let Ok(Asked::Change(c)) = asked(&f) else {
            panic!()
        };
        assert_eq!(c.tier, Some(Tier::L2));
        f.tier = "L9".into();
        assert!(asked(&f).unwrap_err().starts_with("tier:"));
        let mut f = form("resolve");
        f.resolution = "rotated the key".into();
        let Ok(Asked::Change(c)) = asked(&f) else {
            panic!()
        };
        assert_eq!(c.status, Some(TicketStatus::Resolved));
        assert_eq!(c.resolution.as_deref(), Some("rotated the key"));
        let mut f = form("comment");
        assert_eq!(asked(&f).err().as_deref(), Some("comment: empty"));
        f.body = "looking".into();
        f.visibility = "public".into();
        let Ok(Asked::Comment { visibility, .. }) = asked(&f) else {
            panic!()
        };
        assert_eq!(visibility, "public");
        f.visibility = "everyone".into();
        assert!(asked(&f).unwrap_err().starts_with("visibility:"));
        assert!(asked(&form("delete")).unwrap_err().starts_with("action:"));
    }
}
