#!/usr/bin/env bash
# `make bench`: release builds, then on loopback, all on one redis-server: one
# payment-api (failure rate 0, rate limits off), one rate-limited payment-api (a bucket of
# 1 per user, for the 429 run), two tracing (every request, and a tenth; OTLP to
# bench/otlp-sink.py, for what tracing costs), hello-bench (the bare Hummingbird hello world) and the Go peer
# (../shared/peers/go, the yardstick), measured side by side by bench/measure.py with
# wrk, redis-benchmark and the simulator's open-loop mode.
#
#   BENCH_SECONDS (8)  measured seconds per run     BENCH_WARMUP (2)  warm-up seconds
#   BENCH_ROUNDS (2)   rounds per cell (alternated) BENCH_BIN_PATH    use the binaries
#                      there, build nothing         PEER_GO_DIR       the peer's folder
#   BENCH_HELLO_BIN    hello-bench with BENCH_BIN_PATH (default: BENCH_BIN_PATH/hello-bench)
#
# Prints the table, the ratios ours/Go and the targets; writes bench/results/<date>.json,
# docs/images/bench-vs-go.svg and the generated part of docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
scripts/install-deps.sh wrk:wrk python3:python3 curl:curl

# One Swift build at a time on this machine (other scripts and agents build too). The
# service as the image ships it: release, with the Swift runtime linked in statically
# (the Dockerfile's flags).
swift_build() {
    flock /tmp/swift-build.lock swift build -c release --static-swift-stdlib "$@"
}
# hello-bench is bench/'s own package (bench/Package.swift), built beside the root's.
bench_build() {
    # The bench package pins what the root pins (as Fuzz/run.sh does for Fuzz/).
    if [ -f Package.resolved ] && { [ ! -f bench/Package.resolved ] || [ Package.resolved -nt bench/Package.resolved ]; }; then
        cp Package.resolved bench/Package.resolved
    fi
    swift_build --package-path bench --build-path .build-bench "$@"
}

if [ -n "${BENCH_BIN_PATH:-}" ]; then
    bin=$BENCH_BIN_PATH
    for product in payment-api payment-simulator; do
        [ -x "$bin/$product" ] || { echo "bench: BENCH_BIN_PATH=$bin has no $product" >&2; exit 1; }
    done
    hello=${BENCH_HELLO_BIN:-$bin/hello-bench}
else
    for product in payment-api payment-simulator; do
        echo "bench: swift build -c release --static-swift-stdlib --product $product" >&2
        swift_build --product "$product" >"$LIB_WORKDIR/build-$product.log" 2>&1 \
            || { tail -n 40 "$LIB_WORKDIR/build-$product.log" >&2; exit 1; }
    done
    bin=$(swift_build --show-bin-path)
    echo "bench: swift build -c release --static-swift-stdlib --package-path bench --build-path .build-bench --product hello-bench" >&2
    bench_build --product hello-bench >"$LIB_WORKDIR/build-hello-bench.log" 2>&1 \
        || { tail -n 40 "$LIB_WORKDIR/build-hello-bench.log" >&2; exit 1; }
    hello=$(bench_build --show-bin-path)/hello-bench
fi
stage_binaries "$bin" "$hello"
# wrk at 512 connections, plus the servers' side of them.
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true

redis_port=$(free_port)
start_redis "$redis_port"
api_port=$(free_port)
start_api "$api_port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 \
    MAX_INFLIGHT_REQUESTS=100000 LOG_LEVEL="${BENCH_LOG_LEVEL:-info}"
api_pid=$API_PID
reject_port=$(free_port)
start_api "$reject_port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=1 \
    RATE_LIMIT_REFILL_PER_SECOND=1 MAX_INFLIGHT_REQUESTS=100000 LOG_LEVEL="${BENCH_LOG_LEVEL:-info}"
reject_pid=$API_PID
# Tracing on, every request sampled (no traceparent comes from wrk: each is a root, and
# always_on is the most it can cost), exported over OTLP/HTTP to a sink that keeps nothing.
sink_port_file=$LIB_WORKDIR/otlp-sink-port
python3 bench/otlp-sink.py --port-file "$sink_port_file" >"$LIB_WORKDIR/otlp-sink.log" 2>&1 &
LIB_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$sink_port_file" ] && break; sleep 0.05; done
sink_port=$(head -n 1 "$sink_port_file")
traced_port=$(free_port)
start_api "$traced_port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 \
    MAX_INFLIGHT_REQUESTS=100000 LOG_LEVEL="${BENCH_LOG_LEVEL:-info}" \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_TRACES_SAMPLER=always_on
traced_pid=$API_PID
# And a tenth of the requests (the chart's default ratio).
sampled_port=$(free_port)
start_api "$sampled_port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 \
    MAX_INFLIGHT_REQUESTS=100000 LOG_LEVEL="${BENCH_LOG_LEVEL:-info}" \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.1
sampled_pid=$API_PID
wait_ready "$api_port"; wait_ready "$reject_port"; wait_ready "$traced_port"; wait_ready "$sampled_port"

# hello-bench: the framework alone, run like ours.
hello_args=(--hello-note "not built (no $hello)")
if [ -x "$LIB_WORKDIR/bin/hello-bench" ]; then
    hello_port=$(free_port)
    "${POD_EXEC[@]}" env HELLO_HOST=127.0.0.1 HELLO_PORT="$hello_port" "$LIB_WORKDIR/bin/hello-bench" \
        >"$LIB_WORKDIR/hello.log" 2>&1 &
    hello_pid=$!
    LIB_PIDS+=("$hello_pid")
    if wait_http "$hello_port" /healthz; then
        hello_args=(--hello-port "$hello_port" --hello-pid "$hello_pid")
    else
        hello_args=(--hello-note "did not answer GET /healthz within 15 s: $(tail -n 1 "$LIB_WORKDIR/hello.log")")
        kill "$hello_pid" 2>/dev/null || true
    fi
fi

# The Go peer: built by its own script (Debian's Go, cached outside the clone), run as the
# pod user on the same redis-server. Any failure leaves it out of the run, said so.
peer_dir=${PEER_GO_DIR:-../shared/peers/go}
peer_args=()
peer_note=""
if [ ! -f "$peer_dir/build.sh" ]; then
    peer_note="no $peer_dir/build.sh"
else
    echo "bench: building the Go peer ($peer_dir/build.sh; log in the run's directory)" >&2
    if peer_out=$(bash "$peer_dir/build.sh" 2>"$LIB_WORKDIR/peer-build.log"); then
        peer_bin=$(printf '%s\n' "$peer_out" | tail -n 1)
    else
        peer_bin=""
        peer_note="$peer_dir/build.sh failed: $(tail -n 1 "$LIB_WORKDIR/peer-build.log")"
    fi
    if [ -n "$peer_bin" ] && [ ! -x "$peer_bin" ]; then
        peer_note="$peer_dir/build.sh printed '$peer_bin', which is no executable"
    elif [ -n "$peer_bin" ]; then
        # The pod user cannot enter /root (the default cache): run a copy from the staged bin.
        if [ ${#POD_EXEC[@]} -gt 0 ] && ! "${POD_EXEC[@]}" test -x "$peer_bin"; then
            cp "$peer_bin" "$LIB_WORKDIR/bin/payment-peer-go"
            chmod a+rx "$LIB_WORKDIR/bin/payment-peer-go"
            peer_bin=$LIB_WORKDIR/bin/payment-peer-go
        fi
        peer_port=$(free_port)
        "${POD_EXEC[@]}" env PEER_REDIS_ADDR="127.0.0.1:$redis_port" PEER_PORT="$peer_port" GOMAXPROCS=2 "$peer_bin" \
            >"$LIB_WORKDIR/peer.log" 2>&1 &
        peer_pid=$!
        LIB_PIDS+=("$peer_pid")
        if wait_http "$peer_port" /healthz; then
            go_version=$(command -v go >/dev/null 2>&1 && go version || echo "go: unknown version")
            peer_args=(--peer-port "$peer_port" --peer-pid "$peer_pid" --peer-version "$go_version, GOMAXPROCS=2")
        else
            peer_note="did not answer GET /healthz within 15 s: $(tail -n 1 "$LIB_WORKDIR/peer.log")"
            kill "$peer_pid" 2>/dev/null || true
        fi
    fi
fi
# bench.py says so in its report.
[ -n "$peer_note" ] && peer_args=(--peer-note "$peer_note")

# Allocations per request of the release binary, against e2e/allocations.sh's release
# thresholds (make test checks the debug build's): printed, and in the report's folder.
echo "bench: e2e/allocations.sh on the release build" >&2
ALLOC_BIN_PATH=$bin ALLOC_BUILD=release e2e/allocations.sh | tee "$LIB_WORKDIR/allocations.txt" >&2 || true

mkdir -p bench/results docs/images
python3 bench/measure.py --api-port "$api_port" --api-pid "$api_pid" --reject-port "$reject_port" --reject-pid "$reject_pid" \
    --traced-port "$traced_port" --traced-pid "$traced_pid" --traced-log "$LIB_WORKDIR/api-$traced_port.log" \
    --sampled-port "$sampled_port" --sampled-pid "$sampled_pid" --sink-port "$sink_port" \
    --redis-port "$redis_port" --simulator "${POD_EXEC[*]} $SIMULATOR_BIN" "${peer_args[@]}" "${hello_args[@]}" \
    --seconds "${BENCH_SECONDS:-8}" --warmup "${BENCH_WARMUP:-2}" --rounds "${BENCH_ROUNDS:-2}" \
    --out-json "bench/results/$(date -u +%Y-%m-%d).json" --out-svg docs/images/bench-vs-go.svg --doc docs/performance.md \
    --allocations "$(cat "$LIB_WORKDIR/allocations.txt")"
