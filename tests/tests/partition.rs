//! A network partition of a master, made with a network namespace: the master runs in its own namespace,
//! joined to the others by a veth pair that the test takes down. The majority side promotes the master's
//! replica; the isolated master, seeing only a minority, stops serving (`CLUSTERDOWN`); once the link is
//! back, it becomes a replica and every node agrees on exactly one master per slot.
//!
//! Needs root (to make the namespace); without it the test says so and passes without running.

use slotkv_tests::{cluster_bin, free_cluster_port, parse_nodes, run_tool, slot_owners, wait_for, Node};
use std::time::{Duration, Instant};

const NODE_TIMEOUT_MS: u64 = 2000;
/// The namespace side (the isolated master) and the host side of the veth pair.
const INSIDE: &str = "10.213.7.2";
const OUTSIDE: &str = "10.213.7.1";

/// The namespace and veth pair, removed on drop.
struct Net {
    ns: String,
    veth: String,
}

impl Net {
    fn create() -> Option<Net> {
        let tag = std::process::id() % 100_000;
        let net = Net { ns: format!("slk-part-{tag}"), veth: format!("slkp{tag}") };
        let peer = format!("slkq{tag}");
        let steps: Vec<Vec<String>> = vec![
            vec!["netns".into(), "add".into(), net.ns.clone()],
            vec![
                "link".into(),
                "add".into(),
                net.veth.clone(),
                "type".into(),
                "veth".into(),
                "peer".into(),
                "name".into(),
                peer.clone(),
            ],
            vec!["link".into(), "set".into(), peer.clone(), "netns".into(), net.ns.clone()],
            vec!["addr".into(), "add".into(), format!("{OUTSIDE}/24"), "dev".into(), net.veth.clone()],
            vec!["link".into(), "set".into(), net.veth.clone(), "up".into()],
            vec![
                "-n".into(),
                net.ns.clone(),
                "addr".into(),
                "add".into(),
                format!("{INSIDE}/24"),
                "dev".into(),
                peer.clone(),
            ],
            vec!["-n".into(), net.ns.clone(), "link".into(), "set".into(), peer, "up".into()],
            vec!["-n".into(), net.ns.clone(), "link".into(), "set".into(), "lo".into(), "up".into()],
        ];
        for args in steps {
            let out = run_tool("ip", &args);
            if !out.status.success() {
                eprintln!("skipping the partition test: ip {}: {}", args.join(" "), out.stderr.trim());
                return None;
            }
        }
        Some(net)
    }

    fn link(&self, up: bool) {
        let out = run_tool("ip", &["link", "set", &self.veth, if up { "up" } else { "down" }]);
        assert!(out.status.success(), "{out}");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = run_tool("ip", &["link", "del", &self.veth]);
        let _ = run_tool("ip", &["netns", "del", &self.ns]);
    }
}

/// `redis-cli` against `host:port`, from inside the namespace when `ns` is given.
fn cli(ns: Option<&str>, host: &str, port: u16, args: &[&str]) -> String {
    let port = port.to_string();
    let mut full: Vec<&str> = Vec::new();
    if let Some(ns) = ns {
        full.extend(["netns", "exec", ns, "redis-cli"]);
    }
    full.extend(["-h", host, "-p", &port]);
    full.extend_from_slice(args);
    let out = if ns.is_some() { run_tool("ip", &full) } else { run_tool("redis-cli", &full) };
    out.stdout.trim().to_string()
}

fn info_value(text: &str, field: &str) -> String {
    text.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')).unwrap_or_default().trim().to_string()
}

#[test]
fn a_partitioned_master_is_replaced_and_rejoins_as_a_replica() {
    let Some(net) = Net::create() else { return };
    let timeout = NODE_TIMEOUT_MS.to_string();
    let common = [
        "--cluster-enabled",
        "yes",
        "--cluster-node-timeout",
        &timeout,
        "--protected-mode",
        "no",
        "--repl-diskless-sync-delay",
        "0",
    ];
    // Node 0, the master to isolate, inside the namespace; nodes 1-5 outside, reachable from inside at
    // OUTSIDE (the bus binds the first address), and from the test at 127.0.0.1.
    let root =
        tempfile::Builder::new().prefix("slotkv-partition-").tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut nodes: Vec<Node> = Vec::new();
    let mut ports = Vec::new();
    for i in 0..6 {
        let dir = root.path().join(format!("n{i}"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let port = free_cluster_port();
        let b = Node::builder(&cluster_bin()).dir(&dir).port(port).args(&common);
        let node = if i == 0 {
            b.wrapper(&["ip", "netns", "exec", &net.ns])
                .args(&["--bind", INSIDE, "--cluster-announce-ip", INSIDE])
                .spawn()
        } else {
            b.args(&["--bind", &format!("{OUTSIDE} 127.0.0.1"), "--cluster-announce-ip", OUTSIDE]).start()
        };
        ports.push(port);
        nodes.push(node);
    }
    let host = |i: usize| if i == 0 { INSIDE } else { OUTSIDE };
    let run = |i: usize, args: &[&str]| cli(None, host(i), ports[i], args);
    assert!(
        wait_for(Duration::from_secs(10), || run(0, &["PING"]) == "PONG"),
        "node 0 did not start in the namespace"
    );
    // Three masters with a third of the slots each, replicas 3, 4, 5 of masters 0, 1, 2.
    let thirds = [("0", "5460"), ("5461", "10922"), ("10923", "16383")];
    for (i, (a, b)) in thirds.iter().enumerate() {
        assert_eq!(run(i, &["CLUSTER", "ADDSLOTSRANGE", a, b]), "OK");
        assert_eq!(run(i, &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()]), "OK");
    }
    for i in 1..6 {
        assert_eq!(run(i, &["CLUSTER", "MEET", INSIDE, &ports[0].to_string()]), "OK");
    }
    let ids: Vec<String> = (0..6).map(|i| run(i, &["CLUSTER", "MYID"])).collect();
    let known = || (0..6).all(|i| info_value(&run(i, &["CLUSTER", "INFO"]), "cluster_known_nodes") == "6");
    assert!(wait_for(Duration::from_secs(30), known), "the nodes did not meet");
    for (i, master) in ids.iter().take(3).enumerate() {
        assert_eq!(run(i + 3, &["CLUSTER", "REPLICATE", master]), "OK");
    }
    let linked = || (3..6).all(|i| run(i, &["INFO", "replication"]).contains("master_link_status:up"));
    assert!(wait_for(Duration::from_secs(30), linked), "the replicas did not sync");
    let ok = |range: std::ops::Range<usize>| {
        range.clone().all(|i| info_value(&run(i, &["CLUSTER", "INFO"]), "cluster_state") == "ok")
    };
    assert!(wait_for(Duration::from_secs(20), || ok(0..6)), "the cluster is not ok");

    net.link(false);
    let cut = Instant::now();
    let promoted = || {
        let nodes = parse_nodes(&format!("{}\n", run(1, &["CLUSTER", "NODES"])));
        nodes.iter().any(|n| n.id == ids[3] && n.flags.iter().any(|f| f == "master"))
    };
    assert!(
        wait_for(Duration::from_millis(NODE_TIMEOUT_MS + 6000), promoted),
        "the replica was not promoted"
    );
    let took = cut.elapsed();
    eprintln!("replica promoted {took:?} after the partition");
    assert!(took <= Duration::from_millis(NODE_TIMEOUT_MS + 2000), "promotion took {took:?}");
    // The isolated master sees a minority: it stops serving.
    let inside = |args: &[&str]| cli(Some(&net.ns), INSIDE, ports[0], args);
    assert!(
        wait_for(Duration::from_secs(10), || info_value(&inside(&["CLUSTER", "INFO"]), "cluster_state")
            == "fail"),
        "the isolated master still says ok"
    );
    assert!(inside(&["SET", "{a}x", "1"]).starts_with("CLUSTERDOWN"), "the isolated master takes writes");
    assert!(wait_for(Duration::from_secs(10), || ok(1..6)), "the majority side is not ok");

    net.link(true);
    let rejoined = || {
        let view = parse_nodes(&format!("{}\n", run(0, &["CLUSTER", "NODES"])));
        view.iter().any(|n| n.id == ids[0] && n.flags.iter().any(|f| f == "slave") && n.master == ids[3])
    };
    assert!(wait_for(Duration::from_secs(20), rejoined), "the old master did not become a replica");
    // Every node: one master per slot, the same for all, and never the old master.
    let agree = || {
        let owners: Vec<Vec<Option<String>>> = (0..6)
            .map(|i| slot_owners(&parse_nodes(&format!("{}\n", run(i, &["CLUSTER", "NODES"])))))
            .collect();
        owners.windows(2).all(|w| w[0] == w[1])
            && owners[0].iter().all(|o| o.as_ref().is_some_and(|o| *o != ids[0]))
    };
    assert!(wait_for(Duration::from_secs(20), agree), "the nodes do not agree on the slot owners");
    assert!(
        wait_for(Duration::from_secs(20), || ok(0..6)),
        "the cluster is not ok after the partition healed"
    );
    drop(nodes);
}
