//! Set commands, in all three encodings (intset, listpack, hashtable), with Redis 7.2's exact replies.
//! Where a reply's order is not defined (a hash table), it is compared sorted.

use slotkv_tests::{info_field, Conn, Node, Reply};
use std::collections::HashSet;
use std::time::Duration;

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn sorted(reply: Reply) -> Vec<String> {
    let mut v = reply.strings();
    v.sort();
    v
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn encoding(c: &mut Conn, key: &str) -> String {
    c.cmd(&["OBJECT", "ENCODING", key]).text()
}

/// `SADD key member...` with many members.
fn sadd_many(c: &mut Conn, key: &str, members: impl IntoIterator<Item = String>) -> i64 {
    let mut args = vec!["SADD".to_string(), key.to_string()];
    args.extend(members);
    c.int(&args)
}

#[test]
fn sadd_srem_scard_sismember_smembers() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SADD", "s", "b", "a", "c", "a"], b":3\r\n");
    c.expect(&["SADD", "s", "a", "d"], b":1\r\n");
    c.expect(&["SCARD", "s"], b":4\r\n");
    c.expect(&["TYPE", "s"], b"+set\r\n");
    // A listpack keeps insertion order.
    c.expect(&["SMEMBERS", "s"], b"*4\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nd\r\n");
    c.expect(&["SISMEMBER", "s", "a"], b":1\r\n");
    c.expect(&["SISMEMBER", "s", "z"], b":0\r\n");
    c.expect(&["SMISMEMBER", "s", "a", "z", "d"], b"*3\r\n:1\r\n:0\r\n:1\r\n");
    c.expect(&["SREM", "s", "a", "z", "a"], b":1\r\n");
    c.expect(&["SMEMBERS", "s"], b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n");
    // An intset is sorted.
    c.expect(&["SADD", "i", "10", "-2", "3", "10"], b":3\r\n");
    c.expect(&["SMEMBERS", "i"], b"*3\r\n$2\r\n-2\r\n$1\r\n3\r\n$2\r\n10\r\n");
    c.expect(&["SISMEMBER", "i", "3"], b":1\r\n");
    c.expect(&["SISMEMBER", "i", "03"], b":0\r\n");
    c.expect(&["SISMEMBER", "i", "x"], b":0\r\n");
    c.expect(&["SREM", "i", "03", "+3", "3"], b":1\r\n");
    c.expect(&["SMEMBERS", "i"], b"*2\r\n$2\r\n-2\r\n$2\r\n10\r\n");
    // Missing keys are empty sets.
    c.expect(&["SCARD", "nope"], b":0\r\n");
    c.expect(&["SISMEMBER", "nope", "a"], b":0\r\n");
    c.expect(&["SMISMEMBER", "nope", "a", "b"], b"*2\r\n:0\r\n:0\r\n");
    c.expect(&["SMEMBERS", "nope"], b"*0\r\n");
    c.expect(&["SREM", "nope", "a"], b":0\r\n");
    c.expect(&["EXISTS", "nope"], b":0\r\n");
    // Binary-safe members; the empty string is a member.
    c.expect(&[b"SADD".as_slice(), b"bin", b"\0a\r\n", b"", b"\xff"], b":3\r\n");
    c.expect(&[b"SISMEMBER".as_slice(), b"bin", b"\0a\r\n"], b":1\r\n");
    c.expect(&["SISMEMBER", "bin", ""], b":1\r\n");
    c.expect(&[b"SMEMBERS".as_slice(), b"bin"], b"*3\r\n$4\r\n\0a\r\n\r\n$0\r\n\r\n$1\r\n\xff\r\n");
    // Arity.
    c.expect(&["SADD", "s"], b"-ERR wrong number of arguments for 'sadd' command\r\n");
    c.expect(&["SREM", "s"], b"-ERR wrong number of arguments for 'srem' command\r\n");
    c.expect(&["SMISMEMBER", "s"], b"-ERR wrong number of arguments for 'smismember' command\r\n");
    c.expect(&["SCARD", "s", "x"], b"-ERR wrong number of arguments for 'scard' command\r\n");
    c.expect(&["SMEMBERS"], b"-ERR wrong number of arguments for 'smembers' command\r\n");
    c.expect(&["SISMEMBER", "s"], b"-ERR wrong number of arguments for 'sismember' command\r\n");
}

#[test]
fn emptied_sets_are_deleted() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    for members in [vec!["1", "2"], vec!["a", "b"]] {
        let mut args = vec!["SADD", "s"];
        args.extend(&members);
        c.int(&args);
        let mut args = vec!["SREM", "s", "zz"];
        args.extend(&members);
        c.expect(&args, b":2\r\n");
        c.expect(&["EXISTS", "s"], b":0\r\n");
    }
    // A hash table too.
    sadd_many(&mut c, "big", (0..300).map(|i| format!("m{i}")));
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let mut args = vec!["SREM".to_string(), "big".to_string()];
    args.extend((0..300).map(|i| format!("m{i}")));
    c.expect(&args, b":300\r\n");
    c.expect(&["EXISTS", "big"], b":0\r\n");
    // SPOP, with and without a count, and SMOVE empty their source too.
    c.expect(&["SADD", "p", "x"], b":1\r\n");
    c.expect(&["SPOP", "p"], b"$1\r\nx\r\n");
    c.expect(&["EXISTS", "p"], b":0\r\n");
    c.expect(&["SADD", "p", "x", "y"], b":2\r\n");
    assert_eq!(sorted(c.cmd(&["SPOP", "p", "2"])), strs(&["x", "y"]));
    c.expect(&["EXISTS", "p"], b":0\r\n");
    c.expect(&["SADD", "p", "x", "y", "z"], b":3\r\n");
    assert!(c.raw(&["SPOP", "p", "1"]).starts_with(b"*1\r\n"));
    c.expect(&["SCARD", "p"], b":2\r\n");
    assert_eq!(c.cmd(&["SPOP", "p", "1"]).strings().len(), 1);
    assert_eq!(c.cmd(&["SPOP", "p", "1"]).strings().len(), 1);
    c.expect(&["EXISTS", "p"], b":0\r\n");
    c.expect(&["SADD", "m", "x"], b":1\r\n");
    c.expect(&["SMOVE", "m", "n", "x"], b":1\r\n");
    c.expect(&["EXISTS", "m"], b":0\r\n");
    c.expect(&["DBSIZE"], b":1\r\n");
    // A set that was removed starts afresh, without the old TTL.
    c.expect(&["SADD", "t", "a"], b":1\r\n");
    c.expect(&["EXPIRE", "t", "100"], b":1\r\n");
    c.expect(&["SREM", "t", "a"], b":1\r\n");
    c.expect(&["SADD", "t", "a"], b":1\r\n");
    c.expect(&["TTL", "t"], b":-1\r\n");
}

#[test]
fn wrong_type() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "str", "v"]);
    c.expect(&["SADD", "s", "a", "b"], b":2\r\n");
    for cmd in [
        vec!["SADD", "str", "a"],
        vec!["SREM", "str", "a"],
        vec!["SMEMBERS", "str"],
        vec!["SISMEMBER", "str", "a"],
        vec!["SMISMEMBER", "str", "a"],
        vec!["SCARD", "str"],
        vec!["SPOP", "str"],
        vec!["SPOP", "str", "0"],
        vec!["SPOP", "str", "3"],
        vec!["SRANDMEMBER", "str"],
        vec!["SRANDMEMBER", "str", "0"],
        vec!["SRANDMEMBER", "str", "-3"],
        vec!["SSCAN", "str", "0"],
        vec!["SSCAN", "str", "0", "BADOPTION"],
        // A later key of the wrong type fails the command, after missing keys and sets alike.
        vec!["SINTER", "s", "str"],
        vec!["SINTER", "nope", "str"],
        vec!["SINTERCARD", "2", "nope", "str"],
        vec!["SINTERCARD", "3", "s", "nope", "str", "LIMIT", "1"],
        vec!["SINTERSTORE", "d", "nope", "s", "str"],
        vec!["SUNION", "s", "nope", "str"],
        vec!["SUNIONSTORE", "d", "s", "str"],
        vec!["SDIFF", "s", "str"],
        vec!["SDIFF", "nope", "str"],
        vec!["SDIFFSTORE", "d", "nope", "str"],
        vec!["SMOVE", "str", "s", "a"],
        vec!["SMOVE", "s", "str", "a"],
        vec!["SMOVE", "s", "str", "nothere"],
    ] {
        c.expect(&cmd, WRONGTYPE);
    }
    // A failed store leaves the destination alone.
    c.ok(&["SET", "d", "keep"]);
    c.expect(&["SUNIONSTORE", "d", "s", "str"], WRONGTYPE);
    c.expect(&["GET", "d"], b"$4\r\nkeep\r\n");
    // A missing source answers 0 before the destination's type is looked at.
    c.expect(&["SMOVE", "nope", "str", "a"], b":0\r\n");
    c.expect(&["SCARD", "s"], b":2\r\n");
    c.expect(&["GET", "str"], b"$1\r\nv\r\n");
}

#[test]
fn encodings_and_their_thresholds() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    // Integers in canonical form make an intset...
    c.expect(&["SADD", "i", "1", "-20", "300000", "9223372036854775807"], b":4\r\n");
    assert_eq!(encoding(&mut c, "i"), "intset");
    // ...which takes a string by becoming a listpack (it and the integers fit), integers still first.
    c.expect(&["SADD", "i", "x"], b":1\r\n");
    assert_eq!(encoding(&mut c, "i"), "listpack");
    c.expect(
        &["SMEMBERS", "i"],
        b"*5\r\n$3\r\n-20\r\n$1\r\n1\r\n$6\r\n300000\r\n$19\r\n9223372036854775807\r\n$1\r\nx\r\n",
    );
    for odd in ["01", "+1", "-0", "1.5", " 1", "9223372036854775808"] {
        c.cmd(&["DEL", "o"]);
        c.expect(&["SADD", "o", "1", odd], b":2\r\n");
        assert_eq!(encoding(&mut c, "o"), "listpack", "{odd}");
    }
    // An intset of 512 members takes a 513th by becoming a hash table.
    sadd_many(&mut c, "big", (0..512).map(|i| i.to_string()));
    assert_eq!(encoding(&mut c, "big"), "intset");
    c.expect(&["SADD", "big", "512"], b":1\r\n");
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    c.expect(&["SCARD", "big"], b":513\r\n");
    // A big intset that takes a string goes to a hash table.
    c.cmd(&["DEL", "big"]);
    sadd_many(&mut c, "big", (0..200).map(|i| i.to_string()));
    assert_eq!(encoding(&mut c, "big"), "intset");
    c.expect(&["SADD", "big", "x"], b":1\r\n");
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    // A listpack holds 128 members of up to 64 bytes.
    sadd_many(&mut c, "lp", (0..128).map(|i| format!("m{i}")));
    assert_eq!(encoding(&mut c, "lp"), "listpack");
    c.expect(&["SADD", "lp", "m0"], b":0\r\n");
    assert_eq!(encoding(&mut c, "lp"), "listpack");
    c.expect(&["SADD", "lp", "m128"], b":1\r\n");
    assert_eq!(encoding(&mut c, "lp"), "hashtable");
    // Removing members does not go back.
    let mut args = vec!["SREM".to_string(), "lp".to_string()];
    args.extend((0..120).map(|i| format!("m{i}")));
    c.expect(&args, b":120\r\n");
    assert_eq!(encoding(&mut c, "lp"), "hashtable");
    c.expect(&["SADD", "v", "a", &"x".repeat(64)], b":2\r\n");
    assert_eq!(encoding(&mut c, "v"), "listpack");
    c.expect(&["SADD", "v", &"x".repeat(65)], b":1\r\n");
    assert_eq!(encoding(&mut c, "v"), "hashtable");
    c.expect(&["SADD", "v2", &"x".repeat(65)], b":1\r\n");
    assert_eq!(encoding(&mut c, "v2"), "hashtable");
    // The number of arguments picks the encoding up front, repeats included, as in Redis.
    let mut args = vec!["SADD".to_string(), "dup".to_string()];
    args.extend((0..129).map(|_| "same".to_string()));
    c.expect(&args, b":1\r\n");
    assert_eq!(encoding(&mut c, "dup"), "hashtable");
    c.expect(&["SADD", "dup2", "a"], b":1\r\n");
    let mut args = vec!["SADD".to_string(), "dup2".to_string()];
    args.extend((0..129).map(|_| "a".to_string()));
    c.expect(&args, b":0\r\n");
    assert_eq!(encoding(&mut c, "dup2"), "hashtable");
    let mut args = vec!["SADD".to_string(), "dup3".to_string()];
    args.extend((0..513).map(|_| "7".to_string()));
    c.expect(&args, b":1\r\n");
    assert_eq!(encoding(&mut c, "dup3"), "hashtable");
    // RENAME and COPY keep the encoding and the members.
    c.expect(&["COPY", "i", "i2"], b":1\r\n");
    assert_eq!(encoding(&mut c, "i2"), "listpack");
    c.expect(&["SCARD", "i2"], b":5\r\n");
}

#[test]
fn encoding_limits_follow_config_set() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["CONFIG", "SET", "set-max-intset-entries", "3"]);
    c.ok(&["CONFIG", "SET", "set-max-listpack-entries", "4"]);
    c.ok(&["CONFIG", "SET", "set-max-listpack-value", "5"]);
    c.expect(&["SADD", "i", "3", "1", "2"], b":3\r\n");
    assert_eq!(encoding(&mut c, "i"), "intset");
    // Past the intset limit: a hash table, even though a listpack would hold it.
    c.expect(&["SADD", "i", "4"], b":1\r\n");
    assert_eq!(encoding(&mut c, "i"), "hashtable");
    // An intset takes a string as a listpack only if its integers are short enough for one.
    c.expect(&["SADD", "j", "1", "22"], b":2\r\n");
    c.expect(&["SADD", "j", "abc"], b":1\r\n");
    assert_eq!(encoding(&mut c, "j"), "listpack");
    c.expect(&["SMEMBERS", "j"], b"*3\r\n$1\r\n1\r\n$2\r\n22\r\n$3\r\nabc\r\n");
    c.expect(&["SADD", "k", "1", "-123456"], b":2\r\n");
    c.expect(&["SADD", "k", "a"], b":1\r\n");
    assert_eq!(encoding(&mut c, "k"), "hashtable");
    c.expect(&["SADD", "l", "1", "2", "3"], b":3\r\n");
    c.ok(&["CONFIG", "SET", "set-max-listpack-entries", "3"]);
    c.expect(&["SADD", "l", "a"], b":1\r\n");
    assert_eq!(encoding(&mut c, "l"), "hashtable");
    // Sizes are checked at each change: a listpack past a lowered limit converts on its next new member.
    c.ok(&["CONFIG", "SET", "set-max-listpack-entries", "4"]);
    c.expect(&["SADD", "lp", "a", "b", "c", "d"], b":4\r\n");
    assert_eq!(encoding(&mut c, "lp"), "listpack");
    c.ok(&["CONFIG", "SET", "set-max-listpack-entries", "2"]);
    c.expect(&["SADD", "lp", "a"], b":0\r\n");
    assert_eq!(encoding(&mut c, "lp"), "listpack");
    c.ok(&["CONFIG", "SET", "set-max-listpack-entries", "10"]);
    c.expect(&["SADD", "lp", "abcdef"], b":1\r\n");
    assert_eq!(encoding(&mut c, "lp"), "hashtable");
    // With no intset at all, integers go to a listpack.
    c.ok(&["CONFIG", "SET", "set-max-intset-entries", "0"]);
    c.expect(&["SADD", "z", "5"], b":1\r\n");
    assert_eq!(encoding(&mut c, "z"), "listpack");
    c.ok(&["CONFIG", "SET", "set-max-listpack-entries", "0"]);
    c.expect(&["SADD", "y", "5"], b":1\r\n");
    assert_eq!(encoding(&mut c, "y"), "hashtable");
}

#[test]
fn a_hundred_member_set_is_a_compact_listpack() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let used = |c: &mut Conn| -> i64 {
        let info = c.cmd(&["INFO", "memory"]).text();
        info_field(&info, "used_memory").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{info}"))
    };
    // Warm up the keyspace's tables first, so that the measure is the sets'.
    for k in 0..1000 {
        c.ok(&["SET", &format!("{{s}}:warm:{k}"), "v"]);
    }
    let before = used(&mut c);
    let sets = 5000;
    for k in 0..sets {
        // One member per command, pipelined: the way sets usually grow.
        let key = format!("{{s}}:{k}");
        for j in 0..100 {
            c.send(&["SADD", &key, &format!("member:{j}")]);
        }
        for _ in 0..100 {
            assert_eq!(c.read_reply(), Reply::Int(1));
        }
    }
    assert_eq!(encoding(&mut c, "{s}:0"), "listpack");
    let per_set = (used(&mut c) - before) / sets;
    eprintln!("{per_set} bytes per set");
    // About 1.1 KB of members plus the key and entry; Redis 7.2 takes about 1.4 KB.
    assert!(per_set < 1500, "{per_set} bytes per set");
}

#[test]
fn spop() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SPOP", "nope"], b"$-1\r\n");
    c.expect(&["SPOP", "nope", "3"], b"*0\r\n");
    c.expect(&["SPOP", "nope", "0"], b"*0\r\n");
    // The count is read before the key, with Redis's texts.
    c.expect(&["SPOP", "nope", "-1"], b"-ERR value is out of range, must be positive\r\n");
    c.expect(&["SPOP", "nope", "abc"], b"-ERR value is out of range, must be positive\r\n");
    c.expect(&["SPOP", "nope", "1", "2"], b"-ERR syntax error\r\n");
    c.expect(&["SPOP"], b"-ERR wrong number of arguments for 'spop' command\r\n");
    let all: HashSet<String> = (0..10).map(|i| format!("m{i}")).collect();
    sadd_many(&mut c, "s", all.iter().cloned());
    c.expect(&["SPOP", "s", "0"], b"*0\r\n");
    let one = c.bulk(&["SPOP", "s"]).map(|m| String::from_utf8_lossy(&m).into_owned());
    assert!(one.as_ref().is_some_and(|m| all.contains(m)), "{one:?}");
    let three = c.cmd(&["SPOP", "s", "3"]).strings();
    assert_eq!(three.iter().collect::<HashSet<_>>().len(), 3);
    assert!(three.iter().all(|m| all.contains(m) && Some(m) != one.as_ref()));
    c.expect(&["SCARD", "s"], b":6\r\n");
    // Popping most of the set (the set is rebuilt from what stays).
    assert_eq!(c.cmd(&["SPOP", "s", "5"]).strings().len(), 5);
    c.expect(&["SCARD", "s"], b":1\r\n");
    assert_eq!(c.cmd(&["SPOP", "s", "5"]).strings().len(), 1);
    c.expect(&["EXISTS", "s"], b":0\r\n");
    // A whole intset pops in order.
    c.expect(&["SADD", "i", "3", "1", "2"], b":3\r\n");
    c.expect(&["SPOP", "i", "3"], b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    // A whole listpack pops as Redis's SUNION of it gives it: leading integers collect in an intset first.
    c.expect(&["SADD", "l", "x", "3", "1", "y", "2"], b":5\r\n");
    c.expect(&["SREM", "l", "x"], b":1\r\n");
    c.expect(&["SPOP", "l", "100"], b"*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\ny\r\n$1\r\n2\r\n");
    c.expect(&["EXISTS", "l"], b":0\r\n");
    // Popping most of a hash table leaves a listpack, as Redis rebuilds it from the members that stay.
    sadd_many(&mut c, "h", (0..200).map(|i| format!("m{i}")));
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    let popped = c.cmd(&["SPOP", "h", "190"]).strings();
    assert_eq!(popped.iter().collect::<HashSet<_>>().len(), 190);
    assert_eq!(encoding(&mut c, "h"), "listpack");
    let left: HashSet<String> = c.cmd(&["SMEMBERS", "h"]).strings().into_iter().collect();
    assert_eq!(left.len(), 10);
    assert!(popped.iter().all(|m| !left.contains(m)));
    // A few pops from a hash table leave it one.
    sadd_many(&mut c, "h2", (0..200).map(|i| format!("m{i}")));
    assert_eq!(c.cmd(&["SPOP", "h2", "20"]).strings().len(), 20);
    assert_eq!(encoding(&mut c, "h2"), "hashtable");
    c.expect(&["SCARD", "h2"], b":180\r\n");
    // Same for a big intset: most popped leaves an intset.
    sadd_many(&mut c, "bi", (0..300).map(|i| i.to_string()));
    assert_eq!(c.cmd(&["SPOP", "bi", "299"]).strings().len(), 299);
    assert_eq!(encoding(&mut c, "bi"), "intset");
    c.expect(&["SCARD", "bi"], b":1\r\n");
}

#[test]
fn spop_and_srandmember_resp3() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.cmd(&["HELLO", "3"]);
    c.expect(&["SPOP", "nope"], b"_\r\n");
    c.expect(&["SPOP", "nope", "2"], b"~0\r\n");
    c.expect(&["SRANDMEMBER", "nope"], b"_\r\n");
    c.expect(&["SRANDMEMBER", "nope", "2"], b"*0\r\n");
    c.expect(&["SADD", "s", "1", "2"], b":2\r\n");
    c.expect(&["SPOP", "s", "0"], b"~0\r\n");
    c.expect(&["SRANDMEMBER", "s", "0"], b"*0\r\n");
    c.expect(&["SRANDMEMBER", "s", "5"], b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert!(c.raw(&["SRANDMEMBER", "s", "-2"]).starts_with(b"*2\r\n"));
    assert!(matches!(c.cmd(&["SRANDMEMBER", "s", "-3"]), Reply::Array(v) if v.len() == 3));
    assert!(matches!(c.cmd(&["SPOP", "s", "1"]), Reply::Set(v) if v.len() == 1));
    c.expect(&["SADD", "s", "1", "2"], b":1\r\n");
    c.expect(&["SPOP", "s", "2"], b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.expect(&["SADD", "s", "7"], b":1\r\n");
    c.expect(&["SPOP", "s"], b"$1\r\n7\r\n");
}

#[test]
fn srandmember() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SRANDMEMBER", "nope"], b"$-1\r\n");
    c.expect(&["SRANDMEMBER", "nope", "5"], b"*0\r\n");
    c.expect(&["SRANDMEMBER", "nope", "-5"], b"*0\r\n");
    c.expect(&["SRANDMEMBER", "nope", "abc"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(
        &["SRANDMEMBER", "nope", "-9223372036854775808"],
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
    );
    c.expect(&["SRANDMEMBER", "nope", "1", "2"], b"-ERR syntax error\r\n");
    for (key, members) in [
        ("ints", (0..5).map(|i| i.to_string()).collect::<Vec<_>>()),
        ("lp", (0..5).map(|i| format!("m{i}")).collect()),
        ("ht", (0..300).map(|i| format!("m{i}")).collect()),
        ("bigints", (0..400).map(|i| i.to_string()).collect()),
    ] {
        sadd_many(&mut c, key, members.iter().cloned());
        let all: HashSet<String> = members.iter().cloned().collect();
        c.expect(&["SRANDMEMBER", key, "0"], b"*0\r\n");
        for _ in 0..10 {
            let one = c.cmd(&["SRANDMEMBER", key]).text();
            assert!(all.contains(&one), "{key}: {one}");
        }
        // A positive count gives distinct members; the whole set when it asks for as many or more.
        for n in [1, 2, 4, members.len() - 1, members.len(), members.len() + 10, 1 << 40] {
            let got = c.cmd(&["SRANDMEMBER", key, &n.to_string()]).strings();
            assert_eq!(got.len(), n.min(members.len()), "{key} {n}");
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len(), "{key} {n}");
            assert!(got.iter().all(|m| all.contains(m)), "{key} {n}");
        }
        // A negative one gives exactly that many, repeats allowed.
        let many = c.cmd(&["SRANDMEMBER", key, "-1000"]).strings();
        assert_eq!(many.len(), 1000, "{key}");
        assert!(many.iter().all(|m| all.contains(m)), "{key}");
        assert!(many.iter().collect::<HashSet<_>>().len() > 1, "{key}");
        c.expect(&["SCARD", key], format!(":{}\r\n", members.len()).as_bytes());
    }
    // A whole intset or listpack comes in its order.
    c.expect(&["SRANDMEMBER", "ints", "5"], b"*5\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    c.expect(
        &["SRANDMEMBER", "lp", "9"],
        b"*5\r\n$2\r\nm0\r\n$2\r\nm1\r\n$2\r\nm2\r\n$2\r\nm3\r\n$2\r\nm4\r\n",
    );
    // Distinct picks from a listpack keep its order.
    for _ in 0..20 {
        let got = c.cmd(&["SRANDMEMBER", "lp", "3"]).strings();
        let mut in_order = got.clone();
        in_order.sort();
        assert_eq!(got, in_order);
    }
    assert!(c.raw(&["SRANDMEMBER", "lp", "-1"]).starts_with(b"*1\r\n$2\r\nm"));
    assert!(c.raw(&["SRANDMEMBER", "lp", "1"]).starts_with(b"*1\r\n$2\r\nm"));
    // A count whose reply could never fit closes the connection rather than exhausting memory, as Redis
    // does for a client past its output buffer limit; other clients are served on.
    let mut big = node.conn();
    big.send(&["SRANDMEMBER", "lp", "-9223372036854775807"]);
    let (got, closed) = big.read_until_close(Duration::from_secs(10));
    assert!(closed && got.is_empty(), "{} bytes, closed: {closed}", got.len());
    c.expect(&["SCARD", "lp"], b":5\r\n");
}

#[test]
fn smove() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SADD", "a", "1", "2", "x"], b":3\r\n");
    c.expect(&["SMOVE", "a", "b", "1"], b":1\r\n");
    c.expect(&["SMOVE", "a", "b", "1"], b":0\r\n");
    c.expect(&["SMOVE", "a", "b", "nothere"], b":0\r\n");
    c.expect(&["SMOVE", "nope", "b", "1"], b":0\r\n");
    c.expect(&["SMEMBERS", "a"], b"*2\r\n$1\r\n2\r\n$1\r\nx\r\n");
    // A new destination gets the encoding its first member calls for.
    assert_eq!(encoding(&mut c, "b"), "intset");
    c.expect(&["SMOVE", "a", "c", "x"], b":1\r\n");
    assert_eq!(encoding(&mut c, "c"), "listpack");
    // Moving into a set that has the member still removes it from the source.
    c.expect(&["SADD", "b", "2"], b":1\r\n");
    c.expect(&["SMOVE", "a", "b", "2"], b":1\r\n");
    c.expect(&["EXISTS", "a"], b":0\r\n");
    c.expect(&["SMEMBERS", "b"], b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    // A move within one set only tells whether the member is there.
    c.expect(&["SMOVE", "b", "b", "1"], b":1\r\n");
    c.expect(&["SMOVE", "b", "b", "9"], b":0\r\n");
    c.expect(&["SMEMBERS", "b"], b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    // A string member turns an intset destination into a listpack.
    c.expect(&["SMOVE", "c", "b", "x"], b":1\r\n");
    assert_eq!(encoding(&mut c, "b"), "listpack");
    c.expect(&["SMOVE", "b"], b"-ERR wrong number of arguments for 'smove' command\r\n");
}

#[test]
fn sinter_sintercard_sinterstore() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SADD", "a", "5", "1", "3", "4"], b":4\r\n");
    c.expect(&["SADD", "b", "x", "4", "3", "1"], b":4\r\n");
    c.expect(&["SADD", "c", "3", "4", "9"], b":3\r\n");
    // The smallest set is walked: its order is the reply's.
    c.expect(&["SINTER", "a", "b"], b"*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n");
    c.expect(&["SINTER", "b", "a"], b"*3\r\n$1\r\n4\r\n$1\r\n3\r\n$1\r\n1\r\n");
    c.expect(&["SINTER", "a", "b", "c"], b"*2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    c.expect(&["SINTER", "a"], b"*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
    c.expect(&["SINTER", "a", "a"], b"*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
    c.expect(&["SINTER", "a", "nope"], b"*0\r\n");
    c.expect(&["SINTER", "nope"], b"*0\r\n");
    c.expect(&["SINTERCARD", "2", "a", "b"], b":3\r\n");
    c.expect(&["SINTERCARD", "2", "a", "b", "LIMIT", "2"], b":2\r\n");
    c.expect(&["SINTERCARD", "2", "a", "b", "limit", "0"], b":3\r\n");
    c.expect(&["SINTERCARD", "2", "a", "b", "LIMIT", "9", "LIMIT", "1"], b":1\r\n");
    c.expect(&["SINTERCARD", "1", "a"], b":4\r\n");
    c.expect(&["SINTERCARD", "2", "a", "nope"], b":0\r\n");
    // SINTERCARD's argument errors, in Redis's words and order.
    for (args, err) in [
        (vec!["0", "a"], "ERR numkeys should be greater than 0"),
        (vec!["-1", "a"], "ERR numkeys should be greater than 0"),
        (vec!["abc", "a"], "ERR numkeys should be greater than 0"),
        (vec!["9223372036854775808", "a"], "ERR numkeys should be greater than 0"),
        (vec!["3", "a", "b"], "ERR Number of keys can't be greater than number of args"),
        (vec!["1", "a", "LIMIT", "-1"], "ERR LIMIT can't be negative"),
        (vec!["1", "a", "LIMIT", "x"], "ERR LIMIT can't be negative"),
        (vec!["1", "a", "LIMIT"], "ERR syntax error"),
        (vec!["1", "a", "FOO", "1"], "ERR syntax error"),
        (vec!["1", "a", "LIMIT", "-1", "FOO"], "ERR LIMIT can't be negative"),
    ] {
        let mut cmd = vec!["SINTERCARD"];
        cmd.extend(args);
        assert_eq!(c.err(&cmd), err, "{cmd:?}");
    }
    c.expect(&["SINTERCARD", "1"], b"-ERR wrong number of arguments for 'sintercard' command\r\n");
    // STORE: the result replaces the destination, whatever it held and its TTL.
    c.ok(&["SET", "d", "string"]);
    c.expect(&["EXPIRE", "d", "100"], b":1\r\n");
    c.expect(&["SINTERSTORE", "d", "a", "b"], b":3\r\n");
    c.expect(&["TTL", "d"], b":-1\r\n");
    c.expect(&["SMEMBERS", "d"], b"*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n");
    // An all-integer result is stored as an intset, even from a listpack.
    assert_eq!(encoding(&mut c, "d"), "intset");
    c.expect(&["SINTERSTORE", "d", "b", "b"], b":4\r\n");
    assert_eq!(encoding(&mut c, "d"), "listpack");
    c.expect(&["SMEMBERS", "d"], b"*4\r\n$1\r\nx\r\n$1\r\n4\r\n$1\r\n3\r\n$1\r\n1\r\n");
    // The destination may be a source.
    c.expect(&["SINTERSTORE", "d", "d", "c"], b":2\r\n");
    c.expect(&["SMEMBERS", "d"], b"*2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    // An empty result deletes the destination.
    c.expect(&["SINTERSTORE", "d", "a", "nope"], b":0\r\n");
    c.expect(&["EXISTS", "d"], b":0\r\n");
    c.ok(&["SET", "d", "string"]);
    c.expect(&["SADD", "e", "zz"], b":1\r\n");
    c.expect(&["SINTERSTORE", "d", "a", "e"], b":0\r\n");
    c.expect(&["EXISTS", "d"], b":0\r\n");
    c.expect(&["SINTERSTORE", "d"], b"-ERR wrong number of arguments for 'sinterstore' command\r\n");
    // Hash tables: compare sorted; a small integer result becomes an intset.
    sadd_many(&mut c, "h1", (0..300).map(|i| format!("m{i}")).chain((0..50).map(|i| i.to_string())));
    sadd_many(&mut c, "h2", (100..400).map(|i| format!("m{i}")).chain((25..75).map(|i| i.to_string())));
    let want: Vec<String> = {
        let mut v: Vec<String> =
            (100..300).map(|i| format!("m{i}")).chain((25..50).map(|i| i.to_string())).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(c.cmd(&["SINTER", "h1", "h2"])), want);
    c.expect(&["SINTERCARD", "2", "h1", "h2"], b":225\r\n");
    c.expect(&["SINTERSTORE", "d", "h1", "h2"], b":225\r\n");
    assert_eq!(encoding(&mut c, "d"), "hashtable");
    c.expect(&["SADD", "n", "30", "31", "99"], b":3\r\n");
    c.expect(&["SINTERSTORE", "d", "h1", "h2", "n"], b":2\r\n");
    assert_eq!(encoding(&mut c, "d"), "intset");
    c.cmd(&["SADD", "ab", "ab"]);
    c.cmd(&["SADD", "h1", "ab"]);
    c.expect(&["SINTERSTORE", "d", "h1", "ab"], b":1\r\n");
    assert_eq!(encoding(&mut c, "d"), "listpack");
}

#[test]
fn sunion_sdiff_and_store() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SADD", "a", "3", "1", "2"], b":3\r\n");
    c.expect(&["SADD", "b", "x", "2", "9"], b":3\r\n");
    c.expect(&["SADD", "c", "1", "9"], b":2\r\n");
    // Results collect in a set that starts as an intset: integers before the first string come sorted.
    c.expect(&["SUNION", "a", "b"], b"*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\nx\r\n$1\r\n9\r\n");
    c.expect(&["SUNION", "b", "a"], b"*5\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\n9\r\n$1\r\n1\r\n$1\r\n3\r\n");
    c.expect(&["SUNION", "a", "c", "nope"], b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n9\r\n");
    c.expect(&["SUNION", "nope"], b"*0\r\n");
    c.expect(&["SDIFF", "a", "b"], b"*2\r\n$1\r\n1\r\n$1\r\n3\r\n");
    c.expect(&["SDIFF", "a", "b", "c"], b"*1\r\n$1\r\n3\r\n");
    c.expect(&["SDIFF", "b", "a", "nope"], b"*2\r\n$1\r\nx\r\n$1\r\n9\r\n");
    c.expect(&["SDIFF", "a"], b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    c.expect(&["SDIFF", "a", "a"], b"*0\r\n");
    c.expect(&["SDIFF", "a", "c", "a"], b"*0\r\n");
    c.expect(&["SDIFF", "nope", "a"], b"*0\r\n");
    // STORE forms, the destination among the sources too.
    c.ok(&["SET", "d", "string"]);
    c.expect(&["SUNIONSTORE", "d", "a", "c"], b":4\r\n");
    c.expect(&["TYPE", "d"], b"+set\r\n");
    assert_eq!(encoding(&mut c, "d"), "intset");
    c.expect(&["SUNIONSTORE", "d", "d", "b"], b":5\r\n");
    assert_eq!(encoding(&mut c, "d"), "listpack");
    c.expect(&["SMEMBERS", "d"], b"*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n9\r\n$1\r\nx\r\n");
    c.expect(&["SDIFFSTORE", "d", "d", "a"], b":2\r\n");
    c.expect(&["SMEMBERS", "d"], b"*2\r\n$1\r\n9\r\n$1\r\nx\r\n");
    // A result that is all integers but came through a listpack stays one (no intset conversion).
    c.expect(&["SDIFFSTORE", "d", "b", "a"], b":2\r\n");
    c.expect(&["SREM", "d", "x"], b":1\r\n");
    assert_eq!(encoding(&mut c, "d"), "listpack");
    c.expect(&["SDIFFSTORE", "e", "d"], b":1\r\n");
    assert_eq!(encoding(&mut c, "e"), "intset");
    // Empty results delete the destination.
    c.expect(&["SDIFFSTORE", "d", "a", "a"], b":0\r\n");
    c.expect(&["EXISTS", "d"], b":0\r\n");
    c.ok(&["SET", "d", "x"]);
    c.expect(&["SUNIONSTORE", "d", "nope", "nope2"], b":0\r\n");
    c.expect(&["EXISTS", "d"], b":0\r\n");
    c.expect(&["SDIFFSTORE", "d", "nope", "a"], b":0\r\n");
    c.expect(&["SUNIONSTORE", "d"], b"-ERR wrong number of arguments for 'sunionstore' command\r\n");
    c.expect(&["SDIFF"], b"-ERR wrong number of arguments for 'sdiff' command\r\n");
    // Hash tables, compared sorted.
    sadd_many(&mut c, "h1", (0..300).map(|i| format!("m{i}")));
    sadd_many(&mut c, "h2", (200..500).map(|i| format!("m{i}")));
    let range = |r: std::ops::Range<i32>| {
        let mut v: Vec<String> = r.map(|i| format!("m{i}")).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(c.cmd(&["SUNION", "h1", "h2"])), range(0..500));
    assert_eq!(sorted(c.cmd(&["SDIFF", "h1", "h2"])), range(0..200));
    assert_eq!(sorted(c.cmd(&["SDIFF", "h2", "h1"])), range(300..500));
    c.expect(&["SUNIONSTORE", "u", "h1", "h2"], b":500\r\n");
    assert_eq!(encoding(&mut c, "u"), "hashtable");
    c.expect(&["SDIFFSTORE", "u", "h1", "h2"], b":200\r\n");
    assert_eq!(sorted(c.cmd(&["SMEMBERS", "u"])), range(0..200));
    // Redis's second difference algorithm (a big first set, small others) goes through a hash table.
    sadd_many(&mut c, "s1", (0..45).map(|i| format!("m{i}")));
    sadd_many(&mut c, "s2", (45..90).map(|i| format!("m{i}")));
    c.expect(&["SDIFFSTORE", "u", "h1", "s1", "s2"], b":210\r\n");
    sadd_many(&mut c, "h3", (0..200).map(|i| format!("m{i}")));
    c.expect(&["SDIFFSTORE", "u", "h3", "s1", "s2"], b":110\r\n");
    assert_eq!(encoding(&mut c, "u"), "hashtable");
    sadd_many(&mut c, "s3", (0..200).map(|i| format!("m{i}")));
    c.expect(&["SDIFFSTORE", "u", "h1", "s3"], b":100\r\n");
    assert_eq!(encoding(&mut c, "u"), "listpack");
    c.expect(&["SREM", "h1"], b"-ERR wrong number of arguments for 'srem' command\r\n");
}

#[test]
fn set_replies_in_resp3() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.cmd(&["HELLO", "3"]);
    c.expect(&["SADD", "a", "1", "2"], b":2\r\n");
    c.expect(&["SADD", "b", "2", "3"], b":2\r\n");
    c.expect(&["SMEMBERS", "a"], b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.expect(&["SMEMBERS", "nope"], b"~0\r\n");
    c.expect(&["SINTER", "a", "b"], b"~1\r\n$1\r\n2\r\n");
    c.expect(&["SINTER", "a", "nope"], b"~0\r\n");
    c.expect(&["SUNION", "a", "b"], b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    c.expect(&["SDIFF", "a", "b"], b"~1\r\n$1\r\n1\r\n");
    c.expect(&["SDIFF", "nope", "b"], b"~0\r\n");
    c.expect(&["SINTERCARD", "2", "a", "b"], b":1\r\n");
    c.expect(&["SMISMEMBER", "a", "1", "3"], b"*2\r\n:1\r\n:0\r\n");
    c.expect(&["SISMEMBER", "a", "1"], b":1\r\n");
    c.expect(&["SSCAN", "a", "0"], b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.expect(&["SINTERSTORE", "d", "a", "b"], b":1\r\n");
}

#[test]
fn sscan() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SSCAN", "nope", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    // The options are read only once there is a set, as in Redis.
    c.expect(&["SSCAN", "nope", "0", "COUNT", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    c.expect(&["SSCAN", "nope", "abc"], b"-ERR invalid cursor\r\n");
    c.expect(&["SADD", "i", "3", "1", "20"], b":3\r\n");
    c.expect(&["SSCAN", "i", "0"], b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n3\r\n$2\r\n20\r\n");
    // A compact set comes back whole, whatever the cursor and count.
    c.expect(
        &["SSCAN", "i", "17", "COUNT", "1"],
        b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n3\r\n$2\r\n20\r\n",
    );
    c.expect(&["SSCAN", "i", "0", "MATCH", "2*"], b"*2\r\n$1\r\n0\r\n*1\r\n$2\r\n20\r\n");
    c.expect(&["SADD", "l", "foo", "bar", "fox"], b":3\r\n");
    c.expect(&["SSCAN", "l", "0", "MATCH", "f*"], b"*2\r\n$1\r\n0\r\n*2\r\n$3\r\nfoo\r\n$3\r\nfox\r\n");
    c.expect(
        &["SSCAN", "l", "0", "match", "*", "count", "100"],
        b"*2\r\n$1\r\n0\r\n*3\r\n$3\r\nfoo\r\n$3\r\nbar\r\n$3\r\nfox\r\n",
    );
    c.expect(&["SSCAN", "l", "0", "COUNT", "0"], b"-ERR syntax error\r\n");
    c.expect(&["SSCAN", "l", "0", "COUNT", "x"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["SSCAN", "l", "0", "MATCH"], b"-ERR syntax error\r\n");
    c.expect(&["SSCAN", "l", "0", "NOVALUES"], b"-ERR syntax error\r\n");
    c.expect(&["SSCAN", "l", "0", "TYPE", "set"], b"-ERR syntax error\r\n");
    c.expect(&["SSCAN", "l", "-1"], b"-ERR invalid cursor\r\n");
    c.expect(&["SSCAN", "l"], b"-ERR wrong number of arguments for 'sscan' command\r\n");
    // A hash table is paged; every member comes exactly once, even as the set changes in between.
    let n = 1000;
    sadd_many(&mut c, "h", (0..n).map(|i| format!("m{i}")));
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = c.cmd(&["SSCAN", "h", &cursor, "COUNT", "10"]).items();
        let (Some(next), Some(page)) = (reply.first(), reply.get(1)) else { panic!("{reply:?}") };
        for m in page.strings() {
            assert!(seen.insert(m.clone()), "{m} twice");
        }
        calls += 1;
        // Members added and removed during the scan do not disturb the others.
        c.int(&["SADD", "h", &format!("new{calls}")]);
        c.int(&["SREM", "h", &format!("new{}", calls - 1)]);
        cursor = next.text();
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 50, "{calls} calls");
    let originals = seen.iter().filter(|m| m.starts_with('m')).count();
    assert_eq!(originals, n);
    let mut matched = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = c.cmd(&["SSCAN", "h", &cursor, "MATCH", "m1*", "COUNT", "100"]).items();
        let (Some(next), Some(page)) = (reply.first(), reply.get(1)) else { panic!("{reply:?}") };
        matched.extend(page.strings());
        cursor = next.text();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(matched.len(), 111);
    assert!(matched.iter().all(|m| m.starts_with("m1")));
}
