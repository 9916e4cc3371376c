//! The `ticket_webhook_cursors` table: how far each ticket webhook has taken the feed of ticket
//! events. Moving a cursor and enqueueing the events it passes are one transaction, so an event
//! is enqueued for a webhook exactly once, whatever stops in between.

use sqlx::Row;

use super::{OutboxRow, Store, StoreError};

impl Store {
    /// Where webhook `webhook` is in the feed. A webhook seen for the first time starts at the
    /// feed's end: it gets the events from now on, not the history.
    pub async fn ticket_webhook_cursor(&self, webhook: &str) -> Result<i64, StoreError> {
        sqlx::query(
            "INSERT INTO ticket_webhook_cursors (webhook, after_seq) \
             SELECT $1, last FROM ticket_event_seq WHERE id = 1 ON CONFLICT (webhook) DO NOTHING",
        )
        .bind(webhook)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query("SELECT after_seq FROM ticket_webhook_cursors WHERE webhook = $1")
                .bind(webhook)
                .fetch_one(&self.pool)
                .await?
                .try_get("after_seq")?,
        )
    }

    /// Enqueues `rows` (the events of the feed after `from` up to `to` that `webhook` wants)
    /// and moves its cursor from `from` to `to`, in one transaction. `false`, with nothing
    /// written, when the cursor is no longer at `from` (another process forwarded them).
    pub async fn forward_ticket_events(
        &self,
        webhook: &str,
        from: i64,
        to: i64,
        rows: &[OutboxRow],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE ticket_webhook_cursors SET after_seq = $1 WHERE webhook = $2 AND after_seq = $3",
        )
        .bind(to)
        .bind(webhook)
        .bind(from)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !moved {
            return Ok(false);
        }
        for row in rows {
            super::outbox::insert_row(&mut tx, row).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
