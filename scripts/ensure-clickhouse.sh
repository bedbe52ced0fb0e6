#!/bin/sh
# Installs what `make run` and `make test` need from Debian, once, when it is
# missing: clickhouse-server (kuzet runs the server itself, internal/chlocal,
# with its own configuration and ports; the package starts no service) and
# poppler-utils (pdftotext, which the report tests read the PDFs with).
set -eu
pkgs=""
clickhouse=""
for p in clickhouse-server /usr/sbin/clickhouse-server /usr/bin/clickhouse; do
	if command -v "$p" >/dev/null 2>&1; then clickhouse=yes; fi
done
if [ -n "${KUZET_CLICKHOUSE_BINARY:-}" ] && [ -x "$KUZET_CLICKHOUSE_BINARY" ]; then clickhouse=yes; fi
[ -n "$clickhouse" ] || pkgs="clickhouse-server clickhouse-client"
command -v pdftotext >/dev/null 2>&1 || pkgs="$pkgs poppler-utils"
[ -n "$pkgs" ] || exit 0
cmd="apt-get update -o DPkg::Lock::Timeout=600 && DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600 $pkgs"
if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages:$pkgs. Install them as root:" >&2
	echo "  sudo sh -c '$cmd'" >&2
	exit 1
fi
echo "installing$pkgs (Debian packages)..." >&2
apt-get update -o DPkg::Lock::Timeout=600 >&2
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600 $pkgs >&2
