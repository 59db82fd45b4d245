//! How to reach Postgres and where the adapter keeps its tables.

use std::time::Duration;

use stem::backend::DEFAULT_RESULT_RETENTION;

use crate::tls::TlsOptions;

/// The schema when none is given.
pub const DEFAULT_SCHEMA: &str = "stem";

/// Acked messages between two vacuums of the `messages` table, by default (see
/// [`PostgresOptions::with_vacuum_every`]).
pub const DEFAULT_VACUUM_EVERY: u64 = 20_000;

/// Options of a [`PostgresStore`](super::PostgresStore).
///
/// ```
/// use stem_adapters::postgres::PostgresOptions;
///
/// let options = PostgresOptions::new("postgres://app@db/app").with_schema("jobs");
/// assert_eq!(options.schema(), "jobs");
/// ```
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    url: String,
    schema: String,
    retention: std::time::Duration,
    max_connections: u32,
    tls: TlsOptions,
    vacuum_every: Option<u64>,
}

impl PostgresOptions {
    /// Options for the database at `url` (`postgres://` or `postgresql://`, as
    /// sqlx reads it), schema `stem`, the default retention.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            retention: DEFAULT_RESULT_RETENTION,
            max_connections: 10,
            tls: TlsOptions::default(),
            vacuum_every: Some(DEFAULT_VACUUM_EVERY),
        }
    }

    /// The schema that holds Stem's tables (created if missing), so that several
    /// apps or environments share one database. Lowercase letters, digits and `_`.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// How long final task states (and groups) are kept before they are pruned.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The most connections the store's pool opens (default 10).
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(2);
        self
    }

    /// TLS settings (see [`TlsOptions::from_env`]): a CA makes the connection
    /// verify the server (`sslmode=verify-full` unless the URL names a mode), a
    /// client certificate and key are presented, and `allow_insecure` encrypts
    /// without verifying (`sslmode=require`). The trusted roots are the given CA
    /// and the Mozilla roots (webpki), not the system's store.
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// How often the store vacuums its busiest tables itself (see the
    /// [module docs](super#vacuuming)): `messages` after every `n` acked
    /// messages, `tasks` after every `5 * n` status writes. Default
    /// [`DEFAULT_VACUUM_EVERY`]; `None` (or `0`) leaves vacuuming to the
    /// server's autovacuum.
    pub fn with_vacuum_every(mut self, n: Option<u64>) -> Self {
        self.vacuum_every = n.filter(|n| *n > 0);
        self
    }

    /// Acked messages between two vacuums of `messages`; `None`: the store does not vacuum.
    pub fn vacuum_every(&self) -> Option<u64> {
        self.vacuum_every
    }

    /// The TLS settings.
    pub fn tls(&self) -> &TlsOptions {
        &self.tls
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// How long final states are kept.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// The pool's size.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }
}
