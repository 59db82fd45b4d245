//! [`WorkerControl`]: what a running worker lets its extensions (the control
//! plane, autoscaling) see and change: its counts, its active deliveries and
//! the scheduled ones waiting in the broker, paused queues, its pool size,
//! revokes, and its shutdown.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;

use super::Shared;
use super::shutdown::{ShutdownMode, escalate};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::TaskId;
use crate::revoke::{Revoke, Terminate};

/// The most scheduled deliveries [`WorkerControl::scheduled`] lists.
pub const SCHEDULED_LIMIT: usize = 100;

/// The state a worker shares with its [`WorkerControl`]s.
#[derive(Debug)]
pub(super) struct ControlState {
    started: Instant,
    paused: RwLock<BTreeSet<String>>,
    /// Woken when the paused queues change.
    pub(super) changed: Notify,
    /// The pool size the worker aims at (shrinking takes effect as tasks end).
    size: AtomicUsize,
    /// Deliveries waiting for a slot.
    pub(super) waiting: AtomicUsize,
    pub(super) succeeded: AtomicU64,
    pub(super) failed: AtomicU64,
    /// The revokes this worker knows, by task id.
    revokes: RwLock<HashMap<TaskId, Revoke>>,
    any_revoke: AtomicBool,
}

impl ControlState {
    pub(super) fn new(concurrency: usize) -> Self {
        Self {
            started: Instant::now(),
            paused: RwLock::default(),
            changed: Notify::new(),
            size: AtomicUsize::new(concurrency),
            waiting: AtomicUsize::new(0),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            revokes: RwLock::default(),
            any_revoke: AtomicBool::new(false),
        }
    }

    /// The queues of `all` that are not paused.
    pub(super) fn unpaused(&self, all: &[String]) -> Vec<String> {
        let paused = self.paused.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if paused.is_empty() {
            return all.to_vec();
        }
        all.iter().filter(|q| !paused.contains(*q)).cloned().collect()
    }

    /// Whether `queue` is paused.
    pub(super) fn is_paused(&self, queue: &str) -> bool {
        let paused = self.paused.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        !paused.is_empty() && paused.contains(queue)
    }

    /// The revoke of `id`, if this worker knows one that holds (a hash
    /// lookup, and nothing at all while there is no revoke).
    pub(super) fn revoke_of(&self, id: TaskId) -> Option<Revoke> {
        if !self.any_revoke.load(Ordering::Relaxed) {
            return None;
        }
        let revokes = self.revokes.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        revokes.get(&id).filter(|r| r.expires > Utc::now()).cloned()
    }

    /// Adds revokes to what this worker knows, forgetting expired ones.
    pub(super) fn learn(&self, new: impl IntoIterator<Item = Revoke>) {
        let now = Utc::now();
        let mut revokes = self.revokes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        revokes.retain(|_, r| r.expires > now);
        revokes.extend(new.into_iter().filter(|r| r.expires > now).map(|r| (r.id, r)));
        self.any_revoke.store(!revokes.is_empty(), Ordering::Relaxed);
    }
}

/// A running worker's counts (see [`WorkerControl::stats`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Runs finished (succeeded, failed, retried, dead-lettered, or revoked
    /// while running); a delivery revoked before it started is not a run.
    pub processed: u64,
    /// Tasks that succeeded.
    pub succeeded: u64,
    /// Attempts that failed (retried or not).
    pub failed: u64,
    /// Deliveries held now: running or waiting for a slot.
    pub in_flight: usize,
    /// Seconds since the worker started.
    pub uptime_s: u64,
    /// The pool size (its current target).
    pub concurrency: usize,
    /// The process's resident memory, in bytes, where the system says (Linux).
    pub memory_bytes: Option<u64>,
    /// The queues it consumes.
    pub queues: Vec<String>,
    /// Those of them paused.
    pub paused: Vec<String>,
}

/// One delivery a worker holds (see [`WorkerControl::active`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ActiveTask {
    /// The task id.
    pub id: TaskId,
    /// The task's name.
    pub task: String,
    /// Its queue.
    pub queue: String,
    /// Its attempt.
    pub attempt: u32,
    /// When its message was made.
    pub created_at: DateTime<Utc>,
    /// Whether it runs (`false`: reserved, waiting for a slot).
    pub running: bool,
}

/// A delivery due later on a queue the worker consumes (see
/// [`WorkerControl::scheduled`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ScheduledTask {
    /// The task id.
    pub id: TaskId,
    /// The task's name.
    pub task: String,
    /// Its queue.
    pub queue: String,
    /// Its attempt (above 0: a retry waiting for its backoff).
    pub attempt: u32,
    /// When it is due: its `eta`, its `countdown` from when it was sent, or
    /// the end of its retry's backoff.
    pub eta: DateTime<Utc>,
}

/// A handle on a running worker, for its extensions: cheap to clone; once
/// the worker has stopped, its methods see an empty worker and change
/// nothing.
#[derive(Debug, Clone)]
pub struct WorkerControl {
    shared: Weak<Shared>,
}

impl WorkerControl {
    pub(super) fn from_weak(shared: Weak<Shared>) -> Self {
        Self { shared }
    }

    /// The worker's counts.
    pub fn stats(&self) -> Option<WorkerStats> {
        let shared = self.shared.upgrade()?;
        let c = &shared.control;
        Some(WorkerStats {
            processed: shared.processed.load(Ordering::Relaxed),
            succeeded: c.succeeded.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            in_flight: shared.held().len(),
            uptime_s: c.started.elapsed().as_secs(),
            concurrency: c.size.load(Ordering::Relaxed),
            memory_bytes: resident_memory(),
            queues: shared.config.queues.clone(),
            paused: c.paused.read().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect(),
        })
    }

    /// The deliveries the worker holds: running, or reserved (prefetched,
    /// waiting for a slot). Short tasks run inline in its loop are never
    /// held and never listed; scheduled ones (with a later `eta`) stay in
    /// the broker until due (see [`scheduled`](Self::scheduled)).
    pub fn active(&self) -> Vec<ActiveTask> {
        let Some(shared) = self.shared.upgrade() else { return Vec::new() };
        let mut active: Vec<ActiveTask> = shared
            .held()
            .values()
            .map(|h| ActiveTask {
                id: h.envelope.id,
                task: h.envelope.task.clone(),
                queue: h.envelope.queue.clone(),
                attempt: h.envelope.attempt,
                created_at: h.envelope.created_at,
                running: h.running.load(Ordering::Relaxed),
            })
            .collect();
        active.sort_by_key(|a| a.id);
        active
    }

    /// The scheduled deliveries of the queues the worker consumes: messages
    /// whose `eta` (a `countdown`, an `eta`, a retry's backoff) is still
    /// ahead, soonest first, at most [`SCHEDULED_LIMIT`].
    ///
    /// A worker never receives a delivery before it is due: such messages
    /// wait in the broker ([`QueueStats::delayed`](crate::broker::QueueStats::delayed)),
    /// not in the worker, and each one goes to whichever worker of its queue
    /// is free when it comes due. So every worker of a queue lists the same
    /// scheduled deliveries of it. Empty if the broker cannot list them (it
    /// has no [`QueueStats`](crate::broker::QueueStats)) or the worker has stopped.
    pub async fn scheduled(&self) -> Result<Vec<ScheduledTask>> {
        let Some(shared) = self.shared.upgrade() else { return Ok(Vec::new()) };
        let (stem, queues) = (shared.stem.clone(), shared.config.queues.clone());
        drop(shared);
        let Some(stats) = stem.broker().stats() else { return Ok(Vec::new()) };
        let mut scheduled = Vec::new();
        for queue in &queues {
            for envelope in stats.delayed(queue, SCHEDULED_LIMIT).await? {
                let Some(eta) = envelope.not_before else { continue };
                let Envelope { id, task, queue, attempt, .. } = envelope;
                scheduled.push(ScheduledTask { id, task, queue, attempt, eta });
            }
        }
        scheduled.sort_by_key(|s| (s.eta, s.id));
        scheduled.truncate(SCHEDULED_LIMIT);
        Ok(scheduled)
    }

    /// Stops delivering from `queue` (one already received is put back);
    /// false if the worker does not consume it.
    pub fn pause(&self, queue: &str) -> bool {
        self.set_paused(queue, true)
    }

    /// Delivers from `queue` again; false if the worker does not consume it.
    pub fn resume(&self, queue: &str) -> bool {
        self.set_paused(queue, false)
    }

    fn set_paused(&self, queue: &str, paused: bool) -> bool {
        let Some(shared) = self.shared.upgrade() else { return false };
        if !shared.config.queues.iter().any(|q| q == queue) {
            return false;
        }
        let mut set = shared.control.paused.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if paused {
            set.insert(queue.to_owned())
        } else {
            set.remove(queue)
        };
        drop(set);
        shared.control.changed.notify_waiters();
        true
    }

    /// The pool size.
    pub fn concurrency(&self) -> usize {
        self.shared.upgrade().map_or(0, |s| s.control.size.load(Ordering::Relaxed))
    }

    /// Deliveries held now: running or waiting for a slot.
    pub fn in_flight(&self) -> usize {
        self.shared.upgrade().map_or(0, |s| s.held().len())
    }

    /// Deliveries waiting for a slot of the pool now.
    pub fn waiting(&self) -> usize {
        self.shared.upgrade().map_or(0, |s| s.control.waiting.load(Ordering::Relaxed))
    }

    /// Grows the pool by `n` slots; the new size.
    pub fn grow(&self, n: usize) -> usize {
        let Some(shared) = self.shared.upgrade() else { return 0 };
        shared.slots.add_permits(n);
        shared.control.size.fetch_add(n, Ordering::Relaxed) + n
    }

    /// Shrinks the pool by `n` slots, never below one: running tasks finish,
    /// and their slots are not given out again. The new size.
    pub fn shrink(&self, n: usize) -> usize {
        let Some(shared) = self.shared.upgrade() else { return 0 };
        let size = shared.control.size.load(Ordering::Relaxed);
        let n = n.min(size.saturating_sub(1));
        if n == 0 {
            return size;
        }
        shared.control.size.fetch_sub(n, Ordering::Relaxed);
        let slots = Arc::clone(&shared.slots);
        tokio::spawn(async move {
            if let Ok(permits) = slots.acquire_many_owned(u32::try_from(n).unwrap_or(u32::MAX)).await {
                permits.forget();
            }
        });
        size - n
    }

    /// Takes note of `revokes`: a delivery of a revoked task is never run,
    /// and a running one is stopped as its revoke says; how many of the
    /// worker's running tasks were stopped.
    pub fn revoke(&self, revokes: Vec<Revoke>) -> usize {
        let Some(shared) = self.shared.upgrade() else { return 0 };
        let stopping: Vec<(TaskId, Terminate)> =
            revokes.iter().filter(|r| r.terminate != Terminate::No).map(|r| (r.id, r.terminate)).collect();
        shared.control.learn(revokes);
        let mut stopped = 0;
        for held in shared.held().values() {
            if let Some((_, how)) = stopping.iter().find(|(id, _)| *id == held.envelope.id) {
                held.cancel.cancel();
                if *how == Terminate::Hard {
                    held.abort.cancel();
                }
                stopped += 1;
            }
        }
        stopped
    }

    /// Starts the worker's shutdown, as a signal would.
    pub fn shutdown(&self, mode: ShutdownMode) {
        if let Some(shared) = self.shared.upgrade() {
            escalate(&shared.level, mode);
        }
    }
}

/// The resident memory of this process, from `/proc/self/statm` (Linux).
fn resident_memory() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
