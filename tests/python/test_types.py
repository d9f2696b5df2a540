"""redis-py against lists, sets, sorted sets, transactions, pub/sub and blocking commands: the calls
applications make (queues, leaderboards, WATCH-based optimistic locking, chat fan-out), with the values
redis-py returns from real Redis. Runs over RESP2 and RESP3, against slotkv or (SLOTKV_NODE_BIN) redis-server.
"""

import threading
import time

import pytest
import redis
from redis.exceptions import ResponseError, WatchError

from test_redis_py import wait_until


def test_list_queue(r):
    assert r.rpush("q", "a", "b", "c") == 3
    assert r.lpush("q", "z") == 4
    assert r.lrange("q", 0, -1) == ["z", "a", "b", "c"]
    assert r.lpop("q") == "z"
    assert r.rpop("q", 2) == ["c", "b"]
    assert r.llen("q") == 1
    assert r.lmove("q", "done", "LEFT", "RIGHT") == "a"
    assert r.exists("q") == 0
    assert r.lindex("done", -1) == "a"
    assert r.lpos("done", "a") == 0


def test_set_membership(r):
    assert r.sadd("s", "a", "b", "c") == 3
    assert r.sismember("s", "a") == 1 or r.sismember("s", "a") is True
    assert r.smembers("s") == {"a", "b", "c"}
    assert r.smismember("s", ["a", "x"]) in ([1, 0], [True, False])
    assert r.sadd("t", "b", "c", "d") == 3
    assert r.sinter("s", "t") == {"b", "c"}
    assert r.sunion("s", "t") == {"a", "b", "c", "d"}
    assert r.sdiff("s", "t") == {"a"}
    assert r.sinterstore("st", ["s", "t"]) == 2
    assert r.scard("st") == 2
    assert r.srem("s", "a", "x") == 1


def test_leaderboard(r):
    assert r.zadd("board", {"ann": 10, "bob": 30, "cid": 20}) == 3
    assert r.zincrby("board", 15, "ann") == 25.0
    # redis-py gives tuples over RESP2, lists over RESP3.
    assert [tuple(x) for x in r.zrevrange("board", 0, 1, withscores=True)] == [("bob", 30.0), ("ann", 25.0)]
    assert r.zrank("board", "cid") == 0
    assert r.zscore("board", "bob") == 30.0
    assert r.zrangebyscore("board", 20, "(30") == ["cid", "ann"]
    assert r.zcount("board", "-inf", "+inf") == 3
    popped = r.zpopmin("board")  # [(m, s)] over RESP2, [m, s] over RESP3, as Redis replies
    assert popped in ([("cid", 20.0)], ["cid", 20.0])
    assert r.zcard("board") == 2


def test_watch_transaction_retries_on_conflict(r, server, protocol):
    r.set("counter", 1)
    other = server.client(protocol=protocol)
    with r.pipeline() as pipe:
        pipe.watch("counter")
        value = int(pipe.get("counter"))
        other.set("counter", 100)  # a concurrent writer
        pipe.multi()
        pipe.set("counter", value + 1)
        with pytest.raises(WatchError):
            pipe.execute()
    assert r.get("counter") == "100"

    def incr(pipe):
        value = int(pipe.get("counter"))
        pipe.multi()
        pipe.set("counter", value + 1)

    assert r.transaction(incr, "counter") == [True]
    assert r.get("counter") == "101"


def test_transaction_with_a_failing_command(r):
    r.set("s", "x")
    with r.pipeline() as pipe:
        pipe.set("a", 1).lpush("s", "y").incr("a")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            pipe.execute()
    assert r.get("a") == "2"


def test_pubsub_messages(r, server, protocol):
    p = r.pubsub()
    p.subscribe("news")
    p.psubscribe("chat.*")
    assert wait_until(lambda: p.get_message(timeout=0.1) is None and r.pubsub_numsub("news") == [("news", 1)])
    assert r.publish("news", "hello") == 1
    assert r.publish("chat.room", "hi") == 1
    got = []
    assert wait_until(lambda: (m := p.get_message(timeout=0.1)) is not None and got.append(m) is None and len(got) == 2)
    assert [(m["type"], m["channel"], m["data"]) for m in got] == [
        ("message", "news", "hello"),
        ("pmessage", "chat.room", "hi"),
    ]
    assert got[1]["pattern"] == "chat.*"
    p.close()


def test_blpop_waits_for_a_push(r, server, protocol):
    pusher = server.client(protocol=protocol)
    threading.Timer(0.2, lambda: pusher.rpush("jobs", "job-1")).start()
    started = time.monotonic()
    assert r.blpop(["jobs"], timeout=5) in (("jobs", "job-1"), ["jobs", "job-1"])
    assert time.monotonic() - started >= 0.15
    assert r.blpop(["jobs"], timeout=0.1) is None
    assert r.bzpopmin("nothing", timeout=0.1) is None
