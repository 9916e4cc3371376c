//! `GET /api/v1/providers`, and per connection: `POST …/sync`, `POST …/pause`, `POST …/resume`,
//! `GET …/runs` (under `/api/v1/providers/{p}/connections/{c}`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiError, AppState};
use crate::domain::clock::rfc3339;
use crate::providers::{GetStatus, SetPaused, SyncError, SyncNow};
use crate::store::parse_cursor;

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut out = Vec::new();
    for (name, addr) in &state.providers {
        let status = addr
            .send(GetStatus)
            .await
            .map_err(|_| ApiError::unavailable("provider actor"))?;
        out.push(
            json!({"name": name, "circuit": status.circuit, "connections": status.connections}),
        );
    }
    Ok(HttpResponse::Ok().json(json!({"providers": out})))
}

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
        Ok(status) => Ok(HttpResponse::Accepted()
            .json(json!({"provider": provider, "connection": connection, "status": status}))),
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

/// `POST …/pause` and `POST …/resume`.
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
    Ok(HttpResponse::Ok().json(json!({
        "provider": provider,
        "connection": connection,
        "state": if paused { "paused" } else { "scheduled" },
    })))
}

#[derive(serde::Deserialize)]
pub struct RunsQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET …/runs?limit=&cursor=`: the connection's sync history, newest first.
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
        .map_err(ApiError::internal)?;
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next_cursor = more
        .then(|| rows.last())
        .flatten()
        .map(|r| crate::store::make_cursor(r.started_at_ms, &r.id));
    let runs: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "started_at": rfc3339(r.started_at_ms),
                "finished_at": rfc3339(r.finished_at_ms),
                "status": if r.error.is_some() { "failure" } else { "success" },
                "records": r.records,
                "pages": r.pages,
                "error_class": r.error.as_ref().map(|(c, _)| c.as_str()),
                "reason": r.error.as_ref().map(|(_, reason)| reason),
                "cursor_before": r.cursor_before,
                "cursor_after": r.cursor_after,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"runs": runs, "next_cursor": next_cursor})))
}
