//! The smart client with replicas: reads served by replicas when asked (`ReadFrom`), and a master killed
//! with SIGKILL under a continuous client workload: the workload resumes once the replica is promoted,
//! errors (if any) fall inside the outage, and the client finds the new master by itself.

use slotkv_client::{cmd, ClusterClient, ReadFrom};
use slotkv_tests::cluster_replicas::{calls, cluster_with_replicas, role};
use slotkv_tests::{cluster_bin, runtime, wait_for};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NODE_TIMEOUT_MS: u64 = 2000;

#[test]
fn reads_from_replicas_are_served_by_the_replicas_and_writes_by_the_masters() {
    let c = cluster_with_replicas(&cluster_bin(), NODE_TIMEOUT_MS);
    let seeds = vec![c.addr(0)];
    runtime().block_on(async {
        let client = ClusterClient::builder(&seeds)
            .read_from(ReadFrom::PreferReplica)
            .build()
            .await
            .unwrap_or_else(|e| panic!("client: {e}"));
        for i in 0..3 {
            let slot = slotkv_proto::key_slot(c.key_on(i, "r:").as_bytes());
            assert_eq!(client.slot_replicas(slot), vec![c.addr(i + 3)], "the map keeps the replicas");
        }
        let keys: Vec<String> = (0..300).map(|n| format!("r:{n}")).collect();
        for k in &keys {
            client.query::<()>(&cmd("SET").arg(k.as_str()).arg(k.as_str())).await.unwrap();
        }
        // Replication is asynchronous: read until every replica has every key.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mget = keys.iter().fold(cmd("MGET"), |m, k| m.arg(k.as_str()));
            let got: Vec<Option<String>> = client.query(&mget).await.unwrap();
            if got.iter().zip(&keys).all(|(v, k)| v.as_deref() == Some(k.as_str())) {
                break;
            }
            assert!(Instant::now() < deadline, "the replicas did not catch up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for k in &keys {
            let v: String = client.query(&cmd("GET").arg(k.as_str())).await.unwrap();
            assert_eq!(&v, k);
        }
    });
    for i in 0..3 {
        assert_eq!(calls(&c, i, "get") + calls(&c, i, "mget"), 0, "master {i} served no read");
        assert!(calls(&c, i, "set") > 50, "master {i} served the writes");
        assert!(calls(&c, i + 3, "get") > 50, "replica {} served the reads", i + 3);
    }
}

/// Successes and failures of a write workload, with their times.
#[derive(Default)]
struct Log {
    ok: Vec<Instant>,
    errors: Vec<(Instant, String)>,
}

#[test]
fn a_killed_master_is_replaced_under_a_client_workload_which_resumes() {
    let mut c = cluster_with_replicas(&cluster_bin(), NODE_TIMEOUT_MS);
    let seeds = vec![c.addr(1)];
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Log::default()));
    let dead_key = c.key_on(0, "f:");
    let dead_slot = slotkv_proto::key_slot(dead_key.as_bytes());
    let (s, l) = (Arc::clone(&stop), Arc::clone(&log));
    let load = std::thread::spawn(move || {
        runtime().block_on(async move {
            let client = ClusterClient::builder(&seeds)
                .timeout(Duration::from_secs(10))
                .build()
                .await
                .unwrap_or_else(|e| panic!("client: {e}"));
            let mut tasks = Vec::new();
            for t in 0..8u64 {
                let (client, s, l) = (client.clone(), Arc::clone(&s), Arc::clone(&l));
                tasks.push(tokio::spawn(async move {
                    let mut n = 0u64;
                    while !s.load(Ordering::Relaxed) {
                        let key = format!("f:{t}:{n}");
                        let set = cmd("SET").arg(key.as_str()).arg(n.to_string().as_str());
                        let r = client.query::<()>(&set).await;
                        let mut log = l.lock().unwrap_or_else(|p| p.into_inner());
                        match r {
                            Ok(()) => log.ok.push(Instant::now()),
                            Err(e) => log.errors.push((Instant::now(), e.to_string())),
                        }
                        n += 1;
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            client
        })
    });
    let ok_count = |log: &Mutex<Log>| log.lock().unwrap_or_else(|p| p.into_inner()).ok.len();
    assert!(wait_for(Duration::from_secs(10), || ok_count(&log) > 2000), "the workload did not start");
    let killed = Instant::now();
    c.nodes[0].kill9();
    assert!(
        wait_for(Duration::from_millis(NODE_TIMEOUT_MS + 8000), || role(&c, 1, 3) == "master"),
        "the replica was not promoted"
    );
    let promoted = killed.elapsed();
    let before = ok_count(&log);
    assert!(
        wait_for(Duration::from_secs(10), || ok_count(&log) > before + 2000),
        "the workload did not resume"
    );
    stop.store(true, Ordering::Relaxed);
    let client = load.join().unwrap_or_else(|_| panic!("the workload panicked"));
    let log = std::mem::take(&mut *log.lock().unwrap_or_else(|p| p.into_inner()));

    // The longest time without a successful write, around the kill: what callers saw of the outage.
    let mut times = log.ok.clone();
    times.sort();
    let gap = times
        .windows(2)
        .filter(|w| w[1] > killed)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .max()
        .unwrap_or_default();
    let resumed = times.iter().find(|&&t| t > killed + Duration::from_millis(100)).copied();
    let stalled =
        times.iter().rev().find(|&&t| t <= killed + promoted).map(|t| t.saturating_duration_since(killed));
    eprintln!(
        "promoted {promoted:?} after the kill; {} writes ok, {} errors; longest stall {gap:?}; \
         last write before the promotion {stalled:?} after the kill; first after the kill {:?}",
        log.ok.len(),
        log.errors.len(),
        resumed.map(|t| t.saturating_duration_since(killed)),
    );
    for (at, e) in &log.errors {
        let at = at.saturating_duration_since(killed);
        assert!(
            at <= promoted + Duration::from_secs(2),
            "an error {at:?} after the kill, outside the outage: {e}"
        );
    }
    // Callers wait out the outage, not more: writes resume within moments of the promotion.
    assert!(gap <= promoted + Duration::from_secs(2), "writes stalled {gap:?}, promotion took {promoted:?}");
    // A failover inside the client's timeout is invisible: slower replies, no errors.
    assert!(log.errors.is_empty(), "{} errors, first: {:?}", log.errors.len(), log.errors.first());
    // The client found the new master by itself.
    assert_eq!(client.slot_owner(dead_slot), Some(c.addr(3)));
}

#[test]
fn reads_fall_back_to_the_master_when_a_replica_dies() {
    let mut c = cluster_with_replicas(&cluster_bin(), NODE_TIMEOUT_MS);
    let seeds = vec![c.addr(1)];
    let key = c.key_on(0, "fb:");
    c.conn(0).ok(&["SET", &key, "v"]);
    let rt = runtime();
    let client = rt.block_on(async {
        ClusterClient::builder(&seeds).read_from(ReadFrom::PreferReplica).build().await.unwrap()
    });
    let read = |client: &ClusterClient| {
        rt.block_on(async { client.query::<Option<String>>(&cmd("GET").arg(key.as_str())).await })
    };
    assert!(wait_for(Duration::from_secs(5), || read(&client).ok().flatten().as_deref() == Some("v")));
    let before = calls(&c, 0, "get");
    c.nodes[3].kill9();
    let killed = Instant::now();
    // Every read succeeds: the replica is left out, the master serves.
    while killed.elapsed() < Duration::from_millis(NODE_TIMEOUT_MS + 1500) {
        assert_eq!(read(&client).unwrap_or_else(|e| panic!("read failed: {e}")).as_deref(), Some("v"));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(calls(&c, 0, "get") > before + 50, "the master served the reads");
    // Once the cluster marks it failed, a refresh drops it from the map.
    assert!(wait_for(Duration::from_secs(10), || {
        rt.block_on(client.refresh()).is_ok()
            && client.slot_replicas(slotkv_proto::key_slot(key.as_bytes())).is_empty()
    }));
}
