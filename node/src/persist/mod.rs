//! Persistence: snapshots and the append-only file (user guide: `docs/persistence.md`).
//!
//! - [`snapshot`]: the snapshot file format: encoder, loader, checker.
//! - [`job`]: a background snapshot (forkless: see [`crate::db::capture`]) for `BGSAVE` and AOF rewrites.
//! - [`aof`]: the AOF writer: one checksummed batch per tick, fsync on its own thread, rewrites.
//! - [`aof_file`]: the AOF format (RESP commands in checksummed batches): encoder, replay, checker.
//! - [`manifest`]: the AOF manifest naming the base snapshot and the incremental files.
//! - [`load`]: start-up loading on its own thread.
//! - [`fsutil`]: durable writes and atomic replacement.
//!
//! This module holds the state the data thread keeps ([`Persistence`]) and the steps the event loop runs:
//! [`end_of_tick`] (write the feed to the AOF, move background jobs on) and [`cron`] (save rules,
//! automatic rewrites, retries).

pub mod aof;
pub mod aof_file;
pub mod fsutil;
pub mod job;
pub mod load;
pub mod manifest;
pub mod snapshot;

use crate::error::{CmdError, CmdResult};
use crate::server::{Ctx, Server};
use aof::{Aof, Fsync};
use job::{Job, Outcome, Purpose};
use manifest::Manifest;
use std::path::PathBuf;
use std::sync::Arc;

pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
/// After a failed background save, automatic ones wait this long before trying again (as Redis).
const BGSAVE_RETRY_DELAY_MS: i64 = 5000;

/// Wakes the event loop from another thread.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
pub struct Persistence {
    /// `Db::dirty` at the last successful snapshot: `rdb_changes_since_last_save` is the difference.
    pub dirty_at_save: u64,
    /// Unix seconds of the last successful snapshot (or start-up), for `LASTSAVE`.
    pub last_save: i64,
    pub last_bgsave_ok: bool,
    /// Unix ms of the last background save attempt.
    pub last_bgsave_try_ms: i64,
    pub last_bgsave_secs: i64,
    /// The running background job (snapshot or rewrite base): one at a time, as Redis has one child.
    pub job: Option<Job>,
    pub bgsave_scheduled: bool,
    pub rewrite_scheduled: bool,
    pub aof: Option<Aof>,
    pub last_rewrite_ok: bool,
    pub last_rewrite_secs: i64,
    pub rewrites: u64,
    pub loading: Option<load::Loading>,
    pub waker: Option<Waker>,
    /// `INFO` counters.
    pub saves: u64,
}

impl Persistence {
    pub fn new(now_ms: i64) -> Persistence {
        Persistence {
            last_save: now_ms / 1000,
            last_bgsave_ok: true,
            last_rewrite_ok: true,
            ..Persistence::default()
        }
    }

    fn wake_fn(&self) -> Box<dyn Fn() + Send> {
        let waker = self.waker.clone();
        Box::new(move || {
            if let Some(w) = &waker {
                w()
            }
        })
    }

    pub fn rdb_in_progress(&self) -> bool {
        self.job.as_ref().is_some_and(|j| j.purpose == Purpose::Snapshot)
    }

    pub fn rewrite_in_progress(&self) -> bool {
        self.job.as_ref().is_some_and(|j| matches!(j.purpose, Purpose::AofBase { .. }))
    }

    /// The feed position replies may go out at, when the AOF holds them back.
    pub fn acked(&self) -> Option<u64> {
        self.aof.as_ref().map(Aof::acked)
    }
}

fn snapshot_path(srv: &Server) -> PathBuf {
    PathBuf::from(&srv.config.dbfilename)
}

/// The error a write gets while persistence is failing, or `None`.
pub fn deny_writes(srv: &Server) -> Option<CmdError> {
    let p = &srv.persist;
    if srv.config.stop_writes_on_bgsave_error && !srv.config.save_rules.is_empty() && !p.last_bgsave_ok {
        return Some(CmdError::Static(MISCONF_RDB));
    }
    let aof = p.aof.as_ref()?;
    let e = aof.write_error.clone().or_else(|| aof.sync_error())?;
    Some(CmdError::Msg(format!("MISCONF Errors writing to the AOF file: {e}")))
}

// ---- start-up ----

/// Starts loading the data files (on the loader thread).
pub fn start_loading(srv: &mut Server, now_ms: i64) -> Result<(), String> {
    srv.persist.loading = load::start(&srv.config, now_ms, srv.persist.wake_fn())?;
    if srv.persist.loading.is_none() {
        finish_loading(srv, None, now_ms)?;
    }
    Ok(())
}

/// Takes the loaded keyspace (when the loader is done) and opens the AOF. `Err` ends start-up.
pub fn poll_loading(srv: &mut Server, now_ms: i64) -> Result<(), String> {
    let Some(loading) = &srv.persist.loading else { return Ok(()) };
    match loading.done.try_recv() {
        Ok(Ok(loaded)) => {
            srv.persist.loading = None;
            finish_loading(srv, Some(loaded), now_ms)
        }
        Ok(Err(e)) => Err(format!("Fatal error loading the DB: {e}. Exiting.")),
        Err(std::sync::mpsc::TryRecvError::Empty) => Ok(()),
        Err(std::sync::mpsc::TryRecvError::Disconnected) => Err("the loader thread died".into()),
    }
}

fn finish_loading(srv: &mut Server, loaded: Option<load::Loaded>, now_ms: i64) -> Result<(), String> {
    let mut manifest = None;
    if let Some(l) = loaded {
        srv.db = l.db;
        manifest = l.manifest;
        crate::repl::restore_after_load(srv, l.repl);
    }
    srv.persist.dirty_at_save = srv.db.dirty;
    if srv.config.appendonly {
        open_aof(srv, manifest.unwrap_or_default(), now_ms).map_err(|e| format!("opening the AOF: {e}"))?;
    }
    Ok(())
}

/// Opens the AOF for appending; with no base yet (a fresh AOF, or one just turned on), a rewrite writes
/// one from the keyspace.
fn open_aof(srv: &mut Server, manifest: Manifest, now_ms: i64) -> std::io::Result<()> {
    let dir = PathBuf::from(&srv.config.appenddirname);
    let has_base = manifest.base().is_some();
    let aof = Aof::open(
        dir,
        srv.config.appendfilename.clone(),
        manifest,
        Fsync::parse(&srv.config.appendfsync),
        srv.feed.appended,
        srv.persist.wake_fn(),
    )?;
    srv.persist.aof = Some(aof);
    crate::repl::update_feed(srv);
    if !has_base {
        start_rewrite(srv, now_ms);
    }
    Ok(())
}

/// `CONFIG SET appendonly yes|no` and `appendfsync` at run time.
pub fn config_changed(srv: &mut Server, now_ms: i64) -> Result<(), String> {
    match (srv.config.appendonly, srv.persist.aof.is_some()) {
        (true, false) => {
            // Turning the AOF on: a rewrite makes a base from the current data, as Redis does.
            let dir = PathBuf::from(&srv.config.appenddirname);
            let path = aof::manifest_path(&dir, &srv.config.appendfilename);
            let manifest = Manifest::load(&path).map_err(|e| e.to_string())?.unwrap_or_default();
            // Files of an earlier run describe another history: none of them is replayed again; the
            // rewrite's new manifest drops them.
            let fresh = Manifest {
                files: manifest
                    .files
                    .into_iter()
                    .map(|f| manifest::ManifestFile { kind: manifest::FileKind::History, ..f })
                    .collect(),
            };
            if let Some(job) = srv.persist.job.take() {
                job.abort(&mut srv.db);
                srv.persist.bgsave_scheduled = true;
            }
            open_aof(srv, fresh, now_ms).map_err(|e| e.to_string())?;
            if !srv.persist.rewrite_in_progress() {
                start_rewrite(srv, now_ms);
            }
        }
        (false, true) => {
            end_of_tick(srv, now_ms);
            if let Some(aof) = srv.persist.aof.take() {
                let _ = aof.sync_now();
            }
            if srv.persist.rewrite_in_progress() {
                if let Some(job) = srv.persist.job.take() {
                    job.abort(&mut srv.db);
                }
            }
            crate::repl::update_feed(srv);
        }
        _ => {}
    }
    if let Some(aof) = srv.persist.aof.as_mut() {
        aof.set_policy(Fsync::parse(&srv.config.appendfsync));
    }
    Ok(())
}

// ---- every tick ----

/// Hands what was fed so far to the replicas and returns it for the AOF, with the feed position at its end.
fn take_feed(srv: &mut Server) -> Option<(Vec<u8>, u64)> {
    if !srv.feed.on {
        return None;
    }
    crate::propagate::log_expired(&mut srv.feed, &mut srv.db);
    let batch = srv.feed.take();
    if !batch.is_empty() {
        crate::repl::feed(srv, &batch);
    }
    Some((batch, srv.feed.appended))
}

/// Writes what the tick fed to the AOF (and the replicas) and moves the background job on.
pub fn end_of_tick(srv: &mut Server, now_ms: i64) {
    if let Some((batch, end)) = take_feed(srv) {
        if let Some(aof) = srv.persist.aof.as_mut() {
            if aof.write(batch, end).is_err() && aof.policy == Fsync::Always {
                tracing::error!(
                    "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
                );
                std::process::exit(1);
            }
            if aof.policy == Fsync::Always {
                if let Some(e) = aof.sync_error() {
                    tracing::error!(
                        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
                    );
                    std::process::exit(1);
                }
            }
        }
    }
    step_job(srv, now_ms);
}

/// How long the event loop may sleep before the background job wants its next step.
pub fn next_step_in(srv: &Server) -> Option<std::time::Duration> {
    srv.persist.job.as_ref().and_then(Job::next_step_in)
}

fn step_job(srv: &mut Server, now_ms: i64) {
    let Some(job) = srv.persist.job.as_mut() else { return };
    let outcome = job.step(&mut srv.db);
    let (purpose, started, dirty_at_start) = (job.purpose, job.started_ms, job.dirty_at_start);
    let secs = (now_ms - started).max(0) / 1000;
    match outcome {
        Outcome::Running => return,
        Outcome::Done(size) => match purpose {
            Purpose::Snapshot => {
                tracing::info!("Background saving terminated with success ({size} bytes)");
                srv.persist.dirty_at_save = dirty_at_start;
                srv.persist.last_save = started / 1000;
                srv.persist.last_bgsave_ok = true;
                srv.persist.last_bgsave_secs = secs;
                srv.persist.saves += 1;
            }
            Purpose::AofBase { seq } => {
                let ok = match srv.persist.aof.as_mut().map(|a| a.finish_rewrite(seq)) {
                    Some(Ok(())) => true,
                    Some(Err(e)) => {
                        tracing::warn!("Background AOF rewrite could not switch the manifest: {e}");
                        false
                    }
                    None => false,
                };
                if ok {
                    tracing::info!("Background AOF rewrite finished successfully");
                }
                srv.persist.last_rewrite_ok = ok;
                srv.persist.last_rewrite_secs = secs;
                srv.persist.rewrites += 1;
            }
        },
        Outcome::Aborted => {
            // FLUSHALL: the data the job was saving is gone; save the new (empty) state instead.
            tracing::info!("Background job stopped by FLUSHALL; it will run again");
            match purpose {
                Purpose::Snapshot => srv.persist.bgsave_scheduled = true,
                Purpose::AofBase { .. } => srv.persist.rewrite_scheduled = true,
            }
        }
        Outcome::Failed(e) => match purpose {
            Purpose::Snapshot => {
                tracing::warn!("Background saving error: {e}");
                srv.persist.last_bgsave_ok = false;
            }
            Purpose::AofBase { .. } => {
                tracing::warn!("Background AOF rewrite failed: {e}");
                srv.persist.last_rewrite_ok = false;
            }
        },
    }
    srv.persist.job = None;
    // A job that was waiting for this one.
    start_scheduled(srv, now_ms);
}

/// Background work on the cron's schedule: save rules and automatic AOF rewrites.
pub fn cron(srv: &mut Server, now_ms: i64) {
    if srv.persist.loading.is_some() || !capture_free(srv) {
        return;
    }
    let changes = srv.db.dirty.wrapping_sub(srv.persist.dirty_at_save);
    let since_save = now_ms / 1000 - srv.persist.last_save;
    let may_retry =
        srv.persist.last_bgsave_ok || now_ms - srv.persist.last_bgsave_try_ms > BGSAVE_RETRY_DELAY_MS;
    if may_retry
        && srv.config.save_rules.iter().any(|&(secs, min)| changes >= min && since_save > secs as i64)
    {
        tracing::info!("{changes} changes in {since_save} seconds. Saving...");
        let _ = start_bgsave(srv, now_ms);
        return;
    }
    if let Some(aof) = &srv.persist.aof {
        let pct = srv.config.auto_aof_rewrite_percentage;
        let base = aof.rewrite_base_size.max(1);
        let grown = aof.current_size.saturating_sub(base) * 100 / base;
        if pct > 0 && aof.current_size > srv.config.auto_aof_rewrite_min_size && grown >= pct {
            tracing::info!("Starting automatic rewriting of AOF on {grown}% growth");
            start_rewrite(srv, now_ms);
        }
    }
}

// ---- jobs ----

fn start_bgsave(srv: &mut Server, now_ms: i64) -> Result<(), String> {
    if !capture_free(srv) {
        srv.persist.bgsave_scheduled = true;
        return Ok(());
    }
    srv.persist.last_bgsave_try_ms = now_ms;
    let path = snapshot_path(srv);
    let wake = srv.persist.wake_fn();
    let repl = crate::repl::snapshot_info(srv);
    match Job::start(&mut srv.db, path, Purpose::Snapshot, now_ms, repl, wake) {
        Ok(job) => {
            tracing::info!("Background saving started");
            srv.persist.job = Some(job);
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Can't save in background: {e}");
            srv.persist.last_bgsave_ok = false;
            Err(e.to_string())
        }
    }
}

/// Starts an AOF rewrite: a new incremental file takes the writes from now on, and a background
/// snapshot of this instant becomes its base.
fn start_rewrite(srv: &mut Server, now_ms: i64) {
    if !capture_free(srv) {
        srv.persist.rewrite_scheduled = true;
        return;
    }
    drain_feed(srv);
    let wake = srv.persist.wake_fn();
    let Some(aof) = srv.persist.aof.as_mut() else { return };
    let seq = match aof.start_new_incr() {
        Ok(seq) => seq,
        Err(e) => {
            tracing::warn!("Can't rewrite append only file in background: {e}");
            srv.persist.last_rewrite_ok = false;
            return;
        }
    };
    let path = aof.dir.join(aof::base_name(&aof.prefix, seq));
    match Job::start(&mut srv.db, path, Purpose::AofBase { seq }, now_ms, None, wake) {
        Ok(job) => {
            tracing::info!("Background append only file rewriting started");
            srv.persist.job = Some(job);
        }
        Err(e) => {
            tracing::warn!("Can't rewrite append only file in background: {e}");
            srv.persist.last_rewrite_ok = false;
        }
    }
}

/// Writes the pending feed (to the AOF and the replicas) now: so that a file switch happens at a batch
/// boundary, or a capture for replicas starts exactly at the stream's end.
pub fn drain_feed(srv: &mut Server) {
    if let Some((batch, end)) = take_feed(srv) {
        if let Some(aof) = srv.persist.aof.as_mut() {
            let _ = aof.write(batch, end);
        }
    }
}

/// Whether a capture may start: one at a time, whether for a snapshot, a rewrite or replicas.
pub fn capture_free(srv: &Server) -> bool {
    srv.persist.job.is_none() && srv.db.capture.is_none()
}

/// Starts the job that waited for a capture to end.
pub fn start_scheduled(srv: &mut Server, now_ms: i64) {
    if !capture_free(srv) {
        return;
    }
    if srv.persist.rewrite_scheduled {
        srv.persist.rewrite_scheduled = false;
        start_rewrite(srv, now_ms);
    } else if srv.persist.bgsave_scheduled {
        srv.persist.bgsave_scheduled = false;
        let _ = start_bgsave(srv, now_ms);
    }
}

/// A replica took a full copy: its AOF starts over from the new data, as Redis's does.
pub fn restart_aof_after_sync(srv: &mut Server, now_ms: i64) {
    if srv.persist.aof.is_some() {
        if let Some(job) = srv.persist.job.take() {
            job.abort(&mut srv.db);
        }
        start_rewrite(srv, now_ms);
    }
}

/// Saves a snapshot now, on the data thread (`SAVE`, shutdown).
pub fn save_now(srv: &mut Server, now_ms: i64) -> Result<(), String> {
    if let Some(job) = srv.persist.job.take() {
        // One capture at a time: a running rewrite starts over after the save.
        if job.purpose != Purpose::Snapshot {
            srv.persist.rewrite_scheduled = true;
        }
        job.abort(&mut srv.db);
    }
    // A full copy for replicas in progress stops (its replicas start over).
    srv.db.capture = None;
    let path = snapshot_path(srv);
    let repl = crate::repl::snapshot_info(srv);
    let mut job = Job::start(&mut srv.db, path, Purpose::Snapshot, now_ms, repl, Box::new(|| {}))
        .map_err(|e| e.to_string())?;
    match job.run_to_end(&mut srv.db) {
        Ok(_) => {
            tracing::info!("DB saved on disk");
            srv.persist.dirty_at_save = srv.db.dirty;
            srv.persist.last_save = now_ms / 1000;
            srv.persist.last_bgsave_ok = true;
            srv.persist.saves += 1;
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Failed saving the DB: {e}");
            Err(e)
        }
    }
}

/// What shutdown does before the process exits: write and sync the AOF, save a snapshot if rules are
/// set (or `SHUTDOWN SAVE`) and not `NOSAVE`. `Err` if the save failed (the shutdown is then refused
/// when asked by a client, as Redis does).
pub fn on_shutdown(srv: &mut Server, save: Option<bool>, now_ms: i64) -> Result<(), String> {
    if srv.persist.loading.is_some() {
        return Ok(());
    }
    drain_feed(srv);
    if let Some(aof) = &srv.persist.aof {
        if let Err(e) = aof.sync_now() {
            tracing::warn!("Error syncing the AOF on shutdown: {e}");
        }
    }
    if let Some(job) = srv.persist.job.take() {
        tracing::info!("There is a background job in progress: stopping it");
        job.abort(&mut srv.db);
    }
    if save.unwrap_or(!srv.config.save_rules.is_empty()) {
        tracing::info!("Saving the final snapshot before exiting.");
        save_now(srv, now_ms)?;
    }
    Ok(())
}

// ---- commands ----

pub fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.persist.rdb_in_progress() {
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    save_now(ctx.srv, ctx.now).map_err(|_| CmdError::Static("ERR"))?;
    ctx.me.out.simple("OK");
    Ok(())
}

pub fn bgsave(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let schedule = match a.get(1) {
        None => false,
        Some(o) if o.eq_ignore_ascii_case(b"schedule") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    if ctx.srv.persist.rdb_in_progress() {
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    if !capture_free(ctx.srv) {
        if !schedule {
            return Err(CmdError::Static("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."));
        }
        ctx.srv.persist.bgsave_scheduled = true;
        ctx.me.out.simple("Background saving scheduled");
        return Ok(());
    }
    start_bgsave(ctx.srv, ctx.now).map_err(|_| CmdError::Static("ERR"))?;
    ctx.me.out.simple("Background saving started");
    Ok(())
}

pub fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.persist.rewrite_in_progress() {
        return Err(CmdError::Static("ERR Background append only file rewriting already in progress"));
    }
    if ctx.srv.persist.aof.is_none() {
        return Err(CmdError::Static(
            "ERR BGREWRITEAOF needs appendonly yes in slotkv (the AOF files are made when it is turned on)",
        ));
    }
    if !capture_free(ctx.srv) {
        ctx.srv.persist.rewrite_scheduled = true;
        ctx.me.out.simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    start_rewrite(ctx.srv, ctx.now);
    if !ctx.srv.persist.rewrite_in_progress() {
        return Err(CmdError::Static("ERR Can't execute an AOF background rewriting. Please check the server logs for more information."));
    }
    ctx.me.out.simple("Background append only file rewriting started");
    Ok(())
}

pub fn lastsave(ctx: &mut Ctx) -> CmdResult {
    ctx.me.out.int(ctx.srv.persist.last_save);
    Ok(())
}

/// `INFO persistence`.
pub fn info(srv: &Server, now_ms: i64, out: &mut String) {
    use std::fmt::Write;
    let p = &srv.persist;
    let loading = p.loading.as_ref();
    let _ = writeln!(out, "loading:{}\r", u8::from(loading.is_some()));
    let _ = writeln!(out, "async_loading:0\r");
    if let Some(l) = loading {
        let done = l.loaded_bytes.load(std::sync::atomic::Ordering::Relaxed);
        let elapsed = l.started.elapsed().as_secs_f64();
        let pct = if l.total_bytes == 0 { 0.0 } else { done as f64 * 100.0 / l.total_bytes as f64 };
        let rate = if elapsed > 0.0 { done as f64 / elapsed } else { 0.0 };
        let eta = if rate > 0.0 { (l.total_bytes.saturating_sub(done)) as f64 / rate } else { 1.0 };
        let _ = writeln!(out, "loading_start_time:{}\r", l.started_ms / 1000);
        let _ = writeln!(out, "loading_total_bytes:{}\r", l.total_bytes);
        let _ = writeln!(out, "loading_rdb_used_mem:0\r");
        let _ = writeln!(out, "loading_loaded_bytes:{done}\r");
        let _ = writeln!(out, "loading_loaded_perc:{pct:.2}\r");
        let _ = writeln!(out, "loading_eta_seconds:{}\r", eta as u64);
    }
    let rdb_job = p.job.as_ref().filter(|j| j.purpose == Purpose::Snapshot);
    let aof_job = p.job.as_ref().filter(|j| j.purpose != Purpose::Snapshot);
    let ok = |b: bool| if b { "ok" } else { "err" };
    let lines = [
        ("current_cow_peak", "0".to_string()),
        ("current_cow_size", "0".to_string()),
        ("current_cow_size_age", "0".to_string()),
        ("current_fork_perc", "0.00".to_string()),
        ("current_save_keys_processed", "0".to_string()),
        ("current_save_keys_total", "0".to_string()),
        ("rdb_changes_since_last_save", srv.db.dirty.wrapping_sub(p.dirty_at_save).to_string()),
        ("rdb_bgsave_in_progress", u8::from(rdb_job.is_some()).to_string()),
        ("rdb_last_save_time", p.last_save.to_string()),
        ("rdb_last_bgsave_status", ok(p.last_bgsave_ok).to_string()),
        ("rdb_last_bgsave_time_sec", if p.saves == 0 { "-1".into() } else { p.last_bgsave_secs.to_string() }),
        (
            "rdb_current_bgsave_time_sec",
            rdb_job.map_or("-1".into(), |j| ((now_ms - j.started_ms) / 1000).to_string()),
        ),
        ("rdb_saves", p.saves.to_string()),
        ("rdb_last_cow_size", "0".to_string()),
        ("rdb_last_load_keys_expired", "0".to_string()),
        ("rdb_last_load_keys_loaded", "0".to_string()),
        ("aof_enabled", u8::from(p.aof.is_some()).to_string()),
        ("aof_rewrite_in_progress", u8::from(aof_job.is_some()).to_string()),
        ("aof_rewrite_scheduled", u8::from(p.rewrite_scheduled).to_string()),
        (
            "aof_last_rewrite_time_sec",
            if p.rewrites == 0 { "-1".into() } else { p.last_rewrite_secs.to_string() },
        ),
        (
            "aof_current_rewrite_time_sec",
            aof_job.map_or("-1".into(), |j| ((now_ms - j.started_ms) / 1000).to_string()),
        ),
        ("aof_last_bgrewrite_status", ok(p.last_rewrite_ok).to_string()),
        ("aof_rewrites", p.rewrites.to_string()),
        ("aof_rewrites_consecutive_failures", "0".to_string()),
        (
            "aof_last_write_status",
            ok(p.aof.as_ref().is_none_or(|a| a.write_error.is_none() && a.sync_error().is_none()))
                .to_string(),
        ),
        ("aof_last_cow_size", "0".to_string()),
        ("module_fork_in_progress", "0".to_string()),
        ("module_fork_last_cow_size", "0".to_string()),
    ];
    for (k, v) in lines {
        let _ = writeln!(out, "{k}:{v}\r");
    }
    if let Some(a) = &p.aof {
        let _ = writeln!(out, "aof_current_size:{}\r", a.current_size);
        let _ = writeln!(out, "aof_base_size:{}\r", a.rewrite_base_size);
        let _ = writeln!(out, "aof_pending_rewrite:{}\r", u8::from(p.rewrite_scheduled));
        let _ = writeln!(out, "aof_buffer_length:0\r");
        let _ = writeln!(out, "aof_pending_bio_fsync:{}\r", u8::from(a.acked() < a.written));
        let _ = writeln!(out, "aof_delayed_fsync:0\r");
    }
}
