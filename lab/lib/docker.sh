#!/usr/bin/env bash
# The lab's Docker engine (docs: ../shared/LAB.md): a dockerd of our own, started by hand
# inside a network namespace created for this run, so that containers (always run with
# `--network host`) see that namespace's loopback and nothing else: no bridge, no
# iptables rules, no traffic off the machine. Source it; it defines functions and
# variables, starts nothing:
#   source lab/lib/docker.sh
#   lab_docker_start || exit 1   # exports DOCKER_HOST; stops itself on EXIT
#   docker run --network host ...
#   lab_exec curl -s http://127.0.0.1:8080/readyz   # a host command inside the namespace
#   lab_docker_stop
# Image layers persist between runs in $LAB_CACHE/docker (outside the clone); one daemon
# at a time uses it (a lock), so a second run waits for the first.

LAB_CACHE=${LAB_CACHE:-/var/cache/payment-api-lab}
LAB_DOCKER_ROOT=${LAB_DOCKER_ROOT:-$LAB_CACHE/docker}
# Seconds to wait for the lock of the data root (another run using it), and for dockerd.
LAB_LOCK_TIMEOUT=${LAB_LOCK_TIMEOUT:-900}
LAB_DOCKER_START_TIMEOUT=${LAB_DOCKER_START_TIMEOUT:-60}
# dockerd's network flags. By default no bridge and no iptables rules: containers run with
# `--network host`, the namespace's loopback. The lab cluster (lab/lib/kubernetes-cluster.sh)
# gives pods a bridge of their own instead (still inside the namespace).
LAB_DOCKER_NETWORK=${LAB_DOCKER_NETWORK:---bridge=none --iptables=false --ip6tables=false --ip-masq=false}
LAB_NS=""
LAB_RUN=""
LAB_DOCKERD_PID=""
LAB_CONTAINERD_PID=""
LAB_LOCK_FD=""

lab_log() { echo "lab-docker: $*" >&2; }

lab_docker_install() {
    scripts/install-deps.sh dockerd:docker.io debootstrap:debootstrap ip:iproute2 nsenter:util-linux
}

# lab_exec COMMAND...: runs a host command inside the lab's network namespace (where the
# containers listen), e.g. curl, prometheus, python3.
lab_exec() {
    if [ -z "$LAB_NS" ]; then
        lab_log "lab_exec: the lab docker is not started"
        return 1
    fi
    nsenter --net="/run/netns/$LAB_NS" "$@"
}

# lab_pid_alive PID: the process exists and is not a zombie. (Its state is read once:
# a zombie our shell reaps between two looks is gone, not alive.)
lab_pid_alive() {
    [ -n "$1" ] || return 1
    local state
    state=$(lab_pid_state "$1")
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# lab_pid_state PID: R, S, D, Z... from /proc (the field after the command's name).
lab_pid_state() {
    sed -n 's/.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null
}

# lab_stop_pid PID NAME SECONDS [DONE_FILE DONE_TEXT]: SIGTERM, wait up to SECONDS, then
# SIGKILL. With DONE_FILE: once DONE_TEXT is in that log, 5 s more at most (dockerd 20.10
# sometimes logs "Daemon shutdown complete", its state on disk written, and then lingers
# for minutes; a goroutine dump, SIGUSR1, goes to the exec root and is kept in the cache).
lab_stop_pid() {
    # Runs from EXIT traps of `set -e` scripts: no failure here may end the cleanup.
    local -
    set +e
    local pid=$1 name=$2 seconds=$3 done_file=${4:-} done_text=${5:-}
    lab_pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    local started=$SECONDS deadline=$((SECONDS + seconds)) done_deadline=""
    while lab_pid_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do
        if [ -n "$done_file" ] && [ -z "$done_deadline" ] && grep -qF "$done_text" "$done_file" 2>/dev/null; then
            done_deadline=$((SECONDS + 5))
            [ "$done_deadline" -lt "$deadline" ] && deadline=$done_deadline
        fi
        sleep 0.2
    done
    if lab_pid_alive "$pid"; then
        local state
        state=$(lab_pid_state "$pid")
        if [ -n "$done_deadline" ]; then
            lab_log "$name (pid $pid, state ${state:-?}) logged '$done_text' but had not exited $((SECONDS - started)) s after SIGTERM: SIGKILL"
            [ "$name" = dockerd ] && kill -USR1 "$pid" 2>/dev/null && sleep 1
        else
            lab_log "$name (pid $pid, state ${state:-?}) still running $((SECONDS - started)) s after SIGTERM: SIGKILL"
        fi
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# lab_recover_stale: with the lock held no other lab engine may run, so a dockerd or
# containerd still running on the cache belongs to a run that was killed before its trap
# ran (a session stopped mid-run, say), and would keep the next dockerd from starting.
# Stops them, and removes the namespaces of runs whose shell is gone.
lab_recover_stale() {
    local -
    set +e
    local pid ns
    pid=$(cat "$LAB_CACHE/dockerd.pid" 2>/dev/null)
    if lab_pid_alive "$pid"; then
        lab_log "stopping dockerd (pid $pid) left by a killed run"
        lab_stop_pid "$pid" dockerd 30
    fi
    for pid in $(pgrep -f '^containerd --config /tmp/paylab-[^ ]*/containerd/config.toml'); do
        lab_log "stopping containerd (pid $pid) left by a killed run"
        lab_stop_pid "$pid" containerd 10
    done
    for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^paylab-[0-9]+$/ {print $1}'); do
        lab_pid_alive "${ns#paylab-}" || ip netns delete "$ns"
    done
}

# lab_docker_start: netns paylab-<pid>, containerd and dockerd inside it, DOCKER_HOST
# exported. Fails (and cleans up) with the daemon's log when dockerd cannot start.
# Sets a trap on EXIT that calls lab_docker_stop, then the EXIT trap set before (e.g.
# e2e/lib.sh's cleanup); INT and TERM exit through it.
lab_docker_start() {
    if [ -n "$LAB_DOCKERD_PID" ]; then
        lab_log "already started (pid $LAB_DOCKERD_PID)"
        return 0
    fi
    lab_docker_install || return 1
    local tool
    for tool in ip nsenter flock dockerd containerd runc; do
        command -v "$tool" >/dev/null 2>&1 || { lab_log "$tool is missing"; return 1; }
    done
    local previous_trap
    previous_trap=$(trap -p EXIT)
    eval "set -- $previous_trap"
    # shellcheck disable=SC2064  # the previous trap's command, expanded now on purpose
    trap "set +e; lab_docker_stop; ${3:-}" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir -p "$LAB_CACHE" "$LAB_DOCKER_ROOT" || return 1
    exec {LAB_LOCK_FD}>"$LAB_CACHE/docker.lock"
    if ! flock -n "$LAB_LOCK_FD"; then
        lab_log "waiting for another lab docker using $LAB_DOCKER_ROOT (lock $LAB_CACHE/docker.lock)"
        if ! flock -w "$LAB_LOCK_TIMEOUT" "$LAB_LOCK_FD"; then
            lab_log "the data root $LAB_DOCKER_ROOT stayed locked for ${LAB_LOCK_TIMEOUT} s"
            lab_docker_stop
            return 1
        fi
    fi
    lab_recover_stale
    # Short paths: containerd's sockets live under the exec root (108-byte socket paths).
    LAB_RUN=$(mktemp -d /tmp/paylab-XXXXXX) || { lab_docker_stop; return 1; }
    LAB_NS=paylab-$$
    if ! ip netns add "$LAB_NS"; then
        lab_log "ip netns add $LAB_NS failed"
        LAB_NS=""
        lab_docker_stop
        return 1
    fi
    ip -n "$LAB_NS" link set lo up || { lab_docker_stop; return 1; }
    # containerd of our own, in the namespace: dockerd would otherwise use a system
    # containerd (/run/containerd/containerd.sock) when one runs, and `--network host`
    # containers would then share the host's network.
    # Its own configuration: no CRI plugin (nothing here talks Kubernetes to it).
    mkdir -p "$LAB_RUN/containerd"
    printf 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n' >"$LAB_RUN/containerd/config.toml"
    nsenter --net="/run/netns/$LAB_NS" containerd --config "$LAB_RUN/containerd/config.toml" \
        --address "$LAB_RUN/containerd/containerd.sock" \
        --root "$LAB_CACHE/containerd" --state "$LAB_RUN/containerd/state" \
        >"$LAB_RUN/containerd.log" 2>&1 {LAB_LOCK_FD}>&- &
    LAB_CONTAINERD_PID=$!
    # $LAB_DOCKER_NETWORK: by default no docker0, no NAT; containers use --network host.
    # The pidfile in the cache: dockerd refuses to start while another one on this data
    # root still runs (e.g. one orphaned by a SIGKILLed run).
    # shellcheck disable=SC2086  # LAB_DOCKER_NETWORK is a list of flags
    nsenter --net="/run/netns/$LAB_NS" dockerd --data-root "$LAB_DOCKER_ROOT" --exec-root "$LAB_RUN/exec" \
        --pidfile "$LAB_CACHE/dockerd.pid" -H "unix://$LAB_RUN/docker.sock" \
        --containerd "$LAB_RUN/containerd/containerd.sock" \
        $LAB_DOCKER_NETWORK \
        >"$LAB_RUN/dockerd.log" 2>&1 {LAB_LOCK_FD}>&- &
    LAB_DOCKERD_PID=$!
    export DOCKER_HOST=unix://$LAB_RUN/docker.sock
    local deadline=$((SECONDS + LAB_DOCKER_START_TIMEOUT))
    until docker version >/dev/null 2>&1; do
        if ! lab_pid_alive "$LAB_DOCKERD_PID" || ! lab_pid_alive "$LAB_CONTAINERD_PID" || [ "$SECONDS" -ge "$deadline" ]; then
            lab_log "dockerd did not start (netns $LAB_NS, data root $LAB_DOCKER_ROOT); its log:"
            tail -n 30 "$LAB_RUN/dockerd.log" >&2
            lab_log "containerd's log:"
            tail -n 10 "$LAB_RUN/containerd.log" >&2
            lab_docker_stop
            return 1
        fi
        sleep 0.2
    done
    # Containers left by an interrupted run on this data root are ours: remove them.
    local stale
    stale=$(docker ps -aq)
    # shellcheck disable=SC2086  # a list of ids
    [ -z "$stale" ] || docker rm -f $stale >/dev/null 2>&1 || true
    lab_log "dockerd $(docker version --format '{{.Server.Version}}') pid $LAB_DOCKERD_PID in netns $LAB_NS, data root $LAB_DOCKER_ROOT"
}

# lab_docker_stop: removes the run's containers, stops dockerd and containerd by pid
# (SIGTERM, then SIGKILL), deletes the namespace and the run directory, frees the lock.
# Safe to call twice and after a failed start.
lab_docker_stop() {
    local -
    set +e
    if [ -n "$LAB_DOCKERD_PID" ] && lab_pid_alive "$LAB_DOCKERD_PID"; then
        local running
        running=$(docker ps -aq 2>/dev/null)
        # shellcheck disable=SC2086  # a list of ids
        [ -z "$running" ] || docker rm -f $running >/dev/null 2>&1 || true
    fi
    lab_stop_pid "$LAB_DOCKERD_PID" dockerd 60 "$LAB_RUN/dockerd.log" "Daemon shutdown complete"
    LAB_DOCKERD_PID=""
    lab_stop_pid "$LAB_CONTAINERD_PID" containerd 10
    LAB_CONTAINERD_PID=""
    if [ -n "$LAB_NS" ]; then
        ip netns delete "$LAB_NS" 2>/dev/null || true
        LAB_NS=""
    fi
    if [ -n "$LAB_RUN" ]; then
        # The daemons' logs of the last run stay in the cache, for a post-mortem.
        cp "$LAB_RUN/dockerd.log" "$LAB_CACHE/dockerd-last.log" 2>/dev/null || true
        cp "$LAB_RUN/containerd.log" "$LAB_CACHE/containerd-last.log" 2>/dev/null || true
        cp "$LAB_RUN"/exec/goroutine-stacks-*.log "$LAB_CACHE/" 2>/dev/null || true
        # The exec root may hold mounts of killed containers: unmount before removing.
        local mount
        while read -r mount; do
            umount -l "$mount" 2>/dev/null || true
        done < <(awk -v run="$LAB_RUN/" 'index($2, run) == 1 {print $2}' /proc/mounts | sort -r)
        rm -rf "$LAB_RUN" 2>/dev/null || true
        LAB_RUN=""
    fi
    if [ -n "$LAB_LOCK_FD" ]; then
        exec {LAB_LOCK_FD}>&-
        LAB_LOCK_FD=""
    fi
    unset DOCKER_HOST
}
