//! The append-only file as the node writes it: the change feed ([`crate::propagate`]) goes to the current
//! incremental file once per event-loop tick, as one checksummed batch in one `write`; a sync thread runs
//! `fdatasync` (after every batch with `appendfsync always`, once a second with `everysec`), so the data
//! thread never waits for the disk.
//!
//! Replies wait for what they depend on (see `net.rs`): each client's output is held until the feed
//! position it saw is written (`everysec`, `no`: a crash of the process loses nothing acknowledged) or
//! synced (`always`: a crash of the machine loses nothing acknowledged). That is group commit: one
//! `fdatasync` covers every write of a tick, and the data thread goes on serving while it runs.

use super::aof_file::seal_batch;
use super::fsutil;
use super::manifest::{FileKind, Manifest, ManifestFile};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

impl Fsync {
    pub fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// What the sync thread is asked to do, guarded by one mutex.
struct SyncRequest {
    /// The file being appended to.
    current: Option<Arc<File>>,
    /// Files switched away from that may still hold unsynced data.
    retired: Vec<Arc<File>>,
    /// Feed position written to `current` (and everything before it).
    written: u64,
    policy: Fsync,
    stop: bool,
}

struct SyncShared {
    req: Mutex<SyncRequest>,
    wake: Condvar,
    /// Feed position known to be on disk.
    synced: AtomicU64,
    /// The last fsync failed (with its message).
    error: Mutex<Option<String>>,
    failed: AtomicBool,
}

pub struct Aof {
    /// `dir/appenddirname`.
    pub dir: PathBuf,
    /// The `appendfilename` prefix.
    pub prefix: String,
    pub manifest: Manifest,
    file: Arc<File>,
    /// Bytes in the current incremental file.
    pub incr_size: u64,
    /// Bytes of base plus incremental files, and that total after the last rewrite (for
    /// `auto-aof-rewrite-percentage`).
    pub current_size: u64,
    pub rewrite_base_size: u64,
    /// Feed position written to the file.
    pub written: u64,
    /// Feed position handed to [`Aof::write`]: written, or kept for a retry after a write error.
    fed: u64,
    /// A batch that could not be written (disk full...), retried every tick.
    pending: Vec<u8>,
    /// The last write error, for `-MISCONF` and `aof_last_write_status`.
    pub write_error: Option<String>,
    pub policy: Fsync,
    shared: Arc<SyncShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub use super::manifest::{base_name, incr_name};

pub fn manifest_path(dir: &Path, prefix: &str) -> PathBuf {
    dir.join(super::manifest::manifest_name(prefix))
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Aof {
    /// Opens the last incremental file of `manifest` for appending (creating a first one, and the
    /// manifest, when there is none), and starts the sync thread. `feed_pos` is the feed's position now.
    pub fn open(
        dir: PathBuf,
        prefix: String,
        mut manifest: Manifest,
        policy: Fsync,
        feed_pos: u64,
        wake: Box<dyn Fn() + Send>,
    ) -> io::Result<Aof> {
        std::fs::create_dir_all(&dir)?;
        let incr = match manifest.incrs().last() {
            Some(f) => f.name.clone(),
            None => {
                let seq = next_seq(&manifest);
                let name = incr_name(&prefix, seq);
                open_append(&dir.join(&name))?.sync_all()?;
                manifest.files.push(ManifestFile { name: name.clone(), seq, kind: FileKind::Incr });
                manifest.save(&manifest_path(&dir, &prefix))?;
                fsutil::sync_dir(&dir)?;
                name
            }
        };
        let file = Arc::new(open_append(&dir.join(&incr))?);
        let incr_size = file.metadata()?.len();
        let current_size = total_size(&dir, &manifest);
        let shared = Arc::new(SyncShared {
            req: Mutex::new(SyncRequest {
                current: Some(Arc::clone(&file)),
                retired: Vec::new(),
                written: feed_pos,
                policy,
                stop: false,
            }),
            wake: Condvar::new(),
            synced: AtomicU64::new(feed_pos),
            error: Mutex::new(None),
            failed: AtomicBool::new(false),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("aof-sync".into())
            .spawn(move || sync_loop(&thread_shared, &*wake))?;
        Ok(Aof {
            dir,
            prefix,
            manifest,
            file,
            incr_size,
            current_size,
            rewrite_base_size: current_size,
            written: feed_pos,
            fed: feed_pos,
            pending: Vec::new(),
            write_error: None,
            policy,
            shared,
            thread: Some(thread),
        })
    }

    /// The feed position replies may go out at: with `always`, what is synced; otherwise what was handed
    /// to the file. After a write error that includes the batch kept for a retry: as in Redis, the write
    /// is acknowledged and kept in memory, and later writes get `-MISCONF` until the retry succeeds.
    pub fn acked(&self) -> u64 {
        match self.policy {
            Fsync::Always => self.shared.synced.load(Ordering::Acquire),
            _ => self.fed,
        }
    }

    /// The sync thread's last failure.
    pub fn sync_error(&self) -> Option<String> {
        if self.shared.failed.load(Ordering::Relaxed) {
            self.shared.error.lock().ok().and_then(|e| e.clone())
        } else {
            None
        }
    }

    pub fn set_policy(&mut self, policy: Fsync) {
        self.policy = policy;
        if let Ok(mut req) = self.shared.req.lock() {
            req.policy = policy;
        }
        self.shared.wake.notify_one();
    }

    /// Appends `batch` (feed bytes ending at feed position `feed_end`) as one sealed batch, after any batch
    /// still pending from a failed write. On failure the file is cut back to its last good length and the
    /// bytes are kept for the next try.
    pub fn write(&mut self, batch: Vec<u8>, feed_end: u64) -> Result<(), String> {
        self.fed = feed_end;
        if !batch.is_empty() {
            if self.pending.is_empty() {
                self.pending = batch;
                seal_batch(&mut self.pending, 0);
            } else {
                let start = self.pending.len();
                self.pending.extend_from_slice(&batch);
                seal_batch(&mut self.pending, start);
            }
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        match (&*self.file).write_all(&self.pending) {
            Ok(()) => {
                if self.write_error.take().is_some() {
                    tracing::warn!("AOF write error looks solved, Redis can write again.");
                }
                self.incr_size += self.pending.len() as u64;
                self.current_size += self.pending.len() as u64;
                self.pending = Vec::new();
                self.written = feed_end;
                if let Ok(mut req) = self.shared.req.lock() {
                    req.written = feed_end;
                }
                if self.policy == Fsync::Always {
                    self.shared.wake.notify_one();
                }
                Ok(())
            }
            Err(e) => {
                // Leave no partial batch behind: the next write must start at a batch boundary.
                if let Err(t) = self.file.set_len(self.incr_size) {
                    tracing::warn!("Could not remove short write from the append only file: {t}");
                }
                let msg = e.to_string();
                if self.write_error.is_none() {
                    tracing::warn!("Error writing to the AOF file: {msg}");
                }
                self.write_error = Some(msg.clone());
                Err(msg)
            }
        }
    }

    /// Starts a new incremental file (for a rewrite): later batches go there; the manifest lists it after
    /// the current ones so that a crash before the rewrite ends still replays everything. Returns its seq.
    pub fn start_new_incr(&mut self) -> io::Result<u64> {
        let seq = next_seq(&self.manifest);
        let name = incr_name(&self.prefix, seq);
        let file = Arc::new(open_append(&self.dir.join(&name))?);
        let mut manifest = self.manifest.clone();
        manifest.files.push(ManifestFile { name, seq, kind: FileKind::Incr });
        manifest.save(&manifest_path(&self.dir, &self.prefix))?;
        self.manifest = manifest;
        let old = std::mem::replace(&mut self.file, Arc::clone(&file));
        if let Ok(mut req) = self.shared.req.lock() {
            req.retired.push(old);
            req.current = Some(file);
        }
        self.shared.wake.notify_one();
        self.incr_size = 0;
        Ok(seq)
    }

    /// The rewrite's base `seq` is complete: the manifest becomes that base plus the incremental files
    /// from `seq` on; older files are deleted.
    pub fn finish_rewrite(&mut self, seq: u64) -> io::Result<()> {
        let mut manifest = Manifest::default();
        manifest.files.push(ManifestFile { name: base_name(&self.prefix, seq), seq, kind: FileKind::Base });
        manifest.files.extend(self.manifest.incrs().filter(|f| f.seq >= seq).cloned());
        manifest.save(&manifest_path(&self.dir, &self.prefix))?;
        let keep: Vec<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
        for old in &self.manifest.files {
            if !keep.contains(&old.name.as_str()) {
                let _ = std::fs::remove_file(self.dir.join(&old.name));
            }
        }
        self.current_size = total_size(&self.dir, &manifest);
        self.rewrite_base_size = self.current_size;
        self.manifest = manifest;
        Ok(())
    }

    /// Waits until everything written is on disk (shutdown).
    pub fn sync_now(&self) -> io::Result<()> {
        let retired = self.shared.req.lock().map(|mut r| std::mem::take(&mut r.retired)).unwrap_or_default();
        for f in retired {
            f.sync_data()?;
        }
        self.file.sync_data()?;
        self.shared.synced.store(self.written, Ordering::Release);
        Ok(())
    }
}

impl Drop for Aof {
    fn drop(&mut self) {
        if let Ok(mut req) = self.shared.req.lock() {
            req.stop = true;
        }
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn next_seq(manifest: &Manifest) -> u64 {
    manifest.files.iter().map(|f| f.seq).max().unwrap_or(0) + 1
}

fn total_size(dir: &Path, manifest: &Manifest) -> u64 {
    manifest
        .files
        .iter()
        .filter(|f| f.kind != FileKind::History)
        .filter_map(|f| std::fs::metadata(dir.join(&f.name)).ok())
        .map(|m| m.len())
        .sum()
}

/// The sync thread: with `always`, syncs as soon as something new is written (one `fdatasync` for
/// everything written meanwhile); with `everysec`, once a second; with `no`, only retired files on a
/// switch. Publishes the synced position and wakes the event loop.
fn sync_loop(shared: &SyncShared, wake: &dyn Fn()) {
    let mut last_everysec = std::time::Instant::now();
    loop {
        let (files, target) = {
            let Ok(mut req) = shared.req.lock() else { return };
            loop {
                if req.stop {
                    return;
                }
                let behind = req.written > shared.synced.load(Ordering::Acquire);
                let due = match req.policy {
                    Fsync::Always => behind,
                    Fsync::EverySec => behind && last_everysec.elapsed() >= Duration::from_secs(1),
                    Fsync::No => false,
                };
                if due || !req.retired.is_empty() {
                    break;
                }
                let wait = match req.policy {
                    Fsync::EverySec if behind => Duration::from_secs(1)
                        .saturating_sub(last_everysec.elapsed())
                        .max(Duration::from_millis(1)),
                    _ => Duration::from_secs(1),
                };
                req = match shared.wake.wait_timeout(req, wait) {
                    Ok((r, _)) => r,
                    Err(_) => return,
                };
            }
            let mut files = std::mem::take(&mut req.retired);
            if req.policy != Fsync::No || req.written > shared.synced.load(Ordering::Acquire) {
                files.extend(req.current.clone());
            }
            (files, req.written)
        };
        last_everysec = std::time::Instant::now();
        let mut result = Ok(());
        for f in &files {
            if let Err(e) = f.sync_data() {
                result = Err(e);
                break;
            }
        }
        match result {
            Ok(()) => {
                shared.synced.fetch_max(target, Ordering::AcqRel);
                shared.failed.store(false, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!("Fsync of the append only file failed: {e}");
                if let Ok(mut slot) = shared.error.lock() {
                    *slot = Some(e.to_string());
                }
                shared.failed.store(true, Ordering::Relaxed);
                // Try again soon rather than spinning.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        wake();
    }
}
