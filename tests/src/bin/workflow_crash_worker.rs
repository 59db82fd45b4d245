//! A worker process for `workflow_crash.rs`: starts `argv[2]` runs of
//! `crash.order` in the SQLite file `argv[1]`, writes their ids to
//! `$CRASH_DIR/runs`, then executes them. The test kills it with SIGKILL
//! while every run is inside its `charge` step.

use std::time::Duration;

use stem::prelude::*;

#[path = "../crash_flow.rs"]
mod crash_flow;

#[tokio::main]
async fn main() -> stem::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (file, n) = (&args[1], args[2].parse::<u64>().expect("a run count"));
    let stem = stem_adapters::connect(&format!("sqlite://{file}")).await?;
    let mut ids = Vec::new();
    for cents in 1..=n {
        ids.push(crash_flow::Order::start(&stem, cents * 100).await?.id().to_string());
    }
    let dir = std::path::PathBuf::from(std::env::var("CRASH_DIR").expect("CRASH_DIR"));
    std::fs::write(dir.join("runs"), ids.join("\n"))
        .map_err(|e| stem::Error::adapter("cannot write the run ids", e))?;
    Worker::builder(&stem).concurrency(8).lease(Duration::from_secs(1)).build()?.run().await
}
