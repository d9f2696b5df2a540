//! The Rust client (issue 7, first part) against a real node: commands and conversions, pipelines, many
//! tasks sharing one connection, RESP3 and AUTH, errors, and a node that goes away.

use slotkv_client::{cmd, ConnectOptions, Connection, Error};
use slotkv_tests::runtime;
use slotkv_tests::Node;
use std::collections::HashMap;

fn addr(node: &Node) -> String {
    format!("127.0.0.1:{}", node.port)
}

#[test]
fn commands_and_replies_convert() {
    let node = Node::start(&[]);
    runtime().block_on(async {
        let c = Connection::connect(&addr(&node)).await.unwrap();
        c.query::<()>(&cmd("SET").arg("k").arg("v")).await.unwrap();
        assert_eq!(c.query::<Option<String>>(&cmd("GET").arg("k")).await.unwrap(), Some("v".into()));
        assert_eq!(c.query::<Option<String>>(&cmd("GET").arg("missing")).await.unwrap(), None);
        assert_eq!(c.query::<i64>(&cmd("INCRBY").arg("n").arg(&5i64)).await.unwrap(), 5);
        c.query::<()>(&cmd("HSET").arg("h").arg("a").arg(&1i64).arg("b").arg(&2i64)).await.unwrap();
        let h: HashMap<String, i64> = c.query(&cmd("HGETALL").arg("h")).await.unwrap();
        assert_eq!(h.get("b"), Some(&2));
        c.query::<()>(&cmd("ZADD").arg("z").arg(&1.5f64).arg("m")).await.unwrap();
        let flat: Vec<String> =
            c.query(&cmd("ZRANGE").arg("z").arg(&0i64).arg(&-1i64).arg("WITHSCORES")).await.unwrap();
        assert_eq!(flat, vec!["m".to_string(), "1.5".to_string()]);
        assert_eq!(c.query::<f64>(&cmd("ZSCORE").arg("z").arg("m")).await.unwrap(), 1.5);
        let e = c.query::<String>(&cmd("LPUSH").arg("k").arg("x")).await.unwrap_err();
        assert_eq!(e.code(), Some("WRONGTYPE"));
        let e = c.query::<i64>(&cmd("GET").arg("k")).await.unwrap_err();
        assert!(matches!(e, Error::Type { .. }), "{e:?}");
    });
}

#[test]
fn pipelines_keep_order_and_per_command_errors() {
    let node = Node::start(&[]);
    runtime().block_on(async {
        let c = Connection::connect(&addr(&node)).await.unwrap();
        let cmds: Vec<_> = (0..1000).map(|i| cmd("INCR").arg(&format!("p{}", i % 10))).collect();
        let replies = c.pipeline::<i64>(&cmds).await.unwrap();
        assert_eq!(replies.len(), 1000);
        assert_eq!(replies[999], Ok(100));
        let mixed = c
            .pipeline::<String>(&[cmd("SET").arg("a").arg("1"), cmd("NOSUCH"), cmd("GET").arg("a")])
            .await
            .unwrap();
        assert!(mixed[1].as_ref().is_err_and(|e| e.code() == Some("ERR")));
        assert_eq!(mixed[2], Ok("1".to_string()));
    });
}

#[test]
fn many_tasks_share_one_connection() {
    let node = Node::start(&[]);
    runtime().block_on(async {
        let c = Connection::connect(&addr(&node)).await.unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|t| {
                let c = c.clone();
                tokio::spawn(async move {
                    for i in 0..200 {
                        let key = format!("t{t}:{i}");
                        c.query::<()>(&cmd("SET").arg(&key).arg(&i)).await.unwrap();
                        assert_eq!(c.query::<i64>(&cmd("GET").arg(&key)).await.unwrap(), i);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(c.query::<i64>(&cmd("DBSIZE")).await.unwrap(), 32 * 200);
    });
}

#[test]
fn resp3_and_auth() {
    let node = Node::start(&["--requirepass", "s3cret"]);
    runtime().block_on(async {
        let plain = Connection::connect(&addr(&node)).await.unwrap();
        assert_eq!(plain.query::<String>(&cmd("GET").arg("k")).await.unwrap_err().code(), Some("NOAUTH"));
        let opts = ConnectOptions { password: Some("s3cret".into()), resp3: true, ..Default::default() };
        let c = Connection::connect_with(&addr(&node), &opts).await.unwrap();
        c.query::<()>(&cmd("HSET").arg("h").arg("f").arg("v")).await.unwrap();
        let h: HashMap<String, String> = c.query(&cmd("HGETALL").arg("h")).await.unwrap();
        assert_eq!(h.get("f").map(String::as_str), Some("v"));
        let bad = ConnectOptions { password: Some("wrong".into()), ..Default::default() };
        let e =
            Connection::connect_with(&addr(&node), &bad).await.err().map(|e| e.code().map(str::to_string));
        assert_eq!(e, Some(Some("WRONGPASS".to_string())));
    });
}

#[test]
fn a_node_that_goes_away_fails_requests_cleanly() {
    let mut node = Node::start(&[]);
    runtime().block_on(async {
        let c = Connection::connect(&addr(&node)).await.unwrap();
        c.query::<()>(&cmd("SET").arg("k").arg("v")).await.unwrap();
        node.kill9();
        let e = c.query::<String>(&cmd("GET").arg("k")).await.unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{e:?}");
        assert!(matches!(c.query::<String>(&cmd("GET").arg("k")).await, Err(Error::Io(_))));
    });
}

// ---- the cluster client ----

use slotkv_client::ClusterClient;
use slotkv_tests::TestCluster;

#[test]
fn cluster_client_routes_and_follows_redirects() {
    let cluster = TestCluster::from_layout(3);
    let seed = format!("127.0.0.1:{}", cluster.port(0));
    runtime().block_on(async {
        let client = ClusterClient::builder([seed.as_str()]).build().await.unwrap();
        for i in 0..1000 {
            client.query::<()>(&cmd("SET").arg(&format!("k{i}")).arg(&i)).await.unwrap();
        }
        for i in (0..1000).step_by(37) {
            assert_eq!(client.query::<i64>(&cmd("GET").arg(&format!("k{i}"))).await.unwrap(), i);
        }
        // Every node holds only its own slots' keys: the client sent each key to its owner.
        let total: i64 = (0..3).map(|n| cluster.conn(n).int(&["DBSIZE"])).sum();
        assert_eq!(total, 1000);

        // MOVED: a slot changes owner behind the client's back (empty slot, moved by SETSLOT NODE).
        let key = cluster.key_on(0, "moving");
        let slot = slotkv_proto::key_slot(key.as_bytes()).to_string();
        let id1 = cluster.ids[1].clone();
        for n in 0..3 {
            cluster.conn(n).ok(&["CLUSTER", "SETSLOT", &slot, "NODE", &id1]);
        }
        client.query::<()>(&cmd("SET").arg(&key).arg("after-move")).await.unwrap();
        assert_eq!(cluster.conn(1).bulk(&["GET", &key]), Some(b"after-move".to_vec()));

        // ASK: the key's slot is being migrated from node 1 to node 2 and the key is already there.
        let id2 = cluster.ids[2].clone();
        cluster.conn(2).ok(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &id1]);
        cluster.conn(1).ok(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &id2]);
        let port2 = cluster.port(2).to_string();
        cluster.conn(1).ok(&["MIGRATE", "127.0.0.1", &port2, &key, "0", "5000"]);
        let got: String = client.query(&cmd("GET").arg(&key)).await.unwrap();
        assert_eq!(got, "after-move");
        // Errors that are not redirects come back as they are.
        let e = client.query::<()>(&cmd("LPUSH").arg("k1").arg("x")).await.unwrap_err();
        assert_eq!(e.code(), Some("WRONGTYPE"));
    });
}

#[test]
fn cluster_client_splits_multi_key_commands_by_slot() {
    let cluster = TestCluster::from_layout(3);
    let seed = format!("127.0.0.1:{}", cluster.port(1));
    runtime().block_on(async {
        let client = ClusterClient::builder([seed.as_str()]).build().await.unwrap();
        let mut mset = cmd("MSET");
        for i in 0..50 {
            mset = mset.arg(&format!("m{i}")).arg(&i);
        }
        client.query::<()>(&mset).await.unwrap();
        // The keys really are spread: every node got some.
        for n in 0..3 {
            assert!(cluster.conn(n).int(&["DBSIZE"]) > 0, "node {n} got none of the keys");
        }
        let mut mget = cmd("MGET");
        for i in (0..50).rev() {
            mget = mget.arg(&format!("m{i}"));
        }
        mget = mget.arg("missing");
        let values: Vec<Option<i64>> = client.query(&mget).await.unwrap();
        let mut want: Vec<Option<i64>> = (0..50).rev().map(Some).collect();
        want.push(None);
        assert_eq!(values, want);
        let exists = cmd("EXISTS").arg("m1").arg("m2").arg("m3").arg("nope");
        assert_eq!(client.query::<i64>(&exists).await.unwrap(), 3);
        let mut del = cmd("DEL");
        for i in 0..50 {
            del = del.arg(&format!("m{i}"));
        }
        assert_eq!(client.query::<i64>(&del).await.unwrap(), 50);
        let e = client.query::<()>(&cmd("MSETNX").arg("a").arg("1").arg("b").arg("2")).await.unwrap_err();
        assert_eq!(e.code(), Some("CROSSSLOT"));
    });
}

#[test]
fn cluster_client_pipelines_across_nodes_in_order() {
    let cluster = TestCluster::from_layout(3);
    let seed = format!("127.0.0.1:{}", cluster.port(2));
    runtime().block_on(async {
        let client = ClusterClient::builder([seed.as_str()]).build().await.unwrap();
        // A slot moved behind the client's back: its commands come back through MOVED, the rest directly.
        let key = cluster.key_on(0, "pipe-moved");
        let slot = slotkv_proto::key_slot(key.as_bytes()).to_string();
        let id1 = cluster.ids[1].clone();
        for n in 0..3 {
            cluster.conn(n).ok(&["CLUSTER", "SETSLOT", &slot, "NODE", &id1]);
        }
        let mut cmds = Vec::new();
        for i in 0..300 {
            cmds.push(cmd("SET").arg(&format!("p{i}")).arg(&i));
            cmds.push(cmd("INCR").arg(&format!("p{i}")));
        }
        cmds.push(cmd("SET").arg(&key).arg("moved"));
        cmds.push(cmd("LPUSH").arg("p0").arg("x"));
        let replies = client.pipeline::<slotkv_client::proto::Frame>(&cmds).await.unwrap();
        assert_eq!(replies.len(), 602);
        for i in 0..300 {
            assert_eq!(
                replies[2 * i + 1].as_ref().ok().and_then(|f| f.as_int()),
                Some(i as i64 + 1),
                "INCR p{i}"
            );
        }
        assert!(replies[600].is_ok(), "{:?}", replies[600]);
        assert_eq!(replies[601].as_ref().err().and_then(|e| e.code()), Some("WRONGTYPE"));
        assert_eq!(cluster.conn(1).bulk(&["GET", &key]), Some(b"moved".to_vec()));
    });
}
