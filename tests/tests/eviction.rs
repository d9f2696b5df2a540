//! `maxmemory` with every eviction policy (issue 10): memory stays under the limit while ten times as much
//! is written, the policy picks the right victims, `noeviction` refuses with `-OOM`, and `OBJECT
//! IDLETIME|FREQ` report the access information. `EVICTION_BIN=/usr/bin/redis-server` runs the same checks
//! against real Redis.

use slotkv_tests::{encode, info_field, node_bin, Conn, Node, Reply};
use std::path::PathBuf;

const LIMIT: u64 = 8 << 20;

fn bin() -> PathBuf {
    std::env::var_os("EVICTION_BIN").map(PathBuf::from).unwrap_or_else(|| node_bin().to_path_buf())
}

fn start(policy: &str) -> Node {
    Node::start_bin(&bin(), &["--maxmemory", &LIMIT.to_string(), "--maxmemory-policy", policy])
}

fn used_memory(c: &mut Conn) -> u64 {
    info_field(&c.cmd(&["INFO", "memory"]).text(), "used_memory")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no used_memory in INFO"))
}

fn stat(c: &mut Conn, field: &str) -> u64 {
    info_field(&c.cmd(&["INFO", "stats"]).text(), field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

/// Writes `n` keys `prefix:i` with 1 KB values (with a TTL when `ttl`), pipelined in batches of 500;
/// checks `used_memory` after every batch. Returns how many writes were refused with `-OOM`.
fn fill(c: &mut Conn, prefix: &str, n: usize, ttl: bool) -> usize {
    let value = "x".repeat(1000);
    let mut refused = 0;
    for batch in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut bytes = Vec::new();
        for i in batch {
            let key = format!("{prefix}:{i}");
            if ttl {
                bytes.extend(encode(&["SET", &key, &value, "EX", "3600"]));
            } else {
                bytes.extend(encode(&["SET", &key, &value]));
            }
        }
        c.send_raw(&bytes);
        for _ in batch {
            if let Reply::Error(e) = c.read_reply() {
                assert!(e.starts_with("OOM "), "{e}");
                refused += 1;
            }
        }
        // A little over is allowed: a write lands before the next command evicts for it.
        let used = used_memory(c);
        assert!(used <= LIMIT + LIMIT / 20, "used_memory {used} over maxmemory {LIMIT}");
    }
    refused
}

#[test]
fn every_policy_stays_under_maxmemory_while_ten_times_as_much_is_written() {
    // 80 MB of 1 KB values through an 8 MB limit.
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let node = start(policy);
        let mut c = node.conn();
        let volatile = policy.starts_with("volatile");
        // Keys without a TTL: a volatile policy must never evict them.
        for i in 0..100 {
            c.ok(&["SET", &format!("keep:{i}"), "forever"]);
        }
        let refused = fill(&mut c, "k", 80_000, volatile);
        assert_eq!(refused, 0, "{policy}: writes refused while keys could be evicted");
        let evicted = stat(&mut c, "evicted_keys");
        assert!(evicted > 60_000, "{policy}: only {evicted} keys evicted");
        let kept = (0..100).filter(|i| c.bulk(&["GET", &format!("keep:{i}")]).is_some()).count();
        if volatile {
            assert_eq!(kept, 100, "{policy} evicted keys without a TTL");
        }
        let info = c.cmd(&["INFO", "memory"]).text();
        assert_eq!(info_field(&info, "maxmemory_policy").as_deref(), Some(policy));
    }
}

#[test]
fn noeviction_and_volatile_without_candidates_answer_oom() {
    for policy in ["noeviction", "volatile-lru"] {
        let node = start(policy);
        let mut c = node.conn();
        let refused = fill(&mut c, "k", 20_000, false);
        assert!(refused > 5000, "{policy}: {refused} writes refused");
        // Buffers freed after the fill (the last batch's input) may leave room for a few more 1 KB values;
        // within 200 (0.2 MB over an 8 MB limit) a write is refused, with Redis's text.
        let refusal = (0..200).find_map(|i| match c.cmd(&["SET", &format!("more:{i}"), &"x".repeat(1000)]) {
            Reply::Error(e) => Some(e),
            _ => None,
        });
        assert_eq!(
            refusal.as_deref(),
            Some("OOM command not allowed when used memory > 'maxmemory'."),
            "{policy}"
        );
        // Reads and deletes still work.
        assert!(c.bulk(&["GET", "k:1"]).is_some());
        assert_eq!(c.int(&["DEL", "k:1"]), 1);
        assert_eq!(stat(&mut c, "evicted_keys"), 0);
    }
}

/// Waits for the next whole second: the LRU clock counts seconds (as Redis's does), so keys used in
/// different seconds are told apart.
fn next_second() {
    let now = || {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    };
    let start = now();
    let ok = slotkv_tests::wait_for(std::time::Duration::from_secs(3), || now() > start);
    assert!(ok, "the clock did not move");
}

/// How many of 200 hot keys survive `policy` when, every second for 6 seconds, all of them are read and
/// 2 MB of cold keys written (12 MB through an 8 MB limit).
fn hot_keys_kept(policy: &str) -> usize {
    let node = start(policy);
    let mut c = node.conn();
    let hot: Vec<String> = (0..200).map(|i| format!("hot:{i}")).collect();
    let value = "h".repeat(1000);
    for k in &hot {
        c.ok(&["SET", k, &value]);
    }
    for round in 0..6 {
        next_second();
        let mut bytes = Vec::new();
        for k in &hot {
            bytes.extend(encode(&["GET", k]));
        }
        c.send_raw(&bytes);
        for _ in &hot {
            c.read_reply();
        }
        fill(&mut c, &format!("cold{round}"), 2000, false);
    }
    hot.iter().filter(|k| c.int(&["EXISTS", k]) == 1).count()
}

#[test]
fn lru_and_lfu_keep_the_hot_keys_better_than_random() {
    let lru = hot_keys_kept("allkeys-lru");
    let lfu = hot_keys_kept("allkeys-lfu");
    let random = hot_keys_kept("allkeys-random");
    eprintln!("hot keys kept of 200: LRU {lru}, LFU {lfu}, random {random}");
    assert!(lru > random + 50 && lru >= 150, "LRU kept {lru} of 200 hot keys, random {random}");
    assert!(lfu > random + 50 && lfu >= 150, "LFU kept {lfu} of 200 hot keys, random {random}");
}

#[test]
fn volatile_ttl_evicts_the_nearest_expiry_first() {
    let node = start("volatile-ttl");
    let mut c = node.conn();
    let value = "t".repeat(1000);
    // TTLs grow with the key number: the early keys should go first.
    let mut bytes = Vec::new();
    for i in 0..20_000 {
        bytes.extend(encode(&["SET", &format!("t:{i}"), &value, "EX", &(10_000 + i).to_string()]));
    }
    c.send_raw(&bytes);
    for _ in 0..20_000 {
        c.read_reply();
    }
    let kept = |range: std::ops::Range<usize>, c: &mut Conn| {
        range.filter(|i| c.int(&["EXISTS", &format!("t:{i}")]) == 1).count()
    };
    let early = kept(0..2000, &mut c);
    let late = kept(18_000..20_000, &mut c);
    assert!(late > early * 3 && late > 1500, "kept {early} of the shortest TTLs and {late} of the longest");
}

#[test]
fn object_idletime_and_freq() {
    let node = start("allkeys-lru");
    let mut c = node.conn();
    c.ok(&["SET", "k", "v"]);
    assert_eq!(c.int(&["OBJECT", "IDLETIME", "k"]), 0);
    assert!(c.err(&["OBJECT", "FREQ", "k"]).starts_with("ERR An LFU maxmemory policy is not selected"));
    c.ok(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    c.ok(&["SET", "f", "v"]);
    let before = c.int(&["OBJECT", "FREQ", "f"]);
    assert_eq!(before, 5, "a new key starts at 5");
    for _ in 0..500 {
        c.bulk(&["GET", "f"]);
    }
    let after = c.int(&["OBJECT", "FREQ", "f"]);
    assert!(after > before, "{before} -> {after}");
    assert_eq!(c.int(&["OBJECT", "FREQ", "f"]), after, "OBJECT does not count as an access");
    assert!(c.err(&["OBJECT", "IDLETIME", "f"]).starts_with("ERR An LFU maxmemory policy is selected"));
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "missing"]), Reply::Nil);
    assert!(c.err(&["CONFIG", "SET", "maxmemory-policy", "lru"]).contains("maxmemory-policy"));
}
