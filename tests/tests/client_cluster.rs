//! The smart client's acceptance (issue 7) against a real 3-node slotkv cluster and, when redis-server is
//! installed (CI installs it), against a real Redis Cluster: 100,000 keys across slots, cross-slot
//! pipelines of 10,000 commands, a live reshard under 8 writing tasks with zero errors and no lost
//! write, a killed node reported within the timeout, transactions, pub/sub, blocking pops, scan.

use slotkv_client::proto::Frame;
use slotkv_client::{cmd, ClusterClient, Cmd, Error};
use slotkv_proto::slot::key_slot;
use slotkv_tests::runtime;
use slotkv_tests::{wait_for, TestCluster};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn client_of(cluster: &TestCluster) -> ClusterClient {
    ClusterClient::builder([cluster.addr(0)]).build().await.unwrap_or_else(|e| panic!("client: {e}"))
}

fn redis_server() -> Option<&'static Path> {
    let p = Path::new("/usr/bin/redis-server");
    p.exists().then_some(p)
}

/// Moves `slot` from node `from` to node `to` the way `redis-cli --cluster reshard` does: IMPORTING,
/// MIGRATING, keys moved in batches (`SLOTKV MIGRATESLOT` on slotkv, `GETKEYSINSLOT` + `MIGRATE KEYS`
/// on Redis), then NODE on the target, the source, and the rest.
fn move_slot(cluster: &TestCluster, slot: u16, from: usize, to: usize) {
    let s = slot.to_string();
    let (from_id, to_id) = (cluster.ids[from].clone(), cluster.ids[to].clone());
    let port = cluster.port(to).to_string();
    cluster.conn(to).ok(&["CLUSTER", "SETSLOT", &s, "IMPORTING", &from_id]);
    cluster.conn(from).ok(&["CLUSTER", "SETSLOT", &s, "MIGRATING", &to_id]);
    let mut source = cluster.conn(from);
    loop {
        if cluster.is_redis() {
            let keys = source.cmd(&["CLUSTER", "GETKEYSINSLOT", &s, "50"]).strings();
            if keys.is_empty() {
                break;
            }
            let mut args: Vec<String> = ["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"]
                .iter()
                .map(|a| a.to_string())
                .collect();
            args.extend(keys);
            source.ok(&args);
        } else {
            let r = source.cmd(&["SLOTKV", "MIGRATESLOT", "127.0.0.1", &port, &s, "50", "5000"]).text();
            if r == "NOKEY" {
                break;
            }
            assert_eq!(r, "OK", "MIGRATESLOT");
        }
    }
    cluster.conn(to).ok(&["CLUSTER", "SETSLOT", &s, "NODE", &to_id]);
    cluster.conn(from).ok(&["CLUSTER", "SETSLOT", &s, "NODE", &to_id]);
    for n in (0..cluster.nodes.len()).filter(|&n| n != from && n != to) {
        cluster.conn(n).ok(&["CLUSTER", "SETSLOT", &s, "NODE", &to_id]);
    }
}

/// 100,000 keys written and read back through cross-slot pipelines of 10,000 commands.
async fn hundred_thousand_keys(client: &ClusterClient) {
    for chunk in 0..10 {
        let sets: Vec<Cmd> = (chunk * 10_000..(chunk + 1) * 10_000)
            .map(|i| cmd("SET").arg(&format!("key:{i}")).arg(&i))
            .collect();
        let replies = client.pipeline::<()>(&sets).await.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(replies.iter().all(Result::is_ok), "a SET failed");
    }
    let gets: Vec<Cmd> = (0..10_000).map(|i| cmd("GET").arg(&format!("key:{}", i * 10 + 7))).collect();
    let values = client.pipeline::<i64>(&gets).await.unwrap_or_else(|e| panic!("{e:?}"));
    for (i, v) in values.into_iter().enumerate() {
        assert_eq!(v, Ok(i as i64 * 10 + 7));
    }
    let mut total = 0;
    for addr in client.primaries() {
        total += client
            .connection(&addr)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .query::<i64>(&cmd("DBSIZE"))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
    assert_eq!(total, 100_000);
    let mut mget = cmd("MGET");
    for i in (0..100_000).step_by(97) {
        mget = mget.arg(&format!("key:{i}"));
    }
    let values: Vec<Option<i64>> = client.query(&mget).await.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(values, (0..100_000).step_by(97).map(Some).collect::<Vec<_>>());
}

/// 8 tasks write and read back their own keys while `reshard` moves slots; every reply must be right
/// and every write must be there afterwards.
async fn writes_survive_a_live_reshard(client: &ClusterClient, reshard: impl FnOnce() + Send + 'static) {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (client, stop) = (client.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) || n < 200 {
                    let key = format!("w{t}:{n}");
                    client
                        .query::<()>(&cmd("SET").arg(&key).arg(&n))
                        .await
                        .unwrap_or_else(|e| panic!("SET {key}: {e}"));
                    let got: u64 = client
                        .query(&cmd("GET").arg(&key))
                        .await
                        .unwrap_or_else(|e| panic!("GET {key}: {e}"));
                    assert_eq!(got, n);
                    let hits: i64 = client
                        .query(&cmd("INCR").arg(&format!("hits{t}")))
                        .await
                        .unwrap_or_else(|e| panic!("{e:?}"));
                    assert_eq!(hits as u64, n + 1);
                    n += 1;
                }
                (t, n)
            })
        })
        .collect();
    tokio::task::spawn_blocking(reshard).await.unwrap_or_else(|e| panic!("{e:?}"));
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let (t, written) = task.await.unwrap_or_else(|e| panic!("{e:?}"));
        let mut mget = cmd("MGET");
        for n in 0..written {
            mget = mget.arg(&format!("w{t}:{n}"));
        }
        let values: Vec<Option<u64>> = client.query(&mget).await.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(values, (0..written).map(Some).collect::<Vec<_>>(), "task {t} lost writes");
    }
}

/// Every slot of node 0 that holds keys of the workload, moved to node 1 (a few hundred).
fn reshard_some(cluster: &TestCluster) {
    let owners = cluster.owners(0);
    let slots: Vec<u16> = (0..8)
        .flat_map(|t| (0..60).map(move |n| key_slot(format!("w{t}:{n}").as_bytes())))
        .chain((0..8).map(|t| key_slot(format!("hits{t}").as_bytes())))
        .filter(|&s| owners[usize::from(s)] == Some(0))
        .collect::<std::collections::BTreeSet<u16>>()
        .into_iter()
        .collect();
    assert!(slots.len() > 20, "the workload has keys in {} of node 0's slots", slots.len());
    for s in slots {
        move_slot(cluster, s, 0, 1);
    }
}

async fn transactions(client: &ClusterClient) {
    let replies = client
        .transaction(&[
            cmd("SET").arg("{tx}a").arg("1"),
            cmd("INCR").arg("{tx}a"),
            cmd("LPUSH").arg("{tx}a").arg("x"),
        ])
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(replies[1], Ok(Frame::Integer(2)));
    assert_eq!(replies[2].as_ref().err().and_then(Error::code), Some("WRONGTYPE"));
    let e = client
        .transaction(&[cmd("SET").arg("a").arg("1"), cmd("SET").arg("b").arg("1")])
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(e.code(), Some("CROSSSLOT"));
    let e = client
        .transaction(&[cmd("SET").arg("{tx}a")])
        .await
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(e.code(), Some("EXECABORT"), "{e}");
}

async fn scan_all(client: &ClusterClient, expect: usize) {
    let keys = client.scan(Some("key:*"), Some(1000)).collect().await.unwrap_or_else(|e| panic!("{e:?}"));
    let unique: std::collections::HashSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), expect);
}

/// The whole acceptance workload on one cluster: keys, pipelines, scan, transactions, a live reshard.
fn acceptance(cluster: TestCluster) {
    runtime().block_on(async {
        let client = client_of(&cluster).await;
        hundred_thousand_keys(&client).await;
        scan_all(&client, 100_000).await;
        transactions(&client).await;
        let cluster = Arc::new(cluster);
        let c2 = Arc::clone(&cluster);
        writes_survive_a_live_reshard(&client, move || reshard_some(&c2)).await;
    });
}

#[test]
fn against_slotkv() {
    acceptance(TestCluster::from_layout(3));
}

#[test]
fn against_real_redis_cluster() {
    let Some(redis) = redis_server() else {
        eprintln!("skipped: no /usr/bin/redis-server (scripts/test installs it)");
        return;
    };
    acceptance(TestCluster::from_layout_bin(redis, 3));
}

#[test]
fn a_killed_node_is_an_error_within_the_timeout() {
    let mut cluster = TestCluster::from_layout(3);
    runtime().block_on(async {
        let client = ClusterClient::builder([cluster.addr(0)])
            .timeout(Duration::from_secs(2))
            .build()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let key = cluster.key_on(2, "dead");
        client.query::<()>(&cmd("SET").arg(&key).arg("v")).await.unwrap_or_else(|e| panic!("{e:?}"));
        cluster.nodes[2].kill9();
        let started = Instant::now();
        let e = client
            .query::<Option<String>>(&cmd("GET").arg(&key))
            .await
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert!(matches!(e, Error::Io(_) | Error::Timeout(_)), "{e:?}");
        assert!(started.elapsed() < Duration::from_millis(2500), "took {:?}", started.elapsed());
        // The other nodes' keys are unaffected.
        let other = cluster.key_on(1, "alive");
        client.query::<()>(&cmd("SET").arg(&other).arg("v")).await.unwrap_or_else(|e| panic!("{e:?}"));
        // A paused (hung) node is a timeout, not a hang.
        cluster.nodes[1].pause();
        let started = Instant::now();
        let e = client
            .query::<Option<String>>(&cmd("GET").arg(&other))
            .await
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        cluster.nodes[1].resume();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        assert!(started.elapsed() < Duration::from_millis(2500), "took {:?}", started.elapsed());
        assert_eq!(
            client.query::<String>(&cmd("GET").arg(&other)).await.unwrap_or_else(|e| panic!("{e:?}")),
            "v"
        );
    });
}

#[test]
fn blocking_pops_do_not_hold_up_other_commands() {
    let cluster = TestCluster::from_layout(3);
    runtime().block_on(async {
        let client = client_of(&cluster).await;
        let queue = cluster.key_on(1, "queue");
        let neighbour = cluster.key_on(1, "neighbour");
        let waiter = {
            let (client, queue) = (client.clone(), queue.clone());
            tokio::spawn(
                async move { client.query::<(String, String)>(&cmd("BLPOP").arg(&queue).arg(&10)).await },
            )
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The same node answers other commands at once: BLPOP holds a connection of its own.
        let started = Instant::now();
        client.query::<()>(&cmd("SET").arg(&neighbour).arg("x")).await.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(started.elapsed() < Duration::from_millis(500));
        client.query::<i64>(&cmd("RPUSH").arg(&queue).arg("job")).await.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            waiter.await.unwrap_or_else(|e| panic!("{e:?}")).unwrap_or_else(|e| panic!("{e:?}")),
            (queue, "job".to_string())
        );
    });
}

#[test]
fn pubsub_follows_moved_slots_and_restarted_nodes() {
    let mut cluster = TestCluster::from_layout(3);
    runtime().block_on(async {
        let client = client_of(&cluster).await;
        let mut sub = client.subscriber();
        sub.subscribe(&["news"]).await.unwrap_or_else(|e| panic!("{e:?}"));
        sub.psubscribe(&["ne*"]).await.unwrap_or_else(|e| panic!("{e:?}"));
        let shard = cluster.key_on(2, "shard-");
        sub.ssubscribe(&[&shard]).await.unwrap_or_else(|e| panic!("{e:?}"));
        client.query::<i64>(&cmd("PUBLISH").arg("news").arg("one")).await.unwrap_or_else(|e| panic!("{e:?}"));
        let mut got = [
            sub.next_message().await.unwrap_or_else(|| panic!("no message")),
            sub.next_message().await.unwrap_or_else(|| panic!("no message")),
        ];
        got.sort_by_key(|m| m.pattern.is_some());
        assert_eq!((got[0].channel.as_slice(), got[0].payload.as_slice()), (&b"news"[..], &b"one"[..]));
        assert_eq!(got[1].pattern.as_deref(), Some(&b"ne*"[..]));
        client.query::<i64>(&cmd("SPUBLISH").arg(&shard).arg("s1")).await.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(sub.next_message().await.unwrap_or_else(|| panic!("no message")).payload, b"s1");

        // The shard channel's slot moves to node 0: the subscription follows it.
        move_slot(&cluster, key_slot(shard.as_bytes()), 2, 0);
        let delivered =
            publish_until_heard(&client, &mut sub, cmd("SPUBLISH").arg(&shard).arg("moved")).await;
        assert_eq!(delivered, b"moved");

        // The node carrying the plain subscriptions restarts: they are made again.
        let main = client.primaries()[0].clone();
        let n = cluster
            .nodes
            .iter()
            .position(|node| main.ends_with(&format!(":{}", node.port)))
            .unwrap_or_else(|| panic!("{main} is not a node of the cluster"));
        cluster.nodes[n].kill9();
        cluster.nodes[n].restart();
        cluster.wait_ok(Duration::from_secs(15));
        let delivered = publish_until_heard(&client, &mut sub, cmd("PUBLISH").arg("news").arg("back")).await;
        assert_eq!(delivered, b"back");
    });
}

/// Publishes every 50 ms until the subscriber hears the message (re-subscribing takes a moment).
async fn publish_until_heard(
    client: &ClusterClient,
    sub: &mut slotkv_client::Subscriber,
    publish: Cmd,
) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = publish.args().last().cloned().unwrap_or_default();
    while Instant::now() < deadline {
        let _ = client.query::<i64>(&publish).await;
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(50), sub.next_message()).await {
            if m.payload == want {
                return m.payload;
            }
        }
    }
    panic!("the subscriber never heard {publish:?}");
}

#[test]
fn topology_changes_are_followed_without_errors() {
    let cluster = TestCluster::from_layout(3);
    runtime().block_on(async {
        let client = ClusterClient::builder([cluster.addr(0)])
            .refresh_interval(Some(Duration::from_millis(200)))
            .build()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        // Every slot of node 2 moves to node 1 (empty slots; node 1 claims them with a newer epoch): the
        // periodic refresh notices, and the client stops using node 2 without ever seeing an error.
        let owners = cluster.owners(0);
        let first = owners
            .iter()
            .position(|o| *o == Some(2))
            .unwrap_or_else(|| panic!("node 2 has no slot"))
            .to_string();
        let last = owners
            .iter()
            .rposition(|o| *o == Some(2))
            .unwrap_or_else(|| panic!("node 2 has no slot"))
            .to_string();
        cluster.conn(2).ok(&["CLUSTER", "DELSLOTSRANGE", &first, &last]);
        cluster.conn(1).ok(&["CLUSTER", "DELSLOTSRANGE", &first, &last]);
        cluster.conn(1).ok(&["CLUSTER", "ADDSLOTSRANGE", &first, &last]);
        cluster.conn(1).cmd(&["CLUSTER", "BUMPEPOCH"]);
        assert!(wait_for(Duration::from_secs(10), || (0..3).all(|n| !cluster.owners(n).contains(&Some(2)))));
        let gone = cluster.addr(2);
        assert!(
            wait_for(Duration::from_secs(5), || !client.primaries().contains(&gone)),
            "node 2 still listed: {:?}",
            client.primaries()
        );
        let keys: Vec<Cmd> = (0..1000).map(|i| cmd("SET").arg(&format!("t{i}")).arg(&i)).collect();
        let failed: Vec<_> = client
            .pipeline::<()>(&keys)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .into_iter()
            .filter_map(Result::err)
            .collect();
        assert!(failed.is_empty(), "{} failed, first: {:?}", failed.len(), failed.first());
        assert_eq!(cluster.conn(2).int(&["DBSIZE"]), 0);
    });
}
