#!/usr/bin/env bash
# Install Debian's redis-server for the stream connector tests if it is missing. The tests
# start their own private server on a free port; nothing here starts or changes a service.
set -euo pipefail
command -v redis-server >/dev/null && exit 0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "ensure-redis: installing redis-server from Debian packages" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2 \
  || { as_root apt-get update -q >&2; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2; }
