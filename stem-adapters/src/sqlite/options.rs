//! How a SQLite store is opened.

use std::path::PathBuf;
use std::time::Duration;

use stem::backend::DEFAULT_RESULT_RETENTION;

use crate::query::{Query, check_scheme};

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
    /// How long dead letters are kept (30 days).
    pub dead_letter_retention: Duration,
    /// Whether task statuses can be listed by name and state (the
    /// dashboard's search): four indexes, which every status write then
    /// updates (a quarter to a third off enqueue and drain rates). Off by
    /// default; `?task_listing=true`.
    pub task_listing: bool,
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
            task_listing: false,
            dead_letter_retention: stem::broker::DEFAULT_DEAD_LETTER_RETENTION,
        }
    }

    /// Settings from a URL, as [`SqliteStore::connect`](super::SqliteStore::connect)
    /// and [`connect`](crate::connect) read it: `sqlite://path/to/file.db`
    /// (relative to the working directory; `sqlite:///abs/path.db`; the
    /// default file for `sqlite://`), with these query options:
    ///
    /// | option | meaning |
    /// |---|---|
    /// | `synchronous=normal` | `normal` or `full` ([`Synchronous`]) |
    /// | `busy_timeout_ms=5000` | how long a write waits for another process's lock |
    /// | `poll_interval_ms=50` | how often an idle connection looks for other processes' commits |
    /// | `retention_secs=86400` | how long final task states are kept |
    /// | `dead_letter_retention_secs=2592000` | how long dead letters are kept |
    /// | `task_listing=false` | task statuses listable by name and state (indexes every status write updates) |
    ///
    /// An unknown option is an error that lists the known ones.
    ///
    /// ```
    /// use stem_adapters::sqlite::{SqliteOptions, Synchronous};
    ///
    /// let options = SqliteOptions::from_url("sqlite:///var/lib/app/jobs.db?synchronous=full")?;
    /// assert_eq!(options.path, std::path::Path::new("/var/lib/app/jobs.db"));
    /// assert_eq!(options.synchronous, Synchronous::Full);
    /// # Ok::<(), stem::Error>(())
    /// ```
    pub fn from_url(url: &str) -> stem::Result<Self> {
        check_scheme(url, &["sqlite"], "SQLite")?;
        let (mut synchronous, mut busy_timeout, mut poll_interval, mut retention) = (None, None, None, None);
        let (mut dead_letter_retention, mut task_listing) = (None, None);
        let query = Query::read(url, |opt| {
            match opt.key {
                "synchronous" => {
                    synchronous = Some(match opt.value.to_ascii_lowercase().as_str() {
                        "normal" => Synchronous::Normal,
                        "full" => Synchronous::Full,
                        _ => return Err(opt.invalid("`normal` or `full`")),
                    });
                }
                "busy_timeout_ms" => busy_timeout = Some(opt.millis()?),
                "poll_interval_ms" => poll_interval = Some(opt.millis()?),
                "retention_secs" => retention = Some(opt.seconds()?),
                "dead_letter_retention_secs" => dead_letter_retention = Some(opt.seconds()?),
                "task_listing" => {
                    task_listing = Some(match opt.value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(opt.invalid("`true` or `false`")),
                    });
                }
                _ => {
                    let known = [
                        "synchronous",
                        "busy_timeout_ms",
                        "poll_interval_ms",
                        "retention_secs",
                        "dead_letter_retention_secs",
                        "task_listing",
                    ];
                    return Err(opt.unknown("SQLite", &known));
                }
            }
            Ok(true)
        })?;
        let path = &query.base()["sqlite://".len()..];
        let mut options = Self::new(if path.is_empty() { DEFAULT_PATH } else { path });
        options.synchronous = synchronous.unwrap_or(options.synchronous);
        options.busy_timeout = busy_timeout.unwrap_or(options.busy_timeout);
        options.poll_interval = poll_interval.unwrap_or(options.poll_interval);
        options.retention = retention.unwrap_or(options.retention);
        options.dead_letter_retention = dead_letter_retention.unwrap_or(options.dead_letter_retention);
        options.task_listing = task_listing.unwrap_or(options.task_listing);
        Ok(options)
    }

    /// Makes task statuses listable by name and state (see
    /// [`task_listing`](Self::task_listing)).
    pub fn with_task_listing(mut self, on: bool) -> Self {
        self.task_listing = on;
        self
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

    /// Sets how long dead letters are kept.
    pub fn with_dead_letter_retention(mut self, retention: Duration) -> Self {
        self.dead_letter_retention = retention;
        self
    }
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self::new(DEFAULT_PATH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config_error;

    #[test]
    fn sqlite_urls_name_a_path_and_options() {
        let options = SqliteOptions::from_url("sqlite://").expect("valid");
        assert_eq!(options.path, std::path::Path::new("stem.db"), "the default file");
        let options = SqliteOptions::from_url("sqlite:///var/lib/app/jobs.db?synchronous=full&busy_timeout_ms=250")
            .expect("valid");
        assert_eq!(options.path, std::path::Path::new("/var/lib/app/jobs.db"));
        assert_eq!(options.synchronous, Synchronous::Full);
        assert_eq!(options.busy_timeout, std::time::Duration::from_millis(250));
        let message = config_error(SqliteOptions::from_url("sqlite://a.db?synchronous=sometimes"));
        assert!(message.contains("`normal` or `full`"), "{message}");
        let message = config_error(SqliteOptions::from_url("sqlite://a.db?journal=off"));
        assert!(message.contains("unknown SQLite option `journal`"), "{message}");
        let message = config_error(SqliteOptions::from_url("redis://h"));
        assert!(message.contains("not a SQLite URL; the SQLite adapter takes sqlite://"), "{message}");
    }
}
