//! The `apiary` binary.

use std::process::ExitCode;

use clap::Parser;

use apiary_server::{cli::Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any other thread exists: adopting a passed socket clears LISTEN_FDS.
    apiary_server::listener::adopt_inherited();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("apiary: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Tracing may not be up yet (a bad setting), so the reason goes to stderr directly.
            eprintln!("apiary: {error:#}");
            ExitCode::FAILURE
        }
    }
}
