//! Opening the sled store: the format check, the storage-key check and the
//! audit anchor, before the writer starts.

use std::path::Path;
use std::sync::Arc;

use super::StoreOptions;
use super::tree::{hash_at, quietly, read_u64};
use crate::audit::GENESIS;
use crate::store::StoreError;
use crate::store::anchor::{self, Anchor, AnchorFile};
use crate::store::crypto::Sealer;
use crate::store::rules::keys::{
    FORMAT, FORMAT_2, FORMAT_3, M_AUDIT_HEAD, M_AUDIT_SEQ, M_FORMAT, M_KEY_CHECK, M_KEY_ID, M_LOG_SEQ, M_REC_SEQ,
};

/// What opening reads before the writer starts.
pub(super) struct Opened {
    pub(super) db: sled::Db,
    pub(super) tree: sled::Tree,
    pub(super) key_id: u32,
    pub(super) log_seq: u64,
    pub(super) audit_seq: u64,
    pub(super) audit_head: String,
    /// A format-2 or format-3 store, or a migration that did not finish
    /// (records under `i/`): opening migrates it once the storage key is
    /// checked.
    pub(super) migrate: bool,
    pub(super) rec_seq: u64,
}

/// A sled error while opening `dir`: corruption says so and names the
/// directory; anything else is a database error.
fn open_error(dir: &Path) -> impl Fn(sled::Error) -> StoreError + '_ {
    move |e| match e {
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) => StoreError::CorruptDirectory(dir.into()),
        e => super::tree::db(e),
    }
}

/// Opens the database and checks its format (creating a new one), with a
/// page cache of about `cache_bytes` (`[store] cache_mib`).
pub(super) fn open_db(dir: &Path, cache_bytes: u64) -> Result<Opened, StoreError> {
    let err = open_error(dir);
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_bytes)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(Some(500));
    // sled releases its directory lock when its last thread of a handle
    // just dropped ends (the flusher): a store closed or refused a moment
    // ago may still hold it, so a busy lock is retried for up to 2 s
    let mut tries = 0;
    let db = loop {
        match config.open() {
            Err(sled::Error::Io(e)) if tries < 100 && e.to_string().contains("could not acquire lock") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => break r.map_err(&err)?,
        }
    };
    let tree = db.open_tree("tamis").map_err(&err)?;
    let mut upgrade = false;
    match tree.get(M_FORMAT).map_err(&err)? {
        Some(v) if v.as_ref() == FORMAT => {}
        Some(v) if v.as_ref() == FORMAT_2 || v.as_ref() == FORMAT_3 => upgrade = true,
        Some(v) => {
            return Err(StoreError::UnknownFormat {
                dir: dir.into(),
                found: String::from_utf8_lossy(&v).into_owned(),
                expected: String::from_utf8_lossy(FORMAT).into_owned(),
            });
        }
        None if tree.first().map_err(&err)?.is_none() => {
            tree.insert(M_FORMAT, FORMAT).map_err(&err)?;
            db.flush().map_err(&err)?;
        }
        None => return Err(StoreError::OldFormat(dir.into())),
    }
    let key_id = tree.get(M_KEY_ID).map_err(&err)?;
    let key_id = key_id.and_then(|v| v.as_ref().try_into().ok()).map(u32::from_be_bytes).unwrap_or(1);
    let log_seq = read_u64(&tree, M_LOG_SEQ)?;
    let audit_seq = read_u64(&tree, M_AUDIT_SEQ)?;
    let audit_head = match tree.get(M_AUDIT_HEAD).map_err(&err)? {
        Some(v) => String::from_utf8_lossy(&v).into_owned(),
        None => GENESIS.to_owned(),
    };
    // Format 2, or a migration that did not finish: records under `i/`.
    let migrate = upgrade || tree.scan_prefix(b"i/").next().transpose().map_err(&err)?.is_some();
    let rec_seq = read_u64(&tree, M_REC_SEQ)?;
    Ok(Opened { db, tree, key_id, log_seq, audit_seq, audit_head, migrate, rec_seq })
}

/// Migrates a format-2 or format-3 store (or finishes a migration) once
/// the key is checked; `o.rec_seq` follows.
pub(super) fn migrate(dir: &Path, o: &mut Opened, sealer: &Sealer) -> Result<(), StoreError> {
    if !o.migrate {
        return Ok(());
    }
    let (moved, merged) = quietly(|| super::records::upgrade(&o.db, &o.tree, sealer))
        .map_err(|_| StoreError::CorruptDirectory(dir.into()))??;
    o.rec_seq = read_u64(&o.tree, M_REC_SEQ)?;
    o.migrate = false;
    tracing::info!(records = moved, tags_packed = merged, "store migrated to format 4");
    Ok(())
}

/// Checks (or, in a new store, writes) the sealed key check value.
pub(super) fn check_key(dir: &Path, db: &sled::Db, tree: &sled::Tree, sealer: &Sealer) -> Result<(), StoreError> {
    let err = open_error(dir);
    match tree.get(M_KEY_CHECK).map_err(&err)? {
        Some(v) => sealer
            .open(M_KEY_CHECK, &v)
            .map(|_| ())
            .map_err(|_| StoreError::WrongKey { dir: dir.into(), key_id: sealer.key_id() }),
        None => {
            tree.insert(M_KEY_CHECK, sealer.seal(M_KEY_CHECK, b"tamis")).map_err(&err)?;
            db.flush().map_err(&err)?;
            Ok(())
        }
    }
}

/// The audit anchor, checked against the chain and created when absent:
/// `(file, matches)`. A chain behind its anchor refuses to open when
/// `opts.refuse_rollback` (serving); the tools open anyway and report it.
pub(super) fn open_anchor(
    dir: &Path,
    o: &Opened,
    sealer: &Sealer,
    anchor_key: [u8; 32],
    opts: &StoreOptions,
) -> Result<Option<(Arc<AnchorFile>, bool)>, StoreError> {
    let Some(path) = &opts.audit_anchor else { return Ok(None) };
    let file = Arc::new(AnchorFile::new(path.clone(), anchor_key));
    if let Err(e) = file.prepare() {
        tracing::warn!(path = %path.display(), error = %e, "cannot create the audit anchor's directory");
    }
    let problem = match file.read() {
        Err(e) => Some(e),
        Ok(None) => None,
        Ok(Some(a)) => {
            let at =
                quietly(|| hash_at(&o.tree, sealer, a.seq)).map_err(|_| StoreError::CorruptDirectory(dir.into()))?;
            anchor::check(o.audit_seq, at.as_deref(), &a).err()
        }
    };
    match problem {
        Some(problem) if opts.refuse_rollback => {
            Err(StoreError::Rollback { dir: dir.into(), anchor: path.clone(), problem })
        }
        Some(p) => {
            tracing::warn!(problem = %p, "audit anchor does not match the chain; not updating it");
            Ok(Some((file, false)))
        }
        None => {
            if let Err(e) = file.write(&Anchor { seq: o.audit_seq, hash: o.audit_head.clone() }) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the audit anchor");
            }
            Ok(Some((file, true)))
        }
    }
}
