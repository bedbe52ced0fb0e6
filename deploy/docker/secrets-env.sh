#!/bin/sh
# secrets-env: the entrypoint of the kuzet image, also mounted into the
# ClickHouse and Grafana containers of deploy/compose. Each file in
# $SECRETS_DIR (default /run/secrets, where compose mounts its secrets) whose
# name is an environment variable's name (upper-case letters, digits and _,
# not starting with a digit), for example KUZET_CLICKHOUSE_PASSWORD, becomes
# that variable, its value the file's contents without trailing newlines;
# then the arguments are executed. Other files (a leaf user's password_file)
# are left alone. Values never appear on a command line or in the image.
set -eu
dir="${SECRETS_DIR:-/run/secrets}"
if [ -d "$dir" ]; then
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		name="${f##*/}"
		case "$name" in
		'' | [0-9]* | *[!A-Z0-9_]*) continue ;;
		esac
		value="$(cat "$f")"
		export "$name=$value"
	done
fi
if [ "$#" -eq 0 ]; then
	echo "secrets-env: no command" >&2
	exit 2
fi
exec "$@"
