#!/bin/sh
# Bring up what make's targets need: scripts/services.sh [SERVICE...], SERVICE among
#   venv        the interpreter can make virtual environments (Debian splits ensurepip off)
#   redis       redis-server installed, one answering on 127.0.0.1:6379
#   postgresql  a server on 127.0.0.1:5432 that lets user postgres in without a password
#   rsyslog     rsyslogd installed (the tests start their own)
#   chromium    chromium installed (the tests run it headless)
#   valgrind    valgrind installed (make bench counts instructions with callgrind)
# The default is all but venv: what the test suite talks to. What is missing is installed
# (Debian, as root) and what is stopped is started; when all is there this is silent and
# takes milliseconds. Where it cannot fix something (not root, no apt-get), it stops at
# once with one line that says what is missing and the command that installs or starts it.
set -eu

PYTHON=${PYTHON:-python3}
PATH=$PATH:/usr/sbin:/sbin  # rsyslogd and the PostgreSQL tools live here, off a user's PATH
REDIS_PORT=6379
PG_PORT=5432

fail() {
    echo "services: $*" >&2
    exit 1
}

found() {
    command -v "$1" >/dev/null 2>&1
}

root() {
    [ "$(id -u)" -eq 0 ]
}

# As root: the command; otherwise the same through sudo, where there is one.
as_root() {
    if root || ! found sudo; then echo "$*"; else echo "sudo $*"; fi
}

# The packages the interpreter lacks to make a virtual environment, if any.
venv_packages() {
    if ! found "$PYTHON"; then
        [ "$PYTHON" = python3 ] || fail "$PYTHON not found: install Python 3.10+, or unset PYTHON"
        echo python3 python3-venv
    elif ! "$PYTHON" -c "import ensurepip" 2>/dev/null; then
        "$PYTHON" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])'
    fi
}

redis_up() {
    redis-cli -h 127.0.0.1 -p $REDIS_PORT ping >/dev/null 2>&1
}

pg_up() {
    pg_isready -h 127.0.0.1 -p $PG_PORT -q
}

pg_trusts() {
    psql -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -w -Atqc "select 1" >/dev/null 2>&1
}

# The Debian cluster that listens on the port ("15 main"), if any.
pg_cluster() {
    pg_lsclusters -h 2>/dev/null | awk -v port=$PG_PORT '$3 == port { print $1, $2; exit }'
}

wait_for() {
    tries=0
    until "$1"; do
        tries=$((tries + 1))
        [ $tries -lt 300 ] || fail "$2 did not come up within 30 s"
        sleep 0.1
    done
}

# Start the server where it is stopped; let the tests in where it asks for a password.
postgresql() {
    if ! pg_up; then
        cluster=$(pg_cluster)
        # shellcheck disable=SC2012 # the versions installed: plain numbers
        [ -n "$cluster" ] || fail "postgresql: no cluster listens on port $PG_PORT; create one" \
            "with: $(as_root pg_createcluster --start -p $PG_PORT \
            "$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)" main)"
        root || fail "postgresql is not running on 127.0.0.1:$PG_PORT; start it with:" \
            "$(as_root pg_ctlcluster "$cluster" start)"
        echo "services: starting postgresql $cluster on 127.0.0.1:$PG_PORT"
        # shellcheck disable=SC2086 # version and name
        pg_ctlcluster --skip-systemctl-redirect $cluster start
        wait_for pg_up postgresql
    fi
    pg_trusts && return
    # A fresh Debian cluster asks for a password on TCP; the tests connect without one.
    cluster=$(pg_cluster)
    hba="/etc/postgresql/$(echo "$cluster" | tr ' ' /)/pg_hba.conf"
    if ! root || [ -z "$cluster" ] || [ ! -f "$hba" ]; then
        fail "postgresql on 127.0.0.1:$PG_PORT wants a password from user postgres; the" \
            "tests need 'host all all 127.0.0.1/32 trust' first in its pg_hba.conf"
    fi
    echo "services: postgresql now trusts connections from loopback ($hba)"
    { printf '# The secmon test suite connects from loopback without a password.\n'
      printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'
      cat "$hba"; } >"$hba.new"
    chown --reference="$hba" "$hba.new"
    chmod --reference="$hba" "$hba.new"
    mv "$hba.new" "$hba"
    # shellcheck disable=SC2086 # version and name
    pg_ctlcluster --skip-systemctl-redirect $cluster reload
    wait_for pg_trusts "postgresql (trust from loopback)"
}

services=${*:-redis postgresql rsyslog chromium}

# 1. Install what is missing (one apt-get for all of it).
packages=""
for service in $services; do
    case $service in
        venv) missing=$(venv_packages); packages="$packages${missing:+ $missing}" ;;
        redis) { found redis-server && found redis-cli; } || packages="$packages redis-server" ;;
        postgresql)
            { found pg_isready && found psql && found pg_lsclusters; } ||
                packages="$packages postgresql" ;;
        rsyslog) found rsyslogd || packages="$packages rsyslog" ;;
        chromium) found chromium || found chromium-browser || packages="$packages chromium" ;;
        valgrind) found valgrind || packages="$packages valgrind" ;;
        *) fail "unknown service '$service' (venv, redis, postgresql, rsyslog, chromium," \
               "valgrind)" ;;
    esac
done
if [ -n "$packages" ]; then
    if ! found apt-get; then
        fail "not installed:$packages (Debian package names); install them with this" \
             "system's package manager"
    elif ! root; then
        fail "not installed:$packages; install with: $(as_root "apt-get install$packages")"
    fi
    echo "services: installing$packages"
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes \
        apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi

# 2. Start what is stopped.
for service in $services; do
    case $service in
        redis)
            if ! redis_up; then
                echo "services: starting redis on 127.0.0.1:$REDIS_PORT"
                redis-server --daemonize yes --bind 127.0.0.1 -::1 --port $REDIS_PORT \
                    --save "" --appendonly no >/dev/null
                wait_for redis_up redis
            fi ;;
        postgresql)
            if ! pg_trusts; then postgresql; fi ;;
    esac
done
