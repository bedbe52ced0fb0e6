#!/bin/sh
# Installs axe-core, at the version internal/e2e/axe/package-lock.json pins,
# for the console's accessibility test (internal/e2e/axe_test.go), when
# internal/e2e/axe/node_modules lacks it or holds another version. Without
# npm it fails under CI=true and warns otherwise (the test then skips).
set -eu
dir="$(cd "$(dirname "$0")/.." && pwd)/internal/e2e/axe"
if ! command -v npm >/dev/null 2>&1; then
	[ -f "$dir/node_modules/axe-core/axe.min.js" ] && exit 0
	msg="npm is missing: the console's accessibility test needs axe-core from npm (npm ci in internal/e2e/axe). Install Debian's npm: apt-get install npm"
	if [ "${CI:-}" = true ]; then
		echo "$msg" >&2
		exit 1
	fi
	echo "$msg; until then the test skips" >&2
	exit 0
fi
version() { node -p "require('$1').version" 2>/dev/null || true; }
want="$(node -p "require('$dir/package-lock.json').packages['node_modules/axe-core'].version")"
[ "$(version "$dir/node_modules/axe-core/package.json")" = "$want" ] && exit 0
echo "installing axe-core $want (npm ci in internal/e2e/axe)..." >&2
cd "$dir" && npm ci --no-audit --no-fund >&2
