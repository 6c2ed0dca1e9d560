//! Where the sled store keeps indicator records (store format 4).
//!
//! The shared rules address an indicator by its logical key `i/<hmac(id)>`
//! ([`Keys::indicator`](crate::store::rules::keys::Keys::indicator)). Format
//! 2 stored the record under that key: uniformly random keys, so once the
//! records outgrew sled's cache every new indicator paged in a cold leaf
//! and every group commit dirtied ~1,000 distinct leaves (the rate fell
//! from ~47k/s to ~8k/s: docs/performance.md). Formats 3 and 4 store it in
//! allocation order instead:
//!
//! - `r/<seq>` → the record, sealed with `r/<seq>` *and* the first 16
//!   bytes of its HMAC as associated data (a record opens only as the
//!   indicator it was written for); new records are appended to the hot
//!   right edge of the tree;
//! - `y/<first>` → a pack of those 16 bytes of the HMAC (raw: an HMAC tells
//!   nothing without `storage.key`) for records `first`, `first + 1`, …:
//!   one pack per group commit (up to [`PACK_TAGS`]), also appended in
//!   order; a removed record's tag is zeroed in its pack, and a pack left
//!   with no tag is removed. Format 3 wrote one `y/<seq>` per record (a
//!   pack of one), i.e. one more sled insert per new indicator.
//!
//! The index HMAC → sequence lives in memory ([`Index`], ~40 bytes an
//! indicator), loaded from `y/` at open (a sequential scan), so finding an
//! indicator, and above all learning that a new one is not stored, reads
//! nothing from sled, and no write goes to a random place in the tree:
//! every write of a new indicator lands in the right-most leaves, however
//! many are stored. `m/rec_seq` (raw) is the last sequence allocated. A
//! record keeps its sequence for its life (updates rewrite it in place).
//! Opening a format-2 or format-3 store migrates it ([`upgrade`]), in atomic
//! chunks that a restart resumes.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::tree::{db, read_u64};
use crate::store::StoreError;
use crate::store::crypto::{OpenError, Sealer};
use crate::store::dense_map::DenseMap;
use crate::store::rules::commit::Source;
use crate::store::rules::keys::{FORMAT, M_FORMAT, M_REC_SEQ, seq_key};

/// Indicator records moved (or `y/` entries repacked) per atomic batch
/// while migrating.
const MIGRATE_CHUNK: usize = 10_000;
/// Most tags in one `y/` pack (16 KiB: under sled's 128 KiB blob size, and
/// about one submission of 1,000 indicators).
pub(crate) const PACK_TAGS: usize = 1024;

/// The in-memory index: the first 16 bytes of an indicator's HMAC (128
/// bits: no collision among billions) → its record's sequence. A
/// [`DenseMap`]: 24 bytes an entry and a 4-byte slot table, where a
/// `HashMap<u128, u64>` took 33-byte buckets, half of them empty at 2M
/// (≈ 70 MiB instead of 132 MiB at 2M indicators).
pub(crate) type Index = Arc<RwLock<DenseMap<u128, u64>>>;

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

/// A `y/` value is a pack: one or more 16-byte tags.
pub(crate) fn is_pack(v: &[u8]) -> bool {
    !v.is_empty() && v.len().is_multiple_of(16)
}

/// Where record `seq`'s tag is in the pack starting at `first`.
pub(crate) fn slot(first: u64, seq: u64) -> std::ops::Range<usize> {
    let at = ((seq - first) * 16) as usize;
    at..at + 16
}

/// The `(sequence, tag)` of every record in the `y/` pack `(k, v)`: tag
/// `i` of the pack is record `first + i`'s, zero when that record is gone.
pub(crate) fn tags_of_pack(k: &[u8], v: &[u8]) -> Result<Vec<(u64, u128)>, StoreError> {
    let first = seq_of_key(k)?;
    if !is_pack(v) {
        return Err(corrupt("y/"));
    }
    Ok(v.chunks_exact(16)
        .enumerate()
        .map(|(i, t)| (first + i as u64, u128::from_be_bytes(t.try_into().expect("16 bytes"))))
        .filter(|(_, tag)| *tag != 0)
        .collect())
}

/// Reads the index from the `y/` packs (in sequence order).
pub(crate) fn load_index(tree: &sled::Tree) -> Result<DenseMap<u128, u64>, StoreError> {
    let mut index = DenseMap::new();
    for item in tree.scan_prefix(b"y/") {
        let (k, v) = item.map_err(db)?;
        for (seq, tag) in tags_of_pack(&k, &v)? {
            index.insert(tag, seq);
        }
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

/// A group's indicator records on their way into a sled batch: each at
/// its sequence, or a new one allocated after [`rec_seq`](Self::rec_seq);
/// the tags of the new ones go into one `y/` pack per [`PACK_TAGS`], and a
/// removed record's tag is zeroed in its pack. [`finish`](Self::finish)
/// adds the packs to the batch and says what the index becomes once the
/// batch is durable ([`apply`]).
pub(crate) struct RecordWrites<'a> {
    tree: &'a sled::Tree,
    index: &'a Index,
    sealer: &'a Sealer,
    /// The last sequence allocated, this group's included.
    rec_seq: u64,
    /// The tags of the records this group allocated, from `first_new` on.
    first_new: u64,
    new_tags: Vec<u8>,
    /// Existing `y/` packs this group changed, by first sequence.
    packs: BTreeMap<u64, Vec<u8>>,
    /// (tag, new sequence or `None`: removed), for [`apply`].
    changes: Vec<(u128, Option<u64>)>,
}

impl<'a> RecordWrites<'a> {
    /// Nothing written yet; `rec_seq` is the last sequence allocated.
    pub(crate) fn new(tree: &'a sled::Tree, index: &'a Index, sealer: &'a Sealer, rec_seq: u64) -> RecordWrites<'a> {
        let (packs, changes) = (BTreeMap::new(), Vec::new());
        RecordWrites { tree, index, sealer, rec_seq, first_new: rec_seq + 1, new_tags: Vec::new(), packs, changes }
    }

    /// Adds record `ikey` (its JSON in clear; `None`: deleted) to `batch`,
    /// sealed once, under its `r/` key and its tag.
    pub(crate) fn write(
        &mut self,
        batch: &mut sled::Batch,
        ikey: &[u8],
        plain: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let tag = tag_of(ikey);
        match (plain, find(self.index, ikey)) {
            (Some(plain), seq) => {
                let seq = seq.unwrap_or_else(|| {
                    self.rec_seq += 1;
                    self.new_tags.extend_from_slice(&tag.to_be_bytes());
                    self.changes.push((tag, Some(self.rec_seq)));
                    self.rec_seq
                });
                batch.insert(record_key(seq), self.sealer.seal(&seal_key(seq, tag), plain));
            }
            (None, Some(seq)) => {
                batch.remove(record_key(seq));
                self.untag(seq, tag)?;
                self.changes.push((tag, None));
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Zeroes record `seq`'s tag in its `y/` pack (read once per group).
    fn untag(&mut self, seq: u64, tag: u128) -> Result<(), StoreError> {
        let covers = |first: u64, pack: &[u8]| seq < first + (pack.len() / 16) as u64;
        let cached = self.packs.range(..=seq).next_back().filter(|(f, p)| covers(**f, p)).map(|(f, _)| *f);
        let first = match cached {
            Some(first) => first,
            None => {
                let (k, v) = self
                    .tree
                    .range(tag_key(0)..=tag_key(seq))
                    .next_back()
                    .transpose()
                    .map_err(db)?
                    .ok_or_else(|| corrupt("y/"))?;
                let first = seq_of_key(&k)?;
                if !is_pack(&v) || !covers(first, &v) {
                    return Err(corrupt("y/"));
                }
                self.packs.insert(first, v.to_vec());
                first
            }
        };
        let pack = self.packs.get_mut(&first).expect("cached");
        let at = slot(first, seq);
        if pack[at.clone()] != tag.to_be_bytes() {
            return Err(corrupt("y/"));
        }
        pack[at].fill(0);
        Ok(())
    }

    /// Adds the group's `y/` packs to `batch` (a pack left without a tag
    /// is removed); resolves to the last sequence allocated and the index
    /// changes for [`apply`].
    pub(crate) fn finish(self, batch: &mut sled::Batch) -> (u64, Vec<(u128, Option<u64>)>) {
        for (first, pack) in self.packs {
            if pack.iter().all(|b| *b == 0) {
                batch.remove(tag_key(first));
            } else {
                batch.insert(tag_key(first), pack);
            }
        }
        for (i, chunk) in self.new_tags.chunks(PACK_TAGS * 16).enumerate() {
            batch.insert(tag_key(self.first_new + (i * PACK_TAGS) as u64), chunk);
        }
        (self.rec_seq, self.changes)
    }
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

/// Brings a format-2 or format-3 store to format 4 (or finishes doing so):
/// moves format-2 records ([`migrate`]), marks the store format 4 (a format-3
/// `y/<seq>` tag is already a valid pack of one tag), then merges
/// consecutive tags into packs ([`repack`]) so that opening reads fewer
/// entries. Resolves to (records moved, tag entries merged).
pub(crate) fn upgrade(database: &sled::Db, tree: &sled::Tree, sealer: &Sealer) -> Result<(usize, usize), StoreError> {
    let moved = if tree.scan_prefix(b"i/").next().transpose().map_err(db)?.is_some() {
        migrate(database, tree, sealer)?
    } else {
        0
    };
    if tree.get(M_FORMAT).map_err(db)?.is_none_or(|f| f.as_ref() != FORMAT) {
        tree.insert(M_FORMAT, FORMAT).map_err(db)?;
    }
    let merged = repack(tree)?;
    database.flush().map_err(db)?;
    Ok((moved, merged))
}

/// Merges `y/` entries that follow each other (format 3 wrote one per
/// record) into packs of up to [`PACK_TAGS`], [`MIGRATE_CHUNK`] entries per
/// atomic batch; any prefix of it leaves a valid store. Returns how many
/// entries were merged into the one before.
pub(crate) fn repack(tree: &sled::Tree) -> Result<usize, StoreError> {
    let mut from = tag_key(0);
    let mut merged = 0;
    loop {
        let chunk: Vec<(sled::IVec, sled::IVec)> =
            tree.range(from.clone()..b"y0".to_vec()).take(MIGRATE_CHUNK).collect::<Result<_, _>>().map_err(db)?;
        let Some((last, _)) = chunk.last() else { break };
        from = last.to_vec();
        from.push(0);
        let mut batch = sled::Batch::default();
        let mut run: Option<(u64, Vec<u8>, bool)> = None;
        let flush = |batch: &mut sled::Batch, run: Option<(u64, Vec<u8>, bool)>| {
            if let Some((first, pack, true)) = run {
                batch.insert(tag_key(first), pack);
            }
        };
        for (k, v) in &chunk {
            let seq = seq_of_key(k)?;
            if !is_pack(v) {
                return Err(corrupt("y/"));
            }
            match &mut run {
                Some((first, pack, grew))
                    if *first + (pack.len() / 16) as u64 == seq && pack.len() + v.len() <= PACK_TAGS * 16 =>
                {
                    pack.extend_from_slice(v);
                    *grew = true;
                    batch.remove(k.clone());
                    merged += 1;
                }
                _ => {
                    flush(&mut batch, run.take());
                    run = Some((seq, v.to_vec(), false));
                }
            }
        }
        flush(&mut batch, run);
        tree.apply_batch(batch).map_err(db)?;
        if chunk.len() < MIGRATE_CHUNK {
            break;
        }
    }
    Ok(merged)
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
