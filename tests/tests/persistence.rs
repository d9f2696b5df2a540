//! Persistence end to end: every data type survives a restart through a snapshot, the AOF and both; AOF
//! rewrites under load lose nothing; a truncated AOF tail recovers; corrupt files are refused with the file
//! and offset named; a full disk gives `-MISCONF`, never a lost acknowledged write; a loading node answers
//! `-LOADING`.
//!
//! The tests run slotkv's node; `PERSIST_BIN=/usr/bin/redis-server` runs them against Redis 7, which has
//! the same commands, settings and file names, to check the tests themselves. Parts that only slotkv has
//! (the `check-aof`/`check-snapshot` tools, the AOF's `#C:` checksums, byte offsets in messages) are
//! marked "slotkv only" and skipped against Redis.

use slotkv_tests::dataset::{assert_same, contents, fill, unix_ms};
use slotkv_tests::{
    aof_base_seq, is_redis, last_incr_file, node_bin, persist_bin, wait_for, Conn, Node, Reply,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the keys of [`short_lived`] live: long enough to be saved, short enough to expire while the
/// node is down.
const SHORT_TTL_MS: u64 = 700;

/// Keys that expire while the node is down; returns when they will have expired.
fn short_lived(c: &mut Conn) -> Instant {
    let expire = Instant::now() + Duration::from_millis(SHORT_TTL_MS);
    c.ok(&["SET", "short:str", "v", "PX", &SHORT_TTL_MS.to_string()]);
    c.int(&["HSET", "short:hash", "f", "v"]);
    c.int(&["PEXPIRE", "short:hash", &SHORT_TTL_MS.to_string()]);
    expire
}

/// Waits (while the node is down) until the keys of [`short_lived`] have expired.
fn wait_until(t: Instant) {
    let now = Instant::now();
    if t + Duration::from_millis(50) > now {
        std::thread::sleep(t + Duration::from_millis(50) - now);
    }
}

#[track_caller]
fn assert_short_lived_gone(c: &mut Conn) {
    assert_eq!(c.int(&["EXISTS", "short:str", "short:hash"]), 0, "keys that expired while down came back");
}

fn start(extra: &[&str]) -> Node {
    Node::start_bin(&persist_bin(), extra)
}

// ---- 1. every type survives every way of persisting ----

#[test]
fn snapshot_save_then_kill9() {
    let mut node = start(&[]);
    let mut c = node.conn();
    fill(&mut c);
    let before = contents(&mut c);
    let expire = short_lived(&mut c);
    let changes = c.persistence("rdb_changes_since_last_save");
    assert!(
        changes.parse::<u64>().is_ok_and(|n| n > 0),
        "rdb_changes_since_last_save:{changes} after writes"
    );
    c.ok(&["SAVE"]);
    assert_eq!(c.persistence("rdb_changes_since_last_save"), "0");
    assert_eq!(c.persistence("rdb_last_bgsave_status"), "ok");
    let lastsave = c.int(&["LASTSAVE"]);
    assert!((unix_ms() / 1000 - lastsave).abs() <= 2, "LASTSAVE {lastsave}");
    assert!(node.dir().join("dump.rdb").is_file(), "no dump.rdb after SAVE");
    // Written after the snapshot: lost by a crash without AOF.
    c.ok(&["SET", "after:save", "x"]);
    node.kill9();
    wait_until(expire);
    node.restart();
    let mut c = node.conn();
    assert_eq!(c.bulk(&["GET", "after:save"]), None, "a write after SAVE survived a crash without AOF");
    assert_short_lived_gone(&mut c);
    assert_same(&before, &contents(&mut c), "snapshot (SAVE, kill -9)");
    // LASTSAVE after loading is the snapshot's time or later, never 0.
    assert!(c.int(&["LASTSAVE"]) >= lastsave);
}

#[test]
fn bgsave_then_kill9() {
    let mut node = start(&[]);
    let mut c = node.conn();
    fill(&mut c);
    let reply = c.cmd(&["BGSAVE"]).text();
    assert!(reply.starts_with("Background saving started"), "BGSAVE: {reply}");
    let done = wait_for(Duration::from_secs(20), || {
        c.persistence("rdb_bgsave_in_progress") == "0" && c.persistence("rdb_changes_since_last_save") == "0"
    });
    assert!(done, "BGSAVE did not finish");
    assert_eq!(c.persistence("rdb_last_bgsave_status"), "ok");
    // SCHEDULE starts at once when nothing else runs in the background.
    c.ok(&["SET", "after:first", "1"]);
    let reply = c.cmd(&["BGSAVE", "SCHEDULE"]).text();
    assert!(reply.starts_with("Background saving"), "BGSAVE SCHEDULE: {reply}");
    let done = wait_for(Duration::from_secs(20), || {
        c.persistence("rdb_bgsave_in_progress") == "0" && c.persistence("rdb_changes_since_last_save") == "0"
    });
    assert!(done, "BGSAVE SCHEDULE did not save");
    let before = contents(&mut c);
    node.kill9();
    node.restart();
    assert_same(&before, &contents(&mut node.conn()), "snapshot (BGSAVE, kill -9)");
}

/// `SHUTDOWN how`: the node closes the connection without a reply.
#[track_caller]
fn shutdown(c: &mut Conn, how: &str) {
    match c.try_cmd(&["SHUTDOWN", how]) {
        Ok(reply) => panic!("SHUTDOWN {how} answered {reply:?}"),
        Err(e) => assert!(
            !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            "SHUTDOWN {how}: the connection stayed open"
        ),
    }
}

#[test]
fn shutdown_save_and_nosave() {
    let mut node = start(&[]);
    let mut c = node.conn();
    fill(&mut c);
    let before = contents(&mut c);
    let expire = short_lived(&mut c);
    shutdown(&mut c, "SAVE");
    let status = node.wait_exit(Duration::from_secs(20)).expect("node still running after SHUTDOWN SAVE");
    assert!(status.success(), "SHUTDOWN SAVE exit status {status}");
    wait_until(expire);
    node.restart();
    let mut c = node.conn();
    assert_short_lived_gone(&mut c);
    assert_same(&before, &contents(&mut c), "SHUTDOWN SAVE");

    // SHUTDOWN NOSAVE with save rules: the change since the last save is not kept.
    c.ok(&["CONFIG", "SET", "save", "3600 1"]);
    c.ok(&["SET", "after:nosave", "x"]);
    shutdown(&mut c, "NOSAVE");
    assert!(node.wait_exit(Duration::from_secs(20)).is_some(), "node still running after SHUTDOWN NOSAVE");
    node.restart();
    let mut c = node.conn();
    assert_eq!(c.bulk(&["GET", "after:nosave"]), None, "SHUTDOWN NOSAVE saved");
    assert_same(&before, &contents(&mut c), "after SHUTDOWN NOSAVE");
}

#[test]
fn sigterm_saves_with_save_rules() {
    let mut node = start(&["--save", "3600 1000000"]);
    let mut c = node.conn();
    fill(&mut c);
    let before = contents(&mut c);
    let expire = short_lived(&mut c);
    assert!(!node.dir().join("dump.rdb").exists(), "a save rule that cannot fire yet wrote a snapshot");
    let status = node.terminate();
    assert!(status.success(), "SIGTERM exit status {status}; log:\n{}", node.log());
    assert!(node.dir().join("dump.rdb").is_file(), "no dump.rdb after SIGTERM with save rules");
    wait_until(expire);
    node.restart();
    let mut c = node.conn();
    assert_short_lived_gone(&mut c);
    assert_same(&before, &contents(&mut c), "SIGTERM with save rules");
}

#[test]
fn aof_alone_everysec_sigterm() {
    let mut node = start(&["--appendonly", "yes", "--appendfsync", "everysec"]);
    let mut c = node.conn();
    assert_eq!(c.persistence("aof_enabled"), "1");
    fill(&mut c);
    let before = contents(&mut c);
    let expire = short_lived(&mut c);
    let status = node.terminate();
    assert!(status.success(), "SIGTERM exit status {status}");
    assert!(!node.dir().join("dump.rdb").exists(), "SIGTERM without save rules wrote a snapshot");
    assert!(aof_base_seq(node.dir()) >= 1, "no AOF manifest with a base file");
    wait_until(expire);
    node.restart();
    let mut c = node.conn();
    assert_short_lived_gone(&mut c);
    assert_same(&before, &contents(&mut c), "AOF everysec, SIGTERM");
}

#[test]
fn aof_alone_always_kill9() {
    let mut node = start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = node.conn();
    fill(&mut c);
    // A transaction is logged whole.
    c.ok(&["MULTI"]);
    c.expect(&["SET", "tx:a", "1"], b"+QUEUED\r\n");
    c.expect(&["INCR", "tx:b"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"*2\r\n+OK\r\n:1\r\n");
    let before = contents(&mut c);
    let expire = short_lived(&mut c);
    node.kill9();
    wait_until(expire);
    node.restart();
    let mut c = node.conn();
    assert_short_lived_gone(&mut c);
    assert_same(&before, &contents(&mut c), "AOF always, kill -9");
    // A second crash after more writes: the restarted node appends to the same AOF.
    c.ok(&["SET", "second:run", "yes"]);
    let before = contents(&mut c);
    node.kill9();
    node.restart();
    assert_same(&before, &contents(&mut node.conn()), "AOF always, second kill -9");
}

#[test]
fn aof_and_snapshot_aof_wins() {
    let mut node = start(&["--appendonly", "yes", "--appendfsync", "always", "--save", "3600 1000000"]);
    let mut c = node.conn();
    fill(&mut c);
    c.ok(&["SAVE"]);
    assert!(node.dir().join("dump.rdb").is_file(), "no dump.rdb after SAVE");
    // After the snapshot: only the AOF has these.
    c.ok(&["SET", "after:save", "x"]);
    c.int(&["DEL", "s:plain"]);
    c.int(&["RPUSH", "l:small", "later"]);
    let before = contents(&mut c);
    let expire = short_lived(&mut c);
    node.kill9();
    wait_until(expire);
    node.restart();
    let mut c = node.conn();
    assert_eq!(c.bulk(&["GET", "after:save"]).as_deref(), Some(b"x".as_slice()), "AOF did not win");
    assert_short_lived_gone(&mut c);
    assert_same(&before, &contents(&mut c), "AOF and snapshot, kill -9");
}

// ---- 2. rewrites under load ----

/// Writers on their own connections: INCR, RPUSH, HSET per iteration; each returns how many iterations
/// were acknowledged in full.
fn writers(node: &Node, n: usize, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<u64>> {
    (0..n)
        .map(|t| {
            let mut c = node.conn();
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let i = done.to_string();
                    assert_eq!(c.int(&["INCR", &format!("cnt:{t}")]), i64::try_from(done + 1).unwrap_or(0));
                    c.int(&["RPUSH", &format!("list:{t}"), &i]);
                    c.int(&["HSET", &format!("hash:{t}"), &format!("f{i}"), &i]);
                    done += 1;
                }
                done
            })
        })
        .collect()
}

#[track_caller]
fn check_writers(c: &mut Conn, acked: &[u64]) {
    for (t, &n) in acked.iter().enumerate() {
        let got = c.bulk(&["GET", &format!("cnt:{t}")]).map(|v| String::from_utf8_lossy(&v).into_owned());
        assert_eq!(got, Some(n.to_string()), "counter of writer {t}");
        let list = c.cmd(&["LRANGE", &format!("list:{t}"), "0", "-1"]).strings();
        let want: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        assert!(list == want, "list of writer {t}: {} items, want {n}", list.len());
        assert_eq!(
            c.int(&["HLEN", &format!("hash:{t}")]),
            i64::try_from(n).unwrap_or(0),
            "hash of writer {t}"
        );
        if n > 0 {
            let last = (n - 1).to_string();
            assert_eq!(c.bulk(&["HGET", &format!("hash:{t}"), &format!("f{last}")]), Some(last.into_bytes()));
        }
    }
}

/// Waits until no rewrite is running or scheduled; asserts the last one succeeded.
#[track_caller]
fn wait_rewrite_done(c: &mut Conn) {
    let done = wait_for(Duration::from_secs(30), || {
        c.persistence("aof_rewrite_in_progress") == "0"
            && c.persistence("aof_rewrite_scheduled").as_str() != "1"
    });
    assert!(done, "AOF rewrite still in progress after 30 s");
    assert_eq!(c.persistence("aof_last_bgrewrite_status"), "ok");
}

#[test]
fn bgrewriteaof_during_heavy_writes_loses_nothing() {
    let mut node = start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = node.conn();
    let first_base = aof_base_seq(node.dir());
    let stop = Arc::new(AtomicBool::new(false));
    let handles = writers(&node, 3, &stop);
    const REWRITES: u64 = 4;
    for _ in 0..REWRITES {
        // Let writes pile up, rewrite, and keep writing while it runs.
        std::thread::sleep(Duration::from_millis(300));
        let reply = c.cmd(&["BGREWRITEAOF"]).text();
        assert!(reply.starts_with("Background append only file rewriting"), "BGREWRITEAOF: {reply}");
        wait_rewrite_done(&mut c);
    }
    // Writes after the last rewrite too.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = handles.into_iter().map(|h| h.join().expect("writer panicked")).collect();
    assert!(acked.iter().all(|&n| n > 10), "writers barely ran: {acked:?}");
    let base = aof_base_seq(node.dir());
    assert!(base >= first_base + REWRITES, "base seq {first_base} -> {base} after {REWRITES} rewrites");
    node.kill9();
    node.restart();
    check_writers(&mut node.conn(), &acked);
}

#[test]
fn automatic_rewrite_with_small_min_size() {
    let mut node = start(&[
        "--appendonly",
        "yes",
        "--auto-aof-rewrite-percentage",
        "100",
        "--auto-aof-rewrite-min-size",
        "65536",
    ]);
    let mut c = node.conn();
    let first_base = aof_base_seq(node.dir());
    let value = "v".repeat(1000);
    // 400 kB of overwrites of 50 keys: the AOF grows far past 64 kB and its rewrite is small.
    let mut i = 0u64;
    let rewrote = wait_for(Duration::from_secs(20), || {
        for _ in 0..50 {
            c.ok(&["SET", &format!("k{}", i % 50), &format!("{i}:{value}")]);
            i += 1;
        }
        aof_base_seq(node.dir()) > first_base
    });
    assert!(rewrote, "no automatic rewrite after {i} writes of 1 kB (base seq still {first_base})");
    wait_rewrite_done(&mut c);
    c.ok(&["SET", "after", "rewrite"]);
    let before = contents(&mut c);
    assert!(node.terminate().success());
    node.restart();
    assert_same(&before, &contents(&mut node.conn()), "after an automatic rewrite");
}

// ---- 3. truncated AOF tail ----

/// Where the last command (`*N` at a line start) begins in an AOF file.
fn last_command_start(aof: &[u8]) -> usize {
    let found = aof.windows(3).rposition(|w| w[0] == b'\n' && w[1] == b'*' && w[2].is_ascii_digit());
    match found {
        Some(p) => p + 1,
        None if aof.first() == Some(&b'*') => 0,
        None => panic!("no command in the AOF: {}", slotkv_tests::show(aof)),
    }
}

#[test]
fn truncated_aof_tail_recovers() {
    let mut node = start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = node.conn();
    const N: usize = 50;
    for i in 0..N {
        c.ok(&["SET", &format!("key:{i}"), &format!("value-{i}-{}", "x".repeat(40))]);
    }
    assert!(node.terminate().success());
    let incr = last_incr_file(node.dir());
    let aof = std::fs::read(&incr).unwrap_or_else(|e| panic!("read {}: {e}", incr.display()));
    let start = last_command_start(&aof);
    let cut = start + (aof.len() - start) / 2;
    assert!(
        String::from_utf8_lossy(&aof[start..]).contains(&format!("key:{}", N - 1)),
        "the last command is not the last SET"
    );
    truncate(&incr, cut);

    // Refused when truncated tails are not accepted.
    node.respawn(&["--aof-load-truncated", "no"]);
    let status = node.wait_exit(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| !s.success()),
        "started with a truncated AOF and aof-load-truncated no ({status:?}); log:\n{}",
        node.log()
    );

    // Accepted by default: the prefix, with a warning naming the file.
    node.restart();
    let log = node.log();
    let file_name = incr.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    assert!(
        log.to_ascii_lowercase().contains("truncat") && log.contains(&file_name),
        "no warning naming {file_name} about the truncated AOF; log:\n{log}"
    );
    let mut c = node.conn();
    assert_eq!(c.int(&["DBSIZE"]), i64::try_from(N - 1).unwrap_or(0));
    for i in 0..N - 1 {
        assert!(c.bulk(&["GET", &format!("key:{i}")]).is_some(), "key:{i} lost");
    }
    assert_eq!(c.bulk(&["GET", &format!("key:{}", N - 1)]), None, "the cut command was applied");
    // The node keeps working and appending after the repair.
    c.ok(&["SET", "after", "repair"]);
    node.kill9();
    node.restart();
    let mut c = node.conn();
    assert_eq!(c.int(&["DBSIZE"]), i64::try_from(N).unwrap_or(0));
    assert_eq!(c.bulk(&["GET", "after"]).as_deref(), Some(b"repair".as_slice()));
}

fn truncate(path: &Path, len: usize) {
    let f =
        std::fs::OpenOptions::new().write(true).open(path).unwrap_or_else(|e| panic!("open {path:?}: {e}"));
    f.set_len(len as u64).unwrap_or_else(|e| panic!("truncate {path:?}: {e}"));
}

// ---- 4. corrupt files ----

fn flip_byte(path: &Path, at: usize) {
    let mut data = std::fs::read(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    assert!(at < data.len(), "offset {at} past the end of {path:?} ({} bytes)", data.len());
    data[at] ^= 0x5a;
    std::fs::write(path, data).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
}

/// Runs `slotkv-node ARGS...` (a check tool); returns its exit code and stdout + stderr.
fn tool(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(node_bin()).args(args).output().unwrap_or_else(|e| panic!("run {args:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// The node must refuse to start; with slotkv its log names `file` and an offset.
#[track_caller]
fn assert_refuses(node: &mut Node, file: &str, what: &str) {
    node.respawn(&[]);
    let status = node.wait_exit(Duration::from_secs(20));
    let log = node.log();
    assert!(status.is_some_and(|s| !s.success()), "started with {what} ({status:?}); log:\n{log}");
    if !is_redis(&persist_bin()) {
        // slotkv only: Redis does not print offsets.
        assert!(
            log.contains(file) && log.to_ascii_lowercase().contains("offset"),
            "the log does not name {file} and the offset of {what}:\n{log}"
        );
    }
}

#[test]
fn flipped_byte_in_snapshot_is_refused() {
    let mut node = start(&[]);
    let mut c = node.conn();
    fill(&mut c);
    c.ok(&["SAVE"]);
    node.kill9();
    let dump = node.dir().join("dump.rdb");
    let good = std::fs::read(&dump).unwrap_or_else(|e| panic!("read dump.rdb: {e}"));
    let slotkv = !is_redis(&persist_bin());
    if slotkv {
        // slotkv only: the check tool accepts the good file.
        let (code, out) = tool(&["check-snapshot", &dump.to_string_lossy()]);
        assert_eq!(code, Some(0), "check-snapshot on a good snapshot:\n{out}");
    }
    let positions =
        [("header", 2), ("first record", 20), ("middle", good.len() / 2), ("footer", good.len() - 1)];
    for (what, at) in positions {
        std::fs::write(&dump, &good).unwrap_or_else(|e| panic!("restore dump.rdb: {e}"));
        flip_byte(&dump, at);
        let what = format!("a flipped byte at offset {at} ({what}) of dump.rdb");
        assert_refuses(&mut node, "dump.rdb", &what);
        if slotkv {
            let (code, out) = tool(&["check-snapshot", &dump.to_string_lossy()]);
            assert_eq!(code, Some(1), "check-snapshot on {what}:\n{out}");
            assert!(
                out.to_ascii_lowercase().contains("offset"),
                "check-snapshot does not name the offset:\n{out}"
            );
        }
    }
    // The good file loads again.
    std::fs::write(&dump, &good).unwrap_or_else(|e| panic!("restore dump.rdb: {e}"));
    node.restart();
    assert!(node.conn().int(&["DBSIZE"]) > 20);
}

/// slotkv only: Redis has no checksums in its AOF, so a changed value loads silently there.
#[test]
fn flipped_byte_mid_aof_is_refused_and_fixed() {
    if is_redis(&persist_bin()) {
        eprintln!("skipped: AOF checksums are slotkv only");
        return;
    }
    let mut node = start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = node.conn();
    const N: usize = 40;
    for i in 0..N {
        c.ok(&["SET", &format!("key:{i}"), &format!("value-{i:03}-payload")]);
    }
    assert!(node.terminate().success());
    let incr = last_incr_file(node.dir());
    let name = incr.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let aof = std::fs::read(&incr).unwrap_or_else(|e| panic!("read {}: {e}", incr.display()));
    let bad = N / 2;
    let marker = format!("value-{bad:03}-payload");
    let at = aof
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .unwrap_or_else(|| panic!("{marker} not in {name}"))
        + 3;
    flip_byte(&incr, at);
    assert_refuses(&mut node, &name, &format!("a flipped byte at offset {at} of {name}"));

    let manifest = node.dir().join("appendonlydir").join("appendonly.aof.manifest");
    for target in [&incr, &manifest] {
        let (code, out) = tool(&["check-aof", &target.to_string_lossy()]);
        assert_eq!(code, Some(1), "check-aof {} on a corrupt AOF:\n{out}", target.display());
        assert!(
            out.contains(&name) && out.to_ascii_lowercase().contains("offset"),
            "check-aof does not name {name} and the offset:\n{out}"
        );
    }
    let (code, out) = tool(&["check-aof", "--fix", &incr.to_string_lossy()]);
    assert_eq!(code, Some(0), "check-aof --fix:\n{out}");
    let (code, out) = tool(&["check-aof", &incr.to_string_lossy()]);
    assert_eq!(code, Some(0), "check-aof after --fix:\n{out}");
    node.restart();
    let mut c = node.conn();
    for i in 0..bad {
        assert!(c.bulk(&["GET", &format!("key:{i}")]).is_some(), "key:{i} before the damage lost by --fix");
    }
    assert_eq!(c.int(&["DBSIZE"]), i64::try_from(bad).unwrap_or(0), "--fix kept records from the damage on");
}

// ---- 5. disk full ----

/// A small tmpfs mounted on a directory; unmounted on drop (after the node using it is gone).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with a message) when mounting is impossible here and `SLOTKV_SKIP_TMPFS=1`.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::Builder::new()
            .prefix("slotkv-tmpfs-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var("SLOTKV_SKIP_TMPFS").as_deref() == Ok("1") {
                    eprintln!("skipped: cannot mount a tmpfs ({why})");
                    return None;
                }
                panic!(
                    "cannot mount a tmpfs for the disk-full test ({why}); needs root, or SLOTKV_SKIP_TMPFS=1"
                );
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !ok {
            // Busy (a process still holds a file): detach it now; the kernel frees it when released.
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}

/// Fills the file system under `path` with `filler` until it is full, then frees `leave` bytes.
fn fill_disk(filler: &Path, leave: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(filler).unwrap_or_else(|e| panic!("create {filler:?}: {e}"));
    let chunk = vec![0u8; 4096];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = f.flush();
    f.set_len(written.saturating_sub(leave)).unwrap_or_else(|e| panic!("shrink {filler:?}: {e}"));
}

/// A node with the AOF on (`appendfsync policy`, no automatic rewrite) in a 2 MB tmpfs that a filler
/// file has filled to 64 KB from full; `None` if the tmpfs cannot be mounted (see [`Tmpfs::mount`]).
fn node_on_full_disk(policy: &str) -> Option<(Tmpfs, Node, Conn, PathBuf)> {
    let tmpfs = Tmpfs::mount("2m")?;
    let node = Node::builder(&persist_bin())
        .dir(tmpfs.path())
        .args(&["--appendonly", "yes", "--appendfsync", policy, "--auto-aof-rewrite-percentage", "0"])
        .start();
    let c = node.conn();
    let filler: PathBuf = tmpfs.path().join("filler");
    fill_disk(&filler, 64 * 1024);
    Some((tmpfs, node, c, filler))
}

#[test]
fn disk_full_gives_misconf_not_data_loss() {
    let Some((tmpfs, mut node, mut c, filler)) = node_on_full_disk("everysec") else { return };
    let value = "d".repeat(1000);
    let mut acked = Vec::new();
    let mut misconf = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let key = format!("key:{}", acked.len());
        match c.cmd(&["SET", &key, &value]) {
            Reply::Simple(s) if s == "OK" => acked.push(key),
            Reply::Error(e) => {
                misconf = Some(e);
                break;
            }
            other => panic!("SET answered {other:?}"),
        }
    }
    let err = misconf.unwrap_or_else(|| panic!("{} writes of 1 kB on a full disk, no error", acked.len()));
    assert!(err.starts_with("MISCONF"), "error on a full disk: {err}");
    eprintln!("disk full after {} acknowledged writes: {err}", acked.len());
    assert_eq!(c.persistence("aof_last_write_status"), "err");
    // Reads still work.
    assert!(c.bulk(&["GET", "key:0"]).is_some());

    // Room again: writes are accepted again (after the node's next retry).
    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("remove filler: {e}"));
    let mut extra = 0u64;
    let recovered = wait_for(Duration::from_secs(10), || match c.cmd(&["SET", "recovered", "1"]) {
        Reply::Simple(s) if s == "OK" => true,
        Reply::Error(e) if e.starts_with("MISCONF") => {
            extra += 1;
            false
        }
        other => panic!("SET while recovering answered {other:?}"),
    });
    assert!(recovered, "writes still refused 10 s after the disk has room ({extra} MISCONF)");
    assert!(wait_for(Duration::from_secs(5), || c.persistence("aof_last_write_status") == "ok"));
    c.ok(&["SET", "after", "recovery"]);
    assert!(node.terminate().success());
    node.restart();
    let mut c = node.conn();
    for key in &acked {
        assert_eq!(c.bulk(&["GET", key]).as_deref(), Some(value.as_bytes()), "acknowledged {key} lost");
    }
    assert_eq!(c.bulk(&["GET", "after"]).as_deref(), Some(b"recovery".as_slice()));
    drop(c);
    drop(node);
    drop(tmpfs);
}

#[test]
fn disk_full_with_always_exits_without_acknowledging() {
    let Some((tmpfs, mut node, mut c, filler)) = node_on_full_disk("always") else { return };
    let value = "a".repeat(1000);
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let ended = loop {
        assert!(Instant::now() < deadline, "{} writes of 1 kB on a full disk, no failure", acked.len());
        let key = format!("key:{}", acked.len());
        match c.try_cmd(&["SET", &key, &value]) {
            Ok(Reply::Simple(s)) if s == "OK" => acked.push(key),
            Ok(Reply::Error(e)) if e.starts_with("MISCONF") => break e,
            Ok(other) => panic!("SET on a full disk answered {other:?}"),
            Err(e) => break format!("connection ended: {e}"),
        }
    };
    // Redis exits rather than acknowledge a write it could not make durable.
    let status = node.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| !s.success()),
        "node still running ({status:?}) after a failed AOF write with appendfsync always ({ended})"
    );
    eprintln!("disk full after {} acknowledged writes: {ended}", acked.len());
    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("remove filler: {e}"));
    node.restart();
    let mut c = node.conn();
    for key in &acked {
        assert_eq!(c.bulk(&["GET", key]).as_deref(), Some(value.as_bytes()), "acknowledged {key} lost");
    }
    drop(c);
    drop(node);
    drop(tmpfs);
}

#[test]
fn failed_bgsave_with_save_rules_gives_misconf() {
    let Some(tmpfs) = Tmpfs::mount("2m") else { return };
    let mut node = Node::builder(&persist_bin()).dir(tmpfs.path()).args(&["--save", "3600 1"]).start();
    let mut c = node.conn();
    for i in 0..100 {
        c.ok(&["SET", &format!("key:{i}"), &"b".repeat(1000)]);
    }
    let filler: PathBuf = tmpfs.path().join("filler");
    fill_disk(&filler, 0);
    let reply = c.cmd(&["BGSAVE"]).text();
    assert!(reply.starts_with("Background saving started"), "BGSAVE: {reply}");
    assert!(
        wait_for(Duration::from_secs(20), || c.persistence("rdb_bgsave_in_progress") == "0"),
        "BGSAVE on a full disk did not end"
    );
    assert_eq!(c.persistence("rdb_last_bgsave_status"), "err");
    let err = c.err(&["SET", "refused", "1"]);
    assert!(err.starts_with("MISCONF"), "write after a failed BGSAVE with save rules: {err}");
    assert_eq!(c.bulk(&["GET", "key:0"]).map(|v| v.len()), Some(1000), "reads must still work");

    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("remove filler: {e}"));
    let reply = c.cmd(&["BGSAVE"]).text();
    assert!(reply.starts_with("Background saving started"), "BGSAVE: {reply}");
    assert!(
        wait_for(Duration::from_secs(20), || c.persistence("rdb_bgsave_in_progress") == "0"),
        "BGSAVE did not end"
    );
    assert_eq!(c.persistence("rdb_last_bgsave_status"), "ok");
    c.ok(&["SET", "accepted", "1"]);
    node.kill9();
    node.restart();
    assert_eq!(node.conn().int(&["DBSIZE"]), 100, "the snapshot after recovery");
    drop(node);
    drop(tmpfs);
}

// ---- 9. loading ----

#[test]
fn loading_answers_loading() {
    let bin = persist_bin();
    let mut node = Node::start_bin(&bin, &[]);
    let mut c = node.conn();
    const KEYS: usize = 20_000;
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(1000) {
        let mut args = vec!["MSET".to_string()];
        for i in chunk {
            args.push(format!("key:{i}"));
            args.push(i.to_string());
        }
        c.ok(&args);
    }
    c.ok(&["SAVE"]);
    node.kill9();
    // ~100 us per key: about 2 s for 20k keys. Redis answers clients while loading only between reads of
    // this many bytes of the file.
    let mut extra = vec!["--key-load-delay", "100"];
    if is_redis(&bin) {
        extra.extend(["--loading-process-events-interval-bytes", "1024"]);
    }
    let started = Instant::now();
    node.respawn(&extra);
    // Connect as soon as the port is open.
    let mut conn = None;
    assert!(
        wait_for(Duration::from_secs(10), || {
            conn = std::net::TcpStream::connect(node.addr()).ok();
            conn.is_some()
        }),
        "the node did not open its port while loading; log:\n{}",
        node.log()
    );
    drop(conn);
    let mut c = node.conn();
    let got = c.cmd(&["GET", "key:1"]);
    assert_eq!(
        got,
        Reply::Error("LOADING Redis is loading the dataset in memory".into()),
        "GET while loading (after {:?})",
        started.elapsed()
    );
    assert_eq!(c.persistence("loading"), "1");
    node.wait_ready_pub();
    let load_time = started.elapsed();
    assert_eq!(c.persistence("loading"), "0");
    assert_eq!(c.int(&["DBSIZE"]), i64::try_from(KEYS).unwrap_or(0));
    assert_eq!(c.bulk(&["GET", "key:19999"]).as_deref(), Some(b"19999".as_slice()));
    eprintln!("loaded {KEYS} keys in {load_time:?}");
}

/// A write that fails (wrong type) changes nothing: not counted in `rdb_changes_since_last_save` and
/// not logged to the AOF, as in Redis.
#[test]
fn failed_writes_are_not_changes() {
    let node = Node::start(&["--appendonly", "yes"]);
    let mut c = node.conn();
    c.ok(&["SET", "a", "x"]);
    for cmd in [&["SADD", "a", "1"][..], &["LPUSH", "a", "1"], &["SPOP", "a"], &["HSET", "a", "f", "v"]] {
        assert!(c.err(cmd).starts_with("WRONGTYPE"), "{cmd:?}");
    }
    assert_eq!(c.persistence("rdb_changes_since_last_save"), "1");
    let incr = last_incr_file(node.dir());
    let logged = std::fs::read_to_string(&incr).unwrap_or_else(|e| panic!("read {}: {e}", incr.display()));
    assert!(logged.contains("SET") && !logged.contains("SADD") && !logged.contains("SPOP"), "{logged}");
}
