//! slotkv-client: an async client for slotkv and Redis, cluster-aware (issue 7).
//!
//! # Quick start
//!
//! A cluster: give any reachable nodes as seeds; the client learns the slot map and sends each command
//! straight to the node that owns its keys, following `MOVED`/`ASK` and retrying transient errors.
//!
//! ```no_run
//! # async fn example() -> slotkv_client::Result<()> {
//! use slotkv_client::{cmd, ClusterClient, Commands, SetOptions};
//! let client = ClusterClient::builder(["127.0.0.1:7000", "127.0.0.1:7001"]).build().await?;
//!
//! // Typed methods for the common commands; values convert to the type you ask for.
//! client.set("greeting", "hello").await?;
//! let v: Option<String> = client.get("greeting").await?;
//! let fresh: bool = client.set_options("lock", "me", SetOptions::new().nx().ex(30)).await?;
//! let n = client.incr("visits").await?;
//! // Multi-key commands across slots are split per slot and merged.
//! let values: Vec<Option<String>> = client.mget(&["greeting", "visits", "missing"]).await?;
//!
//! // Any command: cmd("NAME").arg(..), and pipelines spanning nodes (replies in your order).
//! let len: i64 = client.query(&cmd("STRLEN").arg("greeting")).await?;
//! let replies = client.pipeline::<i64>(&[cmd("INCR").arg("a"), cmd("INCR").arg("b")]).await?;
//! # Ok(()) }
//! ```
//!
//! One node without cluster mode: [`Client`], with the same [`Commands`] methods, reconnecting after a lost
//! connection and giving every command a deadline.
//!
//! ```no_run
//! # async fn example() -> slotkv_client::Result<()> {
//! use slotkv_client::{Client, Commands};
//! use std::time::Duration;
//! let client = Client::builder("127.0.0.1:6379").resp3(true).timeout(Duration::from_secs(1)).build().await?;
//! client.hset("user:1", "name", "Ada").await?;
//! let user: std::collections::HashMap<String, String> = client.hgetall("user:1").await?;
//! # Ok(()) }
//! ```
//!
//! Clients are cheap handles: clone them into every task; all tasks share one multiplexed, pipelined
//! connection per node. See `client/examples/` for complete programs.
//!
//! # Layout
//!
//! - [`mod@cmd`]: building commands ([`ToArg`]); [`reply`]: converting replies ([`FromReply`]);
//!   [`error`]: [`Error`], one enum to match on.
//! - [`commands`]: the typed [`Commands`] API ([`SetOptions`], [`Expiry`]), for every client kind.
//! - [`conn`]: one multiplexed, pipelined connection shared by every task.
//! - [`cluster`]: [`ClusterClient`]: the slot map (primaries and replicas), redirects and retries,
//!   failover followed within the timeout, opt-in reads from replicas ([`ReadFrom`]), transactions
//!   pinned to a slot ([`ClusterClient::transaction`]), a cluster-wide [`Scan`].
//! - [`pubsub`]: [`Subscriber`]: channels, patterns and shard channels, kept across reconnects and moves.
//! - [`single`]: [`Client`]: one node, reconnecting, with deadlines.
//! - [`transport`] and [`mock`]: how connections are made, and a scripted mock cluster for tests.

pub mod cluster;
pub mod cmd;
pub mod commands;
pub mod conn;
mod core;
pub mod error;
pub mod mock;
pub mod pubsub;
pub mod raw;
pub mod reply;
pub mod single;
pub mod transport;

pub use cluster::{ClusterBuilder, ClusterClient, ClusterOptions, ReadFrom, Scan};
pub use cmd::{cmd, Cmd, ToArg};
pub use commands::{Commands, Expiry, SetOptions};
pub use conn::{ConnectOptions, Connection};
pub use error::{Error, Result};
pub use pubsub::{Message, Subscriber};
pub use reply::FromReply;
pub use single::{Client, ClientBuilder};
pub use slotkv_proto as proto;
pub use transport::Transport;
