#!/bin/sh
# test_captures.sh - every NetFlow v5/v9/IPFIX capture of the shared set
# (../shared/captures/export and generated; sFlow not yet) decoded with
# `mamori-collector --read FILE --dump` gives exactly the number of flow
# records in tests/integration/capture_counts.tsv (derived from the
# captures' README), one JSON object a line, and TShark decodes the same
# number from the same file.
#
# TShark's count: `tshark -2 -T pdml` piped to cflow_records.awk, which
# counts the records of each decoded data set and leaves out options data
# (sets whose template was announced as an options template).  Not
# cflow.count: that is the header count (v9 counts templates, IPFIX has
# none).  Two-pass, so a data set ahead of its template in the same file is
# decoded, as the collector's pending queue does.
set -eu
. tests/integration/lib.sh
mm_tmpdir

collector=$BUILD/bin/mamori-collector
counts=tests/integration/capture_counts.tsv
[ -x "$collector" ] || fail "$collector not built"
[ -d "$CAPTURES/export" ] || fail "no captures at $CAPTURES"
command -v tshark >/dev/null || fail "tshark not installed"

errors=0
bad() {
	note "  $*"
	errors=$((errors + 1))
}

# Every NetFlow/IPFIX capture must have a row: a new capture cannot slip by.
for f in "$CAPTURES"/export/*.pcap "$CAPTURES"/generated/*.pcap; do
	rel=${f#"$CAPTURES"/}
	case $rel in *sflow*) continue ;; esac
	awk -F'\t' -v f="$rel" '$1 == f { found = 1 } END { exit !found }' "$counts" ||
	    bad "$rel: no row in $counts"
done

checked=0
total=0
while IFS='	' read -r rel expected; do
	case $rel in '#'* | '') continue ;; esac
	f=$CAPTURES/$rel
	if [ ! -f "$f" ]; then
		bad "$rel: listed in $counts but missing"
		continue
	fi
	out=$MM_TMP/dump.jsonl
	st=0
	timeout 60 "$collector" --read "$f" --dump >"$out" 2>"$MM_TMP/err" || st=$?
	got=$(wc -l <"$out")
	# each line one flat JSON object with the addresses and counters
	nobj=$(grep -c '^{.*"src" *:.*"dst" *:.*"bytes" *:.*"packets" *:.*}$' "$out" || :)
	ts=$(tshark_flow_count "$f" | awk '{print $1}')
	line="$rel: expected $expected, collector $got, tshark $ts"
	if [ "$st" -ne 0 ]; then
		bad "$line; collector exit status $st: $(head -c 300 "$MM_TMP/err")"
	elif [ "$got" != "$expected" ] || [ "$ts" != "$expected" ]; then
		bad "$line"
	elif [ "$nobj" != "$got" ]; then
		bad "$rel: $((got - nobj)) of $got lines are not flow JSON objects: $(grep -v '^{.*}$' "$out" | head -n 1)"
	else
		note "  ok $line"
	fi
	checked=$((checked + 1))
	total=$((total + got))
done <"$counts"

note "$checked captures, $total records, $errors problems"
[ "$checked" -gt 0 ] || fail "no capture checked"
[ "$errors" -eq 0 ] || fail "$errors capture(s) decoded wrong"
