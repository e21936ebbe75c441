#!/usr/bin/env python3
"""The chart's pods as `docker run` arguments, for lab/container.sh.

    chart-docker-args.py RENDERED.yaml  ->  JSON on stdout

Reads the output of `helm template` and, for the server's Deployment and the simulator's
Job, prints what a container runtime needs to run them the way the kubelet would:

  env          "NAME=value" from the ConfigMap of envFrom, then the container's env
               entries with a value (the later wins, as in Kubernetes)
  secret_env   names of env entries that come from a Secret (secretKeyRef): the caller
               supplies those
  security     docker flags for the pod's and container's securityContext
  resources    docker flags for resources.limits (--memory, --cpus)
  tmpfs        mount paths of emptyDir volumes, with their sizeLimit in bytes
  secrets      Secret volumes: mount path, file names (items' paths) and mode
  command/args the container's command and args
  grace        terminationGracePeriodSeconds (server only)
  port         the container port (server only)

Anything this translation does not know (a hostPath, a securityContext field with no
docker equivalent, a privileged container) is an error, so a chart change cannot make
the containers run differently from the pods without the test noticing.
"""
import json
import sys

import yaml

UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "K": 1000, "M": 1000**2, "G": 1000**3}


def fail(message):
    sys.exit(f"chart-docker-args: {message}")


def quantity(value):
    text = str(value)
    for unit, factor in UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def security_flags(pod_sc, sc, what):
    """docker flags for the merged pod and container securityContext."""
    merged = dict(pod_sc or {})
    merged.update(sc or {})
    flags = []
    user, group = merged.pop("runAsUser", None), merged.pop("runAsGroup", None)
    if user is None:
        fail(f"{what}: no runAsUser: the image's USER would decide")
    flags += ["--user", f"{user}:{group if group is not None else 0}"]
    if merged.pop("runAsNonRoot", False) and int(user) == 0:
        fail(f"{what}: runAsNonRoot with user 0")
    fs_group = merged.pop("fsGroup", None)
    if fs_group is not None and group is not None and int(fs_group) != int(group):
        flags += ["--group-add", str(fs_group)]
    if merged.pop("privileged", False):
        fail(f"{what}: privileged")
    capabilities = merged.pop("capabilities", {}) or {}
    for cap in capabilities.pop("drop", []) or []:
        flags += ["--cap-drop", cap]
    for cap in capabilities.pop("add", []) or []:
        flags += ["--cap-add", cap]
    if capabilities:
        fail(f"{what}: capabilities {sorted(capabilities)}")
    # Kubernetes' default is true; no_new_privs is what false sets.
    if merged.pop("allowPrivilegeEscalation", True) is False:
        flags += ["--security-opt", "no-new-privileges"]
    if merged.pop("readOnlyRootFilesystem", False):
        flags += ["--read-only"]
    seccomp = (merged.pop("seccompProfile", None) or {}).get("type", "RuntimeDefault")
    if seccomp == "Unconfined":
        flags += ["--security-opt", "seccomp=unconfined"]
    elif seccomp != "RuntimeDefault":
        fail(f"{what}: seccompProfile {seccomp}")
    # RuntimeDefault is docker's default profile: nothing to add.
    if merged:
        fail(f"{what}: securityContext fields without a docker equivalent: {sorted(merged)}")
    return flags


def volumes(pod_spec, container, what):
    by_name = {v["name"]: v for v in pod_spec.get("volumes", []) or []}
    tmpfs, secrets = [], []
    for mount in container.get("volumeMounts", []) or []:
        volume = by_name.get(mount["name"])
        if volume is None:
            fail(f"{what}: volumeMount {mount['name']} has no volume")
        if mount.get("subPath"):
            fail(f"{what}: subPath mounts are not translated")
        if "emptyDir" in volume:
            empty = volume["emptyDir"] or {}
            if empty.get("medium") not in (None, "", "Memory"):
                fail(f"{what}: emptyDir medium {empty['medium']}")
            size = empty.get("sizeLimit")
            tmpfs.append({"path": mount["mountPath"], "size": quantity(size) if size else 0})
        elif "secret" in volume:
            secret = volume["secret"]
            items = secret.get("items")
            if not items:
                fail(f"{what}: secret volume {mount['name']} without items")
            if not mount.get("readOnly"):
                fail(f"{what}: secret volume {mount['name']} mounted writable")
            secrets.append({
                "name": mount["name"],
                "secret": secret["secretName"],
                "path": mount["mountPath"],
                "files": [item["path"] for item in items],
                "keys": [item["key"] for item in items],
                "mode": secret.get("defaultMode", 0o644),
            })
        else:
            fail(f"{what}: volume {mount['name']} of a kind not translated: {sorted(volume)}")
    return tmpfs, secrets


def environment(container, config_maps, what):
    env, secret_env = {}, []
    for source in container.get("envFrom", []) or []:
        ref = source.get("configMapRef")
        if not ref or ref["name"] not in config_maps:
            fail(f"{what}: envFrom {source} is not a rendered ConfigMap")
        env.update({k: str(v) for k, v in (config_maps[ref["name"]].get("data") or {}).items()})
    for entry in container.get("env", []) or []:
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
        elif "secretKeyRef" in (entry.get("valueFrom") or {}):
            secret_env.append(entry["name"])
            env.pop(entry["name"], None)
        else:
            fail(f"{what}: env {entry['name']} from {entry.get('valueFrom')}")
    for name, value in env.items():
        if "\n" in value:
            fail(f"{what}: env {name} holds a newline")
    return [f"{k}={v}" for k, v in env.items()], secret_env


def cpus(value):
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def resource_flags(container, what):
    """docker flags for resources.limits (requests only matter to a scheduler)."""
    limits = dict((container.get("resources") or {}).get("limits") or {})
    flags = []
    if "memory" in limits:
        flags += ["--memory", str(quantity(limits.pop("memory")))]
    if "cpu" in limits:
        flags += ["--cpus", f"{cpus(limits.pop('cpu')):g}"]
    if limits:
        fail(f"{what}: resource limits without a docker equivalent: {sorted(limits)}")
    return flags


def describe(pod_spec, container, config_maps, what):
    env, secret_env = environment(container, config_maps, what)
    tmpfs, secrets = volumes(pod_spec, container, what)
    return {
        "image": container["image"],
        "env": env,
        "secret_env": secret_env,
        "security": security_flags(pod_spec.get("securityContext"), container.get("securityContext"), what),
        "resources": resource_flags(container, what),
        "tmpfs": tmpfs,
        "secrets": secrets,
        "command": container.get("command") or [],
        "args": container.get("args") or [],
    }


def main():
    with open(sys.argv[1]) as stream:
        docs = [d for d in yaml.safe_load_all(stream) if d]
    config_maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}

    def one(kind, component):
        found = [d for d in docs if d["kind"] == kind
                 and d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component]
        if len(found) != 1:
            fail(f"expected one {kind} of component {component}, found {len(found)}")
        return found[0]

    server = one("Deployment", "server")
    pod = server["spec"]["template"]["spec"]
    containers = [c for c in pod["containers"] if c["name"] == "payment-api"]
    if len(containers) != 1:
        fail("the server's Deployment has no container payment-api")
    api = describe(pod, containers[0], config_maps, "server")
    api["grace"] = int(pod["terminationGracePeriodSeconds"])
    api["port"] = int(containers[0]["ports"][0]["containerPort"])
    api["replicas"] = server["spec"].get("replicas")

    job = one("Job", "simulator")
    job_pod = job["spec"]["template"]["spec"]
    sim = describe(job_pod, job_pod["containers"][0], config_maps, "simulator")
    json.dump({"api": api, "sim": sim}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
