//! The SQLite adapter: the embedded default store (feature `sqlite`, on by default).
//!
//! One file holds the broker's messages and dead letters, the result backend's
//! states, groups and heartbeats, the locks, the workflow runs, the rate
//! limits' schedules, the beat schedules and the revokes. Open it with [`SqliteStore::open`] (or a `sqlite://path`
//! URL through [`crate::connect`]) and take the parts you need; several
//! processes may use one file at once.
//!
//! ```no_run
//! # async fn demo() -> stem::Result<()> {
//! use stem_adapters::sqlite::SqliteStore;
//!
//! let store = SqliteStore::open("stem.db").await?;
//! let stem = stem::Stem::new(store.stores());
//! # Ok(()) }
//! ```
//!
//! How it works: the file is in WAL mode. Per file and process, one thread owns
//! a writing connection and runs every write, batching all waiting calls into
//! one transaction (see `db.rs`), so a worker's claims, status writes and acks
//! for many tasks share a commit; a second thread owns a reading connection, so
//! reads never wait for a write batch. Idle receivers and `wait` calls wake at
//! once for work written in the same process; the writing thread notices other
//! processes' commits (`PRAGMA data_version`) within
//! [`SqliteOptions::poll_interval`] and wakes them too.
//!
//! A stored message that no longer decodes is moved to the dead letter queue
//! with the reason, its text kept whole. Broadcast (control commands) goes
//! through a table every subscriber reads from its last seen row, so it reaches
//! subscribers in every process using the file.

mod backend;
mod broadcast;
mod broker;
mod db;
mod lock;
mod open;
mod options;
mod rate;
mod revoke;
mod schedule;
mod workflow;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use stem::{Error, Stores, TaskId};
use tokio::sync::Notify;

pub use self::backend::SqliteBackend;
pub use self::broker::SqliteBroker;
use self::db::Db;
pub use self::lock::SqliteLockStore;
pub use self::open::SCHEMA_VERSION;
pub use self::options::{DEFAULT_PATH, SqliteOptions, Synchronous};
pub use self::rate::SqliteRateLimiter;
pub use self::revoke::SqliteRevokeStore;
pub use self::schedule::SqliteScheduleStore;
pub use self::workflow::SqliteWorkflowStore;

/// An open SQLite file, from which the broker, result backend, lock store and
/// workflow store are taken. Opening the same file twice in one process shares its connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

/// What every handle on one file in this process shares.
#[derive(Debug)]
struct Shared {
    db: Db,
    options: SqliteOptions,
    /// Woken when this process publishes, so that idle receivers look at once.
    published: Notify,
    /// Woken when this process broadcasts, so that subscribers read at once.
    broadcasts: Notify,
    /// Woken when another process has committed to the file.
    external: Arc<Notify>,
    /// Per task, woken when this process writes the task's final state.
    finished: Mutex<HashMap<TaskId, Arc<backend::Waiter>>>,
}

/// The files open in this process, so that a second open shares the first's thread.
static OPEN: Mutex<Vec<(PathBuf, Weak<Shared>)>> = Mutex::new(Vec::new());

impl SqliteStore {
    /// Opens (creating and migrating if needed) the file at `path` with default settings.
    pub async fn open(path: impl Into<PathBuf>) -> stem::Result<Self> {
        Self::open_with(SqliteOptions::new(path)).await
    }

    /// Opens the file a `sqlite://` URL names, with the settings its query
    /// names (see [`SqliteOptions::from_url`]).
    pub async fn connect(url: &str) -> stem::Result<Self> {
        Self::open_with(SqliteOptions::from_url(url)?).await
    }

    /// Opens the file named by `options`. If this process has the file open
    /// already, the new store shares that connection (and its first settings).
    pub async fn open_with(options: SqliteOptions) -> stem::Result<Self> {
        let key = std::path::absolute(&options.path).unwrap_or_else(|_| options.path.clone());
        if let Some(shared) = lookup(&key) {
            return Ok(Self { shared });
        }
        let opened = options.clone();
        let (writer, reader) =
            tokio::task::spawn_blocking(move || Ok::<_, Error>((open::open(&opened)?, open::open_reader(&opened)?)))
                .await
                .map_err(|e| Error::adapter("the SQLite open task failed", e))??;
        let mut files = OPEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(shared) = files.iter().find(|(p, _)| *p == key).and_then(|(_, w)| w.upgrade()) {
            return Ok(Self { shared }); // another task opened it meanwhile
        }
        let external = Arc::new(Notify::new());
        let db = Db::start(writer, reader, &options.path, Arc::clone(&external), options.poll_interval)
            .map_err(|e| Error::adapter("could not start the SQLite connection thread", e))?;
        let shared = Arc::new(Shared {
            db,
            options,
            published: Notify::new(),
            broadcasts: Notify::new(),
            external,
            finished: Mutex::new(HashMap::new()),
        });
        files.push((key, Arc::downgrade(&shared)));
        Ok(Self { shared })
    }

    /// The broker on this file.
    pub fn broker(&self) -> Arc<SqliteBroker> {
        Arc::new(SqliteBroker::new(Arc::clone(&self.shared)))
    }

    /// The result backend on this file.
    pub fn backend(&self) -> Arc<SqliteBackend> {
        Arc::new(SqliteBackend::new(Arc::clone(&self.shared)))
    }

    /// The lock store on this file.
    pub fn locks(&self) -> Arc<SqliteLockStore> {
        Arc::new(SqliteLockStore::new(Arc::clone(&self.shared)))
    }

    /// The rate limiter on this file: schedules shared by every process using it.
    pub fn rate_limiter(&self) -> Arc<SqliteRateLimiter> {
        Arc::new(SqliteRateLimiter::new(Arc::clone(&self.shared)))
    }

    /// The schedule store on this file: schedules shared by every process using it.
    pub fn schedules(&self) -> Arc<SqliteScheduleStore> {
        Arc::new(SqliteScheduleStore::new(Arc::clone(&self.shared)))
    }

    /// The revoke store on this file: revokes shared by every process using it.
    pub fn revokes(&self) -> Arc<SqliteRevokeStore> {
        Arc::new(SqliteRevokeStore::new(Arc::clone(&self.shared)))
    }

    /// The workflow store on this file.
    pub fn workflows(&self) -> Arc<SqliteWorkflowStore> {
        Arc::new(SqliteWorkflowStore::new(Arc::clone(&self.shared)))
    }

    /// The broker, the result backend, the lock store, the workflow store,
    /// the rate limiter, the schedule store and the revoke store on this
    /// file, as one value for [`Stem::new`](stem::Stem::new).
    pub fn stores(&self) -> Stores {
        Stores::new(self.broker(), self.backend(), self.locks(), self.workflows())
            .with_rate_limiter(self.rate_limiter())
            .with_schedules(self.schedules())
            .with_revokes(self.revokes())
    }

    /// The settings the file was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.shared.options
    }
}

fn lookup(key: &PathBuf) -> Option<Arc<Shared>> {
    let files = OPEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    files.iter().find(|(p, _)| p == key).and_then(|(_, w)| w.upgrade())
}

/// Milliseconds since the Unix epoch, the unit of every time column.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The time in microseconds since the epoch: the floor of fencing tokens.
fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn after_ms(now: i64, d: Duration) -> i64 {
    now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// A value that did not convert (JSON, an id), as a rusqlite error so that it fails the call.
fn conversion_error(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}
