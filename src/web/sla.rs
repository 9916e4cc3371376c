//! `GET /sla` (every SLO group, worst budget first, filtered in the URL) and `GET /sla/{slo}`
//! (one SLO's groups: objective, attainment and budget left, a burn-down chart of the budget,
//! actual against ideal, and the last 12 months met or not, with the CSV report's link). The
//! figures are those `GET /api/v1/sla`, `GET /api/v1/sla/{slo}` and `GET /api/v1/sla/report`
//! answer: the same functions build both.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::chart::{BurnPoint, burn_down};
use super::{Chrome, Ctx, error_page, percent};
use crate::api::AppState;
use crate::api::sla::{SlaQuery, SloFiguresView, SloQuery, detail_view, list_view};
use crate::api::sla_report::report_view;
use crate::slo::budget::Window;

/// Rows a page shows at most (the rest are a page further).
pub const PAGE_ROWS: usize = 100;

/// `/sla`'s filters: the API's window, and `status`, `q` (a part of the SLO's id or of a group
/// label's value), `offset`.
#[derive(Deserialize, Default)]
pub struct SlaFilters {
    window: Option<String>,
    week: Option<String>,
    month: Option<String>,
    quarter: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: usize,
}

impl SlaFilters {
    /// The window's query parameter and value (`window`, `30d` by default).
    fn window(&self) -> (&'static str, String) {
        [
            ("window", &self.window),
            ("week", &self.week),
            ("month", &self.month),
            ("quarter", &self.quarter),
        ]
        .into_iter()
        .find_map(|(k, v)| v.clone().map(|v| (k, v)))
        .unwrap_or(("window", "30d".into()))
    }

    /// The window as a query string (`window=30d`, `month=2026-11`, …).
    fn window_param(&self) -> String {
        let (k, v) = self.window();
        encode(&[(k, &v)])
    }
}

/// `k=v&…`, each percent-encoded.
pub fn encode(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// One SLO group as a row.
pub struct Row {
    pub slo: String,
    /// The group's labels as `k=v, …` (empty for an SLO without `by`).
    pub group: String,
    /// The link to the SLO's page for this group and window.
    pub href: String,
    pub objective: String,
    pub attainment: String,
    pub budget_left: String,
    pub burn_1h: String,
    pub burn_6h: String,
    pub status: &'static str,
    pub alerts: usize,
    pub tickets: usize,
}

impl Row {
    pub fn of(f: &SloFiguresView, window_param: &str) -> Self {
        let group = group_text(&f.group);
        let group_param = f
            .group
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut href = format!("/sla/{}?{window_param}", f.slo);
        if !group_param.is_empty() {
            href = format!("{href}&{}", encode(&[("group", &group_param)]));
        }
        Self {
            slo: f.slo.clone(),
            group,
            href,
            objective: percent(Some(f.objective)),
            attainment: percent(f.attainment),
            budget_left: percent(Some(f.error_budget.remaining_ratio)),
            burn_1h: format!("{:.2}", f.burn_rate.h1),
            burn_6h: format!("{:.2}", f.burn_rate.h6),
            status: f.status.as_str(),
            alerts: f.alerts.len(),
            tickets: f.tickets.len(),
        }
    }
}

fn group_text(group: &BTreeMap<String, String>) -> String {
    group
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Template)]
#[template(path = "sla.html")]
struct SlaPage {
    chrome: Chrome,
    window: String,
    start: String,
    end: String,
    timezone: String,
    status: String,
    q: String,
    /// The window's own query parameter, kept by the filter form.
    window_key: &'static str,
    window_value: String,
    rows: Vec<Row>,
    shown_from: usize,
    matching: usize,
    total: usize,
    previous: Option<String>,
    next: Option<String>,
    csv: String,
}

/// `GET /sla`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<SlaFilters>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let f = q.into_inner();
    let query = SlaQuery {
        window: f.window.clone(),
        week: f.week.clone(),
        month: f.month.clone(),
        quarter: f.quarter.clone(),
        limit: Some(crate::api::sla::MAX_LIMIT),
        offset: None,
    };
    let view = match list_view(&state, &query).await {
        Ok(v) => v,
        Err(e) => return error_page(&ctx, &e, "/sla"),
    };
    let needle = f.q.trim().to_lowercase();
    let window_param = f.window_param();
    let matching: Vec<&SloFiguresView> = view
        .slos
        .iter()
        .filter(|s| f.status.is_empty() || s.status.as_str() == f.status)
        .filter(|s| {
            needle.is_empty()
                || s.slo.to_lowercase().contains(&needle)
                || s.group.values().any(|v| v.to_lowercase().contains(&needle))
        })
        .collect();
    let rows = matching
        .iter()
        .skip(f.offset)
        .take(PAGE_ROWS)
        .map(|s| Row::of(s, &window_param))
        .collect();
    let link = |offset: usize| {
        format!(
            "/sla?{window_param}&{}",
            encode(&[
                ("status", &f.status),
                ("q", &f.q),
                ("offset", &offset.to_string())
            ])
        )
    };
    let (window_key, window_value) = f.window();
    let month = Window::month_of(state.clock.now_ms(), &state.slos.timezone);
    let previous_month = month.months_to(2)[0].name();
    ctx.respond(
        StatusCode::OK,
        SlaPage {
            chrome: ctx.chrome("sla"),
            window: view.window,
            start: super::when(Some(&view.start)),
            end: super::when(Some(&view.end)),
            timezone: view.timezone,
            status: f.status.clone(),
            q: f.q.clone(),
            window_key,
            window_value,
            rows,
            shown_from: f.offset + 1,
            matching: matching.len(),
            total: view.total,
            previous: (f.offset > 0).then(|| link(f.offset.saturating_sub(PAGE_ROWS))),
            next: (f.offset + PAGE_ROWS < matching.len()).then(|| link(f.offset + PAGE_ROWS)),
            csv: format!(
                "/api/v1/sla/report?{}",
                encode(&[("month", &previous_month), ("format", "csv")])
            ),
        }
        .render(),
    )
}

/// One group on an SLO's page.
struct GroupPanel {
    row: Row,
    description: String,
    /// `bad of total minutes` (or events).
    events: String,
    /// The budget in events or minutes, and what is left of it.
    budget: String,
    /// The burn-down chart (SVG written by [`burn_down`]: numbers and escaped text only).
    chart: String,
    alerts: Vec<AlertLine>,
    tickets: Vec<TicketLine>,
    /// The last 12 months, oldest first: (month, `met`, `missed` or `no_data`, attainment).
    months: Vec<(String, &'static str, String)>,
}

struct AlertLine {
    name: String,
    tier: String,
    since: String,
    value: String,
}

struct TicketLine {
    id: String,
    title: String,
    status: String,
    tier: String,
}

#[derive(Template)]
#[template(path = "slo.html")]
struct SloPage {
    chrome: Chrome,
    slo: String,
    window: String,
    start: String,
    end: String,
    timezone: String,
    group: String,
    window_key: &'static str,
    window_value: String,
    groups: Vec<GroupPanel>,
    more_groups: usize,
    csv: String,
    csv_month: String,
    api: String,
}

/// Groups an SLO page draws at most; `group=` narrows to one.
const MAX_PANELS: usize = 20;

/// `/sla/{slo}`'s filters: the API's `group` and window.
#[derive(Deserialize, Default)]
pub struct SloFilters {
    group: Option<String>,
    window: Option<String>,
    week: Option<String>,
    month: Option<String>,
    quarter: Option<String>,
}

/// `GET /sla/{slo}`.
pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<SloFilters>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let id = path.into_inner();
    let f = q.into_inner();
    let filters = SlaFilters {
        window: f.window.clone(),
        week: f.week.clone(),
        month: f.month.clone(),
        quarter: f.quarter.clone(),
        ..SlaFilters::default()
    };
    let window_param = filters.window_param();
    let query = SloQuery {
        group: f.group.clone(),
        window: f.window,
        week: f.week,
        month: f.month,
        quarter: f.quarter,
    };
    let view = match detail_view(&state, &id, query).await {
        Ok(v) => v,
        Err(e) => return error_page(&ctx, &e, "/sla"),
    };
    let tz = &state.slos.timezone;
    let month = Window::month_of(state.clock.now_ms(), tz).name();
    // The 12 months up to this one, of every group of the SLO.
    let history = match report_view(&state, Some(&month), Some(&id)).await {
        Ok(r) => r.rows,
        Err(e) => return error_page(&ctx, &e, "/sla"),
    };
    let more_groups = view.groups.len().saturating_sub(MAX_PANELS);
    let groups = view
        .groups
        .iter()
        .take(MAX_PANELS)
        .map(|g| {
            let fig = &g.figures;
            let row = Row::of(fig, &window_param);
            let points: Vec<BurnPoint> = g
                .daily
                .iter()
                .map(|d| BurnPoint {
                    label: d.start.get(5..10).unwrap_or(&d.start).to_string(),
                    actual: d.budget_remaining_ratio,
                })
                .collect();
            let whole = g
                .daily
                .last()
                .map(|d| {
                    let left = 1.0 - d.ideal_remaining_ratio;
                    if left > 0.0 {
                        (g.daily.len() as f64 / left).round() as usize
                    } else {
                        g.daily.len()
                    }
                })
                .unwrap_or(1);
            let title = format!(
                "Error budget left of {}{}: actual against ideal",
                fig.slo,
                if row.group.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", row.group)
                }
            );
            let unit = fig.events.unit;
            let months = history
                .iter()
                .find(|r| r.group == fig.group)
                .map(|r| {
                    r.history
                        .iter()
                        .map(|m| {
                            let met = match m.met {
                                Some(true) => "met",
                                Some(false) => "missed",
                                None => "no_data",
                            };
                            (m.month.clone(), met, percent(m.attainment))
                        })
                        .collect()
                })
                .unwrap_or_default();
            GroupPanel {
                description: fig.description.clone(),
                events: format!("{} bad of {} {unit}", fig.events.bad, fig.events.total),
                budget: format!(
                    "{:.1} of {:.1} {unit} left",
                    fig.error_budget.remaining, fig.error_budget.total
                ),
                chart: burn_down(&title, &points, whole),
                alerts: fig
                    .alerts
                    .iter()
                    .map(|a| AlertLine {
                        name: a.alertname.clone(),
                        tier: a.burn_tier.clone(),
                        since: super::when(Some(&a.since)),
                        value: format!("{:.2}", a.value),
                    })
                    .collect(),
                tickets: fig
                    .tickets
                    .iter()
                    .map(|t| TicketLine {
                        id: t.id.clone(),
                        title: t.title.clone(),
                        status: t.status.clone(),
                        tier: t.tier.clone(),
                    })
                    .collect(),
                months,
                row,
            }
        })
        .collect();
    let (window_key, window_value) = filters.window();
    let mut api = format!("/api/v1/sla/{id}?{window_param}");
    if let Some(g) = &f.group {
        api = format!("{api}&{}", encode(&[("group", g)]));
    }
    ctx.respond(
        StatusCode::OK,
        SloPage {
            chrome: ctx.chrome("sla"),
            csv: format!(
                "/api/v1/sla/report?{}",
                encode(&[("month", &month), ("format", "csv")])
            ),
            csv_month: month,
            slo: id,
            window: view.window,
            start: super::when(Some(&view.start)),
            end: super::when(Some(&view.end)),
            timezone: view.timezone,
            group: f.group.unwrap_or_default(),
            window_key,
            window_value,
            groups,
            more_groups,
            api,
        }
        .render(),
    )
}
