//! The `slotkv` CLI end to end (issue 8): real `slotkv` and `slotkv-node` processes on free ports, data
//! in temporary directories. A smart client keeps writing and reading while slots move: no client error
//! and no lost key is allowed.

use slotkv_client::{cmd, ClusterClient};
use slotkv_tests::cli::{fast_tempdir, replicas_up, slotkv, LocalCluster, FAST_REPLICATION};
use slotkv_tests::{cluster_bin, free_cluster_port, wait_for, Conn, Node, Reply, TestCluster};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn client(addr: &str) -> ClusterClient {
    ClusterClient::builder([addr]).build().await.unwrap_or_else(|e| panic!("cluster client on {addr}: {e}"))
}

async fn write_keys(c: &ClusterClient, range: std::ops::Range<u64>) {
    let cmds: Vec<_> =
        range.clone().map(|i| cmd("SET").arg(&format!("key:{i}")).arg(&format!("v{i}"))).collect();
    for r in c.pipeline::<()>(&cmds).await.unwrap_or_else(|e| panic!("pipeline: {e}")) {
        r.unwrap_or_else(|e| panic!("SET: {e}"));
    }
}

/// Every key of `range` has its value.
async fn assert_keys(c: &ClusterClient, range: std::ops::Range<u64>) {
    for chunk in range.collect::<Vec<_>>().chunks(1000) {
        let cmds: Vec<_> = chunk.iter().map(|i| cmd("GET").arg(&format!("key:{i}"))).collect();
        let got = c.pipeline::<Option<String>>(&cmds).await.unwrap_or_else(|e| panic!("pipeline: {e}"));
        for (i, v) in chunk.iter().zip(got) {
            let v = v.unwrap_or_else(|e| panic!("GET key:{i}: {e}"));
            assert_eq!(v.as_deref(), Some(format!("v{i}").as_str()), "key:{i}");
        }
    }
}

/// The sum of `DBSIZE` over the nodes, from `slotkv call DBSIZE`.
fn total_keys(addr: &str) -> i64 {
    let run = slotkv(&["--addr", addr, "call", "DBSIZE"]);
    assert_eq!(run.code, 0, "{run}");
    run.stdout.lines().filter_map(|l| l.rsplit("(integer) ").next()?.trim().parse::<i64>().ok()).sum()
}

fn slots_of(port: u16) -> usize {
    let mut c = Conn::connect(port);
    let me = c
        .cluster_nodes()
        .into_iter()
        .find(|l| l.flags.iter().any(|f| f == "myself"))
        .unwrap_or_else(|| panic!("no myself line on port {port}"));
    me.slots
        .iter()
        .filter(|s| !s.starts_with('['))
        .map(|s| match s.split_once('-') {
            Some((a, b)) => {
                let n = |x: &str| x.parse::<usize>().unwrap_or_else(|e| panic!("slot range {s}: {e}"));
                n(b) - n(a) + 1
            }
            None => 1,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_down_up_keeps_the_data() {
    let local = LocalCluster::new(3);
    let run = local.up();
    assert!(run.stdout.contains("[OK] cluster_state:ok, 3 nodes"), "{run}");
    assert!(run.stdout.contains(&format!("redis-cli -c -h 127.0.0.1 -p {}", local.ports[0])), "{run}");
    let c = client(&local.addr(0)).await;
    write_keys(&c, 0..2000).await;
    // `up` on a running cluster changes nothing.
    let again = local.up();
    assert!(again.stdout.contains("running"), "{again}");
    let status = local.run(&["status"]);
    assert_eq!(status.code, 0, "{status}");
    assert_eq!(status.stdout.matches(" ok").count(), 3, "{status}");
    let down = local.run(&["down"]);
    assert_eq!(down.code, 0, "{down}");
    assert_eq!(down.stdout.matches("stopped node").count(), 3, "{down}");
    assert_eq!(local.run(&["status"]).code, 1, "status of a stopped cluster is a problem");
    for p in &local.ports {
        assert!(std::net::TcpStream::connect(("127.0.0.1", *p)).is_err(), "port {p} still open after down");
    }
    let run = local.up();
    assert!(run.stdout.contains("started"), "{run}");
    let c = client(&local.addr(1)).await;
    assert_keys(&c, 0..2000).await;
    let json = local.run(&["--json", "status"]);
    assert_eq!(json.code, 0, "{json}");
    assert!(json.stdout.contains("\"ok\": true"), "{json}");

    // A bad file is a usage error that names the field; a good one with defaults elsewhere is fine.
    let bad = local.dir.path().join("bad.toml");
    std::fs::write(&bad, "[nodes]\nportz = [1]\n").unwrap();
    let run = slotkv(&[std::ffi::OsStr::new("-c"), bad.as_os_str(), "up".as_ref()]);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("portz"), "{run}");
    std::fs::write(&bad, "[nodes]\nappendfsync = \"sometimes\"\n").unwrap();
    let run = slotkv(&[std::ffi::OsStr::new("-c"), bad.as_os_str(), "up".as_ref()]);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("sometimes"), "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_check_and_fix_a_broken_cluster() {
    let root = fast_tempdir("slotkv-cli-");
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            let dir = root.path().join(format!("n{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            Node::builder(&cluster_bin()).dir(&dir).args(&["--cluster-enabled", "yes"]).start()
        })
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
    assert_eq!(slotkv(&["create", "--help"]).code, 0, "bench/lib.sh relies on `create --help`");
    assert_eq!(slotkv(&["create", "--yes"]).code, 2, "no node: a usage error");
    let mut args = vec!["create", "--yes"];
    args.extend(addrs.iter().map(String::as_str));
    let run = slotkv(&args);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("[OK] 3 nodes joined"), "{run}");
    assert_eq!(slotkv(&args).code, 1, "creating again: the nodes are not empty");
    let run = slotkv(&["check", &addrs[0]]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("[OK] All 16384 slots covered."), "{run}");

    let c = client(&addrs[0]).await;
    write_keys(&c, 0..3000).await;
    assert_eq!(total_keys(&addrs[0]), 3000);
    let ids: Vec<String> = nodes.iter().map(|n| n.conn().cmd(&["CLUSTER", "MYID"]).text()).collect();
    let slot = |key: &str| slotkv_proto::key_slot(key.as_bytes());
    // Break it three ways:
    // 1. a move of key:0's slot from its owner to another node, interrupted after one key moved;
    let s1 = slot("key:0");
    let owner =
        (0..3).find(|&i| nodes[i].conn().int(&["CLUSTER", "COUNTKEYSINSLOT", &s1.to_string()]) > 0).unwrap();
    let other = (owner + 1) % 3;
    nodes[other].conn().ok(&["CLUSTER", "SETSLOT", &s1.to_string(), "IMPORTING", &ids[owner]]);
    nodes[owner].conn().ok(&["CLUSTER", "SETSLOT", &s1.to_string(), "MIGRATING", &ids[other]]);
    let port = nodes[other].port.to_string();
    nodes[owner].conn().ok(&["MIGRATE", "127.0.0.1", &port, "key:0", "0", "5000"]);
    // 2. a slot of node 2 that node 0 was told to import (without a migration on node 2);
    nodes[0].conn().ok(&["CLUSTER", "SETSLOT", "16000", "IMPORTING", &ids[2]]);
    // 3. slots node 1 no longer serves (their keys are still on it).
    nodes[1].conn().ok(&["CLUSTER", "DELSLOTSRANGE", "6000", "6099"]);

    let run = slotkv(&["check", &addrs[1]]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains(&format!("open_slot: slot {s1}")), "{run}");
    assert!(run.stdout.contains("open_slot: slot 16000"), "{run}");
    assert!(run.stdout.contains("unassigned: 100 slots are served by no node: 6000-6099"), "{run}");
    let json = slotkv(&["--json", "check", &addrs[1]]);
    assert_eq!(json.code, 1);
    assert!(json.stdout.contains("\"kind\": \"unassigned\""), "{json}");

    let dry = slotkv(&["fix", "--dry-run", &addrs[1]]);
    assert_eq!(dry.code, 1, "{dry}");
    assert!(dry.stdout.contains(&format!("would finish moving slot {s1}")), "{dry}");
    assert_eq!(slotkv(&["check", &addrs[1]]).code, 1, "a dry run changes nothing");

    let run = slotkv(&["fix", &addrs[1]]);
    assert_eq!(run.code, 0, "{run}");
    let run = slotkv(&["check", &addrs[0]]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(total_keys(&addrs[0]), 3000);
    let c = client(&addrs[2]).await;
    assert_keys(&c, 0..3000).await;
    let expected = 5462 + usize::from(other == 1) - usize::from(owner == 1);
    assert_eq!(slots_of(nodes[1].port), expected, "node 1 serves its slots again");

    let run = slotkv(&["keyslot", "somekey"]);
    assert_eq!((run.code, run.stdout.trim()), (0, "11058"));
    assert_eq!(slotkv(&["reshard", "--from", &addrs[0], "--to", &addrs[0], "--slots", "1", "--yes"]).code, 2);
    assert_eq!(slotkv(&["reshard", "--from", &addrs[0], "--slots", "1"]).code, 2, "--to is required");
}

/// `create --replicas 1` on 6 fresh nodes gives 3 masters and 3 replicas with their links up; a master
/// killed with SIGKILL makes `check` fail until its replica takes over (`cluster-node-timeout` 2 s), then
/// `check` passes with the promoted master and warns it has no replica, until `add-node --replica-of`
/// gives it one; `failover` switches a shard over without losing a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_replicas_check_and_failover() {
    let root = fast_tempdir("slotkv-cli-repl-");
    let start = |i: usize| {
        let dir = root.path().join(format!("n{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = vec!["--cluster-enabled", "yes"];
        args.extend(FAST_REPLICATION);
        Node::builder(&cluster_bin()).dir(&dir).port(free_cluster_port()).args(&args).start()
    };
    let mut nodes: Vec<Node> = (0..6).map(start).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
    let few = slotkv(&["create", "--yes", "--replicas", "2", &addrs[0], &addrs[1]]);
    assert_eq!(few.code, 2, "{few}");
    assert!(few.stderr.contains("too few"), "{few}");
    let mut args = vec!["create", "--yes", "--replicas", "1"];
    args.extend(addrs.iter().map(String::as_str));
    let run = slotkv(&args);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("3 replicas in sync"), "{run}");
    for i in 3..6 {
        assert!(run.stdout.contains(&format!("{}  replica of {}", addrs[i], addrs[i - 3])), "{run}");
    }
    let check = slotkv(&["check", &addrs[0]]);
    assert_eq!(check.code, 0, "{check}");
    assert_eq!(replicas_up(&check.stdout), 3, "{check}");
    assert!(check.stdout.contains("[OK] 3 replicas, every link up"), "{check}");
    assert!(!check.stdout.contains("[WARN]"), "{check}");
    let json = slotkv(&["--json", "check", &addrs[5]]);
    assert_eq!(json.code, 0, "{json}");
    assert!(json.stdout.contains("\"replicas_up\": 3"), "{json}");
    assert_eq!(json.stdout.matches("\"link\": \"up\"").count(), 6, "rows and shards: {json}");

    let c = client(&addrs[0]).await;
    write_keys(&c, 0..2000).await;
    nodes[1].kill9();
    let down = slotkv(&["check", &addrs[0]]);
    assert_eq!(down.code, 1, "{down}");
    assert!(down.stdout.contains(&format!("[ERR] unreachable: {} ", addrs[1])), "{down}");
    assert!(down.stdout.contains(&format!("[WARN] replica_master_down: {} ", addrs[4])), "{down}");
    // Its replica takes over within the node timeout and a few seconds.
    let promoted = wait_for(Duration::from_secs(20), || slotkv(&["check", &addrs[0]]).code == 0);
    let after = slotkv(&["check", &addrs[0]]);
    assert!(promoted, "no promotion: {after}");
    let row = after.stdout.lines().find(|l| l.starts_with(&addrs[4])).unwrap_or_default();
    assert!(row.contains(" master ") && row.ends_with("5461-10922"), "{after}");
    assert!(after.stdout.contains(&format!("[WARN] no_replica: {} ", addrs[4])), "{after}");
    assert_eq!(replicas_up(&after.stdout), 2, "{after}");

    let extra = start(6);
    let extra_addr = format!("127.0.0.1:{}", extra.port);
    let run = slotkv(&["add-node", "--replica-of", &addrs[4], &extra_addr, &addrs[0]]);
    assert_eq!(run.code, 0, "{run}");
    let check = slotkv(&["check", &addrs[0]]);
    assert_eq!(check.code, 0, "{check}");
    assert!(!check.stdout.contains("no_replica"), "{check}");
    assert_eq!(replicas_up(&check.stdout), 3, "{check}");

    // A planned switch-over: node 3 takes node 0's slots; node 0 follows it.
    assert_eq!(slotkv(&["failover", &addrs[0]]).code, 2, "a master cannot fail over");
    let run = slotkv(&["failover", &addrs[3]]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains(&format!("{} (", addrs[3])) && run.stdout.contains("slots 0-5460"), "{run}");
    let synced =
        wait_for(Duration::from_secs(15), || replicas_up(&slotkv(&["check", &addrs[2]]).stdout) == 3);
    let check = slotkv(&["check", &addrs[2]]);
    assert!(synced && check.code == 0, "{check}");
    let replica_row = format!("  {:<19} ", addrs[0]);
    assert!(
        check.stdout.lines().any(|l| l.starts_with(&replica_row) && l.contains("replica link up")),
        "{check}"
    );
    assert_keys(&client(&addrs[2]).await, 0..2000).await;
}

/// `slotkv up` with `replicas = 1` and 6 ports: 3 masters and 3 replicas, links up; `status` shows the
/// roles, and a restart keeps them (each node's nodes.conf) with the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_with_replicas_keeps_roles_across_restarts() {
    let args: Vec<String> = FAST_REPLICATION.iter().map(|a| format!("\"{a}\"")).collect();
    let local = LocalCluster::with_nodes(6, &format!("replicas = 1\nargs = [{}]\n", args.join(", ")));
    let run = local.up();
    assert!(run.stdout.contains("[OK] cluster_state:ok, 6 nodes (3 replicas, links up)"), "{run}");
    let roles = |run: &slotkv_tests::cli::CliRun| -> Vec<String> {
        (0..6)
            .map(|i| {
                let line = run.stdout.lines().find(|l| l.contains(&local.addr(i))).unwrap_or_default();
                line.split_whitespace().skip(5).take(3).collect::<Vec<_>>().join(" ")
            })
            .collect()
    };
    let first = roles(&run);
    for i in 0..3 {
        assert!(first[i].starts_with("slots "), "{run}");
        assert_eq!(first[i + 3], format!("replica of {}", local.addr(i)), "{run}");
    }
    let status = local.run(&["status"]);
    assert_eq!(status.code, 0, "{status}");
    assert_eq!(status.stdout.matches(" replica/up ").count(), 3, "{status}");
    assert_eq!(status.stdout.matches(" master ").count(), 3, "{status}");
    let c = client(&local.addr(0)).await;
    write_keys(&c, 0..1000).await;

    let down = local.run(&["down"]);
    assert_eq!(down.code, 0, "{down}");
    let again = local.up();
    assert!(again.stdout.contains("(3 replicas, links up)"), "{again}");
    assert_eq!(roles(&again), first, "{again}");
    let check = local.run(&["check"]);
    assert_eq!((check.code, replicas_up(&check.stdout)), (0, 3), "{check}");
    assert_keys(&client(&local.addr(1)).await, 0..1000).await;
}

/// Counts of a client that writes new keys and reads back old ones until told to stop.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    written: AtomicU64,
    reads: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Load {
    fn error(&self, e: String) {
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }
}

async fn run_load(c: ClusterClient, load: Arc<Load>) {
    let mut i: u64 = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let key = format!("key:{i}");
        match c.query::<()>(&cmd("SET").arg(&key).arg(&format!("v{i}"))).await {
            Ok(()) => {
                i += 1;
                load.written.store(i, Ordering::Relaxed);
            }
            Err(e) => load.error(format!("SET {key}: {e}")),
        }
        let j = fastrand::u64(0..i.max(1));
        match c.query::<Option<String>>(&cmd("GET").arg(&format!("key:{j}"))).await {
            Ok(v) if i == 0 || v.as_deref() == Some(format!("v{j}").as_str()) => {
                load.reads.fetch_add(1, Ordering::Relaxed);
            }
            Ok(v) => load.error(format!("GET key:{j}: {v:?}")),
            Err(e) => load.error(format!("GET key:{j}: {e}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_node_rebalance_and_del_node_under_load() {
    let local = LocalCluster::new(3);
    local.up();
    let extra_dir = fast_tempdir("slotkv-cli-new-");
    let new = Node::builder(&cluster_bin()).dir(extra_dir.path()).args(&["--cluster-enabled", "yes"]).start();
    let new_addr = format!("127.0.0.1:{}", new.port);
    let c = client(&local.addr(0)).await;
    write_keys(&c, 0..20_000).await;
    let load = Arc::new(Load::default());
    let task = tokio::spawn(run_load(c.clone(), load.clone()));
    assert!(wait_for(Duration::from_secs(10), || load.written.load(Ordering::Relaxed) > 500));

    let run = slotkv(&["add-node", &new_addr, &local.addr(1)]);
    assert_eq!(run.code, 0, "{run}");
    let run = slotkv(&["rebalance", "--dry-run", &local.addr(0)]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains(&format!("-> {new_addr}")), "{run}");
    assert_eq!(slots_of(new.port), 0, "a dry run moves nothing");
    let run = slotkv(&["rebalance", "--yes", &local.addr(0)]);
    assert_eq!(run.code, 0, "{run}\n{}", local.logs());
    assert_eq!(slots_of(new.port), 4096);
    let run = slotkv(&["rebalance", &local.addr(0)]);
    assert!(run.code == 0 && run.stdout.contains("nothing to move"), "balanced: {run}");
    let run = slotkv(&["check", &new_addr]);
    assert_eq!(run.code, 0, "{run}");

    let run = slotkv(&["del-node", "--yes", "--shutdown", &new_addr]);
    assert_eq!(run.code, 0, "{run}\n{}", local.logs());
    let mut new = new;
    assert!(new.wait_exit(Duration::from_secs(10)).is_some(), "--shutdown stops the node");
    assert!(wait_for(Duration::from_secs(10), || slotkv(&["check", &local.addr(2)]).code == 0));
    let run = slotkv(&["check", &local.addr(2)]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout.lines().filter(|l| l.contains(" master ")).count(), 3, "{run}");

    load.stop.store(true, Ordering::Relaxed);
    task.await.unwrap();
    let errors = load.errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "{} client errors, first: {:?}", errors.len(), &errors[..errors.len().min(5)]);
    let written = load.written.load(Ordering::Relaxed);
    assert!(load.reads.load(Ordering::Relaxed) > 100, "the client kept reading");
    let c = client(&local.addr(2)).await;
    assert_keys(&c, 0..written.max(20_000)).await;
    assert_eq!(total_keys(&local.addr(0)) as u64, written.max(20_000));
}

/// The node side of the mover: `SLOTKV MIGRATESLOT` with a list of slots and ranges takes up to `count`
/// keys from them in the order given, so small slots share one exchange with the target.
#[test]
fn slotkv_migrateslot_takes_a_list_of_slots() {
    let cluster = TestCluster::from_layout(2);
    let mut src = cluster.conn(0);
    let mut dst = cluster.conn(1);
    // Keys in node 0's slots 10, 11 and 20 (hash tags found by their slot).
    let key_in = |slot: u16, n: usize| -> Vec<String> {
        (0..)
            .map(|i| format!("{{t{i}}}"))
            .filter(|t| slotkv_proto::slot::key_slot(t.as_bytes()) == slot)
            .take(1)
            .flat_map(|t| (0..n).map(move |j| format!("{t}:{j}")))
            .collect()
    };
    let keys: Vec<String> = [(10, 3), (11, 2), (20, 4)].iter().flat_map(|&(s, n)| key_in(s, n)).collect();
    for k in &keys {
        src.ok(&["SET", k.as_str(), "v"]);
    }
    let (id0, id1) = (cluster.ids[0].clone(), cluster.ids[1].clone());
    for s in ["10", "11", "20"] {
        dst.ok(&["CLUSTER", "SETSLOT", s, "IMPORTING", &id0]);
        src.ok(&["CLUSTER", "SETSLOT", s, "MIGRATING", &id1]);
    }
    let port1 = cluster.port(1).to_string();
    let count = |c: &mut Conn, s: &str| c.int(&["CLUSTER", "COUNTKEYSINSLOT", s]);
    // 4 keys: slot 20 first (the list's order), then 10 of the range.
    let r = src.cmd(&["SLOTKV", "MIGRATESLOT", "127.0.0.1", &port1, "20,10-11", "4", "5000", "REPLACE"]);
    assert_eq!(r, Reply::Simple("OK".into()));
    assert_eq!((count(&mut src, "20"), count(&mut src, "10"), count(&mut src, "11")), (0, 3, 2));
    let r = src.cmd(&["SLOTKV", "MIGRATESLOT", "127.0.0.1", &port1, "20,10-11", "100", "5000", "REPLACE"]);
    assert_eq!(r, Reply::Simple("OK".into()));
    assert_eq!((count(&mut src, "10"), count(&mut src, "11")), (0, 0));
    assert_eq!((count(&mut dst, "10"), count(&mut dst, "11"), count(&mut dst, "20")), (3, 2, 4));
    let r = src.cmd(&["SLOTKV", "MIGRATESLOT", "127.0.0.1", &port1, "10,11,20", "100", "5000"]);
    assert_eq!(r, Reply::Simple("NOKEY".into()));
    for bad in ["10,", "11-10", "16384", "1,x"] {
        let e = src.err(&["SLOTKV", "MIGRATESLOT", "127.0.0.1", &port1, bad, "100", "5000"]);
        assert_eq!(e, "ERR Invalid or out of range slot", "{bad}");
    }
}

/// On real Redis nodes (no `SLOTKV`), `reshard` falls back to `GETKEYSINSLOT` + `MIGRATE KEYS` and
/// leaves a clean cluster with every key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshard_on_redis_nodes_uses_migrate() {
    let redis = std::path::Path::new("/usr/bin/redis-server");
    if !redis.exists() {
        eprintln!("skipped: no /usr/bin/redis-server (scripts/test installs it)");
        return;
    }
    let cluster = TestCluster::from_layout_bin(redis, 3);
    let (a0, a1) = (cluster.addr(0), cluster.addr(1));
    let c = client(&a0).await;
    write_keys(&c, 0..3000).await;
    let before = slots_of(cluster.port(1));
    let run =
        slotkv(&["reshard", &a0, "--from", &a0, "--to", &a1, "--slots", "700", "--batch", "7", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("moved 700 slots"), "{run}");
    assert_eq!(slots_of(cluster.port(1)), before + 700);
    let run = slotkv(&["check", &a0]);
    assert_eq!(run.code, 0, "{run}");
    assert_keys(&client(&a1).await, 0..3000).await;
    assert_eq!(total_keys(&a0), 3000);
}
