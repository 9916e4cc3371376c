//! `GET /api/v1/providers` and `POST /api/v1/providers/{p}/connections/{c}/sync`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{ApiError, AppState, auth};
use crate::providers::{GetStatus, SyncError, SyncNow};

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut out = Vec::new();
    for (name, addr) in &state.providers {
        let connections = addr
            .send(GetStatus)
            .await
            .map_err(|_| ApiError::unavailable("provider actor"))?;
        out.push(json!({"name": name, "connections": connections}));
    }
    Ok(HttpResponse::Ok().json(json!({"providers": out})))
}

pub async fn sync_now(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    auth::require(&req, &state, "admin")?;
    let (provider, connection) = path.into_inner();
    let addr = state
        .providers
        .get(&provider)
        .ok_or_else(|| ApiError::not_found(format!("no provider {provider:?}")))?;
    // The sync runs in the background; the answer says it started.
    match addr
        .send(SyncNow {
            connection: connection.clone(),
        })
        .await
    {
        Ok(Ok(())) => Ok(HttpResponse::Accepted()
            .json(json!({"provider": provider, "connection": connection, "status": "started"}))),
        Ok(Err(SyncError::UnknownConnection(c))) => Err(ApiError::not_found(format!(
            "provider {provider:?} has no connection {c:?}"
        ))),
        Ok(Err(e @ SyncError::AlreadyRunning(_))) => Err(ApiError::conflict(e.to_string())),
        Ok(Err(e @ SyncError::Throttled(_))) => Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "throttled",
            message: e.to_string(),
        }),
        Err(_) => Err(ApiError::unavailable("provider actor")),
    }
}
