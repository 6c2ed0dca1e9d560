//! TAXII 2.1 collections (SPEC §4, §7): the index and query logic behind
//! the read-only TAXII API, with no HTTP in it; the routes and their error
//! rendering are in `api::taxii`.
//!
//! One collection per egress audience the participant belongs to, with a
//! stable UUID derived from the audience name. A collection holds the
//! exchange's `identity`, the TLP 2.0 marking definitions of the levels the
//! audience may receive, and one STIX
//! `indicator` per sanitised indicator the audience's view admits, every
//! object projected through that view ([`stix::indicator_object`]). Each
//! feed-log entry that the view admits is a version; an entry that takes a
//! previously visible indicator out of the view (retraction, expiry, a TLP
//! raised above the view) is a `revoked: true` version built from the last
//! version the audience was allowed to see, so nothing withheld leaks.
//!
//! # Index and its cost
//! Reading the log per request does not scale, so [`Index`] keeps, once,
//! the ordinal, `date_added`, `modified` and object number of each log
//! entry a collection shows (28 bytes, shared by the audiences that admit
//! it), and per audience the ordered list of versions (the entry shown and
//! a link to the object's previous version: 8 bytes each, plus the source
//! of each revocation aside) and per object its latest version (4 bytes). It is
//! caught up incrementally from `Store::feed` at the start of each request
//! (only entries after the last one indexed are read), and rebuilt from the
//! whole log when the egress views change, or when its position fell below
//! the feed's compaction horizon. Compaction drops the versions of indicators
//! that left (their objects pages leave a dropped version out; a revocation
//! whose source is gone is built from the removal, through the same view),
//! and after a rebuild such an indicator has no version at all. Per indicator: about 12 bytes
//! per audience that admits it, 28 for the shared entry, and the global id
//! table (the UUID of each object, 24 bytes, its number in an open-addressing
//! table, and its times: about 48 bytes per object): roughly 0.11 KB per
//! indicator with three audiences admitting it. A page then costs
//! two binary searches, a scan of the index, and one store read per returned
//! object (contiguous runs are read together); manifest and versions pages
//! read nothing from the store.
//!
//! `date_added` is the commit time of the version (`FeedEntry.at`) at
//! microsecond precision, made strictly increasing along the log (at most one
//! microsecond added per entry of a batch committed at the same instant), so
//! that a client paging with `added_after` = `X-TAXII-Date-Added-Last` alone
//! never skips half of a batch. `modified` is `date_added` at millisecond
//! precision, bumped by one millisecond when needed so that each object's
//! versions are distinct and increasing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::egress::admitting;
use super::id::{Id, IdIndex, IdTable};
use super::stix::{self, VersionTimes};
use crate::model::Tlp;
use crate::policy::EgressView;
use crate::policy_set::PolicySet;
use crate::store::dense_map::DenseMap;
use crate::store::{FeedEntry, Op, Store, StoreError};

/// The media type of every TAXII response, errors included.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The media type of the objects the collections hold.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
/// Path of the API root.
pub const API_ROOT: &str = "/taxii2/api/";
/// Page size when the client sends no `limit`.
const DEFAULT_PAGE: usize = 1000;
/// Ordinals below this are the fixed objects; log entries are `seq + LOG_BASE`.
const LOG_BASE: u64 = 16;
/// `date_added` of the exchange identity (µs since the epoch): 2026-01-01.
const IDENTITY_ADDED_US: i64 = 1_767_225_600_000_000;
/// `date_added` of the TLP markings (µs since the epoch): 2022-10-01, their `created`.
const MARKINGS_ADDED_US: i64 = 1_664_582_400_000_000;

/// A TAXII request that cannot be answered; rendered as a TAXII error body.
#[derive(Debug, thiserror::Error)]
pub enum TaxiiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("internal error")]
    Internal,
}

/// The stable collection id of an audience (UUID v4-shaped, from its name).
pub fn collection_id(audience: &str) -> String {
    let d = Sha256::digest([b"tamis/taxii/collection/v1\0".as_slice(), audience.as_bytes()].concat());
    crate::store::uuid_v4_from(&d)
}

/// Which paged endpoint a page request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    Objects,
    Manifest,
    Object,
    Versions,
}

/// `match[version]`.
#[derive(Clone, Debug, Default, PartialEq)]
struct VersionFilter {
    /// Every version (must be alone).
    all: bool,
    /// The first version of each object.
    first: bool,
    /// The latest version of each object (the default).
    last: bool,
    /// Exact versions, in nanoseconds since the epoch.
    at: BTreeSet<i128>,
}

/// Parsed filters and paging of a request.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// `added_after`, µs since the epoch (floored: entries are whole µs).
    added_after_us: Option<i64>,
    /// Page size, at most the configured `max_page`.
    limit: usize,
    /// Ordinal of the last item of the previous page.
    next: Option<u64>,
    /// `match[type]`: STIX object types (OR).
    types: Option<BTreeSet<String>>,
    /// `match[id]`: STIX ids (OR).
    ids: Option<BTreeSet<String>>,
    /// `match[version]`; `last` when absent.
    version: Option<VersionFilter>,
    /// `match[spec_version]`; every object here is 2.1.
    spec_versions: Option<BTreeSet<String>>,
}

fn stix_type_ok(t: &str) -> bool {
    (3..=250).contains(&t.len())
        && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !t.starts_with('-')
        && !t.ends_with('-')
}

fn stix_id_ok(id: &str) -> bool {
    let Some((t, uuid)) = id.split_once("--") else {
        return false;
    };
    let groups: Vec<&str> = uuid.split('-').collect();
    stix_type_ok(t)
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `match[version]`: `last`, `first`, `all` (alone) or timestamps.
fn version_filter(l: &[String]) -> Result<VersionFilter, TaxiiError> {
    let bad = |m: &str| TaxiiError::BadRequest(m.to_owned());
    let mut f = VersionFilter::default();
    for item in l {
        match item.as_str() {
            "all" => f.all = true,
            "first" => f.first = true,
            "last" => f.last = true,
            ts => {
                let t =
                    parse_timestamp(ts).ok_or_else(|| bad("`match[version]` takes last, first, all or a timestamp"))?;
                f.at.insert(t.unix_timestamp_nanos());
            }
        }
    }
    if f.all && l.len() > 1 {
        return Err(bad("`match[version]=all` cannot be combined with other values"));
    }
    Ok(f)
}

/// A STIX spec version such as `2.1`.
fn spec_version_ok(s: &str) -> bool {
    s.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
    })
}

fn parse_timestamp(v: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v, &Rfc3339).ok()
}

impl Query {
    /// Parses a query string (unknown parameters are ignored, §3.4).
    pub fn parse(raw: &str, max_page: usize) -> Result<Query, TaxiiError> {
        let bad = |m: &str| TaxiiError::BadRequest(m.to_owned());
        let mut q = Query { limit: DEFAULT_PAGE.min(max_page.max(1)), ..Query::default() };
        let mut seen = BTreeSet::new();
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            let known = matches!(
                k.as_ref(),
                "added_after"
                    | "limit"
                    | "next"
                    | "match[type]"
                    | "match[id]"
                    | "match[version]"
                    | "match[spec_version]"
            );
            if !known {
                // Unknown match fields MAY be ignored (§3.4); so are other parameters.
                continue;
            }
            if !seen.insert(k.to_string()) {
                return Err(TaxiiError::BadRequest(format!("`{k}` is given more than once")));
            }
            let list = || v.split(',').map(str::trim).map(str::to_owned).collect::<Vec<String>>();
            match k.as_ref() {
                "added_after" => {
                    let t = parse_timestamp(&v)
                        .ok_or_else(|| bad("`added_after` must be a timestamp such as 2026-11-20T10:00:00.000000Z"))?;
                    q.added_after_us = Some((t.unix_timestamp_nanos() / 1000) as i64);
                }
                "limit" => {
                    let n: usize = v.parse().map_err(|_| bad("`limit` must be a positive integer"))?;
                    if n == 0 {
                        return Err(bad("`limit` must be a positive integer"));
                    }
                    q.limit = n.min(max_page.max(1));
                }
                "next" => {
                    let n = v
                        .strip_prefix("p")
                        .and_then(|n| n.parse::<u64>().ok())
                        .ok_or_else(|| bad("`next` must be a value returned as `next` by this server"))?;
                    q.next = Some(n);
                }
                "match[type]" => {
                    let l = list();
                    if !l.iter().all(|t| stix_type_ok(t)) {
                        return Err(bad("`match[type]` must list STIX object types"));
                    }
                    q.types = Some(l.into_iter().collect());
                }
                "match[id]" => {
                    let l = list();
                    if !l.iter().all(|t| stix_id_ok(t)) {
                        return Err(bad("`match[id]` must list STIX identifiers (type--UUID)"));
                    }
                    q.ids = Some(l.into_iter().collect());
                }
                "match[version]" => q.version = Some(version_filter(&list())?),
                "match[spec_version]" => {
                    let l = list();
                    if !l.iter().all(|s| spec_version_ok(s)) {
                        return Err(bad("`match[spec_version]` must list versions such as 2.1"));
                    }
                    q.spec_versions = Some(l.into_iter().collect());
                }
                _ => unreachable!("filtered above"),
            }
        }
        Ok(q)
    }
}

/// The fixed objects every collection holds, before the log's indicators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fixed {
    Marking(Tlp),
    Identity,
}

/// What a version is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VerKind {
    Fixed(Fixed),
    /// The indicator as committed at `ord - LOG_BASE`.
    Visible,
    /// A revocation committed at `ord - LOG_BASE`, showing the content
    /// committed at `source` (the last version the audience could see).
    Revoked {
        source: u64,
    },
}

/// One version of an object, as a page shows it (made from the index on
/// request: [`AudienceIndex::ver`]; not what the index stores).
#[derive(Clone, Copy, Debug)]
struct Ver {
    /// Position in the collection's total order (the `next` cursor).
    ord: u64,
    /// TAXII `date_added`, µs since the epoch; increasing with `ord`.
    added_us: i64,
    /// STIX `modified` (or `created` for marking definitions), ms since the epoch.
    modified_ms: i64,
    /// Object number in [`IndexState::ids`].
    obj: u32,
    kind: VerKind,
}

impl Ver {
    /// The feed sequence number whose indicator this version shows.
    fn source(&self) -> Option<u64> {
        match self.kind {
            VerKind::Fixed(_) => None,
            VerKind::Visible => Some(self.ord - LOG_BASE),
            VerKind::Revoked { source } => Some(source),
        }
    }

    /// The feed entries an objects page reads for this version: its source,
    /// and for a revocation also its own entry (the source may be compacted).
    fn entries(&self) -> impl Iterator<Item = u64> {
        let own = matches!(self.kind, VerKind::Revoked { .. }).then(|| self.ord - LOG_BASE);
        self.source().into_iter().chain(own)
    }
}

/// No position.
const NONE: u32 = u32::MAX;

/// What the versions of one log entry (or fixed object) have in common in
/// every audience that shows it, kept once in [`Entries`]: 24 bytes, plus
/// the object number (4).
#[derive(Clone, Copy, Debug)]
struct EntryTimes {
    /// Position in every collection's total order (the `next` cursor).
    ord: u64,
    /// TAXII `date_added`, µs since the epoch; increasing with `ord`.
    added_us: i64,
    /// STIX `modified` (or `created` for marking definitions), ms since the epoch.
    modified_ms: i64,
}

/// The log entries (the fixed objects first) that at least one audience
/// shows, in log order: an audience's version names one by position, so
/// the audiences that admit the same entry share its times.
#[derive(Default)]
struct Entries {
    times: Vec<EntryTimes>,
    /// The object number of each.
    obj: Vec<u32>,
}

impl Entries {
    fn push(&mut self, t: EntryTimes, obj: u32) -> u32 {
        let n = u32::try_from(self.times.len()).ok().filter(|n| n & REVOKED == 0).expect("fewer than 2^31 entries");
        self.times.push(t);
        self.obj.push(obj);
        n
    }
}

/// [`AVer::entry`]: the version is a revocation (its source is in [`AudienceIndex::revoked`]).
const REVOKED: u32 = 1 << 31;
/// [`AudienceIndex::objects`]: the latest version is visible (not revoked).
const VISIBLE: u32 = 1 << 31;

/// One version in an audience's collection (8 bytes): the entry it shows
/// and the position of the previous version of the same object.
#[derive(Clone, Copy, Debug)]
struct AVer {
    /// Position in [`Entries`], [`REVOKED`] set for a revocation.
    entry: u32,
    /// Position of the previous version of the same object ([`NONE`]: first).
    prev: u32,
}

impl AVer {
    fn entry(self) -> usize {
        (self.entry & !REVOKED) as usize
    }
}

/// One collection: what an audience's view admits, version by version.
#[derive(Clone, Debug)]
struct AudienceIndex {
    /// The view the index was built with (the collection's projection).
    view: EgressView,
    /// Every version the audience may see, in `ord` (= `date_added`) order.
    versions: Vec<AVer>,
    /// The source of each revocation (the content committed at that
    /// sequence number, the last version the audience could see), by
    /// position in `versions`, ascending.
    revoked: Vec<(u32, u64)>,
    /// Per object number: the position of its latest version, with
    /// [`VISIBLE`] when it is not revoked ([`NONE`]: never visible);
    /// earlier versions are chained by [`AVer::prev`]. 4 bytes an object.
    objects: Vec<u32>,
}

/// The in-memory index of all collections.
#[derive(Default)]
pub struct Index {
    /// Caught up at the start of a request (store reads outside the lock);
    /// pages are selected under it (fast: no store reads).
    state: Mutex<IndexState>,
}

#[derive(Default)]
struct IndexState {
    /// Egress views the index was built with; a change triggers a rebuild.
    egress: BTreeMap<String, EgressView>,
    /// Last feed sequence number indexed.
    last_seq: u64,
    /// `date_added` of the last log entry indexed (µs).
    last_added_us: i64,
    /// Ids by object number: the fixed objects' STIX ids first, then the
    /// UUID of each `indicator--…` (16 bytes, no allocation).
    ids: IdTable,
    /// The times of the entries the collections show, shared by them.
    entries: Entries,
    /// Object numbers of the indicators by the UUID of their STIX id (an
    /// index into `ids`, 4 bytes a slot).
    by_id: IdIndex,
    /// Per object: `created`, in ms (the first version's `modified`;
    /// `i64::MIN`: no version yet).
    created_ms: Vec<i64>,
    /// The last `modified` given (ms) to the objects whose last `modified`
    /// is at or after `modified_floor_ms`, the latest `date_added`'s ms: a
    /// new version's `modified` is its `date_added`'s ms, or one more than
    /// its object's last `modified` when that is not earlier (versions in
    /// the same ms). `date_added` only grows, so an object not here was last
    /// modified earlier and needs nothing; a handful of objects (one ms of
    /// entries), where a per-object `Vec<i64>` took 8 bytes an object.
    recent_modified: HashMap<u32, i64>,
    /// See `recent_modified`.
    modified_floor_ms: i64,
    /// One collection per audience of the default policy's egress views.
    audiences: BTreeMap<String, AudienceIndex>,
    /// Indicators that left the exchange (retracted, expired): if one comes
    /// back it is a new STIX object, since STIX forbids un-revoking.
    removed: DenseMap<Id, ()>,
    /// How many times each indicator came back after a removal.
    generation: DenseMap<Id, u32>,
}

/// The UUID of the STIX id (`indicator--UUID`) of an indicator's `generation`-th life.
fn stix_uuid(id: &str, generation: u32) -> Id {
    if generation == 0 {
        return Id::new(id);
    }
    let d = Sha256::digest(format!("tamis/stix-generation/v1\0{id}\0{generation}").as_bytes());
    Id::new(&crate::store::uuid_v4_from(&d))
}

/// The default policy's egress views, by audience: one collection each.
pub fn current_egress(policies: &PolicySet) -> BTreeMap<String, EgressView> {
    policies.by_id.get(&policies.default).map(|s| s.policy().egress.clone()).unwrap_or_default()
}

const FIXED: [Fixed; 6] = [
    Fixed::Marking(Tlp::Clear),
    Fixed::Marking(Tlp::Green),
    Fixed::Marking(Tlp::Amber),
    Fixed::Marking(Tlp::AmberStrict),
    Fixed::Marking(Tlp::Red),
    Fixed::Identity,
];

fn fixed_id(f: Fixed) -> String {
    match f {
        Fixed::Marking(t) => stix::tlp_marking_id(t).to_owned(),
        Fixed::Identity => stix::IDENTITY_ID.to_owned(),
    }
}

impl IndexState {
    fn new(egress: &BTreeMap<String, EgressView>) -> IndexState {
        let mut s = IndexState { egress: egress.clone(), ..IndexState::default() };
        for (k, f) in FIXED.iter().enumerate() {
            let obj = s.ids.len() as u32;
            s.ids.push(Id::Other(fixed_id(*f).into()));
            s.created_ms.push(i64::MIN);
            let (added_us, modified_ms) = match f {
                Fixed::Marking(_) => (MARKINGS_ADDED_US + k as i64, MARKINGS_ADDED_US / 1000),
                Fixed::Identity => (IDENTITY_ADDED_US, IDENTITY_ADDED_US / 1000),
            };
            s.created_ms[obj as usize] = modified_ms;
            s.recent_modified.insert(obj, modified_ms);
            s.entries.push(EntryTimes { ord: k as u64 + 1, added_us, modified_ms }, obj);
        }
        s.last_added_us = IDENTITY_ADDED_US;
        for (name, view) in egress {
            let mut a =
                AudienceIndex { view: view.clone(), versions: Vec::new(), revoked: Vec::new(), objects: Vec::new() };
            // The identity, and the markings of the levels this view may see
            // (entry `k` is object `k`, `FIXED[k]`).
            for (k, f) in FIXED.iter().enumerate() {
                if let Fixed::Marking(t) = f
                    && *t > view.max_tlp
                {
                    continue;
                }
                a.push(k as u32, k as u32, None);
            }
            s.audiences.insert(name.clone(), a);
        }
        s
    }

    /// The object number of indicator STIX id `indicator--{uuid}`, new if need be.
    fn intern(&mut self, uuid: Id) -> u32 {
        if let Some(o) = self.by_id.get(&self.ids, &uuid) {
            return o;
        }
        let o = self.ids.len() as u32;
        self.ids.push(uuid);
        self.by_id.insert(&self.ids, o);
        self.created_ms.push(i64::MIN);
        o
    }

    /// Room for `entries` more log entries (at most one version per
    /// audience and one object each), so that catching up with a long log
    /// does not grow the vectors by doubling: each doubling copies and frees
    /// the old block, which the allocator keeps resident for a while (about
    /// 0.2 GB at 1M indicators). Room never written is never resident.
    fn reserve(&mut self, entries: u64) {
        let n = usize::try_from(entries).unwrap_or(usize::MAX).min(u32::MAX as usize);
        self.ids.reserve(n);
        self.by_id.reserve(&self.ids, n);
        self.created_ms.reserve(n);
        self.entries.times.reserve(n);
        self.entries.obj.reserve(n);
        for a in self.audiences.values_mut() {
            a.versions.reserve(n);
            a.objects.reserve(n);
        }
    }

    /// The STIX id of object `o`.
    fn stix_id(&self, o: u32) -> String {
        match self.ids.get(o).expect("an object number") {
            id if (o as usize) < FIXED.len() => id.to_string(),
            uuid => format!("indicator--{uuid}"),
        }
    }

    /// The STIX type of object `o`.
    fn stix_type(&self, o: u32) -> &'static str {
        match FIXED.get(o as usize) {
            Some(Fixed::Marking(_)) => "marking-definition",
            Some(Fixed::Identity) => "identity",
            None => "indicator",
        }
    }

    /// The object number of a STIX id.
    fn object(&self, stix_id: &str) -> Option<u32> {
        match stix_id.strip_prefix("indicator--") {
            Some(uuid) => self.by_id.get(&self.ids, &Id::new(uuid)),
            None => FIXED.iter().position(|f| fixed_id(*f) == stix_id).map(|o| o as u32),
        }
    }

    fn apply(&mut self, e: &FeedEntry) {
        let at_us = (e.at.unix_timestamp_nanos() / 1000) as i64;
        let added_us = at_us.max(self.last_added_us + 1);
        self.last_added_us = added_us;
        self.last_seq = self.last_seq.max(e.seq);
        let id = Id::new(&e.indicator.id);
        if e.op == Op::Add && self.removed.remove(&id).is_some() {
            match self.generation.get_mut(&id) {
                Some(g) => *g += 1,
                None => {
                    self.generation.insert(id.clone(), 1);
                }
            }
        }
        let generation = self.generation.get(&id).copied().unwrap_or(0);
        if e.op == Op::Remove {
            self.removed.insert(id, ());
        }
        let obj = self.intern(stix_uuid(&e.indicator.id, generation));
        let o = obj as usize;
        let added_ms = added_us.div_euclid(1000);
        if added_ms > self.modified_floor_ms {
            self.modified_floor_ms = added_ms;
            self.recent_modified.retain(|_, m| *m >= added_ms);
            if self.recent_modified.is_empty() && self.recent_modified.capacity() > 4096 {
                self.recent_modified = HashMap::new();
            }
        }
        let modified_ms = if self.created_ms[o] == i64::MIN {
            self.created_ms[o] = added_ms;
            added_ms
        } else {
            // Not in `recent_modified`: last modified before `added_ms`.
            self.recent_modified.get(&obj).map_or(added_ms, |last| added_ms.max(last + 1))
        };
        self.recent_modified.insert(obj, modified_ms);
        let times = EntryTimes { ord: e.seq + LOG_BASE, added_us, modified_ms };
        // This entry's position in `entries`, once an audience shows it.
        let mut shared = None;
        let entries = &mut self.entries;
        let mut entry = |entries: &mut Entries| *shared.get_or_insert_with(|| entries.push(times, obj));
        for a in self.audiences.values_mut() {
            let admitted = e.op != Op::Remove && admitting(std::slice::from_ref(&a.view), &e.indicator).is_some();
            if admitted {
                a.push(entry(entries), obj, None);
            } else if let Some(last) = a.last(obj).filter(|l| l & VISIBLE != 0) {
                let Some(source) = a.ver(entries, (last & !VISIBLE) as usize).source() else {
                    continue;
                };
                a.push(entry(entries), obj, Some(source));
            } else if e.op == Op::Remove
                && a.last(obj).is_none()
                && admitting(std::slice::from_ref(&a.view), &e.indicator).is_some()
            {
                // Its earlier versions were compacted away (or read before a
                // rebuild): the removal alone says that it is revoked.
                a.push(entry(entries), obj, Some(e.seq));
            }
        }
    }
}

impl AudienceIndex {
    /// Adds a version of object `obj` showing entry `entry`: visible, or
    /// with `revoked` its revocation showing the content of that sequence number.
    fn push(&mut self, entry: u32, obj: u32, revoked: Option<u64>) {
        let pos = u32::try_from(self.versions.len())
            .ok()
            .filter(|p| *p < VISIBLE - 1)
            .expect("fewer than 2^31 - 1 versions per collection");
        let i = obj as usize;
        if self.objects.len() <= i {
            self.objects.resize(i + 1, NONE);
        }
        let prev = match self.objects[i] {
            NONE => NONE,
            last => last & !VISIBLE,
        };
        self.objects[i] = if revoked.is_some() { pos } else { pos | VISIBLE };
        let mut v = AVer { entry, prev };
        if let Some(source) = revoked {
            v.entry |= REVOKED;
            self.revoked.push((pos, source));
        }
        self.versions.push(v);
    }

    /// The object's latest version's position with [`VISIBLE`] if it is
    /// visible, if the audience ever saw it.
    fn last(&self, o: u32) -> Option<u32> {
        self.objects.get(o as usize).copied().filter(|l| *l != NONE)
    }

    /// The version at `pos`, as pages show it.
    fn ver(&self, entries: &Entries, pos: usize) -> Ver {
        let v = self.versions[pos];
        let (t, obj) = (entries.times[v.entry()], entries.obj[v.entry()]);
        let kind = if let Some(f) = FIXED.get(obj as usize) {
            VerKind::Fixed(*f)
        } else if v.entry & REVOKED != 0 {
            let i = self.revoked.binary_search_by_key(&(pos as u32), |r| r.0).expect("a revocation has its source");
            VerKind::Revoked { source: self.revoked[i].1 }
        } else {
            VerKind::Visible
        };
        Ver { ord: t.ord, added_us: t.added_us, modified_ms: t.modified_ms, obj, kind }
    }

    /// Positions of the object's versions, ascending.
    fn positions(&self, o: u32) -> Vec<usize> {
        let mut out = Vec::new();
        let mut p = self.last(o).map_or(NONE, |l| l & !VISIBLE);
        while p != NONE {
            out.push(p as usize);
            p = self.versions[p as usize].prev;
        }
        out.reverse();
        out
    }

    /// Position of the object's first version (follows the chain back:
    /// most objects have one or two versions).
    fn first(&self, o: u32) -> Option<usize> {
        let mut p = self.last(o)? & !VISIBLE;
        while self.versions[p as usize].prev != NONE {
            p = self.versions[p as usize].prev;
        }
        Some(p as usize)
    }
}

impl Index {
    fn lock(&self) -> std::sync::MutexGuard<'_, IndexState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Catches up with the store's log (rebuilding when the views changed).
    /// The lock is never held across a store read; pages are applied on a
    /// blocking thread, and a page two requests read at once is applied once.
    pub async fn refresh(
        self: &Arc<Self>,
        store: &dyn Store,
        egress: &BTreeMap<String, EgressView>,
    ) -> Result<(), StoreError> {
        let head = store.head();
        loop {
            let from = {
                let mut s = self.lock();
                if s.audiences.is_empty() && s.ids.is_empty() || s.egress != *egress {
                    *s = IndexState::new(egress);
                }
                if s.last_seq >= head {
                    return Ok(());
                }
                let pending = head - s.last_seq;
                s.reserve(pending);
                s.last_seq
            };
            let entries = match store.feed(from, 4096).await {
                Err(StoreError::Compacted { horizon, .. }) => {
                    // Removals after the index's position were dropped:
                    // rebuild it from 0 (ordinals are sequence numbers, so a
                    // client's `next` and `added_after` stay valid).
                    tracing::warn!(horizon, "TAXII index below the feed's compaction horizon: rebuilding");
                    let mut s = self.lock();
                    if s.last_seq == from {
                        *s = IndexState::new(egress);
                    }
                    continue;
                }
                entries => entries?,
            };
            if entries.is_empty() {
                return Ok(());
            }
            let (index, egress) = (self.clone(), egress.clone());
            let applied = tokio::task::spawn_blocking(move || {
                let mut s = index.lock();
                if s.last_seq == from && s.egress == egress {
                    entries.iter().for_each(|e| s.apply(e));
                }
            });
            applied.await.map_err(|_| StoreError::Panicked)?;
        }
    }
}

/// One item of a page: a version and the times its object needs.
#[derive(Clone, Copy, Debug)]
struct Item {
    /// The version.
    ver: Ver,
    /// `created` of its object (ms), the same on every version.
    created_ms: i64,
}

/// Selects a page of versions of a collection.
fn select(s: &IndexState, a: &AudienceIndex, q: &Query, kind: PageKind, object: Option<u32>) -> (Vec<Item>, bool) {
    let spec_ok = q.spec_versions.as_ref().is_none_or(|v| v.contains("2.1"));
    if !spec_ok {
        return (Vec::new(), false);
    }
    // Versions filter: the versions endpoint lists every version.
    let vf = if kind == PageKind::Versions {
        VersionFilter { all: true, ..VersionFilter::default() }
    } else {
        q.version.clone().unwrap_or(VersionFilter { last: true, ..VersionFilter::default() })
    };
    let times = |v: &AVer| s.entries.times[v.entry()];
    let start_added = q.added_after_us.map(|t| a.versions.partition_point(|v| times(v).added_us <= t)).unwrap_or(0);
    let start_next = q.next.map(|n| a.versions.partition_point(|v| times(v).ord <= n)).unwrap_or(0);
    let start = start_added.max(start_next);
    // Candidate positions: all from `start`, or only those of the named objects.
    let objs: Option<Vec<u32>> = match (object, &q.ids) {
        (Some(o), _) => Some(vec![o]),
        (None, Some(ids)) => Some(ids.iter().filter_map(|id| s.object(id)).collect()),
        (None, None) => None,
    };
    let candidates: Box<dyn Iterator<Item = usize>> = match &objs {
        None => Box::new(start..a.versions.len()),
        Some(objs) => {
            let mut pos: Vec<usize> = objs.iter().flat_map(|o| a.positions(*o)).filter(|p| *p >= start).collect();
            pos.sort_unstable();
            Box::new(pos.into_iter())
        }
    };
    let mut out = Vec::new();
    let mut more = false;
    for pos in candidates {
        let v = a.ver(&s.entries, pos);
        if let Some(types) = &q.types
            && !types.contains(s.stix_type(v.obj))
        {
            continue;
        }
        if !vf.all {
            let first = vf.first && a.first(v.obj) == Some(pos);
            let last = a.last(v.obj).is_some_and(|l| (l & !VISIBLE) as usize == pos);
            let exact = vf.at.contains(&(v.modified_ms as i128 * 1_000_000));
            if !((vf.first && first) || (vf.last && last) || exact) {
                continue;
            }
        }
        if out.len() == q.limit {
            more = true;
            break;
        }
        out.push(Item { ver: v, created_ms: s.created_ms[v.obj as usize] });
    }
    (out, more)
}

fn ms_time(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn us_time(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(us as i128 * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Reads the feed entries with the given sequence numbers, in runs.
async fn read_entries(store: &dyn Store, seqs: &BTreeSet<u64>) -> Result<HashMap<u64, FeedEntry>, StoreError> {
    let mut out = HashMap::with_capacity(seqs.len());
    let mut it = seqs.iter().copied().peekable();
    while let Some(first) = it.next() {
        let mut last = first;
        while it.peek() == Some(&(last + 1)) {
            last = it.next().expect("peeked");
        }
        // Compaction may have dropped some (gaps): those are left out.
        for e in store.feed_kept(first - 1, (last - first + 1) as usize).await? {
            if (first..=last).contains(&e.seq) {
                out.insert(e.seq, e);
            }
        }
    }
    Ok(out)
}

/// What a page request resolves to: selected under the index lock, then
/// the objects it shows read from the store.
pub struct Selected {
    /// The page, in `date_added` order.
    items: Vec<Item>,
    /// More items match after the page.
    more: bool,
    /// STIX id of each item (read under the lock, used after it).
    ids: Vec<String>,
    /// The feed entries the items show (objects pages only), by sequence number.
    entries: HashMap<u64, FeedEntry>,
}

impl Selected {
    /// Number of items on the page.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the page is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The ordinals the page covers, for the audit trail (`first..last` or `empty`).
    pub fn range(&self) -> String {
        match (self.items.first(), self.items.last()) {
            (Some(f), Some(l)) => format!("{}..{}", f.ver.ord, l.ver.ord),
            _ => "empty".to_owned(),
        }
    }
}

/// A rendered page: the TAXII envelope and its `X-TAXII-Date-Added-First` /
/// `-Last` values (none for an empty page).
pub struct RenderedPage {
    /// The envelope (`more`, `next`, `objects` or `versions`).
    pub body: Value,
    /// `date_added` of the first and last item.
    pub added: Option<(String, String)>,
}

impl Index {
    /// Catches up with the log and selects a page of `audience`'s collection;
    /// for objects pages, also reads the entries the items show.
    pub async fn select_page(
        self: &Arc<Self>,
        store: &dyn Store,
        egress: &BTreeMap<String, EgressView>,
        audience: &str,
        q: &Query,
        kind: PageKind,
        object: Option<&str>,
    ) -> Result<Selected, TaxiiError> {
        let internal = |e: StoreError| {
            tracing::error!(error = %e, "TAXII index or object read failed");
            TaxiiError::Internal
        };
        // A request with other egress views (a policy reload) may rebuild the
        // index between the catch-up and the selection: catch up again.
        for _ in 0..3 {
            self.refresh(store, egress).await.map_err(internal)?;
            let (index, egress, audience, q) = (self.clone(), egress.clone(), audience.to_owned(), q.clone());
            let object = object.map(str::to_owned);
            let selected =
                tokio::task::spawn_blocking(move || index.select(&egress, &audience, &q, kind, object.as_deref()))
                    .await
                    .map_err(|_| TaxiiError::Internal)??;
            let Some(mut sel) = selected else { continue };
            if matches!(kind, PageKind::Objects | PageKind::Object) {
                let seqs: BTreeSet<u64> = sel.items.iter().flat_map(|i| i.ver.entries()).collect();
                sel.entries = read_entries(store, &seqs).await.map_err(internal)?;
            }
            return Ok(sel);
        }
        tracing::error!("the TAXII index kept changing views under a request");
        Err(TaxiiError::Internal)
    }

    /// Selects a page under the lock (blocking); `None` when the index was
    /// rebuilt for other egress views since the caller caught up.
    fn select(
        &self,
        egress: &BTreeMap<String, EgressView>,
        audience: &str,
        q: &Query,
        kind: PageKind,
        object: Option<&str>,
    ) -> Result<Option<Selected>, TaxiiError> {
        let s = self.lock();
        if s.egress != *egress {
            return Ok(None);
        }
        let a = s.audiences.get(audience).ok_or_else(|| TaxiiError::NotFound("no such collection".into()))?;
        let obj = match object {
            None => None,
            Some(o) => Some(
                s.object(o)
                    .filter(|n| a.last(*n).is_some())
                    .ok_or_else(|| TaxiiError::NotFound("no such object in this collection".into()))?,
            ),
        };
        let (items, more) = select(&s, a, q, kind, obj);
        let ids = items.iter().map(|i| s.stix_id(i.ver.obj)).collect();
        Ok(Some(Selected { items, more, ids, entries: HashMap::new() }))
    }
}

/// Renders a selected page, projecting each indicator with `view`, the
/// participant's current view of the audience: if the policy changed since
/// the index was read, what it no longer admits is left out (fail closed).
pub fn render_page(sel: &Selected, view: &EgressView, kind: PageKind) -> RenderedPage {
    let views = std::slice::from_ref(view);
    let mut added = None;
    if let (Some(f), Some(l)) = (sel.items.first(), sel.items.last()) {
        added = Some((stix::taxii_timestamp(us_time(f.ver.added_us)), stix::taxii_timestamp(us_time(l.ver.added_us))));
    }
    let next = sel.items.last().map(|i| format!("p{}", i.ver.ord));
    let mut body = Map::new();
    if !sel.items.is_empty() {
        body.insert("more".into(), json!(sel.more));
        if sel.more
            && let Some(n) = &next
        {
            body.insert("next".into(), json!(n));
        }
    }
    let list: Vec<Value> = match kind {
        PageKind::Manifest => sel
            .items
            .iter()
            .zip(&sel.ids)
            .map(|(i, id)| {
                json!({
                    "id": id,
                    "date_added": stix::taxii_timestamp(us_time(i.ver.added_us)),
                    "version": stix::stix_timestamp(ms_time(i.ver.modified_ms)),
                    "media_type": STIX_MEDIA_TYPE,
                })
            })
            .collect(),
        PageKind::Versions => {
            sel.items.iter().map(|i| json!(stix::stix_timestamp(ms_time(i.ver.modified_ms)))).collect()
        }
        PageKind::Objects | PageKind::Object => {
            let mut list = Vec::with_capacity(sel.items.len());
            for (i, stix_id) in sel.items.iter().zip(&sel.ids) {
                let times = VersionTimes { created: ms_time(i.created_ms), modified: ms_time(i.ver.modified_ms) };
                let (source, revoked) = match i.ver.kind {
                    VerKind::Fixed(Fixed::Marking(t)) => {
                        list.push(stix::marking_definition(t));
                        continue;
                    }
                    VerKind::Fixed(Fixed::Identity) => {
                        list.push(stix::exchange_identity());
                        continue;
                    }
                    VerKind::Visible => (i.ver.ord - LOG_BASE, false),
                    VerKind::Revoked { source } => (source, true),
                };
                // Fail closed: an entry that cannot be read or that the view
                // does not admit is left out. A revocation whose source was
                // compacted away (the indicator left) is built from the
                // removal itself, through the same view.
                let own = i.ver.ord.checked_sub(LOG_BASE);
                let entry =
                    sel.entries.get(&source).or_else(|| own.filter(|_| revoked).and_then(|s| sel.entries.get(&s)));
                if let Some(mut o) = entry.and_then(|e| stix::indicator_object(views, &e.indicator, times, revoked)) {
                    // A later life of a removed indicator is a new object.
                    o["id"] = Value::String(stix_id.clone());
                    if !revoked && entry.is_some_and(|e| e.withdrawn) {
                        stix::mark_withdrawn(&mut o);
                    }
                    list.push(o);
                }
            }
            list
        }
    };
    if !list.is_empty() {
        let key = if kind == PageKind::Versions { "versions" } else { "objects" };
        body.insert(key.into(), Value::Array(list));
    }
    RenderedPage { body: Value::Object(body), added }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_refuses_malformed_parameters() {
        assert_eq!(Query::parse("", 10_000).unwrap().limit, DEFAULT_PAGE);
        assert_eq!(Query::parse("limit=20000", 10_000).unwrap().limit, 10_000);
        for bad in [
            "limit=0",
            "limit=x",
            "added_after=yesterday",
            "next=abc",
            "match[type]=Indicator",
            "match[id]=indicator--1",
            "match[version]=all,last",
            "match[version]=soon",
            "match[spec_version]=two",
            "limit=1&limit=2",
        ] {
            assert!(Query::parse(bad, 10_000).is_err(), "{bad}");
        }
        let q = Query::parse(
            "match[type]=indicator,identity&match[version]=first,2026-11-20T10:00:00.123Z&match[foo]=1&next=p17",
            10,
        )
        .unwrap();
        assert_eq!(q.types.unwrap().len(), 2);
        assert_eq!(q.next, Some(17));
        let v = q.version.unwrap();
        assert!(v.first && !v.last && v.at.len() == 1);
    }

    #[test]
    fn collection_ids_are_stable_uuids() {
        let id = collection_id("law-enforcement");
        assert_eq!(id, collection_id("law-enforcement"));
        assert_ne!(id, collection_id("isps"));
        assert!(stix_id_ok(&format!("indicator--{id}")));
        assert_eq!(&id[14..15], "4");
    }

    fn view(audience: &str, max_tlp: Tlp) -> EgressView {
        EgressView {
            audience: audience.into(),
            types: vec![],
            categories: vec![],
            max_tlp,
            min_confidence: 0,
            fields: vec![],
        }
    }

    fn entry(seq: u64, op: Op, id: &str, tlp: Tlp) -> FeedEntry {
        let t = OffsetDateTime::from_unix_timestamp(1_795_000_000 + seq as i64).unwrap();
        let indicator = crate::model::Indicator {
            id: id.into(),
            kind: crate::model::IndicatorType::Domain,
            value: format!("{id}.example.top"),
            value_form: None,
            category: crate::model::Category::Phishing,
            confidence: 80,
            tlp,
            first_seen: t,
            last_seen: t,
            valid_until: None,
            description: None,
            attributes: Default::default(),
            tags: vec![],
            sources: Default::default(),
            policy: "default@00".into(),
        };
        FeedEntry { seq, op, at: t, reason: None, indicator, withdrawn: false }
    }

    /// The kinds and sequence numbers of an audience's versions after the fixed objects.
    fn listed(s: &IndexState, audience: &str) -> Vec<(VerKind, u64)> {
        let a = &s.audiences[audience];
        (0..a.versions.len())
            .map(|p| a.ver(&s.entries, p))
            .filter(|v| !matches!(v.kind, VerKind::Fixed(_)))
            .map(|v| (v.kind, v.ord - LOG_BASE))
            .collect()
    }

    #[test]
    fn audiences_share_the_entries_they_both_show() {
        let a = "00000000-0000-4000-8000-00000000000a";
        let b = "00000000-0000-4000-8000-00000000000b";
        let egress: BTreeMap<String, EgressView> =
            [("green", Tlp::Green), ("clear", Tlp::Clear)].map(|(n, t)| (n.to_owned(), view(n, t))).into();
        let mut s = IndexState::new(&egress);
        assert_eq!(s.entries.times.len(), FIXED.len());
        s.apply(&entry(1, Op::Add, a, Tlp::Green)); // green only
        s.apply(&entry(2, Op::Add, b, Tlp::Clear)); // both: one shared entry
        s.apply(&entry(3, Op::Update, b, Tlp::Amber)); // both revoke b
        s.apply(&entry(4, Op::Add, a, Tlp::Red)); // green revokes a
        s.apply(&entry(5, Op::Remove, a, Tlp::Red)); // nobody shows it any more: no entry
        assert_eq!(s.entries.times.len(), FIXED.len() + 4);
        use VerKind::{Revoked, Visible};
        assert_eq!(
            listed(&s, "green"),
            [(Visible, 1), (Visible, 2), (Revoked { source: 2 }, 3), (Revoked { source: 1 }, 4)]
        );
        assert_eq!(listed(&s, "clear"), [(Visible, 2), (Revoked { source: 2 }, 3)]);
        // Both collections point at the same times for entry 2.
        let g = &s.audiences["green"];
        let c = &s.audiences["clear"];
        let at = |x: &AudienceIndex, seq: u64| {
            (0..x.versions.len()).find(|p| x.ver(&s.entries, *p).ord == seq + LOG_BASE).map(|p| x.versions[p].entry())
        };
        assert_eq!(at(g, 2), at(c, 2));
        // First and latest version of each object, and their chains.
        let (oa, ob) = (s.object(&format!("indicator--{a}")).unwrap(), s.object(&format!("indicator--{b}")).unwrap());
        let seqs = |x: &AudienceIndex, o: u32| {
            x.positions(o).into_iter().map(|p| x.ver(&s.entries, p).ord - LOG_BASE).collect::<Vec<_>>()
        };
        assert_eq!(seqs(g, oa), [1, 4]);
        assert_eq!(seqs(g, ob), [2, 3]);
        assert_eq!(seqs(c, ob), [2, 3]);
        assert_eq!(c.last(oa), None, "never visible to clear");
        assert_eq!(g.first(ob).map(|p| g.ver(&s.entries, p).ord - LOG_BASE), Some(2));
        assert!(g.last(ob).is_some_and(|l| l & VISIBLE == 0), "revoked");
        // Selection: the latest version of each object, in order.
        let q = Query::parse("", 100).unwrap();
        let (items, more) = select(&s, g, &q, PageKind::Objects, None);
        let last: Vec<u64> = items.iter().filter_map(|i| i.ver.ord.checked_sub(LOG_BASE)).collect();
        assert!(!more);
        assert_eq!(last.iter().filter(|o| **o > 0).copied().collect::<Vec<_>>(), [3, 4]);
        let q = Query::parse("match[version]=first", 100).unwrap();
        let (items, _) = select(&s, g, &q, PageKind::Objects, None);
        let first: Vec<u64> = items.iter().filter_map(|i| i.ver.ord.checked_sub(LOG_BASE)).filter(|o| *o > 0).collect();
        assert_eq!(first, [1, 2]);
    }

    /// `modified` as a per-object `Vec` of the last `modified` gave it:
    /// the ms of `date_added`, one more than the last when that is not
    /// earlier (versions of one object in the same ms), whatever the mix.
    #[test]
    fn modified_times_are_as_with_every_last_modified_kept() {
        let egress: BTreeMap<String, EgressView> = [("clear".to_owned(), view("clear", Tlp::Clear))].into();
        let mut s = IndexState::new(&egress);
        let ids: Vec<String> = (0..7).map(|k| format!("00000000-0000-4000-8000-00000000000{k}")).collect();
        let mut last: HashMap<String, i64> = HashMap::new();
        let mut last_added_us = IDENTITY_ADDED_US;
        let (mut x, mut bumped) = (12345u64, 0);
        for seq in 1..3000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let id = &ids[(x >> 33) as usize % ids.len()];
            let mut e = entry(seq, if last.contains_key(id) { Op::Update } else { Op::Add }, id, Tlp::Clear);
            // Bursts in one µs (a batch's commit time), steps of µs and of ms, a long gap.
            let step_us = [0, 0, 0, 1, 700, 1000, 3_000_000][(x >> 40) as usize % 7];
            let at_us = last_added_us + step_us;
            e.at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_us) * 1000).unwrap();
            let added_us = at_us.max(last_added_us + 1);
            last_added_us = added_us;
            let want = last.get(id).map_or(added_us.div_euclid(1000), |l| added_us.div_euclid(1000).max(l + 1));
            bumped += usize::from(want > added_us.div_euclid(1000));
            last.insert(id.clone(), want);
            s.apply(&e);
            let got = s.entries.times.last().unwrap();
            assert_eq!((got.ord, got.modified_ms), (seq + LOG_BASE, want), "entry {seq}");
            assert!(s.recent_modified.len() <= 8);
        }
        assert!(bumped > 100, "versions bumped past their date_added's ms: {bumped}");
    }

    #[test]
    fn index_entries_stay_small() {
        // Per audience: 8 bytes a version, 4 an object; per entry shown, once: 28.
        assert_eq!(std::mem::size_of::<AVer>(), 8);
        assert_eq!(std::mem::size_of::<EntryTimes>(), 24);
    }
}
