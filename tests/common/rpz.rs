//! The exchange's zone-transfer listener (`[rpz] listen`) started on a port
//! of its own beside a [`TestServer`](super::TestServer).

use std::net::SocketAddr;

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
