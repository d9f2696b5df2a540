//! The slot map, read from `CLUSTER SHARDS` (Redis 7, slotkv) or `CLUSTER SLOTS` (older servers): for
//! every slot, the primary's address and its replicas' (kept per slot range: the slots of one range share
//! one [`Shard`]).

use crate::error::{Error, Result};
use slotkv_proto::frame::Frame;
use slotkv_proto::slot::SLOT_COUNT;
use std::sync::Arc;

/// The nodes serving a slot range: the primary, and the replicas that are up (they serve reads after
/// `READONLY`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) primary: Arc<str>,
    pub(crate) replicas: Vec<Arc<str>>,
}

impl Shard {
    /// A shard known only by its primary (what a `MOVED` tells).
    pub(crate) fn primary(addr: &str) -> Arc<Shard> {
        Arc::new(Shard { primary: Arc::from(addr), replicas: Vec::new() })
    }
}

/// The shard serving each slot, `None` where no node does.
pub(crate) type SlotMap = Vec<Option<Arc<Shard>>>;

fn bad(what: &str) -> Error {
    Error::Protocol(format!("unexpected CLUSTER {what} reply"))
}

fn assign(map: &mut SlotMap, start: i64, end: i64, shard: &Arc<Shard>) {
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else { return };
    for s in map.get_mut(start..=end.min(SLOT_COUNT - 1)).into_iter().flatten() {
        *s = Some(Arc::clone(shard));
    }
}

/// The field/value pairs of a RESP3 map or of its RESP2 form, a flat array.
fn pairs(frame: Frame) -> Option<Vec<(Vec<u8>, Frame)>> {
    match frame {
        Frame::Map(entries) => entries
            .into_iter()
            .map(|(k, v)| match k {
                Frame::Bulk(k) | Frame::Simple(k) => Some((k, v)),
                _ => None,
            })
            .collect(),
        Frame::Array(items) => {
            let mut out = Vec::new();
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                let (Frame::Bulk(k) | Frame::Simple(k)) = k else { return None };
                out.push((k, v));
            }
            Some(out)
        }
        _ => None,
    }
}

fn text(f: &Frame) -> Option<String> {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// `CLUSTER SHARDS`: per shard its slot ranges and its nodes; the online primary serves the slots, the
/// online replicas may serve reads. The address is the node's `endpoint` (what it announces), else its
/// `ip`.
pub(crate) fn parse_shards(frame: Frame) -> Result<SlotMap> {
    let mut map = vec![None; SLOT_COUNT];
    let Frame::Array(shards) = frame else { return Err(bad("SHARDS")) };
    for shard in shards {
        let (mut ranges, mut nodes) = (Vec::new(), Vec::new());
        for (k, v) in pairs(shard).ok_or_else(|| bad("SHARDS"))? {
            match (k.as_slice(), v) {
                (b"slots", Frame::Array(r)) => ranges = r,
                (b"nodes", Frame::Array(n)) => nodes = n,
                _ => {}
            }
        }
        let (mut primary, mut replicas) = (None, Vec::new());
        for node in nodes {
            let fields = pairs(node).ok_or_else(|| bad("SHARDS"))?;
            let field = |name: &[u8]| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            let role = field(b"role").and_then(text).unwrap_or_default();
            let online = field(b"health").and_then(text).is_none_or(|h| h == "online");
            let host = field(b"endpoint").and_then(text).filter(|e| !e.is_empty() && e != "?");
            let host = host.or_else(|| field(b"ip").and_then(text));
            let port = match field(b"port") {
                Some(Frame::Integer(p)) => Some(*p),
                _ => None,
            };
            let (true, Some(host), Some(port)) = (online, host, port) else { continue };
            let addr = Arc::<str>::from(format!("{host}:{port}").as_str());
            match role.as_str() {
                "master" => primary = Some(addr),
                "replica" | "slave" => replicas.push(addr),
                _ => {}
            }
        }
        let Some(primary) = primary else { continue };
        let shard = Arc::new(Shard { primary, replicas });
        let mut r = ranges.into_iter();
        while let (Some(Frame::Integer(start)), Some(Frame::Integer(end))) = (r.next(), r.next()) {
            assign(&mut map, start, end, &shard);
        }
    }
    Ok(map)
}

/// `CLUSTER SLOTS`: per range its start, end, its primary (ip, port, ...) and then its replicas.
pub(crate) fn parse_slots(frame: Frame) -> Result<SlotMap> {
    let mut map = vec![None; SLOT_COUNT];
    let Frame::Array(ranges) = frame else { return Err(bad("SLOTS")) };
    for range in ranges {
        let Frame::Array(items) = range else { return Err(bad("SLOTS")) };
        let mut it = items.into_iter();
        let (Some(Frame::Integer(start)), Some(Frame::Integer(end)), Some(Frame::Array(node))) =
            (it.next(), it.next(), it.next())
        else {
            return Err(bad("SLOTS"));
        };
        let primary = address(node).ok_or_else(|| bad("SLOTS"))?;
        let replicas = it.filter_map(|n| match n {
            Frame::Array(n) => address(n),
            _ => None,
        });
        let shard = Arc::new(Shard { primary, replicas: replicas.collect() });
        assign(&mut map, start, end, &shard);
    }
    Ok(map)
}

/// `ip:port` of one node of a `CLUSTER SLOTS` range (`[ip, port, id, ...]`).
fn address(node: Vec<Frame>) -> Option<Arc<str>> {
    let mut node = node.into_iter();
    let (Some(ip), Some(Frame::Integer(port))) = (node.next().as_ref().and_then(text), node.next()) else {
        return None;
    };
    Some(Arc::from(format!("{ip}:{port}").as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary(map: &SlotMap, slot: usize) -> Option<&str> {
        map[slot].as_ref().map(|s| &*s.primary)
    }

    fn replicas(map: &SlotMap, slot: usize) -> Vec<&str> {
        map[slot].as_ref().map(|s| s.replicas.iter().map(|r| &**r).collect()).unwrap_or_default()
    }

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(s.as_bytes().to_vec())
    }

    fn node(port: i64, role: &str, health: &str) -> Frame {
        Frame::Array(vec![
            bulk("id"),
            bulk("abc"),
            bulk("port"),
            Frame::Integer(port),
            bulk("ip"),
            bulk("10.0.0.1"),
            bulk("endpoint"),
            bulk("db.example"),
            bulk("role"),
            bulk(role),
            bulk("health"),
            bulk(health),
        ])
    }

    #[test]
    fn shards_give_the_online_primary_of_each_range() {
        let shard = Frame::Array(vec![
            bulk("slots"),
            Frame::Array(vec![Frame::Integer(0), Frame::Integer(9), Frame::Integer(20), Frame::Integer(20)]),
            bulk("nodes"),
            Frame::Array(vec![
                node(7001, "replica", "online"),
                node(7000, "master", "online"),
                node(7003, "replica", "loading"),
                node(7004, "replica", "fail"),
            ]),
        ]);
        let dead = Frame::Array(vec![
            bulk("slots"),
            Frame::Array(vec![Frame::Integer(30), Frame::Integer(40)]),
            bulk("nodes"),
            Frame::Array(vec![node(7002, "master", "fail")]),
        ]);
        let map = parse_shards(Frame::Array(vec![shard, dead])).unwrap();
        assert_eq!(primary(&map, 0), Some("db.example:7000"));
        assert_eq!(primary(&map, 9), Some("db.example:7000"));
        assert_eq!(map[10], None);
        assert_eq!(primary(&map, 20), Some("db.example:7000"));
        assert_eq!(map[35], None, "a failed primary serves nothing");
        assert_eq!(replicas(&map, 0), ["db.example:7001"], "only online replicas serve reads");
        assert!(Arc::ptr_eq(map[0].as_ref().unwrap(), map[20].as_ref().unwrap()), "one shard per range");
    }

    #[test]
    fn resp3_maps_read_like_their_resp2_arrays() {
        let node = Frame::Map(vec![
            (bulk("port"), Frame::Integer(7000)),
            (bulk("ip"), bulk("127.0.0.1")),
            (bulk("endpoint"), bulk("?")),
            (bulk("role"), bulk("master")),
        ]);
        let shard = Frame::Map(vec![
            (bulk("slots"), Frame::Array(vec![Frame::Integer(5), Frame::Integer(6)])),
            (bulk("nodes"), Frame::Array(vec![node])),
        ]);
        let map = parse_shards(Frame::Array(vec![shard])).unwrap();
        assert_eq!(primary(&map, 5), Some("127.0.0.1:7000"), "an unknown endpoint falls back to the ip");
        assert!(parse_shards(Frame::Integer(3)).is_err());
    }

    #[test]
    fn slots_ranges() {
        let range = Frame::Array(vec![
            Frame::Integer(0),
            Frame::Integer(16383),
            Frame::Array(vec![bulk("127.0.0.1"), Frame::Integer(7000), bulk("id")]),
            Frame::Array(vec![bulk("127.0.0.1"), Frame::Integer(7003), bulk("id3")]),
            Frame::Array(vec![bulk("127.0.0.1"), Frame::Integer(7004), bulk("id4")]),
        ]);
        let map = parse_slots(Frame::Array(vec![range])).unwrap();
        assert!((0..SLOT_COUNT).all(|s| primary(&map, s) == Some("127.0.0.1:7000")));
        assert_eq!(
            replicas(&map, 16383),
            ["127.0.0.1:7003", "127.0.0.1:7004"],
            "replicas follow the primary"
        );
        assert!(parse_slots(Frame::Array(vec![Frame::Integer(1)])).is_err());
    }
}
