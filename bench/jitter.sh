#!/usr/bin/env bash
# Compares the jitter strategies in a thundering herd (`make bench-jitter`): 400 clients start
# at once against a small global bucket (capacity 40, 200 tokens/s), no failures, and
# the server's Retry-After ignored so that only the back-off decides when clients come
# back. Prints a markdown table and writes docs/images/jitter-timelines.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init

bin=${BIN_PATH:-$(swift build -c release --show-bin-path)}
stage_binaries "$bin"
redis_port=$(free_port)
start_redis "$redis_port"
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 \
    GLOBAL_RATE_LIMIT_CAPACITY=40 GLOBAL_RATE_LIMIT_REFILL_PER_SECOND=200 LOG_LEVEL=error
wait_ready "$port"

out=${OUT_DIR:-$LIB_WORKDIR}
mkdir -p "$out"
for jitter in none full equal decorrelated; do
    sleep 1  # let the bucket fill again between runs
    as_pod "$SIMULATOR_BIN" --target "http://127.0.0.1:$port" --clients 400 --payments 400 --users 400 \
        --duplicates 1 --jitter "$jitter" --no-honour-retry-after --no-retry-budget --base-delay-ms 20 \
        --max-delay-ms 2000 --max-attempts 30 --seed 11 --run-id "herd-$jitter-$RANDOM" \
        --report-file "$LIB_WORKDIR/jitter-$jitter.json" --timeline-csv "$LIB_WORKDIR/jitter-$jitter.csv" >/dev/null 2>&1 \
        || echo "jitter $jitter: simulator exited $?" >&2
    # Written by the pod user in the run's folder, then copied where the caller asked.
    [ "$out" = "$LIB_WORKDIR" ] || cp "$LIB_WORKDIR/jitter-$jitter.json" "$LIB_WORKDIR/jitter-$jitter.csv" "$out/"
done
python3 bench/plot-timelines.py "$out" docs/images/jitter-timelines.svg
