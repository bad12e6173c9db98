#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser/): playwright-core drives it at
# /usr/bin/chromium, so no browser is downloaded from Playwright's CDN. With a CJK font, or the
# zh-CN console screenshots show empty boxes. Idempotent: does nothing when both are there;
# refreshes the package lists only when the plain install fails.
set -euo pipefail

PACKAGES=(chromium fonts-wqy-zenhei)

if [ -x /usr/bin/chromium ] && [ -n "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

if ! $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

test -x /usr/bin/chromium || { echo "chromium was installed but /usr/bin/chromium is missing" >&2; exit 1; }
