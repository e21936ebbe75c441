#!/usr/bin/env bash
# A tour of the API: a redis-server and a payment-api on loopback, then one curl call
# for each row of the status table, printed as it happens (`make tour`).
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init_with_redis
redis_port=$REDIS_PORT
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 PAYMENT_LATENCY_MS=300 \
    RATE_LIMIT_CAPACITY=3 RATE_LIMIT_REFILL_PER_SECOND=1 LOG_LEVEL=warning
wait_ready "$port"
echo "payment-api on http://127.0.0.1:$port, redis on 127.0.0.1:$redis_port"

show() {  # show TITLE CURL-ARGS...
    echo
    echo "## $1"
    shift
    echo "\$ curl -si $*" | sed "s|http://127.0.0.1:$port|\$API|"
    curl -si "$@" | grep -viE '^(date|content-length):' | tr -d '\r'
    echo
}
api="http://127.0.0.1:$port"
json=(-H 'Content-Type: application/json')

show "200: processed now" "$api/pay" "${json[@]}" -d '{"user_id":"alice","amount":100.0,"currency":"USD","idempotency_key":"order-1"}'
show "200: replay, byte-identical, Idempotent-Replayed: true" "$api/pay" "${json[@]}" -H 'Idempotency-Key: "order-1"' -d '{"user_id":"alice","amount":100.0}'
show "422: same key, another amount" "$api/pay" "${json[@]}" -d '{"user_id":"alice","amount":99.99,"idempotency_key":"order-1"}'
curl -s -o /dev/null "$api/pay" "${json[@]}" -d '{"user_id":"bob","amount":5,"idempotency_key":"slow"}' &
slow=$!
sleep 0.1
show "409: same key still in flight" "$api/pay" "${json[@]}" -d '{"user_id":"bob","amount":5,"idempotency_key":"slow"}'
wait "$slow"
show "429: alice's bucket (capacity 3) is empty" "$api/pay" "${json[@]}" -d '{"user_id":"alice","amount":1,"idempotency_key":"order-2"}'
show "400: invalid amount" "$api/pay" "${json[@]}" -d '{"user_id":"carol","amount":1.005,"idempotency_key":"x"}'
show "415: not JSON" "$api/pay" -H 'Content-Type: text/plain' -d 'hello'
show "ledger: what was charged" "$api/ledger/alice"
show "readiness" "$api/readyz"
echo "## metrics (payment_requests_total)"
curl -s "$api/metrics" | grep '^payment_requests_total'
