//! One function per subcommand; `main.rs` only parses arguments.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use rustls_pki_types::pem::PemObject;

use crate::config::Config;
use crate::store::Store;

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
    /// Run the exchange (inits `.` first when there is no config).
    Serve {
        /// Configuration file.
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
        /// Override the mutual-TLS listen address.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Override the admin listen address.
        #[arg(long)]
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
    /// Re-identify an escrowed value for a legal order (recorded in the audit trail).
    Reveal {
        /// The escrow token (`esc:v1:…`).
        token: String,
        /// Why: the legal order or case reference. Recorded.
        #[arg(long)]
        reason: String,
        /// The escrow private key (hex); the server never holds it.
        #[arg(long)]
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
        /// Comma-separated: submit, feed, blocklist, audit.
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
    Engine(crate::policy_cli::EngineCmd),
}

#[derive(Subcommand, Debug)]
pub enum ReportCmd {
    /// The record of processing (GDPR Art. 30 style).
    Processing {
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
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

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Init { dir } => init(&dir),
        Command::Serve { config, listen, admin_listen, admin_allow_remote, log_format } => {
            init_logging(log_format);
            serve(&config, listen, admin_listen, admin_allow_remote)
        }
        Command::Audit(AuditCmd::Verify { config, expect_head }) => audit_verify(&config, expect_head.as_deref()),
        Command::Policy(PolicyCmd::Reload { admin_listen, config }) => policy_reload(&config, admin_listen),
        Command::Policy(PolicyCmd::Engine(cmd)) => crate::policy_cli::run(cmd),
        Command::Reveal { token, reason, escrow_key, operator, admin_listen, config } => {
            reveal(&config, &token, &reason, &escrow_key, operator, admin_listen)
        }
        Command::Participant(ParticipantCmd::Add { name, kind, roles, sector, audiences, admin_listen, config }) => {
            participant_add(&config, &name, &kind, &roles, sector, audiences, admin_listen)
        }
        Command::Participant(ParticipantCmd::Revoke { name, cert, admin_listen, config }) => {
            participant_revoke(&config, &name, cert.as_deref(), admin_listen)
        }
        Command::Participant(ParticipantCmd::Rotate { name, admin_listen, config }) => {
            participant_rotate(&config, &name, admin_listen)
        }
        Command::Report(ReportCmd::Processing { config, format }) => report_processing(&config, format),
        Command::Keys(KeysCmd::Rotate { config }) => keys_rotate(&config),
    }
}

fn init(dir: &Path) -> ExitCode {
    match crate::deploy::init(dir) {
        Ok(r) => {
            println!("Wrote a development deployment to {}", r.dir.display());
            println!("Start it with: tamis serve --config {}", r.config.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tamis init: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The quick start printed after an automatic init.
pub fn quick_start(addr: SocketAddr, dir: &Path) -> String {
    let host = if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    };
    let d = if dir == Path::new(".") { String::new() } else { format!("{}/", dir.display()) };
    let curl = |who: &str| format!("curl --cacert {d}certs/ca.pem --cert {d}certs/{who}.pem --key {d}certs/{who}.key");
    format!(
        "\n\
=== tamis quick start ===\n\
A development deployment was created (CA, server and participant certificates in {d}certs/).\n\n\
# Who am I? (any participant)\n\
{bank} https://{host}/v1/whoami\n\n\
# bank-a submits a phishing URL (personal data is stripped before storage)\n\
{bank} -H 'Content-Type: application/json' https://{host}/v1/submissions \\\n  \
--data '{{\"indicators\":[{{\"type\":\"url\",\"value\":\"https://secure-bank.example.com/login?email=jean.dupont%40orange.fr\",\"category\":\"phishing\",\"confidence\":80,\"tlp\":\"green\",\"description\":\"Customer Jean Dupont (+33 6 12 34 56 78) entered credentials.\"}}]}}'\n\n\
# isp-a submits a C2 address\n\
{isp} -H 'Content-Type: application/json' https://{host}/v1/submissions \\\n  \
--data '{{\"indicators\":[{{\"type\":\"ipv4\",\"value\":\"185.220.101.4\",\"category\":\"c2\",\"tlp\":\"green\"}}]}}'\n\n\
# police-a follows the sanitised feed (pass the returned \"next\" as since= to resume), or TAXII 2.1\n\
{police} 'https://{host}/v1/indicators?since=0&limit=100'\n\
{police} -H 'Accept: application/taxii+json;version=2.1' https://{host}/taxii2/\n\n\
# isp-a pulls a blocklist (also domains.rpz, hosts.txt, ips.txt, urls.txt, indicators.csv)\n\
{isp} https://{host}/v1/blocklists/domains.txt\n\n\
# dpo-a reads and verifies the audit trail, and the policies\n\
{dpo} 'https://{host}/v1/audit?after=0&limit=20'\n\
{dpo} https://{host}/v1/audit/verify\n\
{dpo} https://{host}/v1/policies\n\n\
# a role a participant lacks is refused with 403\n\
{police} -H 'Content-Type: application/json' https://{host}/v1/submissions --data '{{\"indicators\":[]}}'\n",
        bank = curl("bank-a"),
        isp = curl("isp-a"),
        police = curl("police-a"),
        dpo = curl("dpo-a"),
    )
}

fn serve(
    config_path: &Path,
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    admin_allow_remote: bool,
) -> ExitCode {
    let mut fresh = None;
    if !config_path.exists() {
        let dir = config_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if config_path.file_name() != Some(std::ffi::OsStr::new("tamis.toml")) {
            eprintln!("tamis serve: {} does not exist", config_path.display());
            return ExitCode::FAILURE;
        }
        match crate::deploy::init(dir) {
            Ok(_) => fresh = Some(dir.to_path_buf()),
            Err(e) => {
                eprintln!("tamis serve: no {} and init failed: {e}", config_path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let mut cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tamis serve: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(l) = listen {
        cfg.listen = l;
    }
    if let Some(l) = admin_listen {
        cfg.admin_listen = l;
    }
    cfg.admin_allow_remote |= admin_allow_remote;
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tamis serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let loaded = match crate::deploy::load(&cfg) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("tamis serve: {e}");
                return ExitCode::from(2);
            }
        };
        let listener = match tokio::net::TcpListener::bind(cfg.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("tamis serve: cannot listen on {}: {e}", cfg.listen);
                return ExitCode::FAILURE;
            }
        };
        let admin = match tokio::net::TcpListener::bind(cfg.admin_listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("tamis serve: cannot listen on {} (admin): {e}", cfg.admin_listen);
                return ExitCode::FAILURE;
            }
        };
        let addr = crate::server::local(&listener);
        // admin.addr is on disk before the "listening" line, so a tool that
        // waits for that line finds it (run_admin writes the same address).
        let _ = std::fs::write(cfg.admin_addr_file(), format!("{}\n", crate::server::local(&admin)));
        tracing::info!(%addr, admin = %crate::server::local(&admin), "tamis listening (mutual TLS)");
        if let Some(dir) = &fresh {
            eprintln!("{}", quick_start(addr, dir));
        }
        let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let mut rx1 = stop_tx.subscribe();
        let mut rx2 = stop_tx.subscribe();
        let cfg = Arc::new(cfg);
        let admin_task =
            tokio::spawn(crate::server::run_admin(admin, loaded.state.clone(), Some(cfg.clone()), async move {
                let _ = rx2.recv().await;
            }));
        #[cfg(unix)]
        {
            let state = loaded.state.clone();
            let cfg = cfg.clone();
            tokio::spawn(async move {
                let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
                    return;
                };
                while hup.recv().await.is_some() {
                    if let Err(e) = crate::deploy::reload(&cfg, &state).await {
                        tracing::error!(error = %e, "reload refused; the previous registry and policies stay in force");
                    }
                }
            });
        }
        let api = tokio::spawn(crate::server::run(listener, loaded.tls.clone(), loaded.state.clone(), async move {
            let _ = rx1.recv().await;
        }));
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_tx.send(());
        let _ = api.await;
        let _ = admin_task.await;
        drop(loaded.state);
        loaded.store.close();
        tracing::info!("stopped; every acknowledged submission is on disk");
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn audit_verify(config_path: &Path, expect_head: Option<&str>) -> ExitCode {
    let cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tamis audit verify: {e}");
            return ExitCode::from(2);
        }
    };
    let expected = match expect_head.map(parse_head).transpose() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("tamis audit verify: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match crate::deploy::open_store(&cfg) {
        Ok(s) => s,
        Err(e) if e.starts_with("cannot open") => {
            eprintln!("tamis audit verify: {e}; if the server is running, use GET /v1/audit/verify");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("tamis audit verify: {e}");
            return ExitCode::from(2);
        }
    };
    match crate::store::offline(store.verify_audit()) {
        Ok(mut v) => {
            if v.ok
                && let Some((seq, hash)) = &expected
                && let Err(e) = store.check_head(*seq, hash)
            {
                v.ok = false;
                v.first_bad = Some(crate::audit::BadRecord { seq: *seq, problem: e });
            }
            println!("{}", serde_json::to_string_pretty(&v).expect("serialise"));
            match &v.first_bad {
                None => eprintln!("audit chain ok: {} records", v.records),
                Some(b) => {
                    eprintln!("tamis audit verify: FAILED at record {}: {} ({} records)", b.seq, b.problem, v.records)
                }
            }
            if v.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("tamis audit verify: {e}");
            ExitCode::from(2)
        }
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

/// `PATH` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Writes a new 0600 key file and syncs it to disk.
fn write_key_file(path: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    crate::config::write_new_file(path, hex::encode(key).as_bytes(), true)
}

fn keys_rotate(config_path: &Path) -> ExitCode {
    let fail = |e: String| {
        eprintln!("tamis keys rotate: {e}");
        ExitCode::from(2)
    };
    let cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let old = match crate::config::read_secret_key(&cfg.keys.storage) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    // The new key is on disk before anything is re-encrypted, so an
    // interrupted rotation is finished by running the command again.
    let new_path = with_suffix(&cfg.keys.storage, ".new");
    let new = if new_path.exists() {
        match crate::config::read_secret_key(&new_path) {
            Ok(k) => k,
            Err(e) => return fail(e),
        }
    } else {
        let mut k = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut k) {
            return fail(format!("no random source: {e}"));
        }
        if let Err(e) = write_key_file(&new_path, &k) {
            return fail(format!("cannot write {}: {e}", new_path.display()));
        }
        k
    };
    let r = match crate::store::rotate_storage_key(&cfg.data_dir, &old, &new, Some(&cfg.audit_anchor)) {
        Ok(r) => r,
        Err(e) => {
            let msg = e.describe(&cfg.data_dir);
            let hint = if msg.starts_with("cannot open") { "; stop the server first" } else { "" };
            return fail(format!("{msg}{hint}"));
        }
    };
    let retired = with_suffix(&cfg.keys.storage, &format!(".retired-{}", r.old_id));
    if !retired.exists()
        && let Err(e) = write_key_file(&retired, &old)
    {
        return fail(format!("cannot keep the old key in {}: {e}", retired.display()));
    }
    if let Err(e) = std::fs::rename(&new_path, &cfg.keys.storage) {
        return fail(format!("cannot install the new key {}: {e} (run the command again)", new_path.display()));
    }
    println!(
        "storage key rotated: {} values re-encrypted under key id {} (was {}); audit anchor {}",
        r.records,
        r.new_id,
        r.old_id,
        if r.anchor_rewritten { "re-authenticated" } else { "absent or not valid, left as it was" }
    );
    println!(
        "the old key is kept in {} for backups of data/ made before now; delete it when none needs it",
        retired.display()
    );
    ExitCode::SUCCESS
}

fn policy_reload(config_path: &Path, admin_listen: Option<SocketAddr>) -> ExitCode {
    let cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tamis policy reload: {e}");
            return ExitCode::from(2);
        }
    };
    let target =
        admin_target(&cfg, admin_listen).unwrap_or(AdminTarget { addr: cfg.admin_listen, from: "admin_listen" });
    match reload_running(&cfg, &target) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tamis policy reload: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where the CLI reaches a deployment's running exchange.
struct AdminTarget {
    addr: SocketAddr,
    /// Where the address came from, for messages.
    from: &'static str,
}

/// The admin address of this deployment's running exchange: `--admin-listen`,
/// else the address the server wrote to `admin.addr`. `None` when neither
/// (no server of this deployment has started).
fn admin_target(cfg: &Config, flag: Option<SocketAddr>) -> Option<AdminTarget> {
    if let Some(addr) = flag {
        return Some(AdminTarget { addr, from: "--admin-listen" });
    }
    let text = std::fs::read_to_string(cfg.admin_addr_file()).ok()?;
    Some(AdminTarget { addr: text.trim().parse().ok()?, from: "admin.addr" })
}

/// Asks the exchange at `target` to reload, with the admin token and this
/// deployment's id (an exchange of another deployment refuses); the summary
/// names the deployment that was reloaded and what was loaded.
fn reload_running(cfg: &Config, target: &AdminTarget) -> Result<String, String> {
    let (status, body) = admin_post(cfg, target.addr, "/reload", &[], "")
        .map_err(|e| format!("{e} ({} from {}; is the exchange running?)", target.addr, target.from))?;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let message = v["error"]["message"].as_str().unwrap_or(body.trim()).to_owned();
    match status {
        200 => {
            let policies: Vec<&str> =
                v["reloaded"].as_array().map(|a| a.iter().filter_map(|p| p.as_str()).collect()).unwrap_or_default();
            Ok(format!(
                "reloaded deployment {} ({}) at {}: {} participants ({} revoked), CRL {}, policies {}",
                v["deployment"].as_str().unwrap_or("?"),
                v["directory"].as_str().unwrap_or("?"),
                target.addr,
                v["participants"],
                v["revoked"],
                v["crl"].as_str().unwrap_or("none"),
                policies.join(", ")
            ))
        }
        401 => Err(format!(
            "refused by the exchange at {} ({}): wrong or missing admin token; it is not this deployment's \
             exchange, or its token ({}) changed; nothing was reloaded",
            target.addr,
            target.from,
            cfg.keys.admin_token.display()
        )),
        409 => Err(format!("refused by the exchange at {} ({}): {message}", target.addr, target.from)),
        _ => Err(format!("refused, the previous registry and policies stay in force: {message}")),
    }
}

/// After a registry or CRL change: reload this deployment's running exchange
/// when one is known (`--admin-listen` or `admin.addr`). `Err` when one was
/// reached but did not reload.
fn apply_to_running(cfg: &Config, flag: Option<SocketAddr>) -> Result<(), String> {
    let Some(target) = admin_target(cfg, flag) else {
        println!("no running exchange recorded for this deployment; apply it with: tamis policy reload (or SIGHUP)");
        return Ok(());
    };
    match reload_running(cfg, &target) {
        Ok(summary) => {
            println!("{summary}");
            Ok(())
        }
        // A stale admin.addr: the exchange is not running.
        Err(e) if flag.is_none() && e.contains("cannot reach") => {
            println!(
                "no exchange answers at {} (admin.addr); apply it with: tamis policy reload (or SIGHUP)",
                target.addr
            );
            Ok(())
        }
        Err(e) => Err(format!("the files are written but the running exchange was not reloaded: {e}")),
    }
}

fn report_processing(config_path: &Path, format: ReportFormat) -> ExitCode {
    let fail = |e: String| {
        eprintln!("tamis report processing: {e}");
        ExitCode::from(2)
    };
    let cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let registry = match crate::identity::Registry::load(&cfg.participants) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    let mut policies = Vec::new();
    let files = match crate::deploy::policy_files(&cfg.policies_dir) {
        Ok(f) => f,
        Err(e) => return fail(e.to_string()),
    };
    for f in files {
        match crate::policy::Policy::load(&f) {
            Ok(p) => policies.push(p),
            Err(e) => return fail(e.to_string()),
        }
    }
    policies.sort_by_key(|p| (p.id != cfg.default_policy, p.id.clone()));
    // Policy history needs the store; it is locked while the server runs.
    let history = crate::deploy::open_store(&cfg).ok().and_then(|s| crate::store::offline(s.policy_versions()).ok());
    if history.is_none() {
        eprintln!("note: policy history omitted (the store is in use by a running server or absent)");
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
    ExitCode::SUCCESS
}

/// The participant CA with its private key (only these commands read it).
fn load_ca(cfg: &Config) -> Result<crate::pki::Ca, String> {
    let key_path = cfg.tls.ca_key.clone().unwrap_or_else(|| cfg.tls.ca.with_extension("key"));
    crate::config::check_secret_file(&key_path)?;
    match (std::fs::read_to_string(&cfg.tls.ca), std::fs::read_to_string(key_path)) {
        (Ok(c), Ok(k)) => crate::pki::Ca::from_pem(&c, &k).map_err(|e| e.to_string()),
        _ => Err(format!("cannot read the CA certificate and key next to {}", cfg.tls.ca.display())),
    }
}

/// A plain HTTP/1.1 POST to the admin listener at `addr`, with the admin
/// token and this deployment's id: `(status, body)`.
fn admin_post(
    cfg: &Config,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let token = crate::config::read_admin_token(&cfg.keys.admin_token)?;
    let deployment = crate::deploy::deployment_id(cfg).map_err(|e| e.to_string())?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5))
        .map_err(|e| format!("cannot reach the admin listener at {addr}: {e}"))?;
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nX-Tamis-Deployment: {deployment}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let mut resp = String::new();
    if s.write_all(req.as_bytes()).is_err() || s.read_to_string(&mut resp).is_err() {
        return Err(format!("no answer from {addr}"));
    }
    let status = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, resp.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()))
}

fn participant_add(
    config_path: &Path,
    name: &str,
    kind: &str,
    roles: &[String],
    sector: Option<String>,
    audiences: Vec<String>,
    admin_listen: Option<SocketAddr>,
) -> ExitCode {
    let fail = |e: String| {
        eprintln!("tamis participant add: {e}");
        ExitCode::FAILURE
    };
    let cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    if !crate::identity::valid_name(name) {
        return fail(format!("invalid name {name:?} (use a-z, 0-9 and '-')"));
    }
    let kind: crate::identity::Kind = match kind.parse() {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let roles: Vec<crate::identity::Role> = match roles.iter().map(|r| r.parse()).collect() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if roles.is_empty() {
        return fail("give at least one role with --roles".into());
    }
    let registry = match crate::identity::Registry::load(&cfg.participants) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    if registry.get(name).is_some() {
        return fail(format!("participant {name:?} already exists"));
    }
    let ca = match load_ca(&cfg) {
        Ok(ca) => ca,
        Err(e) => return fail(e),
    };
    let issued = match ca.issue_client(name, name) {
        Ok(i) => i,
        Err(e) => return fail(e.to_string()),
    };
    let dir = cfg.tls.ca.parent().unwrap_or(Path::new("."));
    let (pem, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    if pem.exists() || key.exists() {
        return fail(format!("{} or its key already exists", pem.display()));
    }
    let entry = crate::identity::Participant {
        id: name.to_owned(),
        kind,
        roles,
        sector,
        audiences,
        policy: None,
        fingerprints: Some(vec![issued.fingerprint.clone()]),
        disclose_name: false,
        revoked: false,
    };
    let block = match toml::to_string(&crate::identity::RegistryFile { participants: vec![entry] }) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let write = || -> std::io::Result<()> {
        std::fs::write(&pem, &issued.cert_pem)?;
        crate::config::write_new_file(&key, issued.key_pem.as_bytes(), true)?;
        let mut reg = std::fs::OpenOptions::new().append(true).open(&cfg.participants)?;
        std::io::Write::write_all(&mut reg, format!("\n{block}").as_bytes())
    };
    if let Err(e) = write() {
        return fail(e.to_string());
    }
    println!("registered {name}: certificate {} (SHA-256 {})", pem.display(), issued.fingerprint);
    match apply_to_running(&cfg, admin_listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// What the CLI reads from a certificate file.
struct CertFile {
    fingerprint: String,
    /// The `urn:tamis:participant:` SAN, if any.
    san: Option<String>,
    /// Serial number (DER content bytes), for the CRL.
    serial: Vec<u8>,
}

fn read_cert(path: &Path) -> Result<CertFile, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem)
        .map_err(|_| format!("{}: not a PEM certificate", path.display()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|_| format!("{}: not an X.509 certificate", path.display()))?;
    let info = crate::identity::CertInfo::from_der(der.as_ref());
    Ok(CertFile { fingerprint: info.fingerprint, san: info.san_participant, serial: cert.raw_serial().to_vec() })
}

/// The registry file as data (rewritten by revoke and rotate; comments are lost).
fn read_registry(cfg: &Config) -> Result<crate::identity::RegistryFile, String> {
    let text =
        std::fs::read_to_string(&cfg.participants).map_err(|e| format!("{}: {e}", cfg.participants.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", cfg.participants.display()))
}

fn registry_text(file: &crate::identity::RegistryFile) -> Result<String, String> {
    let t = toml::to_string_pretty(file).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Participant registry: who may connect and with which roles.\n\
         # A fingerprints list is an allow-list: only those certificates are accepted;\n\
         # an entry without one is recognised by its urn:tamis:participant:<id> SAN.\n\n{t}"
    ))
}

/// Writes a new CRL: every serial of the current CRL, the certificates of
/// revoked participants (`NAME.pem` and the `NAME.SERIAL.pem` kept by
/// rotations), and `extra`. Returns the CRL path, its number and its size.
fn write_crl(
    cfg: &Config,
    file: &crate::identity::RegistryFile,
    extra: &[Vec<u8>],
) -> Result<(PathBuf, u64, usize), String> {
    let dir = cfg.tls.ca.parent().unwrap_or(Path::new(".")).to_path_buf();
    let crl_path = cfg.tls.crl.clone().unwrap_or_else(|| dir.join("crl.pem"));
    let mut serials: Vec<Vec<u8>> = extra.to_vec();
    if let Ok(pem) = std::fs::read(&crl_path) {
        let der = rustls_pki_types::CertificateRevocationListDer::from_pem_slice(&pem)
            .map_err(|_| format!("{}: not a PEM CRL", crl_path.display()))?;
        let (_, crl) = x509_parser::parse_x509_crl(der.as_ref())
            .map_err(|_| format!("{}: not a valid CRL", crl_path.display()))?;
        serials.extend(crl.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()));
    }
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    for p in file.participants.iter().filter(|p| p.revoked) {
        let (exact, rotated) = (format!("{}.pem", p.id), format!("{}.", p.id));
        for f in &files {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if (name == exact || (name.starts_with(&rotated) && name.ends_with(".pem")))
                && let Ok(c) = read_cert(f)
                && c.san.as_deref() == Some(p.id.as_str())
            {
                serials.push(c.serial);
            }
        }
    }
    serials.sort();
    serials.dedup();
    let ca = load_ca(cfg)?;
    let number_file = dir.join("crl.number");
    let number = std::fs::read_to_string(&number_file).ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0) + 1;
    let crl = ca.crl(number, &serials).map_err(|e| e.to_string())?;
    std::fs::write(&crl_path, crl)
        .and_then(|()| std::fs::write(&number_file, number.to_string()))
        .map_err(|e| format!("{}: {e}", crl_path.display()))?;
    Ok((crl_path, number, serials.len()))
}

fn participant_revoke(
    config_path: &Path,
    name: &str,
    cert: Option<&Path>,
    admin_listen: Option<SocketAddr>,
) -> ExitCode {
    let fail = |e: String| {
        eprintln!("tamis participant revoke: {e}");
        ExitCode::FAILURE
    };
    let cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let mut file = match read_registry(&cfg) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let dir = cfg.tls.ca.parent().unwrap_or(Path::new(".")).to_path_buf();
    let Some(p) = file.participants.iter_mut().find(|p| p.id == name) else {
        return fail(format!("no participant {name:?}"));
    };
    let mut extra = Vec::new();
    let what = match cert {
        None => {
            p.revoked = true;
            format!("revoked {name}")
        }
        Some(path) => {
            let c = match read_cert(path) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            if c.san.as_deref() != Some(name) && !p.fingerprints.iter().flatten().any(|f| f == &c.fingerprint) {
                return fail(format!("{} is not a certificate of {name}", path.display()));
            }
            let current = read_cert(&dir.join(format!("{name}.pem"))).ok();
            if current.as_ref().is_some_and(|cur| cur.fingerprint == c.fingerprint) {
                return fail(format!(
                    "{} is {name}'s current certificate (certs/{name}.pem); issue a new one first with \
                     tamis participant rotate {name}, or revoke the participant without --cert",
                    path.display()
                ));
            }
            if p.fingerprints.is_none() {
                // Recognised by its SAN so far: pin the current certificate,
                // so that no other certificate with the SAN is accepted.
                match current {
                    Some(cur) => p.fingerprints = Some(vec![cur.fingerprint]),
                    None => {
                        return fail(format!(
                            "{name} lists no fingerprints and certs/{name}.pem is missing: add the fingerprint of \
                             its current certificate to {} first",
                            cfg.participants.display()
                        ));
                    }
                }
            }
            let listed = p.fingerprints.get_or_insert_with(Vec::new);
            listed.retain(|f| f != &c.fingerprint);
            if listed.is_empty() {
                println!(
                    "note: {name} now has no accepted certificate; issue one with tamis participant rotate {name}"
                );
            }
            extra.push(c.serial);
            format!("revoked certificate {} of {name} (SHA-256 {})", path.display(), c.fingerprint)
        }
    };
    let text = match registry_text(&file) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    if let Err(e) = std::fs::write(&cfg.participants, text) {
        return fail(format!("{}: {e}", cfg.participants.display()));
    }
    let (crl_path, number, n) = match write_crl(&cfg, &file, &extra) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    println!("{what}; CRL {} (number {number}) lists {n} certificate(s)", crl_path.display());
    if cfg.tls.crl.is_none() {
        println!(
            "note: tamis.toml has no [tls] crl entry; add crl = \"{}\" so the server checks it",
            crl_path.display()
        );
    }
    match apply_to_running(&cfg, admin_listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn participant_rotate(config_path: &Path, name: &str, admin_listen: Option<SocketAddr>) -> ExitCode {
    let fail = |e: String| {
        eprintln!("tamis participant rotate: {e}");
        ExitCode::FAILURE
    };
    let cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let mut file = match read_registry(&cfg) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let Some(p) = file.participants.iter_mut().find(|p| p.id == name) else {
        return fail(format!("no participant {name:?}"));
    };
    if p.revoked {
        return fail(format!("{name} is revoked; register a new participant instead"));
    }
    let ca = match load_ca(&cfg) {
        Ok(ca) => ca,
        Err(e) => return fail(e),
    };
    let dir = cfg.tls.ca.parent().unwrap_or(Path::new(".")).to_path_buf();
    let (pem, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    let old = match read_cert(&pem) {
        Ok(c) => Some(c),
        Err(_) if !pem.exists() => None,
        Err(e) => return fail(e),
    };
    let issued = match ca.issue_client(name, name) {
        Ok(i) => i,
        Err(e) => return fail(e.to_string()),
    };
    let listed = p.fingerprints.get_or_insert_with(|| {
        // It was recognised by its SAN: keep the old certificate working
        // until it is revoked, now as a listed fingerprint.
        old.iter().map(|o| o.fingerprint.clone()).collect()
    });
    listed.push(issued.fingerprint.clone());
    let text = match registry_text(&file) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let archived = old.as_ref().map(|o| {
        let serial = hex::encode(&o.serial);
        (dir.join(format!("{name}.{serial}.pem")), dir.join(format!("{name}.{serial}.key")))
    });
    let write = || -> std::io::Result<()> {
        if let Some((apem, akey)) = &archived {
            std::fs::rename(&pem, apem)?;
            if key.exists() {
                std::fs::rename(&key, akey)?;
            }
        }
        std::fs::write(&pem, &issued.cert_pem)?;
        crate::config::write_new_file(&key, issued.key_pem.as_bytes(), true)?;
        std::fs::write(&cfg.participants, text)
    };
    if let Err(e) = write() {
        return fail(e.to_string());
    }
    println!("rotated {name}: new certificate {} (SHA-256 {})", pem.display(), issued.fingerprint);
    if let Some((apem, _)) = &archived {
        println!(
            "the old certificate, now {}, keeps working until: tamis participant revoke {name} --cert {}",
            apem.display(),
            apem.display()
        );
    }
    match apply_to_running(&cfg, admin_listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn reveal(
    config_path: &Path,
    token: &str,
    reason: &str,
    key_path: &Path,
    operator: Option<String>,
    admin_listen: Option<SocketAddr>,
) -> ExitCode {
    let fail = |e: String| {
        eprintln!("tamis reveal: {e}");
        ExitCode::FAILURE
    };
    if reason.trim().len() < 8 {
        return fail("give the legal basis with --reason (at least 8 characters)".into());
    }
    let key = match crate::config::read_secret_key(key_path) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let (kind, value) = match crate::privacy::escrow::open(&key, token.trim()) {
        Ok(v) => v,
        Err(e) => return fail(e.to_string()),
    };
    let operator = operator.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let event = crate::audit::AuditEvent::Reveal { operator, reason: reason.to_owned(), token_type: kind.clone() };
    // Record first: no reveal without its audit record.
    if let Err(e) = record_event(config_path, &event, admin_listen) {
        return fail(format!("not revealed: the audit record could not be written ({e})"));
    }
    println!("{kind}: {}", String::from_utf8_lossy(&value));
    ExitCode::SUCCESS
}

/// Appends an audit event: through this deployment's running exchange
/// (admin listener, with the admin token) when it runs, else directly to the
/// store.
fn record_event(
    config_path: &Path,
    event: &crate::audit::AuditEvent,
    admin_listen: Option<SocketAddr>,
) -> Result<(), String> {
    let cfg = Config::load(config_path).map_err(|e| e.to_string())?;
    let body = serde_json::to_string(event).expect("serialise");
    let headers = [("Content-Type", "application/json")];
    let target = admin_target(&cfg, admin_listen).map_or(cfg.admin_listen, |t| t.addr);
    let admin = admin_post(&cfg, target, "/audit", &headers, &body);
    if let Ok((200, _)) = admin {
        return Ok(());
    }
    // No exchange, not ours, or it refused: write to the store, which fails
    // if our own exchange holds it.
    let store = crate::deploy::open_store(&cfg).map_err(|e| match &admin {
        Ok((status, _)) => format!("the exchange at {target} answered {status}; {e}"),
        Err(a) => format!("{a}; {e}"),
    })?;
    let r = crate::store::offline(store.audit(event.clone()));
    store.close();
    r.map(|_| ()).map_err(|e| e.to_string())
}
