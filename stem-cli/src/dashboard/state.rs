//! [`App`]: what every request handler shares: the Stem, the settings, the
//! sessions, the samples behind the charts, the linked catalog.

use std::sync::Arc;

use stem::Stem;

use super::config::Config;
use super::sampler::Samples;
use super::sessions::Sessions;
use crate::catalog::Catalog;

/// The state of one running dashboard.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) stem: Stem,
    pub(crate) config: Config,
    pub(crate) sessions: Sessions,
    pub(crate) samples: Arc<Samples>,
    pub(crate) catalog: Catalog,
}

/// The state as handlers receive it.
pub(crate) type Shared = Arc<App>;
