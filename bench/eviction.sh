#!/usr/bin/env bash
# SET throughput at maxmemory with allkeys-lru, where every write evicts (issue 10): slotkv-node against
# redis-server with the same limit and policy, both first filled past the limit, then alternating
# redis-benchmark rounds of SETs to ever new keys (random among 100M, 100-byte values).
# Usage: bench/eviction.sh [NODE_BINARY]   Env: MAXMEMORY (64mb), POLICY (allkeys-lru), ROUNDS (5),
# PIPELINES ("1 16"). Last line: the worst ratios slotkv/redis (> 1: slotkv better).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED_BENCH:-../shared/bench}
source "$shared/lib.sh"
need redis-server "apt-get install -y redis-server"
need redis-benchmark "apt-get install -y redis-tools"
node_bin=${1:-target/release/slotkv-node}
[[ -x $node_bin ]] || { echo "no node binary at $node_bin (cargo build --release)" >&2; exit 2; }
limit=(--maxmemory "${MAXMEMORY:-64mb}" --maxmemory-policy "${POLICY:-allkeys-lru}")

rport=$(free_port); start_server redis "$(command -v redis-server)" "$rport" "${limit[@]}"
sport=$(free_port); start_server slotkv "$node_bin" "$sport" "${limit[@]}"
for port in "$rport" "$sport"; do
  "${CLIENT_PIN[@]}" redis-benchmark -p "$port" -t set -n 2000000 -r 100000000 -d 100 -P 16 -q >/dev/null
  evicted=$(redis-cli -p "$port" INFO stats | tr -d '\r' | sed -n 's/^evicted_keys://p')
  used=$(redis-cli -p "$port" INFO memory | tr -d '\r' | sed -n 's/^used_memory://p')
  echo "port $port filled: evicted_keys $evicted, used_memory $used"
  ((evicted > 0)) || { echo "port $port evicted nothing: not at maxmemory" >&2; exit 1; }
done
TESTS=set compare eviction "$rport" "$PID_redis" "$sport" "$PID_slotkv" -r 100000000 -d 100
for port in "$rport" "$sport"; do
  echo "port $port after: $(redis-cli -p "$port" INFO stats | tr -d '\r' | grep '^evicted_keys'), \
$(redis-cli -p "$port" INFO memory | tr -d '\r' | grep '^used_memory:'), $(redis-cli -p "$port" DBSIZE) keys"
done
