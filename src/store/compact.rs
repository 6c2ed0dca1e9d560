//! The feed log's compaction task: runs [`Store::compact`] with the
//! retention of `[feed] tombstone_retention`, whatever the backend, every
//! [`interval`] and as soon as the log has grown by [`AFTER_ENTRIES`] since
//! the last pass (a large expiry or retraction), or by half of what the last
//! pass kept when that is more: a pass reads the whole retained log, so
//! passes stay a constant cost per new entry however large the live set. Nodes sharing a database
//! run it one at a time (the [`LEASE`]); the embedded store always holds it.
//! The pass itself never holds the writer (see each backend).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Compaction, Store, StoreError};

/// The lease nodes take to compact.
pub const LEASE: &str = "feed-compaction";
/// How long a node holds the lease without renewing it.
const LEASE_TTL: Duration = Duration::from_secs(600);
/// New entries since the last pass that start one at once.
pub const AFTER_ENTRIES: u64 = 50_000;

/// Time between passes: half the retention, from one second to an hour.
pub fn interval(retention: Duration) -> Duration {
    (retention / 2).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

/// One pass if this node holds the lease: `Ok(None)` when another does.
pub async fn once(store: &dyn Store, holder: &str, retention: Duration) -> Result<Option<Compaction>, StoreError> {
    if !store.lease(LEASE, holder, LEASE_TTL).await? {
        return Ok(None);
    }
    let older_than = time::OffsetDateTime::now_utc() - retention;
    let done = store.compact(older_than).await?;
    if done.dropped > 0 {
        tracing::info!(
            dropped = done.dropped,
            scanned = done.scanned,
            tombstones = done.tombstones,
            horizon = done.horizon,
            "feed log compacted"
        );
    }
    Ok(Some(done))
}

/// Compacts `store`'s feed log until `shutdown` completes.
pub async fn run(store: Arc<dyn Store>, retention: Duration, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    let holder = super::random_uuid();
    let every = interval(retention);
    let mut changes = store.changes();
    // At the last pass: the head, the removals kept and the entries kept
    // (`None`: no pass yet).
    let mut last: Option<(u64, u64, u64)> = None;
    let mut due = Instant::now();
    loop {
        changes.borrow_and_update();
        let head = store.head();
        let grown = last.is_none_or(|(h, _, kept)| head.saturating_sub(h) >= AFTER_ENTRIES.max(kept / 2));
        if grown || Instant::now() >= due {
            // Nothing new and no removal left to age: no pass.
            let idle = last.is_some_and(|(h, tombstones, _)| h == head && tombstones == 0);
            if !idle {
                tokio::select! {
                    () = &mut shutdown => return,
                    r = once(store.as_ref(), &holder, retention) => match r {
                        Ok(Some(done)) => last = Some((head, done.tombstones, done.scanned - done.dropped)),
                        Ok(None) => last = Some((head, 1, 0)),
                        Err(e) => tracing::warn!(error = %e, "feed compaction failed; retrying later"),
                    },
                }
            }
            due = Instant::now() + every;
        }
        tokio::select! {
            () = &mut shutdown => return,
            r = changes.changed() => if r.is_err() { return },
            () = tokio::time::sleep_until(due) => {}
        }
    }
}
