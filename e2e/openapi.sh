#!/usr/bin/env bash
# The OpenAPI check (in `make test`): a live payment-api (failure rate 0, no rate limits)
# on a throwaway redis-server, fuzzed by schemathesis from openapi.yaml. It fails on any
# 5xx, any status, content type, header or body the document does not describe, and any
# invalid input the server accepts. Then the same with authentication on. The live
# /openapi.yaml must be byte-identical to the repo's file.
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

echo "== authentication off"
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 LOG_LEVEL=error
wait_ready "$port"
curl -s "http://127.0.0.1:$port/openapi.yaml" >"$LIB_WORKDIR/served.yaml"
check "GET /openapi.yaml serves the repo's openapi.yaml" same \
    "$(cmp -s "$LIB_WORKDIR/served.yaml" openapi.yaml && echo same || echo different)"
fuzz open "$port"
check "schemathesis: no 5xx, every response as documented, invalid input refused" 0 "$(cat "$LIB_WORKDIR/open.status")"

echo "== authentication on"
keys="$LIB_WORKDIR/api-keys"
echo "fuzz $(printf '%s' fuzz-secret | sha256sum | cut -d' ' -f1) fuzz-tenant" >"$keys"
port=$(free_port)
start_api "$port" REDIS_URL="redis://127.0.0.1:$redis_port" PAYMENT_FAILURE_RATE=0 RATE_LIMIT_CAPACITY=0 LOG_LEVEL=error \
    API_KEYS_FILE="$keys"
wait_ready "$port"
fuzz authed "$port" --header "Authorization: Bearer fuzz.fuzz-secret"
check "schemathesis with a valid key: the same checks pass" 0 "$(cat "$LIB_WORKDIR/authed.status")"
fuzz anonymous "$port" --include-path-regex '^/(pay|ledger)'
check "schemathesis without a key: every answer a documented 401" 0 "$(cat "$LIB_WORKDIR/anonymous.status")"

report_checks
