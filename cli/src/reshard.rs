//! `reshard`, `rebalance` and `del-node`: plans of slot moves, carried out by the [`Mover`].

use crate::check::{self, Action};
use crate::error::{Failure, Res};
use crate::mover::{describe, Move, MoveOptions, Mover};
use crate::output::Out;
use crate::view::{short, Cluster};
use serde_json::json;
use slotkv_client::{cmd, Cmd, FromReply};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Finishes (or closes) the slots an interrupted move left open; returns the finished moves.
async fn finish_open(out: &Out, c: &Cluster, opts: MoveOptions) -> Res<Vec<(String, String)>> {
    if c.open_slots().is_empty() {
        return Ok(Vec::new());
    }
    let actions: Vec<Action> = check::plan(c)
        .await?
        .into_iter()
        .filter(|a| matches!(a, Action::Finish { .. } | Action::Close { .. }))
        .collect();
    out.line(format!("{} open slot(s) left by an earlier run: finishing them first", actions.len()));
    let mut mover = Mover::new(c, opts, out.key_bar(0));
    let mut done = Vec::new();
    for a in &actions {
        out.line(format!(">>> {}", check::describe(c, a)));
        check::apply(c, &mut mover, a).await?;
        if let Action::Finish { from, to, .. } = a {
            done.push((from.clone(), to.clone()));
        }
    }
    mover.bar.finish_and_clear();
    Ok(done)
}

/// Runs moves under one progress bar; prints and returns `(keys, seconds)`.
async fn run_moves(out: &Out, c: &Cluster, moves: &[Move], opts: MoveOptions) -> Res<(u64, f64)> {
    let mut mover = Mover::new(c, opts, out.key_bar(0));
    let total = mover.count(moves).await?;
    mover.bar.set_length(total);
    let started = Instant::now();
    for m in moves {
        mover.run(m).await?;
    }
    mover.settle(moves).await?;
    let secs = started.elapsed().as_secs_f64();
    mover.bar.finish_and_clear();
    for w in &mover.warnings {
        out.warn(w);
    }
    let slots: usize = moves.iter().map(|m| m.slots.len()).sum();
    out.line(format!(
        "[OK] moved {slots} slots, {} keys in {secs:.2}s ({:.0} keys/s)",
        mover.keys_moved,
        mover.keys_moved as f64 / secs.max(1e-9)
    ));
    Ok((mover.keys_moved, secs))
}

fn master(c: &Cluster, what: &str) -> Res<String> {
    let l = c.find(what)?;
    if !l.is_master() {
        return usage!("{what} is not a master");
    }
    c.view(&l.id)?;
    Ok(l.id.clone())
}

pub async fn reshard(
    out: &Out,
    entry: &str,
    from: &str,
    to: &str,
    n: usize,
    yes: bool,
    opts: MoveOptions,
) -> Res<()> {
    let mut c = Cluster::load(entry).await?;
    let (from, to) = (master(&c, from)?, master(&c, to)?);
    if from == to {
        return usage!("--from and --to name the same node");
    }
    let finished = finish_open(out, &c, opts).await?;
    if !finished.is_empty() {
        c = c.reload().await?;
    }
    let already = finished.iter().filter(|(f, t)| *f == from && *t == to).count();
    let n = n.saturating_sub(already);
    let have = c.view(&from)?.me.slots();
    if n > have.len() {
        return usage!(
            "{} serves {} slots, fewer than the {n} asked for",
            c.view(&from)?.conn.addr,
            have.len()
        );
    }
    let m = Move { from, to, slots: have.into_iter().take(n).collect() };
    if m.slots.is_empty() {
        out.line("[OK] nothing to move");
        out.doc(&json!({"ok": true, "slots": 0, "keys": 0}));
        return Ok(());
    }
    out.line(format!("Moving {}", describe(&c, &m)));
    out.confirm("Do you want to proceed with the proposed reshard plan?", yes)?;
    let (keys, secs) = run_moves(out, &c, std::slice::from_ref(&m), opts).await?;
    out.doc(&json!({"ok": true, "slots": m.slots.len(), "keys": keys, "seconds": secs,
        "keys_per_sec": keys as f64 / secs.max(1e-9)}));
    Ok(())
}

/// What rebalancing weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Slots,
    Keys,
}

/// Moves that bring every node within `threshold` percent of an even share of `weight`: `have` per
/// node (its slots, each with its weight), donors give their slots (from the highest) to receivers.
pub fn plan_balance(nodes: &[(String, Vec<(u16, u64)>)], threshold: f64) -> Vec<Move> {
    let n = nodes.len() as u64;
    if n == 0 {
        return Vec::new();
    }
    let weight = |slots: &[(u16, u64)]| slots.iter().map(|(_, w)| w).sum::<u64>();
    let total: u64 = nodes.iter().map(|(_, s)| weight(s)).sum();
    // An even share each; the remainder goes one each to the first nodes.
    let want: Vec<u64> = (0..n).map(|i| total / n + u64::from(i < total % n)).collect();
    let off = |have: u64, want: u64| {
        if want == 0 {
            if have == 0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            (have as f64 - want as f64).abs() * 100.0 / want as f64
        }
    };
    if nodes.iter().zip(&want).all(|((_, s), &w)| off(weight(s), w) <= threshold) {
        return Vec::new();
    }
    // Balance: positive gives, negative takes.
    let mut balance: Vec<i64> =
        nodes.iter().zip(&want).map(|((_, s), &w)| weight(s) as i64 - w as i64).collect();
    let mut pools: Vec<Vec<(u16, u64)>> = nodes.iter().map(|(_, s)| s.clone()).collect();
    let mut moves: Vec<Move> = Vec::new();
    loop {
        let donor = (0..nodes.len()).max_by_key(|&i| balance.get(i).copied().unwrap_or(0));
        let taker = (0..nodes.len()).min_by_key(|&i| balance.get(i).copied().unwrap_or(0));
        let (Some(d), Some(t)) = (donor, taker) else { break };
        let (give, need) = (balance.get(d).copied().unwrap_or(0), -balance.get(t).copied().unwrap_or(0));
        if give <= 0 || need <= 0 {
            break;
        }
        let amount = give.min(need);
        let mut moved: Vec<u16> = Vec::new();
        let mut w_moved: i64 = 0;
        let Some(pool) = pools.get_mut(d) else { break };
        // From the end of the donor's slots, so its remaining ranges stay whole. Empty slots weigh
        // nothing (by keys) and stay; a slot heavier than what is still needed is skipped, unless
        // nothing has moved yet and taking it still narrows the gap.
        let mut i = pool.len();
        while i > 0 && w_moved < amount {
            i -= 1;
            let Some(&(s, w)) = pool.get(i) else { break };
            let over = w_moved + w as i64 > amount;
            if w == 0 || over && (!moved.is_empty() || w as i64 >= 2 * amount) {
                continue;
            }
            moved.push(s);
            w_moved += w as i64;
            pool.remove(i);
        }
        if moved.is_empty() {
            break;
        }
        if let Some(b) = balance.get_mut(d) {
            *b -= w_moved;
        }
        if let Some(b) = balance.get_mut(t) {
            *b += w_moved;
        }
        moved.sort_unstable();
        let (from, to) = match (nodes.get(d), nodes.get(t)) {
            (Some(f), Some(t)) => (f.0.clone(), t.0.clone()),
            _ => break,
        };
        match moves.iter_mut().find(|m| m.from == from && m.to == to) {
            Some(m) => m.slots.extend(moved),
            None => moves.push(Move { from, to, slots: moved }),
        }
        if moves.iter().map(|m| m.slots.len()).sum::<usize>() > slotkv_proto::slot::SLOT_COUNT {
            break;
        }
    }
    moves
}

/// Keys in each slot of each node (one pipeline per node).
async fn slot_weights(c: &Cluster, by: By) -> Res<Vec<(String, Vec<(u16, u64)>)>> {
    let mut out = Vec::new();
    for v in c.masters() {
        let slots = v.me.slots();
        let weights: Vec<u64> = match by {
            By::Slots => vec![1; slots.len()],
            By::Keys => {
                let cmds: Vec<Cmd> =
                    slots.iter().map(|s| cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(s)).collect();
                v.conn.raw(&cmds).await?.into_iter().map(|f| u64::from_reply(f).unwrap_or(0)).collect()
            }
        };
        out.push((v.me.id.clone(), slots.into_iter().zip(weights).collect()));
    }
    Ok(out)
}

fn refuse_if_broken(c: &Cluster) -> Res<()> {
    let bad: Vec<check::Finding> = check::findings(c)
        .into_iter()
        .filter(|f| !f.warning && matches!(f.kind, "open_slot" | "unassigned" | "unreachable" | "conflict"))
        .collect();
    match bad.first() {
        Some(f) => problem!("the cluster needs `slotkv fix` first: {}: {}", f.kind, f.detail),
        None => Ok(()),
    }
}

pub async fn rebalance(
    out: &Out,
    entry: &str,
    by: By,
    threshold: f64,
    dry_run: bool,
    yes: bool,
    opts: MoveOptions,
) -> Res<()> {
    let c = Cluster::load(entry).await?;
    refuse_if_broken(&c)?;
    let mut weights = slot_weights(&c, by).await?;
    if by == By::Keys && weights.iter().all(|(_, s)| s.iter().all(|(_, w)| *w == 0)) {
        out.line("no keys: balancing by slots");
        weights = slot_weights(&c, By::Slots).await?;
    }
    let moves = plan_balance(&weights, threshold);
    if moves.is_empty() {
        out.line(format!("[OK] every node is within {threshold}% of an even share: nothing to move"));
        out.doc(&json!({"ok": true, "moves": []}));
        return Ok(());
    }
    for m in &moves {
        out.line(format!("{} {}", if dry_run { "would move" } else { "Moving" }, describe(&c, m)));
    }
    let listed: Vec<_> = moves
        .iter()
        .map(|m| json!({"from": m.from, "to": m.to, "slots": m.slots.len(), "ranges": crate::view::ranges_text(&m.slots)}))
        .collect();
    if dry_run {
        out.doc(&json!({"ok": true, "dry_run": true, "moves": listed}));
        return Ok(());
    }
    out.confirm("Do you want to proceed with the rebalance plan?", yes)?;
    let (keys, secs) = run_moves(out, &c, &moves, opts).await?;
    out.doc(&json!({"ok": true, "moves": listed, "keys": keys, "seconds": secs}));
    Ok(())
}

/// How long the other nodes may take to drop a deleted node from their views.
const FORGET_DEADLINE: Duration = Duration::from_secs(20);

pub async fn del_node(
    out: &Out,
    entry: &str,
    what: &str,
    shutdown: bool,
    yes: bool,
    opts: MoveOptions,
) -> Res<()> {
    let c = Cluster::load(entry).await?;
    let id = c.find(what)?.id.clone();
    let addr = c.known.get(&id).map(|l| l.addr.clone()).unwrap_or_default();
    let others: Vec<String> = c
        .masters()
        .iter()
        .filter(|v| v.me.id != id && !v.me.is_unusable())
        .map(|v| v.me.id.clone())
        .collect();
    if others.is_empty() {
        return usage!("{addr} is the only master: nothing to move its slots to");
    }
    let slots = c.known.get(&id).map(|l| l.slots()).unwrap_or_default();
    let mut moves: Vec<Move> = Vec::new();
    if !slots.is_empty() {
        if c.view(&id).is_err() {
            return problem!(
                "{addr} serves {} slots but does not answer: its keys cannot be moved",
                slots.len()
            );
        }
        // Each remaining master ends near an even share: the ones with fewer slots take more.
        let total: usize = c.masters().iter().map(|v| v.me.slot_count()).sum();
        let share = total.div_ceil(others.len());
        let mut have: HashMap<&String, usize> =
            others.iter().map(|o| (o, c.views.get(o).map_or(0, |v| v.me.slot_count()))).collect();
        let mut rest = slots.as_slice();
        while !rest.is_empty() {
            let Some(to) = others.iter().min_by_key(|o| have.get(o).copied().unwrap_or(0)) else { break };
            let h = have.get(to).copied().unwrap_or(0);
            let take = share.saturating_sub(h).clamp(1, rest.len());
            let (now, later) = rest.split_at(take);
            moves.push(Move { from: id.clone(), to: to.clone(), slots: now.to_vec() });
            have.insert(to, h + take);
            rest = later;
        }
        for m in &moves {
            out.line(format!("Moving {}", describe(&c, m)));
        }
    }
    out.confirm(&format!("Remove {addr} ({}) from the cluster?", short(&id)), yes)?;
    if !moves.is_empty() {
        run_moves(out, &c, &moves, opts).await?;
    }
    let forget = cmd("CLUSTER").arg("FORGET").arg(id.as_str());
    for v in c.views.values().filter(|v| v.me.id != id) {
        v.conn.q::<()>(&forget).await?;
    }
    if let Ok(v) = c.view(&id) {
        // It forgets the others too, so that its gossip does not bring it back; when it is to stop, in
        // the same write, so that no client finds it answering for an empty cluster meanwhile. The
        // connection closes as the node exits: no reply to SHUTDOWN is the expected answer.
        let reset = cmd("CLUSTER").arg("RESET").arg("SOFT");
        let replies =
            if shutdown { v.conn.raw(&[reset, cmd("SHUTDOWN")]).await } else { v.conn.raw(&[reset]).await };
        match replies {
            Ok(r) => {
                if let Some(e) = r.first().and_then(crate::node::error_text) {
                    out.warn(format!("CLUSTER RESET SOFT on {addr}: {e}"));
                }
            }
            Err(e) if !shutdown => out.warn(format!("CLUSTER RESET SOFT on {addr}: {e}")),
            Err(_) => {}
        }
    }
    let until = Instant::now() + FORGET_DEADLINE;
    loop {
        let mut still = Vec::new();
        for v in c.views.values().filter(|v| v.me.id != id) {
            let text: String = v.conn.q(&cmd("CLUSTER").arg("NODES")).await?;
            if text.contains(id.as_str()) {
                still.push(v.conn.addr.clone());
            }
        }
        if still.is_empty() {
            break;
        }
        if Instant::now() >= until {
            return Err(Failure::Problem(format!("{} still know {addr} after FORGET", still.join(", "))));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out.line(format!(
        "[OK] {addr} ({}) left the cluster{}",
        short(&id),
        if shutdown { " and was shut down" } else { "" }
    ));
    out.doc(&json!({"ok": true, "id": id, "addr": addr, "slots_moved": slots.len(), "shutdown": shutdown}));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, slots: std::ops::Range<u16>) -> (String, Vec<(u16, u64)>) {
        (id.to_string(), slots.map(|s| (s, 1)).collect())
    }

    #[test]
    fn balances_slots_onto_a_new_node() {
        let nodes =
            vec![node("a", 0..5461), node("b", 5461..10923), node("c", 10923..16384), node("d", 0..0)];
        let moves = plan_balance(&nodes, 2.0);
        let to_d: usize = moves.iter().filter(|m| m.to == "d").map(|m| m.slots.len()).sum();
        assert_eq!(to_d, 4096);
        assert!(moves.iter().all(|m| m.from != "d"));
        // Balanced already: nothing.
        let even = vec![node("a", 0..8192), node("b", 8192..16384)];
        assert!(plan_balance(&even, 2.0).is_empty());
    }

    #[test]
    fn balances_keys() {
        // a: 2 slots with 100 keys each; b: 2 slots with none.
        let nodes =
            vec![("a".to_string(), vec![(0, 100), (1, 100)]), ("b".to_string(), vec![(2, 0), (3, 0)])];
        let moves = plan_balance(&nodes, 5.0);
        assert_eq!(moves, vec![Move { from: "a".into(), to: "b".into(), slots: vec![1] }]);
    }
}
