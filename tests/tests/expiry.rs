//! Keys with a TTL: gone on access once expired (lazy expiry), and gone without any access (the active
//! expiry cycle), with the statistics to match.

use slotkv_tests::{info_field, wait_for, Conn, Node};
use std::thread::sleep;
use std::time::Duration;

fn dbsize(c: &mut Conn) -> i64 {
    c.int(&["DBSIZE"])
}

fn expired_keys(c: &mut Conn) -> u64 {
    let stats = c.cmd(&["INFO", "stats"]).text();
    info_field(&stats, "expired_keys").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{stats}"))
}

#[test]
fn expired_keys_are_gone_on_access() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "k", "v", "PX", "300"]);
    c.expect(&["GET", "k"], b"$1\r\nv\r\n");
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["PEXPIRE", "h", "300"], b":1\r\n");
    c.expect(&["HGET", "h", "f"], b"$1\r\nv\r\n");
    sleep(Duration::from_millis(400));
    // Whichever expiry got there first, an expired key reads as missing at once.
    c.expect(&["GET", "k"], b"$-1\r\n");
    c.expect(&["HGET", "h", "f"], b"$-1\r\n");
    c.expect(&["TTL", "k"], b":-2\r\n");
    c.expect(&["EXISTS", "k", "h"], b":0\r\n");
    c.expect(&["TYPE", "h"], b"+none\r\n");

    // The short GET-after-PX-50 case.
    c.ok(&["SET", "quick", "v", "PX", "50"]);
    sleep(Duration::from_millis(80));
    c.expect(&["GET", "quick"], b"$-1\r\n");
}

#[test]
fn writes_to_an_expired_key_start_afresh() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    for k in ["nx", "incr", "append", "hash", "ren", "ttl", "getex", "getdel", "setrange", "msetnx", "copy"] {
        c.ok(&["SET", k, "5", "PX", "100"]);
    }
    c.expect(&["HSET", "h", "a", "1", "b", "2"], b":2\r\n");
    c.expect(&["PEXPIRE", "h", "100"], b":1\r\n");
    sleep(Duration::from_millis(200));
    c.expect(&["SETNX", "nx", "new"], b":1\r\n");
    c.expect(&["TTL", "nx"], b":-1\r\n");
    c.expect(&["INCR", "incr"], b":1\r\n");
    c.expect(&["APPEND", "append", "x"], b":1\r\n");
    c.expect(&["HSET", "h", "c", "3"], b":1\r\n");
    c.expect(&["HLEN", "h"], b":1\r\n");
    c.expect(&["TTL", "h"], b":-1\r\n");
    c.expect(&["RENAME", "ren", "other"], b"-ERR no such key\r\n");
    c.expect(&["EXPIRE", "ttl", "100"], b":0\r\n");
    c.expect(&["PERSIST", "ttl"], b":0\r\n");
    c.expect(&["GETEX", "getex", "PERSIST"], b"$-1\r\n");
    c.expect(&["GETDEL", "getdel"], b"$-1\r\n");
    c.expect(&["SETRANGE", "setrange", "2", "x"], b":3\r\n");
    c.expect(&["GET", "setrange"], b"$3\r\n\0\0x\r\n");
    c.expect(&["MSETNX", "msetnx", "1"], b":1\r\n");
    c.expect(&["COPY", "copy", "dst"], b":0\r\n");
    c.expect(&["SET", "hash", "v", "NX", "GET"], b"$-1\r\n");
}

#[test]
fn expired_keys_are_not_listed() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "stay", "v"]);
    let mut args = vec!["MSET".to_string()];
    for i in 0..200 {
        args.push(format!("gone:{i}"));
        args.push("v".into());
    }
    c.ok(&args);
    for i in 0..200 {
        c.expect(&["PEXPIRE", &format!("gone:{i}"), "100"], b":1\r\n");
    }
    sleep(Duration::from_millis(200));
    c.expect(&["KEYS", "*"], b"*1\r\n$4\r\nstay\r\n");
    c.expect(&["KEYS", "gone:*"], b"*0\r\n");
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let reply = c.cmd(&["SCAN", &cursor, "COUNT", "1000"]);
        let [next, keys] = reply.items().try_into().unwrap_or_else(|r| panic!("SCAN {r:?}"));
        seen.extend(keys.strings());
        cursor = next.text();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen, ["stay"]);
    for _ in 0..20 {
        c.expect(&["RANDOMKEY"], b"$4\r\nstay\r\n");
    }
    c.expect(&["MGET", "gone:0", "stay"], b"*2\r\n$-1\r\n$1\r\nv\r\n");
    c.expect(&["EXISTS", "gone:1", "gone:2", "stay"], b":1\r\n");
}

#[test]
fn keys_expire_without_being_touched() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let n = 5000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut pipeline = Vec::new();
        for i in chunk {
            pipeline.extend_from_slice(&slotkv_tests::encode(&[
                "SET",
                &format!("short:{i}"),
                "v",
                "PX",
                "1000",
            ]));
        }
        c.send_raw(&pipeline);
        for _ in chunk {
            assert_eq!(c.read_raw(), b"+OK\r\n");
        }
    }
    for i in 0..100 {
        c.ok(&["SET", &format!("long:{i}"), "v", "EX", "1000"]);
        c.ok(&["SET", &format!("plain:{i}"), "v"]);
    }
    c.expect(&["HSET", "hash", "f", "v"], b":1\r\n");
    c.expect(&["PEXPIRE", "hash", "1000"], b":1\r\n");
    let keyspace = c.cmd(&["INFO", "keyspace"]).text();
    let db0 = info_field(&keyspace, "db0").unwrap_or_default();
    assert!(db0.starts_with(&format!("keys={},expires={},", n + 201, n + 101)), "{keyspace}");
    // Nobody reads the short keys; the node must reclaim them by itself.
    assert!(
        wait_for(Duration::from_secs(15), || dbsize(&mut c) == 200),
        "DBSIZE {} long after the TTLs passed",
        dbsize(&mut c)
    );
    let keyspace = c.cmd(&["INFO", "keyspace"]).text();
    let db0 = info_field(&keyspace, "db0").unwrap_or_default();
    assert!(db0.starts_with("keys=200,expires=100,"), "{keyspace}");
    assert_eq!(expired_keys(&mut c), n as u64 + 1);
    // The keys without a TTL or with a long one are all still there.
    c.expect(&["EXISTS", "long:0", "long:99", "plain:0", "plain:99"], b":4\r\n");
}

#[test]
fn active_expiry_empties_the_keyspace_report() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    for i in 0..50 {
        c.ok(&["SET", &format!("k{i}"), "v", "PX", "100"]);
    }
    assert!(
        wait_for(Duration::from_secs(10), || {
            c.raw(&["INFO", "keyspace"]) == b"$12\r\n# Keyspace\r\n\r\n"
        }),
        "INFO keyspace still lists expired keys: {}",
        c.cmd(&["INFO", "keyspace"]).text()
    );
    c.expect(&["DBSIZE"], b":0\r\n");
}

#[test]
fn ttl_changes_are_honoured() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    // PERSIST saves a key from its TTL.
    c.ok(&["SET", "p", "v", "PX", "500"]);
    c.expect(&["PERSIST", "p"], b":1\r\n");
    // KEEPTTL keeps it, a plain SET drops it.
    c.ok(&["SET", "kt", "v", "PX", "500"]);
    c.ok(&["SET", "kt", "w", "KEEPTTL"]);
    c.ok(&["SET", "reset", "v", "PX", "500"]);
    c.ok(&["SET", "reset", "w"]);
    // A longer TTL set later wins; a shorter one too.
    c.ok(&["SET", "longer", "v", "PX", "500"]);
    c.expect(&["EXPIRE", "longer", "100"], b":1\r\n");
    c.ok(&["SET", "shorter", "v", "EX", "100"]);
    c.expect(&["PEXPIRE", "shorter", "500"], b":1\r\n");
    // GETEX changes it too.
    c.ok(&["SET", "gx", "v", "EX", "100"]);
    c.expect(&["GETEX", "gx", "PX", "500"], b"$1\r\nv\r\n");
    // RENAME and COPY carry it.
    c.ok(&["SET", "src", "v", "PX", "500"]);
    c.ok(&["RENAME", "src", "renamed"]);
    c.ok(&["SET", "src2", "v", "PX", "500"]);
    c.expect(&["COPY", "src2", "copied"], b":1\r\n");
    let pttl = c.int(&["PTTL", "kt"]);
    assert!((0..=500).contains(&pttl), "PTTL after KEEPTTL: {pttl}");
    sleep(Duration::from_millis(700));
    c.expect(&["GET", "p"], b"$1\r\nv\r\n");
    c.expect(&["GET", "kt"], b"$-1\r\n");
    c.expect(&["GET", "reset"], b"$1\r\nw\r\n");
    c.expect(&["GET", "longer"], b"$1\r\nv\r\n");
    c.expect(&["GET", "shorter"], b"$-1\r\n");
    c.expect(&["GET", "gx"], b"$-1\r\n");
    c.expect(&["EXISTS", "renamed", "copied", "src", "src2"], b":0\r\n");
}

#[test]
fn ttl_counts_down() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "k", "v", "PX", "3000"]);
    let first = c.int(&["PTTL", "k"]);
    sleep(Duration::from_millis(300));
    let second = c.int(&["PTTL", "k"]);
    assert!(first <= 3000 && first > 2500, "PTTL {first}");
    assert!(second <= first - 250 && second > 0, "PTTL {first} then {second}");
    let at = c.int(&["PEXPIRETIME", "k"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    assert!((at - now - second).abs() < 500, "PEXPIRETIME {at}, now {now}, PTTL {second}");
}
