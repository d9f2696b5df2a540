//! slotkv-router: one big Redis in front of a slotkv cluster, for clients that know nothing of slots
//! (issue 9, DESIGN.md section 6). Built on the client crate: its cluster client keeps the slot map and
//! handles redirects; its raw connections carry the router's pipelined traffic.
//!
//! # Layout
//! - [`config`]: flags and the optional TOML file.
//! - [`state`]: what sessions share: the slot map snapshot, backend connections, clients, statistics.
//! - [`session`]: one client connection: read, parse, route, write.
//! - [`batch`]: the fast path: forwarded commands grouped per node, split multi-key commands merged.
//! - [`commands`]: what the router answers itself (connection, `CLUSTER`, `INFO`, `CLIENT`, fan-out).
//! - [`tx`]: `MULTI`/`EXEC`/`WATCH` pinned to one node; [`pubsub`]: subscriptions.
//! - [`resp`]: reading raw replies.

pub mod batch;
pub mod commands;
pub mod config;
pub mod pubsub;
pub mod resp;
pub mod session;
pub mod state;
pub mod tx;

pub use config::{Args, Config};
pub use state::Router;

use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves clients on `listener` until `shutdown` turns true; then stops accepting, lets every session
/// finish the commands it has read (bounded wait) and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let router = Router::connect(config).await?;
    tokio::spawn(Arc::clone(&router).refresher());
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
                let Some(entry) = router.register(peer.to_string(), laddr) else {
                    let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
                    continue;
                };
                sessions.spawn(session::serve(Arc::clone(&router), stream, entry, shutdown.clone()));
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for {} clients to finish", sessions.len());
    let _ =
        tokio::time::timeout(Duration::from_secs(5), async { while sessions.join_next().await.is_some() {} })
            .await;
    Ok(())
}
