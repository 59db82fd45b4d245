//! A small application run through its generated command line: tasks in two
//! modules (one that fails, one with a struct argument and a struct result),
//! a task Beat fires every second, a long-running task to inspect and revoke
//! and one that stops itself cleanly when asked, a checkout workflow and its
//! event topic. Its `main` is the CLI.
//!
//! ```sh
//! cargo run --example app -- worker                       # one terminal: a worker for all of it
//! cargo run --example app -- enqueue app::math::add --a 2 --b 40 --wait
//! cargo run --example app -- tasks ls                     # each task's arguments and their types
//! cargo run --example app -- worker --beat                # a worker that also fires the schedules
//! cargo run --example app -- worker inspect               # what the running workers hold
//! ```

use serde::{Deserialize, Serialize};
use stem::prelude::*;

/// Sending mail (pretend).
pub mod emails {
    use super::*;

    /// A message to send.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Email {
        /// Who it goes to.
        pub to: String,
        /// Its subject.
        pub subject: String,
    }

    /// What the provider answered.
    #[derive(Debug, Serialize, Deserialize)]
    pub struct Receipt {
        /// Who it went to.
        pub to: String,
        /// The provider's message id.
        pub message_id: u64,
    }

    /// Sends one email and returns the provider's receipt.
    #[stem::task(queue = "emails", max_retries = 2)]
    pub async fn send(email: Email) -> Result<Receipt, TaskError> {
        Ok(Receipt { message_id: 1000 + email.subject.len() as u64, to: email.to })
    }

    /// Sends a newsletter; the provider always refuses it.
    #[stem::task(queue = "emails", max_retries = 0)]
    pub async fn newsletter(list: String) -> Result<u32, TaskError> {
        Err(TaskError::fail(format!("the provider refused the newsletter to {list}")))
    }
}

/// Arithmetic.
pub mod math {
    use super::*;

    /// Adds two numbers.
    #[stem::task]
    pub async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
        Ok(a + b)
    }
}

/// Work the application schedules for itself.
pub mod housekeeping {
    use super::*;

    /// Reports that the application is alive; Beat fires it every second
    /// (`worker --beat`, or `beat` beside a worker).
    #[stem::task(schedule = "every 1s")]
    pub async fn heartbeat() -> Result<String, TaskError> {
        Ok("alive".to_owned())
    }
}

/// Operations chores.
pub mod ops {
    use super::*;

    /// Sleeps `seconds` seconds and returns them: a long-running task to
    /// watch with `worker inspect` and stop with `worker revoke --terminate`.
    #[stem::task(queue = "ops")]
    pub async fn linger(seconds: u64) -> Result<u64, TaskError> {
        tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
        Ok(seconds)
    }

    /// Works through `seconds` seconds of work in steps of 10 ms, checking
    /// before each step whether it was asked to stop (`worker revoke
    /// --terminate soft`): then it says so on stdout and ends early,
    /// returning how many steps it did.
    #[stem::task(queue = "ops", max_retries = 3)]
    pub async fn batch(ctx: TaskContext, seconds: u64) -> Result<u64, TaskError> {
        let steps = seconds.saturating_mul(100);
        for step in 0..steps {
            if ctx.is_cancelled() {
                println!("app::ops::batch {}: asked to stop after {step} steps; stopped cleanly", ctx.id());
                return Ok(step);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(steps)
    }
}

/// Checking out an order.
pub mod checkout {
    use super::emails::{Email, Receipt, Send};
    use super::*;

    /// An order to check out.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Order {
        /// Its id.
        pub id: u64,
        /// Who bought it.
        pub email: String,
    }

    /// What the carrier reports.
    #[derive(Debug, Serialize, Deserialize)]
    pub struct Parcel {
        /// The tracking number.
        pub tracking: String,
    }

    /// Sent by the warehouse when an order's parcel leaves.
    #[stem::event]
    pub const SHIPPED: EventTopic<Parcel> = EventTopic::new("app.parcel.shipped");

    /// Charges the order (pretend), once per run.
    #[stem::step]
    async fn charge(wf: &WorkflowContext, order: &Order) -> Result<String, StepError> {
        let _ = wf;
        Ok(format!("ch_{}", order.id))
    }

    /// Charges an order, waits for its parcel to ship, and emails the receipt.
    #[stem::workflow]
    pub async fn checkout(wf: WorkflowContext, order: Order) -> Result<String, WorkflowError> {
        let charge = charge(&wf, &order).await?;
        let parcel = wf.await_event(SHIPPED).await?;
        let email =
            Email { to: order.email.clone(), subject: format!("order {} shipped: {}", order.id, parcel.tracking) };
        let receipt: Receipt = wf.call(Send::call(email)).await?;
        Ok(format!("{charge} {} {}", parcel.tracking, receipt.message_id))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    stem_cli::run().await // every #[stem::task] and #[stem::workflow] linked into this binary
}
