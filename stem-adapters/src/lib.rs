//! Storage adapters for Stem: SQLite (the embedded default), Redis (feature
//! `redis`) and Postgres (feature `postgres`), and [`connect`], which picks one
//! from a URL.
//!
//! ```no_run
//! # async fn demo() -> stem::Result<()> {
//! // STEM_BROKER_URL and STEM_RESULT_BACKEND_URL, default sqlite://stem.db;
//! // signing from STEM_SIGNING_* when set
//! let stem = stem_adapters::connect_env().await?;
//! # Ok(()) }
//! ```

mod connect;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod group_commit;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod json;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "sqlite", feature = "redis", feature = "postgres"))]
mod query;
mod redact;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod tls;
#[cfg(any(feature = "sqlite", feature = "redis", feature = "postgres"))]
mod undecodable;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod waiters;

pub use self::connect::{
    BACKEND_URL_VAR, BROKER_URL_VAR, DEFAULT_URL, connect, connect_env, connect_urls, open, urls_from_env,
};
pub use self::redact::{redact_url, scrub_secrets};
#[cfg(any(feature = "redis", feature = "postgres"))]
pub use self::tls::{ALLOW_INSECURE_VAR, CA_CERT_VAR, CLIENT_CERT_VAR, CLIENT_KEY_VAR, TlsOptions};
