#!/usr/bin/env bash
# `make test`: the test tier, everything that needs neither an image nor Kubernetes (those
# are `make lab`, scripts/lab.sh). In order: the apt packages it uses, when missing; the
# debug build with its tests; the hiredis link check; the Swift suites, then alone the
# timing-sensitive ones (their names end in TimingTests: wall-clock bounds that two busy
# cores of parallel tests would blur); every e2e suite (e2e/*.sh, real processes run as
# the pods run them); the static checks (checks/); the fuzz targets' short run, whose
# build (ASan + libFuzzer, .build-fuzz) runs in the background at nice 19 meanwhile.
# Prints the plan with estimates first and a table of what each step took at the end;
# every step runs even when one before failed (those that need a failed build are
# skipped); the exit status is non-zero when any step failed.
#
#   scripts/test.sh              the whole tier
#   scripts/test.sh --deps       only the apt packages (make deps)
#   scripts/test.sh --plan [GROUP...]  only the plan with its estimates
#   scripts/test.sh GROUP...     only these groups of steps: apt build swift e2e checks
#                                fuzz (make e2e, make checks, make fuzz-check)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=e2e/lib.sh
source e2e/lib.sh

SWIFT=${SWIFT:-swift}
# What the tier takes from apt beyond scripts/install-deps.sh's own (redis-server,
# redis-tools, libhiredis-dev, pkg-config, python3-venv), as command:package.
TEST_DEPS=(curl:curl jq:jq bc:bc python3:python3 nginx:nginx openssl:openssl pgrep:procps setpriv:util-linux cc:gcc
    flock:util-linux prometheus:prometheus promtool:prometheus)
# The fuzz step's budget: 25 s a target, as when the targets ran one after the other,
# but 2 at a time (one libFuzzer process a core; each runs about 10% fewer executions a
# second beside another): 9 targets in 5 rounds, about 135 s where one at a time took
# 225 s. Not less: in a 20 s run on the committed corpus four targets (FuzzPaymentRequest,
# FuzzChargeRequest, FuzzProcessorReply, FuzzJSONParser) still found new coverage after
# three quarters of their time, so a shorter budget would cut real search, not idle
# time. Longer searches are `make fuzz` (300 s a target).
FUZZ_CHECK_SECONDS=${FUZZ_CHECK_SECONDS:-25}
FUZZ_CHECK_JOBS=${FUZZ_CHECK_JOBS:-2}
FUZZ_BUILD_LOG=${FUZZ_BUILD_LOG:-/tmp/payment-api-fuzz-build.log}

case "${1:-}" in
    --deps) exec scripts/install-deps.sh "${TEST_DEPS[@]}" ;;
    --plan) TIER_PLAN_ONLY=yes; shift ;;
esac

# ---------------------------------------------------------------- the fuzz build
# The fuzz build is ASan + libFuzzer over the same sources: nothing of the debug build can
# be reused, and cold it is the longest step (about 480 s). It runs in the background at
# nice 19 once the debug build is done, so that it takes the cycles the other steps leave
# idle (the e2e suites mostly wait on sockets and sleeps); it is stopped (SIGSTOP) while
# the timing-sensitive suites run, and the fuzz step waits for what is left of it. Its own process group (job control) lets it be stopped, resumed and ended whole.
FUZZ_BUILD_PID=""
# shellcheck disable=SC2329  # called by tier_run, as TIER_BEFORE_STEP
# start_fuzz_build STEP: before the first step after the debug build, when the fuzz step
# is planned. Not beside the debug build: nice 19 did not keep the two compilers from
# sharing the cores (the debug build took 575 s beside it, 350 s alone), while the steps
# after it leave most of a core idle.
start_fuzz_build() {
    case "${TIER_GROUPS[$1]}" in apt | build | fuzz) return 0 ;; esac
    [ -z "$FUZZ_BUILD_PID" ] && [ "$FUZZ_PLANNED" = yes ] || return 0
    rm -f "$FUZZ_BUILD_LOG.status"
    set -m
    (
        started=$SECONDS
        status=0
        nice -n 19 env FUZZ_ONLY=build Fuzz/run.sh >"$FUZZ_BUILD_LOG" 2>&1 || status=$?
        echo "$status $((SECONDS - started))" >"$FUZZ_BUILD_LOG.status"
    ) &
    FUZZ_BUILD_PID=$!
    set +m
    echo "scripts/test.sh: the fuzz build runs in the background from here (nice 19), log $FUZZ_BUILD_LOG"
}

# fuzz_build_signal SIGNAL: to the whole background build, while it runs.
fuzz_build_signal() {
    [ -z "$FUZZ_BUILD_PID" ] || kill "-$1" -- "-$FUZZ_BUILD_PID" 2>/dev/null || true
}

# shellcheck disable=SC2329  # a step: tier_run calls it
# without_fuzz_build COMMAND...: COMMAND with the background build stopped.
without_fuzz_build() {
    local status=0
    fuzz_build_signal STOP
    "$@" || status=$?
    fuzz_build_signal CONT
    return "$status"
}

# shellcheck disable=SC2329  # a step: tier_run calls it
# fuzz_check: the background build awaited (or a build now), then the targets' run.
fuzz_check() {
    local status=0 seconds=""
    if [ -n "$FUZZ_BUILD_PID" ]; then
        echo "fuzz: waiting for the background build"
        wait "$FUZZ_BUILD_PID"
        FUZZ_BUILD_PID=""
        read -r status seconds <"$FUZZ_BUILD_LOG.status" || status=1
        TIER_NOTES+=("the fuzz build took ${seconds:-?} s in the background at nice 19, beside the steps before the fuzz step")
        cat "$FUZZ_BUILD_LOG"
    else
        FUZZ_ONLY=build Fuzz/run.sh || status=$?
    fi
    [ "$status" -eq 0 ] || return "$status"
    FUZZ_ONLY=run FUZZ_SECONDS=$FUZZ_CHECK_SECONDS FUZZ_JOBS=$FUZZ_CHECK_JOBS Fuzz/run.sh
}

# shellcheck disable=SC2329  # a step: tier_run calls it
# debug_build: the root package with its tests; when it fails, the background fuzz build
# (the same sources) is ended too.
debug_build() {
    "$SWIFT" build --build-tests && return 0
    local status=$?
    fuzz_build_signal CONT
    fuzz_build_signal TERM
    return "$status"
}

# Ctrl-C or an early exit: the background build is ended, not left behind.
trap 'fuzz_build_signal CONT; fuzz_build_signal TERM' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the plan
# Estimates in seconds, measured on this 2-core machine in `make test` on a fresh clone
# (CI, 2026-12-07: 1267 s in all, the apt packages already there), the venvs that
# e2e/openapi.sh, e2e/tracing.sh and the checks install into .tools/ included.
tier_step apt apt 60 "" scripts/install-deps.sh "${TEST_DEPS[@]}"
tier_step build build 420 "" debug_build
tier_step build checks/hiredis-links.sh 1 build checks/hiredis-links.sh
tier_step swift "swift test" 50 build "$SWIFT" test --disable-xctest --skip TimingTests
tier_step swift "swift test: TimingTests alone" 15 build without_fuzz_build "$SWIFT" test --disable-xctest --filter TimingTests
tier_step e2e e2e/api.sh 7 build e2e/api.sh
tier_step e2e e2e/simulator.sh 10 build e2e/simulator.sh
tier_step e2e e2e/redis-cluster.sh 110 build e2e/redis-cluster.sh
tier_step e2e e2e/redlock.sh 20 build e2e/redlock.sh
tier_step e2e e2e/faults.sh 116 build e2e/faults.sh
tier_step e2e e2e/failover.sh 50 build e2e/failover.sh
tier_step e2e e2e/processor.sh 133 build e2e/processor.sh
tier_step e2e e2e/hostile-clients.sh 6 build e2e/hostile-clients.sh
tier_step e2e e2e/allocations.sh 10 build e2e/allocations.sh
tier_step e2e e2e/openapi.sh 35 build e2e/openapi.sh
tier_step e2e e2e/prometheus.sh 65 build e2e/prometheus.sh
# An estimate, not yet measured in CI: its self-test about 7 s, the live part about 15 s,
# plus the opentelemetry-proto venv on the first run.
tier_step e2e e2e/tracing.sh 12 build e2e/tracing.sh
tier_step checks checks/kubernetes-manifests.sh 40 "" checks/kubernetes-manifests.sh
tier_step checks checks/hadolint.sh 5 "" checks/hadolint.sh
tier_step checks checks/promtool.sh 12 "" checks/promtool.sh
# The run itself; waiting for the background build comes on top when the steps before
# it did not cover it (274 s cold in the background of the steps before, on a fresh clone).
tier_step fuzz "fuzz: ${FUZZ_CHECK_SECONDS} s a target, ${FUZZ_CHECK_JOBS} at a time" 135 build fuzz_check

FUZZ_PLANNED=no
if [ $# -eq 0 ] || [[ " $* " == *" fuzz "* ]]; then FUZZ_PLANNED=yes; fi
TIER_BEFORE_STEP=start_fuzz_build
if command -v redis-server >/dev/null 2>&1; then
    echo "scripts/test.sh: redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') at $(command -v redis-server), hiredis $(pkg-config --modversion hiredis 2>/dev/null || echo '(not installed yet)')"
fi
tier_run scripts/test.sh "$@"
