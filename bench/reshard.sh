#!/usr/bin/env bash
# Resharding a quarter of the slots (4096) of a 3-node cluster holding KEYS keys (default 1M, `key:N`, spread
# over all slots): `slotkv reshard` on slotkv nodes against `redis-cli --cluster reshard` (its default
# pipeline of 10) on a Redis cluster (redis-server --cluster-enabled yes) holding the same keys, in the same
# run. Prints keys moved per second of each, their ratio, and the key counts before and after (no key may
# be lost).
#
# Usage: bash bench/reshard.sh [BIN_DIR]   (default target/release; it needs slotkv-node and slotkv there)
# Env: KEYS (1000000), SLOTS (4096), ROUNDS (1: each round moves the slots there and back, alternating
# who goes first), TMPFS=1 keeps every node's files (nodes.conf) in /dev/shm instead of /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=${1:-target/release}
slotkv_node=$bin_dir/slotkv-node
export SLOTKV_CLI=$bin_dir/slotkv
[[ -x $slotkv_node && -x $SLOTKV_CLI ]] ||
  { echo "build first: cargo build --release -p slotkv-node -p slotkv-cli" >&2; exit 2; }
# shellcheck source=/dev/null
source "${SHARED_BENCH:-../shared/bench}/lib.sh"
need redis-server "apt-get install -y redis-server"
need redis-cli "apt-get install -y redis-tools"
if [[ ${TMPFS:-0} == 1 ]]; then
  rmdir "$BENCH_TMP"
  BENCH_TMP=$(mktemp -d /dev/shm/slotkv-bench.XXXXXX)
fi
KEYS=${KEYS:-1000000} SLOTS=${SLOTS:-4096}

# Both clusters are split as redis-cli splits 3 masters: 0-5460, 5461-10922, 10923-16383.
start_cluster redis /usr/bin/redis-server 3
redis_addrs=("${CLUSTER_ADDRS[@]}")
start_cluster slotkv "$slotkv_node" 3
slotkv_addrs=("${CLUSTER_ADDRS[@]}")

# load ADDR...: KEYS keys key:0..key:N-1 with 16-byte values, each sent to the node serving its slot.
load() {
  python3 - "$BENCH_TMP" "$KEYS" <<'EOF_PY'
import sys
out, n = sys.argv[1], int(sys.argv[2])
def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc
# A table makes 1M keys take seconds, not a minute.
table = [crc16(bytes([i])) for i in range(256)]
def slot(key):
    crc = 0
    for b in key:
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ b) & 0xFF]
    return crc % 16384
files = [open(f"{out}/load{i}.resp", "wb") for i in range(3)]
for i in range(n):
    k = b"key:%d" % i
    v = b"value-%010d" % i
    s = slot(k)
    node = 0 if s <= 5460 else (1 if s <= 10922 else 2)
    files[node].write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
EOF_PY
}
load
for addrs in "${redis_addrs[*]}" "${slotkv_addrs[*]}"; do
  i=0
  for a in $addrs; do
    redis-cli -p "${a##*:}" --pipe <"$BENCH_TMP/load$i.resp" >/dev/null
    i=$((i + 1))
  done
done

total() {
  local a sum=0
  for a in "$@"; do sum=$((sum + $(redis-cli -p "${a##*:}" DBSIZE))); done
  echo "$sum"
}
myid() { redis-cli -p "${1##*:}" CLUSTER MYID; }

# wait_ok ADDR...: every node says cluster_state:ok (the bus spreads the last SETSLOTs).
wait_ok() {
  local a deadline=$((SECONDS + 30))
  for a in "$@"; do
    until redis-cli -p "${a##*:}" CLUSTER INFO | tr -d '\r' | grep -qx cluster_state:ok; do
      ((SECONDS < deadline)) || { echo "cluster not ok" >&2; return 1; }
      sleep 0.1
    done
  done
}

# move WHO FROM TO: reshard SLOTS slots; prints "keys seconds".
move() {
  local who=$1 from=$2 to=$3 before after t0 t1
  before=$(redis-cli -p "${to##*:}" DBSIZE)
  t0=$(date +%s.%N)
  if [[ $who == slotkv-on-redis ]]; then
    "$SLOTKV_CLI" reshard "$from" --from "$from" --to "$to" --slots "$SLOTS" --yes \
      >"$BENCH_TMP/reshard-slotkv-on-redis.log" 2>&1 || { tail -5 "$BENCH_TMP/reshard-slotkv-on-redis.log" >&2; return 1; }
  elif [[ $who == redis ]]; then
    redis-cli --cluster reshard "$from" --cluster-from "$(myid "$from")" --cluster-to "$(myid "$to")" \
      --cluster-slots "$SLOTS" --cluster-yes >"$BENCH_TMP/reshard-redis.log" 2>&1 ||
      { tail -5 "$BENCH_TMP/reshard-redis.log" >&2; return 1; }
  else
    "$SLOTKV_CLI" reshard "$from" --from "$from" --to "$to" --slots "$SLOTS" --yes \
      >"$BENCH_TMP/reshard-slotkv.log" 2>&1 || { tail -5 "$BENCH_TMP/reshard-slotkv.log" >&2; return 1; }
  fi
  t1=$(date +%s.%N)
  after=$(redis-cli -p "${to##*:}" DBSIZE)
  echo "$((after - before)) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}

r_before=$(total "${redis_addrs[@]}")
s_before=$(total "${slotkv_addrs[@]}")
echo "keys before: redis $r_before, slotkv $s_before (KEYS=$KEYS, SLOTS=$SLOTS, files in ${BENCH_TMP%/*})"
r_rates=() s_rates=()
for ((round = 0; round < ${ROUNDS:-1}; round++)); do
  for leg in 0 1; do
    # There on even legs, back on odd ones; who goes first alternates by round.
    if ((leg == 0)); then rf=${redis_addrs[0]} rt=${redis_addrs[1]} sf=${slotkv_addrs[0]} st=${slotkv_addrs[1]}
    else rf=${redis_addrs[1]} rt=${redis_addrs[0]} sf=${slotkv_addrs[1]} st=${slotkv_addrs[0]}; fi
    for who in $( ((round % 2 == 0)) && echo "redis slotkv" || echo "slotkv redis"); do
      if [[ $who == redis ]]; then m=$(move redis "$rf" "$rt"); wait_ok "${redis_addrs[@]}"
      else m=$(move slotkv "$sf" "$st"); wait_ok "${slotkv_addrs[@]}"; fi
      keys=${m% *} secs=${m#* }
      rate=$(awk -v k="$keys" -v s="$secs" 'BEGIN { printf "%.0f", k / s }')
      printf '%-7s round %d leg %d: %8d keys in %7.2fs = %9d keys/s\n' "$who" "$round" "$leg" "$keys" "$secs" "$rate"
      if [[ $who == redis ]]; then r_rates+=("$rate"); else s_rates+=("$rate"); fi
    done
  done
done
# The CLI itself, apart from the nodes: slotkv's mover on the Redis cluster (GETKEYSINSLOT + MIGRATE, as
# redis-cli, but pipelined over slots) there, and redis-cli back.
m=$(move slotkv-on-redis "${redis_addrs[0]}" "${redis_addrs[1]}"); wait_ok "${redis_addrs[@]}"
c_rate=$(awk -v k="${m% *}" -v s="${m#* }" 'BEGIN { printf "%.0f", k / s }')
printf '%-7s on the Redis cluster: %8d keys in %7.2fs = %9d keys/s\n' slotkv "${m% *}" "${m#* }" "$c_rate"
m=$(move redis "${redis_addrs[1]}" "${redis_addrs[0]}"); wait_ok "${redis_addrs[@]}"
rate=$(awk -v k="${m% *}" -v s="${m#* }" 'BEGIN { printf "%.0f", k / s }')
printf '%-7s back:                 %8d keys in %7.2fs = %9d keys/s\n' redis "${m% *}" "${m#* }" "$rate"
r_rates+=("$rate")
r_after=$(total "${redis_addrs[@]}")
s_after=$(total "${slotkv_addrs[@]}")
echo "keys after:  redis $r_after, slotkv $s_after"
r=$(printf '%s\n' "${r_rates[@]}" | median)
s=$(printf '%s\n' "${s_rates[@]}" | median)
echo "reshard: slotkv $s keys/s, redis-cli $r keys/s, ratio $(ratio "$s" "$r") (median of ${#s_rates[@]} moves each);" \
  "keys lost: slotkv $((s_before - s_after)), redis $((r_before - r_after))"
echo "the CLI alone (both on Redis nodes): slotkv reshard $c_rate keys/s, ratio $(ratio "$c_rate" "$r") to redis-cli"
((s_before == s_after && r_before == r_after)) || { echo "KEYS LOST" >&2; exit 1; }
