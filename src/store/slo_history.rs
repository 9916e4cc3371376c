//! The `slo_history` and `slo_progress` tables: the SLI history of every SLO group
//! ([`crate::slo::history`] says how it is kept and read).

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Store, StoreError};
use crate::slo::Tally;
use crate::slo::history::{Grain, Row as HistoryRow, decode, encode, places};

/// Rows written by one statement (3 parameters each, within SQLite's and PostgreSQL's limits).
const ROWS_PER_UPSERT: usize = 500;

/// An SLO group's tally of one minute: `(slo id, group, tally)`.
pub type MinuteTally = (String, String, Tally);

impl Store {
    /// Adds one minute's tallies (the minute starting at `minute_ms`) to every grain, and notes
    /// the minute as recorded, in one transaction. A minute at or before the last one recorded
    /// is not added again: returns `false`.
    pub async fn record_slo_minute(
        &self,
        minute_ms: i64,
        tallies: &[MinuteTally],
        tz: &jiff::tz::TimeZone,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Writes first, so the transaction holds the write lock before it reads anything.
        let moved = sqlx::query(
            "UPDATE slo_progress SET last_minute = $1 WHERE id = 1 AND last_minute < $1",
        )
        .bind(minute_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            let first = sqlx::query(
                "INSERT INTO slo_progress (id, last_minute) VALUES (1, $1) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(minute_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if first == 0 {
                // Recorded already (a later minute is).
                return Ok(false);
            }
        }
        for place in places(minute_ms, tz) {
            let n = slot_count(place.grain, place.row_start_ms, place.row_end_ms);
            let rows = sqlx::query(
                "SELECT slo, grp, slots FROM slo_history WHERE grain = $1 AND start_at = $2",
            )
            .bind(place.grain.as_str())
            .bind(place.row_start_ms)
            .fetch_all(&mut *tx)
            .await?;
            let mut existing: BTreeMap<(String, String), Vec<Tally>> = BTreeMap::new();
            for r in &rows {
                let bytes: Vec<u8> = r.try_get("slots")?;
                let slots = decode(&bytes, n).ok_or_else(|| {
                    StoreError::Corrupt(format!("slo_history slots of {}", place.row_start_ms))
                })?;
                existing.insert((r.try_get("slo")?, r.try_get("grp")?), slots);
            }
            let mut changed = Vec::new();
            for (slo, grp, tally) in tallies {
                if *tally == Tally::default() {
                    continue;
                }
                let key = (slo.clone(), grp.clone());
                let mut slots = existing
                    .remove(&key)
                    .unwrap_or_else(|| vec![Tally::default(); n]);
                if let Some(slot) = slots.get_mut(place.slot) {
                    slot.add(*tally);
                }
                changed.push((slo, grp, encode(&slots)));
            }
            // Many rows a statement: one statement per row costs more than the rows' work.
            for chunk in changed.chunks(ROWS_PER_UPSERT) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let b = i * 3;
                        format!("(${}, ${}, $1, $2, $3, ${})", b + 4, b + 5, b + 6)
                    })
                    .collect();
                let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO slo_history (slo, grp, grain, start_at, end_at, slots) VALUES {} \
                     ON CONFLICT (grain, start_at, slo, grp) DO UPDATE SET slots = excluded.slots",
                    values.join(", ")
                )))
                .bind(place.grain.as_str())
                .bind(place.row_start_ms)
                .bind(place.row_end_ms);
                for (slo, grp, slots) in chunk {
                    q = q.bind(slo.as_str()).bind(grp.as_str()).bind(slots.clone());
                }
                q.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The last minute recorded, if any.
    pub async fn last_slo_minute(&self) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT last_minute FROM slo_progress WHERE id = 1")
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    /// The rows of every grain of `grains` whose periods overlap `[from_ms, to_ms)`, of one SLO
    /// or of all, per `(slo, group)`.
    pub async fn slo_history(
        &self,
        grains: &[Grain],
        from_ms: i64,
        to_ms: i64,
        slo: Option<&str>,
    ) -> Result<std::collections::BTreeMap<(String, String), Vec<HistoryRow>>, StoreError> {
        self.slo_history_where(grains, from_ms, to_ms, slo.map(|s| (s, None)))
            .await
    }

    /// As [`Store::slo_history`], of one group of one SLO (its key, as
    /// [`crate::slo::recorder::group_key`] makes it), read through the group's index.
    pub async fn slo_group_history(
        &self,
        grains: &[Grain],
        from_ms: i64,
        to_ms: i64,
        slo: &str,
        group: &str,
    ) -> Result<std::collections::BTreeMap<(String, String), Vec<HistoryRow>>, StoreError> {
        self.slo_history_where(grains, from_ms, to_ms, Some((slo, Some(group))))
            .await
    }

    async fn slo_history_where(
        &self,
        grains: &[Grain],
        from_ms: i64,
        to_ms: i64,
        only: Option<(&str, Option<&str>)>,
    ) -> Result<std::collections::BTreeMap<(String, String), Vec<HistoryRow>>, StoreError> {
        let mut rows: std::collections::BTreeMap<(String, String), Vec<HistoryRow>> =
            Default::default();
        for grain in grains {
            for (key, r) in self
                .slo_history_rows_where(*grain, from_ms, to_ms, only)
                .await?
            {
                rows.entry(key).or_default().extend(r);
            }
        }
        Ok(rows)
    }

    /// The rows of one grain whose periods overlap `[from_ms, to_ms)`, of one SLO or of all,
    /// per `(slo, group)`.
    pub async fn slo_history_rows(
        &self,
        grain: Grain,
        from_ms: i64,
        to_ms: i64,
        slo: Option<&str>,
    ) -> Result<BTreeMap<(String, String), Vec<HistoryRow>>, StoreError> {
        self.slo_history_rows_where(grain, from_ms, to_ms, slo.map(|s| (s, None)))
            .await
    }

    async fn slo_history_rows_where(
        &self,
        grain: Grain,
        from_ms: i64,
        to_ms: i64,
        only: Option<(&str, Option<&str>)>,
    ) -> Result<BTreeMap<(String, String), Vec<HistoryRow>>, StoreError> {
        // SQLite without statistics (it has them only after an ANALYZE) prefers the primary key's
        // time range, every group's rows of the period; the group's index is named for it.
        // PostgreSQL keeps statistics and picks the index itself.
        let one_group = if self.sqlite {
            "SELECT slo, grp, start_at, end_at, slots FROM slo_history \
             INDEXED BY slo_history_by_group \
             WHERE grp = $5 AND grain = $1 AND slo = $4 AND end_at > $2 AND start_at < $3 \
             ORDER BY start_at"
        } else {
            "SELECT slo, grp, start_at, end_at, slots FROM slo_history \
             WHERE grp = $5 AND grain = $1 AND slo = $4 AND end_at > $2 AND start_at < $3 \
             ORDER BY start_at"
        };
        let query = match only {
            Some((slo, Some(group))) => sqlx::query(one_group)
                .bind(grain.as_str())
                .bind(from_ms)
                .bind(to_ms)
                .bind(slo)
                .bind(group),
            _ => sqlx::query(
                "SELECT slo, grp, start_at, end_at, slots FROM slo_history \
                 WHERE grain = $1 AND end_at > $2 AND start_at < $3 AND ($4 = '' OR slo = $4) \
                 ORDER BY start_at",
            )
            .bind(grain.as_str())
            .bind(from_ms)
            .bind(to_ms)
            .bind(only.map_or("", |(slo, _)| slo)),
        };
        let rows = query.fetch_all(&self.reader).await?;
        let mut out: BTreeMap<(String, String), Vec<HistoryRow>> = BTreeMap::new();
        for r in &rows {
            let (start, end): (i64, i64) = (r.try_get("start_at")?, r.try_get("end_at")?);
            let bytes: Vec<u8> = r.try_get("slots")?;
            let slots = decode(&bytes, slot_count(grain, start, end))
                .ok_or_else(|| StoreError::Corrupt(format!("slo_history slots of {start}")))?;
            out.entry((r.try_get("slo")?, r.try_get("grp")?))
                .or_default()
                .push(HistoryRow {
                    grain,
                    start_ms: start,
                    slots,
                });
        }
        Ok(out)
    }

    /// Deletes the rows each grain no longer keeps (ended more than its retention before
    /// `now_ms`); returns how many.
    pub async fn prune_slo_history(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        for grain in Grain::ALL {
            n += sqlx::query("DELETE FROM slo_history WHERE grain = $1 AND end_at < $2")
                .bind(grain.as_str())
                .bind(now_ms - grain.kept_ms())
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(n)
    }
}

/// How many slots a row of `grain` spanning `[start, end)` has (a month's days: 28 to 31, by
/// its length in hours, DST days included).
fn slot_count(grain: Grain, start: i64, end: i64) -> usize {
    use crate::slo::history::DAY_MS;
    match grain {
        Grain::Minute => 60,
        Grain::Hour => 24,
        Grain::Day => ((end - start + DAY_MS / 2) / DAY_MS).clamp(1, 31) as usize,
    }
}
