//! One connection to one node, with deadlines: a node that does not answer makes the command fail with
//! its address in the message instead of hanging the tool.

use crate::error::{Failure, Res};
use slotkv_client::proto::frame::Frame;
use slotkv_client::{Cmd, Connection, FromReply};
use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::time::Duration;

/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request (or pipeline) may take; a key move is bounded by the node to a chunk.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A cheap handle to one node (clone it into tasks).
#[derive(Clone)]
pub struct Node {
    pub addr: String,
    conn: Connection,
}

impl Node {
    pub async fn connect(addr: &str) -> Res<Node> {
        match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(addr)).await {
            Ok(Ok(conn)) => Ok(Node { addr: addr.to_string(), conn }),
            Ok(Err(e)) => Err(Failure::Problem(format!("{addr}: {e}"))),
            Err(_) => {
                Err(Failure::Problem(format!("{addr}: no connection within {}s", CONNECT_TIMEOUT.as_secs())))
            }
        }
    }

    /// One command, its reply converted; an error reply is a failure naming the node.
    pub async fn q<T: FromReply>(&self, c: &Cmd) -> Res<T> {
        let frame = self.raw(std::slice::from_ref(c)).await?.pop().unwrap_or(Frame::Null);
        T::from_reply(frame).map_err(|e| Failure::Problem(format!("{}: {e}", self.addr)))
    }

    /// Commands as one pipeline; the raw replies (error replies are frames, for the caller to judge).
    pub async fn raw(&self, cmds: &[Cmd]) -> Res<Vec<Frame>> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.conn.send_raw(cmds)).await {
            Ok(Ok(replies)) => Ok(replies),
            Ok(Err(e)) => Err(Failure::Problem(format!("{}: {e}", self.addr))),
            Err(_) => Err(Failure::Problem(format!(
                "{}: no reply within {}s",
                self.addr,
                REQUEST_TIMEOUT.as_secs()
            ))),
        }
    }

    /// `CLUSTER INFO` (or `INFO section`) as a field map.
    pub async fn info_map(&self, c: &Cmd) -> Res<HashMap<String, String>> {
        let text: String = self.q(c).await?;
        Ok(parse_info(&text))
    }
}

/// `name:value` lines (INFO, CLUSTER INFO) into a map; section headers and blank lines are skipped.
pub fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The text of an error reply, if the frame is one.
pub fn error_text(f: &Frame) -> Option<String> {
    match f {
        Frame::Error(e) => Some(String::from_utf8_lossy(e).into_owned()),
        _ => None,
    }
}

/// Checks a pipeline's replies: the first error reply becomes a failure naming the node and what failed.
pub fn all_ok(addr: &str, what: &str, replies: &[Frame]) -> Res<()> {
    match replies.iter().find_map(error_text) {
        Some(e) => Err(Failure::Problem(format!("{addr}: {what}: {e}"))),
        None => Ok(()),
    }
}

/// `HOST:PORT` checked and resolved to `IP:PORT` (nodes name each other by IP, `CLUSTER MEET` needs one).
pub fn resolve(addr: &str) -> Res<String> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(Failure::Usage(format!("'{addr}' is not HOST:PORT")));
    };
    let port: u16 = match port.parse() {
        Ok(p) if p > 0 => p,
        _ => return Err(Failure::Usage(format!("'{addr}': bad port '{port}'"))),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let found = (host, port).to_socket_addrs().map_err(|e| Failure::Usage(format!("'{addr}': {e}")))?;
    let mut found: Vec<_> = found.collect();
    // Prefer IPv4: the nodes of a local cluster listen on 127.0.0.1.
    found.sort_by_key(|a| !a.is_ipv4());
    match found.first() {
        Some(a) => Ok(a.to_string()),
        None => Err(Failure::Usage(format!("'{addr}' does not resolve"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields() {
        let m = parse_info("# Cluster\r\ncluster_state:ok\r\ncluster_known_nodes:3\r\n\r\n");
        assert_eq!(m.get("cluster_state").map(String::as_str), Some("ok"));
        assert_eq!(m.get("cluster_known_nodes").map(String::as_str), Some("3"));
    }

    #[test]
    fn addresses() {
        assert_eq!(resolve("127.0.0.1:7000").unwrap(), "127.0.0.1:7000");
        assert_eq!(resolve("localhost:7000").unwrap(), "127.0.0.1:7000");
        assert!(matches!(resolve("7000"), Err(Failure::Usage(_))));
        assert!(matches!(resolve("127.0.0.1:x"), Err(Failure::Usage(_))));
        assert!(matches!(resolve("127.0.0.1:0"), Err(Failure::Usage(_))));
    }
}
