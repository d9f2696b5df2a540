//! `keyslot`, `info` and `call`: small read-mostly commands.

use crate::check::node_table;
use crate::error::Res;
use crate::output::Out;
use crate::view::Cluster;
use serde_json::{json, Value};
use slotkv_client::proto::frame::Frame;
use slotkv_client::Cmd;

pub fn keyslot(out: &Out, key: &str) -> Res<()> {
    let slot = slotkv_proto::key_slot(key.as_bytes());
    out.line(slot.to_string());
    out.doc(&json!({"key": key, "slot": slot}));
    Ok(())
}

pub async fn info(out: &Out, entry: &str) -> Res<()> {
    let c = Cluster::load(entry).await?;
    let nodes = node_table(out, &c).await;
    let keys: i64 = nodes.as_array().map_or(0, |a| a.iter().filter_map(|n| n["keys"].as_i64()).sum());
    let masters = c.masters().len();
    out.line(format!(
        "[OK] {keys} keys in {masters} masters; {:.2} keys per slot on average",
        keys as f64 / slotkv_proto::slot::SLOT_COUNT as f64
    ));
    out.doc(&json!({"nodes": nodes, "keys": keys, "masters": masters}));
    Ok(())
}

/// A reply as redis-cli prints it (without `--raw`), on one or more lines.
pub fn render(f: &Frame, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match f {
        Frame::Simple(s) => out.push_str(&String::from_utf8_lossy(s)),
        Frame::Error(e) => out.push_str(&format!("(error) {}", String::from_utf8_lossy(e))),
        Frame::Integer(n) => out.push_str(&format!("(integer) {n}")),
        Frame::Bulk(b) => out.push_str(&format!("\"{}\"", String::from_utf8_lossy(b).escape_default())),
        Frame::Verbatim { text, .. } => out.push_str(&String::from_utf8_lossy(text)),
        Frame::Null | Frame::NullArray => out.push_str("(nil)"),
        Frame::Double(d) => out.push_str(&format!("(double) {d}")),
        Frame::Boolean(b) => out.push_str(&format!("({})", if *b { "true" } else { "false" })),
        Frame::BigNumber(b) => out.push_str(&format!("(big number) {}", String::from_utf8_lossy(b))),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            if items.is_empty() {
                out.push_str("(empty array)");
            }
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&pad);
                }
                out.push_str(&format!("{}) ", i + 1));
                render(item, indent + 3, out);
            }
        }
        Frame::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&pad);
                }
                out.push_str(&format!("{}# ", i + 1));
                render(k, indent + 3, out);
                out.push_str(" => ");
                render(v, indent + 3, out);
            }
        }
        Frame::Attribute { data, .. } => render(data, indent, out),
    }
}

/// A reply as JSON: strings, numbers, arrays, objects; errors as `{"error": text}`.
pub fn to_json(f: &Frame) -> Value {
    let text = |b: &[u8]| Value::String(String::from_utf8_lossy(b).into_owned());
    match f {
        Frame::Simple(s) | Frame::Bulk(s) | Frame::BigNumber(s) => text(s),
        Frame::Verbatim { text: t, .. } => text(t),
        Frame::Error(e) => json!({"error": String::from_utf8_lossy(e)}),
        Frame::Integer(n) => json!(n),
        Frame::Double(d) => json!(d),
        Frame::Boolean(b) => json!(b),
        Frame::Null | Frame::NullArray => Value::Null,
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            Value::Array(items.iter().map(to_json).collect())
        }
        Frame::Map(pairs) => {
            Value::Array(pairs.iter().map(|(k, v)| json!([to_json(k), to_json(v)])).collect())
        }
        Frame::Attribute { data, .. } => to_json(data),
    }
}

pub async fn call(out: &Out, entry: &str, args: &[String]) -> Res<()> {
    let c = Cluster::load(entry).await?;
    let command = Cmd::from_args(args.iter().map(|a| a.as_bytes().to_vec()).collect());
    let mut rows = Vec::new();
    let mut errors = 0;
    for v in c.views.values() {
        let reply = v.conn.raw(std::slice::from_ref(&command)).await;
        let (shown, value) = match &reply {
            Ok(frames) => {
                let f = frames.first().cloned().unwrap_or(Frame::Null);
                if matches!(f, Frame::Error(_)) {
                    errors += 1;
                }
                let mut s = String::new();
                render(&f, 0, &mut s);
                (s, to_json(&f))
            }
            Err(e) => {
                errors += 1;
                (format!("(error) {e}"), json!({"error": e.to_string()}))
            }
        };
        out.line(format!("{}: {shown}", v.conn.addr));
        rows.push(json!({"addr": v.conn.addr, "id": v.me.id, "reply": value}));
    }
    for (id, why) in &c.unreachable {
        errors += 1;
        out.line(format!("{}: (error) {why}", crate::view::short(id)));
    }
    out.doc(&json!({"ok": errors == 0, "replies": rows}));
    if errors == 0 {
        Ok(())
    } else {
        problem!("{errors} node(s) answered with an error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_redis_cli() {
        let mut s = String::new();
        render(&Frame::Array(vec![Frame::Bulk(b"a".to_vec()), Frame::Integer(2), Frame::Null]), 0, &mut s);
        assert_eq!(s, "1) \"a\"\n2) (integer) 2\n3) (nil)");
        assert_eq!(
            to_json(&Frame::Array(vec![Frame::Integer(1), Frame::Simple(b"OK".to_vec())])),
            json!([1, "OK"])
        );
    }
}
