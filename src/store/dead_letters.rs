//! The `dlq` table: records a stage failed permanently, until a replay gets them through.

use sqlx::Row;

use super::{Bind, Store, StoreError, make_cursor, new_id};
use crate::domain::ErrorClass;

/// A record a stage failed permanently.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub pipeline: String,
    pub stage: String,
    pub provider: String,
    pub connection: String,
    pub stream: String,
    pub record: String,
    pub error: String,
    pub error_class: ErrorClass,
}

/// A dead letter as stored, with its id, attempts and time.
#[derive(Debug, Clone)]
pub struct StoredDeadLetter {
    pub id: String,
    pub letter: DeadLetter,
    pub attempts: i64,
    pub created_at_ms: i64,
}

/// Which dead letters to list or replay (every field narrows).
#[derive(Debug, Clone, Default)]
pub struct DlqFilter {
    pub ids: Vec<String>,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub provider: Option<String>,
    pub connection: Option<String>,
    pub stream: Option<String>,
    pub error_class: Option<ErrorClass>,
    /// `(created_at, id)` of the last letter of the previous page.
    pub cursor: Option<(i64, String)>,
    pub limit: i64,
}

impl Store {
    pub async fn insert_dead_letters(
        &self,
        letters: &[DeadLetter],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for d in letters {
            sqlx::query(
                "INSERT INTO dlq (id, pipeline, stage, provider, connection, stream, record, error, error_class, attempts, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(new_id())
            .bind(&d.pipeline)
            .bind(&d.stage)
            .bind(&d.provider)
            .bind(&d.connection)
            .bind(&d.stream)
            .bind(&d.record)
            .bind(&d.error)
            .bind(d.error_class.as_str())
            .bind(1i64)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Dead letters, newest first; the cursor of the next page when there is one.
    pub async fn list_dead_letters(
        &self,
        f: &DlqFilter,
    ) -> Result<(Vec<StoredDeadLetter>, Option<String>), StoreError> {
        let mut sql = String::from("SELECT * FROM dlq WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        for (column, value) in [
            ("pipeline", &f.pipeline),
            ("stage", &f.stage),
            ("provider", &f.provider),
            ("connection", &f.connection),
            ("stream", &f.stream),
        ] {
            if let Some(v) = value {
                binds.push(Bind::Text(v.clone()));
                sql.push_str(&format!(" AND {column} = ${}", binds.len()));
            }
        }
        if let Some(c) = f.error_class {
            binds.push(Bind::Text(c.as_str().into()));
            sql.push_str(&format!(" AND error_class = ${}", binds.len()));
        }
        if !f.ids.is_empty() {
            let mut marks = Vec::new();
            for id in &f.ids {
                binds.push(Bind::Text(id.clone()));
                marks.push(format!("${}", binds.len()));
            }
            sql.push_str(&format!(" AND id IN ({})", marks.join(", ")));
        }
        let rows = self.newest_first(sql, binds, &f.cursor, f.limit).await?;
        let mut letters = rows
            .iter()
            .map(|r| {
                let class: String = r.try_get("error_class")?;
                Ok(StoredDeadLetter {
                    id: r.try_get("id")?,
                    letter: DeadLetter {
                        pipeline: r.try_get("pipeline")?,
                        stage: r.try_get("stage")?,
                        provider: r.try_get("provider")?,
                        connection: r.try_get("connection")?,
                        stream: r.try_get("stream")?,
                        record: r.try_get("record")?,
                        error: r.try_get("error")?,
                        error_class: ErrorClass::parse(&class).ok_or_else(|| {
                            StoreError::Corrupt(format!("dlq.error_class {class:?}"))
                        })?,
                    },
                    attempts: r.try_get("attempts")?,
                    created_at_ms: r.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next = if letters.len() as i64 > f.limit {
            letters.truncate(f.limit as usize);
            letters.last().map(|l| make_cursor(l.created_at_ms, &l.id))
        } else {
            None
        };
        Ok((letters, next))
    }

    /// Replayed letters that passed their stage leave the DLQ.
    pub async fn delete_dead_letters(&self, ids: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for id in ids {
            sqlx::query("DELETE FROM dlq WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replayed letters that failed again: one more attempt, and the new error.
    pub async fn retry_failed_dead_letters(
        &self,
        failed: &[(String, ErrorClass, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (id, class, error) in failed {
            sqlx::query(
                "UPDATE dlq SET attempts = attempts + 1, error = $1, error_class = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(class.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many dead letters there are, of one provider's syncs or of all.
    pub async fn dead_letter_total(&self, provider: Option<&str>) -> Result<i64, StoreError> {
        let row = match provider {
            Some(p) => {
                sqlx::query("SELECT COUNT(*) AS n FROM dlq WHERE provider = $1")
                    .bind(p)
                    .fetch_one(&self.reader)
                    .await?
            }
            None => {
                sqlx::query("SELECT COUNT(*) AS n FROM dlq")
                    .fetch_one(&self.reader)
                    .await?
            }
        };
        Ok(row.try_get::<i64, _>("n")?)
    }

    pub async fn count_dead_letters(&self, pipeline: &str, stage: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM dlq WHERE pipeline = $1 AND stage = $2")
            .bind(pipeline)
            .bind(stage)
            .fetch_one(&self.reader)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}
