//! Extensions: how a feature plugs into the worker without the worker
//! knowing it.
//!
//! The worker runs tasks and records their outcomes; everything else a worker
//! process does (workflows today; canvas, schedules, metrics and control
//! commands as they come) is an [`Extension`]. An extension may
//!
//! - add tasks to the worker ([`tasks`](Extension::tasks)) and default queues
//!   ([`queues`](Extension::queues)) when the worker is built;
//! - run services beside the worker, from its start to its stop
//!   ([`services`](Extension::services): a timer loop, a scheduler, a
//!   listener);
//! - see the outcomes the worker has just recorded, in batches
//!   ([`watches`](Extension::watches) picks them, [`recorded`](Extension::recorded)
//!   gets them: continue a chain, count a chord member, resume a workflow
//!   run);
//! - have a say on deliveries of task names the worker does not know
//!   ([`unknown_task`](Extension::unknown_task)).
//!
//! A worker built with [`Worker::builder`](super::Worker::builder) has every
//! extension its binary links in by default (workflows are one); more are
//! added with [`WorkerBuilder::extension`](super::WorkerBuilder::extension).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::backend::TaskStatus;
use crate::envelope::Envelope;
use crate::stem::Stem;
use crate::task::Registry;

/// A feature that runs inside a worker. Every method has a default that does
/// nothing, so an extension implements only what it needs.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use stem::backend::TaskStatus;
/// use stem::worker::{Extension, FollowUp, Recorded};
/// use stem::{Envelope, Stem, Worker};
///
/// /// Counts the failures the worker records.
/// #[derive(Debug, Default)]
/// struct Failures(Arc<AtomicUsize>);
///
/// impl Extension for Failures {
///     fn watches(&self, _envelope: &Envelope, status: &TaskStatus) -> bool {
///         status.state == stem::TaskState::Failed
///     }
///
///     fn recorded(&self, _stem: &Stem, outcomes: Vec<Recorded>) -> Option<FollowUp> {
///         self.0.fetch_add(outcomes.len(), Ordering::Relaxed);
///         None
///     }
/// }
///
/// # fn main() -> stem::Result<()> {
/// let stem = Stem::in_memory();
/// let worker = Worker::builder(&stem).extension(Failures::default()).build()?;
/// # Ok(()) }
/// ```
pub trait Extension: Any + Send + Sync + fmt::Debug {
    /// The tasks this extension runs, added to the worker's tasks when it is
    /// built (before [`only`](super::WorkerBuilder::only) picks among them).
    /// `explicit` says whether the user picked the worker's tasks by hand;
    /// otherwise the worker runs every task linked into the binary.
    fn tasks(&self, explicit: bool) -> Registry {
        let _ = explicit;
        Registry::new()
    }

    /// Fails the worker's build if this extension cannot run as configured
    /// (two workflows with one name, say); checked after the tasks.
    fn check(&self) -> crate::Result<()> {
        Ok(())
    }

    /// The queues a worker running `registry` (its tasks, final) consumes
    /// when none are given, besides those its tasks default to.
    fn queues(&self, registry: &Registry, explicit: bool) -> Vec<String> {
        let _ = (registry, explicit);
        Vec::new()
    }

    /// Services the worker runs beside itself: each starts with the worker and
    /// is dropped (at its next await point) once the worker has stopped.
    fn services(&self, worker: &WorkerInfo<'_>) -> Vec<Service> {
        let _ = worker;
        Vec::new()
    }

    /// Whether [`recorded`](Self::recorded) wants this outcome once it is
    /// recorded: the status the worker is about to write for a delivery of
    /// `envelope` (succeeded, failed, retrying, expired, or queued again).
    /// Called on the worker's writer for every outcome: keep it cheap.
    fn watches(&self, envelope: &Envelope, status: &TaskStatus) -> bool {
        let _ = (envelope, status);
        false
    }

    /// The outcomes this extension [`watches`](Self::watches) that the worker
    /// has just recorded (accepted by their fence), in the order written, one
    /// batch at a time, before their deliveries are settled with the broker.
    /// Called on the worker's writer: hand anything slow to a task of its own.
    ///
    /// Work that must not be lost (continuing a chain, counting a chord
    /// member) goes in the returned [`FollowUp`]: the worker awaits it before
    /// it settles these deliveries. If it fails, they are left unsettled: the
    /// tasks run again once their leases end, and their outcomes come back
    /// here (with a higher fence).
    fn recorded(&self, stem: &Stem, outcomes: Vec<Recorded>) -> Option<FollowUp> {
        let _ = (stem, outcomes);
        None
    }

    /// Why a delivery of a task the worker does not know (`envelope.task`)
    /// goes to the dead letter queue, if this extension knows better than
    /// "unknown task". The first extension to answer is used.
    fn unknown_task(&self, envelope: &Envelope, worker: &WorkerInfo<'_>) -> Option<String> {
        let _ = (envelope, worker);
        None
    }
}

/// A service an extension runs beside the worker.
pub type Service = BoxFuture<'static, ()>;

/// Work an extension does on recorded outcomes before their deliveries are
/// settled (see [`Extension::recorded`]).
pub type FollowUp = BoxFuture<'static, crate::Result<()>>;

/// The worker, as its extensions see it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct WorkerInfo<'a> {
    /// The Stem it runs on.
    pub stem: &'a Stem,
    /// Its id.
    pub id: &'a str,
    /// The queues it consumes.
    pub queues: &'a [String],
    /// The tasks it runs.
    pub registry: &'a Registry,
    /// A handle on the running worker (counts, active deliveries, pauses,
    /// pool size, revokes, shutdown).
    pub control: &'a super::WorkerControl,
}

/// An outcome the worker has recorded: the delivery's envelope and the status
/// written for it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Recorded {
    /// The delivery's message.
    pub envelope: Arc<Envelope>,
    /// The status written.
    pub status: TaskStatus,
}

/// An extension every worker of the binary installs, submitted with
/// `inventory` by the feature that defines it (so that the worker need not
/// name the feature).
pub(crate) struct LinkedExtension {
    make: fn() -> Box<dyn Extension>,
}

inventory::collect!(LinkedExtension);

impl LinkedExtension {
    /// The extension `make` makes, for every worker.
    pub(crate) const fn new(make: fn() -> Box<dyn Extension>) -> Self {
        Self { make }
    }
}

/// A feature's say on statuses other features write outside the worker's
/// writer (a canvas recording the steps a failure stopped): submitted with
/// `inventory`, so that the writer of those statuses need not name the
/// features that care.
pub(crate) struct StatusListener {
    heard: fn(Stem, Vec<TaskStatus>) -> BoxFuture<'static, ()>,
}

inventory::collect!(StatusListener);

impl StatusListener {
    /// A listener that `heard` the statuses.
    pub(crate) const fn new(heard: fn(Stem, Vec<TaskStatus>) -> BoxFuture<'static, ()>) -> Self {
        Self { heard }
    }
}

/// Tells every linked listener about `statuses`, just written.
pub(crate) async fn written(stem: &Stem, statuses: &[TaskStatus]) {
    for listener in inventory::iter::<StatusListener> {
        (listener.heard)(stem.clone(), statuses.to_vec()).await;
    }
}

/// A new instance of every linked extension.
pub(super) fn linked() -> Vec<Box<dyn Extension>> {
    inventory::iter::<LinkedExtension>.into_iter().map(|linked| (linked.make)()).collect()
}

/// The extensions' recorded outcomes of one batch of writes, gathered while
/// the batch is prepared and handed out once it is written.
#[derive(Default)]
pub(super) struct Watched {
    /// Per watched outcome: its status's place in the batch, the extension
    /// that watches it, and the outcome.
    entries: Vec<(usize, usize, Recorded)>,
}

impl Watched {
    /// Notes the outcome at `place` of the batch for every extension that
    /// watches it.
    pub(super) fn note(
        &mut self,
        extensions: &[Arc<dyn Extension>],
        place: usize,
        envelope: &Arc<Envelope>,
        status: &TaskStatus,
    ) {
        for (index, extension) in extensions.iter().enumerate() {
            if extension.watches(envelope, status) {
                let recorded = Recorded { envelope: Arc::clone(envelope), status: status.clone() };
                self.entries.push((place, index, recorded));
            }
        }
    }

    /// Hands each extension the outcomes it watches that were `accepted`
    /// (per place in the batch), then forgets them all. Returns the
    /// extensions' follow-ups, each with the places of the outcomes it covers.
    pub(super) fn dispatch(
        &mut self,
        stem: &Stem,
        extensions: &[Arc<dyn Extension>],
        accepted: &[bool],
    ) -> Vec<(Vec<usize>, FollowUp)> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let mut lists: Vec<(Vec<usize>, Vec<Recorded>)> = extensions.iter().map(|_| Default::default()).collect();
        for (place, index, recorded) in self.entries.drain(..) {
            if accepted.get(place).copied().unwrap_or(false) {
                lists[index].0.push(place);
                lists[index].1.push(recorded);
            }
        }
        let mut follow_ups = Vec::new();
        for (extension, (places, list)) in extensions.iter().zip(lists) {
            if !list.is_empty()
                && let Some(follow_up) = extension.recorded(stem, list)
            {
                follow_ups.push((places, follow_up));
            }
        }
        follow_ups
    }

    /// Forgets the outcomes of a batch that was not written.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }
}
