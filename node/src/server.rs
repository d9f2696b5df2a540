//! The state the data thread owns: the keyspace, settings, statistics and the client table. Commands run
//! against it through a [`Ctx`], one at a time, so none of it needs a lock.

use crate::client::{Client, ClientState};
use crate::config::Config;
use crate::db::Db;
use crate::types::hash::HashLimits;
use slab::Slab;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

/// Client tokens by key or channel name.
pub type Registry = HashMap<Vec<u8>, Vec<usize>>;

/// Per-command counters for `INFO commandstats`.
#[derive(Default, Debug, Clone, Copy)]
pub struct CommandStat {
    pub calls: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

#[derive(Default, Debug, Clone)]
pub struct Stats {
    /// Indexed like the command table (`CommandId as usize`).
    pub commands: Vec<CommandStat>,
    /// Error replies by their code (`ERR`, `WRONGTYPE`...), for `INFO errorstats`.
    pub errors: std::collections::BTreeMap<String, u64>,
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub commands_processed: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub unexpected_error_replies: u64,
    pub total_error_replies: u64,
    /// `instantaneous_ops_per_sec`: ops in the last sampled second.
    pub ops_per_sec: u64,
    pub ops_sample: (i64, u64),
}

impl Stats {
    /// The counters of the command at `index` in the table.
    pub fn command(&mut self, index: usize) -> &mut CommandStat {
        if self.commands.len() <= index {
            self.commands.resize(slotkv_proto::COMMANDS.len().max(index + 1), CommandStat::default());
        }
        &mut self.commands[index]
    }

    /// Counts an error reply under its code, the first word of its text.
    pub fn count_error(&mut self, text: &str) {
        self.total_error_replies += 1;
        let code = text.split(' ').next().unwrap_or("ERR");
        match self.errors.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(code.to_string(), 1);
            }
        }
    }
}

/// How the node should stop, once asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    Requested,
}

pub struct Server {
    pub db: Db,
    pub config: Config,
    pub stats: Stats,
    /// Every connected client; the one running a command is taken out (`None`) meanwhile.
    pub clients: Slab<Option<Box<Client>>>,
    pub next_client_id: u64,
    /// Tokens of clients to close after this batch (`CLIENT KILL`).
    pub kills: Vec<usize>,
    pub shutdown: Option<Shutdown>,
    pub started: Instant,
    pub started_unix: i64,
    pub run_id: String,
    /// Allocator bytes in use, refreshed every cron tick and before writes when `maxmemory` is set.
    pub used_memory: u64,
    pub used_memory_peak: u64,
    /// When `used_memory` was last read from the allocator (Unix ms), and this thread's net allocation
    /// then ([`crate::memory::thread_net`]): between reads, `used_memory` follows the data thread's own
    /// allocations and frees.
    pub memory_checked_ms: i64,
    pub memory_net_base: i64,
    /// The eviction pool and count (`maxmemory-policy`).
    pub evict: crate::evict::Evictor,
    /// The ports the node listens on, for `INFO`.
    pub tcp_port: u16,
    /// Blocked clients by the key they wait on, first blocked first.
    pub waiters: HashMap<Vec<u8>, VecDeque<usize>>,
    /// Blocked clients with a timeout, by deadline.
    pub deadlines: BTreeSet<(i64, usize)>,
    /// Clients (other than the one running) that got output or were unblocked: the event loop writes their
    /// output and resumes their pending input.
    pub wake: Vec<usize>,
    /// `WATCH`ing clients by key.
    pub watchers: Registry,
    /// Pub/sub subscribers by channel, by pattern and by shard channel.
    pub channels: Registry,
    pub patterns: Registry,
    pub shard_channels: Registry,
    /// The change feed for the AOF (see [`crate::propagate`]).
    pub feed: crate::propagate::Feed,
    /// Snapshots, the AOF and loading.
    pub persist: crate::persist::Persistence,
    /// Clients whose output waits for the AOF to cover what they saw (see `net.rs`).
    pub held: Vec<usize>,
    /// The slot map, with `cluster-enabled yes`.
    pub cluster: Option<crate::cluster::Cluster>,
    /// Lua scripts: the state, the script cache, the running script.
    pub scripting: crate::scripting::Scripting,
    /// Replicas of this node, and its own primary when it is a replica.
    pub repl: crate::repl::Replication,
    /// Writes wait until this time (Unix ms) during a manual failover; the clients holding one.
    pub writes_paused_until: i64,
    pub paused: Vec<usize>,
}

impl Server {
    pub fn new(config: Config, now_ms: i64) -> Server {
        let run_id = (0..40).map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0')).collect();
        let mut db = Db::new();
        db.tracking = crate::evict::Tracking::of(&config);
        Server {
            db,
            tcp_port: config.port,
            config,
            stats: Stats::default(),
            clients: Slab::new(),
            next_client_id: 1,
            kills: Vec::new(),
            shutdown: None,
            started: Instant::now(),
            started_unix: now_ms / 1000,
            run_id,
            used_memory: 0,
            used_memory_peak: 0,
            memory_checked_ms: 0,
            memory_net_base: 0,
            evict: crate::evict::Evictor::default(),
            waiters: HashMap::new(),
            deadlines: BTreeSet::new(),
            wake: Vec::new(),
            watchers: Registry::new(),
            channels: Registry::new(),
            patterns: Registry::new(),
            shard_channels: Registry::new(),
            feed: crate::propagate::Feed::default(),
            persist: crate::persist::Persistence::new(now_ms),
            held: Vec::new(),
            cluster: None,
            scripting: Default::default(),
            repl: Default::default(),
            writes_paused_until: 0,
            paused: Vec::new(),
        }
    }

    pub fn hash_limits(&self) -> HashLimits {
        HashLimits { max_entries: self.config.hash_max_entries, max_value: self.config.hash_max_value }
    }

    /// Every client's state except the one running a command (see [`Ctx::all_clients`]).
    pub fn other_clients(&self) -> impl Iterator<Item = &ClientState> {
        self.clients.iter().filter_map(|(_, c)| c.as_deref().map(|c| &c.state))
    }

    /// Runs `f` on another client's state, taken out of the table meanwhile so that `f` may change the
    /// server too, as a command running for that client would. `None` if there is no such client.
    pub fn with_client<R>(
        &mut self,
        token: usize,
        f: impl FnOnce(&mut Server, &mut ClientState) -> R,
    ) -> Option<R> {
        let mut client = self.clients.get_mut(token).and_then(Option::take)?;
        let result = f(self, &mut client.state);
        if let Some(slot) = self.clients.get_mut(token) {
            *slot = Some(client);
        }
        Some(result)
    }

    /// Asks the allocator how much is in use.
    pub fn refresh_memory(&mut self) {
        self.used_memory = crate::memory::allocated();
        self.used_memory_peak = self.used_memory_peak.max(self.used_memory);
        self.memory_net_base = crate::memory::thread_net().unwrap_or(0);
    }

    /// `used_memory` now: read from the allocator at most every 100 ms (it costs microseconds), and in
    /// between moved by what this thread allocated and freed since (two loads).
    pub fn refresh_memory_at(&mut self, now_ms: i64) {
        let net = crate::memory::thread_net();
        match net {
            Some(net) if now_ms - self.memory_checked_ms < 100 && now_ms >= self.memory_checked_ms => {
                let used = self.used_memory as i64 + (net - self.memory_net_base);
                self.used_memory = used.max(0) as u64;
                self.memory_net_base = net;
                self.used_memory_peak = self.used_memory_peak.max(self.used_memory);
            }
            _ => {
                self.memory_checked_ms = now_ms;
                self.refresh_memory();
            }
        }
    }
}

/// What a command sees: the server, the client that sent it, and the time it runs at.
pub struct Ctx<'a> {
    pub srv: &'a mut Server,
    pub me: &'a mut ClientState,
    /// Unix time in milliseconds, fixed for the command so that every check in it agrees.
    pub now: i64,
}

/// Adds `token` under `name`.
pub fn register(reg: &mut Registry, name: &[u8], token: usize) {
    match reg.get_mut(name) {
        Some(tokens) => tokens.push(token),
        None => {
            reg.insert(name.to_vec(), vec![token]);
        }
    }
}

/// Removes `token` from under `name`, and the name once nobody is left.
pub fn unregister(reg: &mut Registry, name: &[u8], token: usize) {
    if let Some(tokens) = reg.get_mut(name) {
        tokens.retain(|&t| t != token);
        if tokens.is_empty() {
            reg.remove(name);
        }
    }
}

impl Ctx<'_> {
    /// The state of client `token`: this command's client or another one.
    pub fn client_mut(&mut self, token: usize) -> Option<&mut ClientState> {
        if token == self.me.token {
            return Some(&mut *self.me);
        }
        self.srv.clients.get_mut(token).and_then(|c| c.as_deref_mut()).map(|c| &mut c.state)
    }

    /// Every client, sorted by id, including the one running this command.
    pub fn all_clients(&self) -> Vec<&ClientState> {
        let mut all: Vec<&ClientState> = self.srv.other_clients().chain(std::iter::once(&*self.me)).collect();
        all.sort_by_key(|c| c.id);
        all
    }
}
