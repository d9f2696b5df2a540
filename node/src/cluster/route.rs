//! Where a keyed command runs in cluster mode, decided as Redis's `getNodeByQuery` does: every key of a
//! command (of every queued command, for `EXEC`) must hash to one slot; the slot's owner serves it, a
//! slot this node is migrating sends clients `-ASK` for keys it no longer has, and a slot it is importing
//! serves clients that said `ASKING`.

use super::{Cluster, Node, State};
use crate::client::ClientState;
use crate::db::Db;
use crate::error::CmdError;
use slotkv_proto::command::flags;
use slotkv_proto::slot::key_slot;
use slotkv_proto::{CommandId, CommandSpec};
use smallvec::SmallVec;

pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
pub const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";
pub const DOWN: &str = "CLUSTERDOWN The cluster is down";
pub const DOWN_READONLY: &str = "CLUSTERDOWN The cluster is down and only accepts read commands";
pub const UNBOUND: &str = "CLUSTERDOWN Hash slot not served";

/// What the routing check needs of the settings.
pub struct Rules {
    pub require_full_coverage: bool,
    pub allow_reads_when_down: bool,
}

/// The address a redirect names: the node's announced ip, or for one that does not know its own
/// address yet, the address the client reached us on (Redis would print an empty host).
fn endpoint(n: &Node, me: &ClientState) -> String {
    let ip = if n.ip.is_empty() { me.laddr.ip().to_string() } else { n.ip.clone() };
    format!("{ip}:{}", n.port)
}

fn redirect(kind: &str, slot: u16, c: &Cluster, id: &str, me: &ClientState) -> CmdError {
    let addr = c.nodes.get(id).map_or_else(|| ":0".to_string(), |n| endpoint(n, me));
    CmdError::Msg(format!("{kind} {slot} {addr}"))
}

/// Checks that this node may run `spec` with `argv` for the client; `Err` is the redirect or error to send.
pub fn check(
    c: &Cluster,
    db: &Db,
    rules: &Rules,
    me: &ClientState,
    spec: &CommandSpec,
    argv: &[&[u8]],
    now: i64,
) -> Result<(), CmdError> {
    let mut write = spec.has(flags::WRITE);
    let mut asking_cmd = spec.has(flags::ASKING);
    // The keys: borrowed from `argv`, or for EXEC from every queued command.
    let mut queued_keys: Vec<&[u8]> = Vec::new();
    let mut keys: SmallVec<[&[u8]; 4]> = SmallVec::new();
    if spec.id == CommandId::Exec {
        let Some(multi) = &me.multi else { return Ok(()) };
        for queued in &multi.queued {
            let refs: Vec<&[u8]> = queued.iter().map(Vec::as_slice).collect();
            let Some(name) = refs.first() else { continue };
            let Ok(qspec) = crate::dispatch::resolve(name, &refs) else { continue };
            write |= qspec.has(flags::WRITE);
            asking_cmd |= qspec.has(flags::ASKING);
            for i in qspec.keys_in(&refs).unwrap_or_default() {
                queued_keys.extend(queued.get(i).map(Vec::as_slice));
            }
        }
        keys.extend(queued_keys.iter().copied());
    } else if spec.has(flags::MOVABLE_KEYS) {
        keys.extend(spec.keys_in(argv).unwrap_or_default().into_iter().filter_map(|i| argv.get(i).copied()));
    } else {
        keys.extend(spec.key_indexes(argv.len()).filter_map(|i| argv.get(i).copied()));
    }
    let Some(&first) = keys.first() else { return Ok(()) };
    let slot = key_slot(first);
    // The bit first: the owner's id is looked at only for a slot this node does not serve.
    let mine = c.is_mine(slot as usize);
    if !mine && c.owner(slot as usize).is_none() {
        return Err(CmdError::Static(UNBOUND));
    }
    let migrating = mine && c.migrating.contains_key(&slot);
    let importing = !migrating && c.importing.contains_key(&slot);
    let mut multiple = false;
    let (mut missing, mut existing) = (0usize, 0usize);
    for &key in &keys {
        if key != first {
            if key_slot(key) != slot {
                return Err(CmdError::Static(CROSSSLOT));
            }
            multiple = true;
        }
        if migrating || importing {
            if db.peek(key, now).is_none() {
                missing += 1;
            } else {
                existing += 1;
            }
        }
    }
    if c.state(rules.require_full_coverage) != State::Ok {
        if !rules.allow_reads_when_down {
            return Err(CmdError::Static(DOWN));
        }
        if write {
            return Err(CmdError::Static(DOWN_READONLY));
        }
    }
    if (migrating || importing) && spec.id == CommandId::Migrate {
        return Ok(());
    }
    if migrating && missing > 0 {
        if existing > 0 {
            return Err(CmdError::Static(TRYAGAIN));
        }
        let to = c.migrating.get(&slot).map(String::as_str).unwrap_or_default();
        return Err(redirect("ASK", slot, c, to, me));
    }
    if importing && (me.asking || asking_cmd) {
        if multiple && missing > 0 {
            return Err(CmdError::Static(TRYAGAIN));
        }
        return Ok(());
    }
    if mine {
        return Ok(());
    }
    let Some(owner) = c.owner(slot as usize) else { return Err(CmdError::Static(UNBOUND)) };
    // A replica serves reads of its master's slots to clients that said READONLY.
    let my_master = c.me().filter(|m| m.has_flag("slave")).and_then(|m| m.master.as_ref());
    if my_master == Some(owner) && me.readonly && !write {
        return Ok(());
    }
    Err(redirect("MOVED", slot, c, owner, me))
}
