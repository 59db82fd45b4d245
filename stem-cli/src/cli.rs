//! [`Cli`]: the command tree, built from the linked catalog, parsed, and
//! dispatched to the command that runs.

use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;

use clap::{Args as _, Command, FromArgMatches};
use stem::Stem;
use stem::worker::WorkerBuilder;

use crate::catalog::Catalog;
use crate::commands;
use crate::context::{ConfigureWorker, Context};
use crate::error::{Failure, Outcome, USAGE};
use crate::output::Output;

// The options every command takes (a plain comment: a doc comment would
// become the about text of the commands it is added to).
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Global options")]
struct Global {
    /// The broker's URL [default: sqlite://stem.db]
    #[arg(long, global = true, env = "STEM_BROKER_URL", hide_env_values = true, value_name = "URL")]
    broker: Option<String>,
    /// The result backend's URL [default: the broker's]
    #[arg(long, global = true, env = "STEM_RESULT_BACKEND_URL", hide_env_values = true, value_name = "URL")]
    backend: Option<String>,
    /// A routing file (TOML): task patterns to queues, aliases, priorities, broadcasts
    #[arg(long, global = true, env = "STEM_ROUTING_CONFIG", hide_env_values = true, value_name = "FILE")]
    routing: Option<std::path::PathBuf>,
    /// Print one JSON document on stdout, for scripts
    #[arg(long, global = true)]
    json: bool,
    /// Log more (-v: info, -vv: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// The command line of an application: its linked tasks, workflows and event
/// topics, checked before anything is sent.
///
/// ```no_run
/// # async fn demo(stem: stem::Stem) -> std::process::ExitCode {
/// stem_cli::Cli::new().stem(stem).worker(|b| b.concurrency(32)).run().await
/// # }
/// ```
#[derive(Default)]
pub struct Cli {
    stem: Option<Stem>,
    worker: Option<ConfigureWorker>,
}

impl Cli {
    /// The command line of this binary, connecting to the stores the
    /// `--broker` and `--backend` URLs (or `STEM_BROKER_URL` and
    /// `STEM_RESULT_BACKEND_URL`, or `sqlite://stem.db`) name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs on `stem` instead: `--broker`, `--backend` and the variables are
    /// then not read.
    #[must_use]
    pub fn stem(mut self, stem: Stem) -> Self {
        self.stem = Some(stem);
        self
    }

    /// Configures the workers `worker` runs; the command's flags are applied
    /// after, so flags given on the command line win.
    #[must_use]
    pub fn worker(mut self, configure: impl FnOnce(WorkerBuilder) -> WorkerBuilder + Send + 'static) -> Self {
        self.worker = Some(Box::new(configure));
        self
    }

    /// Parses the process's arguments, runs the command and gives its exit
    /// code: 0 success, 1 failure, 64 usage or invalid input.
    pub async fn run(self) -> ExitCode {
        self.run_from(std::env::args_os()).await
    }

    /// [`run`](Self::run) on the arguments `args` (the first is the program's name).
    pub async fn run_from<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        match self.execute(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => failure.report(),
        }
    }

    async fn execute<I, T>(self, args: I) -> Outcome
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let catalog = Catalog::linked();
        let matches = match command(&catalog).try_get_matches_from(args) {
            Ok(matches) => matches,
            Err(error) => {
                let code = if error.use_stderr() { USAGE } else { 0 };
                let _ = error.print();
                return if code == 0 { Ok(()) } else { Err(Failure::silent(code)) };
            }
        };
        let global = Global::from_arg_matches(&matches).map_err(Failure::usage)?;
        // The routing file is checked before anything runs.
        let routing = match global.routing.filter(|path| !path.as_os_str().is_empty()) {
            Some(path) => Some((stem::routing::Routing::load(&path).map_err(Failure::from)?, path)),
            None => None,
        };
        let telemetry = crate::telemetry::install(global.verbose);
        let broker = global.broker.unwrap_or_else(|| stem_adapters::DEFAULT_URL.to_owned());
        let backend = global.backend.unwrap_or_else(|| broker.clone());
        let mut ctx = Context::new(Output::new(global.json), catalog, self.stem, (broker, backend), self.worker);
        if let Some((routing, path)) = routing {
            ctx = ctx.with_routing(path, routing);
        }
        let (name, sub) = matches.subcommand().ok_or_else(|| Failure::usage("no command given; see --help"))?;
        let outcome = commands::run(&ctx, name, sub, command).await;
        telemetry.flush().await;
        outcome
    }
}

impl fmt::Debug for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cli").field("stem", &self.stem).field("worker", &self.worker.is_some()).finish()
    }
}

/// The whole command tree, with a subcommand of `enqueue` per linked task
/// and of `wf start` per linked workflow.
pub(crate) fn command(catalog: &Catalog) -> Command {
    let root = Command::new("stem")
        .about("Stem: typed background jobs and durable workflows")
        .long_about(
            "Stem: typed background jobs and durable workflows.\n\n\
             Runs workers, enqueues tasks and reads their results, replays dead letters, watches queues \
             and workers, drives workflow runs, and applies and fires Beat schedules, on the stores the URLs \
             name. Exit codes: 0 success, \
             1 failure, 64 usage or invalid input.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true);
    commands::tree(Global::augment_args(root), catalog)
}
