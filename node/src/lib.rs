//! slotkv-node: a Redis-compatible shard server.
//!
//! # Layout
//! - [`net`]: the event loop (accept, read, execute, write) on one data thread.
//! - [`dispatch`]: command table lookup, arity/auth/memory checks, the handler `match`, error replies.
//! - [`db`]: the keyspace, one table per hash slot, with lazy and active expiry.
//! - [`types`]: commands by data type (`string`, `keys`, `hash`).
//! - [`commands`]: connection, server and introspection commands.
//! - [`scripting`]: Lua scripts (`EVAL`, `SCRIPT`), sandboxed, with `-BUSY` and `SCRIPT KILL`.
//! - [`config`]: settings with Redis's names and defaults; [`logging`], [`memory`] (jemalloc statistics).

pub mod blocking;
pub mod client;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod db;
pub mod dispatch;
pub mod error;
pub mod evict;
pub mod glob;
pub mod logging;
pub mod memory;
pub mod net;
pub mod persist;
pub mod propagate;
pub mod repl;
pub mod scripting;
pub mod server;
pub mod types;

pub use config::Config;
pub use net::run;
