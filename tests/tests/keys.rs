//! Generic key commands: deletion, existence, type, expiry, renaming, copying, iteration.

use slotkv_tests::{Conn, Node, Reply};
use std::collections::{BTreeSet, HashMap};

fn sorted(reply: Reply) -> Vec<String> {
    let mut v = reply.strings();
    v.sort();
    v
}

#[test]
fn del_unlink_exists_type_touch() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["MSET", "a", "1", "b", "2", "c", "3"]);
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["EXISTS", "a", "b", "h", "h", "nope"], b":4\r\n");
    c.expect(&["DEL", "a", "b", "nope"], b":2\r\n");
    c.expect(&["DEL", "a"], b":0\r\n");
    c.expect(&["UNLINK", "c", "nope"], b":1\r\n");
    c.expect(&["EXISTS", "a", "b", "c"], b":0\r\n");
    c.expect(&["TYPE", "h"], b"+hash\r\n");
    c.ok(&["SET", "s", "v"]);
    c.expect(&["TYPE", "s"], b"+string\r\n");
    c.expect(&["TYPE", "nope"], b"+none\r\n");
    c.expect(&["TOUCH", "s", "h", "nope"], b":2\r\n");
    // A key named twice is deleted, and counted, once.
    c.expect(&["DEL", "s", "s"], b":1\r\n");
    c.expect(&["DEL", "h"], b":1\r\n");
    c.expect(&["DBSIZE"], b":0\r\n");
    c.expect(&["DEL"], b"-ERR wrong number of arguments for 'del' command\r\n");
    c.expect(&["UNLINK"], b"-ERR wrong number of arguments for 'unlink' command\r\n");
    c.expect(&["EXISTS"], b"-ERR wrong number of arguments for 'exists' command\r\n");
    c.expect(&["TYPE"], b"-ERR wrong number of arguments for 'type' command\r\n");
}

#[test]
fn expire_ttl_persist() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "e", "v"]);
    c.expect(&["TTL", "e"], b":-1\r\n");
    c.expect(&["PTTL", "e"], b":-1\r\n");
    c.expect(&["EXPIRE", "e", "100"], b":1\r\n");
    assert!((99..=100).contains(&c.int(&["TTL", "e"])));
    assert!((99_000..=100_000).contains(&c.int(&["PTTL", "e"])));
    c.expect(&["TTL", "nope"], b":-2\r\n");
    c.expect(&["PTTL", "nope"], b":-2\r\n");
    c.expect(&["EXPIRE", "nope", "100"], b":0\r\n");
    c.expect(&["PERSIST", "e"], b":1\r\n");
    c.expect(&["PERSIST", "e"], b":0\r\n");
    c.expect(&["PERSIST", "nope"], b":0\r\n");
    c.expect(&["TTL", "e"], b":-1\r\n");
    // TTL rounds to the nearest second.
    c.expect(&["PEXPIRE", "e", "1500"], b":1\r\n");
    assert!((1..=2).contains(&c.int(&["TTL", "e"])));
    // A time not in the future deletes the key and answers 1.
    c.expect(&["EXPIRE", "e", "-1"], b":1\r\n");
    c.expect(&["EXISTS", "e"], b":0\r\n");
    c.ok(&["SET", "e", "v"]);
    c.expect(&["PEXPIRE", "e", "0"], b":1\r\n");
    c.expect(&["EXISTS", "e"], b":0\r\n");
    c.ok(&["SET", "e", "v"]);
    c.expect(&["EXPIREAT", "e", "1"], b":1\r\n");
    c.expect(&["EXISTS", "e"], b":0\r\n");
    c.ok(&["SET", "ea", "v"]);
    c.expect(&["EXPIREAT", "ea", "4102444800"], b":1\r\n");
    c.expect(&["EXPIRETIME", "ea"], b":4102444800\r\n");
    c.expect(&["PEXPIRETIME", "ea"], b":4102444800000\r\n");
    c.expect(&["PEXPIREAT", "ea", "4102444800123"], b":1\r\n");
    c.expect(&["PEXPIRETIME", "ea"], b":4102444800123\r\n");
    c.expect(&["EXPIRETIME", "ea"], b":4102444800\r\n");
    c.ok(&["SET", "plain", "v"]);
    c.expect(&["EXPIRETIME", "plain"], b":-1\r\n");
    c.expect(&["PEXPIRETIME", "plain"], b":-1\r\n");
    c.expect(&["EXPIRETIME", "nope"], b":-2\r\n");
    c.expect(&["PEXPIRETIME", "nope"], b":-2\r\n");
    // Overflowing times.
    c.expect(&["EXPIRE", "ea", "9223372036854775807"], b"-ERR invalid expire time in 'expire' command\r\n");
    c.expect(&["PEXPIRE", "ea", "9223372036854775807"], b"-ERR invalid expire time in 'pexpire' command\r\n");
    c.expect(
        &["EXPIREAT", "ea", "9223372036854775807"],
        b"-ERR invalid expire time in 'expireat' command\r\n",
    );
    c.expect(&["EXPIRE", "ea", "-9223372036854775808"], b"-ERR invalid expire time in 'expire' command\r\n");
    c.expect(&["EXPIRE", "ea", "abc"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["EXPIRE", "ea", "1.5"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["EXPIRE", "ea"], b"-ERR wrong number of arguments for 'expire' command\r\n");
    c.expect(&["TTL"], b"-ERR wrong number of arguments for 'ttl' command\r\n");
    // The key is untouched by the refused commands.
    c.expect(&["PEXPIRETIME", "ea"], b":4102444800123\r\n");
    // Overwriting with SET clears the TTL; DEL and re-create too.
    c.ok(&["SET", "ea", "w"]);
    c.expect(&["TTL", "ea"], b":-1\r\n");
}

#[test]
fn expire_nx_xx_gt_lt() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "e", "v"]);
    c.expect(&["EXPIRE", "e", "100", "XX"], b":0\r\n");
    c.expect(&["EXPIRE", "e", "100", "GT"], b":0\r\n");
    c.expect(&["TTL", "e"], b":-1\r\n");
    c.expect(&["EXPIRE", "e", "100", "NX"], b":1\r\n");
    c.expect(&["EXPIRE", "e", "100", "NX"], b":0\r\n");
    c.expect(&["EXPIRE", "e", "200", "XX"], b":1\r\n");
    c.expect(&["EXPIRE", "e", "50", "GT"], b":0\r\n");
    c.expect(&["EXPIRE", "e", "300", "GT"], b":1\r\n");
    c.expect(&["EXPIRE", "e", "400", "LT"], b":0\r\n");
    c.expect(&["EXPIRE", "e", "100", "lt"], b":1\r\n");
    assert!((99..=100).contains(&c.int(&["TTL", "e"])));
    // No TTL counts as infinite: LT applies, GT does not.
    c.ok(&["SET", "p", "v"]);
    c.expect(&["PEXPIRE", "p", "100000", "GT"], b":0\r\n");
    c.expect(&["PEXPIRE", "p", "100000", "LT"], b":1\r\n");
    c.expect(&["EXPIREAT", "p", "4102444800", "GT"], b":1\r\n");
    c.expect(&["PEXPIREAT", "p", "4102444800000", "GT"], b":0\r\n");
    c.expect(&["EXPIRE", "nope", "100", "NX"], b":0\r\n");
    c.expect(
        &["EXPIRE", "e", "100", "NX", "XX"],
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    c.expect(
        &["EXPIRE", "e", "100", "NX", "GT"],
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    c.expect(
        &["EXPIRE", "e", "100", "GT", "LT"],
        b"-ERR GT and LT options at the same time are not compatible\r\n",
    );
    c.expect(&["EXPIRE", "e", "100", "foo"], b"-ERR Unsupported option foo\r\n");
    // XX and GT together are allowed.
    c.expect(&["EXPIRE", "e", "500", "XX", "GT"], b":1\r\n");
}

#[test]
fn rename_and_renamenx() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "r1", "v"]);
    c.ok(&["RENAME", "r1", "r2"]);
    c.expect(&["GET", "r2"], b"$1\r\nv\r\n");
    c.expect(&["EXISTS", "r1"], b":0\r\n");
    c.expect(&["RENAME", "r1", "r2"], b"-ERR no such key\r\n");
    c.ok(&["RENAME", "r2", "r2"]);
    c.expect(&["RENAME", "nope", "nope"], b"-ERR no such key\r\n");
    c.ok(&["SET", "r3", "x"]);
    c.expect(&["RENAMENX", "r2", "r3"], b":0\r\n");
    c.expect(&["GET", "r3"], b"$1\r\nx\r\n");
    c.expect(&["RENAMENX", "r2", "r4"], b":1\r\n");
    c.expect(&["RENAMENX", "r4", "r4"], b":0\r\n");
    c.expect(&["RENAMENX", "nope", "x"], b"-ERR no such key\r\n");
    // RENAME overwrites a destination of another type, and carries the TTL.
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.ok(&["SET", "t", "tv", "EX", "100"]);
    c.ok(&["RENAME", "t", "h"]);
    c.expect(&["TYPE", "h"], b"+string\r\n");
    assert!((99..=100).contains(&c.int(&["TTL", "h"])));
    // ...and a destination's TTL does not survive.
    c.ok(&["SET", "src", "1"]);
    c.ok(&["RENAME", "src", "h"]);
    c.expect(&["TTL", "h"], b":-1\r\n");
    c.expect(&["HSET", "hh", "a", "1", "b", "2"], b":2\r\n");
    c.ok(&["RENAME", "hh", "moved"]);
    c.expect(&["HGET", "moved", "b"], b"$1\r\n2\r\n");
    c.expect(&["RENAME", "x"], b"-ERR wrong number of arguments for 'rename' command\r\n");
}

#[test]
fn copy() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "src", "v", "EX", "100"]);
    c.expect(&["COPY", "src", "dst"], b":1\r\n");
    c.expect(&["GET", "dst"], b"$1\r\nv\r\n");
    assert!((99..=100).contains(&c.int(&["TTL", "dst"])));
    c.expect(&["COPY", "src", "dst"], b":0\r\n");
    c.ok(&["SET", "src", "w"]);
    c.expect(&["COPY", "src", "dst", "REPLACE"], b":1\r\n");
    c.expect(&["GET", "dst"], b"$1\r\nw\r\n");
    c.expect(&["TTL", "dst"], b":-1\r\n");
    c.expect(&["COPY", "src", "dst", "DB", "0"], b":0\r\n");
    c.expect(&["COPY", "src", "dst", "DB", "0", "REPLACE"], b":1\r\n");
    c.expect(&["COPY", "src", "src"], b"-ERR source and destination objects are the same\r\n");
    c.expect(&["COPY", "nope", "x"], b":0\r\n");
    c.expect(&["EXISTS", "x"], b":0\r\n");
    c.expect(&["COPY", "src", "x", "foo"], b"-ERR syntax error\r\n");
    c.expect(&["COPY", "src", "x", "DB", "abc"], b"-ERR value is not an integer or out of range\r\n");
    // A copied hash is independent of its source.
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["COPY", "h", "h2"], b":1\r\n");
    c.expect(&["HSET", "h2", "g", "w"], b":1\r\n");
    c.expect(&["HGETALL", "h"], b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    c.expect(&["HLEN", "h2"], b":2\r\n");
    c.expect(&["COPY", "a"], b"-ERR wrong number of arguments for 'copy' command\r\n");
}

#[test]
fn keys_randomkey_dbsize_flush() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["DBSIZE"], b":0\r\n");
    c.expect(&["RANDOMKEY"], b"$-1\r\n");
    c.expect(&["KEYS", "*"], b"*0\r\n");
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "other"] {
        c.ok(&["SET", k, "v"]);
    }
    c.expect(&["HSET", "hash", "f", "v"], b":1\r\n");
    c.expect(&["DBSIZE"], b":8\r\n");
    assert_eq!(sorted(c.cmd(&["KEYS", "*"])).len(), 8);
    assert_eq!(sorted(c.cmd(&["KEYS", "h?llo"])), ["h*llo", "hallo", "hello", "hxllo"]);
    assert_eq!(sorted(c.cmd(&["KEYS", "h*llo"])), ["h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]);
    assert_eq!(sorted(c.cmd(&["KEYS", "h[ae]llo"])), ["hallo", "hello"]);
    assert_eq!(sorted(c.cmd(&["KEYS", "h[^e]llo"])), ["h*llo", "hallo", "hxllo"]);
    assert_eq!(sorted(c.cmd(&["KEYS", "h[a-b]llo"])), ["hallo"]);
    assert_eq!(sorted(c.cmd(&["KEYS", "h\\*llo"])), ["h*llo"]);
    assert_eq!(sorted(c.cmd(&["KEYS", "ha*"])), ["hallo", "hash"]);
    c.expect(&["KEYS", "nomatch*"], b"*0\r\n");
    c.expect(&["KEYS", "other"], b"*1\r\n$5\r\nother\r\n");
    let all: BTreeSet<String> = sorted(c.cmd(&["KEYS", "*"])).into_iter().collect();
    for _ in 0..20 {
        let k = c.bulk(&["RANDOMKEY"]).map(|k| String::from_utf8_lossy(&k).into_owned());
        assert!(k.as_ref().is_some_and(|k| all.contains(k)), "RANDOMKEY gave {k:?}");
    }
    c.expect(&["KEYS"], b"-ERR wrong number of arguments for 'keys' command\r\n");
    c.expect(&["DBSIZE", "x"], b"-ERR wrong number of arguments for 'dbsize' command\r\n");
    c.expect(&["FLUSHALL", "foo"], b"-ERR syntax error\r\n");
    c.expect(&["DBSIZE"], b":8\r\n");
    c.ok(&["FLUSHALL"]);
    c.expect(&["DBSIZE"], b":0\r\n");
    c.expect(&["GET", "hello"], b"$-1\r\n");
    c.ok(&["SET", "one", "v"]);
    c.expect(&["RANDOMKEY"], b"$3\r\none\r\n");
    c.ok(&["FLUSHALL", "SYNC"]);
    c.ok(&["SET", "k", "v"]);
    c.ok(&["FLUSHALL", "ASYNC"]);
    c.ok(&["SET", "k", "v"]);
    c.ok(&["FLUSHDB"]);
    c.expect(&["DBSIZE"], b":0\r\n");
}

#[test]
fn object_subcommands() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["OBJECT", "ENCODING", "nope"], b"$-1\r\n");
    c.expect(&["OBJECT", "REFCOUNT", "nope"], b"$-1\r\n");
    c.expect(&["OBJECT", "foo"], b"-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n");
    c.expect(&["OBJECT"], b"-ERR wrong number of arguments for 'object' command\r\n");
    c.expect(&["OBJECT", "ENCODING"], b"-ERR wrong number of arguments for 'object|encoding' command\r\n");
    match c.cmd(&["OBJECT", "HELP"]) {
        Reply::Array(lines) => {
            assert!(lines.len() > 4, "{lines:?}");
            assert!(lines.first().is_some_and(|l| l.text().starts_with("OBJECT <subcommand>")));
        }
        other => panic!("OBJECT HELP: {other:?}"),
    }
}

/// Redis looks the key up before checking the eviction policy (`objectCommand`): a missing key is a null,
/// an existing one gets the LFU error.
#[test]
fn object_freq_of_a_missing_key_is_null() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["OBJECT", "FREQ", "nope"], b"$-1\r\n");
    c.ok(&["SET", "k", "v"]);
    c.expect(
        &["OBJECT", "FREQ", "k"],
        b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n",
    );
}

/// Iterates `SCAN` to the end with `extra` options; returns every key seen and how often.
fn scan_all(c: &mut Conn, extra: &[&str]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    let mut cursor = "0".to_string();
    for _round in 0..1_000_000 {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let reply = c.cmd(&args);
        let [next, keys] = reply.items().try_into().unwrap_or_else(|r| panic!("SCAN reply {r:?}"));
        for k in keys.strings() {
            *seen.entry(k).or_insert(0) += 1;
        }
        cursor = next.text();
        if cursor == "0" {
            return seen;
        }
    }
    panic!("SCAN did not finish");
}

#[test]
fn scan_returns_every_key_exactly_once() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let n = 3000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut args = vec!["MSET".to_string()];
        for i in chunk {
            args.push(format!("key:{i}"));
            args.push(i.to_string());
        }
        c.ok(&args);
    }
    for i in 0..200 {
        c.expect(&["HSET", &format!("hash:{i}"), "f", "v"], b":1\r\n");
    }
    let all = scan_all(&mut c, &[]);
    assert_eq!(all.len(), n + 200);
    assert!(all.values().all(|&times| times == 1), "keys returned twice");
    for i in 0..n {
        assert!(all.contains_key(&format!("key:{i}")), "key:{i} missing");
    }
    let counted = scan_all(&mut c, &["COUNT", "1000"]);
    assert_eq!(counted.len(), n + 200);
    let matched = scan_all(&mut c, &["MATCH", "key:1*", "COUNT", "50"]);
    let want = (0..n).filter(|i| i.to_string().starts_with('1')).count();
    assert_eq!(matched.len(), want);
    assert!(matched.keys().all(|k| k.starts_with("key:1")));
    let hashes = scan_all(&mut c, &["TYPE", "hash"]);
    assert_eq!(hashes.len(), 200);
    assert!(hashes.keys().all(|k| k.starts_with("hash:")));
    let strings = scan_all(&mut c, &["type", "STRING", "count", "100"]);
    assert_eq!(strings.len(), n);
    let none = scan_all(&mut c, &["TYPE", "list"]);
    assert!(none.is_empty());
}

#[test]
fn scan_survives_changes_during_iteration() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let mut other = node.conn();
    for i in 0..1000 {
        c.ok(&["SET", &format!("stay:{i}"), "v"]);
        c.ok(&["SET", &format!("go:{i}"), "v"]);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let reply = c.cmd(&["SCAN", &cursor, "COUNT", "20"]);
        let [next, keys] = reply.items().try_into().unwrap_or_else(|r| panic!("SCAN reply {r:?}"));
        for k in keys.strings() {
            *seen.entry(k).or_insert(0) += 1;
        }
        // Keys come and go between calls.
        other.int(&["DEL", &format!("go:{round}")]);
        other.ok(&["SET", &format!("new:{round}"), "v"]);
        round += 1;
        cursor = next.text();
        if cursor == "0" {
            break;
        }
        assert!(round < 100_000, "SCAN did not finish");
    }
    for i in 0..1000 {
        assert!(seen.contains_key(&format!("stay:{i}")), "stay:{i} was present throughout but not returned");
    }
    assert!(seen.values().all(|&t| t == 1));
}

#[test]
fn scan_with_a_large_count_finishes_a_small_keyspace_in_one_call() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["MSET", "a", "1", "b", "2", "c", "3"]);
    let reply = c.cmd(&["SCAN", "0", "COUNT", "100000"]);
    let [cursor, keys] = reply.items().try_into().unwrap_or_else(|r| panic!("SCAN reply {r:?}"));
    assert_eq!(cursor.text(), "0");
    let mut keys = keys.strings();
    keys.sort();
    assert_eq!(keys, ["a", "b", "c"]);
    c.cmd(&["HELLO", "3"]);
    c.expect(&["SCAN", "0", "MATCH", "zzz*", "COUNT", "100000"], b"*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn scan_argument_errors() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SCAN", "abc"], b"-ERR invalid cursor\r\n");
    c.expect(&["SCAN", "0", "COUNT", "0"], b"-ERR syntax error\r\n");
    c.expect(&["SCAN", "0", "COUNT", "-1"], b"-ERR syntax error\r\n");
    c.expect(&["SCAN", "0", "COUNT", "abc"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["SCAN", "0", "MATCH"], b"-ERR syntax error\r\n");
    c.expect(&["SCAN", "0", "foo", "bar"], b"-ERR syntax error\r\n");
    c.expect(&["SCAN"], b"-ERR wrong number of arguments for 'scan' command\r\n");
    // An empty keyspace scans to the end without returning anything.
    assert!(scan_all(&mut c, &[]).is_empty());
}
