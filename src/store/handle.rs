//! The store a deployment opens: the backend `[store]` in `tamis.toml`
//! names, behind one handle that the server, the CLI and the tests share.

use std::sync::Arc;

use super::{PgStore, SledStore, Store, StoreOptions};
use crate::config::{Backend, Config};

/// An open store of either backend.
#[derive(Clone)]
pub enum StoreHandle {
    Sled(Arc<SledStore>),
    Postgres(Arc<PgStore>),
}

impl StoreHandle {
    /// Opens the backend `cfg` names with `storage_key`; `serving` for the
    /// server itself (refuse a rolled-back chain, exit on an unrecoverable
    /// sled error).
    pub fn open(cfg: &Config, storage_key: &[u8; 32], serving: bool) -> Result<StoreHandle, String> {
        let opts = StoreOptions::for_config(cfg, serving);
        match (cfg.store.backend, &cfg.store.url) {
            (Backend::Postgres, Some(url)) => PgStore::open(url, storage_key, opts)
                .map(StoreHandle::Postgres)
                .map_err(|e| format!("PostgreSQL store: {e}")),
            (Backend::Postgres, None) => Err("[store] backend = \"postgres\" needs a url".to_owned()),
            (Backend::Sled, _) => SledStore::open_with(&cfg.data_dir, storage_key, opts)
                .map(StoreHandle::Sled)
                .map_err(|e| e.describe(&cfg.data_dir)),
        }
    }

    /// The store, as the exchange holds it.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            StoreHandle::Sled(s) => s.clone(),
            StoreHandle::Postgres(s) => s.clone(),
        }
    }

    /// The sled store, when that is the backend.
    pub fn sled(&self) -> Option<&Arc<SledStore>> {
        match self {
            StoreHandle::Sled(s) => Some(s),
            StoreHandle::Postgres(_) => None,
        }
    }

    /// Commits what is queued and closes the store.
    pub fn close(&self) {
        match self {
            StoreHandle::Sled(s) => s.close(),
            StoreHandle::Postgres(s) => s.close(),
        }
    }

    /// Checks that audit record `seq` has `hash` (`--expect-head`).
    pub fn check_head(&self, seq: u64, hash: &str) -> Result<(), String> {
        match self {
            StoreHandle::Sled(s) => s.check_head(seq, hash),
            StoreHandle::Postgres(s) => s.check_head(seq, hash),
        }
    }
}

impl std::ops::Deref for StoreHandle {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        match self {
            StoreHandle::Sled(s) => s.as_ref(),
            StoreHandle::Postgres(s) => s.as_ref(),
        }
    }
}
