//! slotkv-client: an async client for slotkv and Redis (issue 7; this is its first part: the single-node
//! connection the cluster client will be built on).
//!
//! ```no_run
//! # async fn example() -> slotkv_client::Result<()> {
//! use slotkv_client::{cmd, Connection};
//! let conn = Connection::connect("127.0.0.1:6379").await?;
//! conn.query::<()>(&cmd("SET").arg("greeting").arg("hello")).await?;
//! let v: Option<String> = conn.query(&cmd("GET").arg("greeting")).await?;
//! # Ok(()) }
//! ```
//!
//! - [`cmd`]: building commands; [`reply`]: converting replies ([`FromReply`]); [`error`]: [`Error`].
//! - [`conn`]: one multiplexed, pipelined connection shared by every task.
//! - [`cluster`]: [`ClusterClient`]: the slot map, redirects and retries.

pub mod cluster;
pub mod cmd;
pub mod conn;
pub mod error;
pub mod raw;
pub mod reply;

pub use cluster::{ClusterBuilder, ClusterClient, ClusterOptions};
pub use cmd::{cmd, Cmd, ToArg};
pub use conn::{ConnectOptions, Connection};
pub use error::{Error, Result};
pub use reply::FromReply;
pub use slotkv_proto as proto;
