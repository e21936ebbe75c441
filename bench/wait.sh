#!/usr/bin/env bash
# `make bench-wait`: what REDIS_WAIT_REPLICAS=1 costs a new payment. One master with one
# replica on loopback, two payment-api (WAIT 0 and WAIT 1) over the same master, wrk
# with new keys at 1, 64 and 512 connections, the two servers alternating, BENCH_ROUNDS
# rounds (default 2) of BENCH_SECONDS (default 6) each. Prints one line per run and the
# medians with the ratio; also checks that every WAIT=1 answer was a 200 (a replica that
# keeps up acknowledges every payment).
# Release binaries by default; BIN_PATH=.build/debug measures a debug build instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
scripts/install-deps.sh wrk:wrk python3:python3 curl:curl

if [ -z "${BIN_PATH:-}" ]; then
    swift build -c release --product payment-api >/dev/null 2>&1 || swift build -c release --product payment-api
    BIN_PATH=$(swift build -c release --show-bin-path)
fi
stage_binaries "$BIN_PATH"
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true
seconds=${BENCH_SECONDS:-6}
rounds=${BENCH_ROUNDS:-2}

master=$(free_port)
start_redis "$master"
replica=$(free_port)
start_redis "$replica" --replicaof 127.0.0.1 "$master"
for _ in $(seq 1 200); do
    grep -q 'state=online' <<<"$(redis-cli -p "$master" info replication)" && break
    sleep 0.05
done
grep -q 'state=online' <<<"$(redis-cli -p "$master" info replication)" || { echo "the replica did not come online" >&2; exit 1; }

declare -A port
for wait in 0 1; do
    port[$wait]=$(free_port)
    start_api "${port[$wait]}" REDIS_URL="redis://127.0.0.1:$master" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 \
        MAX_INFLIGHT_REQUESTS=100000 LOG_LEVEL=warning REDIS_WAIT_REPLICAS="$wait" REDIS_WAIT_TIMEOUT_MS=1000
    wait_ready "${port[$wait]}"
done

results=$LIB_WORKDIR/wait-results.txt
: >"$results"
echo "bench-wait: ${rounds} rounds x ${seconds} s, new payments, master + 1 replica on loopback"
for round in $(seq 1 "$rounds"); do
    for connections in 1 64 512; do
        threads=$(( connections < 2 ? 1 : 2 ))
        for wait in 0 1; do
            line=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s bench/wrk/pay.lua \
                "http://127.0.0.1:${port[$wait]}/pay" -- pay "w${wait}r${round}c${connections}" 10000 0 | grep '^WRK_JSON')
            echo "$wait $connections ${line#WRK_JSON }" >>"$results"
            python3 -c 'import json, sys
w, c, j, r = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
print("  round %s WAIT=%s c=%3s: %8.1f req/s  p50 %7.2f ms  p99 %7.2f ms  statuses %s" % (r, w, c, j["rps"], j["p50_ms"], j["p99_ms"], j["statuses"]))' \
                "$wait" "$connections" "${line#WRK_JSON }" "$round"
        done
    done
done

python3 - "$results" <<'EOF'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    wait, connections, data = line.split(" ", 2)
    runs.setdefault((int(wait), int(connections)), []).append(json.loads(data))
print("medians          WAIT=0 req/s  p50 ms  p99 ms | WAIT=1 req/s  p50 ms  p99 ms | WAIT=1/WAIT=0 req/s, extra p50")
failed = 0
for connections in (1, 64, 512):
    row = []
    for wait in (0, 1):
        r = runs[(wait, connections)]
        row.append((statistics.median(x["rps"] for x in r), statistics.median(x["p50_ms"] for x in r),
                    statistics.median(x["p99_ms"] for x in r)))
        if wait == 1:
            bad = sum(n for x in r for s, n in x["statuses"].items() if s != "200")
            if bad:
                failed += 1
                print(f"FAIL  WAIT=1 at c={connections}: {bad} answers other than 200")
    (r0, a0, b0), (r1, a1, b1) = row
    print(f"  c={connections:<4}        {r0:10.1f} {a0:7.2f} {b0:7.2f} | {r1:10.1f} {a1:7.2f} {b1:7.2f} | {r1 / r0:5.2f}, {a1 - a0:+.2f} ms")
sys.exit(1 if failed else 0)
EOF
