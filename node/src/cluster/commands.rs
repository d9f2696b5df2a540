//! `CLUSTER ...`, `ASKING`, `READONLY`, `READWRITE`, and the `# Cluster` section of `INFO`. Replies and
//! error texts are Redis 7's.

use super::nodes_file;
use super::{Cluster, Node, State};
use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;
use crate::types::is;
use slotkv_proto::slot::{key_slot, SLOT_COUNT};
use slotkv_proto::Out;

const DISABLED: &str = "ERR This instance has cluster support disabled";

fn cluster<'a>(ctx: &'a Ctx) -> Result<&'a Cluster, CmdError> {
    ctx.srv.cluster.as_ref().ok_or(CmdError::Static(DISABLED))
}

fn cluster_mut<'a>(ctx: &'a mut Ctx) -> Result<&'a mut Cluster, CmdError> {
    ctx.srv.cluster.as_mut().ok_or(CmdError::Static(DISABLED))
}

fn text(a: &[u8]) -> String {
    String::from_utf8_lossy(a).into_owned()
}

/// A slot number argument: `ERR Invalid or out of range slot` otherwise.
fn slot_arg(a: &[u8]) -> Result<usize, CmdError> {
    std::str::from_utf8(a)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| (0..SLOT_COUNT as i64).contains(n))
        .map(|n| n as usize)
        .ok_or(CmdError::Static("ERR Invalid or out of range slot"))
}

/// Persists the view after a change (Redis saves `nodes.conf` before replying to such commands).
/// After a command changed the cluster's configuration: counts are updated at once; the file is written
/// once at the end of the tick, before the replies leave (see `Cluster::command_dirty`).
fn changed(ctx: &mut Ctx) -> CmdResult {
    if let Some(c) = ctx.srv.cluster.as_mut() {
        c.command_dirty = true;
        c.recount();
    }
    Ok(())
}

/// As [`changed`], for a command that kept the counts up to date itself (`SETSLOT`: a reshard sends
/// thousands, and a recount walks all 16384 slots).
fn changed_counted(ctx: &mut Ctx) -> CmdResult {
    if let Some(c) = ctx.srv.cluster.as_mut() {
        c.command_dirty = true;
    }
    Ok(())
}

pub fn asking(ctx: &mut Ctx) -> CmdResult {
    cluster(ctx)?;
    ctx.me.asking = true;
    ctx.me.out.ok();
    Ok(())
}

pub fn readonly(ctx: &mut Ctx, on: bool) -> CmdResult {
    cluster(ctx)?;
    ctx.me.readonly = on;
    ctx.me.out.ok();
    Ok(())
}

pub fn myid(ctx: &mut Ctx) -> CmdResult {
    let id = cluster(ctx)?.myself.clone();
    ctx.me.out.bulk(id.as_bytes());
    Ok(())
}

pub fn myshardid(ctx: &mut Ctx) -> CmdResult {
    let shard = cluster(ctx)?.me().map(|n| n.shard_id.clone()).unwrap_or_default();
    ctx.me.out.bulk(shard.as_bytes());
    Ok(())
}

/// `CLUSTER KEYSLOT` works without cluster mode too.
pub fn keyslot(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let key = a.get(2).copied().unwrap_or_default();
    ctx.me.out.int(i64::from(key_slot(key)));
    Ok(())
}

pub fn countkeysinslot(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    let slot =
        slot_arg(a.get(2).copied().unwrap_or_default()).map_err(|_| CmdError::Static("ERR Invalid slot"))?;
    let n = ctx.srv.db.slot_len(slot);
    ctx.me.out.int(n as i64);
    Ok(())
}

pub fn getkeysinslot(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    let bad = || CmdError::Static("ERR Invalid slot or number of keys");
    let slot = slot_arg(a.get(2).copied().unwrap_or_default()).map_err(|_| bad())?;
    let count = std::str::from_utf8(a.get(3).copied().unwrap_or_default())
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(bad)? as usize;
    let now = ctx.now;
    let keys: Vec<Vec<u8>> =
        ctx.srv.db.slot_entries(slot, now).take(count).map(|e| e.key().to_vec()).collect();
    ctx.me.out.array(keys.len());
    for k in &keys {
        ctx.me.out.bulk(k);
    }
    Ok(())
}

/// The slots named by `ADDSLOTS`/`DELSLOTS` (each once) or by the `*RANGE` forms.
fn slot_list(a: &[&[u8]], ranges: bool, name: &str) -> Result<Vec<usize>, CmdError> {
    let args = a.get(2..).unwrap_or_default();
    let mut slots = Vec::new();
    if ranges {
        if args.len() % 2 != 0 {
            return Err(crate::error::wrong_arity(name));
        }
        for pair in args.chunks(2) {
            let start = slot_arg(pair.first().copied().unwrap_or_default())?;
            let end = slot_arg(pair.get(1).copied().unwrap_or_default())?;
            if start > end {
                return Err(CmdError::Msg(format!(
                    "ERR start slot number {start} is greater than end slot number {end}"
                )));
            }
            slots.extend(start..=end);
        }
    } else {
        for s in args {
            slots.push(slot_arg(s)?);
        }
    }
    let mut seen = vec![false; SLOT_COUNT];
    for &s in &slots {
        if let Some(flag) = seen.get_mut(s) {
            if *flag {
                return Err(CmdError::Msg(format!("ERR Slot {s} specified multiple times")));
            }
            *flag = true;
        }
    }
    Ok(slots)
}

pub fn addslots(ctx: &mut Ctx, a: &[&[u8]], ranges: bool) -> CmdResult {
    let name = if ranges { "cluster|addslotsrange" } else { "cluster|addslots" };
    let slots = slot_list(a, ranges, name)?;
    let c = cluster_mut(ctx)?;
    if let Some(&busy) = slots.iter().find(|&&s| c.owner(s).is_some()) {
        return Err(CmdError::Msg(format!("ERR Slot {busy} is already busy")));
    }
    let me = c.myself.clone();
    for s in slots {
        c.set_owner(s, Some(me.clone()));
        c.importing.remove(&(s as u16));
    }
    changed(ctx)?;
    ctx.me.out.ok();
    Ok(())
}

pub fn delslots(ctx: &mut Ctx, a: &[&[u8]], ranges: bool) -> CmdResult {
    let name = if ranges { "cluster|delslotsrange" } else { "cluster|delslots" };
    let slots = slot_list(a, ranges, name)?;
    let c = cluster_mut(ctx)?;
    if let Some(&free) = slots.iter().find(|&&s| c.owner(s).is_none()) {
        return Err(CmdError::Msg(format!("ERR Slot {free} is already unassigned")));
    }
    for &s in &slots {
        c.set_owner(s, None);
        c.migrating.remove(&(s as u16));
        c.importing.remove(&(s as u16));
    }
    changed(ctx)?;
    for s in slots {
        crate::commands::pubsub::unsubscribe_slot(ctx.srv, s as u16);
    }
    ctx.me.out.ok();
    Ok(())
}

pub fn flushslots(ctx: &mut Ctx) -> CmdResult {
    cluster(ctx)?;
    if !ctx.srv.db.is_empty() {
        return Err(CmdError::Static("ERR DB must be empty to perform CLUSTER FLUSHSLOTS."));
    }
    let c = cluster_mut(ctx)?;
    let me = c.myself.clone();
    c.reassign(Some(&me), None);
    c.migrating.clear();
    c.importing.clear();
    changed(ctx)?;
    ctx.me.out.ok();
    Ok(())
}

/// `CLUSTER SETSLOT <slot> IMPORTING <source id> | MIGRATING <target id> | NODE <id> | STABLE`.
pub fn setslot(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    let slot = slot_arg(a.get(2).copied().unwrap_or_default())?;
    let action = a.get(3).copied().unwrap_or_default();
    let node_arg = a.get(4).map(|n| text(n));
    let invalid =
        || CmdError::Static("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
    let keys_here = ctx.srv.db.slot_len(slot);
    let c = cluster_mut(ctx)?;
    let known = |c: &Cluster, id: &str| -> Result<(), CmdError> {
        if c.nodes.contains_key(id) {
            Ok(())
        } else {
            Err(CmdError::Msg(format!("ERR I don't know about node {id}")))
        }
    };
    let s16 = slot as u16;
    if is(action, "migrating") && a.len() == 5 {
        let to = node_arg.ok_or_else(invalid)?;
        if !c.is_mine(slot) {
            return Err(CmdError::Msg(format!("ERR I'm not the owner of hash slot {slot}")));
        }
        known(c, &to)?;
        if to == c.myself {
            return Err(CmdError::Static("ERR I'm already the owner of hash slot"));
        }
        c.migrating.insert(s16, to);
    } else if is(action, "importing") && a.len() == 5 {
        let from = node_arg.ok_or_else(invalid)?;
        if c.is_mine(slot) {
            return Err(CmdError::Msg(format!("ERR I'm already the owner of hash slot {slot}")));
        }
        known(c, &from)?;
        if from == c.myself {
            return Err(CmdError::Msg(format!("ERR I'm already the owner of hash slot {slot}")));
        }
        c.importing.insert(s16, from);
    } else if is(action, "stable") && a.len() == 4 {
        c.migrating.remove(&s16);
        c.importing.remove(&s16);
    } else if is(action, "node") && a.len() == 5 {
        let id = node_arg.ok_or_else(invalid)?;
        known(c, &id)?;
        if c.is_mine(slot) && id != c.myself && keys_here > 0 {
            return Err(CmdError::Msg(format!(
                "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
            )));
        }
        // The migration ends: the target that imported the slot takes it with a new epoch, so its
        // claim wins everywhere (Redis bumps the epoch without agreement here too).
        if c.migrating.contains_key(&s16) && id != c.myself {
            c.migrating.remove(&s16);
        }
        // Without agreement, as Redis: only when this node's epoch is not already the greatest, so a
        // reshard of many slots bumps once.
        let mine = c.me().map_or(0, |m| m.config_epoch);
        if id == c.myself && c.importing.remove(&s16).is_some() && (mine == 0 || mine != c.max_epoch()) {
            let epoch = c.max_epoch() + 1;
            c.current_epoch = epoch;
            if let Some(me) = c.me_mut() {
                me.config_epoch = epoch;
            }
        }
        if c.is_mine(slot) && id != c.myself {
            // Given away (empty, as checked above): its shard channels' subscribers are told.
            c.lost.push(s16);
        }
        c.set_owner(slot, Some(id));
    } else {
        return Err(invalid());
    }
    changed_counted(ctx)?;
    ctx.me.out.ok();
    Ok(())
}

pub fn set_config_epoch(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let arg = a.get(2).copied().unwrap_or_default();
    let epoch = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(CmdError::Static("ERR value is not an integer or out of range"))?;
    let c = cluster_mut(ctx)?;
    if epoch < 0 {
        return Err(CmdError::Msg(format!("ERR Invalid config epoch specified: {epoch}")));
    }
    if c.nodes.len() > 1 {
        return Err(CmdError::Static(
            "ERR The user can assign a config epoch only when the node does not know any other node.",
        ));
    }
    let me = c.me_mut().ok_or(CmdError::Static(DISABLED))?;
    if me.config_epoch != 0 {
        return Err(CmdError::Static("ERR Node config epoch is already non-zero"));
    }
    me.config_epoch = epoch as u64;
    if c.current_epoch < epoch as u64 {
        c.current_epoch = epoch as u64;
    }
    changed(ctx)?;
    ctx.me.out.ok();
    Ok(())
}

pub fn bumpepoch(ctx: &mut Ctx) -> CmdResult {
    let c = cluster_mut(ctx)?;
    let mine = c.me().map_or(0, |n| n.config_epoch);
    let bumped = mine == 0 || c.nodes.values().any(|n| n.id != c.myself && n.config_epoch >= mine);
    let reply = if bumped {
        let epoch = c.max_epoch() + 1;
        c.current_epoch = epoch;
        if let Some(me) = c.me_mut() {
            me.config_epoch = epoch;
        }
        format!("BUMPED {epoch}")
    } else {
        format!("STILL {mine}")
    };
    changed(ctx)?;
    ctx.me.out.simple(&reply);
    Ok(())
}

pub fn count_failure_reports(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let id = text(a.get(2).copied().unwrap_or_default());
    let timeout = super::bus::node_timeout(&ctx.srv.config);
    let now = ctx.now;
    let Some(n) = cluster(ctx)?.nodes.get(&id) else {
        return Err(CmdError::Msg(format!("ERR Unknown node {id}")));
    };
    let fresh = n.fail_reports.values().filter(|&&at| now - at <= timeout * 2).count();
    ctx.me.out.int(fresh as i64);
    Ok(())
}

pub fn forget(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let id = text(a.get(2).copied().unwrap_or_default());
    let c = cluster_mut(ctx)?;
    if id == c.myself {
        return Err(CmdError::Static("ERR I tried hard but I can't forget myself..."));
    }
    if c.nodes.remove(&id).is_none() {
        return Err(CmdError::Msg(format!("ERR Unknown node {id}")));
    }
    c.forgotten.insert(id.clone(), crate::net::now_ms() + super::bus::FORGET_MS);
    c.reassign(Some(&id), None);
    changed(ctx)?;
    ctx.me.out.ok();
    Ok(())
}

/// `CLUSTER RESET [HARD|SOFT]`: forget every other node and every slot; HARD also takes a new id and
/// zeroes the epochs.
pub fn reset(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let hard = match a.get(2) {
        None => false,
        Some(m) if is(m, "hard") => true,
        Some(m) if is(m, "soft") => false,
        Some(_) => return Err(CmdError::Syntax),
    };
    cluster(ctx)?;
    if !ctx.srv.db.is_empty() {
        return Err(CmdError::Static("ERR CLUSTER RESET can't be called with master nodes containing keys"));
    }
    let c = cluster_mut(ctx)?;
    let mut me = c.me().cloned().ok_or(CmdError::Static(DISABLED))?;
    if hard {
        me.id = super::random_id();
        me.config_epoch = 0;
        c.current_epoch = 0;
        c.last_vote_epoch = 0;
    }
    c.myself = me.id.clone();
    c.nodes.clear();
    c.nodes.insert(me.id.clone(), me);
    c.reassign(None, None);
    c.migrating.clear();
    c.importing.clear();
    changed(ctx)?;
    ctx.me.out.ok();
    Ok(())
}

pub fn saveconfig(ctx: &mut Ctx) -> CmdResult {
    cluster(ctx)?;
    changed(ctx)?;
    ctx.me.out.ok();
    Ok(())
}

/// `CLUSTER REPLICATE node-id`: this (empty, slotless) node becomes a replica of that master.
pub fn replicate(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let id = text(a.get(2).copied().unwrap_or_default());
    let empty = ctx.srv.db.is_empty();
    let c = cluster_mut(ctx)?;
    let Some(target) = c.nodes.get(&id) else {
        return Err(CmdError::Msg(format!("ERR Unknown node {id}")));
    };
    if id == c.myself {
        return Err(CmdError::Static("ERR Can't replicate myself"));
    }
    if target.has_flag("slave") {
        return Err(CmdError::Static("ERR I can only replicate a master, not a replica."));
    }
    let me_master = c.me().is_some_and(|m| m.has_flag("master"));
    if me_master && (!c.ranges_of(&c.myself).is_empty() || !empty) {
        return Err(CmdError::Static(
            "ERR To set a master the node must be empty and without assigned slots.",
        ));
    }
    let me = c.myself.clone();
    super::failover::set_replica_of(c, &me, &id);
    c.broadcast = true;
    changed(ctx)?;
    super::failover::reconcile(ctx.srv, ctx.now);
    ctx.me.out.ok();
    Ok(())
}

/// `CLUSTER REPLICAS node-id`: the replicas' `CLUSTER NODES` lines.
pub fn replicas(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let id = text(a.get(2).copied().unwrap_or_default());
    let c = cluster(ctx)?;
    match c.nodes.get(&id) {
        None => return Err(CmdError::Msg(format!("ERR Unknown node {id}"))),
        Some(n) if n.has_flag("slave") => {
            return Err(CmdError::Static("ERR The specified node is not a master"))
        }
        Some(_) => {}
    }
    let lines: Vec<String> = c
        .nodes
        .values()
        .filter(|n| n.master.as_deref() == Some(id.as_str()) && n.has_flag("slave"))
        .map(|n| nodes_file::node_line(c, n, false))
        .collect();
    ctx.me.out.array(lines.len());
    for l in lines {
        ctx.me.out.bulk(l.as_bytes());
    }
    Ok(())
}

/// `CLUSTER FAILOVER [FORCE|TAKEOVER]`.
pub fn failover(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (mut force, mut takeover) = (false, false);
    match a.get(2) {
        None => {}
        Some(o) if a.len() == 3 && is(o, "force") => force = true,
        Some(o) if a.len() == 3 && is(o, "takeover") => takeover = true,
        Some(_) => return Err(CmdError::Syntax),
    }
    cluster(ctx)?;
    super::failover::request(ctx.srv, force, takeover, ctx.now).map_err(CmdError::Static)?;
    changed(ctx)?;
    ctx.me.out.ok();
    Ok(())
}

pub fn nodes(ctx: &mut Ctx) -> CmdResult {
    let text = nodes_file::nodes_text(cluster(ctx)?);
    ctx.me.out.verbatim(text.as_bytes());
    Ok(())
}

/// The host a client should use for `n`: its ip, or for a node that does not know its own address yet
/// (`myself` before any peer told it), the address the client reached us on.
fn host(n: &Node, ctx: &Ctx) -> String {
    if n.ip.is_empty() {
        ctx.me.laddr.ip().to_string()
    } else {
        n.ip.clone()
    }
}

fn replicas_of<'a>(c: &'a Cluster, master: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
    c.nodes.values().filter(move |n| n.has_flag("slave") && n.master.as_deref() == Some(master))
}

fn masters_with_slots(c: &Cluster) -> Vec<(&Node, Vec<(usize, usize)>)> {
    c.nodes.values().map(|n| (n, c.ranges_of(&n.id))).filter(|(_, r)| !r.is_empty()).collect()
}

/// A node as `CLUSTER SLOTS` lists it: host, port, id.
type Member = (String, u16, String);

/// `CLUSTER SLOTS`: `[start, end, [ip, port, id, {}]...]` per range, in slot order: the master, then its
/// replicas.
pub fn slots(ctx: &mut Ctx) -> CmdResult {
    let c = cluster(ctx)?;
    // Per range: the master, then its replicas that are not failing (as Redis lists them).
    let mut rows: Vec<(usize, usize, Vec<Member>)> = Vec::new();
    for (n, ranges) in masters_with_slots(c) {
        let mut members = vec![(host(n, ctx), n.port, n.id.clone())];
        members.extend(
            replicas_of(c, &n.id).filter(|r| !r.failing()).map(|r| (host(r, ctx), r.port, r.id.clone())),
        );
        for (start, end) in ranges {
            rows.push((start, end, members.clone()));
        }
    }
    rows.sort();
    let out: &mut Out = &mut ctx.me.out;
    out.array(rows.len());
    for (start, end, members) in rows {
        out.array(2 + members.len());
        out.int(start as i64);
        out.int(end as i64);
        for (ip, port, id) in members {
            out.array(4);
            out.bulk(ip.as_bytes());
            out.int(i64::from(port));
            out.bulk(id.as_bytes());
            out.map(0);
        }
    }
    Ok(())
}

/// `CLUSTER SHARDS`: per shard, its slot ranges and its nodes with their details, as maps.
pub fn shards(ctx: &mut Ctx) -> CmdResult {
    let c = cluster(ctx)?;
    /// One shard: its slot ranges, its node, the host clients use for it.
    struct Shard {
        ranges: Vec<(usize, usize)>,
        nodes: Vec<(Node, String)>,
    }
    // One shard per master (a replica whose master is unknown is a shard of its own).
    let shards: Vec<Shard> = c
        .nodes
        .values()
        .filter(|n| !n.has_flag("slave") || n.master.as_ref().is_none_or(|m| !c.nodes.contains_key(m)))
        .map(|n| {
            let mut nodes = vec![(n.clone(), host(n, ctx))];
            nodes.extend(replicas_of(c, &n.id).map(|r| (r.clone(), host(r, ctx))));
            Shard { ranges: c.ranges_of(&n.id), nodes }
        })
        .collect();
    let offset = ctx.srv.repl.offset;
    let myself = c.myself.clone();
    let out: &mut Out = &mut ctx.me.out;
    out.array(shards.len());
    for Shard { ranges, nodes } in shards {
        out.map(2);
        out.bulk(b"slots");
        out.array(ranges.len() * 2);
        for (start, end) in &ranges {
            out.int(*start as i64);
            out.int(*end as i64);
        }
        out.bulk(b"nodes");
        out.array(nodes.len());
        for (n, ip) in nodes {
            out.map(7);
            out.bulk(b"id");
            out.bulk(n.id.as_bytes());
            out.bulk(b"port");
            out.int(i64::from(n.port));
            out.bulk(b"ip");
            out.bulk(ip.as_bytes());
            out.bulk(b"endpoint");
            out.bulk(ip.as_bytes());
            out.bulk(b"role");
            out.bulk(if n.has_flag("slave") { b"replica".as_slice() } else { b"master".as_slice() });
            out.bulk(b"replication-offset");
            out.int(if n.id == myself { offset } else { n.repl_offset } as i64);
            out.bulk(b"health");
            // As Redis: "failed" once the cluster agreed the node failed; a link still (re)connecting is
            // not a failure.
            let failed = n.flags.iter().any(|f| f == "fail");
            out.bulk(if failed { b"failed".as_slice() } else { b"online".as_slice() });
        }
    }
    Ok(())
}

/// `CLUSTER LINKS`: every bus link, as Redis 7 lists them.
pub fn links(ctx: &mut Ctx) -> CmdResult {
    let links = cluster(ctx)?.links.clone();
    let out = &mut ctx.me.out;
    out.array(links.len());
    for l in links {
        out.map(6);
        out.bulk(b"direction");
        out.bulk(if l.outbound { b"to".as_slice() } else { b"from".as_slice() });
        out.bulk(b"node");
        out.bulk(l.node.as_bytes());
        out.bulk(b"create-time");
        out.int(l.created_ms);
        out.bulk(b"events");
        out.bulk(if l.writing { b"rw".as_slice() } else { b"r".as_slice() });
        out.bulk(b"send-buffer-allocated");
        out.int(l.send_buffer_allocated as i64);
        out.bulk(b"send-buffer-used");
        out.int(l.send_buffer_used as i64);
    }
    Ok(())
}

/// `CLUSTER SLOT-STATS SLOTSRANGE start end | ORDERBY key-count [LIMIT n] [ASC|DESC]` (Valkey 8): each
/// slot with its `key-count`.
pub fn slot_stats(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    let mode = a.get(2).copied().unwrap_or_default();
    let mut picked: Vec<(usize, usize)> = Vec::new();
    if is(mode, "slotsrange") && a.len() == 5 {
        let start = slot_arg(a.get(3).copied().unwrap_or_default())?;
        let end = slot_arg(a.get(4).copied().unwrap_or_default())?;
        if start > end {
            return Err(CmdError::Msg(format!(
                "ERR Start slot number {start} is greater than end slot number {end}"
            )));
        }
        picked.extend((start..=end).map(|s| (s, ctx.srv.db.slot_len(s))));
    } else if is(mode, "orderby") && a.len() >= 4 {
        if !is(a.get(3).copied().unwrap_or_default(), "key-count") {
            return Err(CmdError::Static("ERR Unrecognized sort metric for ORDERBY."));
        }
        let (mut limit, mut desc) = (16384usize, true);
        let mut i = 4;
        while let Some(opt) = a.get(i) {
            if is(opt, "limit") {
                limit = std::str::from_utf8(a.get(i + 1).copied().unwrap_or_default())
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|n| (1..=SLOT_COUNT).contains(n))
                    .ok_or(CmdError::Static(
                        "ERR Limit has to lie in between 1 and 16384 (maximum number of slots).",
                    ))?;
                i += 2;
            } else if is(opt, "asc") {
                desc = false;
                i += 1;
            } else if is(opt, "desc") {
                desc = true;
                i += 1;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        let c = cluster(ctx)?;
        let mut all: Vec<(usize, usize)> =
            (0..SLOT_COUNT).filter(|&s| c.is_mine(s)).map(|s| (s, ctx.srv.db.slot_len(s))).collect();
        if desc {
            all.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        } else {
            all.sort_by(|x, y| x.1.cmp(&y.1).then(x.0.cmp(&y.0)));
        }
        all.truncate(limit);
        picked = all;
    } else {
        return Err(CmdError::Syntax);
    }
    let out = &mut ctx.me.out;
    out.array(picked.len());
    for (slot, keys) in picked {
        out.array(2);
        out.int(slot as i64);
        out.map(1);
        out.bulk(b"key-count");
        out.int(keys as i64);
    }
    Ok(())
}

/// `CLUSTER MEET ip port [cluster-bus-port]`: the bus greets the node; gossip then spreads it to all.
pub fn meet(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    let ip = text(a.get(2).copied().unwrap_or_default());
    let port_text = text(a.get(3).copied().unwrap_or_default());
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(CmdError::Msg(format!("ERR Invalid node address specified: {ip}:{port_text}")));
    }
    let port = port_text
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| CmdError::Msg(format!("ERR Invalid base port specified: {port_text}")))?;
    let cport = match a.get(4) {
        Some(c) => {
            let t = text(c);
            t.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or(CmdError::Msg(format!("ERR Invalid bus port specified: {t}")))?
        }
        None => port.wrapping_add(10000),
    };
    if a.len() > 5 {
        return Err(CmdError::Syntax);
    }
    let now = ctx.now;
    let c = cluster_mut(ctx)?;
    let known = c.nodes.values().any(|n| n.ip == ip && n.port == port && n.id != c.myself);
    if !known {
        c.start_handshake(ip, port, cport, now);
    }
    ctx.me.out.ok();
    Ok(())
}

/// `CLUSTER INFO`.
pub fn info(ctx: &mut Ctx) -> CmdResult {
    let c = cluster(ctx)?;
    let state = c.state(ctx.srv.config.cluster_require_full_coverage);
    let assigned = c.assigned();
    let (pfail, fail) = c.failing_slots();
    let slots_ok = assigned - pfail - fail;
    let my_epoch = c.me().map_or(0, |n| n.config_epoch);
    let text = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{slots_ok}\r\n\
         cluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\n\
         cluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\ncluster_stats_messages_sent:{}\r\n\
         cluster_stats_messages_received:{}\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
        if state == State::Ok { "ok" } else { "fail" },
        c.nodes.len(),
        c.size(),
        c.current_epoch,
        c.messages_sent,
        c.messages_received,
    );
    ctx.me.out.verbatim(text.as_bytes());
    Ok(())
}
