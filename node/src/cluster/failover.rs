//! Replicas in cluster mode, and failover: a replica of a failed master is elected by the masters and
//! takes its slots over, as in Redis Cluster.
//!
//! - A replica follows the master `CLUSTER REPLICATE` (or `nodes.conf`) names; the bus header carries each
//!   node's role, its master and its replication offset.
//! - Once the masters agree a master failed (`fail`, see [`super::bus`]), each of its replicas waits
//!   500 ms + up to 500 ms at random + 1 s per replica with a greater offset (the most up to date asks
//!   first), then takes a new epoch and asks every master for its vote (`AUTHREQ`). A master votes once
//!   per epoch, and for one replica of a given master at most every two node timeouts. With a majority of
//!   the masters that serve slots, the replica promotes itself: its slots get the election's epoch, which
//!   beats the old master's claim everywhere, and it tells every node at once.
//! - A node whose slots were all taken by a newer claim (an old master coming back) becomes a replica
//!   of the claimant; replicas of a master that lost its slots follow the new owner.
//! - `CLUSTER FAILOVER`: the master pauses writes and tells its replica its offset (`MFSTART` /
//!   `MFOFFSET`); once the replica has every byte, it is elected without waiting for a failure, so no
//!   acknowledged write is lost. `FORCE` skips the master's part; `TAKEOVER` also skips the vote.

use super::{Cluster, NodeId};
use crate::persist::aof_file::encode_command;
use crate::server::Server;
use std::collections::{BTreeMap, BTreeSet};

/// How long a manual failover may take before it is given up (as Redis's `CLUSTER_MF_TIMEOUT`).
pub const MANUAL_TIMEOUT_MS: i64 = 5000;

#[derive(Debug, Default)]
pub struct Failover {
    /// When this replica may ask for votes; 0: no election planned.
    pub not_before: i64,
    /// The running election's epoch (0: none), when it started, and who voted for it.
    pub epoch: u64,
    pub started: i64,
    pub votes: BTreeSet<NodeId>,
    /// Ask even though the master is not failing (manual failover).
    pub forced: bool,
    /// A manual failover: until when (0: none), and the master's offset to reach first.
    pub manual_until: i64,
    pub manual_offset: Option<u64>,
    /// This (master) node's votes: for replicas of which master, when.
    pub voted_for: BTreeMap<NodeId, i64>,
}

impl Failover {
    /// Forgets this node's election (a new role, a manual failover ending); its votes as a master stay.
    pub fn reset(&mut self) {
        *self = Failover { voted_for: std::mem::take(&mut self.voted_for), ..Failover::default() };
    }
}

fn message(argv: &[&[u8]]) -> Vec<u8> {
    let mut m = Vec::new();
    encode_command(&mut m, argv);
    m
}

/// This node's master, if it is a replica.
pub fn my_master(c: &Cluster) -> Option<NodeId> {
    c.me().filter(|m| m.has_flag("slave")).and_then(|m| m.master.clone())
}

/// Makes `id` a replica of `master` in this node's view.
pub fn set_replica_of(c: &mut Cluster, id: &str, master: &str) {
    let shard = c.nodes.get(master).map(|m| m.shard_id.clone());
    if let Some(n) = c.nodes.get_mut(id) {
        n.flags.retain(|f| f != "master" && f != "slave");
        n.flags.push("slave".into());
        n.master = Some(master.to_string());
        if let Some(s) = shard {
            n.shard_id = s;
        }
    }
    c.dirty = true;
}

/// Makes `id` a master in this node's view.
pub fn set_master(c: &mut Cluster, id: &str) {
    if let Some(n) = c.nodes.get_mut(id) {
        if n.has_flag("master") && n.master.is_none() {
            return;
        }
        n.flags.retain(|f| f != "master" && f != "slave");
        n.flags.push("master".into());
        n.master = None;
    }
    c.dirty = true;
}

/// The replication link follows this node's role in the view: a replica replicates its master's
/// address (once known), a master replicates nobody. Called every cron tick and after role changes.
pub fn reconcile(srv: &mut Server, now: i64) {
    if srv.persist.loading.is_some() {
        return;
    }
    let Some(c) = srv.cluster.as_ref() else { return };
    match my_master(c) {
        Some(m) => {
            let Some(n) = c.nodes.get(&m).filter(|n| !n.ip.is_empty() && n.port != 0) else { return };
            let (host, port) = (n.ip.clone(), n.port);
            let current = srv.repl.link.as_ref().map(|l| (l.host.clone(), l.port));
            if current != Some((host.clone(), port)) {
                tracing::info!("Replicating {m} at {host}:{port}");
                crate::repl::link::follow(srv, host, port, now);
            }
        }
        None => {
            if srv.repl.is_replica() {
                crate::repl::link::promote(srv, now);
            }
        }
    }
}

/// Slots of this node and of its master before a change of claims, to see what the change took.
pub struct Before {
    mine: usize,
    master: Option<(NodeId, usize)>,
}

pub fn before(c: &Cluster) -> Before {
    let count = |id: &str| c.slots().iter().filter(|o| o.as_deref() == Some(id)).count();
    Before { mine: count(&c.myself), master: my_master(c).map(|m| (m.clone(), count(&m))) }
}

/// After `sender`'s claims were applied: a master that lost every slot to it becomes its replica (an old
/// master back after a failover); a replica whose master lost every slot to it follows it.
pub fn after_claims(srv: &mut Server, before: Before, sender: &str, now: i64) {
    let Some(c) = srv.cluster.as_mut() else { return };
    let count = |c: &Cluster, id: &str| c.slots().iter().filter(|o| o.as_deref() == Some(id)).count();
    if count(c, sender) == 0 || sender == c.myself {
        return;
    }
    let me = c.myself.clone();
    if before.mine > 0 && count(c, &me) == 0 && c.me().is_some_and(|m| m.has_flag("master")) {
        tracing::info!("All my slots went to {sender}: configuring myself as its replica");
        set_replica_of(c, &me, sender);
        c.failover.reset();
        srv.writes_paused_until = 0;
        reconcile(srv, now);
        return;
    }
    if let Some((master, had)) = before.master {
        if had > 0 && master != sender && count(c, &master) == 0 {
            tracing::info!("My master {master} lost its slots to {sender}: replicating it instead");
            set_replica_of(c, &me, sender);
            reconcile(srv, now);
        }
    }
}

/// Replicas of `master`, with the offsets their headers last gave.
fn replicas_of<'a>(c: &'a Cluster, master: &'a str) -> impl Iterator<Item = &'a super::Node> + 'a {
    c.nodes.values().filter(move |n| n.master.as_deref() == Some(master) && n.has_flag("slave"))
}

/// Once a bus cron tick: plans, starts and judges this replica's election.
pub fn cron(srv: &mut Server, now: i64, timeout: i64) {
    let offset = srv.repl.offset;
    let Some(c) = srv.cluster.as_mut() else { return };
    let Some(master) = my_master(c) else {
        c.failover.not_before = 0;
        c.failover.epoch = 0;
        return;
    };
    let f = &c.failover;
    if f.manual_until != 0 && now > f.manual_until {
        tracing::warn!("Manual failover timed out.");
        c.failover.reset();
        return;
    }
    let master_failed = c.nodes.get(&master).is_some_and(|m| m.has_flag("fail"));
    let master_has_slots = c.slots().iter().any(|o| o.as_deref() == Some(master.as_str()));
    let manual_ready = c.failover.manual_until != 0 && c.failover.manual_offset.is_some_and(|o| offset >= o);
    if manual_ready && c.failover.epoch == 0 {
        tracing::info!("All master replication stream processed, manual failover can start.");
        c.failover.forced = true;
        c.failover.not_before = now;
    }
    let wanted = master_has_slots && (master_failed || c.failover.forced);
    if !wanted || srv.config.cluster_replica_no_failover && !c.failover.forced {
        c.failover.not_before = 0;
        c.failover.epoch = 0;
        return;
    }
    if c.failover.epoch != 0 {
        if now - c.failover.started > (timeout * 2).max(2000) {
            tracing::warn!("Failover attempt expired.");
            c.failover.epoch = 0;
            c.failover.not_before = now + (timeout * 2).max(2000);
        }
        return;
    }
    if c.failover.not_before == 0 {
        let rank = replicas_of(c, &master).filter(|n| n.id != c.myself && n.repl_offset > offset).count();
        let delay = 500 + fastrand::i64(0..500) + rank as i64 * 1000;
        c.failover.not_before = now + delay;
        tracing::info!("Start of election delayed for {delay} milliseconds (rank #{rank}, offset {offset}).");
        return;
    }
    if now < c.failover.not_before {
        return;
    }
    c.current_epoch += 1;
    let epoch = c.current_epoch;
    c.failover.epoch = epoch;
    c.failover.started = now;
    c.failover.votes.clear();
    c.dirty = true;
    tracing::info!("Starting a failover election for epoch {epoch}.");
    let forced = if c.failover.forced { "1" } else { "0" };
    let msg = message(&[
        b"AUTHREQ",
        c.myself.as_bytes(),
        epoch.to_string().as_bytes(),
        master.as_bytes(),
        forced.as_bytes(),
    ]);
    c.outbox.push(msg);
}

/// A master's answer to `AUTHREQ`: `Some(epoch)` to vote.
pub fn vote(
    c: &mut Cluster,
    requester: &str,
    epoch: u64,
    master: &str,
    forced: bool,
    now: i64,
    timeout: i64,
) -> Option<u64> {
    let me = c.me()?;
    if !me.has_flag("master") || !c.owns_any() {
        return None;
    }
    if epoch < c.current_epoch || c.last_vote_epoch >= epoch {
        return None;
    }
    let known_master = c.nodes.get(requester).and_then(|n| n.master.clone());
    if known_master.as_deref() != Some(master) {
        return None;
    }
    let failed = c.nodes.get(master).is_some_and(|m| m.has_flag("fail"));
    if !failed && !forced {
        return None;
    }
    if c.failover.voted_for.get(master).is_some_and(|&at| now - at < timeout * 2) {
        return None;
    }
    c.current_epoch = c.current_epoch.max(epoch);
    c.last_vote_epoch = epoch;
    c.failover.voted_for.insert(master.to_string(), now);
    c.dirty = true;
    tracing::info!("Failover auth granted to {requester} for epoch {epoch}");
    Some(epoch)
}

/// A vote arrived: with a majority of the masters, the replica takes over.
pub fn on_vote(srv: &mut Server, voter: &str, epoch: u64, now: i64) {
    let Some(c) = srv.cluster.as_mut() else { return };
    if epoch == 0 || epoch != c.failover.epoch {
        return;
    }
    c.failover.votes.insert(voter.to_string());
    let needed = c.voters() / 2 + 1;
    if c.failover.votes.len() >= needed {
        tracing::info!("Failover election won ({} of {needed} votes).", c.failover.votes.len());
        take_over(srv, epoch, now);
    }
}

/// Becomes the master of its master's slots with `epoch` as its config epoch.
pub fn take_over(srv: &mut Server, epoch: u64, now: i64) {
    let Some(c) = srv.cluster.as_mut() else { return };
    let Some(old) = my_master(c) else { return };
    let me = c.myself.clone();
    c.reassign(Some(&old), Some(me.clone()));
    set_master(c, &me);
    c.current_epoch = c.current_epoch.max(epoch);
    if let Some(n) = c.me_mut() {
        n.config_epoch = epoch;
    }
    // The old master stays a (failed) master without slots in this view, as in Redis, until it comes
    // back and, finding its slots taken, makes itself a replica.
    c.failover.reset();
    c.broadcast = true;
    c.recount();
    tracing::info!("configEpoch set to {epoch} after successful failover; I'm now master of {old}'s slots");
    crate::repl::link::promote(srv, now);
}

/// `MFSTART` from a replica of this master: writes pause, and the replica learns the offset to reach.
pub fn manual_start(srv: &mut Server, replica: &str, now: i64) -> Option<u64> {
    let c = srv.cluster.as_ref()?;
    let known = c.nodes.get(replica).and_then(|n| n.master.clone());
    if known.as_deref() != Some(c.myself.as_str()) {
        return None;
    }
    tracing::info!("Manual failover requested by replica {replica}.");
    srv.writes_paused_until = now + MANUAL_TIMEOUT_MS * 2;
    crate::persist::drain_feed(srv);
    Some(srv.repl.offset)
}

/// `CLUSTER FAILOVER [FORCE|TAKEOVER]` on a replica.
pub fn request(srv: &mut Server, force: bool, takeover: bool, now: i64) -> Result<(), &'static str> {
    let c = srv.cluster.as_mut().ok_or("ERR This instance has cluster support disabled")?;
    let Some(master) = my_master(c) else { return Err("ERR You should send CLUSTER FAILOVER to a replica") };
    let failing = c.nodes.get(&master).is_none_or(|m| m.failing());
    if failing && !force && !takeover {
        return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
    }
    c.failover.reset();
    if takeover {
        // No vote: a new epoch of this node's own, as Redis's TAKEOVER.
        c.current_epoch += 1;
        let epoch = c.current_epoch;
        tracing::info!("Taking over the master (user request).");
        take_over(srv, epoch, now);
        return Ok(());
    }
    c.failover.manual_until = now + MANUAL_TIMEOUT_MS;
    if force {
        tracing::info!("Forced failover user request accepted.");
        c.failover.manual_offset = Some(0);
    } else {
        tracing::info!("Manual failover user request accepted.");
        let msg = message(&[b"MFSTART", c.myself.as_bytes()]);
        c.outbox_to.push((master, msg));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Node, State};
    use slotkv_proto::slot::SLOT_COUNT;

    fn id(n: u8) -> NodeId {
        char::from(b'a' + n).to_string().repeat(40)
    }

    /// Three masters a, b, c with a third of the slots each, and d a replica of a; seen from `me`.
    fn view(me: u8) -> Cluster {
        let mut nodes = BTreeMap::new();
        for n in 0..4u8 {
            let mut node = Node::new(id(n), "127.0.0.1".into(), 7000 + u16::from(n), 17000 + u16::from(n));
            node.config_epoch = u64::from(n) + 1;
            if n == me {
                node.flags.insert(0, "myself".into());
            }
            nodes.insert(id(n), node);
        }
        let slots = (0..SLOT_COUNT).map(|s| Some(id((s * 3 / SLOT_COUNT) as u8))).collect();
        let mut c = Cluster::with_view(id(me), nodes, slots, BTreeMap::new(), BTreeMap::new(), 4, 0);
        set_replica_of(&mut c, &id(3), &id(0));
        c.recount();
        c
    }

    fn flag(c: &mut Cluster, n: u8, f: &str) {
        if let Some(node) = c.nodes.get_mut(&id(n)) {
            node.flags.push(f.into());
        }
        c.recount();
    }

    #[test]
    fn a_master_votes_once_per_epoch_and_only_for_a_failed_masters_replica() {
        let mut c = view(1);
        assert_eq!(vote(&mut c, &id(3), 5, &id(0), false, 1000, 2000), None, "the master has not failed");
        flag(&mut c, 0, "fail");
        assert_eq!(vote(&mut c, &id(3), 3, &id(0), false, 1000, 2000), None, "a stale epoch");
        assert_eq!(vote(&mut c, &id(3), 5, &id(2), false, 1000, 2000), None, "not the requester's master");
        assert_eq!(vote(&mut c, &id(3), 5, &id(0), false, 1000, 2000), Some(5));
        assert_eq!((c.current_epoch, c.last_vote_epoch), (5, 5));
        assert_eq!(vote(&mut c, &id(3), 5, &id(0), false, 1000, 2000), None, "one vote per epoch");
        assert_eq!(vote(&mut c, &id(3), 6, &id(0), false, 2000, 2000), None, "not again within 2 timeouts");
        assert_eq!(vote(&mut c, &id(3), 7, &id(0), false, 6000, 2000), Some(7));
        // A forced (manual) request needs no failure; a replica never votes.
        let mut c = view(2);
        assert_eq!(vote(&mut c, &id(3), 5, &id(0), true, 1000, 2000), Some(5));
        let mut r = view(3);
        flag(&mut r, 0, "fail");
        assert_eq!(vote(&mut r, &id(3), 5, &id(0), false, 1000, 2000), None);
    }

    #[test]
    fn a_node_that_sees_only_a_minority_of_masters_is_down() {
        let mut c = view(2);
        assert_eq!(c.state(false), State::Ok);
        flag(&mut c, 0, "fail?");
        assert_eq!(c.state(false), State::Ok, "two of three masters are a majority");
        flag(&mut c, 1, "fail?");
        assert_eq!(c.state(false), State::Fail, "alone with one of three");
    }

    #[test]
    fn before_and_after_claims_see_what_a_master_lost() {
        let mut c = view(3);
        let b = before(&c);
        assert_eq!(b.master.as_ref().map(|(m, n)| (m.clone(), *n)), Some((id(0), 5462)));
        assert_eq!(my_master(&c), Some(id(0)));
        set_master(&mut c, &id(3));
        assert_eq!(my_master(&c), None);
        assert!(c.nodes.get(&id(3)).is_some_and(|n| n.has_flag("master") && n.master.is_none()));
    }
}
