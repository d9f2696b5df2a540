//! `MIGRATE` and `RESTORE-ASKING`.
//!
//! `MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw] [KEYS key...]` moves
//! keys to another instance as Redis 7 does it: for each key that exists, its `DUMP` payload
//! ([`crate::db::serialize::encode`]) and remaining TTL in ms (0 = none) are sent as
//! `RESTORE-ASKING key ttl payload [REPLACE]` (`RESTORE` when this node is not in cluster mode), all in
//! one pipelined write after an optional `AUTH` and a `SELECT db` (sent on a fresh connection and whenever
//! the db differs from the last one used on it, as Redis does; our nodes accept `SELECT 0` in cluster
//! mode). The target's replies are read one line each, in order; every key the target acknowledged is
//! deleted here unless `COPY`, and the command is logged to the AOF as `DEL` of those keys.
//!
//! The data thread blocks for the exchange (as Redis's does), bounded by `timeout` ms for the connect and
//! for each read and write. Connections are cached per `host:port` and closed after 10 s unused, or at
//! once on any socket error. A socket error other than a timeout before any reply was read is retried
//! once on a fresh connection (the cached one may have been closed by the target meanwhile).
//!
//! Replies, byte for byte Redis 7.0's: `+OK`, `+NOKEY` (no key existed), `-IOERR error or timeout
//! connecting to the client` (the host does not resolve, or the connect timed out), `-IOERR error or
//! timeout writing|reading to target instance` (a refused connection is a *writing* error, as Redis's
//! non-blocking connect reports it), `-ERR Target instance replied with error: <its error without the
//! '-'>` (the first error among the `AUTH`, `SELECT` and `RESTORE` replies; keys whose `RESTORE`
//! succeeded are still deleted, and logged).

use crate::db::serialize;
use crate::error::{CmdError, CmdResult};
use crate::server::Ctx;
use crate::types::{int_arg, is};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Idle cached connections are closed after this long (Redis's `MIGRATE_SOCKET_CACHE_TTL`).
pub const SOCKET_TTL: Duration = Duration::from_secs(10);
/// At most this many cached connections (Redis's `MIGRATE_SOCKET_CACHE_ITEMS`); one is dropped to make
/// room.
const SOCKET_CACHE_ITEMS: usize = 64;
/// The pipelined commands are written in chunks of this size, each under the timeout.
const WRITE_CHUNK: usize = 64 * 1024;
/// Reply lines longer than this are cut (Redis reads them into 1 KiB buffers).
const MAX_LINE: usize = 1024;

const IOERR_CONNECT: &str = "IOERR error or timeout connecting to the client";
const IOERR_WRITE: &str = "IOERR error or timeout writing to target instance";
const IOERR_READ: &str = "IOERR error or timeout reading to target instance";

/// A connection to a target, kept between `MIGRATE`s.
struct Cached {
    conn: BufReader<TcpStream>,
    /// The db last selected on it; `None` forces a `SELECT` (fresh, or after the target answered an error).
    last_db: Option<i64>,
    last_use: Instant,
}

thread_local! {
    /// The connection cache, by `host:port`. Commands run on the one data thread, and `Server` gets no
    /// field for this in this step of the issue, so the data thread keeps it in thread-local storage. A
    /// `RefCell` is never borrowed across I/O: a connection is taken out while in use and put back after.
    static SOCKETS: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
}

/// Closes cached connections unused for [`SOCKET_TTL`] (Redis does this from its cron; `MIGRATE` also
/// calls it before it looks in the cache). Returns how many were closed.
pub fn close_idle_sockets(now: Instant) -> usize {
    SOCKETS.with(|s| {
        let mut map = s.borrow_mut();
        let before = map.len();
        map.retain(|_, c| now.saturating_duration_since(c.last_use) < SOCKET_TTL);
        before - map.len()
    })
}

/// How many connections are cached (for `INFO`-style introspection and tests).
pub fn cached_sockets() -> usize {
    SOCKETS.with(|s| s.borrow().len())
}

fn take_cached(name: &str) -> Option<Cached> {
    SOCKETS.with(|s| s.borrow_mut().remove(name))
}

fn put_cached(name: String, c: Cached) {
    SOCKETS.with(|s| {
        let mut map = s.borrow_mut();
        if map.len() >= SOCKET_CACHE_ITEMS && !map.contains_key(&name) {
            if let Some(victim) = map.keys().next().cloned() {
                map.remove(&victim);
            }
        }
        map.insert(name, c);
    });
}

/// The parsed arguments.
#[derive(Debug, PartialEq, Eq)]
struct Args<'a> {
    host: &'a [u8],
    port: &'a [u8],
    keys: Vec<&'a [u8]>,
    db: i64,
    timeout_ms: u64,
    copy: bool,
    replace: bool,
    /// `(user, password)`: `AUTH pw` has no user.
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
}

/// Reads the arguments in Redis's order: the options (syntax errors, `KEYS` with a key argument), then
/// the timeout, then the db. A timeout `<= 0` means 1000 ms.
fn parse<'a>(a: &[&'a [u8]]) -> Result<Args<'a>, CmdError> {
    let arg = |i: usize| a.get(i).copied().unwrap_or_default();
    let mut out = Args {
        host: arg(1),
        port: arg(2),
        keys: vec![arg(3)],
        db: 0,
        timeout_ms: 0,
        copy: false,
        replace: false,
        auth: None,
    };
    let mut j = 6;
    while let Some(opt) = a.get(j) {
        let more = a.len() - 1 - j;
        if is(opt, "copy") {
            out.copy = true;
        } else if is(opt, "replace") {
            out.replace = true;
        } else if is(opt, "auth") {
            if more < 1 {
                return Err(CmdError::Syntax);
            }
            out.auth = Some((None, arg(j + 1)));
            j += 1;
        } else if is(opt, "auth2") {
            if more < 2 {
                return Err(CmdError::Syntax);
            }
            out.auth = Some((Some(arg(j + 1)), arg(j + 2)));
            j += 2;
        } else if is(opt, "keys") {
            if !arg(3).is_empty() {
                return Err(CmdError::Static(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            out.keys = a.get(j + 1..).unwrap_or_default().to_vec();
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let timeout = int_arg(arg(5))?;
    out.db = int_arg(arg(4))?;
    out.timeout_ms = if timeout <= 0 { 1000 } else { timeout as u64 };
    Ok(out)
}

pub fn migrate(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let args = parse(a)?;
    migrate_keys(ctx, &args, usize::MAX)
}

/// MIGRATE of `args.keys`, stopping once the payloads reach `max_bytes` (at least one key goes): the
/// rest stays for the next call.
fn migrate_keys(ctx: &mut Ctx, args: &Args, max_bytes: usize) -> CmdResult {
    let now = ctx.now;
    // The keys that exist, with what to send for each: (key, ttl ms or 0, payload).
    let mut items: Vec<(&[u8], i64, Vec<u8>)> = Vec::new();
    let mut bytes = 0usize;
    for &key in &args.keys {
        if bytes >= max_bytes {
            break;
        }
        let Some(entry) = ctx.srv.db.get(key, now) else { continue };
        let ttl = match entry.expire_at() {
            0 => 0,
            at if at < now => continue,
            at => (at - now).max(1),
        };
        let payload = serialize::encode(entry);
        bytes += payload.len();
        items.push((key, ttl, payload));
    }
    if items.is_empty() {
        ctx.me.out.simple("NOKEY");
        return Ok(());
    }
    let restore: &[u8] = if ctx.srv.cluster.is_some() { b"RESTORE-ASKING" } else { b"RESTORE" };
    let timeout = Duration::from_millis(args.timeout_ms);
    let name = format!("{}:{}", String::from_utf8_lossy(args.host), String::from_utf8_lossy(args.port));
    close_idle_sockets(Instant::now());

    let mut may_retry = true;
    let (mut cached, ex) = loop {
        let mut cached = match take_cached(&name) {
            Some(c) => c,
            None => match connect(args.host, args.port, timeout) {
                Ok(conn) => Cached { conn, last_db: None, last_use: Instant::now() },
                Err(Connect::Unreachable) => return Err(CmdError::Static(IOERR_CONNECT)),
                // Redis's non-blocking connect "succeeds" on a refused connection and its first write
                // fails: retried once, then reported as a write error.
                Err(Connect::Refused) if may_retry => {
                    may_retry = false;
                    continue;
                }
                Err(Connect::Refused) => return Err(CmdError::Static(IOERR_WRITE)),
            },
        };
        let select = cached.last_db != Some(args.db);
        let request = build_request(args, select, restore, &items);
        let ex = exchange(&mut cached.conn, &request, args.auth.is_some(), select, items.len(), timeout);
        match ex.failure {
            // Nothing was acknowledged: the connection is dropped, and retried once unless it timed out.
            Some(f) if ex.replies.is_empty() => {
                drop(cached);
                if may_retry && !f.timed_out {
                    may_retry = false;
                    continue;
                }
                return Err(CmdError::Static(if f.writing { IOERR_WRITE } else { IOERR_READ }));
            }
            _ => break (cached, ex),
        }
    };

    // Settle every key the target answered: an error (the first one is reported), or success, which
    // deletes it here unless COPY. An error to AUTH or SELECT makes every answer an error.
    let mut target_error: Option<&[u8]> = None;
    let mut deleted: Vec<&[u8]> = Vec::new();
    for (line, (key, _, _)) in ex.replies.iter().zip(&items) {
        if ex.head_error.is_some() || line.first() == Some(&b'-') {
            target_error = target_error.or(ex.head_error.as_deref()).or(Some(line));
        } else if !args.copy {
            ctx.srv.db.delete(key, now);
            deleted.push(key);
        }
    }
    if ex.failure.is_none() {
        cached.last_db = if target_error.is_some() { None } else { Some(args.db) };
        cached.last_use = Instant::now();
        put_cached(name, cached);
    }
    if !deleted.is_empty() {
        let mut del: Vec<&[u8]> = vec![b"DEL"];
        del.extend(deleted.iter().copied());
        ctx.srv.feed.rewrite(&del);
    }
    let error = match target_error {
        Some(e) => CmdError::Msg(format!(
            "ERR Target instance replied with error: {}",
            String::from_utf8_lossy(e.get(1..).unwrap_or_default())
        )),
        None if ex.failure.is_some() => CmdError::Static(IOERR_READ),
        None => {
            ctx.me.out.ok();
            return Ok(());
        }
    };
    if deleted.is_empty() {
        return Err(error);
    }
    // Some keys moved: the reply is an error, but the command changed the keyspace and must reach the AOF
    // (and WATCH) as the DEL of those keys, which the dispatcher does only for a command that succeeded.
    ctx.srv.stats.count_error(error.text());
    ctx.me.out.error(error.text());
    Ok(())
}

/// `SLOTKV MIGRATESLOT host port slots count timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw]`: our
/// extension for resharding: `MIGRATE ... KEYS` of the next `count` keys of `slots` (fewer once their
/// payloads reach [`CHUNK_BYTES`]), chosen here, so a mover needs one round trip per chunk (no `CLUSTER
/// GETKEYSINSLOT`, no key names going back and forth). `slots` is one slot or a comma-separated list of
/// slots and ranges (`5,7,100-199`), taken in that order: many small slots then share one exchange with
/// the target instead of one each. Replies as `MIGRATE` does; `+NOKEY` once the slots have no key left.
/// Like `MIGRATE`, a chunk blocks this node until the target acknowledged it: `count` and the byte bound
/// limit that time (one value bigger than the bound still goes whole).
pub fn migrate_slot(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let arg = |i: usize| a.get(i).copied().unwrap_or_default();
    let slots = parse_slots(arg(4)).ok_or(CmdError::Static("ERR Invalid or out of range slot"))?;
    let count = std::str::from_utf8(arg(5))
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .ok_or(CmdError::Static("ERR count should be greater than 0"))?;
    let now = ctx.now;
    let mut keys: Vec<&[u8]> = Vec::new();
    for (first, last) in slots {
        for slot in first..=last {
            let room = count - keys.len();
            keys.extend(ctx.srv.db.slot_entries(slot, now).take(room).map(|e| e.key()));
            if keys.len() >= count {
                break;
            }
        }
    }
    if keys.is_empty() {
        ctx.me.out.simple("NOKEY");
        return Ok(());
    }
    // The keys are borrowed from the keyspace, which the move changes: copied out once, in one buffer.
    let mut bytes: Vec<u8> = Vec::with_capacity(keys.iter().map(|k| k.len()).sum());
    let mut ends: Vec<usize> = Vec::with_capacity(keys.len());
    for k in keys {
        bytes.extend_from_slice(k);
        ends.push(bytes.len());
    }
    // MIGRATE host port "" 0 timeout [options] KEYS key...
    let mut argv: Vec<&[u8]> = vec![b"MIGRATE", arg(2), arg(3), b"", b"0", arg(6)];
    argv.extend(a.get(7..).unwrap_or_default().iter().copied());
    argv.push(b"KEYS");
    let mut start = 0;
    for &end in &ends {
        argv.push(bytes.get(start..end).unwrap_or_default());
        start = end;
    }
    let args = parse(&argv)?;
    migrate_keys(ctx, &args, CHUNK_BYTES)
}

/// `5` or `5,7,100-199`: inclusive ranges of valid slots, in the order given (at most
/// [`SLOT_COUNT`](slotkv_proto::slot::SLOT_COUNT) items); `None` for anything else.
fn parse_slots(a: &[u8]) -> Option<Vec<(usize, usize)>> {
    let slot = |s: &str| s.parse::<usize>().ok().filter(|&n| n < slotkv_proto::slot::SLOT_COUNT);
    let text = std::str::from_utf8(a).ok()?;
    let mut out = Vec::new();
    for item in text.split(',') {
        if out.len() >= slotkv_proto::slot::SLOT_COUNT {
            return None;
        }
        let (first, last) = match item.split_once('-') {
            Some((x, y)) => (slot(x)?, slot(y)?),
            None => (slot(item)?, slot(item)?),
        };
        if first > last {
            return None;
        }
        out.push((first, last));
    }
    Some(out)
}

/// Payload bytes one `SLOTKV MIGRATESLOT` call sends at most (plus the last key's).
pub const CHUNK_BYTES: usize = 4 << 20;

/// `AUTH`, `SELECT` if asked, and one `RESTORE[-ASKING] key ttl payload [REPLACE]` per key, in RESP.
fn build_request(args: &Args, select: bool, restore: &[u8], items: &[(&[u8], i64, Vec<u8>)]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(items.iter().map(|(k, _, p)| k.len() + p.len() + 64).sum::<usize>() + 64);
    match args.auth {
        Some((Some(user), pass)) => encode(&mut out, &[b"AUTH", user, pass]),
        Some((None, pass)) => encode(&mut out, &[b"AUTH", pass]),
        None => {}
    }
    if select {
        encode(&mut out, &[b"SELECT", args.db.to_string().as_bytes()]);
    }
    let mut digits = itoa::Buffer::new();
    for (key, ttl, payload) in items {
        let ttl = digits.format(*ttl).as_bytes();
        if args.replace {
            encode(&mut out, &[restore, key, ttl, payload, b"REPLACE"]);
        } else {
            encode(&mut out, &[restore, key, ttl, payload]);
        }
    }
    out
}

/// One command in RESP (headers written without `format!`: a chunk holds up to thousands of them).
fn encode(out: &mut Vec<u8>, argv: &[&[u8]]) {
    let mut digits = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(digits.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(digits.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Why no connection was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connect {
    /// The host does not resolve, or no address answered within the timeout (`IOERR ... connecting`).
    Unreachable,
    /// An address answered with an error (refused): Redis 7 reports this as a failed write.
    Refused,
}

/// A new connection to `host:port`, trying each address the host resolves to within `timeout` in all.
/// The port is read as C's `atoi` reads it and truncated to 16 bits, as Redis's resolver does
/// (`notaport` is port 0, which refuses).
fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<BufReader<TcpStream>, Connect> {
    let host = std::str::from_utf8(host).map_err(|_| Connect::Unreachable)?;
    let port = atoi(port) as u16;
    let addrs: Vec<_> = (host, port).to_socket_addrs().map_err(|_| Connect::Unreachable)?.collect();
    let deadline = Instant::now() + timeout;
    let mut outcome = Err(Connect::Unreachable);
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(BufReader::new(stream));
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {}
            Err(_) => outcome = Err(Connect::Refused),
        }
    }
    outcome
}

/// C's `atoi`: optional spaces and sign, then digits; anything else ends it; no digits is 0. Wraps like
/// the 32-bit int it returns.
fn atoi(s: &[u8]) -> i32 {
    let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let s = s.get(start..).unwrap_or_default();
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let mut n: i32 = 0;
    for d in digits.iter().take_while(|b| b.is_ascii_digit()) {
        n = n.wrapping_mul(10).wrapping_add(i32::from(d - b'0'));
    }
    if negative {
        n.wrapping_neg()
    } else {
        n
    }
}

/// How an exchange broke off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failure {
    /// While writing the request (else while reading a reply).
    writing: bool,
    timed_out: bool,
}

impl Failure {
    fn of(e: &io::Error, writing: bool) -> Failure {
        let timed_out = matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut);
        Failure { writing, timed_out }
    }
}

/// What the target answered.
#[derive(Debug, Default)]
struct Exchange {
    /// The first error among the `AUTH` and `SELECT` replies.
    head_error: Option<Vec<u8>>,
    /// One line per `RESTORE` answered, in order.
    replies: Vec<Vec<u8>>,
    failure: Option<Failure>,
}

/// Writes the request in chunks, then reads the `AUTH` and `SELECT` replies (if sent) and up to `n`
/// `RESTORE` replies, each under `timeout`. Stops at the first socket error.
fn exchange(
    conn: &mut BufReader<TcpStream>,
    request: &[u8],
    auth: bool,
    select: bool,
    n: usize,
    timeout: Duration,
) -> Exchange {
    let mut ex = Exchange::default();
    let stream = conn.get_mut();
    let set = stream.set_write_timeout(Some(timeout)).and_then(|()| stream.set_read_timeout(Some(timeout)));
    if let Err(e) = set {
        ex.failure = Some(Failure::of(&e, true));
        return ex;
    }
    for chunk in request.chunks(WRITE_CHUNK) {
        if let Err(e) = stream.write_all(chunk) {
            ex.failure = Some(Failure::of(&e, true));
            return ex;
        }
    }
    for _ in 0..usize::from(auth) + usize::from(select) {
        match read_line(conn) {
            Ok(line) => {
                if ex.head_error.is_none() && line.first() == Some(&b'-') {
                    ex.head_error = Some(line);
                }
            }
            Err(e) => {
                ex.failure = Some(Failure::of(&e, false));
                return ex;
            }
        }
    }
    for _ in 0..n {
        match read_line(conn) {
            Ok(line) => ex.replies.push(line),
            Err(e) => {
                ex.failure = Some(Failure::of(&e, false));
                break;
            }
        }
    }
    ex
}

/// One reply line without its `\r\n`, cut to [`MAX_LINE`] bytes. The end of the stream is an error.
fn read_line(conn: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let buf = conn.fill_buf()?;
        if buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "target closed the connection"));
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (buf.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len()).min(take);
        line.extend_from_slice(buf.get(..room).unwrap_or_default());
        conn.consume(take);
        if done {
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            return Ok(line);
        }
    }
}

/// `RESTORE-ASKING`: `RESTORE`, also in a slot being imported (the command acts as `ASKING`). Logged to
/// the AOF as the `RESTORE ... ABSTTL` (or `DEL`) that replays it exactly, as `RESTORE` itself is.
pub fn restore_asking(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    crate::types::dump::restore(ctx, a)?;
    if ctx.srv.feed.on {
        let key = a.get(1).copied().unwrap_or_default();
        match ctx.srv.db.peek(key, ctx.now).map(|e| e.expire_at()) {
            None => ctx.srv.feed.rewrite(&[b"DEL", key]),
            Some(at) => {
                let mut cmd: Vec<&[u8]> = vec![b"RESTORE"];
                let at = at.to_string();
                let relative =
                    a.get(2).is_some_and(|t| *t != b"0") && !a.iter().skip(4).any(|x| is(x, "absttl"));
                cmd.push(key);
                cmd.push(if relative { at.as_bytes() } else { a.get(2).copied().unwrap_or_default() });
                cmd.extend(a.iter().skip(3).copied());
                if relative {
                    cmd.push(b"ABSTTL");
                }
                ctx.srv.feed.rewrite(&cmd);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn args(s: &[&'static str]) -> Vec<&'static [u8]> {
        s.iter().map(|a| a.as_bytes()).collect()
    }

    #[test]
    fn parses_options_in_redis_order() {
        let a = args(&[
            "MIGRATE", "h", "1", "", "3", "0", "copy", "REPLACE", "AUTH2", "u", "p", "KEYS", "a", "b",
        ]);
        let p = parse(&a).unwrap();
        assert_eq!(p.keys, [&b"a"[..], b"b"]);
        assert_eq!((p.db, p.timeout_ms, p.copy, p.replace), (3, 1000, true, true));
        assert_eq!(p.auth, Some((Some(&b"u"[..]), &b"p"[..])));
        // KEYS swallows everything after it, options included.
        let p = parse(&args(&["MIGRATE", "h", "1", "", "0", "50", "KEYS", "COPY"])).unwrap();
        assert_eq!((p.keys, p.copy, p.timeout_ms), (vec![&b"COPY"[..]], false, 50));
        let p = parse(&args(&["MIGRATE", "h", "1", "k", "0", "5", "AUTH", "pw"])).unwrap();
        assert_eq!((p.keys, p.auth), (vec![&b"k"[..]], Some((None, &b"pw"[..]))));
        // The options are checked before the numbers.
        let bad = parse(&args(&["MIGRATE", "h", "1", "k", "x", "y", "NOPE"])).unwrap_err();
        assert_eq!(bad, CmdError::Syntax);
        let bad = parse(&args(&["MIGRATE", "h", "1", "k", "x", "y"])).unwrap_err();
        assert_eq!(bad, CmdError::NotInteger);
        for cut in [&["AUTH"][..], &["AUTH2", "u"], &["COPY", "AUTH"]] {
            let mut a = args(&["MIGRATE", "h", "1", "k", "0", "5"]);
            a.extend(cut.iter().map(|s| s.as_bytes()));
            assert_eq!(parse(&a).unwrap_err(), CmdError::Syntax, "{cut:?}");
        }
        let e = parse(&args(&["MIGRATE", "h", "1", "k", "0", "5", "KEYS", "a"])).unwrap_err();
        assert!(e.text().starts_with("ERR When using MIGRATE KEYS option"), "{e:?}");
        // A timeout <= 0 is 1000 ms.
        assert_eq!(parse(&args(&["MIGRATE", "h", "1", "k", "0", "-3"])).unwrap().timeout_ms, 1000);
    }

    #[test]
    fn slot_lists() {
        assert_eq!(parse_slots(b"5"), Some(vec![(5, 5)]));
        assert_eq!(parse_slots(b"7,5,100-199,16383"), Some(vec![(7, 7), (5, 5), (100, 199), (16383, 16383)]));
        for bad in [&b""[..], b"16384", b"-1", b"1,", b"3-2", b"1-x", b"a", b"1 ,2", b"\xff"] {
            assert_eq!(parse_slots(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let many = vec!["1"; slotkv_proto::slot::SLOT_COUNT + 1].join(",");
        assert_eq!(parse_slots(many.as_bytes()), None);
    }

    #[test]
    fn atoi_reads_like_c() {
        for (s, n) in
            [("6379", 6379), (" 12x", 12), ("x", 0), ("", 0), ("-1", -1), ("+7", 7), ("70000", 70000)]
        {
            assert_eq!(atoi(s.as_bytes()), n, "{s}");
        }
        assert_eq!(atoi(b"70000") as u16, 4464);
        assert_eq!(atoi(b"99999999999"), 99999999999u64 as i32);
    }

    #[test]
    fn request_is_auth_select_then_restores() {
        let a = args(&["MIGRATE", "h", "1", "", "2", "5", "REPLACE", "AUTH", "pw", "KEYS", "k"]);
        let p = parse(&a).unwrap();
        let items = vec![(&b"k"[..], 1500, b"PAY".to_vec())];
        let req = build_request(&p, true, b"RESTORE-ASKING", &items);
        let want = "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n\
                    *5\r\n$14\r\nRESTORE-ASKING\r\n$1\r\nk\r\n$4\r\n1500\r\n$3\r\nPAY\r\n$7\r\nREPLACE\r\n";
        assert_eq!(String::from_utf8_lossy(&req), want);
        let req = build_request(
            &parse(&args(&["MIGRATE", "h", "1", "k", "0", "5"])).unwrap(),
            false,
            b"RESTORE",
            &items,
        );
        assert_eq!(
            String::from_utf8_lossy(&req),
            "*4\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$4\r\n1500\r\n$3\r\nPAY\r\n"
        );
    }

    #[test]
    fn read_line_strips_cuts_and_reports_eof() {
        let long = format!("-ERR {}\r\n+OK\r\n+partial", "x".repeat(5000));
        let mut r = BufReader::with_capacity(7, long.as_bytes());
        let first = read_line(&mut r).unwrap();
        assert_eq!(first.len(), MAX_LINE);
        assert!(first.starts_with(b"-ERR xx"));
        assert_eq!(read_line(&mut r).unwrap(), b"+OK");
        assert_eq!(read_line(&mut r).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    /// A target that reads `expect` bytes and answers `reply`, then holds the connection until closed.
    fn fake_target(expect: usize, reply: &'static [u8]) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut got = vec![0; expect];
            c.read_exact(&mut got).unwrap();
            c.write_all(reply).unwrap();
            let mut rest = Vec::new();
            let _ = c.read_to_end(&mut rest);
            got
        });
        (port, t)
    }

    #[test]
    fn exchange_reads_head_and_restore_replies_and_stops_at_eof() {
        let (port, t) = fake_target(3, b"-NOAUTH x\r\n+OK\r\n+OK\r\n");
        let mut conn = connect(b"127.0.0.1", port.to_string().as_bytes(), Duration::from_secs(5)).unwrap();
        let ex = exchange(&mut conn, b"abc", true, true, 3, Duration::from_millis(500));
        assert_eq!(ex.head_error.as_deref(), Some(&b"-NOAUTH x"[..]));
        assert_eq!(ex.replies, [b"+OK".to_vec()]);
        // The third reply never comes: a timeout.
        assert_eq!(ex.failure, Some(Failure { writing: false, timed_out: true }));
        drop(conn);
        assert_eq!(t.join().unwrap(), b"abc");
    }

    #[test]
    fn refused_and_unresolvable_connects_differ() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port().to_string();
        drop(l);
        let d = Duration::from_secs(2);
        assert_eq!(connect(b"127.0.0.1", port.as_bytes(), d).unwrap_err(), Connect::Refused);
        assert_eq!(connect(b"\xff", b"1", d).unwrap_err(), Connect::Unreachable);
    }

    #[test]
    fn the_cache_forgets_idle_connections() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let conn = BufReader::new(TcpStream::connect(addr).unwrap());
        let old = Instant::now();
        put_cached("a:1".into(), Cached { conn, last_db: Some(0), last_use: old });
        assert_eq!(cached_sockets(), 1);
        assert_eq!(close_idle_sockets(old + Duration::from_secs(9)), 0);
        assert_eq!(close_idle_sockets(old + SOCKET_TTL), 1);
        assert_eq!(cached_sockets(), 0);
        assert!(take_cached("a:1").is_none());
    }
}
