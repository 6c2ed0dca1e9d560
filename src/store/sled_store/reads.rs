//! Reads of the sled store. They are blocking (sled reads from disk); the
//! [`Store`](crate::store::Store) implementation runs them on tokio's
//! blocking threads, so async callers just await.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::tree::{db, get_sealed, hash_at, quietly, read_u64};
use crate::audit::{AuditRecord, GENESIS, Verification};
use crate::store::anchor::{self, Anchor, AnchorFile};
use crate::store::crypto::Sealer;
use crate::store::rules::keys::{
    Keys, M_AUDIT_HEAD, M_AUDIT_SEQ, M_COUNTERS, M_FEEDBACK, decode_error, key, lookup_bucket_key, seq_key, unseal,
};
use crate::store::rules::record::{LookupEntry, Record, report_for};
use crate::store::{Counters, DirectoryEntry, FeedEntry, FeedbackReport, PolicyVersion, StoreError};

/// What reads need: cheap to clone onto a blocking thread.
#[derive(Clone)]
pub(super) struct Reader {
    pub(super) tree: sled::Tree,
    pub(super) sealer: Arc<Sealer>,
    /// The indicator keys.
    pub(super) keys: Arc<Keys>,
    /// Where the indicator records are (HMAC → sequence).
    pub(super) index: super::records::Index,
    pub(super) anchor: Option<Arc<AnchorFile>>,
    /// The data directory, to name it in errors.
    pub(super) dir: PathBuf,
    /// The feed's compaction horizon (`m/feed_horizon`), raised by
    /// compaction before it drops anything.
    pub(super) horizon: Arc<AtomicU64>,
    /// The feed's recent entries, decoded (the writer's hand-over).
    pub(super) recent: Arc<super::recent::Recent>,
    /// What the last compaction pass of this process saw (one pass at a
    /// time: the lock is held for the whole pass).
    pub(super) last_pass: Arc<std::sync::Mutex<Option<super::compact::LastPass>>>,
    /// Cold reads of the log, to settle sled's cache after them.
    pub(super) settle: Arc<super::settle::Settle>,
}

impl Reader {
    /// The recent entries held in memory when they cover the whole range
    /// asked for, else [`Reader::kept`]; then (`checked`) the horizon: read
    /// after the entries, so that a compaction pass that dropped a removal
    /// this read missed has raised it already.
    pub(super) fn feed(
        &self,
        since: u64,
        limit: usize,
        head: u64,
        checked: bool,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let entries = match self.recent.get(since, limit, head) {
            Some(shared) => shared.iter().map(|e| FeedEntry::clone(e)).collect(),
            None => self.kept(since, limit, head)?,
        };
        let horizon = self.horizon.load(Ordering::Acquire);
        if checked && since > 0 && since < horizon {
            return Err(StoreError::Compacted { since, horizon });
        }
        Ok(entries)
    }

    /// Entries `since < seq <= head` still in the log, at most `limit`.
    /// Every entry up to `head` was committed before `head` was published,
    /// so the two range lookups below both see them; later ones are left
    /// for the next read. A blob is keyed by the sequence number of its
    /// first entry when written; compaction may drop entries from it (gaps)
    /// but never moves one to another blob.
    pub(super) fn kept(&self, since: u64, limit: usize, head: u64) -> Result<Vec<FeedEntry>, StoreError> {
        let first = seq_key(b"l/", since.saturating_add(1));
        let mut out = Vec::with_capacity(limit.min(1024));
        // The blob holding `since + 1` starts at or before it; the rest follow.
        let holding = self.tree.range(seq_key(b"l/", 0)..=first.clone()).next_back().transpose().map_err(db)?;
        let after = self.tree.range(seq_key(b"l/", since.saturating_add(2))..seq_key(b"l/", u64::MAX));
        for item in holding.into_iter().map(Ok).chain(after) {
            let (k, v) = item.map_err(db)?;
            self.settle.read_cold(v.len() as u64);
            let blob: Vec<FeedEntry> = unseal(&self.sealer, &k, &v)?;
            for e in blob {
                if e.seq > head {
                    return Ok(out);
                }
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

    /// The current state of an indicator (`None` when absent or removed).
    #[cfg(test)]
    pub(super) fn indicator(&self, id: &str) -> Result<Option<crate::model::Indicator>, StoreError> {
        Ok(self.record(id)?.filter(|r| !r.removed).map(|r| r.indicator))
    }

    /// The record of indicator `id`, through the in-memory index.
    pub(super) fn record(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let ikey = self.keys.indicator(id);
        super::records::get(&self.tree, &self.index, &self.sealer, &ikey)?
            .map(|plain| serde_json::from_slice(&plain).map_err(|e| decode_error(&ikey, e)))
            .transpose()
    }

    pub(super) fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let start = seq_key(b"a/", after.saturating_add(1));
        let mut out = Vec::new();
        for item in self.tree.range(start..seq_key(b"a/", u64::MAX)).take(limit) {
            let (k, v) = item.map_err(db)?;
            out.push(unseal(&self.sealer, &k, &v)?);
        }
        Ok(out)
    }

    pub(super) fn policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(b"p/") {
            let (k, v) = item.map_err(db)?;
            out.push(unseal(&self.sealer, &k, &v)?);
        }
        Ok(out)
    }

    pub(super) fn directory(&self) -> Result<Vec<DirectoryEntry>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(b"d/") {
            let (k, v) = item.map_err(db)?;
            out.push(unseal(&self.sealer, &k, &v)?);
        }
        Ok(out)
    }

    /// A named consumer's saved feed position (`c/<name>`).
    pub(super) fn cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let k = key(b"c/", name.as_bytes());
        self.tree.get(&k).map_err(db)?.map(|v| unseal(&self.sealer, &k, &v)).transpose()
    }

    /// Saves a named consumer's feed position and flushes it. Outside the
    /// writer: it belongs to no commit, and sled takes concurrent inserts.
    pub(super) fn save_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        let k = key(b"c/", name.as_bytes());
        let sealed = self.sealer.seal(&k, seq.to_string().as_bytes());
        self.tree.insert(k, sealed).map_err(db)?;
        self.tree.flush().map_err(db)?;
        Ok(())
    }

    pub(super) fn lookup_bucket(&self, prefix: &str, now: time::OffsetDateTime) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(lookup_bucket_key(prefix)) {
            let (k, v) = item.map_err(db)?;
            let e: LookupEntry = unseal(&self.sealer, &k, &v)?;
            if e.member_at(now) {
                out.push(e.output);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The feedback on `participant`'s indicators: the ids with feedback,
    /// then each record.
    pub(super) fn feedback(&self, participant: &str) -> Result<Vec<FeedbackReport>, StoreError> {
        let ids: std::collections::BTreeSet<String> =
            get_sealed(&self.tree, &self.sealer, M_FEEDBACK)?.unwrap_or_default();
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.record(&id)?.and_then(|r| report_for(&r, participant)));
        }
        Ok(out)
    }

    pub(super) fn counters(&self) -> Result<Counters, StoreError> {
        Ok(get_sealed(&self.tree, &self.sealer, M_COUNTERS)?.unwrap_or_default())
    }

    /// Re-checks the whole chain, its recorded head and its anchor; sled
    /// panics on some corrupt files, reported as a corrupt directory.
    pub(super) fn verify_audit(&self) -> Result<Verification, StoreError> {
        quietly(|| self.verify_audit_inner()).map_err(|_| StoreError::CorruptDirectory(self.dir.clone()))?
    }

    fn verify_audit_inner(&self) -> Result<Verification, StoreError> {
        // What must be there, read BEFORE the chain: the writer updates the
        // recorded head and the anchor only after the records are written.
        let anchor = self.anchor.as_ref().map(|f| f.read());
        let recorded_seq = read_u64(&self.tree, M_AUDIT_SEQ)?;
        let recorded_head = match self.tree.get(M_AUDIT_HEAD).map_err(db)? {
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
        if v.ok {
            let at = hash_at(&self.tree, sealer, recorded_seq);
            if anchor::check(v.records, at.as_deref(), &Anchor { seq: recorded_seq, hash: recorded_head }).is_err() {
                let seq = v.records + 1;
                fail(&mut v, seq, "records missing at the end of the chain (the recorded head is later)".into());
            }
        }
        match anchor {
            None | Some(Ok(None)) => {}
            Some(Err(e)) if v.ok => fail(&mut v, 0, e),
            Some(Err(_)) => {}
            Some(Ok(Some(a))) => self.check_anchor(&mut v, a),
        }
        Ok(v)
    }

    /// Compares a verified chain with the anchor and reports the anchor.
    fn check_anchor(&self, v: &mut Verification, a: Anchor) {
        if v.ok
            && let Err(e) = anchor::check(v.records, hash_at(&self.tree, &self.sealer, a.seq).as_deref(), &a)
        {
            let seq = if v.records < a.seq { v.records + 1 } else { a.seq };
            fail(v, seq, e);
        }
        v.anchor = Some(crate::audit::AnchorInfo {
            seq: a.seq,
            hash: a.hash,
            path: self.anchor.as_ref().map(|f| f.path.display().to_string()).unwrap_or_default(),
        });
    }

    /// Checks that audit record `seq` has `hash` (`--expect-head`).
    pub(super) fn check_head(&self, seq: u64, hash: &str) -> Result<(), String> {
        match hash_at(&self.tree, &self.sealer, seq) {
            Some(h) if h == hash => Ok(()),
            Some(_) => {
                Err(format!("the audit record at sequence {seq} is not the expected one (the chain was replaced)"))
            }
            None => Err(format!("rollback or truncation detected: no audit record at sequence {seq}")),
        }
    }
}

fn fail(v: &mut Verification, seq: u64, problem: String) {
    v.ok = false;
    v.first_bad = Some(crate::audit::BadRecord { seq, problem });
}
