//! `completions SHELL`: a completion script for bash, zsh or fish, covering
//! the linked tasks and workflows too.

use clap::{Arg, ArgMatches, Command, value_parser};
use clap_complete::Shell;

use crate::catalog::Catalog;
use crate::context::Context;
use crate::error::{Failure, Outcome};

pub(super) fn command() -> Command {
    let me = program();
    Command::new("completions")
        .about("Prints a shell completion script (bash, zsh, fish)")
        .long_about(format!(
            "Prints a shell completion script. For bash: `source <({me} completions bash)`; for zsh, write it \
             to a file named _{me} on your $fpath; for fish: `{me} completions fish | source`."
        ))
        .arg(Arg::new("shell").required(true).value_name("SHELL").value_parser(value_parser!(Shell)))
}

/// Prints the script for the tree `whole` builds.
pub(super) fn run(ctx: &Context, matches: &ArgMatches, whole: fn(&Catalog) -> Command) -> Outcome {
    let shell = *matches.get_one::<Shell>("shell").ok_or_else(|| Failure::usage("name a shell"))?;
    let mut command = whole(&ctx.catalog);
    clap_complete::generate(shell, &mut command, program(), &mut std::io::stdout());
    Ok(())
}

/// The name this binary was run as (`app`, `stem`): what completions complete.
fn program() -> String {
    std::env::args()
        .next()
        .and_then(|path| std::path::Path::new(&path).file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "stem".to_owned())
}
