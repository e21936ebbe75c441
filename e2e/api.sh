#!/usr/bin/env bash
# End-to-end checks of payment-api as real processes on one redis-server:
#  1. 200 concurrent requests with one key over two payment-api processes → one charge;
#  2. GET /payments/{id} of that payment answers charged, with the receipt a replay returns;
#  3. /metrics counts a known sequence;
#  4. SIGTERM: readiness 503 at once, in-flight requests finish with 200, exit 0 within
#     SHUTDOWN_DRAIN_SECONDS + 2 s.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init_with_redis
redis_port=$REDIS_PORT
common=(REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 LOG_LEVEL=warning)
port_a=$(free_port); start_api "$port_a" "${common[@]}"
port_b=$(free_port); start_api "$port_b" "${common[@]}"
wait_ready "$port_a"; wait_ready "$port_b"

echo "== 200 concurrent requests with one key over two processes"
user="e2e-$RANDOM$RANDOM"
# shellcheck disable=SC2089  # a JSON body in a string for the child shells, not words
body="{\"user_id\":\"$user\",\"amount\":12.34,\"idempotency_key\":\"one-key\"}"
# shellcheck disable=SC2090
export body port_a port_b
# shellcheck disable=SC2016  # expanded by the child bash, on purpose
seq 1 200 | xargs -P 64 -I{} bash -c '
    port=$(( {} % 2 == 0 ? port_a : port_b ))
    curl -s -o /dev/null -w "%{http_code}\n" -H "Content-Type: application/json" -d "$body" "http://127.0.0.1:$port/pay"
' >"$LIB_WORKDIR/codes"
sort "$LIB_WORKDIR/codes" | uniq -c | sed 's/^/      /'
check "every answer is 200 (executed or replayed) or 409 (in flight)" "" "$(grep -vE '^(200|409)$' "$LIB_WORKDIR/codes" || true)"
ledger=$(curl -s "http://127.0.0.1:$port_a/ledger/$user" | jq -c '{user_id, payments, totals, charges: [.charges[] | {idempotency_key, amount_minor, currency}]}')
check "the ledger holds exactly one charge" \
    "{\"user_id\":\"$user\",\"payments\":1,\"totals\":{\"USD\":1234},\"charges\":[{\"idempotency_key\":\"one-key\",\"amount_minor\":1234,\"currency\":\"USD\"}]}" "$ledger"

echo "== GET /payments/{id} of that payment: charged, with the receipt a replay returns"
replay=$(pay "$port_b" "$body")
receipt=${replay#* }
id=$(jq -r .payment_id <<<"$receipt")
found=$(curl -s "http://127.0.0.1:$port_a/payments/$id")
check "GET /payments/$id answers charged" "charged 1234 USD" "$(jq -r '"\(.status) \(.amount_minor) \(.currency)"' <<<"$found")"
check "its receipt is the replay's body, byte for byte" yes "$([[ $found == *"\"receipt\":$receipt}" ]] && echo yes || echo "no: $found")"

echo "== /metrics after a known sequence (fresh process)"
port_m=$(free_port); start_api "$port_m" "${common[@]}"; wait_ready "$port_m"
user="metrics-$RANDOM$RANDOM"
pay "$port_m" "{\"user_id\":\"$user\",\"amount\":1,\"idempotency_key\":\"k\"}" >/dev/null
pay "$port_m" "{\"user_id\":\"$user\",\"amount\":1,\"idempotency_key\":\"k\"}" >/dev/null
pay "$port_m" "{\"user_id\":\"$user\",\"amount\":2,\"idempotency_key\":\"k\"}" >/dev/null
pay "$port_m" "{\"user_id\":\"$user\",\"amount\":1,\"idempotency_key\":\"k2\"}" >/dev/null
pay "$port_m" "not json" >/dev/null
metrics=$(curl -s "http://127.0.0.1:$port_m/metrics")
for expected in 'payment_requests_total{outcome="succeeded"} 2' 'payment_requests_total{outcome="replayed"} 1' \
    'payment_requests_total{outcome="fingerprint_mismatch"} 1' 'payment_requests_total{outcome="invalid"} 1' \
    'payment_requests_failed 0'; do
    check "metrics: $expected" "$expected" "$(grep -F "$expected" <<<"$metrics" || true)"
done

echo "== SIGTERM drains: readiness 503, in-flight requests finish, exit 0"
drain=2
port_s=$(free_port)
start_api "$port_s" "${common[@]}" PAYMENT_LATENCY_MS=1500 SHUTDOWN_DRAIN_SECONDS=$drain
pid_s=$API_PID
wait_ready "$port_s"
user="drain-$RANDOM$RANDOM"
pay "$port_s" "{\"user_id\":\"$user\",\"amount\":1,\"idempotency_key\":\"before\"}" >"$LIB_WORKDIR/first" &
first=$!
sleep 0.3
start=$(date +%s.%N)
kill -TERM "$pid_s"
sleep 0.2
check "/readyz answers 503 right after SIGTERM" 503 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_s/readyz")"
# Sent during the drain (1 s into its 2 s) and still running when the drain ends (1.5 s of
# work): early enough that a slow machine cannot push it past the drain.
sleep 0.8
pay "$port_s" "{\"user_id\":\"$user\",\"amount\":1,\"idempotency_key\":\"during\"}" >"$LIB_WORKDIR/second" &
second=$!
wait "$first"; wait "$second"
check "request in flight at SIGTERM completes with 200" 200 "$(cut -d' ' -f1 "$LIB_WORKDIR/first")"
check "request sent during the drain completes with 200" 200 "$(cut -d' ' -f1 "$LIB_WORKDIR/second")"
status=0
wait "$pid_s" || status=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
check "payment-api exits 0 after SIGTERM" 0 "$status"
check "exit within SHUTDOWN_DRAIN_SECONDS + 2 s (took ${elapsed}s)" 1 "$(echo "$elapsed <= $drain + 2" | bc)"
check "both drained payments are in the ledger" 2 "$(curl -s "http://127.0.0.1:$port_a/ledger/$user" | jq .payments)"

echo "== Redis down at start: not ready, no crash; ready once Redis appears, no restart"
late_redis=$(free_port)
port_l=$(free_port)
start_api "$port_l" REDIS_URL="redis://127.0.0.1:$late_redis" PAYMENT_FAILURE_RATE=0 LOG_LEVEL=warning
pid_l=$API_PID
for _ in $(seq 1 200); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_l/healthz")" = 200 ] && break; sleep 0.05; done
check "/readyz is 503 while Redis is down" 503 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_l/readyz")"
check "/healthz is 200 while Redis is down" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_l/healthz")"
check "POST /pay fails closed with 503" 503 "$(pay "$port_l" '{"user_id":"late","amount":1,"idempotency_key":"k"}' | cut -d' ' -f1)"
start_redis "$late_redis"
wait_ready "$port_l"
check "the same process is ready once Redis is up" 1 "$(kill -0 "$pid_l" 2>/dev/null && echo 1 || echo 0)"
check "and charges" 200 "$(pay "$port_l" '{"user_id":"late","amount":1,"idempotency_key":"k"}' | cut -d' ' -f1)"

report_checks
