//! The `outbox` table: notifications written before they are sent, and the claims that make
//! each delivery attempt belong to exactly one poller.
//!
//! A row's life: `pending` → (claimed) `sending` → `delivered`, `failed` (given up), back to
//! `pending` (a retry), or `superseded` (a newer row of its stream carried the group's state).
//! Every change after the claim is guarded on the claim (`status = 'sending' AND claimed_by`),
//! so a poller whose claim lapsed cannot undo what another recorded.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{NotificationLogEntry, Store, StoreError};

/// What an outbox row carries, which decides how its stream is delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutboxKind {
    /// An alert group's whole state ([`crate::notify::Notification`]): of a stream's waiting
    /// rows only the newest is sent; it supersedes the older ones.
    #[default]
    Notification,
    /// One ticket event for a ticket webhook: every row of a stream is sent, oldest first.
    TicketEvent,
}

impl OutboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Notification => "notification",
            OutboxKind::TicketEvent => "ticket_event",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "notification" => Ok(OutboxKind::Notification),
            "ticket_event" => Ok(OutboxKind::TicketEvent),
            other => Err(StoreError::Corrupt(format!("outbox kind {other:?}"))),
        }
    }
}

/// A notification waiting in (or delivered from) the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: String,
    pub kind: OutboxKind,
    pub receiver: String,
    /// Which integration of the receiver (`slack/0`, `email/1`, …).
    pub integration: String,
    pub group_key: String,
    /// The notification, as JSON.
    pub payload: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub created_at_ms: i64,
    /// When the claim of the poller delivering it lapses (Unix ms); `None` while it waits.
    pub claimed_until_ms: Option<i64>,
}

/// One poller's claim on a row: who holds it and until when (Unix ms).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxClaim {
    pub owner: String,
    pub now_ms: i64,
    pub until_ms: i64,
}

/// An unsettled row of the same stream older than `outbox`'s row (for ticket events, which go
/// in order).
const OLDER_UNSETTLED: &str = "SELECT 1 FROM outbox older WHERE older.receiver = outbox.receiver \
     AND older.integration = outbox.integration AND older.group_key = outbox.group_key \
     AND older.status IN ('pending', 'sending') \
     AND (older.created_at < outbox.created_at OR (older.created_at = outbox.created_at AND older.id < outbox.id))";

const COLUMNS: &str = "id, kind, receiver, integration, group_key, payload, attempts, next_attempt_at, created_at, \
     CASE WHEN status = 'sending' THEN claimed_until ELSE NULL END AS claim";

fn outbox_row(r: &AnyRow) -> Result<OutboxRow, StoreError> {
    Ok(OutboxRow {
        id: r.try_get("id")?,
        kind: OutboxKind::parse(&r.try_get::<String, _>("kind")?)?,
        receiver: r.try_get("receiver")?,
        integration: r.try_get("integration")?,
        group_key: r.try_get("group_key")?,
        payload: r.try_get("payload")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at_ms: r.try_get("next_attempt_at")?,
        created_at_ms: r.try_get("created_at")?,
        claimed_until_ms: r.try_get("claim")?,
    })
}

/// Adds a waiting row to the outbox within `tx` (a flush, an escalation: written with what
/// caused it, or not at all).
pub(super) async fn insert_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    row: &OutboxRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (id, kind, receiver, integration, group_key, payload, status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(row.kind.as_str())
    .bind(&row.receiver)
    .bind(&row.integration)
    .bind(&row.group_key)
    .bind(&row.payload)
    .bind(row.attempts)
    .bind(row.next_attempt_at_ms)
    .bind(row.created_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Writes a flush in one transaction: its outbox rows and the group's notification-log entry
    /// (removed when nothing is left firing). Either both are stored or neither.
    pub async fn enqueue_flush(
        &self,
        rows: &[OutboxRow],
        log: &NotificationLogEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for row in rows {
            insert_row(&mut tx, row).await?;
        }
        sqlx::query("DELETE FROM notification_log WHERE group_key = $1 AND receiver = $2")
            .bind(&log.group_key)
            .bind(&log.receiver)
            .execute(&mut *tx)
            .await?;
        if !log.firing.is_empty() {
            let firing = super::fingerprints_json(&log.firing);
            sqlx::query("INSERT INTO notification_log (group_key, receiver, firing, sent_at) VALUES ($1, $2, $3, $4)")
                .bind(&log.group_key)
                .bind(&log.receiver)
                .bind(firing)
                .bind(log.sent_at_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rows not yet settled (waiting or being sent), oldest first: every row that will ever be
    /// due. A row being sent has its claim's end in `claimed_until_ms`.
    pub async fn pending_notifications(&self, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        self.due_notifications(i64::MAX, limit).await
    }

    /// The rows a poller may act on at `now_ms`, oldest first: those being sent (their streams
    /// wait) and those waiting whose time has come. Rows backing off are left out, so a dead
    /// integration's backlog never fills the `limit` ahead of the others. A ticket event is
    /// listed only when it is the oldest unsettled row of its stream: while the event before it
    /// backs off, it waits (events of a ticket are delivered in order).
    pub async fn due_notifications(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        // Only constants are spliced in.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM outbox \
             WHERE status = 'sending' OR (status = 'pending' AND next_attempt_at <= $1 \
               AND (kind = 'notification' OR NOT EXISTS ({OLDER_UNSETTLED}))) \
             ORDER BY created_at, id LIMIT $2"
        )))
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_row).collect()
    }

    /// Claims `row` for delivery, superseding the older waiting rows of its stream when it is a
    /// notification (`row` carries the group's current state; ticket events supersede nothing),
    /// and sets its attempt count to `attempts` (the
    /// stream's backoff goes on). `false` when the row is no longer to be sent by this caller:
    /// another poller holds it or a row of its stream, or it was settled since it was read.
    ///
    /// On PostgreSQL the stream's unsettled rows are locked first (`FOR UPDATE`), so two
    /// claimers of one stream take turns and the second sees the first's claim; SQLite
    /// serialises writers anyway.
    pub async fn claim_notification(
        &self,
        row: &OutboxRow,
        attempts: i64,
        claim: &OutboxClaim,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !self.sqlite {
            sqlx::query(
                "SELECT id FROM outbox WHERE receiver = $1 AND integration = $2 AND group_key = $3 \
                 AND status IN ('pending', 'sending') FOR UPDATE",
            )
            .bind(&row.receiver)
            .bind(&row.integration)
            .bind(&row.group_key)
            .fetch_all(&mut *tx)
            .await?;
        }
        // Only constants are spliced in.
        let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET status = 'sending', claimed_by = $1, claimed_until = $2, attempts = $3 \
             WHERE id = $4 AND (status = 'pending' OR (status = 'sending' AND claimed_until < $5)) \
             AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.receiver = $6 AND o.integration = $7 \
               AND o.group_key = $8 AND o.id <> $4 AND o.status = 'sending' AND o.claimed_until >= $5) \
             AND (kind = 'notification' OR NOT EXISTS ({OLDER_UNSETTLED}))"
        )))
        .bind(&claim.owner)
        .bind(claim.until_ms)
        .bind(attempts)
        .bind(&row.id)
        .bind(claim.now_ms)
        .bind(&row.receiver)
        .bind(&row.integration)
        .bind(&row.group_key)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            tx.rollback().await?;
            return Ok(false);
        }
        if row.kind == OutboxKind::TicketEvent {
            // Each event is sent: nothing is superseded.
            tx.commit().await?;
            return Ok(true);
        }
        // Older rows waiting, or left `sending` by a claim that lapsed (a poller that died, or
        // whose record of the outcome failed): the newer state replaces them, so none of them
        // can be sent after it.
        sqlx::query(
            "UPDATE outbox SET status = 'superseded', claimed_by = NULL \
             WHERE receiver = $1 AND integration = $2 AND group_key = $3 \
             AND (status = 'pending' OR (status = 'sending' AND claimed_until < $6)) \
             AND (created_at < $4 OR (created_at = $4 AND id < $5))",
        )
        .bind(&row.receiver)
        .bind(&row.integration)
        .bind(&row.group_key)
        .bind(row.created_at_ms)
        .bind(&row.id)
        .bind(claim.now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a delivery under `owner`'s claim. `false` when the claim was no longer
    /// `owner`'s (it lapsed and another poller took the row): nothing is changed.
    pub async fn notification_delivered(
        &self,
        id: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE outbox SET status = 'delivered', delivered_at = $1, last_error = NULL, claimed_by = NULL \
             WHERE id = $2 AND status = 'sending' AND claimed_by = $3",
        )
        .bind(now_ms)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Records a failed attempt under `owner`'s claim: `retry_at` schedules another (the row
    /// waits again), `None` gives up. `false`, changing nothing, when the claim was lost.
    pub async fn notification_failed(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let (status, next) = match retry_at_ms {
            Some(t) => ("pending", t),
            None => ("failed", 0),
        };
        Ok(sqlx::query(
            "UPDATE outbox SET status = $1, next_attempt_at = $2, last_error = $3, claimed_by = NULL \
             WHERE id = $4 AND status = 'sending' AND claimed_by = $5",
        )
        .bind(status)
        .bind(next)
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Gives up a row that cannot be sent at all (unreadable, or its receiver is gone), whoever
    /// holds it.
    pub async fn notification_dropped(&self, id: &str, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = 'failed', last_error = $1, claimed_by = NULL \
             WHERE id = $2 AND status IN ('pending', 'sending')",
        )
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// After a delivery to `receiver`'s `integration` succeeded, its other waiting rows need
    /// not wait out their backoff: they become due at `now_ms`. Returns how many were waiting.
    pub async fn notifications_due_now(
        &self,
        receiver: &str,
        integration: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1 \
             WHERE receiver = $2 AND integration = $3 AND status = 'pending' AND next_attempt_at > $1",
        )
        .bind(now_ms)
        .bind(receiver)
        .bind(integration)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Puts every row being sent back to waiting: what a process that died was sending. Only
    /// for a single node at start, before any poller runs (replicas let claims lapse instead).
    pub async fn release_outbox_claims(&self) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE outbox SET status = 'pending', claimed_by = NULL WHERE status = 'sending'",
        )
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Counts rows by status (`pending`, `sending`, `delivered`, `failed`, `superseded`).
    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }

    /// Deletes settled rows older than `before_ms` (the log keeps a while).
    pub async fn prune_outbox(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM outbox WHERE status NOT IN ('pending', 'sending') AND created_at < $1",
        )
        .bind(before_ms)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
