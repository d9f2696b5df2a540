//! The change feed: every write that changed the keyspace, as the command that replays it exactly. The
//! AOF appends it (and replicas will follow it). What a command did is what is logged, not what was asked:
//!
//! - relative times become absolute (`EXPIRE k 10` → `PEXPIREAT k <ms>`, `SET k v EX 10` → `SET k v PXAT
//!   <ms>`, `RESTORE` gets `ABSTTL`), read back from the key after the command ran;
//! - results that depend on chance or rounding are logged as values (`SPOP` → `SREM` of what it popped,
//!   `INCRBYFLOAT` → `SET ... KEEPTTL`, `HINCRBYFLOAT` → `HSET`);
//! - blocking pops become their non-blocking twins (`BLPOP a b 0` → `LMPOP 2 a b LEFT`), which pop from
//!   the same key on the same data;
//! - a key that expired (lazily or by the expiry cycle) is logged as `DEL key` before the command that
//!   noticed it;
//! - the commands of one `EXEC` are wrapped in `MULTI`/`EXEC` so they are replayed all or nothing.
//!
//! A write command is logged only if it changed something (`Db::dirty` moved by more than its expiries).

use crate::db::Db;
use crate::persist::aof_file::encode_command;
use slotkv_proto::command::flags;
use slotkv_proto::{CommandId, CommandSpec};

#[derive(Default)]
pub struct Feed {
    /// Whether anything consumes the feed (the AOF is on).
    pub on: bool,
    /// Commands in RESP since the consumer last took them.
    pub buf: Vec<u8>,
    /// Bytes ever appended to `buf`: a position in the feed.
    pub appended: u64,
    /// What the running command is to be logged as instead of its own arguments.
    rewrite: Vec<Vec<Vec<u8>>>,
    in_exec: bool,
    multi_written: bool,
}

impl Feed {
    /// Logs the running command as `argv` instead (call again to log several commands).
    pub fn rewrite(&mut self, argv: &[&[u8]]) {
        if self.on {
            self.rewrite.push(argv.iter().map(|a| a.to_vec()).collect());
        }
    }

    /// Appends one command.
    pub fn emit(&mut self, argv: &[&[u8]]) {
        if self.in_exec && !self.multi_written {
            self.multi_written = true;
            self.append(&[b"MULTI"]);
        }
        self.append(argv);
    }

    fn append(&mut self, argv: &[&[u8]]) {
        let before = self.buf.len();
        encode_command(&mut self.buf, argv);
        self.appended += (self.buf.len() - before) as u64;
    }

    /// `EXEC` starts running its queue: the first write logged opens a `MULTI`.
    pub fn begin_exec(&mut self) {
        self.in_exec = true;
        self.multi_written = false;
    }

    pub fn end_exec(&mut self) {
        if self.multi_written {
            self.append(&[b"EXEC"]);
        }
        self.in_exec = false;
        self.multi_written = false;
    }

    /// Drops what was fed after the first `len` bytes of `buf` (a script stopped by `SHUTDOWN NOSAVE`
    /// leaves nothing half done in the AOF).
    pub fn truncate(&mut self, len: usize) {
        if len <= self.buf.len() {
            self.appended -= (self.buf.len() - len) as u64;
            self.buf.truncate(len);
        }
        self.multi_written = false;
    }

    /// Takes what was fed since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// Logs `DEL key` for every key that expired since the last call.
pub fn log_expired(feed: &mut Feed, db: &mut Db) -> usize {
    let gone = std::mem::take(&mut db.expired_log);
    for key in &gone {
        feed.emit(&[b"DEL", key]);
    }
    gone.len()
}

/// After a command ran: logs the keys it found expired, then the command itself (or its rewrite) if it
/// changed the keyspace. `dirty_before` is `Db::dirty` before it ran. A command that failed changed
/// nothing (a write that finds the wrong type fails before it changes anything, though looking the key up
/// for writing already counted as a change).
pub fn after_command(
    feed: &mut Feed,
    db: &mut Db,
    spec: &CommandSpec,
    argv: &[&[u8]],
    dirty_before: u64,
    ok: bool,
    now: i64,
) {
    let expired = log_expired(feed, db) as u64;
    let rewrites = std::mem::take(&mut feed.rewrite);
    if !ok || db.dirty.wrapping_sub(dirty_before) <= expired || !spec.has(flags::WRITE) {
        return;
    }
    if !rewrites.is_empty() {
        for cmd in &rewrites {
            let refs: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            feed.emit(&refs);
        }
        return;
    }
    match replay_form(db, spec.id, argv, now) {
        Some(cmd) => {
            let refs: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            feed.emit(&refs);
        }
        None => feed.emit(argv),
    }
}

fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

fn owned(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn num(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// The key's absolute expiry after the command, or `None` if the key is gone.
fn expiry(db: &Db, key: &[u8], now: i64) -> Option<i64> {
    db.peek(key, now).map(|e| e.expire_at())
}

/// The deterministic form of a command whose own arguments would not replay to the same result, or
/// `None` to log it as it is.
fn replay_form(db: &Db, id: CommandId, a: &[&[u8]], now: i64) -> Option<Vec<Vec<u8>>> {
    use CommandId as C;
    let key = a.get(1).copied().unwrap_or_default();
    let tail = |from: usize| a.get(from..).unwrap_or_default().iter().map(|x| x.to_vec());
    let gone = || Some(owned(&[b"DEL", key]));
    match id {
        // A time already past deletes the key: logged as DEL, since the log is replayed with the clock
        // stopped (nothing expires while loading, see `persist::load`).
        C::Expire | C::PExpire | C::ExpireAt | C::PExpireAt => Some(match expiry(db, key, now) {
            Some(at) if at != 0 => vec![b"PEXPIREAT".to_vec(), key.to_vec(), num(at)],
            Some(_) => vec![b"PERSIST".to_vec(), key.to_vec()],
            None => vec![b"DEL".to_vec(), key.to_vec()],
        }),
        C::SetEx | C::PSetEx => match expiry(db, key, now) {
            Some(at) => Some(owned(&[b"SET", key, a.get(3).copied().unwrap_or_default(), b"PXAT", &num(at)])),
            None => gone(),
        },
        C::Set => {
            // Options after the value: replace any expiry with PXAT.
            let mut out = owned(&[b"SET", key, a.get(2).copied().unwrap_or_default()]);
            let mut i = 3;
            let mut changed = false;
            while let Some(opt) = a.get(i) {
                if is(opt, "ex") || is(opt, "px") || is(opt, "exat") || is(opt, "pxat") {
                    let Some(at) = expiry(db, key, now) else { return gone() };
                    out.push(b"PXAT".to_vec());
                    out.push(num(at));
                    changed = true;
                    i += 2;
                } else {
                    out.push(opt.to_vec());
                    i += 1;
                }
            }
            changed.then_some(out)
        }
        C::GetEx => match expiry(db, key, now) {
            Some(0) => Some(owned(&[b"PERSIST", key])),
            Some(at) => Some(owned(&[b"PEXPIREAT", key, &num(at)])),
            None => gone(),
        },
        C::Restore => {
            let ttl = a.get(2).copied().unwrap_or_default();
            let Some(at) = expiry(db, key, now) else { return gone() };
            if ttl == b"0" || a.iter().skip(4).any(|x| is(x, "absttl")) {
                return None;
            }
            let mut out = owned(&[b"RESTORE", key, &num(at)]);
            out.extend(tail(3));
            out.push(b"ABSTTL".to_vec());
            Some(out)
        }
        C::IncrByFloat => {
            let v = db.peek(key, now)?.as_str()?;
            Some(owned(&[b"SET", key, v, b"KEEPTTL"]))
        }
        C::HIncrByFloat => {
            let field = a.get(2).copied().unwrap_or_default();
            let v = db.peek(key, now)?.as_hash()?.get(field)?;
            Some(owned(&[b"HSET", key, field, v]))
        }
        C::BLPop | C::BRPop | C::BZPopMin | C::BZPopMax => {
            let keys = a.get(1..a.len().saturating_sub(1)).unwrap_or_default();
            let (name, side): (&[u8], &[u8]) = match id {
                C::BLPop => (b"LMPOP", b"LEFT"),
                C::BRPop => (b"LMPOP", b"RIGHT"),
                C::BZPopMin => (b"ZMPOP", b"MIN"),
                _ => (b"ZMPOP", b"MAX"),
            };
            let mut out = vec![name.to_vec(), num(keys.len() as i64)];
            out.extend(keys.iter().map(|k| k.to_vec()));
            out.push(side.to_vec());
            Some(out)
        }
        C::BLMPop | C::BZMPop => {
            let name: &[u8] = if id == C::BLMPop { b"LMPOP" } else { b"ZMPOP" };
            let mut out = vec![name.to_vec()];
            out.extend(tail(2));
            Some(out)
        }
        C::BLMove => {
            let mut out = vec![b"LMOVE".to_vec()];
            out.extend(tail(1).take(4));
            Some(out)
        }
        C::BRPopLPush => {
            let mut out = vec![b"RPOPLPUSH".to_vec()];
            out.extend(tail(1).take(2));
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::entry::Entry;
    use slotkv_proto::lookup;

    fn form(db: &Db, args: &[&str]) -> Option<Vec<String>> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let spec = lookup(a[0]).unwrap();
        replay_form(db, spec.id, &a, 1000)
            .map(|v| v.into_iter().map(|x| String::from_utf8(x).unwrap()).collect())
    }

    #[test]
    fn relative_times_become_absolute() {
        let mut db = Db::new();
        db.insert(Entry::string(b"k", b"v", 11_000));
        db.insert(Entry::string(b"p", b"v", 0));
        assert_eq!(form(&db, &["EXPIRE", "k", "10"]).unwrap(), ["PEXPIREAT", "k", "11000"]);
        assert_eq!(form(&db, &["EXPIRE", "gone", "-1"]).unwrap(), ["DEL", "gone"]);
        assert_eq!(form(&db, &["SETEX", "k", "10", "v"]).unwrap(), ["SET", "k", "v", "PXAT", "11000"]);
        assert_eq!(
            form(&db, &["SET", "k", "v", "NX", "EX", "10", "GET"]).unwrap(),
            ["SET", "k", "v", "NX", "PXAT", "11000", "GET"]
        );
        assert_eq!(form(&db, &["SET", "p", "v", "KEEPTTL"]), None);
        assert_eq!(form(&db, &["GETEX", "p", "PERSIST"]).unwrap(), ["PERSIST", "p"]);
        // A time already past removed the key: DEL.
        assert_eq!(form(&db, &["PEXPIREAT", "gone", "1"]).unwrap(), ["DEL", "gone"]);
        assert_eq!(form(&db, &["SET", "gone", "v", "PXAT", "1"]).unwrap(), ["DEL", "gone"]);
        assert_eq!(form(&db, &["RESTORE", "gone", "1", "payload", "ABSTTL"]).unwrap(), ["DEL", "gone"]);
        assert_eq!(
            form(&db, &["SET", "k", "v", "PXAT", "11000"]).unwrap(),
            ["SET", "k", "v", "PXAT", "11000"]
        );
        assert_eq!(
            form(&db, &["RESTORE", "k", "10000", "payload", "REPLACE"]).unwrap(),
            ["RESTORE", "k", "11000", "payload", "REPLACE", "ABSTTL"]
        );
    }

    #[test]
    fn blocking_pops_become_their_twins() {
        let db = Db::new();
        assert_eq!(form(&db, &["BLPOP", "a", "b", "0"]).unwrap(), ["LMPOP", "2", "a", "b", "LEFT"]);
        assert_eq!(form(&db, &["BZPOPMAX", "z", "1.5"]).unwrap(), ["ZMPOP", "1", "z", "MAX"]);
        assert_eq!(
            form(&db, &["BLMPOP", "0", "1", "a", "RIGHT", "COUNT", "2"]).unwrap(),
            ["LMPOP", "1", "a", "RIGHT", "COUNT", "2"]
        );
        assert_eq!(
            form(&db, &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]).unwrap(),
            ["LMOVE", "a", "b", "LEFT", "RIGHT"]
        );
        assert_eq!(form(&db, &["BRPOPLPUSH", "a", "b", "0"]).unwrap(), ["RPOPLPUSH", "a", "b"]);
    }

    #[test]
    fn exec_is_wrapped_only_when_it_wrote() {
        let mut f = Feed { on: true, ..Feed::default() };
        f.begin_exec();
        f.end_exec();
        assert!(f.buf.is_empty());
        f.begin_exec();
        f.emit(&[b"SET", b"a", b"1"]);
        f.end_exec();
        let text = String::from_utf8(f.take()).unwrap();
        assert!(text.starts_with("*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET"), "{text}");
        assert!(text.ends_with("*1\r\n$4\r\nEXEC\r\n"));
        assert_eq!(f.appended as usize, text.len());
    }
}
