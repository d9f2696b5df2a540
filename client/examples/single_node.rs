//! One node without cluster mode (plain Redis or a slotkv node): options, typed commands of every kind,
//! and what a dead server looks like (an error within the timeout, not a hang).
//!
//! `redis-server --port 6379 --save ''` (or `slotkv-node --port 6379`), then:
//! `cargo run -p slotkv-client --example single_node -- 127.0.0.1:6379`

use slotkv_client::{Client, Commands, Expiry};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:6379".to_string());
    let client = Client::builder(&addr)
        .resp3(true) // replies convert to the same Rust values over RESP2 and RESP3
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .await?;
    println!("PING -> {}", client.ping().await?);

    // Strings with an expiry.
    client.set("session", "token-123").await?;
    let token: Option<String> = client.getex("session", Expiry::Ex(60)).await?;
    println!("GETEX session EX 60 -> {token:?}, TTL {}", client.ttl("session").await?);

    // A hash.
    client.hset_multiple("user:1", &[("name", "Ada"), ("lang", "Rust")]).await?;
    client.hincr_by("user:1", "visits", 1).await?;
    let user: HashMap<String, String> = client.hgetall("user:1").await?;
    println!("HGETALL user:1 -> {user:?}");

    // A list used as a queue; BLPOP waits on a connection of its own.
    client.rpush("jobs", &["a", "b"]).await?;
    let job: Option<(String, String)> = client.blpop(&["jobs"], 1.0).await?;
    println!("BLPOP jobs -> {job:?}");

    // A set and a sorted set.
    client.sadd("tags", &["rust", "redis", "rust"]).await?;
    let tags: HashSet<String> = client.smembers("tags").await?;
    println!("SMEMBERS tags -> {tags:?}");
    client.zadd_multiple("scores", &[(10, "ada"), (7, "grace"), (12, "barbara")]).await?;
    let top: Vec<(String, f64)> = client.zrevrange_withscores("scores", 0, 1).await?;
    println!("ZREVRANGE scores 0 1 WITHSCORES -> {top:?}");

    client.del(&["session", "user:1", "jobs", "tags", "scores"]).await?;
    Ok(())
}
