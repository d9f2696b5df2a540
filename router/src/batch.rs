//! The fast path: the commands of one client read that go straight to the slot owners. Consecutive
//! forwardable commands collect here; at the end of the read (or before a command the router answers
//! itself) they go out as one request per node, all nodes at once, and the replies are written back in the
//! client's order.
//!
//! Commands are forwarded as the client's own bytes (multibulk requests need no re-encoding). A multi-key
//! command whose keys span slots (`MGET`, `MSET`, `DEL`, `UNLINK`, `EXISTS`, `TOUCH`) becomes one
//! sub-command per slot, pipelined with the rest, and its replies are merged as the command table says.
//! A reply that is a redirect or a transient error (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`,
//! `LOADING`), or a node that could not be reached, sends that one sub-command through the cluster client
//! (which follows redirects and retries), and the slot map is refreshed.

use crate::resp;
use crate::state::{Router, Topology};
use slotkv_client::raw::{RawReceiver, RawReplies};
use slotkv_client::{Cmd, Error, ReadFrom};
use slotkv_proto::request::{parse_request, Args, Limits, Parsed};
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// How the replies of a split command combine (the command table's merge flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    Sum,
    AllOk,
    Keys,
}

const UNROUTED: u32 = u32::MAX;

/// Where a sub-command's bytes are.
#[derive(Debug, Clone)]
enum Src {
    /// In the client's read buffer (a multibulk request forwarded as is).
    Client(Range<usize>),
    /// In the batch's scratch buffer (an inline request re-encoded, a part of a split command).
    Scratch(Range<usize>),
}

struct Sub {
    /// The group (node) it went to, or `UNROUTED` when no node is known for its slot.
    group: u32,
    /// Its index among the group's replies.
    index: u32,
    src: Src,
    /// For a part of a split `MGET`: which of the command's keys it holds (a range of `positions`).
    keys: Range<u32>,
}

enum Item {
    One(u32),
    Split { merge: Merge, subs: Range<u32>, keys: u32 },
}

struct Group {
    node: u16,
    bytes: Vec<u8>,
    count: u32,
}

/// The commands waiting to go out, reused from read to read.
#[derive(Default)]
pub struct Batch {
    groups: Vec<Group>,
    subs: Vec<Sub>,
    items: Vec<Item>,
    scratch: Vec<u8>,
    positions: Vec<u32>,
    /// (slot, key number) of a command being split, reused.
    split_keys: Vec<(u16, u32)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    fn add_sub(
        &mut self,
        topo: &Topology,
        slot: Option<u16>,
        src: Src,
        bytes: &[u8],
        keys: Range<u32>,
        read: ReadFrom,
    ) -> u32 {
        let node = match slot {
            Some(s) if read != ReadFrom::Primary => topo.reader(s, read),
            Some(s) => topo.owner(s),
            None => (!topo.nodes.is_empty()).then_some(0),
        };
        let (group, index) = match node {
            Some(node) => {
                let node = node as u16;
                let g = match self.groups.iter().position(|g| g.node == node) {
                    Some(g) => g,
                    None => {
                        self.groups.push(Group {
                            node,
                            bytes: Vec::with_capacity(bytes.len().max(256)),
                            count: 0,
                        });
                        self.groups.len() - 1
                    }
                };
                let group = &mut self.groups[g];
                group.bytes.extend_from_slice(bytes);
                group.count += 1;
                (g as u32, group.count - 1)
            }
            None => (UNROUTED, 0),
        };
        self.subs.push(Sub { group, index, src, keys });
        (self.subs.len() - 1) as u32
    }

    /// Adds a command that goes whole to the owner of `slot` (`None`: a keyless command, to any node),
    /// or for a read (`read` other than `Primary`) to one of its replicas. `raw` is the client's request
    /// as it arrived (`range` in the read buffer), or `None` for an inline request, which is re-encoded
    /// from `argv`.
    pub fn forward(
        &mut self,
        topo: &Topology,
        slot: Option<u16>,
        argv: &[&[u8]],
        raw: Option<(&[u8], Range<usize>)>,
        read: ReadFrom,
    ) {
        let sub = match raw {
            Some((bytes, range)) => self.add_sub(topo, slot, Src::Client(range), bytes, 0..0, read),
            None => {
                let start = self.scratch.len();
                slotkv_proto::encode_command(argv, &mut self.scratch);
                let end = self.scratch.len();
                let bytes = std::mem::take(&mut self.scratch);
                let sub = self.add_sub(
                    topo,
                    slot,
                    Src::Scratch(start..end),
                    bytes.get(start..end).unwrap_or_default(),
                    0..0,
                    read,
                );
                self.scratch = bytes;
                sub
            }
        };
        self.items.push(Item::One(sub));
    }

    /// Adds a multi-key command split by slot: keys at `first`, `first + step`...; each part keeps its
    /// keys' following arguments (`MSET`'s values). `read` as in [`Batch::forward`].
    pub fn split(
        &mut self,
        topo: &Topology,
        merge: Merge,
        argv: &[&[u8]],
        (first, step): (usize, usize),
        read: ReadFrom,
    ) {
        let name = argv.first().copied().unwrap_or_default();
        let mut keys = std::mem::take(&mut self.split_keys);
        keys.clear();
        for (n, i) in (first..argv.len()).step_by(step.max(1)).enumerate() {
            let key = argv.get(i).copied().unwrap_or_default();
            keys.push((slotkv_proto::key_slot(key), n as u32));
        }
        keys.sort_by_key(|&(slot, n)| (slot, n));
        let first_sub = self.subs.len() as u32;
        let mut at = 0;
        while at < keys.len() {
            let slot = keys[at].0;
            let end = at + keys[at..].iter().take_while(|(s, _)| *s == slot).count();
            let part = &keys[at..end];
            let start = self.scratch.len();
            resp::header(&mut self.scratch, b'*', 1 + part.len() * step);
            resp::write_bulk(&mut self.scratch, name);
            let pos_start = self.positions.len() as u32;
            for &(_, n) in part {
                let i = first + n as usize * step;
                for a in argv.get(i..i + step).unwrap_or_default() {
                    resp::write_bulk(&mut self.scratch, a);
                }
                self.positions.push(n);
            }
            let end_at = self.scratch.len();
            let pos_end = self.positions.len() as u32;
            let bytes = std::mem::take(&mut self.scratch);
            self.add_sub(
                topo,
                Some(slot),
                Src::Scratch(start..end_at),
                bytes.get(start..end_at).unwrap_or_default(),
                pos_start..pos_end,
                read,
            );
            self.scratch = bytes;
            at = end;
        }
        let total = keys.len() as u32;
        self.split_keys = keys;
        self.items.push(Item::Split { merge, subs: first_sub..self.subs.len() as u32, keys: total });
    }

    fn clear(&mut self) {
        self.groups.clear();
        self.subs.clear();
        self.items.clear();
        self.scratch.clear();
        self.positions.clear();
    }

    /// Sends everything, waits for the replies and appends them to `out` in order. `buf` is the client's
    /// read buffer the `Src::Client` ranges point into.
    pub async fn flush(
        &mut self,
        router: &Router,
        topo: &Topology,
        resp3: bool,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) {
        if self.items.is_empty() {
            return;
        }
        let started = Instant::now();
        let mut waits: Vec<Result<RawReceiver, Error>> = Vec::with_capacity(self.groups.len());
        for g in &mut self.groups {
            let Some(backend) = topo.backend(usize::from(g.node)) else {
                waits.push(Err(Error::Io("no such node".into())));
                continue;
            };
            backend.ops.fetch_add(u64::from(g.count), Ordering::Relaxed);
            let sent = match router.conn(backend, resp3).await {
                Ok(conn) => conn.send(std::mem::take(&mut g.bytes), g.count as usize),
                Err(e) => Err(e),
            };
            waits.push(sent);
        }
        let mut results: Vec<Result<RawReplies, Error>> = Vec::with_capacity(waits.len());
        for (g, w) in self.groups.iter().zip(waits) {
            let r = match w {
                Ok(rx) => rx.await.unwrap_or_else(|_| Err(Error::Io("connection closed".into()))),
                Err(e) => Err(e),
            };
            if let Some(backend) = topo.backend(usize::from(g.node)) {
                backend.wait_us.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                backend.batches.fetch_add(1, Ordering::Relaxed);
                if r.is_err() {
                    backend.errors.fetch_add(1, Ordering::Relaxed);
                    backend.note_failure();
                }
            }
            results.push(r);
        }
        let items = std::mem::take(&mut self.items);
        for item in &items {
            match item {
                Item::One(sub) => {
                    let reply = self.reply(router, &results, *sub, resp3, buf).await;
                    out.extend_from_slice(reply.as_ref());
                }
                Item::Split { merge, subs, keys } => {
                    let mut replies = Vec::with_capacity(subs.len());
                    for sub in subs.clone() {
                        replies.push(self.reply(router, &results, sub, resp3, buf).await);
                    }
                    self.merge(*merge, subs.clone(), *keys, &replies, resp3, out);
                }
            }
        }
        self.items = items;
        self.clear();
    }

    /// One sub-command's reply: the node's, or (after a redirect, a transient error or a lost node) the
    /// cluster client's.
    async fn reply<'a>(
        &self,
        router: &Router,
        results: &'a [Result<RawReplies, Error>],
        sub: u32,
        resp3: bool,
        buf: &[u8],
    ) -> Reply<'a> {
        let Some(s) = self.subs.get(sub as usize) else {
            return Reply::Owned(b"-ERR internal: lost sub-command\r\n".to_vec());
        };
        let direct =
            results.get(s.group as usize).and_then(|r| r.as_ref().ok()).and_then(|r| r.get(s.index as usize));
        if let Some(reply) = direct {
            if !resp::is_redirect(reply) {
                return Reply::Borrowed(reply);
            }
        }
        tracing::debug!(
            group = s.group,
            index = s.index,
            reply = ?direct.map(String::from_utf8_lossy),
            failed = ?results.get(s.group as usize).map(|r| r.as_ref().err()),
            "slow path"
        );
        let bytes = match &s.src {
            Src::Client(r) => buf.get(r.clone()),
            Src::Scratch(r) => self.scratch.get(r.clone()),
        };
        Reply::Owned(slow_path(router, bytes.unwrap_or_default(), resp3).await)
    }

    fn merge(
        &self,
        merge: Merge,
        subs: Range<u32>,
        keys: u32,
        replies: &[Reply<'_>],
        resp3: bool,
        out: &mut Vec<u8>,
    ) {
        if let Some(err) = replies.iter().find(|r| resp::is_error(r.as_ref())) {
            out.extend_from_slice(err.as_ref());
            return;
        }
        match merge {
            Merge::Sum => {
                let total: i64 = replies.iter().filter_map(|r| resp::int(r.as_ref())).sum();
                resp::write_int(out, total);
            }
            Merge::AllOk => out.extend_from_slice(b"+OK\r\n"),
            Merge::Keys => {
                let mut values: Vec<&[u8]> = vec![if resp3 { b"_\r\n" } else { b"$-1\r\n" }; keys as usize];
                for (sub, reply) in subs.zip(replies) {
                    let Some(s) = self.subs.get(sub as usize) else { continue };
                    let Some(items) = resp::items(reply.as_ref()) else {
                        resp::write_error(out, "ERR a node's reply to a split command was not an array");
                        return;
                    };
                    let positions =
                        self.positions.get(s.keys.start as usize..s.keys.end as usize).unwrap_or_default();
                    for (&pos, item) in positions.iter().zip(items) {
                        if let Some(v) = values.get_mut(pos as usize) {
                            *v = item;
                        }
                    }
                }
                resp::header(out, b'*', values.len());
                for v in values {
                    out.extend_from_slice(v);
                }
            }
        }
    }
}

/// A reply borrowed from a node's batch, or made for it.
pub enum Reply<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Reply<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Reply::Borrowed(b) => b,
            Reply::Owned(v) => v,
        }
    }
}

/// Sends one encoded command through the cluster client (redirects followed, transient errors retried
/// with backoff), and returns its reply encoded for a client of protocol `resp3`.
pub async fn slow_path(router: &Router, bytes: &[u8], resp3: bool) -> Vec<u8> {
    router.stats.redirects.fetch_add(1, Ordering::Relaxed);
    router.mark_stale();
    let mut args = Args::new();
    let mut out = Vec::new();
    match parse_request(bytes, &Limits::default(), &mut args) {
        Ok(Parsed::Complete(_)) => {}
        _ => {
            resp::write_error(&mut out, "ERR internal: cannot re-read a forwarded command");
            return out;
        }
    }
    let mut argv: Vec<&[u8]> = Vec::with_capacity(args.len());
    args.slices(bytes, &mut argv);
    let cmd = Cmd::from_args(argv.iter().map(|a| a.to_vec()).collect());
    match router.client(resp3).send(&cmd).await {
        Ok(frame) if resp3 => frame.encode(&mut out),
        Ok(frame) => frame.encode_resp2(&mut out),
        Err(Error::Server { message, .. }) => resp::write_error(&mut out, &message),
        Err(e) => {
            router.stats.errors.fetch_add(1, Ordering::Relaxed);
            resp::write_error(&mut out, &format!("CLUSTERDOWN slotkv-router: {e}"));
        }
    }
    out
}
