//! One key and its value, packed for memory: the keyspace's tables hold 32-byte entries. A string key whose
//! key and value fit in 29 bytes together (`key:123456` with a 16-byte value does) lives entirely inside
//! the entry, with no heap allocation at all. Everything else (longer strings, keys with a TTL, hashes) is
//! boxed.

use crate::types::hash::Hash;

/// Bytes of key plus value that an inline entry holds.
pub const INLINE_CAP: usize = 29;

/// A keyspace entry: 32 bytes (asserted below).
pub enum Entry {
    Inline { klen: u8, vlen: u8, buf: [u8; INLINE_CAP] },
    Boxed(Box<Boxed>),
}

const _: () = assert!(std::mem::size_of::<Entry>() == 32);

/// A key with a value that does not fit inline, or with an expiry time.
pub struct Boxed {
    pub key: Box<[u8]>,
    /// Absolute expiry in Unix milliseconds; 0 for none.
    pub expire_at: i64,
    pub value: Value,
}

/// A value that lives in a box.
pub enum Value {
    Str(Vec<u8>),
    Hash(Hash),
}

/// The kind of a value, as `TYPE` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Hash,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
        }
    }
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::String,
            Value::Hash(_) => Kind::Hash,
        }
    }
}

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
            Entry::Inline { klen: key.len() as u8, vlen: value.len() as u8, buf }
        } else {
            Entry::boxed(key, Value::Str(value.to_vec()), expire_at)
        }
    }

    pub fn boxed(key: &[u8], value: Value, expire_at: i64) -> Entry {
        Entry::Boxed(Box::new(Boxed { key: key.into(), expire_at, value }))
    }

    pub fn key(&self) -> &[u8] {
        match self {
            Entry::Inline { klen, buf, .. } => buf.get(..*klen as usize).unwrap_or_default(),
            Entry::Boxed(b) => &b.key,
        }
    }

    pub fn expire_at(&self) -> i64 {
        match self {
            Entry::Inline { .. } => 0,
            Entry::Boxed(b) => b.expire_at,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Entry::Inline { .. } => Kind::String,
            Entry::Boxed(b) => b.value.kind(),
        }
    }

    /// The value if this is a string.
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Entry::Inline { klen, vlen, buf } => {
                let start = *klen as usize;
                buf.get(start..start + *vlen as usize)
            }
            Entry::Boxed(b) => match &b.value {
                Value::Str(s) => Some(s),
                _ => None,
            },
        }
    }

    pub fn as_hash(&self) -> Option<&Hash> {
        match self {
            Entry::Boxed(b) => match &b.value {
                Value::Hash(h) => Some(h),
                _ => None,
            },
            Entry::Inline { .. } => None,
        }
    }

    pub fn as_hash_mut(&mut self) -> Option<&mut Hash> {
        match self {
            Entry::Boxed(b) => match &mut b.value {
                Value::Hash(h) => Some(h),
                _ => None,
            },
            Entry::Inline { .. } => None,
        }
    }

    /// Replaces a string value in place, keeping the key and its expiry.
    pub fn set_str(&mut self, value: &[u8]) {
        let expire_at = self.expire_at();
        match self {
            Entry::Boxed(b) if expire_at != 0 || b.key.len() + value.len() > INLINE_CAP => {
                match &mut b.value {
                    Value::Str(s) => {
                        s.clear();
                        s.extend_from_slice(value);
                    }
                    other => *other = Value::Str(value.to_vec()),
                }
            }
            _ => {
                let key = self.key().to_vec();
                *self = Entry::string(&key, value, expire_at);
            }
        }
    }

    /// The value as an owned `Value` (strings copied out of inline entries).
    pub fn to_value(&self) -> Value {
        match self {
            Entry::Inline { .. } => Value::Str(self.as_str().unwrap_or_default().to_vec()),
            Entry::Boxed(b) => b.value.clone_value(),
        }
    }

    /// Sets or clears (0) the expiry, boxing an inline entry that gets one and unboxing one that loses it.
    pub fn set_expire(&mut self, at: i64) {
        match self {
            Entry::Boxed(b) => {
                b.expire_at = at;
                if at == 0 {
                    if let Value::Str(s) = &b.value {
                        if b.key.len() + s.len() <= INLINE_CAP {
                            *self = Entry::string(&b.key, s, 0);
                        }
                    }
                }
            }
            Entry::Inline { .. } if at != 0 => {
                let value = self.as_str().unwrap_or_default().to_vec();
                *self = Entry::boxed(self.key(), Value::Str(value), at);
            }
            Entry::Inline { .. } => {}
        }
    }

    /// The cheapest representation of the same key, value and expiry (inline when it fits).
    pub fn normalized(self) -> Entry {
        match &self {
            Entry::Boxed(b) if b.expire_at == 0 => match &b.value {
                Value::Str(s) if b.key.len() + s.len() <= INLINE_CAP => Entry::string(&b.key, s, 0),
                _ => self,
            },
            _ => self,
        }
    }

    /// Heap bytes this entry owns beyond its 32 bytes in the table (an estimate for `MEMORY`-style stats).
    pub fn heap_size(&self) -> usize {
        match self {
            Entry::Inline { .. } => 0,
            Entry::Boxed(b) => {
                std::mem::size_of::<Boxed>()
                    + b.key.len()
                    + match &b.value {
                        Value::Str(s) => s.capacity(),
                        Value::Hash(h) => h.heap_size(),
                    }
            }
        }
    }
}

impl Value {
    pub fn clone_value(&self) -> Value {
        match self {
            Value::Str(s) => Value::Str(s.clone()),
            Value::Hash(h) => Value::Hash(h.clone()),
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
        assert!(matches!(e, Entry::Boxed(_)));
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
    fn set_str_keeps_expiry_and_grows() {
        let mut e = Entry::string(b"k", b"v", 0);
        e.set_str(&[b'y'; 100]);
        assert_eq!(e.as_str().map(|s| s.len()), Some(100));
        e.set_str(b"short");
        assert!(matches!(e, Entry::Inline { .. }));
        e.set_expire(5);
        e.set_str(b"again");
        assert_eq!(e.expire_at(), 5);
        assert_eq!(e.as_str(), Some(&b"again"[..]));
    }
}
