//! Bearer tokens with scopes (`[[api.tokens]]`). With no tokens configured the API is open;
//! with tokens, protected endpoints need one with the right scope (401 unknown, 403 scope).

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};

fn unauthorized(m: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthorized",
        message: m.into(),
    }
}

/// Checks the request's bearer token for `scope`.
pub fn require(req: &HttpRequest, state: &AppState, scope: &str) -> Result<(), ApiError> {
    if state.tokens.is_empty() {
        return Ok(());
    }
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token>"))?;
    check(state, token, scope)
}

/// Checks a token given some other way (a form field) for `scope`.
pub fn check(state: &AppState, token: &str, scope: &str) -> Result<(), ApiError> {
    if state.tokens.is_empty() {
        return Ok(());
    }
    let hash = hex::encode(Sha256::digest(token.trim().as_bytes()));
    let t = state
        .tokens
        .iter()
        .find(|t| t.token_sha256 == hash)
        .ok_or_else(|| unauthorized("unknown token"))?;
    if t.scopes.iter().any(|s| s == scope || s == "admin") {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!("token {:?} lacks scope {scope}", t.name),
        })
    }
}
