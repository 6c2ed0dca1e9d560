//! `tamis policy check | dry-run | explain` (SPEC §3).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::model::{IndicatorRejection, Removals, parse_indicator};
use crate::policy::Policy;
use crate::privacy::{Keys, Sanitiser};

/// The offline `tamis policy` subcommands (flattened into `cli::PolicyCmd`
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

/// Runs one subcommand; the exit code is 0 on success, 1 on a bad policy or
/// input, 2 when the input cannot be read at all.
pub fn run(cmd: EngineCmd) -> ExitCode {
    match cmd {
        EngineCmd::Check { files } => {
            let mut ok = true;
            for f in files {
                match Policy::load(&f) {
                    Ok(p) => println!("{}: ok ({})", f.display(), p.version()),
                    Err(e) => {
                        eprintln!("{e}");
                        ok = false;
                    }
                }
            }
            if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        EngineCmd::Explain { file } => match Policy::load(&file) {
            Ok(p) => {
                print!("{}", p.explain());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        },
        EngineCmd::DryRun { policy, explain, key_file, input } => {
            match dry_run(&policy, explain, key_file.as_deref(), input.as_deref()) {
                Ok(out) => {
                    let mut stdout = std::io::stdout().lock();
                    let _ = serde_json::to_writer(&mut stdout, &out);
                    let _ = writeln!(stdout);
                    ExitCode::SUCCESS
                }
                Err((code, msg)) => {
                    eprintln!("{msg}");
                    ExitCode::from(code)
                }
            }
        }
    }
}

fn dry_run(
    policy: &std::path::Path,
    explain: bool,
    key_file: Option<&std::path::Path>,
    input: Option<&std::path::Path>,
) -> Result<Value, (u8, String)> {
    let policy = Policy::load(policy).map_err(|e| (1, e.to_string()))?;
    let mut keys = Keys::ephemeral().map_err(|e| (2, e.to_string()))?;
    if let Some(kf) = key_file {
        let text = std::fs::read_to_string(kf).map_err(|e| (2, format!("{}: {e}", kf.display())))?;
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or((1, format!("{}: expected 64 hex digits", kf.display())))?;
        keys.pseudonym.copy_from_slice(&bytes);
    }
    let sanitiser = Sanitiser::new(Arc::new(policy), keys).map_err(|e| (1, e.to_string()))?;
    let mut body = Vec::new();
    match input {
        None => std::io::stdin().read_to_end(&mut body),
        Some(p) if p.as_os_str() == "-" => std::io::stdin().read_to_end(&mut body),
        Some(p) => std::fs::File::open(p).and_then(|mut f| f.read_to_end(&mut body)),
    }
    .map_err(|e| (2, format!("cannot read input: {e}")))?;
    dry_run_body(&sanitiser, &body, explain).map_err(|m| (1, m))
}

/// Sanitises a submission body (SPEC §5 JSON) and returns the dry-run
/// document: `{"indicators", "rejected", "removed"}`, with an `explain` list
/// per indicator when asked. Errors never quote the input. The API's
/// `POST /v1/policies/{id}/dry-run` builds its own answer through
/// `handlers::sanitise_parsed`: it adds `policy`, and each indicator carries
/// its `index` and `removed` instead of `policy`.
pub fn dry_run_body(sanitiser: &Sanitiser, body: &[u8], explain: bool) -> Result<Value, String> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| format!("input: line {} column {}: not valid JSON", e.line(), e.column()))?;
    let items = doc
        .get("indicators")
        .and_then(Value::as_array)
        .ok_or_else(|| "input: expected {\"indicators\": [...]}".to_owned())?;

    let mut out = Vec::with_capacity(items.len());
    let mut rejected: Vec<IndicatorRejection> = Vec::new();
    let mut removed = Removals::default();
    for (i, item) in items.iter().enumerate() {
        let raw = match parse_indicator(i, item) {
            Ok(r) => r,
            Err(rej) => {
                rejected.push(rej);
                continue;
            }
        };
        let res = if explain {
            sanitiser.sanitise_explained(raw, &mut removed).map(|(s, ex)| (s, Some(ex)))
        } else {
            sanitiser.sanitise(raw, &mut removed).map(|s| (s, None))
        };
        match res {
            Ok((s, ex)) => {
                let mut v = serde_json::to_value(&s).map_err(|e| e.to_string())?;
                if let (Some(ex), Some(obj)) = (ex, v.as_object_mut()) {
                    obj.insert("explain".into(), json!(ex));
                }
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("policy".into(), json!(sanitiser.policy().version()));
                }
                out.push(v);
            }
            Err(r) => rejected.push(IndicatorRejection::new(i, r.field, r.reason)),
        }
    }
    Ok(json!({"indicators": out, "rejected": rejected, "removed": removed}))
}
