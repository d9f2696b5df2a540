//! The wire protocol: protocol errors (answered, then the connection closed), inline commands, error
//! strings byte for byte, pipelining, partial input, big values and the bulk length limit.

use slotkv_tests::{encode, show, Conn, Node};
use std::io::Write;
use std::time::Duration;

/// Sends `bytes` on a fresh connection and returns everything the node answers until it closes the
/// connection (or 5 s pass), with whether it closed.
fn exchange(node: &Node, bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut c = node.conn();
    c.send_raw(bytes);
    c.read_until_close(Duration::from_secs(5))
}

#[track_caller]
fn expect_protocol_error(node: &Node, bytes: &[u8], reason: &str) {
    let (got, closed) = exchange(node, bytes);
    let want = format!("-ERR Protocol error: {reason}\r\n");
    assert_eq!(show(&got), show(want.as_bytes()), "input {}", show(&bytes[..bytes.len().min(60)]));
    assert!(
        closed,
        "connection left open after a protocol error (input {})",
        show(&bytes[..bytes.len().min(60)])
    );
}

#[test]
fn protocol_errors_are_answered_then_the_connection_closes() {
    let node = Node::start(&[]);
    expect_protocol_error(&node, b"*1\r\n$-5\r\n", "invalid bulk length");
    expect_protocol_error(&node, b"*1\r\n$abc\r\n", "invalid bulk length");
    expect_protocol_error(&node, b"*1\r\n$04\r\nPING\r\n", "invalid bulk length");
    expect_protocol_error(&node, b"*1\r\n$+4\r\nPING\r\n", "invalid bulk length");
    expect_protocol_error(&node, b"*1\r\n$600000000\r\n", "invalid bulk length");
    expect_protocol_error(&node, b"*x\r\n", "invalid multibulk length");
    expect_protocol_error(&node, b"*01\r\n$4\r\nPING\r\n", "invalid multibulk length");
    expect_protocol_error(&node, b"*+1\r\n$4\r\nPING\r\n", "invalid multibulk length");
    expect_protocol_error(&node, b"*3000000000\r\n", "invalid multibulk length");
    expect_protocol_error(&node, b"*1\r\nfoo\r\n", "expected '$', got 'f'");
    expect_protocol_error(&node, b"*2\r\n$3\r\nGET\r\n:1\r\n", "expected '$', got ':'");
    expect_protocol_error(&node, b"SET \"k v\r\n", "unbalanced quotes in request");
    expect_protocol_error(&node, b"SET 'k v\r\n", "unbalanced quotes in request");
    expect_protocol_error(&node, b"SET \"k\"v x\r\n", "unbalanced quotes in request");
    expect_protocol_error(&node, b"ECHO \"a\"b\r\n", "unbalanced quotes in request");
    expect_protocol_error(&node, &[b'a'; 70_000], "too big inline request");
    expect_protocol_error(&node, &[b"*".as_slice(), &[b'1'; 70_000]].concat(), "too big mbulk count string");
    expect_protocol_error(
        &node,
        &[b"*1\r\n$".as_slice(), &[b'1'; 70_000]].concat(),
        "too big bulk count string",
    );
    // Commands before the bad one run and are answered first.
    let (got, closed) = exchange(&node, b"*1\r\n$4\r\nPING\r\n*1\r\n$-1\r\n");
    assert_eq!(show(&got), show(b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"));
    assert!(closed);
    let (got, closed) = exchange(&node, b"SET before 1\r\n*x\r\nSET after 1\r\n");
    assert_eq!(show(&got), show(b"+OK\r\n-ERR Protocol error: invalid multibulk length\r\n"));
    assert!(closed);
    // The node is fine, and nothing after the error ran.
    let mut c = node.conn();
    c.expect(&["EXISTS", "before", "after"], b":1\r\n");
}

#[test]
fn inline_commands() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.send_raw(b"PING\r\n");
    assert_eq!(c.read_raw(), b"+PONG\r\n");
    c.send_raw(b"set a \"x y\"\r\nget a\r\n");
    assert_eq!(c.read_raw(), b"+OK\r\n");
    assert_eq!(c.read_raw(), b"$3\r\nx y\r\n");
    // Escapes in double quotes, \' in single quotes, a quote inside a word.
    c.send_raw(b"ECHO \"\\x41\\x4a\\t\\n\"\r\n");
    assert_eq!(c.read_raw(), b"$4\r\nAJ\t\n\r\n");
    c.send_raw(b"ECHO 'a\\'b'\r\n");
    assert_eq!(c.read_raw(), b"$3\r\na'b\r\n");
    c.send_raw(b"ECHO \"a\\\"b\"\r\n");
    assert_eq!(c.read_raw(), b"$3\r\na\"b\r\n");
    c.send_raw(b"ECHO \"\\xzz\"\r\n");
    assert_eq!(c.read_raw(), b"$3\r\nxzz\r\n");
    c.send_raw(b"ECHO a\"b\"\r\n");
    assert_eq!(c.read_raw(), b"$2\r\nab\r\n");
    c.send_raw(b"ECHO \"\"\r\n");
    assert_eq!(c.read_raw(), b"$0\r\n\r\n");
    // A bare LF ends a line too; blank lines and spaces are ignored; empty multibulks are skipped.
    c.send_raw(b"PING\nPING\r\n\r\n   \r\n  ping  \r\n*0\r\n*-1\r\nPING\r\n");
    for _ in 0..4 {
        assert_eq!(c.read_raw(), b"+PONG\r\n");
    }
    c.send_raw(b"ECHO \"a\" b\r\n");
    assert_eq!(c.read_raw(), b"-ERR wrong number of arguments for 'echo' command\r\n");
    c.send_raw(b"foo a b\r\n");
    assert_eq!(c.read_raw(), b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    // Inline and multibulk mixed in one write.
    c.send_raw(b"SET m 1\r\n*2\r\n$4\r\nINCR\r\n$1\r\nm\r\nINCR m\r\n");
    assert_eq!(c.read_raw(), b"+OK\r\n");
    assert_eq!(c.read_raw(), b":2\r\n");
    assert_eq!(c.read_raw(), b":3\r\n");
    // Two bytes after a bulk's announced length are taken as its CRLF, whatever they are.
    c.send_raw(b"*1\r\n$4\r\nPINGxx");
    assert_eq!(c.read_raw(), b"+PONG\r\n");
    c.expect(&["PING"], b"+PONG\r\n");
}

#[test]
fn error_strings_byte_for_byte() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["foo"], b"-ERR unknown command 'foo', with args beginning with: \r\n");
    c.expect(&["foo", "a", "b"], b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    c.expect(&["FOO", "a b", "c"], b"-ERR unknown command 'FOO', with args beginning with: 'a b' 'c' \r\n");
    c.expect(&["foo", ""], b"-ERR unknown command 'foo', with args beginning with: '' \r\n");
    // Line breaks in echoed arguments become spaces.
    c.expect(
        &["foo", "a\r\nb", "c"],
        b"-ERR unknown command 'foo', with args beginning with: 'a  b' 'c' \r\n",
    );
    // The arguments shown are cut at 128 characters in all; the name at 128.
    let long = "x".repeat(200);
    c.expect(
        &["foo", &long],
        format!("-ERR unknown command 'foo', with args beginning with: '{}' \r\n", "x".repeat(128))
            .as_bytes(),
    );
    c.expect(
        &["foo", &"a".repeat(100), &"b".repeat(40), "ccc"],
        format!(
            "-ERR unknown command 'foo', with args beginning with: '{}' '{}' \r\n",
            "a".repeat(100),
            "b".repeat(25)
        )
        .as_bytes(),
    );
    c.expect(
        &[&"F".repeat(200), "a"],
        format!("-ERR unknown command '{}', with args beginning with: 'a' \r\n", "F".repeat(128)).as_bytes(),
    );
    c.expect(&["GET"], b"-ERR wrong number of arguments for 'get' command\r\n");
    c.expect(&["get", "a", "b", "c"], b"-ERR wrong number of arguments for 'get' command\r\n");
    c.expect(&["CONFIG", "GET"], b"-ERR wrong number of arguments for 'config|get' command\r\n");
    c.expect(&["CONFIG", "nope"], b"-ERR unknown subcommand 'nope'. Try CONFIG HELP.\r\n");
    c.ok(&["SET", "s", "abc"]);
    c.expect(&["HGET", "s", "f"], b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    c.expect(&["INCR", "s"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["INCRBYFLOAT", "s", "1"], b"-ERR value is not a valid float\r\n");
    c.expect(&["SET", "s", "v", "bogus"], b"-ERR syntax error\r\n");
    c.expect(&["EXPIRE", "s", "x"], b"-ERR value is not an integer or out of range\r\n");
    c.expect(&["RENAME", "nope", "x"], b"-ERR no such key\r\n");
    // An error is one line even in RESP3.
    c.cmd(&["HELLO", "3"]);
    c.expect(&["foo"], b"-ERR unknown command 'foo', with args beginning with: \r\n");
    c.expect(&["GET"], b"-ERR wrong number of arguments for 'get' command\r\n");
}

/// Redis looks up the name as a top-level command only: `config|get` is not a command, and is unknown.
#[test]
fn subcommand_names_are_not_commands() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.expect(&["config|get", "x"], b"-ERR unknown command 'config|get', with args beginning with: 'x' \r\n");
    c.expect(
        &["config|get", "maxmemory"],
        b"-ERR unknown command 'config|get', with args beginning with: 'maxmemory' \r\n",
    );
    c.expect(&["client|id"], b"-ERR unknown command 'client|id', with args beginning with: \r\n");
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let n = 20_000;
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend_from_slice(&encode(&["INCR", "counter"]));
        if i % 1000 == 0 {
            batch.extend_from_slice(&encode(&["SET", &format!("k{i}"), &i.to_string()]));
        }
    }
    c.send_raw(&batch);
    for i in 0..n {
        assert_eq!(c.read_raw(), format!(":{}\r\n", i + 1).into_bytes(), "reply {i}");
        if i % 1000 == 0 {
            assert_eq!(c.read_raw(), b"+OK\r\n");
        }
    }
    c.expect(&["GET", "counter"], format!("${}\r\n{n}\r\n", n.to_string().len()).as_bytes());
    c.expect(&["GET", "k5000"], b"$4\r\n5000\r\n");
}

#[test]
fn commands_split_at_every_byte() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let cmd = encode(&["SET", "split", "a value that arrives in pieces"]);
    for b in &cmd {
        c.send_raw(std::slice::from_ref(b));
        c.stream().flush().ok();
    }
    assert_eq!(c.read_raw(), b"+OK\r\n");
    // A command cut in two, with a pause long enough for the node to see each half.
    let get = encode(&["GET", "split"]);
    for cut in [1, 4, 8, get.len() - 1] {
        let (a, b) = get.split_at(cut);
        c.send_raw(a);
        std::thread::sleep(Duration::from_millis(5));
        c.send_raw(b);
        assert_eq!(c.read_raw(), b"$30\r\na value that arrives in pieces\r\n", "cut at {cut}");
    }
    // Inline too.
    for b in b"ECHO inline\r\n" {
        c.send_raw(std::slice::from_ref(b));
    }
    assert_eq!(c.read_raw(), b"$6\r\ninline\r\n");
}

#[test]
fn a_multibulk_of_more_than_a_million_arguments() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["SET", "key:7", "v"]);
    let n = 1_100_000;
    let mut args: Vec<String> = Vec::with_capacity(n + 1);
    args.push("EXISTS".into());
    args.extend((0..n).map(|i| format!("key:{i}")));
    c.set_read_timeout(Duration::from_secs(60));
    c.expect(&args, b":1\r\n");
    c.expect(&["PING"], b"+PONG\r\n");
}

#[test]
fn a_100_mb_value() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.set_read_timeout(Duration::from_secs(60));
    let len = 100 * 1024 * 1024;
    let value: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
    let mut set = Vec::with_capacity(len + 64);
    set.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${len}\r\n").as_bytes());
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    c.send_raw(&set);
    drop(set);
    assert_eq!(c.read_raw(), b"+OK\r\n");
    c.expect(&["STRLEN", "big"], format!(":{len}\r\n").as_bytes());
    let got = c.raw(&["GET", "big"]);
    let header = format!("${len}\r\n");
    assert!(got.starts_with(header.as_bytes()), "GET big: {}", show(&got[..got.len().min(40)]));
    assert_eq!(got.len(), header.len() + len + 2);
    assert!(got[header.len()..header.len() + len] == value[..], "GET big returned different bytes");
    assert!(got.ends_with(b"\r\n"));
    let tail = [b"$26\r\n".as_slice(), &value[len - 26..], b"\r\n"].concat();
    c.expect(&["GETRANGE", "big", "-26", "-1"], &tail);
    c.expect(&["DEL", "big"], b":1\r\n");
    // Another client was served meanwhile and after.
    node.conn().expect(&["PING"], b"+PONG\r\n");
}

#[test]
fn a_bulk_over_proto_max_bulk_len_is_refused() {
    let node = Node::start(&["--proto-max-bulk-len", "1mb"]);
    let mut c = node.conn();
    c.expect(
        &["CONFIG", "GET", "proto-max-bulk-len"],
        b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n",
    );
    // Exactly the limit is fine.
    let at_limit = vec![b'x'; 1024 * 1024];
    c.ok(&[b"SET".as_slice(), b"k", &at_limit]);
    c.expect(&["STRLEN", "k"], b":1048576\r\n");
    // One byte more is a protocol error, sent before the value itself arrives.
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$1048577\r\n");
    let (got, closed) = c.read_until_close(Duration::from_secs(5));
    assert_eq!(show(&got), show(b"-ERR Protocol error: invalid bulk length\r\n"));
    assert!(closed);
    let mut c = node.conn();
    c.expect(&["EXISTS", "k2"], b":0\r\n");
    // Values may not grow past it either.
    c.expect(&["APPEND", "k", "y"], b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    c.expect(
        &["SETRANGE", "k", "1048576", "y"],
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    c.expect(&["STRLEN", "k"], b":1048576\r\n");
}

#[test]
fn a_partial_command_does_not_block_others() {
    let node = Node::start(&[]);
    let mut slow = node.conn();
    slow.send_raw(b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$10\r\nab");
    let mut fast = node.conn();
    for _ in 0..100 {
        fast.expect(&["PING"], b"+PONG\r\n");
    }
    fast.expect(&["EXISTS", "slow"], b":0\r\n");
    slow.send_raw(b"cdefghij\r\n");
    assert_eq!(slow.read_raw(), b"+OK\r\n");
    fast.expect(&["GET", "slow"], b"$10\r\nabcdefghij\r\n");
    // A half-sent big value: other clients are served while it arrives.
    let mut big = node.conn();
    let len = 8 * 1024 * 1024;
    big.send_raw(format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${len}\r\n").as_bytes());
    big.send_raw(&vec![b'z'; len / 2]);
    fast.expect(&["PING"], b"+PONG\r\n");
    big.send_raw(&vec![b'z'; len / 2]);
    big.send_raw(b"\r\n");
    assert_eq!(big.read_raw(), b"+OK\r\n");
    fast.expect(&["STRLEN", "big"], format!(":{len}\r\n").as_bytes());
}

#[test]
fn replies_survive_a_client_that_reads_slowly() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let value = "v".repeat(1 << 20);
    c.ok(&["SET", "mb", &value]);
    // 64 MB of replies queued before the client reads any of them.
    let n = 64;
    let mut batch = Vec::new();
    for _ in 0..n {
        batch.extend_from_slice(&encode(&["GET", "mb"]));
    }
    c.send_raw(&batch);
    let mut other: Conn = node.conn();
    other.expect(&["PING"], b"+PONG\r\n");
    other.ok(&["SET", "x", "1"]);
    std::thread::sleep(Duration::from_millis(200));
    let want = format!("${}\r\n{value}\r\n", value.len()).into_bytes();
    for i in 0..n {
        assert!(c.read_raw() == want, "reply {i} differs");
    }
    c.expect(&["GET", "x"], b"$1\r\n1\r\n");
}

/// The shared reply parser (`slotkv_proto::frame`) reads every kind of reply the node sends, in both
/// protocols, taking exactly one reply's bytes each time.
#[test]
fn the_proto_frame_parser_reads_real_replies() {
    use slotkv_proto::frame::Frame;
    let node = Node::start(&[]);
    let mut c = node.conn();
    let bulk = |s: &str| Frame::Bulk(s.as_bytes().to_vec());
    for resp3 in [false, true] {
        c.cmd(&["HELLO", if resp3 { "3" } else { "2" }]);
        c.ok(&["FLUSHALL"]);
        assert_eq!(c.frame(&["SET", "k", "v"]), Frame::Simple(b"OK".to_vec()));
        assert_eq!(c.frame(&["GET", "k"]), bulk("v"));
        assert_eq!(c.frame(&["GET", "nope"]), Frame::Null);
        assert_eq!(c.frame(&["INCR", "n"]), Frame::Integer(1));
        assert!(matches!(c.frame(&["GET"]), Frame::Error(e) if e.starts_with(b"ERR wrong number")));
        assert_eq!(c.frame(&["MGET", "k", "nope"]), Frame::Array(vec![bulk("v"), Frame::Null]));
        c.expect(&["HSET", "h", "a", "1"], b":1\r\n");
        let all = c.frame(&["HGETALL", "h"]);
        if resp3 {
            assert_eq!(all, Frame::Map(vec![(bulk("a"), bulk("1"))]));
            assert!(
                matches!(c.frame(&["INFO", "server"]), Frame::Verbatim { format, .. } if &format == b"txt")
            );
        } else {
            assert_eq!(all, Frame::Array(vec![bulk("a"), bulk("1")]));
            assert!(matches!(c.frame(&["INFO", "server"]), Frame::Bulk(_)));
        }
        assert!(matches!(c.frame(&["COMMAND", "INFO", "get", "set"]), Frame::Array(v) if v.len() == 2));
        assert!(matches!(c.frame(&["COMMAND", "DOCS"]), Frame::Map(_) | Frame::Array(_)));
        assert!(matches!(c.frame(&["HELLO"]), Frame::Map(_) | Frame::Array(_)));
    }
}
