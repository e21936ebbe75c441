#!/usr/bin/env bash
# CPU profile of payment-api (release) under new payments, with perf (Debian's
# linux-perf): 64 wrk connections, `perf record -g` on the server for PROFILE_SECONDS
# (default 8), then the hottest symbols, self and with children. Used for
# docs/performance.md; LOG_LEVEL and other server settings can be passed in the
# environment (PROFILE_LOG_LEVEL, default info). PROFILE_PATH (/pay) and PROFILE_MODE
# (pay) pick what wrk sends (`PROFILE_PATH=/healthz PROFILE_MODE=get` for the probe;
# PROFILE_KEYSPACE=1000 for replays).
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
scripts/install-deps.sh wrk:wrk perf:linux-perf
# The binary as the image ships it (the Dockerfile's and bench/run.sh's flags).
build() { flock /tmp/swift-build.lock swift build -c release --static-swift-stdlib "$@"; }
build --product payment-api >/dev/null 2>&1 || build --product payment-api
stage_binaries "$(build --show-bin-path)"
redis_port=$(free_port)
start_redis "$redis_port"
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 \
    LOG_LEVEL="${PROFILE_LOG_LEVEL:-info}"
wait_ready "$port"
seconds=${PROFILE_SECONDS:-8}
wrk -t 2 -c 64 -d "$((seconds + 2))s" -s bench/wrk/pay.lua "http://127.0.0.1:$port${PROFILE_PATH:-/pay}" -- "${PROFILE_MODE:-pay}" "prof$RANDOM" 10000 "${PROFILE_KEYSPACE:-0}" \
    >"$LIB_WORKDIR/wrk.txt" &
wrk_pid=$!
sleep 1
perf record -F 499 -g -p "$API_PID" -o "$LIB_WORKDIR/perf.data" -- sleep "$seconds" 2>/dev/null
wait "$wrk_pid"
grep WRK_JSON "$LIB_WORKDIR/wrk.txt"
# `head` closes its pipe early: that is not a failure here.
set +o pipefail
perf report -i "$LIB_WORKDIR/perf.data" --no-children --sort symbol --stdio >"$LIB_WORKDIR/self.txt" 2>/dev/null
perf report -i "$LIB_WORKDIR/perf.data" --children --sort symbol --stdio >"$LIB_WORKDIR/children.txt" 2>/dev/null
echo "== hottest symbols, self time"
grep -E "^ +[0-9]" "$LIB_WORKDIR/self.txt" | sed 's/  */ /g' | cut -c1-150 | sed -n 1,30p
echo "== hottest symbols, with children"
grep -E "^ +[0-9]" "$LIB_WORKDIR/children.txt" | sed 's/  */ /g' | cut -c1-150 | sed -n "1,${PROFILE_LINES:-60}p"
