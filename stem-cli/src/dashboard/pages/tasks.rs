//! Tasks: a search by id, a listing by task name and state, newest first,
//! a page at a time (when the result backend lists statuses: see
//! [`TaskListing`](stem::backend::TaskListing)), and a task's page: its
//! state, attempts, times, progress, error and result, its arguments (while
//! it is a dead letter, or always when its producer keeps them:
//! `Stem::with_kept_args`), and links to the task that enqueued it, its
//! chain's first task and its chord group; a group's page lists its
//! members as they finish. On a store whose backend cannot list (one
//! opened without `task_listing=true`), the search is by id only and the
//! page says so.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use stem::TaskId;
use stem::backend::{ARGS_META, GROUP_META, PARENT_META, ROOT_META};
use stem::backend::{TaskPage, TaskQuery, TaskState};
use stem::codec::Payload;

use crate::dashboard::auth::Principal;
use crate::dashboard::layout::{enc, hidden, page, value, when};
use crate::dashboard::problem::Problem;
use crate::dashboard::state::{App, Shared};

/// Statuses per page.
const PER_PAGE: usize = 50;

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/tasks", get(search)).route("/tasks/{id}", get(show)).route("/groups/{id}", get(group))
}

#[derive(Debug, Deserialize)]
struct Search {
    id: Option<String>,
    task: Option<String>,
    state: Option<String>,
    after: Option<String>,
}

/// A query value, trimmed; `None` when empty.
fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

async fn search(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Query(search): Query<Search>,
) -> Result<Response, Problem> {
    let asked = given(search.id.as_ref());
    let problem = match asked.map(str::parse::<TaskId>) {
        Some(Ok(id)) => return Ok(Redirect::to(&format!("/tasks/{id}")).into_response()),
        Some(Err(e)) => Some(format!("`{}` is not a task id ({e})", asked.unwrap_or_default())),
        None => None,
    };
    let Some(listing) = app.stem.backend().listing() else {
        return Ok(page(&principal, "Tasks", html! {
            (id_form(asked))
            @if let Some(problem) = problem { p.problem { (problem) } }
            p.note { "This store's result backend cannot list tasks by name or state (SQLite, Postgres and Redis index them when opened with `?task_listing=true`, at some cost to every status write): look a task up by its id (as enqueue printed it), or find failed ones among the " a href="/dead-letters" { "dead letters" } "." }
        })
        .into_response());
    };
    let (task, state) = (given(search.task.as_ref()), given(search.state.as_ref()));
    let mut query = TaskQuery::new().limit(PER_PAGE);
    if let Some(task) = task {
        query = query.task(task);
    }
    if let Some(state) = state {
        let known = TaskState::ALL.into_iter().find(|s| s.as_str() == state).ok_or_else(|| {
            let names: Vec<&str> = TaskState::ALL.iter().map(|s| s.as_str()).collect();
            Problem::bad_request(format!("state: `{state}` is not one of {}", names.join(", ")))
        })?;
        query = query.state(known);
    }
    if let Some(after) = given(search.after.as_ref()) {
        query = query.after(after);
        query.cursor().map_err(|e| Problem::bad_request(format!("after: {e}")))?;
    }
    let found = listing.list_tasks(&query).await?;
    Ok(page(&principal, "Tasks", html! {
        (id_form(asked))
        @if let Some(problem) = problem { p.problem { (problem) } }
        form method="get" action="/tasks" {
            label { "Task name " input type="text" name="task" size="40" list="task-names" value=(task.unwrap_or_default()); }
            datalist id="task-names" { @for t in app.catalog.tasks() { option value=(t.name()) {} } }
            label { " State " select name="state" {
                option value="" { "any" }
                @for s in TaskState::ALL { option value=(s.as_str()) selected[state == Some(s.as_str())] { (s) } }
            } }
            button type="submit" { "Search" }
        }
        (listed(&found, task, state, query.after.is_some()))
    })
    .into_response())
}

fn id_form(asked: Option<&str>) -> Markup {
    html! {
        form method="get" action="/tasks" {
            label { "Task id " input type="text" name="id" size="40" value=(asked.unwrap_or_default()) placeholder="0190c0de-..."; }
            button type="submit" { "Show" }
        }
    }
}

/// A page of statuses, newest first, with links to the first and the next page.
fn listed(found: &TaskPage, task: Option<&str>, state: Option<&str>, later: bool) -> Markup {
    let filter = format!("task={}&state={}", enc(task.unwrap_or_default()), enc(state.unwrap_or_default()));
    html! {
        @if found.statuses.is_empty() {
            p { @if later { "No more tasks." } @else { "No tasks match." } }
        } @else {
            table {
                thead { tr { th { "Task id" } th { "Task" } th { "Queue" } th { "State" } th { "Runs" } th { "Updated" } } }
                tbody {
                    @for s in &found.statuses {
                        tr {
                            td { a href=(format!("/tasks/{}", s.id)) { code { (s.id) } } }
                            td { (s.task) }
                            td { (s.queue) }
                            td { span class=(format!("state {}", s.state)) { (s.state) } }
                            td { (s.attempt + 1) }
                            td { (when(s.updated_at)) }
                        }
                    }
                }
            }
        }
        p.pages {
            @if later { a href=(format!("/tasks?{filter}")) { "First page" } " " }
            @if let Some(next) = &found.next { a rel="next" href=(format!("/tasks?{filter}&after={}", enc(next))) { "Next page" } }
        }
        p.note { "Newest first, by the time of each task's last state change; tasks whose records expired are not listed." }
    }
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
                    @match (dead.as_ref().map(|d| stem::backend::args_json(&d.envelope)), status.meta.get(ARGS_META)) {
                        (Some(_), _) | (None, Some(_)) if hide => (hidden()),
                        (Some(args), _) => (value(&args, false)),
                        (None, Some(args)) => (value(args, false)),
                        (None, None) => span.note {
                            "not kept (shown while the task is a dead letter, or always when its producer keeps them: "
                            code { "Stem::with_kept_args" } ")"
                        },
                    }
                } }
                @for (key, label) in [(PARENT_META, "Enqueued by"), (ROOT_META, "Chain / canvas root"), (GROUP_META, "Chord group")] {
                    @if let Some(id) = status.meta.get(key).and_then(serde_json::Value::as_str) {
                        tr { th { (label) } td {
                            @let base = if key == GROUP_META { "groups" } else { "tasks" };
                            a href=(format!("/{base}/{}", enc(id))) { code { (id) } }
                        } }
                    }
                }
                @let meta: std::collections::BTreeMap<_, _> = status.meta.iter().filter(|(k, _)| *k != ARGS_META).collect();
                @if !meta.is_empty() {
                    tr { th { "Meta" } td { (value(&serde_json::json!(meta), false)) } }
                }
            }
            @if let Some(dead) = &dead {
                p { "Dead-lettered " (when(dead.dead_at)) ": " (dead.reason) ". "
                    a href=(format!("/dead-letters/{}", enc(&status.queue))) { "Its queue's dead letters" } }
            }
        },
    ))
}

/// A chord group: its members that finished, by their place in the group,
/// and its callback once claimed.
async fn group(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, Problem> {
    let id: TaskId = id.parse().map_err(|e| Problem::bad_request(format!("`{id}` is not a group id ({e})")))?;
    let group = app.stem.backend().group_get(id).await?.ok_or_else(|| {
        Problem::not_found(format!("no group {id} is known to the result backend (never made, or it expired)"))
    })?;
    Ok(page(
        &principal,
        &format!("Group {id}"),
        html! {
            p { (group.results.len()) " of " (group.expected) " members finished"
                @if group.is_complete() { " (complete)" } "." }
            @if let Some(callback) = group.chord_callback {
                p { "Chord callback: " a href=(format!("/tasks/{callback}")) { code { (callback) } } }
            }
            table {
                thead { tr { th { "#" } th { "Task" } th { "Id" } th { "State" } th { "Updated" } } }
                tbody {
                    @for (index, member) in &group.results {
                        tr {
                            td { (index) }
                            td { (member.task) }
                            td { a href=(format!("/tasks/{}", member.id)) { code { (member.id) } } }
                            td { span class=(format!("state {}", member.state)) { (member.state) } }
                            td { (when(member.updated_at)) }
                        }
                    }
                }
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
