//! Dead letters: the queues that have some, a queue's dead letters with
//! their reasons, and replaying or purging a selection: the rows ticked (or
//! one row), or the oldest N and / or those dead since a time, each behind a
//! confirmation page that lists what it will touch. Rows are acted on by
//! task id, so exactly the dead letters confirmed are replayed or purged.

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use stem::TaskId;
use stem::broker::{DeadLetter, PurgeOptions, ReplayOptions};

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
                @if operator {
                    form method="get" action=(format!("{base}/confirm")) {
                        input type="hidden" name="selected" value="1";
                        (entries(&app, &page_of.entries, Some(base.as_str())))
                        p.actions {
                            button type="submit" name="action" value="replay" { "Replay selected…" } " "
                            button type="submit" name="action" value="purge" .danger { "Purge selected…" }
                        }
                    }
                } @else { (entries(&app, &page_of.entries, None)) }
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

/// The dead letters as a table; with `actions` (the queue's base path), a
/// checkbox (`id`) and replay and purge links per entry.
fn entries(app: &App, entries: &[DeadLetter], actions: Option<&str>) -> Markup {
    html! {
        table {
            thead { tr { @if actions.is_some() { th { "Select" } } th { "Task id" } th { "Task" } th { "Runs" } th { "Dead" } th { "Reason" } th { "Arguments" } @if actions.is_some() { th {} } } }
            tbody {
                @for d in entries {
                    @let e = &d.envelope;
                    tr {
                        @if actions.is_some() { td { input type="checkbox" name="id" value=(e.id) aria-label=(format!("select {}", e.id)); } }
                        td { a href=(format!("/tasks/{}", e.id)) { code { (e.id) } } }
                        td { (e.task) }
                        td.n { (e.attempt + 1) }
                        td { (when(d.dead_at)) }
                        td { (d.reason) }
                        td { @if app.config.hides(&e.task) { (hidden()) } @else { code { (crate::output::cut(&stem::backend::args_json(e).to_string(), 80)) } } }
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

/// Dead letters one action selects by id at most.
const MAX_IDS: usize = BATCH;

/// A form's or a query's fields: the last value of each name, and every
/// value of `id` (one per row ticked).
#[derive(Debug)]
struct Fields {
    last: HashMap<String, String>,
    ids: Vec<String>,
}

impl Fields {
    fn of(pairs: Vec<(String, String)>) -> Self {
        let ids = pairs.iter().filter(|(k, _)| k == "id").map(|(_, v)| v.trim().to_owned()).collect();
        Self { last: pairs.into_iter().collect(), ids }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.last.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// What an action touches: the dead letters of chosen task ids, or the
/// oldest `limit` dead since `since`.
#[derive(Debug)]
enum Selection {
    Ids(Vec<TaskId>),
    Some { since: Option<DateTime<Utc>>, limit: Option<usize> },
}

impl Selection {
    fn read(fields: &Fields) -> Result<Self, Problem> {
        let mut ids: Vec<TaskId> = Vec::new();
        for id in fields.ids.iter().filter(|id| !id.is_empty()) {
            let id = id.parse().map_err(|e| Problem::bad_request(format!("`{id}` is not a task id ({e})")))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.len() > MAX_IDS {
            return Err(Problem::bad_request(format!("select at most {MAX_IDS} dead letters at a time")));
        }
        if !ids.is_empty() {
            return Ok(Self::Ids(ids));
        }
        if fields.get("selected").is_some() {
            return Err(Problem::bad_request("no dead letter is selected: tick the ones to act on"));
        }
        let since = match fields.get("since") {
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
        let limit = match fields.get("limit") {
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
            Self::Ids(ids) => html! { @for id in ids { input type="hidden" name="id" value=(id); } },
            Self::Some { since, limit } => html! {
                @if let Some(since) = since { input type="hidden" name="since" value=(stamp(*since)); }
                @if let Some(limit) = limit { input type="hidden" name="limit" value=(limit); }
            },
        }
    }
}

async fn confirm(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(queue): Path<String>,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Html<String>, Problem> {
    let fields = Fields::of(fields);
    let action = match fields.get("action") {
        Some("replay") => "replay",
        Some("purge") => "purge",
        _ => return Err(Problem::bad_request("action: `replay` or `purge`")),
    };
    let selection = Selection::read(&fields)?;
    let mut gone: Vec<TaskId> = Vec::new();
    let (shown, total) = match &selection {
        Selection::Ids(ids) => {
            // A dry run by id: exactly the dead letters the action will touch.
            let options = ReplayOptions { limit: usize::MAX, ids: ids.clone(), dry_run: true, ..Default::default() };
            let preview = app.stem.replay_dead_letters(&queue, &options).await?;
            gone = ids.iter().filter(|id| !preview.entries.iter().any(|d| d.envelope.id == **id)).copied().collect();
            let total = preview.entries.len();
            (preview.entries, total)
        }
        Selection::Some { since, limit } => {
            let options = ReplayOptions {
                limit: limit.unwrap_or(usize::MAX).min(PREVIEW),
                since: *since,
                dry_run: true,
                ..Default::default()
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
            @if !gone.is_empty() {
                p.note {
                    "Not dead letters of `" (queue) "` (any more), so left alone: "
                    @for (i, id) in gone.iter().enumerate() { @if i > 0 { ", " } code { (id) } }
                }
            }
        },
    ))
}

async fn replay(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(queue): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let form = Fields::of(form);
    authorize(&principal, &form.last)?;
    let done = match Selection::read(&form)? {
        Selection::Ids(ids) => {
            let options = ReplayOptions { limit: usize::MAX, ids, ..Default::default() };
            app.stem.replay_dead_letters(&queue, &options).await?.entries.len()
        }
        Selection::Some { since, limit } => {
            let mut done = 0;
            loop {
                let batch = BATCH.min(limit.map_or(BATCH, |l| l.saturating_sub(done)));
                if batch == 0 {
                    break;
                }
                let options = ReplayOptions { limit: batch, since, ..Default::default() };
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
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let form = Fields::of(form);
    authorize(&principal, &form.last)?;
    let dead = app.stem.dead_letters()?;
    let done = match Selection::read(&form)? {
        Selection::Ids(ids) => dead.purge_dead_letters(&queue, &PurgeOptions { ids, ..Default::default() }).await?,
        Selection::Some { since, limit } => {
            let mut done = 0;
            loop {
                let batch = BATCH.min(limit.map_or(BATCH, |l| l.saturating_sub(done)));
                if batch == 0 {
                    break;
                }
                let n = dead
                    .purge_dead_letters(&queue, &PurgeOptions { since, limit: Some(batch), ids: Vec::new() })
                    .await?;
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
