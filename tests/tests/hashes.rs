//! Hash commands, in both encodings (compact and table), with Redis's exact replies.

use slotkv_tests::{Node, Reply};
use std::collections::{HashMap, HashSet};

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn hset_hget_hmget_hdel() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["HSET", "h", "f1", "v1", "f2", "v2"], b":2\r\n");
    c.expect(&["HSET", "h", "f1", "x", "f3", "v3"], b":1\r\n");
    c.expect(&["HGET", "h", "f1"], b"$1\r\nx\r\n");
    c.expect(&["HGET", "h", "nope"], b"$-1\r\n");
    c.expect(&["HGET", "nope", "f"], b"$-1\r\n");
    c.expect(&["HMGET", "h", "f1", "nope", "f2"], b"*3\r\n$1\r\nx\r\n$-1\r\n$2\r\nv2\r\n");
    c.expect(&["HMGET", "nope", "a", "b"], b"*2\r\n$-1\r\n$-1\r\n");
    c.ok(&["HMSET", "h", "a", "1", "b", "2"]);
    c.expect(&["HLEN", "h"], b":5\r\n");
    c.expect(&["HDEL", "h", "a", "b", "nope"], b":2\r\n");
    c.expect(&["HDEL", "nope", "a"], b":0\r\n");
    c.expect(&["HLEN", "h"], b":3\r\n");
    // Small hashes keep insertion order (Redis's listpack); an update keeps the field's place.
    c.expect(&["HKEYS", "h"], b"*3\r\n$2\r\nf1\r\n$2\r\nf2\r\n$2\r\nf3\r\n");
    c.expect(&["HVALS", "h"], b"*3\r\n$1\r\nx\r\n$2\r\nv2\r\n$2\r\nv3\r\n");
    c.expect(
        &["HGETALL", "h"],
        b"*6\r\n$2\r\nf1\r\n$1\r\nx\r\n$2\r\nf2\r\n$2\r\nv2\r\n$2\r\nf3\r\n$2\r\nv3\r\n",
    );
    c.expect(&["HGETALL", "nope"], b"*0\r\n");
    c.expect(&["HKEYS", "nope"], b"*0\r\n");
    c.expect(&["HVALS", "nope"], b"*0\r\n");
    c.expect(&["HLEN", "nope"], b":0\r\n");
    c.expect(&["HEXISTS", "h", "f1"], b":1\r\n");
    c.expect(&["HEXISTS", "h", "nope"], b":0\r\n");
    c.expect(&["HEXISTS", "nope", "f"], b":0\r\n");
    c.expect(&["HSTRLEN", "h", "f2"], b":2\r\n");
    c.expect(&["HSTRLEN", "h", "nope"], b":0\r\n");
    c.expect(&["HSTRLEN", "nope", "f"], b":0\r\n");
    // Binary-safe fields and values; the empty field is a field.
    c.expect(&[b"HSET".as_slice(), b"bin", b"\0f\r\n", b"v\xff\0"], b":1\r\n");
    c.expect(&[b"HGET".as_slice(), b"bin", b"\0f\r\n"], b"$3\r\nv\xff\0\r\n");
    c.expect(&["HSET", "bin", "", ""], b":1\r\n");
    c.expect(&["HGET", "bin", ""], b"$0\r\n\r\n");
    c.expect(&["HEXISTS", "bin", ""], b":1\r\n");
}

#[test]
fn last_field_removed_deletes_the_key() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["HSET", "one", "f", "v"], b":1\r\n");
    c.expect(&["HDEL", "one", "f"], b":1\r\n");
    c.expect(&["EXISTS", "one"], b":0\r\n");
    c.expect(&["TYPE", "one"], b"+none\r\n");
    c.expect(&["DBSIZE"], b":0\r\n");
    c.expect(&["HSET", "two", "a", "1", "b", "2"], b":2\r\n");
    c.expect(&["HDEL", "two", "a", "b", "c"], b":2\r\n");
    c.expect(&["EXISTS", "two"], b":0\r\n");
    // Same in the table encoding.
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..1000 {
        args.push(format!("f{i}"));
        args.push("v".to_string());
    }
    c.expect(&args, b":1000\r\n");
    let mut del = vec!["HDEL".to_string(), "big".to_string()];
    del.extend((0..1000).map(|i| format!("f{i}")));
    c.expect(&del, b":1000\r\n");
    c.expect(&["EXISTS", "big"], b":0\r\n");
    c.expect(&["DBSIZE"], b":0\r\n");
    // A removed hash starts afresh, with no TTL.
    c.expect(&["HSET", "t", "f", "v"], b":1\r\n");
    c.expect(&["EXPIRE", "t", "100"], b":1\r\n");
    c.expect(&["HDEL", "t", "f"], b":1\r\n");
    c.expect(&["HSET", "t", "f", "v"], b":1\r\n");
    c.expect(&["TTL", "t"], b":-1\r\n");
}

#[test]
fn hsetnx_hincrby_hincrbyfloat() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["HSETNX", "h", "f", "v"], b":1\r\n");
    c.expect(&["HSETNX", "h", "f", "z"], b":0\r\n");
    c.expect(&["HGET", "h", "f"], b"$1\r\nv\r\n");
    c.expect(&["HINCRBY", "h", "n", "5"], b":5\r\n");
    c.expect(&["HINCRBY", "h", "n", "-10"], b":-5\r\n");
    c.expect(&["HGET", "h", "n"], b"$2\r\n-5\r\n");
    c.expect(&["HINCRBY", "new", "n", "7"], b":7\r\n");
    c.expect(&["HINCRBY", "h", "f", "1"], b"-ERR hash value is not an integer\r\n");
    c.expect(&["HINCRBY", "h", "n", "abc"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["HINCRBY", "h", "n", "1.5"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["HSET", "h", "big", "9223372036854775807"], b":1\r\n");
    c.expect(&["HINCRBY", "h", "big", "1"], b"-ERR increment or decrement would overflow\r\n");
    c.expect(&["HSET", "h", "sp", " 1"], b":1\r\n");
    c.expect(&["HINCRBY", "h", "sp", "1"], b"-ERR hash value is not an integer\r\n");
    c.expect(&["HINCRBYFLOAT", "h", "fl", "1.5"], b"$3\r\n1.5\r\n");
    c.expect(&["HINCRBYFLOAT", "h", "fl", "0.1"], b"$3\r\n1.6\r\n");
    c.expect(&["HINCRBYFLOAT", "h", "n", "2"], b"$2\r\n-3\r\n");
    c.expect(&["HINCRBYFLOAT", "h", "f", "1"], b"-ERR hash value is not a float\r\n");
    c.expect(&["HINCRBYFLOAT", "h", "fl", "abc"], b"-ERR value is not a valid float\r\n");
    c.expect(&["HGET", "h", "fl"], b"$3\r\n1.6\r\n");
    c.expect(&["HINCRBYFLOAT", "nh", "x", "2.5"], b"$3\r\n2.5\r\n");
}

/// Redis 7.2 (`t_hash.c`, `hincrbyfloatCommand`) refuses an infinite increment before adding, with
/// `value is NaN or Infinity`; `increment would produce NaN or Infinity` is for a finite increment whose
/// result overflows.
#[test]
fn hincrbyfloat_refuses_infinite_increment() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["HSET", "h", "fl", "1"], b":1\r\n");
    c.expect(&["HINCRBYFLOAT", "h", "fl", "inf"], b"-ERR value is NaN or Infinity\r\n");
    c.expect(&["HINCRBYFLOAT", "h", "fl", "-inf"], b"-ERR value is NaN or Infinity\r\n");
    c.expect(&["HGET", "h", "fl"], b"$1\r\n1\r\n");
}

#[test]
fn wrongtype_on_a_string() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "s", "v"]);
    for args in [
        &["HSET", "s", "f", "v"][..],
        &["HMSET", "s", "f", "v"],
        &["HGET", "s", "f"],
        &["HMGET", "s", "f"],
        &["HDEL", "s", "f"],
        &["HEXISTS", "s", "f"],
        &["HLEN", "s"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HGETALL", "s"],
        &["HINCRBY", "s", "f", "1"],
        &["HINCRBYFLOAT", "s", "f", "1"],
        &["HSETNX", "s", "f", "v"],
        &["HSTRLEN", "s", "f"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "2"],
        &["HSCAN", "s", "0"],
    ] {
        c.expect(args, WRONGTYPE);
    }
    c.expect(&["GET", "s"], b"$1\r\nv\r\n");
}

#[test]
fn wrong_arity() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    for (args, name) in [
        (&["HSET", "h", "f"][..], "hset"),
        (&["HSET", "h"], "hset"),
        (&["HSET", "h", "f1", "v", "f2"], "hset"),
        (&["HMSET", "h", "a"], "hmset"),
        (&["HDEL", "h"], "hdel"),
        (&["HGET", "h"], "hget"),
        (&["HMGET", "h"], "hmget"),
        (&["HGETALL"], "hgetall"),
        (&["HINCRBY", "h", "f"], "hincrby"),
        (&["HSETNX", "h", "f"], "hsetnx"),
        (&["HSCAN", "h"], "hscan"),
        (&["HRANDFIELD"], "hrandfield"),
    ] {
        c.expect(args, format!("-ERR wrong number of arguments for '{name}' command\r\n").as_bytes());
    }
    c.expect(&["EXISTS", "h"], b":0\r\n");
}

#[test]
fn hrandfield() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["HRANDFIELD", "nope"], b"$-1\r\n");
    c.expect(&["HRANDFIELD", "nope", "5"], b"*0\r\n");
    c.expect(&["HRANDFIELD", "nope", "-5", "WITHVALUES"], b"*0\r\n");
    c.expect(&["HSET", "h", "a", "1", "b", "2", "c", "3"], b":3\r\n");
    let fields: HashSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    c.expect(&["HRANDFIELD", "h", "0"], b"*0\r\n");
    c.expect(&["HRANDFIELD", "h", "0", "WITHVALUES"], b"*0\r\n");
    for _ in 0..20 {
        let one = c.bulk(&["HRANDFIELD", "h"]).map(|f| String::from_utf8_lossy(&f).into_owned());
        assert!(one.as_ref().is_some_and(|f| fields.contains(f)), "{one:?}");
    }
    // A positive count gives distinct fields, at most all of them.
    let two = c.cmd(&["HRANDFIELD", "h", "2"]).strings();
    assert_eq!(two.len(), 2);
    assert_ne!(two.first(), two.get(1));
    assert!(two.iter().all(|f| fields.contains(f)));
    let all: HashSet<String> = c.cmd(&["HRANDFIELD", "h", "10"]).strings().into_iter().collect();
    assert_eq!(all, fields);
    // A negative count gives exactly that many, repeats allowed.
    let many = c.cmd(&["HRANDFIELD", "h", "-50"]).strings();
    assert_eq!(many.len(), 50);
    assert!(many.iter().all(|f| fields.contains(f)));
    // WITHVALUES: field, value pairs that belong together.
    let pairs = c.cmd(&["HRANDFIELD", "h", "-20", "WITHVALUES"]).strings();
    assert_eq!(pairs.len(), 40);
    for pair in pairs.chunks(2) {
        let want = match pair.first().map(String::as_str) {
            Some("a") => "1",
            Some("b") => "2",
            Some("c") => "3",
            other => panic!("unexpected field {other:?}"),
        };
        assert_eq!(pair.get(1).map(String::as_str), Some(want));
    }
    let distinct = c.cmd(&["HRANDFIELD", "h", "5", "WITHVALUES"]).strings();
    assert_eq!(distinct.len(), 6);
    // In RESP3, WITHVALUES gives an array of [field, value] pairs.
    c.cmd(&["HELLO", "3"]);
    match c.cmd(&["HRANDFIELD", "h", "2", "WITHVALUES"]) {
        Reply::Array(items) => {
            assert_eq!(items.len(), 2);
            for item in items {
                assert!(matches!(&item, Reply::Array(p) if p.len() == 2), "{item:?}");
            }
        }
        other => panic!("RESP3 HRANDFIELD WITHVALUES: {other:?}"),
    }
    c.expect(&["HRANDFIELD", "nope"], b"_\r\n");
    c.cmd(&["HELLO", "2"]);
    c.expect(&["HRANDFIELD", "h", "abc"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["HRANDFIELD", "h", "1", "foo"], b"-ERR syntax error\r\n");
    c.expect(&["HRANDFIELD", "h", "1", "WITHVALUES", "extra"], b"-ERR syntax error\r\n");
    c.expect(&["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"], b"-ERR value is out of range\r\n");
}

/// Redis 7.2 reads the count with `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`, whose error names
/// the range.
#[test]
fn hrandfield_count_out_of_range_message() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["HSET", "h", "a", "1"], b":1\r\n");
    c.expect(
        &["HRANDFIELD", "h", "-9223372036854775808"],
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
    );
}

#[test]
fn encodings_follow_the_thresholds() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["HSET", "lp", "a", "1"], b":1\r\n");
    c.expect(&["OBJECT", "ENCODING", "lp"], b"$8\r\nlistpack\r\n");
    c.expect(&["HSET", "long", "a", &"x".repeat(65)], b":1\r\n");
    c.expect(&["OBJECT", "ENCODING", "long"], b"$9\r\nhashtable\r\n");
    c.expect(&["HSET", "v64", "a", &"x".repeat(64)], b":1\r\n");
    c.expect(&["OBJECT", "ENCODING", "v64"], b"$8\r\nlistpack\r\n");
    // Growing a value past the limit converts.
    c.expect(&["HSET", "v64", "a", &"x".repeat(65)], b":0\r\n");
    c.expect(&["OBJECT", "ENCODING", "v64"], b"$9\r\nhashtable\r\n");
    c.expect(&["HGET", "v64", "a"], format!("$65\r\n{}\r\n", "x".repeat(65)).as_bytes());
    c.ok(&["CONFIG", "SET", "hash-max-listpack-entries", "4"]);
    c.expect(&["HSET", "four", "a", "1", "b", "2", "c", "3", "d", "4"], b":4\r\n");
    c.expect(&["OBJECT", "ENCODING", "four"], b"$8\r\nlistpack\r\n");
    c.expect(&["HSET", "four", "e", "5"], b":1\r\n");
    c.expect(&["OBJECT", "ENCODING", "four"], b"$9\r\nhashtable\r\n");
    c.expect(&["HLEN", "four"], b":5\r\n");
    c.expect(&["HGET", "four", "a"], b"$1\r\n1\r\n");
}

/// Redis's default `hash-max-listpack-entries` is 512 (`config.c`), so a hash of 200 short fields is
/// still a listpack.
#[test]
fn default_listpack_limit_is_512() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(
        &["CONFIG", "GET", "hash-max-listpack-entries"],
        b"*2\r\n$25\r\nhash-max-listpack-entries\r\n$3\r\n512\r\n",
    );
    let mut args = vec!["HSET".to_string(), "h".to_string()];
    for i in 0..200 {
        args.push(format!("f{i}"));
        args.push(i.to_string());
    }
    c.expect(&args, b":200\r\n");
    c.expect(&["OBJECT", "ENCODING", "h"], b"$8\r\nlistpack\r\n");
}

/// Iterates `HSCAN` to the end; returns each field with its value and how often it was returned.
fn hscan_all(c: &mut slotkv_tests::Conn, key: &str, extra: &[&str]) -> HashMap<String, (String, usize)> {
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    let mut cursor = "0".to_string();
    for _ in 0..100_000 {
        let mut args = vec!["HSCAN", key, cursor.as_str()];
        args.extend_from_slice(extra);
        let reply = c.cmd(&args);
        let [next, items] = reply.items().try_into().unwrap_or_else(|r| panic!("HSCAN reply {r:?}"));
        for pair in items.strings().chunks(2) {
            if let [f, v] = pair {
                seen.entry(f.clone()).or_insert((v.clone(), 0)).1 += 1;
            }
        }
        cursor = next.text();
        if cursor == "0" {
            return seen;
        }
    }
    panic!("HSCAN did not finish");
}

#[test]
fn hscan_small_and_large() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["HSCAN", "nope", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    c.expect(&["HSET", "small", "a", "1", "b", "2"], b":2\r\n");
    // A compact hash comes back whole, in order, with cursor 0.
    c.expect(
        &["HSCAN", "small", "0"],
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    c.expect(&["HSCAN", "small", "0", "MATCH", "b*"], b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    let n = 2000;
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..n {
        args.push(format!("field:{i}"));
        args.push(format!("value:{i}"));
    }
    c.expect(&args, format!(":{n}\r\n").as_bytes());
    c.expect(&["OBJECT", "ENCODING", "big"], b"$9\r\nhashtable\r\n");
    for extra in [&[][..], &["COUNT", "7"], &["COUNT", "500"]] {
        let all = hscan_all(&mut c, "big", extra);
        assert_eq!(all.len(), n, "HSCAN {extra:?}");
        for i in 0..n {
            match all.get(&format!("field:{i}")) {
                Some((v, 1)) => assert_eq!(v, &format!("value:{i}")),
                other => panic!("field:{i}: {other:?} with {extra:?}"),
            }
        }
    }
    let matched = hscan_all(&mut c, "big", &["MATCH", "field:1?", "COUNT", "100"]);
    let mut keys: Vec<&String> = matched.keys().collect();
    keys.sort();
    assert_eq!(keys.len(), 10, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("field:1") && k.len() == 8));
    c.expect(&["HSCAN", "big", "abc"], b"-ERR invalid cursor\r\n");
    c.expect(&["HSCAN", "big", "0", "COUNT", "0"], b"-ERR syntax error\r\n");
    c.expect(&["HSCAN", "big", "0", "foo"], b"-ERR syntax error\r\n");
}
