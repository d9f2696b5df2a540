//! Replicas: who follows which master and how far behind (for `check`, `info`, `status`), what is wrong
//! with that, the layout `create --replicas N` gives, and the wait until every replica's link is up.

use crate::check::{warning, Finding};
use crate::error::Res;
use crate::output::Out;
use crate::view::{short, view_of, Cluster, NodeLine};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One replica as the cluster shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    pub id: String,
    pub addr: String,
    /// The id of its master.
    pub master: String,
    /// `up` or `down` (its `master_link_status`), or `unreachable` when it does not answer.
    pub link: String,
    /// Its replication offset (`slave_repl_offset`).
    pub offset: Option<i64>,
    /// Bytes behind: the master's `master_repl_offset` minus the replica's offset.
    pub lag: Option<i64>,
}

/// How a node is seen: its own `myself` line when it answers (the truth about its role), else the line
/// the entry node has for it.
fn line_of<'a>(c: &'a Cluster, id: &str) -> Option<&'a NodeLine> {
    c.views.get(id).map(|v| &v.me).or_else(|| c.known.get(id))
}

fn offset(map: &std::collections::HashMap<String, String>, field: &str) -> Option<i64> {
    map.get(field)?.trim().parse().ok()
}

/// Every replica of the cluster, sorted by address.
pub fn replicas(c: &Cluster) -> Vec<ReplicaState> {
    let mut out = Vec::new();
    for id in c.known.keys() {
        let Some(line) = line_of(c, id) else { continue };
        let Some(master) = line.master_of() else { continue };
        let own = c.views.get(id);
        let link = match own {
            Some(v) => v.repl.get("master_link_status").cloned().unwrap_or_else(|| "down".into()),
            None => "unreachable".into(),
        };
        let mine = own.and_then(|v| offset(&v.repl, "slave_repl_offset"));
        let theirs = c.views.get(master).and_then(|v| offset(&v.repl, "master_repl_offset"));
        // Both are read at about the same time: a replica a few bytes "ahead" is in sync.
        let lag = match (mine, theirs) {
            (Some(r), Some(m)) if link == "up" => Some((m - r).max(0)),
            _ => None,
        };
        let addr = own.map_or_else(|| line.addr.clone(), |v| v.conn.addr.clone());
        out.push(ReplicaState { id: id.clone(), addr, master: master.to_string(), link, offset: mine, lag });
    }
    out.sort_by(|a, b| a.addr.cmp(&b.addr));
    out
}

/// The masters (by id) and their replicas; masters in address order.
pub fn shards(c: &Cluster) -> Vec<(String, Vec<ReplicaState>)> {
    let all = replicas(c);
    let mut masters: Vec<&NodeLine> =
        c.known.keys().filter_map(|id| line_of(c, id)).filter(|l| l.master_of().is_none()).collect();
    masters.sort_by(|a, b| a.addr.cmp(&b.addr));
    masters
        .into_iter()
        .map(|m| (m.id.clone(), all.iter().filter(|r| r.master == m.id).cloned().collect()))
        .collect()
}

/// Whether a node is down as far as the cluster knows: flagged failing, or it did not answer.
fn is_down(c: &Cluster, id: &str) -> bool {
    c.unreachable.iter().any(|(u, _)| u == id)
        || c.views.values().any(|v| v.lines.iter().any(|l| l.id == id && l.has_flag("fail")))
        || c.known.get(id).is_some_and(NodeLine::is_unusable)
}

/// What is wrong with the replicas (warnings: the cluster serves every slot anyway).
pub fn findings(c: &Cluster) -> Vec<Finding> {
    let name = |id: &str| c.known.get(id).map_or_else(|| short(id).to_string(), |l| l.addr.clone());
    let mut out = Vec::new();
    let shards = shards(c);
    for (_, reps) in &shards {
        for r in reps {
            if c.known.contains_key(&r.master) && is_down(c, &r.master) {
                out.push(warning(
                    "replica_master_down",
                    format!(
                        "{} is a replica of {} ({}), which is down: a replica takes over after cluster-node-timeout",
                        r.addr,
                        name(&r.master),
                        short(&r.master)
                    ),
                ));
            } else if r.link == "down" {
                out.push(warning(
                    "replica_link_down",
                    format!("{} (replica of {}): the link to its master is down", r.addr, name(&r.master)),
                ));
            }
        }
    }
    for r in replicas(c).iter().filter(|r| !c.known.contains_key(&r.master)) {
        out.push(warning(
            "replica_orphan",
            format!("{} is a replica of {}, a node the cluster does not know", r.addr, short(&r.master)),
        ));
    }
    // Masters that serve slots and are up: some with replicas, some without.
    let serving: Vec<&(String, Vec<ReplicaState>)> = shards
        .iter()
        .filter(|(m, _)| !is_down(c, m) && line_of(c, m).is_some_and(|l| !l.ranges.is_empty()))
        .collect();
    if serving.iter().any(|(_, r)| !r.is_empty()) {
        for (m, _) in serving.iter().filter(|(_, r)| r.is_empty()) {
            out.push(warning(
                "no_replica",
                format!("{} ({}) has no replica, while other masters have", name(m), short(m)),
            ));
        }
    }
    out
}

/// Which master each replica follows when `create --replicas n` joins `addrs`: the first
/// `len / (n + 1)` addresses are the masters; the others go to them round by round, each round giving
/// every master one replica, preferring a host other than the master's (and than its other replicas').
/// Nodes left after `n` rounds go one per master. Returns `(replica index, master index)` pairs.
pub fn plan(addrs: &[String], n: usize) -> Result<Vec<(usize, usize)>, String> {
    let masters = addrs.len() / (n + 1);
    if n == 0 {
        return Ok(Vec::new());
    }
    if masters == 0 {
        return Err(format!(
            "{} nodes are too few for --replicas {n}: each master needs {n} replica(s), so at least {} nodes",
            addrs.len(),
            n + 1
        ));
    }
    let host = |i: usize| addrs.get(i).and_then(|a| a.rsplit_once(':')).map_or("", |(h, _)| h);
    let mut left: Vec<usize> = (masters..addrs.len()).collect();
    let mut out: Vec<(usize, usize)> = Vec::new();
    while !left.is_empty() {
        for m in 0..masters {
            let used: Vec<&str> =
                out.iter().filter(|(_, mm)| *mm == m).map(|(r, _)| host(*r)).chain([host(m)]).collect();
            let pick = left
                .iter()
                .position(|&r| !used.contains(&host(r)))
                .or_else(|| left.iter().position(|&r| host(r) != host(m)))
                .unwrap_or(0);
            if pick < left.len() {
                out.push((left.remove(pick), m));
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Waits until each `(replica addr, master id)` reports `master_link_status:up` with that master, and
/// every one of `all` (the cluster's nodes) lists it as that master's replica; a spinner counts them.
pub async fn wait_linked(
    out: &Out,
    pairs: &[(String, String)],
    all: &[String],
    deadline: Duration,
) -> Res<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let spinner = out.spinner("waiting for the replicas to sync");
    let until = Instant::now() + deadline;
    loop {
        let mut up = 0;
        let mut last = String::new();
        for (addr, master) in pairs {
            match linked(addr, master).await {
                Ok(()) => up += 1,
                Err(why) => last = why,
            }
        }
        if up == pairs.len() {
            match everyone_sees(pairs, all).await {
                Ok(()) => {
                    spinner.finish_and_clear();
                    return Ok(());
                }
                Err(why) => last = why,
            }
        }
        spinner.set_message(format!("replicas in sync: {up}/{}", pairs.len()));
        if Instant::now() >= until {
            spinner.finish_and_clear();
            return problem!(
                "replicas in sync after {}s: {up} of {}; {last}",
                deadline.as_secs(),
                pairs.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn linked(addr: &str, master: &str) -> Result<(), String> {
    let v = view_of(addr, None).await.map_err(|e| e.to_string())?;
    if v.me.master_of() != Some(master) {
        return Err(format!("{addr} is not a replica of {} yet", short(master)));
    }
    match v.repl.get("master_link_status").map(String::as_str) {
        Some("up") => Ok(()),
        other => Err(format!("{addr}: master_link_status:{}", other.unwrap_or("?"))),
    }
}

async fn everyone_sees(pairs: &[(String, String)], all: &[String]) -> Result<(), String> {
    for a in all {
        let v = view_of(a, None).await.map_err(|e| e.to_string())?;
        let roles: BTreeMap<&str, Option<&str>> =
            v.lines.iter().map(|l| (l.addr.as_str(), l.master_of())).collect();
        for (addr, master) in pairs {
            if roles.get(addr.as_str()).copied().flatten() != Some(master.as_str()) {
                return Err(format!("{a} does not list {addr} as a replica of {} yet", short(master)));
            }
        }
    }
    Ok(())
}

/// How long a `failover` may take (a planned one waits for the replica to catch up first).
const FAILOVER_DEADLINE: Duration = Duration::from_secs(60);

/// `slotkv failover REPLICA [--force|--takeover]`: `CLUSTER FAILOVER` on the replica, then waits until
/// it is a master with its old master's slots.
pub async fn failover(out: &Out, addr: &str, option: Option<&str>) -> Res<()> {
    let addr = crate::node::resolve(addr)?;
    let v = view_of(&addr, None).await?;
    let Some(master) = v.me.master_of().map(str::to_string) else {
        return usage!("{addr} is a master: run failover on one of its replicas");
    };
    let old = v.lines.iter().find(|l| l.id == master);
    let old_addr = old.map_or_else(|| short(&master).to_string(), |l| l.addr.clone());
    let slots = old.map(NodeLine::slots).unwrap_or_default();
    let mut c = slotkv_client::cmd("CLUSTER").arg("FAILOVER");
    if let Some(o) = option {
        c = c.arg(o);
    }
    v.conn.q::<()>(&c).await?;
    let spinner = out.spinner(&format!("{addr} is taking over from {old_addr}"));
    let until = Instant::now() + FAILOVER_DEADLINE;
    let now = loop {
        let now = view_of(&addr, None).await?;
        let role = now.repl.get("role").map(String::as_str);
        if now.me.master_of().is_none() && role == Some("master") && now.me.slots() == slots {
            break now;
        }
        if Instant::now() >= until {
            spinner.finish_and_clear();
            return problem!(
                "{addr} is not a master with {old_addr}'s slots after {}s (role:{}); with the master down, try --force",
                FAILOVER_DEADLINE.as_secs(),
                role.unwrap_or("?")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    spinner.finish_and_clear();
    let ranges = crate::view::ranges_text(&now.me.slots());
    out.line(format!("[OK] {addr} ({}) is the master of slots {ranges}; {old_addr} was", short(&now.me.id)));
    out.doc(&serde_json::json!({"ok": true, "addr": addr, "id": now.me.id, "slots": ranges,
        "old_master": master, "old_master_addr": old_addr}));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_machine_gives_each_master_its_replicas_in_order() {
        let a = addrs(&["h:1", "h:2", "h:3", "h:4", "h:5", "h:6"]);
        assert_eq!(plan(&a, 1).unwrap(), vec![(3, 0), (4, 1), (5, 2)]);
        let a = addrs(&["h:1", "h:2", "h:3", "h:4", "h:5", "h:6", "h:7"]);
        // The seventh node: one more replica, for the first master.
        assert_eq!(plan(&a, 1).unwrap(), vec![(3, 0), (4, 1), (5, 2), (6, 0)]);
        let a = addrs(&["h:1", "h:2", "h:3", "h:4", "h:5", "h:6"]);
        assert_eq!(plan(&a, 2).unwrap(), vec![(2, 0), (3, 1), (4, 0), (5, 1)]);
    }

    #[test]
    fn replicas_go_to_other_hosts() {
        // Masters on a and b; the replicas on a and b too: each master gets the other host's.
        let a = addrs(&["a:1", "b:1", "a:2", "b:2"]);
        assert_eq!(plan(&a, 1).unwrap(), vec![(2, 1), (3, 0)]);
        // Three hosts, two replicas each: never on the master's host, never twice on one host.
        let a = addrs(&["a:1", "b:1", "c:1", "a:2", "b:2", "c:2", "a:3", "b:3", "c:3"]);
        let p = plan(&a, 2).unwrap();
        assert_eq!(p.len(), 6);
        let host = |i: usize| a[i].split(':').next().unwrap().to_string();
        for m in 0..3 {
            let mut hosts: Vec<String> = p.iter().filter(|(_, mm)| *mm == m).map(|(r, _)| host(*r)).collect();
            assert_eq!(hosts.len(), 2);
            assert!(!hosts.contains(&host(m)), "{p:?}");
            hosts.dedup();
            assert_eq!(hosts.len(), 2, "{p:?}");
        }
    }

    #[test]
    fn too_few_nodes() {
        let e = plan(&addrs(&["h:1"]), 1).unwrap_err();
        assert!(e.contains("at least 2 nodes"), "{e}");
        assert_eq!(plan(&addrs(&["h:1"]), 0).unwrap(), vec![]);
    }
}
