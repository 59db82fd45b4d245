//! `completions SHELL`: a completion script for bash, zsh or fish, covering
//! the linked tasks and workflows too.

use clap::{Arg, ArgMatches, Command, value_parser};
use clap_complete::Shell;

use crate::cli;
use crate::context::Context;
use crate::error::{Failure, Outcome};

pub(super) fn command() -> Command {
    Command::new("completions")
        .about("Prints a shell completion script (bash, zsh, fish)")
        .long_about(
            "Prints a shell completion script. For bash: `source <(app completions bash)`; for zsh, write it \
             to a file named _app on your $fpath; for fish: `app completions fish | source`.",
        )
        .arg(Arg::new("shell").required(true).value_name("SHELL").value_parser(value_parser!(Shell)))
}

pub(super) fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let shell = *matches.get_one::<Shell>("shell").ok_or_else(|| Failure::usage("name a shell"))?;
    let mut command = cli::command(&ctx.catalog);
    let name = std::env::args()
        .next()
        .and_then(|path| std::path::Path::new(&path).file_name().map(|f| f.to_string_lossy().into_owned()));
    clap_complete::generate(shell, &mut command, name.unwrap_or_else(|| "stem".to_owned()), &mut std::io::stdout());
    Ok(())
}
