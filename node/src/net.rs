//! The event loop: one thread, one `epoll` (through mio), every connection. Each readable socket is read
//! into one shared buffer, every complete command in it is executed straight from there, and all replies
//! go out with one write. Only a partial command is copied into the client's own buffer. A client that
//! cannot take its replies fast enough gets them when its socket is writable again.

use crate::blocking;
use crate::client::{Client, ClientState, Io};
use crate::config::Config;
use crate::dispatch;
use crate::error;
use crate::server::{Ctx, Server};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slotkv_proto::{parse_request, Limits, Parsed};
use smallvec::SmallVec;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The shared read buffer: what one read can take in.
const READ_CHUNK: usize = 64 * 1024;
/// Reads of `READ_CHUNK` one client gets before the others have their turn.
const READS_PER_TURN: usize = 16;
/// Listener tokens count down from the top so that client tokens can be slab keys.
const LISTENER_BASE: usize = usize::MAX - 64;
/// Other threads (AOF sync, snapshot writer, loader) wake the loop through this token.
const WAKER: usize = LISTENER_BASE - 1;
/// The cluster bus listener; bus links use tokens from `bus::LINK_BASE` up.
const BUS_LISTENER: usize = LISTENER_BASE - 2;

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Serves clients on `listeners` until `stop` is set (SIGTERM) or a client sends `SHUTDOWN`.
pub fn run(config: Config, listeners: Vec<std::net::TcpListener>, stop: Arc<AtomicBool>) -> io::Result<()> {
    let poll = Poll::new()?;
    // Copies of the listening sockets for a busy script to accept on (see `serve_busy`).
    let busy_listeners: Vec<TcpListener> =
        listeners.iter().filter_map(|l| l.try_clone().ok()).map(TcpListener::from_std).collect();
    let mut listeners: Vec<TcpListener> = listeners
        .into_iter()
        .map(|l| {
            l.set_nonblocking(true)?;
            Ok(TcpListener::from_std(l))
        })
        .collect::<io::Result<_>>()?;
    for (i, l) in listeners.iter_mut().enumerate() {
        poll.registry().register(l, Token(LISTENER_BASE + i), Interest::READABLE)?;
    }
    let mut srv = Server::new(config, now_ms());
    if let Some(l) = listeners.first() {
        srv.tcp_port = l.local_addr()?.port();
    }
    srv.scripting.io = Some(BusyIo {
        registry: poll.registry().try_clone()?,
        listeners: busy_listeners,
        read_buf: vec![0; READ_CHUNK],
    });
    let waker = Arc::new(mio::Waker::new(poll.registry(), Token(WAKER))?);
    srv.persist.waker = Some(Arc::new(move || {
        let _ = waker.wake();
    }));
    crate::cluster::start(&mut srv).map_err(io::Error::other)?;
    let bus = match &srv.cluster {
        Some(_) => {
            let cport = crate::cluster::bus_port(&srv.config, srv.tcp_port);
            let addrs: Vec<std::net::SocketAddr> = listeners
                .iter()
                .filter_map(|l| l.local_addr().ok())
                .map(|mut a| {
                    a.set_port(cport);
                    a
                })
                .collect();
            let bus = crate::cluster::bus::Bus::bind(&addrs, poll.registry(), Token(BUS_LISTENER))
                .map_err(|e| io::Error::other(format!("cluster bus port {cport}: {e}")))?;
            tracing::info!("Cluster bus listening on port {cport}");
            Some(bus)
        }
        None => None,
    };
    crate::persist::start_loading(&mut srv, now_ms()).map_err(io::Error::other)?;
    // A replica starts following once its own data is loaded (the copy would replace it).
    let mut to_follow = srv.config.replicaof.clone().filter(|_| srv.cluster.is_none());
    let mut lp = EventLoop {
        poll,
        read_buf: vec![0; READ_CHUNK],
        next_cron: Instant::now(),
        unfinished: Vec::new(),
        bus,
    };
    let mut events = Events::with_capacity(1024);
    tracing::info!("Ready to accept connections tcp");
    loop {
        let timeout = if lp.unfinished.is_empty() {
            let mut t =
                lp.next_cron.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
            if let Some(deadline) = blocking::next_deadline(&srv) {
                t = t.min(Duration::from_millis((deadline - now_ms()).max(0) as u64));
            }
            if let Some(job) = crate::persist::next_step_in(&srv) {
                t = t.min(job);
            }
            if let Some(r) = crate::repl::next_step_in(&srv, now_ms()) {
                t = t.min(r);
            }
            t
        } else {
            Duration::ZERO
        };
        if let Err(e) = lp.poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let now = now_ms();
        for token in std::mem::take(&mut lp.unfinished) {
            lp.on_readable(&mut srv, token, now);
        }
        for ev in events.iter() {
            let Token(t) = ev.token();
            if t == WAKER {
                continue;
            }
            if t == BUS_LISTENER || (crate::cluster::bus::LINK_BASE..BUS_LISTENER).contains(&t) {
                if let Some(bus) = lp.bus.as_mut() {
                    if t == BUS_LISTENER {
                        bus.accept(lp.poll.registry());
                    } else {
                        bus.on_event(&mut srv, lp.poll.registry(), t, now);
                    }
                }
                continue;
            }
            if t >= LISTENER_BASE {
                if let Some(l) = listeners.get(t - LISTENER_BASE) {
                    lp.accept(&mut srv, l, now);
                }
                continue;
            }
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                lp.on_readable(&mut srv, t, now);
            }
            if ev.is_writable() {
                lp.on_writable(&mut srv, t);
            }
        }
        crate::repl::link::poll(&mut srv, now);
        if !srv.paused.is_empty() && srv.writes_paused_until <= now {
            let paused = std::mem::take(&mut srv.paused);
            srv.wake.extend(paused);
        }
        blocking::expire_timeouts(&mut srv, now);
        lp.wake_clients(&mut srv, now);
        for token in std::mem::take(&mut srv.kills) {
            lp.close(&mut srv, token);
        }
        if Instant::now() >= lp.next_cron {
            lp.cron(&mut srv);
        }
        crate::persist::poll_loading(&mut srv, now).map_err(io::Error::other)?;
        if srv.persist.loading.is_none() {
            if let Some((host, port)) = to_follow.take() {
                crate::repl::link::follow(&mut srv, host, port, now);
            }
        }
        if let Some(bus) = lp.bus.as_mut() {
            bus.send_outbox(&mut srv, lp.poll.registry());
        }
        crate::cluster::save_if_changed(&mut srv);
        crate::persist::end_of_tick(&mut srv, now_ms());
        crate::repl::end_of_tick(&mut srv, now_ms());
        lp.wake_clients(&mut srv, now);
        for token in std::mem::take(&mut srv.kills) {
            lp.close(&mut srv, token);
        }
        lp.release_held(&mut srv);
        if srv.shutdown.is_some() {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            tracing::info!("Received SIGTERM scheduling shutdown...");
            match crate::persist::on_shutdown(&mut srv, None, now_ms()) {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!("SIGTERM received but errors trying to shut down the server ({e}), check the logs for more information");
                    stop.store(false, Ordering::Relaxed);
                }
            }
        }
    }
    tracing::info!("Redis is now ready to exit, bye bye...");
    Ok(())
}

struct EventLoop {
    /// The cluster bus, with `cluster-enabled yes`.
    bus: Option<crate::cluster::bus::Bus>,
    poll: Poll,
    read_buf: Vec<u8>,
    next_cron: Instant,
    /// Clients whose socket may still hold input after their turn ended (see `READS_PER_TURN`).
    unfinished: Vec<usize>,
}

impl EventLoop {
    fn accept(&mut self, srv: &mut Server, listener: &TcpListener, now: i64) {
        accept(srv, self.poll.registry(), listener, now);
    }

    fn on_readable(&mut self, srv: &mut Server, token: usize, now: i64) {
        let Some(mut client) = srv.clients.get_mut(token).and_then(Option::take) else { return };
        let mut broken = false;
        let mut reads = 0;
        loop {
            let n = match client.io.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    broken = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    broken = true;
                    break;
                }
            };
            srv.stats.net_input_bytes += n as u64;
            let data = self.read_buf.get(..n).unwrap_or_default();
            if client.state.blocked.is_some() {
                // A blocked client's commands wait; reading goes on to notice a disconnection.
                client.io.pending.extend_from_slice(data);
            } else if client.io.pending.is_empty() {
                let used = process(srv, &mut client, data, now);
                if let Some(rest) =
                    data.get(used..).filter(|r| !r.is_empty() && !client.state.close_after_reply)
                {
                    client.io.pending.extend_from_slice(rest);
                }
            } else {
                client.io.pending.extend_from_slice(data);
                if client.io.pending.len() >= client.io.needed {
                    let pending = std::mem::take(&mut client.io.pending);
                    let used = process(srv, &mut client, &pending, now);
                    let mut pending = pending;
                    pending.drain(..used.min(pending.len()));
                    client.io.pending = pending;
                }
            }
            let pending_len = client.io.pending.len();
            if pending_len > srv.config.client_query_buffer_limit {
                tracing::warn!("Closing client that reached max query buffer length (qbuf={pending_len})");
                broken = true;
                break;
            }
            // A big argument on its way: grow the buffer by doubling toward the announced size, never by
            // more than what already arrived (plus 1 MB), so an announced size alone allocates nothing big.
            if client.io.needed > pending_len && client.io.needed <= srv.config.client_query_buffer_limit {
                let step = (client.io.needed - pending_len).min(pending_len.max(1 << 20));
                client.io.pending.reserve(step);
            }
            client.state.qbuf = client.io.pending.len();
            if client.state.close_after_reply || n < self.read_buf.len() {
                break;
            }
            // Fairness: a client that keeps its socket full (a bulk load through `--pipe`) gets a turn of
            // this many reads, then waits for the others. Its socket still has data but, being
            // edge-triggered, will not be reported again: remember to come back.
            reads += 1;
            if reads == READS_PER_TURN {
                self.unfinished.push(token);
                break;
            }
        }
        if client.io.pending.is_empty() && client.io.pending.capacity() > READ_CHUNK {
            client.io.pending = Vec::new();
        }
        client.state.hold = srv.feed.appended;
        // Replies go out at the end of the tick, with the other clients' (as Redis writes them before
        // sleeping): a client woken by its first reply is still awake for the next ones, where writing
        // after each read woke it (an IPI) for every batch.
        let defer = !broken && !client.state.out.buf.is_empty();
        if defer {
            srv.held.push(token);
        }
        if broken || (!defer && (self.flush(srv, &mut client).is_err() || done(&client))) {
            self.drop_client(srv, token, client);
        } else if let Some(slot) = srv.clients.get_mut(token) {
            *slot = Some(client);
        }
    }

    /// Clients that other clients' commands gave output (pub/sub messages) or unblocked: write their
    /// output, and run the commands an unblocked one had pipelined.
    fn wake_clients(&mut self, srv: &mut Server, now: i64) {
        while !srv.wake.is_empty() {
            let mut tokens = std::mem::take(&mut srv.wake);
            tokens.sort_unstable();
            tokens.dedup();
            for token in tokens {
                let Some(mut client) = srv.clients.get_mut(token).and_then(Option::take) else { continue };
                if client.state.blocked.is_none()
                    && !client.io.pending.is_empty()
                    && client.io.pending.len() >= client.io.needed
                {
                    let mut pending = std::mem::take(&mut client.io.pending);
                    let used = process(srv, &mut client, &pending, now);
                    pending.drain(..used.min(pending.len()));
                    client.io.pending = pending;
                    client.state.qbuf = client.io.pending.len();
                }
                client.state.hold = client.state.hold.max(srv.feed.appended);
                if self.flush(srv, &mut client).is_err() || done(&client) {
                    self.drop_client(srv, token, client);
                } else if let Some(slot) = srv.clients.get_mut(token) {
                    *slot = Some(client);
                }
            }
        }
    }

    fn on_writable(&mut self, srv: &mut Server, token: usize) {
        let Some(mut client) = srv.clients.get_mut(token).and_then(Option::take) else { return };
        if self.flush(srv, &mut client).is_err() || done(&client) {
            self.drop_client(srv, token, client);
        } else if let Some(slot) = srv.clients.get_mut(token) {
            *slot = Some(client);
        }
    }

    /// Clients whose output waited for the AOF: those it now covers get their output.
    fn release_held(&mut self, srv: &mut Server) {
        if srv.held.is_empty() {
            return;
        }
        let acked = srv.persist.acked().unwrap_or(u64::MAX);
        let mut tokens = std::mem::take(&mut srv.held);
        tokens.sort_unstable();
        tokens.dedup();
        for token in tokens {
            let Some(mut client) = srv.clients.get_mut(token).and_then(Option::take) else { continue };
            if client.state.hold > acked {
                srv.held.push(token);
            } else if self.flush(srv, &mut client).is_err() || done(&client) {
                self.drop_client(srv, token, client);
                continue;
            }
            if let Some(slot) = srv.clients.get_mut(token) {
                *slot = Some(client);
            }
        }
    }

    /// Writes what the client has waiting; asks for writability when the socket is full. Output that
    /// depends on changes the AOF does not hold yet waits (see [`crate::persist::aof`]).
    fn flush(&mut self, srv: &mut Server, client: &mut Client) -> io::Result<()> {
        if client.state.out.buf.is_empty() && !client.io.want_write {
            return Ok(());
        }
        let config_unsaved = srv.cluster.as_ref().is_some_and(|c| c.command_dirty);
        // A replica's stream is not a reply: it never waits for the AOF.
        let held = !client.state.is_replica
            && (config_unsaved || srv.persist.acked().is_some_and(|acked| client.state.hold > acked));
        if held {
            srv.held.push(client.state.token);
            return Ok(());
        }
        let buf = &mut client.state.out.buf;
        let mut written = 0;
        while written < buf.len() {
            match client.io.stream.write(buf.get(written..).unwrap_or_default()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        srv.stats.net_output_bytes += written as u64;
        if written == buf.len() {
            buf.clear();
            if buf.capacity() > 4 * READ_CHUNK {
                *buf = Vec::new();
            }
        } else {
            buf.drain(..written);
        }
        let want = !buf.is_empty();
        let limit = if client.state.is_replica {
            srv.config.output_limit_replica
        } else if client.state.subs.any() {
            srv.config.output_limit_pubsub
        } else {
            srv.config.output_limit_normal
        };
        if want
            && (limit.hard > 0 || limit.soft > 0)
            && crate::commands::pubsub::over_limit(&mut client.state, limit, now_ms())
        {
            tracing::warn!(
                "Client id={} addr={} closed for overcoming of output buffer limits.",
                client.state.id,
                client.state.addr
            );
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        if want != client.io.want_write {
            let interest = if want { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            self.poll.registry().reregister(&mut client.io.stream, Token(client.state.token), interest)?;
            client.io.want_write = want;
        }
        Ok(())
    }

    fn close(&mut self, srv: &mut Server, token: usize) {
        if let Some(Some(client)) = srv.clients.get_mut(token).map(Option::take) {
            self.drop_client(srv, token, client);
        }
    }

    fn drop_client(&mut self, srv: &mut Server, token: usize, mut client: Box<Client>) {
        let _ = self.poll.registry().deregister(&mut client.io.stream);
        blocking::unblock(srv, &mut client.state);
        crate::commands::multi::forget_watches(srv, &mut client.state);
        crate::commands::pubsub::forget_subscriptions(srv, &mut client.state);
        crate::repl::forget_client(srv, token);
        if srv.clients.contains(token) {
            srv.clients.remove(token);
        }
    }

    /// Background work, `hz` times a second: active expiry, statistics, idle clients.
    fn cron(&mut self, srv: &mut Server) {
        let started = Instant::now();
        let period = Duration::from_millis(1000 / srv.config.hz);
        self.next_cron = started + period;
        let now = now_ms();
        // Active expiry: up to a quarter of the period, stopping early once few keys turn out expired.
        let budget = period / 4;
        // A replica's keys expire when its primary says so.
        while !srv.repl.is_replica() {
            let checks = 2000;
            let removed = srv.db.active_expire(now, checks);
            if removed * 4 < checks || started.elapsed() >= budget {
                break;
            }
        }
        let (t0, c0) = srv.stats.ops_sample;
        if now - t0 >= 1000 {
            let ops = srv.stats.commands_processed - c0;
            srv.stats.ops_per_sec = if t0 == 0 { 0 } else { ops * 1000 / (now - t0) as u64 };
            srv.stats.ops_sample = (now, srv.stats.commands_processed);
        }
        // Every slot's table looked at about every 1.6 s (hz 10).
        srv.db.compact_tables(1024);
        srv.refresh_memory();
        // Eviction that ran out of time in a command goes on here, even with no commands coming.
        if srv.config.maxmemory > 0 && srv.used_memory > srv.config.maxmemory {
            crate::evict::perform(srv, now);
        }
        crate::persist::cron(srv, now);
        crate::repl::cron(srv, now);
        if let Some(bus) = self.bus.as_mut() {
            bus.cron(srv, self.poll.registry(), now);
        }
        crate::cluster::migrate::close_idle_sockets(started);
        if srv.config.timeout_secs > 0 {
            let limit = srv.config.timeout_secs as i64 * 1000;
            let idle: Vec<usize> =
                srv.other_clients().filter(|c| now - c.last_ms > limit).map(|c| c.token).collect();
            for token in idle {
                self.close(srv, token);
            }
        }
    }
}

/// Accepts every waiting connection on `listener` and registers it for reading.
fn accept(srv: &mut Server, registry: &mio::Registry, listener: &TcpListener, now: i64) {
    loop {
        let (mut stream, addr) = match listener.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                return;
            }
        };
        srv.stats.connections_received += 1;
        let refuse = |stream: &mut TcpStream, msg: &str| {
            let _ = stream.write_all(format!("-{msg}\r\n").as_bytes());
        };
        if srv.clients.len() >= srv.config.maxclients {
            srv.stats.rejected_connections += 1;
            refuse(&mut stream, error::MAX_CLIENTS);
            continue;
        }
        if srv.config.protected_mode && srv.config.requirepass.is_none() && !addr.ip().is_loopback() {
            srv.stats.rejected_connections += 1;
            refuse(&mut stream, error::DENIED);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let laddr = stream.local_addr().unwrap_or(addr);
        let entry = srv.clients.vacant_entry();
        let token = entry.key();
        if let Err(e) = registry.register(&mut stream, Token(token), Interest::READABLE) {
            tracing::warn!("Registering client connection: {e}");
            continue;
        }
        let id = srv.next_client_id;
        srv.next_client_id += 1;
        let authenticated = srv.config.requirepass.is_none();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let io = Io { stream, pending: Vec::new(), needed: 0, args: Default::default(), want_write: false };
        let state = ClientState::new(id, token, fd, addr, laddr, now, authenticated);
        entry.insert(Some(Box::new(Client { io, state })));
    }
}

/// Whether the client is to be closed now: it asked (or was told) to, and its replies are out.
fn done(client: &Client) -> bool {
    client.state.close_after_reply && client.state.out.buf.is_empty()
}

/// Executes every complete command at the start of `data`; returns the bytes used. The rest (a partial
/// command) is the caller's to keep, with `needed` saying how long it must grow before parsing again.
fn process(srv: &mut Server, client: &mut Client, data: &[u8], now: i64) -> usize {
    let limits = Limits {
        max_bulk_len: srv.config.proto_max_bulk_len,
        max_multibulk_len: i32::MAX as usize,
        max_inline_len: 64 * 1024,
    };
    let mut pos = 0;
    while pos < data.len() && !client.state.close_after_reply && client.state.blocked.is_none() {
        let rest = data.get(pos..).unwrap_or_default();
        match parse_request(rest, &limits, &mut client.io.args) {
            Ok(Parsed::Complete(n)) => {
                if !client.io.args.is_empty() {
                    // Most commands have few arguments: keep their slices on the stack.
                    let mut argv: SmallVec<[&[u8]; 8]> = SmallVec::new();
                    client.io.args.slices(rest, &mut argv);
                    if srv.writes_paused_until > now && writes(&argv) && !client.state.is_replica {
                        // A manual failover: the write waits (unparsed) until the pause ends.
                        srv.paused.push(client.state.token);
                        client.io.needed = 0;
                        return pos;
                    }
                    let mut ctx = Ctx { srv: &mut *srv, me: &mut client.state, now };
                    dispatch::execute(&mut ctx, &argv);
                    if !srv.db.ready.is_empty() {
                        blocking::serve_ready(srv, now);
                    }
                }
                pos += n;
            }
            Ok(Parsed::Incomplete(needed)) => {
                client.io.needed = needed;
                return pos;
            }
            Err(e) => {
                tracing::debug!("Protocol error from client {}: {e}", client.state.addr);
                client.state.out.error(&format!("ERR {e}"));
                client.state.close_after_reply = true;
                return data.len();
            }
        }
    }
    client.io.needed = 0;
    pos
}

/// Whether a command may write (paused during a manual failover, as Redis's `CLIENT_PAUSE_WRITE`).
fn writes(argv: &[&[u8]]) -> bool {
    let Some(name) = argv.first() else { return false };
    match dispatch::resolve(name, argv) {
        Ok(spec) => {
            spec.has(slotkv_proto::command::flags::WRITE)
                || matches!(
                    spec.id,
                    slotkv_proto::CommandId::Exec
                        | slotkv_proto::CommandId::Eval
                        | slotkv_proto::CommandId::EvalSha
                )
        }
        Err(_) => false,
    }
}

/// What a script running past `busy-reply-threshold` needs to serve clients from inside the Lua hook:
/// a handle on the loop's `epoll` (to register new clients), copies of the listening sockets, and a
/// read buffer of its own.
pub struct BusyIo {
    registry: mio::Registry,
    listeners: Vec<TcpListener>,
    read_buf: Vec<u8>,
}

/// Serves clients while a script is busy, as Redis's `processEventsWhileBlocked` does: accepts new
/// connections, reads every client's socket and runs what arrived (dispatch answers `-BUSY` to all but
/// `SCRIPT KILL`, `SHUTDOWN NOSAVE` and a few connection commands), and writes the replies.
///
/// No `epoll_wait` here: the loop's edge-triggered readiness stays with the loop. Every socket is read
/// until it would block, so nothing is left behind; a readiness event the loop gets later for data read
/// here finds an empty socket, which is harmless. Replies that do not fit the socket, and clients that
/// closed or asked to, are left to the loop through `srv.wake` once the script ends. The running
/// script's own client is out of the table, so it is never touched.
pub fn serve_busy(srv: &mut Server, now: i64) {
    let Some(mut io) = srv.scripting.io.take() else { return };
    for l in &io.listeners {
        accept(srv, &io.registry, l, now);
    }
    let tokens: Vec<usize> = srv.clients.iter().filter(|(_, c)| c.is_some()).map(|(t, _)| t).collect();
    for token in tokens {
        let Some(mut client) = srv.clients.get_mut(token).and_then(Option::take) else { continue };
        let mut closed = false;
        loop {
            match client.io.stream.read(&mut io.read_buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    srv.stats.net_input_bytes += n as u64;
                    client.io.pending.extend_from_slice(io.read_buf.get(..n).unwrap_or_default());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            if client.io.pending.len() > srv.config.client_query_buffer_limit {
                closed = true;
                break;
            }
        }
        if client.state.blocked.is_none() && !client.io.pending.is_empty() {
            let mut pending = std::mem::take(&mut client.io.pending);
            let used = process(srv, &mut client, &pending, now);
            pending.drain(..used.min(pending.len()));
            client.io.pending = pending;
        }
        let buf = &mut client.state.out.buf;
        let mut written = 0;
        while written < buf.len() {
            match client.io.stream.write(buf.get(written..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        srv.stats.net_output_bytes += written as u64;
        buf.drain(..written);
        if closed {
            client.state.close_after_reply = true;
        }
        if closed || !buf.is_empty() || client.state.close_after_reply {
            srv.wake.push(token);
        }
        if let Some(slot) = srv.clients.get_mut(token) {
            *slot = Some(client);
        }
    }
    srv.scripting.io = Some(io);
}
