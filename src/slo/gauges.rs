//! The SLO gauges for dashboards (`syncwatch_slo_*`), computed once a minute from the stored
//! SLI history (through the [`Ledger`]'s running sums), so a Prometheus that starts scraping
//! today sees the 30-day figures at once. Windows are read as
//! [`super::history::read_plan`] says: up to 6 h in minutes, from a day in whole hours.

use std::sync::Arc;
use std::time::Duration;

use super::budget::{budget, burn_rate};
use super::history::{Grain, HOUR_MS, MINUTE_MS, sum};
use super::ledger::{Ledger, SharedLedger};
use super::recorder::group_labels;
use super::report::{SloCatalog, month_plans};
use crate::domain::Clock;
use crate::store::{Store, StoreError};
use crate::telemetry::Metrics;
use crate::telemetry::recording::SloGaugeFigures;

/// The windows of the gauges: those of the burn-rate alerts, and the period (all kept by the
/// [`Ledger`]).
pub const WINDOWS: [&str; 8] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"];

/// An SLO group's gauge values: `(slo id, group labels, figures)`.
pub type GroupGauges = (String, Vec<(String, String)>, SloGaugeFigures);

/// Every SLO group's figures over [`WINDOWS`] up to the minute holding `now_ms`, as gauge
/// values: `(slo id, group labels, figures)`, from the stored history.
pub async fn compute(
    store: &Store,
    catalog: &SloCatalog,
    now_ms: i64,
) -> Result<Vec<GroupGauges>, StoreError> {
    let ledger = Ledger::load(store, now_ms.div_euclid(MINUTE_MS) * MINUTE_MS).await?;
    Ok(figures(&ledger, catalog))
}

/// Every SLO group's figures over [`WINDOWS`] up to the ledger's end.
pub fn figures(ledger: &Ledger, catalog: &SloCatalog) -> Vec<GroupGauges> {
    let mut out = Vec::new();
    for slo in &catalog.slos {
        for (group, events) in ledger.windows_of(&slo.id, WINDOWS) {
            let windows = WINDOWS
                .iter()
                .zip(events)
                .map(|(name, events)| {
                    let b = budget(slo.objective, events, slo.min_events);
                    (
                        name.to_string(),
                        b.attainment,
                        burn_rate(slo.objective, events),
                        b.remaining_ratio,
                    )
                })
                .collect();
            out.push((
                slo.id.clone(),
                group_labels(group).into_iter().collect(),
                SloGaugeFigures {
                    objective: slo.objective,
                    windows,
                },
            ));
        }
    }
    out
}

/// How many calendar months [`compute_months`] covers, the current one included.
pub const MONTHS: usize = 12;

/// An SLO group's months: `(slo id, group labels, [(month, met)])`.
pub type GroupMonths = (String, Vec<(String, String)>, Vec<(String, Option<bool>)>);

/// Every SLO group's last [`MONTHS`] calendar months up to the one holding `now_ms` (so far),
/// each met or not ([`super::budget::Budget::met`]), as `GET /api/v1/sla/report` counts them.
pub async fn compute_months(
    store: &Store,
    catalog: &SloCatalog,
    now_ms: i64,
) -> Result<Vec<GroupMonths>, StoreError> {
    let tz = &catalog.timezone;
    let now = now_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
    let plans = month_plans(super::budget::Window::month_of(now, tz), MONTHS, now, tz);
    let from = plans.first().map_or(now, |(m, _)| m.bounds(now, tz).0);
    let rows = store
        .slo_history(&[Grain::Minute, Grain::Hour, Grain::Day], from, now, None)
        .await?;
    let mut out = Vec::new();
    for ((id, group), r) in &rows {
        let Some(slo) = catalog.slos.iter().find(|s| &s.id == id) else {
            continue;
        };
        let months = plans
            .iter()
            .map(|(m, located)| {
                let b = budget(slo.objective, sum(r, located), slo.min_events);
                (m.name(), b.met())
            })
            .collect();
        out.push((
            id.clone(),
            group_labels(group).into_iter().collect(),
            months,
        ));
    }
    Ok(out)
}

/// Sets the gauges now and then a few seconds after every minute (once the minute is recorded);
/// the monthly ones now and once an hour.
pub fn spawn(
    store: Store,
    catalog: Arc<SloCatalog>,
    ledger: Arc<SharedLedger>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
) {
    if catalog.slos.is_empty() {
        return;
    }
    actix::spawn(async move {
        // The hour the monthly gauges were computed in, and how many groups they had: a new
        // group (its first minute recorded) gets its months at once.
        let mut months_done: Option<(i64, usize)> = None;
        loop {
            let current = ledger.current(&store).await.map(|l| figures(&l, &catalog));
            let groups = match current {
                Ok(all) => {
                    for (slo, labels, figures) in &all {
                        metrics.slo_figures(slo, labels, figures);
                    }
                    all.len()
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot compute the SLO gauges");
                    0
                }
            };
            let hour = clock.now_ms().div_euclid(HOUR_MS);
            if months_done.is_none_or(|(h, n)| h != hour || n < groups) {
                match compute_months(&store, &catalog, clock.now_ms()).await {
                    Ok(all) => {
                        for (slo, labels, months) in &all {
                            metrics.slo_months(slo, labels, months);
                        }
                        months_done = Some((hour, all.len()));
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot compute the monthly SLO gauges"),
                }
            }
            let now = clock.now_ms();
            let next = (now.div_euclid(MINUTE_MS) + 1) * MINUTE_MS + 5_000;
            tokio::time::sleep(Duration::from_millis((next - now).max(1_000) as u64)).await;
        }
    });
}
