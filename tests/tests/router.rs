//! slotkv-router end to end: a 3-node cluster from a layout, a router in front of it, and plain RESP
//! connections to both. Forwarded replies are compared byte for byte with what the owning node answers
//! directly, in RESP2 and RESP3. With replicas: reads served by them when asked (`--read-from`), and
//! plain clients writing through the router while a master is killed carry on once its replica takes over.

use slotkv_tests::cluster_replicas::{calls, cluster_with_replicas, role};
use slotkv_tests::router::RouterProc;
use slotkv_tests::{cluster_bin, encode, show, wait_for, Conn, Reply, TestCluster};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn cluster_and_router(extra: &[&str]) -> (TestCluster, RouterProc) {
    let cluster = TestCluster::from_layout(3);
    let seeds: Vec<String> = (0..3).map(|i| cluster.addr(i)).collect();
    let router = RouterProc::start(&seeds, extra);
    (cluster, router)
}

/// A connection to the node that serves `key` (the one that does not answer `MOVED`).
fn owner_conn(cluster: &TestCluster, key: &str) -> Conn {
    for i in 0..3 {
        let mut c = cluster.conn(i);
        let r = c.raw(&["EXISTS", key]);
        if !r.starts_with(b"-MOVED") {
            return c;
        }
    }
    panic!("no node serves {key}");
}

#[test]
fn forwards_single_key_commands_and_pipelines_in_order() {
    let (cluster, router) = cluster_and_router(&[]);
    let mut r = router.conn();
    // Keys on every node, written through the router, read back from the owners.
    for n in 0..300 {
        r.ok(&["SET", &format!("k{n}"), &format!("v{n}")]);
    }
    for n in (0..300).step_by(37) {
        let key = format!("k{n}");
        assert_eq!(owner_conn(&cluster, &key).bulk(&["GET", &key]), Some(format!("v{n}").into_bytes()));
    }
    // A pipeline of 2,000 mixed commands in one write: replies in order.
    let mut batch = Vec::new();
    for n in 0..500 {
        batch.extend(encode(&["INCR", &format!("c{n}")]));
        batch.extend(encode(&["GET", &format!("k{}", n % 300)]));
        batch.extend(encode(&["RPUSH", &format!("l{}", n % 7), "x"]));
        batch.extend(encode(&["GET", &format!("missing{n}")]));
    }
    r.send_raw(&batch);
    for n in 0..500 {
        assert_eq!(r.read_reply(), Reply::Int(1), "INCR c{n}");
        assert_eq!(r.read_reply(), Reply::Bulk(format!("v{}", n % 300).into_bytes()));
        assert!(matches!(r.read_reply(), Reply::Int(_)));
        assert_eq!(r.read_raw(), b"$-1\r\n");
    }
    // Inline commands are re-encoded.
    r.send_raw(b"SET inline value\r\nGET inline\r\n");
    assert_eq!(r.read_raw(), b"+OK\r\n");
    assert_eq!(r.read_raw(), b"$5\r\nvalue\r\n");
    // Errors come from the nodes, exactly.
    assert_eq!(r.raw(&["GET"]), b"-ERR wrong number of arguments for 'get' command\r\n");
    assert!(r.raw(&["NOSUCHCMD", "a"]).starts_with(b"-ERR unknown command 'NOSUCHCMD'"));
    r.ok(&["SET", "str", "x"]);
    assert!(show(&r.raw(&["LPUSH", "str", "x"])).starts_with("-WRONGTYPE"));
}

#[test]
fn multi_key_commands_split_and_merge() {
    let (cluster, router) = cluster_and_router(&[]);
    let mut r = router.conn();
    let keys: Vec<String> = (0..1000).map(|n| format!("mk{n}")).collect();
    let mut mset = vec!["MSET".to_string()];
    for k in &keys {
        mset.push(k.clone());
        mset.push(format!("val-{k}"));
    }
    r.ok(&mset);
    let mut mget = vec!["MGET".to_string()];
    mget.extend(keys.iter().cloned());
    mget.insert(500, "absent".into());
    let got = r.cmd(&mget).items();
    assert_eq!(got.len(), 1001);
    for (i, v) in got.iter().enumerate() {
        let expected = match i.cmp(&499) {
            std::cmp::Ordering::Less => Reply::Bulk(format!("val-mk{i}").into_bytes()),
            std::cmp::Ordering::Equal => Reply::Nil,
            std::cmp::Ordering::Greater => Reply::Bulk(format!("val-mk{}", i - 1).into_bytes()),
        };
        assert_eq!(*v, expected, "MGET position {i}");
    }
    // Every node got its share.
    for i in 0..3 {
        assert!(cluster.conn(i).int(&["DBSIZE"]) > 250, "node {i}");
    }
    assert_eq!(r.int(&["EXISTS", "mk1", "mk2", "mk2", "nope"]), 3);
    assert_eq!(r.int(&["TOUCH", "mk1", "mk2", "nope"]), 2);
    assert_eq!(r.int(&["DEL", "mk1", "mk2", "mk3", "nope"]), 3);
    assert_eq!(r.int(&["UNLINK", "mk4", "mk5"]), 2);
    assert_eq!(r.int(&["DBSIZE"]), 995);
    // Atomic commands never split.
    assert_eq!(
        r.raw(&["MSETNX", "a", "1", "b", "2"]),
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    assert_eq!(r.int(&["MSETNX", "{t}a", "1", "{t}b", "2"]), 1);
    // MGET in RESP3 merges nulls as RESP3 nulls.
    let mut r3 = router.conn();
    r3.cmd(&["HELLO", "3"]);
    assert_eq!(
        r3.raw(&["MGET", "mk10", "none1", "mk11"]),
        b"*3\r\n$8\r\nval-mk10\r\n_\r\n$8\r\nval-mk11\r\n"
    );
    let mut r2 = router.conn();
    assert_eq!(
        r2.raw(&["MGET", "mk10", "none1", "mk11"]),
        b"*3\r\n$8\r\nval-mk10\r\n$-1\r\n$8\r\nval-mk11\r\n"
    );
}

#[test]
fn replies_match_the_owning_node_in_both_protocols() {
    let (cluster, router) = cluster_and_router(&[]);
    let mut setup = router.conn();
    setup.int(&["HSET", "{s}h", "f1", "1", "f2", "2.5"]);
    setup.int(&["ZADD", "{s}z", "1", "a", "2.5", "b", "3", "c"]);
    setup.int(&["ZADD", "{s}z2", "1", "a", "4", "d"]);
    setup.int(&["SADD", "{s}s", "x", "y"]);
    setup.int(&["RPUSH", "{s}l", "a", "b", "a"]);
    let commands: Vec<Vec<&str>> = vec![
        vec!["HGETALL", "{s}h"],
        vec!["HGET", "{s}h", "nope"],
        vec!["ZRANGE", "{s}z", "0", "-1", "WITHSCORES"],
        vec!["ZSCORE", "{s}z", "b"],
        vec!["ZMSCORE", "{s}z", "a", "nope"],
        vec!["ZRANDMEMBER", "{s}z", "-5", "WITHSCORES"],
        vec!["HRANDFIELD", "{s}h", "-3", "WITHVALUES"],
        vec!["ZUNION", "2", "{s}z", "{s}z2", "WITHSCORES"],
        vec!["ZINTER", "2", "{s}z", "{s}z2", "WITHSCORES"],
        vec!["ZDIFF", "2", "{s}z", "{s}z2", "WITHSCORES"],
        vec!["ZRANK", "{s}z", "nope"],
        vec!["SMISMEMBER", "{s}s", "x", "q"],
        vec!["LPOS", "{s}l", "a", "COUNT", "0"],
        vec!["LPOP", "{s}nolist", "2"],
        vec!["GET", "{s}nokey"],
        vec!["TYPE", "{s}h"],
        vec!["OBJECT", "ENCODING", "{s}z"],
        vec!["ZINCRBY", "{s}z", "0.5", "a"],
        vec!["ZPOPMIN", "{s}z", "2"],
        vec!["ZMPOP", "1", "{s}z2", "MAX", "COUNT", "1"],
        vec!["ZMPOP", "1", "{s}empty", "MIN"],
        vec!["BLPOP", "{s}empty", "0.01"],
        vec!["BZPOPMIN", "{s}empty", "0.01"],
        vec!["EXPIRETIME", "{s}h"],
    ];
    for resp3 in [false, true] {
        let mut via = router.conn();
        let mut direct = owner_conn(&cluster, "{s}h");
        if resp3 {
            via.cmd(&["HELLO", "3"]);
            direct.cmd(&["HELLO", "3"]);
        }
        for c in &commands {
            let a = via.raw(c);
            let b = direct.raw(c);
            // Random picks and pops change the data: compare shapes for those, bytes for the rest.
            if c[0].ends_with("RANDMEMBER")
                || c[0] == "HRANDFIELD"
                || c[0].contains("POP")
                || c[0] == "ZINCRBY"
            {
                assert_eq!(a.first(), b.first(), "{c:?} resp3={resp3}: {} vs {}", show(&a), show(&b));
            } else {
                assert_eq!(show(&a), show(&b), "{c:?} resp3={resp3}");
            }
        }
    }
}

#[test]
fn fan_out_and_the_cluster_seen_as_one_node() {
    let (cluster, router) = cluster_and_router(&[]);
    let mut r = router.conn();
    for n in 0..200 {
        r.ok(&["SET", &format!("key:{n}"), "v"]);
    }
    assert_eq!(r.int(&["DBSIZE"]), 200);
    assert_eq!(r.cmd(&["KEYS", "key:1*"]).items().len(), 111);
    assert_eq!(r.raw(&["PING"]), b"+PONG\r\n");
    assert_eq!(r.raw(&["PING", "hi"]), b"$2\r\nhi\r\n");
    assert_eq!(r.raw(&["ECHO", "hi"]), b"$2\r\nhi\r\n");
    assert!(r.bulk(&["RANDOMKEY"]).is_some());
    // SCAN over every node, with a small COUNT: every key at least once.
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let page = r.cmd(&["SCAN", &cursor, "COUNT", "7"]).items();
        cursor = page[0].text();
        for k in page[1].strings() {
            seen.insert(k);
        }
        rounds += 1;
        assert!(rounds < 1000, "SCAN does not end");
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(r.raw(&["SCAN", "notanumber"]), b"-ERR invalid cursor\r\n");
    // One node owning every slot, at the router's address.
    let slots = r.cmd(&["CLUSTER", "SLOTS"]).items();
    assert_eq!(slots.len(), 1);
    let range = slots[0].items();
    assert_eq!((range[0].int(), range[1].int()), (0, 16383));
    assert_eq!(range[2].items()[1].int(), i64::from(router.port));
    assert!(r.cmd(&["CLUSTER", "INFO"]).text().contains("cluster_state:ok"));
    assert!(r
        .cmd(&["CLUSTER", "NODES"])
        .text()
        .contains(&format!("127.0.0.1:{}@0 myself,master - 0 0 1 connected 0-16383", router.port)));
    assert_eq!(r.int(&["CLUSTER", "KEYSLOT", "somekey"]), 11058);
    assert_eq!(r.cmd(&["CLUSTER", "MYID"]).text().len(), 40);
    assert_eq!(
        r.int(&["CLUSTER", "COUNTKEYSINSLOT", "0"]),
        cluster.conn(0).int(&["CLUSTER", "COUNTKEYSINSLOT", "0"])
    );
    let info = r.cmd(&["INFO"]).text();
    for field in ["redis_version:7.2.4", "connected_clients:", "# Router", "node2:addr=", "db0:keys=200"] {
        assert!(info.contains(field), "INFO lacks {field}:\n{info}");
    }
    // Connection state.
    assert_eq!(r.raw(&["SELECT", "0"]), b"+OK\r\n");
    assert_eq!(r.raw(&["SELECT", "1"]), b"-ERR SELECT is not allowed in cluster mode\r\n");
    r.ok(&["CLIENT", "SETNAME", "tester"]);
    assert_eq!(r.bulk(&["CLIENT", "GETNAME"]), Some(b"tester".to_vec()));
    assert_eq!(
        r.raw(&["CLIENT", "SETNAME", "a b"]),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    r.ok(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]);
    let mut other = router.conn();
    let other_id = other.int(&["CLIENT", "ID"]);
    let list = r.cmd(&["CLIENT", "LIST"]).text();
    assert!(list.contains("name=tester") && list.contains("lib-name=mylib"), "{list}");
    assert!(list.contains(&format!("id={other_id} ")), "{list}");
    assert_eq!(r.int(&["CLIENT", "KILL", "ID", &other_id.to_string()]), 1);
    let (_, closed) = other.read_until_close(Duration::from_secs(5));
    assert!(closed, "a killed client is disconnected");
    // HELLO 3 switches this client only.
    let mut r3 = router.conn();
    let hello = r3.raw(&["HELLO", "3"]);
    assert!(hello.starts_with(b"%7\r\n"), "{}", show(&hello));
    r3.int(&["HSET", "h", "f", "v"]);
    assert_eq!(r3.raw(&["HGETALL", "h"]), b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(r.raw(&["HGETALL", "h"]), b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(r.raw(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(r.int(&["DBSIZE"]), 0);
}

#[test]
fn transactions_blocking_and_pubsub() {
    let (cluster, router) = cluster_and_router(&[]);
    let mut r = router.conn();
    // A transaction on one slot.
    r.ok(&["MULTI"]);
    assert_eq!(r.raw(&["SET", "{t}a", "1"]), b"+QUEUED\r\n");
    assert_eq!(r.raw(&["INCR", "{t}a"]), b"+QUEUED\r\n");
    assert_eq!(r.raw(&["EXEC"]), b"*2\r\n+OK\r\n:2\r\n");
    // Keyless commands queued before the first key are replayed on the pinned node.
    r.ok(&["MULTI"]);
    assert_eq!(r.raw(&["PING"]), b"+QUEUED\r\n");
    assert_eq!(r.raw(&["GET", "{t}a"]), b"+QUEUED\r\n");
    assert_eq!(r.raw(&["EXEC"]), b"*2\r\n+PONG\r\n$1\r\n2\r\n");
    // A queued command for another node: MOVED, and EXEC aborts (Redis Cluster's semantics).
    let a = cluster.key_on(0, "x");
    let b = cluster.key_on(1, "x");
    r.ok(&["MULTI"]);
    assert_eq!(r.raw(&["SET", &a, "1"]), b"+QUEUED\r\n");
    assert!(show(&r.raw(&["SET", &b, "1"])).starts_with("-MOVED"));
    assert_eq!(r.raw(&["EXEC"]), b"-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(r.raw(&["EXEC"]), b"-ERR EXEC without MULTI\r\n");
    assert_eq!(r.raw(&["DISCARD"]), b"-ERR DISCARD without MULTI\r\n");
    // WATCH: a write from another client makes EXEC fail.
    r.ok(&["WATCH", "{w}k"]);
    router.conn().ok(&["SET", "{w}k", "other"]);
    r.ok(&["MULTI"]);
    r.raw(&["SET", "{w}k", "mine"]);
    assert_eq!(r.raw(&["EXEC"]), b"*-1\r\n");
    assert_eq!(r.bulk(&["GET", "{w}k"]), Some(b"other".to_vec()));
    // A blocking pop woken by a push from another client.
    let mut blocked = router.conn();
    blocked.send(&["BLPOP", "queue", "5"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(router.conn().int(&["RPUSH", "queue", "job"]), 1);
    assert_eq!(
        blocked.read_reply(),
        Reply::Array(vec![Reply::Bulk(b"queue".to_vec()), Reply::Bulk(b"job".to_vec())])
    );
    assert_eq!(blocked.raw(&["BLPOP", "queue", "0.05"]), b"*-1\r\n");
    // Pub/sub: a subscriber and a publisher on different connections; sharded channels at the owner.
    let mut sub = router.conn();
    sub.send(&["SUBSCRIBE", "news"]);
    assert_eq!(sub.read_raw(), b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    assert_eq!(sub.raw(&["GET", "x"]), b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    let mut publisher = router.conn();
    assert!(publisher.int(&["PUBLISH", "news", "hello"]) >= 1);
    assert_eq!(sub.read_raw(), b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    sub.send(&["SSUBSCRIBE", "shardchan"]);
    assert_eq!(sub.read_raw(), b"*3\r\n$10\r\nssubscribe\r\n$9\r\nshardchan\r\n:1\r\n");
    assert_eq!(publisher.int(&["SPUBLISH", "shardchan", "s1"]), 1);
    assert_eq!(sub.read_raw(), b"*3\r\n$8\r\nsmessage\r\n$9\r\nshardchan\r\n$2\r\ns1\r\n");
    assert_eq!(sub.raw(&["RESET"]), b"+RESET\r\n");
    assert_eq!(sub.raw(&["PING"]), b"+PONG\r\n");
}

#[test]
fn auth_limits_and_graceful_shutdown() {
    let (_cluster, mut router) = cluster_and_router(&["--requirepass", "pw", "--maxclients", "3"]);
    let mut r = router.conn();
    assert_eq!(r.raw(&["GET", "a"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(
        r.raw(&["AUTH", "bad"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    r.ok(&["AUTH", "pw"]);
    r.ok(&["SET", "a", "1"]);
    let mut h = router.conn();
    assert!(h.raw(&["HELLO", "3"]).starts_with(b"-NOAUTH HELLO must be called"));
    assert!(h.raw(&["HELLO", "3", "AUTH", "default", "pw"]).starts_with(b"%7"));
    let _third = router.conn();
    let mut fourth = router.conn();
    let (bytes, closed) = fourth.read_until_close(Duration::from_secs(5));
    assert_eq!(bytes, b"-ERR max number of clients reached\r\n");
    assert!(closed);
    let status = router.terminate().expect("the router exits after SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn read_from_replicas_when_asked() {
    let cluster = cluster_with_replicas(&cluster_bin(), 2000);
    let router = RouterProc::start(&[cluster.addr(0)], &["--read-from", "prefer-replica"]);
    let mut r = router.conn();
    let info = r.cmd(&["INFO", "router"]).text();
    assert!(info.contains("router_replicas:3"), "{info}");
    let keys: Vec<String> = (0..300).map(|n| format!("rr:{n}")).collect();
    for k in &keys {
        r.ok(&["SET", k, k]);
    }
    // Replication is asynchronous: read (MGET split per slot, to the replicas) until all arrived.
    let mut mget = vec!["MGET".to_string()];
    mget.extend(keys.iter().cloned());
    let want = Reply::Array(keys.iter().map(|k| Reply::Bulk(k.clone().into_bytes())).collect());
    assert!(wait_for(Duration::from_secs(10), || r.cmd(&mget) == want), "the replicas did not catch up");
    for k in &keys {
        assert_eq!(r.bulk(&["GET", k]), Some(k.clone().into_bytes()));
    }
    // Writes still go to the primaries, through the same router.
    r.ok(&["SET", "rr:after", "x"]);
    for i in 0..3 {
        assert_eq!(calls(&cluster, i, "get") + calls(&cluster, i, "mget"), 0, "master {i} served no read");
        assert!(calls(&cluster, i, "set") > 50, "master {i} served the writes");
        assert!(calls(&cluster, i + 3, "get") > 50, "replica {} served the reads", i + 3);
    }
}

#[test]
fn a_killed_master_is_replaced_and_plain_clients_of_the_router_carry_on() {
    let mut cluster = cluster_with_replicas(&cluster_bin(), 2000);
    let seeds: Vec<String> = (0..3).map(|i| cluster.addr(i)).collect();
    let router = RouterProc::start(&seeds, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    // Plain RESP clients writing one command at a time (as redis-cli or a web app would).
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (stop, ok, errors, port) =
                (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&errors), router.port);
            std::thread::spawn(move || {
                let mut conn = Conn::connect(port);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    match conn.try_cmd(&["SET", &format!("rf:{t}:{n}"), &n.to_string()]) {
                        Ok(Reply::Simple(_)) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => errors
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((Instant::now(), format!("{other:?}"))),
                    }
                    n += 1;
                }
            })
        })
        .collect();
    assert!(wait_for(Duration::from_secs(10), || ok.load(Ordering::Relaxed) > 1000), "no writes");
    let killed = Instant::now();
    cluster.nodes[0].kill9();
    assert!(
        wait_for(Duration::from_secs(10), || role(&cluster, 1, 3) == "master"),
        "the replica was not promoted"
    );
    let promoted = killed.elapsed();
    let before = ok.load(Ordering::Relaxed);
    let resumed = wait_for(Duration::from_secs(10), || ok.load(Ordering::Relaxed) > before + 1000);
    let resumed_after = killed.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let errors = std::mem::take(&mut *errors.lock().unwrap_or_else(|p| p.into_inner()));
    eprintln!(
        "promoted {promoted:?} after the kill; 1000 more writes {resumed_after:?} after it; {} writes ok, {} errors",
        ok.load(Ordering::Relaxed),
        errors.len()
    );
    assert!(resumed, "the workload did not resume");
    assert!(errors.is_empty(), "{} errors, first: {:?}", errors.len(), errors.first());
    // The router now sends the dead master's slots to the promoted replica.
    let info = router.conn().cmd(&["INFO", "router"]).text();
    assert!(info.contains(&cluster.addr(3)), "{info}");
}

#[test]
fn reads_from_a_dead_replica_fall_back_to_the_master() {
    let mut cluster = cluster_with_replicas(&cluster_bin(), 2000);
    let router = RouterProc::start(&[cluster.addr(0)], &["--read-from", "prefer-replica"]);
    let key = cluster.key_on(0, "fb:");
    let mut r = router.conn();
    r.ok(&["SET", &key, "v"]);
    assert!(wait_for(Duration::from_secs(5), || r.bulk(&["GET", &key]) == Some(b"v".to_vec())));
    let before = calls(&cluster, 0, "get");
    cluster.nodes[3].kill9();
    let killed = Instant::now();
    while killed.elapsed() < Duration::from_millis(3500) {
        assert_eq!(r.cmd(&["GET", &key]), Reply::Bulk(b"v".to_vec()));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(calls(&cluster, 0, "get") > before + 50, "the master served the reads");
}

#[test]
fn script_load_reaches_every_node_so_evalsha_works_on_any_slot() {
    let (cluster, router) = cluster_and_router(&[]);
    let mut r = router.conn();
    let script = "return redis.call('INCR', KEYS[1])";
    let sha = r.bulk(&["SCRIPT", "LOAD", script]).unwrap_or_default();
    assert_eq!(sha.len(), 40);
    let sha = String::from_utf8_lossy(&sha).into_owned();
    for i in 0..3 {
        assert_eq!(
            cluster.conn(i).cmd(&["SCRIPT", "EXISTS", &sha]),
            Reply::Array(vec![Reply::Int(1)]),
            "node {i}"
        );
        let key = cluster.key_on(i, "evalsha:");
        assert_eq!(r.int(&["EVALSHA", &sha, "1", &key]), 1, "a key on node {i}");
    }
    assert_eq!(r.cmd(&["SCRIPT", "EXISTS", &sha, "0000"]), Reply::Array(vec![Reply::Int(1), Reply::Int(0)]));
    // A script only one node has does not exist for the cluster.
    cluster.conn(1).ok(&["SCRIPT", "FLUSH"]);
    assert_eq!(r.cmd(&["SCRIPT", "EXISTS", &sha]), Reply::Array(vec![Reply::Int(0)]));
    r.ok(&["SCRIPT", "FLUSH"]);
    assert_eq!(cluster.conn(0).cmd(&["SCRIPT", "EXISTS", &sha]), Reply::Array(vec![Reply::Int(0)]));
}

#[test]
fn client_kill_ends_an_idle_session_and_a_blocked_one() {
    let (_cluster, router) = cluster_and_router(&[]);
    let mut idle = router.conn();
    let idle_id = idle.int(&["CLIENT", "ID"]);
    let mut blocked = router.conn();
    let blocked_id = blocked.int(&["CLIENT", "ID"]);
    blocked.send(&["BLPOP", "kill:list", "0"]);
    let mut admin = router.conn();
    // The BLPOP is waiting on its own node connection once the router shows the command.
    assert!(
        wait_for(Duration::from_secs(5), || {
            admin
                .cmd(&["CLIENT", "LIST"])
                .text()
                .lines()
                .any(|l| l.contains(&format!("id={blocked_id} ")) && l.contains("cmd=blpop"))
        }),
        "the BLPOP never reached the router"
    );
    assert_eq!(admin.int(&["CLIENT", "KILL", "ID", &idle_id.to_string()]), 1);
    let (bytes, closed) = idle.read_until_close(Duration::from_secs(5));
    assert!(bytes.is_empty() && closed, "{bytes:?} {closed}");
    assert_eq!(admin.int(&["CLIENT", "KILL", "ID", &blocked_id.to_string()]), 1);
    let (bytes, closed) = blocked.read_until_close(Duration::from_secs(5));
    assert!(bytes.is_empty() && closed, "{bytes:?} {closed}");
    // The others carry on.
    admin.ok(&["SET", "kill:after", "1"]);
    assert_eq!(admin.int(&["CLIENT", "KILL", "ID", &idle_id.to_string()]), 0);
}
