//! Pub/sub for one client. `SUBSCRIBE`/`PSUBSCRIBE` go to one node on a dedicated connection (every node
//! sees every `PUBLISH`: the cluster bus forwards them); `SSUBSCRIBE` goes to the owner of the shard
//! channel's slot, one dedicated connection per node. Whatever those connections send (confirmations and
//! messages, in the client's protocol) is relayed to the client as is. After each (un)subscribe command the
//! session waits for its confirmations, so replies stay in the order of the commands.

use crate::resp;
use crate::session::Session;
use slotkv_client::raw::frame_len;
use std::collections::HashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One dedicated subscription connection: its write half here, its read half in a relay task.
struct Link {
    addr: String,
    write: OwnedWriteHalf,
    relay: JoinHandle<()>,
}

pub struct Subs {
    /// `links[0]` (when present) is the SUBSCRIBE/PSUBSCRIBE connection; the others are shard links.
    main: Option<usize>,
    links: Vec<Link>,
    frames: mpsc::UnboundedReceiver<(usize, Vec<u8>)>,
    frames_tx: mpsc::UnboundedSender<(usize, Vec<u8>)>,
    channels: HashMap<Vec<u8>, ()>,
    patterns: HashMap<Vec<u8>, ()>,
    /// Shard channel -> link index.
    shard: HashMap<Vec<u8>, usize>,
}

impl Subs {
    fn new() -> Subs {
        let (frames_tx, frames) = mpsc::unbounded_channel();
        Subs {
            main: None,
            links: Vec::new(),
            frames,
            frames_tx,
            channels: HashMap::new(),
            patterns: HashMap::new(),
            shard: HashMap::new(),
        }
    }

    /// Subscribed to anything (RESP2 clients may then only send pub/sub commands).
    pub fn active(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard.is_empty()
    }

    /// The next frame a subscription connection sent; `None` if one failed.
    pub async fn next_frame(&mut self) -> Option<Vec<u8>> {
        self.frames.recv().await.map(|(_, f)| f).filter(|f| !f.is_empty())
    }

    pub fn close(self) {
        for l in self.links {
            l.relay.abort();
        }
    }

    /// Notes what a confirmation frame says; returns whether it was one.
    fn track(&mut self, link: usize, frame: &[u8]) -> bool {
        let Some(items) = resp::items(frame) else { return false };
        let (Some(kind), Some(name)) = (items.first().and_then(|k| resp::bulk(k)), items.get(1)) else {
            return false;
        };
        let name = resp::bulk(name).map(<[u8]>::to_vec);
        match kind {
            b"subscribe" => {
                self.channels.extend(name.map(|n| (n, ())));
            }
            b"psubscribe" => {
                self.patterns.extend(name.map(|n| (n, ())));
            }
            b"ssubscribe" => {
                self.shard.extend(name.map(|n| (n, link)));
            }
            b"unsubscribe" => {
                if let Some(n) = name {
                    self.channels.remove(&n);
                }
            }
            b"punsubscribe" => {
                if let Some(n) = name {
                    self.patterns.remove(&n);
                }
            }
            b"sunsubscribe" => {
                if let Some(n) = name {
                    self.shard.remove(&n);
                }
            }
            _ => return false,
        }
        true
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        (self.channels.len(), self.patterns.len(), self.shard.len())
    }
}

impl Session {
    /// A frame relayed from a subscription connection, at any time.
    pub fn on_push(&mut self, frame: &[u8]) {
        if let Some(subs) = self.subs.as_mut() {
            subs.track(usize::MAX, frame);
        }
        self.out.extend_from_slice(frame);
        self.update_sub_counts();
    }

    fn update_sub_counts(&self) {
        if let (Some(subs), Ok(mut info)) = (&self.subs, self.entry.info.lock()) {
            (info.sub, info.psub, info.ssub) = subs.counts();
        }
    }

    /// Opens (or finds) the link to `addr`.
    async fn link(&mut self, addr: &str, main: bool) -> Result<usize, String> {
        let subs = self.subs.get_or_insert_with(Subs::new);
        if main {
            if let Some(i) = subs.main {
                return Ok(i);
            }
        } else if let Some(i) = subs.links.iter().position(|l| l.addr == addr) {
            return Ok(i);
        }
        let stream =
            slotkv_client::raw::RawStream::connect_with(addr, &self.router.connect_options(self.resp3))
                .await
                .map_err(|e| format!("CLUSTERDOWN slotkv-router: {e}"))?;
        let (tcp, leftover) = stream.into_parts();
        let (mut read, write) = tcp.into_split();
        let index = subs.links.len();
        let tx = subs.frames_tx.clone();
        let relay = tokio::spawn(async move {
            let mut buf = leftover;
            loop {
                while let Ok(Some(len)) = frame_len(&buf) {
                    let frame = buf.drain(..len).collect();
                    if tx.send((index, frame)).is_err() {
                        return;
                    }
                }
                if buf.capacity() - buf.len() < 4096 {
                    buf.reserve(16 * 1024);
                }
                match read.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => {
                        // An empty frame tells the session the link is gone.
                        let _ = tx.send((index, Vec::new()));
                        return;
                    }
                    Ok(_) => {}
                }
            }
        });
        subs.links.push(Link { addr: addr.to_string(), write, relay });
        if main {
            subs.main = Some(index);
        }
        Ok(index)
    }

    /// Sends a pub/sub command on a link and relays frames until `expect` confirmations came back.
    async fn sub_call(&mut self, link: usize, argv: &[&[u8]], expect: usize) {
        let bytes = crate::tx::encode(argv);
        let Some(subs) = self.subs.as_mut() else { return };
        let Some(l) = subs.links.get_mut(link) else { return };
        if let Err(e) = l.write.write_all(&bytes).await {
            resp::write_error(
                &mut self.out,
                &format!("ERR slotkv-router: subscription connection failed: {e}"),
            );
            return;
        }
        let mut got = 0;
        while got < expect {
            let Some((from, frame)) = subs.frames.recv().await.filter(|(_, f)| !f.is_empty()) else {
                resp::write_error(&mut self.out, "ERR slotkv-router: lost the subscription connection");
                return;
            };
            let is_confirmation = subs.track(from, &frame);
            // A PING answered in subscribed mode is an array too (`pong`), or a plain reply.
            let is_reply = is_confirmation
                || (from == link
                    && resp::items(&frame)
                        .and_then(|i| i.first().and_then(|k| resp::bulk(k)).map(|k| k == b"pong"))
                        .unwrap_or(false))
                || (from == link && !matches!(frame.first(), Some(b'>') | Some(b'*')));
            self.out.extend_from_slice(&frame);
            if from == link && is_reply {
                got += 1;
            }
        }
        self.update_sub_counts();
    }

    /// `SUBSCRIBE`, `PSUBSCRIBE`, `UNSUBSCRIBE`, `PUNSUBSCRIBE`, `PING` in subscribed mode: on the main link.
    pub async fn cmd_sub_main(&mut self, argv: &[&[u8]], no_args_expect: impl Fn(&Subs) -> usize) {
        let Some(first) = self.topo.nodes.first().map(|b| b.addr.to_string()) else {
            resp::write_error(&mut self.out, "CLUSTERDOWN The cluster is down");
            return;
        };
        let link = match self.link(&first, true).await {
            Ok(l) => l,
            Err(e) => return resp::write_error(&mut self.out, &e),
        };
        let expect = if argv.len() > 1 {
            argv.len() - 1
        } else {
            self.subs.as_ref().map(&no_args_expect).unwrap_or(1).max(1)
        };
        self.sub_call(link, argv, expect).await;
    }

    /// `SSUBSCRIBE` (to the owner of the first channel's slot) and `SUNSUBSCRIBE`.
    pub async fn cmd_shard(&mut self, argv: &[&[u8]], subscribe: bool) {
        if argv.len() > 1 {
            let slot = slotkv_proto::key_slot(argv.get(1).copied().unwrap_or_default());
            let addr = if subscribe {
                self.topo.owner(slot).and_then(|i| self.topo.nodes.get(i)).map(|b| b.addr.to_string())
            } else {
                // Unsubscribe where the channel was subscribed.
                let subs = self.subs.as_ref();
                let at = subs.and_then(|s| s.shard.get(argv.get(1).copied().unwrap_or_default()).copied());
                at.and_then(|i| subs.and_then(|s| s.links.get(i)).map(|l| l.addr.clone())).or_else(|| {
                    self.topo.owner(slot).and_then(|i| self.topo.nodes.get(i)).map(|b| b.addr.to_string())
                })
            };
            let Some(addr) = addr else {
                return resp::write_error(&mut self.out, "CLUSTERDOWN Hash slot not served");
            };
            let link = match self.link(&addr, false).await {
                Ok(l) => l,
                Err(e) => return resp::write_error(&mut self.out, &e),
            };
            self.sub_call(link, argv, argv.len() - 1).await;
            return;
        }
        // SUNSUBSCRIBE with no channels: every shard link, each confirming its own channels.
        let links: Vec<(usize, usize)> = match &self.subs {
            Some(s) => {
                let mut per: Vec<(usize, usize)> = Vec::new();
                for &l in s.shard.values() {
                    match per.iter_mut().find(|(i, _)| *i == l) {
                        Some((_, n)) => *n += 1,
                        None => per.push((l, 1)),
                    }
                }
                per
            }
            None => Vec::new(),
        };
        if links.is_empty() {
            // Nothing subscribed: the node's own answer (`sunsubscribe nil 0`) from the main link.
            self.cmd_sub_main(argv, |_| 1).await;
            return;
        }
        for (link, n) in links {
            self.sub_call(link, argv, n).await;
        }
    }

    /// `RESET` and `QUIT`: drop every subscription connection.
    pub fn subs_reset(&mut self) {
        if let Some(subs) = self.subs.take() {
            subs.close();
        }
        self.update_sub_counts();
        if let Ok(mut info) = self.entry.info.lock() {
            (info.sub, info.psub, info.ssub) = (0, 0, 0);
        }
    }
}
