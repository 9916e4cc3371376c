//! Alertmanager's `time_intervals`: named sets of periods (times of day, weekdays, days of the
//! month, months, years) that routes mute notifications in (`mute_time_intervals`) or send them
//! only in (`active_time_intervals`). Locations: `UTC` (default) and `Local`.

use chrono::{DateTime, Datelike, Local, TimeZone, Timelike, Utc};

/// One period: every present field must contain the instant; an empty field is "any".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeInterval {
    /// Minutes of the day, `[start, end)`.
    pub times: Vec<(u32, u32)>,
    /// 0 = Sunday … 6 = Saturday, inclusive ranges.
    pub weekdays: Vec<(u32, u32)>,
    /// 1…31, or negative from the month's end (-1 = last day), inclusive ranges.
    pub days_of_month: Vec<(i32, i32)>,
    /// 1…12, inclusive ranges.
    pub months: Vec<(u32, u32)>,
    pub years: Vec<(i32, i32)>,
    pub local: bool,
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let first_next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1).unwrap_or_default();
    first_next.pred_opt().map_or(31, |d| d.day())
}

impl TimeInterval {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        if self.local {
            self.contains_in(&Local.from_utc_datetime(&t.naive_utc()))
        } else {
            self.contains_in(&t)
        }
    }

    fn contains_in<Tz: TimeZone>(&self, t: &DateTime<Tz>) -> bool {
        let minute = t.hour() * 60 + t.minute();
        let times =
            self.times.is_empty() || self.times.iter().any(|(s, e)| (*s..*e).contains(&minute));
        let wd = t.weekday().num_days_from_sunday();
        let weekdays =
            self.weekdays.is_empty() || self.weekdays.iter().any(|(s, e)| (*s..=*e).contains(&wd));
        let dim = days_in_month(t.year(), t.month()) as i32;
        let resolve = |d: i32| if d < 0 { dim + 1 + d } else { d };
        let day = t.day() as i32;
        let days = self.days_of_month.is_empty()
            || self
                .days_of_month
                .iter()
                .any(|(s, e)| (resolve(*s)..=resolve(*e)).contains(&day));
        let months = self.months.is_empty()
            || self
                .months
                .iter()
                .any(|(s, e)| (*s..=*e).contains(&t.month()));
        let years = self.years.is_empty()
            || self
                .years
                .iter()
                .any(|(s, e)| (*s..=*e).contains(&t.year()));
        times && weekdays && days && months && years
    }
}

/// Whether any of the intervals contains `t`.
pub fn any_contains(intervals: &[TimeInterval], t: DateTime<Utc>) -> bool {
    intervals.iter().any(|i| i.contains(t))
}

/// `HH:MM` → minutes; `24:00` is the end of the day.
pub fn parse_clock(s: &str) -> Result<u32, String> {
    let (h, m) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not HH:MM"))?;
    let (h, m): (u32, u32) = (
        h.parse().map_err(|_| format!("{s:?} is not HH:MM"))?,
        m.parse().map_err(|_| format!("{s:?} is not HH:MM"))?,
    );
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(format!("{s:?} is not a time of day"));
    }
    Ok(h * 60 + m)
}

/// `a` or `a:b`, each side parsed by `one`; `a ≤ b` is required when `ordered`.
fn range<T: Copy + PartialOrd>(
    s: &str,
    one: &dyn Fn(&str) -> Result<T, String>,
    ordered: bool,
) -> Result<(T, T), String> {
    let (a, b) = match s.split_once(':') {
        Some((a, b)) => (one(a.trim())?, one(b.trim())?),
        None => {
            let v = one(s.trim())?;
            (v, v)
        }
    };
    if ordered && a > b {
        return Err(format!("range {s:?} ends before it starts"));
    }
    Ok((a, b))
}

pub fn parse_weekdays(s: &str) -> Result<(u32, u32), String> {
    range(
        s,
        &|d| {
            WEEKDAYS
                .iter()
                .position(|w| *w == d.to_ascii_lowercase())
                .map(|i| i as u32)
                .ok_or_else(|| format!("{d:?} is not a weekday"))
        },
        true,
    )
}

pub fn parse_months(s: &str) -> Result<(u32, u32), String> {
    range(
        s,
        &|m| {
            let lower = m.to_ascii_lowercase();
            MONTHS
                .iter()
                .position(|x| *x == lower)
                .map(|i| i as u32 + 1)
                .or_else(|| m.parse::<u32>().ok().filter(|n| (1..=12).contains(n)))
                .ok_or_else(|| format!("{m:?} is not a month"))
        },
        true,
    )
}

pub fn parse_days_of_month(s: &str) -> Result<(i32, i32), String> {
    let one = |d: &str| {
        d.parse::<i32>()
            .ok()
            .filter(|n| *n != 0 && (-31..=31).contains(n))
            .ok_or_else(|| format!("{d:?} is not a day of the month (1…31 or -31…-1)"))
    };
    // A range may mix signs (1:-1 is the whole month), so order is checked per sign only.
    let (a, b) = range(s, &one, false)?;
    if a.signum() == b.signum() && a > b {
        return Err(format!("range {s:?} ends before it starts"));
    }
    Ok((a, b))
}

pub fn parse_years(s: &str) -> Result<(i32, i32), String> {
    range(
        s,
        &|y| y.parse::<i32>().map_err(|_| format!("{y:?} is not a year")),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn business_hours() -> TimeInterval {
        TimeInterval {
            times: vec![(parse_clock("09:00").unwrap(), parse_clock("17:00").unwrap())],
            weekdays: vec![parse_weekdays("monday:friday").unwrap()],
            ..TimeInterval::default()
        }
    }

    #[test]
    fn business_hours_contain_a_weekday_afternoon_only() {
        let b = business_hours();
        assert!(b.contains(at("2026-11-20T14:00:00Z")), "Friday 14:00");
        assert!(!b.contains(at("2026-11-20T17:00:00Z")), "end is exclusive");
        assert!(!b.contains(at("2026-11-21T14:00:00Z")), "Saturday");
        assert!(b.contains(at("2026-11-23T09:00:00Z")), "Monday 09:00");
    }

    #[test]
    fn negative_days_count_from_the_months_end() {
        let last_day = TimeInterval {
            days_of_month: vec![parse_days_of_month("-1").unwrap()],
            ..TimeInterval::default()
        };
        assert!(last_day.contains(at("2026-02-28T12:00:00Z")));
        assert!(!last_day.contains(at("2026-02-27T12:00:00Z")));
        assert!(last_day.contains(at("2024-02-29T12:00:00Z")), "leap year");
    }

    #[test]
    fn months_and_years_by_name_or_number() {
        let q4 = TimeInterval {
            months: vec![parse_months("october:December").unwrap()],
            years: vec![parse_years("2026").unwrap()],
            ..TimeInterval::default()
        };
        assert!(q4.contains(at("2026-11-21T00:00:00Z")));
        assert!(!q4.contains(at("2027-11-21T00:00:00Z")));
        assert_eq!(parse_months("3:5").unwrap(), (3, 5));
    }

    #[test]
    fn bad_values_say_why() {
        assert!(parse_clock("25:00").is_err());
        assert!(parse_clock("9").is_err());
        assert_eq!(parse_clock("24:00").unwrap(), 1440);
        assert!(
            parse_weekdays("friday:monday")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(
            parse_weekdays("funday")
                .unwrap_err()
                .contains("not a weekday")
        );
        assert!(parse_days_of_month("0").is_err());
    }
}
