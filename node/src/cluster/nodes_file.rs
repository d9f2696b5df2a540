//! The cluster view as text: the lines of `CLUSTER NODES`, and `cluster-config-file` (Redis's
//! `nodes.conf`: the same lines, the address carrying `,,shard-id=<id>` as Redis 7.2 writes it, then
//! `vars currentEpoch <n> lastVoteEpoch <n>`). The file is replaced atomically on every change.
//!
//! ```text
//! <id> <ip>:<port>@<cport> <flags> <master id|-> <ping sent> <pong received> <config epoch>
//!     <connected|disconnected> <slot or first-last>... [<slot>->-<id>]... [<slot>-<-<id>]...
//! ```

use super::{Cluster, Node};
use crate::persist::fsutil;
use slotkv_proto::slot::SLOT_COUNT;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One node's line, as `CLUSTER NODES` shows it (`in_file`: with the shard id, for `nodes.conf`).
pub fn node_line(c: &Cluster, n: &Node, in_file: bool) -> String {
    let mut line = format!("{} {}:{}@{}", n.id, n.ip, n.port, n.cport);
    if in_file {
        let _ = write!(line, ",,shard-id={}", n.shard_id);
    }
    let master = n.master.as_deref().unwrap_or("-");
    let link = if n.connected { "connected" } else { "disconnected" };
    let _ = write!(
        line,
        " {} {master} {} {} {} {link}",
        n.flags.join(","),
        n.ping_sent,
        n.pong_recv,
        n.config_epoch
    );
    for (start, end) in c.ranges_of(&n.id) {
        if start == end {
            let _ = write!(line, " {start}");
        } else {
            let _ = write!(line, " {start}-{end}");
        }
    }
    if n.id == c.myself {
        for (slot, to) in &c.migrating {
            let _ = write!(line, " [{slot}->-{to}]");
        }
        for (slot, from) in &c.importing {
            let _ = write!(line, " [{slot}-<-{from}]");
        }
    }
    line
}

/// `CLUSTER NODES`: one line per node, myself first... in Redis's table order, which is unspecified;
/// ours is by id.
pub fn nodes_text(c: &Cluster) -> String {
    let mut out = String::new();
    for n in c.nodes.values() {
        out.push_str(&node_line(c, n, false));
        out.push('\n');
    }
    out
}

pub fn render(c: &Cluster) -> String {
    let mut out = String::new();
    for n in c.nodes.values().filter(|n| !n.handshake()) {
        out.push_str(&node_line(c, n, true));
        out.push('\n');
    }
    let _ = writeln!(out, "vars currentEpoch {} lastVoteEpoch {}", c.current_epoch, c.last_vote_epoch);
    out
}

pub fn save(c: &Cluster, path: &Path) -> std::io::Result<()> {
    fsutil::write_atomically(path, render(c).as_bytes())
}

/// [`save`] without waiting for the disk: the file is replaced at once (a process crash keeps it), and
/// made durable by the next [`save`] at the end of the event-loop tick.
pub fn save_unsynced(c: &Cluster, path: &Path) -> std::io::Result<()> {
    fsutil::write_replacing(path, render(c).as_bytes(), false)
}

fn num<T: std::str::FromStr>(s: &str, what: &str, line: usize) -> Result<T, String> {
    s.parse().map_err(|_| format!("line {line}: bad {what} '{s}'"))
}

/// Parses a `nodes.conf`. Errors name the line.
pub fn parse(text: &str) -> Result<Cluster, String> {
    let mut nodes = BTreeMap::new();
    let mut slots = vec![None; SLOT_COUNT];
    let mut migrating = BTreeMap::new();
    let mut importing = BTreeMap::new();
    let mut myself = None;
    let (mut current_epoch, mut last_vote_epoch) = (0, 0);
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let words: Vec<&str> = raw.split_whitespace().collect();
        let Some(&first) = words.first() else { continue };
        if first == "vars" {
            for pair in words.get(1..).unwrap_or_default().chunks(2) {
                match pair {
                    ["currentEpoch", v] => current_epoch = num(v, "currentEpoch", line_no)?,
                    ["lastVoteEpoch", v] => last_vote_epoch = num(v, "lastVoteEpoch", line_no)?,
                    _ => {}
                }
            }
            continue;
        }
        if words.len() < 8 {
            return Err(format!("line {line_no}: a node line needs at least 8 fields"));
        }
        let id = first.to_string();
        if id.len() != 40 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("line {line_no}: bad node id '{id}'"));
        }
        let addr = words.get(1).copied().unwrap_or_default();
        let mut parts = addr.split(',');
        let hostport = parts.next().unwrap_or_default();
        let shard_id = parts
            .filter_map(|p| p.strip_prefix("shard-id="))
            .next()
            .map(str::to_string)
            .unwrap_or_else(super::random_id);
        let (hp, cport) = hostport.rsplit_once('@').ok_or(format!("line {line_no}: bad address '{addr}'"))?;
        let (ip, port) = hp.rsplit_once(':').ok_or(format!("line {line_no}: bad address '{addr}'"))?;
        let flags: Vec<String> = words.get(2).unwrap_or(&"").split(',').map(str::to_string).collect();
        let master = words.get(3).filter(|m| **m != "-").map(|m| m.to_string());
        let node = Node {
            id: id.clone(),
            ip: ip.to_string(),
            port: num(port, "port", line_no)?,
            cport: num(cport, "bus port", line_no)?,
            master,
            ping_sent: num(words.get(4).unwrap_or(&""), "ping time", line_no)?,
            pong_recv: num(words.get(5).unwrap_or(&""), "pong time", line_no)?,
            config_epoch: num(words.get(6).unwrap_or(&""), "config epoch", line_no)?,
            connected: words.get(7) == Some(&"connected"),
            shard_id,
            flags,
            handshake_started: 0,
            repl_offset: 0,
            meet: false,
            fail_reports: BTreeMap::new(),
        };
        if node.flags.iter().any(|f| f == "myself") {
            myself = Some(id.clone());
        }
        for spec in words.get(8..).unwrap_or_default() {
            if let Some(inner) = spec.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                if let Some((slot, to)) = inner.split_once("->-") {
                    migrating.insert(num(slot, "slot", line_no)?, to.to_string());
                } else if let Some((slot, from)) = inner.split_once("-<-") {
                    importing.insert(num(slot, "slot", line_no)?, from.to_string());
                } else {
                    return Err(format!("line {line_no}: bad slot state '{spec}'"));
                }
                continue;
            }
            let (start, end) = match spec.split_once('-') {
                Some((a, b)) => (num::<usize>(a, "slot", line_no)?, num::<usize>(b, "slot", line_no)?),
                None => {
                    let s = num::<usize>(spec, "slot", line_no)?;
                    (s, s)
                }
            };
            if start > end || end >= SLOT_COUNT {
                return Err(format!("line {line_no}: bad slot range '{spec}'"));
            }
            for slot in slots.get_mut(start..=end).into_iter().flatten() {
                *slot = Some(id.clone());
            }
        }
        nodes.insert(id, node);
    }
    let myself = myself.ok_or("no node is flagged myself")?;
    // Nodes still in handshake are not kept: the handshake starts over if someone still gossips them.
    nodes.retain(|_, n: &mut Node| !n.handshake());
    Ok(Cluster::with_view(myself, nodes, slots, migrating, importing, current_epoch, last_vote_epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_ranges_and_open_slots() {
        let mut c = Cluster::fresh(7000, 17000, "127.0.0.1");
        let me = c.myself.clone();
        let other = "a".repeat(40);
        c.nodes.insert(other.clone(), Node::new(other.clone(), "10.0.0.2".into(), 7001, 17001));
        for s in (0..100).chain(std::iter::once(200)).chain(300..=305) {
            c.set_owner(s, Some(me.clone()));
        }
        c.set_owner(16383, Some(other.clone()));
        c.migrating.insert(5, other.clone());
        c.importing.insert(16383, other.clone());
        c.current_epoch = 7;
        let line = node_line(&c, c.me().unwrap(), false);
        assert!(line.ends_with(&format!("0-99 200 300-305 [5->-{other}] [16383-<-{other}]")), "{line}");
        assert!(line.contains(" myself,master - 0 0 0 connected "), "{line}");
        let back = parse(&render(&c)).unwrap();
        assert_eq!(back.myself, c.myself);
        assert_eq!(back.slots(), c.slots());
        assert!(back.is_mine(200) && !back.is_mine(201) && !back.is_mine(16383));
        assert_eq!(back.migrating, c.migrating);
        assert_eq!(back.importing, c.importing);
        assert_eq!(back.nodes, c.nodes);
        assert_eq!(back.current_epoch, 7);
    }

    #[test]
    fn bad_files_name_the_line() {
        assert!(parse("xyz :1@2 myself,master - 0 0 0 connected\n").unwrap_err().starts_with("line 1"));
        let id = "b".repeat(40);
        assert!(parse(&format!("{id} :7000@17000 master - 0 0 0 connected\n"))
            .unwrap_err()
            .contains("myself"));
        let bad = format!("vars currentEpoch 1\n{id} :7000@17000 myself,master - 0 0 0 connected 5-2\n");
        assert!(parse(&bad).unwrap_err().starts_with("line 2"));
    }
}
