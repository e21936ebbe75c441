#!/usr/bin/env bash
# End-to-end runs of payment-simulator against real processes:
#  1. redis + two payment-api processes, duplicate factor 5, 30% failures, a small
#     bucket: exit 0, no double charge, no lost payment, and every path exercised
#     (a retry after a 500, a 429, a replay);
#  2. a server double whose ledger is broken: exit 1, and the report names the problem.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init_with_redis
redis_port=$REDIS_PORT
# Authentication on: the simulator must send its key (sha256 of "sim-secret").
keys="$LIB_WORKDIR/api-keys"
echo "sim $(printf '%s' sim-secret | sha256sum | cut -d' ' -f1) e2e-tenant" >"$keys"
settings=(REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0.3 RATE_LIMIT_CAPACITY=6 RATE_LIMIT_REFILL_PER_SECOND=20
    API_KEYS_FILE="$keys" LOG_LEVEL=warning)
port_a=$(free_port); start_api "$port_a" "${settings[@]}"
port_b=$(free_port); start_api "$port_b" "${settings[@]}"
wait_ready "$port_a"; wait_ready "$port_b"

echo "== simulator: two replicas, duplicate factor 5, authenticated"
report="$LIB_WORKDIR/report.json"
status=0
as_pod "$SIMULATOR_BIN" --target "http://127.0.0.1:$port_a" --target "http://127.0.0.1:$port_b" \
    --clients 30 --payments 150 --users 30 --duplicates 5 --base-delay-ms 10 --max-delay-ms 500 \
    --max-attempts 12 --seed 7 --run-id "e2e-$RANDOM" --report-file "$report" --api-key sim.sim-secret \
    >"$LIB_WORKDIR/report.txt" 2>"$LIB_WORKDIR/progress.txt" || status=$?
sed 's/^/      /' "$LIB_WORKDIR/report.txt"
check "simulator exits 0" 0 "$status"
check "verification: exactly once" true "$(jq .verification.exactly_once "$report")"
check "verification: no double charge" 0 "$(jq .verification.double_charged "$report")"
check "verification: no lost payment" 0 "$(jq .verification.lost "$report")"
check "a retry followed a 500" true "$(jq '(.retry_causes["500"] // 0) > 0' "$report")"
check "a 429 was answered" true "$(jq '(.status_counts["429"] // 0) > 0' "$report")"
check "a replay was answered" true "$(jq '.replays > 0' "$report")"
check "every payment of the plan was sent" 150 "$(jq .payments_total "$report")"

echo "== simulator without credentials: every payment refused with 401"
status=0
as_pod "$SIMULATOR_BIN" --target "http://127.0.0.1:$port_a" --clients 2 --payments 3 --users 1 --run-id noauth --no-verify \
    --report json >"$LIB_WORKDIR/noauth.json" 2>/dev/null || status=$?
check "simulator exits 2: no payment confirmed" 2 "$status"
check "the server answered 401 and nothing was retried" '{"401":3}' "$(jq -c .status_counts "$LIB_WORKDIR/noauth.json")"

echo "== simulator against a server whose ledger is broken"
fake_port=$(free_port)
python3 e2e/fixtures/fake-broken-ledger.py "$fake_port" &
LIB_PIDS+=($!)
for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$fake_port/readyz" >/dev/null && break; sleep 0.05; done
status=0
as_pod "$SIMULATOR_BIN" --target "http://127.0.0.1:$fake_port" --clients 4 --payments 20 --users 3 --run-id broken \
    >"$LIB_WORKDIR/broken.txt" 2>/dev/null || status=$?
sed 's/^/      /' "$LIB_WORKDIR/broken.txt" | tail -6
check "simulator exits 1 on a broken ledger" 1 "$status"
check "the report names lost payments" 1 "$(grep -c 'FAILED: 0 double charged, 20 lost' "$LIB_WORKDIR/broken.txt")"

report_checks
