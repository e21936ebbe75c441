#!/usr/bin/env python3
"""Helpers of checks/kubernetes-manifests.sh for rendered Kubernetes YAML (needs PyYAML).

  chart-properties.py split FILE OUTDIR   core documents to OUTDIR/core.yaml, Prometheus Operator
                                  ones to OUTDIR/<kind>-N.json; prints "core N crd N"
  chart-properties.py assert SETNAME FILE properties the chart promises, one "ok"/"FAIL" line each
"""
import json
import os
import sys

import yaml

CRD_GROUP = "monitoring.coreos.com/"


def documents(path):
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def split(path, outdir):
    os.makedirs(outdir, exist_ok=True)
    core, crds = [], 0
    for doc in documents(path):
        if str(doc.get("apiVersion", "")).startswith(CRD_GROUP):
            crds += 1
            name = f"{doc['kind'].lower()}-{crds}.json"
            with open(os.path.join(outdir, name), "w", encoding="utf-8") as handle:
                json.dump(doc, handle, indent=1)
        else:
            core.append(doc)
    with open(os.path.join(outdir, "core.yaml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump_all(core, handle, sort_keys=False)
    print(f"core {len(core)} crd {crds}")


failures = 0


def check(description, condition):
    global failures
    print(("ok    " if condition else "FAIL  ") + description)
    failures += 0 if condition else 1


def find(docs, kind, predicate=lambda d: True):
    return [d for d in docs if d.get("kind") == kind and predicate(d)]


def server(docs):
    """The server's Deployment: the one whose component label is server."""
    found = find(docs, "Deployment", lambda d: d["metadata"]["labels"].get("app.kubernetes.io/component") == "server")
    return found[0] if found else None


def assert_set(setname, path):
    docs = documents(path)
    deployment = server(docs)
    check(f"{setname}: one server Deployment", deployment is not None)
    if deployment is None:
        return
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    sc, psc = container.get("securityContext", {}), pod.get("securityContext", {})
    check(f"{setname}: server runs as UID/GID 10001, non-root",
          sc.get("runAsUser") == 10001 and sc.get("runAsGroup") == 10001 and psc.get("runAsUser") == 10001
          and sc.get("runAsNonRoot") is True and psc.get("runAsNonRoot") is True)
    check(f"{setname}: read-only root filesystem, no privilege escalation, capabilities drop ALL",
          sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
          and sc.get("capabilities", {}).get("drop") == ["ALL"])
    check(f"{setname}: seccomp RuntimeDefault", psc.get("seccompProfile", {}).get("type") == "RuntimeDefault")
    check(f"{setname}: /tmp is an emptyDir",
          any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", []))
          and any(v["name"] == "tmp" and "emptyDir" in v for v in pod.get("volumes", [])))
    check(f"{setname}: no service-account token", pod.get("automountServiceAccountToken") is False)
    probe = lambda name: container.get(name, {}).get("httpGet", {})
    check(f"{setname}: liveness /healthz, readiness /readyz, startup /healthz on port http",
          probe("livenessProbe").get("path") == "/healthz" and probe("readinessProbe").get("path") == "/readyz"
          and probe("startupProbe").get("path") == "/healthz"
          and {probe(p).get("port") for p in ("livenessProbe", "readinessProbe", "startupProbe")} == {"http"})
    check(f"{setname}: resources requests and limits", all(k in container.get("resources", {}) for k in ("requests", "limits")))
    check(f"{setname}: topologySpreadConstraints present", bool(pod.get("topologySpreadConstraints")))
    check(f"{setname}: checksum/config annotation",
          len(deployment["spec"]["template"]["metadata"].get("annotations", {}).get("checksum/config", "")) == 64)
    configmaps = {d["metadata"]["name"]: d for d in find(docs, "ConfigMap")}
    drain = int(configmaps.get(container["envFrom"][0]["configMapRef"]["name"], {}).get("data", {}).get("SHUTDOWN_DRAIN_SECONDS", -1))
    check(f"{setname}: terminationGracePeriodSeconds ({pod.get('terminationGracePeriodSeconds')}) > drain ({drain}) + 15",
          drain >= 0 and pod.get("terminationGracePeriodSeconds", 0) > drain + 15)
    data = configmaps.get(container["envFrom"][0]["configMapRef"]["name"], {}).get("data", {})
    idle = data.get("HTTP_IDLE_TIMEOUT_SECONDS", "")
    check(f"{setname}: the ConfigMap sets HTTP_IDLE_TIMEOUT_SECONDS ({idle!r}) from 1 to 3600",
          idle.isdigit() and 1 <= int(idle) <= 3600)
    with open(path, encoding="utf-8") as handle:
        check(f"{setname}: FAULT_INJECTION_NO_WATCHDOG (test-only) appears nowhere", "FAULT_INJECTION" not in handle.read())
    strategy = deployment["spec"].get("strategy", {}).get("rollingUpdate", {})
    check(f"{setname}: rolling update with maxUnavailable 0", strategy.get("maxUnavailable") == 0)
    hpa = find(docs, "HorizontalPodAutoscaler")
    check(f"{setname}: replicas omitted exactly when an HPA is rendered", ("replicas" in deployment["spec"]) != bool(hpa))
    selector = deployment["spec"]["selector"]["matchLabels"]
    check(f"{setname}: selector is name + instance", set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"})
    services = find(docs, "Service", lambda d: d["spec"].get("selector") == selector)
    ports = {p["name"]: p for p in services[0]["spec"]["ports"]} if services else {}
    check(f"{setname}: Service ports http and metrics target the container port named http",
          ports.get("http", {}).get("targetPort") == "http" and ports.get("metrics", {}).get("targetPort") == "http")
    check(f"{setname}: ServiceAccount does not mount its token",
          all(sa.get("automountServiceAccountToken") is False for sa in find(docs, "ServiceAccount")))
    check(f"{setname}: a NetworkPolicy selects the server", any(
        np["spec"]["podSelector"].get("matchLabels") == selector for np in find(docs, "NetworkPolicy")))
    for monitor in find(docs, "ServiceMonitor"):
        check(f"{setname}: ServiceMonitor selects the Service port by name 'metrics'",
              [e.get("port") for e in monitor["spec"]["endpoints"]] == ["metrics"]
              and monitor["spec"]["selector"]["matchLabels"] == selector)
    for dashboard in find(docs, "ConfigMap", lambda d: d["metadata"]["labels"].get("grafana_dashboard") == "1"):
        try:
            parsed = json.loads(dashboard["data"]["payment-api.json"])
            check(f"{setname}: dashboard ConfigMap holds valid JSON with panels", len(parsed.get("panels", [])) > 0)
        except (KeyError, ValueError) as error:
            check(f"{setname}: dashboard ConfigMap holds valid JSON ({error})", False)
    for job in find(docs, "Job"):
        env = {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        check(f"{setname}: simulator Job runs payment-simulator with backoffLimit set and SIM_TARGET",
              job["spec"]["template"]["spec"]["containers"][0].get("command") == ["payment-simulator"]
              and "backoffLimit" in job["spec"] and "SIM_TARGET" in env)
    tls_volumes = assert_redis_tls(setname, docs, deployment, configmaps)
    assert_auth(setname, docs, deployment, configmaps, tls_volumes)


# Value sets rendered with authentication on (auth.existingSecret + auth.clientSecret);
# every other set must render none of it.
AUTH_SETS = {"auth"}


def secret_ref(env, name):
    """The secretKeyRef of env variable NAME (a list of env entries), or None."""
    for entry in env:
        if entry.get("name") == name:
            return entry.get("valueFrom", {}).get("secretKeyRef")
    return None


def assert_auth(setname, docs, deployment, configmaps, tls_volumes=()):
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = container.get("env", [])
    keys_file = next((e.get("value", "") for e in env if e.get("name") == "API_KEYS_FILE"), None)
    configmap = configmaps.get(container["envFrom"][0]["configMapRef"]["name"], {}).get("data", {})
    # The Redis TLS volume (checked by assert_redis_tls) is not the keys volume.
    secret_volumes = {v["name"]: v["secret"] for v in pod.get("volumes", []) if "secret" in v and v["name"] not in tls_volumes}
    secret_mounts = [m for m in container.get("volumeMounts", []) if m["name"] in secret_volumes]
    jobs = find(docs, "Job")
    job_refs = [secret_ref(j["spec"]["template"]["spec"]["containers"][0].get("env", []), "SIM_API_KEY") for j in jobs]
    tests = find(docs, "Pod", lambda d: d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test")
    check(f"{setname}: one helm test pod", len(tests) == 1)
    test_env = tests[0]["spec"]["containers"][0].get("env", []) if tests else []
    test_ref = secret_ref(test_env, "API_KEY")
    test_script = "\n".join(tests[0]["spec"]["containers"][0].get("command", [])) if tests else ""
    auth_required = next((e.get("value") for e in test_env if e.get("name") == "AUTH_REQUIRED"), None)
    check(f"{setname}: the ConfigMap does not set API_KEYS_FILE (the Deployment does, with its volume)",
          not configmap.get("API_KEYS_FILE"))
    if setname not in AUTH_SETS:
        check(f"{setname}: auth off: no API_KEYS_FILE, no Secret volume on the server",
              keys_file is None and not secret_volumes and not secret_mounts)
        check(f"{setname}: auth off: no SIM_API_KEY in the simulator Job ({len(jobs)} rendered), no API_KEY in the helm test pod",
              all(ref is None for ref in job_refs) and not any(e.get("name") in ("SIM_API_KEY", "API_KEY") for e in test_env))
        check(f"{setname}: auth off: the helm test pod expects no 401 (AUTH_REQUIRED false)", auth_required == "false")
        return
    check(f"{setname}: auth on: exactly one Secret volume, mounted read-only, without subPath",
          len(secret_volumes) == 1 and len(secret_mounts) == 1 and secret_mounts[0].get("readOnly") is True
          and "subPath" not in secret_mounts[0] and "subPathExpr" not in secret_mounts[0])
    if len(secret_volumes) != 1 or len(secret_mounts) != 1:
        return
    volume, mount = next(iter(secret_volumes.values())), secret_mounts[0]
    files = [item["path"] for item in volume.get("items", [])] or ["<any key>"]
    check(f"{setname}: auth on: the volume is Secret {volume.get('secretName')!r}",
          bool(volume.get("secretName")) and volume.get("optional") is not True)
    check(f"{setname}: auth on: API_KEYS_FILE ({keys_file}) is a file of the volume mounted at {mount['mountPath']}",
          keys_file is not None and os.path.dirname(keys_file) == mount["mountPath"].rstrip("/")
          and (os.path.basename(keys_file) in files or files == ["<any key>"]))
    check(f"{setname}: auth on: no other mount shadows {mount['mountPath']}",
          sum(1 for m in container.get("volumeMounts", []) if m["mountPath"].rstrip("/") == mount["mountPath"].rstrip("/")) == 1)
    check(f"{setname}: auth on: a simulator Job is rendered and takes SIM_API_KEY from a secretKeyRef",
          bool(jobs) and all(ref and ref.get("name") and ref.get("key") for ref in job_refs))
    check(f"{setname}: auth on: the helm test pod takes API_KEY from the same secretKeyRef, sends it as a bearer token and expects 401 without it",
          bool(test_ref) and all(ref == test_ref for ref in job_refs) and auth_required == "true"
          and "Authorization: Bearer" in test_script and "401" in test_script)


# Value sets rendered with TLS to Redis (redisTLS.existingSecret, config.redisUrl rediss://);
# every other set must render none of it.
REDIS_TLS_SETS = {"redis-tls"}
REDIS_TLS_VARS = ("REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE")


def assert_redis_tls(setname, docs, deployment, configmaps):
    """Checks the Redis TLS files; returns the names of the server's volumes that hold them."""
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container.get("env", [])}
    configmap = configmaps.get(container["envFrom"][0]["configMapRef"]["name"], {}).get("data", {})
    check(f"{setname}: the ConfigMap sets no REDIS_TLS_* (the Deployment does, with its volume)",
          not any(name in configmap for name in REDIS_TLS_VARS))
    job_env = [e.get("name") for j in find(docs, "Job") for e in j["spec"]["template"]["spec"]["containers"][0].get("env", [])]
    check(f"{setname}: the simulator Job gets no REDIS_TLS_* (it does not talk to Redis)",
          not any(name in REDIS_TLS_VARS for name in job_env))
    if setname not in REDIS_TLS_SETS:
        check(f"{setname}: Redis TLS off: no REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE or REDIS_TLS_KEY_FILE on the server",
              not any(name in env for name in REDIS_TLS_VARS))
        return ()
    files = {name: env.get(name, {}).get("value") for name in REDIS_TLS_VARS}
    check(f"{setname}: Redis TLS on: REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE are plain values",
          all(files.values()) and not any("valueFrom" in env[name] for name in REDIS_TLS_VARS))
    if not all(files.values()):
        return ()
    url = configmap.get("REDIS_URL", "")
    check(f"{setname}: Redis TLS on: REDIS_URL uses rediss:// for every node",
          bool(url) and all(node.strip().startswith("rediss://") for node in url.split(",")))
    directory = os.path.dirname(files["REDIS_TLS_CA_FILE"])
    secret_volumes = {v["name"]: v["secret"] for v in pod.get("volumes", []) if "secret" in v}
    mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"].rstrip("/") == directory]
    check(f"{setname}: Redis TLS on: exactly one mount at {directory}, of a Secret volume, read-only, without subPath",
          len(mounts) == 1 and mounts[0]["name"] in secret_volumes and mounts[0].get("readOnly") is True
          and "subPath" not in mounts[0] and "subPathExpr" not in mounts[0])
    if len(mounts) != 1 or mounts[0]["name"] not in secret_volumes:
        return ()
    volume = secret_volumes[mounts[0]["name"]]
    projected = [item.get("path") for item in volume.get("items", [])]
    check(f"{setname}: Redis TLS on: the volume is Secret {volume.get('secretName')!r}, not optional, mode 0440",
          bool(volume.get("secretName")) and volume.get("optional") is not True and volume.get("defaultMode") == 0o440)
    check(f"{setname}: Redis TLS on: the three variables point inside {directory} to files the volume projects ({', '.join(projected)})",
          all(os.path.dirname(f) == directory and os.path.basename(f) in projected for f in files.values())
          and len(set(files.values())) == 3 and all(item.get("key") for item in volume.get("items", [])))
    return (mounts[0]["name"],)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "split":
        split(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "assert":
        assert_set(sys.argv[2], sys.argv[3])
        sys.exit(1 if failures else 0)
    else:
        sys.exit(__doc__)
