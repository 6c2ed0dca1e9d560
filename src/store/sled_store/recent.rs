//! The feed's most recent entries, decoded, in memory: what the writer has
//! just committed, for the followers (the blocklist builder, the expiry
//! task, the TAXII and MISP catch-ups) to read without opening and parsing
//! the feed blobs the writer has just sealed.
//!
//! The writer hands its group's entries over after the group is flushed
//! and fsync'd and before it publishes the new head, so a read that loaded
//! the head first finds every entry up to it here, and nothing is served
//! before it is durable. A read is served from memory only when the whole
//! range it asks for is here: `since` at or above [`Inner::from`] (every
//! entry of the log above `from` and up to `to` is held) and the head it
//! loaded at or below [`Inner::to`]; anything else (a cold start, a
//! follower that fell behind the window, a store that recovered from a
//! write error) reads the log on disk as before. Compaction removes what it
//! drops from the log here too, so both answer the same entries.
//!
//! Bounded by an estimate of the entries' heap size ([`BUDGET_BYTES`]); the
//! oldest leave first. The entries are the same the followers hold once
//! they read them: nothing of them is written anywhere.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::store::{FeedEntry, Op};

/// Most bytes (estimated) of entries held: at ~600 bytes an entry, about
/// 55,000 entries, a second of submissions at 50,000 a second. The
/// followers read after a pause (the expiry task a second after a commit,
/// the blocklist builder at least 250 ms and twice its last build after
/// one), so a window much smaller than what arrives meanwhile would never
/// serve them at full rate.
pub(super) const BUDGET_BYTES: usize = 32 << 20;

/// The recent entries and what the writer knows of the log's tail.
pub(super) struct Recent {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Every entry the log holds with `from < seq <= to` is in `entries`.
    from: u64,
    /// The head up to which entries were handed over.
    to: u64,
    entries: VecDeque<Arc<FeedEntry>>,
    /// Estimated heap bytes of `entries`.
    bytes: usize,
    /// The writer handed over every entry committed above this, without a
    /// break (eviction does not move it; a discontinuity does).
    tracked_from: u64,
    /// The highest sequence number of a removal handed over (0: none).
    last_removal: u64,
    /// Most estimated bytes held ([`BUDGET_BYTES`]; smaller in tests).
    budget: usize,
}

/// Heap bytes an entry takes, roughly (allocator overhead left out).
fn estimate(e: &FeedEntry) -> usize {
    let i = &e.indicator;
    let strings = |v: &[String]| v.iter().map(|s| s.len() + 24).sum::<usize>();
    std::mem::size_of::<FeedEntry>()
        + 16
        + e.reason.as_ref().map_or(0, String::len)
        + i.id.len()
        + i.value.len()
        + i.value_form.as_ref().map_or(0, String::len)
        + i.description.as_ref().map_or(0, String::len)
        + i.attributes.iter().map(|(k, v)| k.len() + v.len() + 64).sum::<usize>()
        + strings(&i.tags)
        + strings(&i.sources.sectors)
        + strings(&i.sources.names)
        + i.policy.len()
}

/// Where the log stood at a compaction pass, for the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tail {
    /// The writer handed over every entry above this without a break.
    pub(super) tracked_from: u64,
    /// The highest sequence number of a removal handed over.
    pub(super) last_removal: u64,
    /// The head up to which the writer handed entries over.
    pub(super) to: u64,
}

impl Recent {
    /// A window that starts at `head` (the log's head at open).
    pub(super) fn new(head: u64) -> Recent {
        let inner = Inner { from: head, to: head, tracked_from: head, budget: BUDGET_BYTES, ..Inner::default() };
        Recent { inner: Mutex::new(inner) }
    }

    /// The writer committed `entries` (durably), moving the head from
    /// `prev` to `head`. Called before the new head is published.
    pub(super) fn push(&self, prev: u64, head: u64, entries: Vec<FeedEntry>) {
        let mut g = self.inner.lock().expect("lock");
        let contiguous = entries.iter().zip(prev + 1..).all(|(e, s)| e.seq == s)
            && prev + entries.len() as u64 == head
            && head >= prev;
        if g.to != prev || !contiguous {
            // A break (a write error, a recovery): start again from here.
            let start = if contiguous { prev } else { head };
            g.entries.clear();
            g.bytes = 0;
            g.from = start;
            g.to = start;
            g.tracked_from = start;
            g.last_removal = 0;
            if !contiguous {
                return;
            }
        }
        for e in entries {
            if e.op == Op::Remove {
                g.last_removal = e.seq;
            }
            g.bytes += estimate(&e);
            g.entries.push_back(Arc::new(e));
        }
        g.to = head;
        while g.bytes > g.budget {
            let Some(old) = g.entries.pop_front() else { break };
            g.bytes = g.bytes.saturating_sub(estimate(&old));
            g.from = old.seq;
        }
    }

    /// The entries `since < seq <= head`, at most `limit` (`limit > 0`),
    /// when the window holds that whole range; `None` otherwise.
    pub(super) fn get(&self, since: u64, limit: usize, head: u64) -> Option<Vec<Arc<FeedEntry>>> {
        if limit == 0 {
            return None;
        }
        let g = self.inner.lock().expect("lock");
        if since < g.from || head > g.to {
            return None;
        }
        let start = g.entries.partition_point(|e| e.seq <= since);
        Some(g.entries.range(start..).take_while(|e| e.seq <= head).take(limit).cloned().collect())
    }

    /// Compaction dropped these sequence numbers (ascending) from the log.
    pub(super) fn forget(&self, dropped: &[u64]) {
        let mut g = self.inner.lock().expect("lock");
        let Some(first) = g.entries.front().map(|e| e.seq) else { return };
        if dropped.last().is_none_or(|last| *last < first) {
            return;
        }
        let mut freed = 0;
        g.entries.retain(|e| {
            let gone = dropped.binary_search(&e.seq).is_ok();
            if gone {
                freed += estimate(e);
            }
            !gone
        });
        g.bytes = g.bytes.saturating_sub(freed);
    }

    /// Empties the window (a compaction pass that failed part-way): reads
    /// go to the log until the writer hands over more.
    pub(super) fn clear(&self) {
        let mut g = self.inner.lock().expect("lock");
        g.entries.clear();
        g.bytes = 0;
        g.from = g.to;
    }

    /// What the writer knows of the log's tail.
    pub(super) fn tail(&self) -> Tail {
        let g = self.inner.lock().expect("lock");
        Tail { tracked_from: g.tracked_from, last_removal: g.last_removal, to: g.to }
    }

    /// Sets the budget (tests: a small window).
    #[cfg(test)]
    pub(super) fn set_budget(&self, bytes: usize) {
        self.inner.lock().expect("lock").budget = bytes;
    }

    /// Entries held, their estimated bytes and the window (tests).
    #[cfg(test)]
    pub(super) fn held(&self) -> (usize, usize, u64, u64) {
        let g = self.inner.lock().expect("lock");
        (g.entries.len(), g.bytes, g.from, g.to)
    }
}
