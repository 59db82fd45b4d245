//! The web dashboard: queues, tasks, dead letters, workers, workflow runs and
//! schedules of one store, served by `dashboard --addr ADDR` or in code by
//! [`serve`]. Server-rendered HTML (maud) with one small embedded script;
//! every page reads through the same store APIs as the command line.
//!
//! Secure by default: it refuses a non-loopback address without
//! credentials ([`Config::from_env`] reads `STEM_DASHBOARD_TOKEN`,
//! `STEM_DASHBOARD_VIEWER_TOKEN`, `STEM_DASHBOARD_USER` and
//! `STEM_DASHBOARD_PASSWORD`); viewers read, operators act; every action is
//! a POST carrying the session's CSRF token. See `docs/dashboard.md`.
//!
//! ```no_run
//! # async fn demo(stem: stem::Stem) -> Result<(), stem_cli::dashboard::Error> {
//! use stem_cli::dashboard::{Config, serve};
//!
//! let dashboard = serve(stem, Config::from_env("127.0.0.1:8080".parse().unwrap())?).await?;
//! println!("http://{}", dashboard.addr());
//! dashboard.stop().await;
//! # Ok(()) }
//! ```

mod assets;
mod auth;
mod config;
mod error;
mod layout;
mod pages;
mod problem;
mod sampler;
mod server;
mod sessions;
mod state;

pub use self::config::{Config, HIDE_VAR, PASSWORD_VAR, TOKEN_VAR, USER_VAR, VIEWER_TOKEN_VAR};
pub use self::error::Error;
pub use self::server::{Dashboard, serve};
