//! Schedules: every Beat schedule with its next and last fire, drift, runs,
//! skipped fires and last error; an operator enables and disables them (as
//! `schedule enable|disable` does: enabling computes the next fire from now).

use std::collections::HashMap;

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::html;

use crate::dashboard::auth::{Principal, Role, authorize};
use crate::dashboard::layout::{csrf, enc, maybe_when, operators_only, page};
use crate::dashboard::problem::Problem;
use crate::dashboard::state::Shared;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/schedules", get(list))
        .route("/schedules/{id}/enable", post(enable))
        .route("/schedules/{id}/disable", post(disable))
}

async fn list(State(app): State<Shared>, Extension(principal): Extension<Principal>) -> Result<Response, Problem> {
    let entries = app.stem.schedules().list().await?;
    let operator = principal.role == Role::Operator;
    Ok(page(&principal, "Schedules", html! {
        @if entries.is_empty() { p { "No schedules in the store." } }
        @else {
            table {
                thead { tr { th { "Id" } th { "Task" } th { "Schedule" } th { "Enabled" } th { "Next fire" } th { "Last fire" } th { "Drift" } th { "Runs" } th { "Skipped" } th { "Last error" } @if operator { th {} } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td { code { (e.id) } } td { (e.task) } td { code { (e.schedule) } }
                            td { @if e.enabled { "yes" } @else { "no" } }
                            td { (maybe_when(e.next_fire)) } td { (maybe_when(e.last_fire)) }
                            td.n { @if let Some(ms) = e.last_drift_ms { (ms) " ms" } @else { "–" } }
                            td.n { (e.runs) } td.n { (e.skipped) }
                            td { (e.last_error.clone().unwrap_or_default()) }
                            @if operator {
                                td.actions {
                                    @let action = if e.enabled { "disable" } else { "enable" };
                                    form.inline method="post" action=(format!("/schedules/{}/{action}", enc(&e.id))) {
                                        (csrf(&principal))
                                        button type="submit" { @if e.enabled { "Disable" } @else { "Enable" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !operator { (operators_only()) }
    })
    .into_response())
}

async fn enable(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    switch(&app, &principal, &id, &form, true).await
}

async fn disable(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    switch(&app, &principal, &id, &form, false).await
}

async fn switch(
    app: &Shared,
    principal: &Principal,
    id: &str,
    form: &HashMap<String, String>,
    enable: bool,
) -> Result<Response, Problem> {
    authorize(principal, form)?;
    let stem = &app.stem;
    let entry = stem.schedules().get(id).await?.ok_or_else(|| Problem::not_found(format!("no schedule `{id}`")))?;
    let next = if enable && !entry.enabled { entry.fire_after(stem.now()) } else { entry.next_fire };
    if entry.enabled != enable && !stem.schedules().set_enabled(id, enable, next).await? {
        return Err(Problem::not_found(format!("no schedule `{id}` (deleted meanwhile)")));
    }
    Ok(Redirect::to("/schedules").into_response())
}
