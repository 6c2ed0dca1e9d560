//! The command line: one function per subcommand, each returning a
//! [`CliError`] that `main` prints once, exiting with the status the error
//! owns. `main.rs` only parses arguments.
//!
//! - this file: the commands and their arguments, `audit verify`, `report
//!   processing`, `reveal`;
//! - [`serve`]: `tamis serve` and the quick start;
//! - [`policy`]: `tamis policy check | dry-run | explain` (offline);
//! - [`remote`]: talking to a running exchange's admin listener (`tamis
//!   policy reload`, and after registry changes);
//! - [`participant`]: `tamis participant add | revoke | rotate`;
//! - [`keys`]: `tamis keys rotate`;
//! - [`lookup`]: `tamis lookup`, the private lookup's client.

mod keys;
mod lookup;
mod participant;
pub mod policy;
mod remote;
pub mod serve;

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;

/// Why a command failed. `main` prints it once on stderr and exits with
/// the status of its variant.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command could not do what was asked, or found a problem (a bad
    /// policy file, a tampered audit chain, a refused reload): exit 1.
    #[error("{0}")]
    Failed(String),
    /// The deployment or an input cannot be used at all (configuration,
    /// store, key file, unreadable input): exit 2.
    #[error("{0}")]
    Unusable(String),
    /// A negative answer already printed on stdout (`tamis lookup`:
    /// `unknown`): exit 1, nothing on stderr.
    #[error("")]
    Negative,
}

impl CliError {
    /// The process exit status.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Failed(_) | CliError::Negative => ExitCode::FAILURE,
            CliError::Unusable(_) => ExitCode::from(2),
        }
    }

    /// The same error with the command named first (`tamis keys rotate: …`).
    fn within(self, command: &str) -> CliError {
        match self {
            CliError::Failed(m) => CliError::Failed(format!("{command}: {m}")),
            CliError::Unusable(m) => CliError::Unusable(format!("{command}: {m}")),
            CliError::Negative => CliError::Negative,
        }
    }
}

/// A [`CliError::Failed`] saying `e`.
pub(crate) fn failed(e: impl Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// A [`CliError::Unusable`] saying `e`.
pub(crate) fn unusable(e: impl Display) -> CliError {
    CliError::Unusable(e.to_string())
}

#[derive(Parser, Debug)]
#[command(name = "tamis", version, about = "A threat-indicator exchange with privacy filtering over mutual TLS")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a ready-to-run development deployment into DIR (default `.`).
    Init {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run the exchange (without --config, inits `.` first when it has no tamis.toml).
    Serve {
        /// Configuration file (default `./tamis.toml`); never created: a
        /// missing file given here is an error.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override the mutual-TLS listen address (`HOST:PORT`; a host name
        /// is resolved, its first address used).
        #[arg(long, value_parser = serve::listen_address)]
        listen: Option<SocketAddr>,
        /// Override the admin listen address (`HOST:PORT`, as --listen).
        #[arg(long, value_parser = serve::listen_address)]
        admin_listen: Option<SocketAddr>,
        /// Accept a non-loopback admin address (plain HTTP; see admin_allow_remote).
        #[arg(long)]
        admin_allow_remote: bool,
        /// Log format on stderr.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Audit trail tools.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Policies: check, dry-run, explain; reload them in a running exchange.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Privately ask whether an IBAN, phone or e-mail is known as a fraud
    /// identifier (role lookup; the exchange never sees it). Prints `known`
    /// (exit 0) or `unknown` (exit 1); errors exit 2.
    #[command(group(clap::ArgGroup::new("identifier").required(true).args(["iban", "phone", "email"])))]
    Lookup {
        /// The exchange, `https://HOST:PORT`.
        #[arg(long)]
        url: String,
        /// The exchange's CA certificate (PEM).
        #[arg(long)]
        cacert: PathBuf,
        /// This participant's certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// This participant's private key (PEM).
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        iban: Option<String>,
        /// International format (+33…, 0033…).
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Re-identify an escrowed value for a legal order (recorded in the audit trail).
    Reveal {
        /// The escrow token (`esc:v1:…`).
        token: String,
        /// Why: the legal order or case reference. Recorded.
        #[arg(long)]
        reason: String,
        /// Path of the FILE holding the escrow private key (64 hex digits,
        /// mode 0600; `tamis init` writes keys/escrow-private.key). Never the
        /// key itself on the command line. The server never holds it.
        #[arg(long, value_name = "FILE")]
        escrow_key: PathBuf,
        /// Who is revealing (recorded); defaults to $USER.
        #[arg(long)]
        operator: Option<String>,
        /// Admin address of the running exchange (default: the address it
        /// wrote to admin.addr, else admin_listen).
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
    },
    /// Documents for the data-protection officer.
    #[command(subcommand)]
    Report(ReportCmd),
    /// Register or revoke participants.
    #[command(subcommand)]
    Participant(ParticipantCmd),
    /// Storage-key management.
    #[command(subcommand)]
    Keys(KeysCmd),
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Re-encrypt the whole store under a new storage key (server stopped). The old key is kept as
    /// `storage.key.retired-N` for backups made before; delete it when none needs it.
    Rotate {
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ParticipantCmd {
    /// Issue a client certificate (certs/NAME.pem, .key) and register it.
    Add {
        name: String,
        /// bank, isp, law-enforcement or auditor.
        #[arg(long)]
        kind: String,
        /// Comma-separated: submit, feed, blocklist, audit, lookup (default
        /// from the kind: bank submit,lookup; isp submit,blocklist;
        /// law-enforcement feed; auditor audit).
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Sector shown to consumers (default from the kind).
        #[arg(long)]
        sector: Option<String>,
        /// Comma-separated audiences (default from the kind).
        #[arg(long, value_delimiter = ',')]
        audiences: Vec<String>,
        /// Admin address of the running exchange to reload (default: admin.addr).
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
    },
    /// Revoke a participant (marked revoked, its certificates put on the CRL),
    /// or with --cert only one of its certificates (put on the CRL and its
    /// fingerprint removed from the registry); the participant stays.
    Revoke {
        name: String,
        /// Revoke only this certificate (PEM), e.g. the certs/NAME.SERIAL.pem kept by `rotate`.
        #[arg(long)]
        cert: Option<PathBuf>,
        /// Admin address of the running exchange to reload (default: admin.addr).
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
    },
    /// Write a new TSIG key for a participant with the blocklist role (RPZ zone
    /// transfer): keys/tsig/NAME.key for the exchange and certs/NAME.tsig.conf
    /// for the participant. An existing key is replaced and stops working at once.
    Tsig {
        name: String,
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
    },
    /// Issue a new certificate for a participant: certs/NAME.pem and .key are
    /// replaced (the old ones kept as certs/NAME.SERIAL.pem and .key) and the
    /// new fingerprint is added to the registry. The old certificate works
    /// until `tamis participant revoke NAME --cert certs/NAME.SERIAL.pem`.
    Rotate {
        name: String,
        /// Admin address of the running exchange to reload (default: admin.addr).
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Ask the running exchange of this deployment (admin listener, with the
    /// admin token) to reload the registry, the CRL and the policies.
    Reload {
        /// Admin address of the running exchange (default: the address it
        /// wrote to admin.addr next to tamis.toml, else admin_listen).
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
    },
    #[command(flatten)]
    Engine(policy::EngineCmd),
}

#[derive(Subcommand, Debug)]
pub enum ReportCmd {
    /// The record of processing (GDPR Art. 30(1)). When this deployment's
    /// exchange runs, its admin listener serves it with the policy history.
    Processing {
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        /// Admin address of the running exchange (default: admin.addr).
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Re-check the audit chain against its anchor; print the record count;
    /// exit 1 on tampering, rollback or truncation, 2 when it cannot be read.
    Verify {
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
        /// A head seen earlier (`X-Tamis-Audit-Head`, `SEQ:HASH`) that the chain must still contain.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Log filter: `TAMIS_LOG`, else `RUST_LOG`, else `info,sled=warn`; colours
/// only when stderr is a terminal.
pub fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = ["TAMIS_LOG", "RUST_LOG"]
        .into_iter()
        .find_map(|var| tracing_subscriber::EnvFilter::try_from_env(var).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info,sled=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

impl Command {
    /// How errors name the command; `None` for `tamis policy check | dry-run
    /// | explain`, whose messages start with the file (`file:line: message`).
    fn name(&self) -> Option<&'static str> {
        Some(match self {
            Command::Init { .. } => "tamis init",
            Command::Serve { .. } => "tamis serve",
            Command::Audit(AuditCmd::Verify { .. }) => "tamis audit verify",
            Command::Policy(PolicyCmd::Reload { .. }) => "tamis policy reload",
            Command::Policy(PolicyCmd::Engine(_)) => return None,
            Command::Reveal { .. } => "tamis reveal",
            Command::Lookup { .. } => "tamis lookup",
            Command::Participant(ParticipantCmd::Add { .. }) => "tamis participant add",
            Command::Participant(ParticipantCmd::Revoke { .. }) => "tamis participant revoke",
            Command::Participant(ParticipantCmd::Rotate { .. }) => "tamis participant rotate",
            Command::Participant(ParticipantCmd::Tsig { .. }) => "tamis participant tsig",
            Command::Report(ReportCmd::Processing { .. }) => "tamis report processing",
            Command::Keys(KeysCmd::Rotate { .. }) => "tamis keys rotate",
        })
    }
}

/// Runs a command; its error names the command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let name = cli.command.name();
    dispatch(cli.command).map_err(|e| match name {
        Some(n) => e.within(n),
        None => e,
    })
}

fn dispatch(command: Command) -> Result<(), CliError> {
    match command {
        Command::Init { dir } => init(&dir),
        Command::Serve { config, listen, admin_listen, admin_allow_remote, log_format } => {
            init_logging(log_format);
            serve::serve(config.as_deref(), serve::Overrides { listen, admin_listen, admin_allow_remote })
        }
        Command::Audit(AuditCmd::Verify { config, expect_head }) => audit_verify(&config, expect_head.as_deref()),
        Command::Policy(PolicyCmd::Reload { admin_listen, config }) => remote::policy_reload(&config, admin_listen),
        Command::Policy(PolicyCmd::Engine(cmd)) => policy::run(cmd),
        Command::Reveal { token, reason, escrow_key, operator, admin_listen, config } => {
            reveal(&config, &token, &reason, &escrow_key, operator, admin_listen)
        }
        Command::Participant(ParticipantCmd::Add { name, kind, roles, sector, audiences, admin_listen, config }) => {
            let new = participant::NewParticipant { name: &name, kind: &kind, roles: &roles, sector, audiences };
            participant::add(&config, new, admin_listen)
        }
        Command::Participant(ParticipantCmd::Revoke { name, cert, admin_listen, config }) => {
            participant::revoke(&config, &name, cert.as_deref(), admin_listen)
        }
        Command::Participant(ParticipantCmd::Tsig { name, config }) => participant::tsig(&config, &name),
        Command::Participant(ParticipantCmd::Rotate { name, admin_listen, config }) => {
            participant::rotate(&config, &name, admin_listen)
        }
        Command::Report(ReportCmd::Processing { config, format, admin_listen }) => {
            report_processing(&config, format, admin_listen)
        }
        Command::Keys(KeysCmd::Rotate { config }) => keys::rotate(&config),
        Command::Lookup { url, cacert, cert, key, iban, phone, email } => {
            use crate::model::IndicatorType;
            let (kind, value) = match (iban, phone, email) {
                (Some(v), ..) => (IndicatorType::Iban, v),
                (_, Some(v), _) => (IndicatorType::Phone, v),
                (.., Some(v)) => (IndicatorType::Email, v),
                _ => return Err(unusable("give --iban, --phone or --email")),
            };
            let args = lookup::LookupArgs { url, cacert, cert, key, kind, value };
            if lookup::lookup(&args)? {
                println!("known");
                Ok(())
            } else {
                println!("unknown");
                Err(CliError::Negative)
            }
        }
    }
}

fn init(dir: &Path) -> Result<(), CliError> {
    let r = crate::deploy::init(dir).map_err(failed)?;
    println!("Wrote a development deployment to {}", r.dir.display());
    println!("Start it with: tamis serve --config {}", r.config.display());
    Ok(())
}

fn audit_verify(config_path: &Path, expect_head: Option<&str>) -> Result<(), CliError> {
    let cfg = Config::load(config_path).map_err(unusable)?;
    let expected = expect_head.map(parse_head).transpose().map_err(unusable)?;
    let store = crate::deploy::open_store(&cfg).map_err(|e| {
        let hint =
            if e.starts_with("cannot open") { "; if the server is running, use GET /v1/audit/verify" } else { "" };
        unusable(format!("{e}{hint}"))
    })?;
    let mut v = crate::store::offline(store.verify_audit()).map_err(unusable)?;
    if v.ok
        && let Some((seq, hash)) = &expected
        && let Err(e) = store.check_head(*seq, hash)
    {
        v.ok = false;
        v.first_bad = Some(crate::audit::BadRecord { seq: *seq, problem: e });
    }
    println!("{}", serde_json::to_string_pretty(&v).expect("serialise"));
    match &v.first_bad {
        None if v.ok => {
            eprintln!("audit chain ok: {} records", v.records);
            Ok(())
        }
        None => Err(failed(format!("FAILED ({} records)", v.records))),
        Some(b) => Err(failed(format!("FAILED at record {}: {} ({} records)", b.seq, b.problem, v.records))),
    }
}

/// `SEQ:HASH` as in `X-Tamis-Audit-Head`.
fn parse_head(s: &str) -> Result<(u64, String), String> {
    let bad = || format!("--expect-head must be SEQ:HASH (as in X-Tamis-Audit-Head), not {s:?}");
    let (seq, hash) = s.split_once(':').ok_or_else(bad)?;
    let seq = seq.trim().parse().map_err(|_| bad())?;
    let hash = hash.trim().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((seq, hash))
}

fn report_processing(
    config_path: &Path,
    format: ReportFormat,
    admin_listen: Option<SocketAddr>,
) -> Result<(), CliError> {
    let cfg = Config::load(config_path).map_err(unusable)?;
    let html = matches!(format, ReportFormat::Html);
    // A running exchange holds the store: it serves the full record itself.
    if let Some(r) = remote::running_record(&cfg, admin_listen, html) {
        print!("{}", r.map_err(failed)?);
        return Ok(());
    }
    let registry = crate::identity::Registry::load(&cfg.participants).map_err(unusable)?;
    let mut policies = Vec::new();
    for f in crate::deploy::policy_files(&cfg.policies_dir).map_err(unusable)? {
        policies.push(crate::policy::Policy::load(&f).map_err(unusable)?);
    }
    policies.sort_by_key(|p| (p.id != cfg.default_policy, p.id.clone()));
    let history = crate::deploy::open_store(&cfg).ok().and_then(|s| {
        let h = crate::store::offline(s.policy_versions()).ok();
        s.close();
        h
    });
    if history.is_none() {
        eprintln!("note: policy history omitted (the store could not be read and no running exchange answered)");
    }
    let inputs = crate::report::ProcessingInputs {
        config: &cfg,
        registry: &registry,
        policies: policies.iter().collect(),
        default_policy: &cfg.default_policy,
        history,
        generated: time::OffsetDateTime::now_utc(),
    };
    match format {
        ReportFormat::Md => print!("{}", crate::report::processing_markdown(&inputs)),
        ReportFormat::Html => print!("{}", crate::report::processing_html(&inputs)),
    }
    Ok(())
}

/// Reads the escrow private key from its file. An argument that is not an
/// existing file may be the key itself pasted by mistake: errors then never
/// repeat it, and no error quotes the file's content.
fn read_escrow_key(path: &Path) -> Result<[u8; 32], CliError> {
    if !path.is_file() {
        let arg = path.as_os_str().to_string_lossy();
        let looks_like_key = arg.len() >= 32 && arg.chars().all(|c| c.is_ascii_alphanumeric() || "+/=-_".contains(c));
        return Err(failed(if looks_like_key {
            "--escrow-key takes the path of the key FILE, not the key: this argument is not a file and looks \
             like key material (not repeated here; clear it from your shell history)"
                .to_owned()
        } else {
            format!(
                "--escrow-key {}: no such file (give the path of the escrow private key file, e.g. \
                 keys/escrow-private.key)",
                path.display()
            )
        }));
    }
    crate::config::read_secret_key(path).map_err(failed)
}

fn reveal(
    config_path: &Path,
    token: &str,
    reason: &str,
    key_path: &Path,
    operator: Option<String>,
    admin_listen: Option<SocketAddr>,
) -> Result<(), CliError> {
    if reason.trim().len() < 8 {
        return Err(failed("give the legal basis with --reason (at least 8 characters)"));
    }
    let key = read_escrow_key(key_path)?;
    let (kind, value) = crate::privacy::escrow::open(&key, token.trim()).map_err(failed)?;
    let operator = operator.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let event = crate::audit::AuditEvent::Reveal { operator, reason: reason.to_owned(), token_type: kind.clone() };
    // Record first: no reveal without its audit record.
    remote::record_event(config_path, &event, admin_listen)
        .map_err(|e| failed(format!("not revealed: the audit record could not be written ({e})")))?;
    println!("{kind}: {}", String::from_utf8_lossy(&value));
    Ok(())
}
