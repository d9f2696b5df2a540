//! The allocator: jemalloc, whose statistics give an honest `used_memory`.

/// Bytes the program has allocated and not freed, as jemalloc counts them.
pub fn allocated() -> u64 {
    // The statistics are cached per epoch; advancing it refreshes them (cheap: a few microseconds).
    if tikv_jemalloc_ctl::epoch::advance().is_err() {
        return 0;
    }
    tikv_jemalloc_ctl::stats::allocated::read().map(|n| n as u64).unwrap_or(0)
}

/// Bytes in pages jemalloc holds from the OS (close to RSS).
pub fn resident() -> u64 {
    tikv_jemalloc_ctl::stats::resident::read().map(|n| n as u64).unwrap_or(0)
}

/// Resident set size of the process from /proc, 0 where unavailable.
pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

thread_local! {
    /// jemalloc's running totals of what this thread allocated and freed.
    static THREAD_COUNTERS: Option<(tikv_jemalloc_ctl::thread::ThreadLocal<u64>, tikv_jemalloc_ctl::thread::ThreadLocal<u64>)> =
        tikv_jemalloc_ctl::thread::allocatedp::read().ok().zip(tikv_jemalloc_ctl::thread::deallocatedp::read().ok());
}

/// Bytes this thread allocated minus bytes it freed, since it started: two memory loads, cheap enough to
/// measure what one eviction freed, or how `used_memory` moved between two reads of [`allocated`].
pub fn thread_net() -> Option<i64> {
    THREAD_COUNTERS.with(|c| c.map(|(a, d)| a.get() as i64 - d.get() as i64))
}
