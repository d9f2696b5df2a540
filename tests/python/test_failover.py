"""redis-py's RedisCluster through a failover (issue 11 interop): three masters and one replica each;
a master is killed with SIGKILL while RedisCluster writes; its replica is promoted, RedisCluster keeps
going (its retries refresh the slot map), and `cluster_nodes()` / `get_nodes()` show the promoted
replica as a master. cluster-node-timeout is 2000 ms to keep the run short.

With SLOTKV_NODE_BIN=/usr/bin/redis-server the same test runs against real Redis Cluster.
"""

import time

import pytest
import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterDownError, ClusterError
from redis.retry import Retry

from conftest import node_binary
from test_cluster import LayoutServer, cluster_port, even_ranges, nodes_conf

N = 3
NODE_TIMEOUT_MS = 2000
EXTRA = ["--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--repl-diskless-sync-delay", "0"]


class FreshNode(LayoutServer):
    """A cluster-enabled node on a port whose bus port is free, knowing nobody yet (empty nodes.conf)."""

    def __init__(self, binary, port):
        super().__init__(binary, port, "")
        (self.dir / "nodes.conf").unlink()


def wait(what, check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def cluster():
    """Masters 0..2 (from a layout) and replicas 3..5; replica i + 3 follows master i."""
    binary = node_binary()
    real = binary.name.startswith("redis-server")
    ports = [cluster_port() for _ in range(N)]
    masters = [LayoutServer(binary, p, nodes_conf(ports, even_ranges(N), i, not real)) for i, p in enumerate(ports)]
    replicas = [FreshNode(binary, cluster_port()) for _ in range(N)]
    nodes = masters + replicas
    for s in nodes:
        s.extra_args += EXTRA
    started = []
    try:
        for s in nodes:
            s.start()
            started.append(s)
        clients = [s.client() for s in nodes]
        for c in clients[N:]:
            c.cluster("MEET", "127.0.0.1", str(ports[0]))
        wait("every node to know six", lambda: all(c.cluster("INFO")["cluster_known_nodes"] == "6" for c in clients))
        for i in range(N):
            clients[N + i].cluster("REPLICATE", clients[i].cluster("MYID"))
        wait("the replicas to sync",
             lambda: all(c.info("replication").get("master_link_status") == "up" for c in clients[N:]))
        wait("cluster_state:ok", lambda: all(c.cluster("INFO")["cluster_state"] == "ok" for c in clients))
        # Redis lists a replica in CLUSTER SLOTS once it has replicated something (offset > 0).
        rc = RedisCluster(host="127.0.0.1", port=ports[0])
        for n in range(100):
            rc.set(f"warm:{n}", n)
        rc.close()
        listed = lambda c: all(len(r) == 4 for r in c.execute_command("CLUSTER SLOTS"))  # noqa: E731
        wait("every node to list the replicas in CLUSTER SLOTS", lambda: all(listed(c) for c in clients))
        for c in clients:
            c.close()
        yield nodes
    finally:
        for s in started:
            if s.proc is not None and s.proc.poll() is not None:
                s._cleanup()  # killed by the test
            else:
                s.stop()


def role_of(client, port):
    """`master` or `slave` for the node on `port`, in `client`'s CLUSTER NODES (parsed by redis-py)."""
    node = client.cluster("NODES").get(f"127.0.0.1:{port}")
    if node is None:
        return ""
    return "slave" if "slave" in node["flags"].split(",") else "master"


def test_redis_cluster_carries_on_through_a_failover_and_sees_the_promoted_replica(cluster):
    masters, replicas = cluster[:N], cluster[N:]
    rc = RedisCluster(
        startup_nodes=[ClusterNode("127.0.0.1", masters[1].port)],
        decode_responses=True,
        socket_timeout=2,
        socket_connect_timeout=1,
        # Enough retries (each refreshes the slot map) to outlast the failover.
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 20),
    )
    try:
        replica_addr = f"127.0.0.1:{replicas[0].port}"
        assert rc.get_node(host="127.0.0.1", port=replicas[0].port).server_type == "replica"
        # A key of every master, written before and after the kill.
        keys = [f"fo:{n}" for n in range(300)]
        for k in keys:
            rc.set(k, "before")
        on_dead = [k for k in keys if rc.keyslot(k) <= even_ranges(N)[0][1]]
        assert on_dead

        victim = masters[0]
        killed = time.monotonic()
        victim.proc.kill()
        victim.proc.wait()
        errors, writes, n, last_ok = [], 0, 0, killed
        longest = 0.0
        # Write round the ring of keys until 300 writes went through after the promotion was seen.
        promoted_at = None
        observer = replicas[1].client()
        while time.monotonic() - killed < 30:
            k = keys[n % len(keys)]
            n += 1
            try:
                rc.set(k, f"after{n}")
                now = time.monotonic()
                longest = max(longest, now - last_ok)
                last_ok = now
                writes += 1
            except (redis.ConnectionError, redis.TimeoutError, ClusterDownError, ClusterError) as e:
                errors.append((time.monotonic() - killed, repr(e)))
                time.sleep(0.05)
            if promoted_at is None and role_of(observer, replicas[0].port) == "master":
                promoted_at = time.monotonic() - killed
                writes = 0
            if promoted_at is not None and writes >= 300:
                break
        observer.close()
        print(f"promoted {promoted_at}s after the kill; longest stall {longest:.2f}s; {len(errors)} errors")
        print(f"first and last errors: {errors[:2]} {errors[-2:]}")
        assert promoted_at is not None and promoted_at < NODE_TIMEOUT_MS / 1000 + 8, promoted_at
        assert writes >= 300, f"the workload did not resume: {errors[-3:]}"
        # Errors (redis-py gave up retrying) only during the outage.
        assert all(at < promoted_at + 3 for at, _ in errors), errors
        # Every key of the dead master is readable again, at the promoted replica.
        for k in on_dead:
            assert rc.get(k) is not None
        assert rc.get_node_from_key(on_dead[0]).name == replica_addr

        # The topology as redis-py shows it: the promoted replica is a master.
        nodes = rc.cluster_nodes()
        assert "master" in nodes[replica_addr]["flags"], nodes[replica_addr]
        dead = nodes.get(f"127.0.0.1:{victim.port}")
        assert dead is None or "fail" in dead["flags"], dead
        by_name = {node.name: node for node in rc.get_nodes()}
        assert by_name[replica_addr].server_type == "primary"
        assert replica_addr in [node.name for node in rc.get_primaries()]
        assert f"127.0.0.1:{victim.port}" not in [node.name for node in rc.get_primaries()]
    finally:
        rc.close()
