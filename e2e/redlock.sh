#!/usr/bin/env bash
# Redlock end to end (`make e2e-redlock`, in `make test`): a data-store redis-server, three
# independent lock nodes (REDLOCK_URLS) and two payment-api replicas; the simulator
# sends duplicates round-robin over both.
#  1. All three lock nodes up: exactly once; the latency is the baseline.
#  2. One lock node killed (SIGKILL) two seconds into the same run: still exactly once,
#     still ready; the latency next to the baseline.
#  3. A second lock node killed: /readyz 503 on both replicas, POST /pay 503 with
#     Retry-After, nothing stored.
#  4. Both nodes back: ready again without a restart, and the refused payment goes through.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init

use_debug_binaries

data_port=$(free_port)
start_redis "$data_port"
lock_ports=()
lock_pids=()
for _ in 1 2 3; do
    port=$(free_port)
    start_redis "$port"
    lock_ports+=("$port")
    lock_pids+=("$REDIS_PID")
done
urls=$(printf 'redis://127.0.0.1:%s,' "${lock_ports[@]}"); urls=${urls%,}
port_a=$(free_port); start_api "$port_a" REDIS_URL="redis://127.0.0.1:$data_port" REDLOCK_URLS="$urls" \
    PAYMENT_FAILURE_RATE=0.2 RATE_LIMIT_CAPACITY=20 RATE_LIMIT_REFILL_PER_SECOND=20 LOG_LEVEL=warning
pid_a=$API_PID
port_b=$(free_port); start_api "$port_b" REDIS_URL="redis://127.0.0.1:$data_port" REDLOCK_URLS="$urls" \
    PAYMENT_FAILURE_RATE=0.2 RATE_LIMIT_CAPACITY=20 RATE_LIMIT_REFILL_PER_SECOND=20 LOG_LEVEL=warning
pid_b=$API_PID
wait_ready "$port_a"; wait_ready "$port_b"

# run NAME: one simulator run over both replicas; prints its exit code.
run() {
    simulate "$1" "$port_a" "$port_b" -- --clients 40 --payments 300 --users 60 --duplicates 2 \
        --base-delay-ms 10 --max-delay-ms 500 --max-attempts 20
}
latency() { jq -r '.latency_ms | "p50 \(.p50) ms, p99 \(.p99) ms, max \(.max) ms"' "$LIB_WORKDIR/$1.json"; }
lock_keys() { redis-cli -p "$1" --scan --pattern '*:lock:*' | wc -l; }

echo "== three lock nodes up"
check "simulator exits 0 (baseline)" 0 "$(run baseline)"
check "exactly once, nothing lost, doubled or unconfirmed (baseline)" "true lost 0 doubled 0 unconfirmed 0" "$(verification baseline)"
echo "      $(jq -r '"requests \(.attempts_total) in \(.duration_ms / 1000) s; answers \(.status_counts | tostring)"' "$LIB_WORKDIR/baseline.json")"
echo "      latency: $(latency baseline)"

echo "== one lock node killed during a run"
status_file="$LIB_WORKDIR/one-down.status"
( run one-down >"$status_file" ) &
simulator=$!
sleep 2
kill -KILL "${lock_pids[0]}"; wait "${lock_pids[0]}" 2>/dev/null || true
wait "$simulator"
check "simulator exits 0 with a lock node killed mid-run" 0 "$(cat "$status_file")"
check "exactly once, nothing lost, doubled or unconfirmed (one node down)" "true lost 0 doubled 0 unconfirmed 0" "$(verification one-down)"
check "the run outlasted the kill (not finished early)" true "$(jq '.duration_ms > 2500' "$LIB_WORKDIR/one-down.json")"
echo "      $(jq -r '"requests \(.attempts_total) in \(.duration_ms / 1000) s; answers \(.status_counts | tostring)"' "$LIB_WORKDIR/one-down.json")"
echo "      latency: $(latency one-down) (baseline: $(latency baseline))"
check "both replicas stay ready with 2 of 3 lock nodes" "200 200" \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_a/readyz") $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_b/readyz")"
check "every lock was released on the live nodes" "0 0" "$(lock_keys "${lock_ports[1]}") $(lock_keys "${lock_ports[2]}")"

echo "== two lock nodes down: no quorum"
kill -KILL "${lock_pids[1]}"; wait "${lock_pids[1]}" 2>/dev/null || true
readiness() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz"; }
for _ in $(seq 1 100); do [ "$(readiness "$port_a") $(readiness "$port_b")" = "503 503" ] && break; sleep 0.05; done
check "both replicas answer /readyz 503" "503 503" "$(readiness "$port_a") $(readiness "$port_b")"
echo "      /readyz: $(curl -s "http://127.0.0.1:$port_a/readyz")"
user="redlock-e2e-$RANDOM"
body="{\"user_id\":\"$user\",\"amount\":12.34,\"currency\":\"USD\",\"idempotency_key\":\"quorum-lost\"}"
headers=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port_a/pay" | tr -d '\r')
check "POST /pay answers 503" 503 "$(echo "$headers" | sed -n 1p | cut -d' ' -f2)"
check "with Retry-After" 1 "$(echo "$headers" | grep -ci '^retry-after: ')"
check "nothing stored for the refused payment" 0 "$(redis-cli -p "$data_port" exists "pay:{$user}:idem:quorum-lost")"

echo "== lock nodes back"
start_redis "${lock_ports[0]}"
start_redis "${lock_ports[1]}"
wait_ready "$port_a"; wait_ready "$port_b"
check "ready again, the same processes (no restart)" "up up" \
    "$(kill -0 "$pid_a" && echo up) $(kill -0 "$pid_b" && echo up)"
# The replicas fail 20% of charges at random: retry with the key, as a client does.
check "the refused payment goes through on retry" 200 "$(pay_until_ok "$port_b" "$body" | cut -d' ' -f1)"
check "charged once" 1 "$(redis-cli -p "$data_port" hget "pay:{$user}:ledger" count)"

report_checks
