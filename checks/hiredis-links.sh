#!/usr/bin/env bash
# Fails unless the test binary really links the system's libhiredis.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(swift build --show-bin-path)
binary=$(find "$bin" -maxdepth 1 -name '*PackageTests.xctest' | sed -n 1p)
if [ -z "$binary" ]; then
    echo "checks/hiredis-links: no test binary under $bin" >&2
    exit 1
fi
# ldd's whole answer first, then the match: `ldd | grep -m1` under pipefail failed when
# grep left before ldd's last line and ldd died of SIGPIPE (checks/shell-pipes.py).
libraries=$(ldd "$binary")
if ! line=$(grep -m1 libhiredis <<<"$libraries"); then
    echo "checks/hiredis-links: $binary does not link libhiredis" >&2
    exit 1
fi
echo "checks/hiredis-links: $(basename "$binary") →$line"
