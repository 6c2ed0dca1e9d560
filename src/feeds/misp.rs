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
//! of a request (reads outside the lock), rendered once per audience set and
//! log position, then served from that snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use md5::Md5;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};

use super::egress::project;
use crate::model::{Indicator, IndicatorType};
use crate::policy::EgressView;
use crate::store::{FeedEntry, Op, Store, StoreError, uuid_v4_from};

/// The organisation every event is attributed to: the exchange, never a
/// submitter.
const ORG_UUID: &str = "4c0b7a53-2e1f-4d8e-9a6b-1f3e5d7c9b20";

/// The feed for one reader: manifest, events and hashes, rendered.
pub struct Rendered {
    pub manifest: Vec<u8>,
    pub hashes: Vec<u8>,
    /// Event documents by UUID.
    pub events: HashMap<String, Vec<u8>>,
}

#[derive(Default)]
struct State {
    last_seq: u64,
    /// Live indicators and the day their event is.
    live: HashMap<String, (Date, Indicator)>,
    /// Per day: its indicators and when the day last changed.
    days: BTreeMap<Date, Day>,
    /// Live indicators withdrawn from blocklists by false-positive reports
    /// (their attributes say so and are not `to_ids`).
    withdrawn: BTreeSet<String>,
    /// Rendered feeds by audience set, with the log position they show.
    rendered: HashMap<String, (u64, Arc<Rendered>)>,
}

#[derive(Default)]
struct Day {
    ids: BTreeSet<String>,
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
        let id = &e.indicator.id;
        let day = match (e.op, self.live.get(id)) {
            (Op::Remove, Some((day, _))) => {
                let day = *day;
                self.live.remove(id);
                self.days.entry(day).or_default().ids.remove(id);
                day
            }
            (Op::Remove, None) => return,
            (_, Some((day, _))) => *day,
            (_, None) => e.at.date(),
        };
        if e.op != Op::Remove && e.withdrawn {
            self.withdrawn.insert(id.clone());
        } else {
            self.withdrawn.remove(id);
        }
        if e.op != Op::Remove {
            self.live.insert(id.clone(), (day, e.indicator.clone()));
            self.days.entry(day).or_default().ids.insert(id.clone());
        }
        let d = self.days.entry(day).or_default();
        d.changed = Some(d.changed.map_or(e.at, |c| c.max(e.at)));
    }
}

impl MispIndex {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The feed as the holder of `views` sees it, caught up with the log.
    pub async fn feed(
        self: &Arc<Self>,
        store: &dyn Store,
        views: Vec<EgressView>,
    ) -> Result<Arc<Rendered>, StoreError> {
        let head = store.head();
        loop {
            let from = self.lock().last_seq;
            if from >= head {
                break;
            }
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
                break;
            }
            let mut s = self.lock();
            if s.last_seq == from {
                entries.iter().for_each(|e| s.apply(e));
            }
        }
        let index = self.clone();
        tokio::task::spawn_blocking(move || index.render(&views)).await.map_err(|_| StoreError::Panicked)
    }

    fn render(&self, views: &[EgressView]) -> Arc<Rendered> {
        let audiences: Vec<&str> = views.iter().map(|v| v.audience.as_str()).collect();
        let key = audiences.join(",");
        let s = self.lock();
        if let Some((seq, r)) = s.rendered.get(&key)
            && *seq == s.last_seq
        {
            return r.clone();
        }
        let mut manifest = serde_json::Map::new();
        let mut events = HashMap::new();
        let mut hashes = String::new();
        for (day, d) in &s.days {
            let uuid = event_uuid(*day, &key);
            let changed = d.changed.map_or(0, OffsetDateTime::unix_timestamp);
            let meta = event_meta(*day, &audiences, changed);
            let mut event = meta.clone();
            event["uuid"] = json!(uuid);
            event["published"] = json!(true);
            let visible =
                d.ids.iter().filter_map(|id| Some((project(views, &s.live.get(id)?.1)?, s.withdrawn.contains(id))));
            let Some(body) = event_body(&event, visible, &uuid, &mut hashes) else { continue };
            events.insert(uuid.clone(), body);
            manifest.insert(uuid, meta);
        }
        let r = Arc::new(Rendered {
            manifest: serde_json::to_vec(&manifest).unwrap_or_default(),
            hashes: hashes.into_bytes(),
            events,
        });
        let seq = s.last_seq;
        drop(s);
        self.lock().rendered.insert(key, (seq, r.clone()));
        r
    }
}

/// `{"Event": event}` with its `Attribute` list made from `visible` (each
/// indicator with whether it is withdrawn from blocklists), and
/// each attribute's `hashes.csv` line; `None` when nothing is visible. The
/// attributes are serialised one at a time: a day may hold a million
/// indicators, and a JSON tree of them all (twice, with the copy `json!`
/// makes) took gigabytes for a moment.
fn event_body(
    event: &Value,
    visible: impl Iterator<Item = (Indicator, bool)>,
    uuid: &str,
    hashes: &mut String,
) -> Option<Vec<u8>> {
    let mut attrs = Vec::new();
    for (n, (i, withdrawn)) in visible.enumerate() {
        attrs.push(if n == 0 { b'[' } else { b',' });
        let a = if withdrawn { mark_withdrawn(attribute(&i)) } else { attribute(&i) };
        let _ = writeln!(hashes, "{},{uuid}", hex::encode(Md5::digest(i.value.as_bytes())));
        serde_json::to_writer(&mut attrs, &a).ok()?;
    }
    if attrs.is_empty() {
        return None;
    }
    attrs.push(b']');
    // `{"Event":{...}}`: the attributes go in before the two closing braces.
    let mut body = serde_json::to_vec(&json!({ "Event": event })).ok()?;
    body.truncate(body.len().checked_sub(2)?);
    body.extend_from_slice(b",\"Attribute\":");
    body.extend_from_slice(&attrs);
    body.extend_from_slice(b"}}");
    Some(body)
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
        assert_eq!(s.days.values().next().unwrap().ids.len(), 2);
        s.apply(&entry(4, Op::Remove, day1 + 90_000, b));
        let d = s.days.values().next().unwrap();
        assert_eq!(d.ids.iter().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(d.changed.unwrap().unix_timestamp(), day1 + 90_000);
        assert_eq!(s.last_seq, 4);
    }

    #[test]
    fn an_event_is_its_metadata_plus_its_attributes_serialised_one_by_one() {
        let mut event = event_meta(Date::MIN, &["law-enforcement"], 7);
        event["uuid"] = json!("u-1");
        let mut hashes = String::new();
        let two = [ind("a", IndicatorType::Domain, "a.example.top"), ind("b", IndicatorType::Ipv4, "185.220.101.4")];
        // The second is withdrawn from blocklists: kept, not for detection.
        let body = event_body(&event, two.into_iter().zip([false, true]), "u-1", &mut hashes).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Event"]["uuid"], "u-1");
        assert_eq!(v["Event"]["timestamp"], "7");
        let values: Vec<&str> =
            v["Event"]["Attribute"].as_array().unwrap().iter().map(|a| a["value"].as_str().unwrap()).collect();
        assert_eq!(values, ["a.example.top", "185.220.101.4"]);
        let to_ids: Vec<bool> =
            v["Event"]["Attribute"].as_array().unwrap().iter().map(|a| a["to_ids"].as_bool().unwrap()).collect();
        assert_eq!(to_ids, [true, false]);
        assert_eq!(
            hashes,
            format!(
                "{},u-1\n{},u-1\n",
                hex::encode(Md5::digest(b"a.example.top")),
                hex::encode(Md5::digest(b"185.220.101.4"))
            )
        );
        assert!(event_body(&event, std::iter::empty(), "u-1", &mut hashes).is_none());
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
