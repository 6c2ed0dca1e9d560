//! What makes an acknowledgement mean "on stable storage": sled's own
//! `flush()` only calls `sync_file_range` on its log file (the written
//! pages reach the disk queue, but neither the file's metadata nor the
//! drive's volatile cache are flushed), and it writes values larger than
//! a quarter of a segment (128 KiB: sled "blobs", files under `blobs/`) without
//! syncing them at all. Both survive `kill -9` (the page cache outlives the
//! process) but not a power cut. After each `flush()` the writer calls
//! [`DiskSync::sync`]: `fdatasync` on every blob file that appeared since
//! the last call and on the `blobs/` directory, then `fdatasync` on sled's
//! log file (`db`); only then is a request answered.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Syncs sled's files after a flush.
pub(super) struct DiskSync {
    /// sled's log file, opened read-only: `fdatasync` applies to the file,
    /// whichever descriptor asks.
    db_file: File,
    blobs: PathBuf,
    /// Blob files already synced (pruned to what still exists).
    synced: HashSet<OsString>,
}

impl DiskSync {
    /// Opens sled's files in `dir` and syncs what is there now, the data
    /// directory included (it holds the files sled created).
    pub(super) fn open(dir: &Path) -> io::Result<DiskSync> {
        let mut s = DiskSync { db_file: File::open(dir.join("db"))?, blobs: dir.join("blobs"), synced: HashSet::new() };
        s.sync()?;
        File::open(dir)?.sync_all()?;
        Ok(s)
    }

    /// Makes everything sled has flushed durable: new blob files and their
    /// directory first, then the log that points to them.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        let mut current = HashSet::with_capacity(self.synced.len());
        let mut new = false;
        let entries = match std::fs::read_dir(&self.blobs) {
            Ok(entries) => Some(entries),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        for entry in entries.into_iter().flatten() {
            let name = entry?.file_name();
            if !self.synced.contains(&name) {
                match File::open(self.blobs.join(&name)) {
                    Ok(f) => f.sync_data()?,
                    // Collected by sled since it was listed.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                new = true;
            }
            current.insert(name);
        }
        if new {
            File::open(&self.blobs)?.sync_all()?;
        }
        self.synced = current;
        self.db_file.sync_data()
    }
}
