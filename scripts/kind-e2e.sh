#!/usr/bin/env bash
# The whole flow on a local kind cluster: create the cluster, build the image, load it,
# helm install --wait, helm test, run the simulator Job, print its report and exit with
# its exit code (0: every payment charged exactly once). Needs docker, kind, kubectl, helm.
# Authentication is on: a random API key, its hash in the Secret the server mounts as
# API_KEYS_FILE, the key itself in the Secret of helm test and the simulator; the key is
# then rotated and helm test must pass with the new one, without a pod restart.
#   scripts/kind-e2e.sh                 # KEEP_CLUSTER=1 to keep the cluster afterwards
#   MONITORING=1 scripts/kind-e2e.sh    # also kube-prometheus-stack, and check the target is up
#   AUTH=0 scripts/kind-e2e.sh          # authentication off (the server logs a warning)
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-payment-api}
NAMESPACE=${NAMESPACE:-payments}
RELEASE=${RELEASE:-payments}
IMAGE=${IMAGE:-payment-api:dev}
MONITORING=${MONITORING:-0}
KEEP_CLUSTER=${KEEP_CLUSTER:-0}
AUTH=${AUTH:-1}
KEYS_SECRET=${RELEASE}-api-keys
CLIENT_SECRET=${RELEASE}-api-client
SIM_PAYMENTS=${SIM_PAYMENTS:-1000}
SIM_DUPLICATES=${SIM_DUPLICATES:-3}
FULLNAME=$RELEASE-payment-api

log() { printf '\n== %s\n' "$*"; }

# new_key KEY_ID: a random secret; prints "<key-id>.<secret>" and sets KEYS_LINE to the
# line of the API keys file (only the secret's sha256, never the secret itself).
KEYS_LINE=""
new_key() {
    local secret
    secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
    KEYS_LINE="$1 $(printf %s "$secret" | sha256sum | cut -d' ' -f1) e2e"
    printf '%s.%s' "$1" "$secret"
}

# put_auth_secrets CLIENT_KEY: create or update both Secrets (the server's keys file and
# the client key of helm test and the simulator).
put_auth_secrets() {
    kubectl -n "$NAMESPACE" create secret generic "$KEYS_SECRET" --from-literal=api-keys="$KEYS_LINE" \
        --dry-run=client -o yaml | kubectl apply -f - >/dev/null
    kubectl -n "$NAMESPACE" create secret generic "$CLIENT_SECRET" --from-literal=api-key="$1" \
        --dry-run=client -o yaml | kubectl apply -f - >/dev/null
}

for tool in docker kind kubectl helm; do
    command -v "$tool" >/dev/null || { echo "lab/kind: $tool is required" >&2; exit 64; }
done

# shellcheck disable=SC2329  # called by the EXIT trap
cleanup() {
    local status=$?
    if [ "$KEEP_CLUSTER" = 1 ]; then
        echo "lab/kind: cluster $CLUSTER kept (kind delete cluster --name $CLUSTER)"
    else
        kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
    fi
    exit "$status"
}
trap cleanup EXIT

log "kind cluster $CLUSTER"
if ! grep -qx "$CLUSTER" <<<"$(kind get clusters 2>/dev/null)"; then
    kind create cluster --name "$CLUSTER" --config k8s/kind-config.yaml --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

log "docker build $IMAGE"
docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

monitoring_args=()
if [ "$MONITORING" = 1 ]; then
    log "kube-prometheus-stack (optional)"
    if helm repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null 2>&1 \
        && helm repo update prometheus-community >/dev/null \
        && helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
            --namespace monitoring --create-namespace --wait --timeout 10m \
            --set grafana.enabled=false --set alertmanager.enabled=false; then
        monitoring_args=(--set serviceMonitor.enabled=true --set prometheusRule.enabled=true
            --set serviceMonitor.additionalLabels.release=kube-prometheus-stack
            --set prometheusRule.additionalLabels.release=kube-prometheus-stack)
    else
        echo "lab/kind: kube-prometheus-stack not reachable; going on without it"
        MONITORING=0
    fi
fi

log "helm install $RELEASE"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
kubectl label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null
auth_args=()
if [ "$AUTH" = 1 ]; then
    client_key=$(new_key e2e-1)
    put_auth_secrets "$client_key"
    auth_args=(--set auth.existingSecret="$KEYS_SECRET" --set auth.clientSecret="$CLIENT_SECRET")
fi
helm upgrade --install "$RELEASE" helm/payment-api --namespace "$NAMESPACE" \
    --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=IfNotPresent \
    "${auth_args[@]}" "${monitoring_args[@]}" --wait --timeout 5m

log "helm test"
helm test "$RELEASE" --namespace "$NAMESPACE" --logs --timeout 5m

if [ "$AUTH" = 1 ]; then
    log "API key rotation without a restart"
    selector=app.kubernetes.io/name=payment-api,app.kubernetes.io/instance=$RELEASE
    pods_before=$(kubectl -n "$NAMESPACE" get pods -l "$selector" \
        -o jsonpath='{range .items[*]}{.metadata.name}:{.status.containerStatuses[0].restartCount} {end}')
    client_key=$(new_key e2e-2)
    put_auth_secrets "$client_key"
    new_hash=$(echo "$KEYS_LINE" | cut -d' ' -f2)
    # The kubelet refreshes Secret volumes within its sync period (about a minute).
    for pod in $(kubectl -n "$NAMESPACE" get pods -l "$selector" -o jsonpath='{.items[*].metadata.name}'); do
        for i in $(seq 1 60); do
            grep -q "$new_hash" <<<"$(kubectl -n "$NAMESPACE" exec "$pod" -- cat /etc/payment-api/auth/api-keys 2>/dev/null)" &&
                break
            if [ "$i" -eq 60 ]; then echo "lab/kind: $pod did not get the rotated Secret in 180 s" >&2; exit 1; fi
            sleep 3
        done
    done
    sleep 3 # the server re-reads API_KEYS_FILE every 2 s
    helm test "$RELEASE" --namespace "$NAMESPACE" --logs --timeout 5m
    pods_after=$(kubectl -n "$NAMESPACE" get pods -l "$selector" \
        -o jsonpath='{range .items[*]}{.metadata.name}:{.status.containerStatuses[0].restartCount} {end}')
    if [ "$pods_before" != "$pods_after" ]; then
        echo "lab/kind: pods changed during the rotation: $pods_before -> $pods_after" >&2
        exit 1
    fi
    echo "ok: the rotated key (not in the first keys file) is accepted by the same pods ($pods_after)"
fi

if [ "$MONITORING" = 1 ]; then
    log "Prometheus target"
    kubectl -n monitoring port-forward svc/kube-prometheus-stack-prometheus 19090:9090 >/dev/null 2>&1 &
    forward=$!
    up=""
    for _ in $(seq 1 40); do
        up=$(curl -s "http://127.0.0.1:19090/api/v1/query" \
            --data-urlencode "query=up{namespace=\"$NAMESPACE\",service=\"$FULLNAME\"}" \
            | grep -o '"value":\[[^]]*"1"\]' || true)
        [ -n "$up" ] && break
        sleep 5
    done
    kill "$forward" 2>/dev/null || true
    if [ -z "$up" ]; then echo "lab/kind: Prometheus has no up target for $FULLNAME" >&2; exit 1; fi
    echo "ok: Prometheus scrapes $FULLNAME (port metrics)"
fi

log "simulator Job"
helm upgrade "$RELEASE" helm/payment-api --namespace "$NAMESPACE" --reuse-values \
    --set simulator.enabled=true --set simulator.payments="$SIM_PAYMENTS" \
    --set simulator.duplicates="$SIM_DUPLICATES" --wait --timeout 5m
revision=$(helm status "$RELEASE" --namespace "$NAMESPACE" -o json | sed -n 's/.*"version":\([0-9]*\).*/\1/p' | tail -n 1)
job=$FULLNAME-simulator-$revision
echo "lab/kind: waiting for job/$job"
while :; do
    succeeded=$(kubectl -n "$NAMESPACE" get job "$job" -o jsonpath='{.status.succeeded}')
    failed=$(kubectl -n "$NAMESPACE" get job "$job" -o jsonpath='{.status.failed}')
    [ "${succeeded:-0}" -gt 0 ] || [ "${failed:-0}" -gt 0 ] && break
    sleep 5
done

log "simulator report"
kubectl -n "$NAMESPACE" logs "job/$job"
status=$(kubectl -n "$NAMESPACE" get pods -l "job-name=$job" \
    -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')
echo "lab/kind: simulator exited $status"
exit "${status:-1}"
