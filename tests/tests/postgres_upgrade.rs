//! A schema made by an older Stem is upgraded on connect, and what it held is
//! still delivered: a schema at version 3 (messages keyed by `seq`), holding a
//! queued message, is migrated to version 4 (messages keyed by id only), and a
//! worker then runs both that message and a new one. A group of the older
//! layout (members keyed by task id) is kept, its members dropped (version 6
//! counts members by index), and it counts the members added after.

use stem::backend::{GroupCount, GroupMember, ResultBackend, TaskStatus};
use stem::broker::QueueCounts;
use stem::codec::Payload;
use stem::prelude::*;
use stem::{Envelope, TaskId, TaskState};
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::{TestResult, WAIT, postgres_url};

#[stem::task]
async fn echo(n: u64) -> Result<u64, TaskError> {
    Ok(n)
}

/// The migrations of a version-3 schema, as they were shipped.
const VERSION_3: [&str; 3] = [
    include_str!("../../stem-adapters/src/postgres/migrations/0001_init.sql"),
    include_str!("../../stem-adapters/src/postgres/migrations/0002_broker.sql"),
    include_str!("../../stem-adapters/src/postgres/migrations/0003_workflows.sql"),
];

/// Whether `messages` of `schema` still has its `seq` primary key.
async fn has_seq_key(pool: &sqlx::PgPool, schema: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = $1 AND t.relname = 'messages' AND c.contype = 'p')",
    )
    .bind(schema)
    .fetch_one(pool)
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_3_schema_is_upgraded_and_its_messages_still_run() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let schema = format!("test_upgrade_{:08x}", fastrand::u32(..));
    let quoted = format!("\"{schema}\"");
    let pool = sqlx::PgPool::connect(&url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {quoted}; CREATE TABLE {quoted}.schema_version (version int NOT NULL)"
    )))
    .execute(&pool)
    .await?;
    for (version, sql) in (1..).zip(VERSION_3) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.replace("{schema}", &quoted))).execute(&pool).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {quoted}.schema_version (version) VALUES ($1)")))
            .bind(version)
            .execute(&pool)
            .await?;
    }
    assert!(has_seq_key(&pool, &schema).await?, "a version-3 schema keys messages by seq");

    // A message left queued by the older Stem, in its layout.
    let old = Envelope::new(Echo::NAME, "default", Payload::new("json", b"7".to_vec()));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {quoted}.messages (id, queue, priority, state, ready_at, envelope) VALUES ($1, 'default', 0, 0, now(), $2)"
    )))
    .bind(old.id.as_uuid())
    .bind(serde_json::to_string(&old)?)
    .execute(&pool)
    .await?;

    // A group with a member, in the older layout.
    let group = TaskId::new();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH g AS (INSERT INTO {quoted}.groups (id, expected, expires_at) VALUES ($1, 2, now() + interval '1 hour')) \
         INSERT INTO {quoted}.group_members (group_id, member_id, status) VALUES ($1, $2, '{{}}')"
    )))
    .bind(group.as_uuid())
    .bind(TaskId::new().as_uuid())
    .execute(&pool)
    .await?;

    let store = PostgresStore::connect_with(PostgresOptions::new(&url).with_schema(&schema)).await?;
    let version: Option<i32> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT max(version) FROM {quoted}.schema_version")))
            .fetch_one(&pool)
            .await?;
    assert_eq!(version, Some(11), "connecting applies the migrations the schema lacks");
    assert!(!has_seq_key(&pool, &schema).await?, "version 4 keys messages by id only");

    let backend = store.backend();
    let kept = backend.group_get(group).await?.expect("the group is kept");
    assert_eq!((kept.expected, kept.results.len()), (2, 0), "version 6 drops the members keyed by task id");
    let status = TaskStatus::new(TaskId::new(), Echo::NAME, "default", TaskState::Succeeded);
    let counts = backend.group_add(&[GroupMember { group, index: 1, status }]).await?;
    assert_eq!(counts, vec![Some(GroupCount { expected: 2, done: 1 })], "the group counts from 0 again");

    let stem = Stem::new(store.stores());
    let queues = stem.queue_stats()?.queues().await?;
    assert_eq!(queues, vec![QueueCounts::new("default", 1, 0, 0, 0)], "version 5 lists the queues stored before it");
    let worker = Worker::builder(&stem).task::<Echo>().handle_signals(false).build()?.spawn();
    let new = Echo::enqueue(&stem, 8).await?;
    assert_eq!(new.wait_timeout(WAIT).await?, 8, "a message published after the upgrade runs");
    let status = stem.backend().wait(old.id, WAIT).await?.expect("the old message's task has a status");
    assert_eq!(status.state, TaskState::Succeeded, "the message queued before the upgrade runs: {status:?}");
    worker.stop(ShutdownMode::Warm).await?;
    store.drop_schema().await?;
    Ok(())
}
