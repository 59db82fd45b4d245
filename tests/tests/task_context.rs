//! What a running task sees and does through its `TaskContext`, and codecs.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stem::TaskState;
use stem::prelude::*;
use stem_tests::{TestResult, WAIT, spawn_worker, within};
use tokio::sync::Semaphore;

static REPORTED: Semaphore = Semaphore::const_new(0);
static RELEASE: Semaphore = Semaphore::const_new(0);

#[stem::task]
async fn reporter(ctx: TaskContext) -> Result<String, TaskError> {
    ctx.progress_with(0.5, "halfway").await?;
    ctx.extend_lease(Duration::from_secs(60)).await?;
    ctx.heartbeat().await?;
    REPORTED.add_permits(1);
    RELEASE.acquire().await.map_err(TaskError::fail)?.forget();
    let tenant = ctx.headers().get("tenant").cloned().unwrap_or_default();
    let source = ctx.meta().get("source").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    Ok(format!("{tenant}/{source}/{}/{}", ctx.task_name(), ctx.queue()))
}

#[tokio::test]
async fn progress_leases_headers_and_meta() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Reporter>());
    let handle = Reporter::call(()).header("tenant", "acme").meta("source", "test").enqueue(&stem).await?;
    within("the progress report", REPORTED.acquire()).await?.forget();

    let status = handle.status().await?.expect("recorded");
    assert_eq!(status.state, TaskState::Started);
    let progress = status.progress.expect("progress is recorded");
    assert_eq!(progress.fraction, 0.5);
    assert_eq!(progress.data, Some(serde_json::json!("halfway")));
    assert_eq!(stem.queue_stats()?.inflight_count("default").await?, 1);

    RELEASE.add_permits(1);
    assert_eq!(handle.wait_timeout(WAIT).await?, "acme/test/task_context::reporter/default");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

#[stem::task(codec = "bincode")]
async fn mirror(point: Point) -> Result<Point, TaskError> {
    Ok(Point { x: -point.x, y: -point.y })
}

#[tokio::test]
async fn a_task_can_use_the_bincode_codec() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Mirror>());
    let handle = Mirror::enqueue(&stem, Point { x: 1, y: -2 }).await?;
    assert_eq!(handle.wait_timeout(WAIT).await?, Point { x: -1, y: 2 });
    let status = handle.status().await?.expect("recorded");
    assert_eq!(status.result.expect("stored").codec(), "bincode");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}
