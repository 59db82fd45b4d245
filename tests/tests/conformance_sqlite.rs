//! The SQLite adapter passes the conformance suites, each case in its own file.

use std::sync::Arc;

use stem::testing::{
    backend_suite, broker_suite, lock_suite, rate_limiter_suite, schedule_store_suite, workflow_store_suite,
};
use stem_adapters::sqlite::{SqliteOptions, SqliteStore};
use stem_tests::TempDir;

async fn store(dir: &TempDir, ns: &stem::testing::Namespace) -> stem::Result<SqliteStore> {
    let options = SqliteOptions::new(dir.file(&format!("{}.db", ns.name))).with_retention(ns.retention);
    SqliteStore::open_with(options.with_dead_letter_retention(ns.dead_letter_retention)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_broker_passes_every_case() {
    let dir = TempDir::new("conformance-broker");
    let report = broker_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.broker() as _) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty(), "SQLite has every broker capability");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_passes_every_case() {
    let dir = TempDir::new("conformance-backend");
    let report = backend_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.backend() as _) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lock_store_passes_every_case() {
    let dir = TempDir::new("conformance-lock");
    let report = lock_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.locks() as Arc<dyn stem::LockStore>) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rate_limiter_passes_every_case() {
    let dir = TempDir::new("conformance-rate");
    let report = rate_limiter_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.rate_limiter() as Arc<dyn stem::RateLimiter>) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_schedule_store_passes_every_case() {
    let dir = TempDir::new("conformance-schedule");
    let report = schedule_store_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.schedules() as Arc<dyn stem::beat::ScheduleStore>) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_workflow_store_passes_every_case() {
    let dir = TempDir::new("conformance-workflow");
    let report = workflow_store_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.workflows() as Arc<dyn stem::workflow::WorkflowStore>) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_written_by_another_connection_reach_subscribers() {
    use futures_util::StreamExt;

    let dir = TempDir::new("broadcast-external");
    let file = dir.file("stem.db");
    let broker = SqliteStore::open(&file).await.expect("open").broker();
    let channel = stem::Broker::broadcast(&*broker).expect("SQLite broadcasts");
    let mut subscriber = channel.subscribe("control").await.expect("subscribe");
    // Another process's commit, as far as this process can tell: another connection.
    let other = rusqlite::Connection::open(&file).expect("open");
    other
        .execute("INSERT INTO stem_broadcasts (channel, payload, sent_at) VALUES ('control', x'70696E67', 0)", [])
        .expect("insert");
    let got = tokio::time::timeout(stem_tests::WAIT, subscriber.next()).await.expect("delivered in time");
    assert_eq!(got.as_deref(), Some(&b"ping"[..]));
}

// TEMP-BENCH
pub async fn bench_schedules(store: Arc<dyn stem::beat::ScheduleStore>, label: &str) {
    use stem::beat::{Claim, Fired, ScheduleEntry};
    let n = 10_000;
    let start: chrono::DateTime<chrono::Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
    for i in 0..n {
        let mut e = ScheduleEntry::of_task(format!("e{i:05}"), "report", serde_json::json!({"n": i}), "every 1m".parse().unwrap());
        e.next_fire = Some(start);
        store.put(&e).await.unwrap();
    }
    let t = std::time::Instant::now();
    let mut fires = 0;
    loop {
        let due = store.due(start, 2000).await.unwrap();
        if due.is_empty() { break; }
        let claims: Vec<Claim> = due.iter().map(|e| Claim { id: e.id.clone(), fire: e.next_fire.unwrap(), next: Some(start + chrono::Duration::minutes(1)), enqueued: 1, skipped: 0 }).collect();
        let won = store.claim(&claims).await.unwrap();
        assert!(won.iter().all(|w| *w));
        let fired: Vec<Fired> = claims.iter().map(|c| Fired { id: c.id.clone(), fire: c.fire, drift_ms: 3, error: None }).collect();
        store.record(&fired).await.unwrap();
        fires += claims.len();
    }
    let s = t.elapsed().as_secs_f64();
    eprintln!("BENCH {label}: {fires} fires in {s:.3}s = {:.0}/s", fires as f64 / s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn temp_bench_sqlite() {
    let dir = TempDir::new("bench-schedule");
    let store = SqliteStore::open(dir.file("b.db")).await.unwrap();
    bench_schedules(store.schedules(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn temp_bench_redis() {
    let Some(url) = stem_tests::redis_url() else { return };
    let ns = format!("bench{}", std::process::id());
    let store = stem_adapters::redis::RedisStore::connect_with(stem_adapters::redis::RedisOptions::new(url).with_namespace(ns)).await.unwrap();
    bench_schedules(store.schedules(), "redis").await;
    store.delete_namespace().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn temp_bench_postgres() {
    let Some(url) = stem_tests::postgres_url() else { return };
    let store = stem_adapters::postgres::PostgresStore::connect_with(stem_adapters::postgres::PostgresOptions::new(&url).with_schema("bench_sched")).await.unwrap();
    bench_schedules(store.schedules(), "postgres").await;
    store.drop_schema().await.unwrap();
}
