//! `Idempotency-Key` on every POST (the IETF httpapi draft "The Idempotency-Key HTTP Header
//! Field", as Stripe and support desks use it): a client that retries a POST with the same key
//! and the same body gets the first answer again, and the request is not done twice; the same
//! key with another body is a 422; a copy arriving while the first still runs is a 409.
//!
//! Keys belong to the caller (the token's name) and the path: one client's key never answers
//! another's request. Answers of server errors are not kept, so a retry after one runs again.

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};
use crate::store::KeyState;

/// The longest key taken (the draft leaves it to the server; UUIDs are 36).
const MAX_KEY_LEN: usize = 255;
/// The largest body a keyed POST may have (the largest any route takes).
const MAX_BODY: usize = 8 << 20;

pub async fn replay(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("").trim().to_string());
    let (Some(key), true) = (key, req.method() == Method::POST) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        let e = ApiError::bad_request(format!("Idempotency-Key: 1 to {MAX_KEY_LEN} characters"));
        return Ok(req.into_response(e.error_response()));
    }
    // Read the body to know it again, then give it back to the route.
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            let e = ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "payload_too_large",
                message: format!("request body over {MAX_BODY} bytes"),
            };
            return Ok(req.into_response(e.error_response()));
        }
    }
    let body = body.freeze();
    let mut hash = Sha256::new();
    hash.update(req.path().as_bytes());
    hash.update([0]);
    hash.update(&body);
    let request_sha256 = hex::encode(hash.finalize());
    let scope = format!(
        "{} {}",
        super::auth::actor(req.request(), &state),
        req.path()
    );
    req.set_payload(actix_web::dev::Payload::from(body));

    let now = state.clock.now_ms();
    let held = match state
        .store
        .reserve_idempotency_key(&key, &scope, &request_sha256, now)
        .await
    {
        Ok(held) => held,
        Err(e) => return Ok(req.into_response(ApiError::internal(e).error_response())),
    };
    match held {
        None => {}
        Some(KeyState::Answered {
            request_sha256: first,
            status,
            content_type,
            body,
        }) if first == request_sha256 => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let answer = HttpResponse::build(status)
                .content_type(content_type)
                .insert_header(("idempotent-replayed", "true"))
                .body(body);
            return Ok(req.into_response(answer));
        }
        Some(KeyState::InProgress {
            request_sha256: first,
        }) if first == request_sha256 => {
            let e = ApiError::conflict(
                "a request with this Idempotency-Key is still being processed; retry later",
            );
            return Ok(req.into_response(e.error_response()));
        }
        Some(_) => {
            let e = ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was used for a different request".into(),
            };
            return Ok(req.into_response(e.error_response()));
        }
    }

    let res = next.call(req).await?;
    let (http_req, res) = res.into_parts();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = match to_bytes(res.into_body()).await {
        Ok(b) => b,
        Err(_) => {
            let _ = state.store.release_idempotency_key(&key, &scope).await;
            let e = ApiError::internal("cannot read the answer to keep it");
            return Ok(ServiceResponse::new(http_req, e.error_response()));
        }
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let kept = if status.is_server_error() {
        state.store.release_idempotency_key(&key, &scope).await
    } else {
        state
            .store
            .answer_idempotency_key(
                &key,
                &scope,
                status.as_u16(),
                &content_type,
                &String::from_utf8_lossy(&bytes),
            )
            .await
    };
    if let Err(e) = kept {
        tracing::error!(error = %e, "cannot keep the answer of an idempotent request");
    }
    let mut answer = HttpResponse::build(status);
    for (name, value) in headers.iter() {
        answer.insert_header((name.clone(), value.clone()));
    }
    Ok(ServiceResponse::new(http_req, answer.body(bytes)))
}
