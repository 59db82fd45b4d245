//! A process for `connect_env.rs`: connects with `stem_adapters::connect_env()`
//! in its working directory, runs one task through it, and prints the URLs the
//! environment named, whether the Stem signs and verifies, and the result.

use stem::prelude::*;

#[stem::task]
async fn echo(n: u64) -> Result<u64, TaskError> {
    Ok(n)
}

#[tokio::main]
async fn main() -> stem::Result<()> {
    let (broker, backend) = stem_adapters::urls_from_env();
    println!("broker={broker}");
    println!("backend={backend}");
    let stem = stem_adapters::connect_env().await?;
    println!("signs={} verifies={}", stem.signing().is_some_and(|s| s.signs()), stem.signing().is_some());
    let worker = Worker::builder(&stem).task::<Echo>().handle_signals(false).build()?.spawn();
    let n = Echo::enqueue(&stem, 7).await?.wait_timeout(std::time::Duration::from_secs(10)).await?;
    worker.stop(ShutdownMode::Warm).await?;
    println!("result={n}");
    Ok(())
}
