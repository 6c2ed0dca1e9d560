//! Expiry, owned by the store: indicators leave at their `valid_until`.
//!
//! The task follows the feed through the [`Store`] contract only, so it
//! works the same on every backend. It keeps each live indicator's end in
//! memory (a 16-byte id and a second), sleeps until the earliest one, then
//! asks the store to expire what is due. The store records each change in
//! the feed (a removal with reason `expired`, or an update when another
//! contribution takes the lead), which wakes the blocklist builder and every
//! follower. `Store::expire` re-checks each indicator, so a renewal racing
//! with the task is safe, and so are several nodes expiring the same ids.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::dense_map::DenseMap;
use super::{FeedEntry, Op, Store, StoreError, uuid_v4_from};

/// After a commit, wait this long before catching up, so a burst of
/// submissions costs one read of the feed.
const DEBOUNCE: Duration = Duration::from_secs(1);
/// Retry this soon when the store could not read or expire.
const RETRY: Duration = Duration::from_secs(5);
/// Look again at least this often (a clock that jumped...).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Wake this long after an end.
const SLACK: Duration = Duration::from_millis(50);
/// Feed entries read per request while catching up.
const PAGE: usize = 20_000;

/// When each live indicator ends, earliest first.
#[derive(Default)]
struct Schedule {
    /// Each live indicator's end, in Unix seconds rounded up (a
    /// [`DenseMap`]: 24 bytes an entry and a slot of 4, where a `HashMap`
    /// took 25-byte buckets, half of them empty at 2M).
    ends: DenseMap<[u8; 16], i64>,
    /// The same ends, earliest first. An entry whose indicator was renewed
    /// or removed since is stale and skipped when it comes up.
    queue: BinaryHeap<Reverse<(i64, [u8; 16])>>,
    /// The last feed sequence number applied.
    cursor: u64,
}

/// An indicator id (a UUID) as its 16 bytes.
fn id_bytes(id: &str) -> Option<[u8; 16]> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    hex::decode(hex).ok()?.try_into().ok()
}

/// `t` in Unix seconds, rounded up: an indicator is due once this second began.
fn end_secs(t: OffsetDateTime) -> i64 {
    t.unix_timestamp() + i64::from(t.nanosecond() > 0)
}

impl Schedule {
    fn apply(&mut self, e: &FeedEntry) {
        self.cursor = e.seq;
        let Some(id) = id_bytes(&e.indicator.id) else { return };
        match (e.op, e.indicator.valid_until) {
            (Op::Remove, _) | (_, None) => {
                self.ends.remove(&id);
            }
            (Op::Add | Op::Update, Some(t)) => {
                let end = end_secs(t);
                if self.ends.insert(id, end) != Some(end) {
                    self.queue.push(Reverse((end, id)));
                }
            }
        }
        // Stale entries (renewed or removed since) are dropped by a rebuild
        // once they are a fifth of the queue: the queue takes at most 1.25
        // times the live ends (24 bytes each), where it took up to twice.
        if self.queue.len() > self.ends.len() + self.ends.len() / 4 + 1024 {
            self.queue = self.ends.iter().map(|(id, end)| Reverse((*end, *id))).collect();
        }
    }

    /// Reads the feed up to the store's head.
    /// A cursor below the compaction horizon starts the schedule again from 0.
    async fn catch_up(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        loop {
            let page = match store.feed(self.cursor, PAGE).await {
                Err(StoreError::Compacted { .. }) => {
                    *self = Schedule::default();
                    continue;
                }
                page => page?,
            };
            if page.is_empty() {
                return Ok(());
            }
            page.iter().for_each(|e| self.apply(e));
        }
    }

    /// The earliest live end, dropping stale entries on the way.
    fn next(&mut self) -> Option<i64> {
        while let Some(&Reverse((end, id))) = self.queue.peek() {
            if self.ends.get(&id) == Some(&end) {
                return Some(end);
            }
            self.queue.pop();
        }
        None
    }

    /// Takes the indicators due at `now` (Unix seconds) off the queue.
    fn due(&mut self, now: i64) -> Vec<([u8; 16], i64)> {
        let mut out = Vec::new();
        while let Some(end) = self.next().filter(|end| *end <= now) {
            let Reverse((_, id)) = self.queue.pop().expect("peeked");
            out.push((id, end));
        }
        out
    }

    /// How long until the next end (or [`MAX_SLEEP`]).
    fn wait(&mut self, now: OffsetDateTime) -> Duration {
        let Some(end) = self.next() else { return MAX_SLEEP };
        // A little after the second begins: the wall clock and the timer's
        // clock may drift apart by a few milliseconds.
        let until = OffsetDateTime::from_unix_timestamp(end).unwrap_or(now) - now;
        (Duration::try_from(until).unwrap_or(Duration::ZERO) + SLACK).min(MAX_SLEEP)
    }
}

/// Expires what is due; returns how long to sleep before looking again.
async fn expire_due(store: &dyn Store, schedule: &mut Schedule) -> Duration {
    let now = OffsetDateTime::now_utc();
    let due = schedule.due(now.unix_timestamp());
    if due.is_empty() {
        return schedule.wait(now);
    }
    let ids = due.iter().map(|(id, _)| uuid_v4_from(id)).collect();
    match store.expire(ids, now).await {
        Ok(n) => {
            if n > 0 {
                tracing::info!(count = n, "expired indicators retired");
            }
            schedule.wait(now)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot expire indicators now; retrying");
            schedule.queue.extend(due.into_iter().map(|(id, end)| Reverse((end, id))));
            RETRY
        }
    }
}

/// Runs the expiry of `store` until `shutdown` completes. Started by the
/// server next to the store it serves.
pub async fn run(store: Arc<dyn Store>, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut changes = store.changes();
    let mut schedule = Schedule::default();
    loop {
        changes.borrow_and_update();
        let wait = match schedule.catch_up(store.as_ref()).await {
            Ok(()) => expire_due(store.as_ref(), &mut schedule).await,
            Err(e) => {
                tracing::warn!(error = %e, "expiry cannot read the feed; retrying");
                RETRY
            }
        };
        // The end of the sleep is `wait` away, unless a commit comes first.
        let woke_by_commit = tokio::select! {
            () = &mut shutdown => return,
            r = changes.changed() => match r {
                Ok(()) => true,
                Err(_) => return,
            },
            () = tokio::time::sleep(wait) => false,
        };
        if woke_by_commit {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(DEBOUNCE.min(wait)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Indicator, IndicatorType, Sources, Tlp};

    fn entry(seq: u64, op: Op, id: &str, valid_until: Option<OffsetDateTime>) -> FeedEntry {
        let at = OffsetDateTime::UNIX_EPOCH;
        FeedEntry {
            seq,
            op,
            at,
            reason: None,
            withdrawn: false,
            indicator: Indicator {
                id: id.to_owned(),
                kind: IndicatorType::Domain,
                value: "x.example".into(),
                value_form: None,
                category: Category::Phishing,
                confidence: 50,
                tlp: Tlp::Green,
                first_seen: at,
                last_seen: at,
                valid_until,
                description: None,
                attributes: Default::default(),
                tags: Vec::new(),
                sources: Sources { count: 1, sectors: Vec::new(), names: Vec::new() },
                policy: String::new(),
            },
        }
    }

    fn at(secs: i64) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp(secs).ok()
    }

    /// Renewed and removed indicators are not expired at their old end; ids
    /// round-trip to the store's form.
    #[test]
    fn schedule_follows_renewals_and_removals() {
        let a = crate::store::indicator_id(IndicatorType::Domain, "a.example");
        let b = crate::store::indicator_id(IndicatorType::Domain, "b.example");
        let c = crate::store::indicator_id(IndicatorType::Domain, "c.example");
        let mut s = Schedule::default();
        s.apply(&entry(1, Op::Add, &a, at(100)));
        s.apply(&entry(2, Op::Add, &b, at(100)));
        s.apply(&entry(3, Op::Add, &c, at(150)));
        s.apply(&entry(4, Op::Update, &a, at(200))); // renewed
        s.apply(&entry(5, Op::Remove, &b, at(100))); // retracted
        assert_eq!(s.cursor, 5);
        assert_eq!(s.next(), Some(150));
        assert!(s.due(149).is_empty());
        let due: Vec<String> = s.due(300).iter().map(|(id, _)| uuid_v4_from(id)).collect();
        assert_eq!(due, vec![c, a], "earliest first, each once, in the store's id form");
        assert_eq!(s.next(), None);
    }

    #[test]
    fn renewals_keep_the_queue_bounded_and_each_id_due_once() {
        let ids: Vec<String> =
            (0..3000).map(|k| crate::store::indicator_id(IndicatorType::Domain, &format!("{k}.example"))).collect();
        let mut s = Schedule::default();
        let mut seq = 0;
        for round in 0..4i64 {
            for (k, id) in ids.iter().enumerate() {
                seq += 1;
                s.apply(&entry(
                    seq,
                    if round == 0 { Op::Add } else { Op::Update },
                    id,
                    at(1000 + round * 10 + (k % 7) as i64),
                ));
                assert!(s.queue.len() <= s.ends.len() + s.ends.len() / 4 + 1024 + 1);
            }
        }
        let due = s.due(10_000);
        assert_eq!(due.len(), ids.len(), "each once");
        let mut sorted = due.clone();
        sorted.sort();
        sorted.sort_by_key(|(_, end)| *end);
        assert_eq!(due, sorted, "earliest end first, then id order");
        assert!(due.iter().all(|(id, end)| s.ends.get(id) == Some(end)));
    }

    #[test]
    fn ends_round_up_to_the_second() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_000_000_000_500_000_000).unwrap();
        assert_eq!(end_secs(t), 1_000_000_001);
        assert_eq!(end_secs(at(7).unwrap()), 7);
    }
}
