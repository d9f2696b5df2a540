//! Many tasks sharing one client: every clone is a handle to the same connections, and the commands of
//! all tasks go out together (one write per batch per node), so 64 tasks need no pool.
//!
//! `cargo run --release -p slotkv-client --example many_tasks -- 127.0.0.1:7000`

use slotkv_client::{ClusterClient, Commands};
use std::time::Instant;

const TASKS: usize = 64;
const PER_TASK: usize = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".to_string());
    let client = ClusterClient::builder([seed.as_str()]).build().await?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let client = client.clone();
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let key = format!("task:{t}:{i}");
                    client.set(&key, i).await?;
                    let back: usize = client.get(&key).await?;
                    if back != i {
                        return Err(format!("{key}: wrote {i}, read {back}").into());
                    }
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .collect();
    for t in tasks {
        t.await?.map_err(|e| e.to_string())?;
    }
    let ops = TASKS * PER_TASK * 2;
    let secs = started.elapsed().as_secs_f64();
    println!("{TASKS} tasks: {ops} commands in {secs:.2} s ({:.0} ops/s)", ops as f64 / secs);
    let keys: Vec<String> =
        (0..TASKS).flat_map(|t| (0..PER_TASK).map(move |i| format!("task:{t}:{i}"))).collect();
    let removed = client.del(&keys).await?;
    println!("DEL removed {removed} keys");
    Ok(())
}
