//! A connected client: its socket and input (owned by the event loop) and its state (what commands see).

use mio::net::TcpStream;
use slotkv_proto::{Args, Out};
use std::collections::BTreeSet;
use std::net::SocketAddr;

/// A transaction being queued (`MULTI` ... `EXEC`).
#[derive(Default, Debug)]
pub struct Multi {
    pub queued: Vec<Vec<Vec<u8>>>,
    /// A command was refused while queueing: `EXEC` answers `EXECABORT`.
    pub failed: bool,
}

/// What a blocked client waits for (see [`crate::blocking`]).
#[derive(Debug)]
pub struct Blocked {
    /// The command, run again when a key it waits on is written.
    pub argv: Vec<Vec<u8>>,
    pub keys: Vec<Vec<u8>>,
    /// Unix ms; 0 for never.
    pub deadline: i64,
    /// `WAIT`: the replication offset to be acknowledged, by how many replicas.
    pub wait: Option<(u64, usize)>,
}

/// Pub/sub subscriptions of a client.
#[derive(Default, Debug)]
pub struct Subscriptions {
    pub channels: BTreeSet<Vec<u8>>,
    pub patterns: BTreeSet<Vec<u8>>,
    pub shard_channels: BTreeSet<Vec<u8>>,
}

impl Subscriptions {
    /// Whether the client is in subscriber mode (in RESP2 it may then only (un)subscribe, ping, quit, reset).
    pub fn any(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty())
    }
}

/// What the event loop needs to move bytes.
pub struct Io {
    pub stream: TcpStream,
    /// Input that arrived but does not yet form a whole command (usually empty: complete commands are
    /// executed straight from the loop's shared read buffer).
    pub pending: Vec<u8>,
    /// The total `pending` must reach before parsing again is worth it.
    pub needed: usize,
    pub args: Args,
    /// Whether the socket is registered for writability (output is waiting).
    pub want_write: bool,
}

/// What commands read and change.
pub struct ClientState {
    pub id: u64,
    pub token: usize,
    /// The socket's file descriptor, for `CLIENT LIST`.
    pub fd: i32,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub authenticated: bool,
    /// Replies waiting to be written; `out.resp3` is the protocol chosen with `HELLO`.
    pub out: Out,
    /// Unix ms of connection and of the last command.
    pub created_ms: i64,
    pub last_ms: i64,
    /// Close once the replies so far are written (`QUIT`, protocol errors, `CLIENT KILL`).
    pub close_after_reply: bool,
    pub last_cmd: &'static str,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Bytes of input buffered, for `CLIENT LIST` (`qbuf`).
    pub qbuf: usize,
    pub multi: Option<Multi>,
    /// Running the commands of `EXEC`: blocking commands do not block.
    pub in_exec: bool,
    /// Watched keys, each with whether it existed when watched.
    pub watched: Vec<(Vec<u8>, bool)>,
    /// A watched key was changed: the next `EXEC` fails.
    pub watch_dirty: bool,
    pub blocked: Option<Blocked>,
    /// Set while a woken blocked command runs again; `block` then reports that it is still blocked
    /// through `still_blocked` instead of blocking anew.
    pub retrying: bool,
    pub still_blocked: bool,
    pub subs: Subscriptions,
    /// Since when (Unix ms) the output has been over the soft limit of its class; 0: it is not.
    pub soft_limit_since: i64,
    /// The change-feed position this client's output depends on: it is sent only once the AOF has that
    /// much written (or synced, with `appendfsync always`).
    pub hold: u64,
    /// `ASKING` was sent: the next command may use a slot being imported.
    pub asking: bool,
    /// `READONLY`: reads may be served by a replica (issue 11).
    pub readonly: bool,
    /// The client is a replica (it sent `PSYNC`): it gets the replication stream.
    pub is_replica: bool,
    /// What a replica said of itself with `REPLCONF listening-port` and `ip-address`.
    pub replica_port: u16,
    pub replica_ip: Option<String>,
}

impl ClientState {
    /// The AOF loader's client or the one applying a primary's stream: never redirected, refused or
    /// made to evict, as Redis's fake and master clients.
    pub fn is_internal(&self) -> bool {
        self.token == usize::MAX || self.token == crate::repl::PRIMARY_CLIENT
    }

    pub fn new(
        id: u64,
        token: usize,
        fd: i32,
        addr: SocketAddr,
        laddr: SocketAddr,
        now: i64,
        authenticated: bool,
    ) -> Self {
        ClientState {
            id,
            token,
            fd,
            addr,
            laddr,
            name: None,
            lib_name: None,
            lib_ver: None,
            authenticated,
            out: Out::new(false),
            created_ms: now,
            last_ms: now,
            close_after_reply: false,
            last_cmd: "NULL",
            no_evict: false,
            no_touch: false,
            qbuf: 0,
            multi: None,
            in_exec: false,
            watched: Vec::new(),
            watch_dirty: false,
            blocked: None,
            retrying: false,
            still_blocked: false,
            subs: Subscriptions::default(),
            soft_limit_since: 0,
            hold: 0,
            asking: false,
            readonly: false,
            is_replica: false,
            replica_port: 0,
            replica_ip: None,
        }
    }

    /// The `flags=` of `CLIENT LIST`: b blocked, P subscriber, x in MULTI, d watched key changed, N none.
    fn flags(&self) -> String {
        let mut f = String::new();
        if self.blocked.is_some() {
            f.push('b');
        }
        if self.watch_dirty {
            f.push('d');
        }
        if self.subs.any() {
            f.push('P');
        }
        if self.is_replica {
            f.push('S');
        }
        if self.multi.is_some() {
            f.push('x');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One `CLIENT LIST` / `CLIENT INFO` line, with Redis 7.2's fields.
    pub fn info_line(&self, now: i64) -> String {
        let lossy =
            |b: &Option<Vec<u8>>| b.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub={} psub={} ssub={} multi={} \
             qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r \
             cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            lossy(&self.name),
            (now - self.created_ms).max(0) / 1000,
            (now - self.last_ms).max(0) / 1000,
            self.flags(),
            self.subs.channels.len(),
            self.subs.patterns.len(),
            self.subs.shard_channels.len(),
            self.multi.as_ref().map_or(-1, |m| m.queued.len() as i64),
            self.qbuf,
            self.out.buf.len(),
            self.last_cmd,
            if self.out.resp3 { 3 } else { 2 },
            lossy(&self.lib_name),
            lossy(&self.lib_ver),
        )
    }
}

pub struct Client {
    pub io: Io,
    pub state: ClientState,
}
