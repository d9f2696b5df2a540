//! Typed methods for the common commands of every type, shared by [`ClusterClient`], [`Client`] and
//! [`Connection`]: `client.set("k", 1).await?`, `let v: Option<String> = client.get("k").await?`.
//!
//! [`Commands`] has one required method, [`Commands::query_cmd`] (send a [`Cmd`], convert its reply); every
//! typed method builds its command and calls it, so a command sent through a typed method is exactly the
//! command `cmd(..)` would build. Keys, fields, members and values are anything [`ToArg`] (`&str`, `String`,
//! bytes, numbers); arguments that take one or more items take a slice (`client.del(&["a", "b"])`).
//! Values come back as any [`FromReply`] type the caller names; counts and flags have fixed types (`u64`,
//! `i64`, `bool`). Replies whose shape differs between RESP2 and RESP3 (`HGETALL`, `ZRANGE ... WITHSCORES`,
//! `ZSCORE`) convert to the same Rust value over both.
//!
//! [`ClusterClient`]: crate::ClusterClient
//! [`Client`]: crate::Client

use crate::cluster::ClusterClient;
use crate::cmd::{cmd, Cmd, ToArg};
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::reply::FromReply;
use slotkv_proto::frame::Frame;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::Hash;

/// `SET`'s options: `SetOptions::new().nx().ex(60)`, `SetOptions::new().get().keep_ttl()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetOptions {
    condition: Option<&'static str>,
    expiry: Option<(&'static str, Option<u64>)>,
    get: bool,
}

impl SetOptions {
    pub fn new() -> SetOptions {
        SetOptions::default()
    }

    /// `NX`: only set a key that does not exist.
    pub fn nx(mut self) -> SetOptions {
        self.condition = Some("NX");
        self
    }

    /// `XX`: only set a key that exists.
    pub fn xx(mut self) -> SetOptions {
        self.condition = Some("XX");
        self
    }

    /// `EX seconds`.
    pub fn ex(mut self, seconds: u64) -> SetOptions {
        self.expiry = Some(("EX", Some(seconds)));
        self
    }

    /// `PX milliseconds`.
    pub fn px(mut self, milliseconds: u64) -> SetOptions {
        self.expiry = Some(("PX", Some(milliseconds)));
        self
    }

    /// `EXAT unix-seconds`.
    pub fn exat(mut self, unix_seconds: u64) -> SetOptions {
        self.expiry = Some(("EXAT", Some(unix_seconds)));
        self
    }

    /// `PXAT unix-milliseconds`.
    pub fn pxat(mut self, unix_milliseconds: u64) -> SetOptions {
        self.expiry = Some(("PXAT", Some(unix_milliseconds)));
        self
    }

    /// `KEEPTTL`: keep the key's time to live.
    pub fn keep_ttl(mut self) -> SetOptions {
        self.expiry = Some(("KEEPTTL", None));
        self
    }

    /// `GET`: reply with the old value (or nil) instead of `OK`.
    pub fn get(mut self) -> SetOptions {
        self.get = true;
        self
    }

    fn append_to(&self, mut c: Cmd) -> Cmd {
        if let Some(condition) = self.condition {
            c = c.arg(condition);
        }
        if let Some((word, n)) = self.expiry {
            c = c.arg(word);
            if let Some(n) = n {
                c = c.arg(&n);
            }
        }
        if self.get {
            c = c.arg("GET");
        }
        c
    }
}

/// `GETEX`'s expiry option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `EX seconds`.
    Ex(u64),
    /// `PX milliseconds`.
    Px(u64),
    /// `EXAT unix-seconds`.
    ExAt(u64),
    /// `PXAT unix-milliseconds`.
    PxAt(u64),
    /// `PERSIST`: remove the time to live.
    Persist,
}

impl Expiry {
    fn append_to(self, c: Cmd) -> Cmd {
        match self {
            Expiry::Ex(n) => c.arg("EX").arg(&n),
            Expiry::Px(n) => c.arg("PX").arg(&n),
            Expiry::ExAt(n) => c.arg("EXAT").arg(&n),
            Expiry::PxAt(n) => c.arg("PXAT").arg(&n),
            Expiry::Persist => c.arg("PERSIST"),
        }
    }
}

/// Appends every item as its own argument.
fn args<A: ToArg>(mut c: Cmd, items: &[A]) -> Cmd {
    for a in items {
        c = c.arg(a);
    }
    c
}

/// Appends every pair as two arguments.
fn pairs<A: ToArg, B: ToArg>(mut c: Cmd, items: &[(A, B)]) -> Cmd {
    for (a, b) in items {
        c = c.arg(a).arg(b);
    }
    c
}

/// Members with scores, from a flat RESP2 array (`m1 s1 m2 s2`) or RESP3's array of pairs
/// (`[[m1, s1], [m2, s2]]`); a score is a bulk string in RESP2 and a double in RESP3.
fn scored<M: FromReply>(frame: Frame) -> Result<Vec<(M, f64)>> {
    let items = Vec::<Frame>::from_reply(frame)?;
    if items.iter().all(|f| matches!(f, Frame::Array(_))) {
        return items.into_iter().map(<(M, f64)>::from_reply).collect();
    }
    if items.len() % 2 != 0 {
        return Err(Error::Type { expected: "member/score pairs", got: format!("{} elements", items.len()) });
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(m), Some(s)) = (it.next(), it.next()) {
        out.push((M::from_reply(m)?, f64::from_reply(s)?));
    }
    Ok(out)
}

/// Sends a command and converts its reply into `Vec<(member, score)>`.
fn query_scored<C: Commands + ?Sized, M: FromReply + Send>(
    client: &C,
    c: Cmd,
) -> impl Future<Output = Result<Vec<(M, f64)>>> + Send + '_ {
    let reply = client.query_cmd::<Frame>(c);
    async move { scored(reply.await?) }
}

/// The typed command API. Implement [`Commands::query_cmd`]; every other method is provided.
pub trait Commands: Sync {
    /// Sends `c` and converts its reply (an error reply is `Err(Error::Server)`).
    fn query_cmd<T: FromReply + Send>(&self, c: Cmd) -> impl Future<Output = Result<T>> + Send;

    // ---- strings ----

    /// `GET key`: `Option<T>` for a key that may be missing.
    fn get<K: ToArg, T: FromReply + Send>(&self, key: K) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("GET").arg(&key))
    }

    /// `SET key value`.
    fn set<K: ToArg, V: ToArg>(&self, key: K, value: V) -> impl Future<Output = Result<()>> + Send {
        self.query_cmd(cmd("SET").arg(&key).arg(&value))
    }

    /// `SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT n|KEEPTTL]`: `bool` tells whether `NX`/`XX` let it
    /// set; with `GET`, `Option<T>` is the old value.
    fn set_options<K: ToArg, V: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        value: V,
        options: SetOptions,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(options.append_to(cmd("SET").arg(&key).arg(&value)))
    }

    /// `SETNX key value`: whether it was set.
    fn setnx<K: ToArg, V: ToArg>(&self, key: K, value: V) -> impl Future<Output = Result<bool>> + Send {
        self.query_cmd(cmd("SETNX").arg(&key).arg(&value))
    }

    /// `SETEX key seconds value`.
    fn setex<K: ToArg, V: ToArg>(
        &self,
        key: K,
        seconds: u64,
        value: V,
    ) -> impl Future<Output = Result<()>> + Send {
        self.query_cmd(cmd("SETEX").arg(&key).arg(&seconds).arg(&value))
    }

    /// `MGET key...`: `Vec<Option<T>>`, in key order (split by slot in a cluster).
    fn mget<K: ToArg, T: FromReply + Send>(&self, keys: &[K]) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(args(cmd("MGET"), keys))
    }

    /// `MSET key value...` (split by slot in a cluster).
    fn mset<K: ToArg, V: ToArg>(&self, items: &[(K, V)]) -> impl Future<Output = Result<()>> + Send {
        self.query_cmd(pairs(cmd("MSET"), items))
    }

    /// `INCR key`: the new value.
    fn incr<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64>> + Send {
        self.query_cmd(cmd("INCR").arg(&key))
    }

    /// `INCRBY key delta`.
    fn incr_by<K: ToArg>(&self, key: K, delta: i64) -> impl Future<Output = Result<i64>> + Send {
        self.query_cmd(cmd("INCRBY").arg(&key).arg(&delta))
    }

    /// `INCRBYFLOAT key delta`.
    fn incr_by_float<K: ToArg>(&self, key: K, delta: f64) -> impl Future<Output = Result<f64>> + Send {
        self.query_cmd(cmd("INCRBYFLOAT").arg(&key).arg(&delta))
    }

    /// `DECR key`.
    fn decr<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64>> + Send {
        self.query_cmd(cmd("DECR").arg(&key))
    }

    /// `DECRBY key delta`.
    fn decr_by<K: ToArg>(&self, key: K, delta: i64) -> impl Future<Output = Result<i64>> + Send {
        self.query_cmd(cmd("DECRBY").arg(&key).arg(&delta))
    }

    /// `APPEND key value`: the new length.
    fn append<K: ToArg, V: ToArg>(&self, key: K, value: V) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("APPEND").arg(&key).arg(&value))
    }

    /// `STRLEN key`.
    fn strlen<K: ToArg>(&self, key: K) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("STRLEN").arg(&key))
    }

    /// `GETDEL key`.
    fn getdel<K: ToArg, T: FromReply + Send>(&self, key: K) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("GETDEL").arg(&key))
    }

    /// `GETEX key EX|PX|EXAT|PXAT n|PERSIST`.
    fn getex<K: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        expiry: Expiry,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(expiry.append_to(cmd("GETEX").arg(&key)))
    }

    /// `GETRANGE key start end`.
    fn getrange<K: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        start: i64,
        end: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("GETRANGE").arg(&key).arg(&start).arg(&end))
    }

    // ---- keys ----

    /// `DEL key...`: how many existed (split by slot in a cluster).
    fn del<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("DEL"), keys))
    }

    /// `UNLINK key...`.
    fn unlink<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("UNLINK"), keys))
    }

    /// `EXISTS key...`: how many of them exist (a key named twice counts twice).
    fn exists<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("EXISTS"), keys))
    }

    /// `TOUCH key...`.
    fn touch<K: ToArg>(&self, keys: &[K]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("TOUCH"), keys))
    }

    /// `EXPIRE key seconds`: whether the timeout was set.
    fn expire<K: ToArg>(&self, key: K, seconds: i64) -> impl Future<Output = Result<bool>> + Send {
        self.query_cmd(cmd("EXPIRE").arg(&key).arg(&seconds))
    }

    /// `PEXPIRE key milliseconds`.
    fn pexpire<K: ToArg>(&self, key: K, milliseconds: i64) -> impl Future<Output = Result<bool>> + Send {
        self.query_cmd(cmd("PEXPIRE").arg(&key).arg(&milliseconds))
    }

    /// `TTL key`: seconds, `-1` without a timeout, `-2` for a missing key.
    fn ttl<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64>> + Send {
        self.query_cmd(cmd("TTL").arg(&key))
    }

    /// `PTTL key`.
    fn pttl<K: ToArg>(&self, key: K) -> impl Future<Output = Result<i64>> + Send {
        self.query_cmd(cmd("PTTL").arg(&key))
    }

    /// `PERSIST key`: whether a timeout was removed.
    fn persist<K: ToArg>(&self, key: K) -> impl Future<Output = Result<bool>> + Send {
        self.query_cmd(cmd("PERSIST").arg(&key))
    }

    /// `TYPE key`: `string`, `list`, `set`, `zset`, `hash`, `stream` or `none`.
    fn type_of<K: ToArg>(&self, key: K) -> impl Future<Output = Result<String>> + Send {
        self.query_cmd(cmd("TYPE").arg(&key))
    }

    /// `RENAME key newkey` (both in one slot in a cluster).
    fn rename<K: ToArg, N: ToArg>(&self, key: K, new_key: N) -> impl Future<Output = Result<()>> + Send {
        self.query_cmd(cmd("RENAME").arg(&key).arg(&new_key))
    }

    // ---- hashes ----

    /// `HSET key field value`: whether the field is new.
    fn hset<K: ToArg, F: ToArg, V: ToArg>(
        &self,
        key: K,
        field: F,
        value: V,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.query_cmd(cmd("HSET").arg(&key).arg(&field).arg(&value))
    }

    /// `HSET key field value...`: how many fields are new.
    fn hset_multiple<K: ToArg, F: ToArg, V: ToArg>(
        &self,
        key: K,
        items: &[(F, V)],
    ) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(pairs(cmd("HSET").arg(&key), items))
    }

    /// `HSETNX key field value`: whether it was set.
    fn hsetnx<K: ToArg, F: ToArg, V: ToArg>(
        &self,
        key: K,
        field: F,
        value: V,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.query_cmd(cmd("HSETNX").arg(&key).arg(&field).arg(&value))
    }

    /// `HGET key field`.
    fn hget<K: ToArg, F: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        field: F,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("HGET").arg(&key).arg(&field))
    }

    /// `HMGET key field...`: `Vec<Option<T>>` in field order.
    fn hmget<K: ToArg, F: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        fields: &[F],
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(args(cmd("HMGET").arg(&key), fields))
    }

    /// `HGETALL key` (a RESP2 flat array or a RESP3 map alike).
    fn hgetall<K: ToArg, F: FromReply + Eq + Hash + Send, V: FromReply + Send>(
        &self,
        key: K,
    ) -> impl Future<Output = Result<HashMap<F, V>>> + Send {
        self.query_cmd(cmd("HGETALL").arg(&key))
    }

    /// `HDEL key field...`: how many were removed.
    fn hdel<K: ToArg, F: ToArg>(&self, key: K, fields: &[F]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("HDEL").arg(&key), fields))
    }

    /// `HEXISTS key field`.
    fn hexists<K: ToArg, F: ToArg>(&self, key: K, field: F) -> impl Future<Output = Result<bool>> + Send {
        self.query_cmd(cmd("HEXISTS").arg(&key).arg(&field))
    }

    /// `HINCRBY key field delta`: the new value.
    fn hincr_by<K: ToArg, F: ToArg>(
        &self,
        key: K,
        field: F,
        delta: i64,
    ) -> impl Future<Output = Result<i64>> + Send {
        self.query_cmd(cmd("HINCRBY").arg(&key).arg(&field).arg(&delta))
    }

    /// `HKEYS key`.
    fn hkeys<K: ToArg, T: FromReply + Send>(&self, key: K) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("HKEYS").arg(&key))
    }

    /// `HVALS key`.
    fn hvals<K: ToArg, T: FromReply + Send>(&self, key: K) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("HVALS").arg(&key))
    }

    /// `HLEN key`.
    fn hlen<K: ToArg>(&self, key: K) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("HLEN").arg(&key))
    }

    // ---- lists ----

    /// `LPUSH key value...`: the new length.
    fn lpush<K: ToArg, V: ToArg>(&self, key: K, values: &[V]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("LPUSH").arg(&key), values))
    }

    /// `RPUSH key value...`: the new length.
    fn rpush<K: ToArg, V: ToArg>(&self, key: K, values: &[V]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("RPUSH").arg(&key), values))
    }

    /// `LPOP key`: `Option<T>`.
    fn lpop<K: ToArg, T: FromReply + Send>(&self, key: K) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("LPOP").arg(&key))
    }

    /// `LPOP key count`: `Option<Vec<T>>` (nil for a missing key).
    fn lpop_count<K: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        count: u64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("LPOP").arg(&key).arg(&count))
    }

    /// `RPOP key`.
    fn rpop<K: ToArg, T: FromReply + Send>(&self, key: K) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("RPOP").arg(&key))
    }

    /// `RPOP key count`.
    fn rpop_count<K: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        count: u64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("RPOP").arg(&key).arg(&count))
    }

    /// `LRANGE key start stop`.
    fn lrange<K: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("LRANGE").arg(&key).arg(&start).arg(&stop))
    }

    /// `LLEN key`.
    fn llen<K: ToArg>(&self, key: K) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("LLEN").arg(&key))
    }

    /// `LINDEX key index`.
    fn lindex<K: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        index: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("LINDEX").arg(&key).arg(&index))
    }

    /// `LSET key index value`.
    fn lset<K: ToArg, V: ToArg>(
        &self,
        key: K,
        index: i64,
        value: V,
    ) -> impl Future<Output = Result<()>> + Send {
        self.query_cmd(cmd("LSET").arg(&key).arg(&index).arg(&value))
    }

    /// `LREM key count value`: how many were removed.
    fn lrem<K: ToArg, V: ToArg>(
        &self,
        key: K,
        count: i64,
        value: V,
    ) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("LREM").arg(&key).arg(&count).arg(&value))
    }

    /// `LTRIM key start stop`.
    fn ltrim<K: ToArg>(&self, key: K, start: i64, stop: i64) -> impl Future<Output = Result<()>> + Send {
        self.query_cmd(cmd("LTRIM").arg(&key).arg(&start).arg(&stop))
    }

    /// `BLPOP key... timeout` (seconds, `0.0` waits for ever): `Option<(key, value)>`, `None` on timeout.
    fn blpop<K: ToArg, T: FromReply + Send>(
        &self,
        keys: &[K],
        timeout: f64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(args(cmd("BLPOP"), keys).arg(&timeout))
    }

    /// `BRPOP key... timeout`.
    fn brpop<K: ToArg, T: FromReply + Send>(
        &self,
        keys: &[K],
        timeout: f64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(args(cmd("BRPOP"), keys).arg(&timeout))
    }

    // ---- sets ----

    /// `SADD key member...`: how many are new.
    fn sadd<K: ToArg, M: ToArg>(&self, key: K, members: &[M]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("SADD").arg(&key), members))
    }

    /// `SREM key member...`: how many were removed.
    fn srem<K: ToArg, M: ToArg>(&self, key: K, members: &[M]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("SREM").arg(&key), members))
    }

    /// `SMEMBERS key` (a RESP2 array or a RESP3 set alike).
    fn smembers<K: ToArg, M: FromReply + Eq + Hash + Send>(
        &self,
        key: K,
    ) -> impl Future<Output = Result<HashSet<M>>> + Send {
        self.query_cmd(cmd("SMEMBERS").arg(&key))
    }

    /// `SISMEMBER key member`.
    fn sismember<K: ToArg, M: ToArg>(&self, key: K, member: M) -> impl Future<Output = Result<bool>> + Send {
        self.query_cmd(cmd("SISMEMBER").arg(&key).arg(&member))
    }

    /// `SCARD key`.
    fn scard<K: ToArg>(&self, key: K) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("SCARD").arg(&key))
    }

    /// `SPOP key`: `Option<T>`.
    fn spop<K: ToArg, T: FromReply + Send>(&self, key: K) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("SPOP").arg(&key))
    }

    /// `SPOP key count`.
    fn spop_count<K: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        count: u64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("SPOP").arg(&key).arg(&count))
    }

    /// `SINTER key...` (one slot in a cluster).
    fn sinter<K: ToArg, M: FromReply + Eq + Hash + Send>(
        &self,
        keys: &[K],
    ) -> impl Future<Output = Result<HashSet<M>>> + Send {
        self.query_cmd(args(cmd("SINTER"), keys))
    }

    /// `SUNION key...` (one slot in a cluster).
    fn sunion<K: ToArg, M: FromReply + Eq + Hash + Send>(
        &self,
        keys: &[K],
    ) -> impl Future<Output = Result<HashSet<M>>> + Send {
        self.query_cmd(args(cmd("SUNION"), keys))
    }

    // ---- sorted sets ----

    /// `ZADD key score member`: whether the member is new.
    fn zadd<K: ToArg, M: ToArg, S: ToArg>(
        &self,
        key: K,
        member: M,
        score: S,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.query_cmd(cmd("ZADD").arg(&key).arg(&score).arg(&member))
    }

    /// `ZADD key score member...` from `(score, member)` pairs: how many are new.
    fn zadd_multiple<K: ToArg, S: ToArg, M: ToArg>(
        &self,
        key: K,
        items: &[(S, M)],
    ) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(pairs(cmd("ZADD").arg(&key), items))
    }

    /// `ZINCRBY key delta member`: the new score.
    fn zincr_by<K: ToArg, M: ToArg>(
        &self,
        key: K,
        member: M,
        delta: f64,
    ) -> impl Future<Output = Result<f64>> + Send {
        self.query_cmd(cmd("ZINCRBY").arg(&key).arg(&delta).arg(&member))
    }

    /// `ZSCORE key member`: `None` for a missing member (a bulk string in RESP2, a double in RESP3).
    fn zscore<K: ToArg, M: ToArg>(
        &self,
        key: K,
        member: M,
    ) -> impl Future<Output = Result<Option<f64>>> + Send {
        self.query_cmd(cmd("ZSCORE").arg(&key).arg(&member))
    }

    /// `ZRANK key member`: `None` for a missing member.
    fn zrank<K: ToArg, M: ToArg>(
        &self,
        key: K,
        member: M,
    ) -> impl Future<Output = Result<Option<u64>>> + Send {
        self.query_cmd(cmd("ZRANK").arg(&key).arg(&member))
    }

    /// `ZREVRANK key member`.
    fn zrevrank<K: ToArg, M: ToArg>(
        &self,
        key: K,
        member: M,
    ) -> impl Future<Output = Result<Option<u64>>> + Send {
        self.query_cmd(cmd("ZREVRANK").arg(&key).arg(&member))
    }

    /// `ZREM key member...`: how many were removed.
    fn zrem<K: ToArg, M: ToArg>(&self, key: K, members: &[M]) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(args(cmd("ZREM").arg(&key), members))
    }

    /// `ZCARD key`.
    fn zcard<K: ToArg>(&self, key: K) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("ZCARD").arg(&key))
    }

    /// `ZCOUNT key min max` (`min`/`max` as Redis reads them: `1.5`, `(1`, `-inf`).
    fn zcount<K: ToArg, A: ToArg, B: ToArg>(
        &self,
        key: K,
        min: A,
        max: B,
    ) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("ZCOUNT").arg(&key).arg(&min).arg(&max))
    }

    /// `ZRANGE key start stop`: members by rank.
    fn zrange<K: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("ZRANGE").arg(&key).arg(&start).arg(&stop))
    }

    /// `ZRANGE key start stop WITHSCORES`: `(member, score)` pairs over RESP2 and RESP3 alike.
    fn zrange_withscores<K: ToArg, M: FromReply + Send>(
        &self,
        key: K,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<Vec<(M, f64)>>> + Send {
        query_scored(self, cmd("ZRANGE").arg(&key).arg(&start).arg(&stop).arg("WITHSCORES"))
    }

    /// `ZREVRANGE key start stop`.
    fn zrevrange<K: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("ZREVRANGE").arg(&key).arg(&start).arg(&stop))
    }

    /// `ZREVRANGE key start stop WITHSCORES`.
    fn zrevrange_withscores<K: ToArg, M: FromReply + Send>(
        &self,
        key: K,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<Vec<(M, f64)>>> + Send {
        query_scored(self, cmd("ZREVRANGE").arg(&key).arg(&start).arg(&stop).arg("WITHSCORES"))
    }

    /// `ZRANGEBYSCORE key min max`.
    fn zrange_by_score<K: ToArg, A: ToArg, B: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        min: A,
        max: B,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(cmd("ZRANGEBYSCORE").arg(&key).arg(&min).arg(&max))
    }

    /// `ZRANGEBYSCORE key min max LIMIT offset count`.
    fn zrange_by_score_limit<K: ToArg, A: ToArg, B: ToArg, T: FromReply + Send>(
        &self,
        key: K,
        min: A,
        max: B,
        offset: i64,
        count: i64,
    ) -> impl Future<Output = Result<T>> + Send {
        self.query_cmd(
            cmd("ZRANGEBYSCORE").arg(&key).arg(&min).arg(&max).arg("LIMIT").arg(&offset).arg(&count),
        )
    }

    /// `ZRANGEBYSCORE key min max WITHSCORES`.
    fn zrange_by_score_withscores<K: ToArg, A: ToArg, B: ToArg, M: FromReply + Send>(
        &self,
        key: K,
        min: A,
        max: B,
    ) -> impl Future<Output = Result<Vec<(M, f64)>>> + Send {
        query_scored(self, cmd("ZRANGEBYSCORE").arg(&key).arg(&min).arg(&max).arg("WITHSCORES"))
    }

    /// `ZPOPMIN key count`: the lowest `(member, score)` pairs, removed.
    fn zpopmin<K: ToArg, M: FromReply + Send>(
        &self,
        key: K,
        count: u64,
    ) -> impl Future<Output = Result<Vec<(M, f64)>>> + Send {
        query_scored(self, cmd("ZPOPMIN").arg(&key).arg(&count))
    }

    /// `ZPOPMAX key count`: the highest, removed.
    fn zpopmax<K: ToArg, M: FromReply + Send>(
        &self,
        key: K,
        count: u64,
    ) -> impl Future<Output = Result<Vec<(M, f64)>>> + Send {
        query_scored(self, cmd("ZPOPMAX").arg(&key).arg(&count))
    }

    // ---- pub/sub and server ----

    /// `PUBLISH channel message`: how many subscribers got it.
    fn publish<C: ToArg, M: ToArg>(
        &self,
        channel: C,
        message: M,
    ) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("PUBLISH").arg(&channel).arg(&message))
    }

    /// `PING`: `PONG`.
    fn ping(&self) -> impl Future<Output = Result<String>> + Send {
        self.query_cmd(cmd("PING"))
    }

    /// `DBSIZE` (summed over every primary in a cluster).
    fn dbsize(&self) -> impl Future<Output = Result<u64>> + Send {
        self.query_cmd(cmd("DBSIZE"))
    }

    /// `FLUSHALL` (on every primary in a cluster).
    fn flushall(&self) -> impl Future<Output = Result<()>> + Send {
        self.query_cmd(cmd("FLUSHALL"))
    }

    /// `FLUSHDB` (on every primary in a cluster).
    fn flushdb(&self) -> impl Future<Output = Result<()>> + Send {
        self.query_cmd(cmd("FLUSHDB"))
    }
}

impl Commands for Connection {
    async fn query_cmd<T: FromReply + Send>(&self, c: Cmd) -> Result<T> {
        self.query(&c).await
    }
}

/// A command every primary runs, with its integer replies summed (`DBSIZE`, `FLUSHALL` answer `OK`: 0).
async fn on_every_primary(client: &ClusterClient, c: Cmd) -> Result<i64> {
    let mut total = 0;
    for addr in client.primaries() {
        let reply: Frame = client.connection(&addr).await?.query(&c).await?;
        if let Frame::Integer(n) = reply {
            total += n;
        }
    }
    Ok(total)
}

impl Commands for ClusterClient {
    async fn query_cmd<T: FromReply + Send>(&self, c: Cmd) -> Result<T> {
        self.query(&c).await
    }

    async fn dbsize(&self) -> Result<u64> {
        let n = on_every_primary(self, cmd("DBSIZE")).await?;
        u64::try_from(n).map_err(|_| Error::Type { expected: "u64", got: n.to_string() })
    }

    async fn flushall(&self) -> Result<()> {
        on_every_primary(self, cmd("FLUSHALL")).await.map(|_| ())
    }

    async fn flushdb(&self) -> Result<()> {
        on_every_primary(self, cmd("FLUSHDB")).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the commands it is asked to send and answers each with one canned reply.
    struct Recorder {
        reply: Frame,
        sent: Mutex<Vec<Cmd>>,
    }

    impl Recorder {
        fn new(reply: Frame) -> Recorder {
            Recorder { reply, sent: Mutex::new(Vec::new()) }
        }

        /// The last command sent, as text.
        fn last(&self) -> String {
            let sent = self.sent.lock().unwrap();
            let c = sent.last().expect("a command was sent");
            c.args().iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
        }
    }

    impl Commands for Recorder {
        fn query_cmd<T: FromReply + Send>(&self, c: Cmd) -> impl Future<Output = Result<T>> + Send {
            self.sent.lock().unwrap().push(c);
            std::future::ready(T::from_reply(self.reply.clone()))
        }
    }

    fn run<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    fn ok() -> Frame {
        Frame::Simple(b"OK".to_vec())
    }

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(s.as_bytes().to_vec())
    }

    /// Runs `call` on a recorder answering `reply` and returns the command it sent.
    macro_rules! sent {
        ($reply:expr, |$r:ident| $call:expr) => {{
            let $r = Recorder::new($reply);
            run(async { $call.await.unwrap() });
            $r.last()
        }};
    }

    #[test]
    fn string_commands_build_their_exact_command() {
        let i = || Frame::Integer(1);
        assert_eq!(sent!(bulk("v"), |r| r.get::<_, String>("k")), "GET k");
        assert_eq!(sent!(ok(), |r| r.set("k", 42)), "SET k 42");
        assert_eq!(sent!(i(), |r| r.setnx("k", "v")), "SETNX k v");
        assert_eq!(sent!(ok(), |r| r.setex("k", 10, "v")), "SETEX k 10 v");
        assert_eq!(
            sent!(Frame::Array(vec![]), |r| r.mget::<_, Vec<Option<String>>>(&["a", "b"])),
            "MGET a b"
        );
        assert_eq!(sent!(ok(), |r| r.mset(&[("a", 1), ("b", 2)])), "MSET a 1 b 2");
        assert_eq!(sent!(i(), |r| r.incr("n")), "INCR n");
        assert_eq!(sent!(i(), |r| r.incr_by("n", -5)), "INCRBY n -5");
        assert_eq!(sent!(bulk("1.5"), |r| r.incr_by_float("n", 0.5)), "INCRBYFLOAT n 0.5");
        assert_eq!(sent!(i(), |r| r.decr("n")), "DECR n");
        assert_eq!(sent!(i(), |r| r.decr_by("n", 3)), "DECRBY n 3");
        assert_eq!(sent!(i(), |r| r.append("k", "xy")), "APPEND k xy");
        assert_eq!(sent!(i(), |r| r.strlen("k")), "STRLEN k");
        assert_eq!(sent!(Frame::Null, |r| r.getdel::<_, Option<String>>("k")), "GETDEL k");
        assert_eq!(sent!(Frame::Null, |r| r.getex::<_, Option<String>>("k", Expiry::Ex(5))), "GETEX k EX 5");
        assert_eq!(
            sent!(Frame::Null, |r| r.getex::<_, Option<String>>("k", Expiry::PxAt(9))),
            "GETEX k PXAT 9"
        );
        assert_eq!(
            sent!(Frame::Null, |r| r.getex::<_, Option<String>>("k", Expiry::Persist)),
            "GETEX k PERSIST"
        );
        assert_eq!(sent!(bulk("b"), |r| r.getrange::<_, String>("k", 1, -1)), "GETRANGE k 1 -1");
    }

    #[test]
    fn set_options_in_redis_order() {
        let set = |o: SetOptions| sent!(ok(), |r| r.set_options::<_, _, ()>("k", "v", o));
        assert_eq!(set(SetOptions::new()), "SET k v");
        assert_eq!(set(SetOptions::new().nx().ex(60)), "SET k v NX EX 60");
        assert_eq!(set(SetOptions::new().xx().px(1500).get()), "SET k v XX PX 1500 GET");
        assert_eq!(set(SetOptions::new().get().keep_ttl()), "SET k v KEEPTTL GET");
        assert_eq!(set(SetOptions::new().exat(1_700_000_000)), "SET k v EXAT 1700000000");
        assert_eq!(set(SetOptions::new().pxat(5).ex(1)), "SET k v EX 1", "the last expiry wins");
        assert_eq!(set(SetOptions::new().nx().xx()), "SET k v XX", "the last condition wins");
    }

    #[test]
    fn key_commands_build_their_exact_command() {
        let i = || Frame::Integer(1);
        assert_eq!(sent!(i(), |r| r.del(&["a", "b"])), "DEL a b");
        assert_eq!(sent!(i(), |r| r.unlink(&["a"])), "UNLINK a");
        assert_eq!(sent!(i(), |r| r.exists(&["a", "a"])), "EXISTS a a");
        assert_eq!(sent!(i(), |r| r.touch(&["a", "b"])), "TOUCH a b");
        assert_eq!(sent!(i(), |r| r.expire("k", 10)), "EXPIRE k 10");
        assert_eq!(sent!(i(), |r| r.pexpire("k", 10)), "PEXPIRE k 10");
        assert_eq!(sent!(i(), |r| r.ttl("k")), "TTL k");
        assert_eq!(sent!(i(), |r| r.pttl("k")), "PTTL k");
        assert_eq!(sent!(i(), |r| r.persist("k")), "PERSIST k");
        assert_eq!(sent!(Frame::Simple(b"string".to_vec()), |r| r.type_of("k")), "TYPE k");
        assert_eq!(sent!(ok(), |r| r.rename("a", "b")), "RENAME a b");
    }

    #[test]
    fn hash_commands_build_their_exact_command() {
        let i = || Frame::Integer(1);
        let arr = || Frame::Array(vec![]);
        assert_eq!(sent!(i(), |r| r.hset("h", "f", 1)), "HSET h f 1");
        assert_eq!(sent!(i(), |r| r.hset_multiple("h", &[("a", "1"), ("b", "2")])), "HSET h a 1 b 2");
        assert_eq!(sent!(i(), |r| r.hsetnx("h", "f", "v")), "HSETNX h f v");
        assert_eq!(sent!(Frame::Null, |r| r.hget::<_, _, Option<String>>("h", "f")), "HGET h f");
        assert_eq!(sent!(arr(), |r| r.hmget::<_, _, Vec<Option<String>>>("h", &["a", "b"])), "HMGET h a b");
        assert_eq!(sent!(arr(), |r| r.hgetall::<_, String, String>("h")), "HGETALL h");
        assert_eq!(sent!(i(), |r| r.hdel("h", &["a", "b"])), "HDEL h a b");
        assert_eq!(sent!(i(), |r| r.hexists("h", "a")), "HEXISTS h a");
        assert_eq!(sent!(i(), |r| r.hincr_by("h", "a", 7)), "HINCRBY h a 7");
        assert_eq!(sent!(arr(), |r| r.hkeys::<_, Vec<String>>("h")), "HKEYS h");
        assert_eq!(sent!(arr(), |r| r.hvals::<_, Vec<String>>("h")), "HVALS h");
        assert_eq!(sent!(i(), |r| r.hlen("h")), "HLEN h");
    }

    #[test]
    fn list_commands_build_their_exact_command() {
        let i = || Frame::Integer(1);
        let arr = || Frame::Array(vec![]);
        assert_eq!(sent!(i(), |r| r.lpush("l", &["a", "b"])), "LPUSH l a b");
        assert_eq!(sent!(i(), |r| r.rpush("l", &[1, 2])), "RPUSH l 1 2");
        assert_eq!(sent!(Frame::Null, |r| r.lpop::<_, Option<String>>("l")), "LPOP l");
        assert_eq!(sent!(arr(), |r| r.lpop_count::<_, Vec<String>>("l", 2)), "LPOP l 2");
        assert_eq!(sent!(Frame::Null, |r| r.rpop::<_, Option<String>>("l")), "RPOP l");
        assert_eq!(sent!(arr(), |r| r.rpop_count::<_, Vec<String>>("l", 3)), "RPOP l 3");
        assert_eq!(sent!(arr(), |r| r.lrange::<_, Vec<String>>("l", 0, -1)), "LRANGE l 0 -1");
        assert_eq!(sent!(i(), |r| r.llen("l")), "LLEN l");
        assert_eq!(sent!(Frame::Null, |r| r.lindex::<_, Option<String>>("l", -1)), "LINDEX l -1");
        assert_eq!(sent!(ok(), |r| r.lset("l", 0, "x")), "LSET l 0 x");
        assert_eq!(sent!(i(), |r| r.lrem("l", -2, "x")), "LREM l -2 x");
        assert_eq!(sent!(ok(), |r| r.ltrim("l", 1, 5)), "LTRIM l 1 5");
        assert_eq!(
            sent!(Frame::NullArray, |r| r.blpop::<_, Option<(String, String)>>(&["a", "b"], 0.5)),
            "BLPOP a b 0.5"
        );
        assert_eq!(sent!(Frame::Null, |r| r.brpop::<_, Option<(String, String)>>(&["a"], 0.0)), "BRPOP a 0");
    }

    #[test]
    fn set_commands_build_their_exact_command() {
        let i = || Frame::Integer(1);
        let arr = || Frame::Array(vec![]);
        assert_eq!(sent!(i(), |r| r.sadd("s", &["a", "b"])), "SADD s a b");
        assert_eq!(sent!(i(), |r| r.srem("s", &["a"])), "SREM s a");
        assert_eq!(sent!(arr(), |r| r.smembers::<_, String>("s")), "SMEMBERS s");
        assert_eq!(sent!(i(), |r| r.sismember("s", "a")), "SISMEMBER s a");
        assert_eq!(sent!(i(), |r| r.scard("s")), "SCARD s");
        assert_eq!(sent!(Frame::Null, |r| r.spop::<_, Option<String>>("s")), "SPOP s");
        assert_eq!(sent!(arr(), |r| r.spop_count::<_, Vec<String>>("s", 2)), "SPOP s 2");
        assert_eq!(sent!(arr(), |r| r.sinter::<_, String>(&["a", "b"])), "SINTER a b");
        assert_eq!(sent!(arr(), |r| r.sunion::<_, String>(&["a", "b"])), "SUNION a b");
    }

    #[test]
    fn sorted_set_commands_build_their_exact_command() {
        let i = || Frame::Integer(1);
        let arr = || Frame::Array(vec![]);
        assert_eq!(sent!(i(), |r| r.zadd("z", "m", 1.5)), "ZADD z 1.5 m");
        assert_eq!(sent!(i(), |r| r.zadd_multiple("z", &[(1, "a"), (2, "b")])), "ZADD z 1 a 2 b");
        assert_eq!(sent!(bulk("2"), |r| r.zincr_by("z", "m", 0.5)), "ZINCRBY z 0.5 m");
        assert_eq!(sent!(Frame::Null, |r| r.zscore("z", "m")), "ZSCORE z m");
        assert_eq!(sent!(Frame::Null, |r| r.zrank("z", "m")), "ZRANK z m");
        assert_eq!(sent!(Frame::Null, |r| r.zrevrank("z", "m")), "ZREVRANK z m");
        assert_eq!(sent!(i(), |r| r.zrem("z", &["a", "b"])), "ZREM z a b");
        assert_eq!(sent!(i(), |r| r.zcard("z")), "ZCARD z");
        assert_eq!(sent!(i(), |r| r.zcount("z", "(1", f64::INFINITY)), "ZCOUNT z (1 inf");
        assert_eq!(sent!(arr(), |r| r.zrange::<_, Vec<String>>("z", 0, -1)), "ZRANGE z 0 -1");
        assert_eq!(sent!(arr(), |r| r.zrange_withscores::<_, String>("z", 0, 1)), "ZRANGE z 0 1 WITHSCORES");
        assert_eq!(sent!(arr(), |r| r.zrevrange::<_, Vec<String>>("z", 0, -1)), "ZREVRANGE z 0 -1");
        assert_eq!(
            sent!(arr(), |r| r.zrevrange_withscores::<_, String>("z", 0, -1)),
            "ZREVRANGE z 0 -1 WITHSCORES"
        );
        assert_eq!(
            sent!(arr(), |r| r.zrange_by_score::<_, _, _, Vec<String>>("z", "-inf", 3)),
            "ZRANGEBYSCORE z -inf 3"
        );
        assert_eq!(
            sent!(arr(), |r| r.zrange_by_score_limit::<_, _, _, Vec<String>>("z", 1, "+inf", 2, 10)),
            "ZRANGEBYSCORE z 1 +inf LIMIT 2 10"
        );
        assert_eq!(
            sent!(arr(), |r| r.zrange_by_score_withscores::<_, _, _, String>("z", 1, 2)),
            "ZRANGEBYSCORE z 1 2 WITHSCORES"
        );
        assert_eq!(sent!(arr(), |r| r.zpopmin::<_, String>("z", 2)), "ZPOPMIN z 2");
        assert_eq!(sent!(arr(), |r| r.zpopmax::<_, String>("z", 1)), "ZPOPMAX z 1");
    }

    #[test]
    fn server_and_pubsub_commands_build_their_exact_command() {
        assert_eq!(sent!(Frame::Integer(0), |r| r.publish("ch", "hi")), "PUBLISH ch hi");
        assert_eq!(sent!(Frame::Simple(b"PONG".to_vec()), |r| r.ping()), "PING");
        assert_eq!(sent!(Frame::Integer(0), |r| r.dbsize()), "DBSIZE");
        assert_eq!(sent!(ok(), |r| r.flushall()), "FLUSHALL");
        assert_eq!(sent!(ok(), |r| r.flushdb()), "FLUSHDB");
    }

    #[test]
    fn scores_convert_from_resp2_and_resp3() {
        let resp2 = Frame::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("-inf")]);
        let resp3 = Frame::Array(vec![
            Frame::Array(vec![bulk("a"), Frame::Double(1.0)]),
            Frame::Array(vec![bulk("b"), Frame::Double(f64::NEG_INFINITY)]),
        ]);
        for f in [resp2, resp3] {
            let v: Vec<(String, f64)> = scored(f).unwrap();
            assert_eq!(v, vec![("a".to_string(), 1.0), ("b".to_string(), f64::NEG_INFINITY)]);
        }
        assert_eq!(scored::<String>(Frame::Array(vec![])).unwrap(), vec![]);
        assert!(scored::<String>(Frame::Array(vec![bulk("a")])).is_err(), "a member without a score");
        assert!(scored::<String>(Frame::Array(vec![bulk("a"), bulk("x")])).is_err(), "a score not a number");
        let r = Recorder::new(Frame::Array(vec![bulk("m"), bulk("2.5")]));
        assert_eq!(run(r.zpopmin::<_, String>("z", 1)).unwrap(), vec![("m".to_string(), 2.5)]);
    }

    #[test]
    fn sets_convert_from_arrays_and_resp3_sets() {
        for f in [Frame::Array(vec![bulk("a"), bulk("b"), bulk("a")]), Frame::Set(vec![bulk("a"), bulk("b")])]
        {
            let s = HashSet::<String>::from_reply(f).unwrap();
            assert_eq!(s, HashSet::from(["a".to_string(), "b".to_string()]));
        }
    }

    #[test]
    fn errors_pass_through_typed_methods() {
        let r =
            Recorder::new(Frame::Error(b"WRONGTYPE Operation against a key holding the wrong kind".to_vec()));
        assert_eq!(run(r.incr("k")).unwrap_err().code(), Some("WRONGTYPE"));
        let r = Recorder::new(bulk("abc"));
        assert!(matches!(run(r.incr("k")), Err(Error::Type { .. })));
    }
}
