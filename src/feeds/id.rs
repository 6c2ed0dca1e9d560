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

#[cfg(test)]
mod tests {
    use super::*;

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
