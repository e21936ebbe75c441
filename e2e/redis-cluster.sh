#!/usr/bin/env bash
# Scale-out on a Redis Cluster end to end (`make e2e-redis-cluster`), with real processes
# on loopback:
#  1. Redis Cluster of 6 redis-server processes (3 masters, 3 replicas), 3 payment-api
#     replicas in cluster mode, nginx round-robin in front, the simulator through nginx:
#     exactly once.
#  2. A global bucket shared by the 3 replicas: requests accepted over a window stay
#     at most 5% above capacity + rate × window (and at least 80% of it).
#  3. Rolling restart under load: SIGTERM each replica in turn, as Kubernetes would,
#     while the simulator runs: no lost or doubled payment, none left unconfirmed.
#  4. Master failover under load: SIGKILL a master; its replica takes over and the same
#     payment-api processes find it (no restart); exactly once; how long new payments
#     on that master's slots failed, measured by a probe every 50 ms.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
# nginx's master must get SIGTERM to take its workers along; lib.sh's SIGKILL would not.
NGINX_PIDS=()
stop_nginx() { for pid in "${NGINX_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
trap 'stop_nginx; lib_cleanup' EXIT

use_debug_binaries
command -v nginx >/dev/null || { echo "nginx is missing: make deps" >&2; exit 1; }

echo "== Redis Cluster: 3 masters + 3 replicas"
redis_ports=()
redis_pids=()
# A cluster node also listens on port + 10000 (the cluster bus): pick ports that leave
# room for it below 65536 and whose bus port is free too.
cluster_port() {
    python3 -c '
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    if port + 10000 < 65536:
        b = socket.socket()
        try:
            b.bind(("127.0.0.1", port + 10000)); print(port); break
        except OSError:
            pass
        finally:
            b.close()
    s.close()'
}
for _ in 1 2 3 4 5 6; do
    port=$(cluster_port)
    mkdir -p "$LIB_WORKDIR/redis-$port"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$LIB_WORKDIR/redis-$port" --save "" --appendonly no \
        --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
        --daemonize no --logfile "$LIB_WORKDIR/redis-$port/redis.log" &
    LIB_PIDS+=($!)
    redis_pids+=($!)
    redis_ports+=("$port")
done
for port in "${redis_ports[@]}"; do
    for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
# shellcheck disable=SC2046  # one word per node address, on purpose
if ! redis-cli --cluster create $(printf '127.0.0.1:%s ' "${redis_ports[@]}") --cluster-replicas 1 --cluster-yes \
    >"$LIB_WORKDIR/cluster-create.log" 2>&1; then
    echo "redis-cli --cluster create failed:" >&2
    tail -n 20 "$LIB_WORKDIR/cluster-create.log" >&2
    exit 1
fi
for port in "${redis_ports[@]}"; do
    for _ in $(seq 1 150); do grep -q cluster_state:ok <<<"$(redis-cli -p "$port" cluster info)" && break; sleep 0.1; done
done
check "cluster covers all slots" 1 "$(grep -c 'All 16384 slots covered' "$LIB_WORKDIR/cluster-create.log")"
# Replicas attach a moment after the cluster is formed: ask each node its role.
roles() { for port in "${redis_ports[@]}"; do redis-cli -p "$port" role | sed -n 1p; done | sort | uniq -c | awk '{printf "%s %s ", $1, $2}'; }
for _ in $(seq 1 100); do [ "$(roles)" = "3 master 3 slave " ] && break; sleep 0.1; done
check "3 masters and 3 replicas" "3 master 3 slave " "$(roles)"
seeds=$(printf 'redis://127.0.0.1:%s,' "${redis_ports[@]}"); seeds=${seeds%,}

# start_replicas NAME [VAR=value ...]: three payment-api in cluster mode; API_PORTS/API_PIDS.
start_replicas() {
    API_PORTS=(); API_PIDS=()
    for _ in 1 2 3; do
        local port; port=$(free_port)
        start_api "$port" REDIS_MODE=cluster REDIS_URL="$seeds" LOG_LEVEL=warning SHUTDOWN_DRAIN_SECONDS=1 "$@"
        API_PORTS+=("$port"); API_PIDS+=("$API_PID")
    done
    for port in "${API_PORTS[@]}"; do wait_ready "$port"; done
}

# start_nginx: round-robin over API_PORTS on LB_PORT. POST /pay is idempotent by key, so
# nginx may resend it to the next replica when one refuses the connection or drains.
start_nginx() {
    LB_PORT=$(free_port)
    local dir="$LIB_WORKDIR/nginx-$LB_PORT"
    mkdir -p "$dir"
    {
        echo "worker_processes 1; daemon off; pid $dir/nginx.pid; error_log $dir/error.log warn;"
        echo "events { worker_connections 4096; }"
        echo "http { access_log off; client_body_temp_path $dir; proxy_temp_path $dir;"
        echo "  fastcgi_temp_path $dir; uwsgi_temp_path $dir; scgi_temp_path $dir;"
        echo "  upstream api { keepalive 64;"
        for port in "${API_PORTS[@]}"; do echo "    server 127.0.0.1:$port max_fails=0;"; done
        echo "  }"
        echo "  server { listen 127.0.0.1:$LB_PORT;"
        echo "    location / { proxy_pass http://api; proxy_http_version 1.1; proxy_set_header Connection \"\";"
        echo "      proxy_next_upstream error timeout http_502 non_idempotent; proxy_next_upstream_tries 3; } }"
        echo "}"
    } >"$dir/nginx.conf"
    nginx -c "$dir/nginx.conf" -p "$dir" >"$dir/stdout.log" 2>&1 &
    NGINX_PIDS+=($!)
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$LB_PORT/healthz" && break; sleep 0.05; done
}

echo "== 3 replicas behind nginx, simulator with duplicates"
start_replicas PAYMENT_FAILURE_RATE=0.2 RATE_LIMIT_CAPACITY=20 RATE_LIMIT_REFILL_PER_SECOND=20
start_nginx
status=$(simulate herd "$LB_PORT" -- --clients 30 --payments 600 --users 60 --duplicates 3 --base-delay-ms 10 --max-delay-ms 500 --max-attempts 12)
sed -n '/^logical/,/^unconfirmed/p' "$LIB_WORKDIR/herd.txt" | sed 's/^/      /'
check "simulator through nginx exits 0" 0 "$status"
check "exactly once over the cluster" true "$(jq .verification.exactly_once "$LIB_WORKDIR/herd.json")"
masters_with_keys=0
for port in "${redis_ports[@]}"; do
    if [ "$(redis-cli -p "$port" role | sed -n 1p)" = master ] && [ "$(redis-cli -p "$port" dbsize)" -gt 0 ]; then
        masters_with_keys=$((masters_with_keys + 1))
    fi
done
check "payments landed on all 3 masters" 3 "$masters_with_keys"

echo "== rolling restart of the 3 replicas under load"
status_file="$LIB_WORKDIR/rolling.status"
( simulate rolling "$LB_PORT" -- --clients 20 --payments 600 --users 100 --duplicates 2 --base-delay-ms 20 --max-delay-ms 1000 \
    --max-attempts 20 >"$status_file" ) &
simulator=$!
sleep 2
restarts=0
for index in 0 1 2; do
    port=${API_PORTS[$index]}
    kill -TERM "${API_PIDS[$index]}"
    wait "${API_PIDS[$index]}" && restarts=$((restarts + 1))
    start_api "$port" REDIS_MODE=cluster REDIS_URL="$seeds" LOG_LEVEL=warning SHUTDOWN_DRAIN_SECONDS=1 \
        PAYMENT_FAILURE_RATE=0.2 RATE_LIMIT_CAPACITY=20 RATE_LIMIT_REFILL_PER_SECOND=20
    API_PIDS[index]=$API_PID
    wait_ready "$port"
    sleep 1
done
wait "$simulator"
sed -n '/^logical/,/^unconfirmed/p' "$LIB_WORKDIR/rolling.txt" | sed 's/^/      /'
check "each replica exited 0 on SIGTERM" 3 "$restarts"
check "the run went on during all 3 restarts (not finished early)" true \
    "$(jq '.duration_ms > 5000' "$LIB_WORKDIR/rolling.json")"
check "simulator exits 0 after the rolling restart" 0 "$(cat "$status_file")"
check "no lost or doubled payment" "0 0" "$(jq -r '"\(.verification.lost) \(.verification.double_charged)"' "$LIB_WORKDIR/rolling.json")"
check "no payment left unconfirmed" 0 "$(jq .verification.unconfirmed "$LIB_WORKDIR/rolling.json")"

echo "== REDIS_WAIT_REPLICAS=1 in cluster mode: each shard waits for its own replica"
wait_port=$(free_port)
start_api "$wait_port" REDIS_MODE=cluster REDIS_URL="$seeds" LOG_LEVEL=warning PAYMENT_FAILURE_RATE=0 \
    RATE_LIMIT_CAPACITY=0 REDIS_WAIT_REPLICAS=1 REDIS_WAIT_TIMEOUT_MS=5000
wait_pid=$API_PID
wait_ready "$wait_port"
status=$(simulate wait "$wait_port" -- --clients 16 --payments 300 --users 60 --duplicates 2 --max-attempts 4)
check "WAIT=1: simulator exits 0" 0 "$status"
check "WAIT=1: every payment confirmed once, on all 3 shards" "true lost 0 doubled 0 unconfirmed 0" "$(verification wait)"
check "WAIT=1: no 503 (each master's replica acknowledged)" 0 "$(jq '.status_counts["503"] // 0' "$LIB_WORKDIR/wait.json")"

echo "== master failover under load"
victim=""
for index in "${!redis_ports[@]}"; do
    if [ "$(redis-cli -p "${redis_ports[$index]}" role | sed -n 1p)" = master ]; then victim=$index; break; fi
done
victim_port=${redis_ports[$victim]}
# Probe users whose slot the victim serves: it answers OK only for keys it owns.
probe_users=()
for n in $(seq 1 500); do
    if [ "$(redis-cli -p "$victim_port" set "{failover-probe-$n}owner" 1)" = OK ]; then
        redis-cli -p "$victim_port" del "{failover-probe-$n}owner" >/dev/null
        probe_users+=("failover-probe-$n")
    fi
    [ "${#probe_users[@]}" -ge 3 ] && break
done
probe_list=$(IFS=,; echo "${probe_users[*]}")
python3 e2e/fixtures/probe-pay.py run "http://127.0.0.1:$LB_PORT" "$probe_list" 16 "$LIB_WORKDIR/failover-probe.csv" &
probe=$!
status_file="$LIB_WORKDIR/failover.status"
# No retry budget here: it would rightly stop retries while a third of the slots answer
# 503, but this run asks whether every payment gets through once the replica takes over.
( simulate failover "$LB_PORT" -- --clients 20 --payments 800 --users 100 --duplicates 2 --base-delay-ms 20 --max-delay-ms 1000 \
    --max-attempts 30 --no-retry-budget >"$status_file" ) &
simulator=$!
sleep 3
kill_ms=$(date +%s%3N)
kill -KILL "${redis_pids[$victim]}"
wait "${redis_pids[$victim]}" 2>/dev/null || true
masters_left() {
    for port in "${redis_ports[@]}"; do
        [ "$port" = "$victim_port" ] && continue
        redis-cli -p "$port" role 2>/dev/null | sed -n 1p
    done | grep -c master
}
for _ in $(seq 1 300); do [ "$(masters_left)" = 3 ] && break; sleep 0.05; done
promoted_ms=$(( $(date +%s%3N) - kill_ms ))
wait "$simulator"
wait "$probe"
probe_summary=$(python3 e2e/fixtures/probe-pay.py summary "$LIB_WORKDIR/failover-probe.csv" "$kill_ms")
sed -n '/^logical/,/^unconfirmed/p' "$LIB_WORKDIR/failover.txt" | sed 's/^/      /'
echo "      master on port $victim_port killed; a replica was promoted after ${promoted_ms} ms"
echo "      simulator answers by status: $(jq -c .status_counts "$LIB_WORKDIR/failover.json")"
echo "      probe through nginx (new payments on the killed master's slots): $probe_summary"
check "a replica took over the killed master's slots" 3 "$(masters_left)"
check "the 3 payment-api processes were not restarted" 3 \
    "$(for pid in "${API_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && echo up; done | grep -c up)"
check "simulator exits 0 across the failover" 0 "$(cat "$status_file")"
check "exactly once across the failover" "true lost 0 doubled 0 unconfirmed 0" "$(verification failover)"
check "the probe saw the outage end (a 200 after the last failure)" true \
    "$(echo "$probe_summary" | jq '.recovered_after_event_ms != null')"
check "new payments on those slots recovered within 10 s of the kill" true \
    "$(echo "$probe_summary" | jq '.recovered_after_event_ms != null and .recovered_after_event_ms < 10000')"

# The promoted replica is a master without a replica now (the killed master stays down):
# its shard cannot acknowledge, the others can. Its payments are refused before the
# processor is asked (nothing charged that could not be acknowledged); the pod stays
# ready, reporting the shard as degraded, since the other shards serve.
echo "== REDIS_WAIT_REPLICAS=1 after the failover: the shard without a replica says so"
wait_ready "$wait_port"
# A user whose slot is on a master that still has a connected replica: that master
# answers OK to a key of that user (any other answers MOVED).
other_user=""
for port in "${redis_ports[@]}"; do
    [ "$port" = "$victim_port" ] && continue
    [ "$(redis-cli -p "$port" role 2>/dev/null | sed -n 1p)" = master ] || continue
    [ "$(redis-cli -p "$port" info replication | tr -d '\r' | sed -n 's/^connected_slaves://p')" -gt 0 ] || continue
    for n in $(seq 1 500); do
        if [ "$(redis-cli -p "$port" set "{wait-other-$n}probe" 1)" = OK ]; then
            redis-cli -p "$port" del "{wait-other-$n}probe" >/dev/null
            other_user="wait-other-$n"
            break 2
        fi
    done
done
answer=$(pay "$wait_port" "{\"user_id\":\"${probe_users[0]}\",\"amount\":1,\"idempotency_key\":\"wait-after-failover\"}")
check "a payment on the shard without a replica: 503, refused before the charge" \
    "503 /problems/unavailable true" \
    "${answer%% *} $(jq -r '.type + " " + (.detail | test("replicas.*refused before anything was read or charged") | tostring)' "$LIB_WORKDIR/response")"
check "readiness stays 200 and names the shard short of replicas" "200 true" \
    "$(curl -s -o "$LIB_WORKDIR/readyz" -w '%{http_code}' "http://127.0.0.1:$wait_port/readyz") $(jq -r '.reason // "" | test("replicas")' "$LIB_WORKDIR/readyz")"
answer=$(pay "$wait_port" "{\"user_id\":\"$other_user\",\"amount\":1,\"idempotency_key\":\"wait-after-failover\"}")
check "a payment on a shard with its replica: 200" "200" "${answer%% *}"
kill -TERM "$wait_pid"; wait "$wait_pid" || true

echo "== global bucket shared by the 3 replicas"
for pid in "${API_PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${API_PIDS[@]}"; do wait "$pid" || true; done
capacity=100; rate=200
start_replicas PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 GLOBAL_RATE_LIMIT_CAPACITY=$capacity \
    GLOBAL_RATE_LIMIT_REFILL_PER_SECOND=$rate
start_nginx
simulate bucket "$LB_PORT" -- --clients 64 --payments 100000 --users 1000 --max-attempts 1 --duration-seconds 5 \
    --max-unconfirmed 100000 --no-verify >/dev/null
accepted=$(jq '.status_counts["200"] // 0' "$LIB_WORKDIR/bucket.json")
limited=$(jq '.status_counts["429"] // 0' "$LIB_WORKDIR/bucket.json")
window=$(jq '.duration_ms / 1000' "$LIB_WORKDIR/bucket.json")
allowed=$(echo "$capacity + $rate * $window" | bc -l)
echo "      accepted $accepted, refused $limited in ${window}s; capacity + rate × window = $allowed"
# The property is the upper bound: the replicas together never let more through than
# one bucket would. Below it, time the simulator counts before its first request reaches
# the bucket is lost to refill (20 tokens per 100 ms): the lower bound only shows that
# the bucket does not starve clients, with room for a slow start.
check "accepted requests at most 5% above capacity + rate × window" 1 "$(echo "$accepted <= 1.05 * $allowed" | bc -l)"
check "and at least 80% of it (the shared bucket does not starve clients)" 1 "$(echo "$accepted >= 0.8 * $allowed" | bc -l)"
check "the rest was refused with 429" true "$([ "$limited" -gt 0 ] && echo true || echo false)"

report_checks
