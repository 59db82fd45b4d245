//! The overview: per queue ready / delayed / leased / dead, live workers,
//! dead letters of the last hour, and the charts; its live part is a
//! fragment the page fetches again every 2 seconds.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Extension, Router};
use chrono::Utc;
use maud::{Markup, html};

use crate::dashboard::auth::Principal;
use crate::dashboard::layout::{chart, page};
use crate::dashboard::problem::Problem;
use crate::dashboard::state::{App, Shared};

/// How many of a queue's newest dead letters are read to count the last hour's.
const RECENT: usize = 100;

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/", get(overview)).route("/fragments/overview", get(fragment))
}

async fn overview(
    State(app): State<Shared>,
    Extension(principal): Extension<Principal>,
) -> Result<Html<String>, Problem> {
    let live = live(&app).await?;
    Ok(page(
        &principal,
        "Overview",
        html! {
            div #live data-refresh="/fragments/overview" data-every="2000" { (live) }
        },
    ))
}

async fn fragment(State(app): State<Shared>) -> Result<Html<String>, Problem> {
    Ok(Html(live(&app).await?.into_string()))
}

async fn live(app: &App) -> Result<Markup, Problem> {
    let stem = &app.stem;
    let workers = stem.backend().list_heartbeats().await?;
    let queues = match stem.queue_stats() {
        Ok(stats) => Some(stats.queues().await?),
        Err(_) => None,
    };
    // Dead-lettered in the last hour: counted from each queue's newest dead
    // letters, at most RECENT per queue ("100+" past that).
    let hour_ago = Utc::now() - chrono::Duration::hours(1);
    let mut recent = 0;
    let mut capped = false;
    if let (Ok(dead), Some(queues)) = (stem.dead_letters(), &queues) {
        for q in queues.iter().filter(|q| q.dead > 0) {
            let page = dead.list_dead_letters(&q.queue, RECENT, 0).await?;
            let n = page.entries.iter().take_while(|d| d.dead_at >= hour_ago).count();
            capped |= n == RECENT;
            recent += n;
        }
    }
    let samples = app.samples.all();
    let rates: Vec<f64> = samples.iter().map(|s| s.per_second).collect();
    let backlog: Vec<f64> = samples.iter().map(|s| s.backlog as f64).collect();
    Ok(html! {
        section.cards {
            div.card { span.big { (workers.len()) } " workers alive" }
            div.card { span.big { (recent) @if capped { "+" } } " dead-lettered in the last hour" }
        }
        section {
            h2 { "Queues" }
            @match &queues {
                None => p { "This broker does not count its queues." },
                Some(queues) if queues.is_empty() => p { "No queues yet." },
                Some(queues) => table {
                    thead { tr { th { "Queue" } th { "Ready" } th { "Delayed" } th { "Leased" } th { "Dead" } } }
                    tbody {
                        @for q in queues {
                            tr {
                                td { (q.queue) } td.n { (q.ready) } td.n { (q.delayed) } td.n { (q.leased) }
                                td.n { a href=(format!("/dead-letters/{}", q.queue)) { (q.dead) } }
                            }
                        }
                    }
                },
            }
        }
        section {
            h2 { "Throughput" }
            p.note { "Sampled by this dashboard every " (humantime::format_duration(app.config.sample_every)) " while it runs (the last " (samples.len()) " samples): tasks processed per second by the live workers, from their heartbeats, and the messages waiting or running in every queue." }
            (chart("Processed", &rates, "tasks/s"))
            (chart("Backlog", &backlog, "messages"))
        }
    })
}
