//! `GET /alerts` (every alert the dispatcher holds: the rules' and those posted to
//! `/api/v2/alerts`), `GET /alerts/{fingerprint}` (labels, annotations, value, since, runbook,
//! ticket, and a form to silence it), `GET /silences` (with a button to expire each),
//! `POST /silences` and `POST /silences/{id}/expire`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::silence_new::SilenceForm;
use super::{Chrome, Ctx, error_page, forged, not_found, when_ms};
use crate::alerting::actor::{HeldAlert, ListAlerts};
use crate::api::silences::{expire_silence, silence_from_form};
use crate::api::{ApiError, AppState};
use crate::domain::Fingerprint;
use crate::domain::matcher::equality_text;
use crate::domain::silence::SilenceState;
use crate::domain::ticket::occurrence_key;

/// Alerts or silences a page lists (`offset` pages on): 200 rows of labels stay under 150 KB.
const PAGE_ROWS: usize = 200;

/// An alert as a row.
pub struct AlertRow {
    pub fingerprint: String,
    pub name: String,
    pub severity: String,
    /// `active` or `suppressed` (silenced, inhibited or muted).
    pub state: &'static str,
    pub summary: String,
    /// Its labels but `alertname`, as `k=v, …`.
    pub labels: String,
    pub since: String,
    pub runbook: Option<(String, String)>,
}

impl AlertRow {
    fn of(h: &HeldAlert, state: &AppState) -> Self {
        let a = &h.alert;
        Self {
            fingerprint: a.fingerprint().to_string(),
            name: a.name().to_string(),
            severity: a.severity().as_str().to_string(),
            state: if suppressed(h) {
                "suppressed"
            } else {
                "active"
            },
            summary: a
                .annotations
                .get("summary")
                .map(|s| s.to_string())
                .unwrap_or_default(),
            labels: a
                .labels
                .iter()
                .filter(|(k, _)| *k != "alertname")
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            since: when_ms(a.starts_at_ms),
            runbook: state
                .runbooks
                .exact(&a.labels)
                .map(|rb| (rb.id.clone(), rb.title.clone())),
        }
    }
}

fn suppressed(h: &HeldAlert) -> bool {
    !(h.silenced_by.is_empty() && h.inhibited_by.is_empty() && h.muted_by.is_empty())
}

/// The alerts the dispatcher holds, active first, then by severity and name.
pub async fn held(state: &AppState) -> Result<Vec<HeldAlert>, ApiError> {
    let mut all = state
        .dispatch
        .send(ListAlerts)
        .await
        .map_err(|_| ApiError::unavailable("dispatcher"))?;
    all.sort_by(|a, b| {
        (suppressed(a), a.alert.severity(), a.alert.name()).cmp(&(
            suppressed(b),
            b.alert.severity(),
            b.alert.name(),
        ))
    });
    Ok(all)
}

/// Rows of the first `max` held alerts.
pub fn rows<'a>(
    held: impl IntoIterator<Item = &'a HeldAlert>,
    state: &AppState,
    max: usize,
) -> Vec<AlertRow> {
    held.into_iter()
        .take(max)
        .map(|h| AlertRow::of(h, state))
        .collect()
}

/// `/alerts`' filters: `q` (a part of a label's value or the alert's name), `state`
/// (`active`, `suppressed`).
#[derive(Deserialize, Default)]
pub struct AlertFilters {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    offset: usize,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    q: String,
    state: String,
    rows: Vec<AlertRow>,
    matching: usize,
    total: usize,
    previous: Option<String>,
    next: Option<String>,
}

/// `GET /alerts`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: web::Query<AlertFilters>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let all = match held(&state).await {
        Ok(h) => h,
        Err(e) => return error_page(&ctx, &e, "/"),
    };
    let needle = f.q.trim().to_lowercase();
    let matching: Vec<&HeldAlert> = all
        .iter()
        .filter(|h| f.state.is_empty() || (f.state == "suppressed") == suppressed(h))
        .filter(|h| {
            needle.is_empty()
                || h.alert
                    .labels
                    .iter()
                    .any(|(_, v)| v.to_lowercase().contains(&needle))
        })
        .collect();
    let link = |offset: usize| {
        format!(
            "/alerts?{}",
            super::sla::encode(&[
                ("q", &f.q),
                ("state", &f.state),
                ("offset", &offset.to_string())
            ])
        )
    };
    ctx.respond(
        StatusCode::OK,
        AlertsPage {
            chrome: ctx.chrome("alerts"),
            q: f.q.clone(),
            state: f.state.clone(),
            rows: rows(matching.iter().skip(f.offset).copied(), &state, PAGE_ROWS),
            matching: matching.len(),
            total: all.len(),
            previous: (f.offset > 0).then(|| link(f.offset.saturating_sub(PAGE_ROWS))),
            next: (f.offset + PAGE_ROWS < matching.len()).then(|| link(f.offset + PAGE_ROWS)),
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    chrome: Chrome,
    row: AlertRow,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    value: String,
    receivers: String,
    silenced_by: Vec<String>,
    inhibited_by: String,
    muted_by: String,
    ticket: Option<String>,
    /// The silence form's matchers: every label, `name="value"` (as Alertmanager's UI fills
    /// them).
    matchers: String,
    error: Option<String>,
}

/// `GET /alerts/{fingerprint}`.
pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    fp: web::Path<String>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    match alert_page(&state, &ctx, &fp, None).await {
        Ok(Some(page)) => ctx.respond(StatusCode::OK, page),
        Ok(None) => not_found(
            &ctx,
            &format!(
                "No alert {:?} is firing now (it may have resolved).",
                crate::domain::truncate(&fp, 40)
            ),
        ),
        Err(e) => error_page(&ctx, &e, "/alerts"),
    }
}

async fn alert_page(
    state: &AppState,
    ctx: &Ctx,
    fp: &str,
    error: Option<String>,
) -> Result<Option<Result<String, askama::Error>>, ApiError> {
    let Some(wanted) = Fingerprint::parse(fp) else {
        return Ok(None);
    };
    let all = held(state).await?;
    let Some(h) = all.iter().find(|h| h.alert.fingerprint() == wanted) else {
        return Ok(None);
    };
    let a = &h.alert;
    let ticket = state
        .store
        .ticket_for_occurrence(&occurrence_key(a))
        .await
        .map_err(ApiError::store)?;
    let matchers = a
        .labels
        .iter()
        .map(|(k, v)| equality_text(k, v))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Some(
        AlertPage {
            chrome: ctx.chrome("alerts"),
            row: AlertRow::of(h, state),
            labels: a
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: a
                .annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: a.value.map_or_else(|| "–".into(), |v| v.to_string()),
            receivers: h.receivers.join(", "),
            silenced_by: h.silenced_by.clone(),
            inhibited_by: h.inhibited_by.join(", "),
            muted_by: h.muted_by.join(", "),
            ticket,
            matchers,
            error,
        }
        .render(),
    ))
}

/// A silence as a row.
struct SilenceRow {
    id: String,
    state: &'static str,
    matchers: String,
    starts: String,
    ends: String,
    created_by: String,
    comment: String,
}

#[derive(Template)]
#[template(path = "silences.html")]
struct SilencesPage {
    chrome: Chrome,
    rows: Vec<SilenceRow>,
    created: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SilencesQuery {
    created: Option<String>,
}

/// `GET /silences`: active and pending silences first, then the expired ones, newest first.
pub async fn silences(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<SilencesQuery>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let now = state.clock.now_ms();
    let mut all = state
        .silences
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    all.sort_by_key(|s| {
        (
            s.state(now) == SilenceState::Expired,
            std::cmp::Reverse(s.updated_at_ms),
        )
    });
    let rows = all
        .iter()
        .take(PAGE_ROWS)
        .map(|s| SilenceRow {
            id: s.id.clone(),
            state: match s.state(now) {
                SilenceState::Pending => "pending",
                SilenceState::Active => "active",
                SilenceState::Expired => "expired",
            },
            matchers: s
                .matchers
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            starts: when_ms(s.starts_at_ms),
            ends: when_ms(s.ends_at_ms),
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
        })
        .collect();
    ctx.respond(
        StatusCode::OK,
        SilencesPage {
            chrome: ctx.chrome("alerts"),
            rows,
            created: q.into_inner().created,
        }
        .render(),
    )
}

/// `POST /silences`: creates the silence (303 to `/silences?created=`); a mistake shows the
/// alert's page again with the reason.
pub async fn create_silence(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SilenceForm>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    if let Some(refused) = forged(&req, &state, &ctx, &form.csrf) {
        return refused;
    }
    let created_by = if form.created_by.trim().is_empty() {
        crate::api::auth::actor(&req, &state)
    } else {
        form.created_by.clone()
    };
    match silence_from_form(
        &state,
        &form.matchers,
        &form.duration,
        &created_by,
        &form.comment,
    )
    .await
    {
        Ok(s) => HttpResponse::SeeOther()
            .insert_header((
                "location",
                format!("/silences?{}", super::sla::encode(&[("created", &s.id)])),
            ))
            .finish(),
        Err(e) => {
            match alert_page(&state, &ctx, &form.fingerprint, Some(e.message.clone())).await {
                Ok(Some(page)) => ctx.respond(e.status, page),
                _ => error_page(&ctx, &e, "/alerts"),
            }
        }
    }
}

/// `POST /silences/{id}/expire`.
pub async fn expire_silence_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<super::CsrfOnly>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    if let Some(refused) = forged(&req, &state, &ctx, &form.csrf) {
        return refused;
    }
    match expire_silence(&state, &id).await {
        Ok(()) => HttpResponse::SeeOther()
            .insert_header(("location", "/silences"))
            .finish(),
        Err(e) => error_page(&ctx, &e, "/silences"),
    }
}
