//! Generic key commands: deletion, existence, type, expiry, renaming, copying and iteration.

use super::{cursor_arg, int_arg, is, scan_opts};
use crate::db::entry::{Entry, Value};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::server::Ctx;
use slotkv_proto::slot::SLOT_COUNT;

fn key<'a>(a: &[&'a [u8]], i: usize) -> &'a [u8] {
    a.get(i).copied().unwrap_or_default()
}

pub fn del(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let n = a.iter().skip(1).filter(|k| ctx.srv.db.delete(k, now)).count();
    ctx.me.out.int(n as i64);
    Ok(())
}

pub fn exists(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let n = a.iter().skip(1).filter(|k| ctx.srv.db.get(k, now).is_some()).count();
    ctx.me.out.int(n as i64);
    Ok(())
}

pub fn type_(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let kind = ctx.srv.db.kind(key(a, 1), now);
    ctx.me.out.simple(kind.map_or("none", |k| k.name()));
    Ok(())
}

/// `EXPIRE`/`PEXPIRE`/`EXPIREAT`/`PEXPIREAT key time [NX|XX|GT|LT]`.
pub fn expire(ctx: &mut Ctx, a: &[&[u8]], unit_ms: i64, absolute: bool) -> CmdResult {
    let k = key(a, 1);
    let n = int_arg(key(a, 2))?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in a.iter().skip(3) {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return Err(CmdError::Msg(format!("ERR Unsupported option {}", String::from_utf8_lossy(opt))));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::Static("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if gt && lt {
        return Err(CmdError::Static("ERR GT and LT options at the same time are not compatible"));
    }
    let cmd = match (unit_ms, absolute) {
        (1000, false) => "expire",
        (1, false) => "pexpire",
        (1000, true) => "expireat",
        _ => "pexpireat",
    };
    let invalid = || CmdError::Msg(format!("ERR invalid expire time in '{cmd}' command"));
    let mut at = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    if !absolute {
        at = at.checked_add(ctx.now).ok_or_else(invalid)?;
    }
    let now = ctx.now;
    let Some(entry) = ctx.srv.db.get(k, now) else {
        ctx.me.out.int(0);
        return Ok(());
    };
    let current = entry.expire_at();
    // No TTL counts as an infinite one for GT and LT.
    let ok = !(nx && current != 0
        || xx && current == 0
        || gt && (current == 0 || at <= current)
        || lt && current != 0 && at >= current);
    if !ok {
        ctx.me.out.int(0);
        return Ok(());
    }
    if at <= now {
        ctx.srv.db.delete(k, now);
    } else {
        ctx.srv.db.set_expire(k, at, now);
    }
    ctx.me.out.int(1);
    Ok(())
}

pub fn ttl(ctx: &mut Ctx, a: &[&[u8]], unit_ms: i64) -> CmdResult {
    let now = ctx.now;
    let reply = match ctx.srv.db.get(key(a, 1), now) {
        None => -2,
        Some(e) if e.expire_at() == 0 => -1,
        Some(e) => {
            let left = (e.expire_at() - now).max(0);
            if unit_ms == 1000 {
                (left + 500) / 1000
            } else {
                left
            }
        }
    };
    ctx.me.out.int(reply);
    Ok(())
}

pub fn expiretime(ctx: &mut Ctx, a: &[&[u8]], unit_ms: i64) -> CmdResult {
    let now = ctx.now;
    let reply = match ctx.srv.db.get(key(a, 1), now) {
        None => -2,
        Some(e) if e.expire_at() == 0 => -1,
        Some(e) if unit_ms == 1 => e.expire_at(),
        Some(e) => (e.expire_at() + 500) / 1000,
    };
    ctx.me.out.int(reply);
    Ok(())
}

pub fn persist(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let k = key(a, 1);
    let had = ctx.srv.db.get(k, now).is_some_and(|e| e.expire_at() != 0);
    if had {
        ctx.srv.db.set_expire(k, 0, now);
    }
    ctx.me.out.int(had as i64);
    Ok(())
}

pub fn rename(ctx: &mut Ctx, a: &[&[u8]], nx: bool) -> CmdResult {
    let (src, dst) = (key(a, 1), key(a, 2));
    let now = ctx.now;
    if ctx.srv.db.get(src, now).is_none() {
        return Err(CmdError::Static(crate::error::NO_SUCH_KEY));
    }
    if src == dst {
        if nx {
            ctx.me.out.int(0);
        } else {
            ctx.me.out.ok();
        }
        return Ok(());
    }
    if nx && ctx.srv.db.get(dst, now).is_some() {
        ctx.me.out.int(0);
        return Ok(());
    }
    if let Some(old) = ctx.srv.db.remove(src) {
        ctx.srv.db.insert(old.renamed(dst));
    }
    if nx {
        ctx.me.out.int(1);
    } else {
        ctx.me.out.ok();
    }
    Ok(())
}

pub fn copy(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (src, dst) = (key(a, 1), key(a, 2));
    let mut replace = false;
    let mut i = 3;
    while let Some(opt) = a.get(i) {
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "db") && a.get(i + 1).is_some() {
            if int_arg(key(a, i + 1))? != 0 {
                return Err(CmdError::Static(crate::error::DB_INDEX));
            }
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if src == dst {
        return Err(CmdError::Static("ERR source and destination objects are the same"));
    }
    let now = ctx.now;
    let Some(entry) = ctx.srv.db.get(src, now) else {
        ctx.me.out.int(0);
        return Ok(());
    };
    let copy = entry.renamed(dst);
    if !replace && ctx.srv.db.get(dst, now).is_some() {
        ctx.me.out.int(0);
        return Ok(());
    }
    ctx.srv.db.insert(copy);
    ctx.me.out.int(1);
    Ok(())
}

pub fn keys(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let pattern = key(a, 1);
    let now = ctx.now;
    let all = pattern == b"*";
    let found: Vec<&[u8]> =
        ctx.srv.db.entries(now).map(Entry::key).filter(|k| all || glob_match(pattern, k, false)).collect();
    ctx.me.out.bulks(found.into_iter());
    Ok(())
}

/// `SCAN cursor [MATCH p] [COUNT n] [TYPE t]`. The cursor is the slot in its top 14 bits and, below, the
/// key hash to resume from inside that slot (see `Db::scan_slot`).
pub fn scan(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let cursor = cursor_arg(key(a, 1))?;
    let opts = scan_opts(a, 2, true, false)?;
    let now = ctx.now;
    let db = &ctx.srv.db;
    let mut slot = (cursor >> 50) as usize;
    let mut from = cursor & ((1 << 50) - 1);
    let mut found: Vec<&[u8]> = Vec::new();
    let mut examined = 0;
    let mut next = 0u64;
    while slot < SLOT_COUNT {
        let (page, resume) = db.scan_slot(slot, from, opts.count.saturating_sub(examined).max(1), now);
        examined += page.len();
        for e in page {
            if opts.pattern.is_some_and(|p| !glob_match(p, e.key(), false)) {
                continue;
            }
            if opts.kind.is_some_and(|t| !t.eq_ignore_ascii_case(e.kind().name().as_bytes())) {
                continue;
            }
            found.push(e.key());
        }
        match resume {
            Some(h) => {
                next = ((slot as u64) << 50) | h;
                break;
            }
            None => {
                slot += 1;
                from = 0;
                next = if slot < SLOT_COUNT { (slot as u64) << 50 } else { 0 };
            }
        }
        // Empty slots cost a length check each, so unlike Redis's empty buckets they need no bound of their
        // own: a small keyspace is scanned in one call.
        if examined >= opts.count {
            break;
        }
    }
    let out = &mut ctx.me.out;
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.bulks(found.into_iter());
    Ok(())
}

pub fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now;
    match ctx.srv.db.random_key(now) {
        Some(k) => ctx.me.out.bulk(&k),
        None => ctx.me.out.null(),
    }
    Ok(())
}

pub fn object_encoding(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let enc = ctx.srv.db.get(key(a, 2), now).map(|e| match (e.as_str(), e.value()) {
        (Some(s), _) => super::string::encoding(s, e.is_raw()),
        (_, Some(Value::Hash(h))) => h.encoding(),
        (_, Some(Value::List(l))) => l.encoding(),
        (_, Some(Value::Set(s))) => s.encoding(),
        (_, Some(Value::Zset(z))) => z.encoding(),
        _ => "unknown",
    });
    match enc {
        Some(enc) => ctx.me.out.bulk(enc.as_bytes()),
        None => ctx.me.out.null(),
    }
    Ok(())
}

fn object_int(ctx: &mut Ctx, a: &[&[u8]], value: i64) -> CmdResult {
    let now = ctx.now;
    if ctx.srv.db.get(key(a, 2), now).is_some() {
        ctx.me.out.int(value);
    } else {
        ctx.me.out.null();
    }
    Ok(())
}

pub fn object_refcount(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    object_int(ctx, a, 1)
}

/// Seconds since the key was last used (its LRU clock); an error under an LFU policy, as in Redis. Neither
/// `OBJECT` subcommand counts as a use.
pub fn object_idletime(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let Some(access) = ctx.srv.db.peek(key(a, 2), now).map(|e| e.access()) else {
        ctx.me.out.null();
        return Ok(());
    };
    if ctx.srv.config.maxmemory_policy.is_lfu() {
        return Err(CmdError::Static(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    ctx.me.out.int((crate::evict::idle_ms(access, now) / 1000) as i64);
    Ok(())
}

/// The key's logarithmic access counter (after decay), under an LFU policy only.
pub fn object_freq(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let Some(access) = ctx.srv.db.peek(key(a, 2), now).map(|e| e.access()) else {
        ctx.me.out.null();
        return Ok(());
    };
    if let crate::evict::Tracking::Lfu { decay_minutes, .. } = ctx.srv.db.tracking {
        ctx.me.out.int(i64::from(crate::evict::lfu_decayed(access, now, decay_minutes)));
        return Ok(());
    }
    Err(CmdError::Static(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
    ))
}
