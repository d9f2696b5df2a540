//! Script errors as Redis 7 reports them. Every error a script raises reaches [`handler`] (the message
//! handler of the `xpcall` the script runs in), which turns it into a table `{err=..., source=...,
//! line=...}`; the reply is then `-<err> script: <sha>, on <source>:<line>.`
//!
//! - a Lua error (`error('boom')`, `nil + 1`) becomes `ERR user_script:1: boom`;
//! - an error table (`error({err='MY code'})`) keeps its text;
//! - a failed `redis.call` raises a [`ScriptError`] carrying the command's error (`WRONGTYPE ...`), which
//!   Lua sees as an opaque value, so the handler takes the text out of it.

use super::sandbox::INTERNAL_CHUNK;
use mlua::{Lua, Table, Value};
use std::fmt;

/// An error raised from Rust into the script, with its full text (code first).
#[derive(Debug, Clone)]
pub struct ScriptError(pub String);

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScriptError {}

/// Raises `msg` (with its code) as the script's error.
pub fn raise<T>(msg: impl Into<String>) -> mlua::Result<T> {
    Err(mlua::Error::external(ScriptError(msg.into())))
}

/// Raises `ERR user_script:<line>: msg`, the way Lua's own library functions report a bad call.
pub fn raise_here<T>(lua: &Lua, msg: &str) -> mlua::Result<T> {
    match script_position(lua) {
        Some((source, line)) => {
            raise(format!("ERR {}:{line}: {msg}", source.strip_prefix('@').unwrap_or(&source)))
        }
        None => raise(format!("ERR {msg}")),
    }
}

/// The text of an error raised from Rust: ours as it is, any other (a bad argument to a library
/// function) with `ERR ` before it.
pub fn rust_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => rust_error_text(cause),
        mlua::Error::WithContext { cause, .. } => rust_error_text(cause),
        mlua::Error::ExternalError(inner) => match inner.downcast_ref::<ScriptError>() {
            Some(ScriptError(msg)) => msg.clone(),
            None => format!("ERR {inner}"),
        },
        mlua::Error::RuntimeError(msg) => format!("ERR {msg}"),
        other => format!("ERR {other}"),
    }
}

/// The `xpcall` message handler: any error value to an error table with where the script was.
pub fn handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let table = match err {
        Value::Table(t) => t,
        other => {
            let msg = match &other {
                Value::Error(e) => rust_error_text(e),
                Value::String(s) => format!("ERR {}", s.to_string_lossy()),
                v => format!(
                    "ERR {}",
                    lua.coerce_string(v.clone())
                        .ok()
                        .flatten()
                        .map_or_else(|| v.type_name().to_string(), |s| s.to_string_lossy(),)
                ),
            };
            let t = lua.create_table()?;
            t.raw_set("err", msg)?;
            t
        }
    };
    if let Some((source, line)) = script_position(lua) {
        table.raw_set("source", source)?;
        table.raw_set("line", line)?;
    }
    Ok(table)
}

/// The innermost frame of the script's own code: frames of C functions and of the sandbox are skipped.
fn script_position(lua: &Lua) -> Option<(String, i64)> {
    for level in 1..64 {
        let frame = lua.inspect_stack(level, |d| {
            let src = d.source();
            let c = src.what == "C";
            let source = src.source.as_deref().unwrap_or_default().to_string();
            (c, source, d.current_line())
        })?;
        let (is_c, source, line) = frame;
        if is_c || source == INTERNAL_CHUNK {
            continue;
        }
        return Some((source, line.map_or(-1, |l| l as i64)));
    }
    None
}

/// What an error table says: its `err` text, and `script: <name>, on <source>:<line>.` after it when
/// the table knows where it was raised.
pub fn reply_text(t: &Table, name: &str) -> String {
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        Ok(Value::Integer(n)) => n.to_string(),
        Ok(Value::Number(n)) => n.to_string(),
        _ => "ERR unknown error".to_string(),
    };
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    match (source, line) {
        (Some(source), Some(line)) => format!("{msg} script: {name}, on {source}:{line}."),
        _ => msg,
    }
}
