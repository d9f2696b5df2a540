//! Set values, in Redis 7.2's three encodings (as `OBJECT ENCODING` names them):
//!
//! - `intset`: a sorted array of integers, 16, 32 or 64 bits wide as the largest magnitude needs (widened,
//!   never narrowed), while every member is an integer in canonical form (as Redis's `string2ll` reads it:
//!   `7`, `-5`, not `07`, `+7` or `-0`) and there are at most `set-max-intset-entries` of them.
//! - `listpack`: a [`Pack`] in insertion order, while there are at most `set-max-listpack-entries` members
//!   of at most `set-max-listpack-value` bytes each.
//! - `hashtable`: otherwise. The members sit in a vector, found through a hash table of their positions, so
//!   that a random member (`SPOP`, `SRANDMEMBER`) costs O(1) as it does in Redis's dict.
//!
//! Conversions follow Redis 7.2 (`t_set.c`): an intset given a non-integer becomes a listpack if that and
//! its integers fit the listpack limits, else a hash table; an intset past its entry limit becomes a hash
//! table (not a listpack); a listpack past its limits becomes a hash table. Removing members never
//! converts back; only whole rebuilds pick a smaller encoding, as in Redis: `SINTERSTORE` stores an
//! all-integer result as an intset, and `SPOP` with a count that leaves few members rebuilds the set from
//! them. The limits are read at each write, so `CONFIG SET` applies from the next change on.

use super::pack::Pack;
use hashbrown::hash_table::{Entry as Slot, HashTable};
use slotkv_proto::request::parse_i64;
use std::hash::BuildHasher;

type Bytes = Box<[u8]>;

/// Redis does not grow a listpack past 1 GB (`lpSafeToAdd`); a set that would goes to a hash table.
const PACK_MAX_BYTES: usize = 1 << 30;

/// The encoding limits, from `set-max-intset-entries`, `set-max-listpack-entries` and
/// `set-max-listpack-value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetLimits {
    pub max_intset: usize,
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits { max_intset: 512, max_entries: 128, max_value: 64 }
    }
}

impl SetLimits {
    /// Redis caps intsets at 2^30 entries whatever the setting says.
    fn intset_max(&self) -> usize {
        self.max_intset.min(1 << 30)
    }
}

/// A member as a set yields it: an intset holds integers, the other encodings bytes. An integer stands for
/// its decimal form (`Member::Int(-5)` is the member `-5`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Member<'_> {
    /// Runs `f` on the member's bytes (an integer is formatted on the stack).
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Str(s) => f(s),
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }

    /// The member as an integer, if it is one in canonical form.
    pub fn as_int(self) -> Option<i64> {
        match self {
            Member::Int(n) => Some(n),
            Member::Str(s) => parse_i64(s),
        }
    }
}

/// Grows a vector by about an eighth when it is full, rather than doubling it: sets are mostly built one
/// member at a time, and a tight buffer is what makes the compact encodings compact.
fn grow(v: &mut Vec<u8>, need: usize) {
    if v.capacity() - v.len() < need {
        v.reserve_exact(need.max(v.len() / 8));
    }
}

/// The `intset` encoding, laid out as Redis's intset: sorted integers, little-endian, all at the narrowest
/// width (2, 4 or 8 bytes) that holds the largest magnitude, widened when needed and never narrowed. The
/// first byte of the buffer is the width; an empty intset that never held a member has no buffer. One
/// vector keeps a [`Set`] at 32 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntSet {
    buf: Vec<u8>,
}

/// The width an integer needs.
fn width_for(x: i64) -> usize {
    if i16::try_from(x).is_ok() {
        2
    } else if i32::try_from(x).is_ok() {
        4
    } else {
        8
    }
}

/// Appends `x` at width `w` (which holds it).
fn put_int(buf: &mut Vec<u8>, x: i64, w: usize) {
    match w {
        2 => buf.extend_from_slice(&i16::try_from(x).unwrap_or_default().to_le_bytes()),
        4 => buf.extend_from_slice(&i32::try_from(x).unwrap_or_default().to_le_bytes()),
        _ => buf.extend_from_slice(&x.to_le_bytes()),
    }
}

impl IntSet {
    /// Bytes each member takes (2, 4 or 8).
    pub fn width(&self) -> usize {
        self.buf.first().map_or(2, |&w| w as usize)
    }

    pub fn len(&self) -> usize {
        self.buf.len().saturating_sub(1) / self.width()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th smallest member.
    pub fn get(&self, i: usize) -> Option<i64> {
        let w = self.width();
        let at = i.checked_mul(w)?.checked_add(1)?;
        let b = self.buf.get(at..at.checked_add(w)?)?;
        Some(match w {
            2 => i64::from(i16::from_le_bytes(b.try_into().ok()?)),
            4 => i64::from(i32::from_le_bytes(b.try_into().ok()?)),
            _ => i64::from_le_bytes(b.try_into().ok()?),
        })
    }

    /// Where `x` is (`Ok`) or would go (`Err`).
    fn find(&self, x: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).map(|m| m.cmp(&x)) {
                Some(std::cmp::Ordering::Less) => lo = mid + 1,
                Some(std::cmp::Ordering::Greater) => hi = mid,
                _ => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, x: i64) -> bool {
        self.find(x).is_ok()
    }

    /// Adds `x`; `true` if it is new.
    pub fn insert(&mut self, x: i64) -> bool {
        let Err(at) = self.find(x) else { return false };
        self.widen_for(x);
        let w = self.width();
        if self.buf.is_empty() {
            self.buf.push(w as u8);
        }
        grow(&mut self.buf, w);
        let mut enc = Vec::with_capacity(8);
        put_int(&mut enc, x, w);
        let pos = (1 + at * w).min(self.buf.len());
        self.buf.splice(pos..pos, enc);
        true
    }

    /// Removes `x`; `true` if it was there.
    pub fn remove(&mut self, x: i64) -> bool {
        match self.find(x) {
            Ok(at) => self.remove_at(at).is_some(),
            Err(_) => false,
        }
    }

    fn remove_at(&mut self, i: usize) -> Option<i64> {
        let x = self.get(i)?;
        let w = self.width();
        self.buf.drain(1 + i * w..1 + (i + 1) * w);
        Some(x)
    }

    /// Rewrites the members at a width that holds `x`, if the current one does not.
    fn widen_for(&mut self, x: i64) {
        let need = width_for(x);
        if need <= self.width() || self.buf.is_empty() {
            if self.buf.is_empty() {
                self.buf.push(need as u8);
            }
            return;
        }
        let mut buf = Vec::with_capacity(1 + (self.len() + 1) * need);
        buf.push(need as u8);
        self.iter().for_each(|m| put_int(&mut buf, m, need));
        self.buf = buf;
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }
}

/// The `hashtable` encoding: members in a vector (any order), with a hash table of their positions. A
/// removal moves the last member into the gap.
#[derive(Clone, Debug, Default)]
pub struct Table {
    members: Vec<Bytes>,
    index: HashTable<usize>,
    hasher: foldhash::fast::RandomState,
}

fn hash_of(hasher: &foldhash::fast::RandomState, m: &[u8]) -> u64 {
    hasher.hash_one(m)
}

/// The member at position `i` (empty if none, which only a broken index could ask for).
fn at(members: &[Bytes], i: usize) -> &[u8] {
    members.get(i).map_or(&[][..], |m| m)
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table {
            members: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn position(&self, m: &[u8]) -> Option<usize> {
        let h = hash_of(&self.hasher, m);
        self.index.find(h, |&i| at(&self.members, i) == m).copied()
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.position(m).is_some()
    }

    /// Adds `m`; `true` if it is new.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        let Table { members, index, hasher } = self;
        let h = hash_of(hasher, m);
        let slot = index.entry(h, |&i| at(members, i) == m, |&i| hash_of(hasher, at(members, i)));
        match slot {
            Slot::Occupied(_) => false,
            Slot::Vacant(v) => {
                v.insert(members.len());
                members.push(m.into());
                true
            }
        }
    }

    /// Removes `m`; `true` if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        let h = hash_of(&self.hasher, m);
        let Table { members, index, .. } = self;
        let Ok(found) = index.find_entry(h, |&i| at(members, i) == m) else { return false };
        let (i, _) = found.remove();
        self.close_gap(i);
        true
    }

    /// Removes and returns the member at position `i`.
    fn take_at(&mut self, i: usize) -> Option<Bytes> {
        let h = hash_of(&self.hasher, self.members.get(i)?);
        self.index.find_entry(h, |&j| j == i).ok()?.remove();
        self.close_gap(i)
    }

    /// Takes the member at position `i` (already gone from the index) out of the vector, moving the last
    /// member into its place.
    fn close_gap(&mut self, i: usize) -> Option<Bytes> {
        let last = self.members.len().checked_sub(1)?;
        if i > last {
            return None;
        }
        let gone = self.members.swap_remove(i);
        if i != last {
            let h = hash_of(&self.hasher, at(&self.members, i));
            if let Some(pos) = self.index.find_mut(h, |&j| j == last) {
                *pos = i;
            }
        }
        // Give memory back once the set is a small part of what it was, as Redis resizes its dict.
        if self.members.capacity() > 64 && self.members.len() * 8 < self.members.capacity() {
            let Table { members, index, hasher } = self;
            let keep = members.len() * 2;
            members.shrink_to(keep);
            index.shrink_to(keep, |&j| hash_of(hasher, at(members, j)));
        }
        Some(gone)
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.members.get(i).map(|m| &**m)
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.members.iter().map(|m| &**m)
    }
}

/// A set value. See the module documentation for the encodings.
#[derive(Clone, Debug)]
pub enum Set {
    Ints(IntSet),
    Pack(Pack),
    Table(Box<Table>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

/// The members of a set, in its order: ascending for an intset, insertion order for a listpack, no
/// particular order for a hash table.
pub enum Iter<'a> {
    Ints(&'a IntSet, std::ops::Range<usize>),
    Pack(super::pack::Iter<'a>),
    Table(std::slice::Iter<'a, Bytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            Iter::Ints(s, range) => range.next().and_then(|i| s.get(i)).map(Member::Int),
            Iter::Pack(it) => it.next().map(Member::Str),
            Iter::Table(it) => it.next().map(|m| Member::Str(m)),
        }
    }
}

/// Decimal digits of `n`, with its sign (Redis's `sdigits10`).
fn sdigits10(n: i64) -> usize {
    itoa::Buffer::new().format(n).len()
}

impl Set {
    /// A new empty set in the encoding Redis 7.2 picks for one about to receive `size_hint` members, the
    /// first of them `first` (`setTypeCreate`).
    pub fn new_for(first: &[u8], size_hint: usize, lim: &SetLimits) -> Set {
        if parse_i64(first).is_some() && size_hint <= lim.max_intset {
            Set::Ints(IntSet::default())
        } else if size_hint <= lim.max_entries {
            Set::Pack(Pack::new())
        } else {
            Set::Table(Box::new(Table::with_capacity(size_hint)))
        }
    }

    /// Before adding `size_hint` members: a compact set that many members would outgrow becomes a hash
    /// table at once, as Redis does (`setTypeMaybeConvert`: the hint counts arguments, repeats included).
    pub fn prepare_for(&mut self, size_hint: usize, lim: &SetLimits) {
        let outgrown = match self {
            Set::Ints(_) => size_hint > lim.max_intset,
            Set::Pack(_) => size_hint > lim.max_entries,
            Set::Table(_) => false,
        };
        if outgrown {
            self.convert_to_table(size_hint);
        }
    }

    /// A set of `members`, each given once (`None` if one repeats), in the encoding their content calls for:
    /// an intset if all are integers and they fit the intset limit, else a listpack if they fit its limits,
    /// else a hash table. For `RESTORE` and other whole rebuilds.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>, lim: &SetLimits) -> Option<Set> {
        let members: Vec<&[u8]> = members.into_iter().collect();
        let n = members.len();
        let all_ints = members.iter().all(|m| parse_i64(m).is_some());
        let mut set = if all_ints && n <= lim.intset_max() {
            Set::Ints(IntSet::default())
        } else if n <= lim.max_entries
            && members.iter().all(|m| m.len() <= lim.max_value)
            && members.iter().map(|m| m.len() + 2).sum::<usize>() <= PACK_MAX_BYTES
        {
            // Repeats are found through a table, not by searching the pack: a configured limit may be large.
            let mut seen = Table::with_capacity(n);
            if !members.iter().all(|m| seen.insert(m)) {
                return None;
            }
            let mut p = Pack::with_capacity(members.iter().map(|m| m.len() + 2).sum());
            members.iter().for_each(|m| p.push_back_tight(m));
            return Some(Set::Pack(p));
        } else {
            Set::Table(Box::new(Table::with_capacity(n)))
        };
        let limits = SetLimits { max_intset: usize::MAX, max_entries: usize::MAX, max_value: usize::MAX };
        members.iter().all(|m| set.insert(m, &limits)).then_some(set)
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Pack(p) => p.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Pack(_) => "listpack",
            Set::Table(_) => "hashtable",
        }
    }

    /// The members (see [`Iter`] for the order).
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Set::Ints(s) => Iter::Ints(s, 0..s.len()),
            Set::Pack(p) => Iter::Pack(p.iter()),
            Set::Table(t) => Iter::Table(t.members.iter()),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|n| s.contains(n)),
            Set::Pack(p) => p.find(m).is_some(),
            Set::Table(t) => t.contains(m),
        }
    }

    pub fn contains_member(&self, m: Member) -> bool {
        match (self, m) {
            (Set::Ints(s), Member::Int(n)) => s.contains(n),
            (_, Member::Str(b)) => self.contains(b),
            (_, m) => m.with_bytes(|b| self.contains(b)),
        }
    }

    /// Adds `m`, converting the encoding as Redis 7.2 does (`setTypeAddAux`); `true` if it is new.
    pub fn insert(&mut self, m: &[u8], lim: &SetLimits) -> bool {
        match self {
            Set::Table(t) => t.insert(m),
            Set::Pack(p) => {
                if p.find(m).is_some() {
                    return false;
                }
                if p.len() < lim.max_entries
                    && m.len() <= lim.max_value
                    && p.byte_len() + m.len() <= PACK_MAX_BYTES
                {
                    p.push_back_tight(m);
                    return true;
                }
                let cap = p.len() + 1;
                self.convert_to_table(cap);
                self.insert(m, lim)
            }
            Set::Ints(s) => {
                if let Some(n) = parse_i64(m) {
                    return self.insert_int(n, lim);
                }
                // A non-integer: a listpack if the integers (at their widest) and it fit its limits.
                let n = s.len();
                let (widest, bytes) = match (s.get(0), n.checked_sub(1).and_then(|last| s.get(last))) {
                    (Some(min), Some(max)) => {
                        let w = sdigits10(min).max(sdigits10(max));
                        (w, n * (w + 2))
                    }
                    _ => (0, 0),
                };
                if n < lim.max_entries
                    && m.len() <= lim.max_value
                    && widest <= lim.max_value
                    && bytes + m.len() <= PACK_MAX_BYTES
                {
                    let mut p = Pack::with_capacity(bytes + m.len() + 2);
                    let mut buf = itoa::Buffer::new();
                    s.iter().for_each(|x| p.push_back(buf.format(x).as_bytes()));
                    p.push_back(m);
                    p.shrink_to_fit();
                    *self = Set::Pack(p);
                    true
                } else {
                    self.convert_to_table(n + 1);
                    self.insert(m, lim)
                }
            }
        }
    }

    /// Adds an integer member; an intset past its limit becomes a hash table.
    fn insert_int(&mut self, n: i64, lim: &SetLimits) -> bool {
        match self {
            Set::Ints(s) => {
                if !s.insert(n) {
                    return false;
                }
                if s.len() > lim.intset_max() {
                    let cap = s.len();
                    self.convert_to_table(cap);
                }
                true
            }
            _ => self.insert(itoa::Buffer::new().format(n).as_bytes(), lim),
        }
    }

    pub fn insert_member(&mut self, m: Member, lim: &SetLimits) -> bool {
        match m {
            Member::Int(n) => self.insert_int(n, lim),
            Member::Str(b) => self.insert(b, lim),
        }
    }

    /// Removes `m`; `true` if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|n| s.remove(n)),
            Set::Pack(p) => match p.find(m) {
                Some(at) => {
                    p.remove_at(at);
                    if p.capacity() > 2 * p.byte_len() + 64 {
                        p.shrink_to_fit();
                    }
                    true
                }
                None => false,
            },
            Set::Table(t) => t.remove(m),
        }
    }

    pub fn remove_member(&mut self, m: Member) -> bool {
        match (&mut *self, m) {
            (Set::Ints(s), Member::Int(n)) => s.remove(n),
            (_, Member::Str(b)) => self.remove(b),
            (_, m) => m.with_bytes(|b| self.remove(b)),
        }
    }

    /// The member at position `i` in iteration order: O(1), except O(n) for a listpack.
    pub fn get(&self, i: usize) -> Option<Member<'_>> {
        match self {
            Set::Ints(s) => s.get(i).map(Member::Int),
            Set::Pack(p) => p.get(p.offset_of(i64::try_from(i).ok()?)?).map(|(m, _)| Member::Str(m)),
            Set::Table(t) => t.get(i).map(Member::Str),
        }
    }

    /// A random member, `None` if the set is empty.
    pub fn random(&self) -> Option<Member<'_>> {
        match self.len() {
            0 => None,
            n => self.get(fastrand::usize(..n)),
        }
    }

    /// Removes a random member and returns it.
    pub fn pop_random(&mut self) -> Option<Vec<u8>> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let i = fastrand::usize(..n);
        match self {
            Set::Ints(s) => s.remove_at(i).map(|x| itoa::Buffer::new().format(x).as_bytes().to_vec()),
            Set::Pack(p) => {
                let at = p.offset_of(i64::try_from(i).ok()?)?;
                let m = p.get(at)?.0.to_vec();
                p.remove_at(at);
                Some(m)
            }
            Set::Table(t) => t.take_at(i).map(Vec::from),
        }
    }

    /// Rebuilds the set as a hash table with room for `cap` members.
    fn convert_to_table(&mut self, cap: usize) {
        let mut t = Table::with_capacity(cap.max(self.len()));
        for m in self.iter() {
            m.with_bytes(|b| t.insert(b));
        }
        *self = Set::Table(Box::new(t));
    }

    /// Rebuilds a set whose members are all integers as an intset, if it is small enough for one (Redis's
    /// `maybeConvertToIntset`, used for `SINTERSTORE` results).
    pub fn maybe_to_intset(&mut self, lim: &SetLimits) {
        if matches!(self, Set::Ints(_)) || self.len() > lim.intset_max() {
            return;
        }
        let mut s = IntSet::default();
        for m in self.iter() {
            match m.as_int() {
                Some(n) => {
                    s.insert(n);
                }
                None => return,
            }
        }
        *self = Set::Ints(s);
    }

    /// Gives back spare capacity.
    pub fn shrink_to_fit(&mut self) {
        match self {
            Set::Ints(s) => s.shrink_to_fit(),
            Set::Pack(p) => p.shrink_to_fit(),
            Set::Table(_) => {}
        }
    }
}

// ---- commands ----

use super::{cursor_arg, int_arg, is, scan_opts};
use crate::db::entry::{Entry, Kind};
use crate::db::{page_by_hash, Db};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::server::Ctx;
use slotkv_proto::Out;

/// A reply that would grow past this many bytes closes the client instead, as Redis closes a client past
/// its output buffer limit (with Redis's default of no limit for normal clients, `SRANDMEMBER key
/// -9223372036854775807` would run the server out of memory).
const MAX_REPLY_BYTES: usize = 512 << 20;

const POSITIVE: &str = "ERR value is out of range, must be positive";

fn arg<'a>(a: &[&'a [u8]], i: usize) -> &'a [u8] {
    a.get(i).copied().unwrap_or_default()
}

/// The encoding limits as configured now (for `RESTORE` and anything else that builds sets).
pub fn limits(ctx: &Ctx) -> SetLimits {
    let c = &ctx.srv.config;
    SetLimits {
        max_intset: c.set_max_intset_entries,
        max_entries: c.set_max_listpack_entries,
        max_value: c.set_max_listpack_value,
    }
}

/// The set at `key`: `Ok(None)` when missing, `WRONGTYPE` when another type.
fn get<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a Set>, CmdError> {
    match db.get(key, now) {
        None => Ok(None),
        Some(e) => e.as_::<Set>().map(Some).ok_or(CmdError::WrongType),
    }
}

fn get_mut<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a mut Set>, CmdError> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => e.as_mut_::<Set>().map(Some).ok_or(CmdError::WrongType),
    }
}

/// The sets at `keys` (`None` for a missing key), or `WRONGTYPE` if any key holds another type, however
/// late in the list.
fn load<'a>(db: &'a mut Db, keys: &[&[u8]], now: i64) -> Result<Vec<Option<&'a Set>>, CmdError> {
    // A first pass with `get` removes expired keys on the way, as Redis's lookups do.
    for k in keys {
        if db.get(k, now).is_some_and(|e| e.kind() != Kind::Set) {
            return Err(CmdError::WrongType);
        }
    }
    let db: &'a Db = db;
    Ok(keys.iter().map(|k| db.peek(k, now).and_then(Entry::as_::<Set>)).collect())
}

fn put(out: &mut Out, m: Member) {
    match m {
        Member::Int(n) => out.bulk_int(n),
        Member::Str(s) => out.bulk(s),
    }
}

pub fn sadd(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (key, members) = (arg(a, 1), a.get(2..).unwrap_or_default());
    let lim = limits(ctx);
    let now = ctx.now;
    let added = match get_mut(&mut ctx.srv.db, key, now)? {
        Some(s) => {
            s.prepare_for(members.len(), &lim);
            members.iter().filter(|m| s.insert(m, &lim)).count()
        }
        None => {
            let mut s = Set::new_for(arg(a, 2), members.len(), &lim);
            let added = members.iter().filter(|m| s.insert(m, &lim)).count();
            ctx.srv.db.insert(Entry::collection(key, s, 0));
            added
        }
    };
    ctx.me.out.int(added as i64);
    Ok(())
}

pub fn srem(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let key = arg(a, 1);
    let now = ctx.now;
    let Some(s) = get_mut(&mut ctx.srv.db, key, now)? else {
        ctx.me.out.int(0);
        return Ok(());
    };
    let removed = a.iter().skip(2).filter(|m| s.remove(m)).count();
    if s.is_empty() {
        ctx.srv.db.remove(key);
    }
    ctx.me.out.int(removed as i64);
    Ok(())
}

pub fn smembers(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let s = get(&mut srv.db, arg(a, 1), now)?;
    me.out.set(s.map_or(0, Set::len));
    s.into_iter().flat_map(Set::iter).for_each(|m| put(&mut me.out, m));
    Ok(())
}

pub fn sismember(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let found = get(&mut ctx.srv.db, arg(a, 1), now)?.is_some_and(|s| s.contains(arg(a, 2)));
    ctx.me.out.int(found as i64);
    Ok(())
}

pub fn smismember(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let s = get(&mut srv.db, arg(a, 1), now)?;
    let members = a.get(2..).unwrap_or_default();
    me.out.array(members.len());
    for m in members {
        me.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

pub fn scard(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let n = get(&mut ctx.srv.db, arg(a, 1), now)?.map_or(0, Set::len);
    ctx.me.out.int(n as i64);
    Ok(())
}

/// `k` distinct positions out of `0..n`, ascending: each position is taken with probability
/// wanted / left, as Redis's `lpNextRandom` walks a listpack.
fn sample_in_order(n: usize, k: usize) -> Vec<usize> {
    let mut want = k.min(n);
    let mut picked = Vec::with_capacity(want);
    for i in 0..n {
        if want == 0 {
            break;
        }
        if fastrand::usize(..n - i) < want {
            picked.push(i);
            want -= 1;
        }
    }
    picked
}

/// `k` distinct positions out of `0..n`, in random order.
fn sample_shuffled(n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n);
    if k.saturating_mul(3) > n {
        // Most of the set: shuffle the front of a list of every position.
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            all.swap(i, fastrand::usize(i..n));
        }
        all.truncate(k);
        all
    } else {
        // A small part: draw until enough distinct ones came up.
        let mut seen = hashbrown::HashSet::with_capacity(k);
        let mut picked = Vec::with_capacity(k);
        while picked.len() < k {
            let i = fastrand::usize(..n);
            if seen.insert(i) {
                picked.push(i);
            }
        }
        picked
    }
}

/// Writes a set reply of the members of `set` in the order Redis's `SUNION` of it gives (Redis pops a whole
/// set that way): a listpack is replayed into a fresh set, which sorts a leading run of integers.
fn reply_as_union(out: &mut Out, set: &Set, lim: &SetLimits) {
    if let Set::Pack(_) = set {
        let union = union_diff(&[Some(set)], false, lim);
        out.set(union.len());
        union.iter().for_each(|m| put(out, m));
    } else {
        out.set(set.len());
        set.iter().for_each(|m| put(out, m));
    }
}

/// `SPOP key [count]`.
pub fn spop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let key = arg(a, 1);
    let count = match a.get(2) {
        None => None,
        Some(c) => {
            Some(parse_i64(c).and_then(|n| usize::try_from(n).ok()).ok_or(CmdError::Static(POSITIVE))?)
        }
    };
    let lim = limits(ctx);
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let out = &mut me.out;
    let Some(s) = get_mut(&mut srv.db, key, now)? else {
        match count {
            None => out.null(),
            Some(_) => out.set(0),
        }
        return Ok(());
    };
    let size = s.len();
    // What was popped is logged as SREM (or DEL), so a replay removes the same members.
    let mut popped: Option<Vec<Vec<u8>>> = srv.feed.on.then(Vec::new);
    match count {
        None => match s.pop_random() {
            Some(m) => {
                out.bulk(&m);
                if let Some(p) = popped.as_mut() {
                    p.push(m.to_vec());
                }
            }
            None => out.null(),
        },
        Some(0) => out.set(0),
        Some(count) if count >= size => {
            reply_as_union(out, s, &lim);
            srv.db.remove(key);
            srv.feed.rewrite(&[b"DEL", key]);
            return Ok(());
        }
        Some(count) => spop_some(out, s, count, &lim, popped.as_mut()),
    }
    if s.is_empty() {
        srv.db.remove(key);
    }
    if let Some(members) = popped.filter(|p| !p.is_empty()) {
        let mut argv: Vec<&[u8]> = vec![b"SREM", key];
        argv.extend(members.iter().map(Vec::as_slice));
        srv.feed.rewrite(&argv);
    }
    Ok(())
}

fn member_bytes(m: &Member) -> Vec<u8> {
    match m {
        Member::Int(n) => n.to_string().into_bytes(),
        Member::Str(s) => s.to_vec(),
    }
}

/// Pops `count` random members (fewer than the set has) into the reply, and into `popped` if given.
fn spop_some(
    out: &mut Out,
    s: &mut Set,
    count: usize,
    lim: &SetLimits,
    mut popped: Option<&mut Vec<Vec<u8>>>,
) {
    let size = s.len();
    let remaining = size - count;
    out.set(count);
    if remaining.saturating_mul(5) > count {
        // Few to pop: a listpack gives them in its order, other encodings one random pop at a time.
        if let Set::Pack(p) = s {
            let picked = sample_in_order(size, count);
            let mut picks = picked.iter().peekable();
            let mut kept = Pack::with_capacity(p.byte_len());
            for (i, m) in p.iter().enumerate() {
                if picks.next_if_eq(&&i).is_some() {
                    out.bulk(m);
                    if let Some(p) = popped.as_deref_mut() {
                        p.push(m.to_vec());
                    }
                } else {
                    kept.push_back(m);
                }
            }
            kept.shrink_to_fit();
            *p = kept;
        } else {
            for _ in 0..count {
                if let Some(m) = s.pop_random() {
                    out.bulk(&m);
                    if let Some(p) = popped.as_deref_mut() {
                        p.push(m.to_vec());
                    }
                }
            }
        }
        return;
    }
    // Most of the set goes: pick the members that stay, build a new set of them (a listpack unless the
    // set was an intset, converting as they are added), and send the rest in the set's order.
    let mut kept = match s {
        Set::Ints(_) => Set::Ints(IntSet::default()),
        _ => Set::Pack(Pack::new()),
    };
    let stay = sample_in_order(size, remaining);
    let mut stays = stay.iter().peekable();
    for (i, m) in s.iter().enumerate() {
        if stays.next_if_eq(&&i).is_some() {
            kept.insert_member(m, lim);
        } else {
            if let Some(p) = popped.as_deref_mut() {
                p.push(member_bytes(&m));
            }
            put(out, m);
        }
    }
    *s = kept;
}

/// Positions into a set for repeated random picks: O(1) each in every encoding (a listpack is walked
/// once into a vector).
enum Picker<'a> {
    Direct(&'a Set),
    Slices(Vec<&'a [u8]>),
}

impl<'a> Picker<'a> {
    fn new(s: &'a Set) -> Picker<'a> {
        match s {
            Set::Pack(p) => Picker::Slices(p.iter().collect()),
            _ => Picker::Direct(s),
        }
    }

    fn get(&self, i: usize) -> Option<Member<'a>> {
        match self {
            Picker::Direct(s) => s.get(i),
            Picker::Slices(v) => v.get(i).map(|m| Member::Str(m)),
        }
    }
}

/// `SRANDMEMBER key [count]`: a positive count gives distinct members, a negative one may repeat them.
pub fn srandmember(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match a.get(2) {
        None => None,
        Some(c) => match int_arg(c)? {
            i64::MIN => return Err(CmdError::Static(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )),
            n => Some(n),
        },
    };
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let s = get(&mut srv.db, arg(a, 1), now)?;
    let out = &mut me.out;
    let Some(count) = count else {
        match s.and_then(Set::random) {
            Some(m) => put(out, m),
            None => out.null(),
        }
        return Ok(());
    };
    let Some(s) = s.filter(|s| count != 0 && !s.is_empty()) else {
        out.array(0);
        return Ok(());
    };
    let size = s.len();
    if count < 0 || count == 1 {
        // Picks with repeats, written as they are drawn: nothing grows with the count but the reply.
        let n = count.unsigned_abs();
        let start = out.buf.len();
        if n.saturating_mul(6) > MAX_REPLY_BYTES as u64 {
            // Even the shortest members would not fit (`$0\r\n\r\n` is 6 bytes each).
            me.close_after_reply = true;
            return Ok(());
        }
        let picker = Picker::new(s);
        out.array(n as usize);
        for done in 0..n {
            if let Some(m) = picker.get(fastrand::usize(..size)) {
                put(out, m);
            }
            if done % 1024 == 0 && out.buf.len() - start > MAX_REPLY_BYTES {
                out.buf.truncate(start);
                me.close_after_reply = true;
                break;
            }
        }
        return Ok(());
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count >= size {
        out.array(size);
        s.iter().for_each(|m| put(out, m));
    } else if let Set::Pack(p) = s {
        // Distinct picks from a listpack come in its order, as Redis samples it in one walk.
        let picked = sample_in_order(size, count);
        let mut picks = picked.iter().peekable();
        out.array(count);
        for (i, m) in p.iter().enumerate() {
            if picks.next_if_eq(&&i).is_some() {
                out.bulk(m);
            }
        }
    } else {
        let picked = sample_shuffled(size, count);
        out.array(picked.len());
        picked.into_iter().filter_map(|i| s.get(i)).for_each(|m| put(out, m));
    }
    Ok(())
}

/// `SMOVE source destination member`.
pub fn smove(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (src, dst, m) = (arg(a, 1), arg(a, 2), arg(a, 3));
    let lim = limits(ctx);
    let now = ctx.now;
    let db = &mut ctx.srv.db;
    let Some(src_kind) = db.get(src, now).map(Entry::kind) else {
        ctx.me.out.int(0);
        return Ok(());
    };
    if src_kind != Kind::Set || db.get(dst, now).is_some_and(|e| e.kind() != Kind::Set) {
        return Err(CmdError::WrongType);
    }
    if src == dst {
        let found = get(db, src, now)?.is_some_and(|s| s.contains(m));
        ctx.me.out.int(found as i64);
        return Ok(());
    }
    let Some(s) = get_mut(db, src, now)? else {
        ctx.me.out.int(0);
        return Ok(());
    };
    if !s.remove(m) {
        ctx.me.out.int(0);
        return Ok(());
    }
    if s.is_empty() {
        db.remove(src);
    }
    match get_mut(db, dst, now)? {
        Some(d) => {
            d.insert(m, &lim);
        }
        None => {
            let mut d = Set::new_for(m, 1, &lim);
            d.insert(m, &lim);
            db.insert(Entry::collection(dst, d, 0));
        }
    }
    ctx.me.out.int(1);
    Ok(())
}

/// What an intersection is for.
enum Inter<'a> {
    Reply,
    /// `SINTERCARD`, with its limit (0 for none).
    Card(usize),
    Store(&'a [u8]),
}

/// `SINTER`, `SINTERCARD`, `SINTERSTORE` (Redis's `sinterGenericCommand`).
fn inter(ctx: &mut Ctx, keys: &[&[u8]], mode: Inter) -> CmdResult {
    let lim = limits(ctx);
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let out = &mut me.out;
    let loaded = load(&mut srv.db, keys, now)?;
    // A missing key is an empty set, and so is the intersection.
    let Some(mut sets) = loaded.into_iter().collect::<Option<Vec<&Set>>>() else {
        match mode {
            Inter::Reply => out.set(0),
            Inter::Card(_) => out.int(0),
            Inter::Store(dst) => {
                srv.db.remove(dst);
                out.int(0);
            }
        }
        return Ok(());
    };
    // Walk the smallest set (a stable sort, so ties keep the argument order), testing each member
    // against the others.
    sets.sort_by_key(|s| s.len());
    let Some((&first, rest)) = sets.split_first() else {
        out.set(0);
        return Ok(());
    };
    let common =
        first.iter().filter(|m| rest.iter().all(|o| std::ptr::eq(*o, first) || o.contains_member(*m)));
    match mode {
        Inter::Reply => {
            let common: Vec<Member> = common.collect();
            out.set(common.len());
            common.into_iter().for_each(|m| put(out, m));
        }
        Inter::Card(limit) => {
            let n = if limit > 0 { common.take(limit).count() } else { common.count() };
            out.int(n as i64);
        }
        Inter::Store(dst) => {
            // Redis starts an intset when the walked set is one, else a listpack, and converts as
            // members arrive; an all-integer result ends as an intset if it is small enough.
            let mut result = match first {
                Set::Ints(_) => Set::Ints(IntSet::default()),
                _ => Set::Pack(Pack::new()),
            };
            let mut all_ints = true;
            for m in common {
                all_ints = all_ints && m.as_int().is_some();
                result.insert_member(m, &lim);
            }
            drop(sets);
            store(&mut srv.db, out, dst, result, all_ints, &lim);
        }
    }
    Ok(())
}

/// Stores a computed set at `dst` (replacing whatever is there, TTL included) and replies with its size;
/// an empty result deletes `dst` instead.
fn store(db: &mut Db, out: &mut Out, dst: &[u8], mut result: Set, all_ints: bool, lim: &SetLimits) {
    if result.is_empty() {
        db.remove(dst);
        out.int(0);
        return;
    }
    if all_ints {
        result.maybe_to_intset(lim);
    }
    result.shrink_to_fit();
    let n = result.len();
    db.insert(Entry::collection(dst, result, 0));
    out.int(n as i64);
}

pub fn sinter(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    inter(ctx, a.get(1..).unwrap_or_default(), Inter::Reply)
}

pub fn sinterstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    inter(ctx, a.get(2..).unwrap_or_default(), Inter::Store(arg(a, 1)))
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
pub fn sintercard(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let numkeys = parse_i64(arg(a, 1))
        .filter(|&n| n > 0)
        .ok_or(CmdError::Static("ERR numkeys should be greater than 0"))?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > a.len().saturating_sub(2) {
        return Err(CmdError::Static("ERR Number of keys can't be greater than number of args"));
    }
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while let Some(opt) = a.get(i) {
        match a.get(i + 1) {
            Some(v) if is(opt, "limit") => {
                limit = parse_i64(v)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or(CmdError::Static("ERR LIMIT can't be negative"))?;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    inter(ctx, a.get(2..2 + numkeys).unwrap_or_default(), Inter::Card(limit))
}

/// The union or difference of `sets` (`None` for a missing key) as Redis 7.2 computes it
/// (`sunionDiffGenericCommand`): members are added to a set that starts as an empty intset and converts as
/// they come, which decides both the result's encoding and its order.
fn union_diff(sets: &[Option<&Set>], diff: bool, lim: &SetLimits) -> Set {
    let mut result = Set::default();
    if !diff {
        for s in sets.iter().flatten() {
            s.iter().for_each(|m| {
                result.insert_member(m, lim);
            });
        }
        return result;
    }
    let Some((&Some(first), rest)) = sets.split_first() else { return result };
    // The first key given again: the difference is empty.
    if rest.iter().any(|s| s.is_some_and(|s| std::ptr::eq(s, first))) {
        return result;
    }
    // Redis picks the cheaper of two algorithms; they give the same members, but the second one may
    // convert the result to a hash table on the way.
    let others = rest.iter().flatten();
    let one = others.clone().count().saturating_add(1).saturating_mul(first.len()) / 2;
    let two = others.clone().fold(first.len(), |n, s| n.saturating_add(s.len()));
    if one <= two {
        for m in first.iter() {
            if !others.clone().any(|s| s.contains_member(m)) {
                result.insert_member(m, lim);
            }
        }
    } else {
        first.iter().for_each(|m| {
            result.insert_member(m, lim);
        });
        for s in others {
            for m in s.iter() {
                result.remove_member(m);
            }
            if result.is_empty() {
                break;
            }
        }
    }
    result
}

/// `SUNION`, `SDIFF` and their `STORE` forms.
fn union_diff_cmd(ctx: &mut Ctx, keys: &[&[u8]], dst: Option<&[u8]>, diff: bool) -> CmdResult {
    let lim = limits(ctx);
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let sets = load(&mut srv.db, keys, now)?;
    let result = union_diff(&sets, diff, &lim);
    drop(sets);
    match dst {
        None => {
            me.out.set(result.len());
            result.iter().for_each(|m| put(&mut me.out, m));
        }
        Some(dst) => store(&mut srv.db, &mut me.out, dst, result, false, &lim),
    }
    Ok(())
}

pub fn sunion(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    union_diff_cmd(ctx, a.get(1..).unwrap_or_default(), None, false)
}

pub fn sdiff(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    union_diff_cmd(ctx, a.get(1..).unwrap_or_default(), None, true)
}

pub fn sunionstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    union_diff_cmd(ctx, a.get(2..).unwrap_or_default(), Some(arg(a, 1)), false)
}

pub fn sdiffstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    union_diff_cmd(ctx, a.get(2..).unwrap_or_default(), Some(arg(a, 1)), true)
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`. An intset or listpack comes back whole with cursor 0,
/// as in Redis; a hash table is paged by member hash, so members present throughout the scan are returned
/// exactly once whatever the set does between calls.
pub fn sscan(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let cursor = cursor_arg(arg(a, 2))?;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let db = &srv.db;
    // As in Redis, the options are read only once a set was found.
    let s = match db.peek(arg(a, 1), now) {
        None => {
            me.out.raw(b"*2\r\n$1\r\n0\r\n*0\r\n");
            return Ok(());
        }
        Some(e) => e.as_::<Set>().ok_or(CmdError::WrongType)?,
    };
    let opts = scan_opts(a, 3, false, false)?;
    let (page, next) = match s {
        Set::Table(t) => {
            // Cursors are hashes shifted to stay clear of 0, which ends a scan.
            let items = t
                .iter()
                .map(|m| ((db.key_hash(m) >> 1).max(1), Member::Str(m)))
                .filter(|(h, _)| *h >= cursor);
            page_by_hash(items.collect(), opts.count)
        }
        _ => (s.iter().collect(), None),
    };
    let page: Vec<Member> = page
        .into_iter()
        .filter(|m| opts.pattern.is_none_or(|p| m.with_bytes(|b| glob_match(p, b, false))))
        .collect();
    me.out.array(2);
    me.out.bulk(itoa::Buffer::new().format(next.unwrap_or(0)).as_bytes());
    me.out.array(page.len());
    page.into_iter().for_each(|m| put(&mut me.out, m));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        s.iter().map(Member::to_vec).collect()
    }

    fn sorted(s: &Set) -> Vec<Vec<u8>> {
        let mut v = members(s);
        v.sort();
        v
    }

    fn build(items: &[&str], lim: &SetLimits) -> Set {
        let first = items.first().copied().unwrap_or("");
        let mut s = Set::new_for(first.as_bytes(), items.len(), lim);
        for m in items {
            s.insert(m.as_bytes(), lim);
        }
        s
    }

    #[test]
    fn value_is_small() {
        assert!(std::mem::size_of::<Set>() <= 32, "{}", std::mem::size_of::<Set>());
    }

    #[test]
    fn intset_widens_and_stays_sorted() {
        let mut s = IntSet::default();
        for x in [5, -3, 300, 0] {
            assert!(s.insert(x));
        }
        assert!(!s.insert(5));
        assert_eq!(s.width(), 2);
        assert!(s.insert(70_000));
        assert_eq!(s.width(), 4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.width(), 8);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 0, 5, 300, 70_000]);
        assert!(s.remove(i64::MIN) && !s.remove(i64::MIN));
        // Never narrowed again.
        assert_eq!(s.width(), 8);
        assert!(s.contains(300) && !s.contains(301));
    }

    #[test]
    fn canonical_integers_only_in_an_intset() {
        let lim = SetLimits::default();
        let s = build(&["1", "2", "-3"], &lim);
        assert_eq!(s.encoding(), "intset");
        assert_eq!(members(&s), vec![b"-3".to_vec(), b"1".to_vec(), b"2".to_vec()]);
        assert!(s.contains(b"2") && !s.contains(b"02") && !s.contains(b"+2"));
        for odd in ["01", "+1", "-0", " 1", "1.0", "9223372036854775808"] {
            let mut s = build(&["1"], &lim);
            assert!(s.insert(odd.as_bytes(), &lim), "{odd}");
            assert_eq!(s.encoding(), "listpack", "{odd}");
            assert_eq!(s.len(), 2);
        }
        let s = build(&["-9223372036854775808", "9223372036854775807"], &lim);
        assert_eq!(s.encoding(), "intset");
    }

    #[test]
    fn conversions_follow_redis_7_2() {
        let lim = SetLimits { max_intset: 4, max_entries: 3, max_value: 5 };
        // An intset given a string becomes a listpack when all fits...
        let mut s = build(&["1", "2"], &lim);
        assert!(s.insert(b"abc", &lim));
        assert_eq!(s.encoding(), "listpack");
        assert_eq!(members(&s), vec![b"1".to_vec(), b"2".to_vec(), b"abc".to_vec()]);
        // ...and a hash table when the listpack would be full or a member too long.
        let mut s = build(&["1", "2", "3"], &lim);
        s.insert(b"abc", &lim);
        assert_eq!(s.encoding(), "hashtable");
        let mut s = build(&["1"], &lim);
        s.insert(b"abcdef", &lim);
        assert_eq!(s.encoding(), "hashtable");
        let mut s = build(&["123456"], &lim);
        s.insert(b"a", &lim);
        assert_eq!(s.encoding(), "hashtable");
        // An intset past its limit becomes a hash table even when a listpack would do.
        let lim = SetLimits { max_intset: 2, max_entries: 10, max_value: 64 };
        let mut s = build(&["1", "2"], &lim);
        assert_eq!(s.encoding(), "intset");
        assert!(!s.insert(b"2", &lim));
        assert_eq!(s.encoding(), "intset");
        s.insert(b"3", &lim);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(sorted(&s), vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        // A listpack past its limits becomes a hash table, and stays one as members leave.
        let lim = SetLimits { max_intset: 0, max_entries: 2, max_value: 64 };
        let mut s = build(&["a", "b"], &lim);
        assert_eq!(s.encoding(), "listpack");
        s.insert(b"c", &lim);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.remove(b"c") && s.remove(b"b"));
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn size_hints_pick_the_encoding_up_front() {
        let lim = SetLimits::default();
        assert_eq!(Set::new_for(b"1", 512, &lim).encoding(), "intset");
        assert_eq!(Set::new_for(b"1", 513, &lim).encoding(), "hashtable");
        assert_eq!(Set::new_for(b"a", 128, &lim).encoding(), "listpack");
        assert_eq!(Set::new_for(b"a", 129, &lim).encoding(), "hashtable");
        let small = SetLimits { max_intset: 0, ..lim };
        assert_eq!(Set::new_for(b"1", 1, &small).encoding(), "listpack");
        let mut s = build(&["a"], &lim);
        s.prepare_for(129, &lim);
        assert_eq!((s.encoding(), s.len()), ("hashtable", 1));
        let mut s = build(&["1"], &lim);
        s.prepare_for(512, &lim);
        assert_eq!(s.encoding(), "intset");
        s.prepare_for(513, &lim);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn a_listpack_of_a_hundred_members_is_compact() {
        let lim = SetLimits::default();
        let mut s = Set::new_for(b"member:0", 1, &lim);
        for i in 0..100 {
            s.insert(format!("member:{i}").as_bytes(), &lim);
        }
        let Set::Pack(p) = &s else { panic!("{}", s.encoding()) };
        assert_eq!(p.byte_len(), 10 * 10 + 90 * 11);
        assert!(p.capacity() <= p.byte_len() * 9 / 8 + 16, "{} of {}", p.capacity(), p.byte_len());
    }

    #[test]
    fn table_removes_by_swapping_and_keeps_its_index() {
        let mut t = Table::default();
        for i in 0..1000 {
            assert!(t.insert(format!("m{i}").as_bytes()));
        }
        for i in (0..1000).step_by(3) {
            assert!(t.remove(format!("m{i}").as_bytes()));
        }
        while t.len() > 10 {
            assert!(t.take_at(fastrand::usize(..t.len())).is_some());
        }
        for (i, m) in t.members.iter().enumerate() {
            assert_eq!(t.position(m), Some(i));
        }
        assert!(t.members.capacity() < 100);
    }

    #[test]
    fn from_members_by_content() {
        let lim = SetLimits::default();
        let of = |items: &[&str]| Set::from_members(items.iter().map(|m| m.as_bytes()), &lim);
        assert_eq!(of(&["3", "1"]).map(|s| s.encoding()), Some("intset"));
        assert_eq!(of(&["3", "a"]).map(|s| s.encoding()), Some("listpack"));
        assert_eq!(of(&["a", &"x".repeat(65)]).map(|s| s.encoding()), Some("hashtable"));
        assert!(of(&["1", "1"]).is_none());
        assert!(of(&["a", "a"]).is_none());
        let long = "y".repeat(65);
        assert!(of(&[&long, &long]).is_none());
        let many: Vec<String> = (0..600).map(|i| i.to_string()).collect();
        let s = Set::from_members(many.iter().map(|m| m.as_bytes()), &lim);
        assert_eq!(s.map(|s| (s.encoding(), s.len())), Some(("hashtable", 600)));
    }

    #[test]
    fn intersection_store_returns_to_intset() {
        let lim = SetLimits::default();
        let mut s = Set::Pack(Pack::new());
        for m in ["3", "1", "2"] {
            s.insert(m.as_bytes(), &lim);
        }
        s.maybe_to_intset(&lim);
        assert_eq!(s.encoding(), "intset");
        assert_eq!(members(&s), vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    }

    #[test]
    fn union_and_diff_follow_redis_order_and_encoding() {
        let lim = SetLimits::default();
        let a = build(&["x", "3", "1"], &lim);
        let b = build(&["2", "1"], &lim);
        // The leading integers of a union collect in an intset before the first string arrives.
        let u = union_diff(&[Some(&b), Some(&a)], false, &lim);
        assert_eq!(u.encoding(), "listpack");
        assert_eq!(members(&u), vec![b"1".to_vec(), b"2".to_vec(), b"x".to_vec(), b"3".to_vec()]);
        let d = union_diff(&[Some(&a), Some(&b), None], true, &lim);
        assert_eq!(members(&d), vec![b"x".to_vec(), b"3".to_vec()]);
        assert!(union_diff(&[Some(&a), Some(&a)], true, &lim).is_empty());
        assert!(union_diff(&[None, Some(&a)], true, &lim).is_empty());
        // The second algorithm (a big first set, small others) goes through a hash table and stays there.
        let big: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        let big = Set::from_members(big.iter().map(|m| m.as_bytes()), &lim).unwrap();
        let cut = |r: std::ops::Range<i32>| {
            let v: Vec<String> = r.map(|i| format!("m{i}")).collect();
            Set::from_members(v.iter().map(|m| m.as_bytes()), &lim).unwrap()
        };
        let (c1, c2) = (cut(0..45), cut(45..90));
        let d = union_diff(&[Some(&big), Some(&c1), Some(&c2)], true, &lim);
        assert_eq!((d.len(), d.encoding()), (110, "hashtable"));
        // The first algorithm only adds what survives.
        let c3 = cut(0..150);
        let d = union_diff(&[Some(&big), Some(&c3)], true, &lim);
        assert_eq!((d.len(), d.encoding()), (50, "listpack"));
    }

    #[test]
    fn sampling() {
        for (n, k) in [(10, 0), (10, 3), (10, 10), (10, 20), (1000, 5), (1000, 900)] {
            let v = sample_in_order(n, k);
            assert_eq!(v.len(), k.min(n));
            assert!(v.windows(2).all(|w| w[0] < w[1]));
            let v = sample_shuffled(n, k);
            assert_eq!(v.len(), k.min(n));
            assert_eq!(v.iter().collect::<HashSet<_>>().len(), v.len());
            assert!(v.iter().all(|&i| i < n));
        }
    }

    #[test]
    fn random_pops_empty_the_set() {
        let lim = SetLimits::default();
        for items in [vec!["1", "2", "3"], vec!["a", "b", "c"], (0..300).map(|_| "").collect()] {
            let mut s = Set::default();
            let mut want = HashSet::new();
            for (i, m) in items.iter().enumerate() {
                let m = if m.is_empty() { format!("k{i}") } else { m.to_string() };
                s.insert(m.as_bytes(), &lim);
                want.insert(m.into_bytes());
            }
            let mut got = HashSet::new();
            while let Some(m) = s.pop_random() {
                assert!(got.insert(m));
            }
            assert_eq!(got, want);
            assert!(s.random().is_none());
        }
    }

    /// The bulk strings of a reply after its header line.
    fn bulks(out: &Out) -> Vec<Vec<u8>> {
        let mut items = Vec::new();
        let buf = &out.buf;
        let mut at = buf.iter().position(|&b| b == b'\n').map_or(buf.len(), |i| i + 1);
        while at < buf.len() {
            let nl = at + buf[at..].iter().position(|&b| b == b'\n').unwrap();
            let len: usize = std::str::from_utf8(&buf[at + 1..nl - 1]).unwrap().parse().unwrap();
            items.push(buf[nl + 1..nl + 1 + len].to_vec());
            at = nl + 1 + len + 2;
        }
        items
    }

    #[test]
    fn spop_strategies_pop_exactly_what_they_reply() {
        let lim = SetLimits::default();
        let cases: Vec<(Vec<String>, usize)> = vec![
            ((0..10).map(|i| format!("m{i}")).collect(), 3),
            ((0..10).map(|i| format!("m{i}")).collect(), 9),
            ((0..300).map(|i| i.to_string()).collect(), 20),
            ((0..300).map(|i| i.to_string()).collect(), 290),
            ((0..300).map(|i| format!("m{i}")).collect(), 50),
            ((0..300).map(|i| format!("m{i}")).collect(), 299),
        ];
        for (items, count) in cases {
            let mut s = Set::from_members(items.iter().map(|m| m.as_bytes()), &lim).unwrap();
            let before: HashSet<Vec<u8>> = s.iter().map(Member::to_vec).collect();
            let mut out = Out::new(false);
            spop_some(&mut out, &mut s, count, &lim, None);
            assert!(out.buf.starts_with(format!("*{count}\r\n").as_bytes()));
            let popped: HashSet<Vec<u8>> = bulks(&out).into_iter().collect();
            let left: HashSet<Vec<u8>> = s.iter().map(Member::to_vec).collect();
            assert_eq!(popped.len(), count);
            assert_eq!(left.len() + count, before.len());
            assert!(popped.is_disjoint(&left));
            assert_eq!(popped.union(&left).cloned().collect::<HashSet<_>>(), before);
        }
    }

    fn model(s: &Set) -> HashSet<Vec<u8>> {
        s.iter().map(Member::to_vec).collect()
    }

    proptest! {
        #[test]
        fn union_and_difference_match_a_model(
            sets in proptest::collection::vec(proptest::option::of(proptest::collection::vec(member(), 0..40)), 1..4),
            max_entries in 0usize..20,
        ) {
            let lim = SetLimits { max_intset: 16, max_entries, max_value: 4 };
            let built: Vec<Option<Set>> = sets
                .iter()
                .map(|m| {
                    m.as_ref().map(|m| {
                        let mut s = Set::default();
                        m.iter().for_each(|x| {
                            s.insert(x, &lim);
                        });
                        s
                    })
                })
                .collect();
            let refs: Vec<Option<&Set>> = built.iter().map(Option::as_ref).collect();
            let models: Vec<HashSet<Vec<u8>>> = built.iter().map(|s| s.as_ref().map(model).unwrap_or_default()).collect();
            let union = models.iter().fold(HashSet::new(), |acc, m| acc.union(m).cloned().collect());
            prop_assert_eq!(model(&union_diff(&refs, false, &lim)), union);
            let diff = models.iter().skip(1).fold(models[0].clone(), |acc, m| acc.difference(m).cloned().collect());
            let got = union_diff(&refs, true, &lim);
            prop_assert_eq!(got.len(), diff.len());
            prop_assert_eq!(model(&got), diff);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        Pop,
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-20i64..20).prop_map(|n| n.to_string().into_bytes()),
            Just(b"01".to_vec()),
            Just(i64::MIN.to_string().into_bytes()),
            proptest::collection::vec(b'a'..b'e', 0..8),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => member().prop_map(Op::Add),
            2 => member().prop_map(Op::Remove),
            1 => Just(Op::Pop),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_hash_set(
            ops in proptest::collection::vec(op(), 0..120),
            max_intset in 0usize..12,
            max_entries in 0usize..12,
            max_value in 0usize..6,
        ) {
            let lim = SetLimits { max_intset, max_entries, max_value };
            let mut s = Set::default();
            let mut model: HashSet<Vec<u8>> = HashSet::new();
            for op in ops {
                match op {
                    Op::Add(m) => prop_assert_eq!(s.insert(&m, &lim), model.insert(m)),
                    Op::Remove(m) => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    Op::Pop => match s.pop_random() {
                        Some(m) => prop_assert!(model.remove(&m)),
                        None => prop_assert!(model.is_empty()),
                    },
                }
                prop_assert_eq!(s.len(), model.len());
                let got: HashSet<Vec<u8>> = s.iter().map(Member::to_vec).collect();
                prop_assert_eq!(&got, &model);
                for m in &model {
                    prop_assert!(s.contains(m));
                }
                match &s {
                    Set::Ints(i) => {
                        prop_assert!(i.len() <= lim.max_intset);
                        prop_assert!(model.iter().all(|m| parse_i64(m).is_some()));
                        prop_assert!(i.iter().collect::<Vec<_>>().windows(2).all(|w| w[0] < w[1]));
                    }
                    Set::Pack(p) => {
                        prop_assert!(p.len() <= lim.max_entries);
                        prop_assert!(model.iter().all(|m| m.len() <= lim.max_value));
                    }
                    Set::Table(t) => {
                        for (i, m) in t.members.iter().enumerate() {
                            prop_assert_eq!(t.position(m), Some(i));
                        }
                    }
                }
            }
        }
    }
}
