//! The embedded backend: one sled database in the data directory.
//!
//! Writes go through a single writer thread doing group commit
//! ([`writer`], [`commit`]) with the rules both backends share
//! ([`rules`](super::rules)): a request is acknowledged only after its data
//! and its audit record are flushed and fsync'd ([`durable`]), so neither
//! `kill -9` nor a power cut at any moment loses anything acknowledged. Reads ([`reads`]) run on tokio's blocking threads.
//! One sled tree holds the whole keyspace
//! ([`rules::keys`](super::rules::keys)); indicator records are kept in
//! allocation order, found through an in-memory HMAC index ([`records`],
//! store format 4).

mod commit;
mod compact;
mod durable;
mod open;
mod reads;
mod recent;
mod records;
mod rotate;
mod settle;
#[cfg(test)]
mod tests;
mod tree;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::crypto::Sealer;
use super::rules::keys::{Keys, M_FEED_HORIZON};
use super::rules::request::{Reply, Request};
use super::{
    Compaction, Counters, DirectoryEntry, Fault, FeedEntry, FeedbackReport, PolicyLoad, PolicyVersion, Retracted,
    Reviewed, SightingBatch, SightingStatus, Store, StoreError, StoreFuture, SubmitBatch, SubmitOutcome,
};
use crate::audit::{AuditEvent, AuditRecord, Verification};
use crate::directory::Contact;
use reads::Reader;
pub use rotate::{Rotation, rotate_storage_key};
use tree::quietly;
pub use writer::{EXIT_UNRECOVERABLE, FailMode, FailPoint};
use writer::{Shared, Writer};

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
    /// PostgreSQL: the CA (PEM) of the database server's certificate; set,
    /// every connection is TLS and verified (`[store] ca`).
    pub db_ca: Option<PathBuf>,
    /// PostgreSQL: how long opening waits for a database it cannot reach
    /// yet (`[store] wait_at_start_secs`).
    pub db_wait: std::time::Duration,
    /// sled: the page cache's capacity in bytes (`[store] cache_mib`).
    pub cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            audit_anchor: None,
            refuse_rollback: false,
            max_validity: time::Duration::days(365),
            exit_on_unrecoverable: true,
            db_ca: None,
            db_wait: std::time::Duration::ZERO,
            cache_bytes: crate::config::DEFAULT_CACHE_MIB << 20,
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
            db_ca: cfg.store.ca.clone(),
            // the tools (verify, keys) answer at once; the server waits
            db_wait: std::time::Duration::from_secs(if serving { cfg.store.wait_at_start_secs } else { 0 }),
            cache_bytes: cfg.store.cache_mib << 20,
        }
    }
}

/// The sled-backed store.
pub struct SledStore {
    db: sled::Db,
    reader: Reader,
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    head: Arc<AtomicU64>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    changes: tokio::sync::watch::Receiver<u64>,
    shared: Arc<Shared>,
    /// One clone per read in progress on a blocking thread (each holds the
    /// database open): `close` waits for them.
    reads: Arc<()>,
}

/// Longest `close` waits for reads in progress.
const CLOSE_READS_TIMEOUT: Duration = Duration::from_secs(5);

impl SledStore {
    /// Opens (or creates) the database in `dir`, without an audit anchor.
    pub fn open(dir: &Path, storage_key: &[u8; 32]) -> Result<Arc<SledStore>, StoreError> {
        SledStore::open_with(dir, storage_key, StoreOptions { exit_on_unrecoverable: false, ..Default::default() })
    }

    /// Opens (or creates) the database in `dir` and starts its writer.
    pub fn open_with(dir: &Path, storage_key: &[u8; 32], opts: StoreOptions) -> Result<Arc<SledStore>, StoreError> {
        let mut o = quietly(|| open::open_db(dir, opts.cache_bytes))
            .map_err(|_| StoreError::CorruptDirectory(dir.into()))??;
        let keys = Arc::new(Keys::derive(storage_key));
        let sealer = Arc::new(Sealer::new(storage_key, o.key_id));
        open::check_key(dir, &o.db, &o.tree, &sealer)?;
        open::migrate(dir, &mut o, &sealer)?;
        let index: records::Index = Arc::new(std::sync::RwLock::new(
            quietly(|| records::load_index(&o.tree)).map_err(|_| StoreError::CorruptDirectory(dir.into()))??,
        ));
        let anchor = open::open_anchor(dir, &o, &sealer, keys.anchor, &opts)?;
        let shared = Arc::new(Shared {
            failure: Mutex::new(None),
            audit_head: Mutex::new((o.audit_seq, o.audit_head.clone())),
            fail: FailPoint::default(),
        });
        let disk = durable::DiskSync::open(dir).map_err(|e| StoreError::Database(Fault::new(e)))?;
        let head = Arc::new(AtomicU64::new(o.log_seq));
        let (tx, rx) = mpsc::channel();
        let (changes_tx, changes) = tokio::sync::watch::channel(o.log_seq);
        let recent = Arc::new(recent::Recent::new(o.log_seq));
        let reader = Reader {
            tree: o.tree.clone(),
            sealer: sealer.clone(),
            keys: keys.clone(),
            index: index.clone(),
            anchor: anchor.as_ref().map(|(f, _)| f.clone()),
            dir: dir.to_path_buf(),
            horizon: Arc::new(AtomicU64::new(tree::read_u64(&o.tree, M_FEED_HORIZON)?)),
            recent: recent.clone(),
            last_pass: Arc::new(Mutex::new(None)),
            settle: Arc::new(settle::Settle::new(opts.cache_bytes)),
        };
        let writer = Writer {
            changes: changes_tx,
            db: o.db.clone(),
            disk,
            tree: o.tree,
            sealer,
            keys,
            head: head.clone(),
            recent,
            log_seq: o.log_seq,
            rec_seq: o.rec_seq,
            index,
            audit_seq: o.audit_seq,
            audit_head: o.audit_head,
            shared: shared.clone(),
            anchor: anchor.and_then(|(f, matches)| matches.then_some(f)),
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
            .map_err(|e| StoreError::Start(Fault::new(e)))?;
        Ok(Arc::new(SledStore {
            db: o.db,
            reader,
            tx: Mutex::new(Some(tx)),
            head,
            writer: Mutex::new(Some(handle)),
            changes,
            shared,
            reads: Arc::new(()),
        }))
    }

    /// Stops the writer after it has committed everything queued, waits for
    /// the reads in progress (a dropped request's read still runs to its
    /// end, holding the database open), and flushes.
    pub fn close(&self) {
        self.tx.lock().expect("lock").take();
        if let Some(h) = self.writer.lock().expect("lock").take() {
            let _ = h.join();
        }
        let since = Instant::now();
        while Arc::strong_count(&self.reads) > 1 && since.elapsed() < CLOSE_READS_TIMEOUT {
            std::thread::sleep(Duration::from_millis(1));
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

    /// Checks that audit record `seq` has `hash` (`--expect-head`).
    pub fn check_head(&self, seq: u64, hash: &str) -> Result<(), String> {
        self.reader.check_head(seq, hash)
    }

    /// Sends a request to the writer; the answer arrives on its own channel
    /// (a closed store drops the request, and the caller sees `Closed`).
    fn write<T: Send + 'static>(&self, request: impl FnOnce(Reply<T>) -> Request) -> StoreFuture<'_, T> {
        let (tx, rx) = oneshot::channel();
        if let Some(writer) = self.tx.lock().expect("lock").as_ref() {
            let _ = writer.send(request(tx));
        }
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }

    /// Runs a blocking read on tokio's blocking threads.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let (reader, token) = (self.reader.clone(), self.reads.clone());
        Box::pin(async move {
            let read = move || {
                let r = f(&reader);
                // After cold reads of the log: a thread settles sled's cache
                // once they stop (`settle`), holding the database open like
                // a read (`close` waits for it).
                if reader.settle.claim() {
                    let (settle, tree, token) = (reader.settle.clone(), reader.tree.clone(), token.clone());
                    let spawned = std::thread::Builder::new().name("tamis-settle".into()).spawn(move || {
                        settle.run(tree);
                        drop(token);
                    });
                    if spawned.is_err() {
                        reader.settle.release();
                    }
                }
                drop((reader, token));
                r
            };
            match tokio::task::spawn_blocking(read).await {
                Ok(r) => r,
                Err(e) if e.is_cancelled() => Err(StoreError::Closed),
                Err(_) => Err(StoreError::Panicked),
            }
        })
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.close();
    }
}

impl Store for SledStore {
    fn submit(&self, batch: SubmitBatch) -> StoreFuture<'_, SubmitOutcome> {
        self.write(|tx| Request::Submit(Box::new(batch), tx))
    }

    fn retract(&self, participant: &str, id: &str) -> StoreFuture<'_, Retracted> {
        let (participant, id) = (participant.to_owned(), id.to_owned());
        self.write(|tx| Request::Retract { participant, id, tx })
    }

    fn expire(&self, ids: Vec<String>, now: OffsetDateTime) -> StoreFuture<'_, usize> {
        self.write(|tx| Request::Expire { ids, now, tx })
    }

    fn put_directory(&self, participant: &str, contacts: Vec<Contact>) -> StoreFuture<'_, DirectoryEntry> {
        let participant = participant.to_owned();
        self.write(|tx| Request::Directory { participant, contacts, tx })
    }

    fn directory(&self) -> StoreFuture<'_, Vec<DirectoryEntry>> {
        self.read(|r| r.directory())
    }

    fn lookup_bucket(&self, prefix: &str, now: OffsetDateTime) -> StoreFuture<'_, Vec<String>> {
        let prefix = prefix.to_owned();
        self.read(move |r| r.lookup_bucket(&prefix, now))
    }

    fn sightings(&self, batch: SightingBatch) -> StoreFuture<'_, Vec<SightingStatus>> {
        self.write(|tx| Request::Sightings(batch, tx))
    }

    fn confirm(&self, participant: &str, id: &str) -> StoreFuture<'_, Reviewed> {
        let (participant, id) = (participant.to_owned(), id.to_owned());
        self.write(|tx| Request::Review { participant, id, tx })
    }

    fn feedback(&self, participant: &str) -> StoreFuture<'_, Vec<FeedbackReport>> {
        let participant = participant.to_owned();
        self.read(move |r| r.feedback(&participant))
    }

    fn cursor(&self, name: &str) -> StoreFuture<'_, Option<u64>> {
        let name = name.to_owned();
        self.read(move |r| r.cursor(&name))
    }

    fn save_cursor(&self, name: &str, seq: u64) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        self.read(move |r| r.save_cursor(&name, seq))
    }

    fn lease(&self, _name: &str, _holder: &str, _ttl: Duration) -> StoreFuture<'_, bool> {
        // One process per data directory (sled's lock): it holds every lease.
        Box::pin(async { Ok(true) })
    }

    fn audit(&self, event: AuditEvent) -> StoreFuture<'_, u64> {
        self.write(|tx| Request::Audit(event, tx))
    }

    fn record_policy(&self, load: PolicyLoad) -> StoreFuture<'_, ()> {
        self.write(|tx| Request::Policy(load, tx))
    }

    fn feed(&self, since: u64, limit: usize) -> StoreFuture<'_, Vec<FeedEntry>> {
        // Only what was published before the read starts: the reader looks
        // up the blob holding `since + 1`, then the blobs after it, and a
        // commit landing between the two lookups would otherwise show its
        // later blob without the earlier one (a follower would skip entries).
        let head = self.head();
        self.read(move |r| r.feed(since, limit, head, true))
    }

    fn feed_kept(&self, since: u64, limit: usize) -> StoreFuture<'_, Vec<FeedEntry>> {
        let head = self.head();
        self.read(move |r| r.feed(since, limit, head, false))
    }

    fn compact(&self, older_than: OffsetDateTime) -> StoreFuture<'_, Compaction> {
        // Up to the head published now: later entries are not final yet.
        let (head, db) = (self.head(), self.db.clone());
        self.read(move |r| r.compact(&db, older_than, head))
    }

    fn audit_log(&self, after: u64, limit: usize) -> StoreFuture<'_, Vec<AuditRecord>> {
        self.read(move |r| r.audit_log(after, limit))
    }

    fn verify_audit(&self) -> StoreFuture<'_, Verification> {
        self.read(|r| r.verify_audit())
    }

    fn policy_versions(&self) -> StoreFuture<'_, Vec<PolicyVersion>> {
        self.read(|r| r.policy_versions())
    }

    fn counters(&self) -> StoreFuture<'_, Counters> {
        self.read(|r| r.counters())
    }

    fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.clone()
    }

    fn health(&self) -> Result<(), Fault> {
        match &*self.shared.failure.lock().expect("lock") {
            None => Ok(()),
            Some(why) => Err(why.clone()),
        }
    }

    fn audit_head(&self) -> (u64, String) {
        self.shared.audit_head.lock().expect("lock").clone()
    }
}
