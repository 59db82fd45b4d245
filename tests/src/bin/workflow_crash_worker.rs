//! A worker process for `workflow_crash.rs`: starts `argv[2]` runs of
//! `crash.order` (or of `crash.quick` when `argv[3]` says `quick`) on the
//! store at the URL `argv[1]`, writes their ids to `$CRASH_DIR/runs`, then
//! executes them. The test kills it with SIGKILL: while every `crash.order`
//! run is inside its `charge` step, or at some moment of the quick runs.

use std::time::Duration;

use stem::prelude::*;

#[path = "../crash_flow.rs"]
mod crash_flow;

#[tokio::main]
async fn main() -> stem::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (url, n) = (&args[1], args[2].parse::<u64>().expect("a run count"));
    let stem = stem_adapters::connect(url).await?;
    let dir = std::env::var("CRASH_DIR").expect("CRASH_DIR");
    let ids: Vec<String> = if args.get(3).map(String::as_str) == Some("quick") {
        let starts = (1..=n).map(|n| crash_flow::QuickArgs { n, dir: dir.clone() });
        crash_flow::Quick::start_many(&stem, starts).await?.iter().map(|r| r.id().to_string()).collect()
    } else {
        let mut ids = Vec::new();
        for cents in 1..=n {
            ids.push(crash_flow::Order::start(&stem, cents * 100).await?.id().to_string());
        }
        ids
    };
    std::fs::write(std::path::Path::new(&dir).join("runs"), ids.join("\n"))
        .map_err(|e| stem::Error::adapter("cannot write the run ids", e))?;
    Worker::builder(&stem).concurrency(16).lease(Duration::from_secs(1)).build()?.run().await
}
