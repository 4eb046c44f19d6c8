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
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the console, registry API and gateway (the default).
    Serve(ServeArgs),
    /// Run only the MCPServer operator, against the cluster of KUBECONFIG (or in-cluster).
    Operator {
        /// Watch only this namespace (default: APIARY_WATCH_NAMESPACE, else every namespace).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Print the CRD YAML (MCPServer, MCPToolConfig), or write it into a folder.
    Crds {
        /// Write `mcpservers.yaml` and `mcptoolconfigs.yaml` into this folder instead of printing.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

impl Default for Command {
    fn default() -> Self {
        Self::Serve(ServeArgs::default())
    }
}

/// Options of `apiary serve`.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Where MCP servers run: `local` or `kubernetes` (overrides APIARY_RUNTIME).
    #[arg(long)]
    pub runtime: Option<String>,
}
