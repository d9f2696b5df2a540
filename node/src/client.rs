//! A connected client: its socket and input (owned by the event loop) and its state (what commands see).

use mio::net::TcpStream;
use slotkv_proto::{Args, Out};
use std::net::SocketAddr;

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
}

impl ClientState {
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
        }
    }

    /// One `CLIENT LIST` / `CLIENT INFO` line, with Redis 7.2's fields.
    pub fn info_line(&self, now: i64) -> String {
        let lossy =
            |b: &Option<Vec<u8>>| b.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 \
             qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r \
             cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            lossy(&self.name),
            (now - self.created_ms).max(0) / 1000,
            (now - self.last_ms).max(0) / 1000,
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
