//! The Redis adapter (feature `redis`): a broker on Redis Streams, a result
//! backend with one string record per task (a queued task's message stands
//! for its record until a worker writes one), a lock store and a workflow
//! store, for many workers on many hosts sharing one Redis.
//!
//! ```no_run
//! # async fn demo() -> stem::Result<()> {
//! use stem_adapters::redis::RedisStore;
//!
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
//! let stem = stem::Stem::with_locks(store.broker(), store.backend(), store.locks());
//! # Ok(()) }
//! ```
//!
//! Every key starts with `stem:<namespace>:` (see [`RedisOptions`]); the keys of
//! one queue share a hash tag. Workflow keys (`stem:<namespace>:wf:...`) carry
//! none: the workflow scripts touch many runs at once, so the workflow store
//! needs one Redis, not a Cluster. Scripts live in `scripts/*.lua`.

mod backend;
mod broker;
mod done;
mod keys;
mod lock;
mod options;
mod scripts;
mod workflow;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use stem::Error;

pub use self::backend::RedisBackend;
pub use self::broker::RedisBroker;
use self::keys::Keys;
pub use self::lock::RedisLockStore;
pub use self::options::{DEFAULT_NAMESPACE, RedisOptions};
pub use self::workflow::RedisWorkflowStore;
pub use crate::tls::{ALLOW_INSECURE_VAR, CA_CERT_VAR, CLIENT_CERT_VAR, CLIENT_KEY_VAR, TlsOptions};

/// How long one command may take before the adapter calls the server gone.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to one Redis and one namespace in it, from which the broker,
/// result backend, lock store and workflow store are taken. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

/// What the parts of one store share.
#[derive(Debug)]
pub(crate) struct Shared {
    client: redis::Client,
    /// The connection for every non-blocking command; it reconnects on its own.
    conn: ConnectionManager,
    options: RedisOptions,
    keys: Keys,
    /// The subscription that wakes `wait`, started by the first `wait`.
    done: tokio::sync::OnceCell<done::Listener>,
}

impl RedisStore {
    /// Connects to the Redis at `url` with the default namespace and retention.
    pub async fn connect(url: &str) -> stem::Result<Self> {
        Self::connect_with(RedisOptions::new(url)).await
    }

    /// Connects with `options`.
    pub async fn connect_with(options: RedisOptions) -> stem::Result<Self> {
        let url = options.url();
        let namespace = options.namespace();
        if namespace.is_empty() || !namespace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(Error::Config(format!(
                "the Redis namespace `{namespace}` is not valid; use letters, digits, `_` and `-` (default `{DEFAULT_NAMESPACE}`)"
            )));
        }
        let client = client(&options)?;
        // A few quick retries per reconnection; a command issued while Redis is
        // away fails (the worker retries it with its own backoff) and the next
        // one tries to reconnect again.
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let conn = client.get_connection_manager_with_config(config).await.map_err(|e| {
            let tls = if url.starts_with("rediss://") {
                format!(
                    " For TLS, check the certificates ({CA_CERT_VAR}, {CLIENT_CERT_VAR}, {CLIENT_KEY_VAR}); \
                     {ALLOW_INSECURE_VAR}=true skips verification while debugging."
                )
            } else {
                String::new()
            };
            Error::adapter(
                format!("connecting to Redis at {url} failed: {e}. Is the server running and reachable?{tls}"),
                e,
            )
        })?;
        let mut loading = conn.clone();
        scripts::load_all(&mut loading).await?;
        let keys = Keys::new(options.namespace());
        Ok(Self { shared: Arc::new(Shared { client, conn, options, keys, done: tokio::sync::OnceCell::new() }) })
    }

    /// The broker.
    pub fn broker(&self) -> Arc<RedisBroker> {
        Arc::new(RedisBroker::new(Arc::clone(&self.shared)))
    }

    /// The result backend.
    pub fn backend(&self) -> Arc<RedisBackend> {
        Arc::new(RedisBackend::new(Arc::clone(&self.shared)))
    }

    /// The lock store.
    pub fn locks(&self) -> Arc<RedisLockStore> {
        Arc::new(RedisLockStore::new(Arc::clone(&self.shared)))
    }

    /// The workflow store.
    pub fn workflows(&self) -> Arc<RedisWorkflowStore> {
        Arc::new(RedisWorkflowStore::new(Arc::clone(&self.shared)))
    }

    /// The options it was opened with.
    pub fn options(&self) -> &RedisOptions {
        &self.shared.options
    }

    /// Deletes every key of this store's namespace (for tests and teardown);
    /// returns how many. Uses `SCAN`, never `FLUSHDB`.
    pub async fn delete_namespace(&self) -> stem::Result<usize> {
        let mut conn = self.shared.conn();
        let pattern = format!("{}*", self.shared.keys.prefix());
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(|e| failed("scanning the namespace", e))?;
            if !keys.is_empty() {
                let n: usize = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| failed("deleting keys", e))?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

impl Shared {
    /// A handle on the shared connection.
    pub(crate) fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The client, for connections of their own (blocking reads, pub/sub).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The subscription to final states, started on first use.
    pub(crate) async fn done(&self) -> stem::Result<&done::Listener> {
        self.done.get_or_try_init(|| done::Listener::start(self.client.clone(), self.keys.done_channel())).await
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    pub(crate) fn options(&self) -> &RedisOptions {
        &self.options
    }
}

/// The `redis` client for `options`: plain for `redis://`, with the TLS
/// settings for `rediss://`.
fn client(options: &RedisOptions) -> stem::Result<redis::Client> {
    let url = options.url();
    let invalid = |e: redis::RedisError| {
        Error::Config(format!(
            "`{url}` is not a valid Redis URL ({e}); write redis://[user:password@]host[:port][/db] or rediss:// for TLS"
        ))
    };
    let tls = options.tls();
    if !url.starts_with("rediss://") {
        if tls.is_set() {
            return Err(Error::Config(format!(
                "TLS settings are given but `{url}` is not a TLS URL; use rediss:// to connect with TLS"
            )));
        }
        return redis::Client::open(url).map_err(invalid);
    }
    // One crypto provider for rustls, whatever else the process links.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = if tls.allow_insecure && !url.contains('#') { format!("{url}#insecure") } else { url.to_owned() };
    if tls.allow_insecure {
        tracing::warn!(%url, "TLS certificate verification is off ({ALLOW_INSECURE_VAR}); use this only while debugging");
    }
    redis::Client::build_with_tls(url.as_str(), tls.certificates()?).map_err(invalid)
}

/// The error for a failed Redis command, saying what it was for, why, and
/// whether the server is unreachable.
pub(crate) fn failed(what: &str, e: redis::RedisError) -> Error {
    let unreachable = e.is_connection_refusal() || e.is_connection_dropped() || e.is_io_error() || e.is_timeout();
    let hint =
        if unreachable { " (Redis is unreachable: is the server running? the next command reconnects)" } else { "" };
    Error::adapter(format!("Redis: {what} failed: {e}{hint}"), e)
}

/// The longest duration the adapter hands to Redis: ten years. Longer ones are
/// cut to it, so that times stay exact in Lua's numbers (doubles).
const MAX_MILLIS: u64 = 10 * 365 * 24 * 3600 * 1000;

/// `value` as JSON, for Redis.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> stem::Result<String> {
    crate::json::encode(value, "Redis")
}

/// A stored `what` read back from Redis.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> stem::Result<T> {
    crate::json::decode(text, what, "Redis")
}

/// Milliseconds in `d`, at least 1 (Redis rejects a zero expiry), at most ten years.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).clamp(1, MAX_MILLIS)
}
