//! `GET /runbooks` (the catalogue, with a search box backed by the runbook lookup) and
//! `GET /runbooks/{id}` (one runbook's markdown, rendered and sanitised).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Chrome, Ctx, markdown, not_found};
use crate::api::AppState;
use crate::domain::Labels;

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
    chrome: Chrome,
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

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    search: web::Query<Search>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
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
    ctx.respond(
        StatusCode::OK,
        RunbooksPage {
            chrome: ctx.chrome("runbooks"),
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
    chrome: Chrome,
    id: &'a str,
    title: &'a str,
    alerts: String,
    providers: String,
    error_classes: String,
    /// Sanitised HTML of the runbook's markdown.
    body: String,
}

pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let Some(rb) = state.runbooks.get(&id) else {
        return not_found(
            &ctx,
            &format!(
                "There is no runbook {:?}.",
                crate::domain::truncate(&id, 100)
            ),
        );
    };
    ctx.respond(
        StatusCode::OK,
        RunbookPage {
            chrome: ctx.chrome("runbooks"),
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
