//! Test harness for the end-to-end tests in `tests/tests/`: start the real `slotkv-node` binary on a free
//! port in a temporary directory, talk to it over TCP, and compare its replies byte for byte.
//!
//! # Finding the binary
//! `SLOTKV_NODE_BIN` names the binary to test when set. Otherwise the harness runs
//! `cargo build -p slotkv-node` once per test process (cargo does nothing when the binary is fresh), so a
//! plain `cargo test -p slotkv-tests` always tests the current sources: `cargo test` alone only builds a
//! crate's own binaries, never another crate's. If that build fails (someone is mid-edit) and an older
//! binary exists, the older one is used with a warning.
//!
//! # Ports
//! [`free_port`] binds port 0 and releases it; another process may take the port before the node binds
//! it, so [`Node::start`] retries on a new port when the node fails with "address in use".
//!
//! # Failure output
//! A [`Node`] kills its process on `Drop`; when the test is panicking it first prints the node's log.
//! [`Conn::expect`] and friends print the command, the expected and the actual bytes, escaped.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a node may take to answer its first `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a reply may take before a test fails instead of hanging.
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// A port that was free a moment ago: bind 127.0.0.1:0, note the port, release it.
pub fn free_port() -> u16 {
    match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("cannot bind a free port: {e}"),
    }
}

/// Escaped bytes for failure messages: `+OK\r\n` prints as `+OK\r\n`.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 2000;
    let shown: String = bytes.iter().take(MAX).flat_map(|b| b.escape_ascii()).map(char::from).collect();
    if bytes.len() > MAX {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        shown
    }
}

/// Encodes one command as a RESP multibulk request.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn describe<A: AsRef<[u8]>>(args: &[A]) -> String {
    let parts: Vec<String> = args.iter().map(|a| show(&a.as_ref()[..a.as_ref().len().min(80)])).collect();
    parts.join(" ")
}

// ---- finding and building the binary ----

/// The directory cargo puts this profile's binaries in (`target/debug`), from the running test's own path
/// (`target/debug/deps/<test>-<hash>`), which also honours `CARGO_TARGET_DIR`.
fn profile_dir() -> PathBuf {
    let from_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().and_then(Path::parent).map(Path::to_path_buf))
        .filter(|dir| dir.join("deps").is_dir());
    from_exe.unwrap_or_else(|| {
        // Not run by cargo: walk up from this crate to the workspace's target/debug.
        let mut dir = Some(Path::new(env!("CARGO_MANIFEST_DIR")));
        while let Some(d) = dir {
            if d.join("target").join("debug").is_dir() {
                return d.join("target").join("debug");
            }
            dir = d.parent();
        }
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug")
    })
}

/// The `slotkv-node` binary under test, built (once per process) unless `SLOTKV_NODE_BIN` names one.
pub fn node_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SLOTKV_NODE_BIN") {
            let bin = PathBuf::from(bin);
            assert!(bin.is_file(), "SLOTKV_NODE_BIN={} is not a file", bin.display());
            return bin;
        }
        let dir = profile_dir();
        let bin = dir.join("slotkv-node");
        build_node(&dir, &bin);
        bin
    })
}

fn build_node(profile_dir: &Path, bin: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "slotkv-node"]).current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    match cmd.output() {
        Ok(out) if out.status.success() => {}
        Ok(out) if bin.is_file() => eprintln!(
            "warning: `cargo build -p slotkv-node` failed; testing the existing {}:\n{}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(out) => panic!("`cargo build -p slotkv-node` failed:\n{}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if bin.is_file() => {
            eprintln!("warning: cannot run cargo ({e}); testing the existing {}", bin.display())
        }
        Err(e) => panic!("cannot run cargo to build slotkv-node ({e}); set SLOTKV_NODE_BIN"),
    }
}

// ---- the node process ----

/// A running `slotkv-node` on `127.0.0.1:port`, in its own temporary directory, killed on `Drop`.
pub struct Node {
    pub port: u16,
    child: Child,
    log: PathBuf,
    /// The binary's file name, for failure output.
    name: String,
    /// Kept for its `Drop`, which removes the directory.
    _dir: tempfile::TempDir,
}

impl Node {
    /// Starts a node with the harness's base settings plus `extra` (`["--requirepass", "x"]`) and waits
    /// until it answers `PING` (`+PONG` or `-NOAUTH`).
    pub fn start(extra: &[&str]) -> Node {
        Node::start_bin(node_bin(), extra)
    }

    /// [`Node::start`] with another binary that takes the same arguments: a `redis-server`, for tests
    /// that compare slotkv with real Redis side by side.
    pub fn start_bin(bin: &Path, extra: &[&str]) -> Node {
        let mut last_log = String::new();
        for _attempt in 0..8 {
            let port = free_port();
            let dir = tempfile::Builder::new()
                .prefix("slotkv-test-")
                .tempdir()
                .unwrap_or_else(|e| panic!("tempdir: {e}"));
            let log = dir.path().join("node.log");
            let out = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
            let err = out.try_clone().unwrap_or_else(|e| panic!("clone log handle: {e}"));
            let port_s = port.to_string();
            let dir_s = dir.path().to_string_lossy().into_owned();
            let child = Command::new(bin)
                .args([
                    "--port",
                    &port_s,
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    &dir_s,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            let name =
                bin.file_name().map_or_else(|| bin.display().to_string(), |n| n.to_string_lossy().into());
            let mut node = Node { port, child, log, name, _dir: dir };
            match node.wait_ready() {
                Ok(()) => return node,
                Err(log) => {
                    let lower = log.to_ascii_lowercase();
                    if lower.contains("address already in use") || lower.contains("address in use") {
                        last_log = log;
                        continue;
                    }
                    panic!("{} {extra:?} did not start; its log:\n{log}", bin.display());
                }
            }
        }
        panic!("{} found no free port in 8 attempts; last log:\n{last_log}", bin.display());
    }

    /// Polls with `PING` until the node answers; `Err(log)` when it exited or never answered.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("(exited with {status})\n{}", self.log()));
            }
            if let Ok(mut s) = TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut reply = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut reply).is_ok() {
                    if &reply == b"+PONG\r\n" || reply.starts_with(b"-NOAUTH") {
                        return Ok(());
                    }
                    return Err(format!("first PING answered {}\n{}", show(&reply), self.log()));
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        Err(format!("(no PONG within {START_TIMEOUT:?})\n{}", self.log()))
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A new connection to the node.
    pub fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// What the node has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process (`SIGSTOP`), as if it were busy: the kernel still completes TCP handshakes into
    /// the listen backlog, but nothing is accepted or answered until [`Node::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused process run again (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        match Command::new("kill").args([sig, &pid]).status() {
            Ok(s) if s.success() => {}
            other => panic!("kill {sig} {pid}: {other:?}"),
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let status = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail = log.get(log.len().saturating_sub(8000)..).unwrap_or(&log);
            eprintln!("---- {} on port {} ({status:?}), log tail ----\n{tail}\n----", self.name, self.port);
        }
    }
}

// ---- replies ----

/// A parsed RESP2/RESP3 reply. Nulls of every kind (`$-1`, `*-1`, `_`) are [`Reply::Nil`]; compare raw
/// bytes (see [`Conn::raw`]) when the exact encoding matters.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Push(Vec<Reply>),
    /// RESP3 `,`: the text as sent, so its formatting can be checked.
    Double(String),
    Bool(bool),
    BigNumber(String),
    /// RESP3 `=`: the format (`txt`) and the text.
    Verbatim(String, Vec<u8>),
}

impl Reply {
    /// The bytes of a bulk, simple or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => Some(b),
            Reply::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// A string reply as text (lossy).
    pub fn text(&self) -> String {
        match self.as_bytes() {
            Some(b) => String::from_utf8_lossy(b).into_owned(),
            None => panic!("expected a string reply, got {self:?}"),
        }
    }

    /// The elements of an array, set or push; a map's keys and values flattened (as RESP2 sends them).
    pub fn items(&self) -> Vec<Reply> {
        match self {
            Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => v.clone(),
            Reply::Map(pairs) => pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
            other => panic!("expected an aggregate reply, got {other:?}"),
        }
    }

    /// The elements as strings (each must be a string reply).
    pub fn strings(&self) -> Vec<String> {
        self.items().iter().map(Reply::text).collect()
    }

    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }
}

/// Why bytes are not a reply.
#[derive(Debug, PartialEq, Eq)]
pub struct BadReply(pub String);

/// Parses one reply from the start of `buf`: `Ok(None)` when more bytes are needed, else the reply and the
/// number of bytes it took.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, BadReply> {
    let Some(nl) = buf.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
    let Some(&kind) = buf.first() else { return Ok(None) };
    let line = buf.get(1..nl).unwrap_or_default();
    let text = || String::from_utf8_lossy(line).into_owned();
    let number = || -> Result<i64, BadReply> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| BadReply(format!("bad length/integer line {}", show(line))))
    };
    let head = nl + 2;
    let bulk = |len: i64| -> Result<Option<(&[u8], usize)>, BadReply> {
        let len = usize::try_from(len).map_err(|_| BadReply(format!("bad bulk length {len}")))?;
        let end = head + len;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if buf.get(end..end + 2) != Some(b"\r\n") {
            return Err(BadReply(format!("bulk of {len} bytes not followed by CRLF")));
        }
        Ok(buf.get(head..end).map(|b| (b, end + 2)))
    };
    let aggregate = |n: i64, per: usize| -> Result<Option<(Vec<Reply>, usize)>, BadReply> {
        let mut items = Vec::new();
        let mut pos = head;
        for _ in 0..n.max(0) as usize * per {
            match parse_reply(buf.get(pos..).unwrap_or_default())? {
                Some((r, used)) => {
                    items.push(r);
                    pos += used;
                }
                None => return Ok(None),
            }
        }
        Ok(Some((items, pos)))
    };
    let done = |r: Reply, used: usize| Ok(Some((r, used)));
    match kind {
        b'+' => done(Reply::Simple(text()), head),
        b'-' => done(Reply::Error(text()), head),
        b':' => done(Reply::Int(number()?), head),
        b',' => done(Reply::Double(text()), head),
        b'(' => done(Reply::BigNumber(text()), head),
        b'_' => done(Reply::Nil, head),
        b'#' => match line {
            b"t" => done(Reply::Bool(true), head),
            b"f" => done(Reply::Bool(false), head),
            _ => Err(BadReply(format!("bad boolean {}", show(line)))),
        },
        b'$' | b'!' => match number()? {
            -1 if kind == b'$' => done(Reply::Nil, head),
            n => match bulk(n)? {
                None => Ok(None),
                Some((b, used)) if kind == b'$' => done(Reply::Bulk(b.to_vec()), used),
                Some((b, used)) => done(Reply::Error(String::from_utf8_lossy(b).into_owned()), used),
            },
        },
        b'=' => match bulk(number()?)? {
            None => Ok(None),
            Some((b, used)) => {
                let (fmt, body) = b.split_at(b.len().min(4));
                let fmt = String::from_utf8_lossy(fmt.strip_suffix(b":").unwrap_or(fmt)).into_owned();
                done(Reply::Verbatim(fmt, body.to_vec()), used)
            }
        },
        b'*' | b'~' | b'>' => match number()? {
            -1 if kind == b'*' => done(Reply::Nil, head),
            n => match aggregate(n, 1)? {
                None => Ok(None),
                Some((items, used)) => done(
                    match kind {
                        b'*' => Reply::Array(items),
                        b'~' => Reply::Set(items),
                        _ => Reply::Push(items),
                    },
                    used,
                ),
            },
        },
        b'%' => match aggregate(number()?, 2)? {
            None => Ok(None),
            Some((items, used)) => {
                let mut it = items.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                done(Reply::Map(pairs), used)
            }
        },
        other => Err(BadReply(format!("unknown reply type byte {}", show(&[other])))),
    }
}

// ---- connections ----

/// A blocking client connection with a read buffer. Every read has a timeout ([`READ_TIMEOUT`]), so a
/// missing reply fails the test instead of hanging it.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
        Conn { stream, buf: Vec::new() }
    }

    pub fn set_read_timeout(&mut self, timeout: Duration) {
        let _ = self.stream.set_read_timeout(Some(timeout));
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Writes bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap_or_else(|e| panic!("write {} bytes: {e}", bytes.len()));
    }

    /// Writes one command (multibulk) without reading its reply.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send_raw(&encode(args));
    }

    /// Reads until `buf` holds one whole reply and returns its exact bytes; `Ok(None)` at end of stream
    /// with nothing buffered.
    pub fn try_read_raw(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            match parse_reply(&self.buf) {
                Ok(Some((_, used))) => return Ok(Some(self.buf.drain(..used).collect())),
                Ok(None) => {}
                Err(BadReply(why)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{why} in {}", show(&self.buf)),
                    ))
                }
            }
            let old = self.buf.len();
            self.buf.resize(old + 256 * 1024, 0);
            let read = self.stream.read(self.buf.get_mut(old..).unwrap_or_default());
            self.buf.truncate(old + *read.as_ref().unwrap_or(&0));
            let n = read?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("connection closed inside a reply: {}", show(&self.buf)),
                ));
            }
        }
    }

    /// The exact bytes of the next reply.
    #[track_caller]
    pub fn read_raw(&mut self) -> Vec<u8> {
        match self.try_read_raw() {
            Ok(Some(r)) => r,
            Ok(None) => panic!("connection closed while waiting for a reply"),
            Err(e) => panic!("reading a reply: {e}"),
        }
    }

    /// The next reply, parsed.
    #[track_caller]
    pub fn read_reply(&mut self) -> Reply {
        let raw = self.read_raw();
        match parse_reply(&raw) {
            Ok(Some((r, _))) => r,
            other => panic!("reply {} does not parse again: {other:?}", show(&raw)),
        }
    }

    /// Sends a command and returns the exact bytes of its reply.
    #[track_caller]
    pub fn raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.read_raw()
    }

    /// Sends a command and returns its parsed reply.
    #[track_caller]
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send(args);
        self.read_reply()
    }

    /// Sends a command and parses its reply with the shared parser, `slotkv_proto::frame::parse_frame`, which
    /// must take exactly the bytes of one reply.
    #[track_caller]
    pub fn frame<A: AsRef<[u8]>>(&mut self, args: &[A]) -> slotkv_proto::frame::Frame {
        let raw = self.raw(args);
        match slotkv_proto::frame::parse_frame(&raw, &slotkv_proto::frame::FrameLimits::default()) {
            Ok(Some((frame, used))) if used == raw.len() => frame,
            other => panic!("{}: parse_frame on {}: {other:?}", describe(args), show(&raw)),
        }
    }

    /// Sends a command and asserts that the reply is exactly `expected`.
    #[track_caller]
    pub fn expect<A: AsRef<[u8]>>(&mut self, args: &[A], expected: &[u8]) {
        let got = self.raw(args);
        assert!(
            got == expected,
            "{}\n  expected: {}\n  actual:   {}",
            describe(args),
            show(expected),
            show(&got)
        );
    }

    /// Asserts `+OK`.
    #[track_caller]
    pub fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.expect(args, b"+OK\r\n");
    }

    /// The integer reply of a command.
    #[track_caller]
    pub fn int<A: AsRef<[u8]>>(&mut self, args: &[A]) -> i64 {
        match self.cmd(args) {
            Reply::Int(n) => n,
            other => panic!("{}: expected an integer, got {other:?}", describe(args)),
        }
    }

    /// The bulk string reply of a command, `None` for a null.
    #[track_caller]
    pub fn bulk<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Option<Vec<u8>> {
        match self.cmd(args) {
            Reply::Bulk(b) => Some(b),
            Reply::Nil => None,
            other => panic!("{}: expected a bulk string or null, got {other:?}", describe(args)),
        }
    }

    /// The error text of a command (without the leading `-`); panics if the reply is not an error.
    #[track_caller]
    pub fn err<A: AsRef<[u8]>>(&mut self, args: &[A]) -> String {
        match self.cmd(args) {
            Reply::Error(e) => e,
            other => panic!("{}: expected an error, got {other:?}", describe(args)),
        }
    }

    /// Reads what arrives until the peer closes the connection or `timeout` passes. Returns the bytes and
    /// whether the connection was closed.
    pub fn read_until_close(&mut self, timeout: Duration) -> (Vec<u8>, bool) {
        let deadline = Instant::now() + timeout;
        let mut got = std::mem::take(&mut self.buf);
        let mut chunk = vec![0u8; 64 * 1024];
        let closed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            let _ = self.stream.set_read_timeout(Some(left));
            match self.stream.read(&mut chunk) {
                Ok(0) => break true,
                Ok(n) => got.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    break false
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A reset (or any other error) also means the node dropped the connection.
                Err(_) => break true,
            }
        };
        let _ = self.stream.set_read_timeout(Some(READ_TIMEOUT));
        (got, closed)
    }

    /// Closes the sending side (the node sees end of input).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Raises this process's open-file limit to `want` (or the hard limit, if lower); returns the new soft
/// limit. Tests that hold thousands of connections need it.
pub fn raise_fd_limit(want: u64) -> u64 {
    let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() else { return 0 };
    if soft >= want {
        return soft;
    }
    let new = want.min(hard);
    match rlimit::Resource::NOFILE.set(new, hard) {
        Ok(()) => new,
        Err(_) => soft,
    }
}

/// Polls `check` every 10 ms until it returns true or `timeout` passes; returns whether it did.
pub fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The value of `field` in an `INFO` text (`used_memory:123` gives `"123"`).
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')).map(|v| v.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Reply {
        let (r, used) = parse_reply(bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len(), "{}", show(bytes));
        r
    }

    #[test]
    fn parses_resp2() {
        assert_eq!(one(b"+OK\r\n"), Reply::Simple("OK".into()));
        assert_eq!(one(b"-ERR x y\r\n"), Reply::Error("ERR x y".into()));
        assert_eq!(one(b":-12\r\n"), Reply::Int(-12));
        assert_eq!(one(b"$3\r\na\r\n\r\n"), Reply::Bulk(b"a\r\n".to_vec()));
        assert_eq!(one(b"$0\r\n\r\n"), Reply::Bulk(Vec::new()));
        assert_eq!(one(b"$-1\r\n"), Reply::Nil);
        assert_eq!(one(b"*-1\r\n"), Reply::Nil);
        assert_eq!(
            one(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"),
            Reply::Array(vec![Reply::Bulk(b"a".to_vec()), Reply::Array(vec![Reply::Int(1)])])
        );
    }

    #[test]
    fn parses_resp3() {
        assert_eq!(one(b"_\r\n"), Reply::Nil);
        assert_eq!(one(b",1.5\r\n"), Reply::Double("1.5".into()));
        assert_eq!(one(b"#t\r\n"), Reply::Bool(true));
        assert_eq!(one(b"=8\r\ntxt:abcd\r\n"), Reply::Verbatim("txt".into(), b"abcd".to_vec()));
        assert_eq!(
            one(b"%1\r\n$1\r\nk\r\n~1\r\n:2\r\n"),
            Reply::Map(vec![(Reply::Bulk(b"k".to_vec()), Reply::Set(vec![Reply::Int(2)]))])
        );
        assert_eq!(one(b"!3\r\nERR\r\n"), Reply::Error("ERR".into()));
    }

    #[test]
    fn incomplete_and_invalid() {
        let full = b"*2\r\n$3\r\nabc\r\n:12\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_reply(&full[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(parse_reply(b"?x\r\n").is_err());
        assert!(parse_reply(b"$1\r\nab\r\n").is_err());
        assert!(parse_reply(b":x\r\n").is_err());
    }

    #[test]
    fn encodes_commands() {
        assert_eq!(encode(&["GET", "k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        assert_eq!(encode::<&[u8]>(&[b"", b"a\r\n"]), b"*2\r\n$0\r\n\r\n$3\r\na\r\n\r\n");
    }

    #[test]
    fn info_fields() {
        let info = "# Server\r\nredis_version:7.2.4\r\nport:1\r\n";
        assert_eq!(info_field(info, "redis_version").as_deref(), Some("7.2.4"));
        assert_eq!(info_field(info, "redis"), None);
    }
}
