#!/usr/bin/env bash
# Builds release binaries and runs the side-by-side benchmarks from ../shared/bench (slotkv against
# redis-server in the same run, alternating rounds; only the ratios mean anything on a shared machine).
# Usage: bench/run.sh [node|mem|persist|scripting|all]   (default: all). Env vars of the shared scripts pass through
# (ROUNDS, TESTS, PIPELINES, KEYS, MIX...). Record results in BENCHMARKS.md with the date and command.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED_BENCH:-../shared/bench}
[[ -d $shared ]] || { echo "no benchmark scripts at $shared (set SHARED_BENCH)" >&2; exit 2; }
for tool in redis-server redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y redis-server redis-tools" >&2; exit 2; }
done
cargo build --release --quiet -p slotkv-node
what=${1:-all}
if [[ $what == node || $what == all ]]; then
  bash "$shared/node-vs-redis.sh" target/release/slotkv-node
fi
if [[ $what == mem || $what == all ]]; then
  bash "$shared/mem-vs-redis.sh" target/release/slotkv-node
fi
if [[ $what == persist || $what == all ]]; then
  bash bench/persistence.sh target/release/slotkv-node
fi
if [[ $what == scripting || $what == all ]]; then
  bash bench/scripting.sh target/release/slotkv-node
fi
