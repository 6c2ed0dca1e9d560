#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Panic messages can quote the data being processed (a slicing error
    // prints the string): log where, never what.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("tamis: internal error at {at} (details withheld: they may contain submitted data)");
    }));
    tamis::cli::run(tamis::cli::Cli::parse())
}
