//! [`DenseMap`]: a hash map for the large in-memory indexes (the store's
//! HMAC → sequence index, the expiry schedule, the MISP export's live
//! set), about half the memory of a `std::collections::HashMap` at a
//! million entries and more.
//!
//! hashbrown keeps keys and values in its buckets and doubles at 7/8 full,
//! so right after a doubling its table is under half full: at 2M entries
//! 4M buckets. Here the keys and values are in two dense vectors (no empty
//! room in them: what a vector reserves and never writes is never
//! resident) and the hash table holds only a `u32` position per slot
//! (open addressing, linear probing, at most 7/8 full): about
//! `size_of::<K>() + size_of::<V>() + 4.6..9.1` bytes an entry. Removal
//! moves the last entry into the hole (`swap_remove`) and shifts the probe
//! sequence back, so no tombstones and the vectors stay dense. Iteration
//! order is unspecified (insertion order until something is removed).

use std::hash::{BuildHasher, Hash, RandomState};

/// A hash map of at most `u32::MAX - 1` entries with dense storage.
pub struct DenseMap<K, V> {
    keys: Vec<K>,
    vals: Vec<V>,
    /// A power of two of slots (or none), each a position in `keys` or [`FREE`].
    slots: Vec<u32>,
    hasher: RandomState,
}

const FREE: u32 = u32::MAX;

impl<K, V> Default for DenseMap<K, V> {
    fn default() -> Self {
        DenseMap { keys: Vec::new(), vals: Vec::new(), slots: Vec::new(), hasher: RandomState::new() }
    }
}

impl<K: Hash + Eq, V> DenseMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn hash(&self, k: &K) -> usize {
        self.hasher.hash_one(k) as usize
    }

    /// The slot and the position of `k`.
    fn find(&self, k: &K) -> Option<(usize, usize)> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.hash(k) & mask;
        loop {
            match self.slots[i] {
                FREE => return None,
                n if self.keys[n as usize] == *k => return Some((i, n as usize)),
                _ => i = (i + 1) & mask,
            }
        }
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.find(k).map(|(_, n)| &self.vals[n])
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.find(k).map(|(_, n)| &mut self.vals[n])
    }

    pub fn contains_key(&self, k: &K) -> bool {
        self.find(k).is_some()
    }

    /// Sets `k` to `v`; the value it had, if any.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        if let Some((_, n)) = self.find(&k) {
            return Some(std::mem::replace(&mut self.vals[n], v));
        }
        self.reserve(1);
        let n = u32::try_from(self.keys.len()).ok().filter(|n| *n != FREE).expect("fewer than 2^32 - 1 entries");
        self.place(self.hash(&k), n);
        self.keys.push(k);
        self.vals.push(v);
        None
    }

    /// Removes `k`; its value, if it was there.
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (slot, n) = self.find(k)?;
        self.unslot(slot);
        let last = self.keys.len() - 1;
        if n != last {
            // The last entry moves into the hole: its slot now says `n`.
            let (ls, _) = self.find(&self.keys[last]).expect("every entry has a slot");
            self.slots[ls] = n as u32;
        }
        self.keys.swap_remove(n);
        Some(self.vals.swap_remove(n))
    }

    /// Frees `hole` and moves back the entries after it in its probe run
    /// that could not be found any more (backward-shift deletion).
    fn unslot(&mut self, mut hole: usize) {
        let mask = self.slots.len() - 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let n = self.slots[j];
            if n == FREE {
                break;
            }
            let home = self.hash(&self.keys[n as usize]) & mask;
            // Stays where it is only if its home is cyclically in (hole, j].
            let stays = if hole <= j { hole < home && home <= j } else { hole < home || home <= j };
            if !stays {
                self.slots[hole] = n;
                hole = j;
            }
        }
        self.slots[hole] = FREE;
    }

    /// Room for `more` entries without growing the slots again (and the
    /// vectors reserve as much: room never written is never resident).
    pub fn reserve(&mut self, more: usize) {
        let need = self.keys.len().saturating_add(more);
        if need.saturating_mul(8) <= self.slots.len().saturating_mul(7) {
            return;
        }
        self.keys.reserve(more);
        self.vals.reserve(more);
        let size = need.saturating_mul(8).div_ceil(7).next_power_of_two().max(16);
        self.slots = vec![FREE; size];
        for n in 0..self.keys.len() {
            self.place(self.hash(&self.keys[n]), n as u32);
        }
    }

    /// Room for `more` entries in the key and value vectors only (the slots
    /// grow as entries come): a caller that knows an upper bound of what is
    /// coming saves the vectors' doublings, each of which frees the old block
    /// (kept resident by the allocator for a while); room never written is
    /// never resident, whereas the slots are written when made.
    pub fn reserve_entries(&mut self, more: usize) {
        self.keys.reserve(more);
        self.vals.reserve(more);
    }

    fn place(&mut self, hash: usize, n: u32) {
        let mask = self.slots.len() - 1;
        let mut i = hash & mask;
        while self.slots[i] != FREE {
            i = (i + 1) & mask;
        }
        self.slots[i] = n;
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.keys.iter().zip(&self.vals)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.vals.iter()
    }

    /// Heap bytes held (the vectors' capacities and the slots).
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * size_of::<K>() + self.vals.capacity() * size_of::<V>() + self.slots.len() * 4
    }
}

impl<K: Hash + Eq, V> FromIterator<(K, V)> for DenseMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = DenseMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn it_behaves_as_a_hash_map_through_growth_and_removals() {
        let mut m: DenseMap<u128, u64> = DenseMap::new();
        let mut r: HashMap<u128, u64> = HashMap::new();
        assert_eq!(m.get(&1), None);
        assert_eq!(m.remove(&1), None);
        // A cheap deterministic generator; keys collide on purpose modulo small tables.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut step = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..60_000u64 {
            let k = u128::from(step() % 20_000);
            match step() % 4 {
                0 => assert_eq!(m.remove(&k), r.remove(&k), "remove {k}"),
                _ => assert_eq!(m.insert(k, round), r.insert(k, round), "insert {k}"),
            }
            if round % 7_919 == 0 {
                m.reserve(round as usize % 5_000);
            }
        }
        assert_eq!(m.len(), r.len());
        for (k, v) in &r {
            assert_eq!(m.get(k), Some(v), "{k}");
        }
        for k in 20_000..25_000u128 {
            assert_eq!(m.get(&k), None);
        }
        let mut listed: Vec<(u128, u64)> = m.iter().map(|(k, v)| (*k, *v)).collect();
        let mut want: Vec<(u128, u64)> = r.into_iter().collect();
        listed.sort_unstable();
        want.sort_unstable();
        assert_eq!(listed, want);
        // At most 7/8 full.
        assert!(m.slots.len() * 7 >= m.len() * 8);
        // Everything removed: empty, and usable again.
        for (k, _) in want {
            assert!(m.remove(&k).is_some());
        }
        assert!(m.is_empty() && m.slots.iter().all(|s| *s == FREE));
        m.insert(5, 6);
        assert_eq!(m.get(&5), Some(&6));
    }

    #[test]
    fn removal_keeps_probe_runs_that_wrap_around_the_table() {
        // Every key in a 16-slot table, most sharing a few home slots near the end.
        let mut m: DenseMap<u32, u32> = DenseMap::new();
        for k in 0..14 {
            m.insert(k, k * 10);
        }
        for k in (0..14).step_by(3) {
            assert_eq!(m.remove(&k), Some(k * 10));
            for j in 0..14 {
                assert_eq!(m.get(&j).copied(), (j % 3 != 0 || j > k).then_some(j * 10), "{j} after removing {k}");
            }
        }
    }

    #[test]
    fn entries_are_dense() {
        let mut m: DenseMap<[u8; 16], i64> = DenseMap::new();
        m.reserve(1000);
        for k in 0..1000u16 {
            let mut key = [0u8; 16];
            key[..2].copy_from_slice(&k.to_be_bytes());
            m.insert(key, i64::from(k));
        }
        // 24 bytes an entry and a 2048-slot table, where a HashMap takes 25 a bucket in 2048.
        assert_eq!(m.heap_bytes(), 1000 * 24 + 2048 * 4);
    }
}
