//! `MIGRATE` between two nodes: single key and `KEYS`, `COPY`, `REPLACE` and `BUSYKEY`, `NOKEY`, TTLs,
//! `AUTH`/`AUTH2`, unreachable and silent targets, every data type, the AOF and `WATCH` on the source,
//! the cached connection, cluster mode (`RESTORE-ASKING` into an importing slot), and the same scenario
//! run on a pair of real `redis-server`s, whose replies must match byte for byte.

use slotkv_tests::{free_port, last_incr_file, wait_for, Conn, Node};
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

const REDIS: &str = "/usr/bin/redis-server";

fn redis_bin() -> Option<&'static Path> {
    let p = Path::new(REDIS);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("{REDIS} not found: skipping the comparison with Redis");
        None
    }
}

/// `MIGRATE 127.0.0.1 <port> <key> 0 5000 <extra...>`.
fn migrate(src: &mut Conn, port: u16, key: &str, extra: &[&str]) -> Vec<u8> {
    let port = port.to_string();
    let mut args = vec!["MIGRATE", "127.0.0.1", &port, key, "0", "5000"];
    args.extend_from_slice(extra);
    src.raw(&args)
}

/// Fills one key of each type (both encodings of the collections).
fn fill(c: &mut Conn) -> Vec<String> {
    c.ok(&["SET", "str", "hello"]);
    c.ok(&["SET", "int", "12345"]);
    c.ok(&["SET", "bin", "\x00\r\n\u{7f}"]);
    c.expect(&["RPUSH", "list", "a", "b", "c"], b":3\r\n");
    c.expect(&["SADD", "set", "x", "y", "1"], b":3\r\n");
    c.expect(&["SADD", "ints", "1", "2", "3"], b":3\r\n");
    c.expect(&["ZADD", "zset", "1.5", "m1", "-2", "m2", "inf", "m3"], b":3\r\n");
    c.expect(&["HSET", "hash", "f", "v", "g", ""], b":2\r\n");
    let mut keys: Vec<String> =
        ["str", "int", "bin", "list", "set", "ints", "zset", "hash"].iter().map(|s| s.to_string()).collect();
    for kind in ["biglist", "bigset", "bigzset", "bighash"] {
        for i in 0..300 {
            let m = format!("member-{i}-{}", "x".repeat(i % 70));
            let n = i.to_string();
            match kind {
                "biglist" => c.expect(&["RPUSH", kind, &m], format!(":{}\r\n", i + 1).as_bytes()),
                "bigset" => c.expect(&["SADD", kind, &m], b":1\r\n"),
                "bigzset" => c.expect(&["ZADD", kind, &n, &m], b":1\r\n"),
                _ => c.expect(&["HSET", kind, &m, &n], b":1\r\n"),
            }
        }
        keys.push(kind.to_string());
    }
    keys
}

/// Everything a key holds, as replies, to compare two keys on two nodes.
fn contents(c: &mut Conn, key: &str) -> Vec<u8> {
    let kind = c.raw(&["TYPE", key]);
    let mut all = kind.clone();
    let body = match kind.as_slice() {
        b"+string\r\n" => c.raw(&["GET", key]),
        b"+list\r\n" => c.raw(&["LRANGE", key, "0", "-1"]),
        b"+set\r\n" => {
            let mut m = c.cmd(&["SMEMBERS", key]).strings();
            m.sort();
            m.join(",").into_bytes()
        }
        b"+zset\r\n" => c.raw(&["ZRANGE", key, "0", "-1", "WITHSCORES"]),
        b"+hash\r\n" => {
            let mut m: Vec<String> =
                c.cmd(&["HGETALL", key]).strings().chunks(2).map(|p| p.join("=")).collect();
            m.sort();
            m.join(",").into_bytes()
        }
        other => panic!("unexpected type {}", slotkv_tests::show(other)),
    };
    all.extend(body);
    all.extend(c.raw(&["OBJECT", "ENCODING", key]));
    all
}

#[test]
fn single_key_moves_with_its_ttl() {
    let (src, dst) = (Node::start(&[]), Node::start(&[]));
    let (mut s, mut d) = (src.conn(), dst.conn());
    s.ok(&["SET", "k", "v"]);
    s.expect(&["PEXPIRE", "k", "100000"], b":1\r\n");
    s.ok(&["SET", "forever", "f"]);
    assert_eq!(migrate(&mut s, dst.port, "k", &[]), b"+OK\r\n");
    assert_eq!(migrate(&mut s, dst.port, "forever", &[]), b"+OK\r\n");
    s.expect(&["EXISTS", "k", "forever"], b":0\r\n");
    assert_eq!(d.bulk(&["GET", "k"]).as_deref(), Some(&b"v"[..]));
    let pttl = d.int(&["PTTL", "k"]);
    assert!((90_000..=100_000).contains(&pttl), "pttl {pttl}");
    d.expect(&["TTL", "forever"], b":-1\r\n");
    // Gone from the source: nothing left to move.
    assert_eq!(migrate(&mut s, dst.port, "k", &[]), b"+NOKEY\r\n");
}

#[test]
fn keys_form_moves_many_and_skips_missing_ones() {
    let (src, dst) = (Node::start(&[]), Node::start(&[]));
    let (mut s, mut d) = (src.conn(), dst.conn());
    let keys: Vec<String> = (0..500).map(|i| format!("key:{i}")).collect();
    for k in &keys {
        s.ok(&["SET", k, &format!("value of {k}")]);
    }
    let mut extra = vec!["KEYS", "missing-1"];
    extra.extend(keys.iter().map(String::as_str));
    extra.push("missing-2");
    assert_eq!(migrate(&mut s, dst.port, "", &extra), b"+OK\r\n");
    s.expect(&["DBSIZE"], b":0\r\n");
    d.expect(&["DBSIZE"], b":500\r\n");
    for k in keys.iter().step_by(37) {
        assert_eq!(d.bulk(&["GET", k]), Some(format!("value of {k}").into_bytes()));
    }
    assert_eq!(migrate(&mut s, dst.port, "", &["KEYS", "missing-1", "missing-2"]), b"+NOKEY\r\n");
}

#[test]
fn copy_keeps_the_source_and_replace_overwrites_the_target() {
    let (src, dst) = (Node::start(&[]), Node::start(&[]));
    let (mut s, mut d) = (src.conn(), dst.conn());
    s.ok(&["SET", "k", "new"]);
    assert_eq!(migrate(&mut s, dst.port, "k", &["COPY"]), b"+OK\r\n");
    assert_eq!(s.bulk(&["GET", "k"]).as_deref(), Some(&b"new"[..]));
    assert_eq!(d.bulk(&["GET", "k"]).as_deref(), Some(&b"new"[..]));
    // Now the key exists on both: BUSYKEY, the source keeps its key.
    s.ok(&["SET", "k", "newer"]);
    assert_eq!(
        migrate(&mut s, dst.port, "k", &[]),
        b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(s.bulk(&["GET", "k"]).as_deref(), Some(&b"newer"[..]));
    assert_eq!(d.bulk(&["GET", "k"]).as_deref(), Some(&b"new"[..]));
    // COPY REPLACE: both keep it, the target's is replaced.
    assert_eq!(migrate(&mut s, dst.port, "k", &["COPY", "REPLACE"]), b"+OK\r\n");
    assert_eq!(d.bulk(&["GET", "k"]).as_deref(), Some(&b"newer"[..]));
    s.ok(&["SET", "k", "newest"]);
    assert_eq!(migrate(&mut s, dst.port, "k", &["REPLACE"]), b"+OK\r\n");
    s.expect(&["EXISTS", "k"], b":0\r\n");
    assert_eq!(d.bulk(&["GET", "k"]).as_deref(), Some(&b"newest"[..]));
}

#[test]
fn a_partial_failure_moves_the_keys_the_target_took() {
    let (src, dst) = (Node::start(&["--appendonly", "yes"]), Node::start(&[]));
    let (mut s, mut d) = (src.conn(), dst.conn());
    for k in ["a", "b", "c"] {
        s.ok(&["SET", k, "src"]);
    }
    d.ok(&["SET", "b", "dst"]);
    assert_eq!(
        migrate(&mut s, dst.port, "", &["KEYS", "a", "b", "c"]),
        b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    s.expect(&["EXISTS", "a", "b", "c"], b":1\r\n");
    assert_eq!(s.bulk(&["GET", "b"]).as_deref(), Some(&b"src"[..]));
    d.expect(&["MGET", "a", "b", "c"], b"*3\r\n$3\r\nsrc\r\n$3\r\ndst\r\n$3\r\nsrc\r\n");
    // The moved keys' DEL reached the AOF: after a restart the source still lacks them.
    let mut src = src;
    src.terminate();
    src.restart();
    let mut s = src.conn();
    s.expect(&["EXISTS", "a", "b", "c"], b":1\r\n");
    s.expect(&["EXISTS", "b"], b":1\r\n");
}

#[test]
fn the_aof_logs_a_migrate_as_del_and_watch_sees_it() {
    let mut src = Node::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let dst = Node::start(&[]);
    let mut s = src.conn();
    s.ok(&["SET", "gone", "1"]);
    s.ok(&["SET", "copied", "2"]);
    let mut watcher = src.conn();
    watcher.ok(&["WATCH", "gone"]);
    assert_eq!(migrate(&mut s, dst.port, "gone", &[]), b"+OK\r\n");
    assert_eq!(migrate(&mut s, dst.port, "copied", &["COPY"]), b"+OK\r\n");
    watcher.ok(&["MULTI"]);
    watcher.expect(&["SET", "gone", "again"], b"+QUEUED\r\n");
    watcher.expect(&["EXEC"], b"*-1\r\n");
    src.terminate();
    src.restart();
    let mut s = src.conn();
    s.expect(&["EXISTS", "gone"], b":0\r\n");
    assert_eq!(s.bulk(&["GET", "copied"]).as_deref(), Some(&b"2"[..]));
}

#[test]
fn every_data_type_arrives_intact() {
    let (src, dst) = (Node::start(&[]), Node::start(&[]));
    let (mut s, mut d) = (src.conn(), dst.conn());
    let keys = fill(&mut s);
    let before: Vec<Vec<u8>> = keys.iter().map(|k| contents(&mut s, k)).collect();
    let mut extra = vec!["KEYS"];
    extra.extend(keys.iter().map(String::as_str));
    assert_eq!(migrate(&mut s, dst.port, "", &extra), b"+OK\r\n");
    s.expect(&["DBSIZE"], b":0\r\n");
    for (k, want) in keys.iter().zip(&before) {
        assert_eq!(&contents(&mut d, k), want, "{k}");
    }
}

#[test]
fn auth_and_auth2_to_a_target_with_requirepass() {
    let src = Node::start(&[]);
    let dst = Node::start(&["--requirepass", "s3cret"]);
    let mut s = src.conn();
    s.ok(&["SET", "k", "v"]);
    assert_eq!(
        migrate(&mut s, dst.port, "k", &[]),
        b"-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        migrate(&mut s, dst.port, "k", &["AUTH", "wrong"]),
        b"-ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    s.expect(&["EXISTS", "k"], b":1\r\n");
    assert_eq!(migrate(&mut s, dst.port, "k", &["COPY", "AUTH", "s3cret"]), b"+OK\r\n");
    assert_eq!(migrate(&mut s, dst.port, "k", &["REPLACE", "AUTH2", "default", "s3cret"]), b"+OK\r\n");
    s.expect(&["EXISTS", "k"], b":0\r\n");
    let mut d = dst.conn();
    d.ok(&["AUTH", "s3cret"]);
    assert_eq!(d.bulk(&["GET", "k"]).as_deref(), Some(&b"v"[..]));
}

#[test]
fn unreachable_and_silent_targets_give_ioerr_within_the_timeout() {
    let src = Node::start(&[]);
    let mut s = src.conn();
    s.ok(&["SET", "k", "v"]);
    // Nothing listens: connection refused at once, which Redis 7 reports as a failed write (its
    // non-blocking connect succeeds, the write fails, one retry fails the same way).
    let closed = free_port();
    let t = Instant::now();
    assert_eq!(migrate(&mut s, closed, "k", &[]), b"-IOERR error or timeout writing to target instance\r\n");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // A port that is not a number is port 0 (C's atoi), which refuses too.
    s.expect(
        &["MIGRATE", "127.0.0.1", "notaport", "k", "0", "100"],
        b"-IOERR error or timeout writing to target instance\r\n",
    );
    // A host that does not resolve: the connect itself fails.
    s.expect(
        &["MIGRATE", "nonexistent.invalid", "6379", "k", "0", "100"],
        b"-IOERR error or timeout connecting to the client\r\n",
    );
    // A target that accepts and never answers: the read times out after `timeout` ms.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        // Drain what MIGRATE sends so its write does not block; hold the connection until it closes.
        let (mut conn, _) = silent.accept().unwrap();
        let mut sink = Vec::new();
        let _ = conn.read_to_end(&mut sink);
        sink
    });
    let t = Instant::now();
    s.expect(
        &["MIGRATE", "127.0.0.1", &port.to_string(), "k", "0", "300"],
        b"-IOERR error or timeout reading to target instance\r\n",
    );
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(3), "{took:?}");
    // The key stays, and the node was blocked only for that long: it answers at once.
    s.expect(&["EXISTS", "k"], b":1\r\n");
    // The timed-out connection was dropped (not kept in the cache): the listener sees it close.
    let sent = reader.join().unwrap();
    assert!(
        sent.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*4\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n")
    );
}

#[test]
fn the_connection_is_cached_and_reopened_when_the_target_restarts() {
    let src = Node::start(&[]);
    let mut dst = Node::start(&[]);
    let mut s = src.conn();
    for i in 0..3 {
        s.ok(&["SET", &format!("k{i}"), "v"]);
    }
    let clients = |dst: &Node| dst.conn().cmd(&["CLIENT", "LIST"]).text().lines().count();
    assert_eq!(migrate(&mut s, dst.port, "k0", &[]), b"+OK\r\n");
    let after_first = clients(&dst);
    assert_eq!(migrate(&mut s, dst.port, "k1", &[]), b"+OK\r\n");
    assert_eq!(clients(&dst), after_first, "the second MIGRATE reused the connection");
    // The cached connection dies with the target; MIGRATE reconnects (one retry) and succeeds.
    dst.terminate();
    dst.restart();
    assert_eq!(migrate(&mut s, dst.port, "k2", &[]), b"+OK\r\n");
    assert_eq!(dst.conn().bulk(&["GET", "k2"]).as_deref(), Some(&b"v"[..]));
}

/// Argument checks and replies that do not depend on the target, compared with a real Redis source.
#[test]
fn argument_errors_match_redis() {
    let Some(redis) = redis_bin() else { return };
    let ours = Node::start(&[]);
    let theirs = Node::start_bin(redis, &[]);
    let closed = free_port().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "0", "100", "BOGUS"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "0", "100", "AUTH"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "0", "100", "AUTH2", "user"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "0", "100", "KEYS", "a"],
        vec!["MIGRATE", "127.0.0.1", &closed, "", "0", "100", "KEYS"],
        vec!["MIGRATE", "127.0.0.1", &closed, "", "0", "100", "KEYS", "nope"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "zero", "100"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "0", "soon"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "zero", "soon", "BOGUS"],
        vec!["MIGRATE", "127.0.0.1", &closed, "missing", "0", "100"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "0", "100"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "0", "-5", "COPY", "REPLACE", "AUTH", "x"],
        vec!["MIGRATE", "127.0.0.1", &closed, "", "0", "100", "KEYS", "nope", "k"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "0"],
        vec!["MIGRATE", "127.0.0.1", "notaport", "k", "0", "100"],
        vec!["MIGRATE", "nonexistent.invalid", "6379", "k", "0", "100"],
    ];
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    a.ok(&["SET", "k", "v"]);
    b.ok(&["SET", "k", "v"]);
    for case in &cases {
        let (x, y) = (a.raw(case), b.raw(case));
        assert_eq!(slotkv_tests::show(&x), slotkv_tests::show(&y), "{case:?}");
    }
}

/// The same scenario from a slotkv node to a slotkv node and from a Redis to a Redis: identical replies.
#[test]
fn a_slotkv_pair_answers_as_a_redis_pair() {
    let Some(redis) = redis_bin() else { return };
    let run = |bin: &Path| -> Vec<String> {
        let src = Node::start_bin(bin, &[]);
        let dst = Node::start_bin(bin, &["--requirepass", "pw"]);
        let (mut s, mut d) = (src.conn(), dst.conn());
        d.ok(&["AUTH", "pw"]);
        s.ok(&["MSET", "a", "1", "b", "2", "c", "3"]);
        s.expect(&["RPUSH", "l", "x", "y"], b":2\r\n");
        d.ok(&["SET", "b", "taken"]);
        let p = dst.port;
        let mut out = Vec::new();
        let mut step = |s: &mut Conn, d: &mut Conn, key: &str, extra: &[&str]| {
            let reply = migrate(s, p, key, extra);
            let state = [s.raw(&["DBSIZE"]), d.raw(&["DBSIZE"]), d.raw(&["MGET", "a", "b", "c"])];
            out.push(format!(
                "{extra:?} -> {} {}",
                slotkv_tests::show(&reply),
                slotkv_tests::show(&state.concat())
            ));
        };
        step(&mut s, &mut d, "a", &[]);
        step(&mut s, &mut d, "a", &["AUTH", "nope"]);
        step(&mut s, &mut d, "a", &["AUTH", "pw"]);
        step(&mut s, &mut d, "a", &["AUTH", "pw"]);
        step(&mut s, &mut d, "b", &["AUTH", "pw"]);
        step(&mut s, &mut d, "b", &["COPY", "REPLACE", "AUTH2", "default", "pw"]);
        step(&mut s, &mut d, "", &["AUTH", "pw", "KEYS", "b", "c", "l", "zz"]);
        step(&mut s, &mut d, "", &["REPLACE", "AUTH", "pw", "KEYS", "b", "c", "l", "zz"]);
        step(&mut s, &mut d, "l", &["AUTH", "pw"]);
        out
    };
    let ours = run(slotkv_tests::node_bin());
    let theirs = run(redis);
    assert_eq!(ours, theirs);
}

/// Interop with a real Redis target: the exchange (AUTH, SELECT, RESTORE) is understood, and Redis's
/// refusal of our payload (our DUMP format is not RDB) comes back as Redis would report it.
#[test]
fn a_redis_target_speaks_the_same_exchange() {
    let Some(redis) = redis_bin() else { return };
    let src = Node::start(&[]);
    let target = Node::start_bin(redis, &["--requirepass", "pw"]);
    let mut s = src.conn();
    s.ok(&["SET", "k", "v"]);
    assert_eq!(
        migrate(&mut s, target.port, "k", &[]),
        b"-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        migrate(&mut s, target.port, "k", &["AUTH2", "default", "bad"]),
        b"-ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        migrate(&mut s, target.port, "k", &["AUTH", "pw"]),
        b"-ERR Target instance replied with error: ERR DUMP payload version or checksum are wrong\r\n"
    );
    s.expect(&["EXISTS", "k"], b":1\r\n");
    let mut t = target.conn();
    t.ok(&["AUTH", "pw"]);
    t.expect(&["DBSIZE"], b":0\r\n");
}

// ---- cluster mode ----

/// `nodes.conf` for node `me` of two nodes (`id`, `ip:port@cport`), owning `slots[0]` and `slots[1]`.
fn nodes_conf(nodes: &[(String, String); 2], slots: [&str; 2], me: usize) -> String {
    let mut out = String::new();
    for (i, (id, addr)) in nodes.iter().enumerate() {
        let flags = if i == me { "myself,master" } else { "master" };
        out.push_str(&format!("{id} {addr} {flags} - 0 0 {} connected {}\n", i + 1, slots[i]));
    }
    out.push_str("vars currentEpoch 2 lastVoteEpoch 0\n");
    out
}

/// Two cluster-enabled nodes that know each other (each node's `nodes.conf` written while it is down,
/// since the bus that would let them meet is not there yet), with their ids.
fn two_node_cluster(args: &[&str], slots: [&str; 2]) -> ([Node; 2], [String; 2]) {
    let mut args = args.to_vec();
    args.extend(["--cluster-enabled", "yes"]);
    let mut nodes = [Node::start(&args), Node::start(&args)];
    // Each node's id and `ip:port@cport`, from its own line.
    let me = |n: &Node| {
        let text = n.conn().cmd(&["CLUSTER", "NODES"]).text();
        let line = text.lines().find(|l| l.contains("myself")).unwrap_or_default();
        let words: Vec<&str> = line.split(' ').collect();
        // A fresh node does not know its own ip yet (`:port@cport`).
        let Some((_, cport)) =
            words.get(1).and_then(|a| a.split(',').next()).and_then(|a| a.rsplit_once('@'))
        else {
            panic!("no address in {text}")
        };
        (words[0].to_string(), format!("127.0.0.1:{}@{cport}", n.port))
    };
    let conf = [me(&nodes[0]), me(&nodes[1])];
    let ports = [nodes[0].port, nodes[1].port];
    for (i, node) in nodes.iter_mut().enumerate() {
        node.terminate();
        let path = node.dir().join("nodes.conf");
        std::fs::write(&path, nodes_conf(&conf, slots, i))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        node.restart();
        assert_eq!(node.port, ports[i], "node {i} kept its port");
        let mut c = node.conn();
        assert!(
            wait_for(Duration::from_secs(5), || c
                .cmd(&["CLUSTER", "INFO"])
                .text()
                .contains("cluster_state:ok")),
            "cluster_state"
        );
    }
    let ids = [conf[0].0.clone(), conf[1].0.clone()];
    (nodes, ids)
}

#[test]
fn cluster_mode_moves_a_key_into_an_importing_slot() {
    let (mut nodes, ids) = two_node_cluster(&["--appendonly", "yes"], ["0-8191", "8192-16383"]);
    let ports = [nodes[0].port, nodes[1].port];
    let (mut a, mut b) = (nodes[0].conn(), nodes[1].conn());
    for c in [&mut a, &mut b] {
        assert!(
            wait_for(Duration::from_secs(5), || c
                .cmd(&["CLUSTER", "INFO"])
                .text()
                .contains("cluster_state:ok")),
            "cluster_state"
        );
    }
    // Keys in one slot of the first node.
    let slot = a.int(&["CLUSTER", "KEYSLOT", "k{b}"]);
    assert!(slot < 8192, "slot {slot}");
    let slot = slot.to_string();
    a.ok(&["SET", "k{b}", "v"]);
    a.ok(&["SET", "j{b}", "w"]);
    a.expect(&["PEXPIRE", "j{b}", "100000"], b":1\r\n");
    b.ok(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &ids[0]]);
    a.ok(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &ids[1]]);
    assert_eq!(migrate(&mut a, ports[1], "k{b}", &[]), b"+OK\r\n");
    // Missing on the source in a migrating slot: ASK the target, which serves it after ASKING.
    a.expect(&["GET", "k{b}"], format!("-ASK {slot} 127.0.0.1:{}\r\n", ports[1]).as_bytes());
    b.expect(&["GET", "k{b}"], format!("-MOVED {slot} 127.0.0.1:{}\r\n", ports[0]).as_bytes());
    b.ok(&["ASKING"]);
    assert_eq!(b.bulk(&["GET", "k{b}"]).as_deref(), Some(&b"v"[..]));
    assert_eq!(migrate(&mut a, ports[1], "", &["KEYS", "j{b}"]), b"+OK\r\n");
    a.expect(&["CLUSTER", "COUNTKEYSINSLOT", &slot], b":0\r\n");
    b.expect(&["CLUSTER", "COUNTKEYSINSLOT", &slot], b":2\r\n");
    b.ok(&["CLUSTER", "SETSLOT", &slot, "NODE", &ids[1]]);
    a.ok(&["CLUSTER", "SETSLOT", &slot, "NODE", &ids[1]]);
    assert_eq!(b.bulk(&["GET", "j{b}"]).as_deref(), Some(&b"w"[..]));
    // Both ends' AOFs hold the move: the source's DEL, the target's RESTORE-ASKING as a RESTORE with an
    // absolute TTL (replaying a relative one would extend the key's life by the time until the restart).
    let aof =
        |n: &Node| String::from_utf8_lossy(&std::fs::read(last_incr_file(n.dir())).unwrap()).into_owned();
    let (src_aof, dst_aof) = (aof(&nodes[0]), aof(&nodes[1]));
    assert!(src_aof.contains("$3\r\nDEL\r\n$4\r\nk{b}\r\n"), "{src_aof}");
    assert!(src_aof.contains("$3\r\nDEL\r\n$4\r\nj{b}\r\n"), "{src_aof}");
    assert!(!src_aof.contains("MIGRATE"), "{src_aof}");
    assert!(!dst_aof.contains("RESTORE-ASKING"), "{dst_aof}");
    assert!(dst_aof.contains("$7\r\nRESTORE\r\n$4\r\nj{b}\r\n"), "{dst_aof}");
    assert!(dst_aof.contains("$6\r\nABSTTL\r\n"), "{dst_aof}");
    for node in nodes.iter_mut() {
        node.terminate();
        node.restart();
    }
    let (mut a, mut b) = (nodes[0].conn(), nodes[1].conn());
    a.expect(&["CLUSTER", "COUNTKEYSINSLOT", &slot], b":0\r\n");
    b.expect(&["CLUSTER", "COUNTKEYSINSLOT", &slot], b":2\r\n");
    let pttl = b.int(&["PTTL", "j{b}"]);
    assert!((80_000..=100_000).contains(&pttl), "pttl {pttl}");
}

/// `redis-cli --cluster reshard` (SETSLOT, GETKEYSINSLOT, MIGRATE ... KEYS in pipelines of 10) between two
/// slotkv nodes: every key ends on the owner of its slot, and `--cluster check` is clean.
#[test]
fn redis_cli_reshard_moves_slots_between_slotkv_nodes() {
    let cli = Path::new("/usr/bin/redis-cli");
    if !cli.exists() {
        eprintln!("no redis-cli: skipped");
        return;
    }
    let (nodes, ids) = two_node_cluster(&[], ["0-16383", ""]);
    let mut a = nodes[0].conn();
    let keys: Vec<String> = (0..600).map(|i| format!("key:{i}")).collect();
    for k in &keys {
        a.ok(&["SET", k, k]);
    }
    let from = format!("127.0.0.1:{}", nodes[0].port);
    let out = std::process::Command::new(cli)
        .args(["--cluster", "reshard", &from, "--cluster-from", &ids[0], "--cluster-to", &ids[1]])
        .args(["--cluster-slots", "1500", "--cluster-yes", "--cluster-pipeline", "10"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let mut b = nodes[1].conn();
    let (na, nb) = (a.int(&["DBSIZE"]), b.int(&["DBSIZE"]));
    assert_eq!(na + nb, 600);
    assert!(nb > 0, "some keys moved");
    for k in &keys {
        let slot = a.int(&["CLUSTER", "KEYSLOT", k]);
        let owner = if slot < 1500 { &mut b } else { &mut a };
        assert_eq!(owner.bulk(&["GET", k]), Some(k.clone().into_bytes()), "{k} in slot {slot}");
    }
    let check = std::process::Command::new(cli).args(["--cluster", "check", &from]).output().unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
    assert!(!text.contains("[WARNING]") && !text.contains("[ERR]"), "{text}");
}
