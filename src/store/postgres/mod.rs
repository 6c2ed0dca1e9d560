//! The PostgreSQL backend: many stateless `tamis serve` nodes on one
//! database, behind one load balancer.
//!
//! **What the database holds** ([`schema`]): the same keyed, sealed records
//! as the sled store (`tamis_kv`: indicators under HMAC'd keys, idempotency
//! records, policy versions, counters), the feed (`tamis_feed`, one sealed
//! entry per sequence number), the audit chain (`tamis_audit`, sealed) and
//! one `tamis_head` row. Every value is sealed by tamis before it is sent
//! ([`crypto`](super::crypto)): the database never sees an indicator value
//! or a participant's data in clear. The rules that change records are
//! shared with the sled store ([`apply`](super::rules::commit::apply)), so
//! both backends answer the same way.
//!
//! **Why one row lock** ([`writer`]). Every write transaction starts by
//! locking the single `tamis_head` row (`SELECT ... FOR UPDATE`), which
//! holds the next feed sequence number and the audit chain head; it
//! allocates its sequence numbers from it, writes, updates the row and
//! commits. Commits are therefore serialized in sequence order: a
//! transaction only gets the row after the previous holder's commit is
//! visible, so whatever prefix of the feed a reader sees is final, and a
//! follower resuming from the last sequence number it saw can never miss an
//! entry that commits later with a lower one (the sequence-gap problem of
//! concurrent writers, which `bigserial` columns have). The same lock gives
//! one audit chain across nodes, appended in commit order without gaps, and
//! makes idempotency keys, retractions and expiry consistent across nodes
//! (records are read after the lock is taken). The cost is one writer at a
//! time across the cluster; each node keeps it cheap by group commit (every
//! request pending on the node goes in one transaction, one round of
//! inserts with `unnest`).
//!
//! **How nodes learn of each other's commits** ([`watch`]). Every commit
//! sends `pg_notify('tamis_changes', head)` inside its transaction (delivered
//! at commit). A task per node `LISTEN`s on its own connection and also
//! polls the head row every [`watch::POLL`], then moves `head()`,
//! `changes()` and the audit head; blocklist builders and feed followers
//! wake on `changes()` as with sled. The same task tells `health()` when the
//! database is unreachable and reconnects by itself.
//!
//! The connection is plain TCP unless `[store] ca` names the CA of the
//! database's certificate: then every connection is TLS (rustls, ring),
//! verified like libpq's `verify-full` (`conn::target`). The
//! backend runs its own small tokio runtime on a dedicated thread, so it
//! opens and closes synchronously like the sled store, from inside or
//! outside an async context.

mod compact;
mod conn;
mod reads;
mod schema;
mod watch;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::anchor::AnchorFile;
use super::crypto::Sealer;
use super::rules::keys::Keys;
use super::rules::request::{Reply, Request};
use super::{
    Compaction, Counters, DirectoryEntry, Fault, FeedEntry, FeedbackReport, PolicyLoad, PolicyVersion, Retracted,
    Reviewed, SightingBatch, SightingStatus, Store, StoreError, StoreFuture, StoreOptions, SubmitBatch, SubmitOutcome,
};
use crate::audit::{AuditEvent, AuditRecord, Verification};
use crate::directory::Contact;

/// Longest `close` waits for the backend's thread.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// State the store's tasks share.
pub(crate) struct Shared {
    /// Where to connect (with the timeouts set) and how (TLS or not).
    pub(crate) config: conn::Target,
    /// The database, as errors name it (never its password).
    pub(crate) name: String,
    pub(crate) sealer: Arc<Sealer>,
    pub(crate) keys: Arc<Keys>,
    pub(crate) max_validity: time::Duration,
    /// The latest feed sequence number known committed.
    pub(crate) head: AtomicU64,
    /// The latest audit record known committed, `(seq, hash)`.
    pub(crate) audit_head: Mutex<(u64, String)>,
    /// `Some(why)` while the database is unreachable.
    pub(crate) failure: Mutex<Option<Fault>>,
    /// Moves after every commit this node makes or hears of.
    pub(crate) changes: tokio::sync::watch::Sender<u64>,
    /// Where the audit head is anchored, unless the anchor did not match at open.
    pub(crate) anchor: Option<Arc<AnchorFile>>,
    /// The anchor file even when it did not match (verification reports it).
    pub(crate) anchor_file: Option<Arc<AnchorFile>>,
    /// The connection reads use, opened again when it breaks.
    pub(crate) reader: tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>,
}

impl Shared {
    pub(crate) fn set_failure(&self, why: Option<Fault>) {
        let mut f = self.failure.lock().expect("lock");
        match (&*f, &why) {
            (None, Some(w)) => tracing::error!(database = %self.name, error = %w, "database unreachable"),
            (Some(_), None) => tracing::warn!(database = %self.name, "database reachable again"),
            _ => {}
        }
        *f = why;
    }

    /// A commit is known (`ours`, or another node's seen by the watcher):
    /// moves the heads and the anchor, and wakes the followers (after every
    /// commit of ours, as the contract says; on the watcher's news only when
    /// something moved).
    pub(crate) fn publish(&self, log_seq: u64, audit: (u64, String), ours: bool) {
        let moved = {
            // Held while the anchor is written: the writer and the watcher
            // both publish, and the anchor must only move forward.
            let mut head = self.audit_head.lock().expect("lock");
            let moved = audit.0 > head.0;
            if moved {
                *head = audit.clone();
                if let Some(a) = &self.anchor {
                    let anchor = super::anchor::Anchor { seq: audit.0, hash: audit.1 };
                    if let Err(e) = a.write(&anchor) {
                        tracing::error!(path = %a.path.display(), error = %e, "cannot update the audit anchor");
                    }
                }
            }
            moved
        };
        let previous = self.head.fetch_max(log_seq, Ordering::AcqRel);
        if ours || moved || log_seq > previous {
            let _ = self.changes.send(log_seq.max(previous));
        }
    }
}

/// The PostgreSQL-backed store.
pub struct PgStore {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    tx: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    changes: tokio::sync::watch::Receiver<u64>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    done: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl PgStore {
    /// Connects to the database at `url` (creating the schema when absent),
    /// checks the storage key and the audit anchor, and starts the writer and
    /// the watcher on the backend's own thread. Fails when the database is
    /// unreachable now; once open, the store waits for it to come back.
    pub fn open(url: &str, storage_key: &[u8; 32], opts: StoreOptions) -> Result<Arc<PgStore>, StoreError> {
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let (url, key) = (url.to_owned(), *storage_key);
        let thread = std::thread::Builder::new()
            .name("tamis-postgres".into())
            .spawn(move || run_backend(url, key, opts, opened_tx, done_tx))
            .map_err(|e| StoreError::Start(Fault::new(e)))?;
        let (shared, runtime, tx) = opened_rx.recv().map_err(|_| StoreError::Panicked)??;
        Ok(Arc::new(PgStore {
            changes: shared.changes.subscribe(),
            shared,
            runtime,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            done: Mutex::new(Some(done_rx)),
        }))
    }

    /// Stops the writer after it has committed everything queued, then the
    /// watcher; reads still in progress answer `Closed`.
    pub fn close(&self) {
        self.tx.lock().expect("lock").take();
        if let Some(done) = self.done.lock().expect("lock").take()
            && done.recv_timeout(CLOSE_TIMEOUT).is_err()
        {
            tracing::warn!("the PostgreSQL backend did not stop in time");
            return;
        }
        if let Some(t) = self.thread.lock().expect("lock").take() {
            let _ = t.join();
        }
    }

    /// Checks that audit record `seq` has `hash` (`--expect-head`).
    pub fn check_head(&self, seq: u64, hash: &str) -> Result<(), String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (shared, hash) = (self.shared.clone(), hash.to_owned());
        self.runtime.spawn(async move {
            let _ = tx.send(reads::check_head(&shared, seq, &hash).await);
        });
        rx.recv().unwrap_or_else(|_| Err("the store is closed".to_owned()))
    }

    fn write<T: Send + 'static>(&self, request: impl FnOnce(Reply<T>) -> Request) -> StoreFuture<'_, T> {
        let (tx, rx) = oneshot::channel();
        if let Some(writer) = self.tx.lock().expect("lock").as_ref() {
            let _ = writer.send(request(tx));
        }
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }

    /// Runs a read on the backend's runtime.
    fn read<T, F>(&self, f: impl FnOnce(Arc<Shared>) -> F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let task = self.runtime.spawn(f(self.shared.clone()));
        Box::pin(async move {
            match task.await {
                Ok(r) => r,
                Err(e) if e.is_cancelled() => Err(StoreError::Closed),
                Err(_) => Err(StoreError::Panicked),
            }
        })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// What the backend's thread hands back once open.
type Opened = Result<(Arc<Shared>, tokio::runtime::Handle, mpsc::UnboundedSender<Request>), StoreError>;

/// The backend's thread: its runtime opens the store, then runs the writer
/// until every sender is gone, then stops the watcher.
fn run_backend(
    url: String,
    key: [u8; 32],
    opts: StoreOptions,
    opened: std::sync::mpsc::Sender<Opened>,
    done: std::sync::mpsc::Sender<()>,
) {
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = opened.send(Err(StoreError::Start(Fault::new(e))));
            return;
        }
    };
    rt.block_on(async move {
        let shared = match schema::open(&url, &key, &opts).await {
            Ok(s) => Arc::new(s),
            Err(e) => {
                let _ = opened.send(Err(e));
                return;
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(watch::run(shared.clone(), stop_rx));
        if opened.send(Ok((shared.clone(), tokio::runtime::Handle::current(), tx))).is_err() {
            return;
        }
        writer::run(shared, rx).await;
        let _ = stop_tx.send(true);
        let _ = watcher.await;
    });
    drop(rt);
    let _ = done.send(());
}

impl Store for PgStore {
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
        self.read(|s| async move { reads::directory(&s).await })
    }

    fn lookup_bucket(&self, prefix: &str, now: OffsetDateTime) -> StoreFuture<'_, Vec<String>> {
        let prefix = prefix.to_owned();
        self.read(move |s| async move { reads::lookup_bucket(&s, &prefix, now).await })
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
        self.read(move |s| async move { reads::feedback(&s, &participant).await })
    }

    fn cursor(&self, name: &str) -> StoreFuture<'_, Option<u64>> {
        let name = name.to_owned();
        self.read(move |s| async move { reads::cursor(&s, &name).await })
    }

    fn save_cursor(&self, name: &str, seq: u64) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        self.read(move |s| async move { reads::save_cursor(&s, &name, seq).await })
    }

    fn lease(&self, name: &str, holder: &str, ttl: std::time::Duration) -> StoreFuture<'_, bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.read(move |s| async move { reads::lease(&s, &name, &holder, ttl).await })
    }

    fn audit(&self, event: AuditEvent) -> StoreFuture<'_, u64> {
        self.write(|tx| Request::Audit(event, tx))
    }

    fn record_policy(&self, load: PolicyLoad) -> StoreFuture<'_, ()> {
        self.write(|tx| Request::Policy(load, tx))
    }

    fn feed(&self, since: u64, limit: usize) -> StoreFuture<'_, Vec<FeedEntry>> {
        self.read(move |s| async move { reads::feed(&s, since, limit, true).await })
    }

    fn feed_kept(&self, since: u64, limit: usize) -> StoreFuture<'_, Vec<FeedEntry>> {
        self.read(move |s| async move { reads::feed(&s, since, limit, false).await })
    }

    fn compact(&self, older_than: OffsetDateTime) -> StoreFuture<'_, Compaction> {
        let head = self.head();
        self.read(move |s| async move { compact::pass(&s, older_than, head).await })
    }

    fn audit_log(&self, after: u64, limit: usize) -> StoreFuture<'_, Vec<AuditRecord>> {
        self.read(move |s| async move { reads::audit_log(&s, after, limit).await })
    }

    fn verify_audit(&self) -> StoreFuture<'_, Verification> {
        self.read(|s| async move { reads::verify_audit(&s).await })
    }

    fn policy_versions(&self) -> StoreFuture<'_, Vec<PolicyVersion>> {
        self.read(|s| async move { reads::policy_versions(&s).await })
    }

    fn counters(&self) -> StoreFuture<'_, Counters> {
        self.read(|s| async move { reads::counters(&s).await })
    }

    fn head(&self) -> u64 {
        self.shared.head.load(Ordering::Acquire)
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
