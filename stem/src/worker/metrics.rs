//! Worker metrics (feature `metrics`): an observer of the worker's events
//! (the stream hooks hear, counted inline) through the OpenTelemetry metrics API, and an extension that serves
//! them, with the worker's queue depths and the live workers, as Prometheus
//! text.
//!
//! Instruments (OpenTelemetry names; Prometheus names in brackets):
//!
//! | instrument | kind | attributes |
//! |---|---|---|
//! | `stem.tasks.received` (`stem_tasks_received_total`) | counter | task, queue, worker |
//! | `stem.tasks.started` (`stem_tasks_started_total`) | counter | task, queue, worker |
//! | `stem.tasks.succeeded` (`stem_tasks_succeeded_total`) | counter | task, queue, worker |
//! | `stem.tasks.failed` (`stem_tasks_failed_total`) | counter | task, queue, worker |
//! | `stem.tasks.retried` (`stem_tasks_retried_total`) | counter | task, queue, worker |
//! | `stem.tasks.dead_lettered` (`stem_tasks_dead_lettered_total`) | counter | task, queue, worker |
//! | `stem.lease.renewed` (`stem_lease_renewed_total`) | counter | task, queue, worker |
//! | `stem.task.duration` (`stem_task_duration_seconds`) | histogram, s | task, queue, worker |
//! | `stem.workflow.steps` (`stem_workflow_steps_total`) | counter | workflow, outcome (ok, failed) |
//! | `stem.workflow.runs` (`stem_workflow_runs_total`) | counter | workflow, status (completed, failed, cancelled) |
//! | `stem.queue.depth` (`stem_queue_depth`) | gauge | queue (every queue of the store), state (ready, leased, delayed, dead) |
//! | `stem.workers.alive` (`stem_workers_alive`) | gauge | (from the heartbeats) |
//! | `stem.beat.runs`, `stem.beat.skipped` (`stem_beat_runs_total`, `stem_beat_skipped_total`) | counter | schedule |
//! | `stem.beat.drift` (`stem_beat_drift_seconds`), `stem.beat.next_fire` (`stem_beat_next_fire_seconds`), `stem.beat.failing` | gauge | schedule (from the schedule store) |
//!
//! The gauges are read from the store at each scrape of the worker that
//! serves them; the counters are the worker's own (sum them over workers).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;

use super::extension::{Extension, Service, WorkerInfo};
use super::hooks::{Observer, WorkerEvent};
use crate::envelope::Envelope;
use crate::error::{Error, Result};

/// The counters, in the order of [`COUNTERS`].
const RECEIVED: usize = 0;
const STARTED: usize = 1;
const SUCCEEDED: usize = 2;
const FAILED: usize = 3;
const RETRIED: usize = 4;
const DEAD_LETTERED: usize = 5;
const LEASE_RENEWED: usize = 6;

/// The counters' names and descriptions.
const COUNTERS: [(&str, &str); 7] = [
    ("stem.tasks.received", "Deliveries received"),
    ("stem.tasks.started", "Task executions started"),
    ("stem.tasks.succeeded", "Tasks that succeeded"),
    ("stem.tasks.failed", "Tasks that failed for good"),
    ("stem.tasks.retried", "Failed attempts retried"),
    ("stem.tasks.dead_lettered", "Deliveries moved to the dead letter queue"),
    ("stem.lease.renewed", "Leases of running tasks renewed"),
];

/// One task's counts on one queue, with their attributes.
#[derive(Debug)]
struct Tally {
    /// The [`Counting`] this one belongs to.
    owner: u64,
    task: String,
    queue: String,
    attributes: [KeyValue; 3],
    counts: [AtomicU64; 7],
}

impl Tally {
    /// Whether this is the tally of `envelope` among the tallies at `owner`.
    fn is_of(&self, owner: u64, envelope: &Envelope) -> bool {
        self.owner == owner && self.task == envelope.task && self.queue == envelope.queue
    }
}

thread_local! {
    /// The tally this thread counted last. A worker's events come in runs
    /// of the same task and queue; from here the count is one atomic add,
    /// with no lock, hash or reference count shared between threads.
    static LAST: std::cell::RefCell<Option<Arc<Tally>>> = const { std::cell::RefCell::new(None) };
}

/// Every tally, per task and queue.
type Tallies = HashMap<String, HashMap<String, Arc<Tally>>>;

/// Workflow counts by workflow and outcome (a step's `ok` / `failed`, a
/// run's `completed` / `failed` / `cancelled`).
type Outcomes = HashMap<(String, &'static str), Arc<AtomicU64>>;

/// Counts a worker's events (see the module docs): each count is an atomic
/// add on the task and queue's tally, read by the meter's observable
/// counters when it collects; task durations go to a histogram.
#[derive(Debug)]
pub(super) struct Counting {
    /// Tells this one's tallies from another worker's in [`LAST`].
    id: u64,
    worker: OnceLock<String>,
    tallies: Arc<RwLock<Tallies>>,
    steps: Arc<RwLock<Outcomes>>,
    runs: Arc<RwLock<Outcomes>>,
    duration: Histogram<f64>,
}

impl Counting {
    /// The instruments, on `meter`.
    pub(super) fn new(meter: &Meter) -> Self {
        let tallies: Arc<RwLock<Tallies>> = Arc::default();
        for (index, (name, what)) in COUNTERS.into_iter().enumerate() {
            let tallies = Arc::clone(&tallies);
            meter
                .u64_observable_counter(name)
                .with_description(what)
                .with_callback(move |observer| {
                    let tallies = tallies.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                    for tally in tallies.values().flat_map(HashMap::values) {
                        observer.observe(tally.counts[index].load(Ordering::Relaxed), &tally.attributes);
                    }
                })
                .build();
        }
        let (steps, runs): (Arc<RwLock<Outcomes>>, Arc<RwLock<Outcomes>>) = Default::default();
        for (name, what, key, counts) in [
            ("stem.workflow.steps", "Live workflow steps ended", "outcome", Arc::clone(&steps)),
            ("stem.workflow.runs", "Workflow runs ended", "status", Arc::clone(&runs)),
        ] {
            meter
                .u64_observable_counter(name)
                .with_description(what)
                .with_callback(move |observer| {
                    let counts = counts.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                    for ((workflow, outcome), n) in counts.iter() {
                        let attributes = [KeyValue::new("workflow", workflow.clone()), KeyValue::new(key, *outcome)];
                        observer.observe(n.load(Ordering::Relaxed), &attributes);
                    }
                })
                .build();
        }
        static IDS: AtomicU64 = AtomicU64::new(0);
        Self {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            worker: OnceLock::new(),
            tallies,
            steps,
            runs,
            duration: meter
                .f64_histogram("stem.task.duration")
                .with_unit("s")
                .with_description("How long task bodies ran")
                .build(),
        }
    }

    /// Calls `f` with the tally of `envelope`'s task and queue, made on
    /// first use.
    fn with_tally<R>(&self, envelope: &Envelope, f: impl FnOnce(&Tally) -> R) -> R {
        let owner = self.id;
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            match last.as_ref() {
                Some(tally) if tally.is_of(owner, envelope) => f(tally),
                _ => f(last.insert(self.tally(owner, envelope))),
            }
        })
    }

    /// The tally of `envelope`'s task and queue from the map, made on first use.
    fn tally(&self, owner: u64, envelope: &Envelope) -> Arc<Tally> {
        let known = self.tallies.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = known.get(envelope.task.as_str()).and_then(|queues| queues.get(envelope.queue.as_str())) {
            return Arc::clone(found);
        }
        drop(known);
        let worker = self.worker.get().map_or_else(String::new, Clone::clone);
        let made = Arc::new(Tally {
            owner,
            task: envelope.task.clone(),
            queue: envelope.queue.clone(),
            attributes: [
                KeyValue::new("task", envelope.task.clone()),
                KeyValue::new("queue", envelope.queue.clone()),
                KeyValue::new("worker", worker),
            ],
            counts: Default::default(),
        });
        let mut known = self.tallies.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let queues = known.entry(envelope.task.clone()).or_default();
        Arc::clone(queues.entry(envelope.queue.clone()).or_insert(made))
    }
}

/// Counted inline, as the worker emits each event: never dropped, and
/// cheap (an atomic add; a histogram record per execution).
impl Observer for Counting {
    fn observe(&self, event: &WorkerEvent) {
        if let WorkerEvent::Ready { worker, .. } = event {
            let _ = self.worker.set(worker.clone());
        }
        match event {
            WorkerEvent::StepEnded { workflow, failed, .. } => {
                return add(&self.steps, workflow, if *failed { "failed" } else { "ok" });
            }
            WorkerEvent::RunEnded { workflow, status, .. } => return add(&self.runs, workflow, status.as_str()),
            _ => {}
        }
        let Some(envelope) = event.envelope() else { return };
        let counter = match event {
            WorkerEvent::Received { .. } => RECEIVED,
            WorkerEvent::Started { .. } => STARTED,
            WorkerEvent::Returned { elapsed, .. } => {
                self.with_tally(envelope, |tally| self.duration.record(elapsed.as_secs_f64(), &tally.attributes));
                return;
            }
            WorkerEvent::Succeeded { .. } => SUCCEEDED,
            WorkerEvent::Failed { .. } => FAILED,
            WorkerEvent::Retried { .. } => RETRIED,
            WorkerEvent::DeadLettered { .. } => DEAD_LETTERED,
            WorkerEvent::LeaseRenewed { .. } => LEASE_RENEWED,
            _ => return,
        };
        self.with_tally(envelope, |tally| tally.counts[counter].fetch_add(1, Ordering::Relaxed));
    }
}

/// Adds one to `counts` of `workflow` and `outcome`.
fn add(counts: &RwLock<Outcomes>, workflow: &str, outcome: &'static str) {
    let key = (workflow.to_owned(), outcome);
    if let Some(n) = counts.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
        n.fetch_add(1, Ordering::Relaxed);
        return;
    }
    counts
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key)
        .or_default()
        .fetch_add(1, Ordering::Relaxed);
}

/// The Prometheus endpoint: its address (bound when the worker is built, so
/// that a taken port fails the build), its registry, and the gauges'
/// readings of the current scrape.
#[derive(Debug, Default)]
pub(super) struct Endpoint {
    addr: Option<SocketAddr>,
    listener: Mutex<Option<std::net::TcpListener>>,
    served: Option<Served>,
}

/// What the endpoint serves.
#[derive(Debug, Clone)]
struct Served {
    registry: prometheus::Registry,
    provider: SdkMeterProvider,
    gauges: Arc<Mutex<Gauges>>,
}

/// The gauges' last readings.
#[derive(Debug, Default)]
struct Gauges {
    depth: BTreeMap<(String, &'static str), u64>,
    alive: u64,
    schedules: Vec<ScheduleReading>,
}

/// One Beat schedule as the store last said.
#[derive(Debug)]
struct ScheduleReading {
    id: String,
    runs: u64,
    skipped: u64,
    drift: Option<f64>,
    next_fire: Option<f64>,
    failing: bool,
}

impl Endpoint {
    /// Serves on `addr`; returns the meter the worker's counters go to.
    pub(super) fn serve(&mut self, addr: SocketAddr) -> Result<Meter> {
        let registry = prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .scope_info_enabled(false)
            .without_target_info()
            .build()
            .map_err(|e| Error::Config(format!("the Prometheus exporter could not be set up: {e}")))?;
        let provider = SdkMeterProvider::builder().with_reader(exporter).build();
        let meter = provider.meter("stem");
        let gauges = Arc::new(Mutex::new(Gauges::default()));
        let reading = Arc::clone(&gauges);
        meter
            .u64_observable_gauge("stem.queue.depth")
            .with_description("Messages per queue and state")
            .with_callback(move |observer| {
                let gauges = reading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                for ((queue, state), n) in &gauges.depth {
                    observer.observe(*n, &[KeyValue::new("queue", queue.clone()), KeyValue::new("state", *state)]);
                }
            })
            .build();
        let reading = Arc::clone(&gauges);
        meter
            .u64_observable_gauge("stem.workers.alive")
            .with_description("Workers with a live heartbeat")
            .with_callback(move |observer| {
                observer.observe(reading.lock().unwrap_or_else(std::sync::PoisonError::into_inner).alive, &[]);
            })
            .build();
        schedule_instruments(&meter, &gauges);
        self.addr = Some(addr);
        self.served = Some(Served { registry, provider, gauges });
        Ok(meter)
    }
}

/// The Beat schedules' readings, per schedule: fires enqueued and skipped
/// (counters), the last drift and the next fire (gauges, seconds), and
/// whether its last fire failed.
fn schedule_instruments(meter: &Meter, gauges: &Arc<Mutex<Gauges>>) {
    type Read = fn(&ScheduleReading) -> Option<f64>;
    type Count = fn(&ScheduleReading) -> u64;
    let counters: [(&'static str, &'static str, Count); 2] = [
        ("stem.beat.runs", "Fires a schedule enqueued", |r| r.runs),
        ("stem.beat.skipped", "Missed fires a schedule skipped", |r| r.skipped),
    ];
    for (name, what, read) in counters {
        let reading = Arc::clone(gauges);
        meter
            .u64_observable_counter(name)
            .with_description(what)
            .with_callback(move |observer| {
                for r in &reading.lock().unwrap_or_else(std::sync::PoisonError::into_inner).schedules {
                    observer.observe(read(r), &[KeyValue::new("schedule", r.id.clone())]);
                }
            })
            .build();
    }
    let values: [(&'static str, Option<&'static str>, &'static str, Read); 3] = [
        ("stem.beat.drift", Some("s"), "How late the last fire was enqueued", |r| r.drift),
        ("stem.beat.next_fire", Some("s"), "When the next fire is due (Unix time)", |r| r.next_fire),
        ("stem.beat.failing", None, "1 if the last fire could not be enqueued", |r| {
            Some(f64::from(u8::from(r.failing)))
        }),
    ];
    for (name, unit, what, read) in values {
        let reading = Arc::clone(gauges);
        let gauge = meter.f64_observable_gauge(name);
        let gauge = match unit {
            Some(unit) => gauge.with_unit(unit),
            None => gauge,
        };
        gauge
            .with_description(what)
            .with_callback(move |observer| {
                for r in &reading.lock().unwrap_or_else(std::sync::PoisonError::into_inner).schedules {
                    if let Some(value) = read(r) {
                        observer.observe(value, &[KeyValue::new("schedule", r.id.clone())]);
                    }
                }
            })
            .build();
    }
}

impl Extension for Endpoint {
    /// Binds the address: a taken one fails the worker's build, naming it.
    fn check(&self) -> Result<()> {
        let Some(addr) = self.addr else { return Ok(()) };
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| Error::Config(format!("the metrics address {addr} cannot be listened on: {e}")))?;
        *self.listener.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(listener);
        Ok(())
    }

    /// The HTTP server (`GET /metrics`).
    fn services(&self, worker: &WorkerInfo<'_>) -> Vec<Service> {
        let (Some(served), Some(listener)) =
            (self.served.clone(), self.listener.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take())
        else {
            return Vec::new();
        };
        vec![Box::pin(serve(listener, worker.stem.clone(), served))]
    }
}

/// Reads the queue depths and the live workers from the store.
async fn read_gauges(stem: &crate::Stem, gauges: &Mutex<Gauges>) {
    let mut depth = BTreeMap::new();
    if let Ok(stats) = stem.queue_stats()
        && let Ok(queues) = stats.queues().await
    {
        for counts in queues {
            let states = [("ready", counts.ready), ("leased", counts.leased), ("delayed", counts.delayed)];
            for (state, n) in states.into_iter().chain([("dead", counts.dead)]) {
                depth.insert((counts.queue.clone(), state), u64::try_from(n).unwrap_or(u64::MAX));
            }
        }
    }
    let alive = stem.backend().list_heartbeats().await.map_or(0, |beats| beats.len() as u64);
    let schedules = stem.stores().schedules().list().await.unwrap_or_default();
    let schedules = schedules
        .into_iter()
        .map(|e| ScheduleReading {
            runs: e.runs,
            skipped: e.skipped,
            drift: e.last_drift_ms.map(|ms| ms as f64 / 1000.0),
            next_fire: e.next_fire.map(|t| t.timestamp_micros() as f64 / 1e6),
            failing: e.last_error.is_some(),
            id: e.id,
        })
        .collect();
    let mut gauges = gauges.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    gauges.depth = depth;
    gauges.alive = alive;
    gauges.schedules = schedules;
}

/// Serves `GET /metrics` on `listener` until dropped.
async fn serve(listener: std::net::TcpListener, stem: crate::Stem, served: Served) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        tracing::error!("the metrics listener could not join the runtime; no metrics are served");
        return;
    };
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (stem, served) = (stem.clone(), served.clone());
            async move {
                read_gauges(&stem, &served.gauges).await;
                render(&served)
            }
        }),
    );
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(%error, "the metrics endpoint stopped");
    }
}

/// The registry's metrics as Prometheus text.
fn render(served: &Served) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let _ = served.provider.force_flush();
    let mut text = String::new();
    if let Err(error) = prometheus::TextEncoder::new().encode_utf8(&served.registry.gather(), &mut text) {
        tracing::warn!(%error, "encoding the metrics failed");
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
