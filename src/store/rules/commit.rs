//! The rules of a commit, the same for both backends: how each write
//! request changes the records ([`apply`]), over a [`Group`] that reads
//! what it did not write itself from a [`Source`] (the sled tree, or the
//! records the PostgreSQL backend fetched under its lock) and keeps every
//! value it wrote, in clear, in an overlay the backend then seals (once, under
//! whatever key it stores the value) and writes. Each applied
//! request keeps its own reply sender next to its outcome, so answers never
//! depend on positions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use time::OffsetDateTime;

use super::keys::{Keys, M_COUNTERS, M_FEEDBACK, decode_error, key};
use super::record::{
    Contribution, FalsePositive, IdempotencyRecord, LookupEntry, MAX_TAGS, Record, Seen, Sighting, derive, new_record,
};
use super::request::{Reply, Request};
use crate::audit::AuditEvent;
use crate::model::Sources;
use crate::store::crypto::Sealer;
use crate::store::{
    Counters, DirectoryEntry, FeedEntry, Op, PolicyLoad, PolicyVersion, Report, Retracted, Reviewed, SightingBatch,
    SightingStatus, StoreError, SubmitBatch, SubmitOutcome, indicator_id, iso_week,
};

/// A request's own answer (`Err` for that request only, e.g. a reused
/// Idempotency-Key), as opposed to a failure of the whole group.
type Answer<T> = Result<T, StoreError>;

/// Where a group reads what it did not write itself: the sled tree, or the
/// records the PostgreSQL backend fetched for the group under its lock.
pub(crate) trait Source: Send {
    /// The sealed value under `k` (`None` when absent).
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The opened value under the logical key `k` (`None` when absent). A
    /// backend that stores some records under other keys than the logical
    /// ones (the sled store's indicator records, `r/<seq>` through its
    /// in-memory index) resolves and opens them here.
    fn get_plain(&self, sealer: &Sealer, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(k)?.map(|v| sealer.open(k, &v)).transpose()?)
    }
}

/// Writes of one group, visible to later requests of the same group before
/// they reach the database. The rules that change records ([`apply`]) are
/// the same for both backends; only where the group reads from and where
/// it writes to differ.
pub(crate) struct Group {
    pub(crate) source: Box<dyn Source>,
    pub(crate) sealer: Arc<Sealer>,
    pub(crate) keys: Arc<Keys>,
    pub(crate) max_validity: time::Duration,
    /// Every value the group wrote, by logical key, in clear (`None`:
    /// deleted). The backend seals each one when it writes the group: the
    /// overlay lives in the writer's memory only, for one commit.
    pub(crate) overlay: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// Feed entries of the group, written by the backend at commit.
    pub(crate) log: Vec<FeedEntry>,
}

impl Group {
    /// An empty group reading from `source`.
    pub(crate) fn new(
        source: Box<dyn Source>,
        sealer: Arc<Sealer>,
        keys: Arc<Keys>,
        max_validity: time::Duration,
    ) -> Group {
        Group { source, sealer, keys, max_validity, overlay: HashMap::new(), log: Vec::new() }
    }

    /// Stores an indicator's record, or deletes it once it is removed and
    /// nobody's feedback refers to it (its submitters still read the reports
    /// on it): expired and retracted indicators leave no record behind, so
    /// the store does not grow with indicators that came and went.
    fn put_record(&mut self, k: Vec<u8>, r: &Record) {
        if r.removed && r.feedback.is_empty() {
            self.remove(k);
        } else {
            self.put_json(k, r);
        }
    }

    /// Deletes `k` in this commit.
    fn remove(&mut self, k: Vec<u8>) {
        self.overlay.insert(k, None);
    }

    /// Puts `v`'s JSON under `k` into the overlay (sealed by the backend
    /// when it writes the group).
    pub(crate) fn put_json<T: serde::Serialize>(&mut self, k: Vec<u8>, v: &T) {
        self.overlay.insert(k, Some(serde_json::to_vec(v).expect("serialise")));
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, k: &[u8]) -> Result<Option<T>, StoreError> {
        match self.overlay.get(k) {
            Some(Some(v)) => serde_json::from_slice(v).map(Some).map_err(|e| decode_error(k, e)),
            Some(None) => Ok(None),
            None => match self.source.get_plain(&self.sealer, k)? {
                Some(plain) => serde_json::from_slice(&plain).map(Some).map_err(|e| decode_error(k, e)),
                None => Ok(None),
            },
        }
    }
}

/// A request applied to the group, waiting for the flush to be answered.
pub(crate) enum Done {
    Submit(Reply<SubmitOutcome>, Answer<SubmitOutcome>),
    Audit(Reply<u64>),
    Retract(Reply<Retracted>, Answer<Retracted>),
    Expire(Reply<usize>, usize),
    Policy(Reply<()>),
    Directory(Reply<DirectoryEntry>, DirectoryEntry),
    Sightings(Reply<Vec<SightingStatus>>, Vec<SightingStatus>),
    Review(Reply<Reviewed>, Answer<Reviewed>),
}

/// An applied request, the audit event it records and, once chained, its
/// audit sequence number.
pub(crate) struct Applied {
    done: Done,
    pub(crate) audit: Option<AuditEvent>,
    pub(crate) audit_seq: u64,
}

impl Applied {
    fn new(done: Done, audit: Option<AuditEvent>) -> Applied {
        Applied { done, audit, audit_seq: 0 }
    }

    /// The group is on disk: tells the requester.
    pub(crate) fn answer(self) {
        match self.done {
            Done::Submit(tx, a) => drop(tx.send(a)),
            Done::Audit(tx) => drop(tx.send(Ok(self.audit_seq))),
            Done::Retract(tx, a) => drop(tx.send(a)),
            Done::Expire(tx, n) => drop(tx.send(Ok(n))),
            Done::Policy(tx) => drop(tx.send(Ok(()))),
            Done::Directory(tx, entry) => drop(tx.send(Ok(entry))),
            Done::Sightings(tx, s) => drop(tx.send(Ok(s))),
            Done::Review(tx, a) => drop(tx.send(a)),
        }
    }

    /// The group failed: nothing of it is acknowledged.
    pub(crate) fn fail(self, e: &StoreError) {
        match self.done {
            Done::Submit(tx, _) => drop(tx.send(Err(e.clone()))),
            Done::Audit(tx) => drop(tx.send(Err(e.clone()))),
            Done::Retract(tx, _) => drop(tx.send(Err(e.clone()))),
            Done::Expire(tx, _) => drop(tx.send(Err(e.clone()))),
            Done::Policy(tx) => drop(tx.send(Err(e.clone()))),
            Done::Directory(tx, _) => drop(tx.send(Err(e.clone()))),
            Done::Sightings(tx, _) => drop(tx.send(Err(e.clone()))),
            Done::Review(tx, _) => drop(tx.send(Err(e.clone()))),
        }
    }
}

/// Answers a request whose application failed the group, and passes the error on.
fn refuse<T>(tx: Reply<T>, e: StoreError) -> StoreError {
    let _ = tx.send(Err(e.clone()));
    e
}

/// Applies one request to the group. `Err` fails the whole group (a record
/// that cannot be read); the failing request is answered here.
pub(crate) fn apply(
    g: &mut Group,
    log_seq: &mut u64,
    req: Request,
    now: OffsetDateTime,
) -> Result<Applied, StoreError> {
    match req {
        Request::Submit(b, tx) => match apply_submit(g, log_seq, &b) {
            Ok(answer) => {
                let committed = matches!(answer, Ok(SubmitOutcome::Committed { .. }));
                Ok(Applied::new(Done::Submit(tx, answer), committed.then_some(b.audit)))
            }
            Err(e) => Err(refuse(tx, e)),
        },
        Request::Audit(event, tx) => Ok(Applied::new(Done::Audit(tx), Some(event))),
        Request::Retract { participant, id, tx } => match apply_retract(g, log_seq, &participant, &id, now) {
            Ok(answer) => {
                let audit = answer.as_ref().ok().map(|r| AuditEvent::Retraction {
                    participant,
                    indicator: id,
                    removed: r.removed,
                });
                Ok(Applied::new(Done::Retract(tx, answer), audit))
            }
            Err(e) => Err(refuse(tx, e)),
        },
        Request::Expire { ids, now, tx } => match apply_expire(g, log_seq, &ids, now) {
            Ok(n) => Ok(Applied::new(Done::Expire(tx, n), None)),
            Err(e) => Err(refuse(tx, e)),
        },
        Request::Policy(load, tx) => match apply_policy(g, &load, now) {
            Ok(()) => {
                let event = AuditEvent::PolicyLoad { policy: format!("{}@{}", load.id, load.hash), file: load.file };
                Ok(Applied::new(Done::Policy(tx), Some(event)))
            }
            Err(e) => Err(refuse(tx, e)),
        },
        Request::Directory { participant, contacts, tx } => {
            let event = AuditEvent::DirectoryUpdate { participant: participant.clone(), contacts: contacts.len() };
            let entry = DirectoryEntry { participant, contacts, updated: now };
            g.put_json(key(b"d/", entry.participant.as_bytes()), &entry);
            Ok(Applied::new(Done::Directory(tx, entry), Some(event)))
        }
        Request::Sightings(batch, tx) => match apply_sightings(g, log_seq, &batch, now) {
            Ok(statuses) => {
                let event = sightings_event(&batch, &statuses);
                Ok(Applied::new(Done::Sightings(tx, statuses), Some(event)))
            }
            Err(e) => Err(refuse(tx, e)),
        },
        Request::Review { participant, id, tx } => match apply_review(g, log_seq, &participant, &id, now) {
            Ok(answer) => {
                let audit = answer.as_ref().ok().map(|r| AuditEvent::Review {
                    participant,
                    indicator: id,
                    decision: "confirmed".into(),
                    reinstated: r.reinstated,
                });
                Ok(Applied::new(Done::Review(tx, answer), audit))
            }
            Err(e) => Err(refuse(tx, e)),
        },
    }
}

/// The audit record of a batch of sightings: who, how many of each kind,
/// which indicators it withdrew (ids only; the reasons stay in the store).
fn sightings_event(b: &SightingBatch, statuses: &[SightingStatus]) -> AuditEvent {
    let applied = |s: &SightingStatus| matches!(s, SightingStatus::Recorded | SightingStatus::Withdrawn);
    let count = |fp: bool| {
        b.reports
            .iter()
            .zip(statuses)
            .filter(|((_, r), s)| applied(s) && matches!(r, Report::FalsePositive { .. }) == fp)
            .count()
    };
    AuditEvent::Sightings {
        participant: b.reporter.clone(),
        seen: count(false),
        false_positives: count(true),
        withdrawn: b
            .reports
            .iter()
            .zip(statuses)
            .filter(|(_, s)| **s == SightingStatus::Withdrawn)
            .map(|((id, _), _)| id.clone())
            .collect(),
    }
}

/// Records sightings and false positives; a false positive that meets the
/// rule (`threshold` distinct reporters, or one decisive reporter)
/// withdraws the indicator from blocklists at once: a feed entry marked
/// `withdrawn`, which the blocklist builder drops.
fn apply_sightings(
    g: &mut Group,
    log_seq: &mut u64,
    b: &SightingBatch,
    now: OffsetDateTime,
) -> Result<Vec<SightingStatus>, StoreError> {
    let mut counters: Counters = g.get(M_COUNTERS)?.unwrap_or_default();
    let mut index: std::collections::BTreeSet<String> = g.get(M_FEEDBACK)?.unwrap_or_default();
    let week = iso_week(now);
    let mut out = Vec::with_capacity(b.reports.len());
    for (id, report) in &b.reports {
        let ik = g.keys.indicator(id);
        let Some(mut r) = g.get::<Record>(&ik)?.filter(|r| !r.removed) else {
            out.push(SightingStatus::Unknown);
            continue;
        };
        if r.contributors.contains_key(&b.reporter) {
            out.push(SightingStatus::OwnIndicator);
            continue;
        }
        let mut status = SightingStatus::Recorded;
        match report {
            Report::Seen { count } => {
                let s = r.feedback.seen.entry(b.reporter.clone()).or_insert(Seen { count: 0, first: now, last: now });
                s.count = s.count.saturating_add(*count);
                s.last = now;
                *counters.seen_by_week.entry(week.clone()).or_default() += count;
            }
            Report::FalsePositive { reason } => {
                let fp = FalsePositive { sector: b.sector.clone(), reason: reason.clone(), at: now };
                r.feedback.false_positives.insert(b.reporter.clone(), fp);
                *counters.false_positives_by_week.entry(week.clone()).or_default() += 1;
                let enough = b.decisive || r.feedback.false_positives.len() >= b.threshold.max(1) as usize;
                if enough && r.feedback.withdrawn.is_none() {
                    r.feedback.withdrawn = Some(now);
                    *counters.withdrawn_by_week.entry(week.clone()).or_default() += 1;
                    log_change(g, log_seq, Op::Update, now, Some("false-positive"), &r);
                    status = SightingStatus::Withdrawn;
                }
            }
        }
        index.insert(id.clone());
        put_record(g, ik, &r);
        out.push(status);
    }
    g.put_json(M_COUNTERS.to_vec(), &counters);
    g.put_json(M_FEEDBACK.to_vec(), &index);
    Ok(out)
}

/// A submitter confirms its indicator after false-positive reports: the
/// reports are cleared and, if it was withdrawn, it goes back on the
/// blocklists. Only a contributor may (others: not found).
fn apply_review(
    g: &mut Group,
    log_seq: &mut u64,
    participant: &str,
    id: &str,
    now: OffsetDateTime,
) -> Result<Answer<Reviewed>, StoreError> {
    let ik = g.keys.indicator(id);
    let Some(mut r) = g.get::<Record>(&ik)?.filter(|r| !r.removed && r.contributors.contains_key(participant)) else {
        return Ok(Err(StoreError::NotFound));
    };
    let cleared = std::mem::take(&mut r.feedback.false_positives).len();
    let reinstated = r.feedback.withdrawn.take().is_some();
    if reinstated {
        let mut counters: Counters = g.get(M_COUNTERS)?.unwrap_or_default();
        *counters.confirmed_by_week.entry(iso_week(now)).or_default() += 1;
        g.put_json(M_COUNTERS.to_vec(), &counters);
        log_change(g, log_seq, Op::Update, now, Some("confirmed"), &r);
    }
    put_record(g, ik, &r);
    Ok(Ok(Reviewed { reinstated, cleared }))
}

fn apply_policy(g: &mut Group, load: &PolicyLoad, now: OffsetDateTime) -> Result<(), StoreError> {
    let k = key(b"p/", format!("{}@{}", load.id, load.hash).as_bytes());
    let v = match g.get::<PolicyVersion>(&k)? {
        Some(mut v) => {
            v.last_loaded = now;
            v
        }
        None => PolicyVersion {
            id: load.id.clone(),
            hash: load.hash.clone(),
            text: load.text.clone(),
            first_loaded: now,
            last_loaded: now,
            first_used: None,
            last_used: None,
            submissions: 0,
        },
    };
    g.put_json(k, &v);
    Ok(())
}

/// Writes an indicator record and, when it has a private-lookup output,
/// that output's entry as the record now is (a blind write: no read, so the
/// PostgreSQL backend fetches nothing more), so lookup membership changes
/// in the same commit as the record (retracted, expired, withdrawn).
fn put_record(g: &mut Group, ik: Vec<u8>, r: &Record) {
    if let Some(entry) = LookupEntry::of(r) {
        let k = g.keys.lookup(&entry.output);
        // A removed indicator's output leaves with it (no entry kept to say
        // "not a member": the store does not grow with identifiers that went).
        if r.removed { g.remove(k) } else { g.put_json(k, &entry) }
    }
    g.put_record(ik, r);
}

/// Appends a feed entry with `r` as it now is. Callers skip it when the
/// shared record did not change (a hidden contribution came or went:
/// consumers must not notice).
fn log_change(g: &mut Group, log_seq: &mut u64, op: Op, at: OffsetDateTime, reason: Option<&str>, r: &Record) {
    *log_seq += 1;
    g.log.push(FeedEntry {
        seq: *log_seq,
        op,
        at,
        reason: reason.map(str::to_owned),
        indicator: r.indicator.clone(),
        withdrawn: r.feedback.withdrawn.is_some(),
    });
}

fn apply_retract(
    g: &mut Group,
    log_seq: &mut u64,
    participant: &str,
    id: &str,
    now: OffsetDateTime,
) -> Result<Answer<Retracted>, StoreError> {
    let ik = g.keys.indicator(id);
    let Some(mut r) = g.get::<Record>(&ik)?.filter(|r| !r.removed) else { return Ok(Err(StoreError::NotFound)) };
    if r.contributors.remove(participant).is_none() {
        return Ok(Err(StoreError::NotFound));
    }
    r.contributors.retain(|_, c| c.live(now));
    let removed = r.contributors.is_empty();
    if removed {
        r.removed = true;
        r.indicator.sources = Sources { count: 0, sectors: Vec::new(), names: Vec::new() };
        log_change(g, log_seq, Op::Remove, now, Some("retracted"), &r);
        forget_feedback(g, id, &mut r)?;
    } else if derive(&mut r, now) {
        log_change(g, log_seq, Op::Update, now, None, &r);
    }
    put_record(g, ik, &r);
    Ok(Ok(Retracted { removed }))
}

/// An indicator that leaves takes its sightings and false-positive reports
/// with it: they are cleared from its record and its id leaves the feedback
/// index (`m/feedback`), which therefore holds live indicators only. A later
/// life of the indicator starts without reports.
fn forget_feedback(g: &mut Group, id: &str, r: &mut Record) -> Result<(), StoreError> {
    if r.feedback.is_empty() {
        return Ok(());
    }
    r.feedback = Default::default();
    let mut index: std::collections::BTreeSet<String> = g.get(M_FEEDBACK)?.unwrap_or_default();
    if index.remove(id) {
        g.put_json(M_FEEDBACK.to_vec(), &index);
    }
    Ok(())
}

/// Expires the contributions of the given indicators that ended by `now`:
/// the indicator leaves when none is left, otherwise the next-oldest live
/// contribution leads. Resolves to how many indicators changed.
fn apply_expire(g: &mut Group, log_seq: &mut u64, ids: &[String], now: OffsetDateTime) -> Result<usize, StoreError> {
    let mut n = 0;
    for id in ids {
        let ik = g.keys.indicator(id);
        let Some(mut r) = g.get::<Record>(&ik)?.filter(|r| !r.removed) else { continue };
        if r.indicator.valid_until.is_none_or(|t| t > now) {
            continue; // renewed since the caller looked
        }
        r.contributors.retain(|_, c| c.live(now));
        if r.contributors.is_empty() {
            r.removed = true;
            log_change(g, log_seq, Op::Remove, now, Some("expired"), &r);
            forget_feedback(g, id, &mut r)?;
        } else {
            derive(&mut r, now);
            log_change(g, log_seq, Op::Update, now, None, &r);
        }
        put_record(g, ik, &r);
        n += 1;
    }
    Ok(n)
}

/// Checks the Idempotency-Key: `Some(answer)` for a retry (replay) or a key
/// reused with another request; `None` records it and lets the batch apply.
fn check_idempotency(g: &mut Group, b: &SubmitBatch) -> Result<Option<Answer<SubmitOutcome>>, StoreError> {
    let Some((p, k)) = &b.idempotency else { return Ok(None) };
    let ik = g.keys.idempotency(p, k);
    let request = hex::encode(b.request_hash);
    if let Some(stored) = g.get::<IdempotencyRecord>(&ik)? {
        return Ok(Some(if stored.request == request {
            Ok(SubmitOutcome::Replayed { response: stored.response })
        } else {
            Err(StoreError::IdempotencyMismatch)
        }));
    }
    let rec = IdempotencyRecord { participant: p.clone(), key: k.clone(), request, response: b.response.clone() };
    g.put_json(ik, &rec);
    Ok(None)
}

/// Policy usage and non-personal counters, in the same commit.
fn count_submission(g: &mut Group, b: &SubmitBatch) -> Result<(), StoreError> {
    let now = b.received_at;
    let pk = key(b"p/", b.policy.as_bytes());
    if let Some(mut v) = g.get::<PolicyVersion>(&pk)? {
        v.first_used.get_or_insert(now);
        v.last_used = Some(now);
        v.submissions += 1;
        g.put_json(pk, &v);
    }
    let mut counters: Counters = g.get(M_COUNTERS)?.unwrap_or_default();
    let week = iso_week(now);
    if let AuditEvent::Submission { removed, rejected, .. } = &b.audit {
        counters.removals_by_week.entry(week.clone()).or_default().merge(removed);
        *counters.rejected_by_week.entry(week.clone()).or_default() += *rejected as u64;
    }
    *counters.submissions_by_week.entry(week.clone()).or_default() += 1;
    *counters.accepted_by_week.entry(week).or_default() += b.indicators.len() as u64;
    g.put_json(M_COUNTERS.to_vec(), &counters);
    Ok(())
}

fn apply_submit(g: &mut Group, log_seq: &mut u64, b: &SubmitBatch) -> Result<Answer<SubmitOutcome>, StoreError> {
    if let Some(answer) = check_idempotency(g, b)? {
        return Ok(answer);
    }
    count_submission(g, b)?;
    let now = b.received_at;
    let cap = now + g.max_validity;
    let mut ids = Vec::with_capacity(b.indicators.len());
    for (i, s) in b.indicators.iter().enumerate() {
        let lookup = b.lookup.get(i).cloned().flatten().filter(|o| crate::lookup::is_output_hex(o));
        let id = indicator_id(s.kind, &s.value);
        let ik = g.keys.indicator(&id);
        let seen = s.first_seen.filter(|t| *t < now).unwrap_or(now);
        let sighting = Sighting {
            value_form: s.value_form.clone(),
            category: s.category,
            confidence: s.confidence,
            tlp: s.tlp,
            first_seen: seen,
            valid_until: Some(s.valid_until.unwrap_or(cap).min(cap)),
            description: s.description.clone(),
            attributes: s.attributes.clone(),
            tags: s.tags.iter().take(MAX_TAGS).cloned().collect(),
            policy: b.policy.clone(),
        };
        let c = &b.contributor;
        let mine = Contribution {
            sector: c.sector.clone(),
            disclose_name: c.disclose_name,
            first: now,
            last: now,
            count: 1,
            sighting,
        };
        match g.get::<Record>(&ik)? {
            Some(mut r) if !r.removed => {
                if add_sighting(&mut r, &c.participant, mine, now) {
                    log_change(g, log_seq, Op::Update, now, None, &r);
                }
                if r.lookup.is_none() {
                    r.lookup = lookup;
                }
                put_record(g, ik, &r);
            }
            _ => {
                let contributors = BTreeMap::from([(c.participant.clone(), mine)]);
                let mut r = new_record(id.clone(), s.kind, &s.value, contributors, now);
                r.lookup = lookup;
                log_change(g, log_seq, Op::Add, now, None, &r);
                put_record(g, ik, &r);
            }
        }
        ids.push(id);
    }
    Ok(Ok(SubmitOutcome::Committed { ids }))
}

/// Adds (or renews) `participant`'s sighting of a live indicator; true when
/// the shared record changed.
fn add_sighting(r: &mut Record, participant: &str, mine: Contribution, now: OffsetDateTime) -> bool {
    r.contributors.retain(|_, c| c.live(now));
    let seen = mine.sighting.first_seen;
    let e = r.contributors.entry(participant.to_owned()).or_insert_with(|| Contribution { count: 0, ..mine.clone() });
    e.last = now;
    e.count += 1;
    e.disclose_name = mine.disclose_name;
    e.sector = mine.sector;
    let first_seen = e.sighting.first_seen.min(seen);
    e.sighting = Sighting { first_seen, ..mine.sighting };
    derive(r, now)
}

/// Every key [`apply`] may read for `req` (beyond what the group itself
/// wrote): the PostgreSQL backend fetches them for the group under its lock.
pub(crate) fn reads(keys: &Keys, req: &Request) -> Vec<Vec<u8>> {
    match req {
        Request::Submit(b, _) => {
            let mut out = vec![key(b"p/", b.policy.as_bytes()), M_COUNTERS.to_vec()];
            if let Some((p, k)) = &b.idempotency {
                out.push(keys.idempotency(p, k));
            }
            out.extend(b.indicators.iter().map(|s| keys.indicator(&indicator_id(s.kind, &s.value))));
            out
        }
        Request::Audit(..) => Vec::new(),
        // The feedback index too: a removed indicator leaves it.
        Request::Retract { id, .. } => vec![keys.indicator(id), M_FEEDBACK.to_vec()],
        Request::Expire { ids, .. } => {
            let mut out: Vec<Vec<u8>> = ids.iter().map(|id| keys.indicator(id)).collect();
            out.push(M_FEEDBACK.to_vec());
            out
        }
        Request::Policy(load, _) => vec![key(b"p/", format!("{}@{}", load.id, load.hash).as_bytes())],
        Request::Directory { .. } => Vec::new(),
        Request::Sightings(b, _) => {
            let mut out = vec![M_COUNTERS.to_vec(), M_FEEDBACK.to_vec()];
            out.extend(b.reports.iter().map(|(id, _)| keys.indicator(id)));
            out
        }
        Request::Review { id, .. } => vec![keys.indicator(id), M_COUNTERS.to_vec()],
    }
}
