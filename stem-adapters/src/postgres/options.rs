//! How to reach Postgres and where the adapter keeps its tables.

use std::time::Duration;

use stem::backend::DEFAULT_RESULT_RETENTION;

use crate::query::{Query, check_scheme};
use crate::redact::redact_url;
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
#[derive(Clone)]
pub struct PostgresOptions {
    url: String,
    schema: String,
    retention: std::time::Duration,
    dead_letter_retention: std::time::Duration,
    max_connections: u32,
    tls: TlsOptions,
    vacuum_every: Option<u64>,
    task_listing: bool,
}

impl PostgresOptions {
    /// Options for the database at `url` (`postgres://` or `postgresql://`, as
    /// sqlx reads it), schema `stem`, the default retention.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            retention: DEFAULT_RESULT_RETENTION,
            dead_letter_retention: stem::broker::DEFAULT_DEAD_LETTER_RETENTION,
            max_connections: 10,
            tls: TlsOptions::default(),
            vacuum_every: Some(DEFAULT_VACUUM_EVERY),
            task_listing: false,
        }
    }

    /// Options from a URL, as [`PostgresStore::connect`](super::PostgresStore::connect)
    /// and [`connect`](crate::connect) read it: `postgres://` or
    /// `postgresql://user[:password]@host[:port]/db`, with the `STEM_TLS_*`
    /// settings of [`TlsOptions::from_env`], and these query options of
    /// Stem's own, taken out before the rest (`sslmode`, ...) goes to sqlx:
    ///
    /// | option | meaning |
    /// |---|---|
    /// | `schema=stem` | the schema of Stem's tables ([`with_schema`](Self::with_schema)) |
    /// | `retention_secs=86400` | how long final states are kept ([`with_retention`](Self::with_retention)) |
    /// | `dead_letter_retention_secs=2592000` | how long dead letters are kept ([`with_dead_letter_retention`](Self::with_dead_letter_retention)) |
    /// | `max_connections=10` | the pool's size ([`with_max_connections`](Self::with_max_connections)) |
    /// | `vacuum_every=20000` | acks between the store's own vacuums; `0` leaves it to autovacuum ([`with_vacuum_every`](Self::with_vacuum_every)) |
    /// | `task_listing=false` | task statuses listable by name and state ([`with_task_listing`](Self::with_task_listing)) |
    ///
    /// ```
    /// use stem_adapters::postgres::PostgresOptions;
    ///
    /// let options = PostgresOptions::from_url("postgres://app@db/app?sslmode=require&schema=jobs")?;
    /// assert_eq!((options.url(), options.schema()), ("postgres://app@db/app?sslmode=require", "jobs"));
    /// # Ok::<(), stem::Error>(())
    /// ```
    pub fn from_url(url: &str) -> stem::Result<Self> {
        check_scheme(url, &["postgres", "postgresql"], "Postgres")?;
        let (mut schema, mut retention, mut connections, mut vacuum) = (None, None, None, None);
        let (mut dead_letter_retention, mut task_listing) = (None, None);
        let query = Query::read(url, |opt| {
            match opt.key {
                "schema" => schema = Some(opt.value.to_owned()),
                "retention_secs" => retention = Some(opt.seconds()?),
                "dead_letter_retention_secs" => dead_letter_retention = Some(opt.seconds()?),
                "max_connections" => connections = Some(opt.number("a whole number")?),
                "vacuum_every" => vacuum = Some(opt.number("a whole number (0: never)")?),
                "task_listing" => {
                    task_listing = Some(match opt.value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(opt.invalid("`true` or `false`")),
                    });
                }
                // sqlx's own options.
                "sslmode"
                | "ssl-mode"
                | "sslrootcert"
                | "ssl-root-cert"
                | "ssl-ca"
                | "sslcert"
                | "ssl-cert"
                | "sslkey"
                | "ssl-key"
                | "statement-cache-capacity"
                | "host"
                | "hostaddr"
                | "port"
                | "dbname"
                | "user"
                | "password"
                | "application_name"
                | "options" => return Ok(false),
                _ => {
                    return Err(opt.unknown(
                        "Postgres",
                        &[
                            "schema",
                            "retention_secs",
                            "dead_letter_retention_secs",
                            "max_connections",
                            "vacuum_every",
                            "task_listing",
                            "sslmode",
                            "sslrootcert",
                            "sslcert",
                            "sslkey",
                            "statement-cache-capacity",
                            "host",
                            "hostaddr",
                            "port",
                            "dbname",
                            "user",
                            "password",
                            "application_name",
                            "options",
                        ],
                    ));
                }
            }
            Ok(true)
        })?;
        let mut options = Self::new(query.rest()).with_tls(TlsOptions::from_env()?);
        if let Some(schema) = schema {
            options = options.with_schema(schema);
        }
        if let Some(retention) = retention {
            options = options.with_retention(retention);
        }
        if let Some(retention) = dead_letter_retention {
            options = options.with_dead_letter_retention(retention);
        }
        if let Some(n) = connections {
            options = options.with_max_connections(n);
        }
        if let Some(on) = task_listing {
            options = options.with_task_listing(on);
        }
        if let Some(n) = vacuum {
            options = options.with_vacuum_every(Some(n));
        }
        Ok(options)
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

    /// How long dead letters are kept before they are pruned (30 days).
    pub fn with_dead_letter_retention(mut self, retention: Duration) -> Self {
        self.dead_letter_retention = retention;
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

    /// Makes task statuses listable by name and state (the dashboard's
    /// search): four indexes on the tasks table, which every status write
    /// then updates (a fifth to a quarter off enqueue and drain rates). Off
    /// by default; made at connect when on, dropped when off.
    pub fn with_task_listing(mut self, on: bool) -> Self {
        self.task_listing = on;
        self
    }

    /// Whether task statuses are listable (see [`with_task_listing`](Self::with_task_listing)).
    pub fn task_listing(&self) -> bool {
        self.task_listing
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

    /// How long dead letters are kept.
    pub fn dead_letter_retention(&self) -> Duration {
        self.dead_letter_retention
    }

    /// The pool's size.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }
}

impl std::fmt::Debug for PostgresOptions {
    /// The URL with its password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &redact_url(&self.url))
            .field("schema", &self.schema)
            .field("retention", &self.retention)
            .field("dead_letter_retention", &self.dead_letter_retention)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls)
            .field("vacuum_every", &self.vacuum_every)
            .field("task_listing", &self.task_listing)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config_error;

    #[test]
    fn postgres_urls_keep_sqlxs_options_and_take_stems() {
        let options = PostgresOptions::from_url(
            "postgres://u@h/db?sslmode=require&schema=jobs&retention_secs=60&max_connections=4",
        )
        .expect("valid");
        assert_eq!(options.url(), "postgres://u@h/db?sslmode=require");
        assert_eq!((options.schema(), options.max_connections()), ("jobs", 4));
        assert_eq!(options.retention(), std::time::Duration::from_secs(60));
        assert_eq!(options.vacuum_every(), Some(DEFAULT_VACUUM_EVERY));
        assert_eq!(PostgresOptions::from_url("postgres://h/db?vacuum_every=0").expect("valid").vacuum_every(), None);
        assert_eq!(
            PostgresOptions::from_url("postgres://h/db?vacuum_every=500").expect("valid").vacuum_every(),
            Some(500)
        );
        let message = config_error(PostgresOptions::from_url("postgres://h?max_connections=many"));
        assert!(message.contains("max_connections takes a whole number"), "{message}");
        let message = config_error(PostgresOptions::from_url("postgres://h?vacuum_every=often"));
        assert!(message.contains("vacuum_every takes a whole number"), "{message}");
        let message = config_error(PostgresOptions::from_url("mysql://h/db"));
        assert!(message.contains("not a Postgres URL"), "{message}");
    }
}
