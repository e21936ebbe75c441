#!/usr/bin/env bash
# Fault injection end to end (in `make test`, about 120 s): real processes on loopback,
# each scenario under load from the simulator and ending with its exactly-once
# verification. Redis runs with `appendonly yes, appendfsync always`, the persistence
# docs/reliability.md recommends: without it a Redis restart forgets acknowledged
# payments, and no client-side logic can bring exactly-once back.
#  1. Redis down at start: /readyz 503, /healthz 200, POST 503; ready once Redis appears.
#  2. Redis killed (SIGKILL) under load: 503 + Retry-After; 200 within 2 s of its return.
#  3. Redis hung (SIGSTOP) for 5 s under load: every answer within half the hang (it
#     waits at most two commands, index then abort or complete then markUnknown, each
#     bounded by REDIS_TIMEOUT_MS), the in-flight cap sheds with 503, memory stays bounded.
#  4. payment-api SIGKILLed mid-request: the client's retry with the same key after the
#     lease is charged exactly once; and a replica killed under load.
#  5. Processing slower than the lease: the watchdog extends it; with the watchdog off
#     (fault injection), the work loses its lease and still nothing is charged twice.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
use_debug_binaries
ms() { date +%s%3N; }
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

redis_port=$(free_port)
# Every write fsynced before the reply; a restart on the same port reads the same AOF.
durable=(--appendonly yes --appendfsync always)
common=(REDIS_URL="redis://127.0.0.1:$redis_port" REDIS_TIMEOUT_MS=500 PAYMENT_FAILURE_RATE=0.1
    RATE_LIMIT_CAPACITY=50 RATE_LIMIT_REFILL_PER_SECOND=50 LOG_LEVEL=error)
# Retries that outlast every fault below: the simulator must get each payment through.
retries=(--base-delay-ms 20 --max-delay-ms 500 --max-attempts 60 --no-retry-budget --attempt-timeout-ms 3000)
EXACT="true lost 0 doubled 0 unconfirmed 0"

echo "== 1. Redis down at start"
api=$(free_port)
start_api "$api" "${common[@]}"
for _ in $(seq 1 100); do [ "$(status_of "http://127.0.0.1:$api/healthz")" = 200 ] && break; sleep 0.05; done
check "/healthz 200 while Redis is down" 200 "$(status_of "http://127.0.0.1:$api/healthz")"
check "/readyz 503 while Redis is down" 503 "$(status_of "http://127.0.0.1:$api/readyz")"
check "POST /pay 503 while Redis is down" 503 "$(pay "$api" '{"user_id":"f1","amount":1,"idempotency_key":"k"}' | cut -d' ' -f1)"
appeared=$(ms)
start_redis "$redis_port" "${durable[@]}"
wait_ready "$api"
echo "      ready $(( $(ms) - appeared )) ms after Redis answered, same process (pid $API_PID)"
check "ready without a restart" up "$(kill -0 "$API_PID" && echo up)"
check "simulator after Redis appeared: exit 0" 0 "$(simulate s1 "$api" -- "${retries[@]}" --clients 10 --payments 100 --users 20 --duplicates 2)"
check "exactly once" "$EXACT" "$(verification s1)"

echo "== 2. Redis killed under load"
python3 e2e/fixtures/probe-pay.py run "http://127.0.0.1:$api" probe-a,probe-b,probe-c 9 "$LIB_WORKDIR/kill-probe.csv" &
probe=$!
( simulate s2 "$api" -- "${retries[@]}" --clients 20 --payments 300 --users 60 --duplicates 2 >"$LIB_WORKDIR/s2.status" ) &
sim=$!
sleep 2
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
sleep 2
start_redis "$redis_port" "${durable[@]}"
returned=$(ms)  # once Redis answers PING: what the server can be asked to notice
wait "$probe"; wait "$sim"
probe_result=$(python3 e2e/fixtures/probe-pay.py summary "$LIB_WORKDIR/kill-probe.csv" "$returned")
echo "      simulator: $(simulation_summary s2)"
echo "      probe: $probe_result (recovered_after_event_ms counts from Redis's return)"
check "503s carried Retry-After" 0 "$(echo "$probe_result" | jq .missing_retry_after)"
check "the probe saw 503s while Redis was gone" true "$(echo "$probe_result" | jq '.failed_by_status["503"] > 0')"
check "200 again within 2 s of Redis's return" true "$(echo "$probe_result" | jq '.recovered_after_event_ms != null and .recovered_after_event_ms < 2000')"
check "simulator across the kill: exit 0" 0 "$(cat "$LIB_WORKDIR/s2.status")"
check "exactly once across the kill" "$EXACT" "$(verification s2)"
kill -TERM "$API_PID"; wait "$API_PID" || true

echo "== 3. Redis hung (SIGSTOP) for 5 s under load"
api=$(free_port)
start_api "$api" "${common[@]}" MAX_INFLIGHT_REQUESTS=32
wait_ready "$api"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
rss_before=$(rss "$API_PID")
python3 e2e/fixtures/probe-pay.py run "http://127.0.0.1:$api" probe-d,probe-e,probe-f 10 "$LIB_WORKDIR/stop-probe.csv" &
probe=$!
( simulate s3 "$api" -- "${retries[@]}" --clients 60 --payments 900 --users 90 --duplicates 2 >"$LIB_WORKDIR/s3.status" ) &
sim=$!
sleep 2
kill -STOP "$REDIS_PID"
sleep 1
# A burst while Redis hangs: beyond the in-flight cap the answer is an immediate 503.
burst=()
for i in $(seq 1 100); do
    curl -s -o "$LIB_WORKDIR/burst-$i" -w '%{http_code}\n' -m 5 -H 'Content-Type: application/json' \
        -d "{\"user_id\":\"burst-$i\",\"amount\":1,\"idempotency_key\":\"b\"}" "http://127.0.0.1:$api/pay" \
        >>"$LIB_WORKDIR/burst.codes" &
    burst+=($!)
done
for pid in "${burst[@]}"; do wait "$pid" || true; done
rss_paused=$(rss "$API_PID")
sleep 3
kill -CONT "$REDIS_PID"
resumed=$(ms)
wait "$probe"; wait "$sim"
shed=$(grep -l "requests in flight" "$LIB_WORKDIR"/burst-* 2>/dev/null | wc -l)
probe_result=$(python3 e2e/fixtures/probe-pay.py summary "$LIB_WORKDIR/stop-probe.csv" "$resumed")
echo "      simulator: $(simulation_summary s3)"
echo "      probe: $probe_result"
echo "      burst of 100 during the hang: $(sort "$LIB_WORKDIR/burst.codes" | uniq -c | awk '{printf "%s×%s ", $1, $2}'); shed by the in-flight cap: $shed"
echo "      server RSS: $rss_before KiB before, $rss_paused KiB during the hang"
# A payment whose `begin` was answered just before the hang waits out two commands, each
# bounded by REDIS_TIMEOUT_MS (1 s in all): `complete`, then the first command of
# `markUnknown` (the reconciler's queue) after `complete` timed out. What this shows is
# that no answer waits for Redis to come back, so the bound is half the 5 s hang: the
# begin, the processor and the scheduling of 160 processes on 2 cores with the fuzz build
# beside them are not what it judges (a simulator answer once took 1,221 ms, against a
# bound of 1,500 ms that was 2 × REDIS_TIMEOUT_MS + 500 ms).
check "every probe answer within half the hang (2,500 ms)" true "$(echo "$probe_result" | jq '.max_latency_ms <= 2500')"
check "every simulator answer within half the hang (2,500 ms)" true "$(jq '.latency_ms.max <= 2500' "$LIB_WORKDIR/s3.json")"
check "the in-flight cap shed part of the burst with 503" true "$([ "$shed" -gt 0 ] && echo true || echo false)"
check "memory bounded during the hang (RSS grew < 64 MiB)" true "$([ $((rss_paused - rss_before)) -lt 65536 ] && echo true || echo false)"
check "simulator across the hang: exit 0" 0 "$(cat "$LIB_WORKDIR/s3.status")"
check "exactly once across the hang" "$EXACT" "$(verification s3)"
kill -TERM "$API_PID"; wait "$API_PID" || true

echo "== 4. payment-api SIGKILLed mid-request"
api=$(free_port)
# A lease of 5 s and 10 s of work: the restarted process is ready long before the dead
# request's lease ends, however slowly it starts, so the immediate retry must see 409.
start_api "$api" "${common[@]}" PAYMENT_FAILURE_RATE=0 PAYMENT_LATENCY_MS=10000 LOCK_LEASE_MS=5000
wait_ready "$api"
body='{"user_id":"killed-mid-request","amount":7.50,"idempotency_key":"k1"}'
( pay "$api" "$body" >"$LIB_WORKDIR/killed.txt" 2>&1 || true ) &
client=$!
# Killed only once the request holds its key (it is then in the charge).
for _ in $(seq 1 100); do [ "$(redis-cli -p "$redis_port" exists 'pay:{killed-mid-request}:idem:k1')" = 1 ] && break; sleep 0.05; done
kill -KILL "$API_PID"; wait "$API_PID" 2>/dev/null || true
killed=$(ms)
wait "$client" || true
start_api "$api" "${common[@]}" PAYMENT_FAILURE_RATE=0 PAYMENT_LATENCY_MS=100 LOCK_LEASE_MS=1000
wait_ready "$api"
early=$(pay "$api" "$body" | cut -d' ' -f1)
echo "      retry at once after the kill: $early"
retried=$(PAY_TRIES=150 pay_until_ok "$api" "$body" | cut -d' ' -f1)
echo "      the retry was charged $(( $(ms) - killed )) ms after the kill (lease 5000 ms)"
check "an immediate retry finds the key in flight (409) until the dead request's lease ends" 409 "$early"
check "the retry after the lease is charged" 200 "$retried"
check "charged exactly once" 1 "$(redis-cli -p "$redis_port" hget 'pay:{killed-mid-request}:ledger' count)"
check "a further retry replays" true "$(grep -qi '^idempotent-replayed: true' <<<"$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$api/pay")" && echo true || echo false)"
kill -TERM "$API_PID"; wait "$API_PID" || true
# Under load: two replicas; one is SIGKILLed mid-run and started again.
port_a=$(free_port); port_b=$(free_port)
start_api "$port_a" "${common[@]}" LOCK_LEASE_MS=1000 PAYMENT_LATENCY_MS=20; pid_a=$API_PID
start_api "$port_b" "${common[@]}" LOCK_LEASE_MS=1000 PAYMENT_LATENCY_MS=20
wait_ready "$port_a"; wait_ready "$port_b"
( simulate s4 "$port_a" "$port_b" -- "${retries[@]}" --clients 20 --payments 500 --users 50 --duplicates 2 >"$LIB_WORKDIR/s4.status" ) &
sim=$!
sleep 2
kill -KILL "$pid_a"; wait "$pid_a" 2>/dev/null || true
sleep 1
start_api "$port_a" "${common[@]}" LOCK_LEASE_MS=1000 PAYMENT_LATENCY_MS=20
wait "$sim"
echo "      simulator: $(simulation_summary s4)"
check "simulator with a replica SIGKILLed: exit 0" 0 "$(cat "$LIB_WORKDIR/s4.status")"
check "exactly once with a replica SIGKILLed" "$EXACT" "$(verification s4)"

echo "== 5. processing slower than the lease"
api=$(free_port)
# The watchdog extends every lease / 3: a 1 s lease leaves 0.67 s of slack for an
# extension to land on a busy machine (0.5 s left 0.33 s).
start_api "$api" "${common[@]}" PAYMENT_FAILURE_RATE=0 PAYMENT_LATENCY_MS=2500 LOCK_LEASE_MS=1000
wait_ready "$api"
check "simulator, 2.5 s of work under a 1 s lease (the watchdog extends): exit 0" 0 \
    "$(simulate s5 "$api" -- "${retries[@]}" --clients 10 --payments 30 --users 10 --duplicates 2)"
check "exactly once with the watchdog" "$EXACT" "$(verification s5)"
check "no work lost its lease" 0 "$(curl -s "http://127.0.0.1:$api/metrics" | awk '/payment_requests_total\{outcome="lease_lost"\}/ {print $2}')"
kill -TERM "$API_PID"; wait "$API_PID" || true
# With the watchdog off, every attempt (1.5 s of work) outlives its 1 s lease: none may
# commit, whatever the retries and duplicates do. The simulator expects nothing confirmed.
api=$(free_port)
start_api "$api" "${common[@]}" PAYMENT_FAILURE_RATE=0 PAYMENT_LATENCY_MS=1500 LOCK_LEASE_MS=1000 FAULT_INJECTION_NO_WATCHDOG=1
wait_ready "$api"
simulate s6 "$api" -- "${retries[@]}" --clients 10 --payments 10 --users 5 --duplicates 2 --max-attempts 4 --max-unconfirmed 1000 >/dev/null
lost_lease=$(curl -s "http://127.0.0.1:$api/metrics" | awk '/payment_requests_total\{outcome="lease_lost"\}/ {print $2}')
echo "      simulator: $(simulation_summary s6); attempts that lost their lease and were not committed: $lost_lease"
check "work outlived its lease (the fault happened)" true "$([ "${lost_lease:-0}" -gt 0 ] && echo true || echo false)"
check "nothing charged, nothing doubled: confirmed 0, ledgers 0" "0 0 0" \
    "$(jq -r '"\(.payments.confirmed) \(.verification.double_charged) \(.verification.lost)"' "$LIB_WORKDIR/s6.json")"
check "no ledger entry at all" 0 "$(redis-cli -p "$redis_port" --scan --pattern 'pay:{s6-*}:ledger' | wc -l)"

report_checks
