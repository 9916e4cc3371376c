//! The `alert_state` table: the rules' pending and firing alerts, so a restart resumes them.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::Labels;

/// One persisted alert of an alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub group: String,
    pub rule: String,
    pub labels: Labels,
    pub annotations: std::collections::BTreeMap<String, String>,
    pub state: crate::domain::AlertState,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub keep_firing_since_ms: Option<i64>,
    pub value: f64,
}

impl Store {
    /// Replaces the persisted alerts of the given rules (`(group, rule)` → its alerts now).
    pub async fn replace_alert_states(
        &self,
        rules: &[((String, String), Vec<StoredAlert>)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for ((group, rule), alerts) in rules {
            sqlx::query("DELETE FROM alert_state WHERE group_name = $1 AND rule = $2")
                .bind(group)
                .bind(rule)
                .execute(&mut *tx)
                .await?;
            for a in alerts {
                let labels = serde_json::to_string(&a.labels)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let annotations = serde_json::to_string(&a.annotations)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO alert_state (group_name, rule, fingerprint, labels, annotations, state, active_at, fired_at, keep_firing_since, value) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(group)
                .bind(rule)
                .bind(a.labels.fingerprint().to_string())
                .bind(labels)
                .bind(annotations)
                .bind(a.state.as_str())
                .bind(a.active_at_ms)
                .bind(a.fired_at_ms)
                .bind(a.keep_firing_since_ms)
                .bind(a.value)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every persisted alert.
    pub async fn load_alert_states(&self) -> Result<Vec<StoredAlert>, StoreError> {
        let rows = sqlx::query("SELECT * FROM alert_state ORDER BY group_name, rule, active_at")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                let state = match state.as_str() {
                    "pending" => crate::domain::AlertState::Pending,
                    "firing" => crate::domain::AlertState::Firing,
                    other => return Err(StoreError::Corrupt(format!("alert state {other:?}"))),
                };
                Ok(StoredAlert {
                    group: r.try_get("group_name")?,
                    rule: r.try_get("rule")?,
                    labels: serde_json::from_str(&r.try_get::<String, _>("labels")?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    annotations: serde_json::from_str(&r.try_get::<String, _>("annotations")?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    state,
                    active_at_ms: r.try_get("active_at")?,
                    fired_at_ms: r.try_get("fired_at")?,
                    keep_firing_since_ms: r.try_get("keep_firing_since")?,
                    value: r.try_get("value")?,
                })
            })
            .collect()
    }
}
