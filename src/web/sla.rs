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
use super::{Chrome, Ctx, amount, error_page, percent};
use crate::api::sla::{
    SlaQuery, SloFiguresView, SloGroupDetailView, SloQuery, detail_view, exact_group, group_pairs,
    list_view_where,
};
use crate::api::sla_report::{MonthView, months_of_group};
use crate::api::{ApiError, AppState};
use crate::slo::budget::Window;
use crate::slo::recorder::group_labels;

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

/// The window a page was asked for: one of the API's `window`, `week`, `month`, `quarter`.
#[derive(Clone, Default)]
struct WindowParams {
    window: Option<String>,
    week: Option<String>,
    month: Option<String>,
    quarter: Option<String>,
}

impl WindowParams {
    /// The window's query parameter and value (`window`, `30d` by default).
    fn key_value(&self) -> (&'static str, String) {
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
    fn param(&self) -> String {
        let (k, v) = self.key_value();
        encode(&[(k, &v)])
    }

    /// `GET /api/v1/sla`'s query for this window.
    fn sla_query(self, limit: usize, offset: usize) -> SlaQuery {
        SlaQuery {
            window: self.window,
            week: self.week,
            month: self.month,
            quarter: self.quarter,
            limit: Some(limit),
            offset: Some(offset),
        }
    }

    /// `GET /api/v1/sla/{slo}`'s query for this window and `group`.
    fn slo_query(self, group: Option<String>) -> SloQuery {
        SloQuery {
            group,
            window: self.window,
            week: self.week,
            month: self.month,
            quarter: self.quarter,
        }
    }
}

impl SlaFilters {
    fn window(&self) -> WindowParams {
        WindowParams {
            window: self.window.clone(),
            week: self.week.clone(),
            month: self.month.clone(),
            quarter: self.quarter.clone(),
        }
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
    shown_to: usize,
    /// SLO groups the filters keep.
    matching: usize,
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
    let window = f.window();
    let query = window.clone().sla_query(PAGE_ROWS, f.offset);
    let needle = f.q.trim().to_lowercase();
    let found = list_view_where(&state, &query, |g| {
        (f.status.is_empty() || g.budget.status.as_str() == f.status)
            && (needle.is_empty()
                || g.slo.id.to_lowercase().contains(&needle)
                || group_labels(&g.group)
                    .values()
                    .any(|v| v.to_lowercase().contains(&needle)))
    })
    .await;
    let view = match found {
        Ok(v) => v,
        Err(e) => return error_page(&ctx, &e, "/sla"),
    };
    let window_param = window.param();
    let rows: Vec<Row> = view
        .slos
        .iter()
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
    let (window_key, window_value) = window.key_value();
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
            shown_from: f.offset + 1,
            shown_to: f.offset + rows.len(),
            rows,
            matching: view.total,
            previous: (f.offset > 0).then(|| link(f.offset.saturating_sub(PAGE_ROWS))),
            next: view.next_offset.map(link),
            csv: format!(
                "/api/v1/sla/report?{}",
                encode(&[("month", &previous_month), ("format", "csv")])
            ),
        }
        .render(),
    )
}

/// The one group an SLO page draws.
struct GroupPanel {
    row: Row,
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
    description: String,
    window: String,
    start: String,
    end: String,
    timezone: String,
    group: String,
    window_key: &'static str,
    window_value: String,
    /// One group's figures, chart and months; or, for an SLO split into groups and no one group
    /// named, the table of its groups.
    panel: Option<GroupPanel>,
    groups: Vec<Row>,
    groups_total: usize,
    previous: Option<String>,
    next: Option<String>,
    csv: String,
    csv_month: String,
    api: String,
}

/// `/sla/{slo}`'s filters: the API's `group` and window, and `offset` in its table of groups.
#[derive(Deserialize, Default)]
pub struct SloFilters {
    group: Option<String>,
    window: Option<String>,
    week: Option<String>,
    month: Option<String>,
    quarter: Option<String>,
    #[serde(default)]
    offset: usize,
}

/// `GET /sla/{slo}`: one group's page (the SLO's only one, or the one `group` names by each of
/// its `by` labels), else the table of the SLO's groups (those `group` narrows to), worst
/// budget first, each linking to its page.
pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<SloFilters>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    let id = path.into_inner();
    let f = q.into_inner();
    match slo_page(&state, &ctx, &id, f).await {
        Ok(page) => ctx.respond(StatusCode::OK, page),
        Err(e) => error_page(&ctx, &e, "/sla"),
    }
}

async fn slo_page(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    f: SloFilters,
) -> Result<Result<String, askama::Error>, ApiError> {
    let Some(slo) = state.slos.slos.iter().find(|s| s.id == id) else {
        return Err(ApiError::not_found(format!("There is no SLO {id:?}.")));
    };
    let window = WindowParams {
        window: f.window,
        week: f.week,
        month: f.month,
        quarter: f.quarter,
    };
    let window_param = window.param();
    let (window_key, window_value) = window.key_value();
    // An empty Group box names no group.
    let group = f.group.filter(|g| !g.trim().is_empty());
    let wanted = group_pairs(group.as_deref())?;
    let exact = if slo.by.is_empty() {
        Some(String::new())
    } else {
        exact_group(&slo.by, &wanted)
    };
    let month = Window::month_of(state.clock.now_ms(), &state.slos.timezone).name();
    let mut api = format!("/api/v1/sla/{id}?{window_param}");
    if let Some(g) = &group {
        api = format!("{api}&{}", encode(&[("group", g)]));
    }
    let mut page = SloPage {
        chrome: ctx.chrome("sla"),
        slo: id.to_string(),
        description: slo.description.clone(),
        window: String::new(),
        start: String::new(),
        end: String::new(),
        timezone: String::new(),
        group: group.clone().unwrap_or_default(),
        window_key,
        window_value,
        panel: None,
        groups: Vec::new(),
        groups_total: 0,
        previous: None,
        next: None,
        csv: format!(
            "/api/v1/sla/report?{}",
            encode(&[("month", &month), ("format", "csv")])
        ),
        csv_month: month,
        api,
    };
    // One group to draw: the one named, or the SLO's only one (an SLO split into groups has
    // a single empty one before any data).
    let mut single = exact.map(|key| (group.clone(), key));
    if single.is_none() {
        let query = window.clone().sla_query(PAGE_ROWS, f.offset);
        let view = list_view_where(state, &query, |g| {
            g.slo.id == id && {
                let labels = group_labels(&g.group);
                wanted
                    .iter()
                    .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
            }
        })
        .await?;
        if view.total == 1 && f.offset == 0 {
            let pairs: Vec<(String, String)> = view.slos[0]
                .group
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let param = (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            single = Some((param, exact_group(&slo.by, &pairs).unwrap_or_default()));
        } else {
            let link = |offset: usize| {
                let mut pairs = vec![("offset", offset.to_string())];
                if let Some(g) = &group {
                    pairs.push(("group", g.clone()));
                }
                let pairs: Vec<(&str, &str)> =
                    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                format!("/sla/{id}?{window_param}&{}", encode(&pairs))
            };
            page.previous = (f.offset > 0).then(|| link(f.offset.saturating_sub(PAGE_ROWS)));
            page.next = view.next_offset.map(link);
            page.window = view.window;
            page.start = super::when(Some(&view.start));
            page.end = super::when(Some(&view.end));
            page.timezone = view.timezone;
            page.groups_total = view.total;
            page.groups = view
                .slos
                .iter()
                .map(|g| Row::of(g, &window_param))
                .collect();
        }
    }
    if let Some((group, key)) = single {
        let view = detail_view(state, id, window.slo_query(group)).await?;
        let months = months_of_group(state, slo, &key).await?;
        page.window = view.window;
        page.start = super::when(Some(&view.start));
        page.end = super::when(Some(&view.end));
        page.timezone = view.timezone;
        page.panel = view
            .groups
            .first()
            .map(|g| panel(g, &window_param, &months));
    }
    Ok(page.render())
}

/// One group's panel: its three numbers, its burn-down and its 12 months.
fn panel(g: &SloGroupDetailView, window_param: &str, months: &[MonthView]) -> GroupPanel {
    let fig = &g.figures;
    let row = Row::of(fig, window_param);
    let points: Vec<BurnPoint> = g
        .daily
        .iter()
        .map(|d| BurnPoint {
            label: d.start.get(5..10).unwrap_or(&d.start).to_string(),
            actual: d.budget_remaining_ratio,
        })
        .collect();
    // Days in the whole window: the ideal line spends the budget by its end.
    let whole = g
        .daily
        .last()
        .map(|d| {
            let spent = 1.0 - d.ideal_remaining_ratio;
            if spent > 0.0 {
                (g.daily.len() as f64 / spent).round() as usize
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
    GroupPanel {
        events: format!(
            "{} bad of {} {unit}",
            amount(fig.events.bad),
            amount(fig.events.total)
        ),
        budget: format!(
            "{} of {} {unit} left",
            amount(fig.error_budget.remaining),
            amount(fig.error_budget.total)
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
        months: months
            .iter()
            .map(|m| {
                let met = match m.met {
                    Some(true) => "met",
                    Some(false) => "missed",
                    None => "no_data",
                };
                (m.month.clone(), met, percent(m.attainment))
            })
            .collect(),
        row,
    }
}
