#!/bin/sh
# Installs, once, the Debian packages that `make run` and `make test` need
# and that are missing: clickhouse-server (kuzet runs the server itself,
# internal/chlocal, with its own configuration and ports; the package
# starts no service), chromium (the console's browser test drives it
# headless through the DevTools protocol), poppler-utils (pdftotext, which
# the report tests read the PDFs with) and prometheus (for promtool, which
# internal/dashboards checks and unit-tests deploy/prometheus's rules with;
# kuzet does not use the service the package also ships), zookeeper
# (with its Java runtime: the coordination service of the replicated
# ClickHouse tests, two clickhouse-server replicas on loopback, started by
# internal/chlocal; ClickHouse 18.16 has no Keeper of its own) and systemd
# (for systemd-analyze, which deploy/deploytest verifies the units of
# deploy/systemd with; nothing is started).
set -eu
pkgs=""
have() {
	for p in "$@"; do
		if command -v "$p" >/dev/null 2>&1; then return 0; fi
	done
	return 1
}
# axe-core, from npm, for the console's accessibility test.
"$(dirname "$0")/ensure-axe.sh"
if ! have clickhouse-server /usr/sbin/clickhouse-server /usr/bin/clickhouse &&
	! { [ -n "${KUZET_CLICKHOUSE_BINARY:-}" ] && [ -x "$KUZET_CLICKHOUSE_BINARY" ]; }; then
	pkgs="$pkgs clickhouse-server clickhouse-client"
fi
if ! have chromium && ! { [ -n "${KUZET_CHROMIUM:-}" ] && [ -x "$KUZET_CHROMIUM" ]; }; then
	pkgs="$pkgs chromium"
fi
have pdftotext || pkgs="$pkgs poppler-utils"
have promtool || pkgs="$pkgs prometheus"
{ [ -f "${KUZET_ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}" ] && have java; } || pkgs="$pkgs zookeeper"
have systemd-analyze || pkgs="$pkgs systemd"
[ -z "$pkgs" ] && exit 0
cmd="apt-get update -o DPkg::Lock::Timeout=600 && DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600$pkgs"
if [ "$(id -u)" -ne 0 ]; then
	echo "missing:$pkgs. Install as root:" >&2
	echo "  sudo sh -c '$cmd'" >&2
	exit 1
fi
echo "installing$pkgs (Debian packages)..." >&2
apt-get update -o DPkg::Lock::Timeout=600 >&2
# shellcheck disable=SC2086 # the package list splits on purpose
DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600 $pkgs >&2
