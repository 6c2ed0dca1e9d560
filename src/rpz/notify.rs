//! NOTIFY (RFC 1996) to the configured secondaries after a zone changes, so
//! they ask for the new serial at once instead of at their next refresh.
//!
//! The message names the zone only (no SOA in the answer section): the
//! serial depends on the secondary's key, so each secondary asks for its
//! own. Unsigned (BIND and Unbound accept NOTIFY from the addresses listed
//! as their primaries), or signed with the TSIG key of the participant an
//! `[rpz] notify` entry names, for a secondary that wants it
//! (`allow-notify { key NAME; };`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::config::NotifyTarget;
use crate::metrics::RpzMetrics;

/// Attempts per secondary, and the wait for an answer to the first; the
/// wait doubles at each retry (RFC 1996 §3.6).
const ATTEMPTS: u32 = 5;
const FIRST_WAIT: Duration = Duration::from_secs(1);

/// The NOTIFY message for zone `apex` (wire form) with message id `id`.
pub(super) fn message(apex: &[u8], id: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(16 + apex.len());
    m.extend_from_slice(&id.to_be_bytes());
    // Opcode NOTIFY (4), AA; one question.
    m.extend_from_slice(&[4 << 3 | 0x04, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(apex);
    m.extend_from_slice(&[0, 6, 0, 1]); // SOA, IN
    m
}

/// The NOTIFY message for each target: signed with the key of the
/// participant it names, if any (unsigned, with a warning, when that key
/// cannot be read).
pub(super) fn messages(targets: &[NotifyTarget], apex: &[u8], keys_dir: &Path) -> Vec<(SocketAddr, Vec<u8>)> {
    targets
        .iter()
        .map(|t| {
            let mut id = [0u8; 2];
            let _ = getrandom::fill(&mut id);
            let id = u16::from_be_bytes(id);
            let Some(participant) = t.participant() else { return (t.addr(), message(apex, id)) };
            match super::keys::read_key(&super::keys::key_path(keys_dir, participant))
                .and_then(|k| signed_message(apex, id, participant, &k.secret))
            {
                Ok(m) => (t.addr(), m),
                Err(e) => {
                    tracing::warn!(target = %t.addr(), %participant, error = %e, "NOTIFY sent unsigned: no usable TSIG key");
                    (t.addr(), message(apex, id))
                }
            }
        })
        .collect()
}

/// The NOTIFY message signed with `participant`'s key (RFC 8945).
pub(super) fn signed_message(apex: &[u8], id: u16, participant: &str, secret: &[u8]) -> Result<Vec<u8>, String> {
    use domain::base::iana::{Opcode, Rtype};
    use domain::base::{MessageBuilder, Name};
    use domain::tsig::{Algorithm, ClientTransaction, Key, KeyName};
    let name: KeyName = format!("{participant}.").parse().map_err(|_| "the participant is not a key name")?;
    let key = Key::new(Algorithm::Sha256, secret, name, None, None).map_err(|_| "the key is not usable")?;
    let mut b = MessageBuilder::new_vec();
    b.header_mut().set_id(id);
    b.header_mut().set_opcode(Opcode::NOTIFY);
    b.header_mut().set_aa(true);
    let mut q = b.question();
    let apex = Name::from_slice(apex).map_err(|_| "bad zone name")?;
    q.push((apex, Rtype::SOA)).map_err(|_| "message too long")?;
    let mut add = q.additional();
    ClientTransaction::request(key, &mut add, domain::rdata::tsig::Time48::now()).map_err(|_| "cannot sign")?;
    Ok(add.finish())
}

/// Tells every target its message; returns when each has answered or given up.
pub(super) async fn notify_all(targets: Vec<(SocketAddr, Vec<u8>)>, metrics: Arc<RpzMetrics>) {
    let tasks: Vec<_> = targets
        .into_iter()
        .map(|(t, m)| {
            let metrics = metrics.clone();
            tokio::spawn(async move { metrics.notify(notify_one(t, m).await) })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// Sends NOTIFY `msg` to `target` until it answers (any rcode), a few
/// times: `acknowledged`, `error` (an error rcode) or `unanswered`.
async fn notify_one(target: SocketAddr, msg: Vec<u8>) -> &'static str {
    let local: SocketAddr =
        if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let Ok(sock) = UdpSocket::bind(local).await else { return "unanswered" };
    let id = [msg[0], msg[1]];
    let mut wait = FIRST_WAIT;
    for _ in 0..ATTEMPTS {
        if sock.send_to(&msg, target).await.is_err() {
            tokio::time::sleep(wait).await;
            wait *= 2;
            continue;
        }
        let mut buf = [0u8; 512];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) if from == target && n >= 12 && buf[..2] == id && buf[2] & 0x80 != 0 => {
                    let rcode = buf[3] & 0x0f;
                    if rcode == 0 {
                        tracing::debug!(%target, "NOTIFY acknowledged");
                        return "acknowledged";
                    }
                    tracing::warn!(%target, rcode, "NOTIFY answered with an error (is this exchange listed as its primary?)");
                    return "error";
                }
                Ok(Ok(_)) => continue,
                _ => break,
            }
        }
        wait *= 2;
    }
    tracing::warn!(%target, "NOTIFY not acknowledged; the secondary will see the change at its next refresh");
    "unanswered"
}

#[cfg(test)]
mod tests {
    #[test]
    fn notify_message_layout() {
        let m = super::message(b"\x03rpz\x05tamis\x00", 0x1234);
        assert_eq!(&m[..4], &[0x12, 0x34, 0x24, 0x00], "id, opcode NOTIFY, AA");
        assert_eq!(&m[4..6], &[0, 1], "one question");
        assert!(m.ends_with(b"\x03rpz\x05tamis\x00\x00\x06\x00\x01"));
    }
}
