//! `slotkv check` (what is wrong with a cluster) and `slotkv fix` (make it whole again): open slots
//! closed or finished, unassigned slots given an owner, nodes that disagree told the owner.

use crate::error::{Failure, Res};
use crate::mover::{Move, MoveOptions, Mover};
use crate::node::{all_ok, Node};
use crate::output::Out;
use crate::view::{ranges_text, short, to_ranges, Cluster, NodeLine, OpenSlot};
use serde_json::json;
use slotkv_client::{cmd, Cmd, FromReply};
use slotkv_proto::slot::SLOT_COUNT;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// One thing wrong with the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: &'static str,
    pub detail: String,
    /// Worth knowing, but every slot is still served (a replica down, a master without replica):
    /// `check` still exits 0.
    pub warning: bool,
}

fn finding(kind: &'static str, detail: String) -> Finding {
    Finding { kind, detail, warning: false }
}

pub fn warning(kind: &'static str, detail: String) -> Finding {
    Finding { kind, detail, warning: true }
}

/// The findings that are problems (not warnings).
pub fn problems(found: &[Finding]) -> Vec<&Finding> {
    found.iter().filter(|f| !f.warning).collect()
}

fn to_json(found: &[&Finding]) -> Vec<serde_json::Value> {
    found.iter().map(|f| json!({"kind": f.kind, "detail": f.detail})).collect()
}

/// Everything `check` looks at, from the gathered views.
pub fn findings(c: &Cluster) -> Vec<Finding> {
    let name = |id: &str| c.known.get(id).map_or_else(|| short(id).to_string(), |l| l.addr.clone());
    let mut out = Vec::new();
    // A node down that serves no slot (a replica, or a master whose replica took over) is a warning.
    let serves = |id: &str| c.known.get(id).is_some_and(|l| !l.ranges.is_empty());
    for (id, why) in &c.unreachable {
        let slots = c.known.get(id).map_or(0, NodeLine::slot_count);
        out.push(if slots > 0 {
            finding("unreachable", format!("{} ({}) serves {slots} slots and does not answer: {why}", name(id), short(id)))
        } else {
            warning(
                "unreachable",
                format!(
                    "{} ({}) does not answer: {why}; it serves no slots (restarted, it rejoins; `slotkv del-node` forgets it)",
                    name(id),
                    short(id)
                ),
            )
        });
    }
    // Failing flags, one finding per failing node with the nodes that flag it.
    let mut flagged: BTreeMap<&str, (Vec<&str>, String, bool)> = BTreeMap::new();
    for v in c.views.values() {
        for l in v.lines.iter().filter(|l| l.has_flag("fail") || l.has_flag("fail?")) {
            let e = flagged.entry(&l.id).or_insert_with(|| (Vec::new(), l.flags.join(","), false));
            e.0.push(&v.conn.addr);
            e.2 |= !l.ranges.is_empty() || serves(&l.id);
        }
    }
    for (id, (by, flags, serving)) in flagged {
        let detail = format!("{} ({}) is flagged {flags} by {}", name(id), short(id), by.join(", "));
        out.push(if serving { finding("failing", detail) } else { warning("failing", detail) });
    }
    for v in c.views.values() {
        let state = v.info.get("cluster_state").map_or("?", String::as_str);
        if state != "ok" {
            out.push(finding("state", format!("{} says cluster_state:{state}", v.conn.addr)));
        }
    }
    for (s, open) in c.open_slots() {
        out.push(finding("open_slot", format!("slot {s}: {}", describe_open(c, &open))));
    }
    let claims = c.claims();
    // Slots of a node that does not answer are reported with it, not as unassigned.
    let mut down = vec![false; SLOT_COUNT];
    for (id, _) in &c.unreachable {
        for s in c.known.get(id).map(NodeLine::slots).unwrap_or_default() {
            if let Some(d) = down.get_mut(usize::from(s)) {
                *d = true;
            }
        }
    }
    let unassigned: Vec<u16> = (0..SLOT_COUNT as u16)
        .filter(|&s| claims.get(usize::from(s)).is_some_and(Vec::is_empty))
        .filter(|&s| !down.get(usize::from(s)).copied().unwrap_or(false))
        .collect();
    if !unassigned.is_empty() {
        out.push(finding(
            "unassigned",
            format!("{} slots are served by no node: {}", unassigned.len(), ranges_text(&unassigned)),
        ));
    }
    let mut conflicts: BTreeMap<Vec<String>, Vec<u16>> = BTreeMap::new();
    for (s, cl) in claims.iter().enumerate().filter(|(_, cl)| cl.len() > 1) {
        conflicts.entry(cl.clone()).or_default().push(s as u16);
    }
    for (who, slots) in conflicts {
        let who: Vec<String> = who.iter().map(|id| name(id)).collect();
        out.push(finding(
            "conflict",
            format!("slots {} are claimed by {}", ranges_text(&slots), who.join(" and ")),
        ));
    }
    // Views: the most common slot map is the reference; nodes with another one disagree.
    let mut sigs: HashMap<String, Vec<&str>> = HashMap::new();
    for v in c.views.values() {
        sigs.entry(v.signature()).or_default().push(&v.conn.addr);
    }
    if sigs.len() > 1 {
        let mut groups: Vec<Vec<&str>> = sigs.into_values().collect();
        groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
        let odd: Vec<&str> = groups.iter().skip(1).flatten().copied().collect();
        out.push(finding(
            "views_disagree",
            format!("nodes disagree about the slots: {} differ from the others", odd.join(", ")),
        ));
    }
    let members: Vec<usize> = c.views.values().map(|v| v.members()).collect();
    if members.iter().any(|&n| Some(&n) != members.first()) {
        let detail: Vec<String> =
            c.views.values().map(|v| format!("{} knows {}", v.conn.addr, v.members())).collect();
        out.push(finding(
            "membership",
            format!("nodes know different numbers of nodes: {}", detail.join(", ")),
        ));
    }
    out.extend(crate::replicas::findings(c));
    out
}

fn describe_open(c: &Cluster, open: &OpenSlot) -> String {
    let name = |id: &str| c.known.get(id).map_or_else(|| short(id).to_string(), |l| l.addr.clone());
    let mut parts = Vec::new();
    for (n, to) in &open.migrating {
        parts.push(format!("migrating on {} to {}", name(n), name(to)));
    }
    for (n, from) in &open.importing {
        parts.push(format!("importing on {} from {}", name(n), name(from)));
    }
    parts.join("; ")
}

/// Keys per reachable node (`DBSIZE`), by id.
async fn key_counts(c: &Cluster) -> HashMap<String, i64> {
    let mut out = HashMap::new();
    for v in c.views.values() {
        if let Ok(n) = v.conn.q::<i64>(&cmd("DBSIZE")).await {
            out.insert(v.me.id.clone(), n);
        }
    }
    out
}

/// The per-node table `check` and `info` print (each master, then its replicas with their link and
/// lag), and its JSON.
pub async fn node_table(out: &Out, c: &Cluster) -> serde_json::Value {
    let keys = key_counts(c).await;
    let mut rows = Vec::new();
    for (m, replicas) in crate::replicas::shards(c) {
        match c.views.get(&m) {
            Some(v) => {
                let k = keys.get(&m).copied().unwrap_or(0);
                out.line(format!(
                    "{:<21} {}  {:<7} {:>5} slots {:>10} keys  {}",
                    v.conn.addr,
                    short(&m),
                    "master",
                    v.me.slot_count(),
                    k,
                    ranges_text(&v.me.slots())
                ));
                rows.push(json!({
                    "addr": v.conn.addr, "id": m, "role": "master", "slots": v.me.slot_count(),
                    "ranges": ranges_text(&v.me.slots()), "keys": k, "epoch": v.me.epoch,
                    "replicas": replicas.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
                }));
            }
            None => {
                let line = c.known.get(&m);
                let addr = line.map_or("?", |l| l.addr.as_str());
                let slots = line.map_or(0, |l| l.slot_count());
                out.line(format!("{addr:<21} {}  master  {slots:>5} slots  (down)", short(&m)));
                rows.push(json!({"addr": addr, "id": m, "role": "master", "slots": slots, "down": true,
                    "replicas": replicas.iter().map(|r| r.id.clone()).collect::<Vec<_>>()}));
            }
        }
        for r in replicas {
            let k = keys.get(&r.id).copied();
            let lag = r.lag.map_or_else(|| "-".to_string(), |l| format!("{l} bytes"));
            out.line(format!(
                "  {:<19} {}  replica link {:<4} lag {lag:<12} {} keys",
                r.addr,
                short(&r.id),
                r.link,
                k.map_or_else(|| "-".to_string(), |k| k.to_string())
            ));
            rows.push(json!({
                "addr": r.addr, "id": r.id, "role": "replica", "master": r.master, "link": r.link,
                "lag": r.lag, "offset": r.offset, "keys": k,
            }));
        }
    }
    serde_json::Value::Array(rows)
}

pub async fn check(out: &Out, entry: &str) -> Res<()> {
    let c = Cluster::load(entry).await?;
    let nodes = node_table(out, &c).await;
    let found = findings(&c);
    report(out, &found);
    let replicas = crate::replicas::replicas(&c);
    let up = replicas.iter().filter(|r| r.link == "up").count();
    if !replicas.is_empty() && up == replicas.len() {
        let lag = replicas.iter().filter_map(|r| r.lag).max().unwrap_or(0);
        out.line(format!("[OK] {up} replicas, every link up (largest lag {lag} bytes)."));
    }
    let bad = problems(&found);
    let warnings: Vec<&Finding> = found.iter().filter(|f| f.warning).collect();
    out.doc(&json!({
        "ok": bad.is_empty(),
        "nodes": nodes,
        "replication": crate::replicas::shards(&c).iter().map(|(m, reps)| json!({
            "master": m,
            "addr": c.known.get(m).map(|l| l.addr.clone()),
            "replicas": reps.iter().map(|r| json!({"addr": r.addr, "id": r.id, "link": r.link,
                "lag": r.lag, "offset": r.offset})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "replicas_up": up,
        "problems": to_json(&bad),
        "warnings": to_json(&warnings),
    }));
    if bad.is_empty() {
        Ok(())
    } else {
        problem!("{} problem(s) found", bad.len())
    }
}

fn report(out: &Out, found: &[Finding]) {
    let has = |k: &str| found.iter().any(|f| f.kind == k && !f.warning);
    if !has("views_disagree") && !has("conflict") {
        out.line("[OK] All nodes agree about slots configuration.");
    }
    if !has("open_slot") {
        out.line("[OK] No open slots.");
    }
    if !has("unassigned") && !has("unreachable") {
        out.line(format!("[OK] All {SLOT_COUNT} slots covered."));
    }
    for f in found {
        out.line(format!("[{}] {}: {}", if f.warning { "WARN" } else { "ERR" }, f.kind, f.detail));
    }
}

/// A step of `fix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Finish an interrupted migration of a slot from its owner to the node it was migrating to.
    Finish { slot: u16, from: String, to: String },
    /// Make `owner` the only home of the slot: move keys other nodes hold to it, clear the open marks,
    /// tell every node. `assign`: the owner takes the slot first (nobody served it).
    Close { slot: u16, owner: String, assign: bool },
    /// Give unassigned slots (without keys anywhere) to a node.
    Assign { owner: String, slots: Vec<u16> },
    /// Tell nodes whose view differs who owns these slots.
    Tell { node: String, owner: String, slots: Vec<u16> },
}

/// Keys each reachable master holds in each of `slots`.
async fn keys_in(c: &Cluster, slots: &[u16]) -> Res<HashMap<(String, u16), u64>> {
    let mut out = HashMap::new();
    for v in c.masters() {
        let cmds: Vec<Cmd> = slots.iter().map(|&s| cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(&s)).collect();
        for (s, f) in slots.iter().zip(v.conn.raw(&cmds).await?) {
            let n = u64::from_reply(f).unwrap_or(0);
            if n > 0 {
                out.insert((v.me.id.clone(), *s), n);
            }
        }
    }
    Ok(out)
}

/// What `fix` would do to this cluster.
pub async fn plan(c: &Cluster) -> Res<Vec<Action>> {
    let mut actions = Vec::new();
    let owners = c.owners();
    let masters: Vec<String> = c.masters().iter().map(|v| v.me.id.clone()).collect();
    let mut load: HashMap<String, usize> =
        c.masters().iter().map(|v| (v.me.id.clone(), v.me.slot_count())).collect();
    let open = c.open_slots();
    let open_list: Vec<u16> = open.keys().copied().collect();
    let keys = keys_in(c, &open_list).await?;
    for (&s, o) in &open {
        let owner = owners.get(usize::from(s)).cloned().flatten();
        let finish = owner.as_ref().and_then(|ow| {
            o.migrating
                .iter()
                .find(|(n, to)| n == ow && to != ow && masters.contains(to))
                .map(|(_, to)| to.clone())
        });
        match (owner, finish) {
            (Some(from), Some(to)) => actions.push(Action::Finish { slot: s, from, to }),
            (Some(owner), None) => actions.push(Action::Close { slot: s, owner, assign: false }),
            (None, _) => {
                let most = masters.iter().max_by_key(|m| keys.get(&((*m).clone(), s)).copied().unwrap_or(0));
                let pick = o.migrating.first().map(|(n, _)| n.clone()).filter(|n| masters.contains(n));
                let owner =
                    if keys.values().any(|&n| n > 0) { most.cloned() } else { pick.or(most.cloned()) };
                let Some(owner) = owner else { return problem!("no reachable master to take slot {s}") };
                actions.push(Action::Close { slot: s, owner, assign: true });
            }
        }
    }
    // Unassigned and not open.
    let unassigned: Vec<u16> = (0..SLOT_COUNT as u16)
        .filter(|s| owners.get(usize::from(*s)).is_some_and(Option::is_none) && !open.contains_key(s))
        .collect();
    if !unassigned.is_empty() {
        if masters.is_empty() {
            return problem!("no reachable master to take the unassigned slots");
        }
        let keys = keys_in(c, &unassigned).await?;
        // The owner most views still name, when it answers: it keeps the map most nodes have.
        let stale = |s: u16| -> Option<String> {
            let mut votes: HashMap<String, usize> = HashMap::new();
            for v in c.views.values() {
                if let Some(Some(o)) = v.owners().get(usize::from(s)) {
                    *votes.entry(o.clone()).or_default() += 1;
                }
            }
            votes.into_iter().max_by_key(|(_, n)| *n).map(|(o, _)| o).filter(|o| masters.contains(o))
        };
        let mut assign: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for s in unassigned {
            let holders: Vec<(&String, u64)> =
                masters.iter().filter_map(|m| keys.get(&(m.clone(), s)).map(|&n| (m, n))).collect();
            if let Some((m, _)) = holders.iter().max_by_key(|(_, n)| *n) {
                actions.push(Action::Close { slot: s, owner: (*m).clone(), assign: true });
                continue;
            }
            let owner = match stale(s) {
                Some(o) => o,
                None => load.iter().min_by_key(|(_, n)| **n).map(|(m, _)| m.clone()).unwrap_or_default(),
            };
            *load.entry(owner.clone()).or_default() += 1;
            assign.entry(owner).or_default().push(s);
        }
        for (owner, slots) in assign {
            actions.push(Action::Assign { owner, slots });
        }
    }
    // Views that name another owner than the claimer (not already handled above).
    let handled: Vec<u16> = actions
        .iter()
        .flat_map(|a| match a {
            Action::Finish { slot, .. } | Action::Close { slot, .. } => vec![*slot],
            Action::Assign { slots, .. } => slots.clone(),
            Action::Tell { .. } => Vec::new(),
        })
        .collect();
    for v in c.masters() {
        let theirs = v.owners();
        let mut tell: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for (s, owner) in owners.iter().enumerate() {
            let (Some(owner), Some(theirs)) = (owner, theirs.get(s)) else { continue };
            if theirs.as_ref() != Some(owner) && !handled.contains(&(s as u16)) {
                tell.entry(owner.clone()).or_default().push(s as u16);
            }
        }
        for (owner, slots) in tell {
            actions.push(Action::Tell { node: v.me.id.clone(), owner, slots });
        }
    }
    Ok(actions)
}

pub fn describe(c: &Cluster, a: &Action) -> String {
    let name = |id: &str| c.known.get(id).map_or_else(|| short(id).to_string(), |l| l.addr.clone());
    match a {
        Action::Finish { slot, from, to } => {
            format!("finish moving slot {slot} from {} to {}", name(from), name(to))
        }
        Action::Close { slot, owner, assign: false } => {
            format!(
                "close slot {slot}: keep it on {}, move stray keys there, clear the open marks",
                name(owner)
            )
        }
        Action::Close { slot, owner, assign: true } => {
            format!("slot {slot} has no owner: give it to {} (it holds most of its keys)", name(owner))
        }
        Action::Assign { owner, slots } => {
            format!("give {} unassigned slots to {}: {}", slots.len(), name(owner), ranges_text(slots))
        }
        Action::Tell { node, owner, slots } => {
            format!("tell {} that {} serves {}", name(node), name(owner), ranges_text(slots))
        }
    }
}

/// Carries out one action.
pub async fn apply(c: &Cluster, mover: &mut Mover<'_>, a: &Action) -> Res<()> {
    match a {
        Action::Finish { slot, from, to } => {
            // Any other node importing the slot stops first.
            for v in
                c.views.values().filter(|v| v.me.id != *to && v.me.importing.iter().any(|(s, _)| s == slot))
            {
                v.conn.q::<()>(&cmd("CLUSTER").arg("SETSLOT").arg(slot).arg("STABLE")).await?;
            }
            mover.run(&Move { from: from.clone(), to: to.clone(), slots: vec![*slot] }).await
        }
        Action::Close { slot, owner, assign } => close(c, mover, *slot, owner, *assign).await,
        Action::Assign { owner, slots } => {
            let o = c.view(owner)?;
            let cmds: Vec<Cmd> = to_ranges(slots)
                .into_iter()
                .map(|(a, b)| cmd("CLUSTER").arg("ADDSLOTSRANGE").arg(&a).arg(&b))
                .collect();
            all_ok(&o.conn.addr, "ADDSLOTSRANGE", &o.conn.raw(&cmds).await?)?;
            tell_all(c, owner, slots, mover).await;
            Ok(())
        }
        Action::Tell { node, owner, slots } => {
            let n = c.view(node)?;
            let cmds: Vec<Cmd> =
                slots.iter().map(|s| cmd("CLUSTER").arg("SETSLOT").arg(s).arg("NODE").arg(owner)).collect();
            all_ok(&n.conn.addr, "SETSLOT NODE", &n.conn.raw(&cmds).await?)
        }
    }
}

/// `SETSLOT s NODE owner` on every other reachable node (failures are warnings: the bus spreads it too).
async fn tell_all(c: &Cluster, owner: &str, slots: &[u16], mover: &mut Mover<'_>) {
    let cmds: Vec<Cmd> =
        slots.iter().map(|s| cmd("CLUSTER").arg("SETSLOT").arg(s).arg("NODE").arg(owner)).collect();
    for v in c.views.values().filter(|v| v.me.id != owner) {
        let r = v.conn.raw(&cmds).await.and_then(|r| all_ok(&v.conn.addr, "SETSLOT NODE", &r));
        if let Err(e) = r {
            mover.warnings.push(e.to_string());
        }
    }
}

async fn close(c: &Cluster, mover: &mut Mover<'_>, s: u16, owner: &str, assign: bool) -> Res<()> {
    let o = c.view(owner)?;
    let stable = cmd("CLUSTER").arg("SETSLOT").arg(&s).arg("STABLE");
    // Nodes other than the owner stop importing/migrating first, so no client is sent there any more.
    for v in c.views.values().filter(|v| v.me.id != owner) {
        if v.me.migrating.iter().chain(&v.me.importing).any(|(x, _)| *x == s) {
            v.conn.q::<()>(&stable).await?;
        }
    }
    o.conn.q::<()>(&stable).await?;
    if assign {
        o.conn.q::<()>(&cmd("CLUSTER").arg("ADDSLOTS").arg(&s)).await?;
    }
    let owner_addr = o.conn.addr.clone();
    for v in c.masters().into_iter().filter(|v| v.me.id != owner) {
        let n: u64 = v.conn.q(&cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(&s)).await?;
        if n > 0 {
            let conn: Node = v.conn.clone();
            mover.move_keys(&conn, &v.me.id, &owner_addr, vec![(s, n)]).await?;
        }
    }
    tell_all(c, owner, &[s], mover).await;
    Ok(())
}

/// How long `fix` waits for the nodes to agree after its changes.
const SETTLE: Duration = Duration::from_secs(30);

pub async fn fix(out: &Out, entry: &str, dry_run: bool, opts: MoveOptions) -> Res<()> {
    let c = Cluster::load(entry).await?;
    let actions = plan(&c).await?;
    let all_before = findings(&c);
    let before = problems(&all_before);
    if actions.is_empty() && before.is_empty() {
        out.line("[OK] Nothing to fix.");
        out.doc(&json!({"ok": true, "actions": []}));
        return Ok(());
    }
    for a in &actions {
        out.line(format!("{} {}", if dry_run { "would" } else { ">>>" }, describe(&c, a)));
    }
    let listed: Vec<String> = actions.iter().map(|a| describe(&c, a)).collect();
    if dry_run {
        for f in &before {
            out.line(format!("[ERR] {}: {}", f.kind, f.detail));
        }
        out.doc(&json!({"ok": before.is_empty(), "dry_run": true, "actions": listed,
            "problems": to_json(&before)}));
        return if before.is_empty() { Ok(()) } else { problem!("{} problem(s) found", before.len()) };
    }
    let mut mover = Mover::new(&c, opts, out.key_bar(0));
    for a in &actions {
        apply(&c, &mut mover, a).await?;
    }
    mover.bar.finish_and_clear();
    for w in &mover.warnings {
        out.warn(w);
    }
    // The bus spreads the changes; wait until every node agrees (or a problem stays).
    let until = Instant::now() + SETTLE;
    let spinner = out.spinner("waiting for the nodes to agree");
    let left = loop {
        let now = c.reload().await?;
        let left: Vec<Finding> = findings(&now).into_iter().filter(|f| !f.warning).collect();
        if left.is_empty() || Instant::now() >= until {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    spinner.finish_and_clear();
    report(out, &left);
    out.doc(&json!({"ok": left.is_empty(), "actions": listed, "keys_moved": mover.keys_moved,
        "problems": to_json(&left.iter().collect::<Vec<_>>())}));
    if left.is_empty() {
        Ok(())
    } else {
        Err(Failure::Problem(format!("{} problem(s) remain after the fix", left.len())))
    }
}
