"""A scripted redis-py session: every value asserted is what redis-py returns from real Redis.

Run against slotkv (default) or against real Redis with SLOTKV_NODE_BIN=/usr/bin/redis-server: both
must pass, except where a test names the Redis version it needs. Each test runs over RESP2 and RESP3
(the `protocol` fixture); redis-py 8 opens RESP3 connections with `HELLO 3` and every connection with
`CLIENT SETINFO LIB-NAME/LIB-VER`.
"""

import datetime
import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError
from redis.retry import Retry

from conftest import PASSWORD

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"


def wait_until(predicate, timeout=3.0, interval=0.01):
    """Polls `predicate` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def no_retry():
    """A retry policy that surfaces connection-level errors (e.g. AuthenticationError) at once."""
    return Retry(NoBackoff(), 0)


def error_of(fn, *args, **kwargs):
    """Runs a call that must fail with ResponseError and returns the error text redis-py reports."""
    with pytest.raises(ResponseError) as exc:
        fn(*args, **kwargs)
    return str(exc.value)


# ---------------------------------------------------------------- connection handshake


def test_handshake_resp_version_and_lib_info(server, protocol, server_version):
    c = server.client(protocol=protocol, client_name="handshake")
    try:
        assert c.ping() is True
        info = c.client_info()
        assert info["name"] == "handshake"
        assert info["resp"] == str(protocol) or info["resp"] == protocol
        if server_version >= (7, 2):
            # redis-py sends CLIENT SETINFO LIB-NAME redis-py / LIB-VER <version> on connect.
            assert info["lib-name"] == "redis-py"
            assert info["lib-ver"] == redis.__version__
    finally:
        c.close()


def test_hello_reply(r, protocol, real_redis):
    reply = r.execute_command("HELLO", protocol)
    if protocol == 2:
        assert isinstance(reply, list)  # a flat field/value list over RESP2
        reply = dict(zip(reply[::2], reply[1::2]))
    assert reply["server"] == "redis"
    assert reply["proto"] == protocol
    assert reply["id"] == r.client_id()
    assert reply["mode"] == "standalone"
    assert reply["role"] == "master"
    assert reply["modules"] == []
    if not real_redis:
        assert reply["version"] == "7.2.4"
    assert error_of(r.execute_command, "HELLO", 4) == "NOPROTO unsupported protocol version"
    assert r.ping() is True  # the failed HELLO left the connection as it was


def test_client_setinfo(r, server_version):
    if server_version < (7, 2):
        pytest.skip("CLIENT SETINFO needs Redis >= 7.2")
    assert r.client_setinfo("LIB-NAME", "myapp") is True
    assert r.client_setinfo("LIB-VER", "1.2.3") is True
    info = r.client_info()
    assert info["lib-name"] == "myapp"
    assert info["lib-ver"] == "1.2.3"
    # Redis 7.2 formats this as "%s cannot contain ..." with the attribute name; only the tail is checked
    # here because no Redis 7.2 was at hand to confirm the attribute's case.
    assert error_of(r.client_setinfo, "LIB-NAME", "has space").endswith(
        " cannot contain spaces, newlines or special characters."
    )
    assert error_of(r.execute_command, "CLIENT", "SETINFO", "bogus", "x") == "Unrecognized option 'bogus'"


# ---------------------------------------------------------------- strings


def test_set_get_nx_xx_get(r):
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.get("missing") is None
    assert r.set("k", "w", nx=True) is None
    assert r.get("k") == "v"
    assert r.set("new", "x", xx=True) is None
    assert r.exists("new") == 0
    assert r.set("k", "w", xx=True) is True
    assert r.get("k") == "w"
    assert r.set("k", "z", get=True) == "w"
    assert r.set("absent", "a", get=True) is None
    assert r.get("absent") == "a"
    # NX and GET together (Redis >= 7.0): the old value comes back and nothing is written.
    assert r.set("k", "ignored", nx=True, get=True) == "z"
    assert r.get("k") == "z"
    assert r.set("fresh", "f", nx=True, get=True) is None
    assert r.get("fresh") == "f"
    assert r.set("k", "q", xx=True, get=True) == "z"
    assert r.set("nope", "q", xx=True, get=True) is None
    assert r.exists("nope") == 0


def test_set_expiry_options(r):
    now = time.time()
    assert r.set("ex", "1", ex=100) is True
    assert 98 <= r.ttl("ex") <= 100
    assert r.set("px", "1", px=100_000) is True
    assert 98_000 <= r.pttl("px") <= 100_000
    assert r.set("exat", "1", exat=int(now) + 100) is True
    assert 98 <= r.ttl("exat") <= 100
    assert r.expiretime("exat") == int(now) + 100
    assert r.set("pxat", "1", pxat=int(now * 1000) + 100_000) is True
    assert 98_000 <= r.pttl("pxat") <= 100_000
    assert r.pexpiretime("pxat") == int(now * 1000) + 100_000
    # A timedelta is sent as EX/PX seconds/milliseconds.
    assert r.set("td", "1", ex=datetime.timedelta(seconds=50)) is True
    assert 48 <= r.ttl("td") <= 50
    # KEEPTTL keeps it; a plain SET clears it.
    assert r.set("ex", "2", keepttl=True) is True
    assert 98 <= r.ttl("ex") <= 100
    assert r.get("ex") == "2"
    assert r.set("ex", "3") is True
    assert r.ttl("ex") == -1
    # SET ... GET with EX: returns the old value and sets the TTL.
    assert r.set("ex", "4", ex=30, get=True) == "3"
    assert 28 <= r.ttl("ex") <= 30


def test_set_errors(r):
    assert error_of(r.set, "k", "v", ex=0) == "invalid expire time in 'set' command"
    assert error_of(r.set, "k", "v", px=-5) == "invalid expire time in 'set' command"
    assert error_of(r.execute_command, "SET", "k", "v", "EX", "10", "PX", "100") == "syntax error"
    assert error_of(r.execute_command, "SET", "k", "v", "NX", "XX") == "syntax error"
    assert error_of(r.execute_command, "SET", "k", "v", "EX", "ten") == NOT_INT
    assert error_of(r.execute_command, "SET", "k", "v", "BOGUS") == "syntax error"
    assert error_of(r.execute_command, "SET", "k", "v", "KEEPTTL", "EX", "10") == "syntax error"
    assert r.exists("k") == 0
    r.hset("h", "f", "v")
    assert error_of(r.set, "h", "v", get=True) == WRONGTYPE
    assert r.type("h") == "hash"  # SET ... GET on the wrong type does not overwrite
    assert r.set("h", "v") is True  # plain SET overwrites any type
    assert r.type("h") == "string"


def test_getex_getdel_getset(r):
    r.set("k", "v")
    assert r.getex("k") == "v"
    assert r.ttl("k") == -1
    assert r.getex("k", ex=100) == "v"
    assert 98 <= r.ttl("k") <= 100
    assert r.getex("k", px=50_000) == "v"
    assert 48_000 <= r.pttl("k") <= 50_000
    assert r.getex("k", exat=int(time.time()) + 200) == "v"
    assert 198 <= r.ttl("k") <= 200
    assert r.getex("k", pxat=int(time.time() * 1000) + 300_000) == "v"
    assert 298 <= r.ttl("k") <= 300
    assert r.getex("k", persist=True) == "v"
    assert r.ttl("k") == -1
    assert r.getex("missing", ex=10) is None
    assert r.exists("missing") == 0
    assert error_of(r.execute_command, "GETEX", "k", "EX", "0") == "invalid expire time in 'getex' command"
    assert error_of(r.execute_command, "GETEX", "k", "EX", "1", "PERSIST") == "syntax error"

    assert r.getdel("k") == "v"
    assert r.exists("k") == 0
    assert r.getdel("k") is None

    assert r.getset("g", "1") is None
    assert r.getset("g", "2") == "1"
    assert r.get("g") == "2"
    r.set("t", "x", ex=100)
    assert r.getset("t", "y") == "x"
    assert r.ttl("t") == -1  # GETSET clears the TTL

    r.hset("h", "f", "v")
    assert error_of(r.getex, "h") == WRONGTYPE
    assert error_of(r.getdel, "h") == WRONGTYPE
    assert error_of(r.getset, "h", "v") == WRONGTYPE


def test_setnx_setex_psetex(r):
    assert r.setnx("k", "1") is True
    assert r.setnx("k", "2") is False
    assert r.get("k") == "1"
    assert r.setex("e", 100, "v") is True
    assert r.get("e") == "v"
    assert 98 <= r.ttl("e") <= 100
    assert r.setex("e2", datetime.timedelta(seconds=60), "v") is True
    assert 58 <= r.ttl("e2") <= 60
    assert r.psetex("p", 100_000, "v") is True
    assert r.get("p") == "v"
    assert 98_000 <= r.pttl("p") <= 100_000
    assert error_of(r.setex, "e", 0, "v") == "invalid expire time in 'setex' command"
    assert error_of(r.psetex, "p", -1, "v") == "invalid expire time in 'psetex' command"


def test_mget_mset_msetnx(r):
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget(["a", "b", "missing"]) == ["1", "2", None]
    assert r.mget("a", "b") == ["1", "2"]
    r.hset("h", "f", "v")
    assert r.mget("a", "h") == ["1", None]  # MGET answers nil for other types
    assert r.msetnx({"a": "x", "c": "3"}) is False
    assert r.get("a") == "1"
    assert r.exists("c") == 0
    assert r.msetnx({"c": "3", "d": "4"}) is True
    assert r.mget("c", "d") == ["3", "4"]
    assert error_of(r.execute_command, "MSET", "a", "1", "b") == "wrong number of arguments for 'mset' command"
    assert error_of(r.execute_command, "MSETNX", "a") == "wrong number of arguments for 'msetnx' command"


def test_append_strlen_getrange_setrange(r):
    assert r.append("s", "Hello") == 5
    assert r.append("s", " World") == 11
    assert r.get("s") == "Hello World"
    assert r.strlen("s") == 11
    assert r.strlen("missing") == 0
    assert r.getrange("s", 0, 4) == "Hello"
    assert r.getrange("s", -5, -1) == "World"
    assert r.getrange("s", 0, -1) == "Hello World"
    assert r.getrange("s", 6, 1000) == "World"
    assert r.getrange("s", 100, 200) == ""
    assert r.getrange("s", 5, 2) == ""
    assert r.getrange("missing", 0, 10) == ""
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == "Hello Redis"
    assert r.setrange("pad", 5, "x") == 6
    assert r.get("pad") == "\x00\x00\x00\x00\x00x"
    assert r.setrange("s", 0, "") == 11
    assert r.setrange("empty", 3, "") == 0
    assert r.exists("empty") == 0
    assert error_of(r.setrange, "s", -1, "x") == "offset is out of range"
    r.set("n", 12345)
    assert r.append("n", "6") == 6
    assert r.get("n") == "123456"
    assert r.strlen("n") == 6
    r.hset("h", "f", "v")
    assert error_of(r.append, "h", "x") == WRONGTYPE
    assert error_of(r.strlen, "h") == WRONGTYPE
    assert error_of(r.getrange, "h", 0, 1) == WRONGTYPE


def test_binary_values(rb):
    rb.flushall()
    blob = bytes(range(256)) * 4
    assert rb.set(b"bin\x00key", blob) is True
    assert rb.get(b"bin\x00key") == blob
    assert rb.strlen(b"bin\x00key") == 1024
    assert rb.getrange(b"bin\x00key", 0, 3) == b"\x00\x01\x02\x03"
    assert rb.keys(b"bin*") == [b"bin\x00key"]


def test_counters(r):
    assert r.incr("n") == 1
    assert r.incr("n", 5) == 6
    assert r.incrby("n", 10) == 16
    assert r.decr("n") == 15
    assert r.decr("n", 5) == 10
    assert r.decrby("n", 3) == 7
    assert r.incrby("n", -10) == -3
    assert r.get("n") == "-3"
    assert r.decr("fresh") == -1
    assert r.incrbyfloat("f", 10.5) == 10.5
    assert r.incrbyfloat("f", 0.1) == 10.6
    assert r.get("f") == "10.6"
    assert r.incrbyfloat("g", 0.1) == pytest.approx(0.1)
    assert r.incrbyfloat("g", 0.2) == pytest.approx(0.3)
    assert r.get("g") == "0.3"
    assert r.incrbyfloat("n", 1) == -2.0
    assert r.get("n") == "-2"
    r.set("e", "5.0e3")
    assert r.incrbyfloat("e", 1) == 5001.0
    assert r.get("e") == "5001"

    r.set("s", "abc")
    assert error_of(r.incr, "s") == NOT_INT
    assert error_of(r.incrby, "s", 2) == NOT_INT
    assert error_of(r.incrbyfloat, "s", 1.5) == "value is not a valid float"
    r.set("big", 2**63 - 1)
    assert error_of(r.incr, "big") == "increment or decrement would overflow"
    r.set("small", -(2**63))
    assert error_of(r.decr, "small") == "increment or decrement would overflow"
    r.set("sp", " 1")
    assert error_of(r.incr, "sp") == NOT_INT
    assert error_of(r.execute_command, "INCRBY", "n", "1.5") == NOT_INT
    assert error_of(r.execute_command, "INCRBYFLOAT", "n", "abc") == "value is not a valid float"
    r.hset("h", "f", "v")
    assert error_of(r.incr, "h") == WRONGTYPE
    assert error_of(r.incrbyfloat, "h", 1.0) == WRONGTYPE


# ---------------------------------------------------------------- keys


def test_delete_unlink_exists_type(r):
    r.mset({"a": "1", "b": "2", "c": "3"})
    r.hset("h", "f", "v")
    assert r.exists("a") == 1
    assert r.exists("a", "a", "missing", "h") == 3
    assert r.type("a") == "string"
    assert r.type("h") == "hash"
    assert r.type("missing") == "none"
    assert r.delete("a", "b", "missing") == 2
    assert r.exists("a", "b") == 0
    assert r.delete("missing") == 0
    assert r.unlink("c", "h", "missing") == 2
    assert r.dbsize() == 0


def test_expire_family(r):
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.pttl("k") == -1
    assert r.expiretime("k") == -1
    assert r.ttl("missing") == -2
    assert r.pttl("missing") == -2
    assert r.expiretime("missing") == -2
    assert r.expire("missing", 100) is False

    # No TTL yet: XX and GT refuse (no TTL counts as infinite), NX and LT set.
    assert r.expire("k", 100, xx=True) is False
    assert r.expire("k", 100, gt=True) is False
    assert r.ttl("k") == -1
    assert r.expire("k", 100, nx=True) is True
    assert 98 <= r.ttl("k") <= 100
    assert r.expire("k", 200, nx=True) is False
    assert r.expire("k", 200, xx=True) is True
    assert 198 <= r.ttl("k") <= 200
    assert r.expire("k", 100, gt=True) is False
    assert r.expire("k", 300, gt=True) is True
    assert 298 <= r.ttl("k") <= 300
    assert r.expire("k", 400, lt=True) is False
    assert r.expire("k", 50, lt=True) is True
    assert 48 <= r.ttl("k") <= 50
    r.persist("k")
    assert r.expire("k", 50, lt=True) is True

    r.set("p", "v")
    assert r.pexpire("p", 100_000) is True
    assert 98_000 <= r.pttl("p") <= 100_000
    assert r.pexpire("p", 50_000, gt=True) is False
    assert r.pexpire("p", 50_000, lt=True) is True
    assert r.pexpire("p", 1_000, nx=True) is False
    assert r.pexpire("p", 60_000, xx=True) is True
    assert 58_000 <= r.pttl("p") <= 60_000
    assert r.pexpire("p", datetime.timedelta(seconds=70)) is True
    assert 68_000 <= r.pttl("p") <= 70_000

    when = int(time.time()) + 500
    r.set("at", "v")
    assert r.expireat("at", when) is True
    assert r.expiretime("at") == when
    assert r.expireat("at", when + 100, lt=True) is False
    assert r.expireat("at", when + 100, gt=True) is True
    assert r.expiretime("at") == when + 100
    assert r.expireat("at", when, xx=True) is True
    assert r.expireat("at", when, nx=True) is False
    assert r.expireat("missing", when) is False

    # EXPIRETIME and TTL round to the nearest second (Redis: (ms + 500) / 1000).
    when_ms = (int(time.time()) + 500) * 1000 + 700
    r.set("pat", "v")
    assert r.pexpireat("pat", when_ms) is True
    assert r.pexpiretime("pat") == when_ms
    assert r.expiretime("pat") == when_ms // 1000 + 1
    r.set("round", "v", pxat=when_ms - 400)
    assert r.expiretime("round") == when_ms // 1000
    r.set("round", "v", px=10_900)
    assert r.ttl("round") == 11
    r.set("round", "v", px=10_300)
    assert r.ttl("round") == 10
    assert r.pexpireat("pat", when_ms - 1000, gt=True) is False
    assert r.pexpireat("pat", when_ms - 1000, lt=True) is True
    assert r.pexpiretime("pat") == when_ms - 1000
    assert r.pexpireat("pat", datetime.datetime.now() + datetime.timedelta(seconds=100)) is True
    assert 98 <= r.ttl("pat") <= 100

    # A time in the past deletes the key and answers 1.
    r.set("gone", "v")
    assert r.expire("gone", -1) is True
    assert r.exists("gone") == 0
    r.set("gone", "v")
    assert r.pexpireat("gone", 1000) is True
    assert r.exists("gone") == 0

    assert error_of(r.execute_command, "EXPIRE", "k", "10", "NX", "XX") == (
        "NX and XX, GT or LT options at the same time are not compatible"
    )
    assert error_of(r.execute_command, "EXPIRE", "k", "10", "GT", "LT") == (
        "GT and LT options at the same time are not compatible"
    )
    assert error_of(r.execute_command, "EXPIRE", "k", "10", "BOGUS") == "Unsupported option BOGUS"
    assert error_of(r.execute_command, "EXPIRE", "k", "ten") == NOT_INT


def test_persist(r):
    r.set("k", "v", ex=100)
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False
    assert r.persist("missing") is False


def test_rename_renamenx(r):
    r.set("a", "1", ex=100)
    assert r.rename("a", "b") is True
    assert r.exists("a") == 0
    assert r.get("b") == "1"
    assert 98 <= r.ttl("b") <= 100  # the TTL moves with the value
    assert error_of(r.rename, "missing", "x") == "no such key"
    assert r.rename("b", "b") is True
    assert r.get("b") == "1"
    r.set("c", "3")
    assert r.rename("c", "b") is True  # overwrites, and the target loses its old TTL with its old value
    assert r.get("b") == "3"
    assert r.ttl("b") == -1
    r.set("d", "4")
    assert r.renamenx("d", "b") is False
    assert r.get("d") == "4"
    assert r.renamenx("d", "e") is True
    assert r.get("e") == "4"
    assert error_of(r.renamenx, "missing", "x") == "no such key"
    r.hset("h", mapping={"f": "v"})
    assert r.rename("h", "h2") is True
    assert r.hgetall("h2") == {"f": "v"}


def test_copy(r):
    r.set("a", "1", ex=100)
    assert r.copy("a", "b") is True
    assert r.get("b") == "1"
    assert 98 <= r.ttl("b") <= 100  # COPY copies the TTL
    r.set("c", "3")
    assert r.copy("a", "c") is False
    assert r.get("c") == "3"
    assert r.copy("a", "c", replace=True) is True
    assert r.get("c") == "1"
    assert r.copy("missing", "x") is False
    r.hset("h", mapping={"f": "v", "g": "w"})
    assert r.copy("h", "h2") is True
    r.hset("h", "f", "changed")
    assert r.hgetall("h2") == {"f": "v", "g": "w"}  # a deep copy
    assert error_of(r.copy, "a", "a") == "source and destination objects are the same"
    r.set("s", "v")
    assert r.copy("h", "s") is False
    assert r.copy("h", "s", replace=True) is True
    assert r.type("s") == "hash"


def test_scan_keys_randomkey_dbsize_flushall(r):
    assert r.randomkey() is None
    assert r.dbsize() == 0
    for i in range(300):
        r.set(f"user:{i}", i)
    for i in range(20):
        r.hset(f"user:h{i}", "f", "v")
    r.set("other", "x")
    assert r.dbsize() == 321

    assert set(r.scan_iter()) == set(r.keys("*"))
    assert len(r.keys("*")) == 321
    users = set(r.scan_iter(match="user:*", count=10))
    assert len(users) == 320
    assert set(r.scan_iter(match="user:1?", count=1000)) == {f"user:{i}" for i in range(10, 20)}
    assert set(r.scan_iter(_type="hash")) == {f"user:h{i}" for i in range(20)}
    assert set(r.scan_iter(match="user:h1*", _type="hash", count=50)) == {"user:h1"} | {
        f"user:h{i}" for i in range(10, 20)
    }
    assert set(r.scan_iter(_type="string", match="oth*")) == {"other"}
    assert list(r.scan_iter(match="nomatch*")) == []

    # One SCAN call with COUNT: a cursor (int) and a list.
    cursor, page = r.scan(0, count=5)
    assert isinstance(cursor, int)
    assert isinstance(page, list)
    assert error_of(r.execute_command, "SCAN", "notanumber") == "invalid cursor"

    assert sorted(r.keys("user:2?")) == sorted(f"user:{i}" for i in range(20, 30))
    assert sorted(r.keys("user:[12]")) == ["user:1", "user:2"]
    assert sorted(r.keys("user:h1[^0-4]")) == [f"user:h1{i}" for i in range(5, 10)]
    assert r.keys("nomatch*") == []
    assert r.keys("other") == ["other"]

    assert r.randomkey() in set(r.keys("*"))

    assert r.flushall() is True
    assert r.dbsize() == 0
    assert r.keys("*") == []
    assert r.flushdb() is True
    assert r.flushall(asynchronous=True) is True


def test_object_encoding(r):
    r.set("int", 12345)
    r.set("short", "abc")
    r.set("long", "x" * 100)
    assert r.object("encoding", "int") == "int"
    assert r.object("encoding", "short") == "embstr"
    assert r.object("encoding", "long") == "raw"
    r.append("short", "d")
    assert r.object("encoding", "short") == "raw"
    r.hset("small", mapping={"a": "1"})
    assert r.object("encoding", "small") == "listpack"
    # Redis's compiled-in default (no config file) is hash-max-listpack-entries 512 (redis.conf says 128).
    r.hset("edge", mapping={f"f{i}": i for i in range(512)})
    assert r.object("encoding", "edge") == "listpack"
    r.hset("edge", "one-more", "x")
    assert r.object("encoding", "edge") == "hashtable"
    r.hdel("edge", "one-more", "f1", "f2")
    assert r.object("encoding", "edge") == "hashtable"  # no conversion back
    r.hset("big", mapping={f"f{i}": i for i in range(600)})
    assert r.object("encoding", "big") == "hashtable"
    r.hset("longval", "f", "v" * 100)
    assert r.object("encoding", "longval") == "hashtable"
    assert r.object("encoding", "missing") is None
    assert error_of(r.execute_command, "OBJECT", "NOSUCH", "int").startswith(
        "unknown subcommand 'NOSUCH'. Try OBJECT HELP."
    )


def test_expiry_px_100(r):
    r.set("e", "v", px=100)
    assert r.get("e") == "v"
    assert wait_until(lambda: r.get("e") is None, timeout=3.0)
    assert r.exists("e") == 0
    assert r.ttl("e") == -2


def test_active_expiry(r):
    # Keys nobody reads again must still go away (the active expiry cycle), and DBSIZE must drop.
    r.set("keep", "v")
    for i in range(50):
        r.set(f"t{i}", "v", px=100)
    assert r.dbsize() == 51
    assert wait_until(lambda: r.dbsize() == 1, timeout=5.0), f"dbsize stayed {r.dbsize()}"
    assert r.keys("*") == ["keep"]


def test_keyspace_info(r):
    r.set("a", "1")
    r.set("b", "2", ex=100)
    ks = r.info("keyspace")
    assert ks["db0"]["keys"] == 2
    assert ks["db0"]["expires"] == 1
    r.flushall()
    assert "db0" not in r.info("keyspace")


# ---------------------------------------------------------------- hashes


def test_hash_basics(r):
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", "a", "10") == 0
    assert r.hset("h", "c", "3", mapping={"d": "4"}) == 2
    assert r.hset("h", items=["e", "5", "f", "6"]) == 2
    assert r.hget("h", "a") == "10"
    assert r.hget("h", "nope") is None
    assert r.hget("missing", "a") is None
    assert r.hmget("h", ["a", "x", "b"]) == ["10", None, "2"]
    assert r.hmget("missing", "a", "b") == [None, None]
    assert r.hlen("h") == 6
    assert r.hlen("missing") == 0
    assert r.hexists("h", "a") is True
    assert r.hexists("h", "x") is False
    assert r.hexists("missing", "a") is False
    assert r.hdel("h", "a", "x", "e") == 2
    assert r.hlen("h") == 4
    assert r.hgetall("h") == {"b": "2", "c": "3", "d": "4", "f": "6"}
    assert r.hgetall("missing") == {}
    keys, vals = r.hkeys("h"), r.hvals("h")
    assert sorted(keys) == ["b", "c", "d", "f"]
    assert dict(zip(keys, vals)) == r.hgetall("h")
    assert r.hkeys("missing") == []
    assert r.hvals("missing") == []
    assert r.hstrlen("h", "b") == 1
    r.hset("h", "long", "x" * 50)
    assert r.hstrlen("h", "long") == 50
    assert r.hstrlen("h", "nope") == 0
    assert r.hstrlen("missing", "a") == 0
    assert r.hdel("h", "b", "c", "d", "f", "long") == 5
    assert r.exists("h") == 0  # the last HDEL removes the key
    assert r.hdel("missing", "a") == 0


def test_hsetnx_hincr(r):
    assert r.hsetnx("h", "f", "1") in (True, 1)
    assert r.hsetnx("h", "f", "2") in (False, 0)
    assert r.hget("h", "f") == "1"
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    assert r.hincrby("h", "f") == 2
    assert r.hincrbyfloat("h", "x", 1.5) == 1.5
    assert r.hincrbyfloat("h", "x", 0.1) == 1.6
    assert r.hget("h", "x") == "1.6"
    assert r.hincrbyfloat("h", "n", 0.5) == -1.5
    assert r.hincrbyfloat("new", "f", 2) == 2.0
    r.hset("h", "s", "abc")
    assert error_of(r.hincrby, "h", "s", 1) == "hash value is not an integer"
    assert error_of(r.hincrbyfloat, "h", "s", 1.0) == "hash value is not a float"
    assert error_of(r.hincrby, "h", "n", "x") == NOT_INT
    assert error_of(r.execute_command, "HINCRBYFLOAT", "h", "n", "x") == "value is not a valid float"
    r.hset("h", "max", 2**63 - 1)
    assert error_of(r.hincrby, "h", "max", 1) == "increment or decrement would overflow"


def test_hrandfield(r, protocol):
    fields = {f"f{i}": str(i) for i in range(10)}
    r.hset("h", mapping=fields)
    assert r.hrandfield("h") in fields
    assert r.hrandfield("missing") is None
    two = r.hrandfield("h", 2)
    assert len(two) == 2 and len(set(two)) == 2 and set(two) <= set(fields)
    assert sorted(r.hrandfield("h", 100)) == sorted(fields)  # count > size: each field once
    rep = r.hrandfield("h", -25)  # negative: repetitions allowed, exactly |count| items
    assert len(rep) == 25 and set(rep) <= set(fields)
    assert r.hrandfield("h", 0) == []
    assert r.hrandfield("missing", 3) == []
    # redis-py's (legacy) shapes: RESP2 gives a flat [field, value, ...] list, RESP3 a list of [field, value].
    def pairs(reply):
        if protocol == 2:
            return list(zip(reply[::2], reply[1::2]))
        assert all(isinstance(p, list) and len(p) == 2 for p in reply)
        return [tuple(p) for p in reply]

    three = pairs(r.hrandfield("h", 3, withvalues=True))
    assert len(three) == 3 and len(dict(three)) == 3
    assert all(fields[f] == v for f, v in three)
    neg = pairs(r.hrandfield("h", -4, withvalues=True))
    assert len(neg) == 4
    assert all(fields[f] == v for f, v in neg)
    assert sorted(pairs(r.hrandfield("h", 20, withvalues=True))) == sorted(fields.items())
    r.set("s", "v")
    assert error_of(r.hrandfield, "s") == WRONGTYPE


def test_hscan(r):
    small = {f"f{i}": str(i) for i in range(10)}
    r.hset("small", mapping=small)
    assert dict(r.hscan_iter("small")) == small
    assert dict(r.hscan_iter("small", match="f1*")) == {"f1": "1"}
    cursor, page = r.hscan("small")
    assert cursor == 0 and page == small  # a compact hash comes back whole
    big = {f"field:{i}": str(i) for i in range(1000)}
    r.hset("big", mapping=big)
    seen = list(r.hscan_iter("big", count=50))
    assert dict(seen) == big
    assert dict(r.hscan_iter("big", match="field:99*", count=100)) == {
        k: v for k, v in big.items() if k.startswith("field:99")
    }
    assert list(r.hscan_iter("missing")) == []
    r.set("s", "v")
    assert error_of(r.hscan, "s") == WRONGTYPE


def test_hash_wrongtype_and_arity(r):
    r.set("s", "v")
    for call in (
        lambda: r.hset("s", "f", "v"),
        lambda: r.hget("s", "f"),
        lambda: r.hgetall("s"),
        lambda: r.hdel("s", "f"),
        lambda: r.hlen("s"),
        lambda: r.hkeys("s"),
        lambda: r.hincrby("s", "f", 1),
    ):
        assert error_of(call) == WRONGTYPE
    r.hset("h", "f", "v")
    assert error_of(r.get, "h") == WRONGTYPE
    assert error_of(r.execute_command, "HSET", "h", "f") == "wrong number of arguments for 'hset' command"
    assert error_of(r.execute_command, "HSET", "h", "f", "v", "g") == "wrong number of arguments for 'hset' command"
    assert error_of(r.execute_command, "HGET", "h") == "wrong number of arguments for 'hget' command"


# ---------------------------------------------------------------- server


def test_ping_echo(r):
    assert r.ping() is True
    assert r.echo("hello") == "hello"
    assert r.echo("") == ""


def test_info(r, real_redis):
    info = r.info()
    for field in ("redis_version", "redis_mode", "os", "arch_bits", "process_id", "tcp_port", "uptime_in_seconds",
                  "connected_clients", "used_memory", "used_memory_human", "total_commands_processed",
                  "keyspace_hits", "keyspace_misses", "role"):
        assert field in info, field
    if real_redis:
        assert isinstance(info["redis_version"], str)
    else:
        assert info["redis_version"] == "7.2.4"
        assert "slotkv_version" in info
    assert info["redis_mode"] == "standalone"
    assert info["role"] == "master"
    assert isinstance(info["process_id"], int)
    assert info["tcp_port"] == r.connection_pool.connection_kwargs["port"]

    server = r.info("server")
    assert "redis_version" in server and "used_memory" not in server
    clients = r.info("clients")
    assert clients["connected_clients"] >= 1
    memory = r.info("memory")
    assert memory["used_memory"] > 0
    assert memory["maxmemory"] == 0
    assert memory["maxmemory_policy"] == "noeviction"
    persistence = r.info("persistence")
    assert persistence["loading"] == 0
    assert isinstance(persistence["rdb_last_save_time"], int)
    stats = r.info("stats")
    assert stats["total_connections_received"] >= 1
    assert stats["total_commands_processed"] >= 1
    replication = r.info("replication")
    assert replication["role"] == "master"
    assert replication["connected_slaves"] == 0
    cpu = r.info("cpu")
    assert "used_cpu_sys" in cpu
    assert r.info("nosuchsection") == {}
    everything = r.info("everything")
    assert "redis_version" in everything and "used_memory" in everything
    assert "redis_version" in r.info("all")
    assert "redis_version" in r.info("default")

    r.set("hit", "1")
    before = r.info("stats")
    r.get("hit")
    r.get("miss")
    after = r.info("stats")
    assert after["keyspace_hits"] == before["keyspace_hits"] + 1
    assert after["keyspace_misses"] == before["keyspace_misses"] + 1


def test_config_get_set(r):
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert r.config_get("nosuch-setting") == {}
    listpack = r.config_get("hash-max-listpack-*")
    assert listpack == {"hash-max-listpack-entries": "512", "hash-max-listpack-value": "64"}
    assert r.config_get("hash-max-ziplist-entries") == {"hash-max-ziplist-entries": "512"}  # the old alias
    both = r.config_get("maxmemory", "timeout")
    assert both == {"maxmemory": "0", "timeout": "0"}
    port = r.config_get("port")
    assert port == {"port": str(r.connection_pool.connection_kwargs["port"])}
    try:
        assert r.config_set("maxmemory", "100mb") is True
        assert r.config_get("maxmemory") == {"maxmemory": "104857600"}
        assert r.info("memory")["maxmemory"] == 104857600
        assert r.config_set("hash-max-listpack-entries", 2) is True
        r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
        assert r.object("encoding", "h") == "hashtable"
    finally:
        r.config_set("maxmemory", "0")
        r.config_set("hash-max-listpack-entries", 512)
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    msg = error_of(r.config_set, "nosuch-setting", "1")
    assert msg == "Unknown option or number of arguments for CONFIG SET - 'nosuch-setting'"
    msg = error_of(r.config_set, "maxmemory", "lots")
    assert msg.startswith("CONFIG SET failed (possibly related to argument 'maxmemory')")
    msg = error_of(r.config_set, "daemonize", "yes")
    assert msg == "CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
    assert r.config_resetstat() is True


def test_client_commands(server, r):
    assert r.client_getname() is None
    assert r.client_setname("py-main") is True
    assert r.client_getname() == "py-main"
    my_id = r.client_id()
    assert isinstance(my_id, int) and my_id > 0
    info = r.client_info()
    assert int(info["id"]) == my_id
    assert info["name"] == "py-main"
    assert info["db"] in ("0", 0)
    assert "addr" in info and "laddr" in info
    listing = r.client_list()
    mine = [c for c in listing if int(c["id"]) == my_id]
    assert len(mine) == 1 and mine[0]["name"] == "py-main"
    assert error_of(r.client_setname, "has space") == "Client names cannot contain spaces, newlines or special characters."
    assert r.client_setname("") is True
    assert r.client_getname() is None

    other = server.client(protocol=2, retry=None)
    try:
        other.client_setname("victim")
        victim_id = other.client_id()
        assert victim_id != my_id
        assert any(c["name"] == "victim" for c in r.client_list())
        assert [c["name"] for c in r.client_list(client_id=[victim_id])] == ["victim"]
        assert r.client_kill_filter(_id=victim_id) == 1
        assert wait_until(lambda: all(int(c["id"]) != victim_id for c in r.client_list()))
        # redis-py reconnects the killed client transparently: it comes back as a new client.
        assert other.ping() is True
        assert other.client_id() != victim_id
        assert r.client_kill_filter(_id=victim_id) == 0
        third = server.client(protocol=2)
        try:
            third_id = third.client_id()
            addr = third.client_info()["addr"]
            assert r.client_kill(addr) is True
            assert wait_until(lambda: all(int(c["id"]) != third_id for c in r.client_list()))
            assert r.client_kill_filter(addr=addr) == 0
        finally:
            third.close()
        assert error_of(r.client_kill, "127.0.0.1:1") == "No such client"
        assert r.client_kill_filter(_id=my_id, skipme=True) == 0
        assert r.ping() is True
    finally:
        other.close()


def test_command_introspection(r):
    count = r.command_count()
    assert isinstance(count, int) and count > 0
    table = r.command()
    assert len(table) == count
    for name in ("get", "set", "hset", "hgetall", "scan", "client", "config", "info", "command", "hello"):
        assert name in table, name
    assert table["get"]["arity"] == 2
    assert table["set"]["arity"] == -3
    assert table["hset"]["arity"] == -4
    assert table["get"]["first_key_pos"] == 1
    assert table["mset"]["step_count"] == 2
    assert "readonly" in table["get"]["flags"]
    assert "write" in table["set"]["flags"]
    # COMMAND INFO goes through the same parser as COMMAND.
    info = r.execute_command("COMMAND", "INFO", "get")
    assert info["get"]["arity"] == 2
    assert r.command_getkeys("MSET", "a", "1", "b", "2") == ["a", "b"]
    assert set(r.command_list(pattern="hget*")) == {"hget", "hgetall"}
    names = r.command_list()  # commands and their subcommands ('config|get')
    assert len([n for n in names if "|" not in n]) == count
    assert "config|get" in names
    assert "client|setname" in names


def test_select_time_lastsave(r):
    assert r.execute_command("SELECT", 0) in (True, "OK")
    assert r.get("nothing") is None
    seconds, micros = r.time()
    assert abs(seconds + micros / 1e6 - time.time()) < 5
    assert 0 <= micros < 1_000_000
    last = r.lastsave()
    assert isinstance(last, datetime.datetime)
    assert last <= datetime.datetime.now() + datetime.timedelta(seconds=5)


# ---------------------------------------------------------------- errors


def test_error_messages(r):
    r.hset("h", "f", "v")
    with pytest.raises(ResponseError) as exc:
        r.get("h")
    assert str(exc.value) == WRONGTYPE
    assert error_of(r.execute_command, "GET") == "wrong number of arguments for 'get' command"
    assert error_of(r.execute_command, "GET", "a", "b") == "wrong number of arguments for 'get' command"
    assert error_of(r.execute_command, "FOO", "a", "b") == (
        "unknown command 'FOO', with args beginning with: 'a' 'b' "
    )
    assert error_of(r.execute_command, "FOO") == "unknown command 'FOO', with args beginning with: "
    assert error_of(r.execute_command, "CONFIG", "NOSUCH") == (
        "unknown subcommand 'NOSUCH'. Try CONFIG HELP."
    )
    assert error_of(r.execute_command, "CLIENT", "NOSUCH") == (
        "unknown subcommand 'NOSUCH'. Try CLIENT HELP."
    )
    assert error_of(r.execute_command, "SET", "k") == "wrong number of arguments for 'set' command"
    assert error_of(r.execute_command, "CONFIG", "GET") == "wrong number of arguments for 'config|get' command"
    assert error_of(r.execute_command, "EXPIRE", "k", "99999999999999999999") == NOT_INT
    assert error_of(r.execute_command, "SELECT", "x") == NOT_INT
    # The connection is still usable after errors.
    assert r.ping() is True


def test_pipeline_error_in_the_middle(r):
    r.hset("h", "f", "v")
    pipe = r.pipeline(transaction=False)
    pipe.set("a", "1")
    pipe.get("h")
    pipe.incr("a")
    pipe.execute_command("NOSUCHCMD")
    pipe.get("a")
    results = pipe.execute(raise_on_error=False)
    assert results[0] is True
    assert isinstance(results[1], ResponseError) and str(results[1]) == WRONGTYPE
    assert results[2] == 2
    assert isinstance(results[3], ResponseError)
    assert str(results[3]).startswith("unknown command 'NOSUCHCMD'")
    assert results[4] == "2"
    pipe = r.pipeline(transaction=False)
    pipe.get("h")
    pipe.set("b", "1")
    with pytest.raises(ResponseError) as exc:
        pipe.execute()
    assert WRONGTYPE in str(exc.value)
    assert r.get("b") == "1"  # the commands after the error still ran


# ---------------------------------------------------------------- auth


def test_auth_required(auth_server, protocol):
    no_pass = redis.Redis(host="127.0.0.1", port=auth_server.port, protocol=protocol, decode_responses=True,
                          retry=no_retry())
    try:
        with pytest.raises(AuthenticationError) as exc:
            no_pass.ping()
        if protocol == 2:
            assert str(exc.value) == "Authentication required."
        else:
            assert str(exc.value).startswith("HELLO must be called with the client already authenticated")
    finally:
        no_pass.close()

    wrong = redis.Redis(host="127.0.0.1", port=auth_server.port, protocol=protocol, password="wrong",
                        decode_responses=True, retry=no_retry())
    try:
        with pytest.raises(AuthenticationError) as exc:
            wrong.ping()
        assert str(exc.value) == "invalid username-password pair or user is disabled."
    finally:
        wrong.close()

    good = auth_server.client(protocol=protocol)
    try:
        assert good.ping() is True
        assert good.set("k", "v") is True
        assert good.get("k") == "v"
        assert good.client_info()["user"] == "default"
    finally:
        good.close()

    user_pass = redis.Redis(host="127.0.0.1", port=auth_server.port, protocol=protocol, username="default",
                            password=PASSWORD, decode_responses=True)
    try:
        assert user_pass.get("k") == "v"
    finally:
        user_pass.close()


def test_auth_command(auth_server):
    # driver_info=None: no CLIENT SETINFO on connect, which Redis 7.2 refuses with NOAUTH before AUTH, so
    # that the connection opens unauthenticated and AUTH is sent by hand.
    c = redis.Redis(host="127.0.0.1", port=auth_server.port, protocol=2, decode_responses=True,
                    single_connection_client=True, retry=no_retry(), driver_info=None)
    try:
        with pytest.raises(AuthenticationError):
            c.get("k")
        with pytest.raises(AuthenticationError) as exc:
            c.auth("wrong")
        assert str(exc.value) == "invalid username-password pair or user is disabled."
        assert c.auth(PASSWORD) is True
        assert c.ping() is True
        assert c.auth(PASSWORD, username="default") is True
        with pytest.raises(AuthenticationError) as exc:
            c.auth(PASSWORD, username="nouser")
        assert str(exc.value) == "invalid username-password pair or user is disabled."
        assert c.auth(PASSWORD) is True  # redis-py dropped the connection on the failed AUTH
        assert c.ping() is True
    finally:
        c.close()


def test_auth_without_requirepass(server, protocol):
    # redis-py maps this ERR reply to AuthenticationError (and drops the connection).
    c = server.client(protocol=protocol, retry=no_retry())
    with pytest.raises(AuthenticationError) as exc:
        c.auth("whatever")
    c.close()
    msg = str(exc.value)
    assert msg.startswith("AUTH <password> called without any password configured for the default user")


# ---------------------------------------------------------------- pipelines and concurrency


def test_pipeline_1000(r):
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"p:{i}", i)
    assert pipe.execute() == [True] * 1000
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        if i % 4 == 0:
            pipe.get(f"p:{i}")
        elif i % 4 == 1:
            pipe.incr(f"p:{i}")
        elif i % 4 == 2:
            pipe.hset("ph", f"f{i}", i)
        else:
            pipe.exists(f"p:{i}", "nope")
    results = pipe.execute()
    assert len(results) == 1000
    for i, res in enumerate(results):
        if i % 4 == 0:
            assert res == str(i)
        elif i % 4 == 1:
            assert res == i + 1
        elif i % 4 == 2:
            assert res == 1
        else:
            assert res == 1
    assert r.dbsize() == 1001
    assert r.hlen("ph") == 250


def test_pool_threads_incr(server, protocol):
    pool = redis.ConnectionPool(host="127.0.0.1", port=server.port, protocol=protocol, max_connections=8,
                                decode_responses=True)
    client = redis.Redis(connection_pool=pool)
    client.delete("counter")
    per_thread = 500
    errors = []
    start = threading.Barrier(8)

    def worker():
        try:
            start.wait()
            for _ in range(per_thread):
                client.incr("counter")
        except Exception as e:  # collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert client.get("counter") == str(8 * per_thread)
    client.delete("counter")
    pool.disconnect()
