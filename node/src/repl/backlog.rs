//! The replication backlog: the last `repl-backlog-size` bytes of the replication stream, so that a
//! replica that lost its link for a moment resumes from its offset (`PSYNC` answered `+CONTINUE`) instead of
//! taking a full copy again.
//!
//! Offsets follow Redis: the stream's bytes are numbered from 1, `master_repl_offset` is the number of the
//! last byte written, and a replica asks for the first byte it lacks (its own offset + 1).

use std::collections::VecDeque;

pub struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
    /// The offset of the first byte held (`repl_backlog_first_byte_offset`).
    first: u64,
}

impl Backlog {
    /// An empty backlog for a stream whose last written byte is `offset`.
    pub fn new(size: usize, offset: u64) -> Backlog {
        Backlog { buf: VecDeque::new(), size: size.max(1), first: offset + 1 }
    }

    pub fn append(&mut self, bytes: &[u8]) {
        if bytes.len() >= self.size {
            let skip = bytes.len() - self.size;
            self.first += (self.buf.len() + skip) as u64;
            self.buf.clear();
            self.buf.extend(bytes.get(skip..).unwrap_or_default());
            return;
        }
        let over = (self.buf.len() + bytes.len()).saturating_sub(self.size);
        self.buf.drain(..over);
        self.first += over as u64;
        self.buf.extend(bytes);
    }

    pub fn first_offset(&self) -> u64 {
        self.first
    }

    pub fn histlen(&self) -> usize {
        self.buf.len()
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// `repl-backlog-size` changed: keeps the newest bytes that fit.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
        let over = self.buf.len().saturating_sub(self.size);
        self.buf.drain(..over);
        self.first += over as u64;
    }

    /// The bytes from offset `from` (the first byte a replica lacks) to the end, or `None` when they are
    /// no longer (or not yet) held.
    pub fn since(&self, from: u64) -> Option<Vec<u8>> {
        let end = self.first + self.buf.len() as u64;
        if from < self.first || from > end {
            return None;
        }
        let skip = (from - self.first) as usize;
        Some(self.buf.range(skip..).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_and_their_offsets() {
        let mut b = Backlog::new(8, 100);
        assert_eq!(b.first_offset(), 101);
        assert_eq!(b.since(101).unwrap(), b"");
        b.append(b"abcdef");
        assert_eq!(b.since(101).unwrap(), b"abcdef");
        assert_eq!(b.since(104).unwrap(), b"def");
        assert_eq!(b.since(107).unwrap(), b"");
        assert_eq!(b.since(108), None, "a byte not written yet");
        assert_eq!(b.since(100), None, "a byte before the backlog");
        b.append(b"ghij");
        assert_eq!(b.first_offset(), 103);
        assert_eq!(b.histlen(), 8);
        assert_eq!(b.since(103).unwrap(), b"cdefghij");
        assert_eq!(b.since(102), None);
        b.append(b"0123456789");
        assert_eq!(b.first_offset(), 113);
        assert_eq!(b.since(113).unwrap(), b"23456789");
        b.resize(4);
        assert_eq!(b.since(117).unwrap(), b"6789");
        assert_eq!(b.since(116), None);
    }
}
