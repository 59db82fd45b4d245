use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Task, TaskHandle, TaskOptions};
use crate::codec;
use crate::envelope::{Call, Envelope, MAX_PRIORITY, Plan, RUN_META};
use crate::error::{Error, Result};
use crate::id::TaskId;
use crate::stem::Stem;

/// One call of task `T`: its arguments plus per-call options, not yet enqueued.
///
/// Made by the generated `SendEmail::call(args)`; the builder methods override the
/// task's defaults for this call only. A signature is a value, so canvas
/// primitives (chain, group, chord) compose them with their types intact.
pub struct Signature<T: Task> {
    args: T::Args,
    options: EnqueueOptions,
    /// What runs after it ([`link`](Self::link), [`link_error`](Self::link_error)).
    pub(crate) plan: Plan,
    /// Why a piece linked to it could not be built (reported on enqueue).
    pub(crate) broken: Option<String>,
    _task: PhantomData<fn() -> T>,
}

/// The per-call options of a [`Signature`]; `None` keeps the task's default.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EnqueueOptions {
    /// The task id (for idempotent producers); a new UUID v7 otherwise.
    pub task_id: Option<TaskId>,
    /// The queue.
    pub queue: Option<String>,
    /// The priority, 0 to 9.
    pub priority: Option<u8>,
    /// Run no sooner than this long after enqueueing.
    pub countdown: Option<Duration>,
    /// Run no sooner than this time (wins over `countdown`).
    pub eta: Option<DateTime<Utc>>,
    /// Expire (and never run) if not started by this time.
    pub expires: Option<DateTime<Utc>>,
    /// Retries after the first attempt.
    pub max_retries: Option<u32>,
    /// The hard time limit.
    pub time_limit: Option<Duration>,
    /// The soft time limit.
    pub soft_time_limit: Option<Duration>,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// Extra metadata.
    pub meta: BTreeMap<String, serde_json::Value>,
    /// The task that enqueues this one (set by [`TaskContext::enqueue`](super::TaskContext::enqueue)).
    pub parent: Option<(TaskId, TaskId)>,
    /// The unique window (see [`crate::task::unique`]); the task's `unique_for` otherwise.
    pub unique_for: Option<Duration>,
    /// What makes calls the same for the unique window, instead of their arguments.
    pub unique_key: Option<String>,
}

/// The per-call option setters of [`Signature`] and [`Link`](crate::canvas::Link),
/// written once: each sets a field of the type's `options` ([`EnqueueOptions`]).
macro_rules! call_options {
    () => {
        /// Sets the task id.
        pub fn task_id(mut self, id: $crate::TaskId) -> Self {
            self.options.task_id = Some(id);
            self
        }

        /// Routes the call to `queue`.
        pub fn queue(mut self, queue: impl Into<String>) -> Self {
            self.options.queue = Some(queue.into());
            self
        }

        /// Sets the priority, 0 (lowest) to 9; higher values are clamped to 9.
        pub fn priority(mut self, priority: u8) -> Self {
            self.options.priority = Some(priority.min($crate::envelope::MAX_PRIORITY));
            self
        }

        /// Runs no sooner than `delay` from the time of enqueueing.
        pub fn countdown(mut self, delay: ::std::time::Duration) -> Self {
            self.options.countdown = Some(delay);
            self
        }

        /// Runs no sooner than `at`.
        pub fn eta(mut self, at: ::chrono::DateTime<::chrono::Utc>) -> Self {
            self.options.eta = Some(at);
            self
        }

        /// Expires at `at` if not started by then.
        pub fn expires(mut self, at: ::chrono::DateTime<::chrono::Utc>) -> Self {
            self.options.expires = Some(at);
            self
        }

        /// Expires `after` from now if not started by then.
        pub fn expires_in(self, after: ::std::time::Duration) -> Self {
            self.expires(::chrono::Utc::now() + $crate::task::signature::to_chrono(after))
        }

        /// Allows `n` retries after the first attempt.
        pub fn max_retries(mut self, n: u32) -> Self {
            self.options.max_retries = Some(n);
            self
        }

        /// Sets the hard time limit.
        pub fn time_limit(mut self, limit: ::std::time::Duration) -> Self {
            self.options.time_limit = Some(limit);
            self
        }

        /// Sets the soft time limit.
        pub fn soft_time_limit(mut self, limit: ::std::time::Duration) -> Self {
            self.options.soft_time_limit = Some(limit);
            self
        }

        /// Adds a header.
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.options.headers.insert(name.into(), value.into());
            self
        }

        /// Makes a second enqueue of the same call within `window` return
        /// this one's handle (see [`crate::task::unique`]); overrides the
        /// task's `unique_for`.
        pub fn unique_for(mut self, window: ::std::time::Duration) -> Self {
            self.options.unique_for = Some(window);
            self
        }

        /// Calls with the same `key` are the same call for the unique window,
        /// whatever their arguments (the window is the task's `unique_for` or
        /// this call's [`unique_for`](Self::unique_for)).
        pub fn unique_key(mut self, key: impl Into<String>) -> Self {
            self.options.unique_key = Some(key.into());
            self
        }

        /// Adds a metadata entry.
        pub fn meta(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
            self.options.meta.insert(key.into(), value.into());
            self
        }
    };
}
pub(crate) use call_options;

impl<T: Task> Signature<T> {
    /// A call of `T` with `args` and the task's default options.
    pub fn new(args: T::Args) -> Self {
        Self { args, options: EnqueueOptions::default(), plan: Plan::default(), broken: None, _task: PhantomData }
    }

    /// The arguments.
    pub fn args(&self) -> &T::Args {
        &self.args
    }

    /// The per-call options.
    pub fn options(&self) -> &EnqueueOptions {
        &self.options
    }

    call_options!();

    /// Enqueues the call; the handle's `wait()` yields `T::Output`.
    pub async fn enqueue(self, stem: &Stem) -> Result<TaskHandle<T::Output>> {
        let envelope = self.into_envelope()?;
        let (own, run) = (envelope.id, envelope.run().map(str::to_owned));
        let id = stem.enqueue_envelope(envelope).await?;
        // A unique call may get another task's handle: never with this run's marker.
        Ok(TaskHandle::new(stem.clone(), id).of_run(run.filter(|_| id == own)))
    }

    /// The envelope this call is published as: arguments encoded with the task's
    /// codec, the task's defaults overridden by this call's options.
    pub fn into_envelope(self) -> Result<Envelope> {
        if let Some(why) = self.broken {
            return Err(Error::Config(why));
        }
        let args = codec::encode(T::CODEC, &self.args)?;
        let mut envelope = self.options.envelope(T::NAME, &T::OPTIONS, args)?;
        if !self.plan.is_empty() {
            envelope.canvas = Some(Box::new(self.plan));
        }
        Ok(envelope)
    }

    pub(crate) fn with_parent(mut self, parent: TaskId, root: TaskId) -> Self {
        self.options.parent = Some((parent, root));
        self
    }
}

impl EnqueueOptions {
    /// The envelope of a call of the task `name` with encoded `args`: the
    /// task's `defaults` overridden by these options. For front ends that
    /// enqueue a task they do not link (the bare `stem` binary); a typed call
    /// is [`Signature::into_envelope`], a linked one [`TaskRegistration::envelope`](super::TaskRegistration::envelope).
    pub fn envelope(self, name: &str, defaults: &TaskOptions, args: crate::codec::Payload) -> Result<Envelope> {
        let o = self;
        // What the call named itself, for routing (see `crate::routing`).
        let call = Call::New { queue: o.queue.is_some(), priority: o.priority.is_some() };
        let queue = o.queue.unwrap_or_else(|| defaults.queue.to_owned());
        crate::queue::check_for(&format!("task `{name}`: "), &queue)?;
        let mut envelope = Envelope::new(name, queue, args);
        envelope.call = call;
        let now = envelope.created_at;
        envelope.headers = o.headers;
        envelope.meta = o.meta;
        if let Some(id) = o.task_id {
            // An id given by hand may have run before: this run is told
            // apart from those, so that its handle never takes their result.
            envelope.id = id;
            envelope.meta.entry(RUN_META.to_owned()).or_insert_with(|| format!("{:016x}", fastrand::u64(..)).into());
        }
        envelope.max_retries = o.max_retries.unwrap_or(defaults.max_retries);
        envelope.priority = o.priority.unwrap_or(defaults.priority).min(MAX_PRIORITY);
        envelope.not_before = o.eta.or_else(|| o.countdown.map(|d| now + to_chrono(d)));
        envelope.expires = o.expires;
        envelope.time_limits.hard = o.time_limit.or(defaults.time_limit);
        envelope.time_limits.soft = o.soft_time_limit.or(defaults.soft_time_limit);
        if defaults.ignore_result {
            envelope.mark_ignores_result();
        }
        if let Some((parent, root)) = o.parent {
            envelope.parent_id = Some(parent);
            envelope.root_id = Some(root);
        }
        match (o.unique_for.or(defaults.unique_for), o.unique_key.as_deref()) {
            (Some(window), key) => super::unique::mark(&mut envelope, window, defaults.unique_until_finished, key)?,
            (None, Some(_)) => {
                return Err(Error::Config(format!(
                    "task `{name}`: a unique_key needs a unique window; give the task `unique_for` or the call `.unique_for(..)`"
                )));
            }
            (None, None) => {}
        }
        Ok(envelope)
    }
}

pub(crate) fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl<T: Task> Clone for Signature<T>
where
    T::Args: Clone,
{
    fn clone(&self) -> Self {
        Self {
            args: self.args.clone(),
            options: self.options.clone(),
            plan: self.plan.clone(),
            broken: self.broken.clone(),
            _task: PhantomData,
        }
    }
}

impl<T: Task> fmt::Debug for Signature<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature").field("task", &T::NAME).field("options", &self.options).finish_non_exhaustive()
    }
}

impl Stem {
    /// Enqueues one typed call; the same as `signature.enqueue(self)`.
    pub async fn enqueue<T: Task>(&self, signature: Signature<T>) -> Result<TaskHandle<T::Output>> {
        signature.enqueue(self).await
    }

    /// Enqueues many calls of one task in one batch: one publish and one write
    /// of their queued records for all of them (see
    /// [`enqueue_envelopes`](Self::enqueue_envelopes)).
    pub async fn enqueue_many<T: Task>(
        &self,
        signatures: impl IntoIterator<Item = Signature<T>>,
    ) -> Result<Vec<TaskHandle<T::Output>>> {
        let envelopes = signatures.into_iter().map(Signature::into_envelope).collect::<Result<Vec<_>>>()?;
        let runs: Vec<(TaskId, Option<String>)> =
            envelopes.iter().map(|e| (e.id, e.run().map(str::to_owned))).collect();
        let ids = self.enqueue_envelopes(envelopes).await?;
        Ok(ids
            .into_iter()
            .zip(runs)
            .map(|(id, (own, run))| TaskHandle::new(self.clone(), id).of_run(run.filter(|_| id == own)))
            .collect())
    }
}
