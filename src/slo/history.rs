//! The SLI history: every SLO group's bad and total events, counted per minute and kept at three
//! grains so that a year fits (README "SLOs", "How the history is kept"):
//!
//! | grain | a row holds | slots | kept |
//! |---|---|---|---|
//! | minute | one UTC hour | 60 | [`MINUTES_KEPT_MS`] (7 h) |
//! | hour | one UTC day | 24 | [`HOURS_KEPT_MS`] (35 days) |
//! | day | one calendar month in the SLO time zone | 28 to 31 | [`DAYS_KEPT_MS`] (13 months) |
//!
//! Each minute's tally is added to its slot at every grain, so every grain is complete on its
//! own; retention only drops old rows. Reading a window takes the coarsest slots that lie inside
//! it: a rolling window is read in hours (so it starts on an hour) plus the minutes of the hour
//! in progress, a calendar window in the days of its time zone plus the hours and minutes of
//! the day in progress. Sums of slots are exact sums of minutes: Σbad / Σtotal, never an average
//! of ratios.
//!
//! A row's slots are a byte string: per slot, `bad` then `total`, each a varint of twice the
//! value when it is a whole number below 2^52 (the usual case: events are counted), else 1
//! followed by the value's 8 bytes (a query that gives rates). An empty minute costs 2 bytes.

use super::budget::Tally;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// Minute slots are kept this long: the longest window read in minutes (6 h) and an hour more.
pub const MINUTES_KEPT_MS: i64 = 7 * HOUR_MS;
/// Hour slots: the longest rolling window (30 days) and five days more.
pub const HOURS_KEPT_MS: i64 = 35 * DAY_MS;
/// Day slots: the last 12 months and the one in progress, for the monthly report.
pub const DAYS_KEPT_MS: i64 = 400 * DAY_MS;

/// A grain of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    Minute,
    Hour,
    Day,
}

impl Grain {
    pub const ALL: [Grain; 3] = [Grain::Minute, Grain::Hour, Grain::Day];

    /// The name the store keeps it under.
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Minute => "minute",
            Grain::Hour => "hour",
            Grain::Day => "day",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// How long rows of this grain are kept, from their end.
    pub fn kept_ms(self) -> i64 {
        match self {
            Grain::Minute => MINUTES_KEPT_MS,
            Grain::Hour => HOURS_KEPT_MS,
            Grain::Day => DAYS_KEPT_MS,
        }
    }
}

/// Where a minute goes at one grain: the row (its period's start and end) and the slot in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub grain: Grain,
    pub row_start_ms: i64,
    pub row_end_ms: i64,
    pub slot: usize,
}

/// The place of the minute starting at `minute_ms` (a multiple of a minute) at `grain`; days
/// and months are those of `tz` (only the day grain looks at the time zone).
pub fn place(minute_ms: i64, grain: Grain, tz: &jiff::tz::TimeZone) -> Place {
    let within = |row: i64, slot: i64| Place {
        grain,
        row_start_ms: minute_ms.div_euclid(row) * row,
        row_end_ms: minute_ms.div_euclid(row) * row + row,
        slot: (minute_ms.rem_euclid(row) / slot) as usize,
    };
    match grain {
        Grain::Minute => within(HOUR_MS, MINUTE_MS),
        Grain::Hour => within(DAY_MS, HOUR_MS),
        Grain::Day => {
            let (row_start_ms, row_end_ms, slot) = local_month(minute_ms, tz);
            Place {
                grain,
                row_start_ms,
                row_end_ms,
                slot,
            }
        }
    }
}

/// The places of the minute starting at `minute_ms` at every grain, in [`Grain::ALL`] order.
pub fn places(minute_ms: i64, tz: &jiff::tz::TimeZone) -> [Place; 3] {
    Grain::ALL.map(|g| place(minute_ms, g, tz))
}

/// The calendar month holding `at_ms` in `tz`: its start, its end and the day's index in it
/// (0 for the 1st).
fn local_month(at_ms: i64, tz: &jiff::tz::TimeZone) -> (i64, i64, usize) {
    let zoned = jiff::Timestamp::from_millisecond(at_ms)
        .unwrap_or_default()
        .to_zoned(tz.clone());
    let date = zoned.date();
    let start = date.first_of_month();
    let end = start
        .checked_add(jiff::Span::new().months(1))
        .unwrap_or(start);
    let ms = |d: jiff::civil::Date| {
        d.to_zoned(tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(at_ms)
    };
    (ms(start), ms(end), (date.day() - 1) as usize)
}

/// The local day of `tz` holding `at_ms`: its start and the next day's (23 to 25 hours later
/// across a DST change).
pub fn local_day(at_ms: i64, tz: &jiff::tz::TimeZone) -> (i64, i64) {
    let date = jiff::Timestamp::from_millisecond(at_ms)
        .unwrap_or_default()
        .to_zoned(tz.clone())
        .date();
    let ms = |d: jiff::civil::Date| {
        d.to_zoned(tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(at_ms)
    };
    let start = ms(date);
    (start, date.tomorrow().map_or(start + DAY_MS, ms))
}

/// Encodes slots (see the module's note on the format); trailing empty slots are left out.
pub fn encode(slots: &[Tally]) -> Vec<u8> {
    let used = slots
        .iter()
        .rposition(|t| *t != Tally::default())
        .map_or(0, |i| i + 1);
    let mut out = Vec::with_capacity(used * 2);
    for t in &slots[..used] {
        put(&mut out, t.bad);
        put(&mut out, t.total);
    }
    out
}

/// Decodes `n` slots (missing trailing ones are empty); `None` when the bytes are not slots.
pub fn decode(bytes: &[u8], n: usize) -> Option<Vec<Tally>> {
    let mut slots = vec![Tally::default(); n];
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let bad = take(bytes, &mut at)?;
        let total = take(bytes, &mut at)?;
        *slots.get_mut(i)? = Tally { bad, total };
        i += 1;
    }
    Some(slots)
}

/// Whole numbers up to this are written as varints.
const WHOLE_MAX: f64 = (1u64 << 52) as f64;

fn put(out: &mut Vec<u8>, v: f64) {
    if v.fract() == 0.0 && (0.0..WHOLE_MAX).contains(&v) {
        let mut n = (v as u64) << 1;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    } else {
        out.push(1);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn take(bytes: &[u8], at: &mut usize) -> Option<f64> {
    let mut n: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        if shift == 0 && byte == 1 {
            let raw: [u8; 8] = bytes.get(*at..*at + 8)?.try_into().ok()?;
            *at += 8;
            return Some(f64::from_le_bytes(raw));
        }
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((n >> 1) as f64);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// One stored row: a group's slots of one period at one grain.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub grain: Grain,
    pub start_ms: i64,
    pub slots: Vec<Tally>,
}

/// The slots a window is read from, as `(grain, slot start)`, and the window's start as read,
/// by the coarsest grain it may use:
///
/// - [`Grain::Minute`] (burn-rate windows up to 6 h): every minute from `start_ms`;
/// - [`Grain::Hour`] (rolling days): whole hours from the hour holding `start_ms` (so the window
///   starts on an hour), then the minutes of the hour in progress up to `end_ms`;
/// - [`Grain::Day`] (calendar): the days of `tz` from `start_ms` (a day's start), then the hours
///   and minutes of the day in progress; a day in progress whose start is not on an hour (a zone
///   whose offset is not whole hours) is read from the hour holding its start.
pub fn read_plan(
    start_ms: i64,
    end_ms: i64,
    coarsest: Grain,
    tz: &jiff::tz::TimeZone,
) -> (Vec<(Grain, i64)>, i64) {
    let calendar = coarsest == Grain::Day;
    let mut plan = Vec::new();
    let mut t = match coarsest {
        Grain::Minute => start_ms.div_euclid(MINUTE_MS) * MINUTE_MS,
        Grain::Hour => start_ms.div_euclid(HOUR_MS) * HOUR_MS,
        Grain::Day => start_ms,
    };
    let read_start = t;
    if calendar {
        // Whole days first.
        loop {
            let (day_start, next) = local_day(t, tz);
            if next > end_ms || day_start != t {
                break;
            }
            plan.push((Grain::Day, t));
            t = next;
        }
        t = t.div_euclid(HOUR_MS) * HOUR_MS;
    }
    while coarsest != Grain::Minute && t + HOUR_MS <= end_ms {
        plan.push((Grain::Hour, t));
        t += HOUR_MS;
    }
    while t < end_ms {
        plan.push((Grain::Minute, t));
        t += MINUTE_MS;
    }
    (plan, read_start)
}

/// Where a slot is: its grain, its row's start and its index in the row.
pub type SlotPlace = (Grain, i64, usize);

/// Where each slot of a read plan is, worked out once for all the groups read with it.
pub fn locate(plan: &[(Grain, i64)], tz: &jiff::tz::TimeZone) -> Vec<SlotPlace> {
    plan.iter()
        .map(|&(grain, at)| {
            let p = place(at, grain, tz);
            (grain, p.row_start_ms, p.slot)
        })
        .collect()
}

/// The sum of a group's slots at the located places; a slot without a row counts nothing.
pub fn sum(rows: &[Row], located: &[SlotPlace]) -> Tally {
    let by_start: std::collections::HashMap<(Grain, i64), &Row> =
        rows.iter().map(|r| ((r.grain, r.start_ms), r)).collect();
    let mut total = Tally::default();
    for (grain, start, slot) in located {
        if let Some(s) = by_start
            .get(&(*grain, *start))
            .and_then(|r| r.slots.get(*slot))
        {
            total.add(*s);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn slots_round_trip_whole_numbers_small_and_rates_exact() {
        let slots = vec![
            Tally {
                bad: 0.0,
                total: 1.0,
            },
            Tally {
                bad: 3.0,
                total: 1_000_000.0,
            },
            Tally {
                bad: 0.1,
                total: 2.5,
            },
            Tally::default(),
            Tally {
                bad: 1e300,
                total: -1.0,
            },
            Tally::default(),
        ];
        let bytes = encode(&slots);
        assert_eq!(decode(&bytes, 6).unwrap(), slots);
        // The trailing empty slot is left out; empty minutes cost 2 bytes.
        assert_eq!(
            encode(&[
                Tally::default(),
                Tally {
                    bad: 0.0,
                    total: 1.0
                }
            ]),
            [0, 0, 0, 2]
        );
        assert!(encode(&[Tally::default(); 60]).is_empty());
        assert_eq!(decode(&[], 3).unwrap(), vec![Tally::default(); 3]);
        // Not slots: cut short, or more than the row holds.
        assert_eq!(decode(&[1, 0, 0], 1), None);
        assert_eq!(decode(&[0, 0, 0, 0], 1), None);
    }

    #[test]
    fn a_minute_has_a_place_at_every_grain() {
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let [m, h, d] = places(ms("2026-11-01T03:59:00Z"), &ny);
        assert_eq!((m.row_start_ms, m.slot), (ms("2026-11-01T03:00:00Z"), 59));
        assert_eq!((h.row_start_ms, h.slot), (ms("2026-11-01T00:00:00Z"), 3));
        // 23:59 on 31 October in New York (EDT): October's row, day 31.
        assert_eq!(
            (d.row_start_ms, d.row_end_ms, d.slot),
            (ms("2026-10-01T04:00:00Z"), ms("2026-11-01T04:00:00Z"), 30)
        );
        // November has a 25-hour day (DST ends on the 1st): its days start at local midnight.
        let nov = place(ms("2026-11-01T04:00:00Z"), Grain::Day, &ny);
        let days = std::iter::successors(Some(nov.row_start_ms), |t| {
            Some(local_day(*t, &ny).1).filter(|next| *next < nov.row_end_ms)
        });
        let starts: Vec<i64> = days.collect();
        assert_eq!(starts.len(), 30);
        assert_eq!(starts[1] - starts[0], 25 * HOUR_MS);
        assert_eq!(starts[2] - starts[1], 24 * HOUR_MS);
        assert_eq!(nov.row_end_ms, ms("2026-12-01T05:00:00Z"));
    }

    #[test]
    fn a_rolling_window_reads_hours_then_the_minutes_in_progress() {
        let utc = jiff::tz::TimeZone::UTC;
        let end = ms("2026-12-01T10:17:00Z");
        let (plan, start) = read_plan(end - 30 * DAY_MS, end, Grain::Hour, &utc);
        assert_eq!(start, ms("2026-11-01T10:00:00Z"), "starts on the hour");
        let hours = plan.iter().filter(|(g, _)| *g == Grain::Hour).count();
        let minutes = plan.iter().filter(|(g, _)| *g == Grain::Minute).count();
        assert_eq!((hours, minutes), (30 * 24, 17));
        assert_eq!(
            plan.last(),
            Some(&(Grain::Minute, ms("2026-12-01T10:16:00Z")))
        );
        let (short, from) = read_plan(end - 6 * HOUR_MS, end, Grain::Minute, &utc);
        assert_eq!((short.len(), from), (360, end - 6 * HOUR_MS));
    }

    #[test]
    fn a_calendar_window_reads_days_then_hours_then_minutes() {
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let start = ms("2026-11-01T04:00:00Z");
        let now = ms("2026-11-03T07:30:00Z");
        let (plan, read_from) = read_plan(start, now, Grain::Day, &ny);
        assert_eq!(read_from, start);
        let count = |g: Grain| plan.iter().filter(|(x, _)| *x == g).count();
        // 1 and 2 November are done; the 3rd began at 05:00Z: two hours and 30 minutes.
        assert_eq!(
            (count(Grain::Day), count(Grain::Hour), count(Grain::Minute)),
            (2, 2, 30)
        );
        assert_eq!(plan[1], (Grain::Day, ms("2026-11-02T05:00:00Z")));
        assert_eq!(plan[2], (Grain::Hour, ms("2026-11-03T05:00:00Z")));
        // A whole month is its days.
        let (whole, _) = read_plan(start, ms("2026-12-01T05:00:00Z"), Grain::Day, &ny);
        assert_eq!(
            (whole.len(), whole.iter().all(|(g, _)| *g == Grain::Day)),
            (30, true)
        );
    }
}
