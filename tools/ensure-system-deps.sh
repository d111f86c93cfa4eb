#!/usr/bin/env bash
# Install, only when missing, the system programs the browser and database tests need:
# chromium, its chromedriver, and PostgreSQL's server binaries (initdb, pg_ctl, postgres).
# Runs `apt-get update` first only when something has to be installed. Needs root for that;
# without root it prints what is missing and how to install it, and exits 1.
set -euo pipefail

have_pg() {
    local bin
    for bin in /usr/lib/postgresql/*/bin; do
        [[ -x "$bin/initdb" && -x "$bin/pg_ctl" && -x "$bin/postgres" ]] && return 0
    done
    return 1
}

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
have_pg || missing+=(postgresql)

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "missing system packages: ${missing[*]}; install them as root with:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package may start a cluster service; the tests start their own throw-away server.
if ! have_pg; then
    echo "postgresql installed but no initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin" >&2
    exit 1
fi
