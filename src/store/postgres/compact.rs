//! Compaction of `tamis_feed` ([`Store::compact`](crate::store::Store::compact)):
//! the entries up to the head are read in pages into the shared
//! [`Planner`](crate::store::rules::compact::Planner), the horizon is
//! raised (one statement, committed before anything is deleted), then the
//! planned rows are deleted [`CHUNK`] at a time, each its own statement.
//! None of it takes the `tamis_head` row lock, so writers are never held;
//! the server runs it on one node at a time (a lease).

use time::OffsetDateTime;

use super::Shared;
use super::conn::{read_error, reader};
use super::reads::horizon;
use crate::store::rules::compact::Planner;
use crate::store::rules::keys::{seq_key, unseal};
use crate::store::{Compaction, FeedEntry, StoreError};

/// Rows read, or deleted, per statement.
const CHUNK: i64 = 5_000;

/// One pass over the entries up to `head`.
pub(super) async fn pass(s: &Shared, older_than: OffsetDateTime, head: u64) -> Result<Compaction, StoreError> {
    let c = reader(s).await?;
    let mut planner = Planner::new(older_than, horizon(s, &c).await?);
    let (mut after, head) = (0i64, head.min(i64::MAX as u64) as i64);
    loop {
        let rows = c
            .query(
                "SELECT seq, v FROM tamis_feed WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                &[&after, &head, &CHUNK],
            )
            .await
            .map_err(|e| read_error(s, e))?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        for r in &rows {
            let seq = r.get::<_, i64>(0) as u64;
            let e: FeedEntry = unseal(&s.sealer, &seq_key(b"l/", seq), r.get::<_, &[u8]>(1))?;
            planner.see(&e);
        }
    }
    let plan = planner.finish();
    let done = plan.summary();
    if plan.drop.is_empty() {
        return Ok(done);
    }
    let raised = plan.horizon.to_be_bytes().to_vec();
    // 8-byte big-endian values compare as their numbers: it never goes down.
    c.execute(
        "INSERT INTO tamis_meta (name, value) VALUES ('feed_horizon', $1) \
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value WHERE tamis_meta.value < EXCLUDED.value",
        &[&raised],
    )
    .await
    .map_err(|e| read_error(s, e))?;
    for chunk in plan.drop.chunks(CHUNK as usize) {
        let seqs: Vec<i64> = chunk.iter().map(|s| *s as i64).collect();
        c.execute("DELETE FROM tamis_feed WHERE seq = ANY($1)", &[&seqs]).await.map_err(|e| read_error(s, e))?;
    }
    Ok(done)
}
