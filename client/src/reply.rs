//! Turning a reply into the type the caller wants: `let n: i64 = conn.query(cmd("INCR").arg("k"))`.
//! Error replies never convert: they are [`Error::Server`]. RESP3 maps, sets and doubles convert like their
//! RESP2 forms, so the same code works over both protocols.

use crate::error::{Error, Result};
use slotkv_proto::frame::Frame;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

pub trait FromReply: Sized {
    fn from_reply(frame: Frame) -> Result<Self>;
}

fn describe(f: &Frame) -> String {
    let kind = match f {
        Frame::Simple(_) => "simple string",
        Frame::Error(_) => "error",
        Frame::Integer(_) => "integer",
        Frame::Bulk(_) => "bulk string",
        Frame::Null | Frame::NullArray => "null",
        Frame::Array(_) => "array",
        Frame::Map(_) => "map",
        Frame::Set(_) => "set",
        Frame::Push(_) => "push",
        Frame::Double(_) => "double",
        Frame::Boolean(_) => "boolean",
        Frame::BigNumber(_) => "big number",
        Frame::Verbatim { .. } => "verbatim string",
        Frame::Attribute { .. } => "attribute",
    };
    kind.to_string()
}

fn mismatch<T>(expected: &'static str, f: &Frame) -> Result<T> {
    Err(Error::Type { expected, got: describe(f) })
}

/// The reply itself, with an error reply turned into `Err`; attributes are dropped.
pub fn unwrap_reply(frame: Frame) -> Result<Frame> {
    match frame {
        Frame::Error(e) => Err(Error::server(&e)),
        Frame::Attribute { data, .. } => unwrap_reply(*data),
        other => Ok(other),
    }
}

impl FromReply for Frame {
    fn from_reply(frame: Frame) -> Result<Self> {
        unwrap_reply(frame)
    }
}

impl FromReply for () {
    fn from_reply(frame: Frame) -> Result<Self> {
        unwrap_reply(frame).map(|_| ())
    }
}

impl FromReply for Vec<u8> {
    fn from_reply(frame: Frame) -> Result<Self> {
        match unwrap_reply(frame)? {
            Frame::Bulk(b) | Frame::Simple(b) | Frame::BigNumber(b) => Ok(b),
            Frame::Verbatim { text, .. } => Ok(text),
            Frame::Integer(n) => Ok(n.to_string().into_bytes()),
            Frame::Double(d) => Ok(d.to_string().into_bytes()),
            other => mismatch("bytes", &other),
        }
    }
}

impl FromReply for String {
    fn from_reply(frame: Frame) -> Result<Self> {
        let bytes = Vec::<u8>::from_reply(frame)?;
        String::from_utf8(bytes).map_err(|_| Error::Type { expected: "UTF-8 string", got: "bytes".into() })
    }
}

impl FromReply for i64 {
    fn from_reply(frame: Frame) -> Result<Self> {
        match unwrap_reply(frame)? {
            Frame::Integer(n) => Ok(n),
            Frame::Boolean(b) => Ok(i64::from(b)),
            Frame::Bulk(b) | Frame::Simple(b) | Frame::BigNumber(b) => std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(Error::Type { expected: "integer", got: "non-numeric string".into() }),
            other => mismatch("integer", &other),
        }
    }
}

macro_rules! from_i64 {
    ($($t:ty)*) => {$(
        impl FromReply for $t {
            fn from_reply(frame: Frame) -> Result<Self> {
                let n = i64::from_reply(frame)?;
                <$t>::try_from(n).map_err(|_| Error::Type { expected: stringify!($t), got: n.to_string() })
            }
        }
    )*};
}
from_i64!(i32 u32 u64 usize);

impl FromReply for f64 {
    fn from_reply(frame: Frame) -> Result<Self> {
        match unwrap_reply(frame)? {
            Frame::Double(d) => Ok(d),
            Frame::Integer(n) => Ok(n as f64),
            Frame::Bulk(b) | Frame::Simple(b) => match std::str::from_utf8(&b).unwrap_or_default() {
                "inf" | "+inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                s => s.parse().map_err(|_| Error::Type { expected: "number", got: s.to_string() }),
            },
            other => mismatch("number", &other),
        }
    }
}

impl FromReply for bool {
    /// `:1`/`:0`, RESP3 booleans, and `+OK` as true.
    fn from_reply(frame: Frame) -> Result<Self> {
        match unwrap_reply(frame)? {
            Frame::Boolean(b) => Ok(b),
            Frame::Integer(n) => Ok(n != 0),
            Frame::Simple(_) => Ok(true),
            Frame::Null | Frame::NullArray => Ok(false),
            other => mismatch("boolean", &other),
        }
    }
}

impl<T: FromReply> FromReply for Option<T> {
    fn from_reply(frame: Frame) -> Result<Self> {
        match unwrap_reply(frame)? {
            Frame::Null | Frame::NullArray => Ok(None),
            other => T::from_reply(other).map(Some),
        }
    }
}

/// The elements of an aggregate (a map's pairs flattened, as RESP2 sends them).
fn elements(frame: Frame) -> Result<Vec<Frame>> {
    match unwrap_reply(frame)? {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Ok(v),
        Frame::Map(pairs) => Ok(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        Frame::Null | Frame::NullArray => Ok(Vec::new()),
        other => mismatch("array", &other),
    }
}

impl<T: FromReply> FromReply for Vec<T> {
    fn from_reply(frame: Frame) -> Result<Self> {
        elements(frame)?.into_iter().map(T::from_reply).collect()
    }
}

impl<K: FromReply + Eq + Hash, V: FromReply> FromReply for HashMap<K, V> {
    fn from_reply(frame: Frame) -> Result<Self> {
        let items = elements(frame)?;
        if items.len() % 2 != 0 {
            return Err(Error::Type {
                expected: "key/value pairs",
                got: format!("{} elements", items.len()),
            });
        }
        let mut map = HashMap::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            map.insert(K::from_reply(k)?, V::from_reply(v)?);
        }
        Ok(map)
    }
}

macro_rules! tuple {
    ($n:literal: $($t:ident),*) => {
        impl<$($t: FromReply),*> FromReply for ($($t,)*) {
            fn from_reply(frame: Frame) -> Result<Self> {
                let items = elements(frame)?;
                if items.len() != $n {
                    return Err(Error::Type { expected: concat!("array of ", $n), got: format!("{} elements", items.len()) });
                }
                let mut it = items.into_iter();
                Ok(($($t::from_reply(it.next().unwrap_or(Frame::Null))?,)*))
            }
        }
    };
}
tuple!(2: A, B);
tuple!(3: A, B, C);
tuple!(4: A, B, C, D);

/// Sets (`SMEMBERS`, `SINTER`): a RESP2 array or a RESP3 set.
impl<T: FromReply + Eq + Hash> FromReply for HashSet<T> {
    fn from_reply(frame: Frame) -> Result<Self> {
        Ok(Vec::<T>::from_reply(frame)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Frame {
        Frame::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn scalars_and_nulls() {
        assert_eq!(String::from_reply(b("hi")).unwrap(), "hi");
        assert_eq!(i64::from_reply(Frame::Integer(-3)).unwrap(), -3);
        assert_eq!(i64::from_reply(b("12")).unwrap(), 12);
        assert_eq!(f64::from_reply(Frame::Double(1.5)).unwrap(), 1.5);
        assert_eq!(f64::from_reply(b("-inf")).unwrap(), f64::NEG_INFINITY);
        assert_eq!(Option::<String>::from_reply(Frame::Null).unwrap(), None);
        assert!(bool::from_reply(Frame::Simple(b"OK".to_vec())).unwrap());
        assert!(u32::from_reply(Frame::Integer(-1)).is_err());
    }

    #[test]
    fn errors_and_mismatches() {
        let e = String::from_reply(Frame::Error(b"WRONGTYPE Operation against a key".to_vec())).unwrap_err();
        assert_eq!(e.code(), Some("WRONGTYPE"));
        assert!(matches!(i64::from_reply(Frame::Array(vec![])), Err(Error::Type { .. })));
    }

    #[test]
    fn aggregates_over_resp2_and_resp3() {
        let resp2 = Frame::Array(vec![b("a"), b("1"), b("b"), b("2")]);
        let resp3 = Frame::Map(vec![(b("a"), Frame::Integer(1)), (b("b"), Frame::Integer(2))]);
        for f in [resp2, resp3] {
            let m: HashMap<String, i64> = HashMap::from_reply(f).unwrap();
            assert_eq!(m.get("b"), Some(&2));
        }
        let (k, v): (String, Vec<String>) =
            FromReply::from_reply(Frame::Array(vec![b("k"), Frame::Array(vec![b("x")])])).unwrap();
        assert_eq!((k.as_str(), v), ("k", vec!["x".to_string()]));
        assert!(<(String, String)>::from_reply(Frame::Array(vec![b("k")])).is_err());
    }
}
