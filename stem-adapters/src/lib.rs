//! Storage adapters for Stem: SQLite (the embedded default), Redis and Postgres.
//!
//! This crate is a placeholder in this release. The SQLite adapter and
//! `connect(url)` arrive with the "Embedded default: SQLite adapter" issue, the
//! Redis adapter with the "Redis adapter on Redis Streams" issue and the Postgres
//! adapter with the "Postgres adapter" issue. Until then, use the in-memory
//! adapters in `stem::memory` (`Stem::in_memory()`).
