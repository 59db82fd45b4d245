//! Running one delivery: checks, the task itself under its limits, the outcome.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, CatchUnwind, OptionFuture};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::lease::Lease;
use super::limit::{self, Limit};
use super::settle::{self, Finish, Keep, Op};
use super::{Held, Shared, WorkerEvent};
use crate::backend::{ErrorInfo, TaskState};
use crate::broker::{Delivery, Receipt};
use crate::codec::Payload;
use crate::envelope::{ENVELOPE_VERSION, Envelope};
use crate::id::TaskId;
use crate::revoke::{Revoke, Terminate};
use crate::task::{RetryAction, TaskContext, TaskError, TaskRegistration};
use crate::trace;
use tracing::Instrument;

/// How a run ended.
enum Outcome {
    Succeeded(Payload),
    Failed(TaskError),
    Panicked(String),
    TimedOut(Duration),
    /// Dropped at an await point by a shutdown.
    Aborted,
}

/// A task whose run ended in its first poll within this time may run inline.
const INLINE_AFTER: Duration = Duration::from_micros(50);

/// A task whose inline first poll took longer than this runs in its own tokio
/// task again: it held up the consume loop.
const INLINE_UNTIL: Duration = Duration::from_millis(1);

/// Starts one delivery.
///
/// Each delivery normally runs in its own tokio task. A task that has shown it
/// is short (a run that ended in its first poll within [`INLINE_AFTER`]) runs
/// right here in the consume loop instead when a slot is free: no tokio task, no
/// held entry, no "started" write. If such a first poll does not end the run,
/// the task moves to its own tokio task; if it takes longer than
/// [`INLINE_UNTIL`], its task goes back to running in tokio tasks, so that long
/// synchronous work never holds up the worker more than once.
pub(super) fn start(
    shared: &Arc<Shared>,
    tracker: &TaskTracker,
    delivery: Delivery,
    lease_ends: tokio::time::Instant,
    permits: &mut Permits,
) {
    let Delivery { envelope, receipt, .. } = delivery;
    let Some(registration) = admit(shared, &envelope, &receipt) else { return };
    shared.emit(|| WorkerEvent::Received { envelope: Arc::clone(&envelope) });
    let run = Run { envelope, receipt, lease_ends, registration };
    if let Some(limit) = limit::of(&run.registration, &run.envelope) {
        permits.left += 1;
        tracker.spawn(run.limited(Arc::clone(shared), limit, permits.prefetch.split(1)));
        return;
    }
    if run.inline(shared).load(Ordering::Relaxed) && permits.inline_slot(shared) {
        run.first_poll(shared, tracker, permits);
    } else {
        permits.left += 1;
        tracker.spawn(run.when_free(Arc::clone(shared), permits.prefetch.split(1)));
    }
}

/// The permits of one received batch: its prefetch permits, one per delivery
/// (a delivery that leaves the consume loop takes one; inline runs give theirs
/// back with the batch), and one slot that the batch's inline runs share, one
/// after another.
pub(super) struct Permits {
    prefetch: OwnedSemaphorePermit,
    slot: Option<OwnedSemaphorePermit>,
    /// How many of the batch's deliveries left the consume loop (did not end inline).
    left: usize,
    /// The outcomes of the batch's inline runs, sent to the writer together.
    outcomes: Vec<Op>,
}

impl Permits {
    /// The prefetch permits of a batch, and an empty list for its outcomes.
    pub(super) fn new(prefetch: OwnedSemaphorePermit, outcomes: Vec<Op>) -> Self {
        Self { prefetch, slot: None, left: 0, outcomes }
    }

    /// Sends the outcomes of the batch's inline runs to the writer in one
    /// message (one channel push and at most one wake-up of the writer for the
    /// whole batch, not one per task), with `backlog`, the batch's share of
    /// the writer's backlog, which the writer gives back once it has written
    /// them.
    pub(super) fn send_outcomes(&mut self, shared: &Shared, backlog: OwnedSemaphorePermit) {
        if self.outcomes.is_empty() {
            shared.spares.give(std::mem::take(&mut self.outcomes));
        } else {
            let _ = shared.ops.send(Op::Many(std::mem::take(&mut self.outcomes), backlog));
        }
    }

    /// Whether every delivery of the batch so far ended inline, in the loop.
    pub(super) fn all_inline(&self) -> bool {
        self.left == 0
    }

    /// Whether the batch holds a slot for an inline run (taking one if free).
    fn inline_slot(&mut self, shared: &Shared) -> bool {
        if self.slot.is_none() {
            self.slot = Arc::clone(&shared.slots).try_acquire_owned().ok();
        }
        self.slot.is_some()
    }

    /// What a run moving to its own tokio task takes along.
    fn take(&mut self) -> Hold {
        self.left += 1;
        Hold { _slot: self.slot.take(), _prefetch: self.prefetch.split(1) }
    }
}

/// What a delivery keeps while it runs: its prefetch permit and its slot.
struct Hold {
    _slot: Option<OwnedSemaphorePermit>,
    _prefetch: Option<OwnedSemaphorePermit>,
}

/// Checks that a delivery may run: of an envelope version this Stem knows, not
/// expired, of a known task. Settles it otherwise.
fn admit(shared: &Shared, envelope: &Arc<Envelope>, receipt: &Receipt) -> Option<TaskRegistration> {
    // Before anything of it is read: a delivery nobody signed never runs.
    if let Some(signing) = shared.stem.signing()
        && let Err(reason) = signing.verify(envelope)
    {
        dead_letter(shared, envelope, receipt.clone(), "signature_invalid", reason);
        return None;
    }
    if envelope.version > ENVELOPE_VERSION {
        // A newer producer may have put meaning in fields this worker ignores.
        let reason = format!(
            "envelope version {} is newer than this worker knows ({ENVELOPE_VERSION}); run it with a worker built \
             with the producer's Stem, then replay it from the dead letter queue",
            envelope.version
        );
        dead_letter(shared, envelope, receipt.clone(), "unsupported_envelope", reason);
        return None;
    }
    if let Some(expires) = envelope.expires
        && let now = Utc::now()
        && envelope.is_expired_at(now)
    {
        let mut st = settle::status(envelope, receipt, TaskState::Expired);
        let message = format!("expired at {expires}, received at {now}; not run");
        st.error = Some(ErrorInfo { kind: "expired".to_owned(), message });
        let _ = shared.ops.send(Op::Finish(Box::new(st), Arc::clone(envelope), receipt.clone(), Finish::Ack));
        return None;
    }
    if let Some(revoke) = shared.control.revoke_of(envelope.id) {
        let _ = shared.ops.send(revoked_op(envelope, receipt, &revoke, "before it started"));
        return None;
    }
    let registration = shared.registry.get(&envelope.task).copied();
    if registration.is_none() {
        let worker = shared.info();
        let reason = shared.extensions.iter().find_map(|e| e.unknown_task(envelope, &worker)).unwrap_or_else(|| {
            format!(
                "unknown task `{}`: worker {} has no task of that name (is it linked into the worker binary?)",
                envelope.task, shared.config.id
            )
        });
        dead_letter(shared, envelope, receipt.clone(), "unknown_task", reason);
    }
    registration
}

/// One admitted delivery.
struct Run {
    envelope: Arc<Envelope>,
    receipt: Receipt,
    /// When its lease ends at the latest, on this machine's monotonic clock.
    lease_ends: tokio::time::Instant,
    registration: TaskRegistration,
}

/// A task's future as the worker polls it: panics caught.
type Guarded = CatchUnwind<AssertUnwindSafe<BoxFuture<'static, Result<Payload, TaskError>>>>;

/// A started task: its context, its future, the limits' clock, and the trace
/// context of its execution span, for the steps that follow it.
struct Started {
    ctx: TaskContext,
    future: Guarded,
    lease: Arc<Lease>,
    at: Instant,
    trace: Option<String>,
}

impl Run {
    /// Whether this task runs inline (see [`start`]).
    fn inline<'a>(&self, shared: &'a Shared) -> &'a AtomicBool {
        static NEVER: AtomicBool = AtomicBool::new(false);
        shared.inline.get(self.registration.name()).unwrap_or(&NEVER)
    }

    /// A new lease for the task, from the delivery's.
    fn lease(&self, shared: &Shared) -> Arc<Lease> {
        let length = self.registration.options().visibility_timeout.unwrap_or(shared.config.lease);
        Arc::new(Lease::new(self.lease_ends, length, shared.ops.clone(), shared.hooks.clone()))
    }

    /// Builds the context and calls the handler; `None` (dead-lettered) when
    /// the arguments do not decode.
    fn begin(&self, shared: &Arc<Shared>, lease: Arc<Lease>, cancel: Option<CancellationToken>) -> Option<Started> {
        let ctx = TaskContext::new(
            Arc::clone(&self.envelope),
            shared.stem.clone(),
            self.receipt.clone(),
            Arc::clone(&lease) as Arc<dyn crate::task::WorkerLink>,
            cancel,
        );
        // Decoding runs user code (`Deserialize` impls): a panic there is a
        // dead letter like any undecodable argument, never a dead worker.
        let handler = self.registration.handler();
        let decoded = match std::panic::catch_unwind(AssertUnwindSafe(|| handler(ctx.clone(), &self.envelope))) {
            Ok(decoded) => decoded.map_err(|error| error.to_string()),
            Err(panic) => Err(format!("decoding them panicked: {}", crate::panic::message(panic.as_ref()))),
        };
        match decoded {
            Ok(future) => {
                shared.emit(|| WorkerEvent::Started { envelope: Arc::clone(&self.envelope) });
                // The execution span, only where a subscriber wants it: no
                // allocation per task otherwise.
                let span = trace::execute_span(&self.envelope);
                // Only canvas steps follow an execution: only they need its context.
                let trace = self.envelope.canvas.as_ref().and_then(|_| trace::context_of(&span));
                let future = if span.is_disabled() { future } else { Box::pin(future.instrument(span)) };
                let future = AssertUnwindSafe(future).catch_unwind();
                Some(Started { ctx, future, lease, at: Instant::now(), trace })
            }
            Err(error) => {
                let reason = format!("undecodable arguments for task `{}`: {error}", self.envelope.task);
                dead_letter(shared, &self.envelope, self.receipt.clone(), "undecodable_args", reason);
                None
            }
        }
    }

    /// Polls the task once here; finishes it if that was enough, otherwise
    /// hands it to its own tokio task.
    fn first_poll(self, shared: &Arc<Shared>, tracker: &TaskTracker, permits: &mut Permits) {
        let Some(mut started) = self.begin(shared, self.lease(shared), None) else { return };
        // A waker that does nothing is enough: the tokio task polls the future
        // again as soon as it starts, and the future registers that task's waker.
        let mut cx = Context::from_waker(Waker::noop());
        let polled = Pin::new(&mut started.future).poll(&mut cx);
        let took = started.at.elapsed();
        if took > INLINE_UNTIL {
            self.inline(shared).store(false, Ordering::Relaxed);
            tracing::debug!(task = %self.envelope.task, ?took, "a long first poll: this task runs in its own tokio tasks again");
        }
        match polled {
            Poll::Ready(result) => {
                shared.emit(|| WorkerEvent::Returned { envelope: Arc::clone(&self.envelope), elapsed: took });
                let outcome = self.outcome(shared, caught(result), started.trace.take());
                permits.outcomes.push(outcome);
            }
            Poll::Pending => {
                let held = self.hold(shared, &started.lease, &started.ctx.cancel_token());
                if !started.ctx.reported() {
                    self.send_started(shared);
                }
                tracker.spawn(self.rest(Arc::clone(shared), started, held, permits.take()));
            }
        }
    }

    /// Waits for a free slot (or a shutdown, which puts the delivery back),
    /// then runs the task to its end in this tokio task.
    /// Takes a slot of the task's rate limit, then runs when it starts: at
    /// once or after a short wait here, or later, put back until its slot
    /// (no retry is used, no concurrency slot is held meanwhile).
    async fn limited(self, shared: Arc<Shared>, limit: Limit, prefetch: Option<OwnedSemaphorePermit>) {
        if limit.held && limit::take_held(&shared.stem, &self.envelope).await {
            return self.when_free(shared, prefetch).await;
        }
        let limiter = shared.stem.stores().rate_limiter();
        let (wait, holds_slot) = match limiter.reserve(&limit.key, limit.rate.interval(), 1).await {
            Ok(wait) => (wait, true),
            Err(error) => {
                tracing::warn!(task = %self.envelope.task, %error, "the rate limiter failed; the delivery waits");
                (limit::LIMITER_DOWN, false)
            }
        };
        if holds_slot && wait <= limit::WAIT_IN_PLACE {
            tokio::select! {
                biased;
                () = shared.stopping.cancelled() => {
                    let _ = shared.ops.send(settle::requeue_op(&self.envelope, &self.receipt, &shared.config.id));
                }
                () = tokio::time::sleep(wait) => self.when_free(shared, prefetch).await,
            }
            return;
        }
        let holds_slot = holds_slot && limit::record_held(&shared.stem, &self.envelope, wait).await;
        let _ = shared.ops.send(limit::defer_op(&self.envelope, &self.receipt, wait, holds_slot));
    }

    async fn when_free(self, shared: Arc<Shared>, prefetch: Option<OwnedSemaphorePermit>) {
        // Held while waiting, so that a hard shutdown can put it back.
        let (lease, cancel) = (self.lease(&shared), CancellationToken::new());
        let held = self.hold(&shared, &lease, &cancel);
        shared.control.waiting.fetch_add(1, Ordering::Relaxed);
        let slot = tokio::select! {
            biased;
            () = shared.stopping.cancelled() => None,
            slot = Arc::clone(&shared.slots).acquire_owned() => slot.ok(),
        };
        shared.control.waiting.fetch_sub(1, Ordering::Relaxed);
        held.running.store(true, Ordering::Relaxed);
        let Some(slot) = slot else {
            if !held.settled.swap(true, Ordering::SeqCst) {
                let _ = shared.ops.send(settle::requeue_op(&self.envelope, &self.receipt, &shared.config.id));
            }
            return;
        };
        self.send_started(&shared);
        let Some(mut started) = self.begin(&shared, lease, Some(cancel)) else { return };
        let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut started.future).poll(cx))).await;
        if let Poll::Ready(result) = first {
            let elapsed = started.at.elapsed();
            shared.emit(|| WorkerEvent::Returned { envelope: Arc::clone(&self.envelope), elapsed });
            if elapsed <= INLINE_AFTER {
                self.inline(&shared).store(true, Ordering::Relaxed);
            }
            if !held.settled.swap(true, Ordering::SeqCst) {
                self.finish(&shared, caught(result), started.trace.take(), Some(held));
            }
            return;
        }
        self.rest(Arc::clone(&shared), started, held, Hold { _slot: Some(slot), _prefetch: prefetch }).await;
    }

    /// Polls the task to its end under its limits, then finishes it.
    async fn rest(self, shared: Arc<Shared>, started: Started, held: Registered, hold: Hold) {
        let hard = self.envelope.time_limits.hard.or(self.registration.options().time_limit);
        let soft = self.envelope.time_limits.soft.or(self.registration.options().soft_time_limit);
        let limits = Limits { hard, soft, from: started.at };
        let soft_token = limits.soft.map(|_| started.ctx.soft_limit_token());
        let outcome = supervise(started.future, limits, soft_token.as_ref(), &held.abort).await;
        if held.settled.swap(true, Ordering::SeqCst) {
            return; // a hard shutdown already put it back
        }
        let elapsed = started.at.elapsed();
        shared.emit(|| WorkerEvent::Returned { envelope: Arc::clone(&self.envelope), elapsed });
        // The lease stays renewed and the permits held until the writer has
        // settled the delivery.
        let op = self.outcome(&shared, outcome, started.trace);
        let _ = shared.ops.send(Op::Kept(Box::new(op), Keep::new((held, hold))));
    }

    /// Records the outcome; the delivery's registration, if any, is kept until
    /// its delivery is settled.
    fn finish(self, shared: &Shared, outcome: Outcome, trace: Option<String>, held: Option<Registered>) {
        let op = self.outcome(shared, outcome, trace);
        let op = match held {
            Some(held) => Op::Kept(Box::new(op), Keep::new(held)),
            None => op,
        };
        let _ = shared.ops.send(op);
    }

    /// What the writer does with the outcome; a traced execution's status
    /// carries its trace context (`trace`), for the steps that follow it.
    fn outcome(self, shared: &Shared, outcome: Outcome, trace: Option<String>) -> Op {
        shared.processed.fetch_add(1, Ordering::Relaxed);
        let (envelope, receipt) = (&self.envelope, &self.receipt);
        // Stopped by a revoke: revoked, whatever the run came to.
        if let Some(revoke) = shared.control.revoke_of(envelope.id).filter(|r| r.terminate != Terminate::No) {
            return revoked_op(envelope, receipt, &revoke, "while it ran");
        }
        match &outcome {
            Outcome::Succeeded(_) => shared.control.succeeded.fetch_add(1, Ordering::Relaxed),
            Outcome::Aborted => 0,
            _ => shared.control.failed.fetch_add(1, Ordering::Relaxed),
        };
        let policy = &self.registration.options().retry;
        let limit = shared.stem.max_payload();
        let outcome = match outcome {
            Outcome::Succeeded(result) if result.bytes().len() > limit => Outcome::Failed(
                TaskError::fail(format!(
                    "its result encodes to {} bytes, over the payload limit of {limit} bytes (Stem::with_max_payload)",
                    result.bytes().len()
                ))
                .with_kind("payload_too_large"),
            ),
            other => other,
        };
        let mut op = match outcome {
            Outcome::Succeeded(result) if self.registration.options().ignore_result => {
                return Op::Unrecorded(self.envelope, self.receipt, result);
            }
            Outcome::Succeeded(result) => match trace {
                None => return Op::Succeeded(self.envelope, self.receipt, result),
                Some(_) => {
                    let mut st = settle::status(envelope, receipt, TaskState::Succeeded);
                    st.result = Some(result);
                    Op::Finish(Box::new(st), Arc::clone(envelope), receipt.clone(), Finish::Ack)
                }
            },
            Outcome::Failed(error) => {
                let info = ErrorInfo { kind: error.kind().to_owned(), message: error.message().to_owned() };
                settle::failure(envelope, receipt, policy, info, error.action())
            }
            Outcome::Panicked(message) => {
                let info = ErrorInfo { kind: "panic".to_owned(), message: format!("task panicked: {message}") };
                settle::failure(envelope, receipt, policy, info, RetryAction::Retry)
            }
            Outcome::TimedOut(limit) => {
                let info = ErrorInfo {
                    kind: "time_limit".to_owned(),
                    message: format!("hard time limit of {limit:?} exceeded"),
                };
                settle::failure(envelope, receipt, policy, info, RetryAction::Retry)
            }
            Outcome::Aborted => settle::requeue_op(envelope, receipt, &shared.config.id),
        };
        if let (Some(trace), Op::Finish(status, ..)) = (trace, &mut op) {
            status.meta.insert(trace::TRACE_META.to_owned(), trace.into());
        }
        op
    }

    /// Records the `started` status, unless the task does not track it (or
    /// ignores its result: a success would not overwrite it).
    fn send_started(&self, shared: &Shared) {
        let options = self.registration.options();
        if !options.track_started || options.ignore_result {
            return;
        }
        let mut started = settle::status(&self.envelope, &self.receipt, TaskState::Started);
        started.meta.insert("worker".to_owned(), shared.config.id.as_str().into());
        let _ = shared.ops.send(Op::Status(Box::new(started), None));
    }

    /// Registers a delivery with the worker (for the lease keeper and shutdowns).
    fn hold(&self, shared: &Arc<Shared>, lease: &Arc<Lease>, cancel: &CancellationToken) -> Registered {
        let key = (self.receipt.id, self.receipt.token);
        let abort = CancellationToken::new();
        let settled = Arc::new(AtomicBool::new(false));
        let running = Arc::new(AtomicBool::new(false));
        let held = Held {
            envelope: Arc::clone(&self.envelope),
            receipt: self.receipt.clone(),
            lease: Arc::clone(lease),
            cancel: cancel.clone(),
            abort: abort.clone(),
            settled: Arc::clone(&settled),
            running: Arc::clone(&running),
        };
        shared.held().insert(key, held);
        Registered { shared: Arc::clone(shared), key, abort, settled, running }
    }
}

/// A delivery in the worker's held map; forgotten when dropped, however the run ends.
struct Registered {
    shared: Arc<Shared>,
    key: (TaskId, u64),
    abort: CancellationToken,
    settled: Arc<AtomicBool>,
    running: Arc<AtomicBool>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.held().remove(&self.key);
    }
}

fn caught(result: std::thread::Result<Result<Payload, TaskError>>) -> Outcome {
    match result {
        Ok(Ok(payload)) => Outcome::Succeeded(payload),
        Ok(Err(error)) => Outcome::Failed(error),
        Err(panic) => Outcome::Panicked(crate::panic::message(panic.as_ref())),
    }
}

/// A task's time limits, counted from when it started.
struct Limits {
    hard: Option<Duration>,
    soft: Option<Duration>,
    from: Instant,
}

/// Polls the task in this tokio task, catching panics, enforcing the hard limit,
/// flagging the soft one, and stopping when aborted.
async fn supervise(
    mut future: Guarded,
    limits: Limits,
    soft_token: Option<&CancellationToken>,
    abort: &CancellationToken,
) -> Outcome {
    // Timers exist only for the limits that are set.
    let hard_timer = OptionFuture::from(limits.hard.map(|d| tokio::time::sleep_until(limits.from + d)));
    let soft_timer = OptionFuture::from(limits.soft.map(|d| tokio::time::sleep_until(limits.from + d)));
    tokio::pin!(hard_timer, soft_timer);
    let mut soft_pending = limits.soft.is_some();
    loop {
        tokio::select! {
            result = &mut future => return caught(result),
            Some(()) = &mut hard_timer, if limits.hard.is_some() => return Outcome::TimedOut(limits.hard.unwrap_or_default()),
            Some(()) = &mut soft_timer, if soft_pending => {
                soft_pending = false;
                if let Some(token) = soft_token {
                    token.cancel();
                }
            }
            () = abort.cancelled() => return Outcome::Aborted,
        }
    }
}

fn dead_letter(shared: &Shared, envelope: &Arc<Envelope>, receipt: Receipt, kind: &str, reason: String) {
    let mut st = settle::status(envelope, &receipt, TaskState::Failed);
    st.error = Some(ErrorInfo { kind: kind.to_owned(), message: reason.clone() });
    let _ = shared.ops.send(Op::Finish(Box::new(st), Arc::clone(envelope), receipt, Finish::DeadLetter(reason)));
}

/// The op that records a revoked task as `revoked` and acks its delivery:
/// not retried, not dead-lettered, not delivered again.
fn revoked_op(envelope: &Arc<Envelope>, receipt: &Receipt, revoke: &Revoke, when: &str) -> Op {
    let mut st = settle::status(envelope, receipt, TaskState::Revoked);
    let reason = revoke.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
    st.error = Some(ErrorInfo { kind: "revoked".to_owned(), message: format!("revoked {when}{reason}") });
    Op::Finish(Box::new(st), Arc::clone(envelope), receipt.clone(), Finish::Ack)
}
