//! # The Stem command line
//!
//! `stem_cli::run()` is the whole command line of an application: put it in
//! the application's `main`, and every `#[stem::task]`, `#[stem::workflow]`
//! and `#[stem::event]` linked into the binary is known to it, with its
//! arguments' names and types.
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     stem_cli::run().await          // every #[stem::task] and #[stem::workflow] linked into this binary
//! }
//! ```
//!
//! ```text
//! app worker -c 16                                      # a worker for every linked task and workflow
//! app enqueue app::emails::send_email --to ada@example.com --subject hi --wait
//! app tasks ls                                          # each task's arguments and their Rust types
//! app dlq replay -q emails --yes                        # dead letters back on their queue
//! app observe queues --watch 2s                         # ready, delayed, leased, dead per queue
//! app wf start app::checkout --params '{"id": 7}' --wait
//! app schedule apply -f schedules.toml                  # Beat schedules, checked against the linked tasks
//! app worker --beat                                     # a worker that also fires the schedules
//! app worker stats                                      # each running worker's counts (ping, inspect, pause, revoke ...)
//! ```
//!
//! A shell enqueue is checked before anything is sent: each argument is
//! decoded into the task's own argument type, and a missing or mistyped one
//! exits 64 naming the flag and the type. The `stem` binary of this crate has
//! the same commands without linked types: `enqueue` and `wf start` then send
//! `--args` / `--params` as given, and say so.
//!
//! Every command takes `--broker URL` and `--backend URL` (default
//! `STEM_BROKER_URL`, `STEM_RESULT_BACKEND_URL`, then `sqlite://stem.db`),
//! `--routing FILE` (default `STEM_ROUTING_CONFIG`: a routing file, checked
//! before the command runs; `routing dump` shows its effect), `--json` (one
//! JSON document on stdout, for scripts; see the CLI guide for its shapes)
//! and `-v`. Exit codes: 0 success, 1 failure, 64 usage or invalid input.

mod args;
mod catalog;
mod cli;
mod commands;
mod context;
pub mod dashboard;
mod error;
mod output;
mod telemetry;

pub use crate::cli::Cli;

/// Runs the command line of this binary on the process's arguments and
/// gives the exit code: every task, workflow and event topic linked into the
/// binary is known to it. The same as `Cli::new().run()`.
pub async fn run() -> std::process::ExitCode {
    Cli::new().run().await
}
