//! The `idempotency_keys` table: the answer each POST sent with an `Idempotency-Key` got, so
//! that the same request sent again gets the same answer and is not done twice.
//!
//! A key is first reserved (status 0) before the request runs, so two copies of one request
//! racing each other cannot both run: the second finds the reservation.

use sqlx::Row;

use super::{Store, StoreError};

/// What a key already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// Reserved for a request still running.
    InProgress { request_sha256: String },
    /// The answer the request got.
    Answered {
        request_sha256: String,
        status: u16,
        content_type: String,
        body: String,
    },
}

impl Store {
    /// Reserves `key` for a request (hash `request_sha256`), or says what it already holds.
    pub async fn reserve_idempotency_key(
        &self,
        key: &str,
        scope: &str,
        request_sha256: &str,
        now_ms: i64,
    ) -> Result<Option<KeyState>, StoreError> {
        let reserved = sqlx::query(
            "INSERT INTO idempotency_keys (idempotency_key, scope, request_sha256, status, content_type, response, created_at) \
             VALUES ($1, $2, $3, 0, '', '', $4) ON CONFLICT (idempotency_key, scope) DO NOTHING",
        )
        .bind(key)
        .bind(scope)
        .bind(request_sha256)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if reserved > 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT request_sha256, status, content_type, response FROM idempotency_keys \
             WHERE idempotency_key = $1 AND scope = $2",
        )
        .bind(key)
        .bind(scope)
        .fetch_one(&self.pool)
        .await?;
        let request_sha256: String = row.try_get("request_sha256")?;
        let status: i64 = row.try_get("status")?;
        Ok(Some(if status == 0 {
            KeyState::InProgress { request_sha256 }
        } else {
            KeyState::Answered {
                request_sha256,
                status: u16::try_from(status).unwrap_or(500),
                content_type: row.try_get("content_type")?,
                body: row.try_get("response")?,
            }
        }))
    }

    /// Records the answer of the request that reserved `key`.
    pub async fn answer_idempotency_key(
        &self,
        key: &str,
        scope: &str,
        status: u16,
        content_type: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, content_type = $2, response = $3 \
             WHERE idempotency_key = $4 AND scope = $5",
        )
        .bind(i64::from(status))
        .bind(content_type)
        .bind(body)
        .bind(key)
        .bind(scope)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Frees `key` (its request failed on the server's side: sending it again may succeed).
    pub async fn release_idempotency_key(&self, key: &str, scope: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE idempotency_key = $1 AND scope = $2")
            .bind(key)
            .bind(scope)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
