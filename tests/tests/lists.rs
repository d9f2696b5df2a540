//! List commands, in both encodings (listpack and quicklist), with Redis's exact replies. The blocking
//! commands are tested here where they need not block (data there, or an argument error).

use slotkv_tests::{Conn, Node};

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_INTEGER: &[u8] = b"-ERR value is not an integer or out of range\r\n";
const SYNTAX: &[u8] = b"-ERR syntax error\r\n";

/// A RESP bulk string.
fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

/// A RESP array of bulk strings.
fn arr(items: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend(bulk(i));
    }
    out
}

/// `[key, [items]]`, as LMPOP replies.
fn keyed(key: &str, items: &[&str]) -> Vec<u8> {
    let mut out = b"*2\r\n".to_vec();
    out.extend(bulk(key));
    out.extend(arr(items));
    out
}

fn ints(items: &[i64]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend(format!(":{i}\r\n").into_bytes());
    }
    out
}

fn all(c: &mut Conn, key: &str) -> Vec<String> {
    c.cmd(&["LRANGE", key, "0", "-1"]).strings()
}

fn encoding(c: &mut Conn, key: &str) -> String {
    c.cmd(&["OBJECT", "ENCODING", key]).text()
}

#[test]
fn push_len_range_index() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["LPUSH", "l", "a", "b", "c"], b":3\r\n");
    c.expect(&["RPUSH", "l", "0", "1", "2"], b":6\r\n");
    c.expect(&["LRANGE", "l", "0", "-1"], &arr(&["c", "b", "a", "0", "1", "2"]));
    c.expect(&["LLEN", "l"], b":6\r\n");
    c.expect(&["LLEN", "nope"], b":0\r\n");
    c.expect(&["TYPE", "l"], b"+list\r\n");
    c.expect(&["LINDEX", "l", "0"], &bulk("c"));
    c.expect(&["LINDEX", "l", "-1"], &bulk("2"));
    c.expect(&["LINDEX", "l", "-6"], &bulk("c"));
    c.expect(&["LINDEX", "l", "-7"], b"$-1\r\n");
    c.expect(&["LINDEX", "l", "6"], b"$-1\r\n");
    c.expect(&["LINDEX", "l", "-9223372036854775808"], b"$-1\r\n");
    c.expect(&["LINDEX", "l", "9223372036854775807"], b"$-1\r\n");
    c.expect(&["LINDEX", "l", "x"], NOT_INTEGER);
    // The key is looked up before the index is read.
    c.expect(&["LINDEX", "nope", "x"], b"$-1\r\n");
    c.expect(&["LPUSHX", "nope", "a"], b":0\r\n");
    c.expect(&["RPUSHX", "nope", "a", "b"], b":0\r\n");
    c.expect(&["EXISTS", "nope"], b":0\r\n");
    c.expect(&["LPUSHX", "l", "x", "y"], b":8\r\n");
    c.expect(&["RPUSHX", "l", "z"], b":9\r\n");
    c.expect(&["LRANGE", "l", "0", "2"], &arr(&["y", "x", "c"]));
    c.expect(&["LPUSH", "l"], b"-ERR wrong number of arguments for 'lpush' command\r\n");
    c.expect(&["RPUSHX", "l"], b"-ERR wrong number of arguments for 'rpushx' command\r\n");
    // Binary-safe elements; the empty string is an element.
    c.expect(&[b"RPUSH".as_slice(), b"bin", b"\0a\r\n", b"", b"\xff"], b":3\r\n");
    c.expect(&["LRANGE", "bin", "0", "-1"], b"*3\r\n$4\r\n\0a\r\n\r\n$0\r\n\r\n$1\r\n\xff\r\n");
    // Integers come back as they were written.
    c.expect(&["RPUSH", "n", "12", "-7", "9223372036854775807", "01", "+1", "-0"], b":6\r\n");
    c.expect(&["LRANGE", "n", "0", "-1"], &arr(&["12", "-7", "9223372036854775807", "01", "+1", "-0"]));
}

#[test]
fn lrange_and_ltrim_edges() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["RPUSH", "l", "a", "b", "c", "d", "e"], b":5\r\n");
    c.expect(&["LRANGE", "l", "-100", "100"], &arr(&["a", "b", "c", "d", "e"]));
    c.expect(
        &["LRANGE", "l", "-9223372036854775808", "9223372036854775807"],
        &arr(&["a", "b", "c", "d", "e"]),
    );
    c.expect(&["LRANGE", "l", "1", "-2"], &arr(&["b", "c", "d"]));
    c.expect(&["LRANGE", "l", "-2", "-1"], &arr(&["d", "e"]));
    c.expect(&["LRANGE", "l", "4", "4"], &arr(&["e"]));
    c.expect(&["LRANGE", "l", "0", "-5"], &arr(&["a"]));
    c.expect(&["LRANGE", "l", "0", "-6"], b"*0\r\n");
    c.expect(&["LRANGE", "l", "3", "1"], b"*0\r\n");
    c.expect(&["LRANGE", "l", "5", "10"], b"*0\r\n");
    c.expect(&["LRANGE", "nope", "0", "-1"], b"*0\r\n");
    c.expect(&["LRANGE", "l", "a", "1"], NOT_INTEGER);
    c.expect(&["LRANGE", "l", "0", "1.5"], NOT_INTEGER);

    let trim = |c: &mut Conn, start: &str, end: &str| {
        c.cmd(&["DEL", "t"]);
        c.cmd(&["RPUSH", "t", "1", "2", "3", "4", "5"]);
        c.ok(&["LTRIM", "t", start, end]);
        all(c, "t")
    };
    assert_eq!(trim(&mut c, "0", "0"), ["1"]);
    assert_eq!(trim(&mut c, "1", "2"), ["2", "3"]);
    assert_eq!(trim(&mut c, "1", "-1"), ["2", "3", "4", "5"]);
    assert_eq!(trim(&mut c, "-2", "-1"), ["4", "5"]);
    assert_eq!(trim(&mut c, "-10", "10"), ["1", "2", "3", "4", "5"]);
    assert_eq!(trim(&mut c, "0", "-5"), ["1"]);
    assert_eq!(trim(&mut c, "-9223372036854775808", "9223372036854775807"), ["1", "2", "3", "4", "5"]);
    // An empty range deletes the key.
    assert_eq!(trim(&mut c, "0", "-6"), Vec::<String>::new());
    c.expect(&["EXISTS", "t"], b":0\r\n");
    assert_eq!(trim(&mut c, "3", "1"), Vec::<String>::new());
    c.expect(&["EXISTS", "t"], b":0\r\n");
    c.ok(&["LTRIM", "nope", "0", "1"]);
    c.expect(&["LTRIM", "nope", "x", "1"], NOT_INTEGER);
}

#[test]
fn pops_with_and_without_count() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["RPUSH", "l", "a", "b", "c", "d", "e", "f"], b":6\r\n");
    c.expect(&["LPOP", "l"], &bulk("a"));
    c.expect(&["RPOP", "l"], &bulk("f"));
    c.expect(&["LPOP", "l", "2"], &arr(&["b", "c"]));
    c.expect(&["RPOP", "l", "1"], &arr(&["e"]));
    c.expect(&["LPOP", "l", "0"], b"*0\r\n");
    c.expect(&["RPOP", "l", "0"], b"*0\r\n");
    c.expect(&["RPOP", "l", "100"], &arr(&["d"]));
    c.expect(&["EXISTS", "l"], b":0\r\n");
    c.expect(&["RPUSH", "l", "1", "2", "3"], b":3\r\n");
    // RPOP with a count replies from the back.
    c.expect(&["RPOP", "l", "5"], &arr(&["3", "2", "1"]));
    c.expect(&["EXISTS", "l"], b":0\r\n");
    // A missing key: a null, or a null array with a count (0 included).
    c.expect(&["LPOP", "nope"], b"$-1\r\n");
    c.expect(&["RPOP", "nope"], b"$-1\r\n");
    c.expect(&["LPOP", "nope", "0"], b"*-1\r\n");
    c.expect(&["RPOP", "nope", "3"], b"*-1\r\n");
    c.expect(&["LPOP", "nope", "-1"], b"-ERR value is out of range, must be positive\r\n");
    c.expect(&["RPOP", "nope", "x"], b"-ERR value is out of range, must be positive\r\n");
    c.expect(&["LPOP", "nope", "1", "2"], b"-ERR wrong number of arguments for 'lpop' command\r\n");
    c.expect(&["RPOP", "nope", "1", "2"], b"-ERR wrong number of arguments for 'rpop' command\r\n");
    // A popped-out list starts afresh, without its TTL.
    c.expect(&["RPUSH", "t", "x"], b":1\r\n");
    c.expect(&["EXPIRE", "t", "100"], b":1\r\n");
    c.expect(&["LPOP", "t"], &bulk("x"));
    c.expect(&["RPUSH", "t", "y"], b":1\r\n");
    c.expect(&["TTL", "t"], b":-1\r\n");
    c.expect(&["DBSIZE"], b":1\r\n");
}

#[test]
fn resp3_nulls() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.cmd(&["HELLO", "3"]);
    c.expect(&["RPUSH", "l", "a", "b"], b":2\r\n");
    c.expect(&["LPOP", "nope"], b"_\r\n");
    c.expect(&["LPOP", "nope", "2"], b"_\r\n");
    c.expect(&["RPOP", "nope", "0"], b"_\r\n");
    c.expect(&["LPOP", "l", "0"], b"*0\r\n");
    c.expect(&["LINDEX", "l", "5"], b"_\r\n");
    c.expect(&["LINDEX", "nope", "0"], b"_\r\n");
    c.expect(&["LPOS", "l", "x"], b"_\r\n");
    c.expect(&["LPOS", "nope", "x"], b"_\r\n");
    c.expect(&["LPOS", "nope", "x", "COUNT", "0"], b"*0\r\n");
    c.expect(&["LMPOP", "1", "nope", "LEFT"], b"_\r\n");
    c.expect(&["LMOVE", "nope", "l", "LEFT", "RIGHT"], b"_\r\n");
    c.expect(&["RPOPLPUSH", "nope", "l"], b"_\r\n");
    c.expect(&["LMPOP", "1", "l", "RIGHT", "COUNT", "5"], &keyed("l", &["b", "a"]));
    c.expect(&["RPUSH", "l", "a"], b":1\r\n");
    c.expect(&["BLPOP", "nope", "l", "0"], b"*2\r\n$1\r\nl\r\n$1\r\na\r\n");
    c.expect(&["LRANGE", "nope", "0", "-1"], b"*0\r\n");
    c.cmd(&["HELLO", "2"]);
    c.expect(&["LPOS", "nope", "x"], b"$-1\r\n");
}

#[test]
fn lset_linsert_lrem() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["RPUSH", "l", "a", "b", "c"], b":3\r\n");
    c.ok(&["LSET", "l", "1", "B"]);
    c.ok(&["LSET", "l", "-1", "C"]);
    c.ok(&["LSET", "l", "-3", "A"]);
    c.expect(&["LSET", "l", "3", "x"], b"-ERR index out of range\r\n");
    c.expect(&["LSET", "l", "-4", "x"], b"-ERR index out of range\r\n");
    c.expect(&["LSET", "l", "9223372036854775807", "x"], b"-ERR index out of range\r\n");
    c.expect(&["LSET", "l", "x", "x"], NOT_INTEGER);
    c.expect(&["LSET", "nope", "0", "x"], b"-ERR no such key\r\n");
    c.expect(&["LSET", "nope", "x", "x"], b"-ERR no such key\r\n");
    assert_eq!(all(&mut c, "l"), ["A", "B", "C"]);

    c.expect(&["LINSERT", "l", "BEFORE", "A", "_"], b":4\r\n");
    c.expect(&["LINSERT", "l", "after", "C", "D"], b":5\r\n");
    c.expect(&["LINSERT", "l", "AFTER", "A", "a"], b":6\r\n");
    c.expect(&["LINSERT", "l", "BEFORE", "nope", "x"], b":-1\r\n");
    c.expect(&["LINSERT", "nope", "BEFORE", "a", "x"], b":0\r\n");
    c.expect(&["EXISTS", "nope"], b":0\r\n");
    c.expect(&["LINSERT", "l", "MIDDLE", "a", "x"], SYNTAX);
    c.expect(&["LINSERT", "nope", "MIDDLE", "a", "x"], SYNTAX);
    assert_eq!(all(&mut c, "l"), ["_", "A", "a", "B", "C", "D"]);
    // The first occurrence of the pivot.
    c.expect(&["RPUSH", "p", "x", "y", "x"], b":3\r\n");
    c.expect(&["LINSERT", "p", "AFTER", "x", "1"], b":4\r\n");
    assert_eq!(all(&mut c, "p"), ["x", "1", "y", "x"]);

    c.expect(&["RPUSH", "r", "x", "a", "x", "b", "x", "c", "x"], b":7\r\n");
    c.expect(&["LREM", "r", "-2", "x"], b":2\r\n");
    assert_eq!(all(&mut c, "r"), ["x", "a", "x", "b", "c"]);
    c.expect(&["LREM", "r", "1", "x"], b":1\r\n");
    assert_eq!(all(&mut c, "r"), ["a", "x", "b", "c"]);
    c.expect(&["LREM", "r", "0", "zz"], b":0\r\n");
    c.expect(&["LREM", "r", "-9223372036854775808", "x"], b":1\r\n");
    c.expect(&["LREM", "r", "x", "a"], NOT_INTEGER);
    c.expect(&["LREM", "nope", "0", "a"], b":0\r\n");
    c.expect(&["LREM", "r", "0", "a"], b":1\r\n");
    c.expect(&["LREM", "r", "0", "b"], b":1\r\n");
    c.expect(&["LREM", "r", "0", "c"], b":1\r\n");
    c.expect(&["EXISTS", "r"], b":0\r\n");
    // An integer-looking element is matched by its bytes.
    c.expect(&["RPUSH", "i", "1", "01", "1"], b":3\r\n");
    c.expect(&["LREM", "i", "0", "1"], b":2\r\n");
    assert_eq!(all(&mut c, "i"), ["01"]);
}

#[test]
fn lpos_options_and_errors() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"], b":8\r\n");
    c.expect(&["LPOS", "l", "a"], b":0\r\n");
    c.expect(&["LPOS", "l", "c"], b":2\r\n");
    c.expect(&["LPOS", "l", "c", "RANK", "2"], b":6\r\n");
    c.expect(&["LPOS", "l", "c", "RANK", "4"], b"$-1\r\n");
    c.expect(&["LPOS", "l", "c", "RANK", "-1"], b":7\r\n");
    c.expect(&["LPOS", "l", "c", "RANK", "-2"], b":6\r\n");
    c.expect(&["LPOS", "l", "c", "RANK", "9223372036854775807"], b"$-1\r\n");
    c.expect(&["LPOS", "l", "c", "RANK", "-9223372036854775807"], b"$-1\r\n");
    c.expect(&["LPOS", "l", "c", "COUNT", "0"], &ints(&[2, 6, 7]));
    c.expect(&["LPOS", "l", "c", "COUNT", "1"], &ints(&[2]));
    c.expect(&["LPOS", "l", "c", "COUNT", "2"], &ints(&[2, 6]));
    c.expect(&["LPOS", "l", "c", "COUNT", "100"], &ints(&[2, 6, 7]));
    c.expect(&["LPOS", "l", "c", "COUNT", "0", "RANK", "2"], &ints(&[6, 7]));
    c.expect(&["LPOS", "l", "c", "COUNT", "2", "RANK", "-1"], &ints(&[7, 6]));
    c.expect(&["LPOS", "l", "x", "COUNT", "2", "RANK", "-1"], b"*0\r\n");
    c.expect(&["LPOS", "l", "x", "RANK", "-1"], b"$-1\r\n");
    c.expect(&["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "1"], &ints(&[0]));
    c.expect(&["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "1"], b"*0\r\n");
    c.expect(&["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "3"], &ints(&[2]));
    c.expect(&["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "3", "RANK", "-1"], &ints(&[7, 6]));
    c.expect(&["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7", "RANK", "2"], &ints(&[6]));
    c.expect(&["LPOS", "l", "c", "MAXLEN", "2"], b"$-1\r\n");
    // A later option wins; option names are case-insensitive.
    c.expect(&["LPOS", "l", "c", "rank", "2", "count", "0", "RANK", "1"], &ints(&[2, 6, 7]));
    c.expect(&["LPOS", "nope", "c"], b"$-1\r\n");
    c.expect(&["LPOS", "nope", "c", "COUNT", "0", "RANK", "2"], b"*0\r\n");

    c.expect(
        &["LPOS", "l", "c", "RANK", "0"],
        b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n",
    );
    c.expect(
        &["LPOS", "l", "c", "RANK", "-9223372036854775808"],
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
    );
    c.expect(&["LPOS", "l", "c", "RANK", "x"], NOT_INTEGER);
    c.expect(&["LPOS", "l", "c", "COUNT", "-1"], b"-ERR COUNT can't be negative\r\n");
    c.expect(&["LPOS", "l", "c", "COUNT", "x"], b"-ERR COUNT can't be negative\r\n");
    c.expect(&["LPOS", "l", "c", "MAXLEN", "-1"], b"-ERR MAXLEN can't be negative\r\n");
    c.expect(&["LPOS", "l", "c", "MAXLEN", "x"], b"-ERR MAXLEN can't be negative\r\n");
    c.expect(&["LPOS", "l", "c", "RANK"], SYNTAX);
    c.expect(&["LPOS", "l", "c", "FOO", "1"], SYNTAX);
    // Options are read before the key: errors even without one.
    c.expect(&["LPOS", "nope", "c", "COUNT", "-1"], b"-ERR COUNT can't be negative\r\n");
    c.expect(&["LPOS", "l"], b"-ERR wrong number of arguments for 'lpos' command\r\n");
}

#[test]
fn lmove_and_rpoplpush() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["RPUSH", "src", "a", "b", "c", "d"], b":4\r\n");
    c.expect(&["LMOVE", "src", "dst", "LEFT", "RIGHT"], &bulk("a"));
    c.expect(&["LMOVE", "src", "dst", "right", "left"], &bulk("d"));
    c.expect(&["LMOVE", "src", "dst", "LEFT", "LEFT"], &bulk("b"));
    c.expect(&["RPOPLPUSH", "src", "dst"], &bulk("c"));
    assert_eq!(all(&mut c, "dst"), ["c", "b", "d", "a"]);
    // The emptied source is gone.
    c.expect(&["EXISTS", "src"], b":0\r\n");
    c.expect(&["LMOVE", "src", "dst", "LEFT", "RIGHT"], b"$-1\r\n");
    c.expect(&["RPOPLPUSH", "src", "dst"], b"$-1\r\n");
    c.expect(&["EXISTS", "src"], b":0\r\n");
    // Same key: a rotation.
    c.expect(&["LMOVE", "dst", "dst", "LEFT", "RIGHT"], &bulk("c"));
    assert_eq!(all(&mut c, "dst"), ["b", "d", "a", "c"]);
    c.expect(&["RPOPLPUSH", "dst", "dst"], &bulk("c"));
    assert_eq!(all(&mut c, "dst"), ["c", "b", "d", "a"]);
    c.expect(&["LMOVE", "dst", "dst", "LEFT", "LEFT"], &bulk("c"));
    assert_eq!(all(&mut c, "dst"), ["c", "b", "d", "a"]);
    c.expect(&["RPUSH", "one", "x"], b":1\r\n");
    c.expect(&["LMOVE", "one", "one", "RIGHT", "LEFT"], &bulk("x"));
    assert_eq!(all(&mut c, "one"), ["x"]);

    c.ok(&["SET", "s", "v"]);
    c.expect(&["LMOVE", "s", "dst", "LEFT", "RIGHT"], WRONGTYPE);
    c.expect(&["LMOVE", "dst", "s", "LEFT", "RIGHT"], WRONGTYPE);
    c.expect(&["RPOPLPUSH", "dst", "s"], WRONGTYPE);
    assert_eq!(all(&mut c, "dst"), ["c", "b", "d", "a"]);
    // A missing source answers null whatever the destination holds.
    c.expect(&["LMOVE", "nope", "s", "LEFT", "RIGHT"], b"$-1\r\n");
    c.expect(&["LMOVE", "dst", "x", "LEFT", "MIDDLE"], SYNTAX);
    c.expect(&["LMOVE", "nope", "x", "UP", "LEFT"], SYNTAX);
}

#[test]
fn lmpop_replies_and_errors() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["RPUSH", "a", "1", "2", "3", "4", "5"], b":5\r\n");
    c.expect(&["LMPOP", "2", "nope", "a", "LEFT"], &keyed("a", &["1"]));
    c.expect(&["LMPOP", "2", "nope", "a", "RIGHT", "COUNT", "2"], &keyed("a", &["5", "4"]));
    c.expect(&["LMPOP", "2", "a", "a", "left", "count", "10"], &keyed("a", &["2", "3"]));
    c.expect(&["EXISTS", "a"], b":0\r\n");
    c.expect(&["LMPOP", "2", "a", "nope", "LEFT"], b"*-1\r\n");
    c.ok(&["SET", "s", "v"]);
    c.expect(&["RPUSH", "b", "x"], b":1\r\n");
    // Keys are tried in order: a wrong type before a list is an error.
    c.expect(&["LMPOP", "2", "s", "b", "LEFT"], WRONGTYPE);
    c.expect(&["LMPOP", "2", "b", "s", "LEFT"], &keyed("b", &["x"]));

    for numkeys in ["0", "-1", "x"] {
        c.expect(&["LMPOP", numkeys, "a", "LEFT"], b"-ERR numkeys should be greater than 0\r\n");
    }
    for bad in [
        &["LMPOP", "9223372036854775807", "a", "LEFT"][..],
        &["LMPOP", "2", "a", "LEFT"],
        &["LMPOP", "2", "a", "b"],
        &["LMPOP", "1", "a", "MIDDLE"],
        &["LMPOP", "1", "a", "RIGHT", "LEFT"],
        &["LMPOP", "1", "a", "LEFT", "COUNT"],
        &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"],
        &["LMPOP", "1", "a", "LEFT", "FOO"],
    ] {
        c.expect(bad, SYNTAX);
    }
    for count in ["0", "-1", "x"] {
        c.expect(&["LMPOP", "1", "a", "LEFT", "COUNT", count], b"-ERR count should be greater than 0\r\n");
    }
    c.expect(&["LMPOP", "1", "a"], b"-ERR wrong number of arguments for 'lmpop' command\r\n");
}

#[test]
fn blocking_commands_with_data_there() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["RPUSH", "l1", "a", "b", "c"], b":3\r\n");
    c.expect(&["RPUSH", "l2", "x", "y"], b":2\r\n");
    c.expect(&["BLPOP", "nope", "l1", "l2", "0"], b"*2\r\n$2\r\nl1\r\n$1\r\na\r\n");
    c.expect(&["BRPOP", "l2", "l1", "1.5"], b"*2\r\n$2\r\nl2\r\n$1\r\ny\r\n");
    c.expect(&["BRPOP", "l2", "0"], b"*2\r\n$2\r\nl2\r\n$1\r\nx\r\n");
    c.expect(&["EXISTS", "l2"], b":0\r\n");
    c.expect(&["BLMOVE", "l1", "l2", "RIGHT", "LEFT", "0"], &bulk("c"));
    c.expect(&["BRPOPLPUSH", "l1", "l2", "0"], &bulk("b"));
    c.expect(&["EXISTS", "l1"], b":0\r\n");
    assert_eq!(all(&mut c, "l2"), ["b", "c"]);
    c.expect(&["BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "5"], &keyed("l2", &["c", "b"]));
    c.expect(&["RPUSH", "l1", "a", "b"], b":2\r\n");
    c.expect(&["BLMPOP", "0.1", "1", "l1", "LEFT"], &keyed("l1", &["a"]));
    c.expect(&["BLMOVE", "l1", "l1", "LEFT", "RIGHT", "0"], &bulk("b"));

    // Type checks: keys in order; BLMOVE checks the source first, the destination when it moves.
    c.ok(&["SET", "s", "v"]);
    c.expect(&["BLPOP", "nope", "s", "l1", "0"], WRONGTYPE);
    c.expect(&["BLPOP", "l1", "s", "0"], b"*2\r\n$2\r\nl1\r\n$1\r\nb\r\n");
    c.expect(&["RPUSH", "l1", "a"], b":1\r\n");
    c.expect(&["BLMOVE", "s", "l1", "LEFT", "RIGHT", "0"], WRONGTYPE);
    c.expect(&["BLMOVE", "l1", "s", "LEFT", "RIGHT", "0"], WRONGTYPE);
    c.expect(&["BRPOPLPUSH", "l1", "s", "0"], WRONGTYPE);
    c.expect(&["BLMPOP", "0", "2", "s", "l1", "LEFT"], WRONGTYPE);
    assert_eq!(all(&mut c, "l1"), ["a"]);

    // Timeouts are checked before anything else (BLMPOP: after its own arguments).
    for cmd in [&["BLPOP", "l1", "x"][..], &["BRPOP", "l1", "x"], &["BRPOPLPUSH", "l1", "d", "x"]] {
        c.expect(cmd, b"-ERR timeout is not a float or out of range\r\n");
    }
    c.expect(&["BLPOP", "l1", "-1"], b"-ERR timeout is negative\r\n");
    c.expect(&["BLPOP", "s", "-1"], b"-ERR timeout is negative\r\n");
    c.expect(&["BRPOP", "l1", "inf"], b"-ERR timeout is negative\r\n");
    c.expect(
        &["BLMOVE", "l1", "d", "LEFT", "RIGHT", "x"],
        b"-ERR timeout is not a float or out of range\r\n",
    );
    c.expect(&["BLMOVE", "l1", "d", "LEFT", "MIDDLE", "x"], SYNTAX);
    c.expect(&["BLMPOP", "x", "1", "l1", "LEFT"], b"-ERR timeout is not a float or out of range\r\n");
    c.expect(&["BLMPOP", "-1", "1", "l1", "LEFT"], b"-ERR timeout is negative\r\n");
    c.expect(&["BLMPOP", "x", "0", "l1", "LEFT"], b"-ERR numkeys should be greater than 0\r\n");
    c.expect(&["BLMPOP", "x", "1", "l1", "MIDDLE"], SYNTAX);
    c.expect(&["BLMPOP", "x", "1", "l1", "LEFT", "COUNT", "0"], b"-ERR count should be greater than 0\r\n");
    c.expect(&["BLMPOP", "0", "1", "l1"], b"-ERR wrong number of arguments for 'blmpop' command\r\n");
    c.expect(&["BLPOP", "l1"], b"-ERR wrong number of arguments for 'blpop' command\r\n");
    assert_eq!(all(&mut c, "l1"), ["a"]);
}

#[test]
fn wrong_type_everywhere() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "s", "v"]);
    for cmd in [
        &["LPUSH", "s", "a"][..],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "0"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LINDEX", "s", "x"],
        &["LSET", "s", "0", "a"],
        &["LSET", "s", "x", "a"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "d", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "d"],
        &["LMPOP", "1", "s", "LEFT"],
        &["BLPOP", "s", "0"],
        &["BRPOP", "s", "0"],
        &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "s", "d", "0"],
        &["BLMPOP", "0", "1", "s", "LEFT"],
    ] {
        c.expect(cmd, WRONGTYPE);
    }
    c.expect(&["GET", "s"], &bulk("v"));
    c.expect(&["EXISTS", "d"], b":0\r\n");
    // And the other way round.
    c.expect(&["RPUSH", "l", "a"], b":1\r\n");
    c.expect(&["GET", "l"], WRONGTYPE);
}

#[test]
fn encodings_follow_list_max_listpack_size() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let large = "x".repeat(8192);
    let create = |c: &mut Conn, key: &str, items: &[&str], enc: &str| {
        c.cmd(&["DEL", key]);
        for i in items {
            c.cmd(&["RPUSH", key, i]);
        }
        assert_eq!(encoding(c, key), enc, "{key}");
    };
    // Defaults: -2, 8 KB.
    c.expect(
        &["CONFIG", "GET", "list-max-listpack-size"],
        b"*2\r\n$22\r\nlist-max-listpack-size\r\n$2\r\n-2\r\n",
    );
    c.expect(&["RPUSH", "d", "a", "b"], b":2\r\n");
    assert_eq!(encoding(&mut c, "d"), "listpack");
    c.expect(&["RPUSH", "d", &large], b":3\r\n");
    assert_eq!(encoding(&mut c, "d"), "quicklist");

    // Redis 7.2's "List listpack -> quicklist encoding conversion".
    for (size, big) in [("3", "hello"), ("-1", large.as_str())] {
        c.ok(&["CONFIG", "SET", "list-max-listpack-size", size]);
        create(&mut c, "lst", &["a", "b", "c"], "listpack");
        c.cmd(&["RPUSH", "lst", big]);
        assert_eq!(encoding(&mut c, "lst"), "quicklist");
        create(&mut c, "lst", &["a", "b", "c"], "listpack");
        c.cmd(&["LINSERT", "lst", "AFTER", "b", big]);
        assert_eq!(encoding(&mut c, "lst"), "quicklist");
        create(&mut c, "lst", &["a", "b", "c"], "listpack");
        c.ok(&["LSET", "lst", "0", big]);
        assert_eq!(encoding(&mut c, "lst"), "quicklist");
        create(&mut c, "lsrc", &["a", "b", "c", big], "quicklist");
        create(&mut c, "ldes", &["d", "e", "f"], "listpack");
        c.expect(&["LMOVE", "lsrc", "ldes", "RIGHT", "RIGHT"], &bulk(big));
        assert_eq!(encoding(&mut c, "ldes"), "quicklist");
    }

    // Redis 7.2's "List quicklist -> listpack encoding conversion": back to a listpack once a single node
    // is within half the limit.
    c.ok(&["CONFIG", "SET", "list-max-listpack-size", "3"]);
    create(&mut c, "lst", &["a", "b", "c", "d"], "quicklist");
    c.cmd(&["RPOP", "lst", "3"]);
    assert_eq!(encoding(&mut c, "lst"), "listpack");
    create(&mut c, "lst", &["a", "a", "a", "d"], "quicklist");
    c.expect(&["LREM", "lst", "3", "a"], b":3\r\n");
    assert_eq!(encoding(&mut c, "lst"), "listpack");
    create(&mut c, "lst", &["a", "b", "c", "d"], "quicklist");
    c.ok(&["LTRIM", "lst", "1", "1"]);
    assert_eq!(encoding(&mut c, "lst"), "listpack");
    // Two elements left in one node of three is not half: it stays a quicklist.
    create(&mut c, "lst", &["a", "b", "c", "d"], "quicklist");
    c.cmd(&["RPOP", "lst", "2"]);
    assert_eq!(encoding(&mut c, "lst"), "quicklist");
    c.cmd(&["LPOP", "lst"]);
    assert_eq!(encoding(&mut c, "lst"), "listpack");

    c.ok(&["CONFIG", "SET", "list-max-listpack-size", "-1"]);
    create(&mut c, "lst", &["a", "b", "c", &large], "quicklist");
    c.cmd(&["RPOP", "lst", "1"]);
    assert_eq!(encoding(&mut c, "lst"), "listpack");
    create(&mut c, "lst", &["a", &large], "quicklist");
    c.expect(&["LREM", "lst", "1", &large], b":1\r\n");
    assert_eq!(encoding(&mut c, "lst"), "listpack");
    create(&mut c, "lst", &["a", "b", &large], "quicklist");
    c.ok(&["LTRIM", "lst", "0", "1"]);
    assert_eq!(encoding(&mut c, "lst"), "listpack");
    create(&mut c, "lst", &[&large, "a", "b"], "quicklist");
    c.cmd(&["RPOP", "lst", "2"]);
    assert_eq!(encoding(&mut c, "lst"), "quicklist");
    c.ok(&["LSET", "lst", "-1", "c"]);
    assert_eq!(encoding(&mut c, "lst"), "listpack");

    // Redis 7.2's "List invalid list-max-listpack-size config": 0 counts as 1, below -5 as -5 (64 KB).
    c.ok(&["CONFIG", "SET", "list-max-listpack-size", "0"]);
    create(&mut c, "lst", &["a"], "listpack");
    c.cmd(&["RPUSH", "lst", "b"]);
    assert_eq!(encoding(&mut c, "lst"), "quicklist");
    c.ok(&["CONFIG", "SET", "list-max-listpack-size", "-6"]);
    create(&mut c, "lst", &[&"x".repeat(60000)], "listpack");
    c.cmd(&["RPUSH", "lst", &"x".repeat(5536)]);
    assert_eq!(encoding(&mut c, "lst"), "quicklist");

    // Sizes are counted as Redis's listpack counts them (2 bytes for a small integer, 7 for the header),
    // and the check before a push adds the raw lengths of the new elements: 2044 "7"s make 4095 bytes,
    // within -1's 4096, and a 4096th byte is still within; past that even an empty element is over.
    c.ok(&["CONFIG", "SET", "list-max-ziplist-size", "-1"]);
    c.cmd(&["DEL", "n"]);
    let mut args = vec!["RPUSH".to_string(), "n".to_string()];
    args.extend((0..2044).map(|_| "7".to_string()));
    assert_eq!(c.int(&args), 2044);
    assert_eq!(encoding(&mut c, "n"), "listpack");
    c.cmd(&["RPUSH", "n", "7"]);
    assert_eq!(encoding(&mut c, "n"), "listpack");
    c.cmd(&["RPUSH", "n", ""]);
    assert_eq!(encoding(&mut c, "n"), "quicklist");
    // One push is judged by the raw lengths of its elements, as in Redis: a thousand "abc" (3000 bytes)
    // pass though they take 5000 in the listpack; the next push sees the real size.
    c.cmd(&["DEL", "n"]);
    args.truncate(2);
    args.extend((0..1000).map(|_| "abc".to_string()));
    assert_eq!(c.int(&args), 1000);
    assert_eq!(encoding(&mut c, "n"), "listpack");
    c.cmd(&["LPUSH", "n", ""]);
    assert_eq!(encoding(&mut c, "n"), "quicklist");
}

/// A long list in many nodes against a model, through every command, with small nodes (by count and by
/// size) so that the node boundaries are crossed everywhere.
#[test]
fn long_lists_across_nodes() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    for size in ["4", "-1"] {
        c.ok(&["CONFIG", "SET", "list-max-listpack-size", size]);
        c.cmd(&["DEL", "big"]);
        let mut model: std::collections::VecDeque<String> = Default::default();
        for i in 0..300 {
            let v = if i % 7 == 0 { format!("{i}-{}", "y".repeat(300)) } else { i.to_string() };
            if i % 2 == 0 {
                c.cmd(&["LPUSH", "big", &v]);
                model.push_front(v);
            } else {
                c.cmd(&["RPUSH", "big", &v]);
                model.push_back(v);
            }
        }
        assert_eq!(encoding(&mut c, "big"), "quicklist");
        let m: Vec<String> = model.iter().cloned().collect();
        assert_eq!(all(&mut c, "big"), m);
        for (start, end) in [(0, 99), (150, 160), (-50, -1), (290, 400), (-400, 3)] {
            let len = m.len() as i64;
            let s = (if start < 0 { len + start } else { start }).max(0) as usize;
            let e = (if end < 0 { len + end } else { end }).min(len - 1) as usize;
            let want: Vec<String> = m.get(s..=e).map(<[String]>::to_vec).unwrap_or_default();
            assert_eq!(c.cmd(&["LRANGE", "big", &start.to_string(), &end.to_string()]).strings(), want);
        }
        for i in [0, 1, 77, 149, 150, 151, 298, 299] {
            assert_eq!(c.bulk(&["LINDEX", "big", &i.to_string()]), Some(m[i].clone().into_bytes()));
            let neg = i as i64 - m.len() as i64;
            assert_eq!(c.bulk(&["LINDEX", "big", &neg.to_string()]), Some(m[i].clone().into_bytes()));
        }
        c.ok(&["LSET", "big", "150", "middle"]);
        model[150] = "middle".into();
        c.expect(&["LINSERT", "big", "BEFORE", "middle", "before"], b":301\r\n");
        model.insert(150, "before".into());
        c.expect(&["LINSERT", "big", "AFTER", "middle", &"z".repeat(500)], b":302\r\n");
        model.insert(152, "z".repeat(500));
        c.expect(&["LPOS", "big", "middle"], b":151\r\n");
        c.expect(&["LPOS", "big", "middle", "RANK", "-1", "COUNT", "0"], b"*1\r\n:151\r\n");
        let v = model[10].clone();
        c.expect(&["LREM", "big", "0", &v], b":1\r\n");
        model.remove(10);
        c.expect(
            &["LPOP", "big", "5"],
            &arr(&model.drain(..5).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>()),
        );
        let tail: Vec<String> = (0..5).filter_map(|_| model.pop_back()).collect();
        c.expect(&["RPOP", "big", "5"], &arr(&tail.iter().map(String::as_str).collect::<Vec<_>>()));
        c.ok(&["LTRIM", "big", "20", "-20"]);
        model.drain(..20);
        for _ in 0..19 {
            model.pop_back();
        }
        let m: Vec<String> = model.iter().cloned().collect();
        assert_eq!(all(&mut c, "big"), m);
        assert_eq!(c.int(&["LLEN", "big"]), m.len() as i64);
        // Popping it all down ends in a listpack, then in no key.
        while model.len() > 1 {
            c.cmd(&["RPOP", "big"]);
            model.pop_back();
        }
        assert_eq!(encoding(&mut c, "big"), "listpack");
        c.cmd(&["LPOP", "big"]);
        c.expect(&["EXISTS", "big"], b":0\r\n");
    }
}
