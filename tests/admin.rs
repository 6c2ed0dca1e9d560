//! The admin listener and the operator's CLI (security review F5, F6, F11,
//! F12): `/reload` and `POST /audit` need the deployment's admin token and
//! id; the CLI reaches the exchange of its own deployment (admin.addr) and
//! says which one it reloaded; a non-loopback admin address is refused;
//! registry fingerprints are an allow-list (rotate, revoke --cert); secret
//! key files readable by others are refused.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{TestServer, client_with, json};

fn tamis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamis")).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn cfg(dir: &Path) -> String {
    dir.join("tamis.toml").display().to_string()
}

/// A `tamis serve` process on loopback with ephemeral ports; stopped with
/// SIGTERM (then killed) when dropped, also on a panic.
struct Serve {
    child: Child,
    admin: SocketAddr,
    api: SocketAddr,
}

impl Serve {
    fn start(dir: &Path) -> Serve {
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tamis"))
            .args(["serve", "--config", &cfg(dir), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(["--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut s = Serve { child, admin: ([127, 0, 0, 1], 0).into(), api: ([127, 0, 0, 1], 0).into() };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            let listening =
                log.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find_map(|v| {
                    let f = &v["fields"];
                    Some((f["addr"].as_str()?.parse().ok()?, f["admin"].as_str()?.parse().ok()?))
                });
            if let Some((api, admin)) = listening {
                s.api = api;
                s.admin = admin;
                let file = std::fs::read_to_string(dir.join("admin.addr")).unwrap_or_default();
                assert_eq!(file.trim(), admin.to_string(), "the server writes its admin address next to tamis.toml");
                return s;
            }
            if s.child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                panic!("tamis serve did not start:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait: the store is closed cleanly.
    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP/1.1 POST to the admin listener: `(status, body)`.
fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    (resp[9..12].parse().unwrap(), resp.split("\r\n\r\n").nth(1).unwrap_or("").to_owned())
}

fn get(addr: SocketAddr, path: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp[9..12].parse().unwrap()
}

fn token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("keys/admin.token")).unwrap().trim().to_owned()
}

fn deployment(dir: &Path) -> String {
    let cfg = tamis::config::Config::load(&dir.join("tamis.toml")).unwrap();
    tamis::deploy::deployment_id(&cfg).unwrap()
}

fn audit_text(dir: &Path) -> String {
    let key = tamis::config::read_key(&dir.join("keys/storage.key")).unwrap();
    let store = tamis::store::SledStore::open(&dir.join("data"), &key).unwrap();
    let log = tamis::store::offline(tamis::store::Store::audit_log(&*store, 0, 10_000)).unwrap();
    store.close();
    serde_json::to_string(&log).unwrap()
}

/// A client of the API of a `tamis serve` process with a certificate pair.
fn client(dir: &Path, api: SocketAddr, pem: &Path, key: &Path) -> reqwest::Client {
    client_with(dir, Some((pem, key)), api, false)
}

/// `None` when the request fails. The timeout: when the server refuses the
/// client's certificate after a TLS 1.3 handshake the client already counts
/// as done, hyper's HTTP/2 client was once seen waiting for ever instead of
/// failing (1 run in 14); the server's log showed the refusal.
async fn whoami(c: &reqwest::Client, api: SocketAddr) -> Option<serde_json::Value> {
    let r = c
        .get(format!("https://localhost:{}/v1/whoami", api.port()))
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .ok()?;
    Some(json(r).await.1)
}

#[test]
fn reload_and_audit_need_the_admin_token_and_the_deployment() {
    let (_tmp, dir) = common::deployment();
    let server = Serve::start(&dir);
    let (tok, dep) = (token(&dir), deployment(&dir));
    let bearer = format!("Bearer {tok}");

    // Health, readiness, metrics and stats stay open.
    assert_eq!(get(server.admin, "/healthz"), 200);
    assert_eq!(get(server.admin, "/metrics"), 200);

    let (status, body) = post(server.admin, "/reload", &[("X-Tamis-Deployment", &dep)], "");
    assert_eq!(status, 401, "reload without a token: {body}");
    let (status, _) = post(
        server.admin,
        "/reload",
        &[("Authorization", "Bearer 0000000000000000000000000000000000000000"), ("X-Tamis-Deployment", &dep)],
        "",
    );
    assert_eq!(status, 401, "reload with a wrong token");
    let (status, body) = post(server.admin, "/reload", &[("Authorization", &bearer)], "");
    assert_eq!(status, 409, "the token alone does not name the deployment: {body}");
    let (status, body) =
        post(server.admin, "/reload", &[("Authorization", &bearer), ("X-Tamis-Deployment", &"ab".repeat(32))], "");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("wrong_deployment") && body.contains(&dir.display().to_string()), "{body}");
    let (status, body) = post(server.admin, "/reload", &[("Authorization", &bearer), ("X-Tamis-Deployment", &dep)], "");
    assert_eq!(status, 200, "{body}");

    // A forged reveal record: the deployment id is public (sha256 of ca.pem), the token is not.
    let forged =
        r#"{"event":"reveal","operator":"dpo-a","reason":"Court order 2026/XYZ (fabricated)","token_type":"iban"}"#;
    let (status, _) =
        post(server.admin, "/audit", &[("X-Tamis-Deployment", &dep), ("Content-Type", "application/json")], forged);
    assert_eq!(status, 401, "a reveal record without the admin token is refused");

    // The CLI sends the token: reload reports which deployment it reloaded.
    let out = tamis(&["policy", "reload", "--config", &cfg(&dir)]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&dep) && stdout.contains(&dir.display().to_string()), "{stdout}");
    assert!(stdout.contains("4 participants") && stdout.contains("default@"), "{stdout}");

    // `tamis reveal` records through the running exchange, with the token.
    let public = tamis::config::read_key(&dir.join("keys/escrow.pub")).unwrap();
    let esc = tamis::privacy::escrow::seal(&public, "iban", b"DE89370400440532013000").unwrap();
    let key = dir.join("keys/escrow-private.key");
    let out = tamis(&[
        "reveal",
        &esc,
        "--reason",
        "Court order 2026/1234",
        "--escrow-key",
        key.to_str().unwrap(),
        "--config",
        &cfg(&dir),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    server.stop();
    assert!(!dir.join("admin.addr").exists(), "removed at shutdown");

    let audit = audit_text(&dir);
    assert!(audit.contains("Court order 2026/1234"), "the CLI's reveal is recorded");
    assert!(!audit.contains("fabricated"), "the forged record is not in the trail");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_reloads_its_own_deployment_never_another_one() {
    let (_ta, a) = common::deployment();
    let (_tb, b) = common::deployment();
    let sa = Serve::start(&a);
    let sb = Serve::start(&b);

    // B's tamis.toml names A's admin port (the review's two-exchange host).
    let path = b.join("tamis.toml");
    let conf = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        conf.replace("admin_listen = \"127.0.0.1:9090\"", &format!("admin_listen = \"{}\"", sa.admin)),
    )
    .unwrap();

    // Through admin.addr the CLI reaches B and says so.
    let out = tamis(&["policy", "reload", "--config", &cfg(&b)]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&deployment(&b)) && stdout.contains(&b.display().to_string()), "{stdout}");
    assert!(!stdout.contains(&deployment(&a)), "{stdout}");

    // `participant revoke` reloads B by itself: B's bank-a is refused at once, A's is not.
    let out = tamis(&["participant", "revoke", "bank-a", "--config", &cfg(&b)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&deployment(&b)), "{}", text(&out));
    let bank = |d: &Path, api| client(d, api, &d.join("certs/bank-a.pem"), &d.join("certs/bank-a.key"));
    assert!(whoami(&bank(&b, sb.api), sb.api).await.is_none(), "B's revoked bank-a is refused at the handshake");
    assert_eq!(whoami(&bank(&a, sa.api), sa.api).await.unwrap()["id"], "bank-a", "A is untouched");

    // Without the address file the CLI falls back to tamis.toml, i.e. A: A refuses B's token.
    std::fs::remove_file(b.join("admin.addr")).unwrap();
    let out = tamis(&["policy", "reload", "--config", &cfg(&b)]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = text(&out);
    assert!(
        err.contains("refused") && err.contains(&sa.admin.to_string()) && !err.contains("reloaded deployment"),
        "{err}"
    );

    // Even with A's token, A refuses a request that names deployment B.
    std::fs::copy(a.join("keys/admin.token"), b.join("keys/admin.token")).unwrap();
    let out = tamis(&["policy", "reload", "--config", &cfg(&b), "--admin-listen", &sa.admin.to_string()]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = text(&out);
    assert!(err.contains("wrong_deployment") || err.contains(&a.display().to_string()), "{err}");
    assert!(!err.contains("reloaded deployment"), "{err}");
    sa.stop();
    sb.stop();
}

#[test]
fn a_non_loopback_admin_address_is_refused_unless_forced() {
    let (_tmp, dir) = common::deployment();
    let out = tamis(&["serve", "--config", &cfg(&dir), "--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = text(&out);
    assert!(
        err.contains("0.0.0.0:0") && err.contains("admin_allow_remote") && err.contains("--admin-allow-remote"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn secret_files_are_private_and_readable_ones_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let (_tmp, dir) = common::deployment();
    assert_eq!(mode(dir.join("data")), 0o700, "init creates data/ private");
    assert_eq!(mode(dir.join("keys")), 0o700);
    assert_eq!(mode(dir.join("keys/admin.token")), 0o600);
    assert_eq!(mode(dir.join("keys/lookup.key")), 0o600);

    let chmod = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    for (file, args) in [
        ("keys/storage.key", vec!["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]),
        ("keys/storage.key", vec!["audit", "verify"]),
        ("keys/pseudonym.key", vec!["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]),
        ("keys/lookup.key", vec!["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]),
        ("certs/server.key", vec!["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]),
        ("keys/admin.token", vec!["policy", "reload", "--admin-listen", "127.0.0.1:9"]),
        ("certs/ca.key", vec!["participant", "add", "bank-z", "--kind", "bank", "--roles", "submit"]),
    ] {
        let path = dir.join(file);
        chmod(&path, 0o644);
        let conf = cfg(&dir);
        let mut full = args.clone();
        full.extend(["--config", conf.as_str()]);
        let out = tamis(&full);
        let all = text(&out);
        assert!(!out.status.success(), "{file} 0644 with {args:?}: {all}");
        assert!(all.contains(&format!("chmod 600 {}", path.display())), "{file} with {args:?}: {all}");
        chmod(&path, 0o600);
    }
    assert!(!dir.join("certs/bank-z.pem").exists(), "nothing was signed with a readable CA key");

    // The library refuses too, and a looser data directory is tightened at start.
    let c = tamis::config::Config::load(&dir.join("tamis.toml")).unwrap();
    chmod(&dir.join("keys/storage.key"), 0o640);
    let err = tamis::deploy::load(&c).err().expect("refused").to_string();
    assert!(err.contains("keys/storage.key") && err.contains("chmod 600"), "{err}");
    chmod(&dir.join("keys/storage.key"), 0o600);
    chmod(&dir.join("data"), 0o755);
    let loaded = tamis::deploy::load(&c).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mode(dir.join("data")), 0o700);
    loaded.store.close();
}

fn fingerprint(pem: &Path) -> String {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_file(pem).unwrap();
    tamis::identity::CertInfo::from_der(der.as_ref()).fingerprint
}

#[tokio::test]
async fn rotate_then_revoke_the_old_certificate_and_fingerprints_are_an_allow_list() {
    let s = TestServer::start().await;
    let certs = s.dir.join("certs");
    let c = cfg(&s.dir);
    let old_fp = fingerprint(&certs.join("bank-a.pem"));

    let out = tamis(&["participant", "rotate", "bank-a", "--config", &c]);
    assert!(out.status.success(), "{}", text(&out));
    let old: Vec<PathBuf> = std::fs::read_dir(&certs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("bank-a.") && n.ends_with(".pem") && n != "bank-a.pem"
        })
        .collect();
    assert_eq!(old.len(), 1, "the old certificate is kept as certs/bank-a.SERIAL.pem");
    let old_pem = old[0].clone();
    let old_key = old_pem.with_extension("key");
    assert!(text(&out).contains(&format!("revoke bank-a --cert {}", old_pem.display())), "{}", text(&out));
    s.reload().await.unwrap();
    let old_client = || client_with(&s.dir, Some((&old_pem, &old_key)), s.addr, false);
    let (_, v) = json(old_client().get(s.url("/v1/whoami")).send().await.unwrap()).await;
    assert_eq!(v["id"], "bank-a", "until revoked, the old certificate still works");
    let (_, v) = json(s.client("bank-a").get(s.url("/v1/whoami")).send().await.unwrap()).await;
    assert_eq!(v["id"], "bank-a", "the new one works at once");

    // The current certificate cannot be revoked alone.
    let out = tamis(&[
        "participant",
        "revoke",
        "bank-a",
        "--cert",
        certs.join("bank-a.pem").to_str().unwrap(),
        "--config",
        &c,
    ]);
    assert!(!out.status.success() && text(&out).contains("rotate"), "{}", text(&out));

    let out = tamis(&["participant", "revoke", "bank-a", "--cert", old_pem.to_str().unwrap(), "--config", &c]);
    assert!(out.status.success(), "{}", text(&out));
    let registry = std::fs::read_to_string(s.dir.join("participants.toml")).unwrap();
    assert!(!registry.contains(&old_fp), "the old fingerprint left the registry");
    s.reload().await.unwrap();
    match old_client().get(s.url("/v1/whoami")).send().await {
        Err(_) => {} // refused at the handshake (CRL)
        Ok(r) => assert_eq!(json(r).await.1["registered"], false, "the old certificate is no longer bank-a"),
    }
    let (status, v) = json(s.client("bank-a").get(s.url("/v1/whoami")).send().await.unwrap()).await;
    assert_eq!((status, v["id"].as_str()), (200, Some("bank-a")), "the new certificate works; the participant stays");

    // A fingerprint removed from the list (not on the CRL): its certificate
    // with the right SAN is refused after a reload.
    let path = s.dir.join("participants.toml");
    let registry = std::fs::read_to_string(&path).unwrap();
    let dpo_fp = fingerprint(&certs.join("dpo-a.pem"));
    assert!(registry.contains(&dpo_fp));
    std::fs::write(&path, registry.replace(&format!("\"{dpo_fp}\""), "")).unwrap();
    s.reload().await.unwrap();
    let r = s.client("dpo-a").get(s.url("/v1/audit?after=0&limit=1")).send().await.unwrap();
    assert_eq!(r.status(), 403, "a certificate whose fingerprint left the list is not dpo-a any more");
    s.stop().await;
}
