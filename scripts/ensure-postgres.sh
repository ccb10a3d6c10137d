#!/usr/bin/env bash
# Print the SQLAlchemy URL of a running PostgreSQL server the tests may create databases on.
# Uses a server already running on 127.0.0.1:5432 (trust auth, as on the CI machines);
# otherwise installs Debian's postgresql, starts it, sets a password and uses that.
# Everything but the URL goes to stderr.
set -euo pipefail
log() { echo "ensure-postgres: $*" >&2; }

if [ -n "${PASSLINE_TEST_POSTGRES_URL:-}" ]; then echo "$PASSLINE_TEST_POSTGRES_URL"; exit 0; fi

PW=passline-test
try_url() { PGCONNECT_TIMEOUT=3 PGPASSWORD="${3:-}" psql -h 127.0.0.1 -p 5432 -U "$1" -d "$2" -Atc 'select 1' >/dev/null 2>&1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v psql >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
  log "installing PostgreSQL from Debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
    || { as_root apt-get update -q >&2; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

for user in postgres "$(id -un)"; do
  if try_url "$user" postgres; then echo "postgresql+psycopg://$user@127.0.0.1:5432/postgres"; exit 0; fi
done
if ! try_url postgres postgres "$PW"; then
  log "setting a password for the postgres role (loopback uses password auth)"
  as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD '$PW'\"" >&2
fi
if try_url postgres postgres "$PW"; then
  echo "postgresql+psycopg://postgres:$PW@127.0.0.1:5432/postgres"; exit 0
fi
log "could not connect to PostgreSQL on 127.0.0.1:5432"; exit 1
