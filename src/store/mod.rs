//! The database: SQLite (embedded, the default) or PostgreSQL, one portable schema
//! (`migrations/`), one code path through sqlx's `Any` driver. Times are Unix milliseconds.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use crate::domain::{ErrorClass, Fingerprint, Labels};

mod idempotency;
mod outbox;
mod ticket_webhooks;
mod tickets;
pub use idempotency::KeyState;
pub use outbox::{OutboxClaim, OutboxKind, OutboxRow};
pub use tickets::{
    StatsGroup, StoredComment, StoredTicketEvent, TicketFilter, TicketPage, TicketUpdate,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write (e.g. a second active ticket for one dedup key).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether trying again later can succeed: the database is unreachable, busy, restarting or
    /// refused a transaction for a conflict with another (PostgreSQL SQLSTATE classes 08, 53,
    /// 57P, 40; SQLite's BUSY and LOCKED). A refused value, a constraint or a corrupt row is
    /// not: it fails the same way every time.
    pub fn is_transient(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                ["08", "53", "57P", "40"]
                    .iter()
                    .any(|p| code.starts_with(p))
                    || ["5", "6", "261", "262", "517", "518"].contains(&code.as_ref())
            }),
            _ => false,
        }
    }
}

impl StoreError {
    /// The database refused a value the request carried, for what it is (SQLSTATE class 22,
    /// data exception: PostgreSQL stores no NUL character in text, SQLSTATE 22021): the
    /// client's mistake, not the server's. Its message, which names no secret.
    pub fn refused_value(&self) -> Option<String> {
        match self {
            StoreError::Database(sqlx::Error::Database(db))
                if db.code().is_some_and(|c| c.starts_with("22")) =>
            {
                Some(db.message().to_string())
            }
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            _ => StoreError::Database(e),
        }
    }
}

/// A cheap-to-clone handle to the database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where the API's reads go (listing and reading tickets, sync runs, dead letters). On
    /// SQLite its own read-only connections: in WAL mode a reader never waits for the writer,
    /// so a long write (a million-alert group's flush) does not hold up the API. On PostgreSQL
    /// the same pool.
    reader: AnyPool,
    /// SQLite rather than PostgreSQL: long statements use anonymous `?` parameters there, since
    /// SQLite looks each numbered one up by name (quadratic in their number).
    sqlite: bool,
}

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

/// A record for the `records` table.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub provider: String,
    pub stream: String,
    pub record_id: String,
    pub connection: String,
    pub payload: String,
}

/// Read-only SQLite connections for the API's reads (see [`Store`]).
const READERS: u32 = 4;

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Store {
    /// Connects (creating a SQLite file and its directory if needed) and migrates.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = if let Some(path) = url.strip_prefix("sqlite://") {
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Database(sqlx::Error::Configuration(
                        format!("cannot create directory {}: {e}", dir.display()).into(),
                    ))
                })?;
            }
            format!("sqlite://{path}?mode=rwc")
        } else {
            url.to_string()
        };
        let sqlite = url.starts_with("sqlite:");
        let mut options = AnyPoolOptions::new()
            // SQLite serialises writers anyway; one connection avoids "database is locked".
            .max_connections(if sqlite { 1 } else { 10 })
            // A PostgreSQL that is down fails each statement within 5 s rather than sqlx's 30 s:
            // callers retry with their own backoff. SQLite's one connection may be busy with a
            // long write, which is no outage: it keeps the 30 s.
            .acquire_timeout(std::time::Duration::from_secs(if sqlite { 30 } else { 5 }));
        if sqlite {
            // Set on every connection the pool opens. WAL with synchronous=NORMAL: a commit
            // survives a crash of the process (what a restart test does); only an OS crash or
            // power loss can undo the last commits, and every commit does not wait for an fsync.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        MIGRATOR.run(&pool).await?;
        let reader = if sqlite {
            AnyPoolOptions::new()
                .max_connections(READERS)
                .acquire_timeout(std::time::Duration::from_secs(30))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        use sqlx::Executor;
                        conn.execute("PRAGMA query_only = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await?
        } else {
            pool.clone()
        };
        Ok(Self {
            pool,
            reader,
            sqlite,
        })
    }

    /// Closes the pool: new statements fail, and this waits for the connections in use to come
    /// back (shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
        self.reader.close().await;
    }

    /// Whether the database answers within 2 s.
    pub async fn ping(&self) -> bool {
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(2), ping).await,
            Ok(Ok(_))
        )
    }

    /// Runs a listing query (`sql` ends in its WHERE clauses) newest first by `created_at`, after
    /// `cursor`, one row more than `limit` (so the caller knows whether a next page exists).
    async fn newest_first(
        &self,
        mut sql: String,
        mut binds: Vec<Bind>,
        cursor: &Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        if let Some((at, id)) = cursor {
            binds.push(Bind::Int(*at));
            binds.push(Bind::Int(*at));
            binds.push(Bind::Text(id.clone()));
            let n = binds.len();
            sql.push_str(&format!(
                " AND (created_at < ${} OR (created_at = ${} AND id < ${}))",
                n - 2,
                n - 1,
                n
            ));
        }
        binds.push(Bind::Int(limit + 1));
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT ${}",
            binds.len()
        ));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
            };
        }
        Ok(q.fetch_all(&self.reader).await?)
    }

    // ---- syncs and records ------------------------------------------------------------------

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

    pub async fn count_dead_letters(&self, pipeline: &str, stage: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM dlq WHERE pipeline = $1 AND stage = $2")
            .bind(pipeline)
            .bind(stage)
            .fetch_one(&self.reader)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}

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

enum Bind {
    Text(String),
    Int(i64),
}

/// A listing cursor: `<time>_<id>` of the last item of a page.
pub fn make_cursor(at_ms: i64, id: &str) -> String {
    format!("{at_ms}_{id}")
}

/// Parses a listing cursor (`<time>_<id>`).
pub fn parse_cursor(s: &str) -> Option<(i64, String)> {
    let (at, id) = s.split_once('_')?;
    Some((i64::from_str(at).ok()?, id.to_string()))
}
