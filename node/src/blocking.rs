//! Blocking commands (`BLPOP`, `BLMOVE`, `BZPOPMIN`...): a client that finds nothing to pop waits on its
//! keys until one of them is written or its timeout passes.
//!
//! A blocking command's handler first tries to serve itself like its non-blocking twin; when every key is
//! empty it calls [`block`]. The client is then queued on each of its keys (first blocked, first served)
//! and stops reading commands. When a list or sorted set appears under a key someone waits on,
//! [`crate::db::Db::insert`] notes the key as ready; after the command that did it (after the whole of
//! `EXEC` for a transaction), [`serve_ready`] runs each waiting client's command again, in queue order,
//! until the key is empty again. A client served that way is unblocked and its pipelined input resumes.

use crate::client::{Blocked, ClientState};
use crate::dispatch;
use crate::error::CmdResult;
use crate::server::{Ctx, Server};
use slotkv_proto::Out;

/// What a blocking command replies when it cannot block (inside `MULTI`): `BLPOP`, `BZPOPMIN`, `BLMPOP` and
/// `BZMPOP` send a null array, `BLMOVE` and `BRPOPLPUSH` a null bulk string. A client whose timeout really
/// passes gets a null array whatever its command, as from Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    NullArray,
    NullBulk,
}

/// Blocks the client on `keys` until one of them is written or `deadline` (Unix ms, 0 for never) passes.
/// Inside `MULTI` a client cannot block: the timeout reply is written at once, as Redis does. The
/// dispatcher fills in the command to run again ([`Blocked::argv`]) once the handler returns.
pub fn block(ctx: &mut Ctx, keys: &[&[u8]], deadline: i64, on_timeout: OnTimeout) -> CmdResult {
    if ctx.me.retrying {
        ctx.me.still_blocked = true;
        return Ok(());
    }
    if ctx.me.in_exec || ctx.me.multi.is_some() {
        timeout_reply(ctx.me, on_timeout);
        return Ok(());
    }
    let token = ctx.me.token;
    let mut owned: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
    for key in keys {
        // A key named twice (`BLPOP a a 0`) waits once.
        if owned.iter().any(|k| k == key) {
            continue;
        }
        owned.push(key.to_vec());
        ctx.srv.waiters.entry(key.to_vec()).or_default().push_back(token);
        if !ctx.srv.db.wanted.contains(*key) {
            ctx.srv.db.wanted.insert(key.to_vec());
        }
    }
    if deadline != 0 {
        ctx.srv.deadlines.insert((deadline, token));
    }
    ctx.me.blocked = Some(Blocked { argv: Vec::new(), keys: owned, deadline, wait: None });
    Ok(())
}

fn timeout_reply(me: &mut ClientState, on_timeout: OnTimeout) {
    match on_timeout {
        OnTimeout::NullArray => me.out.null_array(),
        OnTimeout::NullBulk => me.out.null(),
    }
}

/// Takes the client off every queue it waits in.
pub fn unblock(srv: &mut Server, me: &mut ClientState) {
    let Some(b) = me.blocked.take() else { return };
    for key in &b.keys {
        if let Some(queue) = srv.waiters.get_mut(key) {
            queue.retain(|&t| t != me.token);
            if queue.is_empty() {
                srv.waiters.remove(key);
                srv.db.wanted.remove(key);
            }
        }
    }
    if b.deadline != 0 {
        srv.deadlines.remove(&(b.deadline, me.token));
    }
}

/// Serves the clients waiting on keys that became ready, until none is left (a served `BLMOVE` may make
/// its destination ready in turn).
pub fn serve_ready(srv: &mut Server, now: i64) {
    while !srv.db.ready.is_empty() {
        for key in std::mem::take(&mut srv.db.ready) {
            serve_key(srv, &key, now);
        }
    }
}

fn serve_key(srv: &mut Server, key: &[u8], now: i64) {
    let Some(queue) = srv.waiters.get(key) else { return };
    let tokens: Vec<usize> = queue.iter().copied().collect();
    for token in tokens {
        if srv.db.peek(key, now).is_none() {
            break;
        }
        srv.with_client(token, |srv, me| {
            let Some(argv) = me.blocked.as_ref().map(|b| b.argv.clone()) else { return };
            let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            me.retrying = true;
            me.still_blocked = false;
            dispatch::execute(&mut Ctx { srv: &mut *srv, me: &mut *me, now }, &refs);
            me.retrying = false;
            if !me.still_blocked {
                unblock(srv, me);
                srv.wake.push(token);
            }
        });
    }
}

/// Ends a blocked client's wait with `reply` (a timeout's null array, `CLIENT UNBLOCK`'s error) and has
/// the event loop write it. `false` if the client was not blocked.
pub fn release(srv: &mut Server, token: usize, reply: impl FnOnce(&mut Out)) -> bool {
    srv.with_client(token, |srv, me| {
        if me.blocked.is_none() {
            return false;
        }
        reply(&mut me.out);
        unblock(srv, me);
        srv.wake.push(token);
        true
    })
    .unwrap_or(false)
}

/// Answers the blocked clients whose timeout has passed: a null array, whatever the command.
pub fn expire_timeouts(srv: &mut Server, now: i64) {
    while let Some(&(deadline, token)) = srv.deadlines.first() {
        if deadline > now {
            break;
        }
        srv.deadlines.pop_first();
        // `WAIT` answers with how many replicas acknowledged; blocking pops with a null array.
        let wait = srv.with_client(token, |_, me| me.blocked.as_ref().and_then(|b| b.wait)).flatten();
        match wait {
            Some((offset, _)) => {
                let count = crate::repl::primary::acked(srv, offset) as i64;
                release(srv, token, |out| out.int(count));
            }
            None => {
                release(srv, token, Out::null_array);
            }
        }
    }
}

/// The earliest timeout of a blocked client, for the event loop's sleep.
pub fn next_deadline(srv: &Server) -> Option<i64> {
    srv.deadlines.first().map(|(d, _)| *d)
}
