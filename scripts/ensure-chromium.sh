#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests if it is missing (Playwright drives it;
# `playwright install` cannot download browsers on a closed network).
set -euo pipefail
command -v chromium >/dev/null && exit 0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "ensure-chromium: installing chromium from Debian packages" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
  || { as_root apt-get update -q >&2; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }
