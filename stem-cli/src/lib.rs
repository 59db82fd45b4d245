//! The `stem` command line (`worker`, `enqueue`, `dlq`, `observe` ...) and
//! `stem_cli::run()`, the CLI a user's own binary gets with all its linked tasks.
//!
//! This crate is a placeholder in this release: no open issue schedules the CLI
//! yet. Until it lands, run workers from code with `stem::Worker::builder`.
