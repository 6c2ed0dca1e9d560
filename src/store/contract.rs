//! The store contract: what the API, the feeds and the expiry task may rely
//! on, whatever the backend (the embedded sled store today, PostgreSQL for
//! many nodes next). Every request is answered on its own, asynchronously;
//! a backend does its own blocking work off the async threads.

use std::future::Future;
use std::pin::Pin;

use time::OffsetDateTime;
use tokio::sync::watch;

use super::error::{Fault, StoreError};
use super::types::{
    Compaction, Counters, DirectoryEntry, FeedEntry, FeedbackReport, PolicyLoad, PolicyVersion, Retracted, Reviewed,
    SightingBatch, SightingStatus, SubmitBatch, SubmitOutcome,
};
use crate::audit::{AuditEvent, AuditRecord, Verification};
use crate::directory::Contact;

/// The answer to one store request. Boxed so that `dyn Store` works: the
/// exchange holds its backend as `Arc<dyn Store>`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Storage of sanitised indicators, the feed log, the audit chain and
/// idempotency records.
///
/// Guarantees every backend gives:
///
/// - **Durability.** A write that resolves to `Ok` is on stable storage with
///   its audit record: a crash (`kill -9`, a node loss) after it loses
///   nothing. `Err(OutcomeUnknown)` may or may not have been applied; every
///   other write error means nothing was applied.
/// - **Atomicity.** A submission, retraction, expiry or policy load is
///   applied whole with its audit record, its feed entries, its counters and
///   its idempotency record, or not at all.
/// - **Feed order and cursor.** Feed entries have strictly increasing
///   sequence numbers. `feed(since, _)` returns entries with `seq > since` in
///   order, and once an entry with sequence `n` has been returned, no entry
///   with a sequence `<= n` ever appears later: a follower that resumes from
///   the last `seq` it saw misses nothing. A backend with concurrent writers
///   (PostgreSQL) must only expose a prefix that no late commit can extend
///   below.
/// - **Compaction and resynchronisation.** The log is compacted
///   ([`Store::compact`]): an entry followed by a removal of the same
///   indicator is dropped at once, and a removal (a tombstone) once it is
///   older than the retention. Sequence numbers never change, so `feed`
///   may skip numbers (gaps). The store remembers its *horizon*, the
///   highest sequence number whose removal was dropped: `feed(since, _)`
///   with `0 < since < horizon` is [`StoreError::Compacted`] (the follower
///   may have missed a removal and must start again from 0), checked after
///   the read so that a pass running meanwhile cannot hide a removal.
///   `feed(0, _)` always answers: the live set and the recent removals, so
///   a follower from 0 and one that resumed above the horizon converge to
///   the same set.
/// - **Head and changes.** `head()` is the highest sequence number `feed` can
///   return; `changes()` moves after every commit (audit-only commits too),
///   never before the commit is readable.
/// - **Idempotency.** A submission with an Idempotency-Key is applied at most
///   once per participant and key: a retry with the same request replays the
///   first response; the key with another request is
///   [`StoreError::IdempotencyMismatch`] and changes nothing.
/// - **Audit chain.** Audit records form one hash chain, appended in commit
///   order with sequence numbers 1, 2, 3… without gaps, whichever node or
///   request appended them; `verify_audit` re-checks it end to end.
/// - **Confidentiality at rest.** Values are sealed by tamis before the
///   backend sees them ([`crypto`](super::crypto)); keys that could confirm a
///   guessed indicator are keyed hashes.
pub trait Store: Send + Sync + 'static {
    /// Commits a submission.
    fn submit(&self, batch: SubmitBatch) -> StoreFuture<'_, SubmitOutcome>;

    /// Withdraws `participant`'s contribution to indicator `id`; the
    /// indicator leaves when it was the last one.
    fn retract(&self, participant: &str, id: &str) -> StoreFuture<'_, Retracted>;

    /// Ends the contributions of the given indicators that expired by `now`
    /// (the next-oldest live contribution leads, or the indicator leaves with
    /// reason `expired`); resolves to how many indicators changed.
    /// Idempotent: an indicator renewed since, or already gone, is skipped,
    /// so several nodes may expire the same ids.
    fn expire(&self, ids: Vec<String>, now: OffsetDateTime) -> StoreFuture<'_, usize>;

    /// Replaces `participant`'s contact points in the directory, with an
    /// audit record of the change (who, how many; not the contents).
    fn put_directory(&self, participant: &str, contacts: Vec<Contact>) -> StoreFuture<'_, DirectoryEntry>;

    /// Every participant's published contact points, by participant name.
    fn directory(&self) -> StoreFuture<'_, Vec<DirectoryEntry>>;

    /// The private-lookup outputs (hex) in bucket `prefix` (the first
    /// `lookup::PREFIX_HEX` hex digits, lower case) that are in the set at
    /// `now`: their indicator is live, not withdrawn, not TLP:RED and not
    /// past its `valid_until`. Sorted.
    fn lookup_bucket(&self, prefix: &str, now: OffsetDateTime) -> StoreFuture<'_, Vec<String>>;

    /// Records consumers' sightings and false-positive reports, with one
    /// audit record; a false positive meeting the batch's rule withdraws
    /// the indicator from blocklists in the same commit (a feed entry marked
    /// `withdrawn`). Resolves to each report's status, in order.
    fn sightings(&self, batch: SightingBatch) -> StoreFuture<'_, Vec<SightingStatus>>;

    /// `participant`, a contributor of indicator `id`, confirms it after
    /// false-positive reports: they are cleared and a withdrawn indicator is
    /// back on blocklists. [`StoreError::NotFound`] for anyone else.
    fn confirm(&self, participant: &str, id: &str) -> StoreFuture<'_, Reviewed>;

    /// The sightings and false positives on the indicators `participant`
    /// contributed (reporters by sector).
    fn feedback(&self, participant: &str) -> StoreFuture<'_, Vec<FeedbackReport>>;

    /// The feed position a named consumer (a webhook delivery) saved last
    /// with [`Store::save_cursor`]; `None` before its first save.
    fn cursor(&self, name: &str) -> StoreFuture<'_, Option<u64>>;

    /// Saves a named consumer's feed position (PostgreSQL: committed; sled:
    /// flushed, outside the writer's fdatasync'd group commit, so a power cut
    /// may lose the last save). Not part of any commit: a consumer saves
    /// after it has delivered, so a lost save or a crash in between means a
    /// redelivery, never a gap.
    fn save_cursor(&self, name: &str, seq: u64) -> StoreFuture<'_, ()>;

    /// Takes or renews the lease `name` for `holder` for `ttl`: true while
    /// `holder` holds it (it was free, expired, or already `holder`'s). Nodes
    /// sharing a database run a singleton job (a webhook delivery) on one
    /// node at a time; the embedded store has one process, which always
    /// holds every lease.
    fn lease(&self, name: &str, holder: &str, ttl: std::time::Duration) -> StoreFuture<'_, bool>;

    /// Appends an audit event; resolves to its sequence number.
    fn audit(&self, event: AuditEvent) -> StoreFuture<'_, u64>;

    /// Records that a policy version was loaded (registry and audit).
    fn record_policy(&self, load: PolicyLoad) -> StoreFuture<'_, ()>;

    /// Feed entries after `since`, at most `limit`, in sequence order;
    /// [`StoreError::Compacted`] when `0 < since <` the compaction horizon.
    fn feed(&self, since: u64, limit: usize) -> StoreFuture<'_, Vec<FeedEntry>>;

    /// The entries still kept after `since`, at most `limit`, without the
    /// horizon check: for reading entries back by sequence number (TAXII
    /// objects), never for following the feed.
    fn feed_kept(&self, since: u64, limit: usize) -> StoreFuture<'_, Vec<FeedEntry>>;

    /// One compaction pass of the feed log: drops the entries followed by a
    /// removal of the same indicator and the removals committed before
    /// `older_than` (the oldest prefix of the log), in bounded batches that
    /// never hold the writer; raises the horizon first. The audit chain is
    /// never compacted.
    fn compact(&self, older_than: OffsetDateTime) -> StoreFuture<'_, Compaction>;

    /// Audit records after `after`, at most `limit`.
    fn audit_log(&self, after: u64, limit: usize) -> StoreFuture<'_, Vec<AuditRecord>>;

    /// Re-checks the whole audit chain (and its anchor).
    fn verify_audit(&self) -> StoreFuture<'_, Verification>;

    /// Every policy version ever loaded.
    fn policy_versions(&self) -> StoreFuture<'_, Vec<PolicyVersion>>;

    /// Non-personal counters (removals, submissions per week).
    fn counters(&self) -> StoreFuture<'_, Counters>;

    /// The latest readable feed sequence number.
    fn head(&self) -> u64;

    /// Watches the feed head: changes after every commit.
    fn changes(&self) -> watch::Receiver<u64>;

    /// `Err(why)` while the store cannot write (for `/readyz`).
    fn health(&self) -> Result<(), Fault>;

    /// The latest audit record: `(seq, hash)`, for `X-Tamis-Audit-Head`.
    fn audit_head(&self) -> (u64, String);
}

/// The `X-Tamis-Audit-Head` header value: `SEQ:HASH` of the latest audit record.
pub fn audit_head_header(store: &dyn Store) -> String {
    let (seq, hash) = store.audit_head();
    format!("{seq}:{hash}")
}

/// Runs a store request to completion outside the server, for the offline
/// commands (`tamis audit verify`, `tamis report`...). Must not be called
/// from inside an async runtime.
pub fn offline<T>(request: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts")
        .block_on(request)
}
