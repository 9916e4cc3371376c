//! Bearer tokens with scopes (`[[api.tokens]]`). With no tokens configured the API is open; with
//! tokens, every route that reads or changes data needs a token holding its scope (401 without a
//! known token, 403 without the scope; `admin` holds every scope). [`ROUTES`] is the one table of
//! what each route needs, applied to every request by the [`authorize`] middleware before the
//! route runs, so no handler can forget it. `/healthz` and `/readyz` stay open, `/metrics` too
//! unless `api.metrics_auth = "token"` (then it needs `metrics:read`, Prometheus'
//! `authorization: {credentials: …}`). A route missing from the table needs `admin`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, ResponseError, web};
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (liveness, readiness, the silence form, which asks for its own token).
    Open,
    /// `/metrics`: open, or `metrics:read` when `api.metrics_auth = "token"`.
    Metrics,
    /// A token holding this scope.
    Scope(&'static str),
    /// Any configured token (the overview page, which shows what each scope allows).
    AnyToken,
}

/// Every route (method, actix path pattern) and what it needs.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Access::Open),
    ("GET", "/api/v1/openapi.json", Access::Open),
    ("GET", "/readyz", Access::Open),
    ("GET", "/metrics", Access::Metrics),
    ("GET", "/api/v1/alerts", Access::Scope("alerts:read")),
    ("GET", "/api/v2/alerts", Access::Scope("alerts:read")),
    ("POST", "/api/v2/alerts", Access::Scope("alerts:write")),
    ("GET", "/api/v2/status", Access::Scope("status:read")),
    ("GET", "/api/v1/tickets", Access::Scope("tickets:read")),
    ("GET", "/api/v1/sla", Access::Scope("sla:read")),
    ("GET", "/api/v1/sla/report", Access::Scope("sla:read")),
    ("GET", "/api/v1/sla/{slo}", Access::Scope("sla:read")),
    (
        "GET",
        "/api/v1/tickets/stats",
        Access::Scope("tickets:read"),
    ),
    ("GET", "/api/v1/tickets/{id}", Access::Scope("tickets:read")),
    (
        "GET",
        "/api/v1/ticket-events",
        Access::Scope("tickets:read"),
    ),
    (
        "PATCH",
        "/api/v1/tickets/{id}",
        Access::Scope("tickets:write"),
    ),
    (
        "GET",
        "/api/v1/tickets/{id}/events",
        Access::Scope("tickets:read"),
    ),
    (
        "POST",
        "/api/v1/tickets/{id}/comments",
        Access::Scope("tickets:write"),
    ),
    (
        "GET",
        "/api/v1/tickets/{id}/comments",
        Access::Scope("tickets:read"),
    ),
    ("GET", "/api/v1/providers", Access::Scope("providers:read")),
    (
        "GET",
        "/api/v1/providers/{provider}/connections/{connection}/runs",
        Access::Scope("providers:read"),
    ),
    (
        "POST",
        "/api/v1/providers/{provider}/connections/{connection}/sync",
        Access::Scope("providers:write"),
    ),
    (
        "POST",
        "/api/v1/providers/{provider}/connections/{connection}/{action}",
        Access::Scope("providers:write"),
    ),
    ("POST", "/api/v1/events", Access::Scope("events:write")),
    ("GET", "/api/v1/dlq", Access::Scope("dlq:read")),
    ("POST", "/api/v1/dlq/replay", Access::Scope("dlq:write")),
    ("GET", "/api/v2/silences", Access::Scope("silences:read")),
    ("POST", "/api/v2/silences", Access::Scope("silences:write")),
    (
        "GET",
        "/api/v2/silence/{id}",
        Access::Scope("silences:read"),
    ),
    (
        "DELETE",
        "/api/v2/silence/{id}",
        Access::Scope("silences:write"),
    ),
    // The form itself holds no data; posting it checks the token typed into it.
    ("GET", "/silences/new", Access::Open),
    ("POST", "/silences/new", Access::Open),
    ("GET", "/api/v1/runbooks", Access::Scope("runbooks:read")),
    // The pages: the same scopes as the API behind them; the stylesheet holds no data. The
    // pages' forms also check a CSRF token (`crate::web::session`).
    ("GET", "/static/app.css", Access::Open),
    ("GET", "/", Access::AnyToken),
    ("GET", "/login", Access::Open),
    ("POST", "/login", Access::Open),
    ("POST", "/logout", Access::Open),
    ("GET", "/sla", Access::Scope("sla:read")),
    ("GET", "/sla/{slo}", Access::Scope("sla:read")),
    ("GET", "/alerts", Access::Scope("alerts:read")),
    ("GET", "/alerts/{fingerprint}", Access::Scope("alerts:read")),
    ("GET", "/silences", Access::Scope("silences:read")),
    ("POST", "/silences", Access::Scope("silences:write")),
    (
        "POST",
        "/silences/{id}/expire",
        Access::Scope("silences:write"),
    ),
    ("GET", "/tickets", Access::Scope("tickets:read")),
    ("GET", "/tickets/{id}", Access::Scope("tickets:read")),
    ("POST", "/tickets/{id}", Access::Scope("tickets:write")),
    (
        "GET",
        "/providers/{provider}",
        Access::Scope("providers:read"),
    ),
    (
        "POST",
        "/providers/{provider}/connections/{connection}/sync",
        Access::Scope("providers:write"),
    ),
    (
        "POST",
        "/providers/{provider}/replay",
        Access::Scope("dlq:write"),
    ),
    ("GET", "/runbooks", Access::Scope("runbooks:read")),
    ("GET", "/runbooks/{id}", Access::Scope("runbooks:read")),
    (
        "GET",
        "/api/v1/runbooks/{id}",
        Access::Scope("runbooks:read"),
    ),
    (
        "POST",
        "/api/v1/runbooks/lookup",
        Access::Scope("runbooks:read"),
    ),
    // Asking, and saying an answer did not help, are what a runbook reader does; the ticket an
    // escalation opens is the assistant's, and ticket contents stay behind `tickets:read`.
    (
        "POST",
        "/api/v1/assistant/ask",
        Access::Scope("runbooks:read"),
    ),
    (
        "POST",
        "/api/v1/assistant/answers/{id}/feedback",
        Access::Scope("runbooks:read"),
    ),
];

/// What `method` on the route matched by `pattern` needs. A route that is not in [`ROUTES`],
/// and a path that matches no route, need `admin`: forgetting a route, or a path spelled so that
/// it matches nothing here but something later, closes it and never opens it.
/// What `method` on route `pattern` needs (by their names, as [`ROUTES`] has them).
pub fn access_of(method: &str, pattern: &str) -> Access {
    ROUTES
        .iter()
        .find(|(m, p, _)| *p == pattern && *m == method)
        .map(|(_, _, a)| *a)
        .unwrap_or(Access::Scope("admin"))
}

pub fn access(method: &Method, pattern: Option<&str>) -> Access {
    pattern.map_or(Access::Scope("admin"), |p| access_of(method.as_str(), p))
}

/// The middleware: checks every request against [`ROUTES`] before its route runs.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let denied = match req.app_data::<web::Data<AppState>>() {
        Some(state) if !state.tokens.is_empty() => {
            // The router matches the percent-decoded path (`/api/v1/tick%65ts` reaches the
            // tickets), so the pattern is looked up the same way.
            let pattern = req.resource_map().match_pattern(req.match_info().as_str());
            match access(req.method(), pattern.as_deref()) {
                Access::Scope(scope) => require(req.request(), state, scope).err(),
                Access::AnyToken => match caller(req.request(), state) {
                    Some(_) => None,
                    None => Some(unauthorized(
                        "a configured token (Authorization: Bearer, or sign in at /login)",
                    )),
                },
                Access::Metrics if state.metrics_need_token => {
                    require(req.request(), state, "metrics:read").err()
                }
                _ => None,
            }
        }
        _ => None,
    };
    match denied {
        Some(e) => {
            let res = crate::web::denied(req.request(), &e).unwrap_or_else(|| e.error_response());
            Ok(req.into_response(res))
        }
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

fn unauthorized(m: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthorized",
        message: m.into(),
    }
}

/// Checks the request's caller for `scope`: its bearer token, or else the token of its page
/// session ([`crate::web::session`]).
pub fn require(req: &HttpRequest, state: &AppState, scope: &str) -> Result<(), ApiError> {
    if state.tokens.is_empty() {
        return Ok(());
    }
    match bearer(req) {
        Some(token) => check(state, token, scope),
        None => {
            let t = session_token(req, state).ok_or_else(|| {
                unauthorized("missing Authorization: Bearer <token> (or sign in at /login)")
            })?;
            allows(t, scope)
        }
    }
}

/// Whether the request's token (if any) holds `scope`; always with no tokens configured. For
/// parts of an answer that need more than the route does.
pub fn holds(req: &HttpRequest, state: &AppState, scope: &str) -> bool {
    require(req, state, scope).is_ok()
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The token of the request's page session. A session authorises reads anywhere, and changes
/// only outside `/api/` (the pages' forms, which check a CSRF token): a cookie alone never
/// changes anything through the API.
fn session_token<'a>(
    req: &HttpRequest,
    state: &'a AppState,
) -> Option<&'a crate::config::ApiToken> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe && req.path().starts_with("/api/") {
        return None;
    }
    let id = crate::web::session::session_id(req)?;
    let hash = state.sessions.token_of(&id, state.clock.now_ms())?;
    state.tokens.iter().find(|t| t.token_sha256 == hash)
}

/// The configured token the request is made with: its bearer token, or its page session's.
pub fn caller<'a>(req: &HttpRequest, state: &'a AppState) -> Option<&'a crate::config::ApiToken> {
    match bearer(req) {
        Some(token) => configured(state, token),
        None => session_token(req, state),
    }
}

/// Who a change is recorded as made by: the name of the request's token, or `anonymous`
/// when no tokens are configured (or the token is unknown, which [`require`] refuses first).
pub fn actor(req: &HttpRequest, state: &AppState) -> String {
    caller(req, state).map_or_else(|| "anonymous".to_string(), |t| t.name.clone())
}

/// The configured token a bearer token is (compared by SHA-256).
pub fn configured<'a>(state: &'a AppState, token: &str) -> Option<&'a crate::config::ApiToken> {
    let hash = hex::encode(Sha256::digest(token.trim().as_bytes()));
    state.tokens.iter().find(|t| t.token_sha256 == hash)
}

/// Checks a token given some other way (a form field) for `scope`.
pub fn check(state: &AppState, token: &str, scope: &str) -> Result<(), ApiError> {
    if state.tokens.is_empty() {
        return Ok(());
    }
    let t = configured(state, token).ok_or_else(|| unauthorized("unknown token"))?;
    allows(t, scope)
}

/// Whether token `t` holds `scope` (`admin` holds every one): 403 naming both when not.
pub fn allows(t: &crate::config::ApiToken, scope: &str) -> Result<(), ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_route_has_its_access_and_an_unlisted_one_needs_admin() {
        assert_eq!(access(&Method::GET, Some("/healthz")), Access::Open);
        assert_eq!(
            access(&Method::GET, Some("/api/v1/tickets/{id}")),
            Access::Scope("tickets:read")
        );
        assert_eq!(
            access(&Method::DELETE, Some("/api/v2/silence/{id}")),
            Access::Scope("silences:write")
        );
        assert_eq!(
            access(&Method::PUT, Some("/api/v1/tickets/{id}")),
            Access::Scope("admin"),
            "fails closed"
        );
        assert_eq!(access(&Method::GET, None), Access::Scope("admin"));
    }

    #[test]
    fn every_scope_in_the_table_is_one_a_token_can_hold() {
        for (_, path, a) in ROUTES {
            if let Access::Scope(s) = a {
                assert!(crate::config::SCOPES.contains(s), "{path}: {s}");
            }
        }
    }
}
