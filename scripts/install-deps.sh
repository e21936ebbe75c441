#!/usr/bin/env bash
# Installs what building and testing need, only when it is missing:
# redis-server and redis-benchmark (redis-tools), hiredis headers, pkg-config.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! pkg-config --exists hiredis 2>/dev/null; then missing+=(libhiredis-dev); fi
# The checks that use PyPI tools (checks/kubernetes-manifests.sh, e2e/openapi.sh) make venvs: Debian splits
# ensurepip out of python3.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip' 2>/dev/null; then missing+=(python3-venv); fi
for tool in "$@"; do
    # Extra packages a caller needs, as "command:package" (e.g. wrk:wrk).
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "install-deps: need root or sudo to apt-get install ${missing[*]}" >&2
    exit 1
fi
# No service may start from a package's scripts (policy-rc.d): Debian's prometheus or
# dockerd would run on the host's network, listening beyond loopback. Our scripts start
# what they need themselves, on loopback or in a namespace of their own.
policy_added=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null &&
        "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d && policy_added=yes
fi
status=0
# Another script's apt may hold dpkg's lock (.ci/run builds Kubernetes beside the
# tests): wait for it rather than fail.
apt_wait=(-o DPkg::Lock::Timeout=300)
{ "${sudo[@]}" apt-get "${apt_wait[@]}" update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || status=$?
[ -z "$policy_added" ] || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
if [ "$status" -ne 0 ]; then
    echo "install-deps: apt-get install ${missing[*]} failed ($status)" >&2
    exit "$status"
fi
echo "install-deps: done"
