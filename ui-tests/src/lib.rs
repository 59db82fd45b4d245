//! Compile-time promises of Stem's macros, checked with trybuild in `tests/ui.rs`.
//! This crate has no code of its own; see its README.
