#!/usr/bin/env bash
# The image run the way the chart runs it, on real containers in the lab's
# Docker engine (lab/lib/docker.sh: a dockerd of our own in a network namespace of
# this run; `--network host` is that namespace's loopback, nothing else):
#  1. the base images (lab/lib/base-images.sh) and our Dockerfile built with them
#     (DOCKER_BUILDKIT=0, under the machine's Swift build lock), both cached;
#  2. the chart rendered with `helm template` (authentication on, the simulator Job on,
#     aimed at the two replicas below), translated by lab/lib/chart-docker-args.py;
#  3. Redis as a non-root, read-only container; two payment-api replicas with the pods'
#     security (user 10001:10001, every capability dropped, no new privileges, read-only
#     root, a tmpfs where the chart mounts an emptyDir), the ConfigMap's environment
#     (only REDIS_URL and HTTP_PORT overridden) and the API key file mounted read-only as
#     a directory where the chart mounts its Secret;
#  4. /readyz of both until 200 (time from `docker run`); /openapi.yaml from the image;
#  5. a real Prometheus (Debian's, e2e/lib-prometheus.sh) scraping both replicas, in
#     the namespace, with the labels of the ServiceMonitor's scrape;
#  6. the simulator with the Job's command and environment: exit 0, exactly once; then
#     e2e/fixtures/prometheus-check.py: every documented metric from both containers, every
#     dashboard query with data;
#  7. `docker stop -t <grace>` of a replica: readiness 503 at once, exit 0 within the
#     grace period.
# Prints the image size, time to ready and drain time, then "N passed, N failed"; exits
# non-zero on any failure, and when dockerd or Prometheus cannot start.
#   LAB_IMAGE=payment-api:lab   the tag built and run
#   LAB_CONTEXT=.               the build context (e.g. `git archive` of another commit)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=e2e/lib.sh
source e2e/lib.sh
lib_init
# shellcheck source=lab/lib/docker.sh
source lab/lib/docker.sh
# shellcheck source=lab/lib/base-images.sh
source lab/lib/base-images.sh
# shellcheck source=checks/kube-tools.sh
source checks/kube-tools.sh
# shellcheck source=e2e/lib-prometheus.sh
source e2e/lib-prometheus.sh

IMAGE=${LAB_IMAGE:-payment-api:lab}
CONTEXT=${LAB_CONTEXT:-.}

CHART=helm/payment-api
# The release the rendered names come from (the chart's docs: `helm install payments ... -n payments`).
RELEASE=payments
NAMESPACE=payments
READY_TIMEOUT=${READY_TIMEOUT:-60}
W=$LIB_WORKDIR
NAME=paylab-$$

die() { die_with_checks lab/container "$*"; }

# ---------------------------------------------------------------- tools
# helm (and the validators' venv, whose Python has PyYAML) where checks/kubernetes-manifests.sh
# keeps them: checks/kube-tools.sh.
for tool in jq curl openssl sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (make deps)"
done
ensure_kube_tools || die "installing helm and the venv into .tools/ failed (checks/kube-tools.sh)"
PYTHON=$VENV/bin/python
scripts/install-deps.sh prometheus:prometheus || die "could not install Debian's prometheus"

# ---------------------------------------------------------------- docker and images
echo "== lab docker"
lab_docker_start || die "the lab's dockerd could not start (see its log above): nothing was tested"
started=$(now)
lab_base_images || die "building the local base images failed"
echo "      base images ready in $(seconds_since "$started") s: $LAB_RUNTIME_IMAGE ($(lab_image_size "$LAB_RUNTIME_IMAGE")), $LAB_BUILD_IMAGE ($(lab_image_size "$LAB_BUILD_IMAGE"))"

echo "== image $IMAGE from $CONTEXT (cached layers reused; the Swift build lock $LAB_SWIFT_BUILD_LOCK held)"
started=$(now)
build_status=0
lab_project_image "$IMAGE" "$CONTEXT" "$W/build.log" || build_status=$?
build_seconds=$(seconds_since "$started")
if [ "$build_status" -ne 0 ]; then
    tail -n 40 "$W/build.log" | sed 's/^/      /'
    die "docker build failed ($build_status)"
fi
cached_steps=$LAB_CACHED_STEPS
[ "$LAB_REMOVED_IMAGES" -eq 0 ] || echo "      removed $LAB_REMOVED_IMAGES stale image(s) of earlier builds"
image_size=$(lab_image_size "$IMAGE")
echo "      built in $build_seconds s ($cached_steps steps from cache), $image_size"
check "the image's entrypoint is payment-api, user 10001:10001" '["payment-api"] 10001:10001' \
    "$(docker image inspect --format '{{ json .Config.Entrypoint }} {{ .Config.User }}' "$IMAGE")"

REDIS_IMAGE=local/redis:$LAB_SUITE
lab_package_image "$REDIS_IMAGE" redis-server || die "building the Redis image failed"
echo "      Redis image $REDIS_IMAGE ($(docker run --rm "$REDIS_IMAGE" redis-server --version | awk '{print $3}'))"

# ---------------------------------------------------------------- the chart
echo "== the chart, rendered"
port_a=$(free_port)
port_b=$(free_port)
while [ "$port_b" = "$port_a" ]; do port_b=$(free_port); done
redis_port=$(free_port)
cat >"$W/lab-values.yaml" <<EOF
# Authentication on, and the simulator Job aimed at the two lab replicas.
auth:
  existingSecret: payment-api-keys
  clientSecret: payment-api-client
simulator:
  enabled: true
  target: http://127.0.0.1:$port_a,http://127.0.0.1:$port_b
  # Its report on stdout (the Job's log) as JSON, read by \`verification\` below.
  report: json
  # The replicas keep the chart's 30% simulated processor failures; with the default 8
  # attempts per copy and the retry budget, a payment can stay unconfirmed by chance
  # (exit 2). A test must not depend on luck: here every payment is retried until it
  # goes through (40 attempts per copy: a 0.3^40 chance left).
  maxAttempts: 40
  retryBudget: false
EOF
"$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" -f "$W/lab-values.yaml" >"$W/rendered.yaml" 2>"$W/helm.err" ||
    { cat "$W/helm.err" >&2; die "helm template failed"; }
"$PYTHON" lab/lib/chart-docker-args.py "$W/rendered.yaml" >"$W/chart.json" || die "translating the rendered chart failed"
GRACE=$(jq -r .api.grace "$W/chart.json")
echo "      $("$HELM" version --short): server $(jq -r '.api.security | join(" ")' "$W/chart.json"), tmpfs $(jq -r '[.api.tmpfs[].path] | join(",")' "$W/chart.json"), secret at $(jq -r '[.api.secrets[].path] | join(",")' "$W/chart.json"), grace $GRACE s"
check "the chart's pods: user 10001:10001, capabilities dropped, no new privileges, read-only root" \
    "--user 10001:10001 --cap-drop ALL --security-opt no-new-privileges --read-only" "$(jq -r '.api.security | join(" ")' "$W/chart.json")"
check "the simulator Job's container: same security, command payment-simulator" \
    "--user 10001:10001 --cap-drop ALL --security-opt no-new-privileges --read-only payment-simulator" \
    "$(jq -r '(.sim.security + .sim.command) | join(" ")' "$W/chart.json")"

# docker flags of a pod: its security, its resource limits and a tmpfs for each emptyDir
# (chart.json's POD).
pod_flags() {
    jq -r --arg pod "$1" '.[$pod] | .security[], .resources[], (.tmpfs[] | "--mount", "type=tmpfs,destination=\(.path)" + (if .size > 0 then ",tmpfs-size=\(.size)" else "" end))' "$W/chart.json"
}

# The API keys Secret as the kubelet projects it: a directory holding each item's file,
# root-owned, group the pod's fsGroup, defaultMode (0440).
client_secret=$(openssl rand -hex 24)
client_key=lab.$client_secret
secret_dir=$W/secret-api-keys
mkdir -p "$secret_dir"
secret_file=$(jq -r '.api.secrets[0].files[0]' "$W/chart.json")
secret_mount=$(jq -r '.api.secrets[0].path' "$W/chart.json")
printf '# <key-id> <sha256-hex-of-secret> <tenant>\nlab %s lab-tenant\n' \
    "$(printf '%s' "$client_secret" | sha256sum | cut -d' ' -f1)" >"$secret_dir/$secret_file"
chown -R "0:$POD_GID" "$secret_dir"
chmod 755 "$secret_dir"
chmod "$(printf '%o' "$(jq -r '.api.secrets[0].mode' "$W/chart.json")")" "$secret_dir/$secret_file"
check "the chart mounts one Secret (the API keys) and points API_KEYS_FILE into it" \
    "1 API_KEYS_FILE=$secret_mount/$secret_file" \
    "$(jq -r '.api.secrets | length' "$W/chart.json") $(jq -r '.api.env[] | select(startswith("API_KEYS_FILE="))' "$W/chart.json")"

# ---------------------------------------------------------------- Redis
echo "== Redis (user 999, read-only, no capabilities)"
mkdir -p "$W/redis-data"
# The chart's Redis pod: its own user 999, the restricted security context, /data an emptyDir.
docker run -d --name "$NAME-redis" --network host --user 999:999 --cap-drop ALL \
    --security-opt no-new-privileges --read-only --mount type=tmpfs,destination=/data --workdir /data \
    "$REDIS_IMAGE" redis-server --save "" --appendonly no --protected-mode no --bind 127.0.0.1 \
    --port "$redis_port" --dir /data >/dev/null || die "docker run of Redis failed"
redis_ok=no
for _ in $(seq 1 100); do
    if [ "$(docker exec "$NAME-redis" redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]; then redis_ok=yes; break; fi
    sleep 0.1
done
check "Redis answers PING" yes "$redis_ok"
[ "$redis_ok" = yes ] || { docker logs "$NAME-redis" 2>&1 | tail -n 10; die "Redis did not start"; }

# ---------------------------------------------------------------- the replicas
echo "== two payment-api replicas"
mapfile -t api_flags < <(pod_flags api)
mapfile -t api_env < <(jq -r '.api.env[]' "$W/chart.json")
# start_replica NAME PORT: the Deployment's pod as a container; the ConfigMap's and the
# container's environment, overriding only REDIS_URL and HTTP_PORT (the lab's addresses).
start_replica() {
    local name=$1 port=$2 env_flags=() entry
    for entry in "${api_env[@]}"; do
        case "$entry" in
            REDIS_URL=*) entry=REDIS_URL=redis://127.0.0.1:$redis_port ;;
            HTTP_PORT=*) entry=HTTP_PORT=$port ;;
        esac
        env_flags+=(--env "$entry")
    done
    docker run -d --name "$name" --network host "${api_flags[@]}" "${env_flags[@]}" \
        --mount "type=bind,source=$secret_dir,destination=$secret_mount,readonly" "$IMAGE" >/dev/null
}

# wait_ready_all NAME:PORT...: polls every /readyz (from inside the namespace) until each
# answers 200 or READY_TIMEOUT passes; prints "NAME SECONDS" (or "NAME never") per replica,
# SECONDS measured from that replica's `docker run`.
declare -A run_started
wait_ready_all() {
    local pending=("$@") deadline=$((SECONDS + READY_TIMEOUT)) next item name port code
    while [ ${#pending[@]} -gt 0 ] && [ "$SECONDS" -lt "$deadline" ]; do
        next=()
        for item in "${pending[@]}"; do
            name=${item%%:*} port=${item##*:}
            code=$(lab_exec curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)
            if [ "$code" = 200 ]; then
                echo "$name $(seconds_since "${run_started[$name]}")"
            else
                next+=("$item")
            fi
        done
        pending=("${next[@]+"${next[@]}"}")
        [ ${#pending[@]} -eq 0 ] || sleep 0.1
    done
    for item in "${pending[@]+"${pending[@]}"}"; do echo "${item%%:*} never"; done
}

run_started[$NAME-api-a]=$(now)
start_replica "$NAME-api-a" "$port_a" || die "docker run of replica a failed"
run_started[$NAME-api-b]=$(now)
start_replica "$NAME-api-b" "$port_b" || die "docker run of replica b failed"
wait_ready_all "$NAME-api-a:$port_a" "$NAME-api-b:$port_b" >"$W/ready.txt"
ready_a=$(awk -v n="$NAME-api-a" '$1 == n {print $2}' "$W/ready.txt")
ready_b=$(awk -v n="$NAME-api-b" '$1 == n {print $2}' "$W/ready.txt")
check "replica a: /readyz 200 within $READY_TIMEOUT s of docker run" yes "$([ "$ready_a" != never ] && echo yes || echo "no ($(docker inspect --format '{{ .State.Status }} exit {{ .State.ExitCode }}' "$NAME-api-a"))")"
check "replica b: /readyz 200 within $READY_TIMEOUT s of docker run" yes "$([ "$ready_b" != never ] && echo yes || echo "no ($(docker inspect --format '{{ .State.Status }} exit {{ .State.ExitCode }}' "$NAME-api-b"))")"
if [ "$ready_a" = never ] || [ "$ready_b" = never ]; then
    for replica in "$NAME-api-a" "$NAME-api-b"; do
        # Its start and its last lines, without the wait's own /readyz requests.
        echo "      --- $replica log (without /readyz request lines: the first 10, the last 5)"
        docker logs "$replica" 2>&1 | grep -v '"path":"/readyz"' >"$W/$replica.log" || true
        { head -n 10 "$W/$replica.log"; [ "$(wc -l <"$W/$replica.log")" -le 15 ] || echo ...; tail -n +11 "$W/$replica.log" | tail -n 5; } |
            cut -c1-400 | sed 's/^/      /'
    done
    echo "lab/container: the replicas did not become ready: nothing more to test" >&2
    report_checks
    exit 1
fi
echo "      time to ready: a $ready_a s, b $ready_b s"

# The control: the same pod with a Redis that does not answer must stay unready (/healthz
# 200, /readyz 503), or the wait above could not have failed.
run_started[$NAME-api-c]=$(now)
port_c=$(free_port)
redis_port_saved=$redis_port
redis_port=$(free_port)
start_replica "$NAME-api-c" "$port_c" || die "docker run of the control replica failed"
redis_port=$redis_port_saved
READY_TIMEOUT=4 wait_ready_all "$NAME-api-c:$port_c" >"$W/ready-c.txt"
check "control: a replica whose Redis does not answer stays unready ($NAME-api-c never)" "$NAME-api-c never" "$(cat "$W/ready-c.txt")"
check "control: ...while /healthz answers 200 and /readyz 503" "200 503" \
    "$(lab_exec curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_c/healthz" || true) $(lab_exec curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_c/readyz" || true)"
docker rm -f "$NAME-api-c" >/dev/null

# What the kernel says about the server process: the pod's user, no capability at all,
# no_new_privs, and only the namespace's loopback.
status=$(docker exec "$NAME-api-a" cat /proc/1/status)
check "the server runs as uid and gid 10001" "10001 10001" \
    "$(awk '/^Uid:/ {u=$2} /^Gid:/ {g=$2} END {print u, g}' <<<"$status")"
check "the server holds no capability (effective, permitted, bounding)" "0000000000000000 0000000000000000 0000000000000000" \
    "$(awk '/^CapEff:/ {e=$2} /^CapPrm:/ {p=$2} /^CapBnd:/ {b=$2} END {print e, p, b}' <<<"$status")"
check "the server has no_new_privs" 1 "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$status")"
check "the chart's limits hold: memory and CPU (cgroup)" "$(jq -r '.api.resources | join(" ")' "$W/chart.json")" \
    "$(docker exec "$NAME-api-a" sh -c 'echo "--memory $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) --cpus $(awk "BEGIN { print $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d" " -f1 /sys/fs/cgroup/cpu.max) / 100000 }")"')"
check "the server runs under a seccomp filter (RuntimeDefault: docker's default profile)" 2 "$(awk '/^Seccomp:/ {print $2}' <<<"$status")"
mounts=$(docker exec "$NAME-api-a" cat /proc/mounts)
mount_options() { awk -v path="$1" '$2 == path {split($4, o, ","); options = o[1]} END {print options}' <<<"$mounts"; }
check "the root filesystem is mounted read-only" ro "$(mount_options /)"
check "the keys directory is mounted read-only at $secret_mount" ro "$(mount_options "$secret_mount")"
check "/tmp is a writable tmpfs" "tmpfs rw" "$(awk '$2 == "/tmp" {split($4, o, ","); print $3, o[1]}' <<<"$mounts")"
check "the container's network is the lab namespace's loopback only" lo \
    "$(docker exec "$NAME-api-a" awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' /proc/net/dev | paste -sd,)"

# The trap that once passed every root test and failed in every pod: setsockopt(SO_DEBUG)
# needs CAP_NET_ADMIN. Under the pods' flags the kernel must refuse it here too (perl-base
# is in the image's base).
check "the pods' security refuses setsockopt(SO_DEBUG) (CAP_NET_ADMIN), as a pod does" "refused: Permission denied" \
    "$(docker run --rm --network host "${api_flags[@]}" --entrypoint perl "$IMAGE" -MSocket -e \
        'socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n"; print setsockopt($s, SOL_SOCKET, SO_DEBUG, 1) ? "allowed\n" : "refused: $!\n"' 2>&1)"

echo "== the image serves its OpenAPI document"
code=$(lab_exec curl -s -o "$W/openapi.yaml" -w '%{http_code}' "http://127.0.0.1:$port_a/openapi.yaml" || true)
check "GET /openapi.yaml: 200" 200 "$code"
check "the document starts with 'openapi:'" "openapi:" "$(head -c 8 "$W/openapi.yaml" 2>/dev/null)"
code=$(lab_exec curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"user_id":"lab","amount":1,"idempotency_key":"lab-1"}' "http://127.0.0.1:$port_a/pay" || true)
check "POST /pay without a key: 401 (the mounted keys file is in force)" 401 "$code"

# ---------------------------------------------------------------- Prometheus
echo "== a real Prometheus scraping both replicas every $PROM_SCRAPE_INTERVAL"
# Started before the traffic, so that the rates of the dashboard have samples; it runs
# inside the lab's namespace (the containers' loopback), with the ServiceMonitor's labels.
mkdir -p "$W/prometheus"
PROM_EXEC="nsenter --net=/run/netns/$LAB_NS"
start_prometheus "$W/prometheus" "127.0.0.1:$port_a" "127.0.0.1:$port_b" || die "Prometheus did not start"
LIB_PIDS+=("$PROM_PID")
echo "      $("$PROM_BIN" --version 2>&1 | sed -n 1p), pid $PROM_PID"

# ---------------------------------------------------------------- the simulator Job
echo "== the simulator, as the chart's Job runs it"
mapfile -t sim_flags < <(pod_flags sim)
sim_env=()
while IFS= read -r entry; do sim_env+=(--env "$entry"); done < <(jq -r '.sim.env[]' "$W/chart.json")
check "the Job takes exactly SIM_API_KEY from a Secret" SIM_API_KEY "$(jq -r '.sim.secret_env | join(",")' "$W/chart.json")"
sim_env+=(--env "SIM_API_KEY=$client_key")
mapfile -t sim_command < <(jq -r '.sim.command[]' "$W/chart.json")
mapfile -t sim_args < <(jq -r '.sim.args[]' "$W/chart.json")
started=$(now)
sim_status=0
docker run --name "$NAME-sim" --network host "${sim_flags[@]}" "${sim_env[@]}" \
    --entrypoint "${sim_command[0]}" "$IMAGE" "${sim_command[@]:1}" "${sim_args[@]+"${sim_args[@]}"}" \
    >"$W/sim.json" 2>"$W/sim.err" || sim_status=$?
sim_seconds=$(seconds_since "$started")
check "simulator exits 0" 0 "$sim_status"
if jq -e .verification "$W/sim.json" >/dev/null 2>&1; then
    echo "      $(jq -r '"\(.payments_total) payments, \(.attempts_total) requests, status \(.status_counts | tojson), replays \(.replays)"' "$W/sim.json") in $sim_seconds s"
    check "verification: exactly once" "true lost 0 doubled 0 unconfirmed 0" "$(verification sim)"
    check "every payment of the Job's plan was sent" "$(jq -r '.sim.env[] | select(startswith("SIM_PAYMENTS=")) | sub("SIM_PAYMENTS="; "")' "$W/chart.json")" \
        "$(jq .payments_total "$W/sim.json")"
else
    check "verification: exactly once" "true lost 0 doubled 0 unconfirmed 0" "no JSON report"
    tail -n 15 "$W/sim.err" | sed 's/^/      /'
fi

# Both replicas served payments: their own counters say so.
payments_served() {
    lab_exec curl -s "http://127.0.0.1:$1/metrics" | awk '/^payment_requests_total[{ ]/ {n += $NF} END {print (n > 0) ? "yes" : "no"}'
}
check "replica a served payments (payment_requests_total > 0)" yes "$(payments_served "$port_a")"
check "replica b served payments (payment_requests_total > 0)" yes "$(payments_served "$port_b")"

# ---------------------------------------------------------------- Prometheus
echo "== Prometheus after the Job's traffic"
# Every documented metric from both containers with its labels, and every dashboard
# query with data (the rates over the scrapes taken during the traffic). The containers
# run with the key Secret mounted, so the API key metrics must be there (--auth).
status=0
prom_exec python3 e2e/fixtures/prometheus-check.py "$PROM_URL" --targets 2 --deadline 60 --auth \
    --expect "sum(payment_requests_total{namespace=\"$NAMESPACE\", outcome=\"succeeded\"})" \
    --expect "sum(payment_requests_total{namespace=\"$NAMESPACE\", outcome=\"replayed\"})" \
    >"$W/prometheus-check.txt" 2>&1 || status=$?
sed 's/^/      /' "$W/prometheus-check.txt"
check "prometheus-check.py on the containers: $(tail -n 1 "$W/prometheus-check.txt")" 0 "$status"
stop_prometheus

# ---------------------------------------------------------------- drain
echo "== docker stop -t $GRACE (the chart's terminationGracePeriodSeconds) of replica a"
started=$(now)
docker stop -t "$GRACE" "$NAME-api-a" >/dev/null &
stop_pid=$!
# Readiness turns 503 at once on SIGTERM, while /healthz keeps answering (the drain).
saw_503=no
healthy_while_draining=no
for _ in $(seq 1 50); do
    code=$(lab_exec curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port_a/readyz" || true)
    if [ "$code" = 503 ]; then
        saw_503=yes
        [ "$(lab_exec curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port_a/healthz" || true)" = 200 ] && healthy_while_draining=yes
        break
    fi
    sleep 0.05
done
wait "$stop_pid" || true
drain_seconds=$(seconds_since "$started")
check "readiness turns 503 on SIGTERM" yes "$saw_503"
check "/healthz still answers 200 while draining" yes "$healthy_while_draining"
check "replica a exits 0 after SIGTERM" "exited 0" "$(docker inspect --format '{{ .State.Status }} {{ .State.ExitCode }}' "$NAME-api-a")"
check "replica a stopped within the grace period ($GRACE s)" yes \
    "$(awk -v d="$drain_seconds" -v g="$GRACE" 'BEGIN { print (d < g) ? "yes" : "no (" d " s)" }')"
check "replica a was not killed (OOMKilled false, not SIGKILLed)" "false 0" \
    "$(docker inspect --format '{{ .State.OOMKilled }} {{ if eq .State.ExitCode 137 }}137{{ else }}0{{ end }}' "$NAME-api-a")"
code=$(lab_exec curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_b/readyz" || true)
check "replica b still ready" 200 "$code"
echo "      drain: $drain_seconds s (SHUTDOWN_DRAIN_SECONDS $(jq -r '.api.env[] | select(startswith("SHUTDOWN_DRAIN_SECONDS=")) | sub(".*="; "")' "$W/chart.json") s)"

echo "== summary"
echo "image $IMAGE: $image_size (build $build_seconds s); time to ready: a $ready_a s, b $ready_b s; drain: $drain_seconds s of $GRACE s"
report_checks
