//! One multiplexed, pipelined connection to one node, shared by every task: requests are queued to a
//! writer task that sends everything waiting in one write; a reader task matches replies to requests in
//! order. A broken connection fails every request in flight with [`Error::Io`].

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::reply::{unwrap_reply, FromReply};
use slotkv_proto::frame::{parse_frame, Frame, FrameLimits};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// A batch of commands and where their replies go.
pub(crate) struct Request {
    pub(crate) bytes: Vec<u8>,
    pub(crate) replies: usize,
    pub(crate) done: oneshot::Sender<Result<Vec<Frame>>>,
}

/// The replies a request still waits for.
struct Pending {
    replies: usize,
    got: Vec<Frame>,
    done: oneshot::Sender<Result<Vec<Frame>>>,
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
    pub(crate) tx: mpsc::UnboundedSender<Request>,
    pub(crate) addr: Arc<str>,
    /// Set once the connection has failed: a handle kept in a cache is then replaced, not reused.
    broken: Arc<AtomicBool>,
}

impl Connection {
    /// Connects to `addr` (`host:port`).
    pub async fn connect(addr: &str) -> Result<Connection> {
        Connection::connect_with(addr, &ConnectOptions::default()).await
    }

    /// Connects, then authenticates and picks the protocol as `options` say.
    pub async fn connect_with(addr: &str, options: &ConnectOptions) -> Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        let (conn, mut rx) = Connection::channel(addr);
        let (pending_tx, mut pending_rx) = mpsc::unbounded_channel::<Pending>();
        let broken = Arc::clone(&conn.broken);
        tokio::spawn(async move {
            let mut buf = Vec::new();
            while let Some(first) = rx.recv().await {
                buf.clear();
                let mut next = Some(first);
                let mut yielded = false;
                loop {
                    // Everything already queued goes out in this one write.
                    while let Some(req) = next {
                        buf.extend_from_slice(&req.bytes);
                        let pending = Pending {
                            replies: req.replies,
                            got: Vec::with_capacity(req.replies),
                            done: req.done,
                        };
                        if pending_tx.send(pending).is_err() {
                            return;
                        }
                        next = rx.try_recv().ok();
                    }
                    // Tasks about to send get one turn first, so that their commands join this write:
                    // one system call (and one read on the node) for many commands, not one each.
                    if yielded {
                        break;
                    }
                    yielded = true;
                    tokio::task::yield_now().await;
                    next = rx.try_recv().ok();
                    if next.is_none() {
                        break;
                    }
                }
                if write.write_all(&buf).await.is_err() {
                    broken.store(true, Ordering::Relaxed);
                    return;
                }
            }
        });
        let broken = Arc::clone(&conn.broken);
        tokio::spawn(async move {
            let limits = FrameLimits::default();
            let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
            let mut waiting: VecDeque<Pending> = VecDeque::new();
            let mut chunk = vec![0u8; 64 * 1024];
            let failure = loop {
                let n = match read.read(&mut chunk).await {
                    Ok(0) => break Error::Io("connection closed by the server".into()),
                    Ok(n) => n,
                    Err(e) => break Error::from(e),
                };
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                let mut used = 0;
                let mut bad = None;
                loop {
                    match parse_frame(buf.get(used..).unwrap_or_default(), &limits) {
                        Ok(Some((frame, len))) => {
                            used += len;
                            // Out-of-band messages (pub/sub, invalidation) are not replies.
                            if matches!(frame, Frame::Push(_)) {
                                continue;
                            }
                            while waiting.is_empty() {
                                match pending_rx.try_recv() {
                                    Ok(p) => waiting.push_back(p),
                                    Err(_) => break,
                                }
                            }
                            let Some(front) = waiting.front_mut() else {
                                bad = Some(Error::Protocol("a reply nobody asked for".into()));
                                break;
                            };
                            front.got.push(frame);
                            if front.got.len() == front.replies {
                                if let Some(p) = waiting.pop_front() {
                                    let _ = p.done.send(Ok(p.got));
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            bad = Some(Error::Protocol(format!("{e:?}")));
                            break;
                        }
                    }
                }
                buf.drain(..used.min(buf.len()));
                if let Some(e) = bad {
                    break e;
                }
            };
            broken.store(true, Ordering::Relaxed);
            while let Ok(p) = pending_rx.try_recv() {
                waiting.push_back(p);
            }
            for p in waiting {
                let _ = p.done.send(Err(failure.clone()));
            }
        });
        if options.resp3 || options.password.is_some() {
            let mut hello = crate::cmd::cmd("HELLO").arg(if options.resp3 { "3" } else { "2" });
            if let Some(pw) = &options.password {
                hello =
                    hello.arg("AUTH").arg(options.username.as_deref().unwrap_or("default")).arg(pw.as_str());
            }
            conn.query::<Frame>(&hello).await?;
        }
        if options.readonly {
            conn.query::<Frame>(&crate::cmd::cmd("READONLY")).await?;
        }
        Ok(conn)
    }

    /// A connection whose requests arrive on the returned receiver: the TCP connection's writer reads
    /// them, and so does the scripted mock cluster ([`crate::mock`]).
    pub(crate) fn channel(addr: &str) -> (Connection, mpsc::UnboundedReceiver<Request>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Connection { tx, addr: Arc::from(addr), broken: Arc::new(AtomicBool::new(false)) }, rx)
    }

    /// Whether the connection has failed (every request on it now fails): make a new one.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed) || self.tx.is_closed()
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
        let (done, wait) = oneshot::channel();
        self.tx.send(Request { bytes, replies, done }).map_err(|_| Error::Io("connection closed".into()))?;
        wait.await.map_err(|_| Error::Io("connection closed".into()))?
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
