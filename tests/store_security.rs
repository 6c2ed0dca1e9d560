//! Storage and audit findings of the security review (issue 8): co-submitters
//! cannot rewrite or hide others' indicators (F4), a failing disk is reported
//! and recovered from (F7), a rolled-back or cut audit chain is detected
//! (F10), the store at rest does not confirm guessed values (F13), a corrupt
//! database is a clear error (F15), and an Idempotency-Key reused with
//! another body is refused (F16).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{TestServer, json, submit};
use serde_json::{Value, json};
use tamis::store::{FailMode, SledStore, Store};

const DOMAIN: &str = "c2-panel-zx81.top";

/// The feed as `who` sees it: the last item for `id`, if any.
async fn last_feed_item(s: &TestServer, who: &str, id: &str) -> Option<Value> {
    let (status, v) = json(s.client(who).get(s.url("/v1/indicators?since=0&limit=10000")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{v}");
    v["indicators"].as_array().unwrap().iter().rev().find(|i| i["id"] == id).cloned()
}

/// `isp-a`'s domains.txt once the blocklists include every commit so far.
async fn domains_txt(s: &TestServer) -> String {
    for _ in 0..100 {
        let built = s.state.blocklists.built_head.load(Ordering::Acquire);
        if s.state.blocklists.ready() && built >= s.state.store.head() {
            let r = s.client("isp-a").get(s.url("/v1/blocklists/domains.txt")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            return r.text().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("blocklists never caught up");
}

fn listed(domains: &str) -> bool {
    domains.lines().any(|l| l == DOMAIN)
}

/// F4, the review's exact scenario.
#[tokio::test]
async fn a_co_submitter_cannot_rewrite_or_hide_someone_elses_indicator() {
    let s = TestServer::start().await;
    let (status, v) = submit(
        &s,
        "isp-a",
        &json!({"indicators":[{"type":"domain","value":DOMAIN,"category":"c2","tlp":"green","confidence":90,
                               "description":"C2 panel seen in our netflow"}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let id = v["indicators"][0]["id"].as_str().unwrap().to_owned();
    assert!(listed(&domains_txt(&s).await));
    let before = last_feed_item(&s, "police-a", &id).await.expect("police-a sees it");

    let (status, v) = submit(
        &s,
        "bank-a",
        &json!({"indicators":[{"type":"domain","value":DOMAIN,"category":"c2","tlp":"red","confidence":100,
                               "description":"benign test entry, do not block","valid_until":"2099-12-31T00:00:00Z",
                               "tags":["false-positive"]}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // While bank-a's contribution is live: still listed, still isp-a's.
    assert!(listed(&domains_txt(&s).await), "a co-submission at TLP:RED must not withdraw the domain");
    let during = last_feed_item(&s, "police-a", &id).await.unwrap();
    assert_eq!(during["op"], "add", "police-a sees no change: {during}");
    assert_eq!(during["description"], "C2 panel seen in our netflow");
    assert_eq!(during["tlp"], "green");

    let r = s.client("bank-a").delete(s.url(&format!("/v1/indicators/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(listed(&domains_txt(&s).await), "the retraction must not take isp-a's domain away");
    let after = last_feed_item(&s, "police-a", &id).await.unwrap();
    for field in ["op", "description", "tlp", "confidence", "valid_until", "sources"] {
        assert_eq!(after[field], before[field], "{field}: {after}");
    }
    assert!(!after.to_string().contains("false-positive") && !after.to_string().contains("2099"), "{after}");
    s.stop().await;
}

/// F4: no indicator is valid for more than `expiry.max_days` (365) after receipt.
#[tokio::test]
async fn valid_until_is_capped() {
    let s = TestServer::start().await;
    let (status, v) = submit(
        &s,
        "isp-a",
        &json!({"indicators":[{"type":"domain","value":"long-lived.top","category":"c2","tlp":"green",
                               "confidence":90,"valid_until":"2099-12-31T00:00:00Z"}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let id = v["indicators"][0]["id"].as_str().unwrap().to_owned();
    let item = last_feed_item(&s, "police-a", &id).await.unwrap();
    let until = time::OffsetDateTime::parse(
        item["valid_until"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(until <= time::OffsetDateTime::now_utc() + time::Duration::days(366), "{until}");
    s.stop().await;
}

/// F16: same key and body replays; same key, another body is 422.
#[tokio::test]
async fn idempotency_key_reused_with_another_body_is_422() {
    let s = TestServer::start().await;
    let post = |body: Value| {
        s.client("bank-a").post(s.url("/v1/submissions")).header("idempotency-key", "order-42").json(&body).send()
    };
    let a = json!({"indicators":[{"type":"domain","value":"first-body.top","category":"c2","tlp":"green"}]});
    let b = json!({"indicators":[{"type":"domain","value":"second-body.top","category":"c2","tlp":"green"}]});
    let r = post(a.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let first = r.text().await.unwrap();
    let r = post(a).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(r.text().await.unwrap(), first);
    let (status, v) = json(post(b).await.unwrap()).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "idempotency_key_reused");
    let (_, feed) = json(s.client("police-a").get(s.url("/v1/indicators?since=0")).send().await.unwrap()).await;
    assert!(!feed.to_string().contains("second-body.top"), "the other body was not applied");
    s.stop().await;
}

/// A server with its admin listener and direct access to the store.
struct Running {
    api: SocketAddr,
    admin: SocketAddr,
    store: Arc<SledStore>,
    stop: tokio::sync::broadcast::Sender<()>,
}

async fn start_with_admin(dir: &Path) -> Running {
    let cfg = tamis::config::Config::load(&dir.join("tamis.toml")).unwrap();
    let loaded = tamis::deploy::load(&cfg).unwrap();
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (api_addr, admin_addr) = (api.local_addr().unwrap(), admin.local_addr().unwrap());
    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    let (mut a, mut b) = (stop.subscribe(), stop.subscribe());
    tokio::spawn(tamis::server::run(api, loaded.tls.clone(), loaded.state.clone(), async move {
        let _ = a.recv().await;
    }));
    tokio::spawn(tamis::server::run_admin(admin, loaded.state.clone(), None, async move {
        let _ = b.recv().await;
    }));
    Running { api: api_addr, admin: admin_addr, store: loaded.store.sled().expect("the sled store").clone(), stop }
}

async fn readyz(r: &Running) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(r.admin).await.unwrap();
    c.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).await.unwrap();
    let status = resp.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, resp.split("\r\n\r\n").nth(1).unwrap_or("").to_owned())
}

async fn wait_ready(r: &Running) {
    for _ in 0..100 {
        if readyz(r).await.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never ready: {:?}", readyz(r).await);
}

/// F7: a failed commit answers 507 saying what happened to the data,
/// `/readyz` answers 503 until the store recovers, then writes work again.
#[tokio::test]
async fn full_disk_is_507_readyz_503_and_recovers() {
    let (_tmp, dir) = common::deployment();
    let r = start_with_admin(&dir).await;
    wait_ready(&r).await;
    let bank =
        common::client_with(&dir, Some((&dir.join("certs/bank-a.pem"), &dir.join("certs/bank-a.key"))), r.api, false);
    let url = format!("https://localhost:{}/v1/submissions", r.api.port());
    let post = |key: &'static str, value: &'static str| {
        bank.post(&url)
            .header("idempotency-key", key)
            .json(&json!({"indicators":[{"type":"domain","value":value,"category":"c2","tlp":"green"}]}))
            .send()
    };

    // Nothing applied: 507, "nothing was stored".
    r.store.fail_point().set(FailMode::BeforeApply);
    let (status, v) = json(post("k1", "not-stored.top").await.unwrap()).await;
    assert_eq!(status, 507, "{v}");
    assert_eq!(v["error"]["code"], "insufficient_storage");
    assert!(v["error"]["message"].as_str().unwrap().contains("nothing was stored"), "{v}");
    let (status, text) = readyz(&r).await;
    assert_eq!(status, 503);
    assert!(text.starts_with("store failed: "), "{text}");
    let (status, v) = json(post("k9", "while-failed.top").await.unwrap()).await;
    assert_eq!(status, 507, "{v}");
    r.store.fail_point().set(FailMode::Off);
    wait_ready(&r).await;
    let head = r.store.head();
    let entries = r.store.feed(0, 1000).await.unwrap();
    assert!(!format!("{entries:?}").contains("not-stored.top"), "a 507 'nothing was stored' stored nothing");
    let resp = post("k1", "not-stored.top").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("idempotent-replayed").is_none(), "applied now, not replayed");
    assert_eq!(r.store.head(), head + 1);

    // Applied but not confirmed on disk: 507, outcome unknown, retry with the key is safe.
    r.store.fail_point().set(FailMode::AfterApply);
    let (status, v) = json(post("k2", "maybe-stored.top").await.unwrap()).await;
    assert_eq!(status, 507, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("outcome is unknown") && msg.contains("same Idempotency-Key is safe"), "{msg}");
    assert_eq!(readyz(&r).await.0, 503);
    r.store.fail_point().set(FailMode::Off);
    wait_ready(&r).await;
    let resp = post("k2", "maybe-stored.top").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["idempotent-replayed"], "true", "the retry did not apply it twice");
    assert!(r.store.verify_audit().await.unwrap().ok);
    let _ = r.stop.send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    r.store.close();
}

/// Stops a server started with `start_in` and waits until its tasks have
/// let go of the database (aborted tasks are dropped a little later).
async fn stop(s: TestServer) {
    let data = s.dir.join("data");
    s.stop().await;
    for _ in 0..200 {
        if sled::Config::new().path(&data).open().is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the database stayed locked after the server stopped");
}

fn tamis(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tamis"))
        .args(args)
        .arg("--config")
        .arg(dir.join("tamis.toml"))
        .env("TAMIS_LOG", "warn")
        .output()
        .expect("run tamis")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

async fn submit_some(dir: &Path, values: &[&str]) -> TestServer {
    let s = TestServer::start_in(dir).await;
    for v in values {
        let (status, body) =
            submit(&s, "bank-a", &json!({"indicators":[{"type":"domain","value":v,"category":"c2","tlp":"green"}]}))
                .await;
        assert_eq!(status, 200, "{body}");
    }
    s
}

/// F10: the audit head is anchored outside `data/`: a restored older copy,
/// or a chain cut at the end, fails `tamis audit verify` (and `serve`).
#[tokio::test]
async fn audit_rollback_and_truncation_are_detected() {
    let (_tmp, dir) = common::deployment();
    let s = submit_some(&dir, &["one.top", "two.top"]).await;
    // The head is in pull and audit answers.
    let r = s.client("dpo-a").get(s.url("/v1/audit?after=0")).send().await.unwrap();
    let head = r.headers()["x-tamis-audit-head"].to_str().unwrap().to_owned();
    let (seq, hash) = head.split_once(':').unwrap();
    assert!(seq.parse::<u64>().unwrap() >= 3 && hash.len() == 64, "{head}");
    let r = s.client("police-a").get(s.url("/v1/indicators?since=0")).send().await.unwrap();
    assert!(r.headers().contains_key("x-tamis-audit-head"));
    stop(s).await;

    let out = tamis(&["audit", "verify"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = v["records"].as_u64().unwrap();
    assert!(records >= 5, "{v}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{records} records")));
    assert_eq!(v["anchor"]["seq"].as_u64(), Some(records));
    let out = tamis(&["audit", "verify", "--expect-head", &head], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Roll back: keep a copy, write more, restore the copy.
    let old = dir.join("data-copy");
    copy_dir(&dir.join("data"), &old);
    let s = submit_some(&dir, &["three.top"]).await;
    stop(s).await;
    let newer = tamis(&["audit", "verify"], &dir);
    assert!(newer.status.success());
    let newer: Value = serde_json::from_slice(&newer.stdout).unwrap();
    std::fs::remove_dir_all(dir.join("data")).unwrap();
    copy_dir(&old, &dir.join("data"));
    let out = tamis(&["audit", "verify"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let expected =
        format!("rollback or truncation detected: chain has {records} records, anchor says {}", newer["records"]);
    assert!(text.contains(&expected), "{text}");
    // The server refuses to start on it (and so does not overwrite the anchor).
    let cfg = tamis::config::Config::load(&dir.join("tamis.toml")).unwrap();
    let e = tamis::deploy::load(&cfg).err().expect("serve must refuse a rolled-back data directory").to_string();
    assert!(e.contains("rollback or truncation detected") && e.contains("move it aside"), "{e}");
    let out = tamis(&["audit", "verify"], &dir);
    assert_eq!(out.status.code(), Some(1), "the anchor was kept");
}

/// F10 truncation, on its own deployment.
#[tokio::test]
async fn a_chain_cut_at_the_end_is_detected() {
    let (_tmp, dir) = common::deployment();
    let s = submit_some(&dir, &["one.top", "two.top", "three.top"]).await;
    stop(s).await;
    let storage = tamis::config::read_key(&dir.join("keys/storage.key")).unwrap();
    let (n, prev_hash) = {
        let store = SledStore::open(&dir.join("data"), &storage).unwrap();
        let log = store.audit_log(0, 1000).await.unwrap();
        let n = log.len() as u64;
        (n, log[log.len() - 2].hash.clone())
    };
    {
        let db = sled::open(dir.join("data")).unwrap();
        let t = db.open_tree("tamis").unwrap();
        let mut k = b"a/".to_vec();
        k.extend_from_slice(&n.to_be_bytes());
        t.remove(k).unwrap();
        t.insert(b"m/audit_seq", &(n - 1).to_be_bytes()).unwrap();
        t.insert(b"m/audit_head", prev_hash.as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let out = tamis(&["audit", "verify"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains(&format!("chain has {} records, anchor says {n}", n - 1)), "{text}");
}

/// F13: a copy of `data/` does not contain the id (a plain hash) of a submitted value.
#[tokio::test]
async fn data_files_do_not_confirm_a_guessed_value() {
    let (_tmp, dir) = common::deployment();
    let s = submit_some(&dir, &[DOMAIN]).await;
    stop(s).await;
    let id = tamis::store::indicator_id(tamis::model::IndicatorType::Domain, DOMAIN);
    let raw = hex::decode(id.replace('-', "")).unwrap();
    for f in common::walk(&dir.join("data")) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(id.len()).any(|w| w == id.as_bytes()), "the id is readable in {}", f.display());
        assert!(!bytes.windows(raw.len()).any(|w| w == raw.as_slice()), "the raw id is in {}", f.display());
    }
}

/// F15: a truncated database is "corrupt: restore it from a backup", exit 2,
/// from both `serve` and `audit verify`, not a panic.
#[tokio::test]
async fn a_truncated_database_is_a_clear_error() {
    let (_tmp, dir) = common::deployment();
    let s = TestServer::start_in(&dir).await;
    // Several commits spread over several segments: cutting the file then
    // loses pages that the index still points to (a lone commit would just
    // be rolled back to an earlier state, which the audit anchor reports).
    for b in 0..4 {
        let items: Vec<Value> = (0..2000)
            .map(|i| {
                json!({"type":"domain","value":format!("filler-{b}-{i}.top"),"category":"c2","tlp":"green",
                       "description": "x".repeat(200)})
            })
            .collect();
        let (status, v) = submit(&s, "isp-a", &json!({ "indicators": items })).await;
        assert_eq!(status, 200, "{v}");
    }
    stop(s).await;
    let db = dir.join("data/db");
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&db).unwrap().set_len(len / 2).unwrap();
    for args in [&["audit", "verify"][..], &["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"][..]] {
        let out = tamis(args, &dir);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("the data directory is corrupt: restore it from a backup"), "{args:?}: {err}");
        assert!(err.contains(&dir.join("data").display().to_string()), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Item 11: `tamis keys rotate` re-encrypts the store under a new key with
/// the next key id; the indicators, the idempotency records and the audit
/// anchor stay valid, and the old key no longer opens the store.
#[tokio::test]
async fn storage_key_rotation_keeps_everything_readable() {
    let (_tmp, dir) = common::deployment();
    let s = TestServer::start_in(&dir).await;
    let body = json!({"indicators":[{"type":"domain","value":"rotate-me.top","category":"c2","tlp":"green"}]});
    let post = |s: &TestServer| {
        s.client("bank-a").post(s.url("/v1/submissions")).header("idempotency-key", "rot-1").json(&body).send()
    };
    let (status, v) = json(post(&s).await.unwrap()).await;
    assert_eq!(status, 200, "{v}");
    let id = v["indicators"][0]["id"].as_str().unwrap().to_owned();
    stop(s).await;

    let key_file = dir.join("keys/storage.key");
    let old = std::fs::read_to_string(&key_file).unwrap();
    let out = tamis(&["keys", "rotate"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("under key id 2"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let new = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(old.trim(), new.trim());
    assert_eq!(std::fs::read_to_string(dir.join("keys/storage.key.retired-1")).unwrap().trim(), old.trim());
    let old_key: [u8; 32] = hex::decode(old.trim()).unwrap().try_into().unwrap();
    let e = SledStore::open(&dir.join("data"), &old_key).err().expect("the old key must not open it").to_string();
    assert!(e.contains("storage key does not open"), "{e}");
    let out = tamis(&["audit", "verify"], &dir);
    assert!(out.status.success(), "anchor re-authenticated: {}", String::from_utf8_lossy(&out.stderr));

    let s = TestServer::start_in(&dir).await;
    assert!(last_feed_item(&s, "police-a", &id).await.is_some(), "the indicator is still there");
    let r = post(&s).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["idempotent-replayed"], "true", "the idempotency record moved with the key");
    stop(s).await;
    let out = tamis(&["keys", "rotate"], &dir);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("under key id 3"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
