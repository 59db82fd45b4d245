use std::time::Duration;

use serde::{Deserialize, Serialize};
use stem::prelude::*;

#[derive(Clone, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub cents: u64,
}

#[derive(Serialize, Deserialize)]
pub struct Parcel {
    pub tracking: String,
}

#[derive(Serialize, Deserialize)]
pub struct Receipt {
    pub order: u64,
    pub tracking: String,
    pub email: String,
}

pub const PARCEL_SHIPPED: EventTopic<Parcel> = EventTopic::new("parcel.shipped");

#[stem::task]
async fn send_email(to: String) -> Result<String, TaskError> {
    Ok(to)
}

#[stem::step(max_retries = 5, retry_backoff = "100ms")]
async fn charge_card(wf: &WorkflowContext, order: &Order) -> Result<u64, StepError> {
    let _ = wf.id();
    Ok(order.cents)
}

/// Takes an order to its receipt.
#[stem::workflow(queue = "orders", max_run_time = "7d", max_suspended_time = "2d", lease = "1m")]
async fn checkout(wf: WorkflowContext, order: Order) -> Result<Receipt, WorkflowError> {
    let charged = charge_card(&wf, &order).await?;
    wf.sleep(Duration::from_secs(3600)).await;
    let parcel = wf.await_event(PARCEL_SHIPPED).await?;
    let late: Option<Parcel> = wf.await_event_timeout(PARCEL_SHIPPED, Duration::from_secs(60)).await?;
    let _ = late;
    let email = wf.call(SendEmail::call("ada@example.com".to_owned())).await?;
    let _ = (wf.now().await, wf.uuid().await, wf.random().await, wf.patched("v2").await);
    Ok(Receipt { order: order.id + charged, tracking: parcel.tracking, email })
}

async fn produce(stem: &Stem) -> stem::Result<Receipt> {
    let run: WorkflowHandle<Receipt> = Checkout::start(stem, Order { id: 1, cents: 100 }).await?;
    let other = Checkout::call(Order { id: 2, cents: 5 })
        .run_id(stem::TaskId::new())
        .queue("vip")
        .max_run_time(Duration::from_secs(60))
        .start(stem)
        .await?;
    let _ = other.cancel().await?;
    stem.emit(PARCEL_SHIPPED, Parcel { tracking: "T".to_owned() }).await?;
    run.wait().await
}

fn main() {
    let _ = produce;
    assert!(<Checkout as stem::workflow::Workflow>::NAME.ends_with("::checkout"));
    assert_eq!(<Checkout as stem::workflow::Workflow>::OPTIONS.queue, "orders");
}
