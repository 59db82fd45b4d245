//! The `stem` binary: the command line without linked tasks, for operators
//! (dead letters, queues, workers, workflow runs) and scripts. An
//! application's own binary gets the same commands, with its tasks checked,
//! from `stem_cli::run()`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    stem_cli::run().await
}
