//! The ordered index of a large sorted set: a skiplist with spans (Pugh's skiplist as Redis's `t_zset.c`
//! extends it), kept in an arena so that it needs no unsafe code and no pointer per link.
//!
//! Every level of a node is a link: the id of the next node on that level, its span (how many nodes the
//! link jumps over, counting its target) and a copy of the target's score. A node's links sit next to each
//! other (its "tower") in one `Vec` of links, and a node's id is where its tower starts, so a search step
//! reads one link, usually from a cache line it already has, and compares scores without visiting the
//! next node (members are compared only on equal scores). Ids stay valid until the node is removed; a
//! removed tower is reused by a later node of the same height. Id 0 is the header's tower, never a link's
//! target, so 0 also means "none".
//!
//! Spans give ranks in O(log n): insert, delete, rank of a member, node at a rank, first/last node in a
//! score or lexicographic range. Level 0 is a doubly linked list (`back`), so a range is walked in either
//! direction in O(1) per node.
//!
//! Order is by score, then by member bytes (`memcmp`, shorter first on a tie), as Redis orders.

use std::cmp::Ordering;

/// The id of the header, and of "no node".
pub const NIL: u32 = 0;
/// As in Redis: enough for 2^64 elements with P = 1/4.
const MAX_LEVEL: usize = 32;

/// One level of a node: the next node on that level, how many nodes the link spans, and the next node's
/// score (kept here so that a search step need not visit the next node).
#[derive(Clone, Copy, Debug, Default)]
struct Link {
    next: u32,
    span: u32,
    score: f64,
}

/// What a node holds besides its links.
#[derive(Clone, Debug, Default)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    back: u32,
    height: u8,
}

/// A range of scores, each end inclusive or exclusive (`(1.5`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }

    pub fn contains(&self, v: f64) -> bool {
        self.gte_min(v) && self.lte_max(v)
    }

    /// Ranges that can hold nothing (`5 1`, `(1 1`).
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lexicographic range: `-` (before every string), `+` (after every string), `[a` or `(a`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexBound<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

impl LexBound<'_> {
    /// `value` compared with this bound's string (`-` and `+` as infinities).
    fn cmp_value(&self, value: &[u8]) -> Ordering {
        match self {
            LexBound::Min => Ordering::Greater,
            LexBound::Max => Ordering::Less,
            LexBound::Incl(b) | LexBound::Excl(b) => value.cmp(b),
        }
    }

    /// `-` and `+` count as exclusive, as Redis parses them.
    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }

    fn rank(&self) -> u8 {
        match self {
            LexBound::Min => 0,
            LexBound::Incl(_) | LexBound::Excl(_) => 1,
            LexBound::Max => 2,
        }
    }
}

/// A lexicographic range (`ZRANGEBYLEX`); meaningful when all scores are equal, as Redis documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl LexRange<'_> {
    pub fn gte_min(&self, v: &[u8]) -> bool {
        match self.min.cmp_value(v) {
            Ordering::Greater => true,
            Ordering::Equal => !self.min.exclusive(),
            Ordering::Less => false,
        }
    }

    pub fn lte_max(&self, v: &[u8]) -> bool {
        match self.max.cmp_value(v) {
            Ordering::Less => true,
            Ordering::Equal => !self.max.exclusive(),
            Ordering::Greater => false,
        }
    }

    /// Ranges that can hold nothing (`[b [a`, `(a [a`, `+ -`).
    pub fn is_empty(&self) -> bool {
        let order = match (self.min, self.max) {
            (LexBound::Incl(a) | LexBound::Excl(a), LexBound::Incl(b) | LexBound::Excl(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        };
        order == Ordering::Greater
            || (order == Ordering::Equal && (self.min.exclusive() || self.max.exclusive()))
    }
}

/// A skiplist of `(score, member)` pairs with ranks. Members must be unique: the caller keeps the
/// member -> node map that guarantees it.
#[derive(Clone, Debug)]
pub struct SkipList {
    /// Every tower: the header's at 0 (`MAX_LEVEL` links), then one per node, `height` links long.
    links: Vec<Link>,
    /// Node data, indexed by tower start (the other slots are unused).
    nodes: Vec<Node>,
    /// Towers of removed nodes, by height - 1.
    free: Vec<Vec<u32>>,
    /// Towers allocated, used or free.
    towers: usize,
    /// Levels in use (at least 1).
    level: usize,
    len: usize,
    tail: u32,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList::new()
    }
}

fn random_level() -> usize {
    let mut level = 1;
    while level < MAX_LEVEL && fastrand::u32(..) & 3 == 0 {
        level += 1;
    }
    level
}

impl SkipList {
    pub fn new() -> SkipList {
        SkipList::with_capacity(0)
    }

    /// A list sized for `n` nodes.
    pub fn with_capacity(n: usize) -> SkipList {
        // Towers average 4/3 links; a little more so that a set of `n` rarely grows its vectors.
        let slots = MAX_LEVEL + n + n / 3 + n / 32;
        let mut links = Vec::with_capacity(slots);
        links.resize(MAX_LEVEL, Link::default());
        let mut nodes = Vec::with_capacity(slots);
        nodes.resize(MAX_LEVEL, Node::default());
        SkipList { links, nodes, free: Vec::new(), towers: 0, level: 1, len: 0, tail: NIL }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Node towers allocated, used or free (to decide when to compact).
    pub fn slots(&self) -> usize {
        self.towers
    }

    fn n(&self, id: u32) -> Option<&Node> {
        self.nodes.get(id as usize)
    }

    fn link(&self, id: u32, level: usize) -> Link {
        self.links.get(id as usize + level).copied().unwrap_or_default()
    }

    fn set_link(&mut self, id: u32, level: usize, link: Link) {
        if let Some(l) = self.links.get_mut(id as usize + level) {
            *l = link;
        }
    }

    fn add_span(&mut self, id: u32, level: usize, delta: i64) {
        if let Some(l) = self.links.get_mut(id as usize + level) {
            l.span = (l.span as i64 + delta).clamp(0, u32::MAX as i64) as u32;
        }
    }

    fn height(&self, id: u32) -> usize {
        self.n(id).map_or(0, |n| n.height as usize)
    }

    fn set_back(&mut self, id: u32, back: u32) {
        if let Some(n) = self.nodes.get_mut(id as usize) {
            n.back = back;
        }
    }

    pub fn member(&self, id: u32) -> &[u8] {
        self.n(id).map_or(&[], |n| &n.member)
    }

    pub fn score(&self, id: u32) -> f64 {
        self.n(id).map_or(0.0, |n| n.score)
    }

    /// Whether `link` leads to a node that sorts before `(score, member)`.
    fn before(&self, link: Link, score: f64, member: &[u8]) -> bool {
        link.next != NIL && (link.score < score || (link.score == score && self.member(link.next) < member))
    }

    /// The first node (lowest score), `NIL` when empty.
    pub fn first(&self) -> u32 {
        self.link(NIL, 0).next
    }

    /// The last node (highest score), `NIL` when empty.
    pub fn last(&self) -> u32 {
        self.tail
    }

    pub fn next(&self, id: u32) -> u32 {
        if id == NIL {
            return NIL;
        }
        self.link(id, 0).next
    }

    pub fn prev(&self, id: u32) -> u32 {
        if id == NIL {
            return NIL;
        }
        self.n(id).map_or(NIL, |n| n.back)
    }

    /// A tower of `height` links for a new node: a free one of that height, or a new one at the end.
    fn alloc(&mut self, height: usize) -> u32 {
        if let Some(id) = self.free.get_mut(height - 1).and_then(Vec::pop) {
            return id;
        }
        let id = self.links.len() as u32;
        if self.links.len() + height > self.links.capacity() {
            // Grow by a quarter rather than double: these are most of a large set's memory.
            let more = (self.links.len() / 4).max(height + 64);
            self.links.reserve_exact(more);
            self.nodes.reserve_exact(more);
        }
        self.links.resize(self.links.len() + height, Link::default());
        self.nodes.resize(self.links.len(), Node::default());
        self.towers += 1;
        id
    }

    /// Adds a member that is not in the list yet; returns its node id.
    pub fn insert(&mut self, score: f64, member: Box<[u8]>) -> u32 {
        let height = random_level();
        let id = self.alloc(height);
        if let Some(n) = self.nodes.get_mut(id as usize) {
            *n = Node { member, score, back: NIL, height: height as u8 };
        }
        self.link_in(id);
        id
    }

    /// Threads node `id` (holding its member, score and height; its links cleared) into the list.
    fn link_in(&mut self, id: u32) {
        let mut update = [NIL; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        let height = self.height(id);
        let score = self.score(id);
        {
            let member = self.member(id);
            let mut x = NIL;
            for i in (0..self.level).rev() {
                let mut r = if i + 1 == self.level { 0 } else { rank.get(i + 1).copied().unwrap_or(0) };
                loop {
                    let l = self.link(x, i);
                    if !self.before(l, score, member) {
                        break;
                    }
                    r += l.span as usize;
                    x = l.next;
                }
                if let (Some(u), Some(rk)) = (update.get_mut(i), rank.get_mut(i)) {
                    *u = x;
                    *rk = r;
                }
            }
        }
        if height > self.level {
            for i in self.level..height {
                let len = self.len as u32;
                self.set_link(NIL, i, Link { next: NIL, span: len, score: 0.0 });
            }
            self.level = height;
        }
        let r0 = rank[0];
        for i in 0..height {
            let (u, ri) = (update.get(i).copied().unwrap_or(NIL), rank.get(i).copied().unwrap_or(0));
            let ul = self.link(u, i);
            let crossed = r0.saturating_sub(ri) as u32;
            self.set_link(
                id,
                i,
                Link { next: ul.next, span: ul.span.saturating_sub(crossed), score: ul.score },
            );
            self.set_link(u, i, Link { next: id, span: crossed + 1, score });
        }
        for i in height..self.level {
            self.add_span(update.get(i).copied().unwrap_or(NIL), i, 1);
        }
        self.set_back(id, update[0]);
        let next = self.link(id, 0).next;
        if next != NIL {
            self.set_back(next, id);
        } else {
            self.tail = id;
        }
        self.len += 1;
    }

    /// For each level, the last node before `(score, member)`.
    fn path(&self, score: f64, member: &[u8]) -> [u32; MAX_LEVEL] {
        let mut update = [NIL; MAX_LEVEL];
        let mut x = NIL;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if !self.before(l, score, member) {
                    break;
                }
                x = l.next;
            }
            if let Some(u) = update.get_mut(i) {
                *u = x;
            }
        }
        update
    }

    /// The path to node `id`, if it is linked.
    fn path_to(&self, id: u32) -> Option<[u32; MAX_LEVEL]> {
        let update = self.path(self.score(id), self.member(id));
        (self.link(update[0], 0).next == id && id != NIL).then_some(update)
    }

    /// Takes node `id` out of the links, given the path to it.
    fn unlink(&mut self, id: u32, update: &[u32; MAX_LEVEL]) {
        for i in 0..self.level {
            let u = update.get(i).copied().unwrap_or(NIL);
            let ul = self.link(u, i);
            if ul.next == id {
                let xl = self.link(id, i);
                let span = ul.span.saturating_add(xl.span).saturating_sub(1);
                self.set_link(u, i, Link { next: xl.next, span, score: xl.score });
            } else {
                self.add_span(u, i, -1);
            }
        }
        let (next, back) = (self.link(id, 0).next, self.prev(id));
        if next != NIL {
            self.set_back(next, back);
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.link(NIL, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        for i in 0..self.height(id) {
            self.set_link(id, i, Link::default());
        }
    }

    /// Releases the tower of an unlinked node, returning its member.
    fn release(&mut self, id: u32) -> Box<[u8]> {
        let node = self.nodes.get_mut(id as usize).map(std::mem::take).unwrap_or_default();
        let h = (node.height as usize).max(1);
        if self.free.len() < h {
            self.free.resize(h, Vec::new());
        }
        if let Some(f) = self.free.get_mut(h - 1) {
            f.push(id);
        }
        node.member
    }

    /// Removes node `id`; returns its member.
    pub fn remove(&mut self, id: u32) -> Box<[u8]> {
        let Some(update) = self.path_to(id) else { return Box::default() };
        self.unlink(id, &update);
        let member = self.release(id);
        if self.len == 0 {
            // Everything is free: start afresh rather than keep the towers.
            *self = SkipList::new();
        }
        member
    }

    /// Changes the score of node `id`, moving it if its place changes. The id stays the same.
    pub fn set_score(&mut self, id: u32, score: f64) {
        let Some(update) = self.path_to(id) else { return };
        let back = self.prev(id);
        let next = self.link(id, 0);
        // Still strictly between its neighbours: update in place (and the links' copies of the score).
        if (back == NIL || self.score(back) < score) && (next.next == NIL || next.score > score) {
            if let Some(n) = self.nodes.get_mut(id as usize) {
                n.score = score;
            }
            for i in 0..self.height(id) {
                let u = update.get(i).copied().unwrap_or(NIL);
                if let Some(l) = self.links.get_mut(u as usize + i) {
                    l.score = score;
                }
            }
            return;
        }
        self.unlink(id, &update);
        if let Some(n) = self.nodes.get_mut(id as usize) {
            n.score = score;
            n.back = NIL;
        }
        self.link_in(id);
    }

    /// The 1-based rank of node `id` (0 if it is not linked).
    pub fn rank(&self, id: u32) -> usize {
        let (score, member) = (self.score(id), self.member(id));
        let mut rank = 0usize;
        let mut x = NIL;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                let ahead =
                    l.next != NIL && (l.score < score || (l.score == score && self.member(l.next) <= member));
                if !ahead {
                    break;
                }
                rank += l.span as usize;
                x = l.next;
            }
            if x == id && x != NIL {
                return rank;
            }
        }
        0
    }

    /// The node at 1-based `rank`, `NIL` if out of range.
    pub fn by_rank(&self, rank: usize) -> u32 {
        if rank == 0 || rank > self.len {
            return NIL;
        }
        let mut traversed = 0usize;
        let mut x = NIL;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != NIL && traversed + l.span as usize <= rank {
                    traversed += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            if traversed == rank {
                return x;
            }
        }
        NIL
    }

    /// The last node, on each level, for which `go_on(link to next)` holds, from the header down.
    fn seek(&self, mut go_on: impl FnMut(Link) -> bool) -> [u32; MAX_LEVEL] {
        let mut update = [NIL; MAX_LEVEL];
        let mut x = NIL;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || !go_on(l) {
                    break;
                }
                x = l.next;
            }
            if let Some(u) = update.get_mut(i) {
                *u = x;
            }
        }
        update
    }

    /// The first node with a score in `range`.
    pub fn first_in_score(&self, range: &ScoreRange) -> u32 {
        if range.is_empty() || self.tail == NIL || !range.gte_min(self.score(self.tail)) {
            return NIL;
        }
        let x = self.link(self.seek(|l| !range.gte_min(l.score))[0], 0);
        if x.next != NIL && range.lte_max(x.score) {
            x.next
        } else {
            NIL
        }
    }

    /// The last node with a score in `range`.
    pub fn last_in_score(&self, range: &ScoreRange) -> u32 {
        let first = self.link(NIL, 0);
        if range.is_empty() || first.next == NIL || !range.lte_max(first.score) {
            return NIL;
        }
        let x = self.seek(|l| range.lte_max(l.score))[0];
        if x != NIL && range.gte_min(self.score(x)) {
            x
        } else {
            NIL
        }
    }

    /// Redis's `zslIsInLexRange`: the range can hold something, the last member is not below it and the
    /// first not above it (with mixed scores the members are not in lexicographic order).
    fn may_hold_lex(&self, range: &LexRange) -> bool {
        let first = self.first();
        !range.is_empty()
            && first != NIL
            && range.gte_min(self.member(self.tail))
            && range.lte_max(self.member(first))
    }

    /// The first node whose member is in `range` (walking in score order, as Redis does).
    pub fn first_in_lex(&self, range: &LexRange) -> u32 {
        if !self.may_hold_lex(range) {
            return NIL;
        }
        let x = self.link(self.seek(|l| !range.gte_min(self.member(l.next)))[0], 0).next;
        if x != NIL && range.lte_max(self.member(x)) {
            x
        } else {
            NIL
        }
    }

    /// The last node whose member is in `range`.
    pub fn last_in_lex(&self, range: &LexRange) -> u32 {
        if !self.may_hold_lex(range) {
            return NIL;
        }
        let x = self.seek(|l| range.lte_max(self.member(l.next)))[0];
        if x != NIL && range.gte_min(self.member(x)) {
            x
        } else {
            NIL
        }
    }

    /// Removes the nodes from the path's end while `keep_going(score, member)` holds, calling `removed`
    /// with each node's id and member before its tower is released. Returns how many went.
    fn remove_run(
        &mut self,
        update: [u32; MAX_LEVEL],
        mut keep_going: impl FnMut(f64, &[u8]) -> bool,
        mut removed: impl FnMut(u32, &[u8]),
    ) -> usize {
        let mut count = 0;
        let mut x = self.link(update[0], 0).next;
        while x != NIL && keep_going(self.score(x), self.member(x)) {
            let next = self.link(x, 0).next;
            self.unlink(x, &update);
            removed(x, self.member(x));
            self.release(x);
            count += 1;
            x = next;
        }
        if self.len == 0 {
            *self = SkipList::new();
        }
        count
    }

    /// Removes the nodes with 1-based ranks `start..=end`.
    pub fn remove_rank_range(&mut self, start: usize, end: usize, removed: impl FnMut(u32, &[u8])) -> usize {
        let mut traversed = 0usize;
        let update = self.seek(|l| {
            let go = traversed + (l.span as usize) < start;
            if go {
                traversed += l.span as usize;
            }
            go
        });
        let mut rank = traversed;
        self.remove_run(
            update,
            |_, _| {
                rank += 1;
                rank <= end
            },
            removed,
        )
    }

    /// Removes the nodes with a score in `range`.
    pub fn remove_score_range(&mut self, range: &ScoreRange, removed: impl FnMut(u32, &[u8])) -> usize {
        let update = self.seek(|l| !range.gte_min(l.score));
        self.remove_run(update, |s, _| range.lte_max(s), removed)
    }

    /// Removes the nodes whose member is in `range`.
    pub fn remove_lex_range(&mut self, range: &LexRange, removed: impl FnMut(u32, &[u8])) -> usize {
        let update = self.seek(|l| !range.gte_min(self.member(l.next)));
        self.remove_run(update, |_, m| range.lte_max(m), removed)
    }

    /// Empties the list, handing each member and score in order to `f` (to rebuild it elsewhere).
    pub fn drain(&mut self, mut f: impl FnMut(Box<[u8]>, f64)) {
        let mut x = self.first();
        while x != NIL {
            let next = self.link(x, 0).next;
            let node = self.nodes.get_mut(x as usize).map(std::mem::take).unwrap_or_default();
            f(node.member, node.score);
            x = next;
        }
        *self = SkipList::new();
    }

    /// Checks every invariant (tests only).
    #[cfg(test)]
    fn check(&self) {
        let mut ids = vec![];
        let mut x = self.first();
        let mut prev = NIL;
        while x != NIL {
            assert_eq!(self.prev(x), prev);
            if prev != NIL {
                assert!((self.score(prev), self.member(prev)) < (self.score(x), self.member(x)));
            }
            ids.push(x);
            prev = x;
            x = self.link(x, 0).next;
        }
        assert_eq!(self.tail, prev);
        assert_eq!(ids.len(), self.len);
        let pos: std::collections::HashMap<u32, usize> =
            ids.iter().enumerate().map(|(i, &id)| (id, i + 1)).collect();
        for i in 0..self.level {
            let mut x = NIL;
            let mut at = 0;
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                assert!(self.height(l.next) > i);
                assert_eq!(l.score.to_bits(), self.score(l.next).to_bits(), "cached score at level {i}");
                let to = pos[&l.next];
                assert_eq!(l.span as usize, to - at, "span at level {i}");
                x = l.next;
                at = to;
            }
        }
        assert!(self.level == 1 || self.link(NIL, self.level - 1).next != NIL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids_of(list: &SkipList) -> Vec<(Vec<u8>, f64)> {
        let mut out = vec![];
        let mut x = list.first();
        while x != NIL {
            out.push((list.member(x).to_vec(), list.score(x)));
            x = list.next(x);
        }
        out
    }

    #[test]
    fn insert_rank_remove() {
        let mut l = SkipList::new();
        let a = l.insert(2.0, b"a".to_vec().into());
        let b = l.insert(1.0, b"b".to_vec().into());
        let c = l.insert(2.0, b"aa".to_vec().into());
        l.check();
        assert_eq!(ids_of(&l), vec![(b"b".to_vec(), 1.0), (b"a".to_vec(), 2.0), (b"aa".to_vec(), 2.0)]);
        assert_eq!((l.rank(b), l.rank(a), l.rank(c)), (1, 2, 3));
        assert_eq!((l.by_rank(1), l.by_rank(3), l.by_rank(4), l.by_rank(0)), (b, c, NIL, NIL));
        assert_eq!(l.prev(b), NIL);
        assert_eq!(l.last(), c);
        l.set_score(b, 5.0);
        l.check();
        assert_eq!(l.last(), b);
        assert_eq!(&*l.remove(a), b"a");
        l.check();
        assert_eq!(l.len(), 2);
        assert_eq!(l.rank(c), 1);
        l.remove(c);
        l.remove(b);
        assert!(l.is_empty());
        assert_eq!(l.slots(), 0);
        // Removed towers are reused.
        let a = l.insert(1.0, b"a".to_vec().into());
        let b = l.insert(2.0, b"b".to_vec().into());
        l.remove(b);
        let c = l.insert(3.0, b"c".to_vec().into());
        assert!(l.slots() <= 3);
        assert_eq!((l.rank(a), l.rank(c)), (1, 2));
        l.check();
    }

    #[test]
    fn score_and_lex_seeks() {
        let mut l = SkipList::new();
        for (i, m) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            l.insert(i as f64, m.to_vec().into());
        }
        let r = |min, max, minex, maxex| ScoreRange { min, max, minex, maxex };
        assert_eq!(l.member(l.first_in_score(&r(1.0, 2.0, false, false))), b"b");
        assert_eq!(l.member(l.last_in_score(&r(1.0, 2.0, false, false))), b"c");
        assert_eq!(l.member(l.first_in_score(&r(1.0, 2.0, true, false))), b"c");
        assert_eq!(l.first_in_score(&r(1.0, 2.0, true, true)), NIL);
        assert_eq!(l.first_in_score(&r(5.0, 9.0, false, false)), NIL);
        assert_eq!(l.last_in_score(&r(-5.0, -1.0, false, false)), NIL);
        let lex = |min, max| LexRange { min, max };
        assert_eq!(l.member(l.first_in_lex(&lex(LexBound::Excl(b"a"), LexBound::Max))), b"b");
        assert_eq!(l.member(l.last_in_lex(&lex(LexBound::Min, LexBound::Excl(b"d")))), b"c");
        assert_eq!(l.first_in_lex(&lex(LexBound::Max, LexBound::Min)), NIL);
        let mut gone = vec![];
        assert_eq!(l.remove_score_range(&r(1.0, 2.0, false, false), |_, m| gone.push(m.to_vec())), 2);
        assert_eq!(gone, vec![b"b".to_vec(), b"c".to_vec()]);
        l.check();
        assert_eq!(l.remove_lex_range(&lex(LexBound::Min, LexBound::Incl(b"a")), |_, _| ()), 1);
        assert_eq!(l.remove_rank_range(1, 5, |_, _| ()), 1);
        assert!(l.is_empty());
    }

    #[test]
    fn lex_range_emptiness() {
        use LexBound::*;
        let e = |min, max| LexRange { min, max }.is_empty();
        assert!(e(Min, Min));
        assert!(e(Max, Max));
        assert!(e(Max, Min));
        assert!(!e(Min, Max));
        assert!(e(Incl(b"b"), Incl(b"a")));
        assert!(!e(Incl(b"a"), Incl(b"a")));
        assert!(e(Excl(b"a"), Incl(b"a")));
        assert!(e(Incl(b"a"), Min));
        assert!(!e(Min, Incl(b"")));
    }

    /// Operations for the model test: (op, score bucket, member).
    fn ops() -> impl Strategy<Value = Vec<(u8, u8, u8, u8)>> {
        proptest::collection::vec((0u8..8, 0u8..6, 0u8..40, 0u8..40), 0..300)
    }

    proptest! {
        #[test]
        fn behaves_like_a_sorted_vec(ops in ops()) {
            let mut l = SkipList::new();
            let mut ids: std::collections::HashMap<Vec<u8>, u32> = Default::default();
            // The model: (score, member) sorted.
            let mut model: Vec<(f64, Vec<u8>)> = vec![];
            let key = |m: u8| vec![b'm', m / 10, m % 10];
            for (op, s, m, n) in ops {
                let score = s as f64 * 0.5;
                let member = key(m);
                match op {
                    0 | 1 => {
                        if let Some(&id) = ids.get(&member) {
                            l.set_score(id, score);
                            prop_assert_eq!(l.member(id), &member[..]);
                            model.retain(|(_, x)| *x != member);
                        } else {
                            ids.insert(member.clone(), l.insert(score, member.clone().into()));
                        }
                        let at = model.partition_point(|(ms, mm)| (*ms, mm) < (score, &member));
                        model.insert(at, (score, member));
                    }
                    2 => {
                        if let Some(id) = ids.remove(&member) {
                            prop_assert_eq!(&*l.remove(id), &member[..]);
                            model.retain(|(_, x)| *x != member);
                        }
                    }
                    3 => {
                        let (a, b) = ((m as usize) % 8 + 1, (m as usize) % 8 + 1 + (n as usize) % 5);
                        let mut gone = vec![];
                        let count = l.remove_rank_range(a, b, |_, x| gone.push(x.to_vec()));
                        let lo = (a - 1).min(model.len());
                        let hi = b.min(model.len());
                        let want: Vec<Vec<u8>> = model.drain(lo..hi).map(|(_, x)| x).collect();
                        prop_assert_eq!(count, want.len());
                        prop_assert_eq!(&gone, &want);
                        for g in gone { ids.remove(&g); }
                    }
                    4 => {
                        let r = ScoreRange { min: score, max: score + (n % 4) as f64 * 0.5, minex: n % 2 == 0, maxex: n % 3 == 0 };
                        let mut gone = vec![];
                        l.remove_score_range(&r, |_, x| gone.push(x.to_vec()));
                        let want: Vec<Vec<u8>> = model.iter().filter(|(s, _)| r.contains(*s)).map(|(_, x)| x.clone()).collect();
                        model.retain(|(s, _)| !r.contains(*s));
                        prop_assert_eq!(&gone, &want);
                        for g in gone { ids.remove(&g); }
                    }
                    5 => {
                        // Lex ranges are checked on their own below (they need equal scores); here, seeks.
                        let r = ScoreRange { min: score, max: score + (n % 4) as f64, minex: n % 2 == 0, maxex: n % 3 == 0 };
                        let first = model.iter().position(|(s, _)| r.contains(*s));
                        let last = model.iter().rposition(|(s, _)| r.contains(*s));
                        let f = l.first_in_score(&r);
                        let la = l.last_in_score(&r);
                        prop_assert_eq!(first.map(|i| model[i].1.clone()), (f != NIL).then(|| l.member(f).to_vec()));
                        prop_assert_eq!(last.map(|i| model[i].1.clone()), (la != NIL).then(|| l.member(la).to_vec()));
                    }
                    _ => {
                        let rank = (m as usize) % (model.len() + 2);
                        let id = l.by_rank(rank);
                        if rank >= 1 && rank <= model.len() {
                            prop_assert_eq!(l.member(id), &model[rank - 1].1[..]);
                            prop_assert_eq!(l.rank(id), rank);
                        } else {
                            prop_assert_eq!(id, NIL);
                        }
                    }
                }
                l.check();
                let got: Vec<(f64, Vec<u8>)> = ids_of(&l).into_iter().map(|(m, s)| (s, m)).collect();
                prop_assert_eq!(&got, &model);
                let mut back = vec![];
                let mut x = l.last();
                while x != NIL { back.push(l.member(x).to_vec()); x = l.prev(x); }
                back.reverse();
                prop_assert_eq!(back, model.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>());
            }
        }

        #[test]
        fn lex_ranges_like_a_sorted_vec(members in proptest::collection::btree_set(proptest::collection::vec(0u8..4, 0..4), 0..40),
                                         a in proptest::collection::vec(0u8..4, 0..4), b in proptest::collection::vec(0u8..4, 0..4),
                                         kinds in (0u8..4, 0u8..4)) {
            let mut l = SkipList::new();
            for m in &members { l.insert(0.0, m.clone().into()); }
            fn bound(k: u8, s: &[u8]) -> LexBound<'_> { match k { 0 => LexBound::Min, 1 => LexBound::Max, 2 => LexBound::Incl(s), _ => LexBound::Excl(s) } }
            let r = LexRange { min: bound(kinds.0, &a), max: bound(kinds.1, &b) };
            let want: Vec<Vec<u8>> = members.iter().filter(|m| r.gte_min(m) && r.lte_max(m)).cloned().collect();
            let f = l.first_in_lex(&r);
            let la = l.last_in_lex(&r);
            prop_assert_eq!(want.first().cloned(), (f != NIL).then(|| l.member(f).to_vec()));
            prop_assert_eq!(want.last().cloned(), (la != NIL).then(|| l.member(la).to_vec()));
            let mut gone = vec![];
            l.remove_lex_range(&r, |_, m| gone.push(m.to_vec()));
            prop_assert_eq!(gone, want);
            l.check();
        }
    }
}
