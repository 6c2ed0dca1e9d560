//! A real Unbound as a secondary of the exchange's RPZ zone, transferring
//! it directly without TSIG (no released Unbound signs zone transfers): the
//! exchange allows unsigned transfers of isp-a's zone from 127.0.0.1 only
//! (`[rpz] allow_unsigned`). Unbound (on loopback, started by the test)
//! transfers the zone, answers NXDOMAIN for a listed name by RPZ policy,
//! and blocks a newly listed name after the exchange's NOTIFY (the zone's
//! refresh is an hour, so only the NOTIFY can explain a pick-up within the
//! test's 30 s). The transfers are isp-a's pulls in the audit trail,
//! marked unsigned, and counted in the metrics.
//!
//! Skipped (with a `skipped` line) when `unbound` is not installed, unless
//! `TAMIS_REQUIRE_UNBOUND=1`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::rpz::{Rpz, contains, free_port, query, rpz_with, wait_rcode};
use common::{TestServer, submit};
use serde_json::json;
use tamis::config::{SourceNet, UnsignedSource};

fn unbound() -> Option<PathBuf> {
    ["/usr/sbin/unbound", "/usr/bin/unbound"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Kills `unbound` when the test ends, also on a panic.
struct Unbound(Child);

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Unbound on `127.0.0.1@port`, in the foreground, as whoever runs the test
/// (no user change, no chroot), everything in `dir`; the exchange at
/// `primary` is the primary of the policy zone. The names the test lists
/// resolve from local zones (auth zones for the iterator: Unbound's
/// `local-data` would answer before the policy applies), so their NXDOMAIN
/// can only come from the policy zone, and nothing is asked off the host.
fn write_conf(dir: &Path, port: u16, primary: SocketAddr) -> PathBuf {
    let d = dir.display();
    let (pip, pport) = (primary.ip(), primary.port());
    let conf = format!(
        r#"server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    logfile: ""
    use-syslog: no
    verbosity: 2
    module-config: "respip iterator"
    access-control: 127.0.0.0/8 allow
    # The exchange is on loopback here (Unbound refuses to ask 127.0.0.1 otherwise).
    do-not-query-localhost: no
remote-control:
    control-enable: no
rpz:
    name: "rpz.tamis"
    primary: {pip}@{pport}
    allow-notify: {pip}
    zonefile: "{d}/rpz.tamis.zone"
auth-zone:
    name: "victim-shop.top"
    zonefile: "{d}/victim.zone"
    for-downstream: no
    for-upstream: yes
auth-zone:
    name: "listed-c2.top"
    zonefile: "{d}/listed.zone"
    for-downstream: no
    for-upstream: yes
auth-zone:
    name: "later-c2.top"
    zonefile: "{d}/later.zone"
    for-downstream: no
    for-upstream: yes
"#
    );
    let soa = |apex: &str| {
        format!("$ORIGIN {apex}.\n$TTL 60\n@ IN SOA localhost. h.localhost. 1 60 60 600 60\n@ IN NS localhost.\n")
    };
    for (file, apex, data) in [
        ("victim.zone", "victim-shop.top", "www IN A 10.0.0.5\n"),
        ("listed.zone", "listed-c2.top", "@ IN A 10.0.0.9\n"),
        ("later.zone", "later-c2.top", "@ IN A 10.0.0.9\n"),
    ] {
        std::fs::write(dir.join(file), soa(apex) + data).unwrap();
    }
    let path = dir.join("unbound.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// The audit trail's pulls by zone transfer, as `participant endpoint range count`.
async fn dns_pulls(s: &TestServer) -> Vec<String> {
    let log = tamis::store::Store::audit_log(&*s.state.store, 0, 10_000).await.unwrap();
    log.iter()
        .filter_map(|r| match &r.event {
            tamis::audit::AuditEvent::Pull { participant, endpoint, range, count } if endpoint.starts_with("dns") => {
                Some(format!("{participant} {endpoint} {range} {count}"))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_transfers_the_zone_unsigned_from_an_allowed_address_and_follows_notify() {
    let Some(bin) = unbound() else {
        if std::env::var("TAMIS_REQUIRE_UNBOUND").is_ok_and(|v| v == "1") {
            panic!("unbound is required (TAMIS_REQUIRE_UNBOUND=1): install the Debian package unbound");
        }
        eprintln!("skipped Unbound secondary check: unbound is not installed (Debian package unbound)");
        return;
    };
    let s = TestServer::start().await;
    let item = |v: &str| json!({"type":"domain","value":v,"category":"c2","tlp":"green","confidence":95});
    let (status, v) = submit(&s, "isp-a", &json!({"indicators":[item("listed-c2.top")]})).await;
    assert_eq!(status, 200, "{v}");
    rpz_with(&s, "listed-c2.top").await;

    let port = free_port();
    let resolver: SocketAddr = ([127, 0, 0, 1], port).into();
    let allow = UnsignedSource {
        participant: "isp-a".into(),
        from: vec![SourceNet::try_from("127.0.0.1/32".to_owned()).unwrap()],
    };
    let rpz = Rpz::start_with(&s, vec![tamis::config::NotifyTarget::Plain(resolver)], vec![allow]).await;
    let tmp = tempfile::tempdir().unwrap();
    let conf = write_conf(tmp.path(), port, rpz.addr);
    let log_path = tmp.path().join("unbound.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(bin)
        .args(["-d", "-c"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start unbound");
    let mut unbound = Unbound(child);
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // Unbound transfers the zone unsigned and blocks the listed name.
    let nxdomain = 3;
    let started = Instant::now();
    if !wait_rcode(resolver, "listed-c2.top", nxdomain, 30).await {
        let exited = unbound.0.try_wait().unwrap();
        panic!("listed-c2.top never blocked (unbound exit: {exited:?}):\n{}", read_log());
    }
    eprintln!("Unbound blocked the listed name {:?} after its start", started.elapsed());
    let www = query(resolver, "www.victim-shop.top").expect("answer");
    assert_eq!(www.0, 0, "an unlisted name resolves:\n{}", read_log());
    assert!(contains(&www.2, &[10, 0, 0, 5]));
    let later = query(resolver, "later-c2.top").expect("answer");
    assert_eq!(later.0, 0, "later-c2.top resolves until it is listed");
    assert!(contains(&later.2, &[10, 0, 0, 9]), "its local data");

    // A new indicator reaches Unbound by NOTIFY (the zone's refresh is an hour).
    let (status, v) = submit(&s, "isp-a", &json!({"indicators":[item("later-c2.top")]})).await;
    assert_eq!(status, 200, "{v}");
    let submitted = Instant::now();
    assert!(wait_rcode(resolver, "later-c2.top", nxdomain, 30).await, "NOTIFY not followed:\n{}", read_log());
    eprintln!("Unbound blocked the new name {:?} after its submission was acknowledged (NOTIFY)", submitted.elapsed());
    let log = read_log();
    // One NOTIFY when the listener built the zones, one for the change.
    assert!(log.matches("received NOTIFY for rpz.tamis. from 127.0.0.1").count() >= 2, "{log}");
    assert_eq!(query(resolver, "www.victim-shop.top").expect("answer").0, 0);

    // Both transfers are isp-a's pulls, marked unsigned.
    let pulls = dns_pulls(&s).await;
    assert!(pulls.len() >= 2, "{pulls:?}");
    for p in &pulls {
        assert!(p.starts_with("isp-a dns AXFR unsigned rpz ") || p.starts_with("isp-a dns IXFR unsigned rpz "), "{p}");
    }
    let metrics = s.state.metrics.render(0, &s.state.blocklists, false);
    let unsigned_ok = metrics
        .lines()
        .filter(|l| l.starts_with("tamis_rpz_requests_total{") && l.contains("outcome=\"ok\",signed=\"false\"}"))
        .count();
    assert!(unsigned_ok >= 2, "SOA probes and transfers counted:\n{metrics}");
    assert!(metrics.contains("tamis_rpz_notifies_total{outcome=\"acknowledged\"}"), "{metrics}");
    if std::env::var("TAMIS_SHOW_UNBOUND_LOG").is_ok() {
        eprintln!("{}", read_log());
    }
    drop(unbound);
    rpz.stop().await;
    s.stop().await;
}
