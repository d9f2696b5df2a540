//! Sorted set commands, in both encodings (listpack and skiplist), with Redis 7.2's exact replies in RESP2
//! and RESP3.

use slotkv_tests::{Conn, Node, Reply};
use std::collections::{HashMap, HashSet};

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_FLOAT: &[u8] = b"-ERR value is not a valid float\r\n";
const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
const RANGE_NOT_FLOAT: &[u8] = b"-ERR min or max is not a float\r\n";
const RANGE_NOT_LEX: &[u8] = b"-ERR min or max not valid string range item\r\n";

/// An array of bulk strings, as RESP.
fn arr(items: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend_from_slice(format!("${}\r\n{i}\r\n", i.len()).as_bytes());
    }
    out
}

/// A RESP3 array of `[member, double]` pairs.
fn pairs3(items: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for (m, s) in items {
        out.extend_from_slice(format!("*2\r\n${}\r\n{m}\r\n,{s}\r\n", m.len()).as_bytes());
    }
    out
}

/// `ZADD key s1 m1 s2 m2 ...` from (member, score) pairs.
fn zadd(c: &mut Conn, key: &str, items: &[(&str, &str)]) {
    let mut args = vec!["ZADD", key];
    for (m, s) in items {
        args.push(s);
        args.push(m);
    }
    c.cmd(&args);
}

/// The node's sorted set at `key`, in order.
fn members(c: &mut Conn, key: &str) -> Vec<String> {
    c.cmd(&["ZRANGE", key, "0", "-1"]).strings()
}

fn encoding(c: &mut Conn, key: &str) -> String {
    c.cmd(&["OBJECT", "ENCODING", key]).text()
}

/// Both encodings: the default limits, then `zset-max-listpack-entries 0` (everything a skiplist).
fn each_encoding(mut body: impl FnMut(&mut Conn, &str)) {
    let node = Node::start(&[]);
    let mut c = node.conn();
    body(&mut c, "listpack");
    c.cmd(&["FLUSHALL"]);
    c.ok(&["CONFIG", "SET", "zset-max-listpack-entries", "0"]);
    body(&mut c, "skiplist");
}

#[test]
fn zadd_counts_and_flags() {
    each_encoding(|c, enc| {
        c.expect(&["ZADD", "z", "1", "a", "2", "b"], b":2\r\n");
        assert_eq!(encoding(c, "z"), enc);
        c.expect(&["ZADD", "z", "3", "a", "2", "b", "0", "c"], b":1\r\n");
        c.expect(&["ZADD", "z", "CH", "4", "a", "2", "b", "1", "d"], b":2\r\n");
        assert_eq!(members(c, "z"), ["c", "d", "b", "a"]);
        // NX only adds, XX only updates.
        c.expect(&["ZADD", "z", "NX", "9", "a", "5", "e"], b":1\r\n");
        c.expect(&["ZSCORE", "z", "a"], b"$1\r\n4\r\n");
        c.expect(&["ZADD", "z", "XX", "CH", "9", "a", "5", "f"], b":1\r\n");
        c.expect(&["ZSCORE", "z", "f"], b"$-1\r\n");
        // GT/LT only move existing members one way, and still add new ones.
        c.expect(&["ZADD", "z", "GT", "CH", "1", "a", "10", "b", "7", "g"], b":2\r\n");
        c.expect(&["ZMSCORE", "z", "a", "b", "g"], &arr(&["9", "10", "7"]));
        c.expect(&["ZADD", "z", "LT", "CH", "20", "a", "3", "b"], b":1\r\n");
        c.expect(&["ZADD", "z", "XX", "LT", "CH", "1", "a", "1", "new"], b":1\r\n");
        c.expect(&["ZMSCORE", "z", "a", "b", "new"], b"*3\r\n$1\r\n1\r\n$1\r\n3\r\n$-1\r\n");
        // The same score is no change.
        c.expect(&["ZADD", "z", "CH", "1", "a"], b":0\r\n");
        // Flags are case-insensitive and may repeat.
        c.expect(&["ZADD", "z", "nx", "Nx", "1", "h"], b":1\r\n");
        // XX on a missing key creates nothing.
        c.expect(&["ZADD", "none", "XX", "1", "a"], b":0\r\n");
        c.expect(&["EXISTS", "none"], b":0\r\n");
        c.expect(&["ZADD", "none", "XX", "INCR", "1", "a"], b"$-1\r\n");
        c.expect(&["EXISTS", "none"], b":0\r\n");
    });
}

#[test]
fn zadd_incr_and_zincrby() {
    each_encoding(|c, _| {
        c.expect(&["ZADD", "z", "INCR", "1.5", "a"], b"$3\r\n1.5\r\n");
        c.expect(&["ZADD", "z", "INCR", "1.5", "a"], b"$1\r\n3\r\n");
        c.expect(&["ZINCRBY", "z", "-4", "a"], b"$2\r\n-1\r\n");
        c.expect(&["ZINCRBY", "z", "2", "new"], b"$1\r\n2\r\n");
        // Aborted by NX, XX or GT/LT: a null reply.
        c.expect(&["ZADD", "z", "NX", "INCR", "1", "a"], b"$-1\r\n");
        c.expect(&["ZADD", "z", "XX", "INCR", "1", "nope"], b"$-1\r\n");
        c.expect(&["ZADD", "z", "GT", "INCR", "-1", "a"], b"$-1\r\n");
        c.expect(&["ZADD", "z", "LT", "INCR", "-1", "a"], b"$2\r\n-2\r\n");
        c.expect(&["ZADD", "z", "INCR", "0", "a"], b"$2\r\n-2\r\n");
        // inf + -inf is NaN: an error, nothing changes.
        c.expect(&["ZINCRBY", "z", "inf", "a"], b"$3\r\ninf\r\n");
        c.expect(&["ZINCRBY", "z", "-inf", "a"], b"-ERR resulting score is not a number (NaN)\r\n");
        c.expect(&["ZADD", "z", "INCR", "-inf", "a"], b"-ERR resulting score is not a number (NaN)\r\n");
        c.expect(&["ZSCORE", "z", "a"], b"$3\r\ninf\r\n");
        c.expect(&["ZINCRBY", "z", "abc", "a"], NOT_FLOAT);
        c.expect(&["ZINCRBY", "z", "nan", "a"], NOT_FLOAT);
        // ZINCRBY goes through ZADD's option parser: an increment spelled like a flag is a syntax error.
        c.expect(&["ZINCRBY", "z", "nx", "a"], SYNTAX);
        c.expect(&["ZINCRBY", "z", "1"], b"-ERR wrong number of arguments for 'zincrby' command\r\n");
        c.expect(
            &["ZINCRBY", "z", "1", "a", "b"],
            b"-ERR wrong number of arguments for 'zincrby' command\r\n",
        );
    });
}

#[test]
fn zadd_errors() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["ZADD", "z", "1"], b"-ERR wrong number of arguments for 'zadd' command\r\n");
    c.expect(&["ZADD", "z", "XX"], b"-ERR wrong number of arguments for 'zadd' command\r\n");
    c.expect(&["ZADD", "z", "XX", "NX"], SYNTAX);
    c.expect(&["ZADD", "z", "1", "a", "2"], SYNTAX);
    c.expect(&["ZADD", "z", "FOO", "1", "a"], SYNTAX);
    c.expect(
        &["ZADD", "z", "NX", "XX", "1", "a"],
        b"-ERR XX and NX options at the same time are not compatible\r\n",
    );
    let gtlt = b"-ERR GT, LT, and/or NX options at the same time are not compatible\r\n";
    c.expect(&["ZADD", "z", "NX", "GT", "1", "a"], gtlt);
    c.expect(&["ZADD", "z", "LT", "NX", "1", "a"], gtlt);
    c.expect(&["ZADD", "z", "GT", "LT", "1", "a"], gtlt);
    c.expect(
        &["ZADD", "z", "INCR", "1", "a", "2", "b"],
        b"-ERR INCR option supports a single increment-element pair\r\n",
    );
    // Scores as strtod reads a whole string: no spaces, no NaN, no overflow or underflow.
    for bad in ["abc", "", " 1", "1 ", "nan", "1e500", "-1e500", "1e-400", "1x", "0x"] {
        c.expect(&["ZADD", "z", bad, "a"], NOT_FLOAT);
    }
    // One bad score and nothing is added.
    c.expect(&["ZADD", "z", "1", "a", "x", "b"], NOT_FLOAT);
    c.expect(&["EXISTS", "z"], b":0\r\n");
    for good in ["inf", "-inf", "+inf", "1e-310", "0x10", "1.", ".5", "+3", "-0", "1E2"] {
        c.expect(&["ZADD", "z", good, good], b":1\r\n");
    }
    c.expect(&["ZSCORE", "z", "0x10"], b"$2\r\n16\r\n");
    c.expect(&["ZSCORE", "z", "1E2"], b"$3\r\n100\r\n");
    c.ok(&["SET", "s", "x"]);
    c.expect(&["ZADD", "s", "1", "a"], WRONGTYPE);
    // Score errors come before the type check.
    c.expect(&["ZADD", "s", "x", "a"], NOT_FLOAT);
}

/// Scores print as Redis 7.2 prints doubles: the shortest form that reads back, integers in full up to 2^62.
#[test]
fn score_formatting() {
    each_encoding(|c, enc| {
        let cases = [
            ("a", "1.5", "1.5"),
            ("b", "0.1", "0.1"),
            ("c", "1e20", "1e+20"),
            ("d", "1e17", "100000000000000000"),
            ("e", "123456789012345678", "123456789012345680"),
            ("f", "-inf", "-inf"),
            ("g", "+inf", "inf"),
            ("h", "1e-7", "1e-07"),
            ("i", "3.0", "3"),
            ("j", "-2.25", "-2.25"),
            ("k", "1e-310", "1e-310"),
            ("l", "0.000123", "0.000123"),
            ("m", "1234567.125", "1234567.125"),
        ];
        for (m, s, want) in cases {
            c.expect(&["ZADD", "z", s, m], b":1\r\n");
            c.expect(&["ZSCORE", "z", m], format!("${}\r\n{want}\r\n", want.len()).as_bytes());
        }
        // -0 survives in a skiplist; a listpack stores it as the integer 0, as Redis's does.
        c.expect(&["ZADD", "zero", "-0", "a"], b":1\r\n");
        let zero: &[u8] = if enc == "skiplist" { b"$2\r\n-0\r\n" } else { b"$1\r\n0\r\n" };
        c.expect(&["ZSCORE", "zero", "a"], zero);
        c.cmd(&["HELLO", "3"]);
        c.expect(&["ZSCORE", "z", "a"], b",1.5\r\n");
        c.expect(&["ZSCORE", "z", "d"], b",100000000000000000\r\n");
        c.expect(&["ZSCORE", "z", "g"], b",inf\r\n");
        c.expect(&["ZSCORE", "z", "f"], b",-inf\r\n");
        c.expect(&["ZSCORE", "z", "nope"], b"_\r\n");
        c.expect(&["ZSCORE", "nope", "a"], b"_\r\n");
        c.expect(&["ZMSCORE", "z", "a", "nope", "i"], b"*3\r\n,1.5\r\n_\r\n,3\r\n");
        c.expect(&["ZINCRBY", "z", "1", "i"], b",4\r\n");
        c.expect(&["ZADD", "z", "INCR", "0.5", "i"], b",4.5\r\n");
        c.expect(&["ZADD", "z", "NX", "INCR", "0.5", "i"], b"_\r\n");
        c.cmd(&["HELLO", "2"]);
    });
}

#[test]
fn zscore_zmscore_zcard_zrem() {
    each_encoding(|c, _| {
        zadd(c, "z", &[("a", "1"), ("b", "2"), ("c", "3")]);
        c.expect(&["ZCARD", "z"], b":3\r\n");
        c.expect(&["ZCARD", "nope"], b":0\r\n");
        c.expect(&["ZSCORE", "z", "b"], b"$1\r\n2\r\n");
        c.expect(&["ZSCORE", "z", "x"], b"$-1\r\n");
        c.expect(&["ZSCORE", "nope", "x"], b"$-1\r\n");
        c.expect(&["ZMSCORE", "z", "c", "x", "a"], b"*3\r\n$1\r\n3\r\n$-1\r\n$1\r\n1\r\n");
        c.expect(&["ZMSCORE", "nope", "a", "b"], b"*2\r\n$-1\r\n$-1\r\n");
        c.expect(&["ZREM", "z", "a", "x", "a"], b":1\r\n");
        c.expect(&["ZREM", "nope", "a"], b":0\r\n");
        // The last member removed deletes the key.
        c.expect(&["ZREM", "z", "b", "c", "d"], b":2\r\n");
        c.expect(&["EXISTS", "z"], b":0\r\n");
        c.expect(&["TYPE", "z"], b"+none\r\n");
        // Binary-safe members; the empty member is a member.
        c.expect(&[b"ZADD".as_slice(), b"bin", b"1", b"\0a\r\n\xff"], b":1\r\n");
        c.expect(&["ZADD", "bin", "2", ""], b":1\r\n");
        c.expect(&[b"ZSCORE".as_slice(), b"bin", b"\0a\r\n\xff"], b"$1\r\n1\r\n");
        c.expect(&["ZSCORE", "bin", ""], b"$1\r\n2\r\n");
        c.expect(&["ZRANGE", "bin", "0", "-1"], b"*2\r\n$5\r\n\0a\r\n\xff\r\n$0\r\n\r\n");
        c.ok(&["SET", "s", "x"]);
        for cmd in [
            &["ZCARD", "s"][..],
            &["ZSCORE", "s", "a"],
            &["ZMSCORE", "s", "a"],
            &["ZREM", "s", "a"],
            &["ZINCRBY", "s", "1", "a"],
        ] {
            c.expect(cmd, WRONGTYPE);
        }
        c.cmd(&["DEL", "s", "bin"]);
    });
}

#[test]
fn zrank_and_zrevrank() {
    each_encoding(|c, _| {
        zadd(c, "z", &[("a", "1"), ("b", "2.5"), ("c", "3")]);
        c.expect(&["ZRANK", "z", "a"], b":0\r\n");
        c.expect(&["ZRANK", "z", "c"], b":2\r\n");
        c.expect(&["ZREVRANK", "z", "a"], b":2\r\n");
        c.expect(&["ZRANK", "z", "x"], b"$-1\r\n");
        c.expect(&["ZRANK", "nope", "x"], b"$-1\r\n");
        // WITHSCORE (7.2): [rank, score], a null array when missing.
        c.expect(&["ZRANK", "z", "b", "WITHSCORE"], b"*2\r\n:1\r\n$3\r\n2.5\r\n");
        c.expect(&["ZREVRANK", "z", "b", "withscore"], b"*2\r\n:1\r\n$3\r\n2.5\r\n");
        c.expect(&["ZRANK", "z", "x", "WITHSCORE"], b"*-1\r\n");
        c.expect(&["ZRANK", "nope", "x", "WITHSCORE"], b"*-1\r\n");
        c.expect(&["ZRANK", "z", "a", "WITHSCORES"], SYNTAX);
        c.expect(
            &["ZRANK", "z", "a", "WITHSCORE", "x"],
            b"-ERR wrong number of arguments for 'zrank' command\r\n",
        );
        c.expect(
            &["ZREVRANK", "z", "a", "WITHSCORE", "x"],
            b"-ERR wrong number of arguments for 'zrevrank' command\r\n",
        );
        c.cmd(&["HELLO", "3"]);
        c.expect(&["ZRANK", "z", "b", "WITHSCORE"], b"*2\r\n:1\r\n,2.5\r\n");
        c.expect(&["ZRANK", "z", "x", "WITHSCORE"], b"_\r\n");
        c.expect(&["ZRANK", "z", "x"], b"_\r\n");
        c.cmd(&["HELLO", "2"]);
        c.ok(&["SET", "s", "x"]);
        c.expect(&["ZRANK", "s", "a"], WRONGTYPE);
        c.cmd(&["DEL", "s"]);
    });
}

#[test]
fn zrange_by_rank() {
    each_encoding(|c, _| {
        zadd(c, "z", &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")]);
        c.expect(&["ZRANGE", "z", "0", "-1"], &arr(&["a", "b", "c", "d", "e"]));
        c.expect(&["ZRANGE", "z", "1", "2"], &arr(&["b", "c"]));
        c.expect(&["ZRANGE", "z", "-2", "-1"], &arr(&["d", "e"]));
        c.expect(&["ZRANGE", "z", "-100", "1"], &arr(&["a", "b"]));
        c.expect(&["ZRANGE", "z", "3", "100"], &arr(&["d", "e"]));
        c.expect(&["ZRANGE", "z", "2", "1"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "5", "10"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "-1", "-2"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "0", "-100"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "0", "1", "REV"], &arr(&["e", "d"]));
        c.expect(&["ZRANGE", "z", "-1", "-1", "REV"], &arr(&["a"]));
        c.expect(&["ZREVRANGE", "z", "0", "1"], &arr(&["e", "d"]));
        c.expect(&["ZREVRANGE", "z", "1", "1", "WITHSCORES"], &arr(&["d", "4"]));
        c.expect(&["ZRANGE", "z", "0", "1", "WITHSCORES"], &arr(&["a", "1", "b", "2"]));
        c.expect(&["ZRANGE", "nope", "0", "-1"], b"*0\r\n");
        c.expect(&["ZRANGE", "nope", "0", "-1", "WITHSCORES"], b"*0\r\n");
        // LIMIT with a count of -1 is not told apart from no LIMIT, as in Redis.
        c.expect(&["ZRANGE", "z", "0", "0", "LIMIT", "1", "-1"], &arr(&["a"]));
        c.cmd(&["HELLO", "3"]);
        c.expect(&["ZRANGE", "z", "0", "1", "WITHSCORES"], &pairs3(&[("a", "1"), ("b", "2")]));
        c.expect(&["ZREVRANGE", "z", "0", "0", "WITHSCORES"], &pairs3(&[("e", "5")]));
        c.expect(&["ZRANGE", "z", "0", "1"], &arr(&["a", "b"]));
        c.cmd(&["HELLO", "2"]);
    });
}

#[test]
fn zrange_by_score() {
    each_encoding(|c, _| {
        zadd(c, "z", &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5"), ("f", "inf")]);
        c.expect(&["ZRANGE", "z", "2", "4", "BYSCORE"], &arr(&["b", "c", "d"]));
        c.expect(&["ZRANGE", "z", "(2", "(4", "BYSCORE"], &arr(&["c"]));
        c.expect(&["ZRANGE", "z", "(2", "4", "BYSCORE", "WITHSCORES"], &arr(&["c", "3", "d", "4"]));
        c.expect(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE"], &arr(&["a", "b", "c", "d", "e", "f"]));
        c.expect(&["ZRANGE", "z", "(5", "+inf", "BYSCORE", "WITHSCORES"], &arr(&["f", "inf"]));
        c.expect(&["ZRANGE", "z", "(inf", "+inf", "BYSCORE"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "4", "2", "BYSCORE"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "(3", "3", "BYSCORE"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "10", "20", "BYSCORE"], b"*0\r\n");
        // Reversed: max first.
        c.expect(&["ZRANGE", "z", "4", "2", "BYSCORE", "REV"], &arr(&["d", "c", "b"]));
        c.expect(&["ZRANGE", "z", "2", "4", "BYSCORE", "REV"], b"*0\r\n");
        c.expect(&["ZREVRANGEBYSCORE", "z", "+inf", "(4", "WITHSCORES"], &arr(&["f", "inf", "e", "5"]));
        c.expect(&["ZRANGEBYSCORE", "z", "1", "2", "WITHSCORES"], &arr(&["a", "1", "b", "2"]));
        // LIMIT offset count: a negative count is all, a negative offset nothing.
        c.expect(&["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "1", "2"], &arr(&["b", "c"]));
        c.expect(&["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "4", "-1"], &arr(&["e", "f"]));
        c.expect(&["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "4", "-5"], &arr(&["e", "f"]));
        c.expect(&["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "1", "0"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "-1", "2"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "6", "2"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "2", "3", "BYSCORE", "LIMIT", "2", "2"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"], &arr(&["e", "d"]));
        c.expect(&["ZRANGEBYSCORE", "z", "0", "10", "LIMIT", "0", "1", "WITHSCORES"], &arr(&["a", "1"]));
        c.expect(&["ZREVRANGEBYSCORE", "z", "3", "0", "LIMIT", "1", "5"], &arr(&["b", "a"]));
        // Bounds as strtod reads them: leading spaces, the empty string is 0, overflow is infinity.
        c.expect(&["ZRANGE", "z", " 4", "1e500", "BYSCORE"], &arr(&["d", "e", "f"]));
        c.expect(&["ZRANGE", "z", "", "1", "BYSCORE"], &arr(&["a"]));
        c.expect(&["ZRANGE", "z", "(", "1", "BYSCORE"], &arr(&["a"]));
        for bad in ["x", "   ", "1 ", "nan", "(x", "[1"] {
            c.expect(&["ZRANGE", "z", bad, "5", "BYSCORE"], RANGE_NOT_FLOAT);
            c.expect(&["ZRANGEBYSCORE", "z", "0", bad], RANGE_NOT_FLOAT);
        }
        c.expect(&["ZRANGE", "nope", "0", "1", "BYSCORE"], b"*0\r\n");
        c.cmd(&["HELLO", "3"]);
        c.expect(&["ZRANGEBYSCORE", "z", "(4", "inf", "WITHSCORES"], &pairs3(&[("e", "5"), ("f", "inf")]));
        c.cmd(&["HELLO", "2"]);
    });
}

#[test]
fn zrange_by_lex() {
    each_encoding(|c, _| {
        zadd(c, "z", &[("a", "0"), ("aa", "0"), ("b", "0"), ("c", "0"), ("d", "0")]);
        c.expect(&["ZRANGE", "z", "-", "+", "BYLEX"], &arr(&["a", "aa", "b", "c", "d"]));
        c.expect(&["ZRANGE", "z", "[aa", "(c", "BYLEX"], &arr(&["aa", "b"]));
        c.expect(&["ZRANGE", "z", "(a", "[c", "BYLEX"], &arr(&["aa", "b", "c"]));
        c.expect(&["ZRANGE", "z", "[", "(b", "BYLEX"], &arr(&["a", "aa"]));
        c.expect(&["ZRANGE", "z", "(c", "+", "BYLEX"], &arr(&["d"]));
        c.expect(&["ZRANGE", "z", "+", "-", "BYLEX"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "-", "-", "BYLEX"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "[c", "[b", "BYLEX"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "(b", "[b", "BYLEX"], b"*0\r\n");
        c.expect(&["ZRANGE", "z", "+", "-", "BYLEX", "REV"], &arr(&["d", "c", "b", "aa", "a"]));
        c.expect(&["ZRANGE", "z", "(c", "[aa", "BYLEX", "REV"], &arr(&["b", "aa"]));
        c.expect(&["ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "1", "2"], &arr(&["aa", "b"]));
        c.expect(&["ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "3", "-1"], &arr(&["c", "d"]));
        c.expect(&["ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "-1", "1"], b"*0\r\n");
        c.expect(&["ZRANGEBYLEX", "z", "[b", "+"], &arr(&["b", "c", "d"]));
        c.expect(&["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "0", "2"], &arr(&["a", "aa"]));
        c.expect(&["ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", "1", "2"], &arr(&["c", "b"]));
        c.expect(&["ZREVRANGEBYLEX", "z", "[b", "-"], &arr(&["b", "aa", "a"]));
        for bad in ["a", "", "+a", "-a", "{a"] {
            c.expect(&["ZRANGE", "z", bad, "+", "BYLEX"], RANGE_NOT_LEX);
            c.expect(&["ZRANGEBYLEX", "z", "-", bad], RANGE_NOT_LEX);
        }
        c.expect(&["ZRANGE", "nope", "-", "+", "BYLEX"], b"*0\r\n");
    });
}

/// With mixed scores the members are not in lexicographic order; Redis's listpack walk (first/last member
/// checks, then a scan) decides the result, and we follow it (replies captured from redis-server).
#[test]
fn lex_ranges_over_mixed_scores_follow_the_listpack_walk() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    zadd(&mut c, "mx", &[("b", "1"), ("a", "2"), ("d", "3"), ("c", "4"), ("aa", "5")]);
    c.expect(&["ZRANGEBYLEX", "mx", "[a", "[c"], &arr(&["b", "a"]));
    c.expect(&["ZRANGEBYLEX", "mx", "[b", "+"], b"*0\r\n");
    c.expect(&["ZREVRANGEBYLEX", "mx", "[c", "[a"], &arr(&["aa", "c", "d", "a", "b"]));
    c.expect(&["ZLEXCOUNT", "mx", "[a", "[c"], b":2\r\n");
    c.expect(&["ZRANGEBYLEX", "mx", "[aa", "+"], &arr(&["b", "a", "d", "c", "aa"]));
    c.expect(&["ZREMRANGEBYLEX", "mx", "[b", "[d"], b":0\r\n");
}

#[test]
fn zrange_option_errors() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    zadd(&mut c, "z", &[("a", "1")]);
    c.expect(
        &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
        b"-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n",
    );
    c.expect(
        &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
        b"-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n",
    );
    c.expect(
        &["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"],
        b"-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n",
    );
    c.expect(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"], SYNTAX);
    c.expect(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYSCORE"], SYNTAX);
    c.expect(&["ZRANGE", "z", "0", "1", "REV", "REV"], SYNTAX);
    c.expect(&["ZRANGE", "z", "0", "1", "LIMIT", "0"], SYNTAX);
    c.expect(&["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"], NOT_INT);
    c.expect(&["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "0", "1.5"], NOT_INT);
    c.expect(&["ZRANGE", "z", "0", "1", "FOO"], SYNTAX);
    c.expect(&["ZRANGE", "z", "a", "1"], NOT_INT);
    c.expect(&["ZRANGE", "z", "0"], b"-ERR wrong number of arguments for 'zrange' command\r\n");
    c.expect(&["ZREVRANGE", "z", "0", "1", "REV"], SYNTAX);
    c.expect(&["ZREVRANGE", "z", "0", "1", "BYSCORE"], SYNTAX);
    c.expect(&["ZRANGEBYSCORE", "z", "0", "1", "BYSCORE"], SYNTAX);
    c.expect(&["ZRANGEBYSCORE", "z", "0", "1", "REV"], SYNTAX);
    c.expect(&["ZRANGEBYLEX", "z", "-", "+", "BYLEX"], SYNTAX);
    // Arguments are checked before the key's type.
    c.ok(&["SET", "s", "x"]);
    c.expect(&["ZRANGE", "s", "0", "1"], WRONGTYPE);
    c.expect(&["ZRANGE", "s", "a", "1"], NOT_INT);
    c.expect(&["ZRANGE", "s", "x", "1", "BYSCORE"], RANGE_NOT_FLOAT);
    c.expect(&["ZRANGEBYLEX", "s", "-", "+"], WRONGTYPE);
    c.expect(&["ZREVRANGEBYSCORE", "s", "1", "0"], WRONGTYPE);
}

#[test]
fn zrangestore() {
    each_encoding(|c, _| {
        zadd(c, "src", &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        c.expect(&["ZRANGESTORE", "dst", "src", "1", "2"], b":2\r\n");
        c.expect(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], &arr(&["b", "2", "c", "3"]));
        c.expect(&["ZRANGESTORE", "dst", "src", "0", "1", "REV"], b":2\r\n");
        c.expect(&["ZRANGE", "dst", "0", "-1"], &arr(&["c", "d"]));
        c.expect(&["ZRANGESTORE", "dst", "src", "(1", "+inf", "BYSCORE", "LIMIT", "1", "1"], b":1\r\n");
        c.expect(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], &arr(&["c", "3"]));
        c.expect(&["ZRANGESTORE", "dst", "src", "[c", "-", "BYLEX", "REV"], b":3\r\n");
        c.expect(&["ZRANGE", "dst", "0", "-1"], &arr(&["a", "b", "c"]));
        // An empty result deletes the destination; so does a missing source.
        c.expect(&["ZRANGESTORE", "dst", "src", "10", "20"], b":0\r\n");
        c.expect(&["EXISTS", "dst"], b":0\r\n");
        c.ok(&["SET", "dst", "x"]);
        c.expect(&["ZRANGESTORE", "dst", "nope", "0", "-1"], b":0\r\n");
        c.expect(&["EXISTS", "dst"], b":0\r\n");
        // The destination is replaced whatever it held, TTL included; it may be the source.
        c.ok(&["SET", "dst", "x", "EX", "100"]);
        c.expect(&["ZRANGESTORE", "dst", "src", "0", "0"], b":1\r\n");
        c.expect(&["TYPE", "dst"], b"+zset\r\n");
        c.expect(&["TTL", "dst"], b":-1\r\n");
        c.expect(&["ZRANGESTORE", "src", "src", "1", "-1"], b":3\r\n");
        c.expect(&["ZRANGE", "src", "0", "-1"], &arr(&["b", "c", "d"]));
        c.expect(&["ZRANGESTORE", "dst", "src", "0", "-1", "WITHSCORES"], SYNTAX);
        c.expect(
            &["ZRANGESTORE", "dst", "src", "0", "-1", "LIMIT", "0", "1"],
            b"-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n",
        );
        c.ok(&["SET", "s", "x"]);
        c.expect(&["ZRANGESTORE", "dst", "s", "0", "-1"], WRONGTYPE);
        c.cmd(&["DEL", "s"]);
    });
}

#[test]
fn zcount_and_zlexcount() {
    each_encoding(|c, _| {
        zadd(c, "z", &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "-inf"), ("e", "inf")]);
        c.expect(&["ZCOUNT", "z", "-inf", "+inf"], b":5\r\n");
        c.expect(&["ZCOUNT", "z", "1", "3"], b":3\r\n");
        c.expect(&["ZCOUNT", "z", "(1", "(3"], b":1\r\n");
        c.expect(&["ZCOUNT", "z", "(-inf", "(inf"], b":3\r\n");
        c.expect(&["ZCOUNT", "z", "3", "1"], b":0\r\n");
        c.expect(&["ZCOUNT", "z", "", "1"], b":1\r\n");
        c.expect(&["ZCOUNT", "nope", "0", "1"], b":0\r\n");
        c.expect(&["ZCOUNT", "z", "x", "1"], RANGE_NOT_FLOAT);
        zadd(c, "l", &[("a", "0"), ("b", "0"), ("c", "0")]);
        c.expect(&["ZLEXCOUNT", "l", "-", "+"], b":3\r\n");
        c.expect(&["ZLEXCOUNT", "l", "(a", "[c"], b":2\r\n");
        c.expect(&["ZLEXCOUNT", "l", "[c", "(c"], b":0\r\n");
        c.expect(&["ZLEXCOUNT", "l", "+", "-"], b":0\r\n");
        c.expect(&["ZLEXCOUNT", "nope", "-", "+"], b":0\r\n");
        c.expect(&["ZLEXCOUNT", "l", "a", "+"], RANGE_NOT_LEX);
        c.ok(&["SET", "s", "x"]);
        c.expect(&["ZCOUNT", "s", "0", "1"], WRONGTYPE);
        c.expect(&["ZLEXCOUNT", "s", "-", "+"], WRONGTYPE);
        c.expect(&["ZLEXCOUNT", "s", "x", "+"], RANGE_NOT_LEX);
        c.cmd(&["DEL", "s"]);
    });
}

#[test]
fn zremrange_family() {
    each_encoding(|c, _| {
        let five = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")];
        zadd(c, "z", &five);
        c.expect(&["ZREMRANGEBYRANK", "z", "1", "2"], b":2\r\n");
        assert_eq!(members(c, "z"), ["a", "d", "e"]);
        c.expect(&["ZREMRANGEBYRANK", "z", "-1", "-1"], b":1\r\n");
        c.expect(&["ZREMRANGEBYRANK", "z", "5", "10"], b":0\r\n");
        c.expect(&["ZREMRANGEBYRANK", "z", "1", "0"], b":0\r\n");
        c.expect(&["ZREMRANGEBYRANK", "z", "-100", "100"], b":2\r\n");
        c.expect(&["EXISTS", "z"], b":0\r\n");
        zadd(c, "z", &five);
        c.expect(&["ZREMRANGEBYSCORE", "z", "(1", "3"], b":2\r\n");
        c.expect(&["ZREMRANGEBYSCORE", "z", "10", "20"], b":0\r\n");
        c.expect(&["ZREMRANGEBYSCORE", "z", "-inf", "+inf"], b":3\r\n");
        c.expect(&["EXISTS", "z"], b":0\r\n");
        zadd(c, "l", &[("a", "0"), ("b", "0"), ("c", "0"), ("d", "0")]);
        c.expect(&["ZREMRANGEBYLEX", "l", "(a", "[c"], b":2\r\n");
        assert_eq!(members(c, "l"), ["a", "d"]);
        c.expect(&["ZREMRANGEBYLEX", "l", "+", "-"], b":0\r\n");
        c.expect(&["ZREMRANGEBYLEX", "l", "-", "+"], b":2\r\n");
        c.expect(&["EXISTS", "l"], b":0\r\n");
        for cmd in ["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE"] {
            c.expect(&[cmd, "nope", "0", "1"], b":0\r\n");
        }
        c.expect(&["ZREMRANGEBYRANK", "z", "a", "1"], NOT_INT);
        c.expect(&["ZREMRANGEBYSCORE", "z", "a", "1"], RANGE_NOT_FLOAT);
        c.expect(&["ZREMRANGEBYLEX", "z", "a", "+"], RANGE_NOT_LEX);
        c.ok(&["SET", "s", "x"]);
        c.expect(&["ZREMRANGEBYRANK", "s", "0", "1"], WRONGTYPE);
        c.expect(&["ZREMRANGEBYSCORE", "s", "0", "1"], WRONGTYPE);
        c.expect(&["ZREMRANGEBYLEX", "s", "-", "+"], WRONGTYPE);
        c.cmd(&["DEL", "s"]);
    });
}

#[test]
fn zpopmin_zpopmax() {
    each_encoding(|c, _| {
        zadd(c, "z", &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        c.expect(&["ZPOPMIN", "z"], &arr(&["a", "1"]));
        c.expect(&["ZPOPMAX", "z", "1"], &arr(&["d", "4"]));
        c.expect(&["ZPOPMIN", "z", "0"], b"*0\r\n");
        c.expect(&["ZPOPMAX", "z", "10"], &arr(&["c", "3", "b", "2"]));
        c.expect(&["EXISTS", "z"], b":0\r\n");
        c.expect(&["ZPOPMIN", "z"], b"*0\r\n");
        c.expect(&["ZPOPMIN", "z", "3"], b"*0\r\n");
        c.expect(&["ZPOPMIN", "z", "-1"], b"-ERR value is out of range, must be positive\r\n");
        c.expect(&["ZPOPMIN", "z", "x"], b"-ERR value is out of range, must be positive\r\n");
        c.expect(&["ZPOPMIN", "z", "1", "2"], SYNTAX);
        zadd(c, "z", &[("a", "1.5"), ("b", "2"), ("c", "3")]);
        c.cmd(&["HELLO", "3"]);
        // RESP3: flat without a count, pairs with one.
        c.expect(&["ZPOPMIN", "z"], b"*2\r\n$1\r\na\r\n,1.5\r\n");
        c.expect(&["ZPOPMIN", "z", "1"], &pairs3(&[("b", "2")]));
        c.expect(&["ZPOPMAX", "z", "5"], &pairs3(&[("c", "3")]));
        c.expect(&["ZPOPMAX", "z", "5"], b"*0\r\n");
        c.cmd(&["HELLO", "2"]);
        c.ok(&["SET", "s", "x"]);
        c.expect(&["ZPOPMIN", "s"], WRONGTYPE);
        c.expect(&["ZPOPMAX", "s", "0"], WRONGTYPE);
        c.cmd(&["DEL", "s"]);
    });
}

#[test]
fn zmpop_and_blocking_pops() {
    each_encoding(|c, _| {
        zadd(c, "z", &[("a", "1"), ("b", "2"), ("c", "3")]);
        c.expect(&["ZMPOP", "1", "z", "MIN"], b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
        c.expect(
            &["ZMPOP", "2", "nope", "z", "max", "COUNT", "5"],
            b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
        );
        c.expect(&["EXISTS", "z"], b":0\r\n");
        c.expect(&["ZMPOP", "1", "z", "MIN"], b"*-1\r\n");
        c.expect(&["ZMPOP", "0", "z", "MIN"], b"-ERR numkeys should be greater than 0\r\n");
        c.expect(&["ZMPOP", "x", "z", "MIN"], b"-ERR numkeys should be greater than 0\r\n");
        c.expect(&["ZMPOP", "3", "z", "MIN"], SYNTAX);
        c.expect(&["ZMPOP", "1", "z", "MID"], SYNTAX);
        c.expect(&["ZMPOP", "1", "z", "MIN", "COUNT", "0"], b"-ERR count should be greater than 0\r\n");
        c.expect(&["ZMPOP", "1", "z", "MIN", "COUNT", "x"], b"-ERR count should be greater than 0\r\n");
        c.expect(&["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"], SYNTAX);
        c.expect(&["ZMPOP", "1", "z", "MIN", "COUNT"], SYNTAX);
        // Blocking forms serve at once when they can, else time out with a null array.
        zadd(c, "z", &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        c.expect(&["BZPOPMIN", "nope", "z", "0"], &arr(&["z", "a", "1"]));
        c.expect(&["BZPOPMAX", "z", "0.01"], &arr(&["z", "d", "4"]));
        c.expect(&["BZPOPMIN", "nope", "0.01"], b"*-1\r\n");
        c.expect(
            &["BZMPOP", "0.01", "1", "z", "MIN", "COUNT", "3"],
            b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n",
        );
        c.expect(&["BZMPOP", "0.01", "1", "z", "MIN"], b"*-1\r\n");
        c.expect(&["BZPOPMIN", "z", "x"], b"-ERR timeout is not a float or out of range\r\n");
        c.expect(&["BZPOPMIN", "z", "-1"], b"-ERR timeout is negative\r\n");
        c.expect(&["BZMPOP", "x", "1", "z", "MIN"], b"-ERR timeout is not a float or out of range\r\n");
        // BZMPOP checks numkeys before the timeout.
        c.expect(&["BZMPOP", "x", "0", "z", "MIN"], b"-ERR numkeys should be greater than 0\r\n");
        c.ok(&["SET", "s", "x"]);
        c.expect(&["ZMPOP", "2", "nope", "s", "MIN"], WRONGTYPE);
        c.expect(&["BZPOPMIN", "s", "0"], WRONGTYPE);
        c.expect(&["BZMPOP", "0", "1", "s", "MIN"], WRONGTYPE);
        // The first existing key decides: a set there is served even if a later key is of another type.
        zadd(c, "z", &[("a", "1")]);
        c.expect(&["ZMPOP", "2", "z", "s", "MIN"], b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
        c.cmd(&["DEL", "s"]);
        zadd(c, "z", &[("a", "1.5"), ("b", "2")]);
        c.cmd(&["HELLO", "3"]);
        c.expect(&["BZPOPMIN", "z", "0"], b"*3\r\n$1\r\nz\r\n$1\r\na\r\n,1.5\r\n");
        c.expect(&["ZMPOP", "1", "z", "MIN"], b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
        c.expect(&["ZMPOP", "1", "z", "MIN"], b"_\r\n");
        c.expect(&["BZPOPMAX", "z", "0.01"], b"_\r\n");
        c.cmd(&["HELLO", "2"]);
    });
}

#[test]
fn union_inter_diff() {
    each_encoding(|c, _| {
        zadd(c, "a", &[("x", "1"), ("y", "2"), ("z", "3")]);
        zadd(c, "b", &[("y", "10"), ("z", "20"), ("w", "30")]);
        c.expect(
            &["ZUNION", "2", "a", "b", "WITHSCORES"],
            &arr(&["x", "1", "y", "12", "z", "23", "w", "30"]),
        );
        c.expect(&["ZUNION", "2", "a", "b"], &arr(&["x", "y", "z", "w"]));
        c.expect(
            &["ZUNION", "3", "a", "b", "nope", "AGGREGATE", "MAX", "WITHSCORES"],
            &arr(&["x", "1", "y", "10", "z", "20", "w", "30"]),
        );
        c.expect(
            &["ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "AGGREGATE", "min", "WITHSCORES"],
            &arr(&["x", "2", "y", "4", "z", "6", "w", "15"]),
        );
        c.expect(&["ZINTER", "2", "a", "b", "WITHSCORES"], &arr(&["y", "12", "z", "23"]));
        c.expect(
            &["ZINTER", "2", "a", "b", "WEIGHTS", "2", "3", "AGGREGATE", "MAX", "WITHSCORES"],
            &arr(&["y", "30", "z", "60"]),
        );
        c.expect(&["ZINTER", "2", "a", "nope"], b"*0\r\n");
        c.expect(&["ZINTER", "1", "a", "WITHSCORES"], &arr(&["x", "1", "y", "2", "z", "3"]));
        c.expect(&["ZDIFF", "2", "a", "b", "WITHSCORES"], &arr(&["x", "1"]));
        c.expect(&["ZDIFF", "2", "a", "a"], b"*0\r\n");
        c.expect(&["ZDIFF", "2", "nope", "a"], b"*0\r\n");
        c.expect(&["ZDIFF", "1", "b"], &arr(&["y", "z", "w"]));
        // inf times 0 is NaN, counted as 0; inf - inf in a sum is 0 too.
        c.expect(
            &["ZUNION", "1", "a", "WEIGHTS", "inf", "WITHSCORES"],
            &arr(&["x", "inf", "y", "inf", "z", "inf"]),
        );
        c.expect(
            &["ZUNION", "2", "a", "a", "WEIGHTS", "inf", "-inf", "WITHSCORES"],
            &arr(&["x", "0", "y", "0", "z", "0"]),
        );
        zadd(c, "zero", &[("x", "0")]);
        c.expect(&["ZUNION", "1", "zero", "WEIGHTS", "inf", "WITHSCORES"], &arr(&["x", "0"]));
        // Stored forms.
        c.expect(&["ZUNIONSTORE", "dst", "2", "a", "b"], b":4\r\n");
        c.expect(
            &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
            &arr(&["x", "1", "y", "12", "z", "23", "w", "30"]),
        );
        c.expect(&["ZINTERSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "-1"], b":2\r\n");
        c.expect(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], &arr(&["z", "-17", "y", "-8"]));
        c.expect(&["ZDIFFSTORE", "dst", "2", "b", "a"], b":1\r\n");
        c.expect(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], &arr(&["w", "30"]));
        c.expect(&["ZINTERSTORE", "dst", "2", "a", "nope"], b":0\r\n");
        c.expect(&["EXISTS", "dst"], b":0\r\n");
        c.ok(&["SET", "dst", "v", "EX", "100"]);
        c.expect(&["ZUNIONSTORE", "dst", "1", "a"], b":3\r\n");
        c.expect(&["TTL", "dst"], b":-1\r\n");
        c.expect(&["ZDIFFSTORE", "dst", "2", "a", "a"], b":0\r\n");
        c.expect(&["EXISTS", "dst"], b":0\r\n");
        c.expect(&["ZUNIONSTORE", "a", "2", "a", "b"], b":4\r\n");
        c.expect(&["ZCARD", "a"], b":4\r\n");
        c.expect(&["ZINTERCARD", "2", "a", "b"], b":3\r\n");
        c.expect(&["ZINTERCARD", "2", "a", "b", "LIMIT", "2"], b":2\r\n");
        c.expect(&["ZINTERCARD", "2", "a", "b", "LIMIT", "0"], b":3\r\n");
        c.expect(&["ZINTERCARD", "2", "a", "nope"], b":0\r\n");
        c.cmd(&["HELLO", "3"]);
        c.expect(&["ZINTER", "2", "a", "b", "WITHSCORES"], &pairs3(&[("y", "22"), ("z", "43"), ("w", "60")]));
        c.expect(&["ZDIFF", "1", "b", "WITHSCORES"], &pairs3(&[("y", "10"), ("z", "20"), ("w", "30")]));
        c.cmd(&["HELLO", "2"]);
    });
}

#[test]
fn set_operation_errors() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    zadd(&mut c, "a", &[("x", "1")]);
    for (cmd, name) in
        [("ZUNION", "zunion"), ("ZINTER", "zinter"), ("ZDIFF", "zdiff"), ("ZINTERCARD", "zintercard")]
    {
        let msg = format!("-ERR at least 1 input key is needed for '{name}' command\r\n");
        c.expect(&[cmd, "0", "a"], msg.as_bytes());
        c.expect(&[cmd, "-1", "a"], msg.as_bytes());
        c.expect(&[cmd, "x", "a"], NOT_INT);
        c.expect(&[cmd, "2", "a"], SYNTAX);
    }
    for (cmd, name) in
        [("ZUNIONSTORE", "zunionstore"), ("ZINTERSTORE", "zinterstore"), ("ZDIFFSTORE", "zdiffstore")]
    {
        let msg = format!("-ERR at least 1 input key is needed for '{name}' command\r\n");
        c.expect(&[cmd, "d", "0", "a"], msg.as_bytes());
        c.expect(&[cmd, "d", "2", "a"], SYNTAX);
        c.expect(&[cmd, "d", "1", "a", "WITHSCORES"], SYNTAX);
    }
    let weight = b"-ERR weight value is not a float\r\n";
    c.expect(&["ZUNION", "2", "a", "a", "WEIGHTS", "1", "x"], weight);
    c.expect(&["ZUNION", "2", "a", "a", "WEIGHTS", "1", "nan"], weight);
    // Too few weights: WEIGHTS is not recognized.
    c.expect(&["ZUNION", "2", "a", "a", "WEIGHTS", "1"], SYNTAX);
    c.expect(&["ZUNION", "1", "a", "AGGREGATE", "AVG"], SYNTAX);
    c.expect(&["ZUNION", "1", "a", "AGGREGATE"], SYNTAX);
    c.expect(&["ZDIFF", "1", "a", "WEIGHTS", "1"], SYNTAX);
    c.expect(&["ZDIFF", "1", "a", "AGGREGATE", "SUM"], SYNTAX);
    c.expect(&["ZINTERCARD", "1", "a", "WITHSCORES"], SYNTAX);
    c.expect(&["ZINTERCARD", "1", "a", "WEIGHTS", "1"], SYNTAX);
    c.expect(&["ZINTERCARD", "1", "a", "LIMIT", "-1"], b"-ERR LIMIT can't be negative\r\n");
    c.expect(&["ZINTERCARD", "1", "a", "LIMIT", "x"], b"-ERR LIMIT can't be negative\r\n");
    c.expect(&["ZINTERCARD", "1", "a", "LIMIT"], SYNTAX);
    // Key types are checked before the options.
    c.ok(&["SET", "s", "x"]);
    c.expect(&["ZUNION", "2", "a", "s", "WEIGHTS", "x"], WRONGTYPE);
    c.expect(&["ZINTERSTORE", "d", "1", "s"], WRONGTYPE);
    c.expect(&["ZINTERCARD", "1", "s"], WRONGTYPE);
}

#[test]
fn zrandmember() {
    each_encoding(|c, _| {
        let scores: HashMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4.5")]
            .iter()
            .map(|(m, s)| (m.to_string(), s.to_string()))
            .collect();
        let pairs: Vec<(&str, &str)> = scores.iter().map(|(m, s)| (m.as_str(), s.as_str())).collect();
        zadd(c, "z", &pairs);
        for _ in 0..20 {
            let one = c.bulk(&["ZRANDMEMBER", "z"]).map(|m| String::from_utf8_lossy(&m).into_owned());
            assert!(one.as_ref().is_some_and(|m| scores.contains_key(m)), "{one:?}");
        }
        c.expect(&["ZRANDMEMBER", "nope"], b"$-1\r\n");
        c.expect(&["ZRANDMEMBER", "nope", "3"], b"*0\r\n");
        c.expect(&["ZRANDMEMBER", "z", "0"], b"*0\r\n");
        c.expect(&["ZRANDMEMBER", "z", "0", "WITHSCORES"], b"*0\r\n");
        // Distinct members for a positive count; all of them (highest first) when it is at least the size.
        let two = c.cmd(&["ZRANDMEMBER", "z", "2"]).strings();
        assert_eq!(two.len(), 2);
        assert_ne!(two.first(), two.get(1));
        assert!(two.iter().all(|m| scores.contains_key(m)));
        c.expect(
            &["ZRANDMEMBER", "z", "10", "WITHSCORES"],
            &arr(&["d", "4.5", "c", "3", "b", "2", "a", "1"]),
        );
        let three: HashSet<String> = c.cmd(&["ZRANDMEMBER", "z", "3"]).strings().into_iter().collect();
        assert_eq!(three.len(), 3);
        // A negative count: exactly that many, repeats allowed, scores with their members.
        let many = c.cmd(&["ZRANDMEMBER", "z", "-30", "WITHSCORES"]).strings();
        assert_eq!(many.len(), 60);
        for pair in many.chunks(2) {
            let [m, s] = pair else { panic!("{pair:?}") };
            assert_eq!(scores.get(m), Some(s));
        }
        assert_eq!(c.cmd(&["ZRANDMEMBER", "z", "-1"]).strings().len(), 1);
        c.cmd(&["HELLO", "3"]);
        match c.cmd(&["ZRANDMEMBER", "z", "-3", "WITHSCORES"]) {
            Reply::Array(items) => {
                assert_eq!(items.len(), 3);
                for item in items {
                    assert!(matches!(&item, Reply::Array(p) if p.len() == 2), "{item:?}");
                }
            }
            other => panic!("RESP3 ZRANDMEMBER WITHSCORES: {other:?}"),
        }
        c.expect(&["ZRANDMEMBER", "nope"], b"_\r\n");
        c.cmd(&["HELLO", "2"]);
        c.expect(&["ZRANDMEMBER", "z", "x"], NOT_INT);
        c.expect(&["ZRANDMEMBER", "z", "1", "foo"], SYNTAX);
        c.expect(&["ZRANDMEMBER", "nope", "1", "foo"], SYNTAX);
        c.expect(&["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"], SYNTAX);
        c.expect(
            &["ZRANDMEMBER", "z", "-9223372036854775808"],
            b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
        );
        c.expect(
            &["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"],
            b"-ERR value is out of range\r\n",
        );
        c.expect(
            &["ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES"],
            b"-ERR value is out of range\r\n",
        );
        c.ok(&["SET", "s", "x"]);
        c.expect(&["ZRANDMEMBER", "s"], WRONGTYPE);
        c.expect(&["ZRANDMEMBER", "s", "1"], WRONGTYPE);
        c.cmd(&["DEL", "s"]);
    });
}

/// A negative count too large for any memory closes the connection rather than exhaust the node.
#[test]
fn zrandmember_huge_negative_count_is_bounded() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    zadd(&mut c, "z", &[("a", "1")]);
    c.send(&["ZRANDMEMBER", "z", "-4611686018427387903", "WITHSCORES"]);
    let (_, closed) = c.read_until_close(std::time::Duration::from_secs(60));
    assert!(closed);
    let mut c = node.conn();
    c.expect(&["ZCARD", "z"], b":1\r\n");
}

/// Iterates `ZSCAN` to the end; returns each member with its score and how often it was returned.
fn zscan_all(c: &mut Conn, key: &str, extra: &[&str]) -> HashMap<String, (String, usize)> {
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    let mut cursor = "0".to_string();
    for _ in 0..100_000 {
        let mut args = vec!["ZSCAN", key, cursor.as_str()];
        args.extend_from_slice(extra);
        let reply = c.cmd(&args);
        let [next, items] = reply.items().try_into().unwrap_or_else(|r| panic!("ZSCAN reply {r:?}"));
        for pair in items.strings().chunks(2) {
            if let [m, s] = pair {
                seen.entry(m.clone()).or_insert((s.clone(), 0)).1 += 1;
            }
        }
        cursor = next.text();
        if cursor == "0" {
            return seen;
        }
    }
    panic!("ZSCAN did not finish");
}

#[test]
fn zscan() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    zadd(&mut c, "small", &[("a", "1"), ("b", "2.5"), ("c", "-inf")]);
    // A listpack comes back whole, in order, scores as strings (in RESP3 too).
    c.expect(
        &["ZSCAN", "small", "0"],
        b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\nc\r\n$4\r\n-inf\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
    );
    c.expect(
        &["ZSCAN", "small", "0", "MATCH", "a*", "COUNT", "1"],
        b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    c.cmd(&["HELLO", "3"]);
    c.expect(&["ZSCAN", "small", "0", "MATCH", "b"], b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\nb\r\n$3\r\n2.5\r\n");
    c.cmd(&["HELLO", "2"]);
    c.expect(&["ZSCAN", "nope", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    // Options are read only for an existing key, as Redis does.
    c.expect(&["ZSCAN", "nope", "0", "COUNT", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    c.expect(&["ZSCAN", "small", "0", "COUNT", "0"], SYNTAX);
    c.expect(&["ZSCAN", "small", "0", "NOVALUES"], SYNTAX);
    c.expect(&["ZSCAN", "small", "0", "MATCH"], SYNTAX);
    c.expect(&["ZSCAN", "small", "x"], b"-ERR invalid cursor\r\n");
    c.expect(&["ZSCAN", "small", "-1"], b"-ERR invalid cursor\r\n");
    c.ok(&["SET", "s", "x"]);
    c.expect(&["ZSCAN", "s", "0"], WRONGTYPE);
    c.expect(&["ZSCAN", "s", "x"], b"-ERR invalid cursor\r\n");
    // A skiplist is paged; every member comes back exactly once with its score.
    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..1000 {
        args.push(format!("{}", i as f64 / 2.0));
        args.push(format!("m{i}"));
    }
    c.expect(&args, b":1000\r\n");
    assert_eq!(encoding(&mut c, "big"), "skiplist");
    let seen = zscan_all(&mut c, "big", &["COUNT", "7"]);
    assert_eq!(seen.len(), 1000);
    for i in 0..1000 {
        assert_eq!(seen.get(&format!("m{i}")), Some(&(format!("{}", i as f64 / 2.0), 1)));
    }
    let matched = zscan_all(&mut c, "big", &["MATCH", "m1??"]);
    assert_eq!(matched.len(), 100);
}

#[test]
fn encodings_and_conversions() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(
        &["CONFIG", "GET", "zset-max-listpack-entries"],
        b"*2\r\n$25\r\nzset-max-listpack-entries\r\n$3\r\n128\r\n",
    );
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..128 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    c.expect(&args, b":128\r\n");
    assert_eq!(encoding(&mut c, "z"), "listpack");
    c.expect(&["ZADD", "z", "0", "one-more"], b":1\r\n");
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    // It does not go back.
    c.expect(&["ZREMRANGEBYRANK", "z", "0", "-3"], b":127\r\n");
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    // Member length: at most 64 bytes stays compact.
    c.expect(&["ZADD", "v", "1", &"x".repeat(64)], b":1\r\n");
    assert_eq!(encoding(&mut c, "v"), "listpack");
    c.expect(&["ZADD", "v", "1", &"y".repeat(65)], b":1\r\n");
    assert_eq!(encoding(&mut c, "v"), "skiplist");
    c.expect(&["ZADD", "w", "1", &"y".repeat(65)], b":1\r\n");
    assert_eq!(encoding(&mut c, "w"), "skiplist");
    // Thresholds apply at the next write.
    c.ok(&["CONFIG", "SET", "zset-max-listpack-entries", "3"]);
    c.ok(&["CONFIG", "SET", "zset-max-listpack-value", "4"]);
    zadd(&mut c, "t", &[("a", "1"), ("b", "2"), ("c", "3")]);
    assert_eq!(encoding(&mut c, "t"), "listpack");
    c.expect(&["ZADD", "t", "4", "d"], b":1\r\n");
    assert_eq!(encoding(&mut c, "t"), "skiplist");
    assert_eq!(members(&mut c, "t"), ["a", "b", "c", "d"]);
    zadd(&mut c, "u", &[("a", "1")]);
    c.expect(&["ZADD", "u", "1", "abcde"], b":1\r\n");
    assert_eq!(encoding(&mut c, "u"), "skiplist");
    // Redis 7.2 converts ahead when one ZADD brings more pairs than the limit, even repeated ones.
    zadd(&mut c, "r", &[("a", "1")]);
    c.expect(&["ZADD", "r", "1", "a", "1", "a", "1", "a", "1", "a"], b":0\r\n");
    assert_eq!(encoding(&mut c, "r"), "skiplist");
    // Stored results take the encoding their size calls for.
    c.expect(&["ZRANGESTORE", "d", "t", "0", "2"], b":3\r\n");
    assert_eq!(encoding(&mut c, "d"), "listpack");
    c.expect(&["ZRANGESTORE", "d", "t", "0", "-1"], b":4\r\n");
    assert_eq!(encoding(&mut c, "d"), "skiplist");
    c.expect(&["ZRANGESTORE", "d", "t", "-inf", "2", "BYSCORE"], b":2\r\n");
    assert_eq!(encoding(&mut c, "d"), "listpack");
    c.expect(&["ZUNIONSTORE", "d", "1", "r"], b":1\r\n");
    assert_eq!(encoding(&mut c, "d"), "listpack");
    c.expect(&["ZUNIONSTORE", "d", "1", "t"], b":4\r\n");
    assert_eq!(encoding(&mut c, "d"), "skiplist");
    c.expect(&["ZUNIONSTORE", "d", "1", "u"], b":2\r\n");
    assert_eq!(encoding(&mut c, "d"), "skiplist");
    // COPY and RENAME keep the encoding and the contents.
    c.expect(&["COPY", "t", "t2"], b":1\r\n");
    assert_eq!(encoding(&mut c, "t2"), "skiplist");
    assert_eq!(members(&mut c, "t2"), ["a", "b", "c", "d"]);
    c.ok(&["CONFIG", "SET", "zset-max-listpack-entries", "0"]);
    c.expect(&["ZADD", "zero", "1", "a"], b":1\r\n");
    assert_eq!(encoding(&mut c, "zero"), "skiplist");
    c.expect(&["ZRANGESTORE", "d", "zero", "0", "-1"], b":1\r\n");
    assert_eq!(encoding(&mut c, "d"), "skiplist");
    c.expect(&["TYPE", "zero"], b"+zset\r\n");
}

/// A large set against a model: ranks, ranges and removals in both directions.
#[test]
fn large_skiplist_matches_a_model() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let mut model: Vec<(f64, String)> = Vec::new();
    let mut seed = 7u64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..3 {
        let mut args = vec!["ZADD".to_string(), "big".to_string()];
        for _ in 0..2000 {
            let (s, m) = ((rand(500) as f64) / 4.0, format!("m{}", rand(3000)));
            args.push(s.to_string());
            args.push(m.clone());
            model.retain(|(_, x)| *x != m);
            model.push((s, m));
        }
        c.cmd(&args);
        model.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        c.expect(&["ZCARD", "big"], format!(":{}\r\n", model.len()).as_bytes());
        assert_eq!(members(&mut c, "big"), model.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>());
        for _ in 0..50 {
            let i = rand(model.len() as u64) as usize;
            let (s, m) = &model[i];
            c.expect(&["ZRANK", "big", m], format!(":{i}\r\n").as_bytes());
            c.expect(&["ZREVRANK", "big", m], format!(":{}\r\n", model.len() - 1 - i).as_bytes());
            let lo = *s;
            let hi = lo + rand(20) as f64;
            let want: Vec<String> =
                model.iter().filter(|(x, _)| *x > lo && *x <= hi).map(|(_, m)| m.clone()).collect();
            let got = c.cmd(&["ZRANGE", "big", &format!("({lo}"), &hi.to_string(), "BYSCORE"]).strings();
            assert_eq!(got, want);
            c.expect(
                &["ZCOUNT", "big", &format!("({lo}"), &hi.to_string()],
                format!(":{}\r\n", want.len()).as_bytes(),
            );
            let mut rev = want.clone();
            rev.reverse();
            let got = c
                .cmd(&[
                    "ZRANGE",
                    "big",
                    &hi.to_string(),
                    &format!("({lo}"),
                    "BYSCORE",
                    "REV",
                    "LIMIT",
                    "0",
                    "10",
                ])
                .strings();
            assert_eq!(got, rev.into_iter().take(10).collect::<Vec<_>>());
            let start = rand(model.len() as u64) as usize;
            let got = c.cmd(&["ZRANGE", "big", &start.to_string(), &(start + 5).to_string()]).strings();
            let want: Vec<String> = model.iter().skip(start).take(6).map(|(_, m)| m.clone()).collect();
            assert_eq!(got, want);
        }
        // Remove a slice by rank, one by score, and pop both ends.
        let a = rand(model.len() as u64 / 2) as usize;
        c.expect(&["ZREMRANGEBYRANK", "big", &a.to_string(), &(a + 99).to_string()], b":100\r\n");
        model.drain(a..a + 100);
        let cut = model[model.len() / 3].0;
        let before = model.len();
        model.retain(|(s, _)| *s > cut + 5.0 || *s < cut);
        c.expect(
            &["ZREMRANGEBYSCORE", "big", &cut.to_string(), &(cut + 5.0).to_string()],
            format!(":{}\r\n", before - model.len()).as_bytes(),
        );
        let (s, m) = model.remove(0);
        c.expect(&["ZPOPMIN", "big"], &arr(&[&m, &s.to_string()]));
        let (s, m) = model.pop().unwrap();
        c.expect(&["ZPOPMAX", "big"], &arr(&[&m, &s.to_string()]));
        assert_eq!(
            members(&mut c, "big"),
            model.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(),
            "round {round}"
        );
    }
    // Removing nearly everything leaves a consistent set.
    c.expect(&["ZREMRANGEBYRANK", "big", "1", "-2"], format!(":{}\r\n", model.len() - 2).as_bytes());
    c.expect(&["ZRANGE", "big", "0", "-1"], &arr(&[&model[0].1, &model[model.len() - 1].1]));
    c.expect(&["ZADD", "big", "1", "again"], b":1\r\n");
    c.expect(&["ZCARD", "big"], b":3\r\n");
}

#[test]
fn wrong_arity() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    for (cmd, args) in [
        ("zcard", &[][..]),
        ("zscore", &["k"][..]),
        ("zrem", &["k"]),
        ("zcount", &["k", "0"]),
        ("zrangestore", &["d", "k", "0"]),
        ("zpopmin", &[]),
        ("bzpopmin", &["k"]),
        ("zmpop", &["1", "k"]),
        ("bzmpop", &["0", "1", "k"]),
        ("zunionstore", &["d", "1"]),
        ("zunion", &["1"]),
        ("zrandmember", &[]),
        ("zscan", &["k"]),
    ] {
        let mut argv = vec![cmd];
        argv.extend_from_slice(args);
        c.expect(&argv, format!("-ERR wrong number of arguments for '{cmd}' command\r\n").as_bytes());
    }
}
