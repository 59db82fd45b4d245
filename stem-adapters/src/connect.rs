//! Picking adapters from URLs: a table of schemes (`memory://`,
//! `sqlite://path`, `redis://`, `rediss://`, `postgres://`, `postgresql://`),
//! each opened by its adapter's own `connect(url)`, which reads the URL's
//! options (`SqliteOptions::from_url`, `RedisOptions::from_url`,
//! `PostgresOptions::from_url`).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use stem::{Error, Result, Stem, Stores};

use crate::redact::redact_url;

/// The broker URL when `STEM_BROKER_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://stem.db";

/// The variable naming the broker's URL.
pub const BROKER_URL_VAR: &str = "STEM_BROKER_URL";

/// The variable naming the result backend's URL; the broker's URL when unset.
pub const BACKEND_URL_VAR: &str = "STEM_RESULT_BACKEND_URL";

/// Opens the stores a URL names.
type Open = fn(&str) -> BoxFuture<'_, Result<Stores>>;

/// A URL scheme, the cargo feature of its adapter (`None` when the adapter
/// is built in) and how to open it (`None` when the feature is left out).
struct Scheme {
    name: &'static str,
    feature: Option<&'static str>,
    open: Option<Open>,
}

/// The schemes [`open`] knows.
const SCHEMES: &[Scheme] = &[
    Scheme { name: "memory", feature: None, open: Some(|_| Box::pin(async { Ok(Stores::in_memory()) })) },
    Scheme { name: "sqlite", feature: Some("sqlite"), open: SQLITE },
    Scheme { name: "redis", feature: Some("redis"), open: REDIS },
    Scheme { name: "rediss", feature: Some("redis"), open: REDIS },
    Scheme { name: "postgres", feature: Some("postgres"), open: POSTGRES },
    Scheme { name: "postgresql", feature: Some("postgres"), open: POSTGRES },
];

#[cfg(feature = "sqlite")]
const SQLITE: Option<Open> =
    Some(|url| Box::pin(async move { Ok(crate::sqlite::SqliteStore::connect(url).await?.stores()) }));
#[cfg(not(feature = "sqlite"))]
const SQLITE: Option<Open> = None;

#[cfg(feature = "redis")]
const REDIS: Option<Open> =
    Some(|url| Box::pin(async move { Ok(crate::redis::RedisStore::connect(url).await?.stores()) }));
#[cfg(not(feature = "redis"))]
const REDIS: Option<Open> = None;

#[cfg(feature = "postgres")]
const POSTGRES: Option<Open> =
    Some(|url| Box::pin(async move { Ok(crate::postgres::PostgresStore::connect(url).await?.stores()) }));
#[cfg(not(feature = "postgres"))]
const POSTGRES: Option<Open> = None;

/// A [`Stem`] whose stores (broker, result backend, locks, workflows) all
/// live at `url`.
///
/// ```no_run
/// # async fn demo() -> stem::Result<()> {
/// let stem = stem_adapters::connect("sqlite://stem.db").await?;
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<Stem> {
    Ok(Stem::new(open(url).await?))
}

/// A [`Stem`] with its broker at `broker_url` and its result backend (locks
/// and workflows too) at `backend_url`. The same URL twice opens one store, as
/// [`connect`] does.
pub async fn connect_urls(broker_url: &str, backend_url: &str) -> Result<Stem> {
    if broker_url == backend_url {
        return connect(broker_url).await;
    }
    let broker = Arc::clone(open(broker_url).await?.broker());
    Ok(Stem::new(open(backend_url).await?.with_broker(broker)))
}

/// A [`Stem`] configured from the environment: the broker at `STEM_BROKER_URL`
/// (default [`DEFAULT_URL`], a `stem.db` file in the working directory), the
/// result backend at `STEM_RESULT_BACKEND_URL` (default: the broker's URL),
/// and signing from the `STEM_SIGNING_*` variables when they are set (see
/// [`Signing::from_env`](stem::signing::Signing::from_env)), as the command
/// line does. A signing variable that is wrong is an error naming it, before
/// anything is opened.
pub async fn connect_env() -> Result<Stem> {
    let signing = stem::signing::Signing::from_env()?;
    let (broker, backend) = urls_from_env();
    let stem = connect_urls(&broker, &backend).await?;
    Ok(match signing {
        Some(signing) => stem.with_signing(signing),
        None => stem,
    })
}

/// The broker and backend URLs the environment names, with their defaults.
pub fn urls_from_env() -> (String, String) {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.trim().is_empty());
    let broker = var(BROKER_URL_VAR).unwrap_or_else(|| DEFAULT_URL.to_owned());
    let backend = var(BACKEND_URL_VAR).unwrap_or_else(|| broker.clone());
    (broker, backend)
}

/// Opens the stores at `url`. Each call on `memory://` makes new, empty stores.
pub async fn open(url: &str) -> Result<Stores> {
    let scheme = scheme(url)?;
    match scheme.open {
        Some(open) => open(url).await,
        None => Err(unavailable(url, scheme)),
    }
}

/// The scheme `url` names.
fn scheme(url: &str) -> Result<&'static Scheme> {
    let known = || SCHEMES.iter().map(|s| format!("{}://", s.name)).collect::<Vec<_>>().join(", ");
    let shown = redact_url(url);
    let Some((name, _)) = url.split_once("://") else {
        return Err(Error::Config(format!(
            "`{shown}` is not a Stem URL: it has no scheme; use one of {}, for example {DEFAULT_URL}",
            known()
        )));
    };
    let lower = name.to_ascii_lowercase();
    SCHEMES.iter().find(|s| s.name == lower).ok_or_else(|| {
        Error::Config(format!("unknown URL scheme `{name}://` in `{shown}`; known schemes: {}", known()))
    })
}

/// The error for a known scheme whose adapter this build does not have.
fn unavailable(url: &str, scheme: &Scheme) -> Error {
    let feature = scheme.feature.unwrap_or(scheme.name);
    let url = redact_url(url);
    Error::Config(format!(
        "`{url}` needs the `{feature}` feature of stem-adapters, which this build leaves out; enable it: \
         stem-adapters = {{ features = [\"{feature}\"] }}"
    ))
}

/// The message of a configuration error, failing the test on anything else.
#[cfg(test)]
pub(crate) fn config_error(result: stem::Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_and_missing_schemes_list_the_known_ones() {
        let message = config_error(open("amqp://localhost").await);
        assert!(message.contains("unknown URL scheme `amqp://`"), "{message}");
        assert!(message.contains("memory://, sqlite://, redis://"), "{message}");
        let message = config_error(open("stem.db").await);
        assert!(message.contains("no scheme") && message.contains("sqlite://stem.db"), "{message}");
    }

    #[test]
    fn adapters_not_built_say_so() {
        let sqlite = SCHEMES.iter().find(|s| s.name == "sqlite").expect("listed");
        let message = match unavailable("sqlite://x.db", sqlite) {
            Error::Config(message) => message,
            other => panic!("{other:?}"),
        };
        assert!(message.contains("needs the `sqlite` feature of stem-adapters"), "{message}");
    }

    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn a_bad_redis_url_or_an_absent_server_names_itself() {
        let message = config_error(open("redis://h:notaport").await);
        assert!(message.contains("not a valid Redis URL"), "{message}");
        let message = config_error(open("redis://h?namespace=a*b").await);
        assert!(message.contains("namespace `a*b` is not valid"), "{message}");
        // Nothing listens on port 1.
        let error = open("redis://127.0.0.1:1").await.expect_err("no server");
        assert!(error.to_string().contains("Is the server running"), "{error}");
        let error = open("redis://127.0.0.1:1?cluster=true").await.expect_err("no cluster");
        assert!(error.to_string().contains("the Redis Cluster through redis://127.0.0.1:1"), "{error}");
        let message = config_error(open("redis://h:notaport?cluster=true").await);
        assert!(message.contains("not a valid Redis URL"), "{message}");
    }
}
