//! One key and its value, packed for memory and for few cache misses: the keyspace's tables hold 32-byte
//! entries. A string key whose key and value fit in 29 bytes together (`key:123456` with a 16-byte value
//! does) lives entirely inside the entry, with no heap allocation at all. Everything else (longer strings,
//! keys with a TTL, collections) is boxed, with the key and a string value in one allocation so that a
//! lookup touches the box and one byte buffer. Every entry also carries 24 bits of access information for
//! the eviction policies, as Redis's objects do: an LRU clock or an LFU counter (see [`crate::evict`]).

use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::zset::Zset;
use thin_vec::ThinVec;

/// Bytes of key plus value that an inline entry holds (`key:123456` with a 16-byte value fits).
pub const INLINE_CAP: usize = 26;
/// The longest key a `ShortKey` entry holds in the table.
pub const SHORT_KEY_CAP: usize = 19;
/// In the `klen` byte of `Inline` and `ShortKey`: the string was modified in place (`APPEND`,
/// `SETRANGE`), which `OBJECT ENCODING` reports as `raw` as Redis does.
const RAW: u8 = 0x80;

fn len7(b: u8) -> usize {
    (b & !RAW) as usize
}

/// A keyspace entry: 32 bytes (asserted below).
pub enum Entry {
    /// A string and its key, both in the table: no allocation, one cache line.
    Inline {
        klen: u8,
        vlen: u8,
        access: [u8; 3],
        buf: [u8; INLINE_CAP],
    },
    /// A short key in the table and its string value behind a thin pointer: a lookup compares keys
    /// without leaving the table and reaches the value with one more memory access.
    ShortKey {
        klen: u8,
        access: [u8; 3],
        key: [u8; SHORT_KEY_CAP],
        value: ThinVec<u8>,
    },
    Boxed(Box<Boxed>),
}

const _: () = assert!(std::mem::size_of::<Entry>() == 32);

/// A key with a value that does not fit inline, or with an expiry time.
pub struct Boxed {
    /// Absolute expiry in Unix milliseconds; 0 for none.
    expire_at: i64,
    key_len: usize,
    /// See [`RAW`].
    raw: bool,
    /// The LRU clock or LFU counter (24 bits), see [`crate::evict`].
    access: u32,
    /// The key, followed by the value for a string.
    bytes: Vec<u8>,
    value: Value,
}

/// What a boxed entry holds besides its key.
pub enum Value {
    /// A string: its bytes follow the key in `Boxed::bytes`.
    Str,
    Hash(Box<Hash>),
    List(Box<List>),
    Set(Box<Set>),
    Zset(Box<Zset>),
}

impl Value {
    /// A copy of a collection value (`Str` has its bytes elsewhere and copies as `Str`).
    fn duplicate(&self) -> Value {
        match self {
            Value::Str => Value::Str,
            Value::Hash(h) => Value::Hash(h.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::Set(s) => Value::Set(s.clone()),
            Value::Zset(z) => Value::Zset(z.clone()),
        }
    }
}

/// The kind of a value, as `TYPE` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Hash,
    List,
    Set,
    Zset,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::Zset => "zset",
        }
    }
}

/// Typed access to the collection inside an entry: `entry.as_::<List>()`.
pub trait Collection: Sized {
    fn wrap(self) -> Value;
    fn get(v: &Value) -> Option<&Self>;
    fn get_mut(v: &mut Value) -> Option<&mut Self>;
}

macro_rules! collection {
    ($ty:ident) => {
        impl Collection for $ty {
            fn wrap(self) -> Value {
                Value::$ty(Box::new(self))
            }
            fn get(v: &Value) -> Option<&Self> {
                match v {
                    Value::$ty(x) => Some(x),
                    _ => None,
                }
            }
            fn get_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$ty(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}
collection!(Hash);
collection!(List);
collection!(Set);
collection!(Zset);

impl Entry {
    /// A string entry, inline when it fits and no expiry is wanted.
    pub fn string(key: &[u8], value: &[u8], expire_at: i64) -> Entry {
        if expire_at == 0 && key.len() + value.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            if let Some(dst) = buf.get_mut(..key.len()) {
                dst.copy_from_slice(key);
            }
            if let Some(dst) = buf.get_mut(key.len()..key.len() + value.len()) {
                dst.copy_from_slice(value);
            }
            Entry::Inline { klen: key.len() as u8, vlen: value.len() as u8, access: [0; 3], buf }
        } else if expire_at == 0 && key.len() <= SHORT_KEY_CAP {
            let mut k = [0u8; SHORT_KEY_CAP];
            if let Some(dst) = k.get_mut(..key.len()) {
                dst.copy_from_slice(key);
            }
            Entry::ShortKey { klen: key.len() as u8, access: [0; 3], key: k, value: ThinVec::from(value) }
        } else {
            let mut bytes = Vec::with_capacity(key.len() + value.len());
            bytes.extend_from_slice(key);
            bytes.extend_from_slice(value);
            Entry::Boxed(Box::new(Boxed {
                expire_at,
                key_len: key.len(),
                raw: false,
                access: 0,
                bytes,
                value: Value::Str,
            }))
        }
    }

    pub fn hash(key: &[u8], hash: Hash, expire_at: i64) -> Entry {
        Entry::collection(key, hash, expire_at)
    }

    /// An entry holding a hash, list, set or sorted set.
    pub fn collection<C: Collection>(key: &[u8], value: C, expire_at: i64) -> Entry {
        Entry::with_value(key, value.wrap(), expire_at)
    }

    fn with_value(key: &[u8], value: Value, expire_at: i64) -> Entry {
        Entry::Boxed(Box::new(Boxed {
            expire_at,
            key_len: key.len(),
            raw: false,
            access: 0,
            bytes: key.to_vec(),
            value,
        }))
    }

    /// The collection of type `C` in this entry, if that is what it holds.
    pub fn as_<C: Collection>(&self) -> Option<&C> {
        match self {
            Entry::Boxed(b) => C::get(&b.value),
            _ => None,
        }
    }

    pub fn as_mut_<C: Collection>(&mut self) -> Option<&mut C> {
        match self {
            Entry::Boxed(b) => C::get_mut(&mut b.value),
            _ => None,
        }
    }

    /// The value, for code that handles every type (`DUMP`, `OBJECT ENCODING`, persistence).
    pub fn value(&self) -> Option<&Value> {
        match self {
            Entry::Boxed(b) => Some(&b.value),
            _ => None,
        }
    }

    pub fn key(&self) -> &[u8] {
        match self {
            Entry::Inline { klen, buf, .. } => buf.get(..len7(*klen)).unwrap_or_default(),
            Entry::ShortKey { klen, key, .. } => key.get(..len7(*klen)).unwrap_or_default(),
            Entry::Boxed(b) => b.bytes.get(..b.key_len).unwrap_or_default(),
        }
    }

    pub fn expire_at(&self) -> i64 {
        match self {
            Entry::Inline { .. } | Entry::ShortKey { .. } => 0,
            Entry::Boxed(b) => b.expire_at,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Entry::Inline { .. } | Entry::ShortKey { .. } => Kind::String,
            Entry::Boxed(b) => match b.value {
                Value::Str => Kind::String,
                Value::Hash(_) => Kind::Hash,
                Value::List(_) => Kind::List,
                Value::Set(_) => Kind::Set,
                Value::Zset(_) => Kind::Zset,
            },
        }
    }

    /// The value if this is a string.
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Entry::Inline { klen, vlen, buf, .. } => {
                let start = len7(*klen);
                buf.get(start..start + *vlen as usize)
            }
            Entry::ShortKey { value, .. } => Some(value),
            Entry::Boxed(b) => match b.value {
                Value::Str => b.bytes.get(b.key_len..),
                _ => None,
            },
        }
    }

    pub fn as_hash(&self) -> Option<&Hash> {
        self.as_()
    }

    pub fn as_hash_mut(&mut self) -> Option<&mut Hash> {
        self.as_mut_()
    }

    /// The access information: an LRU clock or an LFU counter, 24 bits.
    pub fn access(&self) -> u32 {
        match self {
            Entry::Inline { access: [a, b, c], .. } | Entry::ShortKey { access: [a, b, c], .. } => {
                u32::from_le_bytes([*a, *b, *c, 0])
            }
            Entry::Boxed(b) => b.access,
        }
    }

    pub fn set_access(&mut self, value: u32) {
        match self {
            Entry::Inline { access, .. } | Entry::ShortKey { access, .. } => {
                let [a, b, c, _] = value.to_le_bytes();
                *access = [a, b, c];
            }
            Entry::Boxed(b) => b.access = value & 0xFF_FFFF,
        }
    }

    /// Whether a string was modified in place (`OBJECT ENCODING` says `raw`).
    pub fn is_raw(&self) -> bool {
        match self {
            Entry::Inline { klen, .. } | Entry::ShortKey { klen, .. } => klen & RAW != 0,
            Entry::Boxed(b) => b.raw,
        }
    }

    fn set_raw(&mut self, raw: bool) {
        match self {
            Entry::Inline { klen, .. } | Entry::ShortKey { klen, .. } => {
                *klen = if raw { *klen | RAW } else { *klen & !RAW };
            }
            Entry::Boxed(b) => b.raw = raw,
        }
    }

    /// Overwrites part of a string value in place (`SETRANGE`), padding with zero bytes.
    pub fn set_range(&mut self, offset: usize, data: &[u8]) {
        let mut v = self.as_str().unwrap_or_default().to_vec();
        if v.len() < offset + data.len() {
            v.resize(offset + data.len(), 0);
        }
        if let Some(dst) = v.get_mut(offset..offset + data.len()) {
            dst.copy_from_slice(data);
        }
        self.set_str(&v);
        self.set_raw(true);
    }

    /// Replaces the value with a string, keeping the key and its expiry.
    pub fn set_str(&mut self, value: &[u8]) {
        self.set_raw(false);
        let access = self.access();
        match self {
            Entry::Boxed(b) if b.expire_at != 0 || b.key_len + value.len() > INLINE_CAP => {
                b.bytes.truncate(b.key_len);
                b.bytes.extend_from_slice(value);
                b.value = Value::Str;
            }
            Entry::ShortKey { value: v, .. } if value.len() > INLINE_CAP - SHORT_KEY_CAP => {
                v.clear();
                v.extend_from_slice(value);
            }
            _ => {
                let (key, expire_at) = (self.key().to_vec(), self.expire_at());
                *self = Entry::string(&key, value, expire_at);
                self.set_access(access);
            }
        }
    }

    /// Appends to a string value (amortized growth when boxed).
    pub fn append(&mut self, extra: &[u8]) {
        match self {
            Entry::Boxed(b) if matches!(b.value, Value::Str) => b.bytes.extend_from_slice(extra),
            Entry::ShortKey { value, .. } => value.extend_from_slice(extra),
            _ => {
                let mut v = self.as_str().unwrap_or_default().to_vec();
                v.extend_from_slice(extra);
                self.set_str(&v);
            }
        }
        self.set_raw(true);
    }

    /// A copy of this entry's value and expiry under another key (`RENAME`, `COPY`).
    pub fn renamed(&self, key: &[u8]) -> Entry {
        let mut e = match self.value() {
            Some(v) if !matches!(v, Value::Str) => Entry::with_value(key, v.duplicate(), self.expire_at()),
            _ => Entry::string(key, self.as_str().unwrap_or_default(), self.expire_at()),
        };
        e.set_raw(self.is_raw());
        e.set_access(self.access());
        e
    }

    /// Sets or clears (0) the expiry, boxing an inline entry that gets one and unboxing one that loses it.
    pub fn set_expire(&mut self, at: i64) {
        let (raw, access) = (self.is_raw(), self.access());
        self.set_expire_keeping_encoding(at);
        self.set_raw(raw);
        self.set_access(access);
    }

    fn set_expire_keeping_encoding(&mut self, at: i64) {
        match self {
            Entry::Boxed(b) => {
                b.expire_at = at;
                if at == 0 && matches!(b.value, Value::Str) && b.bytes.len() <= INLINE_CAP {
                    let (key, value) = b.bytes.split_at(b.key_len.min(b.bytes.len()));
                    *self = Entry::string(key, value, 0);
                }
            }
            _ if at != 0 => {
                *self = Entry::string(self.key(), self.as_str().unwrap_or_default(), at);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_strings_are_inline() {
        let e = Entry::string(b"key:123456", b"v000000000000001", 0);
        assert!(matches!(e, Entry::Inline { .. }));
        assert_eq!(e.key(), b"key:123456");
        assert_eq!(e.as_str(), Some(&b"v000000000000001"[..]));
        let e = Entry::string(b"key", &[b'x'; 30], 0);
        assert!(matches!(e, Entry::ShortKey { .. }));
        assert_eq!(e.key(), b"key");
        assert_eq!(e.as_str().map(|s| s.len()), Some(30));
        let e = Entry::string(&[b'k'; 23], &[b'x'; 30], 0);
        assert!(matches!(e, Entry::Boxed(_)));
        let e = Entry::string(b"key", &[b'x'; 30], 9);
        assert!(matches!(e, Entry::Boxed(_)));
        assert_eq!(e.key(), b"key");
        assert_eq!(e.as_str().map(|s| s.len()), Some(30));
    }

    #[test]
    fn expiry_boxes_and_unboxes() {
        let mut e = Entry::string(b"k", b"v", 0);
        e.set_expire(123);
        assert!(matches!(e, Entry::Boxed(_)));
        assert_eq!(e.expire_at(), 123);
        assert_eq!(e.as_str(), Some(&b"v"[..]));
        e.set_expire(0);
        assert!(matches!(e, Entry::Inline { .. }));
        assert_eq!(e.key(), b"k");
    }

    #[test]
    fn set_str_and_append_keep_key_and_expiry() {
        let mut e = Entry::string(b"k", b"v", 0);
        e.set_str(&[b'y'; 100]);
        assert_eq!(e.as_str().map(|s| s.len()), Some(100));
        e.set_str(b"short");
        assert!(matches!(e, Entry::Inline { .. }));
        e.set_expire(5);
        e.set_str(b"again");
        assert_eq!(e.expire_at(), 5);
        assert_eq!(e.as_str(), Some(&b"again"[..]));
        e.append(b"!");
        assert_eq!((e.key(), e.as_str()), (&b"k"[..], Some(&b"again!"[..])));
        let r = e.renamed(b"other");
        assert_eq!((r.key(), r.as_str(), r.expire_at()), (&b"other"[..], Some(&b"again!"[..]), 5));
    }

    #[test]
    fn raw_flag_follows_in_place_changes() {
        let mut e = Entry::string(b"k", b"abc", 0);
        assert!(!e.is_raw());
        e.append(b"d");
        assert!(e.is_raw());
        assert_eq!((e.key(), e.as_str()), (&b"k"[..], Some(&b"abcd"[..])));
        e.set_expire(10);
        assert!(e.is_raw());
        assert!(e.renamed(b"x").is_raw());
        e.set_str(b"1");
        assert!(!e.is_raw());
        e.set_range(3, b"z");
        assert_eq!(e.as_str(), Some(&b"1\0\0z"[..]));
        assert!(e.is_raw());
    }

    #[test]
    fn hashes_are_not_strings() {
        let e = Entry::hash(b"h", Hash::default(), 0);
        assert_eq!(e.kind(), Kind::Hash);
        assert!(e.as_str().is_none());
        assert_eq!(e.key(), b"h");
    }
}
