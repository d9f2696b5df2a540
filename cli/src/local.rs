//! `up`, `down` and `status`: the local cluster of `cluster.toml`. Nodes (and the router) run detached
//! in their own process group, with stdout/stderr in `<data_dir>/<port>/node.log` and their pid in
//! `node.pid` beside it, so they outlive `slotkv up` and `slotkv down` finds them.

use crate::config::Loaded;
use crate::create;
use crate::error::{Failure, Res};
use crate::node::Node;
use crate::output::Out;
use crate::replicas;
use crate::view::{ranges_text, short, view_of, Cluster, NodeLine};
use rustix::process::{Pid, Signal};
use serde_json::json;
use slotkv_client::cmd;
use std::fs::{self, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a node may take to answer `PING` after it was started (it loads its AOF first).
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long the router may take to listen.
const ROUTER_DEADLINE: Duration = Duration::from_secs(5);

/// A binary that sits next to this one (`cargo build` puts them all in one folder).
fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.join(name);
    bin.is_file().then_some(bin)
}

/// The pid recorded in `file`, if that process still runs.
fn running_pid(file: &Path) -> Option<i32> {
    let pid: i32 = fs::read_to_string(file).ok()?.trim().parse().ok()?;
    alive(pid).then_some(pid)
}

/// Whether a process runs (a zombie waiting for its parent counts as gone).
fn alive(pid: i32) -> bool {
    let Some(p) = Pid::from_raw(pid) else { return false };
    if rustix::process::test_kill_process(p).is_err() {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: "Z" is a zombie.
        Ok(stat) => stat.rsplit_once(')').is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// The last lines of a log, to show why a process did not start.
fn tail(log: &Path, lines: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all.get(all.len().saturating_sub(lines)..).unwrap_or_default().join("\n")
}

fn spawn_detached(bin: &Path, args: &[String], log: &Path, pid_file: &Path) -> Res<Child> {
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: a Ctrl-C in the terminal that ran `slotkv up` does not reach it.
        .process_group(0)
        .spawn()
        .map_err(|e| Failure::Problem(format!("cannot start {}: {e}", bin.display())))?;
    fs::write(pid_file, format!("{}\n", child.id()))?;
    Ok(child)
}

async fn pings(addr: &str) -> bool {
    match Node::connect(addr).await {
        Ok(n) => n.q::<String>(&cmd("PING")).await.is_ok_and(|r| r == "PONG"),
        Err(_) => false,
    }
}

/// What `up` did with one node.
struct Started {
    addr: String,
    dir: PathBuf,
    pid: i32,
    fresh: bool,
}

pub async fn up(out: &Out, cfg: &Loaded) -> Res<()> {
    let Some(node_bin) = sibling("slotkv-node") else {
        return problem!(
            "slotkv-node is not next to this slotkv binary: build every binary first with `cargo build --release` \
             (then run target/release/slotkv up)"
        );
    };
    let c = &cfg.config;
    fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| Failure::Problem(format!("data dir {}: {e}", cfg.data_dir.display())))?;
    let mut started: Vec<(Started, Option<Child>)> = Vec::new();
    for (&port, addr) in c.nodes.ports.iter().zip(cfg.node_addrs()) {
        let dir = cfg.node_dir(port);
        fs::create_dir_all(&dir)?;
        let pid_file = dir.join("node.pid");
        if let Some(pid) = running_pid(&pid_file) {
            started.push((Started { addr, dir, pid, fresh: false }, None));
            continue;
        }
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            &c.host,
            "--dir",
            &dir.to_string_lossy(),
            "--cluster-enabled",
            "yes",
            "--appendonly",
            if c.nodes.appendonly { "yes" } else { "no" },
            "--appendfsync",
            c.nodes.appendfsync.as_str(),
            "--logfile",
            &dir.join("node.log").to_string_lossy(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(c.nodes.args.iter().cloned());
        let child = spawn_detached(&node_bin, &args, &dir.join("node.log"), &pid_file)?;
        let pid = i32::try_from(child.id()).unwrap_or(0);
        started.push((Started { addr, dir, pid, fresh: true }, Some(child)));
    }
    // Every node answers PING (or one exited: its log says why).
    let spinner = out.spinner("starting the nodes");
    let until = Instant::now() + START_DEADLINE;
    for (s, child) in &mut started {
        while !pings(&s.addr).await {
            if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                spinner.finish_and_clear();
                return problem!(
                    "the node on {} exited ({status}); the end of {}:\n{}",
                    s.addr,
                    s.dir.join("node.log").display(),
                    tail(&s.dir.join("node.log"), 10)
                );
            }
            if Instant::now() >= until {
                spinner.finish_and_clear();
                return problem!(
                    "the node on {} does not answer after {}s",
                    s.addr,
                    START_DEADLINE.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    spinner.finish_and_clear();
    // Fresh nodes (no other node known, no slot) are joined; a cluster that exists is only waited for.
    let addrs: Vec<String> = started.iter().map(|(s, _)| s.addr.clone()).collect();
    let mut blank = Vec::new();
    for a in &addrs {
        let v = view_of(a, None).await?;
        if v.lines.len() == 1 && v.me.ranges.is_empty() {
            blank.push(a.clone());
        }
    }
    if blank.len() == addrs.len() {
        let n = c.nodes.replicas;
        let with = if n > 0 {
            format!(" ({} masters, {n} replica(s) each)", addrs.len() / (n + 1))
        } else {
            String::new()
        };
        out.line(format!("Forming a new cluster of {} nodes{with}", addrs.len()));
        create::create(&out.quiet(), &addrs, n, true).await?;
    } else {
        for b in &blank {
            let existing = addrs.iter().find(|a| !blank.contains(a)).cloned().unwrap_or_default();
            match short_of_replicas(&existing, c.nodes.replicas).await? {
                Some((id, maddr)) => {
                    out.line(format!("{b} is new: adding it as a replica of {maddr}"));
                    create::add_node(&out.quiet(), b, &existing, Some(&id)).await?;
                }
                None => {
                    out.line(format!(
                        "{b} is new: adding it to the cluster (`slotkv rebalance` gives it slots)"
                    ));
                    create::add_node(&out.quiet(), b, &existing, None).await?;
                }
            }
        }
        let known = view_of(addrs.first().map(String::as_str).unwrap_or_default(), None).await?.members();
        create::wait_joined(&addrs, known, out, create::JOIN_DEADLINE).await?;
    }
    // Restarted replicas resync with their masters (a partial sync when the backlog allows).
    let cluster = Cluster::load(addrs.first().map(String::as_str).unwrap_or_default()).await?;
    let pairs: Vec<(String, String)> = replicas::replicas(&cluster)
        .into_iter()
        .filter(|r| addrs.contains(&r.addr))
        .map(|r| (r.addr, r.master))
        .collect();
    replicas::wait_linked(out, &pairs, &addrs, create::JOIN_DEADLINE).await?;
    let router = start_router(out, cfg, &addrs).await;
    let mut rows = Vec::new();
    for (s, _) in &started {
        let v = view_of(&s.addr, None).await?;
        let role = role_text(&cluster, &v.me);
        out.line(format!(
            "  {:<21} {}  pid {:<7} {:<9} {role:<30}  {}",
            s.addr,
            short(&v.me.id),
            s.pid,
            if s.fresh { "started" } else { "running" },
            s.dir.display()
        ));
        rows.push(json!({"addr": s.addr, "id": v.me.id, "pid": s.pid, "started": s.fresh,
            "role": if v.me.master_of().is_some() { "replica" } else { "master" },
            "master": v.me.master_of(), "slots": ranges_text(&v.me.slots()), "dir": s.dir}));
    }
    let first_port = c.nodes.ports.first().copied().unwrap_or(7000);
    let with =
        if pairs.is_empty() { String::new() } else { format!(" ({} replicas, links up)", pairs.len()) };
    out.line(format!("[OK] cluster_state:ok, {} nodes{with}", addrs.len()));
    match &router {
        Ok(Some(addr)) => {
            out.line(format!("router:  {addr}  (redis-cli -h {} -p {})", c.host, c.router.port))
        }
        Ok(None) => {}
        Err(note) => out.line(format!("router:  {note}")),
    }
    out.line(format!("connect: redis-cli -c -h {} -p {first_port}", c.host));
    out.line(format!(
        "stop:    slotkv down{}",
        cfg.file.as_ref().map(|f| format!(" -c {}", f.display())).unwrap_or_default()
    ));
    out.doc(&json!({"ok": true, "nodes": rows, "router": match &router {
        Ok(Some(a)) => json!({"addr": a}),
        Ok(None) => json!(null),
        Err(note) => json!({"skipped": note}),
    }}));
    Ok(())
}

/// `slots 0-5460` for a master, `replica of 127.0.0.1:7000` for a replica.
fn role_text(c: &Cluster, me: &NodeLine) -> String {
    match me.master_of() {
        Some(m) => {
            format!("replica of {}", c.known.get(m).map_or_else(|| short(m).to_string(), |l| l.addr.clone()))
        }
        None => format!("slots {}", ranges_text(&me.slots())),
    }
}

/// With `replicas` per master wanted, the master (id, address) that has the fewest replicas, when it
/// has fewer than that: a new node joins as its replica.
async fn short_of_replicas(entry: &str, replicas: usize) -> Res<Option<(String, String)>> {
    if replicas == 0 {
        return Ok(None);
    }
    let c = Cluster::load(entry).await?;
    Ok(replicas::shards(&c)
        .into_iter()
        .filter(|(m, _)| c.known.get(m).is_some_and(|l| !l.ranges.is_empty() && !l.is_unusable()))
        .min_by_key(|(_, r)| r.len())
        .filter(|(_, r)| r.len() < replicas)
        .map(|(m, _)| {
            let addr = c.known.get(&m).map(|l| l.addr.clone()).unwrap_or_default();
            (m, addr)
        }))
}

/// Starts the router when enabled and built; `Ok(None)`: disabled; `Err(note)`: why it is not running
/// (the cluster works without it, so this is a note, not a failure).
async fn start_router(out: &Out, cfg: &Loaded, nodes: &[String]) -> Result<Option<String>, String> {
    let c = &cfg.config;
    if !c.router.enabled {
        return Ok(None);
    }
    let addr = format!("{}:{}", c.host, c.router.port);
    let Some(bin) = sibling("slotkv-router") else {
        return Err("skipped: slotkv-router is not built (issue 9)".into());
    };
    let dir = cfg.router_dir();
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let pid_file = dir.join("router.pid");
    if running_pid(&pid_file).is_some() && pings(&addr).await {
        return Ok(Some(addr));
    }
    let log = dir.join("router.log");
    let args: Vec<String> = vec![
        "--port".into(),
        c.router.port.to_string(),
        "--bind".into(),
        c.host.clone(),
        "--seeds".into(),
        nodes.join(","),
    ];
    let mut child = spawn_detached(&bin, &args, &log, &pid_file).map_err(|e| e.to_string())?;
    let spinner = out.spinner("starting the router");
    let until = Instant::now() + ROUTER_DEADLINE;
    let result = loop {
        if pings(&addr).await {
            break Ok(Some(addr.clone()));
        }
        if let Ok(Some(status)) = child.try_wait() {
            let _ = fs::remove_file(&pid_file);
            let last = tail(&log, 1);
            break Err(format!("not running: slotkv-router exited ({status}): {last}"));
        }
        if Instant::now() >= until {
            break Err(format!("not answering on {addr} yet; see {}", log.display()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    spinner.finish_and_clear();
    result
}

/// Sends SIGTERM to the process of a pid file; its pid, if it was running.
fn terminate(pid_file: &Path) -> Result<Option<i32>, String> {
    let Some(pid) = running_pid(pid_file) else {
        let _ = fs::remove_file(pid_file);
        return Ok(None);
    };
    if let Some(p) = Pid::from_raw(pid) {
        rustix::process::kill_process(p, Signal::TERM).map_err(|e| format!("SIGTERM to pid {pid}: {e}"))?;
    }
    Ok(Some(pid))
}

/// Waits for `pid` to exit until `deadline`.
fn wait_exit(pid: i32, pid_file: &Path, deadline: Instant) -> Result<(), String> {
    while alive(pid) {
        if Instant::now() >= deadline {
            return Err(format!("pid {pid} did not exit after SIGTERM (kill -9 {pid} forces it)"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = fs::remove_file(pid_file);
    Ok(())
}

pub fn down(out: &Out, cfg: &Loaded, timeout: Duration) -> Res<()> {
    let deadline = Instant::now() + timeout;
    let mut targets: Vec<(String, PathBuf)> = vec![(
        format!("router {}:{}", cfg.config.host, cfg.config.router.port),
        cfg.router_dir().join("router.pid"),
    )];
    for (&p, addr) in cfg.config.nodes.ports.iter().zip(cfg.node_addrs()) {
        targets.push((format!("node {addr}"), cfg.node_dir(p).join("node.pid")));
    }
    // SIGTERM to all first, so that they shut down in parallel; then wait for each.
    let mut signalled = Vec::new();
    let mut failed = Vec::new();
    for (what, pid_file) in &targets {
        match terminate(pid_file) {
            Ok(Some(pid)) => signalled.push((what, pid_file, pid)),
            Ok(None) => {}
            Err(e) => failed.push(format!("{what}: {e}")),
        }
    }
    let mut rows = Vec::new();
    for (what, pid_file, pid) in signalled {
        match wait_exit(pid, pid_file, deadline) {
            Ok(()) => {
                out.line(format!("stopped {what} (pid {pid})"));
                rows.push(json!({"what": what, "pid": pid}));
            }
            Err(e) => failed.push(format!("{what}: {e}")),
        }
    }
    for f in &failed {
        out.line(format!("[ERR] {f}"));
    }
    if rows.is_empty() && failed.is_empty() {
        out.line("nothing was running");
    }
    out.doc(&json!({"ok": failed.is_empty(), "stopped": rows, "errors": failed}));
    if failed.is_empty() {
        Ok(())
    } else {
        problem!("{} process(es) did not stop", failed.len())
    }
}

pub async fn status(out: &Out, cfg: &Loaded) -> Res<()> {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    out.line(format!(
        "{:<21} {:<8} {:<7} {:<12} {:>5} {:>10} {:>10} {:>7}  state",
        "node", "id", "pid", "role", "slots", "keys", "memory", "ops/s"
    ));
    for (&p, addr) in cfg.config.nodes.ports.iter().zip(cfg.node_addrs()) {
        let pid = running_pid(&cfg.node_dir(p).join("node.pid"));
        let view = view_of(&addr, None).await;
        let info = match &view {
            Ok(v) => v.conn.info_map(&cmd("INFO")).await.unwrap_or_default(),
            Err(_) => Default::default(),
        };
        let get = |k: &str| info.get(k).cloned().unwrap_or_else(|| "-".into());
        let keys: i64 = match &view {
            Ok(v) => v.conn.q(&cmd("DBSIZE")).await.unwrap_or(0),
            Err(_) => 0,
        };
        match &view {
            Ok(v) => {
                let state = v.info.get("cluster_state").cloned().unwrap_or_default();
                if state != "ok" {
                    problems.push(format!("{addr}: cluster_state:{state}"));
                }
                // A replica's link state beside its role: `replica/up`.
                let role = match v.me.master_of() {
                    Some(_) => format!("replica/{}", get("master_link_status")),
                    None => "master".to_string(),
                };
                out.line(format!(
                    "{:<21} {:<8} {:<7} {:<12} {:>5} {:>10} {:>10} {:>7}  {}",
                    addr,
                    short(&v.me.id),
                    pid.map_or("-".into(), |p| p.to_string()),
                    role,
                    v.me.slot_count(),
                    keys,
                    get("used_memory_human"),
                    get("instantaneous_ops_per_sec"),
                    state
                ));
                rows.push(json!({"addr": addr, "id": v.me.id, "pid": pid, "up": true,
                    "role": if v.me.master_of().is_some() { "replica" } else { "master" },
                    "master": v.me.master_of(), "master_link_status": info.get("master_link_status"),
                    "slots": v.me.slot_count(),
                    "keys": keys, "used_memory": get("used_memory"), "ops_per_sec": get("instantaneous_ops_per_sec"),
                    "cluster_state": state}));
            }
            Err(e) => {
                problems.push(format!("{addr}: down ({e})"));
                out.line(format!(
                    "{addr:<21} {:<8} {:<7} down",
                    "-",
                    pid.map_or("-".into(), |p| p.to_string())
                ));
                rows.push(json!({"addr": addr, "pid": pid, "up": false}));
            }
        }
    }
    let router = if cfg.config.router.enabled {
        let addr = format!("{}:{}", cfg.config.host, cfg.config.router.port);
        let up = pings(&addr).await;
        out.line(format!("router {addr}: {}", if up { "up" } else { "not running" }));
        json!({"addr": addr, "up": up})
    } else {
        json!(null)
    };
    for p in &problems {
        out.line(format!("[ERR] {p}"));
    }
    out.doc(&json!({"ok": problems.is_empty(), "nodes": rows, "router": router, "problems": problems}));
    if problems.is_empty() {
        Ok(())
    } else {
        problem!("{} problem(s)", problems.len())
    }
}
