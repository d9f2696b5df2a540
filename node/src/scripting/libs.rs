//! The libraries Redis gives scripts besides Lua's own: `bit` (LuaBitOp's functions on 32-bit
//! integers) and `cjson` (JSON encode/decode with lua-cjson's defaults: 14 significant digits,
//! `/` escaped, an excessively sparse array refused, `cjson.null` for JSON null).

use super::errors::raise_here;
use mlua::{LightUserData, Lua, MultiValue, Table, Value, Variadic};

/// A Lua number as LuaBitOp reads it: rounded to an integer, then taken modulo 2^32.
fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let r = n.round_ties_even();
    (r.rem_euclid(4_294_967_296.0) as u64 as u32) as i32
}

/// A library error: the message, to which the caller adds where the script was.
type R<T> = Result<T, String>;

/// Lifts a library result into Lua, raising errors as `ERR user_script:<line>: msg`.
fn lift<T>(lua: &Lua, r: R<T>) -> mlua::Result<T> {
    r.or_else(|msg| raise_here(lua, &msg))
}

fn arg(v: &Value, i: usize, name: &str) -> R<i32> {
    match v {
        Value::Integer(n) => Ok(*n as i32),
        Value::Number(n) => Ok(tobit(*n)),
        Value::String(s) => match s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
            Some(n) => Ok(tobit(n)),
            None => Err(format!("bad argument #{i} to '{name}' (number expected, got string)")),
        },
        other => Err(format!("bad argument #{i} to '{name}' (number expected, got {})", other.type_name())),
    }
}

fn args(a: &[Value], name: &str) -> R<Vec<i32>> {
    if a.is_empty() {
        return Err(format!("bad argument #1 to '{name}' (number expected, got no value)"));
    }
    a.iter().enumerate().map(|(i, v)| arg(v, i + 1, name)).collect()
}

pub fn bit_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&str, Fold); 3] = [("band", |a, b| a & b), ("bor", |a, b| a | b), ("bxor", |a, b| a ^ b)];
    for (name, f) in folds {
        t.raw_set(
            name,
            lua.create_function(move |lua, a: Variadic<Value>| {
                let v = lift(lua, args(&a, name))?;
                Ok(v.into_iter().reduce(f).unwrap_or(0))
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |a, n| ((a as u32) << n) as i32),
        ("rshift", |a, n| ((a as u32) >> n) as i32),
        ("arshift", |a, n| a >> n),
        ("rol", |a, n| (a as u32).rotate_left(n) as i32),
        ("ror", |a, n| (a as u32).rotate_right(n) as i32),
    ];
    for (name, f) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |lua, (x, n): (Value, Value)| {
                let x = lift(lua, arg(&x, 1, name))?;
                let n = lift(lua, arg(&n, 2, name))? as u32 & 31;
                Ok(f(x, n))
            })?,
        )?;
    }
    t.raw_set("tobit", lua.create_function(|lua, x: Value| lift(lua, arg(&x, 1, "tobit")))?)?;
    t.raw_set("bnot", lua.create_function(|lua, x: Value| Ok(!lift(lua, arg(&x, 1, "bnot"))?))?)?;
    t.raw_set(
        "bswap",
        lua.create_function(|lua, x: Value| Ok(lift(lua, arg(&x, 1, "bswap"))?.swap_bytes()))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|lua, (x, n): (Value, Option<Value>)| {
            let x = lift(lua, arg(&x, 1, "tohex"))? as u32;
            let n = match n {
                Some(v) => lift(lua, arg(&v, 2, "tohex"))?,
                None => 8,
            };
            let upper = n < 0;
            let digits = (n.unsigned_abs().min(8)) as usize;
            let full = if upper { format!("{x:08X}") } else { format!("{x:08x}") };
            Ok(full.get(8 - digits..).unwrap_or_default().to_string())
        })?,
    )?;
    Ok(t)
}

/// `cjson.null`: a light userdata holding NULL, as lua-cjson has it.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

pub fn cjson_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    t.raw_set("null", null())?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, v: MultiValue| {
            if v.len() != 1 {
                return raise_here(lua, "bad argument #1 to 'encode' (expected 1 argument)");
            }
            let mut out = Vec::new();
            lift(lua, encode(v.front().unwrap_or(&Value::Nil), &mut out, 0))?;
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::String| {
            let bytes = s.as_bytes();
            let parsed: serde_json::Value = match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    let at = e.column().max(1);
                    let found = if e.is_eof() { "T_END" } else { "invalid token" };
                    return raise_here(lua, &format!("Expected value but found {found} at character {at}"));
                }
            };
            decode(lua, &parsed)
        })?,
    )?;
    // Settings functions: accepted, lua-cjson's defaults stay.
    for name in [
        "encode_sparse_array",
        "encode_max_depth",
        "decode_max_depth",
        "encode_number_precision",
        "encode_keep_buffer",
        "encode_invalid_numbers",
        "decode_invalid_numbers",
    ] {
        t.raw_set(name, lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    }
    Ok(t)
}

const MAX_DEPTH: usize = 1000;

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> R<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(format_g14(*n).as_bytes());
        }
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({})", depth + 1));
            }
            encode_table(t, out, depth + 1)?;
        }
        other => return Err(format!("Cannot serialise {}: type not supported", other.type_name())),
    }
    Ok(())
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// An array if every key is a positive integer (and it is not too sparse), else an object.
fn encode_table(t: &Table, out: &mut Vec<u8>, depth: usize) -> R<()> {
    let mut max = 0usize;
    let mut items = 0usize;
    let mut array = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        items += 1;
        let index = match k {
            Value::Integer(n) if n >= 1 => Some(n as usize),
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => Some(n as usize),
            _ => None,
        };
        match index {
            Some(i) => max = max.max(i),
            None => array = false,
        }
    }
    if array && items > 0 {
        if max > 10 && max > items * 2 {
            return Err("Cannot serialise table: excessively sparse array".into());
        }
        out.push(b'[');
        for i in 1..=max {
            if i > 1 {
                out.push(b',');
            }
            encode(&t.raw_get::<Value>(i).map_err(|e| e.to_string())?, out, depth)?;
        }
        out.push(b']');
        return Ok(());
    }
    out.push(b'{');
    let mut first = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        if !first {
            out.push(b',');
        }
        first = false;
        match &k {
            Value::String(s) => encode_string(&s.as_bytes(), out),
            Value::Integer(n) => encode_string(n.to_string().as_bytes(), out),
            Value::Number(n) => encode_string(format_g14(*n).as_bytes(), out),
            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
        }
        out.push(b':');
        encode(&v, out, depth)?;
    }
    out.push(b'}');
    Ok(())
}

/// `%.14g`, lua-cjson's number format.
pub fn format_g14(n: f64) -> String {
    if n == 0.0 {
        return if n.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let exp = n.abs().log10().floor() as i32;
    if !(-5..14).contains(&exp) {
        let s = format!("{:.13e}", n);
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = trim_zeros(mantissa);
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (13 - exp).max(0) as usize;
    trim_zeros(&format!("{n:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.')
}

fn decode(lua: &Lua, v: &serde_json::Value) -> mlua::Result<Value> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => null(),
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, decode(lua, item)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(k.as_str(), decode(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_wraps_like_luabitop() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(4294967296.0), 0);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(3.5), 4);
    }

    #[test]
    fn numbers_like_cjson() {
        assert_eq!(format_g14(1.0), "1");
        assert_eq!(format_g14(0.1), "0.1");
        assert_eq!(format_g14(1.0 / 3.0), "0.33333333333333");
        assert_eq!(format_g14(1e20), "1e+20");
        assert_eq!(format_g14(-2.5), "-2.5");
    }
}
