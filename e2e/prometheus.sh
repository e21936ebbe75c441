#!/usr/bin/env bash
# The dashboard and the metric contract on a real Prometheus after real traffic:
#  1. redis + two payment-api processes (20% processor failures, a small per-user
#     bucket, 30 ms processor latency), scraped every second by a Prometheus that labels
#     them as the chart's ServiceMonitor would (e2e/lib-prometheus.sh);
#  2. payment-simulator against both, duplicate factor 4: 200s, replays, 409s, 429s and
#     500s; then Redis stopped for a moment: 503s and Redis errors; Redis back;
#  3. e2e/fixtures/prometheus-check.py: every metric the docs promise, from both targets,
#     with its labels; what the traffic did (409, 429, 500, 503, Redis errors) is there;
#     every dashboard query returns data, none all zero;
#  4. the chart's alerts loaded (rendered with helm, checks/kube-tools.sh): every rule
#     evaluates; PaymentApiUnavailableAnswers pending after the 503s; both replicas
#     killed: PaymentApiAbsent and PaymentApiTargetDown pending, with their exact labels
#     (namespace and service included).
# PROM_EXEC (e2e/lib-prometheus.sh) runs Prometheus and the checker elsewhere, e.g.
# in the network namespace of the targets. Prints "N passed, N failed"; exits non-zero
# on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=e2e/lib.sh
source e2e/lib.sh
lib_init
# shellcheck source=e2e/lib-prometheus.sh
source e2e/lib-prometheus.sh
# shellcheck source=checks/kube-tools.sh
source checks/kube-tools.sh

scripts/install-deps.sh prometheus:prometheus
use_debug_binaries
ensure_kube_tools || { echo "e2e/prometheus: helm is needed to render the chart's alerts and could not be installed" >&2; exit 1; }

# eventually DESCRIPTION EXPECTED SECONDS COMMAND...: retries COMMAND until it prints
# EXPECTED, at most SECONDS; then one check with what it printed last.
eventually() {
    local description=$1 expected=$2 deadline=$((SECONDS + $3)) actual
    shift 3
    while :; do
        actual=$("$@" 2>&1) || true
        [ "$actual" = "$expected" ] || [ "$SECONDS" -ge "$deadline" ] && break
        sleep 0.5
    done
    check "$description" "$expected" "$actual"
}
# rules_health: "N HEALTH,...": how many rules Prometheus loaded, and their health values.
rules_health() {
    prom_exec curl -s "$PROM_URL/api/v1/rules" | jq -r '[.data.groups[].rules[]] | "\(length) \([.[].health] | unique | join(","))"'
}
# alert_labels NAME: the labels of alert NAME (pending or firing) in Prometheus, as JSON.
alert_labels() {
    prom_exec curl -s "$PROM_URL/api/v1/alerts" |
        jq -c --arg name "$1" '[.data.alerts[] | select(.labels.alertname == $name) | {state, labels}] | sort'
}

redis_port=$(free_port)
start_redis "$redis_port"
settings=(REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0.2 PAYMENT_LATENCY_MS=30
    RATE_LIMIT_CAPACITY=6 RATE_LIMIT_REFILL_PER_SECOND=20 LOG_LEVEL=warning)
port_a=$(free_port); start_api "$port_a" "${settings[@]}"; pid_a=$API_PID
port_b=$(free_port); start_api "$port_b" "${settings[@]}"; pid_b=$API_PID
wait_ready "$port_a"; wait_ready "$port_b"

echo "== Prometheus scraping both every $PROM_SCRAPE_INTERVAL"
mkdir -p "$LIB_WORKDIR/prometheus"
chart_rules "$LIB_WORKDIR/prometheus/payment-api.rules.yaml" || { echo "e2e/prometheus: could not render the chart's alerts" >&2; exit 1; }
PROM_RULE_FILES=$LIB_WORKDIR/prometheus/payment-api.rules.yaml
start_prometheus "$LIB_WORKDIR/prometheus" "127.0.0.1:$port_a" "127.0.0.1:$port_b"
echo "      $("$PROM_BIN" --version 2>&1 | sed -n 1p) on $PROM_URL, pid $PROM_PID"
eventually "the chart's 13 alerts loaded, every one evaluated with health ok" "13 ok" 13 rules_health

echo "== traffic: simulator over both replicas, duplicate factor 4"
started=$SECONDS
status=$(simulate traffic "$port_a" "$port_b" -- --clients 20 --payments 200 --users 20 --duplicates 4 \
    --base-delay-ms 10 --max-delay-ms 300 --max-attempts 30 --no-retry-budget --seed 12)
sed 's/^/      /' "$LIB_WORKDIR/traffic.txt"
echo "      $((SECONDS - started)) s of traffic"
check "simulator exits 0" 0 "$status"
check "verification: exactly once, nothing lost or doubled" "true lost 0 doubled 0 unconfirmed 0" "$(verification traffic)"
report=$LIB_WORKDIR/traffic.json
check "a retry followed a 500" true "$(jq '(.retry_causes["500"] // 0) > 0' "$report")"
check "a 409 (lock conflict) was answered" true "$(jq '(.status_counts["409"] // 0) > 0' "$report")"
# (429s depend on how fast the clients go: the burst below makes them for sure.)
check "a replay was answered" true "$(jq '.replays > 0' "$report")"

echo "== a burst of 40 new payments for one user (a bucket of 6, 20 tokens/s): 429s"
# 40 at once: even spread over 1.5 s by a busy machine, the bucket passes at most 36.
# shellcheck disable=SC2016  # expanded by the child shells
codes=$(seq 1 40 | xargs -P 20 -I{} sh -c 'curl -s -o /dev/null -w "%{http_code}\n" -H "Content-Type: application/json" \
    -d "{\"user_id\":\"burst\",\"amount\":1,\"idempotency_key\":\"burst-{}\"}" "http://127.0.0.1:$1/pay"' _ "$port_a" | sort | uniq -c | xargs)
echo "      answers: $codes"
# (500s too: PAYMENT_FAILURE_RATE.)
check "the burst was answered with 429s" true "$([[ " $codes " == *" 429 "* ]] && echo true || echo false)"

echo "== Redis stopped for a moment: 503s and Redis errors"
{ kill -9 "$REDIS_PID" && wait "$REDIS_PID"; } 2>/dev/null || true
codes=""
for i in 1 2 3 4 5 6; do
    codes+=$(curl -s -o /dev/null -w '%{http_code} ' -H 'Content-Type: application/json' \
        -d "{\"user_id\":\"down-$i\",\"amount\":1,\"idempotency_key\":\"down-$i\"}" "http://127.0.0.1:$port_a/pay")
done
check "every payment answered 503 while Redis was down" "503 503 503 503 503 503" "${codes% }"
start_redis "$redis_port"
wait_ready "$port_a"; wait_ready "$port_b"
check "both replicas ready again with Redis back" "200 200" \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_a/readyz") $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_b/readyz")"

echo "== e2e/fixtures/prometheus-check.py"
# One request held in flight on each replica (its body never completes) while the
# checker runs, so "In-flight requests" has data that does not depend on when scrapes
# fell during the traffic.
holders=()
for port in "$port_a" "$port_b"; do
    python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /pay HTTP/1.1\r\nHost: e2e\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"user_id\":")
time.sleep(120)' "$port" &
    holders+=($!)
    LIB_PIDS+=($!)
done
# The checker runs where Prometheus does; it retries each check until its deadline.
status=0
selector='namespace="payments", service="payments-payment-api"'
# Panels 11 and 12 (unknown outcomes, reconciler lookups) have series here but no
# traffic: the in-process simulated processor never leaves an outcome unknown. Their
# queries still run (and must find the series); e2e/processor.sh exercises the reconciler.
prom_exec python3 e2e/fixtures/prometheus-check.py "$PROM_URL" --targets 2 --nonzero --deadline "${CHECK_DEADLINE:-60}" \
    --allow-zero 11/A --allow-zero 11/B --allow-zero 12/A \
    --expect "sum(payment_requests_total{$selector, outcome=\"succeeded\"})" \
    --expect "sum(payment_requests_total{$selector, outcome=\"in_flight\"})" \
    --expect "sum(payment_requests_total{$selector, outcome=\"rate_limited\"})" \
    --expect "sum(payment_requests_total{$selector, outcome=\"processor_failed\"})" \
    --expect "sum(payment_requests_total{$selector, outcome=\"unavailable\"})" \
    --expect "sum(http_server_request_duration_seconds_count{$selector, route=\"/pay\", status=\"503\"})" \
    --expect "sum(redis_errors_total{$selector, kind=\"connection\"})" \
    --expect "min(http_inflight_requests{$selector})" \
    >"$LIB_WORKDIR/check.txt" 2>&1 || status=$?
sed 's/^/      /' "$LIB_WORKDIR/check.txt"
check "prometheus-check.py: $(tail -n 1 "$LIB_WORKDIR/check.txt")" 0 "$status"
{ kill "${holders[@]}" && wait "${holders[@]}"; } 2>/dev/null || true

echo "== the chart's alerts on this Prometheus"
eventually "PaymentApiUnavailableAnswers pending after the 503s, with namespace, service, severity" \
    '[{"state":"pending","labels":{"alertname":"PaymentApiUnavailableAnswers","namespace":"payments","service":"payments-payment-api","severity":"warning"}}]' \
    20 alert_labels PaymentApiUnavailableAnswers
check "PaymentApiAbsent silent while both targets are up" "[]" "$(alert_labels PaymentApiAbsent)"
check "PaymentApiTargetDown silent while both targets are up" "[]" "$(alert_labels PaymentApiTargetDown)"
echo "      both replicas killed"
kill -9 "$pid_a" "$pid_b"
eventually "PaymentApiAbsent pending, with namespace, service, severity" \
    '[{"state":"pending","labels":{"alertname":"PaymentApiAbsent","namespace":"payments","service":"payments-payment-api","severity":"critical"}}]' \
    20 alert_labels PaymentApiAbsent
eventually "PaymentApiTargetDown pending, with namespace, service, severity" \
    '[{"state":"pending","labels":{"alertname":"PaymentApiTargetDown","namespace":"payments","service":"payments-payment-api","severity":"critical"}}]' \
    20 alert_labels PaymentApiTargetDown

stop_prometheus
report_checks
