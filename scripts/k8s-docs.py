#!/usr/bin/env python3
"""Helpers of scripts/k8s-check.sh for rendered Kubernetes YAML (needs PyYAML).

  k8s-docs.py split FILE OUTDIR   core documents to OUTDIR/core.yaml, Prometheus Operator
                                  ones to OUTDIR/<kind>-N.json; prints "core N crd N"
  k8s-docs.py assert SETNAME FILE properties the chart promises, one "ok"/"FAIL" line each
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


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "split":
        split(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "assert":
        assert_set(sys.argv[2], sys.argv[3])
        sys.exit(1 if failures else 0)
    else:
        sys.exit(__doc__)
