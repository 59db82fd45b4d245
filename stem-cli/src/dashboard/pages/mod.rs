//! The pages, one file per group; each gives its routes.

pub(crate) mod dead_letters;
mod overview;
mod schedules;
mod tasks;
mod workers;
mod workflows;

use axum::Router;

use super::state::Shared;

/// Every page and action route (all behind the guard).
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .merge(overview::routes())
        .merge(tasks::routes())
        .merge(dead_letters::routes())
        .merge(workers::routes())
        .merge(workflows::routes())
        .merge(schedules::routes())
}
