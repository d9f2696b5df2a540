//! Hash values: a flat vector of field/value pairs while small (Redis's "listpack"), a hash table once it
//! passes `hash-max-listpack-entries` fields or a field or value longer than `hash-max-listpack-value`.

use hashbrown::HashMap;

type Bytes = Box<[u8]>;

#[derive(Clone, Debug)]
pub enum Hash {
    Small(Vec<(Bytes, Bytes)>),
    Table(HashMap<Bytes, Bytes, foldhash::fast::RandomState>),
}

/// Thresholds for the compact encoding, `hash-max-listpack-entries` and `hash-max-listpack-value`.
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits { max_entries: 512, max_value: 64 }
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Small(Vec::new())
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Small(v) => v.len(),
            Hash::Table(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Small(v) => v.iter().find(|(f, _)| &**f == field).map(|(_, v)| &**v),
            Hash::Table(m) => m.get(field).map(|v| &**v),
        }
    }

    /// Sets a field; `true` if it is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if let Hash::Small(v) = self {
            if let Some((_, old)) = v.iter_mut().find(|(f, _)| &**f == field) {
                *old = value.into();
                if value.len() > limits.max_value {
                    self.convert();
                }
                return false;
            }
            if v.len() < limits.max_entries
                && field.len() <= limits.max_value
                && value.len() <= limits.max_value
            {
                v.push((field.into(), value.into()));
                return true;
            }
            self.convert();
        }
        match self {
            Hash::Table(m) => m.insert(field.into(), value.into()).is_none(),
            Hash::Small(_) => false,
        }
    }

    fn convert(&mut self) {
        if let Hash::Small(v) = self {
            let map = std::mem::take(v).into_iter().collect();
            *self = Hash::Table(map);
        }
    }

    /// Removes a field; `true` if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Small(v) => match v.iter().position(|(f, _)| &**f == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Hash::Table(m) => m.remove(field).is_some(),
        }
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Small(v) => Box::new(v.iter().map(|(f, v)| (&**f, &**v))),
            Hash::Table(m) => Box::new(m.iter().map(|(f, v)| (&**f, &**v))),
        }
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Small(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }
}

// ---- commands ----

use super::{cursor_arg, float_arg, int_arg, is, scan_opts};
use crate::db::entry::Entry;
use crate::db::page_by_hash;

/// A field and its value.
type Pair<'a> = (&'a [u8], &'a [u8]);
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::server::Ctx;
use slotkv_proto::reply::format_human_double;

fn arg<'a>(a: &[&'a [u8]], i: usize) -> &'a [u8] {
    a.get(i).copied().unwrap_or_default()
}

/// The hash at `key`: `Ok(None)` when missing, `WRONGTYPE` when another type.
fn read<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a Hash>, CmdError> {
    let now = ctx.now;
    match ctx.srv.db.get(key, now) {
        None => Ok(None),
        Some(e) => e.as_hash().map(Some).ok_or(CmdError::WrongType),
    }
}

/// The hash at `key` for writing, created empty when missing.
fn write<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<&'a mut Hash, CmdError> {
    let now = ctx.now;
    if ctx.srv.db.get(key, now).is_none() {
        ctx.srv.db.insert(Entry::hash(key, Hash::default(), 0));
    }
    ctx.srv.db.get_mut(key, now).and_then(Entry::as_hash_mut).ok_or(CmdError::WrongType)
}

pub fn hset(ctx: &mut Ctx, a: &[&[u8]], legacy: bool) -> CmdResult {
    let pairs = a.get(2..).unwrap_or_default();
    if pairs.len() % 2 != 0 {
        return Err(crate::error::wrong_arity(if legacy { "hmset" } else { "hset" }));
    }
    let limits = ctx.srv.hash_limits();
    let h = write(ctx, arg(a, 1))?;
    let added = pairs.chunks_exact(2).filter(|p| h.set(arg(p, 0), arg(p, 1), limits)).count();
    if legacy {
        ctx.me.out.ok();
    } else {
        ctx.me.out.int(added as i64);
    }
    Ok(())
}

pub fn hsetnx(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (key, field) = (arg(a, 1), arg(a, 2));
    if read(ctx, key)?.is_some_and(|h| h.get(field).is_some()) {
        ctx.me.out.int(0);
        return Ok(());
    }
    let limits = ctx.srv.hash_limits();
    write(ctx, key)?.set(field, arg(a, 3), limits);
    ctx.me.out.int(1);
    Ok(())
}

pub fn hget(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let value = match srv.db.get(arg(a, 1), now) {
        None => None,
        Some(e) => e.as_hash().ok_or(CmdError::WrongType)?.get(arg(a, 2)),
    };
    match value {
        Some(v) => me.out.bulk(v),
        None => me.out.null(),
    }
    Ok(())
}

pub fn hmget(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let h = match srv.db.get(arg(a, 1), now) {
        None => None,
        Some(e) => Some(e.as_hash().ok_or(CmdError::WrongType)?),
    };
    let fields = a.get(2..).unwrap_or_default();
    me.out.array(fields.len());
    for f in fields {
        match h.and_then(|h| h.get(f)) {
            Some(v) => me.out.bulk(v),
            None => me.out.null(),
        }
    }
    Ok(())
}

pub fn hdel(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let key = arg(a, 1);
    if read(ctx, key)?.is_none() {
        ctx.me.out.int(0);
        return Ok(());
    }
    let h = write(ctx, key)?;
    let removed = a.iter().skip(2).filter(|f| h.remove(f)).count();
    if h.is_empty() {
        ctx.srv.db.remove(key);
    }
    ctx.me.out.int(removed as i64);
    Ok(())
}

pub fn hexists(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let found = read(ctx, arg(a, 1))?.is_some_and(|h| h.get(arg(a, 2)).is_some());
    ctx.me.out.int(found as i64);
    Ok(())
}

pub fn hlen(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let n = read(ctx, arg(a, 1))?.map_or(0, Hash::len);
    ctx.me.out.int(n as i64);
    Ok(())
}

pub fn hstrlen(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let n = read(ctx, arg(a, 1))?.and_then(|h| h.get(arg(a, 2))).map_or(0, <[u8]>::len);
    ctx.me.out.int(n as i64);
    Ok(())
}

/// `HKEYS`, `HVALS`, `HGETALL`.
fn dump(ctx: &mut Ctx, a: &[&[u8]], fields: bool, values: bool) -> CmdResult {
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let h = match srv.db.get(arg(a, 1), now) {
        None => None,
        Some(e) => Some(e.as_hash().ok_or(CmdError::WrongType)?),
    };
    let len = h.map_or(0, Hash::len);
    if fields && values {
        me.out.map(len);
    } else {
        me.out.array(len);
    }
    for (f, v) in h.into_iter().flat_map(Hash::iter) {
        if fields {
            me.out.bulk(f);
        }
        if values {
            me.out.bulk(v);
        }
    }
    Ok(())
}

pub fn hkeys(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    dump(ctx, a, true, false)
}

pub fn hvals(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    dump(ctx, a, false, true)
}

pub fn hgetall(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    dump(ctx, a, true, true)
}

pub fn hincrby(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (key, field) = (arg(a, 1), arg(a, 2));
    let by = int_arg(arg(a, 3))?;
    let old = match read(ctx, key)?.and_then(|h| h.get(field)) {
        None => 0,
        Some(v) => {
            slotkv_proto::request::parse_i64(v).ok_or(CmdError::Static("ERR hash value is not an integer"))?
        }
    };
    let new = old.checked_add(by).ok_or(CmdError::Overflow)?;
    let limits = ctx.srv.hash_limits();
    write(ctx, key)?.set(field, itoa::Buffer::new().format(new).as_bytes(), limits);
    ctx.me.out.int(new);
    Ok(())
}

pub fn hincrbyfloat(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (key, field) = (arg(a, 1), arg(a, 2));
    let by = float_arg(arg(a, 3))?;
    // Unlike INCRBYFLOAT, Redis checks the increment itself first.
    if !by.is_finite() {
        return Err(CmdError::Static("ERR value is NaN or Infinity"));
    }
    let old = match read(ctx, key)?.and_then(|h| h.get(field)) {
        None => 0.0,
        Some(v) => super::parse_float(v).ok_or(CmdError::Static("ERR hash value is not a float"))?,
    };
    let new = old + by;
    if !new.is_finite() {
        return Err(CmdError::Static(crate::error::NAN_OR_INF));
    }
    let text = format_human_double(new);
    let limits = ctx.srv.hash_limits();
    write(ctx, key)?.set(field, text.as_bytes(), limits);
    ctx.me.out.bulk(text.as_bytes());
    Ok(())
}

/// `HRANDFIELD key [count [WITHVALUES]]`: a positive count gives distinct fields, a negative one may
/// repeat them.
pub fn hrandfield(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let count =
        match a.get(2) {
            Some(c) if int_arg(c)? == i64::MIN => return Err(CmdError::Static(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )),
            Some(c) => Some(int_arg(c)?),
            None => None,
        };
    let with_values = match a.get(3) {
        Some(o) if is(o, "withvalues") && a.len() == 4 => true,
        Some(_) => return Err(CmdError::Syntax),
        None => false,
    };
    // Redis 7.2 bounds counts with WITHVALUES to half the range; we bound negative counts without it
    // too, where Redis would try to send billions of replies.
    if count.is_some_and(|c| c < -(i64::MAX / 2) || (with_values && c > i64::MAX / 2)) {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let h = match srv.db.get(arg(a, 1), now) {
        None => None,
        Some(e) => Some(e.as_hash().ok_or(CmdError::WrongType)?),
    };
    let pairs: Vec<Pair> = h.map(|h| h.iter().collect()).unwrap_or_default();
    let Some(count) = count else {
        match pairs.get(fastrand::usize(..pairs.len().max(1))) {
            Some((f, _)) if !pairs.is_empty() => me.out.bulk(f),
            _ => me.out.null(),
        }
        return Ok(());
    };
    // Picks are written as they are drawn: a negative count may repeat fields without bound, and the reply
    // is then the only thing that grows.
    let n = if pairs.is_empty() {
        0
    } else if count < 0 {
        count.unsigned_abs() as usize
    } else {
        (count as usize).min(pairs.len())
    };
    let write = |out: &mut slotkv_proto::Out, (f, v): Pair| {
        if with_values && out.resp3 {
            out.array(2);
        }
        out.bulk(f);
        if with_values {
            out.bulk(v);
        }
    };
    if with_values && me.out.resp3 {
        me.out.array(n);
    } else {
        me.out.array(n * if with_values { 2 } else { 1 });
    }
    if count < 0 {
        for _ in 0..n {
            if let Some(p) = pairs.get(fastrand::usize(..pairs.len())) {
                write(&mut me.out, *p);
            }
        }
    } else {
        let mut all = pairs;
        fastrand::shuffle(&mut all);
        all.into_iter().take(n).for_each(|p| write(&mut me.out, p));
    }
    Ok(())
}

/// `HSCAN key cursor [MATCH p] [COUNT n] [NOVALUES]`. A compact hash comes back whole with cursor 0, as
/// Redis returns a listpack; a table is paged by field hash, so fields present throughout are returned
/// once whatever the table does between calls.
pub fn hscan(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let cursor = cursor_arg(arg(a, 2))?;
    let opts = scan_opts(a, 3, false, true)?;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let hasher = &srv.db;
    let h = match srv.db.peek(arg(a, 1), now) {
        None => None,
        Some(e) => Some(e.as_hash().ok_or(CmdError::WrongType)?),
    };
    let (page, next) = match h {
        None => (Vec::new(), None),
        Some(h @ Hash::Small(_)) => (h.iter().collect(), None),
        Some(h) => {
            // Cursors are hashes shifted to stay clear of 0, which ends a scan.
            let items =
                h.iter().map(|p| ((hasher.key_hash(p.0) >> 1).max(1), p)).filter(|(x, _)| *x >= cursor);
            page_by_hash(items.collect(), opts.count)
        }
    };
    let next = next.unwrap_or(0);
    let page: Vec<Pair> =
        page.into_iter().filter(|(f, _)| opts.pattern.is_none_or(|p| glob_match(p, f, false))).collect();
    me.out.array(2);
    me.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    me.out.array(page.len() * if opts.novalues { 1 } else { 2 });
    for (f, v) in page {
        me.out.bulk(f);
        if !opts.novalues {
            me.out.bulk(v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_past_thresholds() {
        let limits = HashLimits { max_entries: 4, max_value: 8 };
        let mut h = Hash::default();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", limits));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.set(b"f0", b"w", limits));
        assert!(h.set(b"f4", b"v", limits));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert_eq!(h.get(b"f0"), Some(&b"w"[..]));

        let mut h = Hash::default();
        h.set(b"f", b"0123456789", limits);
        assert_eq!(h.encoding(), "hashtable");
        assert!(h.remove(b"f"));
        assert!(!h.remove(b"f"));
    }
}
