//! Commands that are not about one data type: the connection, the server, introspection, transactions,
//! pub/sub.

pub mod connection;
pub mod introspection;
pub mod multi;
pub mod pubsub;
pub mod server;
