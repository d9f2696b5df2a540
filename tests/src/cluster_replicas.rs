//! A cluster of three masters with one replica each, for the replication, failover and read-from-replica
//! tests: [`cluster_with_replicas`] starts it and waits until every replica is in sync; [`role`] reads a
//! node's role as another node sees it.

use crate::{free_cluster_port, wait_for, Node, TestCluster};
use std::path::Path;
use std::time::Duration;

/// Three masters (layout) and one replica of each, started from `bin` with `cluster-node-timeout`
/// `node_timeout_ms`; replica `i + 3` follows master `i`.
pub fn cluster_with_replicas(bin: &Path, node_timeout_ms: u64) -> TestCluster {
    let timeout = node_timeout_ms.to_string();
    let extra = ["--cluster-node-timeout", &timeout, "--repl-diskless-sync-delay", "0"];
    let mut c = TestCluster::from_layout_args(bin, 3, &extra);
    let root =
        tempfile::Builder::new().prefix("slotkv-replicas-").tempdir().unwrap_or_else(|e| panic!("{e}"));
    for i in 0..3 {
        let dir = root.path().join(format!("replica{i}"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let node = Node::builder(bin)
            .dir(&dir)
            .port(free_cluster_port())
            .args(&["--cluster-enabled", "yes"])
            .args(&extra)
            .start();
        let port = c.port(0).to_string();
        node.conn().ok(&["CLUSTER", "MEET", "127.0.0.1", &port]);
        let id = node.conn().cmd(&["CLUSTER", "MYID"]).text();
        c.nodes.push(node);
        c.ids.push(id);
    }
    // Keep the replicas' directories for the test's life.
    std::mem::forget(root);
    // Every node lists every other by its real id (a node still in handshake counts in
    // cluster_known_nodes under a temporary id).
    let known = |c: &TestCluster| {
        (0..6).all(|i| {
            let nodes = c.conn(i).cluster_nodes();
            c.ids
                .iter()
                .all(|id| nodes.iter().any(|n| &n.id == id && !n.flags.iter().any(|f| f == "handshake")))
        })
    };
    if !wait_for(Duration::from_secs(30), || known(&c)) {
        let views: Vec<String> = (0..6).map(|i| c.conn(i).cmd(&["CLUSTER", "NODES"]).text()).collect();
        panic!("the replicas did not meet the cluster:\n{}", views.join("\n"));
    }
    for i in 0..3 {
        let master = c.ids[i].clone();
        c.conn(i + 3).ok(&["CLUSTER", "REPLICATE", &master]);
    }
    let synced = |c: &TestCluster| {
        (3..6).all(|i| {
            let info = c.conn(i).cmd(&["INFO", "replication"]).text();
            info.contains("master_link_status:up")
        })
    };
    assert!(wait_for(Duration::from_secs(20), || synced(&c)), "the replicas did not sync");
    c.wait_ok(Duration::from_secs(20));
    c
}

/// The role node `via` gives node `i`: `master` or `slave`.
pub fn role(c: &TestCluster, via: usize, i: usize) -> String {
    let id = &c.ids[i];
    c.conn(via)
        .cluster_nodes()
        .into_iter()
        .find(|l| &l.id == id)
        .map(|l| if l.flags.iter().any(|f| f == "slave") { "slave".into() } else { "master".into() })
        .unwrap_or_default()
}

/// `calls=` of `cmdstat_<name>` in node `i`'s `INFO commandstats` (0 when never called): which node served
/// a command.
pub fn calls(c: &TestCluster, i: usize, name: &str) -> u64 {
    let info = c.conn(i).cmd(&["INFO", "commandstats"]).text();
    let prefix = format!("cmdstat_{name}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
