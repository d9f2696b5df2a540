//! Replication: a replica keeps a copy of its primary, first by a full copy (a snapshot streamed over the
//! link), then by applying the primary's stream of writes, numbered by a replication id and offset. A
//! backlog of the stream's newest bytes lets a replica that lost its link briefly resume where it stopped
//! (`PSYNC` answered `+CONTINUE`) instead of taking a full copy again.
//!
//! - [`backlog`]: the ring of the stream's newest bytes.
//! - [`primary`]: the primary's side: replicas, full copies (a forkless capture sent straight to the
//!   sockets, no file), the stream, `WAIT`.
//! - [`link`]: the replica's side: a thread that connects, shakes hands, loads the full copy into a new
//!   keyspace (the old one keeps serving meanwhile) and reads the stream; the event loop applies it.
//!
//! The stream is the change feed ([`crate::propagate`]): what the AOF gets, the replicas get, byte for
//! byte. A replica passes the stream it applies on unchanged (to its own backlog and replicas), so its
//! offset is its primary's, and after a failover the other replicas resume from the promoted one.
//!
//! A replica never expires keys itself (as in Redis): its clients see a key past its time as missing, but
//! the key stays until the primary's `DEL` arrives, so the copy never runs ahead of the primary.

pub mod backlog;
pub mod link;
pub mod primary;

use crate::client::ClientState;
use crate::error::{CmdError, CmdResult};
use crate::server::{Ctx, Server};
use backlog::Backlog;
use std::collections::BTreeMap;

/// The token of the client that applies the primary's stream on a replica.
pub const PRIMARY_CLIENT: usize = usize::MAX - 2;

pub const READONLY_ERR: &str = "READONLY You can't write against a read only replica.";
pub const NOREPLICAS_ERR: &str = "NOREPLICAS Not enough good replicas to write.";

/// A new replication id: 40 hex digits.
pub fn new_replid() -> String {
    (0..40).map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0')).collect()
}

/// The replication state of the node, as a primary and (with [`Replication::link`]) as a replica.
pub struct Replication {
    pub replid: String,
    /// The id this node's history had before its last change of primary, and the first offset that is
    /// not part of it: a replica of the old history may still resume up to there.
    pub replid2: String,
    pub second_offset: i64,
    /// `master_repl_offset`: the number of the last stream byte this node has.
    pub offset: u64,
    pub backlog: Option<Backlog>,
    /// When the last replica left (Unix ms), for `repl-backlog-ttl`.
    pub no_replicas_since: i64,
    /// Connected replicas by client token.
    pub replicas: BTreeMap<usize, primary::Replica>,
    /// The full copy being sent, if any.
    pub sync: Option<primary::Sync>,
    /// Clients blocked in `WAIT`.
    pub waiting: Vec<usize>,
    /// A `REPLCONF GETACK` is due at the end of this tick (a `WAIT` is waiting).
    pub getack_due: bool,
    pub last_ping_ms: i64,
    /// The link to this node's primary: `Some` on a replica.
    pub link: Option<link::Link>,
    pub full_syncs: u64,
    pub partial_syncs_ok: u64,
    pub partial_syncs_err: u64,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            replid: new_replid(),
            replid2: "0".repeat(40),
            second_offset: -1,
            offset: 0,
            backlog: None,
            no_replicas_since: 0,
            replicas: BTreeMap::new(),
            sync: None,
            waiting: Vec::new(),
            getack_due: false,
            last_ping_ms: 0,
            link: None,
            full_syncs: 0,
            partial_syncs_ok: 0,
            partial_syncs_err: 0,
        }
    }
}

impl Replication {
    pub fn is_replica(&self) -> bool {
        self.link.is_some()
    }

    /// Appends stream bytes this node has: to the backlog, to every online replica, and to the tail of a
    /// full copy being sent. Returns the tokens whose output grew.
    pub fn append(&mut self, bytes: &[u8], out: &mut dyn FnMut(usize, &[u8])) {
        if bytes.is_empty() || self.backlog.is_none() {
            return;
        }
        self.offset += bytes.len() as u64;
        if let Some(b) = self.backlog.as_mut() {
            b.append(bytes);
        }
        for (&token, r) in &self.replicas {
            if r.state == primary::State::Online {
                out(token, bytes);
            }
        }
        if let Some(sync) = self.sync.as_mut() {
            sync.tail.extend_from_slice(bytes);
        }
    }

    /// Forgets the old history: a new id, the old one kept as `replid2` for replicas that followed it.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, new_replid());
        self.second_offset = self.offset as i64 + 1;
    }
}

/// What a snapshot keeps of replication: a replica's id and offset, so that after a restart from it the
/// replica resumes from its primary's backlog. (A primary's are not kept: writes it took after the snapshot
/// would be lost in a restart, and its numbering of later bytes could then differ from what its replicas
/// already have.)
pub fn snapshot_info(srv: &Server) -> Option<(String, u64)> {
    srv.repl.link.as_ref().filter(|l| l.state == link::State::Connected)?;
    Some((srv.repl.replid.clone(), srv.repl.offset))
}

/// After start-up loading: a node that starts as a replica takes the id and offset its snapshot kept, so its
/// first `PSYNC` may resume instead of copying everything again.
pub fn restore_after_load(srv: &mut Server, repl: Option<(String, u64)>) {
    let replica = match &srv.cluster {
        Some(c) => crate::cluster::failover::my_master(c).is_some(),
        None => srv.config.replicaof.is_some(),
    };
    if let Some((id, offset)) = repl.filter(|_| replica) {
        tracing::info!("Replication id {id} and offset {offset} restored from the snapshot");
        srv.repl.replid = id;
        srv.repl.offset = offset;
    }
}

/// Whether the change feed must be collected: for the AOF, or for replicas of this (primary) node.
pub fn update_feed(srv: &mut Server) {
    let on = srv.persist.aof.is_some() || (srv.repl.backlog.is_some() && !srv.repl.is_replica());
    srv.feed.on = on;
    srv.db.log_expired = on;
}

/// Stream bytes written outside the feed's batches (`PING`, `REPLCONF GETACK`, a replica passing its
/// primary's stream on): to the backlog and the replicas, waking them.
pub fn append_stream(srv: &mut Server, bytes: &[u8]) {
    let Server { repl, clients, wake, .. } = srv;
    repl.append(bytes, &mut |token, b| {
        if let Some(Some(c)) = clients.get_mut(token) {
            c.state.out.buf.extend_from_slice(b);
            wake.push(token);
        }
    });
}

/// A batch of the change feed (the tick's writes): a primary streams it; a replica's stream is its
/// primary's, passed on as it is applied.
pub fn feed(srv: &mut Server, batch: &[u8]) {
    if !srv.repl.is_replica() {
        append_stream(srv, batch);
    }
}

/// What the event loop does after every tick: moves a full copy on, sends a due `GETACK`.
pub fn end_of_tick(srv: &mut Server, now: i64) {
    primary::step_sync(srv, now);
    if srv.repl.getack_due {
        srv.repl.getack_due = false;
        append_stream(srv, b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
    }
}

/// How soon the loop must come back for replication work.
pub fn next_step_in(srv: &Server, now: i64) -> Option<std::time::Duration> {
    primary::next_step_in(srv, now)
}

/// Once a tick of the cron: pings and acknowledgements, timeouts, `WAIT` deadlines, the backlog's TTL.
pub fn cron(srv: &mut Server, now: i64) {
    link::cron(srv, now);
    primary::cron(srv, now);
}

/// A client went away: if it was a replica, it is one no more.
pub fn forget_client(srv: &mut Server, token: usize) {
    primary::forget_replica(srv, token);
    srv.repl.waiting.retain(|&t| t != token);
}

/// The check before a write: a read-only replica refuses clients' writes; a primary with
/// `min-replicas-to-write` refuses them without enough replicas that acknowledged lately.
pub fn deny_write(srv: &Server, me: &ClientState) -> Option<CmdError> {
    if me.token == PRIMARY_CLIENT || me.token == usize::MAX {
        return None;
    }
    if srv.repl.is_replica() {
        return srv.config.replica_read_only.then_some(CmdError::Static(READONLY_ERR));
    }
    let min = srv.config.min_replicas_to_write;
    if min > 0 && primary::good_replicas(srv) < min {
        return Some(CmdError::Static(NOREPLICAS_ERR));
    }
    None
}

// ---- commands ----

fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

/// `REPLICAOF host port` / `REPLICAOF NO ONE` (and `SLAVEOF`).
pub fn replicaof(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if ctx.srv.cluster.is_some() {
        return Err(CmdError::Static("ERR REPLICAOF not allowed in cluster mode."));
    }
    let host = a.get(1).copied().unwrap_or_default();
    let port = a.get(2).copied().unwrap_or_default();
    if is(host, "no") && is(port, "one") {
        if ctx.srv.repl.is_replica() {
            link::promote(ctx.srv, ctx.now);
            tracing::info!("MASTER MODE enabled (user request from 'id={} addr={}')", ctx.me.id, ctx.me.addr);
        }
        ctx.me.out.ok();
        return Ok(());
    }
    let port: u16 = std::str::from_utf8(port)
        .ok()
        .and_then(|p| p.parse::<i64>().ok())
        .and_then(|p| u16::try_from(p).ok())
        .ok_or(CmdError::Static("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(host).into_owned();
    if ctx.srv.repl.link.as_ref().is_some_and(|l| l.host == host && l.port == port) {
        ctx.me.out.simple("OK Already connected to specified master");
        return Ok(());
    }
    link::follow(ctx.srv, host.clone(), port, ctx.now);
    tracing::info!(
        "REPLICAOF {host}:{port} enabled (user request from 'id={} addr={}')",
        ctx.me.id,
        ctx.me.addr
    );
    ctx.me.out.ok();
    Ok(())
}

/// `ROLE`.
pub fn role(ctx: &mut Ctx) -> CmdResult {
    let srv = &*ctx.srv;
    let out = &mut ctx.me.out;
    match &srv.repl.link {
        Some(l) => {
            out.array(5);
            out.bulk(b"slave");
            out.bulk(l.host.as_bytes());
            out.int(l.port as i64);
            out.bulk(l.state.role_name().as_bytes());
            out.int(if l.state == link::State::Connected { srv.repl.offset as i64 } else { -1 });
        }
        None => {
            out.array(3);
            out.bulk(b"master");
            out.int(srv.repl.offset as i64);
            let online: Vec<_> =
                srv.repl.replicas.values().filter(|r| r.state == primary::State::Online).collect();
            out.array(online.len());
            for r in online {
                out.array(3);
                out.bulk(r.ip.as_bytes());
                out.bulk(r.port.to_string().as_bytes());
                out.bulk(r.ack_offset.to_string().as_bytes());
            }
        }
    }
    Ok(())
}

/// `INFO replication`.
pub fn info(srv: &Server, now: i64, out: &mut String) {
    use std::fmt::Write;
    let r = &srv.repl;
    match &r.link {
        Some(l) => {
            let _ = writeln!(out, "role:slave\r");
            let _ = writeln!(out, "master_host:{}\r", l.host);
            let _ = writeln!(out, "master_port:{}\r", l.port);
            let up = l.state == link::State::Connected;
            let _ = writeln!(out, "master_link_status:{}\r", if up { "up" } else { "down" });
            let io_ago = if l.last_io_ms == 0 { -1 } else { (now - l.last_io_ms) / 1000 };
            let _ = writeln!(out, "master_last_io_seconds_ago:{io_ago}\r");
            let syncing = l.state == link::State::Transfer;
            let _ = writeln!(out, "master_sync_in_progress:{}\r", u8::from(syncing));
            let _ = writeln!(out, "slave_read_repl_offset:{}\r", r.offset);
            let _ = writeln!(out, "slave_repl_offset:{}\r", r.offset);
            if syncing {
                let read = l.sync_read_bytes();
                let _ = writeln!(out, "master_sync_total_bytes:-1\r");
                let _ = writeln!(out, "master_sync_read_bytes:{read}\r");
                let _ = writeln!(out, "master_sync_left_bytes:-1\r");
                let _ = writeln!(out, "master_sync_perc:-0.00\r");
                let _ = writeln!(out, "master_sync_last_io_seconds_ago:{}\r", io_ago.max(0));
            }
            if !up {
                let since = if l.down_since_ms == 0 { -1 } else { (now - l.down_since_ms) / 1000 };
                let _ = writeln!(out, "master_link_down_since_seconds:{since}\r");
            }
            let _ = writeln!(out, "slave_priority:{}\r", srv.config.replica_priority);
            let _ = writeln!(out, "slave_read_only:{}\r", u8::from(srv.config.replica_read_only));
            let _ = writeln!(out, "replica_announced:1\r");
        }
        None => {
            let _ = writeln!(out, "role:master\r");
        }
    }
    let _ = writeln!(out, "connected_slaves:{}\r", r.replicas.len());
    if r.link.is_none() && srv.config.min_replicas_to_write > 0 {
        let _ = writeln!(out, "min_slaves_good_slaves:{}\r", primary::good_replicas(srv));
    }
    for (i, rep) in r.replicas.values().enumerate() {
        let lag = if rep.ack_ms == 0 { 0 } else { (now - rep.ack_ms) / 1000 };
        let _ = writeln!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={lag}\r",
            rep.ip,
            rep.port,
            rep.state.info_name(),
            rep.ack_offset
        );
    }
    let _ = writeln!(out, "master_failover_state:no-failover\r");
    let _ = writeln!(out, "master_replid:{}\r", r.replid);
    let _ = writeln!(out, "master_replid2:{}\r", r.replid2);
    let _ = writeln!(out, "master_repl_offset:{}\r", r.offset);
    let _ = writeln!(out, "second_repl_offset:{}\r", r.second_offset);
    let (active, first, hist) = match &r.backlog {
        Some(b) => (1, b.first_offset(), b.histlen()),
        None => (0, 0, 0),
    };
    let _ = writeln!(out, "repl_backlog_active:{active}\r");
    let _ = writeln!(out, "repl_backlog_size:{}\r", srv.config.repl_backlog_size);
    let _ = writeln!(out, "repl_backlog_first_byte_offset:{first}\r");
    let _ = writeln!(out, "repl_backlog_histlen:{hist}\r");
}

/// The `INFO stats` lines about synchronisations.
pub fn info_stats(srv: &Server, out: &mut String) {
    use std::fmt::Write;
    let r = &srv.repl;
    let _ = writeln!(out, "sync_full:{}\r", r.full_syncs);
    let _ = writeln!(out, "sync_partial_ok:{}\r", r.partial_syncs_ok);
    let _ = writeln!(out, "sync_partial_err:{}\r", r.partial_syncs_err);
}

/// `REPLCONF option value ...`: a replica's handshake and acknowledgements.
pub fn replconf(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut i = 1;
    while let (Some(opt), Some(value)) = (a.get(i), a.get(i + 1)) {
        let text = std::str::from_utf8(value).unwrap_or_default();
        if is(opt, "listening-port") {
            let port = text
                .parse::<u16>()
                .map_err(|_| CmdError::Static("ERR value is not an integer or out of range"))?;
            ctx.me.replica_port = port;
        } else if is(opt, "ip-address") {
            ctx.me.replica_ip = Some(text.to_string());
        } else if is(opt, "capa") || is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
        } else if is(opt, "ack") || is(opt, "fack") {
            // An acknowledgement gets no reply.
            if let Ok(offset) = text.parse::<u64>() {
                primary::ack(ctx.srv, ctx.me.token, offset, ctx.now);
            }
            return Ok(());
        } else if is(opt, "getack") {
            // Only a primary asks its replica for an acknowledgement (see `link`); from anyone else it is
            // ignored.
            return Ok(());
        } else {
            return Err(CmdError::Msg(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        }
        i += 2;
    }
    ctx.me.out.ok();
    Ok(())
}

/// `PSYNC replid offset` (and `SYNC`): makes the client a replica, resuming from the backlog when it can.
pub fn psync(ctx: &mut Ctx, a: &[&[u8]], old_sync: bool) -> CmdResult {
    if ctx.me.is_replica {
        return Ok(());
    }
    if let Some(l) = &ctx.srv.repl.link {
        if l.state != link::State::Connected {
            return Err(CmdError::Static("NOMASTERLINK Can't SYNC while not connected with my master"));
        }
    }
    let replid = a.get(1).copied().unwrap_or(b"?");
    let from = a.get(2).and_then(|o| std::str::from_utf8(o).ok()).and_then(|o| o.parse::<i64>().ok());
    primary::attach(ctx, replid, from.unwrap_or(-1), old_sync);
    Ok(())
}

/// `WAIT numreplicas timeout`.
pub fn wait(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if ctx.srv.repl.is_replica() {
        return Err(CmdError::Static("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let num =
        |i: usize| a.get(i).and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.parse::<i64>().ok());
    let wanted = num(1).ok_or(CmdError::NotInteger)?;
    let timeout = num(2).ok_or(CmdError::Static("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    primary::wait(ctx, wanted.max(0) as usize, timeout)
}
