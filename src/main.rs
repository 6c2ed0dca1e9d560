#![forbid(unsafe_code)]

use clap::Parser;

/// Parses the arguments and runs the command; its error, if any, is printed
/// here once, and the exit status is the one the error owns.
fn main() -> std::process::ExitCode {
    // Panic messages can quote the data being processed (a slicing error
    // prints the string): log where, never what.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("tamis: internal error at {at} (details withheld: they may contain submitted data)");
    }));
    match tamis::cli::run(tamis::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if !matches!(e, tamis::cli::CliError::Negative) {
                eprintln!("{e}");
            }
            e.exit_code()
        }
    }
}
