//! Cluster mode end to end (issue 6): redirects, CLUSTER commands, topology on disk, live slot migration,
//! and the Redis tools (`redis-cli -c`, `redis-cli --cluster`, `redis-benchmark --cluster`) against it.
//!
//! `CLUSTER_BIN=/usr/bin/redis-server cargo test -p slotkv-tests --test cluster -- --include-ignored`
//! runs the same tests against real Redis Cluster: that is how the expected bytes here were checked.
//! Multi-node clusters are assembled from a fixed `nodes.conf` layout ([`TestCluster::from_layout`]), which
//! needs no cluster bus; the tests marked `needs the cluster bus` use `CLUSTER MEET` and gossip.

use slotkv_proto::slot::key_slot;
use slotkv_tests::*;
use std::time::Duration;

fn slot_of(key: &str) -> u16 {
    key_slot(key.as_bytes())
}

/// One cluster-enabled node that knows only itself.
fn lone_node() -> Node {
    Node::start_bin(&cluster_bin(), &["--cluster-enabled", "yes"])
}

/// A lone node that serves every slot, once it says `cluster_state:ok` (Redis waits up to 2 s).
fn serving_node() -> Node {
    let node = lone_node();
    let mut c = node.conn();
    c.ok(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    assert!(
        wait_for(Duration::from_secs(10), || c.cluster_info("cluster_state") == "ok"),
        "cluster_state never became ok"
    );
    node
}

fn moved(slot: u16, addr: &str) -> Vec<u8> {
    format!("-MOVED {slot} {addr}\r\n").into_bytes()
}

fn ask(slot: u16, addr: &str) -> Vec<u8> {
    format!("-ASK {slot} {addr}\r\n").into_bytes()
}

const CROSSSLOT: &[u8] = b"-CROSSSLOT Keys in request don't hash to the same slot\r\n";
const TRYAGAIN: &[u8] = b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n";
const UNBOUND: &[u8] = b"-CLUSTERDOWN Hash slot not served\r\n";
const DISABLED: &[u8] = b"-ERR This instance has cluster support disabled\r\n";

// ---- cluster support disabled ----

#[test]
fn disabled_cluster_commands_error_but_keyslot_works() {
    let bin = cluster_bin();
    let node = Node::start_bin(&bin, &[]);
    let mut c = node.conn();
    for cmd in [
        &["CLUSTER", "INFO"][..],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "MYID"],
        &["CLUSTER", "ADDSLOTS", "1"],
        &["CLUSTER", "COUNTKEYSINSLOT", "1"],
        &["ASKING"],
        &["READONLY"],
        &["READWRITE"],
    ] {
        c.expect(cmd, DISABLED);
    }
    assert_eq!(c.persistence_free_info("cluster", "cluster_enabled"), "0");
    // Redis 7.0 refuses KEYSLOT without cluster support; slotkv answers it (DESIGN.md section 3).
    if !is_redis(&bin) {
        assert_keyslot_vectors(&mut c);
    }
}

fn assert_keyslot_vectors(c: &mut Conn) {
    for (key, slot) in [
        ("somekey", 11058),
        ("foo{hash_tag}", 2515),
        ("123456789", 0x31C3 & 0x3FFF),
        ("foo{}{bar}", i64::from(slot_of("foo{}{bar}"))),
        ("foo{{bar}}zap", i64::from(slot_of("{bar"))),
        ("{user1000}.following", i64::from(slot_of("user1000"))),
        ("", 0),
    ] {
        assert_eq!(c.int(&["CLUSTER", "KEYSLOT", key]), slot, "KEYSLOT {key}");
    }
    // The rules themselves, independent of the shared implementation.
    assert_ne!(slot_of("foo{}{bar}"), slot_of("bar"));
    assert_eq!(slot_of("{bar}x"), slot_of("bar"));
}

trait InfoSection {
    fn persistence_free_info(&mut self, section: &str, field: &str) -> String;
}

impl InfoSection for Conn {
    fn persistence_free_info(&mut self, section: &str, field: &str) -> String {
        let info = self.cmd(&["INFO", section]).text();
        info_field(&info, field).unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
    }
}

// ---- one node ----

#[test]
fn fresh_node_serves_nothing() {
    let node = lone_node();
    let mut c = node.conn();
    c.expect(&["SET", "foo", "bar"], UNBOUND);
    c.expect(&["GET", "foo"], UNBOUND);
    assert_eq!(c.cluster_info("cluster_state"), "fail");
    assert_eq!(c.cluster_info("cluster_slots_assigned"), "0");
    assert_eq!(c.cluster_info("cluster_known_nodes"), "1");
    if !is_redis(&cluster_bin()) {
        // Redis says 1 here during its first 2 s (its state is not recomputed yet), 0 after.
        assert_eq!(c.cluster_info("cluster_size"), "0");
    }
    assert_eq!(c.persistence_free_info("cluster", "cluster_enabled"), "1");
    let id = c.cmd(&["CLUSTER", "MYID"]).text();
    assert!(id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    // Keyless commands still run.
    c.expect(&["PING"], b"+PONG\r\n");
    assert_keyslot_vectors(&mut c);
}

#[test]
fn addslots_delslots_errors_byte_exact() {
    let node = lone_node();
    let mut c = node.conn();
    let cases: &[(&[&str], &[u8])] = &[
        (&["CLUSTER", "ADDSLOTS", "1", "2", "2"], b"-ERR Slot 2 specified multiple times\r\n"),
        (&["CLUSTER", "ADDSLOTS", "16384"], b"-ERR Invalid or out of range slot\r\n"),
        (&["CLUSTER", "ADDSLOTS", "-1"], b"-ERR Invalid or out of range slot\r\n"),
        (&["CLUSTER", "ADDSLOTS", "x"], b"-ERR Invalid or out of range slot\r\n"),
        (&["CLUSTER", "ADDSLOTS"], b"-ERR wrong number of arguments for 'cluster|addslots' command\r\n"),
        (
            &["CLUSTER", "ADDSLOTSRANGE", "5", "3"],
            b"-ERR start slot number 5 is greater than end slot number 3\r\n",
        ),
        (&["CLUSTER", "ADDSLOTSRANGE", "1", "3", "2", "4"], b"-ERR Slot 2 specified multiple times\r\n"),
        (&["CLUSTER", "ADDSLOTSRANGE", "1", "16384"], b"-ERR Invalid or out of range slot\r\n"),
        (
            &["CLUSTER", "ADDSLOTSRANGE", "1"],
            b"-ERR wrong number of arguments for 'cluster|addslotsrange' command\r\n",
        ),
        (&["CLUSTER", "ADDSLOTS", "0", "1"], b"+OK\r\n"),
        (&["CLUSTER", "ADDSLOTS", "1"], b"-ERR Slot 1 is already busy\r\n"),
        (&["CLUSTER", "ADDSLOTSRANGE", "0", "3"], b"-ERR Slot 0 is already busy\r\n"),
        (&["CLUSTER", "DELSLOTS", "5"], b"-ERR Slot 5 is already unassigned\r\n"),
        (&["CLUSTER", "DELSLOTS", "0", "0"], b"-ERR Slot 0 specified multiple times\r\n"),
        (&["CLUSTER", "DELSLOTSRANGE", "3", "10"], b"-ERR Slot 3 is already unassigned\r\n"),
        (
            &["CLUSTER", "DELSLOTSRANGE", "10", "5"],
            b"-ERR start slot number 10 is greater than end slot number 5\r\n",
        ),
        (&["CLUSTER", "DELSLOTSRANGE", "0", "0"], b"+OK\r\n"),
        (&["CLUSTER", "DELSLOTS", "1"], b"+OK\r\n"),
        (&["CLUSTER", "COUNTKEYSINSLOT", "16384"], b"-ERR Invalid slot\r\n"),
        (&["CLUSTER", "COUNTKEYSINSLOT", "-1"], b"-ERR Invalid slot\r\n"),
        (&["CLUSTER", "GETKEYSINSLOT", "0", "-1"], b"-ERR Invalid slot or number of keys\r\n"),
        (&["CLUSTER", "GETKEYSINSLOT", "16384", "1"], b"-ERR Invalid slot or number of keys\r\n"),
        (&["CLUSTER", "KEYSLOT"], b"-ERR wrong number of arguments for 'cluster|keyslot' command\r\n"),
    ];
    for (cmd, want) in cases {
        c.expect(cmd, want);
    }
    assert_eq!(c.cluster_info("cluster_slots_assigned"), "0");
}

#[test]
fn cluster_info_fields_as_redis_prints_them() {
    let node = serving_node();
    let mut c = node.conn();
    let info = c.cmd(&["CLUSTER", "INFO"]).text();
    assert!(info.ends_with("\r\n"), "{info:?}");
    let names: Vec<&str> = info.lines().filter_map(|l| l.split(':').next()).collect();
    assert_eq!(
        names,
        [
            "cluster_state",
            "cluster_slots_assigned",
            "cluster_slots_ok",
            "cluster_slots_pfail",
            "cluster_slots_fail",
            "cluster_known_nodes",
            "cluster_size",
            "cluster_current_epoch",
            "cluster_my_epoch",
            "cluster_stats_messages_sent",
            "cluster_stats_messages_received",
            "total_cluster_links_buffer_limit_exceeded",
        ]
    );
    for (field, want) in [
        ("cluster_state", "ok"),
        ("cluster_slots_assigned", "16384"),
        ("cluster_slots_ok", "16384"),
        ("cluster_slots_pfail", "0"),
        ("cluster_slots_fail", "0"),
        ("cluster_known_nodes", "1"),
        ("cluster_size", "1"),
        ("cluster_current_epoch", "0"),
        ("cluster_my_epoch", "0"),
    ] {
        assert_eq!(info_field(&info, field).as_deref(), Some(want), "{field} in\n{info}");
    }
}

#[test]
fn nodes_slots_shards_on_one_node() {
    let node = lone_node();
    let mut c = node.conn();
    c.ok(&["CLUSTER", "ADDSLOTSRANGE", "0", "99", "200", "200", "300", "16383"]);
    let id = c.cmd(&["CLUSTER", "MYID"]).text();
    let lines = c.cluster_nodes();
    assert_eq!(lines.len(), 1);
    let me = &lines[0];
    assert_eq!(me.id, id);
    assert_eq!(me.flags, ["myself", "master"]);
    assert_eq!(me.master, "-");
    assert_eq!(me.port(), node.port);
    assert!(me.addr.ends_with(&format!(":{}@{}", node.port, u32::from(node.port) + 10000)), "{me:?}");
    assert_eq!((me.config_epoch, me.link.as_str()), (0, "connected"));
    assert_eq!(me.slots, ["0-99", "200", "300-16383"]);

    // CLUSTER SLOTS: [start, end, [ip, port, id, {}]] per range.
    let slots = c.cmd(&["CLUSTER", "SLOTS"]).items();
    let ranges: Vec<(i64, i64)> = slots.iter().map(|r| (r.items()[0].int(), r.items()[1].int())).collect();
    assert_eq!(ranges, [(0, 99), (200, 200), (300, 16383)]);
    for r in &slots {
        let items = r.items();
        assert_eq!(items.len(), 3, "{r:?}");
        let n = items[2].items();
        assert_eq!(n.len(), 4, "{r:?}");
        assert_eq!(n[1].int(), i64::from(node.port));
        assert_eq!(n[2].text(), id);
        assert_eq!(n[3], Reply::Array(vec![]));
    }
    // CLUSTER SHARDS: one shard, slots as a flat list of bounds, one node with Redis's fields in order.
    let shards = c.cmd(&["CLUSTER", "SHARDS"]).items();
    assert_eq!(shards.len(), 1);
    let shard = shards[0].items();
    assert_eq!(shard[0].text(), "slots");
    let bounds: Vec<i64> = shard[1].items().iter().map(Reply::int).collect();
    assert_eq!(bounds, [0, 99, 200, 200, 300, 16383]);
    assert_eq!(shard[2].text(), "nodes");
    let nodes = shard[3].items();
    assert_eq!(nodes.len(), 1);
    let fields = nodes[0].items();
    let names: Vec<String> = fields.iter().step_by(2).map(Reply::text).collect();
    assert_eq!(names, ["id", "port", "ip", "endpoint", "role", "replication-offset", "health"]);
    assert_eq!(fields[1].text(), id);
    assert_eq!(fields[3].int(), i64::from(node.port));
    assert_eq!(fields[9].text(), "master");
    assert_eq!(fields[13].text(), "online");

    // RESP3: the node's metadata and the shard's fields are maps.
    c.cmd(&["HELLO", "3"]);
    let slots3 = c.cmd(&["CLUSTER", "SLOTS"]);
    let first = slots3.items()[0].items();
    assert_eq!(first[2].items()[3], Reply::Map(vec![]));
    let shards3 = c.cmd(&["CLUSTER", "SHARDS"]).items();
    assert!(matches!(&shards3[0], Reply::Map(pairs) if pairs.len() == 2), "{shards3:?}");
    let node3 = &shards3[0].items()[3].items()[0];
    assert!(matches!(node3, Reply::Map(pairs) if pairs.len() == 7), "{node3:?}");
}

#[test]
fn nodes_conf_survives_restart() {
    let mut node = lone_node();
    let mut c = node.conn();
    c.ok(&["CLUSTER", "ADDSLOTSRANGE", "0", "8000", "9000", "16383"]);
    c.ok(&["CLUSTER", "SET-CONFIG-EPOCH", "7"]);
    let id = c.cmd(&["CLUSTER", "MYID"]).text();
    let before = c.cluster_nodes();
    assert_eq!(before[0].config_epoch, 7);
    drop(c);
    // A crash: the file must already be on disk when the command answered.
    node.kill9();
    node.restart();
    let mut c = node.conn();
    assert_eq!(c.cmd(&["CLUSTER", "MYID"]).text(), id);
    let after = c.cluster_nodes();
    assert_eq!(
        after.iter().map(NodesLine::stable).collect::<Vec<_>>(),
        before.iter().map(NodesLine::stable).collect::<Vec<_>>()
    );
    assert_eq!(c.cluster_info("cluster_my_epoch"), "7");
    assert_eq!(c.cluster_info("cluster_current_epoch"), "7");
    assert_eq!(c.cluster_info("cluster_slots_assigned"), (16384 - 999).to_string());
    let text = std::fs::read_to_string(node.dir().join("nodes.conf")).unwrap_or_default();
    assert!(text.contains(&id) && text.contains("myself,master"), "{text}");
}

#[test]
fn countkeysinslot_getkeysinslot_slot_stats() {
    let node = serving_node();
    let mut c = node.conn();
    let keys: Vec<String> = (0..5).map(|i| format!("{{t}}{i}")).collect();
    for k in &keys {
        c.ok(&["SET", k, "v"]);
    }
    c.ok(&["SET", "other", "v"]);
    let slot = slot_of("t").to_string();
    assert_eq!(c.int(&["CLUSTER", "COUNTKEYSINSLOT", &slot]), 5);
    assert_eq!(c.int(&["CLUSTER", "COUNTKEYSINSLOT", &slot_of("other").to_string()]), 1);
    let empty = (0..16384u16).find(|s| *s != slot_of("t") && *s != slot_of("other")).unwrap_or(0);
    assert_eq!(c.int(&["CLUSTER", "COUNTKEYSINSLOT", &empty.to_string()]), 0);
    let mut got = c.cmd(&["CLUSTER", "GETKEYSINSLOT", &slot, "10"]).strings();
    got.sort();
    assert_eq!(got, keys);
    let three = c.cmd(&["CLUSTER", "GETKEYSINSLOT", &slot, "3"]).strings();
    assert_eq!(three.len(), 3);
    assert!(three.iter().all(|k| keys.contains(k)), "{three:?}");
    c.expect(&["CLUSTER", "GETKEYSINSLOT", &empty.to_string(), "3"], b"*0\r\n");
    // A key that expired is not counted.
    c.int(&["PEXPIRE", &keys[0], "1"]);
    std::thread::sleep(Duration::from_millis(20));
    assert!(wait_for(Duration::from_secs(2), || c.int(&["CLUSTER", "COUNTKEYSINSLOT", &slot]) == 4));

    if is_redis(&cluster_bin()) {
        return; // CLUSTER SLOT-STATS is Valkey 8's; Redis 7.0 has none.
    }
    // Valkey 8: [[slot, {key-count: n}], ...].
    let s = slot_of("t");
    let stats = c.cmd(&["CLUSTER", "SLOT-STATS", "SLOTSRANGE", &(s - 1).to_string(), &s.to_string()]);
    let want = Reply::Array(vec![
        Reply::Array(vec![
            Reply::Int(i64::from(s) - 1),
            Reply::Array(vec![Reply::Bulk(b"key-count".to_vec()), Reply::Int(0)]),
        ]),
        Reply::Array(vec![
            Reply::Int(i64::from(s)),
            Reply::Array(vec![Reply::Bulk(b"key-count".to_vec()), Reply::Int(4)]),
        ]),
    ]);
    assert_eq!(stats, want);
    let top = c.cmd(&["CLUSTER", "SLOT-STATS", "ORDERBY", "key-count", "LIMIT", "2"]).items();
    let top: Vec<(i64, i64)> =
        top.iter().map(|e| (e.items()[0].int(), e.items()[1].items()[1].int())).collect();
    assert_eq!(top[0], (i64::from(s), 4));
    assert_eq!(top[1], (i64::from(slot_of("other")), 1));
}

#[test]
fn crossslot_for_multi_key_commands() {
    let node = serving_node();
    let mut c = node.conn();
    assert_ne!(slot_of("a"), slot_of("b"));
    c.expect(&["MSET", "a", "1", "b", "2"], CROSSSLOT);
    c.expect(&["MGET", "a", "b"], CROSSSLOT);
    c.expect(&["DEL", "a", "b"], CROSSSLOT);
    c.expect(&["EXISTS", "a", "b"], CROSSSLOT);
    c.expect(&["SUNIONSTORE", "a", "b"], CROSSSLOT);
    c.expect(&["RENAME", "a", "b"], CROSSSLOT);
    c.ok(&["MSET", "{u}a", "1", "{u}b", "2"]);
    c.expect(&["MGET", "{u}a", "{u}b"], b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.ok(&["RENAME", "{u}a", "{u}c"]);
    assert_eq!(c.int(&["DEL", "{u}b", "{u}c"]), 2);
    // The same key twice is one slot.
    c.ok(&["MSET", "a", "1", "a", "2"]);
}

#[test]
fn multi_exec_with_keys_in_two_slots() {
    let node = serving_node();
    let mut c = node.conn();
    // Each queued command is checked alone; EXEC checks them together, answers CROSSSLOT and discards
    // the transaction (Redis: discardTransaction before the redirect).
    c.ok(&["MULTI"]);
    c.expect(&["SET", "a", "1"], b"+QUEUED\r\n");
    c.expect(&["SET", "b", "2"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], CROSSSLOT);
    c.expect(&["GET", "a"], b"$-1\r\n");
    c.expect(&["EXEC"], b"-ERR EXEC without MULTI\r\n");

    // A queued command that is CROSSSLOT by itself is refused when queued; EXEC then aborts.
    c.ok(&["MULTI"]);
    c.expect(&["MSET", "a", "1", "b", "2"], CROSSSLOT);
    c.expect(&["SET", "x", "1"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"-EXECABORT Transaction discarded because of previous errors.\r\n");
    c.expect(&["GET", "x"], b"$-1\r\n");

    // One slot: runs.
    c.ok(&["MULTI"]);
    c.expect(&["SET", "{a}x", "1"], b"+QUEUED\r\n");
    c.expect(&["GET", "{a}y"], b"+QUEUED\r\n");
    c.expect(&["EXEC"], b"*2\r\n+OK\r\n$-1\r\n");
}

// ---- three nodes from a layout ----

#[test]
fn moved_for_keys_elsewhere_exact() {
    let cluster = TestCluster::from_layout(3);
    for i in 0..3 {
        let mut c = cluster.conn(i);
        for j in 0..3 {
            let key = cluster.key_on(j, &format!("k{i}-"));
            let slot = slot_of(&key);
            if i == j {
                c.ok(&["SET", &key, "v"]);
                c.expect(&["GET", &key], b"$1\r\nv\r\n");
            } else {
                c.expect(&["GET", &key], &moved(slot, &cluster.addr(j)));
                c.expect(&["SET", &key, "v"], &moved(slot, &cluster.addr(j)));
                let tag = format!("{{{key}}}");
                c.expect(
                    &["MSET", &format!("{tag}1"), "1", &format!("{tag}2"), "2"],
                    &moved(slot, &cluster.addr(j)),
                );
            }
        }
        // Every slot boundary of the layout.
        for (j, &(first, last)) in even_ranges(3).iter().enumerate() {
            for slot in [first, last] {
                let key = (0..100_000).map(|n| format!("b{n}")).find(|k| slot_of(k) == slot);
                let Some(key) = key else { continue };
                if i != j {
                    c.expect(&["GET", &key], &moved(slot, &cluster.addr(j)));
                }
            }
        }
    }
    let owners = cluster.owners(1);
    let ranges = even_ranges(3);
    for (j, &(first, last)) in ranges.iter().enumerate() {
        assert!(owners[usize::from(first)..=usize::from(last)].iter().all(|o| *o == Some(j)));
    }
}

#[test]
fn six_nodes_moved_and_slots() {
    let cluster = TestCluster::from_layout(6);
    let ranges = even_ranges(6);
    for i in 0..6 {
        let mut c = cluster.conn(i);
        for j in 0..6 {
            let key = cluster.key_on(j, "six");
            if i == j {
                c.ok(&["SET", &key, "v"]);
            } else {
                c.expect(&["GET", &key], &moved(slot_of(&key), &cluster.addr(j)));
            }
        }
        let mut got: Vec<(i64, i64, i64)> = c
            .cmd(&["CLUSTER", "SLOTS"])
            .items()
            .iter()
            .map(|r| (r.items()[0].int(), r.items()[1].int(), r.items()[2].items()[1].int()))
            .collect();
        got.sort();
        let want: Vec<(i64, i64, i64)> = (0..6)
            .map(|j| (i64::from(ranges[j].0), i64::from(ranges[j].1), i64::from(cluster.port(j))))
            .collect();
        assert_eq!(got, want);
        assert_eq!(c.int(&["DBSIZE"]), 1);
    }
}

/// A slot of node 0 with a key in it that is not a slot boundary (any slot of node 0 will do).
fn migration_slot(cluster: &TestCluster) -> (u16, String) {
    let key = cluster.key_on(0, "mig");
    (slot_of(&key), key)
}

#[test]
fn live_migration_ask_tryagain_asking() {
    let cluster = TestCluster::from_layout(3);
    let (src, dst) = (0, 1);
    let (slot, _) = migration_slot(&cluster);
    let s = slot.to_string();
    // Keys of one slot, by hash tag.
    let tag = format!("{{{}}}", cluster.key_on(0, "mig"));
    let here = format!("{tag}here");
    let gone = format!("{tag}gone");
    let mut source = cluster.conn(src);
    let mut target = cluster.conn(dst);
    let mut third = cluster.conn(2);
    source.ok(&["SET", &here, "1"]);
    source.ok(&["SET", &gone, "2"]);

    // redis-cli's order: IMPORTING on the target, then MIGRATING on the source.
    target.ok(&["CLUSTER", "SETSLOT", &s, "IMPORTING", &cluster.ids[src]]);
    source.ok(&["CLUSTER", "SETSLOT", &s, "MIGRATING", &cluster.ids[dst]]);
    let src_line = source.cluster_nodes().into_iter().find(|l| l.flags.contains(&"myself".to_string()));
    assert!(src_line.is_some_and(|l| l.slots.contains(&format!("[{s}->-{}]", cluster.ids[dst]))));
    let dst_line = target.cluster_nodes().into_iter().find(|l| l.flags.contains(&"myself".to_string()));
    assert!(dst_line.is_some_and(|l| l.slots.contains(&format!("[{s}-<-{}]", cluster.ids[src]))));

    // Move one key by hand (DUMP on the source, RESTORE after ASKING on the target).
    let payload = source.bulk(&["DUMP", &gone]).unwrap_or_default();
    target.ok(&["ASKING"]);
    target.send(&[b"RESTORE".as_slice(), gone.as_bytes(), b"0", &payload]);
    assert_eq!(target.read_raw(), b"+OK\r\n");
    assert_eq!(source.int(&["DEL", &gone]), 1);

    // Source: existing keys are served; missing keys are asked for at the target.
    source.expect(&["GET", &here], b"$1\r\n1\r\n");
    source.expect(&["GET", &gone], &ask(slot, &cluster.addr(dst)));
    source.expect(&["SET", &format!("{tag}new"), "x"], &ask(slot, &cluster.addr(dst)));
    source.expect(&["MGET", &here, &gone], TRYAGAIN);
    source.expect(&["MGET", &gone, &format!("{tag}new")], &ask(slot, &cluster.addr(dst)));
    source.expect(&["MGET", &here, &here], b"*2\r\n$1\r\n1\r\n$1\r\n1\r\n");

    // Target: MOVED back to the owner without ASKING; served after ASKING, for one command only.
    target.expect(&["GET", &gone], &moved(slot, &cluster.addr(src)));
    target.ok(&["ASKING"]);
    target.expect(&["GET", &gone], b"$1\r\n2\r\n");
    target.expect(&["GET", &gone], &moved(slot, &cluster.addr(src)));
    target.ok(&["ASKING"]);
    target.ok(&["SET", &format!("{tag}new"), "x"]);
    target.ok(&["ASKING"]);
    target.expect(&["MGET", &gone, &format!("{tag}new")], b"*2\r\n$1\r\n2\r\n$1\r\nx\r\n");
    // Multi-key on the target with a key not there yet: TRYAGAIN.
    target.ok(&["ASKING"]);
    target.expect(&["MGET", &gone, &here], TRYAGAIN);
    // ASKING does not carry over to a key of another slot that the target does not own.
    let elsewhere = cluster.key_on(0, "else");
    if slot_of(&elsewhere) != slot {
        target.ok(&["ASKING"]);
        target.expect(&["GET", &elsewhere], &moved(slot_of(&elsewhere), &cluster.addr(src)));
    }
    // The third node knows nothing of the migration.
    third.expect(&["GET", &gone], &moved(slot, &cluster.addr(src)));

    // redis-cli -c follows ASK from the source for a key that moved.
    let out = redis_cli(&["-c", "-p", &cluster.port(src).to_string(), "GET", &gone]);
    assert_eq!(out.stdout.trim(), "2", "{out}");

    // Finish: move the last key, then SETSLOT NODE on the target first, then the others.
    let payload = source.bulk(&["DUMP", &here]).unwrap_or_default();
    target.ok(&["ASKING"]);
    target.send(&[b"RESTORE".as_slice(), here.as_bytes(), b"0", &payload]);
    assert_eq!(target.read_raw(), b"+OK\r\n");
    assert_eq!(source.int(&["DEL", &here]), 1);
    assert_eq!(source.int(&["CLUSTER", "COUNTKEYSINSLOT", &s]), 0);
    target.ok(&["CLUSTER", "SETSLOT", &s, "NODE", &cluster.ids[dst]]);
    source.ok(&["CLUSTER", "SETSLOT", &s, "NODE", &cluster.ids[dst]]);
    third.ok(&["CLUSTER", "SETSLOT", &s, "NODE", &cluster.ids[dst]]);
    for (i, c) in [(src, &mut source), (2, &mut third)] {
        c.expect(&["GET", &here], &moved(slot, &cluster.addr(dst)));
        assert_eq!(cluster.owners(i)[usize::from(slot)], Some(dst), "node {i}'s view");
    }
    target.expect(&["GET", &here], b"$1\r\n1\r\n");
    target.expect(&["MGET", &here, &gone], b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(target.int(&["CLUSTER", "COUNTKEYSINSLOT", &s]), 3);
    // No slot states are left.
    for i in 0..3 {
        assert!(cluster.conn(i).cluster_nodes().iter().all(|l| l.slots.iter().all(|x| !x.starts_with('['))));
    }
}

#[test]
fn setslot_errors() {
    let cluster = TestCluster::from_layout(3);
    let (slot, key) = migration_slot(&cluster);
    let s = slot.to_string();
    let mut source = cluster.conn(0);
    let mut target = cluster.conn(1);
    source.ok(&["SET", &key, "v"]);
    target.expect(
        &["CLUSTER", "SETSLOT", &s, "MIGRATING", &cluster.ids[0]],
        format!("-ERR I'm not the owner of hash slot {s}\r\n").as_bytes(),
    );
    source.expect(
        &["CLUSTER", "SETSLOT", &s, "IMPORTING", &cluster.ids[1]],
        format!("-ERR I'm already the owner of hash slot {s}\r\n").as_bytes(),
    );
    let unknown = "f".repeat(40);
    source.expect(
        &["CLUSTER", "SETSLOT", &s, "MIGRATING", &unknown],
        format!("-ERR I don't know about node {unknown}\r\n").as_bytes(),
    );
    source.expect(
        &["CLUSTER", "SETSLOT", &s, "NODE", &cluster.ids[1]],
        format!("-ERR Can't assign hashslot {s} to a different node while I still hold keys for this hash slot.\r\n")
            .as_bytes(),
    );
    source.expect(&["CLUSTER", "SETSLOT", "16384", "STABLE"], b"-ERR Invalid or out of range slot\r\n");
    source.expect(
        &["CLUSTER", "SETSLOT", &s, "BOGUS"],
        b"-ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP\r\n",
    );
    // STABLE clears a state.
    source.ok(&["CLUSTER", "SETSLOT", &s, "MIGRATING", &cluster.ids[1]]);
    source.ok(&["CLUSTER", "SETSLOT", &s, "STABLE"]);
    source.expect(&["GET", &format!("{{{key}}}missing")], b"$-1\r\n");
}

#[test]
fn redis_cli_follows_moved() {
    let cluster = TestCluster::from_layout(3);
    let key = cluster.key_on(2, "cli");
    let p0 = cluster.port(0).to_string();
    let out = redis_cli(&["-c", "-p", &p0, "SET", &key, "hello"]);
    assert_eq!(out.stdout.trim(), "OK", "{out}");
    let p1 = cluster.port(1).to_string();
    let out = redis_cli(&["-c", "-p", &p1, "GET", &key]);
    assert_eq!(out.stdout.trim(), "hello", "{out}");
    cluster.conn(2).expect(&["GET", &key], b"$5\r\nhello\r\n");
}

#[test]
fn sharded_pubsub_routed_by_channel_slot() {
    let cluster = TestCluster::from_layout(3);
    let ch = cluster.key_on(1, "ch");
    let other = cluster.key_on(2, "ch");
    let slot = slot_of(&ch);
    let mut sub = cluster.conn(1);
    sub.expect(
        &["SSUBSCRIBE", &ch],
        format!("*3\r\n$10\r\nssubscribe\r\n${}\r\n{ch}\r\n:1\r\n", ch.len()).as_bytes(),
    );
    let mut c0 = cluster.conn(0);
    c0.expect(&["SPUBLISH", &ch, "m"], &moved(slot, &cluster.addr(1)));
    let mut s0 = cluster.conn(0);
    s0.expect(&["SSUBSCRIBE", &ch], &moved(slot, &cluster.addr(1)));
    let mut s1 = cluster.conn(1);
    s1.expect(&["SSUBSCRIBE", &ch, &other], CROSSSLOT);
    let mut p1 = cluster.conn(1);
    assert_eq!(p1.int(&["SPUBLISH", &ch, "hi"]), 1);
    assert_eq!(
        sub.read_raw(),
        format!("*3\r\n$8\r\nsmessage\r\n${}\r\n{ch}\r\n$2\r\nhi\r\n", ch.len()).into_bytes()
    );
}

#[test]
fn cluster_slots_shards_nodes_three_nodes() {
    let cluster = TestCluster::from_layout(3);
    let ranges = even_ranges(3);
    for i in 0..3 {
        let mut c = cluster.conn(i);
        let lines = c.cluster_nodes();
        assert_eq!(lines.len(), 3);
        for (j, id) in cluster.ids.iter().enumerate() {
            let l = lines.iter().find(|l| l.id == *id).unwrap_or_else(|| panic!("node {j} missing on {i}"));
            let want_flags: &[&str] = if i == j { &["myself", "master"] } else { &["master"] };
            assert_eq!(l.flags, want_flags, "{l:?}");
            assert_eq!(
                l.addr.split(',').next(),
                Some(
                    format!("127.0.0.1:{}@{}", cluster.port(j), u32::from(cluster.port(j)) + 10000).as_str()
                )
            );
            assert_eq!(l.config_epoch, j as u64 + 1);
            assert_eq!(l.slots, [format!("{}-{}", ranges[j].0, ranges[j].1)]);
        }
        assert_eq!(c.cluster_info("cluster_size"), "3");
        assert_eq!(c.cluster_info("cluster_known_nodes"), "3");
        assert_eq!(c.cluster_info("cluster_current_epoch"), "3");
        assert_eq!(c.cluster_info("cluster_my_epoch"), (i + 1).to_string());
        for proto in ["2", "3"] {
            c.cmd(&["HELLO", proto]);
            let mut slots: Vec<(i64, i64, String, i64, String)> = c
                .cmd(&["CLUSTER", "SLOTS"])
                .items()
                .iter()
                .map(|r| {
                    let it = r.items();
                    let n = it[2].items();
                    (it[0].int(), it[1].int(), n[0].text(), n[1].int(), n[2].text())
                })
                .collect();
            slots.sort();
            let want: Vec<_> = (0..3)
                .map(|j| {
                    (
                        i64::from(ranges[j].0),
                        i64::from(ranges[j].1),
                        "127.0.0.1".to_string(),
                        i64::from(cluster.port(j)),
                        cluster.ids[j].clone(),
                    )
                })
                .collect();
            assert_eq!(slots, want, "RESP{proto}");
            let shards = c.cmd(&["CLUSTER", "SHARDS"]).items();
            assert_eq!(shards.len(), 3);
            for shard in &shards {
                let f = shard.items();
                let bounds: Vec<i64> = f[1].items().iter().map(Reply::int).collect();
                let node = f[3].items()[0].items();
                let j = cluster.ids.iter().position(|id| *id == node[1].text()).unwrap_or(99);
                assert!(j < 3, "unknown node in {shard:?}");
                assert_eq!(bounds, [i64::from(ranges[j].0), i64::from(ranges[j].1)]);
                assert_eq!(node[3].int(), i64::from(cluster.port(j)));
                assert_eq!(node[5].text(), "127.0.0.1");
                assert_eq!(node[7].text(), "127.0.0.1");
            }
        }
    }
}

#[test]
fn topology_survives_restarting_every_node() {
    let mut cluster = TestCluster::from_layout(3);
    let (slot, key) = migration_slot(&cluster);
    let s = slot.to_string();
    // Leave a migration open too: its states are part of the view.
    cluster.conn(1).ok(&["CLUSTER", "SETSLOT", &s, "IMPORTING", &cluster.ids[0]]);
    cluster.conn(0).ok(&["CLUSTER", "SETSLOT", &s, "MIGRATING", &cluster.ids[1]]);
    let views = |cluster: &TestCluster| -> Vec<Vec<String>> {
        (0..3)
            .map(|i| {
                let mut v: Vec<String> =
                    cluster.conn(i).cluster_nodes().iter().map(NodesLine::stable).collect();
                v.sort();
                v
            })
            .collect()
    };
    let before = views(&cluster);
    cluster.restart_all(true);
    cluster.wait_ok(Duration::from_secs(15));
    assert_eq!(views(&cluster), before);
    for i in 0..3 {
        assert_eq!(cluster.conn(i).cmd(&["CLUSTER", "MYID"]).text(), cluster.ids[i]);
    }
    cluster.conn(0).expect(&["GET", &key], &ask(slot, &cluster.addr(1)));
    cluster.conn(2).expect(&["GET", &key], &moved(slot, &cluster.addr(0)));
    cluster.restart_all(false);
    cluster.wait_ok(Duration::from_secs(15));
    assert_eq!(views(&cluster), before);
}

#[test]
fn redis_benchmark_cluster_runs_without_errors() {
    let cluster = TestCluster::from_layout(3);
    let p = cluster.port(0).to_string();
    let out = run_tool("redis-benchmark", &["--cluster", "-p", &p, "-t", "set,get", "-n", "20000", "-q"]);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(out.status.success(), "{out}");
    assert!(!all.to_ascii_lowercase().contains("error") && !all.contains("ERR"), "{out}");
    assert!(all.contains("SET: ") && all.contains("GET: "), "{out}");
    let total: i64 = (0..3).map(|i| cluster.conn(i).int(&["DBSIZE"])).sum();
    assert!(total > 0, "no keys were written");
    assert!((0..3).all(|i| cluster.conn(i).int(&["DBSIZE"]) <= total));
}

// ---- needs the cluster bus ----

#[test]
fn redis_cli_create_check_reshard_rebalance() {
    let cluster = TestCluster::create_with_redis_cli(3);
    let entry = cluster.addr(0);
    let check = |what: &str| {
        let out = redis_cli(&["--cluster", "check", &entry]);
        assert!(
            out.status.success() && out.stdout.contains("[OK] All 16384 slots covered."),
            "{what}: {out}"
        );
        assert!(!out.stdout.contains("[ERR]") && !out.stdout.contains("[WARNING]"), "{what}: {out}");
    };
    check("after create");
    // Keys everywhere, to be moved with the slots.
    let mut conns: Vec<Conn> = (0..3).map(|i| cluster.conn(i)).collect();
    let owners = cluster.owners(0);
    for n in 0..300 {
        let key = format!("rk{n}");
        let owner = owners[usize::from(slot_of(&key))].unwrap_or(0);
        conns[owner].ok(&["SET", &key, &n.to_string()]);
    }
    let out = redis_cli(&[
        "--cluster",
        "reshard",
        &entry,
        "--cluster-from",
        &cluster.ids[0],
        "--cluster-to",
        &cluster.ids[1],
        "--cluster-slots",
        "1000",
        "--cluster-yes",
    ]);
    assert!(out.status.success(), "reshard: {out}");
    assert!(cluster.wait_agree(Duration::from_secs(10)), "views differ after reshard");
    check("after reshard");
    let owned = |i: usize| cluster.owners(2).iter().filter(|o| **o == Some(i)).count();
    let (first, last) = even_ranges(3)[1];
    assert_eq!(owned(1), usize::from(last - first) + 1 + 1000);
    let out = redis_cli(&["--cluster", "rebalance", &entry, "--cluster-yes"]);
    assert!(out.status.success(), "rebalance: {out}");
    assert!(cluster.wait_agree(Duration::from_secs(10)), "views differ after rebalance");
    check("after rebalance");
    for i in 0..3 {
        assert!((5400..5500).contains(&owned(i)), "node {i} has {} slots after rebalance", owned(i));
    }
    // Every key is still there, wherever it went.
    let p = cluster.port(2).to_string();
    for n in (0..300).step_by(7) {
        let out = redis_cli(&["-c", "-p", &p, "GET", &format!("rk{n}")]);
        assert_eq!(out.stdout.trim(), n.to_string(), "{out}");
    }
}

#[test]
fn a_change_told_to_one_node_reaches_all() {
    let cluster = TestCluster::from_layout(3);
    // A fourth node, met by node 0 only.
    let extra = lone_node();
    cluster.conn(0).ok(&["CLUSTER", "MEET", "127.0.0.1", &extra.port.to_string()]);
    let extra_id = extra.conn().cmd(&["CLUSTER", "MYID"]).text();
    let knows_all = wait_for(Duration::from_secs(10), || {
        cluster.nodes.iter().chain(std::iter::once(&extra)).all(|n| {
            let lines = n.conn().cluster_nodes();
            lines.len() == 4 && lines.iter().any(|l| l.id == extra_id)
        })
    });
    assert!(knows_all, "the met node did not reach every node");

    // A slot moved by telling the target only (which bumps its epoch); gossip tells the rest.
    let (slot, _) = migration_slot(&cluster);
    let s = slot.to_string();
    cluster.conn(1).ok(&["CLUSTER", "SETSLOT", &s, "IMPORTING", &cluster.ids[0]]);
    cluster.conn(1).ok(&["CLUSTER", "SETSLOT", &s, "NODE", &cluster.ids[1]]);
    let everyone_knows =
        wait_for(Duration::from_secs(10), || (0..3).all(|i| cluster.owners(i)[usize::from(slot)] == Some(1)));
    assert!(everyone_knows, "the slot's new owner did not reach every node");
    assert!(cluster.wait_agree(Duration::from_secs(10)), "CLUSTER NODES differ");
}

#[test]
fn a_node_restarted_with_an_old_view_converges() {
    let mut cluster = TestCluster::from_layout(3);
    let (slot, _) = migration_slot(&cluster);
    let s = slot.to_string();
    cluster.nodes[2].terminate();
    cluster.conn(1).ok(&["CLUSTER", "SETSLOT", &s, "IMPORTING", &cluster.ids[0]]);
    cluster.conn(1).ok(&["CLUSTER", "SETSLOT", &s, "NODE", &cluster.ids[1]]);
    cluster.conn(0).ok(&["CLUSTER", "SETSLOT", &s, "NODE", &cluster.ids[1]]);
    cluster.nodes[2].restart();
    cluster.wait_ok(Duration::from_secs(15));
    let caught_up = wait_for(Duration::from_secs(15), || cluster.owners(2)[usize::from(slot)] == Some(1));
    assert!(caught_up, "node 2 kept its old view of slot {slot}");
    let key = (0..100_000).map(|n| format!("o{n}")).find(|k| slot_of(k) == slot);
    if let Some(key) = key {
        cluster.conn(2).expect(&["GET", &key], &moved(slot, &cluster.addr(1)));
    }
    assert!(cluster.wait_agree(Duration::from_secs(10)), "CLUSTER NODES differ");
}

#[test]
fn publish_on_one_node_reaches_subscribers_on_another() {
    let cluster = TestCluster::from_layout(3);
    let mut sub = cluster.conn(2);
    sub.expect(&["SUBSCRIBE", "news"], b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    let mut sub1 = cluster.conn(1);
    sub1.expect(&["SUBSCRIBE", "news"], b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    // Redis counts the receivers on the publishing node only.
    let mut p = cluster.conn(0);
    assert_eq!(p.int(&["PUBLISH", "news", "hello"]), 0);
    let want = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
    assert_eq!(sub.read_raw(), want);
    assert_eq!(sub1.read_raw(), want);
}

/// A node that loses a slot to a newer claim drops the slot's keys, as Redis does: they are unreachable,
/// and would come back stale if the slot returned.
#[test]
fn a_lost_slot_drops_its_keys() {
    let cluster = TestCluster::from_layout(3);
    let mut c0 = cluster.conn(0);
    let key = cluster.key_on(0, "lost");
    c0.ok(&["SET", &key, "v"]);
    let slot = c0.int(&["CLUSTER", "KEYSLOT", &key]);
    // Node 1 (config epoch 2) claims the slot of node 0 (epoch 1): its claim wins on every node.
    let id1 = cluster.ids[1].clone();
    cluster.conn(1).ok(&["CLUSTER", "SETSLOT", &slot.to_string(), "NODE", &id1]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c0.int(&["DBSIZE"]) != 0 {
        assert!(std::time::Instant::now() < deadline, "node 0 still holds the key of slot {slot}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let moved = c0.err(&["GET", &key]);
    assert_eq!(moved, format!("MOVED {slot} 127.0.0.1:{}", cluster.port(1)));
    assert!(cluster.wait_agree(Duration::from_secs(10)), "CLUSTER NODES differ");
}

/// `CLUSTER LINKS` lists each peer's outbound (`to`) and inbound (`from`) bus link, with Redis's fields.
#[test]
fn cluster_links_list_both_directions() {
    let cluster = TestCluster::from_layout(3);
    let mut c = cluster.conn(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let links = c.cmd(&["CLUSTER", "LINKS"]).items();
        let as_text = |r: &Reply| match r {
            Reply::Int(n) => n.to_string(),
            other => other.text(),
        };
        let fields: Vec<Vec<String>> =
            links.iter().map(|l| l.items().iter().map(as_text).collect()).collect();
        let count = |dir: &str| fields.iter().filter(|f| f.get(1).map(String::as_str) == Some(dir)).count();
        if count("to") == 2 && count("from") == 2 {
            let first = fields.first().cloned().unwrap_or_default();
            let names: Vec<&str> = first.iter().step_by(2).map(String::as_str).collect();
            assert_eq!(
                names,
                ["direction", "node", "create-time", "events", "send-buffer-allocated", "send-buffer-used"]
            );
            assert!(cluster.ids.iter().skip(1).any(|id| first.get(3) == Some(id)), "{first:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "links of node 0: {fields:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `cluster-announce-ip` and `cluster-announce-port` are what the node says it is.
#[test]
fn announced_address_is_shown() {
    let port = free_cluster_port();
    let node = Node::builder(&cluster_bin())
        .port(port)
        .args(&[
            "--cluster-enabled",
            "yes",
            "--cluster-announce-ip",
            "10.9.8.7",
            "--cluster-announce-port",
            "7777",
        ])
        .start();
    let mut c = node.conn();
    c.ok(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    let nodes =
        c.bulk(&["CLUSTER", "NODES"]).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    assert!(nodes.contains(&format!(" 10.9.8.7:7777@{} myself,master ", port + 10000)), "{nodes}");
    let slots = c.cmd(&["CLUSTER", "SLOTS"]).items();
    let first = slots.first().map(|s| s.items()).unwrap_or_default();
    let addr = first.get(2).map(|n| n.items()).unwrap_or_default();
    assert_eq!(addr.first().map(|a| a.text()), Some("10.9.8.7".to_string()));
    assert_eq!(addr.get(1).map(|p| p.int()), Some(7777));
}

/// `SLOTKV MIGRATESLOT`: the source picks the next keys of the slot and moves them as MIGRATE KEYS does,
/// one round trip per chunk, until `+NOKEY`; then the usual SETSLOT NODE ends the move.
#[test]
fn slotkv_migrateslot_moves_a_slot_in_chunks() {
    let cluster = TestCluster::from_layout(3);
    let tag = cluster.key_on(0, "bulk");
    let slot = key_slot(tag.as_bytes()).to_string();
    let mut src = cluster.conn(0);
    let mut dst = cluster.conn(1);
    for chunk in 0..5 {
        let mut mset = vec!["MSET".to_string()];
        for i in chunk * 500..(chunk + 1) * 500 {
            mset.push(format!("{{{tag}}}:{i}"));
            mset.push(format!("v{i}"));
        }
        src.ok(&mset);
    }
    assert_eq!(src.int(&["PEXPIRE", &format!("{{{tag}}}:7"), "600000"]), 1);
    let (id0, id1) = (cluster.ids[0].clone(), cluster.ids[1].clone());
    dst.ok(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &id0]);
    src.ok(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &id1]);
    let port1 = cluster.port(1).to_string();
    let mut chunks = 0;
    loop {
        match src.cmd(&["SLOTKV", "MIGRATESLOT", "127.0.0.1", &port1, &slot, "1000", "5000"]) {
            Reply::Simple(s) if s == "OK" => chunks += 1,
            Reply::Simple(s) if s == "NOKEY" => break,
            other => panic!("SLOTKV MIGRATESLOT answered {other:?}"),
        }
        assert!(chunks <= 3, "more chunks than keys / 1000");
    }
    assert_eq!(chunks, 3);
    for i in 0..3 {
        cluster.conn(i).ok(&["CLUSTER", "SETSLOT", &slot, "NODE", &id1]);
    }
    assert_eq!(src.int(&["CLUSTER", "COUNTKEYSINSLOT", &slot]), 0);
    assert_eq!(dst.int(&["CLUSTER", "COUNTKEYSINSLOT", &slot]), 2500);
    assert_eq!(dst.bulk(&["GET", &format!("{{{tag}}}:1234")]), Some(b"v1234".to_vec()));
    let ttl = dst.int(&["PTTL", &format!("{{{tag}}}:7")]);
    assert!(ttl > 500_000 && ttl <= 600_000, "TTL kept: {ttl}");
    assert_eq!(src.err(&["GET", &format!("{{{tag}}}:1")]), format!("MOVED {slot} 127.0.0.1:{port1}"));
}

/// A `SLOTKV MIGRATESLOT` chunk also stops at 4 MB of payload, so big values go a few at a time.
#[test]
fn slotkv_migrateslot_bounds_a_chunk_by_bytes() {
    let cluster = TestCluster::from_layout(3);
    let tag = cluster.key_on(0, "big");
    let slot = key_slot(tag.as_bytes()).to_string();
    let mut src = cluster.conn(0);
    let value = "x".repeat(1 << 20);
    for i in 0..10 {
        src.ok(&["SET", &format!("{{{tag}}}:{i}"), &value]);
    }
    let (id0, id1) = (cluster.ids[0].clone(), cluster.ids[1].clone());
    cluster.conn(1).ok(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &id0]);
    src.ok(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &id1]);
    let port1 = cluster.port(1).to_string();
    let mut left = Vec::new();
    while src.cmd(&["SLOTKV", "MIGRATESLOT", "127.0.0.1", &port1, &slot, "1000", "5000"])
        == Reply::Simple("OK".into())
    {
        left.push(src.int(&["CLUSTER", "COUNTKEYSINSLOT", &slot]));
    }
    // 1 MB values: 4 per chunk (the fifth would pass 4 MB).
    assert_eq!(left, vec![6, 2, 0]);
}

/// A master that stops answering is flagged `fail?` by each node after `cluster-node-timeout`, then
/// `fail` once a majority of the masters report it; the cluster is down (its slots are not served) until
/// the node answers again.
#[test]
fn a_dead_master_fails_the_cluster_until_it_returns() {
    let mut cluster = TestCluster::from_layout_args(&cluster_bin(), 3, &["--cluster-node-timeout", "1000"]);
    let key = cluster.key_on(0, "alive");
    let mut c0 = cluster.conn(0);
    c0.ok(&["SET", &key, "v"]);
    cluster.nodes[2].kill9();
    let id2 = cluster.ids[2].clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let flags = c0.cluster_nodes().into_iter().find(|l| l.id == id2).map(|l| l.flags).unwrap_or_default();
        if flags.iter().any(|f| f == "fail") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "node 2 never failed in node 0's view: {flags:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Node 1 learns it too (the FAIL message, or its own agreement).
    let mut c1 = cluster.conn(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c1.cluster_info("cluster_state") != "fail" {
        assert!(std::time::Instant::now() < deadline, "node 1 still reports the cluster ok");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(c0.cluster_info("cluster_state"), "fail");
    assert!(c0.cluster_info("cluster_slots_fail").parse::<usize>().unwrap_or(0) > 5000);
    assert_eq!(c0.err(&["GET", &key]), "CLUSTERDOWN The cluster is down");
    cluster.nodes[2].restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while c0.cluster_info("cluster_state") != "ok" {
        assert!(std::time::Instant::now() < deadline, "the cluster did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(c0.bulk(&["GET", &key]), Some(b"v".to_vec()));
}
