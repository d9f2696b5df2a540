//! `SCAN` over the whole cluster: every primary in turn, each with its own cursor.

use super::ClusterClient;
use crate::cmd::cmd;
use crate::error::{Error, Result};
use crate::reply::FromReply;
use slotkv_proto::frame::Frame;

/// A cluster-wide `SCAN`: call [`Scan::next_batch`] until it returns `None`. Keys that exist for the
/// whole scan are returned at least once (as `SCAN` promises per node); a key moved to another node
/// while the scan runs may be returned twice or, if it moved to a node already scanned, not at all.
pub struct Scan {
    client: ClusterClient,
    nodes: Vec<String>,
    cursor: String,
    pattern: Option<String>,
    count: Option<usize>,
    kind: Option<String>,
}

impl ClusterClient {
    /// Starts a scan over the primaries serving slots now. `pattern` is `MATCH`, `count` is `COUNT`.
    pub fn scan(&self, pattern: Option<&str>, count: Option<usize>) -> Scan {
        let mut nodes = self.primaries();
        nodes.reverse();
        Scan {
            client: self.clone(),
            nodes,
            cursor: "0".into(),
            pattern: pattern.map(str::to_string),
            count,
            kind: None,
        }
    }
}

impl Scan {
    /// Only keys of this type (`TYPE string`...).
    pub fn of_type(mut self, kind: &str) -> Scan {
        self.kind = Some(kind.to_string());
        self
    }

    /// The next keys (possibly none, as `SCAN` may return), or `None` once every node is done.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(node) = self.nodes.last().cloned() else { return Ok(None) };
        let mut c = cmd("SCAN").arg(self.cursor.as_str());
        if let Some(p) = &self.pattern {
            c = c.arg("MATCH").arg(p.as_str());
        }
        if let Some(n) = self.count {
            c = c.arg("COUNT").arg(&n);
        }
        if let Some(k) = &self.kind {
            c = c.arg("TYPE").arg(k.as_str());
        }
        let mut reply = self.client.connection(&node).await?.query::<Frame>(&c).await;
        if matches!(reply, Err(Error::Io(_))) {
            // One new connection if the shared one broke; the cursor stays valid on the node.
            reply = self.client.connection(&node).await?.query::<Frame>(&c).await;
        }
        let (cursor, keys) = <(String, Vec<Vec<u8>>)>::from_reply(reply?)?;
        if cursor == "0" {
            self.nodes.pop();
        }
        self.cursor = cursor;
        Ok(Some(keys))
    }

    /// Every key, collected.
    pub async fn collect(mut self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        while let Some(batch) = self.next_batch().await? {
            out.extend(batch);
        }
        Ok(out)
    }
}
