//! Workflows: runs by workflow and status, newest first; a run's page with
//! its steps in order as a timeline (values and times); an operator cancels
//! a run, rewinds it to a step, or emits an event (checked against the
//! topic's type when the binary declares it).

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::html;
use serde_json::{Value, json};
use stem::workflow::{RunFilter, RunId, RunStatus};

use crate::dashboard::auth::{Principal, Role, authorize};
use crate::dashboard::layout::{csrf, enc, maybe_when, operators_only, page, value, when};
use crate::dashboard::problem::Problem;
use crate::dashboard::state::Shared;

/// Runs per page.
const PER_PAGE: usize = 50;
const STATUSES: [&str; 5] = ["running", "suspended", "completed", "failed", "cancelled"];

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/workflows", get(list))
        .route("/workflows/runs/{id}", get(show))
        .route("/workflows/runs/{id}/cancel", post(cancel))
        .route("/workflows/runs/{id}/rewind", post(rewind))
        .route("/workflows/emit", post(emit))
}

#[derive(Debug, serde::Deserialize)]
struct ListQuery {
    workflow: Option<String>,
    status: Option<String>,
    offset: Option<usize>,
    done: Option<String>,
}

async fn list(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, Problem> {
    let offset = query.offset.unwrap_or(0);
    let workflow = query.workflow.as_deref().filter(|w| !w.is_empty());
    let status = query.status.as_deref().filter(|s| !s.is_empty());
    let mut filter = RunFilter::new().page(PER_PAGE, offset);
    if let Some(workflow) = workflow {
        filter = filter.workflow(workflow.to_owned());
    }
    if let Some(status) = status {
        filter = filter.status(RunStatus::parse(status).ok_or_else(|| {
            Problem::bad_request(format!("status: `{status}` is not one of {}", STATUSES.join(", ")))
        })?);
    }
    let runs = app.stem.workflows().list_runs(&filter).await?;
    let more = |offset: usize| {
        format!(
            "/workflows?workflow={}&status={}&offset={offset}",
            enc(workflow.unwrap_or_default()),
            status.unwrap_or_default()
        )
    };
    Ok(page(
        &principal,
        "Workflows",
        html! {
            @if let Some(done) = &query.done { p.done { (done) } }
            form method="get" action="/workflows" {
                label { "Workflow " input type="text" name="workflow" value=(workflow.unwrap_or_default()); }
                label { " Status " select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[status == Some(s)] { (s) } }
                } }
                button type="submit" { "Filter" }
            }
            @if runs.is_empty() { p { "No runs." } }
            @else {
                table {
                    thead { tr { th { "Run" } th { "Workflow" } th { "Status" } th { "Created" } th { "Updated" } th { "Error" } } }
                    tbody { @for r in &runs { tr {
                        td { a href=(format!("/workflows/runs/{}", r.id)) { code { (r.id) } } }
                        td { (r.workflow) } td { span class=(format!("state {}", r.status)) { (r.status) } }
                        td { (when(r.created_at)) } td { (when(r.updated_at)) } td { (r.error.clone().unwrap_or_default()) }
                    } } }
                }
                p.pages {
                    @if offset > 0 { a href=(more(offset.saturating_sub(PER_PAGE))) { "Newer" } " " }
                    @if runs.len() == PER_PAGE { a href=(more(offset + PER_PAGE)) { "Older" } }
                }
            }
            h2 { "Emit an event" }
            @if principal.role == Role::Operator {
                form method="post" action="/workflows/emit" {
                    (csrf(&principal))
                    label { "Topic " input type="text" name="topic" required; }
                    label { " Payload (JSON) " input type="text" name="payload" value="null" size="40"; }
                    label { " " input type="checkbox" name="raw" value="yes"; " unchecked (a topic this binary does not declare)" }
                    button type="submit" { "Emit" }
                }
            } @else { (operators_only()) }
        },
    ))
}

fn run_id(text: &str) -> Result<RunId, Problem> {
    text.parse().map_err(|e| Problem::bad_request(format!("`{text}` is not a run id ({e})")))
}

async fn show(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, Problem> {
    let id = run_id(&id)?;
    let run = app
        .stem
        .workflows()
        .get_run(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no workflow run {id} is known")))?;
    let steps = app.stem.workflows().checkpoints(id).await?;
    let hide = app.config.hides(&run.workflow);
    let ended = matches!(run.status, RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled);
    Ok(page(
        &principal,
        &format!("Run {id}"),
        html! {
            table.fields {
                tr { th { "Workflow" } td { (run.workflow) } }
                tr { th { "Status" } td { span class=(format!("state {}", run.status)) { (run.status) } } }
                tr { th { "Queue" } td { (run.queue) } }
                tr { th { "Created" } td { (when(run.created_at)) } }
                tr { th { "Updated" } td { (when(run.updated_at)) } }
                @if let Some(topic) = &run.wait_topic { tr { th { "Waits for" } td { code { (topic) } } } }
                @if run.resume_at.is_some() { tr { th { "Resumes" } td { (maybe_when(run.resume_at)) } } }
                tr { th { "Arguments" } td { (value(&run.args, hide)) } }
                @if let Some(result) = &run.result { tr { th { "Result" } td { (value(result, hide)) } } }
                @if let Some(error) = &run.error { tr { th { "Error" } td { (error) } } }
            }
            h2 { "Steps" }
            @if steps.is_empty() { p { "No step has completed yet." } }
            @else {
                ol.timeline {
                    @for c in &steps {
                        li {
                            span.at { (when(c.at)) } " "
                            strong { (c.name) } " "
                            @if let Some(attempts) = c.value.get("attempts") { span.note { "(attempts: " (attempts) ")" } }
                            @if c.value.get("err").is_some() { span.state.failed { "failed" } }
                            (value(&outcome(&c.value), hide))
                        }
                    }
                }
            }
            @if principal.role == Role::Operator {
                h2 { "Act" }
                @if !ended {
                    form method="post" action=(format!("/workflows/runs/{id}/cancel")) {
                        (csrf(&principal))
                        label { input type="checkbox" name="confirm" value="yes" required; " I mean it" } " "
                        button type="submit" .danger { "Cancel this run" }
                    }
                }
                form method="post" action=(format!("/workflows/runs/{id}/rewind")) {
                    (csrf(&principal))
                    label { "Rewind to step " select name="step" required {
                        @for c in &steps { option value=(c.name) { (c.position) ": " (c.name) } }
                    } }
                    label { " " input type="checkbox" name="confirm" value="yes" required; " I mean it (that step's checkpoint and every later one are deleted)" } " "
                    button type="submit" .danger disabled[steps.is_empty()] { "Rewind" }
                }
            } @else { (operators_only()) }
        },
    ))
}

/// A checkpoint's value for people: a step's value or error, a JSON task
/// result decoded; an internal operation's value as recorded.
fn outcome(value: &Value) -> Value {
    if let Some(error) = value.get("err") {
        return json!({ "error": error });
    }
    let Some(ok) = value.get("ok") else { return value.clone() };
    let data = (ok.get("codec") == Some(&json!("json"))).then(|| ok.get("data").and_then(Value::as_str)).flatten();
    data.and_then(|d| serde_json::from_str(d).ok()).unwrap_or_else(|| ok.clone())
}

fn confirmed(form: &HashMap<String, String>) -> Result<(), Problem> {
    match form.get("confirm").map(String::as_str) {
        Some("yes") => Ok(()),
        _ => Err(Problem::bad_request("not confirmed: tick \"I mean it\"")),
    }
}

async fn cancel(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    authorize(&principal, &form)?;
    confirmed(&form)?;
    let id = run_id(&id)?;
    let done = if app.stem.workflow_handle::<Value>(id).cancel().await? { "cancelled" } else { "already ended" };
    Ok(Redirect::to(&format!("/workflows?done={}", enc(&format!("run {id}: {done}")))).into_response())
}

async fn rewind(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    authorize(&principal, &form)?;
    confirmed(&form)?;
    let id = run_id(&id)?;
    let step = form.get("step").filter(|s| !s.is_empty()).ok_or_else(|| Problem::bad_request("name the step"))?;
    app.stem.workflow_handle::<Value>(id).rewind_to(step).await?;
    Ok(Redirect::to(&format!("/workflows/runs/{id}")).into_response())
}

async fn emit(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    authorize(&principal, &form)?;
    let topic = form
        .get("topic")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Problem::bad_request("name the topic"))?;
    let text = form.get("payload").map_or("null", String::as_str);
    let payload: Value =
        serde_json::from_str(text).map_err(|e| Problem::bad_request(format!("payload: not JSON ({e})")))?;
    let payload = match app.catalog.event(topic) {
        Some(event) => event.check(&payload).map_err(|e| Problem::bad_request(format!("payload: {e}")))?,
        None if form.get("raw").is_some_and(|r| r == "yes") => payload,
        None => {
            return Err(Problem::bad_request(format!(
                "`{topic}` is not an event topic this binary declares: tick \"unchecked\" to send it anyway"
            )));
        }
    };
    let resumed = app.stem.emit_json(topic, payload).await?;
    Ok(Redirect::to(&format!("/workflows?done={}", enc(&format!("`{topic}`: resumed {resumed} run(s)"))))
        .into_response())
}
