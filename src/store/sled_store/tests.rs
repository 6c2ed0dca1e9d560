//! Unit tests of the sled store: what only sled has (its files, its fail point, its key layout) and the
//! co-submission rules read from its records. The guarantees of the store contract are checked on
//! both backends by `tests/store_contract.rs`.

use std::path::Path;
use std::time::Duration;

use time::OffsetDateTime;

use super::*;
use crate::model::{Category, IndicatorType, Removals, SanitisedIndicator, Tlp};
use crate::store::rules::record::Record;
use crate::store::{Contributor, Op, indicator_id, request_hash};

fn sample(kind: IndicatorType, value: &str) -> SanitisedIndicator {
    SanitisedIndicator {
        kind,
        value: value.into(),
        value_form: None,
        category: Category::Phishing,
        confidence: 60,
        tlp: Tlp::Green,
        first_seen: None,
        valid_until: None,
        description: None,
        attributes: Default::default(),
        tags: vec!["t1".into()],
    }
}

fn batch(who: &str, items: Vec<SanitisedIndicator>, idem: Option<&str>) -> SubmitBatch {
    SubmitBatch {
        lookup: Vec::new(),
        contributor: Contributor { participant: who.into(), sector: "finance".into(), disclose_name: false },
        policy: "default@0011".into(),
        received_at: OffsetDateTime::now_utc(),
        idempotency: idem.map(|k| (who.to_owned(), k.to_owned())),
        request_hash: request_hash("application/json", format!("{items:?}").as_bytes()),
        response: b"{\"ok\":1}".to_vec(),
        audit: AuditEvent::Submission {
            participant: who.into(),
            submission: "s".into(),
            policy: "default@0011".into(),
            format: "application/json".into(),
            received: items.len(),
            accepted: items.len(),
            rejected: 0,
            removed: Removals::default(),
        },
        indicators: items,
    }
}

#[tokio::test]
async fn dedups_counts_sources_replays_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let key = [3u8; 32];
    {
        let store = SledStore::open(dir.path(), &key).unwrap();
        let a = store.submit(batch("bank-a", vec![sample(IndicatorType::Domain, "evil.example")], None));
        let SubmitOutcome::Committed { ids } = a.await.unwrap() else { panic!() };
        let b = store.submit(batch("isp-a", vec![sample(IndicatorType::Domain, "evil.example")], Some("k1")));
        b.await.unwrap();
        let again = store.submit(batch("isp-a", vec![sample(IndicatorType::Domain, "evil.example")], Some("k1")));
        assert!(matches!(again.await.unwrap(), SubmitOutcome::Replayed { .. }));
        let ind = store.reader.indicator(&ids[0]).unwrap().unwrap();
        assert_eq!(ind.sources.count, 2);
        assert_eq!(store.head(), 2);
        let feed = store.feed(0, 10).await.unwrap();
        assert_eq!(feed.iter().map(|e| e.op).collect::<Vec<_>>(), vec![Op::Add, Op::Update]);
        assert!(store.verify_audit().await.unwrap().ok);
    }
    let store = SledStore::open(dir.path(), &key).unwrap();
    assert_eq!(store.head(), 2);
    assert_eq!(store.audit_log(0, 10).await.unwrap().len(), 2);
    assert!(store.verify_audit().await.unwrap().ok);
    // Values are encrypted at rest.
    drop(store);
    let mut found = false;
    for e in walk(dir.path()) {
        if std::fs::read(&e).unwrap().windows(12).any(|w| w == b"evil.example") {
            found = true;
        }
    }
    assert!(!found, "plaintext indicator value found in the database files");
}

fn sighting(value: &str, tlp: crate::model::Tlp, confidence: u8, desc: &str) -> SanitisedIndicator {
    let mut s = sample(IndicatorType::Domain, value);
    s.tlp = tlp;
    s.confidence = confidence;
    s.description = Some(desc.into());
    s.tags = vec![desc.into()];
    s
}

async fn commit(store: &SledStore, b: SubmitBatch) -> Vec<String> {
    match store.submit(b).await.unwrap() {
        SubmitOutcome::Committed { ids } => ids,
        o => panic!("{o:?}"),
    }
}

/// F4: a co-submitter neither rewrites nor hides the originator's
/// indicator; its own sighting takes over only when the originator's ends.
#[tokio::test]
async fn co_submission_keeps_the_originators_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), &[4; 32]).unwrap();
    let mut isp = sighting("c2.example", Tlp::Green, 90, "isp");
    isp.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(1));
    let id = commit(&store, batch("isp-a", vec![isp], None)).await.remove(0);
    let before = store.reader.indicator(&id).unwrap().unwrap();
    let head = store.head();
    let mut red = sighting("c2.example", Tlp::Red, 100, "benign test entry, do not block");
    red.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(30_000));
    red.category = Category::Other;
    commit(&store, batch("bank-a", vec![red], None)).await;
    assert_eq!(store.reader.indicator(&id).unwrap().unwrap(), before, "a hidden co-submission changes nothing");
    assert_eq!(store.head(), head, "and consumers see no change at all");
    assert_eq!(store.retract("bank-a", &id).await.unwrap(), Retracted { removed: false });
    assert_eq!(store.reader.indicator(&id).unwrap().unwrap(), before);
    assert_eq!(store.head(), head);

    // A corroborating (same TLP) co-submission adds a source and can only raise confidence.
    let mut green = sighting("c2.example", Tlp::Green, 10, "bank");
    green.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(3_000));
    commit(&store, batch("bank-a", vec![green], None)).await;
    let now = store.reader.indicator(&id).unwrap().unwrap();
    assert_eq!((now.tlp, now.confidence, now.sources.count), (Tlp::Green, 90, 2));
    assert_eq!((now.description.as_deref(), now.tags.clone()), (Some("isp"), vec!["isp".to_owned()]));
    assert_eq!(now.valid_until, before.valid_until);
    // valid_until is capped at a year from receipt.
    let rec: Record = store.reader.record(&id).unwrap().unwrap();
    let bank_until = rec.contributors["bank-a"].sighting.valid_until.unwrap();
    assert!(bank_until <= OffsetDateTime::now_utc() + time::Duration::days(366), "{bank_until}");

    // The originator's sighting expires: the next-oldest contribution leads.
    let later = OffsetDateTime::now_utc() + time::Duration::days(2);
    assert_eq!(store.expire(vec![id.clone()], later).await.unwrap(), 1);
    let now = store.reader.indicator(&id).unwrap().unwrap();
    assert_eq!((now.description.as_deref(), now.confidence, now.sources.count), (Some("bank"), 10, 1));
    assert_eq!(store.feed(0, 100).await.unwrap().last().unwrap().op, Op::Update);
}

async fn wait_healthy(store: &SledStore) {
    for _ in 0..100 {
        if store.health().is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the store did not recover: {:?}", store.health());
}

/// Issue 11: indicators that expired or were retracted leave no record in
/// the tree (the store does not grow with indicators that came and went),
/// unless feedback on them is still shown to their submitters; a value that
/// comes back is a new indicator.
#[tokio::test]
async fn expired_and_retracted_records_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), &[8; 32]).unwrap();
    let mut soon = sample(IndicatorType::Domain, "soon-gone.example");
    soon.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::seconds(1));
    let ids =
        commit(&store, batch("bank-a", vec![soon.clone(), sample(IndicatorType::Domain, "kept.example")], None)).await;
    let gone = commit(&store, batch("isp-a", vec![sample(IndicatorType::Domain, "retracted.example")], None)).await;
    let raw = |id: &str| {
        let seq = records::find(&store.reader.index, &store.reader.keys.indicator(id))?;
        store.reader.tree.get(records::record_key(seq)).unwrap()
    };
    assert!(raw(&ids[0]).is_some() && raw(&gone[0]).is_some());
    let later = OffsetDateTime::now_utc() + time::Duration::seconds(5);
    assert_eq!(store.expire(vec![ids[0].clone(), ids[1].clone()], later).await.unwrap(), 1);
    store.retract("isp-a", &gone[0]).await.unwrap();
    assert!(raw(&ids[0]).is_none(), "the expired record is still stored");
    assert!(raw(&gone[0]).is_none(), "the retracted record is still stored");
    assert!(raw(&ids[1]).is_some(), "a live record was deleted");
    let removes = store.feed(0, 100).await.unwrap().into_iter().filter(|e| e.op == Op::Remove).count();
    assert_eq!(removes, 2, "the feed still says both left");
    assert_eq!(commit(&store, batch("bank-a", vec![soon], None)).await, vec![ids[0].clone()]);
    let back = store.feed(0, 100).await.unwrap().pop().unwrap();
    assert_eq!((back.op, back.indicator.sources.count), (Op::Add, 1), "it comes back as a new indicator");
}

/// Feed blobs stay small: sled keeps values (and leaves) over 128 KiB as
/// blob files it never evicts from memory; the feed reads back whole.
#[tokio::test]
async fn feed_blobs_stay_small_and_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), &[9; 32]).unwrap();
    let items = (0..3000).map(|i| sample(IndicatorType::Domain, &format!("n{i}.blob-size.example"))).collect();
    commit(&store, batch("bank-a", items, None)).await;
    let sizes: Vec<usize> = store.reader.tree.scan_prefix(b"l/").map(|kv| kv.unwrap().1.len()).collect();
    assert!(
        sizes.len() > 100 && sizes.iter().all(|n| *n <= 7 * 1024),
        "feed blobs: {} of up to {:?}",
        sizes.len(),
        sizes.iter().max()
    );
    let seqs: Vec<u64> = store.feed(0, 5000).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=3000).collect::<Vec<u64>>());
    let mid: Vec<u64> = store.feed(1234, 3).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(mid, vec![1235, 1236, 1237]);
}

/// F7: a failed write marks the store failed, says what happened to the
/// data, and the store recovers once writes work again.
#[tokio::test]
async fn failed_writes_are_reported_and_recovered_from() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), &[6; 32]).unwrap();
    store.fail_point().set(FailMode::BeforeApply);
    let b = || batch("bank-a", vec![sample(IndicatorType::Domain, "full.example")], Some("d1"));
    let e = store.submit(b()).await.unwrap_err();
    assert!(matches!(e, StoreError::NotStored(_)) && e.to_string().contains("nothing was stored"), "{e}");
    assert!(store.health().is_err());
    let e = store.submit(b()).await.unwrap_err();
    assert!(e.to_string().contains("store failed"), "{e}");
    store.fail_point().set(FailMode::Off);
    wait_healthy(&store).await;
    assert_eq!(store.head(), 0, "nothing was stored");
    commit(&store, b()).await;

    store.fail_point().set(FailMode::AfterApply);
    let c = || batch("bank-a", vec![sample(IndicatorType::Domain, "maybe.example")], Some("d2"));
    let e = store.submit(c()).await.unwrap_err();
    assert!(e.to_string().contains("outcome is unknown") && e.to_string().contains("same Idempotency-Key"), "{e}");
    store.fail_point().set(FailMode::Off);
    wait_healthy(&store).await;
    // Applied after all: the retry with the same key replays, nothing twice.
    assert!(matches!(store.submit(c()).await.unwrap(), SubmitOutcome::Replayed { .. }));
    commit(&store, batch("isp-a", vec![sample(IndicatorType::Domain, "after.example")], None)).await;
    assert_eq!(store.head(), 3);
    assert!(store.verify_audit().await.unwrap().ok);
}

/// F13: the sled keys do not reveal indicator ids (a hash of the value).
/// Format: an earlier layout is refused with a clear message.
#[tokio::test]
async fn keys_are_hmacs_and_old_formats_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path(), &[7; 32]).unwrap();
        commit(&store, batch("bank-a", vec![sample(IndicatorType::Domain, "guess.example")], Some("key-1"))).await;
    }
    let id = indicator_id(IndicatorType::Domain, "guess.example");
    let raw = hex::decode(id.replace('-', "")).unwrap();
    for f in walk(dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(id.len()).any(|w| w == id.as_bytes()), "id in {}", f.display());
        assert!(!bytes.windows(16).any(|w| w == raw.as_slice()), "raw id in {}", f.display());
        assert!(!bytes.windows(5).any(|w| w == b"key-1"), "idempotency key in {}", f.display());
    }
    let old = tempfile::tempdir().unwrap();
    {
        let db = sled::Config::new().path(old.path()).open().unwrap();
        db.open_tree("tamis").unwrap().insert(b"m/log_seq", &[0u8; 8]).unwrap();
        db.flush().unwrap();
    }
    let e = SledStore::open(old.path(), &[7; 32]).err().unwrap().to_string();
    assert!(e.contains("store format 1") && e.contains("no migration"), "{e}");
}

fn walk(p: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap().path();
        if e.is_dir() {
            out.extend(walk(&e));
        } else {
            out.push(e);
        }
    }
    out
}

/// Rewrites a store as format 2 wrote it: each indicator record under its
/// logical key `i/<hmac(id)>`, sealed under that key, no index, no `r/`.
fn downgrade_to_format_2(dir: &Path, key: &[u8; 32]) -> usize {
    use crate::store::rules::keys::{FORMAT_2, Keys, M_FORMAT, M_REC_SEQ};
    let db = sled::Config::new().path(dir).open().unwrap();
    let tree = db.open_tree("tamis").unwrap();
    let (sealer, keys) = (Sealer::new(key, 1), Keys::derive(key));
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for kv in tree.scan_prefix(b"y/") {
        let (y, v) = kv.unwrap();
        for (seq, tag) in records::tags_of_pack(&y, &v).unwrap() {
            let rk = records::record_key(seq);
            let plain = sealer.open(&records::seal_key(seq, tag), &tree.get(&rk).unwrap().unwrap()).unwrap();
            let r: Record = serde_json::from_slice(&plain).unwrap();
            let ik = keys.indicator(&r.indicator.id);
            batch.insert(ik.clone(), sealer.seal(&ik, &plain));
            batch.remove(rk);
            n += 1;
        }
        batch.remove(y);
    }
    batch.remove(M_REC_SEQ);
    batch.insert(M_FORMAT, FORMAT_2);
    tree.apply_batch(batch).unwrap();
    db.flush().unwrap();
    n
}

fn count_prefix(store: &SledStore, prefix: &[u8]) -> usize {
    store.reader.tree.scan_prefix(prefix).count()
}

/// The tags in the `y/` packs (one per stored record).
fn count_tags(store: &SledStore) -> usize {
    records::load_index(&store.reader.tree).unwrap().len()
}

/// Rewrites a store as format 3 wrote it: one `y/<seq>` entry per record
/// (removed ones have none).
fn downgrade_to_format_3(dir: &Path) -> usize {
    use crate::store::rules::keys::{FORMAT_3, M_FORMAT};
    let db = sled::Config::new().path(dir).open().unwrap();
    let tree = db.open_tree("tamis").unwrap();
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for kv in tree.scan_prefix(b"y/") {
        let (y, v) = kv.unwrap();
        batch.remove(y.clone());
        for (seq, tag) in records::tags_of_pack(&y, &v).unwrap() {
            batch.insert(records::tag_key(seq), &tag.to_be_bytes()[..]);
            n += 1;
        }
    }
    batch.insert(M_FORMAT, FORMAT_3);
    tree.apply_batch(batch).unwrap();
    db.flush().unwrap();
    n
}

/// Issue 11: a format-2 data directory (records under `i/<hmac>`) opens,
/// is migrated to format 4 (`r/` records in allocation order, `y/` tag packs),
/// and reads and updates as before; a wrong key migrates nothing.
#[tokio::test]
async fn a_format_2_store_is_migrated_and_reads_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let key = [12u8; 32];
    let (ids, before, feed_before) = {
        let store = SledStore::open(dir.path(), &key).unwrap();
        let items = (0..25).map(|i| sample(IndicatorType::Domain, &format!("m{i}.migrate.example"))).collect();
        let ids = commit(&store, batch("bank-a", items, Some("idem-1"))).await;
        commit(&store, batch("isp-a", vec![sample(IndicatorType::Domain, "m3.migrate.example")], None)).await;
        let fp = SightingBatch {
            reporter: "isp-b".into(),
            sector: "telecom".into(),
            threshold: 2,
            decisive: false,
            reports: vec![(ids[5].clone(), crate::store::Report::FalsePositive { reason: "ours".into() })],
        };
        store.sightings(fp).await.unwrap();
        store.retract("bank-a", &ids[7]).await.unwrap();
        let before: Vec<_> = ids.iter().map(|id| store.reader.indicator(id).unwrap()).collect();
        (ids, before, store.feed(0, 1000).await.unwrap().len())
    };
    assert_eq!(downgrade_to_format_2(dir.path(), &key), 24, "the retracted record was deleted");
    // A wrong key refuses to open and moves nothing.
    assert!(SledStore::open(dir.path(), &[13; 32]).is_err());
    let store = SledStore::open(dir.path(), &key).unwrap();
    assert_eq!(count_prefix(&store, b"i/"), 0, "records left in the format-2 layout");
    assert_eq!((count_tags(&store), count_prefix(&store, b"r/")), (24, 24));
    assert_eq!(count_prefix(&store, b"y/"), 1, "the tags are packed");
    let format = store.reader.tree.get(crate::store::rules::keys::M_FORMAT).unwrap().unwrap();
    assert_eq!(format.as_ref(), crate::store::rules::keys::FORMAT);
    let after: Vec<_> = ids.iter().map(|id| store.reader.indicator(id).unwrap()).collect();
    assert_eq!(after, before);
    assert!(after[7].is_none() && after[5].is_some());
    assert_eq!(store.feedback("bank-a").await.unwrap().len(), 1, "the false-positive report survived");
    assert_eq!(store.feed(0, 1000).await.unwrap().len(), feed_before);
    assert!(store.verify_audit().await.unwrap().ok);
    // The idempotency key still replays; existing records update in place,
    // new ones get new sequences.
    let items = (0..25).map(|i| sample(IndicatorType::Domain, &format!("m{i}.migrate.example"))).collect();
    assert!(matches!(
        store.submit(batch("bank-a", items, Some("idem-1"))).await.unwrap(),
        SubmitOutcome::Replayed { .. }
    ));
    commit(&store, batch("cert-a", vec![sample(IndicatorType::Domain, "m1.migrate.example")], None)).await;
    assert_eq!(store.reader.indicator(&ids[1]).unwrap().unwrap().sources.count, 2);
    commit(&store, batch("cert-a", vec![sample(IndicatorType::Domain, "new.migrate.example")], None)).await;
    assert_eq!((count_tags(&store), count_prefix(&store, b"r/")), (25, 25));
    let last = store.reader.tree.scan_prefix(b"r/").last().unwrap().unwrap().0;
    assert_eq!(last.as_ref(), records::record_key(25).as_slice(), "a new record goes after the migrated ones");
    drop(store);
    // And it opens again as format 4.
    let store = SledStore::open(dir.path(), &key).unwrap();
    assert_eq!(store.reader.indicator(&ids[1]).unwrap().unwrap().sources.count, 2);
}

/// Format 3: a record opens only as the indicator it was written for (a
/// record copied over another one's sequence fails closed).
#[tokio::test]
async fn a_record_moved_to_another_sequence_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), &[14; 32]).unwrap();
    let items = vec![sample(IndicatorType::Domain, "a.swap.example"), sample(IndicatorType::Domain, "b.swap.example")];
    let ids = commit(&store, batch("bank-a", items, None)).await;
    let seq = |id: &str| records::find(&store.reader.index, &store.reader.keys.indicator(id)).unwrap();
    let vb = store.reader.tree.get(records::record_key(seq(&ids[1]))).unwrap().unwrap();
    store.reader.tree.insert(records::record_key(seq(&ids[0])), vb).unwrap();
    assert!(store.reader.indicator(&ids[0]).is_err());
    assert!(store.reader.indicator(&ids[1]).unwrap().is_some());
}

/// Format 4: a format-3 store (one `y/<seq>` tag entry per record) opens,
/// is marked format 4 with its tags merged into packs, reads as before,
/// and removes and adds records in the packs; `keys rotate` re-tags them.
#[tokio::test]
async fn a_format_3_store_is_migrated_and_reads_as_before() {
    use crate::store::rules::keys::{FORMAT, M_FORMAT};
    let dir = tempfile::tempdir().unwrap();
    let key = [15u8; 32];
    let (ids, before, feed_before) = {
        let store = SledStore::open(dir.path(), &key).unwrap();
        let mut ids = Vec::new();
        for b in 0..3 {
            let items = (0..10).map(|i| sample(IndicatorType::Domain, &format!("t{b}-{i}.pack.example"))).collect();
            ids.extend(commit(&store, batch("bank-a", items, None)).await);
        }
        assert_eq!(count_prefix(&store, b"y/"), 3, "one pack per commit");
        // a batch allocates its records' sequence numbers in no fixed order
        // of its items: where the retracted one sits decides the packs
        let seq = |id: &str| records::find(&store.reader.index, &store.reader.keys.indicator(id)).unwrap();
        let seqs: Vec<u64> = ids.iter().map(|id| seq(id)).collect();
        let gap = seqs[4];
        let at_an_end = gap == *seqs.iter().min().unwrap() || gap == *seqs.iter().max().unwrap();
        store.retract("bank-a", &ids[4]).await.unwrap();
        let before: Vec<_> = ids.iter().map(|id| store.reader.indicator(id).unwrap()).collect();
        (ids, before, (store.feed(0, 1000).await.unwrap().len(), if at_an_end { 1 } else { 2 }))
    };
    let (feed_before, packs) = feed_before;
    assert_eq!(downgrade_to_format_3(dir.path()), 29);
    let store = SledStore::open(dir.path(), &key).unwrap();
    assert_eq!(store.reader.tree.get(M_FORMAT).unwrap().unwrap().as_ref(), FORMAT);
    // two runs around the retracted record's gap (one if it was the first or last)
    assert_eq!(count_prefix(&store, b"y/"), packs, "the tags are packed");
    assert_eq!((count_tags(&store), count_prefix(&store, b"r/")), (29, 29));
    let after: Vec<_> = ids.iter().map(|id| store.reader.indicator(id).unwrap()).collect();
    assert_eq!(after, before);
    assert_eq!(store.feed(0, 1000).await.unwrap().len(), feed_before);
    assert!(store.verify_audit().await.unwrap().ok);
    // Removing records in a merged pack, adding new ones after them.
    store.retract("bank-a", &ids[12]).await.unwrap();
    store.retract("bank-a", &ids[0]).await.unwrap();
    commit(&store, batch("cert-a", vec![sample(IndicatorType::Domain, "t1-1.pack.example")], None)).await;
    commit(&store, batch("cert-a", vec![sample(IndicatorType::Domain, "new.pack.example")], None)).await;
    assert_eq!((count_tags(&store), count_prefix(&store, b"r/")), (28, 28));
    assert_eq!(store.reader.indicator(&ids[11]).unwrap().unwrap().sources.count, 2);
    assert!(store.reader.indicator(&ids[12]).unwrap().is_none());
    drop(store);
    let store = SledStore::open(dir.path(), &key).unwrap();
    assert_eq!(count_tags(&store), 28);
    assert!(store.reader.indicator(&ids[0]).unwrap().is_none());
    assert_eq!(store.reader.indicator(&ids[11]).unwrap().unwrap().sources.count, 2);
    store.close();
    drop(store);
    // Key rotation re-tags every record in its pack.
    let new_key = [16u8; 32];
    let rotation = rotate_storage_key(dir.path(), &key, &new_key, None).unwrap();
    assert_eq!((rotation.old_id, rotation.new_id), (1, 2));
    let store = SledStore::open(dir.path(), &new_key).unwrap();
    assert_eq!(count_tags(&store), 28);
    assert_eq!(store.reader.indicator(&ids[11]).unwrap().unwrap().sources.count, 2);
    assert!(store.reader.indicator(&ids[12]).unwrap().is_none());
    store.retract("bank-a", &ids[13]).await.unwrap();
    assert!(store.reader.indicator(&ids[13]).unwrap().is_none());
}

/// Reads `(since, limit]` at the head both ways: the feed (from memory
/// when the window holds the range) must answer what the log on disk
/// answers. True when memory served it.
fn same_as_disk(store: &SledStore, since: u64, limit: usize) -> bool {
    let head = store.head();
    let disk = store.reader.kept(since, limit, head).unwrap();
    let fed = store.reader.feed(since, limit, head, false).unwrap();
    assert_eq!(fed, disk, "since {since}, limit {limit}");
    let held = store.reader.recent.get(since, limit, head);
    if let Some(held) = &held {
        assert_eq!(held.iter().map(|e| FeedEntry::clone(e)).collect::<Vec<_>>(), disk, "since {since}, limit {limit}");
    }
    held.is_some()
}

/// Every read of the log, both ways, from each sequence number.
fn all_same_as_disk(store: &SledStore) -> usize {
    let mut from_memory = 0;
    for since in 0..=store.head() + 1 {
        for limit in [1, 7, 10_000] {
            from_memory += usize::from(same_as_disk(store, since, limit));
        }
    }
    from_memory
}

/// Follows the feed from `since` in pages of `page`, as a tailer does.
async fn follow(store: &SledStore, mut since: u64, page: usize) -> Vec<FeedEntry> {
    let mut out = Vec::new();
    loop {
        let got = store.feed(since, page).await.unwrap();
        let Some(last) = got.last() else { return out };
        since = last.seq;
        out.extend(got);
    }
}

/// Issue 11: the followers read what the writer has just committed from
/// memory, not from the blobs it sealed; they see exactly the entries, the
/// order and the gaps the log on disk has: updates, retractions and
/// expiries included, after compaction, for a follower that fell behind the
/// window, and after a reopen (the window starts empty at the head).
#[tokio::test]
async fn recent_entries_read_as_the_log_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let key = [10u8; 32];
    let value = |i: usize| format!("n{i}.recent.example");
    let ids = {
        let store = SledStore::open(dir.path(), &key).unwrap();
        let mut ids = Vec::new();
        for round in 0..4 {
            let items = (round * 40..round * 40 + 40)
                .map(|i| {
                    let mut s = sample(IndicatorType::Domain, &value(i));
                    if i % 3 == 0 {
                        s.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::hours(1));
                    }
                    s
                })
                .collect();
            ids.extend(commit(&store, batch("bank-a", items, None)).await);
        }
        // Updates (a co-submission), retractions and expiries.
        commit(&store, batch("isp-a", (0..10).map(|i| sample(IndicatorType::Domain, &value(i))).collect(), None)).await;
        for id in &ids[20..30] {
            store.retract("bank-a", id).await.unwrap();
        }
        let later = OffsetDateTime::now_utc() + time::Duration::hours(2);
        let due: Vec<String> = (0..160).step_by(3).map(|i| ids[i].clone()).collect();
        assert!(store.expire(due, later).await.unwrap() > 10);
        let head = store.head();
        let ops: Vec<Op> = follow(&store, 0, 1000).await.iter().map(|e| e.op).collect();
        assert_eq!(ops.len() as u64, head);
        assert!(ops.contains(&Op::Update) && ops.contains(&Op::Remove));
        // A fresh store: the window holds the whole log.
        assert_eq!(all_same_as_disk(&store), 3 * (head as usize + 2));
        let followed = follow(&store, 0, 7).await;
        assert_eq!(followed, store.reader.kept(0, usize::MAX, head).unwrap());
        assert_eq!(followed.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=head).collect::<Vec<_>>());

        // Compaction drops the retracted and expired indicators' entries
        // and their removals (all older than `older_than`): from both.
        let (held, ..) = store.reader.recent.held();
        let done = store.compact(OffsetDateTime::now_utc() + time::Duration::days(1)).await.unwrap();
        assert!(done.dropped > 40 && done.horizon > 0, "{done:?}");
        assert_eq!(store.reader.recent.held().0, held - done.dropped as usize);
        all_same_as_disk(&store);
        assert!(matches!(store.feed(1, 10).await, Err(StoreError::Compacted { .. })));
        let from_zero = store.feed(0, 10_000).await.unwrap();
        assert_eq!(from_zero.len() as u64, head - done.dropped);
        let followed = follow(&store, done.horizon, 7).await;
        assert_eq!(followed, store.reader.kept(done.horizon, usize::MAX, store.head()).unwrap());

        // A follower that fell behind a (small) window reads the log.
        store.reader.recent.set_budget(30 * 1024);
        let before = store.head();
        let more = (200..400).map(|i| sample(IndicatorType::Domain, &value(i))).collect();
        ids.extend(commit(&store, batch("bank-a", more, None)).await);
        store.retract("bank-a", &ids[250]).await.unwrap();
        let (held, bytes, from, to) = store.reader.recent.held();
        assert!(held > 10 && bytes <= 30 * 1024 && from > before && to == store.head(), "{held} {bytes} {from} {to}");
        assert!(!same_as_disk(&store, before, 10_000), "a range that left the window is read from disk");
        assert!(same_as_disk(&store, from, 10_000) && same_as_disk(&store, to - 3, 2));
        all_same_as_disk(&store);
        assert_eq!(follow(&store, before, 7).await, store.reader.kept(before, usize::MAX, store.head()).unwrap());
        ids
    };

    // Reopened: the window starts at the head; what follows is held.
    let store = SledStore::open(dir.path(), &key).unwrap();
    let head = store.head();
    assert!(!same_as_disk(&store, 0, 10_000) && same_as_disk(&store, head, 10));
    commit(&store, batch("isp-a", (400..420).map(|i| sample(IndicatorType::Domain, &value(i))).collect(), None)).await;
    store.retract("bank-a", &ids[300]).await.unwrap();
    assert!(same_as_disk(&store, head, 10_000) && !same_as_disk(&store, head - 1, 10_000));
    assert_eq!(all_same_as_disk(&store), 3 * 23);
    assert_eq!(follow(&store, head, 7).await.len(), 21);
}

/// Issue 11: a compaction pass with nothing that can be dropped (no removal
/// kept by the last pass, none committed since) answers without reading the
/// log, exactly what reading it answers; a removal makes the next pass read.
#[tokio::test]
async fn compaction_without_removals_answers_without_reading_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), &[11; 32]).unwrap();
    let value = |i: usize| format!("n{i}.compact.example");
    let old = || OffsetDateTime::now_utc() + time::Duration::days(1);
    let read_all = |store: &SledStore| store.reader.pass(&store.db, old(), store.head()).unwrap();
    let ids =
        commit(&store, batch("bank-a", (0..50).map(|i| sample(IndicatorType::Domain, &value(i))).collect(), None))
            .await;
    let first = store.compact(old()).await.unwrap();
    assert_eq!((first.scanned, first.dropped), (50, 0));
    commit(&store, batch("isp-a", (0..80).map(|i| sample(IndicatorType::Domain, &value(i))).collect(), None)).await;
    let skipped = store.compact(old()).await.unwrap();
    assert_eq!(skipped, read_all(&store));
    assert_eq!(skipped.scanned, 130);
    // A removal: the pass reads the log and drops.
    store.retract("bank-a", &ids[0]).await.unwrap();
    store.retract("isp-a", &ids[0]).await.unwrap();
    let young = store.compact(OffsetDateTime::now_utc() - time::Duration::days(1)).await.unwrap();
    // bank-a's retraction is an update (isp-a still contributes), isp-a's the removal.
    assert_eq!((young.scanned, young.dropped, young.tombstones), (132, 3, 1));
    // A tombstone kept: still read, until it is old enough to go.
    commit(&store, batch("isp-a", vec![sample(IndicatorType::Domain, "late.compact.example")], None)).await;
    assert_eq!(
        store.compact(OffsetDateTime::now_utc() - time::Duration::days(1)).await.unwrap(),
        Compaction { scanned: 130, dropped: 0, tombstones: 1, horizon: 0 }
    );
    let gone = store.compact(old()).await.unwrap();
    assert_eq!((gone.scanned, gone.dropped, gone.tombstones, gone.horizon), (130, 1, 0, 132));
    commit(&store, batch("isp-a", vec![sample(IndicatorType::Domain, "later.compact.example")], None)).await;
    let skipped = store.compact(old()).await.unwrap();
    assert_eq!(skipped, read_all(&store));
    assert_eq!((skipped.scanned, skipped.dropped, skipped.horizon), (130, 0, 132));
    all_same_as_disk(&store);
}

/// A cold read of the log starts a thread that settles sled's cache once
/// the reads stop (`settle`): it ends by itself, the reads answer as
/// before, and closing waits for it (the directory opens again at once).
#[tokio::test]
async fn cold_reads_settle_the_cache_and_close_waits() {
    let dir = tempfile::tempdir().unwrap();
    let key = [5u8; 32];
    let opts = || StoreOptions { exit_on_unrecoverable: false, cache_bytes: 256 << 10, ..Default::default() };
    {
        let store = SledStore::open_with(dir.path(), &key, opts()).unwrap();
        for b in 0..4 {
            let items =
                (0..100).map(|i| sample(IndicatorType::Domain, &format!("settle-{b}-{i}.example"))).collect::<Vec<_>>();
            store.submit(batch("bank-a", items, None)).await.unwrap();
        }
    }
    let store = SledStore::open_with(dir.path(), &key, opts()).unwrap();
    let settle = store.reader.settle.clone();
    let all = follow(&store, 0, 50).await;
    assert_eq!(all.len(), 400);
    let since = Instant::now();
    while settle.running.load(Ordering::Acquire) {
        assert!(since.elapsed() < Duration::from_secs(30), "the settle thread never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Settled: what was read cold is accounted for (else no thread ran).
    assert!(settle.cold.load(Ordering::Relaxed) < 64 << 10);
    assert_eq!(follow(&store, 0, 1000).await, all);
    // The second read starts another settle: closing waits for it.
    drop(store);
    let store = SledStore::open_with(dir.path(), &key, opts()).unwrap();
    assert_eq!(store.head(), 400);
}
