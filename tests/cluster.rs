//! Two `tamis` nodes on one PostgreSQL database (a throwaway cluster, see
//! `common/pg.rs`; "skipped" without PostgreSQL unless
//! `TAMIS_REQUIRE_POSTGRES=1`): a submission through node A is in node B's
//! feed and blocklist within a second; while the database is down both
//! nodes say not-ready on `/readyz`, and they recover by themselves; a
//! node killed with SIGKILL under load loses nothing it acknowledged, and
//! the other keeps serving.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::Postgres;
use serde_json::json;

/// A running node: its API and admin listeners.
struct Node {
    dir: std::path::PathBuf,
    api: SocketAddr,
    admin: SocketAddr,
    store: tamis::store::StoreHandle,
    stop: tokio::sync::broadcast::Sender<()>,
}

impl Node {
    async fn start(dir: &Path) -> Node {
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
        Node { dir: dir.to_path_buf(), api: api_addr, admin: admin_addr, store: loaded.store, stop }
    }

    fn client(&self, who: &str) -> reqwest::Client {
        let certs = self.dir.join("certs");
        let (cert, key) = (certs.join(format!("{who}.pem")), certs.join(format!("{who}.key")));
        common::client_with(&self.dir, Some((&cert, &key)), self.api, false)
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.api.port())
    }

    async fn get(&self, who: &str, path: &str) -> (u16, String) {
        let r = self.client(who).get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn readyz(&self) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut c = tokio::net::TcpStream::connect(self.admin).await.unwrap();
        c.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut resp = String::new();
        c.read_to_string(&mut resp).await.unwrap();
        let status = resp.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, resp.split("\r\n\r\n").nth(1).unwrap_or("").to_owned())
    }

    async fn wait_readyz(&self, status: u16, within: Duration) -> Duration {
        let t0 = Instant::now();
        while t0.elapsed() < within {
            if self.readyz().await.0 == status {
                return t0.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("/readyz never answered {status} within {within:?}: {:?}", self.readyz().await);
    }

    fn stop(self) {
        let _ = self.stop.send(());
        self.store.close();
    }
}

/// Copies a deployment (keys, certificates, registry, policies) for a
/// second node, without its data.
fn copy_deployment(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if ["data", "audit", "admin.addr", "node-b"].iter().any(|n| name == *n) {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy_deployment(&e.path(), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

async fn submit(node: &Node, who: &str, value: &str) {
    let body = json!({"indicators": [{"type": "domain", "value": value, "category": "phishing", "tlp": "green"}]});
    let r = node.client(who).post(node.url("/v1/submissions")).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{}", r.text().await.unwrap());
}

/// Waits until `path` read through `node` contains `needle`: how long it took.
async fn seen_within(node: &Node, who: &str, path: &str, needle: &str, within: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let (status, body) = node.get(who, path).await;
        if status == 200 && body.contains(needle) {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < within, "{needle} not in {path} within {within:?} ({status}: {body})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_database_and_survive_its_restart() {
    let Some(pg) = Postgres::start() else { return };
    let (_tmp, dir_a, dir_b) = two_deployments(&pg, "tamis");
    let a = Node::start(&dir_a).await;
    let b = Node::start(&dir_b).await;
    b.wait_readyz(200, Duration::from_secs(10)).await;
    assert!(!dir_a.join("data").exists() || std::fs::read_dir(dir_a.join("data")).unwrap().next().is_none());

    // Submitted through A: in B's feed and blocklist within a second.
    submit(&a, "isp-a", "cluster-one.top").await;
    let feed = "/v1/indicators?since=0&limit=100";
    let lag = seen_within(&b, "police-a", feed, "cluster-one.top", Duration::from_secs(1)).await;
    let built = seen_within(&b, "isp-a", "/v1/blocklists/domains.txt", "cluster-one.top", Duration::from_secs(1));
    eprintln!("feed lag A -> B: {lag:?}; blocklist on B: {:?}", built.await);
    // And the other way round.
    submit(&b, "bank-a", "cluster-two.top").await;
    seen_within(&a, "police-a", feed, "cluster-two.top", Duration::from_secs(1)).await;

    // The database goes away: both nodes say not-ready, then recover by themselves.
    pg.stop_server();
    let down = b.wait_readyz(503, Duration::from_secs(5)).await;
    assert!(b.readyz().await.1.contains("store failed"), "{:?}", b.readyz().await);
    a.wait_readyz(503, Duration::from_secs(5)).await;
    eprintln!("B not-ready {down:?} after the database stopped");
    let body = json!({"indicators": [{"type": "domain", "value": "while-down.top", "category": "phishing"}]});
    let r = a.client("isp-a").post(a.url("/v1/submissions")).json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 507, "a write while the database is down is refused, nothing stored");
    pg.start_server();
    let up = b.wait_readyz(200, Duration::from_secs(15)).await;
    a.wait_readyz(200, Duration::from_secs(15)).await;
    eprintln!("B ready again {up:?} after the database restarted");
    submit(&a, "isp-a", "cluster-three.top").await;
    seen_within(&b, "police-a", feed, "cluster-three.top", Duration::from_secs(1)).await;
    let (status, verify) = b.get("dpo-a", "/v1/audit/verify").await;
    assert_eq!(status, 200, "{verify}");
    assert!(verify.contains("\"ok\":true"), "{verify}");
    a.stop();
    b.stop();
}

/// A deployment on database `db` of `pg`, and a copy of it for a second node.
fn two_deployments(pg: &Postgres, db: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, dir_a) = common::deployment();
    let store = format!("\n[store]\nbackend = \"postgres\"\nurl = \"{}\"\n", pg.url(db));
    let mut cfg = std::fs::read_to_string(dir_a.join("tamis.toml")).unwrap();
    cfg.push_str(&store);
    std::fs::write(dir_a.join("tamis.toml"), cfg).unwrap();
    let dir_b = tmp.path().join("node-b");
    copy_deployment(&dir_a, &dir_b);
    (tmp, dir_a, dir_b)
}

/// Starts the real binary (`tamis serve`) on ephemeral ports: the child and
/// its API address.
fn spawn_server(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tamis"))
        .args(["serve", "--config"])
        .arg(dir.join("tamis.toml"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-format", "json"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn tamis");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("tamis listening") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                let _ = tx.send(v["fields"]["addr"].as_str().unwrap().parse::<SocketAddr>().unwrap());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("server did not start");
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_load_loses_nothing_it_acknowledged() {
    let Some(pg) = Postgres::start() else { return };
    let (tmp, dir_a, dir_b) = two_deployments(&pg, "tamis");
    let (mut child, addr) = spawn_server(&dir_a);
    let b = Node::start(&dir_b).await;
    let (cert, key) = (dir_a.join("certs/bank-a.pem"), dir_a.join("certs/bank-a.key"));
    let bank = common::client_with(&dir_a, Some((&cert, &key)), addr, false);
    let url = format!("https://localhost:{}/v1/submissions", addr.port());
    let mut tasks = Vec::new();
    for i in 0..80 {
        let (bank, url) = (bank.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"indicators": [{"type": "url", "value": format!("https://kill-{i}.example.com/x"),
                "category": "phishing", "tlp": "green"}]});
            let r = bank.post(&url).json(&body).send().await.ok()?;
            (r.status() == 200).then_some(i)
        }));
        if i == 19 {
            // Let the first twenty land, then kill while the rest are in flight.
            while tasks.iter().any(|t| !t.is_finished()) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        if i == 50 {
            // Some of 20..50 land, the rest and 51.. are in flight.
            tokio::time::sleep(Duration::from_millis(150)).await;
            child.kill().unwrap();
        }
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let _ = child.wait();
    assert!(acked.len() >= 20, "too few submissions landed before the kill: {}", acked.len());
    // B keeps serving, and has every acknowledged submission.
    let feed = "/v1/indicators?since=0&limit=1000";
    let t0 = Instant::now();
    let body = loop {
        let (status, body) = b.get("police-a", feed).await;
        assert_eq!(status, 200, "{body}");
        let missing: Vec<_> = acked.iter().filter(|i| !body.contains(&format!("kill-{i}.example.com"))).collect();
        if missing.is_empty() {
            break body;
        }
        assert!(t0.elapsed() < Duration::from_secs(2), "acknowledged but not in B's feed: {missing:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("{} acknowledged before the kill, all in B's feed ({} bytes)", acked.len(), body.len());
    assert_eq!(b.readyz().await.0, 200);
    submit(&b, "bank-a", "after-kill.top").await;
    let (status, verify) = b.get("dpo-a", "/v1/audit/verify").await;
    assert!(status == 200 && verify.contains("\"ok\":true"), "{verify}");
    b.stop();
    drop(tmp);
}

/// A node started while its database is down (both started together, the
/// database last) waits for it instead of exiting (`[store]
/// wait_at_start_secs`), says so in its log, and serves once it is up; a
/// node whose database refuses it for another reason (a database that does
/// not exist) exits at once with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_before_its_database_waits_for_it() {
    let Some(pg) = Postgres::start() else { return };
    let (_tmp, dir_a, dir_b) = two_deployments(&pg, "tamis");
    pg.stop_server();
    let t0 = Instant::now();
    let starter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        pg.start_server();
        pg
    });
    let (mut child, addr) = spawn_server(&dir_a);
    let waited = t0.elapsed();
    let pg = starter.join().unwrap();
    assert!(waited >= Duration::from_secs(3), "the node served before its database was up ({waited:?})");
    let (cert, key) = (dir_a.join("certs/isp-a.pem"), dir_a.join("certs/isp-a.key"));
    let isp = common::client_with(&dir_a, Some((&cert, &key)), addr, false);
    let body = json!({"indicators": [{"type": "domain", "value": "after-wait.top", "category": "phishing"}]});
    let r = isp.post(format!("https://localhost:{}/v1/submissions", addr.port())).json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    eprintln!("node served {waited:?} after its start, 3 s after the database's");
    let _ = child.kill();
    let _ = child.wait();

    // another error than "not reachable yet": no wait
    let mut cfg = std::fs::read_to_string(dir_b.join("tamis.toml")).unwrap();
    cfg = cfg.replace(&pg.url("tamis"), &pg.url("no_such_db"));
    std::fs::write(dir_b.join("tamis.toml"), cfg).unwrap();
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tamis"))
        .args(["serve", "--config"])
        .arg(dir_b.join("tamis.toml"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(t0.elapsed() < Duration::from_secs(20), "it waited for a database that does not exist");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no_such_db"), "{err}");
}

/// A TCP relay to the database that, once armed, lets the first `COMMIT` it
/// sees reach the server and then cuts that connection before the answer
/// comes back: the writer cannot know whether it committed.
async fn commit_cutting_relay(db: SocketAddr, armed: std::sync::Arc<std::sync::atomic::AtomicBool>) -> SocketAddr {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            let armed = armed.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(db).await else { return };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let down = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                });
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = cr.read(&mut buf).await {
                    let commit = buf[..n].windows(7).any(|w| w == b"COMMIT\0");
                    if commit && armed.swap(false, Ordering::SeqCst) {
                        // nothing more reaches the client; the COMMIT reaches the server
                        down.abort();
                        let _ = sw.write_all(&buf[..n]).await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        return;
                    }
                    if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                down.abort();
            });
        }
    });
    addr
}

/// The connection breaks during `COMMIT`: the submitter gets 507 "the outcome
/// is unknown" (the indicator is in fact stored: it is in the feed), retrying with the same
/// Idempotency-Key answers as the first time would have, and the indicator
/// is in the feed once, with one audit record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_during_commit_answers_outcome_unknown_and_a_retry_is_safe() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(pg) = Postgres::start() else { return };
    let armed = std::sync::Arc::new(AtomicBool::new(false));
    let db: SocketAddr = pg.url("tamis").split('@').nth(1).unwrap().split('/').next().unwrap().parse().unwrap();
    let relay = commit_cutting_relay(db, armed.clone()).await;
    let (_tmp, dir_a, _) = two_deployments(&pg, "tamis");
    let cfg = std::fs::read_to_string(dir_a.join("tamis.toml")).unwrap();
    std::fs::write(dir_a.join("tamis.toml"), cfg.replace(&db.to_string(), &relay.to_string())).unwrap();
    let a = Node::start(&dir_a).await;
    a.wait_readyz(200, Duration::from_secs(10)).await;

    let body = json!({"indicators": [{"type": "domain", "value": "cut-at-commit.top", "category": "phishing"}]});
    let post =
        || a.client("isp-a").post(a.url("/v1/submissions")).header("Idempotency-Key", "cut-1").json(&body).send();
    armed.store(true, Ordering::SeqCst);
    let r = post().await.unwrap();
    assert_eq!(r.status().as_u16(), 507);
    let text = r.text().await.unwrap();
    assert!(text.contains("outcome is unknown") && text.contains("Idempotency-Key"), "{text}");
    assert!(!armed.load(Ordering::SeqCst), "the relay saw no COMMIT");

    // the writer reconnects by itself; the retry replays, it does not add
    a.wait_readyz(200, Duration::from_secs(15)).await;
    let (_, feed) = a.get("police-a", "/v1/indicators?since=0&limit=100").await;
    assert_eq!(feed.matches("cut-at-commit.top").count(), 1, "the COMMIT did reach the server: {feed}");
    let r = post().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let (_, feed) = a.get("police-a", "/v1/indicators?since=0&limit=100").await;
    assert_eq!(feed.matches("cut-at-commit.top").count(), 1, "{feed}");
    let (status, verify) = a.get("dpo-a", "/v1/audit/verify").await;
    assert_eq!(status, 200, "{verify}");
    assert!(verify.contains("\"ok\":true"), "{verify}");
    a.stop();
}
