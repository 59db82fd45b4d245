//! Each adapter reads its own URL: `SqliteStore::connect`, `RedisStore::connect`
//! and `PostgresStore::connect` honour the query options that
//! `stem_adapters::connect` honours, because both read them with the adapter's
//! `Options::from_url`.

use std::time::Duration;

use stem::Envelope;
use stem::codec::Payload;
use stem_adapters::postgres::PostgresStore;
use stem_adapters::redis::RedisStore;
use stem_adapters::sqlite::{SqliteStore, Synchronous};
use stem_tests::{TempDir, TestResult, postgres_url, redis_url};

#[tokio::test]
async fn sqlite_connect_reads_the_path_and_the_options() -> TestResult {
    let dir = TempDir::new("connect-sqlite");
    let path = dir.file("jobs.db");
    let url = format!("sqlite://{}?synchronous=full&retention_secs=60", path.display());
    let store = SqliteStore::connect(&url).await?;
    assert_eq!(store.options().path, path);
    assert_eq!((store.options().synchronous, store.options().retention), (Synchronous::Full, Duration::from_secs(60)));
    assert!(path.is_file());
    let error = SqliteStore::connect("sqlite://x.db?synchronus=full").await.expect_err("a misspelled option");
    assert!(error.to_string().contains("unknown SQLite option `synchronus`"), "{error}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_connect_reads_the_namespace_and_the_options() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_connect_{:08x}", fastrand::u32(..));
    let with = format!("{url}?namespace={namespace}&retention_secs=60&spin_us=0");
    let store = RedisStore::connect(&with).await?;
    assert_eq!(store.options().namespace(), namespace);
    assert_eq!((store.options().retention(), store.options().spin()), (Duration::from_secs(60), Duration::ZERO));
    // The scheme table opens the same store: what it enqueues lands in the namespace.
    let stem = stem_adapters::connect(&with).await?;
    let envelope = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    stem.enqueue_envelope(envelope).await?;
    assert!(store.delete_namespace().await? > 0, "the enqueue wrote keys under stem:{namespace}:");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connect_reads_the_schema_and_the_options() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let schema = format!("test_connect_{:08x}", fastrand::u32(..));
    let separator = if url.contains('?') { '&' } else { '?' };
    let store = PostgresStore::connect(&format!("{url}{separator}schema={schema}&max_connections=3")).await?;
    assert_eq!((store.options().schema(), store.options().max_connections()), (schema.as_str(), 3));
    assert_eq!(store.options().url(), url, "Stem's options are taken out of the URL sqlx gets");
    store.drop_schema().await?;
    Ok(())
}
