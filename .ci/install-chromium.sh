#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser test (test/integration/dashboard.browser.test.ts), through
# apt, when it is not there yet. playwright-core drives it; it never downloads a browser of its own.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
else
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q chromium
/usr/bin/chromium --version
