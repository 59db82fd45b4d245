//! Running one delivery: checks, the task itself under its limits, the outcome.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, OptionFuture};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::settle::{self, Finish, Op};
use super::{Held, Shared};
use crate::backend::{ErrorInfo, TaskState};
use crate::broker::{Delivery, Receipt};
use crate::codec::Payload;
use crate::envelope::Envelope;
use crate::task::context::Lease;
use crate::task::{RetryAction, TaskContext, TaskError};

/// How a run ended.
enum Outcome {
    Succeeded(Payload),
    Failed(TaskError),
    Panicked(String),
    TimedOut(Duration),
    /// Dropped at an await point by a shutdown.
    Aborted,
}

/// Runs one delivery to its settlement. The prefetch permit is held throughout.
pub(super) async fn run(shared: Arc<Shared>, delivery: Delivery, _prefetch: OwnedSemaphorePermit) {
    let Delivery { envelope, receipt, lease_expires_at } = delivery;
    let envelope = Arc::new(envelope);
    let worker = shared.config.id.as_str();
    let now = Utc::now();

    if let Some(expires) = envelope.expires.filter(|_| envelope.is_expired_at(now)) {
        let mut st = settle::status(&envelope, &receipt, TaskState::Expired);
        let message = format!("expired at {expires}, received at {now}; not run");
        st.error = Some(ErrorInfo { kind: "expired".to_owned(), message });
        let _ = shared.ops.send(Op::Finish(st, receipt, Finish::Ack));
        return;
    }
    let Some(registration) = shared.registry.get(&envelope.task).copied() else {
        let reason = format!(
            "unknown task `{}`: worker {worker} has no task of that name (is it linked into the worker binary?)",
            envelope.task
        );
        dead_letter(&shared, &envelope, receipt, "unknown_task", reason);
        return;
    };

    let length = registration.options().visibility_timeout.unwrap_or(shared.config.lease);
    let lease = Arc::new(Lease::new(lease_expires_at, length));
    let (cancel, abort, soft) = (CancellationToken::new(), CancellationToken::new(), CancellationToken::new());
    let settled = Arc::new(AtomicBool::new(false));
    let key = (receipt.id, receipt.token);
    let held = Held {
        envelope: Arc::clone(&envelope),
        receipt: receipt.clone(),
        lease: Arc::clone(&lease),
        cancel: cancel.clone(),
        abort: abort.clone(),
        settled: Arc::clone(&settled),
    };
    shared.held().insert(key, held);
    let _release = Release { shared: &shared, key };

    let slot = tokio::select! {
        biased;
        () = shared.stopping.cancelled() => None,
        slot = shared.slots.acquire() => slot.ok(),
    };
    let Some(_slot) = slot else {
        if !settled.swap(true, Ordering::SeqCst) {
            let _ = shared.ops.send(settle::requeue_op(&envelope, &receipt, worker));
        }
        return;
    };

    let mut started = settle::status(&envelope, &receipt, TaskState::Started);
    started.meta.insert("worker".to_owned(), worker.into());
    let _ = shared.ops.send(Op::Status(started, None));

    let ctx = TaskContext::new(
        Arc::clone(&envelope),
        shared.stem.clone(),
        receipt.clone(),
        lease,
        shared.ops.clone(),
        (cancel, soft.clone()),
    );
    let future = match (registration.handler())(ctx, &envelope.args) {
        Ok(future) => future,
        Err(error) => {
            let reason = format!("undecodable arguments for task `{}`: {error}", envelope.task);
            settled.store(true, Ordering::SeqCst);
            dead_letter(&shared, &envelope, receipt, "undecodable_args", reason);
            return;
        }
    };
    let hard = envelope.time_limits.hard.or(registration.options().time_limit);
    let soft_limit = envelope.time_limits.soft.or(registration.options().soft_time_limit);
    let outcome = supervise(future, hard, soft_limit, &soft, &abort).await;

    if settled.swap(true, Ordering::SeqCst) {
        return; // a hard shutdown already put it back
    }
    shared.processed.fetch_add(1, Ordering::Relaxed);
    let policy = &registration.options().retry;
    let op = match outcome {
        Outcome::Succeeded(result) => {
            let mut st = settle::status(&envelope, &receipt, TaskState::Succeeded);
            st.result = Some(result);
            Op::Finish(st, receipt, Finish::Ack)
        }
        Outcome::Failed(error) => {
            let info = ErrorInfo { kind: error.kind().to_owned(), message: error.message().to_owned() };
            settle::failure(&envelope, &receipt, policy, info, error.action())
        }
        Outcome::Panicked(message) => {
            let info = ErrorInfo { kind: "panic".to_owned(), message: format!("task panicked: {message}") };
            settle::failure(&envelope, &receipt, policy, info, RetryAction::Retry)
        }
        Outcome::TimedOut(limit) => {
            let info =
                ErrorInfo { kind: "time_limit".to_owned(), message: format!("hard time limit of {limit:?} exceeded") };
            settle::failure(&envelope, &receipt, policy, info, RetryAction::Retry)
        }
        Outcome::Aborted => settle::requeue_op(&envelope, &receipt, worker),
    };
    let _ = shared.ops.send(op);
}

/// Polls the task in this tokio task, catching panics, enforcing the hard limit,
/// flagging the soft one, and stopping when aborted.
async fn supervise(
    future: BoxFuture<'static, Result<Payload, TaskError>>,
    hard: Option<Duration>,
    soft: Option<Duration>,
    soft_token: &CancellationToken,
    abort: &CancellationToken,
) -> Outcome {
    let mut future = AssertUnwindSafe(future).catch_unwind();
    // Timers exist only for the limits that are set.
    let hard_timer = OptionFuture::from(hard.map(tokio::time::sleep));
    let soft_timer = OptionFuture::from(soft.map(tokio::time::sleep));
    tokio::pin!(hard_timer, soft_timer);
    let mut soft_pending = soft.is_some();
    loop {
        tokio::select! {
            result = &mut future => return match result {
                Ok(Ok(payload)) => Outcome::Succeeded(payload),
                Ok(Err(error)) => Outcome::Failed(error),
                Err(panic) => Outcome::Panicked(panic_message(panic.as_ref())),
            },
            Some(()) = &mut hard_timer, if hard.is_some() => return Outcome::TimedOut(hard.unwrap_or_default()),
            Some(()) = &mut soft_timer, if soft_pending => {
                soft_pending = false;
                soft_token.cancel();
            }
            () = abort.cancelled() => return Outcome::Aborted,
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned())
}

fn dead_letter(shared: &Shared, envelope: &Envelope, receipt: Receipt, kind: &str, reason: String) {
    let mut st = settle::status(envelope, &receipt, TaskState::Failed);
    st.error = Some(ErrorInfo { kind: kind.to_owned(), message: reason.clone() });
    let _ = shared.ops.send(Op::Finish(st, receipt, Finish::DeadLetter(reason)));
}

/// Forgets a held delivery when its run ends, however it ends.
struct Release<'a> {
    shared: &'a Shared,
    key: (crate::id::TaskId, u64),
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.shared.held().remove(&self.key);
    }
}
