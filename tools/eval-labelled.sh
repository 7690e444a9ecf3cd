#!/bin/sh
# eval-labelled.sh - mamori on the labelled flow datasets (docs/labelled.md):
# per dataset, mamori-import (IPFIX pcap at the records' own times, 1:1,
# and the ground truth) -> mamori-collector --replay (a [group] of the
# dataset's internal network, sampling_rate 1) -> Redis ->
# mamori-detector --replay-all --json -> mamori eval; prints each table.
#
#   sh tools/eval-labelled.sh [DATASET ...]     (from the repo root)
#
# DATASET: file names (or paths) in $LABELLED; default: all of them.
# Environment: BUILD (build), LABELLED (../shared/captures/labelled),
# MM_KEEP_TMP=1 keeps the work files, EVAL_ARGS extra `mamori eval`
# arguments (e.g. -v), OUT=DIR also copies each dataset's files (truth,
# alerts, logs, eval table and CSV) into DIR.
# Exit status: 0 when every chain ran and eval printed its table.
set -eu
cd "$(dirname -- "$0")/.."
. tests/integration/lib.sh
LABELLED=${LABELLED:-../shared/captures/labelled}
BIN=$BUILD/bin
for p in mamori-import mamori-collector mamori-detector mamori; do
	[ -x "$BIN/$p" ] || fail "$BIN/$p not built (make)"
done
command -v redis-server >/dev/null || fail "redis-server not installed"

# File-level labels: the datasets whose lines carry none (captures/README.md).
file_label() {
	case $1 in
	*test11-portscan*) echo portscan ;;                   # a TCP port scan by 10.8.0.69
	*002-zeek-scenario-port-scanning*) echo PortScan-Nmap ;; # Nmap scans by 172.16.1.11
	*test4-malicious*) echo Malicious ;;                  # malicious capture, no detail
	*) echo "" ;;                                        # per-line labels, or normal
	esac
}

mm_tmpdir
start_redis "$MM_TMP/redis"
if [ $# -eq 0 ]; then
	for f in "$LABELLED"/*.binetflow "$LABELLED"/*.csv; do
		[ -f "$f" ] && set -- "$@" "$f"
	done
fi
[ $# -gt 0 ] || fail "no datasets in $LABELLED"
t_all=$(date +%s)
status=0
for ds in "$@"; do
	case $ds in */*) in=$ds ;; *) in=$LABELLED/$ds ;; esac
	name=$(basename "$in")
	name=${name%.*}
	d=$MM_TMP/$name
	mkdir -p "$d"
	t0=$(date +%s)
	redis-cli -p "$REDIS_PORT" flushall >/dev/null
	lbl=$(file_label "$name")
	if ! "$BIN/mamori-import" ${lbl:+--label "$lbl"} --pcap "$d/flows.pcap" --truth "$d/truth.tsv" \
		--conf "$d/group.conf" "$in" 2>"$d/import.log"; then
		cat "$d/import.log" >&2
		note "$name: mamori-import failed"
		status=1
		continue
	fi
	cat >"$d/m.conf" <<EOC
[collector]
id = labelled
[redis]
host = 127.0.0.1
port = $REDIS_PORT
[window]
step = 10
EOC
	cat "$d/group.conf" >>"$d/m.conf"
	ok=1
	"$BIN/mamori-collector" -c "$d/m.conf" --replay "$d/flows.pcap" 2>"$d/col.log" || ok=0
	[ $ok = 1 ] && { timeout 300 "$BIN/mamori-detector" -c "$d/m.conf" --replay-all --json >"$d/alerts.jsonl" \
		2>"$d/det.log" || ok=0; }
	# shellcheck disable=SC2086  # EVAL_ARGS: words
	[ $ok = 1 ] && { "$BIN/mamori" eval --truth "$d/truth.tsv" --alerts "$d/alerts.jsonl" --det-log "$d/det.log" \
		--csv "$d/eval.csv" ${EVAL_ARGS:-} >"$d/eval.txt" 2>"$d/eval.err" || ok=0; }
	t1=$(date +%s)
	echo "=== $name ($((t1 - t0)) s)"
	sed "s|^mamori-import: ||; s|$d/||g; s|$LABELLED/||g; s|^|  |" "$d/import.log"
	if [ $ok = 0 ]; then
		note "$name: the chain failed; logs:"
		tail -n 5 "$d/col.log" "$d/det.log" "$d/eval.err" 2>/dev/null >&2 || :
		status=1
		continue
	fi
	printf '  alerts: %s lines (%s starts)\n' "$(wc -l <"$d/alerts.jsonl")" \
		"$(grep -c '"event":"start"' "$d/alerts.jsonl" || :)"
	cat "$d/eval.txt"
	[ -s "$d/eval.err" ] && sed 's/^/  eval: /' "$d/eval.err"
	if [ -n "${OUT:-}" ]; then
		mkdir -p "$OUT/$name"
		cp "$d"/truth.tsv "$d"/alerts.jsonl "$d"/*.log "$d"/eval.* "$d"/m.conf "$OUT/$name/"
	fi
	echo
done
echo "total $(($(date +%s) - t_all)) s"
exit $status
