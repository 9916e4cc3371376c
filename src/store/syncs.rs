//! The `sync_runs`, `connection_pauses` and `sync_state` tables: each connection's finished
//! runs, which connections are paused, and each stream's saved cursor.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::ErrorClass;

/// One finished sync run.
#[derive(Debug, Clone)]
pub struct SyncRun {
    pub id: String,
    pub provider: String,
    pub connection: String,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    pub records: i64,
    pub pages: i64,
    pub error: Option<(ErrorClass, String)>,
    /// Stream → cursor, before the run and after it.
    pub cursor_before: BTreeMap<String, String>,
    pub cursor_after: BTreeMap<String, String>,
}

impl Store {
    pub async fn insert_sync_run(&self, r: &SyncRun) -> Result<(), StoreError> {
        let json = |m: &BTreeMap<String, String>| {
            serde_json::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        sqlx::query(
            "INSERT INTO sync_runs (id, provider, connection, started_at, finished_at, status, records, pages, error_class, reason, cursor_before, cursor_after) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&r.id)
        .bind(&r.provider)
        .bind(&r.connection)
        .bind(r.started_at_ms)
        .bind(r.finished_at_ms)
        .bind(if r.error.is_some() { "failure" } else { "success" })
        .bind(r.records)
        .bind(r.pages)
        .bind(r.error.as_ref().map(|(c, _)| c.as_str().to_string()))
        .bind(r.error.as_ref().map(|(_, reason)| reason.clone()))
        .bind(json(&r.cursor_before)?)
        .bind(json(&r.cursor_after)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A connection's runs, newest first; `before` continues a listing (an opaque cursor).
    pub async fn list_sync_runs(
        &self,
        provider: &str,
        connection: &str,
        before: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<SyncRun>, StoreError> {
        let (at, id) = before.unwrap_or((i64::MAX, String::new()));
        let rows = sqlx::query(
            "SELECT id, provider, connection, started_at, finished_at, records, pages, error_class, reason, cursor_before, cursor_after \
             FROM sync_runs WHERE provider = $1 AND connection = $2 AND (started_at < $3 OR (started_at = $3 AND id < $4)) \
             ORDER BY started_at DESC, id DESC LIMIT $5",
        )
        .bind(provider)
        .bind(connection)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let cursors = |s: Option<String>| -> Result<BTreeMap<String, String>, StoreError> {
            match s {
                None => Ok(BTreeMap::new()),
                Some(s) => serde_json::from_str(&s)
                    .map_err(|e| StoreError::Corrupt(format!("sync_runs cursor: {e}"))),
            }
        };
        rows.iter()
            .map(|r| {
                let class: Option<String> = r.try_get("error_class")?;
                let reason: Option<String> = r.try_get("reason")?;
                let error = match class {
                    Some(c) => Some((
                        ErrorClass::parse(&c).ok_or_else(|| {
                            StoreError::Corrupt(format!("sync_runs.error_class {c:?}"))
                        })?,
                        reason.unwrap_or_default(),
                    )),
                    None => None,
                };
                Ok(SyncRun {
                    id: r.try_get("id")?,
                    provider: r.try_get("provider")?,
                    connection: r.try_get("connection")?,
                    started_at_ms: r.try_get("started_at")?,
                    finished_at_ms: r.try_get("finished_at")?,
                    records: r.try_get("records")?,
                    pages: r.try_get("pages")?,
                    error,
                    cursor_before: cursors(r.try_get("cursor_before")?)?,
                    cursor_after: cursors(r.try_get("cursor_after")?)?,
                })
            })
            .collect()
    }

    /// The paused connections of a provider.
    pub async fn paused_connections(&self, provider: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT connection FROM connection_pauses WHERE provider = $1")
            .bind(provider)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("connection")?)).collect()
    }

    /// Pauses (`true`) or resumes a connection.
    pub async fn set_paused(
        &self,
        provider: &str,
        connection: &str,
        paused: bool,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if paused {
            sqlx::query(
                "INSERT INTO connection_pauses (provider, connection, paused_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (provider, connection) DO NOTHING",
            )
            .bind(provider)
            .bind(connection)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query("DELETE FROM connection_pauses WHERE provider = $1 AND connection = $2")
                .bind(provider)
                .bind(connection)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// The saved cursors of a connection's streams.
    /// Every saved cursor of a provider: connection → stream → cursor.
    pub async fn load_cursors(
        &self,
        provider: &str,
    ) -> Result<HashMap<String, BTreeMap<String, String>>, StoreError> {
        let rows =
            sqlx::query("SELECT connection, stream, cursor FROM sync_state WHERE provider = $1")
                .bind(provider)
                .fetch_all(&self.pool)
                .await?;
        let mut out: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        for r in &rows {
            out.entry(r.try_get("connection")?)
                .or_default()
                .insert(r.try_get("stream")?, r.try_get("cursor")?);
        }
        Ok(out)
    }

    /// Saves a stream's cursor (replacing the previous one).
    pub async fn save_cursor(
        &self,
        provider: &str,
        connection: &str,
        stream: &str,
        cursor: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sync_state (provider, connection, stream, cursor, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (provider, connection, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(provider)
        .bind(connection)
        .bind(stream)
        .bind(cursor)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
