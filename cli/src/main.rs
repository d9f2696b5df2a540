//! `slotkv`: the operator tool. `slotkv up` starts the local cluster of `cluster.toml`; the other
//! commands manage any cluster of slotkv nodes (or of Redis nodes) while clients keep working.
//!
//! Exit codes: 0 done (no problem found), 1 a problem found or an operation failed, 2 bad usage.
//!
//! Layout: [`config`] (cluster.toml), [`local`] (up/down/status), [`create`] (create, add-node),
//! [`check`] (check, fix), [`mover`] (moving slots live), [`reshard`] (reshard, rebalance, del-node),
//! [`misc`] (keyslot, info, call), [`view`] (the cluster as its nodes see it), [`node`] (one
//! connection with deadlines), [`output`] (text, JSON, progress bars).

#[macro_use]
mod error;
mod check;
mod config;
mod create;
mod local;
mod misc;
mod mover;
mod node;
mod output;
mod replicas;
mod reshard;
mod view;

use clap::{Parser, Subcommand};
use error::{Failure, Res};
use mover::MoveOptions;
use output::Out;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "slotkv",
    version,
    about = "Start a local slotkv cluster, and manage any slotkv (or Redis) cluster live.",
    after_help = "Commands that act on a running cluster reach it through ADDR (any of its nodes); without \
                  one, through --addr, else the first node of the cluster.toml.\n\
                  Exit codes: 0 ok, 1 a problem found or an operation failed, 2 bad usage."
)]
struct Cli {
    /// The local cluster's file (default: ./cluster.toml if there is one, else the built-in default:
    /// 3 nodes on 127.0.0.1:7000-7002 with AOF, a router on 7100).
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Any node of the cluster to act on (HOST:PORT).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// Print one JSON document instead of text (no progress bars).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// How slots move (reshard, rebalance, fix, del-node).
#[derive(clap::Args, Clone, Copy)]
struct MoveArgs {
    /// Keys per move request (SLOTKV MIGRATESLOT count, over as many small slots as fit, or
    /// GETKEYSINSLOT count against Redis).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Slots handled together: each step of a group is one pipeline.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pipeline: u32,
    /// MIGRATE timeout in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout: u64,
}

impl MoveArgs {
    fn options(self) -> MoveOptions {
        MoveOptions { batch: self.batch as usize, pipeline: self.pipeline as usize, timeout_ms: self.timeout }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Start the local cluster of cluster.toml (nodes, router), form it on first start, wait until
    /// cluster_state:ok, print where to connect. Again on a stopped cluster: restarts it with its data.
    Up,
    /// Stop the local cluster gracefully (SIGTERM, then wait for every process to exit).
    Down {
        /// Seconds to wait for the processes to exit.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// The local cluster's processes: pid, slots, keys, memory, ops/s, state.
    Status,
    /// Join running, empty, cluster-enabled nodes into a cluster; the 16384 slots spread evenly.
    Create {
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Replicas per master (as redis-cli's --cluster-replicas): the first len/(N+1) nodes are the
        /// masters, every other node a replica (on another host than its master when hosts differ).
        #[arg(long, alias = "cluster-replicas", default_value_t = 0, value_name = "N")]
        replicas: usize,
        /// The nodes.
        #[arg(value_name = "HOST:PORT", required = true)]
        nodes: Vec<String>,
    },
    /// Look for problems: slot coverage, open slots, disagreeing views, unreachable or failing nodes.
    Check { addr: Option<String> },
    /// Repair: finish or close open slots, assign unassigned slots, tell disagreeing nodes.
    Fix {
        addr: Option<String>,
        /// Print what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        moves: MoveArgs,
    },
    /// Move N slots from one master to another, live (resumes slots an interrupted run left open).
    Reshard {
        addr: Option<String>,
        /// The source: node id (or a unique prefix) or HOST:PORT.
        #[arg(long, value_name = "ID|ADDR")]
        from: String,
        /// The target: node id (or a unique prefix) or HOST:PORT.
        #[arg(long, value_name = "ID|ADDR")]
        to: String,
        /// How many slots.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16384))]
        slots: u32,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        moves: MoveArgs,
    },
    /// Even out the masters (new empty ones included) by slots or by keys.
    Rebalance {
        addr: Option<String>,
        /// What to even out.
        #[arg(long, value_enum, default_value_t = reshard::By::Slots)]
        by: reshard::By,
        /// Do nothing while every master is within this percentage of an even share.
        #[arg(long, default_value_t = 2.0)]
        threshold: f64,
        /// Print the moves, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        moves: MoveArgs,
    },
    /// Add a running, empty node to the cluster of EXISTING: a master without slots (rebalance gives it
    /// some), or with --replica-of a replica.
    AddNode {
        #[arg(value_name = "NEW")]
        new: String,
        #[arg(value_name = "EXISTING")]
        existing: String,
        /// Make the new node a replica of this master (node id, a unique prefix, or HOST:PORT).
        #[arg(long, value_name = "ID|ADDR")]
        replica_of: Option<String>,
    },
    /// Remove a node: its slots move to the other masters first, then every node forgets it.
    DelNode {
        #[arg(value_name = "ID|ADDR")]
        node: String,
        /// Shut the removed node down.
        #[arg(long)]
        shutdown: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        moves: MoveArgs,
    },
    /// Make a replica the master of its shard (CLUSTER FAILOVER), and wait until it is.
    Failover {
        #[arg(value_name = "REPLICA")]
        replica: String,
        /// Do not wait for the master to hand over (it is down or unreachable).
        #[arg(long, conflicts_with = "takeover")]
        force: bool,
        /// Do not ask the other masters either (a majority of them is down).
        #[arg(long)]
        takeover: bool,
    },
    /// The hash slot of a key.
    Keyslot { key: String },
    /// Per node: slots, keys; and the totals.
    Info { addr: Option<String> },
    /// Run a command on every node: slotkv call DBSIZE.
    Call {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
        args: Vec<String>,
    },
}

/// The node to reach the cluster through: the command's ADDR, --addr, else the first node of the config.
fn entry(cli_addr: &Option<String>, given: Option<String>, config: &Option<PathBuf>) -> Res<String> {
    match given.or_else(|| cli_addr.clone()) {
        Some(a) => node::resolve(&a),
        None => {
            let cfg = config::load(config.as_deref())?;
            let first =
                cfg.node_addrs().into_iter().next().ok_or(Failure::Usage("no node in the config".into()))?;
            node::resolve(&first)
        }
    }
}

async fn run(cli: Cli) -> Res<()> {
    let out = Out::new(cli.json);
    let (a, c) = (&cli.addr, &cli.config);
    match cli.command {
        Command::Up => local::up(&out, &config::load(c.as_deref())?).await,
        Command::Down { timeout } => {
            local::down(&out, &config::load(c.as_deref())?, Duration::from_secs(timeout))
        }
        Command::Status => local::status(&out, &config::load(c.as_deref())?).await,
        Command::Create { yes, replicas, nodes } => create::create(&out, &nodes, replicas, yes).await,
        Command::Check { addr } => check::check(&out, &entry(a, addr, c)?).await,
        Command::Fix { addr, dry_run, moves } => {
            check::fix(&out, &entry(a, addr, c)?, dry_run, moves.options()).await
        }
        Command::Reshard { addr, from, to, slots, yes, moves } => {
            // --from as an address is a fine way in, too.
            let addr = addr.or_else(|| a.clone()).or_else(|| node::resolve(&from).ok());
            let e = entry(a, addr, c)?;
            reshard::reshard(&out, &e, &from, &to, slots as usize, yes, moves.options()).await
        }
        Command::Rebalance { addr, by, threshold, dry_run, yes, moves } => {
            if threshold.is_nan() || threshold < 0.0 {
                return usage!("--threshold must be a percentage >= 0");
            }
            reshard::rebalance(&out, &entry(a, addr, c)?, by, threshold, dry_run, yes, moves.options()).await
        }
        Command::AddNode { new, existing, replica_of } => {
            create::add_node(&out, &new, &existing, replica_of.as_deref()).await
        }
        Command::DelNode { node, shutdown, yes, moves } => {
            let via = a.clone().or_else(|| node::resolve(&node).ok());
            reshard::del_node(&out, &entry(a, via, c)?, &node, shutdown, yes, moves.options()).await
        }
        Command::Failover { replica, force, takeover } => {
            let option = if force { Some("FORCE") } else { takeover.then_some("TAKEOVER") };
            replicas::failover(&out, &replica, option).await
        }
        Command::Keyslot { key } => misc::keyslot(&out, &key),
        Command::Info { addr } => misc::info(&out, &entry(a, addr, c)?).await,
        Command::Call { args } => misc::call(&out, &entry(a, None, c)?, &args).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("slotkv: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({"ok": false, "error": e.to_string()}));
            }
            eprintln!("slotkv: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
