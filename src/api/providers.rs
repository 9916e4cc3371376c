//! `GET /api/v1/providers`, and per connection: `POST …/sync`, `POST …/pause`, `POST …/resume`,
//! `GET …/runs` (under `/api/v1/providers/{p}/connections/{c}`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::{ApiError, AppState};
use crate::domain::clock::rfc3339;
use crate::providers::{GetStatus, SetPaused, SyncError, SyncNow};
use crate::store::parse_cursor;

/// A provider: its circuit breaker and its connections.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderView {
    pub(crate) name: String,
    /// `closed`, `half_open` or `open`.
    pub(crate) circuit: &'static str,
    pub(crate) connections: Vec<crate::providers::ConnectionStatus>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderList {
    providers: Vec<ProviderView>,
}

/// Every provider with each connection's state, last success and last error.
#[utoipa::path(get, path = "/api/v1/providers", tag = "providers",
    responses((status = 200, description = "The providers", body = ProviderList)))]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ProviderList {
        providers: provider_views(&state).await?,
    }))
}

/// Every provider's circuit and connections, by name (what `GET /api/v1/providers` answers).
/// The actors are asked all at once, so a busy one delays the answer once, not once each.
pub async fn provider_views(state: &AppState) -> Result<Vec<ProviderView>, ApiError> {
    let asked = state.providers.iter().map(|(name, addr)| async move {
        let status = addr
            .send(GetStatus)
            .await
            .map_err(|_| ApiError::unavailable("provider actor"))?;
        Ok(ProviderView {
            name: name.clone(),
            circuit: status.circuit,
            connections: status.connections,
        })
    });
    futures::future::join_all(asked).await.into_iter().collect()
}

/// A manual sync asked for.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SyncStarted {
    provider: String,
    connection: String,
    /// `started`, or `queued` (it waits its turn).
    status: &'static str,
}

/// A provider's connection, as the path names it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // describes the path `web::Path<(String, String)>` reads
struct ConnectionPath {
    /// A provider's name.
    provider: String,
    /// One of its connections.
    connection: String,
}

/// Sync a connection now (in the background).
#[utoipa::path(post, path = "/api/v1/providers/{provider}/connections/{connection}/sync", tag = "providers",
    params(
        ConnectionPath,
        ("Idempotency-Key" = Option<String>, Header, description = "Sent again with the same body: the first answer again, done once"),
    ),
    responses(
        (status = 202, description = "Started or queued", body = SyncStarted),
        (status = 404, description = "No such provider or connection", body = super::ErrorBody),
        (status = 409, description = "Already running, or paused", body = super::ErrorBody),
        (status = 429, description = "Throttled", body = super::ErrorBody),
    ))]
pub async fn sync_now(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (provider, connection) = path.into_inner();
    let addr = state
        .providers
        .get(&provider)
        .ok_or_else(|| ApiError::not_found(format!("no provider {provider:?}")))?;
    // The sync runs in the background; the answer says whether it started or waits its turn.
    let answer = addr
        .send(SyncNow {
            connection: connection.clone(),
        })
        .await
        .map_err(|_| ApiError::unavailable("provider actor"))?;
    match answer {
        Ok(status) => Ok(HttpResponse::Accepted().json(SyncStarted {
            provider,
            connection,
            status,
        })),
        Err(e) => Err(sync_error(&provider, e)),
    }
}

fn sync_error(provider: &str, e: SyncError) -> ApiError {
    match e {
        SyncError::UnknownConnection(c) => {
            ApiError::not_found(format!("provider {provider:?} has no connection {c:?}"))
        }
        e @ (SyncError::AlreadyRunning(_) | SyncError::Paused(_)) => {
            ApiError::conflict(e.to_string())
        }
        e @ SyncError::Throttled(_) => ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "throttled",
            message: e.to_string(),
        },
        SyncError::Store(m) => ApiError::internal(m),
    }
}

/// A connection's schedule after a pause or resume.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleState {
    provider: String,
    connection: String,
    /// `paused` or `scheduled`.
    state: &'static str,
}

/// `POST …/pause` and `POST …/resume`: stop a connection's scheduled syncs, or start them again.
#[utoipa::path(post, path = "/api/v1/providers/{provider}/connections/{connection}/{action}", tag = "providers",
    params(
        ConnectionPath,
        ("action" = String, Path, description = "`pause` or `resume`"),
        ("Idempotency-Key" = Option<String>, Header, description = "Sent again with the same body: the first answer again, done once"),
    ),
    responses(
        (status = 200, description = "Its schedule now", body = ScheduleState),
        (status = 404, description = "No such provider, connection or action", body = super::ErrorBody),
    ))]
pub async fn set_paused(
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (provider, connection, action) = path.into_inner();
    let paused = match action.as_str() {
        "pause" => true,
        "resume" => false,
        _ => return Err(ApiError::not_found(format!("no action {action:?}"))),
    };
    let addr = state
        .providers
        .get(&provider)
        .ok_or_else(|| ApiError::not_found(format!("no provider {provider:?}")))?;
    addr.send(SetPaused {
        connection: connection.clone(),
        paused,
    })
    .await
    .map_err(|_| ApiError::unavailable("provider actor"))?
    .map_err(|e| sync_error(&provider, e))?;
    Ok(HttpResponse::Ok().json(ScheduleState {
        provider,
        connection,
        state: if paused { "paused" } else { "scheduled" },
    }))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// 1 to 500 (default 50).
    limit: Option<String>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
}

/// One finished sync run.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub(crate) id: String,
    pub(crate) started_at: String,
    pub(crate) finished_at: String,
    /// `success` or `failure`.
    pub(crate) status: &'static str,
    pub(crate) records: i64,
    pub(crate) pages: i64,
    pub(crate) error_class: Option<&'static str>,
    pub(crate) reason: Option<String>,
    /// Stream → cursor, before and after the run.
    pub(crate) cursor_before: std::collections::BTreeMap<String, String>,
    pub(crate) cursor_after: std::collections::BTreeMap<String, String>,
}

impl From<&crate::store::SyncRun> for RunView {
    fn from(r: &crate::store::SyncRun) -> Self {
        Self {
            id: r.id.clone(),
            started_at: rfc3339(r.started_at_ms),
            finished_at: rfc3339(r.finished_at_ms),
            status: if r.error.is_some() {
                "failure"
            } else {
                "success"
            },
            records: r.records,
            pages: r.pages,
            error_class: r.error.as_ref().map(|(c, _)| c.as_str()),
            reason: r.error.as_ref().map(|(_, reason)| reason.clone()),
            cursor_before: r.cursor_before.clone(),
            cursor_after: r.cursor_after.clone(),
        }
    }
}

/// A page of runs, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RunPage {
    runs: Vec<RunView>,
    next_cursor: Option<String>,
}

/// `GET …/runs?limit=&cursor=`: the connection's sync history, newest first.
#[utoipa::path(get, path = "/api/v1/providers/{provider}/connections/{connection}/runs", tag = "providers",
    params(
        ConnectionPath,
        RunsQuery,
    ),
    responses(
        (status = 200, description = "A page of runs", body = RunPage),
        (status = 400, description = "A parameter is invalid (named in the message)", body = super::ErrorBody),
        (status = 404, description = "No such provider or connection", body = super::ErrorBody),
    ))]
pub async fn runs(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    q: web::Query<RunsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (provider, connection) = path.into_inner();
    let addr = state
        .providers
        .get(&provider)
        .ok_or_else(|| ApiError::not_found(format!("no provider {provider:?}")))?;
    let status = addr
        .send(GetStatus)
        .await
        .map_err(|_| ApiError::unavailable("provider actor"))?;
    if !status
        .connections
        .iter()
        .any(|c| c.connection == connection)
    {
        return Err(ApiError::not_found(format!(
            "provider {provider:?} has no connection {connection:?}"
        )));
    }
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit: {l:?} is not a number from 1 to 500"))
            })?,
    };
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(parse_cursor(c).ok_or_else(|| {
            ApiError::bad_request(format!("cursor: {c:?} is not a cursor this API gave"))
        })?),
    };
    let rows = state
        .store
        .list_sync_runs(&provider, &connection, before, limit + 1)
        .await
        .map_err(ApiError::store)?;
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next_cursor = more
        .then(|| rows.last())
        .flatten()
        .map(|r| crate::store::make_cursor(r.started_at_ms, &r.id));
    let runs = rows.iter().map(RunView::from).collect();
    Ok(HttpResponse::Ok().json(RunPage { runs, next_cursor }))
}
