//! `maxmemory` and the eviction policies, as Redis has them.
//!
//! Every key carries 24 bits of access information ([`crate::db::entry::Entry::access`]), kept by every
//! lookup: with the LRU and other policies, a clock in seconds (modulo 2^24, as Redis's `LRU_CLOCK`);
//! with the LFU policies, the minute of the last decrement (16 bits) and a logarithmic access counter
//! (8 bits) that grows with probability `1 / ((counter - 5) * lfu-log-factor + 1)` and loses one per
//! `lfu-decay-time` idle minutes. Changing policy at run time reinterprets the bits: as in Redis, it
//! takes a while for them to mean the new thing.
//!
//! Before each command, when `used_memory` is over `maxmemory`, keys are evicted until enough memory was
//! freed (measured by the data thread's allocation counters), or until `maxmemory-eviction-tenacity`'s time
//! budget runs out: the command then goes on and the next command (or the cron) continues, so eviction is
//! done in small steps, never as one long pause. The victims are approximately the best ones: each round
//! samples `maxmemory-samples` keys into a pool of the 16 best candidates seen so far (highest idle time,
//! lowest frequency, or nearest expiry), and evicts the best that still exists. Evicted keys are logged to
//! the AOF as `DEL` and abort transactions watching them. Only the node's own slots hold keys, so in a
//! cluster each node evicts from its own slots.

use crate::config::Config;
use crate::db::entry::Entry;
use crate::server::Server;
use std::time::{Duration, Instant};

/// The `maxmemory-policy` values.
pub const POLICY_NAMES: &[&str] = &[
    "volatile-lru",
    "allkeys-lru",
    "volatile-lfu",
    "allkeys-lfu",
    "volatile-random",
    "allkeys-random",
    "volatile-ttl",
    "noeviction",
];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    #[default]
    NoEviction,
    AllKeysLru,
    VolatileLru,
    AllKeysLfu,
    VolatileLfu,
    AllKeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(name: &str) -> Option<Policy> {
        Some(match name.to_ascii_lowercase().as_str() {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    /// Only keys with a TTL may be evicted.
    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl
        )
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }
}

/// What a key's access bits record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracking {
    Lru,
    Lfu { log_factor: u64, decay_minutes: u64 },
}

/// A new key's LFU counter, so that it is not evicted before it had a chance to be used.
pub const LFU_INIT: u32 = 5;
const CLOCK_MAX: u32 = 1 << 24;

/// The LRU clock: seconds, modulo 2^24.
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms.max(0) / 1000) as u64 % u64::from(CLOCK_MAX)) as u32
}

/// How long ago (ms) a key with this LRU clock was used; the clock wraps every 194 days.
pub fn idle_ms(access: u32, now_ms: i64) -> u64 {
    let clock = lru_clock(now_ms);
    let ticks = if clock >= access { clock - access } else { clock + (CLOCK_MAX - access) };
    u64::from(ticks) * 1000
}

fn minutes(now_ms: i64) -> u32 {
    ((now_ms.max(0) / 60_000) as u64 & 0xFFFF) as u32
}

/// The LFU counter after the decay its idle minutes earned.
pub fn lfu_decayed(access: u32, now_ms: i64, decay_minutes: u64) -> u32 {
    let (last, counter) = (access >> 8, access & 0xFF);
    let now = minutes(now_ms);
    let elapsed = if now >= last { now - last } else { 0x1_0000 - last + now };
    let periods = u64::from(elapsed).checked_div(decay_minutes).unwrap_or(0);
    counter.saturating_sub(u32::try_from(periods).unwrap_or(u32::MAX))
}

fn lfu_increment(counter: u32, log_factor: u64) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT));
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if fastrand::f64() < p {
        counter + 1
    } else {
        counter
    }
}

impl Tracking {
    pub fn of(config: &Config) -> Tracking {
        if config.maxmemory_policy.is_lfu() {
            Tracking::Lfu { log_factor: config.lfu_log_factor, decay_minutes: config.lfu_decay_time }
        } else {
            Tracking::Lru
        }
    }

    /// The access bits of a key just used.
    pub fn touch(self, access: u32, now_ms: i64) -> u32 {
        match self {
            Tracking::Lru => lru_clock(now_ms),
            Tracking::Lfu { log_factor, decay_minutes } => {
                let counter = lfu_increment(lfu_decayed(access, now_ms, decay_minutes), log_factor);
                (minutes(now_ms) << 8) | counter
            }
        }
    }

    /// The access bits of a key just created.
    pub fn fresh(self, now_ms: i64) -> u32 {
        match self {
            Tracking::Lru => lru_clock(now_ms),
            Tracking::Lfu { .. } => (minutes(now_ms) << 8) | LFU_INIT,
        }
    }
}

/// Candidates kept between evictions (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// The eviction pool and counters.
#[derive(Default)]
pub struct Evictor {
    /// The best candidates seen, by score ascending (the best last): higher scores are evicted first.
    pool: Vec<(u64, Vec<u8>)>,
    /// `INFO stats` `evicted_keys`.
    pub evicted_keys: u64,
}

impl Evictor {
    /// Keeps `key` if its score beats the pool's worst (or the pool has room).
    fn offer(&mut self, score: u64, key: &[u8]) {
        if self.pool.len() >= POOL_SIZE && self.pool.first().is_some_and(|(worst, _)| score <= *worst) {
            return;
        }
        if self.pool.iter().any(|(_, k)| k == key) {
            return;
        }
        let at = self.pool.partition_point(|(s, _)| *s < score);
        self.pool.insert(at, (score, key.to_vec()));
        if self.pool.len() > POOL_SIZE {
            self.pool.remove(0);
        }
    }
}

/// How a policy ranks a key: the higher, the sooner it goes.
fn score(policy: Policy, tracking: Tracking, e: &Entry, now_ms: i64) -> u64 {
    match (policy, tracking) {
        (Policy::VolatileTtl, _) => u64::MAX - e.expire_at().max(0) as u64,
        (_, Tracking::Lfu { decay_minutes, .. }) => {
            255 - u64::from(lfu_decayed(e.access(), now_ms, decay_minutes))
        }
        (_, Tracking::Lru) => idle_ms(e.access(), now_ms),
    }
}

/// The next key to evict under the configured policy, if any key may be evicted.
fn victim(srv: &mut Server, now: i64) -> Option<Vec<u8>> {
    let policy = srv.config.maxmemory_policy;
    let volatile = policy.volatile_only();
    if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
        let mut pick = None;
        srv.db.sample(1, volatile, now, |e| pick = Some(e.key().to_vec()));
        return pick;
    }
    let samples = srv.config.maxmemory_samples;
    let tracking = srv.db.tracking;
    loop {
        let (db, pool) = (&srv.db, &mut srv.evict);
        let mut sampled = false;
        db.sample(samples, volatile, now, |e| {
            sampled = true;
            pool.offer(score(policy, tracking, e, now), e.key());
        });
        // The best candidate that still exists (and still qualifies); stale ones are dropped.
        while let Some((_, key)) = srv.evict.pool.pop() {
            if srv.db.peek(&key, now).is_some_and(|e| !volatile || e.expire_at() != 0) {
                return Some(key);
            }
        }
        if !sampled {
            return None;
        }
    }
}

/// Removes one key as an eviction: logged as `DEL`, watchers told, counted.
fn evict(srv: &mut Server, key: &[u8]) {
    if srv.db.remove(key).is_none() {
        return;
    }
    srv.evict.evicted_keys += 1;
    if srv.feed.on {
        srv.feed.emit(&[b"DEL", key]);
    }
    if let Some(watching) = srv.watchers.get(key).cloned() {
        for token in watching {
            if let Some(c) = srv.clients.get_mut(token).and_then(|c| c.as_deref_mut()) {
                c.state.watch_dirty = true;
            }
        }
    }
}

/// What [`perform`] achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Under `maxmemory` (or no limit).
    Fits,
    /// Still over, but eviction is progressing: the command may go on.
    Evicting,
    /// Over, and nothing can be evicted (`noeviction`, or no key qualifies): refuse to grow.
    Full,
}

/// The time one call may spend evicting (Redis's `maxmemory-eviction-tenacity`: 50 us growing 15% per
/// step above 10; 100 is unlimited).
fn time_budget(tenacity: u64) -> Option<Duration> {
    if tenacity >= 100 {
        return None;
    }
    let micros = if tenacity <= 10 {
        50 * tenacity.max(1)
    } else {
        (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64
    };
    Some(Duration::from_micros(micros))
}

/// Frees memory down to `maxmemory` as the policy says, within the time budget.
pub fn perform(srv: &mut Server, now: i64) -> Outcome {
    let max = srv.config.maxmemory;
    if max == 0 {
        return Outcome::Fits;
    }
    srv.refresh_memory_at(now);
    if srv.used_memory <= max {
        return Outcome::Fits;
    }
    if srv.config.maxmemory_policy == Policy::NoEviction {
        return Outcome::Full;
    }
    let to_free = srv.used_memory - max;
    let budget = time_budget(srv.config.maxmemory_eviction_tenacity);
    let started = Instant::now();
    let mut freed = 0u64;
    let mut evicted = 0u32;
    let outcome = loop {
        if freed >= to_free {
            break Outcome::Fits;
        }
        let Some(key) = victim(srv, now) else { break Outcome::Full };
        let before = crate::memory::thread_net();
        evict(srv, &key);
        let after = crate::memory::thread_net();
        freed += match (before, after) {
            (Some(b), Some(a)) => (b - a).max(0) as u64,
            _ => 64,
        };
        evicted += 1;
        if evicted.is_multiple_of(16) && budget.is_some_and(|b| started.elapsed() > b) {
            break Outcome::Evicting;
        }
    };
    srv.refresh_memory_at(now);
    match outcome {
        Outcome::Full if srv.used_memory <= max => Outcome::Fits,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_round_trip() {
        for name in POLICY_NAMES {
            assert!(Policy::parse(name).is_some(), "{name}");
        }
        assert_eq!(Policy::parse("ALLKEYS-LRU"), Some(Policy::AllKeysLru));
        assert_eq!(Policy::parse("lru"), None);
        assert!(Policy::VolatileTtl.volatile_only() && !Policy::AllKeysLfu.volatile_only());
    }

    #[test]
    fn lru_clock_wraps_and_idle_time_follows() {
        let now = 1_700_000_000_000;
        let access = lru_clock(now - 42_000);
        assert_eq!(idle_ms(access, now), 42_000);
        // Just after the clock wrapped.
        let wrap = i64::from(CLOCK_MAX) * 1000;
        assert_eq!(idle_ms(lru_clock(wrap - 3000), wrap + 2000), 5000);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let t = Tracking::Lfu { log_factor: 10, decay_minutes: 1 };
        let now = 1_700_000_000_000;
        let mut access = t.fresh(now);
        assert_eq!(access & 0xFF, LFU_INIT);
        for _ in 0..1000 {
            access = t.touch(access, now);
        }
        let after_1000 = access & 0xFF;
        // Redis's table: factor 10 gives about 18 after 100 hits, 142 after 10k... 1000 hits land between.
        assert!((10..=60).contains(&after_1000), "{after_1000}");
        assert_eq!(lfu_decayed(access, now + 3 * 60_000, 1), after_1000 - 3, "one per idle minute");
        assert_eq!(lfu_decayed(access, now + 3 * 60_000, 0), after_1000, "decay time 0: never");
        assert_eq!(lfu_decayed(access, now + 1000 * 60_000, 1), 0);
    }

    #[test]
    fn the_pool_keeps_the_best_candidates() {
        let mut e = Evictor::default();
        for i in 0..40u64 {
            e.offer(i, format!("k{i}").as_bytes());
        }
        assert_eq!(e.pool.len(), POOL_SIZE);
        assert_eq!(e.pool.last().map(|(s, _)| *s), Some(39));
        assert_eq!(e.pool.first().map(|(s, _)| *s), Some(24));
        e.offer(3, b"low");
        assert!(!e.pool.iter().any(|(_, k)| k == b"low"), "worse than the worst: not kept");
        e.offer(39, b"k39");
        assert_eq!(e.pool.iter().filter(|(_, k)| k == b"k39").count(), 1, "no duplicates");
    }

    #[test]
    fn tenacity_budgets() {
        assert_eq!(time_budget(10), Some(Duration::from_micros(500)));
        assert_eq!(time_budget(0), Some(Duration::from_micros(50)));
        assert!(time_budget(20).is_some_and(|d| d > Duration::from_millis(1)));
        assert_eq!(time_budget(100), None);
    }
}
