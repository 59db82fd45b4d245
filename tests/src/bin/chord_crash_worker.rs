//! A worker process for `chord_crash.rs`: runs the chord's members and its
//! callback on the store at `argv[1]` until the test kills it (SIGKILL).

use std::time::Duration;

use stem::prelude::*;

#[path = "../chord_flow.rs"]
mod chord_flow;

#[tokio::main]
async fn main() -> stem::Result<()> {
    let url = std::env::args().nth(1).expect("a store URL");
    let stem = stem_adapters::connect(&url).await?;
    Worker::builder(&stem).concurrency(8).lease(Duration::from_secs(1)).build()?.run().await
}
