//! Quick start against a cluster: typed commands, multi-key commands across slots, any command, and a
//! pipeline spanning nodes.
//!
//! Start a cluster (`slotkv up`, or `redis-cli --cluster create ...`), then:
//! `cargo run -p slotkv-client --example quickstart -- 127.0.0.1:7000`

use slotkv_client::{cmd, ClusterClient, Commands, SetOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".to_string());
    let client = ClusterClient::builder([seed.as_str()]).build().await?;
    println!("primaries: {:?}", client.primaries());

    client.set("greeting", "hello").await?;
    let greeting: Option<String> = client.get("greeting").await?;
    println!("GET greeting -> {greeting:?}");

    // NX: set only if missing; the bool says whether it was set.
    let first: bool = client.set_options("lock:report", "worker-1", SetOptions::new().nx().ex(30)).await?;
    println!("SET lock:report NX EX 30 -> {first}");

    // These keys live in different slots (likely on different nodes): split per slot, merged in order.
    client.mset(&[("user:1", "ada"), ("user:2", "grace"), ("user:3", "barbara")]).await?;
    let names: Vec<Option<String>> = client.mget(&["user:1", "user:2", "user:3", "user:4"]).await?;
    println!("MGET user:1..4 -> {names:?}");

    // Any command, with the reply converted to the type asked for.
    let len: i64 = client.query(&cmd("STRLEN").arg("greeting")).await?;
    println!("STRLEN greeting -> {len}");

    // A pipeline of 100 commands over all nodes: one round trip per node, replies in the caller's order.
    let incrs: Vec<_> = (0..100).map(|i| cmd("INCR").arg(&format!("counter:{}", i % 10))).collect();
    let replies = client.pipeline::<i64>(&incrs).await?;
    let ok = replies.iter().filter(|r| r.is_ok()).count();
    println!("pipeline of {} INCRs: {ok} ok, last -> {:?}", incrs.len(), replies.last());

    client.del(&["greeting", "lock:report", "user:1", "user:2", "user:3"]).await?;
    Ok(())
}
