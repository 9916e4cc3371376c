//! The `tickets`, `ticket_events` and `ticket_occurrences` tables: tickets, their history, and
//! the alert instances each has counted. The database keeps at most one open or acknowledged
//! ticket per dedup key (a partial unique index); these functions never rely on timing for it.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Bind, Store, StoreError, make_cursor, new_id};
use crate::domain::ticket::{
    ChangeError, EscalationPolicy, Priority, RunbookRef, SweepOutcome, Ticket, TicketChange,
    TicketEvent, TicketStatus, Tier, apply_change,
};
use crate::domain::ticket_stats::TicketTally;
use crate::domain::{Labels, Severity};

/// A page of tickets and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    pub next_cursor: Option<String>,
}

/// Filters of `GET /api/v1/tickets`.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub severity: Option<Severity>,
    pub provider: Option<String>,
    pub connection: Option<String>,
    pub alertname: Option<String>,
    pub since_ms: Option<i64>,
    /// `(created_at, id)` of the last ticket of the previous page.
    pub cursor: Option<(i64, String)>,
    pub limit: i64,
}

/// At most this many slices of a window are counted at once: one per core, each on a reader.
const READER_SLICES: usize = super::READERS as usize;

impl Store {
    // ---- tickets --------------------------------------------------------------------------

    pub async fn active_ticket(&self, dedup_key: &str) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM tickets WHERE dedup_key = $1 AND status IN ('open', 'acknowledged')",
        )
        .bind(dedup_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| ticket_from_row(&r)).transpose()
    }

    pub async fn last_inactive_ticket(
        &self,
        dedup_key: &str,
    ) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM tickets WHERE dedup_key = $1 AND status IN ('resolved', 'closed') \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(dedup_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| ticket_from_row(&r)).transpose()
    }

    pub async fn get_ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query("SELECT * FROM tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| ticket_from_row(&r)).transpose()
    }

    /// Inserts a new ticket with its first occurrence and a `created` event, atomically, noting
    /// when the two tickets of its key before it were created (the figures' repeats).
    /// Fails with [`StoreError::Conflict`] when the key already has an active ticket.
    pub async fn create_ticket(&self, t: &Ticket, alert_key: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let labels =
            serde_json::to_string(&t.labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO tickets (id, dedup_key, status, severity, priority, tier, title, summary, labels, \
             provider, connection, alertname, runbook_id, runbook_title, runbook_url, assignee, occurrences, \
             created_at, acknowledged_at, resolved_at, closed_at, updated_at, escalation_policy, escalation_level, \
             open_since, highest_tier, previous_created_at, second_previous_created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
             $23, $24, $25, $26, \
             (SELECT MAX(created_at) FROM tickets WHERE dedup_key = $2 AND created_at < $18), \
             (SELECT MAX(p.created_at) FROM tickets p WHERE p.dedup_key = $2 AND p.created_at < \
               (SELECT MAX(created_at) FROM tickets WHERE dedup_key = $2 AND created_at < $18)))",
        )
        .bind(&t.id)
        .bind(t.dedup_key.as_str())
        .bind(t.status.as_str())
        .bind(t.severity.as_str())
        .bind(t.priority.as_str())
        .bind(t.tier.as_str())
        .bind(&t.title)
        .bind(&t.summary)
        .bind(labels)
        .bind(t.provider.clone())
        .bind(t.connection.clone())
        .bind(&t.alertname)
        .bind(t.runbook.as_ref().map(|r| r.id.clone()))
        .bind(t.runbook.as_ref().map(|r| r.title.clone()))
        .bind(t.runbook.as_ref().map(|r| r.url.clone()))
        .bind(t.assignee.clone())
        .bind(t.occurrences)
        .bind(t.created_at_ms)
        .bind(t.acknowledged_at_ms)
        .bind(t.resolved_at_ms)
        .bind(t.closed_at_ms)
        .bind(t.updated_at_ms)
        .bind(policy_json(&t.escalation)?)
        .bind(t.escalation_level)
        .bind(t.open_since_ms)
        .bind(t.highest_tier.as_str())
        .execute(&mut *tx)
        .await?;
        insert_occurrence(&mut tx, &t.id, alert_key, t.created_at_ms).await?;
        record_events(
            &mut tx,
            t.created_at_ms,
            &[(&t.id, by_syncwatch("created"), &t.summary)],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts an alert instance on a ticket once; returns whether it was new.
    pub async fn add_occurrence(
        &self,
        ticket_id: &str,
        alert_key: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let added = insert_occurrence(&mut tx, ticket_id, alert_key, now_ms).await?;
        if added {
            sqlx::query(
                "UPDATE tickets SET version = version + 1, occurrences = occurrences + 1, updated_at = $1 WHERE id = $2",
            )
            .bind(now_ms)
            .bind(ticket_id)
            .execute(&mut *tx)
            .await?;
            record_events(
                &mut tx,
                now_ms,
                &[(ticket_id, by_syncwatch("occurrence"), alert_key)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Reopens a resolved ticket for a new occurrence.
    pub async fn reopen_ticket(
        &self,
        ticket_id: &str,
        alert_key: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE tickets SET version = version + 1, status = 'open', resolved_at = NULL, resolved_by = NULL, \
             resolution = NULL, open_since = $1, escalation_level = 0, updated_at = $1 \
             WHERE id = $2 AND status = 'resolved'",
        )
        .bind(now_ms)
        .bind(ticket_id)
        .execute(&mut *tx)
        .await?;
        if insert_occurrence(&mut tx, ticket_id, alert_key, now_ms).await? {
            sqlx::query("UPDATE tickets SET version = version + 1, occurrences = occurrences + 1 WHERE id = $1")
                .bind(ticket_id)
                .execute(&mut *tx)
                .await?;
        }
        record_events(
            &mut tx,
            now_ms,
            &[(ticket_id, by_syncwatch("reopened"), alert_key)],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks an active ticket resolved; returns whether it was active.
    pub async fn resolve_ticket(
        &self,
        ticket_id: &str,
        now_ms: i64,
        detail: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE tickets SET version = version + 1, status = 'resolved', resolved_at = $1, resolved_by = 'alert', updated_at = $1 \
             WHERE id = $2 AND status IN ('open', 'acknowledged')",
        )
        .bind(now_ms)
        .bind(ticket_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if done {
            record_events(
                &mut tx,
                now_ms,
                &[(ticket_id, by_syncwatch("resolved"), detail)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// The ticket that counted an alert instance, if any.
    pub async fn ticket_for_occurrence(
        &self,
        alert_key: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT ticket_id FROM ticket_occurrences WHERE alert_key = $1 ORDER BY at DESC LIMIT 1")
            .bind(alert_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>("ticket_id"))
            .transpose()?)
    }

    pub async fn list_tickets(&self, f: &TicketFilter) -> Result<TicketPage, StoreError> {
        let mut sql = String::from("SELECT * FROM tickets WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        let mut add = |clause: &str, b: Bind, binds: &mut Vec<Bind>| {
            binds.push(b);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(s) = f.status {
            add(" AND status = ?", Bind::Text(s.as_str().into()), &mut binds);
        }
        if let Some(s) = f.severity {
            add(
                " AND severity = ?",
                Bind::Text(s.as_str().into()),
                &mut binds,
            );
        }
        if let Some(p) = &f.provider {
            add(" AND provider = ?", Bind::Text(p.clone()), &mut binds);
        }
        if let Some(c) = &f.connection {
            add(" AND connection = ?", Bind::Text(c.clone()), &mut binds);
        }
        if let Some(a) = &f.alertname {
            add(" AND alertname = ?", Bind::Text(a.clone()), &mut binds);
        }
        if let Some(since) = f.since_ms {
            add(" AND created_at >= ?", Bind::Int(since), &mut binds);
        }
        let rows = self.newest_first(sql, binds, &f.cursor, f.limit).await?;
        let mut tickets = rows
            .iter()
            .map(ticket_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if tickets.len() as i64 > f.limit {
            tickets.truncate(f.limit as usize);
            tickets.last().map(|t| make_cursor(t.created_at_ms, &t.id))
        } else {
            None
        };
        Ok(TicketPage {
            tickets,
            next_cursor,
        })
    }

    /// The open and acknowledged tickets of these alerts (by `alertname`), newest first, at most
    /// `limit`.
    pub async fn active_tickets_of(
        &self,
        alertnames: &[String],
        limit: i64,
    ) -> Result<Vec<Ticket>, StoreError> {
        if alertnames.is_empty() {
            return Ok(Vec::new());
        }
        let places: Vec<String> = (1..=alertnames.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT * FROM tickets WHERE status IN ('open', 'acknowledged') AND alertname IN ({})",
            places.join(", ")
        );
        let binds = alertnames.iter().map(|a| Bind::Text(a.clone())).collect();
        let rows = self.newest_first(sql, binds, &None, limit).await?;
        rows.iter()
            .take(limit as usize)
            .map(ticket_from_row)
            .collect()
    }
}

async fn insert_occurrence(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ticket_id: &str,
    alert_key: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO ticket_occurrences (ticket_id, alert_key, at) VALUES ($1, $2, $3) \
         ON CONFLICT (ticket_id, alert_key) DO NOTHING",
    )
    .bind(ticket_id)
    .bind(alert_key)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// What became of a change asked of a ticket ([`Store::update_ticket`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TicketUpdate {
    /// Applied (or nothing to change): the ticket now.
    Updated(Ticket),
    /// The ticket changed since the version the change was made against: the ticket now.
    Stale(Ticket),
    NotFound,
    Refused(ChangeError),
    /// Reopening would make a second active ticket for its problem: the id of the active one.
    DuplicateActive(String),
}

/// One recorded change of a ticket, as `GET /api/v1/tickets/{id}/events` serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTicketEvent {
    /// Its place in the feed of all ticket events (commit order).
    pub seq: i64,
    pub id: String,
    pub ticket_id: String,
    pub at_ms: i64,
    pub kind: String,
    pub actor: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Free text some events carry (the alert instance that occurred again, the summary).
    pub detail: String,
}

impl Store {
    /// Applies a person's change to ticket `id`, made against `expected_version` (its ETag):
    /// checked by [`apply_change`], written with its history in one transaction, and only if
    /// the ticket is still at that version (two changes made against the same version: one
    /// applies, the other is [`TicketUpdate::Stale`]).
    pub async fn update_ticket(
        &self,
        id: &str,
        expected_version: Option<i64>,
        change: &TicketChange,
        actor: &str,
        now_ms: i64,
    ) -> Result<TicketUpdate, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query("SELECT * FROM tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(TicketUpdate::NotFound);
        };
        let current = ticket_from_row(&row)?;
        if expected_version.is_some_and(|v| v != current.version) {
            return Ok(TicketUpdate::Stale(current));
        }
        let (next, events) = match apply_change(&current, change, actor, now_ms) {
            Ok(applied) => applied,
            Err(e) => return Ok(TicketUpdate::Refused(e)),
        };
        if events.is_empty() {
            return Ok(TicketUpdate::Updated(current));
        }
        let updated = sqlx::query(
            "UPDATE tickets SET status = $1, assignee = $2, tier = $3, priority = $4, resolution = $5, \
             resolved_by = $6, acknowledged_at = $7, resolved_at = $8, closed_at = $9, updated_at = $10, \
             open_since = $11, escalation_level = $12, highest_tier = $13, version = version + 1 \
             WHERE id = $14 AND version = $15",
        )
        .bind(next.status.as_str())
        .bind(next.assignee.clone())
        .bind(next.tier.as_str())
        .bind(next.priority.as_str())
        .bind(next.resolution.clone())
        .bind(next.resolved_by.clone())
        .bind(next.acknowledged_at_ms)
        .bind(next.resolved_at_ms)
        .bind(next.closed_at_ms)
        .bind(next.updated_at_ms)
        .bind(next.open_since_ms)
        .bind(next.escalation_level)
        .bind(next.highest_tier.as_str())
        .bind(id)
        .bind(current.version)
        .execute(&mut *tx)
        .await;
        match updated {
            Ok(r) if r.rows_affected() == 0 => {
                drop(tx);
                return match self.get_ticket(id).await? {
                    Some(t) => Ok(TicketUpdate::Stale(t)),
                    None => Ok(TicketUpdate::NotFound),
                };
            }
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                drop(tx);
                let active = self.active_ticket(current.dedup_key.as_str()).await?;
                return Ok(TicketUpdate::DuplicateActive(
                    active.map(|t| t.id).unwrap_or_default(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let events: Vec<_> = events.into_iter().map(|e| (id, e, "")).collect();
        record_events(&mut tx, now_ms, &events).await?;
        tx.commit().await?;
        Ok(TicketUpdate::Updated(Ticket {
            version: current.version + 1,
            ..next
        }))
    }

    /// A ticket's history, oldest first.
    pub async fn ticket_events(&self, id: &str) -> Result<Vec<StoredTicketEvent>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM ticket_events WHERE ticket_id = $1 ORDER BY seq"
        )))
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The feed of every ticket's events after number `after_seq`, in commit order, at most
    /// `limit`. Stable while tickets are written: an event, once listed, keeps its place, and
    /// none appears later before it (see `record_events`).
    pub async fn ticket_event_feed(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredTicketEvent>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM ticket_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The number of the newest event in the feed (0 when there is none).
    pub async fn last_ticket_event_seq(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT last FROM ticket_event_seq WHERE id = 1")
                .fetch_one(&self.reader)
                .await?
                .try_get("last")?,
        )
    }
}

impl Store {
    /// Closes the tickets resolved at or before `resolved_before_ms` (`tickets.close_after`),
    /// each with a `closed` event by `syncwatch`, at most `limit` at a time; their ids.
    pub async fn close_resolved_tickets(
        &self,
        resolved_before_ms: i64,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id FROM tickets WHERE status = 'resolved' AND resolved_at <= $1 \
             ORDER BY resolved_at, id LIMIT $2",
        )
        .bind(resolved_before_ms)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut closed = Vec::new();
        let mut events = Vec::new();
        for r in &rows {
            let id: String = r.try_get("id")?;
            let n = sqlx::query(
                "UPDATE tickets SET version = version + 1, status = 'closed', closed_at = $1, \
                 updated_at = $1 WHERE id = $2 AND status = 'resolved'",
            )
            .bind(now_ms)
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                events.push(TicketEvent {
                    kind: "closed",
                    actor: "syncwatch".into(),
                    from: Some("resolved".into()),
                    to: Some("closed".into()),
                });
                closed.push(id);
            }
        }
        // The events last: their numbers are taken after every other write (see record_events).
        let events: Vec<_> = closed
            .iter()
            .zip(events)
            .map(|(id, e)| (id.as_str(), e, "close_after"))
            .collect();
        record_events(&mut tx, now_ms, &events).await?;
        tx.commit().await?;
        Ok(closed)
    }
}

impl Store {
    /// Active tickets that have an escalation policy or targets, oldest first, at most `limit`:
    /// what a sweep looks at.
    pub async fn tickets_to_sweep(&self, limit: i64) -> Result<Vec<Ticket>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM tickets WHERE escalation_policy IS NOT NULL \
             AND status IN ('open', 'acknowledged') ORDER BY created_at, id LIMIT $1",
        )
        .bind(limit)
        // A read: what it finds is applied only at the version it read.
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// Records what a sweep found due on a ticket (its new tier, escalation level and breach
    /// times, the events) with the outbox rows notifying the escalation's receivers, in one
    /// transaction, and only if the ticket is still at `expected_version`: `false` (nothing
    /// written) when someone changed it since it was read; the next sweep decides again.
    pub async fn apply_sweep(
        &self,
        expected_version: i64,
        outcome: &SweepOutcome,
        notifications: &[super::OutboxRow],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let t = &outcome.ticket;
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE tickets SET tier = $1, escalation_level = $2, ack_breached_at = $3, \
             resolve_breached_at = $4, updated_at = $5, highest_tier = $6, version = version + 1 \
             WHERE id = $7 AND version = $8",
        )
        .bind(t.tier.as_str())
        .bind(t.escalation_level)
        .bind(t.ack_breached_at_ms)
        .bind(t.resolve_breached_at_ms)
        .bind(t.updated_at_ms)
        .bind(t.highest_tier.as_str())
        .bind(&t.id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        for row in notifications {
            super::outbox::insert_row(&mut tx, row).await?;
        }
        let events: Vec<_> = outcome
            .events
            .iter()
            .map(|(e, detail)| (t.id.as_str(), e.clone(), detail.as_str()))
            .collect();
        record_events(&mut tx, now_ms, &events).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// What `GET /api/v1/tickets/stats` groups by: a column of `tickets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsGroup {
    Provider,
    /// `provider/connection`: connection ids are unique within a provider only.
    Connection,
    Alertname,
    Severity,
    Tier,
    Priority,
}

impl StatsGroup {
    pub const ALL: [StatsGroup; 6] = [
        StatsGroup::Provider,
        StatsGroup::Connection,
        StatsGroup::Alertname,
        StatsGroup::Severity,
        StatsGroup::Tier,
        StatsGroup::Priority,
    ];

    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            StatsGroup::Provider => "provider",
            StatsGroup::Connection => "connection",
            StatsGroup::Alertname => "alertname",
            StatsGroup::Severity => "severity",
            StatsGroup::Tier => "tier",
            StatsGroup::Priority => "priority",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// Its value in SQL, from a fixed list (no outside text).
    fn column(self) -> &'static str {
        match self {
            StatsGroup::Connection => {
                "CASE WHEN connection IS NULL THEN NULL \
                 ELSE COALESCE(provider, '') || '/' || connection END"
            }
            other => other.as_str(),
        }
    }
}

impl Store {
    /// The tallies of the tickets created in `[since_ms, until_ms)`, one per value of `group`
    /// (`""` for a ticket without one), or one for all of them (named `""`) without a group,
    /// in the order of their names. The groups of a window add up to its whole
    /// ([`TicketTally::add`]).
    ///
    /// The window is counted in slices at once, one reader connection each (a core each), and
    /// the slices added up. For each slice the database counts in one pass and sends one row
    /// per group: the counts, and the group's durations as one comma-separated text
    /// (`string_agg`, SQLite ≥ 3.44 and PostgreSQL), so the percentiles stay exact without a
    /// row per ticket crossing the driver. A ticket repeats when the previous ticket of its key
    /// was created in the window; it is its key's first repeat there when the one before that
    /// was not.
    pub async fn ticket_tallies(
        &self,
        since_ms: i64,
        until_ms: i64,
        group: Option<StatsGroup>,
    ) -> Result<Vec<(String, TicketTally)>, StoreError> {
        let slices = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, READER_SLICES) as i64;
        let step = ((until_ms - since_ms) / slices).max(1);
        let parts = futures::future::try_join_all((0..slices).map(|i| {
            let from = since_ms + i * step;
            let to = if i == slices - 1 {
                until_ms
            } else {
                from + step
            };
            self.tally_slice(since_ms, from.min(until_ms), to, group)
        }))
        .await?;
        let mut tallies: BTreeMap<String, TicketTally> = BTreeMap::new();
        for (name, t) in parts.into_iter().flatten() {
            tallies.entry(name).or_default().add(t);
        }
        Ok(tallies.into_iter().collect())
    }

    /// The tallies of the tickets created in `[from_ms, to_ms)`, repeats counted from
    /// `since_ms` (the whole window's start).
    async fn tally_slice(
        &self,
        since_ms: i64,
        from_ms: i64,
        to_ms: i64,
        group: Option<StatsGroup>,
    ) -> Result<Vec<(String, TicketTally)>, StoreError> {
        // The group is a column name from a fixed list.
        let column = group.map_or("''", StatsGroup::column);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE({column}, '') AS grp, COUNT(*) AS tickets, \
               SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS open, \
               SUM(CASE WHEN status = 'acknowledged' THEN 1 ELSE 0 END) AS acknowledged, \
               SUM(CASE WHEN status = 'resolved' THEN 1 ELSE 0 END) AS resolved, \
               SUM(CASE WHEN status = 'closed' THEN 1 ELSE 0 END) AS closed, \
               SUM(CASE WHEN highest_tier IN ('L2', 'L3') THEN 1 ELSE 0 END) AS l2, \
               SUM(CASE WHEN highest_tier = 'L3' THEN 1 ELSE 0 END) AS l3, \
               COUNT(ack_breached_at) AS ack_breached, \
               COUNT(resolve_breached_at) AS resolve_breached, \
               SUM(CASE WHEN status IN ('resolved', 'closed') AND resolved_at IS NOT NULL \
                   AND highest_tier <> 'L3' THEN 1 ELSE 0 END) AS without_l3, \
               SUM(CASE WHEN previous_created_at >= $1 THEN 1 ELSE 0 END) AS repeats, \
               SUM(CASE WHEN previous_created_at >= $1 AND (second_previous_created_at IS NULL \
                   OR second_previous_created_at < $1) THEN 1 ELSE 0 END) AS repeated_keys, \
               string_agg(CAST(acknowledged_at - created_at AS TEXT), ',') AS ack_ms, \
               string_agg(CASE WHEN status IN ('resolved', 'closed') \
                   THEN CAST(resolved_at - created_at AS TEXT) END, ',') AS resolve_ms \
             FROM tickets WHERE created_at >= $2 AND created_at < $3 \
             GROUP BY COALESCE({column}, '')"
        )))
        .bind(since_ms)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.reader)
        .await?;
        let count = |r: &AnyRow, c: &str| -> Result<usize, StoreError> {
            let n: Option<i64> = r.try_get(c)?;
            Ok(n.unwrap_or(0).max(0) as usize)
        };
        let durations = |r: &AnyRow, c: &str| -> Result<Vec<i64>, StoreError> {
            let text: Option<String> = r.try_get(c)?;
            text.as_deref()
                .unwrap_or("")
                .split(',')
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse()
                        .map_err(|_| StoreError::Corrupt(format!("ticket {c} duration {v:?}")))
                })
                .collect()
        };
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("grp")?,
                    TicketTally {
                        tickets: count(r, "tickets")?,
                        by_status: [
                            count(r, "open")?,
                            count(r, "acknowledged")?,
                            count(r, "resolved")?,
                            count(r, "closed")?,
                        ],
                        acknowledge_ms: durations(r, "ack_ms")?,
                        resolve_ms: durations(r, "resolve_ms")?,
                        reached_l2: count(r, "l2")?,
                        reached_l3: count(r, "l3")?,
                        ack_breached: count(r, "ack_breached")?,
                        resolve_breached: count(r, "resolve_breached")?,
                        resolved_without_l3: count(r, "without_l3")?,
                        repeat_tickets: count(r, "repeats")?,
                        repeated_keys: count(r, "repeated_keys")?,
                    },
                ))
            })
            .collect()
    }

    /// How many open and acknowledged tickets there are by status and tier (only those
    /// present), read through the `(status, tier)` index: cheap however many tickets were ever
    /// closed.
    pub async fn active_ticket_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, tier, COUNT(*) AS n FROM tickets \
             WHERE status IN ('open', 'acknowledged') GROUP BY status, tier",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("tier")?, r.try_get("n")?)))
            .collect()
    }

    /// How many tickets there are by status and tier, every combination (0 included).
    pub async fn ticket_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT status, tier, COUNT(*) AS n FROM tickets GROUP BY status, tier")
                .fetch_all(&self.reader)
                .await?;
        let mut counts = Vec::new();
        for status in ["open", "acknowledged", "resolved", "closed"] {
            for tier in ["L1", "L2", "L3"] {
                counts.push((status.to_string(), tier.to_string(), 0));
            }
        }
        for r in &rows {
            let (status, tier): (String, String) = (r.try_get("status")?, r.try_get("tier")?);
            let n: i64 = r.try_get("n")?;
            match counts
                .iter_mut()
                .find(|(s, t, _)| *s == status && *t == tier)
            {
                Some(c) => c.2 = n,
                None => counts.push((status, tier, n)),
            }
        }
        Ok(counts)
    }
}

/// A comment on a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredComment {
    pub id: String,
    pub ticket_id: String,
    pub at_ms: i64,
    pub actor: String,
    /// `internal` (support only) or `public` (may be shown to the customer).
    pub visibility: String,
    /// Markdown.
    pub body: String,
}

impl Store {
    /// Adds a comment to ticket `ticket_id` with its `commented` event; `None` when there is
    /// no such ticket. The ticket itself (and its ETag) does not change.
    pub async fn add_comment(
        &self,
        ticket_id: &str,
        actor: &str,
        visibility: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<Option<StoredComment>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT id FROM tickets WHERE id = $1")
            .bind(ticket_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let comment = StoredComment {
            id: new_id(),
            ticket_id: ticket_id.to_string(),
            at_ms: now_ms,
            actor: actor.to_string(),
            visibility: visibility.to_string(),
            body: body.to_string(),
        };
        sqlx::query(
            "INSERT INTO ticket_comments (id, ticket_id, at, actor, visibility, body) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&comment.id)
        .bind(ticket_id)
        .bind(now_ms)
        .bind(actor)
        .bind(visibility)
        .bind(body)
        .execute(&mut *tx)
        .await?;
        let event = TicketEvent {
            kind: "commented",
            actor: actor.to_string(),
            from: None,
            to: Some(visibility.to_string()),
        };
        record_events(&mut tx, now_ms, &[(ticket_id, event, &comment.id)]).await?;
        tx.commit().await?;
        Ok(Some(comment))
    }

    /// A ticket's comments, oldest first.
    pub async fn ticket_comments(&self, ticket_id: &str) -> Result<Vec<StoredComment>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, ticket_id, at, actor, visibility, body FROM ticket_comments \
             WHERE ticket_id = $1 ORDER BY at, id",
        )
        .bind(ticket_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredComment {
                    id: r.try_get("id")?,
                    ticket_id: r.try_get("ticket_id")?,
                    at_ms: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    visibility: r.try_get("visibility")?,
                    body: r.try_get("body")?,
                })
            })
            .collect()
    }
}

/// An event syncwatch itself records (the alert opened, counted, resolved or reopened the
/// ticket), without from/to values.
fn by_syncwatch(kind: &'static str) -> TicketEvent {
    TicketEvent {
        kind,
        actor: "syncwatch".into(),
        from: None,
        to: None,
    }
}

/// Appends events (ticket id, event, detail) to the tickets' histories, numbered for the feed.
///
/// The numbers come from the one row of `ticket_event_seq`, updated here: its lock is held
/// until the transaction ends, so transactions recording events number them in the order they
/// commit, and a feed reader that has seen number N never later finds an event below N (a
/// sequence or autoincrement would not give that on PostgreSQL: numbers are taken in one order
/// and committed in another). Call it after the transaction's other writes, so the lock is
/// the last one taken and held briefly.
async fn record_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    at: i64,
    events: &[(&str, TicketEvent, &str)],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let last: i64 =
        sqlx::query("UPDATE ticket_event_seq SET last = last + $1 WHERE id = 1 RETURNING last")
            .bind(events.len() as i64)
            .fetch_one(&mut **tx)
            .await?
            .try_get("last")?;
    let first = last - events.len() as i64 + 1;
    for (i, (ticket_id, e, detail)) in events.iter().enumerate() {
        sqlx::query(
            "INSERT INTO ticket_events (id, ticket_id, at, kind, detail, actor, from_value, to_value, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new_id())
        .bind(*ticket_id)
        .bind(at)
        .bind(e.kind)
        .bind(*detail)
        .bind(e.actor.clone())
        .bind(e.from.clone())
        .bind(e.to.clone())
        .bind(first + i as i64)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A ticket's escalation policy as stored: JSON, or NULL when it has none.
fn policy_json(p: &EscalationPolicy) -> Result<Option<String>, StoreError> {
    if p.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(p)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

const EVENT_COLUMNS: &str = "seq, id, ticket_id, at, kind, actor, from_value, to_value, detail";

fn event_from_row(r: &AnyRow) -> Result<StoredTicketEvent, StoreError> {
    Ok(StoredTicketEvent {
        seq: r.try_get("seq")?,
        id: r.try_get("id")?,
        ticket_id: r.try_get("ticket_id")?,
        at_ms: r.try_get("at")?,
        kind: r.try_get("kind")?,
        actor: r.try_get("actor")?,
        from: r.try_get("from_value")?,
        to: r.try_get("to_value")?,
        detail: r.try_get("detail")?,
    })
}

pub(super) fn ticket_from_row(r: &AnyRow) -> Result<Ticket, StoreError> {
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("ticket {what} {v:?}"));
    let s = |c: &str| r.try_get::<String, _>(c);
    let o = |c: &str| r.try_get::<Option<String>, _>(c);
    let status = s("status")?;
    let priority = s("priority")?;
    let tier = s("tier")?;
    let labels: Labels =
        serde_json::from_str(&s("labels")?).map_err(|e| corrupt("labels", &e.to_string()))?;
    let runbook = match (o("runbook_id")?, o("runbook_title")?, o("runbook_url")?) {
        (Some(id), Some(title), Some(url)) => Some(RunbookRef { id, title, url }),
        _ => None,
    };
    Ok(Ticket {
        id: s("id")?,
        dedup_key: s("dedup_key")?.into(),
        status: TicketStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        severity: Severity::from_label(Some(&s("severity")?)),
        priority: Priority::parse(&priority).ok_or_else(|| corrupt("priority", &priority))?,
        tier: Tier::parse(&tier).ok_or_else(|| corrupt("tier", &tier))?,
        title: s("title")?,
        summary: s("summary")?,
        labels,
        provider: o("provider")?,
        connection: o("connection")?,
        alertname: s("alertname")?,
        runbook,
        assignee: o("assignee")?,
        occurrences: r.try_get("occurrences")?,
        created_at_ms: r.try_get("created_at")?,
        acknowledged_at_ms: r.try_get("acknowledged_at")?,
        resolved_at_ms: r.try_get("resolved_at")?,
        closed_at_ms: r.try_get("closed_at")?,
        updated_at_ms: r.try_get("updated_at")?,
        resolution: o("resolution")?,
        resolved_by: o("resolved_by")?,
        version: r.try_get("version")?,
        escalation: match o("escalation_policy")? {
            None => EscalationPolicy::default(),
            Some(j) => serde_json::from_str(&j)
                .map_err(|e| corrupt("escalation_policy", &e.to_string()))?,
        },
        escalation_level: r.try_get("escalation_level")?,
        open_since_ms: r
            .try_get::<Option<i64>, _>("open_since")?
            .unwrap_or_default(),
        ack_breached_at_ms: r.try_get("ack_breached_at")?,
        resolve_breached_at_ms: r.try_get("resolve_breached_at")?,
        highest_tier: {
            let t = s("highest_tier")?;
            Tier::parse(&t).ok_or_else(|| corrupt("highest_tier", &t))?
        },
    })
}
