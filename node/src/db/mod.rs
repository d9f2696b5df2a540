//! The keyspace: one lazily created hash table per hash slot (as Valkey 8 does), so that counting,
//! listing, migrating or deleting a slot's keys costs only that slot's keys, and `SCAN` walks slot by slot.
//!
//! Invariants: `keys` is the sum of the tables' lengths; `volatile` (and each slot's) counts the entries
//! with an expiry. Entries change expiry only through [`Db`] methods, which keep those counts right.
//! Expired keys are removed lazily when looked up and actively by [`Db::active_expire`].

pub mod capture;
pub mod entry;
pub mod serialize;

use entry::{Entry, Kind};
use hashbrown::hash_table::{Entry as TableEntry, HashTable};
use slotkv_proto::slot::{key_slot, SLOT_COUNT};
use std::collections::HashSet;
use std::hash::BuildHasher;

#[derive(Default)]
struct Slot {
    table: HashTable<Entry>,
    volatile: usize,
}

/// What the caller must know about a key that a write found in its way.
#[derive(Debug, PartialEq, Eq)]
pub struct WrongType;

pub struct Db {
    slots: Vec<Slot>,
    keys: usize,
    volatile: usize,
    hasher: foldhash::fast::RandomState,
    /// Keys removed because they expired (lazily or actively), for `INFO stats`.
    pub expired_keys: u64,
    /// Where the next active expiry cycle resumes.
    expire_cursor: usize,
    /// Changes made to the keyspace, as Redis's `server.dirty`: a write command that leaves it unchanged
    /// changed nothing (so `WATCH` is not triggered, and persistence has nothing to log).
    pub dirty: u64,
    /// Keys that blocked clients wait on (see [`crate::blocking`]).
    pub wanted: HashSet<Vec<u8>>,
    /// Wanted keys that were created since the blocked clients were last served.
    pub ready: Vec<Vec<u8>>,
    /// The snapshot being taken, if any (see [`capture`]).
    pub capture: Option<Box<capture::Capture>>,
    /// Whether expired keys are noted in `expired_log`, for the AOF (a `DEL` each).
    pub log_expired: bool,
    /// Keys removed because they expired, since the last drain.
    pub expired_log: Vec<Vec<u8>>,
    /// What a key's access information records: its LRU clock or its LFU counter.
    pub tracking: crate::evict::Tracking,
    /// The time of the command running (Unix ms), for the access information of keys it creates.
    pub now_ms: i64,
    /// Slots holding keys, as last counted, and how many more samples may use that count.
    occupied_slots: std::cell::Cell<(usize, u32)>,
    /// Where [`Db::compact_tables`] resumes.
    compact_cursor: usize,
    /// On a replica: a key past its time reads as missing but is not removed (the primary's `DEL` will
    /// come), so the copy never runs ahead of its primary.
    pub keep_expired: bool,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

fn is_expired(e: &Entry, now: i64) -> bool {
    let at = e.expire_at();
    at != 0 && at <= now
}

impl Db {
    pub fn new() -> Db {
        Db {
            slots: (0..SLOT_COUNT).map(|_| Slot::default()).collect(),
            keys: 0,
            volatile: 0,
            hasher: foldhash::fast::RandomState::default(),
            expired_keys: 0,
            expire_cursor: 0,
            dirty: 0,
            wanted: HashSet::new(),
            ready: Vec::new(),
            capture: None,
            log_expired: false,
            expired_log: Vec::new(),
            tracking: crate::evict::Tracking::Lru,
            now_ms: 0,
            occupied_slots: std::cell::Cell::new((1, 0)),
            compact_cursor: 0,
            keep_expired: false,
        }
    }

    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Keys with an expiry.
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    /// The hash of a key within its slot's table; also orders `SCAN` within a slot.
    pub fn key_hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn slot(&self, key: &[u8]) -> Option<&Slot> {
        self.slots.get(key_slot(key) as usize)
    }

    /// The entry of a live key, without side effects (an expired one reads as missing but stays until a
    /// write or the expiry cycle removes it).
    pub fn peek(&self, key: &[u8], now: i64) -> Option<&Entry> {
        let hash = self.key_hash(key);
        self.slot(key)?.table.find(hash, |e| e.key() == key).filter(|e| !is_expired(e, now))
    }

    /// The entry of a live key, to change it (counted in `dirty`); an expired one is removed on the way.
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        self.lookup(key, now, true)
    }

    fn lookup(&mut self, key: &[u8], now: i64, write: bool) -> Option<&mut Entry> {
        let hash = self.key_hash(key);
        let idx = key_slot(key) as usize;
        if write {
            self.preserve(idx);
        }
        let slot = self.slots.get_mut(idx)?;
        match slot.table.find_entry(hash, |e| e.key() == key) {
            Err(_) => None,
            Ok(found) if is_expired(found.get(), now) && self.keep_expired => None,
            Ok(found) if is_expired(found.get(), now) => {
                let (gone, _) = found.remove();
                if self.log_expired {
                    self.expired_log.push(gone.key().to_vec());
                }
                slot.volatile -= 1;
                self.volatile -= 1;
                self.keys -= 1;
                self.expired_keys += 1;
                self.dirty += 1;
                None
            }
            Ok(found) => {
                if write {
                    self.dirty += 1;
                }
                let e = found.into_mut();
                e.set_access(self.tracking.touch(e.access(), now));
                Some(e)
            }
        }
    }

    /// The entry of a live key for reading; an expired one is removed on the way.
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.lookup(key, now, false).map(|e| &*e)
    }

    /// The type of a live key.
    pub fn kind(&mut self, key: &[u8], now: i64) -> Option<Kind> {
        self.get(key, now).map(Entry::kind)
    }

    /// Stores `entry` under its key, replacing whatever was there. Returns the old entry.
    pub fn insert(&mut self, mut entry: Entry) -> Option<Entry> {
        entry.set_access(self.tracking.fresh(self.now_ms));
        let keep_counter = matches!(self.tracking, crate::evict::Tracking::Lfu { .. });
        let key = entry.key();
        let hash = self.key_hash(key);
        let idx = key_slot(key) as usize;
        let new_volatile = entry.expire_at() != 0;
        // A list or sorted set appearing under a key that blocked clients wait on makes it ready.
        let wakes = !self.wanted.is_empty()
            && matches!(entry.kind(), Kind::List | Kind::Zset)
            && self.wanted.contains(key);
        if wakes {
            self.ready.push(key.to_vec());
        }
        self.preserve(idx);
        let hasher = &self.hasher;
        let slot = self.slots.get_mut(idx)?;
        let old = match slot.table.entry(hash, |e| e.key() == key, |e| hasher.hash_one(e.key())) {
            TableEntry::Occupied(mut o) => {
                let old = std::mem::replace(o.get_mut(), entry);
                // An overwritten key keeps its access frequency, as in Redis.
                if keep_counter {
                    o.get_mut().set_access(old.access());
                }
                Some(old)
            }
            TableEntry::Vacant(v) => {
                v.insert(entry);
                None
            }
        };
        let old_volatile = old.as_ref().is_some_and(|o| o.expire_at() != 0);
        match (old_volatile, new_volatile) {
            (false, true) => {
                slot.volatile += 1;
                self.volatile += 1;
            }
            (true, false) => {
                slot.volatile -= 1;
                self.volatile -= 1;
            }
            _ => {}
        }
        if old.is_none() {
            self.keys += 1;
        }
        self.dirty += 1;
        old
    }

    /// Removes a key (live or expired). Returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let hash = self.key_hash(key);
        let idx = key_slot(key) as usize;
        self.preserve(idx);
        let slot = self.slots.get_mut(idx)?;
        let (entry, _) = slot.table.find_entry(hash, |e| e.key() == key).ok()?.remove();
        self.keys -= 1;
        self.dirty += 1;
        if entry.expire_at() != 0 {
            slot.volatile -= 1;
            self.volatile -= 1;
        }
        if slot.table.is_empty() {
            *slot = Slot::default();
        }
        Some(entry)
    }

    /// Removes a live key; `false` if there was none (an expired one is removed but does not count).
    pub fn delete(&mut self, key: &[u8], now: i64) -> bool {
        match self.remove(key) {
            Some(e) if is_expired(&e, now) => {
                self.expired_keys += 1;
                if self.log_expired {
                    self.expired_log.push(e.key().to_vec());
                }
                false
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Sets (or with 0 clears) the expiry of a live key; `false` if there is no such key.
    pub fn set_expire(&mut self, key: &[u8], at: i64, now: i64) -> bool {
        let Some(entry) = self.get_mut(key, now) else { return false };
        let was = entry.expire_at() != 0;
        entry.set_expire(at);
        let is = at != 0;
        if was != is {
            let idx = key_slot(key) as usize;
            if let Some(slot) = self.slots.get_mut(idx) {
                if is {
                    slot.volatile += 1;
                    self.volatile += 1;
                } else {
                    slot.volatile -= 1;
                    self.volatile -= 1;
                }
            }
        }
        true
    }

    /// Drops every key. A capture in progress is abandoned (as Redis kills its saving child): the caller
    /// sees `capture` gone.
    pub fn clear(&mut self) {
        self.capture = None;
        self.dirty += self.keys as u64;
        self.slots.iter_mut().for_each(|s| *s = Slot::default());
        self.keys = 0;
        self.volatile = 0;
    }

    /// Drops every key of one slot (the slot moved to another node); returns their names.
    pub fn drop_slot(&mut self, idx: usize) -> Vec<Vec<u8>> {
        self.preserve(idx);
        let Some(slot) = self.slots.get_mut(idx) else { return Vec::new() };
        let keys: Vec<Vec<u8>> = slot.table.iter().map(|e| e.key().to_vec()).collect();
        self.keys -= keys.len();
        self.volatile -= slot.volatile;
        self.dirty += keys.len() as u64;
        *slot = Slot::default();
        keys
    }

    /// Keys in one slot.
    /// Buckets of every slot's table (their capacity).
    pub fn table_capacity(&self) -> usize {
        self.slots.iter().map(|s| s.table.capacity()).sum()
    }

    /// Compacts the tables of up to `count` slots from where the last call stopped: a table that churn
    /// (keys added and removed, as eviction and expiry do) left at under a third full is rebuilt at its
    /// size. The hash tables only grow by themselves: after many removals their deleted markers make the
    /// next insert double the table even at half its capacity, and a cache that evicts all day would keep
    /// a quarter-full keyspace. Redis resizes its dicts in its cron for the same reason.
    pub fn compact_tables(&mut self, count: usize) {
        let hasher = &self.hasher;
        for _ in 0..count {
            let idx = self.compact_cursor;
            self.compact_cursor = (self.compact_cursor + 1) % SLOT_COUNT;
            let Some(slot) = self.slots.get_mut(idx) else { continue };
            let len = slot.table.len();
            if len > 0 && slot.table.capacity() > 3 * len + 4 {
                slot.table.shrink_to(len, |e| hasher.hash_one(e.key()));
            }
        }
    }

    pub fn slot_len(&self, slot: usize) -> usize {
        self.slots.get(slot).map_or(0, |s| s.table.len())
    }

    /// The live entries of one slot, in table order.
    pub fn slot_entries(&self, slot: usize, now: i64) -> impl Iterator<Item = &Entry> {
        self.slots.get(slot).into_iter().flat_map(|s| s.table.iter()).filter(move |e| !is_expired(e, now))
    }

    /// Every live entry, slot by slot.
    pub fn entries(&self, now: i64) -> impl Iterator<Item = &Entry> {
        (0..SLOT_COUNT).flat_map(move |s| self.slot_entries(s, now))
    }

    /// A random live key, or `None` for an empty keyspace.
    pub fn random_key(&mut self, now: i64) -> Option<Vec<u8>> {
        for _ in 0..16 {
            if self.keys == 0 {
                return None;
            }
            // Random non-empty slot: probe a few at random, then walk from a random start.
            let start = fastrand::usize(..SLOT_COUNT);
            let slot = (0..SLOT_COUNT).map(|i| (start + i) % SLOT_COUNT).find(|&s| self.slot_len(s) > 0)?;
            let len = self.slot_len(slot);
            let pick = self.slots.get(slot)?.table.iter().nth(fastrand::usize(..len))?;
            let key = pick.key().to_vec();
            if is_expired(pick, now) {
                if self.keep_expired {
                    continue;
                }
                self.remove(&key);
                self.expired_keys += 1;
                if self.log_expired {
                    self.expired_log.push(key);
                }
                continue;
            }
            return Some(key);
        }
        None
    }

    /// Visits up to `count` live keys picked at random for eviction (only keys with a TTL when
    /// `volatile_only`): consecutive entries from a random position of a slot picked with a probability
    /// that follows its number of keys, so that every key is about as likely to be sampled (as Redis
    /// samples its one table). Picking slots uniformly instead would drain small slots and grow big ones
    /// without end. Visits nothing when there is no such key.
    pub fn sample(&self, count: usize, volatile_only: bool, now: i64, mut visit: impl FnMut(&Entry)) {
        let weight = |s: &Slot| if volatile_only { s.volatile } else { s.table.len() };
        let total = if volatile_only { self.volatile } else { self.keys };
        if total == 0 {
            return;
        }
        // Rejection sampling: a slot is taken with probability weight / bound, the bound well above the
        // mean (slots above it are rare, and taken every time).
        let (mut occupied, mut uses) = self.occupied_slots.get();
        if uses == 0 {
            // Counting the slots in use costs a pass over them: done once per 1024 samples.
            occupied = self.slots.iter().filter(|s| !s.table.is_empty()).count().max(1);
            uses = 1024;
        }
        self.occupied_slots.set((occupied, uses - 1));
        let bound = 4 * total / occupied + 16;
        let mut start = fastrand::usize(..SLOT_COUNT);
        for _ in 0..256 {
            let candidate = fastrand::usize(..SLOT_COUNT);
            let w = self.slots.get(candidate).map_or(0, weight);
            if w > 0 && fastrand::usize(..bound) < w {
                start = candidate;
                break;
            }
        }
        let mut seen = 0;
        for i in 0..SLOT_COUNT {
            let Some(slot) = self.slots.get((start + i) % SLOT_COUNT).filter(|s| weight(s) > 0) else {
                continue;
            };
            let len = slot.table.len();
            let from = fastrand::usize(..len);
            let wanted = |e: &&Entry| (!volatile_only || e.expire_at() != 0) && !is_expired(e, now);
            for e in slot.table.iter().skip(from).chain(slot.table.iter().take(from)).filter(wanted) {
                visit(e);
                seen += 1;
                if seen >= count {
                    return;
                }
            }
        }
    }

    /// One step of active expiry: visits slots that hold keys with a TTL, from where the last step stopped,
    /// removing expired ones, until `max_checks` entries were examined. Returns the keys removed.
    pub fn active_expire(&mut self, now: i64, max_checks: usize) -> usize {
        if self.volatile == 0 {
            return 0;
        }
        let mut checked = 0;
        let mut removed = 0;
        let mut visited = 0;
        while checked < max_checks && visited < SLOT_COUNT {
            let idx = self.expire_cursor;
            self.expire_cursor = (self.expire_cursor + 1) % SLOT_COUNT;
            visited += 1;
            let Some(slot) = self.slots.get_mut(idx) else { continue };
            if slot.volatile == 0 {
                continue;
            }
            let before = slot.table.len();
            checked += before;
            let mut gone_volatile = 0;
            let log = if self.log_expired { Some(&mut self.expired_log) } else { None };
            let mut log = log;
            slot.table.retain(|e| {
                let dead = is_expired(e, now);
                if dead {
                    gone_volatile += 1;
                    if let Some(log) = log.as_mut() {
                        log.push(e.key().to_vec());
                    }
                }
                !dead
            });
            let gone = before - slot.table.len();
            slot.volatile -= gone_volatile;
            self.volatile -= gone_volatile;
            self.keys -= gone;
            removed += gone;
            if slot.table.is_empty() {
                *slot = Slot::default();
            }
        }
        self.expired_keys += removed as u64;
        removed
    }

    /// One page of a `SCAN` within a slot: entries whose key hash (shifted to fit the cursor) is at least
    /// `from`, the `count` smallest of them (more when hashes tie, so none is skipped). Returns the page and
    /// the hash to resume from, or `None` when the slot is done. Keys present for the whole scan are
    /// returned exactly once whatever the table does in between.
    pub fn scan_slot(&self, slot: usize, from: u64, count: usize, now: i64) -> (Vec<&Entry>, Option<u64>) {
        let items = self
            .slot_entries(slot, now)
            .map(|e| (self.key_hash(e.key()) >> 14, e))
            .filter(|(h, _)| *h >= from);
        page_by_hash(items.collect(), count)
    }
}

/// One page of a hash-ordered scan: of `items` (each with its hash, all at or past the cursor), the `count`
/// with the smallest hashes, plus any that tie with the last of them so that no item is split from its
/// twins; and the hash to resume from, `None` when nothing is left. Paging by hash rather than by table
/// position returns every item present for the whole scan exactly once, however the table changes.
pub fn page_by_hash<T>(mut items: Vec<(u64, T)>, count: usize) -> (Vec<T>, Option<u64>) {
    if items.len() <= count {
        return (items.into_iter().map(|(_, e)| e).collect(), None);
    }
    items.sort_unstable_by_key(|(h, _)| *h);
    let last = items.get(count.max(1) - 1).map(|(h, _)| *h).unwrap_or(0);
    let cut = items.iter().position(|(h, _)| *h > last).unwrap_or(items.len());
    let next = items.get(cut).map(|(h, _)| *h);
    items.truncate(cut);
    (items.into_iter().map(|(_, e)| e).collect(), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_counts() {
        let mut db = Db::new();
        assert!(db.insert(Entry::string(b"a", b"1", 0)).is_none());
        assert!(db.insert(Entry::string(b"a", b"2", 0)).is_some());
        assert_eq!(db.len(), 1);
        assert_eq!(db.get(b"a", 0).and_then(|e| e.as_str()), Some(&b"2"[..]));
        assert!(db.delete(b"a", 0));
        assert!(!db.delete(b"a", 0));
        assert!(db.is_empty());
    }

    #[test]
    fn lazy_expiry() {
        let mut db = Db::new();
        db.insert(Entry::string(b"t", b"v", 100));
        assert_eq!(db.volatile(), 1);
        assert!(db.get(b"t", 99).is_some());
        assert!(db.get(b"t", 100).is_none());
        assert_eq!((db.len(), db.volatile(), db.expired_keys), (0, 0, 1));
    }

    #[test]
    fn active_expiry_removes_without_access() {
        let mut db = Db::new();
        for i in 0..1000 {
            let key = format!("k{i}");
            db.insert(Entry::string(key.as_bytes(), b"v", if i % 2 == 0 { 50 } else { 0 }));
        }
        assert_eq!(db.volatile(), 500);
        let mut removed = 0;
        for _ in 0..100 {
            removed += db.active_expire(60, 200);
        }
        assert_eq!(removed, 500);
        assert_eq!((db.len(), db.volatile()), (500, 0));
    }

    #[test]
    fn set_expire_tracks_volatile() {
        let mut db = Db::new();
        db.insert(Entry::string(b"k", b"v", 0));
        assert!(db.set_expire(b"k", 500, 0));
        assert_eq!(db.volatile(), 1);
        assert!(db.set_expire(b"k", 0, 0));
        assert_eq!(db.volatile(), 0);
        assert!(!db.set_expire(b"missing", 5, 0));
    }

    #[test]
    fn scan_slot_pages_cover_everything_once() {
        let mut db = Db::new();
        // All in one slot through a hash tag.
        for i in 0..500 {
            db.insert(Entry::string(format!("{{t}}{i}").as_bytes(), b"v", 0));
        }
        let slot = key_slot(b"{t}") as usize;
        let mut seen = std::collections::HashSet::new();
        let mut from = 0;
        loop {
            let (page, next) = db.scan_slot(slot, from, 7, 0);
            for e in page {
                assert!(seen.insert(e.key().to_vec()));
            }
            match next {
                Some(n) => from = n,
                None => break,
            }
        }
        assert_eq!(seen.len(), 500);
    }
}
