//! `tamis keys rotate`: re-encrypts the store under a new storage key.

use std::path::{Path, PathBuf};

use super::{CliError, unusable};
use crate::config::Config;

/// `PATH` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Writes a new 0600 key file and syncs it to disk.
fn write_key_file(path: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    crate::config::write_new_file(path, hex::encode(key).as_bytes(), true)
}

/// The new key: the one an interrupted rotation left at `new_path`, else a
/// fresh one, written there before anything is re-encrypted (so running the
/// command again finishes an interrupted rotation).
fn new_key(new_path: &Path) -> Result<[u8; 32], CliError> {
    if new_path.exists() {
        return crate::config::read_secret_key(new_path).map_err(unusable);
    }
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).map_err(|e| unusable(format!("no random source: {e}")))?;
    write_key_file(new_path, &k).map_err(|e| unusable(format!("cannot write {}: {e}", new_path.display())))?;
    Ok(k)
}

/// Every failure exits 2: the store or the key files are not usable as they are.
pub(super) fn rotate(config_path: &Path) -> Result<(), CliError> {
    let cfg = Config::load(config_path).map_err(unusable)?;
    if cfg.store.backend == crate::config::Backend::Postgres {
        return Err(unusable(
            "tamis keys rotate re-encrypts the embedded sled store only; rotating the key of a PostgreSQL \
             store is not supported yet",
        ));
    }
    let old = crate::config::read_secret_key(&cfg.keys.storage).map_err(unusable)?;
    let new_path = with_suffix(&cfg.keys.storage, ".new");
    let new = new_key(&new_path)?;
    let r = crate::store::rotate_storage_key(&cfg.data_dir, &old, &new, Some(&cfg.audit_anchor)).map_err(|e| {
        let msg = e.describe(&cfg.data_dir);
        let hint = if msg.starts_with("cannot open") { "; stop the server first" } else { "" };
        unusable(format!("{msg}{hint}"))
    })?;
    let retired = with_suffix(&cfg.keys.storage, &format!(".retired-{}", r.old_id));
    if !retired.exists() {
        write_key_file(&retired, &old)
            .map_err(|e| unusable(format!("cannot keep the old key in {}: {e}", retired.display())))?;
    }
    std::fs::rename(&new_path, &cfg.keys.storage).map_err(|e| {
        unusable(format!("cannot install the new key {}: {e} (run the command again)", new_path.display()))
    })?;
    println!(
        "storage key rotated: {} values re-encrypted under key id {} (was {}); audit anchor {}",
        r.records,
        r.new_id,
        r.old_id,
        if r.anchor_rewritten { "re-authenticated" } else { "absent or not valid, left as it was" }
    );
    println!(
        "the old key is kept in {} for backups of data/ made before now; delete it when none needs it",
        retired.display()
    );
    Ok(())
}
