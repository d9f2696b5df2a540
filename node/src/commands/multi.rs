//! Transactions: `MULTI` queues commands, `EXEC` runs them with nothing in between (the data thread runs
//! one command at a time, so no other client can interleave), `WATCH` makes `EXEC` fail if a watched key
//! changed since it was watched.
//!
//! Watching: after a write command that changed the keyspace, the clients watching any of its keys are
//! marked ([`touch_keys`]); at `EXEC`, a key that existed when watched and is gone now (expired, or
//! removed by `FLUSHALL`) also fails the transaction, as in Redis 7. A key already expired when watched
//! does not.

use crate::dispatch;
use crate::error::{CmdError, CmdResult};
use crate::server::{register, unregister, Ctx, Server};
use slotkv_proto::{CommandId, CommandSpec};

/// Commands that run at once inside `MULTI` instead of being queued.
pub fn runs_at_once(id: CommandId) -> bool {
    matches!(
        id,
        CommandId::Exec
            | CommandId::Discard
            | CommandId::Multi
            | CommandId::Watch
            | CommandId::Quit
            | CommandId::Reset
    )
}

/// A command refused while queueing makes the transaction fail at `EXEC`.
pub fn refuse(ctx: &mut Ctx) {
    if let Some(m) = ctx.me.multi.as_mut() {
        m.failed = true;
    }
}

pub fn queue(ctx: &mut Ctx, _spec: &CommandSpec, argv: &[&[u8]]) -> CmdResult {
    if let Some(m) = ctx.me.multi.as_mut() {
        m.queued.push(argv.iter().map(|a| a.to_vec()).collect());
    }
    ctx.me.out.simple("QUEUED");
    Ok(())
}

pub fn multi(ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    if ctx.me.multi.is_some() {
        return Err(CmdError::Static("ERR MULTI calls can not be nested"));
    }
    ctx.me.multi = Some(Default::default());
    ctx.me.out.ok();
    Ok(())
}

pub fn discard(ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    if ctx.me.multi.take().is_none() {
        return Err(CmdError::Static("ERR DISCARD without MULTI"));
    }
    unwatch_all(ctx);
    ctx.me.out.ok();
    Ok(())
}

pub fn exec(ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    let Some(m) = ctx.me.multi.take() else { return Err(CmdError::Static("ERR EXEC without MULTI")) };
    if m.failed {
        unwatch_all(ctx);
        return Err(CmdError::Static("EXECABORT Transaction discarded because of previous errors."));
    }
    let now = ctx.now;
    let srv = &*ctx.srv;
    let changed = ctx.me.watch_dirty
        || ctx.me.watched.iter().any(|(key, existed)| *existed && srv.db.peek(key, now).is_none());
    unwatch_all(ctx);
    if changed {
        ctx.me.out.null_array();
        return Ok(());
    }
    ctx.me.in_exec = true;
    ctx.srv.feed.begin_exec();
    ctx.me.out.array(m.queued.len());
    for argv in &m.queued {
        let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let Some(name) = refs.first() else { continue };
        let result = dispatch::resolve(name, &refs).and_then(|spec| {
            ctx.me.last_cmd = spec.name;
            dispatch::call(ctx, spec, &refs)
        });
        if let Err(e) = result {
            ctx.srv.stats.count_error(e.text());
            ctx.me.out.error(e.text());
        }
    }
    ctx.me.in_exec = false;
    ctx.srv.feed.end_exec();
    Ok(())
}

pub fn watch(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if ctx.me.multi.is_some() {
        return Err(CmdError::Static("ERR WATCH inside MULTI is not allowed"));
    }
    let now = ctx.now;
    for key in a.iter().skip(1) {
        if ctx.me.watched.iter().any(|(k, _)| k == key) {
            continue;
        }
        let existed = ctx.srv.db.peek(key, now).is_some();
        ctx.me.watched.push((key.to_vec(), existed));
        register(&mut ctx.srv.watchers, key, ctx.me.token);
    }
    ctx.me.out.ok();
    Ok(())
}

pub fn unwatch(ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    unwatch_all(ctx);
    ctx.me.out.ok();
    Ok(())
}

pub fn unwatch_all(ctx: &mut Ctx) {
    forget_watches(ctx.srv, ctx.me);
}

/// Drops a client's watched keys (after `EXEC`, `DISCARD`, `UNWATCH`, `RESET`, or when it disconnects).
pub fn forget_watches(srv: &mut Server, me: &mut crate::client::ClientState) {
    for (key, _) in std::mem::take(&mut me.watched) {
        unregister(&mut srv.watchers, &key, me.token);
    }
    me.watch_dirty = false;
}

/// Marks the clients watching any key of the command that just changed the keyspace.
pub fn touch_keys(ctx: &mut Ctx, spec: &CommandSpec, argv: &[&[u8]]) {
    let Some(indexes) = spec.keys_in(argv) else { return };
    let mut tokens = Vec::new();
    for key in indexes.into_iter().filter_map(|i| argv.get(i)) {
        if let Some(watching) = ctx.srv.watchers.get(*key) {
            tokens.extend_from_slice(watching);
        }
    }
    for token in tokens {
        if let Some(c) = ctx.client_mut(token) {
            c.watch_dirty = true;
        }
    }
}
