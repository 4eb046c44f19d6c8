//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Apiary: a control plane for fleets of MCP servers.
#[derive(Debug, Parser)]
#[command(name = "apiary", version, about)]
pub struct Cli {
    /// A TOML settings file; `APIARY_*` environment variables override it.
    #[arg(long, global = true, env = "APIARY_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to run (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Apiary's subcommands.
#[derive(Debug, Default, Subcommand)]
pub enum Command {
    /// Serve the console, registry API and gateway (the default).
    #[default]
    Serve,
}
