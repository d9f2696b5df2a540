//! Server commands: `INFO`, `CONFIG ...`, `DBSIZE`, `FLUSHALL`, `TIME`, `LASTSAVE`, `SHUTDOWN`.

use super::connection::{REDIS_VERSION, SLOTKV_VERSION};
use crate::error::{CmdError, CmdResult};
use crate::server::{Ctx, Shutdown, Stats};
use crate::types::is;
use std::fmt::Write;

/// Bytes as Redis's `bytesToHuman` prints them: `1000B`, `1.50K`, `2.00M`, `3.00G`.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    let k = 1024.0;
    if n < k {
        format!("{n}B")
    } else if n < k * k {
        format!("{:.2}K", n / k)
    } else if n < k * k * k {
        format!("{:.2}M", n / (k * k))
    } else {
        format!("{:.2}G", n / (k * k * k))
    }
}

/// User and system CPU seconds of this process, from /proc.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (ticks(11), ticks(12))
}

/// Every section, in Redis 7.2's order, and whether `INFO` with no argument includes it.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

pub fn info(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let wanted: Vec<String> =
        a.iter().skip(1).map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
    let everything = wanted.iter().any(|w| w == "all" || w == "everything");
    let defaults = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    ctx.srv.refresh_memory();
    let mut text = String::new();
    for (section, default) in SECTIONS {
        if !(everything || (defaults && *default) || wanted.iter().any(|w| w == section)) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(ctx, section, &mut text);
    }
    ctx.me.out.verbatim(text.as_bytes());
    Ok(())
}

fn write_section(ctx: &Ctx, section: &str, t: &mut String) {
    let srv = &*ctx.srv;
    let now = ctx.now;
    let uptime = srv.started.elapsed().as_secs();
    let _ = match section {
        "server" => writeln!(
            t,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n\
             redis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\n\
             monotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n\
             gcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\n\
             server_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\n\
             configured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n\
             slotkv_version:{SLOTKV_VERSION}\r",
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            srv.run_id,
            srv.tcp_port,
            now * 1000,
            uptime / 86400,
            srv.config.hz,
            srv.config.hz,
            (now / 1000) & ((1 << 24) - 1),
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            srv.config.config_file.as_deref().unwrap_or(""),
        ),
        "clients" => writeln!(
            t,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
             client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\n\
             tracking_clients:0\r\nclients_in_timeout_table:{}\r\ntotal_blocking_keys:{}\r\n\
             total_blocking_keys_on_nokey:0\r\npubsub_clients:{}\r\nwatching_clients:{}\r\ntotal_watched_keys:{}\r",
            srv.other_clients().count() + 1,
            srv.config.maxclients,
            srv.other_clients().filter(|c| c.blocked.is_some()).count(),
            srv.deadlines.len(),
            srv.waiters.len(),
            srv.other_clients().chain(std::iter::once(&*ctx.me)).filter(|c| c.subs.any()).count(),
            srv.other_clients().chain(std::iter::once(&*ctx.me)).filter(|c| !c.watched.is_empty()).count(),
            srv.watchers.len(),
        ),
        "memory" => {
            let rss = crate::memory::rss();
            writeln!(
                t,
                "# Memory\r\nused_memory:{}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
                 used_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_peak_human:{}\r\n\
                 allocator_resident:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\
                 mem_fragmentation_ratio:{:.2}\r\nmem_allocator:jemalloc-5.3.0\r\nlazyfree_pending_objects:0\r",
                srv.used_memory,
                human_bytes(srv.used_memory),
                human_bytes(rss),
                srv.used_memory_peak,
                human_bytes(srv.used_memory_peak),
                crate::memory::resident(),
                srv.config.maxmemory,
                human_bytes(srv.config.maxmemory),
                srv.config.get("maxmemory-policy").unwrap_or("noeviction"),
                rss as f64 / srv.used_memory.max(1) as f64,
            )
        }
        "persistence" => {
            t.push_str("# Persistence\r\n");
            crate::persist::info(srv, now, t);
            Ok(())
        }
        "stats" => {
            let s: &Stats = &srv.stats;
            writeln!(
                t,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
                 rejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\n\
                 keyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\n\
                 total_error_replies:{}\r",
                s.connections_received,
                s.commands_processed,
                s.ops_per_sec,
                s.net_input_bytes,
                s.net_output_bytes,
                s.rejected_connections,
                srv.db.expired_keys,
                srv.evict.evicted_keys,
                s.keyspace_hits,
                s.keyspace_misses,
                srv.channels.len(),
                srv.patterns.len(),
                srv.shard_channels.len(),
                s.total_error_replies,
            )
            .map(|()| crate::repl::info_stats(srv, t))
        }
        "replication" => {
            t.push_str("# Replication\r\n");
            crate::repl::info(srv, now, t);
            Ok(())
        }
        "cpu" => {
            let (user, sys) = cpu_seconds();
            writeln!(t, "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r")
        }
        "cluster" => {
            t.push_str("# Cluster\r\n");
            crate::cluster::info(srv, t);
            Ok(())
        }
        "modules" => writeln!(t, "# Modules\r"),
        "latencystats" => writeln!(t, "# Latencystats\r"),
        "errorstats" => {
            let _ = writeln!(t, "# Errorstats\r");
            srv.stats.errors.iter().try_for_each(|(code, n)| writeln!(t, "errorstat_{code}:count={n}\r"))
        }
        // Time per command is not measured (two clock reads per command would cost the hot path ~8%):
        // usec fields are 0.
        "commandstats" => {
            let _ = writeln!(t, "# Commandstats\r");
            slotkv_proto::COMMANDS
                .iter()
                .zip(srv.stats.commands.iter())
                .filter(|(_, s)| s.calls + s.rejected_calls > 0)
                .try_for_each(|(c, s)| {
                    writeln!(
                        t,
                        "cmdstat_{}:calls={},usec=0,usec_per_call=0.00,rejected_calls={},failed_calls={}\r",
                        c.name, s.calls, s.rejected_calls, s.failed_calls
                    )
                })
        }
        "keyspace" => {
            let _ = writeln!(t, "# Keyspace\r");
            if srv.db.is_empty() {
                Ok(())
            } else {
                writeln!(t, "db0:keys={},expires={},avg_ttl=0\r", srv.db.len(), srv.db.volatile())
            }
        }
        _ => Ok(()),
    };
    // Each section ends with "\r\n" from the writeln above ("\r" + "\n").
}

pub fn config_get(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let mut seen: Vec<&str> = Vec::new();
    let mut found: Vec<(String, String)> = Vec::new();
    for pattern in a.iter().skip(2) {
        let literal = !pattern.iter().any(|b| b"*?[\\".contains(b));
        for (name, value) in ctx.srv.config.matching(pattern) {
            if !seen.contains(&name) {
                seen.push(name);
                // A name asked for without wildcards comes back as the client spelled it, as in Redis.
                let shown =
                    if literal { String::from_utf8_lossy(pattern).into_owned() } else { name.to_string() };
                found.push((shown, value.to_string()));
            }
        }
    }
    let out = &mut ctx.me.out;
    out.map(found.len());
    for (n, v) in found {
        out.bulk(n.as_bytes());
        out.bulk(v.as_bytes());
    }
    Ok(())
}

pub fn config_set(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let rest = a.get(2..).unwrap_or_default();
    if !rest.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let owned: Vec<(String, String)> = rest
        .chunks_exact(2)
        .map(|p| {
            let s = |i: usize| String::from_utf8_lossy(p.get(i).copied().unwrap_or_default()).into_owned();
            (s(0), s(1))
        })
        .collect();
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    ctx.srv.config.set_runtime(&pairs).map_err(CmdError::Msg)?;
    for (name, _) in &pairs {
        if name.eq_ignore_ascii_case("loglevel") {
            crate::logging::set_level(&ctx.srv.config.loglevel);
        }
        if ["maxmemory-policy", "lfu-log-factor", "lfu-decay-time"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            ctx.srv.db.tracking = crate::evict::Tracking::of(&ctx.srv.config);
        }
        if name.eq_ignore_ascii_case("appendonly") || name.eq_ignore_ascii_case("appendfsync") {
            crate::persist::config_changed(ctx.srv, ctx.now)
                .map_err(|e| CmdError::Msg(format!("ERR Failed to set the AOF: {e}")))?;
        }
    }
    ctx.me.out.ok();
    Ok(())
}

pub fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.stats = Stats::default();
    ctx.srv.db.expired_keys = 0;
    ctx.srv.evict.evicted_keys = 0;
    ctx.me.out.ok();
    Ok(())
}

/// Rewrites the config file the node started from: lines of changed settings are updated in place,
/// settings missing from the file and not at their default are appended; comments stay.
pub fn config_rewrite(ctx: &mut Ctx) -> CmdResult {
    let Some(path) = ctx.srv.config.config_file.clone() else {
        return Err(CmdError::Static("ERR The server is running without a config file"));
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let rewritten = ctx.srv.config.rewrite_text(&text);
    let tmp = format!("{path}.tmp-{}", std::process::id());
    std::fs::write(&tmp, rewritten)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| CmdError::Msg(format!("ERR Rewriting config file: {e}")))?;
    ctx.me.out.ok();
    Ok(())
}

pub fn dbsize(ctx: &mut Ctx) -> CmdResult {
    ctx.me.out.int(ctx.srv.db.len() as i64);
    Ok(())
}

pub fn flushall(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    match a.get(1) {
        None => {}
        Some(m) if a.len() == 2 && (is(m, "async") || is(m, "sync")) => {}
        Some(_) => return Err(CmdError::Syntax),
    }
    ctx.srv.db.clear();
    ctx.me.out.ok();
    Ok(())
}

pub fn time(ctx: &mut Ctx) -> CmdResult {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let out = &mut ctx.me.out;
    out.array(2);
    out.bulk_int(since.as_secs() as i64);
    out.bulk_int(since.subsec_micros() as i64);
    Ok(())
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: writes and syncs the AOF, saves a snapshot when save
/// rules are set (or `SAVE`) unless `NOSAVE`, then exits. A failed save refuses the shutdown unless
/// `FORCE`, as in Redis.
pub fn shutdown(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let mut save = None;
    let mut force = false;
    for opt in a.iter().skip(1) {
        if is(opt, "save") {
            save = Some(true);
        } else if is(opt, "nosave") {
            save = Some(false);
        } else if is(opt, "abort") {
            return Err(CmdError::Static("ERR No shutdown in progress."));
        } else if is(opt, "force") {
            force = true;
        } else if !is(opt, "now") {
            return Err(CmdError::Syntax);
        }
    }
    if let Err(e) = crate::persist::on_shutdown(ctx.srv, save, ctx.now) {
        if !force {
            tracing::warn!("Errors trying to shut down the server: {e}");
            return Err(CmdError::Static("ERR Errors trying to SHUTDOWN. Check logs."));
        }
    }
    tracing::info!("user requested shutdown");
    ctx.srv.shutdown = Some(Shutdown::Requested);
    ctx.me.close_after_reply = true;
    Ok(())
}
