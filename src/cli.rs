//! One function per subcommand; `main.rs` only parses arguments.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

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
        /// Log format on stderr.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Audit trail tools.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Policies: reload them in a running exchange.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Documents for the data-protection officer.
    #[command(subcommand)]
    Report(ReportCmd),
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Ask the running exchange (admin listener) to reload the registry and policies.
    Reload {
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
    },
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
    /// Re-check the audit chain; exit 1 and the first bad record on tampering.
    Verify {
        #[arg(long, default_value = "tamis.toml")]
        config: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TAMIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sled=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Init { dir } => init(&dir),
        Command::Serve { config, listen, admin_listen, log_format } => {
            init_logging(log_format);
            serve(&config, listen, admin_listen)
        }
        Command::Audit(AuditCmd::Verify { config }) => audit_verify(&config),
        Command::Policy(PolicyCmd::Reload { config }) => policy_reload(&config),
        Command::Report(ReportCmd::Processing { config, format }) => report_processing(&config, format),
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
--data '{{\"indicators\":[{{\"type\":\"url\",\"value\":\"https://secure-bank.example/login?email=jean.dupont%40orange.fr\",\"category\":\"phishing\",\"confidence\":80,\"tlp\":\"green\",\"description\":\"Customer Jean Dupont (+33 6 12 34 56 78) entered credentials.\"}}]}}'\n\n\
# isp-a submits a C2 address\n\
{isp} -H 'Content-Type: application/json' https://{host}/v1/submissions \\\n  \
--data '{{\"indicators\":[{{\"type\":\"ipv4\",\"value\":\"185.220.101.4\",\"category\":\"c2\",\"tlp\":\"green\"}}]}}'\n\n\
# police-a follows the sanitised feed (pass the returned \"next\" as since= to resume)\n\
{police} 'https://{host}/v1/indicators?since=0&limit=100'\n\n\
# dpo-a checks who it is (audit endpoints: /v1/audit, /v1/policies)\n\
{dpo} https://{host}/v1/whoami\n\n\
# a role a participant lacks is refused with 403\n\
{police} -H 'Content-Type: application/json' https://{host}/v1/submissions --data '{{\"indicators\":[]}}'\n",
        bank = curl("bank-a"),
        isp = curl("isp-a"),
        police = curl("police-a"),
        dpo = curl("dpo-a"),
    )
}

fn serve(config_path: &Path, listen: Option<SocketAddr>, admin_listen: Option<SocketAddr>) -> ExitCode {
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

fn audit_verify(config_path: &Path) -> ExitCode {
    let cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tamis audit verify: {e}");
            return ExitCode::from(2);
        }
    };
    let key = match crate::config::read_key(&cfg.keys.storage) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("tamis audit verify: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match crate::store::SledStore::open(&cfg.data_dir, &key) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "tamis audit verify: cannot open {} ({e}); if the server is running, use GET /v1/audit/verify",
                cfg.data_dir.display()
            );
            return ExitCode::from(2);
        }
    };
    match store.verify_audit() {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).expect("serialise"));
            if v.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("tamis audit verify: {e}");
            ExitCode::FAILURE
        }
    }
}

fn policy_reload(config_path: &Path) -> ExitCode {
    let cfg = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tamis policy reload: {e}");
            return ExitCode::from(2);
        }
    };
    // A plain HTTP/1.1 POST to the loopback admin listener.
    use std::io::{Read, Write};
    let addr = cfg.admin_listen;
    let mut s = match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tamis policy reload: cannot reach the admin listener at {addr}: {e} (is the exchange running?)");
            return ExitCode::FAILURE;
        }
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let req = format!("POST /reload HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let mut resp = String::new();
    if s.write_all(req.as_bytes()).is_err() || s.read_to_string(&mut resp).is_err() {
        eprintln!("tamis policy reload: no answer from {addr}");
        return ExitCode::FAILURE;
    }
    let ok = resp.starts_with("HTTP/1.1 200");
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    if ok {
        println!("{body}");
        ExitCode::SUCCESS
    } else {
        eprintln!("tamis policy reload: refused, the previous policies stay in force: {body}");
        ExitCode::FAILURE
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
    let mut files: Vec<_> = match std::fs::read_dir(&cfg.policies_dir) {
        Ok(d) => {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect()
        }
        Err(e) => return fail(format!("{}: {e}", cfg.policies_dir.display())),
    };
    files.sort();
    for f in files {
        match crate::policy::Policy::load(&f) {
            Ok(p) => policies.push(p),
            Err(e) => return fail(e.to_string()),
        }
    }
    policies.sort_by_key(|p| (p.id != cfg.default_policy, p.id.clone()));
    // Policy history needs the store; it is locked while the server runs.
    let history = crate::config::read_key(&cfg.keys.storage)
        .ok()
        .and_then(|k| crate::store::SledStore::open(&cfg.data_dir, &k).ok())
        .and_then(|s| crate::store::Store::policy_versions(&*s).ok());
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
