#!/usr/bin/env bash
# The socket-level half of the hostile-input suite (in `make test`; the body-level half
# is Tests/PaymentAPITests/HostileInputTests.swift): e2e/fixtures/hostile-http.py against a
# live payment-api with a 2 s idle timeout, then a check that nothing but the two valid
# payments reached Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init_with_redis
redis_port=$REDIS_PORT
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 HTTP_IDLE_TIMEOUT_SECONDS=2 LOG_LEVEL=error \
    MAX_BODY_BYTES=65536
wait_ready "$port"

cases=0
python3 e2e/fixtures/hostile-http.py "$port" "$API_PID" 2 >"$LIB_WORKDIR/hostile.txt" || cases=$?
sed 's/^/      /' "$LIB_WORKDIR/hostile.txt"
check "every socket-level case behaved (failures listed above)" 0 "$cases"
users=$(redis-cli -p "$redis_port" --scan --pattern '*pay:{*' | sed 's/.*{\(.*\)}.*/\1/' | sort -u | tr '\n' ' ')
check "only the two valid payments' users have keys in Redis" "hostile-http10 hostile-pipelined " "$users"
check "the server is still up" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")"

# Log forging: with LOG_FORMAT=text, client text with a newline must stay inside its
# quoted value. The rejected request logs its reason (the currency) at info.
text_port=$(free_port)
start_api "$text_port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 LOG_FORMAT=text LOG_LEVEL=info
wait_ready "$text_port"
forged='{"user_id":"u","amount":1,"currency":"X\n2026-12-01T00:00:00.000Z critical FORGED admin=true","idempotency_key":"k"}'
check "a currency with a newline is refused (LOG_FORMAT=text)" 400 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$forged" "http://127.0.0.1:$text_port/pay")"
log="$LIB_WORKDIR/api-$text_port.log"
wait_for_log() { for _ in $(seq 1 100); do grep -q 'payment rejected' "$log" && return 0; sleep 0.05; done; return 1; }
check "the rejection was logged" 0 "$(wait_for_log && echo 0 || echo 1)"
check "no log line starts with the client's text" 0 "$(grep -c '^2026-12-01T00:00:00.000Z critical FORGED' "$log" || true)"
check "the newline is escaped inside a quoted value" 1 "$(grep -c 'X\\n2026-12-01T00:00:00.000Z critical FORGED' "$log" || true)"
check "the server is still up (LOG_FORMAT=text)" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$text_port/healthz")"
report_checks
