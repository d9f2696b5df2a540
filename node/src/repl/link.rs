//! The replica's side: the link to the primary.
//!
//! A thread of its own does the blocking work: it connects, shakes hands (`PING`, `AUTH masterauth`,
//! `REPLCONF listening-port`, `REPLCONF capa`, `PSYNC replid offset+1`), loads a full copy straight from the
//! socket into a new keyspace (the old one keeps answering clients meanwhile, as Redis's
//! `repl-diskless-load swapdb`), then reads the stream. It hands all of it to the event loop through a
//! bounded channel (so a slow loop slows the primary down through TCP, never growing memory) and counts
//! the bytes it handed over, so that after a lost connection it asks for exactly the next byte. The event
//! loop swaps the keyspace in, applies the stream as the primary's client, and acknowledges its offset.

use super::backlog::Backlog;
use super::{append_stream, update_feed, PRIMARY_CLIENT};
use crate::client::ClientState;
use crate::config::Config;
use crate::db::Db;
use crate::dispatch;
use crate::persist::snapshot;
use crate::server::{Ctx, Server};
use slotkv_proto::{parse_request, Args, Limits, Parsed};
use smallvec::SmallVec;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Stream chunks the loop applies per tick before it serves its clients again.
const EVENTS_PER_TICK: usize = 64;
/// Chunks waiting in the channel before the link thread stops reading the socket.
const CHANNEL_CHUNKS: usize = 256;
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not connected; the thread is (re)connecting.
    Connect,
    /// Connected, shaking hands.
    Connecting,
    /// Receiving a full copy.
    Transfer,
    /// Following the stream.
    Connected,
}

impl State {
    /// The state as `ROLE` names it.
    pub fn role_name(self) -> &'static str {
        match self {
            State::Connect => "connect",
            State::Connecting => "connecting",
            State::Transfer => "sync",
            State::Connected => "connected",
        }
    }
}

enum Event {
    Connected,
    FullSyncStarted,
    FullSync { replid: String, offset: u64, db: Box<Db> },
    Continue { replid: String },
    Stream(Vec<u8>),
    Down(String),
}

/// What the event loop and the link thread share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// The connection, for the loop's acknowledgements and for stopping the thread.
    socket: Mutex<Option<TcpStream>>,
    /// Bytes of the current full copy read so far.
    sync_read: AtomicU64,
}

impl Shared {
    /// Closes the connection to the primary, if there is one (the thread then reconnects, or stops);
    /// whether there was one.
    fn close(&self) -> bool {
        let Ok(guard) = self.socket.lock() else { return false };
        guard.as_ref().is_some_and(|s| s.shutdown(std::net::Shutdown::Both).is_ok())
    }
}

pub struct Link {
    pub host: String,
    pub port: u16,
    pub state: State,
    /// Unix ms of the last byte from the primary, and of when the link went down.
    pub last_io_ms: i64,
    pub down_since_ms: i64,
    last_ack_ms: i64,
    /// The client that applies the stream (taken out while it runs).
    client: Option<Box<ClientState>>,
    /// Stream bytes that do not yet form a whole command.
    pending: Vec<u8>,
    args: Args,
    rx: Receiver<Event>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The channel may hold more: come back at once.
    pub more: bool,
}

impl Link {
    pub fn sync_read_bytes(&self) -> u64 {
        self.shared.sync_read.load(Ordering::Relaxed)
    }

    fn stop(mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.close();
        // Unblock a thread waiting to hand over a chunk, then let it end on its own.
        while self.rx.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            drop(t);
        }
    }

    fn send(&self, bytes: &[u8]) {
        if let Ok(mut guard) = self.shared.socket.lock() {
            if let Some(s) = guard.as_mut() {
                let _ = s.write_all(bytes);
            }
        }
    }
}

fn primary_client(now: i64) -> Box<ClientState> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    Box::new(ClientState::new(0, PRIMARY_CLIENT, -1, addr, addr, now, true))
}

/// What the link thread needs to know.
struct Params {
    host: String,
    port: u16,
    config: Config,
    my_port: u16,
    replid: String,
    offset: u64,
}

/// `REPLICAOF host port`: follows that primary from now on (resuming this node's own history when the
/// primary has it, as after a failover).
pub fn follow(srv: &mut Server, host: String, port: u16, now: i64) {
    if let Some(old) = srv.repl.link.take() {
        old.stop();
    }
    let shared = Arc::new(Shared::default());
    let (tx, rx) = mpsc::sync_channel(CHANNEL_CHUNKS);
    let params = Params {
        host: host.clone(),
        port,
        config: srv.config.clone(),
        my_port: srv.tcp_port,
        replid: srv.repl.replid.clone(),
        offset: srv.repl.offset,
    };
    let waker = srv.persist.waker.clone();
    let wake = move || {
        if let Some(w) = &waker {
            w()
        }
    };
    let thread_shared = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("replica-link".into())
        .spawn(move || run(params, &thread_shared, &tx, &wake))
        .ok();
    tracing::info!("Connecting to MASTER {host}:{port}");
    srv.repl.link = Some(Link {
        host,
        port,
        state: State::Connect,
        last_io_ms: 0,
        down_since_ms: now,
        last_ack_ms: 0,
        client: Some(primary_client(now)),
        pending: Vec::new(),
        args: Args::default(),
        rx,
        shared,
        thread,
        more: false,
    });
    srv.db.keep_expired = true;
    update_feed(srv);
}

/// `REPLICAOF NO ONE`: applies what already arrived, drops the link and starts a history of its own (the
/// old one's id kept as `replid2`, so that the other replicas of the old primary may resume from here).
pub fn promote(srv: &mut Server, now: i64) {
    while srv.repl.link.as_ref().is_some_and(|l| l.state == State::Connected) {
        if !poll_once(srv, now, usize::MAX) {
            break;
        }
    }
    if let Some(link) = srv.repl.link.take() {
        link.stop();
    }
    srv.repl.shift_replid();
    if srv.repl.backlog.is_none() {
        srv.repl.backlog = Some(Backlog::new(srv.config.repl_backlog_size, srv.repl.offset));
    }
    srv.db.keep_expired = false;
    update_feed(srv);
    // Our replicas follow the new history: they reconnect and resume with `+CONTINUE <new id>`.
    let tokens: Vec<usize> = srv.repl.replicas.keys().copied().collect();
    srv.kills.extend(tokens);
}

/// Applies what the link thread handed over (a bounded amount per tick).
pub fn poll(srv: &mut Server, now: i64) {
    poll_once(srv, now, EVENTS_PER_TICK);
}

/// Returns whether events were left in the channel.
fn poll_once(srv: &mut Server, now: i64, budget: usize) -> bool {
    for _ in 0..budget {
        let Some(link) = srv.repl.link.as_mut() else { return false };
        let event = match link.rx.try_recv() {
            Ok(e) => e,
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => {
                link.more = false;
                return false;
            }
        };
        link.last_io_ms = now;
        match event {
            Event::Connected => link.state = State::Connecting,
            Event::FullSyncStarted => {
                link.state = State::Transfer;
                tracing::info!("MASTER <-> REPLICA sync: receiving the full copy");
            }
            Event::FullSync { replid, offset, db } => install(srv, replid, offset, db, now),
            Event::Continue { replid } => {
                link.state = State::Connected;
                tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
                if replid != srv.repl.replid {
                    srv.repl.shift_replid();
                    srv.repl.replid = replid;
                }
                if srv.repl.backlog.is_none() {
                    srv.repl.backlog = Some(Backlog::new(srv.config.repl_backlog_size, srv.repl.offset));
                }
            }
            Event::Stream(bytes) => apply(srv, &bytes),
            Event::Down(why) => {
                if link.state != State::Connect {
                    tracing::warn!("Connection with master lost: {why}");
                    link.down_since_ms = now;
                }
                link.state = State::Connect;
            }
        }
    }
    if let Some(link) = srv.repl.link.as_mut() {
        link.more = true;
    }
    true
}

/// A full copy arrived: it replaces the keyspace (the old one is freed on another thread).
fn install(srv: &mut Server, replid: String, offset: u64, mut db: Box<Db>, now: i64) {
    db.tracking = srv.db.tracking;
    db.keep_expired = true;
    db.log_expired = srv.db.log_expired;
    let old = std::mem::replace(&mut srv.db, *db);
    let _ = std::thread::Builder::new().name("free-old-db".into()).spawn(move || drop(old));
    let r = &mut srv.repl;
    r.replid = replid;
    r.replid2 = "0".repeat(40);
    r.second_offset = -1;
    r.offset = offset;
    r.backlog = Some(Backlog::new(srv.config.repl_backlog_size, offset));
    if let Some(link) = r.link.as_mut() {
        link.pending.clear();
        link.client = Some(primary_client(now));
        link.state = State::Connected;
    }
    // Our own replicas had the old data: they start over.
    let tokens: Vec<usize> = r.replicas.keys().copied().collect();
    srv.kills.extend(tokens);
    // Every watched key may have changed.
    for tokens in srv.watchers.values() {
        for &t in tokens {
            if let Some(Some(c)) = srv.clients.get_mut(t) {
                c.state.watch_dirty = true;
            }
        }
    }
    srv.persist.dirty_at_save = 0;
    tracing::info!("MASTER <-> REPLICA sync: Finished with success ({} keys)", srv.db.len());
    crate::persist::restart_aof_after_sync(srv, now);
}

/// Runs the stream's complete commands as the primary's client; passes each on to this node's backlog
/// and replicas; answers `REPLCONF GETACK`.
fn apply(srv: &mut Server, bytes: &[u8]) {
    let Some(link) = srv.repl.link.as_mut() else { return };
    let mut data = std::mem::take(&mut link.pending);
    data.extend_from_slice(bytes);
    let mut args = std::mem::take(&mut link.args);
    let Some(mut me) = link.client.take() else { return };
    let limits = Limits {
        max_bulk_len: usize::MAX >> 1,
        max_multibulk_len: i32::MAX as usize,
        max_inline_len: 64 * 1024,
    };
    let mut pos = 0;
    while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
        match parse_request(rest, &limits, &mut args) {
            Ok(Parsed::Complete(n)) => {
                let mut argv: SmallVec<[&[u8]; 8]> = SmallVec::new();
                args.slices(rest, &mut argv);
                let getack = argv.first().is_some_and(|a| a.eq_ignore_ascii_case(b"replconf"))
                    && argv.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"getack"));
                if getack {
                    send_ack(srv);
                } else if !argv.is_empty() {
                    // The stream's times are absolute, and nothing expires for the primary's client: it
                    // sees the keys as the primary did.
                    dispatch::execute(&mut Ctx { srv: &mut *srv, me: &mut me, now: 0 }, &argv);
                    me.out.buf.clear();
                }
                append_stream(srv, rest.get(..n).unwrap_or_default());
                if srv.repl.backlog.is_none() {
                    srv.repl.offset += n as u64;
                }
                pos += n;
            }
            Ok(Parsed::Incomplete(_)) => break,
            Err(e) => {
                tracing::warn!("Protocol error in the stream from the master ({e}); reconnecting");
                pos = data.len();
                drop_connection(srv);
            }
        }
    }
    data.drain(..pos.min(data.len()));
    if let Some(link) = srv.repl.link.as_mut() {
        link.pending = data;
        link.args = args;
        link.client = Some(me);
    }
}

/// `CLIENT KILL TYPE master`: closes the connection to the primary (the link makes it again); whether
/// there was one.
pub fn drop_connection(srv: &mut Server) -> bool {
    srv.repl.link.as_ref().is_some_and(|l| l.shared.close())
}

fn send_ack(srv: &mut Server) {
    let offset = srv.repl.offset;
    if let Some(link) = srv.repl.link.as_mut() {
        let n = offset.to_string();
        link.send(format!("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{n}\r\n", n.len()).as_bytes());
        link.last_ack_ms = crate::net::now_ms();
    }
}

/// Once a cron tick: acknowledge the offset every second (the primary's `repl-timeout` and `WAIT` need it).
pub fn cron(srv: &mut Server, now: i64) {
    if srv.repl.link.as_ref().is_some_and(|l| l.state == State::Connected && now - l.last_ack_ms >= 1000) {
        send_ack(srv);
    }
}

// ---- the link thread ----

fn run(mut p: Params, shared: &Shared, tx: &SyncSender<Event>, wake: &dyn Fn()) {
    while !shared.stop.load(Ordering::Relaxed) {
        let result = session(&mut p, shared, tx, wake);
        if let Ok(mut g) = shared.socket.lock() {
            *g = None;
        }
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let why = match result {
            Ok(()) => "closed".to_string(),
            Err(e) => e,
        };
        if tx.send(Event::Down(why)).is_err() {
            return;
        }
        wake();
        for _ in 0..10 {
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn handed(tx: &SyncSender<Event>, wake: &dyn Fn(), e: Event) -> Result<(), String> {
    tx.send(e).map_err(|_| "stopped".to_string())?;
    wake();
    Ok(())
}

fn command(w: &mut TcpStream, argv: &[&str]) -> Result<(), String> {
    let mut out = format!("*{}\r\n", argv.len());
    for a in argv {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    w.write_all(out.as_bytes()).map_err(|e| format!("writing to the master: {e}"))
}

/// A reply line, skipping the empty lines a primary sends to keep a waiting link alive.
fn line(r: &mut impl BufRead) -> Result<String, String> {
    loop {
        let mut buf = Vec::new();
        let n = r.read_until(b'\n', &mut buf).map_err(|e| format!("reading from the master: {e}"))?;
        if n == 0 {
            return Err("the master closed the connection".into());
        }
        let text = String::from_utf8_lossy(&buf).trim_end().to_string();
        if !text.is_empty() {
            return Ok(text);
        }
    }
}

fn session(p: &mut Params, shared: &Shared, tx: &SyncSender<Event>, wake: &dyn Fn()) -> Result<(), String> {
    let timeout = Duration::from_secs(p.config.repl_timeout.max(1));
    let addr = (p.host.as_str(), p.port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {}: {e}", p.host))?
        .next()
        .ok_or_else(|| format!("no address for {}", p.host))?;
    let stream = TcpStream::connect_timeout(&addr, timeout.min(Duration::from_secs(5)))
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut w = stream.try_clone().map_err(|e| e.to_string())?;
    if let Ok(mut g) = shared.socket.lock() {
        *g = Some(stream.try_clone().map_err(|e| e.to_string())?);
    }
    if shared.stop.load(Ordering::Relaxed) {
        return Ok(());
    }
    handed(tx, wake, Event::Connected)?;
    tracing::info!("MASTER <-> REPLICA sync started");
    let mut r = BufReader::with_capacity(READ_CHUNK, stream);
    command(&mut w, &["PING"])?;
    let pong = line(&mut r)?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") && !pong.starts_with("-NOPERM") {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    if let Some(pass) = p.config.masterauth.clone() {
        command(&mut w, &["AUTH", &pass])?;
        let reply = line(&mut r)?;
        if reply.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {reply}"));
        }
    }
    command(&mut w, &["REPLCONF", "listening-port", &p.my_port.to_string()])?;
    line(&mut r)?;
    if let Some(ip) = p.config.replica_announce_ip.clone() {
        command(&mut w, &["REPLCONF", "ip-address", &ip])?;
        line(&mut r)?;
    }
    command(&mut w, &["REPLCONF", "capa", "eof", "capa", "psync2"])?;
    line(&mut r)?;
    command(&mut w, &["PSYNC", &p.replid, &(p.offset + 1).to_string()])?;
    let reply = line(&mut r)?;
    let mut words = reply.split(' ');
    match words.next() {
        Some("+FULLRESYNC") => {
            let replid = words.next().unwrap_or_default().to_string();
            let offset = words.next().and_then(|o| o.parse::<u64>().ok()).ok_or("bad +FULLRESYNC reply")?;
            tracing::info!("Full resync from master: {replid}:{offset}");
            handed(tx, wake, Event::FullSyncStarted)?;
            let db = receive_copy(&mut r, &p.config, shared)?;
            p.replid = replid.clone();
            p.offset = offset;
            handed(tx, wake, Event::FullSync { replid, offset, db })?;
        }
        Some("+CONTINUE") => {
            if let Some(id) = words.next().filter(|id| id.len() == 40) {
                p.replid = id.to_string();
            }
            handed(tx, wake, Event::Continue { replid: p.replid.clone() })?;
        }
        _ => return Err(format!("Unexpected reply to PSYNC from master: {reply}")),
    }
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let n = match r.read(&mut buf) {
            Ok(0) => return Err("the master closed the connection".into()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err("MASTER timeout: no data nor PING received".into())
            }
            Err(e) => return Err(format!("reading from the master: {e}")),
        };
        p.offset += n as u64;
        handed(tx, wake, Event::Stream(buf.get(..n).unwrap_or_default().to_vec()))?;
    }
}

/// Reads `$EOF:<mark>\r\n`, the snapshot (into a new keyspace), then the mark.
fn receive_copy(r: &mut BufReader<TcpStream>, config: &Config, shared: &Shared) -> Result<Box<Db>, String> {
    let head = line(r)?;
    let mark = head.strip_prefix("$EOF:").filter(|m| m.len() == 40).ok_or_else(|| {
        format!("Bad protocol from MASTER, the first byte is not '$' (we received '{head}'), are you sure the host and port are right?")
    })?;
    shared.sync_read.store(0, Ordering::Relaxed);
    let mut db = Box::new(Db::new());
    let name = std::path::Path::new("<replication stream>");
    let stats = snapshot::load_stream(
        &mut *r,
        name,
        config,
        0,
        &mut |n| shared.sync_read.store(n, Ordering::Relaxed),
        &mut |e| {
            db.insert(e);
        },
    )
    .map_err(|e| format!("loading the full copy: {e}"))?;
    let mut end = [0u8; 40];
    r.read_exact(&mut end).map_err(|e| format!("reading the end of the full copy: {e}"))?;
    if end != mark.as_bytes() {
        return Err("the full copy did not end with its mark".into());
    }
    db.dirty = 0;
    tracing::info!(
        "MASTER <-> REPLICA sync: Loading DB in memory done: {} keys, {} bytes",
        stats.keys,
        stats.bytes
    );
    Ok(db)
}
