//! Runnable examples for Stem. Each is a file in this folder, run with
//! `cargo run --example <name>`:
//!
//! - `quickstart`: two tasks, a worker and a producer in one process.
//! - `workflow`: a durable checkout workflow.
//! - `app`: an application run through its generated command line (`stem_cli::run()`).
//! - `cli_bench`: the command line's bulk operations on a full store (`--release` for figures).
//! - `bench`: the benchmark harness of `shared/bench` (`--release` for figures).
