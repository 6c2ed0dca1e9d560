#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    tamis::cli::run(tamis::cli::Cli::parse())
}
