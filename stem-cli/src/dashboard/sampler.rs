//! The overview's charts: while the dashboard runs, a task samples the stores
//! every few seconds and keeps the last [`KEPT`] samples in memory: the
//! tasks processed per second by the live workers (from the `processed`
//! counters of their heartbeats) and the messages waiting in every queue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use stem::Stem;

/// How many samples are kept.
pub(crate) const KEPT: usize = 120;

/// One sample.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) at: DateTime<Utc>,
    /// Tasks processed per second since the sample before, by the workers
    /// alive at both (a worker that restarted counts from its new counter).
    pub(crate) per_second: f64,
    /// Ready, delayed and leased messages over every queue.
    pub(crate) backlog: usize,
}

/// The kept samples, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Samples {
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    samples: VecDeque<Sample>,
    /// Each live worker's `processed` counter at the last sample.
    counters: HashMap<String, u64>,
}

impl Samples {
    pub(crate) fn all(&self) -> Vec<Sample> {
        self.ring.lock().unwrap_or_else(std::sync::PoisonError::into_inner).samples.iter().cloned().collect()
    }

    /// Takes one sample; a store that fails leaves a gap.
    async fn sample(&self, stem: &Stem) {
        let Ok(beats) = stem.backend().list_heartbeats().await else { return };
        let backlog = match stem.queue_stats() {
            Ok(stats) => match stats.queues().await {
                Ok(queues) => queues.iter().map(|q| q.ready + q.delayed + q.leased).sum(),
                Err(_) => return,
            },
            Err(_) => 0,
        };
        let now = Utc::now();
        let mut ring = self.ring.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let counters: HashMap<String, u64> = beats.iter().map(|b| (b.worker_id.clone(), b.processed)).collect();
        let done: u64 = counters
            .iter()
            .filter_map(|(id, now)| ring.counters.get(id).map(|before| now.saturating_sub(*before)))
            .sum();
        let per_second = match ring.samples.back() {
            Some(last) => {
                let seconds = (now - last.at).num_milliseconds().max(1) as f64 / 1000.0;
                done as f64 / seconds
            }
            None => 0.0,
        };
        ring.counters = counters;
        if ring.samples.len() == KEPT {
            ring.samples.pop_front();
        }
        ring.samples.push_back(Sample { at: now, per_second, backlog });
    }
}

/// Samples `stem`'s stores into `samples` every `every` until the task is
/// aborted.
pub(crate) async fn run(stem: Stem, samples: Arc<Samples>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        samples.sample(&stem).await;
    }
}
