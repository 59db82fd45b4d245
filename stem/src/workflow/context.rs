//! [`WorkflowContext`]: what a running workflow fn can do durably.
//!
//! Every durable operation (a step, a sleep, an event wait, a task call, a
//! recorded value, a patch marker) takes the next position in the run's
//! sequence. Replaying, an operation whose position has a checkpoint returns
//! it instead of running; the first operation without one runs live and
//! records its outcome. An operation whose id differs from the checkpoint at
//! its position means the code changed under a running run: the run fails with
//! a non-determinism error naming both.
//!
//! An operation that cannot go on (the run suspends, its lease was lost, the
//! store failed, a policy cancelled it) halts the execution: it records why,
//! wakes the runner and never returns; the runner drops the fn's future.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::run::{CancellationPolicy, RunId};
use super::store::{Checkpoint, Suspension, Watch};
use super::{EventTopic, StepError, StepOptions, WorkflowError, calls};
use crate::canvas::{self, Piece, Start};
use crate::clock::after;
use crate::error::Error;
use crate::task::TaskContext;
use crate::worker::WorkerEvent;
use tracing::Instrument;

/// How often a run waiting for a task it called looks at the task's state by
/// itself, in case the notice of its end was lost.
const CALL_RECHECK: Duration = Duration::from_secs(60);

/// What a step's output must be: serializable, so that it can be checkpointed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a step's output: it must implement `Serialize` and `Deserialize` to be checkpointed",
    label = "not serializable",
    note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to the type"
)]
pub trait StepOutput: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> StepOutput for T {}

/// The handle a workflow fn gets: durable steps, sleeps, event waits, task
/// calls and recorded values. Cheap to clone.
#[derive(Clone)]
pub struct WorkflowContext {
    inner: Arc<Inner>,
}

struct Inner {
    run: RunId,
    workflow: String,
    /// The execution's task: its Stem, and its worker, which hears of the steps.
    task: TaskContext,
    owner: String,
    created_at: DateTime<Utc>,
    policy: CancellationPolicy,
    log: BTreeMap<u32, Checkpoint>,
    cursor: Mutex<Cursor>,
    /// Checkpoints recorded but not written yet (see [`WorkflowContext::save`]).
    pending: Mutex<Vec<Checkpoint>>,
    halt: Mutex<Option<Halt>>,
    halted: CancellationToken,
}

#[derive(Default)]
struct Cursor {
    position: u32,
    seen: HashMap<String, u32>,
}

/// Why an execution stopped before its fn returned.
#[derive(Debug)]
pub(crate) enum Halt {
    /// The run is suspended in the store.
    Suspended,
    /// Another execution owns the run now (or it ended meanwhile).
    LeaseLost,
    /// The replay reached another operation than the one recorded.
    NonDeterminism(String),
    /// The store failed.
    Store(Error),
    /// The cancellation policy ended the run.
    Cancelled(String),
}

/// What a position holds.
enum Slot {
    /// The recorded checkpoint.
    Replay(Checkpoint),
    /// Nothing yet: run live, then record at this position under this id.
    Live(u32, String),
}

#[derive(Serialize, Deserialize)]
struct Sleep {
    wake: DateTime<Utc>,
    since: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct Wait {
    since: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
}

impl WorkflowContext {
    pub(crate) fn new(task: TaskContext, state: &super::RunState, owner: String, checkpoints: Vec<Checkpoint>) -> Self {
        Self {
            inner: Arc::new(Inner {
                run: state.id,
                workflow: state.workflow.clone(),
                task,
                owner,
                created_at: state.created_at,
                policy: state.policy,
                log: checkpoints.into_iter().map(|c| (c.position, c)).collect(),
                cursor: Mutex::new(Cursor::default()),
                pending: Mutex::new(Vec::new()),
                halt: Mutex::new(None),
                halted: CancellationToken::new(),
            }),
        }
    }

    /// The run's id.
    pub fn id(&self) -> RunId {
        self.inner.run
    }

    /// The workflow's name.
    pub fn workflow(&self) -> &str {
        &self.inner.workflow
    }

    /// Whether the operation about to run was recorded by an earlier execution
    /// (so the fn is replaying). Useful to keep logs from repeating.
    pub fn is_replaying(&self) -> bool {
        let position = self.cursor().position;
        self.inner.log.keys().next_back().is_some_and(|last| *last >= position)
    }

    /// Runs `f` as a checkpointed step named `name`, retrying with
    /// [`StepOptions::DEFAULT`]. Its id is `name#n` for its `n`th occurrence in
    /// the run, so a step in a loop gets one checkpoint per iteration. Replayed,
    /// it returns its recorded outcome without running.
    pub async fn step<T, E, F, Fut>(&self, name: &str, f: F) -> Result<T, StepError>
    where
        T: StepOutput,
        E: Into<StepError>,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
    {
        self.step_with(name, StepOptions::DEFAULT, f).await
    }

    /// [`step`](Self::step) with its own retry policy. Retries happen in this
    /// execution, pausing between attempts; an error from [`StepError::fail`]
    /// is not retried. The final outcome, success or failure, is recorded.
    pub async fn step_with<T, E, F, Fut>(&self, name: &str, options: StepOptions, mut f: F) -> Result<T, StepError>
    where
        T: StepOutput,
        E: Into<StepError>,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
    {
        self.check_run_time().await;
        let (position, id) = match self.slot(name).await {
            Slot::Replay(c) => return step_outcome(&c),
            Slot::Live(position, id) => (position, id),
        };
        let mut attempt = 0;
        let began = std::time::Instant::now();
        // A live step (not a replayed one) is a span of the run's execution.
        let span = tracing::info_span!("stem.workflow.step", run = %self.id(), step = %id);
        let outcome = loop {
            match f().instrument(span.clone()).await.map_err(Into::into) {
                Ok(value) => break Ok(value),
                Err(error) if error.is_retryable() && attempt < options.max_retries => {
                    let pause = options.delay(attempt);
                    tracing::warn!(run = %self.id(), step = %id, attempt, ?pause, error = %error, "step failed; retrying");
                    let note = format!("step `{id}` failed on its run {} (retrying): {}", attempt + 1, error.message());
                    // Best effort: only for operators looking at a slow run.
                    let _ =
                        self.inner.task.stem().workflows().record_error(self.id(), &note, self.now_unrecorded()).await;
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(error) => break Err(error.in_step(&id, attempt + 1)),
            }
        };
        self.inner.task.emit(WorkerEvent::StepEnded {
            run: self.id(),
            workflow: self.inner.workflow.clone(),
            step: id.clone(),
            elapsed: began.elapsed(),
            failed: outcome.is_err(),
        });
        // The outcome and how many attempts it took (read by operators, not replay).
        let attempts = attempt + 1;
        let recorded = match &outcome {
            Ok(value) => match serde_json::to_value(value) {
                Ok(value) => json!({ "ok": value, "attempts": attempts }),
                Err(e) => return Err(StepError::fail(format!("step `{id}`: its output could not be encoded: {e}"))),
            },
            Err(error) => json!({ "err": error.message(), "attempts": attempts }),
        };
        self.save(position, id, recorded);
        outcome
    }

    /// Sleeps durably: the run is suspended in the store, no worker holds it,
    /// and a worker resumes it once `duration` has passed (on the store's time,
    /// as [`Stem::now`](crate::Stem::now) reads it).
    pub async fn sleep(&self, duration: Duration) {
        self.check_run_time().await;
        let now = self.now_unrecorded();
        match self.slot("stem.sleep").await {
            Slot::Replay(c) => {
                let sleep: Sleep = self.decode_internal(&c).await;
                if now >= sleep.wake {
                    return;
                }
                self.check_suspended_time(sleep.since, now).await;
                let resume_at = self.clamp(Some(sleep.wake), sleep.since);
                self.suspend(Suspension { checkpoint: None, resume_at, watch: None, at: now }).await;
            }
            Slot::Live(position, name) => {
                let wake = after(now, duration);
                let value = serde_json::to_value(Sleep { wake, since: now }).unwrap_or_default();
                let checkpoint = Checkpoint { position, name, value, at: now };
                let resume_at = self.clamp(Some(wake), now);
                self.suspend(Suspension { checkpoint: Some(checkpoint), resume_at, watch: None, at: now }).await;
            }
        }
    }

    /// Waits durably for the next event on `topic` (sent with
    /// [`Stem::emit`](crate::Stem::emit) after this wait registered) and returns its value.
    pub async fn await_event<T: DeserializeOwned>(&self, topic: EventTopic<T>) -> Result<T, WorkflowError> {
        match self.wait_event(topic.name(), None).await {
            Some(value) => decode_event(topic.name(), value),
            None => Err(WorkflowError::with_kind(
                "event",
                format!("the wait for `{}` ended without an event", topic.name()),
            )),
        }
    }

    /// Like [`await_event`](Self::await_event), but `None` once `timeout` has
    /// passed without an event.
    pub async fn await_event_timeout<T: DeserializeOwned>(
        &self,
        topic: EventTopic<T>,
        timeout: Duration,
    ) -> Result<Option<T>, WorkflowError> {
        match self.wait_event(topic.name(), Some(timeout)).await {
            Some(value) => decode_event(topic.name(), value).map(Some),
            None => Ok(None),
        }
    }

    /// Calls a task, or a canvas (a group, a chord, a chain), as one durable
    /// step: starts it once (under ids derived from the run and the step, so
    /// a replay never starts it again), suspends the run, and resumes it with
    /// the result when it ends: the task's output, the group's outputs in
    /// member order, the chord's or chain's last output. A task that fails
    /// for good (or a group member, or a chain step) makes this an error.
    pub async fn call<P>(&self, piece: P) -> Result<P::Output, WorkflowError>
    where
        P: Piece<Input = Start>,
        P::Output: DeserializeOwned,
    {
        self.check_run_time().await;
        let node = piece.into_node().map_err(|e| WorkflowError::with_kind("canvas", e))?;
        let (position, name) = match self.slot(&canvas::step_name(&node)).await {
            Slot::Replay(c) => return calls::outcome(&c.value),
            Slot::Live(position, name) => (position, name),
        };
        let stem = self.inner.task.stem();
        let task = calls::task_id(self.id(), &name);
        let known = match stem.backend().get(task).await {
            Ok(known) => known,
            Err(error) => self.halt(Halt::Store(error)).await,
        };
        if let Some(value) = known.as_ref().and_then(calls::final_value) {
            self.save(position, name, value.clone());
            return calls::outcome(&value);
        }
        if known.is_none() {
            let meta = ("stem.workflow.run", Value::String(self.id().to_string()));
            if let Err(error) = canvas::launch_as(stem, node, task, meta).await {
                self.halt(Halt::Store(error)).await;
            }
        }
        let now = self.now_unrecorded();
        let watch = Watch { topic: calls::topic(task), position, step: name };
        let resume_at = self.clamp(Some(after(now, CALL_RECHECK)), now);
        let suspension = Suspension { checkpoint: None, resume_at, watch: Some(watch), at: now };
        match stem.workflows().suspend_run(self.id(), &self.inner.owner, suspension).await {
            // The task may have ended before the wait was registered: look once more.
            Ok(true) => {
                calls::notify_if_final(stem, task).await;
                self.halt(Halt::Suspended).await
            }
            Ok(false) => self.halt(Halt::LeaseLost).await,
            Err(error) => self.halt(Halt::Store(error)).await,
        }
    }

    /// The current time, recorded: a replay sees the same value.
    pub async fn now(&self) -> DateTime<Utc> {
        let now = self.now_unrecorded();
        self.recorded("stem.now", move || now).await
    }

    /// A random UUID (v4), recorded: a replay sees the same value.
    pub async fn uuid(&self) -> uuid::Uuid {
        self.recorded("stem.uuid", uuid::Uuid::new_v4).await
    }

    /// A random number, recorded: a replay sees the same value.
    pub async fn random(&self) -> u64 {
        self.recorded("stem.random", || fastrand::u64(..)).await
    }

    /// Versioning: true for a run that reaches this point under code that has
    /// the patch `id`, false for a run that had already passed this point under
    /// older code. Write `if wf.patched("v2").await { new } else { old }` and
    /// runs in flight keep their old path.
    pub async fn patched(&self, id: &str) -> bool {
        let name = format!("stem.patch:{id}");
        self.write_pending().await;
        let position = {
            let mut cursor = self.cursor();
            let position = cursor.position;
            match self.inner.log.get(&position) {
                Some(c) if c.name == name => {
                    cursor.position += 1;
                    return true;
                }
                Some(_) => return false,
                None => {
                    cursor.position += 1;
                    position
                }
            }
        };
        self.save(position, name, Value::Bool(true));
        true
    }

    async fn recorded<T, F>(&self, base: &str, make: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        match self.slot(base).await {
            Slot::Replay(c) => self.decode_internal(&c).await,
            Slot::Live(position, name) => {
                let value = make();
                self.save(position, name, serde_json::to_value(&value).unwrap_or_default());
                value
            }
        }
    }

    async fn wait_event(&self, topic: &str, timeout: Option<Duration>) -> Option<Value> {
        self.check_run_time().await;
        let now = self.now_unrecorded();
        let (wait, pending) = match self.slot("stem.wait").await {
            Slot::Replay(c) => (self.decode_internal::<Wait>(&c).await, None),
            Slot::Live(position, name) => {
                let wait = Wait { since: now, deadline: timeout.map(|t| after(now, t)) };
                let value = serde_json::to_value(&wait).unwrap_or_default();
                (wait, Some(Checkpoint { position, name, value, at: now }))
            }
        };
        let (position, name) = match self.slot(&format!("stem.event:{topic}")).await {
            Slot::Replay(c) => return c.value.get("event").cloned(),
            Slot::Live(position, name) => (position, name),
        };
        if wait.deadline.is_some_and(|d| now >= d) {
            if let Some(pending) = pending {
                self.save(pending.position, pending.name, pending.value);
            }
            self.save(position, name, json!({ "timeout": true }));
            return None;
        }
        self.check_suspended_time(wait.since, now).await;
        let watch = Watch { topic: topic.to_owned(), position, step: name };
        let resume_at = self.clamp(wait.deadline, wait.since);
        self.suspend(Suspension { checkpoint: pending, resume_at, watch: Some(watch), at: now }).await
    }

    fn cursor(&self) -> MutexGuard<'_, Cursor> {
        self.inner.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now_unrecorded(&self) -> DateTime<Utc> {
        self.inner.task.stem().now()
    }

    /// Takes the next position for an operation of kind `base`, once the
    /// checkpoints before it are written.
    async fn slot(&self, base: &str) -> Slot {
        self.write_pending().await;
        let found = {
            let mut cursor = self.cursor();
            let n = cursor.seen.entry(base.to_owned()).or_default();
            let id = format!("{base}#{n}");
            *n += 1;
            let position = cursor.position;
            cursor.position += 1;
            match self.inner.log.get(&position) {
                Some(c) if c.name == id => Ok(Slot::Replay(c.clone())),
                Some(c) => Err(format!(
                    "non-determinism in workflow `{}` run {}: at position {position} the run recorded `{}` but the \
                     code now reaches `{id}`; the code changed in a way that affects runs in flight (guard the \
                     change with `wf.patched(..)`)",
                    self.inner.workflow, self.inner.run, c.name
                )),
                None => Ok(Slot::Live(position, id)),
            }
        };
        match found {
            Ok(slot) => slot,
            Err(message) => self.halt(Halt::NonDeterminism(message)).await,
        }
    }

    async fn decode_internal<T: DeserializeOwned>(&self, c: &Checkpoint) -> T {
        match serde_json::from_value(c.value.clone()) {
            Ok(value) => value,
            Err(e) => {
                let message = format!("the checkpoint `{}` does not decode: {e}", c.name);
                self.halt(Halt::NonDeterminism(message)).await
            }
        }
    }

    /// Records an operation's outcome at `position`. It is written before
    /// anything that can depend on it leaves the run: the next durable
    /// operation writes it first (before a step's body runs, a task is
    /// started or the run suspends), and the run's end writes it with the
    /// end, in one store write. So a run of `n` steps costs `n` writes, not
    /// `n + 1`; what a crash can repeat is unchanged: a step whose
    /// checkpoint was not written yet.
    fn save(&self, position: u32, name: String, value: Value) {
        let at = self.now_unrecorded();
        self.pending().push(Checkpoint { position, name, value, at });
    }

    fn pending(&self) -> MutexGuard<'_, Vec<Checkpoint>> {
        self.inner.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The checkpoints recorded but not written yet, for the run's end to write.
    pub(crate) fn take_pending(&self) -> Vec<Checkpoint> {
        std::mem::take(&mut *self.pending())
    }

    /// Writes the checkpoints recorded but not written yet, in order.
    async fn write_pending(&self) {
        let pending = self.take_pending();
        if pending.is_empty() {
            return;
        }
        let store = self.inner.task.stem().workflows();
        for checkpoint in pending {
            match store.save_checkpoint(self.id(), &self.inner.owner, checkpoint).await {
                Ok(true) => {}
                Ok(false) => self.halt(Halt::LeaseLost).await,
                Err(error) => self.halt(Halt::Store(error)).await,
            }
        }
    }

    async fn suspend(&self, suspension: Suspension) -> ! {
        match self.inner.task.stem().workflows().suspend_run(self.id(), &self.inner.owner, suspension).await {
            Ok(true) => self.halt(Halt::Suspended).await,
            Ok(false) => self.halt(Halt::LeaseLost).await,
            Err(error) => self.halt(Halt::Store(error)).await,
        }
    }

    /// The earliest of `resume_at` and the policy's limits for a suspension that began at `since`.
    fn clamp(&self, resume_at: Option<DateTime<Utc>>, since: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let policy = self.inner.policy;
        [
            resume_at,
            policy.max_run_time.map(|d| after(self.inner.created_at, d)),
            policy.max_suspended_time.map(|d| after(since, d)),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    async fn check_run_time(&self) {
        if let Some(reason) = run_time_exceeded(&self.inner.policy, self.inner.created_at, self.now_unrecorded()) {
            self.halt(Halt::Cancelled(reason)).await;
        }
    }

    async fn check_suspended_time(&self, since: DateTime<Utc>, now: DateTime<Utc>) {
        if let Some(limit) = self.inner.policy.max_suspended_time
            && now >= after(since, limit)
        {
            self.halt(Halt::Cancelled(format!("cancelled: suspended longer than max_suspended_time ({limit:?})")))
                .await;
        }
    }

    /// Records why the execution stops, wakes the runner, and never returns.
    async fn halt(&self, why: Halt) -> ! {
        self.stop(why);
        std::future::pending().await
    }

    /// Records why the execution stops (the first reason wins) and wakes the runner.
    pub(crate) fn stop(&self, why: Halt) {
        {
            let mut halt = self.inner.halt.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if halt.is_none() {
                *halt = Some(why);
            }
        }
        self.inner.halted.cancel();
    }

    pub(crate) fn halted(&self) -> &CancellationToken {
        &self.inner.halted
    }

    pub(crate) fn take_halt(&self) -> Option<Halt> {
        self.inner.halt.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

/// Why the policy's maximum run time cancels a run, if it does at `now`.
pub(crate) fn run_time_exceeded(
    policy: &CancellationPolicy,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<String> {
    let limit = policy.max_run_time?;
    (now >= after(created_at, limit)).then(|| format!("cancelled: ran longer than max_run_time ({limit:?})"))
}

fn step_outcome<T: DeserializeOwned>(c: &Checkpoint) -> Result<T, StepError> {
    if let Some(value) = c.value.get("ok") {
        return serde_json::from_value(value.clone()).map_err(|e| {
            StepError::fail(format!("the checkpoint of step `{}` does not decode as its output type: {e}", c.name))
        });
    }
    let message = c.value.get("err").and_then(Value::as_str).unwrap_or("failed");
    Err(StepError::fail(message))
}

fn decode_event<T: DeserializeOwned>(topic: &str, value: Value) -> Result<T, WorkflowError> {
    serde_json::from_value(value).map_err(|e| {
        WorkflowError::with_kind("event", format!("the event on `{topic}` does not decode as the topic's type: {e}"))
    })
}

impl fmt::Debug for WorkflowContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowContext").field("run", &self.inner.run).field("workflow", &self.inner.workflow).finish()
    }
}
