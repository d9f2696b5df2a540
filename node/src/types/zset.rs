//! Sorted sets, in Redis's two encodings:
//!
//! - `listpack` while the set has at most `zset-max-listpack-entries` members (128) and each member is at
//!   most `zset-max-listpack-value` bytes (64): one [`Pack`] whose elements are the entries in (score,
//!   member) order. An entry is a compact score (see [`encode_entry`]: 0 to 111.5 by halves in one byte)
//!   followed by the member, so a hundred `member:N` with scores `j * 1.5` take 1.25 KB.
//! - `skiplist` beyond: a [`SkipList`] (ordered index with ranks) and a hash table from member to node id,
//!   the member stored once, in the node.
//!
//! As in Redis 7.2, a set only converts one way (listpack to skiplist), when an insertion crosses a
//! threshold or a `ZADD` brings more pairs than the entry limit; results built whole (`ZUNIONSTORE`,
//! `ZRANGESTORE`, [`Zset::from_sorted`]) take the encoding their size calls for. The thresholds are read
//! at each write, so `CONFIG SET` applies to the next one.

use super::pack::{self, Pack};
use super::skiplist::{LexRange, ScoreRange, SkipList, NIL};
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Thresholds for the compact encoding: `zset-max-listpack-entries` and `zset-max-listpack-value`.
#[derive(Clone, Copy, Debug)]
pub struct ZsetLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for ZsetLimits {
    fn default() -> Self {
        ZsetLimits { max_entries: 128, max_value: 64 }
    }
}

// ---- compact entries ----

/// Score tags 0..=0xDF are the score itself, in halves (0, 0.5, ... 111.5), with no further bytes.
const SMALL_MAX: u8 = 0xDF;
/// Twice the score as a little-endian integer of 2, 4 or 6 bytes (6 hold millisecond timestamps).
const TAG_H16: u8 = 0xE0;
const TAG_H32: u8 = 0xE1;
const TAG_H48: u8 = 0xE2;
const TAG_F32: u8 = 0xE3;
const TAG_F64: u8 = 0xE4;
const H48_LIMIT: f64 = (1u64 << 47) as f64;

/// An entry of the compact encoding: a score tag, the score's bytes (little endian) and the member. Scores
/// that are whole or halves (most in practice: counts, ratings, timestamps) are stored as twice their value
/// in the smallest integer that holds it (so `-0` becomes `0`, as Redis's listpack stores it); others as an
/// `f32` when that is exact, else as an `f64`.
fn encode_entry(out: &mut Vec<u8>, score: f64, member: &[u8]) {
    let (code, len) = score_code(score);
    out.extend_from_slice(code.get(..len).unwrap_or_default());
    out.extend_from_slice(member);
}

/// The tag and bytes that encode `score` (see [`encode_entry`]), and how many of them there are.
fn score_code(score: f64) -> ([u8; 9], usize) {
    let mut code = [0u8; 9];
    let mut put = |tag: u8, bytes: &[u8]| {
        code[0] = tag;
        if let Some(dst) = code.get_mut(1..1 + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        (code, 1 + bytes.len())
    };
    let twice = score * 2.0;
    if twice.fract() == 0.0 && (-H48_LIMIT..H48_LIMIT).contains(&twice) {
        let i = twice as i64;
        if (0..=SMALL_MAX as i64).contains(&i) {
            put(i as u8, &[])
        } else if let Ok(v) = i16::try_from(i) {
            put(TAG_H16, &v.to_le_bytes())
        } else if let Ok(v) = i32::try_from(i) {
            put(TAG_H32, &v.to_le_bytes())
        } else {
            put(TAG_H48, i.to_le_bytes().get(..6).unwrap_or_default())
        }
    } else if (score as f32) as f64 == score {
        put(TAG_F32, &(score as f32).to_le_bytes())
    } else {
        put(TAG_F64, &score.to_le_bytes())
    }
}

fn take<const N: usize>(s: &[u8]) -> Option<([u8; N], &[u8])> {
    let (head, rest) = s.split_first_chunk::<N>()?;
    Some((*head, rest))
}

/// The score and member of an entry.
fn decode_entry(e: &[u8]) -> (f64, &[u8]) {
    let Some((&tag, rest)) = e.split_first() else { return (0.0, e) };
    let decoded = match tag {
        0..=SMALL_MAX => Some((tag as f64 / 2.0, rest)),
        TAG_H16 => take::<2>(rest).map(|(b, r)| (i16::from_le_bytes(b) as f64 / 2.0, r)),
        TAG_H32 => take::<4>(rest).map(|(b, r)| (i32::from_le_bytes(b) as f64 / 2.0, r)),
        TAG_H48 => take::<6>(rest).map(|(b, r)| {
            let mut w = [0u8; 8];
            if let Some(dst) = w.get_mut(..6) {
                dst.copy_from_slice(&b);
            }
            (((i64::from_le_bytes(w) << 16) >> 16) as f64 / 2.0, r)
        }),
        TAG_F32 => take::<4>(rest).map(|(b, r)| (f32::from_le_bytes(b) as f64, r)),
        _ => take::<8>(rest).map(|(b, r)| (f64::from_le_bytes(b), r)),
    };
    decoded.unwrap_or((0.0, rest))
}

/// The member of an entry, without decoding the score.
fn entry_member(e: &[u8]) -> &[u8] {
    let skip = match e.first() {
        Some(0..=SMALL_MAX) => 1,
        Some(&TAG_H16) => 3,
        Some(&TAG_H32 | &TAG_F32) => 5,
        Some(&TAG_H48) => 7,
        Some(_) => 9,
        None => 0,
    };
    e.get(skip..).unwrap_or_default()
}

/// Whether `(s1, m1)` sorts after `(s2, m2)`.
fn after(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> bool {
    s1 > s2 || (s1 == s2 && m1 > m2)
}

// ---- the skiplist encoding ----

/// A large sorted set: the ordered index and a hash table of node ids keyed by their member.
#[derive(Clone)]
pub struct Sorted {
    list: SkipList,
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for Sorted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sorted").field("len", &self.list.len()).finish()
    }
}

impl Sorted {
    fn with_capacity(n: usize) -> Sorted {
        Sorted {
            list: SkipList::with_capacity(n),
            table: HashTable::with_capacity(n),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(member);
        self.table.find(hash, |&id| self.list.member(id) == member).copied()
    }

    /// Adds a member known to be absent.
    fn insert(&mut self, score: f64, member: Box<[u8]>) {
        let Sorted { list, table, hasher } = self;
        let hash = hasher.hash_one(&*member);
        let id = list.insert(score, member);
        table.insert_unique(hash, id, |&x| hasher.hash_one(list.member(x)));
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let hash = self.hasher.hash_one(member);
        let Sorted { list, table, .. } = self;
        match table.find_entry(hash, |&id| list.member(id) == member) {
            Ok(entry) => {
                let (id, _) = entry.remove();
                list.remove(id);
                self.after_removals();
                true
            }
            Err(_) => false,
        }
    }

    /// Removes node `id` from the table (the caller removes it from the list).
    fn forget(table: &mut HashTable<u32>, hasher: &foldhash::fast::RandomState, id: u32, member: &[u8]) {
        if let Ok(entry) = table.find_entry(hasher.hash_one(member), |&x| x == id) {
            entry.remove();
        }
    }

    /// Gives memory back once most of it is unused: node slots freed by removals are reused by inserts, but
    /// a set that shrank a lot is rebuilt compactly.
    fn after_removals(&mut self) {
        let (len, slots) = (self.list.len(), self.list.slots());
        if slots > 64 && len * 2 < slots {
            let mut list = SkipList::with_capacity(len);
            let mut table = HashTable::with_capacity(len);
            let hasher = &self.hasher;
            self.list.drain(|member, score| {
                let hash = hasher.hash_one(&*member);
                let id = list.insert(score, member);
                table.insert_unique(hash, id, |&x| hasher.hash_one(list.member(x)));
            });
            self.list = list;
            self.table = table;
        } else if self.table.capacity() > 64 && self.table.len() * 4 < self.table.capacity() {
            let Sorted { list, table, hasher } = self;
            table.shrink_to_fit(|&x| hasher.hash_one(list.member(x)));
        }
    }
}

// ---- the sorted set ----

/// A sorted set value.
#[derive(Clone, Debug)]
pub enum Zset {
    Pack(Pack),
    Skip(Box<Sorted>),
}

impl Default for Zset {
    fn default() -> Self {
        Zset::Pack(Pack::new())
    }
}

/// `ZADD`'s flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What one `ZADD` pair did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Added {
    pub added: bool,
    pub updated: bool,
    /// Not skipped by `NX`/`XX`/`GT`/`LT`.
    pub processed: bool,
    /// The member's score afterwards (for `INCR`).
    pub score: f64,
}

/// An increment made the score NaN (`inf` + `-inf`).
#[derive(Debug, PartialEq, Eq)]
pub struct NanScore;

impl Zset {
    pub fn new() -> Zset {
        Zset::default()
    }

    /// An empty set with the encoding Redis picks for `len` members of about `member_len` bytes
    /// (`zsetTypeCreate`).
    pub fn with_capacity(len: usize, member_len: usize, limits: ZsetLimits) -> Zset {
        if len <= limits.max_entries && member_len <= limits.max_value {
            Zset::Pack(Pack::new())
        } else {
            Zset::Skip(Box::new(Sorted::with_capacity(len)))
        }
    }

    /// A set of `items`, which must be in ascending (score, member) order without repeated members, in the
    /// encoding their number and sizes call for (for stored results and `RESTORE`).
    pub fn from_sorted<M: AsRef<[u8]>>(items: &[(M, f64)], limits: ZsetLimits) -> Zset {
        let longest = items.iter().map(|(m, _)| m.as_ref().len()).max().unwrap_or(0);
        if items.len() <= limits.max_entries && longest <= limits.max_value {
            let mut p = Pack::new();
            let mut buf = Vec::new();
            for (m, s) in items {
                buf.clear();
                encode_entry(&mut buf, *s, m.as_ref());
                p.push_back(&buf);
            }
            p.shrink_to_fit();
            Zset::Pack(p)
        } else {
            let mut sorted = Sorted::with_capacity(items.len());
            for (m, s) in items {
                sorted.insert(*s, m.as_ref().into());
            }
            Zset::Skip(Box::new(sorted))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Zset::Pack(p) => p.len(),
            Zset::Skip(s) => s.list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Zset::Pack(_) => "listpack",
            Zset::Skip(_) => "skiplist",
        }
    }

    /// The members and scores in ascending order (reversible).
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Zset::Pack(p) => Iter::Pack(p.iter()),
            Zset::Skip(s) => {
                Iter::Skip { list: &s.list, front: s.list.first(), back: s.list.last(), left: s.list.len() }
            }
        }
    }

    /// The members with 0-based ranks `lo..=hi` in ascending order (reversible); empty when out of range.
    pub fn range(&self, lo: usize, hi: usize) -> Iter<'_> {
        let len = self.len();
        if lo > hi || hi >= len {
            return Iter::Empty;
        }
        match self {
            Zset::Pack(p) => {
                let front = p.offset_of(lo as i64).unwrap_or(0);
                let back = if hi + 1 == len { p.end() } else { p.offset_of(hi as i64 + 1).unwrap_or(0) };
                Iter::Pack(p.iter_between(front, back))
            }
            Zset::Skip(s) => Iter::Skip {
                list: &s.list,
                front: s.list.by_rank(lo + 1),
                back: s.list.by_rank(hi + 1),
                left: hi - lo + 1,
            },
        }
    }

    /// The members from rank `from` to the end, or with `rev` from rank `from` down to the first.
    pub fn walk(&self, from: usize, rev: bool) -> Walk<'_> {
        let it = if rev { self.range(0, from) } else { self.range(from, self.len().saturating_sub(1)) };
        Walk { it, rev }
    }

    /// The member at 0-based `rank`.
    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            Zset::Pack(p) => p.get(p.offset_of(rank as i64)?).map(|(e, _)| {
                let (s, m) = decode_entry(e);
                (m, s)
            }),
            Zset::Skip(s) => {
                let id = s.list.by_rank(rank + 1);
                (id != NIL).then(|| (s.list.member(id), s.list.score(id)))
            }
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Zset::Pack(p) => p.iter().find(|e| entry_member(e) == member).map(|e| decode_entry(e).0),
            Zset::Skip(s) => s.find(member).map(|id| s.list.score(id)),
        }
    }

    /// The 0-based rank of `member` (lowest score first) and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            Zset::Pack(p) => p
                .iter()
                .enumerate()
                .find(|(_, e)| entry_member(e) == member)
                .map(|(i, e)| (i, decode_entry(e).0)),
            Zset::Skip(s) => {
                let id = s.find(member)?;
                Some((s.list.rank(id).saturating_sub(1), s.list.score(id)))
            }
        }
    }

    /// Converts a compact set to the skiplist encoding.
    pub fn convert(&mut self) {
        if let Zset::Pack(p) = self {
            let mut sorted = Sorted::with_capacity(p.len());
            for (s, m) in p.iter().map(decode_entry) {
                sorted.insert(s, m.into());
            }
            *self = Zset::Skip(Box::new(sorted));
        }
    }

    /// Converts ahead of a write that brings `pairs` pairs, as Redis 7.2 does when they are more than the
    /// compact encoding may hold (whether or not they are new members).
    pub fn expect_pairs(&mut self, pairs: usize, limits: ZsetLimits) {
        if matches!(self, Zset::Pack(_)) && pairs > limits.max_entries {
            self.convert();
        }
    }

    /// Adds a member or updates its score, as `ZADD` with `flags` does (Redis's `zsetAdd`).
    pub fn add(
        &mut self,
        score: f64,
        member: &[u8],
        flags: AddFlags,
        limits: ZsetLimits,
    ) -> Result<Added, NanScore> {
        let mut out = Added { score, ..Added::default() };
        // Where the member is (pack offset or node id) and its score.
        let current = match self {
            Zset::Pack(p) => p
                .iter_offsets()
                .find(|(_, e)| entry_member(e) == member)
                .map(|(at, e)| (at, decode_entry(e).0)),
            Zset::Skip(s) => s.find(member).map(|id| (id as usize, s.list.score(id))),
        };
        match current {
            Some((at, cur)) => {
                if flags.nx {
                    return Ok(out);
                }
                let mut score = score;
                if flags.incr {
                    score += cur;
                    if score.is_nan() {
                        return Err(NanScore);
                    }
                }
                if (flags.lt && score >= cur) || (flags.gt && score <= cur) {
                    return Ok(out);
                }
                out.processed = true;
                out.score = score;
                if score != cur {
                    out.updated = true;
                    match self {
                        Zset::Pack(p) => {
                            p.remove_at(at);
                            pack_insert(p, score, member);
                        }
                        Zset::Skip(s) => s.list.set_score(at as u32, score),
                    }
                }
            }
            None if flags.xx => {}
            None => {
                if let Zset::Pack(p) = self {
                    if p.len() < limits.max_entries && member.len() <= limits.max_value {
                        pack_insert(p, score, member);
                    } else {
                        self.convert();
                    }
                }
                if let Zset::Skip(s) = self {
                    s.insert(score, member.into());
                }
                out.added = true;
                out.processed = true;
            }
        }
        Ok(out)
    }

    /// Adds or updates a member with no flags; `true` if it is new.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: ZsetLimits) -> bool {
        self.add(score, member, AddFlags::default(), limits).is_ok_and(|a| a.added)
    }

    /// Removes a member; `true` if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Zset::Pack(p) => {
                let found = p.iter_offsets().find(|(_, e)| entry_member(e) == member).map(|(at, _)| at);
                found.is_some_and(|at| p.remove_at(at).is_some())
            }
            Zset::Skip(s) => s.remove(member),
        }
    }

    /// Removes and returns the member with the lowest score (or the highest with `max`).
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        match self {
            Zset::Pack(p) => {
                let e = if max { p.pop_back()? } else { p.pop_front()? };
                let (s, m) = decode_entry(&e);
                Some((m.to_vec(), s))
            }
            Zset::Skip(sorted) => {
                let id = if max { sorted.list.last() } else { sorted.list.first() };
                if id == NIL {
                    return None;
                }
                let score = sorted.list.score(id);
                let Sorted { list, table, hasher } = &mut **sorted;
                Sorted::forget(table, hasher, id, list.member(id));
                let member = list.remove(id);
                sorted.after_removals();
                Some((member.into_vec(), score))
            }
        }
    }

    /// The rank of the first member with a score in `range` (Redis's `zzlFirstInRange`/`zslFirstInRange`).
    pub fn first_in_score(&self, range: &ScoreRange) -> Option<usize> {
        if range.is_empty() {
            return None;
        }
        match self {
            Zset::Pack(p) => {
                let (i, (s, _)) =
                    p.iter().map(decode_entry).enumerate().find(|(_, (s, _))| range.gte_min(*s))?;
                range.lte_max(s).then_some(i)
            }
            Zset::Skip(s) => rank_of(&s.list, s.list.first_in_score(range)),
        }
    }

    /// The rank of the last member with a score in `range`.
    pub fn last_in_score(&self, range: &ScoreRange) -> Option<usize> {
        if range.is_empty() {
            return None;
        }
        match self {
            Zset::Pack(p) => {
                let len = p.len();
                let (i, (s, _)) =
                    p.iter().rev().map(decode_entry).enumerate().find(|(_, (s, _))| range.lte_max(*s))?;
                range.gte_min(s).then(|| len - 1 - i)
            }
            Zset::Skip(s) => rank_of(&s.list, s.list.last_in_score(range)),
        }
    }

    /// Redis's `zzlIsInLexRange`: the range can hold something, the last member is not below it and the first
    /// not above it. With mixed scores the members are not in lexicographic order, and these checks decide
    /// results that a scan alone would not.
    fn may_hold_lex(&self, range: &LexRange) -> bool {
        let (Some((first, _)), Some((last, _))) = (self.iter().next(), self.iter().next_back()) else {
            return false;
        };
        !range.is_empty() && range.gte_min(last) && range.lte_max(first)
    }

    /// The rank of the first member in the lexicographic `range`.
    pub fn first_in_lex(&self, range: &LexRange) -> Option<usize> {
        if !self.may_hold_lex(range) {
            return None;
        }
        match self {
            Zset::Pack(p) => {
                let (i, m) = p.iter().map(entry_member).enumerate().find(|(_, m)| range.gte_min(m))?;
                range.lte_max(m).then_some(i)
            }
            Zset::Skip(s) => rank_of(&s.list, s.list.first_in_lex(range)),
        }
    }

    /// The rank of the last member in the lexicographic `range`.
    pub fn last_in_lex(&self, range: &LexRange) -> Option<usize> {
        if !self.may_hold_lex(range) {
            return None;
        }
        match self {
            Zset::Pack(p) => {
                let len = p.len();
                let (i, m) = p.iter().rev().map(entry_member).enumerate().find(|(_, m)| range.lte_max(m))?;
                range.gte_min(m).then(|| len - 1 - i)
            }
            Zset::Skip(s) => rank_of(&s.list, s.list.last_in_lex(range)),
        }
    }

    /// Removes the members with 0-based ranks `start..=end` (which must be in range); returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        if start > end || end >= self.len() {
            return 0;
        }
        match self {
            Zset::Pack(p) => {
                let count = end - start + 1;
                if let Some(at) = p.offset_of(start as i64) {
                    p.remove_range(at, count);
                }
                count
            }
            Zset::Skip(sorted) => {
                let Sorted { list, table, hasher } = &mut **sorted;
                let n =
                    list.remove_rank_range(start + 1, end + 1, |id, m| Sorted::forget(table, hasher, id, m));
                sorted.after_removals();
                n
            }
        }
    }

    /// Removes the members with a score in `range`; returns how many.
    pub fn remove_scores(&mut self, range: &ScoreRange) -> usize {
        match self {
            Zset::Pack(_) => self.remove_run(|z| z.first_in_score(range), |s, _| range.lte_max(s)),
            Zset::Skip(sorted) => {
                let Sorted { list, table, hasher } = &mut **sorted;
                let n = list.remove_score_range(range, |id, m| Sorted::forget(table, hasher, id, m));
                sorted.after_removals();
                n
            }
        }
    }

    /// Removes the members in the lexicographic `range`; returns how many.
    pub fn remove_lex(&mut self, range: &LexRange) -> usize {
        match self {
            Zset::Pack(_) => self.remove_run(|z| z.first_in_lex(range), |_, m| range.lte_max(m)),
            Zset::Skip(sorted) => {
                let Sorted { list, table, hasher } = &mut **sorted;
                let n = list.remove_lex_range(range, |id, m| Sorted::forget(table, hasher, id, m));
                sorted.after_removals();
                n
            }
        }
    }

    /// Removes the run that starts at `first` and goes on while `keep` holds.
    fn remove_run(
        &mut self,
        first: impl Fn(&Zset) -> Option<usize>,
        keep: impl Fn(f64, &[u8]) -> bool,
    ) -> usize {
        let Some(start) = first(self) else { return 0 };
        match self.walk(start, false).take_while(|(m, s)| keep(*s, m)).count() {
            0 => 0,
            count => self.remove_ranks(start, start + count - 1),
        }
    }

    /// A random member and its score.
    pub fn random(&self) -> Option<(&[u8], f64)> {
        if self.is_empty() {
            return None;
        }
        self.at(fastrand::usize(..self.len()))
    }

    /// Gives back spare capacity after a write (a compact set is as small as Redis's listpack).
    pub fn trim(&mut self) {
        if let Zset::Pack(p) = self {
            if p.capacity() > p.byte_len() + p.byte_len() / 8 + 16 {
                p.shrink_to_fit();
            }
        }
    }

    /// Heap bytes held by the compact encoding (tests and memory checks).
    pub fn pack_bytes(&self) -> usize {
        match self {
            Zset::Pack(p) => p.capacity(),
            Zset::Skip(_) => 0,
        }
    }
}

fn rank_of(list: &SkipList, id: u32) -> Option<usize> {
    (id != NIL).then(|| list.rank(id).saturating_sub(1))
}

/// Inserts an entry at its place in a compact set (the member must be absent).
fn pack_insert(p: &mut Pack, score: f64, member: &[u8]) {
    let at = p
        .iter_offsets()
        .find(|(_, e)| {
            let (s, m) = decode_entry(e);
            after(s, m, score, member)
        })
        .map_or(p.end(), |(at, _)| at);
    let (code, len) = score_code(score);
    let mut buf = SmallVec::<[u8; 96]>::new();
    buf.extend_from_slice(code.get(..len).unwrap_or_default());
    buf.extend_from_slice(member);
    // The element's bytes plus its two length varints.
    p.reserve_exact(buf.len() + 2 * (1 + buf.len() / 128));
    p.insert_at(at, &buf);
}

/// The members of a set in order, from both ends.
pub enum Iter<'a> {
    Empty,
    Pack(pack::Iter<'a>),
    Skip { list: &'a SkipList, front: u32, back: u32, left: usize },
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Empty => None,
            Iter::Pack(it) => it.next().map(|e| {
                let (s, m) = decode_entry(e);
                (m, s)
            }),
            Iter::Skip { list, front, left, .. } => {
                if *left == 0 || *front == NIL {
                    return None;
                }
                let id = *front;
                *front = list.next(id);
                *left -= 1;
                Some((list.member(id), list.score(id)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Empty => (0, Some(0)),
            Iter::Pack(it) => it.size_hint(),
            Iter::Skip { left, .. } => (*left, Some(*left)),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Empty => None,
            Iter::Pack(it) => it.next_back().map(|e| {
                let (s, m) = decode_entry(e);
                (m, s)
            }),
            Iter::Skip { list, back, left, .. } => {
                if *left == 0 || *back == NIL {
                    return None;
                }
                let id = *back;
                *back = list.prev(id);
                *left -= 1;
                Some((list.member(id), list.score(id)))
            }
        }
    }
}

/// A walk from a rank towards one end.
pub struct Walk<'a> {
    it: Iter<'a>,
    rev: bool,
}

impl<'a> Iterator for Walk<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rev {
            self.it.next_back()
        } else {
            self.it.next()
        }
    }
}

impl Zset {
    /// Members with a score in `range` (`ZCOUNT`).
    pub fn count_scores(&self, range: &ScoreRange) -> usize {
        match self {
            Zset::Pack(_) => self
                .first_in_score(range)
                .map_or(0, |first| self.walk(first, false).take_while(|(_, s)| range.lte_max(*s)).count()),
            Zset::Skip(_) => match (self.first_in_score(range), self.last_in_score(range)) {
                (Some(first), Some(last)) if last >= first => last - first + 1,
                _ => 0,
            },
        }
    }

    /// Members in the lexicographic `range` (`ZLEXCOUNT`).
    pub fn count_lex(&self, range: &LexRange) -> usize {
        match self {
            Zset::Pack(_) => self
                .first_in_lex(range)
                .map_or(0, |first| self.walk(first, false).take_while(|(m, _)| range.lte_max(m)).count()),
            Zset::Skip(_) => match (self.first_in_lex(range), self.last_in_lex(range)) {
                (Some(first), Some(last)) if last >= first => last - first + 1,
                _ => 0,
            },
        }
    }
}

// ---- commands ----

use super::set::{Member, Set};
use super::skiplist::LexBound;
use super::{cursor_arg, int_arg, is, parse_float, scan_opts, timeout_arg};
use crate::blocking::{block, OnTimeout};
use crate::db::entry::Entry;
use crate::db::{page_by_hash, Db};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::server::Ctx;
use slotkv_proto::reply::format_double;
use slotkv_proto::Out;
use smallvec::SmallVec;
use std::borrow::Cow;

const NAN_RESULT: &str = "ERR resulting score is not a number (NaN)";
const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
/// A reply that grows past this is abandoned and its client closed, as an output buffer limit would: a
/// `ZRANDMEMBER` count of -10^18 asks for more than any memory (it makes Redis itself run out of memory).
const REPLY_CAP: usize = 512 << 20;

fn arg<'a>(a: &[&'a [u8]], i: usize) -> &'a [u8] {
    a.get(i).copied().unwrap_or_default()
}

/// The compact encoding's thresholds as configured now (`zset-max-listpack-*`).
pub fn limits(ctx: &Ctx) -> ZsetLimits {
    ZsetLimits {
        max_entries: ctx.srv.config.zset_max_listpack_entries,
        max_value: ctx.srv.config.zset_max_listpack_value,
    }
}

/// The sorted set at `key`: `Ok(None)` when missing, `WRONGTYPE` when another type.
fn get<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a Zset>, CmdError> {
    match db.get(key, now) {
        None => Ok(None),
        Some(e) => e.as_::<Zset>().map(Some).ok_or(CmdError::WrongType),
    }
}

fn get_mut<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a mut Zset>, CmdError> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => e.as_mut_::<Zset>().map(Some).ok_or(CmdError::WrongType),
    }
}

/// After removals from the set at `key`: deletes the key when the set is empty (Redis never leaves an empty
/// collection), else gives back spare capacity.
fn settle(db: &mut Db, key: &[u8], now: i64) {
    let empty = match db.get_mut(key, now).and_then(Entry::as_mut_::<Zset>) {
        Some(z) if z.is_empty() => true,
        Some(z) => {
            z.trim();
            false
        }
        None => false,
    };
    if empty {
        db.remove(key);
    }
}

/// Redis's `d2string` prints integral scores up to 2^62 as integers (`1e17` as `100000000000000000`); the
/// others as `format_double` does.
fn as_integer(d: f64) -> Option<i64> {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    (d.fract() == 0.0 && (-LIMIT..=LIMIT).contains(&d) && !(d == 0.0 && d.is_sign_negative()))
        .then_some(d as i64)
}

/// A score as Redis 7.2's `addReplyDouble` writes it: a double in RESP3, a bulk string in RESP2.
fn reply_score(out: &mut Out, d: f64) {
    match as_integer(d) {
        Some(i) => {
            let mut buf = itoa::Buffer::new();
            let text = buf.format(i).as_bytes();
            if out.resp3 {
                out.raw(b",");
                out.raw(text);
                out.raw(b"\r\n");
            } else {
                out.bulk(text);
            }
        }
        None => out.double(d),
    }
}

/// A score as text (`ZSCAN` returns scores as strings in both protocols).
fn score_text(d: f64) -> String {
    match as_integer(d) {
        Some(i) => itoa::Buffer::new().format(i).to_owned(),
        None => format_double(d),
    }
}

/// One member, with its score if asked: flat in RESP2, a nested pair in RESP3.
fn reply_member(out: &mut Out, member: &[u8], score: f64, withscores: bool) {
    if withscores && out.resp3 {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        reply_score(out, score);
    }
}

fn reply_members(out: &mut Out, items: &[(impl AsRef<[u8]>, f64)], withscores: bool) {
    out.array(if withscores && !out.resp3 { items.len() * 2 } else { items.len() });
    for (m, s) in items {
        reply_member(out, m.as_ref(), *s, withscores);
    }
}

/// A score or weight argument as Redis reads it (`getDoubleFromObject`): all of the string is a number, no
/// leading space, no NaN, no overflow to infinity or underflow to zero from a finite number.
fn float_arg(a: &[u8], err: CmdError) -> Result<f64, CmdError> {
    let Some(v) = parse_float(a) else { return Err(err) };
    let digits = a.strip_prefix(b"+").or_else(|| a.strip_prefix(b"-")).unwrap_or(a);
    let inf_text = digits.eq_ignore_ascii_case(b"inf") || digits.eq_ignore_ascii_case(b"infinity");
    if v.is_infinite() && !inf_text {
        return Err(err);
    }
    if v == 0.0 && mantissa_nonzero(digits) {
        return Err(err);
    }
    Ok(v)
}

/// Whether the digits before the exponent of a decimal or hexadecimal float (sign removed) are not all 0.
fn mantissa_nonzero(digits: &[u8]) -> bool {
    match digits.get(..2) {
        Some(b"0x" | b"0X") => digits
            .get(2..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| !matches!(b, b'p' | b'P'))
            .any(|b| b.is_ascii_hexdigit() && *b != b'0'),
        _ => digits.iter().take_while(|b| !matches!(b, b'e' | b'E')).any(|b| (b'1'..=b'9').contains(b)),
    }
}

/// A C `isspace` byte.
fn c_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// One end of a score range, as Redis's `zslParseRange` reads it: `(` for exclusive, then the rest as
/// `strtod` reads a C string (leading spaces allowed, the empty string is 0, overflow gives infinity).
fn score_bound(a: &[u8]) -> Option<(f64, bool)> {
    let a = a.split(|&b| b == 0).next().unwrap_or_default();
    let (ex, s) = match a.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, a),
    };
    if s.is_empty() {
        return Some((0.0, ex));
    }
    let start = s.iter().position(|&b| !c_space(b))?;
    Some((parse_float(s.get(start..)?)?, ex))
}

fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let bad = || CmdError::Static(NOT_FLOAT_RANGE);
    let (min, minex) = score_bound(min).ok_or_else(bad)?;
    let (max, maxex) = score_bound(max).ok_or_else(bad)?;
    Ok(ScoreRange { min, max, minex, maxex })
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member` (Redis reads `+` and `-` as C
/// strings, so a NUL may follow).
fn lex_bound(a: &[u8]) -> Option<LexBound<'_>> {
    let (first, rest) = a.split_first()?;
    let alone = rest.first().is_none_or(|&b| b == 0);
    match first {
        b'+' if alone => Some(LexBound::Max),
        b'-' if alone => Some(LexBound::Min),
        b'(' => Some(LexBound::Excl(rest)),
        b'[' => Some(LexBound::Incl(rest)),
        _ => None,
    }
}

fn lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, CmdError> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(CmdError::Static(NOT_LEX_RANGE)),
    }
}

/// A count that must be 0 or more, or `msg`.
fn non_negative(a: &[u8], msg: &'static str) -> Result<usize, CmdError> {
    int_arg(a).ok().and_then(|n| usize::try_from(n).ok()).ok_or(CmdError::Static(msg))
}

/// A count that must be 1 or more, or `msg`.
fn positive(a: &[u8], msg: &'static str) -> Result<usize, CmdError> {
    non_negative(a, msg).ok().filter(|&n| n > 0).ok_or(CmdError::Static(msg))
}

pub fn zadd(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, a, false)
}

/// `ZINCRBY key increment member`: Redis runs it through `ZADD`'s parser with `INCR` set, so an increment
/// spelled like a flag (`NX`) is a syntax error.
pub fn zincrby(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, a, true)
}

#[derive(Default)]
struct Tally {
    added: i64,
    updated: i64,
    processed: i64,
    score: f64,
}

fn zadd_pairs(
    z: &mut Zset,
    pairs: &[&[u8]],
    scores: &[f64],
    flags: AddFlags,
    limits: ZsetLimits,
) -> Result<Tally, CmdError> {
    let mut t = Tally::default();
    for (pair, &score) in pairs.chunks_exact(2).zip(scores) {
        let done = z.add(score, arg(pair, 1), flags, limits).map_err(|_| CmdError::Static(NAN_RESULT))?;
        t.added += done.added as i64;
        t.updated += done.updated as i64;
        if done.processed {
            t.processed += 1;
            t.score = done.score;
        }
    }
    Ok(t)
}

fn zadd_generic(ctx: &mut Ctx, a: &[&[u8]], incr: bool) -> CmdResult {
    let key = arg(a, 1);
    let mut flags = AddFlags { incr, ..AddFlags::default() };
    let mut ch = false;
    let mut at = 2;
    while let Some(opt) = a.get(at) {
        match () {
            _ if is(opt, "nx") => flags.nx = true,
            _ if is(opt, "xx") => flags.xx = true,
            _ if is(opt, "ch") => ch = true,
            _ if is(opt, "incr") => flags.incr = true,
            _ if is(opt, "gt") => flags.gt = true,
            _ if is(opt, "lt") => flags.lt = true,
            _ => break,
        }
        at += 1;
    }
    let pairs = a.get(at..).unwrap_or_default();
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(CmdError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::Static("ERR XX and NX options at the same time are not compatible"));
    }
    if ((flags.gt || flags.lt) && flags.nx) || (flags.gt && flags.lt) {
        return Err(CmdError::Static("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if flags.incr && pairs.len() > 2 {
        return Err(CmdError::Static("ERR INCR option supports a single increment-element pair"));
    }
    // Every score is checked before anything changes: the command applies fully or not at all.
    let scores = pairs
        .chunks_exact(2)
        .map(|p| float_arg(arg(p, 0), CmdError::NotFloat))
        .collect::<Result<SmallVec<[f64; 4]>, _>>()?;
    let limits = limits(ctx);
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let tally = match get_mut(&mut srv.db, key, now)? {
        Some(z) => {
            z.expect_pairs(scores.len(), limits);
            let t = zadd_pairs(z, pairs, &scores, flags, limits);
            z.trim();
            t?
        }
        None if flags.xx => Tally::default(),
        None => {
            let mut z = Zset::with_capacity(scores.len(), arg(pairs, 1).len(), limits);
            let t = zadd_pairs(&mut z, pairs, &scores, flags, limits);
            if !z.is_empty() {
                z.trim();
                srv.db.insert(Entry::collection(key, z, 0));
            }
            t?
        }
    };
    if flags.incr {
        if tally.processed > 0 {
            reply_score(&mut me.out, tally.score);
        } else {
            me.out.null();
        }
    } else {
        me.out.int(if ch { tally.added + tally.updated } else { tally.added });
    }
    Ok(())
}

pub fn zrem(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (key, now) = (arg(a, 1), ctx.now);
    let Ctx { srv, me, .. } = ctx;
    let mut removed = 0;
    if let Some(z) = get_mut(&mut srv.db, key, now)? {
        for member in a.iter().skip(2) {
            removed += z.remove(member) as i64;
            if z.is_empty() {
                break;
            }
        }
        settle(&mut srv.db, key, now);
    }
    me.out.int(removed);
    Ok(())
}

pub fn zcard(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let n = get(&mut ctx.srv.db, arg(a, 1), now)?.map_or(0, Zset::len);
    ctx.me.out.int(n as i64);
    Ok(())
}

pub fn zcount(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let range = score_range(arg(a, 2), arg(a, 3))?;
    let now = ctx.now;
    let n = get(&mut ctx.srv.db, arg(a, 1), now)?.map_or(0, |z| z.count_scores(&range));
    ctx.me.out.int(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let range = lex_range(arg(a, 2), arg(a, 3))?;
    let now = ctx.now;
    let n = get(&mut ctx.srv.db, arg(a, 1), now)?.map_or(0, |z| z.count_lex(&range));
    ctx.me.out.int(n as i64);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    match get(&mut srv.db, arg(a, 1), now)?.and_then(|z| z.score(arg(a, 2))) {
        Some(s) => reply_score(&mut me.out, s),
        None => me.out.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let z = get(&mut srv.db, arg(a, 1), now)?;
    let members = a.get(2..).unwrap_or_default();
    me.out.array(members.len());
    for m in members {
        match z.and_then(|z| z.score(m)) {
            Some(s) => reply_score(&mut me.out, s),
            None => me.out.null(),
        }
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, a, false)
}

pub fn zrevrank(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, a, true)
}

/// `Z[REV]RANK key member [WITHSCORE]` (Redis 7.2).
fn rank_generic(ctx: &mut Ctx, a: &[&[u8]], rev: bool) -> CmdResult {
    if a.len() > 4 {
        return Err(crate::error::wrong_arity(if rev { "zrevrank" } else { "zrank" }));
    }
    let withscore = match a.get(3) {
        Some(o) if is(o, "withscore") => true,
        Some(_) => return Err(CmdError::Syntax),
        None => false,
    };
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let found = match get(&mut srv.db, arg(a, 1), now)? {
        Some(z) => z.rank(arg(a, 2)).map(|(r, s)| (if rev { z.len() - 1 - r } else { r }, s)),
        None => None,
    };
    match found {
        Some((rank, score)) => {
            if withscore {
                me.out.array(2);
            }
            me.out.int(rank as i64);
            if withscore {
                reply_score(&mut me.out, score);
            }
        }
        None if withscore => me.out.null_array(),
        None => me.out.null(),
    }
    Ok(())
}

/// What a range command selects.
enum Spec<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// The 0-based span `lo..=hi` of ranks `start..=end` (negative from the end), `None` when empty.
fn rank_span(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// The members `spec` selects, in reply order, as Redis's `genericZrangeby*Command` walk them: from the
/// first member in range (the last with `rev`), past `offset` of them, then while in range, at most `limit`
/// (a negative limit is none; a negative offset selects nothing).
fn select<'z>(z: &'z Zset, spec: &Spec, rev: bool, offset: i64, limit: i64) -> Vec<(&'z [u8], f64)> {
    let len = z.len();
    let start = match spec {
        Spec::Rank(start, end) => {
            let Some((lo, hi)) = rank_span(len, *start, *end) else { return Vec::new() };
            return if rev {
                z.range(len - 1 - hi, len - 1 - lo).rev().collect()
            } else {
                z.range(lo, hi).collect()
            };
        }
        _ if offset < 0 || (offset > 0 && offset as u64 >= len as u64) => return Vec::new(),
        Spec::Score(r) => {
            if rev {
                z.last_in_score(r)
            } else {
                z.first_in_score(r)
            }
        }
        Spec::Lex(r) => {
            if rev {
                z.last_in_lex(r)
            } else {
                z.first_in_lex(r)
            }
        }
    };
    let offset = offset as usize;
    let Some(start) = start.and_then(|s| if rev { s.checked_sub(offset) } else { s.checked_add(offset) })
    else {
        return Vec::new();
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let in_range = |m: &[u8], s: f64| match spec {
        Spec::Score(r) => {
            if rev {
                r.gte_min(s)
            } else {
                r.lte_max(s)
            }
        }
        Spec::Lex(r) => {
            if rev {
                r.gte_min(m)
            } else {
                r.lte_max(m)
            }
        }
        Spec::Rank(..) => true,
    };
    z.walk(start, rev).take(limit).take_while(|(m, s)| in_range(m, *s)).collect()
}

/// `ZRANGE` and its family: the source key at `a[src]`, the range after it, then options. `dst` for
/// `ZRANGESTORE`. `by` and `rev` are fixed by the legacy commands and `Auto` for `ZRANGE`.
fn zrange_generic(
    ctx: &mut Ctx,
    a: &[&[u8]],
    src: usize,
    dst: Option<&[u8]>,
    mut by: By,
    fixed_rev: Option<bool>,
) -> CmdResult {
    let store = dst.is_some();
    let mut rev = fixed_rev.unwrap_or(false);
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src + 3;
    while let Some(opt) = a.get(j) {
        let left = a.len() - j - 1;
        if !store && is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && left >= 2 {
            offset = int_arg(arg(a, j + 1))?;
            limit = int_arg(arg(a, j + 2))?;
            j += 2;
        } else if fixed_rev.is_none() && !rev && is(opt, "rev") {
            rev = true;
        } else if by == By::Auto && is(opt, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(opt, "byscore") {
            by = By::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if by == By::Auto {
        by = By::Rank;
    }
    // Redis tells a LIMIT apart by its count: `LIMIT 0 -1` passes unnoticed.
    if limit != -1 && by == By::Rank {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::Static("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (mut min, mut max) = (arg(a, src + 1), arg(a, src + 2));
    if rev && by != By::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let spec = match by {
        By::Score => Spec::Score(score_range(min, max)?),
        By::Lex => Spec::Lex(lex_range(min, max)?),
        _ => Spec::Rank(int_arg(min)?, int_arg(max)?),
    };
    let (key, now, limits) = (arg(a, src), ctx.now, limits(ctx));
    let Ctx { srv, me, .. } = ctx;
    let Some(dst) = dst else {
        match get(&mut srv.db, key, now)? {
            None => me.out.array(0),
            Some(z) => reply_members(&mut me.out, &select(z, &spec, rev, offset, limit), withscores),
        }
        return Ok(());
    };
    let stored = match get(&mut srv.db, key, now)? {
        None => None,
        Some(z) => {
            let mut items = select(z, &spec, rev, offset, limit);
            if rev {
                items.reverse();
            }
            (!items.is_empty()).then(|| Zset::from_sorted(&items, limits))
        }
    };
    store_result(&mut srv.db, &mut me.out, dst, stored, now);
    Ok(())
}

/// Stores a computed set at `dst` and replies with its size; an empty result deletes `dst` instead.
fn store_result(db: &mut Db, out: &mut Out, dst: &[u8], z: Option<Zset>, now: i64) {
    match z {
        Some(z) if !z.is_empty() => {
            out.int(z.len() as i64);
            db.insert(Entry::collection(dst, z, 0));
        }
        _ => {
            db.delete(dst, now);
            out.int(0);
        }
    }
}

pub fn zrange(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Auto, None)
}

pub fn zrevrange(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Rank, Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Score, Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Score, Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Lex, Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Lex, Some(true))
}

pub fn zrangestore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 2, Some(arg(a, 1)), By::Auto, None)
}

/// `ZREMRANGEBYRANK`, `ZREMRANGEBYSCORE`, `ZREMRANGEBYLEX`.
fn zremrange(ctx: &mut Ctx, a: &[&[u8]], by: By) -> CmdResult {
    let (min, max) = (arg(a, 2), arg(a, 3));
    let spec = match by {
        By::Score => Spec::Score(score_range(min, max)?),
        By::Lex => Spec::Lex(lex_range(min, max)?),
        _ => Spec::Rank(int_arg(min)?, int_arg(max)?),
    };
    let (key, now) = (arg(a, 1), ctx.now);
    let Ctx { srv, me, .. } = ctx;
    let removed = match get_mut(&mut srv.db, key, now)? {
        None => 0,
        Some(z) => match &spec {
            Spec::Rank(start, end) => {
                rank_span(z.len(), *start, *end).map_or(0, |(lo, hi)| z.remove_ranks(lo, hi))
            }
            Spec::Score(r) => z.remove_scores(r),
            Spec::Lex(r) => z.remove_lex(r),
        },
    };
    if removed > 0 {
        settle(&mut srv.db, key, now);
    }
    me.out.int(removed as i64);
    Ok(())
}

pub fn zremrangebyrank(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zremrange(ctx, a, By::Rank)
}

pub fn zremrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zremrange(ctx, a, By::Score)
}

pub fn zremrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zremrange(ctx, a, By::Lex)
}

/// Pops up to `count` members from the set at `key` (which must hold one) and writes them: as
/// `[member, score]` pairs when `nested`, else flat.
fn pop_into(
    db: &mut Db,
    out: &mut Out,
    key: &[u8],
    now: i64,
    max: bool,
    count: usize,
    nested: bool,
) -> CmdResult {
    let Some(z) = get_mut(db, key, now)? else { return Ok(()) };
    let n = count.min(z.len());
    out.array(if nested { n } else { n * 2 });
    for _ in 0..n {
        if let Some((m, s)) = z.pop(max) {
            if nested {
                out.array(2);
            }
            out.bulk(&m);
            reply_score(out, s);
        }
    }
    settle(db, key, now);
    Ok(())
}

/// `ZPOPMIN`/`ZPOPMAX key [count]`.
fn zpop(ctx: &mut Ctx, a: &[&[u8]], max: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match a.get(2) {
        Some(c) => Some(non_negative(c, "ERR value is out of range, must be positive")?),
        None => None,
    };
    let (key, now) = (arg(a, 1), ctx.now);
    let Ctx { srv, me, .. } = ctx;
    if get(&mut srv.db, key, now)?.is_none() || count == Some(0) {
        me.out.array(0);
        return Ok(());
    }
    // RESP3 nests the pairs only when a count was given.
    let nested = me.out.resp3 && count.is_some();
    pop_into(&mut srv.db, &mut me.out, key, now, max, count.unwrap_or(1), nested)
}

pub fn zpopmin(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zpop(ctx, a, false)
}

pub fn zpopmax(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zpop(ctx, a, true)
}

/// The first of `keys` that holds a sorted set (they are never empty); `WRONGTYPE` if the first existing
/// key holds something else, as Redis checks.
fn first_nonempty<'k>(db: &mut Db, keys: &[&'k [u8]], now: i64) -> Result<Option<&'k [u8]>, CmdError> {
    for key in keys {
        if get(db, key, now)?.is_some_and(|z| !z.is_empty()) {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// `BZPOPMIN`/`BZPOPMAX key [key ...] timeout`: `[key, member, score]`, or block.
fn bzpop(ctx: &mut Ctx, a: &[&[u8]], max: bool) -> CmdResult {
    let deadline = timeout_arg(arg(a, a.len().saturating_sub(1)), ctx.now)?;
    let keys = a.get(1..a.len().saturating_sub(1)).unwrap_or_default();
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let Some(key) = first_nonempty(&mut srv.db, keys, now)? else {
        return block(ctx, keys, deadline, OnTimeout::NullArray);
    };
    if let Some((m, s)) = get_mut(&mut srv.db, key, now)?.and_then(|z| z.pop(max)) {
        me.out.array(3);
        me.out.bulk(key);
        me.out.bulk(&m);
        reply_score(&mut me.out, s);
    }
    settle(&mut srv.db, key, now);
    Ok(())
}

pub fn bzpopmin(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    bzpop(ctx, a, false)
}

pub fn bzpopmax(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    bzpop(ctx, a, true)
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]` and `BZMPOP timeout numkeys ...`.
fn zmpop_generic(ctx: &mut Ctx, a: &[&[u8]], numkeys_at: usize, blocking: bool) -> CmdResult {
    let numkeys = positive(arg(a, numkeys_at), "ERR numkeys should be greater than 0")?;
    let first = numkeys_at + 1;
    let where_at = numkeys.checked_add(first).filter(|&w| w < a.len()).ok_or(CmdError::Syntax)?;
    let max = match arg(a, where_at) {
        w if is(w, "min") => false,
        w if is(w, "max") => true,
        _ => return Err(CmdError::Syntax),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while let Some(opt) = a.get(j) {
        if count.is_none() && is(opt, "count") && j + 1 < a.len() {
            count = Some(positive(arg(a, j + 1), "ERR count should be greater than 0")?);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let deadline = if blocking { Some(timeout_arg(arg(a, 1), ctx.now)?) } else { None };
    let keys = a.get(first..where_at).unwrap_or_default();
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    match first_nonempty(&mut srv.db, keys, now)? {
        Some(key) => {
            me.out.array(2);
            me.out.bulk(key);
            pop_into(&mut srv.db, &mut me.out, key, now, max, count.unwrap_or(1), true)
        }
        None => match deadline {
            Some(deadline) => block(ctx, keys, deadline, OnTimeout::NullArray),
            None => {
                me.out.null_array();
                Ok(())
            }
        },
    }
}

pub fn zmpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zmpop_generic(ctx, a, 1, false)
}

pub fn bzmpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zmpop_generic(ctx, a, 2, true)
}

/// An input of `ZUNION` and friends: a sorted set, or a set whose members count with score 1.
enum Src<'a> {
    Missing,
    Zset(&'a Zset),
    Set(&'a Set),
}

type Members<'a> = Box<dyn Iterator<Item = (Cow<'a, [u8]>, f64)> + 'a>;

impl<'a> Src<'a> {
    fn of(e: Option<&'a Entry>) -> Src<'a> {
        match e {
            Some(e) => match (e.as_::<Zset>(), e.as_::<Set>()) {
                (Some(z), _) => Src::Zset(z),
                (_, Some(s)) => Src::Set(s),
                _ => Src::Missing,
            },
            None => Src::Missing,
        }
    }

    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Zset(z) => z.len(),
            Src::Set(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Zset(z) => z.score(member),
            Src::Set(s) => set_contains(s, member).then_some(1.0),
        }
    }

    fn members(&self) -> Members<'a> {
        match self {
            Src::Missing => Box::new(std::iter::empty()),
            Src::Zset(z) => Box::new(z.iter().map(|(m, s)| (Cow::Borrowed(m), s))),
            Src::Set(s) => set_members(s),
        }
    }
}

/// A set read as a sorted-set input: every member with score 1, as Redis counts it.
fn set_members<'a>(set: &'a Set) -> Members<'a> {
    Box::new(set.iter().map(|m| {
        let member = match m {
            Member::Str(s) => Cow::Borrowed(s),
            Member::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
        };
        (member, 1.0)
    }))
}

fn set_contains(set: &Set, member: &[u8]) -> bool {
    set.contains(member)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis's `zunionInterAggregate`: a sum of `inf` and `-inf` is 0.
fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

/// `ZUNION`, `ZINTER`, `ZDIFF`, their `*STORE` forms (`dst`) and `ZINTERCARD` (`card`), as Redis's
/// `zunionInterDiffGenericCommand`: the keys are checked for type before the options are read.
fn zsetop(ctx: &mut Ctx, a: &[&[u8]], dst: Option<&[u8]>, op: SetOp, card: bool, name: &str) -> CmdResult {
    let numkeys_at = if dst.is_some() { 2 } else { 1 };
    let setnum = int_arg(arg(a, numkeys_at))?;
    if setnum < 1 {
        return Err(CmdError::Msg(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    let first = numkeys_at + 1;
    let setnum = usize::try_from(setnum)
        .ok()
        .filter(|&n| n <= a.len().saturating_sub(first))
        .ok_or(CmdError::Syntax)?;
    let keys = a.get(first..first + setnum).unwrap_or_default();
    let now = ctx.now;
    for key in keys {
        if let Some(e) = ctx.srv.db.get(key, now) {
            if e.as_::<Zset>().is_none() && e.as_::<Set>().is_none() {
                return Err(CmdError::WrongType);
            }
        }
    }
    let mut weights = vec![1.0; setnum];
    let (mut how, mut withscores, mut limit) = (Aggregate::Sum, false, 0usize);
    let mut j = first + setnum;
    while j < a.len() {
        let (opt, remaining) = (arg(a, j), a.len() - j);
        if op != SetOp::Diff && !card && remaining > setnum && is(opt, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = float_arg(arg(a, j + 1 + i), CmdError::Static("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card && remaining >= 2 && is(opt, "aggregate") {
            how = match arg(a, j + 1) {
                h if is(h, "sum") => Aggregate::Sum,
                h if is(h, "min") => Aggregate::Min,
                h if is(h, "max") => Aggregate::Max,
                _ => return Err(CmdError::Syntax),
            };
            j += 2;
        } else if dst.is_none() && !card && is(opt, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(opt, "limit") {
            limit = non_negative(arg(a, j + 1), "ERR LIMIT can't be negative")?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let limits = limits(ctx);
    let Ctx { srv, me, .. } = ctx;
    let db = &srv.db;
    let mut srcs: Vec<(Src, f64)> = keys.iter().map(|k| Src::of(db.peek(k, now))).zip(weights).collect();
    // Smallest first, as Redis orders them (not for a difference, whose first set is special).
    if op != SetOp::Diff {
        srcs.sort_by_key(|(s, _)| s.len());
    }
    let (head, rest) = srcs.split_first().ok_or(CmdError::Syntax)?;
    let mut items: Vec<(Cow<[u8]>, f64)> = Vec::new();
    let mut found = 0usize;
    match op {
        SetOp::Inter if head.0.len() > 0 => {
            for (m, s) in head.0.members() {
                let mut score = head.1 * s;
                if score.is_nan() {
                    score = 0.0;
                }
                let mut everywhere = true;
                for (src, w) in rest {
                    match src.score(&m) {
                        Some(v) => aggregate(&mut score, v * w, how),
                        None => {
                            everywhere = false;
                            break;
                        }
                    }
                }
                if !everywhere {
                    continue;
                }
                if card {
                    found += 1;
                    if limit > 0 && found >= limit {
                        break;
                    }
                } else {
                    items.push((m, score));
                }
            }
        }
        SetOp::Inter => {}
        SetOp::Union => {
            let largest = srcs.last().map_or(0, |(s, _)| s.len());
            let mut acc: hashbrown::HashMap<Cow<[u8]>, f64, foldhash::fast::RandomState> =
                hashbrown::HashMap::with_capacity_and_hasher(largest, Default::default());
            for (src, w) in &srcs {
                for (m, s) in src.members() {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.entry(m) {
                        hashbrown::hash_map::Entry::Occupied(mut o) => aggregate(o.get_mut(), score, how),
                        hashbrown::hash_map::Entry::Vacant(v) => {
                            v.insert(score);
                        }
                    }
                }
            }
            items = acc.into_iter().collect();
        }
        SetOp::Diff => {
            items = head
                .0
                .members()
                .filter(|(m, _)| rest.iter().all(|(src, _)| src.score(m).is_none()))
                .collect();
        }
    }
    if card {
        me.out.int(found as i64);
        return Ok(());
    }
    items.sort_unstable_by(|x, y| {
        x.1.partial_cmp(&y.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| x.0.cmp(&y.0))
    });
    match dst {
        None => reply_members(&mut me.out, &items, withscores),
        Some(dst) => {
            let z = (!items.is_empty()).then(|| Zset::from_sorted(&items, limits));
            drop(items);
            drop(srcs);
            store_result(&mut srv.db, &mut me.out, dst, z, now);
        }
    }
    Ok(())
}

pub fn zunion(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Union, false, "zunion")
}

pub fn zinter(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Inter, false, "zinter")
}

pub fn zdiff(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Diff, false, "zdiff")
}

pub fn zunionstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, Some(arg(a, 1)), SetOp::Union, false, "zunionstore")
}

pub fn zinterstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, Some(arg(a, 1)), SetOp::Inter, false, "zinterstore")
}

pub fn zdiffstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, Some(arg(a, 1)), SetOp::Diff, false, "zdiffstore")
}

pub fn zintercard(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Inter, true, "zintercard")
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`. A negative count may repeat members; its picks are written as
/// they are drawn.
pub fn zrandmember(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let count = match a.get(2) {
        Some(c) => match int_arg(c)? {
            i64::MIN => return Err(CmdError::Static(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )),
            n => Some(n),
        },
        None => None,
    };
    let withscores = match a.get(3) {
        Some(o) if a.len() == 4 && is(o, "withscores") => true,
        Some(_) => return Err(CmdError::Syntax),
        None => false,
    };
    if withscores && count.is_some_and(|c| !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&c)) {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let (key, now) = (arg(a, 1), ctx.now);
    let Ctx { srv, me, .. } = ctx;
    let z = get(&mut srv.db, key, now)?;
    let Some(count) = count else {
        match z.and_then(Zset::random) {
            Some((m, _)) => me.out.bulk(m),
            None => me.out.null(),
        }
        return Ok(());
    };
    let Some(z) = z.filter(|_| count != 0) else {
        me.out.array(0);
        return Ok(());
    };
    let out = &mut me.out;
    let len = z.len();
    let header = |out: &mut Out, n: usize| out.array(if withscores && !out.resp3 { n * 2 } else { n });
    if count < 0 || count == 1 {
        let n = count.unsigned_abs() as usize;
        let start = out.buf.len();
        header(out, n);
        // A compact set is read once; a large one is sampled by rank.
        let all: Vec<(&[u8], f64)> = if matches!(z, Zset::Pack(_)) { z.iter().collect() } else { Vec::new() };
        for _ in 0..n {
            let pick =
                if all.is_empty() { z.random() } else { all.get(fastrand::usize(..all.len())).copied() };
            if let Some((m, s)) = pick {
                reply_member(out, m, s, withscores);
            }
            if out.buf.len() - start > REPLY_CAP {
                out.buf.truncate(start);
                me.close_after_reply = true;
                return Ok(());
            }
        }
        return Ok(());
    }
    let count = count as usize;
    if count >= len {
        // The whole set, highest first, as Redis walks it.
        header(out, len);
        for (m, s) in z.iter().rev() {
            reply_member(out, m, s, withscores);
        }
        return Ok(());
    }
    let ranks = distinct_ranks(len, count);
    header(out, count);
    match z {
        // Redis samples a listpack in its order.
        Zset::Pack(_) => {
            let mut ranks = ranks;
            ranks.sort_unstable();
            let mut wanted = ranks.into_iter().peekable();
            for (i, (m, s)) in z.iter().enumerate() {
                if wanted.next_if_eq(&i).is_some() {
                    reply_member(out, m, s, withscores);
                }
            }
        }
        Zset::Skip(_) => {
            for r in ranks {
                if let Some((m, s)) = z.at(r) {
                    reply_member(out, m, s, withscores);
                }
            }
        }
    }
    Ok(())
}

/// `count` distinct ranks below `len` (`count < len`), in random order.
fn distinct_ranks(len: usize, count: usize) -> Vec<usize> {
    if count * 3 > len {
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = fastrand::usize(i..len);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = hashbrown::HashSet::with_capacity(count);
        let mut picks = Vec::with_capacity(count);
        while picks.len() < count {
            let r = fastrand::usize(..len);
            if seen.insert(r) {
                picks.push(r);
            }
        }
        picks
    }
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`. A compact set comes back whole with cursor 0, as Redis
/// returns a listpack; a large one is paged by member hash, as `HSCAN` pages a hash table.
pub fn zscan(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let cursor = cursor_arg(arg(a, 2))?;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let db = &srv.db;
    let z = match db.peek(arg(a, 1), now) {
        None => None,
        Some(e) => Some(e.as_::<Zset>().ok_or(CmdError::WrongType)?),
    };
    // Redis reads the options only for an existing key.
    let opts = if z.is_some() { scan_opts(a, 3, false, false)? } else { scan_opts(&[], 0, false, false)? };
    let (page, next): (Vec<(&[u8], f64)>, Option<u64>) = match z {
        None => (Vec::new(), None),
        Some(z @ Zset::Pack(_)) => (z.iter().collect(), None),
        Some(z) => {
            let items = z.iter().map(|p| ((db.key_hash(p.0) >> 1).max(1), p)).filter(|(h, _)| *h >= cursor);
            page_by_hash(items.collect(), opts.count)
        }
    };
    let page: Vec<(&[u8], f64)> =
        page.into_iter().filter(|(m, _)| opts.pattern.is_none_or(|p| glob_match(p, m, false))).collect();
    me.out.array(2);
    me.out.bulk(itoa::Buffer::new().format(next.unwrap_or(0)).as_bytes());
    me.out.array(page.len() * 2);
    for (m, s) in page {
        me.out.bulk(m);
        me.out.bulk(score_text(s).as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> ZsetLimits {
        ZsetLimits { max_entries: 4, max_value: 8 }
    }

    fn members(z: &Zset) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn entries_round_trip_compactly() {
        for (score, len) in [
            (0.0, 1),
            (1.5, 1),
            (111.5, 1),
            (112.0, 3),
            (-1.0, 3),
            (-0.5, 3),
            (16383.5, 3),
            (70000.0, 5),
            (70000.5, 5),
            (0.25, 5),
            (0.1, 9),
            (1.7e12, 7),
            (-1.7e12, 7),
            (1e300, 9),
            (f64::INFINITY, 5),
            (f64::NEG_INFINITY, 5),
            (4e15, 9),
        ] {
            let mut buf = vec![];
            encode_entry(&mut buf, score, b"m");
            assert_eq!(buf.len(), len + 1, "{score}");
            assert_eq!(decode_entry(&buf), (score, &b"m"[..]));
            assert_eq!(entry_member(&buf), b"m");
        }
        // -0 is stored as 0, as a listpack stores it.
        let mut buf = vec![];
        encode_entry(&mut buf, -0.0, b"");
        assert!(decode_entry(&buf).0.is_sign_positive());
    }

    #[test]
    fn a_hundred_members_fit_in_a_small_pack() {
        let mut z = Zset::new();
        for j in 0..100 {
            z.insert(format!("member:{j}").as_bytes(), j as f64 * 1.5, ZsetLimits::default());
        }
        z.trim();
        assert_eq!(z.encoding(), "listpack");
        assert!(z.pack_bytes() <= 1280, "{}", z.pack_bytes());
        assert_eq!(z.score(b"member:7"), Some(10.5));
        assert_eq!(z.rank(b"member:99"), Some((99, 148.5)));
    }

    #[test]
    fn add_flags_and_conversion() {
        let l = small();
        let mut z = Zset::new();
        let f = AddFlags::default();
        assert!(z.add(1.0, b"a", f, l).unwrap().added);
        let nx = AddFlags { nx: true, ..f };
        assert!(!z.add(5.0, b"a", nx, l).unwrap().processed);
        let gt = AddFlags { gt: true, ..f };
        assert!(!z.add(0.5, b"a", gt, l).unwrap().updated);
        assert!(z.add(2.0, b"a", gt, l).unwrap().updated);
        let incr = AddFlags { incr: true, ..f };
        assert_eq!(z.add(1.5, b"a", incr, l).unwrap().score, 3.5);
        assert_eq!(z.add(f64::INFINITY, b"a", incr, l).unwrap().score, f64::INFINITY);
        assert_eq!(z.add(f64::NEG_INFINITY, b"a", incr, l), Err(NanScore));
        let xx = AddFlags { xx: true, ..f };
        assert!(!z.add(1.0, b"new", xx, l).unwrap().processed);
        assert_eq!(z.len(), 1);
        for m in [b"b", b"c", b"d"] {
            z.insert(m, 0.0, l);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"e", 0.0, l);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(members(&z).first().map(|(m, _)| m.clone()), Some(b"b".to_vec()));
        let mut z = Zset::new();
        z.insert(b"123456789", 1.0, l);
        assert_eq!(z.encoding(), "skiplist");
        let mut z = Zset::new();
        z.expect_pairs(5, l);
        assert_eq!(z.encoding(), "skiplist");
    }

    #[test]
    fn a_set_that_shrank_is_compacted() {
        let mut z = Zset::new();
        for i in 0..10_000 {
            z.insert(format!("m{i}").as_bytes(), i as f64, ZsetLimits::default());
        }
        assert_eq!(z.remove_ranks(0, 8999), 9000);
        let Zset::Skip(s) = &z else { panic!("not a skiplist") };
        assert_eq!((s.list.len(), s.list.slots()), (1000, 1000));
        assert!(s.table.capacity() < 2000);
        assert_eq!(z.rank(b"m9000"), Some((0, 9000.0)));
        for i in 0..990 {
            assert!(z.remove(format!("m{}", 9000 + i).as_bytes()));
        }
        let Zset::Skip(s) = &z else { panic!("not a skiplist") };
        assert!(s.list.slots() < 100, "{}", s.list.slots());
        assert_eq!(z.iter().map(|(m, _)| m.to_vec()).collect::<Vec<_>>().len(), 10);
    }

    #[test]
    fn from_sorted_picks_the_encoding() {
        let items = [(&b"a"[..], 1.0), (b"b", 2.0)];
        assert_eq!(Zset::from_sorted(&items, small()).encoding(), "listpack");
        assert_eq!(
            Zset::from_sorted(&items, ZsetLimits { max_entries: 1, max_value: 8 }).encoding(),
            "skiplist"
        );
        assert_eq!(
            Zset::from_sorted(&items, ZsetLimits { max_entries: 4, max_value: 0 }).encoding(),
            "skiplist"
        );
        let z = Zset::from_sorted(&items, ZsetLimits { max_entries: 1, max_value: 8 });
        assert_eq!(members(&z), vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.0)]);
    }

    #[test]
    fn range_arguments_like_redis() {
        assert_eq!(score_bound(b""), Some((0.0, false)));
        assert_eq!(score_bound(b"("), Some((0.0, true)));
        assert_eq!(score_bound(b" 1"), Some((1.0, false)));
        assert_eq!(score_bound(b"   "), None);
        assert_eq!(score_bound(b"1 "), None);
        assert_eq!(score_bound(b"1e500"), Some((f64::INFINITY, false)));
        assert_eq!(score_bound(b"(-inf"), Some((f64::NEG_INFINITY, true)));
        assert_eq!(score_bound(b"nan"), None);
        assert_eq!(score_bound(b"5\0junk"), Some((5.0, false)));
        assert_eq!(lex_bound(b"-"), Some(LexBound::Min));
        assert_eq!(lex_bound(b"+x"), None);
        assert_eq!(lex_bound(b"[a"), Some(LexBound::Incl(b"a")));
        assert_eq!(lex_bound(b"("), Some(LexBound::Excl(b"")));
        assert_eq!(lex_bound(b""), None);
        assert_eq!(lex_bound(b"a"), None);
        let nf = || CmdError::NotFloat;
        assert_eq!(float_arg(b"1e-400", nf()), Err(nf()));
        assert_eq!(float_arg(b"1e500", nf()), Err(nf()));
        assert_eq!(float_arg(b"-inf", nf()), Ok(f64::NEG_INFINITY));
        assert_eq!(float_arg(b"0e5", nf()), Ok(0.0));
        assert_eq!(float_arg(b"0x0p3", nf()), Ok(0.0));
        assert_eq!(float_arg(b"0x1p-2000", nf()), Err(nf()));
        assert_eq!(float_arg(b" 1", nf()), Err(nf()));
    }

    #[test]
    fn scores_print_as_redis_7_2() {
        assert_eq!(score_text(1e17), "100000000000000000");
        assert_eq!(score_text(123456789012345678.0), "123456789012345680");
        assert_eq!(score_text(1e20), "1e+20");
        assert_eq!(score_text(-0.0), "-0");
        assert_eq!(score_text(0.1), "0.1");
        assert_eq!(score_text(-3.0), "-3");
        assert_eq!(score_text(f64::INFINITY), "inf");
    }

    /// A model: (score, member) in order.
    type Model = Vec<(f64, Vec<u8>)>;

    fn model_add(model: &mut Model, score: f64, member: &[u8]) {
        model.retain(|(_, m)| m != member);
        let at = model.partition_point(|(s, m)| (*s, &m[..]) < (score, member));
        model.insert(at, (score, member.to_vec()));
    }

    proptest! {
        #[test]
        fn any_score_round_trips(bits in any::<u64>(), small in -300_000i64..300_000, member in proptest::collection::vec(any::<u8>(), 0..20)) {
            for score in [f64::from_bits(bits), small as f64 / 2.0, small as f64 * 1e7] {
                if score.is_nan() {
                    continue;
                }
                let mut buf = vec![];
                encode_entry(&mut buf, score, &member);
                let (s, m) = decode_entry(&buf);
                prop_assert_eq!(m, &member[..]);
                prop_assert_eq!(entry_member(&buf), &member[..]);
                prop_assert!(s == score && (s.to_bits() == score.to_bits() || score == 0.0), "{} {}", score, s);
            }
        }

        #[test]
        fn both_encodings_behave_like_a_sorted_vec(
            ops in proptest::collection::vec((0u8..9, 0u8..8, 0u8..30, 0u8..30), 0..200),
            max_entries in 0usize..12,
        ) {
            let limits = ZsetLimits { max_entries, max_value: 64 };
            let mut z = Zset::new();
            let mut model: Model = vec![];
            for (op, s, m, n) in ops {
                let score = s as f64 * 0.5 - 1.0;
                let member = format!("m{m}").into_bytes();
                match op {
                    0 | 1 => {
                        let was = model.iter().any(|(_, x)| *x == member);
                        prop_assert_eq!(z.insert(&member, score, limits), !was);
                        model_add(&mut model, score, &member);
                    }
                    2 => {
                        let was = model.iter().any(|(_, x)| *x == member);
                        prop_assert_eq!(z.remove(&member), was);
                        model.retain(|(_, x)| *x != member);
                    }
                    3 => {
                        let got = z.pop(n % 2 == 0);
                        let want = if n % 2 == 0 { model.pop() } else if model.is_empty() { None } else { Some(model.remove(0)) };
                        prop_assert_eq!(got, want.map(|(s, m)| (m, s)));
                    }
                    4 => {
                        let (lo, hi) = ((m % 10) as usize, (m % 10 + n % 6) as usize);
                        let got = z.remove_ranks(lo, hi);
                        let want = if hi < model.len() { model.drain(lo..=hi).count() } else { 0 };
                        prop_assert_eq!(got, want);
                    }
                    5 => {
                        let r = ScoreRange { min: score, max: score + (n % 5) as f64 * 0.5, minex: n % 2 == 0, maxex: n % 3 == 0 };
                        prop_assert_eq!(z.count_scores(&r), model.iter().filter(|(s, _)| r.contains(*s)).count());
                        let first = model.iter().position(|(s, _)| r.contains(*s));
                        prop_assert_eq!(z.first_in_score(&r), first);
                        prop_assert_eq!(z.last_in_score(&r), model.iter().rposition(|(s, _)| r.contains(*s)));
                        let got = z.remove_scores(&r);
                        let before = model.len();
                        model.retain(|(s, _)| !r.contains(*s));
                        prop_assert_eq!(got, before - model.len());
                    }
                    6 => {
                        let got = z.rank(&member);
                        let want = model.iter().position(|(_, x)| *x == member).map(|i| (i, model[i].0));
                        prop_assert_eq!(got, want);
                        prop_assert_eq!(z.score(&member), want.map(|w| w.1));
                    }
                    7 => {
                        let (lo, hi) = ((m % 10) as usize, (m % 10 + n % 6) as usize);
                        let got: Vec<(Vec<u8>, f64)> = z.range(lo, hi).rev().map(|(m, s)| (m.to_vec(), s)).collect();
                        let mut want: Vec<(Vec<u8>, f64)> = if hi < model.len() { model[lo..=hi].iter().map(|(s, m)| (m.clone(), *s)).collect() } else { vec![] };
                        want.reverse();
                        prop_assert_eq!(got, want);
                        let walked: Vec<Vec<u8>> = z.walk(lo, n % 2 == 0).map(|(m, _)| m.to_vec()).collect();
                        let want: Vec<Vec<u8>> = if lo >= model.len() { vec![] } else if n % 2 == 0 {
                            model[..=lo].iter().rev().map(|(_, m)| m.clone()).collect()
                        } else {
                            model[lo..].iter().map(|(_, m)| m.clone()).collect()
                        };
                        prop_assert_eq!(walked, want);
                    }
                    _ => {
                        // Equal scores make lexicographic ranges meaningful: test them on a copy.
                        let mut flat = Zset::from_sorted(&[] as &[(&[u8], f64)], limits);
                        for (_, x) in &model { flat.insert(x, 0.0, limits); }
                        let (a, b) = (format!("m{}", m % 10).into_bytes(), format!("m{}", n % 30).into_bytes());
                        let r = LexRange { min: LexBound::Incl(&a), max: LexBound::Excl(&b) };
                        let mut sorted: Vec<Vec<u8>> = model.iter().map(|(_, x)| x.clone()).collect();
                        sorted.sort();
                        let inside = sorted.iter().filter(|x| r.gte_min(x) && r.lte_max(x)).count();
                        prop_assert_eq!(flat.count_lex(&r), inside);
                        prop_assert_eq!(flat.remove_lex(&r), inside);
                        prop_assert_eq!(flat.len(), sorted.len() - inside);
                    }
                }
                prop_assert_eq!(members(&z), model.iter().map(|(s, m)| (m.clone(), *s)).collect::<Vec<_>>());
                prop_assert_eq!(z.len(), model.len());
                if z.len() > max_entries {
                    prop_assert_eq!(z.encoding(), "skiplist");
                }
            }
        }
    }
}
