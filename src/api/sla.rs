//! `GET /api/v1/sla`: every SLO group's attainment, error budget and burn rate over a window,
//! worst budget first, from the SLI history in the store ([`crate::slo`] defines the figures).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::domain::clock::rfc3339;
use crate::slo::budget::{Status, Window};
use crate::slo::history::{Grain, HOUR_MS, MINUTE_MS, Row, locate, read_plan};
use crate::slo::recorder::group_labels;
use crate::slo::report::{GroupFigures, figures};
use crate::slo::spec::Sli;

/// The window: one of `window`, `week`, `month`, `quarter` (default `window=30d`).
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlaQuery {
    /// A rolling window up to now: `7d`, `28d` or `30d`.
    #[param(pattern = "^(7|28|30)d$")]
    window: Option<String>,
    /// An ISO week in the SLO time zone, e.g. `2026-W48`.
    #[param(pattern = "^[0-9]{4}-W[0-9]{2}$")]
    week: Option<String>,
    /// A calendar month in the SLO time zone, e.g. `2026-11`.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    month: Option<String>,
    /// A calendar quarter in the SLO time zone, e.g. `2026-Q4`.
    #[param(pattern = "^[0-9]{4}-Q[1-4]$")]
    quarter: Option<String>,
}

/// Every SLO group's figures over one window.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SlaView {
    /// The window as asked (`30d`, `2026-W48`, `2026-11`, `2026-Q4`).
    window: String,
    /// What was read: a rolling window starts on the hour; a calendar window in progress ends
    /// now (RFC 3339).
    start: String,
    end: String,
    /// The IANA time zone of calendar windows (`[slo] timezone`).
    timezone: String,
    /// Worst budget first (the least remaining), `no_data` last.
    slos: Vec<SloFiguresView>,
}

/// One SLO group's figures.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SloFiguresView {
    /// `{service}-{name}`.
    slo: String,
    service: String,
    name: String,
    description: String,
    /// The group's labels (the SLO's `by`); empty for an SLO without `by`.
    group: BTreeMap<String, String>,
    /// The objective as a ratio (0.999 for 99.9 %).
    objective: f64,
    status: Status,
    /// 1 − bad / total; `null` without events.
    attainment: Option<f64>,
    events: EventsView,
    error_budget: BudgetView,
    burn_rate: BurnView,
}

/// The window's events. `unit` is `minutes` for a timeslices SLO, else `events`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventsView {
    bad: f64,
    total: f64,
    unit: &'static str,
}

/// The error budget: `ratio` = 1 − objective; `total` = ratio × total events (in `unit`);
/// `remaining` = total − bad (negative once overspent); `remaining_ratio` = remaining / total
/// (1 without events).
#[derive(Serialize, utoipa::ToSchema)]
pub struct BudgetView {
    ratio: f64,
    total: f64,
    remaining: f64,
    remaining_ratio: f64,
}

/// Burn rates: (bad / total) / (1 − objective) over the last hour and 6 hours; 1 spends the
/// budget exactly over the window, 0 without events.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BurnView {
    #[serde(rename = "1h")]
    h1: f64,
    #[serde(rename = "6h")]
    h6: f64,
}

impl SlaQuery {
    fn window(&self) -> Result<Window, ApiError> {
        let given: Vec<(&str, &String)> = [
            ("window", &self.window),
            ("week", &self.week),
            ("month", &self.month),
            ("quarter", &self.quarter),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
        let (key, value) = match given.as_slice() {
            [] => return Ok(Window::Rolling { days: 30 }),
            [one] => *one,
            _ => {
                return Err(ApiError::bad_request(
                    "give one of window, week, month or quarter",
                ));
            }
        };
        let w = Window::parse(value).map_err(|e| ApiError::bad_request(format!("{key}: {e}")))?;
        let fits = matches!(
            (key, w),
            ("window", Window::Rolling { .. })
                | ("week", Window::Week { .. })
                | ("month", Window::Month { .. })
                | ("quarter", Window::Quarter { .. })
        );
        if fits {
            Ok(w)
        } else {
            Err(ApiError::bad_request(format!(
                "{key}: {value:?} is not a {key}"
            )))
        }
    }
}

/// `GET /api/v1/sla?window=30d` (or `week=2026-W48`, `month=2026-11`, `quarter=2026-Q4`):
/// every SLO group, worst budget first, with its objective, attainment, error budget (total and
/// remaining, as a ratio and in events or minutes), burn rates over 1 h and 6 h, and status
/// (`ok`, `warning` at 25 % of the budget left or less, `breached`, `no_data` below the SLO's
/// `min_events`). Definitions: Google SRE workbook; README "SLOs".
#[utoipa::path(get, path = "/api/v1/sla", tag = "sla", params(SlaQuery),
    responses(
        (status = 200, description = "The figures", body = SlaView),
        (status = 400, description = "The window is invalid, or has not begun", body = super::ErrorBody),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<SlaQuery>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window()?;
    let catalog = &state.slos;
    let tz = &catalog.timezone;
    // Counted up to the last minute that ended.
    let now = state.clock.now_ms().div_euclid(MINUTE_MS) * MINUTE_MS;
    let (start, period_end) = window.bounds(now, tz);
    if start >= now {
        return Err(ApiError::bad_request(format!(
            "{}: the window has not begun",
            window.name()
        )));
    }
    let end = period_end.min(now);
    let coarsest = match window {
        Window::Rolling { .. } => Grain::Hour,
        _ => Grain::Day,
    };
    let (plan, read_start) = read_plan(start, end, coarsest, tz);
    let (last_6h, _) = read_plan(now - 6 * HOUR_MS, now, Grain::Minute, tz);
    let (last_1h, _) = read_plan(now - HOUR_MS, now, Grain::Minute, tz);
    // Minutes for the burn rates and the hour in progress, hours for the rest of a rolling
    // window or the day in progress, days for a calendar window.
    let mut reads = vec![
        (Grain::Minute, now - 6 * HOUR_MS, now),
        (Grain::Hour, read_start, end),
    ];
    if coarsest == Grain::Day {
        reads.push((Grain::Day, read_start, end));
    }
    let mut rows: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for (grain, from, to) in reads {
        let found = state
            .store
            .slo_history_rows(grain, from.min(read_start), to.max(end), None)
            .await
            .map_err(ApiError::store)?;
        for (key, r) in found {
            rows.entry(key).or_default().extend(r);
        }
    }
    let all = figures(
        &catalog.slos,
        &rows,
        &locate(&plan, tz),
        &locate(&last_1h, tz),
        &locate(&last_6h, tz),
    );
    Ok(HttpResponse::Ok().json(SlaView {
        window: window.name(),
        start: rfc3339(read_start),
        end: rfc3339(end),
        timezone: tz.iana_name().unwrap_or("UTC").to_string(),
        slos: all.iter().map(view).collect(),
    }))
}

fn view(f: &GroupFigures) -> SloFiguresView {
    let b = &f.budget;
    SloFiguresView {
        slo: f.slo.id.clone(),
        service: f.slo.service.clone(),
        name: f.slo.name.clone(),
        description: f.slo.description.clone(),
        group: group_labels(&f.group),
        objective: f.slo.objective,
        status: b.status,
        attainment: b.attainment,
        events: EventsView {
            bad: b.events.bad,
            total: b.events.total,
            unit: match f.slo.sli {
                Sli::Timeslices { .. } => "minutes",
                _ => "events",
            },
        },
        error_budget: BudgetView {
            ratio: crate::slo::budget::allowed_bad(f.slo.objective),
            total: b.budget_events,
            remaining: b.remaining_events,
            remaining_ratio: b.remaining_ratio,
        },
        burn_rate: BurnView {
            h1: f.burn_1h,
            h6: f.burn_6h,
        },
    }
}
