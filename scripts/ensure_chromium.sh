#!/usr/bin/env bash
# Headless Chromium for the report's browser test (tests/test_report.py).
# Idempotent: does nothing when `chromium` is already on PATH; otherwise
# installs Debian's package (needs root and access to the package mirror,
# as in CI).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_chromium: chromium is missing and this is not root;" \
         "install it with: sudo apt-get install -y chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
