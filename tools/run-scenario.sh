#!/bin/sh
# run-scenario.sh FILE [OUTDIR] - one scenario file (docs/scenarios.md) end
# to end on the replay clock, for researchers: mamori-gen --scenario ->
# pcap -> mamori-collector --replay -> a private redis-server ->
# mamori-detector --replay-all --json -> mamori eval (table, CSV, plots).
# The group's sampling_rate is the scenario's `sampling`; a host's warm-up
# MM_WARMUP_STEPS (default 12, so that the graded files' attacks from
# minute 5 meet warm hosts; "default" keeps the shipped 180, as
# test_scenario_mixed.sh does).  OUTDIR (default build/scenarios/NAME) gets the
# truth, the alerts, the logs, eval.txt, eval.csv and the eval-*.png plots.
# Extra `mamori eval` options go in MM_EVAL_ARGS (e.g. "--min-recall 0.9").
# MM_KEY_FILE=PATH runs it with pseudonymisation on ([privacy] pseudonymise,
# that Crypto-PAn key; docs/privacy.md) and scores with `mamori eval --key`.
set -eu
cd "$(dirname -- "$0")/.."
. tests/integration/lib.sh
SCN=${1:?usage: tools/run-scenario.sh FILE [OUTDIR]}
[ -r "$SCN" ] || fail "$SCN: cannot read"
name=$(basename "$SCN" .scn)
OUT=${2:-$BUILD/scenarios/$name}
for b in mamori-gen mamori-collector mamori-detector mamori; do
	[ -x "$BUILD/bin/$b" ] || fail "$BUILD/bin/$b not built (make)"
done
scn_val() { awk -v k="$1" '$1 == k { print $2; exit }' "$SCN"; }
sampling=$(scn_val sampling)
prefixes=$(awk '$1 == "prefix" { print $2 }' "$SCN")
[ -n "$prefixes" ] || prefixes=10.0.0.0/16

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
mm_tmpdir
start_redis "$MM_TMP/redis"
{
	printf '[collector]\nid = scn\n[redis]\nhost = 127.0.0.1\nport = %s\n' "$REDIS_PORT"
	printf '[window]\nstep = 10\nlate_steps = 1\nretention = 172800\n'
	printf '[group lan]\n'
	for p in $prefixes; do printf 'prefix = %s\n' "$p"; done
	printf 'sampling_rate = %s\n' "${sampling:-1000}"
	[ "${MM_WARMUP_STEPS:-12}" = default ] || printf 'warmup_steps = %s\n' "${MM_WARMUP_STEPS:-12}"
	if [ -n "${MM_KEY_FILE:-}" ]; then
		printf '[privacy]\npseudonymise = yes\nkey_file = %s\n' "$(cd "$(dirname "$MM_KEY_FILE")" && pwd)/$(basename "$MM_KEY_FILE")"
	fi
} >"$OUT/m.conf"
key_arg=""
[ -z "${MM_KEY_FILE:-}" ] || key_arg="--key $MM_KEY_FILE"
t0=$(date +%s)
"$BUILD/bin/mamori-gen" --scenario "$SCN" --pcap "$MM_TMP/s.pcap" --truth "$OUT/truth.tsv" 2>"$OUT/gen.log" ||
	{ cat "$OUT/gen.log" >&2; fail "mamori-gen --scenario $SCN"; }
"$BUILD/bin/mamori-collector" -c "$OUT/m.conf" --replay "$MM_TMP/s.pcap" 2>"$OUT/col.log" ||
	{ cat "$OUT/col.log" >&2; fail "collector replay"; }
"$BUILD/bin/mamori-detector" -c "$OUT/m.conf" --replay-all --json >"$OUT/alerts.jsonl" 2>"$OUT/det.log" ||
	{ cat "$OUT/det.log" >&2; fail "detector replay"; }
st=0
# shellcheck disable=SC2086  # MM_EVAL_ARGS: options, one word each
"$BUILD/bin/mamori" eval --truth "$OUT/truth.tsv" --alerts "$OUT/alerts.jsonl" --det-log "$OUT/det.log" \
	--csv "$OUT/eval.csv" --plots "$OUT" -v $key_arg ${MM_EVAL_ARGS:-} >"$OUT/eval.txt" 2>"$OUT/eval.err" || st=$?
echo "== $name ($(($(date +%s) - t0)) s; files in $OUT)"
cat "$OUT/eval.txt"
exit "$st"
