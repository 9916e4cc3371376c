//! `GET /api/v1/sla`: every SLO group's attainment, error budget and burn rate over a window,
//! worst budget first, from the SLI history in the store ([`crate::slo`] defines the figures).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::domain::clock::rfc3339;
use crate::slo::budget::{Status, Window};
use crate::slo::history::{
    DAY_MS, Grain, HOUR_MS, MINUTE_MS, Row, local_day, locate, read_plan, sum,
};
use crate::slo::recorder::{group_key, group_labels};
use crate::slo::report::{GroupFigures, figures, figures_of};
use crate::slo::spec::Sli;

/// The window: one of `window`, `week`, `month`, `quarter` (default `window=30d`).
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlaQuery {
    /// A rolling window up to now: `7d`, `28d` or `30d`.
    #[param(pattern = "^(7|28|30)d$")]
    pub(crate) window: Option<String>,
    /// An ISO week in the SLO time zone, e.g. `2026-W48`.
    #[param(pattern = "^[0-9]{4}-W[0-9]{2}$")]
    pub(crate) week: Option<String>,
    /// A calendar month in the SLO time zone, e.g. `2026-11`.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub(crate) month: Option<String>,
    /// A calendar quarter in the SLO time zone, e.g. `2026-Q4`.
    #[param(pattern = "^[0-9]{4}-Q[1-4]$")]
    pub(crate) quarter: Option<String>,
    /// How many groups to answer, worst first (default 100, at most 10,000).
    #[param(minimum = 1, maximum = 10000)]
    pub(crate) limit: Option<usize>,
    /// How many of the worst groups to skip first (default 0): the next page starts at the
    /// answer's `next_offset`.
    pub(crate) offset: Option<usize>,
}

/// Groups answered by default, and at most.
const DEFAULT_LIMIT: usize = 100;
pub(crate) const MAX_LIMIT: usize = 10_000;

/// Every SLO group's figures over one window.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SlaView {
    /// The window as asked (`30d`, `2026-W48`, `2026-11`, `2026-Q4`).
    pub(crate) window: String,
    /// What was read: a rolling window starts on the hour; a calendar window in progress ends
    /// now (RFC 3339).
    pub(crate) start: String,
    pub(crate) end: String,
    /// The IANA time zone of calendar windows (`[slo] timezone`).
    pub(crate) timezone: String,
    /// Worst budget first (the least remaining), `no_data` last: the page asked for.
    pub(crate) slos: Vec<SloFiguresView>,
    /// Every SLO group, before paging.
    pub(crate) total: usize,
    /// The `offset` of the next page, when there is one.
    pub(crate) next_offset: Option<usize>,
}

/// One SLO group's figures.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SloFiguresView {
    /// `{service}-{name}`.
    pub(crate) slo: String,
    pub(crate) service: String,
    pub(crate) name: String,
    pub(crate) description: String,
    /// The group's labels (the SLO's `by`); empty for an SLO without `by`.
    pub(crate) group: BTreeMap<String, String>,
    /// The objective as a ratio (0.999 for 99.9 %).
    pub(crate) objective: f64,
    pub(crate) status: Status,
    /// 1 − bad / total; `null` without events.
    pub(crate) attainment: Option<f64>,
    pub(crate) events: EventsView,
    pub(crate) error_budget: BudgetView,
    pub(crate) burn_rate: BurnView,
    /// The SLO's firing alerts (burn-rate tiers, no data) that concern this group.
    pub(crate) alerts: Vec<SloAlertView>,
    /// The open and acknowledged tickets of those alerts.
    pub(crate) tickets: Vec<SloTicketView>,
}

/// A firing alert of an SLO group.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SloAlertView {
    pub(crate) alertname: String,
    /// `page`, `ticket` or `no_data`.
    pub(crate) burn_tier: String,
    /// Firing since (RFC 3339).
    pub(crate) since: String,
    /// The burn rate of its short window (0 for `no_data`).
    pub(crate) value: f64,
}

/// An open or acknowledged ticket of an SLO group.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SloTicketView {
    pub(crate) id: String,
    pub(crate) title: String,
    /// `open` or `acknowledged`.
    pub(crate) status: String,
    /// `L1`, `L2` or `L3`.
    pub(crate) tier: String,
    pub(crate) url: String,
}

/// What is being done about the SLOs: their firing alerts and their tickets.
struct Attention {
    alerts: Vec<crate::rules::actor::RuleAlert>,
    tickets: Vec<crate::domain::ticket::Ticket>,
    public_url: String,
}

/// At most this many tickets of SLO alerts are read for one answer.
const MAX_SLO_TICKETS: i64 = 10_000;

impl Attention {
    /// The firing alerts and active tickets of `slos`' alerts.
    async fn of(state: &AppState, slos: &[crate::slo::Slo]) -> Result<Self, ApiError> {
        let ids: std::collections::HashSet<&str> = slos.iter().map(|s| s.id.as_str()).collect();
        // As last published: the rules actor may be busy evaluating.
        let published = state
            .rule_alerts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let alerts = published
            .iter()
            .filter(|ra| {
                ra.alert.state == crate::domain::AlertState::Firing
                    && ids.contains(ra.alert.labels.value("slo"))
            })
            .cloned()
            .collect();
        let mut names: Vec<String> = slos
            .iter()
            .flat_map(|s| {
                [
                    s.alerting.name.clone(),
                    format!("{}NoData", s.alerting.name),
                ]
            })
            .collect();
        names.sort();
        names.dedup();
        let tickets = state
            .store
            .active_tickets_of(&names, MAX_SLO_TICKETS)
            .await
            .map_err(ApiError::store)?
            .into_iter()
            .filter(|t| ids.contains(t.labels.value("slo")))
            .collect();
        Ok(Self {
            alerts,
            tickets,
            public_url: state.public_url.clone(),
        })
    }

    /// Whether `labels` (an alert's or a ticket's) concern the group `group` of SLO `slo`: the
    /// same `slo`, and each group label either the same or absent (a no-data alert is the whole
    /// SLO's).
    fn concerns(
        labels: &crate::domain::Labels,
        slo: &str,
        group: &BTreeMap<String, String>,
    ) -> bool {
        labels.value("slo") == slo
            && group
                .iter()
                .all(|(k, v)| labels.get(k).is_none_or(|x| x == v))
    }

    fn alerts_of(&self, slo: &str, group: &BTreeMap<String, String>) -> Vec<SloAlertView> {
        self.alerts
            .iter()
            .filter(|ra| Self::concerns(&ra.alert.labels, slo, group))
            .map(|ra| SloAlertView {
                alertname: ra.rule.clone(),
                burn_tier: ra.alert.labels.value("burn_tier").to_string(),
                since: rfc3339(ra.alert.fired_at_ms.unwrap_or(ra.alert.active_at_ms)),
                value: ra.alert.value,
            })
            .collect()
    }

    fn tickets_of(&self, slo: &str, group: &BTreeMap<String, String>) -> Vec<SloTicketView> {
        self.tickets
            .iter()
            .filter(|t| Self::concerns(&t.labels, slo, group))
            .map(|t| SloTicketView {
                id: t.id.clone(),
                title: t.title.clone(),
                status: t.status.as_str().to_string(),
                tier: t.tier.as_str().to_string(),
                url: format!("{}/api/v1/tickets/{}", self.public_url, t.id),
            })
            .collect()
    }
}

/// The window's events. `unit` is `minutes` for a timeslices or raw SLO, else `events`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventsView {
    pub(crate) bad: f64,
    pub(crate) total: f64,
    pub(crate) unit: &'static str,
}

/// The error budget: `ratio` = 1 − objective; `total` = ratio × total events (in `unit`);
/// `remaining` = total − bad (negative once overspent); `remaining_ratio` = remaining / total
/// (1 without events).
#[derive(Serialize, utoipa::ToSchema)]
pub struct BudgetView {
    pub(crate) ratio: f64,
    pub(crate) total: f64,
    pub(crate) remaining: f64,
    pub(crate) remaining_ratio: f64,
}

/// Burn rates: (bad / total) / (1 − objective) over the last hour and 6 hours; 1 spends the
/// budget exactly over the window, 0 without events.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BurnView {
    #[serde(rename = "1h")]
    pub(crate) h1: f64,
    #[serde(rename = "6h")]
    pub(crate) h6: f64,
}

impl SlaQuery {
    fn window(&self) -> Result<Window, ApiError> {
        window_of(&self.window, &self.week, &self.month, &self.quarter)
    }
}

/// The window one of `window`, `week`, `month` or `quarter` names (default `window=30d`): more
/// than one, or a value that is not of its kind, is a 400 naming it.
fn window_of(
    window: &Option<String>,
    week: &Option<String>,
    month: &Option<String>,
    quarter: &Option<String>,
) -> Result<Window, ApiError> {
    let given: Vec<(&str, &String)> = [
        ("window", window),
        ("week", week),
        ("month", month),
        ("quarter", quarter),
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
    Ok(HttpResponse::Ok().json(list_view(&state, &q).await?))
}

/// The figures `GET /api/v1/sla` answers (the overview shows the same).
pub async fn list_view(state: &AppState, q: &SlaQuery) -> Result<SlaView, ApiError> {
    list_view_where(state, q, |_| true).await
}

/// As [`list_view`], of the groups `keep` accepts (`total` and paging count those): the `/sla`
/// page's filters.
pub async fn list_view_where(
    state: &AppState,
    q: &SlaQuery,
    keep: impl Fn(&GroupFigures) -> bool,
) -> Result<SlaView, ApiError> {
    let window = q.window()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: {limit} is not between 1 and {MAX_LIMIT}"
        )));
    }
    let offset = q.offset.unwrap_or(0);
    let attention = Attention::of(state, &state.slos.slos).await?;
    let tz = &state.slos.timezone;
    let slos = &state.slos.slos;
    // A rolling window from the ledger's running sums, up to the last minute recorded; a
    // calendar one from the stored history.
    let (all, start, end) = if let Window::Rolling { days } = window {
        let ledger = state
            .ledger
            .current(&state.store)
            .await
            .map_err(ApiError::store)?;
        let name = window.name();
        // Nothing recorded yet: an empty window up to now.
        let end = match ledger.end_ms() {
            0 => state.clock.now_ms().div_euclid(MINUTE_MS) * MINUTE_MS,
            end => end,
        };
        let all = figures_of(slos, |slo| {
            ledger
                .windows_of(&slo.id, [name.as_str(), "1h", "6h"])
                .map(|(g, t)| (g.to_string(), t))
                .collect()
        });
        let (_, start) = read_plan(end - i64::from(days) * DAY_MS, end, Grain::Hour, tz);
        (all, start, end)
    } else {
        let r = read(state, window, None).await?;
        let all = figures(
            slos,
            &r.rows,
            &locate(&r.plan, tz),
            &locate(&r.last_1h, tz),
            &locate(&r.last_6h, tz),
        );
        (all, r.read_start, r.end)
    };
    let kept: Vec<&GroupFigures> = all.iter().filter(|f| keep(f)).collect();
    Ok(SlaView {
        window: window.name(),
        start: rfc3339(start),
        end: rfc3339(end),
        timezone: tz.iana_name().unwrap_or("UTC").to_string(),
        slos: kept
            .iter()
            .skip(offset)
            .take(limit)
            .map(|f| view(f, &attention))
            .collect(),
        total: kept.len(),
        next_offset: (offset + limit < kept.len()).then_some(offset + limit),
    })
}

/// What a window's figures are read from.
struct Read {
    window: Window,
    /// The window as read: `[read_start, end)`; `period_end` is where the whole period ends.
    read_start: i64,
    end: i64,
    period_end: i64,
    coarsest: Grain,
    plan: Vec<(Grain, i64)>,
    last_1h: Vec<(Grain, i64)>,
    last_6h: Vec<(Grain, i64)>,
    /// Per `(slo, group)`, the rows of every grain the plans need.
    rows: BTreeMap<(String, String), Vec<Row>>,
}

/// A window as counted now: `[start, end)`, `end` the start of the minute in progress or the
/// period's end (`period_end`), whichever is first.
pub(super) struct Span {
    /// The start of the minute in progress: what ended before it is counted.
    pub now: i64,
    pub start: i64,
    pub end: i64,
    pub period_end: i64,
}

/// `window` as counted now, in the SLO time zone; `None` when it has not begun.
pub(super) fn span(state: &AppState, window: Window) -> Option<Span> {
    let now = state.clock.now_ms().div_euclid(MINUTE_MS) * MINUTE_MS;
    let (start, period_end) = window.bounds(now, &state.slos.timezone);
    (start < now).then_some(Span {
        now,
        start,
        end: period_end.min(now),
        period_end,
    })
}

/// Reads the history a window needs, of all SLOs, of one, or of one group of one (its key);
/// a window that has not begun is a 400.
async fn read(
    state: &AppState,
    window: Window,
    only: Option<(&str, Option<&str>)>,
) -> Result<Read, ApiError> {
    let tz = &state.slos.timezone;
    let Some(Span {
        now,
        start,
        end,
        period_end,
    }) = span(state, window)
    else {
        return Err(ApiError::bad_request(format!(
            "{}: the window has not begun",
            window.name()
        )));
    };
    let coarsest = match window {
        Window::Rolling { .. } => Grain::Hour,
        _ => Grain::Day,
    };
    let (plan, read_start) = read_plan(start, end, coarsest, tz);
    let (last_6h, _) = read_plan(now - 6 * HOUR_MS, now, Grain::Minute, tz);
    let (last_1h, _) = read_plan(now - HOUR_MS, now, Grain::Minute, tz);
    // Minutes for the burn rates and the hour in progress, hours for the rest of a rolling
    // window or the day in progress, days for a calendar window.
    let mut reads = vec![Grain::Minute, Grain::Hour];
    if coarsest == Grain::Day {
        reads.push(Grain::Day);
    }
    let (from, to) = (read_start.min(now - 6 * HOUR_MS), end.max(now));
    let rows = match only {
        Some((slo, Some(group))) => {
            state
                .store
                .slo_group_history(&reads, from, to, slo, group)
                .await
        }
        _ => {
            state
                .store
                .slo_history(&reads, from, to, only.map(|(slo, _)| slo))
                .await
        }
    }
    .map_err(ApiError::store)?;
    Ok(Read {
        window,
        read_start,
        end,
        period_end,
        coarsest,
        plan,
        last_1h,
        last_6h,
        rows,
    })
}

/// Which groups `GET /api/v1/sla/{slo}` shows, and over which window.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SloQuery {
    /// The groups whose labels have these values, as `label=value` pairs separated by commas
    /// (`provider=cdk,connection=d1`); default every group.
    pub(crate) group: Option<String>,
    /// As for `GET /api/v1/sla`.
    #[param(pattern = "^(7|28|30)d$")]
    pub(crate) window: Option<String>,
    #[param(pattern = "^[0-9]{4}-W[0-9]{2}$")]
    pub(crate) week: Option<String>,
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub(crate) month: Option<String>,
    #[param(pattern = "^[0-9]{4}-Q[1-4]$")]
    pub(crate) quarter: Option<String>,
}

/// One SLO's groups with their daily series.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SloDetailView {
    pub(crate) window: String,
    pub(crate) start: String,
    pub(crate) end: String,
    pub(crate) timezone: String,
    /// Worst budget first, as in `GET /api/v1/sla`.
    pub(crate) groups: Vec<SloGroupDetailView>,
}

/// A group's figures and its days.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SloGroupDetailView {
    #[serde(flatten)]
    pub(crate) figures: SloFiguresView,
    /// One entry a day of the window so far (24-hour days from its start for a rolling window,
    /// calendar days of the time zone otherwise).
    pub(crate) daily: Vec<DayView>,
}

/// A day of an SLO group: its events, and the budget left at its end, actual against ideal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DayView {
    /// The day's start (RFC 3339).
    pub(crate) start: String,
    pub(crate) bad: f64,
    pub(crate) total: f64,
    /// 1 − bad / total of the day; `null` without events.
    pub(crate) attainment: Option<f64>,
    /// What is left at the day's end of the budget the window has so far:
    /// 1 − Σbad up to the day / ((1 − objective) × Σtotal of the window so far); 1 without events.
    pub(crate) budget_remaining_ratio: f64,
    /// A steady burn's remaining at the day's end: 1 − days so far / days in the whole window.
    pub(crate) ideal_remaining_ratio: f64,
}

/// The days of a read window: `[start, end)` of each, up to the window's end so far, and how
/// many the whole period has.
fn days(r: &Read, tz: &jiff::tz::TimeZone) -> (Vec<(i64, i64)>, usize) {
    let mut out = Vec::new();
    let mut t = r.read_start;
    let mut whole = 0;
    while t < r.period_end {
        let next = if r.coarsest == Grain::Day {
            local_day(t, tz).1
        } else {
            t + DAY_MS
        };
        if t < r.end {
            out.push((t, next.min(r.end)));
        }
        whole += 1;
        t = next;
    }
    (out, whole.max(1))
}

/// `GET /api/v1/sla/{slo}?group=&window=`: one SLO's groups (all, or those `group` names) with
/// the figures of `GET /api/v1/sla` and a daily series for a burn-down chart: each day's
/// events and attainment, and the budget left at its end, actual against ideal.
#[utoipa::path(get, path = "/api/v1/sla/{slo}", tag = "sla",
    params(("slo" = String, Path, description = "The SLO's id, `{service}-{name}`"), SloQuery),
    responses(
        (status = 200, description = "The SLO's groups and their days", body = SloDetailView),
        (status = 400, description = "The window or the group is invalid", body = super::ErrorBody),
        (status = 404, description = "No such SLO", body = super::ErrorBody),
    ))]
pub async fn detail(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<SloQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(detail_view(&state, &path, q.into_inner()).await?))
}

/// What `GET /api/v1/sla/{slo}` answers (the `/sla/{slo}` page shows the same).
pub async fn detail_view(
    state: &AppState,
    id: &str,
    q: SloQuery,
) -> Result<SloDetailView, ApiError> {
    let Some(slo) = state.slos.slos.iter().find(|s| s.id == id) else {
        return Err(ApiError::not_found(format!("SLO {id:?}")));
    };
    let wanted = group_pairs(q.group.as_deref())?;
    let window = window_of(&q.window, &q.week, &q.month, &q.quarter)?;
    // A group named by every `by` label is read by its key alone.
    let exact = exact_group(&slo.by, &wanted);
    let r = read(state, window, Some((&slo.id, exact.as_deref()))).await?;
    let tz = &state.slos.timezone;
    let one = std::slice::from_ref(slo);
    let attention = Attention::of(state, one).await?;
    let all = figures(
        one,
        &r.rows,
        &locate(&r.plan, tz),
        &locate(&r.last_1h, tz),
        &locate(&r.last_6h, tz),
    );
    let (day_bounds, whole) = days(&r, tz);
    let located_days: Vec<_> = day_bounds
        .iter()
        .map(|(from, to)| locate(&read_plan(*from, *to, r.coarsest, tz).0, tz))
        .collect();
    let allowed = crate::slo::budget::allowed_bad(slo.objective);
    let mut groups = Vec::new();
    for f in all.iter().filter(|f| {
        let labels = group_labels(&f.group);
        wanted
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
    }) {
        let rows: &[Row] = r
            .rows
            .get(&(slo.id.clone(), f.group.clone()))
            .map_or(&[], |v| v.as_slice());
        let budget = allowed * f.budget.events.total;
        let mut spent = 0.0;
        let daily = day_bounds
            .iter()
            .zip(&located_days)
            .enumerate()
            .map(|(i, ((from, _), located))| {
                let t = sum(rows, located);
                spent += t.bad;
                DayView {
                    start: rfc3339(*from),
                    bad: t.bad,
                    total: t.total,
                    attainment: (t.total > 0.0).then(|| 1.0 - t.bad / t.total),
                    budget_remaining_ratio: if budget > 0.0 {
                        1.0 - spent / budget
                    } else {
                        1.0
                    },
                    ideal_remaining_ratio: 1.0 - (i + 1) as f64 / whole as f64,
                }
            })
            .collect();
        groups.push(SloGroupDetailView {
            figures: view(f, &attention),
            daily,
        });
    }
    if groups.is_empty() {
        return Err(ApiError::bad_request(format!(
            "group: no group of {id} has {}",
            q.group.unwrap_or_default()
        )));
    }
    Ok(SloDetailView {
        window: r.window.name(),
        start: rfc3339(r.read_start),
        end: rfc3339(r.end),
        timezone: tz.iana_name().unwrap_or("UTC").to_string(),
        groups,
    })
}

/// `group=provider=cdk,connection=d1` as label pairs (none without it); a pair that is not
/// `label=value` is a 400 naming it.
pub(crate) fn group_pairs(group: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(g) = group else {
        return Ok(Vec::new());
    };
    g.split(',')
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "group: {pair:?} is not label=value (e.g. provider=cdk)"
                    ))
                })
        })
        .collect()
}

/// The key of the one group `wanted` names, when it gives a value to each of the SLO's `by`
/// labels and to no other label.
pub(crate) fn exact_group(by: &[String], wanted: &[(String, String)]) -> Option<String> {
    let names = |l: &str| wanted.iter().filter(|(k, _)| k == l).count() == 1;
    (!by.is_empty() && wanted.len() == by.len() && by.iter().all(|l| names(l))).then(|| {
        group_key(by, |l| {
            wanted
                .iter()
                .find(|(k, _)| k == l)
                .map_or("", |(_, v)| v.as_str())
        })
    })
}

fn view(f: &GroupFigures, attention: &Attention) -> SloFiguresView {
    let b = &f.budget;
    let group = group_labels(&f.group);
    SloFiguresView {
        alerts: attention.alerts_of(&f.slo.id, &group),
        tickets: attention.tickets_of(&f.slo.id, &group),
        slo: f.slo.id.clone(),
        service: f.slo.service.clone(),
        name: f.slo.name.clone(),
        description: f.slo.description.clone(),
        group,
        objective: f.slo.objective,
        status: b.status,
        attainment: b.attainment,
        events: EventsView {
            bad: b.events.bad,
            total: b.events.total,
            // A raw SLO's event is a minute too, weighing its bad share.
            unit: match f.slo.sli {
                Sli::Timeslices { .. } | Sli::Raw { .. } => "minutes",
                Sli::Events { .. } => "events",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_group_is_exact_when_every_by_label_and_no_other_is_named() {
        let by = vec!["provider".to_string(), "connection".to_string()];
        assert_eq!(
            exact_group(&by, &pairs(&[("connection", "d1"), ("provider", "cdk")])).as_deref(),
            Some(r#"{"connection":"d1","provider":"cdk"}"#)
        );
        assert_eq!(exact_group(&by, &pairs(&[("provider", "cdk")])), None);
        assert_eq!(
            exact_group(&by, &pairs(&[("provider", "cdk"), ("stage", "x")])),
            None
        );
        assert_eq!(
            exact_group(&by, &pairs(&[("provider", "cdk"), ("provider", "xtime")])),
            None
        );
        assert_eq!(exact_group(&[], &[]), None);
    }
}
