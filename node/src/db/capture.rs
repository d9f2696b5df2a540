//! A point-in-time capture of the keyspace taken without stopping the node and without copying it: the
//! forkless snapshot (as Dragonfly does it, at slot granularity).
//!
//! The capture starts at one instant T. From then on it saves slots in order, a few per event-loop tick
//! ([`Db::capture_step`]), and any write that is about to change a slot not saved yet saves that slot first
//! ([`Db`]'s mutation paths call `preserve`). So every slot is written exactly as it was at T, however the
//! keyspace changes meanwhile, and the only extra memory is the encoded blocks on their way to disk.
//! Expiry needs no preserving: a key that expires after T is also expired when the file is loaded (or its
//! `DEL` follows in the AOF).

use super::{Db, Slot};
use crate::persist::snapshot::{Encoder, SnapshotMeta, BLOCK_TARGET};
use slotkv_proto::slot::SLOT_COUNT;

pub struct Capture {
    encoder: Encoder,
    /// One bit per slot: already written.
    saved: Vec<u64>,
    /// The next slot the stepper looks at.
    next: usize,
    /// Entries already expired at T are left out.
    pub started_ms: i64,
    /// Finished blocks (the header first), for the writer.
    pub blocks: Vec<Vec<u8>>,
    /// Bytes in `blocks`.
    pub queued: usize,
    pub keys: u64,
}

impl Capture {
    pub fn new(meta: &SnapshotMeta) -> Capture {
        let started_ms = meta.created_ms;
        let (encoder, header) = Encoder::new(meta);
        Capture {
            encoder,
            saved: vec![0; SLOT_COUNT / 64],
            next: 0,
            started_ms,
            queued: header.len(),
            blocks: vec![header],
            keys: 0,
        }
    }

    fn is_saved(&self, idx: usize) -> bool {
        self.saved.get(idx / 64).is_some_and(|w| w & (1 << (idx % 64)) != 0)
    }

    fn save(&mut self, idx: usize, slot: &Slot) {
        if let Some(w) = self.saved.get_mut(idx / 64) {
            *w |= 1 << (idx % 64);
        }
        for e in slot.table.iter() {
            let at = e.expire_at();
            if at != 0 && at <= self.started_ms {
                continue;
            }
            self.encoder.push(e);
            self.keys += 1;
            if self.encoder.pending() >= BLOCK_TARGET {
                if let Some(block) = self.encoder.take_block() {
                    self.queued += block.len();
                    self.blocks.push(block);
                }
            }
        }
    }

    /// Whether every slot is saved.
    pub fn done(&self) -> bool {
        self.next >= SLOT_COUNT
    }

    /// The remaining blocks and the footer; the capture must be [`Capture::done`].
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        let tail = self.encoder.finish();
        self.blocks.push(tail);
        self.blocks
    }
}

impl Db {
    /// Saves slot `idx` into the running capture if it is not saved yet: called before any change to it.
    #[inline]
    pub(super) fn preserve(&mut self, idx: usize) {
        if let Some(c) = self.capture.as_deref_mut() {
            if !c.is_saved(idx) {
                if let Some(slot) = self.slots.get(idx) {
                    c.save(idx, slot);
                }
            }
        }
    }

    /// Starts a capture of the keyspace as it is now.
    /// Starts a capture of the keyspace as it is now; `repl` is a replica's replication id and offset at
    /// this instant, kept in the snapshot's header.
    pub fn capture_start(&mut self, now_ms: i64, repl: Option<(String, u64)>) {
        let meta = SnapshotMeta { created_ms: now_ms, repl };
        self.capture = Some(Box::new(Capture::new(&meta)));
    }

    /// Saves slots in order until about `max_keys` keys or `max_bytes` encoded bytes are waiting for the
    /// writer, or all are done; returns whether the capture is complete. (A slot is saved whole, so one
    /// holding a huge value takes as long as encoding it.)
    pub fn capture_step(&mut self, max_keys: u64, max_bytes: usize) -> bool {
        let Some(c) = self.capture.as_deref_mut() else { return true };
        let goal = c.keys + max_keys;
        while c.next < SLOT_COUNT && c.keys < goal && c.queued + c.encoder.pending() < max_bytes {
            let idx = c.next;
            c.next += 1;
            if !c.is_saved(idx) {
                if let Some(slot) = self.slots.get(idx) {
                    c.save(idx, slot);
                }
            }
        }
        c.done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::entry::Entry;

    fn keys_in(blocks: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, blocks.concat()).unwrap();
        let mut keys = Vec::new();
        let config = crate::config::Config::default();
        crate::persist::snapshot::load(&path, &config, 0, &mut |_| {}, &mut |e: Entry| {
            let v = e.as_str().unwrap_or_default().to_vec();
            keys.push([e.key(), b"=", &v].concat())
        })
        .unwrap();
        keys.sort();
        keys
    }

    #[test]
    fn capture_is_point_in_time_under_writes() {
        let mut db = Db::new();
        for i in 0..2000 {
            db.insert(Entry::string(format!("k{i}").as_bytes(), b"old", 0));
        }
        db.capture_start(1, None);
        let mut steps = 0;
        while !db.capture_step(50, usize::MAX) {
            steps += 1;
            // Writes between steps: overwrite, delete, add.
            let i = steps * 7 % 2000;
            db.insert(Entry::string(format!("k{i}").as_bytes(), b"new", 0));
            db.remove(format!("k{}", (i + 1) % 2000).as_bytes());
            db.insert(Entry::string(format!("n{i}").as_bytes(), b"x", 0));
            if let Some(e) = db.get_mut(format!("k{}", (i + 2) % 2000).as_bytes(), 1) {
                e.set_str(b"changed");
            }
        }
        assert!(steps > 10);
        let blocks = db.capture.take().unwrap().finish();
        let mut want: Vec<Vec<u8>> = (0..2000).map(|i| format!("k{i}=old").into_bytes()).collect();
        want.sort();
        assert_eq!(keys_in(&blocks), want);
    }
}
