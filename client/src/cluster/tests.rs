//! The cluster client against the scripted mock cluster: every redirect and failure case, with the
//! clock paused (timeouts and backoffs pass instantly and exactly).

use super::*;
use crate::mock::MockCluster;
use slotkv_proto::slot::key_slot;

const A: &str = "10.0.0.1:7000";
const B: &str = "10.0.0.2:7000";
const C: &str = "10.0.0.3:7000";

async fn client_with(mock: &MockCluster, options: ClusterOptions) -> ClusterClient {
    ClusterClient::builder([A]).options(options).transport(mock.transport()).build().await.unwrap()
}

async fn client(mock: &MockCluster) -> ClusterClient {
    client_with(mock, ClusterOptions::default()).await
}

fn set(k: &str, v: &str) -> Cmd {
    cmd("SET").arg(k).arg(v)
}

fn get(k: &str) -> Cmd {
    cmd("GET").arg(k)
}

/// A key whose slot `mock`'s even split gives to node `n` (0, 1, 2 of three).
fn key_on(n: usize) -> String {
    (0..).map(|i| format!("key{i}")).find(|k| usize::from(key_slot(k.as_bytes())) * 3 / 16384 == n).unwrap()
}

fn slot(key: &str) -> u16 {
    key_slot(key.as_bytes())
}

fn gets(mock: &MockCluster, addr: &str) -> usize {
    mock.calls(addr).iter().filter(|c| c.as_str() == "GET").count()
}

#[tokio::test(start_paused = true)]
async fn learns_the_map_from_shards_or_slots_and_sends_straight_to_the_owner() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    assert_eq!(mock.count("CLUSTER SHARDS"), 1);
    assert_eq!(c.primaries(), vec![A, B, C]);
    let k = key_on(2);
    c.query::<()>(&set(&k, "v")).await.unwrap();
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    assert_eq!(gets(&mock, C), 1, "one hop to the owner");
    assert_eq!(gets(&mock, A) + gets(&mock, B), 0);

    let old = MockCluster::new(&[A, B, C]);
    old.without_shards();
    let c = client(&old).await;
    assert_eq!((old.count("CLUSTER SHARDS"), old.count("CLUSTER SLOTS")), (1, 1), "falls back to SLOTS");
    assert_eq!(c.slot_owner(slot(&key_on(1))).as_deref(), Some(B));
}

#[tokio::test(start_paused = true)]
async fn the_first_seed_that_answers_teaches_the_map() {
    let mock = MockCluster::new(&[A, B, C]);
    mock.set_down(A, true);
    let c = ClusterClient::builder(["10.9.9.9:1", A, B]).transport(mock.transport()).build().await.unwrap();
    assert_eq!(c.primaries().len(), 3);
    let none = MockCluster::new(&[A]);
    none.set_down(A, true);
    let e = ClusterClient::builder([A]).transport(none.transport()).build().await.err().unwrap();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn moved_updates_the_slot_and_one_debounced_refresh_follows_a_burst() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    let keys: Vec<String> = (0..200).map(|i| format!("m{i}")).filter(|k| slot(k) < 5461).collect();
    for k in &keys {
        c.query::<()>(&set(k, k)).await.unwrap();
    }
    // Every slot of A moves to B, and the nodes already tell so: only MOVED shows it to the client.
    for s in 0..=5461 {
        mock.move_slot(s, B, false);
    }
    let before = mock.count("CLUSTER SHARDS");
    let tasks: Vec<_> = keys
        .iter()
        .map(|k| {
            let (c, k) = (c.clone(), k.clone());
            tokio::spawn(async move { c.query::<String>(&get(&k)).await.map(|v| (k, v)) })
        })
        .collect();
    for t in tasks {
        let (k, v) = t.await.unwrap().unwrap();
        assert_eq!(k, v);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mock.count("CLUSTER SHARDS") - before, 1, "a burst of MOVED costs one refresh");
    // After the refresh every slot of A is known to be B's: no more MOVED.
    let a_gets = gets(&mock, A);
    assert_eq!(c.query::<Option<String>>(&get("{m}other")).await.unwrap(), None);
    assert_eq!(gets(&mock, A), a_gets, "straight to the new owner");
    assert!(!c.primaries().contains(&A.to_string()));
}

#[tokio::test(start_paused = true)]
async fn moved_alone_is_enough_when_the_map_lags() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    let k = key_on(0);
    c.query::<()>(&set(&k, "1")).await.unwrap();
    // The nodes still advertise the old owner: MOVED teaches the slot, the refresh cannot undo it... for
    // this one slot the client keeps what MOVED said until a refresh says otherwise.
    mock.move_slot(slot(&k), C, true);
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "1");
    assert_eq!(c.slot_owner(slot(&k)).as_deref(), Some(C));
    assert_eq!((gets(&mock, A), gets(&mock, C)), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn ask_sends_asking_and_the_command_once_without_touching_the_map() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    let k = key_on(0);
    c.query::<()>(&set(&k, "v")).await.unwrap();
    mock.migrate(slot(&k), B);
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    assert_eq!(mock.calls(B), vec!["ASKING", "GET"]);
    assert_eq!(c.slot_owner(slot(&k)).as_deref(), Some(A), "ASK does not move the slot");
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    assert_eq!(gets(&mock, A), 2, "the next command asks the owner first again");
    mock.move_slot(slot(&k), B, false);
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
}

#[tokio::test(start_paused = true)]
async fn transient_errors_back_off_and_retry_within_the_budget() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    let k = key_on(1);
    mock.script(
        B,
        &[
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "CLUSTERDOWN The cluster is down",
            "LOADING Redis is loading the dataset in memory",
        ],
    );
    let started = Instant::now();
    c.query::<()>(&set(&k, "v")).await.unwrap();
    assert_eq!(gets(&mock, B), 0);
    assert_eq!(mock.calls(B).iter().filter(|c| c.as_str() == "SET").count(), 4);
    assert!(started.elapsed() >= Duration::from_millis(10 + 20 + 40), "backed off: {:?}", started.elapsed());

    let strict = client_with(&mock, ClusterOptions { retries: 2, ..ClusterOptions::default() }).await;
    mock.script(B, &["TRYAGAIN x"; 10]);
    let e = strict.query::<()>(&set(&k, "v")).await.unwrap_err();
    assert_eq!(e.code(), Some("TRYAGAIN"), "the last error once the budget is spent");
    let tried = mock.calls(B).iter().filter(|c| c.as_str() == "SET").count();
    assert_eq!(tried, 4 + 3, "three tries: the first and two retries");
}

#[tokio::test(start_paused = true)]
async fn errors_that_retrying_cannot_fix_are_returned_at_once() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    mock.script(B, &["WRONGTYPE Operation against a key holding the wrong kind of value"]);
    let e = c.query::<()>(&set(&key_on(1), "v")).await.unwrap_err();
    assert_eq!(e.code(), Some("WRONGTYPE"));
    assert_eq!(mock.calls(B).iter().filter(|c| c.as_str() == "SET").count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dead_node_is_an_error_within_the_timeout_and_its_slots_are_found_again() {
    let mock = MockCluster::new(&[A, B, C]);
    let options = ClusterOptions { timeout: Duration::from_millis(800), ..ClusterOptions::default() };
    let c = client_with(&mock, options).await;
    let k = key_on(2);
    c.query::<()>(&set(&k, "v")).await.unwrap();
    mock.set_down(C, true);
    let started = Instant::now();
    let e = c.query::<String>(&get(&k)).await.unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    assert!(started.elapsed() <= Duration::from_millis(800), "{:?}", started.elapsed());
    // Its slots move to B (a failover, a manual fix): the next refresh finds them.
    for s in 10923..16384 {
        mock.move_slot(s, B, false);
    }
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    // And a node that comes back is reconnected.
    mock.set_down(C, false);
    mock.move_slot(slot(&k), C, false);
    c.refresh().await.unwrap();
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    assert_eq!(mock.connects(C), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hung_node_times_out_instead_of_hanging() {
    let mock = MockCluster::new(&[A, B, C]);
    let options = ClusterOptions { timeout: Duration::from_millis(300), ..ClusterOptions::default() };
    let c = client_with(&mock, options).await;
    mock.set_hung(B, true);
    let started = Instant::now();
    let e = c.query::<Option<String>>(&get(&key_on(1))).await.unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    let replies = c.pipeline::<Option<String>>(&[get(&key_on(1)), get(&key_on(0))]).await.unwrap();
    assert!(matches!(replies[0], Err(Error::Timeout(_))), "{:?}", replies[0]);
    assert_eq!(replies[1], Ok(None), "other nodes answer");
}

#[tokio::test(start_paused = true)]
async fn tasks_failing_together_share_one_refresh() {
    let mock = MockCluster::new(&[A, B, C]);
    let options = ClusterOptions { timeout: Duration::from_millis(200), ..ClusterOptions::default() };
    let c = client_with(&mock, options).await;
    mock.set_down(B, true);
    let before = mock.count("CLUSTER SHARDS");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.query::<Option<String>>(&get(&key_on(1))).await })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().is_err());
    }
    let refreshes = mock.count("CLUSTER SHARDS") - before;
    // 64 tasks back off in step (10, 20, 40, 80 ms): one refresh per round, not one per task.
    assert!(refreshes <= 6, "{refreshes} refreshes for 64 failing tasks");
}

#[tokio::test(start_paused = true)]
async fn pipelines_span_nodes_keep_order_and_follow_each_redirect() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    let cmds: Vec<Cmd> = (0..300).map(|i| cmd("INCR").arg(&format!("p{}", i % 30))).collect();
    let first = c.pipeline::<i64>(&cmds).await.unwrap();
    assert_eq!(first[299], Ok(10));
    // One slot moves quietly, another is migrating: those commands are redirected one by one.
    let elsewhere =
        |k: &str| [A, B, C].into_iter().find(|a| c.slot_owner(slot(k)).as_deref() != Some(a)).unwrap();
    mock.move_slot(slot("p0"), elsewhere("p0"), true);
    mock.migrate(slot("p1"), elsewhere("p1"));
    let gets: Vec<Cmd> = (0..30).map(|i| get(&format!("p{i}"))).collect();
    let values = c.pipeline::<i64>(&gets).await.unwrap();
    assert_eq!(values, vec![Ok(10); 30]);
    let mixed = c.pipeline::<Frame>(&[set("x", "1"), cmd("NOSUCH"), get("x")]).await.unwrap();
    assert!(mixed[1].as_ref().is_err_and(|e| e.code() == Some("ERR")));
    assert_eq!(mixed[2], Ok(Frame::Bulk(b"1".to_vec())));
}

#[tokio::test(start_paused = true)]
async fn multi_key_commands_split_and_merge() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    let (k0, k1, k2) = (key_on(0), key_on(1), key_on(2));
    c.query::<()>(&cmd("MSET").arg(&k0).arg("a").arg(&k1).arg("b").arg(&k2).arg("c")).await.unwrap();
    let got: Vec<Option<String>> =
        c.query(&cmd("MGET").arg(&k2).arg("nope").arg(&k0).arg(&k1)).await.unwrap();
    assert_eq!(got, vec![Some("c".into()), None, Some("a".into()), Some("b".into())]);
    assert_eq!(c.query::<i64>(&cmd("EXISTS").arg(&k0).arg(&k1).arg("nope")).await.unwrap(), 2);
    assert_eq!(c.query::<i64>(&cmd("DEL").arg(&k0).arg(&k1).arg(&k2)).await.unwrap(), 3);
    // Split commands ride in pipelines too.
    let r = c.pipeline::<i64>(&[cmd("EXISTS").arg(&k0).arg(&k2), cmd("INCR").arg(&k1)]).await.unwrap();
    assert_eq!(r, vec![Ok(0), Ok(1)]);
}

#[tokio::test(start_paused = true)]
async fn transactions_are_pinned_to_one_slot_and_resent_whole_after_a_move() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    let e = c.transaction(&[set("a", "1"), set("b", "2")]).await.unwrap_err();
    assert_eq!(e.code(), Some("CROSSSLOT"));
    assert_eq!(mock.count("MULTI"), 0, "refused before anything is sent");

    let (k1, k2) = ("{t}1", "{t}2");
    let replies = c.transaction(&[cmd("INCR").arg(k1), cmd("INCR").arg(k1), set(k2, "x")]).await.unwrap();
    assert_eq!(
        replies,
        vec![Ok(Frame::Integer(1)), Ok(Frame::Integer(2)), Ok(Frame::Simple(b"OK".to_vec()))]
    );

    let owner = c.slot_owner(slot(k1)).unwrap();
    let other = [A, B, C].into_iter().find(|a| *a != owner).unwrap();
    mock.move_slot(slot(k1), other, true);
    let replies = c.transaction(&[cmd("INCR").arg(k1)]).await.unwrap();
    assert_eq!(replies, vec![Ok(Frame::Integer(3))], "discarded at the old owner, run once at the new one");
    let third = [A, B, C].into_iter().find(|a| *a != owner && *a != other).unwrap();
    mock.migrate(slot(k1), third);
    let replies = c.transaction(&[cmd("INCR").arg(k1)]).await.unwrap();
    assert_eq!(replies, vec![Ok(Frame::Integer(4))]);
    assert_eq!(mock.calls(third), vec!["ASKING", "MULTI", "INCR", "EXEC"]);
    assert_eq!(mock.value(k1), Some(b"4".to_vec()));
}

#[tokio::test(start_paused = true)]
async fn scan_visits_every_primary() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    let keys: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
    for k in &keys {
        c.query::<()>(&set(k, "v")).await.unwrap();
    }
    let mut found: Vec<String> = c
        .scan(None, Some(10))
        .collect()
        .await
        .unwrap()
        .into_iter()
        .map(|k| String::from_utf8(k).unwrap())
        .collect();
    found.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(found, want);
    assert!([A, B, C].iter().all(|n| mock.calls(n).contains(&"SCAN".to_string())));
}

#[tokio::test(start_paused = true)]
async fn blocking_commands_get_connections_of_their_own() {
    let mock = MockCluster::new(&[A, B, C]);
    let c = client(&mock).await;
    let k = key_on(1);
    c.query::<()>(&set("{x}", "1")).await.unwrap();
    c.query::<Option<String>>(&get(&k)).await.unwrap();
    let shared = mock.connects(B);
    let popped: Option<(String, String)> = c.query(&cmd("BLPOP").arg(&k).arg(&0)).await.unwrap();
    assert_eq!(popped, None);
    assert_eq!(mock.connects(B), shared + 1, "BLPOP opened a connection of its own");
    c.query::<Option<(String, String)>>(&cmd("BLPOP").arg(&k).arg(&0)).await.unwrap();
    assert_eq!(mock.connects(B), shared + 1, "and reuses it once it is idle again");
}

#[tokio::test(start_paused = true)]
async fn the_periodic_refresh_finds_added_and_removed_nodes() {
    let mock = MockCluster::new(&[A, B]);
    let options =
        ClusterOptions { refresh_interval: Some(Duration::from_secs(1)), ..ClusterOptions::default() };
    let c = client_with(&mock, options).await;
    mock.add_node(C);
    for s in 0..8192 {
        mock.move_slot(s, C, false);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(c.primaries(), vec![C, B]);
    let k = (0..).map(|i| format!("n{i}")).find(|k| slot(k) < 8192).unwrap();
    c.query::<Option<String>>(&get(&k)).await.unwrap();
    assert_eq!((gets(&mock, A), gets(&mock, C)), (0, 1), "the new node, no MOVED on the way");
}

/// The three-node mock with one replica per primary: `A` is followed by `A2`...
const A2: &str = "10.0.1.1:7000";
const B2: &str = "10.0.1.2:7000";
const C2: &str = "10.0.1.3:7000";

fn with_replicas() -> MockCluster {
    let mock = MockCluster::new(&[A, B, C]);
    for (p, r) in [(A, A2), (B, B2), (C, C2)] {
        mock.add_replica(p, r);
    }
    mock
}

async fn reading_from(mock: &MockCluster, read_from: ReadFrom) -> ClusterClient {
    client_with(mock, ClusterOptions { read_from, ..ClusterOptions::default() }).await
}

fn count(mock: &MockCluster, addr: &str, name: &str) -> usize {
    mock.calls(addr).iter().filter(|c| c.as_str() == name).count()
}

#[tokio::test(start_paused = true)]
async fn the_map_keeps_each_ranges_replicas() {
    let mock = with_replicas();
    let c = client(&mock).await;
    assert_eq!(c.slot_replicas(slot(&key_on(1))), vec![B2]);
    assert_eq!(c.primaries(), vec![A, B, C], "replicas are not primaries");
    let old = with_replicas();
    old.without_shards();
    let c = client(&old).await;
    assert_eq!(c.slot_replicas(slot(&key_on(2))), vec![C2], "CLUSTER SLOTS lists them too");
}

#[tokio::test(start_paused = true)]
async fn reads_go_to_a_replica_after_readonly_and_writes_to_the_primary() {
    let mock = with_replicas();
    // By default the primary serves everything and nobody says READONLY.
    let primary = client(&mock).await;
    let k = key_on(0);
    primary.query::<()>(&set(&k, "v")).await.unwrap();
    assert_eq!(primary.query::<String>(&get(&k)).await.unwrap(), "v");
    assert_eq!((gets(&mock, A), gets(&mock, A2), mock.count("READONLY")), (1, 0, 0));

    let c = reading_from(&mock, ReadFrom::PreferReplica).await;
    c.query::<()>(&set(&k, "w")).await.unwrap();
    assert_eq!(count(&mock, A, "SET"), 2, "writes go to the primary");
    for _ in 0..3 {
        assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "w");
    }
    // Multi-key reads split per slot go to replicas too; pipelines group reads by replica.
    let (k1, k2) = (key_on(1), key_on(2));
    c.query::<()>(&cmd("MSET").arg(k1.as_str()).arg("1").arg(k2.as_str()).arg("2")).await.unwrap();
    let both: Vec<String> = c.query(&cmd("MGET").arg(k1.as_str()).arg(k2.as_str())).await.unwrap();
    assert_eq!(both, ["1", "2"]);
    let replies = c.pipeline::<Option<String>>(&[get(&k), get(&k1), set(&k2, "3")]).await.unwrap();
    assert_eq!(
        replies.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>(),
        [Some("w".into()), Some("1".into()), Some("OK".into())]
    );
    assert_eq!((gets(&mock, A), gets(&mock, A2)), (1, 4), "reads served by the replica");
    assert_eq!((count(&mock, B2, "MGET"), count(&mock, C2, "MGET")), (1, 1));
    assert_eq!((gets(&mock, B2), count(&mock, C, "SET")), (1, 1));
    // READONLY once per connection, first thing on it.
    assert_eq!(mock.calls(A2).first().map(String::as_str), Some("READONLY"));
    assert_eq!(count(&mock, A2, "READONLY"), mock.connects(A2));
    assert_eq!(mock.connects(A2), 1);
}

#[tokio::test(start_paused = true)]
async fn any_node_spreads_reads_over_the_primary_and_its_replicas() {
    let mock = with_replicas();
    let c = reading_from(&mock, ReadFrom::AnyNode).await;
    let k = key_on(2);
    c.query::<()>(&set(&k, "v")).await.unwrap();
    for _ in 0..10 {
        assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    }
    assert_eq!((gets(&mock, C), gets(&mock, C2)), (5, 5));
}

#[tokio::test(start_paused = true)]
async fn a_replica_that_is_down_leaves_reads_to_the_primary_until_it_returns() {
    let mock = with_replicas();
    let c = reading_from(&mock, ReadFrom::PreferReplica).await;
    let k = key_on(1);
    c.query::<()>(&set(&k, "v")).await.unwrap();
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    assert_eq!(gets(&mock, B2), 1);
    mock.set_down(B2, true);
    for _ in 0..5 {
        assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v", "the primary serves");
    }
    assert_eq!(gets(&mock, B), 5);
    assert_eq!(mock.connects(B2), 1, "a paused replica is not tried again at once");
    // Back up: after the pause the replica serves again, on a new connection that says READONLY again.
    mock.set_down(B2, false);
    tokio::time::sleep(REPLICA_PAUSE + Duration::from_millis(100)).await;
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    assert_eq!((gets(&mock, B2), mock.connects(B2), count(&mock, B2, "READONLY")), (2, 2, 2));
}

#[tokio::test(start_paused = true)]
async fn moved_from_a_replica_goes_to_the_primary_and_refreshes_the_map() {
    let mock = with_replicas();
    let c = reading_from(&mock, ReadFrom::PreferReplica).await;
    let k = key_on(0);
    c.query::<()>(&set(&k, "v")).await.unwrap();
    // The slot moves to C: A's replica no longer serves it and redirects to C.
    mock.move_slot(slot(&k), C, false);
    let before = mock.count("CLUSTER SHARDS");
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    assert_eq!((gets(&mock, A2), gets(&mock, C)), (1, 1), "MOVED from the replica, then the primary");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mock.count("CLUSTER SHARDS") - before, 1, "one refresh");
    assert_eq!(c.slot_replicas(slot(&k)), vec![C2]);
    assert_eq!(c.query::<String>(&get(&k)).await.unwrap(), "v");
    assert_eq!(gets(&mock, C2), 1, "after the refresh, the new primary's replica serves");
}

#[tokio::test(start_paused = true)]
async fn a_failover_within_the_timeout_is_invisible_to_the_caller() {
    let mock = with_replicas();
    // More lost-node retries than the budget allows: only the deadline bounds them.
    let options = ClusterOptions { retries: 2, ..ClusterOptions::default() };
    let c = client_with(&mock, options).await;
    let k = key_on(0);
    c.query::<()>(&set(&k, "1")).await.unwrap();
    mock.set_down(A, true);
    let promote = {
        let mock = mock.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(3500)).await;
            mock.promote(A2);
        })
    };
    let started = Instant::now();
    assert_eq!(c.query::<i64>(&cmd("INCR").arg(k.as_str())).await.unwrap(), 2);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(3500) && took < Duration::from_millis(4200), "{took:?}");
    promote.await.unwrap();
    assert_eq!(c.slot_owner(slot(&k)).as_deref(), Some(A2));
    assert!(c.slot_replicas(slot(&k)).is_empty());
    // A failover that takes longer than the timeout is an error, not a hang.
    let k1 = key_on(1);
    mock.set_down(B, true);
    let started = Instant::now();
    let e = c.query::<()>(&set(&k1, "x")).await.unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    assert!(started.elapsed() <= ClusterOptions::default().timeout, "{:?}", started.elapsed());
}
