//! Dead letters: the queues that have some, a queue's dead letters with
//! their reasons, and replaying or purging one of them or a selection (the
//! oldest N, and / or those dead since a time), each behind a confirmation
//! page that shows what it will touch.
//!
//! The stores replay and purge "the oldest `limit` dead at or after
//! `since`"; they have no call for one entry by id. One entry is therefore
//! acted on as "the oldest one dead at or after its own time", after a dry
//! run has checked that this is exactly that entry (an entry dead in the
//! same instant as an older one is refused: select by time instead).

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::Value;
use stem::TaskId;
use stem::broker::{DeadLetter, ReplayOptions};
use stem::envelope::Envelope;

use crate::dashboard::auth::{Principal, Role, authorize};
use crate::dashboard::layout::{csrf, enc, hidden, operators_only, page, stamp, when};
use crate::dashboard::problem::Problem;
use crate::dashboard::state::{App, Shared};
use crate::output::{parse_duration, parse_time};

/// Dead letters per page of a queue's list.
const PER_PAGE: usize = 50;
/// Dead letters a confirmation page lists at most.
const PREVIEW: usize = 100;
/// Dead letters one store call replays or purges.
const BATCH: usize = 1000;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/dead-letters", get(queues))
        .route("/dead-letters/{queue}", get(list))
        .route("/dead-letters/{queue}/confirm", get(confirm))
        .route("/dead-letters/{queue}/replay", post(replay))
        .route("/dead-letters/{queue}/purge", post(purge))
}

/// An envelope's arguments as JSON (decoded when their codec is JSON).
pub(crate) fn args(envelope: &Envelope) -> Value {
    match envelope.args.codec() {
        "json" => serde_json::from_slice(envelope.args.bytes())
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(envelope.args.bytes()).into_owned())),
        codec => Value::String(format!("{} bytes of {codec}", envelope.args.bytes().len())),
    }
}

async fn queues(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
) -> Result<Html<String>, Problem> {
    let queues = app.stem.queue_stats()?.queues().await?;
    let dead: Vec<_> = queues.iter().filter(|q| q.dead > 0).collect();
    Ok(page(
        &principal,
        "Dead letters",
        html! {
            @if dead.is_empty() { p { "No queue has dead letters." } }
            @else {
                table {
                    thead { tr { th { "Queue" } th { "Dead letters" } } }
                    tbody { @for q in &dead { tr { td { a href=(format!("/dead-letters/{}", enc(&q.queue))) { (q.queue) } } td.n { (q.dead) } } } }
                }
            }
        },
    ))
}

#[derive(Debug, serde::Deserialize)]
struct ListQuery {
    offset: Option<usize>,
    done: Option<String>,
}

async fn list(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(queue): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, Problem> {
    let offset = query.offset.unwrap_or(0);
    let page_of = app.stem.dead_letters()?.list_dead_letters(&queue, PER_PAGE, offset).await?;
    let operator = principal.role == Role::Operator;
    let base = format!("/dead-letters/{}", enc(&queue));
    Ok(page(
        &principal,
        &format!("Dead letters of `{queue}`"),
        html! {
            @if let Some(done) = &query.done { p.done { (done) } }
            @if page_of.entries.is_empty() && offset == 0 { p { "Queue `" (queue) "` has no dead letters." } }
            @else {
                (entries(&app, &page_of.entries, operator.then_some(base.as_str())))
                p.pages {
                    @if offset > 0 { a href=(format!("{base}?offset={}", offset.saturating_sub(PER_PAGE))) { "Newer" } " " }
                    @if let Some(next) = page_of.next_offset { a href=(format!("{base}?offset={next}")) { "Older" } }
                }
            }
            h2 { "Replay or purge a selection" }
            @if operator {
                form method="get" action=(format!("{base}/confirm")) {
                    select name="action" { option value="replay" { "Replay" } option value="purge" { "Purge" } }
                    label { " the oldest " input type="number" name="limit" min="1" placeholder="all"; }
                    label { " dead since " input type="text" name="since" placeholder="1h or 2026-12-07T09:00:00Z"; }
                    button type="submit" { "Review…" }
                }
                p.note { "Nothing changes until you confirm on the next page." }
            } @else { (operators_only()) }
        },
    ))
}

/// The dead letters as a table; with `actions` (the queue's base path),
/// replay and purge links per entry.
fn entries(app: &App, entries: &[DeadLetter], actions: Option<&str>) -> Markup {
    html! {
        table {
            thead { tr { th { "Task id" } th { "Task" } th { "Runs" } th { "Dead" } th { "Reason" } th { "Arguments" } @if actions.is_some() { th {} } } }
            tbody {
                @for d in entries {
                    @let e = &d.envelope;
                    tr {
                        td { a href=(format!("/tasks/{}", e.id)) { code { (e.id) } } }
                        td { (e.task) }
                        td.n { (e.attempt + 1) }
                        td { (when(d.dead_at)) }
                        td { (d.reason) }
                        td { @if app.config.hides(&e.task) { (hidden()) } @else { code { (crate::output::cut(&args(e).to_string(), 80)) } } }
                        @if let Some(base) = actions {
                            td.actions {
                                a href=(format!("{base}/confirm?action=replay&id={}", e.id)) { "Replay…" } " "
                                a href=(format!("{base}/confirm?action=purge&id={}", e.id)) { "Purge…" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What an action touches: one entry, or the oldest `limit` dead since `since`.
#[derive(Debug)]
enum Selection {
    One(TaskId),
    Some { since: Option<DateTime<Utc>>, limit: Option<usize> },
}

impl Selection {
    fn read(fields: &HashMap<String, String>) -> Result<Self, Problem> {
        let field = |name: &str| fields.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        if let Some(id) = field("id") {
            let id = id.parse().map_err(|e| Problem::bad_request(format!("`{id}` is not a task id ({e})")))?;
            return Ok(Self::One(id));
        }
        let since = match field("since") {
            None => None,
            Some(text) => Some(parse_time(text).or_else(|_| {
                let ago = parse_duration(text).map_err(|_| {
                    Problem::bad_request(format!(
                        "since: `{text}` is neither a time (2026-12-07T09:00:00Z) nor a duration (1h)"
                    ))
                })?;
                Ok::<_, Problem>(Utc::now() - chrono::Duration::from_std(ago).unwrap_or(chrono::Duration::MAX))
            })?),
        };
        let limit = match field("limit") {
            None => None,
            Some(text) => Some(
                text.parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Problem::bad_request(format!("limit: `{text}` is not a positive number")))?,
            ),
        };
        Ok(Self::Some { since, limit })
    }

    /// The hidden fields that carry it to the action.
    fn fields(&self) -> Markup {
        match self {
            Self::One(id) => html! { input type="hidden" name="id" value=(id); },
            Self::Some { since, limit } => html! {
                @if let Some(since) = since { input type="hidden" name="since" value=(stamp(*since)); }
                @if let Some(limit) = limit { input type="hidden" name="limit" value=(limit); }
            },
        }
    }
}

/// Checks that `id` is the oldest dead letter of `queue` dead at or after its
/// own time, and gives that time: the selection the stores can act on.
async fn single(app: &App, queue: &str, id: TaskId) -> Result<DeadLetter, Problem> {
    let dead = app
        .stem
        .dead_letters()?
        .get_dead_letter(queue, id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("queue `{queue}` has no dead letter {id} (any more)")))?;
    let preview = app
        .stem
        .replay_dead_letters(queue, &ReplayOptions { limit: 1, since: Some(dead.dead_at), delay: None, dry_run: true })
        .await?;
    match preview.entries.first() {
        Some(first) if first.envelope.id == id => Ok(dead),
        _ => Err(Problem::new(
            axum::http::StatusCode::CONFLICT,
            format!(
                "dead letter {id} cannot be singled out: an older one died in the same instant; select by time instead"
            ),
        )),
    }
}

async fn confirm(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(queue): Path<String>,
    Query(fields): Query<HashMap<String, String>>,
) -> Result<Html<String>, Problem> {
    let action = match fields.get("action").map(String::as_str) {
        Some("replay") => "replay",
        Some("purge") => "purge",
        _ => return Err(Problem::bad_request("action: `replay` or `purge`")),
    };
    let selection = Selection::read(&fields)?;
    let (shown, total) = match &selection {
        Selection::One(id) => (vec![single(&app, &queue, *id).await?], 1),
        Selection::Some { since, limit } => {
            let options = ReplayOptions {
                limit: limit.unwrap_or(usize::MAX).min(PREVIEW),
                since: *since,
                delay: None,
                dry_run: true,
            };
            let preview = app.stem.replay_dead_letters(&queue, &options).await?;
            let stats = app.stem.queue_stats()?.queues().await?;
            let dead = stats.iter().find(|q| q.queue == queue).map_or(0, |q| q.dead);
            let total = if since.is_some() && preview.entries.len() < PREVIEW {
                preview.entries.len()
            } else {
                limit.map_or(dead, |l| dead.min(l))
            };
            (preview.entries, total)
        }
    };
    let base = format!("/dead-letters/{}", enc(&queue));
    let verb = if action == "replay" { "Replay" } else { "Purge for good" };
    Ok(page(
        &principal,
        &format!("{verb}: dead letters of `{queue}`"),
        html! {
            @if shown.is_empty() { p { "Nothing to " (action) ": the selection is empty." } }
            @else {
                p { strong { (verb) " " (total) " dead letter" @if total != 1 { "s" } } @if shown.len() < total { " (the oldest " (shown.len()) " shown)" } "?" }
                (entries(&app, &shown, None))
                @if principal.role == Role::Operator {
                    form method="post" action=(format!("{base}/{action}")) {
                        (csrf(&principal))
                        (selection.fields())
                        button type="submit" .danger[action == "purge"] { (verb) }
                        " " a href=(base) { "Cancel" }
                    }
                } @else { (operators_only()) }
            }
        },
    ))
}

async fn replay(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(queue): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    authorize(&principal, &form)?;
    let done = match Selection::read(&form)? {
        Selection::One(id) => {
            let dead = single(&app, &queue, id).await?;
            let options = ReplayOptions { limit: 1, since: Some(dead.dead_at), delay: None, dry_run: false };
            app.stem.replay_dead_letters(&queue, &options).await?.entries.len()
        }
        Selection::Some { since, limit } => {
            let mut done = 0;
            loop {
                let batch = BATCH.min(limit.map_or(BATCH, |l| l.saturating_sub(done)));
                if batch == 0 {
                    break;
                }
                let options = ReplayOptions { limit: batch, since, delay: None, dry_run: false };
                let n = app.stem.replay_dead_letters(&queue, &options).await?.entries.len();
                done += n;
                if n < batch {
                    break;
                }
            }
            done
        }
    };
    Ok(back(&queue, &format!("replayed {done} dead letter(s)")))
}

async fn purge(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(queue): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    authorize(&principal, &form)?;
    let dead = app.stem.dead_letters()?;
    let done = match Selection::read(&form)? {
        Selection::One(id) => {
            let entry = single(&app, &queue, id).await?;
            dead.purge_dead_letters(&queue, Some(entry.dead_at), Some(1)).await?
        }
        Selection::Some { since, limit } => {
            let mut done = 0;
            loop {
                let batch = BATCH.min(limit.map_or(BATCH, |l| l.saturating_sub(done)));
                if batch == 0 {
                    break;
                }
                let n = dead.purge_dead_letters(&queue, since, Some(batch)).await?;
                done += n;
                if n < batch {
                    break;
                }
            }
            done
        }
    };
    Ok(back(&queue, &format!("purged {done} dead letter(s)")))
}

/// Back to the queue's list, saying what was done.
fn back(queue: &str, done: &str) -> Response {
    Redirect::to(&format!("/dead-letters/{}?done={}", enc(queue), enc(done))).into_response()
}
