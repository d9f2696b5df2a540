//! List commands, `LPUSH` to `BLMPOP`, over [`List`]: one pack while small (`listpack`), a deque of packs
//! beyond `list-max-listpack-size` (`quicklist`); see `quicklist.rs` for the encodings and when a list
//! moves between them. Replies, errors and the order of checks follow Redis 7.2's `t_list.c`; a list that
//! becomes empty is deleted, and one that shrinks enough goes back to its compact encoding.

pub use super::quicklist::List;

use super::{int_arg, is, timeout_arg};
use crate::blocking::{block, OnTimeout};
use crate::db::entry::Entry;
use crate::db::Db;
use crate::error::{wrong_arity, CmdError, CmdResult, NO_SUCH_KEY};
use crate::server::Ctx;
use slotkv_proto::Out;

const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const RANK_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

fn arg<'a>(a: &[&'a [u8]], i: usize) -> &'a [u8] {
    a.get(i).copied().unwrap_or_default()
}

/// An integer of at least `min`; `msg` for anything else, not an integer included (Redis's
/// `getRangeLongFromObjectOrReply` with a message).
fn at_least(a: &[u8], min: i64, msg: &'static str) -> Result<usize, CmdError> {
    int_arg(a)
        .ok()
        .filter(|&v| v >= min)
        .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
        .ok_or(CmdError::Static(msg))
}

/// `LEFT` (the front: `true`) or `RIGHT`.
fn side(a: &[u8]) -> Result<bool, CmdError> {
    if is(a, "left") {
        Ok(true)
    } else if is(a, "right") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// The list at `key`: `Ok(None)` when missing, `WRONGTYPE` when another type.
fn read<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a List>, CmdError> {
    match db.get(key, now) {
        None => Ok(None),
        Some(e) => e.as_::<List>().map(Some).ok_or(CmdError::WrongType),
    }
}

fn write<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a mut List>, CmdError> {
    match db.get_mut(key, now) {
        None => Ok(None),
        Some(e) => e.as_mut_::<List>().map(Some).ok_or(CmdError::WrongType),
    }
}

/// Redis's range arithmetic (`LRANGE`, `LTRIM`): negative indexes count from the back, and the range is
/// clipped to the list. `(first index, count)`, or `None` when empty.
fn span(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    // Adding a length to a negative index cannot overflow.
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((usize::try_from(start).ok()?, usize::try_from(end - start + 1).ok()?))
}

/// Writes up to `n` elements from one end, nearest first, and removes them.
fn pop_many(out: &mut Out, l: &mut List, front: bool, n: usize) {
    let n = n.min(l.len());
    if front {
        out.bulks(l.range(0, n, false));
        l.remove_front(n);
    } else {
        out.bulks(l.range(l.len().saturating_sub(1), n, true));
        l.remove_back(n);
    }
}

// ---- pushes ----

fn push(ctx: &mut Ctx, a: &[&[u8]], front: bool, only_existing: bool) -> CmdResult {
    let key = arg(a, 1);
    let items = a.get(2..).unwrap_or_default();
    let fill = ctx.srv.config.list_max_listpack_size;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let len = match write(&mut srv.db, key, now)? {
        Some(l) => {
            l.push(items, front, fill);
            l.len()
        }
        None if only_existing => 0,
        None => {
            let mut l = List::default();
            l.push(items, front, fill);
            let len = l.len();
            srv.db.insert(Entry::collection(key, l, 0));
            len
        }
    };
    me.out.int(len as i64);
    Ok(())
}

pub fn lpush(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    push(ctx, a, true, false)
}

pub fn rpush(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    push(ctx, a, false, false)
}

pub fn lpushx(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    push(ctx, a, true, true)
}

pub fn rpushx(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    push(ctx, a, false, true)
}

// ---- pops ----

/// `LPOP`/`RPOP key [count]`: without a count a bulk string (or null), with one an array (a null array
/// for a missing key, an empty one for a count of 0).
fn pop(ctx: &mut Ctx, a: &[&[u8]], front: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(wrong_arity(if front { "lpop" } else { "rpop" }));
    }
    let count = match a.get(2) {
        Some(c) => Some(at_least(c, 0, "ERR value is out of range, must be positive")?),
        None => None,
    };
    let key = arg(a, 1);
    let fill = ctx.srv.config.list_max_listpack_size;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let Some(l) = write(&mut srv.db, key, now)? else {
        if count.is_some() {
            me.out.null_array();
        } else {
            me.out.null();
        }
        return Ok(());
    };
    match count {
        None => {
            l.pop_with(front, |d| me.out.bulk(d));
        }
        Some(0) => {
            me.out.array(0);
            return Ok(());
        }
        Some(n) => pop_many(&mut me.out, l, front, n),
    }
    if l.is_empty() {
        srv.db.remove(key);
    } else {
        l.shrink(fill);
    }
    Ok(())
}

pub fn lpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    pop(ctx, a, true)
}

pub fn rpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    pop(ctx, a, false)
}

// ---- reads ----

pub fn llen(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let n = read(&mut ctx.srv.db, arg(a, 1), now)?.map_or(0, List::len);
    ctx.me.out.int(n as i64);
    Ok(())
}

pub fn lrange(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let start = int_arg(arg(a, 2))?;
    let end = int_arg(arg(a, 3))?;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    match read(&mut srv.db, arg(a, 1), now)? {
        Some(l) => match span(start, end, l.len()) {
            Some((first, n)) => me.out.bulks(l.range(first, n, false)),
            None => me.out.array(0),
        },
        None => me.out.array(0),
    }
    Ok(())
}

pub fn lindex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    // Redis looks the key up before it reads the index.
    let Some(l) = read(&mut srv.db, arg(a, 1), now)? else {
        me.out.null();
        return Ok(());
    };
    match l.get(int_arg(arg(a, 2))?) {
        Some(d) => me.out.bulk(d),
        None => me.out.null(),
    }
    Ok(())
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
pub fn lpos(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen = 0;
    let mut j = 3;
    while let Some(opt) = a.get(j) {
        match a.get(j + 1) {
            Some(v) if is(opt, "rank") => {
                rank = int_arg(v)?;
                if rank == i64::MIN {
                    return Err(CmdError::Static(RANK_RANGE));
                }
                if rank == 0 {
                    return Err(CmdError::Static(RANK_ZERO));
                }
            }
            Some(v) if is(opt, "count") => count = Some(at_least(v, 0, "ERR COUNT can't be negative")?),
            Some(v) if is(opt, "maxlen") => maxlen = at_least(v, 0, "ERR MAXLEN can't be negative")?,
            _ => return Err(CmdError::Syntax),
        }
        j += 2;
    }
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let Some(l) = read(&mut srv.db, arg(a, 1), now)? else {
        if count.is_some() {
            me.out.array(0);
        } else {
            me.out.null();
        }
        return Ok(());
    };
    let value = arg(a, 2);
    // Matches before the rank-th are skipped; COUNT 0 means all of them, no COUNT means the first.
    let skip = rank.unsigned_abs() - 1;
    let want = count.unwrap_or(1);
    let scan = if maxlen == 0 { l.len() } else { maxlen.min(l.len()) };
    let found = if rank < 0 {
        matches(l.iter().rev().take(scan), value, skip, want)
    } else {
        matches(l.iter().take(scan), value, skip, want)
    };
    let index = |i: usize| if rank < 0 { l.len() - 1 - i } else { i } as i64;
    if count.is_some() {
        me.out.array(found.len());
        for i in found {
            me.out.int(index(i));
        }
    } else {
        match found.first() {
            Some(&i) => me.out.int(index(i)),
            None => me.out.null(),
        }
    }
    Ok(())
}

/// Positions (in the iterator's order) of the elements equal to `value`, after skipping `skip` matches,
/// at most `want` of them (0 for no limit).
fn matches<'a>(elements: impl Iterator<Item = &'a [u8]>, value: &[u8], skip: u64, want: usize) -> Vec<usize> {
    let mut found = Vec::new();
    let mut seen = 0u64;
    for (i, e) in elements.enumerate() {
        if e != value {
            continue;
        }
        seen += 1;
        if seen > skip {
            found.push(i);
            if want != 0 && found.len() >= want {
                break;
            }
        }
    }
    found
}

// ---- changes in place ----

pub fn lset(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let fill = ctx.srv.config.list_max_listpack_size;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let Some(l) = write(&mut srv.db, arg(a, 1), now)? else { return Err(CmdError::Static(NO_SUCH_KEY)) };
    let index = int_arg(arg(a, 2))?;
    if !l.set(index, arg(a, 3), fill) {
        return Err(CmdError::Static(INDEX_OUT_OF_RANGE));
    }
    // The new element may be shorter than the old one.
    l.shrink(fill);
    me.out.ok();
    Ok(())
}

/// `LINSERT key BEFORE|AFTER pivot element`: the new length, 0 for a missing key, -1 without the pivot.
pub fn linsert(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let after = match arg(a, 2) {
        w if is(w, "after") => true,
        w if is(w, "before") => false,
        _ => return Err(CmdError::Syntax),
    };
    let fill = ctx.srv.config.list_max_listpack_size;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let reply = match write(&mut srv.db, arg(a, 1), now)? {
        None => 0,
        Some(l) => {
            if l.insert(arg(a, 3), arg(a, 4), after, fill) {
                l.len() as i64
            } else {
                -1
            }
        }
    };
    me.out.int(reply);
    Ok(())
}

pub fn lrem(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let count = int_arg(arg(a, 2))?;
    let key = arg(a, 1);
    let fill = ctx.srv.config.list_max_listpack_size;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    let removed = match write(&mut srv.db, key, now)? {
        None => 0,
        Some(l) => {
            let removed = l.remove(arg(a, 3), count);
            if l.is_empty() {
                srv.db.remove(key);
            } else if removed > 0 {
                l.shrink(fill);
            }
            removed
        }
    };
    me.out.int(removed as i64);
    Ok(())
}

pub fn ltrim(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let start = int_arg(arg(a, 2))?;
    let end = int_arg(arg(a, 3))?;
    let key = arg(a, 1);
    let fill = ctx.srv.config.list_max_listpack_size;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    if let Some(l) = write(&mut srv.db, key, now)? {
        let len = l.len();
        let (front, back) = match span(start, end, len) {
            Some((first, n)) => (first, len - first - n),
            None => (len, 0),
        };
        l.remove_front(front);
        l.remove_back(back);
        if l.is_empty() {
            srv.db.remove(key);
        } else {
            l.shrink(fill);
        }
    }
    me.out.ok();
    Ok(())
}

// ---- moves ----

/// Pops from `src` and pushes to `dst` (the same list rotates), replying with the element. `Ok(false)`
/// with nothing written when `src` is missing; `WRONGTYPE` for a source, or a destination, of another type.
fn move_one(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_front: bool,
    to_front: bool,
) -> Result<bool, CmdError> {
    let fill = ctx.srv.config.list_max_listpack_size;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    if read(&mut srv.db, src, now)?.is_none() {
        return Ok(false);
    }
    if src != dst {
        read(&mut srv.db, dst, now)?;
    }
    let Some(l) = write(&mut srv.db, src, now)? else { return Ok(false) };
    let Some((value, counted)) = l.pop_moved(from_front) else { return Ok(false) };
    if src == dst {
        l.push_element(&value, to_front, fill, counted);
        l.shrink(fill);
    } else {
        if l.is_empty() {
            srv.db.remove(src);
        } else {
            l.shrink(fill);
        }
        match write(&mut srv.db, dst, now)? {
            Some(d) => d.push_element(&value, to_front, fill, counted),
            None => {
                let mut d = List::default();
                d.push_element(&value, to_front, fill, counted);
                srv.db.insert(Entry::collection(dst, d, 0));
            }
        }
    }
    me.out.bulk(&value);
    Ok(true)
}

pub fn lmove(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let from = side(arg(a, 3))?;
    let to = side(arg(a, 4))?;
    if !move_one(ctx, arg(a, 1), arg(a, 2), from, to)? {
        ctx.me.out.null();
    }
    Ok(())
}

pub fn rpoplpush(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if !move_one(ctx, arg(a, 1), arg(a, 2), false, true)? {
        ctx.me.out.null();
    }
    Ok(())
}

/// The arguments of `LMPOP`/`BLMPOP` from `numkeys` (at `at`) on: `numkeys key... LEFT|RIGHT [COUNT n]`.
struct Mpop<'a> {
    keys: &'a [&'a [u8]],
    front: bool,
    count: usize,
}

fn mpop_args<'a>(a: &'a [&'a [u8]], at: usize) -> Result<Mpop<'a>, CmdError> {
    let numkeys = at_least(arg(a, at), 1, "ERR numkeys should be greater than 0")?;
    let first = at + 1;
    let side_at = first.checked_add(numkeys).filter(|&i| i < a.len()).ok_or(CmdError::Syntax)?;
    let keys = a.get(first..side_at).ok_or(CmdError::Syntax)?;
    let front = side(arg(a, side_at))?;
    let mut count = None;
    let mut j = side_at + 1;
    while let Some(opt) = a.get(j) {
        match a.get(j + 1) {
            Some(v) if count.is_none() && is(opt, "count") => {
                count = Some(at_least(v, 1, "ERR count should be greater than 0")?);
            }
            _ => return Err(CmdError::Syntax),
        }
        j += 2;
    }
    Ok(Mpop { keys, front, count: count.unwrap_or(1) })
}

/// Pops from the first non-empty list among `keys` with `pop`, replying `[key, <what pop writes>]`, and
/// removes the list if it is left empty. `Ok(false)` with nothing written when every key is missing.
fn pop_first(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    mut pop: impl FnMut(&mut Out, &mut List),
) -> Result<bool, CmdError> {
    let fill = ctx.srv.config.list_max_listpack_size;
    let now = ctx.now;
    let Ctx { srv, me, .. } = ctx;
    for key in keys {
        let Some(l) = write(&mut srv.db, key, now)? else { continue };
        me.out.array(2);
        me.out.bulk(key);
        pop(&mut me.out, l);
        if l.is_empty() {
            srv.db.remove(key);
        } else {
            l.shrink(fill);
        }
        return Ok(true);
    }
    Ok(false)
}

/// Pops up to `count` elements from the first non-empty list among `keys`, replying `[key, [elements]]`.
fn mpop_serve(ctx: &mut Ctx, keys: &[&[u8]], front: bool, count: usize) -> Result<bool, CmdError> {
    pop_first(ctx, keys, |out, l| pop_many(out, l, front, count))
}

/// `LMPOP numkeys key... LEFT|RIGHT [COUNT count]`.
pub fn lmpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let m = mpop_args(a, 1)?;
    if !mpop_serve(ctx, m.keys, m.front, m.count)? {
        ctx.me.out.null_array();
    }
    Ok(())
}

// ---- blocking ----
//
// Each first serves itself like its non-blocking twin; with nothing to take it blocks. Woken up, it runs
// again from the start.

/// `BLPOP`/`BRPOP key... timeout`: `[key, element]` from the first non-empty list.
fn bpop(ctx: &mut Ctx, a: &[&[u8]], front: bool) -> CmdResult {
    let last = a.len().saturating_sub(1);
    let deadline = timeout_arg(arg(a, last), ctx.now)?;
    let keys = a.get(1..last).unwrap_or_default();
    if pop_first(ctx, keys, |out, l| {
        l.pop_with(front, |d| out.bulk(d));
    })? {
        return Ok(());
    }
    block(ctx, keys, deadline, OnTimeout::NullArray)
}

pub fn blpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    bpop(ctx, a, true)
}

pub fn brpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    bpop(ctx, a, false)
}

/// `BLMOVE`/`BRPOPLPUSH`: Redis checks the source's type before blocking, the destination's when it moves.
fn bmove(ctx: &mut Ctx, a: &[&[u8]], from_front: bool, to_front: bool, deadline: i64) -> CmdResult {
    let src = arg(a, 1);
    if move_one(ctx, src, arg(a, 2), from_front, to_front)? {
        return Ok(());
    }
    block(ctx, &[src], deadline, OnTimeout::NullBulk)
}

pub fn blmove(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let from = side(arg(a, 3))?;
    let to = side(arg(a, 4))?;
    let deadline = timeout_arg(arg(a, 5), ctx.now)?;
    bmove(ctx, a, from, to, deadline)
}

pub fn brpoplpush(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let deadline = timeout_arg(arg(a, 3), ctx.now)?;
    bmove(ctx, a, false, true, deadline)
}

/// `BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT count]`: its own arguments are checked before the
/// timeout, as in Redis.
pub fn blmpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let m = mpop_args(a, 2)?;
    let deadline = timeout_arg(arg(a, 1), ctx.now)?;
    if mpop_serve(ctx, m.keys, m.front, m.count)? {
        return Ok(());
    }
    block(ctx, m.keys, deadline, OnTimeout::NullArray)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_like_redis() {
        assert_eq!(span(0, -1, 5), Some((0, 5)));
        assert_eq!(span(-100, 100, 5), Some((0, 5)));
        assert_eq!(span(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(span(3, 1, 5), None);
        assert_eq!(span(5, 10, 5), None);
        assert_eq!(span(-2, -1, 5), Some((3, 2)));
        assert_eq!(span(0, -5, 5), Some((0, 1)));
        assert_eq!(span(0, -6, 5), None);
        assert_eq!(span(0, 0, 0), None);
    }

    #[test]
    fn lpos_matches() {
        let l: Vec<&[u8]> = vec![b"a", b"b", b"a", b"a"];
        assert_eq!(matches(l.iter().copied(), b"a", 0, 1), vec![0]);
        assert_eq!(matches(l.iter().copied(), b"a", 1, 0), vec![2, 3]);
        assert_eq!(matches(l.iter().copied(), b"a", 0, 2), vec![0, 2]);
        assert_eq!(matches(l.iter().copied(), b"a", 5, 0), Vec::<usize>::new());
        assert_eq!(matches(l.iter().rev().copied(), b"a", 0, 0), vec![0, 1, 3]);
    }
}
