//! One multiplexed, pipelined connection to one node, shared by every task: requests are queued to a
//! writer task that sends everything waiting in one write; a reader task matches replies to requests in
//! order. A broken connection fails every request in flight with [`Error::Io`]. The tasks and the
//! handshake are the connection core's (`core.rs`), shared with the router's raw connection; this file
//! says how a reply is kept (a parsed [`Frame`]) and that the writer yields once so tasks about to send
//! join its write.

use crate::cmd::Cmd;
use crate::core::{self, Batching, Handle, Replies};
use crate::error::{Error, Result};
use crate::reply::{unwrap_reply, FromReply};
use slotkv_proto::frame::{parse_frame, Frame, FrameLimits};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A batch of commands and where their replies go (the mock cluster answers these too).
pub(crate) type Request = core::Request<Vec<Frame>>;

/// Replies parsed into frames.
impl Replies for Vec<Frame> {
    type Reply = Frame;

    fn with_capacity(n: usize) -> Self {
        Vec::with_capacity(n)
    }

    fn cut(buf: &[u8]) -> Result<Option<(Frame, usize)>> {
        parse_frame(buf, &FrameLimits::default()).map_err(|e| Error::Protocol(format!("{e:?}")))
    }

    fn add(&mut self, reply: Frame, _bytes: &[u8]) {
        self.push(reply);
    }

    fn count(&self) -> usize {
        self.len()
    }
}

/// Options for [`Connection::connect_with`].
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `AUTH` (or `HELLO ... AUTH`) with this password (and user name).
    pub password: Option<String>,
    pub username: Option<String>,
    /// Speak RESP3 (`HELLO 3`).
    pub resp3: bool,
    /// Send `READONLY` once connected: a cluster replica then serves reads of its primary's slots on this
    /// connection (a primary ignores it). Every new connection sends it again, so it survives reconnects.
    pub readonly: bool,
}

/// A cheap handle: clone it into every task.
#[derive(Clone)]
pub struct Connection {
    handle: Handle<Vec<Frame>>,
    addr: Arc<str>,
}

impl Connection {
    /// Connects to `addr` (`host:port`).
    pub async fn connect(addr: &str) -> Result<Connection> {
        Connection::connect_with(addr, &ConnectOptions::default()).await
    }

    /// Connects, then authenticates and picks the protocol as `options` say.
    pub async fn connect_with(addr: &str, options: &ConnectOptions) -> Result<Connection> {
        let (stream, leftover) = core::connect(addr, options).await?;
        let (conn, rx) = Connection::channel(addr);
        core::start_tcp(stream, leftover, &conn.handle, rx, Batching::YieldOnce);
        Ok(conn)
    }

    /// A connection whose requests arrive on the returned receiver: the TCP connection's writer reads
    /// them, and so does the scripted mock cluster ([`crate::mock`]).
    pub(crate) fn channel(addr: &str) -> (Connection, mpsc::UnboundedReceiver<Request>) {
        let (handle, rx) = Handle::channel();
        (Connection { handle, addr: Arc::from(addr) }, rx)
    }

    /// Whether the connection has failed (every request on it now fails): make a new one.
    pub fn is_broken(&self) -> bool {
        self.handle.is_broken()
    }

    /// The address this connection was made to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends commands as one pipeline; their raw replies, in order (error replies included as frames).
    pub async fn send_raw(&self, cmds: &[Cmd]) -> Result<Vec<Frame>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let mut bytes = Vec::new();
        for c in cmds {
            c.encode(&mut bytes);
        }
        self.send_encoded(bytes, cmds.len()).await
    }

    /// Sends `replies` commands already encoded as RESP in `bytes`; their raw replies, in order.
    pub(crate) async fn send_encoded(&self, bytes: Vec<u8>, replies: usize) -> Result<Vec<Frame>> {
        self.handle.send(bytes, replies)?.await.map_err(|_| core::closed())?
    }

    /// Sends one command and converts its reply.
    pub async fn query<T: FromReply>(&self, c: &Cmd) -> Result<T> {
        let mut replies = self.send_raw(std::slice::from_ref(c)).await?;
        let frame = replies.pop().ok_or(Error::Protocol("no reply".into()))?;
        T::from_reply(frame)
    }

    /// Sends commands as one pipeline; each reply converted (or its own error).
    pub async fn pipeline<T: FromReply>(&self, cmds: &[Cmd]) -> Result<Vec<Result<T>>> {
        let replies = self.send_raw(cmds).await?;
        Ok(replies.into_iter().map(|f| unwrap_reply(f).and_then(T::from_reply)).collect())
    }
}
