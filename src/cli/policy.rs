//! `tamis policy check | dry-run | explain` (SPEC §3).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::{CliError, failed, unusable};
use crate::pipeline::ingest::Format;
use crate::pipeline::{self, Input, InputError};
use crate::policy::Policy;
use crate::privacy::{Keys, Sanitiser};

/// The offline `tamis policy` subcommands (flattened into [`super::PolicyCmd`]
/// next to `reload`, which talks to a running exchange).
#[derive(Debug, clap::Subcommand)]
pub enum EngineCmd {
    /// Validate policy files; prints `file:line: message` and exits 1 on error.
    Check {
        /// Policy files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Sanitise a submission body offline and print the result as JSON.
    DryRun {
        /// The policy to apply.
        #[arg(long)]
        policy: PathBuf,
        /// Add, per indicator, which rule did what to which field.
        #[arg(long)]
        explain: bool,
        /// 64 hex digits: the pseudonym HMAC key (default: a random key, so
        /// tokens only link within this run).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Submission body (SPEC §5 JSON); `-` or nothing for standard input.
        input: Option<PathBuf>,
    },
    /// Describe a policy in plain language for a data-protection officer.
    Explain {
        /// The policy file.
        file: PathBuf,
    },
}

/// Runs one subcommand. Errors start with the file (`file:line: message`);
/// the exit status is 1 for a bad policy or input, 2 when an input cannot
/// be read at all.
pub fn run(cmd: EngineCmd) -> Result<(), CliError> {
    match cmd {
        EngineCmd::Check { files } => check(&files),
        EngineCmd::Explain { file } => {
            print!("{}", Policy::load(&file).map_err(failed)?.explain());
            Ok(())
        }
        EngineCmd::DryRun { policy, explain, key_file, input } => {
            let out = dry_run(&policy, explain, key_file.as_deref(), input.as_deref())?;
            let mut stdout = std::io::stdout().lock();
            let _ = serde_json::to_writer(&mut stdout, &out);
            let _ = writeln!(stdout);
            Ok(())
        }
    }
}

/// Loads every file, printing `file: ok (version)` for each good one; the
/// error lists every bad one.
fn check(files: &[PathBuf]) -> Result<(), CliError> {
    let mut errors = Vec::new();
    for f in files {
        match Policy::load_all(f) {
            Ok(p) => println!("{}: ok ({})", f.display(), p.version()),
            Err(all) => errors.extend(all.iter().map(ToString::to_string)),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(failed(errors.join("\n"))) }
}

/// The sanitiser of a policy file, with the pseudonym key of `key_file`
/// (64 hex digits) or a random one.
fn sanitiser(policy: &Path, key_file: Option<&Path>) -> Result<Sanitiser, CliError> {
    let policy = Policy::load(policy).map_err(failed)?;
    let mut keys = Keys::ephemeral().map_err(unusable)?;
    if let Some(kf) = key_file {
        let text = std::fs::read_to_string(kf).map_err(|e| unusable(format!("{}: {e}", kf.display())))?;
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| failed(format!("{}: expected 64 hex digits", kf.display())))?;
        keys.pseudonym.copy_from_slice(&bytes);
    }
    Sanitiser::new(Arc::new(policy), keys).map_err(failed)
}

fn dry_run(policy: &Path, explain: bool, key_file: Option<&Path>, input: Option<&Path>) -> Result<Value, CliError> {
    let sanitiser = sanitiser(policy, key_file)?;
    let mut body = Vec::new();
    match input {
        None => std::io::stdin().read_to_end(&mut body),
        Some(p) if p.as_os_str() == "-" => std::io::stdin().read_to_end(&mut body),
        Some(p) => std::fs::File::open(p).and_then(|mut f| f.read_to_end(&mut body)),
    }
    .map_err(|e| unusable(format!("cannot read input: {e}")))?;
    dry_run_body(&sanitiser, &body, explain).map_err(|e| failed(format!("input: {e}")))
}

/// Sanitises a submission body (SPEC §5 JSON) through the same pipeline as
/// the API and returns the dry-run document, identical to what
/// `POST /v1/policies/{id}/dry-run` answers (`pipeline::Processed::dry_run_json`).
/// Errors never quote the input.
pub fn dry_run_body(sanitiser: &Sanitiser, body: &[u8], explain: bool) -> Result<Value, InputError> {
    let input = Input { format: Format::Json, body, max_indicators: usize::MAX };
    Ok(pipeline::dry_run(input, sanitiser, explain)?.dry_run_json())
}
