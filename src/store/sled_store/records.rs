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
//! - `x/<first 16 bytes of the hmac>` → the record's allocation sequence
//!   (u64 BE, raw: a number that says nothing of the indicator): a small
//!   index (~40 bytes an indicator) that stays in sled's cache, so the
//!   lookup of a new indicator is answered without reading a record leaf;
//! - `r/<seq>` → the record, sealed with `r/<seq>` *and* the index key as
//!   associated data: a record opens only through the index entry that
//!   names it (an `x/` value pointed elsewhere fails to authenticate), and
//!   new records are appended to the hot right edge of the tree.
//!
//! `m/rec_seq` (raw) is the last sequence allocated. A record keeps its
//! sequence for its life (updates rewrite it in place); a removed one
//! loses both keys. Opening a format-2 store migrates it
//! ([`migrate`]), in atomic chunks that a restart resumes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::tree::{db, read_u64};
use crate::store::StoreError;
use crate::store::crypto::Sealer;
use crate::store::rules::commit::Source;
use crate::store::rules::keys::{FORMAT, M_FORMAT, M_REC_SEQ};

/// Bytes of the HMAC kept in an `x/` key (128 bits: no collision among
/// billions of indicators).
const INDEX_HMAC: usize = 16;

/// Indicator records moved per atomic batch while migrating.
const MIGRATE_CHUNK: usize = 10_000;

/// The `x/` key of logical key `i/<hmac>`.
pub(crate) fn index_key(ikey: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + INDEX_HMAC);
    k.extend_from_slice(b"x/");
    k.extend_from_slice(&ikey[2..(2 + INDEX_HMAC).min(ikey.len())]);
    k
}

/// The `r/` key of record `seq`.
pub(crate) fn record_key(seq: u64) -> Vec<u8> {
    crate::store::rules::keys::seq_key(b"r/", seq)
}

/// What record `seq` is sealed under: its key and its index key.
pub(crate) fn seal_key(seq: u64, xkey: &[u8]) -> Vec<u8> {
    let mut k = record_key(seq);
    k.extend_from_slice(&xkey[2..]);
    k
}

pub(crate) fn seq_of(v: &[u8]) -> Result<u64, StoreError> {
    v.try_into().map(u64::from_be_bytes).map_err(|_| StoreError::Corrupt(crate::store::crypto::OpenError("x/".into())))
}

/// The sequence of the record with logical key `ikey` (`None`: absent).
pub(crate) fn find(tree: &sled::Tree, ikey: &[u8]) -> Result<Option<u64>, StoreError> {
    tree.get(index_key(ikey)).map_err(db)?.map(|v| seq_of(&v)).transpose()
}

/// Record `seq`, opened through its index key `xkey`.
fn open_record(tree: &sled::Tree, sealer: &Sealer, seq: u64, xkey: &[u8]) -> Result<Vec<u8>, StoreError> {
    let sealed = tree
        .get(record_key(seq))
        .map_err(db)?
        .ok_or_else(|| StoreError::Corrupt(crate::store::crypto::OpenError("r/".into())))?;
    Ok(sealer.open(&seal_key(seq, xkey), &sealed)?)
}

/// The opened record with logical key `ikey` and its sequence.
pub(crate) fn get(tree: &sled::Tree, sealer: &Sealer, ikey: &[u8]) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    let xkey = index_key(ikey);
    let Some(v) = tree.get(&xkey).map_err(db)? else { return Ok(None) };
    let seq = seq_of(&v)?;
    Ok(Some((seq, open_record(tree, sealer, seq, &xkey)?)))
}

/// Which sequence each logical key a group read resolved to (`None`:
/// absent when read), so the commit writes updates in place.
pub(crate) type Resolved = Arc<Mutex<HashMap<Vec<u8>, Option<u64>>>>;

/// The writer's [`Source`]: the tree, with indicator records resolved
/// through the index.
pub(crate) struct TreeSource {
    pub(crate) tree: sled::Tree,
    pub(crate) resolved: Resolved,
}

impl Source for TreeSource {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(k).map_err(db)?.map(|v| v.to_vec()))
    }

    fn get_plain(&self, sealer: &Sealer, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if !k.starts_with(b"i/") {
            return Ok(self.get(k)?.map(|v| sealer.open(k, &v)).transpose()?);
        }
        let found = get(&self.tree, sealer, k)?;
        self.resolved.lock().expect("lock").insert(k.to_vec(), found.as_ref().map(|(s, _)| *s));
        Ok(found.map(|(_, plain)| plain))
    }
}

/// Adds the group's indicator record `ikey` (sealed under `ikey` by the
/// shared rules; `None`: deleted) to `batch`, at its sequence or a new one.
pub(crate) fn write(
    batch: &mut sled::Batch,
    tree: &sled::Tree,
    sealer: &Sealer,
    resolved: &HashMap<Vec<u8>, Option<u64>>,
    rec_seq: &mut u64,
    ikey: &[u8],
    value: Option<&[u8]>,
) -> Result<(), StoreError> {
    let xkey = index_key(ikey);
    let seq = match resolved.get(ikey) {
        Some(s) => *s,
        None => find(tree, ikey)?, // every rule reads a record before writing it
    };
    match (value, seq) {
        (Some(v), seq) => {
            let plain = sealer.open(ikey, v)?;
            let seq = seq.unwrap_or_else(|| {
                *rec_seq += 1;
                batch.insert(xkey.clone(), &rec_seq.to_be_bytes()[..]);
                *rec_seq
            });
            batch.insert(record_key(seq), sealer.seal(&seal_key(seq, &xkey), &plain));
        }
        (None, Some(seq)) => {
            batch.remove(xkey);
            batch.remove(record_key(seq));
        }
        (None, None) => {}
    }
    Ok(())
}

/// Moves format-2 records (`i/<hmac>`, sealed under that key) to the format-3
/// layout, [`MIGRATE_CHUNK`] per atomic batch; the first batch marks the
/// store format 3 (an older tamis then refuses it rather than miss the
/// records already moved), and a restart resumes with what is left.
/// Returns how many records moved.
pub(crate) fn migrate(db: &sled::Db, tree: &sled::Tree, sealer: &Sealer) -> Result<usize, StoreError> {
    let mut rec_seq = read_u64(tree, M_REC_SEQ)?;
    let mut moved = 0;
    loop {
        let chunk: Vec<(sled::IVec, sled::IVec)> =
            tree.scan_prefix(b"i/").take(MIGRATE_CHUNK).collect::<Result<_, _>>().map_err(db_err)?;
        if chunk.is_empty() {
            break;
        }
        let mut batch = sled::Batch::default();
        for (k, v) in chunk {
            let plain = sealer.open(&k, &v)?;
            rec_seq += 1;
            let xkey = index_key(&k);
            batch.insert(xkey.clone(), &rec_seq.to_be_bytes()[..]);
            batch.insert(record_key(rec_seq), sealer.seal(&seal_key(rec_seq, &xkey), &plain));
            batch.remove(k);
            moved += 1;
        }
        batch.insert(M_REC_SEQ, &rec_seq.to_be_bytes()[..]);
        batch.insert(M_FORMAT, FORMAT);
        tree.apply_batch(batch).map_err(db_err)?;
    }
    if tree.get(M_FORMAT).map_err(db_err)?.is_none_or(|f| f.as_ref() != FORMAT) {
        tree.insert(M_FORMAT, FORMAT).map_err(db_err)?;
    }
    db.flush().map_err(db_err)?;
    Ok(moved)
}

fn db_err(e: sled::Error) -> StoreError {
    db(e)
}
