#!/usr/bin/env bash
# The project's local services for development and CI: `scripts/services.sh start|stop|status <service>`.
# Each service is one file in scripts/services.d/ with its start/stop/status functions.
# Runs as root in a fresh checkout (CI) or as an ordinary user with the packages already installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${SERVICES_DIR:-$ROOT/.services}"

log() { printf '%s\n' "$*" >&2; }
die() { log "services.sh: $*"; exit 1; }

# Installs Debian packages when missing; `apt-get update` only if the plain install fails.
apt_install() {
  [ "$(id -u)" -eq 0 ] || die "need root to install $*"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends "$@" >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends "$@" >&2
  fi
}

# ---------------------------------------------------------------------------------------------
# One file per service in services.d/, each defining <name>_start, <name>_stop and <name>_status.
SERVICES=()
for file in "$ROOT"/scripts/services.d/*.sh; do
  # shellcheck source=/dev/null
  source "$file"
  SERVICES+=("$(basename "$file" .sh)")
done

usage() {
  log "usage: $0 start|stop|status <service…>   services: ${SERVICES[*]}"
  exit 2
}

[ $# -ge 2 ] || usage
action="$1"
shift
case "$action" in start | stop | status) ;; *) usage ;; esac
rc=0
for service in "$@"; do
  case " ${SERVICES[*]} " in *" $service "*) ;; *) die "unknown service $service (known: ${SERVICES[*]})" ;; esac
  "${service}_${action}" || rc=$?
done
exit "$rc"
