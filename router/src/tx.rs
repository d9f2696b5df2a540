//! `MULTI`/`EXEC`/`WATCH` with Redis Cluster's semantics: a transaction is pinned to the node of its
//! first key, on a dedicated connection (taken when `WATCH` or the first keyed command arrives). The node
//! itself then judges every queued command as a cluster node does: one for a slot it does not serve is
//! answered `-MOVED` and the transaction fails at `EXEC` with `-EXECABORT`, and keys spanning slots fail
//! with `-CROSSSLOT`. Keyless commands queued before the first key wait in the router (checked against
//! the command table) and are replayed on the pinned connection.

use crate::resp;
use crate::session::{first_key_slot, Session};
use slotkv_client::raw::RawStream;
use slotkv_proto::command::{CommandId, CommandSpec};

#[derive(Default)]
pub struct Tx {
    /// The dedicated connection the transaction (or `WATCH`) lives on.
    pinned: Option<RawStream>,
    in_multi: bool,
    /// Keyless commands queued before a node was chosen, encoded.
    pending: Vec<u8>,
    pending_count: usize,
    /// A command was refused while queuing: `EXEC` aborts.
    dirty: bool,
}

impl Tx {
    /// Inside `MULTI` (commands are queued, not run).
    pub fn active(&self) -> bool {
        self.in_multi
    }

    pub fn watching(&self) -> bool {
        self.pinned.is_some()
    }
}

impl Session {
    /// Ends the transaction state; a pinned connection with nothing pending goes back to the pool.
    fn tx_end(&mut self, clean: bool) {
        let tx = std::mem::take(&mut self.tx);
        if let (Some(stream), true) = (tx.pinned, clean) {
            self.router.release(stream, self.resp3);
        }
        self.set_multi(-1);
    }

    fn set_multi(&self, n: i64) {
        if let Ok(mut info) = self.entry.info.lock() {
            info.multi = n;
        }
    }

    /// Sends one command on the pinned connection and copies its reply out; a broken connection ends the
    /// transaction with an error.
    async fn pinned_call(&mut self, bytes: &[u8], replies: usize) -> Option<Vec<u8>> {
        let stream = self.tx.pinned.as_mut()?;
        match stream.call(bytes, replies).await {
            Ok(mut r) => r.pop(),
            Err(e) => {
                self.tx_end(false);
                Some(format!("-ERR slotkv-router: the transaction's node failed: {e}\r\n").into_bytes())
            }
        }
    }

    /// Pins the transaction to the owner of `slot` (or the first node).
    async fn pin(&mut self, slot: Option<u16>) -> Result<(), String> {
        let node = slot.and_then(|s| self.topo.owner(s)).unwrap_or(0);
        let Some(backend) = self.topo.nodes.get(node) else {
            return Err("CLUSTERDOWN Hash slot not served".into());
        };
        let stream = self
            .router
            .dedicated(&backend.addr, self.resp3)
            .await
            .map_err(|e| format!("CLUSTERDOWN slotkv-router: {e}"))?;
        self.tx.pinned = Some(stream);
        Ok(())
    }

    pub async fn cmd_watch(&mut self, argv: &[&[u8]]) {
        if self.tx.in_multi {
            resp::write_error(&mut self.out, "ERR WATCH inside MULTI is not allowed");
            return;
        }
        let bytes = encode(argv);
        if self.tx.pinned.is_none() {
            let slot = slotkv_proto::lookup(b"watch").and_then(|s| first_key_slot(s, argv));
            if let Err(e) = self.pin(slot).await {
                resp::write_error(&mut self.out, &e);
                return;
            }
        }
        if let Some(reply) = self.pinned_call(&bytes, 1).await {
            self.out.extend_from_slice(&reply);
        }
    }

    pub async fn cmd_unwatch(&mut self) {
        if self.tx.pinned.is_some() {
            if let Some(reply) = self.pinned_call(b"*1\r\n$7\r\nUNWATCH\r\n", 1).await {
                self.out.extend_from_slice(&reply);
            }
            self.tx_end(true);
        } else {
            self.out.extend_from_slice(b"+OK\r\n");
        }
    }

    pub async fn cmd_multi(&mut self) {
        if self.tx.in_multi {
            resp::write_error(&mut self.out, "ERR MULTI calls can not be nested");
            return;
        }
        self.tx.in_multi = true;
        self.set_multi(0);
        if self.tx.pinned.is_some() {
            if let Some(reply) = self.pinned_call(b"*1\r\n$5\r\nMULTI\r\n", 1).await {
                self.out.extend_from_slice(&reply);
            }
        } else {
            self.out.extend_from_slice(b"+OK\r\n");
        }
    }

    /// A command inside `MULTI`.
    pub async fn tx_command(&mut self, spec: Option<&CommandSpec>, argv: &[&[u8]]) {
        let bytes = encode(argv);
        if self.tx.pinned.is_some() {
            if let Some(reply) = self.pinned_call(&bytes, 1).await {
                self.out.extend_from_slice(&reply);
            }
            return;
        }
        let name = String::from_utf8_lossy(argv.first().copied().unwrap_or_default()).into_owned();
        let Some(spec) = spec else {
            let args: Vec<String> =
                argv.iter().skip(1).map(|a| format!("'{}' ", String::from_utf8_lossy(a))).collect();
            resp::write_error(
                &mut self.out,
                &format!("ERR unknown command '{name}', with args beginning with: {}", args.concat()),
            );
            self.tx.dirty = true;
            return;
        };
        if !spec.arity_ok(argv.len()) {
            resp::write_error(
                &mut self.out,
                &format!("ERR wrong number of arguments for '{}' command", spec.name),
            );
            self.tx.dirty = true;
            return;
        }
        match first_key_slot(spec, argv) {
            Some(slot) => {
                if let Err(e) = self.pin(Some(slot)).await {
                    resp::write_error(&mut self.out, &e);
                    self.tx.dirty = true;
                    return;
                }
                let mut all = b"*1\r\n$5\r\nMULTI\r\n".to_vec();
                all.extend_from_slice(&std::mem::take(&mut self.tx.pending));
                all.extend_from_slice(&bytes);
                let n = 2 + self.tx.pending_count;
                self.tx.pending_count = 0;
                if let Some(reply) = self.pinned_call(&all, n).await {
                    self.out.extend_from_slice(&reply);
                }
            }
            None => {
                self.tx.pending.extend_from_slice(&bytes);
                self.tx.pending_count += 1;
                self.out.extend_from_slice(b"+QUEUED\r\n");
            }
        }
        self.set_multi((self.tx.pending_count + 1) as i64);
    }

    pub async fn cmd_exec(&mut self) {
        if !self.tx.in_multi {
            resp::write_error(&mut self.out, "ERR EXEC without MULTI");
            return;
        }
        if self.tx.dirty {
            resp::write_error(&mut self.out, "EXECABORT Transaction discarded because of previous errors.");
            // A WATCH on the pinned connection ends with the transaction, as in Redis.
            if self.tx.pinned.is_some() {
                let _ = self.pinned_call(b"*1\r\n$7\r\nDISCARD\r\n", 1).await;
            }
            self.tx_end(true);
            return;
        }
        if self.tx.pinned.is_none() {
            if let Err(e) = self.pin(None).await {
                resp::write_error(&mut self.out, &e);
                self.tx_end(false);
                return;
            }
            let mut all = b"*1\r\n$5\r\nMULTI\r\n".to_vec();
            all.extend_from_slice(&std::mem::take(&mut self.tx.pending));
            all.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
            let n = 2 + self.tx.pending_count;
            if let Some(reply) = self.pinned_call(&all, n).await {
                self.out.extend_from_slice(&reply);
            }
        } else if let Some(reply) = self.pinned_call(b"*1\r\n$4\r\nEXEC\r\n", 1).await {
            self.out.extend_from_slice(&reply);
        }
        self.tx_end(true);
    }

    pub async fn cmd_discard(&mut self) {
        if !self.tx.in_multi {
            resp::write_error(&mut self.out, "ERR DISCARD without MULTI");
            return;
        }
        if self.tx.pinned.is_some() {
            if let Some(reply) = self.pinned_call(b"*1\r\n$7\r\nDISCARD\r\n", 1).await {
                self.out.extend_from_slice(&reply);
            }
        } else {
            self.out.extend_from_slice(b"+OK\r\n");
        }
        self.tx_end(true);
    }

    /// `RESET` and disconnects: a pinned connection may hold a `WATCH` or a half-queued transaction, so
    /// it is closed, not pooled.
    pub fn tx_reset(&mut self) {
        self.tx_end(false);
    }

    /// Whether the given command ends a transaction's queueing (handled by the router, not queued).
    pub fn ends_queueing(id: CommandId) -> bool {
        matches!(id, CommandId::Exec | CommandId::Discard | CommandId::Multi | CommandId::Watch)
    }
}

/// Encodes a command as a multibulk request.
pub fn encode(argv: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(argv.iter().map(|a| a.len() + 16).sum::<usize>() + 16);
    slotkv_proto::encode_command(argv, &mut out);
    out
}
