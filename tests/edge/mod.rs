//! Raw clients for the connection tests: a TLS stream with a participant's
//! certificate, plain HTTP/1.1 written by hand, and hyper's HTTP/2 client,
//! so a test controls exactly what the connection does (or does not do).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub type Conn = TlsStream<TcpStream>;

/// Sets `[limits]` keys in the deployment's `tamis.toml` (before the server starts).
pub fn set_limits(dir: &Path, keys: &[(&str, &str)]) {
    let path = dir.join("tamis.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        match keys.iter().find(|(k, _)| *k == key) {
            Some((k, v)) => out.push(format!("{k} = {v}")),
            None => out.push(line.to_owned()),
        }
    }
    for (k, _) in keys {
        assert!(out.iter().any(|l| l.starts_with(&format!("{k} = "))), "{k} is not in tamis.toml");
    }
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

/// A TLS connection to `addr` as participant `who` (certs/WHO.pem) with the given ALPN.
pub async fn connect(dir: &Path, who: &str, addr: std::net::SocketAddr, alpn: &[u8]) -> Conn {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("certs/ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let certs = dir.join("certs");
    let chain: Vec<_> =
        CertificateDer::pem_file_iter(certs.join(format!("{who}.pem"))).unwrap().map(|c| c.unwrap()).collect();
    let key = PrivateKeyDer::from_pem_file(certs.join(format!("{who}.key"))).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    cfg.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

/// An HTTP/1.1 answer: status, lower-cased head, body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends one HTTP/1.1 request on `conn` and reads its answer; `None` when
/// the server closed the connection instead (or within 10 s nothing came).
pub async fn h1(conn: &mut Conn, method: &str, path: &str, body: Option<&str>) -> Option<Answer> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    if let Some(b) = body {
        req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    h1_raw(conn, &req).await
}

/// Sends `req` (a whole HTTP/1.1 request) on `conn` and reads one answer.
pub async fn h1_raw(conn: &mut Conn, req: &str) -> Option<Answer> {
    tokio::time::timeout(Duration::from_secs(10), async {
        conn.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        let mut tmp = [0u8; 8192];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse::<usize>().unwrap())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    let status = head[9..12].parse().unwrap();
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                    return Some(Answer { status, head, body });
                }
            }
            let n = conn.read(&mut tmp).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
    })
    .await
    .ok()
    .flatten()
}

/// True when the server closes `conn` within `within` (EOF or error on read).
pub async fn closed_within(conn: &mut Conn, within: Duration) -> bool {
    let mut tmp = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match conn.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}
