//! One query in, its answer messages out: TSIG verification and signing
//! (the `domain` crate's `ServerSequence`, which signs every message of a
//! transfer as RFC 8945 §5.3.1 recommends), or an unsigned answer to a
//! source address of `[rpz] allow_unsigned`; SOA, AXFR and IXFR.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use domain::base::iana::{Class, Opcode, Rcode, Rtype};
use domain::base::message_builder::{AnswerBuilder, MessageBuilder, PushError, TreeCompressor};
use domain::base::name::{Label, ToName};
use domain::base::{Message, Name, Serial, Ttl};
use domain::rdata::tsig::Time48;
use domain::rdata::{Cname, Ns, Soa};
use domain::tsig::{Algorithm, Key, KeyName, KeyStore, ServerSequence};

use super::Shared;
use super::zone::{Plan, SOA_TIMERS, TTL, Zone};
use crate::audit::AuditEvent;
use crate::feeds::blocklist::audience_key;
use crate::identity::{Registry, Role};

/// Records go into a message until its uncompressed size would pass this
/// (a TCP message may be 65,535 octets; the rest is room for the TSIG).
const MESSAGE_BUDGET: usize = 32_000;

type Target = TreeCompressor<Vec<u8>>;

/// The keys of registered, unrevoked participants with the blocklist role,
/// read from their key files when a request names them.
struct ParticipantKeys<'a> {
    registry: &'a Registry,
    dir: &'a Path,
}

/// The participant id a key name stands for (`isp-a.` → `isp-a`).
fn key_id<N: ToName + ?Sized>(name: &N) -> String {
    let labels: Vec<String> = name
        .iter_labels()
        .filter(|l| !l.is_root())
        .map(|l: &Label| String::from_utf8_lossy(l.as_slice()).to_ascii_lowercase())
        .collect();
    labels.join(".")
}

impl KeyStore for ParticipantKeys<'_> {
    type Key = Key;

    fn get_key<N: ToName>(&self, name: &N, algorithm: Algorithm) -> Option<Key> {
        if algorithm != Algorithm::Sha256 {
            return None;
        }
        let id = key_id(name);
        let p = self.registry.get(&id)?;
        if p.revoked || !p.has(Role::Blocklist) {
            return None;
        }
        let file = match super::keys::read_key(&super::keys::key_path(self.dir, &id)) {
            Ok(f) => f,
            Err(e) => {
                // Debug only: anyone can name a participant's key.
                tracing::debug!(participant = %id, error = %e, "TSIG key not usable");
                return None;
            }
        };
        if !file.name.eq_ignore_ascii_case(&id) {
            tracing::debug!(participant = %id, "TSIG key file names another key");
            return None;
        }
        let key_name: KeyName = name.try_to_name().ok()?;
        Key::new(Algorithm::Sha256, &file.secret, key_name, None, None).ok()
    }
}

/// A record of the zone.
#[derive(Clone, Copy)]
enum Rec<'a> {
    Soa(u32),
    Ns,
    Cname(&'a [u8]),
}

impl Rec<'_> {
    /// Its uncompressed size at most, for splitting a transfer into messages.
    fn size(&self, apex: usize) -> usize {
        10 + match self {
            Rec::Soa(_) => apex + 11 + 22 + 20,
            Rec::Ns => apex + 11,
            Rec::Cname(n) => n.len() + 1,
        }
    }
}

/// What one query led to: the answer messages (several for a transfer
/// over TCP, none for something that is not a query), the audit record of
/// a transfer (SPEC §8: every pull is recorded), and its metric labels.
pub(super) struct Answer {
    pub messages: Vec<Vec<u8>>,
    pub pulled: Option<AuditEvent>,
}

/// How the answers of one request are signed.
enum Signer {
    /// With the participant's key, every message (RFC 8945 §5.3.1).
    Tsig(Box<ServerSequence<Key>>),
    /// Not at all: the source address is in `[rpz] allow_unsigned`.
    Unsigned,
}

impl Signer {
    fn signed(&self) -> bool {
        matches!(self, Signer::Tsig(_))
    }
}

/// The answer to `query` from `peer`, counted in the metrics.
pub(super) fn answer(shared: &Shared, query: Vec<u8>, tcp: bool, peer: IpAddr) -> Answer {
    let mut pulled = None;
    let mut was_signed = false;
    let kind = query_kind(&query);
    let messages = respond(shared, query, tcp, peer, &mut pulled, &mut was_signed);
    if let Some(first) = messages.first().filter(|m| m.len() >= 12) {
        let outcome = match Rcode::masked_from_int(first[3] & 0x0f) {
            Rcode::NOERROR => "ok",
            Rcode::REFUSED => "refused",
            Rcode::NOTAUTH => "notauth",
            _ => "error",
        };
        shared.inputs.metrics.request(kind, outcome, was_signed);
    }
    Answer { messages, pulled }
}

/// The metric label of a query's type: `axfr`, `ixfr`, `soa` or `other`.
fn query_kind(query: &[u8]) -> &'static str {
    let Ok(msg) = Message::from_octets(query) else { return "other" };
    match msg.first_question().map(|q| q.qtype()) {
        Some(Rtype::AXFR) => "axfr",
        Some(Rtype::IXFR) => "ixfr",
        Some(Rtype::SOA) => "soa",
        _ => "other",
    }
}

/// The participant an unsigned request from `peer` stands for: the one
/// `[rpz] allow_unsigned` names for that address, when it is registered,
/// unrevoked and has the blocklist role (the checks of a TSIG key).
fn unsigned_participant(shared: &Shared, registry: &Registry, peer: IpAddr) -> Option<String> {
    let id = shared.inputs.allow_unsigned.iter().find(|a| a.from.iter().any(|n| n.contains(peer)))?.participant.clone();
    match registry.get(&id) {
        Some(p) if !p.revoked && p.has(Role::Blocklist) => Some(id),
        _ => {
            tracing::debug!(participant = %id, "unsigned zone transfer refused: not an active participant with the blocklist role");
            None
        }
    }
}

/// [`answer`] without the audit record, which it leaves in `pulled`, and
/// whether the request was signed, left in `was_signed`.
fn respond(
    shared: &Shared,
    query: Vec<u8>,
    tcp: bool,
    peer: IpAddr,
    pulled: &mut Option<AuditEvent>,
    was_signed: &mut bool,
) -> Vec<Vec<u8>> {
    let Ok(mut msg) = Message::from_octets(query) else { return Vec::new() };
    if msg.header().qr() {
        return Vec::new();
    }
    if msg.header().opcode() != Opcode::QUERY {
        return vec![error(&msg, Rcode::NOTIMP)];
    }
    let registry = shared.inputs.registry.load();
    let store = ParticipantKeys { registry: &registry, dir: &shared.inputs.keys_dir };
    let (mut seq, id) = match ServerSequence::request(&store, &mut msg, Time48::now()) {
        Ok(Some(seq)) => {
            let id = key_id(seq.key().name());
            (Signer::Tsig(Box::new(seq)), id)
        }
        Ok(None) => match unsigned_participant(shared, &registry, peer) {
            Some(id) => (Signer::Unsigned, id),
            None => return vec![error(&msg, Rcode::REFUSED)],
        },
        Err(e) => {
            *was_signed = true;
            tracing::debug!(error = %e, "zone transfer request refused: TSIG");
            return e.build_message(&msg, MessageBuilder::new_vec()).map(|b| vec![b.finish()]).unwrap_or_default();
        }
    };
    *was_signed = seq.signed();
    let Ok(question) = msg.sole_question() else {
        return signed(&shared.apex, &mut seq, &msg, Rcode::FORMERR, &[]);
    };
    if !question.qname().name_eq(&Name::from_slice(&shared.apex).expect("valid apex")) {
        return signed(&shared.apex, &mut seq, &msg, Rcode::NOTAUTH, &[]);
    }
    let zone = registry.get(&id).and_then(|p| shared.zones.load().get(&audience_key(&p.audiences())).cloned());
    let Some(zone) = zone else {
        // The builder has not published this audience's zone yet.
        return signed(&shared.apex, &mut seq, &msg, Rcode::SERVFAIL, &[]);
    };
    serve_zone(shared, &mut seq, &msg, question.qtype(), tcp, &id, &zone, pulled)
}

/// The answer of an authorised query for the zone: SOA, AXFR or IXFR.
#[allow(clippy::too_many_arguments)]
fn serve_zone(
    shared: &Shared,
    seq: &mut Signer,
    msg: &Message<Vec<u8>>,
    qtype: Rtype,
    tcp: bool,
    id: &str,
    zone: &Zone,
    pulled: &mut Option<AuditEvent>,
) -> Vec<Vec<u8>> {
    let serial = zone.current.serial;
    let unsigned = if seq.signed() { "" } else { " unsigned" };
    match qtype {
        Rtype::SOA => signed(&shared.apex, seq, msg, Rcode::NOERROR, &[Rec::Soa(serial)]),
        Rtype::IXFR if !tcp => signed(&shared.apex, seq, msg, Rcode::NOERROR, &[Rec::Soa(serial)]),
        Rtype::AXFR if !tcp => signed(&shared.apex, seq, msg, Rcode::FORMERR, &[]),
        Rtype::AXFR => {
            let count = zone.current.names.len();
            tracing::info!(participant = %id, serial, records = count, signed = seq.signed(), "AXFR");
            *pulled = Some(pull(id, &format!("AXFR{unsigned}"), format!("serial {serial}"), count));
            transfer(shared, seq, msg, full(zone))
        }
        Rtype::IXFR => {
            let client = ixfr_serial(msg);
            let plan = client.map_or(Plan::Full, |c| zone.plan(c));
            tracing::info!(participant = %id, from = ?client, serial, kind = plan_name(&plan), signed = seq.signed(), "IXFR");
            let from = client.map_or("none".to_owned(), |c| c.to_string());
            let kind = format!("IXFR{unsigned}");
            match plan {
                Plan::UpToDate => signed(&shared.apex, seq, msg, Rcode::NOERROR, &[Rec::Soa(serial)]),
                Plan::Full => {
                    let range = format!("serial {from}..{serial} full");
                    *pulled = Some(pull(id, &kind, range, zone.current.names.len()));
                    transfer(shared, seq, msg, full(zone))
                }
                Plan::Incremental(chain) => {
                    let changed = chain.iter().map(|d| d.removed.len() + d.added.len()).sum();
                    *pulled = Some(pull(id, &kind, format!("serial {from}..{serial}"), changed));
                    transfer(shared, seq, msg, incremental(serial, &chain))
                }
            }
        }
        _ => signed(&shared.apex, seq, msg, Rcode::REFUSED, &[]),
    }
}

/// The audit record of a zone transfer to participant `id` (`kind` says
/// when it was unsigned: `AXFR unsigned`).
fn pull(id: &str, kind: &str, range: String, count: usize) -> AuditEvent {
    AuditEvent::Pull { participant: id.to_owned(), endpoint: format!("dns {kind} rpz"), range, count }
}

fn plan_name(plan: &Plan) -> &'static str {
    match plan {
        Plan::UpToDate => "up-to-date",
        Plan::Full => "full",
        Plan::Incremental(_) => "incremental",
    }
}

/// The serial of the SOA in an IXFR query's authority section.
fn ixfr_serial(msg: &Message<Vec<u8>>) -> Option<u32> {
    let mut soas = msg.authority().ok()?.limit_to::<Soa<_>>();
    soas.next()?.ok().map(|r| r.data().serial().into_int())
}

/// The records of an AXFR (and of an IXFR answered with the whole zone).
fn full(zone: &Zone) -> Vec<Rec<'_>> {
    let serial = zone.current.serial;
    let mut recs = Vec::with_capacity(zone.current.names.len() + 3);
    recs.push(Rec::Soa(serial));
    recs.push(Rec::Ns);
    recs.extend(zone.current.names.iter().map(|n| Rec::Cname(n)));
    recs.push(Rec::Soa(serial));
    recs
}

/// The records of an incremental IXFR (RFC 1995 §4): the current SOA, then
/// for each difference the old SOA, the removed records, the new SOA and
/// the added records, and the current SOA again.
fn incremental(serial: u32, chain: &[Arc<super::zone::Diff>]) -> Vec<Rec<'_>> {
    let mut recs = vec![Rec::Soa(serial)];
    for d in chain {
        recs.push(Rec::Soa(d.from));
        recs.extend(d.removed.iter().map(|n| Rec::Cname(n)));
        recs.push(Rec::Soa(d.to));
        recs.extend(d.added.iter().map(|n| Rec::Cname(n)));
    }
    recs.push(Rec::Soa(serial));
    recs
}

/// An unsigned error answer (no usable TSIG to sign it with).
fn error(msg: &Message<Vec<u8>>, rcode: Rcode) -> Vec<u8> {
    MessageBuilder::new_vec().start_error(msg, rcode).finish()
}

fn new_message(msg: &Message<Vec<u8>>, rcode: Rcode) -> Result<AnswerBuilder<Target>, PushError> {
    let b = MessageBuilder::from_target(TreeCompressor::new(Vec::new())).expect("a Vec grows");
    let mut a = b.start_answer(msg, rcode)?;
    a.header_mut().set_aa(rcode == Rcode::NOERROR);
    Ok(a)
}

/// One answer holding `recs`, signed unless the request was not.
fn signed(apex: &[u8], seq: &mut Signer, msg: &Message<Vec<u8>>, rcode: Rcode, recs: &[Rec<'_>]) -> Vec<Vec<u8>> {
    let Ok(mut a) = new_message(msg, rcode) else { return vec![error(msg, Rcode::SERVFAIL)] };
    for r in recs {
        if push_record(&mut a, r, apex).is_err() {
            return vec![error(msg, Rcode::SERVFAIL)];
        }
    }
    finish(seq, a).map(|m| vec![m]).unwrap_or_else(|| vec![error(msg, Rcode::SERVFAIL)])
}

/// Signs (unless unsigned) and closes one message.
fn finish(seq: &mut Signer, a: AnswerBuilder<Target>) -> Option<Vec<u8>> {
    let mut add = a.additional();
    if let Signer::Tsig(seq) = seq {
        seq.answer(&mut add, Time48::now()).ok()?;
    }
    Some(add.finish().into_target())
}

/// A transfer: `recs` split into messages of about [`MESSAGE_BUDGET`]
/// octets, each signed (unless unsigned).
fn transfer(shared: &Shared, seq: &mut Signer, msg: &Message<Vec<u8>>, recs: Vec<Rec<'_>>) -> Vec<Vec<u8>> {
    let apex_len = shared.apex.len();
    let mut out = Vec::new();
    let mut current: Option<(AnswerBuilder<Target>, usize)> = None;
    for r in &recs {
        let size = r.size(apex_len);
        if let Some((a, used)) = current.take() {
            if used + size > MESSAGE_BUDGET {
                match finish(seq, a) {
                    Some(m) => out.push(m),
                    None => return vec![error(msg, Rcode::SERVFAIL)],
                }
            } else {
                current = Some((a, used));
            }
        }
        let (a, used) = match current.as_mut() {
            Some(c) => c,
            None => match new_message(msg, Rcode::NOERROR) {
                Ok(a) => current.insert((a, 0)),
                Err(_) => return vec![error(msg, Rcode::SERVFAIL)],
            },
        };
        if push_record(a, r, &shared.apex).is_err() {
            return vec![error(msg, Rcode::SERVFAIL)];
        }
        *used += size;
    }
    if let Some((a, _)) = current {
        match finish(seq, a) {
            Some(m) => out.push(m),
            None => return vec![error(msg, Rcode::SERVFAIL)],
        }
    }
    out
}

/// Appends one record of the zone below `apex` (wire form).
fn push_record(a: &mut AnswerBuilder<Target>, r: &Rec<'_>, apex: &[u8]) -> Result<(), PushError> {
    let apex = Name::from_slice(apex).expect("valid apex");
    let ttl = Ttl::from_secs(TTL);
    let localhost = Name::from_slice(b"\x09localhost\x00").expect("literal");
    match *r {
        Rec::Soa(serial) => {
            let rname = Name::from_slice(b"\x0ahostmaster\x09localhost\x00").expect("literal");
            let [refresh, retry, expire, minimum] = SOA_TIMERS.map(Ttl::from_secs);
            let soa = Soa::new(localhost, rname, Serial(serial), refresh, retry, expire, minimum);
            a.push((apex, Class::IN, ttl, soa))
        }
        Rec::Ns => a.push((apex, Class::IN, ttl, Ns::new(localhost))),
        Rec::Cname(owner) => {
            let owner = Name::from_slice(owner).map_err(|_| PushError::ShortBuf)?;
            a.push((owner, Class::IN, ttl, Cname::new(Name::root_slice())))
        }
    }
}
