#!/usr/bin/env bash
# The main job (`make demo`): a private redis-server on a free port (unless REDIS_URL is
# given), payment-api in a release build, and the simulator's demo profile against it:
# 50 clients, 2,000 payments, each sent by 3 clients at once, the default 30% processor
# failures and the per-user rate limit on. Prints the simulator's report and exits with
# its exit code; every process it started is stopped, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
trap 'exit 130' INT TERM

bin=$(swift build -c release --show-bin-path)
stage_binaries "$bin"
if [ -z "${REDIS_URL:-}" ]; then
    redis_port=$(free_port)
    start_redis "$redis_port"
    REDIS_URL="redis://127.0.0.1:$redis_port"
    echo "demo: private redis-server on 127.0.0.1:$redis_port"
fi
port=$(free_port)
start_api "$port" REDIS_URL="$REDIS_URL" LOG_LEVEL=warning
wait_ready "$port"
echo "demo: payment-api on http://127.0.0.1:$port (30% simulated processor failures, 10 requests/s per user)"

status=0
as_pod "$SIMULATOR_BIN" --target "http://127.0.0.1:$port" --clients 50 --payments 2000 --users 200 \
    --duplicates 3 --run-id "demo-$(date +%s)" "$@" || status=$?
echo "demo: simulator exit code $status (0: exactly once)"
exit "$status"
