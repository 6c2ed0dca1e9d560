//! One group commit of the sled store: apply every request of the group
//! with the shared rules ([`rules::commit`](crate::store::rules::commit)),
//! chain the audit records, write the group's records, the feed blobs and
//! the counters in one atomic sled batch, flush and fsync once, then answer.

use std::sync::atomic::Ordering;
use std::time::Instant;

use time::OffsetDateTime;

use super::records::{self, RecordWrites, TreeSource};
use super::writer::{FailMode, Writer, simulated_full_disk};
use crate::audit::AuditRecord;
use crate::store::anchor::Anchor;
use crate::store::rules::commit::{Applied, Group, apply};
use crate::store::rules::keys::{M_AUDIT_HEAD, M_AUDIT_SEQ, M_LOG_SEQ, M_REC_SEQ, seq_key};
use crate::store::rules::request::Request;
use crate::store::{Fault, FeedEntry, StoreError};

/// Most bytes of JSON in one stored feed blob (several entries per sled
/// value: one write per blob instead of one per entry). Kept small: sled
/// splits a leaf above 16 items whatever their size, so the blob size sets
/// the size of the log's leaves, and a cold read of the log (a feed
/// catch-up from the start) leaves many of the leaves it pulls in memory
/// beyond sled's cache (accesses are charged to the cache's 256 shards in
/// blocks of 64, so up to 63 leaves a shard are not yet counted, hence
/// never evicted): 1 GiB read back cold with a 64 MiB cache left 652 MiB
/// resident in 6 KiB values, 305 MiB in 2 KiB ones (docs/performance.md).
/// Values or leaves over 128 KiB are separate blob files sled never
/// evicts at all (512-entry blobs of ~220 KiB kept every feed blob read or
/// written in memory).
const LOG_BLOB_BYTES: usize = 2 * 1024;

impl Writer {
    /// Applies, writes and flushes a group, then answers every request.
    pub(super) fn commit_group(&mut self, reqs: Vec<Request>) {
        let saved = (self.log_seq, self.audit_seq, self.audit_head.clone());
        let now = OffsetDateTime::now_utc();
        let source = TreeSource { tree: self.tree.clone(), index: self.index.clone() };
        let mut group = Group::new(Box::new(source), self.sealer.clone(), self.keys.clone(), self.max_validity);
        let mut applied = Vec::with_capacity(reqs.len());
        let mut pending = reqs.into_iter();
        let mut result = Ok(());
        for req in pending.by_ref() {
            match apply(&mut group, &mut self.log_seq, req, now) {
                Ok(a) => applied.push(a),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let audit_before = self.audit_seq;
        let log = std::mem::take(&mut group.log);
        if result.is_ok() {
            self.chain_audit(&mut group, &mut applied, now);
            result = self.write_group(group, &log);
        }
        if let Err(e) = result {
            tracing::error!(error = %e, "commit failed; the group is not acknowledged");
            if !matches!(e, StoreError::OutcomeUnknown(_)) {
                (self.log_seq, self.audit_seq, self.audit_head) = saved;
            }
            applied.into_iter().for_each(|a| a.fail(&e));
            pending.for_each(|r| r.fail(&e));
            return;
        }
        // Durable: the followers may read the entries from memory, before
        // the head that makes them readable moves.
        self.recent.push(saved.0, self.log_seq, log);
        self.publish(self.audit_seq != audit_before);
        applied.into_iter().for_each(Applied::answer);
    }

    /// Audit records, in request order, after the data they describe.
    fn chain_audit(&mut self, g: &mut Group, applied: &mut [Applied], now: OffsetDateTime) {
        for a in applied.iter_mut() {
            let Some(event) = a.audit.take() else { continue };
            self.audit_seq += 1;
            let rec = AuditRecord::chain(self.audit_seq, now, &self.audit_head, event);
            self.audit_head = rec.hash.clone();
            g.put_json(seq_key(b"a/", self.audit_seq), &rec);
            a.audit_seq = self.audit_seq;
        }
    }

    /// Writes the group in one atomic batch and flushes it; a failure marks
    /// the store failed and says whether anything may have been applied.
    fn write_group(&mut self, g: Group, log: &[FeedEntry]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        // Every value sealed once, here, under the key it is stored at.
        let mut records = RecordWrites::new(&self.tree, &self.index, &self.sealer, self.rec_seq);
        for (k, v) in g.overlay {
            if k.starts_with(b"i/") {
                records.write(&mut batch, &k, v.as_deref())?;
                continue;
            }
            match v {
                Some(plain) => {
                    let sealed = self.sealer.seal(&k, &plain);
                    batch.insert(k, sealed)
                }
                None => batch.remove(k),
            }
        }
        let (rec_seq, changes) = records.finish(&mut batch);
        if rec_seq != self.rec_seq {
            batch.insert(M_REC_SEQ, &rec_seq.to_be_bytes()[..]);
        }
        // The log, in blobs keyed by their first sequence number: a JSON
        // array of entries, at most LOG_BLOB_BYTES unless one entry is more.
        let mut blob: Vec<u8> = Vec::with_capacity(LOG_BLOB_BYTES + 1024);
        let mut first = 0;
        for e in log {
            let json = serde_json::to_vec(e).expect("serialise");
            if !blob.is_empty() && blob.len() + json.len() + 2 > LOG_BLOB_BYTES {
                blob.push(b']');
                let k = seq_key(b"l/", first);
                batch.insert(k.clone(), self.sealer.seal(&k, &blob));
                blob.clear();
            }
            if blob.is_empty() {
                first = e.seq;
                blob.push(b'[');
            } else {
                blob.push(b',');
            }
            blob.extend_from_slice(&json);
        }
        if !blob.is_empty() {
            blob.push(b']');
            let k = seq_key(b"l/", first);
            batch.insert(k.clone(), self.sealer.seal(&k, &blob));
        }
        batch.insert(M_LOG_SEQ, &self.log_seq.to_be_bytes()[..]);
        batch.insert(M_AUDIT_SEQ, &self.audit_seq.to_be_bytes()[..]);
        batch.insert(M_AUDIT_HEAD, self.audit_head.as_bytes());
        let database = |e: sled::Error| Fault::described(format!("database: {e}"));
        let fail = self.shared.fail.mode();
        // `Err((why, maybe_applied))`: a failed batch may be partly applied
        // in memory; what survives a restart is all or nothing.
        let written = if fail == FailMode::BeforeApply {
            Err((simulated_full_disk(), false))
        } else {
            match self.tree.apply_batch(batch) {
                Err(e) => Err((database(e), true)),
                Ok(()) if fail == FailMode::AfterApply => Err((simulated_full_disk(), true)),
                Ok(()) => self.db.flush().map_err(|e| (database(e), true)).and_then(|_| {
                    self.disk.sync().map_err(|e| (Fault::described(format!("database sync: {e}")), true))
                }),
            }
        };
        let Err((why, maybe_applied)) = written else {
            self.rec_seq = rec_seq;
            records::apply(&self.index, changes);
            return Ok(());
        };
        self.set_failure(Some(why.clone()));
        self.last_probe = Instant::now();
        Err(if maybe_applied { StoreError::OutcomeUnknown(why) } else { StoreError::NotStored(why) })
    }

    /// The group is on disk: moves the audit head (and its anchor) and the
    /// feed head, and wakes the followers.
    fn publish(&mut self, audited: bool) {
        if audited {
            *self.shared.audit_head.lock().expect("lock") = (self.audit_seq, self.audit_head.clone());
            if let Some(a) = &self.anchor
                && let Err(e) = a.write(&Anchor { seq: self.audit_seq, hash: self.audit_head.clone() })
            {
                tracing::error!(path = %a.path.display(), error = %e, "cannot update the audit anchor");
            }
        }
        self.head.store(self.log_seq, Ordering::Release);
        let _ = self.changes.send(self.log_seq);
    }
}
