//! List values. A list is one [`Pack`] while it fits `list-max-listpack-size` (`OBJECT ENCODING` says
//! `listpack`), and beyond that a quicklist: a deque of packs ("nodes"), each within that limit, so that a
//! push or pop at either end touches one small node and an index skips whole nodes by their counts.
//!
//! The limit is Redis's: a positive value caps a node's elements (with 8 KB as a safety cap on its size),
//! -1..-5 cap a node's size at 4/8/16/32/64 KB (below -5 counts as -5). Sizes are those Redis's listpack
//! would give the elements (integers packed, strings with a 1-5 byte header and a backward length), kept
//! per node beside our own encoding, so that a list changes encoding at the very element where Redis 7.2
//! changes it:
//! - a listpack becomes a quicklist just before a write would take it past the limit (`LPUSH`, `RPUSH`,
//!   `LINSERT`, `LSET`, the push half of `LMOVE`), counting the raw lengths of the new elements;
//! - a quicklist becomes a listpack again after a removal leaves a single node within half the limit.
//!
//! Nodes split and merge by Redis's rules (a push opens a new node when the end node is full, `LINSERT`
//! into a full node splits it and merges neighbours, emptied nodes go), so the node layout, and with it
//! the moment a list goes back to a listpack, follows Redis. Redis's "plain" nodes for elements of 1 GB and
//! more are not modelled: such an element simply sits in a node of its own.

use super::pack::Pack;
use std::collections::VecDeque;

/// Bytes of an empty listpack: a 6-byte header and the end marker.
const LP_EMPTY: usize = 7;
/// A node's size cap when the limit counts elements (Redis's `SIZE_SAFETY_LIMIT`).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// What Redis adds to an element's length to estimate its encoded size when deciding where to insert it.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Node size caps for `list-max-listpack-size` -1..-5.
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// The range Redis clamps a quicklist's fill to when it creates one.
const FILL_MIN: i64 = -5;
const FILL_MAX: i64 = (1 << 15) - 1;

/// Whether listpack stores `s` as an integer: a canonical decimal `i64` (no sign on 0, no leading zeros),
/// as `lpStringToInt64` accepts it. Returns its value.
fn lp_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        // -2^63 is the one value whose magnitude does not fit i64.
        (v <= 1 << 63).then(|| (v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Bytes the element takes in a Redis listpack: its encoding (type and length header, then the data or
/// the packed integer) plus the backward length of that encoding.
pub fn lp_entry_size(data: &[u8]) -> usize {
    let enclen = match lp_int(data) {
        Some(v) => match v {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32_768..=32_767 => 3,
            -8_388_608..=8_388_607 => 4,
            -2_147_483_648..=2_147_483_647 => 5,
            _ => 9,
        },
        None => {
            let n = data.len();
            n + if n < 64 {
                1
            } else if n < 4096 {
                2
            } else {
                5
            }
        }
    };
    enclen
        + match enclen {
            0..=127 => 1,
            128..=16_382 => 2,
            16_383..=2_097_150 => 3,
            2_097_151..=268_435_454 => 4,
            _ => 5,
        }
}

/// A node's caps for a `list-max-listpack-size` value: (bytes, elements), `usize::MAX` for none.
fn node_limit(fill: i64) -> (usize, usize) {
    if fill >= 0 {
        (usize::MAX, usize::try_from(fill).unwrap_or(usize::MAX).max(1))
    } else {
        let level = usize::try_from(fill.unsigned_abs() - 1).unwrap_or(usize::MAX);
        (SIZE_LEVELS.get(level).or(SIZE_LEVELS.last()).copied().unwrap_or(65536), usize::MAX)
    }
}

/// Whether a node (or listpack) of `size` bytes and `count` elements is over the limit.
fn exceeds(fill: i64, size: usize, count: usize) -> bool {
    let (max_size, max_count) = node_limit(fill);
    if max_size != usize::MAX {
        size > max_size
    } else {
        size > SIZE_SAFETY_LIMIT || count > max_count
    }
}

/// A pack and its size as a Redis listpack.
#[derive(Clone, Debug)]
struct Node {
    pack: Pack,
    size: usize,
}

impl Node {
    fn new() -> Node {
        Node { pack: Pack::new(), size: LP_EMPTY }
    }

    fn len(&self) -> usize {
        self.pack.len()
    }

    /// Whether an element of `len` bytes may join this node (Redis's estimate, `_quicklistNodeAllowInsert`).
    fn allows_insert(&self, fill: i64, len: usize) -> bool {
        !exceeds(fill, self.size.saturating_add(len).saturating_add(SIZE_ESTIMATE_OVERHEAD), self.len() + 1)
    }

    fn push(&mut self, data: &[u8], front: bool) {
        if front {
            self.pack.push_front(data);
        } else {
            self.pack.push_back(data);
        }
        self.size += lp_entry_size(data);
    }

    /// Inserts `data` before or after the element at `offset`.
    fn insert_beside(&mut self, offset: usize, data: &[u8], after: bool) {
        let at = if after { self.pack.get(offset).map_or(self.pack.end(), |(_, next)| next) } else { offset };
        self.pack.insert_at(at, data);
        self.size += lp_entry_size(data);
    }

    fn replace(&mut self, offset: usize, data: &[u8]) {
        let Some((old, _)) = self.pack.get(offset) else { return };
        let old = lp_entry_size(old);
        if self.pack.replace_at(offset, data).is_some() {
            self.size = self.size.saturating_sub(old) + lp_entry_size(data);
        }
    }

    /// Removes the element at one end, handing it to `f` first.
    fn pop_with<R>(&mut self, front: bool, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let (data, start) =
            if front { (self.pack.get(0)?.0, 0) } else { self.pack.get_before(self.pack.end())? };
        let size = lp_entry_size(data);
        let r = f(data);
        self.pack.remove_at(start);
        self.size = self.size.saturating_sub(size);
        self.compact();
        Some(r)
    }

    /// Removes `count` elements from the one at `offset` on.
    fn remove_span(&mut self, offset: usize, count: usize) {
        let (mut at, mut n, mut freed) = (offset, 0, 0);
        while n < count {
            let Some((data, next)) = self.pack.get(at) else { break };
            freed += lp_entry_size(data);
            at = next;
            n += 1;
        }
        self.pack.remove_range(offset, n);
        self.size = self.size.saturating_sub(freed);
        self.compact();
    }

    /// Moves the elements from `offset` on into a new node.
    fn split_off(&mut self, offset: usize) -> Node {
        let pack = self.pack.split_off(offset);
        let moved: usize = pack.iter().map(lp_entry_size).sum();
        self.size = self.size.saturating_sub(moved);
        Node { pack, size: LP_EMPTY + moved }
    }

    fn append(&mut self, other: &Node) {
        self.pack.append(&other.pack);
        self.size += other.size.saturating_sub(LP_EMPTY);
    }

    /// Removes up to `limit` elements equal to `value`, the first ones or, with `rev`, the last ones.
    fn remove_matches(&mut self, value: &[u8], limit: usize, rev: bool) -> usize {
        let mut offsets = Vec::new();
        if rev {
            let mut end = self.pack.end();
            while offsets.len() < limit {
                let Some((data, start)) = self.pack.get_before(end) else { break };
                if data == value {
                    offsets.push(start);
                }
                end = start;
            }
            offsets.reverse();
        } else {
            for (offset, data) in self.pack.iter_offsets() {
                if offsets.len() >= limit {
                    break;
                }
                if data == value {
                    offsets.push(offset);
                }
            }
        }
        match offsets.as_slice() {
            [] => {}
            [one] => self.remove_span(*one, 1),
            // Several: copy the rest once rather than close each gap in turn.
            _ => {
                let mut kept = Node::new();
                let mut skip = offsets.iter().peekable();
                for (offset, data) in self.pack.iter_offsets() {
                    if skip.peek() == Some(&&offset) {
                        skip.next();
                    } else {
                        kept.push(data, false);
                    }
                }
                *self = kept;
            }
        }
        offsets.len()
    }

    /// Gives memory back after removals left the buffer mostly empty.
    fn compact(&mut self) {
        if self.pack.capacity() > 2 * self.pack.byte_len() + 64 {
            self.pack.shrink_to_fit();
        }
    }
}

/// The quicklist encoding: nodes front to back, none empty.
#[derive(Clone, Debug)]
struct Quicklist {
    nodes: VecDeque<Node>,
    len: usize,
    /// `list-max-listpack-size` when the quicklist was made, which its nodes keep following, as in Redis.
    fill: i64,
}

impl Quicklist {
    fn push(&mut self, data: &[u8], front: bool) {
        let end = if front { self.nodes.front_mut() } else { self.nodes.back_mut() };
        match end {
            Some(node) if node.allows_insert(self.fill, data.len()) => node.push(data, front),
            _ => {
                let mut node = Node::new();
                node.push(data, front);
                if front {
                    self.nodes.push_front(node);
                } else {
                    self.nodes.push_back(node);
                }
            }
        }
        self.len += 1;
    }

    /// Inserts `data` beside the element at `offset` (index `local` in node `ni`), as `_quicklistInsert`
    /// does: into that node if it has room, else into the neighbour on that side if it has, else into a new
    /// node there, or by splitting the node in the middle and merging what then fits together.
    fn insert(&mut self, ni: usize, offset: usize, local: usize, data: &[u8], after: bool) {
        let fill = self.fill;
        let Some(node) = self.nodes.get(ni) else { return };
        let full = !node.allows_insert(fill, data.len());
        let at_tail = after && local + 1 == node.len();
        let at_head = !after && local == 0;
        let room = |n: Option<&Node>| n.is_some_and(|n| n.allows_insert(fill, data.len()));
        let next_has_room = at_tail && room(self.nodes.get(ni + 1));
        let prev_has_room = at_head && ni > 0 && room(self.nodes.get(ni - 1));
        if !full {
            if let Some(node) = self.nodes.get_mut(ni) {
                node.insert_beside(offset, data, after);
            }
        } else if next_has_room {
            if let Some(next) = self.nodes.get_mut(ni + 1) {
                next.push(data, true);
            }
        } else if prev_has_room {
            if let Some(prev) = self.nodes.get_mut(ni - 1) {
                prev.push(data, false);
            }
        } else if at_tail || at_head {
            let mut node = Node::new();
            node.push(data, true);
            self.nodes.insert(if after { ni + 1 } else { ni }, node);
        } else {
            let Some(node) = self.nodes.get_mut(ni) else { return };
            let center = if after {
                let split = node.pack.get(offset).map_or(node.pack.end(), |(_, next)| next);
                let mut tail = node.split_off(split);
                tail.push(data, true);
                self.nodes.insert(ni + 1, tail);
                ni
            } else {
                let rest = node.split_off(offset);
                let mut head = std::mem::replace(node, rest);
                head.push(data, false);
                self.nodes.insert(ni, head);
                ni + 1
            };
            self.merge_around(center);
        }
        self.len += 1;
    }

    /// Whether nodes `a` and `b` may become one (`_quicklistNodeAllowMerge`).
    fn allows_merge(&self, a: usize, b: usize) -> bool {
        match (self.nodes.get(a), self.nodes.get(b)) {
            (Some(x), Some(y)) => {
                !exceeds(self.fill, (x.size + y.size).saturating_sub(LP_EMPTY), x.len() + y.len())
            }
            _ => false,
        }
    }

    /// Merges node `a + 1` into node `a`.
    fn merge(&mut self, a: usize) {
        if let Some(b) = self.nodes.remove(a + 1) {
            if let Some(x) = self.nodes.get_mut(a) {
                x.append(&b);
            }
        }
    }

    /// After a split, merges the pairs around `center` that fit together, in `_quicklistMergeNodes`'s order:
    /// the two before it, the two after it, it and the one before, the result and the one after.
    fn merge_around(&mut self, center: usize) {
        let mut c = center;
        if c >= 2 && self.allows_merge(c - 2, c - 1) {
            self.merge(c - 2);
            c -= 1;
        }
        if self.allows_merge(c + 1, c + 2) {
            self.merge(c + 1);
        }
        let target = if c >= 1 && self.allows_merge(c - 1, c) {
            self.merge(c - 1);
            c - 1
        } else {
            c
        };
        if self.allows_merge(target, target + 1) {
            self.merge(target);
        }
    }

    fn remove_front(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(node) = self.nodes.front_mut() else { break };
            if node.len() <= n {
                n -= node.len();
                self.nodes.pop_front();
            } else {
                node.remove_span(0, n);
                n = 0;
            }
        }
    }

    fn remove_back(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(node) = self.nodes.back_mut() else { break };
            if node.len() <= n {
                n -= node.len();
                self.nodes.pop_back();
            } else {
                let offset = node.pack.offset_of(-(n as i64)).unwrap_or(0);
                node.remove_span(offset, n);
                n = 0;
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Repr {
    /// The compact encoding: one node.
    Pack(Node),
    Quick(Quicklist),
}

/// A list value.
#[derive(Clone, Debug)]
pub struct List(Repr);

impl Default for List {
    fn default() -> Self {
        List(Repr::Pack(Node::new()))
    }
}

/// An index as Redis reads it (negative from the end), if it falls in a list of `len`.
fn resolve(index: i64, len: usize) -> Option<usize> {
    let len_i = i64::try_from(len).ok()?;
    let i = if index < 0 { len_i.checked_add(index)? } else { index };
    usize::try_from(i).ok().filter(|&i| i < len)
}

impl List {
    /// A list of `elements` (front to back), encoded as pushing them one by one with
    /// `list-max-listpack-size` = `fill` would encode it.
    pub fn from_elements<'a>(elements: impl IntoIterator<Item = &'a [u8]>, fill: i64) -> List {
        let mut list = List::default();
        for e in elements {
            list.push_element(e, false, fill, e.len());
        }
        list
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Pack(node) => node.len(),
            Repr::Quick(q) => q.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::Pack(_) => "listpack",
            Repr::Quick(_) => "quicklist",
        }
    }

    fn nodes(&self) -> (&[Node], &[Node]) {
        match &self.0 {
            Repr::Pack(node) => (std::slice::from_ref(node), &[]),
            Repr::Quick(q) => q.nodes.as_slices(),
        }
    }

    fn node(&self, i: usize) -> Option<&Node> {
        match &self.0 {
            Repr::Pack(node) => (i == 0).then_some(node),
            Repr::Quick(q) => q.nodes.get(i),
        }
    }

    fn node_mut(&mut self, i: usize) -> Option<&mut Node> {
        match &mut self.0 {
            Repr::Pack(node) => (i == 0).then_some(node),
            Repr::Quick(q) => q.nodes.get_mut(i),
        }
    }

    /// The elements, front to back (back to front with `.rev()`).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        let (a, b) = self.nodes();
        a.iter().chain(b.iter()).flat_map(|n| n.pack.iter())
    }

    /// Node and byte offset of element `index` (< len), skipping whole nodes from the nearer end.
    fn seek(&self, index: usize) -> Option<(usize, usize)> {
        let q = match &self.0 {
            Repr::Pack(node) => return Some((0, node.pack.offset_of(i64::try_from(index).ok()?)?)),
            Repr::Quick(q) => q,
        };
        if index >= q.len {
            return None;
        }
        let mut before = 0;
        if index <= (q.len - 1) / 2 {
            for (i, n) in q.nodes.iter().enumerate() {
                if index < before + n.len() {
                    return Some((i, n.pack.offset_of(i64::try_from(index - before).ok()?)?));
                }
                before += n.len();
            }
        } else {
            let from_back = q.len - 1 - index;
            for (i, n) in q.nodes.iter().enumerate().rev() {
                if from_back < before + n.len() {
                    let local = i64::try_from(from_back - before).ok()?;
                    return Some((i, n.pack.offset_of(-local - 1)?));
                }
                before += n.len();
            }
        }
        None
    }

    /// The element at `index` (negative counts from the back).
    pub fn get(&self, index: i64) -> Option<&[u8]> {
        let (ni, offset) = self.seek(resolve(index, self.len())?)?;
        Some(self.node(ni)?.pack.get(offset)?.0)
    }

    /// `count` elements from index `start` on, towards the back, or with `rev` towards the front.
    pub fn range(&self, start: usize, count: usize, rev: bool) -> Range<'_> {
        let (ni, offset) = self.seek(start).unwrap_or((0, 0));
        let left =
            if start < self.len() { count.min(if rev { start + 1 } else { self.len() - start }) } else { 0 };
        Range { list: self, node: self.node(ni), ni, offset, left, rev }
    }

    /// Makes a listpack a quicklist if adding `count` elements of `bytes` raw bytes would take it past the
    /// limit (`listTypeTryConvertListpack`).
    fn grow(&mut self, bytes: usize, count: usize, fill: i64) {
        let Repr::Pack(node) = &mut self.0 else { return };
        if !exceeds(fill, node.size.saturating_add(bytes), node.len() + count) {
            return;
        }
        let node = std::mem::replace(node, Node::new());
        let len = node.len();
        let mut nodes = VecDeque::new();
        if len > 0 {
            nodes.push_back(node);
        }
        self.0 = Repr::Quick(Quicklist { nodes, len, fill: fill.clamp(FILL_MIN, FILL_MAX) });
    }

    /// After a removal: a quicklist left with one node within half the limit becomes a listpack again
    /// (`listTypeTryConvertQuicklist` when shrinking).
    pub fn shrink(&mut self, fill: i64) {
        let Repr::Quick(q) = &mut self.0 else { return };
        if q.nodes.len() != 1 {
            return;
        }
        let (max_size, max_count) = node_limit(fill);
        if q.nodes.front().is_some_and(|n| n.size <= max_size / 2) && q.len <= max_count / 2 {
            if let Some(node) = q.nodes.pop_front() {
                self.0 = Repr::Pack(node);
            }
        }
    }

    fn push_raw(&mut self, data: &[u8], front: bool) {
        match &mut self.0 {
            Repr::Pack(node) => node.push(data, front),
            Repr::Quick(q) => q.push(data, front),
        }
    }

    /// `LPUSH`/`RPUSH`: pushes each item in turn at the front or the back.
    pub fn push(&mut self, items: &[&[u8]], front: bool, fill: i64) {
        self.grow(items.iter().map(|i| i.len()).sum(), items.len(), fill);
        for item in items {
            self.push_raw(item, front);
        }
    }

    /// Pushes one element, counting `counted` bytes for it when deciding whether a listpack must become a
    /// quicklist (see [`List::pop_moved`]).
    pub fn push_element(&mut self, data: &[u8], front: bool, fill: i64, counted: usize) {
        self.grow(counted, 1, fill);
        self.push_raw(data, front);
    }

    /// Removes the element at one end, handing it to `f` first (so that a reply can be written from it
    /// without a copy).
    pub fn pop_with<R>(&mut self, front: bool, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match &mut self.0 {
            Repr::Pack(node) => node.pop_with(front, f),
            Repr::Quick(q) => {
                let node = if front { q.nodes.front_mut() } else { q.nodes.back_mut() }?;
                let r = node.pop_with(front, f)?;
                if node.len() == 0 {
                    if front {
                        q.nodes.pop_front();
                    } else {
                        q.nodes.pop_back();
                    }
                }
                q.len -= 1;
                Some(r)
            }
        }
    }

    pub fn pop(&mut self, front: bool) -> Option<Vec<u8>> {
        self.pop_with(front, <[u8]>::to_vec)
    }

    /// Pops an element for `LMOVE`, with the bytes Redis counts for it when pushing it to the destination:
    /// an integer popped from a quicklist comes back as an integer object, which Redis counts as 0 bytes.
    pub fn pop_moved(&mut self, front: bool) -> Option<(Vec<u8>, usize)> {
        let quick = matches!(self.0, Repr::Quick(_));
        self.pop_with(front, |d| (d.to_vec(), if quick && lp_int(d).is_some() { 0 } else { d.len() }))
    }

    /// Removes `n` elements from the front.
    pub fn remove_front(&mut self, n: usize) {
        match &mut self.0 {
            Repr::Pack(node) => node.remove_span(0, n),
            Repr::Quick(q) => q.remove_front(n),
        }
    }

    /// Removes `n` elements from the back.
    pub fn remove_back(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        match &mut self.0 {
            Repr::Pack(node) => {
                let n = n.min(node.len());
                let offset = node.pack.offset_of(-(n as i64)).unwrap_or(0);
                node.remove_span(offset, n);
            }
            Repr::Quick(q) => q.remove_back(n),
        }
    }

    /// `LSET`: replaces the element at `index`; `false` if there is none. As in Redis, a listpack that the
    /// new element's length would take past the limit becomes a quicklist first, index or not.
    pub fn set(&mut self, index: i64, data: &[u8], fill: i64) -> bool {
        self.grow(data.len(), 1, fill);
        let Some((ni, offset)) = resolve(index, self.len()).and_then(|i| self.seek(i)) else { return false };
        match self.node_mut(ni) {
            Some(node) => {
                node.replace(offset, data);
                true
            }
            None => false,
        }
    }

    /// `LINSERT`: inserts `data` before or after the first element equal to `pivot`; `false` if there is
    /// none. As in Redis, the listpack check for the new element happens first, pivot or not.
    pub fn insert(&mut self, pivot: &[u8], data: &[u8], after: bool, fill: i64) -> bool {
        self.grow(data.len(), 1, fill);
        let (a, b) = self.nodes();
        let found = a.iter().chain(b).enumerate().find_map(|(ni, node)| {
            node.pack
                .iter_offsets()
                .enumerate()
                .find(|(_, (_, d))| *d == pivot)
                .map(|(local, (o, _))| (ni, o, local))
        });
        let Some((ni, offset, local)) = found else { return false };
        match &mut self.0 {
            Repr::Pack(node) => node.insert_beside(offset, data, after),
            Repr::Quick(q) => q.insert(ni, offset, local, data, after),
        }
        true
    }

    /// `LREM`: removes the first `count` elements equal to `value` (the last ones for a negative count, all
    /// of them for 0). Returns how many went.
    pub fn remove(&mut self, value: &[u8], count: i64) -> usize {
        let rev = count < 0;
        let mut left =
            if count == 0 { usize::MAX } else { usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX) };
        match &mut self.0 {
            Repr::Pack(node) => node.remove_matches(value, left, rev),
            Repr::Quick(q) => {
                let mut removed = 0;
                let n = q.nodes.len();
                for k in 0..n {
                    let i = if rev { n - 1 - k } else { k };
                    if let Some(node) = q.nodes.get_mut(i) {
                        let r = node.remove_matches(value, left, rev);
                        removed += r;
                        left -= r;
                    }
                    if left == 0 {
                        break;
                    }
                }
                if removed > 0 {
                    q.nodes.retain(|n| n.len() > 0);
                    q.len -= removed;
                }
                removed
            }
        }
    }
}

/// Elements from a position on, in either direction (see [`List::range`]).
pub struct Range<'a> {
    list: &'a List,
    /// The current node, its index, and the offset of the next element in it.
    node: Option<&'a Node>,
    ni: usize,
    offset: usize,
    left: usize,
    rev: bool,
}

impl<'a> Iterator for Range<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let node = self.node?;
        let (data, next) = node.pack.get(self.offset)?;
        self.left -= 1;
        if self.rev {
            match node.pack.get_before(self.offset) {
                Some((_, start)) => self.offset = start,
                None => {
                    self.ni = self.ni.wrapping_sub(1);
                    self.node = self.list.node(self.ni);
                    self.offset =
                        self.node.and_then(|n| n.pack.get_before(n.pack.end())).map_or(0, |(_, s)| s);
                }
            }
        } else if next >= node.pack.end() {
            self.ni += 1;
            self.node = self.list.node(self.ni);
            self.offset = 0;
        } else {
            self.offset = next;
        }
        Some(data)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Range<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn items(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(<[u8]>::to_vec).collect()
    }

    fn strs(l: &List) -> Vec<String> {
        l.iter().map(|d| String::from_utf8_lossy(d).into_owned()).collect()
    }

    /// Node counts, front to back.
    fn layout(l: &List) -> Vec<usize> {
        let (a, b) = l.nodes();
        a.iter().chain(b).map(Node::len).collect()
    }

    /// Every invariant: sizes match a recount, no empty quicklist node, lengths add up, both directions agree.
    fn check(l: &List) {
        let (a, b) = l.nodes();
        let mut total = 0;
        for n in a.iter().chain(b) {
            assert_eq!(n.size, LP_EMPTY + n.pack.iter().map(lp_entry_size).sum::<usize>());
            if let Repr::Quick(_) = l.0 {
                assert!(n.len() > 0, "empty node in {l:?}");
            }
            total += n.len();
        }
        assert_eq!(total, l.len());
        let mut back: Vec<Vec<u8>> = l.iter().rev().map(<[u8]>::to_vec).collect();
        back.reverse();
        assert_eq!(back, items(l));
    }

    fn list(fill: i64, elements: &[&str]) -> List {
        List::from_elements(elements.iter().map(|e| e.as_bytes()), fill)
    }

    #[test]
    fn listpack_sizes() {
        assert_eq!(lp_entry_size(b"0"), 2);
        assert_eq!(lp_entry_size(b"127"), 2);
        assert_eq!(lp_entry_size(b"128"), 3);
        assert_eq!(lp_entry_size(b"-4096"), 3);
        assert_eq!(lp_entry_size(b"-4097"), 4);
        assert_eq!(lp_entry_size(b"32767"), 4);
        assert_eq!(lp_entry_size(b"8388607"), 5);
        assert_eq!(lp_entry_size(b"2147483647"), 6);
        assert_eq!(lp_entry_size(b"9223372036854775807"), 10);
        assert_eq!(lp_entry_size(b"-9223372036854775808"), 10);
        // Not canonical integers: strings.
        assert_eq!(lp_entry_size(b"9223372036854775808"), 21);
        assert_eq!(lp_entry_size(b"01"), 4);
        assert_eq!(lp_entry_size(b"-0"), 4);
        assert_eq!(lp_entry_size(b"+1"), 4);
        assert_eq!(lp_entry_size(b""), 2);
        assert_eq!(lp_entry_size(b"hello"), 7);
        assert_eq!(lp_entry_size(&[b'x'; 63]), 65);
        assert_eq!(lp_entry_size(&[b'x'; 64]), 67);
        assert_eq!(lp_entry_size(&[b'x'; 126]), 130);
        assert_eq!(lp_entry_size(&[b'x'; 4096]), 4103);
        assert_eq!(lp_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(lp_int(b"-12"), Some(-12));
        assert_eq!(lp_int(b"-"), None);
    }

    #[test]
    fn limits_like_redis() {
        assert_eq!(node_limit(-1), (4096, usize::MAX));
        assert_eq!(node_limit(-5), (65536, usize::MAX));
        assert_eq!(node_limit(-6), (65536, usize::MAX));
        assert_eq!(node_limit(i32::MIN as i64), (65536, usize::MAX));
        assert_eq!(node_limit(0), (usize::MAX, 1));
        assert_eq!(node_limit(128), (usize::MAX, 128));
        assert!(exceeds(128, 8193, 1));
        assert!(!exceeds(128, 8192, 128));
        assert!(exceeds(128, 100, 129));
    }

    /// The cases of Redis 7.2's "List listpack -> quicklist encoding conversion" test.
    #[test]
    fn listpack_to_quicklist() {
        let large = "x".repeat(8192);
        for (fill, big) in [(3, "hello"), (-1, large.as_str())] {
            let mut l = list(fill, &["a", "b", "c"]);
            assert_eq!(l.encoding(), "listpack");
            l.push(&[big.as_bytes()], false, fill);
            assert_eq!(l.encoding(), "quicklist");

            let mut l = list(fill, &["a", "b", "c"]);
            assert!(l.insert(b"b", big.as_bytes(), true, fill));
            assert_eq!(l.encoding(), "quicklist");
            assert_eq!(strs(&l), vec!["a", "b", big, "c"]);

            let mut l = list(fill, &["a", "b", "c"]);
            assert!(l.set(0, big.as_bytes(), fill));
            assert_eq!(l.encoding(), "quicklist");

            let mut src = list(fill, &["a", "b", "c", big]);
            assert_eq!(src.encoding(), "quicklist");
            let mut dst = list(fill, &["d", "e", "f"]);
            let (v, counted) = src.pop_moved(false).unwrap();
            dst.push_element(&v, false, fill, counted);
            assert_eq!(dst.encoding(), "quicklist");
            check(&src);
            check(&dst);
        }
    }

    /// The cases of Redis 7.2's "List quicklist -> listpack encoding conversion" test.
    #[test]
    fn quicklist_to_listpack() {
        let mut l = list(3, &["a", "b", "c", "d"]);
        assert_eq!((l.encoding(), layout(&l)), ("quicklist", vec![3, 1]));
        l.remove_back(3);
        l.shrink(3);
        assert_eq!((l.encoding(), strs(&l)), ("listpack", vec!["a".to_string()]));

        let mut l = list(3, &["a", "a", "a", "d"]);
        assert_eq!(l.remove(b"a", 3), 3);
        l.shrink(3);
        assert_eq!(l.encoding(), "listpack");

        let mut l = list(3, &["a", "b", "c", "d"]);
        l.remove_front(1);
        l.remove_back(2);
        l.shrink(3);
        assert_eq!((l.encoding(), strs(&l)), ("listpack", vec!["b".to_string()]));

        let large = "x".repeat(8192);
        let mut l = list(-1, &["a", "b", "c", &large]);
        assert_eq!(layout(&l), vec![3, 1]);
        l.pop(false);
        l.shrink(-1);
        assert_eq!(l.encoding(), "listpack");

        let mut l = list(-1, &["a", &large]);
        assert_eq!(l.remove(large.as_bytes(), 1), 1);
        l.shrink(-1);
        assert_eq!(l.encoding(), "listpack");

        let mut l = list(-1, &[&large, "a", "b"]);
        assert_eq!(layout(&l), vec![1, 2]);
        l.remove_back(2);
        l.shrink(-1);
        assert_eq!(l.encoding(), "quicklist");
        assert!(l.set(-1, b"c", -1));
        l.shrink(-1);
        assert_eq!(l.encoding(), "listpack");
        check(&l);
    }

    /// Redis 7.2's "List invalid list-max-listpack-size config" test.
    #[test]
    fn odd_fill_values() {
        let mut l = list(0, &["a"]);
        assert_eq!(l.encoding(), "listpack");
        l.push(&[b"b"], false, 0);
        assert_eq!(l.encoding(), "quicklist");

        let mut l = List::from_elements([&[b'x'; 60000][..]], -6);
        assert_eq!(l.encoding(), "listpack");
        l.push(&[&[b'x'; 5536][..]], false, -6);
        assert_eq!(l.encoding(), "quicklist");
    }

    #[test]
    fn shrinking_needs_half_the_limit() {
        // Four elements per node: a single node goes back to a listpack only at two elements or fewer.
        let mut l = list(4, &["a", "b", "c", "d", "e"]);
        assert_eq!(layout(&l), vec![4, 1]);
        for (pops, encoding) in [(1, "quicklist"), (1, "quicklist"), (1, "listpack")] {
            for _ in 0..pops {
                l.pop(false);
            }
            l.shrink(4);
            assert_eq!(l.encoding(), encoding);
        }
        // Once a quicklist, a list keeps the fill it was made with for its nodes.
        let mut l = list(2, &["a", "b", "c"]);
        assert_eq!(layout(&l), vec![2, 1]);
        l.push(&[b"d", b"e"], false, 100);
        assert_eq!(layout(&l), vec![2, 2, 1]);
    }

    #[test]
    fn push_pop_get_range_across_nodes() {
        let mut l = List::default();
        for i in 0..20 {
            l.push(&[i.to_string().as_bytes()], i % 2 == 0, 3);
        }
        check(&l);
        let model: Vec<String> = strs(&l);
        assert_eq!(model.len(), 20);
        assert!(layout(&l).iter().all(|&n| n <= 3));
        for i in -25..25 {
            let want = if i < 0 { model.len() as i64 + i } else { i };
            assert_eq!(
                l.get(i).map(|d| String::from_utf8_lossy(d).into_owned()),
                usize::try_from(want).ok().and_then(|w| model.get(w).cloned())
            );
        }
        let fwd: Vec<&[u8]> = l.range(5, 9, false).collect();
        assert_eq!(fwd.len(), 9);
        assert_eq!(
            fwd.iter().map(|d| String::from_utf8_lossy(d).into_owned()).collect::<Vec<_>>(),
            &model[5..14]
        );
        let back: Vec<String> =
            l.range(19, 100, true).map(|d| String::from_utf8_lossy(d).into_owned()).collect();
        let mut rev = model.clone();
        rev.reverse();
        assert_eq!(back, rev);
        assert_eq!(l.range(20, 5, false).len(), 0);
        assert_eq!(l.range(3, 10, true).len(), 4);
        while l.pop(true).is_some() {}
        assert!(l.is_empty());
        assert_eq!(layout(&l), Vec::<usize>::new());
    }

    #[test]
    fn insert_splits_and_merges() {
        let fill = 3;
        let mut l = list(fill, &["a", "b", "c", "d", "e", "f"]);
        assert_eq!(layout(&l), vec![3, 3]);
        let steps: [(&str, &str, bool, &[usize]); 7] = [
            // Into the middle of a full node: split, nothing fits together to merge.
            ("b", "X", true, &[2, 2, 3]),
            // Into a node with room.
            ("X", "Y", true, &[2, 3, 3]),
            // After the tail of a full node whose next is full too: a new node.
            ("c", "Z", true, &[2, 3, 1, 3]),
            // Before the head of a full node: the previous node has room.
            ("X", "W", false, &[3, 3, 1, 3]),
            // After the tail of a full node: the next node has room.
            ("c", "V", true, &[3, 3, 2, 3]),
            ("d", "U", false, &[3, 3, 3, 3]),
            // Before the head of the first node, which is full: a new node.
            ("a", "T", false, &[1, 3, 3, 3, 3]),
        ];
        for (pivot, value, after, want) in steps {
            assert!(l.insert(pivot.as_bytes(), value.as_bytes(), after, fill));
            assert_eq!(layout(&l), want, "{value} {} {pivot}", if after { "after" } else { "before" });
            check(&l);
        }
        assert_eq!(strs(&l).concat(), "TabWXYcVZUdef");
        assert!(!l.insert(b"nope", b"S", true, fill));

        // Splits merge with the neighbours that fit.
        let mut l = list(5, &["a", "b", "c", "d", "e", "f"]);
        assert_eq!(layout(&l), vec![5, 1]);
        assert!(l.insert(b"b", b"X", true, 5));
        assert_eq!((layout(&l), strs(&l).concat()), (vec![2, 5], "abXcdef".to_string()));
        let mut l = list(5, &["a", "b", "c", "d", "e", "f"]);
        assert!(l.insert(b"c", b"X", false, 5));
        assert_eq!((layout(&l), strs(&l).concat()), (vec![3, 4], "abXcdef".to_string()));
        check(&l);
    }

    #[test]
    fn lrem_both_directions() {
        let mut l = list(2, &["x", "a", "x", "b", "x", "c", "x"]);
        assert_eq!(l.remove(b"x", -2), 2);
        assert_eq!(strs(&l), vec!["x", "a", "x", "b", "c"]);
        assert_eq!(l.remove(b"x", 1), 1);
        assert_eq!(strs(&l), vec!["a", "x", "b", "c"]);
        assert_eq!(l.remove(b"x", 0), 1);
        assert_eq!(l.remove(b"x", 0), 0);
        assert_eq!(strs(&l), vec!["a", "b", "c"]);
        check(&l);
        let mut l = list(-2, &["x", "x", "y", "x"]);
        assert_eq!(l.remove(b"x", i64::MIN), 3);
        assert_eq!(strs(&l), vec!["y"]);
        check(&l);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<Vec<u8>>),
        Pop(bool),
        Trim(bool, usize),
        Set(i64, Vec<u8>),
        Insert(usize, bool, Vec<u8>),
        Remove(usize, i64),
        Shrink,
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => prop::sample::select(vec!["a", "b", "1", "-7", "300", ""]).prop_map(|s| s.as_bytes().to_vec()),
            1 => (0usize..1500).prop_map(|n| vec![b'x'; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), prop::collection::vec(element(), 1..4)).prop_map(|(f, v)| Op::Push(f, v)),
            2 => any::<bool>().prop_map(Op::Pop),
            1 => (any::<bool>(), 0usize..6).prop_map(|(f, n)| Op::Trim(f, n)),
            1 => (-12i64..12, element()).prop_map(|(i, e)| Op::Set(i, e)),
            2 => (0usize..40, any::<bool>(), element()).prop_map(|(i, a, e)| Op::Insert(i, a, e)),
            1 => (0usize..40, -3i64..3).prop_map(|(i, c)| Op::Remove(i, c)),
            1 => Just(Op::Shrink),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_deque(fill in prop::sample::select(vec![-1i64, 1, 2, 3, 5]), ops in prop::collection::vec(op(), 0..80)) {
            let mut l = List::default();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(front, items) => {
                        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
                        l.push(&refs, front, fill);
                        for i in items {
                            if front { model.push_front(i) } else { model.push_back(i) }
                        }
                    }
                    Op::Pop(front) => {
                        let want = if front { model.pop_front() } else { model.pop_back() };
                        prop_assert_eq!(l.pop(front), want);
                    }
                    Op::Trim(front, n) => {
                        let n = n.min(model.len());
                        if front {
                            l.remove_front(n);
                            model.drain(..n);
                        } else {
                            l.remove_back(n);
                            model.truncate(model.len() - n);
                        }
                    }
                    Op::Set(i, e) => {
                        let at = resolve(i, model.len());
                        prop_assert_eq!(l.set(i, &e, fill), at.is_some());
                        if let Some(at) = at {
                            model[at] = e;
                        }
                    }
                    Op::Insert(i, after, e) => {
                        // A pivot from the list (its first occurrence), or none.
                        let pivot = model.get(i).cloned().unwrap_or_else(|| b"missing".to_vec());
                        let at = model.iter().position(|m| *m == pivot);
                        prop_assert_eq!(l.insert(&pivot, &e, after, fill), at.is_some());
                        if let Some(at) = at {
                            model.insert(if after { at + 1 } else { at }, e);
                        }
                    }
                    Op::Remove(i, count) => {
                        let value = model.get(i).cloned().unwrap_or_default();
                        let mut matches: Vec<usize> = (0..model.len()).filter(|&k| model[k] == value).collect();
                        if count < 0 {
                            matches.reverse();
                        }
                        if count != 0 {
                            matches.truncate(count.unsigned_abs() as usize);
                        }
                        matches.sort_unstable();
                        for k in matches.iter().rev() {
                            model.remove(*k);
                        }
                        prop_assert_eq!(l.remove(&value, count), matches.len());
                    }
                    Op::Shrink => l.shrink(fill),
                }
                check(&l);
                prop_assert_eq!(items(&l), Vec::from(model.clone()));
                let n = model.len();
                if n > 0 {
                    let mid = n / 2;
                    prop_assert_eq!(l.get(mid as i64), model.get(mid).map(Vec::as_slice));
                    prop_assert_eq!(l.get(-1), model.back().map(Vec::as_slice));
                    let fwd: Vec<&[u8]> = l.range(mid, n, false).collect();
                    prop_assert_eq!(fwd.len(), n - mid);
                    prop_assert!(fwd.iter().zip(model.range(mid..)).all(|(a, b)| *a == b.as_slice()));
                    let back: Vec<&[u8]> = l.range(mid, n, true).collect();
                    prop_assert_eq!(back.len(), mid + 1);
                    prop_assert!(back.iter().zip(model.range(..=mid).rev()).all(|(a, b)| *a == b.as_slice()));
                }
            }
        }
    }
}
