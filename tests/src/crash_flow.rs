//! The workflow of the workflow crash test, compiled into both the child
//! worker (`bin/workflow_crash_worker.rs`) and the test: three steps, each
//! appending a line to `$CRASH_DIR/effects` (a side effect outside the
//! store). The middle step of `crash.order` blocks while `$CRASH_DIR/block`
//! exists, so the child can be killed while it is in flight; `crash.quick`
//! runs through, so that many runs keep the group commits busy.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use stem::prelude::*;

/// Where the side effects go: set by the test process; the child reads `$CRASH_DIR`.
pub(crate) static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn dir() -> PathBuf {
    DIR.get_or_init(|| PathBuf::from(std::env::var("CRASH_DIR").expect("CRASH_DIR is set"))).clone()
}

fn effect(what: &str, wf: &WorkflowContext) -> Result<(), StepError> {
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(dir().join("effects"))?;
    // One write per line: concurrent steps append whole lines.
    log.write_all(format!("{what} {}\n", wf.id()).as_bytes())?;
    Ok(())
}

#[stem::step]
async fn reserve(wf: &WorkflowContext, cents: &u64) -> Result<u64, StepError> {
    effect("reserve", wf)?;
    Ok(*cents)
}

#[stem::step]
async fn charge(wf: &WorkflowContext, cents: &u64) -> Result<u64, StepError> {
    effect("charge", wf)?;
    while dir().join("block").exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(cents * 2)
}

#[stem::step]
async fn ship(wf: &WorkflowContext, cents: &u64) -> Result<String, StepError> {
    effect("ship", wf)?;
    Ok(format!("shipped for {cents}"))
}

/// Reserve, charge, ship.
#[stem::workflow(name = "crash.order", lease = "1s")]
pub(crate) async fn order(wf: WorkflowContext, cents: u64) -> Result<String, WorkflowError> {
    let reserved = reserve(&wf, &cents).await?;
    let charged = charge(&wf, &reserved).await?;
    Ok(ship(&wf, &charged).await?)
}

/// Three quick steps, each leaving an effect (`one`, `two`, `three`) in
/// `dir/effects` (a path in the arguments, so that it holds in any process).
#[stem::workflow(name = "crash.quick", lease = "1s")]
pub(crate) async fn quick(wf: WorkflowContext, n: u64, dir: String) -> Result<u64, WorkflowError> {
    let mut value = n;
    for step in ["one", "two", "three"] {
        let (before, path) = (value, PathBuf::from(&dir).join("effects"));
        let line = format!("{step} {}\n", wf.id());
        value = wf
            .step(step, || {
                let (path, line) = (path.clone(), line.clone());
                async move {
                    std::fs::OpenOptions::new().create(true).append(true).open(path)?.write_all(line.as_bytes())?;
                    Ok::<_, StepError>(before + 1)
                }
            })
            .await?;
    }
    Ok(value)
}
