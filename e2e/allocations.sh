#!/usr/bin/env bash
# Heap allocations per request on the hot paths, against thresholds: a new payment, a
# replay and GET /healthz, each counted in a live payment-api by an LD_PRELOAD counter
# (e2e/fixtures/alloc-counter.c, built here with cc) and sent by
# e2e/fixtures/allocations.py. In `make test` on the debug build; `make bench` runs it on
# the release build (ALLOC_BIN_PATH=<dir> ALLOC_BUILD=release).
#
# The thresholds are the counts measured when they were set (2026-12-06: new payment,
# replay, /healthz: debug 635, 380, 65; release 222, 130, 16) plus about 15 %: a change
# that puts a task, a chain of futures or a few copies back on a request's path shows
# here before it shows in a benchmark. Lower them when the path gets leaner.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
scripts/install-deps.sh cc:gcc python3:python3
build=${ALLOC_BUILD:-debug}
if [ -n "${ALLOC_BIN_PATH:-}" ]; then
    stage_binaries "$ALLOC_BIN_PATH"
else
    use_debug_binaries
fi
case $build in
    # new payment, replay, /healthz
    debug) limits=(720 440 80) ;;
    release) limits=(260 160 24) ;;
    *) echo "allocations: ALLOC_BUILD must be debug or release, got $build" >&2; exit 2 ;;
esac

counter_lib=$LIB_WORKDIR/alloc-counter.so
cc -O2 -shared -fPIC -o "$counter_lib" e2e/fixtures/alloc-counter.c
chmod a+rx "$LIB_WORKDIR" "$counter_lib"
count_file=$LIB_WORKDIR/alloc-counts
touch "$count_file"
chmod a+rw "$count_file"

REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT"
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 LOG_LEVEL="${ALLOC_LOG_LEVEL:-info}" \
    LD_PRELOAD="$counter_lib" ALLOC_COUNT_FILE="$count_file"
wait_ready "$port"

requests=${ALLOC_REQUESTS:-2000}
counts=$(python3 e2e/fixtures/allocations.py "$port" "$count_file" "$requests")
echo "      $build build, $requests requests each: $counts"
check "the counter counted (background allocations seen)" yes \
    "$(python3 -c "import json,sys; print('yes' if json.loads(sys.argv[1])['background_per_second'] > 0 else 'no')" "$counts")"
index=0
for kind in new replay healthz; do
    value=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$counts" "$kind")
    within=$(python3 -c "import sys; print('yes' if float(sys.argv[1]) <= float(sys.argv[2]) else 'no')" "$value" "${limits[$index]}")
    check "$kind: $value allocations per request ≤ ${limits[$index]} ($build)" yes "$within"
    index=$((index + 1))
done
report_checks
