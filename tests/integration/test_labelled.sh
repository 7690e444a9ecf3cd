#!/bin/sh
# The labelled-dataset chain (docs/labelled.md) on the smallest dataset,
# slips_test11-portscan.binetflow: tools/eval-labelled.sh runs
# mamori-import -> mamori-collector --replay -> Redis ->
# mamori-detector --replay-all --json -> mamori eval --strict.  Asserts only
# that the chain runs and eval prints its table (the detector's verdict on
# real data is reported, not tested).  Then: mamori eval --strict reads a
# truth with an `unmatched` row (skipped, counted) without a bad line.
set -eu
. tests/integration/lib.sh
mm_tmpdir
L=$CAPTURES/labelled
DS=slips_test11-portscan.binetflow
[ -f "$L/$DS" ] || { note "SKIP: $L/$DS missing"; exit 0; }
LABELLED=$L EVAL_ARGS=--strict sh tools/eval-labelled.sh "$DS" >"$MM_TMP/out.txt" 2>&1 || {
	cat "$MM_TMP/out.txt" >&2
	fail "tools/eval-labelled.sh $DS"
}
sed 's/^/  /' "$MM_TMP/out.txt" >&2
grep -q '^=== slips_test11-portscan' "$MM_TMP/out.txt" || fail "no dataset header"
grep -q '^class  *strength attacks detected recall' "$MM_TMP/out.txt" || fail "no eval table header"
grep -q '^outbound_scan ' "$MM_TMP/out.txt" || fail "no outbound_scan row (the truth's one attack)"
grep -q '^all ' "$MM_TMP/out.txt" || fail "no overall row"
grep -q 'truth truth.tsv: rows=1 classed=1 unmatched=0 outbound_scan=1' "$MM_TMP/out.txt" ||
	fail "mamori-import's truth summary changed"

# an unmatched row: read, counted, not scored, not a bad line
printf 'class\tvector\trole\ttarget\tstart\tend\tpeer\tlabel\tflows\tpps\twhy\n' >"$MM_TMP/t.tsv"
printf 'unmatched\t-\tsource\t192.0.2.1\t1700000000\t1700000100\t-\tMalicious/CC\t12\t0.1\tlabel has no class\n' >>"$MM_TMP/t.tsv"
printf 'vertical_scan\t-\tsource\t192.0.2.2\t1700000000\t1700000100\t198.51.100.1\tscan\t40\t1\tx\n' >>"$MM_TMP/t.tsv"
: >"$MM_TMP/a.jsonl"
"$BUILD/bin/mamori" eval --strict --truth "$MM_TMP/t.tsv" --alerts "$MM_TMP/a.jsonl" >"$MM_TMP/e.txt" 2>&1 || {
	cat "$MM_TMP/e.txt" >&2
	fail "mamori eval --strict on a truth with an unmatched row"
}
grep -q '1 attacks, 0 incidents' "$MM_TMP/e.txt" || fail "eval: $(cat "$MM_TMP/e.txt")"
grep -q '1 unmatched truth row (no class) not scored' "$MM_TMP/e.txt" || fail "eval: $(cat "$MM_TMP/e.txt")"
