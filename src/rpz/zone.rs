//! The RPZ zone of each audience set as DNS data: the owner names of the
//! published `domains.rpz` snapshot (every record is `CNAME .`), its SOA
//! serial, and a bounded history of the differences between successive
//! versions, from which IXFR answers are made (RFC 1995).
//!
//! Pure data: no I/O, so the planning of a transfer is tested directly.

use std::collections::VecDeque;
use std::sync::Arc;

/// TTL of every record of the zone (as in the `$TTL` of `domains.rpz`).
pub const TTL: u32 = 300;
/// SOA timers (as in `domains.rpz`): refresh, retry, expire, minimum.
pub const SOA_TIMERS: [u32; 4] = [3600, 600, 604_800, 300];

/// An owner name in wire form (absolute, below the apex).
pub type WireName = Box<[u8]>;

/// One version of a zone: its serial and its owner names, each an absolute
/// name in wire format (below the apex), sorted and without duplicates.
#[derive(Debug)]
pub struct ZoneVersion {
    pub serial: u32,
    pub names: Vec<WireName>,
}

/// What changed from serial `from` to serial `to`.
#[derive(Debug)]
pub struct Diff {
    pub from: u32,
    pub to: u32,
    pub removed: Vec<WireName>,
    pub added: Vec<WireName>,
}

impl Diff {
    fn records(&self) -> usize {
        self.removed.len() + self.added.len()
    }
}

/// A zone as served: the current version and the differences that lead to
/// it from earlier serials, oldest first.
#[derive(Debug, Clone)]
pub struct Zone {
    pub current: Arc<ZoneVersion>,
    pub history: VecDeque<Arc<Diff>>,
}

/// How to answer an IXFR from a client at some serial.
#[derive(Debug)]
pub enum Plan {
    /// The client is current (or ahead): the single SOA record.
    UpToDate,
    /// The differences from the client's serial to the current one.
    Incremental(Vec<Arc<Diff>>),
    /// The whole zone, AXFR-style (RFC 1995 §4: the client's serial is not
    /// in the history, or the differences are larger than the zone).
    Full,
}

/// `a` is at least `b` in serial number arithmetic (RFC 1982).
pub fn serial_at_least(a: u32, b: u32) -> bool {
    a == b || (a.wrapping_sub(b) as i32) > 0
}

impl Zone {
    pub fn new(first: ZoneVersion) -> Zone {
        Zone { current: Arc::new(first), history: VecDeque::new() }
    }

    /// The zone with `next` as its current version: the difference to it is
    /// kept, and the oldest differences are dropped beyond `max_versions`
    /// or `max_records` records in total (a rebuild after a policy change
    /// can replace the whole zone; keeping many of those is pointless).
    pub fn advance(&self, next: ZoneVersion, max_versions: usize, max_records: usize) -> Zone {
        let (removed, added) = difference(&self.current.names, &next.names);
        let diff = Diff { from: self.current.serial, to: next.serial, removed, added };
        let mut history = self.history.clone();
        history.push_back(Arc::new(diff));
        let mut total: usize = history.iter().map(|d| d.records()).sum();
        while history.len() > max_versions || (total > max_records && !history.is_empty()) {
            let dropped = history.pop_front().expect("not empty");
            total -= dropped.records();
        }
        Zone { current: Arc::new(next), history }
    }

    /// How to answer an IXFR from a client holding `client` serial.
    pub fn plan(&self, client: u32) -> Plan {
        if serial_at_least(client, self.current.serial) {
            return Plan::UpToDate;
        }
        let Some(start) = self.history.iter().position(|d| d.from == client) else {
            return Plan::Full;
        };
        let chain: Vec<Arc<Diff>> = self.history.iter().skip(start).cloned().collect();
        // The chain must be contiguous and end at the current serial.
        let contiguous = chain.windows(2).all(|w| w[0].to == w[1].from);
        if !contiguous || chain.last().map(|d| d.to) != Some(self.current.serial) {
            return Plan::Full;
        }
        let records: usize = chain.iter().map(|d| d.records() + 2).sum();
        if records > self.current.names.len() + 2 {
            return Plan::Full;
        }
        Plan::Incremental(chain)
    }
}

/// Names in `old` but not in `new`, and names in `new` but not in `old`
/// (both sorted, without duplicates).
fn difference(old: &[WireName], new: &[WireName]) -> (Vec<WireName>, Vec<WireName>) {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                removed.push(a.clone());
                i += 1;
            }
            (Some(_), Some(b)) => {
                added.push(b.clone());
                j += 1;
            }
            (Some(a), None) => {
                removed.push(a.clone());
                i += 1;
            }
            (None, Some(b)) => {
                added.push(b.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    (removed, added)
}

/// The wire form of a zone name given as text (`rpz.tamis` or
/// `rpz.tamis.`), lower-cased; `None` when it is not a valid host name.
pub fn apex_wire(name: &str) -> Option<Vec<u8>> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return None;
        }
        out.push(label.len() as u8);
        out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    out.push(0);
    (out.len() <= 255).then_some(out)
}

/// The owner name `relative` (as written in `domains.rpz`, relative to the
/// zone) below the apex `apex` (wire form), or `None` when it is not
/// usable (an empty label, a label over 63 octets, over 255 in total).
fn owner_wire(relative: &str, apex: &[u8]) -> Option<Box<[u8]>> {
    let mut out = Vec::with_capacity(relative.len() + 1 + apex.len());
    for label in relative.split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.extend_from_slice(apex);
    (out.len() <= 255).then(|| out.into_boxed_slice())
}

/// The owner names of a `domains.rpz` snapshot below `apex`: every record
/// line `OWNER CNAME .` (comments, `$TTL`, and the apex's SOA and NS lines
/// are left out), sorted. Returns the names and how many lines could not be
/// used as DNS names (counted, never logged: they are indicator values).
pub fn owners_of(body: &[u8], apex: &[u8]) -> (Vec<Box<[u8]>>, usize) {
    let text = String::from_utf8_lossy(body);
    let mut names = Vec::new();
    let mut unusable = 0;
    for line in text.lines() {
        if line.is_empty() || line.starts_with([';', '$', '@']) {
            continue;
        }
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(owner), Some("CNAME"), Some("."), None) => match owner_wire(owner, apex) {
                Some(n) => names.push(n),
                None => unusable += 1,
            },
            _ => unusable += 1,
        }
    }
    names.sort_unstable();
    names.dedup();
    (names, unusable)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version with `names` and twenty names that never change (a zone
    /// much larger than its differences, as real ones are).
    fn version(serial: u32, names: &[&str]) -> ZoneVersion {
        let apex = apex_wire("rpz.tamis").unwrap();
        let fixed: Vec<String> = (0..20).map(|i| format!("stable-{i}.top")).collect();
        let all = names.iter().copied().chain(fixed.iter().map(|s| s.as_str()));
        let mut names: Vec<Box<[u8]>> = all.map(|n| owner_wire(n, &apex).unwrap()).collect();
        names.sort();
        ZoneVersion { serial, names }
    }

    #[test]
    fn names_are_parsed_below_the_apex() {
        let apex = apex_wire("RPZ.tamis.").unwrap();
        assert_eq!(apex, b"\x03rpz\x05tamis\x00");
        let body = b"; comment\n$TTL 300\n@ IN SOA localhost. hostmaster.localhost. 7 3600 600 604800 300\n\
            @ IN NS localhost.\nevil.top CNAME .\n*.evil.top CNAME .\n32.4.101.220.185.rpz-ip CNAME .\n\
            bad..name CNAME .\ngarbage line\n";
        let (names, unusable) = owners_of(body, &apex);
        assert_eq!(unusable, 2);
        assert_eq!(names.len(), 3);
        assert!(names.contains(&b"\x01*\x04evil\x03top\x03rpz\x05tamis\x00".to_vec().into_boxed_slice()));
        assert!(apex_wire("a..b").is_none() && apex_wire("").is_none() && apex_wire("a b").is_none());
        let long = format!("{}.top", "a".repeat(63));
        let too_long = [long.as_str(); 5].join(".");
        assert!(owner_wire(&too_long, &apex).is_none(), "over 255 octets with the apex");
    }

    #[test]
    fn ixfr_plans_follow_the_history() {
        let z = Zone::new(version(10, &["a.top", "b.top"]));
        let z = z.advance(version(11, &["a.top", "b.top", "c.top"]), 8, 1000);
        let z = z.advance(version(12, &["b.top", "c.top", "d.top"]), 8, 1000);
        assert!(matches!(z.plan(12), Plan::UpToDate));
        assert!(matches!(z.plan(13), Plan::UpToDate), "a client ahead gets the SOA only");
        let Plan::Incremental(chain) = z.plan(10) else { panic!("incremental from 10") };
        assert_eq!(chain.iter().map(|d| (d.from, d.to)).collect::<Vec<_>>(), vec![(10, 11), (11, 12)]);
        assert_eq!((chain[0].removed.len(), chain[0].added.len()), (0, 1));
        assert_eq!((chain[1].removed.len(), chain[1].added.len()), (1, 1));
        assert!(matches!(z.plan(11), Plan::Incremental(ref c) if c.len() == 1));
        assert!(matches!(z.plan(9), Plan::Full), "an unknown serial gets the whole zone");
        // Bounded history: only the newest difference is kept.
        let z = z.advance(version(13, &["b.top", "c.top", "d.top", "e.top"]), 1, 1000);
        assert!(matches!(z.plan(11), Plan::Full));
        assert!(matches!(z.plan(12), Plan::Incremental(_)));
        // A difference larger than the zone is sent as the whole zone.
        let apex = apex_wire("rpz.tamis").unwrap();
        let small = ZoneVersion { serial: 14, names: vec![owner_wire("x.top", &apex).unwrap()] };
        let z = z.advance(small, 8, 1000);
        assert!(matches!(z.plan(13), Plan::Full));
        assert!(matches!(z.advance(version(15, &["x.top"]), 8, 10).plan(14), Plan::Full), "over max_records");
        assert!(serial_at_least(1, u32::MAX), "serials wrap (RFC 1982)");
    }
}
