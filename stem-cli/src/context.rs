//! What every command works with: the output form, the linked catalog, and
//! the Stem, connected on first use.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use stem::Stem;
use stem::routing::Routing;
use stem::worker::WorkerBuilder;
use stem_adapters::redact_url;
use tokio::sync::OnceCell;

use crate::catalog::Catalog;
use crate::error::{Failure, Outcome};
use crate::output::Output;

/// How the application configures the workers the CLI runs.
pub(crate) type ConfigureWorker = Box<dyn FnOnce(WorkerBuilder) -> WorkerBuilder + Send>;

/// The shared state of one command's run.
pub(crate) struct Context {
    pub(crate) out: Output,
    pub(crate) catalog: Catalog,
    /// The Stem, given by the application or connected on first use.
    stem: OnceCell<Stem>,
    /// Whether the application gave it.
    given: bool,
    /// The URLs to connect to when the application gave no Stem.
    urls: (String, String),
    worker: Mutex<Option<ConfigureWorker>>,
    /// The routing file (`--routing`, `STEM_ROUTING_CONFIG`), loaded.
    routing: Option<(PathBuf, Routing)>,
}

impl Context {
    pub(crate) fn new(
        out: Output,
        catalog: Catalog,
        stem: Option<Stem>,
        urls: (String, String),
        worker: Option<ConfigureWorker>,
    ) -> Self {
        let given = stem.is_some();
        Self { out, catalog, stem: OnceCell::new_with(stem), given, urls, worker: Mutex::new(worker), routing: None }
    }

    /// The same context with the routing of the file at `path`: the Stem
    /// (the application's too) publishes by it, and its workers resolve its
    /// aliases.
    pub(crate) fn with_routing(mut self, path: PathBuf, routing: Routing) -> Self {
        if let Some(stem) = self.stem.get() {
            self.stem = OnceCell::new_with(Some(stem.with_routing(routing.clone())));
        }
        self.routing = Some((path, routing));
        self
    }

    /// The routing new calls follow, and the file it was read from: the
    /// routing file's, else the application's Stem's (no file then), if any.
    pub(crate) fn routing(&self) -> Option<(Option<&Path>, &Routing)> {
        match &self.routing {
            Some((path, routing)) => Some((Some(path), routing)),
            None if self.given => self.stem.get().and_then(Stem::routing).map(|routing| (None, routing)),
            None => None,
        }
    }

    /// The Stem: the application's, or one connected to the broker and
    /// backend URLs.
    pub(crate) async fn stem(&self) -> Outcome<Stem> {
        let (broker, backend) = &self.urls;
        self.stem
            .get_or_try_init(|| async {
                let stem = stem_adapters::connect_urls(broker, backend).await.map_err(|e| {
                    let failure = Failure::from(e).scrubbed(broker).scrubbed(backend);
                    failure.context(format!("connecting to {}", redact_url(broker)))
                })?;
                let stem = match &self.routing {
                    Some((_, routing)) => stem.with_routing(routing.clone()),
                    None => stem,
                };
                // Signing from the STEM_SIGNING_* variables, when they are set.
                match stem::signing::Signing::from_env().map_err(Failure::from)? {
                    Some(signing) => Ok(stem.with_signing(signing)),
                    None => Ok(stem),
                }
            })
            .await
            .cloned()
    }

    /// Whether the application gave the Stem (rather than URLs).
    pub(crate) fn has_stem(&self) -> bool {
        self.given
    }

    /// The broker's and the backend's URLs.
    pub(crate) fn urls(&self) -> &(String, String) {
        &self.urls
    }

    /// Applies the application's worker configuration, once.
    pub(crate) fn configure_worker(&self, builder: WorkerBuilder) -> WorkerBuilder {
        let configure = self.worker.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        match configure {
            Some(configure) => configure(builder),
            None => builder,
        }
    }
}
