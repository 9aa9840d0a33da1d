//! The schema cache: schemas are immutable per id, so an entry never goes
//! stale; the only reason to drop one is the count bound. Eviction removes
//! the least recently used entry (an exact LRU by use stamp; the scan only
//! happens when the cache is full, which takes more distinct schema ids than
//! `cache_capacity`).

use std::collections::HashMap;

use parking_lot::Mutex;

/// A bounded map from schema id to a shared, immutable value.
#[derive(Debug)]
pub struct SchemaCache<T> {
    capacity: usize,
    inner: Mutex<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    entries: HashMap<u32, (T, u64)>,
    clock: u64,
}

impl<T: Clone> SchemaCache<T> {
    /// A cache holding at most `capacity` (at least 1) entries.
    pub fn new(capacity: usize) -> Self {
        SchemaCache { capacity: capacity.max(1), inner: Mutex::new(Inner { entries: HashMap::new(), clock: 0 }) }
    }

    /// The entry for `id`, marking it used.
    pub fn get(&self, id: u32) -> Option<T> {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let now = inner.clock;
        let (value, used) = inner.entries.get_mut(&id)?;
        *used = now;
        Some(value.clone())
    }

    /// Whether `id` is cached (does not mark it used).
    pub fn contains(&self, id: u32) -> bool {
        self.inner.lock().entries.contains_key(&id)
    }

    /// Stores `value` for `id`, evicting the least recently used entry when
    /// full. Returns the number of entries.
    pub fn insert(&self, id: u32, value: T) -> usize {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let now = inner.clock;
        if !inner.entries.contains_key(&id) && inner.entries.len() >= self.capacity {
            let oldest = inner.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.entries.insert(id, (value, now));
        inner.entries.len()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count_least_recently_used_goes_first() {
        let cache = SchemaCache::new(2);
        cache.insert(1, "a");
        cache.insert(2, "b");
        assert_eq!(cache.get(1), Some("a"));
        cache.insert(3, "c");
        assert!(cache.contains(1) && cache.contains(3) && !cache.contains(2));
        assert_eq!(cache.len(), 2);
        cache.insert(3, "c2");
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(3), Some("c2"));
        assert_eq!(SchemaCache::<u8>::new(0).capacity(), 1);
    }
}
