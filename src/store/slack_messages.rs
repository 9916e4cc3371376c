//! The `slack_messages` table: the Slack message of each group, so a resolution updates it in
//! place.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Remembers the Slack message of a group (replacing an older one).
    pub async fn save_slack_message(
        &self,
        receiver: &str,
        integration: &str,
        group_key: &str,
        channel: &str,
        ts: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM slack_messages WHERE receiver = $1 AND integration = $2 AND group_key = $3")
            .bind(receiver)
            .bind(integration)
            .bind(group_key)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO slack_messages (receiver, integration, group_key, channel, ts, posted_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(receiver)
            .bind(integration)
            .bind(group_key)
            .bind(channel)
            .bind(ts)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The channel and ts of a group's last Slack message.
    pub async fn slack_message(
        &self,
        receiver: &str,
        integration: &str,
        group_key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT channel, ts FROM slack_messages WHERE receiver = $1 AND integration = $2 AND group_key = $3")
            .bind(receiver)
            .bind(integration)
            .bind(group_key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("channel")?, r.try_get("ts")?)))
            .transpose()
    }
}
