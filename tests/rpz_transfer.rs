//! The RPZ zone by zone transfer (`[rpz] listen`): AXFR and IXFR over TCP,
//! SOA over UDP, each request signed with a participant's TSIG key and every
//! answer message checked with the `domain` crate's TSIG client sequence;
//! refusals without a key, with a wrong secret, and with the key of a
//! participant that may not pull blocklists; NOTIFY after a change; the
//! serial kept across a restart.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::rpz::Rpz;
use common::{TestServer, add_participant, submit};
use domain::base::iana::{Class, Rcode, Rtype};
use domain::base::message_builder::MessageBuilder;
use domain::base::name::ParsedName;
use domain::base::{Message, Name, Serial, Ttl};
use domain::rdata::tsig::Time48;
use domain::rdata::{Cname, Soa};
use domain::tsig::{Algorithm, ClientSequence, Key, KeyName};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ZONE: &str = "rpz.tamis.";

/// The key of participant `id` as the exchange wrote it (its copy in certs/).
fn key_of(dir: &Path, id: &str) -> Key {
    let text = std::fs::read_to_string(dir.join(format!("certs/{id}.tsig.conf"))).unwrap();
    let k = tamis::rpz::keys::parse_key(&text).unwrap();
    Key::new(Algorithm::Sha256, &k.secret, format!("{id}.").parse::<KeyName>().unwrap(), None, None).unwrap()
}

/// A query for the zone, signed with `key` when given; an IXFR carries the
/// client's SOA serial in its authority section.
fn query(qtype: Rtype, ixfr_from: Option<u32>, key: Option<Key>) -> (Vec<u8>, Option<ClientSequence<Key>>) {
    let apex: Name<Vec<u8>> = ZONE.parse().unwrap();
    let mut b = MessageBuilder::new_vec();
    b.header_mut().set_id(0x5a5a);
    let mut q = b.question();
    q.push((&apex, qtype)).unwrap();
    let mut auth = q.authority();
    if let Some(serial) = ixfr_from {
        let n: Name<Vec<u8>> = "localhost.".parse().unwrap();
        let t = Ttl::from_secs(0);
        auth.push((&apex, Class::IN, t, Soa::new(n.clone(), n, Serial(serial), t, t, t, t))).unwrap();
    }
    let mut add = auth.additional();
    let seq = key.map(|k| ClientSequence::request(k, &mut add, Time48::now()).unwrap());
    (add.finish(), seq)
}

/// Sends `q` over TCP and reads answer messages until a transfer ends (the
/// closing SOA) or, for other queries, after the first.
async fn tcp_exchange(addr: SocketAddr, q: &[u8], transfer: bool) -> Vec<Message<Vec<u8>>> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    s.write_all(&framed).await.unwrap();
    let mut out = Vec::new();
    let mut soas = 0;
    loop {
        let mut len = [0u8; 2];
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut len)).await;
        if !matches!(read, Ok(Ok(_))) {
            break;
        }
        let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut m).await.unwrap();
        let msg = Message::from_octets(m).unwrap();
        let here = serials(&msg);
        soas += here.len();
        let first = out.first().map(|f: &Message<Vec<u8>>| serials(f)[0]).or(here.first().copied());
        let ends_with_soa = records(std::slice::from_ref(&msg)).last().is_some_and(|r| r.1 == Rtype::SOA);
        // A transfer ends with the first SOA again, after an even number of
        // SOAs (AXFR: 2; IXFR: 2 per difference and 2); a lone SOA is an
        // up-to-date IXFR answer.
        let done = !transfer
            || msg.header().rcode() != Rcode::NOERROR
            || (out.is_empty() && msg.header_counts().ancount() == 1)
            || (soas >= 2 && soas % 2 == 0 && ends_with_soa && here.last().copied() == first);
        out.push(msg);
        if done {
            break;
        }
    }
    out
}

/// The SOA serials in a message's answer section, in order.
fn serials(msg: &Message<Vec<u8>>) -> Vec<u32> {
    msg.answer().unwrap().limit_to::<Soa<ParsedName<&[u8]>>>().map(|r| r.unwrap().data().serial().into_int()).collect()
}

/// Every answer record as `(owner, type)`, CNAMEs checked to point at the root.
fn records(msgs: &[Message<Vec<u8>>]) -> Vec<(String, Rtype)> {
    let mut out = Vec::new();
    for m in msgs {
        for r in m.answer().unwrap() {
            let r = r.unwrap();
            if r.rtype() == Rtype::CNAME {
                let c = r.to_record::<Cname<ParsedName<&[u8]>>>().unwrap().unwrap();
                assert!(c.data().cname().is_root(), "every RPZ record is CNAME .");
            }
            out.push((r.owner().to_string().to_ascii_lowercase(), r.rtype()));
        }
    }
    out
}

/// Checks the TSIG of every answer message (RFC 8945: each one is signed).
fn verify(seq: ClientSequence<Key>, msgs: &mut [Message<Vec<u8>>]) {
    let mut seq = seq;
    for m in msgs.iter_mut() {
        seq.answer(m, Time48::now()).expect("every message of the answer carries a valid TSIG");
    }
    seq.done().expect("the sequence ends signed");
}

/// The SOA serial of the HTTP `domains.rpz` once it lists `name`.
async fn http_serial_with(s: &TestServer, name: &str) -> u32 {
    let c = s.client("isp-a");
    for _ in 0..100 {
        let body = c.get(s.url("/v1/blocklists/domains.rpz")).send().await.unwrap().text().await.unwrap();
        if body.lines().any(|l| l == format!("{name} CNAME .")) {
            let soa = body.lines().find(|l| l.contains(" SOA ")).unwrap();
            return soa.split_whitespace().nth(5).unwrap().parse().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("domains.rpz never listed {name}");
}

/// The zone's serial by a signed UDP SOA query, once it is `want` (the
/// listener follows the published snapshots).
async fn udp_soa_until(addr: SocketAddr, key: &Key, want: u32) -> u32 {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut last = 0;
    for _ in 0..100 {
        let (q, seq) = query(Rtype::SOA, None, Some(key.clone()));
        sock.send_to(&q, addr).await.unwrap();
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await {
            let mut msgs = vec![Message::from_octets(buf[..n].to_vec()).unwrap()];
            if msgs[0].header().rcode() == Rcode::NOERROR {
                verify(seq.unwrap(), &mut msgs);
                assert!(msgs[0].header().aa(), "authoritative");
                last = serials(&msgs[0])[0];
                if last == want {
                    return last;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the zone never reached serial {want} (last {last})");
}

fn domain(value: &str) -> serde_json::Value {
    json!({"type":"domain","value":value,"category":"c2","confidence":90,"tlp":"green"})
}

#[tokio::test]
async fn axfr_ixfr_and_refusals_with_tsig() {
    let (tmp, dir) = common::deployment();
    // bank-b may submit but not pull blocklists: a key file does not help it.
    add_participant(&dir, "bank-b", "bank", &["submit"], &[]);
    let bank_key = tamis::rpz::keys::key_clause("bank-b", &tamis::rpz::keys::new_secret());
    tamis::config::write_new_file(&dir.join("keys/tsig/bank-b.key"), bank_key.as_bytes(), true).unwrap();
    let s = TestServer::start_in(&dir).await;
    let (status, _) = submit(
        &s,
        "isp-a",
        &json!({"indicators": [domain("listed-c2.top"), domain("other-c2.top"),
        {"type":"ipv4","value":"185.220.101.4","category":"c2","confidence":90,"tlp":"green"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let serial1 = http_serial_with(&s, "listed-c2.top").await;
    let rpz = Rpz::start(&s, Vec::new()).await;
    let key = key_of(&dir, "isp-a");
    assert_eq!(udp_soa_until(rpz.addr, &key, serial1).await, serial1, "the zone's serial is the HTTP file's");

    // AXFR: SOA, NS, the records of domains.rpz, SOA; every message signed.
    let (q, seq) = query(Rtype::AXFR, None, Some(key.clone()));
    let mut msgs = tcp_exchange(rpz.addr, &q, true).await;
    verify(seq.unwrap(), &mut msgs);
    let recs = records(&msgs);
    assert_eq!(recs.first().unwrap().1, Rtype::SOA);
    assert_eq!(recs.last().unwrap().1, Rtype::SOA);
    for owner in ["listed-c2.top.rpz.tamis", "*.listed-c2.top.rpz.tamis", "32.4.101.220.185.rpz-ip.rpz.tamis"] {
        assert!(recs.contains(&(owner.to_owned(), Rtype::CNAME)), "{owner} in {recs:?}");
    }
    assert_eq!(recs.len(), 2 + 1 + 5, "SOA twice, NS, two names with their wildcards, one address");
    // The transfer is a pull in the audit trail (SPEC §8), with the serial and the count.
    let log = tamis::store::Store::audit_log(&*s.state.store, 0, 10_000).await.unwrap();
    let pulls: Vec<String> = log
        .iter()
        .filter_map(|r| match &r.event {
            tamis::audit::AuditEvent::Pull { participant, endpoint, range, count } if endpoint.starts_with("dns") => {
                Some(format!("{participant} {endpoint} {range} {count}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(pulls, vec![format!("isp-a dns AXFR rpz serial {serial1} 5")]);

    // Refusals: no key, a wrong secret, a participant without the blocklist role.
    let (q, _) = query(Rtype::AXFR, None, None);
    let r = tcp_exchange(rpz.addr, &q, true).await;
    assert_eq!(r[0].header().rcode(), Rcode::REFUSED, "no TSIG: refused");
    assert_eq!(r[0].header_counts().ancount(), 0, "and no records");
    let forged = Key::new(Algorithm::Sha256, &[7u8; 32], "isp-a.".parse::<KeyName>().unwrap(), None, None).unwrap();
    let (q, _) = query(Rtype::AXFR, None, Some(forged));
    let r = tcp_exchange(rpz.addr, &q, true).await;
    assert_eq!(r[0].header().rcode(), Rcode::NOTAUTH, "wrong secret: NOTAUTH (BADSIG)");
    assert_eq!(r[0].header_counts().ancount(), 0);
    let bank = Key::new(
        Algorithm::Sha256,
        &tamis::rpz::keys::parse_key(&bank_key).unwrap().secret,
        "bank-b.".parse::<KeyName>().unwrap(),
        None,
        None,
    )
    .unwrap();
    let (q, _) = query(Rtype::AXFR, None, Some(bank));
    let r = tcp_exchange(rpz.addr, &q, true).await;
    assert_eq!(r[0].header().rcode(), Rcode::NOTAUTH, "no blocklist role: its key is unknown (BADKEY)");

    // A new indicator: IXFR from the previous serial sends the difference only.
    let (status, _) = submit(&s, "isp-a", &json!({"indicators": [domain("new-c2.top")]})).await;
    assert_eq!(status, 200);
    let serial2 = http_serial_with(&s, "new-c2.top").await;
    assert!(serial2 > serial1);
    udp_soa_until(rpz.addr, &key, serial2).await;
    let (q, seq) = query(Rtype::IXFR, Some(serial1), Some(key.clone()));
    let mut msgs = tcp_exchange(rpz.addr, &q, true).await;
    verify(seq.unwrap(), &mut msgs);
    let all: Vec<u32> = msgs.iter().flat_map(serials).collect();
    assert_eq!(all, vec![serial2, serial1, serial2, serial2], "RFC 1995: new SOA, old SOA, new SOA, new SOA");
    let added: Vec<String> = records(&msgs).into_iter().filter(|r| r.1 == Rtype::CNAME).map(|r| r.0).collect();
    assert_eq!(added, vec!["*.new-c2.top.rpz.tamis", "new-c2.top.rpz.tamis"], "only the new records");

    // Up to date: the SOA alone. Unknown serial: the whole zone.
    let (q, seq) = query(Rtype::IXFR, Some(serial2), Some(key.clone()));
    let mut msgs = tcp_exchange(rpz.addr, &q, false).await;
    verify(seq.unwrap(), &mut msgs);
    assert_eq!(records(&msgs), vec![("rpz.tamis".to_owned(), Rtype::SOA)]);
    let (q, seq) = query(Rtype::IXFR, Some(serial1 - 1000), Some(key.clone()));
    let mut msgs = tcp_exchange(rpz.addr, &q, true).await;
    verify(seq.unwrap(), &mut msgs);
    assert_eq!(records(&msgs).len(), 2 + 1 + 7, "AXFR-style: SOA, NS, every record, SOA");

    // AXFR is TCP only; over UDP it is refused with FORMERR.
    let (q, _) = query(Rtype::AXFR, None, Some(key.clone()));
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&q, rpz.addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf)).await.unwrap().unwrap();
    assert_eq!(Message::from_octets(buf[..n].to_vec()).unwrap().header().rcode(), Rcode::FORMERR);

    // A restart with the same content keeps the serial (kept in data/).
    rpz.stop().await;
    s.stop().await;
    let stored = std::fs::read_to_string(dir.join("data/rpz-serials.json")).unwrap();
    assert!(stored.contains(&serial2.to_string()), "{stored}");
    let s = TestServer::start_in(&dir).await;
    let rpz = Rpz::start(&s, Vec::new()).await;
    assert_eq!(udp_soa_until(rpz.addr, &key, serial2).await, serial2);
    rpz.stop().await;
    s.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn a_change_is_notified_to_the_secondaries() {
    let s = TestServer::start().await;
    let secondary = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let rpz = Rpz::start(&s, vec![secondary.local_addr().unwrap()]).await;
    let (status, _) = submit(&s, "isp-a", &json!({"indicators": [domain("notified-c2.top")]})).await;
    assert_eq!(status, 200);
    http_serial_with(&s, "notified-c2.top").await;
    // A NOTIFY for the zone arrives (the first build may send one too).
    let mut buf = vec![0u8; 512];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (n, from) = tokio::time::timeout_at(deadline, secondary.recv_from(&mut buf)).await.unwrap().unwrap();
    let msg = Message::from_octets(buf[..n].to_vec()).unwrap();
    assert_eq!(msg.header().opcode(), domain::base::iana::Opcode::NOTIFY);
    let q = msg.sole_question().unwrap();
    assert_eq!((q.qname().to_string().as_str(), q.qtype()), ("rpz.tamis", Rtype::SOA));
    // Unanswered, it is sent again.
    let (n2, _) = tokio::time::timeout_at(deadline, secondary.recv_from(&mut buf)).await.unwrap().unwrap();
    assert_eq!(n2, n, "a retry of the same NOTIFY");
    let mut reply = buf[..n].to_vec();
    reply[2] |= 0x80; // QR: the answer
    secondary.send_to(&reply, from).await.unwrap();
    rpz.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn a_notify_tied_to_a_participant_is_signed_with_its_key() {
    let s = TestServer::start().await;
    let plain = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let signed = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let targets = vec![
        tamis::config::NotifyTarget::Plain(plain.local_addr().unwrap()),
        tamis::config::NotifyTarget::Signed(tamis::config::SignedNotify {
            to: signed.local_addr().unwrap(),
            participant: "isp-a".into(),
        }),
    ];
    let rpz = Rpz::start_with(&s, targets, Vec::new()).await;
    let (status, _) = submit(&s, "isp-a", &json!({"indicators": [domain("signed-notify.top")]})).await;
    assert_eq!(status, 200);
    let mut buf = vec![0u8; 512];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // The tied secondary's NOTIFY carries a TSIG that isp-a's key verifies.
    let (n, _) = tokio::time::timeout_at(deadline, signed.recv_from(&mut buf)).await.unwrap().unwrap();
    let mut msg = Message::from_octets(buf[..n].to_vec()).unwrap();
    assert_eq!(msg.header().opcode(), domain::base::iana::Opcode::NOTIFY);
    let key = key_of(&s.dir, "isp-a");
    let tx = domain::tsig::ServerTransaction::request(&key, &mut msg, Time48::now());
    assert!(matches!(tx, Ok(Some(_))), "signed with isp-a's key");
    let q = msg.sole_question().unwrap();
    assert_eq!((q.qname().to_string().as_str(), q.qtype()), ("rpz.tamis", Rtype::SOA));
    let forged = Key::new(Algorithm::Sha256, &[7u8; 32], "isp-a.".parse::<KeyName>().unwrap(), None, None).unwrap();
    let mut again = Message::from_octets(buf[..n].to_vec()).unwrap();
    assert!(domain::tsig::ServerTransaction::request(&forged, &mut again, Time48::now()).is_err(), "not another key");
    // The other one is unsigned, as before.
    let (n2, _) = tokio::time::timeout_at(deadline, plain.recv_from(&mut buf)).await.unwrap().unwrap();
    let mut msg2 = Message::from_octets(buf[..n2].to_vec()).unwrap();
    assert!(matches!(domain::tsig::ServerTransaction::request(&key, &mut msg2, Time48::now()), Ok(None)), "no TSIG");
    // An acknowledgement is counted (the unanswered one only after its retries).
    let (n, from) = tokio::time::timeout_at(deadline, signed.recv_from(&mut buf)).await.unwrap().unwrap();
    buf[2] |= 0x80; // QR: the answer
    signed.send_to(&buf[..n], from).await.unwrap();
    let acknowledged = "tamis_rpz_notifies_total{outcome=\"acknowledged\"} 1";
    let mut text = String::new();
    for _ in 0..100 {
        text = s.state.metrics.render(0, &s.state.blocklists, false);
        if text.contains(acknowledged) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text.contains(acknowledged) && !text.contains("outcome=\"unanswered\""), "{text}");
    rpz.stop().await;
    s.stop().await;
}

/// A signed SOA query over UDP: the answer's rcode.
async fn soa_rcode(addr: SocketAddr, key: &Key) -> Rcode {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (q, _) = query(Rtype::SOA, None, Some(key.clone()));
    sock.send_to(&q, addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf)).await.unwrap().unwrap();
    Message::from_octets(buf[..n].to_vec()).unwrap().header().rcode()
}

#[cfg(unix)]
#[tokio::test]
async fn participant_add_writes_a_tsig_key_and_revocation_ends_it() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start().await;
    let cfg = s.dir.join("tamis.toml");
    let tamis = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tamis")).args(args).arg("--config").arg(&cfg).output().unwrap()
    };
    let out = tamis(&["participant", "add", "isp-b", "--kind", "isp", "--roles", "submit,blocklist"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("certs/isp-b.tsig.conf"), "{stdout}");
    for f in ["keys/tsig/isp-b.key", "certs/isp-b.tsig.conf"] {
        let mode = std::fs::metadata(s.dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f} is private");
    }
    let secret = tamis::rpz::keys::read_key(&s.dir.join("keys/tsig/isp-b.key")).unwrap().secret;
    let b64 = base64_of(&secret);
    assert!(!stdout.contains(&b64) && !String::from_utf8_lossy(&out.stderr).contains(&b64), "never printed");
    let out = tamis(&["participant", "add", "bank-c", "--kind", "bank", "--roles", "submit"]);
    assert!(out.status.success());
    assert!(!s.dir.join("certs/bank-c.tsig.conf").exists(), "no blocklist role, no key");

    s.reload().await.unwrap();
    let (status, _) = submit(&s, "isp-a", &json!({"indicators": [domain("for-isp-b.top")]})).await;
    assert_eq!(status, 200);
    let serial = http_serial_with(&s, "for-isp-b.top").await;
    let rpz = Rpz::start(&s, Vec::new()).await;
    let key = key_of(&s.dir, "isp-b");
    assert_eq!(udp_soa_until(rpz.addr, &key, serial).await, serial, "the new participant's key works");
    // A new key replaces the old one at once.
    let out = tamis(&["participant", "tsig", "isp-b"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("replaced"));
    assert_eq!(soa_rcode(rpz.addr, &key).await, Rcode::NOTAUTH, "the replaced key is refused");
    let key = key_of(&s.dir, "isp-b");
    assert_eq!(soa_rcode(rpz.addr, &key).await, Rcode::NOERROR, "the new key works");
    let out = tamis(&["participant", "tsig", "bank-c"]);
    assert!(!out.status.success(), "no blocklist role, no key");
    let out = tamis(&["participant", "revoke", "isp-b"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    s.reload().await.unwrap();
    assert_eq!(soa_rcode(rpz.addr, &key).await, Rcode::NOTAUTH, "a revoked participant's key is refused");
    rpz.stop().await;
    s.stop().await;
}

fn base64_of(bytes: &[u8]) -> String {
    // The key clause holds the secret in standard base64; find it there.
    let clause = tamis::rpz::keys::key_clause("x", bytes);
    clause.split('"').nth(3).unwrap().to_owned()
}

/// A measurement, not a timed test (`--ignored`): the Maltrail sample
/// (`TAMIS_RPZ_MEASURE=path.jsonl.gz`, default the 20k sample in
/// tests/data) submitted as isp-a, then one AXFR and one IXFR after a
/// one-name change, with their sizes and times.
#[tokio::test]
#[ignore]
async fn measure_axfr_of_a_large_zone() {
    use std::io::Read as _;
    let path = std::env::var("TAMIS_RPZ_MEASURE").unwrap_or_else(|_| "tests/data/maltrail-20k.jsonl.gz".into());
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_string(&mut text).unwrap();
    let s = TestServer::start().await;
    let items: Vec<serde_json::Value> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            json!({"type": v["type"], "value": v["value"], "category": "malware", "confidence": 80, "tlp": "green"})
        })
        .collect();
    for chunk in items.chunks(10_000) {
        let (status, v) = submit(&s, "isp-a", &json!({ "indicators": chunk })).await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, _) = submit(&s, "isp-a", &json!({"indicators": [domain("last-of-batch.top")]})).await;
    assert_eq!(status, 200);
    let serial = http_serial_with(&s, "last-of-batch.top").await;
    let rpz = Rpz::start(&s, Vec::new()).await;
    let key = key_of(&s.dir, "isp-a");
    udp_soa_until(rpz.addr, &key, serial).await;
    let t0 = std::time::Instant::now();
    let (q, seq) = query(Rtype::AXFR, None, Some(key.clone()));
    let mut msgs = tcp_exchange(rpz.addr, &q, true).await;
    let took = t0.elapsed();
    let bytes: usize = msgs.iter().map(|m| m.as_slice().len()).sum();
    verify(seq.unwrap(), &mut msgs);
    let n = records(&msgs).len();
    eprintln!("AXFR: {n} records in {} messages, {bytes} bytes, {took:?} (TSIG verified after)", msgs.len());
    let (status, _) = submit(&s, "isp-a", &json!({"indicators": [domain("one-more.top")]})).await;
    assert_eq!(status, 200);
    let serial2 = http_serial_with(&s, "one-more.top").await;
    udp_soa_until(rpz.addr, &key, serial2).await;
    let t0 = std::time::Instant::now();
    let (q, seq) = query(Rtype::IXFR, Some(serial), Some(key.clone()));
    let mut msgs = tcp_exchange(rpz.addr, &q, true).await;
    let took = t0.elapsed();
    verify(seq.unwrap(), &mut msgs);
    eprintln!("IXFR after one new name: {} records, {took:?}", records(&msgs).len());
    assert_eq!(records(&msgs).len(), 6);
    rpz.stop().await;
    s.stop().await;
}

/// An `[rpz] allow_unsigned` entry: `participant` from `nets`.
fn unsigned(participant: &str, nets: &[&str]) -> tamis::config::UnsignedSource {
    tamis::config::UnsignedSource {
        participant: participant.into(),
        from: nets.iter().map(|n| tamis::config::SourceNet::try_from(n.to_string()).unwrap()).collect(),
    }
}

/// `tamis_rpz_requests_total` samples of the server's metrics, as `labels value`.
fn rpz_requests(s: &TestServer) -> Vec<String> {
    let text = s.state.metrics.render(0, &s.state.blocklists, false);
    text.lines().filter_map(|l| l.strip_prefix("tamis_rpz_requests_total")).map(str::to_owned).collect()
}

#[tokio::test]
async fn unsigned_transfers_only_from_the_listed_addresses() {
    let (tmp, dir) = common::deployment();
    add_participant(&dir, "bank-b", "bank", &["submit"], &[]);
    let s = TestServer::start_in(&dir).await;
    let (status, _) = submit(&s, "isp-a", &json!({"indicators": [domain("listed-c2.top")]})).await;
    assert_eq!(status, 200);
    let serial = http_serial_with(&s, "listed-c2.top").await;
    let key = key_of(&dir, "isp-a");

    // isp-a may transfer unsigned from 192.0.2.0/24 only: the same request
    // from 127.0.0.1 is refused, without records.
    let rpz = Rpz::start_with(&s, Vec::new(), vec![unsigned("isp-a", &["192.0.2.0/24", "2001:db8::/64"])]).await;
    udp_soa_until(rpz.addr, &key, serial).await;
    let (q, _) = query(Rtype::AXFR, None, None);
    let r = tcp_exchange(rpz.addr, &q, true).await;
    assert_eq!(r[0].header().rcode(), Rcode::REFUSED, "unsigned from an address not listed: refused");
    assert_eq!(r[0].header_counts().ancount(), 0);
    rpz.stop().await;

    // A participant without the blocklist role gets nothing from its address either.
    let rpz = Rpz::start_with(&s, Vec::new(), vec![unsigned("bank-b", &["127.0.0.1"])]).await;
    udp_soa_until(rpz.addr, &key, serial).await;
    let (q, _) = query(Rtype::AXFR, None, None);
    let r = tcp_exchange(rpz.addr, &q, true).await;
    assert_eq!(r[0].header().rcode(), Rcode::REFUSED, "no blocklist role: refused");
    rpz.stop().await;

    // From a listed address: isp-a's zone, unsigned; a pull marked unsigned.
    let rpz = Rpz::start_with(&s, Vec::new(), vec![unsigned("isp-a", &["127.0.0.0/8"])]).await;
    udp_soa_until(rpz.addr, &key, serial).await;
    let (q, _) = query(Rtype::AXFR, None, None);
    let msgs = tcp_exchange(rpz.addr, &q, true).await;
    assert_eq!(msgs[0].header().rcode(), Rcode::NOERROR);
    assert!(msgs.iter().all(|m| m.additional().unwrap().next().is_none()), "no TSIG record in the answers");
    let recs = records(&msgs);
    assert_eq!(recs.len(), 2 + 1 + 2, "SOA twice, NS, the name and its wildcard: {recs:?}");
    assert!(recs.contains(&("listed-c2.top.rpz.tamis".to_owned(), Rtype::CNAME)));
    let (q, _) = query(Rtype::SOA, None, None);
    let soa = tcp_exchange(rpz.addr, &q, false).await;
    assert_eq!(serials(&soa[0]), vec![serial], "unsigned SOA from a listed address");
    // A signed request from a listed address is still checked: a wrong secret is NOTAUTH.
    let forged = Key::new(Algorithm::Sha256, &[7u8; 32], "isp-a.".parse::<KeyName>().unwrap(), None, None).unwrap();
    let (q, _) = query(Rtype::AXFR, None, Some(forged));
    let r = tcp_exchange(rpz.addr, &q, true).await;
    assert_eq!(r[0].header().rcode(), Rcode::NOTAUTH, "a bad signature is not excused by the address");
    assert_eq!(r[0].header_counts().ancount(), 0);
    let log = tamis::store::Store::audit_log(&*s.state.store, 0, 10_000).await.unwrap();
    let pulls: Vec<String> = log
        .iter()
        .filter_map(|r| match &r.event {
            tamis::audit::AuditEvent::Pull { participant, endpoint, range, count } if endpoint.starts_with("dns") => {
                Some(format!("{participant} {endpoint} {range} {count}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(pulls, vec![format!("isp-a dns AXFR unsigned rpz serial {serial} 2")], "only the served transfer");

    // Every answer was counted, by type, outcome and signature.
    let counted = rpz_requests(&s);
    for want in [
        "{kind=\"axfr\",outcome=\"refused\",signed=\"false\"} 2",
        "{kind=\"axfr\",outcome=\"ok\",signed=\"false\"} 1",
        "{kind=\"soa\",outcome=\"ok\",signed=\"false\"} 1",
        "{kind=\"axfr\",outcome=\"notauth\",signed=\"true\"} 1",
    ] {
        assert!(counted.iter().any(|c| c == want), "{want} not in {counted:?}");
    }
    assert!(counted.iter().any(|c| c.starts_with("{kind=\"soa\",outcome=\"ok\",signed=\"true\"} ")), "{counted:?}");
    let text = s.state.metrics.render(0, &s.state.blocklists, false);
    // isp-a's audience zone among them: the served serial, two records.
    let gauge = |name: &str, value: String| {
        text.lines().any(|l| l.starts_with(&format!("tamis_rpz_zone_{name}{{audience=\"")) && l.ends_with(&value))
    };
    assert!(gauge("serial", format!(" {serial}")) && gauge("records", " 2".to_owned()), "{text}");
    rpz.stop().await;
    s.stop().await;
    drop(tmp);
}
