#!/usr/bin/env bash
# Replica-confirmed acknowledgements across a failover (REDIS_WAIT_REPLICAS), end to end.
# A master redis-server and a replica that replicates through e2e/fixtures/link-proxy.py, a
# link the script can pause (nothing reaches the replica, no connection closes) and cut
# (what it held is lost). payment-api runs as a pod runs (e2e/lib.sh) against the
# master, with no simulated processor failures and no rate limit.
#  Part 1, REDIS_WAIT_REPLICAS=1, REDIS_WAIT_TIMEOUT_MS=500:
#   A. link healthy: every payment is answered 200 (the replica acknowledged it), /readyz
#      is 200 and payment_replicas_in_sync 1;
#   B. link paused: new payments one at a time until 3 are refused (at most 30 or 20 s).
#      Right after the pause the replica still looks in sync to the readiness monitor (its
#      lag on the master grows a second at a time, the gate allows 2 s, checked every
#      second), so the first ones pass the gate, are recorded on the master and get 503
#      /problems/outcome-unknown when WAIT times out; once the lag is past 2 s, new ones get
#      503 /problems/unavailable ("replicas", "refused before anything was read or charged") before anything is
#      taken. How many of each is timing; what is checked is not: every answer one of those
#      two 503s, never a 200, unknowns then refusals and never back; a retry of one
#      is not a 200 either (the gate refuses it before any replay); /readyz 503 naming the
#      replicas and payment_replicas_in_sync 0; the master holds exactly the unknown
#      ones' charges and no record of the refused ones, the replica none of B;
#   then the link is cut, the master SIGKILLed, the replica promoted (REPLICAOF NO ONE,
#   with a new replica of its own, so the gate lets payments through) and payment-api
#   restarted on it: every payment answered 200 before the failover is in the ledger (by
#   payment_id), and each of B, unknown or refused, retried with its key and body until
#   200 is charged exactly once.
#  Part 2, the same with REDIS_WAIT_REPLICAS=0 (no WAIT, no gate): the paused payments,
#   sent at part 1's pace until the replica is 4 s behind (part 1 refuses by then), all
#   get 200 while /readyz stays 200, and are gone after the failover. The same ledger
#   check finds each of them missing: it can fail.
#  Then the cost of WAIT: latency of the payments of A with and without it (informational).
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init
use_debug_binaries

payments=${FAILOVER_PAYMENTS:-200}  # phase A, one at a time (their latency is measured)
paused_max=30                       # phase B: at most this many payments,
paused_seconds=20                   # and none sent after this long
refusals=3                          # phase B ends after this many refused payments (part 1)
behind=4                            # part 2's phase B ends once the replica's lag is this (s)
wait_timeout_ms=500

link() { python3 e2e/fixtures/link-proxy.py ctl "$@"; }

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

# problem_of NAME: the type and detail of response NAME's problem, "TYPE|DETAIL" (empty
# when not a problem).
problem_of() {
    jq -r 'if .type then "\(.type)|\(.detail // "")" else empty end' "$dir/$1.body" 2>/dev/null || true
}

# replica_lag MASTER_PORT: the seconds since the master's first replica last acknowledged
# (`lag=` of INFO replication, what payment-api's gate reads), "none" without a replica.
replica_lag() {
    redis-cli -p "$1" info replication | tr -d '\r' | awk -F'lag=' '/^slave0:/ { split($2, f, ","); print f[1]; found = 1 } END { if (!found) print "none" }'
}

# readyz PORT: "STATUS REASON" of GET /readyz.
readyz() {
    local body code
    code=$(curl -s -m 5 -o "$dir/readyz.body" -w '%{http_code}' "http://127.0.0.1:$1/readyz" || true)
    body=$(jq -r '.reason // ""' "$dir/readyz.body" 2>/dev/null || true)
    echo "$code $body"
}

# in_sync_gauge PORT: the value of payment_replicas_in_sync on /metrics (0 or 1), "absent"
# when it is not there.
in_sync_gauge() {
    curl -s -m 5 "http://127.0.0.1:$1/metrics" | awk '$1 == "payment_replicas_in_sync" { print $2 + 0; found = 1 } END { if (!found) print "absent" }'
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
    python3 e2e/fixtures/link-proxy.py serve "$link_port" "$master_port" "$control_port" &
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
    else
        check "WAIT 1, link healthy: /readyz 200, payment_replicas_in_sync 1" "200 1" "$(readyz "$api" | cut -d' ' -f1) $(in_sync_gauge "$api")"
    fi

    link "$control_port" pause >/dev/null
    local paused_at
    paused_at=$(now)
    # Part 1 sends until the gate refuses $refusals payments; part 2 (no gate) at part 1's
    # pace (one payment per WAIT timeout) until the replica is $behind s behind, when part
    # 1's gate (lag <= 2 s, checked every second) has certainly closed. Both bounded.
    if [ "$replicas" = 1 ]; then
        echo "   B. link paused: new payments one at a time until $refusals are refused (at most $paused_max, ${paused_seconds} s)"
    else
        echo "   B. link paused: new payments one at a time, every ${wait_timeout_ms} ms, until the replica is $behind s behind (at most $paused_max, ${paused_seconds} s)"
    fi
    local code seconds problem type detail retry_after lag kind sequence="" answers=() ok_b=0 refused=0 late=0 sent=0
    local first_refusal=""
    : >"$dir/b.ids"; : >"$dir/b.keys"; : >"$dir/b.unknown"; : >"$dir/b.refused"
    for i in $(seq 1 "$paused_max"); do
        awk -v s="$(seconds_since "$paused_at")" -v limit="$paused_seconds" 'BEGIN { exit !(s >= limit) }' && break
        lag=$(replica_lag "$master_port")
        answer=$(post "b-$i" "$api" "$part-b" "b-$i")
        sent=$i
        echo "b-$i" >>"$dir/b.keys"
        code=${answer%% *}; seconds=${answer#* }
        problem=$(problem_of "b-$i"); type=${problem%%|*}; detail=${problem#*|}
        retry_after=$(grep -i '^retry-after:' "$dir/b-$i.head" | tr -d '\r' | cut -d' ' -f2 || true)
        # U: recorded on the master, not acknowledged; R: refused before anything was taken.
        if [ "$code" = 200 ]; then
            kind=ok; ok_b=$((ok_b + 1)); jq -r .payment_id "$dir/b-$i.body" >>"$dir/b.ids"
        elif [ "$code" = 503 ] && [ "$type" = /problems/outcome-unknown ] && [ -n "$retry_after" ]; then
            kind=U; echo "b-$i" >>"$dir/b.unknown"
            awk -v s="$seconds" -v limit="$wait_timeout_ms" 'BEGIN { exit !(s * 1000 > limit + 1000) }' && late=$((late + 1))
        elif [ "$code" = 503 ] && [ "$type" = /problems/unavailable ] && [[ $detail == *replicas* ]] && [[ $detail == *"refused before anything was read or charged"* ]]; then
            kind=R; echo "b-$i" >>"$dir/b.refused"; refused=$((refused + 1))
            [ -n "$first_refusal" ] || first_refusal="b-$i, $(seconds_since "$paused_at") s after the pause, replica lag $lag s before it was sent"
        else
            kind="?"
        fi
        sequence="$sequence$kind"
        answers+=("b-$i $kind $code ${type:-—} Retry-After:${retry_after:-none} ${seconds}s (lag $lag s before)")
        if [ "$replicas" = 1 ]; then
            [ "$refused" -ge "$refusals" ] && break
        else
            [ "$lag" != none ] && [ "$lag" -ge "$behind" ] && break
            sleep "$(awk -v ms="$wait_timeout_ms" 'BEGIN { print ms / 1000 }')"
        fi
    done
    printf '      %s\n' "${answers[@]}"
    local unknown_count
    unknown_count=$(wc -l <"$dir/b.unknown")
    echo "      $sent payments in $(seconds_since "$paused_at") s: $ok_b answered 200, $unknown_count outcome-unknown, $refused refused${first_refusal:+; first refusal: $first_refusal}"

    local replay replay_problem held_master held_replica master_keys
    if [ "$replicas" = 1 ]; then
        check "WAIT 1, link paused: $refusals payments refused within $paused_max payments and ${paused_seconds} s" "$refusals" "$refused"
        check "WAIT 1, link paused: no payment answered 200" 0 "$ok_b"
        # The shape, whatever the timing: outcome-unknown (U) until the gate closes, then
        # refused (R) and refused again: never a 200, never anything else, never back.
        local shape=no
        [[ $sequence =~ ^U*R{$refusals}$ ]] && shape=yes
        check "WAIT 1, link paused: each answer 503, outcome-unknown with Retry-After until the first refusal, refused (replicas, nothing charged) from then on ($sequence)" yes "$shape"
        check "WAIT 1, link paused: each outcome-unknown within REDIS_WAIT_TIMEOUT_MS + 1 s" 0 "$late"
        # A retry of a payment of B: the gate refuses it before the record is looked at (it
        # would otherwise be a replay on the master, which waits for the replica too).
        replay=$(post "b-1-again" "$api" "$part-b" "b-1")
        replay_problem=$(problem_of "b-1-again")
        echo "      retry of b-1 while paused: ${replay%% *} ${replay_problem%%|*}"
        check "WAIT 1, link paused: a retry of b-1 is not a 200 either (refused by the gate)" \
            "503 /problems/unavailable" "${replay%% *} ${replay_problem%%|*}"
        # Readiness says so too: the same check (once a second) that closed the gate.
        local ready=""
        for _ in $(seq 1 50); do
            ready=$(readyz "$api")
            [ "${ready%% *}" = 503 ] && [[ ${ready#* } == *replicas* ]] && break
            sleep 0.1
        done
        echo "      /readyz: $ready"
        local ready_replicas=no
        [[ ${ready#* } == *replicas* ]] && ready_replicas=yes
        check "WAIT 1, link paused: /readyz 503 with the replicas as its reason" "503 yes" "${ready%% *} $ready_replicas"
        check "WAIT 1, link paused: payment_replicas_in_sync 0" 0 "$(in_sync_gauge "$api")"
    else
        check "WAIT 0, link paused: the replica fell $behind s behind within $paused_max payments and ${paused_seconds} s" yes \
            "$([ "$lag" != none ] && [ "$lag" -ge "$behind" ] && echo yes || echo "no (lag $lag)")"
        check "WAIT 0, link paused: every payment answered 200 all the same (no gate)" "$sent" "$ok_b"
        check "WAIT 0, link paused: /readyz 200, payment_replicas_in_sync 1 (no gate)" "200 1" \
            "$(readyz "$api" | cut -d' ' -f1) $(in_sync_gauge "$api")"
    fi
    held_master=$(redis-cli -p "$master_port" hget "pay:{$part-b}:ledger" count)
    held_replica=$(redis-cli -p "$replica_port" hget "pay:{$part-b}:ledger" count)
    # The idempotency keys of the master's charges of B (the 4th field of each entry).
    master_keys=$(redis-cli -p "$master_port" lrange "pay:{$part-b}:charges" 0 -1 | awk '{ print $4 }' | sort -V | paste -sd, -)
    echo "      master: $(redis-cli -p "$master_port" dbsize) keys, ${held_master:-0} charges of B (${master_keys:-none}); replica: $(redis-cli -p "$replica_port" dbsize) keys, ${held_replica:-0} charges of B"
    if [ "$replicas" = 1 ]; then
        check "WAIT 1, link paused: the master holds exactly the $unknown_count outcome-unknown payments' charges, the replica none" \
            "$unknown_count $(paste -sd, - <"$dir/b.unknown") 0" "${held_master:-0} $master_keys ${held_replica:-0}"
        local recorded=0 key
        while read -r key; do
            [ "$(redis-cli -p "$master_port" exists "pay:{$part-b}:idem:$key")" = 0 ] || recorded=$((recorded + 1))
        done <"$dir/b.refused"
        check "WAIT 1, link paused: no record of the $refused refused payments on the master" 0 "$recorded"
    else
        check "the master committed every payment of B, the replica none (the link held them)" "$sent 0" "${held_master:-0} ${held_replica:-0}"
    fi

    echo "   failover: link cut, master SIGKILLed, replica promoted, payment-api restarted on it"
    link "$control_port" cut >/dev/null
    kill -KILL "$master_pid"; wait "$master_pid" 2>/dev/null || true
    redis-cli -p "$replica_port" replicaof no one >/dev/null
    check "the replica is the master now" master "$(redis-cli -p "$replica_port" info replication | tr -d '\r' | awk -F: '/^role:/ {print $2}')"
    # The promoted node gets a replica of its own before payment-api restarts on it, with
    # the same settings. Without one, REDIS_WAIT_REPLICAS=1 refuses every payment (the gate
    # above), so the retries below could not run; restarting with 0 instead would retry
    # them with no gate and no WAIT, not the configuration under test. A new replica is
    # also what an operator restores after a failover (Sentinel reattaches one).
    local spare_port
    spare_port=$(free_port)
    start_redis "$spare_port" --replicaof 127.0.0.1 "$replica_port"
    wait_replica "$replica_port"
    kill -TERM "$API_PID"; wait "$API_PID" 2>/dev/null || true
    api=$(free_port)
    start_api "$api" REDIS_URL="redis://127.0.0.1:$replica_port" "${settings[@]}"
    # Ready only once its first check saw the new replica in sync (until then payments are
    # refused, fail closed).
    wait_ready "$api"
    if [ "$replicas" = 1 ]; then
        check "WAIT 1, after the failover: /readyz 200, payment_replicas_in_sync 1 (the new replica)" "200 1" \
            "$(readyz "$api" | cut -d' ' -f1) $(in_sync_gauge "$api")"
    fi

    # The check both parts share: every payment answered 200 before the failover, in phase
    # A or B, must be in the promoted node's ledger (by payment_id).
    local confirmed missing_a missing_b
    confirmed=$((ok + ok_b))
    missing_a=$(missing "$api" "$part-a" "$dir/a.ids")
    missing_b=$(missing "$api" "$part-b" "$dir/b.ids")
    echo "      of $confirmed payments answered 200 before the failover ($ok in A, $ok_b in B), missing from the ledger: $missing_a of A, $missing_b of B"
    if [ "$replicas" = 1 ]; then
        check "WAIT 1: every payment answered 200 before the failover is in the ledger" 0 "$((missing_a + missing_b))"
        check "WAIT 1: the promoted node holds none of B (the cut lost the unknown ones' charges)" 0 \
            "$(ledger "$api" "$part-b" | jq length)"
        # Every payment of B, outcome-unknown or refused, retried with its key and body.
        local retried=0 body
        while read -r key; do
            body="{\"user_id\":\"$part-b\",\"amount\":1.23,\"idempotency_key\":\"$key\"}"
            [ "$(pay_until_ok "$api" "$body" | cut -d' ' -f1)" = 200 ] && retried=$((retried + 1))
        done <"$dir/b.keys"
        check "WAIT 1: each payment of B ($unknown_count outcome-unknown, $refused refused), retried with its key and body, answered 200" \
            "$sent" "$retried"
        check "WAIT 1: each payment of B charged exactly once (one charge per key)" \
            "$(sed 's/$/ 1/' "$dir/b.keys" | paste -sd, -)" \
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
report_checks
