#!/usr/bin/env bash
# The main job (`make demo`): a private redis-server on a free port (unless REDIS_URL is
# given), the processor double (`payment-simulator processor-double`) with faults,
# payment-api in a release build charging through it (PROCESSOR_URL, with a bearer token
# and an HMAC key file as a pod mounts them), and the simulator's demo profile against it:
# 50 clients, 2,000 payments, each sent by 3 clients at once, the per-user rate limit on,
# and `--processor-url`, so the verification is three-way: the simulator's answers, our
# ledgers and the processor's own charges (GET /charges). Prints the simulator's report
# and the double's counts, and exits with the simulator's exit code; every process it
# started is stopped by its pid, also on Ctrl-C.
#
# Settings (environment):
#   DEMO_PROCESSOR=double (default) or in-process: the old demo, payment-api's in-process
#     simulated processor with 30% transient failures and no processor double.
#   DEMO_PROCESSOR_FAULTS: the double's fault flags, default 10% of new keys charged and
#     then failed (500 or a dropped connection) and 10% answered 503 before charging.
#   BIN_PATH: the folder with payment-api and payment-simulator; default the release
#     build's (`make demo` builds it), e.g. BIN_PATH=$(swift build --show-bin-path).
# Arguments are passed to the simulator (e.g. --payments 500).
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
trap 'exit 130' INT TERM

processor=${DEMO_PROCESSOR:-double}
case "$processor" in
    double | in-process) ;;
    *) echo "demo: DEMO_PROCESSOR must be double or in-process, got '$processor'" >&2; exit 64 ;;
esac
read -r -a faults <<<"${DEMO_PROCESSOR_FAULTS:---charge-then-fail-rate 0.1 --charge-then-fail both --fail-before-rate 0.1}"

bin=${BIN_PATH:-$(swift build -c release --show-bin-path)}
stage_binaries "$bin"
# The whole help first: grep -q stops reading at its match, and with pipefail the
# simulator's SIGPIPE would count as a failure.
if [ "$processor" = double ] && ! grep -q processor-double <<<"$("$SIMULATOR_BIN" --help 2>&1 || true)"; then
    echo "demo: $bin/payment-simulator has no processor-double mode (an older build?); rebuild, or run the old demo with DEMO_PROCESSOR=in-process" >&2
    exit 69
fi

# stop_started: what this script started, by pid, newest first (the trap of lib.sh then
# finds nothing left; it still kills whatever an early exit left behind).
STARTED=()
stop_started() {
    local i
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        kill -TERM "${STARTED[$i]}" 2>/dev/null || true
        wait "${STARTED[$i]}" 2>/dev/null || true
    done
}

if [ -z "${REDIS_URL:-}" ]; then
    redis_port=$(free_port)
    start_redis "$redis_port"
    STARTED+=("$REDIS_PID")
    REDIS_URL="redis://127.0.0.1:$redis_port"
    echo "demo: private redis-server on 127.0.0.1:$redis_port"
fi

api_env=(REDIS_URL="$REDIS_URL" LOG_LEVEL=warning)
sim_args=()
if [ "$processor" = double ]; then
    # The files a pod gets from processor.tokenSecret and processor.keySecret: the token
    # payment-api sends (and the double requires), the HMAC key of processor keys and
    # payment ids. Readable by the pod user only.
    printf '%s\n' "demo-token-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$LIB_WORKDIR/processor-token"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$LIB_WORKDIR/processor-key-secret"
    chmod 600 "$LIB_WORKDIR/processor-token" "$LIB_WORKDIR/processor-key-secret"
    if [ "$(id -u)" -eq 0 ]; then chown "$POD_UID:$POD_GID" "$LIB_WORKDIR/processor-token" "$LIB_WORKDIR/processor-key-secret"; fi
    # Port 0: the double picks a free port and writes it to the port file.
    port_file=$LIB_WORKDIR/processor.port
    "${POD_EXEC[@]}" "$SIMULATOR_BIN" processor-double --host 127.0.0.1 --port 0 \
        --port-file "$port_file" --token-file "$LIB_WORKDIR/processor-token" \
        --seed "$RANDOM" "${faults[@]}" >"$LIB_WORKDIR/processor.log" 2>&1 &
    double_pid=$!
    LIB_PIDS+=("$double_pid")
    STARTED+=("$double_pid")
    double_port=""
    for _ in $(seq 1 200); do
        [ -s "$port_file" ] && double_port=$(head -n 1 "$port_file" | tr -d '[:space:]')
        [ -n "$double_port" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$double_port/healthz")" = 200 ] && break
        sleep 0.05
    done
    if [ -z "$double_port" ] || [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$double_port/healthz")" != 200 ]; then
        echo "demo: the processor double did not start; its log:" >&2
        tail -n 20 "$LIB_WORKDIR/processor.log" >&2
        exit 1
    fi
    processor_url="http://127.0.0.1:$double_port"
    echo "demo: processor double on $processor_url (${faults[*]})"
    # The reconciler sooner than its defaults (10 s, every 5 s), so that a payment whose
    # client gave up after an unknown outcome is in the ledger by the time the simulator
    # verifies; the simulator waits up to 30 s for the ledger and the processor to agree.
    api_env+=(PROCESSOR_URL="$processor_url" PROCESSOR_TOKEN_FILE="$LIB_WORKDIR/processor-token"
        PROCESSOR_KEY_SECRET_FILE="$LIB_WORKDIR/processor-key-secret" RECONCILE_DELAY_MS=2000 RECONCILE_INTERVAL_MS=500)
    sim_args+=(--processor-url "$processor_url" --reconcile-wait-seconds 30)
fi

port=$(free_port)
start_api "$port" "${api_env[@]}"
STARTED+=("$API_PID")
wait_ready "$port"
if [ "$processor" = double ]; then
    echo "demo: payment-api on http://127.0.0.1:$port (charging through the processor double, 10 requests/s per user)"
else
    echo "demo: payment-api on http://127.0.0.1:$port (30% simulated processor failures, 10 requests/s per user)"
fi

status=0
as_pod "$SIMULATOR_BIN" --target "http://127.0.0.1:$port" --clients 50 --payments 2000 --users 200 \
    --duplicates 3 --run-id "demo-$(date +%s)" "${sim_args[@]}" "$@" || status=$?
if [ "$processor" = double ]; then
    # The double's own record: what it charged, declined, and how it answered.
    curl -s "$processor_url/charges" | jq -r '"demo: processor double: \(.charges | length) charges, \(.declined | length) declined; requests \(.requests | to_entries | map("\(.key) \(.value)") | join(", "))"' \
        || echo "demo: could not read the processor double's GET /charges"
fi
stop_started
echo "demo: simulator exit code $status (0: exactly once)"
exit "$status"
