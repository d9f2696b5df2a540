//! The serialized form of one value: what `DUMP` returns and `RESTORE` (and cluster slot migration)
//! takes. Our own format, versioned and checksummed; it is not Redis's RDB encoding, so a Redis `DUMP`
//! payload is refused (its version field differs).
//!
//! ```text
//! payload  = type:u8  body  version:u16le  crc:u64le
//! type     = 0 string | 1 list | 2 set | 3 sorted set | 4 hash      (RDB's numbers for the same types)
//! body     = string:      the bytes (up to the footer)
//!          | list, set:   count:varint  (len:varint bytes){count}
//!          | sorted set:  count:varint  (len:varint member  score:f64le){count}, ascending
//!          | hash:        count:varint  (len:varint field  len:varint value){count}
//! version  = 1001 (format 1; numbers below 1000 are left to RDB versions)
//! crc      = CRC-64/Jones (as Redis's) of everything before it
//! ```
//! Varints are LEB128. The body alone ([`encode_body`], [`decode_body`]) is also a snapshot record's
//! value (`persist::snapshot`), which frames and checksums it in its own way. Decoding checks the checksum first, then that every length fits and nothing is
//! left over; the encoding of the rebuilt value follows the node's current `*-max-listpack-*` settings.

use crate::config::Config;
use crate::db::entry::{Entry, Value};
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::pack::{read_varint, write_varint as varint};
use crate::types::set::{Set, SetLimits};
use crate::types::zset::{Zset, ZsetLimits};

pub const VERSION: u16 = 1001;
const CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

pub const T_STRING: u8 = 0;
pub const T_LIST: u8 = 1;
pub const T_SET: u8 = 2;
pub const T_ZSET: u8 = 3;
pub const T_HASH: u8 = 4;

/// Why a payload was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BadPayload {
    /// Too short, another version, or a checksum mismatch.
    VersionOrChecksum,
    /// A checksummed payload whose body does not parse.
    Format,
}

/// A decoded value, to be stored under a key.
pub enum Decoded {
    Str(Vec<u8>),
    Hash(Hash),
    List(List),
    Set(Set),
    Zset(Zset),
}

impl Decoded {
    pub fn into_entry(self, key: &[u8], expire_at: i64) -> Entry {
        match self {
            Decoded::Str(s) => Entry::string(key, &s, expire_at),
            Decoded::Hash(h) => Entry::collection(key, h, expire_at),
            Decoded::List(l) => Entry::collection(key, l, expire_at),
            Decoded::Set(s) => Entry::collection(key, s, expire_at),
            Decoded::Zset(z) => Entry::collection(key, z, expire_at),
        }
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    varint(out, b.len());
    out.extend_from_slice(b);
}

/// The type byte of an entry's value (the numbers in the module doc).
pub fn type_byte(entry: &Entry) -> u8 {
    match entry.value() {
        None | Some(Value::Str) => T_STRING,
        Some(Value::Hash(_)) => T_HASH,
        Some(Value::List(_)) => T_LIST,
        Some(Value::Set(_)) => T_SET,
        Some(Value::Zset(_)) => T_ZSET,
    }
}

/// Appends the body of an entry's value to `out` (no type byte, no footer), so that a snapshot writes
/// every record into its block buffer without a buffer per key. Returns the type byte.
pub fn encode_body(entry: &Entry, out: &mut Vec<u8>) -> u8 {
    match entry.value() {
        None | Some(Value::Str) => {
            out.extend_from_slice(entry.as_str().unwrap_or_default());
        }
        Some(Value::Hash(h)) => {
            varint(out, h.len());
            for (f, v) in h.iter() {
                bytes(out, f);
                bytes(out, v);
            }
        }
        Some(Value::List(l)) => {
            varint(out, l.len());
            for e in l.iter() {
                bytes(out, e);
            }
        }
        Some(Value::Set(s)) => {
            varint(out, s.len());
            for m in s.iter() {
                m.with_bytes(|b| bytes(out, b));
            }
        }
        Some(Value::Zset(z)) => {
            varint(out, z.len());
            for (m, score) in z.iter() {
                bytes(out, m);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
    type_byte(entry)
}

/// The payload of an entry's value.
pub fn encode(entry: &Entry) -> Vec<u8> {
    let mut out = vec![type_byte(entry)];
    encode_body(entry, &mut out);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = CRC.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks version and checksum; returns the type byte and the body.
pub fn verify(payload: &[u8]) -> Result<(u8, &[u8]), BadPayload> {
    let len = payload.len();
    if len < 11 {
        return Err(BadPayload::VersionOrChecksum);
    }
    let (signed, crc) = payload.split_at(len - 8);
    let (body, version) = signed.split_at(signed.len() - 2);
    let version = u16::from_le_bytes([version[0], version[1]]);
    let crc = u64::from_le_bytes(crc.try_into().map_err(|_| BadPayload::VersionOrChecksum)?);
    if version != VERSION || CRC.checksum(signed) != crc {
        return Err(BadPayload::VersionOrChecksum);
    }
    let (&kind, body) = body.split_first().ok_or(BadPayload::VersionOrChecksum)?;
    Ok((kind, body))
}

/// Reads lengths and byte strings off a body, refusing anything that does not fit.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<usize, BadPayload> {
        let (n, used) = read_varint(self.buf.iter().copied()).ok_or(BadPayload::Format)?;
        self.buf = self.buf.get(used..).ok_or(BadPayload::Format)?;
        Ok(n)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BadPayload> {
        if n > self.buf.len() {
            return Err(BadPayload::Format);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], BadPayload> {
        let n = self.varint()?;
        self.take(n)
    }

    fn score(&mut self) -> Result<f64, BadPayload> {
        let b = self.take(8)?;
        let s = f64::from_le_bytes(b.try_into().map_err(|_| BadPayload::Format)?);
        if s.is_nan() {
            return Err(BadPayload::Format);
        }
        Ok(s)
    }

    /// A count of items each at least `min_size` bytes long: bounded by what the body holds, so a forged
    /// count cannot make us loop or allocate beyond the payload's size.
    fn count(&mut self, min_size: usize) -> Result<usize, BadPayload> {
        let n = self.varint()?;
        if n == 0 || n.saturating_mul(min_size) > self.buf.len() {
            return Err(BadPayload::Format);
        }
        Ok(n)
    }

    fn finish(self) -> Result<(), BadPayload> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(BadPayload::Format)
        }
    }
}

/// Rebuilds a value from a payload.
pub fn decode(payload: &[u8], config: &Config) -> Result<Decoded, BadPayload> {
    let (kind, body) = verify(payload)?;
    decode_body(kind, body, config)
}

/// Rebuilds a value from its type byte and its whole body (as [`encode_body`] wrote it). Every length
/// and count is checked against `body`, so forged input cannot make it allocate more than `body` holds.
pub fn decode_body(kind: u8, body: &[u8], config: &Config) -> Result<Decoded, BadPayload> {
    let mut r = Reader { buf: body };
    let value = match kind {
        T_STRING => return Ok(Decoded::Str(body.to_vec())),
        T_HASH => {
            let n = r.count(2)?;
            let limits = crate::types::hash::HashLimits {
                max_entries: config.hash_max_entries,
                max_value: config.hash_max_value,
            };
            let mut h = Hash::default();
            for _ in 0..n {
                let (f, v) = (r.bytes()?, r.bytes()?);
                if !h.set(f, v, limits) {
                    return Err(BadPayload::Format);
                }
            }
            Decoded::Hash(h)
        }
        T_LIST => {
            let n = r.count(1)?;
            let items = (0..n).map(|_| r.bytes()).collect::<Result<Vec<_>, _>>()?;
            Decoded::List(List::from_elements(items.iter().copied(), config.list_max_listpack_size))
        }
        T_SET => {
            let n = r.count(1)?;
            let items = (0..n).map(|_| r.bytes()).collect::<Result<Vec<_>, _>>()?;
            let limits = SetLimits {
                max_intset: config.set_max_intset_entries,
                max_entries: config.set_max_listpack_entries,
                max_value: config.set_max_listpack_value,
            };
            let set = Set::from_members(items, &limits).ok_or(BadPayload::Format)?;
            Decoded::Set(set)
        }
        T_ZSET => {
            let n = r.count(9)?;
            let items = (0..n).map(|_| Ok((r.bytes()?, r.score()?))).collect::<Result<Vec<_>, _>>()?;
            // Ascending (score, member) without repeats, as `encode` writes them; anything else is forged.
            let ordered = items.windows(2).all(|w| match w {
                [(m1, s1), (m2, s2)] => s1 < s2 || (s1 == s2 && m1 < m2),
                _ => true,
            });
            if !ordered {
                return Err(BadPayload::Format);
            }
            let limits = ZsetLimits {
                max_entries: config.zset_max_listpack_entries,
                max_value: config.zset_max_listpack_value,
            };
            Decoded::Zset(Zset::from_sorted(&items, limits))
        }
        _ => return Err(BadPayload::Format),
    };
    r.finish()?;
    Ok(value)
}

/// [`decode_body`] straight into an entry: a string is copied once, from `body` into the entry, with no
/// intermediate buffer (snapshot loading builds millions of them).
pub fn decode_entry(
    kind: u8,
    body: &[u8],
    key: &[u8],
    expire_at: i64,
    config: &Config,
) -> Result<Entry, BadPayload> {
    if kind == T_STRING {
        return Ok(Entry::string(key, body, expire_at));
    }
    Ok(decode_body(kind, body, config)?.into_entry(key, expire_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_hashes_round_trip() {
        let config = Config::default();
        let e = Entry::string(b"k", b"hello", 0);
        let p = encode(&e);
        assert!(matches!(decode(&p, &config), Ok(Decoded::Str(s)) if s == b"hello"));
        let mut h = Hash::default();
        h.set(b"f", b"v", Default::default());
        h.set(b"g", b"w", Default::default());
        let p = encode(&Entry::hash(b"h", h, 0));
        match decode(&p, &config) {
            Ok(Decoded::Hash(h)) => assert_eq!((h.len(), h.get(b"g")), (2, Some(&b"w"[..]))),
            _ => panic!("hash did not round-trip"),
        }
    }

    #[test]
    fn collections_round_trip_in_every_encoding() {
        let config = Config::default();
        for n in [1usize, 5, 300, 3000] {
            let items: Vec<Vec<u8>> = (0..n).map(|i| format!("m{i}").into_bytes()).collect();
            let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
            let list = List::from_elements(refs.iter().copied(), config.list_max_listpack_size);
            let p = encode(&Entry::collection(b"l", list, 0));
            match decode(&p, &config) {
                Ok(Decoded::List(l)) => assert!(l.iter().eq(refs.iter().copied())),
                _ => panic!("list of {n}"),
            }
            let limits = SetLimits { max_intset: 512, max_entries: 128, max_value: 64 };
            let ints: Vec<Vec<u8>> = (0..n).map(|i| i.to_string().into_bytes()).collect();
            for members in [&items, &ints] {
                let set = Set::from_members(members.iter().map(Vec::as_slice), &limits).unwrap();
                let encoding = set.encoding();
                let p = encode(&Entry::collection(b"s", set, 0));
                match decode(&p, &config) {
                    Ok(Decoded::Set(s)) => {
                        assert_eq!((s.len(), s.encoding()), (n, encoding));
                        assert!(members.iter().all(|m| s.contains(m)));
                    }
                    _ => panic!("set of {n}"),
                }
            }
            let mut pairs: Vec<(&[u8], f64)> =
                refs.iter().enumerate().map(|(i, m)| (*m, i as f64 * 0.5)).collect();
            pairs.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
            let z = Zset::from_sorted(&pairs, ZsetLimits { max_entries: 128, max_value: 64 });
            let p = encode(&Entry::collection(b"z", z, 0));
            match decode(&p, &config) {
                Ok(Decoded::Zset(z)) => assert!(z.iter().eq(pairs.iter().copied())),
                _ => panic!("zset of {n}"),
            }
        }
    }

    #[test]
    fn dump_wraps_the_body() {
        let config = Config::default();
        let mut h = Hash::default();
        h.set(b"f", b"v", Default::default());
        for e in [Entry::string(b"k", b"", 0), Entry::string(b"k", b"12", 5), Entry::hash(b"h", h, 0)] {
            let mut body = b"prefix".to_vec();
            let kind = encode_body(&e, &mut body);
            let p = encode(&e);
            assert_eq!(p.first(), Some(&kind));
            assert_eq!(p.get(1..p.len() - 10), body.get(6..));
            let back = decode_entry(kind, body.get(6..).unwrap_or_default(), b"x", 7, &config).unwrap();
            assert_eq!((back.key(), back.expire_at(), back.kind()), (&b"x"[..], 7, e.kind()));
            assert_eq!(serialize_again(&back), serialize_again(&e));
        }
        assert_eq!(decode_entry(9, b"", b"x", 0, &config).err(), Some(BadPayload::Format));
    }

    fn serialize_again(e: &Entry) -> Vec<u8> {
        let mut v = Vec::new();
        encode_body(e, &mut v);
        v
    }

    #[test]
    fn damage_is_detected() {
        let config = Config::default();
        let p = encode(&Entry::string(b"k", b"hello", 0));
        for i in 0..p.len() {
            let mut bad = p.clone();
            bad[i] ^= 0x20;
            assert!(decode(&bad, &config).is_err(), "flipped byte {i}");
        }
        assert_eq!(decode(&p[..p.len() - 1], &config).err(), Some(BadPayload::VersionOrChecksum));
        assert_eq!(decode(b"", &config).err(), Some(BadPayload::VersionOrChecksum));
    }

    #[test]
    fn forged_counts_are_refused() {
        // A checksummed hash body claiming a billion fields.
        let mut body = vec![T_HASH];
        varint(&mut body, 1 << 30);
        body.extend_from_slice(b"\x01f\x01v");
        body.extend_from_slice(&VERSION.to_le_bytes());
        let crc = CRC.checksum(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&body, &Config::default()).err(), Some(BadPayload::Format));
    }
}
