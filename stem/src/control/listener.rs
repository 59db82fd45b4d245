//! The worker side: every worker of the binary listens on the control
//! channel and answers what is addressed to it.

use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::json;

use super::message::{Command, REPLIES, REQUESTS, Reply, Request};
use crate::stem::Stem;
use crate::worker::{Extension, LinkedExtension, Service, WorkerControl, WorkerInfo};

/// How often a worker reads the revoke store again (a revoke whose
/// broadcast it missed is honoured within this time).
const REVOKES_EVERY: Duration = Duration::from_secs(30);

/// The extension that answers control commands, in every worker.
#[derive(Debug, Default)]
struct Listener;

inventory::submit! {
    LinkedExtension::new(|| Box::new(Listener))
}

impl Extension for Listener {
    fn services(&self, worker: &WorkerInfo<'_>) -> Vec<Service> {
        let (stem, id, control) = (worker.stem.clone(), worker.id.to_owned(), worker.control.clone());
        vec![Box::pin(listen(stem.clone(), id, control.clone())), Box::pin(reread_revokes(stem, control))]
    }
}

/// Answers requests until the worker stops (the service is dropped).
async fn listen(stem: Stem, worker: String, control: WorkerControl) {
    let Some(channel) = stem.broker().broadcast() else {
        tracing::info!("the broker has no broadcast channel; this worker takes no control commands");
        return;
    };
    let mut requests = match channel.subscribe(REQUESTS).await {
        Ok(requests) => requests,
        Err(error) => {
            tracing::error!(%error, "subscribing to the control channel failed; this worker takes no control commands");
            return;
        }
    };
    while let Some(message) = requests.next().await {
        let request: Request = match serde_json::from_slice(&message) {
            Ok(request) => request,
            Err(error) => {
                let text = String::from_utf8_lossy(&message[..message.len().min(200)]).into_owned();
                tracing::warn!(%error, message = %text, "a control message does not parse; ignored");
                continue;
            }
        };
        if !request.targets.is_empty() && !request.targets.contains(&worker) {
            continue;
        }
        let reply = answer(&control, &worker, &request).await;
        match serde_json::to_vec(&reply) {
            Ok(bytes) => {
                if let Err(error) = channel.broadcast(REPLIES, bytes).await {
                    tracing::warn!(%error, "sending a control reply failed");
                }
            }
            Err(error) => tracing::warn!(%error, "a control reply does not encode"),
        }
        if let Command::Shutdown { mode } = request.command {
            control.shutdown(mode);
        }
    }
}

/// Carries out `request`'s command on this worker.
async fn answer(control: &WorkerControl, worker: &str, request: &Request) -> Reply {
    let (ok, body, error) = match &request.command {
        Command::Ping => (true, json!("pong"), None),
        Command::Stats => (true, json!(control.stats()), None),
        Command::Inspect => (true, inspect(control).await, None),
        Command::Shutdown { mode } => (true, json!({ "mode": mode }), None),
        Command::Pause { queue } | Command::Resume { queue } => {
            let pausing = matches!(request.command, Command::Pause { .. });
            let done = if pausing { control.pause(queue) } else { control.resume(queue) };
            let error = (!done).then(|| format!("this worker does not consume queue `{queue}`"));
            (done, json!({ "queue": queue, "paused": pausing }), error)
        }
        Command::Grow { n } => (true, json!({ "concurrency": control.grow(*n) }), None),
        Command::Shrink { n } => (true, json!({ "concurrency": control.shrink(*n) }), None),
        Command::Revoke { revokes } => (true, json!({ "terminated": control.revoke(revokes.clone()) }), None),
    };
    Reply { request: request.id.clone(), worker: worker.to_owned(), ok, body, error }
}

/// What `inspect` answers: the deliveries held (`active`) and those due
/// later on the worker's queues (`scheduled`); if the broker could not list
/// the latter, why (`scheduled_error`), the rest of the reply still good.
async fn inspect(control: &WorkerControl) -> serde_json::Value {
    let mut body = json!({ "active": control.active(), "scheduled": [] });
    match control.scheduled().await {
        Ok(scheduled) => body["scheduled"] = json!(scheduled),
        Err(error) => {
            tracing::warn!(%error, "listing the scheduled deliveries failed");
            body["scheduled_error"] = json!(error.to_string());
        }
    }
    body
}

/// Reads the live revokes again every [`REVOKES_EVERY`].
async fn reread_revokes(stem: Stem, control: WorkerControl) {
    let mut every = tokio::time::interval(REVOKES_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        match stem.stores().revokes().live(chrono::Utc::now()).await {
            Ok(revokes) => {
                control.revoke(revokes);
            }
            Err(error) => tracing::warn!(%error, "reading the revokes failed"),
        }
    }
}
