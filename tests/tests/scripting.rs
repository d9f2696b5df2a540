//! Lua scripting (issue 10): replies, conversions and error texts byte for byte against a real
//! redis-server run side by side, the script cache, EVAL_RO, -BUSY with SCRIPT KILL / UNKILLABLE /
//! SHUTDOWN NOSAVE, the AOF keeping a script's effects, and the cluster key checks.

use slotkv_tests::{wait_for, Conn, Node, TestCluster};
use std::path::Path;
use std::time::Duration;

const REDIS: &str = "/usr/bin/redis-server";

/// A reply with every `script: <sha1>` replaced by `script: SHA` (error texts name the script).
fn normalized(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).into_owned();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("script: ") {
        let (head, tail) = rest.split_at(at + "script: ".len());
        out.push_str(head);
        let hex = tail.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        if hex == 40 {
            out.push_str("SHA");
            rest = tail.get(40..).unwrap_or_default();
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Scripts whose reply must be the same from slotkv and Redis 7 (RESP2 and RESP3 connections), each
/// run on a fresh key space with `s` holding a string, `h` a hash and `z` a sorted set.
const SAME_AS_REDIS: &[&str] = &[
    // Lua -> RESP
    "return 1",
    "return 'x'",
    "return 3.99",
    "return -3.99",
    "return 1/0",
    "return true",
    "return false",
    "return nil",
    "return {1,2,3,'ciao',{1,2}}",
    "return {1,2,nil,3}",
    "return {ok='x\\ny'}",
    "return {err='My code x'}",
    "return {1, {err='nested'}, {ok='fine'}}",
    "return {double=3.5}",
    "return {big_number='123'}",
    "return {map={a=1}}",
    "return {set={a=true}}",
    "return {verbatim_string={format='txt', string='hi'}}",
    "redis.setresp(3); return true",
    "redis.setresp(3); return false",
    // RESP -> Lua
    "return redis.call('ping')",
    "return redis.call('type','h').ok",
    "return redis.call('get','nokey')",
    "return type(redis.call('get','nokey'))",
    "return type(redis.call('lrange','nolist', 0, -1))",
    "return redis.call('hgetall','h')",
    "return redis.call('zscore','z','a')",
    "return redis.call('mget', 's', 'nokey')",
    "redis.setresp(3); return redis.call('mget', 's', 'nokey')",
    "redis.setresp(3); return redis.call('get', 'nokey') == nil",
    "redis.setresp(3); return redis.call('hgetall','h').map.f",
    "redis.setresp(3); return redis.call('zscore','z','a').double * 2",
    "redis.setresp(3); return redis.call('smembers','st').set.m",
    "redis.setresp(3); return redis.call('hgetall','h')",
    "redis.setresp(3); return redis.call('zscore','z','a')",
    "return redis.pcall('incr','s')",
    "return redis.call('incr', 'counter')",
    "return redis.call('set','x', 0.1)",
    "return redis.call('echo', 100000000000000000000)",
    // redis.* API
    "return redis.error_reply('My Error')",
    "return redis.error_reply('boom')",
    "return redis.status_reply('FINE')",
    "return redis.status_reply()",
    "return redis.error_reply()",
    "return redis.sha1hex('')",
    "return redis.sha1hex()",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.log(redis.LOG_WARNING, 'from a test')",
    "return redis.log()",
    "return redis.log('x','y')",
    "return redis.log(99,'y')",
    "return redis.set_repl(99)",
    "return redis.set_repl()",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.replicate_commands()",
    "return redis.acl_check_cmd('nosuch')",
    "return redis.acl_check_cmd('get','x')",
    "return redis.LOG_WARNING",
    "return redis.pcall('nosuch')",
    "local ok, e = pcall(redis.call, 'nosuch'); return e",
    "local ok, e = pcall(error, {err='x'}); return e",
    // errors
    "error('boom')",
    "error({err='My Error'})",
    "return nil + 1",
    "return redis.call('nosuch')",
    "return redis.call('lpush', 's', 'x')",
    "return redis.call('get')",
    "return redis.call()",
    "return redis.call({})",
    "return redis.call('get', KEYS[1])",
    "return redis.call('blpop', 'k', 0)",
    "return redis.call('multi')",
    "return redis.call('eval', 'return 1', 0)",
    "return redis.call('subscribe', 'x')",
    "return redis.call('object', 'nosub', 'x')",
    "return redis.call('config')",
    "return 'x",
    // sandbox
    "x = 5",
    "return y",
    "string.foo = 1",
    "string.format = 1",
    "redis.call = nil",
    "rawset(_G, 'x', 1)",
    "setmetatable(_G, nil)",
    "return os",
    "return io",
    "return debug",
    "return loadfile",
    "return dofile",
    "return require",
    "return print",
    "return package",
    "return _G.os",
    // libraries
    "return cjson.encode({1,2,nil,4})",
    "return cjson.encode({a='/x'})",
    "return cjson.encode({1.5, 1/3, 1e20, 100})",
    "return cjson.encode(cjson.decode('[1,2,{\"a\":null}]'))",
    "return cjson.decode('{\"a\":[1,2,{\"b\":\"c\"}]}').a[3].b",
    "return cjson.encode(function() end)",
    "return cjson.encode({[1]=1,[100]=2})",
    "return cjson.decode('xyz')",
    "return cjson.decode('')",
    "return tostring(cjson.null)",
    "return bit.tohex(255, -4)",
    "return bit.tobit(0xffffffff)",
    "return bit.bxor(5, 3)",
    "return bit.lshift(1, 31)",
    "return bit.rshift(-1, 28)",
    "return bit.arshift(-256, 4)",
    "return bit.rol(0x12345678, 12)",
    "return bit.bswap(0x12345678)",
    "return bit.band()",
    "return bit.band('x')",
    "return string.format('%d %s', 3, 'x')",
    "return table.concat({1,2,3}, ',')",
    "return #KEYS + #ARGV",
];

fn seed(c: &mut Conn) {
    c.ok(&["FLUSHALL"]);
    c.ok(&["SET", "s", "x"]);
    c.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["ZADD", "z", "1.5", "a"]);
    c.cmd(&["SADD", "st", "m"]);
}

#[test]
fn replies_and_errors_match_redis() {
    if !Path::new(REDIS).exists() {
        eprintln!("skipped: no {REDIS}");
        return;
    }
    let node = Node::start(&[]);
    let redis = Node::start_bin(Path::new(REDIS), &[]);
    let mut diffs = Vec::new();
    for resp in ["2", "3"] {
        let mut a = node.conn();
        let mut b = redis.conn();
        a.cmd(&["HELLO", resp]);
        b.cmd(&["HELLO", resp]);
        for script in SAME_AS_REDIS {
            seed(&mut a);
            seed(&mut b);
            let ours = normalized(&a.raw(&["EVAL", script, "0"]));
            let theirs = normalized(&b.raw(&["EVAL", script, "0"]));
            if ours != theirs {
                diffs.push(format!("RESP{resp} {script}\n  redis : {theirs:?}\n  slotkv: {ours:?}"));
            }
        }
    }
    assert!(diffs.is_empty(), "{} differences:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn keys_argv_and_script_cache() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let script = "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}";
    c.expect(&["EVAL", script, "2", "a", "b", "x", "y"], b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nx\r\n:2\r\n");
    // KEYS is refilled for each run, nothing of the previous one is left: not what a script added to
    // KEYS or ARGV, nor a key after a hole, nor a key it removed.
    c.expect(&["EVAL", "return #KEYS", "1", "k"], b":1\r\n");
    c.expect(&["EVAL", "KEYS.x = 1; ARGV[5] = 'y'; KEYS[1] = nil; return 1", "2", "a", "b"], b":1\r\n");
    c.expect(
        &["EVAL", "return {KEYS.x or 'none', ARGV[5] or 'none', KEYS[1], #KEYS, #ARGV}", "1", "c"],
        b"*5\r\n$4\r\nnone\r\n$4\r\nnone\r\n$1\r\nc\r\n:1\r\n:0\r\n",
    );
    let sha = c.cmd(&["SCRIPT", "LOAD", "return ARGV[1]"]).text();
    assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "{sha}");
    c.expect(&["EVALSHA", &sha, "0", "hi"], b"$2\r\nhi\r\n");
    c.expect(&["EVALSHA", &sha.to_uppercase(), "0", "hi"], b"$2\r\nhi\r\n");
    c.expect(&["EVALSHA_RO", &sha, "0", "ro"], b"$2\r\nro\r\n");
    // EVAL caches what it ran.
    c.expect(&["EVAL", "return 7", "0"], b":7\r\n");
    c.expect(&["SCRIPT", "EXISTS", &sha, "ffffffffffffffffffffffffffffffffffffffff"], b"*2\r\n:1\r\n:0\r\n");
    c.ok(&["SCRIPT", "FLUSH", "ASYNC"]);
    c.expect(&["SCRIPT", "EXISTS", &sha], b"*1\r\n:0\r\n");
    c.expect(&["EVALSHA", &sha, "0"], b"-NOSCRIPT No matching script. Please use EVAL.\r\n");
    c.expect(&["SCRIPT", "FLUSH", "LATER"], b"-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n");
    c.expect(
        &["EVAL", "return 1", "2", "a"],
        b"-ERR Number of keys can't be greater than number of args\r\n",
    );
    c.expect(&["EVAL", "return 1", "-1"], b"-ERR Number of keys can't be negative\r\n");
    c.expect(&["EVAL", "return 1", "x"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["EVAL", "return 1"], b"-ERR wrong number of arguments for 'eval' command\r\n");
    c.expect(&["SCRIPT", "KILL"], b"-NOTBUSY No scripts in execution right now.\r\n");
    // Inside MULTI the script runs at EXEC.
    c.ok(&["MULTI"]);
    c.expect(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"*1\r\n:1\r\n");
    let stats = c.cmd(&["INFO", "commandstats"]).text();
    assert!(stats.contains("cmdstat_incr:calls=1"), "{stats}");
    assert!(stats.contains("cmdstat_eval:calls="), "{stats}");
}

#[test]
fn read_only_scripts_refuse_writes() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let write = "return redis.call('set', KEYS[1], 'v')";
    let reply = normalized(&c.raw(&["EVAL_RO", write, "1", "k"]));
    assert_eq!(
        reply,
        "-ERR Write commands are not allowed from read-only scripts. script: SHA, on @user_script:1.\r\n"
    );
    c.expect(&["EXISTS", "k"], b":0\r\n");
    c.expect(&["EVAL_RO", "return redis.call('exists', KEYS[1])", "1", "k"], b":0\r\n");
    // A `#!lua flags=no-writes` script is read-only through EVAL too.
    let shebang = "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')";
    let reply = normalized(&c.raw(&["EVAL", shebang, "0"]));
    assert!(reply.contains("Write commands are not allowed from read-only scripts"), "{reply}");
    assert!(reply.contains("@user_script:2."), "{reply}");
}

#[test]
fn script_writes_wake_blocked_clients_and_watchers() {
    let node = Node::start(&[]);
    let mut watcher = node.conn();
    let mut blocked = node.conn();
    let mut c = node.conn();
    watcher.ok(&["WATCH", "w"]);
    blocked.send(&["BLPOP", "list", "5"]);
    assert!(wait_for(Duration::from_secs(5), || c.cmd(&["CLIENT", "LIST"]).text().contains("cmd=blpop")));
    c.expect(
        &[
            "EVAL",
            "redis.call('set', KEYS[1], 1); return redis.call('rpush', KEYS[2], 'x')",
            "2",
            "w",
            "list",
        ],
        b":1\r\n",
    );
    assert_eq!(blocked.read_reply().strings(), ["list", "x"]);
    watcher.ok(&["MULTI"]);
    watcher.cmd(&["GET", "w"]);
    watcher.expect(&["EXEC"], b"*-1\r\n");
}

#[test]
fn busy_script_kill_and_unkillable() {
    let node = Node::start(&["--busy-reply-threshold", "100"]);
    let mut runner = node.conn();
    let mut other = node.conn();
    runner.send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    let busy = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    assert!(wait_for(Duration::from_secs(10), || other.raw(&["PING"]) == busy));
    // A client that connects while the script runs is served too.
    let mut late = node.conn();
    late.expect(&["GET", "x"], busy);
    other.ok(&["SCRIPT", "KILL"]);
    let killed = normalized(&runner.read_raw());
    assert_eq!(killed, "-ERR Script killed by user with SCRIPT KILL... script: SHA, on @user_script:1.\r\n");
    other.expect(&["PING"], b"+PONG\r\n");
    // A script that a pcall around its loop cannot save.
    runner.send(&["EVAL", "while true do pcall(function() while true do end end) end", "0"]);
    assert!(wait_for(Duration::from_secs(10), || other.raw(&["PING"]) == busy));
    other.ok(&["SCRIPT", "KILL"]);
    assert!(normalized(&runner.read_raw()).starts_with("-ERR Script killed by user with SCRIPT KILL..."));
    // Once it wrote, it cannot be killed; SHUTDOWN without NOSAVE is refused; SHUTDOWN NOSAVE stops all.
    runner.send(&["EVAL", "redis.call('set', 'w', 1) while true do end", "0"]);
    assert!(wait_for(Duration::from_secs(10), || other.raw(&["PING"]) == busy));
    other.expect(
        &["SCRIPT", "KILL"],
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n",
    );
    other.expect(&["SHUTDOWN"], busy);
    other.send(&["SHUTDOWN", "NOSAVE"]);
    let mut node = node;
    assert!(node.wait_exit(Duration::from_secs(10)).is_some(), "SHUTDOWN NOSAVE must stop the node");
}

#[test]
fn aof_keeps_a_scripts_effects() {
    let mut node = Node::start(&["--appendonly", "yes"]);
    let mut c = node.conn();
    // The AOF is first made by a rewrite in the background: effects logged before it ends are folded
    // into its base, and the test reads them from the incremental file.
    assert!(wait_for(Duration::from_secs(10), || {
        c.persistence("aof_rewrite_in_progress") == "0" && c.persistence("aof_rewrite_scheduled") != "1"
    }));
    let script = "redis.call('set', KEYS[1], ARGV[1]); redis.call('incrby', KEYS[2], 5); return redis.call('expire', KEYS[1], 1000)";
    c.expect(&["EVAL", script, "2", "a", "n", "hello"], b":1\r\n");
    // A script that only reads logs nothing; one that fails after a write keeps that write.
    c.expect(&["EVAL", "return redis.call('get', KEYS[1])", "1", "a"], b"$5\r\nhello\r\n");
    let reply = c.raw(&["EVAL", "redis.call('incr', KEYS[1]); error('late')", "1", "n"]);
    assert!(reply.starts_with(b"-ERR user_script:1: late"), "{}", String::from_utf8_lossy(&reply));
    drop(c);
    node.terminate();
    node.restart();
    let mut c = node.conn();
    c.expect(&["GET", "a"], b"$5\r\nhello\r\n");
    c.expect(&["GET", "n"], b"$1\r\n6\r\n");
    let ttl = c.int(&["TTL", "a"]);
    assert!((900..=1000).contains(&ttl), "ttl {ttl}");
    // Effects, wrapped like a transaction; never the EVAL itself.
    let aof = std::fs::read_dir(node.dir().join("appendonlydir"))
        .unwrap_or_else(|e| panic!("appendonlydir: {e}"))
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".incr."))
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default()).into_owned())
        .collect::<String>();
    assert!(aof.contains("MULTI") && aof.contains("EXEC") && aof.contains("incrby"), "{aof}");
    assert!(!aof.to_ascii_lowercase().contains("eval"), "{aof}");
}

#[test]
fn cluster_routes_by_declared_keys_and_checks_script_keys() {
    let cluster = TestCluster::from_layout(3);
    let here = cluster.key_on(0, "here");
    let there = cluster.key_on(1, "there");
    let mut c = cluster.conn(0);
    c.expect(&["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", &here], b"+OK\r\n");
    let moved = normalized(&c.raw(&["EVAL", "return 1", "1", &there]));
    assert!(moved.starts_with("-MOVED "), "{moved}");
    c.expect(
        &["EVAL", "return 1", "2", "{a}1", "{b}1"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    );
    let non_local = normalized(&c.raw(&["EVAL", "return redis.call('get', ARGV[1])", "0", &there]));
    assert_eq!(
        non_local,
        "-ERR Script attempted to access a non local key in a cluster node script: SHA, on @user_script:1.\r\n"
    );
    // A key served here but in another slot than the declared one.
    let other_slot = (0..1000)
        .map(|i| format!("{here}-{i}"))
        .find(|k| {
            slotkv_proto::key_slot(k.as_bytes()) != slotkv_proto::key_slot(here.as_bytes())
                && c.raw(&["EVAL", "return 1", "1", k]) == b":1\r\n"
        })
        .unwrap_or_else(|| panic!("no second local slot"));
    // Allowed to a script without a `#!` line (Redis's compatibility mode), refused to one with it.
    c.expect(&["EVAL", "return redis.call('get', ARGV[1])", "1", &here, &other_slot], b"$-1\r\n");
    let flagged = "#!lua\nreturn redis.call('get', ARGV[1])";
    let cross = normalized(&c.raw(&["EVAL", flagged, "1", &here, &other_slot]));
    assert_eq!(
        cross,
        "-ERR Script attempted to access keys that do not hash to the same slot script: SHA, on @user_script:2.\r\n"
    );
}

#[test]
fn cluster_client_loads_scripts_everywhere_and_routes_evalsha() {
    use slotkv_client::{cmd, ClusterClient};
    let cluster = TestCluster::from_layout(3);
    let keys: Vec<String> = (0..3).map(|i| cluster.key_on(i, "counter")).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    rt.block_on(async {
        let client =
            ClusterClient::builder([cluster.addr(0)]).build().await.unwrap_or_else(|e| panic!("client: {e}"));
        let script = "return redis.call('INCR', KEYS[1])";
        let sha: String = client.query(&cmd("SCRIPT").arg("LOAD").arg(script)).await.expect("SCRIPT LOAD");
        for key in &keys {
            let n: i64 = client.query(&cmd("EVALSHA").arg(&sha).arg("1").arg(key)).await.expect("EVALSHA");
            assert_eq!(n, 1, "{key}");
        }
        let exists: Vec<i64> = client.query(&cmd("SCRIPT").arg("EXISTS").arg(&sha)).await.expect("EXISTS");
        assert_eq!(exists, [1]);
        // Flushed on one node only: EXISTS, the AND of every node's answer, says 0.
        cluster.conn(1).ok(&["SCRIPT", "FLUSH"]);
        let exists: Vec<i64> = client.query(&cmd("SCRIPT").arg("EXISTS").arg(&sha)).await.expect("EXISTS");
        assert_eq!(exists, [0]);
        let _: String = client.query(&cmd("SCRIPT").arg("FLUSH")).await.expect("FLUSH");
        for i in 0..3 {
            cluster.conn(i).expect(&["SCRIPT", "EXISTS", &sha], b"*1\r\n:0\r\n");
        }
    });
}
