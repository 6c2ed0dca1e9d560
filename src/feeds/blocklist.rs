//! Blocklists for ISPs (SPEC §7): pre-built snapshots per audience set and
//! format, rebuilt after commits (debounced) and on a timer (expiry), never
//! per request. A request only picks a snapshot and copies its bytes (or its
//! pre-compressed gzip bytes), with a strong ETag for 304s.
//!
//! The builder keeps the live indicator set in memory, caught up from the
//! feed log, so a rebuild is a scan of memory, not of the database. It
//! rebuilds when the store's change watch moves; expiry is the store's own
//! task ([`crate::store::expiry`]), whose removals arrive through the feed
//! like any other change.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::allowlist::{AllowList, Allowed};
use super::sorted::SortedMap;
use crate::identity::{Registry, Role};
use crate::model::{Category, IndicatorType, Tlp};
use crate::policy::EgressView;
use crate::policy_set::PolicySet;
use crate::store::{FeedEntry, Op, Store, StoreError};

/// The blocklist formats, by file name; `withheld.csv` lists what the
/// audience would have received but the allow-lists kept off, and why.
pub const NAMES: &[&str] =
    &["domains.txt", "domains.rpz", "hosts.txt", "ips.txt", "urls.txt", "indicators.csv", "withheld.csv"];

/// Why an indicator the audience may receive is kept off its blocklists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Withheld {
    /// An address or range that is reserved, private, a public resolver, a
    /// CDN or a sinkhole.
    Address,
    /// A top site, a bank's own domain, a resolver or CRL host (exempt lists).
    Exempt,
    /// A known false-positive or empty-file hash.
    Hash,
    /// Not usable as a DNS name (an `rpz-*` label, no known public suffix).
    NotADnsName,
    /// A public suffix (`co.uk`, `github.io`).
    PublicSuffix,
    /// A shared platform's own domain (URL shortener, dynamic DNS, hosting).
    SharedService,
    /// A type that never goes on a blocklist (pseudonymised personal data);
    /// not reported.
    NotBlockingType,
}

impl Withheld {
    /// The reasons reported to ISPs, in header order.
    pub const REPORTED: [Withheld; 6] = [
        Withheld::Address,
        Withheld::Exempt,
        Withheld::Hash,
        Withheld::NotADnsName,
        Withheld::PublicSuffix,
        Withheld::SharedService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Withheld::Address => "address",
            Withheld::Exempt => "exempt",
            Withheld::Hash => "hash",
            Withheld::NotADnsName => "not-a-dns-name",
            Withheld::PublicSuffix => "public-suffix",
            Withheld::SharedService => "shared-service",
            Withheld::NotBlockingType => "not-a-blocking-type",
        }
    }

    fn from_allowed(a: Allowed) -> Withheld {
        match a {
            Allowed::PublicSuffix => Withheld::PublicSuffix,
            Allowed::Exempt => Withheld::Exempt,
            Allowed::Shared => Withheld::SharedService,
            Allowed::Address => Withheld::Address,
            Allowed::Hash => Withheld::Hash,
        }
    }
}

/// The indicator types whose withholding a list reports.
fn reported_kinds(list: &str) -> &'static [IndicatorType] {
    use IndicatorType::*;
    match list {
        "domains.txt" | "hosts.txt" => &[Domain],
        "domains.rpz" => &[Domain, Ipv4, Ipv6, Cidr],
        "ips.txt" => &[Ipv4, Ipv6, Cidr],
        "urls.txt" => &[Url],
        _ => &[Domain, Url, Ipv4, Ipv6, Cidr, Sha256, Sha1, Md5],
    }
}

/// Wait after a commit before rebuilding, so a burst of submissions causes one rebuild.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// One pre-built list. Once its gzip encoding is made, only that is kept
/// (about a quarter of the size: the lists of 2M indicators take about
/// 0.5 GB as text): in a file of the data directory when the deployment has
/// one ([`SnapshotFiles`]), else in memory; the text is decompressed for the
/// requests that want it ([`Snapshot::body`]).
#[derive(Debug)]
pub struct Snapshot {
    /// The text, then its gzip encoding (in memory or in a file).
    held: std::sync::Mutex<Held>,
    /// Held while the gzip encoding is made (by one thread).
    encoding: std::sync::Mutex<()>,
    /// Where the gzip encoding goes once made; `None`: kept in memory.
    files: Option<Arc<SnapshotFiles>>,
    /// Length of the text, in bytes.
    pub len: usize,
    /// Strong ETag of `body` (quoted); the gzip variant appends `-gz`.
    pub etag: String,
    pub content_type: &'static str,
    /// Entries (lines or triggers) in the list.
    pub count: usize,
    /// RPZ serial for `domains.rpz`, otherwise the build number that produced it.
    pub version: u64,
    /// When this content was first built (whole seconds, for
    /// `Last-Modified`): kept while rebuilds give the same bytes, and after a
    /// restart the time of the newest change in the log.
    pub modified: OffsetDateTime,
    /// What the allow-lists kept off this list, by reason
    /// (`address=0, exempt=3, ...`: the `X-Tamis-Withheld` header).
    pub withheld: String,
}

/// What a snapshot holds of its content.
#[derive(Debug)]
enum Held {
    /// The text, until the gzip encoding is made (in the background after
    /// the snapshot is published, or by the first request that wants it,
    /// whichever is first).
    Text(Bytes),
    /// The gzip encoding, in memory: no snapshot directory, or its file
    /// could not be written.
    Gzip(Bytes),
    /// The gzip encoding, sealed in this file of the snapshot directory
    /// (removed when the snapshot is dropped).
    File(String),
}

/// The snapshot directory (`data_dir/blocklists`): each snapshot's gzip
/// encoding in a file of its own, so that it leaves the resident set (the
/// page cache holds it, and gives it back under pressure). A file is sealed
/// (AES-256-GCM) under a key drawn at start and never stored, with its name
/// and the snapshot's ETag as associated data: the indicators are not in
/// clear on disk, a file left by an earlier process or moved to another
/// name does not open, and a torn or altered file is refused, never served.
/// A file is written under a temporary name and renamed once complete, so
/// it is whole when a snapshot points to it; the directory is emptied at
/// start, and a snapshot's file is removed when the snapshot is dropped
/// (after the last request holding it).
pub struct SnapshotFiles {
    dir: std::path::PathBuf,
    sealer: crate::store::crypto::Sealer,
    next: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for SnapshotFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotFiles").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SnapshotFiles {
    /// The snapshot directory `dir`, created if needed and emptied of what
    /// an earlier process left (its files do not open under a new key).
    pub fn open(dir: &std::path::Path) -> std::io::Result<SnapshotFiles> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
            }
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(std::io::Error::other)?;
        let sealer = crate::store::crypto::Sealer::new(&key, 0);
        key.fill(0);
        Ok(SnapshotFiles { dir: dir.to_owned(), sealer, next: std::sync::atomic::AtomicU64::new(1) })
    }

    /// The directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn aad(name: &str, etag: &str) -> Vec<u8> {
        format!("tamis/blocklist/v1\0{name}\0{etag}").into_bytes()
    }

    /// Writes `gzip` to a new file, complete before it has its name; returns the name.
    fn write(&self, etag: &str, gzip: &[u8]) -> std::io::Result<String> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{n:08}.gz.sealed");
        let sealed = self.sealer.seal(&Self::aad(&name, etag), gzip);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let write = || -> std::io::Result<()> {
            std::fs::write(&tmp, &sealed)?;
            std::fs::rename(&tmp, &path)
        };
        write().inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        Ok(name)
    }

    /// Reads and opens the file `name`.
    fn read(&self, name: &str, etag: &str) -> std::io::Result<Bytes> {
        let sealed = std::fs::read(self.dir.join(name))?;
        let gzip = self.sealer.open(&Self::aad(name, etag), &sealed).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "blocklist snapshot file does not authenticate")
        })?;
        Ok(gzip.into())
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let (Some(files), Held::File(name)) = (&self.files, &*self.held.get_mut().unwrap_or_else(|p| p.into_inner()))
        {
            let _ = std::fs::remove_file(files.dir.join(name));
        }
    }
}

impl Snapshot {
    /// A new snapshot of `body`, whose gzip encoding is yet to be made.
    #[allow(clippy::too_many_arguments)]
    fn new(
        body: Bytes,
        files: Option<Arc<SnapshotFiles>>,
        etag: String,
        content_type: &'static str,
        count: usize,
        version: u64,
        modified: OffsetDateTime,
        withheld: String,
    ) -> Snapshot {
        Snapshot {
            len: body.len(),
            held: std::sync::Mutex::new(Held::Text(body)),
            encoding: std::sync::Mutex::new(()),
            files,
            etag,
            content_type,
            count,
            version,
            modified,
            withheld,
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The gzip bytes (a blocking call): compressing now if the background
    /// has not yet (then writing them to the snapshot directory, if any, and
    /// dropping the text), or reading them from their file. An error: the
    /// file is gone or does not authenticate (logged; nothing is served).
    pub fn gzip_bytes(&self) -> std::io::Result<Bytes> {
        if let Some(g) = self.encode() {
            return Ok(g);
        }
        let name = match &*self.held() {
            Held::Gzip(g) => return Ok(g.clone()),
            Held::File(name) => name.clone(),
            Held::Text(_) => unreachable!("encode leaves no text"),
        };
        let files = self.files.as_ref().expect("a snapshot in a file has the snapshot directory");
        files.read(&name, &self.etag).inspect_err(|e| {
            tracing::error!(error = %e, file = %name, "blocklist snapshot file unreadable: not served");
        })
    }

    /// Makes the gzip encoding if it is not yet (and drops the text), without
    /// reading it back from its file.
    pub fn make_gzip(&self) {
        self.encode();
    }

    /// Compresses the text if the snapshot still holds it, and holds the
    /// gzip encoding instead: in a new file of the snapshot directory if
    /// there is one (in memory if it cannot be written); `None` when it was
    /// made before. One thread encodes at a time (the others wait for it);
    /// the state's lock is only held to look and to switch, so the request
    /// path never waits for a compression or a write.
    fn encode(&self) -> Option<Bytes> {
        let _one = self.encoding.lock().unwrap_or_else(|p| p.into_inner());
        let text = match &*self.held() {
            Held::Text(text) => text.clone(),
            _ => return None,
        };
        let g: Bytes = gzip(&text).into();
        drop(text);
        let next = match self.files.as_ref().map(|f| f.write(&self.etag, &g)) {
            Some(Ok(name)) => Held::File(name),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "cannot write a blocklist snapshot file; kept in memory");
                Held::Gzip(g.clone())
            }
            None => Held::Gzip(g.clone()),
        };
        *self.held() = next;
        Some(g)
    }

    /// The gzip bytes, if they are made and held in memory.
    pub fn gzip_ready(&self) -> Option<Bytes> {
        match &*self.held() {
            Held::Gzip(g) => Some(g.clone()),
            _ => None,
        }
    }

    /// Whether the gzip encoding is made yet (in memory or in a file).
    pub fn gzip_made(&self) -> bool {
        !matches!(&*self.held(), Held::Text(_))
    }

    /// The text without decompressing, while it is still kept.
    pub fn plain(&self) -> Option<Bytes> {
        match &*self.held() {
            Held::Text(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// The text: kept until the gzip encoding is made, then decompressed
    /// from it (a blocking call: tens of milliseconds per 10 MB).
    pub fn body(&self) -> std::io::Result<Bytes> {
        if let Some(b) = self.plain() {
            return Ok(b);
        }
        let g = self.gzip_bytes()?;
        let mut out = Vec::with_capacity(self.len);
        let mut d = flate2::read::GzDecoder::new(&g[..]);
        std::io::Read::read_to_end(&mut d, &mut out).expect("our own gzip encoding decompresses");
        Ok(out.into())
    }

    pub fn gzip_etag(&self) -> String {
        format!("{}-gz\"", self.etag.trim_end_matches('"'))
    }
}

/// The current snapshots, keyed by audience set (`isps` or `isps+isp-blocking-agreement`) and name.
#[derive(Default)]
pub struct Blocklists {
    current: ArcSwap<HashMap<(String, &'static str), Arc<Snapshot>>>,
    /// Time of the last completed build (unix ms), 0 before the first.
    pub built_at_ms: std::sync::atomic::AtomicU64,
    /// Duration of the last build, for metrics.
    pub build_ms: std::sync::atomic::AtomicU64,
    /// Feed sequence number the current snapshots include.
    pub built_head: std::sync::atomic::AtomicU64,
    /// Aggregates over the live set, computed with each build.
    pub stats: ArcSwap<IndicatorStats>,
    /// Moves after every publication (the RPZ zone-transfer listener follows it).
    pub published: tokio::sync::watch::Sender<u64>,
    /// Where the RPZ serial and content hash of each audience are kept
    /// across restarts (`data_dir/rpz-serials.json`); unset, serials follow
    /// the log's commit times only.
    pub serial_file: std::sync::OnceLock<std::path::PathBuf>,
    /// Where the snapshots' gzip encodings are kept once made
    /// (`data_dir/blocklists`); unset, in memory.
    pub files: std::sync::OnceLock<Arc<SnapshotFiles>>,
}

/// Non-personal aggregates over the live indicators (SPEC §8).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct IndicatorStats {
    pub total: usize,
    pub by_category: BTreeMap<String, usize>,
    pub by_type: BTreeMap<String, usize>,
    /// Indicators reported by at least one participant of the sector.
    pub by_sector: BTreeMap<String, usize>,
    pub by_tlp: BTreeMap<String, usize>,
    /// By ISO week of first sighting.
    pub by_week: BTreeMap<String, usize>,
    /// Indicators reported by more than one participant (corroborated).
    pub corroborated: usize,
}

fn compute_stats(live: &LiveSet) -> IndicatorStats {
    let mut s = IndicatorStats { total: live.sorted.len(), ..Default::default() };
    for ((kind, _), l) in &live.sorted {
        *s.by_category.entry(l.category.to_string()).or_default() += 1;
        *s.by_type.entry(kind.to_string()).or_default() += 1;
        *s.by_tlp.entry(l.tlp.to_string()).or_default() += 1;
        *s.by_week.entry(l.first_seen_week()).or_default() += 1;
        for sec in live.sector_sets[l.sectors as usize].iter() {
            *s.by_sector.entry(sec.clone()).or_default() += 1;
        }
        if l.sources > 1 {
            s.corroborated += 1;
        }
    }
    s
}

impl Blocklists {
    pub fn get(&self, audiences: &str, name: &str) -> Option<Arc<Snapshot>> {
        let name = NAMES.iter().find(|n| **n == name)?;
        self.current.load().get(&(audiences.to_owned(), *name)).cloned()
    }

    /// Every published snapshot: `(audience set, list, snapshot)`.
    pub fn snapshots(&self) -> Vec<(String, &'static str, Arc<Snapshot>)> {
        let current = self.current.load();
        let mut all: Vec<_> = current.iter().map(|((a, n), s)| (a.clone(), *n, s.clone())).collect();
        all.sort_by(|x, y| (&x.0, x.1).cmp(&(&y.0, y.1)));
        all
    }

    pub fn ready(&self) -> bool {
        self.built_at_ms.load(std::sync::atomic::Ordering::Acquire) > 0
    }
}

/// The key of a participant's audience set.
pub fn audience_key(audiences: &[String]) -> String {
    let mut a = audiences.to_vec();
    a.sort();
    a.dedup();
    a.join("+")
}

/// What a blocklist needs to know of a live indicator (its type and value
/// are the key of [`LiveSet::sorted`]).
///
/// Times as Unix seconds (40 bytes in all, where three `OffsetDateTime`s
/// took 48 alone): the lists print seconds in UTC; the weekly statistics
/// need `first_seen`'s own offset (its local date, packed with its seconds
/// in a [`LocalSeconds`]), and the `<= now` test `valid_until`'s nanoseconds.
#[derive(Clone, Debug)]
struct Live {
    category: Category,
    tlp: Tlp,
    confidence: u8,
    /// Unix seconds (rounded down, as the lists print them) and UTC offset.
    first_seen: LocalSeconds,
    /// Unix seconds (rounded down).
    last_seen: i64,
    /// Unix seconds (rounded down) of `valid_until`, and its nanoseconds
    /// ([`NO_END`] when it has none).
    valid_until: i64,
    valid_until_nanos: u32,
    sources: u32,
    /// Its sectors: a position in [`LiveSet::sector_sets`] (a handful of
    /// distinct sets; 4 bytes here instead of a 16-byte `Arc`, which made
    /// `Live` 8-aligned, about 80 bytes, where it is now at most 60).
    sectors: u32,
    /// Why it is kept off blocklists (an allow-list, a type that is never
    /// listed), `None` when it may be listed; decided once, when the
    /// indicator enters the set, not at every build.
    withheld: Option<Withheld>,
}

/// The live set, mirrored from the feed log, kept sorted by (type, value)
/// so every list comes out sorted without sorting at build time (a
/// [`SortedMap`]: a dense sorted vector of 64-byte entries and the recent
/// keys aside, where a `BTreeMap` took about 120 bytes an entry). Nothing
/// maps ids to values: an indicator's id derives from its type and value
/// ([`crate::store::indicator_id`]), and every entry of the log, a removal
/// too, carries both.
#[derive(Default)]
struct LiveSet {
    sorted: SortedMap<(IndicatorType, Box<str>), Live>,
    /// The distinct sector sets (`Live::sectors` is a position here).
    sector_sets: Vec<Arc<[String]>>,
    /// The position of each in `sector_sets`.
    sector_pos: HashMap<Arc<[String]>, u32>,
    cursor: u64,
    /// Bumped on every change; an unchanged set needs no rebuild.
    generation: u64,
    /// Commit time of the newest change applied.
    last_change: Option<OffsetDateTime>,
}

/// Unix seconds (rounded down) and a UTC offset in seconds, in one `i64`
/// (`seconds × 2^18 + offset + 2^17`), so that [`Live`] has no padding and
/// a live-set entry is 64 bytes (was 72 with the offset in its own `i32`).
/// An offset is within ±25:59:59 (±93,599 s < 2^17); the seconds of any
/// `OffsetDateTime` (years ±999,999 with `time`'s `large-dates`) are within
/// ±2^45, so both fit in the 64 bits.
#[derive(Clone, Copy, Debug)]
struct LocalSeconds(i64);

impl LocalSeconds {
    const OFFSET_BITS: u32 = 18;

    fn new(t: OffsetDateTime) -> LocalSeconds {
        let (secs, offset) = (t.unix_timestamp(), t.offset().whole_seconds());
        let packed = LocalSeconds((secs << Self::OFFSET_BITS) | i64::from(offset + (1 << (Self::OFFSET_BITS - 1))));
        debug_assert_eq!((packed.seconds(), packed.offset()), (secs, offset));
        packed
    }

    /// Unix seconds.
    fn seconds(self) -> i64 {
        self.0 >> Self::OFFSET_BITS
    }

    /// The UTC offset, in seconds.
    fn offset(self) -> i32 {
        (self.0 & ((1 << Self::OFFSET_BITS) - 1)) as i32 - (1 << (Self::OFFSET_BITS - 1))
    }
}

/// `Live::valid_until_nanos` of an indicator without `valid_until`.
const NO_END: u32 = u32::MAX;

impl Live {
    /// Whether it has ended at `now` (`valid_until <= now`).
    fn ended(&self, now: OffsetDateTime) -> bool {
        self.valid_until_nanos != NO_END
            && (self.valid_until, self.valid_until_nanos) <= (now.unix_timestamp(), now.nanosecond())
    }

    /// The ISO week of its first sighting, in its own offset.
    fn first_seen_week(&self) -> String {
        // The local date: the UTC date of the local wall-clock time.
        let local =
            OffsetDateTime::from_unix_timestamp(self.first_seen.seconds() + i64::from(self.first_seen.offset()))
                .expect("a time of the log");
        crate::store::iso_week(local)
    }
}

/// Why an indicator may not go on a blocklist at all, if it may not.
fn withheld(allow: &AllowList, kind: IndicatorType, value: &str) -> Option<Withheld> {
    let allowed = match kind {
        IndicatorType::Domain => allow.domain(value),
        IndicatorType::Url => allow.url(value),
        IndicatorType::Ipv4 | IndicatorType::Ipv6 => match value.parse::<IpAddr>() {
            Ok(ip) => allow.ip(ip),
            Err(_) => return Some(Withheld::NotBlockingType),
        },
        IndicatorType::Cidr => match value.parse::<ipnet::IpNet>() {
            Ok(n) => allow.net(&n),
            Err(_) => return Some(Withheld::NotBlockingType),
        },
        IndicatorType::Sha256 | IndicatorType::Sha1 | IndicatorType::Md5 => allow.hash(value),
        // Pseudonymised personal-data types are never blocking material.
        IndicatorType::Email | IndicatorType::Iban | IndicatorType::Phone | IndicatorType::Btc => {
            return Some(Withheld::NotBlockingType);
        }
    };
    allowed.map(Withheld::from_allowed)
}

impl LiveSet {
    fn apply(&mut self, e: FeedEntry, allow: &AllowList) {
        self.cursor = e.seq;
        self.generation += 1;
        self.last_change = Some(self.last_change.map_or(e.at, |t| t.max(e.at)));
        // Withdrawn by false-positive reports: off every list until its
        // submitter confirms it (a later entry without the mark).
        match e.op {
            _ if e.op == Op::Remove || e.withdrawn => {
                self.sorted.remove(&(e.indicator.kind, e.indicator.value.into_boxed_str()));
            }
            _ => {
                let i = e.indicator;
                let key = (i.kind, i.value.into_boxed_str());
                let sectors = match self.sector_pos.get(i.sources.sectors.as_slice()) {
                    Some(p) => *p,
                    None => {
                        let s: Arc<[String]> = i.sources.sectors.into();
                        let p = u32::try_from(self.sector_sets.len()).expect("fewer than 2^32 sector sets");
                        self.sector_sets.push(s.clone());
                        self.sector_pos.insert(s, p);
                        p
                    }
                };
                let live = Live {
                    withheld: withheld(allow, key.0, &key.1),
                    category: i.category,
                    tlp: i.tlp,
                    confidence: i.confidence,
                    first_seen: LocalSeconds::new(i.first_seen),
                    last_seen: i.last_seen.unix_timestamp(),
                    valid_until: i.valid_until.map_or(0, |t| t.unix_timestamp()),
                    valid_until_nanos: i.valid_until.map_or(NO_END, |t| t.nanosecond()),
                    sources: i.sources.count,
                    sectors,
                };
                self.sorted.insert(key, live);
            }
        }
    }
}

/// Catches `live` up with the log: pages read from the store, applied on a
/// blocking thread. `None` when applying panicked.
async fn catch_up(mut live: LiveSet, store: &dyn Store, allow: &Arc<AllowList>) -> Option<LiveSet> {
    loop {
        let page = match store.feed(live.cursor, 20_000).await {
            Ok(page) if !page.is_empty() => page,
            Ok(_) => return Some(live),
            Err(StoreError::Compacted { horizon, .. }) => {
                // Removals after the cursor were dropped: rebuild from 0
                // (a new generation, so the lists are built again).
                tracing::warn!(horizon, "blocklist builder below the feed's compaction horizon: rebuilding");
                live = LiveSet { generation: live.generation + 1, ..LiveSet::default() };
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "blocklist builder cannot read the log");
                return Some(live);
            }
        };
        let allow = allow.clone();
        live = tokio::task::spawn_blocking(move || {
            for e in page {
                live.apply(e, &allow);
            }
            live
        })
        .await
        .ok()?;
    }
}

/// What the builder reads and where it publishes: the parts of the shared
/// state it uses, so the feeds do not depend on the state's home.
pub struct BuilderInputs {
    /// The log it follows.
    pub store: Arc<dyn Store>,
    /// The registry in force: who has the blocklist role, in which audiences.
    pub registry: Arc<ArcSwap<Registry>>,
    /// The policies in force: the default policy's egress views.
    pub policies: Arc<ArcSwap<PolicySet>>,
    /// Egress allow-lists: values that are never listed.
    pub allow: Arc<AllowList>,
    /// Where the snapshots and statistics are published.
    pub blocklists: Arc<Blocklists>,
}

/// Catches up with the log and rebuilds the snapshots, then again after
/// every commit (debounced), until `shutdown` completes. A round in progress
/// finishes first, so nothing of the builder (and no store read) outlives
/// the task.
pub async fn run_builder(inputs: BuilderInputs, shutdown: impl std::future::Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    let state = Arc::new(inputs);
    let mut changes = state.store.changes();
    let mut live = LiveSet::default();
    let mut previous: HashMap<(String, &'static str), Arc<Snapshot>> = HashMap::new();
    let mut build_no = 0u64;
    let mut inputs: Option<(u64, String)> = None;
    loop {
        changes.borrow_and_update();
        let t0 = Instant::now();
        let Some(caught_up) = catch_up(live, state.store.as_ref(), &state.allow).await else {
            tracing::error!("blocklist catch-up panicked");
            return;
        };
        let round = {
            let state = state.clone();
            let prev = std::mem::take(&mut previous);
            let mut last_inputs = inputs.take();
            tokio::task::spawn_blocking(move || {
                let now = OffsetDateTime::now_utc();
                let next = build_all(&state, &caught_up, &prev, &mut last_inputs, build_no + 1, now);
                state.blocklists.stats.store(Arc::new(compute_stats(&caught_up)));
                (caught_up, next, last_inputs)
            })
            .await
        };
        let Ok((l, p, i)) = round else {
            tracing::error!("blocklist build panicked");
            return;
        };
        state.blocklists.build_ms.store(t0.elapsed().as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
        state.blocklists.built_head.store(l.cursor, std::sync::atomic::Ordering::Release);
        live = l;
        build_no += 1;
        inputs = i;
        publish(&state.blocklists, &p);
        previous = p;
        // Wait for a commit, then debounce, and never spend more than about
        // a third of a core on rebuilds under a stream of small commits.
        tokio::select! {
            () = &mut shutdown => return,
            r = changes.changed() => if r.is_err() { return },
        }
        let last = Duration::from_millis(state.blocklists.build_ms.load(std::sync::atomic::Ordering::Relaxed));
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(DEBOUNCE.max(last * 2)) => {}
        }
    }
}

/// Publishes a build, and makes the missing gzip encodings in the background.
fn publish(blocklists: &Blocklists, snapshots: &HashMap<(String, &'static str), Arc<Snapshot>>) {
    blocklists.current.store(Arc::new(snapshots.clone()));
    let pending: Vec<Arc<Snapshot>> = snapshots.values().filter(|s| !s.gzip_made()).cloned().collect();
    if !pending.is_empty() {
        tokio::task::spawn_blocking(move || {
            for s in pending {
                s.make_gzip();
            }
        });
    }
    blocklists.built_at_ms.store(
        (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64,
        std::sync::atomic::Ordering::Release,
    );
    blocklists.published.send_modify(|n| *n += 1);
}

/// Builds every list for every audience set of participants with the
/// blocklist role, reusing previous snapshots whose content did not change.
fn build_all(
    state: &BuilderInputs,
    live: &LiveSet,
    previous: &HashMap<(String, &'static str), Arc<Snapshot>>,
    last_inputs: &mut Option<(u64, String)>,
    build_no: u64,
    now: OffsetDateTime,
) -> HashMap<(String, &'static str), Arc<Snapshot>> {
    let policies = state.policies.load();
    let registry = state.registry.load();
    let mut sets: BTreeMap<String, Vec<EgressView>> = BTreeMap::new();
    for p in registry.all().filter(|p| p.has(Role::Blocklist) && !p.revoked) {
        sets.entry(audience_key(&p.audiences())).or_insert_with(|| super::egress::views_for(p, &policies));
    }
    // Nothing changed (an audit-only commit, a reload that changed no audience): keep everything.
    let inputs = (live.generation, format!("{sets:?}"));
    if last_inputs.as_ref() == Some(&inputs) && !previous.is_empty() {
        return previous.clone();
    }
    *last_inputs = Some(inputs);
    let mut serials = RpzSerials::new(state.blocklists.serial_file.get().cloned());
    let mut out = HashMap::new();
    for (key, views) in sets {
        let lists = Lists::collect(&views, live, now);
        if lists.refused_names > 0 {
            tracing::warn!(
                audience = %key,
                count = lists.refused_names,
                "domains left off the blocklists: not valid as DNS names (rpz-* label or unknown public suffix)"
            );
        }
        let with_hash = |v: Vec<(&'static str, Vec<u8>, usize, &'static str)>| {
            v.into_iter()
                .map(|(name, body, count, ct)| {
                    // What was withheld is part of what the ISP holds: a
                    // change of it is a new representation.
                    let mut h = Sha256::new();
                    h.update(&body);
                    h.update(lists.withheld_header(name).as_bytes());
                    let hash = h.finalize();
                    (name, body, count, ct, format!("\"{}\"", hex::encode(&hash[..12])))
                })
                .collect::<Vec<_>>()
        };
        let rendered = std::thread::scope(|sc| {
            let names = sc.spawn(|| with_hash(lists.render_names(&key)));
            let mut r = with_hash(lists.render_rest(&key));
            r.extend(names.join().expect("render thread"));
            r
        });
        for (name, body, count, content_type, etag) in rendered {
            let prev = previous.get(&(key.clone(), name));
            if let Some(p) = prev.filter(|p| p.etag == etag) {
                out.insert((key.clone(), name), p.clone());
                continue;
            }
            let modified = modified_at(prev.map(|p| p.modified), live.last_change, now);
            let (body, version) = if name == "domains.rpz" {
                let serial = serials.next(&key, prev.map(|p| p.version), &etag, modified);
                (rpz_with_soa(&body, serial), serial)
            } else {
                (body, build_no)
            };
            out.insert(
                (key.clone(), name),
                Arc::new(Snapshot::new(
                    body.into(),
                    state.blocklists.files.get().cloned(),
                    etag,
                    content_type,
                    count,
                    version,
                    modified,
                    lists.withheld_header(name),
                )),
            );
        }
    }
    serials.save();
    out
}

/// The RPZ serials of a build: each audience's serial rises with every
/// change of its zone, and a restart whose zone content (ETag) did not change
/// keeps the serial it had (from the serial file), so secondaries do not
/// transfer the same zone again; a changed content after a restart only ever
/// gets a larger serial.
struct RpzSerials {
    file: Option<std::path::PathBuf>,
    /// What the file holds, read on first need: audience → (serial, ETag).
    stored: Option<BTreeMap<String, (u64, String)>>,
    /// The serials given in this build.
    given: BTreeMap<String, (u64, String)>,
}

impl RpzSerials {
    fn new(file: Option<std::path::PathBuf>) -> RpzSerials {
        RpzSerials { file, stored: None, given: BTreeMap::new() }
    }

    fn stored(&mut self) -> &BTreeMap<String, (u64, String)> {
        let file = self.file.clone();
        self.stored.get_or_insert_with(|| {
            file.and_then(|f| std::fs::read(f).ok())
                .and_then(|b| serde_json::from_slice::<BTreeMap<String, (u64, String)>>(&b).ok())
                .unwrap_or_default()
        })
    }

    /// The serial of new content `etag` of `audience`'s zone.
    fn next(&mut self, audience: &str, previous: Option<u64>, etag: &str, modified: OffsetDateTime) -> u64 {
        let serial = match previous {
            Some(p) => rpz_serial(Some(p), modified),
            None => match self.stored().get(audience).cloned() {
                Some((s, tag)) if tag == etag => s,
                Some((s, _)) => rpz_serial(Some(s), modified),
                None => rpz_serial(None, modified),
            },
        };
        self.given.insert(audience.to_owned(), (serial, etag.to_owned()));
        serial
    }

    /// Writes the serials given (merged into the file's, so an audience
    /// that comes back later continues from its last serial).
    fn save(mut self) {
        let Some(file) = self.file.clone() else { return };
        if self.given.is_empty() {
            return;
        }
        let mut all = self.stored().clone();
        let before = all.clone();
        all.extend(std::mem::take(&mut self.given));
        if all == before {
            return;
        }
        let tmp = file.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&tmp, serde_json::to_vec_pretty(&all).map_err(std::io::Error::other)?)?;
            std::fs::rename(&tmp, &file)
        };
        if let Err(e) = write() {
            tracing::warn!(file = %file.display(), error = %e, "cannot keep the RPZ serials; a restart may change them");
        }
    }
}

/// The `Last-Modified` time of new content, in whole seconds: the commit
/// time of the newest change in the log (not the time of the build, so a
/// restart that rebuilds the same bytes keeps the time, and the RPZ serial
/// derived from it), and always later than the content it replaces (a
/// policy or registry change alters a list without a commit). An empty log
/// gives the Unix epoch: the lists of a new deployment are as old as can be,
/// and its first commit is newer without a bump of one second (which a
/// restart would not repeat).
fn modified_at(
    previous: Option<OffsetDateTime>,
    last_change: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let secs = |t: OffsetDateTime| t.replace_nanosecond(0).expect("0 is a valid nanosecond");
    let now = secs(now);
    let changed = last_change.map_or(OffsetDateTime::UNIX_EPOCH, |t| secs(t).min(now));
    match previous {
        Some(p) => changed.max(p + time::Duration::SECOND),
        None => changed,
    }
}

/// An RPZ serial that increases with every change (RFC 1982): the time the
/// content was built, or one more than the previous serial if that is not
/// larger.
fn rpz_serial(previous: Option<u64>, now: OffsetDateTime) -> u64 {
    let t = now.unix_timestamp().max(1) as u64 & 0xffff_ffff;
    match previous {
        Some(p) if p >= t => (p + 1) & 0xffff_ffff,
        _ => t,
    }
}

/// The entries one audience set receives, in (type, value) order.
struct Lists<'a> {
    domains: Vec<&'a str>,
    ips: Vec<&'a str>,
    urls: Vec<&'a str>,
    all: Vec<(IndicatorType, &'a str, &'a Live)>,
    /// Domains left off every list because they are not safe as DNS names
    /// (an `rpz-*` label, no known public suffix); counted, never logged.
    refused_names: usize,
    /// What the audience may receive but the allow-lists keep off, and why.
    withheld: Vec<(IndicatorType, &'a str, Withheld)>,
}

impl<'a> Lists<'a> {
    fn collect(views: &[EgressView], live: &'a LiveSet, now: OffsetDateTime) -> Lists<'a> {
        let mut l = Lists {
            domains: Vec::new(),
            ips: Vec::new(),
            urls: Vec::new(),
            all: Vec::new(),
            refused_names: 0,
            withheld: Vec::new(),
        };
        for ((kind, value), e) in &live.sorted {
            let value: &str = value;
            if e.withheld == Some(Withheld::NotBlockingType)
                || e.ended(now)
                || !views.iter().any(|v| v.admits(*kind, e.category, e.tlp, e.confidence))
            {
                continue;
            }
            if let Some(why) = e.withheld {
                l.withheld.push((*kind, value, why));
                continue;
            }
            match kind {
                // Defence in depth: ingest refuses such names, but a store
                // written by an older version may hold them. A name with an
                // `rpz-*` label would be read by resolvers as an RPZ trigger.
                IndicatorType::Domain if crate::model::check_listable_name(value).is_err() => {
                    l.refused_names += 1;
                    l.withheld.push((*kind, value, Withheld::NotADnsName));
                    continue;
                }
                IndicatorType::Domain => l.domains.push(value),
                IndicatorType::Url => l.urls.push(value),
                IndicatorType::Ipv4 | IndicatorType::Ipv6 | IndicatorType::Cidr => l.ips.push(value),
                _ => {}
            }
            l.all.push((*kind, value, e));
        }
        l
    }

    /// The `X-Tamis-Withheld` value of list `name`: every reported reason
    /// with its count of entries of the kinds the list carries.
    fn withheld_header(&self, name: &str) -> String {
        let kinds = reported_kinds(name);
        let mut counts = [0usize; Withheld::REPORTED.len()];
        for (kind, _, why) in &self.withheld {
            if kinds.contains(kind)
                && let Some(i) = Withheld::REPORTED.iter().position(|r| r == why)
            {
                counts[i] += 1;
            }
        }
        let parts: Vec<String> =
            Withheld::REPORTED.iter().zip(counts).map(|(r, n)| format!("{}={n}", r.as_str())).collect();
        parts.join(", ")
    }

    fn header(&self, audience: &str, name: &str, n: usize) -> String {
        format!(
            "# tamis {name} for audience {audience}: {n} entries.\n# Sanitised, allow-list filtered indicators; do not redistribute beyond their TLP.\n"
        )
    }

    /// Domain-name formats: `(name, body, entries, content type)`; RPZ without its SOA.
    fn render_names(&self, audience: &str) -> Vec<(&'static str, Vec<u8>, usize, &'static str)> {
        let mut domains = self.header(audience, "domains.txt", self.domains.len()).into_bytes();
        let mut hosts = self.header(audience, "hosts.txt", self.domains.len()).into_bytes();
        let mut rpz = Vec::with_capacity(self.domains.len() * 48);
        domains.reserve(self.domains.len() * 24);
        hosts.reserve(self.domains.len() * 56);
        for d in &self.domains {
            let d = d.as_bytes();
            domains.extend_from_slice(d);
            domains.push(b'\n');
            hosts.extend_from_slice(b"0.0.0.0 ");
            hosts.extend_from_slice(d);
            hosts.extend_from_slice(b"\n:: ");
            hosts.extend_from_slice(d);
            hosts.push(b'\n');
            rpz.extend_from_slice(d);
            rpz.extend_from_slice(b" CNAME .\n*.");
            rpz.extend_from_slice(d);
            rpz.extend_from_slice(b" CNAME .\n");
        }
        let mut rpz_ips = 0;
        for ip in &self.ips {
            if let Some(owner) = rpz_ip_owner(ip) {
                rpz.extend_from_slice(owner.as_bytes());
                rpz.extend_from_slice(b" CNAME .\n");
                rpz_ips += 1;
            }
        }
        let rpz_count = self.domains.len() * 2 + rpz_ips;
        vec![
            ("domains.txt", domains, self.domains.len(), "text/plain; charset=utf-8"),
            ("hosts.txt", hosts, self.domains.len(), "text/plain; charset=utf-8"),
            ("domains.rpz", rpz, rpz_count, "text/dns"),
        ]
    }

    /// Address, URL and CSV formats.
    fn render_rest(&self, audience: &str) -> Vec<(&'static str, Vec<u8>, usize, &'static str)> {
        let mut ips = self.header(audience, "ips.txt", self.ips.len());
        for ip in &self.ips {
            ips.push_str(ip);
            ips.push('\n');
        }
        let mut urls = self.header(audience, "urls.txt", self.urls.len());
        for u in &self.urls {
            urls.push_str(u);
            urls.push('\n');
        }
        let mut csv = String::with_capacity(64 + self.all.len() * 120);
        csv.push_str("type,value,category,confidence,tlp,first_seen,last_seen,valid_until,sources\n");
        for (kind, value, e) in &self.all {
            csv.push_str(kind.as_str());
            csv.push(',');
            csv.push_str(&csv_field(value));
            csv.push(',');
            csv.push_str(e.category.as_str());
            csv.push(',');
            let _ = write!(csv, "{}", e.confidence);
            csv.push(',');
            csv.push_str(e.tlp.as_str());
            csv.push(',');
            push_time(&mut csv, e.first_seen.seconds());
            csv.push(',');
            push_time(&mut csv, e.last_seen);
            csv.push(',');
            if e.valid_until_nanos != NO_END {
                push_time(&mut csv, e.valid_until);
            }
            let _ = writeln!(csv, ",{}", e.sources);
        }
        let mut withheld = String::with_capacity(32 + self.withheld.len() * 40);
        withheld.push_str("type,value,reason\n");
        for (kind, value, why) in &self.withheld {
            let _ = writeln!(withheld, "{},{},{}", kind.as_str(), csv_field(value), why.as_str());
        }
        vec![
            ("ips.txt", ips.into_bytes(), self.ips.len(), "text/plain; charset=utf-8"),
            ("urls.txt", urls.into_bytes(), self.urls.len(), "text/plain; charset=utf-8"),
            ("indicators.csv", csv.into_bytes(), self.all.len(), "text/csv; charset=utf-8"),
            ("withheld.csv", withheld.into_bytes(), self.withheld.len(), "text/csv; charset=utf-8"),
        ]
    }
}

/// Appends Unix seconds `secs` as `YYYY-MM-DDTHH:MM:SSZ` (UTC, RFC 3339),
/// without the general formatter.
fn push_time(out: &mut String, secs: i64) {
    let t = OffsetDateTime::from_unix_timestamp(secs).expect("a time of the log");
    let y = t.year().clamp(0, 9999) as u32;
    let two = |n: u8| [b'0' + n / 10, b'0' + n % 10];
    let mut b = [0u8; 20];
    b[0] = b'0' + (y / 1000) as u8;
    b[1] = b'0' + (y / 100 % 10) as u8;
    b[2] = b'0' + (y / 10 % 10) as u8;
    b[3] = b'0' + (y % 10) as u8;
    b[4] = b'-';
    b[5..7].copy_from_slice(&two(t.month() as u8));
    b[7] = b'-';
    b[8..10].copy_from_slice(&two(t.day()));
    b[10] = b'T';
    b[11..13].copy_from_slice(&two(t.hour()));
    b[13] = b':';
    b[14..16].copy_from_slice(&two(t.minute()));
    b[16] = b':';
    b[17..19].copy_from_slice(&two(t.second()));
    b[19] = b'Z';
    out.push_str(std::str::from_utf8(&b).expect("ASCII"));
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The RPZ owner name of an IP or CIDR trigger (`32.4.101.220.185.rpz-ip`).
pub fn rpz_ip_owner(s: &str) -> Option<String> {
    let net: ipnet::IpNet = s.parse().or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from)).ok()?;
    match net {
        ipnet::IpNet::V4(n) => {
            let o = n.network().octets();
            Some(format!("{}.{}.{}.{}.{}.rpz-ip", n.prefix_len(), o[3], o[2], o[1], o[0]))
        }
        ipnet::IpNet::V6(n) => {
            let seg = n.network().segments();
            // Replace the longest run (>= 2) of zero groups with `zz`.
            let (mut best, mut best_len, mut i) = (0usize, 0usize, 0usize);
            while i < 8 {
                if seg[i] == 0 {
                    let start = i;
                    while i < 8 && seg[i] == 0 {
                        i += 1;
                    }
                    if i - start > best_len {
                        best = start;
                        best_len = i - start;
                    }
                } else {
                    i += 1;
                }
            }
            let mut labels: Vec<String> = Vec::new();
            let mut j = 0;
            while j < 8 {
                if best_len >= 2 && j == best {
                    labels.push("zz".into());
                    j += best_len;
                } else {
                    labels.push(format!("{:x}", seg[j]));
                    j += 1;
                }
            }
            labels.reverse();
            Some(format!("{}.{}.rpz-ip", n.prefix_len(), labels.join(".")))
        }
    }
}

/// Prepends the zone's TTL, SOA and NS records.
fn rpz_with_soa(records: &[u8], serial: u64) -> Vec<u8> {
    let mut out = format!(
        "; tamis response policy zone (draft-vixie-dnsop-dns-rpz): NXDOMAIN for listed names and addresses.\n\
         $TTL 300\n\
         @ IN SOA localhost. hostmaster.localhost. {serial} 3600 600 604800 300\n\
         @ IN NS localhost.\n"
    )
    .into_bytes();
    out.extend_from_slice(records);
    out
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    e.write_all(body).expect("in-memory write");
    e.finish().expect("in-memory write")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpz_ip_triggers() {
        assert_eq!(rpz_ip_owner("198.51.100.7").unwrap(), "32.7.100.51.198.rpz-ip");
        assert_eq!(rpz_ip_owner("203.0.113.0/24").unwrap(), "24.0.113.0.203.rpz-ip");
        assert_eq!(rpz_ip_owner("2001:db8::1").unwrap(), "128.1.zz.db8.2001.rpz-ip");
    }

    fn snapshot(text: &str, files: Option<Arc<SnapshotFiles>>) -> Snapshot {
        let t = OffsetDateTime::UNIX_EPOCH;
        Snapshot::new(Bytes::from(text.to_owned()), files, "\"abc\"".into(), "text/plain", 3, 1, t, String::new())
    }

    fn files_in(dir: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_snapshot_in_a_file_serves_the_same_bytes_and_leaves_with_the_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("blocklists");
        let files = Arc::new(SnapshotFiles::open(&dir).unwrap());
        let text: String = (0..20_000).map(|i| format!("evil-{i}.example\n")).collect();
        let in_memory = snapshot(&text, None);
        let on_disk = snapshot(&text, Some(files.clone()));
        // until the gzip encoding is made, the text is kept and nothing is written
        assert_eq!(on_disk.plain().unwrap(), text.as_bytes());
        assert!(files_in(&dir).is_empty());
        on_disk.make_gzip();
        in_memory.make_gzip();
        assert!(on_disk.plain().is_none() && in_memory.plain().is_none(), "the text is dropped");
        assert!(on_disk.gzip_ready().is_none(), "the gzip encoding is not held in memory");
        assert!(in_memory.gzip_ready().is_some());
        // one whole file, no temporary left, the indicators not in clear
        let names = files_in(&dir);
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].ends_with(".gz.sealed"));
        let raw = std::fs::read(dir.join(&names[0])).unwrap();
        assert!(!raw.windows(12).any(|w| w == b"evil-1.examp"));
        // the same bytes as the snapshot kept in memory, read again and again
        let g = in_memory.gzip_bytes().unwrap();
        assert_eq!(on_disk.gzip_bytes().unwrap(), g);
        assert_eq!(on_disk.gzip_bytes().unwrap(), g);
        assert_eq!(on_disk.body().unwrap(), text.as_bytes());
        assert_eq!(in_memory.body().unwrap(), text.as_bytes());
        // a second snapshot gets a file of its own; each file leaves with its snapshot
        let next = snapshot("other.example\n", Some(files.clone()));
        assert_eq!(next.gzip_bytes().unwrap(), gzip(b"other.example\n")[..]);
        assert_eq!(files_in(&dir).len(), 2);
        drop(on_disk);
        assert_eq!(files_in(&dir).len(), 1);
        assert_eq!(next.body().unwrap(), &b"other.example\n"[..]);
        drop(next);
        assert!(files_in(&dir).is_empty());
    }

    #[test]
    fn snapshot_files_are_emptied_at_start_and_never_serve_a_torn_or_foreign_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("blocklists");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("00000001.gz.sealed"), b"left by an earlier process").unwrap();
        std::fs::write(dir.join("00000002.gz.sealed.tmp"), b"half written").unwrap();
        let files = Arc::new(SnapshotFiles::open(&dir).unwrap());
        assert!(files_in(&dir).is_empty(), "stale files removed at start");
        let text: String = (0..5_000).map(|i| format!("bad-{i}.example\n")).collect();
        let a = snapshot(&text, Some(files.clone()));
        let b = snapshot(&text, Some(files.clone()));
        a.make_gzip();
        b.make_gzip();
        let names = files_in(&dir);
        assert_eq!(names.len(), 2);
        // a torn file is refused, not served
        let path_a = dir.join(&names[0]);
        let whole = std::fs::read(&path_a).unwrap();
        std::fs::write(&path_a, &whole[..whole.len() / 2]).unwrap();
        assert!(a.gzip_bytes().is_err() && a.body().is_err());
        // so is another snapshot's file under this one's name
        std::fs::copy(dir.join(&names[1]), &path_a).unwrap();
        assert!(a.gzip_bytes().is_err());
        std::fs::write(&path_a, &whole).unwrap();
        assert_eq!(a.body().unwrap(), text.as_bytes());
        // and a file of an earlier process (another key) does not open
        let again = SnapshotFiles::open(&tmp.path().join("other")).unwrap();
        std::fs::copy(&path_a, again.dir().join(&names[0])).unwrap();
        assert!(files.read(&names[0], &a.etag).is_ok());
        assert!(again.read(&names[0], &a.etag).is_err());
        std::fs::remove_file(&path_a).unwrap();
        assert!(a.gzip_bytes().is_err(), "a missing file is an error");
        drop(a);
        drop(b);
        assert!(files_in(&dir).is_empty());
    }

    fn live(now: OffsetDateTime) -> Live {
        Live {
            withheld: None,
            category: Category::Phishing,
            tlp: Tlp::Green,
            confidence: 90,
            first_seen: LocalSeconds::new(now),
            last_seen: now.unix_timestamp(),
            valid_until: 0,
            valid_until_nanos: NO_END,
            sources: 1,
            sectors: 0,
        }
    }

    /// Unix seconds and an offset give what the `OffsetDateTime`s gave: the
    /// printed times, the week of first sighting in its own offset, and
    /// `valid_until <= now` to the nanosecond, around midnight, before 1970
    /// and with offsets of either sign.
    #[test]
    fn live_times_in_seconds_print_and_compare_as_the_date_times() {
        use time::{Duration, UtcOffset};
        let base = [-86_400 * 400 - 1, -1, 0, 1_700_000_000, 1_767_225_599, 1_767_225_600, 4_102_444_800];
        let offsets = [0, 1, -1, 3600, -3600, 14 * 3600, -12 * 3600 - 1800, 5 * 3600 + 45 * 60, 93_599, -93_599];
        let nanos = [0, 1, 499_999_999, 999_999_999];
        let old_push = |out: &mut String, t: OffsetDateTime| {
            let u = t.to_offset(UtcOffset::UTC);
            out.push_str(&format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                u.year(),
                u.month() as u8,
                u.day(),
                u.hour(),
                u.minute(),
                u.second()
            ));
        };
        for b in base {
            for off in offsets {
                for n in nanos {
                    let t = OffsetDateTime::from_unix_timestamp(b).unwrap() + Duration::nanoseconds(n);
                    let t = t.to_offset(UtcOffset::from_whole_seconds(off).unwrap());
                    let l = Live {
                        first_seen: LocalSeconds::new(t),
                        last_seen: t.unix_timestamp(),
                        valid_until: t.unix_timestamp(),
                        valid_until_nanos: t.nanosecond(),
                        ..live(t)
                    };
                    assert_eq!(l.first_seen_week(), crate::store::iso_week(t), "{t}");
                    let (mut new, mut old) = (String::new(), String::new());
                    assert_eq!((l.first_seen.seconds(), l.first_seen.offset()), (t.unix_timestamp(), off), "{t}");
                    push_time(&mut new, l.first_seen.seconds());
                    old_push(&mut old, t);
                    assert_eq!(new, old, "{t}");
                    for d in [-1_000_000_000, -1, 0, 1, 999_999_999, 1_000_000_000] {
                        let now = (t + Duration::nanoseconds(d)).to_offset(UtcOffset::UTC);
                        assert_eq!(l.ended(now), t <= now, "{t} against {now}");
                    }
                }
            }
        }
        assert!(!live(OffsetDateTime::UNIX_EPOCH).ended(OffsetDateTime::now_utc()), "no valid_until: never ended");
        // The ends of `time`'s range, with the widest offsets.
        for (t, off) in [
            (time::Date::MIN.midnight(), -93_599),
            (time::Date::MIN.midnight(), 93_599),
            (time::Date::MAX.with_hms(23, 59, 59).unwrap(), 93_599),
            (time::Date::MAX.with_hms(23, 59, 59).unwrap(), -93_599),
        ] {
            let Ok(t) = std::panic::catch_unwind(|| t.assume_offset(UtcOffset::from_whole_seconds(off).unwrap()))
            else {
                continue; // not representable in UTC
            };
            let l = LocalSeconds::new(t);
            assert_eq!((l.seconds(), l.offset()), (t.unix_timestamp(), off), "{t}");
        }
    }

    #[test]
    fn a_live_entry_is_small_and_shares_its_sectors() {
        // Times as Unix seconds, no `Arc` (docs/performance.md, sessions 9 and 14)
        assert!(std::mem::size_of::<Live>() <= 40, "{} bytes", std::mem::size_of::<Live>());
        let allow = AllowList::default();
        let mut set = LiveSet::default();
        let now = OffsetDateTime::now_utc();
        for (k, sectors) in [vec!["finance"], vec!["energy", "finance"], vec!["finance"]].into_iter().enumerate() {
            let indicator = crate::model::Indicator {
                id: format!("id-{k}"),
                kind: IndicatorType::Domain,
                value: format!("shared-{k}.top"),
                value_form: None,
                category: Category::Phishing,
                confidence: 80,
                tlp: Tlp::Green,
                first_seen: now,
                last_seen: now,
                valid_until: None,
                description: None,
                attributes: Default::default(),
                tags: vec![],
                sources: crate::model::Sources {
                    sectors: sectors.into_iter().map(str::to_owned).collect(),
                    ..Default::default()
                },
                policy: "default@00".into(),
            };
            let e = FeedEntry { seq: k as u64 + 1, op: Op::Add, at: now, reason: None, indicator, withdrawn: false };
            set.apply(e, &allow);
        }
        assert_eq!(set.sector_sets.len(), 2);
        let stats = compute_stats(&set);
        assert_eq!(stats.by_sector.get("finance"), Some(&3));
        assert_eq!(stats.by_sector.get("energy"), Some(&1));
    }

    #[test]
    fn renderer_refuses_rpz_trigger_owner_names() {
        // As a store written before ingest refused them could hold them.
        let now = OffsetDateTime::now_utc();
        let mut set = LiveSet::default();
        assert_eq!(size_of::<Option<((IndicatorType, Box<str>), Option<Live>)>>(), 64, "a live set entry");
        for v in [
            "1.0.0.0.0.rpz-client-ip",
            "32.8.8.8.8.rpz-ip",
            "a.gtld-servers.net.rpz-nsdname",
            "x.Rpz-Drop.com",
            "made-up.notatld",
            "listed-phish.top",
        ] {
            set.sorted.insert((IndicatorType::Domain, v.into()), live(now));
        }
        let view = EgressView {
            audience: "isps".into(),
            types: vec![],
            categories: vec![],
            max_tlp: Tlp::Amber,
            min_confidence: 0,
            fields: vec![],
        };
        let lists = Lists::collect(std::slice::from_ref(&view), &set, now);
        assert_eq!(lists.refused_names, 5);
        assert_eq!(lists.domains, vec!["listed-phish.top"]);
        for (name, body, _, _) in lists.render_names("isps") {
            let text = String::from_utf8(body).unwrap();
            assert!(!text.contains("rpz-") && !text.contains("notatld"), "{name}: {text}");
            assert!(text.contains("listed-phish.top"), "{name}");
        }
    }

    #[test]
    fn last_modified_is_the_newest_change_and_always_moves_forward() {
        let t = |s: i64| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let now = t(2_000) + time::Duration::milliseconds(700);
        let change = t(1_500) + time::Duration::milliseconds(300);
        assert_eq!(modified_at(None, Some(change), now), t(1_500), "a restart keeps the time of the newest commit");
        assert_eq!(modified_at(None, None, now), t(0), "an empty log: the epoch");
        assert_eq!(modified_at(Some(t(1_000)), Some(change), now), t(1_500));
        assert_eq!(modified_at(Some(t(1_500)), Some(change), now), t(1_501), "new content is always newer");
        assert_eq!(modified_at(None, Some(t(9_000)), now), t(2_000), "never in the future");
    }

    #[test]
    fn rpz_serials_survive_a_restart_and_only_rise() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data/rpz-serials.json");
        let t = |s: i64| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let mut first = RpzSerials::new(Some(file.clone()));
        assert_eq!(first.next("isps", None, "\"a\"", t(1_000)), 1_000);
        first.save();
        // A restart with the same content keeps the serial whatever the time.
        let mut same = RpzSerials::new(Some(file.clone()));
        assert_eq!(same.next("isps", None, "\"a\"", t(900)), 1_000);
        // Changed content after a restart: larger, even with an older commit time.
        let mut changed = RpzSerials::new(Some(file.clone()));
        assert_eq!(changed.next("isps", None, "\"b\"", t(900)), 1_001);
        assert_eq!(changed.next("isps+other", None, "\"c\"", t(2_000)), 2_000);
        changed.save();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("1001") && text.contains("isps+other"), "{text}");
        // Without a file: the commit time only.
        assert_eq!(RpzSerials::new(None).next("isps", None, "\"b\"", t(900)), 900);
    }

    #[test]
    fn serial_always_increases() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(rpz_serial(None, now), 1_800_000_000);
        assert_eq!(rpz_serial(Some(1_800_000_000), now), 1_800_000_001);
        assert_eq!(rpz_serial(Some(5), now), 1_800_000_000);
    }
}
