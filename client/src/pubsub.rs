//! Pub/sub on a cluster: a [`Subscriber`] keeps connections of its own (subscribed connections take no
//! other commands): one to any node for `SUBSCRIBE`/`PSUBSCRIBE` (the cluster forwards every `PUBLISH`
//! to every node), and one per slot owner for `SSUBSCRIBE` (shard channels live with their slot).
//! Subscriptions are kept and made again when a connection is lost, and shard channels follow their
//! slot when it moves (the node tells with a `sunsubscribe` message, or answers `MOVED`).
//!
//! ```no_run
//! # async fn example(client: slotkv_client::ClusterClient) -> slotkv_client::Result<()> {
//! let mut sub = client.subscriber();
//! sub.subscribe(&["news"]).await?;
//! while let Some(m) = sub.next_message().await {
//!     println!("{}: {}", String::from_utf8_lossy(&m.channel), String::from_utf8_lossy(&m.payload));
//! }
//! # Ok(()) }
//! ```

use crate::cluster::ClusterClient;
use crate::cmd::{cmd, Cmd};
use crate::error::{Error, Result};
use slotkv_proto::frame::{parse_frame, Frame, FrameLimits};
use slotkv_proto::slot::key_slot;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Which kind of subscription delivered a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `SUBSCRIBE`: `message`.
    Channel,
    /// `PSUBSCRIBE`: `pmessage` (with the pattern).
    Pattern,
    /// `SSUBSCRIBE`: `smessage`.
    Shard,
}

impl Kind {
    fn verbs(self) -> (&'static str, &'static str) {
        match self {
            Kind::Channel => ("SUBSCRIBE", "UNSUBSCRIBE"),
            Kind::Pattern => ("PSUBSCRIBE", "PUNSUBSCRIBE"),
            Kind::Shard => ("SSUBSCRIBE", "SUNSUBSCRIBE"),
        }
    }
}

/// One published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    /// The pattern that matched, for [`Kind::Pattern`].
    pub pattern: Option<Vec<u8>>,
    pub channel: Vec<u8>,
    pub payload: Vec<u8>,
}

/// A subscription session: subscribe, then read messages with [`Subscriber::next_message`]. Dropping
/// it closes its connections.
pub struct Subscriber {
    ops: mpsc::UnboundedSender<Op>,
    messages: mpsc::UnboundedReceiver<Message>,
}

struct Op {
    kind: Kind,
    subscribe: bool,
    names: Vec<Vec<u8>>,
    done: Waiter,
}

impl ClusterClient {
    /// A new subscription session (its connections are made on the first subscription).
    pub fn subscriber(&self) -> Subscriber {
        let (ops, ops_rx) = mpsc::unbounded_channel();
        let (messages_tx, messages) = mpsc::unbounded_channel();
        tokio::spawn(Session::new(self.clone(), messages_tx).run(ops_rx));
        Subscriber { ops, messages }
    }
}

impl Subscriber {
    async fn op(&self, kind: Kind, subscribe: bool, names: &[&str]) -> Result<()> {
        let (done, wait) = oneshot::channel();
        let names = names.iter().map(|n| n.as_bytes().to_vec()).collect();
        self.ops
            .send(Op { kind, subscribe, names, done })
            .map_err(|_| Error::Io("subscriber closed".into()))?;
        wait.await.map_err(|_| Error::Io("subscriber closed".into()))?
    }

    /// `SUBSCRIBE`: returns once the node confirmed every channel.
    pub async fn subscribe(&self, channels: &[&str]) -> Result<()> {
        self.op(Kind::Channel, true, channels).await
    }

    pub async fn unsubscribe(&self, channels: &[&str]) -> Result<()> {
        self.op(Kind::Channel, false, channels).await
    }

    /// `PSUBSCRIBE` (Redis glob patterns).
    pub async fn psubscribe(&self, patterns: &[&str]) -> Result<()> {
        self.op(Kind::Pattern, true, patterns).await
    }

    pub async fn punsubscribe(&self, patterns: &[&str]) -> Result<()> {
        self.op(Kind::Pattern, false, patterns).await
    }

    /// `SSUBSCRIBE`, each channel at the node serving its slot.
    pub async fn ssubscribe(&self, channels: &[&str]) -> Result<()> {
        self.op(Kind::Shard, true, channels).await
    }

    pub async fn sunsubscribe(&self, channels: &[&str]) -> Result<()> {
        self.op(Kind::Shard, false, channels).await
    }

    /// The next message; `None` once the session ended.
    pub async fn next_message(&mut self) -> Option<Message> {
        self.messages.recv().await
    }
}

/// What a link reports to its session.
enum Event {
    Frame(u64, Frame),
    Closed(u64),
}

/// One subscribed connection.
struct Link {
    addr: String,
    write: OwnedWriteHalf,
    /// Confirmations awaited, in the order asked.
    awaiting: VecDeque<Awaited>,
    /// The subscriptions this link holds (made again elsewhere if it is lost).
    carried: BTreeSet<(Kind, Vec<u8>)>,
}

/// Who waits for the node's confirmations.
type Waiter = oneshot::Sender<Result<()>>;

/// One (un)subscription sent and not yet confirmed.
struct Awaited {
    /// The confirmation's name (`subscribe`...), and how many are still due (one per name).
    verb: String,
    left: usize,
    waiter: Option<Waiter>,
    /// What was asked, to ask again elsewhere if the node answers `MOVED`.
    kind: Kind,
    names: Vec<Vec<u8>>,
}

/// The session task's state: what is wanted, and the links that carry it.
struct Session {
    client: ClusterClient,
    messages: mpsc::UnboundedSender<Message>,
    wanted: HashMap<&'static str, BTreeSet<Vec<u8>>>,
    links: HashMap<u64, Link>,
    /// The link for channels and patterns, once made.
    main: Option<u64>,
    next_id: u64,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    /// Subscriptions to make again (after a lost link or a moved slot), and when.
    redo: Vec<(Kind, Vec<u8>)>,
    redo_wait: Duration,
}

fn wanted_key(kind: Kind) -> &'static str {
    kind.verbs().0
}

impl Session {
    fn new(client: ClusterClient, messages: mpsc::UnboundedSender<Message>) -> Session {
        let (events_tx, events) = mpsc::unbounded_channel();
        Session {
            client,
            messages,
            wanted: HashMap::new(),
            links: HashMap::new(),
            main: None,
            next_id: 0,
            events_tx,
            events,
            redo: Vec::new(),
            redo_wait: Duration::from_millis(10),
        }
    }

    async fn run(mut self, mut ops: mpsc::UnboundedReceiver<Op>) {
        loop {
            let redo_after = self.redo_wait;
            tokio::select! {
                op = ops.recv() => match op {
                    Some(op) => self.apply(op).await,
                    None => return,
                },
                Some(event) = self.events.recv() => self.on_event(event),
                _ = tokio::time::sleep(redo_after), if !self.redo.is_empty() => self.redo_now().await,
            }
            if self.messages.is_closed() {
                return;
            }
        }
    }

    async fn apply(&mut self, op: Op) {
        let set = self.wanted.entry(wanted_key(op.kind)).or_default();
        let names: Vec<Vec<u8>> = if op.subscribe {
            op.names.iter().filter(|n| set.insert((*n).clone())).cloned().collect()
        } else {
            op.names.iter().filter(|n| set.remove(*n)).cloned().collect()
        };
        if names.is_empty() {
            let _ = op.done.send(Ok(()));
            return;
        }
        let result = self.send(op.kind, op.subscribe, names, Some(op.done)).await;
        if let Err((e, Some(done))) = result {
            let _ = done.send(Err(e));
        }
    }

    /// Sends one (un)subscription on the right link; on failure hands the waiter back with the error.
    async fn send(
        &mut self,
        kind: Kind,
        subscribe: bool,
        names: Vec<Vec<u8>>,
        done: Option<Waiter>,
    ) -> std::result::Result<(), (Error, Option<Waiter>)> {
        let verb = if subscribe { kind.verbs().0 } else { kind.verbs().1 };
        // Shard channels go one at a time: each to its own slot's owner.
        let groups: Vec<Vec<Vec<u8>>> = match kind {
            Kind::Shard => names.into_iter().map(|n| vec![n]).collect(),
            _ => vec![names],
        };
        let mut done = done;
        let count = groups.len();
        for (i, group) in groups.into_iter().enumerate() {
            let target = match kind {
                Kind::Shard => {
                    let slot = group.first().map(|n| key_slot(n)).unwrap_or(0);
                    self.client.slot_owner(slot)
                }
                _ => None,
            };
            let link = match self.link(kind, target).await {
                Ok(l) => l,
                Err(e) => return Err((e, done)),
            };
            let mut c: Cmd = cmd(verb);
            for n in &group {
                c = c.arg(n.as_slice());
            }
            let mut bytes = Vec::new();
            c.encode(&mut bytes);
            let Some(l) = self.links.get_mut(&link) else {
                return Err((Error::Io("link lost".into()), done));
            };
            // The waiter rides on the last request.
            let waiter = if i + 1 == count { done.take() } else { None };
            for n in &group {
                if subscribe {
                    l.carried.insert((kind, n.clone()));
                } else {
                    l.carried.remove(&(kind, n.clone()));
                }
            }
            let verb = verb.to_ascii_lowercase();
            l.awaiting.push_back(Awaited { verb, left: group.len(), waiter, kind, names: group });
            if let Err(e) = l.write.write_all(&bytes).await {
                let waiter = l.awaiting.pop_back().and_then(|a| a.waiter);
                return Err((Error::from(e), waiter));
            }
        }
        Ok(())
    }

    /// The link for `kind` (the main one, or the one to `addr` for shard channels), made if needed.
    async fn link(&mut self, kind: Kind, addr: Option<String>) -> Result<u64> {
        let existing = match kind {
            Kind::Shard => {
                self.links.iter().find(|(id, l)| Some(&l.addr) == addr.as_ref() && Some(**id) != self.main)
            }
            _ => self.main.and_then(|id| self.links.get_key_value(&id)),
        };
        if let Some((&id, _)) = existing {
            return Ok(id);
        }
        let addr = match (kind, addr) {
            (Kind::Shard, Some(a)) => a,
            (Kind::Shard, None) => return Err(Error::Io("no node known to serve the shard channel".into())),
            _ => self.client.primaries().into_iter().next().ok_or(Error::Io("no node known".into()))?,
        };
        let id = self.open(&addr).await?;
        if !matches!(kind, Kind::Shard) {
            self.main = Some(id);
        }
        Ok(id)
    }

    async fn open(&mut self, addr: &str) -> Result<u64> {
        let options = self.client.options().clone();
        let stream = tokio::time::timeout(options.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::Io(format!("connect {addr}: timed out")))??;
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        let mut first = Vec::new();
        if let Some(pw) = &options.connect.password {
            let user = options.connect.username.as_deref().unwrap_or("default");
            cmd("AUTH").arg(user).arg(pw.as_str()).encode(&mut first);
            write.write_all(&first).await?;
        }
        let id = self.next_id;
        self.next_id += 1;
        let events = self.events_tx.clone();
        let authenticating = options.connect.password.is_some();
        tokio::spawn(async move {
            let limits = FrameLimits::default();
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 16 * 1024];
            let mut skip_auth_reply = authenticating;
            loop {
                let n = match read.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                let mut used = 0;
                while let Ok(Some((frame, len))) = parse_frame(buf.get(used..).unwrap_or_default(), &limits) {
                    used += len;
                    if std::mem::take(&mut skip_auth_reply) {
                        if matches!(frame, Frame::Error(_)) {
                            let _ = events.send(Event::Closed(id));
                            return;
                        }
                        continue;
                    }
                    if events.send(Event::Frame(id, frame)).is_err() {
                        return;
                    }
                }
                buf.drain(..used.min(buf.len()));
            }
            let _ = events.send(Event::Closed(id));
        });
        self.links.insert(
            id,
            Link { addr: addr.to_string(), write, awaiting: VecDeque::new(), carried: BTreeSet::new() },
        );
        Ok(id)
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Frame(id, frame) => self.on_frame(id, frame),
            Event::Closed(id) => {
                let Some(link) = self.links.remove(&id) else { return };
                if self.main == Some(id) {
                    self.main = None;
                }
                for a in link.awaiting {
                    if let Some(w) = a.waiter {
                        let _ =
                            w.send(Err(Error::Io(format!("connection to {} lost ({})", link.addr, a.verb))));
                    }
                }
                // Everything the link carried is made again elsewhere, once the map is read again.
                for (kind, name) in link.carried {
                    if !self.redo.contains(&(kind, name.clone())) {
                        self.redo.push((kind, name));
                    }
                }
            }
        }
    }

    fn on_frame(&mut self, id: u64, frame: Frame) {
        let items = match frame {
            Frame::Push(items) | Frame::Array(items) => items,
            Frame::Error(e) => {
                // A refused (un)subscription: MOVED for a shard channel is followed; others fail the caller.
                let err = Error::server(&e);
                let Some(link) = self.links.get_mut(&id) else { return };
                let Some(refused) = link.awaiting.pop_front() else { return };
                for n in &refused.names {
                    link.carried.remove(&(refused.kind, n.clone()));
                }
                let waiter = refused.waiter;
                if let (Some("MOVED"), Error::Server { message, .. }) = (err.code(), &err) {
                    if let Some((slot, to)) = parse_moved(message) {
                        self.client.note_moved(slot, &to);
                    }
                    for n in refused.names {
                        self.redo.push((refused.kind, n));
                    }
                    if let Some(w) = waiter {
                        let _ = w.send(Ok(()));
                    }
                    return;
                }
                if let Some(w) = waiter {
                    let _ = w.send(Err(err));
                }
                return;
            }
            _ => return,
        };
        let text = |f: Option<&Frame>| match f {
            Some(Frame::Bulk(b)) | Some(Frame::Simple(b)) => Some(b.clone()),
            _ => None,
        };
        let Some(verb) = text(items.first()) else { return };
        let verb = String::from_utf8_lossy(&verb).to_ascii_lowercase();
        let message = |kind, pattern, channel: Option<Vec<u8>>, payload: Option<Vec<u8>>| {
            channel.zip(payload).map(|(channel, payload)| Message { kind, pattern, channel, payload })
        };
        let delivered = match verb.as_str() {
            "message" => message(Kind::Channel, None, text(items.get(1)), text(items.get(2))),
            "smessage" => message(Kind::Shard, None, text(items.get(1)), text(items.get(2))),
            "pmessage" => message(Kind::Pattern, text(items.get(1)), text(items.get(2)), text(items.get(3))),
            _ => None,
        };
        if let Some(m) = delivered {
            let _ = self.messages.send(m);
            return;
        }
        let name = text(items.get(1));
        let Some(link) = self.links.get_mut(&id) else { return };
        match link.awaiting.front_mut() {
            Some(awaited) if awaited.verb == verb => {
                awaited.left = awaited.left.saturating_sub(1);
                if awaited.left == 0 {
                    if let Some(Some(w)) = link.awaiting.pop_front().map(|a| a.waiter) {
                        let _ = w.send(Ok(()));
                    }
                }
            }
            _ if verb == "sunsubscribe" => {
                // Not asked for: the node gave the slot away. Subscribe again at its new owner.
                if let Some(name) = name {
                    link.carried.remove(&(Kind::Shard, name.clone()));
                    if self.wanted.get("SSUBSCRIBE").is_some_and(|s| s.contains(&name)) {
                        self.redo.push((Kind::Shard, name));
                    }
                }
            }
            _ => {}
        }
    }

    /// Makes the pending subscriptions again; what fails waits longer and is tried again.
    async fn redo_now(&mut self) {
        let _ = self.client.refresh().await;
        let pending = std::mem::take(&mut self.redo);
        let mut failed = Vec::new();
        for (kind, name) in pending {
            let wanted = self.wanted.get(wanted_key(kind)).is_some_and(|s| s.contains(&name));
            if wanted && self.send(kind, true, vec![name.clone()], None).await.is_err() {
                failed.push((kind, name));
            }
        }
        self.redo_wait = if failed.is_empty() {
            Duration::from_millis(10)
        } else {
            (self.redo_wait * 2).min(Duration::from_secs(1))
        };
        self.redo = failed;
    }
}

fn parse_moved(message: &str) -> Option<(usize, String)> {
    let mut parts = message.split(' ').skip(1);
    let slot = parts.next()?.parse().ok()?;
    Some((slot, parts.next()?.to_string()))
}
