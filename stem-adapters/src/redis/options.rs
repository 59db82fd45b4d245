//! How to reach Redis and how the adapter names and keeps its data.

use std::time::Duration;

use stem::backend::DEFAULT_RESULT_RETENTION;

use crate::query::{Query, check_scheme};
use crate::redact::{redact_url, scrub_secrets};
use crate::tls::TlsOptions;

/// The namespace when none is given: keys start with `stem:stem:`.
pub const DEFAULT_NAMESPACE: &str = "stem";

/// Options of a [`RedisStore`](super::RedisStore).
///
/// ```
/// use std::time::Duration;
/// use stem_adapters::redis::RedisOptions;
///
/// let options = RedisOptions::new("redis://127.0.0.1:6379/0")
///     .with_namespace("billing")
///     .with_retention(Duration::from_secs(3600));
/// assert_eq!(options.namespace(), "billing");
///
/// // A Redis Cluster, found through any of its nodes.
/// let cluster = RedisOptions::cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]);
/// assert!(cluster.is_cluster());
/// ```
#[derive(Clone)]
pub struct RedisOptions {
    /// The server's URL, or the Cluster's seed nodes' (never empty).
    nodes: Vec<String>,
    cluster: bool,
    namespace: String,
    retention: Duration,
    tls: TlsOptions,
    spin: Duration,
    dead_letter_retention: Duration,
    task_listing: bool,
}

impl RedisOptions {
    /// Options for the server at `url` (`redis://` or `rediss://`, as the
    /// `redis` crate reads it), with the default namespace and retention.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            nodes: vec![url.into()],
            cluster: false,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            retention: DEFAULT_RESULT_RETENTION,
            tls: TlsOptions::default(),
            spin: super::DEFAULT_SPIN,
            dead_letter_retention: stem::broker::DEFAULT_DEAD_LETTER_RETENTION,
            task_listing: false,
        }
    }

    /// Options for a Redis Cluster, reached through `nodes` (`redis://` or
    /// `rediss://` URLs of some of its nodes; the client finds the others and
    /// follows slots as they move). Subscriptions (waking `wait`, hearing
    /// control broadcasts) go through the first node, as Cluster pub/sub
    /// reaches every node; while that node is down, the one that wakes `wait`
    /// reconnects with backoff and `wait` reads its task's status every few
    /// seconds meanwhile.
    /// With no node given, the local default `redis://127.0.0.1:6379`.
    pub fn cluster<I, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut nodes: Vec<String> = nodes.into_iter().map(Into::into).collect();
        if nodes.is_empty() {
            nodes.push("redis://127.0.0.1:6379".to_owned());
        }
        Self { nodes, cluster: true, ..Self::new("") }
    }

    /// Options from a URL, as [`RedisStore::connect`](super::RedisStore::connect)
    /// and [`connect`](crate::connect) read it: `redis://` or `rediss://`
    /// (TLS, with the `STEM_TLS_*` settings of [`TlsOptions::from_env`]),
    /// `[user:password@]host[:port][/db]`, and these query options of Stem's
    /// own, taken out before the rest goes to the `redis` crate:
    ///
    /// | option | meaning |
    /// |---|---|
    /// | `namespace=stem` | keys start with `stem:<namespace>:` ([`with_namespace`](Self::with_namespace)) |
    /// | `retention_secs=86400` | how long final states are kept ([`with_retention`](Self::with_retention)) |
    /// | `cluster=true` | the URL names one node of a Redis Cluster; the client finds the others ([`cluster`](Self::cluster)) |
    /// | `dead_letter_retention_secs=2592000` | how long dead letters are kept ([`with_dead_letter_retention`](Self::with_dead_letter_retention)) |
    /// | `spin_us=100` | how long a short call waits busily for its reply; `0` never ([`with_spin`](Self::with_spin)) |
    /// | `task_listing=false` | task statuses listable by name and state ([`with_task_listing`](Self::with_task_listing)) |
    ///
    /// ```
    /// use stem_adapters::redis::RedisOptions;
    ///
    /// let options = RedisOptions::from_url("redis://h:6380/2?namespace=billing&protocol=resp3")?;
    /// assert_eq!((options.url(), options.namespace()), ("redis://h:6380/2?protocol=resp3", "billing"));
    /// # Ok::<(), stem::Error>(())
    /// ```
    pub fn from_url(url: &str) -> stem::Result<Self> {
        check_scheme(url, &["redis", "rediss"], "Redis")?;
        let (mut namespace, mut retention, mut spin, mut cluster) = (None, None, None, false);
        let (mut dead_letter_retention, mut task_listing) = (None, None);
        let query = Query::read(url, |opt| {
            match opt.key {
                "namespace" if !opt.value.is_empty() => namespace = Some(opt.value.to_owned()),
                "retention_secs" => retention = Some(opt.seconds()?),
                "dead_letter_retention_secs" => dead_letter_retention = Some(opt.seconds()?),
                "spin_us" => {
                    let max = super::MAX_SPIN.as_micros();
                    let takes = format!("a whole number of microseconds up to {max} (0 turns spinning off)");
                    let us: u64 = opt.number(&takes)?;
                    if u128::from(us) > max {
                        return Err(opt.invalid(&takes));
                    }
                    spin = Some(Duration::from_micros(us));
                }
                "cluster" => {
                    cluster = match opt.value {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(opt.invalid("true (for a Redis Cluster) or false")),
                    }
                }
                "task_listing" => {
                    task_listing = Some(match opt.value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(opt.invalid("`true` or `false`")),
                    });
                }
                // The `redis` crate's own options.
                "protocol" | "db" | "user" | "pass" => return Ok(false),
                _ => {
                    return Err(opt.unknown(
                        "Redis",
                        &[
                            "namespace",
                            "retention_secs",
                            "dead_letter_retention_secs",
                            "cluster",
                            "spin_us",
                            "task_listing",
                            "protocol",
                            "db",
                            "user",
                            "pass",
                        ],
                    ));
                }
            }
            Ok(true)
        })?;
        let rest = query.rest();
        let mut options = if cluster { Self::cluster([rest]) } else { Self::new(rest) };
        let tls = TlsOptions::from_env()?;
        if query.base().to_ascii_lowercase().starts_with("rediss://") {
            options = options.with_tls(tls);
        } else if tls.is_set() {
            tracing::error!(
                url = %redact_url(url),
                "STEM_TLS_* settings are set but this redis:// URL connects without TLS, ignoring them; use rediss:// for TLS"
            );
        }
        if let Some(namespace) = namespace {
            options = options.with_namespace(namespace);
        }
        if let Some(retention) = retention {
            options = options.with_retention(retention);
        }
        if let Some(retention) = dead_letter_retention {
            options = options.with_dead_letter_retention(retention);
        }
        if let Some(spin) = spin {
            options = options.with_spin(spin);
        }
        if let Some(on) = task_listing {
            options = options.with_task_listing(on);
        }
        Ok(options)
    }

    /// Every key starts with `stem:<namespace>:`, so that several apps (or test
    /// cases) share one Redis without seeing each other's data. Letters,
    /// digits, `_` and `-` only.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How long final task states (and groups) are kept before they expire.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// TLS settings for a `rediss://` URL (see [`TlsOptions::from_env`]).
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// How long dead letters are kept before they are pruned (30 days).
    pub fn with_dead_letter_retention(mut self, retention: Duration) -> Self {
        self.dead_letter_retention = retention;
        self
    }

    /// How long dead letters are kept.
    pub fn dead_letter_retention(&self) -> Duration {
        self.dead_letter_retention
    }

    /// How long a short call (a one-message publish, a status read) waits
    /// for its reply busily, yielding to the runtime rather than letting its
    /// thread sleep, before it waits as usual: [`DEFAULT_SPIN`](super::DEFAULT_SPIN)
    /// (100 us) unless set, zero never, at most [`MAX_SPIN`](super::MAX_SPIN).
    /// On a virtual machine a thread's wake-up can cost more than a loopback
    /// round trip: on the benchmarks' 2-core VM one-call enqueues ran about
    /// 1.6 times as fast spinning. The spinning task lets the other ready
    /// tasks of its thread run; on the multi-thread runtime it also keeps a
    /// second worker thread awake while it waits (CPU time, and on a busy
    /// 2-core machine a little latency for the rest). Calls spin only while
    /// replies come within the budget (and one in 32 to look again), so
    /// against a distant Redis they stop after one call. `?spin_us=0` on a
    /// URL given to [`connect`](crate::connect) turns it off.
    pub fn with_spin(mut self, budget: Duration) -> Self {
        self.spin = budget.min(super::MAX_SPIN);
        self
    }

    /// How long a short call waits for its reply busily.
    pub fn spin(&self) -> Duration {
        self.spin
    }

    /// Makes task statuses listable by name and state (the dashboard's
    /// search, [`TaskListing`](stem::backend::TaskListing)): two sorted sets
    /// per status, per state and per name and state, which every status
    /// write then updates (about 30% off the drain rate, 420 bytes a
    /// status; `BENCHMARKS.md`). Off by default. A task enqueued through
    /// the same store is listed from its first status written by a worker;
    /// statuses written while it was off, from their next write.
    pub fn with_task_listing(mut self, on: bool) -> Self {
        self.task_listing = on;
        self
    }

    /// Whether task statuses are listable (see [`with_task_listing`](Self::with_task_listing)).
    pub fn task_listing(&self) -> bool {
        self.task_listing
    }

    /// The TLS settings.
    pub fn tls(&self) -> &TlsOptions {
        &self.tls
    }

    /// The server's URL (on a Cluster, the first node's).
    pub fn url(&self) -> &str {
        &self.nodes[0]
    }

    /// Whether these are options for a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The Cluster's seed nodes (one server: its URL alone).
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The nodes' URLs for messages and logs, their passwords hidden.
    pub(crate) fn shown_nodes(&self) -> String {
        self.nodes.iter().map(|url| redact_url(url)).collect::<Vec<_>>().join(", ")
    }

    /// `message` with every node's password hidden (see [`scrub_secrets`]).
    pub(crate) fn scrub(&self, message: &str) -> String {
        self.nodes.iter().fold(message.to_owned(), |message, url| scrub_secrets(&message, url))
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// How long final states are kept.
    pub fn retention(&self) -> Duration {
        self.retention
    }
}

impl std::fmt::Debug for RedisOptions {
    /// The nodes' URLs with their passwords hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nodes: Vec<String> = self.nodes.iter().map(|url| redact_url(url)).collect();
        f.debug_struct("RedisOptions")
            .field("nodes", &nodes)
            .field("cluster", &self.cluster)
            .field("namespace", &self.namespace)
            .field("retention", &self.retention)
            .field("tls", &self.tls)
            .field("spin", &self.spin)
            .field("dead_letter_retention", &self.dead_letter_retention)
            .field("task_listing", &self.task_listing)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config_error;

    #[test]
    fn redis_urls_keep_the_crates_options_and_take_stems() {
        let options = RedisOptions::from_url("redis://h:6380/2?namespace=billing&protocol=resp3&retention_secs=60")
            .expect("valid");
        assert_eq!(options.url(), "redis://h:6380/2?protocol=resp3");
        assert_eq!(options.namespace(), "billing");
        assert_eq!(options.retention(), std::time::Duration::from_secs(60));
        let options = RedisOptions::from_url("rediss://h").expect("valid");
        assert_eq!((options.url(), options.namespace()), ("rediss://h", "stem"));
        let message = config_error(RedisOptions::from_url("redis://h?retention_secs=soon"));
        assert!(message.contains("whole number of seconds"), "{message}");
        let options = RedisOptions::from_url("redis://h:7000?cluster=true&namespace=n").expect("valid");
        assert!(options.is_cluster());
        assert_eq!((options.nodes(), options.namespace()), (&["redis://h:7000".to_owned()][..], "n"));
        assert!(!RedisOptions::from_url("redis://h?cluster=false").expect("valid").is_cluster());
        assert_eq!(RedisOptions::from_url("redis://h?spin_us=0").expect("valid").spin(), std::time::Duration::ZERO);
        assert_eq!(
            RedisOptions::from_url("redis://h?spin_us=250").expect("valid").spin(),
            std::time::Duration::from_micros(250)
        );
        let message = config_error(RedisOptions::from_url("redis://h?spin_us=20000"));
        assert!(message.contains("up to 10000"), "{message}");
        assert_eq!(RedisOptions::from_url("redis://h").expect("valid").spin(), super::super::DEFAULT_SPIN);
        let message = config_error(RedisOptions::from_url("redis://h?spin_us=fast"));
        assert!(message.contains("spin_us=fast") && message.contains("microseconds"), "{message}");
        assert!(!RedisOptions::from_url("redis://h").expect("valid").task_listing(), "off by default");
        assert!(RedisOptions::from_url("redis://h?task_listing=true").expect("valid").task_listing());
        let message = config_error(RedisOptions::from_url("redis://h?task_listing=maybe"));
        assert!(message.contains("task_listing=maybe") && message.contains("`true` or `false`"), "{message}");
        let message = config_error(RedisOptions::from_url("redis://h?cluster=yes"));
        assert!(message.contains("cluster=yes") && message.contains("true (for a Redis Cluster)"), "{message}");
        let message = config_error(RedisOptions::from_url("postgres://h"));
        assert!(message.contains("not a Redis URL; the Redis adapter takes redis:// or rediss://"), "{message}");
    }
}
