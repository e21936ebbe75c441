#!/usr/bin/env bash
# Coverage-guided fuzzing (docs/fuzzing.md): builds the libFuzzer targets of Fuzz/ with
# ASan into .build-fuzz (incremental), then runs each target for FUZZ_SECONDS on a copy
# of its committed seed corpus (Fuzz/Corpus/<target>). Fails, naming the input file, if
# the build fails or any target finds a crash, a broken invariant, a leak, a timeout or
# an out-of-memory. Prints each target's executions per second and corpus size.
#
#   FUZZ_SECONDS=25        seconds per target (make fuzz-check: 25; make fuzz: 300)
#   FUZZ_JOBS=N            targets run at once (default: the cores, nproc); each
#                          libFuzzer process uses one core
#   FUZZ_TARGETS="A B"     run only these targets (default: all nine)
#   FUZZ_ONLY=build|run    only build (scripts/test.sh builds in the background, then runs),
#                          or only run what is built
#   FUZZ_MERGE=1           merge the new interesting inputs into Fuzz/Corpus/<target>
#   FUZZ_CONFIG=release    build optimized (default debug: see docs/fuzzing.md)
#   FUZZ_LOCK=FILE         hold this flock(1) lock while building (shared build machines)
#   FUZZ_BUILD_PATH=DIR    build here instead of .build-fuzz: a directory that outlives the
#                          clone (as lab/container.sh keeps its images) makes CI's build
#                          incremental (about 2 min) instead of cold (about 8.5 min)
#   FUZZ_ARTIFACTS=DIR     where crash inputs and logs go (default .build-fuzz/artifacts)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-25}
JOBS=${FUZZ_JOBS:-$(nproc)}
ONLY=${FUZZ_ONLY:-}
ALL_TARGETS="FuzzPaymentRequest FuzzJSONParser FuzzMoney FuzzAPIKeys FuzzRedisURL FuzzHiredisReplyReader FuzzChargeRequest FuzzLedgerWindow FuzzProcessorReply"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
CONFIG=${FUZZ_CONFIG:-debug}
BUILD_PATH=${FUZZ_BUILD_PATH:-.build-fuzz}
ARTIFACTS=${FUZZ_ARTIFACTS:-$BUILD_PATH/artifacts}
SWIFT=${SWIFT:-swift}

fail() {
    echo "fuzz: FAILED: $*" >&2
    exit 1
}

if ! [[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]]; then
    fail "FUZZ_SECONDS must be a positive number of seconds, not '$SECONDS_PER_TARGET'"
fi
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || fail "FUZZ_JOBS must be a positive number, not '$JOBS'"
[[ -z $ONLY || $ONLY == build || $ONLY == run ]] || fail "FUZZ_ONLY must be build or run, not '$ONLY'"
for target in $TARGETS; do
    [[ " $ALL_TARGETS " == *" $target "* ]] || fail "unknown target $target (known: $ALL_TARGETS)"
done

mkdir -p "$ARTIFACTS"
# SwiftPM's link to the configuration's products (.build-fuzz/debug).
bin_dir=$BUILD_PATH/$CONFIG
if [[ $ONLY != run ]]; then
    # The fuzz package pins what the root pins: the same versions, and no resolution of
    # its own unless the root's pins changed.
    if [[ -f Package.resolved && (! -f Fuzz/Package.resolved || Package.resolved -nt Fuzz/Package.resolved) ]]; then
        cp Package.resolved Fuzz/Package.resolved
    fi
    # `--sanitize=fuzzer` makes SwiftPM link libFuzzer's own main (it then does not rename
    # each executable's entry point to <target>_main and --defsym main to it, which would
    # shadow libFuzzer's main with an empty one). The Swift code also needs ASan, in ONE
    # flag: swiftc keeps only the last -sanitize= it is given, so `--sanitize=fuzzer
    # --sanitize=address` compiles Swift with ASan but without coverage instrumentation.
    # No index store and no C debug info (two copies of BoringSSL): about 10% of a cold build.
    build=("$SWIFT" build --package-path Fuzz --build-path "$BUILD_PATH" -c "$CONFIG" --disable-index-store
        --sanitize=fuzzer -Xswiftc "-sanitize=fuzzer,address" -Xcc -g0)
    if [[ $CONFIG == release ]]; then
        # HiredisReplyReader is internal: @testable import needs testability.
        build+=(-Xswiftc -enable-testing)
    fi
    echo "fuzz: building the fuzz targets ($CONFIG, ASan + libFuzzer) in $BUILD_PATH"
    started=$(date +%s)
    if [[ -n ${FUZZ_LOCK:-} ]]; then
        build=(flock "$FUZZ_LOCK" "${build[@]}")
    fi
    if ! "${build[@]}" >"$ARTIFACTS/build.log" 2>&1; then
        if grep -q 'error:' "$ARTIFACTS/build.log"; then
            grep 'error:' "$ARTIFACTS/build.log" | sed -n 1,40p >&2
        else
            tail -40 "$ARTIFACTS/build.log" >&2
        fi
        fail "the fuzz build failed; full log: $ARTIFACTS/build.log"
    fi
    echo "fuzz: built in $(($(date +%s) - started)) s"
    [[ $ONLY != build ]] || exit 0
fi
for target in $TARGETS; do
    [[ -x $bin_dir/$target ]] || fail "$bin_dir/$target is not built (FUZZ_ONLY=run runs what a build left)"
done

# Inputs longer than this are not generated. JSON targets get room for the 64 KiB seed
# (a wide object must stay cheap to refuse); the others stay small and fast.
max_len() {
    case $1 in
        FuzzJSONParser | FuzzPaymentRequest) echo 70000 ;;
        *) echo 8192 ;;
    esac
}

# hiredis 0.14 callocs an array's element vector as soon as it reads `*<count>`: 13 bytes
# (`*2147483647\r\n`) ask for 16 GiB, which glibc maps lazily but ASan takes minutes to
# set up. An allocation over 2 GiB fails instead (NULL; hiredis answers "Out of memory",
# as it does where the kernel refuses), so the fuzzer does not stall on it. Swift code
# that gets NULL still traps, and is reported.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=2048:detect_leaks=1}
# Swift's own crash backtracer reads the stack in a way ASan reports as a second error;
# libFuzzer's handler already prints the stack and writes the input.
export SWIFT_BACKTRACE=enable=no

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# fuzz_target TARGET: one libFuzzer run on a copy of TARGET's seed corpus; leaves its
# table row in $work/TARGET.row and its exit status in $work/TARGET.status.
fuzz_target() {
    local target=$1 corpus=$work/$1 log=$ARTIFACTS/$1/run.log status=0
    mkdir -p "$corpus" "$ARTIFACTS/$target"
    cp Fuzz/Corpus/"$target"/* "$corpus"/
    local seeds options
    seeds=$(find "$corpus" -type f | wc -l)
    options=(-max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$target")"
        -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$target/")
    if [[ -f Fuzz/Dictionaries/$target.dict ]]; then
        options+=(-dict="Fuzz/Dictionaries/$target.dict")
    fi
    "$bin_dir/$target" "${options[@]}" "$corpus" >"$log" 2>&1 || status=$?
    local runs rate added rss
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    printf '%-24s %10s %9s %8s %14s %8s\n' "$target" "${runs:-?}" "${rate:-?}" "$seeds→$(find "$corpus" -type f | wc -l)" \
        "${added:-?}" "${rss:-?}" >"$work/$target.row"
    echo "$status" >"$work/$target.status"
}

# report TARGET: its row, and when it stopped on a finding, what and where.
report() {
    local target=$1 status log=$ARTIFACTS/$1/run.log artifact
    status=$(cat "$work/$target.status" 2>/dev/null || echo "?")
    cat "$work/$target.row" 2>/dev/null || printf '%-24s (no result)\n' "$target"
    [[ $status == 0 ]] && return 0
    echo "fuzz: $target stopped with status $status:" >&2
    grep -E 'invariant violated|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|Fatal error|SUMMARY|ALARM|out-of-memory' "$log" | sed -n 1,8p >&2 || true
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "fuzz: $target input: ${artifact:-none written}; log: $log" >&2
    echo "fuzz: reproduce with: $bin_dir/$target ${artifact:-<input>}" >&2
    failed+=("$target")
}

# FUZZ_JOBS targets at a time, each row printed as its target ends.
failed=()
declare -A running=()
echo "fuzz: $(wc -w <<<"$TARGETS") targets, ${SECONDS_PER_TARGET} s each, $JOBS at a time"
printf '%-24s %10s %9s %8s %14s %8s\n' target runs exec/s "corpus" "new inputs" "rss MB"
for target in $TARGETS; do
    while ((${#running[@]} >= JOBS)); do
        wait -n -p done_pid || true
        report "${running[$done_pid]}"
        unset "running[$done_pid]"
    done
    fuzz_target "$target" &
    running[$!]=$target
done
while ((${#running[@]} > 0)); do
    wait -n -p done_pid || true
    report "${running[$done_pid]}"
    unset "running[$done_pid]"
done

if [[ ${FUZZ_MERGE:-0} == 1 ]]; then
    for target in $TARGETS; do
        [[ " ${failed[*]} " != *" $target "* ]] || continue
        before=$(find Fuzz/Corpus/"$target" -type f | wc -l)
        "$bin_dir/$target" -merge=1 -max_len="$(max_len "$target")" Fuzz/Corpus/"$target" "$work/$target" \
            >>"$ARTIFACTS/$target/run.log" 2>&1 || fail "merging $target's corpus (log: $ARTIFACTS/$target/run.log)"
        echo "fuzz: $target: merged $(($(find Fuzz/Corpus/"$target" -type f | wc -l) - before)) new inputs into Fuzz/Corpus/$target"
    done
fi

((${#failed[@]} == 0)) || fail "${failed[*]}: see the inputs and logs above"
echo "fuzz: all targets ran ${SECONDS_PER_TARGET} s each without a finding"
