//! Transactions on a cluster: `MULTI` ... `EXEC` on the node serving the one slot of all their keys.

use super::policy::{next_step, Step};
use super::{keys_of, ClusterClient};
use crate::cmd::{cmd, Cmd};
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::reply::unwrap_reply;
use slotkv_proto::frame::Frame;
use slotkv_proto::slot::key_slot;
use tokio::time::Instant;

/// The error a transaction whose keys span slots gets before anything is sent (the node's own words).
fn cross_slot() -> Error {
    Error::server(b"CROSSSLOT Keys in request don't hash to the same slot")
}

/// The one slot of every key of `cmds`; `Ok(None)` when none has keys.
pub(crate) fn one_slot(cmds: &[Cmd]) -> Result<Option<u16>> {
    let mut slot = None;
    for k in cmds.iter().flat_map(keys_of) {
        let s = key_slot(k);
        if *slot.get_or_insert(s) != s {
            return Err(cross_slot());
        }
    }
    Ok(slot)
}

impl ClusterClient {
    /// Runs `cmds` atomically (`MULTI` ... `EXEC`) on the node serving their slot; each command's reply,
    /// in order. Keys spanning slots are refused before anything is sent (`CROSSSLOT`). When the slot
    /// moved, the node refuses to queue (`MOVED`/`ASK`), `EXEC` discards the transaction, and it is sent
    /// again, whole, to the new owner; nothing ran twice. An error queueing a command (wrong arity...)
    /// fails the transaction with `EXECABORT`; errors while running one are that command's reply.
    pub async fn transaction(&self, cmds: &[Cmd]) -> Result<Vec<Result<Frame>>> {
        let slot = one_slot(cmds)?;
        let deadline = Instant::now() + self.inner.options.timeout;
        let mut addr = self.owner(slot.map(usize::from)).map(|a| a.to_string());
        let mut asking = false;
        let mut wait = self.inner.options.backoff;
        let mut outcome = Err(Error::Io("no attempt".into()));
        for _ in 0..=self.inner.options.retries {
            let seen = self.inner.refreshes.load(std::sync::atomic::Ordering::Acquire);
            outcome = match &addr {
                Some(target) => self.try_transaction(target, cmds, asking, deadline).await,
                None => Err(Error::Io("no node known to serve the transaction's slot".into())),
            };
            asking = false;
            // The step comes from the first redirect or transient error met while queueing, if any.
            let step = match &outcome {
                Ok((queued, _)) => queued.as_ref().map_or(Step::Done, |e| next_step(&Err(e.clone()))),
                Err(e) => next_step(&Err(e.clone())),
            };
            match step {
                Step::Done => break,
                Step::Moved { slot, addr: to } => {
                    self.learn_owner(slot, &to);
                    addr = Some(to);
                }
                Step::Ask { addr: to } => {
                    addr = Some(to);
                    asking = true;
                }
                Step::Retry => {
                    if Instant::now() + wait >= deadline {
                        break;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.inner.options.max_backoff);
                    let _ = self.refresh_after(seen).await;
                    addr = self.owner(slot.map(usize::from)).map(|a| a.to_string());
                }
            }
        }
        match outcome?.1 {
            Frame::Array(replies) => Ok(replies.into_iter().map(unwrap_reply).collect()),
            Frame::Error(e) => Err(Error::server(&e)),
            other => Err(Error::Protocol(format!("EXEC answered {other:?}"))),
        }
    }

    /// One try: returns the first error met while queueing (if any) and `EXEC`'s reply.
    async fn try_transaction(
        &self,
        addr: &str,
        cmds: &[Cmd],
        asking: bool,
        deadline: Instant,
    ) -> Result<(Option<Error>, Frame)> {
        let mut batch = Vec::with_capacity(cmds.len() + 3);
        if asking {
            // Inside MULTI, ASKING holds for every queued command.
            batch.push(cmd("ASKING"));
        }
        batch.push(cmd("MULTI"));
        batch.extend(cmds.iter().cloned());
        batch.push(cmd("EXEC"));
        let conn: Connection = self.conn_by(addr, deadline).await?;
        let mut replies = tokio::time::timeout_at(deadline, conn.send_raw(&batch))
            .await
            .map_err(|_| Error::Timeout(format!("transaction to {addr}: no reply in time")))??;
        let exec = replies.pop().ok_or(Error::Protocol("no EXEC reply".into()))?;
        let queued = replies.into_iter().skip(usize::from(asking)).find_map(|f| unwrap_reply(f).err());
        Ok((queued, exec))
    }
}
