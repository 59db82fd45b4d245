//! [`WorkerBuilder`]: what a worker runs and how.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::Worker;
use super::extension::{self, Extension};
use super::hooks::{FnHook, Hooks};
use crate::envelope::DEFAULT_QUEUE;
use crate::error::{Error, Result};
use crate::stem::Stem;
use crate::task::{EnqueueOptions, Registry, Task};

/// Configures a [`Worker`]; made by [`Worker::builder`].
#[derive(Debug)]
pub struct WorkerBuilder {
    stem: Stem,
    registry: Option<Registry>,
    only: Option<Vec<String>>,
    queues: Vec<String>,
    concurrency: usize,
    /// The top of an autoscaling pool (`concurrency` when fixed).
    scale_to: usize,
    scale_down_after: Duration,
    prefetch: Option<usize>,
    lease: Duration,
    id: Option<String>,
    signals: bool,
    heartbeat: Duration,
    extensions: Vec<Box<dyn Extension>>,
    /// A setting that could not be taken, reported by `build`.
    broken: Option<Error>,
}

/// A built worker's settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) id: String,
    pub(crate) queues: Vec<String>,
    pub(crate) concurrency: usize,
    /// Autoscaling: the top of the pool, and the idle time before it shrinks.
    pub(crate) scale: Option<(usize, Duration)>,
    pub(crate) prefetch: usize,
    pub(crate) lease: Duration,
    pub(crate) signals: bool,
    pub(crate) heartbeat: Duration,
}

impl WorkerBuilder {
    pub(crate) fn new(stem: &Stem) -> Self {
        Self {
            stem: stem.clone(),
            registry: None,
            only: None,
            queues: Vec::new(),
            concurrency: std::thread::available_parallelism().map_or(4, |n| n.get()),
            scale_to: 0,
            scale_down_after: Duration::from_secs(10),
            prefetch: None,
            lease: Duration::from_secs(30),
            id: None,
            signals: true,
            heartbeat: Duration::from_secs(10),
            extensions: extension::linked(),
            broken: None,
        }
    }

    /// Consumes `queue` (may be called again for more; an alias of the Stem's
    /// routing stands for its queue). Without any, the worker consumes every
    /// queue its tasks default to, and those the routing sends them to.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queues.push(queue.into());
        self
    }

    /// Consumes these queues.
    pub fn queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.queues.extend(queues.into_iter().map(Into::into));
        self
    }

    /// Runs at most `n` tasks at once (default: the number of CPUs); or,
    /// given a range (`2..=16`), autoscales between its ends: grows towards
    /// the top while deliveries wait for a slot, shrinks towards the bottom
    /// after [`scale_down_after`](Self::scale_down_after) without any (see
    /// `autoscale.rs`).
    pub fn concurrency(mut self, n: impl Into<Concurrency>) -> Self {
        let Concurrency(range) = n.into();
        self.concurrency = *range.start();
        self.scale_to = *range.end();
        self
    }

    /// How long an autoscaling worker waits with nothing to wait for a slot
    /// before it shrinks its pool by one (default 10 s).
    pub fn scale_down_after(mut self, idle: Duration) -> Self {
        self.scale_down_after = idle;
        self
    }

    /// Holds at most `n` deliveries at once, running or waiting to run
    /// (default: twice the concurrency).
    pub fn prefetch(mut self, n: usize) -> Self {
        self.prefetch = Some(n);
        self
    }

    /// The lease each delivery gets, renewed while the task runs (default 30 s;
    /// a task's `visibility_timeout` overrides it).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The worker's id (default `<host>-<pid>-<random>`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Whether [`Worker::run`] turns SIGTERM and SIGINT into shutdowns (default true).
    pub fn handle_signals(mut self, on: bool) -> Self {
        self.signals = on;
        self
    }

    /// How often the worker stores a heartbeat (default 10 s).
    pub fn heartbeat_interval(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Runs `T`. Once any task is added this way, the worker runs only the
    /// tasks added so; otherwise it runs every task linked into the binary.
    #[track_caller]
    pub fn task<T: Task>(mut self) -> Self {
        self.registry = Some(self.registry.take().unwrap_or_default().register::<T>());
        self
    }

    /// Adds `extension` to the worker, in place of one of the same type (a
    /// worker has every extension its binary links in to begin with).
    pub fn extension<E: Extension>(mut self, extension: E) -> Self {
        match self.extensions.iter_mut().find(|e| is::<E>(e.as_ref())) {
            Some(existing) => *existing = Box::new(extension),
            None => self.extensions.push(Box::new(extension)),
        }
        self
    }

    /// Changes the worker's extension of type `E` with `change` (adding
    /// `E::default()` first if the worker has none): how an extension's own
    /// builder methods keep their settings.
    pub fn configure<E: Extension + Default>(mut self, change: impl FnOnce(&mut E)) -> Self {
        if !self.extensions.iter().any(|e| is::<E>(e.as_ref())) {
            self.extensions.push(Box::new(E::default()));
        }
        let found = self.extensions.iter_mut().find_map(|e| (e.as_mut() as &mut dyn Any).downcast_mut::<E>());
        if let Some(extension) = found {
            change(extension);
        }
        self
    }

    /// Adds a hook: it hears the worker's events (see [`Hook`](super::Hook)
    /// and [`WorkerEvent`](super::WorkerEvent) for which, in what order and
    /// what a failing hook does).
    pub fn hook(self, hook: impl super::Hook) -> Self {
        self.configure(|hooks: &mut Hooks| hooks.add(Arc::new(hook)))
    }

    /// Adds a closure as a hook: `f(event)` for every event (see [`hook`](Self::hook)).
    ///
    /// ```
    /// use stem::worker::WorkerEvent;
    ///
    /// # fn main() -> stem::Result<()> {
    /// let stem = stem::Stem::in_memory();
    /// let worker = stem::Worker::builder(&stem)
    ///     .on_event(|event: WorkerEvent| async move {
    ///         if let WorkerEvent::Failed { envelope, .. } = event {
    ///             eprintln!("{} failed", envelope.id);
    ///         }
    ///     })
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn on_event<F, Fut>(self, f: F) -> Self
    where
        F: Fn(super::WorkerEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.hook(FnHook(f))
    }

    /// Counts the worker's events on `meter` (an OpenTelemetry meter of the
    /// application's own pipeline; feature `metrics`): task counters and
    /// durations, as listed in docs/observability.md.
    #[cfg(feature = "metrics")]
    pub fn metrics(self, meter: &opentelemetry::metrics::Meter) -> Self {
        let counting = Arc::new(super::metrics::Counting::new(meter));
        self.configure(|hooks: &mut Hooks| hooks.observe(counting))
    }

    /// Serves the worker's metrics as Prometheus text on `GET
    /// http://{addr}/metrics` (feature `metrics`): its counters and task
    /// durations, and, read from the store at each scrape, every queue's
    /// depth and the live workers. The address is bound when the worker is
    /// built; a taken one fails the build, naming it.
    #[cfg(feature = "metrics")]
    pub fn metrics_addr(mut self, addr: std::net::SocketAddr) -> Self {
        let mut meter = None;
        let mut failed = None;
        self = self.configure(|endpoint: &mut super::metrics::Endpoint| match endpoint.serve(addr) {
            Ok(m) => meter = Some(m),
            Err(e) => failed = Some(e),
        });
        if let Some(error) = failed {
            self.broken.get_or_insert(error);
        }
        match meter {
            Some(meter) => self.metrics(&meter),
            None => self,
        }
    }

    /// Runs the tasks of this registry instead of the linked ones.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Runs only the tasks with these names.
    pub fn only<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.only = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Checks the configuration and the task names.
    ///
    /// Fails when two tasks share a name (naming both source locations), when a
    /// name given to [`only`](Self::only) is not a task, or on zero concurrency.
    pub fn build(mut self) -> Result<Worker> {
        if let Some(error) = self.broken.take() {
            return Err(error);
        }
        let explicit = self.registry.is_some();
        let mut registry = self.registry.take().unwrap_or_else(Registry::linked);
        for extension in &self.extensions {
            for task in extension.tasks(explicit).iter() {
                registry.insert(*task);
            }
        }
        registry.check()?;
        for extension in &self.extensions {
            extension.check()?;
        }
        if let Some(only) = &self.only {
            if let Some(missing) = only.iter().find(|n| registry.get(n).is_none()) {
                let known: Vec<&str> = registry.iter().map(|r| r.name()).collect();
                return Err(Error::Config(format!("`only` names `{missing}`, which is not a task; tasks: {known:?}")));
            }
            let names: Vec<&str> = only.iter().map(String::as_str).collect();
            registry.retain(&names);
        }
        if self.concurrency == 0 {
            return Err(Error::Config("worker concurrency must be at least 1".to_owned()));
        }
        if self.scale_to != 0 && self.scale_to < self.concurrency {
            return Err(Error::Config(format!(
                "worker concurrency {}..={}: the top of the range must not be below its bottom",
                self.concurrency, self.scale_to
            )));
        }
        // With routing, a queue given may be an alias, and the tasks' routed
        // queues are consumed besides their own (see `crate::routing`).
        let routing = self.stem.routing();
        let resolve = |q: String| match routing {
            Some(routing) => routing.resolve(&q).to_owned(),
            None => q,
        };
        let mut queues: BTreeSet<String> = self.queues.into_iter().map(resolve).collect();
        if queues.is_empty() {
            queues.extend(registry.iter().map(|r| r.options().queue.to_owned()));
            if let Some(routing) = routing {
                let routed = registry.iter().flat_map(|r| {
                    routing.destination(r.name(), r.options(), &EnqueueOptions::default()).targets.into_iter()
                });
                queues.extend(routed.map(|(queue, _)| queue));
            }
            queues.extend(self.extensions.iter().flat_map(|e| e.queues(&registry, explicit)));
        }
        if queues.is_empty() {
            queues.insert(DEFAULT_QUEUE.to_owned());
        }
        queues.iter().try_for_each(|q| crate::queue::check(q))?;
        let config = Config {
            id: self.id.unwrap_or_else(default_id),
            queues: queues.into_iter().collect(),
            concurrency: self.concurrency,
            scale: (self.scale_to > self.concurrency).then_some((self.scale_to, self.scale_down_after)),
            prefetch: self.prefetch.unwrap_or(self.scale_to.max(self.concurrency) * 2).max(1),
            lease: self.lease.max(Duration::from_millis(10)),
            signals: self.signals,
            heartbeat: self.heartbeat,
        };
        let extensions = self.extensions.into_iter().map(Arc::from).collect();
        Ok(Worker::new(self.stem, registry, config, extensions))
    }
}

/// Whether `extension` is an `E`.
fn is<E: Extension>(extension: &dyn Extension) -> bool {
    (extension as &dyn Any).is::<E>()
}

fn default_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
    format!("{host}-{}-{:04x}", std::process::id(), fastrand::u16(..))
}

/// A worker's pool size: a number, or a range to autoscale in (see
/// [`WorkerBuilder::concurrency`]).
#[derive(Debug, Clone)]
pub struct Concurrency(std::ops::RangeInclusive<usize>);

impl From<usize> for Concurrency {
    fn from(n: usize) -> Self {
        Self(n..=n)
    }
}

impl From<std::ops::RangeInclusive<usize>> for Concurrency {
    fn from(range: std::ops::RangeInclusive<usize>) -> Self {
        Self(range)
    }
}
