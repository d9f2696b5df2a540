#!/usr/bin/env bash
# Replication of slotkv-node against redis-server, same settings, same run (issue 11).
# Usage: bench/replication.sh [NODE_BINARY]   (default: $NODE_BIN, else target/release/slotkv-node; run from the
# repo root). Needs the shared helpers (../shared/bench/lib.sh, or SHARED_BENCH=DIR), redis-server,
# redis-tools and python3.
#
# Phases (PHASES, default "write sync"):
#   write  SET throughput of a primary with one replica attached (both servers on core 0, redis-benchmark on
#          core 1), alternating rounds against the Redis pair and the slotkv pair; the CPU per request counts
#          the primary and its replica. Target: slotkv/redis >= 1.0.
#   sync   KEYS string keys (key:%012d, 16-byte values) loaded into each primary through redis-cli --pipe,
#          then ROUNDS times: a fresh replica started with --replicaof, timed from its start until it reports
#          master_link_status:up with every key. Both primaries send the copy straight to the socket
#          (repl-diskless-sync yes, delay 0); Redis's replica loads it through a file (its default), slotkv's
#          from the socket. Target: slotkv's time <= Redis's (ratio redis/slotkv >= 1.0).
# Env: ROUNDS (3), CLIENTS (50), REQUESTS (300000), REQUESTS_PIPELINED (2000000), PIPELINES ("1 16"),
# KEYS (1000000), PIN (1).
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$here/../../shared/bench}
[[ -f $shared/lib.sh ]] || { echo "no $shared/lib.sh (set SHARED_BENCH to ../shared/bench)" >&2; exit 2; }
source "$shared/lib.sh"
node_bin=${1:-${NODE_BIN:-target/release/slotkv-node}}
need redis-server "apt-get install -y redis-server"
need redis-benchmark "apt-get install -y redis-tools"
[[ -x $node_bin ]] || { echo "no node binary at $node_bin (cargo build --release)" >&2; exit 2; }
PHASES=${PHASES:-write sync}
KEYS=${KEYS:-1000000}
SYNC_ARGS=(--repl-diskless-sync yes --repl-diskless-sync-delay 0)

# wait_link PORT KEYS: until the replica on PORT says its link is up and holds KEYS keys.
wait_link() {
  local port=$1 keys=$2 deadline=$((SECONDS + 300))
  until redis-cli -p "$port" INFO replication 2>/dev/null | tr -d '\r' | grep -qx 'master_link_status:up' &&
    [[ $(redis-cli -p "$port" DBSIZE 2>/dev/null) == "$keys" ]]; do
    ((SECONDS < deadline)) || { echo "replica on $port did not sync" >&2; bench_logs >&2; exit 1; }
    sleep 0.02
  done
}

now_ms() { date +%s%3N; }

if [[ " $PHASES " == *" write "* ]]; then
  echo "== SET with one replica attached"
  rp=$(free_port); start_server redis_p redis-server "$rp" "${SYNC_ARGS[@]}"
  rr=$(free_port); start_server redis_r redis-server "$rr" --replicaof 127.0.0.1 "$rp"
  sp=$(free_port); start_server node_p "$node_bin" "$sp" "${SYNC_ARGS[@]}"
  sr=$(free_port); start_server node_r "$node_bin" "$sr" --replicaof 127.0.0.1 "$sp"
  wait_link "$rr" 0
  wait_link "$sr" 0
  TESTS=set compare replication-write "$rp" "$PID_redis_p $PID_redis_r" "$sp" "$PID_node_p $PID_node_r"
  # The replicas must hold what the primaries do.
  for pair in "$rp $rr" "$sp $sr"; do
    set -- $pair
    deadline=$((SECONDS + 30))
    until [[ $(redis-cli -p "$1" DBSIZE) == $(redis-cli -p "$2" DBSIZE) ]]; do
      ((SECONDS < deadline)) || { echo "replica of $1 differs: $(redis-cli -p "$1" DBSIZE) vs $(redis-cli -p "$2" DBSIZE)" >&2; exit 1; }
      sleep 0.1
    done
  done
  echo "replicas hold every key: redis $(redis-cli -p "$rr" DBSIZE), slotkv $(redis-cli -p "$sr" DBSIZE)"
fi

if [[ " $PHASES " == *" sync "* ]]; then
  echo "== full copy of $KEYS keys to a new replica"
  rp=$(free_port); start_server redis_sp redis-server "$rp" "${SYNC_ARGS[@]}"
  sp=$(free_port); start_server node_sp "$node_bin" "$sp" "${SYNC_ARGS[@]}"
  for port in "$rp" "$sp"; do
    python3 - "$KEYS" <<'EOF' | redis-cli -p "$port" --pipe >/dev/null
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    k = b"key:%012d" % i
    v = b"v" * 16
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
EOF
    [[ $(redis-cli -p "$port" DBSIZE) == "$KEYS" ]] || { echo "load into $port failed" >&2; exit 1; }
  done
  rt=() st=()
  for ((i = 0; i < ${ROUNDS:-3}; i++)); do
    for who in redis node; do
      if [[ $who == redis ]]; then bin=redis-server; primary=$rp; else bin=$node_bin; primary=$sp; fi
      port=$(free_port)
      t0=$(now_ms)
      start_server "${who}_replica_$i" "$bin" "$port" --replicaof 127.0.0.1 "$primary"
      wait_link "$port" "$KEYS"
      t=$(($(now_ms) - t0))
      if [[ $who == redis ]]; then rt+=("$t"); else st+=("$t"); fi
      kill "${BENCH_PIDS[-1]}"; wait "${BENCH_PIDS[-1]}" 2>/dev/null || true
      echo "round $i $who: ${t} ms"
    done
  done
  r=$(printf '%s\n' "${rt[@]}" | median); s=$(printf '%s\n' "${st[@]}" | median)
  echo "full copy of $KEYS keys: redis ${r} ms, slotkv ${s} ms, ratio redis/slotkv $(ratio "$r" "$s") (>= 1.0: slotkv no slower)"
fi
