//! The cluster client: keeps the slot map, sends each command straight to the node that owns its keys,
//! and follows the cluster's answers. Every retry decision is one `match` ([`next_step`]).
//!
//! ```no_run
//! # async fn example() -> slotkv_client::Result<()> {
//! use slotkv_client::{cmd, ClusterClient};
//! let client = ClusterClient::builder(["127.0.0.1:7000"]).build().await?;
//! client.query::<()>(&cmd("SET").arg("k").arg("v")).await?;
//! # Ok(()) }
//! ```

use crate::cmd::{cmd, Cmd};
use crate::conn::{ConnectOptions, Connection};
use crate::error::{Error, Result};
use crate::reply::{unwrap_reply, FromReply};
use slotkv_proto::frame::Frame;
use slotkv_proto::slot::{key_slot, SLOT_COUNT};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a [`ClusterClient`] behaves.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub connect: ConnectOptions,
    /// Redirects and retries one command may take before its last error is returned.
    pub retries: usize,
    /// The first wait before a retry of `TRYAGAIN`, `CLUSTERDOWN`, `LOADING` or a lost connection;
    /// doubled each time.
    pub backoff: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions { connect: ConnectOptions::default(), retries: 16, backoff: Duration::from_millis(10) }
    }
}

pub struct ClusterBuilder {
    seeds: Vec<String>,
    options: ClusterOptions,
}

impl ClusterBuilder {
    pub fn options(mut self, options: ClusterOptions) -> ClusterBuilder {
        self.options = options;
        self
    }

    /// Learns the slot map from the first seed that answers.
    pub async fn build(self) -> Result<ClusterClient> {
        let client = ClusterClient {
            inner: Arc::new(Inner {
                seeds: self.seeds,
                options: self.options,
                state: Mutex::new(State { slots: vec![None; SLOT_COUNT], conns: HashMap::new() }),
            }),
        };
        client.refresh().await?;
        Ok(client)
    }
}

struct State {
    /// The address serving each slot, as last learned.
    slots: Vec<Option<Arc<str>>>,
    conns: HashMap<Arc<str>, Connection>,
}

struct Inner {
    seeds: Vec<String>,
    options: ClusterOptions,
    state: Mutex<State>,
}

/// A cheap handle to the cluster: clone it into every task.
#[derive(Clone)]
pub struct ClusterClient {
    inner: Arc<Inner>,
}

/// What to do after a reply, decided in one place.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Done,
    /// The slot moved for good: remember the new owner and send there.
    Moved {
        slot: usize,
        addr: String,
    },
    /// Ask the importing node this once (`ASKING` first).
    Ask {
        addr: String,
    },
    /// Wait and try again (the same node, after refreshing the map).
    Retry,
    Fail,
}

/// The retry policy: every reply or error maps to exactly one step.
fn next_step(result: &Result<Frame>) -> Step {
    let redirect = |message: &str| {
        let mut parts = message.split(' ').skip(1);
        let slot = parts.next().and_then(|s| s.parse::<usize>().ok());
        let addr = parts.next().map(str::to_string);
        slot.zip(addr)
    };
    match result {
        Ok(_) => Step::Done,
        Err(Error::Server { code, message }) => match code.as_str() {
            "MOVED" => redirect(message).map_or(Step::Fail, |(slot, addr)| Step::Moved { slot, addr }),
            "ASK" => redirect(message).map_or(Step::Fail, |(_, addr)| Step::Ask { addr }),
            "TRYAGAIN" | "CLUSTERDOWN" | "LOADING" => Step::Retry,
            _ => Step::Fail,
        },
        Err(Error::Io(_)) => Step::Retry,
        Err(Error::Protocol(_) | Error::Type { .. }) => Step::Fail,
    }
}

/// The slot of a command's keys (the first key decides; the node answers CROSSSLOT if they differ), or
/// `None` for a command without keys.
fn slot_of(c: &Cmd) -> Option<usize> {
    let argv: Vec<&[u8]> = c.args().iter().map(Vec::as_slice).collect();
    let name = argv.first()?;
    let spec = slotkv_proto::lookup(name)?;
    let spec = if spec.name.contains('|') || argv.len() < 2 {
        spec
    } else {
        slotkv_proto::lookup_sub(spec, argv.get(1).copied().unwrap_or_default()).unwrap_or(spec)
    };
    let first = spec.keys_in(&argv)?.into_iter().next()?;
    argv.get(first).map(|k| key_slot(k) as usize)
}

impl ClusterClient {
    pub fn builder<S: AsRef<str>>(seeds: impl IntoIterator<Item = S>) -> ClusterBuilder {
        ClusterBuilder {
            seeds: seeds.into_iter().map(|s| s.as_ref().to_string()).collect(),
            options: ClusterOptions::default(),
        }
    }

    async fn conn(&self, addr: &str) -> Result<Connection> {
        if let Ok(state) = self.inner.state.lock() {
            if let Some(c) = state.conns.get(addr) {
                return Ok(c.clone());
            }
        }
        let c = Connection::connect_with(addr, &self.inner.options.connect).await?;
        if let Ok(mut state) = self.inner.state.lock() {
            state.conns.insert(Arc::from(addr), c.clone());
        }
        Ok(c)
    }

    /// The shared, multiplexed connection to `addr` (made on first use).
    pub async fn connection(&self, addr: &str) -> Result<Connection> {
        self.conn(addr).await
    }

    /// A new connection to `addr` of its own, with the client's connect options: for what must not share
    /// a connection (blocking commands, `WATCH`/`MULTI`, subscriptions).
    pub async fn dedicated(&self, addr: &str) -> Result<Connection> {
        Connection::connect_with(addr, &self.inner.options.connect).await
    }

    /// The address of the node serving `slot`, as last learned.
    pub fn slot_owner(&self, slot: u16) -> Option<String> {
        self.owner(Some(usize::from(slot)))
    }

    /// The addresses of every node serving slots (the primaries), each once, in slot order.
    pub fn primaries(&self) -> Vec<String> {
        let Ok(state) = self.inner.state.lock() else { return Vec::new() };
        let mut out: Vec<String> = Vec::new();
        for addr in state.slots.iter().flatten() {
            if !out.iter().any(|a| a.as_str() == &**addr) {
                out.push(addr.to_string());
            }
        }
        out
    }

    fn forget(&self, addr: &str) {
        if let Ok(mut state) = self.inner.state.lock() {
            state.conns.remove(addr);
        }
    }

    /// Reads the slot map (`CLUSTER SLOTS`) from a known node or a seed.
    pub async fn refresh(&self) -> Result<()> {
        let mut candidates: Vec<String> = match self.inner.state.lock() {
            Ok(state) => state.conns.keys().map(|a| a.to_string()).collect(),
            Err(_) => Vec::new(),
        };
        candidates.extend(self.inner.seeds.iter().cloned());
        let mut last = Error::Io("no seed to learn the cluster from".into());
        for addr in candidates {
            let answer = match self.conn(&addr).await {
                Ok(c) => c.query::<Frame>(&cmd("CLUSTER").arg("SLOTS")).await,
                Err(e) => Err(e),
            };
            match answer.and_then(parse_slots) {
                Ok(map) => {
                    if let Ok(mut state) = self.inner.state.lock() {
                        state.slots = map;
                    }
                    return Ok(());
                }
                Err(e) => {
                    self.forget(&addr);
                    last = e;
                }
            }
        }
        Err(last)
    }

    fn owner(&self, slot: Option<usize>) -> Option<String> {
        let state = self.inner.state.lock().ok()?;
        match slot {
            Some(s) => state.slots.get(s).cloned().flatten().map(|a| a.to_string()),
            None => state.slots.iter().flatten().next().map(|a| a.to_string()),
        }
    }

    /// Sends one command to the node serving its keys, following redirects and retrying as
    /// [`next_step`] says; returns the raw reply.
    pub async fn send(&self, c: &Cmd) -> Result<Frame> {
        let slot = slot_of(c);
        let mut addr = self.owner(slot);
        let mut asking = false;
        let mut wait = self.inner.options.backoff;
        let mut last = Error::Io("no node serves this slot".into());
        for _ in 0..=self.inner.options.retries {
            let Some(target) = addr.clone() else {
                self.refresh().await.ok();
                addr = self.owner(slot);
                tokio::time::sleep(wait).await;
                wait *= 2;
                continue;
            };
            let result = match self.conn(&target).await {
                Ok(conn) if asking => conn
                    .send_raw(&[cmd("ASKING"), c.clone()])
                    .await
                    .and_then(|mut r| r.pop().ok_or(Error::Protocol("no reply".into())))
                    .and_then(unwrap_reply),
                Ok(conn) => conn.send_raw(std::slice::from_ref(c)).await.and_then(|mut r| {
                    r.pop().ok_or(Error::Protocol("no reply".into())).and_then(unwrap_reply)
                }),
                Err(e) => Err(e),
            };
            asking = false;
            match next_step(&result) {
                Step::Done | Step::Fail => return result,
                Step::Moved { slot, addr: to } => {
                    if let Ok(mut state) = self.inner.state.lock() {
                        if let Some(s) = state.slots.get_mut(slot) {
                            *s = Some(Arc::from(to.as_str()));
                        }
                    }
                    addr = Some(to);
                }
                Step::Ask { addr: to } => {
                    addr = Some(to);
                    asking = true;
                }
                Step::Retry => {
                    if matches!(result, Err(Error::Io(_))) {
                        self.forget(&target);
                    }
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    self.refresh().await.ok();
                    addr = self.owner(slot);
                }
            }
            if let Err(e) = result {
                last = e;
            }
        }
        Err(last)
    }

    /// [`ClusterClient::send`] with the reply converted. `MGET`, `MSET`, `DEL`, `UNLINK`, `EXISTS` and
    /// `TOUCH` whose keys span slots are split by slot, sent concurrently and merged (the command table's
    /// merge flags say how); atomic commands such as `MSETNX` are not split (the node answers
    /// `-CROSSSLOT`).
    pub async fn query<T: FromReply>(&self, c: &Cmd) -> Result<T> {
        let frame = match split(c) {
            Some((merge, parts)) => self.send_split(merge, parts).await?,
            None => self.send(c).await?,
        };
        T::from_reply(frame)
    }

    /// Sends commands whose keys may live on different nodes: grouped per node, each group one pipeline,
    /// all groups concurrently; the replies come back in the caller's order. A command answered with a
    /// redirect or a transient error is retried alone (as [`ClusterClient::send`] does), so one moved slot
    /// does not fail the rest.
    pub async fn pipeline<T: FromReply>(&self, cmds: &[Cmd]) -> Result<Vec<Result<T>>> {
        let mut groups: HashMap<Option<String>, Vec<usize>> = HashMap::new();
        for (i, c) in cmds.iter().enumerate() {
            groups.entry(self.owner(slot_of(c))).or_default().push(i);
        }
        let tasks: Vec<_> = groups
            .into_iter()
            .map(|(addr, indexes)| {
                let client = self.clone();
                let batch: Vec<Cmd> = indexes.iter().filter_map(|&i| cmds.get(i).cloned()).collect();
                tokio::spawn(async move {
                    let replies = match addr {
                        Some(a) => match client.conn(&a).await {
                            Ok(conn) => conn.send_raw(&batch).await,
                            Err(e) => Err(e),
                        },
                        None => Err(Error::Io("no node serves this slot".into())),
                    };
                    let mut out = Vec::with_capacity(batch.len());
                    match replies {
                        Ok(frames) => {
                            for (c, f) in batch.iter().zip(frames) {
                                let r = unwrap_reply(f);
                                // Redirects and transient errors: this command again, on its own.
                                let r = match next_step(&r) {
                                    Step::Done | Step::Fail => r,
                                    _ => client.send(c).await,
                                };
                                out.push(r);
                            }
                        }
                        Err(_) => {
                            for c in &batch {
                                out.push(client.send(c).await);
                            }
                        }
                    }
                    (indexes, out)
                })
            })
            .collect();
        let mut results: Vec<Option<Result<T>>> = (0..cmds.len()).map(|_| None).collect();
        for t in tasks {
            let (indexes, replies) = t.await.map_err(|e| Error::Io(format!("pipeline task: {e}")))?;
            for (i, r) in indexes.into_iter().zip(replies) {
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(r.and_then(T::from_reply));
                }
            }
        }
        Ok(results.into_iter().map(|r| r.unwrap_or(Err(Error::Protocol("no reply".into())))).collect())
    }

    async fn send_split(&self, merge: Merge, parts: Vec<Part>) -> Result<Frame> {
        let tasks: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let client = self.clone();
                tokio::spawn(async move { (part.positions, client.send(&part.cmd).await) })
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for t in tasks {
            results.push(t.await.map_err(|e| Error::Io(format!("split command task: {e}")))?);
        }
        match merge {
            Merge::Sum => {
                let mut total = 0;
                for (_, r) in results {
                    total += i64::from_reply(r?)?;
                }
                Ok(Frame::Integer(total))
            }
            Merge::AllOk => {
                for (_, r) in results {
                    r?;
                }
                Ok(Frame::Simple(b"OK".to_vec()))
            }
            Merge::Keys => {
                let total: usize = results.iter().map(|(p, _)| p.len()).sum();
                let mut out = vec![Frame::Null; total];
                for (positions, r) in results {
                    let Frame::Array(values) = r? else {
                        return Err(Error::Protocol("a split MGET part did not answer an array".into()));
                    };
                    for (pos, v) in positions.into_iter().zip(values) {
                        if let Some(slot) = out.get_mut(pos) {
                            *slot = v;
                        }
                    }
                }
                Ok(Frame::Array(out))
            }
        }
    }
}

/// How the replies of a split command combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    Sum,
    AllOk,
    Keys,
}

/// One slot's share of a split command: the command, and the positions (in key order) of its keys.
struct Part {
    cmd: Cmd,
    positions: Vec<usize>,
}

/// Splits a multi-key command whose keys span slots, when the command table says it may be; `None`
/// otherwise (one slot, or a command that must stay atomic).
fn split(c: &Cmd) -> Option<(Merge, Vec<Part>)> {
    use slotkv_proto::command::flags;
    let args = c.args();
    let spec = slotkv_proto::lookup(args.first()?)?;
    let merge = if spec.has(flags::MERGE_SUM) {
        Merge::Sum
    } else if spec.has(flags::MERGE_ALL_OK) {
        Merge::AllOk
    } else if spec.has(flags::MERGE_KEYS) {
        Merge::Keys
    } else {
        return None;
    };
    let step = usize::try_from(spec.step).ok().filter(|&s| s > 0)?;
    let first = usize::try_from(spec.first_key).ok().filter(|&f| f > 0)?;
    let mut groups: Vec<(u16, Part)> = Vec::new();
    for (n, i) in (first..args.len()).step_by(step).enumerate() {
        let key = args.get(i)?;
        let slot = key_slot(key);
        let at = match groups.iter().position(|(s, _)| *s == slot) {
            Some(at) => at,
            None => {
                groups.push((
                    slot,
                    Part { cmd: Cmd::from_args(vec![args.first()?.clone()]), positions: Vec::new() },
                ));
                groups.len() - 1
            }
        };
        let (_, part) = groups.get_mut(at)?;
        for a in args.get(i..i + step)? {
            part.cmd = std::mem::take(&mut part.cmd).arg(a.as_slice());
        }
        part.positions.push(n);
    }
    (groups.len() > 1).then(|| (merge, groups.into_iter().map(|(_, p)| p).collect()))
}

/// `CLUSTER SLOTS` into an address per slot.
fn parse_slots(frame: Frame) -> Result<Vec<Option<Arc<str>>>> {
    let mut slots = vec![None; SLOT_COUNT];
    let bad = || Error::Protocol("unexpected CLUSTER SLOTS reply".into());
    let Frame::Array(ranges) = frame else { return Err(bad()) };
    for range in ranges {
        let Frame::Array(items) = range else { return Err(bad()) };
        let mut it = items.into_iter();
        let (Some(Frame::Integer(start)), Some(Frame::Integer(end)), Some(Frame::Array(node))) =
            (it.next(), it.next(), it.next())
        else {
            return Err(bad());
        };
        let mut node = node.into_iter();
        let (Some(Frame::Bulk(ip)), Some(Frame::Integer(port))) = (node.next(), node.next()) else {
            return Err(bad());
        };
        let addr: Arc<str> = Arc::from(format!("{}:{port}", String::from_utf8_lossy(&ip)).as_str());
        let (start, end) =
            (usize::try_from(start).map_err(|_| bad())?, usize::try_from(end).map_err(|_| bad())?);
        for s in slots.get_mut(start..=end.min(SLOT_COUNT - 1)).into_iter().flatten() {
            *s = Some(Arc::clone(&addr));
        }
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> Result<Frame> {
        Err(Error::server(text.as_bytes()))
    }

    #[test]
    fn one_step_for_every_answer() {
        assert_eq!(next_step(&Ok(Frame::Null)), Step::Done);
        assert_eq!(
            next_step(&err("MOVED 3999 127.0.0.1:7001")),
            Step::Moved { slot: 3999, addr: "127.0.0.1:7001".into() }
        );
        assert_eq!(next_step(&err("ASK 3999 127.0.0.1:7002")), Step::Ask { addr: "127.0.0.1:7002".into() });
        assert_eq!(next_step(&err("TRYAGAIN Multiple keys request during rehashing of slot")), Step::Retry);
        assert_eq!(next_step(&err("CLUSTERDOWN The cluster is down")), Step::Retry);
        assert_eq!(next_step(&Err(Error::Io("reset".into()))), Step::Retry);
        assert_eq!(next_step(&err("WRONGTYPE Operation against a key")), Step::Fail);
        assert_eq!(next_step(&err("MOVED garbage")), Step::Fail);
    }

    #[test]
    fn multi_key_commands_split_by_slot() {
        let (merge, parts) =
            split(&cmd("MSET").arg("a").arg("1").arg("b").arg("2").arg("{a}x").arg("3")).unwrap();
        assert_eq!(merge, Merge::AllOk);
        assert_eq!(parts.len(), 2);
        let a = parts.iter().find(|p| p.positions == [0, 2]).unwrap();
        assert_eq!(a.cmd, cmd("MSET").arg("a").arg("1").arg("{a}x").arg("3"));
        assert!(split(&cmd("MGET").arg("{t}1").arg("{t}2")).is_none(), "one slot: not split");
        assert!(split(&cmd("MSETNX").arg("a").arg("1").arg("b").arg("2")).is_none(), "atomic: never split");
        assert_eq!(split(&cmd("DEL").arg("a").arg("b")).map(|(m, p)| (m, p.len())), Some((Merge::Sum, 2)));
    }

    #[test]
    fn slots_of_commands() {
        assert_eq!(slot_of(&cmd("GET").arg("somekey")), Some(11058));
        assert_eq!(slot_of(&cmd("MSET").arg("foo{hash_tag}").arg("v")), Some(2515));
        assert_eq!(slot_of(&cmd("ZUNIONSTORE").arg("somekey").arg(&1i64).arg("x")), Some(11058));
        assert_eq!(slot_of(&cmd("PING")), None);
    }
}
