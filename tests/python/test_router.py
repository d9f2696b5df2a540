"""redis-py (a client that knows nothing of slots) through slotkv-router in front of a 3-node cluster
(issue 9 acceptance), and the Django example sharing sessions between two app servers.

The router binary is SLOTKV_ROUTER_BIN (default: target/debug/slotkv-router beside the node binary). The
nodes run with appendonly (fsync always) so that a node restarted during a workload keeps every
acknowledged write.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import http.cookiejar
from pathlib import Path

import pytest
import redis

from conftest import free_port, node_binary

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def router_binary() -> Path:
    raw = os.environ.get("SLOTKV_ROUTER_BIN")
    path = Path(raw) if raw else node_binary().parent / "slotkv-router"
    if not path.is_file():
        pytest.fail(f"router binary not found: {path} (cargo build -p slotkv-router, or set SLOTKV_ROUTER_BIN)",
                    pytrace=False)
    return path


def cluster_port():
    """A free port whose cluster bus port (+10000) is free too."""
    for _ in range(100):
        p = free_port()
        if p >= 55000:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 10000))
            except OSError:
                continue
        return p
    pytest.fail("no free port pair")


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class Proc:
    """One process with a log file in its own directory; restartable with the same arguments."""

    def __init__(self, args, directory, name, env=None):
        self.args, self.dir, self.name, self.env = args, directory, name, env
        self.log_path = Path(directory) / f"{name}.log"
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        log.close()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return ""


class Cluster:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="slotkv-router-py-")
        self.nodes, self.ports, self.router = [], [], None
        for i in range(3):
            d = Path(self.tmp.name) / f"n{i}"
            d.mkdir()
            port = cluster_port()
            args = [str(node_binary()), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                    "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            node = Proc(args, d, "node")
            self.nodes.append(node)
            node.start()
            self.ports.append(port)
        for p in self.ports:
            wait_until(lambda p=p: redis.Redis(port=p).ping(), 20, f"node {p}")
        out = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                              "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True)
        assert "All 16384 slots covered" in out.stdout, out.stdout + out.stderr
        self.wait_ok()
        self.router_port = free_port()
        seeds = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        self.router = Proc([str(router_binary()), "--port", str(self.router_port), "--bind", "127.0.0.1",
                            "--seeds", seeds], self.tmp.name, "router")
        self.router.start()
        wait_until(lambda: redis.Redis(port=self.router_port).ping(), 20, "the router")

    def wait_ok(self):
        for p in self.ports:
            def ok(p=p):
                info = redis.Redis(port=p, decode_responses=True).cluster("info")
                return info["cluster_state"] == "ok" and str(info["cluster_known_nodes"]) == "3"

            wait_until(ok, 30, f"cluster ok on {p}")

    def client(self, **kw):
        kw.setdefault("decode_responses", True)
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(port=self.router_port, **kw)

    def node_id(self, i):
        return redis.Redis(port=self.ports[i], decode_responses=True).execute_command("CLUSTER", "MYID")

    def stop(self):
        status = self.router.stop()
        for n in self.nodes:
            n.stop()
        self.tmp.cleanup()
        return status


@pytest.fixture(scope="module")
def cluster():
    c = Cluster.__new__(Cluster)
    c.nodes, c.router = [], None
    try:
        c.__init__()
    except BaseException:
        # A failed start still stops whatever it started.
        for n in c.nodes:
            n.stop(signal.SIGKILL)
        if c.router is not None:
            c.router.stop(signal.SIGKILL)
        raise
    yield c
    status = c.stop()
    assert status == 0, "the router exits cleanly on SIGTERM"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(cluster, request):
    c = cluster.client(protocol=request.param)
    c.flushall()
    yield c
    c.close()


def test_command_families(r):
    # strings
    assert r.set("s", "v", ex=100) and r.get("s") == "v" and 0 < r.ttl("s") <= 100
    assert r.incrby("n", 5) == 5 and r.incrbyfloat("n", 0.5) == 5.5
    assert r.append("s", "w") == 2 and r.getrange("s", 0, 0) == "v" and r.strlen("s") == 2
    assert r.getdel("s") == "vw" and r.get("s") is None
    # hashes
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.hgetall("h") == {"a": "1", "b": "2"}
    assert r.hmget("h", "a", "x") == ["1", None] and r.hincrby("h", "a", 2) == 3
    assert sorted(r.hkeys("h")) == ["a", "b"] and r.hlen("h") == 2
    assert len(r.hrandfield("h", 2, withvalues=True)) in (2, 4)
    # lists
    assert r.rpush("l", "a", "b", "c") == 3 and r.lrange("l", 0, -1) == ["a", "b", "c"]
    assert r.lpop("l", 2) == ["a", "b"] and r.lpos("l", "c") == 0
    # sets
    assert r.sadd("{t}s1", "a", "b") == 2 and r.sadd("{t}s2", "b", "c") == 2
    assert r.sinter("{t}s1", "{t}s2") == {"b"} and r.sunion("{t}s1", "{t}s2") == {"a", "b", "c"}
    assert r.smismember("{t}s1", ["a", "z"]) == [1, 0]
    # sorted sets, the shapes that differ between RESP2 and RESP3
    r.zadd("z", {"a": 1, "b": 2.5, "c": 3})
    pairs = lambda v: [tuple(x) for x in v]  # redis-py gives tuples in RESP2, lists in RESP3 (as with Redis)
    assert pairs(r.zrange("z", 0, -1, withscores=True)) == [("a", 1.0), ("b", 2.5), ("c", 3.0)]
    assert r.zscore("z", "b") == 2.5 and r.zmscore("z", ["a", "q"]) == [1.0, None]
    assert pairs(r.zpopmin("z", 1)) == [("a", 1.0)]
    assert r.zrank("z", "c") == 1 and r.zcard("z") == 2
    r.zadd("{z}1", {"x": 1}); r.zadd("{z}2", {"x": 2, "y": 5})
    assert pairs(r.zunion(["{z}1", "{z}2"], withscores=True)) == [("x", 3.0), ("y", 5.0)]
    # keys
    assert r.exists("z", "h", "nope") == 2 and r.type("h") == "hash"
    assert r.expire("h", 50) and 0 < r.ttl("h") <= 50 and r.persist("h")
    assert r.rename("{k}a", "{k}b") if r.set("{k}a", 1) else False
    assert r.dbsize() == len(r.keys("*"))
    assert set(r.scan_iter(count=5)) == set(r.keys("*"))
    assert r.delete("z", "h", "n", "nope") == 3


def test_lock_and_scripts_through_the_router(r):
    """redis-py's Lock (Lua scripts by EVALSHA, loaded on first use) on keys of every node."""
    for name in ("lock:a", "lock:b", "lock:c", "lock:d", "lock:e", "lock:f"):
        lock = r.lock(name, timeout=10, blocking=False)
        assert lock.acquire()
        assert not r.lock(name, timeout=10, blocking=False).acquire()
        assert lock.extend(20)
        assert 25 <= r.ttl(name) <= 30
        assert lock.reacquire()
        lock.release()
        assert r.get(name) is None
    # SCRIPT LOAD through the router reaches every node: EVALSHA works whatever node owns the key.
    sha = r.script_load("return redis.call('INCR', KEYS[1])")
    assert [r.evalsha(sha, 1, f"counter:{i}") for i in range(20)] == [1] * 20
    assert r.script_exists(sha) == [True]


def test_pipeline_of_10000_mixed_commands(r):
    p = r.pipeline(transaction=False)
    for i in range(2500):
        p.set(f"p{i}", i)
        p.incr(f"c{i % 50}")
        p.get(f"p{i}")
        p.rpush(f"list{i % 20}", i)
    out = p.execute()
    assert len(out) == 10000
    for i in range(2500):
        assert out[4 * i] is True
        assert out[4 * i + 2] == str(i)
    assert r.get("c0") == "50" and r.llen("list0") == 125


def test_mget_mset_over_1000_keys(r, cluster):
    data = {f"key:{i}": f"value-{i}" for i in range(1000)}
    assert r.mset(data)
    keys = list(data) + ["absent"]
    assert r.mget(keys) == list(data.values()) + [None]
    for p in cluster.ports:
        assert redis.Redis(port=p).dbsize() > 250, "keys on every node"
    assert r.exists(*keys) == 1000
    assert r.delete(*keys) == 1000


def test_transactions(r):
    p = r.pipeline(transaction=True)
    p.set("{acct}a", 10).incrby("{acct}a", 5).get("{acct}a")
    assert p.execute() == [True, 15, "15"]
    # WATCH: a write by another client aborts the transaction.
    with r.pipeline(transaction=True) as p:
        p.watch("{acct}a")
        other = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
        other.set("{acct}a", 99)
        p.multi()
        p.set("{acct}a", 0)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("{acct}a") == "99"
    # Keys spanning slots in one transaction: refused (Redis Cluster semantics).
    p = r.pipeline(transaction=True)
    p.set("{a}x", 1).set("{b}y", 2)
    with pytest.raises(redis.ResponseError):
        p.execute()


def test_pubsub_between_connections(cluster):
    sub_client = cluster.client()
    pub = cluster.client()
    ps = sub_client.pubsub()
    ps.subscribe("chat")
    ps.psubscribe("news.*")
    wait_until(lambda: ps.get_message(timeout=0.1) is None and ps.subscribed, 5, "subscribed")
    got = []

    def listen():
        for m in ps.listen():
            if m["type"] in ("message", "pmessage"):
                got.append((m["channel"], m["data"]))
                if len(got) == 20:
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    time.sleep(0.1)
    for i in range(10):
        assert pub.publish("chat", f"m{i}") >= 1
        pub.publish("news.today", f"n{i}")
    t.join(10)
    assert [d for c, d in got if c == "chat"] == [f"m{i}" for i in range(10)]
    assert [d for c, d in got if c == "news.today"] == [f"n{i}" for i in range(10)]
    ps.close()


def test_blocking_pop_woken_by_push(cluster):
    a, b = cluster.client(), cluster.client()
    result = {}

    def pop():
        result["v"] = a.blpop(["jobs"], timeout=10)

    t = threading.Thread(target=pop)
    t.start()
    time.sleep(0.2)
    b.rpush("jobs", "job-1")
    t.join(10)
    assert result["v"] == ("jobs", "job-1")
    assert a.bzpopmin("nothing", timeout=0.05) is None


def test_live_reshard_and_node_restart_under_load(cluster):
    """A writer runs through the router while slots move and a node restarts: no errors, no lost writes."""
    r = cluster.client()
    r.flushall()
    acked, errors, stop = [], [], threading.Event()

    def writer(wid):
        c = cluster.client()
        i = 0
        while not stop.is_set():
            key = f"w{wid}:{i}"
            try:
                c.set(key, i)
                c.incr(f"count:{wid}")
                acked.append(key)
                i += 1
            except redis.RedisError as e:
                errors.append(repr(e))
                time.sleep(0.01)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    # Move 1000 slots from node 0 to node 1 while the writers run.
    out = subprocess.run(["redis-cli", "--cluster", "reshard", f"127.0.0.1:{cluster.ports[0]}",
                          "--cluster-from", cluster.node_id(0), "--cluster-to", cluster.node_id(1),
                          "--cluster-slots", "1000", "--cluster-yes"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    cluster.wait_ok()
    time.sleep(0.3)
    # Restart node 2 (its data is in its AOF).
    cluster.nodes[2].stop()
    cluster.nodes[2].start()
    wait_until(lambda: redis.Redis(port=cluster.ports[2]).ping(), 20, "node 2 back")
    cluster.wait_ok()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(30)
    assert errors == [], errors[:5]
    assert len(acked) > 100
    values = r.mget(acked)
    missing = [k for k, v in zip(acked, values) if v is None]
    assert missing == [], f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"
    for w in range(4):
        # No acknowledged increment is lost. One more than acknowledged is possible: a command in flight
        # when the node closed its connections ran there but its reply was lost, and the router sent it
        # again (at-least-once on a lost connection; docs/router.md, known gaps).
        done = sum(1 for k in acked if k.startswith(f"w{w}:"))
        assert done <= int(r.get(f"count:{w}")) <= done + 1


def test_django_sessions_shared_by_two_app_servers(cluster):
    pytest.importorskip("django")
    example = ROOT / "examples" / "django-sessions"
    servers, ports = [], []
    for name in ("app-a", "app-b"):
        port = free_port()
        env = dict(os.environ, APP_NAME=name, SLOTKV_URL=f"redis://127.0.0.1:{cluster.router_port}",
                   PYTHONUNBUFFERED="1")
        p = Proc([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], example, name,
                 env=env)
        p.log_path = Path(cluster.tmp.name) / f"{name}.log"
        p.start()
        servers.append(p)
        ports.append(port)
    try:
        for port in ports:
            wait_until(lambda port=port: urllib.request.urlopen(f"http://127.0.0.1:{port}/login?user=x", timeout=2),
                       30, f"django on {port}")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        import json

        first = json.load(opener.open(f"http://127.0.0.1:{ports[0]}/login?user=alice"))
        assert first == {"server": "app-a", "user": "alice"}
        for n in range(1, 11):
            port = ports[n % 2]
            page = json.load(opener.open(f"http://127.0.0.1:{port}/"))
            assert page["server"] == ("app-a" if port == ports[0] else "app-b")
            assert page["user"] == "alice", page
            assert page["visits"] == n, page
    finally:
        for p in servers:
            p.stop()
