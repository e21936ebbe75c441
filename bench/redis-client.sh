#!/usr/bin/env bash
# `make bench-redis-client`: the Redis client's micro-benchmark (redis-client-bench, of
# bench/Package.swift) beside redis-benchmark, on one connection each, against a
# redis-server this script starts on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
scripts/install-deps.sh

# The bench package pins what the root pins (as Fuzz/run.sh does for Fuzz/); one Swift
# build at a time on this machine.
if [ -f Package.resolved ] && { [ ! -f bench/Package.resolved ] || [ Package.resolved -nt bench/Package.resolved ]; }; then
    cp Package.resolved bench/Package.resolved
fi
build=(flock /tmp/swift-build.lock swift build -c release --package-path bench --build-path .build-bench)
"${build[@]}" --product redis-client-bench >/dev/null

total=${BENCH_COMMANDS:-200000}
port=$(free_port)
start_redis "$port"
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$port, $(nproc) cores"
"$("${build[@]}" --show-bin-path)/redis-client-bench" "redis://127.0.0.1:$port" "$total"
for pipeline in 1 16; do
    rate=$(redis-benchmark -p "$port" -t get -n "$total" -c 1 -P "$pipeline" -q --csv | awk -F'"' '/GET/ {print $4}')
    printf "redis-benchmark -c 1 -P %s -t get\tcommands/s=%s\n" "$pipeline" "${rate%.*}"
done
