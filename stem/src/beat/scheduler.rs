//! [`Scheduler`]: reads due fires, claims them, enqueues their calls.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::entry::{CATCH_UP_MAX, CatchUp, ScheduleEntry};
use super::store::{Claim, Fired, ScheduleStore};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::TaskId;
use crate::stem::Stem;
use crate::task::{EnqueueOptions, Registry};

/// How many due entries one tick reads at most (it reads again while full).
const BATCH: usize = 2_000;

/// How often a running scheduler looks for due fires.
const TICK: Duration = Duration::from_millis(100);

/// How far ahead a scheduler claims fires: their tasks are enqueued before
/// they are due, ready at their due time, so that a second with thousands of
/// fires is not late by the time it takes to enqueue them. A schedule
/// disabled or removed within this time of a fire may still fire once.
const LOOKAHEAD: Duration = Duration::from_secs(1);

/// How often a running scheduler logs what it did.
const REPORT: Duration = Duration::from_secs(60);

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tick {
    /// Fires this scheduler claimed.
    pub claimed: usize,
    /// Claims another scheduler won first.
    pub lost: usize,
    /// Tasks enqueued.
    pub enqueued: usize,
    /// Missed fires skipped.
    pub skipped: usize,
    /// Fires whose call could not be enqueued (unknown task, bad arguments).
    pub failed: usize,
}

impl std::ops::AddAssign for Tick {
    fn add_assign(&mut self, other: Self) {
        self.claimed += other.claimed;
        self.lost += other.lost;
        self.enqueued += other.enqueued;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

impl Tick {
    /// Logs these counts, over `over`, at info.
    fn log(&self, over: Duration) {
        tracing::info!(
            enqueued = self.enqueued,
            claimed = self.claimed,
            lost = self.lost,
            skipped = self.skipped,
            failed = self.failed,
            seconds = over.as_secs(),
            "beat: {} fire(s) enqueued",
            self.enqueued
        );
    }
}

/// Fires the schedules of a store. Any number may run on one store; each
/// due fire is enqueued once (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct Scheduler {
    stem: Stem,
    registry: Arc<Registry>,
}

/// A scheduler running in a task of its own.
#[derive(Debug)]
pub struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops it after its current tick.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// One due entry's fires this tick.
struct Due {
    entry: ScheduleEntry,
    claim: Claim,
    fires: Vec<DateTime<Utc>>,
}

impl Scheduler {
    /// A scheduler of `stem`'s schedule store, enqueueing the tasks linked
    /// into this binary.
    pub fn new(stem: &Stem) -> Self {
        Self::with_registry(stem, Registry::linked())
    }

    /// A scheduler that knows the tasks of `registry`.
    pub fn with_registry(stem: &Stem, registry: Registry) -> Self {
        Self { stem: stem.clone(), registry: Arc::new(registry) }
    }

    fn store(&self) -> &Arc<dyn ScheduleStore> {
        self.stem.stores().schedules()
    }

    /// Puts the schedules that tasks declare (`#[stem::task(schedule =
    /// "...")]`) whose definition is new or changed, under the task's name,
    /// with the arguments the task gives them (each argument's default).
    pub async fn declare(&self) -> Result<usize> {
        let mut put = 0;
        for registration in self.registry.iter() {
            let Some(text) = registration.options().schedule else { continue };
            let schedule = text.parse()?;
            let args = registration.scheduled_args()?;
            let entry = ScheduleEntry::of_task(registration.name(), registration.name(), args, schedule);
            let known = self.store().get(registration.name()).await?;
            if known.is_none_or(|k| k.schedule != entry.schedule || k.task != entry.task || k.args != entry.args) {
                self.store().put(&entry).await?;
                put += 1;
            }
        }
        Ok(put)
    }

    /// Runs in a task of its own until [`Running::stop`].
    pub fn spawn(self) -> Running {
        let stop = CancellationToken::new();
        let task = tokio::spawn(self.run(stop.clone()));
        Running { stop, task }
    }

    /// Runs until `stop`: puts the schedules tasks declare, then a tick
    /// every 100 ms (at once again while a tick was full); `stop` is
    /// honoured between ticks, never during one (a claimed fire would be
    /// lost). A tick that fails is logged and retried. Each minute it logs
    /// at info what it did and measures the store's clock again.
    pub async fn run(self, stop: CancellationToken) {
        if let Err(error) = self.stem.sync_clock().await {
            tracing::warn!(%error, "reading the store's clock failed; the scheduler uses this machine's");
        }
        match self.declare().await {
            Ok(0) => {}
            Ok(put) => tracing::info!(put, "put the schedules tasks declare"),
            Err(error) => tracing::error!(%error, "putting the schedules tasks declare failed"),
        }
        let (mut minute, mut since) = (Tick::default(), std::time::Instant::now());
        loop {
            let full = match self.tick().await {
                Ok((tick, full)) => {
                    minute += tick;
                    full
                }
                Err(error) => {
                    tracing::warn!(%error, "a beat tick failed; trying again");
                    false
                }
            };
            if since.elapsed() >= REPORT || stop.is_cancelled() {
                minute.log(since.elapsed());
                (minute, since) = (Tick::default(), std::time::Instant::now());
                if !stop.is_cancelled()
                    && let Err(error) = self.stem.sync_clock().await
                {
                    tracing::warn!(%error, "reading the store's clock failed");
                }
            }
            if stop.is_cancelled() {
                return;
            }
            if !full {
                tokio::select! {
                    () = stop.cancelled() => {
                        minute.log(since.elapsed());
                        return;
                    }
                    () = tokio::time::sleep(TICK) => {}
                }
            }
        }
    }

    /// One pass at the store's due fires as of [`Stem::now`]; whether it
    /// read a full batch (more may be due).
    pub async fn tick(&self) -> Result<(Tick, bool)> {
        let now = self.stem.now();
        let horizon = now + chrono::Duration::from_std(LOOKAHEAD).unwrap_or_default();
        let due = self.store().due(horizon, BATCH).await?;
        let full = due.len() == BATCH;
        let mut tick = Tick::default();
        let plans: Vec<Due> = due.into_iter().filter_map(|entry| plan(entry, now, horizon)).collect();
        let claims: Vec<Claim> = plans.iter().map(|p| p.claim.clone()).collect();
        let won = self.store().claim(&claims).await?;
        let mut envelopes = Vec::new();
        let mut fired = Vec::new();
        for (plan, won) in plans.into_iter().zip(won) {
            if !won {
                tick.lost += 1;
                continue;
            }
            tick.claimed += 1;
            tick.skipped += usize::try_from(plan.claim.skipped).unwrap_or(usize::MAX);
            let last = plan.fires.last().copied().unwrap_or(plan.claim.fire);
            let mut error = None;
            for fire in &plan.fires {
                match self.envelope(&plan.entry, *fire, now) {
                    Ok(envelope) => envelopes.push((plan.entry.id.clone(), envelope)),
                    Err(e) => {
                        tick.failed += 1;
                        error = Some(e.to_string());
                    }
                }
            }
            fired.push(Fired { id: plan.entry.id.clone(), fire: last, drift_ms: 0, error });
        }
        tick.enqueued = self.enqueue(envelopes, &mut fired).await;
        // How late each fire's task was ready: zero for one enqueued ahead.
        let enqueued_at = self.stem.now();
        for f in &mut fired {
            f.drift_ms = (enqueued_at - f.fire).num_milliseconds().max(0);
        }
        if !fired.is_empty() {
            self.store().record(&fired).await?;
        }
        Ok((tick, full))
    }

    /// The task of `entry`'s fire at `fire`.
    fn envelope(&self, entry: &ScheduleEntry, fire: DateTime<Utc>, now: DateTime<Utc>) -> Result<Envelope> {
        let registration = self.registry.get(&entry.task).ok_or_else(|| {
            crate::error::Error::Config(format!(
                "schedule `{}`: task `{}` is not linked into this scheduler's binary",
                entry.id, entry.task
            ))
        })?;
        let mut options = EnqueueOptions {
            task_id: Some(fire_id(&entry.id, fire)),
            queue: entry.queue.clone(),
            priority: entry.priority,
            headers: entry.headers.clone(),
            ..EnqueueOptions::default()
        };
        options.meta.insert("stem.schedule".to_owned(), entry.id.clone().into());
        options.meta.insert("stem.schedule.fire".to_owned(), fire.to_rfc3339().into());
        let jitter = entry.jitter.filter(|j| !j.is_zero()).map(|j| j.mul_f64(fastrand::f64()));
        if fire > now {
            // Enqueued ahead: it becomes ready at its due time (plus jitter).
            options.eta = Some(fire + chrono::Duration::from_std(jitter.unwrap_or_default()).unwrap_or_default());
        } else {
            // From the enqueue, as brokers read their clocks.
            options.countdown = jitter;
        }
        registration.envelope(&entry.args, options)
    }

    /// Enqueues the fires' tasks in one batch (one by one if the batch
    /// fails, so that one bad fire does not hold up the others, its error
    /// recorded on its schedule); how many were enqueued.
    async fn enqueue(&self, envelopes: Vec<(String, Envelope)>, fired: &mut [Fired]) -> usize {
        if envelopes.is_empty() {
            return 0;
        }
        let n = envelopes.len();
        let batch: Vec<Envelope> = envelopes.iter().map(|(_, e)| e.clone()).collect();
        if self.stem.enqueue_envelopes(batch).await.is_ok() {
            return n;
        }
        let mut enqueued = 0;
        for (id, envelope) in envelopes {
            match self.stem.enqueue_envelope(envelope).await {
                Ok(_) => enqueued += 1,
                Err(error) => {
                    if let Some(f) = fired.iter_mut().find(|f| f.id == id) {
                        f.error = Some(error.to_string());
                    }
                }
            }
        }
        enqueued
    }
}

/// The most fires of one schedule a tick walks through (a schedule firing
/// every second, down for eleven days): those after it are neither enqueued
/// nor counted, and the schedule's next fire is computed from now.
const WALK_MAX: u64 = 1_000_000;

/// What is due of `entry` at `now`, looking ahead to `horizon`: the fires
/// to enqueue (missed ones as its catch-up says, the latest of them; those
/// up to the horizon, up to a bound), how many are skipped, and the claim;
/// `None` if it has no next fire.
fn plan(entry: ScheduleEntry, now: DateTime<Utc>, horizon: DateTime<Utc>) -> Option<Due> {
    let first = entry.next_fire?;
    let keep = (CATCH_UP_MAX as usize).max(1);
    // The latest missed fires (as many as catch-up may enqueue) and how
    // many were missed in all; the fires ahead, those beyond a bound only
    // counted.
    let (mut missed, mut missed_count) = (VecDeque::with_capacity(keep), 0u64);
    let (mut ahead, mut beyond) = (Vec::new(), 0u64);
    let mut at = Some(first);
    let mut last = first;
    let mut walked = 0u64;
    while let Some(fire) = at.filter(|f| *f <= horizon) {
        walked += 1;
        if walked > WALK_MAX {
            break;
        }
        if fire <= now {
            missed_count += 1;
            if missed.len() == keep {
                missed.pop_front();
            }
            missed.push_back(fire);
        } else if ahead.len() < keep * 10 {
            ahead.push(fire);
        } else {
            beyond += 1;
        }
        last = fire;
        at = entry.fire_after(fire);
    }
    let late = |fire: &DateTime<Utc>| (now - *fire).to_std().unwrap_or_default() > entry.grace;
    let mut fires: Vec<DateTime<Utc>> = match entry.catch_up {
        CatchUp::Latest => missed.back().filter(|f| !late(f)).into_iter().copied().collect(),
        CatchUp::All => missed.into_iter().collect(),
    };
    let skipped = missed_count - fires.len() as u64 + beyond;
    fires.extend(ahead);
    let next = entry.fire_after(last.max(now));
    let claim = Claim { id: entry.id.clone(), fire: first, last, next, enqueued: fires.len() as u64, skipped };
    Some(Due { entry, claim, fires })
}

/// The task id of schedule `id`'s fire at `fire`: the same for every
/// scheduler, so that a fire enqueued twice is one task.
pub fn fire_id(id: &str, fire: DateTime<Utc>) -> TaskId {
    let digest = Sha256::new()
        .chain_update(b"stem.beat\0")
        .chain_update(id.as_bytes())
        .chain_update([0])
        .chain_update(fire.timestamp_micros().to_be_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    TaskId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}
