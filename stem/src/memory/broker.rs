//! The in-memory broker.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use tokio::sync::{Notify, broadcast};

use crate::broker::{
    Broadcast, Broker, DEFAULT_DEAD_LETTER_RETENTION, DeadLetter, DeadLetterPage, DeadLetters, Delivery, Nack,
    PurgeOptions, QueueCounts, QueueStats, Receipt, ReceiveRequest, ReplayOptions, ReplayResult,
};
use crate::envelope::{Envelope, MAX_PRIORITY};
use crate::error::{Error, Result};
use crate::id::TaskId;
use crate::id_map::IdMap;

/// A [`Broker`] in process memory: priorities, delays, leases, fencing and a dead
/// letter queue, all lost when the process ends. For tests, docs and one-process apps.
#[derive(Debug, Default)]
pub struct MemoryBroker {
    /// How long dead letters are kept (`None`: [`DEFAULT_DEAD_LETTER_RETENTION`]).
    dead_letter_retention: Option<Duration>,
    state: Mutex<State>,
    wake: Notify,
    channels: Mutex<HashMap<String, broadcast::Sender<Vec<u8>>>>,
}

#[derive(Debug, Default)]
struct State {
    queues: HashMap<Arc<str>, Queue>,
    seq: u64,
    /// The last fencing token handed out: one counter for the broker, so
    /// that a task id used again never gets a token it had before.
    tokens: u64,
    /// The ids of the stored messages, and of some that are gone (one
    /// message per id: a second publish replaces the first, in whichever
    /// queue it waits). Acks leave their ids behind, so that the drain does
    /// no work for this; the set is rebuilt when stale ids outnumber live
    /// ones (looked at as it doubles).
    live: IdMap<TaskId, ()>,
}

#[derive(Debug, Default)]
struct Queue {
    /// The queue's name, shared by the receipts of its deliveries.
    name: Arc<str>,
    /// One FIFO per priority, index = priority.
    ready: [VecDeque<Message>; MAX_PRIORITY as usize + 1],
    delayed: BTreeMap<(DateTime<Utc>, u64), Message>,
    inflight: IdMap<TaskId, Leased>,
    /// Lease ends, soonest first. Acks leave their entry behind: an entry whose
    /// message is no longer leased until that time is stale and skipped, and
    /// the heap is rebuilt from `inflight` when stale entries outnumber live ones.
    leases: BinaryHeap<Reverse<(DateTime<Utc>, TaskId)>>,
    /// Oldest first, each with its message's last token.
    dead: Vec<(DeadLetter, u64)>,
}

#[derive(Debug)]
struct Message {
    envelope: Arc<Envelope>,
    /// The fencing token of its latest delivery (0 before the first).
    token: u64,
}

#[derive(Debug)]
struct Leased {
    message: Message,
    until: DateTime<Utc>,
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty broker that keeps dead letters for `retention`
    /// ([`DEFAULT_DEAD_LETTER_RETENTION`] otherwise).
    pub fn with_dead_letter_retention(retention: Duration) -> Self {
        Self { dead_letter_retention: Some(retention), ..Self::default() }
    }

    /// The moment before which dead letters are gone.
    fn dead_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let kept = self.dead_letter_retention.unwrap_or(DEFAULT_DEAD_LETTER_RETENTION);
        now - chrono::Duration::from_std(kept).unwrap_or(chrono::Duration::MAX)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores a published (or replayed) envelope, replacing the stored
    /// message of the same id wherever it is: a receipt for the old copy
    /// settles nothing any more.
    fn store(&self, state: &mut State, envelope: Envelope, now: DateTime<Utc>) {
        if state.live.insert(envelope.id, ()).is_some() {
            // Rare (a producer's own task id used again, or a stale id): the
            // queues are searched.
            state.queues.values_mut().for_each(|queue| queue.forget(envelope.id));
        } else if state.live.len() > 4096 && state.live.len().is_power_of_two() && state.live.len() > 2 * state.stored()
        {
            state.live = state.queues.values().flat_map(Queue::ids).map(|id| (id, ())).collect();
        }
        self.enqueue(state, Message { envelope: Arc::new(envelope), token: 0 }, now);
    }

    fn enqueue(&self, state: &mut State, message: Message, now: DateTime<Utc>) {
        state.seq += 1;
        let seq = state.seq;
        let queue = state.queue(&message.envelope.queue);
        match message.envelope.not_before.filter(|at| *at > now) {
            Some(at) => {
                queue.delayed.insert((at, seq), message);
            }
            None => queue.push_ready(message),
        }
    }
}

impl State {
    /// How many messages are stored: ready, delayed or leased.
    fn stored(&self) -> usize {
        self.queues.values().map(|q| q.pending() + q.delayed.len() + q.inflight.len()).sum()
    }

    /// The queue named `name`, created if new.
    fn queue(&mut self, name: &str) -> &mut Queue {
        if !self.queues.contains_key(name) {
            let name: Arc<str> = Arc::from(name);
            self.queues.insert(Arc::clone(&name), Queue { name, ..Queue::default() });
        }
        self.queues.get_mut(name).expect("just inserted")
    }
}

impl Queue {
    fn push_ready(&mut self, message: Message) {
        let band = usize::from(message.envelope.priority.min(MAX_PRIORITY));
        self.ready[band].push_back(message);
    }

    /// Moves due delayed messages to ready and expired leases back to ready.
    fn tidy(&mut self, now: DateTime<Utc>) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let message = entry.remove();
            self.push_ready(message);
        }
        while let Some(&Reverse((until, id))) = self.leases.peek() {
            if until > now {
                break;
            }
            self.leases.pop();
            if self.inflight.get(&id).is_some_and(|l| l.until == until)
                && let Some(leased) = self.inflight.remove(&id)
            {
                let band = usize::from(leased.message.envelope.priority.min(MAX_PRIORITY));
                self.ready[band].push_front(leased.message);
            }
        }
    }

    /// Drops the dead letters that died before `cutoff` (oldest first).
    fn expire_dead(&mut self, cutoff: DateTime<Utc>) {
        let gone = self.dead.iter().take_while(|(d, _)| d.dead_at < cutoff).count();
        self.dead.drain(..gone);
    }

    /// The ids of its stored messages.
    fn ids(&self) -> impl Iterator<Item = TaskId> + '_ {
        let ready = self.ready.iter().flatten().map(|m| m.envelope.id);
        ready.chain(self.delayed.values().map(|m| m.envelope.id)).chain(self.inflight.keys().copied())
    }

    /// Drops the message of `id`, wherever it waits (a replaced copy; rare,
    /// so a scan of the ready and delayed ones is fine).
    fn forget(&mut self, id: TaskId) {
        if self.inflight.remove(&id).is_some() {
            return;
        }
        for band in &mut self.ready {
            band.retain(|m| m.envelope.id != id);
        }
        self.delayed.retain(|_, m| m.envelope.id != id);
    }

    /// Leases `message` until `until`.
    fn lease(&mut self, message: Message, until: DateTime<Utc>) {
        let id = message.envelope.id;
        self.leases.push(Reverse((until, id)));
        self.inflight.insert(id, Leased { message, until });
        if self.leases.len() > 2 * self.inflight.len() + 1024 {
            self.leases = self.inflight.iter().map(|(id, l)| Reverse((l.until, *id))).collect();
        }
    }

    fn next_event(&self) -> Option<DateTime<Utc>> {
        let delayed = self.delayed.first_key_value().map(|((at, _), _)| *at);
        let lease = self.leases.peek().map(|Reverse((at, _))| *at);
        delayed.into_iter().chain(lease).min()
    }

    fn pending(&self) -> usize {
        self.ready.iter().map(VecDeque::len).sum()
    }

    /// Takes the leased message of a live receipt.
    fn take_leased(&mut self, receipt: &Receipt, now: DateTime<Utc>) -> Option<Leased> {
        let live = self.inflight.get(&receipt.id).is_some_and(|l| l.message.token == receipt.token && l.until > now);
        if !live {
            return None;
        }
        self.inflight.remove(&receipt.id)
    }
}

/// Whether a replay or purge of dead letters dead at or after `since` (any
/// time when `None`) of the tasks `ids` (any when empty) takes `dead`.
fn selected(dead: &DeadLetter, since: Option<DateTime<Utc>>, ids: &[TaskId]) -> bool {
    since.is_none_or(|s| dead.dead_at >= s) && (ids.is_empty() || ids.contains(&dead.envelope.id))
}

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn publish(&self, envelope: Envelope) -> Result<()> {
        self.publish_batch(vec![envelope]).await
    }

    async fn publish_batch(&self, envelopes: Vec<Envelope>) -> Result<()> {
        let now = Utc::now();
        {
            let mut state = self.state();
            for envelope in envelopes {
                self.store(&mut state, envelope, now);
            }
        }
        self.wake.notify_waiters();
        Ok(())
    }

    async fn receive(&self, request: &ReceiveRequest) -> Result<Vec<Delivery>> {
        let deadline = tokio::time::Instant::now() + request.wait;
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_event = {
                let now = Utc::now();
                let mut state = self.state();
                let mut out = Vec::with_capacity(request.max.min(1024));
                let mut next: Option<DateTime<Utc>> = None;
                for name in &request.queues {
                    if let Some(queue) = state.queues.get_mut(name.as_str()) {
                        queue.tidy(now);
                    }
                }
                let until = after(now, request.lease);
                let State { queues, tokens, .. } = &mut *state;
                'bands: for band in (0..=usize::from(MAX_PRIORITY)).rev() {
                    for name in &request.queues {
                        let Some(queue) = queues.get_mut(name.as_str()) else { continue };
                        while out.len() < request.max {
                            let Some(mut message) = queue.ready[band].pop_front() else { break };
                            *tokens += 1;
                            message.token = *tokens;
                            let receipt = Receipt {
                                id: message.envelope.id,
                                queue: Arc::clone(&queue.name),
                                token: message.token,
                                tag: String::new(),
                            };
                            let envelope = Arc::clone(&message.envelope);
                            out.push(Delivery { envelope, receipt, lease_expires_at: until });
                            queue.lease(message, until);
                        }
                        if out.len() >= request.max {
                            break 'bands;
                        }
                    }
                }
                if !out.is_empty() || request.max == 0 {
                    return Ok(out);
                }
                for name in &request.queues {
                    if let Some(at) = state.queues.get(name.as_str()).and_then(Queue::next_event) {
                        next = Some(next.map_or(at, |n| n.min(at)));
                    }
                }
                next
            };
            let mut until = deadline;
            if let Some(at) = next_event {
                let in_ms = (at - Utc::now()).num_milliseconds().max(0) as u64 + 1;
                until = until.min(tokio::time::Instant::now() + Duration::from_millis(in_ms));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(Vec::new());
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn ack_batch(&self, receipts: &[Receipt]) -> Result<usize> {
        let now = Utc::now();
        // The acked messages are dropped after the lock is released, so that
        // a receiver waits for the lookups only, not for freeing envelopes.
        let mut acked = Vec::with_capacity(receipts.len());
        {
            let mut state = self.state();
            let queues = &mut state.queues;
            // Receipts of one queue usually come together: one lookup per run.
            let mut queue: Option<&mut Queue> = None;
            for receipt in receipts {
                if queue.as_ref().is_none_or(|q| !Arc::ptr_eq(&q.name, &receipt.queue) && *q.name != *receipt.queue) {
                    queue = queues.get_mut(&*receipt.queue);
                }
                if let Some(q) = queue.as_mut()
                    && let Some(leased) = q.take_leased(receipt, now)
                {
                    acked.push(leased);
                }
            }
        }
        Ok(acked.len())
    }

    async fn nack(&self, receipt: &Receipt, nack: Nack) -> Result<()> {
        let now = Utc::now();
        {
            let mut state = self.state();
            let leased = state
                .queues
                .get_mut(&*receipt.queue)
                .and_then(|q| q.take_leased(receipt, now))
                .ok_or(Error::LeaseLost(receipt.id))?;
            let token = leased.message.token;
            match nack {
                Nack::Requeue => {
                    let queue = state.queue(&receipt.queue);
                    let band = usize::from(leased.message.envelope.priority.min(MAX_PRIORITY));
                    queue.ready[band].push_front(leased.message);
                }
                Nack::Replace(envelope) => {
                    let envelope = Arc::new(*envelope);
                    self.enqueue(&mut state, Message { envelope, token }, now);
                }
            }
        }
        self.wake.notify_waiters();
        Ok(())
    }

    async fn extend_lease(&self, receipt: &Receipt, by: Duration) -> Result<DateTime<Utc>> {
        let now = Utc::now();
        let mut state = self.state();
        let queue = state.queues.get_mut(&*receipt.queue).ok_or(Error::LeaseLost(receipt.id))?;
        let leased = queue.take_leased(receipt, now).ok_or(Error::LeaseLost(receipt.id))?;
        let until = after(now, by);
        queue.lease(leased.message, until);
        Ok(until)
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        let now = Utc::now();
        let mut state = self.state();
        let queue = state.queues.get_mut(&*receipt.queue).ok_or(Error::LeaseLost(receipt.id))?;
        let leased = queue.take_leased(receipt, now).ok_or(Error::LeaseLost(receipt.id))?;
        let token = leased.message.token;
        let envelope = Arc::unwrap_or_clone(leased.message.envelope);
        let dead = DeadLetter { envelope, reason: reason.to_owned(), dead_at: now, fence: token };
        queue.dead.push((dead, token));
        Ok(())
    }

    fn dead_letters(&self) -> Option<&dyn DeadLetters> {
        Some(self)
    }

    fn stats(&self) -> Option<&dyn QueueStats> {
        Some(self)
    }

    fn broadcast(&self) -> Option<&dyn Broadcast> {
        Some(self)
    }
}

#[async_trait]
impl DeadLetters for MemoryBroker {
    async fn list_dead_letters(&self, queue: &str, limit: usize, offset: usize) -> Result<DeadLetterPage> {
        let mut state = self.state();
        let Some(queue) = state.queues.get_mut(queue) else { return Ok(DeadLetterPage::default()) };
        queue.expire_dead(self.dead_cutoff(Utc::now()));
        let entries: Vec<DeadLetter> =
            queue.dead.iter().rev().skip(offset).take(limit).map(|(d, _)| d.clone()).collect();
        let next_offset = (offset + entries.len() < queue.dead.len()).then_some(offset + entries.len());
        Ok(DeadLetterPage { entries, next_offset })
    }

    async fn get_dead_letter(&self, queue: &str, id: TaskId) -> Result<Option<DeadLetter>> {
        let mut state = self.state();
        let cutoff = self.dead_cutoff(Utc::now());
        state.queues.get_mut(queue).into_iter().for_each(|q| q.expire_dead(cutoff));
        Ok(state
            .queues
            .get(queue)
            .and_then(|q| q.dead.iter().rev().find(|(d, _)| d.envelope.id == id).map(|(d, _)| d.clone())))
    }

    async fn replay_dead_letters(&self, queue: &str, options: &ReplayOptions) -> Result<ReplayResult> {
        let now = Utc::now();
        let replayed = {
            let mut state = self.state();
            let Some(q) = state.queues.get_mut(queue) else {
                return Ok(ReplayResult { entries: Vec::new(), dry_run: options.dry_run });
            };
            q.expire_dead(self.dead_cutoff(now));
            let chosen: Vec<usize> = q
                .dead
                .iter()
                .enumerate()
                .filter(|(_, (d, _))| selected(d, options.since, &options.ids))
                .map(|(i, _)| i)
                .take(options.limit)
                .collect();
            if options.dry_run {
                return Ok(ReplayResult {
                    entries: chosen.iter().map(|&i| q.dead[i].0.clone()).collect(),
                    dry_run: true,
                });
            }
            let mut entries = Vec::with_capacity(chosen.len());
            for i in chosen.into_iter().rev() {
                entries.push(q.dead.remove(i));
            }
            entries.reverse();
            for (dead, _) in &entries {
                self.store(&mut state, dead.replay_envelope(now, options.delay), now);
            }
            entries.into_iter().map(|(dead, _)| dead).collect()
        };
        self.wake.notify_waiters();
        Ok(ReplayResult { entries: replayed, dry_run: false })
    }

    async fn purge_dead_letters(&self, queue: &str, options: &PurgeOptions) -> Result<usize> {
        let mut state = self.state();
        let Some(q) = state.queues.get_mut(queue) else { return Ok(0) };
        q.expire_dead(self.dead_cutoff(Utc::now()));
        let mut left = options.limit.unwrap_or(usize::MAX);
        let before = q.dead.len();
        q.dead.retain(|(d, _)| {
            let purge = left > 0 && selected(d, options.since, &options.ids);
            left -= usize::from(purge);
            !purge
        });
        Ok(before - q.dead.len())
    }
}

#[async_trait]
impl QueueStats for MemoryBroker {
    async fn pending_count(&self, queue: &str) -> Result<usize> {
        let mut state = self.state();
        Ok(state.queues.get_mut(queue).map_or(0, |q| {
            q.tidy(Utc::now());
            q.pending()
        }))
    }

    async fn inflight_count(&self, queue: &str) -> Result<usize> {
        let mut state = self.state();
        Ok(state.queues.get_mut(queue).map_or(0, |q| {
            q.tidy(Utc::now());
            q.inflight.len()
        }))
    }

    async fn purge(&self, queue: &str) -> Result<usize> {
        let mut state = self.state();
        Ok(state.queues.get_mut(queue).map_or(0, |q| {
            q.tidy(Utc::now()); // messages whose lease ended are ready again, so they go too
            let n = q.pending() + q.delayed.len();
            q.ready.iter_mut().for_each(VecDeque::clear);
            q.delayed.clear();
            n
        }))
    }

    async fn queues(&self) -> Result<Vec<QueueCounts>> {
        let now = Utc::now();
        let mut state = self.state();
        let mut all: Vec<QueueCounts> = state
            .queues
            .values_mut()
            .map(|q| {
                q.tidy(now);
                q.expire_dead(self.dead_cutoff(now));
                QueueCounts::new(&*q.name, q.pending(), q.delayed.len(), q.inflight.len(), q.dead.len())
            })
            .collect();
        all.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(all)
    }

    async fn delayed(&self, queue: &str, limit: usize) -> Result<Vec<Envelope>> {
        let now = Utc::now();
        let state = self.state();
        let Some(q) = state.queues.get(queue) else { return Ok(Vec::new()) };
        let later = q.delayed.iter().filter(|((at, _), _)| *at > now);
        Ok(later.take(limit).map(|(_, m)| Envelope::clone(&m.envelope)).collect())
    }
}

#[async_trait]
impl Broadcast for MemoryBroker {
    async fn broadcast(&self, channel: &str, payload: Vec<u8>) -> Result<()> {
        let channels = self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tx) = channels.get(channel) {
            let _no_subscribers = tx.send(payload);
        }
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<BoxStream<'static, Vec<u8>>> {
        let rx = {
            let mut channels = self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            channels.entry(channel.to_owned()).or_insert_with(|| broadcast::channel(1024).0).subscribe()
        };
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(msg) => return Some((msg, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(Box::pin(stream))
    }
}
