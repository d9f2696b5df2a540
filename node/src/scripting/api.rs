//! The `redis` table's functions that need no server: `sha1hex`, `status_reply`, `error_reply`, `log`,
//! `setresp`, `set_repl`, `replicate_commands`, `breakpoint`, `debug`, `acl_check_cmd`, and the
//! constants. `redis.call` and `redis.pcall` need the server and are set for each run (see
//! [`super::call`]). Error texts are Redis 7's.

use super::errors::raise;
use mlua::{Lua, MultiValue, Table, Value};
use std::cell::Cell;
use std::rc::Rc;

/// What a script set for itself with `redis.setresp` and `redis.set_repl`; reset before each run.
#[derive(Default)]
pub struct RunFlags {
    /// 2 or 3: the protocol `redis.call` replies are converted from.
    pub resp: Cell<u8>,
    /// `REPL_*` bits: whether writes reach the AOF (`REPL_AOF`, 1) and replicas (`REPL_REPLICA`, 2).
    pub repl: Cell<u8>,
}

impl RunFlags {
    pub fn reset(&self) {
        self.resp.set(2);
        self.repl.set(REPL_ALL);
    }
}

pub const REPL_AOF: u8 = 1;
pub const REPL_REPLICA: u8 = 2;
pub const REPL_ALL: u8 = 3;

/// `redis.REDIS_VERSION` as `INFO` reports it, and its number (0x00MMmmpp).
const VERSION: &str = "7.2.4";
const VERSION_NUM: i64 = 0x07_02_04;

/// The `redis` table with everything but `call` and `pcall`.
pub fn redis_table(lua: &Lua, flags: &Rc<RunFlags>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("REDIS_VERSION", VERSION)?;
    t.raw_set("REDIS_VERSION_NUM", VERSION_NUM)?;
    for (name, level) in [("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3)] {
        t.raw_set(name, level)?;
    }
    for (name, bits) in
        [("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3)]
    {
        t.raw_set(name, bits)?;
    }
    t.raw_set(
        "sha1hex",
        lua.create_function(|_, a: MultiValue| match (a.len(), a.front()) {
            (1, Some(Value::String(s))) => Ok(sha1_hex(&s.as_bytes())),
            (1, Some(Value::Integer(n))) => Ok(sha1_hex(n.to_string().as_bytes())),
            (1, Some(Value::Number(n))) => Ok(sha1_hex(n.to_string().as_bytes())),
            _ => raise("ERR wrong number of arguments"),
        })?,
    )?;
    // Both return an error table rather than raising, as Redis does.
    t.raw_set(
        "status_reply",
        lua.create_function(|lua, a: MultiValue| match (a.len(), a.front()) {
            (1, Some(Value::String(s))) => reply_table(lua, "ok", &s.as_bytes()),
            _ => reply_table(lua, "err", b"ERR wrong number or type of arguments"),
        })?,
    )?;
    t.raw_set(
        "error_reply",
        lua.create_function(|lua, a: MultiValue| match (a.len(), a.front()) {
            (1, Some(Value::String(s))) => {
                reply_table(lua, "err", error_reply_text(&s.as_bytes()).as_bytes())
            }
            _ => reply_table(lua, "err", b"ERR wrong number or type of arguments"),
        })?,
    )?;
    t.raw_set("log", lua.create_function(log)?)?;
    let f = flags.clone();
    t.raw_set(
        "setresp",
        lua.create_function(move |_, a: MultiValue| {
            if a.len() != 1 {
                return raise("ERR redis.setresp() requires one argument.");
            }
            match a.front().and_then(as_number) {
                Some(2.0) => f.resp.set(2),
                Some(3.0) => f.resp.set(3),
                _ => return raise("ERR RESP version must be 2 or 3."),
            }
            Ok(())
        })?,
    )?;
    let f = flags.clone();
    t.raw_set(
        "set_repl",
        lua.create_function(move |_, a: MultiValue| {
            if a.len() != 1 {
                return raise("ERR redis.set_repl() requires two arguments.");
            }
            match a.front().and_then(as_number) {
                Some(n) if (0.0..=3.0).contains(&n) && n.fract() == 0.0 => f.repl.set(n as u8),
                _ => {
                    return raise(
                        "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                    )
                }
            }
            Ok(())
        })?,
    )?;
    t.raw_set("replicate_commands", lua.create_function(|_, _: MultiValue| Ok(true))?)?;
    t.raw_set("breakpoint", lua.create_function(|_, _: MultiValue| Ok(false))?)?;
    t.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    t.raw_set(
        "acl_check_cmd",
        lua.create_function(|_, a: MultiValue| {
            let name = match a.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                _ => return raise("ERR Please specify at least one argument for this redis lib call"),
            };
            // No ACLs: every known command is allowed.
            match slotkv_proto::lookup(&name) {
                Some(_) => Ok(true),
                None => raise("ERR Invalid command passed to redis.acl_check_cmd()"),
            }
        })?,
    )?;
    Ok(t)
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// Lower-case hex SHA1, the script cache's key.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

fn reply_table(lua: &Lua, field: &str, text: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(field, lua.create_string(text)?)?;
    Ok(t)
}

/// `redis.error_reply('My Error')` is `My Error`; a message without a code (`boom`) gets `ERR`.
pub fn error_reply_text(msg: &[u8]) -> String {
    let text = String::from_utf8_lossy(msg);
    let text = text.strip_prefix('-').unwrap_or(&text);
    let text = text.trim_end_matches(['\r', '\n']);
    if text.contains(' ') {
        text.to_string()
    } else {
        format!("ERR {text}")
    }
}

/// `redis.log(level, message...)`: to the node's log at the matching level.
fn log(_: &Lua, a: MultiValue) -> mlua::Result<()> {
    if a.len() < 2 {
        return raise("ERR redis.log() requires two arguments or more.");
    }
    let Some(level) = a.front().and_then(as_number) else {
        return raise("ERR First argument must be a number (log level).");
    };
    if !(0.0..=3.0).contains(&level) {
        return raise("ERR Invalid debug level.");
    }
    let mut msg = String::new();
    for (i, v) in a.iter().skip(1).enumerate() {
        if i > 0 {
            msg.push(' ');
        }
        match v {
            Value::String(s) => msg.push_str(&s.to_string_lossy()),
            Value::Integer(n) => msg.push_str(&n.to_string()),
            Value::Number(n) => msg.push_str(&n.to_string()),
            _ => {}
        }
    }
    match level as u8 {
        0 => tracing::debug!("{msg}"),
        1 => tracing::debug!("{msg}"),
        2 => tracing::info!("{msg}"),
        _ => tracing::warn!("{msg}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reply_codes() {
        assert_eq!(error_reply_text(b"My Error"), "My Error");
        assert_eq!(error_reply_text(b"boom"), "ERR boom");
        assert_eq!(error_reply_text(b"-WRONGTYPE bad"), "WRONGTYPE bad");
    }

    #[test]
    fn sha1_of_empty() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }
}
