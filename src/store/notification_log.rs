//! The `notification_log` table: what each alert group last notified to each receiver
//! (Alertmanager's nflog), written with the flush's outbox rows.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::Fingerprint;

/// One entry of the notification log: what a group last notified to a receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationLogEntry {
    pub group_key: String,
    pub receiver: String,
    /// The firing alerts in that notification (stored as a JSON array of their hex
    /// fingerprints).
    pub firing: Vec<Fingerprint>,
    pub sent_at_ms: i64,
}

/// Fingerprints as a JSON array of their hex forms (`["00000000000000aa", …]`), written
/// directly: a million-alert group's entry is 19 bytes an alert with no intermediate strings.
pub(crate) fn fingerprints_json(fps: &[Fingerprint]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + fps.len() * 19);
    out.push('[');
    for (i, fp) in fps.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{fp}\"");
    }
    out.push(']');
    out
}

/// Reads what [`fingerprints_json`] wrote.
fn parse_fingerprints(json: &str) -> Result<Vec<Fingerprint>, String> {
    let hex: Vec<&str> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    hex.into_iter()
        .map(|h| Fingerprint::parse(h).ok_or_else(|| format!("{h:?} is not a fingerprint")))
        .collect()
}

impl Store {
    /// The notification log, after deleting entries last written before `before_ms`.
    pub async fn load_notification_log(
        &self,
        before_ms: i64,
    ) -> Result<Vec<NotificationLogEntry>, StoreError> {
        sqlx::query("DELETE FROM notification_log WHERE sent_at < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query("SELECT group_key, receiver, firing, sent_at FROM notification_log")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let firing: String = r.try_get("firing")?;
                Ok(NotificationLogEntry {
                    group_key: r.try_get("group_key")?,
                    receiver: r.try_get("receiver")?,
                    firing: parse_fingerprints(&firing).map_err(|e| {
                        StoreError::Corrupt(format!("notification_log.firing: {e}"))
                    })?,
                    sent_at_ms: r.try_get("sent_at")?,
                })
            })
            .collect()
    }
}
