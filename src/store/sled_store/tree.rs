//! Reading the sled tree: raw counters, sealed values, audit hashes, and
//! sled's errors (the key layout itself is the shared
//! [`rules::keys`](crate::store::rules::keys)).

use std::cell::Cell;

use serde::Deserialize;

use crate::audit::{AuditRecord, GENESIS};
use crate::store::crypto::Sealer;
use crate::store::rules::keys::{seq_key, unseal};
use crate::store::{Fault, StoreError};

thread_local! {
    /// Set while [`quietly`] runs: its panics are expected and reported as errors.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into `Err` without the panic message on stderr
/// (sled panics on some corrupt files instead of returning an error).
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info)
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    r
}

pub(crate) fn read_u64(tree: &sled::Tree, k: &[u8]) -> Result<u64, StoreError> {
    Ok(tree.get(k).map_err(db)?.map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]))).unwrap_or(0))
}

/// The hash of audit record `seq` (`None` when absent or unreadable).
pub(crate) fn hash_at(tree: &sled::Tree, sealer: &Sealer, seq: u64) -> Option<String> {
    if seq == 0 {
        return Some(GENESIS.to_owned());
    }
    get_sealed::<AuditRecord>(tree, sealer, &seq_key(b"a/", seq)).ok().flatten().map(|r| r.hash)
}

pub(crate) fn get_sealed<T: for<'de> Deserialize<'de>>(
    tree: &sled::Tree,
    sealer: &Sealer,
    k: &[u8],
) -> Result<Option<T>, StoreError> {
    tree.get(k).map_err(db)?.map(|v| unseal(sealer, k, &v)).transpose()
}

/// A database error while reading.
pub(crate) fn db(e: sled::Error) -> StoreError {
    StoreError::Database(Fault::new(e))
}
