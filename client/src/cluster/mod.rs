//! The cluster client: keeps the slot map, sends each command straight to the node that owns its keys,
//! and follows the cluster's answers. Every retry decision is one `match` ([`policy::next_step`]).
//!
//! ```no_run
//! # async fn example() -> slotkv_client::Result<()> {
//! use slotkv_client::{cmd, ClusterClient};
//! let client = ClusterClient::builder(["127.0.0.1:7000"]).build().await?;
//! client.query::<()>(&cmd("SET").arg("k").arg("v")).await?;
//! # Ok(()) }
//! ```
//!
//! - `MOVED` updates the slot at once and schedules one debounced refresh of the whole map (many `MOVED`s
//!   in a burst, as during a reshard, cost one refresh); `ASK` sends `ASKING` + the command to the
//!   importing node once; `TRYAGAIN`, `CLUSTERDOWN`, `LOADING` and lost connections back off, refresh
//!   (coalesced: tasks failing together share one refresh) and retry, within the retry budget and the
//!   command's timeout. The map is also refreshed periodically, so added and removed nodes are noticed.
//! - A lost node (a connection that breaks or cannot be made) is retried until the command's timeout,
//!   not counted against the retry budget: each retry refreshes the map first, so when a replica takes
//!   over a dead primary within the timeout (failover), the caller sees only a slower reply.
//! - Replicas: the map keeps each slot range's replicas too. With [`ReadFrom::PreferReplica`] or
//!   [`ReadFrom::AnyNode`], read-only commands (flag `READONLY` in the command table) go to a replica on a
//!   connection that said `READONLY` (every connection does, once, when made); a replica that cannot be
//!   reached is skipped for a while and the primary serves. Writes always go to the primary.
//! - Blocking commands (`BLPOP`...) run on connections of their own, so that they never hold up the shared
//!   one; their wait is not bounded by the timeout (their own timeout argument bounds it).
//! - A command that failed on a lost connection is retried, so a write may run twice if the connection
//!   broke after the node ran it but before its reply arrived (as with every Redis Cluster client).

mod fanout;
mod policy;
mod scan;
mod split;
mod topology;
mod transaction;

pub use scan::Scan;

use crate::cmd::{cmd, Cmd};
use crate::conn::{ConnectOptions, Connection};
use crate::error::{Error, Result};
use crate::reply::{unwrap_reply, FromReply};
use crate::transport::{Tcp, Transport};
use policy::{next_step, Step};
use slotkv_proto::frame::Frame;
use slotkv_proto::slot::key_slot;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::time::Instant;
use topology::{Shard, SlotMap};

/// Which nodes serve read-only commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadFrom {
    /// The primary serves everything (default): reads see every acknowledged write.
    #[default]
    Primary,
    /// A replica of the slot's primary serves reads (round robin over the replicas that are up); the
    /// primary serves them when none is. Replication is asynchronous: a read may miss a recent write.
    PreferReplica,
    /// Reads spread over the primary and its replicas, round robin.
    AnyNode,
}

/// How long a replica that could not be reached is left out of reads (the primary serves them).
const REPLICA_PAUSE: Duration = Duration::from_secs(2);

/// How a [`ClusterClient`] behaves. Every field has a default ([`ClusterOptions::default`]).
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Password, user name and protocol for every connection (default: none, RESP2).
    pub connect: ConnectOptions,
    /// Redirects and retries one command may take before its last error is returned (default 16).
    pub retries: usize,
    /// The first wait before a retry of `TRYAGAIN`, `CLUSTERDOWN`, `LOADING` or a lost connection;
    /// doubled each time (default 10 ms) up to `max_backoff` (default 500 ms).
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// How long one command may take in all, retries included, before it fails with
    /// [`Error::Timeout`] (default 5 s). A dead node is reported within this time, never a hang.
    pub timeout: Duration,
    /// How long opening one connection may take (default 1 s).
    pub connect_timeout: Duration,
    /// How often the slot map is read again even when nothing prompted it (default 30 s; `None`: never).
    pub refresh_interval: Option<Duration>,
    /// How long a `MOVED` waits before it refreshes the map, so that a burst costs one refresh
    /// (default 100 ms).
    pub refresh_debounce: Duration,
    /// Which nodes serve read-only commands (default [`ReadFrom::Primary`]). Anything else also makes
    /// every connection send `READONLY` when made.
    pub read_from: ReadFrom,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            connect: ConnectOptions::default(),
            retries: 16,
            backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            refresh_interval: Some(Duration::from_secs(30)),
            refresh_debounce: Duration::from_millis(100),
            read_from: ReadFrom::Primary,
        }
    }
}

/// Builds a [`ClusterClient`]: `ClusterClient::builder(seeds).password("pw").build().await`.
pub struct ClusterBuilder {
    seeds: Vec<String>,
    options: ClusterOptions,
    transport: Arc<dyn Transport>,
}

impl ClusterBuilder {
    pub fn options(mut self, options: ClusterOptions) -> ClusterBuilder {
        self.options = options;
        self
    }

    pub fn password(mut self, password: &str) -> ClusterBuilder {
        self.options.connect.password = Some(password.to_string());
        self
    }

    pub fn username(mut self, username: &str) -> ClusterBuilder {
        self.options.connect.username = Some(username.to_string());
        self
    }

    /// Speak RESP3 to the nodes (replies convert the same either way).
    pub fn resp3(mut self, on: bool) -> ClusterBuilder {
        self.options.connect.resp3 = on;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> ClusterBuilder {
        self.options.timeout = timeout;
        self
    }

    pub fn retries(mut self, retries: usize) -> ClusterBuilder {
        self.options.retries = retries;
        self
    }

    pub fn refresh_interval(mut self, every: Option<Duration>) -> ClusterBuilder {
        self.options.refresh_interval = every;
        self
    }

    /// Which nodes serve read-only commands: replicas only when asked ([`ReadFrom`]).
    pub fn read_from(mut self, read_from: ReadFrom) -> ClusterBuilder {
        self.options.read_from = read_from;
        self
    }

    /// How connections are made (TCP unless a test plugs in [`crate::mock::MockCluster`]).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> ClusterBuilder {
        self.transport = transport;
        self
    }

    /// Learns the slot map from the first seed that answers, and starts the periodic refresh.
    pub async fn build(mut self) -> Result<ClusterClient> {
        if self.options.read_from != ReadFrom::Primary {
            self.options.connect.readonly = true;
        }
        let client = ClusterClient {
            inner: Arc::new(Inner {
                seeds: self.seeds,
                options: self.options,
                transport: self.transport,
                state: Mutex::new(State::default()),
                refresh_lock: tokio::sync::Mutex::new(()),
                refreshes: AtomicU64::new(0),
                refresh_scheduled: AtomicBool::new(false),
                next_read: AtomicUsize::new(0),
            }),
        };
        client.refresh().await?;
        if let Some(every) = client.inner.options.refresh_interval {
            tokio::spawn(refresh_periodically(Arc::downgrade(&client.inner), every));
        }
        Ok(client)
    }
}

/// Refreshes the map every `every` while the client lives.
async fn refresh_periodically(inner: Weak<Inner>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        let _ = ClusterClient { inner }.refresh().await;
    }
}

#[derive(Default)]
struct State {
    /// The shard (primary and replicas) serving each slot, as last learned (empty until the first refresh).
    slots: SlotMap,
    /// Replicas that could not be reached, and until when reads leave them out.
    paused: HashMap<Arc<str>, Instant>,
    /// The shared, multiplexed connection to each node.
    conns: HashMap<Arc<str>, Connection>,
    /// Idle connections for blocking commands, per node.
    idle: HashMap<Arc<str>, Vec<Connection>>,
}

struct Inner {
    seeds: Vec<String>,
    options: ClusterOptions,
    transport: Arc<dyn Transport>,
    state: Mutex<State>,
    /// Held while the map is read, so that tasks failing together share one refresh.
    refresh_lock: tokio::sync::Mutex<()>,
    /// How many refreshes completed: a task that saw `n` and finds more skips its own.
    refreshes: AtomicU64,
    /// A debounced refresh is on its way.
    refresh_scheduled: AtomicBool,
    /// Round robin over the nodes that may serve a read.
    next_read: AtomicUsize,
}

/// A cheap handle to the cluster: clone it into every task.
#[derive(Clone)]
pub struct ClusterClient {
    inner: Arc<Inner>,
}

/// The keys of a command, from the command table (numkeys commands included).
pub(crate) fn keys_of(c: &Cmd) -> Vec<&[u8]> {
    let argv: Vec<&[u8]> = c.args().iter().map(Vec::as_slice).collect();
    let Some(spec) = argv.first().and_then(|name| slotkv_proto::lookup(name)) else { return Vec::new() };
    let spec = match argv.get(1) {
        Some(sub) if spec.has(slotkv_proto::command::flags::CONTAINER) => {
            slotkv_proto::lookup_sub(spec, sub).unwrap_or(spec)
        }
        _ => spec,
    };
    let indexes = spec.keys_in(&argv).unwrap_or_default();
    indexes.into_iter().filter_map(|i| argv.get(i).copied()).collect()
}

/// The slot of a command's keys (the first key decides; the node answers `CROSSSLOT` if they differ), or
/// `None` for a command without keys.
pub(crate) fn slot_of(c: &Cmd) -> Option<usize> {
    use slotkv_proto::command::flags;
    let args = c.args();
    let spec = slotkv_proto::lookup(args.first()?)?;
    // The common case without building the argument list: the first key at a fixed position.
    if !spec.has(flags::MOVABLE_KEYS | flags::CONTAINER) {
        let first = usize::try_from(spec.first_key).ok().filter(|&f| f > 0)?;
        return args.get(first).map(|k| usize::from(key_slot(k)));
    }
    keys_of(c).first().map(|k| usize::from(key_slot(k)))
}

fn is_blocking(c: &Cmd) -> bool {
    let spec = c.args().first().and_then(|name| slotkv_proto::lookup(name));
    spec.is_some_and(|s| s.has(slotkv_proto::command::flags::BLOCKING))
}

/// Whether a replica may serve `c`: a read-only command (the command table's `READONLY` flag, of the
/// subcommand for containers such as `OBJECT`) that does not block.
pub(crate) fn is_read_only(c: &Cmd) -> bool {
    use slotkv_proto::command::flags;
    let args = c.args();
    let Some(spec) = args.first().and_then(|name| slotkv_proto::lookup(name)) else { return false };
    let spec = match args.get(1) {
        Some(sub) if spec.has(flags::CONTAINER) => slotkv_proto::lookup_sub(spec, sub).unwrap_or(spec),
        _ => spec,
    };
    spec.has(flags::READONLY) && !spec.has(flags::BLOCKING)
}

impl ClusterClient {
    pub fn builder<S: AsRef<str>>(seeds: impl IntoIterator<Item = S>) -> ClusterBuilder {
        ClusterBuilder {
            seeds: seeds.into_iter().map(|s| s.as_ref().to_string()).collect(),
            options: ClusterOptions::default(),
            transport: Arc::new(Tcp),
        }
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClusterOptions {
        &self.inner.options
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn open(&self, addr: &str, deadline: Instant) -> Result<Connection> {
        let limit = deadline.min(Instant::now() + self.inner.options.connect_timeout);
        let connecting = self.inner.transport.connect(addr, &self.inner.options.connect);
        tokio::time::timeout_at(limit, connecting)
            .await
            .map_err(|_| Error::Io(format!("connect {addr}: timed out")))?
    }

    async fn conn_by(&self, addr: &str, deadline: Instant) -> Result<Connection> {
        if let Some(c) = self.state().conns.get(addr).filter(|c| !c.is_broken()) {
            return Ok(c.clone());
        }
        let c = self.open(addr, deadline).await?;
        let mut state = self.state();
        // Another task may have connected meanwhile: keep one connection per node.
        let kept = state.conns.entry(Arc::from(addr)).or_insert_with(|| c.clone());
        if kept.is_broken() {
            *kept = c;
        }
        Ok(kept.clone())
    }

    /// The shared, multiplexed connection to `addr` (made on first use).
    pub async fn connection(&self, addr: &str) -> Result<Connection> {
        self.conn_by(addr, Instant::now() + self.inner.options.timeout).await
    }

    /// A new connection to `addr` of its own, with the client's connect options: for what must not share
    /// a connection (`WATCH`/`MULTI` with reads in between, subscriptions).
    pub async fn dedicated(&self, addr: &str) -> Result<Connection> {
        self.open(addr, Instant::now() + self.inner.options.timeout).await
    }

    /// The address of the node serving `slot`, as last learned.
    pub fn slot_owner(&self, slot: u16) -> Option<String> {
        self.owner(Some(usize::from(slot))).map(|a| a.to_string())
    }

    /// The addresses of every node serving slots (the primaries), each once, in slot order.
    pub fn primaries(&self) -> Vec<String> {
        let state = self.state();
        let mut out: Vec<String> = Vec::new();
        for shard in state.slots.iter().flatten() {
            let addr = &*shard.primary;
            if out.last().is_none_or(|a| a.as_str() != addr) && !out.iter().any(|a| a.as_str() == addr) {
                out.push(addr.to_string());
            }
        }
        out
    }

    /// The replicas of the primary serving `slot` that were up at the last refresh, as last learned.
    pub fn slot_replicas(&self, slot: u16) -> Vec<String> {
        let state = self.state();
        let shard = state.slots.get(usize::from(slot)).cloned().flatten();
        shard.map(|s| s.replicas.iter().map(|r| r.to_string()).collect()).unwrap_or_default()
    }

    /// Reads the slot map again now, unless a refresh finished while this call waited for another one.
    pub async fn refresh(&self) -> Result<()> {
        self.refresh_after(self.inner.refreshes.load(Ordering::Acquire)).await
    }

    /// Refreshes the map unless one completed since the caller saw `seen` refreshes: tasks that fail
    /// together queue on the lock, and all but the first find the work done.
    async fn refresh_after(&self, seen: u64) -> Result<()> {
        let _one_at_a_time = self.inner.refresh_lock.lock().await;
        if self.inner.refreshes.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        let result = self.read_map().await;
        self.inner.refreshes.fetch_add(1, Ordering::AcqRel);
        result
    }

    /// Schedules one refresh a little later (`refresh_debounce`), unless one is already scheduled.
    fn schedule_refresh(&self) {
        if self.inner.refresh_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = Arc::downgrade(&self.inner);
        let wait = self.inner.options.refresh_debounce;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(inner) = inner.upgrade() else { return };
            inner.refresh_scheduled.store(false, Ordering::Release);
            let _ = ClusterClient { inner }.refresh().await;
        });
    }

    /// Asks the known nodes, then the seeds, for the slot map (`CLUSTER SHARDS`, else `CLUSTER SLOTS`);
    /// takes the first that covers any slot, and drops connections to nodes no longer in it.
    async fn read_map(&self) -> Result<()> {
        let mut candidates = self.primaries();
        for seed in &self.inner.seeds {
            if !candidates.contains(seed) {
                candidates.push(seed.clone());
            }
        }
        let deadline = Instant::now() + self.inner.options.timeout;
        let mut last = Error::Io("no seed to learn the cluster from".into());
        let mut empty = None;
        for addr in candidates {
            match self.map_from(&addr, deadline).await {
                Ok(map) if map.iter().any(Option::is_some) => {
                    self.install(map);
                    return Ok(());
                }
                Ok(map) => empty = Some(map),
                Err(e) => last = e,
            }
        }
        match empty {
            Some(map) => {
                self.install(map);
                Ok(())
            }
            None => Err(last),
        }
    }

    async fn map_from(&self, addr: &str, deadline: Instant) -> Result<SlotMap> {
        let conn = self.conn_by(addr, deadline).await?;
        let ask = |sub: &'static str| {
            let conn = conn.clone();
            let c = cmd("CLUSTER").arg(sub);
            async move {
                tokio::time::timeout_at(deadline, conn.query::<Frame>(&c))
                    .await
                    .map_err(|_| Error::Timeout(format!("CLUSTER {sub} from {}", conn.addr())))?
            }
        };
        match ask("SHARDS").await {
            Ok(f) => topology::parse_shards(f),
            Err(Error::Server { .. }) => topology::parse_slots(ask("SLOTS").await?),
            Err(e) => Err(e),
        }
    }

    fn install(&self, map: SlotMap) {
        let mut state = self.state();
        let mut known: std::collections::HashSet<Arc<str>> = std::collections::HashSet::new();
        let mut last: Option<&Arc<Shard>> = None;
        for shard in map.iter().flatten() {
            // Slots of one range share their shard: look at each once.
            if last.is_some_and(|l| Arc::ptr_eq(l, shard)) {
                continue;
            }
            last = Some(shard);
            known.insert(Arc::clone(&shard.primary));
            known.extend(shard.replicas.iter().cloned());
        }
        state.conns.retain(|addr, _| known.contains(addr));
        state.idle.retain(|addr, _| known.contains(addr));
        state.slots = map;
    }

    fn owner(&self, slot: Option<usize>) -> Option<Arc<str>> {
        let state = self.state();
        match slot {
            Some(s) => state.slots.get(s).cloned().flatten().map(|shard| Arc::clone(&shard.primary)),
            None => state.slots.iter().flatten().next().map(|shard| Arc::clone(&shard.primary)),
        }
    }

    /// Where `c` goes: the slot's primary, or for a read with [`ReadFrom`] other than `Primary`, one of
    /// its replicas that is not paused (round robin; the primary when none is left).
    fn target(&self, slot: Option<usize>, c: &Cmd) -> Option<Arc<str>> {
        let read_from = self.inner.options.read_from;
        if read_from == ReadFrom::Primary || slot.is_none() || !is_read_only(c) {
            return self.owner(slot);
        }
        let mut state = self.state();
        let shard = state.slots.get(slot.unwrap_or(0)).cloned().flatten()?;
        if shard.replicas.is_empty() {
            return Some(Arc::clone(&shard.primary));
        }
        let now = Instant::now();
        state.paused.retain(|_, until| *until > now);
        let mut up: Vec<&Arc<str>> =
            shard.replicas.iter().filter(|r| !state.paused.contains_key(*r)).collect();
        if read_from == ReadFrom::AnyNode || up.is_empty() {
            up.push(&shard.primary);
        }
        let n = self.inner.next_read.fetch_add(1, Ordering::Relaxed);
        up.get(n % up.len()).map(|a| Arc::clone(a))
    }

    /// A read at `addr` failed for want of a connection: if `addr` is a replica, reads leave it out for
    /// a while.
    fn pause_replica(&self, addr: &Arc<str>) {
        if self.inner.options.read_from == ReadFrom::Primary {
            return;
        }
        let mut state = self.state();
        let is_replica = state.slots.iter().flatten().any(|s| s.replicas.contains(addr));
        if is_replica {
            state.paused.insert(Arc::clone(addr), Instant::now() + REPLICA_PAUSE);
        }
    }

    /// A `MOVED` seen outside this module (a subscription): the slot's new owner, and a refresh soon.
    pub(crate) fn note_moved(&self, slot: usize, addr: &str) {
        self.learn_owner(slot, addr);
    }

    fn learn_owner(&self, slot: usize, addr: &str) {
        if let Some(s) = self.state().slots.get_mut(slot) {
            // The replicas are not known until the refresh: reads go to the new primary meanwhile.
            if s.as_ref().is_none_or(|shard| &*shard.primary != addr) {
                *s = Some(Shard::primary(addr));
            }
        }
        self.schedule_refresh();
    }

    /// One try of `c` at `addr` (after `ASKING` when `asking`), bounded by `deadline` unless blocking.
    async fn attempt(
        &self,
        addr: &str,
        c: &Cmd,
        asking: bool,
        blocking: bool,
        deadline: Instant,
    ) -> Result<Frame> {
        let mut bytes = Vec::with_capacity(64);
        if asking {
            cmd("ASKING").encode(&mut bytes);
        }
        c.encode(&mut bytes);
        let n = 1 + usize::from(asking);
        let replies = if blocking {
            let conn = self.take_idle(addr, deadline).await?;
            let replies = conn.send_encoded(bytes, n).await;
            if replies.is_ok() {
                self.state().idle.entry(Arc::from(addr)).or_default().push(conn);
            }
            replies
        } else {
            let conn = self.conn_by(addr, deadline).await?;
            tokio::time::timeout_at(deadline, conn.send_encoded(bytes, n))
                .await
                .map_err(|_| self.timed_out(c, addr))?
        };
        replies?.pop().ok_or(Error::Protocol("no reply".into())).and_then(unwrap_reply)
    }

    fn timed_out(&self, c: &Cmd, addr: &str) -> Error {
        let name = c.args().first().map(|n| String::from_utf8_lossy(n).to_uppercase()).unwrap_or_default();
        Error::Timeout(format!("{name} to {addr}: no reply within {:?}", self.inner.options.timeout))
    }

    async fn take_idle(&self, addr: &str, deadline: Instant) -> Result<Connection> {
        let idle = self.state().idle.get_mut(addr).and_then(Vec::pop).filter(|c| !c.is_broken());
        match idle {
            Some(c) => Ok(c),
            None => self.open(addr, deadline).await,
        }
    }

    /// Sends one command to the node serving its keys, following redirects and retrying as
    /// [`policy::next_step`] says; returns the raw reply (error replies as [`Error::Server`]).
    pub async fn send(&self, c: &Cmd) -> Result<Frame> {
        let deadline = Instant::now() + self.inner.options.timeout;
        self.send_by(c, deadline).await
    }

    async fn send_by(&self, c: &Cmd, deadline: Instant) -> Result<Frame> {
        let slot = slot_of(c);
        let blocking = is_blocking(c);
        let mut addr = self.target(slot, c);
        let mut asking = false;
        let mut wait = self.inner.options.backoff;
        // Redirects and server-side transient errors count against the budget; lost nodes only against
        // the deadline (every retry waits, so the loop ends by then).
        let mut budget = self.inner.options.retries;
        loop {
            let seen = self.inner.refreshes.load(Ordering::Acquire);
            let result = match &addr {
                Some(target) => self.attempt(target, c, asking, blocking, deadline).await,
                None => Err(Error::Io(format!("no node known to serve slot {}", slot.unwrap_or(0)))),
            };
            asking = false;
            let step = next_step(&result);
            let lost_node = matches!(result, Err(Error::Io(_)));
            if step == Step::Done || (!lost_node && budget == 0) {
                return result;
            }
            if !lost_node {
                budget -= 1;
            }
            match step {
                Step::Done => return result,
                Step::Moved { slot, addr: to } => {
                    self.learn_owner(slot, &to);
                    addr = Some(Arc::from(to));
                }
                Step::Ask { addr: to } => {
                    addr = Some(Arc::from(to));
                    asking = true;
                }
                Step::Retry => {
                    if let (true, Some(a)) = (lost_node, &addr) {
                        self.pause_replica(a);
                    }
                    if Instant::now() + wait >= deadline {
                        return result;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.inner.options.max_backoff);
                    let _ = self.refresh_after(seen).await;
                    addr = self.target(slot, c);
                }
            }
        }
    }

    /// [`ClusterClient::send`] with the reply converted. `MGET`, `MSET`, `DEL`, `UNLINK`, `EXISTS` and
    /// `TOUCH` whose keys span slots are split by slot, sent concurrently and merged (the command table's
    /// merge flags say how); atomic commands such as `MSETNX` are not split (the node answers
    /// `-CROSSSLOT`).
    pub async fn query<T: FromReply>(&self, c: &Cmd) -> Result<T> {
        T::from_reply(self.send_any(c).await?)
    }

    /// One command, split first if it is a multi-key command whose keys span slots.
    async fn send_any(&self, c: &Cmd) -> Result<Frame> {
        if let Some(how) = fanout::fanout(c) {
            return self.send_to_all(c, how).await;
        }
        let Some((how, parts)) = split::split(c) else { return self.send(c).await };
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
        split::merge(how, results)
    }

    /// Sends commands whose keys may live on different nodes: grouped per node, each group one pipeline,
    /// all groups concurrently; the replies come back in the caller's order. A command answered with a
    /// redirect or a transient error is retried alone (as [`ClusterClient::send`] does), so one moved slot
    /// does not fail the rest. Multi-key commands spanning slots are split as [`ClusterClient::query`]
    /// splits them; blocking commands go on their own connections.
    pub async fn pipeline<T: FromReply>(&self, cmds: &[Cmd]) -> Result<Vec<Result<T>>> {
        let deadline = Instant::now() + self.inner.options.timeout;
        let mut groups: HashMap<Option<Arc<str>>, Vec<usize>> = HashMap::new();
        for (i, c) in cmds.iter().enumerate() {
            let alone = is_blocking(c) || split::split(c).is_some();
            let addr = if alone { None } else { self.target(slot_of(c), c) };
            groups.entry(addr).or_default().push(i);
        }
        // All on one node (the common case): sent from this task, no copies.
        if groups.len() == 1 {
            if let Some((Some(addr), _)) = groups.iter().next() {
                let replies = self.send_batch(addr, cmds, deadline).await;
                return Ok(replies.into_iter().map(|r| r.and_then(T::from_reply)).collect());
            }
        }
        let tasks: Vec<_> = groups
            .into_iter()
            .map(|(addr, indexes)| {
                let client = self.clone();
                let batch: Vec<Cmd> = indexes.iter().filter_map(|&i| cmds.get(i).cloned()).collect();
                tokio::spawn(async move {
                    let out = match addr {
                        Some(addr) => client.send_batch(&addr, &batch, deadline).await,
                        None => {
                            let mut out = Vec::with_capacity(batch.len());
                            for c in &batch {
                                out.push(client.send_any(c).await);
                            }
                            out
                        }
                    };
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

    /// One node's share of a pipeline: sent as one batch; what comes back redirected or failed is sent
    /// again on its own.
    async fn send_batch(&self, addr: &str, batch: &[Cmd], deadline: Instant) -> Vec<Result<Frame>> {
        let sent = match self.conn_by(addr, deadline).await {
            Ok(conn) => match tokio::time::timeout_at(deadline, conn.send_raw(batch)).await {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout(format!("pipeline to {addr}: no reply in time"))),
            },
            Err(e) => Err(e),
        };
        let mut out = Vec::with_capacity(batch.len());
        match sent {
            Ok(frames) => {
                for (c, f) in batch.iter().zip(frames) {
                    let r = unwrap_reply(f);
                    out.push(match next_step(&r) {
                        Step::Done => r,
                        Step::Moved { slot, addr } => {
                            self.learn_owner(slot, &addr);
                            self.send_by(c, deadline).await
                        }
                        Step::Ask { .. } | Step::Retry => self.send_by(c, deadline).await,
                    });
                }
            }
            Err(e @ Error::Timeout(_)) => out.extend(batch.iter().map(|_| Err(e.clone()))),
            Err(_) => {
                for c in batch {
                    out.push(self.send_by(c, deadline).await);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
