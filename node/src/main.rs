//! `slotkv-node [CONFIG_FILE] [--NAME VALUE]...`: starts like `redis-server` does.

use slotkv_node::{config::Config, logging, net};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--help" || a == "-h") {
        println!("Usage: slotkv-node [CONFIG_FILE] [--NAME VALUE]...\n       slotkv-node check-aof [--fix] FILE\n       slotkv-node check-snapshot FILE\nSettings use Redis's names; see docs/configuration.md.");
        return ExitCode::SUCCESS;
    }
    // Tools, as redis-check-aof and redis-check-rdb are modes of redis-server.
    match args.first().map(String::as_str) {
        Some("check-aof") => {
            return slotkv_node::persist::aof_file::check_cli(args.get(1..).unwrap_or_default())
        }
        Some("check-snapshot") => {
            return slotkv_node::persist::snapshot::check_cli(args.get(1..).unwrap_or_default())
        }
        _ => {}
    }
    if args.first().is_some_and(|a| a == "--version" || a == "-v") {
        println!("slotkv-node {} (redis_version 7.2.4)", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("*** FATAL CONFIG FILE ERROR *** {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = logging::init(&config.loglevel, &config.logfile) {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    match start(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

fn start(config: Config) -> Result<(), String> {
    if let Err(e) = std::env::set_current_dir(&config.dir) {
        return Err(format!("Can't chdir to '{}': {e}", config.dir));
    }
    raise_fd_limit(config.maxclients);
    let listeners = bind(&config)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(|e| format!("signal handler: {e}"))?;
    }
    tracing::info!(
        "slotkv-node {} starting, port {}, pid {}",
        env!("CARGO_PKG_VERSION"),
        config.port,
        std::process::id()
    );
    net::run(config, listeners, stop).map_err(|e| format!("event loop: {e}"))?;
    Ok(())
}

/// Binds every address of `bind`; one with a leading `-` may fail (e.g. no IPv6).
fn bind(config: &Config) -> Result<Vec<std::net::TcpListener>, String> {
    if config.port == 0 {
        return Ok(Vec::new());
    }
    let mut listeners = Vec::new();
    for addr in &config.bind {
        let (optional, host) = match addr.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, addr.as_str()),
        };
        let host = if host == "*" { "0.0.0.0" } else { host };
        let target = if host.contains(':') {
            format!("[{host}]:{}", config.port)
        } else {
            format!("{host}:{}", config.port)
        };
        match listen(&target, config.tcp_backlog) {
            Ok(l) => listeners.push(l),
            Err(e) if optional => tracing::debug!("optional bind {target} skipped: {e}"),
            Err(e) => {
                return Err(format!("Warning: Could not create server TCP listening socket {target}: {e}"))
            }
        }
    }
    if listeners.is_empty() {
        return Err("Failed listening on any address".into());
    }
    Ok(listeners)
}

/// A listening socket with `tcp-backlog` pending connections (std's `bind` fixes it at 128), so a burst
/// of connects waits in the kernel instead of being dropped.
fn listen(target: &str, backlog: i32) -> std::io::Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs;
    let addr = target
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Room for `maxclients` connections plus files of our own, as far as the hard limit allows.
fn raise_fd_limit(maxclients: usize) {
    let want = maxclients as u64 + 32;
    if let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() {
        if soft < want {
            let new = want.min(hard);
            if rlimit::Resource::NOFILE.set(new, hard).is_err() || new < want {
                tracing::warn!("open files limit {new} is below maxclients {maxclients} + 32");
            }
        }
    }
}
