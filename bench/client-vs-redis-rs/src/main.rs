//! GET/SET throughput through slotkv's `ClusterClient` versus redis-rs's async cluster client, on the same
//! cluster, in the same run, in alternating rounds (the order flips every round so neither client always
//! runs on a warmer cluster).
//!
//! Workloads (each command counts as one op):
//! - `single`: `TASKS` tasks, each sending one command at a time (SET then GET of keys spread over all
//!   slots), all sharing one client.
//! - `pipeline`: `TASKS` tasks, each sending pipelines of `DEPTH` commands (half SET, half GET); a pipeline's
//!   keys share a hash tag because redis-rs's cluster pipelines must stay in one slot, and the tag changes
//!   every pipeline so all slots and nodes are used.
//!
//! `client-bench SEED [--tasks 64] [--depth 16] [--seconds 3] [--rounds 3]` prints one line per round and
//! workload: `round R WORKLOAD slotkv OPS redis-rs OPS ratio X cpu-us/op slotkv A redis-rs B cpu-eff Y`
//! (the client process's CPU per op: `cpu-eff` > 1 means slotkv's client spends less).

use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Debug, Clone)]
struct Settings {
    seed: String,
    tasks: usize,
    depth: usize,
    seconds: f64,
    rounds: usize,
    only: Option<String>,
    client: Option<String>,
}

fn parse_args() -> Result<Settings, BoxError> {
    let mut args = std::env::args().skip(1);
    let mut s = Settings {
        seed: String::new(),
        tasks: 64,
        depth: 16,
        seconds: 3.0,
        rounds: 3,
        only: None,
        client: None,
    };
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--tasks" => s.tasks = value()?.parse()?,
            "--depth" => s.depth = value()?.parse()?,
            "--seconds" => s.seconds = value()?.parse()?,
            "--rounds" => s.rounds = value()?.parse()?,
            "--only" => s.only = Some(value()?),
            "--client" => s.client = Some(value()?),
            _ if a.starts_with("--") => return Err(format!("unknown option {a}").into()),
            _ => s.seed = a,
        }
    }
    if s.seed.is_empty() {
        return Err(
            "usage: client-bench HOST:PORT [--tasks N] [--depth N] [--seconds S] [--rounds N] [--only single|pipeline] [--client slotkv|redis-rs]"
                .into(),
        );
    }
    Ok(s)
}

const VALUE: &str = "0123456789abcdef0123456789abcdef";
/// Distinct keys per task for the single-command workload (all slots get used).
const KEYS_PER_TASK: usize = 1000;
/// Hash tags a task rotates through in the pipeline workload.
const TAGS_PER_TASK: usize = 64;

/// The two clients behind one interface, so both run the exact same loop.
#[derive(Clone)]
enum Bench {
    Slotkv(slotkv_client::ClusterClient),
    RedisRs(redis::cluster_async::ClusterConnection),
}

impl Bench {
    fn name(&self) -> &'static str {
        match self {
            Bench::Slotkv(_) => "slotkv",
            Bench::RedisRs(_) => "redis-rs",
        }
    }

    async fn set(&mut self, key: &str) -> Result<(), BoxError> {
        match self {
            Bench::Slotkv(c) => c.query::<()>(&slotkv_client::cmd("SET").arg(key).arg(VALUE)).await?,
            Bench::RedisRs(c) => redis::cmd("SET").arg(key).arg(VALUE).query_async::<()>(c).await?,
        }
        Ok(())
    }

    async fn get(&mut self, key: &str) -> Result<(), BoxError> {
        let v: Option<Vec<u8>> = match self {
            Bench::Slotkv(c) => c.query(&slotkv_client::cmd("GET").arg(key)).await?,
            Bench::RedisRs(c) => redis::cmd("GET").arg(key).query_async(c).await?,
        };
        if v.as_deref() != Some(VALUE.as_bytes()) {
            return Err(format!("GET {key}: {v:?}").into());
        }
        Ok(())
    }

    /// A pipeline of `keys.len()` SETs then the same number of GETs.
    async fn pipeline(&mut self, keys: &[String]) -> Result<(), BoxError> {
        match self {
            Bench::Slotkv(c) => {
                let mut cmds = Vec::with_capacity(keys.len() * 2);
                cmds.extend(keys.iter().map(|k| slotkv_client::cmd("SET").arg(k).arg(VALUE)));
                cmds.extend(keys.iter().map(|k| slotkv_client::cmd("GET").arg(k)));
                for r in c.pipeline::<slotkv_client::proto::frame::Frame>(&cmds).await? {
                    r?;
                }
            }
            Bench::RedisRs(c) => {
                let mut pipe = redis::pipe();
                for k in keys {
                    pipe.cmd("SET").arg(k).arg(VALUE);
                }
                for k in keys {
                    pipe.cmd("GET").arg(k);
                }
                pipe.query_async::<Vec<redis::Value>>(c).await?;
            }
        }
        Ok(())
    }
}

/// This process's CPU time (user + system, all threads) in clock ticks, from `/proc/self/stat`.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)
}

/// Clock ticks per second (`getconf CLK_TCK`: 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// What one measurement gave: ops per second and the client's CPU microseconds per op.
struct Measured {
    ops_per_second: f64,
    cpu_us_per_op: f64,
}

/// Runs one workload for `seconds` with `tasks` tasks sharing `bench`.
async fn measure(bench: &Bench, workload: &str, s: &Settings) -> Result<Measured, BoxError> {
    let cpu_before = cpu_ticks();
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..s.tasks {
        let (mut bench, stop, ops, workload, depth) =
            (bench.clone(), stop.clone(), ops.clone(), workload.to_string(), s.depth);
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            let mut done = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if workload == "single" {
                    let key = format!("bench:{t}:{}", i % KEYS_PER_TASK);
                    bench.set(&key).await?;
                    bench.get(&key).await?;
                    done += 2;
                } else {
                    let tag = format!("{{bench:{t}:{}}}", i % TAGS_PER_TASK);
                    let keys: Vec<String> = (0..depth / 2).map(|j| format!("{tag}:{j}")).collect();
                    bench.pipeline(&keys).await?;
                    done += (keys.len() * 2) as u64;
                }
                i += 1;
            }
            ops.fetch_add(done, Ordering::Relaxed);
            Ok::<_, BoxError>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(s.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    let ops = ops.load(Ordering::Relaxed) as f64;
    let cpu_seconds = (cpu_ticks() - cpu_before) as f64 / TICKS_PER_SECOND;
    Ok(Measured {
        ops_per_second: ops / started.elapsed().as_secs_f64(),
        cpu_us_per_op: if ops > 0.0 { cpu_seconds * 1e6 / ops } else { 0.0 },
    })
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let s = parse_args()?;
    let slotkv = Bench::Slotkv(slotkv_client::ClusterClient::builder([s.seed.as_str()]).build().await?);
    let redis_rs = Bench::RedisRs(
        redis::cluster::ClusterClient::new(vec![format!("redis://{}/", s.seed)])?
            .get_async_connection()
            .await?,
    );
    println!(
        "# {} tasks, pipelines of {}, {} s per measurement, {} rounds, seed {}",
        s.tasks, s.depth, s.seconds, s.rounds, s.seed
    );
    let workloads: Vec<&str> =
        ["single", "pipeline"].into_iter().filter(|w| s.only.as_deref().is_none_or(|o| o == *w)).collect();
    // A short warm-up of both: connections made, slot maps learned, keys created.
    let warm = Settings { seconds: 0.5, ..s.clone() };
    for w in &workloads {
        for b in [&slotkv, &redis_rs] {
            if s.client.as_deref().is_none_or(|c| c == b.name()) {
                measure(b, w, &warm).await?;
            }
        }
    }
    // One client alone (for profiling): no ratio, one line per round.
    if let Some(name) = &s.client {
        let b = if name == "slotkv" { &slotkv } else { &redis_rs };
        for round in 1..=s.rounds {
            for w in &workloads {
                let m = measure(b, w, &s).await?;
                println!("round {round} {w} {name} {:.0} cpu-us/op {:.2}", m.ops_per_second, m.cpu_us_per_op);
            }
        }
        return Ok(());
    }
    for round in 1..=s.rounds {
        for w in &workloads {
            let order = if round % 2 == 1 { [&slotkv, &redis_rs] } else { [&redis_rs, &slotkv] };
            let mut results = Vec::new();
            for b in order {
                results.push((b.name(), measure(b, w, &s).await?));
            }
            let of = |name: &str| results.iter().find(|(n, _)| *n == name).map(|(_, m)| m);
            let (Some(ours), Some(theirs)) = (of("slotkv"), of("redis-rs")) else { continue };
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
            // ratio > 1: slotkv faster; cpu-eff > 1: slotkv spends less CPU per op.
            println!(
                "round {round} {w} slotkv {:.0} redis-rs {:.0} ratio {:.3} cpu-us/op slotkv {:.2} redis-rs {:.2} cpu-eff {:.3}",
                ours.ops_per_second,
                theirs.ops_per_second,
                ratio(ours.ops_per_second, theirs.ops_per_second),
                ours.cpu_us_per_op,
                theirs.cpu_us_per_op,
                ratio(theirs.cpu_us_per_op, ours.cpu_us_per_op),
            );
        }
    }
    Ok(())
}
