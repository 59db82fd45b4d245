//! How a SQLite store is opened.

use std::path::PathBuf;
use std::time::Duration;

use stem::backend::DEFAULT_RESULT_RETENTION;

/// The file a store opens when no path is given: `stem.db` in the working directory.
pub const DEFAULT_PATH: &str = "stem.db";

/// SQLite's `synchronous` setting: how hard a commit pushes data to the disk.
///
/// With WAL (always on here) both settings survive a crash of the process;
/// [`Normal`](Self::Normal) may lose the last commits if the machine itself
/// loses power, [`Full`](Self::Full) does not but syncs on every commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// `synchronous=NORMAL`, the default.
    #[default]
    Normal,
    /// `synchronous=FULL`.
    Full,
}

impl Synchronous {
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// Settings of a SQLite store. Build with [`SqliteOptions::new`] and the
/// `with_*` methods, or from a `sqlite://path?synchronous=full&busy_timeout_ms=5000` URL.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// The database file; created with its schema if missing.
    pub path: PathBuf,
    /// Commit durability; [`Synchronous::Normal`] by default.
    pub synchronous: Synchronous,
    /// How long a write waits for another process's lock before it fails (5 s).
    pub busy_timeout: Duration,
    /// How often an idle connection checks whether another process has
    /// committed (a cheap `PRAGMA data_version`), to wake receivers and waiters
    /// (50 ms). Work written by this process wakes them at once.
    pub poll_interval: Duration,
    /// How long final task states and groups are kept (24 h).
    pub retention: Duration,
}

impl SqliteOptions {
    /// Default settings for the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(50),
            retention: DEFAULT_RESULT_RETENTION,
        }
    }

    /// Sets the commit durability.
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// Sets how long a write waits for another process's lock.
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Sets how often an idle connection checks for other processes' commits.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets how long final task states and groups are kept.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self::new(DEFAULT_PATH)
    }
}
