//! The exchange's zone-transfer listener (`[rpz] listen`) started on a port
//! of its own beside a [`TestServer`](super::TestServer), and what the
//! tests with a real secondary (BIND, Unbound) share: a free port, a plain
//! DNS query, waiting for an answer's rcode.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// A running RPZ listener; [`Rpz::stop`] ends it.
pub struct Rpz {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Rpz {
    /// Serves zone `rpz.tamis` from the server's blocklists and TSIG keys,
    /// telling `notify` of changes.
    pub async fn start(s: &super::TestServer, notify: Vec<SocketAddr>) -> Rpz {
        let notify = notify.into_iter().map(tamis::config::NotifyTarget::Plain).collect();
        Rpz::start_with(s, notify, Vec::new()).await
    }

    /// [`Rpz::start`] with `[rpz] notify` entries of either form and
    /// `[rpz] allow_unsigned` entries.
    pub async fn start_with(
        s: &super::TestServer,
        notify: Vec<tamis::config::NotifyTarget>,
        allow_unsigned: Vec<tamis::config::UnsignedSource>,
    ) -> Rpz {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let udp = tokio::net::UdpSocket::bind(addr).await.unwrap();
        let inputs = tamis::rpz::RpzInputs {
            registry: s.state.registry.clone(),
            blocklists: s.state.blocklists.clone(),
            zone: "rpz.tamis".into(),
            keys_dir: s.dir.join("keys/tsig"),
            notify,
            history: 8,
            store: s.state.store.clone(),
            allow_unsigned,
            metrics: s.state.metrics.rpz.clone(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(tamis::rpz::run(udp, tcp, inputs, async move {
            let _ = rx.await;
        }));
        Rpz { addr, stop: Some(tx), task: Some(task) }
    }

    /// Stops the listener and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.task.take().unwrap().await;
    }
}

/// A free loopback port (TCP and UDP), found by binding port 0.
pub fn free_port() -> u16 {
    for _ in 0..20 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// A recursive (RD) A query for `name`: `(rcode, answer count, raw answer)`.
pub fn query(server: SocketAddr, name: &str) -> Option<(u8, u16, Vec<u8>)> {
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    let id: u16 = 0x7a11;
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    sock.send_to(&q, server).ok()?;
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    let r = &buf[..n];
    if n < 12 || r[..2] != id.to_be_bytes() {
        return None;
    }
    Some((r[3] & 0x0f, u16::from_be_bytes([r[6], r[7]]), r.to_vec()))
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Polls `domains.rpz` as isp-a until it lists `name`.
pub async fn rpz_with(s: &super::TestServer, name: &str) -> String {
    let c = s.client("isp-a");
    for _ in 0..100 {
        let r = c.get(s.url("/v1/blocklists/domains.rpz")).send().await.unwrap();
        if r.status() == 200 {
            let body = r.text().await.unwrap();
            if body.lines().any(|l| l == format!("{name} CNAME .")) {
                return body;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("domains.rpz never listed the submitted domain");
}

/// Polls `name` on `server` until its rcode is `rcode`; false at the deadline.
pub async fn wait_rcode(server: SocketAddr, name: &str, rcode: u8, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let n = name.to_owned();
        if tokio::task::spawn_blocking(move || query(server, &n)).await.unwrap().is_some_and(|r| r.0 == rcode) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}
