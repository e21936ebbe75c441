#!/usr/bin/env bash
# Local base images for the lab's Docker engine (no registry can be reached, so every
# FROM must be an image made here), built only when absent or stale:
#   local/debian:bookworm          debootstrap --variant=minbase bookworm, with the runtime
#                                  packages of our image preinstalled (libhiredis0.14,
#                                  ca-certificates, tzdata): RUNTIME_IMAGE
#   local/swift:<version>-bookworm the same Debian with this machine's Swift toolchain
#                                  (/opt/swift), what compiling needs, libhiredis-dev,
#                                  pkg-config, the package mirrors (/opt/swift-packages)
#                                  and git's insteadOf for github.com: BUILD_IMAGE
# Each image carries a label with a key of what went into it (suite, packages, Swift
# version, toolchain parts left out, mirror refs); a different key rebuilds it. The
# images live in the lab daemon's persistent data root and the downloaded .debs in
# $LAB_CACHE/debs, both outside the clone.
#
# Sourced (after lab/lib/docker.sh, with the lab docker started): defines
# lab_base_images, which builds what is missing and sets LAB_RUNTIME_IMAGE,
# LAB_BUILD_IMAGE and LAB_HIREDIS_RUNTIME_PACKAGE. Run as a script: starts the lab docker,
# builds, prints the images and their sizes, stops it.

LAB_SUITE=${LAB_SUITE:-bookworm}
LAB_MIRROR=${LAB_MIRROR:-http://deb.debian.org/debian}
LAB_SWIFT_ROOT=${LAB_SWIFT_ROOT:-/opt/swift}
LAB_SWIFT_PACKAGES=${LAB_SWIFT_PACKAGES:-/opt/swift-packages}
LAB_HIREDIS_RUNTIME_PACKAGE=libhiredis0.14
LAB_LABEL=org.payment-api.lab.key
# The runtime image: what the Dockerfile's runtime stage installs (Debian names it
# libhiredis0.14 where Ubuntu 24.04 has libhiredis1.1.0).
LAB_RUNTIME_PACKAGES=("$LAB_HIREDIS_RUNTIME_PACKAGE" ca-certificates tzdata)
# The build image: what swiftc and SwiftPM need on Debian 12 (the official swift images'
# list, without lldb's libpython and libedit), then our build stage's libhiredis-dev and
# pkg-config. binutils gives ld.gold; gcc the crt files and libgcc; the -dev packages the
# headers and linker names of libc, libstdc++, curl, xml2, zlib and uuid; libsqlite3-0,
# libncurses6, libcurl4 and libxml2 are what swift-package is linked against.
LAB_BUILD_PACKAGES=(binutils gcc libc6-dev libstdc++-12-dev libcurl4-openssl-dev libxml2-dev zlib1g-dev
    uuid-dev libsqlite3-0 libncurses6 git ca-certificates tzdata libhiredis-dev pkg-config)
# Parts of the toolchain a compile never uses (debugger, language server, formatter,
# documentation compiler, Embedded Swift and Wasm): about 1.6 GB of its 3.3 GB. No kept
# ELF file needs a library left out (checked after the copy, with ldd, in the image).
LAB_SWIFT_EXCLUDES=(
    ./usr/bin/lldb ./usr/bin/lldb-server ./usr/bin/lldb-dap ./usr/bin/lldb-argdumper ./usr/bin/repl_swift
    './usr/lib/liblldb.so*' ./usr/local/lib/python3.10
    ./usr/bin/sourcekit-lsp ./usr/lib/libsourcekitdInProc.so ./usr/lib/libSwiftSourceKitPlugin.so
    ./usr/lib/libSwiftSourceKitClientPlugin.so
    ./usr/bin/clangd ./usr/bin/swift-format ./usr/bin/docc ./usr/share/docc ./usr/bin/wasmkit
    ./usr/lib/swift/embedded ./usr/lib/swift_static/embedded
    ./usr/share/doc ./usr/share/man
)

lab_base_log() { echo "lab-base-images: $*" >&2; }

lab_key() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

# lab_image_key IMAGE: the key label of IMAGE, empty when the image is absent.
lab_image_key() {
    docker image inspect --format "{{ index .Config.Labels \"$LAB_LABEL\" }}" "$1" 2>/dev/null || true
}

# lab_debootstrap DIR PACKAGE...: a minbase Debian in DIR with PACKAGEs, apt's caches
# emptied. The .debs are kept in $LAB_CACHE/debs for the next build.
lab_debootstrap() {
    local dir=$1
    shift
    local includes
    includes=$(IFS=,; echo "$*")
    mkdir -p "$LAB_CACHE/debs"
    if ! debootstrap --variant=minbase --include="$includes" --cache-dir="$LAB_CACHE/debs" \
        "$LAB_SUITE" "$dir" "$LAB_MIRROR" >"$dir.log" 2>&1; then
        lab_base_log "debootstrap failed; the end of its log ($dir.log):"
        tail -n 20 "$dir.log" >&2
        [ -f "$dir/debootstrap/debootstrap.log" ] && tail -n 20 "$dir/debootstrap/debootstrap.log" >&2
        return 1
    fi
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir/debootstrap"
}

# lab_import DIR IMAGE KEY [--change ...]: the directory as a single-layer image; the
# stale image it replaces is removed (unless something still uses it).
lab_import() {
    local dir=$1 image=$2 key=$3
    shift 3
    local old
    old=$(docker image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)
    tar --numeric-owner -C "$dir" -c . | docker import --change "LABEL $LAB_LABEL=$key" "$@" - "$image" >/dev/null || return 1
    [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
}

# lab_image_current IMAGE KEY: IMAGE exists with the key of what it should contain.
lab_image_current() {
    [ "$(lab_image_key "$1")" = "$2" ] || return 1
    lab_base_log "$1 is up to date (key $2)"
}

lab_runtime_image() {
    local image=local/debian:$LAB_SUITE
    local key
    key=$(lab_key runtime "$LAB_SUITE" "$LAB_MIRROR" "${LAB_RUNTIME_PACKAGES[@]}")
    LAB_RUNTIME_IMAGE=$image
    lab_image_current "$image" "$key" && return 0
    lab_base_log "building $image (key $key): debootstrap $LAB_SUITE with ${LAB_RUNTIME_PACKAGES[*]}"
    local started=$SECONDS work
    work=$(mktemp -d "$LAB_CACHE/rootfs-XXXXXX") || return 1
    if lab_debootstrap "$work/root" "${LAB_RUNTIME_PACKAGES[@]}" &&
        lab_import "$work/root" "$image" "$key" --change 'CMD ["bash"]'; then
        rm -rf "$work"
        lab_base_log "$image built in $((SECONDS - started)) s, $(lab_image_size "$image")"
    else
        rm -rf "$work"
        lab_base_log "building $image failed"
        return 1
    fi
}

lab_swift_version() {
    "$LAB_SWIFT_ROOT/usr/bin/swift" --version 2>/dev/null | sed -n 's/^Swift version \([0-9.]*\).*/\1/p' | sed -n 1p
}

# A digest of the mirrors' refs: new tags in the mirror make a new build image.
lab_mirror_digest() {
    (cd "$LAB_SWIFT_PACKAGES" && find . \( -name packed-refs -o -path '*/refs/*' \) -type f -print0 |
        sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

lab_build_image() {
    local version
    version=$(lab_swift_version)
    if [ -z "$version" ]; then
        lab_base_log "no Swift toolchain at $LAB_SWIFT_ROOT"
        return 1
    fi
    local image=local/swift:$version-$LAB_SUITE
    local key
    key=$(lab_key build "$LAB_SUITE" "$LAB_MIRROR" "${LAB_BUILD_PACKAGES[@]}" "$version" \
        "$("$LAB_SWIFT_ROOT/usr/bin/swift" --version 2>&1 | sed -n 1p)" "${LAB_SWIFT_EXCLUDES[@]}" "$(lab_mirror_digest)" v1)
    LAB_BUILD_IMAGE=$image
    lab_image_current "$image" "$key" && return 0
    lab_base_log "building $image (key $key): debootstrap $LAB_SUITE with ${LAB_BUILD_PACKAGES[*]}, $LAB_SWIFT_ROOT, $LAB_SWIFT_PACKAGES"
    local started=$SECONDS work
    work=$(mktemp -d "$LAB_CACHE/rootfs-XXXXXX") || return 1
    local root=$work/root
    if ! lab_debootstrap "$root" "${LAB_BUILD_PACKAGES[@]}"; then
        rm -rf "$work"
        return 1
    fi
    local debootstrap_seconds=$((SECONDS - started))
    # The toolchain where it is on this machine (its PATH entry below).
    local excludes=() part
    for part in "${LAB_SWIFT_EXCLUDES[@]}"; do excludes+=(--exclude="$part"); done
    mkdir -p "$root$LAB_SWIFT_ROOT" "$root$LAB_SWIFT_PACKAGES"
    if ! tar -C "$LAB_SWIFT_ROOT" "${excludes[@]}" -c . | tar -C "$root$LAB_SWIFT_ROOT" -x ||
        ! tar -C "$LAB_SWIFT_PACKAGES" -c . | tar -C "$root$LAB_SWIFT_PACKAGES" -x; then
        lab_base_log "copying the toolchain or the mirrors failed"
        rm -rf "$work"
        return 1
    fi
    # The official swift images install the toolchain under /usr; the Dockerfile copies
    # the backtracer from there: the same path, pointing into the toolchain.
    mkdir -p "$root/usr/libexec"
    ln -sfn "$LAB_SWIFT_ROOT/usr/libexec/swift" "$root/usr/libexec/swift"
    # Packages resolve from the mirrors, as on this machine (only the insteadOf entries of
    # its /etc/gitconfig: no credential helper).
    cat >"$root/etc/gitconfig" <<EOF
[url "$LAB_SWIFT_PACKAGES/"]
	insteadOf = https://github.com/
	insteadOf = git@github.com:
	insteadOf = ssh://git@github.com/
EOF
    # Every ELF file kept must find in the image the libraries it finds on this machine
    # (some, like libXCTest.so, have no RUNPATH and miss the Swift runtime on both:
    # their loader brings it).
    cat >"$root/tmp/check-libraries.sh" <<'EOF'
find "$1" -type f \( -perm -u+x -o -name '*.so*' \) | while read -r file; do
    [ "$(head -c 4 "$file" | tail -c 3)" = ELF ] || continue
    ldd "$file" 2>/dev/null | grep 'not found' | sed "s|^|$file:|"
done
EOF
    local missing
    missing=$(comm -13 <(/bin/sh "$root/tmp/check-libraries.sh" "$LAB_SWIFT_ROOT" | sort -u) \
        <(chroot "$root" /bin/sh /tmp/check-libraries.sh "$LAB_SWIFT_ROOT" | sort -u))
    rm -f "$root/tmp/check-libraries.sh"
    if [ -n "$missing" ]; then
        lab_base_log "toolchain files that miss libraries in the image:"
        echo "$missing" | sed -n 1,20p >&2
        rm -rf "$work"
        return 1
    fi
    local path=$LAB_SWIFT_ROOT/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    if lab_import "$root" "$image" "$key" --change "ENV PATH=$path" --change 'CMD ["bash"]'; then
        rm -rf "$work"
        lab_base_log "$image built in $((SECONDS - started)) s (debootstrap $debootstrap_seconds s), $(lab_image_size "$image")"
    else
        rm -rf "$work"
        lab_base_log "importing $image failed"
        return 1
    fi
}

lab_image_size() {
    docker image inspect --format '{{ .Size }}' "$1" 2>/dev/null | awk '{ printf "%.0f MB", $1 / 1000000 }'
}

# lab_base_images: both images, built when absent or stale. (Never `docker image prune`
# on the lab's data root: the legacy builder's cache of the Swift build stage is a
# dangling image, and pruning it means a 10-minute compile on the next run.)
lab_base_images() {
    scripts/install-deps.sh debootstrap:debootstrap || return 1
    lab_runtime_image || return 1
    lab_build_image || return 1
}

# lab_package_image IMAGE PACKAGE...: the runtime base with Debian PACKAGEs (e.g. Redis for
# the chart's Redis pod, curl for its helm test pod), installed from .debs the host's apt
# downloads (no archive is reachable from a build here): exactly what the base lacks.
# Rebuilt only when the runtime base or the list changes (the label holds both). Work
# files in $LAB_CACHE/package-images/IMAGE.
lab_package_image() {
    local image=$1
    shift
    local dir=$LAB_CACHE/package-images/${image//[\/:]/_} key
    key=$(lab_key "$(docker image inspect --format '{{ .Id }}' "$LAB_RUNTIME_IMAGE")" "$@")
    [ "$(lab_image_key "$image")" = "$key" ] && return 0
    rm -rf "$dir" && mkdir -p "$dir/debs/partial" || return 1
    docker run --rm "$LAB_RUNTIME_IMAGE" cat /var/lib/dpkg/status >"$dir/status" || return 1
    # apt's solver against the base image's dpkg status: the packages it lacks.
    local apt_args=(-y -qq --download-only --no-install-recommends -o Dir::State::status="$dir/status"
        -o Dir::Cache::archives="$dir/debs" -o Debug::NoLocking=1)
    apt-get install "${apt_args[@]}" "$@" >"$dir/apt.log" 2>&1 ||
        { apt-get update -qq && apt-get install "${apt_args[@]}" "$@" >"$dir/apt.log" 2>&1; } ||
        { tail -n 5 "$dir/apt.log" >&2; return 1; }
    rm -rf "$dir/debs/partial" "$dir/debs/lock"
    printf 'FROM %s\nCOPY debs /tmp/debs\nRUN dpkg -i /tmp/debs/*.deb && rm -rf /tmp/debs\nLABEL %s=%s\n' \
        "$LAB_RUNTIME_IMAGE" "$LAB_LABEL" "$key" >"$dir/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t "$image" "$dir" >"$dir/build.log" 2>&1 ||
        { tail -n 10 "$dir/build.log" >&2; return 1; }
}

# lab_project_image IMAGE CONTEXT LOG: our Dockerfile on the base images (cached layers
# reused), the output in LOG. The lock: one Swift compile on this machine at a time, a
# build stage's included. The build stage is tagged too (IMAGE-build): the legacy
# builder's cache of the Swift compile is that image, and a tag keeps it from being
# removed as dangling below. Then the data root is kept bounded: each source change
# leaves the previous image and build stage (3.7 GB) untagged; every dangling image is
# removed. Sets LAB_CACHED_STEPS and LAB_REMOVED_IMAGES.
LAB_SWIFT_BUILD_LOCK=${LAB_SWIFT_BUILD_LOCK:-/tmp/swift-build.lock}
export LAB_CACHED_STEPS LAB_REMOVED_IMAGES
lab_project_image() {
    local image=$1 context=$2 log=$3
    local build_args=(--build-arg BUILD_IMAGE="$LAB_BUILD_IMAGE" --build-arg RUNTIME_IMAGE="$LAB_RUNTIME_IMAGE"
        --build-arg HIREDIS_RUNTIME_PACKAGE="$LAB_HIREDIS_RUNTIME_PACKAGE")
    # shellcheck disable=SC2016  # the inner bash expands its own arguments
    flock "$LAB_SWIFT_BUILD_LOCK" bash -c 'DOCKER_BUILDKIT=0 docker build --target build -t "$1-build" "${@:3}" "$2" &&
        DOCKER_BUILDKIT=0 docker build -t "$1" "${@:3}" "$2"' build "$image" "$context" "${build_args[@]}" \
        >"$log" 2>&1 || return $?
    LAB_CACHED_STEPS=$(grep -c 'Using cache' "$log" || true)
    LAB_REMOVED_IMAGES=0
    local id
    for id in $(docker images --quiet --no-trunc --filter dangling=true); do
        if docker rmi "$id" >/dev/null 2>&1; then LAB_REMOVED_IMAGES=$((LAB_REMOVED_IMAGES + 1)); fi
    done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    cd "$(dirname "$0")/../.." || exit 1
    # shellcheck source=lab/lib/docker.sh
    source lab/lib/docker.sh
    lab_docker_start
    lab_base_images
    for image in "$LAB_RUNTIME_IMAGE" "$LAB_BUILD_IMAGE"; do
        echo "$image $(lab_image_size "$image")"
    done
fi
