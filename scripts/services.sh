#!/bin/sh
# Install (Debian) and start what the test suite talks to: Redis, PostgreSQL, rsyslog, Chromium;
# and valgrind, which `make bench` counts instructions with.
# Safe to run again: only what is missing or stopped is touched.
set -eu

need_apt=""
command -v rsyslogd >/dev/null 2>&1 || need_apt="$need_apt rsyslog"
command -v chromium >/dev/null 2>&1 || need_apt="$need_apt chromium"
command -v redis-server >/dev/null 2>&1 || need_apt="$need_apt redis-server"
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt="$need_apt postgresql"
command -v valgrind >/dev/null 2>&1 || need_apt="$need_apt valgrind"
if [ -n "$need_apt" ]; then
    echo "installing:$need_apt"
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need_apt >/dev/null
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "starting redis on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo "starting postgresql on 127.0.0.1:5432"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi

for i in $(seq 1 30); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q && exit 0
    sleep 1
done
echo "services did not come up" >&2
exit 1
