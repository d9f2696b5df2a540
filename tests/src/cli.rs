//! Helpers for the `slotkv` CLI tests: the binary (built like the node's), running it with a deadline,
//! and a local cluster described by a `cluster.toml` on free ports.

use crate::{free_cluster_port, node_bin};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `slotkv` binary under test (next to `slotkv-node`, where `slotkv up` looks for it), built once per
/// process unless `SLOTKV_CLI_BIN` names one.
pub fn cli_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SLOTKV_CLI_BIN") {
            return PathBuf::from(bin);
        }
        let dir = node_bin().parent().map(Path::to_path_buf).unwrap_or_default();
        let bin = dir.join("slotkv");
        crate::build_package(&dir, "slotkv-cli", &bin, "SLOTKV_CLI_BIN");
        bin
    })
}

/// What one `slotkv` run printed and how it ended.
#[derive(Debug)]
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for CliRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// How long one `slotkv` command may run in a test.
pub const CLI_DEADLINE: Duration = Duration::from_secs(120);

/// Runs `slotkv ARGS...` (stdin closed) and waits for it, killing it past [`CLI_DEADLINE`].
pub fn slotkv<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> CliRun {
    let mut child = Command::new(cli_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", cli_bin().display()));
    // Read both pipes on threads, so a chatty command never blocks on a full pipe.
    let mut out = child.stdout.take().unwrap_or_else(|| panic!("no stdout pipe"));
    let mut err = child.stderr.take().unwrap_or_else(|| panic!("no stderr pipe"));
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let until = Instant::now() + CLI_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("wait slotkv: {e}")) {
            break status;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "slotkv {:?} still running after {}s",
                args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
                CLI_DEADLINE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CliRun {
        code: status.code().unwrap_or(-1),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// A temporary directory in memory (`/dev/shm`) when there is one: nodes fsync their `nodes.conf` on
/// every slot change, and moving thousands of slots on a slow disk would make the tests crawl.
pub fn fast_tempdir(prefix: &str) -> tempfile::TempDir {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() { b.tempdir_in(shm) } else { b.tempdir() };
    dir.unwrap_or_else(|e| panic!("tempdir: {e}"))
}

/// A local cluster of `slotkv up`: a `cluster.toml` with free ports in a temporary directory; `Drop`
/// runs `slotkv down`.
pub struct LocalCluster {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub ports: Vec<u16>,
}

impl LocalCluster {
    /// Writes the `cluster.toml` of `n` nodes (no router); starts nothing.
    pub fn new(n: usize) -> LocalCluster {
        LocalCluster::with_nodes(n, "")
    }

    /// The same, with more lines for its `[nodes]` table (`"replicas = 1\nargs = [...]\n"`).
    pub fn with_nodes(n: usize, nodes_toml: &str) -> LocalCluster {
        let dir = fast_tempdir("slotkv-cli-");
        let ports: Vec<u16> = (0..n).map(|_| free_cluster_port()).collect();
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        let text = format!(
            "host = \"127.0.0.1\"\ndata_dir = \"data\"\n[nodes]\nports = [{}]\n{nodes_toml}[router]\nenabled = false\n",
            list.join(", ")
        );
        let config = dir.path().join("cluster.toml");
        std::fs::write(&config, text).unwrap_or_else(|e| panic!("write cluster.toml: {e}"));
        LocalCluster { dir, config, ports }
    }

    /// `slotkv -c <its cluster.toml> ARGS...`.
    pub fn run(&self, args: &[&str]) -> CliRun {
        let mut all: Vec<&std::ffi::OsStr> = vec!["-c".as_ref(), self.config.as_os_str()];
        all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        slotkv(&all)
    }

    /// `slotkv up`, which must succeed.
    pub fn up(&self) -> CliRun {
        let run = self.run(&["up"]);
        assert_eq!(run.code, 0, "slotkv up:\n{run}\n{}", self.logs());
        run
    }

    pub fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.ports[i])
    }

    /// The end of every node's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for p in &self.ports {
            let log = self.dir.path().join("data").join(p.to_string()).join("node.log");
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!(
                "--- {}\n{}\n",
                log.display(),
                lines[lines.len().saturating_sub(15)..].join("\n")
            ));
        }
        out
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = self.run(&["down", "--timeout", "30"]);
    }
}

/// Node settings that make replication tests quick: a full copy starts at once (no 5 s wait for other
/// replicas) and a master is failed after 2 s.
pub const FAST_REPLICATION: [&str; 4] = ["--repl-diskless-sync-delay", "0", "--cluster-node-timeout", "2000"];

/// Lines of `slotkv check`'s text that describe a replica whose link is up.
pub fn replicas_up(check_stdout: &str) -> usize {
    check_stdout.lines().filter(|l| l.contains(" replica link up ")).count()
}
