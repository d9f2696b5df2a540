//! String commands: `GET`, `SET` and its options, `INCR*`, `APPEND`, ranges, `MGET`/`MSET`.

use super::{float_arg, int_arg, is};
use crate::db::entry::Entry;
use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;
use slotkv_proto::reply::format_human_double;

/// Redis's limit on a string grown by `APPEND`/`SETRANGE` (`proto-max-bulk-len`).
fn check_size(ctx: &Ctx, len: usize) -> CmdResult {
    if len > ctx.srv.config.proto_max_bulk_len {
        return Err(CmdError::Static("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
    }
    Ok(())
}

/// The string at `key`: `Ok(None)` when missing, `WRONGTYPE` when not a string.
fn read_str<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a [u8]>, CmdError> {
    let now = ctx.now;
    match ctx.srv.db.get(key, now) {
        None => Ok(None),
        Some(e) => e.as_str().map(Some).ok_or(CmdError::WrongType),
    }
}

/// Replies with the string at `key` (or null), counting a keyspace hit or miss.
fn reply_str(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    match srv.db.get(key, now) {
        None => {
            srv.stats.keyspace_misses += 1;
            me.out.null();
        }
        Some(e) => {
            let s = e.as_str().ok_or(CmdError::WrongType)?;
            me.out.bulk(s);
            srv.stats.keyspace_hits += 1;
        }
    }
    Ok(())
}

pub fn get(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    reply_str(ctx, a.get(1).copied().unwrap_or_default())
}

/// Stores a string, replacing any value; `keep_ttl` keeps an existing key's expiry.
fn store(ctx: &mut Ctx, key: &[u8], value: &[u8], expire_at: i64, keep_ttl: bool) {
    if keep_ttl {
        replace_str(ctx, key, value);
    } else {
        ctx.srv.db.insert(Entry::string(key, value, expire_at));
    }
}

/// Stores a string in place of whatever `key` holds, keeping its expiry (`INCR`, `KEEPTTL`).
fn replace_str(ctx: &mut Ctx, key: &[u8], value: &[u8]) {
    let now = ctx.now;
    match ctx.srv.db.get_mut(key, now) {
        Some(entry) => entry.set_str(value),
        None => {
            ctx.srv.db.insert(Entry::string(key, value, 0));
        }
    }
}

/// An expiry option's value turned into absolute Unix ms. `unit_ms` is 1000 for seconds; `absolute` for
/// `EXAT`/`PXAT`. Zero, negative and overflowing values are `ERR invalid expire time in '<cmd>' command`.
pub fn expire_at(ctx: &Ctx, arg: &[u8], unit_ms: i64, absolute: bool, cmd: &str) -> Result<i64, CmdError> {
    let n = int_arg(arg)?;
    let invalid = || CmdError::Msg(format!("ERR invalid expire time in '{cmd}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    if absolute {
        Ok(ms)
    } else {
        ctx.now.checked_add(ms).ok_or_else(invalid)
    }
}

/// The options `SET` and `GETEX` share, read as Redis's `parseExtendedStringArgumentsOrReply` reads them:
/// an option may repeat (the last expiry wins), options that contradict each other are a syntax error.
#[derive(Default)]
struct StringOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    /// The expiry option's name (`ex`, `px`, `exat`, `pxat`) and value.
    expire: Option<(&'static str, &'a [u8])>,
}

impl StringOpts<'_> {
    /// The absolute expiry the options ask for (0 for none), validated as `cmd` reports it.
    fn expire_at(&self, ctx: &Ctx, cmd: &str) -> Result<i64, CmdError> {
        match self.expire {
            None => Ok(0),
            Some((unit, v)) => {
                let ms = if unit == "ex" || unit == "exat" { 1000 } else { 1 };
                expire_at(ctx, v, ms, unit == "exat" || unit == "pxat", cmd)
            }
        }
    }
}

fn string_opts<'a>(a: &[&'a [u8]], from: usize, for_set: bool) -> Result<StringOpts<'a>, CmdError> {
    let mut o = StringOpts::default();
    let mut i = from;
    while let Some(opt) = a.get(i) {
        let unit = ["ex", "px", "exat", "pxat"].into_iter().find(|u| is(opt, u));
        if for_set && is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if for_set && is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if for_set && is(opt, "get") {
            o.get = true;
        } else if for_set && is(opt, "keepttl") && o.expire.is_none() {
            o.keep_ttl = true;
        } else if !for_set && is(opt, "persist") && o.expire.is_none() {
            o.persist = true;
        } else if let (Some(unit), Some(v)) = (unit, a.get(i + 1)) {
            if o.keep_ttl || o.persist || o.expire.is_some_and(|(u, _)| u != unit) {
                return Err(CmdError::Syntax);
            }
            o.expire = Some((unit, v));
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

pub fn set(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (key, value) = (a.get(1).copied().unwrap_or_default(), a.get(2).copied().unwrap_or_default());
    let o = string_opts(a, 3, true)?;
    let at = o.expire_at(ctx, "set")?;
    if !o.get && !o.keep_ttl && !o.nx && !o.xx {
        // The common case needs no look at the old value: one table operation.
        ctx.srv.db.insert(Entry::string(key, value, at));
        ctx.me.out.ok();
        return Ok(());
    }
    let now = ctx.now;
    let old = ctx.srv.db.get(key, now);
    let exists = old.is_some();
    if o.get {
        match old.map(|e| e.as_str()) {
            Some(None) => return Err(CmdError::WrongType),
            Some(Some(s)) => ctx.me.out.bulk(s),
            None => ctx.me.out.null(),
        }
    }
    let allowed = !(o.nx && exists || o.xx && !exists);
    if allowed {
        store(ctx, key, value, at, o.keep_ttl);
    }
    if !o.get {
        if allowed {
            ctx.me.out.ok();
        } else {
            ctx.me.out.null();
        }
    }
    Ok(())
}

pub fn setnx(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (key, value) = (a.get(1).copied().unwrap_or_default(), a.get(2).copied().unwrap_or_default());
    let now = ctx.now;
    let absent = ctx.srv.db.get(key, now).is_none();
    if absent {
        store(ctx, key, value, 0, false);
    }
    ctx.me.out.int(absent as i64);
    Ok(())
}

pub fn setex(ctx: &mut Ctx, a: &[&[u8]], unit_ms: i64) -> CmdResult {
    let name = if unit_ms == 1000 { "setex" } else { "psetex" };
    let at = expire_at(ctx, a.get(2).copied().unwrap_or_default(), unit_ms, false, name)?;
    store(ctx, a.get(1).copied().unwrap_or_default(), a.get(3).copied().unwrap_or_default(), at, false);
    ctx.me.out.ok();
    Ok(())
}

pub fn getset(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let key = a.get(1).copied().unwrap_or_default();
    reply_str(ctx, key)?;
    store(ctx, key, a.get(2).copied().unwrap_or_default(), 0, false);
    Ok(())
}

pub fn getdel(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let key = a.get(1).copied().unwrap_or_default();
    reply_str(ctx, key)?;
    let now = ctx.now;
    ctx.srv.db.delete(key, now);
    Ok(())
}

pub fn getex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let key = a.get(1).copied().unwrap_or_default();
    let o = string_opts(a, 2, false)?;
    // None: leave the TTL; Some(0): persist; Some(t): expire at t.
    let change = if o.persist { Some(0) } else { o.expire.map(|_| o.expire_at(ctx, "getex")).transpose()? };
    reply_str(ctx, key)?;
    let now = ctx.now;
    match change {
        Some(at) if at != 0 && at <= now => {
            ctx.srv.db.delete(key, now);
        }
        Some(at) => {
            ctx.srv.db.set_expire(key, at, now);
        }
        None => {}
    }
    Ok(())
}

pub fn mget(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let keys = a.get(1..).unwrap_or_default();
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    me.out.array(keys.len());
    for key in keys {
        match srv.db.get(key, now).and_then(Entry::as_str) {
            Some(s) => {
                srv.stats.keyspace_hits += 1;
                me.out.bulk(s);
            }
            None => {
                srv.stats.keyspace_misses += 1;
                me.out.null();
            }
        }
    }
    Ok(())
}

fn pairs<'a>(a: &'a [&'a [u8]], cmd: &str) -> Result<std::slice::ChunksExact<'a, &'a [u8]>, CmdError> {
    let rest = a.get(1..).unwrap_or_default();
    if rest.len() % 2 != 0 {
        return Err(crate::error::wrong_arity(cmd));
    }
    Ok(rest.chunks_exact(2))
}

pub fn mset(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    for kv in pairs(a, "mset")? {
        if let [k, v] = kv {
            store(ctx, k, v, 0, false);
        }
    }
    ctx.me.out.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let kvs = pairs(a, "msetnx")?;
    let any_exists = kvs.clone().any(|kv| kv.first().is_some_and(|k| ctx.srv.db.get(k, now).is_some()));
    if !any_exists {
        for kv in kvs {
            if let [k, v] = kv {
                store(ctx, k, v, 0, false);
            }
        }
    }
    ctx.me.out.int(!any_exists as i64);
    Ok(())
}

pub fn append(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (key, extra) = (a.get(1).copied().unwrap_or_default(), a.get(2).copied().unwrap_or_default());
    let now = ctx.now;
    let len = match read_str(ctx, key)? {
        None => {
            store(ctx, key, extra, 0, false);
            extra.len()
        }
        Some(old) => {
            let total = old.len() + extra.len();
            check_size(ctx, total)?;
            if let Some(entry) = ctx.srv.db.get_mut(key, now) {
                entry.append(extra);
            }
            total
        }
    };
    ctx.me.out.int(len as i64);
    Ok(())
}

pub fn strlen(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let len = read_str(ctx, a.get(1).copied().unwrap_or_default())?.map_or(0, <[u8]>::len);
    ctx.me.out.int(len as i64);
    Ok(())
}

pub fn decr_by(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let by = int_arg(a.get(2).copied().unwrap_or_default())?;
    let by = by.checked_neg().ok_or(CmdError::Static("ERR decrement would overflow"))?;
    incr(ctx, a.get(1).copied().unwrap_or_default(), by)
}

/// `INCR`/`DECR` (fixed `by`) and `INCRBY` (`by` from the arguments).
pub fn incr_by(ctx: &mut Ctx, a: &[&[u8]], by: Option<i64>) -> CmdResult {
    let by = match by {
        Some(b) => b,
        None => int_arg(a.get(2).copied().unwrap_or_default())?,
    };
    incr(ctx, a.get(1).copied().unwrap_or_default(), by)
}

fn incr(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let old = match read_str(ctx, key)? {
        None => 0,
        Some(s) => slotkv_proto::request::parse_i64(s).ok_or(CmdError::NotInteger)?,
    };
    let new = old.checked_add(by).ok_or(CmdError::Overflow)?;
    let mut buf = itoa::Buffer::new();
    replace_str(ctx, key, buf.format(new).as_bytes());
    ctx.me.out.int(new);
    Ok(())
}

pub fn incr_by_float(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let key = a.get(1).copied().unwrap_or_default();
    let by = float_arg(a.get(2).copied().unwrap_or_default())?;
    let old = match read_str(ctx, key)? {
        None => 0.0,
        Some(s) => super::parse_float(s).ok_or(CmdError::NotFloat)?,
    };
    let new = old + by;
    if !new.is_finite() {
        return Err(CmdError::Static(crate::error::NAN_OR_INF));
    }
    let text = format_human_double(new);
    replace_str(ctx, key, text.as_bytes());
    ctx.me.out.bulk(text.as_bytes());
    Ok(())
}

/// Redis's clamp of `start`/`end` into `0..len` for `GETRANGE`; `None` for an empty range.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return None;
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0).min(len - 1);
    if s > e {
        return None;
    }
    Some((s as usize, e as usize))
}

pub fn getrange(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let start = int_arg(a.get(2).copied().unwrap_or_default())?;
    let end = int_arg(a.get(3).copied().unwrap_or_default())?;
    let key = a.get(1).copied().unwrap_or_default();
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let s = match srv.db.get(key, now) {
        None => &[][..],
        Some(e) => e.as_str().ok_or(CmdError::WrongType)?,
    };
    match clamp_range(start, end, s.len()) {
        Some((from, to)) => me.out.bulk(s.get(from..=to).unwrap_or_default()),
        None => me.out.bulk(b""),
    }
    Ok(())
}

pub fn setrange(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let key = a.get(1).copied().unwrap_or_default();
    let offset = int_arg(a.get(2).copied().unwrap_or_default())?;
    let value = a.get(3).copied().unwrap_or_default();
    if offset < 0 {
        return Err(CmdError::Static("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let now = ctx.now;
    let old = read_str(ctx, key)?.map(<[u8]>::len);
    let old_len = old.unwrap_or(0);
    if value.is_empty() {
        ctx.me.out.int(old_len as i64);
        return Ok(());
    }
    check_size(ctx, offset.saturating_add(value.len()))?;
    if old.is_none() {
        ctx.srv.db.insert(Entry::string(key, b"", 0));
    }
    let len = match ctx.srv.db.get_mut(key, now) {
        Some(entry) => {
            entry.set_range(offset, value);
            entry.as_str().map_or(0, <[u8]>::len)
        }
        None => 0,
    };
    ctx.me.out.int(len as i64);
    Ok(())
}

/// `OBJECT ENCODING` of a string, as Redis 7.2 chooses it: `int` for an integer, `embstr` up to 44
/// bytes, `raw` beyond or once modified in place.
pub fn encoding(s: &[u8], raw: bool) -> &'static str {
    if raw {
        "raw"
    } else if s.len() <= 20 && slotkv_proto::request::parse_i64(s).is_some() {
        "int"
    } else if s.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_clamps_like_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(clamp_range(-1, -3, 5), None);
        assert_eq!(clamp_range(3, 100, 5), Some((3, 4)));
        assert_eq!(clamp_range(10, 20, 5), None);
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(-100, 1, 5), Some((0, 1)));
    }
}
