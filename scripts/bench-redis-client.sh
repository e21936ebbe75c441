#!/usr/bin/env bash
# The Redis client's micro-benchmark beside redis-benchmark, on one connection each,
# against a redis-server this script starts on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

total=${BENCH_COMMANDS:-200000}
workdir=$(mktemp -d /tmp/redis-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$workdir" --save "" --appendonly no \
    --daemonize no --logfile "$workdir/redis.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$workdir"' EXIT
for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.05
done

swift build -c release --product redis-client-bench >/dev/null
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$port, $(nproc) cores"
"$(swift build -c release --show-bin-path)/redis-client-bench" "redis://127.0.0.1:$port" "$total"
for pipeline in 1 16; do
    rate=$(redis-benchmark -p "$port" -t get -n "$total" -c 1 -P "$pipeline" -q --csv | awk -F'"' '/GET/ {print $4}')
    printf "redis-benchmark -c 1 -P %s -t get\tcommands/s=%s\n" "$pipeline" "${rate%.*}"
done
