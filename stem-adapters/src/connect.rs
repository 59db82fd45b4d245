//! Picking adapters from URLs: `memory://`, `sqlite://path`, `redis://`,
//! `rediss://`, `postgres://` and `postgresql://`.

use std::sync::Arc;

use stem::{Error, Result, Stem, Stores};

/// The broker URL when `STEM_BROKER_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://stem.db";

/// The variable naming the broker's URL.
pub const BROKER_URL_VAR: &str = "STEM_BROKER_URL";

/// The variable naming the result backend's URL; the broker's URL when unset.
pub const BACKEND_URL_VAR: &str = "STEM_RESULT_BACKEND_URL";

/// The schemes `connect` knows; a scheme whose feature is left out of the build
/// gets an error naming the feature.
const SCHEMES: &[Scheme] = &[
    Scheme { name: "memory", feature: None },
    Scheme { name: "sqlite", feature: Some("sqlite") },
    Scheme { name: "redis", feature: Some("redis") },
    Scheme { name: "rediss", feature: Some("redis") },
    Scheme { name: "postgres", feature: Some("postgres") },
    Scheme { name: "postgresql", feature: Some("postgres") },
];

/// A URL scheme and the cargo feature of its adapter (`None` when the adapter
/// is built in).
struct Scheme {
    name: &'static str,
    feature: Option<&'static str>,
}

/// A [`Stem`] whose broker, result backend and locks all live at `url`.
///
/// ```no_run
/// # async fn demo() -> stem::Result<()> {
/// let stem = stem_adapters::connect("sqlite://stem.db").await?;
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<Stem> {
    Ok(Stem::new(open(url).await?))
}

/// A [`Stem`] with its broker at `broker_url` and its result backend (and locks)
/// at `backend_url`. The same URL twice opens one store, as [`connect`] does.
pub async fn connect_urls(broker_url: &str, backend_url: &str) -> Result<Stem> {
    if broker_url == backend_url {
        return connect(broker_url).await;
    }
    let broker = Arc::clone(open(broker_url).await?.broker());
    Ok(Stem::new(open(backend_url).await?.with_broker(broker)))
}

/// A [`Stem`] configured from the environment: the broker at `STEM_BROKER_URL`
/// (default [`DEFAULT_URL`], a `stem.db` file in the working directory), the
/// result backend at `STEM_RESULT_BACKEND_URL` (default: the broker's URL).
pub async fn connect_env() -> Result<Stem> {
    let (broker, backend) = urls_from_env();
    connect_urls(&broker, &backend).await
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
    let (scheme, rest) = split(url)?;
    match scheme.name {
        "memory" => Ok(Stores::in_memory()),
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            let store = crate::sqlite::SqliteStore::open_with(sqlite_options(url, rest)?).await?;
            Ok(store.stores())
        }
        #[cfg(feature = "redis")]
        "redis" | "rediss" => {
            let store = crate::redis::RedisStore::connect_with(redis_options(url)?).await?;
            Ok(store.stores())
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let store = crate::postgres::PostgresStore::connect_with(postgres_options(url)?).await?;
            Ok(store.stores())
        }
        _ => {
            let _ = rest;
            Err(unavailable(url, scheme))
        }
    }
}

fn split(url: &str) -> Result<(&'static Scheme, &str)> {
    let known = || SCHEMES.iter().map(|s| format!("{}://", s.name)).collect::<Vec<_>>().join(", ");
    let Some((name, rest)) = url.split_once("://") else {
        return Err(Error::Config(format!(
            "`{url}` is not a Stem URL: it has no scheme; use one of {}, for example {DEFAULT_URL}",
            known()
        )));
    };
    let lower = name.to_ascii_lowercase();
    let scheme = SCHEMES.iter().find(|s| s.name == lower).ok_or_else(|| {
        Error::Config(format!("unknown URL scheme `{name}://` in `{url}`; known schemes: {}", known()))
    })?;
    Ok((scheme, rest))
}

/// The error for a known scheme whose adapter this build does not have.
fn unavailable(url: &str, scheme: &Scheme) -> Error {
    let feature = scheme.feature.unwrap_or(scheme.name);
    Error::Config(format!(
        "`{url}` needs the `{feature}` feature of stem-adapters, which this build leaves out; enable it: \
         stem-adapters = {{ features = [\"{feature}\"] }}"
    ))
}

/// Postgres options from a URL: Stem's own query options (`schema`,
/// `retention_secs`, `max_connections`, `vacuum_every`) are taken out, the rest goes
/// to sqlx.
#[cfg(feature = "postgres")]
fn postgres_options(url: &str) -> Result<crate::postgres::PostgresOptions> {
    use std::time::Duration;

    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let bad = |key: &str, value: &str, want: &str| {
        Error::Config(format!("`{url}`: `{key}={value}` is not valid; {key} takes {want}"))
    };
    let (mut schema, mut retention, mut connections, mut vacuum) = (None, None, None, None);
    let mut passed = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "schema" => schema = Some(value.to_owned()),
            "retention_secs" => {
                retention =
                    Some(Duration::from_secs(value.parse().map_err(|_| bad(key, value, "a whole number of seconds"))?));
            }
            "max_connections" => connections = Some(value.parse().map_err(|_| bad(key, value, "a whole number"))?),
            "vacuum_every" => vacuum = Some(value.parse().map_err(|_| bad(key, value, "a whole number (0: never)"))?),
            _ => passed.push(pair),
        }
    }
    let url = if passed.is_empty() { base.to_owned() } else { format!("{base}?{}", passed.join("&")) };
    let mut options = crate::postgres::PostgresOptions::new(url).with_tls(crate::tls::TlsOptions::from_env()?);
    if let Some(schema) = schema {
        options = options.with_schema(schema);
    }
    if let Some(retention) = retention {
        options = options.with_retention(retention);
    }
    if let Some(n) = connections {
        options = options.with_max_connections(n);
    }
    if let Some(n) = vacuum {
        options = options.with_vacuum_every(Some(n));
    }
    Ok(options)
}

/// Redis options from a URL: Stem's own query options (`namespace`,
/// `retention_secs`, `cluster`, `spin_us`) are taken out, the rest goes to the `redis`
/// crate. With `cluster=true` the URL names one node of a Redis Cluster, from
/// which the client finds the others (give several seed nodes with
/// [`RedisOptions::cluster`](crate::redis::RedisOptions::cluster)).
#[cfg(feature = "redis")]
fn redis_options(url: &str) -> Result<crate::redis::RedisOptions> {
    use std::time::Duration;

    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut namespace = None;
    let mut retention = None;
    let mut spin = None;
    let mut cluster = false;
    let mut passed = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "namespace" if !value.is_empty() => namespace = Some(value.to_owned()),
            "retention_secs" => {
                retention = Some(Duration::from_secs(value.parse().map_err(|_| {
                    Error::Config(format!(
                        "`{url}`: `retention_secs={value}` is not valid; it takes a whole number of seconds"
                    ))
                })?));
            }
            "spin_us" => {
                let max = crate::redis::MAX_SPIN.as_micros();
                spin = Some(value.parse().ok().filter(|us| u128::from(*us) <= max).map(Duration::from_micros).ok_or_else(
                    || {
                        Error::Config(format!(
                            "`{url}`: `spin_us={value}` is not valid; it takes a whole number of microseconds up to {max} (0 turns spinning off)"
                        ))
                    },
                )?);
            }
            "cluster" => {
                cluster = match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(Error::Config(format!(
                            "`{url}`: `cluster={value}` is not valid; write cluster=true for a Redis Cluster"
                        )));
                    }
                }
            }
            _ => passed.push(pair),
        }
    }
    let url = if passed.is_empty() { base.to_owned() } else { format!("{base}?{}", passed.join("&")) };
    let mut options =
        if cluster { crate::redis::RedisOptions::cluster([url]) } else { crate::redis::RedisOptions::new(url) };
    if base.to_ascii_lowercase().starts_with("rediss://") {
        options = options.with_tls(crate::redis::TlsOptions::from_env()?);
    }
    if let Some(namespace) = namespace {
        options = options.with_namespace(namespace);
    }
    if let Some(retention) = retention {
        options = options.with_retention(retention);
    }
    if let Some(spin) = spin {
        options = options.with_spin(spin);
    }
    Ok(options)
}

#[cfg(feature = "sqlite")]
fn sqlite_options(url: &str, rest: &str) -> Result<crate::sqlite::SqliteOptions> {
    use std::time::Duration;

    use crate::sqlite::{DEFAULT_PATH, SqliteOptions, Synchronous};

    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut options = SqliteOptions::new(if path.is_empty() { DEFAULT_PATH } else { path });
    let bad = |key: &str, value: &str, want: &str| {
        Error::Config(format!("`{url}`: `{key}={value}` is not valid; {key} takes {want}"))
    };
    let millis = |key: &str, value: &str| {
        value.parse::<u64>().map(Duration::from_millis).map_err(|_| bad(key, value, "a whole number of milliseconds"))
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        options = match key {
            "synchronous" => options.with_synchronous(match value.to_ascii_lowercase().as_str() {
                "normal" => Synchronous::Normal,
                "full" => Synchronous::Full,
                _ => return Err(bad(key, value, "`normal` or `full`")),
            }),
            "busy_timeout_ms" => options.with_busy_timeout(millis(key, value)?),
            "poll_interval_ms" => options.with_poll_interval(millis(key, value)?),
            "retention_secs" => options.with_retention(Duration::from_secs(
                value.parse().map_err(|_| bad(key, value, "a whole number of seconds"))?,
            )),
            _ => {
                return Err(Error::Config(format!(
                    "`{url}`: unknown SQLite option `{key}`; known options: synchronous, busy_timeout_ms, \
                     poll_interval_ms, retention_secs"
                )));
            }
        };
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::Config(message)) => message,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

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

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_urls_name_a_path_and_options() {
        use crate::sqlite::Synchronous;

        let options = sqlite_options("sqlite://", "").expect("valid");
        assert_eq!(options.path, std::path::Path::new("stem.db"), "the default file");
        let options = sqlite_options("u", "/var/lib/app/jobs.db?synchronous=full&busy_timeout_ms=250").expect("valid");
        assert_eq!(options.path, std::path::Path::new("/var/lib/app/jobs.db"));
        assert_eq!(options.synchronous, Synchronous::Full);
        assert_eq!(options.busy_timeout, std::time::Duration::from_millis(250));
        let message = config_error(sqlite_options("u", "a.db?synchronous=sometimes"));
        assert!(message.contains("`normal` or `full`"), "{message}");
        let message = config_error(sqlite_options("u", "a.db?journal=off"));
        assert!(message.contains("unknown SQLite option `journal`"), "{message}");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn redis_urls_keep_the_crates_options_and_take_stems() {
        let options =
            redis_options("redis://h:6380/2?namespace=billing&protocol=resp3&retention_secs=60").expect("valid");
        assert_eq!(options.url(), "redis://h:6380/2?protocol=resp3");
        assert_eq!(options.namespace(), "billing");
        assert_eq!(options.retention(), std::time::Duration::from_secs(60));
        let options = redis_options("rediss://h").expect("valid");
        assert_eq!((options.url(), options.namespace()), ("rediss://h", "stem"));
        let message = config_error(redis_options("redis://h?retention_secs=soon"));
        assert!(message.contains("whole number of seconds"), "{message}");
        let options = redis_options("redis://h:7000?cluster=true&namespace=n").expect("valid");
        assert!(options.is_cluster());
        assert_eq!((options.nodes(), options.namespace()), (&["redis://h:7000".to_owned()][..], "n"));
        assert!(!redis_options("redis://h?cluster=false").expect("valid").is_cluster());
        assert_eq!(redis_options("redis://h?spin_us=0").expect("valid").spin(), std::time::Duration::ZERO);
        assert_eq!(
            redis_options("redis://h?spin_us=250").expect("valid").spin(),
            std::time::Duration::from_micros(250)
        );
        let message = config_error(redis_options("redis://h?spin_us=20000"));
        assert!(message.contains("up to 10000"), "{message}");
        assert_eq!(redis_options("redis://h").expect("valid").spin(), crate::redis::DEFAULT_SPIN);
        let message = config_error(redis_options("redis://h?spin_us=fast"));
        assert!(message.contains("spin_us=fast") && message.contains("microseconds"), "{message}");
        let message = config_error(redis_options("redis://h?cluster=yes"));
        assert!(message.contains("cluster=true"), "{message}");
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

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_urls_keep_sqlxs_options_and_take_stems() {
        let options =
            postgres_options("postgres://u@h/db?sslmode=require&schema=jobs&retention_secs=60&max_connections=4")
                .expect("valid");
        assert_eq!(options.url(), "postgres://u@h/db?sslmode=require");
        assert_eq!((options.schema(), options.max_connections()), ("jobs", 4));
        assert_eq!(options.retention(), std::time::Duration::from_secs(60));
        assert_eq!(options.vacuum_every(), Some(crate::postgres::DEFAULT_VACUUM_EVERY));
        assert_eq!(postgres_options("postgres://h/db?vacuum_every=0").expect("valid").vacuum_every(), None);
        assert_eq!(postgres_options("postgres://h/db?vacuum_every=500").expect("valid").vacuum_every(), Some(500));
        let message = config_error(postgres_options("postgres://h?max_connections=many"));
        assert!(message.contains("max_connections takes a whole number"), "{message}");
        let message = config_error(postgres_options("postgres://h?vacuum_every=often"));
        assert!(message.contains("vacuum_every takes a whole number"), "{message}");
    }
}
