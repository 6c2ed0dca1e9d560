//! Compaction of the sled store's feed log
//! ([`Store::compact`](crate::store::Store::compact)), on a blocking thread
//! beside the writer, never through it: the writer only ever adds blobs
//! above the head, and compaction only rewrites or deletes blobs at or below
//! it, so the two never touch the same key.
//!
//! A pass reads every blob up to the head into the shared
//! [`Planner`](crate::store::rules::compact::Planner) (parsing only the
//! fields a plan depends on: sequence, operation, time and indicator id),
//! raises the horizon (in memory, then in the first batch), then rewrites
//! each blob holding a planned entry (under its own key, sealed again) or
//! deletes it when nothing of it is left, [`BATCH_BLOBS`] blobs per sled
//! batch, and drops the same entries from the recent entries in memory.
//!
//! Only a removal makes anything droppable. So when the last pass of this
//! process kept no removal and the writer has committed none since (it
//! tracks them as it hands its entries over, [`recent`](super::recent)),
//! a pass has nothing to drop and answers without reading the log: the
//! entries it would have scanned are those the last pass kept plus every
//! sequence number committed since (the writer's entries are numbered
//! without gaps).

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use time::OffsetDateTime;

use super::reads::Reader;
use super::tree::db;
use crate::store::rules::compact::Planner;
use crate::store::rules::keys::{M_FEED_HORIZON, decode_error, seq_key, unseal};
use crate::store::{Compaction, FeedEntry, Op, StoreError};

/// What the last pass of this process saw.
#[derive(Clone, Copy, Debug)]
pub(super) struct LastPass {
    /// The head it read up to.
    head: u64,
    /// Entries it left in the log up to `head`.
    kept: u64,
    /// Removals it left in the log.
    tombstones: u64,
}

/// The fields of a feed entry a plan depends on.
#[derive(Deserialize)]
struct Planned<'a> {
    seq: u64,
    op: Op,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    #[serde(borrow)]
    indicator: PlannedIndicator<'a>,
}

#[derive(Deserialize)]
struct PlannedIndicator<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// Most blobs rewritten or deleted in one sled batch (≤ 2 KiB each).
const BATCH_BLOBS: usize = 128;

/// The sequence number in an `l/` key.
fn seq_of(k: &[u8]) -> u64 {
    k.get(2..10).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).unwrap_or(u64::MAX)
}

impl Reader {
    /// One pass over the entries up to `head`.
    pub(super) fn compact(
        &self,
        database: &sled::Db,
        older_than: OffsetDateTime,
        head: u64,
    ) -> Result<Compaction, StoreError> {
        let mut last = self.last_pass.lock().expect("lock");
        if let Some(p) = last.take() {
            let tail = self.recent.tail();
            if p.tombstones == 0
                && p.head <= head
                && head <= tail.to
                && tail.tracked_from <= p.head
                && tail.last_removal <= p.head
            {
                let kept = p.kept + (head - p.head);
                *last = Some(LastPass { head, kept, tombstones: 0 });
                let horizon = self.horizon.load(Ordering::Acquire);
                return Ok(Compaction { scanned: kept, dropped: 0, tombstones: 0, horizon });
            }
        }
        let done = self.pass(database, older_than, head)?;
        *last = Some(LastPass { head, kept: done.scanned - done.dropped, tombstones: done.tombstones });
        Ok(done)
    }

    /// A pass that reads the log.
    pub(super) fn pass(
        &self,
        database: &sled::Db,
        older_than: OffsetDateTime,
        head: u64,
    ) -> Result<Compaction, StoreError> {
        let mut planner = Planner::new(older_than, self.horizon.load(Ordering::Acquire));
        for item in self.tree.range(seq_key(b"l/", 0)..=seq_key(b"l/", head)) {
            let (k, v) = item.map_err(db)?;
            let plain = self.sealer.open(&k, &v)?;
            let blob: Vec<Planned<'_>> = serde_json::from_slice(&plain).map_err(|e| decode_error(&k, e))?;
            for e in blob.iter().filter(|e| e.seq <= head) {
                planner.see_parts(e.seq, e.op, e.at, &e.indicator.id);
            }
        }
        let plan = planner.finish();
        let done = plan.summary();
        if plan.drop.is_empty() {
            return Ok(done);
        }
        let written = self.drop_planned(database, &plan.drop, plan.horizon, head);
        match &written {
            Ok(()) => self.recent.forget(&plan.drop),
            Err(_) => self.recent.clear(),
        }
        written.map(|()| done)
    }

    /// Removes the planned entries from the log, the horizon first.
    fn drop_planned(&self, database: &sled::Db, drop: &[u64], horizon: u64, head: u64) -> Result<(), StoreError> {
        // Raised before any removal goes: a feed read checks it after reading.
        self.horizon.fetch_max(horizon, Ordering::AcqRel);
        let mut batch = sled::Batch::default();
        batch.insert(M_FEED_HORIZON, &self.horizon.load(Ordering::Acquire).to_be_bytes()[..]);
        let mut in_batch = 1;
        let mut blobs = self.tree.range(seq_key(b"l/", 0)..=seq_key(b"l/", head)).peekable();
        let mut next = 0; // the first planned entry not handled yet
        while let Some(item) = blobs.next() {
            if next == drop.len() {
                break;
            }
            let (k, v) = item.map_err(db)?;
            let end = match blobs.peek() {
                Some(Ok((n, _))) => seq_of(n),
                _ => u64::MAX,
            };
            let until = next + drop[next..].partition_point(|s| *s < end);
            if until == next {
                continue;
            }
            next = until;
            let blob: Vec<FeedEntry> = unseal(&self.sealer, &k, &v)?;
            let kept: Vec<FeedEntry> = blob.into_iter().filter(|e| drop.binary_search(&e.seq).is_err()).collect();
            if kept.is_empty() {
                batch.remove(k);
            } else {
                let json = serde_json::to_vec(&kept).expect("serialise");
                batch.insert(k.clone(), self.sealer.seal(&k, &json));
            }
            in_batch += 1;
            if in_batch >= BATCH_BLOBS {
                self.tree.apply_batch(std::mem::take(&mut batch)).map_err(db)?;
                in_batch = 0;
            }
        }
        if in_batch > 0 {
            self.tree.apply_batch(batch).map_err(db)?;
        }
        database.flush().map_err(db)?;
        Ok(())
    }
}
