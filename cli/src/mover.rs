//! Moving slots between nodes while clients keep working, in the order Redis Cluster's protocol needs
//! (and `redis-cli --cluster reshard` uses) for every slot: `SETSLOT s IMPORTING src` on the target,
//! `SETSLOT s MIGRATING dst` on the source, the keys moved, then `SETSLOT s NODE dst` on the target, the
//! source, and every other node.
//!
//! Keys move with our `SLOTKV MIGRATESLOT` (the source picks the next keys of a list of slots and sends
//! them in one round trip: small slots share a chunk of `--batch` keys); against a node that answers it
//! with an unknown-command error (real Redis) the mover falls back to `CLUSTER GETKEYSINSLOT` + `MIGRATE
//! ... KEYS`. A key present on both sides is replaced by the source's copy: while a slot migrates, a key
//! that exists on the source is the current one.
//!
//! Speed comes from pipelining, not from changing the protocol: slots are handled in groups (1024 by
//! default), each step of a group is one pipeline to one node (the importing marks of the whole group
//! are one round trip), and the key moves of a group go out together, followed by a `COUNTKEYSINSLOT`
//! per slot that says whether it is empty yet. After the last group, [`Mover::settle`] makes sure every
//! node names the new owners.

use crate::error::{Failure, Res};
use crate::node::{all_ok, error_text, Node};
use crate::view::{parse_nodes, short, Cluster};
use indicatif::ProgressBar;
use slotkv_client::proto::frame::Frame;
use slotkv_client::{cmd, Cmd, FromReply};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How the mover works; the defaults suit a local cluster.
#[derive(Debug, Clone, Copy)]
pub struct MoveOptions {
    /// Keys per `SLOTKV MIGRATESLOT` call (the node also stops a chunk at 4 MB), and per
    /// `GETKEYSINSLOT` in the fallback.
    pub batch: usize,
    /// Slots handled together (one pipeline per step).
    pub pipeline: usize,
    /// `MIGRATE` timeout in milliseconds (per connect, read and write on the source).
    pub timeout_ms: u64,
}

impl Default for MoveOptions {
    fn default() -> Self {
        MoveOptions { batch: 1000, pipeline: 1024, timeout_ms: 10_000 }
    }
}

/// Slots to move from one node to another (node ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub slots: Vec<u16>,
}

/// How long [`Mover::settle`] keeps telling nodes the new owners.
const SETTLE_DEADLINE: Duration = Duration::from_secs(5);

/// Tries per slot before a failing key move gives up (the slot stays open; a re-run finishes it).
const TRIES: u32 = 3;

pub struct Mover<'a> {
    cluster: &'a Cluster,
    opts: MoveOptions,
    pub bar: ProgressBar,
    /// Sources that do not know `SLOTKV MIGRATESLOT`.
    legacy: HashSet<String>,
    pub keys_moved: u64,
    pub slots_moved: usize,
    /// Nodes that did not take a `SETSLOT NODE` (they learn it from the bus).
    pub warnings: Vec<String>,
}

fn setslot(s: u16, how: &str, id: &str) -> Cmd {
    cmd("CLUSTER").arg("SETSLOT").arg(&s).arg(how).arg(id)
}

fn count_keys(s: u16) -> Cmd {
    cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(&s)
}

fn int(f: Option<&Frame>) -> u64 {
    f.cloned().and_then(|f| u64::from_reply(f).ok()).unwrap_or(0)
}

fn unknown_command(e: &str) -> bool {
    e.starts_with("ERR unknown command") || e.starts_with("ERR Unknown subcommand")
}

impl<'a> Mover<'a> {
    pub fn new(cluster: &'a Cluster, opts: MoveOptions, bar: ProgressBar) -> Mover<'a> {
        Mover {
            cluster,
            opts,
            bar,
            legacy: HashSet::new(),
            keys_moved: 0,
            slots_moved: 0,
            warnings: Vec::new(),
        }
    }

    /// The keys the moves will carry (counted on their sources), for the progress bar.
    pub async fn count(&self, moves: &[Move]) -> Res<u64> {
        let mut total = 0;
        for m in moves {
            let src = self.cluster.view(&m.from)?;
            let cmds: Vec<Cmd> = m.slots.iter().map(|&s| count_keys(s)).collect();
            total += src.conn.raw(&cmds).await?.into_iter().map(|f| int(Some(&f))).sum::<u64>();
        }
        Ok(total)
    }

    /// Moves the slots of `m`, group by group.
    pub async fn run(&mut self, m: &Move) -> Res<()> {
        let src = self.cluster.view(&m.from)?.clone();
        let dst = self.cluster.view(&m.to)?.clone();
        // The target's address as the source knows it: the source connects to it.
        let target_addr = src
            .lines
            .iter()
            .find(|l| l.id == m.to)
            .map(|l| l.addr.clone())
            .filter(|a| !a.starts_with(':'))
            .unwrap_or_else(|| dst.conn.addr.clone());
        let others: Vec<Node> = self
            .cluster
            .views
            .values()
            .filter(|v| v.me.id != m.from && v.me.id != m.to)
            .map(|v| v.conn.clone())
            .collect();
        // The last steps of a group overlap the first ones of the next: the source's and the other
        // nodes' `SETSLOT NODE` pipelines are sent without waiting for their replies (each connection
        // keeps its order, so the source still takes them before the next group's `MIGRATING`); their
        // replies are checked before the move returns.
        let mut in_flight: Vec<(bool, tokio::task::JoinHandle<Res<()>>)> = Vec::new();
        for group in m.slots.chunks(self.opts.pipeline.max(1)) {
            let what = |step: &str| format!("{step} (slots {})", crate::view::ranges_text(group));
            let marks: Vec<Cmd> = group.iter().map(|&s| setslot(s, "IMPORTING", &m.from)).collect();
            all_ok(&dst.conn.addr, &what("SETSLOT IMPORTING"), &dst.conn.raw(&marks).await?)?;
            let mut marks = Vec::with_capacity(group.len() * 2);
            for &s in group {
                marks.push(setslot(s, "MIGRATING", &m.to));
                marks.push(count_keys(s));
            }
            let replies = src.conn.raw(&marks).await?;
            all_ok(&src.conn.addr, &what("SETSLOT MIGRATING"), &replies)?;
            let pending: Vec<(u16, u64)> =
                group.iter().zip(replies.chunks(2)).map(|(&s, r)| (s, int(r.get(1)))).collect();
            self.move_keys(&src.conn, &m.from, &target_addr, pending).await?;
            let done: Vec<Cmd> = group.iter().map(|&s| setslot(s, "NODE", &m.to)).collect();
            all_ok(&dst.conn.addr, &what("SETSLOT NODE on the target"), &dst.conn.raw(&done).await?)?;
            // The source only after the target (clients it redirects must find the target ready).
            let (n, cmds, step) = (src.conn.clone(), done.clone(), what("SETSLOT NODE on the source"));
            in_flight.push((true, tokio::spawn(async move { all_ok(&n.addr, &step, &n.raw(&cmds).await?) })));
            for n in &others {
                let (n, cmds) = (n.clone(), done.clone());
                in_flight.push((
                    false,
                    tokio::spawn(async move { all_ok(&n.addr, "SETSLOT NODE", &n.raw(&cmds).await?) }),
                ));
            }
            self.slots_moved += group.len();
            self.bar.set_message(format!("{} slots", self.slots_moved));
        }
        for (fatal, t) in in_flight {
            match t.await {
                Ok(Ok(())) => {}
                // The other nodes also learn the new owner from the bus: a failure there is a warning.
                Ok(Err(e)) if !fatal => self.warnings.push(e.to_string()),
                Ok(Err(e)) => return Err(e),
                Err(e) => return problem!("SETSLOT NODE task: {e}"),
            }
        }
        Ok(())
    }

    /// After the moves: waits until every reachable node's view gives each moved slot to its target.
    /// A node can take a slot back for a moment: a bus message its source sent just before its own
    /// `SETSLOT NODE` still claims the slot, with an epoch that wins while the node has not yet heard
    /// the target's new one (the bus would settle it within a ping period). Such a node is told the
    /// owner again, so the command returns with views that agree (`slotkv check` right after is clean).
    /// Past [`SETTLE_DEADLINE`] a disagreement is a warning: the bus still converges.
    pub async fn settle(&mut self, moves: &[Move]) -> Res<()> {
        let mut want: HashMap<u16, &str> = HashMap::new();
        for m in moves {
            for &s in &m.slots {
                want.insert(s, m.to.as_str());
            }
        }
        let deadline = tokio::time::Instant::now() + SETTLE_DEADLINE;
        loop {
            let mut off: Vec<String> = Vec::new();
            for v in self.cluster.views.values() {
                let text: String = match v.conn.q(&cmd("CLUSTER").arg("NODES")).await {
                    Ok(t) => t,
                    Err(e) => {
                        self.warnings.push(format!("checking the slots' owners: {e}"));
                        continue;
                    }
                };
                let lines =
                    parse_nodes(&text).map_err(|e| Failure::Problem(format!("{}: {e}", v.conn.addr)))?;
                let mut owner: HashMap<u16, &str> = HashMap::new();
                for l in &lines {
                    for &(a, b) in &l.ranges {
                        for s in a..=b {
                            if want.contains_key(&s) {
                                owner.insert(s, l.id.as_str());
                            }
                        }
                    }
                }
                let wrong: Vec<Cmd> = want
                    .iter()
                    .filter(|(s, to)| owner.get(s) != Some(*to))
                    .map(|(&s, to)| setslot(s, "NODE", to))
                    .collect();
                if wrong.is_empty() {
                    continue;
                }
                off.push(format!("{} ({} slots)", v.conn.addr, wrong.len()));
                if tokio::time::Instant::now() < deadline {
                    all_ok(&v.conn.addr, "SETSLOT NODE", &v.conn.raw(&wrong).await?)?;
                }
            }
            if off.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                self.warnings.push(format!(
                    "views still differ about the moved slots after {}s: {} (the cluster bus settles them)",
                    SETTLE_DEADLINE.as_secs(),
                    off.join(", ")
                ));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Empties the slots on `src` into the node at `target` (`ip:port`): `pending` holds each slot and
    /// its keys left. The slots must be migrating (or the target must own them).
    pub async fn move_keys(
        &mut self,
        src: &Node,
        src_id: &str,
        target: &str,
        pending: Vec<(u16, u64)>,
    ) -> Res<()> {
        let (host, port) = target.rsplit_once(':').unwrap_or((target, "0"));
        let mut pending: Vec<(u16, u64)> = pending.into_iter().filter(|&(_, n)| n > 0).collect();
        let mut failures: HashMap<u16, u32> = HashMap::new();
        let mut stalls: HashMap<u16, u32> = HashMap::new();
        while !pending.is_empty() {
            if self.legacy.contains(src_id) {
                let slots: Vec<u16> = pending.iter().map(|&(s, _)| s).collect();
                return self.move_keys_legacy(src, host, port, slots).await;
            }
            // One pipeline: a MIGRATESLOT per chunk of slots, then a COUNTKEYSINSLOT per slot.
            let chunks = chunk_slots(&pending, self.opts.batch as u64);
            let mut cmds = Vec::with_capacity(chunks.len() + pending.len());
            for c in &chunks {
                let list: Vec<String> = c.iter().map(u16::to_string).collect();
                cmds.push(
                    cmd("SLOTKV")
                        .arg("MIGRATESLOT")
                        .arg(host)
                        .arg(port)
                        .arg(list.join(",").as_str())
                        .arg(&self.opts.batch)
                        .arg(&self.opts.timeout_ms)
                        .arg("REPLACE"),
                );
            }
            cmds.extend(pending.iter().map(|&(s, _)| count_keys(s)));
            let replies = src.raw(&cmds).await?;
            let (moves, counts) = replies.split_at(chunks.len().min(replies.len()));
            for (c, r) in chunks.iter().zip(moves) {
                match error_text(r) {
                    Some(e) if unknown_command(&e) => {
                        self.legacy.insert(src_id.to_string());
                    }
                    Some(e) => {
                        let first = c.first().copied().unwrap_or_default();
                        let n = failures.entry(first).or_insert(0);
                        *n += 1;
                        if *n >= TRIES {
                            return Err(Failure::Problem(format!(
                                "{}: moving the keys of slots {} to {target}: {e} (the slots stay open: run \
                                 the command again, or `slotkv fix`, to finish them)",
                                src.addr,
                                crate::view::ranges_text(c)
                            )));
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    None => {}
                }
            }
            let mut next = Vec::new();
            for (&(s, before), r) in pending.iter().zip(counts) {
                let left = int(Some(r));
                let moved = before.saturating_sub(left);
                self.keys_moved += moved;
                self.bar.inc(moved);
                if left > 0 {
                    let stalled = stalls.entry(s).or_insert(0);
                    *stalled = if moved == 0 { *stalled + 1 } else { 0 };
                    if *stalled > 20 {
                        return problem!("{}: the keys of slot {s} do not move to {target}", src.addr);
                    }
                    next.push((s, left));
                }
            }
            pending = next;
        }
        Ok(())
    }

    /// `GETKEYSINSLOT` + `MIGRATE ... KEYS` until the slots are empty, for nodes without `SLOTKV`: each
    /// round is two pipelines over all the slots still holding keys (their `GETKEYSINSLOT`s, then a
    /// `MIGRATE` per slot that had keys), not two round trips per slot.
    async fn move_keys_legacy(&mut self, src: &Node, host: &str, port: &str, slots: Vec<u16>) -> Res<()> {
        let mut pending = slots;
        let mut failures: HashMap<u16, u32> = HashMap::new();
        while !pending.is_empty() {
            let asks: Vec<Cmd> = pending
                .iter()
                .map(|s| cmd("CLUSTER").arg("GETKEYSINSLOT").arg(s).arg(&self.opts.batch))
                .collect();
            let mut found: Vec<(u16, Vec<Vec<u8>>)> = Vec::new();
            for (&s, r) in pending.iter().zip(src.raw(&asks).await?) {
                if let Some(e) = error_text(&r) {
                    return problem!("{}: CLUSTER GETKEYSINSLOT {s}: {e}", src.addr);
                }
                let keys = Vec::<Vec<u8>>::from_reply(r)
                    .map_err(|e| Failure::Problem(format!("{}: {e}", src.addr)))?;
                if !keys.is_empty() {
                    found.push((s, keys));
                }
            }
            let migrates: Vec<Cmd> = found
                .iter()
                .map(|(_, keys)| {
                    let mut m = cmd("MIGRATE")
                        .arg(host)
                        .arg(port)
                        .arg("")
                        .arg("0")
                        .arg(&self.opts.timeout_ms)
                        .arg("REPLACE")
                        .arg("KEYS");
                    for k in keys {
                        m = m.arg(k.as_slice());
                    }
                    m
                })
                .collect();
            let replies = if migrates.is_empty() { Vec::new() } else { src.raw(&migrates).await? };
            let mut failed = false;
            for ((s, keys), r) in found.iter().zip(&replies) {
                match error_text(r) {
                    None => {
                        self.keys_moved += keys.len() as u64;
                        self.bar.inc(keys.len() as u64);
                    }
                    Some(e) => {
                        let n = failures.entry(*s).or_insert(0);
                        *n += 1;
                        if *n >= TRIES {
                            return problem!("{}: MIGRATE of slot {s} to {host}:{port}: {e}", src.addr);
                        }
                        failed = true;
                    }
                }
            }
            if failed {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            pending = found.into_iter().map(|(s, _)| s).collect();
        }
        Ok(())
    }
}

/// Slots (with their keys left) in chunks of about `batch` keys for one `SLOTKV MIGRATESLOT` each: a
/// chunk takes slots while it stays within `batch`, and always at least one.
fn chunk_slots(pending: &[(u16, u64)], batch: u64) -> Vec<Vec<u16>> {
    let mut chunks: Vec<Vec<u16>> = Vec::new();
    let mut keys = 0;
    for &(s, n) in pending {
        match chunks.last_mut() {
            Some(c) if keys + n <= batch => {
                c.push(s);
                keys += n;
            }
            _ => {
                chunks.push(vec![s]);
                keys = n;
            }
        }
    }
    chunks
}

/// A short description of a move, for plans and logs.
pub fn describe(c: &Cluster, m: &Move) -> String {
    let name = |id: &str| c.known.get(id).map_or_else(|| short(id).to_string(), |l| l.addr.clone());
    format!(
        "{} slots {} -> {}: {}",
        m.slots.len(),
        name(&m.from),
        name(&m.to),
        crate::view::ranges_text(&m.slots)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_go_in_chunks_of_about_a_batch() {
        let pending = [(1, 400), (2, 500), (3, 200), (4, 5000), (5, 10), (6, 0)];
        assert_eq!(chunk_slots(&pending, 1000), vec![vec![1, 2], vec![3], vec![4], vec![5, 6]]);
        assert_eq!(chunk_slots(&pending, 1), vec![vec![1], vec![2], vec![3], vec![4], vec![5], vec![6]]);
        assert!(chunk_slots(&[], 1000).is_empty());
    }
}
