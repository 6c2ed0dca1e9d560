//! Where the sled store keeps indicator records (store format 3).
//!
//! The shared rules address an indicator by its logical key `i/<hmac(id)>`
//! ([`Keys::indicator`](crate::store::rules::keys::Keys::indicator)). Format
//! 2 stored the record under that key: uniformly random keys, so once the
//! records outgrew sled's cache every new indicator paged in a cold leaf
//! and every group commit dirtied ~1,000 distinct leaves (the rate fell
//! from ~47k/s to ~8k/s: docs/performance.md). Format 3 stores it in
//! allocation order instead:
//!
//! - `r/<seq>` → the record, sealed with `r/<seq>` *and* the first 16
//!   bytes of its HMAC as associated data (a record opens only as the
//!   indicator it was written for); new records are appended to the hot
//!   right edge of the tree;
//! - `y/<seq>` → those 16 bytes of the HMAC (raw: an HMAC tells nothing
//!   without `storage.key`), also appended in order.
//!
//! The index HMAC → sequence lives in memory ([`Index`], ~40 bytes an
//! indicator), loaded from `y/` at open (a sequential scan), so finding an
//! indicator, and above all learning that a new one is not stored, reads
//! nothing from sled, and no write goes to a random place in the tree:
//! every write of a new indicator lands in the right-most leaves, however
//! many are stored. `m/rec_seq` (raw) is the last sequence allocated. A
//! record keeps its sequence for its life (updates rewrite it in place); a
//! removed one loses both keys. Opening a format-2 store migrates it
//! ([`migrate`]), in atomic chunks that a restart resumes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::tree::{db, read_u64};
use crate::store::StoreError;
use crate::store::crypto::{OpenError, Sealer};
use crate::store::rules::commit::Source;
use crate::store::rules::keys::{FORMAT, M_FORMAT, M_REC_SEQ, seq_key};

/// Indicator records moved per atomic batch while migrating.
const MIGRATE_CHUNK: usize = 10_000;

/// The in-memory index: the first 16 bytes of an indicator's HMAC (128
/// bits: no collision among billions) → its record's sequence.
pub(crate) type Index = Arc<RwLock<HashMap<u128, u64>>>;

/// The index bytes of logical key `i/<hmac>`.
pub(crate) fn tag_of(ikey: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let n = ikey.len().saturating_sub(2).min(16);
    b[..n].copy_from_slice(&ikey[2..2 + n]);
    u128::from_be_bytes(b)
}

/// The `r/` key of record `seq`.
pub(crate) fn record_key(seq: u64) -> Vec<u8> {
    seq_key(b"r/", seq)
}

/// The `y/` key of record `seq` (its tag).
pub(crate) fn tag_key(seq: u64) -> Vec<u8> {
    seq_key(b"y/", seq)
}

/// What record `seq` is sealed under: its key and its tag.
pub(crate) fn seal_key(seq: u64, tag: u128) -> Vec<u8> {
    let mut k = record_key(seq);
    k.extend_from_slice(&tag.to_be_bytes());
    k
}

/// A record or tag that is not what the index says (`prefix`: which kind).
pub(crate) fn corrupt(prefix: &str) -> StoreError {
    StoreError::Corrupt(OpenError(prefix.into()))
}

/// The sequence in an `r/` or `y/` key.
pub(crate) fn seq_of_key(k: &[u8]) -> Result<u64, StoreError> {
    k.get(2..10).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).ok_or_else(|| corrupt("y/"))
}

/// The tag in a `y/` value.
pub(crate) fn tag_of_value(v: &[u8]) -> Result<u128, StoreError> {
    v.try_into().map(u128::from_be_bytes).map_err(|_| corrupt("y/"))
}

/// Reads the index from the `y/` entries (in sequence order).
pub(crate) fn load_index(tree: &sled::Tree) -> Result<HashMap<u128, u64>, StoreError> {
    let mut index = HashMap::new();
    for item in tree.scan_prefix(b"y/") {
        let (k, v) = item.map_err(db)?;
        index.insert(tag_of_value(&v)?, seq_of_key(&k)?);
    }
    Ok(index)
}

/// The sequence of the record with logical key `ikey` (`None`: absent).
pub(crate) fn find(index: &Index, ikey: &[u8]) -> Option<u64> {
    index.read().expect("lock").get(&tag_of(ikey)).copied()
}

/// The opened record with logical key `ikey`.
pub(crate) fn get(
    tree: &sled::Tree,
    index: &Index,
    sealer: &Sealer,
    ikey: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(seq) = find(index, ikey) else { return Ok(None) };
    // Absent although indexed: deleted by a commit that has not updated
    // the index yet (it does once the batch is durable).
    let Some(sealed) = tree.get(record_key(seq)).map_err(db)? else { return Ok(None) };
    Ok(Some(sealer.open(&seal_key(seq, tag_of(ikey)), &sealed)?))
}

/// The writer's [`Source`]: the tree, with indicator records resolved
/// through the index.
pub(crate) struct TreeSource {
    pub(crate) tree: sled::Tree,
    pub(crate) index: Index,
}

impl Source for TreeSource {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(k).map_err(db)?.map(|v| v.to_vec()))
    }

    fn get_plain(&self, sealer: &Sealer, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if k.starts_with(b"i/") {
            return get(&self.tree, &self.index, sealer, k);
        }
        Ok(self.get(k)?.map(|v| sealer.open(k, &v)).transpose()?)
    }
}

/// Adds the group's indicator record `ikey` (sealed under `ikey` by the
/// shared rules; `None`: deleted) to `batch`, at its sequence or a new one;
/// `changes` collects what the index becomes once the batch is durable.
pub(crate) fn write(
    batch: &mut sled::Batch,
    index: &Index,
    sealer: &Sealer,
    rec_seq: &mut u64,
    changes: &mut Vec<(u128, Option<u64>)>,
    ikey: &[u8],
    value: Option<&[u8]>,
) -> Result<(), StoreError> {
    let tag = tag_of(ikey);
    match (value, find(index, ikey)) {
        (Some(v), seq) => {
            let plain = sealer.open(ikey, v)?;
            let seq = seq.unwrap_or_else(|| {
                *rec_seq += 1;
                batch.insert(tag_key(*rec_seq), &tag.to_be_bytes()[..]);
                changes.push((tag, Some(*rec_seq)));
                *rec_seq
            });
            batch.insert(record_key(seq), sealer.seal(&seal_key(seq, tag), &plain));
        }
        (None, Some(seq)) => {
            batch.remove(tag_key(seq));
            batch.remove(record_key(seq));
            changes.push((tag, None));
        }
        (None, None) => {}
    }
    Ok(())
}

/// Applies a durable commit's `changes` to the index.
pub(crate) fn apply(index: &Index, changes: Vec<(u128, Option<u64>)>) {
    if changes.is_empty() {
        return;
    }
    let mut index = index.write().expect("lock");
    for (tag, seq) in changes {
        match seq {
            Some(seq) => index.insert(tag, seq),
            None => index.remove(&tag),
        };
    }
}

/// Moves format-2 records (`i/<hmac>`, sealed under that key) to the format-3
/// layout, [`MIGRATE_CHUNK`] per atomic batch; the first batch marks the
/// store format 3 (an older tamis then refuses it rather than miss the
/// records already moved), and a restart resumes with what is left.
/// Returns how many records moved.
pub(crate) fn migrate(database: &sled::Db, tree: &sled::Tree, sealer: &Sealer) -> Result<usize, StoreError> {
    let mut rec_seq = read_u64(tree, M_REC_SEQ)?;
    let mut moved = 0;
    loop {
        let chunk: Vec<(sled::IVec, sled::IVec)> =
            tree.scan_prefix(b"i/").take(MIGRATE_CHUNK).collect::<Result<_, _>>().map_err(db)?;
        if chunk.is_empty() {
            break;
        }
        let mut batch = sled::Batch::default();
        for (k, v) in chunk {
            let plain = sealer.open(&k, &v)?;
            rec_seq += 1;
            let tag = tag_of(&k);
            batch.insert(tag_key(rec_seq), &tag.to_be_bytes()[..]);
            batch.insert(record_key(rec_seq), sealer.seal(&seal_key(rec_seq, tag), &plain));
            batch.remove(k);
            moved += 1;
        }
        batch.insert(M_REC_SEQ, &rec_seq.to_be_bytes()[..]);
        batch.insert(M_FORMAT, FORMAT);
        tree.apply_batch(batch).map_err(db)?;
    }
    if tree.get(M_FORMAT).map_err(db)?.is_none_or(|f| f.as_ref() != FORMAT) {
        tree.insert(M_FORMAT, FORMAT).map_err(db)?;
    }
    database.flush().map_err(db)?;
    Ok(moved)
}
