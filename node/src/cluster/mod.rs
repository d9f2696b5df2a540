//! Cluster mode: which node serves which of the 16384 hash slots, as this node sees it, and the rules
//! that route every keyed command (see `../shared/DESIGN.md` section 3).
//!
//! - [`route`]: the check at dispatch: execute here, or `-MOVED`, `-ASK`, `-CROSSSLOT`, `-TRYAGAIN`,
//!   `-CLUSTERDOWN`, exactly as Redis decides them.
//! - [`commands`]: `CLUSTER ...`, `ASKING`, `READONLY`, `READWRITE`.
//! - [`nodes_file`]: the view kept in `cluster-config-file` (Redis's `nodes.conf` format), rewritten
//!   atomically on every change and read back at start.
//! - [`migrate`]: `MIGRATE` and `RESTORE-ASKING`.
//!
//! The view is this node's alone for now: peers and the cluster bus that makes views converge come in
//! the next step of issue 6.

pub mod bus;
pub mod commands;
pub mod failover;
pub mod migrate;
pub mod nodes_file;
pub mod route;

use slotkv_proto::slot::SLOT_COUNT;
use std::collections::BTreeMap;

/// A node id: 40 lowercase hex digits.
pub type NodeId = String;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: NodeId,
    /// Empty until known (a fresh node does not know its own address until a peer tells it).
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    /// `master` or `slave` (replicas: issue 11), plus states such as `handshake`, `fail?`, `fail`.
    pub flags: Vec<String>,
    /// The master's id, for a replica.
    pub master: Option<NodeId>,
    pub ping_sent: i64,
    pub pong_recv: i64,
    pub config_epoch: u64,
    pub connected: bool,
    pub shard_id: String,
    /// When a handshake (flag `handshake`) began, Unix ms.
    pub handshake_started: i64,
    /// `CLUSTER MEET` asked for this node: greet it with MEET rather than PING.
    pub meet: bool,
    /// Masters that reported this node failing (`fail?` in their gossip), with when they last did.
    pub fail_reports: BTreeMap<NodeId, i64>,
    /// The replication offset its last header gave (a replica's rank in an election).
    pub repl_offset: u64,
}

impl Node {
    pub fn new(id: NodeId, ip: String, port: u16, cport: u16) -> Node {
        Node {
            id,
            ip,
            port,
            cport,
            flags: vec!["master".into()],
            master: None,
            ping_sent: 0,
            pong_recv: 0,
            config_epoch: 0,
            connected: true,
            shard_id: random_id(),
            handshake_started: 0,
            meet: false,
            fail_reports: BTreeMap::new(),
            repl_offset: 0,
        }
    }

    pub fn handshake(&self) -> bool {
        self.has_flag("handshake")
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// `fail?` (this node cannot reach it) or `fail` (the masters agree it is down).
    pub fn failing(&self) -> bool {
        self.has_flag("fail?") || self.has_flag("fail")
    }
}

/// One bus link, as `CLUSTER LINKS` shows it.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    /// `to` (this node connected) or `from` (the peer connected).
    pub outbound: bool,
    pub node: NodeId,
    pub created_ms: i64,
    pub writing: bool,
    pub send_buffer_allocated: usize,
    pub send_buffer_used: usize,
}

/// A fresh random id, as Redis makes them (40 hex digits).
pub fn random_id() -> String {
    (0..40).map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0')).collect()
}

#[derive(Debug)]
pub struct Cluster {
    pub myself: NodeId,
    /// Every node known, by id (ordered so listings are stable).
    pub nodes: BTreeMap<NodeId, Node>,
    /// The owner of each slot, if any. Changed only through [`Cluster::set_owner`] and
    /// [`Cluster::recount`], which keep `mine` in step.
    slots: Vec<Option<NodeId>>,
    /// Bit `s` set: this node owns slot `s`. The routing check reads this on every keyed command instead
    /// of comparing the owner's id (a 40-byte string on the heap, a cache miss per command).
    mine: Box<[u64; SLOT_COUNT / 64]>,
    /// Slots this node is handing over, and to whom; slots it is receiving, and from whom.
    pub migrating: BTreeMap<u16, NodeId>,
    pub importing: BTreeMap<u16, NodeId>,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    /// Whether the view changed since it was last written to `cluster-config-file`.
    pub dirty: bool,
    /// A client's command changed the view this tick: the file is written (without fsync, as Redis does
    /// for these commands) at the end of the tick, and the replies wait for it, so a client never hears
    /// OK for a change a crashed process would forget. Once per tick, not once per `SETSLOT`.
    pub command_dirty: bool,
    /// Nodes `CLUSTER FORGET` removed, not to be re-learned from gossip until the time (Unix ms).
    pub forgotten: std::collections::HashMap<NodeId, i64>,
    /// Bus messages (RESP) to send to every peer (`PUBLISH`).
    pub outbox: Vec<Vec<u8>>,
    /// ...and to one peer (`MFSTART`).
    pub outbox_to: Vec<(NodeId, Vec<u8>)>,
    /// Send this node's header to every peer now (after a failover).
    pub broadcast: bool,
    /// Elections and votes.
    pub failover: failover::Failover,
    /// Slots with an owner, and of those the ones whose owner is flagged `fail?` and `fail`, counted
    /// again after every change ([`Cluster::recount`]) so that the state check on every command is O(1).
    assigned_count: usize,
    pfail_count: usize,
    fail_count: usize,
    /// Masters that serve slots, and how many of them this node sees flagged `fail?` or `fail`.
    serving_masters: usize,
    unreachable_masters: usize,
    /// The bus links as of the last cron tick, for `CLUSTER LINKS`.
    pub links: Vec<LinkInfo>,
    /// Slots this node lost to a newer claim: their keys are dropped at the end of the tick.
    pub lost: Vec<u16>,
    /// Bus messages sent and received (`CLUSTER INFO`), copied from the bus every tick.
    pub messages_sent: u64,
    pub messages_received: u64,
}

/// `cluster_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ok,
    Fail,
}

impl Cluster {
    /// A new node that knows only itself and owns nothing.
    pub fn fresh(port: u16, cport: u16, announce_ip: &str) -> Cluster {
        let id = random_id();
        let mut nodes = BTreeMap::new();
        let mut me = Node::new(id.clone(), announce_ip.to_string(), port, cport);
        me.flags.insert(0, "myself".into());
        nodes.insert(id.clone(), me);
        let mut c =
            Cluster::with_view(id, nodes, vec![None; SLOT_COUNT], BTreeMap::new(), BTreeMap::new(), 0, 0);
        c.dirty = true;
        c
    }

    /// A cluster from its persisted view (what `nodes.conf` holds); the run-time state starts empty.
    pub fn with_view(
        myself: NodeId,
        nodes: BTreeMap<NodeId, Node>,
        slots: Vec<Option<NodeId>>,
        migrating: BTreeMap<u16, NodeId>,
        importing: BTreeMap<u16, NodeId>,
        current_epoch: u64,
        last_vote_epoch: u64,
    ) -> Cluster {
        let mut c = Cluster {
            myself,
            nodes,
            slots,
            mine: Box::new([0; SLOT_COUNT / 64]),
            migrating,
            importing,
            current_epoch,
            last_vote_epoch,
            dirty: false,
            forgotten: Default::default(),
            outbox: Vec::new(),
            outbox_to: Vec::new(),
            broadcast: false,
            failover: Default::default(),
            assigned_count: 0,
            pfail_count: 0,
            fail_count: 0,
            serving_masters: 0,
            unreachable_masters: 0,
            links: Vec::new(),
            lost: Vec::new(),
            command_dirty: false,
            messages_sent: 0,
            messages_received: 0,
        };
        c.recount();
        c
    }

    /// Counts the assigned (and failing) slots again, and which are mine; after any change to a node's
    /// flags or to `myself`.
    pub fn recount(&mut self) {
        let mut mine = [0u64; SLOT_COUNT / 64];
        for (s, owner) in self.slots.iter().enumerate() {
            if owner.as_ref() == Some(&self.myself) {
                if let Some(word) = mine.get_mut(s / 64) {
                    *word |= 1 << (s % 64);
                }
            }
        }
        *self.mine = mine;
        let (mut assigned, mut pfail, mut fail) = (0, 0, 0);
        // Slots come in runs of one owner: its flags are looked up once per run, not once per slot
        // (a reshard recounts after every SETSLOT).
        let mut run: Option<(&String, u8)> = None;
        // The distinct owners, and of those the ones this node cannot reach (found at run starts only).
        let mut owners: Vec<&String> = Vec::new();
        let mut unreachable = 0;
        for owner in self.slots.iter().flatten() {
            assigned += 1;
            let state = match run {
                Some((o, state)) if o == owner => state,
                _ => {
                    let node = self.nodes.get(owner);
                    let state = match node {
                        Some(n) if n.has_flag("fail") => 2,
                        Some(n) if n.has_flag("fail?") => 1,
                        _ => 0,
                    };
                    if !owners.contains(&owner) {
                        owners.push(owner);
                        if *owner != self.myself && node.is_none_or(Node::failing) {
                            unreachable += 1;
                        }
                    }
                    run = Some((owner, state));
                    state
                }
            };
            match state {
                2 => fail += 1,
                1 => pfail += 1,
                _ => {}
            }
        }
        (self.assigned_count, self.pfail_count, self.fail_count) = (assigned, pfail, fail);
        // (`set_owner` leaves these two to the recount at the end of the tick.)
        (self.serving_masters, self.unreachable_masters) = (owners.len(), unreachable);
    }

    /// What one slot served by `owner` adds to the counts: (assigned, `fail?`, `fail`).
    fn weight(&self, owner: Option<&NodeId>) -> (usize, usize, usize) {
        match owner.map(|o| self.nodes.get(o)) {
            None => (0, 0, 0),
            Some(Some(n)) if n.has_flag("fail") => (1, 0, 1),
            Some(Some(n)) if n.has_flag("fail?") => (1, 1, 0),
            Some(_) => (1, 0, 0),
        }
    }

    /// Gives `slot` to `owner` and updates the counts for that one slot, without the O(16384)
    /// [`Cluster::recount`]: a reshard sets the owner of thousands of slots, a few per round trip.
    pub fn set_owner(&mut self, slot: usize, owner: Option<NodeId>) {
        let Some(old) = self.slots.get(slot) else { return };
        let (a0, p0, f0) = self.weight(old.as_ref());
        let (a1, p1, f1) = self.weight(owner.as_ref());
        // Saturating: counts a bus change made stale this tick are recounted at its end anyway.
        self.assigned_count = (self.assigned_count + a1).saturating_sub(a0);
        self.pfail_count = (self.pfail_count + p1).saturating_sub(p0);
        self.fail_count = (self.fail_count + f1).saturating_sub(f0);
        if let Some(word) = self.mine.get_mut(slot / 64) {
            let bit = 1u64 << (slot % 64);
            if owner.as_ref() == Some(&self.myself) {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
        if let Some(cell) = self.slots.get_mut(slot) {
            *cell = owner;
        }
    }

    /// Gives every slot of `from` (`None`: every slot) to `to`.
    pub fn reassign(&mut self, from: Option<&str>, to: Option<NodeId>) {
        for s in 0..SLOT_COUNT {
            let moves = match (from, self.owner(s)) {
                (None, _) => true,
                (Some(from), Some(owner)) => owner == from,
                (Some(_), None) => false,
            };
            if moves {
                self.set_owner(s, to.clone());
            }
        }
    }

    /// The owner of every slot, by slot.
    pub fn slots(&self) -> &[Option<NodeId>] {
        &self.slots
    }

    /// Slots whose owner is flagged `fail?` / `fail`.
    pub fn failing_slots(&self) -> (usize, usize) {
        (self.pfail_count, self.fail_count)
    }

    /// Masters that serve slots: the voters on failures (`cluster_size`).
    pub fn voters(&self) -> usize {
        self.size()
    }

    /// Starts meeting a node at `ip:port` (bus `cport`): it is known under a temporary id, flagged
    /// `handshake`, until its first PONG names it.
    pub fn start_handshake(&mut self, ip: String, port: u16, cport: u16, now: i64) {
        let mut n = Node::new(random_id(), ip, port, cport);
        n.flags = vec!["handshake".into()];
        n.handshake_started = now;
        n.meet = true;
        n.connected = false;
        self.nodes.insert(n.id.clone(), n);
    }

    pub fn me(&self) -> Option<&Node> {
        self.nodes.get(&self.myself)
    }

    pub fn me_mut(&mut self) -> Option<&mut Node> {
        self.nodes.get_mut(&self.myself)
    }

    pub fn owner(&self, slot: usize) -> Option<&NodeId> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    /// Whether this node serves any slot.
    pub fn owns_any(&self) -> bool {
        self.mine.iter().any(|&w| w != 0)
    }

    pub fn is_mine(&self, slot: usize) -> bool {
        self.mine.get(slot / 64).is_some_and(|w| w & (1 << (slot % 64)) != 0)
    }

    /// Slots with an owner (as of the last [`Cluster::recount`]).
    pub fn assigned(&self) -> usize {
        self.assigned_count
    }

    /// `ok` when every slot is served (or coverage is not required), as `CLUSTER INFO` reports it.
    /// A node that sees fewer than a majority of the masters serving slots is in a minority partition:
    /// `fail`, so it stops taking writes that the majority side will overrule (as Redis does).
    pub fn state(&self, require_full_coverage: bool) -> State {
        let assigned = self.assigned();
        let covered = assigned == SLOT_COUNT && self.fail_count == 0;
        let reachable = self.serving_masters - self.unreachable_masters;
        let minority = reachable < self.serving_masters / 2 + 1;
        if assigned == 0 || minority || (require_full_coverage && !covered) {
            State::Fail
        } else {
            State::Ok
        }
    }

    /// The slots of `id` as ranges, ascending.
    pub fn ranges_of(&self, id: &str) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for (slot, owner) in self.slots.iter().enumerate() {
            if owner.as_deref() != Some(id) {
                continue;
            }
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == slot => *end = slot,
                _ => ranges.push((slot, slot)),
            }
        }
        ranges
    }

    /// Masters that serve at least one slot (`cluster_size`).
    pub fn size(&self) -> usize {
        let owners: std::collections::BTreeSet<&NodeId> = self.slots.iter().flatten().collect();
        owners.len()
    }

    /// The highest config epoch any node has.
    pub fn max_epoch(&self) -> u64 {
        self.nodes.values().map(|n| n.config_epoch).max().unwrap_or(0).max(self.current_epoch)
    }
}

/// The bus port: `cluster-port`, or the client port + 10000.
pub fn bus_port(config: &crate::config::Config, port: u16) -> u16 {
    let set: u16 = config.get("cluster-port").and_then(|v| v.parse().ok()).unwrap_or(0);
    if set != 0 {
        set
    } else {
        port.wrapping_add(10000)
    }
}

/// With `cluster-enabled yes`: reads `cluster-config-file`, or starts a fresh view and writes it.
pub fn start(srv: &mut crate::server::Server) -> Result<(), String> {
    if !srv.config.cluster_enabled {
        return Ok(());
    }
    let path = std::path::PathBuf::from(&srv.config.cluster_config_file);
    let announce_ip = srv.config.get("cluster-announce-ip").unwrap_or_default().to_string();
    let announce_port: u16 =
        srv.config.get("cluster-announce-port").and_then(|v| v.parse().ok()).unwrap_or(0);
    let port = if announce_port != 0 { announce_port } else { srv.tcp_port };
    let announce_bus: u16 =
        srv.config.get("cluster-announce-bus-port").and_then(|v| v.parse().ok()).unwrap_or(0);
    let cport = if announce_bus != 0 { announce_bus } else { bus_port(&srv.config, srv.tcp_port) };
    let mut cluster = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let c = nodes_file::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            tracing::info!("Node configuration loaded, I'm {}", c.myself);
            c
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let c = Cluster::fresh(port, cport, &announce_ip);
            tracing::info!("No cluster configuration found, I'm {}", c.myself);
            c
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    // What this node announces follows its settings of this run.
    if let Some(me) = cluster.me_mut() {
        me.port = port;
        me.cport = cport;
        if !announce_ip.is_empty() {
            me.ip = announce_ip;
        }
    }
    cluster.recount();
    nodes_file::save(&cluster, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    cluster.dirty = false;
    srv.cluster = Some(cluster);
    Ok(())
}

/// Writes `cluster-config-file` if the view changed (the bus learned something), and drops the keys of
/// slots this node lost (as Redis does: they are unreachable, and would be stale if the slot came back).
pub fn save_if_changed(srv: &mut crate::server::Server) {
    let Some(c) = srv.cluster.as_mut() else { return };
    for slot in std::mem::take(&mut c.lost) {
        crate::commands::pubsub::unsubscribe_slot(srv, slot);
        let keys = srv.db.drop_slot(slot as usize);
        if !keys.is_empty() {
            tracing::warn!("Dropped {} keys of slot {slot}, now served by another node", keys.len());
        }
        if srv.feed.on {
            for key in &keys {
                srv.feed.emit(&[b"DEL", key]);
            }
        }
    }
    let Some(c) = srv.cluster.as_mut() else { return };
    if !c.dirty && !c.command_dirty {
        return;
    }
    c.recount();
    let path = std::path::Path::new(&srv.config.cluster_config_file);
    // What the bus learned (epochs, failures) is fsynced; what commands changed is not, as in Redis.
    let saved = if c.dirty { nodes_file::save(c, path) } else { nodes_file::save_unsynced(c, path) };
    // The held replies go out either way: a disk that refuses the file is reported in the log.
    c.command_dirty = false;
    match saved {
        Ok(()) => c.dirty = false,
        Err(e) => tracing::warn!("Could not save the cluster config file: {e}"),
    }
}

/// `INFO`'s `# Cluster` section.
pub fn info(srv: &crate::server::Server, out: &mut String) {
    out.push_str(&format!("cluster_enabled:{}\r\n", u8::from(srv.cluster.is_some())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_owner_keeps_the_counts_a_recount_finds() {
        let mut c = Cluster::fresh(7000, 17000, "127.0.0.1");
        let me = c.myself.clone();
        let mut down = Node::new("b".repeat(40), "127.0.0.1".into(), 7001, 17001);
        down.flags.push("fail".into());
        let mut doubtful = Node::new("c".repeat(40), "127.0.0.1".into(), 7002, 17002);
        doubtful.flags.push("fail?".into());
        let (b, d) = (down.id.clone(), doubtful.id.clone());
        c.nodes.insert(b.clone(), down);
        c.nodes.insert(d.clone(), doubtful);
        let steps = [(0, Some(&me)), (1, Some(&me)), (2, Some(&b)), (3, Some(&d)), (1, Some(&b)), (2, None)];
        for (slot, owner) in steps {
            c.set_owner(slot, owner.cloned());
            let incremental = (c.assigned(), c.failing_slots());
            c.recount();
            assert_eq!(incremental, (c.assigned(), c.failing_slots()), "after slot {slot}");
        }
        assert_eq!((c.assigned(), c.failing_slots()), (3, (1, 1)));
        assert_eq!(c.state(true), State::Fail);
        c.set_owner(SLOT_COUNT, Some(me));
        assert_eq!(c.assigned(), 3);
    }

    #[test]
    fn the_bitmap_of_my_slots_follows_every_change_of_owner() {
        let mut c = Cluster::fresh(7000, 17000, "127.0.0.1");
        let me = c.myself.clone();
        let other = "b".repeat(40);
        let agrees = |c: &Cluster| (0..SLOT_COUNT).all(|s| c.is_mine(s) == (c.owner(s) == Some(&c.myself)));
        assert!(!c.owns_any());
        for s in [0, 63, 64, 5000, SLOT_COUNT - 1] {
            c.set_owner(s, Some(me.clone()));
        }
        c.set_owner(5000, Some(other.clone()));
        assert!(agrees(&c) && c.is_mine(63) && c.is_mine(SLOT_COUNT - 1) && !c.is_mine(5000));
        c.reassign(Some(&other), Some(me.clone()));
        assert!(agrees(&c) && c.is_mine(5000));
        c.reassign(Some(&me), Some(other.clone()));
        assert!(agrees(&c) && !c.owns_any());
        // A new id (CLUSTER RESET HARD) is taken into account by the recount.
        c.reassign(Some(&other), Some(me.clone()));
        c.myself = other;
        c.recount();
        assert!(agrees(&c) && !c.owns_any());
    }
}
