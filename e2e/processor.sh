#!/usr/bin/env bash
# payment-api with an HTTP processor (PROCESSOR_URL) that fails on purpose, end to end,
# verified three ways: the simulator's answers, our ledgers and the processor's own
# record of charges (the processor double, `payment-simulator processor-double`).
# Each run has its own redis-server, processor double and payment-api (as a pod runs
# them, e2e/lib.sh), and ends with the simulator's verification (`--processor-url`):
#  1. faults: 503 before charging, charge then 500 or a dropped connection, charge then
#     an answer after our deadline; a bearer token between payment-api and the double.
#     Every payment is charged once at the processor and once in our ledger.
#  2. lease takeovers: each charge takes longer than the lease and the watchdog is off, so
#     a retry takes the key over while the first attempt is still at the processor; the
#     processor's idempotency key keeps it one charge.
#  3. declines: declined payments are reported declined (402) and charged nowhere.
#  4. a broken processor that ignores idempotency keys, with the faults of run 1: the
#     retries charge again, and the simulator's verification must fail (exit 1): the
#     check can fail.
# Then the outcome-unknown state and its reconciler (RECONCILE_DELAY_MS=1000,
# RECONCILE_INTERVAL_MS=200), each run ending with the simulator waiting for the
# reconciler (--reconcile-wait-seconds) before its three-way verification:
#  5. charge then drop, with clients that send the same key with another amount after an
#     outcome-unknown (every one refused 422) and clients that give up after one: no
#     double charge, nothing charged at the processor only, nothing left unknown.
#  6. head then stall: the processor charges, sends the head of its 201 and holds the
#     body for 25 s; PROCESSOR_TIMEOUT_MS=800 bounds every answer (503 outcome-unknown
#     within about a second) and holds no key (no 409), and all three agree after the wait.
#  7. an absurd Retry-After (9223372036854775807 s) on every new key's 409: payment-api
#     stays up, answers 409 or 503 only, with a Retry-After it bounded.
#  8. transient 429s and 401s on any POST, with charge then drop and failing lookups: no
#     500 "nothing was charged" to a key that had an outcome-unknown, and agreement after
#     the wait.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
use_debug_binaries

# Retries that outlast every fault below: the simulator must get each payment through.
retries=(--base-delay-ms 20 --max-delay-ms 500 --max-attempts 60 --no-retry-budget --attempt-timeout-ms 5000)
# The secrets payment-api reads, as mounted files: the bearer token it sends the processor
# and the HMAC key of its processor keys and payment ids. Readable by the pod user.
printf '%s\n' "e2e-processor-token-$RANDOM$RANDOM" >"$LIB_WORKDIR/processor-token"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$LIB_WORKDIR/processor-key-secret"
chmod 644 "$LIB_WORKDIR/processor-token" "$LIB_WORKDIR/processor-key-secret"

# start_stack NAME DOUBLE_FLAG ... -- API_VAR=value ...: a redis-server, a processor
# double with the flags given and a payment-api that charges through it. Sets
# REDIS_PORT, DOUBLE_PORT, DOUBLE_PID and API_PORT (API_PID).
start_stack() {
    local name=$1
    shift
    local double_flags=()
    while [ "$1" != "--" ]; do double_flags+=("$1"); shift; done
    shift
    REDIS_PORT=$(free_port)
    start_redis "$REDIS_PORT"
    start_double "$name" "${double_flags[@]}"
    API_PORT=$(free_port)
    start_api "$API_PORT" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" PROCESSOR_URL="http://127.0.0.1:$DOUBLE_PORT" \
        PROCESSOR_KEY_SECRET_FILE="$LIB_WORKDIR/processor-key-secret" RATE_LIMIT_CAPACITY=0 LOG_LEVEL=error "$@"
    wait_ready "$API_PORT"
}

# stop_stack: what start_stack started, by pid.
stop_stack() {
    local pid
    for pid in "$API_PID" "$DOUBLE_PID" "$REDIS_PID"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

# run_simulator NAME ARG ...: the simulator against the stack, verifying at the processor
# too; prints its exit code (report in $LIB_WORKDIR/NAME.json), then saves the double's
# GET /charges to NAME.charges.json and every reference in our ledgers to NAME.ledger.
run_simulator() {
    local name=$1
    shift
    local status
    status=$(simulate "$name" "$API_PORT" -- --processor-url "http://127.0.0.1:$DOUBLE_PORT" --seed 7 "$@")
    curl -s "http://127.0.0.1:$DOUBLE_PORT/charges" >"$LIB_WORKDIR/$name.charges.json"
    # Our side, read from Redis itself: each charge is "<payment_id> <amount> <CUR> <key>".
    local list
    : >"$LIB_WORKDIR/$name.ledger"
    for list in $(redis-cli -p "$REDIS_PORT" --scan --pattern '*pay:{*}:charges'); do
        redis-cli -p "$REDIS_PORT" lrange "$list" 0 -1 | cut -d' ' -f1 >>"$LIB_WORKDIR/$name.ledger"
    done
    sort -o "$LIB_WORKDIR/$name.ledger" "$LIB_WORKDIR/$name.ledger"
    echo "$status"
}

# The double's record of run NAME: requests by answer, and keys charged more than once.
double_requests() { jq -c .requests "$LIB_WORKDIR/$1.charges.json"; }
double_count() { jq ".requests.$2" "$LIB_WORKDIR/$1.charges.json"; }
processor_doubles() { jq '[.charges | group_by(.idempotency_key)[] | select(length > 1)] | length' "$LIB_WORKDIR/$1.charges.json"; }
# Processor charges and our ledger, reference by reference: "<in both> <processor only> <ledger only>".
three_way() {
    jq -r '.charges[].reference' "$LIB_WORKDIR/$1.charges.json" | sort -u >"$LIB_WORKDIR/$1.processor-refs"
    echo "$(comm -12 "$LIB_WORKDIR/$1.processor-refs" "$LIB_WORKDIR/$1.ledger" | wc -l)" \
        "$(comm -23 "$LIB_WORKDIR/$1.processor-refs" "$LIB_WORKDIR/$1.ledger" | wc -l)" \
        "$(comm -13 "$LIB_WORKDIR/$1.processor-refs" "$LIB_WORKDIR/$1.ledger" | wc -l)"
}
# The simulator's own verdict on the processor, from its JSON report.
sim_processor() { jq -r "$2" "$LIB_WORKDIR/$1.json"; }
metric() { curl -s "http://127.0.0.1:$API_PORT/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
EXACT="true lost 0 doubled 0 unconfirmed 0"
faults=(--fail-before-rate 0.1 --charge-then-fail-rate 0.2 --charge-then-fail both
    --slow-rate 0.05 --slow-ms 1500)

echo "== 1. processor faults: 503 before charging, 500 or a dropped connection after, answers after our deadline"
start_stack p1 "${faults[@]}" --token-file "$LIB_WORKDIR/processor-token" -- \
    PROCESSOR_TIMEOUT_MS=1000 PROCESSOR_TOKEN_FILE="$LIB_WORKDIR/processor-token"
check "simulator: exit 0" 0 "$(run_simulator p1 "${retries[@]}" --clients 20 --payments 300 --users 60 --duplicates 2)"
echo "      simulator: $(simulation_summary p1)"
echo "      processor: $(double_requests p1)"
check "exactly once in our ledgers" "$EXACT" "$(verification p1)"
check "the simulator's processor check passed, no double charge there" "true 0" \
    "$(sim_processor p1 '"\(.verification.processor.passed) \(.verification.processor.double_charged)"')"
check "no key charged twice at the processor (its GET /charges)" 0 "$(processor_doubles p1)"
check "processor and ledger agree: 300 references in both, none in one only" "300 0 0" "$(three_way p1)"
check "every fault happened (failed before, 500 and dropped after charging, slow)" true \
    "$(jq '.requests | .failed_before > 0 and .failed_after_charge > 0 and .dropped_after_charge > 0 and .slow > 0' "$LIB_WORKDIR/p1.charges.json")"
check "retries after a charge were replayed by the processor, not charged again" true "$(jq '.requests.replayed > 0' "$LIB_WORKDIR/p1.charges.json")"
check "payment-api sent its token: no request unauthorized" 0 "$(double_count p1 unauthorized)"
stop_stack

echo "== 2. lease takeovers: charges of 1.5 s under a 1 s lease, watchdog off"
start_stack p2 --latency-ms 1500 -- PROCESSOR_TIMEOUT_MS=3000 LOCK_LEASE_MS=1000 FAULT_INJECTION_NO_WATCHDOG=1
check "simulator: exit 0" 0 "$(run_simulator p2 "${retries[@]}" --clients 10 --payments 20 --users 10 --duplicates 2)"
lost_lease=$(metric 'payment_requests_total{outcome="lease_lost"}')
echo "      simulator: $(simulation_summary p2)"
echo "      processor: $(double_requests p2); attempts that lost their lease: ${lost_lease:-0}"
check "work outlived its lease (the takeover happened)" true "$([ "${lost_lease:-0}" -gt 0 ] && echo true || echo false)"
check "a takeover reached the processor while the first attempt was there (409 in progress)" true "$(jq '.requests.in_progress > 0' "$LIB_WORKDIR/p2.charges.json")"
check "exactly once in our ledgers" "$EXACT" "$(verification p2)"
check "the simulator's processor check passed, no double charge there" "true 0" \
    "$(sim_processor p2 '"\(.verification.processor.passed) \(.verification.processor.double_charged)"')"
check "no key charged twice at the processor" 0 "$(processor_doubles p2)"
check "processor and ledger agree: 20 references in both" "20 0 0" "$(three_way p2)"
stop_stack

echo "== 3. declines: 20% of new keys declined"
start_stack p3 --decline-rate 0.2 -- PROCESSOR_TIMEOUT_MS=1000
check "simulator: exit 0" 0 "$(run_simulator p3 "${retries[@]}" --clients 20 --payments 200 --users 40 --duplicates 2)"
declined=$(jq '.declined | length' "$LIB_WORKDIR/p3.charges.json")
charged=$(jq '.charges | length' "$LIB_WORKDIR/p3.charges.json")
echo "      simulator: $(simulation_summary p3)"
echo "      processor: $declined keys declined, $charged charged"
check "some keys were declined, the others charged: 200 in all" "true 200" \
    "$([ "$declined" -gt 0 ] && echo true || echo false) $((declined + charged))"
check "the simulator reports as declined the payments the processor declined" "$declined" "$(sim_processor p3 '.payments.declined')"
check "declined payments were answered 402" true "$(jq '(.status_counts["402"] // 0) > 0' "$LIB_WORKDIR/p3.json")"
jq -r '.declined[].reference' "$LIB_WORKDIR/p3.charges.json" | sort -u >"$LIB_WORKDIR/p3.declined-refs"
check "no declined payment was charged at the processor" 0 \
    "$(jq -r '.charges[].reference' "$LIB_WORKDIR/p3.charges.json" | sort -u | comm -12 - "$LIB_WORKDIR/p3.declined-refs" | wc -l)"
check "no declined payment is in our ledgers" 0 "$(comm -12 "$LIB_WORKDIR/p3.ledger" "$LIB_WORKDIR/p3.declined-refs" | wc -l)"
check "processor and ledger agree on the charged ones" "$charged 0 0" "$(three_way p3)"
check "our verification: nothing doubled, nothing lost" "0 0" "$(jq -r '"\(.verification.double_charged) \(.verification.lost)"' "$LIB_WORKDIR/p3.json")"
stop_stack

echo "== 4. a broken processor that ignores idempotency keys, with the faults of run 1"
start_stack p4 "${faults[@]}" --ignore-idempotency-keys -- PROCESSOR_TIMEOUT_MS=1000
check "simulator: exit 1 (verification failed)" 1 "$(run_simulator p4 "${retries[@]}" --clients 20 --payments 100 --users 20 --duplicates 2)"
doubles=$(processor_doubles p4)
echo "      simulator: $(simulation_summary p4)"
echo "      processor: $(double_requests p4); keys charged more than once: $doubles"
sed 's/^/      /' "$LIB_WORKDIR/p4.txt" | grep -iE 'verification|double|processor' | sed -n 1,8p || true
check "the simulator found double charges at the processor" true "$(sim_processor p4 '.verification.processor.double_charged > 0')"
check "the processor's record shows them too" true "$([ "$doubles" -gt 0 ] && echo true || echo false)"
check "our ledgers alone show nothing wrong (doubled 0): only the processor's record catches it" 0 "$(jq .verification.double_charged "$LIB_WORKDIR/p4.json")"
stop_stack

# The reconciler resolves unknown outcomes a second after they happen, every 200 ms.
reconcile_env=(PROCESSOR_TIMEOUT_MS=1000 RECONCILE_DELAY_MS=1000 RECONCILE_INTERVAL_MS=200)
# after_unknown NAME: the simulator's counts after outcome-unknowns, one line.
after_unknown() {
    jq -r '"outcome-unknown \(.outcome_unknown); amount changed \(.amount_changed_after_unknown) (refused \(.amount_change_refused)), abandoned \(.abandoned_after_unknown), 500 after unknown \(.processor_failed_after_unknown); reconcile wait \(.verification.reconcile // {} | tostring)"' \
        "$LIB_WORKDIR/$1.json"
}
# agreement NAME: "<reconcile wait agreed> <processor only> <unknown left> <double charged at the processor>"
# from the simulator's report; all agree reads "true 0 0 0".
agreement() {
    jq -r '"\(.verification.reconcile.agreed) \(.verification.processor.processor_only) \(.verification.unknown_left) \(.verification.processor.double_charged)"' \
        "$LIB_WORKDIR/$1.json"
}
AGREED="true 0 0 0"
# check_reconciled NAME: how a run whose clients met outcome-unknowns must end: every
# abandoned payment looked up, the reconcile wait agreed, exactly once in our ledgers
# (abandoned payments are not unconfirmed), and the processor's charges reference by
# reference the ledger's.
check_reconciled() {
    check "the reconciler looked up every abandoned payment at the processor" true \
        "$([ "$(double_count "$1" lookups)" -ge "$(sim_processor "$1" .abandoned_after_unknown)" ] && echo true || echo false)"
    check "agreed after the wait: 0 processor-only charges, 0 unknown left, 0 double charges" "$AGREED" "$(agreement "$1")"
    check "exactly once in our ledgers (abandoned payments are not unconfirmed)" "$EXACT" "$(verification "$1")"
    check "processor and ledger agree, reference by reference" "$(jq '.charges | length' "$LIB_WORKDIR/$1.charges.json") 0 0" "$(three_way "$1")"
}

echo "== 5. charge then drop; clients change the amount or give up after an outcome-unknown; the reconciler settles"
start_stack p5 --charge-then-fail-rate 0.3 --charge-then-fail drop -- "${reconcile_env[@]}"
check "simulator: exit 0" 0 "$(run_simulator p5 "${retries[@]}" --clients 20 --payments 300 --users 60 --duplicates 2 \
    --change-amount-after-unknown-rate 0.5 --abandon-after-unknown-rate 0.3 --reconcile-wait-seconds 20)"
echo "      simulator: $(simulation_summary p5)"
echo "      after unknown: $(after_unknown p5)"
echo "      processor: $(double_requests p5)"
check "connections were dropped after charging" true "$(jq '.requests.dropped_after_charge > 0' "$LIB_WORKDIR/p5.charges.json")"
check "amounts were changed after an outcome-unknown, every one refused with 422" true \
    "$(sim_processor p5 '.amount_changed_after_unknown > 0 and .amount_change_refused == .amount_changed_after_unknown')"
check "clients gave up after an outcome-unknown" true "$(sim_processor p5 '.abandoned_after_unknown > 0')"
check "no key charged twice at the processor (its GET /charges)" 0 "$(processor_doubles p5)"
check_reconciled p5
stop_stack

echo "== 6. head then stall: the processor charges, sends its head and holds the body 25 s; PROCESSOR_TIMEOUT_MS=800"
start_stack p6 --stall-rate 1 --stall-ms 25000 -- "${reconcile_env[@]}" PROCESSOR_TIMEOUT_MS=800
check "simulator: exit 0" 0 "$(run_simulator p6 "${retries[@]}" --clients 10 --payments 40 --users 10 \
    --abandon-after-unknown-rate 0.3 --reconcile-wait-seconds 20)"
echo "      simulator: $(simulation_summary p6); latency $(jq -c .latency_ms "$LIB_WORKDIR/p6.json")"
echo "      after unknown: $(after_unknown p6)"
echo "      processor: $(double_requests p6)"
check "every charge stalled after its head" true "$(jq '.requests.stalled == (.charges | length) and .requests.stalled > 0' "$LIB_WORKDIR/p6.charges.json")"
check "every payment's first answer was 503 outcome-unknown" true "$(sim_processor p6 '.outcome_unknown >= .payments_total')"
check "every answer within the deadline + 1 s (slowest under 1.8 s)" true "$(sim_processor p6 '.latency_ms.max < 1800')"
check "no key held past the deadline: no 409, the run far shorter than the 25 s stall" "0 true" \
    "$(sim_processor p6 '"\(.status_counts["409"] // 0) \(.duration_ms < 20000)"')"
check_reconciled p6
stop_stack

echo "== 7. an absurd Retry-After: every new key answered 409 with Retry-After 9223372036854775807, nothing charged"
start_stack p7 --absurd-retry-after-rate 1 -- "${reconcile_env[@]}"
check "simulator: exit 2 (nothing could be paid, nothing wrong)" 2 "$(run_simulator p7 --base-delay-ms 20 --max-delay-ms 200 --max-attempts 5 \
    --no-retry-budget --no-honour-retry-after --duration-seconds 30 --clients 10 --payments 30 --users 10)"
echo "      simulator: $(simulation_summary p7)"
echo "      processor: $(double_requests p7)"
probe_head=$(curl -s -m 10 -D - -o /dev/null -H 'Content-Type: application/json' \
    -d '{"user_id":"p7-probe","amount":1.00,"currency":"USD","idempotency_key":"p7-probe-1"}' "http://127.0.0.1:$API_PORT/pay" | tr -d '\r')
probe_status=$(printf '%s\n' "$probe_head" | awk 'NR == 1 {print $2}')
probe_retry_after=$(printf '%s\n' "$probe_head" | awk -F': *' 'tolower($1) == "retry-after" {print $2}')
echo "      a /pay by hand: $probe_status, Retry-After: ${probe_retry_after:-none}"
check "payment-api is still running (pid $API_PID)" alive "$(kill -0 "$API_PID" 2>/dev/null && echo alive || echo dead)"
check "payment-api /healthz answers 200" 200 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/healthz")"
check "the processor answered the absurd 409s" true "$(jq '.requests.absurd_retry_after > 0' "$LIB_WORKDIR/p7.charges.json")"
check "payment-api answered 409 or 503 only" true \
    "$(sim_processor p7 '(.status_counts | length > 0) and (.status_counts | keys - ["409", "503"] | length == 0)')"
check "the Retry-After it passes on is bounded (a whole number of seconds, at most 3600)" true \
    "$(case "$probe_status:$probe_retry_after" in 409:[0-9]* | 503:[0-9]*) [ "${#probe_retry_after}" -le 4 ] && [ "$probe_retry_after" -le 3600 ] && echo true || echo false ;; *) echo false ;; esac)"
check "nothing charged anywhere" "0 true" "$(jq '.charges | length' "$LIB_WORKDIR/p7.charges.json") $(sim_processor p7 '.verification.processor.passed')"
stop_stack

echo "== 8. transient 429/401 on any POST, charge then drop, failing lookups"
start_stack p8 --transient-4xx-rate 0.3 --charge-then-fail-rate 0.3 --charge-then-fail drop \
    --lookup-fail-rate 0.3 -- "${reconcile_env[@]}"
check "simulator: exit 0" 0 "$(run_simulator p8 "${retries[@]}" --clients 20 --payments 200 --users 40 --duplicates 2 \
    --abandon-after-unknown-rate 0.2 --reconcile-wait-seconds 20)"
echo "      simulator: $(simulation_summary p8)"
echo "      after unknown: $(after_unknown p8)"
echo "      processor: $(double_requests p8)"
check "transient 4xx and drops after charging both happened" true \
    "$(jq '.requests.transient_4xx > 0 and .requests.dropped_after_charge > 0' "$LIB_WORKDIR/p8.charges.json")"
check "outcome-unknowns happened and were retried" true "$(sim_processor p8 '.outcome_unknown > 0')"
check "no 500 \"nothing was charged\" to a key that had an outcome-unknown" 0 "$(sim_processor p8 '.processor_failed_after_unknown')"
check_reconciled p8
stop_stack

report_checks
