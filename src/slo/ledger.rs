//! Every SLO group's rolling windows as running sums in memory, so the API and the gauges read
//! 10,000 groups' 30-day figures without reading 30 days of rows. The sums are exactly those of
//! [`super::history::read_plan`] over the stored history: windows up to 6 h are whole minutes
//! (`[end − w, end)`), windows of days are whole hours from the hour holding `end − w` plus the
//! minutes of the hour in progress.
//!
//! A minute added moves every group's minute windows (the minute leaving comes from a ring of
//! the last 6 hours, about 6 KB a group); an hour completed moves the day windows, the hour
//! leaving each read from the store's hour rows (one read a window an hour). [`Ledger::load`]
//! builds it from the store (at start, and whenever the store was written by someone else).

use std::collections::BTreeMap;

use super::budget::Tally;
use super::history::{Grain, HOUR_MS, MINUTE_MS, Row, locate, place, read_plan, sum};
use crate::store::{Store, StoreError};

/// The windows of whole minutes, in minutes: the burn-rate alerts' short windows.
pub const MINUTE_WINDOWS: [(&str, i64); 5] =
    [("5m", 5), ("30m", 30), ("1h", 60), ("2h", 120), ("6h", 360)];

/// The windows of whole hours, in days: the alerts' long windows and the rolling SLA windows.
pub const DAY_WINDOWS: [(&str, i64); 5] =
    [("1d", 1), ("3d", 3), ("7d", 7), ("28d", 28), ("30d", 30)];

/// Minutes the ring keeps: the longest minute window.
const RING: usize = 360;

/// One group's windows.
#[derive(Clone)]
struct Sums {
    /// The minutes before `end`, minute `m` at `(m / MINUTE_MS) % RING`.
    ring: Box<[Tally]>,
    minutes: [Tally; MINUTE_WINDOWS.len()],
    /// Whole hours of each day window, and the minutes of the hour in progress.
    hours: [Tally; DAY_WINDOWS.len()],
    current_hour: Tally,
}

impl Sums {
    fn new() -> Self {
        Self {
            ring: vec![Tally::default(); RING].into_boxed_slice(),
            minutes: Default::default(),
            hours: Default::default(),
            current_hour: Tally::default(),
        }
    }
}

/// Where a window's sums are kept.
#[derive(Clone, Copy)]
enum At {
    /// The `i`th of [`MINUTE_WINDOWS`].
    Minutes(usize),
    /// The `i`th of [`DAY_WINDOWS`], plus the hour in progress.
    Days(usize),
}

impl At {
    fn of(window: &str) -> Option<Self> {
        MINUTE_WINDOWS
            .iter()
            .position(|(n, _)| *n == window)
            .map(At::Minutes)
            .or_else(|| {
                DAY_WINDOWS
                    .iter()
                    .position(|(n, _)| *n == window)
                    .map(At::Days)
            })
    }
}

impl Sums {
    /// The events over the window at `at`.
    fn over(&self, at: At) -> Tally {
        match at {
            At::Minutes(i) => self.minutes[i],
            At::Days(i) => {
                let mut t = self.hours[i];
                t.add(self.current_hour);
                t
            }
        }
    }
}

fn slot(minute_ms: i64) -> usize {
    (minute_ms.div_euclid(MINUTE_MS) as usize) % RING
}

fn minus(a: Tally, b: Tally) -> Tally {
    Tally {
        bad: a.bad - b.bad,
        total: a.total - b.total,
    }
}

/// The running sums of every group, up to `end_ms`.
#[derive(Clone, Default)]
pub struct Ledger {
    /// The minutes are counted up to here (exclusive, on a minute); 0 before any.
    end_ms: i64,
    groups: BTreeMap<(String, String), Sums>,
}

impl Ledger {
    /// The sums up to `end_ms` (on a minute) from the stored history.
    pub async fn load(store: &Store, end_ms: i64) -> Result<Self, StoreError> {
        let utc = jiff::tz::TimeZone::UTC;
        let longest = DAY_WINDOWS[DAY_WINDOWS.len() - 1].1 * 24 * HOUR_MS;
        let rows = store
            .slo_history(
                &[Grain::Minute, Grain::Hour],
                (end_ms - longest).div_euclid(HOUR_MS) * HOUR_MS,
                end_ms,
                None,
            )
            .await?;
        // Minute and hour slots need no time zone.
        let minute_plans: Vec<_> = MINUTE_WINDOWS
            .iter()
            .map(|(_, m)| {
                locate(
                    &read_plan(end_ms - m * MINUTE_MS, end_ms, Grain::Minute, &utc).0,
                    &utc,
                )
            })
            .collect();
        let hour_start = end_ms.div_euclid(HOUR_MS) * HOUR_MS;
        let day_plans: Vec<_> = DAY_WINDOWS
            .iter()
            .map(|(_, d)| {
                let (plan, _) = read_plan(end_ms - d * 24 * HOUR_MS, end_ms, Grain::Hour, &utc);
                let whole: Vec<_> = plan
                    .into_iter()
                    .filter(|(g, _)| *g == Grain::Hour)
                    .collect();
                locate(&whole, &utc)
            })
            .collect();
        let current = locate(&read_plan(hour_start, end_ms, Grain::Minute, &utc).0, &utc);
        let mut groups = BTreeMap::new();
        for (key, rows) in rows {
            let mut s = Sums::new();
            for (i, located) in minute_plans.iter().enumerate() {
                s.minutes[i] = sum(&rows, located);
            }
            for (i, located) in day_plans.iter().enumerate() {
                s.hours[i] = sum(&rows, located);
            }
            s.current_hour = sum(&rows, &current);
            fill_ring(&mut s.ring, &rows, end_ms);
            groups.insert(key, s);
        }
        Ok(Self { end_ms, groups })
    }

    /// Where the sums end (exclusive): the last minute added plus a minute.
    pub fn end_ms(&self) -> i64 {
        self.end_ms
    }

    /// Adds the minute starting at `minute_ms` (its tallies, by `(slo, group)`; groups not
    /// named had nothing), moving every group's windows. Minutes in between not added count
    /// nothing. Hours leaving the day windows are read from `store`; on an error the ledger is
    /// left for a [`Ledger::load`].
    pub async fn add_minute(
        &mut self,
        store: &Store,
        minute_ms: i64,
        tallies: &[crate::store::MinuteTally],
    ) -> Result<(), StoreError> {
        if minute_ms < self.end_ms {
            return Ok(());
        }
        // A long gap: nothing of the minute windows is left, and loading is as cheap.
        if self.end_ms == 0 || minute_ms - self.end_ms >= RING as i64 * MINUTE_MS {
            *self = Self::load(store, minute_ms).await?;
        }
        while self.end_ms < minute_ms {
            self.step(store, self.end_ms, &[]).await?;
        }
        self.step(store, minute_ms, tallies).await
    }

    /// Adds one minute (`minute_ms == self.end_ms`).
    async fn step(
        &mut self,
        store: &Store,
        minute_ms: i64,
        tallies: &[crate::store::MinuteTally],
    ) -> Result<(), StoreError> {
        for (slo, group, _) in tallies {
            self.groups
                .entry((slo.clone(), group.clone()))
                .or_insert_with(Sums::new);
        }
        let added: std::collections::HashMap<(&str, &str), Tally> = tallies
            .iter()
            .map(|(s, g, t)| ((s.as_str(), g.as_str()), *t))
            .collect();
        let end = minute_ms + MINUTE_MS;
        for ((slo, group), s) in self.groups.iter_mut() {
            let t = added
                .get(&(slo.as_str(), group.as_str()))
                .copied()
                .unwrap_or_default();
            for (i, (_, w)) in MINUTE_WINDOWS.iter().enumerate() {
                let leaving = s.ring[slot(minute_ms - w * MINUTE_MS)];
                s.minutes[i] = minus(s.minutes[i], leaving);
                s.minutes[i].add(t);
            }
            s.ring[slot(minute_ms)] = t;
            s.current_hour.add(t);
        }
        if end % HOUR_MS == 0 {
            // The hour completes: it joins the day windows, and each loses its oldest hour.
            for s in self.groups.values_mut() {
                for h in &mut s.hours {
                    h.add(s.current_hour);
                }
                s.current_hour = Tally::default();
            }
            for (i, (_, days)) in DAY_WINDOWS.iter().enumerate() {
                let leaving = end - days * 24 * HOUR_MS - HOUR_MS;
                for (key, rows) in store
                    .slo_history(&[Grain::Hour], leaving, leaving + HOUR_MS, None)
                    .await?
                {
                    let Some(s) = self.groups.get_mut(&key) else {
                        continue;
                    };
                    let p = place(leaving, Grain::Hour, &jiff::tz::TimeZone::UTC);
                    let gone = sum(&rows, &[(Grain::Hour, p.row_start_ms, p.slot)]);
                    s.hours[i] = minus(s.hours[i], gone);
                }
            }
        }
        self.end_ms = end;
        Ok(())
    }

    /// A group's events over a window (`5m` … `6h`, `1d` … `30d`) ending at [`Self::end_ms`];
    /// `None` for a window it does not keep.
    pub fn window(&self, slo: &str, group: &str, window: &str) -> Option<Tally> {
        let at = At::of(window)?;
        let s = self.groups.get(&(slo.to_string(), group.to_string()));
        Some(s.map_or_else(Tally::default, |s| s.over(at)))
    }

    /// Every group of `slo` with its events over each of `windows` (names as
    /// [`Self::window`] takes them; an unknown one counts nothing), in group order.
    pub fn windows_of<'a, const N: usize>(
        &'a self,
        slo: &'a str,
        windows: [&str; N],
    ) -> impl Iterator<Item = (&'a str, [Tally; N])> + 'a {
        let at = windows.map(At::of);
        self.groups
            .range((slo.to_string(), String::new())..)
            .take_while(move |((s, _), _)| s == slo)
            .map(move |((_, g), s)| {
                let t = std::array::from_fn(|k| at[k].map_or_else(Tally::default, |a| s.over(a)));
                (g.as_str(), t)
            })
    }
}

/// The minutes of `rows` in `[end − RING minutes, end)` into the ring.
fn fill_ring(ring: &mut [Tally], rows: &[Row], end_ms: i64) {
    let from = end_ms - RING as i64 * MINUTE_MS;
    for r in rows.iter().filter(|r| r.grain == Grain::Minute) {
        for (i, t) in r.slots.iter().enumerate() {
            let m = r.start_ms + i as i64 * MINUTE_MS;
            if (from..end_ms).contains(&m) {
                ring[slot(m)] = *t;
            }
        }
    }
}

/// The ledger the minute writer keeps and the readers share. A reader gets it as of the store's
/// last recorded minute: when the store holds minutes the ledger did not add (written by
/// another process, or before the ledger existed), it is loaded again.
#[derive(Default)]
pub struct SharedLedger {
    ledger: tokio::sync::Mutex<Ledger>,
    /// The minute being written by the writer (its ledger update follows), or -1.
    writing: std::sync::atomic::AtomicI64,
}

impl SharedLedger {
    pub fn new() -> Self {
        Self {
            ledger: Default::default(),
            writing: std::sync::atomic::AtomicI64::new(-1),
        }
    }

    /// The ledger, up to date with `store`.
    pub async fn current(
        &self,
        store: &Store,
    ) -> Result<tokio::sync::MutexGuard<'_, Ledger>, StoreError> {
        let mut ledger = self.ledger.lock().await;
        let last = store.last_slo_minute().await?;
        let end = last.map_or(0, |m| m + MINUTE_MS);
        let writing = self.writing.load(std::sync::atomic::Ordering::Acquire);
        // The writer's minute is in the store and about to be added: the ledger is a minute
        // behind, and consistent.
        let being_added = last == Some(writing) && ledger.end_ms == writing;
        if ledger.end_ms != end && !being_added {
            *ledger = if end == 0 {
                Ledger::default()
            } else {
                Ledger::load(store, end).await?
            };
        }
        Ok(ledger)
    }

    /// The writer is about to record the minute starting at `minute_ms`.
    pub fn writing(&self, minute_ms: i64) {
        self.writing
            .store(minute_ms, std::sync::atomic::Ordering::Release);
    }

    /// The writer recorded the minute: it joins the ledger. On an error the ledger is dropped,
    /// to be loaded again by its next reader.
    pub async fn recorded(
        &self,
        store: &Store,
        minute_ms: i64,
        tallies: &[crate::store::MinuteTally],
    ) {
        let mut ledger = self.ledger.lock().await;
        if let Err(e) = ledger.add_minute(store, minute_ms, tallies).await {
            tracing::warn!(error = %e, "SLO ledger not updated; it is loaded again when read");
            *ledger = Ledger::default();
        }
        self.writing.store(-1, std::sync::atomic::Ordering::Release);
    }
}
