//! The node's writer: group commit in one transaction that holds the
//! `tamis_head` row lock (see the module docs of [`super`] for why).
//!
//! One transaction per group: lock the head row, fetch every record the
//! group's requests may read, apply the requests with the shared rules
//! ([`rules::commit`](crate::store::rules::commit)), chain the audit
//! records, write records, feed entries and audit records with one `unnest`
//! insert each, move the head row, `pg_notify`, commit; then answer each
//! request on its own channel.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Transaction};

use super::Shared;
use super::conn::{self, connect};
use crate::audit::AuditRecord;
use crate::store::rules::commit::{Applied, Group, Source, apply, reads};
use crate::store::rules::keys::seq_key;
use crate::store::rules::request::Request;
use crate::store::{Fault, StoreError};

/// Most requests in one group commit.
const MAX_GROUP: usize = 256;
/// Most indicators in one group commit (a transaction stays short).
const MAX_GROUP_INDICATORS: usize = 20_000;
/// The channel every commit notifies.
pub(super) const CHANNEL: &str = "tamis_changes";

/// The records a group fetched under the lock; reading any other key is a
/// bug (it would be taken as absent and overwritten), so it fails the group.
struct Fetched {
    values: HashMap<Vec<u8>, Vec<u8>>,
    asked: HashSet<Vec<u8>>,
}

impl Source for Fetched {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.asked.contains(k) {
            return Err(StoreError::NotStored(Fault::described("a record was read that the group did not fetch")));
        }
        Ok(self.values.get(k).cloned())
    }
}

/// A failed commit: whether anything may have been applied.
struct Failed {
    error: StoreError,
    /// The connection is unusable: open another before the next group.
    broken: bool,
}

/// Runs until every sender is gone, committing requests in groups.
pub(super) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut client: Option<Client> = None;
    while let Some(first) = rx.recv().await {
        let mut size = indicators(&first);
        let mut reqs = vec![first];
        while reqs.len() < MAX_GROUP && size < MAX_GROUP_INDICATORS {
            match rx.try_recv() {
                Ok(r) => {
                    size += indicators(&r);
                    reqs.push(r);
                }
                Err(_) => break,
            }
        }
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            match connect(&shared.config).await {
                Ok(c) => client = Some(c),
                Err(e) => {
                    let why = conn::fault(&shared, e);
                    shared.set_failure(Some(why.clone()));
                    let e = StoreError::Refused(why);
                    reqs.into_iter().for_each(|r| r.fail(&e));
                    continue;
                }
            }
        }
        let c = client.as_mut().expect("connected");
        if commit_group(&shared, c, reqs).await {
            client = None;
        }
    }
}

fn indicators(r: &Request) -> usize {
    match r {
        Request::Submit(b, _) => b.indicators.len().max(1),
        Request::Expire { ids, .. } => ids.len().max(1),
        _ => 1,
    }
}

/// Commits a group and answers every request; true when the connection
/// broke.
async fn commit_group(shared: &Shared, client: &mut Client, reqs: Vec<Request>) -> bool {
    let mut applied = Vec::with_capacity(reqs.len());
    match transaction(shared, client, reqs, &mut applied).await {
        Ok((log_seq, audit)) => {
            shared.publish(log_seq, audit, true);
            applied.into_iter().for_each(Applied::answer);
            false
        }
        Err(Failed { error, broken }) => {
            tracing::error!(error = %error, "commit failed; the group is not acknowledged");
            if broken {
                let why = match &error {
                    StoreError::NotStored(f) | StoreError::OutcomeUnknown(f) => f.clone(),
                    e => Fault::described(e.to_string()),
                };
                shared.set_failure(Some(why));
            }
            applied.into_iter().for_each(|a| a.fail(&error));
            broken
        }
    }
}

/// A database error before COMMIT: nothing was applied.
fn before_commit(shared: &Shared) -> impl Fn(tokio_postgres::Error) -> Failed + '_ {
    move |e| Failed { broken: e.is_closed(), error: StoreError::NotStored(conn::fault(shared, e)) }
}

/// Opens the group's transaction: takes the head row lock, reads the heads
/// `(log_seq, audit_seq, audit_hash)` and fetches the group's records.
async fn begin<'c>(
    shared: &Shared,
    client: &'c mut Client,
    reqs: &[Request],
) -> Result<(Transaction<'c>, (u64, u64, String), Group), Failed> {
    let err = before_commit(shared);
    let tx = client.transaction().await.map_err(&err)?;
    let head = tx
        .query_one("SELECT log_seq, audit_seq, audit_hash FROM tamis_head WHERE id = 1 FOR UPDATE", &[])
        .await
        .map_err(&err)?;
    let heads = (head.get::<_, i64>(0) as u64, head.get::<_, i64>(1) as u64, head.get::<_, String>(2));
    let group = fetch(shared, &tx, reqs).await.map_err(&err)?;
    Ok((tx, heads, group))
}

/// The group's transaction: resolves to the new heads, `(log_seq, (audit_seq,
/// audit_hash))`. Requests that fail alone, or before anything was applied,
/// are answered inside; the applied ones are left in `applied`.
async fn transaction(
    shared: &Shared,
    client: &mut Client,
    reqs: Vec<Request>,
    applied: &mut Vec<Applied>,
) -> Result<(u64, (u64, String)), Failed> {
    let (tx, (mut log_seq, mut audit_seq, mut audit_hash), mut group) = match begin(shared, client, &reqs).await {
        Ok(begun) => begun,
        Err(f) => {
            reqs.into_iter().for_each(|r| r.fail(&f.error));
            return Err(f);
        }
    };
    let now = OffsetDateTime::now_utc();
    let mut pending = reqs.into_iter();
    for req in pending.by_ref() {
        match apply(&mut group, &mut log_seq, req, now) {
            Ok(a) => applied.push(a),
            Err(error) => {
                pending.for_each(|r| r.fail(&error));
                return Err(Failed { error, broken: false });
            }
        }
    }
    let mut records = Vec::new();
    for a in applied.iter_mut() {
        let Some(event) = a.audit.take() else { continue };
        audit_seq += 1;
        let rec = AuditRecord::chain(audit_seq, now, &audit_hash, event);
        audit_hash = rec.hash.clone();
        a.audit_seq = audit_seq;
        records.push(rec);
    }
    let heads = (log_seq, audit_seq, audit_hash.as_str());
    write(shared, &tx, group, &records, heads).await.map_err(before_commit(shared))?;
    tx.commit().await.map_err(|e| commit_failed(shared, e))?;
    Ok((log_seq, (audit_seq, audit_hash)))
}

/// COMMIT failed: refused by the server (rolled back, nothing applied), or
/// the connection went away, when nobody knows whether it committed.
fn commit_failed(shared: &Shared, e: tokio_postgres::Error) -> Failed {
    if e.as_db_error().is_some() {
        return Failed { broken: false, error: StoreError::NotStored(conn::fault(shared, e)) };
    }
    Failed { broken: true, error: StoreError::OutcomeUnknown(conn::fault(shared, e)) }
}

/// Fetches every record the group's requests may read.
async fn fetch(shared: &Shared, tx: &Transaction<'_>, reqs: &[Request]) -> Result<Group, tokio_postgres::Error> {
    let asked: HashSet<Vec<u8>> = reqs.iter().flat_map(|r| reads(&shared.keys, r)).collect();
    let list: Vec<&[u8]> = asked.iter().map(Vec::as_slice).collect();
    let rows = tx.query("SELECT k, v FROM tamis_kv WHERE k = ANY($1)", &[&list]).await?;
    let values = rows.into_iter().map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1))).collect();
    let source = Box::new(Fetched { values, asked });
    Ok(Group::new(source, shared.sealer.clone(), shared.keys.clone(), shared.max_validity))
}

/// Writes the group's records, feed entries and audit records, sealed,
/// moves the head row and notifies the other nodes: one pipelined round.
async fn write(
    shared: &Shared,
    tx: &Transaction<'_>,
    group: Group,
    audit: &[AuditRecord],
    heads: (u64, u64, &str),
) -> Result<(), tokio_postgres::Error> {
    let (mut keys, mut values, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
    for (k, v) in group.overlay {
        match v {
            Some(plain) => {
                values.push(shared.sealer.seal(&k, &plain));
                keys.push(k);
            }
            None => deleted.push(k),
        }
    }
    let seal = |prefix: &[u8], seq: u64, plain: Vec<u8>| shared.sealer.seal(&seq_key(prefix, seq), &plain);
    let feed_seqs: Vec<i64> = group.log.iter().map(|e| e.seq as i64).collect();
    let feed: Vec<Vec<u8>> =
        group.log.iter().map(|e| seal(b"l/", e.seq, serde_json::to_vec(e).expect("serialise"))).collect();
    let audit_seqs: Vec<i64> = audit.iter().map(|r| r.seq as i64).collect();
    let audit: Vec<Vec<u8>> =
        audit.iter().map(|r| seal(b"a/", r.seq, serde_json::to_vec(r).expect("serialise"))).collect();
    let (log_seq, audit_seq, notice) = (heads.0 as i64, heads.1 as i64, heads.0.to_string());
    let kv_params: [&(dyn ToSql + Sync); 2] = [&keys, &values];
    let delete_params: [&(dyn ToSql + Sync); 1] = [&deleted];
    let feed_params: [&(dyn ToSql + Sync); 2] = [&feed_seqs, &feed];
    let audit_params: [&(dyn ToSql + Sync); 2] = [&audit_seqs, &audit];
    let head_params: [&(dyn ToSql + Sync); 3] = [&log_seq, &audit_seq, &heads.2];
    let notify_params: [&(dyn ToSql + Sync); 2] = [&CHANNEL, &notice];
    tokio::try_join!(
        tx.execute(
            "INSERT INTO tamis_kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
             ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            &kv_params,
        ),
        tx.execute("DELETE FROM tamis_kv WHERE k = ANY($1)", &delete_params),
        tx.execute("INSERT INTO tamis_feed (seq, v) SELECT * FROM unnest($1::int8[], $2::bytea[])", &feed_params),
        tx.execute("INSERT INTO tamis_audit (seq, v) SELECT * FROM unnest($1::int8[], $2::bytea[])", &audit_params),
        tx.execute("UPDATE tamis_head SET log_seq = $1, audit_seq = $2, audit_hash = $3 WHERE id = 1", &head_params),
        tx.execute("SELECT pg_notify($1, $2)", &notify_params),
    )?;
    Ok(())
}
