//! The `slotkv-router` process for end-to-end tests: [`RouterProc::start`] runs the binary (built once per
//! test process unless `SLOTKV_ROUTER_BIN` names one) on a free port in front of the given seeds, waits
//! until it answers `PING`, and kills it on `Drop` (printing its log when the test failed).

use crate::{free_port, node_bin, Conn};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The router binary under test.
pub fn router_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SLOTKV_ROUTER_BIN") {
            return PathBuf::from(bin);
        }
        let dir = node_bin().parent().map(Path::to_path_buf).unwrap_or_default();
        let bin = dir.join("slotkv-router");
        crate::build_package(&dir, "slotkv-router", &bin, "SLOTKV_ROUTER_BIN");
        bin
    })
}

/// A running router.
pub struct RouterProc {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl RouterProc {
    /// Starts a router in front of `seeds` (`127.0.0.1:port`) with extra flags; waits until it answers.
    pub fn start(seeds: &[String], extra: &[&str]) -> RouterProc {
        let mut dir = tempfile::Builder::new()
            .prefix("slotkv-router-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        for _ in 0..5 {
            let port = free_port();
            let log = dir.path().join(format!("router-{port}.log"));
            let file =
                std::fs::File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
            let err = file.try_clone().unwrap_or_else(|e| panic!("log file: {e}"));
            let child = Command::new(router_bin())
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--seeds", &seeds.join(",")])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(file)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", router_bin().display()));
            let mut router = RouterProc { child, port, log, _dir: dir };
            if router.wait_ready(Duration::from_secs(20)) {
                return router;
            }
            if !router.log().contains("in use") {
                panic!("the router did not start:\n{}", router.log());
            }
            dir = router.take_dir();
        }
        panic!("the router could not get a free port in 5 attempts");
    }

    fn take_dir(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let placeholder = tempfile::Builder::new()
            .prefix("slotkv-router-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        std::mem::replace(&mut self._dir, placeholder)
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut s = stream;
                let mut buf = [0u8; 64];
                if s.write_all(b"PING\r\n").is_ok() {
                    if let Ok(n) = s.read(&mut buf) {
                        if buf.get(..n).is_some_and(|b| b.starts_with(b"+PONG") || b.starts_with(b"-NOAUTH"))
                        {
                            return true;
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `SIGTERM`, then waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for RouterProc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- router log ----\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
