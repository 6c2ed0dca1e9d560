//! RPZ trigger injection (security review F1): a submitter must not be able
//! to write RPZ triggers (`rpz-ip`, `rpz-client-ip`, `rpz-nsdname`...) into
//! `domains.rpz`. The zone served by the exchange is loaded into a real BIND
//! (`named`, on loopback only, started by the test) next to local zones, and
//! the test checks that the listed name is blocked and nothing else is.
//!
//! Skipped (with a `skipped` line) when `named` is not installed, unless
//! `TAMIS_REQUIRE_BIND=1`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::rpz::{Rpz, contains, free_port, query, rpz_with, wait_rcode};
use common::{TestServer, submit};
use serde_json::{Value, json};

/// The injection attempts of the review, and the other reserved forms.
const TRIGGERS: &[&str] = &[
    "1.0.0.0.0.rpz-client-ip",
    "1.0.0.0.0.rpz-ip",
    "32.8.8.8.8.rpz-ip",
    "a.gtld-servers.net.rpz-nsdname",
    "32.1.1.1.1.rpz-nsip",
    "rpz-passthru.phish-x.com",
    "evil.RPZ-DROP.net",
    "x.rpz-tcp-only.org",
];

fn named() -> Option<PathBuf> {
    ["/usr/sbin/named", "/usr/bin/named"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Kills `named` when the test ends, also on a panic.
struct Named(Child);

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_conf(dir: &Path, port: u16, rpz: &str) -> PathBuf {
    let d = dir.display();
    let files = [
        // A local root: named is authoritative for everything it could be
        // asked, so it never primes root hints or recurses off the host.
        ("root.zone", "$TTL 60\n@ IN SOA localhost. h.localhost. 1 60 60 600 60\n@ IN NS localhost.\n".to_owned()),
        (
            "victim.zone",
            "$TTL 60\n@ IN SOA localhost. h.localhost. 1 60 60 600 60\n@ IN NS localhost.\n\
             www IN A 10.0.0.5\nshop IN A 200.1.1.1\n"
                .to_owned(),
        ),
        (
            "listed.zone",
            "$TTL 60\n@ IN SOA localhost. h.localhost. 1 60 60 600 60\n@ IN NS localhost.\n\
             @ IN A 10.0.0.9\nwww IN A 10.0.0.9\n"
                .to_owned(),
        ),
        ("rpz.zone", rpz.to_owned()),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let conf = format!(
        r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion yes;
    allow-query {{ 127.0.0.1; }};
    allow-recursion {{ 127.0.0.1; }};
    forwarders {{ }};
    dnssec-validation no;
    notify no;
    response-policy {{ zone "rpz.tamis"; }};
}};
controls {{ }};
zone "." {{ type primary; file "{d}/root.zone"; }};
zone "victim.test" {{ type primary; file "{d}/victim.zone"; }};
zone "listed-phish.top" {{ type primary; file "{d}/listed.zone"; }};
zone "rpz.tamis" {{ type primary; file "{d}/rpz.zone"; allow-query {{ none; }}; }};
"#
    );
    let path = dir.join("named.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

fn rejections(v: &Value) -> Vec<(u64, String, String)> {
    v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap().into(), r["reason"].as_str().unwrap().into())
        })
        .collect()
}

#[tokio::test]
async fn rpz_triggers_are_refused_and_bind_blocks_only_the_listed_name() {
    let s = TestServer::start().await;

    // Ingest: every trigger form is refused with its index, field and reason,
    // never echoing the value; the real domain in the same batch lands.
    let mut items: Vec<Value> = TRIGGERS
        .iter()
        .map(|v| json!({"type":"domain","value":v,"category":"phishing","tlp":"green","confidence":95}))
        .collect();
    items.push(json!({"type":"url","value":"http://1.0.0.0.0.rpz-ip/login","category":"phishing","tlp":"green"}));
    items.push(json!({"type":"domain","value":"made-up.notatld","category":"phishing","tlp":"green"}));
    items.push(json!({"type":"domain","value":"listed-phish.top","category":"phishing","tlp":"green","confidence":95}));
    items.push(json!({"type":"ipv4","value":"185.220.101.4","category":"c2","tlp":"green","confidence":95}));
    let (status, v) = submit(&s, "bank-a", &json!({ "indicators": items })).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 2, "only the real domain and the address land: {v}");
    let rej = rejections(&v);
    assert_eq!(rej.len(), TRIGGERS.len() + 2, "{v}");
    for (i, (index, field, reason)) in rej.iter().enumerate() {
        assert_eq!((*index as usize, field.as_str()), (i, "value"), "{v}");
        if i <= TRIGGERS.len() {
            assert!(reason.contains("rpz-"), "{reason}");
        } else {
            assert!(reason.contains("public suffix"), "{reason}");
        }
    }
    let text = v.to_string();
    for t in TRIGGERS {
        assert!(!text.to_ascii_lowercase().contains(&t.to_ascii_lowercase()), "the value is never echoed: {text}");
    }

    // A batch of nothing but a trigger: nothing accepted, and the reason says why.
    let (status, v) = submit(
        &s,
        "isp-a",
        &json!({"indicators":[{"type":"domain","value":"1.0.0.0.0.rpz-client-ip","category":"phishing","tlp":"green"}]}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "nothing_accepted");
    assert!(rejections(&v)[0].2.contains("rpz-"), "{v}");

    let zone = rpz_with(&s, "listed-phish.top").await;
    for line in zone.lines().filter(|l| !l.starts_with(';') && !l.starts_with('$') && !l.starts_with('@')) {
        let owner = line.split_whitespace().next().unwrap_or_default();
        let reserved = owner.split('.').any(|l| l.starts_with("rpz-"));
        assert!(!reserved || owner == "32.4.101.220.185.rpz-ip", "unexpected RPZ trigger in the zone: {line}");
    }
    s.stop().await;

    let Some(bin) = named() else {
        if std::env::var("TAMIS_REQUIRE_BIND").is_ok_and(|v| v == "1") {
            panic!("named is required (TAMIS_REQUIRE_BIND=1): install bind9");
        }
        eprintln!("skipped BIND check: named is not installed (Debian package bind9)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = write_conf(tmp.path(), port, &zone);
    let log = std::fs::File::create(tmp.path().join("named.log")).unwrap();
    let child = Command::new(bin)
        .args(["-g", "-4", "-c"])
        .arg(&conf)
        .args(["-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start named");
    let mut named = Named(child);
    let server: SocketAddr = ([127, 0, 0, 1], port).into();

    let deadline = Instant::now() + Duration::from_secs(20);
    let www = loop {
        if let Some(r) = query(server, "www.victim.test") {
            break r;
        }
        if named.0.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let log = std::fs::read_to_string(tmp.path().join("named.log")).unwrap_or_default();
            panic!("named did not answer:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Make sure the policy zone is loaded before judging the answers (named
    // may answer another zone before its log says so: poll the log).
    let log = loop {
        let log = std::fs::read_to_string(tmp.path().join("named.log")).unwrap_or_default();
        if log.contains("zone rpz.tamis/IN: loaded serial") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(log.contains("zone rpz.tamis/IN: loaded serial"), "the policy zone must load:\n{log}");

    let nxdomain = 3;
    assert_eq!(www.0, 0, "www.victim.test must resolve (NOERROR)");
    assert!(www.1 >= 1 && contains(&www.2, &[10, 0, 0, 5]), "www.victim.test A 10.0.0.5");
    let shop = query(server, "shop.victim.test").expect("answer");
    assert_eq!(shop.0, 0, "shop.victim.test must resolve (NOERROR)");
    assert!(shop.1 >= 1 && contains(&shop.2, &[200, 1, 1, 1]), "shop.victim.test A 200.1.1.1");
    for listed in ["listed-phish.top", "www.listed-phish.top"] {
        let r = query(server, listed).expect("answer");
        assert_eq!(r.0, nxdomain, "{listed} is blocked by the zone's CNAME . policy");
    }
    drop(named);
}

/// named as a secondary of the exchange's RPZ zone (TSIG key of isp-a, as
/// `tamis init` wrote it for the ISP), with two local zones whose names the
/// test lists, so their NXDOMAIN can only come from the policy zone.
fn write_secondary_conf(dir: &Path, port: u16, primary: SocketAddr, key_clause: &str) -> PathBuf {
    let d = dir.display();
    let soa = "$TTL 60\n@ IN SOA localhost. h.localhost. 1 60 60 600 60\n@ IN NS localhost.\n";
    for (name, text) in [
        ("root.zone", soa.to_owned()),
        ("victim.zone", format!("{soa}www IN A 10.0.0.5\n")),
        ("listed.zone", format!("{soa}@ IN A 10.0.0.9\n")),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let (pip, pport) = (primary.ip(), primary.port());
    let conf = format!(
        r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion yes;
    allow-query {{ 127.0.0.1; }};
    allow-recursion {{ 127.0.0.1; }};
    forwarders {{ }};
    dnssec-validation no;
    notify no;
    response-policy {{ zone "rpz.tamis" min-update-interval 0; }};
}};
controls {{ }};
{key_clause}
zone "." {{ type primary; file "{d}/root.zone"; }};
zone "victim.test" {{ type primary; file "{d}/victim.zone"; }};
zone "listed-c2.top" {{ type primary; file "{d}/listed.zone"; }};
zone "later-c2.top" {{ type primary; file "{d}/listed.zone"; }};
zone "rpz.tamis" {{
    type secondary;
    file "{d}/rpz.tamis.db";
    primaries {{ {pip} port {pport} key "isp-a"; }};
    allow-query {{ none; }};
}};
"#
    );
    let path = dir.join("named.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_secondary_transfers_the_zone_and_follows_notify() {
    let Some(bin) = named() else {
        if std::env::var("TAMIS_REQUIRE_BIND").is_ok_and(|v| v == "1") {
            panic!("named is required (TAMIS_REQUIRE_BIND=1): install bind9");
        }
        eprintln!("skipped BIND secondary check: named is not installed (Debian package bind9)");
        return;
    };
    let s = TestServer::start().await;
    let item = |v: &str| json!({"type":"domain","value":v,"category":"c2","tlp":"green","confidence":95});
    let (status, v) = submit(&s, "isp-a", &json!({"indicators":[item("listed-c2.top")]})).await;
    assert_eq!(status, 200, "{v}");
    rpz_with(&s, "listed-c2.top").await;

    let port = free_port();
    let bind_addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let rpz = Rpz::start(&s, vec![bind_addr]).await;
    let primary = rpz.addr;
    let key = std::fs::read_to_string(s.dir.join("certs/isp-a.tsig.conf")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let conf = write_secondary_conf(tmp.path(), port, primary, &key);
    let log_path = tmp.path().join("named.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(bin)
        .args(["-g", "-4", "-c"])
        .arg(&conf)
        .args(["-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start named");
    let named = Named(child);
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // The secondary transfers the zone with the TSIG key and blocks the listed name.
    let nxdomain = 3;
    assert!(wait_rcode(bind_addr, "listed-c2.top", nxdomain, 30).await, "listed-c2.top never blocked:\n{}", read_log());
    assert!(read_log().contains("zone rpz.tamis/IN: transferred serial"), "{}", read_log());
    let www = query(bind_addr, "www.victim.test").expect("answer");
    assert_eq!(www.0, 0, "an unlisted name resolves");
    assert!(contains(&www.2, &[10, 0, 0, 5]));
    let later = query(bind_addr, "later-c2.top").expect("answer");
    assert_eq!(later.0, 0, "later-c2.top resolves until it is listed");

    // A new indicator reaches the secondary by NOTIFY (its refresh is an hour).
    let (status, v) = submit(&s, "isp-a", &json!({"indicators":[item("later-c2.top")]})).await;
    assert_eq!(status, 200, "{v}");
    assert!(wait_rcode(bind_addr, "later-c2.top", nxdomain, 30).await, "NOTIFY not followed:\n{}", read_log());
    let log = read_log();
    assert!(log.contains("notify from 127.0.0.1"), "{log}");
    if std::env::var("TAMIS_SHOW_NAMED_LOG").is_ok() {
        eprintln!("{log}");
    }
    assert_eq!(query(bind_addr, "www.victim.test").expect("answer").0, 0);

    drop(named);
    rpz.stop().await;
    s.stop().await;
}
