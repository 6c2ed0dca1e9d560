//! Test harness: a real deployment in a temporary directory (certificates
//! generated in-process with rcgen), the real server on 127.0.0.1:0, and
//! reqwest clients speaking mutual TLS with the participants' certificates.
#![allow(dead_code)]

pub mod pg;
pub mod rpz;
pub mod store_fixture;

pub mod leak;
#[allow(unused_imports)]
pub use leak::*;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tamis::config::Config;
use tokio::sync::oneshot;

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    store: Option<tamis::store::StoreHandle>,
    /// The running exchange's shared state and configuration (for reloads).
    pub state: Arc<tamis::app::AppState>,
    pub config: Config,
    _tmp: Option<tempfile::TempDir>,
}

/// A fresh deployment (like `tamis init`) in a temporary directory.
pub fn deployment() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    tamis::deploy::init(&dir).expect("init");
    (tmp, dir)
}

impl TestServer {
    /// Starts a server on a new deployment.
    pub async fn start() -> TestServer {
        let (tmp, dir) = deployment();
        let mut s = TestServer::start_in(&dir).await;
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on the deployment in `dir`.
    pub async fn start_in(dir: &Path) -> TestServer {
        let cfg = Config::load(&dir.join("tamis.toml")).expect("config");
        let loaded = tamis::deploy::load(&cfg).expect("load deployment");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(tamis::server::run(listener, loaded.tls.clone(), loaded.state.clone(), async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            dir: dir.to_path_buf(),
            stop: Some(tx),
            task: Some(task),
            store: Some(loaded.store),
            state: loaded.state,
            config: cfg,
            _tmp: None,
        }
    }

    /// Stops the server the way SIGTERM does and closes the store.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if let Some(s) = self.store.take() {
            s.close();
        }
        self._tmp.take()
    }

    /// What SIGHUP does: re-read registry, policies and TLS material.
    pub async fn reload(&self) -> Result<Vec<String>, String> {
        tamis::deploy::reload(&self.config, &self.state).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{}", self.addr.port(), path)
    }

    /// A client presenting participant `who`'s certificate (from `certs/`).
    pub fn client(&self, who: &str) -> reqwest::Client {
        let certs = self.dir.join("certs");
        client_with(
            &self.dir,
            Some((&certs.join(format!("{who}.pem")), &certs.join(format!("{who}.key")))),
            self.addr,
            false,
        )
    }

    pub fn client_http1(&self, who: &str) -> reqwest::Client {
        let certs = self.dir.join("certs");
        client_with(
            &self.dir,
            Some((&certs.join(format!("{who}.pem")), &certs.join(format!("{who}.key")))),
            self.addr,
            true,
        )
    }

    /// A client with no certificate at all.
    pub fn anonymous(&self) -> reqwest::Client {
        client_with(&self.dir, None, self.addr, false)
    }
}

pub fn client_with(dir: &Path, identity: Option<(&Path, &Path)>, addr: SocketAddr, http1: bool) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("certs/ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match identity {
        Some((cert, key)) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(cert).unwrap().map(|c| c.unwrap()).collect();
            let key = PrivateKeyDer::from_pem_file(key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = if http1 { vec![b"http/1.1".to_vec()] } else { vec![b"h2".to_vec(), b"http/1.1".to_vec()] };
    // a safety net: a request that never ends fails the test instead of hanging CI
    let mut b = reqwest::Client::builder()
        .tls_backend_preconfigured(cfg)
        .resolve("localhost", addr)
        .no_proxy()
        .timeout(std::time::Duration::from_secs(300));
    if http1 {
        b = b.http1_only();
    }
    b.build().unwrap()
}

/// Writes a certificate and key for a new client into `dir/certs/NAME.{pem,key}`,
/// issued by the deployment CA (`foreign == false`) or by a new, unrelated CA.
pub fn issue_client(dir: &Path, name: &str, foreign: bool) {
    let certs = dir.join("certs");
    let ca = if foreign {
        let ca = tamis::pki::new_ca("some other CA").unwrap();
        tamis::pki::Ca::from_pem(&ca.cert_pem, &ca.key_pem).unwrap()
    } else {
        tamis::pki::Ca::from_pem(
            &std::fs::read_to_string(certs.join("ca.pem")).unwrap(),
            &std::fs::read_to_string(certs.join("ca.key")).unwrap(),
        )
        .unwrap()
    };
    let issued = ca.issue_client(name, "Test").unwrap();
    std::fs::write(certs.join(format!("{name}.pem")), issued.cert_pem).unwrap();
    std::fs::write(certs.join(format!("{name}.key")), issued.key_pem).unwrap();
}

pub async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, v)
}

pub async fn submit(s: &TestServer, who: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    json(s.client(who).post(s.url("/v1/submissions")).json(body).send().await.unwrap()).await
}

/// The TAXII 2.1 media type, sent as `Accept` by [`taxii_get`].
pub const TAXII: &str = "application/taxii+json;version=2.1";

/// GET `path` as participant `who` with the TAXII `Accept` header: status,
/// headers and the JSON body.
pub async fn taxii_get(s: &TestServer, who: &str, path: &str) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let resp = s.client(who).get(s.url(path)).header("accept", TAXII).send().await.unwrap();
    let headers = resp.headers().clone();
    let (status, v) = json(resp).await;
    (status, headers, v)
}

/// Registers a participant (before the server starts) with a certificate
/// issued by the deployment CA and recognised by its SAN.
pub fn add_participant(dir: &Path, id: &str, kind: &str, roles: &[&str], audiences: &[&str]) {
    issue_client(dir, id, false);
    let quote = |l: &[&str]| l.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", ");
    let entry = format!(
        "\n[[participant]]\nid = {id:?}\nkind = {kind:?}\nroles = [{}]\naudiences = [{}]\n",
        quote(roles),
        quote(audiences)
    );
    let path = dir.join("participants.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&entry);
    std::fs::write(&path, text).unwrap();
}

/// Every file under `dir`, recursively (to scan database files for leaks).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
