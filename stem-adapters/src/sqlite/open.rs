//! Opening a database file: pragmas, migrations and errors that say what to do.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use stem::Error;

use super::options::SqliteOptions;

/// The schema migrations, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_workflows.sql"),
    include_str!("migrations/0003_queues.sql"),
    include_str!("migrations/0004_group_counts.sql"),
    include_str!("migrations/0005_unique_ids.sql"),
    include_str!("migrations/0006_rate_limits.sql"),
    include_str!("migrations/0007_schedules.sql"),
    include_str!("migrations/0008_revokes.sql"),
    include_str!("migrations/0009_task_listing.sql"),
    include_str!("migrations/0010_dead_letter_ids.sql"),
];

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens (creating if needed) and migrates the database file.
/// Creates `path` empty, readable and writable by its owner only (arguments
/// and results may be private), unless it exists; SQLite gives its `-wal`
/// and `-shm` files the same permissions.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut create = std::fs::OpenOptions::new();
    create.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
    match create.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) fn open(options: &SqliteOptions) -> Result<Connection, Error> {
    let path = &options.path;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(Error::Config(format!(
            "cannot create the SQLite file `{}`: the directory `{}` does not exist; create it or choose \
             another path",
            path.display(),
            parent.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::Config(format!(
            "`{}` is a directory, not a SQLite file; name a file, such as sqlite://{}/stem.db",
            path.display(),
            path.display()
        )));
    }
    create_private(path).map_err(|e| {
        Error::Config(format!(
            "cannot create the SQLite file `{}`: {e}; check the directory's permissions",
            path.display()
        ))
    })?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, options, e))?;
    conn.busy_timeout(options.busy_timeout).map_err(|e| open_error(path, options, e))?;
    // Some lock conflicts of a file being created (switching it to WAL,
    // recovering its WAL index) return SQLITE_BUSY at once, without waiting
    // the busy timeout: two processes opening a new file together retry here.
    let deadline = Instant::now() + options.busy_timeout;
    let prepared = loop {
        match prepare(&mut conn, options) {
            Err(PrepareError::Sqlite(e)) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => break other,
        }
    };
    prepared.map_err(|e| match e {
        PrepareError::Sqlite(e) => open_error(path, options, e),
        PrepareError::NotWal(mode) => Error::Config(format!(
            "`{}` could not switch to WAL mode (it reports `{mode}`); the file system may not support shared memory",
            path.display()
        )),
        PrepareError::TooNew(found) => Error::Config(format!(
            "`{}` has Stem schema version {found}, newer than this Stem knows ({SCHEMA_VERSION}); a newer Stem \
             wrote it: upgrade Stem, or use another file",
            path.display()
        )),
    })?;
    Ok(conn)
}

/// Sets the connection's pragmas and migrates the file.
fn prepare(conn: &mut Connection, options: &SqliteOptions) -> Result<(), PrepareError> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(PrepareError::NotWal(mode));
    }
    conn.pragma_update(None, "synchronous", options.synchronous.pragma())?;
    // A 32 MiB page cache: a busy queue's pages stay in memory.
    conn.pragma_update(None, "cache_size", -32_768)?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(conn)?;
    // The listing's indexes, as the options say (made or dropped at once).
    let listing =
        if options.task_listing { include_str!("sql/listing_on.sql") } else { include_str!("sql/listing_off.sql") };
    conn.execute_batch(listing)?;
    Ok(())
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(error.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// Opens a second, read-only connection to a file [`open`] has prepared.
pub(crate) fn open_reader(options: &SqliteOptions) -> Result<Connection, Error> {
    let path = &options.path;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, options, e))?;
    conn.busy_timeout(options.busy_timeout).map_err(|e| open_error(path, options, e))?;
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -32768;")
        .map_err(|e| open_error(path, options, e))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Why a file could not be prepared.
enum PrepareError {
    Sqlite(rusqlite::Error),
    NotWal(String),
    TooNew(i64),
}

impl From<rusqlite::Error> for PrepareError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// Applies the missing migrations in one immediate transaction, so that two
/// processes opening a new file at once do not both migrate it.
fn migrate(conn: &mut Connection) -> Result<(), PrepareError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(PrepareError::TooNew(version));
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", n as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// Turns a failure to open into an error that names the file and the fix.
fn open_error(path: &Path, options: &SqliteOptions, error: rusqlite::Error) -> Error {
    let path = path.display();
    let context = match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => format!(
            "`{path}` is not a SQLite database or is corrupt; move it away (Stem then creates a new one) or \
             point the URL at another file"
        ),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
            "`{path}` is locked by another process for longer than the busy timeout ({:?}); stop that process \
             or raise `busy_timeout_ms` in the URL",
            options.busy_timeout
        ),
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
            format!("cannot open `{path}` for writing; check that the path and its directory are writable")
        }
        _ => format!("cannot open the SQLite file `{path}`"),
    };
    Error::adapter(context, error)
}
