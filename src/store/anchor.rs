//! The audit anchor: the latest audit sequence number and head hash, MAC'd
//! under a key derived from the storage key, written OUTSIDE the data
//! directory after every commit that appends audit records.
//!
//! Restoring an older copy of `data/`, or cutting records off the end of the
//! chain, leaves a chain that is valid in itself; only a witness kept
//! elsewhere can tell it is shorter than it was. The anchor is that witness
//! (put it on WORM or remote storage through `audit_anchor` in `tamis.toml`).
//! It is replaced atomically (write a temporary file, rename), never fsynced
//! on its own: like the store's `flush()`, it survives a process crash; after
//! a power loss it may be ahead of the last ~500 ms of records the store lost,
//! and verification then reports those records as missing, which they are.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use sha2::Sha256;

const MAGIC: &str = "tamis-audit-anchor v1";

/// A recorded chain head.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Anchor {
    /// Sequence number of the last audit record when the anchor was written.
    pub seq: u64,
    /// Hash of that record.
    pub hash: String,
}

/// Reads and writes the anchor file.
pub struct AnchorFile {
    /// Where the anchor lives (outside the data directory).
    pub path: PathBuf,
    /// HMAC key derived from the storage key.
    key: [u8; 32],
}

impl AnchorFile {
    pub fn new(path: PathBuf, key: [u8; 32]) -> AnchorFile {
        AnchorFile { path, key }
    }

    fn mac(&self, seq: u64, hash: &str) -> String {
        let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length");
        m.update(b"tamis/audit-anchor/v1\0");
        m.update(&seq.to_be_bytes());
        m.update(hash.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// The anchor, `None` when there is no file yet.
    pub fn read(&self) -> Result<Option<Anchor>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read the audit anchor {}: {e}", self.path.display())),
        };
        let bad = || format!("the audit anchor {} is not valid (edited or damaged)", self.path.display());
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(bad());
        }
        let mut field = |name: &str| lines.next().and_then(|l| l.strip_prefix(name)).map(str::trim).map(str::to_owned);
        let (Some(seq), Some(hash), Some(mac)) = (field("seq "), field("hash "), field("mac ")) else {
            return Err(bad());
        };
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        if mac != self.mac(seq, &hash) {
            return Err(format!(
                "the audit anchor {} does not authenticate (edited, or written by another deployment)",
                self.path.display()
            ));
        }
        Ok(Some(Anchor { seq, hash }))
    }

    /// Replaces the anchor atomically.
    pub fn write(&self, a: &Anchor) -> std::io::Result<()> {
        let tmp = tmp_path(&self.path);
        {
            let mut f = std::fs::File::create(&tmp)?;
            write!(f, "{MAGIC}\nseq {}\nhash {}\nmac {}\n", a.seq, a.hash, self.mac(a.seq, &a.hash))?;
        }
        std::fs::rename(&tmp, &self.path)
    }

    /// Creates the anchor's directory.
    pub fn prepare(&self) -> std::io::Result<()> {
        match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => std::fs::create_dir_all(d),
            _ => Ok(()),
        }
    }
}

fn tmp_path(p: &Path) -> PathBuf {
    let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    p.with_file_name(name)
}

/// Compares a chain (its length and the hash of the record at the anchor's
/// sequence number) with the anchor: `Err` explains a rollback or truncation.
pub fn check(records: u64, hash_at_anchor: Option<&str>, anchor: &Anchor) -> Result<(), String> {
    if records < anchor.seq {
        return Err(format!(
            "rollback or truncation detected: chain has {records} records, anchor says {}",
            anchor.seq
        ));
    }
    if anchor.seq > 0 && hash_at_anchor != Some(anchor.hash.as_str()) {
        return Err(format!(
            "rollback detected: the record at sequence {} is not the one the anchor recorded (the chain was replaced)",
            anchor.seq
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_mac_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let f = AnchorFile::new(dir.path().join("audit/anchor"), [1; 32]);
        f.prepare().unwrap();
        assert_eq!(f.read().unwrap(), None);
        let a = Anchor { seq: 7, hash: "ab".repeat(32) };
        f.write(&a).unwrap();
        assert_eq!(f.read().unwrap(), Some(a.clone()));
        assert!(AnchorFile::new(f.path.clone(), [2; 32]).read().is_err(), "another key must not authenticate");
        let text = std::fs::read_to_string(&f.path).unwrap().replace("seq 7", "seq 3");
        std::fs::write(&f.path, text).unwrap();
        assert!(f.read().unwrap_err().contains("does not authenticate"));
        assert!(check(7, Some(&a.hash), &a).is_ok());
        assert!(check(9, Some(&a.hash), &a).is_ok());
        let e = check(5, None, &a).unwrap_err();
        assert!(e.contains("chain has 5 records, anchor says 7"), "{e}");
        assert!(check(9, Some("cd"), &a).unwrap_err().contains("replaced"));
    }
}
