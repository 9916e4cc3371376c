//! Error budgets: what an SLO's good and bad events over a window mean for a manager
//! (attainment, the budget and what is left of it, burn rate, a status), and the windows
//! themselves (rolling days, calendar week, month and quarter in an IANA time zone).
//!
//! Definitions (Google SRE workbook, "Implementing SLOs" and "Alerting on SLOs"):
//! - attainment (the SLI) = 1 − Σbad / Σtotal over the window: a ratio of sums, never an average
//!   of ratios;
//! - error budget = (1 − objective) × Σtotal events (for a timeslices SLO the events are minutes);
//!   remaining = 1 − Σbad / budget, below 0 once overspent;
//! - burn rate = (Σbad / Σtotal) / (1 − objective): 1 spends the budget exactly over the window.
//!
//! Never NaN or ±Inf: without events there is no attainment (`None`) and no burn (0).

use serde::Serialize;

/// Bad and total events of an SLO over some time (fractional where a query gives rates).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub bad: f64,
    pub total: f64,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.bad += other.bad;
        self.total += other.total;
    }
}

/// An SLO's state over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within the objective with more than [`WARNING_REMAINING`] of the budget left.
    Ok,
    /// Within the objective, with at most [`WARNING_REMAINING`] of the budget left.
    Warning,
    /// Below the objective: the budget is spent.
    Breached,
    /// Too few events to judge (fewer than the SLO's `min_events`, and not already breached).
    NoData,
}

impl Status {
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Breached => "breached",
            Status::NoData => "no_data",
        }
    }
}

/// At or below this share of the budget left, the status is `warning`.
pub const WARNING_REMAINING: f64 = 0.25;

/// The figures of one SLO over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub objective: f64,
    pub events: Tally,
    /// 1 − bad / total; `None` without events.
    pub attainment: Option<f64>,
    /// The budget in events: (1 − objective) × total.
    pub budget_events: f64,
    /// What is left of it in events (negative once overspent).
    pub remaining_events: f64,
    /// What is left as a share of the budget: 1 without events, negative once overspent.
    pub remaining_ratio: f64,
    pub status: Status,
}

impl Budget {
    /// Whether the objective was met: `Some(true)` for `ok` or `warning`, `Some(false)` for
    /// `breached`, `None` with too few events to judge (`no_data`).
    pub fn met(&self) -> Option<bool> {
        match self.status {
            Status::Ok | Status::Warning => Some(true),
            Status::Breached => Some(false),
            Status::NoData => None,
        }
    }
}

/// The share of events an objective allows to be bad, 1 − objective, to 12 decimals (so 99.9 %
/// allows 0.001, not 0.0010000000000000009).
pub fn allowed_bad(objective: f64) -> f64 {
    ((1.0 - objective) * 1e12).round() / 1e12
}

/// The figures of `events` against `objective` (a ratio in (0, 1)); a window with fewer than
/// `min_events` events is `no_data` unless its bad events alone would spend the budget of
/// `min_events` events.
pub fn budget(objective: f64, events: Tally, min_events: f64) -> Budget {
    let allowed = allowed_bad(objective);
    let budget_events = allowed * events.total;
    let remaining_ratio = if budget_events > 0.0 {
        1.0 - events.bad / budget_events
    } else {
        1.0
    };
    let status = if events.total < min_events.max(f64::MIN_POSITIVE) {
        if events.total > 0.0 && events.bad > allowed * min_events {
            Status::Breached
        } else {
            Status::NoData
        }
    } else if remaining_ratio < 0.0 {
        Status::Breached
    } else if remaining_ratio <= WARNING_REMAINING {
        Status::Warning
    } else {
        Status::Ok
    };
    Budget {
        objective,
        events,
        attainment: (events.total > 0.0).then(|| 1.0 - events.bad / events.total),
        budget_events,
        remaining_events: budget_events - events.bad,
        remaining_ratio,
        status,
    }
}

/// How fast `events` spend the budget of `objective`: 1 spends it exactly over any window;
/// 0 without events.
pub fn burn_rate(objective: f64, events: Tally) -> f64 {
    if events.total > 0.0 {
        (events.bad / events.total) / allowed_bad(objective)
    } else {
        0.0
    }
}

/// A window the figures are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `days` days up to now.
    Rolling { days: u32 },
    /// An ISO week (Monday to Monday) in the SLO time zone.
    Week { year: i16, week: i8 },
    /// A calendar month in the SLO time zone.
    Month { year: i16, month: i8 },
    /// A calendar quarter (1 to 4) in the SLO time zone.
    Quarter { year: i16, quarter: i8 },
}

/// The rolling windows the API offers (`window=`).
pub const ROLLING_DAYS: [u32; 3] = [7, 28, 30];

impl Window {
    /// Parses `7d`, `28d`, `30d`, `2026-W48`, `2026-11` or `2026-Q4`; the error names what is
    /// accepted.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?}: expected 7d, 28d or 30d, a week (2026-W48), a month (2026-11) or a quarter (2026-Q4)"
            )
        };
        if let Some(days) = s.strip_suffix('d') {
            let days: u32 = days.parse().map_err(|_| bad())?;
            return ROLLING_DAYS
                .contains(&days)
                .then_some(Window::Rolling { days })
                .ok_or_else(bad);
        }
        let (year, rest) = s.split_once('-').ok_or_else(bad)?;
        let year: i16 = year
            .parse()
            .ok()
            .filter(|y| (1970..=9998).contains(y) && year.len() == 4)
            .ok_or_else(bad)?;
        let number = |r: &str, max: i8| {
            r.parse::<i8>()
                .ok()
                .filter(|n| (1..=max).contains(n) && r.len() <= 2)
                .ok_or_else(bad)
        };
        if let Some(w) = rest.strip_prefix('W') {
            let week = number(w, 53)?;
            jiff::civil::ISOWeekDate::new(year, week, jiff::civil::Weekday::Monday)
                .map_err(|_| bad())?;
            Ok(Window::Week { year, week })
        } else if let Some(q) = rest.strip_prefix('Q') {
            Ok(Window::Quarter {
                year,
                quarter: number(q, 4)?,
            })
        } else {
            Ok(Window::Month {
                year,
                month: number(rest, 12)?,
            })
        }
    }

    /// `[start, end)` in Unix ms. A rolling window ends at `now_ms`; a calendar one spans its
    /// whole period (the caller stops counting at now).
    pub fn bounds(&self, now_ms: i64, tz: &jiff::tz::TimeZone) -> (i64, i64) {
        use jiff::civil::{Date, ISOWeekDate, Weekday};
        let at = |d: Date| -> i64 {
            d.to_zoned(tz.clone())
                .map(|z| z.timestamp().as_millisecond())
                .unwrap_or(now_ms)
        };
        let month_start =
            |year: i16, month: i8| Date::new(year, month, 1).map(at).unwrap_or(now_ms);
        let next_month = |year: i16, month: i8| {
            if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            }
        };
        match *self {
            Window::Rolling { days } => (now_ms - i64::from(days) * 86_400_000, now_ms),
            Window::Week { year, week } => {
                let start = ISOWeekDate::new(year, week, Weekday::Monday)
                    .map(|w| w.date())
                    .unwrap_or_default();
                let end = start
                    .checked_add(jiff::Span::new().days(7))
                    .unwrap_or(start);
                (at(start), at(end))
            }
            Window::Month { year, month } => {
                let (ny, nm) = next_month(year, month);
                (month_start(year, month), month_start(ny, nm))
            }
            Window::Quarter { year, quarter } => {
                let first = (quarter - 1) * 3 + 1;
                let (ny, nm) = if quarter == 4 {
                    (year + 1, 1)
                } else {
                    (year, first + 3)
                };
                (month_start(year, first), month_start(ny, nm))
            }
        }
    }

    /// The window's name as the API spells it (`30d`, `2026-W48`, `2026-11`, `2026-Q4`).
    pub fn name(&self) -> String {
        match self {
            Window::Rolling { days } => format!("{days}d"),
            Window::Week { year, week } => format!("{year}-W{week:02}"),
            Window::Month { year, month } => format!("{year}-{month:02}"),
            Window::Quarter { year, quarter } => format!("{year}-Q{quarter}"),
        }
    }

    /// The `n` calendar months up to this one (a month window), oldest first; `[]` for
    /// another window.
    pub fn months_to(&self, n: usize) -> Vec<Window> {
        let Window::Month { year, month } = *self else {
            return Vec::new();
        };
        let index = i32::from(year) * 12 + i32::from(month) - 1;
        (0..n as i32)
            .rev()
            .map(|back| index - back)
            .filter(|i| *i >= 1970 * 12)
            .map(|i| Window::Month {
                year: (i / 12) as i16,
                month: (i % 12 + 1) as i8,
            })
            .collect()
    }

    /// The calendar month holding `at_ms` in `tz`.
    pub fn month_of(at_ms: i64, tz: &jiff::tz::TimeZone) -> Window {
        let d = jiff::Timestamp::from_millisecond(at_ms)
            .unwrap_or_default()
            .to_zoned(tz.clone())
            .date();
        Window::Month {
            year: d.year(),
            month: d.month(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: f64 = 0.999;

    fn tally(bad: f64, total: f64) -> Tally {
        Tally { bad, total }
    }

    #[test]
    fn twelve_months_end_with_the_month_and_cross_the_year() {
        let names: Vec<String> = Window::Month {
            year: 2026,
            month: 2,
        }
        .months_to(12)
        .iter()
        .map(Window::name)
        .collect();
        assert_eq!(names.len(), 12);
        assert_eq!(names[0], "2025-03");
        assert_eq!(names[10], "2026-01");
        assert_eq!(names[11], "2026-02");
        assert!(Window::Rolling { days: 30 }.months_to(12).is_empty());
    }

    #[test]
    fn figures_of_a_month_computed_by_hand() {
        // 43,200 minutes, 30 of them bad, against 99.9 %: the budget is 43.2 minutes.
        let b = budget(O, tally(30.0, 43_200.0), 1000.0);
        assert!((b.budget_events - 43.2).abs() < 1e-9);
        assert!((b.remaining_events - 13.2).abs() < 1e-9);
        assert!((b.remaining_ratio - (1.0 - 30.0 / 43.2)).abs() < 1e-12);
        assert!((b.attainment.unwrap() - (1.0 - 30.0 / 43_200.0)).abs() < 1e-15);
        assert_eq!(b.status, Status::Ok);
        // 40 bad: 7.4 % left, a warning; 50 bad: overspent.
        assert_eq!(
            budget(O, tally(40.0, 43_200.0), 1000.0).status,
            Status::Warning
        );
        let over = budget(O, tally(50.0, 43_200.0), 1000.0);
        assert_eq!(over.status, Status::Breached);
        assert!(over.remaining_ratio < 0.0 && over.remaining_events < 0.0);
    }

    #[test]
    fn no_events_or_too_few_are_no_data_never_nan() {
        let none = budget(O, Tally::default(), 1000.0);
        assert_eq!(none.status, Status::NoData);
        assert_eq!((none.attainment, none.remaining_ratio), (None, 1.0));
        assert_eq!(burn_rate(O, Tally::default()), 0.0);
        // 10 events with 0 bad cannot be judged at 99.9 % (one bad would be 10 % of them)...
        assert_eq!(budget(O, tally(0.0, 10.0), 1000.0).status, Status::NoData);
        // ...but 2 bad already spend the budget of 1,000 events.
        assert_eq!(budget(O, tally(2.0, 10.0), 1000.0).status, Status::Breached);
        assert!(
            budget(O, tally(2.0, 10.0), 1000.0)
                .remaining_ratio
                .is_finite()
        );
    }

    #[test]
    fn burn_rate_one_spends_the_budget_over_the_window() {
        assert_eq!(burn_rate(O, tally(1.0, 1000.0)), 1.0);
        assert_eq!(
            burn_rate(O, tally(3.0, 8.0)),
            375.0,
            "not 374.99999999999966"
        );
        assert!((burn_rate(O, tally(144.0, 10_000.0)) - 14.4).abs() < 1e-9);
    }

    #[test]
    fn windows_parse_and_name_themselves() {
        for s in ["7d", "28d", "30d", "2026-W48", "2026-11", "2026-Q4"] {
            assert_eq!(Window::parse(s).unwrap().name(), s);
        }
        for s in [
            "1d", "2026-13", "2026-Q5", "2026-W54", "26-11", "2026-1-1", "x", "",
        ] {
            assert!(Window::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn calendar_windows_follow_the_time_zone() {
        let utc = jiff::tz::TimeZone::UTC;
        let ms = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let nov = Window::parse("2026-11").unwrap();
        assert_eq!(
            nov.bounds(0, &utc),
            (ms("2026-11-01T00:00:00Z"), ms("2026-12-01T00:00:00Z"))
        );
        // New York: EDT (UTC-4) on 1 November 2026 at midnight, EST (UTC-5) on 1 December.
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            nov.bounds(0, &ny),
            (ms("2026-11-01T04:00:00Z"), ms("2026-12-01T05:00:00Z"))
        );
        let q4 = Window::parse("2026-Q4").unwrap();
        assert_eq!(
            q4.bounds(0, &utc),
            (ms("2026-10-01T00:00:00Z"), ms("2027-01-01T00:00:00Z"))
        );
        // ISO week 48 of 2026: Monday 23 November.
        let w48 = Window::parse("2026-W48").unwrap();
        assert_eq!(
            w48.bounds(0, &utc),
            (ms("2026-11-23T00:00:00Z"), ms("2026-11-30T00:00:00Z"))
        );
        let now = ms("2026-12-01T12:00:00Z");
        assert_eq!(
            Window::parse("30d").unwrap().bounds(now, &utc),
            (now - 30 * 86_400_000, now)
        );
        assert_eq!(Window::month_of(now, &ny).name(), "2026-12");
        assert_eq!(
            Window::month_of(ms("2026-12-01T03:00:00Z"), &ny).name(),
            "2026-11"
        );
    }
}
