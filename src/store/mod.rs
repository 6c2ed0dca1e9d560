//! Storage of sanitised indicators, the change log that feeds followers, the
//! audit chain and idempotency records.
//!
//! [`Store`] is the seam for other backends; [`SledStore`] is the embedded
//! one. Writes go through a single writer thread doing group commit: it
//! takes every pending request, applies them in one atomic sled batch, calls
//! `flush()` once, then answers them all. A request is acknowledged only
//! after its data and its audit record are on disk, so `kill -9` at any
//! moment loses nothing acknowledged.
//!
//! Keyspace (one sled tree, prefixed keys, every value encrypted at rest):
//! `i/<id>` → indicator record; `l/<seq>` → feed entry; `a/<seq>` → audit
//! record; `k/<sha256(participant, idempotency key)>` → stored response;
//! `m/<name>` → counters and chain head.

pub mod crypto;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::audit::{AuditEvent, AuditRecord, GENESIS, Verification};
use crate::model::{Category, Indicator, IndicatorType, SanitisedIndicator, Sources};
use crypto::Sealer;

/// A storage failure. Messages name keys by prefix only, never content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    #[error(transparent)]
    Corrupt(#[from] crypto::OpenError),
    #[error("stored record does not decode: {0}")]
    Decode(String),
    #[error("the store is shutting down")]
    Closed,
}

/// Who submitted, as the store needs to know it.
#[derive(Clone, Debug)]
pub struct Contributor {
    pub participant: String,
    pub sector: String,
    /// The participant agreed to be named to consumers.
    pub disclose_name: bool,
}

/// One submission's sanitised indicators, ready to commit.
pub struct SubmitBatch {
    pub contributor: Contributor,
    /// `id@hash` of the ingest policy that produced the indicators.
    pub policy: String,
    pub received_at: OffsetDateTime,
    pub indicators: Vec<SanitisedIndicator>,
    /// `(participant, Idempotency-Key)`: a retry with the same key is applied once.
    pub idempotency: Option<(String, String)>,
    /// The response to store for retries (the API's JSON body).
    pub response: Vec<u8>,
    /// The audit event recorded in the same commit.
    pub audit: AuditEvent,
}

/// What committing a submission did.
#[derive(Debug)]
pub enum SubmitOutcome {
    /// Applied now: ids of the indicators, in submission order.
    Committed { ids: Vec<String> },
    /// A retry of an earlier submission: its stored response.
    Replayed { response: Vec<u8> },
}

/// A change in the indicator set, as followers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Add,
    Update,
    Remove,
}

/// One entry of the feed: the indicator as it was after the change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// Commit sequence number; the feed cursor.
    pub seq: u64,
    pub op: Op,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Why it was removed (`retracted`, `expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub indicator: Indicator,
}

/// The storage interface the API and distribution use.
pub trait Store: Send + Sync + 'static {
    /// Commits a submission durably; resolves once it is on disk.
    fn submit(&self, batch: SubmitBatch) -> oneshot::Receiver<Result<SubmitOutcome, String>>;
    /// Appends an audit event durably.
    fn audit(&self, event: AuditEvent) -> oneshot::Receiver<Result<u64, String>>;
    /// Withdraws `participant`'s contribution to indicator `id`.
    fn retract(&self, participant: &str, id: &str) -> oneshot::Receiver<Result<RetractOutcome, String>>;
    /// Removes the given indicators if they are still expired at `now`;
    /// resolves to how many were removed.
    fn expire(&self, ids: Vec<String>, now: OffsetDateTime) -> oneshot::Receiver<Result<usize, String>>;
    /// Feed entries after `since`, at most `limit`.
    fn feed(&self, since: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError>;
    /// The latest committed feed sequence number.
    fn head(&self) -> u64;
    /// Watches the feed head: changes after every commit.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
    /// The current state of an indicator.
    fn indicator(&self, id: &str) -> Result<Option<Indicator>, StoreError>;
    /// Audit records after `after`, at most `limit`.
    fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;
    /// Re-checks the whole audit chain.
    fn verify_audit(&self) -> Result<Verification, StoreError>;
    /// Records that a policy version was loaded (registry + audit).
    fn record_policy(&self, id: &str, hash: &str, text: &str, file: &str) -> oneshot::Receiver<Result<(), String>>;
    /// Every policy version ever loaded.
    fn policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError>;
    /// Non-personal counters (removals, submissions per week).
    fn counters(&self) -> Result<Counters, StoreError>;
}

/// What the store keeps per indicator (never leaves as is: contributor
/// names are internal).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    indicator: Indicator,
    contributors: BTreeMap<String, Contribution>,
    #[serde(default)]
    removed: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Contribution {
    sector: String,
    disclose_name: bool,
    #[serde(with = "time::serde::rfc3339")]
    first: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last: OffsetDateTime,
    count: u64,
}

type Tx<T> = oneshot::Sender<Result<T, String>>;

enum Request {
    Submit(SubmitBatch, Tx<SubmitOutcome>),
    Audit(AuditEvent, Tx<u64>),
    Retract { participant: String, id: String, tx: Tx<RetractOutcome> },
    Expire { ids: Vec<String>, now: OffsetDateTime, tx: Tx<usize> },
    Policy { id: String, hash: String, text: String, file: String, tx: Tx<()> },
}

/// A policy version the exchange has loaded, for the DPO's registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub hash: String,
    /// The file's text as loaded.
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_loaded: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_loaded: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub first_used: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
    /// Submissions it sanitised.
    #[serde(default)]
    pub submissions: u64,
}

/// Non-personal counters kept with every submission (SPEC §8 statistics).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Removals by ISO week (`2026-W48`), then data category and action.
    pub removals_by_week: BTreeMap<String, crate::model::Removals>,
    /// Submissions by ISO week.
    pub submissions_by_week: BTreeMap<String, u64>,
    /// Indicators accepted by ISO week.
    pub accepted_by_week: BTreeMap<String, u64>,
    /// Indicators rejected by ISO week.
    pub rejected_by_week: BTreeMap<String, u64>,
}

/// ISO week of a time, `2026-W48`.
pub fn iso_week(t: OffsetDateTime) -> String {
    let (y, w, _) = t.to_iso_week_date();
    format!("{y}-W{w:02}")
}

/// What a retraction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetractOutcome {
    /// No such live indicator.
    NotFound,
    /// The indicator exists but this participant never submitted it.
    NotContributor,
    /// The participant's contribution is gone; `removed` when it was the last
    /// one, so the indicator left the exchange.
    Retracted { removed: bool },
}

/// The sled-backed store.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    sealer: Arc<Sealer>,
    tx: std::sync::Mutex<Option<mpsc::Sender<Request>>>,
    head: Arc<AtomicU64>,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    changes: tokio::sync::watch::Receiver<u64>,
}

const M_LOG_SEQ: &[u8] = b"m/log_seq";
const M_AUDIT_SEQ: &[u8] = b"m/audit_seq";
const M_AUDIT_HEAD: &[u8] = b"m/audit_head";
const M_COUNTERS: &[u8] = b"m/counters";

fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + rest.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(rest);
    k
}

fn seq_key(prefix: &[u8], seq: u64) -> Vec<u8> {
    key(prefix, &seq.to_be_bytes())
}

/// Stable identifier of `(type, value)`, shaped as a UUID (version 4 bits
/// set) so it can name STIX objects too.
pub fn indicator_id(kind: IndicatorType, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tamis/indicator/v1\0");
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    uuid_v4_from(&h.finalize())
}

/// A random UUID v4.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("OS random source");
    uuid_v4_from(&b)
}

/// A UUID string with the version-4 and variant bits set, from the first 16
/// bytes of `bytes` (a hash for stable ids, random bytes otherwise).
pub fn uuid_v4_from(bytes: &[u8]) -> String {
    let mut b: [u8; 16] = bytes[..16].try_into().expect("at least 16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path, storage_key: &[u8; 32]) -> Result<Arc<SledStore>, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(256 * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(Some(500))
            .open()?;
        let tree = db.open_tree("tamis")?;
        let sealer = Arc::new(Sealer::new(storage_key, 1));
        let head = Arc::new(AtomicU64::new(read_u64(&tree, M_LOG_SEQ)?));
        let (tx, rx) = mpsc::channel();
        let (changes_tx, changes) = tokio::sync::watch::channel(head.load(Ordering::Acquire));
        let writer = Writer {
            changes: changes_tx,
            db: db.clone(),
            tree: tree.clone(),
            sealer: sealer.clone(),
            head: head.clone(),
            log_seq: read_u64(&tree, M_LOG_SEQ)?,
            audit_seq: read_u64(&tree, M_AUDIT_SEQ)?,
            audit_head: match tree.get(M_AUDIT_HEAD)? {
                Some(v) => String::from_utf8_lossy(&v).into_owned(),
                None => GENESIS.to_owned(),
            },
        };
        let handle = std::thread::Builder::new()
            .name("tamis-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Decode(format!("cannot start writer thread: {e}")))?;
        Ok(Arc::new(SledStore {
            db,
            tree,
            sealer,
            tx: std::sync::Mutex::new(Some(tx)),
            head,
            writer: std::sync::Mutex::new(Some(handle)),
            changes,
        }))
    }

    /// Stops the writer after it has committed everything queued, and flushes.
    pub fn close(&self) {
        self.tx.lock().expect("lock").take();
        if let Some(h) = self.writer.lock().expect("lock").take() {
            let _ = h.join();
        }
        let _ = self.db.flush();
    }

    fn send(&self, req: Request) {
        let guard = self.tx.lock().expect("lock");
        if let Some(tx) = guard.as_ref() {
            // If the writer is gone the request is dropped with its sender,
            // and the caller sees a closed channel.
            let _ = tx.send(req);
        }
    }

    fn get_sealed<T: for<'de> Deserialize<'de>>(&self, k: &[u8]) -> Result<Option<T>, StoreError> {
        get_sealed(&self.tree, &self.sealer, k)
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn read_u64(tree: &sled::Tree, k: &[u8]) -> Result<u64, StoreError> {
    Ok(tree.get(k)?.map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))).unwrap_or(0))
}

fn get_sealed<T: for<'de> Deserialize<'de>>(
    tree: &sled::Tree,
    sealer: &Sealer,
    k: &[u8],
) -> Result<Option<T>, StoreError> {
    tree.get(k)?.map(|v| unseal(sealer, k, &v)).transpose()
}

/// Opens a stored value and decodes its JSON.
fn unseal<T: for<'de> Deserialize<'de>>(sealer: &Sealer, k: &[u8], v: &[u8]) -> Result<T, StoreError> {
    let plain = sealer.open(k, v)?;
    serde_json::from_slice(&plain).map_err(|e| StoreError::Decode(e.to_string()))
}

impl Store for SledStore {
    fn submit(&self, batch: SubmitBatch) -> oneshot::Receiver<Result<SubmitOutcome, String>> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Submit(batch, tx));
        rx
    }

    fn audit(&self, event: AuditEvent) -> oneshot::Receiver<Result<u64, String>> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Audit(event, tx));
        rx
    }

    fn retract(&self, participant: &str, id: &str) -> oneshot::Receiver<Result<RetractOutcome, String>> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Retract { participant: participant.to_owned(), id: id.to_owned(), tx });
        rx
    }

    fn expire(&self, ids: Vec<String>, now: OffsetDateTime) -> oneshot::Receiver<Result<usize, String>> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Expire { ids, now, tx });
        rx
    }

    fn feed(&self, since: u64, limit: usize) -> Result<Vec<FeedEntry>, StoreError> {
        let first = seq_key(b"l/", since.saturating_add(1));
        let mut out = Vec::with_capacity(limit.min(1024));
        // The blob holding `since + 1` starts at or before it; the rest follow.
        let holding = self.tree.range(seq_key(b"l/", 0)..=first.clone()).next_back().transpose()?;
        let after = self.tree.range(seq_key(b"l/", since.saturating_add(2))..seq_key(b"l/", u64::MAX));
        for item in holding.into_iter().map(Ok).chain(after) {
            let (k, v) = item?;
            let blob: Vec<FeedEntry> = unseal(&self.sealer, &k, &v)?;
            for e in blob {
                if e.seq > since {
                    out.push(e);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.clone()
    }

    fn indicator(&self, id: &str) -> Result<Option<Indicator>, StoreError> {
        Ok(self.get_sealed::<Record>(&key(b"i/", id.as_bytes()))?.filter(|r| !r.removed).map(|r| r.indicator))
    }

    fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let start = seq_key(b"a/", after.saturating_add(1));
        let mut out = Vec::new();
        for item in self.tree.range(start..seq_key(b"a/", u64::MAX)).take(limit) {
            let (k, v) = item?;
            out.push(unseal(&self.sealer, &k, &v)?);
        }
        Ok(out)
    }

    fn record_policy(&self, id: &str, hash: &str, text: &str, file: &str) -> oneshot::Receiver<Result<(), String>> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Policy {
            id: id.to_owned(),
            hash: hash.to_owned(),
            text: text.to_owned(),
            file: file.to_owned(),
            tx,
        });
        rx
    }

    fn policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(b"p/") {
            let (k, v) = item?;
            out.push(unseal(&self.sealer, &k, &v)?);
        }
        Ok(out)
    }

    fn counters(&self) -> Result<Counters, StoreError> {
        Ok(self.get_sealed(M_COUNTERS)?.unwrap_or_default())
    }

    fn verify_audit(&self) -> Result<Verification, StoreError> {
        let sealer = &self.sealer;
        let iter = self.tree.range(seq_key(b"a/", 0)..seq_key(b"a/", u64::MAX)).map(|item| {
            let (k, v) = item.map_err(|e| (0, e.to_string()))?;
            let seq = u64::from_be_bytes(k[2..].try_into().unwrap_or([0; 8]));
            let plain = sealer.open(&k, &v).map_err(|_| (seq, "does not authenticate (edited on disk)".to_owned()))?;
            serde_json::from_slice::<AuditRecord>(&plain).map_err(|_| (seq, "does not decode".to_owned()))
        });
        let mut v = crate::audit::verify(iter);
        if v.ok {
            let head = self.tree.get(M_AUDIT_HEAD)?.map(|h| String::from_utf8_lossy(&h).into_owned());
            let expected = head.unwrap_or_else(|| GENESIS.to_owned());
            if expected != v.head {
                v.ok = false;
                v.first_bad = Some(crate::audit::BadRecord {
                    seq: v.records + 1,
                    problem: "records missing at the end of the chain (the recorded head is later)".into(),
                });
            }
        }
        Ok(v)
    }
}

/// The single writer: owns the sequence counters and applies group commits.
struct Writer {
    db: sled::Db,
    tree: sled::Tree,
    sealer: Arc<Sealer>,
    head: Arc<AtomicU64>,
    log_seq: u64,
    audit_seq: u64,
    audit_head: String,
    /// Announces the new feed head after each commit (blocklist rebuilds...).
    changes: tokio::sync::watch::Sender<u64>,
}

/// Writes of one group, visible to later requests of the same group before
/// they reach sled.
struct Group<'a> {
    tree: &'a sled::Tree,
    sealer: &'a Sealer,
    batch: sled::Batch,
    overlay: HashMap<Vec<u8>, Vec<u8>>,
    /// Feed entries of the group, written as blobs at commit.
    log: Vec<FeedEntry>,
}

/// Feed entries per stored blob: one sled write per blob instead of one per
/// entry, which more than halves the writes per indicator.
const LOG_BLOB: usize = 512;

impl Group<'_> {
    fn put(&mut self, k: Vec<u8>, plain: &[u8]) {
        let sealed = self.sealer.seal(&k, plain);
        self.batch.insert(k.clone(), sealed.clone());
        self.overlay.insert(k, sealed);
    }

    fn put_raw(&mut self, k: &[u8], v: &[u8]) {
        self.batch.insert(k, v);
        self.overlay.insert(k.to_vec(), v.to_vec());
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, k: &[u8]) -> Result<Option<T>, StoreError> {
        match self.overlay.get(k) {
            Some(v) => unseal(self.sealer, k, v).map(Some),
            None => get_sealed(self.tree, self.sealer, k),
        }
    }
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut reqs = vec![first];
            while reqs.len() < 256 {
                match rx.try_recv() {
                    Ok(r) => reqs.push(r),
                    Err(_) => break,
                }
            }
            self.commit_group(reqs);
        }
    }

    fn commit_group(&mut self, reqs: Vec<Request>) {
        let saved = (self.log_seq, self.audit_seq, self.audit_head.clone());
        let mut group = Group {
            tree: &self.tree,
            sealer: &self.sealer,
            batch: sled::Batch::default(),
            overlay: HashMap::new(),
            log: Vec::new(),
        };
        let mut replies = Vec::with_capacity(reqs.len());
        let mut failed = None;
        let now = OffsetDateTime::now_utc();
        for req in &reqs {
            let r = match req {
                Request::Submit(b, _) => apply_submit(&mut group, &mut self.log_seq, b).map(|o| {
                    let audit = matches!(o, SubmitOutcome::Committed { .. }).then(|| b.audit.clone());
                    (Reply::Submit(o), audit)
                }),
                Request::Audit(e, _) => Ok((Reply::Audit(0), Some(e.clone()))),
                Request::Retract { participant, id, .. } => {
                    apply_retract(&mut group, &mut self.log_seq, participant, id, now).map(|o| {
                        let audit = match o {
                            RetractOutcome::Retracted { removed } => Some(AuditEvent::Retraction {
                                participant: participant.clone(),
                                indicator: id.clone(),
                                removed,
                            }),
                            _ => None,
                        };
                        (Reply::Retract(o), audit)
                    })
                }
                Request::Expire { ids, now, .. } => {
                    apply_expire(&mut group, &mut self.log_seq, ids, *now).map(|n| (Reply::Expire(n), None))
                }
                Request::Policy { id, hash, text, file, .. } => {
                    apply_policy(&mut group, id, hash, text, now).map(|()| {
                        let event = AuditEvent::PolicyLoad { policy: format!("{id}@{hash}"), file: file.clone() };
                        (Reply::Policy, Some(event))
                    })
                }
            };
            match r {
                Ok(r) => replies.push(r),
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        if failed.is_none() {
            // Audit records, in request order, after the data they describe.
            for (reply, audit) in replies.iter_mut() {
                let Some(event) = audit.take() else { continue };
                self.audit_seq += 1;
                let rec = AuditRecord::chain(self.audit_seq, now, &self.audit_head, event);
                self.audit_head = rec.hash.clone();
                group.put(seq_key(b"a/", self.audit_seq), &serde_json::to_vec(&rec).expect("serialise"));
                if let Reply::Audit(seq) = reply {
                    *seq = self.audit_seq;
                }
            }
            // The log, in blobs keyed by their first sequence number.
            let log = std::mem::take(&mut group.log);
            for chunk in log.chunks(LOG_BLOB) {
                let k = seq_key(b"l/", chunk[0].seq);
                let sealed = self.sealer.seal(&k, &serde_json::to_vec(chunk).expect("serialise"));
                group.batch.insert(k, sealed);
            }
            group.put_raw(M_LOG_SEQ, &self.log_seq.to_be_bytes());
            group.put_raw(M_AUDIT_SEQ, &self.audit_seq.to_be_bytes());
            group.put_raw(M_AUDIT_HEAD, self.audit_head.as_bytes());
            let batch = std::mem::take(&mut group.batch);
            if let Err(e) = self.tree.apply_batch(batch).and_then(|()| self.db.flush().map(|_| ())) {
                failed = Some(format!("database: {e}"));
            }
        }
        if let Some(err) = failed {
            tracing::error!(error = %err, "commit failed; the group is not acknowledged");
            (self.log_seq, self.audit_seq, self.audit_head) = saved;
            for req in reqs {
                match req {
                    Request::Submit(_, tx) => drop(tx.send(Err(err.clone()))),
                    Request::Audit(_, tx) => drop(tx.send(Err(err.clone()))),
                    Request::Retract { tx, .. } => drop(tx.send(Err(err.clone()))),
                    Request::Expire { tx, .. } => drop(tx.send(Err(err.clone()))),
                    Request::Policy { tx, .. } => drop(tx.send(Err(err.clone()))),
                }
            }
            return;
        }
        self.head.store(self.log_seq, Ordering::Release);
        let _ = self.changes.send(self.log_seq);
        for (req, (reply, _)) in reqs.into_iter().zip(replies) {
            const MISMATCH: &str = "internal: reply mismatch";
            match (req, reply) {
                (Request::Submit(_, tx), Reply::Submit(o)) => drop(tx.send(Ok(o))),
                (Request::Audit(_, tx), Reply::Audit(s)) => drop(tx.send(Ok(s))),
                (Request::Retract { tx, .. }, Reply::Retract(o)) => drop(tx.send(Ok(o))),
                (Request::Expire { tx, .. }, Reply::Expire(n)) => drop(tx.send(Ok(n))),
                (Request::Policy { tx, .. }, Reply::Policy) => drop(tx.send(Ok(()))),
                (Request::Policy { tx, .. }, _) => drop(tx.send(Err(MISMATCH.to_owned()))),
                (Request::Submit(_, tx), _) => drop(tx.send(Err(MISMATCH.to_owned()))),
                (Request::Audit(_, tx), _) => drop(tx.send(Err(MISMATCH.to_owned()))),
                (Request::Retract { tx, .. }, _) => drop(tx.send(Err(MISMATCH.to_owned()))),
                (Request::Expire { tx, .. }, _) => drop(tx.send(Err(MISMATCH.to_owned()))),
            }
        }
    }
}

enum Reply {
    Submit(SubmitOutcome),
    Audit(u64),
    Retract(RetractOutcome),
    Expire(usize),
    Policy,
}

fn apply_policy(g: &mut Group<'_>, id: &str, hash: &str, text: &str, now: OffsetDateTime) -> Result<(), StoreError> {
    let k = key(b"p/", format!("{id}@{hash}").as_bytes());
    let v = match g.get::<PolicyVersion>(&k)? {
        Some(mut v) => {
            v.last_loaded = now;
            v
        }
        None => PolicyVersion {
            id: id.to_owned(),
            hash: hash.to_owned(),
            text: text.to_owned(),
            first_loaded: now,
            last_loaded: now,
            first_used: None,
            last_used: None,
            submissions: 0,
        },
    };
    g.put(k, &serde_json::to_vec(&v).expect("serialise"));
    Ok(())
}

fn apply_retract(
    g: &mut Group<'_>,
    log_seq: &mut u64,
    participant: &str,
    id: &str,
    now: OffsetDateTime,
) -> Result<RetractOutcome, StoreError> {
    let ik = key(b"i/", id.as_bytes());
    let Some(mut r) = g.get::<Record>(&ik)?.filter(|r| !r.removed) else { return Ok(RetractOutcome::NotFound) };
    if r.contributors.remove(participant).is_none() {
        return Ok(RetractOutcome::NotContributor);
    }
    let removed = r.contributors.is_empty();
    r.removed = removed;
    r.indicator.sources = sources_of(&r.contributors);
    *log_seq += 1;
    let entry = FeedEntry {
        seq: *log_seq,
        op: if removed { Op::Remove } else { Op::Update },
        at: now,
        reason: removed.then(|| "retracted".to_owned()),
        indicator: r.indicator.clone(),
    };
    g.log.push(entry);
    g.put(ik, &serde_json::to_vec(&r).expect("serialise"));
    Ok(RetractOutcome::Retracted { removed })
}

fn apply_expire(
    g: &mut Group<'_>,
    log_seq: &mut u64,
    ids: &[String],
    now: OffsetDateTime,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for id in ids {
        let ik = key(b"i/", id.as_bytes());
        let Some(mut r) = g.get::<Record>(&ik)?.filter(|r| !r.removed) else { continue };
        if r.indicator.valid_until.is_none_or(|t| t > now) {
            continue; // renewed since the caller looked
        }
        r.removed = true;
        *log_seq += 1;
        let entry = FeedEntry {
            seq: *log_seq,
            op: Op::Remove,
            at: now,
            reason: Some("expired".to_owned()),
            indicator: r.indicator.clone(),
        };
        g.log.push(entry);
        g.put(ik, &serde_json::to_vec(&r).expect("serialise"));
        n += 1;
    }
    Ok(n)
}

fn idempotency_key(participant: &str, k: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"tamis/idempotency/v1\0");
    h.update(participant.as_bytes());
    h.update([0]);
    h.update(k.as_bytes());
    key(b"k/", &h.finalize())
}

fn apply_submit(g: &mut Group<'_>, log_seq: &mut u64, b: &SubmitBatch) -> Result<SubmitOutcome, StoreError> {
    if let Some((p, k)) = &b.idempotency {
        let ik = idempotency_key(p, k);
        if let Some(response) = g.get::<Vec<u8>>(&ik)? {
            return Ok(SubmitOutcome::Replayed { response });
        }
        g.put(ik, &serde_json::to_vec(&b.response).expect("serialise"));
    }
    let now = b.received_at;
    // Policy usage and non-personal counters, in the same commit.
    let pk = key(b"p/", b.policy.as_bytes());
    if let Some(mut v) = g.get::<PolicyVersion>(&pk)? {
        v.first_used.get_or_insert(now);
        v.last_used = Some(now);
        v.submissions += 1;
        g.put(pk, &serde_json::to_vec(&v).expect("serialise"));
    }
    let mut counters: Counters = g.get(M_COUNTERS)?.unwrap_or_default();
    let week = iso_week(now);
    if let AuditEvent::Submission { removed, rejected, .. } = &b.audit {
        counters.removals_by_week.entry(week.clone()).or_default().merge(removed);
        *counters.rejected_by_week.entry(week.clone()).or_default() += *rejected as u64;
    }
    *counters.submissions_by_week.entry(week.clone()).or_default() += 1;
    *counters.accepted_by_week.entry(week).or_default() += b.indicators.len() as u64;
    g.put(M_COUNTERS.to_vec(), &serde_json::to_vec(&counters).expect("serialise"));
    let mut ids = Vec::with_capacity(b.indicators.len());
    for s in &b.indicators {
        let id = indicator_id(s.kind, &s.value);
        let ik = key(b"i/", id.as_bytes());
        let existing: Option<Record> = g.get(&ik)?;
        let seen = s.first_seen.filter(|t| *t < now).unwrap_or(now);
        let (record, op) = match existing {
            Some(mut r) if !r.removed => {
                merge(&mut r, s, &b.contributor, &b.policy, now, seen);
                (r, Op::Update)
            }
            _ => (new_record(id.clone(), s, &b.contributor, &b.policy, now, seen), Op::Add),
        };
        *log_seq += 1;
        let entry = FeedEntry { seq: *log_seq, op, at: now, reason: None, indicator: record.indicator.clone() };
        g.log.push(entry);
        g.put(ik, &serde_json::to_vec(&record).expect("serialise"));
        ids.push(id);
    }
    Ok(SubmitOutcome::Committed { ids })
}

fn sources_of(contributors: &BTreeMap<String, Contribution>) -> Sources {
    let sectors: BTreeSet<&str> = contributors.values().map(|c| c.sector.as_str()).collect();
    let named: Vec<String> =
        contributors.iter().filter(|(_, c)| c.disclose_name).map(|(name, _)| name.clone()).collect();
    Sources {
        count: contributors.len() as u32,
        sectors: sectors.into_iter().map(str::to_owned).collect(),
        names: named,
    }
}

fn new_record(
    id: String,
    s: &SanitisedIndicator,
    c: &Contributor,
    policy: &str,
    now: OffsetDateTime,
    seen: OffsetDateTime,
) -> Record {
    let mut contributors = BTreeMap::new();
    contributors.insert(
        c.participant.clone(),
        Contribution { sector: c.sector.clone(), disclose_name: c.disclose_name, first: now, last: now, count: 1 },
    );
    let indicator = Indicator {
        id,
        kind: s.kind,
        value: s.value.clone(),
        value_form: s.value_form.clone(),
        category: s.category,
        confidence: s.confidence,
        tlp: s.tlp,
        first_seen: seen,
        last_seen: now,
        valid_until: s.valid_until,
        description: s.description.clone(),
        attributes: s.attributes.clone(),
        tags: s.tags.clone(),
        sources: sources_of(&contributors),
        policy: policy.to_owned(),
    };
    Record { indicator, contributors, removed: false }
}

/// Folds a new sighting into an existing record: the widest time span, the
/// most restrictive TLP, the highest confidence, the union of tags.
fn merge(
    r: &mut Record,
    s: &SanitisedIndicator,
    c: &Contributor,
    policy: &str,
    now: OffsetDateTime,
    seen: OffsetDateTime,
) {
    let ind = &mut r.indicator;
    ind.first_seen = ind.first_seen.min(seen);
    ind.last_seen = ind.last_seen.max(now);
    ind.tlp = ind.tlp.max(s.tlp);
    ind.confidence = ind.confidence.max(s.confidence);
    if ind.category == Category::Other {
        ind.category = s.category;
    }
    ind.valid_until = match (ind.valid_until, s.valid_until) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    if s.description.is_some() {
        ind.description = s.description.clone();
    }
    for (k, v) in &s.attributes {
        ind.attributes.insert(k.clone(), v.clone());
    }
    for t in &s.tags {
        if !ind.tags.contains(t) && ind.tags.len() < 64 {
            ind.tags.push(t.clone());
        }
    }
    ind.policy = policy.to_owned();
    let e = r.contributors.entry(c.participant.clone()).or_insert(Contribution {
        sector: c.sector.clone(),
        disclose_name: c.disclose_name,
        first: now,
        last: now,
        count: 0,
    });
    e.last = now;
    e.count += 1;
    e.disclose_name = c.disclose_name;
    ind.sources = sources_of(&r.contributors);
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::model::{Removals, Tlp};

    pub fn sample(kind: IndicatorType, value: &str) -> SanitisedIndicator {
        SanitisedIndicator {
            kind,
            value: value.into(),
            value_form: None,
            category: Category::Phishing,
            confidence: 60,
            tlp: Tlp::Green,
            first_seen: None,
            valid_until: None,
            description: None,
            attributes: Default::default(),
            tags: vec!["t1".into()],
        }
    }

    pub fn batch(who: &str, items: Vec<SanitisedIndicator>, idem: Option<&str>) -> SubmitBatch {
        SubmitBatch {
            contributor: Contributor { participant: who.into(), sector: "finance".into(), disclose_name: false },
            policy: "default@0011".into(),
            received_at: OffsetDateTime::now_utc(),
            idempotency: idem.map(|k| (who.to_owned(), k.to_owned())),
            response: b"{\"ok\":1}".to_vec(),
            audit: AuditEvent::Submission {
                participant: who.into(),
                submission: "s".into(),
                policy: "default@0011".into(),
                format: "application/json".into(),
                received: items.len(),
                accepted: items.len(),
                rejected: 0,
                removed: Removals::default(),
            },
            indicators: items,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    #[tokio::test]
    async fn dedups_counts_sources_replays_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let key = [3u8; 32];
        {
            let store = SledStore::open(dir.path(), &key).unwrap();
            let a = store.submit(batch("bank-a", vec![sample(IndicatorType::Domain, "evil.example")], None));
            let SubmitOutcome::Committed { ids } = a.await.unwrap().unwrap() else { panic!() };
            let b = store.submit(batch("isp-a", vec![sample(IndicatorType::Domain, "evil.example")], Some("k1")));
            b.await.unwrap().unwrap();
            let again = store.submit(batch("isp-a", vec![sample(IndicatorType::Domain, "evil.example")], Some("k1")));
            assert!(matches!(again.await.unwrap().unwrap(), SubmitOutcome::Replayed { .. }));
            let ind = store.indicator(&ids[0]).unwrap().unwrap();
            assert_eq!(ind.sources.count, 2);
            assert_eq!(store.head(), 2);
            let feed = store.feed(0, 10).unwrap();
            assert_eq!(feed.iter().map(|e| e.op).collect::<Vec<_>>(), vec![Op::Add, Op::Update]);
            assert!(store.verify_audit().unwrap().ok);
        }
        let store = SledStore::open(dir.path(), &key).unwrap();
        assert_eq!(store.head(), 2);
        assert_eq!(store.audit_log(0, 10).unwrap().len(), 2);
        assert!(store.verify_audit().unwrap().ok);
        // Values are encrypted at rest.
        drop(store);
        let mut found = false;
        for e in walk(dir.path()) {
            if std::fs::read(&e).unwrap().windows(12).any(|w| w == b"evil.example") {
                found = true;
            }
        }
        assert!(!found, "plaintext indicator value found in the database files");
    }

    fn walk(p: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap().path();
            if e.is_dir() {
                out.extend(walk(&e));
            } else {
                out.push(e);
            }
        }
        out
    }
}

#[cfg(test)]
mod bench {
    use super::tests_support::*;
    use super::*;

    /// `cargo test --release --lib store::bench -- --ignored --nocapture`
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore]
    async fn store_commit_rate() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), &[1; 32]).unwrap();
        let t0 = std::time::Instant::now();
        let mut pending = Vec::new();
        for b in 0..100 {
            let items = (0..1000).map(|i| sample(IndicatorType::Domain, &format!("d{b}-{i}.bench.top"))).collect();
            pending.push(store.submit(batch("bank-a", items, None)));
            if pending.len() == 4 {
                for p in pending.drain(..) {
                    p.await.unwrap().unwrap();
                }
            }
        }
        for p in pending {
            p.await.unwrap().unwrap();
        }
        let s = t0.elapsed().as_secs_f64();
        println!("store: 100000 indicators in {s:.2} s = {:.0}/s", 100000.0 / s);
    }
}

#[cfg(test)]
mod bench_parts {
    use super::tests_support::*;
    use super::*;

    #[test]
    #[ignore]
    fn parts() {
        let c = Contributor { participant: "bank-a".into(), sector: "finance".into(), disclose_name: false };
        let now = OffsetDateTime::now_utc();
        let recs: Vec<Record> = (0..100_000)
            .map(|i| {
                let s = sample(IndicatorType::Domain, &format!("d{i}.bench.top"));
                new_record(indicator_id(s.kind, &s.value), &s, &c, "default@0011", now, now)
            })
            .collect();
        let t = std::time::Instant::now();
        let ser: Vec<Vec<u8>> = recs.iter().map(|r| serde_json::to_vec(r).unwrap()).collect();
        println!("serialise: {:?} ({} B each)", t.elapsed(), ser[0].len());
        let sealer = Sealer::new(&[1; 32], 1);
        let t = std::time::Instant::now();
        let sealed: Vec<Vec<u8>> = ser.iter().map(|p| sealer.seal(b"i/x", p)).collect();
        println!("seal: {:?}", t.elapsed());
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).mode(sled::Mode::HighThroughput).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let t = std::time::Instant::now();
        for (i, _v) in sealed.iter().enumerate() {
            let _ = tree.get(format!("i/{i:036}").as_bytes()).unwrap();
        }
        println!("sled get (miss): {:?}", t.elapsed());
        let t = std::time::Instant::now();
        for chunk in sealed.chunks(1000).enumerate() {
            let mut b = sled::Batch::default();
            for (j, v) in chunk.1.iter().enumerate() {
                b.insert(format!("i/{:036}", chunk.0 * 1000 + j).as_bytes(), v.clone());
            }
            tree.apply_batch(b).unwrap();
            db.flush().unwrap();
        }
        println!("sled apply_batch(1000)+flush: {:?}", t.elapsed());
        let tree2 = db.open_tree("t2").unwrap();
        let t = std::time::Instant::now();
        for chunk in sealed.chunks(1000).enumerate() {
            let mut b = sled::Batch::default();
            for (j, v) in chunk.1.iter().enumerate() {
                b.insert(format!("i/{:036}", chunk.0 * 1000 + j).as_bytes(), &v[..200]);
            }
            tree2.apply_batch(b).unwrap();
            db.flush().unwrap();
        }
        println!("sled apply_batch(1000)+flush, 200-byte values: {:?}", t.elapsed());
        let tree3 = db.open_tree("t3").unwrap();
        let t = std::time::Instant::now();
        for chunk in sealed.chunks(1000).enumerate() {
            let mut b = sled::Batch::default();
            for (j, v) in chunk.1.iter().enumerate() {
                b.insert(format!("i/{:036}", chunk.0 * 1000 + j).as_bytes(), v.clone());
            }
            tree3.apply_batch(b).unwrap();
        }
        db.flush().unwrap();
        println!("sled apply_batch(1000), one flush: {:?}", t.elapsed());
    }
}
