//! Worker metrics (feature `metrics`): a [`Hook`] that counts the worker's
//! events through the OpenTelemetry metrics API, and an extension that serves
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
//! | `stem.task.duration` (`stem_task_duration_seconds`) | histogram, s | task, queue, worker |
//! | `stem.queue.depth` (`stem_queue_depth`) | gauge | queue (every queue of the store), state (ready, leased, delayed, dead) |
//! | `stem.workers.alive` (`stem_workers_alive`) | gauge | (from the heartbeats) |
//!
//! The gauges are read from the store at each scrape of the worker that
//! serves them; the counters are the worker's own (sum them over workers).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;

use super::extension::{Extension, Service, WorkerInfo};
use super::hooks::{Hook, HookError, WorkerEvent};
use crate::envelope::Envelope;
use crate::error::{Error, Result};

/// Counts a worker's events on a meter (see the [module docs](self)).
#[derive(Debug)]
pub(super) struct Counting {
    worker: OnceLock<String>,
    received: Counter<u64>,
    started: Counter<u64>,
    succeeded: Counter<u64>,
    failed: Counter<u64>,
    retried: Counter<u64>,
    dead_lettered: Counter<u64>,
    duration: Histogram<f64>,
}

impl Counting {
    /// The instruments, on `meter`.
    pub(super) fn new(meter: &Meter) -> Self {
        let counter = |name: &'static str, what: &'static str| meter.u64_counter(name).with_description(what).build();
        Self {
            worker: OnceLock::new(),
            received: counter("stem.tasks.received", "Deliveries received"),
            started: counter("stem.tasks.started", "Task executions started"),
            succeeded: counter("stem.tasks.succeeded", "Tasks that succeeded"),
            failed: counter("stem.tasks.failed", "Tasks that failed for good"),
            retried: counter("stem.tasks.retried", "Failed attempts retried"),
            dead_lettered: counter("stem.tasks.dead_lettered", "Deliveries moved to the dead letter queue"),
            duration: meter
                .f64_histogram("stem.task.duration")
                .with_unit("s")
                .with_description("How long task bodies ran")
                .build(),
        }
    }

    fn attributes(&self, envelope: &Envelope) -> [KeyValue; 3] {
        let worker = self.worker.get().map_or_else(String::new, Clone::clone);
        [
            KeyValue::new("task", envelope.task.clone()),
            KeyValue::new("queue", envelope.queue.clone()),
            KeyValue::new("worker", worker),
        ]
    }
}

#[async_trait]
impl Hook for Counting {
    async fn on(&self, event: &WorkerEvent) -> std::result::Result<(), HookError> {
        if let WorkerEvent::Ready { worker, .. } = event {
            let _ = self.worker.set(worker.clone());
        }
        let Some(envelope) = event.envelope() else { return Ok(()) };
        let attributes = self.attributes(envelope);
        match event {
            WorkerEvent::Received { .. } => self.received.add(1, &attributes),
            WorkerEvent::Started { .. } => self.started.add(1, &attributes),
            WorkerEvent::Returned { elapsed, .. } => self.duration.record(elapsed.as_secs_f64(), &attributes),
            WorkerEvent::Succeeded { .. } => self.succeeded.add(1, &attributes),
            WorkerEvent::Failed { .. } => self.failed.add(1, &attributes),
            WorkerEvent::Retried { .. } => self.retried.add(1, &attributes),
            WorkerEvent::DeadLettered { .. } => self.dead_lettered.add(1, &attributes),
            _ => {}
        }
        Ok(())
    }
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
        self.addr = Some(addr);
        self.served = Some(Served { registry, provider, gauges });
        Ok(meter)
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
    let mut gauges = gauges.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    gauges.depth = depth;
    gauges.alive = alive;
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
