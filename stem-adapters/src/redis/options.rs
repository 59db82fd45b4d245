//! How to reach Redis and how the adapter names and keeps its data.

use std::time::Duration;

use stem::backend::DEFAULT_RESULT_RETENTION;

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
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    url: String,
    namespace: String,
    retention: Duration,
    tls: TlsOptions,
}

impl RedisOptions {
    /// Options for the server at `url` (`redis://` or `rediss://`, as the
    /// `redis` crate reads it), with the default namespace and retention.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            retention: DEFAULT_RESULT_RETENTION,
            tls: TlsOptions::default(),
        }
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

    /// The TLS settings.
    pub fn tls(&self) -> &TlsOptions {
        &self.tls
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
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
