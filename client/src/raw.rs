//! The raw fast path for a proxy (slotkv-router): commands go out as bytes already encoded and replies
//! come back as the bytes the server sent, never parsed into [`Frame`](slotkv_proto::Frame)s, so a proxy
//! can pass them to its own clients unchanged.
//!
//! - [`frame_len`]: the length of the RESP2/RESP3 frame at the start of a buffer, without building it.
//! - [`RawConnection`]: one multiplexed, pipelined connection shared by every task, as
//!   [`Connection`](crate::Connection) is: requests queue to a writer task that sends everything waiting in
//!   one write, a reader task cuts the replies apart and hands each request its own. Out-of-band pushes
//!   (RESP3 `>` frames) are dropped: a shared connection never subscribes. Both run on the connection
//!   core (`core.rs`); here the writer never yields and a reply is appended as the server's bytes.
//! - [`RawStream`]: a connection of its own (transactions, blocking commands, subscriptions): write bytes,
//!   read the next frame, pushes included.

use crate::conn::ConnectOptions;
use crate::core::{self, Batching, Handle, Replies};
use crate::error::{Error, Result};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The largest aggregate count and bulk length [`frame_len`] accepts (a reply larger than Redis's own
/// `proto-max-bulk-len` is not a reply).
const MAX_LEN: usize = 512 * 1024 * 1024;

/// The length in bytes of the whole frame at the start of `buf` (aggregates with everything in them,
/// attributes with the reply they annotate): `Ok(None)` until all of it has arrived.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>> {
    let bad = |what: &str| Error::Protocol(format!("bad reply from the server: {what}"));
    let mut pos = 0usize;
    // Frames still to read: aggregates add their elements, so no recursion is needed.
    let mut pending = 1usize;
    while pending > 0 {
        pending -= 1;
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(cr) = rest.iter().position(|&b| b == b'\r') else { return Ok(None) };
        if rest.len() < cr + 2 {
            return Ok(None);
        }
        if rest.get(cr + 1) != Some(&b'\n') {
            return Err(bad("line not ended by CRLF"));
        }
        let kind = *rest.first().ok_or_else(|| bad("empty line"))?;
        let line = rest.get(1..cr).unwrap_or_default();
        pos += cr + 2;
        let count = || -> Result<Option<usize>> {
            if line == b"-1" || line == b"?" {
                return Ok(None);
            }
            let text = std::str::from_utf8(line).map_err(|_| bad("length"))?;
            let n: usize = text.parse().map_err(|_| bad("length"))?;
            if n > MAX_LEN {
                return Err(bad("length too large"));
            }
            Ok(Some(n))
        };
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
            b'$' | b'=' | b'!' => {
                if let Some(n) = count()? {
                    if buf.len() < pos + n + 2 {
                        return Ok(None);
                    }
                    if buf.get(pos + n..pos + n + 2) != Some(b"\r\n".as_slice()) {
                        return Err(bad("bulk not ended by CRLF"));
                    }
                    pos += n + 2;
                }
            }
            b'*' | b'~' | b'>' => pending += count()?.unwrap_or(0),
            b'%' => pending += count()?.unwrap_or(0) * 2,
            // An attribute map, then the reply it annotates.
            b'|' => pending += count()?.unwrap_or(0) * 2 + 1,
            other => return Err(bad(&format!("type byte {:?}", char::from(other)))),
        }
    }
    Ok(Some(pos))
}

/// The replies to one request: reply `i` is `buf[ends[i - 1]..ends[i]]` (from 0 for the first).
#[derive(Debug, Default)]
pub struct RawReplies {
    pub buf: Vec<u8>,
    pub ends: Vec<usize>,
}

impl RawReplies {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Reply `i`'s bytes.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let start = if i == 0 { 0 } else { *self.ends.get(i - 1)? };
        self.buf.get(start..*self.ends.get(i)?)
    }
}

/// Replies kept as the server's bytes: each frame is cut with [`frame_len`] and appended, never parsed.
impl Replies for RawReplies {
    type Reply = ();

    fn with_capacity(n: usize) -> Self {
        RawReplies { buf: Vec::new(), ends: Vec::with_capacity(n) }
    }

    fn cut(buf: &[u8]) -> Result<Option<((), usize)>> {
        Ok(frame_len(buf)?.map(|len| ((), len)))
    }

    fn add(&mut self, _reply: (), bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.ends.push(self.buf.len());
    }

    fn count(&self) -> usize {
        self.ends.len()
    }
}

/// What [`RawConnection::send`] returns: resolves to the replies.
pub type RawReceiver = oneshot::Receiver<Result<RawReplies>>;

/// A cheap handle to one shared, pipelined connection: clone it into every task.
#[derive(Clone)]
pub struct RawConnection {
    handle: Handle<RawReplies>,
    addr: Arc<str>,
}

impl RawConnection {
    /// Connects to `addr` (`host:port`), authenticates and picks the protocol as `options` say.
    pub async fn connect_with(addr: &str, options: &ConnectOptions) -> Result<RawConnection> {
        let (stream, leftover) = core::connect(addr, options).await?;
        let (handle, rx) = Handle::channel();
        // No yield before a write: the router's current-thread workers rely on the order of their tasks.
        core::start_tcp(stream, leftover, &handle, rx, Batching::Queued);
        Ok(RawConnection { handle, addr: Arc::from(addr) })
    }

    /// The address this connection was made to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the connection has failed (every request on it now fails): make a new one.
    pub fn is_closed(&self) -> bool {
        self.handle.is_broken()
    }

    /// Queues `replies` commands already encoded in `bytes`; they go out with whatever else is queued.
    /// Await the receiver for their replies (a dropped receiver means the connection failed).
    pub fn send(&self, bytes: Vec<u8>, replies: usize) -> Result<RawReceiver> {
        self.handle.send(bytes, replies)
    }

    /// [`RawConnection::send`] and wait for the replies.
    pub async fn call(&self, bytes: Vec<u8>, replies: usize) -> Result<RawReplies> {
        let wait = self.send(bytes, replies)?;
        wait.await.map_err(|_| core::closed())?
    }
}

/// A connection of its own, read and written by one task: for transactions, blocking commands and
/// subscriptions. [`RawStream::read_frame`] is cancel-safe (use it in `select!`).
pub struct RawStream {
    stream: TcpStream,
    buf: Vec<u8>,
    addr: Arc<str>,
}

impl RawStream {
    /// Connects to `addr`, authenticates and picks the protocol as `options` say.
    pub async fn connect_with(addr: &str, options: &ConnectOptions) -> Result<RawStream> {
        let (stream, buf) = core::connect(addr, options).await?;
        Ok(RawStream { stream, buf, addr: Arc::from(addr) })
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The socket and whatever was read from it but not yet taken, to read and write from different tasks.
    pub fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// Writes already encoded commands.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await.map_err(Error::from)
    }

    /// The next frame the server sends (a reply or a push), as its bytes.
    pub async fn read_frame(&mut self) -> Result<Vec<u8>> {
        loop {
            if let Some(len) = frame_len(&self.buf)? {
                let frame = self.buf.get(..len).unwrap_or_default().to_vec();
                self.buf.drain(..len);
                return Ok(frame);
            }
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(Error::Io("connection closed by the server".into()));
            }
        }
    }

    /// Writes `replies` commands and reads their replies (pushes that arrive meanwhile are skipped).
    pub async fn call(&mut self, bytes: &[u8], replies: usize) -> Result<Vec<Vec<u8>>> {
        self.write(bytes).await?;
        let mut out = Vec::with_capacity(replies);
        while out.len() < replies {
            let frame = self.read_frame().await?;
            if frame.first() != Some(&b'>') {
                out.push(frame);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths_of_every_type() {
        let whole: &[&[u8]] = &[
            b"+OK\r\n",
            b"-ERR x\r\n",
            b":12\r\n",
            b"$3\r\nabc\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"_\r\n",
            b",1.5\r\n",
            b"#t\r\n",
            b"(123\r\n",
            b"=8\r\ntxt:abcd\r\n",
            b"!3\r\nERR\r\n",
            b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
            b"%1\r\n+a\r\n~2\r\n:1\r\n:2\r\n",
            b">2\r\n+m\r\n$0\r\n\r\n",
            b"|1\r\n+k\r\n+v\r\n:5\r\n",
            b"*0\r\n",
        ];
        for frame in whole {
            assert_eq!(frame_len(frame).unwrap(), Some(frame.len()), "{frame:?}");
            let mut more = frame.to_vec();
            more.extend_from_slice(b"+next\r\n");
            assert_eq!(frame_len(&more).unwrap(), Some(frame.len()));
            for cut in 0..frame.len() {
                assert_eq!(frame_len(&frame[..cut]).unwrap(), None, "{frame:?} cut at {cut}");
            }
        }
        assert!(frame_len(b"?x\r\n").is_err());
        assert!(frame_len(b"$3\r\nabcde\r\n").is_err());
        assert!(frame_len(b"*99999999999\r\n").is_err());
    }

    #[test]
    fn replies_by_index() {
        let r = RawReplies { buf: b"+OK\r\n:1\r\n".to_vec(), ends: vec![5, 9] };
        assert_eq!(r.get(0), Some(b"+OK\r\n".as_slice()));
        assert_eq!(r.get(1), Some(b":1\r\n".as_slice()));
        assert_eq!(r.get(2), None);
    }
}
