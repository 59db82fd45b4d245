//! The Postgres adapter (feature `postgres`, sqlx): a broker on `FOR UPDATE
//! SKIP LOCKED`, the result backend, the lock store, the workflow store, the
//! rate limiter, the schedule store, the revoke store, and enqueueing inside the caller's own transaction ([`EnqueueInTransaction`]).
//!
//! ```no_run
//! # async fn demo() -> stem::Result<()> {
//! use stem_adapters::postgres::PostgresStore;
//!
//! let store = PostgresStore::connect("postgres://postgres@127.0.0.1/app").await?;
//! let backend = store.backend();
//! # Ok(()) }
//! ```
//!
//! Tables live in one schema per namespace (default `stem`), created and
//! upgraded on connect by the migrations in `migrations/`, under an advisory lock.
//! Times are the database's (`now()`), so every process agrees on expiries;
//! the workflow store is the exception: its caller passes every time in.
//!
//! # Vacuuming
//!
//! A queue table turns over every row it holds, so the store vacuums
//! `messages` after every 20,000 acks and `tasks` after every 100,000 status
//! writes, in the background and without waiting on another process's vacuum
//! (`VACUUM (SKIP_LOCKED)`), rather than rely on autovacuum alone, which looks
//! once a minute at best and is off on some servers. On this project's CI
//! machine (autovacuum off), a million tasks left `messages` at 747 MB with no
//! live row and the drain fell from 29,700/s to 20,500/s; with the store's own
//! vacuums the table stayed at 15 MB and the drain at 28,000 - 32,700/s.
//! [`PostgresOptions::with_vacuum_every`] (`vacuum_every=N` in the URL, `0`
//! for never) sets how often.

mod backend;
mod broker;
mod done;
mod lock;
mod migrate;
mod options;
mod rate;
mod reads;
mod revoke;
mod schedule;
mod transaction;
mod vacuum;
mod workflow;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{AssertSqlSafe, PgPool};
use stem::{Error, Stores};

pub use self::backend::PostgresBackend;
pub use self::broker::PostgresBroker;
pub use self::lock::PostgresLockStore;
pub use self::options::{DEFAULT_SCHEMA, DEFAULT_VACUUM_EVERY, PostgresOptions};
pub use self::rate::PostgresRateLimiter;
pub use self::revoke::PostgresRevokeStore;
pub use self::schedule::PostgresScheduleStore;
pub use self::transaction::EnqueueInTransaction;
pub use self::workflow::PostgresWorkflowStore;
use crate::redact::{redact_url, scrub_secrets};
use crate::tls::{ALLOW_INSECURE_VAR, CA_CERT_VAR, CLIENT_CERT_VAR, CLIENT_KEY_VAR};

/// How long a statement waits for a connection (while the database is down,
/// new connections keep failing): the caller gets an error after this.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection pool to one database and one schema in it, from which the
/// broker, the result backend, the lock store and the workflow store are
/// taken. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    shared: Arc<Shared>,
}

/// What the parts of one store share.
pub(crate) struct Shared {
    pool: PgPool,
    /// Connections that commit without waiting for the disk
    /// (`synchronous_commit = off`), for writes whose loss in a crash only
    /// means a delivery comes again: claims, acks, lease renewals.
    relaxed: PgPool,
    /// How to open a connection (URL and TLS), for listeners.
    connect: PgConnectOptions,
    options: PostgresOptions,
    /// The schema, quoted for SQL.
    schema: String,
    /// The subscription that wakes `wait`, started by the first `wait`.
    done: tokio::sync::OnceCell<done::Listener>,
    /// The batching status reader, started by the first read.
    reads: std::sync::OnceLock<reads::Reads>,
    /// When expired rows were last pruned (ms since the epoch).
    pruned_at: AtomicI64,
    /// Rows retired since each table's last vacuum (see [`vacuum`]).
    churn: vacuum::Churn,
}

impl PostgresStore {
    /// Connects to the database at `url`, with the options its query names
    /// (see [`PostgresOptions::from_url`]; schema `stem` by default).
    pub async fn connect(url: &str) -> stem::Result<Self> {
        Self::connect_with(PostgresOptions::from_url(url)?).await
    }

    /// Connects with `options`, creating or upgrading the schema's tables.
    pub async fn connect_with(options: PostgresOptions) -> stem::Result<Self> {
        let schema = options.schema();
        if schema.is_empty() || !schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(Error::Config(format!(
                "the Postgres schema `{schema}` is not valid; use lowercase letters, digits and `_` (default `{DEFAULT_SCHEMA}`)"
            )));
        }
        let url = options.url();
        let connect = connect_options(&options)?;
        let tls_hint = if options.tls().is_set() || url.contains("sslmode") {
            format!(
                " For TLS, check the certificates ({CA_CERT_VAR}, {CLIENT_CERT_VAR}, {CLIENT_KEY_VAR}) and sslmode; \
                 {ALLOW_INSECURE_VAR}=true encrypts without verifying, while debugging."
            )
        } else {
            String::new()
        };
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections())
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(connect.clone())
            .await
            .map_err(|e| {
                let message = format!(
                    "connecting to Postgres at {} failed: {e}. Is the server running, and the URL right?",
                    redact_url(url)
                );
                Error::adapter(scrub_secrets(&format!("{message}{tls_hint}"), url), e)
            })?;
        migrate::migrate(&pool, schema).await?;
        // The listing's indexes, as the options say (made or dropped at once).
        let listing = if options.task_listing() {
            include_str!("sql/listing_on.sql")
        } else {
            include_str!("sql/listing_off.sql")
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(listing.replace("{schema}", &format!("\"{schema}\""))))
            .execute(&pool)
            .await
            .map_err(|e| Error::adapter("making or dropping the task listing's indexes failed", e))?;
        let relaxed = PgPoolOptions::new()
            .max_connections(options.max_connections())
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(connect.clone().options([("synchronous_commit", "off")]));
        let schema = format!("\"{schema}\"");
        let shared = Shared {
            pool,
            relaxed,
            connect,
            options,
            schema,
            done: tokio::sync::OnceCell::new(),
            reads: std::sync::OnceLock::new(),
            pruned_at: AtomicI64::new(0),
            churn: vacuum::Churn::default(),
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// The broker.
    pub fn broker(&self) -> Arc<PostgresBroker> {
        Arc::new(PostgresBroker::new(Arc::clone(&self.shared)))
    }

    /// The result backend.
    pub fn backend(&self) -> Arc<PostgresBackend> {
        Arc::new(PostgresBackend::new(Arc::clone(&self.shared)))
    }

    /// The lock store.
    pub fn locks(&self) -> Arc<PostgresLockStore> {
        Arc::new(PostgresLockStore::new(Arc::clone(&self.shared)))
    }

    /// The rate limiter: schedules shared by every worker on this schema.
    pub fn rate_limiter(&self) -> Arc<PostgresRateLimiter> {
        Arc::new(PostgresRateLimiter::new(Arc::clone(&self.shared)))
    }

    /// The schedule store: schedules shared by every scheduler on this schema.
    pub fn schedules(&self) -> Arc<PostgresScheduleStore> {
        Arc::new(PostgresScheduleStore::new(Arc::clone(&self.shared)))
    }

    /// The revoke store: revokes shared by every worker on this schema.
    pub fn revokes(&self) -> Arc<PostgresRevokeStore> {
        Arc::new(PostgresRevokeStore::new(Arc::clone(&self.shared)))
    }

    /// The workflow store (runs, checkpoints, leases, timers and event watchers).
    pub fn workflows(&self) -> Arc<PostgresWorkflowStore> {
        Arc::new(PostgresWorkflowStore::new(Arc::clone(&self.shared)))
    }

    /// The broker, the result backend, the lock store, the workflow store,
    /// the rate limiter, the schedule store and the revoke store, as one
    /// value for [`Stem::new`](stem::Stem::new); enqueues store only their messages,
    /// which stand for the tasks' queued records.
    pub fn stores(&self) -> Stores {
        let broker = self.broker();
        Stores::new(broker.clone(), self.backend(), self.locks(), self.workflows())
            .with_rate_limiter(self.rate_limiter())
            .with_schedules(self.schedules())
            .with_revokes(self.revokes())
            .with_publish_recorded(broker)
    }

    /// The options it was opened with.
    pub fn options(&self) -> &PostgresOptions {
        &self.shared.options
    }

    /// Drops the schema and everything in it (for tests and teardown).
    pub async fn drop_schema(&self) -> stem::Result<()> {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.shared.schema)))
            .execute(&self.shared.pool)
            .await
            .map(drop)
            .map_err(|e| failed("dropping the schema", e))
    }
}

impl std::fmt::Debug for Shared {
    /// The options only (the pools' and connect options' own `Debug` would
    /// show the password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("options", &self.options).field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl Shared {
    /// `sql` with the quoted schema in place of `{schema}`. Safe to run: the
    /// schema name was checked to be lowercase letters, digits and `_`.
    pub(crate) fn sql(&self, sql: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(sql.replace("{schema}", &self.schema))
    }

    /// A pool of one connection of its own, for a LISTEN (not one of the
    /// store's pools, which a held listener would starve).
    pub(crate) fn listener(&self) -> PgPool {
        PgPoolOptions::new().max_connections(1).connect_lazy_with(self.connect.clone())
    }

    /// The channel on which final states are announced.
    pub(crate) fn done_channel(&self) -> String {
        self.channel("done", "")
    }

    /// The channel on which publishes are announced.
    pub(crate) fn messages_channel(&self) -> String {
        self.channel("msg", "")
    }

    /// A channel of this schema: named after a stable hash of the schema (and
    /// `name`), since channel names are cut at 63 bytes.
    pub(crate) fn channel(&self, kind: &str, name: &str) -> String {
        // FNV-1a, the same in every process.
        let text = format!("{}\u{0}{name}", self.options.schema());
        let hash =
            text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        format!("stem_{kind}_{hash:016x}")
    }

    /// The batching status reader, started on first use (on the runtime of the caller).
    pub(crate) fn reads(&self) -> &reads::Reads {
        self.reads
            .get_or_init(|| reads::Reads::start(self.pool.clone(), self.sql(include_str!("sql/get_statuses.sql")).0))
    }

    /// The subscription to final states, started on first use.
    pub(crate) async fn done(&self) -> stem::Result<&done::Listener> {
        self.done
            .get_or_try_init(|| done::Listener::start(self.listener(), self.done_channel(), self.messages_channel()))
            .await
    }
}

/// The connection options of `options`: its URL, with its TLS settings.
fn connect_options(options: &PostgresOptions) -> stem::Result<PgConnectOptions> {
    let url = options.url();
    let mut connect = PgConnectOptions::from_str(url).map_err(|e| {
        let message = format!(
            "`{}` is not a valid Postgres URL ({e}); write postgres://user[:password]@host[:port]/db",
            redact_url(url)
        );
        Error::Config(scrub_secrets(&message, url))
    })?;
    let tls = options.tls();
    let weak = matches!(connect.get_ssl_mode(), PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer);
    let explicit = url.contains("sslmode=") || url.contains("ssl-mode=");
    if (tls.ca_cert.is_some() || tls.client_cert.is_some()) && weak && explicit {
        return Err(Error::Config(format!(
            "`{}` asks for an sslmode (disable, allow or prefer) that may connect without TLS, while TLS \
             certificates are configured ({CA_CERT_VAR}, {CLIENT_CERT_VAR}); use sslmode=verify-full, or leave \
             sslmode out (with a CA it then means verify-full)",
            redact_url(url)
        )));
    }
    if let Some(ca) = &tls.ca_cert {
        connect = connect.ssl_root_cert(ca);
        if !url.contains("sslmode=") {
            connect = connect.ssl_mode(PgSslMode::VerifyFull);
        }
    }
    if let Some((cert, key)) = tls.client_pair()? {
        connect = connect.ssl_client_cert(cert).ssl_client_key(key);
    }
    if tls.allow_insecure {
        tracing::error!(url = %redact_url(url), "TLS certificate verification is off ({ALLOW_INSECURE_VAR}); use this only while debugging");
        connect = connect.ssl_mode(PgSslMode::Require);
    }
    // Every statement is prepared and written to be planned once: its
    // generic plan looks rows up by key or by a partial index, whatever the
    // values. Left to choose, Postgres plans each execution anew whenever a
    // generic plan's estimate looks worse, which cost a sixth of its CPU
    // under a workflow load. A URL that sets `plan_cache_mode` keeps its own.
    if !url.contains("plan_cache_mode") {
        connect = connect.options([("plan_cache_mode", "force_generic_plan")]);
    }
    Ok(connect)
}

/// The error for a failed statement, saying what it was for, why, and whether
/// the database is unreachable.
pub(crate) fn failed(what: &str, e: sqlx::Error) -> Error {
    let unreachable = matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed);
    let hint = if unreachable {
        " (Postgres is unreachable: is the server running? the pool reconnects on its own)"
    } else {
        ""
    };
    Error::adapter(format!("Postgres: {what} failed: {e}{hint}"), e)
}

/// `value` as JSON, for Postgres.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> stem::Result<String> {
    crate::json::encode(value, "Postgres")
}

/// A stored `what` read back from Postgres.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> stem::Result<T> {
    crate::json::decode(text, what, "Postgres")
}

/// Milliseconds in `d` as a float, for `interval` arithmetic in SQL.
pub(crate) fn millis(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sessions plan each statement once, unless the URL says otherwise.
    #[test]
    fn sessions_use_generic_plans_unless_the_url_sets_the_mode() {
        let options = connect_options(&PostgresOptions::new("postgres://u@localhost/db")).expect("a valid URL");
        assert!(options.get_options().is_some_and(|o| o.contains("plan_cache_mode=force_generic_plan")));
        let own = "postgres://u@localhost/db?options=-c%20plan_cache_mode%3Dauto";
        let options = connect_options(&PostgresOptions::new(own)).expect("a valid URL");
        let set = options.get_options().unwrap_or_default();
        assert!(set.contains("plan_cache_mode=auto") && !set.contains("force_generic_plan"), "{set}");
    }
}
