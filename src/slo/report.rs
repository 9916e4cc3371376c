//! Every SLO group's figures over a window, worst budget first: what `GET /api/v1/sla` shows.

use std::collections::BTreeMap;

use super::budget::{Budget, Status, Tally, Window, budget, burn_rate};
use super::history::{Row, sum};
use super::spec::Slo;

/// The SLOs in use and the time zone of their calendar windows.
#[derive(Debug, Clone)]
pub struct SloCatalog {
    pub slos: Vec<Slo>,
    pub timezone: jiff::tz::TimeZone,
}

/// One SLO group's figures.
#[derive(Debug, Clone)]
pub struct GroupFigures<'a> {
    pub slo: &'a Slo,
    /// The group's name in the history (`""` for an SLO without `by`, or one without data).
    pub group: String,
    pub budget: Budget,
    /// Burn rates over the last hour and the last 6 hours.
    pub burn_1h: f64,
    pub burn_6h: f64,
}

/// The `n` calendar months up to `month` (oldest first), each with its located slots up to
/// `end` (Unix ms): complete months from their days, a month in progress also from the hours
/// and minutes of its day in progress.
pub fn month_plans(
    month: Window,
    n: usize,
    end: i64,
    tz: &jiff::tz::TimeZone,
) -> Vec<(Window, Vec<super::history::SlotPlace>)> {
    use super::history::{Grain, locate, read_plan};
    month
        .months_to(n)
        .into_iter()
        .map(|m| {
            let (s, e) = m.bounds(end, tz);
            (m, locate(&read_plan(s, e.min(end), Grain::Day, tz).0, tz))
        })
        .collect()
}

/// The groups of `slo` with history in `rows` (keyed by `(slo id, group)`) and their rows; one
/// group `""` without rows when it has none.
pub fn groups_of<'r>(
    slo: &Slo,
    rows: &'r BTreeMap<(String, String), Vec<Row>>,
) -> Vec<(&'r str, &'r [Row])> {
    let mut groups: Vec<(&str, &[Row])> = rows
        .range((slo.id.clone(), String::new())..)
        .take_while(|((id, _), _)| *id == slo.id)
        .map(|((_, g), r)| (g.as_str(), r.as_slice()))
        .collect();
    if groups.is_empty() {
        groups.push(("", &[]));
    }
    groups
}

/// Located slots to read (see [`super::history::locate`]).
pub type Located = [super::history::SlotPlace];

/// The figures of every SLO group with history in `rows` (keyed by `(slo id, group)`, rows of
/// every grain the reads need), over the `window` slots, with burn rates over `last_1h` and
/// `last_6h`. An SLO without any history gets one group, `no_data`. Worst budget first: the
/// least remaining first, `no_data` last.
pub fn figures<'a>(
    slos: &'a [Slo],
    rows: &BTreeMap<(String, String), Vec<Row>>,
    window: &Located,
    last_1h: &Located,
    last_6h: &Located,
) -> Vec<GroupFigures<'a>> {
    figures_of(slos, |slo| {
        groups_of(slo, rows)
            .into_iter()
            .map(|(group, r)| {
                let of = |located: &Located| sum(r, located);
                (group.to_string(), [of(window), of(last_1h), of(last_6h)])
            })
            .collect()
    })
}

/// The figures of every SLO group `groups` gives for an SLO, with its events over the window,
/// the last hour and the last 6 hours; an SLO without groups gets one, `no_data`. Worst budget
/// first, as [`figures`].
pub fn figures_of<'a>(
    slos: &'a [Slo],
    groups: impl Fn(&Slo) -> Vec<(String, [Tally; 3])>,
) -> Vec<GroupFigures<'a>> {
    let mut out = Vec::new();
    for slo in slos {
        let mut of_slo = groups(slo);
        if of_slo.is_empty() {
            of_slo.push((String::new(), [Tally::default(); 3]));
        }
        for (group, [events, last_1h, last_6h]) in of_slo {
            out.push(GroupFigures {
                slo,
                group,
                budget: budget(slo.objective, events, slo.min_events),
                burn_1h: burn_rate(slo.objective, last_1h),
                burn_6h: burn_rate(slo.objective, last_6h),
            });
        }
    }
    out.sort_by(|a, b| {
        let rank = |f: &GroupFigures| (f.budget.status == Status::NoData, f.budget.remaining_ratio);
        let (ra, rb) = (rank(a), rank(b));
        ra.0.cmp(&rb.0)
            .then(ra.1.total_cmp(&rb.1))
            .then_with(|| (&a.slo.id, &a.group).cmp(&(&b.slo.id, &b.group)))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::history::{Grain, HOUR_MS, locate, read_plan};

    fn slos() -> Vec<Slo> {
        let text = r#"version: prometheus/v1
service: s
slos:
  - name: a
    objective: 99
    by: [provider]
    min_events: 10
    sli:
      events:
        error_query: sum by (provider) (increase(bad[{{.window}}]))
        total_query: sum by (provider) (increase(all[{{.window}}]))
    alerting: {name: A}
  - name: quiet
    objective: 99.9
    sli:
      timeslices:
        bad_query: x > bool 1
    alerting: {name: Q}
"#;
        super::super::spec::parse_slo_file(std::path::Path::new("x.yml"), text).unwrap()
    }

    fn hour_row(start: i64, slot: usize, bad: f64, total: f64) -> Row {
        let mut slots = vec![Tally::default(); 24];
        slots[slot] = Tally { bad, total };
        Row {
            grain: Grain::Hour,
            start_ms: start,
            slots,
        }
    }

    #[test]
    fn groups_come_worst_budget_first_and_an_slo_without_history_is_no_data() {
        let slos = slos();
        let utc = jiff::tz::TimeZone::UTC;
        let day = 20_000 * 86_400_000i64;
        let now = day + 10 * HOUR_MS;
        let (plan, _) = read_plan(now - 30 * 86_400_000, now, Grain::Hour, &utc);
        let window = locate(&plan, &utc);
        let mut rows = BTreeMap::new();
        // cdk: 1 bad in 1,000 (10 % of its 1 % budget spent); tekion: 8 in 1,000 (80 %).
        rows.insert(
            ("s-a".to_string(), r#"{"provider":"cdk"}"#.to_string()),
            vec![hour_row(day, 3, 1.0, 1000.0)],
        );
        rows.insert(
            ("s-a".to_string(), r#"{"provider":"tekion"}"#.to_string()),
            vec![hour_row(day, 4, 8.0, 1000.0)],
        );
        let f = figures(&slos, &rows, &window, &[], &[]);
        let order: Vec<(&str, &str, Status)> = f
            .iter()
            .map(|g| (g.slo.id.as_str(), g.group.as_str(), g.budget.status))
            .collect();
        assert_eq!(
            order,
            [
                ("s-a", r#"{"provider":"tekion"}"#, Status::Warning),
                ("s-a", r#"{"provider":"cdk"}"#, Status::Ok),
                ("s-quiet", "", Status::NoData),
            ]
        );
        assert!((f[0].budget.remaining_ratio - 0.2).abs() < 1e-12);
        assert!((f[1].budget.remaining_events - 9.0).abs() < 1e-12);
        assert_eq!(f[2].budget.attainment, None);
    }
}
