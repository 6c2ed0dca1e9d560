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
//! Keyspace (one sled tree, prefixed keys): `i/<hmac(id)>` → indicator
//! record; `l/<seq>` → a blob of up to `LOG_BLOB` (512) consecutive feed
//! entries, keyed by the sequence number of its first; `a/<seq>` → audit
//! record; `k/<hmac(participant, idempotency key)>` → stored response and
//! request hash; `p/<id@hash>` → policy version and its use; `m/<name>` →
//! counters, sequence numbers, chain head, storage-key id and check, and the
//! format version. Every value is sealed under the storage key except the
//! `m/` bookkeeping listed in `RAW_KEYS`. Keys that could confirm a guessed
//! indicator value (`i/`, `k/`) are HMACs under a key derived from the storage
//! key, so a copy of `data/` without `storage.key` tells nothing about them.
//!
//! Each indicator keeps every contributor's own sighting; the shared record
//! is derived from the live ones (see [`derive`] and docs/design.md), so a
//! co-submitter can neither rewrite nor hide someone else's indicator.
//!
//! A write error (a full disk) marks the store failed: `/readyz` says so,
//! writes are refused with a clear error, and the writer probes the disk and
//! the database every second until both work again, or exits the process
//! when sled cannot recover in-process (sled keeps an I/O error for the life
//! of the process), so that the supervisor restarts it.

pub mod anchor;
pub mod crypto;

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::audit::{AuditEvent, AuditRecord, GENESIS, Verification};
use crate::model::{Category, Indicator, IndicatorType, SanitisedIndicator, Sources, Tlp};
use anchor::{Anchor, AnchorFile};
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
    /// sled panicked or reported corruption while opening or scanning.
    #[error("the data directory is corrupt: restore it from a backup ({0})")]
    CorruptDirectory(String),
    /// The data directory was written in another store format.
    #[error("{0}")]
    Format(String),
    /// The audit chain is behind its anchor (a restored or cut `data/`).
    #[error("{0}")]
    Rollback(String),
    /// The storage key does not open the data directory.
    #[error("{0}")]
    WrongKey(String),
}

impl StoreError {
    /// The error as an operator reads it, naming the data directory once.
    pub fn describe(&self, dir: &Path) -> String {
        match self {
            StoreError::CorruptDirectory(_)
            | StoreError::Format(_)
            | StoreError::Rollback(_)
            | StoreError::WrongKey(_) => self.to_string(),
            e => format!("cannot open {} ({e})", dir.display()),
        }
    }
}

/// Why a write was not acknowledged. The messages are meant for clients.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CommitError {
    /// Nothing was written: the store is marked failed (a full disk...).
    #[error("the exchange cannot write to its storage ({0}); nothing was stored, retry later")]
    NotStored(String),
    /// The write may or may not have reached the disk.
    #[error(
        "the exchange could not confirm that the write reached its storage ({0}); the outcome is unknown: \
         retrying with the same Idempotency-Key is safe, it is applied at most once"
    )]
    Unknown(String),
    /// A stored record could not be read (nothing was written).
    #[error("{0}")]
    Internal(String),
}

impl CommitError {
    /// True for storage failures (507), false for internal errors.
    pub fn is_storage(&self) -> bool {
        !matches!(self, CommitError::Internal(_))
    }
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
    /// [`request_hash`] of the request, stored with the idempotency record so
    /// that the key reused with another body is refused.
    pub request_hash: [u8; 32],
    /// The response to store for retries (the API's JSON body).
    pub response: Vec<u8>,
    /// The audit event recorded in the same commit.
    pub audit: AuditEvent,
}

/// Fingerprint of a submission request (media type and body) for idempotency.
pub fn request_hash(media_type: &str, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tamis/request/v1\0");
    h.update(media_type.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().into()
}

/// What committing a submission did.
#[derive(Debug)]
pub enum SubmitOutcome {
    /// Applied now: ids of the indicators, in submission order.
    Committed { ids: Vec<String> },
    /// A retry of an earlier submission: its stored response.
    Replayed { response: Vec<u8> },
    /// The Idempotency-Key was used before with another request: nothing done.
    KeyReused,
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
    fn submit(&self, batch: SubmitBatch) -> oneshot::Receiver<Result<SubmitOutcome, CommitError>>;
    /// Appends an audit event durably.
    fn audit(&self, event: AuditEvent) -> oneshot::Receiver<Result<u64, String>>;
    /// Withdraws `participant`'s contribution to indicator `id`.
    fn retract(&self, participant: &str, id: &str) -> oneshot::Receiver<Result<RetractOutcome, CommitError>>;
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
    /// Re-checks the whole audit chain (and its anchor).
    fn verify_audit(&self) -> Result<Verification, StoreError>;
    /// Records that a policy version was loaded (registry + audit).
    fn record_policy(&self, id: &str, hash: &str, text: &str, file: &str) -> oneshot::Receiver<Result<(), String>>;
    /// Every policy version ever loaded.
    fn policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError>;
    /// Non-personal counters (removals, submissions per week).
    fn counters(&self) -> Result<Counters, StoreError>;
    /// `Err(why)` while the store cannot write (for `/readyz`).
    fn health(&self) -> Result<(), String> {
        Ok(())
    }
    /// The latest audit record: `(seq, hash)`, for `X-Tamis-Audit-Head`.
    fn audit_head(&self) -> (u64, String) {
        (0, GENESIS.to_owned())
    }
}

/// The `X-Tamis-Audit-Head` header value: `SEQ:HASH` of the latest audit record.
pub fn audit_head_header(store: &dyn Store) -> String {
    let (seq, hash) = store.audit_head();
    format!("{seq}:{hash}")
}

/// What the store keeps per indicator (never leaves as is: contributor
/// names are internal).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    /// The shared record, derived from the live contributions.
    indicator: Indicator,
    contributors: BTreeMap<String, Contribution>,
    #[serde(default)]
    removed: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Contribution {
    sector: String,
    disclose_name: bool,
    /// When this participant first contributed: the oldest live contribution leads.
    #[serde(with = "time::serde::rfc3339")]
    first: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last: OffsetDateTime,
    count: u64,
    /// The participant's own sighting, as it last submitted it.
    sighting: Sighting,
}

/// One contributor's own fields of an indicator.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Sighting {
    /// How the value was transformed (pseudonymised...), as this policy did it.
    value_form: Option<String>,
    category: Category,
    confidence: u8,
    tlp: Tlp,
    /// Its earliest sighting (its own `first_seen`, or when it first submitted).
    #[serde(with = "time::serde::rfc3339")]
    first_seen: OffsetDateTime,
    /// Capped at receipt + `expiry.max_days`.
    #[serde(with = "time::serde::rfc3339::option")]
    valid_until: Option<OffsetDateTime>,
    description: Option<String>,
    attributes: BTreeMap<String, String>,
    tags: Vec<String>,
    /// `id@hash` of the policy that sanitised this sighting.
    policy: String,
}

impl Contribution {
    fn live(&self, now: OffsetDateTime) -> bool {
        self.sighting.valid_until.is_none_or(|t| t > now)
    }
}

type Tx<T> = oneshot::Sender<Result<T, String>>;
type CTx<T> = oneshot::Sender<Result<T, CommitError>>;

enum Request {
    Submit(Box<SubmitBatch>, CTx<SubmitOutcome>),
    Audit(AuditEvent, Tx<u64>),
    Retract { participant: String, id: String, tx: CTx<RetractOutcome> },
    Expire { ids: Vec<String>, now: OffsetDateTime, tx: Tx<usize> },
    Policy { id: String, hash: String, text: String, file: String, tx: Tx<()> },
}

impl Request {
    fn fail(self, e: &CommitError) {
        match self {
            Request::Submit(_, tx) => drop(tx.send(Err(e.clone()))),
            Request::Retract { tx, .. } => drop(tx.send(Err(e.clone()))),
            Request::Audit(_, tx) => drop(tx.send(Err(e.to_string()))),
            Request::Expire { tx, .. } => drop(tx.send(Err(e.to_string()))),
            Request::Policy { tx, .. } => drop(tx.send(Err(e.to_string()))),
        }
    }
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

/// How the store is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// The audit anchor file, outside the data directory (`None`: no anchor).
    pub audit_anchor: Option<PathBuf>,
    /// Refuse to open when the chain is behind its anchor (`serve`); the
    /// verification tools open anyway and report it.
    pub refuse_rollback: bool,
    /// Longest validity an indicator may get, from its receipt.
    pub max_validity: time::Duration,
    /// Exit the process when sled cannot recover from a write error in this
    /// process, so that the supervisor restarts it.
    pub exit_on_unrecoverable: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            audit_anchor: None,
            refuse_rollback: false,
            max_validity: time::Duration::days(365),
            exit_on_unrecoverable: true,
        }
    }
}

impl StoreOptions {
    /// The options of a deployment; `serving` for the server itself.
    pub fn for_config(cfg: &crate::config::Config, serving: bool) -> StoreOptions {
        StoreOptions {
            audit_anchor: Some(cfg.audit_anchor.clone()),
            refuse_rollback: serving,
            max_validity: time::Duration::days(cfg.expiry.max_days.max(1) as i64),
            exit_on_unrecoverable: serving,
        }
    }
}

/// Exit status when sled cannot recover from a write error in-process
/// (EX_TEMPFAIL): a supervisor restarts the exchange.
pub const EXIT_UNRECOVERABLE: i32 = 75;

/// How often a failed store re-probes the disk and the database.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Failed database probes, with a working disk, before giving up in-process.
const UNRECOVERABLE_PROBES: u32 = 3;
/// A database probe that takes longer is stuck: after an I/O error sled's
/// `flush()` can wait forever for a buffer that will never be written.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Test hook: makes commits (and recovery probes) fail as on a full disk.
#[doc(hidden)]
#[derive(Default)]
pub struct FailPoint(AtomicU8);

/// What the [`FailPoint`] simulates.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// Normal operation.
    Off = 0,
    /// The write fails before anything is applied (nothing stored).
    BeforeApply = 1,
    /// The batch is applied but the flush fails (outcome unknown).
    AfterApply = 2,
}

impl FailPoint {
    pub fn set(&self, mode: FailMode) {
        self.0.store(mode as u8, Ordering::SeqCst);
    }

    fn mode(&self) -> FailMode {
        match self.0.load(Ordering::SeqCst) {
            1 => FailMode::BeforeApply,
            2 => FailMode::AfterApply,
            _ => FailMode::Off,
        }
    }
}

/// State the writer shares with readers.
struct Shared {
    /// `Some(why)` while the store cannot write.
    failure: Mutex<Option<String>>,
    /// The latest audit record `(seq, hash)`.
    audit_head: Mutex<(u64, String)>,
    fail: FailPoint,
}

/// Keys derived from the storage key.
struct Keys {
    /// HMAC key of the `i/` and `k/` sled keys.
    index: [u8; 32],
    /// HMAC key of the audit anchor.
    anchor: [u8; 32],
}

impl Keys {
    fn derive(storage_key: &[u8; 32]) -> Keys {
        let sub = |label: &[u8]| -> [u8; 32] {
            let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(storage_key).expect("any key length");
            m.update(label);
            m.finalize().into_bytes().into()
        };
        Keys { index: sub(b"tamis/key/index/v1"), anchor: sub(b"tamis/key/audit-anchor/v1") }
    }

    fn hmac_key(&self, prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.index).expect("any key length");
        m.update(prefix);
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        key(prefix, &m.finalize().into_bytes())
    }

    /// The sled key of indicator `id`: an HMAC, so a copy of `data/` cannot
    /// confirm a guessed value (ids are a plain hash of the value).
    fn indicator(&self, id: &str) -> Vec<u8> {
        self.hmac_key(b"i/", &[id.as_bytes()])
    }

    fn idempotency(&self, participant: &str, k: &str) -> Vec<u8> {
        self.hmac_key(b"k/", &[participant.as_bytes(), k.as_bytes()])
    }
}

/// The sled-backed store.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    sealer: Arc<Sealer>,
    keys: Arc<Keys>,
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    head: Arc<AtomicU64>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    changes: tokio::sync::watch::Receiver<u64>,
    shared: Arc<Shared>,
    anchor: Option<Arc<AnchorFile>>,
}

const M_FORMAT: &[u8] = b"m/format";
const M_PROBE: &[u8] = b"m/probe";
const M_LOG_SEQ: &[u8] = b"m/log_seq";
const M_AUDIT_SEQ: &[u8] = b"m/audit_seq";
const M_AUDIT_HEAD: &[u8] = b"m/audit_head";
const M_COUNTERS: &[u8] = b"m/counters";
/// Id of the storage key the values are sealed with (u32, raw; 1 when absent).
const M_KEY_ID: &[u8] = b"m/key_id";
/// A value sealed under the storage key: a wrong key is a clear error at open.
const M_KEY_CHECK: &[u8] = b"m/key_check";
/// Keys whose values are stored raw, not sealed.
const RAW_KEYS: &[&[u8]] = &[M_FORMAT, M_PROBE, M_LOG_SEQ, M_AUDIT_SEQ, M_AUDIT_HEAD, M_KEY_ID];

/// The on-disk format this version writes and reads: 2 = HMAC'd `i/` and
/// `k/` keys, one sighting per contributor, request hashes with idempotency
/// records. Format 1 (tamis 0.1 development builds) has no `m/format`.
const FORMAT: &[u8] = b"tamis-store-2";

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

thread_local! {
    /// Set while [`quietly`] runs: its panics are expected and reported as errors.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into `Err` without the panic message on stderr
/// (sled panics on some corrupt files instead of returning an error).
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info)
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    r
}

/// What opening reads before the writer starts.
struct Opened {
    db: sled::Db,
    tree: sled::Tree,
    key_id: u32,
    log_seq: u64,
    audit_seq: u64,
    audit_head: String,
}

fn open_db(dir: &Path) -> Result<Opened, StoreError> {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(256 * 1024 * 1024)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(Some(500))
        .open()?;
    let tree = db.open_tree("tamis")?;
    match tree.get(M_FORMAT)? {
        Some(v) if v.as_ref() == FORMAT => {}
        Some(v) => {
            return Err(StoreError::Format(format!(
                "{}: store format {:?}, but this tamis reads {:?}; use the tamis version that wrote it",
                dir.display(),
                String::from_utf8_lossy(&v),
                String::from_utf8_lossy(FORMAT)
            )));
        }
        None if tree.first()?.is_none() => {
            tree.insert(M_FORMAT, FORMAT)?;
            db.flush()?;
        }
        None => {
            return Err(StoreError::Format(format!(
                "{} was written by an earlier tamis 0.1 development build (store format 1), which this version \
                 cannot read (indicator keys and records changed). There is no migration for 0.1 development \
                 deployments: move the directory away and start with an empty one",
                dir.display()
            )));
        }
    }
    let key_id = read_key_id(&tree)?;
    let log_seq = read_u64(&tree, M_LOG_SEQ)?;
    let audit_seq = read_u64(&tree, M_AUDIT_SEQ)?;
    let audit_head = match tree.get(M_AUDIT_HEAD)? {
        Some(v) => String::from_utf8_lossy(&v).into_owned(),
        None => GENESIS.to_owned(),
    };
    Ok(Opened { db, tree, key_id, log_seq, audit_seq, audit_head })
}

fn read_key_id(tree: &sled::Tree) -> Result<u32, StoreError> {
    Ok(tree.get(M_KEY_ID)?.and_then(|v| v.as_ref().try_into().ok()).map(u32::from_be_bytes).unwrap_or(1))
}

/// Checks (or, in a new store, writes) the sealed key check value.
fn check_key(dir: &Path, db: &sled::Db, tree: &sled::Tree, sealer: &Sealer) -> Result<(), StoreError> {
    match tree.get(M_KEY_CHECK)? {
        Some(v) => sealer.open(M_KEY_CHECK, &v).map(|_| ()).map_err(|_| {
            StoreError::WrongKey(format!(
                "the storage key does not open {} (its values are sealed under key id {}): wrong keys/storage.key, \
                 or an interrupted `tamis keys rotate` (run it again)",
                dir.display(),
                sealer.key_id()
            ))
        }),
        None => {
            tree.insert(M_KEY_CHECK, sealer.seal(M_KEY_CHECK, b"tamis"))?;
            db.flush()?;
            Ok(())
        }
    }
}

impl SledStore {
    /// Opens (or creates) the database in `dir`, without an audit anchor.
    pub fn open(dir: &Path, storage_key: &[u8; 32]) -> Result<Arc<SledStore>, StoreError> {
        SledStore::open_with(dir, storage_key, StoreOptions { exit_on_unrecoverable: false, ..Default::default() })
    }

    /// Opens (or creates) the database in `dir`.
    pub fn open_with(dir: &Path, storage_key: &[u8; 32], opts: StoreOptions) -> Result<Arc<SledStore>, StoreError> {
        let corrupt = || StoreError::CorruptDirectory(dir.display().to_string());
        let o = match quietly(|| open_db(dir)) {
            Err(_) => return Err(corrupt()),
            Ok(Err(StoreError::Sled(sled::Error::Corruption { .. } | sled::Error::ReportableBug(_)))) => {
                return Err(corrupt());
            }
            Ok(r) => r?,
        };
        let keys = Arc::new(Keys::derive(storage_key));
        let sealer = Arc::new(Sealer::new(storage_key, o.key_id));
        check_key(dir, &o.db, &o.tree, &sealer)?;
        let shared = Arc::new(Shared {
            failure: Mutex::new(None),
            audit_head: Mutex::new((o.audit_seq, o.audit_head.clone())),
            fail: FailPoint::default(),
        });
        // The anchor: checked against the chain, created when absent.
        let mut anchor_ok = false;
        let anchor = match &opts.audit_anchor {
            None => None,
            Some(path) => {
                let file = Arc::new(AnchorFile::new(path.clone(), keys.anchor));
                if let Err(e) = file.prepare() {
                    tracing::warn!(path = %path.display(), error = %e, "cannot create the audit anchor's directory");
                }
                let problem = match file.read() {
                    Err(e) => Some(e),
                    Ok(None) => None,
                    Ok(Some(a)) => {
                        let at = quietly(|| hash_at(&o.tree, &sealer, a.seq)).map_err(|_| corrupt())?;
                        anchor::check(o.audit_seq, at.as_deref(), &a).err()
                    }
                };
                match problem {
                    Some(p) if opts.refuse_rollback => {
                        return Err(StoreError::Rollback(format!(
                            "{p} ({}; anchor {}). Run `tamis audit verify`. If you restored data/ from a backup on \
                             purpose, keep the anchor as evidence and move it aside; the server then starts a new one",
                            dir.display(),
                            path.display()
                        )));
                    }
                    Some(p) => tracing::warn!(problem = %p, "audit anchor does not match the chain; not updating it"),
                    None => {
                        anchor_ok = true;
                        if let Err(e) = file.write(&Anchor { seq: o.audit_seq, hash: o.audit_head.clone() }) {
                            tracing::warn!(path = %path.display(), error = %e, "cannot write the audit anchor");
                        }
                    }
                }
                Some(file)
            }
        };
        let head = Arc::new(AtomicU64::new(o.log_seq));
        let (tx, rx) = mpsc::channel();
        let (changes_tx, changes) = tokio::sync::watch::channel(o.log_seq);
        let writer = Writer {
            changes: changes_tx,
            db: o.db.clone(),
            tree: o.tree.clone(),
            sealer: sealer.clone(),
            keys: keys.clone(),
            head: head.clone(),
            log_seq: o.log_seq,
            audit_seq: o.audit_seq,
            audit_head: o.audit_head,
            shared: shared.clone(),
            anchor: anchor.clone().filter(|_| anchor_ok),
            max_validity: opts.max_validity,
            dir: dir.to_path_buf(),
            exit_on_unrecoverable: opts.exit_on_unrecoverable,
            last_probe: Instant::now(),
            sled_probe_failures: 0,
            sled_stuck: false,
        };
        let handle = std::thread::Builder::new()
            .name("tamis-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Decode(format!("cannot start writer thread: {e}")))?;
        Ok(Arc::new(SledStore {
            db: o.db,
            tree: o.tree,
            sealer,
            keys,
            tx: Mutex::new(Some(tx)),
            head,
            writer: Mutex::new(Some(handle)),
            changes,
            shared,
            anchor,
        }))
    }

    /// Stops the writer after it has committed everything queued, and flushes.
    pub fn close(&self) {
        self.tx.lock().expect("lock").take();
        if let Some(h) = self.writer.lock().expect("lock").take() {
            let _ = h.join();
        }
        // After a write error sled's flush may never return; everything
        // acknowledged was flushed by its own commit.
        if self.shared.failure.lock().expect("lock").is_none() {
            let _ = self.db.flush();
        }
    }

    /// Test hook simulating write failures (a full disk).
    #[doc(hidden)]
    pub fn fail_point(&self) -> &FailPoint {
        &self.shared.fail
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

/// The hash of audit record `seq` (`None` when absent or unreadable).
fn hash_at(tree: &sled::Tree, sealer: &Sealer, seq: u64) -> Option<String> {
    if seq == 0 {
        return Some(GENESIS.to_owned());
    }
    get_sealed::<AuditRecord>(tree, sealer, &seq_key(b"a/", seq)).ok().flatten().map(|r| r.hash)
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
    fn submit(&self, batch: SubmitBatch) -> oneshot::Receiver<Result<SubmitOutcome, CommitError>> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Submit(Box::new(batch), tx));
        rx
    }

    fn audit(&self, event: AuditEvent) -> oneshot::Receiver<Result<u64, String>> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Audit(event, tx));
        rx
    }

    fn retract(&self, participant: &str, id: &str) -> oneshot::Receiver<Result<RetractOutcome, CommitError>> {
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
        Ok(self.get_sealed::<Record>(&self.keys.indicator(id))?.filter(|r| !r.removed).map(|r| r.indicator))
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

    fn health(&self) -> Result<(), String> {
        match &*self.shared.failure.lock().expect("lock") {
            None => Ok(()),
            Some(why) => Err(why.clone()),
        }
    }

    fn audit_head(&self) -> (u64, String) {
        self.shared.audit_head.lock().expect("lock").clone()
    }

    fn verify_audit(&self) -> Result<Verification, StoreError> {
        quietly(|| self.verify_audit_inner())
            .map_err(|_| StoreError::CorruptDirectory("a panic while reading the audit chain".into()))?
    }
}

impl SledStore {
    fn verify_audit_inner(&self) -> Result<Verification, StoreError> {
        // What must be there, read BEFORE the chain: the writer updates the
        // recorded head and the anchor only after the records are written.
        let anchor = self.anchor.as_ref().map(|f| f.read());
        let recorded_seq = read_u64(&self.tree, M_AUDIT_SEQ)?;
        let recorded_head = match self.tree.get(M_AUDIT_HEAD)? {
            Some(h) => String::from_utf8_lossy(&h).into_owned(),
            None => GENESIS.to_owned(),
        };
        let sealer = &self.sealer;
        let iter = self.tree.range(seq_key(b"a/", 0)..seq_key(b"a/", u64::MAX)).map(|item| {
            let (k, v) = item.map_err(|e| (0, e.to_string()))?;
            let seq = u64::from_be_bytes(k[2..].try_into().unwrap_or([0; 8]));
            let plain = sealer.open(&k, &v).map_err(|_| (seq, "does not authenticate (edited on disk)".to_owned()))?;
            serde_json::from_slice::<AuditRecord>(&plain).map_err(|_| (seq, "does not decode".to_owned()))
        });
        let mut v = crate::audit::verify(iter);
        let fail = |v: &mut Verification, seq: u64, problem: String| {
            v.ok = false;
            v.first_bad = Some(crate::audit::BadRecord { seq, problem });
        };
        if v.ok {
            let at = hash_at(&self.tree, sealer, recorded_seq);
            if anchor::check(v.records, at.as_deref(), &Anchor { seq: recorded_seq, hash: recorded_head }).is_err() {
                let seq = v.records + 1;
                fail(&mut v, seq, "records missing at the end of the chain (the recorded head is later)".into());
            }
        }
        match anchor {
            None => {}
            Some(Err(e)) if v.ok => fail(&mut v, 0, e),
            Some(Err(_)) => {}
            Some(Ok(None)) => {}
            Some(Ok(Some(a))) => {
                if v.ok
                    && let Err(e) = anchor::check(v.records, hash_at(&self.tree, sealer, a.seq).as_deref(), &a)
                {
                    let seq = if v.records < a.seq { v.records + 1 } else { a.seq };
                    fail(&mut v, seq, e);
                }
                v.anchor = Some(crate::audit::AnchorInfo {
                    seq: a.seq,
                    hash: a.hash,
                    path: self.anchor.as_ref().map(|f| f.path.display().to_string()).unwrap_or_default(),
                });
            }
        }
        Ok(v)
    }

    /// Checks that audit record `seq` has `hash` (`--expect-head`).
    pub fn check_head(&self, seq: u64, hash: &str) -> Result<(), String> {
        match hash_at(&self.tree, &self.sealer, seq) {
            Some(h) if h == hash => Ok(()),
            Some(_) => {
                Err(format!("the audit record at sequence {seq} is not the expected one (the chain was replaced)"))
            }
            None => Err(format!("rollback or truncation detected: no audit record at sequence {seq}")),
        }
    }
}

/// The single writer: owns the sequence counters and applies group commits.
struct Writer {
    db: sled::Db,
    tree: sled::Tree,
    sealer: Arc<Sealer>,
    keys: Arc<Keys>,
    head: Arc<AtomicU64>,
    log_seq: u64,
    audit_seq: u64,
    audit_head: String,
    /// Announces the new feed head after each commit (blocklist rebuilds...).
    changes: tokio::sync::watch::Sender<u64>,
    shared: Arc<Shared>,
    /// Where the head is anchored, unless the anchor did not match at start.
    anchor: Option<Arc<AnchorFile>>,
    /// Cap of a contribution's `valid_until` after receipt.
    max_validity: time::Duration,
    /// The data directory (disk probes).
    dir: PathBuf,
    /// Exit when sled cannot recover in-process.
    exit_on_unrecoverable: bool,
    /// When the failed store last probed.
    last_probe: Instant,
    /// Consecutive database probes that failed while the disk worked.
    sled_probe_failures: u32,
    /// A database probe never returned: sled is stuck for this process.
    sled_stuck: bool,
}

/// Writes of one group, visible to later requests of the same group before
/// they reach sled.
struct Group<'a> {
    tree: &'a sled::Tree,
    sealer: &'a Sealer,
    keys: &'a Keys,
    max_validity: time::Duration,
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

/// Writes and removes a small file in the data directory, synced: fails
/// while the disk is full.
fn probe_disk(dir: &Path) -> Result<(), String> {
    use std::io::Write;
    let p = dir.join("tamis-probe.tmp");
    let r = std::fs::File::create(&p).and_then(|mut f| {
        f.write_all(&[0u8; 64 * 1024])?;
        f.sync_data()
    });
    let _ = std::fs::remove_file(&p);
    r.map_err(|e| e.to_string())
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
        loop {
            let first = if self.failure().is_some() {
                match rx.recv_timeout(PROBE_INTERVAL) {
                    Ok(r) => Some(r),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match rx.recv() {
                    Ok(r) => Some(r),
                    Err(_) => return,
                }
            };
            if self.failure().is_some() && self.last_probe.elapsed() >= PROBE_INTERVAL {
                self.probe();
            }
            let Some(first) = first else { continue };
            let mut reqs = vec![first];
            while reqs.len() < 256 {
                match rx.try_recv() {
                    Ok(r) => reqs.push(r),
                    Err(_) => break,
                }
            }
            if let Some(why) = self.failure() {
                let e = CommitError::NotStored(format!("store failed: {why}"));
                for r in reqs {
                    r.fail(&e);
                }
                continue;
            }
            self.commit_group(reqs);
        }
    }

    fn failure(&self) -> Option<String> {
        self.shared.failure.lock().expect("lock").clone()
    }

    fn set_failure(&self, why: Option<String>) {
        *self.shared.failure.lock().expect("lock") = why;
    }

    /// Tries the disk, then the database; clears the failure when both work.
    fn probe(&mut self) {
        self.last_probe = Instant::now();
        let disk = match self.shared.fail.mode() {
            FailMode::Off => probe_disk(&self.dir),
            _ => Err("No space left on device (simulated)".to_owned()),
        };
        if let Err(e) = disk {
            self.sled_probe_failures = 0;
            self.set_failure(Some(e));
            return;
        }
        if self.sled_stuck {
            self.set_failure(Some("database: stuck after a write error; restart tamis".into()));
            return;
        }
        // On its own thread: after an I/O error sled's flush may never return.
        let (tx, rx) = mpsc::channel();
        let (tree, db) = (self.tree.clone(), self.db.clone());
        let spawned = std::thread::Builder::new().name("tamis-probe".into()).spawn(move || {
            let stamp = OffsetDateTime::now_utc().unix_timestamp().to_be_bytes();
            let _ =
                tx.send(tree.insert(M_PROBE, &stamp).and_then(|_| db.flush()).map(|_| ()).map_err(|e| e.to_string()));
        });
        let result = match spawned {
            Err(e) => Err(format!("cannot start the probe: {e}")),
            Ok(_) => match rx.recv_timeout(PROBE_TIMEOUT) {
                Ok(r) => r,
                Err(_) => {
                    self.sled_stuck = true;
                    self.sled_probe_failures = UNRECOVERABLE_PROBES;
                    Err("flush does not return after the write error".into())
                }
            },
        };
        match result {
            Ok(()) => {
                // Whatever an unconfirmed group applied is in the tree: go on from there.
                match (read_u64(&self.tree, M_LOG_SEQ), read_u64(&self.tree, M_AUDIT_SEQ), self.tree.get(M_AUDIT_HEAD))
                {
                    (Ok(l), Ok(a), Ok(h)) => {
                        self.log_seq = l;
                        self.audit_seq = a;
                        self.audit_head =
                            h.map(|h| String::from_utf8_lossy(&h).into_owned()).unwrap_or_else(|| GENESIS.to_owned());
                    }
                    _ => return,
                }
                self.sled_probe_failures = 0;
                self.set_failure(None);
                *self.shared.audit_head.lock().expect("lock") = (self.audit_seq, self.audit_head.clone());
                self.head.store(self.log_seq, Ordering::Release);
                let _ = self.changes.send(self.log_seq);
                tracing::warn!("store recovered: writes are accepted again");
            }
            Err(e) => {
                self.sled_probe_failures += 1;
                self.set_failure(Some(format!("database: {e}")));
                if self.sled_probe_failures >= UNRECOVERABLE_PROBES && self.exit_on_unrecoverable {
                    let msg = "the disk accepts writes again but the database cannot recover from the earlier \
                               write error in this process; exiting so that the supervisor restarts tamis \
                               (every acknowledged write is on disk)";
                    tracing::error!(error = %e, code = EXIT_UNRECOVERABLE, "{msg}");
                    eprintln!("tamis: {msg} (exit {EXIT_UNRECOVERABLE})");
                    std::process::exit(EXIT_UNRECOVERABLE);
                }
            }
        }
    }

    fn commit_group(&mut self, reqs: Vec<Request>) {
        let saved = (self.log_seq, self.audit_seq, self.audit_head.clone());
        let mut group = Group {
            tree: &self.tree,
            sealer: &self.sealer,
            keys: &self.keys,
            max_validity: self.max_validity,
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
                    failed = Some(CommitError::Internal(e.to_string()));
                    break;
                }
            }
        }
        let audit_before = self.audit_seq;
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
            let fail = self.shared.fail.mode();
            let written = if fail == FailMode::BeforeApply {
                Err(CommitError::NotStored("No space left on device (simulated)".into()))
            } else {
                match self.tree.apply_batch(batch) {
                    // A failed batch may be partly applied in memory; what
                    // survives a restart is all or nothing.
                    Err(e) => Err(CommitError::Unknown(format!("database: {e}"))),
                    Ok(()) if fail == FailMode::AfterApply => {
                        Err(CommitError::Unknown("No space left on device (simulated)".into()))
                    }
                    Ok(()) => self.db.flush().map(|_| ()).map_err(|e| CommitError::Unknown(format!("database: {e}"))),
                }
            };
            if let Err(e) = written {
                let why = match &e {
                    CommitError::NotStored(w) | CommitError::Unknown(w) | CommitError::Internal(w) => w.clone(),
                };
                self.set_failure(Some(why));
                self.last_probe = Instant::now();
                failed = Some(e);
            }
        }
        if let Some(err) = failed {
            tracing::error!(error = %err, "commit failed; the group is not acknowledged");
            if !matches!(err, CommitError::Unknown(_)) {
                (self.log_seq, self.audit_seq, self.audit_head) = saved;
            }
            for req in reqs {
                req.fail(&err);
            }
            return;
        }
        if self.audit_seq != audit_before {
            *self.shared.audit_head.lock().expect("lock") = (self.audit_seq, self.audit_head.clone());
            if let Some(a) = &self.anchor
                && let Err(e) = a.write(&Anchor { seq: self.audit_seq, hash: self.audit_head.clone() })
            {
                tracing::error!(path = %a.path.display(), error = %e, "cannot update the audit anchor");
            }
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
                (req, _) => req.fail(&CommitError::Internal(MISMATCH.to_owned())),
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

/// Appends a feed entry with `r` as it now is. Callers skip it when the
/// shared record did not change (a hidden contribution came or went:
/// consumers must not notice).
fn log_change(g: &mut Group<'_>, log_seq: &mut u64, op: Op, at: OffsetDateTime, reason: Option<&str>, r: &Record) {
    *log_seq += 1;
    g.log.push(FeedEntry { seq: *log_seq, op, at, reason: reason.map(str::to_owned), indicator: r.indicator.clone() });
}

fn apply_retract(
    g: &mut Group<'_>,
    log_seq: &mut u64,
    participant: &str,
    id: &str,
    now: OffsetDateTime,
) -> Result<RetractOutcome, StoreError> {
    let ik = g.keys.indicator(id);
    let Some(mut r) = g.get::<Record>(&ik)?.filter(|r| !r.removed) else { return Ok(RetractOutcome::NotFound) };
    if r.contributors.remove(participant).is_none() {
        return Ok(RetractOutcome::NotContributor);
    }
    r.contributors.retain(|_, c| c.live(now));
    let removed = r.contributors.is_empty();
    if removed {
        r.removed = true;
        r.indicator.sources = Sources { count: 0, sectors: Vec::new(), names: Vec::new() };
        log_change(g, log_seq, Op::Remove, now, Some("retracted"), &r);
    } else if derive(&mut r, now) {
        log_change(g, log_seq, Op::Update, now, None, &r);
    }
    g.put(ik, &serde_json::to_vec(&r).expect("serialise"));
    Ok(RetractOutcome::Retracted { removed })
}

/// Expires the contributions of the given indicators that ended by `now`:
/// the indicator leaves when none is left, otherwise the next-oldest live
/// contribution leads. Resolves to how many indicators changed.
fn apply_expire(
    g: &mut Group<'_>,
    log_seq: &mut u64,
    ids: &[String],
    now: OffsetDateTime,
) -> Result<usize, StoreError> {
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
        } else {
            derive(&mut r, now);
            log_change(g, log_seq, Op::Update, now, None, &r);
        }
        g.put(ik, &serde_json::to_vec(&r).expect("serialise"));
        n += 1;
    }
    Ok(n)
}

/// What the store keeps under an Idempotency-Key.
#[derive(Serialize, Deserialize)]
struct IdempotencyRecord {
    /// Who used the key, and the key: its sled key is re-derived from them
    /// when the storage key rotates.
    participant: String,
    key: String,
    /// [`request_hash`] of the first request, hex.
    request: String,
    /// Its response.
    response: Vec<u8>,
}

fn apply_submit(g: &mut Group<'_>, log_seq: &mut u64, b: &SubmitBatch) -> Result<SubmitOutcome, StoreError> {
    if let Some((p, k)) = &b.idempotency {
        let ik = g.keys.idempotency(p, k);
        let request = hex::encode(b.request_hash);
        if let Some(stored) = g.get::<IdempotencyRecord>(&ik)? {
            return Ok(if stored.request == request {
                SubmitOutcome::Replayed { response: stored.response }
            } else {
                SubmitOutcome::KeyReused
            });
        }
        let rec = IdempotencyRecord { participant: p.clone(), key: k.clone(), request, response: b.response.clone() };
        g.put(ik, &serde_json::to_vec(&rec).expect("serialise"));
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
    let cap = now + g.max_validity;
    let mut ids = Vec::with_capacity(b.indicators.len());
    for s in &b.indicators {
        let id = indicator_id(s.kind, &s.value);
        let ik = g.keys.indicator(&id);
        let existing: Option<Record> = g.get(&ik)?;
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
        match existing {
            Some(mut r) if !r.removed => {
                r.contributors.retain(|_, c| c.live(now));
                let e = r.contributors.entry(c.participant.clone()).or_insert_with(|| Contribution {
                    sector: c.sector.clone(),
                    disclose_name: c.disclose_name,
                    first: now,
                    last: now,
                    count: 0,
                    sighting: sighting.clone(),
                });
                e.last = now;
                e.count += 1;
                e.disclose_name = c.disclose_name;
                e.sector = c.sector.clone();
                let first_seen = e.sighting.first_seen.min(seen);
                e.sighting = Sighting { first_seen, ..sighting };
                if derive(&mut r, now) {
                    log_change(g, log_seq, Op::Update, now, None, &r);
                }
                g.put(ik, &serde_json::to_vec(&r).expect("serialise"));
            }
            _ => {
                let mut contributors = BTreeMap::new();
                contributors.insert(
                    c.participant.clone(),
                    Contribution {
                        sector: c.sector.clone(),
                        disclose_name: c.disclose_name,
                        first: now,
                        last: now,
                        count: 1,
                        sighting,
                    },
                );
                let r = new_record(id.clone(), s.kind, &s.value, contributors, now);
                log_change(g, log_seq, Op::Add, now, None, &r);
                g.put(ik, &serde_json::to_vec(&r).expect("serialise"));
            }
        }
        ids.push(id);
    }
    Ok(SubmitOutcome::Committed { ids })
}

/// Most tags a contribution keeps.
const MAX_TAGS: usize = 64;

fn new_record(
    id: String,
    kind: IndicatorType,
    value: &str,
    contributors: BTreeMap<String, Contribution>,
    now: OffsetDateTime,
) -> Record {
    let placeholder = Indicator {
        id,
        kind,
        value: value.to_owned(),
        value_form: None,
        category: Category::Other,
        confidence: 0,
        tlp: Tlp::Red,
        first_seen: now,
        last_seen: now,
        valid_until: None,
        description: None,
        attributes: BTreeMap::new(),
        tags: Vec::new(),
        sources: Sources { count: 0, sectors: Vec::new(), names: Vec::new() },
        policy: String::new(),
    };
    let mut r = Record { indicator: placeholder, contributors, removed: false };
    derive(&mut r, now);
    r
}

/// Derives the shared record from the live contributions; true when it
/// changed. The rules (docs/design.md, "Co-submitted indicators"):
///
/// - the **lead** is the oldest live contribution (the originator, or the
///   next-oldest once it is retracted or has expired); its TLP, category,
///   value form, validity, description, attributes, tags and policy are the
///   record's. A co-submitter changes none of them, so it can neither hide
///   the indicator from an audience (a higher TLP, another category, an
///   earlier end) nor rewrite what the originator said.
/// - **corroborating** contributions are the live ones whose TLP is no more
///   restrictive than the lead's. Only they count in `sources`, raise
///   `confidence` (the maximum: a co-submitter can only add audiences, as it
///   could by submitting alone) and widen `first_seen` / `last_seen`. A more
///   restrictive contribution stays invisible, so nothing of a TLP:RED
///   sighting reaches a wider audience, not even its existence.
fn derive(r: &mut Record, now: OffsetDateTime) -> bool {
    let live: Vec<(&String, &Contribution)> = {
        let l: Vec<_> = r.contributors.iter().filter(|(_, c)| c.live(now)).collect();
        if l.is_empty() { r.contributors.iter().collect() } else { l }
    };
    let Some(&(_, lead)) = live.iter().min_by_key(|(name, c)| (c.first, *name)) else { return false };
    let corroborating: Vec<(&String, &Contribution)> =
        live.iter().copied().filter(|(_, c)| c.sighting.tlp <= lead.sighting.tlp).collect();
    let l = &lead.sighting;
    let mut sectors: Vec<String> = corroborating.iter().map(|(_, c)| c.sector.clone()).collect();
    sectors.sort();
    sectors.dedup();
    let derived = Indicator {
        id: r.indicator.id.clone(),
        kind: r.indicator.kind,
        value: r.indicator.value.clone(),
        value_form: l.value_form.clone(),
        category: l.category,
        confidence: corroborating.iter().map(|(_, c)| c.sighting.confidence).max().unwrap_or(l.confidence),
        tlp: l.tlp,
        first_seen: corroborating.iter().map(|(_, c)| c.sighting.first_seen).min().unwrap_or(l.first_seen),
        last_seen: corroborating.iter().map(|(_, c)| c.last).max().unwrap_or(lead.last),
        valid_until: l.valid_until,
        description: l.description.clone(),
        attributes: l.attributes.clone(),
        tags: l.tags.clone(),
        sources: Sources {
            count: corroborating.len() as u32,
            sectors,
            names: corroborating.iter().filter(|(_, c)| c.disclose_name).map(|(n, _)| (*n).clone()).collect(),
        },
        policy: l.policy.clone(),
    };
    let changed = derived != r.indicator;
    r.indicator = derived;
    changed
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
            request_hash: request_hash("application/json", format!("{items:?}").as_bytes()),
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

    fn sighting(value: &str, tlp: crate::model::Tlp, confidence: u8, desc: &str) -> SanitisedIndicator {
        let mut s = sample(IndicatorType::Domain, value);
        s.tlp = tlp;
        s.confidence = confidence;
        s.description = Some(desc.into());
        s.tags = vec![desc.into()];
        s
    }

    async fn commit(store: &SledStore, b: SubmitBatch) -> Vec<String> {
        match store.submit(b).await.unwrap().unwrap() {
            SubmitOutcome::Committed { ids } => ids,
            o => panic!("{o:?}"),
        }
    }

    /// F4: a co-submitter neither rewrites nor hides the originator's
    /// indicator; its own sighting takes over only when the originator's ends.
    #[tokio::test]
    async fn co_submission_keeps_the_originators_fields() {
        use crate::model::Tlp;
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), &[4; 32]).unwrap();
        let mut isp = sighting("c2.example", Tlp::Green, 90, "isp");
        isp.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(1));
        let id = commit(&store, batch("isp-a", vec![isp], None)).await.remove(0);
        let before = store.indicator(&id).unwrap().unwrap();
        let head = store.head();
        let mut red = sighting("c2.example", Tlp::Red, 100, "benign test entry, do not block");
        red.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(30_000));
        red.category = Category::Other;
        commit(&store, batch("bank-a", vec![red], None)).await;
        assert_eq!(store.indicator(&id).unwrap().unwrap(), before, "a hidden co-submission changes nothing");
        assert_eq!(store.head(), head, "and consumers see no change at all");
        assert_eq!(store.retract("bank-a", &id).await.unwrap().unwrap(), RetractOutcome::Retracted { removed: false });
        assert_eq!(store.indicator(&id).unwrap().unwrap(), before);
        assert_eq!(store.head(), head);

        // A corroborating (same TLP) co-submission adds a source and can only raise confidence.
        let mut green = sighting("c2.example", Tlp::Green, 10, "bank");
        green.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(3_000));
        commit(&store, batch("bank-a", vec![green], None)).await;
        let now = store.indicator(&id).unwrap().unwrap();
        assert_eq!((now.tlp, now.confidence, now.sources.count), (Tlp::Green, 90, 2));
        assert_eq!((now.description.as_deref(), now.tags.clone()), (Some("isp"), vec!["isp".to_owned()]));
        assert_eq!(now.valid_until, before.valid_until);
        // valid_until is capped at a year from receipt.
        let rec: Record = store.get_sealed(&store.keys.indicator(&id)).unwrap().unwrap();
        let bank_until = rec.contributors["bank-a"].sighting.valid_until.unwrap();
        assert!(bank_until <= OffsetDateTime::now_utc() + time::Duration::days(366), "{bank_until}");

        // The originator's sighting expires: the next-oldest contribution leads.
        let later = OffsetDateTime::now_utc() + time::Duration::days(2);
        assert_eq!(store.expire(vec![id.clone()], later).await.unwrap().unwrap(), 1);
        let now = store.indicator(&id).unwrap().unwrap();
        assert_eq!((now.description.as_deref(), now.confidence, now.sources.count), (Some("bank"), 10, 1));
        assert_eq!(store.feed(0, 100).unwrap().last().unwrap().op, Op::Update);
    }

    /// The originator retracts: a more restrictive co-submission takes over
    /// at its own TLP, so nothing of it was ever shown more widely.
    #[tokio::test]
    async fn originator_retracts_and_the_next_contribution_leads() {
        use crate::model::Tlp;
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), &[4; 32]).unwrap();
        let id = commit(&store, batch("isp-a", vec![sighting("x.example", Tlp::Green, 90, "isp")], None)).await;
        commit(&store, batch("bank-a", vec![sighting("x.example", Tlp::Red, 40, "bank")], None)).await;
        store.retract("isp-a", &id[0]).await.unwrap().unwrap();
        let now = store.indicator(&id[0]).unwrap().unwrap();
        assert_eq!((now.tlp, now.confidence, now.description.as_deref()), (Tlp::Red, 40, Some("bank")));
        assert_eq!(
            store.retract("bank-a", &id[0]).await.unwrap().unwrap(),
            RetractOutcome::Retracted { removed: true }
        );
        assert!(store.indicator(&id[0]).unwrap().is_none());
    }

    /// F16: the same Idempotency-Key with another request is refused.
    #[tokio::test]
    async fn idempotency_key_reused_with_another_body_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), &[5; 32]).unwrap();
        let a = || batch("bank-a", vec![sample(IndicatorType::Domain, "a.example")], Some("k"));
        commit(&store, a()).await;
        assert!(matches!(store.submit(a()).await.unwrap().unwrap(), SubmitOutcome::Replayed { .. }));
        let b = batch("bank-a", vec![sample(IndicatorType::Domain, "b.example")], Some("k"));
        assert!(matches!(store.submit(b).await.unwrap().unwrap(), SubmitOutcome::KeyReused));
        assert!(store.indicator(&indicator_id(IndicatorType::Domain, "b.example")).unwrap().is_none());
    }

    async fn wait_healthy(store: &SledStore) {
        for _ in 0..100 {
            if store.health().is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the store did not recover: {:?}", store.health());
    }

    /// F7: a failed write marks the store failed, says what happened to the
    /// data, and the store recovers once writes work again.
    #[tokio::test]
    async fn failed_writes_are_reported_and_recovered_from() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), &[6; 32]).unwrap();
        store.fail_point().set(FailMode::BeforeApply);
        let b = || batch("bank-a", vec![sample(IndicatorType::Domain, "full.example")], Some("d1"));
        let e = store.submit(b()).await.unwrap().unwrap_err();
        assert!(matches!(e, CommitError::NotStored(_)) && e.to_string().contains("nothing was stored"), "{e}");
        assert!(store.health().is_err());
        let e = store.submit(b()).await.unwrap().unwrap_err();
        assert!(e.to_string().contains("store failed"), "{e}");
        store.fail_point().set(FailMode::Off);
        wait_healthy(&store).await;
        assert_eq!(store.head(), 0, "nothing was stored");
        commit(&store, b()).await;

        store.fail_point().set(FailMode::AfterApply);
        let c = || batch("bank-a", vec![sample(IndicatorType::Domain, "maybe.example")], Some("d2"));
        let e = store.submit(c()).await.unwrap().unwrap_err();
        assert!(e.to_string().contains("outcome is unknown") && e.to_string().contains("same Idempotency-Key"), "{e}");
        store.fail_point().set(FailMode::Off);
        wait_healthy(&store).await;
        // Applied after all: the retry with the same key replays, nothing twice.
        assert!(matches!(store.submit(c()).await.unwrap().unwrap(), SubmitOutcome::Replayed { .. }));
        commit(&store, batch("isp-a", vec![sample(IndicatorType::Domain, "after.example")], None)).await;
        assert_eq!(store.head(), 3);
        assert!(store.verify_audit().unwrap().ok);
    }

    /// F13: the sled keys do not reveal indicator ids (a hash of the value).
    /// Format: an earlier layout is refused with a clear message.
    #[tokio::test]
    async fn keys_are_hmacs_and_old_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), &[7; 32]).unwrap();
            commit(&store, batch("bank-a", vec![sample(IndicatorType::Domain, "guess.example")], Some("key-1"))).await;
        }
        let id = indicator_id(IndicatorType::Domain, "guess.example");
        let raw = hex::decode(id.replace('-', "")).unwrap();
        for f in walk(dir.path()) {
            let bytes = std::fs::read(&f).unwrap();
            assert!(!bytes.windows(id.len()).any(|w| w == id.as_bytes()), "id in {}", f.display());
            assert!(!bytes.windows(16).any(|w| w == raw.as_slice()), "raw id in {}", f.display());
            assert!(!bytes.windows(5).any(|w| w == b"key-1"), "idempotency key in {}", f.display());
        }
        let old = tempfile::tempdir().unwrap();
        {
            let db = sled::Config::new().path(old.path()).open().unwrap();
            db.open_tree("tamis").unwrap().insert(b"m/log_seq", &[0u8; 8]).unwrap();
            db.flush().unwrap();
        }
        let e = SledStore::open(old.path(), &[7; 32]).err().unwrap().to_string();
        assert!(e.contains("store format 1") && e.contains("no migration"), "{e}");
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
mod bench_parts {
    use super::tests_support::*;
    use super::*;

    #[test]
    #[ignore]
    fn parts() {
        let now = OffsetDateTime::now_utc();
        let recs: Vec<Record> = (0..100_000)
            .map(|i| {
                let s = sample(IndicatorType::Domain, &format!("d{i}.bench.top"));
                let c = Contribution {
                    sector: "finance".into(),
                    disclose_name: false,
                    first: now,
                    last: now,
                    count: 1,
                    sighting: Sighting {
                        value_form: None,
                        category: s.category,
                        confidence: s.confidence,
                        tlp: s.tlp,
                        first_seen: now,
                        valid_until: None,
                        description: None,
                        attributes: Default::default(),
                        tags: s.tags.clone(),
                        policy: "default@0011".into(),
                    },
                };
                new_record(indicator_id(s.kind, &s.value), s.kind, &s.value, [("bank-a".to_owned(), c)].into(), now)
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

/// What `tamis keys rotate` did.
#[derive(Debug)]
pub struct Rotation {
    /// Id of the key the store used before.
    pub old_id: u32,
    /// Id of the new key.
    pub new_id: u32,
    /// Values re-encrypted.
    pub records: usize,
    /// The anchor was re-MAC'd under the new key (it matched the chain).
    pub anchor_rewritten: bool,
}

/// Re-encrypts every value of the store in `dir` under `new_key`, with the
/// next key id, and re-derives the HMAC'd `i/` and `k/` keys, in one atomic
/// batch (the server must be stopped: sled's lock refuses a second opener).
/// Resumable: when a previous run applied the batch but did not install the
/// new key file, `old_key` no longer opens the store and `new_key` does, and
/// this finishes by re-writing the anchor. The audit anchor, when given and
/// valid under the old key, is re-MAC'd under the new one.
pub fn rotate_storage_key(
    dir: &Path,
    old_key: &[u8; 32],
    new_key: &[u8; 32],
    audit_anchor: Option<&Path>,
) -> Result<Rotation, StoreError> {
    let corrupt = || StoreError::CorruptDirectory(dir.display().to_string());
    let o = quietly(|| open_db(dir)).map_err(|_| corrupt())??;
    let (db, tree) = (o.db, o.tree);
    let current = o.key_id;
    // Which key does the store use now?
    let done = Sealer::new(new_key, current);
    let already = tree.get(M_KEY_CHECK)?.is_some_and(|v| done.open(M_KEY_CHECK, &v).is_ok());
    let (old_id, new_id) = if already { (current.saturating_sub(1), current) } else { (current, current + 1) };
    let old_keys = Keys::derive(old_key);
    let new_keys = Keys::derive(new_key);
    let mut records = 0;
    if !already {
        check_key(dir, &db, &tree, &Sealer::new(old_key, old_id))?;
        let old = Sealer::new(old_key, old_id);
        let new = Sealer::new(new_key, new_id);
        let mut batch = sled::Batch::default();
        for item in tree.iter() {
            let (k, v) = item?;
            if RAW_KEYS.contains(&k.as_ref()) {
                continue;
            }
            let plain = old.open(&k, &v)?;
            let nk = if k.starts_with(b"i/") {
                let r: Record = serde_json::from_slice(&plain).map_err(|e| StoreError::Decode(e.to_string()))?;
                new_keys.indicator(&r.indicator.id)
            } else if k.starts_with(b"k/") {
                let r: IdempotencyRecord =
                    serde_json::from_slice(&plain).map_err(|e| StoreError::Decode(e.to_string()))?;
                new_keys.idempotency(&r.participant, &r.key)
            } else {
                k.to_vec()
            };
            if nk.as_slice() != k.as_ref() {
                batch.remove(k.clone());
            }
            batch.insert(nk.clone(), new.seal(&nk, &plain));
            records += 1;
        }
        batch.insert(M_KEY_ID, &new_id.to_be_bytes());
        quietly(|| tree.apply_batch(batch).and_then(|()| db.flush().map(|_| ()))).map_err(|_| corrupt())??;
    }
    let mut anchor_rewritten = false;
    if let Some(path) = audit_anchor {
        let old_anchor = AnchorFile::new(path.to_path_buf(), old_keys.anchor);
        let new_anchor = AnchorFile::new(path.to_path_buf(), new_keys.anchor);
        if new_anchor.read().ok().flatten().is_some() {
            anchor_rewritten = true;
        } else if let Ok(Some(a)) = old_anchor.read() {
            new_anchor.write(&a).map_err(|e| StoreError::Decode(format!("cannot rewrite the audit anchor: {e}")))?;
            anchor_rewritten = true;
        }
    }
    Ok(Rotation { old_id, new_id, records, anchor_rewritten })
}
