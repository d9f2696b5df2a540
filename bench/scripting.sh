#!/usr/bin/env bash
# EVALSHA of a small script (`return redis.call('INCR', KEYS[1])`, random keys) through redis-benchmark:
# one slotkv-node against one redis-server in the same run, alternating rounds (issue 10; target >= 1.0x).
# Usage: bench/scripting.sh [NODE_BINARY]   (default: target/release/slotkv-node; run from the repo root).
# Env: ROUNDS (5), CLIENTS (50), REQUESTS (300000), REQUESTS_PIPELINED (2000000), PIPELINES ("1 16"), PIN.
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$here/../../shared/bench}
[[ -f $shared/lib.sh ]] || { echo "no $shared/lib.sh (set SHARED_BENCH to ../shared/bench)" >&2; exit 2; }
source "$shared/lib.sh"
node_bin=${1:-${NODE_BIN:-target/release/slotkv-node}}
need redis-server "apt-get install -y redis-server"
need redis-benchmark "apt-get install -y redis-tools"
[[ -x $node_bin ]] || { echo "no node binary at $node_bin (cargo build --release)" >&2; exit 2; }

redis_port=$(free_port); start_server redis redis-server "$redis_port"
node_port=$(free_port); start_server node "$node_bin" "$node_port"
script="return redis.call('INCR', KEYS[1])"
sha=$(redis-cli -p "$redis_port" SCRIPT LOAD "$script")
[[ $(redis-cli -p "$node_port" SCRIPT LOAD "$script") == "$sha" ]] || { echo "SCRIPT LOAD differs" >&2; exit 1; }
# A command after the options replaces -t's tests; the test column is named after it.
TESTS=evalsha compare evalsha-vs-redis "$redis_port" "$PID_redis" "$node_port" "$PID_node" \
  EVALSHA "$sha" 1 'key:__rand_int__'
