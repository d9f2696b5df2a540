#!/usr/bin/env bash
# slotkv_client::ClusterClient against redis-rs's async cluster client (bench/client-vs-redis-rs, binary
# client-bench): GET/SET throughput and client CPU per op, 64 tasks sending single commands and 64 tasks
# sending pipelines of 16, both clients on the same cluster in the same run, alternating rounds. Runs it
# against a 3-node slotkv cluster and against a 3-master Redis Cluster (both clients must work on either).
# Servers are pinned to core 0 and the benchmark to core 1 (PIN=0 turns this off).
# Usage: bench/client.sh   Env: ROUNDS (3), SECONDS_EACH (3), TASKS (64), DEPTH (16), TARGETS ("slotkv redis").
# Last lines: the worst (and median) ratios of each workload on each cluster (> 1: slotkv's client faster,
# or spending less CPU per op). On a busy machine throughput is noisy; the client's CPU per op is steadier.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED_BENCH:-../shared/bench}
[[ -f $shared/lib.sh ]] || { echo "no benchmark helpers at $shared (set SHARED_BENCH)" >&2; exit 2; }
source "$shared/lib.sh"
need redis-server "apt-get install -y redis-server"
need redis-cli "apt-get install -y redis-tools"
: "${ROUNDS:=3}" "${SECONDS_EACH:=3}" "${TASKS:=64}" "${DEPTH:=16}" "${TARGETS:=slotkv redis}"

cargo build --release --quiet -p slotkv-node
# Its own project (redis-rs stays out of the workspace's lock file), built into the workspace's target/.
cargo build --release --quiet --manifest-path bench/client-vs-redis-rs/Cargo.toml --target-dir target
bench=target/release/client-bench

summary=()
for target in $TARGETS; do
  case $target in
    slotkv) start_cluster sc target/release/slotkv-node 3 ;;
    redis) start_cluster rc "$(command -v redis-server)" 3 ;;
    *) echo "unknown target $target (slotkv or redis)" >&2; exit 2 ;;
  esac
  echo "== $target cluster (3 masters), seed 127.0.0.1:$CLUSTER_PORT"
  out=$BENCH_TMP/client-$target.txt
  "${CLIENT_PIN[@]}" "$bench" "127.0.0.1:$CLUSTER_PORT" --tasks "$TASKS" --depth "$DEPTH" \
    --seconds "$SECONDS_EACH" --rounds "$ROUNDS" | tee "$out"
  for w in single pipeline; do
    summary+=("$(awk -v w="$w" -v t="$target" '$1 == "round" && $3 == w { r[++n] = $9; e[n] = $16 }
      function med(a, k, i, j, x) { for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return a[int((k + 1) / 2)] }
      END { mr = med(r, n); me = med(e, n)
        printf "%s cluster, %s: worst throughput ratio %.3f (median %.3f), worst CPU-efficiency ratio %.3f (median %.3f)\n", t, w, r[1], mr, e[1], me }' "$out")")
  done
done
printf '%s\n' "${summary[@]}"
