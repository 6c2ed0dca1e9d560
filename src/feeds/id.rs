//! Compact indicator ids for the in-memory indexes of the feeds (blocklist
//! live set, TAXII index, MISP index): a canonical UUID (lowercase,
//! hyphenated, as the store makes them) is kept as its 16 bytes instead of a
//! 36-byte `String` on the heap; any other id (tests, an older store) is kept
//! as text. Ordered as the text is, so whatever a feed lists in id order
//! comes out in the same order as before.

use std::cmp::Ordering;
use std::fmt;

/// An indicator id, 24 bytes and no allocation when it is a canonical UUID.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Uuid([u8; 16]),
    Other(Box<str>),
}

impl Id {
    pub fn new(id: &str) -> Id {
        parse_uuid(id).map_or_else(|| Id::Other(id.into()), Id::Uuid)
    }
}

/// The 16 bytes of a canonical UUID (`8-4-4-4-12` lowercase hex digits).
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 16];
    let mut digits = b.iter().copied().filter(|&c| c != b'-');
    for o in &mut out {
        *o = nibble(digits.next()?)? << 4 | nibble(digits.next()?)?;
    }
    Some(out)
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Other(s) => f.write_str(s),
            Id::Uuid(b) => {
                let h = hex::encode(b);
                write!(f, "{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
            }
        }
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Ord for Id {
    /// The order of the ids as text (two UUIDs: their bytes, the same order).
    fn cmp(&self, other: &Id) -> Ordering {
        match (self, other) {
            (Id::Uuid(a), Id::Uuid(b)) => a.cmp(b),
            (Id::Other(a), Id::Other(b)) => a.cmp(b),
            _ => self.to_string().cmp(&other.to_string()),
        }
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Ids by number (a number is a position), 16 bytes each: a canonical
/// UUID as its bytes, the few other ids (the fixed objects', an id that is
/// not a canonical UUID) aside by number. A `Vec<Id>` took 24 bytes an id.
#[derive(Default)]
pub struct IdTable {
    /// Each id's UUID bytes (zeros for the others).
    uuids: Vec<[u8; 16]>,
    /// The ids that are not canonical UUIDs, by number.
    others: std::collections::HashMap<u32, Box<str>>,
}

impl IdTable {
    pub fn len(&self) -> usize {
        self.uuids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uuids.is_empty()
    }

    /// Adds `id` as number [`IdTable::len`].
    pub fn push(&mut self, id: Id) {
        let n = u32::try_from(self.uuids.len()).expect("fewer than 2^32 ids");
        match id {
            Id::Uuid(b) => self.uuids.push(b),
            Id::Other(s) => {
                self.uuids.push([0; 16]);
                self.others.insert(n, s);
            }
        }
    }

    /// The id of number `n`.
    pub fn get(&self, n: u32) -> Option<Id> {
        let b = self.uuids.get(n as usize)?;
        Some(match self.others.get(&n) {
            Some(s) => Id::Other(s.clone()),
            None => Id::Uuid(*b),
        })
    }

    /// Whether number `n` is `id` (no allocation).
    pub fn is(&self, n: u32, id: &Id) -> bool {
        match (self.uuids.get(n as usize), id) {
            (None, _) => false,
            (Some(b), Id::Uuid(u)) => b == u && !self.others.contains_key(&n),
            (Some(_), Id::Other(o)) => self.others.get(&n) == Some(o),
        }
    }

    pub fn reserve(&mut self, more: usize) {
        self.uuids.reserve(more);
    }
}

/// The numbers of the ids in an [`IdTable`], found by id: what a `HashMap<Id, u32>` does, in 4 bytes a
/// slot instead of 32 (the id is not copied: a slot holds its number and
/// the table is asked for the id). Insert-only (numbers are never reused).
/// Open addressing with linear probing, at most 7/8 full, so 4.6–9.1 bytes
/// a number; at 2M numbers 16 MiB where the map took 132 MiB (4M buckets
/// of 33 bytes: hashbrown's tables are half empty right after doubling).
#[derive(Default)]
pub struct IdIndex {
    /// A power of two of slots (or none), each a number or [`IdIndex::FREE`].
    slots: Vec<u32>,
    len: usize,
    hasher: std::hash::RandomState,
}

impl IdIndex {
    const FREE: u32 = u32::MAX;

    /// The number of `id`, if it was inserted; `ids` is the table.
    pub fn get(&self, ids: &IdTable, id: &Id) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.hash(id) & mask;
        loop {
            match self.slots[i] {
                IdIndex::FREE => return None,
                n if ids.is(n, id) => return Some(n),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Adds number `n` (`ids[n]`, not inserted yet; below `u32::MAX`).
    pub fn insert(&mut self, ids: &IdTable, n: u32) {
        assert!(n != IdIndex::FREE, "fewer than 2^32 - 1 ids");
        self.reserve(ids, 1);
        self.place(&ids.get(n).expect("an id of the table"), n);
        self.len += 1;
    }

    /// Room for `more` numbers without growing again.
    pub fn reserve(&mut self, ids: &IdTable, more: usize) {
        let need = self.len.saturating_add(more);
        if need.saturating_mul(8) <= self.slots.len().saturating_mul(7) {
            return;
        }
        let size = need.saturating_mul(8).div_ceil(7).next_power_of_two().max(16);
        let old = std::mem::replace(&mut self.slots, vec![IdIndex::FREE; size]);
        for n in old.into_iter().filter(|n| *n != IdIndex::FREE) {
            self.place(&ids.get(n).expect("an id of the table"), n);
        }
    }

    fn place(&mut self, id: &Id, n: u32) {
        let mask = self.slots.len() - 1;
        let mut i = self.hash(id) & mask;
        while self.slots[i] != IdIndex::FREE {
            i = (i + 1) & mask;
        }
        self.slots[i] = n;
    }

    fn hash(&self, id: &Id) -> usize {
        use std::hash::BuildHasher;
        self.hasher.hash_one(id) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_finds_every_number_and_nothing_else() {
        let mut ids = IdTable::default();
        ids.push(Id::new("fixed-a"));
        ids.push(Id::new("fixed-b"));
        let mut index = IdIndex::default();
        assert_eq!(index.get(&ids, &Id::new("fixed-a")), None);
        for k in 0..5000u32 {
            let text = if k % 7 == 0 {
                format!("other-{k}")
            } else {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&k.to_be_bytes());
                Id::Uuid(b).to_string()
            };
            let n = ids.len() as u32;
            ids.push(Id::new(&text));
            index.insert(&ids, n);
            if k == 1000 {
                index.reserve(&ids, 3000);
            }
        }
        for n in 2..ids.len() as u32 {
            let id = ids.get(n).unwrap();
            assert_eq!(index.get(&ids, &id), Some(n), "{id}");
        }
        assert_eq!(ids.get(0), Some(Id::new("fixed-a")));
        assert_eq!(ids.get(ids.len() as u32), None);
        // a UUID equal to an other's zero bytes is not that other
        assert!(!ids.is(0, &Id::Uuid([0; 16])));
        // numbers never inserted are not found, nor ids never seen
        assert_eq!(index.get(&ids, &Id::new("fixed-a")), None);
        assert_eq!(index.get(&ids, &Id::new("other-1")), None);
        assert_eq!(index.get(&ids, &Id::Uuid([0xff; 16])), None);
        assert!(index.slots.len() * 7 >= index.len * 8);
    }

    #[test]
    fn uuids_are_compact_and_read_back_and_sort_as_text() {
        let u = "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
        assert!(matches!(Id::new(u), Id::Uuid(_)));
        assert_eq!(Id::new(u).to_string(), u);
        for other in ["a", "0F1E2D3C-4B5A-4978-8A6B-5C4D3E2F1A0B", "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0", ""] {
            assert!(matches!(Id::new(other), Id::Other(_)), "{other}");
            assert_eq!(Id::new(other).to_string(), other);
        }
        let mut texts = vec![
            "ffffffff-0000-4000-8000-000000000000",
            "b",
            "00000000-0000-4000-8000-000000000001",
            "0",
            "00000000-0000-4000-8000-000000000000",
            "zz",
        ];
        let mut ids: Vec<Id> = texts.iter().map(|t| Id::new(t)).collect();
        texts.sort();
        ids.sort();
        assert_eq!(ids.iter().map(Id::to_string).collect::<Vec<_>>(), texts);
        assert_eq!(std::mem::size_of::<Id>(), 24);
    }
}
