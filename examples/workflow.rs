//! A durable workflow on the default store (a `stem.db` SQLite file, or
//! whatever `STEM_BROKER_URL` names): a checkout that charges a card in a
//! checkpointed step, sleeps durably, waits for a "parcel shipped" event and
//! calls a task as a step.
//!
//! `cargo run --example workflow` runs a worker and a producer in one process.
//! Kill it during the sleep and run `cargo run --example workflow -- worker`:
//! the run resumes where it was, and the card is not charged twice.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stem::prelude::*;

/// An order to check out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub id: u64,
    /// What it costs, in cents.
    pub cents: u64,
}

/// What the carrier reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct Parcel {
    /// The tracking number.
    pub tracking: String,
}

/// Sent by the warehouse when the parcel leaves.
pub const PARCEL_SHIPPED: EventTopic<Parcel> = EventTopic::new("parcel.shipped");

/// Charges the card (pretend): runs once per run, whatever happens later.
#[stem::step(max_retries = 5, retry_backoff = "200ms")]
async fn charge_card(wf: &WorkflowContext, order: &Order) -> Result<String, StepError> {
    println!("  [step] charging {} cents for order {} (run {})", order.cents, order.id, wf.id());
    Ok(format!("ch_{}", order.id))
}

/// Emails the receipt (pretend): an ordinary task, called from the workflow.
#[stem::task]
async fn email_receipt(order: u64, tracking: String) -> Result<String, TaskError> {
    println!("  [task] emailing the receipt of order {order} ({tracking})");
    Ok(format!("receipt-{order}"))
}

/// The checkout: charge, cool down, wait for the parcel, email.
#[stem::workflow(max_run_time = "7d")]
async fn checkout(wf: WorkflowContext, order: Order) -> Result<String, WorkflowError> {
    let charge = charge_card(&wf, &order).await?;
    wf.sleep(Duration::from_secs(2)).await; // durable: no worker is held
    let parcel = wf.await_event(PARCEL_SHIPPED).await?;
    let receipt = wf.call(EmailReceipt::call(EmailReceiptArgs { order: order.id, tracking: parcel.tracking })).await?;
    Ok(format!("order {} charged ({charge}), shipped, {receipt}", order.id))
}

#[tokio::main]
async fn main() -> stem::Result<()> {
    tracing_subscriber::fmt().with_env_filter("stem=warn").init();
    let stem = stem_adapters::connect_env().await?;
    let worker = Worker::builder(&stem).concurrency(4).workflow_poll_interval(Duration::from_millis(100)).build()?;
    if std::env::args().nth(1).as_deref() == Some("worker") {
        println!("working until Ctrl-C");
        return worker.run().await;
    }
    let worker = worker.spawn();

    let run = Checkout::start(&stem, Order { id: 42, cents: 1999 }).await?;
    println!("started run {}", run.id());
    // The run sleeps, then waits for the event; emit it once it is waiting.
    loop {
        let state = run.status().await?.ok_or(stem::Error::UnknownRun(run.id()))?;
        if state.wait_topic.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resumed = stem.emit(PARCEL_SHIPPED, Parcel { tracking: "1Z999".into() }).await?;
    println!("parcel shipped: resumed {resumed} run(s)");

    let result: String = run.wait_timeout(Duration::from_secs(30)).await?;
    println!("{result}");
    for step in run.steps().await? {
        println!("  checkpoint {} {} = {}", step.position, step.name, step.value);
    }
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}
