//! Persistence: snapshots and the append-only file (see `docs/persistence.md`).
//!
//! - [`snapshot`]: the snapshot file format: encoder, loader, checker.
//! - [`aof_file`]: the AOF format (RESP commands in checksummed batches): encoder, replay, checker.
//! - [`manifest`]: the AOF manifest naming the base snapshot and the incremental files.
//! - [`fsutil`]: durable writes and atomic replacement.

pub mod aof_file;
pub mod fsutil;
pub mod manifest;
pub mod snapshot;
