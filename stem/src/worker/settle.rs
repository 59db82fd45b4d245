//! Settling outcomes: what a finished delivery turns into, and the writer that
//! records statuses and then acks, in batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::task::JoinSet;

use super::extension::{Extension, FollowUp, Watched};
use crate::backend::{ErrorInfo, TaskState, TaskStatus};
use crate::broker::{Nack, Receipt};
use crate::codec::Payload;
use crate::envelope::Envelope;
use crate::stem::Stem;
use crate::task::{RetryAction, RetryPolicy};

/// Work for the writer, processed in the order sent.
#[derive(Debug)]
pub(crate) enum Op {
    /// Record a status (started, progress); tell the sender, if any, once written.
    /// (Statuses are boxed here and in `Finish`, so that the common op,
    /// `Succeeded`, is small to move.)
    Status(Box<TaskStatus>, Option<oneshot::Sender<()>>),
    /// Record a delivery's outcome, then settle it with the broker if the
    /// status was accepted (its fence still current).
    Finish(Box<TaskStatus>, Arc<Envelope>, Receipt, Finish),
    /// A run that succeeded with this result: recorded and acked like a
    /// `Finish`, its status built by the writer rather than by the consume loop,
    /// which is the busier of the two.
    Succeeded(Arc<Envelope>, Receipt, Payload),
    /// A run of a task that ignores its result succeeded: only acked, unless
    /// something follows the success up (then recorded like `Succeeded`).
    Unrecorded(Arc<Envelope>, Receipt, Payload),
    /// A delivery settled with the broker without a status: a message whose
    /// task ignores its result, put back (requeued, deferred).
    Quiet(Receipt, Finish),
    /// Several ops at once (the outcomes of one batch's inline runs), with
    /// the batch's share of the writer's backlog, given back once written.
    Many(Vec<Op>, OwnedSemaphorePermit),
    /// An outcome, and what its run holds until its delivery is settled
    /// (the lease the keeper renews, the run's permits): a slow store then
    /// slows the worker down instead of letting leases lapse.
    Kept(Box<Op>, Keep),
    /// Everything is sent; flush and stop.
    Close,
}

/// What a run holds until its outcome is settled; dropped then.
pub(crate) struct Keep {
    _held: Box<dyn Send>,
}

impl Keep {
    /// Keeps `held` until the outcome it goes with is settled.
    pub(crate) fn new(held: impl Send + 'static) -> Self {
        Self { _held: Box::new(held) }
    }
}

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keep")
    }
}

/// What happens to a delivery with the broker.
#[derive(Debug)]
pub(crate) enum Finish {
    /// Done: remove it.
    Ack,
    /// Give it back (a retry, or a requeue on shutdown).
    Nack(Nack),
    /// Move it to the dead letter queue with this reason.
    DeadLetter(String),
}

/// The status a worker writes for `envelope` with this delivery's fence.
pub(super) fn status(envelope: &Envelope, receipt: &Receipt, state: TaskState) -> TaskStatus {
    status_at(envelope, receipt, state, chrono::Utc::now())
}

/// [`status`] written at `at` (a batch's statuses share one reading of the clock).
fn status_at(
    envelope: &Envelope,
    receipt: &Receipt,
    state: TaskState,
    at: chrono::DateTime<chrono::Utc>,
) -> TaskStatus {
    let mut status = TaskStatus {
        id: envelope.id,
        task: envelope.task.clone(),
        queue: envelope.queue.clone(),
        state,
        attempt: envelope.attempt,
        fence: receipt.token,
        result: None,
        error: None,
        progress: None,
        meta: std::collections::BTreeMap::new(),
        updated_at: at,
    };
    status.mark_run_of(envelope);
    status
}

/// The op that puts a delivery back unchanged and marks its task queued again.
pub(super) fn requeue_op(envelope: &Arc<Envelope>, receipt: &Receipt, worker: &str) -> Op {
    if envelope.ignores_result() {
        return Op::Quiet(receipt.clone(), Finish::Nack(Nack::Requeue));
    }
    let mut status = status(envelope, receipt, TaskState::Queued);
    status.meta.insert("requeued_by".to_owned(), worker.into());
    Op::Finish(Box::new(status), Arc::clone(envelope), receipt.clone(), Finish::Nack(Nack::Requeue))
}

/// What a failed attempt becomes: a retry while retries are left and the error
/// allows it, otherwise a failure in the dead letter queue.
pub(super) fn failure(
    envelope: &Arc<Envelope>,
    receipt: &Receipt,
    policy: &RetryPolicy,
    error: ErrorInfo,
    action: RetryAction,
) -> Op {
    let retries_left = envelope.attempt < envelope.max_retries;
    let delay = match action {
        RetryAction::Retry if retries_left => Some(policy.delay(envelope.attempt)),
        RetryAction::RetryAfter(delay) if retries_left => Some(delay),
        _ => None,
    };
    if let Some(delay) = delay {
        let mut st = status(envelope, receipt, TaskState::Retrying);
        st.meta.insert("retry_delay_ms".to_owned(), u64::try_from(delay.as_millis()).unwrap_or(u64::MAX).into());
        st.error = Some(error);
        let mut next = Envelope::clone(envelope);
        next.attempt += 1;
        let nack = Finish::Nack(Nack::retry_in(next, delay));
        return Op::Finish(Box::new(st), Arc::clone(envelope), receipt.clone(), nack);
    }
    let reason = match action {
        RetryAction::Fail => format!("failed without retry: {}: {}", error.kind, error.message),
        _ if envelope.max_retries == 0 => format!("failed (no retries allowed): {}: {}", error.kind, error.message),
        _ => format!("retries exhausted after {} attempts: {}: {}", envelope.attempt + 1, error.kind, error.message),
    };
    let mut st = status(envelope, receipt, TaskState::Failed);
    st.error = Some(error);
    Op::Finish(Box::new(st), Arc::clone(envelope), receipt.clone(), Finish::DeadLetter(reason))
}

/// Emptied op lists that the writer hands back to the consume loop, which
/// fills them with the next batch's outcomes: the large blocks go round between
/// the two threads instead of being allocated by one and freed by the other
/// (a cross-thread free of a large block sends glibc's allocator to its slow
/// path on both sides).
#[derive(Debug, Default)]
pub(super) struct Spares(std::sync::Mutex<Vec<Vec<Op>>>);

impl Spares {
    /// An empty list with room for `capacity` ops.
    pub(super) fn take(&self, capacity: usize) -> Vec<Op> {
        let spare = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let mut list = spare.unwrap_or_default();
        list.reserve(capacity);
        list
    }

    /// Keeps an emptied list for a later batch (a few at most).
    pub(super) fn give(&self, mut list: Vec<Op>) {
        list.clear();
        if list.capacity() == 0 {
            return;
        }
        let mut spares = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if spares.len() < 8 {
            spares.push(list);
        }
    }
}

/// The running writer.
pub(super) enum Writer {
    /// On its own thread, driving its future with the runtime's handle.
    Thread(oneshot::Receiver<()>),
    /// A task of the runtime.
    Task(tokio::task::JoinHandle<()>),
}

/// Starts the writer. On a multi-thread runtime it gets its own thread, so that
/// recording outcomes runs beside running tasks instead of taking turns with the
/// consume loop on one runtime thread (the runtime runs a task woken by another
/// on the waker's thread). On a current-thread runtime it is a task.
///
/// `finished` counts the deliveries settled with the broker after their outcome
/// was recorded (see [`WorkerHandle::finished`](super::WorkerHandle::finished)).
pub(super) fn start_writer(
    stem: Stem,
    extensions: Arc<[Arc<dyn Extension>]>,
    ops: mpsc::UnboundedReceiver<Op>,
    finished: Arc<AtomicU64>,
    spares: Arc<Spares>,
) -> Writer {
    let handle = tokio::runtime::Handle::current();
    let writer = Writing { stem, extensions, finished, spares };
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Writer::Task(tokio::spawn(writer.run(ops)));
    }
    let (done, stopped) = oneshot::channel();
    let spawned = std::thread::Builder::new().name("stem-writer".to_owned()).spawn(move || {
        handle.block_on(writer.run(ops));
        let _ = done.send(());
    });
    match spawned {
        Ok(_) => Writer::Thread(stopped),
        Err(error) => panic!("the worker could not start its writer thread: {error}"),
    }
}

impl Writer {
    /// Waits until the writer has flushed everything and stopped.
    pub(super) async fn join(self) {
        match self {
            Self::Thread(finished) => {
                let _ = finished.await;
            }
            Self::Task(task) => {
                let _ = task.await;
            }
        }
    }
}

/// What the writer works with.
struct Writing {
    stem: Stem,
    /// The worker's extensions, which see the outcomes written.
    extensions: Arc<[Arc<dyn Extension>]>,
    /// Deliveries settled after their outcome was recorded.
    finished: Arc<AtomicU64>,
    spares: Arc<Spares>,
}

impl Writing {
    /// Records statuses and settles deliveries until [`Op::Close`].
    async fn run(self, mut ops: mpsc::UnboundedReceiver<Op>) {
        let mut batch = Vec::with_capacity(FLUSH_MAX);
        let mut buffers = Buffers::default();
        let mut settling = JoinSet::new();
        loop {
            if ops.recv_many(&mut batch, FLUSH_MAX).await == 0 {
                Self::settled(&mut settling, 0).await;
                return;
            }
            let mut backlog = Vec::new();
            if batch.iter().any(|op| matches!(op, Op::Many(..))) {
                batch = flatten(batch, &mut backlog);
            }
            let closing = batch.iter().any(|op| matches!(op, Op::Close));
            // At most FLUSH_MAX ops a flush; the backlog bounds how many wait here.
            while !batch.is_empty() {
                let mut chunk = if batch.len() > FLUSH_MAX {
                    batch.drain(..FLUSH_MAX).collect()
                } else {
                    std::mem::take(&mut batch)
                };
                match self.flush(&mut chunk, &mut buffers).await {
                    Flushed::Done(n) => {
                        self.finished.fetch_add(n, Ordering::Relaxed);
                    }
                    Flushed::Later(settle) => {
                        // Spawned, so that it goes on while the writer waits
                        // for ops; it counts what it settled itself.
                        let finished = self.finished.clone();
                        settling.spawn(async move {
                            finished.fetch_add(settle.await, Ordering::Relaxed);
                        });
                        Self::settled(&mut settling, SETTLING_MAX).await;
                    }
                }
                self.spares.give(chunk);
            }
            drop(backlog);
            if closing {
                Self::settled(&mut settling, 0).await;
                return;
            }
        }
    }

    /// Awaits settlings until at most `left` are still running.
    async fn settled(settling: &mut JoinSet<()>, left: usize) {
        while settling.len() > left {
            if let Some(Err(error)) = settling.join_next().await {
                tracing::error!(%error, "settling a batch panicked; its deliveries come back after their lease");
            }
        }
    }
}

/// How many batches may be settling (their follow-ups running) while the
/// writer writes the next.
const SETTLING_MAX: usize = 2;

/// The most ops one flush writes (one status batch, one ack batch).
const FLUSH_MAX: usize = 512;

/// The ops of `batch` with those inside [`Op::Many`] in their place; their
/// backlog permits go to `backlog`.
fn flatten(mut batch: Vec<Op>, backlog: &mut Vec<OwnedSemaphorePermit>) -> Vec<Op> {
    if let [Op::Many(..)] = batch.as_slice()
        && let Some(Op::Many(ops, permit)) = batch.pop()
    {
        // The usual case: one batch's outcomes, taken as they are.
        backlog.push(permit);
        return ops;
    }
    let mut out = Vec::with_capacity(batch.len());
    for op in batch {
        match op {
            Op::Many(ops, permit) => {
                out.extend(ops);
                backlog.push(permit);
            }
            op => out.push(op),
        }
    }
    out
}

/// The task and fence an op writes a status for, and whether it may be left
/// out (a fire-and-forget status); `None` for an op that writes none.
fn written(op: &Op) -> Option<(crate::TaskId, u64, bool)> {
    match op {
        Op::Status(status, done) => Some((status.id, status.fence, done.is_none())),
        Op::Finish(status, ..) => Some((status.id, status.fence, false)),
        Op::Succeeded(envelope, receipt, _) => Some((envelope.id, receipt.token, false)),
        Op::Kept(op, _) => written(op),
        // It may write nothing: an earlier status of its task stays.
        Op::Unrecorded(..) | Op::Quiet(..) | Op::Many(..) | Op::Close => None,
    }
}

/// Drops each fire-and-forget status that a later op of the same batch
/// overwrites anyway (the same task and fence): under load a task's "started"
/// and its outcome often meet in one batch, and then only the outcome is written.
fn elide_superseded(ops: &mut Vec<Op>) {
    if !ops.iter().any(|op| matches!(op, Op::Status(_, None))) {
        return;
    }
    let mut later = std::collections::HashSet::with_capacity(ops.len());
    let mut keep = vec![true; ops.len()];
    for (i, op) in ops.iter().enumerate().rev() {
        let Some((id, fence, elidable)) = written(op) else { continue };
        let fresh = later.insert((id, fence));
        keep[i] = fresh || !elidable;
    }
    let mut keep = keep.into_iter();
    ops.retain(|_| keep.next().unwrap_or(true));
}

impl Writing {
    /// Records the statuses of `ops`, then settles their deliveries (or
    /// returns the settling, when extensions follow the outcomes up).
    async fn flush(&self, ops: &mut Vec<Op>, buffers: &mut Buffers) -> Flushed {
        let stem = &self.stem;
        let extensions = &*self.extensions;
        elide_superseded(ops);
        let now = chrono::Utc::now();
        let Buffers { statuses, tails, acks, watched } = buffers;
        statuses.clear();
        tails.clear();
        acks.clear();
        // The deliveries settled without a status (see `quiet`).
        let mut quiet = Vec::new();
        for op in ops.drain(..) {
            let (op, keep) = match op {
                Op::Kept(op, keep) => (*op, Some(keep)),
                op => (op, None),
            };
            match op {
                Op::Status(status, done) => {
                    statuses.push(*status);
                    tails.push(Tail::Written(done));
                }
                Op::Succeeded(envelope, receipt, result) => {
                    let mut st = status_at(&envelope, &receipt, TaskState::Succeeded, now);
                    st.result = Some(result);
                    watched.note(extensions, statuses.len(), &envelope, &st);
                    tails.push(Tail::Settle(receipt, Finish::Ack, None, keep));
                    statuses.push(st);
                }
                Op::Unrecorded(envelope, receipt, result) => {
                    let mut st = status_at(&envelope, &receipt, TaskState::Succeeded, now);
                    if quiet_success(&envelope) && !extensions.iter().any(|e| e.watches(&envelope, &st)) {
                        quiet.push(Tail::Settle(receipt, Finish::Ack, None, keep));
                        continue;
                    }
                    st.result = Some(result);
                    watched.note(extensions, statuses.len(), &envelope, &st);
                    tails.push(Tail::Settle(receipt, Finish::Ack, None, keep));
                    statuses.push(st);
                }
                Op::Quiet(receipt, finish) => quiet.push(Tail::Settle(receipt, finish, None, keep)),
                Op::Finish(status, envelope, receipt, finish) => {
                    watched.note(extensions, statuses.len(), &envelope, &status);
                    // The name is kept for the dead letter log line only.
                    let name = matches!(finish, Finish::DeadLetter(_)).then(|| status.task.clone());
                    tails.push(Tail::Settle(receipt, finish, name, keep));
                    statuses.push(*status);
                }
                Op::Many(..) | Op::Close | Op::Kept(..) => {}
            }
        }
        let written = if statuses.is_empty() { Some(Vec::new()) } else { write_statuses(stem, statuses).await };
        statuses.clear();
        // The quiet deliveries are settled with the others, whatever happens
        // to the statuses: they depend on none of them.
        let Some(mut accepted) = written else {
            watched.clear();
            tails.clear();
            let n = quiet.len();
            return Flushed::Done(settle(stem, quiet.into_iter(), &vec![true; n], &vec![false; n], acks).await);
        };
        let follow_ups = watched.dispatch(stem, extensions, &accepted);
        accepted.extend(std::iter::repeat_n(true, quiet.len()));
        tails.extend(quiet);
        if follow_ups.is_empty() {
            let held = vec![false; accepted.len()];
            return Flushed::Done(settle(stem, tails.drain(..), &accepted, &held, acks).await);
        }
        // Follow-ups take a round trip or more: settle this batch beside the
        // writing of the next ones instead of holding the writer.
        let (stem, tails) = (stem.clone(), std::mem::take(tails));
        Flushed::Later(Box::pin(async move {
            let held = follow_up(follow_ups, accepted.len()).await;
            settle(&stem, tails.into_iter(), &accepted, &held, &mut Vec::new()).await
        }))
    }
}

/// Whether a success of a task that ignores its result may go unrecorded:
/// its producer wrote no queued record (the header says so), no worker can
/// have written a status for it (its first attempt: a `started` status is
/// not written for such a task, and a requeue or a rate-limit deferral of
/// it writes none), and no canvas goes on from it.
fn quiet_success(envelope: &Envelope) -> bool {
    envelope.attempt == 0 && envelope.ignores_result() && envelope.canvas.is_none()
}

/// What a flush leaves: how many deliveries it settled, or the settling to
/// await, which yields that count.
enum Flushed {
    Done(u64),
    Later(BoxFuture<'static, u64>),
}

/// Settles the deliveries of `tails` whose outcomes were `accepted` and are
/// not `held` back; `acks` is a buffer for the acks. Returns how many were
/// settled.
async fn settle(
    stem: &Stem,
    tails: impl Iterator<Item = Tail>,
    accepted: &[bool],
    held: &[bool],
    acks: &mut Vec<Receipt>,
) -> u64 {
    let mut kept = Vec::new();
    let mut settled_count = 0;
    for ((tail, &accepted), &held) in tails.zip(accepted).zip(held) {
        let (receipt, finish, name) = match tail {
            Tail::Written(done) => {
                if let Some(done) = done {
                    let _ = done.send(());
                }
                continue;
            }
            Tail::Settle(receipt, finish, name, keep) => {
                // What the run kept goes once its delivery is settled, below.
                kept.extend(keep);
                (receipt, finish, name)
            }
        };
        if !accepted {
            tracing::warn!(task = %receipt.id, token = receipt.token, "outcome refused: a newer delivery of this task exists");
            continue;
        }
        if held {
            continue;
        }
        let settled = match finish {
            Finish::Ack => {
                acks.push(receipt);
                continue;
            }
            Finish::Nack(nack) => stem.broker().nack(&receipt, nack).await,
            Finish::DeadLetter(reason) => {
                tracing::warn!(task = %receipt.id, name = name.as_deref().unwrap_or_default(), %reason, "task dead-lettered");
                stem.broker().dead_letter(&receipt, &reason).await
            }
        };
        match settled {
            Ok(()) => settled_count += 1,
            Err(error) => {
                tracing::warn!(task = %receipt.id, %error, "settling a delivery failed; it will be delivered again");
            }
        }
    }
    if !acks.is_empty() {
        match stem.broker().ack_batch(acks).await {
            Ok(n) => {
                if n < acks.len() {
                    tracing::warn!(lost = acks.len() - n, "some acks found their lease lost; those tasks run again");
                }
                settled_count += n as u64;
            }
            Err(error) => tracing::warn!(%error, "acking failed; those tasks will be delivered again"),
        }
    }
    acks.clear();
    drop(kept);
    settled_count
}

/// Awaits the extensions' follow-ups of one batch of `len` outcomes; per
/// place, whether its delivery is held back (not settled) because a
/// follow-up covering it failed: it comes back after its lease.
async fn follow_up(follow_ups: Vec<(Vec<usize>, FollowUp)>, len: usize) -> Vec<bool> {
    let mut held = vec![false; len];
    if follow_ups.is_empty() {
        return held;
    }
    let (places, futures): (Vec<_>, Vec<_>) = follow_ups.into_iter().unzip();
    for (places, done) in places.into_iter().zip(futures_util::future::join_all(futures).await) {
        if let Err(error) = done {
            tracing::warn!(%error, tasks = places.len(), "an extension's follow-up failed; those tasks run again");
            for place in places {
                if let Some(slot) = held.get_mut(place) {
                    *slot = true;
                }
            }
        }
    }
    held
}

/// What one flush leaves for the next to reuse (emptied, with their room), so
/// that the writer does not ask the allocator for large blocks on every batch.
#[derive(Default)]
struct Buffers {
    statuses: Vec<TaskStatus>,
    tails: Vec<Tail>,
    acks: Vec<Receipt>,
    /// The outcomes extensions watch.
    watched: Watched,
}

/// What is left of an op once its status is handed to the backend.
enum Tail {
    Written(Option<oneshot::Sender<()>>),
    Settle(Receipt, Finish, Option<String>, Option<Keep>),
}

/// Writes statuses, retrying a failing backend a few times; `None` if it keeps
/// failing (the deliveries are then not acked and come back after their lease).
async fn write_statuses(stem: &Stem, statuses: &mut Vec<TaskStatus>) -> Option<Vec<bool>> {
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=5 {
        // A backend may take the statuses it stored (the in-memory one does,
        // rather than copy them) and leaves them on an error.
        match stem.backend().set_batch(statuses).await {
            Ok(accepted) => return Some(accepted),
            Err(error) if attempt < 5 => {
                tracing::warn!(%error, attempt, "writing task statuses failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(error) => {
                tracing::error!(%error, "writing task statuses failed; the deliveries will come back");
                break;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Payload;

    fn delivery(attempt: u32, max_retries: u32) -> (Arc<Envelope>, Receipt) {
        let mut env = Envelope::new("t", "q", Payload::new("json", b"null".to_vec()));
        env.attempt = attempt;
        env.max_retries = max_retries;
        let receipt = Receipt { id: env.id, queue: "q".into(), token: 1, tag: String::new() };
        (Arc::new(env), receipt)
    }

    fn err() -> ErrorInfo {
        ErrorInfo { kind: "k".into(), message: "m".into() }
    }

    #[test]
    fn retries_while_retries_are_left() {
        let (env, r) = delivery(1, 3);
        let op = failure(&env, &r, &RetryPolicy::DEFAULT, err(), RetryAction::Retry);
        let Op::Finish(st, _, _, Finish::Nack(Nack::Replace(next))) = op else { panic!("expected a retry: {op:?}") };
        assert_eq!(st.state, TaskState::Retrying);
        assert_eq!(next.attempt, 2);
        assert!(next.not_before.is_some());
    }

    #[test]
    fn exhausted_or_fail_now_goes_to_the_dead_letter_queue() {
        let (env, r) = delivery(3, 3);
        let op = failure(&env, &r, &RetryPolicy::DEFAULT, err(), RetryAction::Retry);
        let Op::Finish(st, _, _, Finish::DeadLetter(reason)) = op else { panic!("expected a dead letter: {op:?}") };
        assert_eq!(st.state, TaskState::Failed);
        assert_eq!(reason, "retries exhausted after 4 attempts: k: m");

        let (env, r) = delivery(0, 3);
        let op = failure(&env, &r, &RetryPolicy::DEFAULT, err(), RetryAction::Fail);
        assert!(
            matches!(op, Op::Finish(_, _, _, Finish::DeadLetter(ref why)) if why.starts_with("failed without retry"))
        );
    }

    #[test]
    fn flattening_keeps_the_order_and_holds_the_backlog_until_dropped() {
        let backlog = Arc::new(tokio::sync::Semaphore::new(4));
        let take = |n| Arc::clone(&backlog).try_acquire_many_owned(n).expect("free permits");
        let ops: Vec<Op> = (0..5)
            .map(|_| {
                let (env, r) = delivery(0, 3);
                Op::Finish(Box::new(status(&env, &r, TaskState::Succeeded)), Arc::clone(&env), r, Finish::Ack)
            })
            .collect();
        let ids: Vec<_> =
            ops.iter().map(|op| if let Op::Finish(st, ..) = op { st.id } else { unreachable!() }).collect();
        let mut ops = ops.into_iter();
        let batch = vec![
            Op::Many(ops.by_ref().take(2).collect(), take(2)),
            ops.next().expect("a third op"),
            Op::Many(ops.collect(), take(2)),
        ];
        assert_eq!(backlog.available_permits(), 0);
        let mut held = Vec::new();
        let flat = flatten(batch, &mut held);
        let flat_ids: Vec<_> =
            flat.iter().map(|op| if let Op::Finish(st, ..) = op { st.id } else { unreachable!() }).collect();
        assert_eq!(flat_ids, ids, "every op, in the order sent");
        assert_eq!(backlog.available_permits(), 0, "the backlog is held while the ops are written");
        drop(held);
        assert_eq!(backlog.available_permits(), 4, "and given back after");

        let (env, r) = delivery(0, 3);
        let single = vec![Op::Many(
            vec![Op::Finish(Box::new(status(&env, &r, TaskState::Succeeded)), Arc::clone(&env), r, Finish::Ack)],
            take(1),
        )];
        let mut held = Vec::new();
        assert_eq!(flatten(single, &mut held).len(), 1);
        assert_eq!(held.len(), 1);
    }

    #[test]
    fn a_started_status_overwritten_in_the_same_batch_is_not_written() {
        let (env, r) = delivery(0, 3);
        let (other, r2) = delivery(0, 3);
        let (tx, _rx) = oneshot::channel();
        let mut ops = vec![
            Op::Status(Box::new(status(&env, &r, TaskState::Started)), None),
            Op::Status(Box::new(status(&other, &r2, TaskState::Started)), None),
            Op::Status(Box::new(status(&env, &r, TaskState::Started)), Some(tx)),
            Op::Finish(Box::new(status(&env, &r, TaskState::Succeeded)), Arc::clone(&env), r.clone(), Finish::Ack),
        ];
        elide_superseded(&mut ops);
        let kept: Vec<_> = ops
            .iter()
            .map(|op| match op {
                Op::Status(st, done) => (st.id, st.state, done.is_some()),
                Op::Finish(st, ..) => (st.id, st.state, false),
                Op::Succeeded(..) | Op::Unrecorded(..) | Op::Quiet(..) | Op::Many(..) | Op::Close | Op::Kept(..) => {
                    unreachable!()
                }
            })
            .collect();
        assert_eq!(
            kept,
            vec![
                (other.id, TaskState::Started, false),
                (env.id, TaskState::Started, true),
                (env.id, TaskState::Succeeded, false)
            ],
            "only the fire-and-forget status of a task finished in the batch goes; confirmed ones stay"
        );
    }
}
