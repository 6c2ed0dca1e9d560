//! `tamis keys rotate`: re-encrypts the sled store under a new storage key.

use std::path::Path;

use super::open::{check_key, open_db};
use super::records;
use super::tree::{db as db_error, quietly};
use crate::store::anchor::AnchorFile;
use crate::store::crypto::Sealer;
use crate::store::rules::keys::{Keys, M_KEY_CHECK, M_KEY_ID, RAW_KEYS, decode_error};
use crate::store::rules::record::{IdempotencyRecord, Record};
use crate::store::{Fault, StoreError};

/// What `tamis keys rotate` did.
#[derive(Debug)]
pub struct Rotation {
    /// Id of the key the store used before.
    pub old_id: u32,
    /// Id of the new key.
    pub new_id: u32,
    /// Values re-encrypted.
    pub records: usize,
    /// The anchor was re-MAC'd under the new key (it matched the chain).
    pub anchor_rewritten: bool,
}

/// Re-encrypts every value of the store in `dir` under `new_key`, with the
/// next key id, and re-derives the HMAC'd `k/` keys and `y/` tags, in one atomic
/// batch (the server must be stopped: sled's lock refuses a second opener).
/// Resumable: when a previous run applied the batch but did not install the
/// new key file, `old_key` no longer opens the store and `new_key` does, and
/// this finishes by re-writing the anchor. The audit anchor, when given and
/// valid under the old key, is re-MAC'd under the new one.
pub fn rotate_storage_key(
    dir: &Path,
    old_key: &[u8; 32],
    new_key: &[u8; 32],
    audit_anchor: Option<&Path>,
) -> Result<Rotation, StoreError> {
    let corrupt = || StoreError::CorruptDirectory(dir.to_path_buf());
    let o = quietly(|| open_db(dir, crate::config::DEFAULT_CACHE_MIB << 20)).map_err(|_| corrupt())??;
    let (db, tree) = (o.db, o.tree);
    let current = o.key_id;
    // Which key does the store use now?
    let done = Sealer::new(new_key, current);
    let already = tree.get(M_KEY_CHECK).map_err(db_error)?.is_some_and(|v| done.open(M_KEY_CHECK, &v).is_ok());
    let (old_id, new_id) = if already { (current.saturating_sub(1), current) } else { (current, current + 1) };
    let old_keys = Keys::derive(old_key);
    let new_keys = Keys::derive(new_key);
    let mut records = 0;
    if !already {
        let old = Sealer::new(old_key, old_id);
        check_key(dir, &db, &tree, &old)?;
        if o.migrate {
            quietly(|| records::upgrade(&db, &tree, &old)).map_err(|_| corrupt())??;
        }
        let new = Sealer::new(new_key, new_id);
        let mut batch = sled::Batch::default();
        for item in tree.iter() {
            let (k, v) = item.map_err(db_error)?;
            if RAW_KEYS.contains(&k.as_ref()) || k.starts_with(b"r/") {
                continue; // records are re-sealed through their `y/` tag
            }
            if k.starts_with(b"y/") {
                // Each record opens with its old tag; its new tag is the
                // HMAC of its id under the new key, at the same place in
                // the pack (a removed record's zero stays).
                let first = records::seq_of_key(&k)?;
                let mut pack = v.to_vec();
                for (seq, tag) in records::tags_of_pack(&k, &v)? {
                    let rk = records::record_key(seq);
                    let sealed = tree.get(&rk).map_err(db_error)?.ok_or_else(|| records::corrupt("r/"))?;
                    let plain = old.open(&records::seal_key(seq, tag), &sealed)?;
                    let r: Record = serde_json::from_slice(&plain).map_err(|e| decode_error(&rk, e))?;
                    let new_tag = records::tag_of(&new_keys.indicator(&r.indicator.id));
                    pack[records::slot(first, seq)].copy_from_slice(&new_tag.to_be_bytes());
                    batch.insert(rk, new.seal(&records::seal_key(seq, new_tag), &plain));
                    records += 1;
                }
                batch.insert(k.clone(), pack);
                continue;
            }
            let plain = old.open(&k, &v)?;
            let nk = if k.starts_with(b"k/") {
                let r: IdempotencyRecord = serde_json::from_slice(&plain).map_err(|e| decode_error(&k, e))?;
                new_keys.idempotency(&r.participant, &r.key)
            } else {
                k.to_vec()
            };
            if nk.as_slice() != k.as_ref() {
                batch.remove(k.clone());
            }
            batch.insert(nk.clone(), new.seal(&nk, &plain));
            records += 1;
        }
        batch.insert(M_KEY_ID, &new_id.to_be_bytes());
        quietly(|| tree.apply_batch(batch).and_then(|()| db.flush().map(|_| ())))
            .map_err(|_| corrupt())?
            .map_err(db_error)?;
        // On disk before the new key file is renamed into place.
        super::durable::DiskSync::open(dir).map_err(|e| StoreError::Database(Fault::new(e)))?;
    }
    let mut anchor_rewritten = false;
    if let Some(path) = audit_anchor {
        let old_anchor = AnchorFile::new(path.to_path_buf(), old_keys.anchor);
        let new_anchor = AnchorFile::new(path.to_path_buf(), new_keys.anchor);
        if new_anchor.read().ok().flatten().is_some() {
            anchor_rewritten = true;
        } else if let Ok(Some(a)) = old_anchor.read() {
            new_anchor.write(&a).map_err(|e| StoreError::Anchor(Fault::new(e)))?;
            anchor_rewritten = true;
        }
    }
    Ok(Rotation { old_id, new_id, records, anchor_rewritten })
}
