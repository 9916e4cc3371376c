//! `GET /silences/new`: the page the Silence link of a notification opens, a form prefilled with
//! `?matcher=` parameters (the alert's labels) and a two-hour duration; `POST /silences/new`
//! creates the silence (the same one `POST /api/v2/silences` would) and says so. With API
//! tokens configured, a caller whose session or bearer token lacks `silences:write` types a
//! token holding it into the form. The form carries a CSRF token like every page's.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Chrome, Ctx, forged, message};
use crate::api::auth;
use crate::api::silences::silence_from_form;
use crate::api::{ApiError, AppState};
use crate::domain::clock::rfc3339;

/// A silence form: this page's, and an alert page's (which names its alert).
#[derive(Deserialize, Default)]
pub struct SilenceForm {
    #[serde(default)]
    pub(super) matchers: String,
    #[serde(default)]
    pub(super) duration: String,
    #[serde(default)]
    pub(super) created_by: String,
    #[serde(default)]
    pub(super) comment: String,
    /// A token holding `silences:write`, typed by a caller whose own lacks it.
    #[serde(default)]
    pub(super) token: String,
    #[serde(default)]
    pub(super) csrf: String,
    /// The alert whose page the form is on, to show it again on a mistake.
    #[serde(default)]
    pub(super) fingerprint: String,
}

#[derive(Template)]
#[template(path = "silence_new.html")]
struct NewSilence<'a> {
    chrome: Chrome,
    f: &'a SilenceForm,
    /// The form asks for a token: tokens are configured and the caller lacks the scope.
    ask_token: bool,
    error: Option<&'a str>,
}

fn form_page(
    req: &HttpRequest,
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    f: &SilenceForm,
    error: Option<&str>,
) -> HttpResponse {
    ctx.respond(
        status,
        NewSilence {
            chrome: ctx.chrome("alerts"),
            f,
            ask_token: !auth::holds(req, state, "silences:write"),
            error,
        }
        .render(),
    )
}

/// `GET /silences/new?matcher=…`.
pub async fn new(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let matchers: Vec<String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k == "matcher")
        .map(|(_, v)| v.into_owned())
        .collect();
    let f = SilenceForm {
        matchers: matchers.join("\n"),
        duration: "2h".into(),
        created_by: auth::caller(&req, &state)
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        ..SilenceForm::default()
    };
    form_page(&req, &state, &ctx, StatusCode::OK, &f, None)
}

/// `POST /silences/new`: 201 and what was silenced; a problem shows the form again with what was
/// typed and why.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SilenceForm>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    if let Some(refused) = forged(&req, &state, &ctx, &form.csrf) {
        return refused;
    }
    let f = form.into_inner();
    let allowed = if auth::holds(&req, &state, "silences:write") {
        Ok(())
    } else {
        auth::check(&state, f.token.trim(), "silences:write")
    };
    let created = match allowed {
        Ok(()) => {
            silence_from_form(&state, &f.matchers, &f.duration, &f.created_by, &f.comment).await
        }
        Err(e) => Err::<_, ApiError>(e),
    };
    match created {
        Ok(s) => {
            let matched = f
                .matchers
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(", ");
            message(
                &ctx,
                StatusCode::CREATED,
                "Silence created",
                &format!(
                    "Silence {} mutes alerts matching {matched} until {}. Expire it early on the \
                     Silences page, with `amtool silence expire {}` or DELETE /api/v2/silence/{}.",
                    s.id,
                    rfc3339(s.ends_at_ms),
                    s.id,
                    s.id
                ),
                "/silences",
            )
        }
        Err(e) => form_page(&req, &state, &ctx, e.status, &f, Some(&e.message)),
    }
}
