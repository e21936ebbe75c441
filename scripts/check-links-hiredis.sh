#!/usr/bin/env bash
# Fails unless the test binary really links the system's libhiredis.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(swift build --show-bin-path)
binary=$(find "$bin" -maxdepth 1 -name '*PackageTests.xctest' | head -n 1)
if [ -z "$binary" ]; then
    echo "check-links-hiredis: no test binary under $bin" >&2
    exit 1
fi
if ! line=$(ldd "$binary" | grep -m1 libhiredis); then
    echo "check-links-hiredis: $binary does not link libhiredis" >&2
    exit 1
fi
echo "check-links-hiredis: $(basename "$binary") →$line"
