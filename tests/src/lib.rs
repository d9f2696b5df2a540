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
//! # Restarts (persistence tests)
//! A [`Node`] keeps its data directory ([`Node::dir`]) across runs: [`Node::kill9`] (a crash),
//! [`Node::terminate`] (`SIGTERM`, bounded wait), then [`Node::restart`] / [`Node::restart_with`] start the
//! same binary with the same settings on the same directory (and port, if still free). [`Node::respawn`]
//! and [`Node::spawn`] return without waiting, to watch a node load (it answers `-LOADING`, which readiness
//! polling treats as "not yet") or refuse to start ([`Node::wait_exit`]). [`Node::builder`] adds a data
//! directory of the test's choosing (a tmpfs) and a wrapper program (strace). Each run logs to its own
//! file, so [`Node::log`] shows the current run only.
//!
//! # Failure output
//! A [`Node`] kills its process on `Drop`; when the test is panicking it first prints the node's log.
//! [`Conn::expect`] and friends print the command, the expected and the actual bytes, escaped.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
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
    build_package(profile_dir, "slotkv-node", bin, "SLOTKV_NODE_BIN");
}

/// Builds `package` of the workspace into `profile_dir` (the tests' own profile) with cargo; when that
/// fails, tests go on with an existing `bin` after a warning, else panic naming `env_var`, which tells
/// the tests to use a given binary instead.
pub fn build_package(profile_dir: &Path, package: &str, bin: &Path, env_var: &str) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package]).current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    match cmd.output() {
        Ok(out) if out.status.success() => {}
        Ok(out) if bin.is_file() => eprintln!(
            "warning: `cargo build -p {package}` failed; testing the existing {}:\n{}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(out) => panic!("`cargo build -p {package}` failed:\n{}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if bin.is_file() => {
            eprintln!("warning: cannot run cargo ({e}); testing the existing {}", bin.display())
        }
        Err(e) => panic!("cannot run cargo to build {package} ({e}); set {env_var}"),
    }
}

/// A two-thread tokio runtime for the end-to-end tests of the Rust client and router.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

// ---- the node process ----

/// How long a node may take to exit after `SIGTERM` (it may be writing a snapshot first).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How a node was launched, kept so that [`Node::restart`] launches it again the same way.
#[derive(Clone, Debug)]
struct Launch {
    bin: PathBuf,
    /// A program and its arguments that run the node (`strace -f -o FILE`); empty to run it directly.
    wrapper: Vec<String>,
    /// Settings after the harness's base settings; later ones win.
    extra: Vec<String>,
}

/// Options for a node beyond [`Node::start_bin`]: its own data directory (a tmpfs mount point), a wrapper
/// program (strace), and starting without waiting for it to be ready (to see it load).
pub struct NodeBuilder {
    launch: Launch,
    dir: Option<PathBuf>,
    port: Option<u16>,
}

impl NodeBuilder {
    /// The node's `--dir`, instead of the harness's temporary directory (which still holds the log).
    pub fn dir(mut self, dir: &Path) -> NodeBuilder {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Runs the node as the last argument of `wrapper` (`["strace", "-f", "-o", "FILE"]`). Signals from
    /// [`Node::kill9`] and [`Node::terminate`] go to the node itself, not to the wrapper.
    pub fn wrapper(mut self, wrapper: &[&str]) -> NodeBuilder {
        self.launch.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The port of the first run, instead of a fresh [`free_port`] (a cluster's `nodes.conf` names it).
    pub fn port(mut self, port: u16) -> NodeBuilder {
        self.port = Some(port);
        self
    }

    /// Settings after the base settings (`["--appendonly", "yes"]`).
    pub fn args(mut self, extra: &[&str]) -> NodeBuilder {
        self.launch.extra.extend(extra.iter().map(|s| s.to_string()));
        self
    }

    /// Starts the process and returns at once; see [`Node::wait_ready_pub`].
    pub fn spawn(self) -> Node {
        let root = tempfile::Builder::new()
            .prefix("slotkv-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let data_dir = self.dir.unwrap_or_else(|| root.path().to_path_buf());
        let bin = &self.launch.bin;
        let name = bin.file_name().map_or_else(|| bin.display().to_string(), |n| n.to_string_lossy().into());
        let port = self.port.unwrap_or_else(free_port);
        let log = root.path().join("node.log");
        let child = launch(&self.launch, port, &data_dir, &log, &[]);
        Node {
            port,
            child,
            log,
            name,
            launch: self.launch,
            data_dir,
            runs: 1,
            run_extra: Vec::new(),
            _root: root,
        }
    }

    /// Starts the process and waits until it answers `PING`.
    pub fn start(self) -> Node {
        let mut node = self.spawn();
        node.wait_ready_pub();
        node
    }
}

/// Spawns `launch` with the harness's base settings, its output appended to `log`.
fn launch(launch: &Launch, port: u16, dir: &Path, log: &Path, run_extra: &[String]) -> Child {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let err = out.try_clone().unwrap_or_else(|e| panic!("clone log handle: {e}"));
    let port_s = port.to_string();
    let dir_s = dir.to_string_lossy().into_owned();
    let base =
        ["--port", &port_s, "--bind", "127.0.0.1", "--dir", &dir_s, "--save", "", "--appendonly", "no"];
    let mut cmd = match launch.wrapper.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(&launch.bin);
            cmd
        }
        None => Command::new(&launch.bin),
    };
    cmd.args(base).args(&launch.extra).args(run_extra).stdin(Stdio::null()).stdout(out).stderr(err);
    cmd.spawn().unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd))
}

/// The processes started by `pid` and by them, deepest first, from `/proc/PID/task/TID/children`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            out.extend(descendants(child));
            out.push(child);
        }
    }
    out
}

/// Sends `sig` (`-KILL`) to `pid`; false when the process is already gone.
fn send_signal(sig: &str, pid: u32) -> bool {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running `slotkv-node` on `127.0.0.1:port`, in its own temporary directory, killed on `Drop`.
pub struct Node {
    /// The port of the current run; a restart keeps it when it is still free.
    pub port: u16,
    child: Child,
    /// The current run's log (each restart writes a new file, so a test reads only that run's messages).
    log: PathBuf,
    /// The binary's file name, for failure output.
    name: String,
    launch: Launch,
    data_dir: PathBuf,
    /// How many times the process was launched.
    runs: u32,
    /// Settings for the current run only (from [`Node::restart_with`]).
    run_extra: Vec<String>,
    /// Kept for its `Drop`, which removes the directory.
    _root: tempfile::TempDir,
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
        Node::builder(bin).args(extra).start()
    }

    /// Starts `bin` with `extra` without waiting for it to answer (it may be loading a data set).
    pub fn spawn(bin: &Path, extra: &[&str]) -> Node {
        Node::builder(bin).args(extra).spawn()
    }

    /// Options beyond `start_bin`: data directory, wrapper program.
    pub fn builder(bin: &Path) -> NodeBuilder {
        NodeBuilder {
            launch: Launch { bin: bin.to_path_buf(), wrapper: Vec::new(), extra: Vec::new() },
            dir: None,
            port: None,
        }
    }

    /// Waits until the node answers `PING` (retrying on a new port when it lost its port to another
    /// process); panics with its log when it exits or does not answer within [`START_TIMEOUT`].
    #[track_caller]
    pub fn wait_ready_pub(&mut self) {
        let mut last_log = String::new();
        for _attempt in 0..8 {
            match self.wait_ready() {
                Ok(()) => return,
                Err(log) => {
                    let lower = log.to_ascii_lowercase();
                    if !(lower.contains("address already in use") || lower.contains("address in use")) {
                        panic!("{} {:?} did not start; its log:\n{log}", self.name, self.args());
                    }
                    last_log = log;
                    let port = free_port();
                    self.relaunch(port);
                }
            }
        }
        panic!("{} found no free port in 8 attempts; last log:\n{last_log}", self.name);
    }

    /// Polls with `PING` until the node answers; `Err(log)` when it exited or never answered. A node
    /// loading its data answers `-LOADING ...`: not ready yet.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("(exited with {status})\n{}", self.log()));
            }
            if let Ok(mut s) = TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                if s.write_all(b"PING\r\n").is_ok() {
                    match read_line(&mut s) {
                        Some(line) if line == b"+PONG" || line.starts_with(b"-NOAUTH") => return Ok(()),
                        Some(line) if line.starts_with(b"-LOADING") => {}
                        Some(line) => {
                            return Err(format!("first PING answered {}\n{}", show(&line), self.log()))
                        }
                        None => {}
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill_all();
        Err(format!("(no PONG within {START_TIMEOUT:?})\n{}", self.log()))
    }

    /// The arguments after the harness's base settings, for messages.
    fn args(&self) -> Vec<String> {
        self.launch.extra.iter().chain(&self.run_extra).cloned().collect()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A new connection to the node.
    pub fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// The node's data directory (its `--dir`).
    pub fn dir(&self) -> &Path {
        &self.data_dir
    }

    /// What the node has written to stdout and stderr so far in its current run.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// The process the harness started (the wrapper, when there is one).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The node's own process: the started process, or the wrapper's child.
    fn node_pids(&self) -> Vec<u32> {
        if self.launch.wrapper.is_empty() {
            vec![self.child.id()]
        } else {
            descendants(self.child.id())
        }
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
        for pid in self.node_pids() {
            assert!(send_signal(sig, pid), "kill {sig} {pid} failed");
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the node and its wrapper with `SIGKILL` and reaps them.
    fn kill_all(&mut self) -> Option<ExitStatus> {
        // Only while the child is not reaped: until then its pid (and so its children's parent) cannot
        // belong to another process.
        if let Ok(None) = self.child.try_wait() {
            for pid in descendants(self.child.id()) {
                send_signal("-KILL", pid);
            }
            let _ = self.child.kill();
        }
        self.child.wait().ok()
    }

    /// `SIGKILL`, as a crash: nothing is flushed or saved. Waits until the process is gone.
    pub fn kill9(&mut self) {
        self.kill_all();
    }

    /// `SIGTERM` (a clean shutdown: Redis saves when save rules are set), then waits up to
    /// [`STOP_TIMEOUT`] for the exit; panics with the log if it hangs.
    #[track_caller]
    pub fn terminate(&mut self) -> ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status;
        }
        self.signal("-TERM");
        match self.wait_exit(STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                let log = self.log();
                self.kill_all();
                panic!("{} did not exit within {STOP_TIMEOUT:?} of SIGTERM; its log:\n{log}", self.name);
            }
        }
    }

    /// Polls until the process exits; `None` if it still runs after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts the same binary again on the same directory with the same settings (the same port if it
    /// is still free) and waits until it answers. The previous run must have ended ([`Node::kill9`],
    /// [`Node::terminate`], `SHUTDOWN`).
    #[track_caller]
    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// [`Node::restart`] with `extra` settings for this run only.
    #[track_caller]
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.respawn(extra);
        self.wait_ready_pub();
    }

    /// Like [`Node::restart_with`] but returns at once: to watch the node load, or fail to start
    /// ([`Node::wait_exit`]).
    #[track_caller]
    pub fn respawn(&mut self, extra: &[&str]) {
        if let Ok(None) = self.child.try_wait() {
            panic!("{}: restart while the previous run is still running; stop it first", self.name);
        }
        self.run_extra = extra.iter().map(|s| s.to_string()).collect();
        let port = if TcpListener::bind(("127.0.0.1", self.port)).is_ok() { self.port } else { free_port() };
        self.relaunch(port);
    }

    /// Launches a new run on `port` with a fresh log file.
    fn relaunch(&mut self, port: u16) {
        self.kill_all();
        self.runs += 1;
        self.port = port;
        self.log = self._root.path().join(format!("node.{}.log", self.runs));
        self.child = launch(&self.launch, port, &self.data_dir, &self.log, &self.run_extra);
    }
}

/// Reads one line (without its CRLF) from a fresh stream, byte by byte; `None` on error or end.
fn read_line(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 1024 {
        match s.read(&mut byte) {
            Ok(1) => {}
            _ => return None,
        }
        if byte[0] == b'\n' {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Some(line);
        }
        line.push(byte[0]);
    }
    Some(line)
}

impl Drop for Node {
    fn drop(&mut self) {
        let status = self.kill_all();
        if std::thread::panicking() {
            let log = self.log();
            let tail = log.get(log.len().saturating_sub(8000)..).unwrap_or(&log);
            eprintln!(
                "---- {} {:?} on port {} (run {}, {status:?}), log tail ----\n{tail}\n----",
                self.name,
                self.args(),
                self.port,
                self.runs
            );
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

    /// Sends a command and reads its reply without panicking: for writers that run until the node dies.
    pub fn try_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.stream.write_all(&encode(args))?;
        self.try_read_reply()
    }

    /// The next reply, parsed, or the error that ended the connection.
    pub fn try_read_reply(&mut self) -> io::Result<Reply> {
        let raw = self.try_read_raw()?.ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        match parse_reply(&raw) {
            Ok(Some((r, _))) => Ok(r),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, show(&raw))),
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

// ---- persistence ----

/// The binary the persistence tests run: `PERSIST_BIN` when set (`/usr/bin/redis-server`, to check a
/// test's logic against real Redis), else slotkv's node.
pub fn persist_bin() -> PathBuf {
    match std::env::var_os("PERSIST_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => node_bin().to_path_buf(),
    }
}

/// Whether `bin` is a `redis-server` rather than slotkv: tests of slotkv-only behaviour (check tools,
/// checksums in the AOF, file offsets in messages) skip their slotkv-only parts then.
pub fn is_redis(bin: &Path) -> bool {
    bin.file_name().is_some_and(|n| n.to_string_lossy().contains("redis"))
}

/// One line of an AOF manifest (`file appendonly.aof.2.incr.aof seq 2 type i`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    pub file: String,
    pub seq: u64,
    /// `b` base, `i` incremental, `h` history.
    pub kind: String,
}

/// The AOF manifest under `dir` (`DIR/appendonlydir/appendonly.aof.manifest`); empty when there is none.
pub fn aof_manifest(dir: &Path) -> Vec<ManifestEntry> {
    let path = dir.join("appendonlydir").join("appendonly.aof.manifest");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let field = |name: &str| words.iter().position(|w| *w == name).and_then(|i| words.get(i + 1));
            Some(ManifestEntry {
                file: field("file")?.to_string(),
                seq: field("seq")?.parse().ok()?,
                kind: field("type")?.to_string(),
            })
        })
        .collect()
}

/// The sequence number of the AOF's base file, 0 without one.
pub fn aof_base_seq(dir: &Path) -> u64 {
    aof_manifest(dir).iter().filter(|e| e.kind == "b").map(|e| e.seq).max().unwrap_or(0)
}

/// The path of the last incremental AOF file listed in the manifest.
#[track_caller]
pub fn last_incr_file(dir: &Path) -> PathBuf {
    let manifest = aof_manifest(dir);
    match manifest.iter().filter(|e| e.kind == "i").max_by_key(|e| e.seq) {
        Some(e) => dir.join("appendonlydir").join(&e.file),
        None => panic!("no incr file in the manifest under {}: {manifest:?}", dir.display()),
    }
}

impl Conn {
    /// A field of `INFO persistence` (`aof_rewrite_in_progress`).
    #[track_caller]
    pub fn persistence(&mut self, field: &str) -> String {
        let info = self.cmd(&["INFO", "persistence"]).text();
        info_field(&info, field).unwrap_or_else(|| panic!("no {field} in INFO persistence:\n{info}"))
    }
}

// ---- cluster ----

/// The binary the cluster tests run: `CLUSTER_BIN` when set (`/usr/bin/redis-server`, to check a test
/// against real Redis Cluster), else slotkv's node.
pub fn cluster_bin() -> PathBuf {
    match std::env::var_os("CLUSTER_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => node_bin().to_path_buf(),
    }
}

/// A free client port whose bus port (`port + 10000`) is free too, as Redis Cluster needs both.
pub fn free_cluster_port() -> u16 {
    for _ in 0..100 {
        let port = free_port();
        if port < 55000 && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair (port, port + 10000) in 100 attempts");
}

/// The slots of `n` masters split evenly, as `redis-cli --cluster create` splits them:
/// `[(0, 5460), (5461, 10922), (10923, 16383)]` for 3.
pub fn even_ranges(n: usize) -> Vec<(u16, u16)> {
    let count = slotkv_proto::slot::SLOT_COUNT;
    let n = n.max(1);
    let per = count as f64 / n as f64;
    let mut out = Vec::new();
    let mut first = 0usize;
    for i in 0..n {
        let last =
            if i + 1 == n { count - 1 } else { ((i as f64 * per + per - 1.0).round() as usize).max(first) };
        out.push((first as u16, last as u16));
        first = last + 1;
    }
    out
}

/// The fixed id of layout node `i` (40 hex digits).
pub fn layout_id(i: usize) -> String {
    format!("{:08x}", 0x1000_0000 + i).repeat(5)
}

/// The fixed shard id of layout node `i`.
pub fn layout_shard_id(i: usize) -> String {
    format!("{:08x}", 0x5000_0000 + i).repeat(5)
}

/// A cluster's `nodes.conf` as node `me` keeps it: every node a master on 127.0.0.1 with its ports,
/// config epoch `i + 1` and its slot range; `vars currentEpoch n`. Redis 7.0 does not write shard ids
/// (`with_shard_ids` false for it).
pub fn layout_nodes_conf(ports: &[u16], ranges: &[(u16, u16)], me: usize, with_shard_ids: bool) -> String {
    let mut out = String::new();
    for (i, (&port, &(first, last))) in ports.iter().zip(ranges).enumerate() {
        let shard = if with_shard_ids { format!(",,shard-id={}", layout_shard_id(i)) } else { String::new() };
        let flags = if i == me { "myself,master" } else { "master" };
        out.push_str(&format!(
            "{} 127.0.0.1:{port}@{}{shard} {flags} - 0 0 {} connected {first}-{last}\n",
            layout_id(i),
            u32::from(port) + 10000,
            i + 1
        ));
    }
    out.push_str(&format!("vars currentEpoch {} lastVoteEpoch 0\n", ports.len()));
    out
}

/// A line of `CLUSTER NODES`, split into its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodesLine {
    pub id: String,
    /// `ip:port@cport` (with `,hostname` when Redis has one).
    pub addr: String,
    pub flags: Vec<String>,
    pub master: String,
    pub ping_sent: i64,
    pub pong_recv: i64,
    pub config_epoch: u64,
    pub link: String,
    /// Slot ranges and `[slot->-id]` / `[slot-<-id]` entries, as printed.
    pub slots: Vec<String>,
}

impl NodesLine {
    /// The client port of `ip:port@cport`.
    pub fn port(&self) -> u16 {
        self.addr
            .split('@')
            .next()
            .and_then(|hp| hp.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// The line without the fields that change by themselves (ping sent, pong received, link state).
    pub fn stable(&self) -> String {
        format!(
            "{} {} {} {} {} {}",
            self.id,
            self.addr,
            self.flags.join(","),
            self.master,
            self.config_epoch,
            self.slots.join(" ")
        )
    }
}

fn is_node_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses and checks one `CLUSTER NODES` line against the format Redis prints; `Err` says what is wrong.
pub fn parse_nodes_line(line: &str) -> Result<NodesLine, String> {
    let words: Vec<&str> = line.split(' ').collect();
    if words.len() < 8 {
        return Err(format!("fewer than 8 fields: {line:?}"));
    }
    let id = words[0];
    if !is_node_id(id) {
        return Err(format!("bad id {id:?}"));
    }
    let addr = words[1];
    let hostport = addr.split(',').next().unwrap_or_default();
    let (hp, cport) = hostport.split_once('@').ok_or(format!("no @cport in {addr:?}"))?;
    let (_ip, port) = hp.rsplit_once(':').ok_or(format!("no :port in {addr:?}"))?;
    port.parse::<u16>().map_err(|_| format!("bad port in {addr:?}"))?;
    cport.parse::<u16>().map_err(|_| format!("bad bus port in {addr:?}"))?;
    let flags: Vec<String> = words[2].split(',').map(str::to_string).collect();
    const KNOWN: [&str; 9] =
        ["myself", "master", "slave", "fail?", "fail", "handshake", "noaddr", "nofailover", "noflags"];
    if let Some(f) = flags.iter().find(|f| !KNOWN.contains(&f.as_str())) {
        return Err(format!("unknown flag {f:?}"));
    }
    let master = words[3];
    if master != "-" && !is_node_id(master) {
        return Err(format!("bad master field {master:?}"));
    }
    let int = |s: &str, what: &str| s.parse::<i64>().map_err(|_| format!("bad {what} {s:?}"));
    let ping_sent = int(words[4], "ping-sent")?;
    let pong_recv = int(words[5], "pong-recv")?;
    let config_epoch = words[6].parse::<u64>().map_err(|_| format!("bad config epoch {:?}", words[6]))?;
    let link = words[7];
    if link != "connected" && link != "disconnected" {
        return Err(format!("bad link state {link:?}"));
    }
    let mut slots = Vec::new();
    for spec in &words[8..] {
        let ok = if let Some(inner) = spec.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let pair = inner.split_once("->-").or_else(|| inner.split_once("-<-"));
            pair.is_some_and(|(slot, id)| slot.parse::<u16>().is_ok_and(|s| s < 16384) && is_node_id(id))
        } else {
            let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
            match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(a), Ok(b)) => a <= b && b < 16384,
                _ => false,
            }
        };
        if !ok {
            return Err(format!("bad slot field {spec:?}"));
        }
        slots.push(spec.to_string());
    }
    Ok(NodesLine {
        id: id.to_string(),
        addr: addr.to_string(),
        flags,
        master: master.to_string(),
        ping_sent,
        pong_recv,
        config_epoch,
        link: link.to_string(),
        slots,
    })
}

/// Parses every line of a `CLUSTER NODES` reply; panics naming the bad line.
#[track_caller]
pub fn parse_nodes(text: &str) -> Vec<NodesLine> {
    assert!(text.ends_with('\n'), "CLUSTER NODES must end with a newline: {text:?}");
    text.lines()
        .map(|l| parse_nodes_line(l).unwrap_or_else(|e| panic!("CLUSTER NODES line {l:?}: {e}")))
        .collect()
}

/// Slot owners by node id from a `CLUSTER NODES` text (16384 entries, `None` for unassigned slots).
pub fn slot_owners(nodes: &[NodesLine]) -> Vec<Option<String>> {
    let mut owners = vec![None; slotkv_proto::slot::SLOT_COUNT];
    for n in nodes {
        for spec in n.slots.iter().filter(|s| !s.starts_with('[')) {
            let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
            let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) else { continue };
            for owner in owners.iter_mut().take(b + 1).skip(a) {
                *owner = Some(n.id.clone());
            }
        }
    }
    owners
}

impl Conn {
    /// A field of `CLUSTER INFO` (`cluster_state`).
    #[track_caller]
    pub fn cluster_info(&mut self, field: &str) -> String {
        let info = self.cmd(&["CLUSTER", "INFO"]).text();
        info_field(&info, field).unwrap_or_else(|| panic!("no {field} in CLUSTER INFO:\n{info}"))
    }

    /// `CLUSTER NODES`, parsed and checked.
    #[track_caller]
    pub fn cluster_nodes(&mut self) -> Vec<NodesLine> {
        parse_nodes(&self.cmd(&["CLUSTER", "NODES"]).text())
    }
}

/// Nodes started with `--cluster-enabled yes` as one cluster, each in its own directory (under one
/// temporary root) on a port whose bus port is free too. Killed on `Drop`.
pub struct TestCluster {
    pub nodes: Vec<Node>,
    /// Node ids, by node index.
    pub ids: Vec<String>,
    bin: PathBuf,
    /// Kept for its `Drop`, after the nodes (fields drop in order).
    _root: tempfile::TempDir,
}

impl TestCluster {
    /// `n` masters of [`cluster_bin`] from a fixed layout, see [`TestCluster::from_layout_bin`].
    pub fn from_layout(n: usize) -> TestCluster {
        TestCluster::from_layout_bin(&cluster_bin(), n)
    }

    /// `n` masters assembled without the cluster bus: each node's `nodes.conf` is written before it starts
    /// ([`layout_nodes_conf`]: ids [`layout_id`], slots split evenly ([`even_ranges`]), config epochs
    /// 1..=n). Waits until every node reports `cluster_state:ok` (Redis takes up to 2 s after start).
    pub fn from_layout_bin(bin: &Path, n: usize) -> TestCluster {
        TestCluster::from_layout_args(bin, n, &[])
    }

    /// [`TestCluster::from_layout_bin`] with more settings for every node (`--cluster-node-timeout`).
    pub fn from_layout_args(bin: &Path, n: usize, extra: &[&str]) -> TestCluster {
        let root = tempfile::Builder::new()
            .prefix("slotkv-cluster-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let ports: Vec<u16> = (0..n).map(|_| free_cluster_port()).collect();
        let ranges = even_ranges(n);
        let mut nodes = Vec::new();
        for (i, &port) in ports.iter().enumerate() {
            let dir = root.path().join(format!("node{i}"));
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            let conf = layout_nodes_conf(&ports, &ranges, i, !is_redis(bin));
            std::fs::write(dir.join("nodes.conf"), conf).unwrap_or_else(|e| panic!("write nodes.conf: {e}"));
            nodes.push(
                Node::builder(bin)
                    .dir(&dir)
                    .port(port)
                    .args(&["--cluster-enabled", "yes"])
                    .args(extra)
                    .start(),
            );
        }
        for (i, node) in nodes.iter().enumerate() {
            assert_eq!(node.port, ports[i], "node {i} lost its port to another process; its layout is void");
        }
        let cluster =
            TestCluster { nodes, ids: (0..n).map(layout_id).collect(), bin: bin.to_path_buf(), _root: root };
        cluster.wait_ok(Duration::from_secs(15));
        cluster
    }

    /// `n` empty masters of [`cluster_bin`] joined by `redis-cli --cluster create ... --cluster-yes`
    /// (needs `CLUSTER MEET` and the bus); waits until every node knows all and reports `cluster_state:ok`.
    pub fn create_with_redis_cli(n: usize) -> TestCluster {
        TestCluster::create_with_redis_cli_bin(&cluster_bin(), n)
    }

    /// [`TestCluster::create_with_redis_cli`] with another binary.
    pub fn create_with_redis_cli_bin(bin: &Path, n: usize) -> TestCluster {
        let root = tempfile::Builder::new()
            .prefix("slotkv-cluster-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut nodes = Vec::new();
        for i in 0..n {
            let dir = root.path().join(format!("node{i}"));
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            let port = free_cluster_port();
            nodes.push(Node::builder(bin).dir(&dir).port(port).args(&["--cluster-enabled", "yes"]).start());
        }
        let mut args = vec!["--cluster".to_string(), "create".to_string()];
        args.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
        args.push("--cluster-yes".into());
        let out = redis_cli(&args);
        assert!(
            out.status.success() && out.stdout.contains("[OK] All 16384 slots covered"),
            "redis-cli {args:?}:\n{out}"
        );
        let ids = nodes.iter().map(|node| node.conn().cmd(&["CLUSTER", "MYID"]).text()).collect();
        let cluster = TestCluster { nodes, ids, bin: bin.to_path_buf(), _root: root };
        cluster.wait_ok(Duration::from_secs(20));
        cluster
    }

    /// Whether the nodes are real `redis-server`s (checking the tests' expectations).
    pub fn is_redis(&self) -> bool {
        is_redis(&self.bin)
    }

    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// `127.0.0.1:<port>` of node `i`, as redirects name it.
    pub fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.nodes[i].port)
    }

    pub fn conn(&self, i: usize) -> Conn {
        self.nodes[i].conn()
    }

    /// Slot owners (node indexes) as node `via` sees them.
    #[track_caller]
    pub fn owners(&self, via: usize) -> Vec<Option<usize>> {
        let nodes = self.conn(via).cluster_nodes();
        slot_owners(&nodes)
            .into_iter()
            .map(|id| id.and_then(|id| self.ids.iter().position(|x| *x == id)))
            .collect()
    }

    /// Polls until every node answers `cluster_state:ok` and knows every other node; panics after `timeout`
    /// with what each node reports.
    #[track_caller]
    pub fn wait_ok(&self, timeout: Duration) {
        let n = self.nodes.len().to_string();
        let ok = wait_for(timeout, || {
            self.nodes.iter().all(|node| {
                let mut c = node.conn();
                c.cluster_info("cluster_state") == "ok" && c.cluster_info("cluster_known_nodes") == n
            })
        });
        if !ok {
            let report: Vec<String> =
                self.nodes.iter().map(|node| node.conn().cmd(&["CLUSTER", "INFO"]).text()).collect();
            panic!("the cluster did not become ok within {timeout:?}:\n{}", report.join("\n"));
        }
    }

    /// Polls until every node's `CLUSTER NODES`, without the fields that change by themselves, is the same
    /// set of lines (flags `myself` removed); false after `timeout`.
    pub fn wait_agree(&self, timeout: Duration) -> bool {
        wait_for(timeout, || {
            let views: Vec<Vec<String>> = self.nodes.iter().map(|node| self.view(node)).collect();
            views.windows(2).all(|w| w[0] == w[1])
        })
    }

    /// One node's view, comparable across nodes: sorted stable lines, without `myself` and slot states.
    fn view(&self, node: &Node) -> Vec<String> {
        let mut lines: Vec<String> = node
            .conn()
            .cluster_nodes()
            .into_iter()
            .map(|mut l| {
                l.flags.retain(|f| f != "myself");
                l.slots.retain(|s| !s.starts_with('['));
                l.stable()
            })
            .collect();
        lines.sort();
        lines
    }

    /// A key named `<prefix><n>` whose slot node `i` serves in the layout that node `via` reports.
    #[track_caller]
    pub fn key_on(&self, i: usize, prefix: &str) -> String {
        let owners = self.owners(0);
        (0..100_000)
            .map(|n| format!("{prefix}{n}"))
            .find(|k| owners[usize::from(slotkv_proto::slot::key_slot(k.as_bytes()))] == Some(i))
            .unwrap_or_else(|| panic!("no key with prefix {prefix:?} on node {i}"))
    }

    /// Restarts every node (`SIGKILL` first when `crash`, else `SIGTERM`) on its directory and port.
    #[track_caller]
    pub fn restart_all(&mut self, crash: bool) {
        for node in &mut self.nodes {
            if crash {
                node.kill9();
            } else {
                node.terminate();
            }
        }
        let ports: Vec<u16> = self.nodes.iter().map(|n| n.port).collect();
        for node in &mut self.nodes {
            node.restart();
        }
        for (i, node) in self.nodes.iter().enumerate() {
            assert_eq!(node.port, ports[i], "node {i} came back on another port");
        }
    }
}

/// What a tool printed and how it ended.
pub struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for ToolOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({})\n--- stdout ---\n{}\n--- stderr ---\n{}", self.status, self.stdout, self.stderr)
    }
}

/// Runs a program (`redis-cli`, `redis-benchmark`) to its end, with no input.
#[track_caller]
pub fn run_tool<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S]) -> ToolOutput {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    ToolOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `redis-cli` with `args`.
#[track_caller]
pub fn redis_cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> ToolOutput {
    run_tool("redis-cli", args)
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
    fn manifest_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert!(aof_manifest(dir.path()).is_empty());
        assert_eq!(aof_base_seq(dir.path()), 0);
        std::fs::create_dir(dir.path().join("appendonlydir")).unwrap();
        std::fs::write(
            dir.path().join("appendonlydir/appendonly.aof.manifest"),
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.3.incr.aof seq 3 type i\nfile appendonly.aof.4.incr.aof seq 4 type i\n",
        )
        .unwrap();
        assert_eq!(aof_manifest(dir.path()).len(), 4);
        assert_eq!(aof_base_seq(dir.path()), 2);
        assert_eq!(last_incr_file(dir.path()), dir.path().join("appendonlydir/appendonly.aof.4.incr.aof"));
    }

    #[test]
    fn info_fields() {
        let info = "# Server\r\nredis_version:7.2.4\r\nport:1\r\n";
        assert_eq!(info_field(info, "redis_version").as_deref(), Some("7.2.4"));
        assert_eq!(info_field(info, "redis"), None);
    }

    #[test]
    fn cluster_layout_and_nodes_lines() {
        assert_eq!(even_ranges(3), vec![(0, 5460), (5461, 10922), (10923, 16383)]);
        assert_eq!(even_ranges(1), vec![(0, 16383)]);
        assert_eq!(even_ranges(6).last(), Some(&(13653, 16383)));
        let conf = layout_nodes_conf(&[7000, 7001], &even_ranges(2), 1, false);
        let lines: Vec<&str> = conf.lines().collect();
        assert_eq!(
            lines[1],
            format!("{} 127.0.0.1:7001@17001 myself,master - 0 0 2 connected 8192-16383", layout_id(1))
        );
        assert_eq!(lines[2], "vars currentEpoch 2 lastVoteEpoch 0");
        let nodes = parse_nodes(&format!("{}\n{}\n", lines[0], lines[1]));
        assert_eq!(nodes[1].port(), 7001);
        let owners = slot_owners(&nodes);
        assert_eq!(owners[8191].as_deref(), Some(layout_id(0).as_str()));
        assert_eq!(owners[8192].as_deref(), Some(layout_id(1).as_str()));
        let id = layout_id(0);
        assert!(parse_nodes_line(&format!("{id} :7000@17000 myself,master - 0 0 0 connected 5 [5->-{id}]"))
            .is_ok());
        assert!(parse_nodes_line(&format!("{id} :7000@17000 myself,master - 0 0 0 connected 5-2")).is_err());
        assert!(parse_nodes_line(&format!("{id} :7000 myself,master - 0 0 0 connected")).is_err());
        assert!(parse_nodes_line(&format!("{id} :7000@17000 myself,boss - 0 0 0 connected")).is_err());
    }
}
pub mod cli;
pub mod cluster_replicas;
pub mod dataset;
pub mod router;
