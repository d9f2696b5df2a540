//! String commands against a real node, reply bytes compared with what Redis 7.2 sends.

use slotkv_tests::Node;

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
const SYNTAX: &[u8] = b"-ERR syntax error\r\n";

#[test]
fn get_and_set_are_binary_safe() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["GET", "k"], b"$-1\r\n");
    c.ok(&["SET", "k", "v"]);
    c.expect(&["GET", "k"], b"$1\r\nv\r\n");
    c.ok(&["set", "k", "overwritten"]);
    c.expect(&["get", "k"], b"$11\r\noverwritten\r\n");
    let binary: &[u8] = b"a\r\nb\0c\xff";
    c.ok(&[b"SET".as_slice(), b"bin\0key", binary]);
    c.expect(&[b"GET".as_slice(), b"bin\0key"], b"$7\r\na\r\nb\0c\xff\r\n");
    c.ok(&["SET", "empty", ""]);
    c.expect(&["GET", "empty"], b"$0\r\n\r\n");
    c.expect(&["STRLEN", "empty"], b":0\r\n");
    c.expect(&["EXISTS", "empty"], b":1\r\n");
    // An empty key name is a key like any other.
    c.ok(&["SET", "", "x"]);
    c.expect(&["GET", ""], b"$1\r\nx\r\n");
}

#[test]
fn set_nx_xx_get() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "k", "v"]);
    c.expect(&["SET", "k", "v", "NX"], b"$-1\r\n");
    c.expect(&["SET", "k", "v2", "XX"], b"+OK\r\n");
    c.expect(&["GET", "k"], b"$2\r\nv2\r\n");
    c.expect(&["SET", "new", "v", "XX"], b"$-1\r\n");
    c.expect(&["EXISTS", "new"], b":0\r\n");
    c.expect(&["SET", "new", "v", "nx"], b"+OK\r\n");
    c.expect(&["SET", "k", "v3", "GET"], b"$2\r\nv2\r\n");
    c.expect(&["GET", "k"], b"$2\r\nv3\r\n");
    c.expect(&["SET", "missing", "v", "GET", "XX"], b"$-1\r\n");
    c.expect(&["GET", "missing"], b"$-1\r\n");
    // NX GET on an existing key: the old value, and nothing is written.
    c.expect(&["SET", "k", "other", "NX", "GET"], b"$2\r\nv3\r\n");
    c.expect(&["GET", "k"], b"$2\r\nv3\r\n");
    c.expect(&["SET", "fresh", "1", "NX", "GET"], b"$-1\r\n");
    c.expect(&["GET", "fresh"], b"$1\r\n1\r\n");
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["SET", "h", "v", "GET"], WRONGTYPE);
    c.expect(&["SET", "h", "v", "NX", "GET"], WRONGTYPE);
    c.expect(&["TYPE", "h"], b"+hash\r\n");
    // Plain SET replaces a value of any type.
    c.ok(&["SET", "h", "v"]);
    c.expect(&["TYPE", "h"], b"+string\r\n");
}

#[test]
fn set_expiry_options() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "k", "v", "EX", "100"]);
    assert!((99..=100).contains(&c.int(&["TTL", "k"])));
    c.ok(&["SET", "k", "v2", "KEEPTTL"]);
    assert!((99..=100).contains(&c.int(&["TTL", "k"])));
    c.expect(&["GET", "k"], b"$2\r\nv2\r\n");
    c.ok(&["SET", "k", "v3"]);
    c.expect(&["TTL", "k"], b":-1\r\n");
    c.ok(&["SET", "k", "v", "PX", "100000"]);
    assert!((99_000..=100_000).contains(&c.int(&["PTTL", "k"])));
    // An absolute time in the past: the key is gone at once.
    c.ok(&["SET", "k", "v", "EXAT", "1"]);
    c.expect(&["GET", "k"], b"$-1\r\n");
    c.ok(&["SET", "k", "v", "PXAT", "1"]);
    c.expect(&["EXISTS", "k"], b":0\r\n");
    c.ok(&["SET", "k", "v", "EXAT", "4102444800"]);
    c.expect(&["EXPIRETIME", "k"], b":4102444800\r\n");
    c.ok(&["SET", "k", "v", "PXAT", "4102444800123"]);
    c.expect(&["PEXPIRETIME", "k"], b":4102444800123\r\n");
    c.ok(&["SET", "k", "v", "EX", "9223372036854"]);
    // KEEPTTL on a key without a TTL, and on a missing key.
    c.ok(&["SET", "plain", "v"]);
    c.ok(&["SET", "plain", "w", "KEEPTTL"]);
    c.expect(&["TTL", "plain"], b":-1\r\n");
    c.ok(&["SET", "nokey", "w", "KEEPTTL"]);
    c.expect(&["TTL", "nokey"], b":-1\r\n");
    // GET with an expiry.
    c.ok(&["SET", "g", "old"]);
    c.expect(&["SET", "g", "new", "GET", "EX", "50"], b"$3\r\nold\r\n");
    assert!((49..=50).contains(&c.int(&["TTL", "g"])));
}

#[test]
fn set_option_errors() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let invalid = b"-ERR invalid expire time in 'set' command\r\n";
    c.expect(&["SET", "k", "v", "EX", "0"], invalid);
    c.expect(&["SET", "k", "v", "EX", "-1"], invalid);
    c.expect(&["SET", "k", "v", "PX", "0"], invalid);
    c.expect(&["SET", "k", "v", "EXAT", "0"], invalid);
    c.expect(&["SET", "k", "v", "EX", "9223372036854775807"], invalid);
    c.expect(&["SET", "k", "v", "PX", "9223372036854775807"], invalid);
    c.expect(&["SET", "k", "v", "EX", "abc"], NOT_INT);
    c.expect(&["SET", "k", "v", "EX", "1.5"], NOT_INT);
    c.expect(&["SET", "k", "v", "EX", "10", "PX", "10"], SYNTAX);
    c.expect(&["SET", "k", "v", "NX", "XX"], SYNTAX);
    c.expect(&["SET", "k", "v", "KEEPTTL", "EX", "10"], SYNTAX);
    c.expect(&["SET", "k", "v", "EX", "10", "KEEPTTL"], SYNTAX);
    c.expect(&["SET", "k", "v", "foo"], SYNTAX);
    c.expect(&["SET", "k", "v", "EX"], SYNTAX);
    c.expect(&["SET", "k"], b"-ERR wrong number of arguments for 'set' command\r\n");
    // None of the refused commands wrote anything.
    c.expect(&["EXISTS", "k"], b":0\r\n");
}

#[test]
fn getex_and_getdel() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "k", "v"]);
    c.expect(&["GETEX", "k"], b"$1\r\nv\r\n");
    c.expect(&["TTL", "k"], b":-1\r\n");
    c.expect(&["GETEX", "k", "EX", "100"], b"$1\r\nv\r\n");
    assert!((99..=100).contains(&c.int(&["TTL", "k"])));
    c.expect(&["GETEX", "k", "PERSIST"], b"$1\r\nv\r\n");
    c.expect(&["TTL", "k"], b":-1\r\n");
    c.expect(&["GETEX", "k", "PX", "100000"], b"$1\r\nv\r\n");
    assert!((99_000..=100_000).contains(&c.int(&["PTTL", "k"])));
    c.expect(&["GETEX", "k", "EXAT", "4102444800"], b"$1\r\nv\r\n");
    c.expect(&["EXPIRETIME", "k"], b":4102444800\r\n");
    c.expect(&["GETEX", "k", "PXAT", "4102444800555"], b"$1\r\nv\r\n");
    c.expect(&["PEXPIRETIME", "k"], b":4102444800555\r\n");
    c.expect(&["GETEX", "k", "PX", "0"], b"-ERR invalid expire time in 'getex' command\r\n");
    c.expect(&["GETEX", "k", "EX", "-3"], b"-ERR invalid expire time in 'getex' command\r\n");
    c.expect(&["GETEX", "k", "EX", "10", "PX", "10"], SYNTAX);
    c.expect(&["GETEX", "k", "PERSIST", "EX", "10"], SYNTAX);
    c.expect(&["GETEX", "k", "foo"], SYNTAX);
    c.expect(&["GETEX", "k", "EX"], SYNTAX);
    c.expect(&["GETEX", "k", "EX", "x"], NOT_INT);
    c.expect(&["GETEX", "missing", "EX", "10"], b"$-1\r\n");
    c.expect(&["EXISTS", "missing"], b":0\r\n");
    // An absolute time in the past deletes the key after returning it.
    c.expect(&["GETEX", "k", "EXAT", "1"], b"$1\r\nv\r\n");
    c.expect(&["EXISTS", "k"], b":0\r\n");

    c.ok(&["SET", "d", "val"]);
    c.expect(&["GETDEL", "d"], b"$3\r\nval\r\n");
    c.expect(&["GETDEL", "d"], b"$-1\r\n");
    c.expect(&["EXISTS", "d"], b":0\r\n");
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["GETEX", "h"], WRONGTYPE);
    c.expect(&["GETDEL", "h"], WRONGTYPE);
    c.expect(&["EXISTS", "h"], b":1\r\n");
    c.expect(&["GETDEL", "a", "b"], b"-ERR wrong number of arguments for 'getdel' command\r\n");
    c.expect(&["GETEX"], b"-ERR wrong number of arguments for 'getex' command\r\n");
}

#[test]
fn mget_mset_msetnx() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["MSET", "a", "1", "b", "2", "c", "3"]);
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    // A key of another type reads as null in MGET, not as an error.
    c.expect(&["MGET", "a", "b", "c", "nope", "h"], b"*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n$-1\r\n");
    c.expect(&["MGET", "nope"], b"*1\r\n$-1\r\n");
    c.expect(&["MSET", "a"], b"-ERR wrong number of arguments for 'mset' command\r\n");
    c.expect(&["MSET", "a", "1", "b"], b"-ERR wrong number of arguments for 'mset' command\r\n");
    c.expect(&["MGET"], b"-ERR wrong number of arguments for 'mget' command\r\n");
    // The same key twice: the last value wins.
    c.ok(&["MSET", "dup", "1", "dup", "2"]);
    c.expect(&["GET", "dup"], b"$1\r\n2\r\n");
    c.expect(&["MSETNX", "a", "x", "d", "4"], b":0\r\n");
    c.expect(&["EXISTS", "d"], b":0\r\n");
    c.expect(&["GET", "a"], b"$1\r\n1\r\n");
    c.expect(&["MSETNX", "d", "4", "e", "5"], b":1\r\n");
    c.expect(&["MGET", "d", "e"], b"*2\r\n$1\r\n4\r\n$1\r\n5\r\n");
    // A hash counts as an existing key for MSETNX.
    c.expect(&["MSETNX", "h", "x", "f", "6"], b":0\r\n");
    c.expect(&["MSETNX"], b"-ERR wrong number of arguments for 'msetnx' command\r\n");
    c.expect(&["MSETNX", "d"], b"-ERR wrong number of arguments for 'msetnx' command\r\n");
    c.expect(&["MSETNX", "x", "1", "y"], b"-ERR wrong number of arguments for 'msetnx' command\r\n");
    // MSET clears a TTL, as SET does.
    c.ok(&["SET", "t", "v", "EX", "100"]);
    c.ok(&["MSET", "t", "w"]);
    c.expect(&["TTL", "t"], b":-1\r\n");
}

#[test]
fn setnx_setex_psetex_getset() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SETNX", "k", "1"], b":1\r\n");
    c.expect(&["SETNX", "k", "2"], b":0\r\n");
    c.expect(&["GET", "k"], b"$1\r\n1\r\n");
    c.ok(&["SETEX", "se", "10", "v"]);
    assert!((9..=10).contains(&c.int(&["TTL", "se"])));
    c.expect(&["GET", "se"], b"$1\r\nv\r\n");
    c.expect(&["SETEX", "se", "0", "v"], b"-ERR invalid expire time in 'setex' command\r\n");
    c.expect(&["SETEX", "se", "-5", "v"], b"-ERR invalid expire time in 'setex' command\r\n");
    c.expect(&["SETEX", "se", "abc", "v"], NOT_INT);
    c.ok(&["PSETEX", "pse", "100000", "v"]);
    assert!((99_000..=100_000).contains(&c.int(&["PTTL", "pse"])));
    c.expect(&["PSETEX", "pse", "0", "v"], b"-ERR invalid expire time in 'psetex' command\r\n");
    c.expect(&["SETEX", "se", "10"], b"-ERR wrong number of arguments for 'setex' command\r\n");
    c.expect(&["GETSET", "gs", "1"], b"$-1\r\n");
    c.expect(&["GETSET", "gs", "2"], b"$1\r\n1\r\n");
    c.expect(&["GET", "gs"], b"$1\r\n2\r\n");
    // GETSET clears the TTL.
    c.ok(&["SET", "gt", "v", "EX", "100"]);
    c.expect(&["GETSET", "gt", "w"], b"$1\r\nv\r\n");
    c.expect(&["TTL", "gt"], b":-1\r\n");
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["GETSET", "h", "2"], WRONGTYPE);
    c.expect(&["SETNX", "h", "2"], b":0\r\n");
}

#[test]
fn incr_family() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["INCR", "i"], b":1\r\n");
    c.expect(&["INCR", "i"], b":2\r\n");
    c.expect(&["INCRBY", "i", "10"], b":12\r\n");
    c.expect(&["INCRBY", "i", "-20"], b":-8\r\n");
    c.expect(&["DECR", "i"], b":-9\r\n");
    c.expect(&["DECRBY", "i", "5"], b":-14\r\n");
    c.expect(&["DECRBY", "i", "-4"], b":-10\r\n");
    c.expect(&["GET", "i"], b"$3\r\n-10\r\n");
    c.expect(&["DECR", "fresh"], b":-1\r\n");
    c.expect(&["DECRBY", "i", "-9223372036854775808"], b"-ERR decrement would overflow\r\n");
    c.expect(&["INCRBY", "i", "abc"], NOT_INT);
    c.expect(&["INCRBY", "i", "1.5"], NOT_INT);
    c.expect(&["INCRBY", "i", "9223372036854775808"], NOT_INT);
    c.ok(&["SET", "i", "9223372036854775807"]);
    c.expect(&["INCR", "i"], b"-ERR increment or decrement would overflow\r\n");
    c.expect(&["INCRBY", "i", "1"], b"-ERR increment or decrement would overflow\r\n");
    c.expect(&["GET", "i"], b"$19\r\n9223372036854775807\r\n");
    c.ok(&["SET", "i", "-9223372036854775808"]);
    c.expect(&["DECR", "i"], b"-ERR increment or decrement would overflow\r\n");
    c.expect(&["DECRBY", "i", "1"], b"-ERR increment or decrement would overflow\r\n");
    c.expect(&["INCRBY", "i", "9223372036854775807"], b":-1\r\n");
    for bad in ["abc", " 1", "1 ", "01", "+1", "1.0", "", "-0"] {
        c.ok(&["SET", "s", bad]);
        c.expect(&["INCR", "s"], NOT_INT);
    }
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["INCR", "h"], WRONGTYPE);
    c.expect(&["DECRBY", "h", "1"], WRONGTYPE);
    // INCR keeps the key's TTL.
    c.ok(&["SET", "t", "5", "EX", "100"]);
    c.expect(&["INCR", "t"], b":6\r\n");
    assert!((99..=100).contains(&c.int(&["TTL", "t"])));
    c.expect(&["INCR"], b"-ERR wrong number of arguments for 'incr' command\r\n");
    c.expect(&["INCRBY", "i"], b"-ERR wrong number of arguments for 'incrby' command\r\n");
}

#[test]
fn incrbyfloat() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "f", "10.5"]);
    c.expect(&["INCRBYFLOAT", "f", "0.1"], b"$4\r\n10.6\r\n");
    c.expect(&["INCRBYFLOAT", "f", "-5"], b"$3\r\n5.6\r\n");
    c.expect(&["GET", "f"], b"$3\r\n5.6\r\n");
    c.expect(&["INCRBYFLOAT", "n1", "1"], b"$1\r\n1\r\n");
    c.expect(&["INCRBYFLOAT", "n2", "3.0"], b"$1\r\n3\r\n");
    c.expect(&["INCRBYFLOAT", "n3", "1e20"], b"$21\r\n100000000000000000000\r\n");
    c.expect(&["INCRBYFLOAT", "n4", "-0.0"], b"$1\r\n0\r\n");
    c.expect(&["INCRBYFLOAT", "n5", "5.0e3"], b"$4\r\n5000\r\n");
    c.expect(&["INCRBYFLOAT", "n5", "-5000"], b"$1\r\n0\r\n");
    c.ok(&["SET", "p", "0.1"]);
    c.expect(&["INCRBYFLOAT", "p", "0.2"], b"$3\r\n0.3\r\n");
    c.ok(&["SET", "i", "5"]);
    c.expect(&["INCRBYFLOAT", "i", "1.5"], b"$3\r\n6.5\r\n");
    c.expect(&["INCRBYFLOAT", "f", "abc"], b"-ERR value is not a valid float\r\n");
    c.expect(&["INCRBYFLOAT", "f", "inf"], b"-ERR increment would produce NaN or Infinity\r\n");
    c.expect(&["INCRBYFLOAT", "f", "nan"], b"-ERR value is not a valid float\r\n");
    c.ok(&["SET", "s", "abc"]);
    c.expect(&["INCRBYFLOAT", "s", "1"], b"-ERR value is not a valid float\r\n");
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["INCRBYFLOAT", "h", "1"], WRONGTYPE);
    // In RESP3 the result is still a bulk string, not a double.
    c.cmd(&["HELLO", "3"]);
    c.expect(&["INCRBYFLOAT", "r3", "2.5"], b"$3\r\n2.5\r\n");
}

#[test]
fn append_and_strlen() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["APPEND", "ap", "hello"], b":5\r\n");
    c.expect(&["APPEND", "ap", " world"], b":11\r\n");
    c.expect(&["GET", "ap"], b"$11\r\nhello world\r\n");
    c.expect(&["STRLEN", "ap"], b":11\r\n");
    c.expect(&["APPEND", "ap", ""], b":11\r\n");
    c.expect(&["STRLEN", "nope"], b":0\r\n");
    // Appending to an integer-looking value, and growing past the inline size.
    c.ok(&["SET", "n", "12"]);
    c.expect(&["APPEND", "n", "34"], b":4\r\n");
    c.expect(&["INCR", "n"], b":1235\r\n");
    let long = "x".repeat(100);
    c.expect(&["APPEND", "n", &long], b":104\r\n");
    c.expect(&["STRLEN", "n"], b":104\r\n");
    c.expect(&["APPEND", "empty", ""], b":0\r\n");
    c.expect(&["EXISTS", "empty"], b":1\r\n");
    // APPEND keeps the TTL.
    c.ok(&["SET", "t", "a", "EX", "100"]);
    c.expect(&["APPEND", "t", "b"], b":2\r\n");
    assert!((99..=100).contains(&c.int(&["TTL", "t"])));
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["APPEND", "h", "x"], WRONGTYPE);
    c.expect(&["STRLEN", "h"], WRONGTYPE);
}

#[test]
fn getrange_setrange_substr() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "gr", "This is a string"]);
    c.expect(&["GETRANGE", "gr", "0", "3"], b"$4\r\nThis\r\n");
    c.expect(&["GETRANGE", "gr", "-3", "-1"], b"$3\r\ning\r\n");
    c.expect(&["GETRANGE", "gr", "0", "-1"], b"$16\r\nThis is a string\r\n");
    c.expect(&["GETRANGE", "gr", "10", "100"], b"$6\r\nstring\r\n");
    c.expect(&["GETRANGE", "gr", "-100", "3"], b"$4\r\nThis\r\n");
    c.expect(&["GETRANGE", "gr", "100", "200"], b"$0\r\n\r\n");
    c.expect(&["GETRANGE", "gr", "-1", "-5"], b"$0\r\n\r\n");
    c.expect(&["GETRANGE", "gr", "5", "3"], b"$0\r\n\r\n");
    c.expect(&["GETRANGE", "nope", "0", "-1"], b"$0\r\n\r\n");
    c.expect(&["GETRANGE", "gr", "a", "b"], NOT_INT);
    c.expect(&["SUBSTR", "gr", "0", "3"], b"$4\r\nThis\r\n");
    c.expect(&["SETRANGE", "sr", "5", "hi"], b":7\r\n");
    c.expect(&["GET", "sr"], b"$7\r\n\0\0\0\0\0hi\r\n");
    c.expect(&["SETRANGE", "sr", "0", "XY"], b":7\r\n");
    c.expect(&["GET", "sr"], b"$7\r\nXY\0\0\0hi\r\n");
    c.expect(&["SETRANGE", "sr", "6", "long"], b":10\r\n");
    c.expect(&["GET", "sr"], b"$10\r\nXY\0\0\0hlong\r\n");
    c.expect(&["SETRANGE", "sr", "-1", "x"], b"-ERR offset is out of range\r\n");
    c.expect(&["SETRANGE", "sr", "0", ""], b":10\r\n");
    // An empty value does not create the key, whatever the offset.
    c.expect(&["SETRANGE", "nope2", "0", ""], b":0\r\n");
    c.expect(&["SETRANGE", "nope2", "3", ""], b":0\r\n");
    c.expect(&["EXISTS", "nope2"], b":0\r\n");
    c.expect(
        &["SETRANGE", "sr", "536870912", "x"],
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    c.expect(&["SETRANGE", "sr", "x", "x"], NOT_INT);
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["GETRANGE", "h", "0", "1"], WRONGTYPE);
    c.expect(&["SETRANGE", "h", "0", "x"], WRONGTYPE);
}

#[test]
fn object_encoding_of_strings() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "i", "12345"]);
    c.expect(&["OBJECT", "ENCODING", "i"], b"$3\r\nint\r\n");
    c.ok(&["SET", "i", "-9223372036854775808"]);
    c.expect(&["OBJECT", "ENCODING", "i"], b"$3\r\nint\r\n");
    c.ok(&["SET", "lz", "0123"]);
    c.expect(&["OBJECT", "ENCODING", "lz"], b"$6\r\nembstr\r\n");
    c.ok(&["SET", "s", "hello"]);
    c.expect(&["OBJECT", "ENCODING", "s"], b"$6\r\nembstr\r\n");
    c.ok(&["SET", "s44", &"x".repeat(44)]);
    c.expect(&["OBJECT", "ENCODING", "s44"], b"$6\r\nembstr\r\n");
    c.ok(&["SET", "s45", &"x".repeat(45)]);
    c.expect(&["OBJECT", "ENCODING", "s45"], b"$3\r\nraw\r\n");
    c.expect(&["OBJECT", "ENCODING", "nope"], b"$-1\r\n");
}

#[test]
fn wrong_arity_errors() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    for (args, name) in [
        (&["GET"][..], "get"),
        (&["GET", "a", "b"], "get"),
        (&["SETNX", "a"], "setnx"),
        (&["GETSET", "a"], "getset"),
        (&["APPEND", "a"], "append"),
        (&["STRLEN"], "strlen"),
        (&["DECR", "a", "b"], "decr"),
        (&["DECRBY", "a"], "decrby"),
        (&["INCRBYFLOAT", "a"], "incrbyfloat"),
        (&["GETRANGE", "a", "0"], "getrange"),
        (&["SETRANGE", "a", "0"], "setrange"),
        (&["PSETEX", "a", "1"], "psetex"),
    ] {
        c.expect(args, format!("-ERR wrong number of arguments for '{name}' command\r\n").as_bytes());
    }
}

/// Redis's option parser (`parseExtendedStringArgumentsOrReply`) only refuses conflicting options: the same
/// flag twice is accepted, and of two values for the same expiry option the last one wins.
#[test]
fn repeated_set_and_getex_options_are_accepted() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["SET", "k", "v", "NX", "NX"], b"+OK\r\n");
    c.expect(&["SET", "k", "w", "XX", "XX"], b"+OK\r\n");
    c.expect(&["SET", "k", "x", "GET", "GET"], b"$1\r\nw\r\n");
    c.expect(&["SET", "k", "y", "NX", "GET", "NX"], b"$1\r\nx\r\n");
    c.expect(&["SET", "k", "z", "EX", "10", "EX", "20"], b"+OK\r\n");
    assert!((19..=20).contains(&c.int(&["TTL", "k"])));
    c.expect(&["SET", "k", "z", "KEEPTTL", "KEEPTTL"], b"+OK\r\n");
    assert!((19..=20).contains(&c.int(&["TTL", "k"])));
    c.expect(&["SET", "k", "z", "EXAT", "4102444800", "EXAT", "4102444801"], b"+OK\r\n");
    c.expect(&["EXPIRETIME", "k"], b":4102444801\r\n");
    c.expect(&["SET", "k", "z", "PX", "100000", "PX", "200000"], b"+OK\r\n");
    assert!((199_000..=200_000).contains(&c.int(&["PTTL", "k"])));
    c.expect(&["GETEX", "k", "EX", "10", "EX", "30"], b"$1\r\nz\r\n");
    assert!((29..=30).contains(&c.int(&["TTL", "k"])));
    c.expect(&["GETEX", "k", "PXAT", "4102444800000", "PXAT", "4102444800555"], b"$1\r\nz\r\n");
    c.expect(&["PEXPIRETIME", "k"], b":4102444800555\r\n");
    c.expect(&["GETEX", "k", "PERSIST", "PERSIST"], b"$1\r\nz\r\n");
    c.expect(&["TTL", "k"], b":-1\r\n");
    // Different expiry options together stay an error.
    c.expect(&["SET", "k", "v", "EX", "10", "PX", "100"], SYNTAX);
    c.expect(&["GETEX", "k", "EX", "10", "PERSIST"], SYNTAX);
}

/// Redis reads float arguments and values with `strtold`, which takes hexadecimal floats too.
#[test]
fn incrbyfloat_reads_floats_like_strtold() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["INCRBYFLOAT", "hex", "0x10"], b"$2\r\n16\r\n");
    c.expect(&["INCRBYFLOAT", "hex", "0X1p4"], b"$2\r\n32\r\n");
    c.ok(&["SET", "stored", "0x10"]);
    c.expect(&["INCRBYFLOAT", "stored", "1"], b"$2\r\n17\r\n");
    c.expect(&["HINCRBYFLOAT", "h", "f", "0x10"], b"$2\r\n16\r\n");
}
