//! Workers: the live ones from their heartbeats; an operator pings them
//! (all or one) and shuts one down (warm, soft or hard) through the control
//! plane.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Form, Path, State};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::html;
use stem::worker::ShutdownMode;

use crate::dashboard::auth::{Principal, Role, authorize};
use crate::dashboard::layout::{csrf, enc, operators_only, page, when};
use crate::dashboard::problem::Problem;
use crate::dashboard::state::Shared;

/// How long a ping or shutdown waits for replies.
const WAIT: Duration = Duration::from_secs(3);

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/workers", get(list))
        .route("/workers/ping", post(ping))
        .route("/workers/{id}/shutdown", get(confirm_shutdown).post(shutdown))
}

async fn list(State(app): State<Shared>, Extension(principal): Extension<Principal>) -> Result<Html<String>, Problem> {
    let beats = app.stem.backend().list_heartbeats().await?;
    let operator = principal.role == Role::Operator;
    Ok(page(
        &principal,
        "Workers",
        html! {
            @if beats.is_empty() { p { "No live workers (none has sent a heartbeat lately)." } }
            @else {
                table {
                    thead { tr { th { "Worker" } th { "Host" } th { "Pid" } th { "Queues" } th { "Concurrency" } th { "In flight" } th { "Processed" } th { "Up since" } th { "Last seen" } @if operator { th {} } } }
                    tbody {
                        @for b in &beats {
                            tr {
                                td { code { (b.worker_id) } } td { (b.host) } td.n { (b.pid) } td { (b.queues.join(", ")) }
                                td.n { (b.concurrency) } td.n { (b.inflight) } td.n { (b.processed) } td { (when(b.started_at)) } td { (when(b.at)) }
                                @if operator {
                                    td.actions {
                                        form.inline method="post" action="/workers/ping" {
                                            (csrf(&principal)) input type="hidden" name="worker" value=(b.worker_id);
                                            button type="submit" { "Ping" }
                                        }
                                        " " a href=(format!("/workers/{}/shutdown", enc(&b.worker_id))) { "Shut down…" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if operator {
                form method="post" action="/workers/ping" { (csrf(&principal)) button type="submit" { "Ping every worker" } }
            } @else { (operators_only()) }
        },
    ))
}

async fn ping(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Html<String>, Problem> {
    authorize(&principal, &form)?;
    let mut control = app.stem.control().timeout(WAIT);
    if let Some(worker) = form.get("worker").filter(|w| !w.is_empty()) {
        control = control.to([worker.clone()]);
    }
    let replies = control.ping().await?;
    Ok(page(
        &principal,
        "Ping",
        html! {
            @if replies.replies.is_empty() && replies.missing.is_empty() { p { "No live worker to ping." } }
            ul {
                @for r in &replies.replies { li { code { (r.worker) } ": " @if r.ok { "answered" } @else { "refused: " (r.error.clone().unwrap_or_default()) } } }
                @for m in &replies.missing { li { code { (m) } ": no answer within " (humantime::format_duration(WAIT)) } }
            }
            p { a href="/workers" { "Back to the workers" } }
        },
    ))
}

async fn confirm_shutdown(Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Html<String> {
    page(
        &principal,
        &format!("Shut down {id}?"),
        html! {
            @if principal.role == Role::Operator {
                form method="post" action=(format!("/workers/{}/shutdown", enc(&id))) {
                    (csrf(&principal))
                    label { input type="radio" name="mode" value="warm" checked; " warm: running tasks finish" } br;
                    label { input type="radio" name="mode" value="soft"; " soft: running tasks are cancelled and put back" } br;
                    label { input type="radio" name="mode" value="hard"; " hard: everything it holds goes back at once" } br;
                    button type="submit" .danger { "Shut it down" } " " a href="/workers" { "Cancel" }
                }
            } @else { (operators_only()) }
        },
    )
}

async fn shutdown(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Html<String>, Problem> {
    authorize(&principal, &form)?;
    let mode = match form.get("mode").map(String::as_str) {
        Some("warm") | None => ShutdownMode::Warm,
        Some("soft") => ShutdownMode::Soft,
        Some("hard") => ShutdownMode::Hard,
        Some(other) => return Err(Problem::bad_request(format!("mode: `{other}` is not warm, soft or hard"))),
    };
    let replies = app.stem.control().to([id.clone()]).timeout(WAIT).shutdown(mode).await?;
    let answered = replies.replies.iter().any(|r| r.worker == id && r.ok);
    Ok(page(
        &principal,
        "Shutdown",
        html! {
            p { @if answered { "Worker " code { (id) } " is shutting down." } @else { "Worker " code { (id) } " did not answer within " (humantime::format_duration(WAIT)) "." } }
            p { a href="/workers" { "Back to the workers" } }
        },
    ))
}
