//! Creating and upgrading the tables on connect, one process at a time.

use sqlx::{AssertSqlSafe, PgPool};
use stem::Error;

use super::failed;

/// The migrations, in order; each runs once per schema.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_broker.sql")),
    (3, include_str!("migrations/0003_workflows.sql")),
    (4, include_str!("migrations/0004_messages_key.sql")),
    (5, include_str!("migrations/0005_counts.sql")),
    (6, include_str!("migrations/0006_group_counts.sql")),
    (7, include_str!("migrations/0007_rate_limits.sql")),
    (8, include_str!("migrations/0008_schedules.sql")),
    (9, include_str!("migrations/0009_revokes.sql")),
    (10, include_str!("migrations/0010_task_listing.sql")),
    (11, include_str!("migrations/0011_dead_letter_ids.sql")),
];

/// Creates `schema` (a name already checked: lowercase letters, digits and
/// `_`, so it is safe inside SQL) and applies the migrations it lacks, inside one
/// transaction holding an advisory lock on the schema's name, so that two
/// processes connecting at once do not migrate twice. A schema written by a
/// newer Stem (a version this code does not know) is an error, not a guess.
pub(crate) async fn migrate(pool: &PgPool, schema: &str) -> stem::Result<()> {
    let quoted = format!("\"{schema}\"");
    let mut tx = pool.begin().await.map_err(|e| failed("starting the migration", e))?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("stem migrations {schema}"))
        .execute(&mut *tx)
        .await
        .map_err(|e| failed("locking the migration", e))?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {quoted}; CREATE TABLE IF NOT EXISTS {quoted}.schema_version (version int NOT NULL)"
    )))
    .execute(&mut *tx)
    .await
    .map_err(|e| failed("creating the schema", e))?;
    let current: Option<i32> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT max(version) FROM {quoted}.schema_version")))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| failed("reading the schema version", e))?;
    let current = current.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > known {
        return Err(Error::Config(format!(
            "the Postgres schema `{schema}` is at version {current}, newer than this Stem knows ({known}); \
             upgrade Stem, or use another schema"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        sqlx::raw_sql(AssertSqlSafe(sql.replace("{schema}", &quoted)))
            .execute(&mut *tx)
            .await
            .map_err(|e| failed(&format!("applying migration {version}"), e))?;
        sqlx::query(AssertSqlSafe(format!("INSERT INTO {quoted}.schema_version (version) VALUES ($1)")))
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(|e| failed("recording the schema version", e))?;
    }
    tx.commit().await.map_err(|e| failed("committing the migration", e))
}
