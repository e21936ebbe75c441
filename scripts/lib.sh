#!/usr/bin/env bash
# Shared helpers for the scripts that run real processes on loopback: free ports,
# a throwaway redis-server, payment-api instances, readiness waits, cleanup on exit.
# Source it; it defines functions and a cleanup trap, nothing else.

LIB_WORKDIR=$(mktemp -d /tmp/payment-api-run-XXXXXX)
LIB_PIDS=()

# What we ship runs here the way the chart's pods run it: numeric user and group 10001,
# every capability dropped, no new privileges (values.yaml podSecurityContext and
# securityContext). Root on the host holds capabilities no pod has: a Redis connect that
# set SO_DEBUG (CAP_NET_ADMIN) passed every test as root and failed in every pod.
POD_UID=10001
POD_GID=10001
if [ "$(id -u)" -eq 0 ]; then
    # The pod user writes its own files here (simulator reports); root still writes anywhere.
    chown "$POD_UID:$POD_GID" "$LIB_WORKDIR"
fi
chmod 755 "$LIB_WORKDIR"

# as_pod COMMAND...: runs COMMAND as the pod user without capabilities; POD_EXEC is that
# prefix, for a tool that starts the command itself. A caller that is not root already
# has no capabilities and no other user to become, so it runs as itself.
POD_EXEC=()
if [ "$(id -u)" -eq 0 ]; then
    POD_EXEC=(setpriv --reuid "$POD_UID" --regid "$POD_GID" --clear-groups --inh-caps=-all --bounding-set=-all --nnp)
fi
as_pod() {
    "${POD_EXEC[@]}" "$@"
}

# stage_binaries BIN_DIR: copies payment-api, payment-simulator, hello-bench (when built)
# and the server's resource bundle from BIN_DIR into the run's directory, where the pod
# user can reach them (a clone under /root cannot be entered by it), and points
# PAYMENT_API_BIN and SIMULATOR_BIN there.
stage_binaries() {
    local from=$1 to=$LIB_WORKDIR/bin
    mkdir -p "$to"
    local item
    for item in payment-api payment-simulator hello-bench payment-api_PaymentAPI.resources; do
        # A script that builds only the server stages only the server.
        [ -e "$from/$item" ] && cp -R "$from/$item" "$to/"
    done
    chmod -R a+rX "$to"
    PAYMENT_API_BIN=$to/payment-api
    SIMULATOR_BIN=$to/payment-simulator
}

# lib_descendants PID: every live process below PID, deepest first.
lib_descendants() {
    local child
    for child in $(pgrep -P "$1"); do
        lib_descendants "$child"
        echo "$child"
    done
}

# On exit: every process this script started, also those started inside subshells (a
# simulator in `( ... ) &`) and those whose pid was never recorded. Found through the
# live process tree, not the pids in LIB_PIDS alone: a pid already reaped may belong to
# another process by now.
lib_cleanup() {
    local pid
    for pid in $(lib_descendants $$); do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${LIB_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$LIB_WORKDIR"
}
trap lib_cleanup EXIT

# use_debug_binaries: stages the binaries from BIN_PATH or the debug build folder
# (stage_binaries), building what is missing.
use_debug_binaries() {
    local bin=${BIN_PATH:-$(swift build --show-bin-path)}
    for product in payment-api payment-simulator; do
        [ -x "$bin/$product" ] || swift build --product "$product" >/dev/null
    done
    stage_binaries "$bin"
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
    # The prefix itself, not as_pod: a function in the background is a subshell, and $!
    # would be its pid instead of the server's. setpriv and env exec, so $! is the server.
    "${POD_EXEC[@]}" env HTTP_HOST=127.0.0.1 HTTP_PORT="$port" "$@" "$PAYMENT_API_BIN" >"$LIB_WORKDIR/api-$port.log" 2>&1 &
    API_PID=$!
    LIB_PIDS+=("$API_PID")
}

# wait_http PORT PATH: until GET PATH on 127.0.0.1:PORT answers 200 (at most 15 s).
wait_http() {
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2")" = 200 ] && return 0
        sleep 0.05
    done
    return 1
}

# wait_ready PORT: until /readyz answers 200 (at most 15 s).
wait_ready() {
    local port=$1
    wait_http "$port" /readyz && return 0
    echo "payment-api on port $port did not become ready: /readyz says $(curl -s "http://127.0.0.1:$port/readyz"); its log:" >&2
    grep -v '"path":"/readyz"' "$LIB_WORKDIR/api-$port.log" | tail -n 20 >&2
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
    as_pod "$SIMULATOR_BIN" "${targets[@]}" --run-id "$name-$RANDOM" --report-file "$LIB_WORKDIR/$name.json" \
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

# pay_until_ok PORT BODY [HEADER ...]: POST /pay with the same body, and so the same
# idempotency key, until it answers 200, at most PAY_TRIES (50) times 0.1 s apart; prints the last
# "STATUS BODY". For a server whose simulated processor fails at random: one probe would
# fail by chance, a client's retry with its key must succeed and still charge once.
pay_until_ok() {
    local answer
    for _ in $(seq 1 "${PAY_TRIES:-50}"); do
        answer=$(pay "$@")
        [ "${answer%% *}" = 200 ] && break
        sleep 0.1
    done
    printf '%s\n' "$answer"
}

# now: seconds since the epoch, with nanoseconds; seconds_since START: seconds from START
# (a `now`) until now, one decimal.
now() { date +%s.%N; }
seconds_since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'; }

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

# die_with_checks NAME MESSAGE: ends an e2e script that cannot go on: NAME: MESSAGE on
# stderr, then the checks so far with this one counted as failed.
die_with_checks() {
    echo "$1: $2" >&2
    echo "$passed passed, $((failed + 1)) failed"
    exit 1
}

report_checks() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
