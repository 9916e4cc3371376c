//! The `assistant_answers` and `embeddings` tables, and the reads that feed the past-ticket
//! index (resolved tickets with their comments).

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};
use crate::domain::ticket::Ticket;

/// An answer of the assistant as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    pub id: String,
    pub created_at_ms: i64,
    pub question: String,
    pub reporter: Option<String>,
    pub provider: Option<String>,
    pub connection: Option<String>,
    pub confidence: f64,
    /// The answer as served (JSON).
    pub answer: String,
    /// `resolved` or `escalated`; `None` until feedback (or a low confidence) decides.
    pub outcome: Option<String>,
    pub outcome_at_ms: Option<i64>,
    pub ticket_id: Option<String>,
}

fn answer_from_row(r: &AnyRow) -> Result<StoredAnswer, StoreError> {
    Ok(StoredAnswer {
        id: r.try_get("id")?,
        created_at_ms: r.try_get("created_at")?,
        question: r.try_get("question")?,
        reporter: r.try_get("reporter")?,
        provider: r.try_get("provider")?,
        connection: r.try_get("connection")?,
        confidence: r.try_get("confidence")?,
        answer: r.try_get("answer")?,
        outcome: r.try_get("outcome")?,
        outcome_at_ms: r.try_get("outcome_at")?,
        ticket_id: r.try_get("ticket_id")?,
    })
}

/// Comments read per statement (one bind each, within SQLite's and PostgreSQL's limits).
const IDS_PER_QUERY: usize = 500;

impl Store {
    /// Stores a new answer.
    pub async fn insert_answer(&self, a: &StoredAnswer) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO assistant_answers (id, created_at, question, reporter, provider, connection, \
             confidence, answer, outcome, outcome_at, ticket_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&a.id)
        .bind(a.created_at_ms)
        .bind(&a.question)
        .bind(a.reporter.clone())
        .bind(a.provider.clone())
        .bind(a.connection.clone())
        .bind(a.confidence)
        .bind(&a.answer)
        .bind(a.outcome.clone())
        .bind(a.outcome_at_ms)
        .bind(a.ticket_id.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The answer `id`, if there is one.
    pub async fn get_answer(&self, id: &str) -> Result<Option<StoredAnswer>, StoreError> {
        sqlx::query("SELECT * FROM assistant_answers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(answer_from_row)
            .transpose()
    }

    /// Records an answer's outcome once: `false` when it already had one (the first stands).
    pub async fn set_answer_outcome(
        &self,
        id: &str,
        outcome: &str,
        ticket_id: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE assistant_answers SET outcome = $1, ticket_id = $2, outcome_at = $3 \
             WHERE id = $4 AND outcome IS NULL",
        )
        .bind(outcome)
        .bind(ticket_id)
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Notes the ticket an escalated answer opened (or found).
    pub async fn set_answer_ticket(&self, id: &str, ticket_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE assistant_answers SET ticket_id = $1 WHERE id = $2")
            .bind(ticket_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Withdraws an outcome whose ticket could not be written, so feedback can try again.
    pub async fn clear_answer_outcome(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE assistant_answers SET outcome = NULL, outcome_at = NULL \
             WHERE id = $1 AND ticket_id IS NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives answers created before `before_ms` and still without an outcome the outcome
    /// `unknown`; how many.
    pub async fn expire_answers(&self, before_ms: i64, now_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE assistant_answers SET outcome = 'unknown', outcome_at = $1 \
             WHERE outcome IS NULL AND created_at < $2",
        )
        .bind(now_ms)
        .bind(before_ms)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Stored vectors of `model` for these content hashes.
    pub async fn embeddings(
        &self,
        model: &str,
        hashes: &[String],
    ) -> Result<HashMap<String, Vec<f32>>, StoreError> {
        let mut out = HashMap::new();
        for chunk in hashes.chunks(IDS_PER_QUERY) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT content_sha256, vector FROM embeddings WHERE model = $1 AND content_sha256 IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(model);
            for h in chunk {
                q = q.bind(h);
            }
            for r in q.fetch_all(&self.reader).await? {
                let bytes: Vec<u8> = r.try_get("vector")?;
                let v = bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                out.insert(r.try_get("content_sha256")?, v);
            }
        }
        Ok(out)
    }

    /// Stores vectors of `model` by content hash (an existing one is kept).
    pub async fn put_embeddings(
        &self,
        model: &str,
        vectors: &[(String, Vec<f32>)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (hash, v) in vectors {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            sqlx::query(
                "INSERT INTO embeddings (model, content_sha256, vector, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (model, content_sha256) DO NOTHING",
            )
            .bind(model)
            .bind(hash)
            .bind(bytes)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Resolved and closed tickets resolved at or after `since_ms`, by id after `after_id`, at
    /// most `limit`: pages of the past-ticket index's first load.
    pub async fn resolved_tickets_page(
        &self,
        since_ms: i64,
        after_id: &str,
        limit: i64,
    ) -> Result<Vec<Ticket>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM tickets WHERE status IN ('resolved', 'closed') \
             AND COALESCE(resolved_at, closed_at, updated_at) >= $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(since_ms)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(super::tickets::ticket_from_row).collect()
    }

    /// The comments of these tickets (bodies, oldest first), by ticket id.
    pub async fn comment_bodies(
        &self,
        ticket_ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in ticket_ids.chunks(IDS_PER_QUERY) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
            let sql = format!(
                "SELECT ticket_id, body FROM ticket_comments WHERE ticket_id IN ({}) ORDER BY at, id",
                marks.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.reader).await? {
                out.entry(r.try_get("ticket_id")?)
                    .or_default()
                    .push(r.try_get("body")?);
            }
        }
        Ok(out)
    }
}
