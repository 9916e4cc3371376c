//! The `silences` table.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Creates or replaces a silence.
    pub async fn save_silence(
        &self,
        s: &crate::domain::silence::Silence,
    ) -> Result<(), StoreError> {
        let matchers = serde_json::to_string(&s.api_matchers)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM silences WHERE id = $1")
            .bind(&s.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id)
        .bind(matchers)
        .bind(s.starts_at_ms)
        .bind(s.ends_at_ms)
        .bind(&s.created_by)
        .bind(&s.comment)
        .bind(s.updated_at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn load_silences(&self) -> Result<Vec<crate::domain::silence::Silence>, StoreError> {
        let rows = sqlx::query("SELECT * FROM silences ORDER BY updated_at")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let matchers: Vec<crate::domain::silence::ApiMatcher> =
                    serde_json::from_str(&r.try_get::<String, _>("matchers")?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                crate::domain::silence::Silence::new(
                    r.try_get("id")?,
                    matchers,
                    r.try_get("starts_at")?,
                    r.try_get("ends_at")?,
                    r.try_get("created_by")?,
                    r.try_get("comment")?,
                    r.try_get("updated_at")?,
                )
                .or_else(|e| match e {
                    // An expired silence may have ended when it started; it is kept as history.
                    crate::domain::silence::SilenceError::EndBeforeStart => {
                        Ok(crate::domain::silence::Silence {
                            id: r.try_get("id")?,
                            matchers: vec![],
                            api_matchers: serde_json::from_str(
                                &r.try_get::<String, _>("matchers")?,
                            )
                            .unwrap_or_default(),
                            starts_at_ms: r.try_get("starts_at")?,
                            ends_at_ms: r.try_get("ends_at")?,
                            created_by: r.try_get("created_by")?,
                            comment: r.try_get("comment")?,
                            updated_at_ms: r.try_get("updated_at")?,
                        })
                    }
                    other => Err(StoreError::Corrupt(other.to_string())),
                })
            })
            .collect()
    }
}
