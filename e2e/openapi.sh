#!/usr/bin/env bash
# The OpenAPI check (in `make test`): a live payment-api (failure rate 0, no rate limits)
# on a throwaway redis-server, fuzzed by schemathesis from openapi.yaml. It fails on any
# 5xx, any status, content type, header or body the document does not describe, and any
# invalid input the server accepts. Then the same with authentication on. The live
# /openapi.yaml must be byte-identical to the repo's file. Before each run it makes the
# payment whose id the document gives as the example of GET /payments/{payment_id}, so
# the fuzzer meets a 200 there too (every other id it makes up is a 404 or a 400).
# schemathesis goes into .tools/schemathesis (git-ignored), from PyPI, on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/lib.sh
lib_init

SCHEMATHESIS_VERSION=4.32.5
VENV=.tools/schemathesis
# bin/schemathesis, not bin/st: --version prints the name it was called by.
if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    echo "e2e/openapi: installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
use_debug_binaries

redis_port=$(free_port)
start_redis "$redis_port"

# fuzz NAME PORT [st options]: one schemathesis run; its output in $LIB_WORKDIR/NAME.txt.
fuzz() {
    local name=$1 port=$2
    shift 2
    local status=0
    # Deterministic generation: a failure is reproduced by running the script again.
    "$VENV/bin/st" run openapi.yaml --url "http://127.0.0.1:$port" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection \
        --phases examples,coverage,fuzzing --max-examples 150 --generation-deterministic --workers 2 \
        --suppress-health-check all "$@" >"$LIB_WORKDIR/$name.txt" 2>&1 || status=$?
    grep -E "^(Test cases|Summary|Operations|API Operations)|passed|failed|errors" "$LIB_WORKDIR/$name.txt" | tail -n 6 | sed 's/^/      /'
    if [ "$status" -ne 0 ]; then
        echo "      schemathesis exited $status; its report:" >&2
        tail -n 80 "$LIB_WORKDIR/$name.txt" >&2
    fi
    echo "$status" >"$LIB_WORKDIR/$name.status"
}

# seed PORT EXAMPLE [HEADER ...]: the payment openapi.yaml's example EXAMPLE (seeded,
# seededForTenant) names, made on PORT, and its id checked against the document's, so
# the two cannot drift apart: the examples phase then finds it (a 200 checked against
# the PaymentLookup schema).
seed() {
    local port=$1 example=$2
    shift 2
    local id answer
    id=$(awk -v name="$example:" '$1 == name { found = 1 } found && $1 == "value:" { print $2; exit }' openapi.yaml)
    answer=$(pay "$port" '{"user_id":"openapi-example","amount":12.34,"currency":"EUR","idempotency_key":"openapi-example"}' "$@")
    check "the payment seeded for the example $example has its id ($id)" "200 $id" "${answer%% *} $(jq -r .payment_id <<<"${answer#* }")"
    local args=()
    for header in "$@"; do args+=(-H "$header"); done
    check "GET /payments/$id finds it charged" charged \
        "$(curl -s "${args[@]}" "http://127.0.0.1:$port/payments/$id" | jq -r .status)"
}

echo "== authentication off"
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 LOG_LEVEL=error
wait_ready "$port"
curl -s "http://127.0.0.1:$port/openapi.yaml" >"$LIB_WORKDIR/served.yaml"
check "GET /openapi.yaml serves the repo's openapi.yaml" same \
    "$(cmp -s "$LIB_WORKDIR/served.yaml" openapi.yaml && echo same || echo different)"
seed "$port" seeded
fuzz open "$port"
check "schemathesis: no 5xx, every response as documented, invalid input refused" 0 "$(cat "$LIB_WORKDIR/open.status")"

echo "== authentication on"
keys="$LIB_WORKDIR/api-keys"
echo "fuzz $(printf '%s' fuzz-secret | sha256sum | cut -d' ' -f1) fuzz-tenant" >"$keys"
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 LOG_LEVEL=error \
    API_KEYS_FILE="$keys"
wait_ready "$port"
seed "$port" seededForTenant "Authorization: Bearer fuzz.fuzz-secret"
fuzz authed "$port" --header "Authorization: Bearer fuzz.fuzz-secret"
check "schemathesis with a valid key: the same checks pass" 0 "$(cat "$LIB_WORKDIR/authed.status")"
# One worker: with two, schemathesis 4.32.5 on Python 3.11 stopped in this run (since
# /payments joined it) with "SystemError: AST constructor recursion depth mismatch" from
# hypothesis describing a filter in two threads at once: its own error, not the server's.
fuzz anonymous "$port" --include-path-regex '^/(pay|payments/|ledger)' --workers 1
check "schemathesis without a key: every answer a documented 401" 0 "$(cat "$LIB_WORKDIR/anonymous.status")"

report_checks
