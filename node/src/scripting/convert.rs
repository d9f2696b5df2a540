//! Values between RESP and Lua, as Redis documents the conversions.
//!
//! RESP to Lua (a `redis.call` reply): integer -> number, bulk -> string, null bulk / null array ->
//! `false` (RESP3 null -> `nil`), array -> table, status -> `{ok=...}`, error -> `{err=...}`; with
//! `redis.setresp(3)` also map -> `{map={...}}`, set -> `{set={[member]=true}}`, double ->
//! `{double=n}`, big number -> `{big_number=s}`, verbatim -> `{verbatim_string={format=, string=}}`,
//! boolean -> boolean.
//!
//! Lua to RESP (a script's result): number -> integer (truncated), string -> bulk, `true` -> 1 (RESP3
//! scripts: a boolean), `false`/`nil` -> null, `{ok=}` -> status, `{err=}` -> error, the RESP3 shapes
//! above, and any other table -> array up to its first `nil`.

use mlua::{Lua, Table, Value};
use slotkv_proto::{Frame, Out};

/// A `redis.call` reply in the script's protocol (`resp3`: the script asked for RESP3).
pub fn to_lua(lua: &Lua, f: &Frame, resp3: bool) -> mlua::Result<Value> {
    Ok(match f {
        Frame::Integer(n) => Value::Integer(*n),
        Frame::Bulk(b) => Value::String(lua.create_string(b)?),
        Frame::Null if resp3 => Value::Nil,
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Simple(s) => Value::Table(field(lua, "ok", Value::String(lua.create_string(s)?))?),
        Frame::Error(e) => Value::Table(field(lua, "err", Value::String(lua.create_string(e)?))?),
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item, resp3)?)?;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let t = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                t.raw_set(to_lua(lua, k, resp3)?, to_lua(lua, v, resp3)?)?;
            }
            Value::Table(field(lua, "map", Value::Table(t))?)
        }
        Frame::Set(items) => {
            let t = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                t.raw_set(to_lua(lua, item, resp3)?, true)?;
            }
            Value::Table(field(lua, "set", Value::Table(t))?)
        }
        Frame::Double(d) => Value::Table(field(lua, "double", Value::Number(*d))?),
        Frame::Boolean(b) => Value::Boolean(*b),
        Frame::BigNumber(n) => Value::Table(field(lua, "big_number", Value::String(lua.create_string(n)?))?),
        Frame::Verbatim { format, text } => {
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            Value::Table(field(lua, "verbatim_string", Value::Table(inner))?)
        }
        Frame::Attribute { data, .. } => to_lua(lua, data, resp3)?,
    })
}

fn field(lua: &Lua, name: &str, v: Value) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, v)?;
    Ok(t)
}

/// How deep a result may nest before it is cut (a table that contains itself would never end).
const MAX_DEPTH: usize = 512;

/// Writes a script's result. `resp3_script`: the script set RESP3 (booleans stay booleans). The
/// top-level `{err=...}` is the caller's to report, so it is returned instead of written.
pub fn write_result(v: &Value, out: &mut Out, resp3_script: bool) -> Option<String> {
    if let Value::Table(t) = v {
        if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
            return Some(e.to_string_lossy());
        }
    }
    write(v, out, resp3_script, 0);
    None
}

fn write(v: &Value, out: &mut Out, resp3_script: bool, depth: usize) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(truncate(*n)),
        Value::Boolean(b) if resp3_script => out.boolean(*b),
        Value::Boolean(true) => out.int(1),
        Value::Table(t) if depth >= MAX_DEPTH => {
            let _ = t;
            out.error("ERR reached lua stack limit");
        }
        Value::Table(t) => write_table(t, out, resp3_script, depth),
        _ => out.null(),
    }
}

/// A C cast of a double to `long long` as Redis does it on x86-64: toward zero, and the "integer
/// indefinite" value `i64::MIN` for NaN and for what does not fit.
fn truncate(n: f64) -> i64 {
    if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        return i64::MIN;
    }
    n as i64
}

fn write_table(t: &Table, out: &mut Out, resp3_script: bool, depth: usize) {
    let get = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(e) = get("err") {
        out.error(&e.to_string_lossy());
        return;
    }
    if let Value::String(s) = get("ok") {
        let s = s.to_string_lossy().replace(['\r', '\n'], " ");
        out.simple(&s);
        return;
    }
    match get("double") {
        Value::Number(d) => return out.double(d),
        Value::Integer(n) => return out.double(n as f64),
        _ => {}
    }
    if let Value::String(n) = get("big_number") {
        let n = n.to_string_lossy().replace(['\r', '\n'], " ");
        if out.resp3 {
            out.raw(format!("({n}\r\n").as_bytes());
        } else {
            out.bulk(n.as_bytes());
        }
        return;
    }
    if let Value::Table(v) = get("verbatim_string") {
        let format = v.raw_get::<Value>("format").unwrap_or(Value::Nil);
        let text = v.raw_get::<Value>("string").unwrap_or(Value::Nil);
        if let (Value::String(format), Value::String(text)) = (format, text) {
            let (format, text) = (format.as_bytes(), text.as_bytes());
            if out.resp3 {
                let fmt = format.get(..3).unwrap_or(b"txt");
                out.raw(format!("={}\r\n", text.len() + 4).as_bytes());
                out.raw(fmt);
                out.raw(b":");
                out.raw(&text);
                out.raw(b"\r\n");
            } else {
                out.bulk(&text);
            }
            return;
        }
    }
    if let Value::Table(m) = get("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write(k, out, resp3_script, depth + 1);
            write(v, out, resp3_script, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = get("set") {
        let members: Vec<Value> = s.pairs::<Value, Value>().filter_map(Result::ok).map(|(k, _)| k).collect();
        out.set(members.len());
        for k in &members {
            write(k, out, resp3_script, depth + 1);
        }
        return;
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        write(v, out, resp3_script, depth + 1);
    }
}

/// A `redis.call` argument: strings as they are, numbers as Redis prints them (integers without a
/// fraction, others in the shortest form that reads back the same). `None` for any other type.
pub fn arg_bytes(v: &Value, buf: &mut Vec<u8>) -> bool {
    match v {
        Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
        Value::Integer(n) => buf.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 1e17 {
                buf.extend_from_slice(itoa::Buffer::new().format(*n as i64).as_bytes());
            } else {
                buf.extend_from_slice(slotkv_proto::reply::format_double(*n).as_bytes());
            }
        }
        _ => return false,
    }
    true
}
