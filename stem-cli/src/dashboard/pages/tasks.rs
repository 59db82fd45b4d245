//! Tasks: a search by id, and a task's page: its state, attempts, times,
//! progress, error and result (its arguments too while it is a dead
//! letter). Listing tasks by name or state needs a result-backend API that
//! does not exist yet; the page says so.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use maud::html;
use serde::Deserialize;
use serde_json::Value;
use stem::TaskId;
use stem::codec::Payload;

use crate::dashboard::auth::Principal;
use crate::dashboard::layout::{enc, hidden, page, value, when};
use crate::dashboard::problem::Problem;
use crate::dashboard::state::{App, Shared};

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/tasks", get(search)).route("/tasks/{id}", get(show))
}

#[derive(Debug, Deserialize)]
struct Search {
    id: Option<String>,
}

async fn search(Extension(principal): Extension<Principal>, Query(search): Query<Search>) -> Response {
    let asked = search.id.as_deref().map(str::trim).filter(|id| !id.is_empty());
    let problem = match asked.map(str::parse::<TaskId>) {
        Some(Ok(id)) => return Redirect::to(&format!("/tasks/{id}")).into_response(),
        Some(Err(e)) => Some(format!("`{}` is not a task id ({e})", asked.unwrap_or_default())),
        None => None,
    };
    page(&principal, "Tasks", html! {
        form method="get" action="/tasks" {
            label { "Task id " input type="text" name="id" size="40" value=(asked.unwrap_or_default()) placeholder="0190c0de-..."; }
            button type="submit" { "Show" }
        }
        @if let Some(problem) = problem { p.problem { (problem) } }
        p.note { "Searching by task name or state needs a listing API in the result backend, which the stores do not have yet: look a task up by its id (as enqueue printed it), or find failed ones among the " a href="/dead-letters" { "dead letters" } "." }
    })
    .into_response()
}

async fn show(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, Problem> {
    let id: TaskId = id.parse().map_err(|e| Problem::bad_request(format!("`{id}` is not a task id ({e})")))?;
    let status = app.stem.backend().get(id).await?.ok_or_else(|| {
        Problem::not_found(format!(
            "no task {id} is known to the result backend (never enqueued, or its record expired)"
        ))
    })?;
    let hide = app.config.hides(&status.task);
    // The backend keeps no arguments; a dead letter does.
    let dead = match app.stem.dead_letters() {
        Ok(dead) => dead.get_dead_letter(&status.queue, id).await?,
        Err(_) => None,
    };
    let result = status.result.as_ref().map(|payload| decoded(&app, &status.task, payload));
    Ok(page(
        &principal,
        &format!("Task {id}"),
        html! {
            table.fields {
                tr { th { "Task" } td { (status.task) } }
                tr { th { "Queue" } td { (status.queue) } }
                tr { th { "State" } td { span class=(format!("state {}", status.state)) { (status.state) } } }
                tr { th { "Runs" } td { (status.attempt + 1) } }
                tr { th { "Updated" } td { (when(status.updated_at)) } }
                @if let Some(progress) = &status.progress {
                    tr { th { "Progress" } td {
                        progress max="1" value=(progress.fraction) {} " " (format!("{:.0}%", progress.fraction * 100.0))
                        @if let Some(data) = &progress.data { (value(data, hide)) }
                    } }
                }
                @if let Some(error) = &status.error {
                    tr { th { "Error" } td { code { (error.kind) } ": " (error.message) } }
                }
                tr { th { "Result" } td {
                    @match &result {
                        None => "–",
                        Some(_) if hide => (hidden()),
                        Some(json) => (value(json, false)),
                    }
                } }
                tr { th { "Arguments" } td {
                    @match &dead {
                        Some(_) if hide => (hidden()),
                        Some(dead) => (value(&super::dead_letters::args(&dead.envelope), false)),
                        None => span.note { "not kept by the result backend (shown while the task is a dead letter)" },
                    }
                } }
                @if !status.meta.is_empty() {
                    tr { th { "Meta" } td { (value(&serde_json::json!(status.meta), false)) } }
                }
            }
            @if let Some(dead) = &dead {
                p { "Dead-lettered " (when(dead.dead_at)) ": " (dead.reason) ". "
                    a href=(format!("/dead-letters/{}", enc(&status.queue))) { "Its queue's dead letters" } }
            }
        },
    ))
}

/// A stored result as JSON: decoded as the task's output type when the task
/// is linked, read as JSON when its codec is JSON, described otherwise.
fn decoded(app: &App, task: &str, payload: &Payload) -> Value {
    if let Some(registration) = app.catalog.task(task)
        && let Ok(json) = registration.output_json(payload)
    {
        return json;
    }
    if payload.codec() == "json"
        && let Ok(json) = serde_json::from_slice(payload.bytes())
    {
        return json;
    }
    Value::String(format!("{} bytes of {}", payload.bytes().len(), payload.codec()))
}
