//! The client's typed `Commands` API end to end: every typed method against a 3-node slotkv cluster
//! (`ClusterClient`) and against one node (`Client`), over RESP2 and RESP3; the reply shapes that differ
//! between the protocols (`HGETALL`, `ZRANGE ... WITHSCORES`, `ZSCORE`) checked to really differ on the wire
//! and to convert to the same values; and `Client`'s reconnect, deadlines, password and blocking commands.

use slotkv_client::proto::frame::Frame;
use slotkv_client::{cmd, Client, ClusterClient, ClusterOptions, Commands, Error, Expiry, SetOptions};
use slotkv_tests::runtime;
use slotkv_tests::{Node, TestCluster};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// `unwrap` for the helpers below (a failure names the caller's line).
trait Must<T> {
    fn must(self) -> T;
    fn must_fail(self) -> Error;
}

impl<T> Must<T> for Result<T, Error> {
    #[track_caller]
    fn must(self) -> T {
        self.unwrap_or_else(|e| panic!("unexpected error: {e:?}"))
    }

    #[track_caller]
    fn must_fail(self) -> Error {
        match self {
            Ok(_) => panic!("expected an error, got a reply"),
            Err(e) => e,
        }
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

fn set_of(items: &[&str]) -> HashSet<String> {
    items.iter().map(|v| v.to_string()).collect()
}

/// Calls every typed method once (or more) with keys named after `p`, and checks each reply. In a
/// cluster the single-key commands land on every node and the multi-key ones are split by slot; commands
/// that need one slot (`RENAME`, `SINTER`, `SUNION`) use a hash tag.
async fn exercise<C: Commands>(c: &C, p: &str) {
    let k = |name: &str| format!("{p}:{name}");
    let tagged = |name: &str| format!("{{{p}}}:{name}");

    // ---- strings ----
    c.set(k("s"), "hello").await.must();
    assert_eq!(c.get::<_, Option<String>>(k("s")).await.must(), Some(s("hello")));
    assert_eq!(c.get::<_, Option<String>>(k("missing")).await.must(), None);
    assert_eq!(c.get::<_, Vec<u8>>(k("s")).await.must(), b"hello".to_vec());
    assert!(
        !c.set_options::<_, _, bool>(k("s"), "x", SetOptions::new().nx()).await.must(),
        "NX on an existing key"
    );
    assert!(c.set_options::<_, _, bool>(k("s"), "x", SetOptions::new().xx().ex(100)).await.must());
    let ttl = c.ttl(k("s")).await.must();
    assert!((90..=100).contains(&ttl), "TTL after EX 100: {ttl}");
    let old: Option<String> = c.set_options(k("s"), "y", SetOptions::new().get().keep_ttl()).await.must();
    assert_eq!(old, Some(s("x")));
    assert!(c.ttl(k("s")).await.must() > 0, "KEEPTTL kept the timeout");
    assert!(c.set_options::<_, _, bool>(k("px"), 1, SetOptions::new().nx().px(100_000)).await.must());
    let pttl = c.pttl(k("px")).await.must();
    assert!((90_000..=100_000).contains(&pttl), "PTTL after PX 100000: {pttl}");
    assert!(c.setnx(k("nx"), "a").await.must());
    assert!(!c.setnx(k("nx"), "b").await.must());
    c.setex(k("ex"), 50, "v").await.must();
    assert!((40..=50).contains(&c.ttl(k("ex")).await.must()));

    let keys: Vec<String> = (0..20).map(|i| k(&format!("m{i}"))).collect();
    let items: Vec<(String, usize)> = keys.iter().cloned().zip(0..).collect();
    c.mset(&items).await.must();
    let mut asked = keys.clone();
    asked.push(k("missing"));
    let got: Vec<Option<usize>> = c.mget(&asked).await.must();
    let mut want: Vec<Option<usize>> = (0..20).map(Some).collect();
    want.push(None);
    assert_eq!(got, want, "MGET over many slots, in key order");

    assert_eq!(c.incr(k("n")).await.must(), 1);
    assert_eq!(c.incr_by(k("n"), 10).await.must(), 11);
    assert_eq!(c.decr(k("n")).await.must(), 10);
    assert_eq!(c.decr_by(k("n"), 15).await.must(), -5);
    assert_eq!(c.incr_by_float(k("f"), 1.5).await.must(), 1.5);
    assert_eq!(c.append(k("a"), "ab").await.must(), 2);
    assert_eq!(c.append(k("a"), "cd").await.must(), 4);
    assert_eq!(c.strlen(k("a")).await.must(), 4);
    assert_eq!(c.getrange::<_, String>(k("a"), 1, 2).await.must(), "bc");
    assert_eq!(c.getex::<_, Option<String>>(k("a"), Expiry::Ex(30)).await.must(), Some(s("abcd")));
    assert!((20..=30).contains(&c.ttl(k("a")).await.must()));
    assert_eq!(c.getex::<_, Option<String>>(k("a"), Expiry::Persist).await.must(), Some(s("abcd")));
    assert_eq!(c.ttl(k("a")).await.must(), -1);
    assert_eq!(c.getdel::<_, Option<String>>(k("a")).await.must(), Some(s("abcd")));
    assert_eq!(c.getdel::<_, Option<String>>(k("a")).await.must(), None);
    let e = c.incr(k("s")).await.must_fail();
    assert_eq!(e.code(), Some("ERR"), "INCR on a non-number: {e}");

    // ---- keys ----
    assert_eq!(c.exists(&[k("s"), k("s"), k("missing"), k("n")]).await.must(), 3);
    assert_eq!(c.touch(&[k("s"), k("n"), k("missing")]).await.must(), 2);
    assert_eq!(c.type_of(k("s")).await.must(), "string");
    assert_eq!(c.type_of(k("missing")).await.must(), "none");
    assert!(c.expire(k("n"), 100).await.must());
    assert!(!c.expire(k("missing"), 100).await.must());
    assert!(c.persist(k("n")).await.must());
    assert!(!c.persist(k("n")).await.must(), "no timeout left to remove");
    assert!(c.pexpire(k("n"), 100_000).await.must());
    assert!(c.pttl(k("n")).await.must() > 90_000);
    assert_eq!(c.ttl(k("missing")).await.must(), -2);
    c.set(tagged("old"), "v").await.must();
    c.rename(tagged("old"), tagged("new")).await.must();
    assert_eq!(c.get::<_, Option<String>>(tagged("new")).await.must(), Some(s("v")));
    assert_eq!(c.rename(tagged("old"), tagged("x")).await.must_fail().code(), Some("ERR"), "no such key");
    assert_eq!(c.del(&keys[..10]).await.must(), 10);
    assert_eq!(c.unlink(&keys).await.must(), 10, "the other half");
    assert_eq!(c.exists(&keys).await.must(), 0);

    // ---- hashes ----
    assert!(c.hset(k("h"), "a", 1).await.must());
    assert!(!c.hset(k("h"), "a", 2).await.must(), "an existing field");
    assert_eq!(c.hset_multiple(k("h"), &[("b", "x"), ("c", "y"), ("a", "3")]).await.must(), 2);
    assert!(c.hsetnx(k("h"), "d", "z").await.must());
    assert!(!c.hsetnx(k("h"), "d", "w").await.must());
    assert_eq!(c.hget::<_, _, Option<i64>>(k("h"), "a").await.must(), Some(3));
    assert_eq!(c.hget::<_, _, Option<String>>(k("h"), "nope").await.must(), None);
    let got: Vec<Option<String>> = c.hmget(k("h"), &["b", "nope", "c"]).await.must();
    assert_eq!(got, vec![Some(s("x")), None, Some(s("y"))]);
    let all: HashMap<String, String> = c.hgetall(k("h")).await.must();
    let want: HashMap<String, String> =
        [("a", "3"), ("b", "x"), ("c", "y"), ("d", "z")].iter().map(|(f, v)| (s(f), s(v))).collect();
    assert_eq!(all, want);
    assert!(c.hgetall::<_, String, String>(k("missing")).await.must().is_empty());
    assert_eq!(c.hincr_by(k("h"), "a", 4).await.must(), 7);
    assert!(c.hexists(k("h"), "b").await.must());
    assert!(!c.hexists(k("h"), "nope").await.must());
    let mut fields: Vec<String> = c.hkeys(k("h")).await.must();
    fields.sort();
    assert_eq!(fields, vec!["a", "b", "c", "d"]);
    let mut values: Vec<String> = c.hvals(k("h")).await.must();
    values.sort();
    assert_eq!(values, vec!["7", "x", "y", "z"]);
    assert_eq!(c.hdel(k("h"), &["a", "b", "nope"]).await.must(), 2);
    assert_eq!(c.hlen(k("h")).await.must(), 2);
    assert_eq!(c.type_of(k("h")).await.must(), "hash");

    // ---- lists ----
    assert_eq!(c.rpush(k("l"), &["b", "c"]).await.must(), 2);
    assert_eq!(c.lpush(k("l"), &["a", "z"]).await.must(), 4);
    assert_eq!(c.lrange::<_, Vec<String>>(k("l"), 0, -1).await.must(), vec!["z", "a", "b", "c"]);
    assert_eq!(c.llen(k("l")).await.must(), 4);
    assert_eq!(c.lindex::<_, Option<String>>(k("l"), -1).await.must(), Some(s("c")));
    assert_eq!(c.lindex::<_, Option<String>>(k("l"), 10).await.must(), None);
    c.lset(k("l"), 0, "x").await.must();
    assert_eq!(c.lpop::<_, Option<String>>(k("l")).await.must(), Some(s("x")));
    assert_eq!(c.rpop::<_, Option<String>>(k("l")).await.must(), Some(s("c")));
    c.rpush(k("l"), &["a", "d", "a", "e"]).await.must();
    assert_eq!(c.lrem(k("l"), 0, "a").await.must(), 3);
    assert_eq!(c.lrange::<_, Vec<String>>(k("l"), 0, -1).await.must(), vec!["b", "d", "e"]);
    c.ltrim(k("l"), 0, 1).await.must();
    assert_eq!(c.lpop_count::<_, Vec<String>>(k("l"), 5).await.must(), vec!["b", "d"]);
    assert_eq!(c.lpop::<_, Option<String>>(k("l")).await.must(), None);
    assert_eq!(c.lpop_count::<_, Option<Vec<String>>>(k("l"), 2).await.must(), None);
    c.rpush(k("l"), &[1, 2, 3]).await.must();
    assert_eq!(c.rpop_count::<_, Vec<i64>>(k("l"), 2).await.must(), vec![3, 2]);
    let popped: Option<(String, String)> = c.blpop(&[k("l")], 1.0).await.must();
    assert_eq!(popped, Some((k("l"), s("1"))));
    c.rpush(k("l"), &["p", "q"]).await.must();
    let popped: Option<(String, String)> = c.brpop(&[k("l")], 1.0).await.must();
    assert_eq!(popped, Some((k("l"), s("q"))));
    let started = Instant::now();
    let none: Option<(String, String)> = c.blpop(&[k("empty")], 0.1).await.must();
    assert_eq!(none, None, "BLPOP on an empty list times out with nil");
    assert!(started.elapsed() >= Duration::from_millis(90), "BLPOP waited its timeout");

    // ---- sets ----
    assert_eq!(c.sadd(tagged("s1"), &["a", "b", "c", "a"]).await.must(), 3);
    assert_eq!(c.sadd(tagged("s2"), &["b", "c", "d"]).await.must(), 3);
    assert_eq!(c.smembers::<_, String>(tagged("s1")).await.must(), set_of(&["a", "b", "c"]));
    assert!(c.smembers::<_, String>(k("missing")).await.must().is_empty());
    assert!(c.sismember(tagged("s1"), "a").await.must());
    assert!(!c.sismember(tagged("s1"), "d").await.must());
    assert_eq!(c.scard(tagged("s1")).await.must(), 3);
    assert_eq!(c.sinter::<_, String>(&[tagged("s1"), tagged("s2")]).await.must(), set_of(&["b", "c"]));
    assert_eq!(
        c.sunion::<_, String>(&[tagged("s1"), tagged("s2")]).await.must(),
        set_of(&["a", "b", "c", "d"])
    );
    assert_eq!(c.srem(tagged("s1"), &["a", "zz"]).await.must(), 1);
    let one: Option<String> = c.spop(tagged("s1")).await.must();
    assert!(one.is_some_and(|m| m == "b" || m == "c"));
    assert_eq!(c.spop_count::<_, Vec<String>>(tagged("s2"), 5).await.must().len(), 3);
    assert_eq!(c.spop::<_, Option<String>>(tagged("s2")).await.must(), None);

    // ---- sorted sets ----
    assert!(c.zadd(k("z"), "a", 1).await.must());
    assert!(!c.zadd(k("z"), "a", 1.5).await.must(), "an existing member: score updated");
    assert_eq!(c.zadd_multiple(k("z"), &[(2.5, "b"), (-1.0, "c"), (10.0, "d")]).await.must(), 3);
    assert_eq!(c.zscore(k("z"), "a").await.must(), Some(1.5));
    assert_eq!(c.zscore(k("z"), "nope").await.must(), None);
    assert_eq!(c.zincr_by(k("z"), "a", 0.25).await.must(), 1.75);
    assert_eq!(c.zrank(k("z"), "c").await.must(), Some(0));
    assert_eq!(c.zrank(k("z"), "nope").await.must(), None);
    assert_eq!(c.zrevrank(k("z"), "c").await.must(), Some(3));
    assert_eq!(c.zcard(k("z")).await.must(), 4);
    assert_eq!(c.zcount(k("z"), "(1.75", "+inf").await.must(), 2);
    assert_eq!(c.zcount(k("z"), f64::NEG_INFINITY, 2).await.must(), 2);
    assert_eq!(c.zrange::<_, Vec<String>>(k("z"), 0, -1).await.must(), vec!["c", "a", "b", "d"]);
    let scored: Vec<(String, f64)> = c.zrange_withscores(k("z"), 0, 1).await.must();
    assert_eq!(scored, vec![(s("c"), -1.0), (s("a"), 1.75)]);
    assert_eq!(c.zrevrange::<_, Vec<String>>(k("z"), 0, 1).await.must(), vec!["d", "b"]);
    let scored: Vec<(String, f64)> = c.zrevrange_withscores(k("z"), 0, 0).await.must();
    assert_eq!(scored, vec![(s("d"), 10.0)]);
    let by_score: Vec<String> = c.zrange_by_score(k("z"), 0, "+inf").await.must();
    assert_eq!(by_score, vec!["a", "b", "d"]);
    let page: Vec<String> = c.zrange_by_score_limit(k("z"), "-inf", "+inf", 1, 2).await.must();
    assert_eq!(page, vec!["a", "b"]);
    let scored: Vec<(String, f64)> = c.zrange_by_score_withscores(k("z"), "(1.75", 5).await.must();
    assert_eq!(scored, vec![(s("b"), 2.5)]);
    let popped: Vec<(String, f64)> = c.zpopmin(k("z"), 1).await.must();
    assert_eq!(popped, vec![(s("c"), -1.0)]);
    let popped: Vec<(String, f64)> = c.zpopmax(k("z"), 2).await.must();
    assert_eq!(popped, vec![(s("d"), 10.0), (s("b"), 2.5)]);
    assert_eq!(c.zrem(k("z"), &["a", "nope"]).await.must(), 1);
    assert_eq!(c.zcard(k("z")).await.must(), 0);
    assert!(c.zpopmin::<_, String>(k("z"), 1).await.must().is_empty());
    c.set(k("z"), "str").await.must();
    assert_eq!(c.zadd(k("z"), "m", 1).await.must_fail().code(), Some("WRONGTYPE"));

    // ---- pub/sub and server ----
    assert_eq!(c.publish(k("channel"), "hi").await.must(), 0, "nobody subscribed");
    assert_eq!(c.ping().await.must(), "PONG");
}

/// Fills, counts and flushes: `DBSIZE` and `FLUSHALL`/`FLUSHDB` cover every primary of a cluster.
async fn count_and_flush<C: Commands>(c: &C) {
    c.flushall().await.must();
    let items: Vec<(String, i64)> = (0..300).map(|i| (format!("count:{i}"), i)).collect();
    c.mset(&items).await.must();
    assert_eq!(c.dbsize().await.must(), 300);
    c.flushdb().await.must();
    assert_eq!(c.dbsize().await.must(), 0);
}

#[test]
fn every_typed_method_against_a_cluster_resp2_and_resp3() {
    let cluster = TestCluster::from_layout(3);
    let seed = addr(cluster.nodes[0].port);
    runtime().block_on(async {
        for resp3 in [false, true] {
            let mut options = ClusterOptions::default();
            options.connect.resp3 = resp3;
            let c = ClusterClient::builder([seed.as_str()]).options(options).build().await.must();
            assert_eq!(c.primaries().len(), 3);
            exercise(&c, if resp3 { "c3" } else { "c2" }).await;
            count_and_flush(&c).await;
        }
    });
}

#[test]
fn every_typed_method_against_one_node_resp2_and_resp3() {
    let node = Node::start(&[]);
    runtime().block_on(async {
        for resp3 in [false, true] {
            let c = Client::builder(&addr(node.port)).resp3(resp3).build().await.must();
            exercise(&c, if resp3 { "n3" } else { "n2" }).await;
            count_and_flush(&c).await;
        }
    });
}

/// `HGETALL`, `ZRANGE ... WITHSCORES` and `ZSCORE` really do come back in different shapes over RESP2 and
/// RESP3, and the typed methods turn both into the same values.
#[test]
fn reply_shapes_differ_by_protocol_but_values_agree() {
    let node = Node::start(&[]);
    runtime().block_on(async {
        let mut seen = Vec::new();
        for resp3 in [false, true] {
            let c = Client::builder(&addr(node.port)).resp3(resp3).build().await.must();
            c.hset_multiple("shape:h", &[("f", "v"), ("g", "w")]).await.must();
            c.zadd_multiple("shape:z", &[(1.5, "a"), (2.0, "b")]).await.must();

            let raw_h: Frame = c.query(&cmd("HGETALL").arg("shape:h")).await.must();
            let raw_z: Frame =
                c.query(&cmd("ZRANGE").arg("shape:z").arg(&0).arg(&-1).arg("WITHSCORES")).await.must();
            let raw_s: Frame = c.query(&cmd("ZSCORE").arg("shape:z").arg("a")).await.must();
            if resp3 {
                assert!(matches!(raw_h, Frame::Map(_)), "RESP3 HGETALL: {raw_h:?}");
                assert!(
                    matches!(&raw_z, Frame::Array(v) if matches!(v.first(), Some(Frame::Array(_)))),
                    "RESP3 ZRANGE WITHSCORES: {raw_z:?}"
                );
                assert_eq!(raw_s, Frame::Double(1.5));
            } else {
                assert!(matches!(&raw_h, Frame::Array(v) if v.len() == 4), "RESP2 HGETALL: {raw_h:?}");
                assert!(
                    matches!(&raw_z, Frame::Array(v) if v.len() == 4),
                    "RESP2 ZRANGE WITHSCORES: {raw_z:?}"
                );
                assert_eq!(raw_s, Frame::Bulk(b"1.5".to_vec()));
            }

            let h: HashMap<String, String> = c.hgetall("shape:h").await.must();
            let z: Vec<(String, f64)> = c.zrange_withscores("shape:z", 0, -1).await.must();
            let score = c.zscore("shape:z", "a").await.must();
            seen.push((h, z, score));
            c.flushall().await.must();
        }
        assert_eq!(seen[0], seen[1], "RESP2 and RESP3 convert to the same values");
        assert_eq!(seen[0].1, vec![(s("a"), 1.5), (s("b"), 2.0)]);
    });
}

/// A node that restarts: the next command finds the connection lost, reconnects once and succeeds. A node
/// that is gone: an error, quickly. A node that hangs: an error at the deadline, and the client works
/// again once the node answers.
#[test]
fn client_reconnects_and_never_hangs() {
    let mut node = Node::start(&[]);
    let port = node.port;
    runtime().block_on(async {
        let timeout = Duration::from_millis(500);
        let c = Client::builder(&addr(port)).timeout(timeout).connect_timeout(timeout).build().await.must();
        c.set("r", 1).await.must();

        node.kill9();
        node.restart();
        assert_eq!(node.port, port, "the restarted node lost its port");
        assert_eq!(c.get::<_, Option<String>>("r").await.must(), None, "a fresh node, reached again");

        node.pause();
        let started = Instant::now();
        let e = c.get::<_, Option<String>>("r").await.must_fail();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        assert!(started.elapsed() < timeout * 3, "took {:?}", started.elapsed());
        node.resume();
        assert_eq!(c.incr("after-pause").await.must(), 1, "a new connection after the timeout");

        node.kill9();
        let started = Instant::now();
        let e = c.get::<_, Option<String>>("r").await.must_fail();
        assert!(matches!(e, Error::Io(_)), "{e:?}");
        assert!(started.elapsed() < timeout * 3, "took {:?}", started.elapsed());
    });
}

#[test]
fn client_password_and_blocking_commands_on_their_own_connection() {
    let node = Node::start(&["--requirepass", "s3cret"]);
    runtime().block_on(async {
        let e = Client::builder(&addr(node.port)).password("wrong").build().await.err().unwrap();
        assert!(matches!(&e, Error::Server { .. }), "{e:?}");
        let e = Client::builder(&addr(node.port)).build().await.must().ping().await.must_fail();
        assert_eq!(e.code(), Some("NOAUTH"));

        let c = Client::builder(&addr(node.port)).password("s3cret").resp3(true).build().await.must();
        assert_eq!(c.ping().await.must(), "PONG");
        // BLPOP waits a second on its own connection while the shared one keeps answering.
        let waiter = {
            let c = c.clone();
            tokio::spawn(async move { c.blpop::<_, Option<(String, String)>>(&["queue"], 1.0).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        for i in 0..10 {
            c.set("other", i).await.must();
        }
        assert!(started.elapsed() < Duration::from_millis(500), "commands waited behind BLPOP");
        c.rpush("queue", &["job"]).await.must();
        assert_eq!(waiter.await.unwrap().must(), Some((s("queue"), s("job"))));
    });
}
