#!/bin/sh
# Installs Debian's clickhouse-server once, when it is missing. kuzet runs
# the server itself (internal/chlocal) with its own configuration and ports;
# the package starts no service.
set -eu
for p in clickhouse-server /usr/sbin/clickhouse-server /usr/bin/clickhouse; do
	if command -v "$p" >/dev/null 2>&1; then exit 0; fi
done
if [ -n "${KUZET_CLICKHOUSE_BINARY:-}" ] && [ -x "$KUZET_CLICKHOUSE_BINARY" ]; then exit 0; fi
cmd="apt-get update -o DPkg::Lock::Timeout=600 && DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600 clickhouse-server clickhouse-client"
if [ "$(id -u)" -ne 0 ]; then
	echo "clickhouse-server is not installed. Install it as root:" >&2
	echo "  sudo sh -c '$cmd'" >&2
	exit 1
fi
echo "installing clickhouse-server (Debian package)..." >&2
apt-get update -o DPkg::Lock::Timeout=600 >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600 clickhouse-server clickhouse-client >&2
