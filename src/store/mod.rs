//! The database: SQLite (embedded, the default) or PostgreSQL, one portable schema
//! (`migrations/`), one code path through sqlx's `Any` driver. Times are Unix milliseconds.

use std::str::FromStr;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

mod alert_state;
mod assistant;
mod dead_letters;
mod idempotency;
mod notification_log;
mod outbox;
mod records;
mod silences;
mod slack_messages;
mod slo_history;
mod syncs;
mod ticket_webhooks;
mod tickets;
pub use alert_state::StoredAlert;
pub use assistant::StoredAnswer;
pub use dead_letters::{DeadLetter, DlqFilter, StoredDeadLetter};
pub use idempotency::KeyState;
pub use notification_log::NotificationLogEntry;
pub(crate) use notification_log::fingerprints_json;
pub use outbox::{OutboxClaim, OutboxKind, OutboxRow};
pub use records::StoredRecord;
pub use slo_history::MinuteTally;
pub use syncs::SyncRun;
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

/// WAL pages past which a SQLite commit checkpoints by itself (SQLite's default is 1,000): the
/// checkpointer normally keeps the WAL far below it.
const FALLBACK_CHECKPOINT_PAGES: u32 = 10_000;
/// How often the checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Copies SQLite's WAL into the database every [`CHECKPOINT_EVERY`] from a connection of its
/// own (a passive checkpoint: it never waits for the writer or the readers, nor they for it).
/// Left to the committing writer, as SQLite does by default every 1,000 pages, the copy and its
/// fsync land on whichever write crosses the threshold: 1 % of ticket PATCHes took 20–40 ms.
/// The task ends when the database is closed or gone.
async fn spawn_checkpointer(url: &str) -> Result<(), StoreError> {
    let checkpointer = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                use sqlx::Executor;
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
            match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&checkpointer)
                .await
            {
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    // The database file was removed (a test's directory) or is closed: done.
                    if failures >= 10 {
                        tracing::debug!(error = %e, "SQLite checkpointer stops");
                        checkpointer.close().await;
                        return;
                    }
                }
            }
        }
    });
    Ok(())
}

/// Read-only SQLite connections for the API's reads (see [`Store`]).
pub(super) const READERS: u32 = 4;

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
                    // The checkpointer below copies the WAL into the database off the commit
                    // path; a commit checkpoints itself only past this (a fallback).
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "PRAGMA wal_autocheckpoint = {FALLBACK_CHECKPOINT_PAGES}"
                    )))
                    .await?;
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
        if sqlite {
            spawn_checkpointer(&url).await?;
        }
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
