//! `GET /providers/{provider}`: its circuit breaker, its connections (state, last success, last
//! error, a sync button), the recent runs of one connection with their errors, and its dead
//! letters with a replay button. `POST …/connections/{connection}/sync` and
//! `POST /providers/{provider}/replay` do what `POST /api/v1/providers/…/sync` and
//! `POST /api/v1/dlq/replay` do.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Chrome, Ctx, error_page, forged, not_found, when, when_ms};
use crate::api::dlq::{Filter, ReplayRequest, replay_letters};
use crate::api::providers::RunView;
use crate::api::{ApiError, AppState};
use crate::providers::{ConnectionStatus, GetStatus, SyncNow};
use crate::store::DlqFilter;

/// Connections a page lists (those needing attention first; `offset` pages on, `q` narrows):
/// 200 rows keep the page far under 150 KB.
const PAGE_CONNECTIONS: usize = 200;
/// Runs and dead letters shown.
const RECENT: i64 = 20;

struct ConnectionRow {
    name: String,
    state: &'static str,
    schedule: String,
    last_success: String,
    last_error: String,
    last_error_class: String,
    records: u64,
}

impl ConnectionRow {
    fn of(c: &ConnectionStatus) -> Self {
        Self {
            name: c.connection.clone(),
            state: c.state,
            schedule: c.schedule.clone(),
            last_success: when(c.last_success.as_deref()),
            last_error: c
                .last_error
                .as_ref()
                .map(|e| format!("{}: {}", when(Some(&e.at)), e.reason))
                .unwrap_or_default(),
            last_error_class: c
                .last_error
                .as_ref()
                .map(|e| e.error_class.as_str().to_string())
                .unwrap_or_default(),
            records: c.last_records,
        }
    }
}

/// Whether a connection needs someone's attention: failing, waiting out a backoff, or paused.
pub fn troubled(c: &ConnectionStatus) -> bool {
    matches!(c.state, "failing" | "rescheduled" | "paused")
}

struct RunRow {
    started: String,
    status: &'static str,
    records: i64,
    pages: i64,
    error: String,
}

struct LetterRow {
    at: String,
    connection: String,
    stage: String,
    error_class: &'static str,
    error: String,
    attempts: i64,
}

#[derive(Template)]
#[template(path = "provider.html")]
struct ProviderPage {
    chrome: Chrome,
    name: String,
    circuit: &'static str,
    connections: Vec<ConnectionRow>,
    total_connections: usize,
    troubled: usize,
    /// The connections `q` keeps, and where this page starts among them.
    q: String,
    matching: usize,
    shown_from: usize,
    previous: Option<String>,
    next: Option<String>,
    /// The connection whose runs are shown.
    selected: String,
    runs: Vec<RunRow>,
    letters: Vec<LetterRow>,
    dlq_total: i64,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ProviderQuery {
    /// Whose runs to show (default: the first troubled connection, else the first).
    connection: Option<String>,
    /// What the last button did.
    notice: Option<String>,
    /// A part of the connections' names.
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: usize,
}

/// `GET /providers/{provider}`.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    q: web::Query<ProviderQuery>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let q = q.into_inner();
    match provider_page(&state, &ctx, &provider, q).await {
        Ok(Some(page)) => ctx.respond(StatusCode::OK, page),
        Ok(None) => not_found(
            &ctx,
            &format!(
                "There is no provider {:?}.",
                crate::domain::truncate(&provider, 100)
            ),
        ),
        Err(e) => error_page(&ctx, &e, "/"),
    }
}

async fn provider_page(
    state: &AppState,
    ctx: &Ctx,
    name: &str,
    q: ProviderQuery,
) -> Result<Option<Result<String, askama::Error>>, ApiError> {
    let Some(addr) = state.providers.get(name) else {
        return Ok(None);
    };
    let status = addr
        .send(GetStatus)
        .await
        .map_err(|_| ApiError::unavailable("provider actor"))?;
    let mut connections: Vec<&ConnectionStatus> = status.connections.iter().collect();
    connections.sort_by_key(|c| !troubled(c));
    let needle = q.q.trim().to_lowercase();
    let matching: Vec<&ConnectionStatus> = connections
        .iter()
        .filter(|c| needle.is_empty() || c.connection.to_lowercase().contains(&needle))
        .copied()
        .collect();
    let link = |offset: usize| {
        let path: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        format!(
            "/providers/{path}?{}",
            super::sla::encode(&[("q", &q.q), ("offset", &offset.to_string())])
        )
    };
    let selected = q
        .connection
        .filter(|c| status.connections.iter().any(|x| &x.connection == c))
        .or_else(|| connections.first().map(|c| c.connection.clone()))
        .unwrap_or_default();
    let runs = if selected.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .list_sync_runs(name, &selected, None, RECENT)
            .await
            .map_err(ApiError::store)?
    };
    let (letters, _) = state
        .store
        .list_dead_letters(&DlqFilter {
            provider: Some(name.to_string()),
            limit: RECENT,
            ..DlqFilter::default()
        })
        .await
        .map_err(ApiError::store)?;
    let dlq_total = state
        .store
        .dead_letter_total(Some(name))
        .await
        .map_err(ApiError::store)?;
    Ok(Some(
        ProviderPage {
            chrome: ctx.chrome(""),
            name: name.to_string(),
            circuit: status.circuit,
            troubled: connections.iter().filter(|c| troubled(c)).count(),
            total_connections: connections.len(),
            connections: matching
                .iter()
                .skip(q.offset)
                .take(PAGE_CONNECTIONS)
                .map(|c| ConnectionRow::of(c))
                .collect(),
            matching: matching.len(),
            shown_from: q.offset + 1,
            previous: (q.offset > 0).then(|| link(q.offset.saturating_sub(PAGE_CONNECTIONS))),
            next: (q.offset + PAGE_CONNECTIONS < matching.len())
                .then(|| link(q.offset + PAGE_CONNECTIONS)),
            q: q.q.clone(),
            selected,
            runs: runs
                .iter()
                .map(RunView::from)
                .map(|r| RunRow {
                    started: when(Some(&r.started_at)),
                    status: r.status,
                    records: r.records,
                    pages: r.pages,
                    error: match (r.error_class, r.reason) {
                        (Some(class), Some(reason)) => format!("{class}: {reason}"),
                        _ => String::new(),
                    },
                })
                .collect(),
            letters: letters
                .iter()
                .map(|l| LetterRow {
                    at: when_ms(l.created_at_ms),
                    connection: l.letter.connection.clone(),
                    stage: format!("{}/{}", l.letter.pipeline, l.letter.stage),
                    error_class: l.letter.error_class.as_str(),
                    error: l.letter.error.clone(),
                    attempts: l.attempts,
                })
                .collect(),
            dlq_total,
            notice: q.notice,
        }
        .render(),
    ))
}

fn back(provider: &str, notice: &str) -> HttpResponse {
    let path: String = url::form_urlencoded::byte_serialize(provider.as_bytes()).collect();
    HttpResponse::SeeOther()
        .insert_header((
            "location",
            format!(
                "/providers/{path}?{}",
                super::sla::encode(&[("notice", notice)])
            ),
        ))
        .finish()
}

/// `POST /providers/{provider}/connections/{connection}/sync`: a sync now.
pub async fn sync(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<super::CsrfOnly>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    if let Some(refused) = forged(&req, &state, &ctx, &form.csrf) {
        return refused;
    }
    let (provider, connection) = path.into_inner();
    let Some(addr) = state.providers.get(&provider) else {
        return not_found(&ctx, "There is no such provider.");
    };
    match addr
        .send(SyncNow {
            connection: connection.clone(),
        })
        .await
    {
        Ok(Ok(status)) => back(&provider, &format!("Sync of {connection}: {status}.")),
        Ok(Err(e)) => back(&provider, &format!("{connection}: {e}")),
        Err(_) => error_page(&ctx, &ApiError::unavailable("provider actor"), "/"),
    }
}

/// The replay form: which connection's letters (all of the provider's when empty).
#[derive(Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    connection: String,
}

/// `POST /providers/{provider}/replay`: sends the provider's dead letters (up to 1,000, oldest
/// first) back into the stages that failed them.
pub async fn replay(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    form: web::Form<ReplayForm>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    if let Some(refused) = forged(&req, &state, &ctx, &form.csrf) {
        return refused;
    }
    if !state.providers.contains_key(provider.as_str()) {
        return not_found(&ctx, "There is no such provider.");
    }
    let request = ReplayRequest {
        filter: Some(Filter {
            provider: Some(provider.to_string()),
            connection: Some(form.connection.trim().to_string()).filter(|c| !c.is_empty()),
            ..Filter::default()
        }),
        ..ReplayRequest::default()
    };
    match replay_letters(&state, request).await {
        Ok(r) => back(
            &provider,
            &format!(
                "Replayed {}: {} went through, {} failed again{}.",
                r.replayed,
                r.resolved,
                r.still_failing,
                if r.skipped.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} skipped (their stage is not configured now)",
                        r.skipped.iter().map(|s| s.records).sum::<usize>()
                    )
                }
            ),
        ),
        Err(e) => error_page(&ctx, &e, &format!("/providers/{provider}")),
    }
}
