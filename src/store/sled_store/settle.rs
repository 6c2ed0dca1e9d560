//! Settling sled's page cache after a cold read of the log.
//!
//! sled 0.34 charges a page to its cache (`Lru::accessed`) through 256
//! shards (page id mod 256), each with a queue of accesses that is applied
//! to the shard's LRU list only when a block of 64 accesses fills. A page
//! pulled from disk is resident at once but in no LRU list until its
//! shard's block fills, so nothing pages it out: up to 63 pages a shard
//! stay resident beyond the cache's capacity. A read of the whole log from
//! the start (a TAXII or MISP catch-up, a large MISP event) pulls each leaf
//! of the log once and leaves the last partial block of every shard full of
//! cold leaves, ≈ 0.2–0.3 GB at 1–2M indicators, until 64 more accesses
//! reach each shard, which on a quiet server may be never
//! (docs/performance.md, "Memory with every snapshot built").
//!
//! So once the cold reads stop (nothing read from the log on disk for
//! [`QUIET`]), a short-lived thread reads the log's tail ([`Settle::bytes`],
//! a quarter of the cache, so it stays cached) [`PASSES`] times: every shard
//! holding one of its leaves gets 64 accesses or more, the pending blocks
//! are applied, and the cold leaves join the LRU lists, which page them
//! out. The accesses left pending are then to the tail's leaves, resident
//! and cached anyway. Only keys and value handles are touched (sled hands
//! out reference-counted slices of the node): nothing is decrypted or
//! decoded. It costs about as much as reading the tail from memory
//! `PASSES` times (≈ 0.2 s for 16 MiB) and runs only after cold reads of at
//! least as many bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::store::rules::keys::seq_key;

/// No cold read for this long: the catch-up is over.
const QUIET: Duration = Duration::from_millis(300);

/// Reads of the tail: enough for a shard with one of its leaves to fill a
/// block of 64 accesses.
const PASSES: usize = 64;

/// Cold reads of the log, and whether a thread is settling after them.
pub(super) struct Settle {
    /// Bytes of feed blobs read from the tree (not from the recent entries)
    /// since the last settle.
    pub(super) cold: AtomicU64,
    /// A settle thread is waiting or running.
    pub(super) running: AtomicBool,
    /// Bytes of the log's tail a settle reads: a quarter of sled's cache.
    bytes: u64,
}

impl Settle {
    pub(super) fn new(cache_bytes: u64) -> Settle {
        Settle { cold: AtomicU64::new(0), running: AtomicBool::new(false), bytes: (cache_bytes / 4).max(64 << 10) }
    }

    /// `bytes` of feed blobs were read from the tree.
    pub(super) fn read_cold(&self, bytes: u64) {
        self.cold.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Whether enough was read cold to settle and no thread does it yet
    /// (then the caller starts one, [`Settle::run`]).
    pub(super) fn claim(&self) -> bool {
        self.cold.load(Ordering::Relaxed) >= self.bytes && !self.running.swap(true, Ordering::AcqRel)
    }

    /// The thread that claimed could not start.
    pub(super) fn release(&self) {
        self.running.store(false, Ordering::Release);
    }

    /// Waits until the cold reads stop, then reads the tail of the log;
    /// again if more was read cold meanwhile. Errors are ignored: the next
    /// read reports them.
    pub(super) fn run(self: Arc<Self>, tree: sled::Tree) {
        loop {
            let mut seen = self.cold.load(Ordering::Relaxed);
            loop {
                std::thread::sleep(QUIET);
                let now = self.cold.load(Ordering::Relaxed);
                if now == seen {
                    break;
                }
                seen = now;
            }
            self.cold.fetch_sub(seen, Ordering::Relaxed);
            let _ = touch_tail(&tree, self.bytes, PASSES);
            if self.cold.load(Ordering::Relaxed) < self.bytes {
                break;
            }
        }
        self.running.store(false, Ordering::Release);
        // A cold read between the check and the store claims next time.
    }
}

/// Reads the last `bytes` of the log (whole blobs) `passes` times, keys and
/// value handles only.
fn touch_tail(tree: &sled::Tree, bytes: u64, passes: usize) -> Result<(), sled::Error> {
    let (lo, hi) = (seq_key(b"l/", 0), seq_key(b"l/", u64::MAX));
    let mut start = None;
    let mut sum = 0u64;
    for kv in tree.range(lo..hi.clone()).rev() {
        let (k, v) = kv?;
        sum += v.len() as u64;
        start = Some(k.to_vec());
        if sum >= bytes {
            break;
        }
    }
    let Some(start) = start else { return Ok(()) };
    for _ in 1..passes {
        for kv in tree.range(start.clone()..hi.clone()) {
            kv?;
        }
    }
    Ok(())
}
