//! The store contract (`tamis::store::Store`), checked the same way on both
//! backends: one `async fn` per guarantee, each run on a fresh sled store
//! and on a fresh PostgreSQL database (a throwaway cluster, see
//! `common/pg.rs`; "skipped" without PostgreSQL unless
//! `TAMIS_REQUIRE_POSTGRES=1`). Guarantees about several nodes run on two
//! handles of one PostgreSQL database (the sled store has one handle).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::pg::Postgres;
use common::store_fixture::{store_batch, store_sample};
use tamis::audit::AuditEvent;
use tamis::model::{Category, Indicator, IndicatorType, SanitisedIndicator, Tlp};
use tamis::store::{
    Op, PgStore, PolicyLoad, Report, Retracted, SightingBatch, SightingStatus, SledStore, StoreError, StoreHandle,
    StoreOptions, SubmitBatch, SubmitOutcome, indicator_id,
};
use time::OffsetDateTime;

/// Where a guarantee's store lives: a sled directory or a PostgreSQL database.
enum Place {
    Sled(tempfile::TempDir),
    Postgres { url: String, files: PathBuf },
}

impl Place {
    fn open(&self, key: &[u8; 32]) -> StoreHandle {
        match self {
            Place::Sled(dir) => StoreHandle::Sled(open_sled(dir.path(), key).unwrap()),
            Place::Postgres { url, .. } => {
                let opts = StoreOptions { exit_on_unrecoverable: false, ..Default::default() };
                StoreHandle::Postgres(PgStore::open(url, key, opts).unwrap())
            }
        }
    }

    /// A second handle, as a second node has (the same one for sled).
    fn second(&self, first: &StoreHandle, key: &[u8; 32]) -> StoreHandle {
        match self {
            Place::Sled(_) => first.clone(),
            Place::Postgres { .. } => self.open(key),
        }
    }

    /// The files the data ends up in.
    fn files(&self) -> Vec<PathBuf> {
        match self {
            Place::Sled(dir) => walk(dir.path()),
            Place::Postgres { files, .. } => walk(files),
        }
    }
}

/// Opens a sled store, waiting while the previous handle's background
/// threads still hold the directory's lock (they stop shortly after close).
fn open_sled(dir: &Path, key: &[u8; 32]) -> Result<Arc<SledStore>, StoreError> {
    for _ in 0..40 {
        match SledStore::open(dir, key) {
            Err(e) if e.to_string().contains("could not acquire lock") => std::thread::sleep(Duration::from_millis(50)),
            r => return r,
        }
    }
    SledStore::open(dir, key)
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap().path();
        if e.is_dir() {
            out.extend(walk(&e));
        } else if e.is_file() {
            out.push(e);
        }
    }
    out
}

fn sample(value: &str) -> SanitisedIndicator {
    store_sample(value.into())
}

fn sighting(value: &str, tlp: Tlp, confidence: u8, desc: &str) -> SanitisedIndicator {
    let mut s = sample(value);
    s.tlp = tlp;
    s.confidence = confidence;
    s.description = Some(desc.into());
    s.tags = vec![desc.into()];
    s
}

/// [`store_batch`] by `who`, with an Idempotency-Key when given.
fn batch(who: &str, items: Vec<SanitisedIndicator>, idem: Option<&str>) -> SubmitBatch {
    let mut b = store_batch(items);
    b.contributor.participant = who.into();
    if let AuditEvent::Submission { participant, .. } = &mut b.audit {
        *participant = who.into();
    }
    b.idempotency = idem.map(|k| (who.to_owned(), k.to_owned()));
    b
}

async fn commit(store: &StoreHandle, b: SubmitBatch) -> Vec<String> {
    match store.submit(b).await.unwrap() {
        SubmitOutcome::Committed { ids } => ids,
        o => panic!("{o:?}"),
    }
}

/// Indicator `id` as the feed last showed it (`None`: never, or removed).
async fn current(store: &StoreHandle, id: &str) -> Option<Indicator> {
    let feed = store.feed(0, 100_000).await.unwrap();
    let last = feed.into_iter().rev().find(|e| e.indicator.id == id)?;
    (last.op != Op::Remove).then_some(last.indicator)
}

/// Duplicates add a source, an Idempotency-Key replays, everything survives
/// a reopen, and no indicator value reaches the files in clear.
async fn dedups_replays_survives_reopen_and_seals(place: &Place) {
    let key = [3u8; 32];
    {
        let store = place.open(&key);
        let ids = commit(&store, batch("bank-a", vec![sample("evil-sealed.example")], None)).await;
        commit(&store, batch("isp-a", vec![sample("evil-sealed.example")], Some("k1"))).await;
        let again = store.submit(batch("isp-a", vec![sample("evil-sealed.example")], Some("k1"))).await;
        assert!(matches!(again.unwrap(), SubmitOutcome::Replayed { .. }));
        assert_eq!(current(&store, &ids[0]).await.unwrap().sources.count, 2);
        assert_eq!(store.head(), 2);
        let feed = store.feed(0, 10).await.unwrap();
        assert_eq!(feed.iter().map(|e| e.op).collect::<Vec<_>>(), vec![Op::Add, Op::Update]);
        assert_eq!(feed.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert!(store.verify_audit().await.unwrap().ok);
        store.close();
    }
    let store = place.open(&key);
    assert_eq!(store.head(), 2);
    assert_eq!(store.audit_log(0, 10).await.unwrap().len(), 2);
    assert_eq!(store.audit_head().0, 2);
    assert!(store.verify_audit().await.unwrap().ok);
    store.close();
    for f in place.files() {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(!bytes.windows(19).any(|w| w == b"evil-sealed.example"), "plaintext value in {}", f.display());
        assert!(!bytes.windows(5).any(|w| w == b"isp-a"), "participant name in {}", f.display());
    }
}

/// A co-submitter neither rewrites nor hides the originator's indicator;
/// its own sighting takes over only when the originator's ends.
async fn co_submission_keeps_the_originators_fields(place: &Place) {
    let store = place.open(&[4; 32]);
    let mut isp = sighting("c2.example", Tlp::Green, 90, "isp");
    isp.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(1));
    let id = commit(&store, batch("isp-a", vec![isp], None)).await.remove(0);
    let before = current(&store, &id).await.unwrap();
    let head = store.head();
    let mut red = sighting("c2.example", Tlp::Red, 100, "benign test entry, do not block");
    red.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(30_000));
    red.category = Category::Other;
    commit(&store, batch("bank-a", vec![red], None)).await;
    assert_eq!(store.head(), head, "a hidden co-submission: consumers see no change at all");
    assert_eq!(store.retract("bank-a", &id).await.unwrap(), Retracted { removed: false });
    assert_eq!(store.head(), head);
    let mut green = sighting("c2.example", Tlp::Green, 10, "bank");
    green.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(3_000));
    commit(&store, batch("bank-a", vec![green], None)).await;
    let now = current(&store, &id).await.unwrap();
    assert_eq!((now.tlp, now.confidence, now.sources.count), (Tlp::Green, 90, 2));
    assert_eq!((now.description.as_deref(), now.valid_until), (Some("isp"), before.valid_until));
    // The originator's sighting expires: the next-oldest leads, its validity capped at a year.
    let later = OffsetDateTime::now_utc() + time::Duration::days(2);
    assert_eq!(store.expire(vec![id.clone()], later).await.unwrap(), 1);
    let now = current(&store, &id).await.unwrap();
    assert_eq!((now.description.as_deref(), now.confidence, now.sources.count), (Some("bank"), 10, 1));
    assert!(now.valid_until.unwrap() <= OffsetDateTime::now_utc() + time::Duration::days(366));
    assert_eq!(store.feed(0, 100).await.unwrap().last().unwrap().op, Op::Update);
    store.close();
}

/// The originator retracts: a more restrictive co-submission leads at its
/// own TLP; the last retraction removes the indicator.
async fn originator_retracts_and_the_next_contribution_leads(place: &Place) {
    let store = place.open(&[4; 32]);
    let id = commit(&store, batch("isp-a", vec![sighting("x.example", Tlp::Green, 90, "isp")], None)).await;
    commit(&store, batch("bank-a", vec![sighting("x.example", Tlp::Red, 40, "bank")], None)).await;
    store.retract("isp-a", &id[0]).await.unwrap();
    let now = current(&store, &id[0]).await.unwrap();
    assert_eq!((now.tlp, now.confidence, now.description.as_deref()), (Tlp::Red, 40, Some("bank")));
    assert_eq!(store.retract("bank-a", &id[0]).await.unwrap(), Retracted { removed: true });
    assert!(current(&store, &id[0]).await.is_none());
    let last = store.feed(0, 100).await.unwrap().pop().unwrap();
    assert_eq!((last.op, last.reason.as_deref()), (Op::Remove, Some("retracted")));
    assert!(matches!(store.retract("bank-a", &id[0]).await, Err(StoreError::NotFound)));
    store.close();
}

/// The same Idempotency-Key with another request is refused and changes
/// nothing, from either node.
async fn idempotency_key_reused_with_another_body_is_refused(place: &Place) {
    let a = place.open(&[5; 32]);
    let b = place.second(&a, &[5; 32]);
    let first = || batch("bank-a", vec![sample("a.example")], Some("k"));
    commit(&a, first()).await;
    assert!(matches!(b.submit(first()).await.unwrap(), SubmitOutcome::Replayed { .. }));
    let other = batch("bank-a", vec![sample("b.example")], Some("k"));
    assert!(matches!(b.submit(other).await, Err(StoreError::IdempotencyMismatch)));
    assert!(current(&a, &indicator_id(IndicatorType::Domain, "b.example")).await.is_none());
    // Another participant may use the same key.
    commit(&b, batch("isp-a", vec![sample("b.example")], Some("k"))).await;
    b.close();
    a.close();
}

/// Each request carries its own answer, whatever group it shares; an audit
/// event gets its own sequence number.
async fn requests_are_answered_one_by_one(place: &Place) {
    let store = place.open(&[8; 32]);
    let a = commit(&store, batch("bank-a", vec![sample("a.example")], Some("k"))).await;
    let reused = store.submit(batch("bank-a", vec![sample("b.example")], Some("k")));
    let not_mine = store.retract("isp-a", &a[0]);
    let fresh = store.submit(batch("isp-a", vec![sample("c.example")], None));
    let event = AuditEvent::PolicyLoad { policy: "default@0011".into(), file: "default.toml".into() };
    let audited = store.audit(event);
    assert!(matches!(reused.await, Err(StoreError::IdempotencyMismatch)));
    assert!(matches!(not_mine.await, Err(StoreError::NotFound)));
    assert!(matches!(fresh.await.unwrap(), SubmitOutcome::Committed { .. }));
    assert_eq!(audited.await.unwrap(), 3);
    assert!(current(&store, &a[0]).await.is_some(), "the refused retraction changed nothing");
    assert!(matches!(store.retract("isp-a", "00000000-0000-4000-8000-000000000000").await, Err(StoreError::NotFound)));
    assert_eq!(store.retract("bank-a", &a[0]).await.unwrap(), Retracted { removed: true });
    store.close();
}

/// Policy versions and counters are kept with the commits that use them.
async fn policies_and_counters(place: &Place) {
    let store = place.open(&[9; 32]);
    let load =
        |text: &str| PolicyLoad { id: "default".into(), hash: "0011".into(), text: text.into(), file: "d".into() };
    store.record_policy(load("v1")).await.unwrap();
    store.record_policy(load("v1")).await.unwrap();
    commit(&store, batch("bank-a", vec![sample("p1.example"), sample("p2.example")], None)).await;
    let versions = store.policy_versions().await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].submissions, versions[0].text.as_str()), (1, "v1"));
    assert!(versions[0].first_used.is_some());
    let c = store.counters().await.unwrap();
    assert_eq!(c.submissions_by_week.values().sum::<u64>(), 1);
    assert_eq!(c.accepted_by_week.values().sum::<u64>(), 2);
    assert_eq!(store.audit_log(0, 10).await.unwrap().len(), 3, "two policy loads and the submission");
    store.close();
}

/// Expiry is idempotent: two nodes expiring the same id change it once; a
/// renewed indicator is skipped.
async fn expiry_is_idempotent_across_nodes(place: &Place) {
    let a = place.open(&[10; 32]);
    let b = place.second(&a, &[10; 32]);
    let mut s = sample("soon.example");
    s.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::hours(1));
    let id = commit(&a, batch("isp-a", vec![s], None)).await.remove(0);
    let later = OffsetDateTime::now_utc() + time::Duration::hours(2);
    let (x, y) = tokio::join!(a.expire(vec![id.clone()], later), b.expire(vec![id.clone()], later));
    assert_eq!(x.unwrap() + y.unwrap(), 1, "expired once");
    let last = a.feed(0, 100).await.unwrap().pop().unwrap();
    assert_eq!((last.op, last.reason.as_deref()), (Op::Remove, Some("expired")));
    let mut renewed = sample("renewed.example");
    renewed.valid_until = Some(OffsetDateTime::now_utc() + time::Duration::days(10));
    let id = commit(&a, batch("isp-a", vec![renewed], None)).await.remove(0);
    assert_eq!(b.expire(vec![id], OffsetDateTime::now_utc()).await.unwrap(), 0, "not due: skipped");
    b.close();
    a.close();
}

/// Writers on two nodes at once; a follower reading the feed all along
/// never misses an entry (no sequence gap is ever visible), every commit
/// shows up, and the audit chain is one, without gaps, and verifies.
async fn concurrent_writers_and_a_follower_miss_nothing(place: &Place) {
    const WRITERS: usize = 4;
    const BATCHES: usize = 25;
    let a = place.open(&[11; 32]);
    let b = place.second(&a, &[11; 32]);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follower = {
        let (b, stop) = (b.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut cursor, mut seen) = (0u64, Vec::new());
            loop {
                let done = stop.load(std::sync::atomic::Ordering::Acquire);
                for e in b.feed(cursor, 7).await.unwrap() {
                    assert_eq!(e.seq, cursor + 1, "the follower skipped an entry");
                    cursor = e.seq;
                    seen.push(e.indicator.id.clone());
                }
                if done && cursor == b.head() && b.feed(cursor, 1).await.unwrap().is_empty() {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let node = if w % 2 == 0 { a.clone() } else { b.clone() };
        writers.push(tokio::spawn(async move {
            for i in 0..BATCHES {
                let items = (0..3).map(|j| sample(&format!("w{w}-b{i}-{j}.example"))).collect();
                commit(&node, batch("bank-a", items, None)).await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    // Both nodes learn of every commit.
    let total = (WRITERS * BATCHES * 3) as u64;
    wait_until(|| a.head() == total && b.head() == total).await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    let seen = follower.await.unwrap();
    assert_eq!(seen.len() as u64, total);
    let audit = a.audit_log(0, 10_000).await.unwrap();
    assert_eq!(audit.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=(WRITERS * BATCHES) as u64).collect::<Vec<_>>());
    let v = b.verify_audit().await.unwrap();
    assert!(v.ok && v.records == (WRITERS * BATCHES) as u64, "{v:?}");
    wait_until(|| a.audit_head() == b.audit_head()).await;
    assert_eq!(a.audit_head().1, audit.last().unwrap().hash);
    b.close();
    a.close();
}

/// `changes()` moves after a commit on the other node, within a second.
async fn changes_wake_other_nodes(place: &Place) {
    let a = place.open(&[12; 32]);
    let b = place.second(&a, &[12; 32]);
    let mut changes = b.changes();
    changes.borrow_and_update();
    let t0 = std::time::Instant::now();
    commit(&a, batch("bank-a", vec![sample("wake.example")], None)).await;
    tokio::time::timeout(Duration::from_secs(1), changes.changed()).await.expect("woken within a second").unwrap();
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert_eq!(b.head(), 1);
    // Audit-only commits move it too.
    changes.borrow_and_update();
    a.audit(AuditEvent::Start { version: "t".into() }).await.unwrap();
    tokio::time::timeout(Duration::from_secs(1), changes.changed()).await.expect("woken by an audit").unwrap();
    wait_until(|| b.audit_head().0 == 2).await;
    b.close();
    a.close();
}

/// A closed store answers `Closed` instead of hanging.
async fn a_closed_store_says_so(place: &Place) {
    let store = place.open(&[13; 32]);
    store.close();
    let e = store.submit(batch("bank-a", vec![sample("late.example")], None)).await;
    assert!(matches!(e, Err(StoreError::Closed)), "{e:?}");
}

/// A wrong storage key is refused at open with a clear error.
async fn a_wrong_key_is_refused(place: &Place) {
    let store = place.open(&[14; 32]);
    commit(&store, batch("bank-a", vec![sample("k.example")], None)).await;
    store.close();
    drop(store);
    let e = match place {
        Place::Sled(dir) => open_sled(dir.path(), &[15; 32]).err().unwrap(),
        Place::Postgres { url, .. } => PgStore::open(url, &[15; 32], StoreOptions::default()).err().unwrap(),
    };
    assert!(matches!(e, StoreError::WrongKey { .. }) && e.to_string().contains("storage key"), "{e}");
}

/// The directory: an entry per participant, replaced whole, kept across a
/// reopen, audited by count only; nothing of it in clear in the files.
async fn directory_entries_replace_and_survive(place: &Place) {
    let key = [11u8; 32];
    let contacts = |email: &str| {
        let body = serde_json::json!({"contacts": [{"role": "fraud", "hours": "24/7", "phone": "+33123456789",
            "email": email, "languages": ["fr"]}]});
        tamis::directory::parse_contacts(&serde_json::to_vec(&body).unwrap()).unwrap()
    };
    {
        let store = place.open(&key);
        assert!(store.directory().await.unwrap().is_empty());
        store.put_directory("bank-a", contacts("first-desk@bank-a.example")).await.unwrap();
        store.put_directory("police-a", contacts("liaison-desk@police.example")).await.unwrap();
        let e = store.put_directory("bank-a", contacts("fraud-desk@bank-a.example")).await.unwrap();
        assert_eq!(e.participant, "bank-a");
        store.close();
    }
    let store = place.open(&key);
    let all = store.directory().await.unwrap();
    let names: Vec<&str> = all.iter().map(|e| e.participant.as_str()).collect();
    assert_eq!(names, ["bank-a", "police-a"]);
    assert_eq!(all[0].contacts.len(), 1);
    assert_eq!(all[0].contacts[0].email, "fraud-desk@bank-a.example");
    let audit = store.audit_log(0, 100).await.unwrap();
    assert_eq!(audit.len(), 3);
    assert!(
        matches!(&audit[2].event, AuditEvent::DirectoryUpdate { participant, contacts: 1 } if participant == "bank-a")
    );
    assert!(store.verify_audit().await.unwrap().ok);
    store.close();
    for f in place.files() {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(!bytes.windows(10).any(|w| w == b"fraud-desk"), "contact in clear in {}", f.display());
    }
}

fn fp(reporter: &str, id: &str, decisive: bool) -> SightingBatch {
    SightingBatch {
        reporter: reporter.into(),
        sector: "telecom".into(),
        decisive,
        threshold: 2,
        reports: vec![(id.to_owned(), Report::FalsePositive { reason: format!("{reporter} says so") })],
    }
}

/// Sightings: counts; false positives from two distinct reporters (or one
/// decisive) withdraw an indicator with a feed entry marked `withdrawn`;
/// the submitter sees the reports and confirms; a reporter's own indicator
/// and unknown ids are refused; counters and audit follow.
async fn false_positives_withdraw_and_confirmation_reinstates(place: &Place) {
    let store = place.open(&[12; 32]);
    let ids = commit(&store, batch("bank-a", vec![sample("fp-a.example"), sample("fp-b.example")], None)).await;
    let seen = SightingBatch {
        reports: vec![
            (ids[0].clone(), Report::Seen { count: 5 }),
            (ids[0].clone(), Report::Seen { count: 2 }),
            ("00000000-0000-4000-8000-000000000000".into(), Report::Seen { count: 1 }),
        ],
        ..fp("isp-a", &ids[0], false)
    };
    let s = store.sightings(seen).await.unwrap();
    assert_eq!(s, [SightingStatus::Recorded, SightingStatus::Recorded, SightingStatus::Unknown]);
    let head = store.head();
    // The same reporter twice counts once; a second reporter withdraws.
    assert_eq!(store.sightings(fp("isp-a", &ids[0], false)).await.unwrap(), [SightingStatus::Recorded]);
    assert_eq!(store.sightings(fp("isp-a", &ids[0], false)).await.unwrap(), [SightingStatus::Recorded]);
    assert_eq!(store.head(), head, "no feed entry before the rule is met");
    assert_eq!(store.sightings(fp("police-a", &ids[0], false)).await.unwrap(), [SightingStatus::Withdrawn]);
    let e = store.feed(head, 10).await.unwrap();
    assert_eq!(e.len(), 1);
    assert!(e[0].withdrawn && e[0].op == Op::Update && e[0].reason.as_deref() == Some("false-positive"));
    // One decisive report is enough; the submitter cannot report its own.
    assert_eq!(store.sightings(fp("isp-b", &ids[1], true)).await.unwrap(), [SightingStatus::Withdrawn]);
    assert_eq!(store.sightings(fp("bank-a", &ids[1], true)).await.unwrap(), [SightingStatus::OwnIndicator]);
    // The submitter's view: sectors and reasons, no names.
    let mine = store.feedback("bank-a").await.unwrap();
    assert_eq!(mine.len(), 2);
    let a = mine.iter().find(|r| r.id == ids[0]).unwrap();
    assert_eq!((a.seen_reporters, a.seen_count, a.false_positives.len()), (1, 7, 2));
    assert!(a.withdrawn.is_some() && a.false_positives.iter().all(|f| f.sector == "telecom"));
    assert!(store.feedback("isp-a").await.unwrap().is_empty());
    // Only a contributor confirms; confirmation clears and reinstates.
    assert!(matches!(store.confirm("isp-a", &ids[0]).await, Err(StoreError::NotFound)));
    let r = store.confirm("bank-a", &ids[0]).await.unwrap();
    assert!(r.reinstated && r.cleared == 2);
    let last = store.feed(0, 100).await.unwrap().into_iter().rev().find(|e| e.indicator.id == ids[0]).unwrap();
    assert!(!last.withdrawn && last.reason.as_deref() == Some("confirmed"));
    let c = store.counters().await.unwrap();
    let total = |m: &std::collections::BTreeMap<String, u64>| m.values().sum::<u64>();
    assert_eq!(
        (
            total(&c.seen_by_week),
            total(&c.false_positives_by_week),
            total(&c.withdrawn_by_week),
            total(&c.confirmed_by_week)
        ),
        (7, 4, 2, 1)
    );
    let events: Vec<String> = store
        .audit_log(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| serde_json::to_value(&r.event).unwrap()["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events.iter().filter(|e| *e == "sightings").count(), 6);
    assert_eq!(events.last().map(String::as_str), Some("review"));
    // A retracted indicator takes its reports with it: submitted again, it
    // is a new life, on the blocklists, without the old withdrawal.
    store.retract("bank-a", &ids[1]).await.unwrap();
    assert_eq!(store.feedback("bank-a").await.unwrap().len(), 1);
    let again = commit(&store, batch("bank-a", vec![sample("fp-b.example")], None)).await;
    assert_eq!(again[0], ids[1]);
    let last = store.feed(0, 100).await.unwrap().into_iter().next_back().unwrap();
    assert!(last.indicator.id == ids[1] && last.op == Op::Add && !last.withdrawn, "{last:?}");
    let mine: Vec<String> = store.feedback("bank-a").await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(mine, [ids[0].clone()]);
    store.close();
}

/// The private lookup's outputs: in their bucket while their indicator is
/// live, not TLP:RED, not withdrawn and not past `valid_until`; a
/// co-submission keeps one in, the last retraction takes it out; sealed on
/// disk (the data shows the bucket, not the output); they survive a reopen.
async fn lookup_outputs_follow_their_indicators(place: &Place) {
    let key = [13u8; 32];
    let oprf = tamis::lookup::LookupKey::from_seed(&[21; 32]);
    let out: Vec<String> = ["DE89370400440532013000", "+33612345678", "mule@gmail.com"]
        .iter()
        .map(|v| oprf.evaluate(v).unwrap())
        .collect();
    let token = |i: usize, tlp: Tlp| {
        let mut s = sample(&format!("tok:v1:iban:{i:032x}"));
        (s.kind, s.value_form, s.tlp) = (IndicatorType::Iban, Some("pseudonymised".into()), tlp);
        s
    };
    let now = OffsetDateTime::now_utc();
    let mut soon = token(3, Tlp::Amber);
    soon.valid_until = Some(now + time::Duration::days(1));
    let member = |store: StoreHandle, o: String, at: OffsetDateTime| async move {
        let bucket = store.lookup_bucket(tamis::lookup::prefix_of(&o), at).await.unwrap();
        assert!(bucket.windows(2).all(|w| w[0] < w[1]), "sorted");
        assert!(bucket.iter().all(|b| b.starts_with(tamis::lookup::prefix_of(&o))));
        bucket.contains(&o)
    };
    let store = place.open(&key);
    let mut b = batch("bank-a", vec![token(1, Tlp::Amber), token(2, Tlp::Red), soon], None);
    b.lookup = out.iter().cloned().map(Some).collect();
    let ids = commit(&store, b).await;
    assert!(member(store.clone(), out[0].clone(), now).await);
    assert!(!member(store.clone(), out[1].clone(), now).await, "TLP:RED stays out");
    assert!(member(store.clone(), out[2].clone(), now).await);
    assert!(!member(store.clone(), out[2].clone(), now + time::Duration::days(2)).await, "expired");
    // bank-b co-submits the first (without an output: it keeps the stored one)
    commit(&store, batch("bank-b", vec![token(1, Tlp::Amber)], None)).await;
    store.retract("bank-a", &ids[0]).await.unwrap();
    assert!(member(store.clone(), out[0].clone(), now).await, "bank-b's contribution is live");
    // withdrawn by a decisive false positive, back when confirmed
    assert_eq!(store.sightings(fp("isp-b", &ids[0], true)).await.unwrap(), [SightingStatus::Withdrawn]);
    assert!(!member(store.clone(), out[0].clone(), now).await, "withdrawn");
    store.confirm("bank-b", &ids[0]).await.unwrap();
    assert!(member(store.clone(), out[0].clone(), now).await, "confirmed");
    store.close();
    drop(store);
    let store = place.open(&key);
    assert!(member(store.clone(), out[0].clone(), now).await, "survives a reopen");
    assert!(store.retract("bank-b", &ids[0]).await.unwrap().removed);
    assert!(!member(store.clone(), out[0].clone(), now).await, "the last retraction takes it out");
    assert!(member(store.clone(), out[2].clone(), now).await);
    store.close();
    for f in place.files() {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for o in &out {
            assert!(!bytes.windows(32).any(|w| w == &o.as_bytes()[..32]), "an output in clear in {}", f.display());
        }
    }
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(f(), "condition not reached within 5 s");
}

/// Named consumer cursors survive a reopen and are seen by another node; a
/// lease is held by one holder at a time until it expires (the embedded
/// store, one process, grants every lease).
async fn cursors_persist_and_leases_exclude(place: &Place) {
    let key = [12u8; 32];
    {
        let store = place.open(&key);
        assert_eq!(store.cursor("webhook/police-a").await.unwrap(), None);
        store.save_cursor("webhook/police-a", 41).await.unwrap();
        store.save_cursor("webhook/police-a", 42).await.unwrap();
        store.save_cursor("webhook/police-b", 7).await.unwrap();
        let other = place.second(&store, &key);
        assert_eq!(other.cursor("webhook/police-a").await.unwrap(), Some(42));
        let ttl = std::time::Duration::from_millis(600);
        assert!(store.lease("webhook/police-a", "node-1", ttl).await.unwrap());
        assert!(store.lease("webhook/police-a", "node-1", ttl).await.unwrap(), "the holder renews");
        let shared = matches!(place, Place::Postgres { .. });
        if shared {
            assert!(!other.lease("webhook/police-a", "node-2", ttl).await.unwrap(), "held by node-1");
            assert!(other.lease("webhook/police-b", "node-2", ttl).await.unwrap(), "another lease is free");
            tokio::time::sleep(std::time::Duration::from_millis(800)).await;
            assert!(other.lease("webhook/police-a", "node-2", ttl).await.unwrap(), "expired: node-2 takes it");
            assert!(!store.lease("webhook/police-a", "node-1", ttl).await.unwrap(), "node-1 lost it");
            other.close();
        }
        store.close();
    }
    let store = place.open(&key);
    assert_eq!(store.cursor("webhook/police-a").await.unwrap(), Some(42));
    assert_eq!(store.cursor("webhook/police-b").await.unwrap(), Some(7));
    store.close();
}

/// A follower's copy of the set: what it reads applied in order (a removal
/// of something it never saw is harmless).
fn mirror(copy: &mut std::collections::BTreeMap<String, String>, entries: &[tamis::store::FeedEntry]) {
    for e in entries {
        match e.op {
            Op::Remove => copy.remove(&e.indicator.id),
            _ => copy.insert(e.indicator.id.clone(), e.indicator.value.clone()),
        };
    }
}

/// Follows the feed from `cursor` to the head: the new cursor, or the error.
async fn follow(
    store: &StoreHandle,
    cursor: u64,
    copy: &mut std::collections::BTreeMap<String, String>,
) -> Result<u64, StoreError> {
    let mut cursor = cursor;
    loop {
        let page = store.feed(cursor, 2).await?;
        let Some(last) = page.last() else { return Ok(cursor) };
        cursor = last.seq;
        mirror(copy, &page);
    }
}

/// Compaction (issue 11, item 4): entries followed by a removal go at once,
/// removals once older than the retention; sequence numbers stay (gaps); a
/// follower from 0 gets exactly the live set and the recent removals, one
/// that resumes above the horizon converges to the set of one that read
/// everything, and one below the horizon is told to resynchronise (also
/// after a reopen); the audit chain is untouched.
async fn compaction_keeps_followers_converging(place: &Place) {
    use std::collections::BTreeMap;
    let key = [21u8; 32];
    let store = place.open(&key);
    let values = ["a.compact.example", "b.compact.example", "c.compact.example"];
    let ids = commit(&store, batch("bank-a", values.iter().map(|v| sample(v)).collect(), None)).await;
    // Followers: one reads everything as it happens, one stops after the first entry.
    let (mut everything, mut early) = (BTreeMap::new(), BTreeMap::new());
    let mut all_cursor = follow(&store, 0, &mut everything).await.unwrap();
    let early_page = store.feed(0, 1).await.unwrap();
    mirror(&mut early, &early_page);
    let early_cursor = early_page[0].seq;
    store.retract("bank-a", &ids[1]).await.unwrap();
    all_cursor = follow(&store, all_cursor, &mut everything).await.unwrap();
    let audit_before = store.audit_log(0, 1000).await.unwrap();

    // A long retention: only b's add goes, its removal stays.
    let now = OffsetDateTime::now_utc();
    let c = store.compact(now - time::Duration::days(1)).await.unwrap();
    assert_eq!((c.dropped, c.tombstones, c.horizon), (1, 1, 0), "{c:?}");
    let from_zero = store.feed(0, 100).await.unwrap();
    let seqs: Vec<u64> = from_zero.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 3, 4], "sequence numbers stay, with a gap");
    assert_eq!(from_zero[2].op, Op::Remove);
    // The early follower (above the horizon) converges to the same set.
    follow(&store, early_cursor, &mut early).await.unwrap();
    assert_eq!(early, everything);

    // Later: c leaves, d arrives; then a retention that every entry exceeds.
    store.retract("bank-a", &ids[2]).await.unwrap();
    let d = commit(&store, batch("bank-a", vec![sample("d.compact.example")], None)).await;
    all_cursor = follow(&store, all_cursor, &mut everything).await.unwrap();
    let head = store.head();
    let c = store.compact(OffsetDateTime::now_utc() + time::Duration::seconds(5)).await.unwrap();
    assert_eq!((c.dropped, c.tombstones, c.horizon), (3, 0, 5), "{c:?}");
    assert_eq!(store.head(), head, "compaction commits nothing");
    let from_zero = store.feed(0, 100).await.unwrap();
    let live: Vec<(u64, Op, &str)> = from_zero.iter().map(|e| (e.seq, e.op, e.indicator.value.as_str())).collect();
    assert_eq!(live, [(1, Op::Add, "a.compact.example"), (6, Op::Add, "d.compact.example")], "exactly the live set");
    let mut fresh = BTreeMap::new();
    follow(&store, 0, &mut fresh).await.unwrap();
    assert_eq!(fresh, everything);
    assert_eq!(fresh.keys().collect::<Vec<_>>().len(), 2);
    assert!(fresh.contains_key(&ids[0]) && fresh.contains_key(&d[0]));
    // Below the horizon: resynchronise; at or above it: go on.
    for below in [1, 3, 4] {
        match store.feed(below, 10).await {
            Err(StoreError::Compacted { since, horizon }) => assert_eq!((since, horizon), (below, 5)),
            r => panic!("cursor {below}: {r:?}"),
        }
    }
    assert_eq!(store.feed(5, 10).await.unwrap().len(), 1);
    assert_eq!(all_cursor, 6);
    assert!(store.feed(all_cursor, 10).await.unwrap().is_empty());
    // TAXII reads entries back by number without the check.
    assert_eq!(store.feed_kept(0, 10).await.unwrap().len(), 2);
    assert_eq!(store.feed_kept(3, 10).await.unwrap()[0].seq, 6);
    // An idle pass drops nothing more; the audit chain is untouched.
    let c = store.compact(OffsetDateTime::now_utc() + time::Duration::seconds(5)).await.unwrap();
    assert_eq!((c.dropped, c.horizon), (0, 5));
    let audit_after = store.audit_log(0, 1000).await.unwrap();
    assert_eq!(audit_after.len(), audit_before.len() + 2, "the retraction and the submission, nothing removed");
    assert!(store.verify_audit().await.unwrap().ok);
    store.close();
    drop(store);
    // The horizon survives a reopen.
    let store = place.open(&key);
    assert!(matches!(store.feed(3, 10).await, Err(StoreError::Compacted { horizon: 5, .. })));
    assert_eq!(store.feed(0, 10).await.unwrap().len(), 2);
    store.close();
}

/// The compaction task (`store::compact::run`, as the server starts it)
/// with a one-second retention: once the removal has aged, the log from 0
/// is exactly the live set, and the old cursor must resynchronise. On
/// PostgreSQL it runs on two nodes (handles) at once, one holding the lease.
async fn the_compaction_task_drops_aged_removals(place: &Place) {
    let store = place.open(&[22; 32]);
    let other = place.second(&store, &[22; 32]);
    let ids =
        commit(&store, batch("bank-a", vec![sample("t1.compact.example"), sample("t2.compact.example")], None)).await;
    store.retract("bank-a", &ids[0]).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let tasks: Vec<_> = [&store, &other]
        .into_iter()
        .map(|h| tokio::spawn(tamis::store::compact::run(h.store(), Duration::from_secs(1), stopped())))
        .collect();
    let mut live = Vec::new();
    for _ in 0..300 {
        live = store.feed(0, 100).await.unwrap();
        if live.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        live.iter().map(|e| (e.seq, e.op)).collect::<Vec<_>>(),
        [(2, Op::Add)],
        "only the live indicator is left"
    );
    assert!(matches!(other.feed(1, 10).await, Err(StoreError::Compacted { horizon: 3, .. })));
    let _ = stop_tx.send(true);
    for t in tasks {
        t.await.unwrap();
    }
    other.close();
    store.close();
}

/// Every guarantee, by name.
macro_rules! guarantees {
    ($run:ident) => {
        $run!(dedups_replays_survives_reopen_and_seals);
        $run!(co_submission_keeps_the_originators_fields);
        $run!(originator_retracts_and_the_next_contribution_leads);
        $run!(idempotency_key_reused_with_another_body_is_refused);
        $run!(requests_are_answered_one_by_one);
        $run!(policies_and_counters);
        $run!(expiry_is_idempotent_across_nodes);
        $run!(concurrent_writers_and_a_follower_miss_nothing);
        $run!(changes_wake_other_nodes);
        $run!(a_closed_store_says_so);
        $run!(a_wrong_key_is_refused);
        $run!(directory_entries_replace_and_survive);
        $run!(false_positives_withdraw_and_confirmation_reinstates);
        $run!(cursors_persist_and_leases_exclude);
        $run!(lookup_outputs_follow_their_indicators);
        $run!(compaction_keeps_followers_converging);
        $run!(the_compaction_task_drops_aged_removals);
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_on_sled() {
    macro_rules! on_sled {
        ($g:ident) => {
            eprintln!("sled: {}", stringify!($g));
            $g(&Place::Sled(tempfile::tempdir().unwrap())).await;
        };
    }
    guarantees!(on_sled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_on_postgres() {
    let Some(pg) = Postgres::start() else { return };
    let mut n = 0;
    macro_rules! on_postgres {
        ($g:ident) => {
            n += 1;
            let db = format!("contract{n}");
            pg.create_db(&db);
            eprintln!("postgres: {}", stringify!($g));
            $g(&Place::Postgres { url: pg.url(&db), files: pg.data_dir() }).await;
        };
    }
    guarantees!(on_postgres);
}

/// `[store] ca`: the store talks TLS to a database that refuses plain
/// connections, and refuses a server whose certificate does not chain to
/// the configured CA; without `ca` the plain connection is refused by the
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_verifies_the_server() {
    let Some(pg) = Postgres::start() else { return };
    let ca = tamis::pki::new_ca("database CA").unwrap();
    let server = tamis::pki::Ca::from_pem(&ca.cert_pem, &ca.key_pem).unwrap().issue_server(&["127.0.0.1"]).unwrap();
    pg.require_tls(&server.cert_pem, &server.key_pem);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("db-ca.pem");
    std::fs::write(&ca_file, &ca.cert_pem).unwrap();
    let other = dir.path().join("other-ca.pem");
    std::fs::write(&other, tamis::pki::new_ca("someone else").unwrap().cert_pem).unwrap();
    let key = [21u8; 32];
    let open = |ca: Option<&Path>| {
        let opts =
            StoreOptions { exit_on_unrecoverable: false, db_ca: ca.map(Path::to_path_buf), ..Default::default() };
        PgStore::open(&pg.url("tamis"), &key, opts)
    };
    let err = open(None).err().expect("a plain connection is refused").to_string();
    assert!(err.contains("no encryption") || err.contains("pg_hba.conf"), "{err}");
    let err = open(Some(&other)).err().expect("an unknown server certificate is refused").to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let store = StoreHandle::Postgres(open(Some(&ca_file)).expect("TLS with the right CA"));
    let ids = commit(&store, batch("bank-a", vec![sample("over-tls.example")], None)).await;
    assert_eq!(current(&store, &ids[0]).await.unwrap().value, "over-tls.example");
    store.close();
}

/// The database goes away: `health()` says so, writes fail with a typed
/// error (nothing stored), and the store recovers by itself once the
/// database is back; nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_reported_and_recovered_from() {
    let Some(pg) = Postgres::start() else { return };
    let store = Place::Postgres { url: pg.url("tamis"), files: pg.data_dir() }.open(&[16; 32]);
    commit(&store, batch("bank-a", vec![sample("before.example")], Some("o1"))).await;
    assert!(store.health().is_ok());
    pg.stop_server();
    wait_until(|| store.health().is_err()).await;
    let e = store.submit(batch("bank-a", vec![sample("during.example")], Some("o2"))).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Refused(_) | StoreError::NotStored(_)) && e.to_string().contains("nothing was stored"),
        "{e}"
    );
    assert!(!e.to_string().contains("during.example"));
    assert!(matches!(store.feed(0, 10).await, Err(StoreError::Database(_))));
    pg.start_server();
    for _ in 0..100 {
        if store.health().is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(store.health().is_ok(), "the store did not recover: {:?}", store.health());
    commit(&store, batch("bank-a", vec![sample("during.example")], Some("o2"))).await;
    let feed = store.feed(0, 10).await.unwrap();
    assert_eq!(feed.len(), 2, "the acknowledged entry survived and the retry was applied once");
    assert!(store.verify_audit().await.unwrap().ok);
    store.close();
}

/// Submissions per second through the PostgreSQL store, one and two
/// handles (nodes) on one database: 8 submitters of batches of 1,000.
/// A measurement (`--ignored`), with its figures in docs/performance.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn postgres_throughput() {
    let Some(pg) = Postgres::start() else { return };
    for nodes in [1usize, 2] {
        let db = format!("bench{nodes}");
        pg.create_db(&db);
        let place = Place::Postgres { url: pg.url(&db), files: pg.data_dir() };
        let first = place.open(&[17; 32]);
        let handles: Vec<StoreHandle> =
            (0..nodes).map(|i| if i == 0 { first.clone() } else { place.open(&[17; 32]) }).collect();
        let (submitters, batches, size) = (8usize, 10usize, 1000usize);
        let t0 = std::time::Instant::now();
        let mut tasks = Vec::new();
        for w in 0..submitters {
            let node = handles[w % nodes].clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..batches {
                    let items = (0..size).map(|j| sample(&format!("n{w}-{i}-{j}.bench.example"))).collect();
                    commit(&node, batch("bank-a", items, None)).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let n = submitters * batches * size;
        let secs = t0.elapsed().as_secs_f64();
        eprintln!("postgres, {nodes} node(s): {n} indicators in {secs:.2} s = {:.0}/s", n as f64 / secs);
        wait_until(|| handles.iter().all(|h| h.head() == n as u64)).await;
        handles.iter().for_each(StoreHandle::close);
    }
}
