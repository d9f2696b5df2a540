#!/usr/bin/env bash
# The kill -9 durability test of tests/tests/crash.rs, many more rounds than CI runs: a node with
# appendfsync always, writers that record every acknowledged INCR and SET, SIGKILL at a random moment,
# restart, every acknowledged write must be there. Usage: bench/crash.sh [ROUNDS] (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-200}
cargo build --release --quiet -p slotkv-node
SLOTKV_NODE_BIN=$PWD/target/release/slotkv-node CRASH_ROUNDS=$rounds \
  cargo test --release --quiet -p slotkv-tests --test crash kill9 -- --nocapture
