#!/usr/bin/env bash
# Kubernetes 1.20 for the lab cluster (docs/lab.md, ../shared/LAB.md), built from
# Debian bookworm's source package `kubernetes` with Debian's Go, offline: no release
# binary of Kubernetes can be downloaded here. Built only when the cache lacks it:
#   $LAB_CACHE/k8s/<package version>-<key>/bin/{kube-apiserver,kube-controller-manager,
#   kube-scheduler,kubelet,kube-proxy}
# where <key> hashes our patches (lab/lib/k8s/*.patch), Go's version and
# LAB_K8S_RECIPE, so that a change to any of them rebuilds (bump the recipe's number when
# the build steps below change what is built; comments do not). The binaries' folder is complete once its `complete` marker
# exists (written last); an interrupted build starts again from the sources, with Go's
# build cache ($LAB_CACHE/k8s/gocache) keeping what was compiled.
#
# Sourced: defines lab_k8s_build, which sets LAB_K8S_BIN. Run as a script: builds (or
# finds) the binaries and prints their folder; with --deps: only what apt brings.
#
# The recipe's traps, all met on these machines:
# - GOPATH mode (GO111MODULE=off, the tree linked at $GOPATH/src/k8s.io/kubernetes): the
#   tree's go.mod wants a Go module proxy or "-mod=vendor" that Debian's Go refuses here.
# - pkg/generated/openapi/zz_generated.openapi.go is generated at build time upstream
#   (otherwise "undefined: openapi.GetOpenAPIDefinitions"): openapi-gen from the vendor
#   tree, over every package tagged +k8s:openapi-gen=.
# - The vendored github.com/modern-go/reflect2 1.0.1 faults under Go >= 1.18 (on the first
#   custom resource); Debian's golang-github-modern-go-reflect2-dev (1.0.2) replaces it.
# - The version ldflags: without them the server says v0.0.0 and helm's kubeVersion
#   checks refuse it.
# - The dockershim gives pod sandboxes oom_score_adj -998, which this kernel refuses
#   (`docker run --oom-score-adj -998` fails here): lab/lib/k8s/dockershim-oom-score.patch
#   sets 0 and skips negative values.

LAB_CACHE=${LAB_CACHE:-/var/cache/payment-api-lab}
LAB_K8S_CACHE=${LAB_K8S_CACHE:-$LAB_CACHE/k8s}
LAB_K8S_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
LAB_K8S_VERSION=v1.20.2
LAB_K8S_RECIPE=1
LAB_K8S_BIN=""

lab_k8s_log() { echo "lab-k8s-build: $*" >&2; }

lab_k8s_here() { cd "$(dirname "${BASH_SOURCE[0]}")" && pwd; }

# lab_k8s_sources_list: a deb-src entry for bookworm main (the machine's sources have
# binary entries only); apt's lists are refreshed when it is added.
lab_k8s_sources_list() {
    local list=/etc/apt/sources.list.d/payment-api-lab-src.sources
    [ -e "$list" ] && return 0
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$list" || return 1
    apt-get update -qq
}

# lab_k8s_deps: everything the build takes from apt (packages, the source package's
# files), so that a build started in the background afterwards (.ci/run) never runs
# apt beside another script's apt. Sets LAB_K8S_PACKAGE_VERSION and LAB_K8S_DSC.
LAB_K8S_PACKAGE_VERSION=""
LAB_K8S_DSC=""
lab_k8s_deps() {
    scripts/install-deps.sh go:golang-go etcd:etcd-server dpkg-source:dpkg-dev || return 1
    if [ ! -d /usr/share/gocode/src/github.com/modern-go/reflect2 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-github-modern-go-reflect2-dev >/dev/null || return 1
    fi
    lab_k8s_sources_list || { lab_k8s_log "cannot add bookworm's deb-src entry"; return 1; }
    local version
    version=$(apt-cache showsrc kubernetes 2>/dev/null | awk '/^Version:/ && !v {v = $2} END {print v}')
    [ -n "$version" ] || { lab_k8s_log "apt-cache showsrc kubernetes: no source package"; return 1; }
    LAB_K8S_PACKAGE_VERSION=$version
    LAB_K8S_DSC=$LAB_K8S_CACHE/debsrc/kubernetes_${version#*:}.dsc
    mkdir -p "$LAB_K8S_CACHE/debsrc" || return 1
    if [ ! -e "$LAB_K8S_DSC" ]; then
        (cd "$LAB_K8S_CACHE/debsrc" && apt-get source -qq --download-only kubernetes 2>/dev/null) ||
            { lab_k8s_log "apt-get source --download-only kubernetes failed"; return 1; }
    fi
}

# lab_k8s_key [DIR]: the key of the binaries' folder: the recipe, our patches (DIR/k8s,
# this script's folder by default; their content, not their path) and Go's version.
lab_k8s_key() {
    local here=${1:-$(lab_k8s_here)}
    { echo "recipe $LAB_K8S_RECIPE ${LAB_K8S_COMPONENTS[*]}"; cat "$here"/k8s/*.patch; go version; } | sha256sum | cut -c1-12
}

# lab_k8s_cached: the binaries of this key are built (for the plan of scripts/lab.sh;
# false where Go is not installed yet).
lab_k8s_cached() {
    command -v go >/dev/null 2>&1 || return 1
    compgen -G "$LAB_K8S_CACHE/*-$(lab_k8s_key)/complete" >/dev/null
}

# lab_k8s_build: the binaries, built unless cached. One build at a time (a lock in the
# cache): a second caller waits for the first and then finds its result.
lab_k8s_build() {
    local here
    here=$(lab_k8s_here) || return 1
    lab_k8s_deps || return 1
    local version=$LAB_K8S_PACKAGE_VERSION lock_fd status=0
    exec {lock_fd}>"$LAB_K8S_CACHE/build.lock"
    if ! flock -n "$lock_fd"; then
        lab_k8s_log "waiting for the build already running (lock $LAB_K8S_CACHE/build.lock)"
        flock "$lock_fd"
    fi
    lab_k8s_build_locked "$here" "$version" || status=$?
    exec {lock_fd}>&-
    return "$status"
}

lab_k8s_build_locked() {
    local here=$1 version=$2
    local key
    key=$(lab_k8s_key "$here")
    local out=$LAB_K8S_CACHE/$version-$key
    LAB_K8S_BIN=$out/bin
    if [ -e "$out/complete" ]; then
        lab_k8s_log "cached: $LAB_K8S_BIN (kubernetes $version)"
        return 0
    fi
    lab_k8s_log "building kubernetes $version (key $key) into $out: about 15 minutes on 2 cores"
    local started=$SECONDS
    rm -rf "$out" && mkdir -p "$out/bin" "$LAB_K8S_CACHE/gocache" || return 1
    local work=$out/work
    rm -rf "$work" && mkdir -p "$work/gopath/src/k8s.io" || return 1
    dpkg-source --no-check -x "$LAB_K8S_DSC" "$work/tree" >"$out/dpkg-source.log" 2>&1 ||
        { lab_k8s_log "dpkg-source -x failed:"; tail -n 20 "$out/dpkg-source.log" >&2; return 1; }
    local tree=$work/gopath/src/k8s.io/kubernetes
    ln -s "$work/tree" "$tree"
    local patch
    for patch in "$here"/k8s/*.patch; do
        patch -d "$work/tree" -p1 --forward --silent <"$patch" ||
            { lab_k8s_log "patch $(basename "$patch") does not apply"; return 1; }
    done
    rm -rf "$work/tree/vendor/github.com/modern-go/reflect2"
    cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$work/tree/vendor/github.com/modern-go/reflect2" || return 1
    # Everything below runs in the tree, in GOPATH mode, with the cache outside the clone.
    (
        set -euo pipefail
        cd "$tree"
        export GOPATH=$work/gopath GO111MODULE=off GOFLAGS='' GOCACHE=$LAB_K8S_CACHE/gocache CGO_ENABLED=1
        go build -o "$work/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
        # The packages tagged for OpenAPI, as import paths (the staging repos through vendor/).
        local dirs
        # -R: vendor/k8s.io/api and the other staging repos are symlinks into staging/.
        dirs=$( { grep -rl --include='*.go' '+k8s:openapi-gen=' pkg; grep -Rl --include='*.go' '+k8s:openapi-gen=' vendor/k8s.io; } |
            grep -v -e '_test.go$' -e '/_' -e '/testdata/' -e 'sample-' | xargs -n1 dirname | LC_ALL=C sort -u |
            sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
        "$work/openapi-gen" --input-dirs "$dirs" --output-base "$GOPATH/src" \
            --output-package k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
            --go-header-file hack/boilerplate/boilerplate.generatego.txt --report-filename /dev/null
        local pkg=k8s.io/kubernetes/vendor
        local ldflags="-s -w"
        local v
        for v in "$pkg/k8s.io/component-base/version" "$pkg/k8s.io/client-go/pkg/version" \
            k8s.io/component-base/version k8s.io/client-go/pkg/version; do
            ldflags+=" -X $v.gitVersion=$LAB_K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=20"
            ldflags+=" -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
        done
        local component
        for component in "${LAB_K8S_COMPONENTS[@]}"; do
            go build -ldflags "$ldflags" -o "$out/bin/$component" "./cmd/$component"
        done
    ) >"$out/build.log" 2>&1 || {
        lab_k8s_log "the build failed; the end of $out/build.log:"
        tail -n 30 "$out/build.log" >&2
        return 1
    }
    local component
    for component in "${LAB_K8S_COMPONENTS[@]}"; do
        grep -q "$LAB_K8S_VERSION" <<<"$("$out/bin/$component" --version 2>/dev/null)" ||
            { lab_k8s_log "$component --version does not say $LAB_K8S_VERSION"; return 1; }
    done
    rm -rf "$work"
    touch "$out/complete"
    lab_k8s_log "built in $((SECONDS - started)) s: $(du -sh "$out/bin" | cut -f1) in $LAB_K8S_BIN"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    cd "$(dirname "$0")/../.."
    if [ "${1:-}" = --deps ]; then
        lab_k8s_deps
    else
        lab_k8s_build
        echo "$LAB_K8S_BIN"
    fi
fi
