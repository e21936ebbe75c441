#!/usr/bin/env bash
# The chart's alerts and dashboard, offline, with promtool (Debian's prometheus package,
# installed with apt-get when missing):
#  - the PrometheusRule rendered with ci/monitoring-values.yaml, its spec written to a
#    rules file: `promtool check rules`, then `promtool test rules` with
#    helm/payment-api/tests-prometheus/alerts.test.yaml;
#  - that every alert has a test where it fires with its routing labels (severity,
#    namespace, service) and one where it stays silent, and that the tests catch a
#    broken rule: each alert made never to fire, always to fire, or stripped of its
#    routing labels must fail its tests, and so must the old PaymentApiAbsent
#    (absent(up{...} == 1), which loses namespace and service);
#  - every dashboard query, its variables filled in, parses (as a recording rule);
#  - the metric list of e2e/fixtures/prometheus-check.py against the docs, and the metrics
#    the dashboard and the alerts query against that list;
#  - e2e/lib-prometheus.sh against the rendered ServiceMonitor (port name, path,
#    scheme, job and namespace labels) and its prometheus.yml against `promtool check
#    config`; the chart's package leaves the tests out (.helmignore).
# helm and Python with PyYAML: $HELM and $PY, else those of checks/kube-tools.sh (.tools/).
# Prints "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=e2e/lib.sh
source e2e/lib.sh
lib_init
# shellcheck source=e2e/lib-prometheus.sh
source e2e/lib-prometheus.sh

CHART=helm/payment-api
TESTS=$CHART/tests-prometheus/alerts.test.yaml
DESIGN_MD=${DESIGN_MD:-../shared/DESIGN.md}
W=$LIB_WORKDIR/promtool
mkdir -p "$W/rules"

# ---------------------------------------------------------------- tools
scripts/install-deps.sh promtool:prometheus || die_with_checks checks/promtool "apt-get install prometheus failed"
# helm and Python with PyYAML: $HELM and $PY when given, else checks/kube-tools.sh's.
if [ -z "${HELM:-}" ] || [ -z "${PY:-}" ]; then
    # shellcheck source=checks/kube-tools.sh
    source checks/kube-tools.sh
    ensure_kube_tools || die_with_checks checks/promtool "installing helm and the venv into .tools/ failed (checks/kube-tools.sh)"
    PY=${PY:-$VENV/bin/python}
fi
echo "checks/promtool: $(promtool --version 2>&1 | sed -n 1p), helm $("$HELM" version --short)"

# ---------------------------------------------------------------- render
echo "== the chart's PrometheusRule"
render() {
    "$HELM" template payments "$CHART" --namespace payments -f "$CHART/ci/monitoring-values.yaml" \
        --api-versions monitoring.coreos.com/v1 --show-only "templates/$1"
}
rules=$W/rules/payment-api.rules.yaml
must_pass "helm template renders the PrometheusRule (ci/monitoring-values.yaml), its spec written to a rules file" \
    chart_rules "$rules"
# rules.py COMMAND ...: small YAML jobs on the rules and the tests.
cat >"$W/rules.py" <<'PY'
import json, sys, yaml

def block(dumper, text):
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)
yaml.add_representer(str, block, Dumper=yaml.SafeDumper)

def load(path):
    with open(path) as f:
        return yaml.safe_load(f)

def dump(data, path):
    with open(path, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False, width=1000)

def alerts(rules):
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]

command, args = sys.argv[1], sys.argv[2:]
if command == "alerts":
    print("\n".join(r["alert"] for r in alerts(load(args[0]))))
elif command == "mutate":  # RULES ALERT EXPR OUT: the alert's expression replaced
    rules = load(args[0])
    for rule in alerts(rules):
        if rule["alert"] == args[1]:
            rule["expr"] = args[2].replace("EXPR", rule["expr"].strip())
    dump(rules, args[3])
elif command == "coverage":  # TESTS RULES: every alert fires with its routing labels, and stays silent
    tests, rules = load(args[0]), load(args[1])
    names = [r["alert"] for r in alerts(rules)]
    seconds = lambda text: float(text[:-1]) * {"s": 1, "m": 60, "h": 3600}[text[-1]]
    wait = {r["alert"]: r.get("for", "0s") for r in alerts(rules)}
    fires, silent, pending, unknown = {}, {}, {}, set()
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            name = case["alertname"]
            if name not in names:
                unknown.add(name)
                continue
            for alert in case.get("exp_alerts") or []:
                fires.setdefault(name, []).append(alert.get("exp_labels", {}))
            if not case.get("exp_alerts"):
                # Silent after its `for`: the condition is absent. Before it: merely pending.
                late = seconds(case["eval_time"]) > seconds(wait[name])
                (silent if late else pending).setdefault(name, []).append(group["name"])
    bad = 0
    for name in names:
        routed = [l for l in fires.get(name, []) if {"severity", "namespace", "service"} <= set(l)]
        ok = bool(routed) and bool(silent.get(name)) and len(routed) == len(fires.get(name, []))
        bad += not ok
        print(f"{'ok' if ok else 'FAIL':5} {name} (for {wait[name]}): fires in {len(fires.get(name, []))} case(s) with "
              f"{sorted(set().union(*fires.get(name, [{}])))}, silent without its condition in "
              f"{len(silent.get(name, []))}, not yet firing before its `for` in {len(pending.get(name, []))}")
    for name in sorted(unknown):
        bad += 1
        print(f"FAIL  the tests name {name}, which is no alert of the rules")
    sys.exit(1 if bad else 0)
elif command == "only":  # TESTS ALERT KIND OUT: the test groups reduced to ALERT's firing or silent cases
    tests = load(args[0])
    kept = []
    for group in tests["tests"]:
        cases = [c for c in group.get("alert_rule_test", []) if c["alertname"] == args[1]
                 and bool(c.get("exp_alerts")) == (args[2] == "fires")]
        if cases:
            group = dict(group, alert_rule_test=cases)
            group.pop("promql_expr_test", None)
            kept.append(group)
    tests["tests"] = kept
    dump(tests, args[3])
    print(sum(len(g["alert_rule_test"]) for g in kept))
elif command == "servicemonitor":  # the endpoint as "port path scheme"
    endpoint = load(args[0])["spec"]["endpoints"][0]
    print(endpoint["port"], endpoint["path"], endpoint.get("scheme", "http"), load(args[0])["spec"].get("jobLabel", "-"))
elif command == "dashboard-rules":  # DASHBOARD OUT: every query as a recording rule
    dashboard = json.load(open(args[0]))
    values = {"$namespace": "payments", "$service": "payments-payment-api", "$__rate_interval": "1m",
              "$__interval": "5s", "$__range": "300s"}
    rules = []
    panels = [p for top in dashboard["panels"] for p in [top] + top.get("panels", [])]
    for panel in panels:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name in sorted(values, key=len, reverse=True):
                expr = expr.replace("${" + name[1:] + "}", values[name]).replace(name, values[name])
            rules.append({"record": f"dashboard:panel_{panel['id']}_{target['refId']}", "expr": expr})
    dump({"groups": [{"name": "dashboard", "rules": rules}]}, args[1])
    print(len(rules))
PY
mapfile -t alerts < <("$PY" "$W/rules.py" alerts "$rules")
check "the rules file has every alert of the template (${#alerts[@]})" \
    "$(grep -c -- '- alert:' "$CHART/templates/prometheusrule.yaml")" "${#alerts[@]}"
must_pass "promtool check rules: $(promtool check rules "$rules" 2>&1 | grep -o 'SUCCESS.*\|FAILED.*' | sed -n 1p)" \
    promtool check rules "$rules"

echo "== promtool test rules ($TESTS)"
cp "$TESTS" "$W/rules/alerts.test.yaml"
status=0
"$PY" "$W/rules.py" coverage "$TESTS" "$rules" >"$W/coverage" 2>&1 || status=$?
check "every alert has a test where it fires with severity, namespace and service, and one where it stays silent" 0 "$status"
sed 's/^/      /' "$W/coverage"
groups=$(grep -c '^  - name:' "$TESTS")
must_pass "promtool test rules: $groups test groups pass on the rendered rules" promtool test rules "$W/rules/alerts.test.yaml"

# mutation KIND ALERT EXPR PATTERN: the alert's expression replaced by EXPR (EXPR in it
# stands for the original); its KIND cases (fires | silent) must then fail.
mutation() {
    local kind=$1 alert=$2 expr=$3 pattern=$4 why=$5 dir=$W/mutation cases
    rm -rf "$dir" && mkdir -p "$dir"
    "$PY" "$W/rules.py" mutate "$rules" "$alert" "$expr" "$dir/payment-api.rules.yaml"
    cases=$("$PY" "$W/rules.py" only "$TESTS" "$alert" "$kind" "$dir/alerts.test.yaml")
    must_fail "$alert $why: its $cases $kind case(s) fail" "$pattern" promtool test rules "$dir/alerts.test.yaml"
}
echo "== the tests catch broken rules"
never='vector(1) == 0'
always='absent(no_such_series{namespace="payments", service="payments-payment-api"})'
for alert in "${alerts[@]}"; do
    mutation fires "$alert" "$never" "got:\[\]" "made never to fire"
    mutation silent "$alert" "$always" "alertname: $alert" "made always to fire"
    # Routing labels gone: what absent(up{...} == 1) did to PaymentApiAbsent.
    mutation fires "$alert" "sum without (namespace, service) (EXPR)" "got:\[" "without namespace and service"
done
mutation fires PaymentApiAbsent 'absent(up{namespace="payments", service="payments-payment-api"} == 1)' \
    'Labels:\{alertname="PaymentApiAbsent", severity="critical"\}' "with the old expression absent(up{...} == 1)"

echo "== dashboard queries"
dashboard_rules=$W/dashboard.rules.yaml
queries=$("$PY" "$W/rules.py" dashboard-rules "$CHART/dashboards/payment-api.json" "$dashboard_rules")
must_pass "the dashboard's $queries queries parse (promtool check rules, variables filled in)" \
    promtool check rules "$dashboard_rules"
# DESIGN.md (shared/, beside the clone in CI) holds the contract's metric list: without it
# the comparison would prove less, so its absence fails the check.
must_pass "metrics of e2e/fixtures/prometheus-check.py match the docs and $DESIGN_MD; the dashboard and the alerts query only those" \
    python3 e2e/fixtures/prometheus-check.py --check-docs --design "$DESIGN_MD"
grep '^ok\|^FAIL' <<<"$LIB_OUTPUT" | sed 's/^/      /'

echo "== e2e/lib-prometheus.sh against the ServiceMonitor"
if render servicemonitor.yaml >"$W/servicemonitor.yaml" 2>"$W/out"; then
    check "the ServiceMonitor's endpoint (port, path, scheme, jobLabel) is what lib-prometheus.sh scrapes" \
        "$PROM_ENDPOINT_PORT $PROM_METRICS_PATH $PROM_SCHEME -" "$("$PY" "$W/rules.py" servicemonitor "$W/servicemonitor.yaml")"
    check "the Service (the job label without jobLabel) and the deployment's container are lib-prometheus.sh's" \
        "$PROM_SERVICE payments $PROM_CONTAINER" \
        "$(render service.yaml | "$PY" -c 'import sys,yaml; d=yaml.safe_load(sys.stdin); print(d["metadata"]["name"], d["metadata"]["namespace"], end=" ")')$(render deployment.yaml | "$PY" -c 'import sys,yaml; d=yaml.safe_load(sys.stdin); print(d["spec"]["template"]["spec"]["containers"][0]["name"])')"
else
    check "helm template renders the ServiceMonitor" 0 1
fi
prometheus_config "$W/prom" 127.0.0.1:8080 127.0.0.1:8081
must_pass "lib-prometheus.sh writes a prometheus.yml that promtool check config accepts" promtool check config "$W/prom/prometheus.yml"

echo "== helm package"
# packaged_without_tests: the package holds the dashboard and nothing of tests-prometheus/.
packaged_without_tests() {
    local listing
    "$HELM" package "$CHART" -d "$W/package" >/dev/null || return 1
    listing=$(tar tzf "$W"/package/*.tgz) || return 1
    grep -q dashboards/payment-api.json <<<"$listing" && ! grep tests-prometheus <<<"$listing"
}
must_pass "helm package leaves tests-prometheus/ out (.helmignore)" packaged_without_tests

report_checks
