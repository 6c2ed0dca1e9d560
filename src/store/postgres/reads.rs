//! Reads of the PostgreSQL store, on the connection reads share.
//!
//! A feed read is one statement, so it sees one snapshot; since commits are
//! serialized in sequence order (the head row lock), every snapshot holds a
//! prefix of the feed with no hole a later commit could fill.

use crate::audit::{AnchorInfo, AuditRecord, BadRecord, Verification};
use crate::store::anchor::{self, Anchor};
use crate::store::rules::keys::{M_COUNTERS, M_FEEDBACK, key, lookup_bucket_key, seq_key, unseal};
use crate::store::rules::record::{LookupEntry, Record, report_for};
use crate::store::{Counters, DirectoryEntry, FeedEntry, FeedbackReport, PolicyVersion, StoreError};

use super::Shared;
use super::conn::{read_error, reader};
use super::schema::hash_at;

/// Entries after `since`, at most `limit`; with `checked`, then the
/// horizon, read by a later statement: compaction raises it before it
/// deletes, so a removal this read missed has raised it already.
pub(super) async fn feed(s: &Shared, since: u64, limit: usize, checked: bool) -> Result<Vec<FeedEntry>, StoreError> {
    let c = reader(s).await?;
    let (after, limit) = (since.min(i64::MAX as u64) as i64, limit.min(i64::MAX as usize) as i64);
    let rows = c
        .query("SELECT seq, v FROM tamis_feed WHERE seq > $1 ORDER BY seq LIMIT $2", &[&after, &limit])
        .await
        .map_err(|e| read_error(s, e))?;
    if checked && since > 0 {
        let horizon = horizon(s, &c).await?;
        if since < horizon {
            return Err(StoreError::Compacted { since, horizon });
        }
    }
    rows.iter().map(|r| unseal(&s.sealer, &seq_key(b"l/", r.get::<_, i64>(0) as u64), r.get::<_, &[u8]>(1))).collect()
}

/// The feed's compaction horizon (`feed_horizon` in `tamis_meta`; 0 when absent).
pub(super) async fn horizon(s: &Shared, c: &tokio_postgres::Client) -> Result<u64, StoreError> {
    let row = c
        .query_opt("SELECT value FROM tamis_meta WHERE name = 'feed_horizon'", &[])
        .await
        .map_err(|e| read_error(s, e))?;
    Ok(row.and_then(|r| r.get::<_, Vec<u8>>(0).try_into().ok()).map(u64::from_be_bytes).unwrap_or(0))
}

pub(super) async fn audit_log(s: &Shared, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
    let c = reader(s).await?;
    let (after, limit) = (after.min(i64::MAX as u64) as i64, limit.min(i64::MAX as usize) as i64);
    let rows = c
        .query("SELECT seq, v FROM tamis_audit WHERE seq > $1 ORDER BY seq LIMIT $2", &[&after, &limit])
        .await
        .map_err(|e| read_error(s, e))?;
    rows.iter().map(|r| unseal(&s.sealer, &seq_key(b"a/", r.get::<_, i64>(0) as u64), r.get::<_, &[u8]>(1))).collect()
}

pub(super) async fn policy_versions(s: &Shared) -> Result<Vec<PolicyVersion>, StoreError> {
    let c = reader(s).await?;
    let rows = c
        .query("SELECT k, v FROM tamis_kv WHERE k >= $1 AND k < $2 ORDER BY k", &[&&b"p/"[..], &&b"p0"[..]])
        .await
        .map_err(|e| read_error(s, e))?;
    rows.iter().map(|r| unseal(&s.sealer, r.get::<_, &[u8]>(0), r.get::<_, &[u8]>(1))).collect()
}

pub(super) async fn directory(s: &Shared) -> Result<Vec<DirectoryEntry>, StoreError> {
    let c = reader(s).await?;
    let rows = c
        .query("SELECT k, v FROM tamis_kv WHERE k >= $1 AND k < $2 ORDER BY k", &[&&b"d/"[..], &&b"d0"[..]])
        .await
        .map_err(|e| read_error(s, e))?;
    rows.iter().map(|r| unseal(&s.sealer, r.get::<_, &[u8]>(0), r.get::<_, &[u8]>(1))).collect()
}

/// A named consumer's saved feed position (`c/<name>` in `tamis_kv`).
pub(super) async fn cursor(s: &Shared, name: &str) -> Result<Option<u64>, StoreError> {
    let c = reader(s).await?;
    let k = key(b"c/", name.as_bytes());
    let row = c.query_opt("SELECT v FROM tamis_kv WHERE k = $1", &[&k]).await.map_err(|e| read_error(s, e))?;
    row.map(|r| unseal(&s.sealer, &k, r.get::<_, &[u8]>(0))).transpose()
}

/// Saves a named consumer's feed position (one statement: committed, and
/// in the fsync'd WAL, when it returns). It takes no head lock: it belongs
/// to no commit of the feed.
pub(super) async fn save_cursor(s: &Shared, name: &str, seq: u64) -> Result<(), StoreError> {
    let c = reader(s).await?;
    let k = key(b"c/", name.as_bytes());
    let v = s.sealer.seal(&k, seq.to_string().as_bytes());
    c.execute("INSERT INTO tamis_kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", &[&k, &v])
        .await
        .map_err(|e| read_error(s, e))?;
    Ok(())
}

/// Takes or renews lease `name` for `holder`: the row is written only when
/// the lease is free, expired (by the database's clock, the one clock every
/// node shares) or already `holder`'s.
pub(super) async fn lease(s: &Shared, name: &str, holder: &str, ttl: std::time::Duration) -> Result<bool, StoreError> {
    let c = reader(s).await?;
    let ms = ttl.as_millis().min(i64::MAX as u128) as i64;
    let row = c
        .query_opt(
            "INSERT INTO tamis_leases (name, holder, until) \
             VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond') \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until \
             WHERE tamis_leases.holder = EXCLUDED.holder OR tamis_leases.until < now() \
             RETURNING holder",
            &[&name, &holder, &ms],
        )
        .await
        .map_err(|e| read_error(s, e))?;
    Ok(row.is_some())
}

/// The bucket's outputs in the set at `now`: one range of `tamis_kv`.
pub(super) async fn lookup_bucket(
    s: &Shared,
    prefix: &str,
    now: time::OffsetDateTime,
) -> Result<Vec<String>, StoreError> {
    let c = reader(s).await?;
    let low = lookup_bucket_key(prefix);
    let mut high = low.clone();
    *high.last_mut().expect("non-empty") += 1; // `o/<prefix>0`: just past every `o/<prefix>/...`
    let rows = c
        .query("SELECT k, v FROM tamis_kv WHERE k >= $1 AND k < $2 ORDER BY k", &[&low, &high])
        .await
        .map_err(|e| read_error(s, e))?;
    let mut out = Vec::new();
    for r in &rows {
        let e: LookupEntry = unseal(&s.sealer, r.get::<_, &[u8]>(0), r.get::<_, &[u8]>(1))?;
        if e.member_at(now) {
            out.push(e.output);
        }
    }
    out.sort();
    Ok(out)
}

/// The feedback on `participant`'s indicators: the ids with feedback, then
/// their records in one statement.
pub(super) async fn feedback(s: &Shared, participant: &str) -> Result<Vec<FeedbackReport>, StoreError> {
    let c = reader(s).await?;
    let row = c.query_opt("SELECT v FROM tamis_kv WHERE k = $1", &[&M_FEEDBACK]).await.map_err(|e| read_error(s, e))?;
    let ids: std::collections::BTreeSet<String> =
        row.map(|r| unseal(&s.sealer, M_FEEDBACK, r.get::<_, &[u8]>(0))).transpose()?.unwrap_or_default();
    let keys: Vec<Vec<u8>> = ids.iter().map(|id| s.keys.indicator(id)).collect();
    let rows = c.query("SELECT k, v FROM tamis_kv WHERE k = ANY($1)", &[&keys]).await.map_err(|e| read_error(s, e))?;
    let mut out = Vec::new();
    for r in &rows {
        let record: Record = unseal(&s.sealer, r.get::<_, &[u8]>(0), r.get::<_, &[u8]>(1))?;
        out.extend(report_for(&record, participant));
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

pub(super) async fn counters(s: &Shared) -> Result<Counters, StoreError> {
    let c = reader(s).await?;
    let row = c.query_opt("SELECT v FROM tamis_kv WHERE k = $1", &[&M_COUNTERS]).await.map_err(|e| read_error(s, e))?;
    Ok(row.map(|r| unseal(&s.sealer, M_COUNTERS, r.get::<_, &[u8]>(0))).transpose()?.unwrap_or_default())
}

/// Audit records read per statement while verifying.
const VERIFY_PAGE: i64 = 10_000;

/// Re-checks the whole chain, the head row and the anchor. The head row and
/// the anchor are read BEFORE the chain: both move only after the records
/// they name are committed.
pub(super) async fn verify_audit(s: &Shared) -> Result<Verification, StoreError> {
    let c = reader(s).await?;
    let anchor = s.anchor_file.as_ref().map(|f| f.read());
    let head = c
        .query_one("SELECT audit_seq, audit_hash FROM tamis_head WHERE id = 1", &[])
        .await
        .map_err(|e| read_error(s, e))?;
    let recorded = Anchor { seq: head.get::<_, i64>(0) as u64, hash: head.get(1) };
    let mut records = Vec::new();
    let mut after = 0i64;
    loop {
        let rows = c
            .query("SELECT seq, v FROM tamis_audit WHERE seq > $1 ORDER BY seq LIMIT $2", &[&after, &VERIFY_PAGE])
            .await
            .map_err(|e| read_error(s, e))?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        records.extend(rows.iter().map(|r| {
            let seq = r.get::<_, i64>(0) as u64;
            let plain = s
                .sealer
                .open(&seq_key(b"a/", seq), r.get::<_, &[u8]>(1))
                .map_err(|_| (seq, "does not authenticate (edited in the database)".to_owned()))?;
            serde_json::from_slice::<AuditRecord>(&plain).map_err(|_| (seq, "does not decode".to_owned()))
        }));
    }
    let mut v = crate::audit::verify(records);
    let at = hash_at(&c, &s.sealer, recorded.seq).await.map_err(|e| read_error(s, e))?;
    if v.ok && anchor::check(v.records, at.as_deref(), &recorded).is_err() {
        let seq = v.records + 1;
        fail(&mut v, seq, "records missing at the end of the chain (the recorded head is later)".into());
    }
    match anchor {
        None | Some(Ok(None)) => {}
        Some(Err(e)) if v.ok => fail(&mut v, 0, e),
        Some(Err(_)) => {}
        Some(Ok(Some(a))) => {
            let at = hash_at(&c, &s.sealer, a.seq).await.map_err(|e| read_error(s, e))?;
            if v.ok
                && let Err(e) = anchor::check(v.records, at.as_deref(), &a)
            {
                let seq = if v.records < a.seq { v.records + 1 } else { a.seq };
                fail(&mut v, seq, e);
            }
            let path = s.anchor_file.as_ref().map(|f| f.path.display().to_string()).unwrap_or_default();
            v.anchor = Some(AnchorInfo { seq: a.seq, hash: a.hash, path });
        }
    }
    Ok(v)
}

fn fail(v: &mut Verification, seq: u64, problem: String) {
    v.ok = false;
    v.first_bad = Some(BadRecord { seq, problem });
}

/// Checks that audit record `seq` has `hash` (`--expect-head`).
pub(super) async fn check_head(s: &Shared, seq: u64, hash: &str) -> Result<(), String> {
    let c = reader(s).await.map_err(|e| e.to_string())?;
    match hash_at(&c, &s.sealer, seq).await.map_err(|e| e.to_string())? {
        Some(h) if h == hash => Ok(()),
        Some(_) => Err(format!("the audit record at sequence {seq} is not the expected one (the chain was replaced)")),
        None => Err(format!("rollback or truncation detected: no audit record at sequence {seq}")),
    }
}
