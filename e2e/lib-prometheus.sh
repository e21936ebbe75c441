#!/usr/bin/env bash
# A throwaway Prometheus that scrapes payment-api processes the way the chart's
# ServiceMonitor makes the Prometheus Operator scrape pods: the Service port named
# "metrics", path /metrics, over http, and the labels the Operator's relabelling gives
# every target (job = the Service's name, namespace, service, pod, container, endpoint).
# Debian's prometheus has no Kubernetes discovery, so the targets are static.
# Source it (after e2e/lib.sh, whose LIB_PIDS cleanup then also stops Prometheus);
# it defines functions and variables, nothing else.
#
#   start_prometheus DIR TARGET...   TARGET is HOST:PORT or POD=HOST:PORT; sets PROM_PID,
#                                    PROM_PORT, PROM_URL; logs to DIR/prometheus.log
#   stop_prometheus                  SIGTERM, then SIGKILL after 10 s
#   prometheus_config DIR TARGET...  only writes DIR/prometheus.yml
#   prom_exec COMMAND...             COMMAND with the $PROM_EXEC prefix
#   chart_rules FILE                 the chart's alerts as a rules file (for PROM_RULE_FILES)
#
# PROM_EXEC is a command prefix for everything that must run where the targets are,
# e.g. PROM_EXEC="nsenter --net=/run/netns/e2e" when they listen inside a network
# namespace: Prometheus itself, the free-port probe, the readiness wait, and (through
# prom_exec) whatever then queries PROM_URL. It must exec its command (nsenter and
# `ip netns exec` do), so that PROM_PID is Prometheus's own pid.

# The release the labels name: `helm install payments helm/payment-api -n payments`.
PROM_NAMESPACE=${PROM_NAMESPACE:-payments}
PROM_SERVICE=${PROM_SERVICE:-payments-payment-api}
PROM_CONTAINER=${PROM_CONTAINER:-payment-api}
# The ServiceMonitor's endpoint (templates/servicemonitor.yaml; checks/promtool.sh
# compares these with the rendered chart). Its interval (serviceMonitor.interval, 30s)
# is replaced by PROM_SCRAPE_INTERVAL so that a check after seconds of traffic has data.
PROM_ENDPOINT_PORT=metrics
PROM_METRICS_PATH=/metrics
PROM_SCHEME=http
PROM_SCRAPE_INTERVAL=${PROM_SCRAPE_INTERVAL:-1s}
PROM_SCRAPE_TIMEOUT=${PROM_SCRAPE_TIMEOUT:-$PROM_SCRAPE_INTERVAL}
PROM_READY_TIMEOUT=${PROM_READY_TIMEOUT:-30}
PROM_EXEC=${PROM_EXEC:-}
PROM_BIN=${PROM_BIN:-prometheus}
# Rule files to load (space-separated paths), e.g. the chart's rendered PrometheusRule spec;
# rules are evaluated every PROM_SCRAPE_INTERVAL.
PROM_RULE_FILES=${PROM_RULE_FILES:-}
PROM_PID=
PROM_PORT=
PROM_URL=

# chart_rules FILE: the chart's PrometheusRule rendered for the release above
# (ci/monitoring-values.yaml), its spec written to FILE: a Prometheus rules file. Needs
# helm: $HELM, else PATH, else .tools/bin (checks/kubernetes-manifests.sh extracts it there).
chart_rules() {
    local helm=${HELM:-$(command -v helm || echo .tools/bin/helm)} out=$1
    [ -x "$helm" ] || { echo "chart_rules: no helm (set HELM, or run checks/kubernetes-manifests.sh once)" >&2; return 1; }
    "$helm" template "${PROM_SERVICE%-payment-api}" helm/payment-api --namespace "$PROM_NAMESPACE" \
        -f helm/payment-api/ci/monitoring-values.yaml --api-versions monitoring.coreos.com/v1 \
        --show-only templates/prometheusrule.yaml >"$out.rendered" || return 1
    # spec is the object's last key: its block, two spaces less indented, is the rules file.
    awk 'inside { print substr($0, 3) } /^spec:$/ { inside = 1 }' "$out.rendered" >"$out"
    grep -q '^groups:' "$out" || { echo "chart_rules: no spec.groups in the rendered PrometheusRule" >&2; return 1; }
}

prom_exec() {
    local prefix=()
    # shellcheck disable=SC2206  # PROM_EXEC is a list of words on purpose
    [ -n "$PROM_EXEC" ] && prefix=($PROM_EXEC)
    "${prefix[@]}" "$@"
}

# prometheus_config DIR TARGET...: DIR/prometheus.yml, one static group per target so
# each carries its own pod label. The job name is the Operator's
# (serviceMonitor/<namespace>/<name>/<endpoint index>); the job label is the Service's.
prometheus_config() {
    local dir=$1
    shift
    [ $# -gt 0 ] || { echo "prometheus_config: no target" >&2; return 1; }
    mkdir -p "$dir"
    {
        echo "# Written by e2e/lib-prometheus.sh: the chart's ServiceMonitor as static targets."
        echo "global:"
        echo "  scrape_interval: $PROM_SCRAPE_INTERVAL"
        echo "  scrape_timeout: $PROM_SCRAPE_TIMEOUT"
        echo "  evaluation_interval: $PROM_SCRAPE_INTERVAL"
        if [ -n "$PROM_RULE_FILES" ]; then
            echo "rule_files:"
            local file
            for file in $PROM_RULE_FILES; do echo "  - $file"; done
        fi
        echo "scrape_configs:"
        echo "  - job_name: serviceMonitor/$PROM_NAMESPACE/$PROM_SERVICE/0"
        echo "    metrics_path: $PROM_METRICS_PATH"
        echo "    scheme: $PROM_SCHEME"
        echo "    static_configs:"
        local index=0 target pod address
        for target in "$@"; do
            if [[ $target == *=* ]]; then pod=${target%%=*}; address=${target#*=}; else pod=$PROM_SERVICE-$index; address=$target; fi
            echo "      - targets: ['$address']"
            echo "        labels:"
            echo "          job: $PROM_SERVICE"
            echo "          namespace: $PROM_NAMESPACE"
            echo "          service: $PROM_SERVICE"
            echo "          pod: $pod"
            echo "          container: $PROM_CONTAINER"
            echo "          endpoint: $PROM_ENDPOINT_PORT"
            index=$((index + 1))
        done
    } >"$dir/prometheus.yml"
}

# start_prometheus DIR TARGET...: Prometheus on a free loopback port (free where
# PROM_EXEC runs), storage in DIR/data; waits until /-/ready answers 200.
start_prometheus() {
    local dir=$1
    shift
    prometheus_config "$dir" "$@" || return 1
    command -v "$PROM_BIN" >/dev/null || { echo "start_prometheus: $PROM_BIN not found (apt-get install -y prometheus)" >&2; return 1; }
    PROM_PORT=$(prom_exec python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') || return 1
    PROM_URL=http://127.0.0.1:$PROM_PORT
    mkdir -p "$dir/data"
    local prefix=()
    # shellcheck disable=SC2206  # PROM_EXEC is a list of words on purpose
    [ -n "$PROM_EXEC" ] && prefix=($PROM_EXEC)
    # Not through prom_exec: a function in the background is a subshell, and $! would be
    # the subshell's pid, not Prometheus's.
    "${prefix[@]}" "$PROM_BIN" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --storage.tsdb.retention.time=1h --web.listen-address="127.0.0.1:$PROM_PORT" \
        --log.level=warn >"$dir/prometheus.log" 2>&1 &
    PROM_PID=$!
    # Declared by e2e/lib.sh: its exit trap kills what is left.
    if declare -p LIB_PIDS >/dev/null 2>&1; then LIB_PIDS+=("$PROM_PID"); fi
    local deadline=$((SECONDS + PROM_READY_TIMEOUT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if ! kill -0 "$PROM_PID" 2>/dev/null; then
            echo "prometheus exited; its log:" >&2; tail -n 20 "$dir/prometheus.log" >&2; return 1
        fi
        [ "$(prom_exec curl -s -o /dev/null -w '%{http_code}' "$PROM_URL/-/ready")" = 200 ] && return 0
        sleep 0.2
    done
    echo "prometheus on $PROM_URL not ready within $PROM_READY_TIMEOUT s; its log:" >&2
    tail -n 20 "$dir/prometheus.log" >&2
    return 1
}

stop_prometheus() {
    [ -n "$PROM_PID" ] || return 0
    kill -TERM "$PROM_PID" 2>/dev/null || true
    local _
    for _ in $(seq 1 100); do
        kill -0 "$PROM_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
    PROM_PID=
}
