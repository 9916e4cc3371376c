//! The built-in pages: server-rendered HTML from askama templates compiled into the binary
//! (`templates/`), one stylesheet embedded (`static/app.css`), no script. Every page is sent
//! with a Content-Security-Policy that allows only this origin's stylesheet (no inline script
//! or style), and every value is escaped by the templates; runbook markdown is rendered with
//! pulldown-cmark and sanitised with ammonia; charts are SVG written on the server
//! ([`chart`]).
//!
//! The pages read what the API answers (the same functions build both), are authorised with
//! the API's scopes ([`crate::api::auth::ROUTES`]) and, with tokens configured, by a session a
//! token signs in to ([`session`]); every form carries a CSRF token.
//!
//! - `GET /`: what needs attention now ([`overview`]).
//! - `GET /sla`, `GET /sla/{slo}` ([`sla`]).
//! - `GET /alerts`, `GET /alerts/{fingerprint}`, `GET /silences`, `POST /silences`,
//!   `POST /silences/{id}/expire` ([`alerts`]); `GET /silences/new`, `POST /silences/new`, the
//!   form a notification's Silence link opens ([`silence_new`]).
//! - `GET /tickets`, `GET /tickets/{id}`, `POST /tickets/{id}` ([`tickets`]).
//! - `GET /providers/{provider}`, its sync and replay buttons ([`providers`]).
//! - `GET /runbooks`, `GET /runbooks/{id}` ([`runbooks`]).
//! - `GET /login`, `POST /login`, `POST /logout`, `GET /static/app.css`.

pub mod alerts;
pub mod chart;
pub mod markdown;
pub mod overview;
pub mod providers;
pub mod runbooks;
pub mod session;
pub mod silence_new;
pub mod sla;
pub mod tickets;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::api::{ApiError, AppState};
use session::Csrf;

/// Sent with every page: this origin's stylesheet, links and forms only; nothing inline, no
/// frames (Mozilla Observatory's recommended baseline for a page without script).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLESHEET: &str = include_str!("../../static/app.css");

/// Whether a request is a browser's: its `Accept` names `text/html` (browsers send
/// `text/html,application/xhtml+xml,…`; API clients send `application/json`, `*/*` or nothing).
pub fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// Registers the pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/app.css", web::get().to(stylesheet))
        .route("/", web::get().to(overview::page))
        .route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/sla", web::get().to(sla::list))
        .route("/sla/{slo}", web::get().to(sla::detail))
        .route("/alerts", web::get().to(alerts::list))
        .route("/alerts/{fingerprint}", web::get().to(alerts::detail))
        .route("/silences/new", web::get().to(silence_new::new))
        .route("/silences/new", web::post().to(silence_new::create))
        .route("/silences", web::get().to(alerts::silences))
        .route("/silences", web::post().to(alerts::create_silence))
        .route(
            "/silences/{id}/expire",
            web::post().to(alerts::expire_silence_form),
        )
        .route("/tickets", web::get().to(tickets::list))
        .route("/tickets/{id}", web::get().to(tickets::detail))
        .route("/tickets/{id}", web::post().to(tickets::act))
        .route("/providers/{provider}", web::get().to(providers::page))
        .route(
            "/providers/{provider}/replay",
            web::post().to(providers::replay),
        )
        .route(
            "/providers/{provider}/connections/{connection}/sync",
            web::post().to(providers::sync),
        )
        .route("/runbooks", web::get().to(runbooks::list))
        .route("/runbooks/{id}", web::get().to(runbooks::detail));
}

/// What every page's frame shows: the navigation, who is signed in, and the CSRF token its
/// forms carry.
pub struct Chrome {
    pub csrf: String,
    /// The signed-in token's name (with tokens configured).
    pub user: Option<String>,
    /// Which navigation entry is this page's (`overview`, `sla`, `alerts`, `tickets`,
    /// `runbooks`, or empty).
    pub section: &'static str,
}

/// A request's page context: its CSRF token (set as a cookie with the page when new) and its
/// caller.
pub struct Ctx {
    csrf: Csrf,
    user: Option<String>,
}

impl Ctx {
    pub fn new(req: &HttpRequest, state: &AppState) -> Self {
        Self {
            csrf: Csrf::of(req, state.public_url.starts_with("https://")),
            user: crate::api::auth::caller(req, state).map(|t| t.name.clone()),
        }
    }

    pub fn chrome(&self, section: &'static str) -> Chrome {
        Chrome {
            csrf: self.csrf.token.clone(),
            user: self.user.clone(),
            section,
        }
    }

    /// The page, with its security headers and the CSRF cookie when new; a template that fails
    /// to render is a 500 whose cause is logged.
    pub fn respond(
        &self,
        status: StatusCode,
        rendered: Result<String, askama::Error>,
    ) -> HttpResponse {
        let mut res = page(status, rendered);
        if let Some(c) = &self.csrf.fresh {
            // Only fails for a cookie that is not valid header text, which ours always is.
            let _ = res.add_cookie(c);
        }
        res
    }
}

/// A rendered page with its security headers.
fn page(status: StatusCode, rendered: Result<String, askama::Error>) -> HttpResponse {
    match rendered {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("content-security-policy", CONTENT_SECURITY_POLICY))
            .insert_header(("x-content-type-options", "nosniff"))
            .insert_header(("referrer-policy", "same-origin"))
            .insert_header(("cache-control", "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "page did not render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=3600"))
        .body(STYLESHEET)
}

/// A page saying what went wrong (or what was done), with a way back.
#[derive(Template)]
#[template(path = "message.html")]
struct Message<'a> {
    chrome: Chrome,
    title: &'a str,
    message: &'a str,
    back: &'a str,
}

/// A message page with `status`.
pub fn message(
    ctx: &Ctx,
    status: StatusCode,
    title: &str,
    message: &str,
    back: &str,
) -> HttpResponse {
    ctx.respond(
        status,
        Message {
            chrome: ctx.chrome(""),
            title,
            message,
            back,
        }
        .render(),
    )
}

/// An API error as a page: its status and message.
pub fn error_page(ctx: &Ctx, e: &ApiError, back: &str) -> HttpResponse {
    let title = e.status.canonical_reason().unwrap_or("Error");
    message(ctx, e.status, title, &e.message, back)
}

/// A 404 page.
pub fn not_found(ctx: &Ctx, message_text: &str) -> HttpResponse {
    message(ctx, StatusCode::NOT_FOUND, "Not found", message_text, "/")
}

/// What a browser gets instead of the API's JSON when a page is refused: a way to sign in
/// (`303` to `/login?next=`) without a session, a page naming the missing scope with one.
/// `None` for API routes and non-browser clients.
pub fn denied(req: &HttpRequest, e: &ApiError) -> Option<HttpResponse> {
    if req.path().starts_with("/api/") || req.path() == "/metrics" || !wants_html(req) {
        return None;
    }
    if e.status == StatusCode::UNAUTHORIZED {
        let mut next = req.path().to_string();
        if !req.query_string().is_empty() {
            next = format!("{next}?{}", req.query_string());
        }
        let target = format!(
            "/login?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &next)
                .finish()
        );
        return Some(
            HttpResponse::SeeOther()
                .insert_header(("location", target))
                .finish(),
        );
    }
    let state = req.app_data::<web::Data<AppState>>()?;
    let ctx = Ctx::new(req, state);
    Some(error_page(&ctx, e, "/"))
}

/// Where signing in returns to: a path of this site (never `//host` or a full URL).
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login<'a> {
    chrome: Chrome,
    next: &'a str,
    open: bool,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
}

async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<Next>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    ctx.respond(
        StatusCode::OK,
        Login {
            chrome: ctx.chrome(""),
            next: local_path(&q.next),
            open: state.tokens.is_empty(),
            error: None,
        }
        .render(),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

/// The form's CSRF check: `None` when it holds, else the refusal page.
pub fn forged(req: &HttpRequest, state: &AppState, ctx: &Ctx, field: &str) -> Option<HttpResponse> {
    session::verify(req, field, &state.public_url)
        .err()
        .map(|why| {
            let text = match why {
                session::Forged::Token => {
                    "The form's security token does not match this browser's (it may be from an \
                 older tab, or cookies were cleared). Go back, reload the page and send it again."
                }
                session::Forged::Origin => "The form was sent from another site and was not taken.",
            };
            message(ctx, StatusCode::FORBIDDEN, "Form refused", text, "/")
        })
}

/// `POST /login`: a known token starts a session (303 to `next`); an unknown one shows the form
/// again with 401.
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    if let Some(refused) = forged(&req, &state, &ctx, &form.csrf) {
        return refused;
    }
    let next = local_path(&form.next);
    let Some(t) = crate::api::auth::configured(&state, &form.token) else {
        let error = if state.tokens.is_empty() {
            "No API tokens are configured: every page is open without signing in."
        } else {
            "That is not a configured API token."
        };
        return ctx.respond(
            StatusCode::UNAUTHORIZED,
            Login {
                chrome: ctx.chrome(""),
                next,
                open: state.tokens.is_empty(),
                error: Some(error),
            }
            .render(),
        );
    };
    let id = state.sessions.start(&t.token_sha256, state.clock.now_ms());
    tracing::info!(token = %t.name, "signed in to the pages");
    let secure = state.public_url.starts_with("https://");
    HttpResponse::SeeOther()
        .insert_header(("location", next))
        .cookie(session::cookie(
            session::SESSION_COOKIE,
            id,
            session::SESSION_TTL_MS / 1000,
            secure,
        ))
        .finish()
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session and clears its cookie.
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    if let Some(refused) = forged(&req, &state, &ctx, &form.csrf) {
        return refused;
    }
    if let Some(id) = session::session_id(&req) {
        state.sessions.end(&id);
    }
    let secure = state.public_url.starts_with("https://");
    HttpResponse::SeeOther()
        .insert_header(("location", "/login"))
        .cookie(session::cookie(
            session::SESSION_COOKIE,
            String::new(),
            0,
            secure,
        ))
        .finish()
}

/// A ratio as a percentage with enough digits for three nines (`99.95 %`, `99.9 %`), trailing
/// zeros dropped; between 99 % and 100 % it is truncated, never rounded, so an attainment just
/// under its objective never reads as meeting it. `–` for none.
pub fn percent(ratio: Option<f64>) -> String {
    match ratio {
        Some(r) if r.is_finite() => {
            let p = r * 100.0;
            let digits = if p > 99.0 && p < 100.0 {
                format!("{:.3}", (p * 1000.0 + 1e-6).floor() / 1000.0)
            } else {
                format!("{p:.2}")
            };
            let digits = digits.trim_end_matches('0').trim_end_matches('.');
            format!("{digits} %")
        }
        _ => "–".to_string(),
    }
}

/// A count of events or minutes as people read it: whole numbers as they are, small fractions
/// with two decimals (`0.03`), larger ones with one (`718.9`).
pub fn amount(x: f64) -> String {
    if !x.is_finite() {
        "–".to_string()
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else if x.abs() < 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.1}")
    }
}

/// An RFC 3339 time as people read it in a table (`2026-12-01 14:05 UTC`); `–` for none.
pub fn when(rfc3339: Option<&str>) -> String {
    rfc3339.map_or_else(|| "–".to_string(), short_time)
}

fn short_time(t: &str) -> String {
    match t.parse::<jiff::Timestamp>() {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => t.to_string(),
    }
}

/// Milliseconds since the epoch as [`when`] writes them.
pub fn when_ms(ms: i64) -> String {
    short_time(&crate::domain::clock::rfc3339(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_keep_the_nines_and_never_round_up_to_the_objective() {
        assert_eq!(percent(Some(1.0)), "100 %");
        assert_eq!(percent(Some(0.9995)), "99.95 %");
        assert_eq!(percent(Some(0.999)), "99.9 %");
        assert_eq!(percent(Some(0.99)), "99 %");
        assert_eq!(percent(Some(0.99899999)), "99.899 %");
        assert_eq!(percent(Some(0.5)), "50 %");
        assert_eq!(percent(Some(-0.2534)), "-25.34 %");
        assert_eq!(percent(None), "–");
        assert_eq!(percent(Some(f64::NAN)), "–");
    }

    #[test]
    fn amounts_keep_small_fractions_visible() {
        assert_eq!(amount(719_100.0), "719100");
        assert_eq!(amount(0.03), "0.03");
        assert_eq!(amount(-1.0), "-1");
        assert_eq!(amount(718.94), "718.9");
        assert_eq!(amount(f64::NAN), "–");
    }

    #[test]
    fn signing_in_returns_only_to_a_path_of_this_site() {
        assert_eq!(local_path("/tickets/1?x=y"), "/tickets/1?x=y");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path(""), "/");
    }

    #[test]
    fn times_read_as_minutes_in_utc() {
        assert_eq!(when(Some("2026-12-01T14:05:09Z")), "2026-12-01 14:05 UTC");
        assert_eq!(when(None), "–");
        assert_eq!(when_ms(0), "1970-01-01 00:00 UTC");
    }
}
