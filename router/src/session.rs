//! One client connection: read everything the socket has, parse every complete command, forward the
//! plain ones through the [`Batch`] (one request per node), answer the rest here (connection state,
//! fan-out, transactions, blocking commands, pub/sub), and write all the replies with one write.

use crate::batch::{Batch, Merge};
use crate::pubsub::Subs;
use crate::resp;
use crate::state::{ClientEntry, Router, Topology};
use crate::tx::Tx;
use slotkv_client::ReadFrom;
use slotkv_proto::command::{flags, CommandId, CommandSpec};
use slotkv_proto::request::{parse_request, Args, Limits, Parsed};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Commands forwarded in one batch at most (a huge pipeline is answered in pieces).
const MAX_BATCH: usize = 4096;
/// Replies buffered before they are written even though the read is not finished.
const MAX_OUT: usize = 1 << 20;

pub struct Session {
    pub router: Arc<Router>,
    pub entry: Arc<ClientEntry>,
    pub resp3: bool,
    pub authed: bool,
    pub topo: Arc<Topology>,
    pub batch: Batch,
    pub out: Vec<u8>,
    pub tx: Tx,
    pub subs: Option<Subs>,
    /// Close after writing the replies (`QUIT`, protocol error).
    pub quit: bool,
    limits: Limits,
}

/// What to do with a command.
enum Route {
    /// Straight to the owner of this slot (`None`: keyless, to any node).
    Forward(Option<u16>),
    /// Split by slot and merged.
    Split(Merge, usize, usize),
    /// Answered by the router.
    Local,
}

/// Serves one client until it leaves or is killed (`CLIENT KILL`, or the router shutting down).
pub async fn serve(router: Arc<Router>, mut stream: TcpStream, entry: Arc<ClientEntry>) {
    let _ = stream.set_nodelay(true);
    let topo = router.topology();
    let mut s = Session {
        authed: router.config.requirepass.is_none(),
        router,
        entry,
        resp3: false,
        topo,
        batch: Batch::default(),
        out: Vec::with_capacity(16 * 1024),
        tx: Tx::default(),
        subs: None,
        quit: false,
        limits: Limits::default(),
    };
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let n = if let Some(subs) = s.subs.as_mut() {
            tokio::select! {
                biased;
                r = stream.read_buf(&mut buf) => r,
                frame = subs.next_frame() => {
                    let frame = frame.unwrap_or_else(|| b"-ERR slotkv-router: lost the subscription connection\r\n".to_vec());
                    s.on_push(&frame);
                    if stream.write_all(&s.out).await.is_err() { break; }
                    s.out.clear();
                    continue;
                }
                _ = s.entry.killed() => break,
            }
        } else {
            // Biased, the read first: when data is there, the kill signal is never polled.
            tokio::select! {
                biased;
                r = stream.read_buf(&mut buf) => r,
                _ = s.entry.killed() => break,
            }
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                s.router.stats.net_input.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        if s.entry.killed.load(Ordering::Relaxed) {
            break;
        }
        let used = s.process(&buf, &mut stream).await;
        buf.drain(..used.min(buf.len()));
        if !s.out.is_empty() {
            s.router.stats.net_output.fetch_add(s.out.len() as u64, Ordering::Relaxed);
            if stream.write_all(&s.out).await.is_err() {
                break;
            }
            s.out.clear();
            if s.out.capacity() > 4 * MAX_OUT {
                s.out = Vec::with_capacity(16 * 1024);
            }
        }
        if s.quit {
            break;
        }
        if buf.len() > s.router.config.max_query_buffer {
            tracing::warn!(client = s.entry.id, "query buffer over the limit: closing the client");
            break;
        }
    }
    s.close();
}

impl Session {
    /// Handles every complete command in `buf`; returns how many bytes were used.
    async fn process(&mut self, buf: &[u8], stream: &mut TcpStream) -> usize {
        if self.topo.version != self.router.topology_version() {
            self.topo = self.router.topology();
        }
        let mut pos = 0;
        let mut args = Args::new();
        while !self.quit {
            let rest = buf.get(pos..).unwrap_or_default();
            let n = match parse_request(rest, &self.limits, &mut args) {
                Ok(Parsed::Complete(n)) => n,
                Ok(Parsed::Incomplete(_)) => break,
                Err(e) => {
                    self.flush(buf).await;
                    resp::write_error(&mut self.out, &format!("ERR {e}"));
                    self.quit = true;
                    break;
                }
            };
            let range = pos..pos + n;
            pos += n;
            if args.is_empty() {
                continue;
            }
            let mut argv: Vec<&[u8]> = Vec::with_capacity(args.len());
            args.slices(rest, &mut argv);
            let raw =
                if rest.first() == Some(&b'*') { buf.get(range.clone()).map(|b| (b, range)) } else { None };
            self.command(&argv, raw, buf, stream).await;
            if self.batch.len() >= MAX_BATCH || self.out.len() >= MAX_OUT {
                self.flush(buf).await;
                if !self.out.is_empty() {
                    if stream.write_all(&self.out).await.is_err() {
                        self.quit = true;
                    }
                    self.out.clear();
                }
            }
        }
        self.flush(buf).await;
        pos
    }

    pub async fn flush(&mut self, buf: &[u8]) {
        if !self.batch.is_empty() {
            self.batch.flush(&self.router, &self.topo, self.resp3, buf, &mut self.out).await;
        }
    }

    /// One command: checks, then the fast path or the router's own handling.
    async fn command(
        &mut self,
        argv: &[&[u8]],
        raw: Option<(&[u8], std::ops::Range<usize>)>,
        buf: &[u8],
        stream: &mut TcpStream,
    ) {
        self.router.stats.commands.fetch_add(1, Ordering::Relaxed);
        let name = argv.first().copied().unwrap_or_default();
        let spec = slotkv_proto::lookup(name);
        if !self.authed
            && !spec.is_some_and(|s| {
                matches!(s.id, CommandId::Auth | CommandId::Hello | CommandId::Quit | CommandId::Reset)
            })
        {
            self.flush(buf).await;
            resp::write_error(&mut self.out, "NOAUTH Authentication required.");
            return;
        }
        if self.tx.active() || self.subs.is_some() || self.entry_dirty() {
            self.flush(buf).await;
            self.note_command(spec, argv);
            if self.tx.active()
                && !spec.is_some_and(|s| {
                    matches!(
                        s.id,
                        CommandId::Exec
                            | CommandId::Discard
                            | CommandId::Multi
                            | CommandId::Watch
                            | CommandId::Quit
                            | CommandId::Reset
                    )
                })
            {
                self.tx_command(spec, argv).await;
                return;
            }
            if let Some(subs) = &self.subs {
                if !self.resp3 && subs.active() && !spec.is_some_and(|s| is_subscribed_ok(s.id)) {
                    let shown = String::from_utf8_lossy(name).to_lowercase();
                    resp::write_error(&mut self.out, &format!("ERR Can't execute '{shown}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"));
                    return;
                }
            }
        }
        let Some(spec) = spec else {
            // Unknown here: the node gives the exact error.
            self.batch.forward(&self.topo, None, argv, raw, ReadFrom::Primary);
            return;
        };
        let read = self.router.config.read_from;
        let read = if read != ReadFrom::Primary && is_read(spec, argv) { read } else { ReadFrom::Primary };
        match route(spec, argv) {
            Route::Forward(slot) => self.batch.forward(&self.topo, slot, argv, raw, read),
            Route::Split(merge, first, step) => {
                self.batch.split(&self.topo, merge, argv, (first, step), read)
            }
            Route::Local => {
                self.flush(buf).await;
                self.note_command(Some(spec), argv);
                self.local(spec, argv, stream).await;
            }
        }
    }

    /// Whether `CLIENT LIST` needs this command noted (only named or inspected clients pay for it).
    fn entry_dirty(&self) -> bool {
        false
    }

    fn note_command(&self, spec: Option<&CommandSpec>, argv: &[&[u8]]) {
        if let Ok(mut info) = self.entry.info.lock() {
            info.last_cmd = match spec {
                Some(s) if s.has(flags::CONTAINER) && argv.len() > 1 => {
                    format!(
                        "{}|{}",
                        s.name,
                        String::from_utf8_lossy(argv.get(1).copied().unwrap_or_default()).to_lowercase()
                    )
                }
                Some(s) => s.name.to_string(),
                None => "NULL".into(),
            };
            info.last_active = Some(Instant::now());
        }
    }

    fn close(&mut self) {
        if let Some(subs) = self.subs.take() {
            subs.close();
        }
        self.router.unregister(self.entry.id);
    }
}

/// Commands a RESP2 client may send while subscribed.
fn is_subscribed_ok(id: CommandId) -> bool {
    matches!(
        id,
        CommandId::Subscribe
            | CommandId::PSubscribe
            | CommandId::SSubscribe
            | CommandId::Unsubscribe
            | CommandId::PUnsubscribe
            | CommandId::SUnsubscribe
            | CommandId::Ping
            | CommandId::Quit
            | CommandId::Reset
    )
}

/// Decides where a command goes.
fn route(spec: &CommandSpec, argv: &[&[u8]]) -> Route {
    use CommandId as C;
    match spec.id {
        C::Hello
        | C::Auth
        | C::Select
        | C::Quit
        | C::Reset
        | C::Ping
        | C::Echo
        | C::Client
        | C::Cluster
        | C::Info
        | C::DbSize
        | C::Keys
        | C::Scan
        | C::RandomKey
        | C::FlushAll
        | C::FlushDb
        | C::Multi
        | C::Exec
        | C::Discard
        | C::Watch
        | C::Unwatch
        | C::Subscribe
        | C::PSubscribe
        | C::SSubscribe
        | C::Unsubscribe
        | C::PUnsubscribe
        | C::SUnsubscribe
        | C::ReadOnly
        | C::ReadWrite
        | C::Asking
        | C::Shutdown
        | C::Config
        | C::Save
        | C::BgSave
        | C::BgRewriteAof
        | C::SlotKv => return Route::Local,
        // Loading, flushing and asking about scripts concerns every node's cache.
        C::Script
            if argv.get(1).is_some_and(|s| {
                ["load", "flush", "exists"].iter().any(|w| s.eq_ignore_ascii_case(w.as_bytes()))
            }) =>
        {
            return Route::Local
        }
        _ => {}
    }
    if spec.has(flags::BLOCKING) {
        return Route::Local;
    }
    if !spec.arity_ok(argv.len()) {
        // The node answers with the exact arity error.
        return Route::Forward(None);
    }
    let merge = if spec.has(flags::MERGE_SUM) {
        Some(Merge::Sum)
    } else if spec.has(flags::MERGE_KEYS) {
        Some(Merge::Keys)
    } else if spec.has(flags::MERGE_ALL_OK) {
        Some(Merge::AllOk)
    } else {
        None
    };
    if let Some(merge) = merge {
        let first = spec.first_key.max(1) as usize;
        let step = spec.step.max(1) as usize;
        if !(argv.len() - first).is_multiple_of(step) {
            return Route::Forward(None);
        }
        let mut slots = (first..argv.len())
            .step_by(step)
            .map(|i| slotkv_proto::key_slot(argv.get(i).copied().unwrap_or_default()));
        let Some(one) = slots.next() else { return Route::Forward(None) };
        if slots.all(|s| s == one) {
            return Route::Forward(Some(one));
        }
        return Route::Split(merge, first, step);
    }
    Route::Forward(first_key_slot(spec, argv))
}

/// Whether a replica may serve the command: read-only (of the subcommand, for containers) and not
/// blocking.
fn is_read(spec: &CommandSpec, argv: &[&[u8]]) -> bool {
    let spec = match argv.get(1) {
        Some(sub) if spec.has(flags::CONTAINER) => slotkv_proto::lookup_sub(spec, sub).unwrap_or(spec),
        _ => spec,
    };
    spec.has(flags::READONLY) && !spec.has(flags::BLOCKING)
}

/// The slot of a command's first key; `None` for a keyless command.
pub fn first_key_slot(spec: &CommandSpec, argv: &[&[u8]]) -> Option<u16> {
    let spec = if spec.has(flags::CONTAINER) {
        argv.get(1).and_then(|sub| slotkv_proto::lookup_sub(spec, sub)).unwrap_or(spec)
    } else {
        spec
    };
    let first = if spec.has(flags::MOVABLE_KEYS) {
        spec.keys_in(argv)?.into_iter().next()?
    } else {
        spec.key_indexes(argv.len()).next()?
    };
    argv.get(first).map(|k| slotkv_proto::key_slot(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_of(args: &[&str]) -> String {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let spec = slotkv_proto::lookup(argv[0]).unwrap();
        match route(spec, &argv) {
            Route::Forward(slot) => format!("forward {slot:?}"),
            Route::Split(m, first, step) => format!("split {m:?} {first} {step}"),
            Route::Local => "local".into(),
        }
    }

    #[test]
    fn routes() {
        assert_eq!(route_of(&["GET", "somekey"]), "forward Some(11058)");
        assert_eq!(
            route_of(&["MGET", "{a}1", "{a}2"]),
            format!("forward Some({})", slotkv_proto::key_slot(b"a"))
        );
        assert_eq!(route_of(&["MGET", "a", "b"]), "split Keys 1 1");
        assert_eq!(route_of(&["MSET", "a", "1", "b", "2"]), "split AllOk 1 2");
        assert_eq!(route_of(&["MSET", "a", "1", "b"]), "forward None");
        assert_eq!(route_of(&["DEL", "a", "b"]), "split Sum 1 1");
        assert_eq!(
            route_of(&["MSETNX", "a", "1", "b", "2"]),
            format!("forward Some({})", slotkv_proto::key_slot(b"a"))
        );
        assert_eq!(route_of(&["ZUNIONSTORE", "somekey", "2", "a", "b"]), "forward Some(11058)");
        assert_eq!(route_of(&["BLPOP", "a", "0"]), "local");
        assert_eq!(route_of(&["PUBLISH", "c", "m"]), "forward None");
        assert_eq!(route_of(&["SPUBLISH", "somekey", "m"]), "forward Some(11058)");
        assert_eq!(route_of(&["OBJECT", "ENCODING", "somekey"]), "forward Some(11058)");
        assert_eq!(route_of(&["GET"]), "forward None");
    }
}
