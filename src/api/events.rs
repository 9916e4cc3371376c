//! `POST /api/v1/events`: observations from pipeline stages outside syncwatch.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use serde_json::json;

use super::{ApiError, AppState};
use crate::pipeline::events;

/// Largest event batch body (10,000 events of a few hundred bytes).
pub const MAX_EVENTS_BODY_BYTES: usize = 8 * 1024 * 1024;

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
    Ok(HttpResponse::Accepted().json(json!({ "accepted": accepted })))
}
