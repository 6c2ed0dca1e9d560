//! Talking to the running exchange of a deployment: its admin listener
//! (plain HTTP on loopback, with the admin token and the deployment id), found
//! through `--admin-listen` or the `admin.addr` file the server writes.

use std::net::SocketAddr;
use std::path::Path;

use super::{CliError, failed, unusable};
use crate::config::Config;

/// `tamis policy reload`.
pub(super) fn policy_reload(config_path: &Path, admin_listen: Option<SocketAddr>) -> Result<(), CliError> {
    let cfg = Config::load(config_path).map_err(unusable)?;
    let target =
        admin_target(&cfg, admin_listen).unwrap_or(AdminTarget { addr: cfg.admin_listen, from: "admin_listen" });
    println!("{}", reload_running(&cfg, &target).map_err(failed)?);
    Ok(())
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

/// The record of processing served by this deployment's running exchange
/// (`/record.md` or `/record` on its admin listener), with the policy
/// history the store holds. `None` when no exchange of this deployment
/// answers (then the CLI reads the files and, if it can, the store);
/// `Some(Err)` when one answered but not with the record.
pub(super) fn running_record(cfg: &Config, flag: Option<SocketAddr>, html: bool) -> Option<Result<String, String>> {
    use std::io::{Read, Write};
    let target = admin_target(cfg, flag)?;
    let mut s = std::net::TcpStream::connect_timeout(&target.addr, std::time::Duration::from_secs(5)).ok()?;
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let path = if html { "/record" } else { "/record.md" };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", target.addr);
    let mut resp = Vec::new();
    if s.write_all(req.as_bytes()).is_err() || s.read_to_end(&mut resp).is_err() {
        return None;
    }
    let resp = String::from_utf8_lossy(&resp);
    let (head, body) = resp.split_once("\r\n\r\n")?;
    let ours = crate::deploy::deployment_id(cfg).ok()?;
    let theirs = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("x-tamis-deployment").then(|| v.trim().to_owned())
    });
    if theirs.as_deref() != Some(ours.as_str()) {
        // Another deployment's exchange took the port: not ours to print.
        return None;
    }
    Some(match head.get(9..12) {
        Some("200") => Ok(body.to_owned()),
        status => Err(format!(
            "the running exchange at {} ({}) answered {} for {path}",
            target.addr,
            target.from,
            status.unwrap_or("?")
        )),
    })
}

/// After a registry or CRL change: reload this deployment's running exchange
/// when one is known (`--admin-listen` or `admin.addr`). `Err` when one was
/// reached but did not reload.
pub(super) fn apply_to_running(cfg: &Config, flag: Option<SocketAddr>) -> Result<(), String> {
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

/// Appends an audit event: through this deployment's running exchange
/// (admin listener, with the admin token) when it runs, else directly to the
/// store.
pub(super) fn record_event(
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
    let r = crate::store::offline(crate::store::Store::audit(&*store, event.clone()));
    store.close();
    r.map(|_| ()).map_err(|e| e.to_string())
}
