//! A randomized test of persistence: what a node holds before a restart is exactly what it holds after.
//!
//! A node gets a few thousand random commands of every family (strings with every expiry option, keys with
//! `EXPIRE ... NX|XX|GT|LT`, `RENAME`, `COPY`, `DUMP`/`RESTORE` with a TTL, hashes with `HINCRBYFLOAT`,
//! lists with blocking pops served by a push from another connection, sets with `SPOP`, sorted sets with
//! `ZADD INCR` and the store commands, `MULTI`/`EXEC` blocks, a rare `FLUSHALL`). Some keys get short TTLs
//! and expire during the run, so the AOF holds the `DEL`s of expired keys too. Then the whole keyspace is
//! read ([`read_state`]: `SCAN`, and per key inside one `MULTI`: `TYPE`, `PEXPIRETIME` and the content in a
//! canonical order), the node is killed and restarted, and the keyspace is read again. Each key must have
//! the same type, content and absolute expiry (`PEXPIRETIME`, exact); a key may be missing afterwards only
//! if its expiry has passed by then.
//!
//! The tests:
//! - `aof_kill9`: `appendonly yes`, `appendfsync always`; kill -9, restart, compare; twice (the second
//!   run appends to the AOF the first restart loaded, and waits before the kill until every short TTL has
//!   passed, so the reload replays a history whose expiries are all in the past).
//! - `aof_rewrite`: the same with a few thousand extra keys (so that the rewrite's capture spans many
//!   event-loop ticks), `BGREWRITEAOF` in the middle of the run while commands continue, then a second
//!   rewrite with a `FLUSHALL` right behind it (the rewrite is dropped and runs again).
//! - `snapshot_bgsave`: `appendonly no`. The state is recorded, `BGSAVE` is sent from the same
//!   connection, and pipelined writes from another connection run while it saves; then kill -9, restart
//!   (from the snapshot alone), and the node must hold the recorded state, less the keys whose expiry has
//!   passed meanwhile.
//! - `aof_replays_keys_whose_ttl_passed_since`: the shrunk form of the first bug these runs found (below).
//!
//! # Known bug (open, reported; these tests fail until it is fixed)
//! Loading the AOF expires keys by the wall clock: a `PEXPIREAT k <t>` whose `t` has passed deletes `k` at
//! once, and a key whose expiry has passed reads as missing, while the commands after it in the log ran
//! when `k` was still alive (`RPUSH k b`, `PERSIST k`, `RPOPLPUSH k other`, `COPY k other`). Redis does
//! not expire while loading (expired keys are logged as `DEL` when they really go). `aof_rewrite` and
//! `aof_kill9` fail with many seeds (`aof_rewrite` with its default one); `PERSIST_MODEL_SHORT_TTL=0` avoids the bug.
//!
//! # Running
//! `cargo test -p slotkv-tests --test persist_model`. Environment:
//! - `PERSIST_MODEL_SEED=n` runs seed `n` (default: a fixed seed per test); a mismatch report names it.
//! - `PERSIST_MODEL_OPS=n` commands per phase (default 3000; each test runs a few phases).
//! - `PERSIST_MODEL_BULK=n` the extra keys of `aof_rewrite` and `snapshot_bgsave` (default 20000, 30000).
//! - `PERSIST_MODEL_SHORT_TTL=0` gives every TTL at least minutes, so no key expires during a run: to look
//!   for other bugs while one about expiries is open.
//! - `PERSIST_MODEL_BIN=/usr/bin/redis-server` runs the same test against Redis: it must pass, which shows
//!   that the comparison hides nothing Redis keeps and flags nothing Redis loses.
//!
//! A run is reproducible up to timing: TTLs are real time, so which keys have expired at a given command can
//! differ between runs of a seed.
//!
//! # What is not compared, and why
//! - `OBJECT ENCODING`: a loader may choose another encoding for the same content.
//! - Lex ranges (`ZRANGESTORE ... BYLEX`, `ZREMRANGEBYLEX`) only read `zl:0`, whose scores are all 0: on
//!   mixed scores their result depends on the skiplist's random levels, so a replay may legitimately differ.

use slotkv_tests::{info_field, node_bin, show, wait_for, Conn, Node, Reply};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Cmd = Vec<Vec<u8>>;

/// A command from arguments of any byte-string type.
macro_rules! cmd {
    ($($a:expr),* $(,)?) => { vec![$(AsRef::<[u8]>::as_ref(&$a).to_vec()),*] };
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// One argument for messages: escaped, long ones cut.
fn arg(a: &[u8]) -> String {
    if a.len() > 60 {
        format!("{}...({} bytes)", show(&a[..40]), a.len())
    } else {
        show(a)
    }
}

fn line(c: &[Vec<u8>]) -> String {
    c.iter().map(|a| arg(a)).collect::<Vec<_>>().join(" ")
}

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

// ---- pools ----

const STRINGS: &[&str] = &["s:0", "s:1", "s:2", "s:3"];
/// Strings that mostly hold numbers, for the INCR family.
const NUMS: &[&str] = &["n:0", "n:1", "n:2"];
const HASHES: &[&str] = &["h:0", "h:1", "h:2"];
const LISTS: &[&str] = &["l:0", "l:1", "l:2"];
const SETS: &[&str] = &["t:0", "t:1", "t:2"];
const ZSETS: &[&str] = &["z:0", "z:1", "z:2"];
/// Lists that blocking pops wait on: usually empty.
const QUEUES: &[&str] = &["q:0", "q:1", "q:2"];
/// Sorted sets that blocking pops wait on.
const ZQUEUES: &[&str] = &["zq:0", "zq:1"];
/// The only key lex ranges read: every score in it is 0. Nothing else writes to it.
const LEX: &str = "zl:0";
/// Keys of no fixed type: targets of RENAME, COPY, RESTORE and stores.
const MISC: &[&str] = &["x:0", "x:1", "x:2"];
/// Sources that feeds move from into a watched key: only feeds write them, so they keep their type.
const FEED_LIST: &str = "fl:0";
const FEED_ZSET: &str = "fz:0";
/// Every key that may exist (but `LEX` and the bulk keys).
const ALL: &[&str] = &[
    "s:0", "s:1", "s:2", "s:3", "n:0", "n:1", "n:2", "h:0", "h:1", "h:2", "l:0", "l:1", "l:2", "t:0", "t:1",
    "t:2", "z:0", "z:1", "z:2", "q:0", "q:1", "q:2", "zq:0", "zq:1", "x:0", "x:1", "x:2",
];

const WORDS: &[&str] = &["a", "b", "c", "d", "apple", "banana", "é", "a\0b", "\r\n", "x y"];
const INTS: &[&str] =
    &["0", "1", "2", "3", "-1", "42", "1000", "40000", "-70000", "3000000000", "9223372036854775807"];
const ODD: &[&str] = &["", "007", "3.5", "1e3", "99999999999999999999", "+1", "-0", " 1"];
const FIELDS: &[&str] = &["f0", "f1", "f2", "f3", "f4", "c0", "c1", "", "é"];
/// Increments: some with no short exact binary form, so the stored text matters.
const FLOATS: &[&str] =
    &["0.1", "1.5", "-0.25", "3", "1e3", "-1.1", "0.3333333333333333", "2.5e-3", "100", "7e-5"];
const SCORES: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.1",
    "1.5",
    "-2.25",
    "1e10",
    "3.3333333333333335",
    "inf",
    "-inf",
    "7",
    "42",
    "-0.5",
    "1e-7",
    "123456789.123",
];
const BOUNDS: &[&str] = &["-inf", "+inf", "0", "(0", "1", "(1", "1.5", "-1", "(42", "7", "1e10"];
const LEX_BOUNDS: &[&str] = &["-", "+", "[a", "(a", "[b", "(c", "[apple", "[m:1", "(m:2"];

/// The bulk keys' types, by `index % 5`.
const STR: usize = 0;
const HASH: usize = 1;
const LIST: usize = 2;
const SET: usize = 3;
const ZSET: usize = 4;

// ---- the generator ----

/// One unit of work: what the runner sends, and how.
enum Step {
    /// Commands sent one after the other on the main connection (a MULTI block is several).
    Cmds(Vec<Cmd>),
    /// `DUMP src`, then `RESTORE dst <ttl> <payload> <opts>` if it existed.
    Restore { src: String, dst: String, ttl: String, opts: Vec<String> },
    /// A blocking pop sent on the second connection, served by `feed` (on the main connection) when its keys
    /// are empty.
    Blocking { pop: Cmd, keys: Vec<String>, feed: Vec<Cmd> },
}

struct Gen {
    rng: fastrand::Rng,
    /// Keys `b:0` to `b:{bulk-1}` exist (type by index % 5) and commands sometimes pick them.
    bulk: usize,
    /// Percent of key choices that go to a bulk key.
    bulk_pct: u32,
    /// Whether `FLUSHALL` may come up.
    flushall: bool,
    /// Only `Step::Cmds` (a pipelined writer cannot wait for replies).
    simple_only: bool,
    /// Whether TTLs may be short enough to pass during the run (`PERSIST_MODEL_SHORT_TTL=0` turns them off).
    short_ttls: bool,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: fastrand::Rng::with_seed(seed),
            bulk: 0,
            bulk_pct: 0,
            flushall: true,
            simple_only: false,
            short_ttls: env_num("PERSIST_MODEL_SHORT_TTL", 1) != 0,
        }
    }

    fn pct(&mut self, percent: u32) -> bool {
        self.rng.u32(0..100) < percent
    }

    fn pick(&mut self, pool: &[&str]) -> String {
        pool.get(self.rng.usize(..pool.len())).map_or_else(String::new, |s| s.to_string())
    }

    fn bulk_key(&mut self, kind: usize) -> Option<String> {
        (self.bulk >= 5).then(|| format!("b:{}", self.rng.usize(..self.bulk / 5) * 5 + kind))
    }

    /// A key of the wanted kind: mostly from `pool`, sometimes a bulk key of that kind, any key, or a misc key.
    fn key(&mut self, pool: &[&str], kind: usize) -> String {
        if self.pct(self.bulk_pct) {
            if let Some(k) = self.bulk_key(kind) {
                return k;
            }
        }
        match self.rng.u32(0..100) {
            0..=83 => self.pick(pool),
            84..=93 => self.pick(ALL),
            _ => self.pick(MISC),
        }
    }

    /// Any key, for the generic commands.
    fn any_key(&mut self) -> String {
        let kind = self.rng.usize(..5);
        self.key(ALL, kind)
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.u32(0..100) {
            0..=39 => self.pick(WORDS).into_bytes(),
            40..=64 => self.pick(INTS).into_bytes(),
            65..=74 => self.rng.u32(0..300).to_string().into_bytes(),
            75..=86 => format!("m:{}", self.rng.u32(0..300)).into_bytes(),
            87..=94 => {
                let c = self.rng.alphanumeric();
                std::iter::repeat_n(c, self.rng.usize(65..400)).collect::<String>().into_bytes()
            }
            95..=98 => self.pick(ODD).into_bytes(),
            _ => (0..self.rng.usize(1000..20000)).map(|_| self.rng.u8(..)).collect(),
        }
    }

    fn values(&mut self, max: usize) -> Vec<Vec<u8>> {
        (0..self.rng.usize(1..=max)).map(|_| self.value()).collect()
    }

    /// Now and then many values at once, so collections pass the listpack limits (128 entries).
    fn many(&mut self) -> Option<Vec<Vec<u8>>> {
        self.pct(4).then(|| {
            (0..self.rng.usize(100..300))
                .map(|_| format!("m:{}", self.rng.u32(0..2000)).into_bytes())
                .collect()
        })
    }

    fn count(&mut self) -> String {
        match self.rng.u32(0..100) {
            0..=79 => self.rng.u32(1..=4).to_string(),
            80..=89 => "0".into(),
            90..=95 => "100".into(),
            _ => "-1".into(),
        }
    }

    /// A TTL in ms: mostly long, often short enough to pass during the run.
    fn ttl_ms(&mut self) -> i64 {
        let short = self.pct(25);
        if short && self.short_ttls {
            self.rng.i64(30..2500)
        } else {
            self.rng.i64(200_000..50_000_000)
        }
    }

    /// `EX s | PX ms | EXAT t | PXAT t` for SET and GETEX (never in the past: SET refuses that).
    fn expiry_opt(&mut self) -> [String; 2] {
        let ms = self.ttl_ms();
        let secs = (ms / 1000).max(1);
        match self.rng.u32(0..4) {
            0 => ["EX".into(), secs.to_string()],
            1 => ["PX".into(), ms.to_string()],
            2 => ["EXAT".into(), (now_ms() / 1000 + secs + 1).to_string()],
            _ => ["PXAT".into(), (now_ms() + ms).to_string()],
        }
    }

    /// EXPIRE, PEXPIRE, EXPIREAT or PEXPIREAT, sometimes in the past (the key is deleted), sometimes with a
    /// condition.
    fn expire(&mut self, key: String) -> Cmd {
        let ms = if self.pct(10) { -self.rng.i64(0..5000) } else { self.ttl_ms() };
        let secs = if ms > 0 { (ms / 1000).max(1) } else { ms / 1000 };
        let (name, arg) = match self.rng.u32(0..4) {
            0 => ("EXPIRE", secs),
            1 => ("PEXPIRE", ms),
            2 => ("EXPIREAT", now_ms() / 1000 + secs + i64::from(ms > 0)),
            _ => ("PEXPIREAT", now_ms() + ms),
        };
        let mut c = cmd![name, key, arg.to_string()];
        if self.pct(40) {
            c.push(self.pick(&["NX", "XX", "GT", "LT"]).into_bytes());
        }
        c
    }

    fn next(&mut self) -> Step {
        let roll = self.rng.u32(0..1000);
        if self.flushall && roll == 0 && self.pct(50) {
            let c = match self.rng.u32(0..4) {
                0 => cmd!["FLUSHDB"],
                1 => cmd!["FLUSHALL", "SYNC"],
                _ => cmd!["FLUSHALL"],
            };
            return Step::Cmds(vec![c]);
        }
        if !self.simple_only {
            match roll {
                1..=45 => return self.blocking(),
                46..=65 => return self.restore(),
                _ => {}
            }
        }
        if roll >= 940 {
            return Step::Cmds(self.multi());
        }
        Step::Cmds(vec![self.one()])
    }

    /// One command of any family (no blocking step, no MULTI).
    fn one(&mut self) -> Cmd {
        match self.rng.u32(0..100) {
            0..=19 => self.string_op(),
            20..=33 => self.key_op(),
            34..=46 => self.hash_op(),
            47..=62 => self.list_op(),
            63..=77 => self.set_op(),
            _ => self.zset_op(),
        }
    }

    fn multi(&mut self) -> Vec<Cmd> {
        let mut out = vec![cmd!["MULTI"]];
        for _ in 0..self.rng.usize(1..=4) {
            let c = if self.pct(8) {
                // A blocking pop inside MULTI runs as its non-blocking twin.
                let k = self.pick(QUEUES);
                cmd![self.pick(&["BLPOP", "BRPOP"]), k, "0"]
            } else {
                self.one()
            };
            out.push(c);
        }
        if self.pct(4) {
            // Queued with an error: EXEC aborts and nothing runs.
            let at = self.rng.usize(1..out.len());
            out.insert(at, cmd!["NOSUCHCOMMAND", "x"]);
        }
        out.push(if self.pct(8) { cmd!["DISCARD"] } else { cmd!["EXEC"] });
        out
    }

    fn string_op(&mut self) -> Cmd {
        let k = self.key(STRINGS, STR);
        let n = self.key(NUMS, STR);
        match self.rng.u32(0..24) {
            0..=5 => {
                // Options in any order.
                let mut opts: Vec<Cmd> = Vec::new();
                match self.rng.u32(0..10) {
                    0..=3 => opts.push(self.expiry_opt().map(String::into_bytes).to_vec()),
                    4..=5 => opts.push(cmd!["KEEPTTL"]),
                    _ => {}
                }
                if self.pct(25) {
                    opts.push(cmd![self.pick(&["NX", "XX"])]);
                }
                if self.pct(20) {
                    opts.push(cmd!["GET"]);
                }
                self.rng.shuffle(&mut opts);
                let mut c = cmd!["SET", k, self.value()];
                c.extend(opts.into_iter().flatten());
                c
            }
            6 => cmd!["SETNX", k, self.value()],
            7 => {
                let secs = (self.ttl_ms() / 1000).max(1);
                cmd!["SETEX", k, secs.to_string(), self.value()]
            }
            8 => cmd!["PSETEX", k, self.ttl_ms().to_string(), self.value()],
            9 => cmd!["GETSET", k, self.value()],
            10 => {
                let k2 = self.key(STRINGS, STR);
                cmd![self.pick(&["MSET", "MSETNX"]), k, self.value(), k2, self.value()]
            }
            11..=12 => {
                let mut c = cmd!["GETEX", k];
                match self.rng.u32(0..3) {
                    0 => c.extend(self.expiry_opt().map(String::into_bytes)),
                    1 => c.push(b"PERSIST".to_vec()),
                    _ => {}
                }
                c
            }
            13 => cmd!["GETDEL", k],
            14 => cmd!["SET", n, self.pick(INTS)],
            15..=16 => match self.rng.u32(0..4) {
                0 => cmd!["INCR", n],
                1 => cmd!["DECR", n],
                2 => cmd!["INCRBY", n, self.rng.i64(-1000..1000).to_string()],
                _ => cmd!["DECRBY", n, self.rng.i64(-1000..1000).to_string()],
            },
            17..=19 => cmd!["INCRBYFLOAT", n, self.pick(FLOATS)],
            20..=21 => cmd!["APPEND", k, self.value()],
            _ => {
                let off = if self.pct(90) { self.rng.u32(0..20) } else { self.rng.u32(100..3000) };
                cmd!["SETRANGE", k, off.to_string(), self.value()]
            }
        }
    }

    fn key_op(&mut self) -> Cmd {
        let k = self.any_key();
        match self.rng.u32(0..20) {
            0..=6 => self.expire(k),
            7..=8 => cmd!["PERSIST", k],
            9..=10 => cmd![self.pick(&["RENAME", "RENAME", "RENAMENX"]), k, self.any_key()],
            11..=12 => {
                let mut c = cmd!["COPY", k, self.any_key()];
                if self.pct(50) {
                    c.push(b"REPLACE".to_vec());
                }
                c
            }
            13..=14 => {
                let mut c = cmd![self.pick(&["DEL", "UNLINK"]), k];
                if self.pct(30) {
                    c.push(self.any_key().into_bytes());
                }
                c
            }
            // Reads find expired keys (logged as DEL).
            _ => cmd![self.pick(&["EXISTS", "TYPE", "PTTL", "GET", "TTL"]), k],
        }
    }

    fn hash_op(&mut self) -> Cmd {
        let k = self.key(HASHES, HASH);
        match self.rng.u32(0..20) {
            0..=5 => {
                let mut c = cmd![self.pick(&["HSET", "HSET", "HMSET"]), k];
                if let Some(many) = self.many() {
                    for (i, v) in many.into_iter().enumerate() {
                        c.push(format!("g{i}").into_bytes());
                        c.push(v);
                    }
                } else {
                    for _ in 0..self.rng.usize(1..=3) {
                        c.push(self.pick(FIELDS).into_bytes());
                        c.push(self.value());
                    }
                }
                c
            }
            6 => cmd!["HSETNX", k, self.pick(FIELDS), self.value()],
            7..=9 => {
                let mut c = cmd!["HDEL", k, self.pick(FIELDS)];
                if self.pct(30) {
                    c.push(self.pick(FIELDS).into_bytes());
                }
                c
            }
            10..=12 => {
                cmd!["HINCRBY", k, self.pick(&["c0", "c1", "f0"]), self.rng.i64(-100..100).to_string()]
            }
            13..=17 => cmd!["HINCRBYFLOAT", k, self.pick(&["c0", "c1", "c2", "f0"]), self.pick(FLOATS)],
            _ => cmd!["HGETALL", k],
        }
    }

    fn list_op(&mut self) -> Cmd {
        let k = self.key(LISTS, LIST);
        let side = |g: &mut Gen| g.pick(&["LEFT", "RIGHT"]);
        match self.rng.u32(0..30) {
            0..=6 => {
                let mut c = cmd![self.pick(&["LPUSH", "RPUSH"]), k];
                c.extend(self.many().unwrap_or_else(|| self.values(4)));
                c
            }
            7 => {
                let mut c = cmd![self.pick(&["LPUSHX", "RPUSHX"]), k];
                c.extend(self.values(3));
                c
            }
            8..=10 => {
                let mut c = cmd![self.pick(&["LPOP", "RPOP"]), k];
                if self.pct(50) {
                    c.push(self.count().into_bytes());
                }
                c
            }
            11 => cmd!["LSET", k, self.rng.i32(-4..4).to_string(), self.value()],
            12 => cmd!["LINSERT", k, self.pick(&["BEFORE", "AFTER"]), self.value(), self.value()],
            13 => cmd!["LREM", k, self.pick(&["0", "1", "-1", "2"]), self.value()],
            14 => cmd!["LTRIM", k, self.rng.i32(-2..=2).to_string(), self.rng.i32(-1..=15).to_string()],
            15..=17 => {
                let dst = if self.pct(20) { self.pick(QUEUES) } else { self.key(LISTS, LIST) };
                cmd!["LMOVE", k, dst, side(self), side(self)]
            }
            18..=19 => cmd!["RPOPLPUSH", k, self.key(LISTS, LIST)],
            20..=22 => {
                let k2 = self.key(LISTS, LIST);
                let mut c = cmd!["LMPOP", "2", k, k2, side(self)];
                if self.pct(50) {
                    c.extend(cmd!["COUNT", self.rng.u32(1..5).to_string()]);
                }
                c
            }
            23 => {
                let mut c = cmd!["RPUSH", self.pick(QUEUES)];
                c.extend(self.values(2));
                c
            }
            _ => {
                let mut c = cmd!["RPUSH", k];
                c.extend(self.values(6));
                c
            }
        }
    }

    fn set_member(&mut self) -> Vec<u8> {
        if self.pct(40) {
            self.pick(INTS).into_bytes()
        } else {
            self.value()
        }
    }

    fn set_op(&mut self) -> Cmd {
        let k = self.key(SETS, SET);
        match self.rng.u32(0..26) {
            0..=7 => {
                let mut c = cmd!["SADD", k];
                match self.many() {
                    Some(many) => c.extend(many),
                    None => {
                        for _ in 0..self.rng.usize(1..=5) {
                            c.push(self.set_member());
                        }
                    }
                }
                c
            }
            8..=9 => cmd!["SREM", k, self.set_member(), self.set_member()],
            10..=14 => {
                let mut c = cmd!["SPOP", k];
                if self.pct(50) {
                    c.push(self.count().into_bytes());
                }
                c
            }
            15..=17 => cmd!["SMOVE", k, self.key(SETS, SET), self.set_member()],
            18..=22 => {
                let name = self.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]);
                let dst = self.key(SETS, SET);
                let mut c = cmd![name, dst, k];
                for _ in 0..self.rng.usize(0..=2) {
                    c.push(self.key(SETS, SET).into_bytes());
                }
                c
            }
            _ => cmd!["SRANDMEMBER", k, "3"],
        }
    }

    fn zset_op(&mut self) -> Cmd {
        let k = self.key(ZSETS, ZSET);
        let mm = |g: &mut Gen| g.pick(&["MIN", "MAX"]);
        match self.rng.u32(0..40) {
            0..=9 => {
                let mut c = cmd!["ZADD", k];
                let mut opts = Vec::new();
                if self.pct(15) {
                    opts.push(self.pick(&["NX", "XX"]));
                }
                if self.pct(15) && !opts.iter().any(|o| o == "NX") {
                    opts.push(self.pick(&["GT", "LT"]));
                }
                if self.pct(20) {
                    opts.push("CH".into());
                }
                let incr = self.pct(15);
                if incr {
                    opts.push("INCR".into());
                }
                c.extend(opts.into_iter().map(String::into_bytes));
                if let (false, Some(many)) = (incr, self.many()) {
                    for (i, m) in many.into_iter().enumerate() {
                        c.push(format!("{}.25", i % 17).into_bytes());
                        c.push(m);
                    }
                } else {
                    for _ in 0..(if incr { 1 } else { self.rng.usize(1..=4) }) {
                        c.push(self.pick(SCORES).into_bytes());
                        c.push(self.value());
                    }
                }
                c
            }
            10..=12 => cmd!["ZINCRBY", k, self.pick(SCORES), self.value()],
            13..=14 => cmd!["ZREM", k, self.value(), self.value()],
            15..=18 => {
                let mut c = cmd![self.pick(&["ZPOPMIN", "ZPOPMAX"]), k];
                if self.pct(50) {
                    c.push(self.count().into_bytes());
                }
                c
            }
            19..=20 => {
                let k2 = self.key(ZSETS, ZSET);
                let mut c = cmd!["ZMPOP", "2", k, k2, mm(self)];
                if self.pct(50) {
                    c.extend(cmd!["COUNT", self.rng.u32(1..5).to_string()]);
                }
                c
            }
            21..=25 => {
                let dst = self.key(ZSETS, ZSET);
                let by = self.rng.u32(0..3);
                let mut c = match by {
                    0 => {
                        let (start, stop) = (self.rng.i32(-3..3), self.rng.i32(-2..10));
                        cmd!["ZRANGESTORE", dst, k, start.to_string(), stop.to_string()]
                    }
                    1 => cmd!["ZRANGESTORE", dst, k, self.pick(BOUNDS), self.pick(BOUNDS), "BYSCORE"],
                    _ => cmd!["ZRANGESTORE", dst, LEX, self.pick(LEX_BOUNDS), self.pick(LEX_BOUNDS), "BYLEX"],
                };
                if self.pct(30) {
                    c.push(b"REV".to_vec());
                }
                if by > 0 && self.pct(30) {
                    c.extend(cmd!["LIMIT", self.rng.u32(0..3).to_string(), self.pick(&["-1", "1", "3"])]);
                }
                c
            }
            26..=31 => {
                let name = self.pick(&["ZUNIONSTORE", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]);
                let dst = self.key(ZSETS, ZSET);
                let mut srcs = vec![k];
                for _ in 0..self.rng.usize(0..=2) {
                    // A set counts as scores of 1.
                    srcs.push(if self.pct(15) { self.key(SETS, SET) } else { self.key(ZSETS, ZSET) });
                }
                let mut c = cmd![name, dst, srcs.len().to_string()];
                c.extend(srcs.iter().map(|s| s.clone().into_bytes()));
                if name != "ZDIFFSTORE" {
                    if self.pct(40) {
                        c.push(b"WEIGHTS".to_vec());
                        for _ in 0..srcs.len() {
                            c.push(self.pick(&["1", "2", "0.5", "0.1", "-1", "3"]).into_bytes());
                        }
                    }
                    if self.pct(30) {
                        c.extend(cmd!["AGGREGATE", self.pick(&["SUM", "MIN", "MAX"])]);
                    }
                }
                c
            }
            32 => {
                cmd!["ZREMRANGEBYRANK", k, self.rng.i32(-3..3).to_string(), self.rng.i32(-3..3).to_string()]
            }
            33 => cmd!["ZREMRANGEBYSCORE", k, self.pick(BOUNDS), self.pick(BOUNDS)],
            34..=36 => {
                let mut c = cmd!["ZADD", LEX];
                for _ in 0..self.rng.usize(1..=3) {
                    c.push(b"0".to_vec());
                    c.push(self.value());
                }
                c
            }
            37 => cmd!["ZREMRANGEBYLEX", LEX, self.pick(LEX_BOUNDS), self.pick(LEX_BOUNDS)],
            _ => cmd!["ZPOPMIN", LEX],
        }
    }

    fn restore(&mut self) -> Step {
        let src = self.any_key();
        let dst = self.any_key();
        let mut opts = Vec::new();
        let ttl = match self.rng.u32(0..10) {
            0..=3 => "0".to_string(),
            4..=7 => self.ttl_ms().to_string(),
            _ => {
                opts.push("ABSTTL".to_string());
                // Sometimes in the past: the key is not created (or is deleted with REPLACE).
                let ms = if self.pct(30) { -self.rng.i64(1..5000) } else { self.ttl_ms() };
                (now_ms() + ms).to_string()
            }
        };
        if self.pct(60) {
            opts.push("REPLACE".into());
        }
        if self.pct(10) {
            opts.extend(["IDLETIME".to_string(), "100".to_string()]);
        }
        Step::Restore { src, dst, ttl, opts }
    }

    fn blocking(&mut self) -> Step {
        let value = |g: &mut Gen| g.value();
        if self.pct(65) {
            // Lists.
            let mut keys = vec![self.pick(QUEUES)];
            if self.pct(40) {
                let k = self.pick(QUEUES);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            if self.pct(10) {
                keys.push(self.pick(LISTS));
            }
            let side = |g: &mut Gen| g.pick(&["LEFT", "RIGHT"]);
            let first = keys.first().cloned().unwrap_or_default();
            let pop =
                match self.rng.u32(0..6) {
                    0 => [cmd!["BLPOP"], keys.iter().map(|k| k.clone().into_bytes()).collect(), cmd!["5"]]
                        .concat(),
                    1 => [cmd!["BRPOP"], keys.iter().map(|k| k.clone().into_bytes()).collect(), cmd!["5"]]
                        .concat(),
                    2 => {
                        keys.truncate(1);
                        cmd!["BLMOVE", first, self.key(LISTS, LIST), side(self), side(self), "5"]
                    }
                    3 => {
                        keys.truncate(1);
                        cmd!["BRPOPLPUSH", first, self.key(LISTS, LIST), "5"]
                    }
                    _ => {
                        let mut c = cmd!["BLMPOP", "5", keys.len().to_string()];
                        c.extend(keys.iter().map(|k| k.clone().into_bytes()));
                        c.push(side(self).into_bytes());
                        if self.pct(50) {
                            c.extend(cmd!["COUNT", self.rng.u32(1..4).to_string()]);
                        }
                        c
                    }
                };
            let target = self.pick(&keys.iter().map(String::as_str).collect::<Vec<_>>());
            let feed = match self.rng.u32(0..6) {
                0..=1 => vec![cmd![self.pick(&["RPUSH", "LPUSH"]), target, value(self), value(self)]],
                2 => vec![
                    cmd!["MULTI"],
                    cmd!["RPUSH", target, value(self)],
                    cmd!["RPUSH", target, value(self), value(self)],
                    cmd!["LPOP", target],
                    cmd!["EXEC"],
                ],
                3 => vec![
                    cmd!["RPUSH", FEED_LIST, value(self)],
                    cmd!["LMOVE", FEED_LIST, target, "RIGHT", "LEFT"],
                ],
                4 => {
                    // A push to another key first: only the watched one wakes the client.
                    vec![cmd!["RPUSH", self.pick(LISTS), value(self)], cmd!["RPUSH", target, value(self)]]
                }
                _ => {
                    // Pushed and set to expire: the pop happens before the expiry.
                    let ttl = self.ttl_ms().to_string();
                    vec![
                        cmd!["MULTI"],
                        cmd!["RPUSH", target, value(self)],
                        cmd!["PEXPIRE", target, ttl],
                        cmd!["EXEC"],
                    ]
                }
            };
            Step::Blocking { pop, keys, feed }
        } else {
            let mut keys = vec![self.pick(ZQUEUES)];
            if self.pct(40) {
                let k = self.pick(ZQUEUES);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            let names: Vec<Vec<u8>> = keys.iter().map(|k| k.clone().into_bytes()).collect();
            let pop = match self.rng.u32(0..3) {
                0 => [cmd!["BZPOPMIN"], names.clone(), cmd!["5"]].concat(),
                1 => [cmd!["BZPOPMAX"], names.clone(), cmd!["5"]].concat(),
                _ => {
                    let mut c = cmd!["BZMPOP", "5", keys.len().to_string()];
                    c.extend(names.clone());
                    c.push(self.pick(&["MIN", "MAX"]).into_bytes());
                    if self.pct(50) {
                        c.extend(cmd!["COUNT", self.rng.u32(1..4).to_string()]);
                    }
                    c
                }
            };
            let target = self.pick(&keys.iter().map(String::as_str).collect::<Vec<_>>());
            let feed = match self.rng.u32(0..4) {
                0 => {
                    vec![cmd!["ZADD", target, self.pick(SCORES), value(self), self.pick(SCORES), value(self)]]
                }
                1 => vec![
                    cmd!["MULTI"],
                    cmd!["ZADD", target, self.pick(SCORES), value(self)],
                    cmd!["ZINCRBY", target, self.pick(FLOATS), value(self)],
                    cmd!["EXEC"],
                ],
                2 => vec![
                    cmd!["ZADD", FEED_ZSET, self.pick(SCORES), value(self)],
                    cmd!["ZUNIONSTORE", target, "1", FEED_ZSET, "WEIGHTS", "0.1"],
                ],
                _ => vec![cmd!["ZINCRBY", target, self.pick(FLOATS), value(self)]],
            };
            Step::Blocking { pop, keys, feed }
        }
    }
}

// ---- reading the keyspace ----

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    /// Sorted by field.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// Sorted.
    Set(Vec<Vec<u8>>),
    /// In rank order, with the scores as the node prints them.
    Zset(Vec<(Vec<u8>, Vec<u8>)>),
}

#[derive(Clone, Debug, PartialEq)]
struct Item {
    val: Val,
    /// Unix ms (`PEXPIRETIME`), 0 for none.
    expire_at: i64,
}

type State = BTreeMap<Vec<u8>, Item>;

fn bytes(r: &Reply) -> Vec<u8> {
    match r.as_bytes() {
        Some(b) => b.to_vec(),
        None => panic!("expected a string, got {r:?}"),
    }
}

fn pairs(items: Vec<Reply>) -> Vec<(Vec<u8>, Vec<u8>)> {
    items.chunks(2).map(|p| (bytes(&p[0]), p.get(1).map(bytes).unwrap_or_default())).collect()
}

/// The reader of a type's whole content.
fn reader(kind: &str, key: &[u8]) -> Option<Cmd> {
    Some(match kind {
        "string" => cmd!["GET", key],
        "list" => cmd!["LRANGE", key, "0", "-1"],
        "hash" => cmd!["HGETALL", key],
        "set" => cmd!["SMEMBERS", key],
        "zset" => cmd!["ZRANGE", key, "0", "-1", "WITHSCORES"],
        _ => return None,
    })
}

fn decode(kind: &str, r: Reply) -> Val {
    match kind {
        "string" => Val::Str(bytes(&r)),
        "list" => Val::List(r.items().iter().map(bytes).collect()),
        "hash" => {
            let mut p = pairs(r.items());
            p.sort();
            Val::Hash(p)
        }
        "set" => {
            let mut m: Vec<Vec<u8>> = r.items().iter().map(bytes).collect();
            m.sort();
            Val::Set(m)
        }
        _ => Val::Zset(pairs(r.items())),
    }
}

/// Every key's type, content and absolute expiry. The node must be quiet (no other client writing); a key
/// that expires while it is read is left out.
fn read_state(c: &mut Conn) -> State {
    let mut keys = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let r = c.cmd(&["SCAN", &cursor, "COUNT", "1000"]).items();
        let [next, batch] = r.as_slice() else { panic!("SCAN: {r:?}") };
        keys.extend(batch.items().iter().map(bytes));
        cursor = next.text();
        if cursor == "0" {
            break;
        }
    }
    let keys: Vec<Vec<u8>> = keys.into_iter().collect();
    let mut state = State::new();
    for chunk in keys.chunks(500) {
        let mut out = Vec::new();
        for k in chunk {
            out.extend(slotkv_tests::encode(&[b"TYPE".as_slice(), k]));
        }
        c.send_raw(&out);
        let kinds: Vec<String> = chunk.iter().map(|_| c.read_reply().text()).collect();
        // Type, expiry and content at one instant: inside one MULTI.
        let mut out = Vec::new();
        let mut asked = Vec::new();
        for (k, kind) in chunk.iter().zip(&kinds) {
            let Some(read) = reader(kind, k) else { continue };
            for part in [cmd!["MULTI"], cmd!["TYPE", k], cmd!["PEXPIRETIME", k], read, cmd!["EXEC"]] {
                out.extend(slotkv_tests::encode(&part));
            }
            asked.push((k, kind));
        }
        c.send_raw(&out);
        for (k, kind) in asked {
            for _ in 0..4 {
                let r = c.read_reply();
                assert!(!matches!(r, Reply::Error(_)), "reading {}: {r:?}", show(k));
            }
            let exec = c.read_reply().items();
            let [ty, at, content] = exec.as_slice() else { panic!("EXEC reading {}: {exec:?}", show(k)) };
            let ty = ty.text();
            if ty == "none" {
                continue; // Expired between TYPE and MULTI.
            }
            assert_eq!(&ty, kind, "key {} changed type while the keyspace was read", show(k));
            let expire_at = match at {
                Reply::Int(-1) => 0,
                Reply::Int(n) if *n > 0 => *n,
                other => panic!("PEXPIRETIME {}: {other:?}", show(k)),
            };
            state.insert(k.clone(), Item { val: decode(kind, content.clone()), expire_at });
        }
    }
    state
}

fn describe(item: Option<&Item>) -> String {
    let Some(item) = item else { return "(missing)".into() };
    let ttl = if item.expire_at == 0 {
        "no expiry".to_string()
    } else {
        format!("expires at {} (in {} ms)", item.expire_at, item.expire_at - now_ms())
    };
    let join = |v: &[Vec<u8>]| v.iter().map(|x| arg(x)).collect::<Vec<_>>().join(", ");
    let join2 = |v: &[(Vec<u8>, Vec<u8>)]| {
        v.iter().map(|(a, b)| format!("{}={}", arg(a), arg(b))).collect::<Vec<_>>().join(", ")
    };
    let body = match &item.val {
        Val::Str(s) => format!("string {}", arg(s)),
        Val::List(v) => format!("list ({}) [{}]", v.len(), join(v)),
        Val::Hash(v) => format!("hash ({}) {{{}}}", v.len(), join2(v)),
        Val::Set(v) => format!("set ({}) {{{}}}", v.len(), join(v)),
        Val::Zset(v) => format!("zset ({}) [{}]", v.len(), join2(v)),
    };
    let chars = body.chars().count();
    let body = if chars > 3000 {
        format!("{}... ({chars} chars)", body.chars().take(3000).collect::<String>())
    } else {
        body
    };
    format!("{ttl}; {body}")
}

/// The keys that differ between `before` and `after`: a key may be missing from `after` only if it had an
/// expiry that passed before `after_read_ms`.
fn differences(before: &State, after: &State, after_read_ms: i64) -> Vec<Vec<u8>> {
    let keys: BTreeSet<&Vec<u8>> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| match (before.get(*k), after.get(*k)) {
            (Some(b), Some(a)) => a != b,
            (Some(b), None) => b.expire_at == 0 || b.expire_at > after_read_ms,
            (None, Some(_)) => true,
            (None, None) => false,
        })
        .map(|k| k.to_vec())
        .collect()
}

// ---- running ----

/// A sent command and its reply, for the report.
struct Logged {
    /// Which connection: `main`, `block` or `pipe`.
    conn: &'static str,
    cmd: Cmd,
    reply: Vec<u8>,
}

struct Run {
    test: &'static str,
    seed: u64,
    ops: u64,
    gen: Gen,
    log: Vec<Logged>,
    /// How many blocking pops had to wait and were served by another connection's push.
    served_blocked: usize,
}

impl Run {
    fn new(test: &'static str, default_seed: u64) -> Run {
        let seed = env_num("PERSIST_MODEL_SEED", default_seed);
        let ops = env_num("PERSIST_MODEL_OPS", 3000);
        Run { test, seed, ops, gen: Gen::new(seed), log: Vec::new(), served_blocked: 0 }
    }

    fn send(&mut self, c: &mut Conn, conn: &'static str, cmd: Cmd) -> Reply {
        let raw = c.raw(&cmd);
        let reply = match slotkv_tests::parse_reply(&raw) {
            Ok(Some((r, _))) => r,
            other => panic!("{}: unparsable reply {}: {other:?}", line(&cmd), show(&raw)),
        };
        self.log.push(Logged { conn, cmd, reply: raw });
        reply
    }

    /// Runs `n` random steps: `main` sends, `block` waits in blocking pops.
    fn steps(&mut self, main: &mut Conn, block: &mut Conn, n: u64) {
        for _ in 0..n {
            self.step(main, block);
        }
    }

    fn step(&mut self, main: &mut Conn, block: &mut Conn) {
        let t = Instant::now();
        let n = self.log.len();
        self.step_inner(main, block);
        if t.elapsed() > Duration::from_millis(200) {
            for l in &self.log[n..] {
                eprintln!("SLOW {:?} [{}] {} -> {}", t.elapsed(), l.conn, line(&l.cmd), show(&l.reply));
            }
        }
    }

    fn step_inner(&mut self, main: &mut Conn, block: &mut Conn) {
        match self.gen.next() {
            Step::Cmds(cmds) => {
                for c in cmds {
                    self.send(main, "main", c);
                }
            }
            Step::Restore { src, dst, ttl, opts } => {
                if let Reply::Bulk(payload) = self.send(main, "main", cmd!["DUMP", src]) {
                    let mut c = cmd!["RESTORE", dst, ttl, payload];
                    c.extend(opts.into_iter().map(String::into_bytes));
                    self.send(main, "main", c);
                }
            }
            Step::Blocking { pop, keys, feed } => {
                let mut exists = cmd!["EXISTS"];
                exists.extend(keys.iter().map(|k| k.clone().into_bytes()));
                let waits = self.send(main, "main", exists) == Reply::Int(0);
                block.send(&pop);
                if waits {
                    let blocked = wait_for(Duration::from_secs(5), || {
                        let info = main.cmd(&["INFO", "clients"]).text();
                        info_field(&info, "blocked_clients").is_some_and(|n| n != "0")
                    });
                    assert!(blocked, "{} did not block on empty keys", line(&pop));
                    for c in feed {
                        self.send(main, "main", c);
                    }
                    self.served_blocked += 1;
                }
                let raw = block.read_raw();
                self.log.push(Logged { conn: "block", cmd: pop, reply: raw });
            }
        }
    }

    /// Sends `n` random steps (commands only) on `c` as a pipeline, reading the replies in batches.
    fn pipelined(&mut self, c: &mut Conn, n: u64) {
        let simple = std::mem::replace(&mut self.gen.simple_only, true);
        let mut batch: Vec<Cmd> = Vec::new();
        for i in 0..n {
            if let Step::Cmds(cmds) = self.gen.next() {
                batch.extend(cmds);
            }
            if batch.len() >= 100 || i + 1 == n {
                let out: Vec<u8> = batch.iter().flat_map(|b| slotkv_tests::encode(b)).collect();
                c.send_raw(&out);
                for cmd in batch.drain(..) {
                    let reply = c.read_raw();
                    self.log.push(Logged { conn: "pipe", cmd, reply });
                }
            }
        }
        self.gen.simple_only = simple;
    }

    /// Creates the bulk keys `b:0..n` (type by index % 5), a tenth with a long TTL and a few with a short one.
    fn fill_bulk(&mut self, c: &mut Conn, n: usize) {
        let mut batch = Vec::new();
        for i in 0..n {
            let k = format!("b:{i}");
            let v = format!("v{i}:{}", "z".repeat(i % 50));
            batch.push(match i % 5 {
                STR => cmd!["SET", k, v],
                HASH => cmd!["HSET", k, "f0", v, "f1", i.to_string()],
                LIST => cmd!["RPUSH", k, v, "1", "2"],
                SET => cmd!["SADD", k, v, i.to_string()],
                _ => cmd!["ZADD", k, "1.5", v, (i % 7).to_string(), "m"],
            });
            match self.gen.rng.u32(0..100) {
                0..=9 => batch.push(cmd!["PEXPIRE", k, self.gen.rng.i64(500_000..5_000_000).to_string()]),
                10..=11 if self.gen.short_ttls => {
                    batch.push(cmd!["PEXPIRE", k, self.gen.rng.i64(100..3000).to_string()])
                }
                _ => {}
            }
            if batch.len() >= 500 || i + 1 == n {
                let out: Vec<u8> = batch.iter().flat_map(|b| slotkv_tests::encode(b)).collect();
                c.send_raw(&out);
                for cmd in batch.drain(..) {
                    let reply = c.read_raw();
                    assert!(!reply.starts_with(b"-"), "{}: {}", line(&cmd), show(&reply));
                    self.log.push(Logged { conn: "fill", cmd, reply });
                }
            }
        }
        self.gen.bulk = n;
    }

    /// Panics with a report if `after` differs from `before` beyond expiries that passed.
    #[track_caller]
    fn compare(&self, node: &Node, what: &str, before: &State, after: &State, after_read_ms: i64) {
        let diffs = differences(before, after, after_read_ms);
        if diffs.is_empty() {
            return;
        }
        let mut r = String::new();
        let kept = std::env::temp_dir().join(format!(
            "persist_model-{}-{}-{}",
            self.test,
            self.seed,
            std::process::id()
        ));
        match copy_dir(node.dir(), &kept) {
            Ok(()) => {
                let _ = writeln!(r, "the node's data directory is kept in {}", kept.display());
            }
            Err(e) => {
                let _ = writeln!(r, "(could not keep the data directory: {e})");
            }
        }
        let _ = writeln!(r, "{}: {} key(s) differ after {what} (seed {})", self.test, diffs.len(), self.seed);
        let _ = writeln!(
            r,
            "  reproduce: PERSIST_MODEL_SEED={} PERSIST_MODEL_OPS={} cargo test -p slotkv-tests --test persist_model {} (timing may vary)",
            self.seed, self.ops, self.test
        );
        for k in diffs.iter().take(5) {
            let _ = writeln!(r, "  key {}", show(k));
            let _ = writeln!(r, "    before: {}", describe(before.get(k)));
            let _ = writeln!(r, "    after:  {}", describe(after.get(k)));
            let _ = writeln!(r, "    the last commands that named it (of {} sent):", self.log.len());
            let named: Vec<(usize, &Logged)> =
                self.log.iter().enumerate().filter(|(_, l)| names(l, k)).collect();
            for (i, l) in &named[named.len().saturating_sub(25)..] {
                let reply = &l.reply[..l.reply.len().min(160)];
                let _ = writeln!(r, "      #{i} [{}] {}  -> {}", l.conn, line(&l.cmd), show(reply));
            }
        }
        if diffs.len() > 5 {
            let rest: Vec<String> = diffs.iter().skip(5).map(|k| show(k)).collect();
            let _ = writeln!(r, "  also: {}", rest.join(" "));
        }
        panic!("{r}");
    }
}

/// Copies a data directory (files and one level of subdirectories, such as `appendonlydir`).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Whether a logged command is worth showing for `key`: it names it, or affects every key.
fn names(l: &Logged, key: &[u8]) -> bool {
    let global = ["FLUSHALL", "FLUSHDB", "BGSAVE", "BGREWRITEAOF", "(restart)"];
    l.cmd.iter().skip(1).any(|a| a == key)
        || l.cmd.first().is_some_and(|c| global.iter().any(|g| c.eq_ignore_ascii_case(g.as_bytes())))
}

/// The binary under test: `PERSIST_MODEL_BIN` (a redis-server, to check the test's logic) or slotkv.
fn bin() -> PathBuf {
    match std::env::var_os("PERSIST_MODEL_BIN") {
        Some(b) => PathBuf::from(b),
        None => node_bin().to_path_buf(),
    }
}

fn summary(test: &str, state: &State, run: &Run, started: Instant) {
    let volatile = state.values().filter(|i| i.expire_at != 0).count();
    eprintln!(
        "{test}: seed {}, {} commands sent, {} keys ({volatile} with a TTL), {} blocking pops served by a push, {:.1?}",
        run.seed,
        run.log.len(),
        state.len(),
        run.served_blocked,
        started.elapsed()
    );
}

/// Reads the state, kills the node with SIGKILL, restarts it and compares.
///
/// With `settle`, waits first until every short TTL given so far has passed (they are under 2.5 s), so that
/// the reload replays a history whose expiries are all in the past, whatever the machine's speed.
fn kill_restart_compare(node: &mut Node, run: &mut Run, what: &str, settle: bool) -> State {
    let before = read_state(&mut node.conn());
    if settle && run.gen.short_ttls {
        std::thread::sleep(Duration::from_millis(2600));
    }
    node.kill9();
    node.restart();
    run.log.push(Logged { conn: "-", cmd: cmd!["(restart)"], reply: Vec::new() });
    let after = read_state(&mut node.conn());
    run.compare(node, what, &before, &after, now_ms());
    before
}

#[test]
fn aof_kill9() {
    let started = Instant::now();
    let mut node = Node::builder(&bin()).args(&["--appendonly", "yes", "--appendfsync", "always"]).start();
    let mut run = Run::new("aof_kill9", 1);
    for round in 1..=2 {
        let (mut main, mut block) = (node.conn(), node.conn());
        run.steps(&mut main, &mut block, run.ops);
        let state = kill_restart_compare(
            &mut node,
            &mut run,
            &format!("kill -9 and AOF reload (round {round})"),
            round == 2,
        );
        summary("aof_kill9", &state, &run, started);
    }
}

/// Waits for a rewrite to finish; asserts it succeeded.
#[track_caller]
fn wait_rewrite(c: &mut Conn) {
    let done = wait_for(Duration::from_secs(60), || {
        c.persistence("aof_rewrite_in_progress") == "0" && c.persistence("aof_rewrite_scheduled") != "1"
    });
    assert!(done, "AOF rewrite still running after 60 s");
    assert_eq!(c.persistence("aof_last_bgrewrite_status"), "ok");
}

#[test]
fn aof_rewrite() {
    let started = Instant::now();
    let mut node = Node::builder(&bin()).args(&["--appendonly", "yes", "--appendfsync", "always"]).start();
    let mut run = Run::new("aof_rewrite", 2);
    // The bulk keys make the rewrite long; the FLUSHALL comes at a chosen moment below.
    run.gen.flushall = false;
    run.gen.bulk_pct = 8;
    let bulk = env_num("PERSIST_MODEL_BULK", 20000) as usize;
    let (mut main, mut block) = (node.conn(), node.conn());
    run.fill_bulk(&mut main, bulk);
    run.steps(&mut main, &mut block, run.ops / 2);

    // A rewrite while commands continue.
    let reply = run.send(&mut main, "main", cmd!["BGREWRITEAOF"]);
    assert!(reply.text().starts_with("Background append only file rewriting"), "BGREWRITEAOF: {reply:?}");
    let mut pipe = node.conn();
    let mut during = 0;
    while main.persistence("aof_rewrite_in_progress") != "0"
        || main.persistence("aof_rewrite_scheduled") == "1"
    {
        // Pipelined writes (many per event-loop tick) and single steps (blocking pops, RESTORE).
        run.pipelined(&mut pipe, 50);
        run.steps(&mut main, &mut block, 5);
        during += 55;
        assert!(during < 100_000, "rewrite never finished");
    }
    wait_rewrite(&mut main);
    run.steps(&mut main, &mut block, run.ops / 2);
    eprintln!("aof_rewrite: {during} steps ran during the rewrite");
    let state = kill_restart_compare(&mut node, &mut run, "BGREWRITEAOF mid-run, kill -9, reload", true);
    summary("aof_rewrite", &state, &run, started);

    // A rewrite that FLUSHALL interrupts; the keyspace is refilled while it runs again.
    let (mut main, mut block) = (node.conn(), node.conn());
    // Both in one write: FLUSHALL lands while the rewrite's capture has just begun.
    main.send_raw(&[slotkv_tests::encode(&["BGREWRITEAOF"]), slotkv_tests::encode(&["FLUSHALL"])].concat());
    let reply = main.read_reply();
    assert!(reply.text().starts_with("Background append only file rewriting"), "BGREWRITEAOF: {reply:?}");
    assert_eq!(main.read_reply(), Reply::Simple("OK".into()), "FLUSHALL");
    run.log.push(Logged { conn: "main", cmd: cmd!["BGREWRITEAOF"], reply: Vec::new() });
    run.log.push(Logged { conn: "main", cmd: cmd!["FLUSHALL"], reply: Vec::new() });
    run.gen.bulk = 0;
    run.fill_bulk(&mut main, bulk / 2);
    run.steps(&mut main, &mut block, run.ops / 2);
    wait_rewrite(&mut main);
    run.steps(&mut main, &mut block, run.ops / 4);
    let state = kill_restart_compare(&mut node, &mut run, "BGREWRITEAOF + FLUSHALL, kill -9, reload", true);
    summary("aof_rewrite", &state, &run, started);
}

#[test]
fn snapshot_bgsave() {
    let started = Instant::now();
    let mut node = Node::builder(&bin()).args(&["--appendonly", "no", "--save", ""]).start();
    let mut run = Run::new("snapshot_bgsave", 3);
    // No FLUSHALL: it would empty the bulk keys, and while saving it drops the save.
    run.gen.flushall = false;
    let bulk = env_num("PERSIST_MODEL_BULK", 30000) as usize;
    {
        let mut main = node.conn();
        run.fill_bulk(&mut main, bulk);
    }
    for round in 1..=2 {
        let (mut main, mut block, mut pipe) = (node.conn(), node.conn(), node.conn());
        run.gen.bulk_pct = 8;
        run.steps(&mut main, &mut block, run.ops / 2);
        run.gen.bulk_pct = 40;
        let recorded = read_state(&mut main);
        let reply = run.send(&mut main, "main", cmd!["BGSAVE"]);
        assert!(reply.text().starts_with("Background saving started"), "BGSAVE: {reply:?}");
        let mut during = 0;
        while main.persistence("rdb_bgsave_in_progress") != "0" {
            run.pipelined(&mut pipe, 100);
            during += 100;
            assert!(during < 1_000_000, "BGSAVE never finished");
        }
        let changed = main.persistence("rdb_changes_since_last_save");
        assert_eq!(main.persistence("rdb_last_bgsave_status"), "ok");
        // More writes after the save: not in the file.
        run.pipelined(&mut pipe, 200);
        let now = read_state(&mut main);
        eprintln!(
            "snapshot_bgsave round {round}: {during} commands pipelined during BGSAVE, \
             rdb_changes_since_last_save {changed} when it ended, {} keys differ from the recorded state now",
            differences(&recorded, &now, now_ms()).len()
        );
        node.kill9();
        node.restart();
        run.log.push(Logged { conn: "-", cmd: cmd!["(restart)"], reply: Vec::new() });
        let after = read_state(&mut node.conn());
        run.compare(
            &node,
            &format!("BGSAVE during writes, kill -9, snapshot reload (round {round})"),
            &recorded,
            &after,
            now_ms(),
        );
        summary("snapshot_bgsave", &after, &run, started);
        run.gen.bulk = bulk;
    }
}

/// The shortest form of what the random runs found (seed 2 of `aof_rewrite`): a key whose TTL has not
/// passed when later commands use it, but has passed when the AOF is loaded. The log holds `PEXPIREAT k
/// <t>` and then the commands that kept or used the key before `t`; replaying them after `t` must give
/// what they gave then (Redis neither expires keys nor deletes on a past `PEXPIREAT` while loading), so
/// the key and what was moved out of it survive.
///
/// KNOWN BUG (open): slotkv's AOF load expires by the wall clock, so `k` loses `a`, `moved` is never
/// filled and `copied` is missing.
#[test]
fn aof_replays_keys_whose_ttl_passed_since() {
    let mut node = Node::builder(&bin()).args(&["--appendonly", "yes", "--appendfsync", "always"]).start();
    let mut run = Run::new("aof_replays_keys_whose_ttl_passed_since", 0);
    let mut c = node.conn();
    for cmd in [
        cmd!["RPUSH", "k", "a"],
        cmd!["PEXPIRE", "k", "300"],
        cmd!["RPUSH", "k", "b"],
        cmd!["PERSIST", "k"],
        cmd!["RPUSH", "src", "x", "y"],
        cmd!["PEXPIRE", "src", "300"],
        cmd!["RPOPLPUSH", "src", "moved"],
        cmd!["SET", "s", "v", "PX", "300"],
        cmd!["COPY", "s", "copied"],
        cmd!["PERSIST", "copied"],
    ] {
        run.send(&mut c, "main", cmd);
    }
    std::thread::sleep(Duration::from_millis(400));
    kill_restart_compare(&mut node, &mut run, "kill -9 and AOF reload after the TTLs passed", false);
}
