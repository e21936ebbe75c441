#!/usr/bin/env bash
# The socket-level half of the hostile-input suite (in `make test`; the body-level half
# is Tests/PaymentAPITests/HostileInputTests.swift): scripts/hostile-http.py against a
# live payment-api with a 2 s idle timeout, then a check that nothing but the two valid
# payments reached Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

use_debug_binaries
redis_port=$(free_port)
start_redis "$redis_port"
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 HTTP_IDLE_TIMEOUT_SECONDS=2 LOG_LEVEL=error
wait_ready "$port"

cases=0
python3 scripts/hostile-http.py "$port" "$API_PID" 2 >"$LIB_WORKDIR/hostile.txt" || cases=$?
sed 's/^/      /' "$LIB_WORKDIR/hostile.txt"
check "every socket-level case behaved (failures listed above)" 0 "$cases"
users=$(redis-cli -p "$redis_port" --scan --pattern '*pay:{*' | sed 's/.*{\(.*\)}.*/\1/' | sort -u | tr '\n' ' ')
check "only the two valid payments' users have keys in Redis" "hostile-http10 hostile-pipelined " "$users"
check "the server is still up" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")"
report_checks
