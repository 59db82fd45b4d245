//! A worker process for `worker_signals.rs`: runs one task that takes
//! `argv[1]` milliseconds, with the worker's own signal handling, and reports
//! what became of the task once the worker has stopped.

use std::io::Write;
use std::time::Duration;

use stem::prelude::*;

#[stem::task]
async fn slow_job(millis: u64) -> Result<(), TaskError> {
    println!("started");
    let _ = std::io::stdout().flush();
    tokio::time::sleep(Duration::from_millis(millis)).await;
    println!("finished");
    Ok(())
}

#[tokio::main]
async fn main() -> stem::Result<()> {
    let millis = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    let stem = Stem::in_memory();
    let handle = SlowJob::enqueue(&stem, millis).await?;
    Worker::builder(&stem).task::<SlowJob>().build()?.run().await?;
    let state = handle.status().await?.map(|s| s.state.to_string()).unwrap_or_default();
    let pending = stem.queue_stats()?.pending_count("default").await?;
    println!("stopped: state={state} pending={pending}");
    Ok(())
}
