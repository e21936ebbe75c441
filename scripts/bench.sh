#!/usr/bin/env bash
# `make bench`: release builds, then one payment-api (failure rate 0, rate limits off),
# one rate-limited payment-api (a bucket of 1 per user, for the 429 run) and one
# redis-server on loopback, measured by scripts/bench.py with wrk, redis-benchmark and
# the simulator's open-loop mode. BENCH_SECONDS (default 10) per run, BENCH_WARMUP (2).
# Prints the table and the target ratios, writes bench/results/<date>.json, the plot
# docs/images/bench-sweep.svg and the generated part of docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
scripts/install-deps.sh wrk:wrk python3:python3 curl:curl

swift build -c release --product payment-api >/dev/null 2>&1 || swift build -c release --product payment-api
swift build -c release --product payment-simulator >/dev/null 2>&1 || swift build -c release --product payment-simulator
bin=$(swift build -c release --show-bin-path)
stage_binaries "$bin"
# wrk at 512 connections, plus the server's side of them.
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true

redis_port=$(free_port)
start_redis "$redis_port"
api_port=$(free_port)
start_api "$api_port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 \
    MAX_INFLIGHT_REQUESTS=100000 LOG_LEVEL="${BENCH_LOG_LEVEL:-info}"
api_pid=$API_PID
reject_port=$(free_port)
start_api "$reject_port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=1 \
    RATE_LIMIT_REFILL_PER_SECOND=1 MAX_INFLIGHT_REQUESTS=100000 LOG_LEVEL="${BENCH_LOG_LEVEL:-info}"
reject_pid=$API_PID
wait_ready "$api_port"; wait_ready "$reject_port"

mkdir -p bench/results docs/images
python3 scripts/bench.py --api-port "$api_port" --api-pid "$api_pid" --reject-port "$reject_port" --reject-pid "$reject_pid" \
    --redis-port "$redis_port" --simulator "${POD_EXEC[*]} $SIMULATOR_BIN" \
    --seconds "${BENCH_SECONDS:-10}" --warmup "${BENCH_WARMUP:-2}" \
    --out-json "bench/results/$(date -u +%Y-%m-%d).json" --out-svg docs/images/bench-sweep.svg --doc docs/performance.md
