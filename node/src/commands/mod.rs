//! Commands that are not about one data type: the connection, the server, introspection.

pub mod connection;
pub mod introspection;
pub mod server;
