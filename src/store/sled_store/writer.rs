//! The single writer thread of the sled store. It takes every pending
//! request, applies them in one atomic sled batch ([`commit`](super::commit)),
//! calls `flush()` and `fdatasync` ([`durable`](super::durable)) once, then
//! answers each request on its own reply channel.
//!
//! A write error (a full disk) marks the store failed: `/readyz` says so,
//! writes are refused with a clear error, and the writer probes the disk and
//! the database every second until both work again, or exits the process
//! when sled cannot recover in-process (sled keeps an I/O error for the life
//! of the process), so that the supervisor restarts it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::tree::read_u64;
use crate::audit::GENESIS;
use crate::store::anchor::AnchorFile;
use crate::store::crypto::Sealer;
use crate::store::rules::keys::{Keys, M_AUDIT_HEAD, M_AUDIT_SEQ, M_LOG_SEQ, M_PROBE, M_REC_SEQ};
use crate::store::rules::request::Request;
use crate::store::{Fault, StoreError};

/// Exit status when sled cannot recover from a write error in-process
/// (EX_TEMPFAIL): a supervisor restarts the exchange.
pub const EXIT_UNRECOVERABLE: i32 = 75;

/// How often a failed store re-probes the disk and the database.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Failed database probes, with a working disk, before giving up in-process.
const UNRECOVERABLE_PROBES: u32 = 3;
/// A database probe that takes longer is stuck: after an I/O error sled's
/// `flush()` can wait forever for a buffer that will never be written.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most requests in one group commit.
const MAX_GROUP: usize = 256;

/// Test hook: makes commits (and recovery probes) fail as on a full disk.
#[doc(hidden)]
#[derive(Default)]
pub struct FailPoint(AtomicU8);

/// What the [`FailPoint`] simulates.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// Normal operation.
    Off = 0,
    /// The write fails before anything is applied (nothing stored).
    BeforeApply = 1,
    /// The batch is applied but the flush fails (outcome unknown).
    AfterApply = 2,
}

impl FailPoint {
    pub fn set(&self, mode: FailMode) {
        self.0.store(mode as u8, Ordering::SeqCst);
    }

    pub(super) fn mode(&self) -> FailMode {
        match self.0.load(Ordering::SeqCst) {
            1 => FailMode::BeforeApply,
            2 => FailMode::AfterApply,
            _ => FailMode::Off,
        }
    }
}

/// The full disk the [`FailPoint`] simulates.
pub(super) fn simulated_full_disk() -> Fault {
    Fault::new(std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device (simulated)"))
}

/// State the writer shares with readers.
pub(super) struct Shared {
    /// `Some(why)` while the store cannot write.
    pub(super) failure: Mutex<Option<Fault>>,
    /// The latest audit record `(seq, hash)`.
    pub(super) audit_head: Mutex<(u64, String)>,
    pub(super) fail: FailPoint,
}

/// The single writer: owns the sequence counters and applies group commits.
pub(super) struct Writer {
    pub(super) db: sled::Db,
    /// Syncs sled's files after each flush (an answer means fsync'd).
    pub(super) disk: super::durable::DiskSync,
    pub(super) tree: sled::Tree,
    pub(super) sealer: Arc<Sealer>,
    pub(super) keys: Arc<Keys>,
    pub(super) head: Arc<AtomicU64>,
    /// The feed's recent entries, handed to the readers after each commit.
    pub(super) recent: Arc<super::recent::Recent>,
    pub(super) log_seq: u64,
    /// The last indicator-record sequence allocated (`m/rec_seq`).
    pub(super) rec_seq: u64,
    /// Indicator HMAC → record sequence, shared with the readers.
    pub(super) index: super::records::Index,
    pub(super) audit_seq: u64,
    pub(super) audit_head: String,
    /// Announces the new feed head after each commit (blocklist rebuilds...).
    pub(super) changes: tokio::sync::watch::Sender<u64>,
    pub(super) shared: Arc<Shared>,
    /// Where the head is anchored, unless the anchor did not match at start.
    pub(super) anchor: Option<Arc<AnchorFile>>,
    /// Cap of a contribution's `valid_until` after receipt.
    pub(super) max_validity: time::Duration,
    /// The data directory (disk probes).
    pub(super) dir: PathBuf,
    /// Exit when sled cannot recover in-process.
    pub(super) exit_on_unrecoverable: bool,
    /// When the failed store last probed.
    pub(super) last_probe: Instant,
    /// Consecutive database probes that failed while the disk worked.
    pub(super) sled_probe_failures: u32,
    /// A database probe never returned: sled is stuck for this process.
    pub(super) sled_stuck: bool,
}

/// Writes and removes a small file in the data directory, synced: fails
/// while the disk is full.
fn probe_disk(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let p = dir.join("tamis-probe.tmp");
    let r = std::fs::File::create(&p).and_then(|mut f| {
        f.write_all(&[0u8; 64 * 1024])?;
        f.sync_data()
    });
    let _ = std::fs::remove_file(&p);
    r
}

impl Writer {
    /// Runs until every sender is gone, committing requests in groups.
    pub(super) fn run(mut self, rx: mpsc::Receiver<Request>) {
        loop {
            let first = if self.failure().is_some() {
                match rx.recv_timeout(PROBE_INTERVAL) {
                    Ok(r) => Some(r),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match rx.recv() {
                    Ok(r) => Some(r),
                    Err(_) => return,
                }
            };
            if self.failure().is_some() && self.last_probe.elapsed() >= PROBE_INTERVAL {
                self.probe();
            }
            let Some(first) = first else { continue };
            let mut reqs = vec![first];
            while reqs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(r) => reqs.push(r),
                    Err(_) => break,
                }
            }
            if let Some(why) = self.failure() {
                let e = StoreError::Refused(why);
                for r in reqs {
                    r.fail(&e);
                }
                continue;
            }
            self.commit_group(reqs);
        }
    }

    fn failure(&self) -> Option<Fault> {
        self.shared.failure.lock().expect("lock").clone()
    }

    pub(super) fn set_failure(&self, why: Option<Fault>) {
        *self.shared.failure.lock().expect("lock") = why;
    }

    /// Tries the disk, then the database; clears the failure when both work.
    fn probe(&mut self) {
        self.last_probe = Instant::now();
        let disk = match self.shared.fail.mode() {
            FailMode::Off => probe_disk(&self.dir).map_err(Fault::new),
            _ => Err(simulated_full_disk()),
        };
        if let Err(e) = disk {
            self.sled_probe_failures = 0;
            self.set_failure(Some(e));
            return;
        }
        if self.sled_stuck {
            self.set_failure(Some(Fault::described("database: stuck after a write error; restart tamis")));
            return;
        }
        match self.probe_database() {
            Ok(()) => self.recovered(),
            Err(e) => self.database_still_failing(e),
        }
    }

    /// Writes and flushes a probe key, on its own thread: after an I/O error
    /// sled's flush may never return.
    fn probe_database(&mut self) -> Result<(), Fault> {
        let (tx, rx) = mpsc::channel();
        let (tree, db) = (self.tree.clone(), self.db.clone());
        let spawned = std::thread::Builder::new().name("tamis-probe".into()).spawn(move || {
            let stamp = OffsetDateTime::now_utc().unix_timestamp().to_be_bytes();
            let _ = tx.send(tree.insert(M_PROBE, &stamp).and_then(|_| db.flush()).map(|_| ()).map_err(Fault::new));
        });
        match spawned {
            Err(e) => Err(Fault::described(format!("cannot start the probe: {e}"))),
            Ok(_) => rx.recv_timeout(PROBE_TIMEOUT).unwrap_or_else(|_| {
                self.sled_stuck = true;
                self.sled_probe_failures = UNRECOVERABLE_PROBES;
                Err(Fault::described("flush does not return after the write error"))
            }),
        }
    }

    /// Both probes worked: goes on from what the tree holds (whatever an
    /// unconfirmed group applied is in it) and accepts writes again.
    fn recovered(&mut self) {
        let heads = (read_u64(&self.tree, M_LOG_SEQ), read_u64(&self.tree, M_AUDIT_SEQ), self.tree.get(M_AUDIT_HEAD));
        let index = super::records::load_index(&self.tree);
        let (Ok(l), Ok(a), Ok(h), Ok(r), Ok(index)) =
            (heads.0, heads.1, heads.2, read_u64(&self.tree, M_REC_SEQ), index)
        else {
            return;
        };
        *self.index.write().expect("lock") = index;
        self.log_seq = l;
        self.rec_seq = r;
        self.audit_seq = a;
        self.audit_head = h.map(|h| String::from_utf8_lossy(&h).into_owned()).unwrap_or_else(|| GENESIS.to_owned());
        self.sled_probe_failures = 0;
        self.set_failure(None);
        *self.shared.audit_head.lock().expect("lock") = (self.audit_seq, self.audit_head.clone());
        self.head.store(self.log_seq, Ordering::Release);
        let _ = self.changes.send(self.log_seq);
        tracing::warn!("store recovered: writes are accepted again");
    }

    /// The disk works but the database does not: after a few probes, exits
    /// so that the supervisor restarts tamis (when serving).
    fn database_still_failing(&mut self, e: Fault) {
        self.sled_probe_failures += 1;
        self.set_failure(Some(Fault::described(format!("database: {e}"))));
        if self.sled_probe_failures >= UNRECOVERABLE_PROBES && self.exit_on_unrecoverable {
            let msg = "the disk accepts writes again but the database cannot recover from the earlier \
                       write error in this process; exiting so that the supervisor restarts tamis \
                       (every acknowledged write is on disk)";
            tracing::error!(error = %e, code = EXIT_UNRECOVERABLE, "{msg}");
            eprintln!("tamis: {msg} (exit {EXIT_UNRECOVERABLE})");
            std::process::exit(EXIT_UNRECOVERABLE);
        }
    }
}
