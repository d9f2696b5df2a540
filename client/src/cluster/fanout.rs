//! `SCRIPT LOAD`, `SCRIPT FLUSH` and `SCRIPT EXISTS` go to every primary, as Redis's request policies
//! say (`all_nodes` / `all_shards`): a script cached on one node only would answer `NOSCRIPT` wherever
//! an `EVALSHA`'s keys lead. `LOAD` and `FLUSH` answer what the first node did once every node did it;
//! `EXISTS` answers 1 for a script only where every node has it.

use super::ClusterClient;
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::reply::unwrap_reply;
use slotkv_proto::frame::Frame;

/// How the replies of a command sent to every primary combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fanout {
    /// Every node must succeed; the first node's reply stands for all (`SCRIPT LOAD`, `SCRIPT FLUSH`).
    AllSucceed,
    /// Arrays of 0/1 combined element by element with a logical AND (`SCRIPT EXISTS`).
    And,
}

/// Whether `c` goes to every primary, and how its replies combine.
pub(crate) fn fanout(c: &Cmd) -> Option<Fanout> {
    let [name, sub, ..] = c.args() else { return None };
    if !name.eq_ignore_ascii_case(b"script") {
        return None;
    }
    if sub.eq_ignore_ascii_case(b"load") || sub.eq_ignore_ascii_case(b"flush") {
        Some(Fanout::AllSucceed)
    } else if sub.eq_ignore_ascii_case(b"exists") {
        Some(Fanout::And)
    } else {
        None
    }
}

impl ClusterClient {
    /// Sends `c` to every primary concurrently and combines the replies as `how` says.
    pub(crate) async fn send_to_all(&self, c: &Cmd, how: Fanout) -> Result<Frame> {
        let tasks: Vec<_> = self
            .primaries()
            .into_iter()
            .map(|addr| {
                let client = self.clone();
                let c = c.clone();
                tokio::spawn(async move {
                    let conn = client.connection(&addr).await?;
                    let mut replies = conn.send_raw(std::slice::from_ref(&c)).await?;
                    unwrap_reply(replies.pop().ok_or(Error::Protocol("no reply".into()))?)
                })
            })
            .collect();
        if tasks.is_empty() {
            return Err(Error::Io("no node known".into()));
        }
        let mut replies = Vec::with_capacity(tasks.len());
        for t in tasks {
            replies.push(t.await.map_err(|e| Error::Io(format!("fan-out task: {e}")))??);
        }
        combine(how, replies)
    }
}

fn combine(how: Fanout, replies: Vec<Frame>) -> Result<Frame> {
    let mut replies = replies.into_iter();
    let first = replies.next().ok_or(Error::Protocol("no reply".into()))?;
    if how == Fanout::AllSucceed {
        return Ok(first);
    }
    let Frame::Array(mut all) = first else {
        return Err(Error::Protocol("SCRIPT EXISTS: not an array".into()));
    };
    for reply in replies {
        let Frame::Array(items) = reply else {
            return Err(Error::Protocol("SCRIPT EXISTS: not an array".into()));
        };
        for (acc, item) in all.iter_mut().zip(items) {
            if item.as_int() != Some(1) {
                *acc = Frame::Integer(0);
            }
        }
    }
    Ok(Frame::Array(all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    #[test]
    fn which_commands_fan_out() {
        assert_eq!(fanout(&cmd("SCRIPT").arg("LOAD").arg("return 1")), Some(Fanout::AllSucceed));
        assert_eq!(fanout(&cmd("script").arg("flush")), Some(Fanout::AllSucceed));
        assert_eq!(fanout(&cmd("SCRIPT").arg("EXISTS").arg("abc")), Some(Fanout::And));
        assert_eq!(fanout(&cmd("SCRIPT").arg("KILL")), None);
        assert_eq!(fanout(&cmd("EVALSHA").arg("abc").arg("0")), None);
    }

    #[test]
    fn exists_is_the_and_of_every_node() {
        let node = |v: &[i64]| Frame::Array(v.iter().map(|&n| Frame::Integer(n)).collect());
        let merged = combine(Fanout::And, vec![node(&[1, 1, 0]), node(&[1, 0, 0])]).unwrap();
        assert_eq!(merged, node(&[1, 0, 0]));
        let first = combine(Fanout::AllSucceed, vec![Frame::bulk("sha"), Frame::bulk("sha")]).unwrap();
        assert_eq!(first, Frame::bulk("sha"));
    }
}
