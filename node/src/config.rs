//! Settings, with Redis's names, meanings and defaults. Every setting is one row of [`SETTINGS`]: its
//! default, how its value is checked, whether `CONFIG SET` may change it at run time, and what it does.
//! Values are kept as their canonical strings (what `CONFIG GET` shows) and read into the typed
//! [`Config`] after every change.
//!
//! Sources, later ones winning: defaults, the config file (`name value...` lines, `#` comments, quoting as
//! in redis.conf), then `--name value...` arguments, exactly as `redis-server` takes them.

use crate::glob::glob_match;
use slotkv_proto::request::split_args;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug)]
pub enum Check {
    Bool,
    /// An integer within the bounds.
    Int(i64, i64),
    /// A memory size (`100mb`, `1gb`, bytes), stored as bytes.
    Memory,
    /// One of the words.
    Enum(&'static [&'static str]),
    /// Anything.
    Str,
    /// `save` rules: pairs of seconds and changes, or empty.
    Save,
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <soft seconds>` groups.
    OutputLimits,
}

pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub check: Check,
    pub mutable: bool,
    pub doc: &'static str,
}

const fn s(
    name: &'static str,
    default: &'static str,
    check: Check,
    mutable: bool,
    doc: &'static str,
) -> Setting {
    Setting { name, default, check, mutable, doc }
}

/// Every setting the node accepts. `docs/configuration.md` is generated from the same text.
pub const SETTINGS: &[Setting] = &[
    s("port", "6379", Check::Int(0, 65535), false, "TCP port to accept clients on; 0 disables TCP."),
    s(
        "bind",
        "127.0.0.1 -::1",
        Check::Str,
        false,
        "Addresses to listen on; a leading '-' makes one optional.",
    ),
    s("protected-mode", "yes", Check::Bool, true, "Without a password, accept clients only from loopback."),
    s(
        "requirepass",
        "",
        Check::Str,
        true,
        "Password clients must give with AUTH or HELLO AUTH; empty: none.",
    ),
    s("maxclients", "10000", Check::Int(1, 1_000_000), true, "Most clients connected at once."),
    s(
        "timeout",
        "0",
        Check::Int(0, i32::MAX as i64),
        true,
        "Close clients idle this many seconds; 0: never.",
    ),
    s("tcp-keepalive", "300", Check::Int(0, i32::MAX as i64), true, "TCP keepalive period in seconds."),
    s("tcp-backlog", "511", Check::Int(0, i32::MAX as i64), false, "Listen backlog."),
    s("dir", ".", Check::Str, false, "Working directory: data files and the cluster config go here."),
    s("logfile", "", Check::Str, false, "Log file; empty logs to standard output."),
    s(
        "loglevel",
        "notice",
        Check::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        true,
        "Log verbosity.",
    ),
    s("databases", "1", Check::Int(1, 1), false, "Databases: one, as in Redis Cluster (SELECT 0 only)."),
    s("daemonize", "no", Check::Enum(&["no"]), false, "Not supported: run under a supervisor instead."),
    s("hz", "10", Check::Int(1, 500), true, "Background task frequency (expiry cycle, stats) per second."),
    s("maxmemory", "0", Check::Memory, true, "Memory limit for data; 0: none. Past it, writes get -OOM."),
    s(
        "maxmemory-policy",
        "noeviction",
        Check::Enum(crate::evict::POLICY_NAMES),
        true,
        "What to do at maxmemory: refuse writes (noeviction) or evict keys, from all keys or only those with a \
         TTL, the least recently used (lru), least frequently used (lfu), at random, or nearest to expire (ttl).",
    ),
    s(
        "maxmemory-samples",
        "5",
        Check::Int(1, 64),
        true,
        "Keys sampled per eviction: more is closer to true LRU/LFU and costs more CPU.",
    ),
    s(
        "maxmemory-eviction-tenacity",
        "10",
        Check::Int(0, 100),
        true,
        "How long one eviction step may run before the command goes on and eviction resumes later (0: \
         about 50 us, 10: about 500 us, 100: unlimited).",
    ),
    s(
        "lfu-log-factor",
        "10",
        Check::Int(0, 1_000_000),
        true,
        "How slowly the LFU counter grows: with 10 it saturates (255) around a million hits.",
    ),
    s(
        "lfu-decay-time",
        "1",
        Check::Int(0, 1_000_000),
        true,
        "Minutes of idleness that take one off a key's LFU counter (0: it never decays).",
    ),
    s("proto-max-bulk-len", "512mb", Check::Memory, true, "Largest single argument a client may send."),
    s(
        "client-query-buffer-limit",
        "1gb",
        Check::Memory,
        true,
        "Largest unprocessed input a client may have.",
    ),
    s(
        "hash-max-listpack-entries",
        "512",
        Check::Int(0, i32::MAX as i64),
        true,
        "Hashes up to this many fields use the compact encoding.",
    ),
    s(
        "hash-max-listpack-value",
        "64",
        Check::Int(0, i32::MAX as i64),
        true,
        "...and fields and values up to this many bytes.",
    ),
    s(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Check::OutputLimits,
        true,
        "Per class (normal, replica, pubsub): close a client whose unsent output passes the hard limit, or stays over the soft limit for the seconds given; 0 disables.",
    ),
    s(
        "list-max-listpack-size",
        "-2",
        Check::Int(i32::MIN as i64, i32::MAX as i64),
        true,
        "Size of each packed list node: positive, at most this many elements; -1..-5, at most 4/8/16/32/64 KB.",
    ),
    s(
        "list-compress-depth",
        "0",
        Check::Int(0, 0),
        false,
        "List node compression: not supported, so 0 (off) only.",
    ),
    s(
        "set-max-intset-entries",
        "512",
        Check::Int(0, i32::MAX as i64),
        true,
        "Sets of integers only, up to this many members, use the intset encoding.",
    ),
    s(
        "set-max-listpack-entries",
        "128",
        Check::Int(0, i32::MAX as i64),
        true,
        "Other sets up to this many members use the compact encoding.",
    ),
    s(
        "set-max-listpack-value",
        "64",
        Check::Int(0, i32::MAX as i64),
        true,
        "...and members up to this many bytes.",
    ),
    s(
        "zset-max-listpack-entries",
        "128",
        Check::Int(0, i32::MAX as i64),
        true,
        "Sorted sets up to this many members use the compact encoding.",
    ),
    s(
        "zset-max-listpack-value",
        "64",
        Check::Int(0, i32::MAX as i64),
        true,
        "...and members up to this many bytes.",
    ),
    s(
        "save",
        "3600 1 300 100 60 10000",
        Check::Save,
        true,
        "Snapshot rules: pairs of <seconds> <changes>; a background snapshot starts when at least <changes> writes happened within <seconds>. Empty: no automatic snapshots (and none on shutdown).",
    ),
    s("dbfilename", "dump.rdb", Check::Str, true, "Snapshot file name in dir (slotkv's own format, see docs/snapshot-format.md)."),
    s(
        "stop-writes-on-bgsave-error",
        "yes",
        Check::Bool,
        true,
        "Refuse writes with -MISCONF while the last background snapshot failed (only with save rules).",
    ),
    s("rdbcompression", "yes", Check::Bool, true, "Accepted for redis.conf compatibility; snapshots are not compressed."),
    s("rdbchecksum", "yes", Check::Bool, true, "Accepted for redis.conf compatibility; snapshots are always checksummed."),
    s("appendonly", "no", Check::Bool, true, "Log every write to the append-only file; at start-up the AOF alone is loaded."),
    s(
        "appendfsync",
        "everysec",
        Check::Enum(&["always", "everysec", "no"]),
        true,
        "When the AOF reaches the disk: always (before the reply), everysec (once a second), no (when the OS decides).",
    ),
    s("appendfilename", "appendonly.aof", Check::Str, false, "AOF file name prefix (files <name>.<seq>.base.rdb, <name>.<seq>.incr.aof, <name>.manifest)."),
    s("appenddirname", "appendonlydir", Check::Str, false, "Directory in dir holding the AOF files."),
    s(
        "auto-aof-rewrite-percentage",
        "100",
        Check::Int(0, i32::MAX as i64),
        true,
        "Rewrite the AOF when it grew by this percent since the last rewrite; 0: never automatically.",
    ),
    s(
        "auto-aof-rewrite-min-size",
        "64mb",
        Check::Memory,
        true,
        "...and is at least this big.",
    ),
    s(
        "aof-load-truncated",
        "yes",
        Check::Bool,
        true,
        "Start even if the AOF ends in a truncated command (dropped with a warning); no: refuse to start.",
    ),
    s("aof-use-rdb-preamble", "yes", Check::Bool, true, "Accepted for compatibility; the AOF base is always a snapshot."),
    s("aof-timestamp-enabled", "no", Check::Enum(&["no"]), true, "Accepted for compatibility; only 'no'."),
    s(
        "key-load-delay",
        "0",
        Check::Int(0, i32::MAX as i64),
        true,
        "Testing aid: microseconds to pause per key or command while loading.",
    ),
    s("cluster-enabled", "no", Check::Bool, false, "Cluster mode: the node serves the hash slots it owns and redirects the rest."),
    s(
        "cluster-port",
        "0",
        Check::Int(0, 65535),
        false,
        "Cluster bus port; 0: the client port + 10000.",
    ),
    s(
        "cluster-require-full-coverage",
        "yes",
        Check::Bool,
        true,
        "With a slot unassigned, the whole cluster refuses keyed commands (-CLUSTERDOWN).",
    ),
    s(
        "cluster-allow-reads-when-down",
        "no",
        Check::Bool,
        true,
        "Serve reads while the cluster is down.",
    ),
    s("replicaof", "", Check::Str, false, "Start as a replica of this primary (`host port`); at run time use REPLICAOF."),
    s("masterauth", "", Check::Str, true, "Password a replica gives its primary (AUTH) when the primary has requirepass."),
    s("masteruser", "", Check::Str, true, "User name for masterauth (accepted; ACL users are a later wave)."),
    s("repl-backlog-size", "1mb", Check::Memory, true, "Bytes of the replication stream kept for replicas to resume after a short disconnection."),
    s("repl-backlog-ttl", "3600", Check::Int(0, i32::MAX as i64), true, "Seconds without replicas after which the backlog is freed; 0: never."),
    s("repl-diskless-sync", "yes", Check::Bool, true, "Accepted for compatibility: a full copy always goes straight to the replicas' sockets, never through a file."),
    s("repl-diskless-sync-delay", "5", Check::Int(0, i32::MAX as i64), true, "Seconds to wait for more replicas before a full copy starts, so that they share it."),
    s("repl-diskless-sync-max-replicas", "0", Check::Int(0, i32::MAX as i64), true, "Accepted for compatibility."),
    s("repl-diskless-load", "disabled", Check::Enum(&["disabled", "on-empty-db", "swapdb"]), true, "Accepted for compatibility: a replica always loads a full copy from the socket into a new keyspace while the old one serves (swapdb)."),
    s("repl-ping-replica-period", "10", Check::Int(1, i32::MAX as i64), true, "Seconds between the PINGs a primary sends its replicas."),
    s("repl-timeout", "60", Check::Int(1, i32::MAX as i64), true, "Seconds of silence after which a replication link is considered lost."),
    s("repl-disable-tcp-nodelay", "no", Check::Bool, true, "Accepted for compatibility: the link always sends at once."),
    s("replica-read-only", "yes", Check::Bool, true, "A replica refuses writes from clients with -READONLY."),
    s("replica-serve-stale-data", "yes", Check::Bool, true, "A replica whose link is down still answers reads."),
    s("replica-priority", "100", Check::Int(0, i32::MAX as i64), true, "Preference for promotion: lower is preferred; 0 never."),
    s("replica-announce-ip", "", Check::Str, true, "The IP address a replica gives its primary; empty: the connection's."),
    s("replica-announce-port", "0", Check::Int(0, 65535), true, "The port a replica gives its primary; 0: its own."),
    s("replica-lazy-flush", "yes", Check::Bool, true, "Accepted for compatibility: the keyspace a full copy replaces is always freed on another thread."),
    s("min-replicas-to-write", "0", Check::Int(0, i32::MAX as i64), true, "Refuse writes (-NOREPLICAS) unless this many replicas acknowledged within min-replicas-max-lag; 0: off."),
    s("min-replicas-max-lag", "10", Check::Int(0, i32::MAX as i64), true, "Seconds within which a replica must have acknowledged to count for min-replicas-to-write."),
    s("cluster-announce-ip", "", Check::Str, true, "The IP address this node gives peers and clients; empty: learned."),
    s("cluster-announce-port", "0", Check::Int(0, 65535), true, "The client port announced; 0: port."),
    s("cluster-announce-bus-port", "0", Check::Int(0, 65535), true, "The bus port announced; 0: cluster-port."),
    s(
        "cluster-config-file",
        "nodes.conf",
        Check::Str,
        false,
        "Where a cluster node keeps its view of the cluster.",
    ),
    s(
        "cluster-node-timeout",
        "15000",
        Check::Int(1, i64::MAX),
        true,
        "Milliseconds before a peer counts as failing.",
    ),
    s("cluster-replica-no-failover", "no", Check::Bool, true, "A replica never starts a failover of its master on its own (CLUSTER FAILOVER still works)."),
    s("cluster-replica-validity-factor", "10", Check::Int(0, i32::MAX as i64), true, "Accepted for compatibility: every replica may be elected."),
    s("cluster-allow-replica-migration", "yes", Check::Bool, true, "Accepted for compatibility: replicas do not migrate between masters on their own."),
    s(
        "notify-keyspace-events",
        "",
        Check::Enum(&[""]),
        true,
        "Keyspace notifications: none yet (they come with pub/sub, issue 4), so only the empty value.",
    ),
    s("lazyfree-lazy-user-del", "no", Check::Bool, true, "Accepted for compatibility; frees are immediate."),
    s(
        "lazyfree-lazy-user-flush",
        "no",
        Check::Bool,
        true,
        "Accepted for compatibility; frees are immediate.",
    ),
    s("io-threads", "1", Check::Int(1, 1), false, "One data thread by design."),
    s(
        "busy-reply-threshold",
        "5000",
        Check::Int(0, i64::MAX),
        true,
        "Milliseconds a script may run before other clients get -BUSY and SCRIPT KILL works (alias lua-time-limit).",
    ),
];

/// `docs/configuration.md`, made from [`SETTINGS`] (a test keeps the file in step with the table).
pub fn markdown() -> String {
    let mut md = String::from(
        "# slotkv-node settings\n\nGiven in a config file (`name value` lines, redis.conf style) or as `--name value` \
         arguments, as `redis-server` takes them; names and meanings are Redis's. `CONFIG SET` changes the \
         ones marked runtime. An unknown setting or a bad value stops the node at start with an error naming \
         it.\n\n| setting | default | runtime | what it does |\n| --- | --- | --- | --- |\n",
    );
    for s in SETTINGS {
        let default = if s.default.is_empty() { "\"\"" } else { s.default };
        md.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            s.name,
            default,
            if s.mutable { "yes" } else { "no" },
            s.doc
        ));
    }
    md
}

fn setting(name: &str) -> Option<&'static Setting> {
    let name =
        ALIASES.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(name)).map_or(name, |(_, real)| *real);
    SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Old names Redis still accepts.
const ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("slaveof", "replicaof"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-priority", "replica-priority"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
];

/// Parses a memory size the way Redis's `memtoull` does: `1k` is 1000, `1kb` is 1024, likewise m/mb, g/gb.
pub fn parse_memory(v: &str) -> Option<u64> {
    let lower = v.to_ascii_lowercase();
    let units: &[(&str, u64)] = &[
        ("kb", 1024),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("k", 1000),
        ("m", 1_000_000),
        ("g", 1_000_000_000),
        ("b", 1),
    ];
    let (digits, mul) =
        units.iter().find_map(|(u, m)| lower.strip_suffix(u).map(|d| (d, *m))).unwrap_or((lower.as_str(), 1));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// Checks a value against a setting and returns its canonical form, or the reason it is invalid.
fn canonical(set: &Setting, value: &str) -> Result<String, String> {
    match set.check {
        Check::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Check::Int(lo, hi) => match value.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n.to_string()),
            // Redis clamps hz into 1..=500 instead of refusing it, within the range of an int.
            Ok(n) if set.name == "hz" && (0..=i32::MAX as i64).contains(&n) => {
                Ok(n.clamp(lo, hi).to_string())
            }
            Ok(_) if set.name == "hz" => {
                Err(format!("argument must be between 0 and {} inclusive", i32::MAX))
            }
            Ok(_) => Err(format!("argument must be between {lo} and {hi} inclusive")),
            Err(_) => Err("argument couldn't be parsed into an integer".into()),
        },
        Check::Memory => {
            parse_memory(value).map(|n| n.to_string()).ok_or_else(|| "argument must be a memory value".into())
        }
        Check::Enum(words) => {
            let lower = value.to_ascii_lowercase();
            if words.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err(format!("argument(s) must be one of the following: {}", words.join(", ")))
            }
        }
        Check::Str => Ok(value.into()),
        Check::OutputLimits => output_limits(value).map(|l| {
            l.iter()
                .map(|(class, l)| format!("{class} {} {} {}", l.hard, l.soft, l.soft_secs))
                .collect::<Vec<_>>()
                .join(" ")
        }),
        Check::Save => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            if parts.is_empty() {
                Ok(String::new())
            } else if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.parse::<u64>().is_err()) {
                Err("Invalid save parameters".into())
            } else {
                Ok(parts.join(" "))
            }
        }
    }
}

/// Output buffer limits of one client class, in bytes; 0 disables a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

const OUTPUT_LIMITS_DEFAULT: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

/// Reads `client-output-buffer-limit`: the classes given replace those of the default, as Redis's
/// `CONFIG SET` replaces only the classes it names. `replica` is spelled `slave` in the canonical form.
fn output_limits(value: &str) -> Result<Vec<(&'static str, OutputLimit)>, String> {
    let parse = |v: &str| {
        parse_memory(v).ok_or_else(|| "Invalid hard or soft limit in buffer limit configuration".to_string())
    };
    let mut limits: Vec<(&'static str, OutputLimit)> = Vec::new();
    let words: Vec<&str> = OUTPUT_LIMITS_DEFAULT.split(' ').chain(value.split_whitespace()).collect();
    if !value.split_whitespace().count().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    for group in words.chunks(4) {
        let [class, hard, soft, secs] = group else { continue };
        let class = match class.to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        let secs = secs
            .parse::<u64>()
            .map_err(|_| "Invalid soft limit seconds in buffer limit configuration".to_string())?;
        let limit = OutputLimit { hard: parse(hard)?, soft: parse(soft)?, soft_secs: secs };
        match limits.iter_mut().find(|(c, _)| *c == class) {
            Some(slot) => slot.1 = limit,
            None => limits.push((class, limit)),
        }
    }
    Ok(limits)
}

/// A config-file value: quoted when empty or containing spaces or quotes.
fn quote(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '"', '\'', '\\']) {
        return v.to_string();
    }
    let mut q = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The typed view of the settings that the hot paths read.
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub requirepass: Option<Vec<u8>>,
    pub maxclients: usize,
    pub timeout_secs: u64,
    pub tcp_keepalive: u64,
    pub tcp_backlog: i32,
    pub dir: String,
    pub logfile: String,
    pub loglevel: String,
    pub hz: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: crate::evict::Policy,
    pub maxmemory_samples: usize,
    pub maxmemory_eviction_tenacity: u64,
    pub lfu_log_factor: u64,
    pub lfu_decay_time: u64,
    pub proto_max_bulk_len: usize,
    pub client_query_buffer_limit: usize,
    pub hash_max_entries: usize,
    pub hash_max_value: usize,
    pub list_max_listpack_size: i64,
    pub output_limit_normal: OutputLimit,
    pub output_limit_pubsub: OutputLimit,
    pub set_max_intset_entries: usize,
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// The config file the node started from, for `INFO` (`config_file`).
    pub config_file: Option<String>,
    /// `save` rules as (seconds, changes).
    pub save_rules: Vec<(u64, u64)>,
    pub dbfilename: String,
    pub stop_writes_on_bgsave_error: bool,
    pub appendonly: bool,
    pub appendfsync: String,
    pub appendfilename: String,
    pub appenddirname: String,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub aof_load_truncated: bool,
    pub key_load_delay_us: u64,
    pub cluster_enabled: bool,
    pub cluster_config_file: String,
    pub cluster_require_full_coverage: bool,
    pub cluster_allow_reads_when_down: bool,
    pub output_limit_replica: OutputLimit,
    /// `replicaof` at start-up: (host, port).
    pub replicaof: Option<(String, u16)>,
    pub masterauth: Option<String>,
    pub repl_backlog_size: usize,
    pub repl_backlog_ttl: u64,
    pub repl_diskless_sync_delay: u64,
    pub repl_ping_replica_period: u64,
    pub repl_timeout: u64,
    pub replica_read_only: bool,
    pub replica_priority: u64,
    pub replica_announce_ip: Option<String>,
    pub min_replicas_to_write: usize,
    pub min_replicas_max_lag: u64,
    pub cluster_replica_no_failover: bool,
}

impl Default for Config {
    fn default() -> Self {
        let values = SETTINGS
            .iter()
            .map(|s| (s.name, canonical(s, s.default).unwrap_or_else(|_| s.default.to_string())))
            .collect();
        let mut c = Config {
            values,
            port: 0,
            bind: Vec::new(),
            protected_mode: true,
            requirepass: None,
            maxclients: 0,
            timeout_secs: 0,
            tcp_keepalive: 0,
            tcp_backlog: 0,
            dir: String::new(),
            logfile: String::new(),
            loglevel: String::new(),
            hz: 10,
            maxmemory: 0,
            maxmemory_policy: crate::evict::Policy::NoEviction,
            maxmemory_samples: 5,
            maxmemory_eviction_tenacity: 10,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            hash_max_entries: 0,
            hash_max_value: 0,
            list_max_listpack_size: 0,
            output_limit_normal: OutputLimit::default(),
            output_limit_pubsub: OutputLimit::default(),
            set_max_intset_entries: 0,
            set_max_listpack_entries: 0,
            set_max_listpack_value: 0,
            zset_max_listpack_entries: 0,
            zset_max_listpack_value: 0,
            config_file: None,
            save_rules: Vec::new(),
            dbfilename: String::new(),
            stop_writes_on_bgsave_error: true,
            appendonly: false,
            appendfsync: String::new(),
            appendfilename: String::new(),
            appenddirname: String::new(),
            auto_aof_rewrite_percentage: 0,
            auto_aof_rewrite_min_size: 0,
            aof_load_truncated: true,
            key_load_delay_us: 0,
            cluster_enabled: false,
            cluster_config_file: String::new(),
            cluster_require_full_coverage: true,
            cluster_allow_reads_when_down: false,
            output_limit_replica: OutputLimit::default(),
            replicaof: None,
            masterauth: None,
            repl_backlog_size: 1 << 20,
            repl_backlog_ttl: 3600,
            repl_diskless_sync_delay: 5,
            repl_ping_replica_period: 10,
            repl_timeout: 60,
            replica_read_only: true,
            replica_priority: 100,
            replica_announce_ip: None,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            cluster_replica_no_failover: false,
        };
        c.refresh();
        c
    }
}

impl Config {
    /// Reads the command line: an optional config file first, then `--name value...` pairs.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut config = Config::default();
        let mut rest = args;
        if let Some(first) = args.first().filter(|a| !a.starts_with("--")) {
            let text = std::fs::read_to_string(first)
                .map_err(|e| format!("can't open config file '{first}': {e}"))?;
            config.load_text(&text).map_err(|e| format!("{first}: {e}"))?;
            config.config_file = Some(first.clone());
            rest = args.get(1..).unwrap_or_default();
        }
        // Each `--name` takes the words up to the next `--name`, as redis-server does.
        let mut i = 0;
        while i < rest.len() {
            let name = rest.get(i).map(String::as_str).unwrap_or_default();
            let Some(name) = name.strip_prefix("--") else {
                return Err(format!("unexpected argument '{name}': settings are given as --name value"));
            };
            let mut values = Vec::new();
            i += 1;
            while let Some(v) = rest.get(i).filter(|v| !v.starts_with("--") || v.len() == 2) {
                values.push(v.as_str());
                i += 1;
            }
            config.set(name, &values.join(" ")).map_err(|e| format!("--{name}: {e}"))?;
        }
        Ok(config)
    }

    /// Reads redis.conf-style text.
    pub fn load_text(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = Vec::new();
            split_args(line.as_bytes(), &mut words)
                .ok_or_else(|| format!("line {}: unbalanced quotes", n + 1))?;
            let mut words = words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned());
            let name = words.next().unwrap_or_default();
            let value: Vec<String> = words.collect();
            self.set(&name, &value.join(" ")).map_err(|e| format!("line {}: '{name}': {e}", n + 1))?;
        }
        Ok(())
    }

    /// Sets one setting (at start-up: mutability is checked by [`Config::set_runtime`]).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let set = setting(name).ok_or_else(|| "unknown setting".to_string())?;
        let value = canonical(set, value)?;
        self.values.insert(set.name, value);
        self.refresh();
        Ok(())
    }

    /// `CONFIG SET name value [name value...]`: all or nothing. The error is Redis's text.
    pub fn set_runtime(&mut self, pairs: &[(&str, &str)]) -> Result<(), String> {
        let mut staged = Vec::new();
        for (name, value) in pairs {
            let set = setting(name).ok_or_else(|| {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            })?;
            if !set.mutable {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
                ));
            }
            if staged.iter().any(|(n, _)| *n == set.name) {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
                ));
            }
            let value = canonical(set, value).map_err(|e| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}")
            })?;
            staged.push((set.name, value));
        }
        for (name, value) in staged {
            self.values.insert(name, value);
        }
        self.refresh();
        Ok(())
    }

    /// `CONFIG GET` for one glob pattern: matching names and values.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> = self
            .values
            .iter()
            .filter(|(name, _)| glob_match(pattern, name.as_bytes(), true))
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        for (alias, real) in ALIASES {
            if glob_match(pattern, alias.as_bytes(), true) {
                if let Some(v) = self.values.get(real) {
                    out.push((alias, v));
                }
            }
        }
        out
    }

    /// `CONFIG REWRITE`: `text` (the file) with every setting's line set to its current value.
    pub fn rewrite_text(&self, text: &str) -> String {
        let mut written = std::collections::HashSet::new();
        let mut out = String::new();
        for line in text.lines() {
            let first = line.split_whitespace().next().unwrap_or_default();
            match setting(first).filter(|_| !line.trim_start().starts_with('#')) {
                Some(set) if written.insert(set.name) => {
                    out.push_str(&format!(
                        "{} {}\n",
                        set.name,
                        quote(self.values.get(set.name).map_or("", |v| v))
                    ));
                }
                Some(_) => {}
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        for set in SETTINGS {
            let value = self.values.get(set.name).map_or("", |v| v.as_str());
            if !written.contains(set.name) && canonical(set, set.default).ok().as_deref() != Some(value) {
                out.push_str(&format!("{} {}\n", set.name, quote(value)));
            }
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(setting(name)?.name).map(String::as_str)
    }

    fn num(&self, name: &str) -> u64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    fn refresh(&mut self) {
        self.port = self.num("port") as u16;
        self.bind = self.get("bind").unwrap_or_default().split_whitespace().map(String::from).collect();
        self.protected_mode = self.get("protected-mode") == Some("yes");
        self.requirepass = self.get("requirepass").filter(|p| !p.is_empty()).map(|p| p.as_bytes().to_vec());
        self.maxclients = self.num("maxclients") as usize;
        self.timeout_secs = self.num("timeout");
        self.tcp_keepalive = self.num("tcp-keepalive");
        self.tcp_backlog = self.num("tcp-backlog").min(i32::MAX as u64) as i32;
        self.dir = self.get("dir").unwrap_or(".").to_string();
        self.logfile = self.get("logfile").unwrap_or_default().to_string();
        self.loglevel = self.get("loglevel").unwrap_or("notice").to_string();
        self.hz = self.num("hz").max(1);
        self.maxmemory = self.num("maxmemory");
        self.maxmemory_policy =
            crate::evict::Policy::parse(self.get("maxmemory-policy").unwrap_or_default()).unwrap_or_default();
        self.maxmemory_samples = self.num("maxmemory-samples").max(1) as usize;
        self.maxmemory_eviction_tenacity = self.num("maxmemory-eviction-tenacity");
        self.lfu_log_factor = self.num("lfu-log-factor");
        self.lfu_decay_time = self.num("lfu-decay-time");
        self.proto_max_bulk_len = self.num("proto-max-bulk-len") as usize;
        self.client_query_buffer_limit = self.num("client-query-buffer-limit") as usize;
        self.hash_max_entries = self.num("hash-max-listpack-entries") as usize;
        self.hash_max_value = self.num("hash-max-listpack-value") as usize;
        self.list_max_listpack_size =
            self.get("list-max-listpack-size").and_then(|v| v.parse().ok()).unwrap_or(-2);
        let limits =
            output_limits(self.get("client-output-buffer-limit").unwrap_or_default()).unwrap_or_default();
        let limit = |class| limits.iter().find(|(c, _)| *c == class).map(|(_, l)| *l).unwrap_or_default();
        self.output_limit_normal = limit("normal");
        self.output_limit_pubsub = limit("pubsub");
        self.set_max_intset_entries = self.num("set-max-intset-entries") as usize;
        self.set_max_listpack_entries = self.num("set-max-listpack-entries") as usize;
        self.set_max_listpack_value = self.num("set-max-listpack-value") as usize;
        self.zset_max_listpack_entries = self.num("zset-max-listpack-entries") as usize;
        self.zset_max_listpack_value = self.num("zset-max-listpack-value") as usize;
        let save: Vec<u64> =
            self.get("save").unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect();
        self.save_rules = save.chunks_exact(2).filter_map(|c| Some((*c.first()?, *c.get(1)?))).collect();
        self.dbfilename = self.get("dbfilename").unwrap_or("dump.rdb").to_string();
        self.stop_writes_on_bgsave_error = self.get("stop-writes-on-bgsave-error") == Some("yes");
        self.appendonly = self.get("appendonly") == Some("yes");
        self.appendfsync = self.get("appendfsync").unwrap_or("everysec").to_string();
        self.appendfilename = self.get("appendfilename").unwrap_or("appendonly.aof").to_string();
        self.appenddirname = self.get("appenddirname").unwrap_or("appendonlydir").to_string();
        self.auto_aof_rewrite_percentage = self.num("auto-aof-rewrite-percentage");
        self.auto_aof_rewrite_min_size = self.num("auto-aof-rewrite-min-size");
        self.aof_load_truncated = self.get("aof-load-truncated") == Some("yes");
        self.key_load_delay_us = self.num("key-load-delay");
        self.cluster_enabled = self.get("cluster-enabled") == Some("yes");
        self.cluster_config_file = self.get("cluster-config-file").unwrap_or("nodes.conf").to_string();
        self.cluster_require_full_coverage = self.get("cluster-require-full-coverage") == Some("yes");
        self.cluster_allow_reads_when_down = self.get("cluster-allow-reads-when-down") == Some("yes");
        self.output_limit_replica = limit("slave");
        self.replicaof = self.get("replicaof").and_then(|v| {
            let mut parts = v.split_whitespace();
            let host = parts.next()?.to_string();
            let port = parts.next()?.parse().ok()?;
            Some((host, port))
        });
        self.masterauth = self.get("masterauth").filter(|p| !p.is_empty()).map(String::from);
        self.repl_backlog_size = (self.num("repl-backlog-size") as usize).max(16 * 1024);
        self.repl_backlog_ttl = self.num("repl-backlog-ttl");
        self.repl_diskless_sync_delay = self.num("repl-diskless-sync-delay");
        self.repl_ping_replica_period = self.num("repl-ping-replica-period").max(1);
        self.repl_timeout = self.num("repl-timeout").max(1);
        self.replica_read_only = self.get("replica-read-only") == Some("yes");
        self.replica_priority = self.num("replica-priority");
        self.replica_announce_ip =
            self.get("replica-announce-ip").filter(|p| !p.is_empty()).map(String::from);
        self.min_replicas_to_write = self.num("min-replicas-to-write") as usize;
        self.min_replicas_max_lag = self.num("min-replicas-max-lag");
        self.cluster_replica_no_failover = self.get("cluster-replica-no-failover") == Some("yes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_are_redis_safe_defaults() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
        assert!(c.protected_mode);
        assert_eq!(c.maxclients, 10000);
        assert_eq!(c.proto_max_bulk_len, 512 << 20);
    }

    #[test]
    fn command_line_like_redis_server() {
        let c = Config::from_args(&args(&[
            "--port",
            "7000",
            "--dir",
            "/tmp",
            "--save",
            "",
            "--appendonly",
            "no",
        ]))
        .unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.dir, "/tmp");
        let c = Config::from_args(&args(&["--bind", "127.0.0.1", "::1", "--maxmemory", "100mb"])).unwrap();
        assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
        assert_eq!(c.maxmemory, 100 << 20);
        assert!(Config::from_args(&args(&["--nosuch", "1"])).unwrap_err().contains("unknown setting"));
        assert!(Config::from_args(&args(&["--port", "x"])).is_err());
        assert!(Config::from_args(&args(&["--appendonly", "maybe"])).is_err());
        let c = Config::from_args(&args(&["--save", "900 1 60 1000", "--appendonly", "yes"])).unwrap();
        assert_eq!(c.save_rules, vec![(900, 1), (60, 1000)]);
        assert!(c.appendonly);
        assert!(Config::from_args(&args(&["--save", "900"])).is_err());
        assert!(Config::from_args(&args(&["port"])).is_err());
    }

    #[test]
    fn config_file_then_arguments() {
        let dir = std::env::temp_dir().join(format!("slotkv-conf-{}", std::process::id()));
        std::fs::write(&dir, "# comment\nport 7001\nrequirepass \"se cret\"\nhash-max-ziplist-entries 7\n")
            .unwrap();
        let c = Config::from_args(&args(&[dir.to_str().unwrap(), "--port", "7002"])).unwrap();
        std::fs::remove_file(&dir).ok();
        assert_eq!(c.port, 7002);
        assert_eq!(c.requirepass.as_deref(), Some(&b"se cret"[..]));
        assert_eq!(c.hash_max_entries, 7);
    }

    #[test]
    fn runtime_set_is_all_or_nothing() {
        let mut c = Config::default();
        let err = c.set_runtime(&[("maxmemory", "1mb"), ("hz", "abc")]).unwrap_err();
        assert!(err.starts_with("ERR CONFIG SET failed (possibly related to argument 'hz')"), "{err}");
        assert_eq!(c.maxmemory, 0);
        c.set_runtime(&[("maxmemory", "1mb"), ("hz", "20")]).unwrap();
        assert_eq!((c.maxmemory, c.hz), (1 << 20, 20));
        assert!(c.set_runtime(&[("port", "1")]).unwrap_err().contains("immutable"));
        assert!(c.set_runtime(&[("nope", "1")]).unwrap_err().starts_with("ERR Unknown option"));
    }

    #[test]
    fn docs_match_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
        if std::env::var_os("SLOTKV_WRITE_DOCS").is_some() {
            std::fs::write(path, markdown()).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == markdown(),
            "docs/configuration.md is stale: run SLOTKV_WRITE_DOCS=1 cargo test -p slotkv-node"
        );
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2gb"), Some(2 << 30));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("mb"), None);
    }
}
