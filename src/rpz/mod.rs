//! The RPZ zone served as a DNS primary (`[rpz] listen`): zone transfers
//! the way ISPs' resolvers consume commercial RPZ feeds (BIND, Unbound,
//! Knot Resolver, PowerDNS as `type secondary`).
//!
//! - Every request must carry a valid TSIG (RFC 8945, HMAC-SHA256) with the
//!   key of a registered, unrevoked participant with the blocklist role
//!   ([`keys`]); the key decides the participant and so the audience whose
//!   `domains.rpz` is served. No key: REFUSED; a bad key, signature or
//!   time: NOTAUTH with the TSIG error. Every answer is signed, every
//!   message of a transfer included.
//! - Except from the source addresses of `[rpz] allow_unsigned`, for
//!   secondaries that cannot sign (Unbound): an unsigned request from one
//!   of them stands for the participant the entry names (same checks as a
//!   key) and gets unsigned answers; its transfers are audited as that
//!   participant's pulls, marked `unsigned`.
//! - SOA queries (UDP or TCP), AXFR (TCP) and IXFR (TCP; over UDP the
//!   current SOA only, RFC 1995 §2) of one zone name (`[rpz] zone`,
//!   `rpz.tamis` by default) whose content depends on the key.
//! - The zones follow the published `domains.rpz` snapshots (same serial,
//!   same records); a bounded history of differences answers IXFR from
//!   earlier serials ([`zone`]), anything else gets the whole zone.
//! - NOTIFY (RFC 1996) to `[rpz] notify` after every change ([`notify`]),
//!   signed with a participant's key when the entry names one.

pub mod keys;
mod notify;
mod wire;
pub mod zone;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

use crate::feeds::blocklist::Blocklists;
use crate::identity::Registry;
use zone::{Zone, ZoneVersion};

/// Most TCP connections served at once; more wait in the backlog.
const MAX_TCP: usize = 32;
/// Most UDP queries answered at once; more are dropped (the client retries).
const MAX_UDP: usize = 64;
/// A TCP connection with no query for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(30);
/// Time allowed to read one query, or to write one answer message.
const TCP_IO: Duration = Duration::from_secs(10);

/// What the DNS listener serves, and from where.
pub struct RpzInputs {
    /// The registry in force: who a key belongs to, with which audiences.
    pub registry: Arc<ArcSwap<Registry>>,
    /// The published snapshots (their `domains.rpz` are the zones).
    pub blocklists: Arc<Blocklists>,
    /// The zone name, e.g. `rpz.tamis`.
    pub zone: String,
    /// Where the TSIG keys are (`<participant>.key`).
    pub keys_dir: PathBuf,
    /// Secondaries told of every change (NOTIFY), some with a participant's
    /// key to sign it.
    pub notify: Vec<crate::config::NotifyTarget>,
    /// Versions kept for IXFR, per audience.
    pub history: usize,
    /// Where transfers are recorded in the audit trail.
    pub store: Arc<dyn crate::store::Store>,
    /// Source addresses allowed to transfer without TSIG, per participant.
    pub allow_unsigned: Vec<crate::config::UnsignedSource>,
    /// Requests, NOTIFY outcomes and the zones, for `/metrics`.
    pub metrics: Arc<crate::metrics::RpzMetrics>,
}

/// The state shared by the listener's tasks.
pub(crate) struct Shared {
    inputs: RpzInputs,
    /// The apex in wire form (lower case).
    apex: Vec<u8>,
    /// The zone of each audience set, by audience key.
    zones: ArcSwap<HashMap<String, Arc<Zone>>>,
}

/// Serves the zones on `udp` and `tcp` until `shutdown` completes.
pub async fn run(
    udp: UdpSocket,
    tcp: TcpListener,
    inputs: RpzInputs,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let Some(apex) = zone::apex_wire(&inputs.zone) else {
        tracing::error!(zone = %inputs.zone, "RPZ listener not started: the zone name is not a DNS name");
        return;
    };
    let shared = Arc::new(Shared { inputs, apex, zones: ArcSwap::default() });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sync = tokio::spawn(follow_snapshots(shared.clone(), stop_rx.clone()));
    let udp = tokio::spawn(serve_udp(udp, shared.clone(), stop_rx.clone()));
    let tcp = tokio::spawn(accept_tcp(tcp, shared, stop_rx));
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = tokio::join!(sync, udp, tcp);
}

/// Completes when the listener stops.
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Answers UDP queries (SOA; IXFR with the SOA only).
async fn serve_udp(udp: UdpSocket, shared: Arc<Shared>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let udp = Arc::new(udp);
    let slots = Arc::new(Semaphore::new(MAX_UDP));
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = tokio::select! {
            r = udp.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => return,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else { continue };
        let (shared, udp, query) = (shared.clone(), udp.clone(), buf[..n].to_vec());
        tokio::spawn(async move {
            let answers = tokio::task::spawn_blocking(move || wire::answer(&shared, query, false, from.ip()).messages);
            for a in answers.await.unwrap_or_default() {
                let _ = udp.send_to(&a, from).await;
            }
            drop(permit);
        });
    }
}

/// Accepts TCP connections (at most [`MAX_TCP`] served at once).
async fn accept_tcp(tcp: TcpListener, shared: Arc<Shared>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_TCP));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
            () = stopped(&mut stop) => return,
        };
        let stream = tokio::select! {
            a = tcp.accept() => match a {
                Ok((s, _)) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => return,
        };
        let (shared, stop) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            serve_tcp(stream, shared, stop).await;
            drop(permit);
        });
    }
}

/// Answers the queries of one TCP connection (two-octet length prefix,
/// RFC 1035 §4.2.2; RFC 7766 allows several per connection).
async fn serve_tcp(mut stream: TcpStream, shared: Arc<Shared>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Ok(peer) = stream.peer_addr() else { return };
    loop {
        let mut len = [0u8; 2];
        tokio::select! {
            r = tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)) => match r {
                Ok(Ok(_)) => {}
                _ => return,
            },
            () = stopped(&mut stop) => return,
        }
        let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
        if !matches!(tokio::time::timeout(TCP_IO, stream.read_exact(&mut query)).await, Ok(Ok(_))) {
            return;
        }
        let s = shared.clone();
        let Ok(wire::Answer { messages: answers, pulled }) =
            tokio::task::spawn_blocking(move || wire::answer(&s, query, true, peer.ip())).await
        else {
            return;
        };
        if let Some(event) = pulled
            && let Err(e) = shared.inputs.store.audit(event).await
        {
            tracing::error!(error = %e, "cannot record a zone transfer in the audit trail; not sent");
            return;
        }
        if answers.is_empty() {
            return;
        }
        for a in answers {
            let mut framed = Vec::with_capacity(a.len() + 2);
            framed.extend_from_slice(&(a.len() as u16).to_be_bytes());
            framed.extend_from_slice(&a);
            if !matches!(tokio::time::timeout(TCP_IO, stream.write_all(&framed)).await, Ok(Ok(()))) {
                return;
            }
        }
    }
}

/// Keeps the zones in step with the published `domains.rpz` snapshots, and
/// sends NOTIFY after each change.
async fn follow_snapshots(shared: Arc<Shared>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut published = shared.inputs.blocklists.published.subscribe();
    loop {
        published.borrow_and_update();
        let s = shared.clone();
        let changed = tokio::task::spawn_blocking(move || refresh(&s)).await.unwrap_or(false);
        if changed && !shared.inputs.notify.is_empty() {
            let targets = notify::messages(&shared.inputs.notify, &shared.apex, &shared.inputs.keys_dir);
            tokio::spawn(notify::notify_all(targets, shared.inputs.metrics.clone()));
        }
        tokio::select! {
            r = published.changed() => if r.is_err() { return },
            () = stopped(&mut stop) => return,
        }
    }
}

/// Rebuilds the zones whose snapshot serial moved; true when any did.
fn refresh(shared: &Shared) -> bool {
    let old = shared.zones.load_full();
    let mut next = HashMap::new();
    let mut changed = false;
    let history = shared.inputs.history.max(1);
    for (audience, name, snap) in shared.inputs.blocklists.snapshots() {
        if name != "domains.rpz" {
            continue;
        }
        let serial = (snap.version & 0xffff_ffff) as u32;
        let zone = match old.get(&audience) {
            Some(z) if z.current.serial == serial => z.clone(),
            prev => {
                let text = match snap.body() {
                    Ok(text) => text,
                    // (logged by the snapshot) keep serving the zone it replaces
                    Err(_) => {
                        if let Some(p) = prev {
                            next.insert(audience, p.clone());
                        }
                        continue;
                    }
                };
                let (names, unusable) = zone::owners_of(&text, &shared.apex);
                if unusable > 0 {
                    tracing::warn!(audience = %audience, count = unusable, "RPZ records not served: not usable as DNS names");
                }
                let count = names.len();
                let version = ZoneVersion { serial, names };
                let zone = match prev {
                    // At most as many changed records as the zone holds, so
                    // the history stays within about one zone's size.
                    Some(p) => p.advance(version, history, count.max(10_000) * 2),
                    None => Zone::new(version),
                };
                tracing::info!(audience = %audience, serial, records = count, "RPZ zone updated");
                changed = true;
                Arc::new(zone)
            }
        };
        next.insert(audience, zone);
    }
    changed |= next.len() != old.len();
    let mut gauges: Vec<_> = next.iter().map(|(a, z)| (a.clone(), z.current.serial, z.current.names.len())).collect();
    gauges.sort();
    shared.inputs.metrics.set_zones(gauges);
    shared.zones.store(Arc::new(next));
    changed
}
