#!/usr/bin/env bash
# `make lab`: the lab tier, the product run the way its users run it (../shared/LAB.md),
# as root: the apt packages and Kubernetes' source package it uses, when missing; the
# local base images (lab/lib/base-images.sh); the image built from the Dockerfile and run
# under the pods' security (lab/container.sh); the chart on a real one-node Kubernetes
# (lab/kubernetes.sh). Its Kubernetes binaries come from /var/cache/payment-api-lab, or
# are built there first (about 15 minutes cold), or, when a build already runs (.ci/run starts
# one in the background before `make test`), awaited through the build's lock.
# Prints the plan with estimates first and a table of what each step took at the end;
# every step runs even when one before failed (but for those that need the base images);
# the exit status is non-zero when any step failed.
#
#   scripts/lab.sh              the whole tier
#   scripts/lab.sh --deps       only the apt packages and the source package (make lab-deps)
#   scripts/lab.sh --plan [GROUP...]  only the plan with its estimates
#   scripts/lab.sh GROUP...     only these groups of steps: apt images container kubernetes
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=e2e/lib.sh
source e2e/lib.sh
# shellcheck source=lab/lib/k8s-build.sh
source lab/lib/k8s-build.sh

# What the lab's scripts take from apt (each also installs its own on use), as
# command:package; lab/lib/k8s-build.sh --deps adds Go, etcd and Kubernetes' sources.
LAB_DEPS=(dockerd:docker.io debootstrap:debootstrap ip:iproute2 nsenter:util-linux flock:util-linux
    prometheus:prometheus jq:jq curl:curl openssl:openssl iptables:iptables conntrack:conntrack
    dnsmasq:dnsmasq-base gcc:gcc)

lab_deps() {
    scripts/install-deps.sh "${LAB_DEPS[@]}" && lab/lib/k8s-build.sh --deps
}
case "${1:-}" in
    --deps) lab_deps; exit ;;
    --plan) TIER_PLAN_ONLY=yes; shift ;;
esac

# ---------------------------------------------------------------- the plan
# Estimates in seconds, measured on this 2-core machine: the base images 99 s when cached
# (the lab's dockerd started and stopped), 188 s cold; the image about 420 s when the
# sources changed (a release build in the container, uncontended), plus the run under the
# pods' security; the cluster's tests about 200 s once its binaries exist, whose build
# takes about 15 minutes cold (859 s measured at nice 19 beside make test, Go's build
# cache empty).
images_estimate=188
[ ! -d "$LAB_CACHE/docker/image" ] || images_estimate=99
kubernetes_estimate=200
kubernetes_note="Kubernetes binaries cached in $LAB_K8S_CACHE"
if [ -e "$LAB_K8S_CACHE/build.lock" ] && ! flock -n "$LAB_K8S_CACHE/build.lock" true; then
    kubernetes_note="a Kubernetes build is running ($LAB_K8S_CACHE/build.lock): lab/kubernetes.sh waits for it"
elif ! lab_k8s_cached; then
    kubernetes_estimate=$((200 + 15 * 60))
    kubernetes_note="Kubernetes binaries not cached: lab/kubernetes.sh builds them first (about 15 minutes)"
fi
tier_step apt apt 150 "" lab_deps
tier_step images lab/lib/base-images.sh "$images_estimate" "" lab/lib/base-images.sh
tier_step container lab/container.sh 510 lab/lib/base-images.sh lab/container.sh
tier_step kubernetes lab/kubernetes.sh "$kubernetes_estimate" lab/lib/base-images.sh lab/kubernetes.sh

echo "scripts/lab.sh: $kubernetes_note"
TIER_NOTES+=("$kubernetes_note")
tier_run scripts/lab.sh "$@"
