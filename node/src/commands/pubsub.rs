//! Pub/sub: channels, patterns (Redis glob) and shard channels (`SSUBSCRIBE`/`SPUBLISH`, which cluster mode
//! keeps within the channel's slot). A message is written straight into each subscriber's output; a
//! subscriber that does not read is disconnected once its output passes `client-output-buffer-limit
//! pubsub`, so the node's memory never grows without bound behind a slow reader.
//!
//! Replies follow Redis: a confirmation per channel (`subscribe`, name, count), as a RESP3 push or a RESP2
//! array; in RESP2 a subscribed client may only (un)subscribe, `PING`, `QUIT` and `RESET`.

use crate::client::ClientState;
use crate::config::OutputLimit;
use crate::error::CmdResult;
use crate::glob::glob_match;
use crate::server::{register, unregister, Ctx, Registry, Server};
use slotkv_proto::{CommandId, Out};
use std::collections::BTreeSet;

/// Commands a RESP2 client may send while subscribed.
pub fn allowed_when_subscribed(id: CommandId) -> bool {
    use CommandId as C;
    matches!(
        id,
        C::Subscribe
            | C::Unsubscribe
            | C::PSubscribe
            | C::PUnsubscribe
            | C::SSubscribe
            | C::SUnsubscribe
            | C::Ping
            | C::Quit
            | C::Reset
    )
}

#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Kind::Channel => ("subscribe", "unsubscribe"),
            Kind::Pattern => ("psubscribe", "punsubscribe"),
            Kind::Shard => ("ssubscribe", "sunsubscribe"),
        }
    }
}

fn sets(me: &mut ClientState, kind: Kind) -> &mut BTreeSet<Vec<u8>> {
    match kind {
        Kind::Channel => &mut me.subs.channels,
        Kind::Pattern => &mut me.subs.patterns,
        Kind::Shard => &mut me.subs.shard_channels,
    }
}

fn registry(srv: &mut Server, kind: Kind) -> &mut Registry {
    match kind {
        Kind::Channel => &mut srv.channels,
        Kind::Pattern => &mut srv.patterns,
        Kind::Shard => &mut srv.shard_channels,
    }
}

/// The count a confirmation carries: channels plus patterns, or shard channels alone.
fn count(me: &ClientState, kind: Kind) -> usize {
    match kind {
        Kind::Shard => me.subs.shard_channels.len(),
        _ => me.subs.channels.len() + me.subs.patterns.len(),
    }
}

fn confirm(out: &mut Out, what: &str, name: Option<&[u8]>, count: usize) {
    if out.resp3 {
        out.push(3);
    } else {
        out.array(3);
    }
    out.bulk(what.as_bytes());
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

fn subscribe_to(ctx: &mut Ctx, a: &[&[u8]], kind: Kind) -> CmdResult {
    for name in a.iter().skip(1) {
        if sets(ctx.me, kind).insert(name.to_vec()) {
            register(registry(ctx.srv, kind), name, ctx.me.token);
        }
        let n = count(ctx.me, kind);
        confirm(&mut ctx.me.out, kind.names().0, Some(name), n);
    }
    Ok(())
}

fn unsubscribe_from(ctx: &mut Ctx, a: &[&[u8]], kind: Kind) -> CmdResult {
    let names: Vec<Vec<u8>> = match a.get(1..) {
        Some(given) if !given.is_empty() => given.iter().map(|n| n.to_vec()).collect(),
        _ => sets(ctx.me, kind).iter().cloned().collect(),
    };
    if names.is_empty() {
        let n = count(ctx.me, kind);
        confirm(&mut ctx.me.out, kind.names().1, None, n);
    }
    for name in names {
        if sets(ctx.me, kind).remove(&name) {
            unregister(registry(ctx.srv, kind), &name, ctx.me.token);
        }
        let n = count(ctx.me, kind);
        confirm(&mut ctx.me.out, kind.names().1, Some(&name), n);
    }
    Ok(())
}

pub fn subscribe(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    subscribe_to(ctx, a, Kind::Channel)
}

pub fn unsubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    unsubscribe_from(ctx, a, Kind::Channel)
}

pub fn psubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    subscribe_to(ctx, a, Kind::Pattern)
}

pub fn punsubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    unsubscribe_from(ctx, a, Kind::Pattern)
}

pub fn ssubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    subscribe_to(ctx, a, Kind::Shard)
}

pub fn sunsubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    unsubscribe_from(ctx, a, Kind::Shard)
}

/// Unsubscribes every client from the shard channels of a slot this node no longer serves, telling each
/// with a `sunsubscribe` message as Redis does, so that cluster clients subscribe again at the new owner.
pub fn unsubscribe_slot(srv: &mut Server, slot: u16) {
    let names: Vec<Vec<u8>> =
        srv.shard_channels.keys().filter(|n| slotkv_proto::slot::key_slot(n) == slot).cloned().collect();
    for name in names {
        for token in srv.shard_channels.remove(&name).unwrap_or_default() {
            let Some(c) = srv.clients.get_mut(token).and_then(|c| c.as_deref_mut()).map(|c| &mut c.state)
            else {
                continue;
            };
            c.subs.shard_channels.remove(&name);
            let n = count(c, Kind::Shard);
            confirm(&mut c.out, "sunsubscribe", Some(&name), n);
            srv.wake.push(token);
        }
    }
}

/// Drops every subscription of a client (`RESET`, disconnect).
pub fn forget_subscriptions(srv: &mut Server, me: &mut ClientState) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(sets(me, kind)) {
            unregister(registry(srv, kind), &name, me.token);
        }
    }
}

/// Writes one message to a subscriber: `message`/`smessage` (channel, payload) or `pmessage` (pattern,
/// channel, payload). A subscriber over its output limit is scheduled to be closed.
fn deliver(ctx: &mut Ctx, token: usize, kind: &str, pattern: Option<&[u8]>, channel: &[u8], payload: &[u8]) {
    let now = ctx.now;
    let limit = ctx.srv.config.output_limit_pubsub;
    let me_token = ctx.me.token;
    let Some(c) = ctx.client_mut(token) else { return };
    let out = &mut c.out;
    let len = if pattern.is_some() { 4 } else { 3 };
    if out.resp3 {
        out.push(len);
    } else {
        out.array(len);
    }
    out.bulk(kind.as_bytes());
    if let Some(p) = pattern {
        out.bulk(p);
    }
    out.bulk(channel);
    out.bulk(payload);
    let over = over_limit(c, limit, now);
    if over {
        tracing::warn!(
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.id,
            c.addr
        );
        ctx.srv.kills.push(token);
    } else if token != me_token {
        ctx.srv.wake.push(token);
    }
}

/// Whether a client's unsent output passed `limit`: the hard limit at once, the soft one after staying
/// over it for its seconds.
pub fn over_limit(c: &mut ClientState, limit: OutputLimit, now: i64) -> bool {
    let used = c.out.buf.len() as u64;
    if limit.hard > 0 && used >= limit.hard {
        return true;
    }
    if limit.soft > 0 && used >= limit.soft {
        if c.soft_limit_since == 0 {
            c.soft_limit_since = now;
        }
        return now - c.soft_limit_since >= limit.soft_secs as i64 * 1000;
    }
    c.soft_limit_since = 0;
    false
}

/// The token of the stand-in client that delivers messages forwarded by the cluster bus.
const BUS_CLIENT: usize = usize::MAX - 1;

/// A `PUBLISH` forwarded by a peer: delivered to this node's subscribers, not forwarded again.
pub fn publish_from_bus(srv: &mut crate::server::Server, channel: &[u8], payload: &[u8], now: i64) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mut me = crate::client::ClientState::new(0, BUS_CLIENT, -1, addr, addr, now, true);
    let _ = publish(&mut Ctx { srv, me: &mut me, now }, &[b"PUBLISH", channel, payload]);
}

pub fn publish(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (channel, payload) = (a.get(1).copied().unwrap_or_default(), a.get(2).copied().unwrap_or_default());
    // In a cluster every node's subscribers get the message (the reply counts this node's only, as Redis).
    if ctx.me.token != BUS_CLIENT {
        if let Some(c) = ctx.srv.cluster.as_mut() {
            let mut msg = Vec::new();
            crate::persist::aof_file::encode_command(&mut msg, &[b"PUBLISH", channel, payload]);
            c.outbox.push(msg);
        }
    }
    let mut receivers = 0;
    let direct: Vec<usize> = ctx.srv.channels.get(channel).cloned().unwrap_or_default();
    for token in direct {
        deliver(ctx, token, "message", None, channel, payload);
        receivers += 1;
    }
    let matching: Vec<(Vec<u8>, Vec<usize>)> = ctx
        .srv
        .patterns
        .iter()
        .filter(|(p, _)| glob_match(p, channel, false))
        .map(|(p, t)| (p.clone(), t.clone()))
        .collect();
    for (pattern, tokens) in matching {
        for token in tokens {
            deliver(ctx, token, "pmessage", Some(&pattern), channel, payload);
            receivers += 1;
        }
    }
    ctx.me.out.int(receivers);
    Ok(())
}

pub fn spublish(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (channel, payload) = (a.get(1).copied().unwrap_or_default(), a.get(2).copied().unwrap_or_default());
    let tokens: Vec<usize> = ctx.srv.shard_channels.get(channel).cloned().unwrap_or_default();
    for &token in &tokens {
        deliver(ctx, token, "smessage", None, channel, payload);
    }
    ctx.me.out.int(tokens.len() as i64);
    Ok(())
}

fn list_channels(ctx: &mut Ctx, a: &[&[u8]], kind: Kind) -> CmdResult {
    let pattern = a.get(2).copied();
    let mut names: Vec<Vec<u8>> = registry(ctx.srv, kind)
        .keys()
        .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
        .cloned()
        .collect();
    names.sort();
    ctx.me.out.bulks(names.iter().map(Vec::as_slice));
    Ok(())
}

fn count_subscribers(ctx: &mut Ctx, a: &[&[u8]], kind: Kind) -> CmdResult {
    let names = a.get(2..).unwrap_or_default();
    let counts: Vec<usize> =
        names.iter().map(|n| registry(ctx.srv, kind).get(*n).map_or(0, Vec::len)).collect();
    // A flat array in RESP3 too, as Redis 7.2 sends it.
    let out = &mut ctx.me.out;
    out.array(names.len() * 2);
    for (n, c) in names.iter().zip(counts) {
        out.bulk(n);
        out.int(c as i64);
    }
    Ok(())
}

pub fn pubsub_channels(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    list_channels(ctx, a, Kind::Channel)
}

pub fn pubsub_shardchannels(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    list_channels(ctx, a, Kind::Shard)
}

pub fn pubsub_numsub(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, a, Kind::Channel)
}

pub fn pubsub_shardnumsub(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, a, Kind::Shard)
}

pub fn pubsub_numpat(ctx: &mut Ctx, _a: &[&[u8]]) -> CmdResult {
    let n = ctx.srv.patterns.len();
    ctx.me.out.int(n as i64);
    Ok(())
}
