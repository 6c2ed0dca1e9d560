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

/// When each live indicator ends.
///
/// No queue sorted by end: the ends are scanned when the earliest may be
/// due (`lower` says when), which costs a pass over the dense vectors
/// (≈ 10 ms at 2M) only when something expires, where a binary heap of
/// `(end, id)` took 24 more bytes an indicator (up to 1.25 times, with the
/// entries of renewed and removed indicators). What falls due comes out in
/// the same order: end, then id.
#[derive(Default)]
struct Schedule {
    /// Each live indicator's end, in Unix seconds rounded up (a
    /// [`DenseMap`]: 24 bytes an entry and a slot of 4, where a `HashMap`
    /// took 25-byte buckets, half of them empty at 2M). Not the ids taken
    /// by [`Schedule::due`].
    ends: DenseMap<[u8; 16], i64>,
    /// The ids taken by [`Schedule::due`] (handed to the store to expire)
    /// and their end, until the log says what became of them: a removal
    /// or another end puts them back in the schedule's hands; the same end
    /// again leaves them here, never due twice for one end.
    taken: DenseMap<[u8; 16], i64>,
    /// No end in `ends` is earlier than this (`None`: at or after every
    /// end; exact after a scan, lowered by every insertion).
    lower: Option<i64>,
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
                self.taken.remove(&id);
            }
            (Op::Add | Op::Update, Some(t)) => {
                let end = end_secs(t);
                match self.taken.get(&id) {
                    // Taken for this end already: not due again.
                    Some(e) if *e == end => {}
                    _ => {
                        self.taken.remove(&id);
                        self.ends.insert(id, end);
                        self.lower = Some(self.lower.map_or(end, |l| l.min(end)));
                    }
                }
            }
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

    /// The earliest end, or a time before it (`None`: nothing scheduled).
    fn next(&self) -> Option<i64> {
        self.lower.filter(|_| !self.ends.is_empty())
    }

    /// Takes the indicators due at `now` (Unix seconds) out of the schedule,
    /// earliest end first, then by id.
    fn due(&mut self, now: i64) -> Vec<([u8; 16], i64)> {
        if self.next().is_none_or(|l| l > now) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut lower = None::<i64>;
        for (id, end) in self.ends.iter() {
            if *end <= now {
                out.push((*id, *end));
            } else {
                lower = Some(lower.map_or(*end, |l| l.min(*end)));
            }
        }
        for (id, end) in &out {
            self.ends.remove(id);
            self.taken.insert(*id, *end);
        }
        self.lower = lower;
        out.sort_unstable_by_key(|(id, end)| (*end, *id));
        out
    }

    /// Gives back what [`Schedule::due`] took, when the store could not expire it.
    fn give_back(&mut self, due: Vec<([u8; 16], i64)>) {
        for (id, end) in due {
            if self.taken.remove(&id).is_some() {
                self.ends.insert(id, end);
                self.lower = Some(self.lower.map_or(end, |l| l.min(end)));
            }
        }
    }

    /// How long until the next end (or [`MAX_SLEEP`]).
    fn wait(&self, now: OffsetDateTime) -> Duration {
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
            schedule.give_back(due);
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
        assert!(s.next().is_some_and(|l| l <= 150), "a bound at or before the earliest end");
        assert!(s.due(149).is_empty());
        assert_eq!(s.next(), Some(150), "exact after a scan");
        let due: Vec<String> = s.due(300).iter().map(|(id, _)| uuid_v4_from(id)).collect();
        assert_eq!(due, vec![c, a], "earliest first, each once, in the store's id form");
        assert_eq!(s.next(), None);
    }

    #[test]
    fn renewals_leave_each_id_due_once_in_order() {
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
            }
        }
        let due = s.due(10_000);
        assert_eq!(due.len(), ids.len(), "each once");
        let mut sorted = due.clone();
        sorted.sort();
        sorted.sort_by_key(|(_, end)| *end);
        assert_eq!(due, sorted, "earliest end first, then id order");
        assert!(due.iter().all(|(id, end)| s.taken.get(id) == Some(end) && !s.ends.contains_key(id)));
        assert!(s.due(20_000).is_empty(), "taken once");
    }

    /// What was taken is not due again for the same end (an update that
    /// keeps it), is due again for another end, leaves with a removal, and
    /// comes back when the store could not expire it.
    #[test]
    fn taken_ids_follow_the_log_and_come_back_after_a_failure() {
        let a = crate::store::indicator_id(IndicatorType::Domain, "a.example");
        let b = crate::store::indicator_id(IndicatorType::Domain, "b.example");
        let c = crate::store::indicator_id(IndicatorType::Domain, "c.example");
        let mut s = Schedule::default();
        s.apply(&entry(1, Op::Add, &a, at(100)));
        s.apply(&entry(2, Op::Add, &b, at(100)));
        s.apply(&entry(3, Op::Add, &c, at(100)));
        assert_eq!(s.due(100).len(), 3);
        assert_eq!(s.next(), None);
        s.apply(&entry(4, Op::Update, &a, at(100))); // same end: stays taken
        s.apply(&entry(5, Op::Update, &b, at(400))); // another end
        s.apply(&entry(6, Op::Remove, &c, at(100)));
        assert!(s.taken.get(&id_bytes(&c).unwrap()).is_none());
        assert!(s.due(399).is_empty());
        let due = s.due(400);
        assert_eq!(due, vec![(id_bytes(&b).unwrap(), 400)]);
        s.give_back(due.clone());
        assert_eq!(s.next(), Some(400));
        assert_eq!(s.due(500), due, "due again after a failure");
    }

    #[test]
    fn ends_round_up_to_the_second() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_000_000_000_500_000_000).unwrap();
        assert_eq!(end_secs(t), 1_000_000_001);
        assert_eq!(end_secs(at(7).unwrap()), 7);
    }
}
