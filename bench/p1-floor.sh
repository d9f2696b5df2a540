#!/usr/bin/env bash
# The floor of CPU per request at pipeline depth 1: redis-server against a server that does no work at all
# (bench/p1-floor answers every command with a null bulk) through epoll and through io_uring, and against
# slotkv-node, same redis-benchmark GET flags, alternating rounds. The efficiency ratio of the do-nothing
# server is the most any server can reach against Redis with these system calls on this machine.
# Usage: bench/p1-floor.sh   Env: ROUNDS (5), and the other knobs of ../shared/bench/lib.sh's compare.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED_BENCH:-../shared/bench}
[[ -f $shared/lib.sh ]] || { echo "no benchmark helpers at $shared (set SHARED_BENCH)" >&2; exit 2; }
source "$shared/lib.sh"
need redis-server "apt-get install -y redis-server"
need redis-benchmark "apt-get install -y redis-tools"
cargo build --release --quiet -p slotkv-node
# Its own project (io-uring stays out of the workspace's lock file), built into the workspace's target/.
cargo build --release --quiet --manifest-path bench/p1-floor/Cargo.toml --target-dir target

# start_floor NAME MODE: the do-nothing server; ready when a GET gets its null reply.
start_floor() {
  local name=$1 mode=$2 port deadline=$((SECONDS + 30))
  port=$(free_port)
  "${SERVER_PIN[@]}" target/release/p1-floor "$mode" "$port" >"$BENCH_TMP/$name.log" 2>&1 &
  BENCH_PIDS+=($!)
  eval "PID_$name=$! PORT_$name=$port"
  until redis-cli -p "$port" GET k >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "$name not ready" >&2; cat "$BENCH_TMP/$name.log" >&2; return 1; }
    sleep 0.1
  done
}

redis_port=$(free_port); start_server redis redis-server "$redis_port"
node_port=$(free_port); start_server node target/release/slotkv-node "$node_port"
start_floor floor_epoll epoll
start_floor floor_uring uring

export TESTS=get PIPELINES=1
compare "floor (epoll) vs redis" "$redis_port" "$PID_redis" "$PORT_floor_epoll" "$PID_floor_epoll"
compare "floor (io_uring) vs redis" "$redis_port" "$PID_redis" "$PORT_floor_uring" "$PID_floor_uring"
compare "slotkv-node vs redis" "$redis_port" "$PID_redis" "$node_port" "$PID_node"
