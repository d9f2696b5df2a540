//! The cluster bus: how nodes learn of each other and converge on one slot map (format and rules:
//! `docs/cluster-bus.md`). It runs in the data thread's event loop, beside the clients: the traffic is a
//! few small messages per peer per second, and the slot map it updates is the one the routing check reads.
//!
//! Each node keeps one outbound link to every peer it knows and sends `PING` on it every half second;
//! the peer answers `PONG` on the same link. A message is a RESP array of bulk strings (the framing the
//! AOF and clients use): the sender's id, addresses, epochs and slot bitmap, and a few gossip entries
//! naming other nodes, so a node told of a new peer by `CLUSTER MEET` spreads it to every node. A slot goes
//! to the claimant with the higher config epoch; a node that claims a slot with a stale epoch gets an
//! `UPDATE` naming the rightful owner. `PUBLISH` is forwarded to every peer.

use super::{failover, Cluster, Node, NodeId};
use crate::persist::aof_file::encode_command;
use crate::server::Server;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use slab::Slab;
use slotkv_proto::slot::SLOT_COUNT;
use slotkv_proto::{parse_request, Args, Limits, Parsed};
use smallvec::SmallVec;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

/// Tokens of bus links start here (client tokens are small slab keys).
pub const LINK_BASE: usize = 1 << 40;
/// How often each peer is pinged.
const PING_EVERY_MS: i64 = 500;
/// Gossip entries per message.
const GOSSIP: usize = 3;
/// A forgotten node is not re-learned from gossip for this long (as Redis's FORGET blacklist).
pub const FORGET_MS: i64 = 60_000;
/// The biggest message accepted (a slot bitmap and gossip are far smaller).
const MAX_MESSAGE: usize = 1 << 20;
/// Bytes kept for a peer whose link is down (published messages); beyond this they are dropped.
const MAX_WAITING: usize = 1 << 20;

struct Link {
    stream: TcpStream,
    /// Outbound: the node we connected to. Inbound: the sender, once a message names it.
    node: Option<NodeId>,
    outbound: bool,
    connected: bool,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    /// When the link was opened (Unix ms): a connect that takes too long is given up.
    opened: i64,
    /// The first PING (or MEET) went out on it.
    greeted: bool,
}

pub struct Bus {
    listener: TcpListener,
    listener_token: Token,
    links: Slab<Link>,
    /// The outbound link of each peer.
    outbound: HashMap<NodeId, usize>,
    args: Args,
    /// Messages for peers whose outbound link is not connected yet, sent once it is.
    waiting: HashMap<NodeId, Vec<u8>>,
    pub sent: u64,
    pub received: u64,
}

fn slots_bitmap(c: &Cluster, id: &str) -> Vec<u8> {
    let mut bits = vec![0u8; SLOT_COUNT / 8];
    for (s, owner) in c.slots().iter().enumerate() {
        if owner.as_deref() == Some(id) {
            if let Some(b) = bits.get_mut(s / 8) {
                *b |= 1 << (s % 8);
            }
        }
    }
    bits
}

fn has_slot(bits: &[u8], s: usize) -> bool {
    bits.get(s / 8).is_some_and(|b| b & (1 << (s % 8)) != 0)
}

fn num<T: std::str::FromStr + Default>(a: Option<&&[u8]>) -> T {
    a.and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse().ok()).unwrap_or_default()
}

fn text(a: Option<&&[u8]>) -> String {
    a.map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
}

impl Bus {
    /// Listens on the bus port (same addresses as the clients' listeners).
    pub fn bind(addrs: &[SocketAddr], registry: &Registry, token: Token) -> io::Result<Bus> {
        let mut last_err = io::Error::other("no address to bind the cluster bus to");
        for addr in addrs {
            match TcpListener::bind(*addr) {
                Ok(mut listener) => {
                    registry.register(&mut listener, token, Interest::READABLE)?;
                    return Ok(Bus {
                        listener,
                        listener_token: token,
                        links: Slab::new(),
                        outbound: HashMap::new(),
                        args: Args::new(),
                        waiting: HashMap::new(),
                        sent: 0,
                        received: 0,
                    });
                }
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    pub fn is_listener(&self, token: Token) -> bool {
        token == self.listener_token
    }

    pub fn accept(&mut self, registry: &Registry) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().ok();
                    let entry = self.links.vacant_entry();
                    if registry
                        .register(&mut stream, Token(LINK_BASE + entry.key()), Interest::READABLE)
                        .is_ok()
                    {
                        entry.insert(Link {
                            stream,
                            node: None,
                            outbound: false,
                            connected: true,
                            rbuf: Vec::new(),
                            wbuf: Vec::new(),
                            peer,
                            local,
                            opened: crate::net::now_ms(),
                            greeted: false,
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("Accepting cluster bus connection: {e}");
                    return;
                }
            }
        }
    }

    /// A link's socket is ready: finish connecting, read and handle messages, write what is queued.
    pub fn on_event(&mut self, srv: &mut Server, registry: &Registry, token: usize, now: i64) {
        let id = token - LINK_BASE;
        let mut broken = false;
        let mut messages: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut learned_local = None;
        {
            let Some(link) = self.links.get_mut(id) else { return };
            if link.outbound && !link.connected {
                // A refused or failed connect reports its error here (and `peer_addr` would only say
                // "not connected", as for one still in progress).
                if let Ok(Some(_)) | Err(_) = link.stream.take_error() {
                    broken = true;
                }
                match link.stream.peer_addr() {
                    Ok(_) if !broken => {
                        link.connected = true;
                        link.local = link.stream.local_addr().ok();
                        if let Some(waiting) = link.node.as_ref().and_then(|n| self.waiting.remove(n)) {
                            link.wbuf.extend_from_slice(&waiting);
                        }
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                    Err(_) => broken = true,
                }
            }
            let mut buf = [0u8; 16 * 1024];
            while link.connected && !broken {
                match link.stream.read(&mut buf) {
                    Ok(0) => broken = true,
                    Ok(n) => link.rbuf.extend_from_slice(buf.get(..n).unwrap_or_default()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => broken = true,
                }
            }
            let limits =
                Limits { max_bulk_len: MAX_MESSAGE, max_multibulk_len: 1 << 16, max_inline_len: 1024 };
            let mut pos = 0;
            loop {
                let rest = link.rbuf.get(pos..).unwrap_or_default();
                if rest.is_empty() {
                    break;
                }
                match parse_request(rest, &limits, &mut self.args) {
                    Ok(Parsed::Complete(n)) => {
                        let mut argv: SmallVec<[&[u8]; 16]> = SmallVec::new();
                        self.args.slices(rest, &mut argv);
                        messages.push(argv.iter().map(|a| a.to_vec()).collect());
                        pos += n;
                    }
                    Ok(Parsed::Incomplete(_)) if rest.len() <= MAX_MESSAGE => break,
                    _ => {
                        broken = true;
                        break;
                    }
                }
            }
            link.rbuf.drain(..pos.min(link.rbuf.len()));
            if !messages.is_empty() {
                learned_local = link.local;
            }
        }
        for msg in messages {
            self.received += 1;
            let refs: Vec<&[u8]> = msg.iter().map(Vec::as_slice).collect();
            self.handle(srv, id, &refs, learned_local, now);
        }
        if broken {
            self.close(srv, id);
            return;
        }
        self.flush(id, registry);
    }

    fn flush(&mut self, id: usize, registry: &Registry) {
        let mut broken = false;
        if let Some(link) = self.links.get_mut(id) {
            if !link.connected {
                return;
            }
            while !link.wbuf.is_empty() {
                match link.stream.write(&link.wbuf) {
                    Ok(0) => {
                        broken = true;
                        break;
                    }
                    Ok(n) => {
                        link.wbuf.drain(..n.min(link.wbuf.len()));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        broken = true;
                        break;
                    }
                }
            }
            let interest = if link.wbuf.is_empty() {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            if !broken && registry.reregister(&mut link.stream, Token(LINK_BASE + id), interest).is_err() {
                broken = true;
            }
            if broken {
                link.wbuf.clear();
                link.connected = false;
            }
        }
    }

    fn close(&mut self, srv: &mut Server, id: usize) {
        if let Some(node) = self.drop_link(id) {
            if let Some(n) = srv.cluster.as_mut().and_then(|c| c.nodes.get_mut(&node)) {
                n.connected = false;
            }
        }
    }

    /// Forgets a link; returns the peer of an outbound one.
    fn drop_link(&mut self, id: usize) -> Option<NodeId> {
        if !self.links.contains(id) {
            return None;
        }
        let link = self.links.remove(id);
        let node = link.node.filter(|_| link.outbound)?;
        if self.outbound.get(&node) == Some(&id) {
            self.outbound.remove(&node);
        }
        Some(node)
    }

    fn send(&mut self, id: usize, argv: &[&[u8]]) {
        if let Some(link) = self.links.get_mut(id) {
            encode_command(&mut link.wbuf, argv);
            self.sent += 1;
        }
    }

    /// PING / PONG / MEET with this node's header and gossip about a few others.
    fn send_header(&mut self, c: &Cluster, id: usize, kind: &[u8]) {
        let Some(me) = c.me() else { return };
        let peer_ip = self.links.get(id).map(|l| l.peer.ip().to_string()).unwrap_or_default();
        let bits = slots_bitmap(c, &me.id);
        let flags = if me.flags.iter().any(|f| f == "slave") { "slave" } else { "master" };
        let mut argv: Vec<Vec<u8>> = vec![
            kind.to_vec(),
            me.id.as_bytes().to_vec(),
            me.ip.as_bytes().to_vec(),
            me.port.to_string().into_bytes(),
            me.cport.to_string().into_bytes(),
            me.config_epoch.to_string().into_bytes(),
            c.current_epoch.to_string().into_bytes(),
            flags.as_bytes().to_vec(),
            me.shard_id.as_bytes().to_vec(),
            bits,
            peer_ip.into_bytes(),
            me.master.as_deref().unwrap_or("-").as_bytes().to_vec(),
            me.repl_offset.to_string().into_bytes(),
        ];
        let target = self.links.get(id).and_then(|l| l.node.clone());
        let mut others: Vec<&Node> = c
            .nodes
            .values()
            .filter(|n| n.id != me.id && Some(&n.id) != target.as_ref() && !n.handshake() && !n.ip.is_empty())
            .collect();
        fastrand::shuffle(&mut others);
        // Failing nodes first: that is how failure reports spread.
        others.sort_by_key(|n| !n.failing());
        for n in others.into_iter().take(GOSSIP) {
            argv.push(n.id.as_bytes().to_vec());
            argv.push(n.ip.as_bytes().to_vec());
            argv.push(n.port.to_string().into_bytes());
            argv.push(n.cport.to_string().into_bytes());
            argv.push(n.flags.join(",").into_bytes());
        }
        let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        self.send(id, &refs);
    }

    fn handle(&mut self, srv: &mut Server, link_id: usize, a: &[&[u8]], local: Option<SocketAddr>, now: i64) {
        let kind = a.first().copied().unwrap_or_default();
        match kind {
            b"PING" | b"PONG" | b"MEET" => self.on_header(srv, link_id, a, local, now),
            b"UPDATE" => {
                let Some(c) = srv.cluster.as_mut() else { return };
                let id = text(a.get(1));
                let epoch: u64 = num(a.get(2));
                let bits = a.get(3).copied().unwrap_or_default();
                if c.nodes.get(&id).is_some_and(|n| epoch > n.config_epoch) {
                    if let Some(n) = c.nodes.get_mut(&id) {
                        n.config_epoch = epoch;
                    }
                    let before = failover::before(c);
                    claim_slots(c, &id, epoch, bits);
                    c.dirty = true;
                    failover::after_claims(srv, before, &id, now);
                }
            }
            b"FAIL" => {
                let Some(c) = srv.cluster.as_mut() else { return };
                let id = text(a.get(1));
                if id != c.myself {
                    if let Some(n) = c.nodes.get_mut(&id).filter(|n| !n.has_flag("fail")) {
                        n.flags.retain(|f| f != "fail?");
                        n.flags.push("fail".into());
                        c.dirty = true;
                        tracing::info!("FAIL message received about {id}");
                    }
                }
            }
            b"AUTHREQ" => {
                let timeout = node_timeout(&srv.config);
                let Some(c) = srv.cluster.as_mut() else { return };
                let requester = text(a.get(1));
                let epoch: u64 = num(a.get(2));
                let master = text(a.get(3));
                let forced = a.get(4).is_some_and(|f| *f == b"1");
                if let Some(e) = failover::vote(c, &requester, epoch, &master, forced, now, timeout) {
                    let (me, e) = (c.myself.clone(), e.to_string());
                    self.send(link_id, &[b"AUTHACK", me.as_bytes(), e.as_bytes()]);
                }
            }
            b"AUTHACK" => {
                let voter = text(a.get(1));
                let epoch: u64 = num(a.get(2));
                failover::on_vote(srv, &voter, epoch, now);
            }
            b"MFSTART" => {
                let replica = text(a.get(1));
                if let Some(offset) = failover::manual_start(srv, &replica, now) {
                    let me = srv.cluster.as_ref().map(|c| c.myself.clone()).unwrap_or_default();
                    let offset = offset.to_string();
                    self.send(link_id, &[b"MFOFFSET", me.as_bytes(), offset.as_bytes()]);
                }
            }
            b"MFOFFSET" => {
                let master = text(a.get(1));
                let offset: u64 = num(a.get(2));
                let Some(c) = srv.cluster.as_mut() else { return };
                if failover::my_master(c).as_deref() == Some(master.as_str()) && c.failover.manual_until != 0
                {
                    tracing::info!("Received replication offset {offset} for manual failover from my master");
                    c.failover.manual_offset = Some(offset);
                }
            }
            b"PUBLISH" => {
                let channel = a.get(1).copied().unwrap_or_default();
                let message = a.get(2).copied().unwrap_or_default();
                crate::commands::pubsub::publish_from_bus(srv, channel, message, now);
            }
            _ => tracing::debug!("Unknown cluster bus message {}", String::from_utf8_lossy(kind)),
        }
    }

    fn on_header(
        &mut self,
        srv: &mut Server,
        link_id: usize,
        a: &[&[u8]],
        local: Option<SocketAddr>,
        now: i64,
    ) {
        let node_timeout = node_timeout(&srv.config);
        let Some(c) = srv.cluster.as_mut() else { return };
        let kind = a.first().copied().unwrap_or_default();
        let sender = text(a.get(1));
        if sender.len() != 40 || sender == c.myself {
            return;
        }
        let announced_ip = text(a.get(2));
        let port: u16 = num(a.get(3));
        let cport: u16 = num(a.get(4));
        let epoch: u64 = num(a.get(5));
        let current: u64 = num(a.get(6));
        let shard = text(a.get(8));
        let bits = a.get(9).copied().unwrap_or_default();
        let Some(link) = self.links.get(link_id) else { return };
        let outbound = link.outbound;
        let peer_ip = if outbound {
            link.node.as_ref().and_then(|n| c.nodes.get(n)).map(|n| n.ip.clone()).unwrap_or_default()
        } else {
            link.peer.ip().to_string()
        };
        let sender_ip = if announced_ip.is_empty() { peer_ip } else { announced_ip };
        // A node learns its own address from the first peer that reaches it, as in Redis.
        if !outbound && c.me().is_some_and(|m| m.ip.is_empty()) {
            if let (Some(me), Some(l)) = (c.me_mut(), local) {
                me.ip = l.ip().to_string();
                tracing::info!("IP address for this node updated to {}", me.ip);
            }
            c.dirty = true;
        }
        // A handshake completes: the outbound link's temporary name becomes the peer's real id.
        if outbound && kind == b"PONG" {
            let temp = self.links.get(link_id).and_then(|l| l.node.clone());
            if let Some(temp) = temp.filter(|t| *t != sender) {
                if c.nodes.get(&temp).is_some_and(Node::handshake) {
                    c.nodes.remove(&temp);
                    self.outbound.remove(&temp);
                    if !c.nodes.contains_key(&sender) {
                        let mut n = Node::new(sender.clone(), sender_ip.clone(), port, cport);
                        n.shard_id = shard.clone();
                        c.nodes.insert(sender.clone(), n);
                    }
                    if let Some(l) = self.links.get_mut(link_id) {
                        l.node = Some(sender.clone());
                    }
                    self.outbound.insert(sender.clone(), link_id);
                    c.dirty = true;
                    tracing::info!("Handshake with node {sender} completed");
                }
            }
        }
        if !c.nodes.contains_key(&sender) {
            if kind != b"MEET" {
                // An unknown node pinging us is learned only through MEET or gossip, as in Redis.
                if !outbound {
                    self.send_header(c, link_id, b"PONG");
                }
                return;
            }
            if c.forgotten.get(&sender).is_some_and(|&until| until > now) {
                return;
            }
            let mut n = Node::new(sender.clone(), sender_ip.clone(), port, cport);
            n.shard_id = shard.clone();
            c.nodes.insert(sender.clone(), n);
            c.dirty = true;
            tracing::info!("Node {sender} ({sender_ip}:{port}) met us");
        }
        if !outbound {
            if let Some(l) = self.links.get_mut(link_id) {
                l.node = Some(sender.clone());
            }
        }
        if current > c.current_epoch {
            c.current_epoch = current;
            c.dirty = true;
        }
        if let Some(n) = c.nodes.get_mut(&sender) {
            if (n.ip != sender_ip && !sender_ip.is_empty()) || n.port != port || n.cport != cport {
                n.ip = sender_ip.clone();
                n.port = port;
                n.cport = cport;
                c.dirty = true;
            }
            if n.config_epoch != epoch {
                n.config_epoch = epoch;
                c.dirty = true;
            }
            if !shard.is_empty() && n.shard_id != shard {
                n.shard_id = shard.clone();
                c.dirty = true;
            }
            if outbound && kind == b"PONG" {
                n.pong_recv = now;
                n.ping_sent = 0;
                n.connected = true;
                if n.failing() {
                    n.flags.retain(|f| f != "fail?" && f != "fail");
                    c.dirty = true;
                    tracing::info!("Clear FAIL state for node {sender}: it is reachable again");
                }
            }
        }
        let role = text(a.get(7));
        let sender_master = text(a.get(11));
        let sender_offset: u64 = num(a.get(12));
        if let Some(n) = c.nodes.get_mut(&sender) {
            n.repl_offset = sender_offset;
        }
        let is_replica = c.nodes.get(&sender).is_some_and(|n| n.has_flag("slave"));
        let known_master = c.nodes.get(&sender).and_then(|n| n.master.clone());
        if role == "slave" && sender_master.len() == 40 && c.nodes.contains_key(&sender_master) {
            if !is_replica || known_master.as_deref() != Some(sender_master.as_str()) {
                tracing::info!("Node {sender} is now a replica of {sender_master}");
                failover::set_replica_of(c, &sender, &sender_master);
            }
        } else if role == "master" && is_replica {
            tracing::info!("Node {sender} is now a master");
            failover::set_master(c, &sender);
        }
        epoch_collision(c, &sender, epoch);
        let before = failover::before(c);
        if let Some(stale) = claim_slots(c, &sender, epoch, bits) {
            // The sender claims a slot whose owner has a newer epoch: tell it.
            if let Some(owner) = c.nodes.get(&stale) {
                let bits = slots_bitmap(c, &owner.id);
                let epoch = owner.config_epoch.to_string();
                let argv: [&[u8]; 4] = [b"UPDATE", owner.id.as_bytes(), epoch.as_bytes(), &bits];
                self.send(link_id, &argv);
            }
        }
        let timeout = node_timeout;
        let sender_votes = c.nodes.get(&sender).is_some_and(|n| n.has_flag("master")) && has_any_slot(bits);
        for g in a.get(13..).unwrap_or_default().chunks(5) {
            let id = text(g.first());
            let ip = text(g.get(1));
            let gport: u16 = num(g.get(2));
            let gcport: u16 = num(g.get(3));
            let flags = text(g.get(4));
            if id.len() != 40 || id == c.myself || ip.is_empty() {
                continue;
            }
            if let Some(n) = c.nodes.get_mut(&id) {
                // The sender's view of a node is a failure report (or withdraws one).
                if sender_votes {
                    if flags.split(',').any(|f| f == "fail?" || f == "fail") {
                        n.fail_reports.insert(sender.clone(), now);
                    } else {
                        n.fail_reports.remove(&sender);
                    }
                }
                mark_fail_if_agreed(c, &id, now, timeout);
                continue;
            }
            if c.forgotten.get(&id).is_some_and(|&until| until > now) {
                continue;
            }
            if c.nodes.values().any(|n| n.handshake() && n.ip == ip && n.port == gport) {
                continue;
            }
            c.start_handshake(ip, gport, gcport, now);
        }
        if kind == b"PING" || kind == b"MEET" {
            self.send_header(c, link_id, b"PONG");
        }
        failover::after_claims(srv, before, &sender, now);
    }

    /// Periodic work: connect to peers without a link, ping, notice silent peers, drop failed handshakes.
    pub fn cron(&mut self, srv: &mut Server, registry: &Registry, now: i64) {
        let timeout = node_timeout(&srv.config);
        failover::cron(srv, now, timeout);
        failover::reconcile(srv, now);
        let offset = srv.repl.offset;
        let Some(c) = srv.cluster.as_mut() else { return };
        if let Some(me) = c.me_mut() {
            me.repl_offset = offset;
        }
        c.messages_sent = self.sent;
        c.messages_received = self.received;
        c.links = self
            .links
            .iter()
            .filter_map(|(_, l)| {
                Some(super::LinkInfo {
                    outbound: l.outbound,
                    node: l.node.clone()?,
                    created_ms: l.opened,
                    writing: !l.wbuf.is_empty(),
                    send_buffer_allocated: l.wbuf.capacity(),
                    send_buffer_used: l.wbuf.len(),
                })
            })
            .collect();
        c.forgotten.retain(|_, until| *until > now);
        self.waiting.retain(|id, _| c.nodes.contains_key(id));
        let expired: Vec<NodeId> = c
            .nodes
            .values()
            .filter(|n| n.handshake() && now - n.handshake_started > timeout.max(1000))
            .map(|n| n.id.clone())
            .collect();
        for id in expired {
            tracing::info!("Handshake with {} timed out", id);
            c.nodes.remove(&id);
            if let Some(l) = self.outbound.remove(&id) {
                if self.links.contains(l) {
                    self.links.remove(l);
                }
            }
        }
        let peers: Vec<(NodeId, String, u16, bool)> = c
            .nodes
            .values()
            .filter(|n| n.id != c.myself && !n.ip.is_empty())
            .map(|n| (n.id.clone(), n.ip.clone(), n.cport, n.meet))
            .collect();
        for (id, ip, cport, meet) in peers {
            let Some(n) = c.nodes.get_mut(&id) else { continue };
            // A peer that has not answered a ping (or a connect) for the whole timeout is flagged `fail?`.
            if n.ping_sent != 0 && now - n.ping_sent > timeout && !n.failing() && !n.handshake() {
                n.flags.push("fail?".into());
                n.connected = false;
                c.dirty = true;
                tracing::info!("Marking node {id} as failing (possibly)");
                mark_fail_if_agreed(c, &id, now, timeout);
            }
            let Some(n) = c.nodes.get_mut(&id) else { continue };
            let link = match self.outbound.get(&id) {
                Some(&l) if self.links.contains(l) => l,
                _ => match self.connect(registry, &id, &ip, cport) {
                    Some(l) => {
                        // A connect counts as an unanswered ping (an old one keeps its time, so a peer
                        // that keeps refusing connections still reaches the timeout).
                        if n.ping_sent == 0 {
                            n.ping_sent = now;
                        }
                        l
                    }
                    None => continue,
                },
            };
            let (ping_sent, pong_recv) = (n.ping_sent, n.pong_recv);
            let Some(l) = self.links.get(link) else { continue };
            let (connected, opened, greeted) = (l.connected, l.opened, l.greeted);
            // A connect still pending after a second is given up; the next tick tries again.
            if !connected && now - opened > 1000 {
                self.drop_link(link);
                continue;
            }
            // Silent for half the timeout on a link older than the ping: the link may be dead without an
            // error; a new one is made (and greeted at once, keeping the ping's time).
            if ping_sent != 0 && now - ping_sent > timeout / 2 && opened < ping_sent {
                self.drop_link(link);
                continue;
            }
            if !connected {
                continue;
            }
            let kind: Option<&[u8]> = if meet {
                Some(b"MEET")
            } else if !greeted || (ping_sent == 0 && now - pong_recv >= PING_EVERY_MS) {
                Some(b"PING")
            } else {
                None
            };
            if let Some(kind) = kind {
                self.send_header(c, link, kind);
                if let Some(l) = self.links.get_mut(link) {
                    l.greeted = true;
                }
                if let Some(n) = c.nodes.get_mut(&id) {
                    n.meet = false;
                    if n.ping_sent == 0 {
                        n.ping_sent = now;
                    }
                }
            }
            self.flush(link, registry);
        }
        self.send_outbox(srv, registry);
    }

    /// Sends what commands queued for every peer (`PUBLISH`); called every tick.
    pub fn send_outbox(&mut self, srv: &mut Server, registry: &Registry) {
        let Some(c) = srv.cluster.as_mut() else { return };
        if std::mem::take(&mut c.broadcast) {
            // A new role or slots: every peer hears it now rather than at its next ping.
            let links: Vec<usize> = self.outbound.values().copied().collect();
            for l in links {
                if self.links.get(l).is_some_and(|l| l.connected) {
                    self.send_header(c, l, b"PING");
                    self.flush(l, registry);
                }
            }
        }
        for (peer, msg) in std::mem::take(&mut c.outbox_to) {
            match self
                .outbound
                .get(&peer)
                .copied()
                .filter(|&l| self.links.get(l).is_some_and(|l| l.connected))
            {
                Some(l) => {
                    if let Some(link) = self.links.get_mut(l) {
                        link.wbuf.extend_from_slice(&msg);
                    }
                    self.flush(l, registry);
                }
                None => self.waiting.entry(peer).or_default().extend_from_slice(&msg),
            }
        }
        let outbox = std::mem::take(&mut c.outbox);
        if outbox.is_empty() {
            return;
        }
        let peers: Vec<NodeId> =
            c.nodes.values().filter(|n| n.id != c.myself && !n.handshake()).map(|n| n.id.clone()).collect();
        for peer in peers {
            let link =
                self.outbound.get(&peer).copied().filter(|&l| self.links.get(l).is_some_and(|l| l.connected));
            match link {
                Some(l) => {
                    if let Some(link) = self.links.get_mut(l) {
                        outbox.iter().for_each(|m| link.wbuf.extend_from_slice(m));
                    }
                    self.flush(l, registry);
                }
                None => {
                    // The link is (re)connecting: keep the messages for it, up to a bound.
                    let waiting = self.waiting.entry(peer).or_default();
                    for m in &outbox {
                        if waiting.len() + m.len() <= MAX_WAITING {
                            waiting.extend_from_slice(m);
                        }
                    }
                }
            }
        }
    }

    fn connect(&mut self, registry: &Registry, id: &str, ip: &str, cport: u16) -> Option<usize> {
        let addr: SocketAddr =
            format!("{ip}:{cport}").parse().or_else(|_| format!("[{ip}]:{cport}").parse()).ok()?;
        let mut stream = TcpStream::connect(addr).ok()?;
        let _ = stream.set_nodelay(true);
        let entry = self.links.vacant_entry();
        let key = entry.key();
        registry
            .register(&mut stream, Token(LINK_BASE + key), Interest::READABLE | Interest::WRITABLE)
            .ok()?;
        entry.insert(Link {
            stream,
            node: Some(id.to_string()),
            outbound: true,
            connected: false,
            rbuf: Vec::new(),
            wbuf: Vec::new(),
            peer: addr,
            local: None,
            opened: crate::net::now_ms(),
            greeted: false,
        });
        self.outbound.insert(id.to_string(), key);
        Some(key)
    }
}

/// The sender's claims: each slot it claims goes to it unless the current owner has a newer or equal
/// epoch (or this node is importing the slot: the migration decides). Returns an owner whose claim beats
/// the sender's, if any, so the sender can be told.
fn claim_slots(c: &mut Cluster, sender: &str, epoch: u64, bits: &[u8]) -> Option<NodeId> {
    let mut stale = None;
    for s in 0..SLOT_COUNT {
        if !has_slot(bits, s) {
            continue;
        }
        // Compared in place: every header claims all of its sender's slots again, and they are almost
        // always the sender's already.
        if c.owner(s).is_some_and(|o| o == sender) || c.importing.contains_key(&(s as u16)) {
            continue;
        }
        let owner = c.owner(s).cloned();
        let owner_epoch = owner.as_ref().and_then(|o| c.nodes.get(o)).map(|n| n.config_epoch);
        match owner_epoch {
            Some(e) if e >= epoch => {
                stale = owner;
            }
            _ => {
                if owner.as_deref() == Some(c.myself.as_str()) {
                    tracing::info!("Slot {s} now served by {sender} (config epoch {epoch})");
                    c.migrating.remove(&(s as u16));
                    c.lost.push(s as u16);
                }
                c.set_owner(s, Some(sender.to_string()));
                c.dirty = true;
            }
        }
    }
    stale
}

/// `cluster-node-timeout` in ms.
pub fn node_timeout(config: &crate::config::Config) -> i64 {
    config.get("cluster-node-timeout").and_then(|v| v.parse().ok()).unwrap_or(15000)
}

fn has_any_slot(bits: &[u8]) -> bool {
    bits.iter().any(|&b| b != 0)
}

/// `fail?` becomes `fail` once a majority of the masters that serve slots report it (this node counts
/// itself if it is one), as in Redis; every node is then told with a `FAIL` message.
fn mark_fail_if_agreed(c: &mut Cluster, id: &str, now: i64, timeout: i64) {
    // Called for every gossip entry of every message: the cheap test first, the counts (a walk of all
    // slots) only for a node some report says is failing.
    if !c.nodes.get(id).is_some_and(|n| n.has_flag("fail?") && !n.has_flag("fail")) {
        return;
    }
    let me_votes = c.me().is_some_and(|m| m.has_flag("master")) && c.owns_any();
    let needed = c.voters() / 2 + 1;
    let Some(n) = c.nodes.get_mut(id) else { return };
    n.fail_reports.retain(|_, at| now - *at <= timeout * 2);
    let votes = n.fail_reports.len() + usize::from(me_votes);
    if votes < needed {
        return;
    }
    n.flags.retain(|f| f != "fail?");
    n.flags.push("fail".into());
    c.dirty = true;
    tracing::info!("Marking node {id} as failing: {votes} of {needed} needed masters agree");
    let mut msg = Vec::new();
    encode_command(&mut msg, &[b"FAIL", id.as_bytes()]);
    c.outbox.push(msg);
}

/// Two masters with the same config epoch: the one with the smaller id takes a new epoch (Redis's rule),
/// so slot claims are never tied.
fn epoch_collision(c: &mut Cluster, sender: &str, epoch: u64) {
    let mine = c.me().map_or(0, |m| m.config_epoch);
    if epoch != mine || c.myself.as_str() >= sender {
        return;
    }
    c.current_epoch += 1;
    let new = c.current_epoch;
    if let Some(me) = c.me_mut() {
        me.config_epoch = new;
    }
    c.dirty = true;
    tracing::info!("Config epoch collision with {sender}: my config epoch is now {new}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use proptest::prelude::*;

    /// A node with a bus and one inbound link from a test peer.
    fn setup() -> (Server, Bus, mio::Poll, std::net::TcpStream, usize) {
        let poll = mio::Poll::new().unwrap();
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut bus = Bus::bind(&[addr], poll.registry(), Token(1)).unwrap();
        let peer = std::net::TcpStream::connect(bus.listener.local_addr().unwrap()).unwrap();
        for _ in 0..200 {
            bus.accept(poll.registry());
            if !bus.links.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let link = bus.links.iter().next().map(|(k, _)| k).unwrap();
        let mut srv = Server::new(Config::default(), 0);
        srv.cluster = Some(Cluster::fresh(7000, 17000, "127.0.0.1"));
        (srv, bus, poll, peer, link)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever a peer sends (any message kind, any fields, a valid or invalid sender id), the node
        /// neither panics nor loses itself or its slots' consistency.
        #[test]
        fn random_bus_messages_are_harmless(
            msgs in prop::collection::vec(
                (0..6usize, "[0-9a-f]{40}", prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..24)),
                1..24,
            ),
        ) {
            let (mut srv, mut bus, _poll, _peer, link) = setup();
            let kinds: [&[u8]; 6] = [b"PING", b"PONG", b"MEET", b"UPDATE", b"FAIL", b"PUBLISH"];
            for (kind, id, fields) in &msgs {
                let mut argv: Vec<&[u8]> = vec![kinds[*kind], id.as_bytes()];
                argv.extend(fields.iter().map(Vec::as_slice));
                bus.handle(&mut srv, link, &argv, None, 1000);
                // A full-size bitmap claiming everything, from the same sender.
                let bits = vec![0xffu8; SLOT_COUNT / 8];
                let claim: Vec<&[u8]> =
                    vec![b"MEET", id.as_bytes(), b"", b"7001", b"17001", b"1", b"1", b"master", b"s", &bits, b""];
                bus.handle(&mut srv, link, &claim, None, 1000);
            }
            let c = srv.cluster.as_mut().unwrap();
            prop_assert!(c.nodes.contains_key(&c.myself));
            for owner in c.slots().iter().flatten() {
                prop_assert!(c.nodes.contains_key(owner), "slot owned by unknown node {}", owner);
            }
        }
    }
}
