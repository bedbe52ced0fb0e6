#!/bin/sh
# Makes the compose stack's secrets: one random value per file in
# ${1:-./secrets} (beside this script by default), for each secret that
# compose.yaml names. A file that exists is kept, so the stack's passwords
# do not change under its volumes. The directory is git-ignored and only
# its owner may enter it; the files themselves are readable (0644), since
# compose mounts them into containers that run as other users
# (uid 10001, clickhouse, grafana).
set -eu
dir="${1:-$(dirname "$0")/secrets}"
umask 077
mkdir -p "$dir"
chmod 700 "$dir"
for name in clickhouse_kuzet_password clickhouse_grafana_password clickhouse_cluster_secret \
	leaf_site_almaty grafana_admin_password; do
	f="$dir/$name"
	if [ -s "$f" ]; then
		continue
	fi
	# 32 random bytes as 64 hex digits: no quoting trouble in XML, YAML or URLs.
	od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$f.tmp"
	chmod 644 "$f.tmp"
	mv "$f.tmp" "$f"
	echo "made $f" >&2
done
