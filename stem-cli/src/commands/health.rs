//! `health`: reaches the broker and the result backend (TLS included) and
//! prints each with its round trip; exits 1 if either fails.

use std::time::Instant;

use clap::Command;
use serde_json::{Value, json};
use stem::{Stem, TaskId};
use stem_adapters::{redact_url, scrub_secrets};

use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::table;

pub(super) fn command() -> Command {
    Command::new("health").about("Checks that the broker and the result backend answer; exits 1 if one does not")
}

/// One store's check.
struct Check {
    store: &'static str,
    url: String,
    outcome: Result<f64, String>,
}

pub(super) async fn run(ctx: &Context) -> Outcome {
    let (broker_url, backend_url) = ctx.urls().clone();
    let checks = [broker(ctx, &broker_url).await, backend(ctx, &backend_url).await];
    let shown: Vec<Value> = checks
        .iter()
        .map(|c| match &c.outcome {
            Ok(ms) => {
                json!({ "store": c.store, "url": c.url, "ok": true, "round_trip_ms": (ms * 1000.0).round() / 1000.0 })
            }
            Err(error) => json!({ "store": c.store, "url": c.url, "ok": false, "error": error }),
        })
        .collect();
    ctx.out.either(&shown, || {
        let mut t = table(["STORE", "URL", "STATUS", "ROUND TRIP"]);
        for c in &checks {
            match &c.outcome {
                Ok(ms) => t.add_row([c.store.to_owned(), c.url.clone(), "ok".to_owned(), format!("{ms:.1} ms")]),
                Err(error) => {
                    t.add_row([c.store.to_owned(), c.url.clone(), format!("failing: {error}"), String::new()])
                }
            };
        }
        t.to_string()
    })?;
    if checks.iter().all(|c| c.outcome.is_ok()) { Ok(()) } else { Err(Failure::silent(1)) }
}

/// The stores to check: the application's Stem, or those the URL names.
async fn stem_at(ctx: &Context, url: &str) -> Result<Stem, String> {
    if ctx.has_stem() {
        return ctx.stem().await.map_err(|f| f.to_string());
    }
    stem_adapters::connect(url).await.map_err(|e| scrub_secrets(&e.to_string(), url))
}

async fn broker(ctx: &Context, url: &str) -> Check {
    let started = Instant::now();
    let outcome = async {
        let stem = stem_at(ctx, url).await?;
        let stats = stem.queue_stats().map_err(|e| e.to_string())?;
        stats.pending_count("stem.health").await.map_err(|e| scrub_secrets(&e.to_string(), url))?;
        Ok(started.elapsed().as_secs_f64() * 1e3)
    }
    .await;
    Check { store: "broker", url: redact_url(url), outcome }
}

async fn backend(ctx: &Context, url: &str) -> Check {
    let started = Instant::now();
    let outcome = async {
        let stem = stem_at(ctx, url).await?;
        stem.backend().get(TaskId::new()).await.map_err(|e| scrub_secrets(&e.to_string(), url))?;
        Ok(started.elapsed().as_secs_f64() * 1e3)
    }
    .await;
    Check { store: "backend", url: redact_url(url), outcome }
}
