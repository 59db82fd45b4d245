//! Storage adapters for Stem: SQLite (the embedded default), with Redis and
//! Postgres to come, and [`connect`], which picks one from a URL.

#[cfg(feature = "sqlite")]
pub mod sqlite;
