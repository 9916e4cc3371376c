//! The built-in pages: server-rendered HTML from askama templates compiled into the binary
//! (`templates/`), one stylesheet embedded (`static/app.css`), no script. Every page is sent
//! with a Content-Security-Policy that allows only this origin's stylesheet (no inline script
//! or style), and every value is escaped by the templates; runbook markdown is rendered with
//! pulldown-cmark and sanitised with ammonia.
//!
//! - `GET /runbooks`: the catalogue, with a search box backed by the runbook lookup.
//! - `GET /runbooks/{id}`: one runbook, rendered.
//! - `GET /static/app.css`.

pub mod markdown;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::api::AppState;
use crate::domain::Labels;

/// Sent with every page: this origin's stylesheet, links and forms only; nothing inline, no
/// frames (Mozilla Observatory's recommended baseline for a page without script).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLESHEET: &str = include_str!("../../static/app.css");

/// Whether a request is a browser's: its `Accept` names `text/html` (browsers send
/// `text/html,application/xhtml+xml,…`; API clients send `application/json`, `*/*` or nothing).
pub fn wants_html(req: &actix_web::HttpRequest) -> bool {
    req.headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// Registers the pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/app.css", web::get().to(stylesheet))
        .route("/runbooks", web::get().to(runbooks))
        .route("/runbooks/{id}", web::get().to(runbook));
}

/// A rendered page with its security headers; a template that fails to render is a 500 whose
/// cause is logged.
fn page(status: StatusCode, rendered: Result<String, askama::Error>) -> HttpResponse {
    match rendered {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("content-security-policy", CONTENT_SECURITY_POLICY))
            .insert_header(("x-content-type-options", "nosniff"))
            .insert_header(("referrer-policy", "same-origin"))
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

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound<'a> {
    message: &'a str,
}

fn not_found(message: &str) -> HttpResponse {
    page(StatusCode::NOT_FOUND, NotFound { message }.render())
}

/// A runbook in the catalogue.
struct Entry {
    id: String,
    title: String,
    /// Its alert names, comma-separated.
    alerts: String,
}

/// A search result.
struct Hit {
    id: String,
    title: String,
    /// How it matched (`exact`, `keyword`, `semantic`).
    reason: &'static str,
    snippet: String,
}

#[derive(Template)]
#[template(path = "runbooks.html")]
struct RunbooksPage {
    query: String,
    hits: Vec<Hit>,
    runbooks: Vec<Entry>,
}

/// `?q=`: the question typed into the search box.
#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// The longest question searched (as `POST /api/v1/runbooks/lookup`).
const MAX_QUERY_CHARS: usize = 2_000;

async fn runbooks(state: web::Data<AppState>, search: web::Query<Search>) -> HttpResponse {
    let query = crate::domain::truncate(search.q.trim(), MAX_QUERY_CHARS);
    let mut hits = Vec::new();
    if !query.is_empty() {
        match state
            .assistant
            .retrieve(
                &state.searcher,
                &query,
                Labels::new(),
                10,
                0,
                None,
                state.clock.now_ms(),
            )
            .await
        {
            Ok(found) => {
                hits = found
                    .ranked
                    .results
                    .into_iter()
                    .map(|r| Hit {
                        reason: r.match_reason.as_str(),
                        id: r.id,
                        title: r.title,
                        snippet: r.snippet,
                    })
                    .collect();
            }
            Err(e) => tracing::warn!(error = %e, "runbook search failed for a page"),
        }
    }
    let runbooks = state
        .runbooks
        .runbooks()
        .iter()
        .map(|rb| Entry {
            id: rb.id.clone(),
            title: rb.title.clone(),
            alerts: rb.alerts.join(", "),
        })
        .collect();
    page(
        StatusCode::OK,
        RunbooksPage {
            query,
            hits,
            runbooks,
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "runbook.html")]
struct RunbookPage<'a> {
    id: &'a str,
    title: &'a str,
    alerts: String,
    providers: String,
    error_classes: String,
    /// Sanitised HTML of the runbook's markdown.
    body: String,
}

async fn runbook(state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    let Some(rb) = state.runbooks.get(&id) else {
        return not_found(&format!(
            "There is no runbook {:?}.",
            crate::domain::truncate(&id, 100)
        ));
    };
    page(
        StatusCode::OK,
        RunbookPage {
            id: &rb.id,
            title: &rb.title,
            alerts: rb.alerts.join(", "),
            providers: rb.providers.join(", "),
            error_classes: rb
                .error_classes
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            body: markdown::to_safe_html(&rb.body),
        }
        .render(),
    )
}
