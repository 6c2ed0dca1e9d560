//! Minimal command line for the privacy branch: `tamis policy ...` only.
//! The full binary (serve, init, audit...) replaces this at merge and calls
//! [`tamis::policy_cli::run`].
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tamis",
    version,
    about = "Threat-indicator exchange with privacy filtering"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check, dry-run and explain privacy policies.
    #[command(subcommand)]
    Policy(tamis::policy_cli::PolicyCmd),
}

fn main() -> std::process::ExitCode {
    match Cli::parse().cmd {
        Cmd::Policy(p) => tamis::policy_cli::run(p),
    }
}
