//! Crash safety of the AOF: with `appendfsync always` no acknowledged write is lost to `kill -9`, and (since
//! a kill does not empty the page cache) the syscall trace shows every reply leaving after the `fdatasync`
//! that covers its write; with `everysec` at most about a second is lost.
//!
//! `PERSIST_BIN=/usr/bin/redis-server` runs these against Redis 7 to check the tests themselves; the
//! default is slotkv's node. `CRASH_ROUNDS` sets the number of kill rounds (default 20).

use slotkv_tests::{persist_bin, Conn, Node, Reply};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn start(extra: &[&str]) -> Node {
    Node::start_bin(&persist_bin(), extra)
}

// ---- 6. kill -9 at a random moment loses nothing acknowledged ----

/// What one writer saw acknowledged before the node died.
#[derive(Default)]
struct Acked {
    /// Per counter key: the highest value an `INCR` on it returned, and how many were in flight at most.
    counters: HashMap<String, i64>,
    /// Keys whose `SET` was acknowledged, with the value.
    sets: Vec<(String, String)>,
}

/// The most commands a writer has in flight at once (its pipelines).
const PIPELINE: usize = 5;

/// Writes until the connection fails: `INCR` on 4 counters of its own and `SET` of fresh keys, every
/// tenth round as a pipeline of [`PIPELINE`] commands.
fn writer(mut c: Conn, prefix: String) -> Acked {
    let mut acked = Acked::default();
    let mut i = 0u64;
    loop {
        let counter = format!("{prefix}:ctr:{}", i % 4);
        let key = format!("{prefix}:set:{i}");
        let value = format!("value-{i}");
        if i % 10 == 9 {
            // Pipelined: INCRs and SETs sent at once, replies read in order.
            let mut batch = Vec::new();
            for j in 0..PIPELINE {
                if j % 2 == 0 {
                    batch.extend(slotkv_tests::encode(&["INCR", &counter]));
                } else {
                    batch.extend(slotkv_tests::encode(&["SET", &format!("{key}:{j}"), &value]));
                }
            }
            if std::io::Write::write_all(&mut c.stream(), &batch).is_err() {
                return acked;
            }
            for j in 0..PIPELINE {
                match c.try_read_reply() {
                    Ok(Reply::Int(n)) if j % 2 == 0 => {
                        acked.counters.insert(counter.clone(), n);
                    }
                    Ok(Reply::Simple(s)) if j % 2 == 1 && s == "OK" => {
                        acked.sets.push((format!("{key}:{j}"), value.clone()));
                    }
                    Ok(other) => panic!("{prefix}: unexpected reply {other:?}"),
                    Err(_) => return acked,
                }
            }
        } else {
            match c.try_cmd(&["INCR", &counter]) {
                Ok(Reply::Int(n)) => {
                    acked.counters.insert(counter, n);
                }
                Ok(other) => panic!("{prefix}: INCR answered {other:?}"),
                Err(_) => return acked,
            }
            match c.try_cmd(&["SET", &key, &value]) {
                Ok(Reply::Simple(s)) if s == "OK" => acked.sets.push((key, value)),
                Ok(other) => panic!("{prefix}: SET answered {other:?}"),
                Err(_) => return acked,
            }
        }
        i += 1;
    }
}

#[test]
fn kill9_with_always_loses_no_acknowledged_write() {
    let rounds: u32 = std::env::var("CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let seed = fastrand::u64(..);
    eprintln!("seed {seed} (the delays and writer counts), {rounds} rounds");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut node = start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let started = Instant::now();
    let mut total = (0usize, 0usize);
    for round in 0..rounds {
        let writers: Vec<_> = (0..rng.usize(2..=4))
            .map(|t| {
                let c = node.conn();
                let prefix = format!("r{round}:w{t}");
                std::thread::spawn(move || writer(c, prefix))
            })
            .collect();
        let delay = Duration::from_millis(rng.u64(50..=500));
        std::thread::sleep(delay);
        node.kill9();
        let acked: Vec<Acked> = writers.into_iter().map(|h| h.join().expect("writer panicked")).collect();
        node.restart();
        let mut c = node.conn();
        for a in &acked {
            for (key, &n) in &a.counters {
                let got: i64 = c
                    .bulk(&["GET", key])
                    .and_then(|v| String::from_utf8_lossy(&v).parse().ok())
                    .unwrap_or_else(|| panic!("round {round} ({delay:?}): counter {key} lost (acked {n})"));
                assert!(got >= n, "round {round} ({delay:?}): {key} = {got} after restart, {n} acknowledged");
                // Unacknowledged commands may or may not have made it; nothing is applied twice.
                assert!(got <= n + PIPELINE as i64, "round {round}: {key} = {got}, only {n} acknowledged");
            }
            for (key, value) in &a.sets {
                let got = c.bulk(&["GET", key]);
                assert_eq!(
                    got.as_deref(),
                    Some(value.as_bytes()),
                    "round {round} ({delay:?}): acknowledged {key}"
                );
            }
            total.0 += a.counters.values().map(|&n| n as usize).sum::<usize>();
            total.1 += a.sets.len();
        }
    }
    eprintln!(
        "{rounds} rounds in {:?}: {} INCRs, {} SETs acknowledged and kept",
        started.elapsed(),
        total.0,
        total.1
    );
}

// ---- 7. replies leave after the fsync that covers their write ----

/// One system call from the trace: where it started and ended (line numbers), its fd's path, its result.
#[derive(Clone, Debug)]
struct Call {
    name: String,
    path: String,
    args: String,
    start: usize,
    end: usize,
    ret: Option<i64>,
}

/// Parses `strace -f -y` output; a call split over `<unfinished ...>` and `<... NAME resumed>` lines is
/// joined, keeping the line where it started and where it returned.
fn parse_trace(text: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut pending: HashMap<String, Call> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let (pid, rest) = match line.split_once(' ') {
            Some((p, r)) if p.chars().all(|ch| ch.is_ascii_digit()) => (p.to_string(), r.trim_start()),
            _ => (String::new(), line),
        };
        if rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some(mut call) = pending.remove(&pid) else { continue };
            call.args.push_str(resumed);
            call.end = n;
            call.ret = result(resumed);
            calls.push(call);
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else { continue };
        if !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            continue;
        }
        // `-y` prints an fd as `7</path>` or `8<socket:[1234]>` (`-yy`: `<TCP:[...]>`).
        let path = args
            .split_once('<')
            .filter(|(fd, _)| fd.chars().all(|ch| ch.is_ascii_digit()))
            .and_then(|(_, p)| p.split_once('>'))
            .map_or_else(String::new, |(p, _)| p.to_string());
        let call = Call { name: name.to_string(), path, args: args.to_string(), start: n, end: n, ret: None };
        if args.ends_with("<unfinished ...>") {
            pending.insert(pid, call);
        } else {
            calls.push(Call { ret: result(args), ..call });
        }
    }
    calls
}

/// The result of a finished call line (`... ) = 5`; strace pads resumed lines: `resumed>)      = 0`),
/// `None` if unknown (`= ?`).
fn result(line: &str) -> Option<i64> {
    let (_, ret) = line.rsplit_once(')')?;
    ret.trim_start().strip_prefix('=')?.split_whitespace().next()?.parse().ok()
}

fn is_socket(path: &str) -> bool {
    path.starts_with("socket:") || path.starts_with("TCP")
}

fn is_aof(path: &str) -> bool {
    path.contains("appendonlydir") || path.ends_with(".aof")
}

/// Whether the data of a socket write contains an acknowledgement of a write command (`+OK` or `:N`).
fn acknowledges(call: &Call) -> bool {
    // The data starts after the fd argument.
    let data = call.args.split_once(">, ").map_or(call.args.as_str(), |(_, d)| d);
    let b = data.as_bytes();
    data.contains("+OK")
        || b.windows(3)
            .any(|w| matches!(w[0], b'"' | b'n') && w[1] == b':' && (w[2].is_ascii_digit() || w[2] == b'-'))
}

/// For every reply that acknowledges a write: the AOF write that logged its command (the first AOF write
/// after the last read from the reply's socket: the command cannot be logged before it is read, and the
/// node logs every command of a read in the next batch) must be followed by a successful
/// fsync/fdatasync on the AOF that started after that write returned and returned before the reply was
/// written. (Not simply the last AOF write before the reply: with group commit, another client's batch
/// may be written while this reply's fsync runs; that batch's replies wait for the next fsync.) Returns
/// how many replies were checked, or the first reply that left too early.
fn check_trace(calls: &[Call]) -> Result<usize, String> {
    let aof_writes: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c.name.as_str(), "write" | "writev" | "pwrite64" | "pwritev") && is_aof(&c.path))
        .filter(|c| c.ret.is_some_and(|r| r > 0))
        .collect();
    let syncs: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c.name.as_str(), "fsync" | "fdatasync") && is_aof(&c.path) && c.ret == Some(0))
        .collect();
    let reads: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c.name.as_str(), "read" | "recvfrom" | "readv") && is_socket(&c.path))
        .filter(|c| c.ret.is_some_and(|r| r > 0))
        .collect();
    let mut checked = 0;
    for reply in calls.iter().filter(|c| {
        matches!(c.name.as_str(), "write" | "writev" | "sendto" | "sendmsg")
            && is_socket(&c.path)
            && acknowledges(c)
    }) {
        let Some(read) =
            reads.iter().filter(|r| r.path == reply.path && r.end < reply.start).max_by_key(|r| r.end)
        else {
            return Err(format!("reply at line {} with no read from its socket before it", reply.start + 1));
        };
        let Some(last_write) =
            aof_writes.iter().filter(|w| w.start > read.end && w.end < reply.start).min_by_key(|w| w.start)
        else {
            return Err(format!(
                "reply at line {} with no AOF write between its command's read (line {}) and it: {reply:?}",
                reply.start + 1,
                read.end + 1
            ));
        };
        let covered = syncs.iter().any(|s| s.start > last_write.end && s.end < reply.start);
        if !covered {
            return Err(format!(
                "reply at line {} ({} {}) left before an fsync covering the AOF write at line {}",
                reply.start + 1,
                reply.name,
                reply.args.chars().take(120).collect::<String>(),
                last_write.end + 1
            ));
        }
        checked += 1;
    }
    Ok(checked)
}

/// Runs the node under strace with `fsync_policy`, writes from 2 connections (one-by-one and pipelined),
/// stops it, and checks the trace.
fn traced_run(fsync_policy: &str) -> Option<Result<usize, String>> {
    let strace = Path::new("/usr/bin/strace");
    if !strace.is_file() {
        eprintln!("skipped: no strace at {}", strace.display());
        return None;
    }
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let trace = out.path().join("trace.txt");
    let trace_s = trace.to_string_lossy().into_owned();
    let mut node = Node::builder(&persist_bin())
        .wrapper(&[
            "/usr/bin/strace",
            "-f",
            "-y",
            "-s",
            "256",
            "-e",
            "trace=read,recvfrom,write,writev,pwrite64,fdatasync,fsync,sendto,sendmsg",
            "-o",
            &trace_s,
        ])
        .args(&["--appendonly", "yes", "--appendfsync", fsync_policy])
        .start();
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let mut c = node.conn();
            std::thread::spawn(move || {
                for i in 0..15 {
                    c.ok(&["SET", &format!("k:{t}:{i}"), &format!("v{i}")]);
                    assert_eq!(c.int(&["INCR", &format!("ctr:{t}")]), i + 1);
                }
                // Pipelined: many commands in one read, replies possibly in one write.
                let mut batch = Vec::new();
                for i in 0..20 {
                    batch.extend(slotkv_tests::encode(&["INCR", &format!("pipe:{t}:{}", i % 3)]));
                }
                c.send_raw(&batch);
                for _ in 0..20 {
                    assert!(matches!(c.read_reply(), Reply::Int(_)));
                }
            })
        })
        .collect();
    for w in writers {
        if w.join().is_err() {
            panic!("a writer panicked");
        }
    }
    node.terminate();
    let text = std::fs::read_to_string(&trace).unwrap_or_else(|e| panic!("read {}: {e}", trace.display()));
    let calls = parse_trace(&text);
    Some(check_trace(&calls).map_err(|e| {
        let excerpt: String = text.lines().take(300).collect::<Vec<_>>().join("\n");
        format!("{e}\n---- trace (first 300 lines) ----\n{excerpt}\n----")
    }))
}

#[test]
fn always_replies_only_after_fdatasync() {
    let Some(result) = traced_run("always") else { return };
    match result {
        // 2 x 30 single commands plus the pipelines' replies (possibly merged into fewer writes).
        Ok(checked) => {
            eprintln!("{checked} acknowledging replies, each after its fdatasync");
            assert!(checked >= 60, "only {checked} acknowledgements found in the trace");
        }
        Err(e) => panic!("appendfsync always: {e}"),
    }
}

/// The checker itself: with `everysec` replies do leave before the fsync, and it must say so.
#[test]
fn trace_check_catches_everysec() {
    let Some(result) = traced_run("everysec") else { return };
    match result {
        Err(e) => eprintln!("as expected: {}", e.lines().next().unwrap_or_default()),
        Ok(n) => panic!("the trace check found no early reply among {n} with everysec"),
    }
}

#[test]
fn parses_split_strace_lines() {
    let text = "\
100 read(7<socket:[99]>, \"*3\\r\\n$3\\r\\nSET\"..., 16384) = 30
100 write(5</d/appendonlydir/appendonly.aof.1.incr.aof>, \"*3\\r\\n$3\\r\\nSET\"..., 30) = 30
101 fdatasync(5</d/appendonlydir/appendonly.aof.1.incr.aof> <unfinished ...>
100 write(7<socket:[99]>, \"+PONG\\r\\n\", 7) = 7
101 <... fdatasync resumed>)          = 0
100 write(7<socket:[99]>, \"+OK\\r\\n:12\\r\\n\", 10) = 10
100 read(8<socket:[98]>, \"*2\\r\\n\"..., 16384) = 20
100 write(5</d/appendonlydir/appendonly.aof.1.incr.aof>, \"*2\\r\\n\"..., 20) = 20
100 write(8<socket:[98]>, \":13\\r\\n\", 5) = 5
100 +++ exited with 0 +++
";
    let calls = parse_trace(text);
    assert_eq!(calls.len(), 8, "{calls:?}");
    let sync = calls.iter().find(|c| c.name == "fdatasync").expect("fdatasync parsed");
    assert_eq!((sync.start, sync.end, sync.ret), (2, 4, Some(0)));
    assert!(!acknowledges(&calls[2]) && acknowledges(&calls[4]), "{calls:?}");
    // The last reply left after a write that no fsync covers.
    let err = check_trace(&calls).expect_err("early reply not caught");
    assert!(err.contains("line 9"), "{err}");
    assert_eq!(check_trace(&calls[..5]), Ok(1));
}

// ---- 8. everysec loses at most about a second ----

#[test]
fn everysec_loses_at_most_about_a_second() {
    let mut node = start(&["--appendonly", "yes", "--appendfsync", "everysec"]);
    let mut c = node.conn();
    let mut acked: Vec<(Instant, i64)> = Vec::new();
    let writing = Instant::now() + Duration::from_millis(3000);
    while Instant::now() < writing {
        let n = c.int(&["INCR", "counter"]);
        acked.push((Instant::now(), n));
    }
    let killed = Instant::now();
    node.kill9();
    node.restart();
    let got: i64 = node
        .conn()
        .bulk(&["GET", "counter"])
        .and_then(|v| String::from_utf8_lossy(&v).parse().ok())
        .unwrap_or(0);
    let two_seconds_before = acked
        .iter()
        .filter(|(t, _)| *t + Duration::from_secs(2) <= killed)
        .map(|&(_, n)| n)
        .max()
        .unwrap_or(0);
    let last = acked.last().map_or(0, |&(_, n)| n);
    // How far back the kept value was acknowledged.
    let lost_for = acked.iter().find(|&&(_, n)| n > got).map(|&(t, _)| killed - t);
    eprintln!("acknowledged {last}, kept {got} (lost the last {lost_for:?}); 2 s before the kill: {two_seconds_before}");
    assert!(two_seconds_before > 0, "too few writes to judge");
    assert!(
        got >= two_seconds_before,
        "kept {got}, but {two_seconds_before} was acknowledged 2 s before the kill"
    );
    assert!(got <= last + 1, "kept {got}, more than the {last} acknowledged (+1 in flight)");
}

/// Group commit: another client's batch written while this reply's fsync runs does not make this reply
/// early (seen in a real trace), but its own reply must wait for the next fsync.
#[test]
fn group_commit_trace_is_judged_per_connection() {
    let text = "\
1 read(9<socket:[1]>, \"*2\\r\\n$4\\r\\nINCR\"..., 16384) = 24
1 write(7</d/appendonlydir/appendonly.aof.2.incr.aof>, \"*2\\r\\n$4\\r\\nINCR\"..., 46) = 46
2 fdatasync(7</d/appendonlydir/appendonly.aof.2.incr.aof> <unfinished ...>
1 read(11<socket:[2]>, \"*3\\r\\n$3\\r\\nSET\"..., 16384) = 33
1 write(7</d/appendonlydir/appendonly.aof.2.incr.aof>, \"*3\\r\\n$3\\r\\nSET\"..., 55) = 55
2 <... fdatasync resumed>)          = 0
1 sendto(9<socket:[1]>, \":14\\r\\n\", 5, MSG_NOSIGNAL, NULL, 0) = 5
1 sendto(11<socket:[2]>, \"+OK\\r\\n\", 5, MSG_NOSIGNAL, NULL, 0) = 5
";
    let calls = parse_trace(text);
    let err = check_trace(&calls).expect_err("the SET's reply left before its fsync");
    assert!(err.contains("line 8"), "{err}");
    assert_eq!(check_trace(&calls[..6]), Ok(1));
}
