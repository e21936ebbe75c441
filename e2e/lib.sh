#!/usr/bin/env bash
# The one library of the e2e suites and the checks: counters of checks (pass, fail,
# check, must_pass, must_fail, report_checks, die_with_checks), processes run as the
# pods run them (free ports, a throwaway redis-server, payment-api instances, the
# simulator), readiness waits, and the cleanup of everything started; and the runner of
# the two tiers' steps (tier_step, tier_run: scripts/test.sh, scripts/lab.sh).
# Sourcing it defines functions and variables and does nothing else; a suite that starts
# processes or writes files calls `lib_init` first (its run directory and exit trap).

# What we ship runs here the way the chart's pods run it: numeric user and group 10001,
# every capability dropped, no new privileges (values.yaml podSecurityContext and
# securityContext). Root on the host holds capabilities no pod has: a Redis connect that
# set SO_DEBUG (CAP_NET_ADMIN) passed every test as root and failed in every pod.
POD_UID=10001
POD_GID=10001
LIB_WORKDIR=""
LIB_PIDS=()
LIB_STARTED=$SECONDS

# lib_init: the run's directory (LIB_WORKDIR, writable by the pod user) and a trap that
# stops every process the script started and removes the directory on exit; the script's
# time counts from here (report_checks prints it).
lib_init() {
    LIB_STARTED=$SECONDS
    LIB_WORKDIR=$(mktemp -d /tmp/payment-api-run-XXXXXX) || return 1
    if [ "$(id -u)" -eq 0 ]; then
        # The pod user writes its own files here (simulator reports); root still writes anywhere.
        chown "$POD_UID:$POD_GID" "$LIB_WORKDIR"
    fi
    chmod 755 "$LIB_WORKDIR"
    trap lib_cleanup EXIT
}

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

# stage_binaries BIN_DIR [FILE ...]: copies payment-api, payment-simulator and the
# server's resource bundle from BIN_DIR, and each FILE (e.g. bench's hello-bench), into
# the run's directory, where the pod user can reach them (a clone under /root cannot be
# entered by it), and points PAYMENT_API_BIN and SIMULATOR_BIN there.
stage_binaries() {
    local from=$1 to=$LIB_WORKDIR/bin
    shift
    mkdir -p "$to"
    local item
    for item in "$from/payment-api" "$from/payment-simulator" "$from/payment-api_PaymentAPI.resources" "$@"; do
        # A script that builds only the server stages only the server.
        [ -e "$item" ] && cp -R "$item" "$to/"
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
    [ -z "$LIB_WORKDIR" ] || rm -rf "$LIB_WORKDIR"
}

# use_debug_binaries: stages the binaries from BIN_PATH or the debug build folder
# (stage_binaries), building what is missing.
use_debug_binaries() {
    local bin=${BIN_PATH:-$(swift build --show-bin-path)}
    for product in payment-api payment-simulator; do
        [ -x "$bin/$product" ] || swift build --product "$product" >/dev/null
    done
    stage_binaries "$bin"
}

# lib_init_with_redis: the opening of a suite on one redis-server: lib_init, the debug
# binaries staged, and a redis-server on a free port, REDIS_PORT.
lib_init_with_redis() {
    lib_init
    use_debug_binaries
    REDIS_PORT=$(free_port)
    start_redis "$REDIS_PORT"
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

# simulation_summary NAME: simulator run NAME's requests, duration, answers by status and
# slowest answer, in one line.
simulation_summary() {
    jq -r '"requests \(.attempts_total) in \(.duration_ms / 1000 | . * 10 | round / 10) s; answers \(.status_counts | tostring); latency max \(.latency_ms.max) ms"' \
        "$LIB_WORKDIR/$1.json"
}

# verification NAME: the verification of simulator run NAME in one line; exactly once
# reads "true lost 0 doubled 0 unconfirmed 0".
verification() {
    jq -r '"\(.verification.exactly_once) lost \(.verification.lost) doubled \(.verification.double_charged) unconfirmed \(.verification.unconfirmed)"' \
        "$LIB_WORKDIR/$1.json"
}

# pay PORT BODY [HEADER ...]: POST /pay; prints "STATUS BODY" (status 000 when curl got
# no answer, within PAY_MAX_SECONDS when that is set).
pay() {
    local port=$1 body=$2
    shift 2
    local args=()
    [ -z "${PAY_MAX_SECONDS:-}" ] || args+=(-m "$PAY_MAX_SECONDS")
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

# ---------------------------------------------------------------- checks
# One line a check, "ok    DESCRIPTION" or "FAIL  DESCRIPTION"; a script ends with
# report_checks, which prints "N passed, N failed" and fails on any failure.
passed=0
failed=0
LIB_OUTPUT=""
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1"; }

# check DESCRIPTION EXPECTED ACTUAL: passes when ACTUAL is EXPECTED.
check() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# must_pass DESCRIPTION COMMAND...: COMMAND must succeed; on failure the end of its
# output (40 lines) follows. Its output stays in LIB_OUTPUT.
must_pass() {
    local description=$1
    shift
    if LIB_OUTPUT=$("$@" 2>&1); then
        pass "$description"
    else
        fail "$description"
        tail -n 40 <<<"$LIB_OUTPUT" | sed 's/^/      /'
    fi
}

# must_fail DESCRIPTION PATTERN COMMAND...: COMMAND must fail and print PATTERN (an
# extended regular expression). Its output stays in LIB_OUTPUT.
must_fail() {
    local description=$1 pattern=$2
    shift 2
    if LIB_OUTPUT=$("$@" 2>&1); then
        fail "$description (it passed)"
    elif grep -qE -- "$pattern" <<<"$LIB_OUTPUT"; then
        pass "$description"
    else
        fail "$description (failed without '$pattern')"
        tail -n 20 <<<"$LIB_OUTPUT" | sed 's/^/      /'
    fi
}

# pinned_venv SCRIPT VENV PIN...: a venv at VENV holding exactly the PyPI packages PIN...
# (a stamp file remembers them; other pins rebuild it). SCRIPT names the caller in its
# messages; a failed install ends it with die_with_checks.
pinned_venv() {
    local script=$1 venv=$2
    shift 2
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.pins" 2>/dev/null)" != "$*" ]; then
        echo "$script: installing $* from PyPI into $venv"
        rm -rf "$venv"
        if ! python3 -m venv "$venv" ||
            ! "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"; then
            die_with_checks "$script" "installing $* into $venv failed"
        fi
        echo "$*" >"$venv/.pins"
    fi
}

# start_double NAME FLAG...: the processor double as the pod user, on a port it picks
# (DOUBLE_PORT, its pid DOUBLE_PID, its log $LIB_WORKDIR/NAME.double.log), waited for on
# GET /healthz. One that never answers ends the script: nothing after it could pass
# (every payment would end 503), and a double that listens but resets every connection
# as the pod user is one that sets a socket option needing a capability.
start_double() {
    local name=$1
    shift
    local port_file="$LIB_WORKDIR/$name.double-port"
    # Port 0: the double picks a free one and writes it to the port file.
    "${POD_EXEC[@]}" "$SIMULATOR_BIN" processor-double --host 127.0.0.1 --port 0 \
        --port-file "$port_file" --seed 7 "$@" \
        >"$LIB_WORKDIR/$name.double.log" 2>&1 &
    DOUBLE_PID=$!
    LIB_PIDS+=("$DOUBLE_PID")
    DOUBLE_PORT=""
    local healthz=none
    for _ in $(seq 1 200); do
        [ -s "$port_file" ] && DOUBLE_PORT=$(head -n 1 "$port_file" | tr -d '[:space:]')
        [ -n "$DOUBLE_PORT" ] && healthz=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DOUBLE_PORT/healthz" || true)
        [ "$healthz" = 200 ] && break
        sleep 0.05
    done
    if [ "$healthz" != 200 ]; then
        check "$name: the processor double answers GET /healthz as the pod user (port ${DOUBLE_PORT:-none})" 200 "$healthz"
        sed 's/^/      /' "$LIB_WORKDIR/$name.double.log" | tail -n 20
        report_checks || exit 1
    fi
}

# die_with_checks NAME MESSAGE: ends a script that cannot go on: NAME: MESSAGE on
# stderr, then the checks so far with this one counted as failed.
die_with_checks() {
    echo "$1: $2" >&2
    echo "$passed passed, $((failed + 1)) failed"
    exit 1
}

report_checks() {
    echo "$(basename "$(dirname "$0")")/$(basename "$0"): $((SECONDS - LIB_STARTED)) s"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# ---------------------------------------------------------------- tiers
# scripts/test.sh and scripts/lab.sh: a plan of steps with estimates, printed first; each
# step run and timed, every one even after a failure (but for those that need a step that
# failed); a table of what each took at the end.
TIER_GROUPS=() TIER_NAMES=() TIER_ESTIMATES=() TIER_NEEDS=() TIER_COMMANDS=() TIER_NOTES=()
# A function to call with a step's index before the step runs (scripts/test.sh starts the
# fuzz build there), or empty.
TIER_BEFORE_STEP=""
# yes: tier_run prints the plan and runs nothing (--plan).
TIER_PLAN_ONLY=""

# tier_step GROUP NAME SECONDS NEEDS COMMAND...: one step of group GROUP; SECONDS its
# estimate; NEEDS the name of an earlier step without which it cannot run, or "".
tier_step() {
    TIER_GROUPS+=("$1") TIER_NAMES+=("$2") TIER_ESTIMATES+=("$3") TIER_NEEDS+=("$4")
    shift 4
    TIER_COMMANDS+=("$(printf '%q ' "$@")")
}

# tier_run TIER [GROUP...]: the steps of those groups (all without one), planned, run and
# timed; fails when a step failed or was skipped. TIER_NOTES follow the table.
tier_run() {
    local tier=$1 wanted i
    shift
    for wanted in "$@"; do
        [[ " ${TIER_GROUPS[*]} " == *" $wanted "* ]] ||
            { echo "$tier: no group '$wanted' (groups: $(printf '%s\n' "${TIER_GROUPS[@]}" | uniq | paste -sd' ' -))" >&2; return 64; }
    done
    local tier_plan=() total=0
    for i in "${!TIER_NAMES[@]}"; do
        if [ $# -eq 0 ] || [[ " $* " == *" ${TIER_GROUPS[$i]} "* ]]; then tier_plan+=("$i"); fi
    done
    echo "$tier: the plan (estimated seconds, measured on this 2-core machine)"
    for i in "${tier_plan[@]}"; do
        printf '  %-44s %7s\n' "${TIER_NAMES[$i]}" "${TIER_ESTIMATES[$i]}"
        total=$((total + TIER_ESTIMATES[i]))
    done
    printf '  %-44s %7s  (about %d min)\n' total "$total" $(((total + 59) / 60))
    [ "$TIER_PLAN_ONLY" != yes ] || return 0
    local tier_outcomes=() tier_spent=() broken=" " started status tier_started=$SECONDS
    for i in "${tier_plan[@]}"; do
        [ -z "$TIER_BEFORE_STEP" ] || "$TIER_BEFORE_STEP" "$i"
        printf '\n==== %s (about %s s)\n' "${TIER_NAMES[$i]}" "${TIER_ESTIMATES[$i]}"
        if [ -n "${TIER_NEEDS[$i]}" ] && [[ $broken == *" ${TIER_NEEDS[$i]} "* ]]; then
            tier_outcomes[i]=skipped tier_spent[i]=0 broken+="${TIER_NAMES[$i]} "
            echo "skipped: ${TIER_NEEDS[$i]} failed"
            continue
        fi
        started=$SECONDS status=0
        eval "${TIER_COMMANDS[$i]}" || status=$?
        tier_spent[i]=$((SECONDS - started))
        if [ "$status" -eq 0 ]; then tier_outcomes[i]=ok; else tier_outcomes[i]="FAILED ($status)" broken+="${TIER_NAMES[$i]} "; fi
    done
    printf '\n%s: what each step took\n' "$tier"
    printf '  %-44s %8s %8s  %s\n' step estimate seconds result
    local failures=0
    for i in "${tier_plan[@]}"; do
        printf '  %-44s %8s %8s  %s\n' "${TIER_NAMES[$i]}" "${TIER_ESTIMATES[$i]}" "${tier_spent[$i]}" "${tier_outcomes[$i]}"
        [ "${tier_outcomes[$i]}" = ok ] || failures=$((failures + 1))
    done
    printf '  %-44s %8s %8s  %s\n' total "$total" "$((SECONDS - tier_started))" \
        "$([ "$failures" -eq 0 ] && echo "all passed" || echo "$failures of ${#tier_plan[@]} steps failed or skipped")"
    local note
    for note in "${TIER_NOTES[@]}"; do echo "  ($note)"; done
    [ "$failures" -eq 0 ]
}
