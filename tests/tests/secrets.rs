//! No password of a store's URL is ever printed: not in an error (its
//! message, its `Debug`, its sources), not in the `Debug` of options or of a
//! connected `Stem`, not in a log line. Each case puts the same password in a
//! URL, in the user info or in a query option, and looks for it.

use std::error::Error as _;
use std::process::Command;

use stem::Stem;
use stem_adapters::TlsOptions;
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_adapters::redis::RedisOptions;
use stem_tests::{RedisServer, TempDir, TestResult, postgres_url, redis_url};

const SECRET: &str = "Sup3r-S3cret";

/// Fails if `text` shows the password.
fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the password:\n{text}");
}

/// Everything an error prints: its message, its `Debug` and its sources'.
fn printed(error: &stem::Error) -> String {
    let mut text = format!("{error}\n{error:?}");
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(&format!("\n{inner}\n{inner:?}"));
        source = inner.source();
    }
    text
}

/// `url` with `user:SECRET@` as its user info (replacing any it had).
fn with_password(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{SECRET}@{rest}")
}

#[tokio::test]
async fn no_connect_error_shows_a_password() {
    let failing = [
        format!("foo://u:{SECRET}@h"),
        format!("u:{SECRET}@h"),
        format!("redis://u:{SECRET}@127.0.0.1:1/0"),
        format!("redis://u:{SECRET}@127.0.0.1:1/0?cluster=true"),
        format!("redis://u:{SECRET}@h:port/0"),
        format!("redis://u:{SECRET}@h/0?namespce=x"),
        format!("redis://u:{SECRET}@h/0?retention_secs=soon"),
        format!("redis://h/0?pass={SECRET}&spin_us=fast"),
        format!("rediss://u:{SECRET}@h/0#bogus"),
        format!("postgres://u:{SECRET}@127.0.0.1:1/db"),
        format!("postgres://u@127.0.0.1:1/db?password={SECRET}"),
        format!("postgres://u:{SECRET}@h:port/db"),
        format!("postgres://u:{SECRET}@h/db?schem=x"),
        format!("postgres://u:{SECRET}@h/db?max_connections=many"),
        format!("postgres://u@h/db?password={SECRET}&retention_secs=soon"),
    ];
    for url in &failing {
        let error = stem_adapters::connect(url).await.expect_err(url);
        assert_hidden(url, &printed(&error));
    }
    // A server that refuses the password.
    if let Some(url) = redis_url() {
        let url = with_password(&url, "nobody");
        let error = stem_adapters::connect(&url).await.expect_err("a user Redis does not know");
        assert_hidden("a refused Redis login", &printed(&error));
    }
}

#[test]
fn options_debug_shows_no_password() -> TestResult {
    let redis = RedisOptions::from_url(&format!("redis://u:{SECRET}@h/0?protocol=resp3&namespace=n"))?;
    assert_hidden("RedisOptions", &format!("{redis:?}"));
    let cluster = RedisOptions::cluster([format!("redis://:{SECRET}@a:7000"), format!("redis://:{SECRET}@b:7000")]);
    assert_hidden("RedisOptions of a cluster", &format!("{cluster:?}"));
    let postgres = PostgresOptions::from_url(&format!("postgres://u:{SECRET}@h/db?password={SECRET}&schema=s"))?;
    assert_hidden("PostgresOptions", &format!("{postgres:?}"));
    Ok(())
}

#[test]
fn misspelled_options_are_refused_with_the_known_ones() {
    let redis = RedisOptions::from_url("redis://h/0?namespce=x").map(drop).expect_err("a misspelled option");
    let postgres = PostgresOptions::from_url("postgres://u@h/db?schem=x").map(drop).expect_err("a misspelled option");
    for (message, known) in [(redis.to_string(), "namespace"), (postgres.to_string(), "schema")] {
        assert!(
            message.contains("unknown") && message.contains("known options") && message.contains(known),
            "{message}"
        );
    }
    // The drivers' own options still pass.
    assert!(RedisOptions::from_url("redis://h/0?protocol=resp3").is_ok());
    assert!(PostgresOptions::from_url("postgres://u@h/db?sslmode=require&application_name=a").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_stem_debugs_without_its_password() -> TestResult {
    if let Some(url) = postgres_url() {
        // The machine's server trusts local connections, so any password works.
        let schema = format!("test_secrets_{:08x}", fastrand::u32(..));
        let url = with_password(&url, "postgres");
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}schema={schema}&password={SECRET}");
        let stem = stem_adapters::connect(&url).await?;
        assert_hidden("a Stem on Postgres", &format!("{stem:?}"));
        drop(stem);
        let pool = sqlx::PgPool::connect(&postgres_url().unwrap_or_default()).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))
            .execute(&pool)
            .await?;
    }
    let dir = TempDir::new("secrets-redis");
    if let Some(server) = RedisServer::start(&dir, 0, false, &["--requirepass", SECRET]) {
        let url = format!("redis://:{SECRET}@127.0.0.1:{}/0?namespace=secrets", server.port());
        let stem: Stem = stem_adapters::connect(&url).await?;
        assert!(stem.handle::<()>(stem::TaskId::new()).status().await?.is_none(), "the store answers");
        assert_hidden("a Stem on Redis", &format!("{stem:?}"));
        let wrong = format!("redis://:wrong-{SECRET}@127.0.0.1:{}/0", server.port());
        let error = stem_adapters::connect(&wrong).await.expect_err("a wrong password");
        assert_hidden("a wrong Redis password", &printed(&error));
    }
    Ok(())
}

/// The `stem` binary's output (both streams) for `args`, with `env`.
fn stem_output(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stem_bare"));
    command.args(args).env_remove("STEM_BROKER_URL").env_remove("STEM_RESULT_BACKEND_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("the stem binary runs");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn tls_downgrades_are_logged_at_error_level_without_the_password() {
    let insecure = format!("rediss://u:{SECRET}@127.0.0.1:1/0#insecure");
    let out = stem_output(&["health", "--broker", &insecure], &[]);
    assert_hidden("the #insecure warning", &out);
    assert!(out.contains("ERROR") && out.contains("#insecure on the URL"), "{out}");

    let plain = format!("redis://u:{SECRET}@127.0.0.1:1/0");
    let out = stem_output(&["health", "--broker", &plain], &[("STEM_TLS_CA_CERT", "/etc/ssl/certs/ca.pem")]);
    assert_hidden("the ignored-TLS warning", &out);
    assert!(out.contains("ERROR") && out.contains("use rediss://"), "{out}");

    let skipped = format!("postgres://u:{SECRET}@127.0.0.1:1/db");
    let out = stem_output(&["health", "--broker", &skipped], &[("STEM_TLS_ALLOW_INSECURE", "true")]);
    assert_hidden("the insecure Postgres warning", &out);
    assert!(out.contains("ERROR") && out.contains("verification is off"), "{out}");
}

#[tokio::test]
async fn a_weak_sslmode_with_a_ca_is_refused() {
    let tls = TlsOptions::default().with_ca_cert("/etc/ssl/certs/ssl-cert-snakeoil.pem");
    for mode in ["disable", "allow", "prefer"] {
        let url = format!("postgres://u:{SECRET}@127.0.0.1:1/db?sslmode={mode}");
        let error = PostgresStore::connect_with(PostgresOptions::new(&url).with_tls(tls.clone()))
            .await
            .expect_err("a weak sslmode with a CA");
        let text = printed(&error);
        assert_hidden("the sslmode refusal", &text);
        assert!(text.contains("verify-full"), "{text}");
    }
}
