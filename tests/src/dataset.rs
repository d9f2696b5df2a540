//! A data set of every type and encoding, read back by type and compared: what persistence and
//! replication tests write and check.

use crate::{Conn, Reply};
use std::collections::BTreeMap;

/// A key's content read back with its type's own commands (DUMP payloads would differ between encodings).
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    Str(Vec<u8>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// Members with their scores as the node prints them.
    Zset(Vec<(Vec<u8>, String)>),
}

/// Every key's content and `PTTL` (-1 without a TTL).
pub type Contents = BTreeMap<Vec<u8>, (Content, i64)>;

pub fn bytes(r: &Reply) -> Vec<u8> {
    match r.as_bytes() {
        Some(b) => b.to_vec(),
        None => panic!("expected a string reply, got {r:?}"),
    }
}

pub fn pairs(items: Vec<Reply>) -> Vec<(Vec<u8>, Vec<u8>)> {
    items.chunks(2).map(|p| (bytes(&p[0]), bytes(&p[1]))).collect()
}

/// Reads every key back by type.
pub fn contents(c: &mut Conn) -> Contents {
    contents_matching(c, |_| true)
}

/// Reads back the keys `wanted` accepts.
pub fn contents_matching(c: &mut Conn, wanted: impl Fn(&[u8]) -> bool) -> Contents {
    let mut out = Contents::new();
    for key in c.cmd(&["KEYS", "*"]).items().iter().map(bytes).filter(|k| wanted(k)) {
        let k: &[u8] = &key;
        let kind = c.cmd(&[b"TYPE".as_slice(), k]).text();
        let content = match kind.as_str() {
            "string" => Content::Str(c.bulk(&[b"GET".as_slice(), k]).unwrap_or_default()),
            "hash" => {
                let mut v = pairs(c.cmd(&[b"HGETALL".as_slice(), k]).items());
                v.sort();
                Content::Hash(v)
            }
            "list" => Content::List(
                c.cmd(&[b"LRANGE".as_slice(), k, b"0", b"-1"]).items().iter().map(bytes).collect(),
            ),
            "set" => {
                let mut v: Vec<Vec<u8>> =
                    c.cmd(&[b"SMEMBERS".as_slice(), k]).items().iter().map(bytes).collect();
                v.sort();
                Content::Set(v)
            }
            "zset" => Content::Zset(
                pairs(c.cmd(&[b"ZRANGE".as_slice(), k, b"0", b"-1", b"WITHSCORES"]).items())
                    .into_iter()
                    .map(|(m, s)| (m, String::from_utf8_lossy(&s).into_owned()))
                    .collect(),
            ),
            other => panic!("key {} has type {other}", String::from_utf8_lossy(k)),
        };
        let ttl = c.int(&[b"PTTL".as_slice(), k]);
        out.insert(key, (content, ttl));
    }
    out
}

/// Asserts that `after` holds exactly `before`'s keys and contents; TTLs kept (not longer than before).
#[track_caller]
pub fn assert_same(before: &Contents, after: &Contents, how: &str) {
    let missing: Vec<String> = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .map(|k| String::from_utf8_lossy(k).into())
        .collect();
    let extra: Vec<String> = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .map(|k| String::from_utf8_lossy(k).into())
        .collect();
    assert!(missing.is_empty() && extra.is_empty(), "{how}: keys missing {missing:?}, unexpected {extra:?}");
    for (key, (content, ttl)) in before {
        let name = String::from_utf8_lossy(key);
        let (got, got_ttl) = &after[key];
        if got != content {
            let show = |c: &Content| {
                let s = format!("{c:?}");
                s.chars().take(300).collect::<String>()
            };
            panic!("{how}: key {name} differs\n  before: {}\n  after:  {}", show(content), show(got));
        }
        if *ttl < 0 {
            assert_eq!(*got_ttl, *ttl, "{how}: key {name} TTL");
        } else {
            assert!(*got_ttl > 0 && got_ttl <= ttl, "{how}: key {name} PTTL {got_ttl}, before {ttl}");
        }
    }
}

/// Deterministic pseudo-random bytes (every byte value, CR and LF included).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Writes keys of every type, in small and large encodings, some with TTLs.
pub fn fill(c: &mut Conn) {
    // Strings: text, integers (int-encoded), a float, empty, binary, big.
    for (k, v) in [
        ("s:plain", "hello world"),
        ("s:int", "12345"),
        ("s:neg", "-42"),
        ("s:max", "9223372036854775807"),
        ("s:min", "-9223372036854775808"),
        ("s:float", "3.14"),
        ("s:lead0", "007"),
        ("s:empty", ""),
    ] {
        c.ok(&["SET", k, v]);
    }
    c.ok(&[b"SET".as_slice(), b"s:bin", &noise(300, 1)]);
    c.ok(&[b"SET".as_slice(), b"s:big", &noise(300_000, 2)]);
    c.ok(&[b"SET".as_slice(), b"k\x00\r\n\xffbinary key", b"v"]);
    c.int(&["INCRBY", "s:counter", "41"]);
    c.int(&["INCR", "s:counter"]);
    c.int(&["APPEND", "s:append", "abc"]);
    c.int(&["APPEND", "s:append", "def"]);

    // Hashes: small (listpack), many fields, one big value (both past the listpack limits).
    c.int(&["HSET", "h:small", "a", "1", "b", "two", "c", ""]);
    let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"h:large".to_vec()];
    for i in 0..600 {
        args.push(format!("field:{i}").into_bytes());
        args.push(format!("value:{i}").into_bytes());
    }
    c.int(&args);
    c.int(&[b"HSET".as_slice(), b"h:bigval", b"f", &noise(1000, 3), b"g", b"1"]);
    c.int(&["HINCRBY", "h:small", "n", "7"]);

    // Lists: small, long, one big element.
    c.int(&["RPUSH", "l:small", "a", "b", "1", "-2", ""]);
    let mut args: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), b"l:large".to_vec()];
    args.extend((0..3000).map(|i| format!("item-{i}").into_bytes()));
    c.int(&args);
    c.int(&["LPUSH", "l:large", "head"]);
    c.int(&[b"RPUSH".as_slice(), b"l:bigel", b"x", &noise(20_000, 4), b"y"]);

    // Sets: intset, small strings, many strings, many integers (past the intset limit), mixed.
    c.int(&["SADD", "set:int", "1", "2", "3", "-100", "9223372036854775807"]);
    c.int(&["SADD", "set:str", "a", "b", "c"]);
    let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"set:large".to_vec()];
    args.extend((0..1000).map(|i| format!("member-{i}").into_bytes()));
    c.int(&args);
    let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"set:bigint".to_vec()];
    args.extend((0..1000).map(|i| (i * 7 - 3000).to_string().into_bytes()));
    c.int(&args);
    c.int(&["SADD", "set:mixed", "1", "2", "x"]);

    // Sorted sets: small with special scores, large.
    c.int(&["ZADD", "z:small", "1", "a", "2.5", "b", "-3", "c", "inf", "top", "-inf", "bottom", "0", "zero"]);
    let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"z:large".to_vec()];
    for i in 0..500 {
        args.push(format!("{}", f64::from(i) / 3.0).into_bytes());
        args.push(format!("m{i}").into_bytes());
    }
    c.int(&args);
    c.int(&[b"ZADD".as_slice(), b"z:bigmember", b"1", &noise(200, 5)]);

    // TTLs on every kind of key.
    c.ok(&["SET", "ttl:str", "v", "PX", "3600000"]);
    c.int(&["HSET", "ttl:hash", "f", "v"]);
    c.int(&["EXPIRE", "ttl:hash", "7200"]);
    c.int(&["RPUSH", "ttl:list", "a"]);
    c.int(&["PEXPIREAT", "ttl:list", &(unix_ms() + 9_000_000).to_string()]);
    c.int(&["SADD", "ttl:set", "a"]);
    c.int(&["EXPIRE", "ttl:set", "100000"]);
    c.int(&["ZADD", "ttl:zset", "1", "a"]);
    c.int(&["EXPIRE", "ttl:zset", "100000"]);
    // Deleted and overwritten keys must stay so.
    c.ok(&["SET", "gone:deleted", "x"]);
    c.int(&["DEL", "gone:deleted"]);
    c.ok(&["SET", "s:overwritten", "old"]);
    c.ok(&["SET", "s:overwritten", "new"]);
}

pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
