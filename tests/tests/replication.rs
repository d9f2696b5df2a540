//! Replication end to end: a replica matches its primary after a full copy of 1M keys and of every data
//! type, follows the stream (transactions, scripts, expiries, relative times), resumes after a lost link
//! with a partial sync, refuses writes, counts for `WAIT` and `min-replicas-to-write`, authenticates with
//! `masterauth`, and after `REPLICAOF NO ONE` the other replicas resume from the promoted one.
//!
//! `REPL_BIN=/usr/bin/redis-server` runs the same tests against Redis 7 (primary and replicas), to check
//! the tests themselves.

use slotkv_tests::dataset::{assert_same, contents_matching, fill, Contents};
use slotkv_tests::{info_field, node_bin, wait_for, Conn, Node, Reply};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    std::env::var_os("REPL_BIN").map_or_else(|| node_bin().to_path_buf(), PathBuf::from)
}

/// A node that starts a full copy as soon as a replica asks.
fn start(extra: &[&str]) -> Node {
    let mut args = vec!["--repl-diskless-sync-delay", "0"];
    args.extend_from_slice(extra);
    Node::start_bin(&bin(), &args)
}

fn replica_of(primary: &Node, extra: &[&str]) -> Node {
    let port = primary.port.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", &port];
    args.extend_from_slice(extra);
    start(&args)
}

fn info(c: &mut Conn, field: &str) -> String {
    let text = c.cmd(&["INFO", "replication"]).text();
    info_field(&text, field).unwrap_or_default()
}

fn stat(c: &mut Conn, field: &str) -> String {
    let text = c.cmd(&["INFO", "stats"]).text();
    info_field(&text, field).unwrap_or_default()
}

/// Waits until the replica's link is up and its offset is the primary's.
#[track_caller]
fn wait_synced(primary: &mut Conn, replica: &mut Conn, timeout: Duration) {
    let ok = wait_for(timeout, || {
        info(replica, "master_link_status") == "up"
            && info(replica, "master_repl_offset") == info(primary, "master_repl_offset")
    });
    if !ok {
        panic!(
            "replica not in sync after {timeout:?}\nprimary:\n{}\nreplica:\n{}",
            primary.cmd(&["INFO", "replication"]).text(),
            replica.cmd(&["INFO", "replication"]).text()
        );
    }
}

/// Writes `n` keys `bulk:<i>` with pipelined `SET`s.
fn load_bulk(port: u16, n: usize) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect: {e}"));
    let batch = 20_000;
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        let mut buf = Vec::new();
        for k in i..end {
            let key = format!("bulk:{k}");
            let val = format!("value-{k}-{}", k * 7);
            buf.extend_from_slice(
                format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{val}\r\n", key.len(), val.len())
                    .as_bytes(),
            );
        }
        s.write_all(&buf).unwrap_or_else(|e| panic!("write: {e}"));
        let mut want = (end - i) * 5;
        let mut got = [0u8; 65536];
        while want > 0 {
            let r = s.read(&mut got).unwrap_or_else(|e| panic!("read: {e}"));
            assert!(r > 0, "connection closed");
            want = want.saturating_sub(r);
        }
        i = end;
    }
}

/// Compares `bulk:0..n` on both nodes with `MGET`s of 1000.
#[track_caller]
fn assert_bulk_same(a: &mut Conn, b: &mut Conn, n: usize) {
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let mut args = vec!["MGET".to_string()];
        args.extend((i..end).map(|k| format!("bulk:{k}")));
        let (x, y) = (a.cmd(&args), b.cmd(&args));
        assert_eq!(x, y, "keys bulk:{i}..{end} differ");
        assert!(!x.items().contains(&Reply::Nil), "bulk:{i}..{end}: a key is missing on the primary");
        i = end;
    }
}

/// Every key but the bulk ones, by type.
fn typed_contents(c: &mut Conn) -> Contents {
    contents_matching(c, |k| !k.starts_with(b"bulk:"))
}

/// Commands whose effects a replica must reproduce exactly, though some depend on time or chance.
fn stream_workload(c: &mut Conn) {
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "w:counter"]);
    c.cmd(&["SET", "w:in-multi", "1"]);
    c.cmd(&["LPUSH", "w:list", "a", "b", "c"]);
    c.cmd(&["EXEC"]);
    c.cmd(&[
        "EVAL",
        "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[2], 5)",
        "2",
        "w:lua",
        "w:counter",
        "x",
    ]);
    c.cmd(&["INCRBYFLOAT", "w:float", "0.1"]);
    c.cmd(&["INCRBYFLOAT", "w:float", "1e3"]);
    c.cmd(&["SADD", "w:set", "a", "b", "c", "d", "e"]);
    c.cmd(&["SPOP", "w:set", "2"]);
    c.cmd(&["SETEX", "w:setex", "1000", "v"]);
    c.cmd(&["SET", "w:px", "v", "PX", "100000"]);
    c.cmd(&["EXPIRE", "h:small", "5000"]);
    c.cmd(&["PERSIST", "ttl:str"]);
    c.cmd(&["DEL", "s:plain", "l:small"]);
    c.cmd(&["LMOVE", "w:list", "w:list2", "LEFT", "RIGHT"]);
    c.cmd(&["ZINCRBY", "z:small", "2.5", "a"]);
    c.cmd(&["HINCRBYFLOAT", "h:small", "fl", "1.5"]);
    c.cmd(&["GETEX", "w:px", "PERSIST"]);
    c.cmd(&["RENAME", "s:int", "s:renamed"]);
    c.cmd(&["APPEND", "s:append", "ghi"]);
}

#[test]
fn full_copy_of_1m_keys_and_every_type_then_the_stream() {
    let primary = start(&[]);
    let mut p = primary.conn();
    fill(&mut p);
    const N: usize = 1_000_000;
    load_bulk(primary.port, N);
    let started = Instant::now();
    let replica = replica_of(&primary, &[]);
    let mut r = replica.conn();
    wait_synced(&mut p, &mut r, Duration::from_secs(120));
    eprintln!("full copy of {N} keys: {:?}", started.elapsed());
    assert_eq!(r.int(&["DBSIZE"]), p.int(&["DBSIZE"]));
    assert_bulk_same(&mut p, &mut r, N);
    assert_same(&typed_contents(&mut p), &typed_contents(&mut r), "after the full copy");
    assert_eq!(stat(&mut primary.conn(), "sync_full"), "1");

    stream_workload(&mut p);
    wait_synced(&mut p, &mut r, Duration::from_secs(30));
    assert_same(&typed_contents(&mut p), &typed_contents(&mut r), "after the stream");
    p.ok(&["SET", "w:short", "v", "PX", "50"]);
    // The short-lived key expires on the primary, which deletes it on the replica too.
    assert!(
        wait_for(Duration::from_secs(10), || r.int(&["EXISTS", "w:short"]) == 0
            && p.int(&["DBSIZE"]) == r.int(&["DBSIZE"])),
        "the expired key is still on the replica"
    );
    assert_bulk_same(&mut p, &mut r, N);
}

#[test]
fn replica_is_read_only_and_reports_its_role() {
    let primary = start(&[]);
    let replica = replica_of(&primary, &[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    p.ok(&["SET", "k", "v"]);
    wait_synced(&mut p, &mut r, Duration::from_secs(10));
    assert_eq!(r.bulk(&["GET", "k"]).as_deref(), Some(&b"v"[..]));
    assert_eq!(
        r.cmd(&["SET", "k", "x"]),
        Reply::Error("READONLY You can't write against a read only replica.".into())
    );
    assert_eq!(
        r.cmd(&["DEL", "k"]),
        Reply::Error("READONLY You can't write against a read only replica.".into())
    );
    let script = r.cmd(&["EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "k"]);
    assert!(
        matches!(&script, Reply::Error(e) if e.starts_with("READONLY You can't write against a read only replica.")),
        "a script's write on a replica: {script:?}"
    );
    assert_eq!(r.bulk(&["EVAL", "return redis.call('GET', KEYS[1])", "1", "k"]).as_deref(), Some(&b"v"[..]));
    assert_eq!(info(&mut r, "role"), "slave");
    assert_eq!(info(&mut r, "master_port"), primary.port.to_string());
    assert_eq!(info(&mut p, "role"), "master");
    assert_eq!(info(&mut p, "connected_slaves"), "1");
    let slave0 = info(&mut p, "slave0");
    assert!(
        slave0.contains(&format!("port={}", replica.port)) && slave0.contains("state=online"),
        "{slave0}"
    );

    let role = r.cmd(&["ROLE"]).items();
    assert_eq!(role[0], Reply::Bulk(b"slave".to_vec()));
    assert_eq!(role[1].text(), "127.0.0.1");
    assert_eq!(role[2], Reply::Int(i64::from(primary.port)));
    assert_eq!(role[3].text(), "connected");
    let role = p.cmd(&["ROLE"]).items();
    assert_eq!(role[0].text(), "master");
    let replicas = role[2].items();
    assert_eq!(replicas.len(), 1);
    assert_eq!(replicas[0].items()[1].text(), replica.port.to_string());

    // Promoted: writes are taken, and the old history's id is kept as replid2.
    let old_id = info(&mut r, "master_replid");
    assert_eq!(old_id, info(&mut p, "master_replid"));
    r.ok(&["REPLICAOF", "NO", "ONE"]);
    assert_eq!(info(&mut r, "role"), "master");
    assert_eq!(info(&mut r, "master_replid2"), old_id);
    assert_ne!(info(&mut r, "master_replid"), old_id);
    r.ok(&["SET", "k", "mine"]);
    assert_eq!(
        r.cmd(&["REPLICAOF", "127.0.0.1", "notaport"]),
        Reply::Error("ERR Invalid master port".into())
    );
}

#[test]
fn partial_resync_after_a_lost_link_loses_nothing() {
    let primary = start(&["--repl-backlog-size", "64mb"]);
    let replica = replica_of(&primary, &[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    p.ok(&["SET", "start", "1"]);
    wait_synced(&mut p, &mut r, Duration::from_secs(10));

    let stop = Arc::new(AtomicBool::new(false));
    let port = primary.port;
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                c.int(&["INCR", "counter"]);
                c.ok(&["SET", &format!("key:{}", n % 5000), &n.to_string()]);
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        assert!(
            wait_for(Duration::from_secs(10), || info(&mut p, "slave0").contains("state=online")),
            "the replica did not come back"
        );
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(p.int(&["CLIENT", "KILL", "TYPE", "replica"]), 1);
    }
    stop.store(true, Ordering::Relaxed);
    let n = writer.join().unwrap_or_else(|_| panic!("writer panicked"));
    wait_synced(&mut p, &mut r, Duration::from_secs(20));
    assert_eq!(r.bulk(&["GET", "counter"]), Some(n.to_string().into_bytes()));
    assert_same(&typed_contents(&mut p), &typed_contents(&mut r), "after partial resyncs");
    // The last kill's reconnection may come after the check above saw the old link: wait for it.
    let mut pc = primary.conn();
    let partial = |pc: &mut Conn| stat(pc, "sync_partial_ok").parse::<u64>().unwrap_or(0);
    assert!(
        wait_for(Duration::from_secs(10), || partial(&mut pc) >= 3),
        "sync_partial_ok {}",
        partial(&mut pc)
    );
    wait_synced(&mut p, &mut r, Duration::from_secs(20));
    assert_same(&typed_contents(&mut p), &typed_contents(&mut r), "after the last partial resync");
    assert_eq!(stat(&mut pc, "sync_full"), "1", "a full copy was taken again");
}

#[test]
fn wait_counts_replicas_that_acknowledged() {
    let primary = start(&[]);
    let (r1, r2) = (replica_of(&primary, &[]), replica_of(&primary, &[]));
    let mut p = primary.conn();
    for r in [&r1, &r2] {
        wait_synced(&mut p, &mut r.conn(), Duration::from_secs(10));
    }
    p.ok(&["SET", "k", "v"]);
    assert_eq!(p.int(&["WAIT", "2", "0"]), 2);
    let t = Instant::now();
    assert_eq!(p.int(&["WAIT", "3", "300"]), 2, "WAIT times out with the count it has");
    assert!(t.elapsed() >= Duration::from_millis(250), "WAIT returned after {:?}", t.elapsed());
    // A stopped replica does not acknowledge.
    r2.pause();
    p.ok(&["SET", "k", "w"]);
    assert_eq!(p.int(&["WAIT", "2", "300"]), 1);
    r2.resume();
    assert_eq!(p.int(&["WAIT", "2", "5000"]), 2);
    assert_eq!(p.cmd(&["WAIT", "1", "-1"]), Reply::Error("ERR timeout is negative".into()));
    assert!(
        matches!(r1.conn().cmd(&["WAIT", "1", "0"]), Reply::Error(e) if e.starts_with("ERR WAIT cannot be used with replica instances"))
    );
}

#[test]
fn min_replicas_to_write_refuses_writes_without_replicas() {
    let primary = start(&["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"]);
    let mut p = primary.conn();
    assert_eq!(
        p.cmd(&["SET", "k", "v"]),
        Reply::Error("NOREPLICAS Not enough good replicas to write.".into())
    );
    assert_eq!(p.cmd(&["GET", "k"]), Reply::Nil);
    let replica = replica_of(&primary, &[]);
    assert!(wait_for(Duration::from_secs(10), || p.cmd(&["SET", "k", "v"]) == Reply::Simple("OK".into())));
    wait_synced(&mut p, &mut replica.conn(), Duration::from_secs(10));
}

#[test]
fn masterauth_lets_a_replica_follow_a_protected_primary() {
    let primary = start(&["--requirepass", "secret"]);
    let mut p = primary.conn();
    p.ok(&["AUTH", "secret"]);
    p.ok(&["SET", "k", "v"]);
    let without = replica_of(&primary, &[]);
    let with = replica_of(&primary, &["--masterauth", "secret"]);
    let mut w = with.conn();
    wait_synced(&mut p, &mut w, Duration::from_secs(10));
    assert_eq!(w.bulk(&["GET", "k"]).as_deref(), Some(&b"v"[..]));
    let mut wo = without.conn();
    assert_eq!(info(&mut wo, "master_link_status"), "down");
    assert_eq!(wo.cmd(&["GET", "k"]), Reply::Nil);
}

#[test]
fn replicas_resume_from_a_promoted_replica() {
    let primary = start(&[]);
    let (b, c) = (replica_of(&primary, &[]), replica_of(&primary, &[]));
    let mut p = primary.conn();
    load_bulk(primary.port, 10_000);
    for r in [&b, &c] {
        wait_synced(&mut p, &mut r.conn(), Duration::from_secs(10));
    }
    // The failover by hand: B takes over, C and the old primary follow it.
    let mut bc = b.conn();
    bc.ok(&["REPLICAOF", "NO", "ONE"]);
    let b_port = b.port.to_string();
    c.conn().ok(&["REPLICAOF", "127.0.0.1", &b_port]);
    p.ok(&["REPLICAOF", "127.0.0.1", &b_port]);
    bc.ok(&["SET", "after", "failover"]);
    for r in [&c, &primary] {
        let mut rc = r.conn();
        wait_synced(&mut bc, &mut rc, Duration::from_secs(10));
        assert_eq!(rc.bulk(&["GET", "after"]).as_deref(), Some(&b"failover"[..]));
        assert_eq!(rc.int(&["DBSIZE"]), 10_001);
    }
    assert_eq!(stat(&mut bc, "sync_full"), "0", "both followed B without a full copy");
    assert_eq!(stat(&mut bc, "sync_partial_ok"), "2");
}

#[test]
fn expired_keys_read_as_missing_on_a_replica_until_the_primary_deletes_them() {
    let primary = start(&[]);
    let replica = replica_of(&primary, &[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    p.ok(&["SET", "soon", "v", "PX", "200"]);
    wait_synced(&mut p, &mut r, Duration::from_secs(10));
    // A stopped primary deletes nothing: the replica keeps the key but reads it as missing.
    primary.pause();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(r.cmd(&["GET", "soon"]), Reply::Nil, "a key past its time reads as missing");
    assert_eq!(r.int(&["EXISTS", "soon"]), 0);
    assert_eq!(r.int(&["DBSIZE"]), 1, "the key stays until the primary deletes it");
    primary.resume();
    assert!(wait_for(Duration::from_secs(5), || r.int(&["DBSIZE"]) == 0), "the primary's DEL did not arrive");
}

#[test]
fn a_restarted_replica_resumes_from_its_snapshot() {
    let primary = start(&["--repl-backlog-size", "16mb"]);
    let mut replica = replica_of(&primary, &["--save", "3600 1"]);
    let mut p = primary.conn();
    load_bulk(primary.port, 20_000);
    wait_synced(&mut p, &mut replica.conn(), Duration::from_secs(20));
    // SIGTERM: the replica saves a snapshot that keeps its replication id and offset.
    replica.terminate();
    p.ok(&["SET", "while-down", "1"]);
    replica.restart();
    let mut r = replica.conn();
    wait_synced(&mut p, &mut r, Duration::from_secs(20));
    assert_eq!(r.bulk(&["GET", "while-down"]).as_deref(), Some(&b"1"[..]));
    assert_bulk_same(&mut p, &mut r, 20_000);
    let mut pc = primary.conn();
    assert_eq!(stat(&mut pc, "sync_full"), "1", "the restarted replica took a full copy again");
    assert_eq!(stat(&mut pc, "sync_partial_ok"), "1");
}
