//! `slotkv create`: joins running, empty, cluster-enabled nodes into one cluster that covers the 16384
//! slots, spread evenly as `redis-cli --cluster create` spreads them; and `add-node`.

use crate::error::{Failure, Res};
use crate::node::{all_ok, resolve, Node};
use crate::output::Out;
use crate::replicas;
use crate::view::{parse_nodes, ranges_text, short, Cluster};
use serde_json::json;
use slotkv_client::cmd;
use slotkv_proto::slot::SLOT_COUNT;
use std::time::{Duration, Instant};

/// How long the nodes may take to agree after the joining.
pub const JOIN_DEADLINE: Duration = Duration::from_secs(60);

/// The slots of `n` masters split evenly, as redis-cli splits them: 0-5460, 5461-10922, 10923-16383.
pub fn even_ranges(n: usize) -> Vec<(u16, u16)> {
    let n = n.max(1);
    let per = SLOT_COUNT as f64 / n as f64;
    let mut out = Vec::with_capacity(n);
    let mut first = 0usize;
    for i in 0..n {
        let last = if i + 1 == n {
            SLOT_COUNT - 1
        } else {
            ((i as f64 * per + per - 1.0).round() as usize).clamp(first, SLOT_COUNT - 1)
        };
        out.push((first as u16, last as u16));
        first = last + 1;
    }
    out
}

/// A node that can join: cluster mode, no keys, knows no other node, serves no slot.
async fn fresh(addr: &str) -> Res<(Node, String)> {
    let node = Node::connect(addr).await?;
    let text: String = node
        .q(&cmd("CLUSTER").arg("NODES"))
        .await
        .map_err(|e| Failure::Problem(format!("{e} (is it started with --cluster-enabled yes?)")))?;
    let lines = parse_nodes(&text).map_err(|e| Failure::Problem(format!("{addr}: {e}")))?;
    let keys: i64 = node.q(&cmd("DBSIZE")).await?;
    let me = lines.iter().find(|l| l.has_flag("myself"));
    let Some(me) = me.filter(|m| lines.len() == 1 && m.ranges.is_empty() && keys == 0) else {
        return problem!(
            "{addr} is not empty: it knows other nodes, serves slots or holds keys (CLUSTER NODES, DBSIZE)"
        );
    };
    Ok((node, me.id.clone()))
}

/// Waits until every node says `cluster_state:ok`, knows `n` nodes (not counting failed ones) and all of them agree on the slots.
pub async fn wait_joined(addrs: &[String], n: usize, out: &Out, deadline: Duration) -> Res<()> {
    let spinner = out.spinner("waiting for the nodes to agree");
    let until = Instant::now() + deadline;
    loop {
        let last = match joined(addrs, n).await {
            Ok(()) => {
                spinner.finish_and_clear();
                return Ok(());
            }
            Err(why) => why,
        };
        if Instant::now() >= until {
            spinner.finish_and_clear();
            return problem!("the cluster did not form within {}s: {last}", deadline.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn joined(addrs: &[String], n: usize) -> Result<(), String> {
    let mut signature = None;
    for a in addrs {
        let v = crate::view::view_of(a, None).await.map_err(|e| e.to_string())?;
        let state = v.info.get("cluster_state").map(String::as_str).unwrap_or("?");
        if state != "ok" {
            return Err(format!("{a} says cluster_state:{state}"));
        }
        let known = v.members();
        if known != n {
            return Err(format!("{a} knows {known} of {n} nodes"));
        }
        let sig = v.signature();
        if signature.get_or_insert_with(|| sig.clone()) != &sig {
            return Err(format!("{a} does not agree on the slots yet"));
        }
    }
    Ok(())
}

/// `slotkv create [--replicas N]`: the first `len / (N + 1)` nodes become masters with the slots, the
/// others replicas of them ([`replicas::plan`]); returns once every replica's link is up.
pub async fn create(out: &Out, addrs: &[String], replicas: usize, yes: bool) -> Res<()> {
    if addrs.is_empty() {
        return usage!("create needs at least one HOST:PORT");
    }
    let mut resolved = Vec::new();
    for a in addrs {
        let r = resolve(a)?;
        if resolved.contains(&r) {
            return usage!("{a} is given twice");
        }
        resolved.push(r);
    }
    let layout = replicas::plan(&resolved, replicas).map_err(Failure::Usage)?;
    let mut nodes = Vec::new();
    for a in &resolved {
        nodes.push(fresh(a).await?);
    }
    let (masters, rest) = nodes.split_at(resolved.len() - layout.len());
    let ranges = even_ranges(masters.len());
    out.line(format!("Spreading {SLOT_COUNT} slots over {} nodes:", masters.len()));
    for ((node, id), (a, b)) in masters.iter().zip(&ranges) {
        out.line(format!("  {}  {}  slots {a}-{b} ({} slots)", node.addr, short(id), b - a + 1));
    }
    // (replica node, its master's node and id)
    let mut pairs: Vec<(&Node, &Node, &str)> = Vec::new();
    for &(r, m) in &layout {
        let (Some((rn, _)), Some((mn, mid))) = (nodes.get(r), masters.get(m)) else { continue };
        out.line(format!("  {}  replica of {} ({})", rn.addr, mn.addr, short(mid)));
        pairs.push((rn, mn, mid));
    }
    debug_assert_eq!(pairs.len(), rest.len());
    out.confirm("Can I set the above configuration?", yes)?;
    for (i, ((node, _), (a, b))) in masters.iter().zip(&ranges).enumerate() {
        // Distinct config epochs first (only allowed while a node knows no other), so that no two
        // masters start with the same epoch.
        let replies = node
            .raw(&[
                cmd("CLUSTER").arg("ADDSLOTSRANGE").arg(a).arg(b),
                cmd("CLUSTER").arg("SET-CONFIG-EPOCH").arg(&(i + 1)),
            ])
            .await?;
        all_ok(&node.addr, "ADDSLOTSRANGE / SET-CONFIG-EPOCH", &replies)?;
    }
    if let Some(((first, _), others)) = nodes.split_first() {
        for (node, _) in others {
            meet(first, &node.addr, None).await?;
        }
    }
    wait_joined(&resolved, nodes.len(), out, JOIN_DEADLINE).await?;
    // Every node knows every other now, so each replica knows its master.
    for (r, _, mid) in &pairs {
        r.q::<()>(&cmd("CLUSTER").arg("REPLICATE").arg(mid)).await?;
    }
    let waits: Vec<(String, String)> =
        pairs.iter().map(|(r, _, m)| (r.addr.clone(), m.to_string())).collect();
    replicas::wait_linked(out, &waits, &resolved, JOIN_DEADLINE).await?;
    let with = if pairs.is_empty() { String::new() } else { format!(", {} replicas in sync", pairs.len()) };
    out.line(format!(
        "[OK] {} nodes joined; all {SLOT_COUNT} slots covered; cluster_state:ok{with}",
        nodes.len()
    ));
    out.doc(&json!({
        "ok": true,
        "nodes": masters.iter().zip(&ranges).map(|((n, id), (a, b))| json!({
            "addr": n.addr, "id": id, "role": "master", "slots": ranges_text(&(*a..=*b).collect::<Vec<u16>>()),
        })).chain(pairs.iter().map(|(r, m, mid)| json!({
            "addr": r.addr, "role": "replica", "master": mid, "master_addr": m.addr,
            "id": nodes.iter().find(|(n, _)| n.addr == r.addr).map(|(_, id)| id.clone()),
        }))).collect::<Vec<_>>(),
    }));
    Ok(())
}

/// `CLUSTER MEET ip port [bus-port]` sent to `from`.
async fn meet(from: &Node, addr: &str, bus_port: Option<u16>) -> Res<()> {
    let (ip, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
    let mut c = cmd("CLUSTER").arg("MEET").arg(ip).arg(port);
    if let Some(b) = bus_port.filter(|&b| b != 0) {
        c = c.arg(&b);
    }
    from.q::<()>(&c).await
}

/// `slotkv add-node NEW EXISTING [--replica-of MASTER]`: the new, empty node meets the cluster; as a
/// master it serves no slots until a `reshard` or `rebalance`; as a replica it follows MASTER (returns
/// once its link is up).
pub async fn add_node(out: &Out, new: &str, existing: &str, replica_of: Option<&str>) -> Res<()> {
    let new = resolve(new)?;
    let existing = resolve(existing)?;
    let cluster = Cluster::load(&existing).await?;
    if cluster.views.values().any(|v| v.conn.addr == new) {
        return usage!("{new} is already in the cluster");
    }
    let master = match replica_of {
        Some(m) => {
            let line = cluster.find(m)?;
            if line.master_of().is_some() || !line.is_master() {
                return usage!("{m} is not a master: a replica follows a master");
            }
            Some((line.id.clone(), line.addr.clone()))
        }
        None => None,
    };
    let (node, id) = fresh(&new).await?;
    let entry = cluster
        .views
        .values()
        .find(|v| v.conn.addr == existing)
        .ok_or_else(|| Failure::Problem(format!("{existing}: no view")))?;
    meet(&node, &existing, Some(entry.me.bus_port)).await?;
    let mut addrs: Vec<String> = cluster.views.values().map(|v| v.conn.addr.clone()).collect();
    addrs.push(new.clone());
    let members = entry.members();
    wait_joined(&addrs, members + 1, out, JOIN_DEADLINE).await?;
    match &master {
        Some((mid, maddr)) => {
            node.q::<()>(&cmd("CLUSTER").arg("REPLICATE").arg(mid)).await?;
            replicas::wait_linked(out, &[(new.clone(), mid.clone())], &addrs, JOIN_DEADLINE).await?;
            out.line(format!(
                "[OK] {new} ({}) joined the cluster of {} nodes as a replica of {maddr} ({}); its link is up",
                short(&id),
                addrs.len(),
                short(mid)
            ));
        }
        None => out.line(format!(
            "[OK] {new} ({}) joined the cluster of {} nodes; it serves no slots yet (`slotkv rebalance` gives it some)",
            short(&id),
            addrs.len()
        )),
    }
    out.doc(&json!({"ok": true, "addr": new, "id": id, "nodes": addrs.len(),
        "master": master.as_ref().map(|(m, _)| m.clone())}));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_split_matches_redis_cli() {
        assert_eq!(even_ranges(3), vec![(0, 5460), (5461, 10922), (10923, 16383)]);
        assert_eq!(even_ranges(1), vec![(0, 16383)]);
        let r = even_ranges(7);
        assert_eq!(r.first().map(|x| x.0), Some(0));
        assert_eq!(r.last().map(|x| x.1), Some(16383));
        assert!(r.windows(2).all(|w| w[0].1 + 1 == w[1].0));
    }
}
