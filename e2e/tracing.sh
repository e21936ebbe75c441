#!/usr/bin/env bash
# OpenTelemetry tracing end to end: payment-api exporting OTLP/HTTP (protobuf) to a
# receiver of ours (e2e/fixtures/otlp-receiver.py, decoding with PyPI's
# opentelemetry-proto, one JSON line a span), charging through the processor double, on a
# throwaway redis-server, as the pods run it (e2e/lib.sh). e2e/fixtures/trace-check.py
# judges what arrived:
#  0. self-test, without payment-api: the checks pass on a synthetic run that keeps the
#     contract and fail on one whose server span does not carry the sent trace id, on
#     one with a user id and an amount in attributes, and on a simulator run whose retry
#     starts a new trace; the receiver decodes plain, gzipped and chunked exports and
#     refuses (400/415) what does not decode, and the exports check fails on those;
#  1. a payment with its own traceparent sent twice (the retry replays, with a new parent
#     span id), one more with its own, one without: each server span has the sent trace
#     id and parent (or is a root), its attributes (status as curl saw it, outcome), the
#     CLIENT children EVALSHA begin / POST / EVALSHA complete (the replay: no POST);
#  2. the processor double got the trace: its charge's traceparent is the sent trace id
#     with the POST span as parent;
#  3. the requests' log lines carry trace_id and their server span's span_id; the lines
#     before the first request carry neither;
#  4. a simulator run with every payment sent as two copies: one /pay server span an
#     attempt, a trace a logical payment holding all its attempts, a key a trace id in
#     the log;
#  5. trace headers a client may send that no parser should trust (4,000 characters, a
#     zero trace id, version ff, not hex, too short, empty, not UTF-8, two of them, a
#     tracestate of junk, short or long): each payment is answered 200 within 5 s, its log
#     lines carry one well-formed non-zero trace id (the valid traceparent's beside junk),
#     the processor gets a well-formed traceparent, and the Authorization secret each
#     request carried is in no log line;
#  6. no span, event, link, scope or resource attribute holds a user id, key or amount
#     of the run;
#  7. every export request decoded.
# `e2e/tracing.sh --self-test` runs step 0 alone (no Swift build, no payment-api).
# opentelemetry-proto goes into .tools/otlp-venv (git-ignored), from PyPI, on first use.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=e2e/lib.sh
source e2e/lib.sh

SELF_TEST_ONLY=no
case "${1:-}" in
    --self-test) SELF_TEST_ONLY=yes ;;
    "") ;;
    *) echo "usage: e2e/tracing.sh [--self-test]" >&2; exit 64 ;;
esac
lib_init

# Versions verified together; changing one rebuilds the venv.
OTLP_PINS=(opentelemetry-proto==1.45.2 protobuf==7.36.2)
VENV=.tools/otlp-venv
pinned_venv e2e/tracing "$VENV" "${OTLP_PINS[@]}"
PY=$VENV/bin/python
CHECKER=e2e/fixtures/trace-check.py

# trace_checks NAME ARG...: trace-check.py ARG..., each of its ok/FAIL lines one check of
# this suite, its other lines shown; a checker that fails without a FAIL line (a crash)
# is a failed check with the end of its output.
trace_checks() {
    local name=$1 status=0 line failures=0
    shift
    "$PY" "$CHECKER" "$@" >"$LIB_WORKDIR/$name.check" 2>&1 || status=$?
    while IFS= read -r line; do
        case $line in
            "ok    "*) pass "${line#ok    }" ;;
            "FAIL  "*) fail "${line#FAIL  }"; failures=$((failures + 1)) ;;
            *) echo "$line" ;;
        esac
    done <"$LIB_WORKDIR/$name.check"
    if [ "$status" -ne 0 ] && [ "$failures" -eq 0 ]; then
        fail "trace-check.py $1 exited $status without a check failing"
        tail -n 20 "$LIB_WORKDIR/$name.check" | sed 's/^/      /'
    fi
}

# start_receiver NAME: an OTLP/HTTP receiver on a free port (it picks one and writes it
# to a file), its spans in $LIB_WORKDIR/NAME.spans.jsonl and its requests in
# NAME.exports.jsonl. Sets RECEIVER_PORT and RECEIVER_PID; stops the suite, saying why,
# when it does not answer.
start_receiver() {
    local name=$1 port_file=$LIB_WORKDIR/$1.receiver-port healthz=none
    "$PY" e2e/fixtures/otlp-receiver.py --port-file "$port_file" --spans "$LIB_WORKDIR/$name.spans.jsonl" \
        --exports "$LIB_WORKDIR/$name.exports.jsonl" 2>"$LIB_WORKDIR/$name.receiver.log" &
    RECEIVER_PID=$!
    LIB_PIDS+=("$RECEIVER_PID")
    RECEIVER_PORT=""
    for _ in $(seq 1 200); do
        [ -s "$port_file" ] && RECEIVER_PORT=$(head -n 1 "$port_file" | tr -d '[:space:]')
        [ -n "$RECEIVER_PORT" ] && healthz=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RECEIVER_PORT/healthz" || true)
        [ "$healthz" = 200 ] && return 0
        sleep 0.05
    done
    check "the OTLP receiver ($name) answers GET /healthz (port ${RECEIVER_PORT:-none})" 200 "$healthz"
    sed 's/^/      /' "$LIB_WORKDIR/$name.receiver.log" | tail -n 20
    report_checks || exit 1
}

echo "== 0. self-test: the checks on synthetic runs, the receiver on synthetic exports (no payment-api)"
synthetic=$LIB_WORKDIR/synthetic
"$PY" "$CHECKER" synthetic "$synthetic" >/dev/null
# requests_check DIR: the requests check on synthetic run DIR, evaluated once.
requests_check() {
    "$PY" "$CHECKER" requests --spans "$synthetic/$1/spans.jsonl" --logs "$synthetic/$1/api.log" \
        --charges "$synthetic/$1/charges.json" --sent "$synthetic/$1/sent.jsonl" --startup-lines 1 --deadline 0
}
every_span_check() {
    "$PY" "$CHECKER" every-span --spans "$synthetic/$1/spans.jsonl" --logs "$synthetic/$1/api.log" --charges "$synthetic/$1/charges.json"
}
simulator_check() {
    "$PY" "$CHECKER" simulator --spans "$synthetic/$1/spans.jsonl" --logs "$synthetic/$1/api.log" \
        --report "$synthetic/$1/report.json" --run-id synth --duplicates 2 --deadline 0
}
must_pass "self-test: the requests check passes on a synthetic run that keeps the contract" requests_check good
must_fail "self-test: it fails when the first attempt's server span does not carry the sent trace id" \
    "^FAIL  A, first attempt: its SERVER span carries the sent trace id 0af7651916cd43dd8448eb211c80319c .*expected a SERVER span with the sent trace id" \
    requests_check broken-propagation
must_pass "self-test: the every-span check passes on that good run" every_span_check good
must_fail "self-test: it fails on a user id in a span attribute and an amount in an event attribute" \
    "attribute.enduser.id = 'synthetic-user-7f3a' holds the user id.*event 'lease extended' attribute.amount = 21537 equals the amount" \
    every_span_check leak
must_pass "self-test: the simulator check passes on a synthetic run, a trace a payment" simulator_check sim-good
must_fail "self-test: it fails when a retry starts a trace of its own" \
    "^FAIL  one trace id a logical payment: the plan's 3 payments, 4 trace ids" simulator_check sim-split
start_receiver selftest
trace_checks roundtrip roundtrip "http://127.0.0.1:$RECEIVER_PORT" \
    --spans "$LIB_WORKDIR/selftest.spans.jsonl" --exports "$LIB_WORKDIR/selftest.exports.jsonl"
must_fail "self-test: the exports check fails on the requests the receiver refused" \
    "^FAIL  every export request decoded.*/v1/traces 400: not an ExportTraceServiceRequest" \
    "$PY" "$CHECKER" exports --exports "$LIB_WORKDIR/selftest.exports.jsonl"
kill "$RECEIVER_PID" 2>/dev/null || true
wait "$RECEIVER_PID" 2>/dev/null || true

if [ "$SELF_TEST_ONLY" = yes ]; then
    report_checks
    exit
fi

echo "== the stack: redis-server, the processor double, the OTLP receiver, payment-api exporting to it"
use_debug_binaries
REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT"
# No fault flags: every charge succeeds, nothing is left to luck.
start_double tracing
start_receiver live
spans=$LIB_WORKDIR/live.spans.jsonl
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$LIB_WORKDIR/processor-key-secret"
chmod 644 "$LIB_WORKDIR/processor-key-secret"
API_PORT=$(free_port)
# Debug level: the access-log line of a request that succeeded is at debug. Batches every
# 100 ms, so that spans arrive within the checks' deadlines.
start_api "$API_PORT" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" PROCESSOR_URL="http://127.0.0.1:$DOUBLE_PORT" \
    PROCESSOR_KEY_SECRET_FILE="$LIB_WORKDIR/processor-key-secret" RATE_LIMIT_CAPACITY=0 LOG_LEVEL=debug LOG_FORMAT=json \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RECEIVER_PORT" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
    OTEL_TRACES_SAMPLER=parentbased_always_on OTEL_BSP_SCHEDULE_DELAY=100
api_log=$LIB_WORKDIR/api-$API_PORT.log
wait_ready "$API_PORT" || die_with_checks e2e/tracing "payment-api on port $API_PORT did not become ready (its log above)"
startup_lines=$(wc -l <"$api_log")

echo "== 1–3. one payment sent twice with its trace (the retry replays), one more with its own, one without"
run=$RANDOM$RANDOM
user="trace-user-$run"
sent=$LIB_WORKDIR/sent.jsonl
: >"$sent"
random_hex() { od -An -tx1 -N "$1" /dev/urandom | tr -d ' \n'; }
# send NAME KEY AMOUNT OUTCOME CHARGES [TRACEPARENT]: one POST /pay with its own
# X-Request-ID; what was sent and what curl saw go to sent.jsonl for trace-check.py.
send() {
    local name=$1 key=$2 amount=$3 outcome=$4 charges=$5 traceparent=${6:-} request_id answer status body headers
    request_id="trace-$run-$(random_hex 4)"
    headers=("X-Request-ID: $request_id")
    [ -z "$traceparent" ] || headers+=("traceparent: $traceparent")
    answer=$(pay "$API_PORT" "{\"user_id\":\"$user\",\"amount\":$amount,\"currency\":\"USD\",\"idempotency_key\":\"$key\"}" "${headers[@]}")
    status=${answer%% *} body=${answer#* }
    echo "      $name: $status ${traceparent:-(no traceparent)}"
    jq -nc --arg name "$name" --arg request_id "$request_id" --arg traceparent "$traceparent" --arg status "$status" \
        --arg body "$body" --arg outcome "$outcome" --argjson processor "$charges" \
        '{name: $name, request_id: $request_id, traceparent: (if $traceparent == "" then null else $traceparent end),
          status: ($status | tonumber), receipt: ($body | try fromjson catch null), outcome: $outcome, processor: $processor}' >>"$sent"
}
trace_a=$(random_hex 16) trace_b=$(random_hex 16)
key_a="trace-key-a-$run" key_b="trace-key-b-$run" key_c="trace-key-c-$run"
# Amounts no status code, port or body size would equal (the every-span check compares
# integer attributes with them).
send "A, first attempt" "$key_a" 215.37 succeeded true "00-$trace_a-$(random_hex 8)-01"
send "A, retry (replayed)" "$key_a" 215.37 replayed false "00-$trace_a-$(random_hex 8)-01"
send "B" "$key_b" 248.61 succeeded true "00-$trace_b-$(random_hex 8)-01"
# Sent last: once its spans arrived, the batches before it did too.
send "C, new key, no traceparent" "$key_c" 273.09 succeeded true
curl -s "http://127.0.0.1:$DOUBLE_PORT/charges" >"$LIB_WORKDIR/charges.json"
check "the four answers: 200 200 200 200" "200 200 200 200" "$(jq -r .status "$sent" | paste -sd' ' -)"
trace_checks requests requests --spans "$spans" --logs "$api_log" --charges "$LIB_WORKDIR/charges.json" \
    --sent "$sent" --startup-lines "$startup_lines" --deadline 10

echo "== 4. the simulator: every payment as two copies, retries with the same trace"
skip_spans=$(wc -l <"$spans")
sim_status=$(simulate trcsim "$API_PORT" -- --clients 4 --payments 12 --users 3 --duplicates 2 --seed 7 \
    --min-amount-cents 20000 --max-amount-cents 29998 --base-delay-ms 20 --max-delay-ms 200 --max-attempts 20 --no-retry-budget)
echo "      simulator: $(simulation_summary trcsim)"
check "simulator: exit 0, exactly once" "0 true" "$sim_status $(jq -r .verification.exactly_once "$LIB_WORKDIR/trcsim.json")"
sim_run_id=$(jq -r .run_id "$LIB_WORKDIR/trcsim.json")
trace_checks simulator simulator --spans "$spans" --logs "$api_log" --report "$LIB_WORKDIR/trcsim.json" \
    --run-id "$sim_run_id" --duplicates 2 --skip-spans "$skip_spans" --deadline 10

echo "== 5. trace headers no W3C parser should trust: each payment answered, its trace a new one"
# What a client (or anything between it and us) may send as traceparent/tracestate. Each
# is a new payment that must be answered 200 within 5 s, whose log lines carry a trace id
# of 32 lowercase hex digits, not zero (a malformed traceparent starts a new trace), and
# whose charge reaches the processor with a well-formed traceparent. Each also sends an
# Authorization header (ignored: no API keys here) whose secret must be in no log line:
# swift-otel logs the whole carrier when its parser throws, and the carrier was once
# every header of the request (RequestTraceHeaders).
valid_trace=$(random_hex 16)
bearer_secret="bearer-secret-$run-$(random_hex 8)"
hostile_names=() hostile_ids=() hostile_statuses=()
# hostile NAME HEADER...: one POST /pay with a new key and these headers.
hostile() {
    local name=$1 request_id answer
    shift
    request_id="hostile-$run-$(random_hex 4)"
    answer=$(PAY_MAX_SECONDS=5 pay "$API_PORT" \
        "{\"user_id\":\"$user\",\"amount\":262.47,\"currency\":\"USD\",\"idempotency_key\":\"hostile-$run-${#hostile_ids[@]}\"}" \
        "X-Request-ID: $request_id" "Authorization: Bearer key-a.$bearer_secret" "$@")
    hostile_names+=("$name") hostile_ids+=("$request_id") hostile_statuses+=("${answer%% *}")
}
hostile "4,000 characters" "traceparent: 00-$(printf 'a%.0s' $(seq 1 4000))-$(random_hex 8)-01"
hostile "a zero trace id" "traceparent: 00-00000000000000000000000000000000-$(random_hex 8)-01"
hostile "version ff" "traceparent: ff-$(random_hex 16)-$(random_hex 8)-01"
hostile "not hex" "traceparent: 00-zz$(random_hex 15)-$(random_hex 8)-01"
hostile "fields too short" "traceparent: 00-abc-def-01"
hostile "empty" "traceparent;"
hostile "bytes that are not UTF-8" "traceparent: 00-$(random_hex 15)"$'\xff\xfe'"-$(random_hex 8)-01"
hostile "two traceparents" "traceparent: 00-$(random_hex 16)-$(random_hex 8)-01" "traceparent: 00-$(random_hex 16)-$(random_hex 8)-01"
hostile "a tracestate of junk" "traceparent: 00-$valid_trace-$(random_hex 8)-01" "tracestate: =,;~@"
hostile "a tracestate of 4,000 bytes of junk" "traceparent: 00-$valid_trace-$(random_hex 8)-01" \
    "tracestate: $(printf '%.0s=,;\x7e@' $(seq 1 800))"
check "each answered 200 within 5 s (${hostile_names[*]/%/;})" \
    "$(printf '200 %.0s' "${hostile_ids[@]}")" "$(printf '%s ' "${hostile_statuses[@]}")"
# The log lines are written by a thread of their own, a request's access line ("request",
# its last) after its answer was sent: wait (10 s at most) until each request has it.
access_lines() {
    jq -rR --arg prefix "hostile-$run-" 'fromjson? | select(.msg? == "request" and ((.request_id? // "") | startswith($prefix))) | .request_id' \
        "$api_log" | sort -u | wc -l
}
for _ in $(seq 1 100); do
    [ "$(access_lines)" -ge "${#hostile_ids[@]}" ] && break
    sleep 0.1
done
check "each one's access line was written" "${#hostile_ids[@]}" "$(access_lines)"
# trace_ids_of REQUEST_ID: the distinct trace_id values of its log lines, "-" for a line
# without one.
trace_ids_of() {
    jq -rR --arg id "$1" 'fromjson? | select(.request_id? == $id) | (.trace_id // "-")' "$api_log" | sort -u | paste -sd' ' -
}
bad_ids=()
for index in "${!hostile_ids[@]}"; do
    ids=$(trace_ids_of "${hostile_ids[$index]}")
    if [ -z "$ids" ] || ! [[ $ids =~ ^[0-9a-f]{32}$ ]] || [ "$ids" = 00000000000000000000000000000000 ]; then
        bad_ids+=("${hostile_names[$index]}: '${ids:-no log line}'")
    fi
done
check "each one's log lines carry one well-formed, non-zero trace id" "" "${bad_ids[*]}"
check "a tracestate of junk, short or long, did not cost the valid traceparent beside it its trace" \
    "$valid_trace $valid_trace" "$(trace_ids_of "${hostile_ids[8]}") $(trace_ids_of "${hostile_ids[9]}")"
check "no log line holds the requests' Authorization secret or a propagator's complaint" "0 0" \
    "$(grep -c -- "$bearer_secret" "$api_log" || true) $(grep -c 'Failed to extract' "$api_log" || true)"
curl -s "http://127.0.0.1:$DOUBLE_PORT/charges" >"$LIB_WORKDIR/charges-hostile.json"
check "every charge reached the processor with a well-formed traceparent" "0 malformed" \
    "$(jq '[.charges[] | select((.traceparent // "") | test("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$") | not)] | length' \
        "$LIB_WORKDIR/charges-hostile.json") malformed"

echo "== 6–7. every span: no user id, key or amount; every export decoded"
# One more traced payment, sent last: once its server span is in, every span ended
# before it (the simulator's ledger reads included) was exported.
barrier=$(random_hex 16)
send "barrier" "trace-key-barrier-$run" 291.13 succeeded true "00-$barrier-$(random_hex 8)-01"
for _ in $(seq 1 100); do
    grep -q "\"trace_id\": \"$barrier\"" "$spans" && break
    sleep 0.1
done
check "the last payment's spans arrived (every span before them was exported)" yes \
    "$(grep -q "\"trace_id\": \"$barrier\"" "$spans" && echo yes || echo no)"
curl -s "http://127.0.0.1:$DOUBLE_PORT/charges" >"$LIB_WORKDIR/charges-all.json"
trace_checks every-span every-span --spans "$spans" --logs "$api_log" --charges "$LIB_WORKDIR/charges-all.json" \
    --secret "$user" --secret "$key_a" --secret "$key_b" --secret "$key_c" --secret "$sim_run_id" --secret "$bearer_secret" \
    --amount 21537:USD --amount 24861:USD --amount 27309:USD --amount 29113:USD --amount 26247:USD
trace_checks exports exports --exports "$LIB_WORKDIR/live.exports.jsonl"
echo "      $(wc -l <"$spans") spans in $(wc -l <"$LIB_WORKDIR/live.exports.jsonl") export requests"

report_checks
