"""Lua scripting through redis-py (issue 10): its `Lock` (acquire, release, extend, reacquire, all Lua
scripts run with EVALSHA), `register_script`, and a sliding-window rate limiter script.

Run against slotkv (default) or real Redis with SLOTKV_NODE_BIN=/usr/bin/redis-server: both must pass.
Each test runs over RESP2 and RESP3 (the `protocol` fixture).
"""

import time

import pytest
from redis.exceptions import LockError, LockNotOwnedError, NoScriptError, ResponseError


def test_lock_acquire_release_extend_reacquire(r):
    lock = r.lock("resource", timeout=10, blocking=False)
    assert lock.acquire()
    token = r.get("resource")
    assert token is not None and lock.owned()
    # A second owner cannot take it while it is held.
    other = r.lock("resource", timeout=10, blocking=False)
    assert not other.acquire()
    assert 9000 <= r.pttl("resource") <= 10000
    assert lock.extend(20)  # adds to what is left
    assert 28000 <= r.pttl("resource") <= 30000
    assert lock.extend(5, replace_ttl=True)
    assert 4000 <= r.pttl("resource") <= 5000
    assert lock.reacquire()
    assert 9000 <= r.pttl("resource") <= 10000
    lock.release()
    assert r.get("resource") is None
    with pytest.raises(LockError):
        lock.release()
    assert other.acquire()
    # The scripts refuse a lock that someone else owns now.
    r.set("resource", "not-the-token")
    with pytest.raises(LockNotOwnedError):
        other.extend(5)
    with pytest.raises(LockNotOwnedError):
        other.reacquire()
    with pytest.raises(LockNotOwnedError):
        other.release()


def test_lock_blocks_until_released(r, server, protocol):
    holder = r.lock("job", timeout=1)
    assert holder.acquire()
    waiter = server.client(protocol=protocol).lock("job", timeout=5, sleep=0.05, blocking_timeout=3)
    started = time.monotonic()
    assert waiter.acquire()  # after the holder's lock expires
    assert 0.5 < time.monotonic() - started < 3
    waiter.release()


def test_lock_as_context_manager_and_script_cache(r):
    with r.lock("ctx", timeout=5):
        assert r.exists("ctx") == 1
    assert r.exists("ctx") == 0
    # The scripts were loaded once and run by SHA; a flushed cache is loaded again transparently.
    r.script_flush()
    with r.lock("ctx", timeout=5):
        assert r.exists("ctx") == 1


RATE_LIMIT = """
-- Sliding window: at most ARGV[2] calls per ARGV[1] milliseconds for KEYS[1]; ARGV[3] is now (ms).
local window, limit, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, now .. '-' .. used)
redis.call('PEXPIRE', KEYS[1], window)
return {1, limit - used - 1}
"""


def test_rate_limiter_script(r):
    limiter = r.register_script(RATE_LIMIT)
    now = 1_000_000
    results = [limiter(keys=["rl:user"], args=[1000, 3, now + i]) for i in range(5)]
    assert results == [[1, 2], [1, 1], [1, 0], [0, 997], [0, 996]]
    # Once the window has moved past the first two calls, they count no more: one of three is used.
    assert limiter(keys=["rl:user"], args=[1000, 3, now + 1001]) == [1, 1]
    assert 0 < r.pttl("rl:user") <= 1000
    # Another key has its own budget.
    assert limiter(keys=["rl:other"], args=[1000, 3, now]) == [1, 2]


def test_register_script_errors_and_evalsha(r):
    script = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert script(keys=["n"], args=[5]) == 5
    assert r.evalsha(script.sha, 1, "n", 2) == 7
    assert r.script_exists(script.sha, "0" * 40) == [True, False]
    with pytest.raises(NoScriptError):
        r.evalsha("0" * 40, 0)
    with pytest.raises(ResponseError, match="Error compiling script"):
        r.eval("return 'x", 0)
    with pytest.raises(ResponseError, match="attempt to perform arithmetic on a nil value"):
        r.eval("return nil + 1", 0)
    r.set("s", "x")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        r.eval("return redis.call('LPUSH', KEYS[1], 'v')", 1, "s")
    with pytest.raises(ResponseError, match="Write commands are not allowed from read-only scripts"):
        r.eval_ro("return redis.call('SET', KEYS[1], 'v')", 1, "k")
    assert r.eval_ro("return redis.call('GET', KEYS[1])", 1, "s") == "x"
