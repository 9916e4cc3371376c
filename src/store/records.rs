//! The `records` table: what the store stage keeps, one row per (provider, stream, record id).

use sqlx::Row;

use super::{Store, StoreError};

/// A record for the `records` table.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub provider: String,
    pub stream: String,
    pub record_id: String,
    pub connection: String,
    pub payload: String,
}

impl Store {
    /// Upserts records by (provider, stream, record id): replays never duplicate. Rows go in
    /// multi-row statements (a few hundred rows each), in one transaction.
    pub async fn upsert_records(
        &self,
        records: &[StoredRecord],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        // Six parameters a row; SQLite accepts 32,766 in a statement, PostgreSQL 65,535.
        const ROWS: usize = 1_000;
        // One batch may hold the same record twice (a provider paging over a changing list):
        // a statement may touch a row once, so the last copy wins.
        let mut last = std::collections::HashMap::new();
        for (i, r) in records.iter().enumerate() {
            last.insert((&r.provider, &r.stream, &r.record_id), i);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        let sqlite = self.sqlite;
        let statement = |chunk: &[usize]| {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    if sqlite {
                        return "(?, ?, ?, ?, ?, ?)".to_string();
                    }
                    let b = i * 6;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO records (provider, stream, record_id, connection, payload, updated_at) VALUES {} \
                 ON CONFLICT (provider, stream, record_id) DO UPDATE SET \
                 connection = excluded.connection, payload = excluded.payload, updated_at = excluded.updated_at",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for &i in chunk {
                let r = &records[i];
                q = q
                    .bind(r.provider.as_str())
                    .bind(r.stream.as_str())
                    .bind(r.record_id.as_str())
                    .bind(r.connection.as_str())
                    .bind(r.payload.as_str())
                    .bind(now_ms);
            }
            q
        };
        if keep.is_empty() {
            return Ok(());
        }
        if keep.len() <= ROWS {
            // One statement is atomic by itself: no transaction round trips.
            statement(&keep).execute(&self.pool).await?;
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in keep.chunks(ROWS) {
            statement(chunk).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn count_records(&self, provider: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM records WHERE provider = $1")
            .bind(provider)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Stored record payloads of a provider (JSON text), by record id.
    pub async fn record_payloads(
        &self,
        provider: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT payload FROM records WHERE provider = $1 ORDER BY record_id LIMIT $2",
        )
        .bind(provider)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("payload")?))
            .collect()
    }

    pub async fn count_records_of_connection(
        &self,
        provider: &str,
        connection: &str,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM records WHERE provider = $1 AND connection = $2",
        )
        .bind(provider)
        .bind(connection)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}
