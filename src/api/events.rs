//! `POST /api/v1/events`: observations from pipeline stages outside syncwatch.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;

use super::{ApiError, AppState};
use crate::pipeline::events;

/// Largest event batch body (10,000 events of a few hundred bytes).
pub const MAX_EVENTS_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How many observations were taken.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    accepted: usize,
}

/// Report what a stage outside syncwatch did: one event or a batch (README "Stages outside
/// syncwatch"); each becomes the stage's metrics, as if syncwatch ran it.
#[utoipa::path(post, path = "/api/v1/events", tag = "pipelines",
    params(("Idempotency-Key" = Option<String>, Header, description = "Sent again with the same body: the first answer again, done once")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "An event `{pipeline, stage, provider, connection, received, sent, errors, …}` or a list of them"),
    responses(
        (status = 202, description = "Taken", body = Accepted),
        (status = 400, description = "Not JSON, or an event is invalid (named in the message)", body = super::ErrorBody),
        (status = 413, description = "Larger than 8 MiB", body = super::ErrorBody),
    ))]
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let is_json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::bad_request(
            "expected Content-Type: application/json",
        ));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
        if body.len() + chunk.len() > MAX_EVENTS_BODY_BYTES {
            return Err(ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "payload_too_large",
                message: format!("request body exceeds {MAX_EVENTS_BODY_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    let events = events::parse(&body, state.clock.now_ms()).map_err(ApiError::bad_request)?;
    let accepted = state.events.apply(events).map_err(ApiError::bad_request)?;
    Ok(HttpResponse::Accepted().json(Accepted { accepted }))
}
