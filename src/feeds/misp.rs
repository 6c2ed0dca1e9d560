//! The MISP feed export (`/v1/feeds/misp/`): the sanitised indicators a
//! participant may see, in MISP's feed format, so that a police MISP
//! instance adds tamis as a feed (Sync → Feeds → "MISP Feed", with the
//! participant's client certificate) and pulls it on its own schedule.
//!
//! Format (as PyMISP's `feed_meta_generator` writes it): `manifest.json`
//! maps each event UUID to its metadata (`Orgc`, `Tag`, `info`, `date`,
//! `analysis`, `threat_level_id`, `timestamp`); `EVENT-UUID.json` is one
//! event (`{"Event": {...}}`); `hashes.csv` lists `md5(value),event-uuid`
//! per attribute, which MISP uses to correlate without fetching events.
//!
//! **One event per UTC day** on which indicators first arrived: the event
//! holds the indicators of that day still in the exchange, projected through
//! the reader's egress views; a retraction or expiry removes the attribute
//! and moves the event's `timestamp`, so MISP fetches it again. Event UUIDs
//! derive from the day and the reader's audiences, so they are stable
//! across restarts and nodes. Pseudonymised values are `text` attributes
//! (never `email-src`...) with `to_ids` false: they correlate across
//! submissions but are not addresses to block.
//!
//! Built like the TAXII index: caught up with the store's log at the start
//! of a request (reads outside the lock). The index keeps, per live
//! indicator, its day, the sequence number of its latest entry, what the
//! egress views decide on and the MD5 of its value (no clone of the
//! indicator), in a [`DenseMap`] by id (about 56 bytes an indicator, no
//! per-day id sets: a day's indicators are found by a scan of the index,
//! which a manifest, `hashes.csv` or event request makes once): the
//! manifest (kept once per audience set and log position) and `hashes.csv`
//! come from the index alone; an event is made on request, its attributes
//! read back from the store in log order like TAXII's objects pages, and
//! not kept.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::store::dense_map::DenseMap;
use std::sync::{Arc, Mutex};

use md5::Md5;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};

use super::egress::project;
use super::id::Id;
use crate::model::{Category, Indicator, IndicatorType, Tlp};
use crate::policy::EgressView;
use crate::store::{FeedEntry, Op, Store, StoreError, uuid_v4_from};

/// The organisation every event is attributed to: the exchange, never a
/// submitter.
const ORG_UUID: &str = "4c0b7a53-2e1f-4d8e-9a6b-1f3e5d7c9b20";

/// What the index keeps of a live indicator: where its latest entry is in
/// the log (the event reads it back from the store), what the egress views
/// decide on, and the MD5 of its value for `hashes.csv` (32 bytes, where a
/// clone of the indicator took about 0.5 KB).
#[derive(Clone, Copy, Debug)]
struct Rec {
    day: Date,
    /// Sequence number of its latest entry (an addition or update).
    seq: u64,
    kind: IndicatorType,
    category: Category,
    tlp: Tlp,
    confidence: u8,
    md5: [u8; 16],
}

impl Rec {
    fn visible(&self, views: &[EgressView]) -> bool {
        views.iter().any(|v| v.admits(self.kind, self.category, self.tlp, self.confidence))
    }
}

/// The live indicators' records by id: a canonical UUID as its 16 bytes
/// (as TAXII's [`super::id::IdTable`]; a 24-byte [`Id`] key took 8 bytes
/// more an indicator), any other id (tests, an older store) aside.
#[derive(Default)]
struct LiveRecs {
    uuids: DenseMap<[u8; 16], Rec>,
    others: DenseMap<Box<str>, Rec>,
}

impl LiveRecs {
    fn get(&self, id: &Id) -> Option<&Rec> {
        match id {
            Id::Uuid(b) => self.uuids.get(b),
            Id::Other(s) => self.others.get(s),
        }
    }

    fn remove(&mut self, id: &Id) -> Option<Rec> {
        match id {
            Id::Uuid(b) => self.uuids.remove(b),
            Id::Other(s) => self.others.remove(s),
        }
    }

    fn insert(&mut self, id: Id, r: Rec) {
        match id {
            Id::Uuid(b) => self.uuids.insert(b, r),
            Id::Other(s) => self.others.insert(s, r),
        };
    }

    /// Room for `more` UUID-keyed records, so that a catch-up does not grow
    /// the records by doubling (each doubling frees the old block, which the
    /// allocator keeps resident for a while).
    fn reserve(&mut self, more: usize) {
        self.uuids.reserve_entries(more);
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.uuids.is_empty() && self.others.is_empty()
    }

    fn values(&self) -> impl Iterator<Item = &Rec> {
        self.uuids.values().chain(self.others.values())
    }

    /// Every record with its id, in no particular order.
    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = (Id, &Rec)> {
        let uuids = self.uuids.iter().map(|(b, r)| (Id::Uuid(*b), r));
        uuids.chain(self.others.iter().map(|(s, r)| (Id::Other(s.clone()), r)))
    }
}

#[derive(Default)]
struct State {
    last_seq: u64,
    /// Live indicators.
    live: LiveRecs,
    /// Every day that had indicators, and when it last changed.
    days: BTreeMap<Date, Day>,
    /// Rendered manifests by audience set, with the log position they show
    /// (events and `hashes.csv` are made on request, never kept).
    manifests: HashMap<String, (u64, Arc<Manifest>)>,
}

/// A reader's `manifest.json` and how many events it lists.
pub struct Manifest {
    pub body: Vec<u8>,
    pub events: usize,
}

#[derive(Default)]
struct Day {
    changed: Option<OffsetDateTime>,
}

/// The export's index of live indicators by day.
#[derive(Default)]
pub struct MispIndex {
    state: Mutex<State>,
}

impl State {
    fn apply(&mut self, e: &FeedEntry) {
        self.last_seq = self.last_seq.max(e.seq);
        let id = Id::new(&e.indicator.id);
        let day = match (e.op, self.live.get(&id)) {
            (Op::Remove, Some(r)) => {
                let day = r.day;
                self.live.remove(&id);
                day
            }
            (Op::Remove, None) => return,
            (_, Some(r)) => r.day,
            (_, None) => e.at.date(),
        };
        if e.op != Op::Remove {
            let i = &e.indicator;
            let rec = Rec {
                day,
                seq: e.seq,
                kind: i.kind,
                category: i.category,
                tlp: i.tlp,
                confidence: i.confidence,
                md5: Md5::digest(i.value.as_bytes()).into(),
            };
            self.live.insert(id, rec);
        }
        let d = self.days.entry(day).or_default();
        d.changed = Some(d.changed.map_or(e.at, |c| c.max(e.at)));
    }

    /// The days with live indicators the holder of `views` may see.
    fn visible_days(&self, views: &[EgressView]) -> BTreeSet<Date> {
        let mut days = BTreeSet::new();
        for r in self.live.values() {
            if !days.contains(&r.day) && r.visible(views) {
                days.insert(r.day);
            }
        }
        days
    }

    /// The live indicators the holder of `views` may see, by day and then
    /// id (the order of `hashes.csv`).
    fn visible_by_day<'a>(&'a self, views: &[EgressView]) -> impl Iterator<Item = (Id, &'a Rec)> + use<'a> {
        let mut uuids: Vec<(&[u8; 16], &Rec)> = self.live.uuids.iter().filter(|(_, r)| r.visible(views)).collect();
        // A UUID's bytes are in the order of its text.
        uuids.sort_unstable_by(|a, b| (a.1.day, a.0).cmp(&(b.1.day, b.0)));
        let mut others: Vec<(Id, &Rec)> =
            self.live.others.iter().filter(|(_, r)| r.visible(views)).map(|(s, r)| (Id::Other(s.clone()), r)).collect();
        others.sort_unstable_by(|a, b| (a.1.day, &a.0).cmp(&(b.1.day, &b.0)));
        let mut uuids = uuids.into_iter().map(|(b, r)| (Id::Uuid(*b), r)).peekable();
        let mut others = others.into_iter().peekable();
        std::iter::from_fn(move || {
            let uuid_first = match (uuids.peek(), others.peek()) {
                (Some(u), Some(o)) => (u.1.day, &u.0) <= (o.1.day, &o.0),
                (u, _) => u.is_some(),
            };
            if uuid_first { uuids.next() } else { others.next() }
        })
    }
}

/// The audience names of `views` and their key (`a,b`), which names events.
fn audience_key(views: &[EgressView]) -> (Vec<&str>, String) {
    let audiences: Vec<&str> = views.iter().map(|v| v.audience.as_str()).collect();
    let key = audiences.join(",");
    (audiences, key)
}

impl MispIndex {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Catches the index up with the log (reads outside the lock).
    async fn catch_up(&self, store: &dyn Store) -> Result<(), StoreError> {
        let head = store.head();
        loop {
            let from = {
                let mut s = self.lock();
                if s.last_seq >= head {
                    return Ok(());
                }
                // Room for what the log may add (as TAXII's index reserves),
                // at most 4M records (192 MiB of address space, untouched
                // until written).
                let pending = usize::try_from(head - s.last_seq).unwrap_or(usize::MAX).min(1 << 22);
                s.live.reserve(pending);
                s.last_seq
            };
            let entries = match store.feed(from, 4096).await {
                Err(StoreError::Compacted { horizon, .. }) => {
                    // Removals after the index's position were dropped: rebuild from 0.
                    tracing::warn!(horizon, "MISP index below the feed's compaction horizon: rebuilding");
                    let mut s = self.lock();
                    if s.last_seq == from {
                        *s = State::default();
                    }
                    continue;
                }
                entries => entries?,
            };
            if entries.is_empty() {
                return Ok(());
            }
            let mut s = self.lock();
            if s.last_seq == from {
                entries.iter().for_each(|e| s.apply(e));
            }
        }
    }

    /// `manifest.json` as the holder of `views` sees it, caught up with the
    /// log (rendered once per audience set and log position).
    pub async fn manifest(
        self: &Arc<Self>,
        store: &dyn Store,
        views: Vec<EgressView>,
    ) -> Result<Arc<Manifest>, StoreError> {
        self.catch_up(store).await?;
        let index = self.clone();
        tokio::task::spawn_blocking(move || index.render_manifest(&views)).await.map_err(|_| StoreError::Panicked)
    }

    fn render_manifest(&self, views: &[EgressView]) -> Arc<Manifest> {
        let (audiences, key) = audience_key(views);
        let s = self.lock();
        if let Some((seq, r)) = s.manifests.get(&key)
            && *seq == s.last_seq
        {
            return r.clone();
        }
        let mut manifest = serde_json::Map::new();
        let shown = s.visible_days(views);
        for (day, d) in &s.days {
            if !shown.contains(day) {
                continue;
            }
            let changed = d.changed.map_or(0, OffsetDateTime::unix_timestamp);
            manifest.insert(event_uuid(*day, &key), event_meta(*day, &audiences, changed));
        }
        let r = Arc::new(Manifest { events: manifest.len(), body: serde_json::to_vec(&manifest).unwrap_or_default() });
        let seq = s.last_seq;
        drop(s);
        self.lock().manifests.insert(key, (seq, r.clone()));
        r
    }

    /// `hashes.csv` as the holder of `views` sees it (`md5(value),event-uuid`
    /// per attribute, events in day order, attributes in id order) and its
    /// line count, made from the index alone.
    pub async fn hashes(
        self: &Arc<Self>,
        store: &dyn Store,
        views: Vec<EgressView>,
    ) -> Result<(Vec<u8>, usize), StoreError> {
        self.catch_up(store).await?;
        let index = self.clone();
        let render = move || {
            let (_, key) = audience_key(&views);
            let s = index.lock();
            let (mut out, mut n) = (Vec::new(), 0);
            let mut uuid = (None, String::new());
            for (_, r) in s.visible_by_day(&views) {
                if uuid.0 != Some(r.day) {
                    uuid = (Some(r.day), event_uuid(r.day, &key));
                }
                out.extend_from_slice(hex::encode(r.md5).as_bytes());
                out.push(b',');
                out.extend_from_slice(uuid.1.as_bytes());
                out.push(b'\n');
                n += 1;
            }
            (out, n)
        };
        tokio::task::spawn_blocking(render).await.map_err(|_| StoreError::Panicked)
    }

    /// Event `uuid` as the holder of `views` sees it, `None` when the
    /// manifest does not list it: the day's visible indicators are read back
    /// from the store (their latest entries, in log order) and serialised one
    /// at a time; nothing of it is kept.
    pub async fn event(
        self: &Arc<Self>,
        store: &dyn Store,
        views: Vec<EgressView>,
        uuid: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.catch_up(store).await?;
        let (index, uuid) = (self.clone(), uuid.to_owned());
        let views2 = views.clone();
        let find = move || {
            let (audiences, key) = audience_key(&views2);
            let s = index.lock();
            let (day, d) = s.days.iter().find(|(day, _)| event_uuid(**day, &key) == uuid)?;
            let mut seqs: Vec<u64> =
                s.live.values().filter(|r| r.day == *day && r.visible(&views2)).map(|r| r.seq).collect();
            if seqs.is_empty() {
                return None;
            }
            seqs.sort_unstable();
            let changed = d.changed.map_or(0, OffsetDateTime::unix_timestamp);
            let mut event = event_meta(*day, &audiences, changed);
            event["uuid"] = json!(uuid);
            event["published"] = json!(true);
            Some((event, seqs))
        };
        let Some((event, seqs)) = tokio::task::spawn_blocking(find).await.map_err(|_| StoreError::Panicked)? else {
            return Ok(None);
        };
        let mut body = EventBody::new(&event);
        let mut next = 0;
        while next < seqs.len() {
            // The span of the next wanted entries within 4096 sequence
            // numbers: one read for a dense run, a short one for a sparse one.
            let first = seqs[next];
            let span = seqs[next..].iter().take_while(|s| **s - first < 4096).last().map_or(1, |l| l - first + 1);
            let entries = store.feed_kept(first - 1, span as usize).await?;
            if entries.is_empty() {
                break;
            }
            for e in &entries {
                while next < seqs.len() && seqs[next] < e.seq {
                    next += 1; // compacted away since: left out
                }
                if next < seqs.len() && seqs[next] == e.seq {
                    next += 1;
                    // Fail closed: projected through the reader's views again.
                    if e.op != Op::Remove
                        && let Some(i) = project(&views, &e.indicator)
                    {
                        body.push(&i, e.withdrawn);
                    }
                }
            }
            let last = entries.last().map_or(first, |e| e.seq);
            while next < seqs.len() && seqs[next] <= last {
                next += 1;
            }
        }
        Ok(body.finish())
    }
}

/// An event document written attribute by attribute: `{"Event":{...meta...,"Attribute":[...]}}`.
struct EventBody {
    body: Vec<u8>,
    attributes: usize,
}

impl EventBody {
    fn new(event: &Value) -> EventBody {
        // `{"Event":{...}}`: the attributes go in before the two closing braces.
        let mut body = serde_json::to_vec(&json!({ "Event": event })).unwrap_or_default();
        body.truncate(body.len().saturating_sub(2));
        body.extend_from_slice(b",\"Attribute\":");
        EventBody { body, attributes: 0 }
    }

    fn push(&mut self, i: &Indicator, withdrawn: bool) {
        let a = if withdrawn { mark_withdrawn(attribute(i)) } else { attribute(i) };
        let mark = self.body.len();
        self.body.push(if self.attributes == 0 { b'[' } else { b',' });
        if serde_json::to_writer(&mut self.body, &a).is_ok() {
            self.attributes += 1;
        } else {
            self.body.truncate(mark);
        }
    }

    /// The document, `None` when no attribute is visible.
    fn finish(mut self) -> Option<Vec<u8>> {
        if self.attributes == 0 {
            return None;
        }
        self.body.extend_from_slice(b"]}}");
        Some(self.body)
    }
}

fn event_uuid(day: Date, audiences: &str) -> String {
    let d = Sha256::digest(format!("tamis/misp-event/v1\0{day}\0{audiences}").as_bytes());
    uuid_v4_from(&d)
}

/// The manifest entry of a day's event (also the event's own metadata).
fn event_meta(day: Date, audiences: &[&str], changed: i64) -> Value {
    let today = OffsetDateTime::now_utc().date();
    json!({
        "Orgc": {"name": "tamis exchange", "uuid": ORG_UUID},
        "Tag": [],
        "info": format!("tamis: sanitised indicators first shared on {day} ({})", audiences.join(", ")),
        "date": day.to_string(),
        // 1 = ongoing (today's event still grows), 2 = completed.
        "analysis": if day >= today { 1 } else { 2 },
        // 4 = undefined: a day's indicators carry no single threat level.
        "threat_level_id": 4,
        "timestamp": changed.to_string(),
    })
}

/// An attribute of an indicator withdrawn from blocklists after
/// false-positive reports, pending its submitter's review: not for
/// detection (`to_ids` false), and the comment says why.
fn mark_withdrawn(mut a: Value) -> Value {
    let note = "withdrawn from blocklists after false-positive reports, pending the submitter's review";
    let comment = a["comment"].as_str().unwrap_or_default();
    a["comment"] = json!(if comment.is_empty() { note.to_owned() } else { format!("{note}. {comment}") });
    a["to_ids"] = json!(false);
    a
}

/// One indicator as a MISP attribute (type, category and `to_ids` from
/// MISP's `describeTypes` defaults).
fn attribute(ind: &Indicator) -> Value {
    use IndicatorType as T;
    let (kind, category, to_ids) = match (ind.kind, ind.value_form.is_some()) {
        (_, true) => ("text", "Financial fraud", false),
        (T::Url, _) => ("url", "Network activity", true),
        (T::Domain, _) => ("domain", "Network activity", true),
        (T::Ipv4 | T::Ipv6 | T::Cidr, _) => ("ip-dst", "Network activity", true),
        (T::Email, _) => ("email-src", "Payload delivery", true),
        (T::Sha256, _) => ("sha256", "Payload delivery", true),
        (T::Sha1, _) => ("sha1", "Payload delivery", true),
        (T::Md5, _) => ("md5", "Payload delivery", true),
        (T::Iban, _) => ("iban", "Financial fraud", true),
        (T::Phone, _) => ("phone-number", "Financial fraud", false),
        (T::Btc, _) => ("btc", "Financial fraud", true),
    };
    let mut tags = vec![json!({"name": format!("tlp:{}", ind.tlp.as_str())})];
    tags.push(json!({"name": format!("tamis:category=\"{}\"", ind.category.as_str())}));
    tags.extend(ind.tags.iter().map(|t| json!({"name": t})));
    let mut comment = ind.description.clone().unwrap_or_default();
    if let Some(form) = &ind.value_form {
        let note = format!("{form} {} (correlates across submissions; not the value itself)", ind.kind.as_str());
        comment = if comment.is_empty() { note } else { format!("{note}. {comment}") };
    }
    let mut a = json!({
        "uuid": ind.id,
        "type": kind,
        "category": category,
        "value": ind.value,
        "to_ids": to_ids,
        "comment": comment,
        "timestamp": ind.last_seen.unix_timestamp().to_string(),
        "first_seen": crate::feeds::stix::stix_timestamp(ind.first_seen),
        "Tag": tags,
    });
    if let Some(port) = ind.attributes.get("port") {
        a["comment"] = json!(format!("{} port {port}", a["comment"].as_str().unwrap_or_default()).trim().to_owned());
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Sources, Tlp};

    fn ind(id: &str, kind: IndicatorType, value: &str) -> Indicator {
        let t = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        Indicator {
            id: id.into(),
            kind,
            value: value.into(),
            value_form: None,
            category: Category::Phishing,
            confidence: 80,
            tlp: Tlp::Green,
            first_seen: t,
            last_seen: t,
            valid_until: None,
            description: None,
            attributes: Default::default(),
            tags: vec!["smishing".into()],
            sources: Sources::default(),
            policy: "default@00".into(),
        }
    }

    fn entry(seq: u64, op: Op, at: i64, i: Indicator) -> FeedEntry {
        FeedEntry {
            seq,
            op,
            at: OffsetDateTime::from_unix_timestamp(at).unwrap(),
            reason: None,
            indicator: i,
            withdrawn: false,
        }
    }

    #[test]
    fn one_event_per_day_and_removals_leave_it() {
        let mut s = State::default();
        let day1 = 1_795_000_000;
        let a = ind("a", IndicatorType::Domain, "a.example.top");
        let b = ind("b", IndicatorType::Url, "http://b.example.top/");
        s.apply(&entry(1, Op::Add, day1, a.clone()));
        s.apply(&entry(2, Op::Add, day1 + 10, b.clone()));
        s.apply(&entry(3, Op::Add, day1 + 86_400, a.clone())); // an update stays in its first day
        assert_eq!(s.days.len(), 1);
        let day = *s.days.keys().next().unwrap();
        let ids = |s: &State| {
            let mut ids: Vec<String> =
                s.live.iter().filter(|(_, r)| r.day == day).map(|(i, _)| i.to_string()).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&s), ["a", "b"]);
        s.apply(&entry(4, Op::Remove, day1 + 90_000, b));
        let d = s.days.values().next().unwrap();
        assert_eq!(ids(&s), ["a"]);
        assert_eq!(d.changed.unwrap().unix_timestamp(), day1 + 90_000);
        assert_eq!(s.last_seq, 4);
    }

    #[test]
    fn an_event_is_its_metadata_plus_its_attributes_serialised_one_by_one() {
        let mut event = event_meta(Date::MIN, &["law-enforcement"], 7);
        event["uuid"] = json!("u-1");
        let mut body = EventBody::new(&event);
        // The second is withdrawn from blocklists: kept, not for detection.
        body.push(&ind("a", IndicatorType::Domain, "a.example.top"), false);
        body.push(&ind("b", IndicatorType::Ipv4, "185.220.101.4"), true);
        let body = body.finish().unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Event"]["uuid"], "u-1");
        assert_eq!(v["Event"]["timestamp"], "7");
        let values: Vec<&str> =
            v["Event"]["Attribute"].as_array().unwrap().iter().map(|a| a["value"].as_str().unwrap()).collect();
        assert_eq!(values, ["a.example.top", "185.220.101.4"]);
        let to_ids: Vec<bool> =
            v["Event"]["Attribute"].as_array().unwrap().iter().map(|a| a["to_ids"].as_bool().unwrap()).collect();
        assert_eq!(to_ids, [true, false]);
        // The event's metadata, then the attributes, then the two closing braces.
        let meta = serde_json::to_vec(&json!({ "Event": event })).unwrap();
        assert!(body.starts_with(&meta[..meta.len() - 2]) && body.ends_with(b"]}}"));
        assert!(EventBody::new(&event).finish().is_none());
    }

    #[test]
    fn hashes_order_is_by_day_then_id_whatever_the_arrival_order() {
        let mut s = State::default();
        let (day1, day2) = (1_795_000_000, 1_795_000_000 + 86_400);
        let mut want = Vec::new();
        for (seq, k) in [7u32, 3, 9, 1, 5, 8, 2].into_iter().enumerate() {
            let id = format!("{k:08x}-0000-4000-8000-000000000000");
            let at = if k % 2 == 0 { day2 } else { day1 };
            s.apply(&entry(seq as u64 + 1, Op::Add, at, ind(&id, IndicatorType::Domain, &format!("{k}.top"))));
            want.push((k % 2 == 0, id));
        }
        s.apply(&entry(
            100,
            Op::Remove,
            day2,
            ind("00000003-0000-4000-8000-000000000000", IndicatorType::Domain, "3.top"),
        ));
        want.retain(|(_, id)| !id.starts_with("00000003"));
        want.sort();
        let view = EgressView {
            audience: "isps".into(),
            types: vec![],
            categories: vec![],
            max_tlp: Tlp::Amber,
            min_confidence: 0,
            fields: vec![],
        };
        let got: Vec<(bool, String)> = s
            .visible_by_day(std::slice::from_ref(&view))
            .map(|(id, r)| (r.day != OffsetDateTime::from_unix_timestamp(day1).unwrap().date(), id.to_string()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(s.visible_days(std::slice::from_ref(&view)).len(), 2);
    }

    #[test]
    fn uuid_keys_are_16_bytes_and_other_ids_sort_among_them_as_text() {
        // docs/performance.md, session 15: 16 + 32 bytes a record and a slot.
        assert_eq!(size_of::<Rec>(), 32);
        let mut s = State::default();
        let at = 1_795_000_000;
        let ids = ["ffffffff-0000-4000-8000-000000000000", "0a", "00000001-0000-4000-8000-000000000000", "z", "A"];
        for (seq, id) in ids.iter().enumerate() {
            s.apply(&entry(seq as u64 + 1, Op::Add, at, ind(id, IndicatorType::Domain, &format!("{seq}.top"))));
        }
        assert_eq!((s.live.uuids.len(), s.live.others.len()), (2, 3));
        let view = EgressView {
            audience: "isps".into(),
            types: vec![],
            categories: vec![],
            max_tlp: Tlp::Amber,
            min_confidence: 0,
            fields: vec![],
        };
        let got: Vec<String> = s.visible_by_day(std::slice::from_ref(&view)).map(|(id, _)| id.to_string()).collect();
        let mut want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want);
        s.apply(&entry(9, Op::Remove, at, ind("z", IndicatorType::Domain, "3.top")));
        assert!(s.live.get(&Id::new("z")).is_none() && s.live.get(&Id::new(ids[0])).is_some());
    }

    #[test]
    fn the_index_keeps_the_latest_entry_and_the_md5_of_the_value() {
        let mut s = State::default();
        s.apply(&entry(1, Op::Add, 1_795_000_000, ind("a", IndicatorType::Domain, "a.example.top")));
        let r = s.live.get(&Id::new("a")).copied().unwrap();
        assert_eq!(r.seq, 1);
        assert_eq!(r.md5, <[u8; 16]>::from(Md5::digest(b"a.example.top")));
        s.apply(&entry(2, Op::Add, 1_795_000_100, ind("a", IndicatorType::Domain, "a.example.top")));
        assert_eq!(s.live.get(&Id::new("a")).unwrap().seq, 2);
        s.apply(&entry(3, Op::Remove, 1_795_000_200, ind("a", IndicatorType::Domain, "a.example.top")));
        assert!(s.live.is_empty());
    }

    #[test]
    fn attributes_use_misp_types_and_pseudonyms_are_text() {
        let a = attribute(&ind("a", IndicatorType::Ipv4, "185.220.101.4"));
        assert_eq!(
            (a["type"].as_str(), a["category"].as_str(), a["to_ids"].as_bool()),
            (Some("ip-dst"), Some("Network activity"), Some(true))
        );
        assert_eq!(a["Tag"][0]["name"], "tlp:green");
        let mut p = ind("p", IndicatorType::Email, "tok:v1:email:00ff");
        p.value_form = Some("pseudonymised".into());
        let a = attribute(&p);
        assert_eq!((a["type"].as_str(), a["to_ids"].as_bool()), (Some("text"), Some(false)));
        assert!(a["comment"].as_str().unwrap().starts_with("pseudonymised email"));
        assert_ne!(event_uuid(Date::MIN, "law-enforcement"), event_uuid(Date::MIN, "isp"));
    }
}
