#!/usr/bin/env bash
# make loadtest: the whole pipeline as separate processes on loopback ports
# (ClickHouse from `kuzet clickhouse`, NATS from `kuzet nats`, one
# kuzet-collector per OISC of the demo registry, kuzet-ncc), driven by
# `kuzet loadgen`, once with detection off (ncc rules disabled) and once on
# (kuzet's rule pack plus the SigmaHQ Windows rules, correlation and
# incidents on). Each run starts from a fresh NATS store and database.
#
# Environment: RATE (records/s or max; default max), DURATION (default 3m),
# PROFILE=1 (CPU and allocation profiles of each role under
# .work/loadtest/<mode>/), MODES (default "off on"), DEADLINE (wait after
# sending; default 5m), CH_COMPRESSION (the ncc's clickhouse.compression:
# lz4 or none; default lz4), CORR_MAX_BYTES (the ncc's correlation.max_bytes
# per partition; default: the configuration's), SIGMA_DIR, BIN (default bin), WORK (default
# .work/loadtest). Writes <WORK>/<mode>/result.json and summary.txt, copies
# the detection-on result to <WORK>/result.json, and prints the summaries.
set -euo pipefail

RATE=${RATE:-max}
DURATION=${DURATION:-3m}
DEADLINE=${DEADLINE:-5m}
PROFILE=${PROFILE:-0}
CH_COMPRESSION=${CH_COMPRESSION:-lz4}
CORR_MAX_BYTES=${CORR_MAX_BYTES:-}
MODES=${MODES:-off on}
BIN=${BIN:-bin}
WORK=${WORK:-.work/loadtest}
SIGMA_DIR=${SIGMA_DIR:-../shared/conformance/sigmahq/rules/windows}
OISCS="oisc-almaty oisc-astana"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

# free_port sets PORT to a loopback TCP port nothing listens on, below the
# kernel's ephemeral range (where outgoing connections would take it) and
# not given out before by this script.
used=" "
free_port() {
	local p
	while :; do
		p=$(( (RANDOM << 15 | RANDOM) % 12000 + 20000 ))
		case $used in *" $p "*) continue ;; esac
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { used="$used$p "; PORT=$p; return; }
	done
}

# seconds converts a Go duration of h, m and s parts (3m, 1m30s, 20s).
seconds() {
	local d=$1 total=0 n
	while [[ $d =~ ^([0-9]+)([hms])(.*)$ ]]; do
		n=${BASH_REMATCH[1]}
		case ${BASH_REMATCH[2]} in h) n=$((n * 3600)) ;; m) n=$((n * 60)) ;; esac
		total=$((total + n)); d=${BASH_REMATCH[3]}
	done
	[ -z "$d" ] || { echo "DURATION=$1: use h, m and s (3m, 90s)" >&2; exit 2; }
	echo "$total"
}

# wait_ready waits until http://$1/readyz answers 200 (60 s at most),
# while process $4 runs.
wait_ready() {
	for _ in $(seq 600); do
		curl -fsS -o /dev/null "http://$1/readyz" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || break
		sleep 0.1
	done
	echo "loadtest: $2 not ready at $1; its log:" >&2
	tail -20 "$3" >&2
	exit 1
}

[ -d "$SIGMA_DIR" ] || { echo "loadtest: no SigmaHQ rules at $SIGMA_DIR (SIGMA_DIR=)" >&2; exit 1; }
dur_s=$(seconds "$DURATION")
rm -rf "$WORK"
mkdir -p "$WORK"
pprof=false
[ "$PROFILE" = 1 ] && pprof=true

# One ClickHouse for both runs, a database each.
free_port; ch_port=$PORT
"$BIN/kuzet" clickhouse -dir "$WORK/clickhouse" -port "$ch_port" >"$WORK/clickhouse.out" 2>"$WORK/clickhouse.log" &
ch_wrapper=$!
pids+=("$ch_wrapper")
for _ in $(seq 300); do grep -q "serving on" "$WORK/clickhouse.log" && break; sleep 0.1; done
ch_pid=$(sed -n 's/.*, pid \([0-9]*\)$/\1/p' "$WORK/clickhouse.log" | head -1)
[ -n "$ch_pid" ] || { echo "loadtest: ClickHouse did not start:" >&2; cat "$WORK/clickhouse.log" >&2; exit 1; }

# `kuzet apikey` prints a new key and its hash; keep both from one call.
out=$("$BIN/kuzet" apikey 2>/dev/null)
key=$(sed -n 's/^key: *//p' <<<"$out")
hash=$(sed -n 's/^hash: *\(sha256:[0-9a-f]*\).*/\1/p' <<<"$out")

status=0
for mode in $MODES; do
	dir="$WORK/$mode"
	mkdir -p "$dir"
	db="loadtest_$mode"
	role_pids=()

	free_port; nats_port=$PORT
	nats_prof=()
	if [ "$PROFILE" = 1 ]; then
		free_port; nats_prof=(-prof-port "$PORT")
		ops_nats="nats=127.0.0.1:$PORT"
	fi
	"$BIN/kuzet" nats -port "$nats_port" -store "$dir/nats" -log-level warn "${nats_prof[@]}" >"$dir/nats.log" 2>&1 &
	nats_pid=$!
	pids+=("$nats_pid"); role_pids+=("$nats_pid")
	for _ in $(seq 300); do grep -q "^nats nats://" "$dir/nats.log" && break; sleep 0.1; done
	nats_url="nats://127.0.0.1:$nats_port"

	targets=()
	pidflags=(--pid "nats=$nats_pid" --pid "clickhouse=$ch_pid")
	ops_addrs=()
	for oisc in $OISCS; do
		name=${oisc#oisc-}
		free_port; ops="127.0.0.1:$PORT"
		free_port; sys="127.0.0.1:$PORT"
		free_port; win="127.0.0.1:$PORT"
		free_port; zeek="127.0.0.1:$PORT"
		free_port; sur="127.0.0.1:$PORT"
		cat >"$dir/collector-$name.yaml" <<YAML
id: lt-$name
oisc: $oisc
data_dir: $dir/collectors/$name
journal: true
nats: {url: "$nats_url"}
http: {listen: "$ops", pprof: $pprof}
log: {level: warn, format: text}
registry_file: configs/registry.yaml
inputs:
  - {name: syslog-tcp, type: syslog_tcp, listen: "$sys", pipeline: syslog}
  - {name: winevent-http, type: http, listen: "$win", pipeline: winevent, keys: ["$hash"]}
  - {name: zeek-http, type: http, listen: "$zeek", pipeline: zeek, keys: ["$hash"]}
  - {name: suricata-http, type: http, listen: "$sur", pipeline: suricata, keys: ["$hash"]}
YAML
		"$BIN/kuzet-collector" -config "$dir/collector-$name.yaml" >"$dir/collector-$name.log" 2>&1 &
		p=$!
		pids+=("$p"); role_pids+=("$p")
		wait_ready "$ops" "collector $name" "$dir/collector-$name.log" "$p"
		targets+=(--target "$oisc:syslog=$sys,winevent=$win,zeek=$zeek,suricata=$sur")
		pidflags+=(--pid "collector-$name=$p")
		ops_addrs+=("collector-$name=$ops")
	done

	if [ "$mode" = on ]; then
		rules="rules: {builtin: true, dirs: [\"$SIGMA_DIR\"]}"
	else
		rules="rules: {disabled: true}"
	fi
	free_port; ncc_ops="127.0.0.1:$PORT"
	cat >"$dir/ncc.yaml" <<YAML
id: ncc-1
nats: {url: "$nats_url"}
clickhouse: {addr: ["127.0.0.1:$ch_port"], database: $db, compression: $CH_COMPRESSION}
http: {listen: "$ncc_ops", pprof: $pprof}
log: {level: warn, format: text}
$rules
notifications: {disabled: true}   # the clocks run; nothing is sent to the demo endpoints
digests: {disabled: true}   # a daily job: on a fresh database it would render yesterday's PDFs
                            # during the run (about 1.9 s of CPU), counted against its events
YAML
	[ -z "$CORR_MAX_BYTES" ] || echo "correlation: {max_bytes: $CORR_MAX_BYTES}" >>"$dir/ncc.yaml"
	"$BIN/kuzet-ncc" -config "$dir/ncc.yaml" >"$dir/ncc.log" 2>&1 &
	p=$!
	pids+=("$p"); role_pids+=("$p")
	wait_ready "$ncc_ops" ncc "$dir/ncc.log" "$p"
	pidflags+=(--pid "ncc=$p")
	ops_addrs+=("ncc=$ncc_ops")

	prof_pids=()
	if [ "$PROFILE" = 1 ]; then
		ops_addrs+=("$ops_nats")
		for a in "${ops_addrs[@]}"; do
			curl -fsS -o "$dir/${a%%=*}.cpu.pprof" "http://${a#*=}/debug/pprof/profile?seconds=$dur_s" &
			prof_pids+=($!)
		done
	fi

	echo "== detection $mode: rate $RATE for $DURATION" >&2
	set +e
	KUZET_LOADGEN_KEY=$key "$BIN/kuzet" loadgen --label "detection $mode" --rate "$RATE" --duration "$DURATION" \
		--deadline "$DEADLINE" --clickhouse "127.0.0.1:$ch_port" --database "$db" "${targets[@]}" "${pidflags[@]}" \
		--journal "$dir/collectors" --ncc-metrics "http://$ncc_ops/metrics" --out "$dir/result.json" >"$dir/summary.txt" 2>"$dir/loadgen.log"
	rc=$?
	set -e
	[ $rc -eq 0 ] || { status=1; echo "loadtest: detection $mode: kuzet loadgen exit $rc" >&2; tail -5 "$dir/loadgen.log" >&2; }

	if [ "$PROFILE" = 1 ]; then
		for p in "${prof_pids[@]}"; do wait "$p" || true; done
		for a in "${ops_addrs[@]}"; do
			curl -fsS -o "$dir/${a%%=*}.allocs.pprof" "http://${a#*=}/debug/pprof/allocs" || true
		done
	fi
	# Each role's metrics as the run left them (write steps, batch sizes,
	# latency histogram), to read where the time went.
	for a in "${ops_addrs[@]}"; do
		curl -fsS -o "$dir/${a%%=*}.metrics" "http://${a#*=}/metrics" 2>/dev/null || true
	done
	# Stop in order: the roles (they drain and flush), then NATS.
	for p in "${role_pids[@]:1}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${role_pids[@]:1}"; do wait "$p" 2>/dev/null || true; done
	kill -TERM "$nats_pid" 2>/dev/null || true
	wait "$nats_pid" 2>/dev/null || true
done

[ -f "$WORK/on/result.json" ] && cp "$WORK/on/result.json" "$WORK/result.json"
echo "(figures on this machine as it is: other processes running here share its cores)"
for mode in $MODES; do cat "$WORK/$mode/summary.txt" 2>/dev/null || true; done
[ "$PROFILE" = 1 ] && echo "profiles: $WORK/*/*.pprof (go tool pprof -top $BIN/kuzet-ncc $WORK/on/ncc.cpu.pprof)"
[ -f "$WORK/result.json" ] && echo "result: $WORK/result.json"
exit $status
