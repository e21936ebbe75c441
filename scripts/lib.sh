#!/usr/bin/env bash
# Shared helpers for the scripts that run real processes on loopback: free ports,
# a throwaway redis-server, payment-api instances, readiness waits, cleanup on exit.
# Source it; it defines functions and a cleanup trap, nothing else.

LIB_WORKDIR=$(mktemp -d /tmp/payment-api-run-XXXXXX)
LIB_PIDS=()

lib_cleanup() {
    for pid in "${LIB_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${LIB_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$LIB_WORKDIR"
}
trap lib_cleanup EXIT

# use_debug_binaries: sets PAYMENT_API_BIN and SIMULATOR_BIN from BIN_PATH or the debug
# build folder, building what is missing.
use_debug_binaries() {
    local bin=${BIN_PATH:-$(swift build --show-bin-path)}
    PAYMENT_API_BIN=$bin/payment-api
    SIMULATOR_BIN=$bin/payment-simulator
    for binary in "$PAYMENT_API_BIN" "$SIMULATOR_BIN"; do
        [ -x "$binary" ] || swift build --product "$(basename "$binary")" >/dev/null
    done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_redis PORT [REDIS_ARG ...]: a redis-server with no persistence in the run's own
# directory (the same directory again after a restart on PORT); later arguments override
# the defaults (e.g. --appendonly yes). Sets REDIS_PID.
start_redis() {
    local port=$1
    shift
    mkdir -p "$LIB_WORKDIR/redis-$port"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$LIB_WORKDIR/redis-$port" --save "" \
        --appendonly no --daemonize no --logfile "$LIB_WORKDIR/redis-$port/redis.log" "$@" &
    REDIS_PID=$!
    LIB_PIDS+=("$REDIS_PID")
    for _ in $(seq 1 200); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "redis-server did not start on port $port" >&2
    return 1
}

# start_api PORT [VAR=value ...]: a payment-api on PORT; sets API_PID. Logs go to
# $LIB_WORKDIR/api-PORT.log.
start_api() {
    local port=$1
    shift
    env HTTP_HOST=127.0.0.1 HTTP_PORT="$port" "$@" "$PAYMENT_API_BIN" >"$LIB_WORKDIR/api-$port.log" 2>&1 &
    API_PID=$!
    LIB_PIDS+=("$API_PID")
}

# wait_ready PORT: until /readyz answers 200 (at most 15 s).
wait_ready() {
    local port=$1
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && return 0
        sleep 0.05
    done
    echo "payment-api on port $port did not become ready; its log:" >&2
    tail -n 20 "$LIB_WORKDIR/api-$port.log" >&2
    return 1
}

# simulate NAME TARGET_PORT ... -- ARGS: one simulator run over the payment-api (or nginx)
# ports given; prints its exit code. The report goes to $LIB_WORKDIR/NAME.json, its
# output to NAME.txt and NAME.err.
simulate() {
    local name=$1
    shift
    local targets=()
    while [ "$1" != "--" ]; do targets+=(--target "http://127.0.0.1:$1"); shift; done
    shift
    local status=0
    "$SIMULATOR_BIN" "${targets[@]}" --run-id "$name-$RANDOM" --report-file "$LIB_WORKDIR/$name.json" \
        "$@" >"$LIB_WORKDIR/$name.txt" 2>"$LIB_WORKDIR/$name.err" || status=$?
    echo "$status"
}

# verification NAME: the verification of simulator run NAME in one line; exactly once
# reads "true lost 0 doubled 0 unconfirmed 0".
verification() {
    jq -r '"\(.verification.exactly_once) lost \(.verification.lost) doubled \(.verification.double_charged) unconfirmed \(.verification.unconfirmed)"' \
        "$LIB_WORKDIR/$1.json"
}

# pay PORT BODY [HEADER ...]: POST /pay; prints "STATUS BODY".
pay() {
    local port=$1 body=$2
    shift 2
    local args=()
    for header in "$@"; do args+=(-H "$header"); done
    curl -s -o "$LIB_WORKDIR/response" -w '%{http_code}' "${args[@]}" \
        -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/pay"
    printf ' %s\n' "$(cat "$LIB_WORKDIR/response")"
}

# check DESCRIPTION EXPECTED ACTUAL: one assertion of an end-to-end script; the script
# ends with `report_checks`, which prints "N passed, N failed" and fails on any failure.
passed=0
failed=0
check() {
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1)); echo "ok    $1"
    else
        failed=$((failed + 1)); echo "FAIL  $1: expected '$2', got '$3'"
    fi
}

report_checks() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
