#!/usr/bin/env bash
# The lab's Kubernetes (docs/lab.md; ../shared/LAB.md): one node,
# Kubernetes 1.20 built from Debian's source (lab/lib/k8s-build.sh), everything inside
# the network namespace of the lab's Docker engine (lab/lib/docker.sh):
#   etcd                      127.0.0.1:2379, data in the run's folder
#   kube-apiserver            https://10.200.0.1:6443, a CA made here, one admin token, RBAC
#   kube-controller-manager   service-account tokens, Deployments, Jobs, Endpoints
#   kube-scheduler
#   kubelet                   the dockershim on the lab's dockerd (pods on its bridge,
#                             10.199.0.0/24), a pause image built here from pause.c
#   kube-proxy                iptables mode: ClusterIPs (10.96.0.0/16) of the Services
#   dnsmasq                   the cluster's DNS on 10.200.0.1:53: <service>.<namespace>.svc
#                             .cluster.local from the Services' ClusterIPs, refreshed every
#                             second (no CoreDNS image can be pulled)
# Every daemon is started by hand and stopped by pid; nothing listens outside the namespace.
# Source it:
#   source lab/lib/kubernetes-cluster.sh
#   lab_cluster_start || exit 1   # exports KUBECONFIG; stops itself on EXIT
#   lab_kubectl get pods -A       # kubectl and helm run inside the namespace
#   lab_helm install ...
#   lab_cluster_stop
# Needs checks/kube-tools.sh sourced and ensure_kube_tools run ($KUBECTL, $HELM).

LAB_CLUSTER_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab/lib/docker.sh
source "$LAB_CLUSTER_HERE/docker.sh"
# shellcheck source=lab/lib/k8s-build.sh
source "$LAB_CLUSTER_HERE/k8s-build.sh"
# shellcheck source=lab/lib/base-images.sh
source "$LAB_CLUSTER_HERE/base-images.sh"

LAB_NODE_IP=10.200.0.1
LAB_NODE_NAME=lab-node
LAB_POD_BRIDGE=10.199.0.1/24
LAB_SERVICE_RANGE=10.96.0.0/16
LAB_CLUSTER_DOMAIN=cluster.local
LAB_PAUSE_IMAGE=local/pause:lab
LAB_CLUSTER_START_TIMEOUT=${LAB_CLUSTER_START_TIMEOUT:-120}
LAB_CLUSTER_DIR=""
LAB_CLUSTER_PIDS=()
LAB_CLUSTER_NAMES=()

lab_cluster_log() { echo "lab-kubernetes: $*" >&2; }

lab_kubectl() { lab_exec "$KUBECTL" "$@"; }
lab_helm() { lab_exec "$HELM" "$@"; }

# lab_cluster_daemon NAME COMMAND...: starts COMMAND inside the namespace, its output in
# $LAB_CLUSTER_DIR/NAME.log, and remembers its pid for lab_cluster_stop.
lab_cluster_daemon() {
    local name=$1
    shift
    nsenter --net="/run/netns/$LAB_NS" "$@" >"$LAB_CLUSTER_DIR/$name.log" 2>&1 {LAB_LOCK_FD}>&- &
    LAB_CLUSTER_PIDS+=($!)
    LAB_CLUSTER_NAMES+=("$name")
}

# lab_cluster_wait WHAT SECONDS COMMAND...: until COMMAND succeeds; fails when a daemon
# died or the time is up, with the logs of the daemons.
lab_cluster_wait() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds)) i
    until "$@" >/dev/null 2>&1; do
        for i in "${!LAB_CLUSTER_PIDS[@]}"; do
            if ! lab_pid_alive "${LAB_CLUSTER_PIDS[$i]}"; then
                lab_cluster_log "${LAB_CLUSTER_NAMES[$i]} exited while waiting for $what; its log:"
                tail -n 25 "$LAB_CLUSTER_DIR/${LAB_CLUSTER_NAMES[$i]}.log" >&2
                return 1
            fi
        done
        if [ "$SECONDS" -ge "$deadline" ]; then
            lab_cluster_log "no $what after $seconds s; the end of each daemon's log:"
            for i in "${!LAB_CLUSTER_NAMES[@]}"; do
                echo "--- ${LAB_CLUSTER_NAMES[$i]}" >&2
                tail -n 8 "$LAB_CLUSTER_DIR/${LAB_CLUSTER_NAMES[$i]}.log" >&2
            done
            return 1
        fi
        sleep 0.5
    done
}

# lab_cluster_certs DIR: a CA, the apiserver's certificate (the node IP, the kubernetes
# Service's ClusterIP and names), the service-account key pair, the admin token and the
# kubeconfig every client uses (the lab has one user: system:masters).
lab_cluster_certs() {
    local dir=$1
    (
        set -e
        cd "$dir"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=payment-api-lab-ca \
            -keyout ca.key -out ca.crt 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout apiserver.key -out apiserver.csr 2>/dev/null
        printf 'subjectAltName=IP:%s,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.%s\n' \
            "$LAB_NODE_IP" "$LAB_CLUSTER_DOMAIN" >apiserver.ext
        openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile apiserver.ext -out apiserver.crt 2>/dev/null
        openssl genrsa -out sa.key 2048 2>/dev/null
        openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
        local token
        token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
        printf '%s,lab-admin,lab-admin,system:masters\n' "$token" >tokens.csv
        cat >kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: lab
    cluster:
      server: https://$LAB_NODE_IP:6443
      certificate-authority-data: $(base64 -w0 ca.crt)
users:
  - name: lab-admin
    user:
      token: $token
contexts:
  - name: lab
    context: {cluster: lab, user: lab-admin}
current-context: lab
EOF
        chmod 600 kubeconfig tokens.csv ./*.key
    )
}

# lab_pause_image: local/pause:lab from lab/lib/k8s/pause.c, rebuilt when it changes.
lab_pause_image() {
    local source=$LAB_CLUSTER_HERE/k8s/pause.c key dir=$LAB_CLUSTER_DIR/pause
    key=$(lab_key "$(cat "$source")")
    [ "$(lab_image_key "$LAB_PAUSE_IMAGE")" = "$key" ] && return 0
    mkdir -p "$dir"
    gcc -static -O2 -o "$dir/pause" "$source" && strip "$dir/pause" || return 1
    printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\nLABEL %s=%s\n' "$LAB_LABEL" "$key" >"$dir/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t "$LAB_PAUSE_IMAGE" "$dir" >/dev/null
}

# lab_cluster_dns_hosts FILE: one "ClusterIP name" line per Service (written to a temporary
# file and renamed: dnsmasq reads the folder on every change).
lab_cluster_dns_hosts() {
    local file=$1
    lab_kubectl get services -A --no-headers \
        -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name,IP:.spec.clusterIP 2>/dev/null |
        awk -v domain="$LAB_CLUSTER_DOMAIN" '$3 ~ /^[0-9.]+$/ {print $3, $2 "." $1 ".svc." domain}' >"$file.tmp" &&
        mv "$file.tmp" "$file"
}

# lab_cluster_sa_token: the default service account has its token Secret (pods of 1.20
# cannot be admitted before).
lab_cluster_sa_token() {
    [ -n "$(lab_kubectl get serviceaccount default -o jsonpath='{.secrets[0].name}' 2>/dev/null)" ]
}

# lab_cluster_stop_stale: with the lab's lock held no other lab cluster runs, so these are
# daemons of a run killed before its trap ran.
lab_cluster_stop_stale() {
    local -
    set +e
    local pid
    for pid in $(pgrep -f "^$LAB_K8S_CACHE/[^ ]*/bin/kube") $(pgrep -f '^etcd --name paylab') \
        $(pgrep -f '^dnsmasq --conf-file=/dev/null --pid-file=/tmp/paylab-'); do
        lab_log "stopping $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60) (pid $pid) left by a killed run"
        lab_stop_pid "$pid" stale 10
    done
}

# lab_cluster_start: builds (or finds) the binaries, starts the lab docker with a pod
# bridge, then every daemon above; waits for the node to be Ready and the default
# service account to exist. Exports KUBECONFIG (for lab_kubectl and lab_helm).
lab_cluster_start() {
    scripts/install-deps.sh iptables:iptables conntrack:conntrack dnsmasq:dnsmasq-base openssl:openssl gcc:gcc || return 1
    lab_k8s_build || { lab_cluster_log "the Kubernetes binaries could not be built"; return 1; }
    local bin=$LAB_K8S_BIN
    LAB_DOCKER_NETWORK="--bip $LAB_POD_BRIDGE --iptables=false --ip6tables=false --ip-masq=false"
    lab_docker_start || return 1
    local previous_trap
    previous_trap=$(trap -p EXIT)
    eval "set -- $previous_trap"
    # shellcheck disable=SC2064  # the previous trap's command, expanded now on purpose
    trap "set +e; lab_cluster_stop_daemons; ${3:-}" EXIT
    lab_cluster_stop_stale
    LAB_CLUSTER_DIR=$LAB_RUN/k8s
    mkdir -p "$LAB_CLUSTER_DIR/dns" "$LAB_CLUSTER_DIR/kubelet" "$LAB_CLUSTER_DIR/dockershim" || return 1
    local dir=$LAB_CLUSTER_DIR
    lab_cluster_certs "$dir" || { lab_cluster_log "openssl failed"; return 1; }
    export KUBECONFIG=$dir/kubeconfig
    lab_pause_image || { lab_cluster_log "building $LAB_PAUSE_IMAGE failed"; return 1; }
    # The node's address, on the namespace's loopback (the VM's kernel has no dummy
    # interfaces): the apiserver advertises it, the kubelet reports it, pods reach it through
    # their bridge's gateway. The Services' range is routed to the bridge so that
    # ClusterIPs (rewritten by kube-proxy) are reachable from here too.
    if ! { ip -n "$LAB_NS" addr add "$LAB_NODE_IP/32" dev lo &&
        ip -n "$LAB_NS" route add "$LAB_SERVICE_RANGE" dev docker0 &&
        lab_exec sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.route_localnet=1; }; then
        lab_cluster_log "the node's network could not be set up in $LAB_NS"
        return 1
    fi
    # No resolv.conf of the host in pods: only the cluster's DNS.
    : >"$dir/resolv.conf"

    lab_cluster_daemon etcd etcd --name paylab --data-dir "$dir/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster paylab=http://127.0.0.1:2380 --log-level warn
    lab_cluster_daemon kube-apiserver "$bin/kube-apiserver" --etcd-servers http://127.0.0.1:2379 \
        --bind-address 0.0.0.0 --advertise-address "$LAB_NODE_IP" --secure-port 6443 --insecure-port 0 \
        --tls-cert-file "$dir/apiserver.crt" --tls-private-key-file "$dir/apiserver.key" \
        --client-ca-file "$dir/ca.crt" --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
        --service-cluster-ip-range "$LAB_SERVICE_RANGE" \
        --service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
        --service-account-issuer "https://kubernetes.default.svc.$LAB_CLUSTER_DOMAIN" \
        --kubelet-preferred-address-types InternalIP --allow-privileged=false --profiling=false
    lab_cluster_wait "apiserver /readyz" "$LAB_CLUSTER_START_TIMEOUT" lab_kubectl get --raw /readyz || return 1
    lab_cluster_daemon kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$KUBECONFIG" \
        --service-account-private-key-file "$dir/sa.key" --root-ca-file "$dir/ca.crt" \
        --leader-elect=false --bind-address 127.0.0.1 --port 0 --profiling=false
    lab_cluster_daemon kube-scheduler "$bin/kube-scheduler" --kubeconfig "$KUBECONFIG" \
        --leader-elect=false --bind-address 127.0.0.1 --port 0 --profiling=false
    # ../shared/LAB.md's kubelet: no QoS cgroups, no node-allocatable enforcement, swap
    # allowed (the VM's kernel and cgroups), anonymous webhook-free auth for the apiserver's
    # logs/exec calls; its own oom_score_adj left alone (negative values are refused).
    lab_cluster_daemon kubelet "$bin/kubelet" --kubeconfig "$KUBECONFIG" \
        --container-runtime docker --docker-endpoint "$DOCKER_HOST" \
        --pod-infra-container-image "$LAB_PAUSE_IMAGE" \
        --root-dir "$dir/kubelet" --experimental-dockershim-root-directory "$dir/dockershim" \
        --cert-dir "$dir/kubelet/pki" --hostname-override "$LAB_NODE_NAME" --node-ip "$LAB_NODE_IP" \
        --cgroups-per-qos=false --enforce-node-allocatable= --fail-swap-on=false --oom-score-adj 0 \
        --anonymous-auth=true --authorization-mode AlwaysAllow --read-only-port 0 \
        --cluster-dns "$LAB_NODE_IP" --cluster-domain "$LAB_CLUSTER_DOMAIN" --resolv-conf "$dir/resolv.conf" \
        --eviction-hard 'memory.available<100Mi,nodefs.available<1%,imagefs.available<1%' \
        --image-gc-high-threshold 100 --image-gc-low-threshold 99 --serialize-image-pulls=false
    # kube-proxy: conntrack's table sizes are the host's, not this namespace's: left alone.
    lab_cluster_daemon kube-proxy "$bin/kube-proxy" --kubeconfig "$KUBECONFIG" --proxy-mode iptables \
        --hostname-override "$LAB_NODE_NAME" --bind-address "$LAB_NODE_IP" --cluster-cidr "${LAB_POD_BRIDGE%.*}.0/24" \
        --masquerade-all --conntrack-max-per-core 0 --conntrack-min 0 \
        --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
        --oom-score-adj 0 --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256
    lab_cluster_dns_hosts "$dir/dns/services"
    lab_cluster_daemon dnsmasq dnsmasq --conf-file=/dev/null --pid-file="$dir/dnsmasq.pid" --keep-in-foreground \
        --listen-address="$LAB_NODE_IP" --bind-interfaces --no-resolv --no-hosts --hostsdir="$dir/dns" \
        --local="/$LAB_CLUSTER_DOMAIN/" --domain-needed --user=root --log-facility=-
    # The Services' names, every second, for as long as this shell runs.
    (
        while kill -0 $$ 2>/dev/null; do
            lab_cluster_dns_hosts "$dir/dns/services"
            sleep 1
        done
    ) >/dev/null 2>&1 {LAB_LOCK_FD}>&- &
    LAB_CLUSTER_PIDS+=($!)
    LAB_CLUSTER_NAMES+=(dns-refresh)
    : >"$dir/dns-refresh.log"
    lab_cluster_wait "Ready node $LAB_NODE_NAME" "$LAB_CLUSTER_START_TIMEOUT" \
        lab_kubectl wait --for=condition=Ready "node/$LAB_NODE_NAME" --timeout 2s || return 1
    lab_cluster_wait "default service account's token" "$LAB_CLUSTER_START_TIMEOUT" lab_cluster_sa_token || return 1
    lab_cluster_log "Kubernetes $(lab_kubectl version -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | tail -n 1) node $LAB_NODE_NAME Ready (${LAB_CLUSTER_NAMES[*]} in netns $LAB_NS)"
}

# lab_cluster_stop_daemons: every daemon started above, newest first (the kubelet before
# the control plane, so it does not restart what is being stopped).
lab_cluster_stop_daemons() {
    local -
    set +e
    local i
    for ((i = ${#LAB_CLUSTER_PIDS[@]} - 1; i >= 0; i--)); do
        lab_stop_pid "${LAB_CLUSTER_PIDS[$i]}" "${LAB_CLUSTER_NAMES[$i]}" 20
    done
    LAB_CLUSTER_PIDS=()
    LAB_CLUSTER_NAMES=()
    if [ -n "$LAB_CLUSTER_DIR" ] && [ -d "$LAB_CLUSTER_DIR" ]; then
        # The logs of the last run stay in the cache, for a post-mortem.
        mkdir -p "$LAB_CACHE/cluster-last" && cp "$LAB_CLUSTER_DIR"/*.log "$LAB_CACHE/cluster-last/" 2>/dev/null
    fi
}

# lab_cluster_stop: the daemons, then the lab docker (its containers, dockerd, the
# namespace with kube-proxy's rules, the run's folder with the kubelet's mounts).
lab_cluster_stop() {
    lab_cluster_stop_daemons
    lab_docker_stop
    LAB_CLUSTER_DIR=""
    unset KUBECONFIG
}
