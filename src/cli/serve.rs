//! `tamis serve`, and the quick start printed after an automatic init.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{CliError, failed, unusable};
use crate::config::Config;

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

/// The listen addresses given on the command line, over `tamis.toml`'s.
pub(super) struct Overrides {
    pub listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub admin_allow_remote: bool,
}

/// A listen address: `IP:PORT`, or `HOST:PORT` resolved to its first address.
pub(super) fn listen_address(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    use std::net::ToSocketAddrs;
    let mut addrs = s.to_socket_addrs().map_err(|e| format!("not HOST:PORT or IP:PORT ({e})"))?;
    addrs.next().ok_or_else(|| format!("{s} resolves to no address"))
}

/// `tamis serve`: without `--config`, inits `.` first when it has no
/// `tamis.toml`; a configuration named on the command line must exist (a
/// typo never creates a new CA). Then runs until SIGINT or SIGTERM.
pub(super) fn serve(config: Option<&Path>, overrides: Overrides) -> Result<(), CliError> {
    let mut fresh = None;
    let config_path = config.unwrap_or(Path::new("tamis.toml"));
    if !config_path.exists() {
        if config.is_some() {
            return Err(failed(format!(
                "{} does not exist (`tamis init DIR` writes a new deployment)",
                config_path.display()
            )));
        }
        crate::deploy::init(Path::new("."))
            .map_err(|e| failed(format!("no {} and init failed: {e}", config_path.display())))?;
        fresh = Some(PathBuf::from("."));
    }
    let mut cfg = Config::load(config_path).map_err(unusable)?;
    if let Some(l) = overrides.listen {
        cfg.listen = l;
    }
    if let Some(l) = overrides.admin_listen {
        cfg.admin_listen = l;
    }
    cfg.admin_allow_remote |= overrides.admin_allow_remote;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the runtime: {e}")))?;
    rt.block_on(run(cfg, fresh))
}

/// Loads the deployment, binds both listeners and serves until a signal;
/// then finishes in-flight requests and closes the store.
async fn run(cfg: Config, fresh: Option<PathBuf>) -> Result<(), CliError> {
    let loaded = crate::deploy::load(&cfg).map_err(|e| {
        // sled's lock on the data directory, as a sentence rather than a Rust debug string.
        let text = e.to_string();
        if text.contains("could not acquire lock") || text.contains("WouldBlock") {
            failed(format!(
                "another tamis is running on this data directory ({}); stop it first",
                cfg.data_dir.display()
            ))
        } else {
            unusable(e)
        }
    })?;
    let (hooks, hook_settings) = crate::webhooks::prepare(&cfg).map_err(unusable)?;
    let bind = |addr: SocketAddr, what: &'static str| async move {
        tokio::net::TcpListener::bind(addr).await.map_err(|e| failed(format!("cannot listen on {addr}{what}: {e}")))
    };
    let listener = bind(cfg.listen, "").await?;
    let admin = bind(cfg.admin_listen, " (admin)").await?;
    let addr = crate::server::local(&listener);
    // admin.addr is on disk before the "listening" line, so a tool that
    // waits for that line finds it (run_admin writes the same address).
    let _ = std::fs::write(cfg.admin_addr_file(), format!("{}\n", crate::server::local(&admin)));
    tracing::info!(%addr, admin = %crate::server::local(&admin), "tamis listening (mutual TLS)");
    if let Some(dir) = &fresh {
        eprintln!("{}", quick_start(addr, dir));
    }
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let stopped = |mut rx: tokio::sync::broadcast::Receiver<()>| async move {
        let _ = rx.recv().await;
    };
    let rpz = match cfg.rpz.listen {
        Some(addr) => Some(bind_rpz(addr).await?),
        None => None,
    };
    let cfg = Arc::new(cfg);
    let rpz_task = rpz.map(|(udp, tcp)| {
        tokio::spawn(crate::rpz::run(udp, tcp, rpz_inputs(&cfg, &loaded.state), stopped(stop_tx.subscribe())))
    });
    let hooks_task =
        tokio::spawn(crate::webhooks::run(hooks, hook_settings, loaded.state.clone(), stopped(stop_tx.subscribe())));
    let admin_task = tokio::spawn(crate::server::run_admin(
        admin,
        loaded.state.clone(),
        Some(cfg.clone()),
        stopped(stop_tx.subscribe()),
    ));
    #[cfg(unix)]
    tokio::spawn(reload_on_hangup(cfg.clone(), loaded.state.clone()));
    let api = tokio::spawn(crate::server::run(
        listener,
        loaded.tls.clone(),
        loaded.state.clone(),
        stopped(stop_tx.subscribe()),
    ));
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(());
    let _ = api.await;
    let _ = admin_task.await;
    let _ = hooks_task.await;
    if let Some(t) = rpz_task {
        let _ = t.await;
    }
    drop(loaded.state);
    loaded.store.close();
    tracing::info!("stopped; every acknowledged submission is on disk");
    Ok(())
}

/// The UDP socket and TCP listener of the RPZ zone transfer.
async fn bind_rpz(addr: SocketAddr) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener), CliError> {
    let err = |e: std::io::Error| failed(format!("cannot listen on {addr} ([rpz] listen): {e}"));
    let tcp = tokio::net::TcpListener::bind(addr).await.map_err(err)?;
    // Port 0: the UDP socket takes the port the TCP listener got.
    let udp = tokio::net::UdpSocket::bind(crate::server::local(&tcp)).await.map_err(err)?;
    tracing::info!(addr = %crate::server::local(&tcp), "RPZ zone transfer listening (DNS over UDP and TCP, TSIG)");
    Ok((udp, tcp))
}

/// What the RPZ listener serves, from the configuration and the state. An
/// `allow_unsigned` entry whose participant cannot pull blocklists now is
/// named in a warning (its requests are refused until it can: the registry
/// may change without a restart).
pub fn rpz_inputs(cfg: &Config, state: &crate::app::AppState) -> crate::rpz::RpzInputs {
    let registry = state.registry.load();
    for a in &cfg.rpz.allow_unsigned {
        let usable =
            registry.get(&a.participant).is_some_and(|p| !p.revoked && p.has(crate::identity::Role::Blocklist));
        if !usable {
            tracing::warn!(participant = %a.participant, "[rpz] allow_unsigned names a participant that is not registered, is revoked or has no blocklist role: its unsigned requests are refused");
        }
    }
    crate::rpz::RpzInputs {
        registry: state.registry.clone(),
        blocklists: state.blocklists.clone(),
        zone: cfg.rpz.zone.clone(),
        keys_dir: cfg.rpz.keys_dir.clone(),
        notify: cfg.rpz.notify.clone(),
        history: cfg.rpz.history,
        store: state.store.clone(),
        allow_unsigned: cfg.rpz.allow_unsigned.clone(),
        metrics: state.metrics.rpz.clone(),
    }
}

/// Reloads the registry, the CRL and the policies on SIGHUP.
#[cfg(unix)]
async fn reload_on_hangup(cfg: Arc<Config>, state: Arc<crate::app::AppState>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        if let Err(e) = crate::deploy::reload(&cfg, &state).await {
            tracing::error!(error = %e, "reload refused; the previous registry and policies stay in force");
        }
    }
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
