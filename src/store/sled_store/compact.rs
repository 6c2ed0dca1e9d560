//! Compaction of the sled store's feed log
//! ([`Store::compact`](crate::store::Store::compact)), on a blocking thread
//! beside the writer, never through it: the writer only ever adds blobs
//! above the head, and compaction only rewrites or deletes blobs at or below
//! it, so the two never touch the same key.
//!
//! A pass reads every blob up to the head into the shared
//! [`Planner`](crate::store::rules::compact::Planner), raises the horizon
//! (in memory, then in the first batch), then rewrites each blob holding a
//! planned entry (under its own key, sealed again) or deletes it when
//! nothing of it is left, [`BATCH_BLOBS`] blobs per sled batch.

use std::sync::atomic::Ordering;

use time::OffsetDateTime;

use super::reads::Reader;
use super::tree::db;
use crate::store::rules::compact::Planner;
use crate::store::rules::keys::{M_FEED_HORIZON, seq_key, unseal};
use crate::store::{Compaction, FeedEntry, StoreError};

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
        let mut planner = Planner::new(older_than, self.horizon.load(Ordering::Acquire));
        for item in self.tree.range(seq_key(b"l/", 0)..=seq_key(b"l/", head)) {
            let (k, v) = item.map_err(db)?;
            let blob: Vec<FeedEntry> = unseal(&self.sealer, &k, &v)?;
            blob.iter().filter(|e| e.seq <= head).for_each(|e| planner.see(e));
        }
        let plan = planner.finish();
        let done = plan.summary();
        if plan.drop.is_empty() {
            return Ok(done);
        }
        // Raised before any removal goes: a feed read checks it after reading.
        self.horizon.fetch_max(plan.horizon, Ordering::AcqRel);
        let mut batch = sled::Batch::default();
        batch.insert(M_FEED_HORIZON, &self.horizon.load(Ordering::Acquire).to_be_bytes()[..]);
        let mut in_batch = 1;
        let mut blobs = self.tree.range(seq_key(b"l/", 0)..=seq_key(b"l/", head)).peekable();
        let mut next = 0; // the first planned entry not handled yet
        while let Some(item) = blobs.next() {
            if next == plan.drop.len() {
                break;
            }
            let (k, v) = item.map_err(db)?;
            let end = match blobs.peek() {
                Some(Ok((n, _))) => seq_of(n),
                _ => u64::MAX,
            };
            let until = next + plan.drop[next..].partition_point(|s| *s < end);
            if until == next {
                continue;
            }
            next = until;
            let blob: Vec<FeedEntry> = unseal(&self.sealer, &k, &v)?;
            let kept: Vec<FeedEntry> = blob.into_iter().filter(|e| plan.drop.binary_search(&e.seq).is_err()).collect();
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
        Ok(done)
    }
}
