//! `dashboard [--addr ADDR]`: the web dashboard of the store, until Ctrl-C
//! or SIGTERM (see `crate::dashboard` and docs/dashboard.md).

use std::net::SocketAddr;

use clap::{Arg, ArgMatches, Command, value_parser};

use super::beat::Signals;
use crate::context::Context;
use crate::dashboard::{self, Config, Error};
use crate::error::{Failure, Outcome};

pub(super) fn command() -> Command {
    Command::new("dashboard")
        .about("Serves the web dashboard: queues, tasks, dead letters, workers, workflow runs and schedules")
        .long_about(
            "Serves the web dashboard until Ctrl-C or SIGTERM: queues, tasks, dead letters (replay, purge), workers \
             (ping, shutdown), workflow runs (cancel, rewind, events) and schedules (enable, disable). On a \
             non-loopback address it needs credentials: STEM_DASHBOARD_TOKEN (operator), STEM_DASHBOARD_VIEWER_TOKEN \
             (read only), or STEM_DASHBOARD_USER and STEM_DASHBOARD_PASSWORD (operator). STEM_DASHBOARD_HIDE \
             (task name patterns, comma-separated) hides those tasks' argument and result values.",
        )
        .arg(
            Arg::new("addr")
                .long("addr")
                .value_name("ADDR")
                .default_value("127.0.0.1:8080")
                .value_parser(value_parser!(SocketAddr))
                .help("The address to listen on (a non-loopback one needs credentials)"),
        )
}

pub(super) async fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let addr = *matches.get_one::<SocketAddr>("addr").ok_or_else(|| Failure::usage("--addr is needed"))?;
    let config = Config::from_env(addr).map_err(refused)?;
    let mut signals = Signals::install()?;
    let stem = ctx.stem().await?;
    let protected = config_note(addr);
    let running = dashboard::serve(stem, config).await.map_err(refused)?;
    eprintln!("dashboard on http://{} ({protected}); Ctrl-C or SIGTERM stops it", running.addr());
    signals.recv().await;
    running.stop().await;
    Ok(())
}

/// Who can use it, for the start line (never a secret).
fn config_note(addr: SocketAddr) -> &'static str {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    if set(dashboard::TOKEN_VAR) || set(dashboard::VIEWER_TOKEN_VAR) || set(dashboard::USER_VAR) {
        "credentials required"
    } else if addr.ip().is_loopback() {
        "no credentials configured: every local visitor is an operator"
    } else {
        "unprotected"
    }
}

fn refused(error: Error) -> Failure {
    match error {
        Error::Bind { .. } => Failure::failed(format!(
            "{error}: {}",
            std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default()
        )),
        _ => Failure::usage(error.to_string()),
    }
}
