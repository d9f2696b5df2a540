"""redis-py's RedisCluster against three cluster-enabled nodes (issue 6 acceptance).

The nodes are assembled from a fixed layout, without the cluster bus: each node's nodes.conf is written
before it starts (the same ids, ports and slot ranges on every node; slots split as `redis-cli --cluster
create` splits them; config epochs 1..3). With SLOTKV_NODE_BIN=/usr/bin/redis-server the same file runs
against real Redis Cluster (Redis 7.0 does not write shard ids, so none are written for it).
"""

import socket
import subprocess
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from conftest import Server, node_binary

N = 3
SLOTS = 16384
KEYS = 10_000


def even_ranges(n):
    """redis-cli's split: lround(cursor + per - 1), the last node taking the rest."""
    per = SLOTS / n
    out, first, cursor = [], 0, 0.0
    for i in range(n):
        last = SLOTS - 1 if i == n - 1 else max(first, int(cursor + per - 1 + 0.5))
        out.append((first, last))
        first, cursor = last + 1, cursor + per
    return out


def layout_id(i):
    return f"{0x1000_0000 + i:08x}" * 5


def cluster_port():
    """A free port whose bus port (+10000) is free too."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 55000:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    pytest.fail("no free port pair")


def nodes_conf(ports, ranges, me, shard_ids):
    lines = []
    for i, (port, (first, last)) in enumerate(zip(ports, ranges)):
        shard = f",,shard-id={f'{0x5000_0000 + i:08x}' * 5}" if shard_ids else ""
        flags = "myself,master" if i == me else "master"
        lines.append(
            f"{layout_id(i)} 127.0.0.1:{port}@{port + 10000}{shard} {flags} - 0 0 {i + 1} connected {first}-{last}"
        )
    lines.append(f"vars currentEpoch {len(ports)} lastVoteEpoch 0")
    return "\n".join(lines) + "\n"


class LayoutServer(Server):
    """A Server on a fixed port with a nodes.conf written before it starts."""

    def __init__(self, binary, port, conf):
        super().__init__(binary, extra_args=["--cluster-enabled", "yes"])
        self.fixed_port = port
        (self.dir / "nodes.conf").write_text(conf)

    def start(self):
        """Starts on the fixed port (the layout names it: no retry on another port)."""
        self.port = self.fixed_port
        args = [
            str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
            "--save", "", "--appendonly", "no", *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        if not self._wait_ready():
            pytest.fail(f"{self.binary} did not start on port {self.port}.\n---- log ----\n{self.log()}",
                        pytrace=False)


@pytest.fixture(scope="module")
def layout():
    binary = node_binary()
    real = binary.name.startswith("redis-server")
    ports = [cluster_port() for _ in range(N)]
    ranges = even_ranges(N)
    servers = [LayoutServer(binary, p, nodes_conf(ports, ranges, i, not real)) for i, p in enumerate(ports)]
    try:
        for s in servers:
            s.start()
            assert s.port == s.fixed_port
        deadline = time.monotonic() + 15
        for s in servers:
            c = s.client()
            while c.cluster("INFO")["cluster_state"] != "ok":
                assert time.monotonic() < deadline, f"node on {s.port} never reached cluster_state:ok"
                time.sleep(0.05)
            c.close()
        yield servers, ports, ranges
    finally:
        for s in servers:
            s.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def rc(layout, request):
    servers, ports, _ = layout
    c = RedisCluster(
        startup_nodes=[ClusterNode("127.0.0.1", ports[0])],
        decode_responses=True,
        protocol=request.param,
        socket_timeout=10,
    )
    c.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield c
    c.close()


def test_sets_and_reads_10000_keys_on_all_nodes(rc, layout):
    servers, _, _ = layout
    for start in range(0, KEYS, 1000):
        pipe = rc.pipeline()
        for i in range(start, start + 1000):
            pipe.set(f"key:{i}", str(i))
        assert all(r is True for r in pipe.execute())
    for start in range(0, KEYS, 1000):
        names = [f"key:{i}" for i in range(start, start + 1000)]
        assert rc.mget_nonatomic(names) == [str(i) for i in range(start, start + 1000)]
    # Single commands too, following MOVED from a node that does not own the key.
    for i in range(0, KEYS, 97):
        assert rc.get(f"key:{i}") == str(i)
    sizes = []
    for s in servers:
        c = s.client()
        sizes.append(c.dbsize())
        c.close()
    assert sum(sizes) == KEYS
    assert all(n > KEYS // N // 2 for n in sizes), sizes
    # Each node holds exactly the keys of its own slots.
    for s, (first, last) in zip(servers, layout[2]):
        c = s.client()
        for k in c.scan_iter(count=1000):
            assert first <= key_slot(k.encode()) <= last, (k, s.port)
        c.close()


def test_parses_cluster_slots_shards_nodes(rc, layout):
    _, ports, ranges = layout
    for port in ports:
        node = rc.get_node("127.0.0.1", port)
        slots = rc.cluster_slots(target_nodes=node)
        assert slots == {(first, last): {"primary": ("127.0.0.1", ports[i]), "replicas": []}
                         for i, (first, last) in enumerate(ranges)}
        nodes = rc.cluster_nodes()
        assert sorted(nodes) == sorted(f"127.0.0.1:{p}" for p in ports)
        for i, p in enumerate(ports):
            n = nodes[f"127.0.0.1:{p}"]
            assert n["node_id"] == layout_id(i)
            assert "master" in n["flags"]
            assert n["master_id"] == "-"
            assert n["connected"] is True
            assert n["slots"] == [[str(ranges[i][0]), str(ranges[i][1])]]
            assert n["epoch"] == str(i + 1)
        shards = rc.cluster_shards(target_nodes=node)
        assert len(shards) == N
        seen = {}
        for shard in shards:
            assert len(shard["nodes"]) == 1
            n = shard["nodes"][0]
            i = [layout_id(j) for j in range(N)].index(n["id"])
            seen[i] = shard
            # redis-py pairs the bounds into tuples over RESP2 and leaves them flat over RESP3.
            bounds = [b for x in shard["slots"] for b in (x if isinstance(x, tuple) else (x,))]
            assert bounds == [ranges[i][0], ranges[i][1]]
            assert n["port"] == ports[i]
            assert n["ip"] == "127.0.0.1" and n["endpoint"] == "127.0.0.1"
            assert n["role"] == "master" and n["health"] == "online"
        assert sorted(seen) == list(range(N))


def test_moved_reaches_plain_clients(layout):
    _, ports, ranges = layout
    c = redis.Redis(host="127.0.0.1", port=ports[0], decode_responses=True)
    try:
        first, last = ranges[1]
        key = next(f"m{i}" for i in range(100000) if first <= key_slot(f"m{i}".encode()) <= last)
        with pytest.raises(redis.exceptions.MovedError) as e:
            c.execute_command("GET", key)
        assert (e.value.slot_id, e.value.host, e.value.port) == (key_slot(key.encode()), "127.0.0.1", ports[1])
        assert str(e.value) == f"{key_slot(key.encode())} 127.0.0.1:{ports[1]}"
    finally:
        c.close()
