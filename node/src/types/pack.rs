//! A pack: a compact list of byte strings in one allocation, our equivalent of Redis's listpack. Small
//! hashes, sets, sorted sets and lists (and the nodes of a long list) live in packs, so a collection of a
//! hundred short members costs about a hundred times their length plus two bytes, not a hundred heap
//! allocations.
//!
//! Layout of an element: its length as a LEB128 varint, its bytes, then the same varint with its bytes in
//! reverse order, so that the pack can be walked from either end (`RPOP`, negative `LRANGE` indexes).
//! Elements are addressed by their byte offset; offsets are only valid until the next change.

/// Bytes of the varint for `n`.
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// A LEB128 varint from `bytes`: its value and how many bytes it took. `None` if it runs out or overflows.
pub fn read_varint(bytes: impl Iterator<Item = u8>) -> Option<(usize, usize)> {
    let mut n = 0usize;
    for (i, b) in bytes.enumerate().take(10) {
        n |= ((b & 0x7f) as usize).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((n, i + 1));
        }
    }
    None
}

pub fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The encoded form of one element.
fn encode(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    write_varint(out, data.len());
    let header = out.len() - start;
    out.extend_from_slice(data);
    for i in (0..header).rev() {
        let b = out.get(start + i).copied().unwrap_or(0);
        out.push(b);
    }
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pack {
    buf: Vec<u8>,
    len: u32,
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

impl Pack {
    pub fn new() -> Pack {
        Pack::default()
    }

    /// An empty pack with room for `bytes` encoded bytes.
    pub fn with_capacity(bytes: usize) -> Pack {
        Pack { buf: Vec::with_capacity(bytes), len: 0 }
    }

    /// Elements in the pack.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Encoded size in bytes.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes held (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives back spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// Makes room for exactly `additional` more bytes, so that a pack grown one element at a time holds no
    /// spare capacity (as a listpack is reallocated to its size).
    pub fn reserve_exact(&mut self, additional: usize) {
        self.buf.reserve_exact(additional);
    }

    /// The element at `offset` and the offset of the next one. `None` at the end (or at an offset that is
    /// not an element's start, which a caller only gets by misuse).
    pub fn get(&self, offset: usize) -> Option<(&[u8], usize)> {
        let (len, header) = read_varint(self.buf.get(offset..)?.iter().copied())?;
        let pos = offset + header;
        let data = self.buf.get(pos..pos + len)?;
        Some((data, pos + len + header))
    }

    /// The element that ends at `end` (exclusive) and its start offset.
    pub fn get_before(&self, end: usize) -> Option<(&[u8], usize)> {
        let (len, header) = read_varint(self.buf.get(..end)?.iter().rev().copied())?;
        let pos = end - header;
        let start = pos.checked_sub(len + header)?;
        let data = self.buf.get(start + header..pos)?;
        Some((data, start))
    }

    /// The offset just past the last element (where `push_back` writes).
    pub fn end(&self) -> usize {
        self.buf.len()
    }

    /// The elements, front to back (and back to front with `.rev()`).
    pub fn iter(&self) -> Iter<'_> {
        Iter { pack: self, front: 0, back: self.buf.len() }
    }

    /// The elements between two element boundaries: from offset `front` up to offset `back` (exclusive),
    /// from both ends.
    pub fn iter_between(&self, front: usize, back: usize) -> Iter<'_> {
        Iter { pack: self, front, back: back.min(self.buf.len()) }
    }

    /// The elements with their offsets, front to back.
    pub fn iter_offsets(&self) -> impl Iterator<Item = (usize, &[u8])> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let (data, next) = self.get(at)?;
            let here = at;
            at = next;
            Some((here, data))
        })
    }

    /// The offset of the element at `index` (negative counts from the back), walking from the nearer end.
    pub fn offset_of(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let index = if index < 0 { len + index } else { index };
        if !(0..len).contains(&index) {
            return None;
        }
        if index <= len / 2 {
            let mut at = 0;
            for _ in 0..index {
                at = self.get(at)?.1;
            }
            Some(at)
        } else {
            let mut end = self.buf.len();
            for _ in index..len {
                end = self.get_before(end)?.1;
            }
            Some(end)
        }
    }

    pub fn push_back(&mut self, data: &[u8]) {
        encode(&mut self.buf, data);
        self.len += 1;
    }

    /// Appends, growing the buffer by about an eighth when full rather than doubling it, so that a pack
    /// built by many single appends (`SADD` one member at a time) stays close to its encoded size.
    pub fn push_back_tight(&mut self, data: &[u8]) {
        let need = data.len() + 2 * varint_len(data.len());
        if self.buf.capacity() - self.buf.len() < need {
            self.buf.reserve_exact(need.max(self.buf.len() / 8));
        }
        self.push_back(data);
    }

    pub fn push_front(&mut self, data: &[u8]) {
        self.insert_at(0, data);
    }

    /// Inserts before the element at `offset` (`end()` appends).
    pub fn insert_at(&mut self, offset: usize, data: &[u8]) {
        let offset = offset.min(self.buf.len());
        self.write_at(offset, offset, data);
        self.len += 1;
    }

    /// Replaces the bytes `start..end` with the encoded `data`, moving the tail once and without a
    /// temporary buffer (pushing to the front of a list node is a hot path). Returns the end of the
    /// written element.
    fn write_at(&mut self, start: usize, end: usize, data: &[u8]) -> usize {
        let mut header = [0u8; 10];
        let mut h = 0;
        let mut n = data.len();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if let Some(slot) = header.get_mut(h) {
                *slot = if n > 0 { byte | 0x80 } else { byte };
            }
            h += 1;
            if n == 0 {
                break;
            }
        }
        let header = header.get(..h).unwrap_or_default();
        let new_len = 2 * h + data.len();
        let old_len = end - start;
        let tail = self.buf.len() - end;
        if new_len > old_len {
            self.buf.resize(self.buf.len() + new_len - old_len, 0);
        }
        self.buf.copy_within(end..end + tail, start + new_len);
        self.buf.truncate(start + new_len + tail);
        if let Some(dst) = self.buf.get_mut(start..start + new_len) {
            let (head, rest) = dst.split_at_mut(h);
            head.copy_from_slice(header);
            let (body, back) = rest.split_at_mut(data.len());
            body.copy_from_slice(data);
            for (b, &x) in back.iter_mut().zip(header.iter().rev()) {
                *b = x;
            }
        }
        start + new_len
    }

    /// Removes the element at `offset`; returns the offset of the one that followed (now at `offset`).
    pub fn remove_at(&mut self, offset: usize) -> Option<usize> {
        let (_, next) = self.get(offset)?;
        self.buf.drain(offset..next);
        self.len -= 1;
        Some(offset)
    }

    /// Removes `count` elements starting at `offset`.
    pub fn remove_range(&mut self, offset: usize, count: usize) {
        let mut end = offset;
        let mut removed = 0;
        while removed < count {
            match self.get(end) {
                Some((_, next)) => end = next,
                None => break,
            }
            removed += 1;
        }
        self.buf.drain(offset..end);
        self.len -= removed as u32;
    }

    /// Replaces the element at `offset`; returns the offset of the one after it.
    pub fn replace_at(&mut self, offset: usize, data: &[u8]) -> Option<usize> {
        let (_, next) = self.get(offset)?;
        Some(self.write_at(offset, next, data))
    }

    /// Moves the elements from `offset` on into a new pack (`offset` must be an element's start or
    /// `end()`).
    pub fn split_off(&mut self, offset: usize) -> Pack {
        let buf = self.buf.split_off(offset.min(self.buf.len()));
        let mut tail = Pack { buf, len: 0 };
        tail.len = tail.iter().count() as u32;
        self.len -= tail.len;
        tail
    }

    /// Appends the elements of `other`.
    pub fn append(&mut self, other: &Pack) {
        self.buf.extend_from_slice(&other.buf);
        self.len += other.len;
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let (data, next) = self.get(0)?;
        let data = data.to_vec();
        self.buf.drain(..next);
        self.len -= 1;
        Some(data)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let (data, start) = self.get_before(self.buf.len())?;
        let data = data.to_vec();
        self.buf.truncate(start);
        self.len -= 1;
        Some(data)
    }

    /// The offset of the first element equal to `data`.
    pub fn find(&self, data: &[u8]) -> Option<usize> {
        self.iter_offsets().find(|(_, d)| *d == data).map(|(o, _)| o)
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.len = 0;
    }
}

/// Iterator over a pack's elements from both ends.
pub struct Iter<'a> {
    pack: &'a Pack,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (data, next) = self.pack.get(self.front)?;
        self.front = next;
        Some(data)
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let (data, start) = self.pack.get_before(self.back)?;
        self.back = start;
        Some(data)
    }
}

impl<'a> FromIterator<&'a [u8]> for Pack {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Pack {
        let mut p = Pack::new();
        for d in iter {
            p.push_back(d);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn items(p: &Pack) -> Vec<Vec<u8>> {
        p.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn push_pop_both_ends() {
        let mut p = Pack::new();
        p.push_back(b"b");
        p.push_front(b"a");
        p.push_back(&[b'x'; 300]);
        assert_eq!(p.len(), 3);
        assert_eq!(p.iter().next_back().map(<[u8]>::len), Some(300));
        assert_eq!(p.pop_front(), Some(b"a".to_vec()));
        assert_eq!(p.pop_back().map(|v| v.len()), Some(300));
        assert_eq!(items(&p), vec![b"b".to_vec()]);
        assert_eq!(p.pop_back(), Some(b"b".to_vec()));
        assert!(p.is_empty() && p.byte_len() == 0);
        assert_eq!(p.pop_back(), None);
    }

    #[test]
    fn offsets_insert_replace_remove() {
        let mut p: Pack = [&b"a"[..], b"b", b"c", b"d"].into_iter().collect();
        let at = p.offset_of(-2).unwrap();
        assert_eq!(p.get(at).unwrap().0, b"c");
        p.replace_at(at, b"CCC").unwrap();
        p.insert_at(p.offset_of(1).unwrap(), b"ab");
        assert_eq!(
            items(&p),
            vec![b"a".to_vec(), b"ab".to_vec(), b"b".to_vec(), b"CCC".to_vec(), b"d".to_vec()]
        );
        let (from, to) = (p.offset_of(1).unwrap(), p.offset_of(3).unwrap());
        assert_eq!(p.iter_between(from, to).collect::<Vec<_>>(), vec![&b"ab"[..], b"b"]);
        assert_eq!(p.iter_between(from, to).rev().collect::<Vec<_>>(), vec![&b"b"[..], b"ab"]);
        p.remove_at(p.find(b"b").unwrap());
        p.remove_range(0, 2);
        assert_eq!(items(&p), vec![b"CCC".to_vec(), b"d".to_vec()]);
        assert_eq!(p.offset_of(2), None);
        assert_eq!(p.offset_of(-3), None);
    }

    #[test]
    fn tight_pushes_stay_near_the_encoded_size() {
        let mut p = Pack::with_capacity(4);
        for i in 0..1000 {
            p.push_back_tight(format!("member:{i}").as_bytes());
        }
        assert_eq!(p.len(), 1000);
        assert!(
            p.capacity() <= p.byte_len() + p.byte_len() / 8 + 16,
            "{} for {}",
            p.capacity(),
            p.byte_len()
        );
        p.push_back_tight(&[b'x'; 20_000]);
        assert_eq!(p.iter().next_back().map(<[u8]>::len), Some(20_000));
    }

    #[test]
    fn split_and_append() {
        let mut p: Pack = [&b"a"[..], b"bb", &[b'c'; 200], b"d"].into_iter().collect();
        let tail = p.split_off(p.offset_of(2).unwrap());
        assert_eq!(items(&p), vec![b"a".to_vec(), b"bb".to_vec()]);
        assert_eq!(tail.len(), 2);
        assert_eq!(tail.iter().next_back(), Some(&b"d"[..]));
        let mut empty = p.split_off(p.end());
        assert!(empty.is_empty() && p.len() == 2);
        empty.append(&tail);
        p.append(&empty);
        assert_eq!(p.len(), 4);
        assert_eq!(p.iter().rev().map(<[u8]>::len).collect::<Vec<_>>(), vec![1, 200, 2, 1]);
        // Growing and shrinking replacements keep the neighbours intact.
        let at = p.offset_of(1).unwrap();
        p.replace_at(at, &[b'x'; 300]).unwrap();
        p.replace_at(p.offset_of(2).unwrap(), b"").unwrap();
        assert_eq!(p.iter().map(<[u8]>::len).collect::<Vec<_>>(), vec![1, 300, 0, 1]);
        assert_eq!(p.iter().rev().map(<[u8]>::len).collect::<Vec<_>>(), vec![1, 0, 300, 1]);
    }

    proptest! {
        #[test]
        fn behaves_like_a_deque(ops in proptest::collection::vec((0u8..6, proptest::collection::vec(any::<u8>(), 0..200)), 0..60)) {
            let mut p = Pack::new();
            let mut model: std::collections::VecDeque<Vec<u8>> = Default::default();
            for (op, data) in ops {
                match op {
                    0 => { p.push_back(&data); model.push_back(data); }
                    1 => { p.push_front(&data); model.push_front(data); }
                    2 => prop_assert_eq!(p.pop_back(), model.pop_back()),
                    3 => prop_assert_eq!(p.pop_front(), model.pop_front()),
                    4 if !model.is_empty() => {
                        let i = data.len() % model.len();
                        let at = p.offset_of(i as i64).unwrap();
                        p.replace_at(at, &data);
                        model[i] = data;
                    }
                    5 => {
                        let i = data.len() % (model.len() + 1);
                        let at = p.offset_of(i as i64).unwrap_or(p.end());
                        p.insert_at(at, &data);
                        model.insert(i, data);
                    }
                    _ => {}
                }
                prop_assert_eq!(p.len(), model.len());
                let fwd: Vec<Vec<u8>> = p.iter().map(<[u8]>::to_vec).collect();
                let mut back: Vec<Vec<u8>> = p.iter().rev().map(<[u8]>::to_vec).collect();
                back.reverse();
                prop_assert_eq!(&fwd, &Vec::from(model.clone()));
                prop_assert_eq!(fwd, back);
            }
        }
    }
}
