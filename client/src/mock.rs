//! A scripted mock cluster: nodes that live in memory and answer as Redis Cluster nodes do (`MOVED`, `ASK`
//! with `ASKING`, `CROSSSLOT`, `CLUSTER SHARDS`/`SLOTS`, `MULTI`/`EXEC`), with knobs a test turns to make
//! every redirect and failure happen on cue: stale topology, a slot in migration, scripted error replies,
//! a node that is down or hangs, replicas that serve reads after `READONLY`. It plugs in below the client as a [`Transport`], so the code under test
//! is the real client. Keys live in one shared store: moving a slot never loses them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> slotkv_client::Result<()> {
//! use slotkv_client::{cmd, mock::MockCluster, ClusterClient};
//! let mock = MockCluster::new(&["n1:1", "n2:2"]);
//! let client = ClusterClient::builder(["n1:1"]).transport(mock.transport()).build().await?;
//! client.query::<()>(&cmd("SET").arg("k").arg("v")).await?;
//! assert_eq!(client.query::<String>(&cmd("GET").arg("k")).await?, "v");
//! # Ok(()) }
//! ```

use crate::cmd::Cmd;
use crate::conn::{ConnectOptions, Connection, Request};
use crate::error::{Error, Result};
use crate::transport::{BoxFuture, Transport};
use slotkv_proto::frame::{parse_frame, Frame, FrameLimits};
use slotkv_proto::slot::{key_slot, SLOT_COUNT};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// A handle on the mock cluster; clones share it.
#[derive(Clone)]
pub struct MockCluster {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    nodes: Vec<String>,
    /// Replicas and the primary each follows (listed in `CLUSTER SHARDS`/`SLOTS` after it).
    replicas: Vec<(String, String)>,
    /// Who really serves each slot (what the nodes enforce).
    owners: Vec<Option<String>>,
    /// What `CLUSTER SHARDS`/`SLOTS` tell (lags behind `owners` when a test says so).
    advertised: Vec<Option<String>>,
    /// Slots being migrated: slot -> the importing node.
    migrating: HashMap<u16, String>,
    data: HashMap<Vec<u8>, Vec<u8>>,
    /// Nodes that refuse connections and whose open connections break.
    down: HashSet<String>,
    /// Nodes that take requests and never answer.
    hung: HashSet<String>,
    /// Replies a node gives to its next keyed commands, before anything else.
    scripted: HashMap<String, VecDeque<Frame>>,
    /// Bumped when a node goes down: its connections made before then break.
    epoch: HashMap<String, u64>,
    /// Whether nodes know `CLUSTER SHARDS` (Redis 7) or only `CLUSTER SLOTS`.
    no_shards: bool,
    /// Every command each node received, as upper-case names (`CLUSTER SHARDS` keeps its subcommand).
    calls: HashMap<String, Vec<String>>,
    connects: HashMap<String, usize>,
}

/// One mock connection's own state.
#[derive(Default)]
struct Session {
    asking: bool,
    readonly: bool,
    multi: Option<Vec<Vec<Vec<u8>>>>,
    multi_failed: bool,
}

fn err(text: &str) -> Frame {
    Frame::Error(text.as_bytes().to_vec())
}

fn ok() -> Frame {
    Frame::Simple(b"OK".to_vec())
}

impl MockCluster {
    /// Nodes at these addresses, the 16384 slots split evenly among them in order.
    pub fn new(nodes: &[&str]) -> MockCluster {
        let mut state = State { nodes: nodes.iter().map(|n| n.to_string()).collect(), ..State::default() };
        let n = nodes.len().max(1);
        state.owners =
            (0..SLOT_COUNT).map(|s| nodes.get(s * n / SLOT_COUNT).map(|a| a.to_string())).collect();
        state.advertised = state.owners.clone();
        MockCluster { state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The transport to give [`crate::ClusterBuilder::transport`].
    pub fn transport(&self) -> Arc<dyn Transport> {
        Arc::new(self.clone())
    }

    /// Adds a replica of `primary` at `addr`: after `READONLY` it serves reads of the slots `primary`
    /// serves; everything else gets `-MOVED` to the primary.
    pub fn add_replica(&self, primary: &str, addr: &str) {
        self.lock().replicas.push((addr.to_string(), primary.to_string()));
    }

    /// Fails over: replica `addr` takes over every slot of its primary (for real and in what the nodes
    /// tell), and the primary's other replicas follow it.
    pub fn promote(&self, addr: &str) {
        let mut st = self.lock();
        let Some(old) = st.replicas.iter().find(|(r, _)| r == addr).map(|(_, p)| p.clone()) else { return };
        st.replicas.retain(|(r, _)| r != addr);
        for (_, p) in st.replicas.iter_mut().filter(|(_, p)| *p == old) {
            *p = addr.to_string();
        }
        let st = &mut *st;
        for o in st.owners.iter_mut().chain(st.advertised.iter_mut()).flatten() {
            if *o == old {
                *o = addr.to_string();
            }
        }
        if !st.nodes.iter().any(|n| n == addr) {
            st.nodes.push(addr.to_string());
        }
    }

    /// Adds a node that serves nothing yet.
    pub fn add_node(&self, addr: &str) {
        self.lock().nodes.push(addr.to_string());
    }

    /// Moves `slot` to `addr` for real; the topology the nodes tell moves too unless `quietly`, in which
    /// case only a `MOVED` tells the client.
    pub fn move_slot(&self, slot: u16, addr: &str, quietly: bool) {
        let mut st = self.lock();
        if let Some(o) = st.owners.get_mut(usize::from(slot)) {
            *o = Some(addr.to_string());
        }
        if !quietly {
            if let Some(o) = st.advertised.get_mut(usize::from(slot)) {
                *o = Some(addr.to_string());
            }
        }
        st.migrating.remove(&slot);
    }

    /// Starts migrating `slot` to `to`: its owner answers `-ASK` and `to` serves it after `ASKING`.
    pub fn migrate(&self, slot: u16, to: &str) {
        self.lock().migrating.insert(slot, to.to_string());
    }

    /// The node's next keyed commands get these replies (e.g. `-TRYAGAIN ...`), one each.
    pub fn script(&self, addr: &str, replies: &[&str]) {
        let mut st = self.lock();
        let queue = st.scripted.entry(addr.to_string()).or_default();
        queue.extend(replies.iter().map(|r| err(r)));
    }

    /// Takes a node down (open connections break, new ones are refused) or brings it back.
    pub fn set_down(&self, addr: &str, down: bool) {
        let mut st = self.lock();
        if down {
            st.down.insert(addr.to_string());
            *st.epoch.entry(addr.to_string()).or_default() += 1;
        } else {
            st.down.remove(addr);
        }
    }

    /// Makes a node swallow requests without answering (or answer again).
    pub fn set_hung(&self, addr: &str, hung: bool) {
        let mut st = self.lock();
        if hung {
            st.hung.insert(addr.to_string());
        } else {
            st.hung.remove(addr);
        }
    }

    /// Makes the nodes answer `CLUSTER SHARDS` with an error, as Redis before 7 does.
    pub fn without_shards(&self) {
        self.lock().no_shards = true;
    }

    /// Every command `addr` received so far, by name.
    pub fn calls(&self, addr: &str) -> Vec<String> {
        self.lock().calls.get(addr).cloned().unwrap_or_default()
    }

    /// How many times any node received the command `name`.
    pub fn count(&self, name: &str) -> usize {
        self.lock().calls.values().flatten().filter(|c| c.as_str() == name).count()
    }

    /// How many connections were made to `addr`.
    pub fn connects(&self, addr: &str) -> usize {
        self.lock().connects.get(addr).copied().unwrap_or(0)
    }

    /// The value stored under `key`, whoever serves it.
    pub fn value(&self, key: &str) -> Option<Vec<u8>> {
        self.lock().data.get(key.as_bytes()).cloned()
    }
}

impl Transport for MockCluster {
    fn connect(&self, addr: &str, options: &ConnectOptions) -> BoxFuture<Result<Connection>> {
        let (mock, addr, readonly) = (self.clone(), addr.to_string(), options.readonly);
        Box::pin(async move {
            let epoch = {
                let mut st = mock.lock();
                let known = st.nodes.contains(&addr) || st.replicas.iter().any(|(r, _)| *r == addr);
                if st.down.contains(&addr) || !known {
                    return Err(Error::Io(format!("connect {addr}: connection refused")));
                }
                *st.connects.entry(addr.clone()).or_default() += 1;
                st.epoch.get(&addr).copied().unwrap_or(0)
            };
            let (conn, rx) = Connection::channel(&addr);
            tokio::spawn(serve(mock, addr, epoch, rx));
            // The handshake a real connection makes (HELLO and AUTH are not modelled).
            if readonly {
                conn.query::<Frame>(&crate::cmd::cmd("READONLY")).await?;
            }
            Ok(conn)
        })
    }
}

/// One mock connection: answers each request's commands in order, as the node at `addr` would.
async fn serve(
    mock: MockCluster,
    addr: String,
    epoch: u64,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Request>,
) {
    let mut session = Session::default();
    // Requests a hung node swallowed: kept so that their callers wait instead of failing.
    let mut swallowed = Vec::new();
    while let Some(req) = rx.recv().await {
        let mut st = mock.lock();
        if st.down.contains(&addr) || st.epoch.get(&addr).copied().unwrap_or(0) != epoch {
            // Dropping the request and the receiver fails this request and every later one.
            return;
        }
        if st.hung.contains(&addr) {
            swallowed.push(req);
            continue;
        }
        let replies: Vec<Frame> =
            decode(&req.bytes).into_iter().map(|argv| st.execute(&addr, &mut session, argv)).collect();
        drop(st);
        let _ = req.done.send(Ok(replies));
    }
}

/// The commands of a request, back from their RESP encoding.
fn decode(mut bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while let Ok(Some((Frame::Array(items), used))) = parse_frame(bytes, &FrameLimits::default()) {
        out.push(
            items
                .into_iter()
                .map(|f| match f {
                    Frame::Bulk(b) => b,
                    _ => Vec::new(),
                })
                .collect(),
        );
        bytes = bytes.get(used..).unwrap_or_default();
    }
    out
}

fn name_of(argv: &[Vec<u8>]) -> String {
    let mut name =
        String::from_utf8_lossy(argv.first().map(Vec::as_slice).unwrap_or_default()).to_uppercase();
    if name == "CLUSTER" {
        name.push(' ');
        name.push_str(
            &String::from_utf8_lossy(argv.get(1).map(Vec::as_slice).unwrap_or_default()).to_uppercase(),
        );
    }
    name
}

impl State {
    fn execute(&mut self, addr: &str, session: &mut Session, argv: Vec<Vec<u8>>) -> Frame {
        let name = name_of(&argv);
        self.calls.entry(addr.to_string()).or_default().push(name.clone());
        match name.as_str() {
            "ASKING" => {
                session.asking = true;
                return ok();
            }
            "READONLY" | "READWRITE" => {
                session.readonly = name == "READONLY";
                return ok();
            }
            "MULTI" => {
                session.multi = Some(Vec::new());
                session.multi_failed = false;
                return ok();
            }
            "EXEC" => {
                let Some(queued) = session.multi.take() else { return err("ERR EXEC without MULTI") };
                session.asking = false;
                if session.multi_failed {
                    return err("EXECABORT Transaction discarded because of previous errors.");
                }
                return Frame::Array(queued.into_iter().map(|c| self.apply(addr, c)).collect());
            }
            _ => {}
        }
        if let Some(refusal) = self.route(addr, session, &argv) {
            session.multi_failed |= session.multi.is_some();
            return refusal;
        }
        if let Some(queue) = session.multi.as_mut() {
            queue.push(argv);
            return Frame::Simple(b"QUEUED".to_vec());
        }
        self.apply(addr, argv)
    }

    /// Why `addr` will not run this command here (a redirect, a scripted error), if it will not.
    fn route(&mut self, addr: &str, session: &mut Session, argv: &[Vec<u8>]) -> Option<Frame> {
        let cmd = Cmd::from_args(argv.to_vec());
        let slots: Vec<u16> = crate::cluster::keys_of(&cmd).iter().map(|k| key_slot(k)).collect();
        // ASKING lasts for one command, or for the whole transaction once inside MULTI (as in Redis).
        let asking = session.asking;
        session.asking = asking && session.multi.is_some();
        let &slot = slots.first()?;
        if slots.iter().any(|&s| s != slot) {
            return Some(err("CROSSSLOT Keys in request don't hash to the same slot"));
        }
        if let Some(reply) = self.scripted.get_mut(addr).and_then(VecDeque::pop_front) {
            return Some(reply);
        }
        let owner = self.owners.get(usize::from(slot)).cloned().flatten();
        let importing = self.migrating.get(&slot);
        let primary = self.replicas.iter().find(|(r, _)| r == addr).map(|(_, p)| p);
        if primary.is_some()
            && primary == owner.as_ref()
            && session.readonly
            && crate::cluster::is_read_only(&cmd)
        {
            return None;
        }
        match (owner, importing) {
            (Some(o), Some(to)) if o == addr => Some(err(&format!("ASK {slot} {to}"))),
            (_, Some(to)) if to == addr && asking => None,
            (Some(o), _) if o == addr => None,
            (Some(o), _) => Some(err(&format!("MOVED {slot} {o}"))),
            (None, _) => Some(err("CLUSTERDOWN Hash slot not served")),
        }
    }

    /// Runs a command the node accepted.
    fn apply(&mut self, addr: &str, argv: Vec<Vec<u8>>) -> Frame {
        let arg = |i: usize| argv.get(i).cloned().unwrap_or_default();
        match name_of(&argv).as_str() {
            "PING" => Frame::Simple(b"PONG".to_vec()),
            "GET" => self.data.get(&arg(1)).map_or(Frame::Null, |v| Frame::Bulk(v.clone())),
            "SET" => {
                self.data.insert(arg(1), arg(2));
                ok()
            }
            "INCR" => {
                let n = self.data.get(&arg(1)).and_then(|v| String::from_utf8_lossy(v).parse::<i64>().ok());
                let n = n.unwrap_or(0) + 1;
                self.data.insert(arg(1), n.to_string().into_bytes());
                Frame::Integer(n)
            }
            "DEL" | "EXISTS" | "UNLINK" | "TOUCH" => {
                let del = !matches!(argv.first().map(|n| n.to_ascii_uppercase()), Some(n) if n == b"EXISTS" || n == b"TOUCH");
                let mut n = 0;
                for k in argv.iter().skip(1) {
                    let found = if del { self.data.remove(k).is_some() } else { self.data.contains_key(k) };
                    n += i64::from(found);
                }
                Frame::Integer(n)
            }
            "MGET" => Frame::Array(
                argv.iter()
                    .skip(1)
                    .map(|k| self.data.get(k).map_or(Frame::Null, |v| Frame::Bulk(v.clone())))
                    .collect(),
            ),
            "MSET" => {
                for pair in argv.get(1..).unwrap_or_default().chunks(2) {
                    if let [k, v] = pair {
                        self.data.insert(k.clone(), v.clone());
                    }
                }
                ok()
            }
            "BLPOP" => Frame::NullArray,
            "SCAN" => {
                // One pass: every key this node serves, then cursor 0.
                let keys = self
                    .data
                    .keys()
                    .filter(|k| {
                        self.owners.get(usize::from(key_slot(k))).cloned().flatten().as_deref() == Some(addr)
                    })
                    .map(|k| Frame::Bulk(k.clone()))
                    .collect();
                Frame::Array(vec![Frame::Bulk(b"0".to_vec()), Frame::Array(keys)])
            }
            "CLUSTER SHARDS" if self.no_shards => err("ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP."),
            "CLUSTER SHARDS" => self.shards(),
            "CLUSTER SLOTS" => self.slots(),
            other => err(&format!("ERR unknown command '{other}'")),
        }
    }

    /// The advertised slot ranges: (start, end, owner).
    fn ranges(&self) -> Vec<(usize, usize, String)> {
        let mut out: Vec<(usize, usize, String)> = Vec::new();
        for (slot, owner) in self.advertised.iter().enumerate() {
            let Some(owner) = owner else { continue };
            match out.last_mut() {
                Some((_, end, o)) if o == owner && *end + 1 == slot => *end = slot,
                _ => out.push((slot, slot, owner.clone())),
            }
        }
        out
    }

    fn slots(&self) -> Frame {
        let node = |addr: &str| {
            let (ip, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
            Frame::Array(vec![
                Frame::Bulk(ip.as_bytes().to_vec()),
                Frame::Integer(port.parse().unwrap_or(0)),
                Frame::Bulk(format!("id-{addr}").into_bytes()),
            ])
        };
        Frame::Array(
            self.ranges()
                .into_iter()
                .map(|(s, e, o)| {
                    let mut range = vec![Frame::Integer(s as i64), Frame::Integer(e as i64), node(&o)];
                    range.extend(self.replicas.iter().filter(|(_, p)| *p == o).map(|(r, _)| node(r)));
                    Frame::Array(range)
                })
                .collect(),
        )
    }

    fn shards(&self) -> Frame {
        let bulk = |s: &str| Frame::Bulk(s.as_bytes().to_vec());
        let mut shards = Vec::new();
        for addr in &self.nodes {
            let slots: Vec<Frame> = self
                .ranges()
                .into_iter()
                .filter(|(_, _, o)| o == addr)
                .flat_map(|(s, e, _)| [Frame::Integer(s as i64), Frame::Integer(e as i64)])
                .collect();
            let node = |addr: &str, role: &str| {
                let (ip, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
                Frame::Array(vec![
                    bulk("id"),
                    bulk(&format!("id-{addr}")),
                    bulk("port"),
                    Frame::Integer(port.parse().unwrap_or(0)),
                    bulk("ip"),
                    bulk(ip),
                    bulk("endpoint"),
                    bulk(ip),
                    bulk("role"),
                    bulk(role),
                    bulk("replication-offset"),
                    Frame::Integer(0),
                    bulk("health"),
                    bulk("online"),
                ])
            };
            let mut nodes = vec![node(addr, "master")];
            nodes.extend(self.replicas.iter().filter(|(_, p)| p == addr).map(|(r, _)| node(r, "replica")));
            shards.push(Frame::Array(vec![
                bulk("slots"),
                Frame::Array(slots),
                bulk("nodes"),
                Frame::Array(nodes),
            ]));
        }
        Frame::Array(shards)
    }
}
