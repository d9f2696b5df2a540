//! MULTI/EXEC/DISCARD/WATCH with Redis's exact replies.

use slotkv_tests::{wait_for, Node};
use std::time::Duration;

#[test]
fn queue_and_exec() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["MULTI"]);
    c.expect(&["SET", "a", "1"], b"+QUEUED\r\n");
    c.expect(&["INCR", "a"], b"+QUEUED\r\n");
    c.expect(&["HSET", "a", "f", "v"], b"+QUEUED\r\n");
    c.expect(&["GET", "a"], b"+QUEUED\r\n");
    c.expect(
        &["EXEC"],
        b"*4\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\n2\r\n",
    );
    // Empty transaction.
    c.ok(&["MULTI"]);
    c.expect(&["EXEC"], b"*0\r\n");
    c.expect(&["EXEC"], b"-ERR EXEC without MULTI\r\n");
    c.expect(&["DISCARD"], b"-ERR DISCARD without MULTI\r\n");
    c.ok(&["MULTI"]);
    c.expect(&["MULTI"], b"-ERR MULTI calls can not be nested\r\n");
    c.expect(&["WATCH", "a"], b"-ERR WATCH inside MULTI is not allowed\r\n");
    c.expect(&["SET", "a", "9"], b"+QUEUED\r\n");
    c.ok(&["DISCARD"]);
    c.expect(&["GET", "a"], b"$1\r\n2\r\n");
}

#[test]
fn queueing_errors_abort_exec() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["MULTI"]);
    c.expect(&["SET", "a", "1"], b"+QUEUED\r\n");
    c.expect(&["GET"], b"-ERR wrong number of arguments for 'get' command\r\n");
    c.expect(&["NOSUCH"], b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
    c.expect(&["EXEC"], b"-EXECABORT Transaction discarded because of previous errors.\r\n");
    c.expect(&["GET", "a"], b"$-1\r\n");
    // Commands not allowed inside MULTI.
    c.ok(&["MULTI"]);
    c.expect(&["SHUTDOWN"], b"-ERR Command not allowed inside a transaction\r\n");
    c.expect(&["EXEC"], b"-EXECABORT Transaction discarded because of previous errors.\r\n");
}

#[test]
fn resp3_exec_and_null_on_abort() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.cmd(&["HELLO", "3"]);
    c.ok(&["SET", "w", "1"]);
    c.ok(&["WATCH", "w"]);
    node.conn().ok(&["SET", "w", "2"]);
    c.ok(&["MULTI"]);
    c.expect(&["GET", "w"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"_\r\n");
}

#[test]
fn watch_sees_changes_from_other_clients() {
    let node = Node::start(&[]);
    let (mut c, mut other) = (node.conn(), node.conn());
    c.ok(&["SET", "w", "1"]);
    c.ok(&["WATCH", "w"]);
    other.ok(&["SET", "w", "2"]);
    c.ok(&["MULTI"]);
    c.expect(&["GET", "w"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"*-1\r\n");
    // EXEC unwatches: the next transaction runs.
    c.ok(&["MULTI"]);
    c.expect(&["GET", "w"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"*1\r\n$1\r\n2\r\n");
    // A write that changes nothing does not count (SETNX on an existing key).
    c.ok(&["WATCH", "w"]);
    other.expect(&["SETNX", "w", "3"], b":0\r\n");
    c.ok(&["MULTI"]);
    c.expect(&["GET", "w"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"*1\r\n$1\r\n2\r\n");
    // Deleting, expiring and a missing key being created all count.
    c.ok(&["WATCH", "w"]);
    other.expect(&["DEL", "w"], b":1\r\n");
    c.ok(&["MULTI"]);
    c.expect(&["EXEC"], b"*-1\r\n");
    c.ok(&["WATCH", "nokey"]);
    other.expect(&["LPUSH", "nokey", "x"], b":1\r\n");
    c.ok(&["MULTI"]);
    c.expect(&["EXEC"], b"*-1\r\n");
    // UNWATCH and DISCARD forget.
    c.ok(&["WATCH", "w"]);
    c.ok(&["UNWATCH"]);
    other.ok(&["SET", "w", "5"]);
    c.ok(&["MULTI"]);
    c.expect(&["EXEC"], b"*0\r\n");
}

#[test]
fn watch_sees_expiry_and_flushall() {
    let node = Node::start(&[]);
    let (mut c, mut other) = (node.conn(), node.conn());
    c.ok(&["SET", "e", "1", "PX", "100"]);
    c.ok(&["WATCH", "e"]);
    assert!(wait_for(Duration::from_secs(5), || other.int(&["EXISTS", "e"]) == 0));
    c.ok(&["MULTI"]);
    c.expect(&["EXEC"], b"*-1\r\n");
    // FLUSHALL touches watched keys that existed, not the others.
    c.ok(&["SET", "f", "1"]);
    c.ok(&["WATCH", "f"]);
    other.ok(&["FLUSHALL"]);
    c.ok(&["MULTI"]);
    c.expect(&["EXEC"], b"*-1\r\n");
    c.ok(&["WATCH", "missing"]);
    other.ok(&["FLUSHALL"]);
    c.ok(&["MULTI"]);
    c.expect(&["EXEC"], b"*0\r\n");
}

#[test]
fn watching_client_shows_in_client_list() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.ok(&["MULTI"]);
    c.expect(&["SET", "a", "1"], b"+QUEUED\r\n");
    let info = node.conn().bulk(&["CLIENT", "LIST"]).unwrap();
    let text = String::from_utf8_lossy(&info);
    assert!(text.contains("flags=x") && text.contains("multi=1"), "{text}");
}
