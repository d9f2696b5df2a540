//! The cluster as the nodes see it: `CLUSTER NODES` parsed, and every reachable node's own view gathered
//! into one [`Cluster`] value that the commands read (who claims which slot, open slots, disagreements).

use crate::error::{Failure, Res};
use crate::node::{parse_info, Node};
use slotkv_client::cmd;
use slotkv_proto::slot::SLOT_COUNT;
use std::collections::{BTreeMap, HashMap};

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLine {
    pub id: String,
    /// `ip:port` (empty ip for a node whose address is not known yet).
    pub addr: String,
    pub bus_port: u16,
    pub flags: Vec<String>,
    /// The id of its master, for a replica.
    pub master: Option<String>,
    pub epoch: u64,
    pub connected: bool,
    /// Slot ranges, inclusive.
    pub ranges: Vec<(u16, u16)>,
    /// `[slot->-id]`: slots this node is migrating, and where to.
    pub migrating: Vec<(u16, String)>,
    /// `[slot-<-id]`: slots this node is importing, and from where.
    pub importing: Vec<(u16, String)>,
}

impl NodeLine {
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    pub fn is_master(&self) -> bool {
        self.has_flag("master")
    }

    /// A replica (`slave` flag) and the id of its master.
    pub fn master_of(&self) -> Option<&str> {
        self.master.as_deref().filter(|_| self.has_flag("slave"))
    }

    /// Flagged as failing (`fail`, `fail?`), or without an address or handshake yet.
    pub fn is_unusable(&self) -> bool {
        ["fail", "fail?", "noaddr", "handshake"].iter().any(|f| self.has_flag(f))
            || self.addr.starts_with(':')
    }

    pub fn slot_count(&self) -> usize {
        self.ranges.iter().map(|(a, b)| usize::from(*b) - usize::from(*a) + 1).sum()
    }

    pub fn slots(&self) -> Vec<u16> {
        self.ranges.iter().flat_map(|&(a, b)| a..=b).collect()
    }
}

/// Parses one `CLUSTER NODES` line.
pub fn parse_line(line: &str) -> Result<NodeLine, String> {
    let w: Vec<&str> = line.split_whitespace().collect();
    if w.len() < 8 {
        return Err(format!("short CLUSTER NODES line: '{line}'"));
    }
    let field = |i: usize| w.get(i).copied().unwrap_or_default();
    // ip:port@cport[,hostname]
    let address = field(1).split(',').next().unwrap_or_default();
    let (addr, bus) = address.split_once('@').unwrap_or((address, "0"));
    let mut out = NodeLine {
        id: field(0).to_string(),
        addr: addr.to_string(),
        bus_port: bus.parse().unwrap_or(0),
        flags: field(2).split(',').map(str::to_string).collect(),
        master: Some(field(3)).filter(|m| *m != "-").map(str::to_string),
        epoch: field(6).parse().map_err(|_| format!("bad config epoch in '{line}'"))?,
        connected: field(7) == "connected",
        ranges: Vec::new(),
        migrating: Vec::new(),
        importing: Vec::new(),
    };
    for item in w.iter().skip(8) {
        let bad = || format!("bad slot entry '{item}' in '{line}'");
        if let Some(open) = item.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if let Some((slot, to)) = open.split_once("->-") {
                out.migrating.push((slot.parse().map_err(|_| bad())?, to.to_string()));
            } else if let Some((slot, from)) = open.split_once("-<-") {
                out.importing.push((slot.parse().map_err(|_| bad())?, from.to_string()));
            } else {
                return Err(bad());
            }
        } else {
            let (a, b) = item.split_once('-').unwrap_or((item, item));
            let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a > b || usize::from(b) >= SLOT_COUNT {
                return Err(bad());
            }
            out.ranges.push((a, b));
        }
    }
    Ok(out)
}

/// Parses `CLUSTER NODES`, leaving out nodes still in handshake: a `MEET` in progress shows one under a
/// temporary id, which is not a member yet (and may be a node already listed under its real id).
pub fn parse_nodes(text: &str) -> Result<Vec<NodeLine>, String> {
    let lines: Vec<NodeLine> =
        text.lines().filter(|l| !l.trim().is_empty()).map(parse_line).collect::<Result<_, _>>()?;
    Ok(lines.into_iter().filter(|l| !l.has_flag("handshake")).collect())
}

/// Slots as compact ranges: `0-5460,5462`.
pub fn ranges_text(slots: &[u16]) -> String {
    let mut sorted = slots.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut it = sorted.into_iter().peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end += 1;
            it.next();
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
    }
    parts.join(",")
}

/// Slots grouped into inclusive ranges.
pub fn to_ranges(slots: &[u16]) -> Vec<(u16, u16)> {
    let mut sorted = slots.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for s in sorted {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == s => *end = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// What one reachable node says.
#[derive(Clone)]
pub struct NodeView {
    pub conn: Node,
    /// Its own line (`myself`).
    pub me: NodeLine,
    /// Every line of its `CLUSTER NODES`.
    pub lines: Vec<NodeLine>,
    pub info: HashMap<String, String>,
    /// Its `INFO replication` (role, link state, offsets).
    pub repl: HashMap<String, String>,
}

impl NodeView {
    /// The owner of every slot in this node's view.
    pub fn owners(&self) -> Vec<Option<String>> {
        let mut owners = vec![None; SLOT_COUNT];
        for l in &self.lines {
            for s in l.slots() {
                if let Some(o) = owners.get_mut(usize::from(s)) {
                    *o = Some(l.id.clone());
                }
            }
        }
        owners
    }

    /// The nodes it knows, not counting those it flags failing: a node that joins after a node failed
    /// never learns of the failed one (its handshake with it fails), as in Redis.
    pub fn members(&self) -> usize {
        self.lines.iter().filter(|l| !l.has_flag("fail") && !l.has_flag("fail?")).count()
    }

    /// The slot assignment as one comparable text (sorted `id:ranges` of the nodes with slots).
    pub fn signature(&self) -> String {
        let mut parts: Vec<String> = self
            .lines
            .iter()
            .filter(|l| !l.ranges.is_empty())
            .map(|l| format!("{}:{}", l.id, ranges_text(&l.slots())))
            .collect();
        parts.sort();
        parts.join("|")
    }
}

/// The whole cluster, as gathered from one entry node.
#[derive(Clone)]
pub struct Cluster {
    /// Every node the entry knows, by id (its view of them).
    pub known: BTreeMap<String, NodeLine>,
    /// The nodes that answered, by id.
    pub views: BTreeMap<String, NodeView>,
    /// Known nodes that could not be reached: id and why.
    pub unreachable: Vec<(String, String)>,
}

impl Cluster {
    /// Connects to `entry`, reads its `CLUSTER NODES`, then asks every node it knows for its own view.
    pub async fn load(entry: &str) -> Res<Cluster> {
        let first = Node::connect(entry).await?;
        let text: String = first.q(&cmd("CLUSTER").arg("NODES")).await?;
        let lines = parse_nodes(&text).map_err(|e| Failure::Problem(format!("{entry}: {e}")))?;
        let mut known = BTreeMap::new();
        let mut tasks = Vec::new();
        for l in lines {
            let myself = l.has_flag("myself");
            let usable = !l.addr.starts_with(':') && !l.has_flag("noaddr") && !l.has_flag("handshake");
            if usable {
                let addr = if myself { entry.to_string() } else { l.addr.clone() };
                let reuse = myself.then(|| first.clone());
                let id = l.id.clone();
                tasks.push(tokio::spawn(async move { (id, view_of(&addr, reuse).await) }));
            }
            known.insert(l.id.clone(), l);
        }
        let mut views = BTreeMap::new();
        let mut unreachable = Vec::new();
        for t in tasks {
            let Ok((id, result)) = t.await else { continue };
            match result {
                Ok(v) => {
                    views.insert(id, v);
                }
                Err(e) => unreachable.push((id, e.to_string())),
            }
        }
        Ok(Cluster { known, views, unreachable })
    }

    /// Loads the cluster again from any node that answered before (after a change).
    pub async fn reload(&self) -> Res<Cluster> {
        let mut last = Failure::Problem("no reachable node".into());
        for v in self.views.values() {
            match Cluster::load(&v.conn.addr).await {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The reachable masters, by id.
    pub fn masters(&self) -> Vec<&NodeView> {
        self.views.values().filter(|v| v.me.is_master()).collect()
    }

    /// For every slot, the nodes that claim it in their own view (their `myself` line).
    pub fn claims(&self) -> Vec<Vec<String>> {
        let mut claims = vec![Vec::new(); SLOT_COUNT];
        for v in self.views.values() {
            for s in v.me.slots() {
                if let Some(c) = claims.get_mut(usize::from(s)) {
                    c.push(v.me.id.clone());
                }
            }
        }
        claims
    }

    /// The owner of every slot: the claimer, or among several the one with the highest config epoch
    /// (the one the cluster's epoch rule makes win).
    pub fn owners(&self) -> Vec<Option<String>> {
        self.claims()
            .into_iter()
            .map(|c| c.into_iter().max_by_key(|id| self.views.get(id).map_or(0, |v| v.me.epoch)))
            .collect()
    }

    /// A node by id (or a unique id prefix) or by address.
    pub fn find(&self, what: &str) -> Res<&NodeLine> {
        let by_addr = crate::node::resolve(what).ok();
        let matches: Vec<&NodeLine> = self
            .known
            .values()
            .filter(|l| {
                l.id.starts_with(what)
                    || by_addr.as_deref() == Some(l.addr.as_str())
                    || self.views.get(&l.id).is_some_and(|v| by_addr.as_deref() == Some(v.conn.addr.as_str()))
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(Failure::Usage(format!("no node '{what}' in the cluster"))),
            _ => {
                Err(Failure::Usage(format!("'{what}' matches {} nodes: give more of the id", matches.len())))
            }
        }
    }

    /// The view of a reachable node.
    pub fn view(&self, id: &str) -> Res<&NodeView> {
        self.views.get(id).ok_or_else(|| Failure::Problem(format!("node {} is not reachable", short(id))))
    }

    /// Slots that are migrating or importing somewhere, with the nodes involved.
    pub fn open_slots(&self) -> BTreeMap<u16, OpenSlot> {
        let mut open: BTreeMap<u16, OpenSlot> = BTreeMap::new();
        for v in self.views.values() {
            for (s, to) in &v.me.migrating {
                open.entry(*s).or_default().migrating.push((v.me.id.clone(), to.clone()));
            }
            for (s, from) in &v.me.importing {
                open.entry(*s).or_default().importing.push((v.me.id.clone(), from.clone()));
            }
        }
        open
    }
}

/// Who migrates and who imports one slot: `(node, peer)` pairs.
#[derive(Debug, Default, Clone)]
pub struct OpenSlot {
    pub migrating: Vec<(String, String)>,
    pub importing: Vec<(String, String)>,
}

/// The view of the node at `addr` (`reuse`: an open connection to it).
pub async fn view_of(addr: &str, reuse: Option<Node>) -> Res<NodeView> {
    let conn = match reuse {
        Some(c) => c,
        None => Node::connect(addr).await?,
    };
    let replies = conn
        .raw(&[cmd("CLUSTER").arg("NODES"), cmd("CLUSTER").arg("INFO"), cmd("INFO").arg("replication")])
        .await?;
    let mut it = replies.into_iter();
    let mut next_text = || -> Res<String> {
        Ok(it
            .next()
            .map(slotkv_client::FromReply::from_reply)
            .transpose()
            .map_err(|e| Failure::Problem(format!("{addr}: {e}")))?
            .unwrap_or_default())
    };
    let text = next_text()?;
    let info = next_text()?;
    let repl = next_text()?;
    let lines = parse_nodes(&text).map_err(|e| Failure::Problem(format!("{addr}: {e}")))?;
    let me = lines
        .iter()
        .find(|l| l.has_flag("myself"))
        .cloned()
        .ok_or_else(|| Failure::Problem(format!("{addr}: CLUSTER NODES has no 'myself' line")))?;
    Ok(NodeView { conn, me, lines, info: parse_info(&info), repl: parse_info(&repl) })
}

/// The first 8 characters of an id, as people read them.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_with_open_slots() {
        let l = parse_line(
            "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host myself,master - 0 1426238317239 4 connected 0-10 12 [13->-abc] [14-<-def]",
        )
        .unwrap();
        assert_eq!(l.addr, "127.0.0.1:30004");
        assert_eq!(l.bus_port, 31004);
        assert!(l.has_flag("myself") && l.is_master());
        assert_eq!(l.master, None);
        assert_eq!(l.epoch, 4);
        assert_eq!(l.ranges, vec![(0, 10), (12, 12)]);
        assert_eq!(l.slot_count(), 12);
        assert_eq!(l.migrating, vec![(13, "abc".to_string())]);
        assert_eq!(l.importing, vec![(14, "def".to_string())]);
        assert!(parse_line("x 1:2@3 master - 0 0 1 connected 5-3").is_err());
        assert!(parse_line("x 1:2@3 master - 0 0 1 connected 16384").is_err());
        assert!(parse_line("short line").is_err());
        let noaddr = parse_line("x :0@0 master,noaddr - 0 0 1 disconnected").unwrap();
        assert!(noaddr.is_unusable());
    }

    #[test]
    fn ranges() {
        assert_eq!(ranges_text(&[5, 1, 2, 3, 7, 8]), "1-3,5,7-8");
        assert_eq!(to_ranges(&[5, 1, 2, 3]), vec![(1, 3), (5, 5)]);
        assert_eq!(ranges_text(&[]), "");
    }
}
