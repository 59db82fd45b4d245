//! The Redis adapter (feature `redis`): a broker on Redis Streams, a result
//! backend with one hash per task (a queued task's message stands
//! for its record until a worker writes one), a lock store, a workflow
//! store, a rate limiter, a schedule store and a revoke store, for many
//! workers on many hosts sharing one Redis.
//!
//! ```no_run
//! # async fn demo() -> stem::Result<()> {
//! use stem_adapters::redis::RedisStore;
//!
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
//! let stem = stem::Stem::new(store.stores());
//! # Ok(()) }
//! ```
//!
//! Every key starts with `stem:<namespace>:` (see [`RedisOptions`]); the keys of
//! one queue share a hash tag. Scripts live in `scripts/*.lua`.
//!
//! It runs on one Redis server or on a Redis Cluster
//! ([`RedisOptions::cluster`], or `?cluster=true` on a URL given to
//! [`connect`](crate::connect)). On a Cluster every script touches the keys of
//! one hash slot: a queue's scripts its queue's keys; the workflow store's
//! scripts the workflow keys, which share the namespace as hash tag
//! (`stem:<namespace>:wf:{<namespace>}:...`); the schedule store's scripts
//! the schedule keys (`stem:<namespace>:schedules:{<namespace>:schedules}:...`,
//! one slot per namespace); the revoke store's scripts the revoke keys
//! (`stem:<namespace>:revokes:{<namespace>:revokes}:...`, one slot per
//! namespace too); and a batch over many tasks is split
//! into one pipeline per slot, sent together (see `pipeline.rs`). While a slot
//! moves between nodes, calls on its keys wait and retry (`TRYAGAIN`, see
//! `Lua::cmd` in `scripts.rs`) until it has moved. Task records spread over
//! 16 slots per namespace there (see `Keys::task`), so a batch of status
//! writes is about 16 script calls.

mod backend;
mod broker;
mod conn;
mod done;
mod keys;
mod lock;
mod options;
mod pipeline;
mod rate;
mod revoke;
mod schedule;
mod scripts;
mod spin;
mod workflow;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::{AsyncConnectionConfig, TlsCertificates};
use stem::{Error, Stores};

use self::conn::Conn;
use crate::redact::redact_url;

pub use self::backend::RedisBackend;
pub use self::broker::RedisBroker;
use self::keys::Keys;
pub use self::lock::RedisLockStore;
pub use self::options::{DEFAULT_NAMESPACE, RedisOptions};
pub use self::rate::RedisRateLimiter;
pub use self::revoke::RedisRevokeStore;
pub use self::schedule::RedisScheduleStore;
use self::spin::Spin;
pub use self::spin::{DEFAULT_SPIN, MAX_SPIN};
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
pub(crate) struct Shared {
    /// The server (on a Cluster, its first seed node), for connections of
    /// their own: blocking reads on one server, pub/sub.
    client: redis::Client,
    /// The Cluster, for blocking reads on it.
    cluster: Option<ClusterClient>,
    /// The connection for every non-blocking command; it reconnects on its own.
    conn: Conn,
    options: RedisOptions,
    keys: Keys,
    /// The subscription that wakes `wait`, started by the first `wait`.
    done: tokio::sync::OnceCell<done::Listener>,
    /// How short calls wait for their replies.
    spin: Spin,
}

impl RedisStore {
    /// Connects to the Redis at `url`, with the options its query names (see
    /// [`RedisOptions::from_url`]).
    pub async fn connect(url: &str) -> stem::Result<Self> {
        Self::connect_with(RedisOptions::from_url(url)?).await
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
        let client = client(&options, url)?;
        let unreachable = |e: redis::RedisError| {
            let tls = if url.starts_with("rediss://") {
                format!(
                    " For TLS, check the certificates ({CA_CERT_VAR}, {CLIENT_CERT_VAR}, {CLIENT_KEY_VAR}); \
                     {ALLOW_INSECURE_VAR}=true skips verification while debugging."
                )
            } else {
                String::new()
            };
            let what = if options.is_cluster() { "the Redis Cluster through" } else { "Redis at" };
            let nodes = options.shown_nodes();
            let message =
                format!("connecting to {what} {nodes} failed: {e}. Is the server running and reachable?{tls}");
            Error::adapter(options.scrub(&message), e)
        };
        let (conn, cluster) = if options.is_cluster() {
            let config = ClusterConfig::new()
                .set_response_timeout(RESPONSE_TIMEOUT)
                .set_connection_timeout(Duration::from_secs(5));
            let (commands, blocking) = cluster_clients(&options)?;
            let conn = commands.get_async_connection_with_config(config).await.map_err(|e| {
                if e.to_string().contains("cluster support disabled") {
                    mode_mismatch(&options)
                } else {
                    unreachable(e)
                }
            })?;
            (Conn::Cluster(conn), Some(blocking))
        } else {
            // A few quick retries per reconnection; a command issued while Redis is
            // away fails (the worker retries it with its own backoff) and the next
            // one tries to reconnect again.
            let config = ConnectionManagerConfig::new()
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_connection_timeout(Some(Duration::from_secs(5)))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_secs(1));
            (Conn::Manager(client.get_connection_manager_with_config(config).await.map_err(unreachable)?), None)
        };
        let mut loading = conn.clone();
        if !options.is_cluster() {
            check_not_clustered(&mut loading, &options).await?;
        }
        scripts::load_all(&mut loading).await?;
        let keys = Keys::new(options.namespace(), options.is_cluster());
        let done = tokio::sync::OnceCell::new();
        let spin = Spin::new(options.spin());
        Ok(Self { shared: Arc::new(Shared { client, cluster, conn, options, keys, done, spin }) })
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

    /// The rate limiter: schedules shared by every worker on this namespace.
    pub fn rate_limiter(&self) -> Arc<RedisRateLimiter> {
        Arc::new(RedisRateLimiter::new(Arc::clone(&self.shared)))
    }

    /// The schedule store: schedules shared by every scheduler on this namespace.
    pub fn schedules(&self) -> Arc<RedisScheduleStore> {
        Arc::new(RedisScheduleStore::new(Arc::clone(&self.shared)))
    }

    /// The revoke store: revokes shared by every worker on this namespace.
    pub fn revokes(&self) -> Arc<RedisRevokeStore> {
        Arc::new(RedisRevokeStore::new(Arc::clone(&self.shared)))
    }

    /// The workflow store.
    pub fn workflows(&self) -> Arc<RedisWorkflowStore> {
        Arc::new(RedisWorkflowStore::new(Arc::clone(&self.shared)))
    }

    /// The broker, the result backend, the lock store, the workflow store,
    /// the rate limiter, the schedule store and the revoke store, as one
    /// value for [`Stem::new`](stem::Stem::new); enqueues write only their messages,
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
    pub fn options(&self) -> &RedisOptions {
        &self.shared.options
    }

    /// Deletes every key of this store's namespace (for tests and teardown);
    /// returns how many. Uses `SCAN`, never `FLUSHDB`.
    pub async fn delete_namespace(&self) -> stem::Result<usize> {
        let conn = self.shared.conn();
        let pattern = format!("{}*", self.shared.keys.prefix());
        let mut deleted = 0;
        for node in conn.primaries().await? {
            let mut cursor: u64 = 0;
            loop {
                let (next, keys) = conn.scan(node, cursor, &pattern).await?;
                let mut batch = pipeline::Batch::default();
                for key in &keys {
                    batch.add(key, redis::cmd("UNLINK").arg(key).to_owned());
                }
                for reply in batch.run(&conn, "deleting keys").await? {
                    deleted += redis::from_redis_value::<usize>(reply)
                        .map_err(|e| Error::adapter("Redis: UNLINK did not answer a count", e))?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(deleted)
    }
}

impl std::fmt::Debug for Shared {
    /// The options only (the clients' own `Debug` would show the password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Shared {
    /// A handle on the shared connection.
    pub(crate) fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// Whether the store is on a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// The client of the server (on a Cluster, of its first node), for pub/sub.
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// A new connection for blocking reads: no response timeout, used by one
    /// waiting receiver at a time.
    pub(crate) async fn blocking_conn(&self) -> stem::Result<Conn> {
        let opened = match &self.cluster {
            Some(cluster) => {
                let config = ClusterConfig::new().set_connection_timeout(Duration::from_secs(5));
                cluster.get_async_connection_with_config(config).await.map(Conn::Cluster)
            }
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_response_timeout(None)
                    .set_connection_timeout(Some(Duration::from_secs(5)));
                self.client.get_multiplexed_async_connection_with_config(&config).await.map(Conn::Plain)
            }
        };
        opened.map_err(|e| failed("opening a connection for blocking reads", e))
    }

    /// The subscription to final states, started on first use.
    pub(crate) async fn done(&self) -> stem::Result<&done::Listener> {
        self.done.get_or_try_init(|| done::Listener::start(self.client.clone(), self.keys.done_channel())).await
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    /// `call`'s output, waited for as a short call (see `spin.rs`).
    pub(crate) async fn quick<F: std::future::Future>(&self, call: F) -> F::Output {
        self.spin.wait(call).await
    }

    pub(crate) fn options(&self) -> &RedisOptions {
        &self.options
    }
}

/// Fails, naming the fix, when one server opened as such is a Cluster node:
/// it would answer `MOVED` for most keys. (One server opened as a Cluster
/// fails earlier, in the cluster client; see [`mode_mismatch`].)
async fn check_not_clustered(conn: &mut Conn, options: &RedisOptions) -> stem::Result<()> {
    let info: String = match redis::cmd("INFO").arg("cluster").query_async(conn).await {
        Ok(info) => info,
        // A user whose ACL denies `INFO` (it is `@dangerous`) may still use
        // the store: the check is a courtesy, skipped then.
        Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoPerm) => return Ok(()),
        Err(e) => return Err(failed("reading the server's mode", e)),
    };
    let clustered = info.lines().any(|line| line.trim() == "cluster_enabled:1");
    if clustered { Err(mode_mismatch(options)) } else { Ok(()) }
}

/// The error for a server whose mode (one server or a Cluster node) is not the
/// one `options` say, naming the fix.
fn mode_mismatch(options: &RedisOptions) -> Error {
    let nodes = options.shown_nodes();
    Error::Config(if options.is_cluster() {
        format!("the Redis at {nodes} is not a Cluster node; connect without ?cluster=true (or with RedisOptions::new)")
    } else {
        format!(
            "the Redis at {nodes} is a Redis Cluster node; connect with ?cluster=true on the URL \
             (or RedisOptions::cluster) so that each key goes to the node that holds it"
        )
    })
}

/// The `redis` client for `url`: plain for `redis://`, with the TLS settings of
/// `options` for `rediss://`.
fn client(options: &RedisOptions, url: &str) -> stem::Result<redis::Client> {
    let (read, certificates) = node_url(options, url)?;
    match certificates {
        Some(certificates) => redis::Client::build_with_tls(read.as_str(), certificates),
        None => redis::Client::open(read.as_str()),
    }
    .map_err(|e| invalid_url(options, url, &e))
}

/// The `redis` Cluster clients for the seed nodes of `options`: one whose
/// commands give up after [`RESPONSE_TIMEOUT`] in all (retries included), and
/// one without that timeout, for blocking reads.
fn cluster_clients(options: &RedisOptions) -> stem::Result<(ClusterClient, ClusterClient)> {
    let mut nodes = Vec::with_capacity(options.nodes().len());
    let mut tls = None;
    for url in options.nodes() {
        let (read, certificates) = node_url(options, url)?;
        // Parsed here, so that a bad node names itself.
        redis::Client::open(read.as_str()).map_err(|e| invalid_url(options, url, &e))?;
        nodes.push(read);
        tls = tls.or(certificates);
    }
    // A few quick retries (a redirection, a node restarting: about a second
    // when it refuses connections); then a command fails, as on one server,
    // and the worker retries it with its own backoff (the crate's default
    // would retry for many minutes).
    let build = |timeout: Option<Duration>| {
        let mut builder = ClusterClientBuilder::new(nodes.clone())
            .retries(3)
            .min_retry_wait(50)
            .max_retry_wait(1000)
            .retry_wait_formula(100, 2);
        if let Some(timeout) = timeout {
            builder = builder.response_timeout(timeout);
        }
        if let Some(certificates) = &tls {
            builder = builder.certs(certificates.clone());
        }
        builder.build().map_err(|e| {
            Error::Config(options.scrub(&format!(
                "the Redis Cluster nodes {} are not usable together ({e}); give redis:// or rediss:// URLs of one cluster, all with the same scheme",
                options.shown_nodes()
            )))
        })
    };
    Ok((build(Some(RESPONSE_TIMEOUT))?, build(None)?))
}

/// `url` as the `redis` crate should read it, and the certificates it needs:
/// `None` for `redis://` (which takes no TLS settings), the settings of
/// `options` for `rediss://` (with `#insecure` when verification is off).
fn node_url(options: &RedisOptions, url: &str) -> stem::Result<(String, Option<TlsCertificates>)> {
    let tls = options.tls();
    if !url.starts_with("rediss://") {
        if tls.is_set() {
            return Err(Error::Config(format!(
                "TLS settings are given but `{}` is not a TLS URL; use rediss:// to connect with TLS",
                redact_url(url)
            )));
        }
        return Ok((url.to_owned(), None));
    }
    // One crypto provider for rustls, whatever else the process links.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = if tls.allow_insecure && !url.contains('#') { format!("{url}#insecure") } else { url.to_owned() };
    if tls.allow_insecure {
        tracing::error!(url = %redact_url(url), "TLS certificate verification is off ({ALLOW_INSECURE_VAR}); use this only while debugging");
    } else if read.ends_with("#insecure") {
        tracing::error!(url = %redact_url(url), "TLS certificate verification is off (#insecure on the URL); use this only while debugging");
    }
    Ok((read, Some(tls.certificates()?)))
}

/// The error for a URL the `redis` crate cannot read.
fn invalid_url(options: &RedisOptions, url: &str, e: &redis::RedisError) -> Error {
    Error::Config(options.scrub(&format!(
        "`{}` is not a valid Redis URL ({e}); write redis://[user:password@]host[:port][/db] or rediss:// for TLS",
        redact_url(url)
    )))
}

/// The error for a failed Redis command, saying what it was for, why, and
/// whether the server is unreachable.
pub(crate) fn failed(what: &str, e: redis::RedisError) -> Error {
    let unreachable = e.is_connection_refusal() || e.is_connection_dropped() || e.is_io_error() || e.is_timeout();
    let hint = if unreachable {
        " (Redis is unreachable: is the server running? the next command reconnects)"
    } else if pipeline::slot_moving(&e) {
        " (its hash slot was moving between Cluster nodes for longer than the adapter retries, 10 s; try again once the resharding is done)"
    } else {
        ""
    };
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
