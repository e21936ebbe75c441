#!/usr/bin/env bash
# Replica-confirmed acknowledgements across a failover (REDIS_WAIT_REPLICAS), end to end.
# A master redis-server and a replica that replicates through scripts/link-proxy.py, a
# link the script can pause (nothing reaches the replica, no connection closes) and cut
# (what it held is lost). payment-api runs as a pod runs (scripts/lib.sh) against the
# master, with no simulated processor failures and no rate limit.
#  Part 1, REDIS_WAIT_REPLICAS=1, REDIS_WAIT_TIMEOUT_MS=500:
#   A. link healthy: every payment is answered 200 (the replica acknowledged it);
#   B. link paused: no new payment gets 200, nor a retry of one (a replay); each gets 503 /problems/outcome-unknown with
#      Retry-After within the WAIT timeout + 1 s; the master holds them, the replica not;
#   then the link is cut, the master SIGKILLed, the replica promoted (REPLICAOF NO ONE,
#   with a new replica of its own) and payment-api restarted on it: every payment
#   answered 200 before the failover is in the ledger (by payment_id), and each of B
#   retried with its key and body until 200 is charged exactly once.
#  Part 2, the same with REDIS_WAIT_REPLICAS=0: the payments of B get 200 and are gone
#   after the failover. The same ledger check finds each of them missing: it can fail.
#  Then the cost of WAIT: latency of the payments of A with and without it (informational).
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
use_debug_binaries
started_at=$(date +%s)

payments=${FAILOVER_PAYMENTS:-200}  # phase A, one at a time (their latency is measured)
paused=${FAILOVER_PAUSED:-5}        # phase B
wait_timeout_ms=500

link() { python3 scripts/link-proxy.py ctl "$@"; }

# replica_caught_up MASTER_PORT TIMEOUT_MS: a write on the master acknowledged by a replica
# within TIMEOUT_MS ("1"). WAIT counts replicas that processed this connection's last
# write, and the replication stream is ordered: "1" means every earlier write is there too.
replica_caught_up() {
    printf 'SET failover-e2e:probe %s\nWAIT 1 %s\n' "$RANDOM" "$2" | redis-cli -p "$1" | tail -n 1
}

# wait_replica MASTER_PORT: until a replica acknowledges writes (the first full sync is
# done and the master streams to it), at most 15 s.
wait_replica() {
    for _ in $(seq 1 30); do
        [ "$(replica_caught_up "$1" 500)" = 1 ] && return 0
    done
    echo "no replica of port $1 acknowledged a write within 15 s" >&2
    return 1
}

# post NAME PORT USER KEY: one POST /pay of 1.23 USD; writes $dir/NAME.body and NAME.head,
# prints "STATUS TIME_TOTAL_SECONDS" (curl prints "000 …" itself when it gets no answer).
post() {
    curl -s -m 10 -o "$dir/$1.body" -D "$dir/$1.head" -w '%{http_code} %{time_total}' \
        -H 'Content-Type: application/json' \
        -d "{\"user_id\":\"$3\",\"amount\":1.23,\"idempotency_key\":\"$4\"}" "http://127.0.0.1:$2/pay" || true
}

# ledger PORT USER: every charge of USER, one JSON array.
ledger() {
    curl -s -m 10 "http://127.0.0.1:$1/ledger/$2?limit=1000" | jq -c '.charges // []'
}

# missing PORT USER IDS_FILE: how many payment ids of IDS_FILE are not among USER's charges.
missing() {
    jq -R . "$3" | jq -s --argjson charges "$(ledger "$1" "$2")" '[.[] | select(. as $id | $charges | map(.payment_id) | index($id) | not)] | length'
}

# percentile FILE P: the P-th percentile (nearest rank) of FILE's numbers, in ms.
percentile() {
    sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; printf "%.1f", v[i] * 1000 }'
}

# scenario WAIT_REPLICAS: one part (above), with its own Redis pair, link and payment-api.
scenario() {
    local replicas=$1
    local part="w$replicas"
    dir="$LIB_WORKDIR/$part"
    mkdir -p "$dir"
    local master_port replica_port link_port control_port api
    master_port=$(free_port); replica_port=$(free_port); link_port=$(free_port); control_port=$(free_port)

    # No delay before a diskless full sync (5 s by default): a replica is usable at once
    # (the replica too: once promoted, it feeds a replica of its own).
    local quick=(--repl-diskless-sync-delay 0)
    start_redis "$master_port" "${quick[@]}"
    local master_pid=$REDIS_PID
    python3 scripts/link-proxy.py serve "$link_port" "$master_port" "$control_port" &
    LIB_PIDS+=($!)
    for _ in $(seq 1 100); do link "$control_port" status >/dev/null 2>&1 && break; sleep 0.05; done
    start_redis "$replica_port" "${quick[@]}" --replicaof 127.0.0.1 "$link_port"
    local replica_pid=$REDIS_PID
    wait_replica "$master_port"

    local settings=(REDIS_WAIT_REPLICAS="$replicas" REDIS_WAIT_TIMEOUT_MS="$wait_timeout_ms" PAYMENT_FAILURE_RATE=0
        RATE_LIMIT_CAPACITY=0 LOG_LEVEL=error)
    api=$(free_port)
    start_api "$api" REDIS_URL="redis://127.0.0.1:$master_port" "${settings[@]}"
    wait_ready "$api"

    echo "   A. link healthy: $payments payments"
    local i answer ok=0
    : >"$dir/a.times"; : >"$dir/a.ids"
    for i in $(seq 1 "$payments"); do
        answer=$(post "a-$i" "$api" "$part-a" "a-$i")
        echo "${answer#* }" >>"$dir/a.times"
        if [ "${answer%% *}" = 200 ]; then
            ok=$((ok + 1))
            jq -r .payment_id "$dir/a-$i.body" >>"$dir/a.ids"
        fi
    done
    check "WAIT $replicas, link healthy: every payment answered 200" "$payments" "$ok"
    if [ "$replicas" = 0 ]; then
        # Without WAIT the server does not make sure of it: the script does, so that what
        # part 2 loses is exactly what phase B wrote.
        check "WAIT 0: the replica caught up before the pause" 1 "$(replica_caught_up "$master_port" 5000)"
    fi

    link "$control_port" pause >/dev/null
    echo "   B. link paused: $paused payments with new keys"
    local code seconds problem retry_after within answers=() ok_b=0 shapes=0 late=0
    : >"$dir/b.ids"
    for i in $(seq 1 "$paused"); do
        answer=$(post "b-$i" "$api" "$part-b" "b-$i")
        code=${answer%% *}; seconds=${answer#* }
        problem=$(jq -r '.type // empty' "$dir/b-$i.body" 2>/dev/null || true)
        retry_after=$(grep -i '^retry-after:' "$dir/b-$i.head" | tr -d '\r' | cut -d' ' -f2 || true)
        within=$(awk -v s="$seconds" -v limit="$wait_timeout_ms" 'BEGIN { print (s * 1000 <= limit + 1000) ? "yes" : "no" }')
        answers+=("$code ${problem:-—} Retry-After:${retry_after:-none} ${seconds}s")
        [ "$code" = 200 ] && { ok_b=$((ok_b + 1)); jq -r .payment_id "$dir/b-$i.body" >>"$dir/b.ids"; }
        [ "$code" = 503 ] && [ "$problem" = /problems/outcome-unknown ] && [ -n "$retry_after" ] && shapes=$((shapes + 1))
        [ "$within" = yes ] || late=$((late + 1))
    done
    printf '      %s\n' "${answers[@]}"
    # A retry of a paused payment finds it done on the master: a replay. It must not be a
    # 200 either while the replica lacks it (the replay waits for the replica too).
    local replay replay_problem
    replay=$(post "b-1-again" "$api" "$part-b" "b-1")
    replay_problem=$(jq -r '.type // empty' "$dir/b-1-again.body" 2>/dev/null || true)
    echo "      retry of b-1 while paused: ${replay%% *} ${replay_problem:-—}"
    if [ "$replicas" = 1 ]; then
        check "WAIT 1, link paused: a retry (a replay on the master) is not a 200 either" \
            "503 /problems/outcome-unknown" "${replay%% *} $replay_problem"
    fi
    local held_master held_replica
    held_master=$(redis-cli -p "$master_port" hget "pay:{$part-b}:ledger" count)
    held_replica=$(redis-cli -p "$replica_port" hget "pay:{$part-b}:ledger" count)
    echo "      master: $(redis-cli -p "$master_port" dbsize) keys, $held_master charges of B; replica: $(redis-cli -p "$replica_port" dbsize) keys, ${held_replica:-0} charges of B"
    if [ "$replicas" = 1 ]; then
        check "WAIT 1, link paused: no payment answered 200" 0 "$ok_b"
        check "WAIT 1, link paused: each answer 503 /problems/outcome-unknown with Retry-After" "$paused" "$shapes"
        check "WAIT 1, link paused: each answer within REDIS_WAIT_TIMEOUT_MS + 1 s" 0 "$late"
    else
        check "WAIT 0, link paused: every payment answered 200 all the same" "$paused" "$ok_b"
    fi
    check "the master committed every payment of B, the replica none (the link held them)" "$paused 0" "$held_master ${held_replica:-0}"

    echo "   failover: link cut, master SIGKILLed, replica promoted, payment-api restarted on it"
    link "$control_port" cut >/dev/null
    kill -KILL "$master_pid"; wait "$master_pid" 2>/dev/null || true
    redis-cli -p "$replica_port" replicaof no one >/dev/null
    check "the replica is the master now" master "$(redis-cli -p "$replica_port" info replication | tr -d '\r' | awk -F: '/^role:/ {print $2}')"
    # The promoted node gets a replica of its own, so payment-api keeps its settings.
    local spare_port
    spare_port=$(free_port)
    start_redis "$spare_port" --replicaof 127.0.0.1 "$replica_port"
    wait_replica "$replica_port"
    kill -TERM "$API_PID"; wait "$API_PID" 2>/dev/null || true
    api=$(free_port)
    start_api "$api" REDIS_URL="redis://127.0.0.1:$replica_port" "${settings[@]}"
    wait_ready "$api"

    # The check both parts share: every payment answered 200 before the failover, in phase
    # A or B, must be in the promoted node's ledger (by payment_id).
    local confirmed missing_a missing_b
    confirmed=$((ok + ok_b))
    missing_a=$(missing "$api" "$part-a" "$dir/a.ids")
    missing_b=$(missing "$api" "$part-b" "$dir/b.ids")
    echo "      of $confirmed payments answered 200 before the failover ($ok in A, $ok_b in B), missing from the ledger: $missing_a of A, $missing_b of B"
    if [ "$replicas" = 1 ]; then
        check "WAIT 1: every payment answered 200 before the failover is in the ledger" 0 "$((missing_a + missing_b))"
        local retried=0 body
        for i in $(seq 1 "$paused"); do
            body="{\"user_id\":\"$part-b\",\"amount\":1.23,\"idempotency_key\":\"b-$i\"}"
            [ "$(pay_until_ok "$api" "$body" | cut -d' ' -f1)" = 200 ] && retried=$((retried + 1))
        done
        check "WAIT 1: each refused payment, retried with its key and body, answered 200" "$paused" "$retried"
        check "WAIT 1: each refused payment charged exactly once (one charge per key)" \
            "$(seq -f 'b-%g 1' 1 "$paused" | paste -sd, -)" \
            "$(ledger "$api" "$part-b" | jq -r 'group_by(.idempotency_key) | sort_by(.[0].idempotency_key | ltrimstr("b-") | tonumber) | map("\(.[0].idempotency_key) \(length)") | join(",")')"
    else
        # The same check, expected to fail: each 200 of the pause lived on the dead master only.
        check "WAIT off → a confirmed payment lost (each 200 of the pause missing, none of A)" "$ok_b 0" "$missing_b $missing_a"
    fi
    echo "      phase A latency: median $(percentile "$dir/a.times" 50) ms, p99 $(percentile "$dir/a.times" 99) ms"
    kill -TERM "$API_PID"; wait "$API_PID" 2>/dev/null || true
    local pid
    for pid in "$replica_pid" "$REDIS_PID"; do kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; done
}

echo "== 1. REDIS_WAIT_REPLICAS=1: an acknowledged payment survives the failover"
scenario 1
echo "== 2. REDIS_WAIT_REPLICAS=0: the same failover loses acknowledged payments"
scenario 0
echo "== the cost of WAIT 1 (phase A, $payments payments one at a time, loopback)"
echo "      WAIT 1: median $(percentile "$LIB_WORKDIR/w1/a.times" 50) ms, p99 $(percentile "$LIB_WORKDIR/w1/a.times" 99) ms"
echo "      WAIT 0: median $(percentile "$LIB_WORKDIR/w0/a.times" 50) ms, p99 $(percentile "$LIB_WORKDIR/w0/a.times" 99) ms"
echo "failover-e2e: $(( $(date +%s) - started_at )) s"
report_checks
