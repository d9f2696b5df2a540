//! Blocking commands: wake-ups by other clients, first blocked first served, timeouts, disconnections,
//! transactions, and commands pipelined behind a blocked one.

use slotkv_tests::{info_field, wait_for, Conn, Node};
use std::time::{Duration, Instant};

/// Waits until the node reports `n` blocked clients.
fn wait_blocked(c: &mut Conn, n: usize) {
    assert!(
        wait_for(Duration::from_secs(5), || {
            let list = c.bulk(&["CLIENT", "LIST"]).unwrap_or_default();
            String::from_utf8_lossy(&list).lines().filter(|l| l.contains("flags=b")).count() == n
        }),
        "expected {n} blocked clients"
    );
}

#[test]
fn blpop_is_woken_by_a_push() {
    let node = Node::start(&[]);
    let (mut waiter, mut pusher) = (node.conn(), node.conn());
    waiter.send(&["BLPOP", "empty", "q", "0"]);
    wait_blocked(&mut pusher, 1);
    let info = String::from_utf8(pusher.bulk(&["INFO", "clients"]).unwrap()).unwrap();
    assert_eq!(info_field(&info, "blocked_clients").as_deref(), Some("1"));
    assert_eq!(info_field(&info, "total_blocking_keys").as_deref(), Some("2"));
    pusher.expect(&["RPUSH", "q", "a", "b"], b":2\r\n");
    assert_eq!(waiter.read_raw(), b"*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    pusher.expect(&["LRANGE", "q", "0", "-1"], b"*1\r\n$1\r\nb\r\n");
    // Data already there: no blocking at all.
    waiter.expect(&["BRPOP", "q", "0"], b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    pusher.expect(&["EXISTS", "q"], b":0\r\n");
}

#[test]
fn first_blocked_first_served() {
    let node = Node::start(&[]);
    let mut waiters: Vec<Conn> = (0..3).map(|_| node.conn()).collect();
    let mut pusher = node.conn();
    for (i, w) in waiters.iter_mut().enumerate() {
        w.send(&["BLPOP", "q", "0"]);
        wait_blocked(&mut pusher, i + 1);
    }
    pusher.expect(&["RPUSH", "q", "1", "2"], b":2\r\n");
    assert_eq!(waiters[0].read_raw(), b"*2\r\n$1\r\nq\r\n$1\r\n1\r\n");
    assert_eq!(waiters[1].read_raw(), b"*2\r\n$1\r\nq\r\n$1\r\n2\r\n");
    wait_blocked(&mut pusher, 1);
    pusher.expect(&["LPUSH", "q", "3"], b":1\r\n");
    assert_eq!(waiters[2].read_raw(), b"*2\r\n$1\r\nq\r\n$1\r\n3\r\n");
}

#[test]
fn timeouts_with_fractions_of_seconds() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    let started = Instant::now();
    c.expect(&["BLPOP", "q", "0.2"], b"*-1\r\n");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(190) && waited < Duration::from_secs(3), "{waited:?}");
    // A real timeout is a null array for every blocking command (a null bulk only inside MULTI).
    c.expect(&["BLMOVE", "q", "d", "LEFT", "RIGHT", "0.05"], b"*-1\r\n");
    c.expect(&["BRPOPLPUSH", "q", "d", "0.05"], b"*-1\r\n");
    c.expect(&["BZPOPMIN", "z", "0.05"], b"*-1\r\n");
    c.cmd(&["HELLO", "3"]);
    c.expect(&["BLPOP", "q", "0.05"], b"_\r\n");
    c.expect(&["BLPOP", "q", "-1"], b"-ERR timeout is negative\r\n");
    c.expect(&["BLPOP", "q", "x"], b"-ERR timeout is not a float or out of range\r\n");
}

#[test]
fn a_blocked_client_that_disconnects_is_forgotten() {
    let node = Node::start(&[]);
    let mut pusher = node.conn();
    {
        let mut gone = node.conn();
        gone.send(&["BLPOP", "q", "0"]);
        wait_blocked(&mut pusher, 1);
    }
    wait_blocked(&mut pusher, 0);
    let mut waiter = node.conn();
    waiter.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut pusher, 1);
    pusher.expect(&["RPUSH", "q", "x"], b":1\r\n");
    assert_eq!(waiter.read_raw(), b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
}

#[test]
fn pushes_inside_multi_wake_after_exec() {
    let node = Node::start(&[]);
    let (mut waiter, mut c) = (node.conn(), node.conn());
    waiter.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    c.ok(&["MULTI"]);
    c.expect(&["RPUSH", "q", "a"], b"+QUEUED\r\n");
    c.expect(&["RPUSH", "q", "b"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"*2\r\n:1\r\n:2\r\n");
    assert_eq!(waiter.read_raw(), b"*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    c.expect(&["LRANGE", "q", "0", "-1"], b"*1\r\n$1\r\nb\r\n");
    // Inside MULTI a blocking command does not block.
    c.ok(&["MULTI"]);
    c.expect(&["BLPOP", "empty", "0"], b"+QUEUED\r\n");
    c.expect(&["BLMOVE", "empty", "d", "LEFT", "LEFT", "0"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"*2\r\n*-1\r\n$-1\r\n");
}

#[test]
fn blmove_chains_wake_the_next_waiter() {
    let node = Node::start(&[]);
    let (mut mover, mut last, mut c) = (node.conn(), node.conn(), node.conn());
    mover.send(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut c, 1);
    last.send(&["BLPOP", "b", "0"]);
    wait_blocked(&mut c, 2);
    c.expect(&["RPUSH", "a", "x"], b":1\r\n");
    assert_eq!(mover.read_raw(), b"$1\r\nx\r\n");
    assert_eq!(last.read_raw(), b"*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
    c.expect(&["EXISTS", "a", "b"], b":0\r\n");
}

#[test]
fn commands_pipelined_behind_a_blocked_one_wait_for_it() {
    let node = Node::start(&[]);
    let (mut waiter, mut c) = (node.conn(), node.conn());
    let mut pipeline = slotkv_tests::encode(&["BLPOP", "q", "0"]);
    pipeline.extend(slotkv_tests::encode(&["SET", "after", "1"]));
    pipeline.extend(slotkv_tests::encode(&["GET", "after"]));
    waiter.send_raw(&pipeline);
    wait_blocked(&mut c, 1);
    c.expect(&["EXISTS", "after"], b":0\r\n");
    c.expect(&["RPUSH", "q", "v"], b":1\r\n");
    assert_eq!(waiter.read_raw(), b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
    assert_eq!(waiter.read_raw(), b"+OK\r\n");
    assert_eq!(waiter.read_raw(), b"$1\r\n1\r\n");
}

#[test]
fn bzpopmin_is_woken_by_zadd() {
    let node = Node::start(&[]);
    let (mut waiter, mut c) = (node.conn(), node.conn());
    waiter.send(&["BZPOPMIN", "z", "0"]);
    wait_blocked(&mut c, 1);
    c.expect(&["ZADD", "z", "2", "b", "1", "a"], b":2\r\n");
    assert_eq!(waiter.read_raw(), b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n");
    // A string under the key does not wake a list waiter.
    waiter.send(&["BLPOP", "s", "0"]);
    wait_blocked(&mut c, 1);
    c.ok(&["SET", "s", "x"]);
    c.expect(&["DEL", "s"], b":1\r\n");
    c.expect(&["LPUSH", "s", "y"], b":1\r\n");
    assert_eq!(waiter.read_raw(), b"*2\r\n$1\r\ns\r\n$1\r\ny\r\n");
}

#[test]
fn client_unblock_with_timeout_or_error() {
    let node = Node::start(&[]);
    let (mut waiter, mut c) = (node.conn(), node.conn());
    let id = waiter.int(&["CLIENT", "ID"]).to_string();
    waiter.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    c.expect(&["CLIENT", "UNBLOCK", &id], b":1\r\n");
    assert_eq!(waiter.read_raw(), b"*-1\r\n");
    c.expect(&["CLIENT", "UNBLOCK", &id], b":0\r\n");
    waiter.send(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    c.expect(&["CLIENT", "UNBLOCK", &id, "ERROR"], b":1\r\n");
    assert_eq!(waiter.read_raw(), b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    c.expect(
        &["CLIENT", "UNBLOCK", &id, "FOO"],
        b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n",
    );
    c.expect(&["CLIENT", "UNBLOCK", "x"], b"-ERR value is not an integer or out of range\r\n");
    // The unblocked client works normally again.
    waiter.expect(&["PING"], b"+PONG\r\n");
}
