//! Pub/sub with Redis's exact replies: channels, patterns, shard channels, RESP2 and RESP3, the subscriber
//! context, and the output buffer limit that disconnects a subscriber that does not read.

use slotkv_tests::{wait_for, Node};
use std::time::Duration;

#[test]
fn subscribe_publish_unsubscribe_resp2() {
    let node = Node::start(&[]);
    let (mut sub, mut publ) = (node.conn(), node.conn());
    sub.expect(&["UNSUBSCRIBE"], b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    sub.send(&["SUBSCRIBE", "a", "b"]);
    assert_eq!(sub.read_raw(), b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(sub.read_raw(), b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    sub.expect(&["PSUBSCRIBE", "n*"], b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n");
    publ.expect(&["PUBLISH", "a", "hello"], b":1\r\n");
    assert_eq!(sub.read_raw(), b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n");
    publ.expect(&["PUBLISH", "news", "x"], b":1\r\n");
    assert_eq!(sub.read_raw(), b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$1\r\nx\r\n");
    publ.expect(&["PUBLISH", "nobody", "x"], b":1\r\n");
    assert_eq!(sub.read_raw(), b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$6\r\nnobody\r\n$1\r\nx\r\n");
    publ.expect(&["PUBLISH", "zzz", "x"], b":0\r\n");
    // The subscriber context.
    sub.expect(
        &["GET", "x"],
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    sub.expect(&["PING"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    sub.expect(&["PING", "hi"], b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    // Introspection.
    publ.expect(&["PUBSUB", "CHANNELS"], b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    publ.expect(&["PUBSUB", "CHANNELS", "a*"], b"*1\r\n$1\r\na\r\n");
    publ.expect(&["PUBSUB", "NUMSUB", "a", "zz"], b"*4\r\n$1\r\na\r\n:1\r\n$2\r\nzz\r\n:0\r\n");
    publ.expect(&["PUBSUB", "NUMPAT"], b":1\r\n");
    sub.send(&["PUNSUBSCRIBE", "q", "n*"]);
    assert_eq!(sub.read_raw(), b"*3\r\n$12\r\npunsubscribe\r\n$1\r\nq\r\n:3\r\n");
    assert_eq!(sub.read_raw(), b"*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:2\r\n");
    sub.send(&["UNSUBSCRIBE"]);
    assert_eq!(sub.read_raw(), b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(sub.read_raw(), b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n");
    // Out of the subscriber context again.
    sub.expect(&["PING"], b"+PONG\r\n");
    publ.expect(&["PUBSUB", "NUMPAT"], b":0\r\n");
    publ.expect(&["PUBSUB", "CHANNELS"], b"*0\r\n");
}

#[test]
fn resp3_pushes_and_commands_while_subscribed() {
    let node = Node::start(&[]);
    let mut c = node.conn();
    c.cmd(&["HELLO", "3"]);
    c.expect(&["SUBSCRIBE", "a"], b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    c.expect(&["GET", "x"], b"_\r\n");
    c.expect(&["PING"], b"+PONG\r\n");
    // Publishing to itself: the push comes before the reply.
    c.send(&["PUBLISH", "a", "m"]);
    assert_eq!(c.read_raw(), b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n");
    assert_eq!(c.read_raw(), b":1\r\n");
    c.expect(&["RESET"], b"+RESET\r\n");
    node.conn().expect(&["PUBLISH", "a", "m"], b":0\r\n");
}

#[test]
fn sharded_channels() {
    let node = Node::start(&[]);
    let (mut sub, mut publ) = (node.conn(), node.conn());
    sub.expect(&["SSUBSCRIBE", "s1"], b"*3\r\n$10\r\nssubscribe\r\n$2\r\ns1\r\n:1\r\n");
    sub.expect(&["SUBSCRIBE", "c"], b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
    publ.expect(&["SPUBLISH", "s1", "m"], b":1\r\n");
    assert_eq!(sub.read_raw(), b"*3\r\n$8\r\nsmessage\r\n$2\r\ns1\r\n$1\r\nm\r\n");
    // A shard channel is not a channel.
    publ.expect(&["PUBLISH", "s1", "m"], b":0\r\n");
    publ.expect(&["PUBSUB", "SHARDCHANNELS"], b"*1\r\n$2\r\ns1\r\n");
    publ.expect(&["PUBSUB", "SHARDNUMSUB", "s1"], b"*2\r\n$2\r\ns1\r\n:1\r\n");
    sub.expect(&["SUNSUBSCRIBE"], b"*3\r\n$12\r\nsunsubscribe\r\n$2\r\ns1\r\n:0\r\n");
    publ.expect(&["SPUBLISH", "s1", "m"], b":0\r\n");
}

#[test]
fn disconnected_subscriber_is_forgotten() {
    let node = Node::start(&[]);
    let mut publ = node.conn();
    {
        let mut sub = node.conn();
        sub.expect(&["SUBSCRIBE", "a"], b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
        publ.expect(&["PUBLISH", "a", "m"], b":1\r\n");
    }
    assert!(wait_for(Duration::from_secs(5), || publ.int(&["PUBLISH", "a", "m"]) == 0));
}

#[test]
fn slow_subscriber_is_disconnected_at_the_output_limit() {
    let node = Node::start(&["--client-output-buffer-limit", "pubsub 256kb 0 0"]);
    let mut sub = node.conn();
    sub.expect(&["SUBSCRIBE", "a"], b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    // The subscriber never reads: its socket buffers fill, then its output in the node passes the limit.
    let mut publ = node.conn();
    let payload = vec![b'x'; 64 * 1024];
    let mut delivered_to_none = false;
    for _ in 0..2000 {
        if publ.int(&[&b"PUBLISH"[..], b"a", &payload]) == 0 {
            delivered_to_none = true;
            break;
        }
    }
    assert!(delivered_to_none, "the subscriber was never disconnected");
    assert!(node.log().contains("output buffer limits"), "{}", node.log());
    // The node is fine.
    publ.expect(&["PING"], b"+PONG\r\n");
}
