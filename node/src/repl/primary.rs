//! The primary's side of replication: replicas attach with `PSYNC`, resume from the backlog or take a full
//! copy, then get every stream byte the node has; they acknowledge their offset, which `WAIT` and
//! `min-replicas-to-write` count.
//!
//! A full copy is a forkless capture of the keyspace ([`crate::db::capture`], the same as `BGSAVE`'s)
//! written into the replicas' own output, a few slots per tick while their output is below
//! [`SYNC_BUFFER`], so no file is written and the extra memory stays bounded. The stream written meanwhile
//! is kept aside (`Sync::tail`) and follows the copy. As in Redis's diskless replication the copy is framed
//! `$EOF:<40 bytes mark>\r\n <snapshot> <mark>`; the snapshot is slotkv's own format
//! ([`crate::persist::snapshot`]), so a slotkv primary has slotkv replicas.

use super::backlog::Backlog;
use super::{update_feed, Replication};
use crate::blocking;
use crate::client::Blocked;
use crate::error::CmdResult;
use crate::persist::job::{BYTES_PER_STEP, KEYS_PER_STEP};
use crate::server::{Ctx, Server};
use std::time::Duration;

/// Unsent copy bytes a replica may have before the capture waits for its socket.
const SYNC_BUFFER: usize = 8 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for a full copy to start.
    WaitSync,
    /// Receiving the full copy.
    Sending,
    /// Following the stream.
    Online,
}

impl State {
    pub fn info_name(self) -> &'static str {
        match self {
            State::WaitSync => "wait_bgsave",
            State::Sending => "send_bulk",
            State::Online => "online",
        }
    }
}

pub struct Replica {
    pub ip: String,
    /// The port it serves clients on (`REPLCONF listening-port`).
    pub port: u16,
    pub state: State,
    /// The last offset it acknowledged, and when (Unix ms).
    pub ack_offset: u64,
    pub ack_ms: i64,
    /// When it asked for a full copy.
    pub since_ms: i64,
    /// It used `SYNC`, which expects no `+FULLRESYNC` line.
    pub old_sync: bool,
}

/// A full copy on its way to one or more replicas.
pub struct Sync {
    pub tokens: Vec<usize>,
    /// The stream since the copy's instant: sent once the copy is complete.
    pub tail: Vec<u8>,
    mark: String,
}

fn replica_buf(srv: &mut Server, token: usize) -> Option<&mut Vec<u8>> {
    srv.clients.get_mut(token).and_then(|c| c.as_deref_mut()).map(|c| &mut c.state.out.buf)
}

/// `PSYNC`: the client becomes a replica, resuming from the backlog when it asks for bytes the backlog
/// holds of this node's history (or of the one before, up to where it ended), else waiting for a full copy.
pub fn attach(ctx: &mut Ctx, replid: &[u8], from: i64, old_sync: bool) {
    let srv = &mut *ctx.srv;
    let me = &mut *ctx.me;
    if srv.repl.backlog.is_none() {
        srv.repl.backlog = Some(Backlog::new(srv.config.repl_backlog_size, srv.repl.offset));
        update_feed(srv);
    }
    me.is_replica = true;
    let ip = me.replica_ip.clone().unwrap_or_else(|| me.addr.ip().to_string());
    let mut replica = Replica {
        ip,
        port: me.replica_port,
        state: State::WaitSync,
        ack_offset: 0,
        ack_ms: ctx.now,
        since_ms: ctx.now,
        old_sync,
    };
    let r = &mut srv.repl;
    let ours = replid == r.replid.as_bytes() || (replid == r.replid2.as_bytes() && from <= r.second_offset);
    let held = if old_sync || !ours || from <= 0 {
        None
    } else {
        r.backlog.as_ref().and_then(|b| b.since(from as u64))
    };
    match held {
        Some(bytes) => {
            tracing::info!(
                "Partial resynchronization request from {}:{} accepted. Sending {} bytes of backlog starting from offset {from}.",
                replica.ip,
                replica.port,
                bytes.len()
            );
            me.out.simple(&format!("CONTINUE {}", r.replid));
            me.out.raw(&bytes);
            replica.state = State::Online;
            replica.ack_offset = (from - 1).max(0) as u64;
            r.partial_syncs_ok += 1;
        }
        None => {
            if replid != b"?" && !old_sync {
                r.partial_syncs_err += 1;
            }
            tracing::info!("Replica {}:{} asks for synchronization: full resync", replica.ip, replica.port);
        }
    }
    r.replicas.insert(me.token, replica);
    r.no_replicas_since = 0;
}

/// Removes a replica whose connection closed.
pub fn forget_replica(srv: &mut Server, token: usize) {
    if let Some(r) = srv.repl.replicas.remove(&token) {
        tracing::info!("Connection with replica {}:{} lost.", r.ip, r.port);
        if let Some(sync) = srv.repl.sync.as_mut() {
            sync.tokens.retain(|&t| t != token);
        }
        if srv.repl.replicas.is_empty() {
            srv.repl.no_replicas_since = crate::net::now_ms();
        }
    }
}

/// Starts a full copy for the replicas waiting for one, and moves a running one on.
pub fn step_sync(srv: &mut Server, now: i64) {
    if srv.repl.sync.is_none() && !start_sync(srv, now) {
        return;
    }
    let Some(sync) = srv.repl.sync.as_ref() else { return };
    let tokens = sync.tokens.clone();
    let limit = srv.config.output_limit_replica.hard;
    if tokens.is_empty() || srv.db.capture.is_none() || (limit > 0 && sync.tail.len() as u64 > limit) {
        // Every replica left, FLUSHALL dropped the capture, or the tail outgrew the replica output limit:
        // the replicas left start over.
        if srv.db.capture.is_some() {
            srv.db.capture = None;
        }
        for &t in &tokens {
            tracing::warn!("Full synchronization stopped; the replica will reconnect");
            srv.kills.push(t);
        }
        srv.repl.sync = None;
        crate::persist::start_scheduled(srv, now);
        return;
    }
    if tokens.iter().any(|&t| replica_buf(srv, t).is_some_and(|b| b.len() >= SYNC_BUFFER)) {
        return;
    }
    let complete = srv.db.capture_step(KEYS_PER_STEP, BYTES_PER_STEP);
    let mut blocks = match srv.db.capture.as_deref_mut() {
        Some(c) => {
            c.queued = 0;
            std::mem::take(&mut c.blocks)
        }
        None => Vec::new(),
    };
    if complete {
        if let Some(c) = srv.db.capture.take() {
            blocks.extend(c.finish());
        }
    }
    for &t in &tokens {
        if let Some(buf) = replica_buf(srv, t) {
            for b in &blocks {
                buf.extend_from_slice(b);
            }
            srv.wake.push(t);
        }
    }
    if !complete {
        return;
    }
    let Some(sync) = srv.repl.sync.take() else { return };
    for &t in &sync.tokens {
        if let Some(buf) = replica_buf(srv, t) {
            buf.extend_from_slice(sync.mark.as_bytes());
            buf.extend_from_slice(&sync.tail);
        }
        if let Some(r) = srv.repl.replicas.get_mut(&t) {
            r.state = State::Online;
            r.ack_ms = now;
            tracing::info!("Synchronization with replica {}:{} succeeded", r.ip, r.port);
        }
    }
    crate::persist::start_scheduled(srv, now);
}

/// Starts a full copy when replicas wait for one, `repl-diskless-sync-delay` has passed since the first
/// asked (so that replicas arriving together share one copy), and no snapshot is being taken.
fn start_sync(srv: &mut Server, now: i64) -> bool {
    let waiting: Vec<usize> =
        srv.repl.replicas.iter().filter(|(_, r)| r.state == State::WaitSync).map(|(&t, _)| t).collect();
    let Some(first) =
        srv.repl.replicas.values().filter(|r| r.state == State::WaitSync).map(|r| r.since_ms).min()
    else {
        return false;
    };
    if now - first < srv.config.repl_diskless_sync_delay as i64 * 1000 || !crate::persist::capture_free(srv) {
        return false;
    }
    // The capture is of this instant: the stream up to here is before it, all after it goes to the tail.
    crate::persist::drain_feed(srv);
    srv.db.capture_start(now, None);
    let mark = super::new_replid();
    let Replication { replid, offset, .. } = &srv.repl;
    let fullresync = format!("+FULLRESYNC {replid} {offset}\r\n");
    let eof = format!("$EOF:{mark}\r\n");
    tracing::info!("Starting a full synchronization for {} replica(s) at offset {offset}", waiting.len());
    for &t in &waiting {
        let old_sync = srv.repl.replicas.get(&t).is_some_and(|r| r.old_sync);
        if let Some(buf) = replica_buf(srv, t) {
            if !old_sync {
                buf.extend_from_slice(fullresync.as_bytes());
            }
            buf.extend_from_slice(eof.as_bytes());
            srv.wake.push(t);
        }
        if let Some(r) = srv.repl.replicas.get_mut(&t) {
            r.state = State::Sending;
        }
    }
    srv.repl.full_syncs += 1;
    srv.repl.sync = Some(Sync { tokens: waiting, tail: Vec::new(), mark });
    true
}

/// How soon the loop must come back: at once while a copy can move on, soon while one waits.
pub fn next_step_in(srv: &Server, now: i64) -> Option<Duration> {
    if let Some(sync) = &srv.repl.sync {
        let full = sync.tokens.iter().any(|&t| {
            srv.clients
                .get(t)
                .and_then(|c| c.as_deref())
                .is_some_and(|c| c.state.out.buf.len() >= SYNC_BUFFER)
        });
        return Some(if full { Duration::from_millis(1) } else { Duration::ZERO });
    }
    let first =
        srv.repl.replicas.values().filter(|r| r.state == State::WaitSync).map(|r| r.since_ms).min()?;
    let due = first + srv.config.repl_diskless_sync_delay as i64 * 1000 - now;
    Some(Duration::from_millis(due.clamp(1, 100) as u64))
}

/// A replica acknowledged `offset`.
pub fn ack(srv: &mut Server, token: usize, offset: u64, now: i64) {
    if let Some(r) = srv.repl.replicas.get_mut(&token) {
        r.ack_offset = r.ack_offset.max(offset);
        r.ack_ms = now;
    }
    release_waiters(srv);
}

/// Online replicas that acknowledged at least `offset`.
pub fn acked(srv: &Server, offset: u64) -> usize {
    srv.repl.replicas.values().filter(|r| r.state == State::Online && r.ack_offset >= offset).count()
}

/// Online replicas that acknowledged within `min-replicas-max-lag` seconds.
pub fn good_replicas(srv: &Server) -> usize {
    let now = crate::net::now_ms();
    let lag = srv.config.min_replicas_max_lag as i64 * 1000;
    srv.repl.replicas.values().filter(|r| r.state == State::Online && now - r.ack_ms <= lag).count()
}

/// `WAIT`: answers at once when enough replicas have every write so far (or inside `MULTI`), else blocks
/// until they do or the timeout passes, and asks the replicas for an acknowledgement.
pub fn wait(ctx: &mut Ctx, wanted: usize, timeout_ms: i64) -> CmdResult {
    crate::persist::drain_feed(ctx.srv);
    let target = ctx.srv.repl.offset;
    let count = acked(ctx.srv, target);
    if count >= wanted || ctx.me.in_exec || ctx.me.multi.is_some() {
        ctx.me.out.int(count as i64);
        return Ok(());
    }
    let deadline = if timeout_ms == 0 { 0 } else { ctx.now + timeout_ms };
    if deadline != 0 {
        ctx.srv.deadlines.insert((deadline, ctx.me.token));
    }
    ctx.me.blocked =
        Some(Blocked { argv: Vec::new(), keys: Vec::new(), deadline, wait: Some((target, wanted)) });
    ctx.srv.repl.waiting.push(ctx.me.token);
    ctx.srv.repl.getack_due = true;
    Ok(())
}

/// Answers the `WAIT`ing clients whose replicas have caught up.
fn release_waiters(srv: &mut Server) {
    if srv.repl.waiting.is_empty() {
        return;
    }
    for token in std::mem::take(&mut srv.repl.waiting) {
        let still = srv.with_client(token, |srv, me| {
            let Some((target, wanted)) = me.blocked.as_ref().and_then(|b| b.wait) else { return false };
            let count = acked(srv, target);
            if count < wanted {
                return true;
            }
            me.out.int(count as i64);
            blocking::unblock(srv, me);
            srv.wake.push(token);
            false
        });
        if still == Some(true) {
            srv.repl.waiting.push(token);
        }
    }
}

/// Once a cron tick: a `PING` into the stream every `repl-ping-replica-period`, replicas silent for
/// `repl-timeout` dropped, the backlog freed `repl-backlog-ttl` after the last replica left.
pub fn cron(srv: &mut Server, now: i64) {
    if srv.repl.is_replica() {
        return;
    }
    if !srv.repl.replicas.is_empty() {
        let period = srv.config.repl_ping_replica_period as i64 * 1000;
        if now - srv.repl.last_ping_ms >= period {
            srv.repl.last_ping_ms = now;
            super::append_stream(srv, b"*1\r\n$4\r\nPING\r\n");
        }
        let timeout = srv.config.repl_timeout as i64 * 1000;
        let silent: Vec<usize> = srv
            .repl
            .replicas
            .iter()
            .filter(|(_, r)| r.state == State::Online && now - r.ack_ms > timeout)
            .map(|(&t, _)| t)
            .collect();
        for t in silent {
            tracing::warn!("Disconnecting timedout replica (streaming sync)");
            srv.kills.push(t);
        }
    } else if srv.repl.backlog.is_some() && srv.repl.no_replicas_since != 0 {
        let ttl = srv.config.repl_backlog_ttl as i64 * 1000;
        if ttl > 0 && now - srv.repl.no_replicas_since > ttl {
            tracing::info!("Replication backlog freed after {} seconds without replicas.", ttl / 1000);
            srv.repl.backlog = None;
            srv.repl.shift_replid();
            update_feed(srv);
        }
    }
    if let Some(b) = srv.repl.backlog.as_mut() {
        if b.size() != srv.config.repl_backlog_size {
            b.resize(srv.config.repl_backlog_size);
        }
    }
}
