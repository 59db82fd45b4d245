//! Tasks end to end through the macro, the worker and SQLite files: one file for
//! everything, or the broker and the result backend in separate files.

use stem::TaskState;
use stem::broker::ReplayOptions;
use stem::prelude::*;
use stem_tests::{TempDir, TestResult, WAIT};

#[stem::task]
async fn add(a: u64, b: u64) -> Result<u64, TaskError> {
    Ok(a + b)
}

#[stem::task(max_retries = 3, retry_backoff = "10ms", retry_backoff_max = "10ms")]
async fn flaky(ctx: TaskContext) -> Result<u32, TaskError> {
    match ctx.attempt() {
        0 => Err(TaskError::retry("the first attempt fails")),
        n => Ok(n),
    }
}

#[stem::task]
async fn refuse(reason: String) -> Result<(), TaskError> {
    Err(TaskError::fail(reason))
}

async fn run_tasks(stem: &Stem) -> TestResult {
    let worker = Worker::builder(stem).task::<Add>().task::<Flaky>().task::<Refuse>().concurrency(8).build()?.spawn();
    let handles = stem.enqueue_many((0..300).map(|n| Add::call(AddArgs { a: n, b: 1 }))).await?;
    for (n, handle) in (0..).zip(&handles) {
        assert_eq!(handle.wait_timeout(WAIT).await?, n + 1);
    }
    assert_eq!(Flaky::enqueue(stem, ()).await?.wait_timeout(WAIT).await?, 1, "succeeded on the retry");

    let refused = Refuse::enqueue(stem, "no".to_owned()).await?;
    assert!(refused.wait_timeout(WAIT).await.is_err());
    let dead = stem_tests::dead_letter(stem, "default", refused.id()).await;
    assert!(dead.reason.contains("no"), "{}", dead.reason);
    let replayed = stem.replay_dead_letters("default", &ReplayOptions::default()).await?;
    assert_eq!(replayed.entries.len(), 1);
    assert!(refused.wait_timeout(WAIT).await.is_err(), "fails again after the replay");
    assert_eq!(refused.status().await?.map(|s| s.state), Some(TaskState::Failed));
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

fn rows(path: &std::path::Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_holds_broker_and_backend() -> TestResult {
    let dir = TempDir::new("one-file");
    let file = dir.file("stem.db");
    let stem = stem_adapters::connect(&format!("sqlite://{}", file.display())).await?;
    run_tasks(&stem).await?;
    assert_eq!(rows(&file, "stem_messages"), 0, "every message acked");
    assert!(rows(&file, "stem_task_status") >= 302);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_and_backend_in_separate_files() -> TestResult {
    let dir = TempDir::new("two-files");
    let (broker, backend) = (dir.file("broker.db"), dir.file("results.db"));
    let stem = stem_adapters::connect_urls(
        &format!("sqlite://{}", broker.display()),
        &format!("sqlite://{}?synchronous=full", backend.display()),
    )
    .await?;
    run_tasks(&stem).await?;
    assert_eq!(rows(&broker, "stem_task_status"), 0, "no results in the broker's file");
    assert!(rows(&broker, "stem_dead_letters") == 1, "the dead letter stays in the broker's file");
    assert_eq!(rows(&backend, "stem_messages"), 0, "no messages in the backend's file");
    assert!(rows(&backend, "stem_task_status") >= 302);
    Ok(())
}
