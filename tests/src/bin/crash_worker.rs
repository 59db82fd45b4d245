//! A worker process for `sqlite_crash.rs`: enqueues `argv[3]` tasks into the
//! SQLite file `argv[1]`, writes their ids to `argv[2]/ids`, then works on them
//! and appends a line to `argv[2]/runs` as each task starts. The test kills it
//! with SIGKILL midway.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use stem::prelude::*;

#[stem::task(name = "crash.work")]
async fn work(ctx: TaskContext, millis: u64) -> Result<u64, TaskError> {
    let runs = PathBuf::from(std::env::var("CRASH_DIR").expect("CRASH_DIR")).join("runs");
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(runs)?;
    // One write per line: concurrent tasks append whole lines.
    log.write_all(format!("{}\n", ctx.id()).as_bytes())?;
    tokio::time::sleep(Duration::from_millis(millis)).await;
    Ok(millis)
}

#[tokio::main]
async fn main() -> stem::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (file, dir, n) = (&args[1], &args[2], args[3].parse::<usize>().expect("a task count"));
    let stem = stem_adapters::connect(&format!("sqlite://{file}")).await?;
    let handles = stem.enqueue_many((0..n).map(|_| Work::call(20))).await?;
    let ids: Vec<String> = handles.iter().map(|h| h.id().to_string()).collect();
    std::fs::write(PathBuf::from(dir).join("ids"), ids.join("\n"))
        .map_err(|e| stem::Error::adapter("cannot write the ids file", e))?;
    Worker::builder(&stem).task::<Work>().concurrency(4).lease(Duration::from_millis(1000)).build()?.run().await
}
