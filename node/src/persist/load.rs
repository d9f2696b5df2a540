//! Start-up loading, on a thread of its own so that the event loop can answer meanwhile (`-LOADING` to
//! most commands, `INFO` with progress). With `appendonly yes` the AOF alone is the truth: its base
//! snapshot, then its incremental files in order, through the manifest. Otherwise the snapshot file.
//! The loaded keyspace is handed back whole; a bad file ends start-up with its name and offset.

use super::manifest::Manifest;
use super::{aof, aof_file, snapshot};
use crate::client::ClientState;
use crate::config::Config;
use crate::db::Db;
use crate::dispatch;
use crate::server::{Ctx, Server};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Loaded {
    pub db: Db,
    /// The AOF manifest that was loaded (with `appendonly yes`).
    pub manifest: Option<Manifest>,
    /// A replica's replication id and offset, from a snapshot loaded alone (after an AOF's commands the
    /// offset is unknown).
    pub repl: Option<(String, u64)>,
}

pub struct Loading {
    pub done: Receiver<Result<Loaded, String>>,
    pub loaded_bytes: Arc<AtomicU64>,
    pub total_bytes: u64,
    pub started_ms: i64,
    pub started: Instant,
}

/// What start-up loads: the files in order, and the AOF manifest that lists them (with `appendonly yes`).
struct Plan {
    files: Vec<PathBuf>,
    manifest: Option<Manifest>,
}

/// `None` when there is nothing to load.
fn plan(config: &Config) -> Result<Option<Plan>, String> {
    if config.appendonly {
        let dir = Path::new(&config.appenddirname);
        let path = aof::manifest_path(dir, &config.appendfilename);
        let manifest = Manifest::load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(manifest.map(|m| {
            let files = m.base().into_iter().chain(m.incrs()).map(|f| dir.join(&f.name)).collect();
            Plan { files, manifest: Some(m) }
        }));
    }
    let path = PathBuf::from(&config.dbfilename);
    Ok(path.exists().then(|| Plan { files: vec![path], manifest: None }))
}

/// Starts loading what `config` says; `None` when there is nothing to load.
pub fn start(config: &Config, now_ms: i64, wake: Box<dyn Fn() + Send>) -> Result<Option<Loading>, String> {
    let Some(Plan { files, manifest }) = plan(config)? else { return Ok(None) };
    let total_bytes = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let loaded_bytes = Arc::new(AtomicU64::new(0));
    let (tx, done) = mpsc::channel();
    let config = config.clone();
    let progress = Arc::clone(&loaded_bytes);
    std::thread::Builder::new()
        .name("loader".into())
        .spawn(move || {
            let result = load(&config, manifest, &files, &progress, total_bytes);
            let _ = tx.send(result);
            wake();
        })
        .map_err(|e| format!("starting the loader: {e}"))?;
    Ok(Some(Loading { done, loaded_bytes, total_bytes, started_ms: now_ms, started: Instant::now() }))
}

/// Logs progress at most once a second.
struct Progress<'a> {
    counter: &'a AtomicU64,
    /// Bytes of the files already finished.
    base: u64,
    total: u64,
    last_log: Instant,
}

impl Progress<'_> {
    fn at(&mut self, bytes_in_file: u64) {
        let done = self.base + bytes_in_file;
        self.counter.store(done, Ordering::Relaxed);
        if self.last_log.elapsed() >= Duration::from_secs(1) {
            self.last_log = Instant::now();
            let pct = (done * 100).checked_div(self.total).unwrap_or(100);
            let mb = |b: u64| b as f64 / (1 << 20) as f64;
            tracing::info!("Loading: {:.1} of {:.1} MB ({pct}%)", mb(done), mb(self.total));
        }
    }
}

fn pause(config: &Config) {
    if config.key_load_delay_us > 0 {
        std::thread::sleep(Duration::from_micros(config.key_load_delay_us));
    }
}

fn load(
    config: &Config,
    manifest: Option<Manifest>,
    files: &[PathBuf],
    counter: &AtomicU64,
    total: u64,
) -> Result<Loaded, String> {
    let started = Instant::now();
    let now = crate::net::now_ms();
    let mut progress = Progress { counter, base: 0, total, last_log: Instant::now() };
    let mut db = Db::new();
    let mut repl = None;
    let base = match &manifest {
        Some(m) => m.base().map(|b| Path::new(&config.appenddirname).join(&b.name)),
        None => files.first().cloned(),
    };
    if let Some(path) = &base {
        tracing::info!("Loading snapshot {}", path.display());
        // An AOF base keeps keys whose time has passed: a command later in the log may have acted on
        // them while they were alive (their expiry, if it happened, is a logged DEL).
        let expire_before = if manifest.is_some() { 0 } else { now };
        let stats = snapshot::load(path, config, expire_before, &mut |n| progress.at(n), &mut |entry| {
            db.insert(entry);
            pause(config);
        })
        .map_err(|e| e.to_string())?;
        progress.base += stats.bytes;
        if manifest.is_none() {
            repl = stats.repl.clone();
        }
        tracing::info!(
            "Snapshot {} loaded: {} keys ({} expired skipped)",
            path.display(),
            stats.keys,
            stats.expired_skipped
        );
    }
    if let Some(m) = &manifest {
        let mut srv = Server::new(config.clone(), now);
        srv.db = db;
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut me = ClientState::new(0, usize::MAX, -1, addr, addr, now, true);
        let incrs: Vec<_> = m.incrs().collect();
        for (i, incr) in incrs.iter().enumerate() {
            let path = Path::new(&config.appenddirname).join(&incr.name);
            // Only the last file may end in a torn command (the node died writing it), as in Redis.
            let last = i + 1 == incrs.len();
            let stats = aof_file::replay(
                &path,
                config.aof_load_truncated && last,
                &mut |n| progress.at(n),
                &mut |argv| apply(&mut srv, &mut me, argv, config),
            )
            .map_err(|e| e.to_string())?;
            progress.base += stats.bytes;
            if let Some(at) = stats.truncated_at {
                tracing::warn!(
                    "AOF {} loaded anyway because aof-load-truncated is enabled (truncated command at offset {at} dropped)",
                    path.display()
                );
            }
            if last {
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                if stats.bytes < len || stats.sealed_end < stats.bytes {
                    let cut = aof_file::make_appendable(&path, &stats)
                        .map_err(|e| format!("{}: making it appendable: {e}", path.display()))?;
                    tracing::warn!("AOF {}: {cut} bytes of torn tail removed", path.display());
                }
            }
            tracing::info!("AOF {}: {} commands replayed", path.display(), stats.commands);
        }
        db = std::mem::take(&mut srv.db);
    }
    db.dirty = 0;
    tracing::info!("DB loaded from disk: {:.3} seconds, {} keys", started.elapsed().as_secs_f64(), db.len());
    Ok(Loaded { db, manifest, repl })
}

/// Runs one logged command, as Redis's fake AOF client does: no authentication or memory checks, no reply.
/// Nothing expires while the log is replayed (as in Redis): the commands ran while their keys were alive,
/// and every expiry that happened is in the log as a `DEL`. So the clock the commands see is 0 (every
/// logged time is absolute: `PEXPIREAT`, `PXAT`, `ABSTTL`); keys whose time has passed go once loaded.
fn apply(srv: &mut Server, me: &mut ClientState, argv: &[&[u8]], config: &Config) -> Result<(), String> {
    let Some(name) = argv.first() else { return Ok(()) };
    let spec = dispatch::resolve(name, argv).map_err(|e| e.text().to_string())?;
    let result = dispatch::call(&mut Ctx { srv, me, now: 0 }, spec, argv);
    me.out.buf.clear();
    if let Err(e) = result {
        tracing::debug!("AOF command {} failed: {}", spec.name, e.text());
    }
    pause(config);
    Ok(())
}
