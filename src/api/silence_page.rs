//! `GET /silences/new`: the page the Silence link of a notification opens, a form prefilled with
//! the alert's labels as matchers; `POST /silences/new` creates the silence (the same one
//! `POST /api/v2/silences` would) and shows it. With API tokens configured the form asks for one
//! with the `silences:write` scope.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{ApiError, AppState, auth, silences};
use crate::domain::Matcher;
use crate::domain::clock::rfc3339;
use crate::domain::duration::parse_duration;
use crate::domain::silence::{ApiMatcher, Silence};
use crate::notify::render::escape_html;
use crate::store::new_id;

#[derive(Deserialize, Default)]
pub struct SilenceForm {
    #[serde(default)]
    matchers: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    token: String,
}

fn form_page(state: &AppState, f: &SilenceForm, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape_html(e)))
        .unwrap_or_default();
    let token = if state.tokens.is_empty() {
        String::new()
    } else {
        "<label>API token (scope silences:write)<input type=\"password\" name=\"token\" required></label>\n"
            .to_string()
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>New silence · syncwatch</title>
<style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto}}label{{display:block;margin:.8rem 0}}
input,textarea{{display:block;width:100%;font:inherit}}.error{{color:#b00}}</style></head>
<body><h1>New silence</h1>
{error}<form method="post" action="/silences/new">
<label>Matchers, one per line (an alert is silenced when all match)<textarea name="matchers" rows="6" required>{matchers}</textarea></label>
<label>Duration<input name="duration" value="{duration}" required></label>
<label>Created by<input name="created_by" value="{created_by}" required></label>
<label>Comment<input name="comment" value="{comment}" required></label>
{token}<button type="submit">Silence</button>
</form></body></html>
"#,
        matchers = escape_html(&f.matchers),
        duration = escape_html(&f.duration),
        created_by = escape_html(&f.created_by),
        comment = escape_html(&f.comment),
    )
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// The form, with `?matcher=` parameters as its matchers and a two-hour duration.
pub async fn new(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let matchers: Vec<String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k == "matcher")
        .map(|(_, v)| v.into_owned())
        .collect();
    let f = SilenceForm {
        matchers: matchers.join("\n"),
        duration: "2h".into(),
        ..SilenceForm::default()
    };
    html(StatusCode::OK, form_page(&state, &f, None))
}

/// Creates the silence; a problem re-shows the form with what was typed and why.
pub async fn create(state: web::Data<AppState>, form: web::Form<SilenceForm>) -> HttpResponse {
    let f = form.into_inner();
    match create_silence(&state, &f).await {
        Ok(s) => html(
            StatusCode::CREATED,
            format!(
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Silence created · syncwatch</title></head>\n<body><h1>Silence created</h1>\n<p>Silence <a href=\"/api/v2/silence/{id}\">{id}</a> mutes alerts matching <code>{m}</code> until {end}.</p>\n<p>Expire it early with <code>amtool silence expire {id}</code> or <code>DELETE /api/v2/silence/{id}</code>.</p></body></html>\n",
                id = escape_html(&s.id),
                m = escape_html(
                    &f.matchers
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                end = rfc3339(s.ends_at_ms),
            ),
        ),
        Err(e) => html(e.status, form_page(&state, &f, Some(&e.message))),
    }
}

async fn create_silence(state: &AppState, f: &SilenceForm) -> Result<Silence, ApiError> {
    auth::check(state, f.token.trim(), "silences:write")?;
    silence_from_form(state, &f.matchers, &f.duration, &f.created_by, &f.comment).await
}

/// Creates and puts in force the silence a form describes: `matchers` one per line (PromQL
/// matcher syntax), `duration` such as `2h`, who and why (both required). 400 naming the field
/// that is wrong.
pub async fn silence_from_form(
    state: &AppState,
    matchers_text: &str,
    duration: &str,
    created_by: &str,
    comment: &str,
) -> Result<Silence, ApiError> {
    let mut matchers = Vec::new();
    for line in matchers_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let m =
            Matcher::parse(line).map_err(|e| ApiError::bad_request(format!("matchers: {e}")))?;
        matchers.push(ApiMatcher::from_matcher(&m));
    }
    let duration = parse_duration(duration.trim())
        .map_err(|e| ApiError::bad_request(format!("duration: {e}")))?;
    if created_by.trim().is_empty() || comment.trim().is_empty() {
        return Err(ApiError::bad_request(
            "created by and comment are both required",
        ));
    }
    let now = state.clock.now_ms();
    let silence = Silence::new(
        new_id(),
        matchers,
        now,
        now + duration.as_millis() as i64,
        created_by.trim().to_string(),
        comment.trim().to_string(),
        now,
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    silences::save(state, silence.clone()).await?;
    Ok(silence)
}
