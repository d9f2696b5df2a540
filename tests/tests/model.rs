//! A randomized differential test of lists, sets and sorted sets: a slotkv node and a real `redis-server`,
//! started side by side, get the same few thousand random commands, and every reply must be the same bytes.
//!
//! # Running
//! `cargo test -p slotkv-tests --test model` runs `resp2` and `resp3` (the second after `HELLO 3`), three
//! seeds of 3000 commands each, and `reproductions`, the shrunk scripts of mismatches found so far.
//! Environment:
//! - `MODEL_SEED=n` runs only seed `n` (a mismatch report names its seed); `MODEL_OPS=n` commands per seed.
//! - `MODEL_KEEP_GOING=1` collects every mismatch (the keyspace is flushed after each) instead of stopping
//!   at the first; each is shrunk to a short reproduction.
//! - `MODEL_BOTH_REDIS=1` runs redis-server against redis-server. It must pass: it proves that the
//!   normalization below hides nothing but what Redis itself leaves unspecified.
//! - `MODEL_TYPES=list,set,zset,lex,keys` limits the commands to those families (default: all).
//! - `MODEL_CHECK_EVERY=n` compares the whole keyspace every n commands (default 300); `MODEL_STATS=1`
//!   prints how often each command ran, failed and came back empty, and each error text.
//! - `REDIS_SERVER_BIN` names the redis-server binary (default: `redis-server` on `PATH`). Without one the
//!   test fails, unless `SLOTKV_SKIP_REDIS_MODEL=1`.
//!
//! # What is compared
//! Byte for byte, except where Redis itself leaves the result unspecified:
//! - Set replies (`SMEMBERS`, `SINTER`, `SUNION`, `SDIFF`): a hash table's order is arbitrary, so the
//!   elements of the aggregate are sorted (as raw bytes) on both sides; the header must still match.
//! - `SRANDMEMBER`, `ZRANDMEMBER`: random, so only the shape (types, lengths, errors) is compared, and the
//!   subject's picks are checked to be members (and distinct for a positive count).
//! - `SPOP`: the shape is compared; then each server re-adds what it popped (the count must be whole: the
//!   popped members were distinct and gone), the sets are compared, and both remove the same number of
//!   their smallest members instead, so that a seed replays the same run every time.
//!
//! Every few hundred commands, and at the end, the whole keyspace is compared (`TYPE` and the contents).
//!
//! # A mismatch
//! The report names the seed, the command and both replies, the last 20 commands, and a reproduction:
//! the history since the last flush, shrunk (replayed on flushed servers, dropping chunks of commands
//! while the last command still differs) to a few commands that can be pasted into `redis-cli`.
//!
//! # Redis 7.0 (the reference) against 7.2 (what slotkv follows)
//! The reference is whatever redis-server is installed (7.0 on the CI image). Where 7.0 and 7.2 differ, the
//! generator avoids the difference; the comparison is never loosened for it:
//! - Doubles: 7.2 writes the shortest text that reads back the same (`0.1`), 7.0 writes `%.17g`
//!   (`0.10000000000000001`). Scores, increments and weights are therefore numbers with a short exact
//!   binary form (integers, halves, quarters, `1e20`, infinities), on which both agree, and so are all
//!   their sums and products.
//! - `ZRANK`/`ZREVRANK ... WITHSCORE` is 7.2 only: never sent.
//! - `set-max-listpack-*` do not exist in 7.0 (its small sets are hash tables): the reference's `CONFIG
//!   SET` errors for them are ignored. The order of set replies is sorted away anyway (above).
//! - `OBJECT ENCODING` differs (sets): never sent.
//! - `LPOS ... RANK -9223372036854775808` errors in 7.2 only: ranks stay small.
//! - A score of -0 (from a weight of 0 or below) survives in a skiplist but becomes 0 in a listpack, which
//!   stores integral scores as integers; so whether it shows depends on the encoding a new key starts
//!   with, and 7.2 chose differently in places (it sizes a new ZADD key by all its members, and starts
//!   the destination of a `ZRANGESTORE ... BYSCORE|BYLEX` as a skiplist, where 7.0 starts a listpack).
//!   So -0 is confined to two keys, `zneg` and `zneg2`: only stores into them take weights of 0 and
//!   below, and they are read by everything except those two (ZADD never gives -0; ZRANGESTORE reads
//!   them by rank only, into one of them). Replies (`ZUNION ... WITHSCORES`) may show -0 freely.

use slotkv_tests::{encode, parse_reply, show, Conn, Node, Reply};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

type Cmd = Vec<String>;

// ---- pools ----

const LISTS: &[&str] = &["l1", "l2", "l3"];
const SETS: &[&str] = &["s1", "s2", "s3"];
const ZSETS: &[&str] = &["z1", "z2", "z3"];
/// A sorted set whose members all have score 0: the only key lex commands read (their order is
/// unspecified when scores differ) and one no command ever gives another score.
const LEX: &str = "zlex";
/// A string, so every command here can meet `WRONGTYPE`. Store commands may overwrite it; `SET` renews it.
const STR: &str = "str";
/// Usually missing; the commands that create keys may create it, with any type and content.
const MISSING: &str = "missing";
/// A second all-zero-score key, usually missing: lex commands use it for a missing key, since `MISSING`
/// may hold a sorted set with mixed scores (on which lex ranges depend on the skiplist's random levels,
/// so that even two redis-servers disagree).
const LEX2: &str = "zlex2";
/// A string that only lex commands (and DEL) meet, for `WRONGTYPE`: unlike `STR` or any other key, which a
/// store command may turn into a sorted set with mixed scores, it never holds one.
const LEX_WRONG: &str = "lexwrong";
/// The only keys that may hold a score of -0 (see the module doc): stores with a zero or negative weight
/// write only here, and only commands whose handling of -0 is the same in 7.0 and 7.2 read them.
const ZNEG: &[&str] = &["zneg", "zneg2"];
/// Every key that may exist, for state checks and key commands.
const ALL: &[&str] = &[
    "l1", "l2", "l3", "s1", "s2", "s3", "z1", "z2", "z3", "zlex", "zlex2", "str", "missing", "lexwrong",
    "zneg", "zneg2",
];
/// Keys of another type that a command may be pointed at, besides `STR` and `MISSING`. Never `LEX`: a
/// zset command writing there could give it a non-zero score.
const OTHERS: &[&str] = &["l1", "l2", "s1", "s2", "z1", "z2"];

const WORDS: &[&str] = &["a", "b", "c", "d", "e", "f", "apple", "banana", "é", "a\0b"];
/// Integers, so sets stay intsets while only these are added; of 16, 32 and 64 bits, so intsets upgrade.
const INTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "10",
    "-1",
    "-7",
    "42",
    "1000",
    "40000",
    "-70000",
    "3000000000",
    "9223372036854775807",
    "-9223372036854775808",
];
/// Strings that look like numbers but are not integers to Redis, and the empty string.
const ODD: &[&str] = &["", "007", "3.5", "1e3", "99999999999999999999", "+1", "-0", " 1"];

/// Scores, increments: short exact binary forms only (see the module doc).
const SCORES: &[&str] = &[
    "0", "1", "2", "3", "-1", "-2", "0.5", "1.5", "2.25", "-0.25", "10", "100", "3.0", "1e2", "1e20",
    "-1e20", "inf", "-inf", "+inf",
];
const BAD_SCORES: &[&str] = &["abc", "nan", "", "1e400", "1.5x"];
const BOUNDS: &[&str] = &[
    "-inf", "+inf", "inf", "(-inf", "(+inf", "0", "(0", "1", "(1", "1.5", "(1.5", "2.25", "(2.25", "-1",
    "(-1", "3", "(3", "10", "(10", "100", "(100", "1e20", "(1e20", "-1e20",
];
const BAD_BOUNDS: &[&str] = &["abc", "(abc", "nan", "[1"];
const LEX_BOUNDS: &[&str] = &[
    "-", "+", "[a", "(a", "[b", "(b", "[c", "(d", "[apple", "(banana", "[1", "(10", "[", "(", "[é", "[a\0b",
];
const BAD_LEX_BOUNDS: &[&str] = &["a", "", "1", "inf"];
const WEIGHTS: &[&str] = &["1", "2", "0.5", "3"];
/// Weights that turn a score of 0 or below into -0: only for stores into `ZNEG` keys and for replies.
const NEG_WEIGHTS: &[&str] = &["-1", "0", "-0.5"];

/// The encoding settings each run changes (to small values, so that conversions happen often), and their
/// defaults.
const DEFAULTS: [(&str, &str); 6] = [
    ("list-max-listpack-size", "-2"),
    ("set-max-intset-entries", "512"),
    ("set-max-listpack-entries", "128"),
    ("set-max-listpack-value", "64"),
    ("zset-max-listpack-entries", "128"),
    ("zset-max-listpack-value", "64"),
];

/// How a reply is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Exact,
    /// An aggregate whose order Redis leaves unspecified: header exact, elements compared sorted.
    Unordered,
    /// A random pick from a set (`SRANDMEMBER`): shape only, and the picks must be members.
    SetPick,
    /// A random pick from a sorted set (`ZRANDMEMBER`): shape only.
    Shape,
    /// `SPOP`: shape, then the reference is re-synced to the subject.
    Spop,
}

struct Op {
    cmd: Cmd,
    check: Check,
}

fn op(cmd: Cmd) -> Op {
    Op { cmd, check: Check::Exact }
}

fn unordered(cmd: Cmd) -> Op {
    Op { cmd, check: Check::Unordered }
}

// ---- the generator ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    List,
    Set,
    Zset,
    Lex,
    Keys,
}

/// The command families and their shares of the commands.
const FAMILIES: &[(Family, &str, u32)] = &[
    (Family::List, "list", 30),
    (Family::Set, "set", 27),
    (Family::Zset, "zset", 32),
    (Family::Lex, "lex", 6),
    (Family::Keys, "keys", 5),
];

/// The families named in `MODEL_TYPES` (`list,set,zset,lex,keys`; default all).
fn families() -> Vec<(Family, u32)> {
    let wanted = std::env::var("MODEL_TYPES").unwrap_or_default();
    let chosen: Vec<(Family, u32)> = FAMILIES
        .iter()
        .filter(|(_, name, _)| wanted.is_empty() || wanted.split(',').any(|w| w.trim() == *name))
        .map(|&(f, _, w)| (f, w))
        .collect();
    assert!(!chosen.is_empty(), "MODEL_TYPES={wanted} names none of list,set,zset,lex,keys");
    chosen
}

struct Gen {
    rng: fastrand::Rng,
    longs: Vec<String>,
    families: Vec<(Family, u32)>,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        // Longer than the 64-byte listpack value limit, so compact encodings convert.
        let longs = vec!["x".repeat(65), "y".repeat(100), format!("{}1", "7".repeat(70))];
        Gen { rng: fastrand::Rng::with_seed(seed), longs, families: families() }
    }

    fn pct(&mut self, percent: u32) -> bool {
        self.rng.u32(0..100) < percent
    }

    fn pick(&mut self, pool: &[&str]) -> String {
        pool[self.rng.usize(..pool.len())].to_string()
    }

    /// A keyword, sometimes in lower case (Redis matches them case-insensitively).
    fn kw(&mut self, word: &str) -> String {
        if self.pct(10) {
            word.to_ascii_lowercase()
        } else {
            word.to_string()
        }
    }

    fn pick_kw(&mut self, pool: &[&str]) -> String {
        let word = self.pick(pool);
        self.kw(&word)
    }

    /// A key of the wanted type (from `pool`), sometimes a string, a missing key or a key of another type.
    fn key(&mut self, pool: &[&str]) -> String {
        match self.rng.u32(0..100) {
            0..=87 => self.pick(pool),
            88..=91 => STR.to_string(),
            92..=95 => MISSING.to_string(),
            _ => self.pick(OTHERS),
        }
    }

    /// A destination that a store command overwrites whatever its type: never `LEX` (it must keep score 0).
    fn dest(&mut self, pool: &[&str]) -> String {
        match self.rng.u32(0..100) {
            0..=93 => self.pick(pool),
            94..=95 => STR.to_string(),
            _ => self.pick(OTHERS),
        }
    }

    fn keys(&mut self, pool: &[&str], max: usize) -> Vec<String> {
        let n = self.rng.usize(1..=max);
        (0..n).map(|_| self.key(pool)).collect()
    }

    fn value(&mut self) -> String {
        match self.rng.u32(0..100) {
            0..=41 => self.pick(WORDS),
            42..=79 => self.pick(INTS),
            80..=87 => {
                let i = self.rng.usize(..self.longs.len());
                self.longs[i].clone()
            }
            88..=93 => self.generated(),
            _ => self.pick(ODD),
        }
    }

    /// One of a few hundred values, for collections larger than the pools allow.
    fn generated(&mut self) -> String {
        if self.pct(50) {
            self.rng.u32(0..400).to_string()
        } else {
            format!("m:{}", self.rng.u32(0..400))
        }
    }

    /// Now and then (in the commands that add) many generated values at once, so that collections pass
    /// the default thresholds (128 entries) too.
    fn many(&mut self) -> Option<Vec<String>> {
        self.pct(4).then(|| (0..self.rng.usize(20..=80)).map(|_| self.generated()).collect())
    }

    /// 1..=max values; often integers only, so sets stay intsets for a while.
    fn values(&mut self, max: usize) -> Vec<String> {
        let n = self.rng.usize(1..=max);
        let ints_only = self.pct(35);
        (0..n).map(|_| if ints_only { self.pick(INTS) } else { self.value() }).collect()
    }

    fn score(&mut self) -> String {
        if self.pct(3) {
            self.pick(BAD_SCORES)
        } else {
            self.pick(SCORES)
        }
    }

    fn bound(&mut self) -> String {
        if self.pct(3) {
            self.pick(BAD_BOUNDS)
        } else {
            self.pick(BOUNDS)
        }
    }

    fn lex_bound(&mut self) -> String {
        if self.pct(3) {
            self.pick(BAD_LEX_BOUNDS)
        } else {
            self.pick(LEX_BOUNDS)
        }
    }

    /// A list or rank index: mostly small, sometimes far out of range, rarely not an integer.
    fn index(&mut self) -> String {
        match self.rng.u32(0..100) {
            0..=69 => self.rng.i32(-6..=6).to_string(),
            70..=89 => self.rng.i32(-25..=25).to_string(),
            90..=97 => self.pick(&["9223372036854775807", "-9223372036854775808", "1000000", "-1000000"]),
            _ => self.pick(&["x", "1.5", ""]),
        }
    }

    /// A count for the POP family: mostly small and positive.
    fn count(&mut self) -> String {
        match self.rng.u32(0..100) {
            0..=79 => self.rng.u32(1..=4).to_string(),
            80..=87 => "0".to_string(),
            88..=93 => "100".to_string(),
            94..=97 => "-1".to_string(),
            _ => self.pick(&["x", "9223372036854775807"]),
        }
    }

    /// A blocking command's timeout: short (never 0, which waits forever), rarely invalid.
    fn timeout(&mut self) -> String {
        if self.pct(95) {
            "0.01".into()
        } else {
            self.pick(&["-1", "x", "0.001"])
        }
    }

    /// LIMIT offset count, as two arguments.
    fn limit(&mut self) -> [String; 2] {
        let offset = self.pick(&["0", "0", "1", "2", "5", "-1"]);
        let count = self.pick(&["-1", "0", "1", "2", "3", "10", "-5"]);
        [offset, count]
    }

    fn next(&mut self) -> Op {
        let total: u32 = self.families.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.u32(0..total.max(1));
        let mut family = Family::Keys;
        for &(f, w) in &self.families {
            if roll < w {
                family = f;
                break;
            }
            roll -= w;
        }
        let mut op = match family {
            Family::List => self.list_op(),
            Family::Set => self.set_op(),
            Family::Zset => self.zset_op(),
            Family::Lex => self.lex_op(),
            Family::Keys => self.key_op(),
        };
        if self.pct(5) {
            op.cmd[0] = op.cmd[0].to_ascii_lowercase();
        }
        // Now and then a command cut short: arity and syntax errors.
        if self.pct(1) {
            let keep = self.rng.usize(1..=op.cmd.len());
            op.cmd.truncate(keep);
        }
        op
    }

    // ---- lists ----

    fn list_op(&mut self) -> Op {
        let k = self.key(LISTS);
        let mut c: Cmd = Vec::new();
        match self.rng.u32(0..34) {
            0..=4 => {
                c.push(self.pick(&["LPUSH", "RPUSH"]));
                c.push(k);
                c.extend(self.values(4));
            }
            5 => {
                c.push(self.pick(&["LPUSHX", "RPUSHX"]));
                c.push(k);
                c.extend(self.values(3));
            }
            6..=7 => {
                c.push(self.pick(&["LPOP", "RPOP"]));
                c.push(k);
                if self.pct(50) {
                    c.push(self.count());
                }
            }
            8 => c.extend(["LLEN".into(), k]),
            9..=11 => c.extend(["LRANGE".into(), k, self.index(), self.index()]),
            12 => c.extend(["LINDEX".into(), k, self.index()]),
            13 => c.extend(["LSET".into(), k, self.index(), self.value()]),
            14 => {
                let place = if self.pct(95) { self.pick(&["BEFORE", "AFTER"]) } else { "MIDDLE".into() };
                c.extend(["LINSERT".into(), k, self.kw(&place), self.value(), self.value()]);
            }
            15 => {
                let count = self.pick(&["0", "1", "2", "-1", "-2", "5", "-100"]);
                c.extend(["LREM".into(), k, count, self.value()]);
            }
            16 => {
                // Gentle trims mostly: a random one empties the list too often.
                let (start, stop) = if self.pct(80) {
                    (self.rng.i32(-2..=2).to_string(), self.rng.i32(-1..=15).to_string())
                } else {
                    (self.index(), self.index())
                };
                c.extend(["LTRIM".into(), k, start, stop]);
            }
            17..=19 => {
                c.extend(["LPOS".into(), k, self.value()]);
                for _ in 0..self.rng.usize(0..=3) {
                    match self.rng.u32(0..3) {
                        0 => {
                            let rank = self.pick(&["1", "2", "3", "-1", "-2", "-3", "1", "-1", "0"]);
                            c.extend([self.kw("RANK"), rank]);
                        }
                        1 => {
                            let count = self.pick(&["0", "1", "2", "5", "0", "-1"]);
                            c.extend([self.kw("COUNT"), count]);
                        }
                        _ => {
                            let maxlen = self.pick(&["0", "1", "2", "5", "100", "-1"]);
                            c.extend([self.kw("MAXLEN"), maxlen]);
                        }
                    }
                }
            }
            20..=22 => {
                let from = self.pick(&["LEFT", "RIGHT"]);
                let to = self.pick(&["LEFT", "RIGHT"]);
                let dst = self.key(LISTS);
                c.extend(["LMOVE".into(), k, dst, self.kw(&from), self.kw(&to)]);
            }
            23..=24 => c.extend(["RPOPLPUSH".into(), k, self.key(LISTS)]),
            25..=27 => {
                let keys = self.keys(LISTS, 3);
                let numkeys = match self.rng.u32(0..100) {
                    0..=94 => keys.len().to_string(),
                    95..=96 => "0".into(),
                    97..=98 => (keys.len() + 2).to_string(),
                    _ => "x".into(),
                };
                c.extend(["LMPOP".into(), numkeys]);
                c.extend(keys);
                c.push(self.pick_kw(&["LEFT", "RIGHT"]));
                if self.pct(50) {
                    c.extend([self.kw("COUNT"), self.count()]);
                }
            }
            28..=29 => {
                // The blocking twins: served at once when a key has elements, else they time out (10 ms).
                let timeout = self.timeout();
                match self.rng.u32(0..5) {
                    0 => {
                        c.push(self.pick(&["BLPOP", "BRPOP"]));
                        c.extend(self.keys(LISTS, 3));
                        c.push(timeout);
                    }
                    1 => {
                        let dst = self.key(LISTS);
                        let from = self.pick_kw(&["LEFT", "RIGHT"]);
                        let to = self.pick_kw(&["LEFT", "RIGHT"]);
                        c.extend(["BLMOVE".into(), k, dst, from, to, timeout]);
                    }
                    2 => c.extend(["BRPOPLPUSH".into(), k, self.key(LISTS), timeout]),
                    _ => {
                        let keys = self.keys(LISTS, 3);
                        c.extend(["BLMPOP".into(), timeout, keys.len().to_string()]);
                        c.extend(keys);
                        c.push(self.pick_kw(&["LEFT", "RIGHT"]));
                        if self.pct(50) {
                            c.extend([self.kw("COUNT"), self.count()]);
                        }
                    }
                }
            }
            _ => {
                // Grow lists a bit faster than they shrink.
                c.extend(["RPUSH".into(), k]);
                let values = self.many().unwrap_or_else(|| self.values(6));
                c.extend(values);
            }
        }
        op(c)
    }

    // ---- sets ----

    fn set_op(&mut self) -> Op {
        let k = self.key(SETS);
        let mut c: Cmd = Vec::new();
        match self.rng.u32(0..34) {
            0..=6 => {
                c.extend(["SADD".into(), k]);
                c.extend(self.values(5));
            }
            7..=8 => {
                c.extend(["SREM".into(), k]);
                c.extend(self.values(3));
            }
            9..=10 => return unordered(vec!["SMEMBERS".into(), k]),
            11 => c.extend(["SISMEMBER".into(), k, self.value()]),
            12 => {
                c.extend(["SMISMEMBER".into(), k]);
                c.extend(self.values(4));
            }
            13 => c.extend(["SCARD".into(), k]),
            14..=15 => c.extend(["SMOVE".into(), k, self.key(SETS), self.value()]),
            16..=18 => {
                let name = self.pick(&["SINTER", "SUNION", "SDIFF"]);
                let mut c = vec![name];
                c.extend(self.keys(SETS, 3));
                return unordered(c);
            }
            19..=20 => {
                let keys = self.keys(SETS, 3);
                let numkeys = match self.rng.u32(0..100) {
                    0..=94 => keys.len().to_string(),
                    95..=96 => "0".into(),
                    97..=98 => (keys.len() + 2).to_string(),
                    _ => "x".into(),
                };
                c.extend(["SINTERCARD".into(), numkeys]);
                c.extend(keys);
                if self.pct(40) {
                    let limit = self.pick(&["0", "1", "2", "3", "5", "-1"]);
                    c.extend([self.kw("LIMIT"), limit]);
                }
            }
            21..=24 => {
                let name = self.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]);
                c.extend([name, self.dest(SETS)]);
                c.extend(self.keys(SETS, 3));
            }
            25..=27 => {
                c.extend(["SPOP".into(), k]);
                if self.pct(50) {
                    c.push(self.count());
                }
                return Op { cmd: c, check: Check::Spop };
            }
            28..=29 => {
                c.extend(["SRANDMEMBER".into(), k]);
                if self.pct(70) {
                    let count = self.pick(&["1", "2", "3", "5", "20", "0", "-1", "-3", "-10", "x"]);
                    c.push(count);
                }
                return Op { cmd: c, check: Check::SetPick };
            }
            _ => {
                c.extend(["SADD".into(), k]);
                let values = self.many().unwrap_or_else(|| self.values(8));
                c.extend(values);
            }
        }
        op(c)
    }

    // ---- sorted sets ----

    /// ZADD options in any order: mostly valid combinations, sometimes clashing ones (errors).
    fn zadd(&mut self, key: String, lex: bool) -> Cmd {
        let mut opts = Vec::new();
        if self.pct(20) {
            opts.push(self.pick(&["NX", "XX"]));
        }
        if self.pct(20) {
            opts.push(self.pick(&["GT", "LT"]));
        }
        if self.pct(25) {
            opts.push("CH".to_string());
        }
        let incr = self.pct(12);
        if incr {
            opts.push("INCR".to_string());
        }
        if self.pct(3) {
            opts.push(self.pick(&["NX", "XX", "GT", "LT"]));
        }
        self.rng.shuffle(&mut opts);
        let mut c = vec!["ZADD".to_string(), key];
        c.extend(opts.iter().map(|o| self.kw(o)).collect::<Vec<_>>());
        let many = !incr && self.pct(4);
        let pairs = if many {
            self.rng.usize(20..=80)
        } else if incr && self.pct(90) {
            1
        } else {
            self.rng.usize(1..=4)
        };
        for _ in 0..pairs {
            let score = match (lex, many) {
                (true, _) => "0".to_string(),
                // Halves: exact in binary, printed alike by 7.0 and 7.2.
                (false, true) => format!("{}.5", self.rng.i32(-50..50)),
                (false, false) => self.score(),
            };
            c.push(score);
            c.push(if many { self.generated() } else { self.value() });
        }
        if self.pct(2) {
            c.pop();
        }
        c
    }

    fn zset_op(&mut self) -> Op {
        // Commands that only read or remove may also look at the lex key.
        let read_pool: &[&str] = &["z1", "z2", "z3", LEX, "zneg", "zneg2"];
        // Adding to ZNEG keys is safe: no score given here is -0.
        let write_pool: &[&str] = &["z1", "z2", "z3", "zneg"];
        let mut c: Cmd = Vec::new();
        match self.rng.u32(0..60) {
            0..=8 => {
                let k = self.key(write_pool);
                c = self.zadd(k, false);
            }
            9..=10 => {
                let k = self.key(write_pool);
                c.extend(["ZINCRBY".into(), k, self.score(), self.value()]);
            }
            11..=12 => {
                c.extend(["ZREM".into(), self.key(read_pool)]);
                c.extend(self.values(3));
            }
            13 => c.extend(["ZCARD".into(), self.key(read_pool)]),
            14 => c.extend(["ZCOUNT".into(), self.key(read_pool), self.bound(), self.bound()]),
            15 => c.extend(["ZSCORE".into(), self.key(read_pool), self.value()]),
            16 => {
                c.extend(["ZMSCORE".into(), self.key(read_pool)]);
                c.extend(self.values(4));
            }
            // No WITHSCORE: 7.2 only.
            17..=18 => c.extend([self.pick(&["ZRANK", "ZREVRANK"]), self.key(read_pool), self.value()]),
            19..=24 => {
                let k = self.key(read_pool);
                c = self.zrange("ZRANGE", None, k, None);
            }
            25..=27 => {
                let rev = self.pct(50);
                let k = self.key(read_pool);
                c.extend([(if rev { "ZREVRANGEBYSCORE" } else { "ZRANGEBYSCORE" }).into(), k]);
                c.extend([self.bound(), self.bound()]);
                let mut opts: Vec<Vec<String>> = Vec::new();
                if self.pct(40) {
                    opts.push(vec![self.kw("WITHSCORES")]);
                }
                if self.pct(35) {
                    let [o, n] = self.limit();
                    opts.push(vec![self.kw("LIMIT"), o, n]);
                }
                self.rng.shuffle(&mut opts);
                c.extend(opts.into_iter().flatten());
            }
            28 => {
                let (start, stop) = if self.pct(80) {
                    (self.rng.i32(-3..=3).to_string(), self.rng.i32(-3..=3).to_string())
                } else {
                    (self.index(), self.index())
                };
                c.extend(["ZREMRANGEBYRANK".into(), self.key(read_pool), start, stop]);
            }
            29 => c.extend(["ZREMRANGEBYSCORE".into(), self.key(read_pool), self.bound(), self.bound()]),
            30..=32 => {
                c.extend([self.pick(&["ZPOPMIN", "ZPOPMAX"]), self.key(read_pool)]);
                if self.pct(50) {
                    c.push(self.count());
                }
            }
            33..=38 => {
                let name =
                    self.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZUNION", "ZINTER", "ZDIFF"]);
                let store = name.ends_with("STORE");
                c.push(name.clone());
                // A result with -0 may be stored in ZNEG keys only; a reply may have it.
                let neg = !store || self.pct(25);
                if store {
                    c.push(if neg { self.pick(ZNEG) } else { self.dest(ZSETS) });
                }
                c.extend(self.zsources(&name, neg));
            }
            39..=40 => {
                let keys: Vec<String> = (0..self.rng.usize(1..=3)).map(|_| self.zsource(true)).collect();
                let numkeys =
                    if self.pct(95) { keys.len().to_string() } else { self.pick(&["0", "-1", "9"]) };
                c.extend(["ZINTERCARD".into(), numkeys]);
                c.extend(keys);
                if self.pct(40) {
                    let limit = self.pick(&["0", "1", "2", "3", "5", "-1"]);
                    c.extend([self.kw("LIMIT"), limit]);
                }
            }
            41..=43 => {
                // From ZNEG keys only into ZNEG keys, and by rank: 7.2 creates the destination of a
                // ZRANGESTORE BYSCORE as a skiplist (which keeps -0), 7.0 as a listpack (which stores -0
                // as 0).
                let (dst, src, by) = if self.pct(30) {
                    (self.pick(ZNEG), self.pick(ZNEG), Some(0))
                } else {
                    (self.dest(ZSETS), self.key(ZSETS), None)
                };
                c = self.zrange("ZRANGESTORE", Some(dst), src, by);
            }
            44..=45 => {
                c.extend(["ZRANDMEMBER".into(), self.key(read_pool)]);
                if self.pct(70) {
                    c.push(self.pick(&["1", "2", "3", "5", "20", "0", "-1", "-3", "-10", "x"]));
                    if self.pct(40) {
                        c.push(self.kw("WITHSCORES"));
                    }
                }
                return Op { cmd: c, check: Check::Shape };
            }
            46..=47 => {
                let keys: Vec<String> = (0..self.rng.usize(1..=3)).map(|_| self.key(read_pool)).collect();
                let numkeys = if self.pct(95) { keys.len().to_string() } else { self.pick(&["0", "9"]) };
                c.extend(["ZMPOP".into(), numkeys]);
                c.extend(keys);
                c.push(self.pick_kw(&["MIN", "MAX"]));
                if self.pct(50) {
                    c.extend([self.kw("COUNT"), self.count()]);
                }
            }
            48 => {
                let timeout = self.timeout();
                let keys: Vec<String> = (0..self.rng.usize(1..=3)).map(|_| self.key(read_pool)).collect();
                if self.pct(50) {
                    c.push(self.pick(&["BZPOPMIN", "BZPOPMAX"]));
                    c.extend(keys);
                    c.push(timeout);
                } else {
                    c.extend(["BZMPOP".into(), timeout, keys.len().to_string()]);
                    c.extend(keys);
                    c.push(self.pick_kw(&["MIN", "MAX"]));
                    if self.pct(50) {
                        c.extend([self.kw("COUNT"), self.count()]);
                    }
                }
            }
            _ => {
                let k = self.key(ZSETS);
                c = self.zadd(k, false);
            }
        }
        op(c)
    }

    /// A source for the zset algebra: sorted sets, sometimes a plain set (members score 1).
    fn zsource(&mut self, neg: bool) -> String {
        match self.rng.u32(0..100) {
            0..=74 if neg => self.pick(&["z1", "z2", "z3", LEX, "zneg", "zneg2"]),
            0..=74 => self.pick(&["z1", "z2", "z3", LEX]),
            75..=89 => self.pick(SETS),
            90..=94 => MISSING.into(),
            _ => self.pick(&[STR, "l1"]),
        }
    }

    /// `numkeys key... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` for ZUNION/ZINTER/ZDIFF[STORE].
    /// `neg`: whether the result may hold -0 (read ZNEG keys, weights of 0 and below).
    fn zsources(&mut self, name: &str, neg: bool) -> Cmd {
        let keys: Vec<String> = (0..self.rng.usize(1..=3)).map(|_| self.zsource(neg)).collect();
        let numkeys = if self.pct(96) { keys.len().to_string() } else { self.pick(&["0", "-1", "9", "x"]) };
        let mut c = vec![numkeys];
        c.extend(keys.iter().cloned());
        let diff = name.starts_with("ZDIFF");
        let mut opts: Vec<Vec<String>> = Vec::new();
        // ZDIFF takes neither WEIGHTS nor AGGREGATE: only a few, for the syntax error.
        if self.pct(if diff { 3 } else { 35 }) {
            let mut w = vec![self.kw("WEIGHTS")];
            let n = if self.pct(95) { keys.len() } else { keys.len() + 1 };
            for _ in 0..n {
                w.push(match self.rng.u32(0..100) {
                    0..=29 if neg => self.pick(NEG_WEIGHTS),
                    0..=95 => self.pick(WEIGHTS),
                    96..=97 => "inf".into(),
                    _ => "x".into(),
                });
            }
            opts.push(w);
        }
        if self.pct(if diff { 3 } else { 35 }) {
            let agg = if self.pct(97) { self.pick(&["SUM", "MIN", "MAX"]) } else { "AVG".into() };
            opts.push(vec![self.kw("AGGREGATE"), self.kw(&agg)]);
        }
        if !name.ends_with("STORE") && self.pct(50) {
            opts.push(vec![self.kw("WITHSCORES")]);
        }
        self.rng.shuffle(&mut opts);
        c.extend(opts.into_iter().flatten());
        c
    }

    /// ZRANGE (or ZRANGESTORE with `dst`) by rank, score or (for the lex key only) lex, with REV, LIMIT,
    /// WITHSCORES; mostly valid combinations.
    /// `by`: 0 rank, 1 score, 2 lex; by default rank or score.
    fn zrange(&mut self, name: &str, dst: Option<String>, key: String, by: Option<u32>) -> Cmd {
        let mut c = vec![name.to_string()];
        c.extend(dst);
        c.push(key);
        let by = by.unwrap_or_else(|| self.rng.u32(0..2));
        match by {
            0 => c.extend([self.index(), self.index()]),
            1 => c.extend([self.bound(), self.bound()]),
            _ => c.extend([self.lex_bound(), self.lex_bound()]),
        }
        let mut opts: Vec<Vec<String>> = Vec::new();
        match by {
            1 => opts.push(vec![self.kw("BYSCORE")]),
            2 => opts.push(vec![self.kw("BYLEX")]),
            _ => {}
        }
        if self.pct(35) {
            opts.push(vec![self.kw("REV")]);
        }
        // LIMIT needs BYSCORE or BYLEX; WITHSCORES is refused with BYLEX and by ZRANGESTORE.
        if self.pct(if by == 0 { 3 } else { 35 }) {
            let [o, n] = self.limit();
            opts.push(vec![self.kw("LIMIT"), o, n]);
        }
        let store = name == "ZRANGESTORE";
        if self.pct(if by == 2 || store { 3 } else { 40 }) {
            opts.push(vec![self.kw("WITHSCORES")]);
        }
        self.rng.shuffle(&mut opts);
        c.extend(opts.into_iter().flatten());
        c
    }

    /// Lex commands, on the all-zero-score key (or a missing or wrong-type key).
    fn lex_op(&mut self) -> Op {
        let k = match self.rng.u32(0..100) {
            0..=87 => LEX.to_string(),
            88..=92 => LEX2.to_string(),
            _ => LEX_WRONG.to_string(),
        };
        let mut c: Cmd = Vec::new();
        match self.rng.u32(0..20) {
            0..=5 => c = self.zadd(k, true),
            6..=7 => {
                c.extend([
                    self.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"]),
                    k,
                    self.lex_bound(),
                    self.lex_bound(),
                ]);
                if self.pct(35) {
                    let [o, n] = self.limit();
                    c.extend([self.kw("LIMIT"), o, n]);
                }
            }
            8..=9 => c.extend(["ZLEXCOUNT".into(), k, self.lex_bound(), self.lex_bound()]),
            10 => c.extend(["ZREMRANGEBYLEX".into(), k, self.lex_bound(), self.lex_bound()]),
            11..=13 => c = self.zrange("ZRANGE", None, k, Some(2)),
            14 => {
                // A copy of score-0 members is fine anywhere but the lex key itself takes only those.
                let dst = if self.pct(30) { LEX.to_string() } else { self.dest(ZSETS) };
                c = self.zrange("ZRANGESTORE", Some(dst), k, Some(2));
            }
            15 => {
                // Rank ranges of an all-zero key are in member order: well defined.
                c = self.zrange("ZRANGE", None, k, None);
                if c.iter().any(|a| a.eq_ignore_ascii_case("BYSCORE")) {
                    return op(vec![
                        "ZRANGE".into(),
                        LEX.into(),
                        "0".into(),
                        "-1".into(),
                        "WITHSCORES".into(),
                    ]);
                }
            }
            _ => {
                c.extend(["ZREM".into(), k]);
                c.extend(self.values(2));
            }
        }
        op(c)
    }

    // ---- keys ----

    fn key_op(&mut self) -> Op {
        let pools: [&[&str]; 3] = [LISTS, SETS, ZSETS];
        let pool = pools[self.rng.usize(..3)];
        let mut c: Cmd = Vec::new();
        match self.rng.u32(0..10) {
            0..=1 => {
                c.push("DEL".into());
                for _ in 0..self.rng.usize(1..=2) {
                    c.push(self.pick(ALL));
                }
            }
            2 => {
                c.push("EXISTS".into());
                for _ in 0..self.rng.usize(1..=3) {
                    c.push(self.pick(ALL));
                }
            }
            3..=4 => c.extend(["TYPE".into(), self.pick(ALL)]),
            5..=6 => c.extend(["RENAME".into(), self.pick(pool), self.pick(pool)]),
            7 => {
                c.extend(["COPY".into(), self.pick(pool), self.pick(pool)]);
                if self.pct(50) {
                    c.push(self.kw("REPLACE"));
                }
            }
            _ => c.extend(["SET".into(), STR.into(), "hello".into()]),
        }
        op(c)
    }
}

// ---- comparing replies ----

/// The raw bytes of the elements of an aggregate reply (`*`, `~`), after its header line.
fn elements(raw: &[u8]) -> Option<(&[u8], Vec<&[u8]>)> {
    if !matches!(raw.first(), Some(b'*' | b'~')) {
        return None;
    }
    let nl = raw.windows(2).position(|w| w == b"\r\n")?;
    let n: i64 = std::str::from_utf8(&raw[1..nl]).ok()?.parse().ok()?;
    let mut pos = nl + 2;
    let mut items = Vec::new();
    for _ in 0..n.max(0) {
        let (_, used) = parse_reply(&raw[pos..]).ok()??;
        items.push(&raw[pos..pos + used]);
        pos += used;
    }
    Some((&raw[..nl + 2], items))
}

/// The reply with the elements of a top-level aggregate sorted.
fn sorted(raw: &[u8]) -> Vec<u8> {
    match elements(raw) {
        Some((head, mut items)) => {
            items.sort();
            let mut out = head.to_vec();
            items.iter().for_each(|i| out.extend_from_slice(i));
            out
        }
        None => raw.to_vec(),
    }
}

/// The reply with every bulk string and double replaced by `?`: types, lengths, nulls and errors remain.
fn shape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    shape_into(raw, &mut out);
    out
}

/// Writes the shape of the reply at the start of `raw`; returns its length.
fn shape_into(raw: &[u8], out: &mut Vec<u8>) -> usize {
    let Ok(Some((_, used))) = parse_reply(raw) else {
        out.extend_from_slice(raw);
        return raw.len();
    };
    let nl = raw.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
    let line = &raw[..nl + 2];
    match raw[0] {
        b'$' if line != b"$-1\r\n" => out.extend_from_slice(b"$?\r\n"),
        b',' => out.extend_from_slice(b",?\r\n"),
        b'*' | b'~' | b'%' if !line.starts_with(b"*-1") => {
            out.extend_from_slice(line);
            let n: usize = std::str::from_utf8(&raw[1..nl]).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
            let n = if raw[0] == b'%' { n * 2 } else { n };
            let mut pos = nl + 2;
            for _ in 0..n {
                pos += shape_into(&raw[pos..], out);
            }
        }
        _ => out.extend_from_slice(&raw[..used]),
    }
    used
}

/// The strings in a reply: a bulk, or the bulks in an aggregate (flattened one level).
fn bulks(raw: &[u8]) -> Vec<String> {
    let text = |r: &Reply| r.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned());
    match parse_reply(raw) {
        Ok(Some((Reply::Bulk(b), _))) => vec![String::from_utf8_lossy(&b).into_owned()],
        Ok(Some((Reply::Array(items) | Reply::Set(items), _))) => items.iter().filter_map(text).collect(),
        _ => Vec::new(),
    }
}

/// An argument as redis-cli reads it: bare when plain, else double-quoted with escapes.
fn quote(arg: &str) -> String {
    let plain =
        !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-+_.:()[]".contains(&b));
    if plain {
        return arg.to_string();
    }
    let mut s = String::from("\"");
    for b in arg.bytes() {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    s
}

fn line(cmd: &[String]) -> String {
    let parts: Vec<String> = cmd.iter().map(|a| quote(a)).collect();
    parts.join(" ")
}

// ---- the two servers ----

struct Mismatch {
    cmd: Cmd,
    subject: Vec<u8>,
    reference: Vec<u8>,
    note: String,
}

/// One command run: what to replay for it on fresh servers (SPOP becomes the SREM of what the subject
/// popped; random reads nothing) and the subject's reply.
struct Step {
    cmd: Cmd,
    replay: Option<Cmd>,
    reply: Vec<u8>,
}

struct Pair {
    /// slotkv (or redis-server with MODEL_BOTH_REDIS=1).
    subject: Conn,
    /// redis-server.
    reference: Conn,
    subject_name: &'static str,
}

fn read(conn: &mut Conn, who: &str, cmd: &[String]) -> Result<Vec<u8>, String> {
    match conn.try_read_raw() {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(format!("{who} closed the connection after: {}", line(cmd))),
        Err(e) => Err(format!("{who}: reading the reply to {}: {e}", line(cmd))),
    }
}

impl Pair {
    fn both(&mut self, cmd: &[String]) -> Result<(Vec<u8>, Vec<u8>), String> {
        self.subject.send(cmd);
        self.reference.send(cmd);
        let a = read(&mut self.subject, self.subject_name, cmd)?;
        let b = read(&mut self.reference, "redis-server", cmd)?;
        Ok((a, b))
    }

    fn mismatch(&self, cmd: &[String], a: Vec<u8>, b: Vec<u8>, note: &str) -> Mismatch {
        Mismatch { cmd: cmd.to_vec(), subject: a, reference: b, note: note.to_string() }
    }

    /// Runs one command on both servers and compares the replies; returns the step to remember.
    fn exec(&mut self, op: &Op) -> Result<Step, Mismatch> {
        let cmd = &op.cmd;
        let (a, b) = self.both(cmd).map_err(|e| self.mismatch(cmd, Vec::new(), Vec::new(), &e))?;
        let same = match op.check {
            Check::Exact => a == b,
            Check::Unordered => sorted(&a) == sorted(&b),
            Check::SetPick | Check::Shape | Check::Spop => shape(&a) == shape(&b),
        };
        if !same {
            return Err(self.mismatch(cmd, a, b, ""));
        }
        let mut replay = Some(cmd.clone());
        match op.check {
            Check::SetPick => {
                replay = None;
                self.check_picks(cmd, &a)?;
            }
            Check::Shape => replay = None,
            Check::Spop if !a.starts_with(b"-") => {
                replay = self.resync_spop(cmd, &bulks(&a), &bulks(&b))?;
            }
            _ => {}
        }
        Ok(Step { cmd: cmd.clone(), replay, reply: a })
    }

    /// SRANDMEMBER's picks must be members of the subject's set, distinct for a positive count.
    fn check_picks(&mut self, cmd: &[String], reply: &[u8]) -> Result<(), Mismatch> {
        let picks = bulks(reply);
        if picks.is_empty() {
            return Ok(());
        }
        let positive = cmd.get(2).is_none_or(|n| !n.starts_with('-'));
        let mut distinct = picks.clone();
        distinct.sort();
        distinct.dedup();
        if positive && distinct.len() != picks.len() {
            return Err(self.mismatch(cmd, reply.to_vec(), Vec::new(), "picks repeat a member"));
        }
        let mut check = vec!["SMISMEMBER".to_string(), cmd[1].clone()];
        check.extend(picks);
        let got = read_after_send(&mut self.subject, self.subject_name, &check)
            .map_err(|e| self.mismatch(cmd, reply.to_vec(), Vec::new(), &e))?;
        let all_members = match parse_reply(&got) {
            Ok(Some((Reply::Array(flags), _))) => flags.iter().all(|f| *f == Reply::Int(1)),
            _ => false,
        };
        if all_members {
            Ok(())
        } else {
            let note = format!("a pick is not a member: {} -> {}", line(&check), show(&got));
            Err(self.mismatch(cmd, reply.to_vec(), Vec::new(), &note))
        }
    }

    /// After SPOP the two sets may differ, each server having popped its own random members. Both are put
    /// back (each server re-adds what it popped: the count must be whole, proving the members were distinct
    /// and gone), the sets are compared, and then both remove the same number of members, the smallest ones,
    /// so that the run goes on deterministically. Returns that SREM, which stands for the SPOP in a replay.
    fn resync_spop(
        &mut self,
        cmd: &[String],
        popped_a: &[String],
        popped_b: &[String],
    ) -> Result<Option<Cmd>, Mismatch> {
        let key = &cmd[1];
        let undo = |popped: &[String]| {
            let mut c = vec!["SADD".to_string(), key.clone()];
            c.extend(popped.iter().cloned());
            c
        };
        let sides = [(true, popped_a), (false, popped_b)];
        for (subject, popped) in sides {
            if popped.is_empty() {
                continue;
            }
            let c = undo(popped);
            let (conn, who) = if subject {
                (&mut self.subject, self.subject_name)
            } else {
                (&mut self.reference, "redis-server")
            };
            let got =
                read_after_send(conn, who, &c).map_err(|e| self.mismatch(cmd, Vec::new(), Vec::new(), &e))?;
            if got != format!(":{}\r\n", popped.len()).as_bytes() {
                let note = format!(
                    "putting back what SPOP popped, {} on {who} answered {}: the popped members were not distinct, \
                     or not removed",
                    line(&c),
                    show(&got)
                );
                return Err(self.mismatch(cmd, Vec::new(), got, &note));
            }
        }
        let smembers = vec!["SMEMBERS".to_string(), key.clone()];
        let (a, b) =
            self.both(&smembers).map_err(|e| self.mismatch(&smembers, Vec::new(), Vec::new(), &e))?;
        if sorted(&a) != sorted(&b) {
            return Err(self.mismatch(
                &smembers,
                a,
                b,
                "the sets differ after putting back what SPOP popped",
            ));
        }
        if popped_a.is_empty() {
            return Ok(None);
        }
        let mut members = bulks(&a);
        members.sort();
        members.truncate(popped_a.len());
        let mut srem = vec!["SREM".to_string(), key.clone()];
        srem.extend(members);
        let (a, b) = self.both(&srem).map_err(|e| self.mismatch(&srem, Vec::new(), Vec::new(), &e))?;
        if a != b {
            return Err(self.mismatch(&srem, a, b, "removing the smallest members in place of SPOP's"));
        }
        Ok(Some(srem))
    }

    /// Sends many commands to both, pipelined in batches, ignoring the replies.
    fn replay(&mut self, cmds: &[&Cmd]) -> Result<(), String> {
        for chunk in cmds.chunks(64) {
            let mut buf = Vec::new();
            chunk.iter().for_each(|c| buf.extend_from_slice(&encode(c)));
            self.subject.send_raw(&buf);
            self.reference.send_raw(&buf);
            for c in chunk {
                read(&mut self.subject, self.subject_name, c)?;
            }
            for c in chunk {
                read(&mut self.reference, "redis-server", c)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        let flush = vec!["FLUSHALL".to_string()];
        self.both(&flush).map(|_| ())
    }

    /// Whether `last` still differs after replaying `prefix` on flushed servers.
    fn reproduces(&mut self, prefix: &[&Cmd], last: &Op) -> bool {
        self.reproduce(prefix, last).is_some()
    }

    /// Replays `prefix` on flushed servers, then runs `last`: the mismatch, if it differs.
    fn reproduce(&mut self, prefix: &[&Cmd], last: &Op) -> Option<Mismatch> {
        if self.flush().is_err() || self.replay(prefix).is_err() {
            return None;
        }
        self.exec(last).err()
    }

    /// The shortest prefix found (greedy chunk removal, time-boxed) after which `last` still differs; None
    /// when even the whole history does not reproduce it.
    fn shrink(&mut self, history: &[Step], last: &Op) -> Option<Vec<Cmd>> {
        let mut cmds: Vec<&Cmd> = history.iter().filter_map(|s| s.replay.as_ref()).collect();
        if !self.reproduces(&cmds, last) {
            return None;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut chunk = cmds.len().div_ceil(2).max(1);
        loop {
            let mut i = 0;
            while i < cmds.len() && Instant::now() < deadline {
                let mut candidate = cmds.clone();
                candidate.drain(i..(i + chunk).min(cmds.len()));
                if self.reproduces(&candidate, last) {
                    cmds = candidate;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 || Instant::now() >= deadline {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        Some(cmds.into_iter().cloned().collect())
    }
}

fn read_after_send(conn: &mut Conn, who: &str, cmd: &[String]) -> Result<Vec<u8>, String> {
    conn.send(cmd);
    read(conn, who, cmd)
}

// ---- a run ----

struct Run {
    seed: u64,
    resp3: bool,
    gen: Gen,
    pair: Pair,
    history: Vec<Step>,
    /// Per command name: how many ran, how many were errors, how many empty or null (MODEL_STATS=1).
    stats: std::collections::BTreeMap<String, [usize; 3]>,
    errors: std::collections::BTreeMap<String, usize>,
    /// The CONFIG SET commands this run started with.
    config: Vec<Cmd>,
    /// Mismatches per command name, over all seeds.
    seen: std::collections::BTreeMap<String, usize>,
}

impl Run {
    fn label(&self) -> String {
        format!("seed {} over RESP{}", self.seed, if self.resp3 { 3 } else { 2 })
    }

    /// Small encoding thresholds, so conversions happen often; chosen per seed.
    fn configure(&mut self, strict: bool) {
        let choices: [&[&str]; 6] = [
            &["4", "4", "2", "8", "-2"],
            &["4", "4", "8", "512"],
            &["4", "4", "8", "128"],
            &["64", "16"],
            &["4", "4", "8", "128"],
            &["64", "16"],
        ];
        for ((name, _), choice) in DEFAULTS.iter().zip(choices) {
            let value = self.gen.pick(choice);
            let cmd = vec!["CONFIG".to_string(), "SET".to_string(), name.to_string(), value];
            let (a, _) = self.pair.both(&cmd).unwrap_or_else(|e| panic!("{e}"));
            // The reference may be 7.0, which has no set-max-listpack-*: its answer is not checked.
            assert!(
                !strict || a == b"+OK\r\n",
                "{}: {} answered {}",
                line(&cmd),
                self.pair.subject_name,
                show(&a)
            );
            self.config.push(cmd);
        }
    }

    /// The settings of this run that a reproduction needs: each one is put back to its default in turn, and
    /// stays there if the mismatch still shows (the servers are left with only the needed ones).
    fn needed_config(&mut self, prefix: &[Cmd], last: &Op) -> Vec<Cmd> {
        let prefix: Vec<&Cmd> = prefix.iter().collect();
        let mut needed = Vec::new();
        for (set, (_, default)) in self.config.clone().iter().zip(DEFAULTS) {
            if set[3] == *default {
                continue;
            }
            let mut reset = set.clone();
            reset[3] = default.to_string();
            let _ = self.pair.both(&reset);
            if !self.pair.reproduces(&prefix, last) {
                let _ = self.pair.both(set);
                needed.push(set.clone());
            }
        }
        needed
    }

    /// Puts back the settings the run started with.
    fn restore_config(&mut self) {
        for set in self.config.clone() {
            let _ = self.pair.both(&set);
        }
    }

    /// Compares the whole keyspace: types and contents.
    fn compare_state(&mut self) -> Result<(), Mismatch> {
        for key in ALL {
            let ty = op(vec!["TYPE".into(), key.to_string()]);
            self.step(&ty)?;
            let kind = self.history.last().map(|s| s.reply.clone()).unwrap_or_default();
            let read = match kind.as_slice() {
                b"+list\r\n" => op(vec!["LRANGE".into(), key.to_string(), "0".into(), "-1".into()]),
                b"+set\r\n" => unordered(vec!["SMEMBERS".into(), key.to_string()]),
                b"+zset\r\n" => {
                    op(vec!["ZRANGE".into(), key.to_string(), "0".into(), "-1".into(), "WITHSCORES".into()])
                }
                b"+string\r\n" => op(vec!["GET".into(), key.to_string()]),
                _ => continue,
            };
            self.step(&read)?;
        }
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), Mismatch> {
        let step = self.pair.exec(op)?;
        let counts = self.stats.entry(op.cmd[0].to_ascii_uppercase()).or_default();
        counts[0] += 1;
        counts[1] += usize::from(step.reply.starts_with(b"-"));
        let empty: &[&[u8]] = &[b"*0\r\n", b"~0\r\n", b"$-1\r\n", b"*-1\r\n", b"_\r\n", b":0\r\n"];
        counts[2] += usize::from(empty.contains(&step.reply.as_slice()));
        if step.reply.starts_with(b"-") {
            let text = String::from_utf8_lossy(&step.reply).trim_end().to_string();
            *self.errors.entry(text).or_default() += 1;
        }
        self.history.push(step);
        Ok(())
    }

    fn start_fresh(&mut self) {
        self.pair.flush().unwrap_or_else(|e| panic!("{e}"));
        self.history.clear();
        for key in [STR, LEX_WRONG] {
            let set = op(vec!["SET".into(), key.into(), "hello".into()]);
            if let Err(m) = self.step(&set) {
                panic!("{}: SET differs: {} vs {}", self.label(), show(&m.subject), show(&m.reference));
            }
        }
    }

    /// Runs `ops` random commands; returns the reports of the mismatches (at most one unless `keep_going`).
    fn run(&mut self, ops: usize, keep_going: bool) -> Vec<String> {
        let mut reports = Vec::new();
        let check_every: usize =
            std::env::var("MODEL_CHECK_EVERY").ok().and_then(|v| v.parse().ok()).unwrap_or(300).max(1);
        self.start_fresh();
        for i in 0..ops {
            let next = self.gen.next();
            let mut result = self.step(&next).map_err(|m| (m, next));
            if result.is_ok() && (i % check_every == check_every - 1 || i + 1 == ops) {
                let check = Op { cmd: vec!["(state check)".into()], check: Check::Exact };
                result = self.compare_state().map_err(|m| (m, check));
            }
            let Err((m, last)) = result else { continue };
            // A state check's own command is the one to reproduce.
            let last = if last.cmd[0] == "(state check)" {
                let check = if m.cmd[0] == "SMEMBERS" { Check::Unordered } else { Check::Exact };
                Op { cmd: m.cmd.clone(), check }
            } else {
                last
            };
            // In a long keep-going run the same bug shows again and again: shrink and show the first few.
            let seen = self.seen.entry(last.cmd[0].to_ascii_uppercase()).or_default();
            *seen += 1;
            if *seen <= 3 {
                reports.push(self.report(i, ops, &m, &last));
            }
            if !keep_going {
                break;
            }
            self.start_fresh();
        }
        reports
    }

    fn report(&mut self, i: usize, ops: usize, m: &Mismatch, last: &Op) -> String {
        let mut r = String::new();
        let _ = writeln!(r, "MISMATCH ({}, command {} of {ops})", self.label(), i + 1);
        let env: String = ["MODEL_OPS", "MODEL_TYPES", "MODEL_BOTH_REDIS", "MODEL_CHECK_EVERY"]
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| format!("{name}={v} ")))
            .collect();
        let test = if self.resp3 { "resp3" } else { "resp2" };
        let _ = writeln!(
            r,
            "  reproduce: MODEL_SEED={} {env}cargo test -p slotkv-tests --test model {test}",
            self.seed
        );
        let _ = writeln!(r, "  command:      {}", line(&m.cmd));
        let _ = writeln!(r, "  {:<13} {}", format!("{}:", self.pair.subject_name), show(&m.subject));
        let _ = writeln!(r, "  redis-server: {}", show(&m.reference));
        if !m.note.is_empty() {
            let _ = writeln!(r, "  note: {}", m.note);
        }
        let _ = writeln!(r, "  the last commands before it (with the replies both gave):");
        for s in &self.history[self.history.len().saturating_sub(20)..] {
            let _ = writeln!(r, "    {}  -> {}", line(&s.cmd), show(&s.reply[..s.reply.len().min(200)]));
        }
        let history = std::mem::take(&mut self.history);
        match self.pair.shrink(&history, last) {
            Some(cmds) => {
                let config = self.needed_config(&cmds, last);
                let _ = writeln!(
                    r,
                    "  minimal reproduction ({} commands before it, on an empty server):",
                    cmds.len()
                );
                if self.resp3 {
                    let _ = writeln!(r, "    HELLO 3");
                }
                for c in config.iter().chain(&cmds) {
                    let _ = writeln!(r, "    {}", line(c));
                }
                let _ = writeln!(r, "    {}", line(&last.cmd));
                let prefix: Vec<&Cmd> = cmds.iter().collect();
                if let Some(m) = self.pair.reproduce(&prefix, last) {
                    let _ = writeln!(r, "  which gives:");
                    let _ = writeln!(r, "    command:      {}", line(&m.cmd));
                    let _ = writeln!(
                        r,
                        "    {:<13} {}",
                        format!("{}:", self.pair.subject_name),
                        show(&m.subject)
                    );
                    let _ = writeln!(r, "    redis-server: {}", show(&m.reference));
                    if !m.note.is_empty() {
                        let _ = writeln!(r, "    note: {}", m.note);
                    }
                }
                self.restore_config();
            }
            None => {
                let _ = writeln!(r, "  (replaying the history on flushed servers does not reproduce it)");
            }
        }
        self.history = history;
        r
    }
}

// ---- the tests ----

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

/// The redis-server to compare with: `REDIS_SERVER_BIN`, else `redis-server` on `PATH`. The path is kept
/// as found, not resolved: redis-server is a symlink that dispatches on its name.
fn redis_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("REDIS_SERVER_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "REDIS_SERVER_BIN={} is not a file", bin.display());
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("redis-server")).find(|p| p.is_file())
}

/// The subject (slotkv, or redis-server with MODEL_BOTH_REDIS=1) and the reference redis-server, started;
/// None (the test is skipped) when there is no redis-server and SLOTKV_SKIP_REDIS_MODEL=1.
fn servers() -> Option<(Node, Node, &'static str)> {
    let Some(redis) = redis_bin() else {
        if env_flag("SLOTKV_SKIP_REDIS_MODEL") {
            eprintln!("skipped: no redis-server (SLOTKV_SKIP_REDIS_MODEL=1)");
            return None;
        }
        panic!(
            "this test compares slotkv with a real redis-server, and none was found: install one (apt-get \
             install redis-server), name it with REDIS_SERVER_BIN, or set SLOTKV_SKIP_REDIS_MODEL=1 to skip"
        );
    };
    let reference = Node::start_bin(&redis, &[]);
    if env_flag("MODEL_BOTH_REDIS") {
        Some((Node::start_bin(&redis, &[]), reference, "redis-server"))
    } else {
        Some((Node::start(&[]), reference, "slotkv"))
    }
}

fn model(resp3: bool, default_seeds: &[u64]) {
    let Some((subject_node, reference_node, subject_name)) = servers() else { return };
    let both_redis = env_flag("MODEL_BOTH_REDIS");
    let keep_going = env_flag("MODEL_KEEP_GOING");
    let ops: usize = std::env::var("MODEL_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let seeds: Vec<u64> = match std::env::var("MODEL_SEED") {
        Ok(s) => vec![s.parse().unwrap_or_else(|_| panic!("MODEL_SEED={s} is not a number"))],
        Err(_) => default_seeds.to_vec(),
    };

    let mut pair = Pair { subject: subject_node.conn(), reference: reference_node.conn(), subject_name };
    if resp3 {
        let hello = vec!["HELLO".to_string(), "3".to_string()];
        let (a, b) = pair.both(&hello).unwrap_or_else(|e| panic!("{e}"));
        assert!(a.starts_with(b"%") && b.starts_with(b"%"), "HELLO 3: {} / {}", show(&a), show(&b));
    }

    let mut reports = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    let started = Instant::now();
    for seed in seeds {
        let mut run = Run {
            seed,
            resp3,
            gen: Gen::new(seed),
            pair,
            history: Vec::new(),
            stats: Default::default(),
            errors: Default::default(),
            config: Vec::new(),
            seen,
        };
        run.configure(!both_redis);
        reports.extend(run.run(ops, keep_going));
        if env_flag("MODEL_STATS") {
            eprintln!("{}: command, count, errors, empty/null/0 replies", run.label());
            for (name, [n, errors, empty]) in &run.stats {
                eprintln!("  {name:<18} {n:>5} {errors:>5} {empty:>5}");
            }
            for (text, n) in &run.errors {
                eprintln!("  {n:>5} {text}");
            }
        }
        pair = run.pair;
        seen = run.seen;
        if !reports.is_empty() && !keep_going {
            break;
        }
    }
    eprintln!(
        "model RESP{}: {:.1?} ({subject_name} vs redis-server)",
        if resp3 { 3 } else { 2 },
        started.elapsed()
    );
    let total: usize = seen.values().sum();
    let counts: Vec<String> = seen.iter().map(|(name, n)| format!("{name} {n}")).collect();
    assert!(
        reports.is_empty(),
        "{total} mismatch(es) ({}); the first ones of each command:\n{}",
        counts.join(", "),
        reports.join("\n")
    );
    drop(subject_node);
    drop(reference_node);
}

#[test]
fn resp2() {
    model(false, &[1, 2, 3]);
}

#[test]
fn resp3() {
    model(true, &[4, 5, 6]);
}

/// Mismatches that random runs found, shrunk by hand to a few commands: each script runs on flushed
/// servers over RESP2 and RESP3, and every reply must be the same bytes. `LONG` stands for a member longer
/// than the 64-byte listpack value limit.
const REPRODUCTIONS: &[(&str, &[&str])] = &[(
    // Redis stores a listpack's integral scores as integers, so a -0 put into a listpack becomes 0.
    // ZRANGESTORE by rank starts a destination that fits as a listpack, converting it when the long member
    // comes: `a`, added before, has lost its sign (the same in 7.0 and 7.2; by score, 7.2 starts a
    // skiplist, so not that). The -0 itself comes from the weight 0, in a skiplist that keeps it.
    "-0 through a listpack",
    &[
        "ZADD src -1 a 1 LONG",
        "ZUNIONSTORE mid 1 src WEIGHTS 0",
        "ZSCORE mid a",
        "ZRANGESTORE dst mid 0 -1",
        "ZSCORE dst a",
        "ZRANGE dst 0 -1 WITHSCORES",
    ],
)];

#[test]
fn reproductions() {
    let Some((subject_node, reference_node, subject_name)) = servers() else { return };
    let mut pair = Pair { subject: subject_node.conn(), reference: reference_node.conn(), subject_name };
    let long = "x".repeat(65);
    let mut failures = Vec::new();
    for resp3 in [false, true] {
        if resp3 {
            let hello = vec!["HELLO".to_string(), "3".to_string()];
            pair.both(&hello).unwrap_or_else(|e| panic!("{e}"));
        }
        for (name, script) in REPRODUCTIONS {
            pair.flush().unwrap_or_else(|e| panic!("{e}"));
            for line_text in *script {
                let cmd: Cmd = line_text
                    .split_whitespace()
                    .map(|w| if w == "LONG" { long.clone() } else { w.to_string() })
                    .collect();
                let (a, b) = pair.both(&cmd).unwrap_or_else(|e| panic!("{e}"));
                if a != b {
                    failures.push(format!(
                        "{name} (RESP{}): {}\n  {subject_name}: {}\n  redis-server: {}",
                        if resp3 { 3 } else { 2 },
                        line(&cmd),
                        show(&a),
                        show(&b)
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} differing replies:\n{}", failures.len(), failures.join("\n"));
}
