//! What every client session shares: the slot map (a snapshot of the client crate's, swapped whole), the
//! backend connections, the client registry (`CLIENT LIST/KILL`) and the statistics (`INFO`).
//!
//! Backend connections come in two protocols: a RESP2 client's commands go over RESP2 connections and a
//! RESP3 client's over RESP3 ones, so every reply reaches each client byte for byte as a node writes it in
//! that protocol (maps, doubles, nulls, verbatim text...), with no conversion table to keep in step with
//! the node. Both pools are shared by all the clients of that protocol.
//!
//! With `--read-from` other than `primary`, the map also lists each primary's replicas: read-only commands
//! go to one of them (round robin) over connections that said `READONLY` when made, and a replica that
//! could not be reached is left out for a while (its commands go through the cluster client, which
//! falls back to the primary).

use crate::config::Config;
use slotkv_client::raw::{RawConnection, RawStream};
use slotkv_client::{ClusterClient, ClusterOptions, ConnectOptions, ReadFrom};
use slotkv_proto::SLOT_COUNT;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// No node serves this slot (as far as the router knows).
pub const NO_NODE: u16 = u16::MAX;

thread_local! {
    /// Which worker thread this is (each has its own backend connections).
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Marks the current thread as worker `i`.
pub fn set_worker(i: usize) {
    WORKER.with(|w| w.set(i));
}

fn worker() -> usize {
    WORKER.with(|w| w.get())
}

/// One cluster node as the router sees it: its address, its shared connections (per worker thread:
/// RESP2, RESP3) and its counters.
pub struct Backend {
    pub addr: Arc<str>,
    conns: Vec<[Mutex<Option<RawConnection>>; 2]>,
    pub ops: AtomicU64,
    pub errors: AtomicU64,
    /// Microseconds spent waiting for this node's replies, summed over batches (with `batches`).
    pub wait_us: AtomicU64,
    pub batches: AtomicU64,
    /// When a connection to it last failed (ms since the router started; 0: never): a replica is then
    /// left out of reads for [`REPLICA_PAUSE_MS`].
    failed_at_ms: AtomicU64,
}

/// How long a replica that could not be reached is left out of reads.
pub const REPLICA_PAUSE_MS: u64 = 2000;

/// Milliseconds since the process's first call (a monotonic clock for the backends' failure times).
fn now_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

impl Backend {
    fn new(addr: Arc<str>, workers: usize) -> Backend {
        Backend {
            addr,
            conns: (0..workers).map(|_| [Mutex::new(None), Mutex::new(None)]).collect(),
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            wait_us: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            failed_at_ms: AtomicU64::new(0),
        }
    }

    /// A connection to this node could not be made.
    pub fn note_failure(&self) {
        self.failed_at_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Whether reads may go to this replica (it did not fail lately).
    pub fn readable(&self) -> bool {
        let failed = self.failed_at_ms.load(Ordering::Relaxed);
        failed == 0 || now_ms().saturating_sub(failed) >= REPLICA_PAUSE_MS
    }

    /// The live shared connection in protocol `resp3`, if there is one.
    pub fn cached(&self, resp3: bool) -> Option<RawConnection> {
        let slot = self.conns.get(worker())?.get(usize::from(resp3))?;
        let guard = slot.lock().ok()?;
        guard.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    fn store(&self, resp3: bool, conn: RawConnection) {
        if let Some(slot) = self.conns.get(worker()).and_then(|c| c.get(usize::from(resp3))) {
            if let Ok(mut guard) = slot.lock() {
                *guard = Some(conn);
            }
        }
    }
}

/// The slot map at one moment: which backend serves each slot. Replaced whole when it changes.
pub struct Topology {
    pub owners: Vec<u16>,
    /// The primaries, in the order of their first slot.
    pub nodes: Vec<Arc<Backend>>,
    /// The replicas that may serve reads (only with `--read-from` other than `primary`); backend index
    /// `nodes.len() + i` is `replicas[i]`.
    pub replicas: Vec<Arc<Backend>>,
    /// For each primary (by index in `nodes`), the backend indexes of its replicas.
    pub replicas_of: Vec<Vec<u16>>,
    pub version: u64,
    /// Round robin over the nodes that may serve a read.
    pub turn: AtomicUsize,
}

impl Topology {
    pub fn owner(&self, slot: u16) -> Option<usize> {
        let i = *self.owners.get(usize::from(slot))?;
        (i != NO_NODE).then_some(usize::from(i))
    }

    /// A backend by index: the primaries, then the replicas.
    pub fn backend(&self, i: usize) -> Option<&Arc<Backend>> {
        self.nodes.get(i).or_else(|| self.replicas.get(i.checked_sub(self.nodes.len())?))
    }

    /// The backend that serves a read of `slot` as `read_from` says: one of the primary's replicas that
    /// did not fail lately (round robin), else the primary.
    pub fn reader(&self, slot: u16, read_from: ReadFrom) -> Option<usize> {
        let primary = self.owner(slot)?;
        if read_from == ReadFrom::Primary {
            return Some(primary);
        }
        let mut up: Vec<usize> = self
            .replicas_of
            .get(primary)
            .into_iter()
            .flatten()
            .map(|&r| usize::from(r))
            .filter(|&r| self.backend(r).is_some_and(|b| b.readable()))
            .collect();
        if read_from == ReadFrom::AnyNode || up.is_empty() {
            up.push(primary);
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        up.get(turn % up.len()).copied()
    }
}

/// A connected client, as `CLIENT LIST` shows it and `CLIENT KILL` finds it.
pub struct ClientEntry {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created: Instant,
    pub info: Mutex<ClientInfo>,
    /// Set by `CLIENT KILL` and at shutdown; the session ends at its next wait.
    pub killed: AtomicBool,
    /// The session's task while it waits (for its socket or a blocking reply): woken by [`ClientEntry::kill`].
    /// A plain slot rather than a `Notify` and a `watch`: registering here is one uncontended lock, where
    /// those cost a waiter list each on every wait for a read.
    waiter: Mutex<Option<Waker>>,
}

impl ClientEntry {
    /// Ends the session at its next wait.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        let waker = self.waiter.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Resolves once the client is killed.
    pub fn killed(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.killed.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            if let Ok(mut w) = self.waiter.lock() {
                match w.as_ref() {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    _ => *w = Some(cx.waker().clone()),
                }
            }
            // Again after registering: a kill between the first check and the registration is not lost.
            if self.killed.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

#[derive(Default, Clone)]
pub struct ClientInfo {
    pub name: String,
    pub lib_name: String,
    pub lib_ver: String,
    pub last_cmd: String,
    pub last_active: Option<Instant>,
    pub resp: u8,
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    pub multi: i64,
}

/// Router-wide counters for `INFO`.
#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands: AtomicU64,
    pub errors: AtomicU64,
    pub redirects: AtomicU64,
    pub net_input: AtomicU64,
    pub net_output: AtomicU64,
}

/// Everything the sessions share.
pub struct Router {
    pub config: Config,
    /// The client crate's cluster clients, RESP2 and RESP3: the slot map, redirects and retries.
    clients: [ClusterClient; 2],
    topology: RwLock<Arc<Topology>>,
    topology_version: AtomicU64,
    /// Set when a redirect says the map is stale; the refresher task rebuilds it.
    stale: Notify,
    pub started: Instant,
    pub run_id: String,
    pub stats: Stats,
    pub connected: AtomicUsize,
    next_client_id: AtomicU64,
    pub registry: Mutex<HashMap<u64, Arc<ClientEntry>>>,
    /// Idle dedicated connections for blocking commands, by (address, RESP3).
    pool: Mutex<Pool>,
}

/// Idle dedicated connections by (address, RESP3).
type Pool = HashMap<(Arc<str>, bool), Vec<RawStream>>;

/// Idle dedicated connections kept per node and protocol.
const POOL_IDLE: usize = 8;

impl Router {
    /// Learns the cluster from the seeds (retrying for a while: the nodes may still be starting).
    pub async fn connect(config: Config) -> Result<Arc<Router>, String> {
        let mut clients = Vec::new();
        for resp3 in [false, true] {
            let options = ClusterOptions {
                connect: ConnectOptions {
                    resp3,
                    password: config.backend_password.clone(),
                    ..ConnectOptions::default()
                },
                retries: 10,
                backoff: Duration::from_millis(10),
                // A lost node is retried until then: a failover (node timeout + ~1.5 s) inside it is
                // only a slower reply for the router's clients.
                timeout: Duration::from_secs(10),
                read_from: config.read_from,
                ..ClusterOptions::default()
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            let client = loop {
                match ClusterClient::builder(&config.seeds).options(options.clone()).build().await {
                    Ok(c) => break c,
                    Err(e) if Instant::now() > deadline => {
                        return Err(format!("cannot learn the cluster from {:?}: {e}", config.seeds))
                    }
                    Err(e) => {
                        tracing::warn!("seeds not ready ({e}); retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            };
            clients.push(client);
        }
        let [c2, c3]: [ClusterClient; 2] =
            clients.try_into().map_err(|_| "internal: two cluster clients expected".to_string())?;
        let run_id: String =
            (0..40).map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)])).collect();
        let router = Arc::new(Router {
            config,
            clients: [c2, c3],
            topology: RwLock::new(Arc::new(Topology {
                owners: vec![NO_NODE; SLOT_COUNT],
                nodes: Vec::new(),
                replicas: Vec::new(),
                replicas_of: Vec::new(),
                version: 0,
                turn: AtomicUsize::new(0),
            })),
            topology_version: AtomicU64::new(0),
            stale: Notify::new(),
            started: Instant::now(),
            run_id,
            stats: Stats::default(),
            connected: AtomicUsize::new(0),
            next_client_id: AtomicU64::new(1),
            registry: Mutex::new(HashMap::new()),
            pool: Mutex::new(HashMap::new()),
        });
        router.rebuild_topology();
        Ok(router)
    }

    pub fn client(&self, resp3: bool) -> &ClusterClient {
        &self.clients[usize::from(resp3)]
    }

    /// The current slot map.
    pub fn topology(&self) -> Arc<Topology> {
        match self.topology.read() {
            Ok(t) => Arc::clone(&t),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The version of the current slot map: a session keeps its snapshot while this stays the same.
    pub fn topology_version(&self) -> u64 {
        self.topology_version.load(Ordering::Acquire)
    }

    /// A redirect or a lost node says the map is stale: the refresher re-reads it soon.
    pub fn mark_stale(&self) {
        self.stale.notify_one();
    }

    /// Rebuilds the snapshot from the RESP2 client's map, keeping the backends (and their connections)
    /// of the nodes that stay.
    fn rebuild_topology(&self) {
        let client = self.client(false);
        let old = self.topology();
        let reuse = |addr: &str| {
            old.nodes
                .iter()
                .chain(&old.replicas)
                .find(|b| *b.addr == *addr)
                .cloned()
                .unwrap_or_else(|| Arc::new(Backend::new(Arc::from(addr), self.config.threads)))
        };
        let reading = self.config.read_from != ReadFrom::Primary;
        let mut nodes: Vec<Arc<Backend>> = Vec::new();
        let mut owners = vec![NO_NODE; SLOT_COUNT];
        let mut index: HashMap<String, u16> = HashMap::new();
        // The replicas of each primary, by address (read at the primary's first slot).
        let mut replica_addrs: Vec<Vec<String>> = Vec::new();
        for (slot, owner) in owners.iter_mut().enumerate() {
            let Some(addr) = client.slot_owner(slot as u16) else { continue };
            let i = match index.get(&addr) {
                Some(&i) => i,
                None => {
                    nodes.push(reuse(&addr));
                    replica_addrs.push(if reading { client.slot_replicas(slot as u16) } else { Vec::new() });
                    let i = (nodes.len() - 1) as u16;
                    index.insert(addr, i);
                    i
                }
            };
            *owner = i;
        }
        let mut replicas: Vec<Arc<Backend>> = Vec::new();
        let mut replicas_of = Vec::with_capacity(nodes.len());
        for addrs in replica_addrs {
            let mut mine = Vec::new();
            for addr in addrs {
                // A node also listed as a primary (views in flux) serves as the primary only.
                if index.contains_key(&addr) {
                    continue;
                }
                replicas.push(reuse(&addr));
                mine.push((nodes.len() + replicas.len() - 1) as u16);
            }
            replicas_of.push(mine);
        }
        let changed = old.nodes.len() != nodes.len()
            || old.owners != owners
            || old.nodes.iter().zip(&nodes).any(|(a, b)| a.addr != b.addr)
            || old.replicas_of != replicas_of
            || old.replicas.iter().zip(&replicas).any(|(a, b)| a.addr != b.addr);
        if !changed {
            return;
        }
        let version = self.topology_version.load(Ordering::Acquire) + 1;
        let topo =
            Arc::new(Topology { owners, nodes, replicas, replicas_of, version, turn: AtomicUsize::new(0) });
        tracing::info!(nodes = topo.nodes.len(), version, "slot map updated");
        if let Ok(mut t) = self.topology.write() {
            *t = topo;
        }
        self.topology_version.store(version, Ordering::Release);
    }

    /// The background task that keeps the slot map fresh: on demand after redirects (coalesced), and
    /// every few seconds in any case (a node added with no redirect yet).
    pub async fn refresher(self: Arc<Router>) {
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(5), self.stale.notified()).await;
            // Let a burst of redirects settle into one refresh.
            tokio::time::sleep(Duration::from_millis(20)).await;
            for resp3 in [false, true] {
                if let Err(e) = self.client(resp3).refresh().await {
                    tracing::warn!("slot map refresh failed: {e}");
                }
            }
            self.rebuild_topology();
        }
    }

    /// The shared connection to `backend` in protocol `resp3`, made on first use (or after it failed).
    pub async fn conn(&self, backend: &Backend, resp3: bool) -> slotkv_client::Result<RawConnection> {
        if let Some(c) = backend.cached(resp3) {
            return Ok(c);
        }
        let c = RawConnection::connect_with(&backend.addr, &self.connect_options(resp3))
            .await
            .inspect_err(|_| backend.note_failure())?;
        backend.store(resp3, c.clone());
        Ok(c)
    }

    /// Every backend connection says `READONLY` when replicas serve reads (a primary ignores it).
    pub fn connect_options(&self, resp3: bool) -> ConnectOptions {
        ConnectOptions {
            resp3,
            password: self.config.backend_password.clone(),
            readonly: self.config.read_from != ReadFrom::Primary,
            ..ConnectOptions::default()
        }
    }

    /// A dedicated connection to `addr` (from the idle pool when there is one).
    pub async fn dedicated(&self, addr: &str, resp3: bool) -> slotkv_client::Result<RawStream> {
        if let Ok(mut pool) = self.pool.lock() {
            if let Some(s) = pool.get_mut(&(Arc::from(addr), resp3)).and_then(Vec::pop) {
                return Ok(s);
            }
        }
        RawStream::connect_with(addr, &self.connect_options(resp3)).await
    }

    /// Gives back a dedicated connection that is idle again (nothing in flight, no state on it).
    pub fn release(&self, stream: RawStream, resp3: bool) {
        if let Ok(mut pool) = self.pool.lock() {
            let idle = pool.entry((Arc::from(stream.addr()), resp3)).or_default();
            if idle.len() < POOL_IDLE {
                idle.push(stream);
            }
        }
    }

    /// Registers a new client; `None` when `maxclients` are already connected.
    pub fn register(&self, addr: String, laddr: String) -> Option<Arc<ClientEntry>> {
        self.stats.connections_received.fetch_add(1, Ordering::Relaxed);
        if self.connected.fetch_add(1, Ordering::AcqRel) >= self.config.maxclients {
            self.connected.fetch_sub(1, Ordering::AcqRel);
            self.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(ClientEntry {
            id,
            addr,
            laddr,
            created: Instant::now(),
            info: Mutex::new(ClientInfo { resp: 2, multi: -1, ..ClientInfo::default() }),
            killed: AtomicBool::new(false),
            waiter: Mutex::new(None),
        });
        if let Ok(mut reg) = self.registry.lock() {
            reg.insert(id, Arc::clone(&entry));
        }
        Some(entry)
    }

    /// Ends every session at its next wait (shutdown).
    pub fn kill_all(&self) {
        for c in self.clients() {
            c.kill();
        }
    }

    pub fn unregister(&self, id: u64) {
        if let Ok(mut reg) = self.registry.lock() {
            reg.remove(&id);
        }
        self.connected.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn clients(&self) -> Vec<Arc<ClientEntry>> {
        let mut all: Vec<Arc<ClientEntry>> = match self.registry.lock() {
            Ok(reg) => reg.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        all.sort_by_key(|c| c.id);
        all
    }
}
