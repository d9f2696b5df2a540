//! The connection core under [`Connection`](crate::Connection) and [`RawConnection`](crate::raw::RawConnection):
//! one TCP connection shared by every task, written once here and generic over how a reply is kept
//! ([`Replies`]: parsed [`Frame`](slotkv_proto::Frame)s, or the node's bytes).
//!
//! - [`connect`]: the TCP connection and the handshake the options ask for (`HELLO`, `AUTH`, `READONLY`),
//!   done on the bare socket before any request.
//! - [`start`]: a writer task drains the request queue and sends everything waiting in one write; a reader
//!   task cuts replies from what it reads and hands them out, in order, to the requests that were written.
//!   Out-of-band pushes (RESP3 `>` frames) are skipped: a shared connection never subscribes. When the
//!   connection breaks, every request in flight fails with the same error and the handle says it is broken.
//!
//! Invariant: the writer queues a request's [`Pending`] before writing its bytes, so the reader always
//! knows who a reply belongs to by the time it arrives.

use crate::conn::ConnectOptions;
use crate::error::{Error, Result};
use crate::raw::frame_len;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// How one request's replies are gathered from the stream.
pub(crate) trait Replies: Sized + Send + 'static {
    /// What [`Replies::cut`] makes of one frame before it is added.
    type Reply: Send;

    /// Room for `n` replies.
    fn with_capacity(n: usize) -> Self;

    /// The whole frame at the start of `buf` and its length in bytes: `Ok(None)` until all of it has arrived.
    fn cut(buf: &[u8]) -> Result<Option<(Self::Reply, usize)>>;

    /// Adds a reply; `bytes` is its frame as the server sent it.
    fn add(&mut self, reply: Self::Reply, bytes: &[u8]);

    /// How many replies are in.
    fn count(&self) -> usize;
}

/// A batch of commands already encoded as RESP, and where their replies go.
pub(crate) struct Request<R> {
    pub(crate) bytes: Vec<u8>,
    pub(crate) replies: usize,
    pub(crate) done: oneshot::Sender<Result<R>>,
}

/// A request written to the socket, waiting for its replies.
struct Pending<R> {
    replies: usize,
    got: R,
    done: oneshot::Sender<Result<R>>,
}

/// How the writer gathers queued requests into one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Batching {
    /// Give other tasks one turn before writing, so that commands about to be sent join the write: one
    /// system call (and one read on the node) for many commands. For clients on a multi-thread runtime.
    YieldOnce,
    /// Write what is queued now. For the router, whose current-thread workers rely on the order of their
    /// tasks (a yield would put this write behind every task that is ready).
    Queued,
}

/// The sending side of a connection: cheap to clone.
pub(crate) struct Handle<R> {
    tx: mpsc::UnboundedSender<Request<R>>,
    /// Set once the connection has failed, so a cached handle is replaced rather than reused.
    broken: Arc<AtomicBool>,
}

impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle { tx: self.tx.clone(), broken: Arc::clone(&self.broken) }
    }
}

impl<R: Replies> Handle<R> {
    /// A handle and the queue its requests arrive on.
    pub(crate) fn channel() -> (Handle<R>, mpsc::UnboundedReceiver<Request<R>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Handle { tx, broken: Arc::new(AtomicBool::new(false)) }, rx)
    }

    /// Queues `replies` commands encoded in `bytes`; the receiver resolves to their replies.
    pub(crate) fn send(&self, bytes: Vec<u8>, replies: usize) -> Result<oneshot::Receiver<Result<R>>> {
        let (done, wait) = oneshot::channel();
        // Nothing to wait for: answered here, or the reader would hand it the next request's reply.
        if replies == 0 {
            let _ = done.send(Ok(R::with_capacity(0)));
            return Ok(wait);
        }
        self.tx.send(Request { bytes, replies, done }).map_err(|_| closed())?;
        Ok(wait)
    }

    /// Whether the connection has failed: every request on it now fails.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed) || self.tx.is_closed()
    }
}

/// The error a request gets when its connection went away before it could say more.
pub(crate) fn closed() -> Error {
    Error::Io("connection closed".into())
}

/// Connects to `addr` and performs the handshake `options` ask for, all commands in one write; the first
/// error reply fails the connection. Returns the socket and any bytes read past the handshake's replies.
pub(crate) async fn connect(addr: &str, options: &ConnectOptions) -> Result<(TcpStream, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    let mut handshake = Vec::new();
    if options.resp3 || options.password.is_some() {
        let mut hello = crate::cmd::cmd("HELLO").arg(if options.resp3 { "3" } else { "2" });
        if let Some(pw) = &options.password {
            hello = hello.arg("AUTH").arg(options.username.as_deref().unwrap_or("default")).arg(pw.as_str());
        }
        handshake.push(hello);
    }
    if options.readonly {
        handshake.push(crate::cmd::cmd("READONLY"));
    }
    let mut buf = Vec::with_capacity(16 * 1024);
    if handshake.is_empty() {
        return Ok((stream, buf));
    }
    let mut bytes = Vec::new();
    for c in &handshake {
        c.encode(&mut bytes);
    }
    stream.write_all(&bytes).await?;
    let mut failed = None;
    for _ in &handshake {
        let len = loop {
            if let Some(len) = frame_len(&buf)? {
                break len;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(Error::Io("connection closed by the server".into()));
            }
        };
        if buf.first() == Some(&b'-') && failed.is_none() {
            failed = Some(Error::server(buf.get(1..len.saturating_sub(2)).unwrap_or_default()));
        }
        buf.drain(..len);
    }
    match failed {
        Some(e) => Err(e),
        None => Ok((stream, buf)),
    }
}

/// Spawns the writer and reader tasks of one connection: requests from `requests` go out on `write`,
/// replies are read from `read` (after `leftover`, bytes already read). `broken` is set when either ends.
pub(crate) fn start<R, Rd, Wr>(
    read: Rd,
    write: Wr,
    leftover: Vec<u8>,
    requests: mpsc::UnboundedReceiver<Request<R>>,
    broken: Arc<AtomicBool>,
    batching: Batching,
) where
    R: Replies,
    Rd: AsyncRead + Unpin + Send + 'static,
    Wr: AsyncWrite + Unpin + Send + 'static,
{
    let (pending_tx, pending_rx) = mpsc::unbounded_channel();
    let writer_broken = Arc::clone(&broken);
    tokio::spawn(async move {
        write_loop(write, requests, pending_tx, batching).await;
        writer_broken.store(true, Ordering::Relaxed);
    });
    tokio::spawn(async move {
        read_loop(read, leftover, pending_rx, &broken).await;
    });
}

/// Starts a connection made by [`connect`] for the handle's queue.
pub(crate) fn start_tcp<R: Replies>(
    stream: TcpStream,
    leftover: Vec<u8>,
    handle: &Handle<R>,
    requests: mpsc::UnboundedReceiver<Request<R>>,
    batching: Batching,
) {
    let (read, write) = stream.into_split();
    start(read, write, leftover, requests, Arc::clone(&handle.broken), batching);
}

/// Sends everything queued in one write, until the queue closes, the reader is gone or a write fails.
async fn write_loop<R: Replies, Wr: AsyncWrite + Unpin>(
    mut write: Wr,
    mut requests: mpsc::UnboundedReceiver<Request<R>>,
    pending: mpsc::UnboundedSender<Pending<R>>,
    batching: Batching,
) {
    while let Some(first) = requests.recv().await {
        let mut buf = Vec::new();
        let mut next = Some(first);
        let mut yielded = batching == Batching::Queued;
        loop {
            while let Some(req) = next {
                if buf.is_empty() {
                    // A request alone is written from its own buffer, not copied.
                    buf = req.bytes;
                } else {
                    buf.extend_from_slice(&req.bytes);
                }
                let got = R::with_capacity(req.replies);
                if pending.send(Pending { replies: req.replies, got, done: req.done }).is_err() {
                    return;
                }
                next = requests.try_recv().ok();
            }
            if yielded {
                break;
            }
            yielded = true;
            tokio::task::yield_now().await;
            next = requests.try_recv().ok();
            if next.is_none() {
                break;
            }
        }
        if write.write_all(&buf).await.is_err() {
            return;
        }
    }
}

/// Hands each reply to the oldest request still waiting; when the connection breaks, fails every request
/// in flight with the same error.
async fn read_loop<R: Replies, Rd: AsyncRead + Unpin>(
    mut read: Rd,
    mut buf: Vec<u8>,
    mut pending: mpsc::UnboundedReceiver<Pending<R>>,
    broken: &AtomicBool,
) {
    let mut waiting: VecDeque<Pending<R>> = VecDeque::new();
    let failure = 'conn: loop {
        let mut used = 0;
        loop {
            let rest = buf.get(used..).unwrap_or_default();
            let (reply, len) = match R::cut(rest) {
                Ok(Some(cut)) => cut,
                Ok(None) => break,
                Err(e) => break 'conn e,
            };
            let bytes = rest.get(..len).unwrap_or_default();
            used += len;
            // Out-of-band messages (pub/sub, invalidation) are not replies.
            if bytes.first() == Some(&b'>') {
                continue;
            }
            while waiting.is_empty() {
                match pending.try_recv() {
                    Ok(p) => waiting.push_back(p),
                    Err(_) => break,
                }
            }
            let Some(front) = waiting.front_mut() else {
                break 'conn Error::Protocol("a reply nobody asked for".into());
            };
            front.got.add(reply, bytes);
            if front.got.count() >= front.replies {
                if let Some(p) = waiting.pop_front() {
                    let _ = p.done.send(Ok(p.got));
                }
            }
        }
        buf.drain(..used.min(buf.len()));
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        match read.read_buf(&mut buf).await {
            Ok(0) => break Error::Io("connection closed by the server".into()),
            Ok(_) => {}
            Err(e) => break Error::from(e),
        }
    };
    broken.store(true, Ordering::Relaxed);
    // Closed first, so the writer queues nothing after the last of it is taken here.
    pending.close();
    while let Ok(p) = pending.try_recv() {
        waiting.push_back(p);
    }
    for p in waiting {
        let _ = p.done.send(Err(failure.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::RawReplies;
    use slotkv_proto::frame::Frame;
    use std::pin::Pin;
    use std::task::{ready, Context, Poll};
    use tokio::io::{AsyncReadExt, ReadBuf};

    /// A socket's read half that returns exactly the chunks it is given, one a read; EOF once the sender
    /// is dropped.
    struct Chunks {
        rx: mpsc::UnboundedReceiver<Vec<u8>>,
        rest: Vec<u8>,
    }

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.rest.is_empty() {
                match ready!(self.rx.poll_recv(cx)) {
                    Some(chunk) => self.rest = chunk,
                    None => return Poll::Ready(Ok(())),
                }
            }
            let n = self.rest.len().min(buf.remaining());
            buf.put_slice(&self.rest[..n]);
            self.rest.drain(..n);
            Poll::Ready(Ok(()))
        }
    }

    const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

    /// A connection over test halves: the server's bytes arrive as `Chunks`, what the client writes can
    /// be read from the returned duplex end.
    struct Harness<R> {
        handle: Handle<R>,
        server: mpsc::UnboundedSender<Vec<u8>>,
        written: tokio::io::DuplexStream,
    }

    fn harness<R: Replies>() -> Harness<R> {
        let (handle, requests) = Handle::channel();
        let (server, rx) = mpsc::unbounded_channel();
        let (write, written) = tokio::io::duplex(1 << 20);
        let read = Chunks { rx, rest: Vec::new() };
        start(read, write, Vec::new(), requests, Arc::clone(&handle.broken), Batching::Queued);
        Harness { handle, server, written }
    }

    impl<R: Replies> Harness<R> {
        /// Sends requests of `counts[i]` PINGs each and waits until the server side has read all of them
        /// (so every request is queued for its replies before any reply arrives).
        async fn send(&mut self, counts: &[usize]) -> Vec<oneshot::Receiver<Result<R>>> {
            let waits: Vec<_> = counts
                .iter()
                .map(|&n| self.handle.send(PING.repeat(n), n).unwrap_or_else(|e| panic!("send: {e}")))
                .collect();
            let mut got = vec![0u8; PING.len() * counts.iter().sum::<usize>()];
            self.written.read_exact(&mut got).await.unwrap_or_else(|e| panic!("read requests: {e}"));
            waits
        }
    }

    /// What the server sends for requests of 2, 1 and 3 replies, with pushes in between (one before
    /// anything was asked for), and the replies each request should get.
    const STREAM: &[u8] = b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n+OK\r\n:1\r\n$3\r\nabc\r\n\
        >3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n%1\r\n+k\r\n+v\r\n";
    const EXPECTED: [&[&[u8]]; 3] = [
        &[b"+OK\r\n", b":1\r\n"],
        &[b"$3\r\nabc\r\n"],
        &[b"*2\r\n:1\r\n$-1\r\n", b"-ERR x\r\n", b"%1\r\n+k\r\n+v\r\n"],
    ];

    /// Runs the stream through a connection in `chunks`; the replies each request got.
    async fn replies<R: Replies>(chunks: Vec<Vec<u8>>) -> Vec<R> {
        let mut h = harness::<R>();
        let waits = h.send(&[2, 1, 3]).await;
        for chunk in chunks {
            h.server.send(chunk).unwrap_or_else(|e| panic!("feed: {e}"));
        }
        let mut out = Vec::new();
        for wait in waits {
            out.push(
                wait.await
                    .unwrap_or_else(|e| panic!("dropped: {e}"))
                    .unwrap_or_else(|e| panic!("failed: {e}")),
            );
        }
        assert!(!h.handle.is_broken());
        out
    }

    /// The stream cut at every position, and one byte a read.
    fn splits() -> Vec<Vec<Vec<u8>>> {
        let mut all: Vec<Vec<Vec<u8>>> =
            (1..STREAM.len()).map(|cut| vec![STREAM[..cut].to_vec(), STREAM[cut..].to_vec()]).collect();
        all.push(STREAM.iter().map(|&b| vec![b]).collect());
        all
    }

    #[tokio::test]
    async fn raw_replies_match_in_order_across_split_reads_and_skip_pushes() {
        for chunks in splits() {
            let got = replies::<RawReplies>(chunks.clone()).await;
            let got: Vec<Vec<&[u8]>> =
                got.iter().map(|r| (0..r.len()).filter_map(|i| r.get(i)).collect()).collect();
            assert_eq!(got, EXPECTED.map(<[&[u8]]>::to_vec), "chunks {chunks:?}");
        }
    }

    #[tokio::test]
    async fn frame_replies_match_in_order_across_split_reads_and_skip_pushes() {
        let limits = slotkv_proto::frame::FrameLimits::default();
        let expected: Vec<Vec<Frame>> = EXPECTED
            .iter()
            .map(|replies| {
                replies
                    .iter()
                    .map(|b| slotkv_proto::frame::parse_frame(b, &limits).unwrap().unwrap().0)
                    .collect()
            })
            .collect();
        for chunks in splits() {
            assert_eq!(replies::<Vec<Frame>>(chunks.clone()).await, expected, "chunks {chunks:?}");
        }
    }

    #[tokio::test]
    async fn a_broken_connection_fails_every_pending_request_with_one_error() {
        let mut h = harness::<RawReplies>();
        let waits = h.send(&[1, 2, 1]).await;
        // The first request's reply, half of the second's, then the server closes.
        h.server.send(b"+OK\r\n:1\r\n$5\r\nhel".to_vec()).unwrap();
        drop(h.server);
        let mut results = Vec::new();
        for wait in waits {
            results.push(wait.await.unwrap());
        }
        assert_eq!(results[0].as_ref().unwrap().get(0), Some(b"+OK\r\n".as_slice()));
        let closed = Error::Io("connection closed by the server".into());
        assert_eq!(results[1].as_ref().unwrap_err(), &closed);
        assert_eq!(results[2].as_ref().unwrap_err(), &closed);
        assert!(h.handle.is_broken());
        // A request after the break fails too, rather than waiting forever.
        let late = h.handle.send(PING.to_vec(), 1);
        assert!(late.is_err() || late.unwrap().await.is_err());
    }

    #[tokio::test]
    async fn a_request_of_no_replies_is_answered_at_once_and_takes_no_reply() {
        let mut h = harness::<Vec<Frame>>();
        let wait = h.handle.send(Vec::new(), 0).unwrap();
        let empty = tokio::time::timeout(std::time::Duration::from_secs(5), wait)
            .await
            .unwrap_or_else(|_| panic!("a request of no replies waited for one"))
            .unwrap()
            .unwrap();
        assert!(empty.is_empty());
        let waits = h.send(&[1]).await;
        h.server.send(b"+PONG\r\n".to_vec()).unwrap();
        for wait in waits {
            assert_eq!(wait.await.unwrap().unwrap(), vec![Frame::Simple("PONG".into())]);
        }
    }

    #[tokio::test]
    async fn a_reply_nobody_asked_for_breaks_the_connection() {
        let mut h = harness::<Vec<Frame>>();
        let waits = h.send(&[1]).await;
        h.server.send(b"+OK\r\n+extra\r\n".to_vec()).unwrap();
        let first = waits.into_iter().next().unwrap().await.unwrap().unwrap();
        assert_eq!(first, vec![Frame::Simple("OK".into())]);
        let late = h.handle.send(PING.to_vec(), 1).unwrap();
        // The stray reply fails the connection: the next request gets an error, not the stray reply.
        assert!(matches!(late.await, Err(_) | Ok(Err(_))));
        assert!(h.handle.is_broken());
    }

    /// A one-shot server on a free port that answers the handshake with `reply`; what it received.
    async fn handshake_with(options: &ConnectOptions, reply: &'static [u8]) -> (Result<Vec<u8>>, Vec<u8>) {
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}")).to_string();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap_or_else(|e| panic!("accept: {e}"));
            let mut got = vec![0u8; 4096];
            let n = socket.read(&mut got).await.unwrap_or_else(|e| panic!("read: {e}"));
            got.truncate(n);
            socket.write_all(reply).await.unwrap_or_else(|e| panic!("write: {e}"));
            // Held open until the client is done with it.
            let _ = socket.read(&mut [0u8; 1]).await;
            got
        });
        let result = connect(&addr, options).await.map(|(_, leftover)| leftover);
        (result, server.await.unwrap_or_else(|e| panic!("server: {e}")))
    }

    #[tokio::test]
    async fn the_handshake_is_one_write_and_the_first_error_fails_it() {
        let options =
            ConnectOptions { password: Some("pw".into()), username: None, resp3: true, readonly: true };
        let (result, sent) = handshake_with(&options, b"%1\r\n+proto\r\n:3\r\n+OK\r\n+early\r\n").await;
        assert_eq!(
            sent,
            b"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$2\r\npw\r\n*1\r\n$8\r\nREADONLY\r\n"
        );
        // Bytes past the handshake's replies are kept for the reader.
        assert_eq!(result.unwrap(), b"+early\r\n");
        let (result, _) = handshake_with(
            &options,
            b"-WRONGPASS invalid username-password pair\r\n-NOAUTH Authentication required.\r\n",
        )
        .await;
        assert_eq!(result.unwrap_err().code(), Some("WRONGPASS"));
        let (result, sent) = handshake_with(&ConnectOptions::default(), b"").await;
        assert_eq!(result.unwrap(), b"");
        assert!(sent.is_empty());
    }
}
