//! How the cluster client reaches a node: TCP in real life, a scripted in-memory cluster in tests
//! ([`crate::mock`]). Everything above this trait is the same code in both.

use crate::conn::{ConnectOptions, Connection};
use crate::error::Result;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, as a trait method returns it.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Opens connections to nodes by address (`host:port`).
pub trait Transport: Send + Sync + 'static {
    fn connect(&self, addr: &str, options: &ConnectOptions) -> BoxFuture<Result<Connection>>;
}

/// Real nodes over TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tcp;

impl Transport for Tcp {
    fn connect(&self, addr: &str, options: &ConnectOptions) -> BoxFuture<Result<Connection>> {
        let (addr, options) = (addr.to_string(), options.clone());
        Box::pin(async move { Connection::connect_with(&addr, &options).await })
    }
}
