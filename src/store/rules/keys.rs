//! The keyspace both backends share: key layout, keys derived from the
//! storage key, and sealed values.
//!
//! Prefixed keys: `i/<hmac(id)>` → indicator record (the logical key the
//! rules use; the sled store keeps the record under `r/<seq>`, found through
//! an in-memory index loaded from `y/<first seq>` → 16 bytes of the HMAC per record: [`sled_store`](crate::store::sled_store)); `l/<seq>` → feed
//! entries (the sled store keeps blobs of consecutive entries, up to 2 KiB,
//! keyed by the sequence number of their first when written (compaction
//! may drop entries from a blob, which keeps its key, or the whole blob);
//! PostgreSQL one entry per row of `tamis_feed`, sealed under its `l/<seq>`
//! key); `a/<seq>` → audit record (PostgreSQL: `tamis_audit`, sealed under
//! its `a/<seq>` key); `k/<hmac(participant, idempotency key)>` → stored response and request
//! hash; `p/<id@hash>` → policy version and its use; `d/<participant>` →
//! its published contact points (the directory); `c/<name>` → a named
//! consumer's saved feed position (webhook deliveries); `o/<bucket>/<hmac(output)>`
//! → a private-lookup output and whether it is in the set; `m/<name>` → counters,
//! sequence numbers, chain head, storage-key id and check, and the format
//! version. Every value is sealed under the storage key except the `m/`
//! bookkeeping listed in `RAW_KEYS`. The sled store keeps every key in one
//! tree ([`sled_store`](crate::store::sled_store)); PostgreSQL keeps the
//! `i/`, `k/`, `p/`, `d/`, `c/`, `o/` and `m/counters` records in `tamis_kv` and the rest in
//! its own tables ([`postgres`](crate::store::postgres)). Keys that could
//! confirm a guessed indicator value (`i/`, `k/`) are HMACs under a key
//! derived from the storage key, so a copy of the data without
//! `storage.key` tells nothing about them.

use hmac::{KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::store::crypto::Sealer;
use crate::store::{Fault, StoreError};

/// Keys derived from the storage key.
pub(crate) struct Keys {
    /// HMAC key of the audit anchor.
    pub(crate) anchor: [u8; 32],
    /// The HMAC of the `i/`, `k/` and `o/` keys, keyed and cloned for each
    /// key (the key's two padded blocks are hashed once, not per indicator).
    index_mac: hmac::Hmac<Sha256>,
}

impl Keys {
    pub(crate) fn derive(storage_key: &[u8; 32]) -> Keys {
        let sub = |label: &[u8]| -> [u8; 32] {
            let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(storage_key).expect("any key length");
            m.update(label);
            m.finalize().into_bytes().into()
        };
        let index = sub(b"tamis/key/index/v1");
        let index_mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&index).expect("any key length");
        Keys { anchor: sub(b"tamis/key/audit-anchor/v1"), index_mac }
    }

    fn hmac_key(&self, prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = self.index_mac.clone();
        m.update(prefix);
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        key(prefix, &m.finalize().into_bytes())
    }

    /// The key of indicator `id`: an HMAC, so a copy of the data cannot
    /// confirm a guessed value (ids are a plain hash of the value).
    pub(crate) fn indicator(&self, id: &str) -> Vec<u8> {
        self.hmac_key(b"i/", &[id.as_bytes()])
    }

    pub(crate) fn idempotency(&self, participant: &str, k: &str) -> Vec<u8> {
        self.hmac_key(b"k/", &[participant.as_bytes(), k.as_bytes()])
    }

    /// The key of a private-lookup output: `o/<bucket>/` and an HMAC of the
    /// output, so the data shows the bucket (what any client's query shows)
    /// and nothing of the output; the output itself is in the sealed value.
    pub(crate) fn lookup(&self, output_hex: &str) -> Vec<u8> {
        let bucket = lookup_bucket_key(crate::lookup::prefix_of(output_hex));
        let mac = self.hmac_key(b"o/", &[output_hex.as_bytes()]);
        key(&bucket, &mac[2..])
    }
}

/// The key prefix of a private-lookup bucket (`o/<prefix>/`).
pub(crate) fn lookup_bucket_key(prefix: &str) -> Vec<u8> {
    format!("o/{prefix}/").into_bytes()
}

pub(crate) const M_FORMAT: &[u8] = b"m/format";
pub(crate) const M_PROBE: &[u8] = b"m/probe";
pub(crate) const M_LOG_SEQ: &[u8] = b"m/log_seq";
pub(crate) const M_AUDIT_SEQ: &[u8] = b"m/audit_seq";
pub(crate) const M_AUDIT_HEAD: &[u8] = b"m/audit_head";
pub(crate) const M_COUNTERS: &[u8] = b"m/counters";
/// The feed's compaction horizon (u64, raw; 0 when absent): the highest
/// sequence number whose removal was dropped from the log.
pub(crate) const M_FEED_HORIZON: &[u8] = b"m/feed_horizon";
/// The ids of the indicators that have sightings or false-positive reports.
pub(crate) const M_FEEDBACK: &[u8] = b"m/feedback";
/// Id of the storage key the values are sealed with (u32, raw; 1 when absent).
pub(crate) const M_KEY_ID: &[u8] = b"m/key_id";
/// A value sealed under the storage key: a wrong key is a clear error at open.
pub(crate) const M_KEY_CHECK: &[u8] = b"m/key_check";
/// The sled store's last allocated indicator-record sequence (u64, raw;
/// 0 when absent): `r/<seq>` keys ([`sled_store`](crate::store::sled_store)).
pub(crate) const M_REC_SEQ: &[u8] = b"m/rec_seq";
/// Keys whose values are stored raw, not sealed (and, in the sled store,
/// every `y/` tag: 16 bytes of an indicator's HMAC).
pub(crate) const RAW_KEYS: &[&[u8]] =
    &[M_FORMAT, M_PROBE, M_LOG_SEQ, M_AUDIT_SEQ, M_AUDIT_HEAD, M_KEY_ID, M_FEED_HORIZON, M_REC_SEQ];

/// The sled store's on-disk format this version writes and reads: 4 =
/// indicator records in allocation order (`r/<seq>`) with their HMAC tags
/// packed in `y/<first seq>` values (16 bytes a record, a zero tag for a
/// removed one), see [`sled_store`](crate::store::sled_store); 3 = the same
/// with one `y/<seq>` entry per record (a pack of one: opening marks it
/// format 4 and merges the entries); 2 = HMAC'd `i/` and `k/` keys, one
/// sighting per contributor, request hashes with idempotency records
/// (migrated to 4 when opened). Format 1 (tamis 0.1 development builds)
/// has no `m/format`.
pub(crate) const FORMAT: &[u8] = b"tamis-store-4";
/// Format 3, which opening migrates to [`FORMAT`].
pub(crate) const FORMAT_3: &[u8] = b"tamis-store-3";
/// Format 2, which opening migrates to [`FORMAT`].
pub(crate) const FORMAT_2: &[u8] = b"tamis-store-2";

pub(crate) fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + rest.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(rest);
    k
}

pub(crate) fn seq_key(prefix: &[u8], seq: u64) -> Vec<u8> {
    key(prefix, &seq.to_be_bytes())
}

/// Opens a stored value and decodes its JSON.
pub(crate) fn unseal<T: for<'de> Deserialize<'de>>(sealer: &Sealer, k: &[u8], v: &[u8]) -> Result<T, StoreError> {
    let plain = sealer.open(k, v)?;
    serde_json::from_slice(&plain).map_err(|e| decode_error(k, e))
}

/// A stored value that opened but does not decode, named by its key prefix.
pub(crate) fn decode_error(k: &[u8], e: serde_json::Error) -> StoreError {
    let prefix = String::from_utf8_lossy(&k[..k.len().min(2)]).into_owned();
    StoreError::Decode { prefix, cause: Fault::new(e) }
}
