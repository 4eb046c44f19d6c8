//! The `apiary` binary.

use std::process::ExitCode;

use clap::Parser;

use apiary_server::{cli::Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Tracing may not be up yet (a bad setting), so the reason goes to stderr directly.
            eprintln!("apiary: {error:#}");
            ExitCode::FAILURE
        }
    }
}
