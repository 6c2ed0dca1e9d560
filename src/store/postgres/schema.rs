//! The schema, created on open (idempotent, under an advisory lock so two
//! nodes starting together do not race), and the checks before the store
//! starts: schema version, storage key, audit anchor.
//!
//! Tables: `tamis_meta (name, value)`: schema version, storage-key id,
//! sealed check value and the feed's compaction horizon (`feed_horizon`,
//! 8 bytes big-endian, written by [`compact`](super::compact)); `tamis_head`: the one row every write locks (next feed
//! sequence number, audit chain head); `tamis_kv (k, v)`: sealed records
//! under the shared keys of [`rules::keys`](crate::store::rules::keys)
//! (`i/<hmac>`, `k/<hmac>`, `p/<id@hash>`, `m/counters`); `tamis_feed (seq,
//! v)` and `tamis_audit (seq, v)`: sealed feed entries and audit records;
//! `tamis_leases (name, holder, until)`: which node runs a singleton job
//! (a webhook delivery).

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use tokio_postgres::Client;

use super::Shared;
use super::conn::{self, connect};
use crate::audit::{AuditRecord, GENESIS};
use crate::store::anchor::{self, Anchor, AnchorFile};
use crate::store::crypto::Sealer;
use crate::store::rules::keys::{Keys, seq_key, unseal};
use crate::store::{Fault, StoreError, StoreOptions};

/// The schema this version writes and reads.
pub(super) const SCHEMA: &str = "tamis-pg-1";
/// Key of the advisory lock held while creating the schema.
const SCHEMA_LOCK: i64 = 0x7461_6d69_7300;
/// The record key the storage-key check value is sealed under.
const KEY_CHECK: &[u8] = b"m/key_check";

const DDL: &str = "
CREATE TABLE IF NOT EXISTS tamis_meta (name text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE IF NOT EXISTS tamis_head (
    id int PRIMARY KEY CHECK (id = 1),
    log_seq bigint NOT NULL,
    audit_seq bigint NOT NULL,
    audit_hash text NOT NULL
);
CREATE TABLE IF NOT EXISTS tamis_kv (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE IF NOT EXISTS tamis_feed (seq bigint PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE IF NOT EXISTS tamis_audit (seq bigint PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE IF NOT EXISTS tamis_leases (name text PRIMARY KEY, holder text NOT NULL, until timestamptz NOT NULL);
";

/// Connects, trying again for up to `wait` while the database cannot be
/// reached yet (connection refused or lost, timed out, "the database system
/// is starting up"); any other error (authentication, TLS, a missing
/// database) is answered at once.
async fn connect_waiting(
    config: &conn::Target,
    name: &str,
    wait: std::time::Duration,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let t0 = std::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        match connect(config).await {
            Ok(c) => return Ok(c),
            Err(e) if not_yet(&e) && t0.elapsed() < wait => {
                attempt += 1;
                if attempt == 1 || attempt.is_power_of_two() {
                    tracing::warn!(database = %name, attempt, error = %conn::with_causes(&e), "waiting for the database");
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// An error a database that is down or starting up gives.
fn not_yet(e: &tokio_postgres::Error) -> bool {
    use std::io::ErrorKind::*;
    if let Some(db) = e.as_db_error() {
        return *db.code() == tokio_postgres::error::SqlState::CANNOT_CONNECT_NOW;
    }
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | TimedOut
                    | NotFound
                    | AddrNotAvailable
                    | UnexpectedEof
            );
        }
        cause = c.source();
    }
    e.is_closed()
}

/// Connects, creates or checks the schema, checks the storage key and the
/// audit anchor: the state the writer and the watcher start from.
pub(super) async fn open(url: &str, key: &[u8; 32], opts: &StoreOptions) -> Result<Shared, StoreError> {
    let config = conn::target(url, opts.db_ca.as_deref())?;
    let name = conn::display_name(&config.config);
    let cant =
        |e: tokio_postgres::Error| StoreError::Database(Fault::described(format!("{name}: {}", conn::with_causes(&e))));
    let client = connect_waiting(&config, &name, opts.db_wait).await.map_err(cant)?;
    let key_id = create(&client, &name).await.map_err(cant)??;
    let keys = Arc::new(Keys::derive(key));
    let sealer = Arc::new(Sealer::new(key, key_id));
    check_key(&client, &name, &sealer).await?;
    let row = client.query_one("SELECT log_seq, audit_seq, audit_hash FROM tamis_head WHERE id = 1", &[]).await;
    let row = row.map_err(cant)?;
    let (log_seq, audit_seq, audit_hash): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
    let (log_seq, audit_seq) = (log_seq as u64, audit_seq as u64);
    let anchor = check_anchor(&client, &name, &sealer, &keys, opts, (audit_seq, &audit_hash)).await?;
    let (changes, _) = tokio::sync::watch::channel(log_seq);
    Ok(Shared {
        config,
        name,
        sealer,
        keys,
        max_validity: opts.max_validity,
        head: AtomicU64::new(log_seq),
        audit_head: Mutex::new((audit_seq, audit_hash)),
        failure: Mutex::new(None),
        changes,
        anchor: anchor.as_ref().and_then(|(f, matches)| matches.then(|| f.clone())),
        anchor_file: anchor.map(|(f, _)| f),
        reader: tokio::sync::Mutex::new(Some(Arc::new(client))),
    })
}

/// Creates the tables and the head row when absent, and checks the schema
/// version: resolves to the storage-key id.
async fn create(c: &Client, name: &str) -> Result<Result<u32, StoreError>, tokio_postgres::Error> {
    c.batch_execute("BEGIN").await?;
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]).await?;
    c.batch_execute(DDL).await?;
    c.execute(
        "INSERT INTO tamis_head (id, log_seq, audit_seq, audit_hash) VALUES (1, 0, 0, $1) ON CONFLICT DO NOTHING",
        &[&GENESIS],
    )
    .await?;
    c.execute(
        "INSERT INTO tamis_meta (name, value) VALUES ('schema', $1) ON CONFLICT DO NOTHING",
        &[&SCHEMA.as_bytes()],
    )
    .await?;
    let found: Vec<u8> = c.query_one("SELECT value FROM tamis_meta WHERE name = 'schema'", &[]).await?.get(0);
    let key_id = c.query_opt("SELECT value FROM tamis_meta WHERE name = 'key_id'", &[]).await?;
    c.batch_execute("COMMIT").await?;
    if found != SCHEMA.as_bytes() {
        return Ok(Err(StoreError::UnknownFormat {
            dir: PathBuf::from(name),
            found: String::from_utf8_lossy(&found).into_owned(),
            expected: SCHEMA.to_owned(),
        }));
    }
    let key_id = key_id.and_then(|r| r.get::<_, Vec<u8>>(0).try_into().ok()).map(u32::from_be_bytes);
    Ok(Ok(key_id.unwrap_or(1)))
}

/// Checks (or, in a new database, writes) the sealed key check value.
async fn check_key(c: &Client, name: &str, sealer: &Sealer) -> Result<(), StoreError> {
    let cant =
        |e: tokio_postgres::Error| StoreError::Database(Fault::described(format!("{name}: {}", conn::with_causes(&e))));
    let fresh = sealer.seal(KEY_CHECK, b"tamis");
    c.execute("INSERT INTO tamis_meta (name, value) VALUES ('key_check', $1) ON CONFLICT DO NOTHING", &[&fresh])
        .await
        .map_err(cant)?;
    let stored: Vec<u8> =
        c.query_one("SELECT value FROM tamis_meta WHERE name = 'key_check'", &[]).await.map_err(cant)?.get(0);
    sealer
        .open(KEY_CHECK, &stored)
        .map(|_| ())
        .map_err(|_| StoreError::WrongKey { dir: PathBuf::from(name), key_id: sealer.key_id() })
}

/// The hash of audit record `seq` (`None` when absent or unreadable).
pub(super) async fn hash_at(c: &Client, sealer: &Sealer, seq: u64) -> Result<Option<String>, tokio_postgres::Error> {
    if seq == 0 {
        return Ok(Some(GENESIS.to_owned()));
    }
    let row = c.query_opt("SELECT v FROM tamis_audit WHERE seq = $1", &[&(seq as i64)]).await?;
    Ok(row
        .and_then(|r| unseal::<AuditRecord>(sealer, &seq_key(b"a/", seq), &r.get::<_, Vec<u8>>(0)).ok())
        .map(|r| r.hash))
}

/// The audit anchor, checked against the chain and created when absent:
/// `(file, matches)`. A chain behind its anchor refuses to open when
/// serving; the verification tools open anyway and report it.
async fn check_anchor(
    c: &Client,
    name: &str,
    sealer: &Sealer,
    keys: &Keys,
    opts: &StoreOptions,
    head: (u64, &str),
) -> Result<Option<(Arc<AnchorFile>, bool)>, StoreError> {
    let Some(path) = &opts.audit_anchor else { return Ok(None) };
    let file = Arc::new(AnchorFile::new(path.clone(), keys.anchor));
    if let Err(e) = file.prepare() {
        tracing::warn!(path = %path.display(), error = %e, "cannot create the audit anchor's directory");
    }
    let problem = match file.read() {
        Err(e) => Some(e),
        Ok(None) => None,
        Ok(Some(a)) => {
            let at = hash_at(c, sealer, a.seq).await.map_err(|e| StoreError::Database(Fault::new(e)))?;
            anchor::check(head.0, at.as_deref(), &a).err()
        }
    };
    match problem {
        Some(problem) if opts.refuse_rollback => {
            Err(StoreError::Rollback { dir: PathBuf::from(name), anchor: path.clone(), problem })
        }
        Some(p) => {
            tracing::warn!(problem = %p, "audit anchor does not match the chain; not updating it");
            Ok(Some((file, false)))
        }
        None => {
            if let Err(e) = file.write(&Anchor { seq: head.0, hash: head.1.to_owned() }) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the audit anchor");
            }
            Ok(Some((file, true)))
        }
    }
}
