//! A background snapshot: the data thread captures the keyspace a few slots per tick
//! ([`crate::db::capture`]) and a writer thread puts the blocks on disk, into a temp file that replaces
//! the target only once it is complete and fsynced. Used by `BGSAVE` and by the AOF rewrite (for its base).

use super::fsutil;
use crate::db::Db;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Bytes handed to the writer and not written yet, above which capturing waits for the disk: what bounds
/// the snapshot's extra memory.
const MAX_IN_FLIGHT: usize = 8 << 20;
/// Keys captured per event-loop tick: small enough that a tick stays well under a millisecond...
pub const KEYS_PER_STEP: u64 = 512;
/// ...and bytes: a step of big values stops early.
pub const BYTES_PER_STEP: usize = 256 * 1024;

enum Msg {
    Data(Vec<u8>),
    Finish,
}

/// What the snapshot is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `BGSAVE` (or a save rule): the snapshot file.
    Snapshot,
    /// The base of an AOF rewrite, whose new incremental file has this sequence number.
    AofBase { seq: u64 },
}

pub struct Job {
    pub purpose: Purpose,
    pub started_ms: i64,
    /// `Db::dirty` when it started: changes after it are not in the file.
    pub dirty_at_start: u64,
    pub path: PathBuf,
    tx: Option<Sender<Msg>>,
    in_flight: Arc<AtomicUsize>,
    done: Receiver<io::Result<u64>>,
    thread: Option<JoinHandle<()>>,
    captured: bool,
}

/// How a job ended.
pub enum Outcome {
    Running,
    /// The file is in place; its size.
    Done(u64),
    Failed(String),
    /// `FLUSHALL` dropped the capture: nothing failed, the job is simply moot.
    Aborted,
}

impl Job {
    /// Starts capturing `db` now and writing it to `path` (through a temp file). `wake` is called when the
    /// writer finishes, so the event loop looks at the outcome without waiting for its next tick.
    pub fn start(
        db: &mut Db,
        path: PathBuf,
        purpose: Purpose,
        now_ms: i64,
        repl: Option<(String, u64)>,
        wake: Box<dyn Fn() + Send>,
    ) -> io::Result<Job> {
        let tmp = fsutil::temp_path(&path);
        let file = File::create(&tmp)?;
        let (tx, rx) = mpsc::channel::<Msg>();
        let (done_tx, done) = mpsc::channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&in_flight);
        let target = path.clone();
        let thread = std::thread::Builder::new().name("snapshot-writer".into()).spawn(move || {
            let result = write_all(file, &rx, &counter, &tmp, &target);
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            let _ = done_tx.send(result);
            wake();
        })?;
        db.capture_start(now_ms, repl);
        Ok(Job {
            purpose,
            started_ms: now_ms,
            dirty_at_start: db.dirty,
            path,
            tx: Some(tx),
            in_flight,
            done,
            thread: Some(thread),
            captured: false,
        })
    }

    /// One tick's share: capture more keys unless the writer is behind, ship finished blocks, and finish
    /// the file once everything is captured. Returns how the job stands.
    pub fn step(&mut self, db: &mut Db) -> Outcome {
        if !self.captured {
            if db.capture.is_none() {
                // FLUSHALL dropped the capture.
                self.tx = None;
                self.join();
                return Outcome::Aborted;
            }
            if self.in_flight.load(Ordering::Relaxed) < MAX_IN_FLIGHT {
                let complete = db.capture_step(KEYS_PER_STEP, BYTES_PER_STEP);
                self.ship(db);
                if complete {
                    if let Some(c) = db.capture.take() {
                        for block in c.finish() {
                            self.send(block);
                        }
                    }
                    if let Some(tx) = self.tx.take() {
                        let _ = tx.send(Msg::Finish);
                    }
                    self.captured = true;
                }
            }
        } else {
            self.ship(db);
        }
        match self.done.try_recv() {
            Ok(Ok(size)) => {
                self.join();
                Outcome::Done(size)
            }
            Ok(Err(e)) => {
                self.join();
                Outcome::Failed(e.to_string())
            }
            Err(mpsc::TryRecvError::Empty) => Outcome::Running,
            Err(mpsc::TryRecvError::Disconnected) => {
                self.join();
                Outcome::Failed("snapshot writer stopped".into())
            }
        }
    }

    /// How soon the event loop should come back to this job: at once while there is capturing to do,
    /// shortly while the writer catches up, `None` once only the writer's completion is awaited (it wakes
    /// the loop).
    pub fn next_step_in(&self) -> Option<std::time::Duration> {
        if self.captured {
            None
        } else if self.in_flight.load(Ordering::Relaxed) < MAX_IN_FLIGHT {
            Some(std::time::Duration::ZERO)
        } else {
            Some(std::time::Duration::from_millis(1))
        }
    }

    /// Runs the whole job on the calling thread's schedule (for `SAVE`-like waits): steps until done.
    pub fn run_to_end(&mut self, db: &mut Db) -> Result<u64, String> {
        loop {
            match self.step(db) {
                Outcome::Running => {
                    if self.captured || self.in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
                Outcome::Done(size) => return Ok(size),
                Outcome::Failed(e) => return Err(e),
                Outcome::Aborted => return Err("aborted".into()),
            }
        }
    }

    /// Stops the job; the target file is left as it was.
    pub fn abort(mut self, db: &mut Db) {
        db.capture = None;
        self.tx = None;
        self.join();
    }

    fn ship(&mut self, db: &mut Db) {
        if let Some(c) = db.capture.as_deref_mut() {
            c.queued = 0;
            for block in std::mem::take(&mut c.blocks) {
                self.send(block);
            }
        }
    }

    fn send(&mut self, block: Vec<u8>) {
        if let Some(tx) = &self.tx {
            self.in_flight.fetch_add(block.len(), Ordering::Relaxed);
            let _ = tx.send(Msg::Data(block));
        }
    }

    fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.tx = None;
        self.join();
    }
}

/// The writer thread's work: every block in order, then fsync, rename, fsync dir. Without `Finish` (the
/// job was dropped) the file is abandoned.
fn write_all(
    file: File,
    rx: &Receiver<Msg>,
    in_flight: &AtomicUsize,
    tmp: &std::path::Path,
    target: &std::path::Path,
) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut size = 0u64;
    loop {
        match rx.recv() {
            Ok(Msg::Data(block)) => {
                let written = out.write_all(&block);
                in_flight.fetch_sub(block.len(), Ordering::Relaxed);
                written?;
                size += block.len() as u64;
            }
            Ok(Msg::Finish) => break,
            Err(_) => return Err(io::Error::other("snapshot abandoned")),
        }
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    fsutil::commit_rename(tmp, target)?;
    Ok(size)
}
