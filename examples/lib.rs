//! Runnable examples for Stem. Each is a file in this folder, run with
//! `cargo run --example <name>`:
//!
//! - `quickstart`: two tasks, a worker and a producer in one process.
//! - `workflow`: a durable checkout workflow.
//! - `bench`: the benchmark harness of `shared/bench` (`--release` for figures).
