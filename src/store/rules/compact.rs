//! What a compaction pass of the feed log drops, the same for both
//! backends (each reads its log in sequence order into a [`Planner`], then
//! deletes the planned entries its own way, raising the horizon first).
//!
//! Rules (docs/design.md, "Feed compaction"):
//!
//! - an entry followed, later in the log, by a removal of the same
//!   indicator is dropped: a follower that had not read it yet reads the
//!   removal instead, and a removal of something it never saw is harmless;
//! - a removal (tombstone) is dropped once it is older than the retention,
//!   but only within the oldest prefix of the log whose entries are all
//!   older than it (commit times need not increase with sequence numbers
//!   across nodes), so every removal above the horizon is still kept;
//! - the horizon is the highest sequence number of a dropped removal: a
//!   follower at or above it has missed nothing.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::store::{FeedEntry, Op};

/// Reads the log in sequence order and plans what to drop.
pub(crate) struct Planner {
    older_than: OffsetDateTime,
    /// Still in the prefix of entries older than the retention.
    old_prefix: bool,
    /// Entries of indicators with no removal after them, by id.
    pending: HashMap<u128, Vec<u64>>,
    drop: Vec<u64>,
    horizon: u64,
    scanned: u64,
    tombstones: u64,
}

/// A planned pass: the sequence numbers to drop (ascending) and the horizon.
pub(crate) struct Plan {
    pub(crate) drop: Vec<u64>,
    pub(crate) horizon: u64,
    pub(crate) scanned: u64,
    pub(crate) tombstones: u64,
}

impl Plan {
    /// What the pass reports (the same on both backends).
    pub(crate) fn summary(&self) -> crate::store::Compaction {
        crate::store::Compaction {
            scanned: self.scanned,
            dropped: self.drop.len() as u64,
            tombstones: self.tombstones,
            horizon: self.horizon,
        }
    }
}

/// An indicator id (a UUID) as 16 bytes; `None` for anything else, whose
/// entries are then never dropped.
fn id_key(id: &str) -> Option<u128> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

impl Planner {
    /// A pass dropping removals committed before `older_than`, from a store
    /// whose horizon is `horizon`.
    pub(crate) fn new(older_than: OffsetDateTime, horizon: u64) -> Planner {
        Planner {
            older_than,
            old_prefix: true,
            pending: HashMap::new(),
            drop: Vec::new(),
            horizon,
            scanned: 0,
            tombstones: 0,
        }
    }

    /// The next entry of the log (ascending sequence numbers).
    pub(crate) fn see(&mut self, e: &FeedEntry) {
        self.see_parts(e.seq, e.op, e.at, &e.indicator.id);
    }

    /// [`Planner::see`] from the only fields a plan depends on.
    pub(crate) fn see_parts(&mut self, seq: u64, op: Op, at: OffsetDateTime, id: &str) {
        self.scanned += 1;
        if at >= self.older_than {
            self.old_prefix = false;
        }
        let Some(id) = id_key(id) else { return };
        if op != Op::Remove {
            self.pending.entry(id).or_default().push(seq);
            return;
        }
        if let Some(earlier) = self.pending.remove(&id) {
            self.drop.extend(earlier);
        }
        if self.old_prefix {
            self.drop.push(seq);
            self.horizon = self.horizon.max(seq);
        } else {
            self.tombstones += 1;
        }
    }

    /// The plan, once the whole log was seen.
    pub(crate) fn finish(mut self) -> Plan {
        self.drop.sort_unstable();
        Plan { drop: self.drop, horizon: self.horizon, scanned: self.scanned, tombstones: self.tombstones }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, op: Op, id: &str, at: i64) -> FeedEntry {
        let t = OffsetDateTime::from_unix_timestamp(at).unwrap();
        let at = t.format(&time::format_description::well_known::Rfc3339).unwrap();
        let indicator = serde_json::json!({
            "id": id, "type": "domain", "value": "x.example", "category": "malware", "confidence": 50,
            "tlp": "green", "first_seen": at, "last_seen": at, "sources": {"count": 1, "sectors": []},
            "policy": "p@h",
        });
        FeedEntry {
            seq,
            op,
            at: t,
            reason: None,
            indicator: serde_json::from_value(indicator).unwrap(),
            withdrawn: false,
        }
    }

    const A: &str = "00000000-0000-4000-8000-00000000000a";
    const B: &str = "00000000-0000-4000-8000-00000000000b";

    #[test]
    fn drops_what_a_removal_supersedes_and_old_removals_in_the_old_prefix() {
        let mut p = Planner::new(OffsetDateTime::from_unix_timestamp(100).unwrap(), 0);
        for e in [
            entry(1, Op::Add, A, 10),
            entry(2, Op::Add, B, 10),
            entry(3, Op::Update, A, 20),
            entry(4, Op::Remove, A, 30),
            entry(6, Op::Remove, B, 200),
            entry(7, Op::Add, A, 50),
        ] {
            p.see(&e);
        }
        let plan = p.finish();
        // A's add and update go with its old removal (4, the horizon); B's
        // add goes, its young removal stays; A's later life (7) stays.
        assert_eq!(plan.drop, vec![1, 2, 3, 4]);
        assert_eq!(plan.horizon, 4);
        assert_eq!((plan.scanned, plan.tombstones), (6, 1));
    }

    #[test]
    fn an_old_removal_after_a_young_entry_is_kept() {
        let mut p = Planner::new(OffsetDateTime::from_unix_timestamp(100).unwrap(), 2);
        for e in [entry(3, Op::Add, B, 150), entry(4, Op::Add, A, 10), entry(5, Op::Remove, A, 20)] {
            p.see(&e);
        }
        let plan = p.finish();
        assert_eq!(plan.drop, vec![4]);
        assert_eq!(plan.horizon, 2, "the horizon never goes down, and moves only with a dropped removal");
    }
}
