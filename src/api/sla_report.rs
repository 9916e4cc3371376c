//! `GET /api/v1/sla/report?month=&format=`: the monthly SLA report for managers, one row per
//! SLO group (so per provider, and per dealer connection for an SLO split `by: [provider,
//! connection]`), with its tickets and the last 12 months met or not, as JSON or CSV.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::sla::{Span, span};
use super::{ApiError, AppState};
use crate::domain::clock::rfc3339;
use crate::domain::ticket_stats::{TicketTally, summarise};
use crate::slo::budget::{Budget, Status, Window, budget};
use crate::slo::history::{Grain, sum};
use crate::slo::recorder::group_labels;
use crate::slo::report::{groups_of, month_plans};
use crate::slo::spec::{Sli, Slo};
use crate::store::StatsGroup;

/// How many months the report's history covers, the report's month included.
const HISTORY_MONTHS: usize = 12;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// A calendar month in the SLO time zone, e.g. `2026-11` (default: the month before the
    /// current one).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    month: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// The monthly report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportView {
    /// The month, e.g. `2026-11`.
    pub(crate) month: String,
    /// The month as read (RFC 3339); a month in progress ends now, and `complete` is false.
    pub(crate) start: String,
    pub(crate) end: String,
    pub(crate) complete: bool,
    pub(crate) timezone: String,
    /// The months of each row's `history`, oldest first, ending with `month`.
    pub(crate) months: Vec<String>,
    /// One per SLO group, by SLO then group.
    pub(crate) rows: Vec<ReportRow>,
}

/// One SLO group's month.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    pub(crate) slo: String,
    pub(crate) service: String,
    pub(crate) name: String,
    /// The group's labels (the SLO's `by`: `provider`, `connection`, …).
    pub(crate) group: BTreeMap<String, String>,
    pub(crate) objective: f64,
    pub(crate) status: Status,
    /// 1 − bad / total over the month; `null` without events.
    pub(crate) attainment: Option<f64>,
    /// Whether the objective was met: `null` with too few events to judge (`no_data`).
    pub(crate) met: Option<bool>,
    pub(crate) bad: f64,
    pub(crate) total: f64,
    /// `events`, or `minutes` for a timeslices or raw SLO.
    pub(crate) unit: &'static str,
    /// The share of the month's error budget spent: bad / ((1 − objective) × total); above 1
    /// once overspent, 0 without events.
    pub(crate) budget_consumed_ratio: f64,
    /// Tickets created in the month for this group: of its connection (`provider/connection`)
    /// when it has one, else of its provider, else of the SLO's own alerts (`tickets_scope`
    /// says which).
    pub(crate) tickets: usize,
    /// `connection`, `provider` or `slo_alerts`.
    pub(crate) tickets_scope: &'static str,
    /// Mean time to resolve of those tickets that were resolved, in seconds (creation to last
    /// resolution, as `GET /api/v1/tickets/stats` counts it); `null` without one.
    pub(crate) mttr_seconds: Option<f64>,
    /// The last 12 months, oldest first, as `months` names them.
    pub(crate) history: Vec<MonthView>,
}

/// Whether a month met its objective.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MonthView {
    pub(crate) month: String,
    pub(crate) attainment: Option<f64>,
    pub(crate) met: Option<bool>,
}

/// The month before the one holding `now_ms`.
fn previous_month(now_ms: i64, tz: &jiff::tz::TimeZone) -> Window {
    Window::month_of(now_ms, tz).months_to(2)[0]
}

/// Ticket tallies of a month, by connection, provider and alertname.
struct MonthTickets {
    by_connection: BTreeMap<String, TicketTally>,
    by_provider: BTreeMap<String, TicketTally>,
    by_alertname: BTreeMap<String, TicketTally>,
}

impl MonthTickets {
    async fn read(state: &AppState, from: i64, to: i64) -> Result<Self, ApiError> {
        let tallies = |group| async move {
            state
                .store
                .ticket_tallies(from, to, Some(group))
                .await
                .map(|t| t.into_iter().collect::<BTreeMap<_, _>>())
                .map_err(ApiError::store)
        };
        Ok(Self {
            by_connection: tallies(StatsGroup::Connection).await?,
            by_provider: tallies(StatsGroup::Provider).await?,
            by_alertname: tallies(StatsGroup::Alertname).await?,
        })
    }

    /// The tickets of a group, and which they are.
    fn of(&self, slo: &Slo, group: &BTreeMap<String, String>) -> (TicketTally, &'static str) {
        let one =
            |m: &BTreeMap<String, TicketTally>, k: &str| m.get(k).cloned().unwrap_or_default();
        match (group.get("provider"), group.get("connection")) {
            (Some(p), Some(c)) => (one(&self.by_connection, &format!("{p}/{c}")), "connection"),
            (Some(p), None) => (one(&self.by_provider, p), "provider"),
            _ => {
                let mut t = one(&self.by_alertname, &slo.alerting.name);
                t.add(one(
                    &self.by_alertname,
                    &format!("{}NoData", slo.alerting.name),
                ));
                (t, "slo_alerts")
            }
        }
    }
}

/// `GET /api/v1/sla/report?month=2026-11&format=json|csv`: every SLO group's month
/// (attainment, met or not, budget consumed, tickets and MTTR) and whether each of the last 12
/// months met the objective. The figures are those of `GET /api/v1/sla?month=`; a month is met
/// when its status is `ok` or `warning`, not met when `breached`, and `null` when `no_data`.
#[utoipa::path(get, path = "/api/v1/sla/report", tag = "sla", params(ReportQuery),
    responses(
        (status = 200, description = "The report (JSON, or CSV with `format=csv`: one line per row, a column per month of the history)", body = ReportView),
        (status = 400, description = "The month or the format is invalid, or the month has not begun", body = super::ErrorBody),
    ))]
pub async fn report(
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format: {other:?} is not json or csv"
            )));
        }
    };
    let view = report_view(&state, q.month.as_deref(), None).await?;
    if csv {
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "content-disposition",
                format!("attachment; filename=\"sla-{}.csv\"", view.month),
            ))
            .body(to_csv(&view).map_err(|e| ApiError::internal(format!("CSV: {e}")))?))
    } else {
        Ok(HttpResponse::Ok().json(view))
    }
}

/// The report of `month` (default the month before this one), of every SLO or of one: what
/// `GET /api/v1/sla/report` answers (the `/sla/{slo}` page shows its 12 months).
pub async fn report_view(
    state: &AppState,
    month: Option<&str>,
    only: Option<&str>,
) -> Result<ReportView, ApiError> {
    let tz = &state.slos.timezone;
    let month = match month {
        None => previous_month(state.clock.now_ms(), tz),
        Some(m) => match Window::parse(m) {
            Ok(w @ Window::Month { .. }) => w,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "month: {m:?} is not a month such as 2026-11"
                )));
            }
        },
    };
    let Some(Span {
        start,
        end,
        period_end,
        ..
    }) = span(state, month)
    else {
        return Err(ApiError::bad_request(format!(
            "month: {} has not begun",
            month.name()
        )));
    };
    let months = month_plans(month, HISTORY_MONTHS, end, tz);
    let first = months[0].0.bounds(end, tz).0;
    let history = state
        .store
        .slo_history(
            &[Grain::Minute, Grain::Hour, Grain::Day],
            first.min(start),
            end,
            only,
        )
        .await
        .map_err(ApiError::store)?;
    let tickets = MonthTickets::read(state, start, end).await?;
    let mut rows = Vec::new();
    for slo in state
        .slos
        .slos
        .iter()
        .filter(|s| only.is_none_or(|id| s.id == id))
    {
        for (group, r) in groups_of(slo, &history) {
            let per_month = budgets(slo, r, &months);
            let Some((_, b)) = per_month.last() else {
                continue;
            };
            let labels = group_labels(group);
            let (t, scope) = tickets.of(slo, &labels);
            let stats = summarise(t);
            rows.push(ReportRow {
                slo: slo.id.clone(),
                service: slo.service.clone(),
                name: slo.name.clone(),
                objective: slo.objective,
                status: b.status,
                attainment: b.attainment,
                met: b.met(),
                bad: b.events.bad,
                total: b.events.total,
                unit: match slo.sli {
                    Sli::Timeslices { .. } | Sli::Raw { .. } => "minutes",
                    Sli::Events { .. } => "events",
                },
                budget_consumed_ratio: 1.0 - b.remaining_ratio,
                tickets: stats.tickets,
                tickets_scope: scope,
                mttr_seconds: stats.time_to_resolve.mean_seconds,
                history: per_month
                    .iter()
                    .map(|(name, b)| MonthView {
                        month: name.clone(),
                        attainment: b.attainment,
                        met: b.met(),
                    })
                    .collect(),
                group: labels,
            });
        }
    }
    Ok(ReportView {
        month: month.name(),
        start: rfc3339(start),
        end: rfc3339(end),
        complete: end == period_end,
        timezone: tz.iana_name().unwrap_or("UTC").to_string(),
        months: months.iter().map(|(m, _)| m.name()).collect(),
        rows,
    })
}

/// Each month's budget of a group's rows, with the month's name.
fn budgets(
    slo: &Slo,
    rows: &[crate::slo::history::Row],
    months: &[(Window, Vec<crate::slo::history::SlotPlace>)],
) -> Vec<(String, Budget)> {
    months
        .iter()
        .map(|(m, located)| {
            (
                m.name(),
                budget(slo.objective, sum(rows, located), slo.min_events),
            )
        })
        .collect()
}

/// The last 12 months of one group of SLO `slo` (its key; `""` for an SLO without `by`), this
/// month included and counted up to now, oldest first: met or not as the report has them. Reads
/// only that group's rows.
pub async fn months_of_group(
    state: &AppState,
    slo: &Slo,
    group: &str,
) -> Result<Vec<MonthView>, ApiError> {
    let tz = &state.slos.timezone;
    let month = Window::month_of(state.clock.now_ms(), tz);
    let Some(Span { start, end, .. }) = span(state, month) else {
        return Ok(Vec::new());
    };
    let months = month_plans(month, HISTORY_MONTHS, end, tz);
    let first = months[0].0.bounds(end, tz).0;
    let grains = [Grain::Minute, Grain::Hour, Grain::Day];
    let history = if group.is_empty() {
        state
            .store
            .slo_history(&grains, first.min(start), end, Some(&slo.id))
            .await
    } else {
        state
            .store
            .slo_group_history(&grains, first.min(start), end, &slo.id, group)
            .await
    }
    .map_err(ApiError::store)?;
    let rows = history
        .get(&(slo.id.clone(), group.to_string()))
        .map_or(&[][..], |r| r.as_slice());
    Ok(budgets(slo, rows, &months)
        .into_iter()
        .map(|(month, b)| MonthView {
            month,
            attainment: b.attainment,
            met: b.met(),
        })
        .collect())
}

/// The report as CSV (RFC 4180): a header line, then one line per row; the group's labels as
/// `provider` and `connection` columns and all of them as `k=v;k=v`; numbers as JSON writes
/// them, empty for `null`; one column per month of the history (`met`, `missed`, `no_data`).
pub fn to_csv(view: &ReportView) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "month",
        "slo",
        "service",
        "name",
        "provider",
        "connection",
        "group",
        "objective",
        "status",
        "attainment",
        "met",
        "bad",
        "total",
        "unit",
        "budget_consumed_ratio",
        "tickets",
        "tickets_scope",
        "mttr_seconds",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(view.months.iter().cloned());
    w.write_record(&header)?;
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let verdict = |m: Option<bool>| match m {
        Some(true) => "met",
        Some(false) => "missed",
        None => "no_data",
    };
    for r in &view.rows {
        let mut record = vec![
            view.month.clone(),
            r.slo.clone(),
            r.service.clone(),
            r.name.clone(),
            r.group.get("provider").cloned().unwrap_or_default(),
            r.group.get("connection").cloned().unwrap_or_default(),
            r.group
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";"),
            r.objective.to_string(),
            r.status.as_str().to_string(),
            number(r.attainment),
            r.met.map(|m| m.to_string()).unwrap_or_default(),
            r.bad.to_string(),
            r.total.to_string(),
            r.unit.to_string(),
            r.budget_consumed_ratio.to_string(),
            r.tickets.to_string(),
            r.tickets_scope.to_string(),
            number(r.mttr_seconds),
        ];
        record.extend(r.history.iter().map(|m| verdict(m.met).to_string()));
        w.write_record(&record)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_month_is_the_one_before_now_in_the_time_zone() {
        let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
        // 2026-12-01T03:00Z is still November 30 in New York: the month before is October.
        let at = jiff::Timestamp::from_second(1_796_094_000).unwrap();
        assert_eq!(at.to_string(), "2026-12-01T03:00:00Z");
        let w = previous_month(at.as_millisecond(), &tz);
        assert_eq!(w.name(), "2026-10");
        assert_eq!(
            previous_month(at.as_millisecond(), &jiff::tz::TimeZone::UTC).name(),
            "2026-11"
        );
    }

    #[test]
    fn the_csv_quotes_what_needs_it_and_leaves_null_empty() {
        let view = ReportView {
            month: "2026-11".into(),
            start: String::new(),
            end: String::new(),
            complete: true,
            timezone: "UTC".into(),
            months: vec!["2026-10".into(), "2026-11".into()],
            rows: vec![ReportRow {
                slo: "s-x".into(),
                service: "s".into(),
                name: "x".into(),
                group: [("provider".to_string(), "a,b".to_string())].into(),
                objective: 0.999,
                status: Status::NoData,
                attainment: None,
                met: None,
                bad: 0.0,
                total: 0.0,
                unit: "events",
                budget_consumed_ratio: 0.0,
                tickets: 2,
                tickets_scope: "provider",
                mttr_seconds: Some(90.5),
                history: vec![
                    MonthView {
                        month: "2026-10".into(),
                        attainment: Some(0.5),
                        met: Some(false),
                    },
                    MonthView {
                        month: "2026-11".into(),
                        attainment: None,
                        met: None,
                    },
                ],
            }],
        };
        let text = to_csv(&view).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with("mttr_seconds,2026-10,2026-11"),
            "{}",
            lines[0]
        );
        assert_eq!(
            lines[1],
            "2026-11,s-x,s,x,\"a,b\",,\"provider=a,b\",0.999,no_data,,,0,0,events,0,2,provider,90.5,missed,no_data"
        );
    }
}
