//! [`SortedMap`]: an ordered map for a large, insert-mostly set (the
//! blocklist live set): a sorted vector, full to the last entry, plus a
//! small `BTreeMap` of the keys added since it was last merged, and
//! tombstones for the keys removed since. A `BTreeMap` of millions of
//! entries inserted in random order keeps its leaves about 70% full (plus
//! node headers): here the bulk is dense, which at 2M entries of 88 bytes
//! saves about a third.
//!
//! The recent keys are merged into the vector, in place and in one pass
//! from the end, once they are more than an eighth of it (or the
//! tombstones a quarter): each entry is moved a bounded number of times on
//! average, and the only allocation is the vector's own growth.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::iter::Peekable;

/// An ordered map; iteration is in key order.
pub struct SortedMap<K, V> {
    /// Sorted by key, each key once; `Some((k, None))` is a removed key
    /// (a tombstone); `None` only during a merge.
    base: Vec<Option<(K, Option<V>)>>,
    /// Keys not in `base`, added since the last merge.
    recent: BTreeMap<K, V>,
    /// Entries (not tombstones).
    len: usize,
    /// Tombstones in `base`.
    dead: usize,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap { base: Vec::new(), recent: BTreeMap::new(), len: 0, dead: 0 }
    }
}

/// Merges below this many recent keys are not worth their pass.
const MIN_RECENT: usize = 4096;

impl<K: Ord, V> SortedMap<K, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn find(&self, k: &K) -> Result<usize, usize> {
        self.base.binary_search_by(|e| e.as_ref().expect("merged").0.cmp(k))
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        match self.find(k) {
            Ok(i) => self.base[i].as_ref().and_then(|e| e.1.as_ref()),
            Err(_) => self.recent.get(k),
        }
    }

    /// Sets `k` to `v`; the value it had, if any.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let old = match self.find(&k) {
            Ok(i) => {
                let old = self.base[i].as_mut().expect("merged").1.replace(v);
                if old.is_none() {
                    self.dead -= 1;
                }
                old
            }
            Err(_) => self.recent.insert(k, v),
        };
        if old.is_none() {
            self.len += 1;
            self.maybe_merge();
        }
        old
    }

    /// Removes `k`; its value, if it was there.
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let old = match self.find(k) {
            Ok(i) => {
                let old = self.base[i].as_mut().expect("merged").1.take();
                if old.is_some() {
                    self.dead += 1;
                }
                old
            }
            Err(_) => self.recent.remove(k),
        };
        if old.is_some() {
            self.len -= 1;
            self.maybe_merge();
        }
        old
    }

    fn maybe_merge(&mut self) {
        if self.recent.len() > MIN_RECENT.max(self.base.len() / 8) || self.dead > MIN_RECENT.max(self.base.len() / 4) {
            self.merge();
        }
    }

    /// Drops the tombstones and merges `recent` into `base`, in place: the
    /// vector grows by the recent keys' count and is filled from its end.
    fn merge(&mut self) {
        if self.dead > 0 {
            self.base.retain(|e| e.as_ref().is_some_and(|e| e.1.is_some()));
            self.dead = 0;
        }
        let n = self.base.len();
        let recent = std::mem::take(&mut self.recent);
        self.base.resize_with(n + recent.len(), || None);
        let (mut i, mut w) = (n, self.base.len());
        let mut rest = recent.into_iter().rev().peekable();
        while let Some((k, _)) = rest.peek() {
            w -= 1;
            if i > 0 && self.base[i - 1].as_ref().expect("unmerged").0 > *k {
                self.base.swap(i - 1, w);
                i -= 1;
            } else {
                let (k, v) = rest.next().expect("peeked");
                self.base[w] = Some((k, Some(v)));
            }
        }
        debug_assert_eq!(i, w, "the rest of `base` is in place");
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            base: self.base.iter().filter_map(base_entry as fn(&Option<(K, Option<V>)>) -> Option<(&K, &V)>).peekable(),
            recent: self.recent.iter().peekable(),
        }
    }
}

fn base_entry<K, V>(e: &Option<(K, Option<V>)>) -> Option<(&K, &V)> {
    let (k, v) = e.as_ref()?;
    Some((k, v.as_ref()?))
}

type BaseIter<'a, K, V> =
    std::iter::FilterMap<std::slice::Iter<'a, Option<(K, Option<V>)>>, fn(&Option<(K, Option<V>)>) -> Option<(&K, &V)>>;

/// The entries of a [`SortedMap`] in key order: its two parts merged.
pub struct Iter<'a, K, V> {
    base: Peekable<BaseIter<'a, K, V>>,
    recent: Peekable<std::collections::btree_map::Iter<'a, K, V>>,
}

impl<'a, K: Ord, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        let order = match (self.base.peek(), self.recent.peek()) {
            (Some(b), Some(r)) => b.0.cmp(r.0),
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        // A key is in one part only.
        if order == Ordering::Less { self.base.next() } else { self.recent.next() }
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_behaves_as_a_btree_map_through_merges_and_removals() {
        let mut m: SortedMap<(u8, Box<str>), u64> = SortedMap::default();
        let mut r: BTreeMap<(u8, Box<str>), u64> = BTreeMap::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut step = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..120_000u64 {
            let k = ((step() % 3) as u8, format!("v{}", step() % 30_000).into_boxed_str());
            // Mostly insertions (the live set grows), with bursts of removals.
            let remove = if (round / 20_000) % 3 == 2 { step() % 4 != 0 } else { step() % 5 == 0 };
            if remove {
                assert_eq!(m.remove(&k), r.remove(&k), "remove {k:?}");
            } else {
                assert_eq!(m.insert(k.clone(), round), r.insert(k, round), "insert");
            }
            assert_eq!(m.len(), r.len());
            if round % 9_973 == 0 {
                assert!(m.iter().eq(r.iter()), "in order at round {round}");
            }
        }
        assert!(m.iter().eq(r.iter()));
        assert!(!m.base.is_empty(), "merged at least once");
        for (k, v) in &r {
            assert_eq!(m.get(k), Some(v));
        }
        for k in 30_000..31_000 {
            assert_eq!(m.get(&(0, format!("v{k}").into_boxed_str())), None);
        }
        // A final merge leaves one dense vector in order.
        m.merge();
        assert!(m.recent.is_empty() && m.dead == 0 && m.base.len() == r.len());
        assert!(m.iter().eq(r.iter()));
        let n = r.len();
        for k in r.keys() {
            m.remove(k);
        }
        assert!(m.is_empty() && m.iter().next().is_none() && n > 0);
    }
}
