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
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Serves clients on `listener` until `shutdown` turns true; then stops accepting, lets every session
/// finish the commands it has read (bounded wait) and returns.
///
/// Threads: the caller's runtime accepts and keeps the slot map; `config.threads` worker threads each run
/// a single-threaded runtime with their own sessions and their own backend connections. Within a worker,
/// woken tasks run in order, so the sessions made ready by one poll all queue their commands before the
/// backend writer runs: the commands of many clients leave in one write per node.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let threads = config.threads;
    let router = Router::connect(config).await?;
    tokio::spawn(Arc::clone(&router).refresher());
    let mut workers = Vec::with_capacity(threads);
    let mut handles = Vec::with_capacity(threads);
    for i in 0..threads {
        let (tx, rx) =
            tokio::sync::mpsc::unbounded_channel::<(std::net::TcpStream, Arc<state::ClientEntry>)>();
        let router = Arc::clone(&router);
        let handle = std::thread::Builder::new()
            .name(format!("router-worker-{i}"))
            .spawn(move || worker(i, router, rx))
            .map_err(|e| format!("cannot start worker thread: {e}"))?;
        workers.push(tx);
        handles.push(handle);
    }
    accept_loop(&router, &listener, &workers, shutdown).await;
    // Every client accepted so far is registered: each session ends at its next wait for a read.
    router.kill_all();
    drop(listener);
    drop(workers);
    // The workers finish their sessions (bounded) and end.
    let _ = tokio::task::spawn_blocking(move || {
        for h in handles {
            let _ = h.join();
        }
    })
    .await;
    Ok(())
}

async fn accept_loop(
    router: &Arc<Router>,
    listener: &TcpListener,
    workers: &[tokio::sync::mpsc::UnboundedSender<(std::net::TcpStream, Arc<state::ClientEntry>)>],
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next = 0usize;
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
                let Ok(std_stream) = stream.into_std() else {
                    router.unregister(entry.id);
                    continue;
                };
                let Some(worker) = workers.get(next % workers.len().max(1)) else { return };
                next = next.wrapping_add(1);
                if worker.send((std_stream, Arc::clone(&entry))).is_err() {
                    router.unregister(entry.id);
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// One worker thread: a single-threaded runtime serving the sessions it is handed.
fn worker(
    i: usize,
    router: Arc<Router>,
    mut incoming: tokio::sync::mpsc::UnboundedReceiver<(std::net::TcpStream, Arc<state::ClientEntry>)>,
) {
    state::set_worker(i);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("worker {i}: cannot start its runtime: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let mut sessions = tokio::task::JoinSet::new();
        while let Some((stream, entry)) = incoming.recv().await {
            match TcpStream::from_std(stream) {
                Ok(stream) => {
                    sessions.spawn(session::serve(Arc::clone(&router), stream, entry));
                }
                Err(_) => router.unregister(entry.id),
            }
            while sessions.try_join_next().is_some() {}
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
    });
}
