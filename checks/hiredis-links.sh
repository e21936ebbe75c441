#!/usr/bin/env bash
# Fails unless the test binary really links the system's libhiredis.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(swift build --show-bin-path)
binary=$(find "$bin" -maxdepth 1 -name '*PackageTests.xctest' | head -n 1)
if [ -z "$binary" ]; then
    echo "checks/hiredis-links: no test binary under $bin" >&2
    exit 1
fi
if ! line=$(ldd "$binary" | grep -m1 libhiredis); then
    echo "checks/hiredis-links: $binary does not link libhiredis" >&2
    exit 1
fi
echo "checks/hiredis-links: $(basename "$binary") →$line"
