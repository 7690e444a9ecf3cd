#!/bin/sh
# fastpath.sh - what the fast path costs and what it buys (docs/fastpath.md).
#
#   BUILD=build sh bench/fastpath.sh          (root: apt-get for fastnetmon)
#
# 1. Ingest with the fast path on and off: bench/ingest.sh with the
#    collectors mamori-redis (as deployed, [fastpath] on) and
#    mamori-redis-nofast, alternating, medians of BENCH_REPEAT runs, into
#    $BUILD/bench/fastpath-ingest.tsv; the ratios on/off of the rate taken
#    and of the CPU per record are printed.
# 2. Detection delay against FastNetMon 1.2.4 on the same traffic, live:
#    two mamori-gen in real time from the same whole second T0 with the
#    same arguments (so the same records at the same times), one to
#    mamori-collector (with mamori-detector beside it), one to fastnetmon.
#    FLOODS floods of 5 s on different hosts, 10 s apart, at 100, 200, 300
#    and 500 kpps in turn (UDP, SYN, and NTP reflection in turn), both
#    detectors at the same per-host threshold: 20 000 pps (fastnetmon's
#    default threshold_pps; mamori's ceiling_pps and ceiling_syn_pps, and
#    ceiling_amp_pps).  Delay = when an operator can see it - the flood's
#    first packet (ground truth): mamori's `start` entry in mm:alerts
#    (Redis' clock), fastnetmon's ban (its notify script's clock).  Also
#    the collector's own check time (fast.time_ms).  Per flood and medians,
#    into $BUILD/bench/fastpath-delay.tsv.
#
# Environment: BENCH_FORMATS (v9), BENCH_RATES ("1000000 max"),
# BENCH_RECORDS (10000000), BENCH_REPEAT (5) for part 1; FLOODS (12),
# FORMAT (v9) for part 2; BENCH_ONLY=ingest|delay.  About 4 + 3 minutes.
set -eu
. tests/integration/lib.sh
. tools/fastnetmon.sh
only=${BENCH_ONLY:-}
outdir=$BUILD/bench
mkdir -p "$outdir"

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

if [ -z "$only" ] || [ "$only" = ingest ]; then
	echo "== ingest, fast path on (mamori-redis) and off (mamori-redis-nofast)"
	BENCH_NAME=fastpath-ingest BENCH_COLLECTORS="mamori-redis mamori-redis-nofast" \
	BENCH_FORMATS=${BENCH_FORMATS:-v9} BENCH_RATES=${BENCH_RATES:-1000000 max} \
	BENCH_RECORDS=${BENCH_RECORDS:-10000000} BENCH_REPEAT=${BENCH_REPEAT:-5} sh bench/ingest.sh
	awk -F'\t' 'NR > 1 { k = $2 " " $3; if ($1 == "mamori-redis") { on[k] = $9; onns[k] = $12; onl[k] = $7 }
		else { off[k] = $9; offns[k] = $12; offl[k] = $7; ks[++n] = k } }
		END { for (i = 1; i <= n; i++) { k = ks[i]
			printf "fast path on/off, %s: taken %.0f / %.0f records/s (ratio %.3f), CPU %.0f / %.0f ns/record (ratio %.3f), loss %.3f%% / %.3f%%\n",
			    k, on[k], off[k], (off[k] > 0 ? on[k] / off[k] : 0), onns[k], offns[k], (offns[k] > 0 ? onns[k] / offns[k] : 0), onl[k], offl[k] } }' \
	    "$outdir/fastpath-ingest.tsv"
fi

[ -z "$only" ] || [ "$only" = delay ] || exit 0

# ---- 2. delay against fastnetmon ----
FLOODS=${FLOODS:-12}
FORMAT=${FORMAT:-v9}
GEN=$BUILD/bin/mamori-gen
COL=$BUILD/bin/mamori-collector
DET=$BUILD/bin/mamori-detector
for b in "$GEN" "$COL" "$DET"; do [ -x "$b" ] || fail "$b not built"; done
fnm_find
mm_tmpdir
start_redis "$MM_TMP/redis"
MPORT=$(free_port)
FPORT=$(free_port)
[ "$FPORT" != "$MPORT" ] || FPORT=$(free_port)

cat >"$MM_TMP/m.conf" <<EOC
[collector]
id = bench
listen = 127.0.0.1:$MPORT
[redis]
host = 127.0.0.1
port = $REDIS_PORT
[window]
retention = 3600
[group lan]
prefix = 10.0.0.0/16
sampling_rate = 1000
ceiling_pps = 20000
ceiling_syn_pps = 20000
ceiling_amp_pps = 20000
EOC

fnm_setup "$MM_TMP" "$MM_TMP" "$FPORT" 20000 60
"$FNM" --configuration_file "$MM_TMP/fastnetmon.conf" --log_file "$MM_TMP/fastnetmon.log" \
	--disable_pid_logic >"$MM_TMP/fastnetmon.out" 2>&1 &
FNM_PID=$!
track_pid "$FNM_PID"
wait_udp_bound "$FPORT" 20 || { tail -20 "$MM_TMP/fastnetmon.log" >&2; fail "fastnetmon did not bind 127.0.0.1:$FPORT"; }
"$COL" --allow-root -f -c "$MM_TMP/m.conf" 2>"$MM_TMP/col.log" &
CPID=$!
track_pid "$CPID"
wait_udp_bound "$MPORT" 10 || fail "mamori-collector did not bind 127.0.0.1:$MPORT"
"$DET" --allow-root -f -c "$MM_TMP/m.conf" 2>"$MM_TMP/det.log" &
DPID=$!
track_pid "$DPID"
sleep 3 # fastnetmon's threads

# the floods: host 10.0.1.(20+i), start 10 + 10 i, 5 s, strengths and
# kinds in turn
set --
i=0
while [ "$i" -lt "$FLOODS" ]; do
	s=$((10 + 10 * i))
	case $((i % 4)) in 0) pps=100 ;; 1) pps=200 ;; 2) pps=300 ;; *) pps=500 ;; esac
	case $((i % 3)) in
	0) a="flood:victim=10.0.1.$((20 + i)),proto=udp,start=$s,end=$((s + 5)),pps=$pps" ;;
	1) a="syn_flood:victim=10.0.1.$((20 + i)),start=$s,end=$((s + 5)),pps=$pps" ;;
	*) a="amplification:victim=10.0.1.$((20 + i)),vector=ntp,reflectors=50,start=$s,end=$((s + 5)),pps=$pps" ;;
	esac
	set -- "$@" --attack "$a"
	i=$((i + 1))
done
DURATION=$((10 * FLOODS + 15))
T0=$(($(date +%s) + 2))
while [ "$(date +%s)" -lt "$T0" ]; do sleep 0.02; done
note "delay: $FLOODS floods over $DURATION s of $FORMAT, live, to mamori (127.0.0.1:$MPORT) and fastnetmon (127.0.0.1:$FPORT) from $T0"
"$GEN" -f "$FORMAT" -s 11 --hosts 2000 --prefix 10.0.0.0/16 --sampling 1000 --duration "$DURATION" --start "$T0" \
	--send "127.0.0.1:$FPORT" "$@" 2>"$MM_TMP/gen-fnm.log" &
G1=$!
"$GEN" -f "$FORMAT" -s 11 --hosts 2000 --prefix 10.0.0.0/16 --sampling 1000 --duration "$DURATION" --start "$T0" \
	--send "127.0.0.1:$MPORT" --truth "$MM_TMP/truth.tsv" "$@" 2>"$MM_TMP/gen-mm.log" || fail "mamori-gen to mamori"
wait "$G1" || fail "mamori-gen to fastnetmon"
sleep 3
stop_pid "$DPID" 10 || :
stop_pid "$CPID" 10 || :
stop_pid "$FNM_PID" 10 || :
touch "$MM_TMP/fnm-notify.log"

# per flood: class victim start_ms | mamori alert ms, check ms | fnm ban ms
redis-cli -p "$REDIS_PORT" xrange mm:alerts - + | awk '
	/^[0-9]+-[0-9]+$/ { id = $0; sub(/-.*/, "", id); next }
	index($0, "\"event\":\"start\"") {
		h = $0; sub(/.*"host":"/, "", h); sub(/".*/, "", h)
		c = $0; sub(/.*"class":"/, "", c); sub(/".*/, "", c)
		t = "-"; if (index($0, "\"fast\":{")) { t = $0; sub(/.*"time_ms":/, "", t); sub(/[^0-9].*/, "", t) }
		if (!((h, c) in seen)) { seen[h, c] = 1; print h, c, id, t }
	}' >"$MM_TMP/mm-starts.txt"
awk '$5 == "ban" && !($2 in seen) { seen[$2] = 1; printf "%s %.0f\n", $2, $1 * 1000 }' "$MM_TMP/fnm-notify.log" >"$MM_TMP/fnm-bans.txt"
tsv=$outdir/fastpath-delay.tsv
printf 'class\tvictim\tsampled_pps\tflood_start_ms\tmamori_alert_ms\tmamori_check_ms\tfastnetmon_ban_ms\n' >"$tsv"
awk -F'\t' 'NR > 1 && $3 == "victim" { print $1, $4, $7, $5 }' "$MM_TMP/truth.tsv" | while read -r cls victim pps start; do
	st=$(awk -v s="$start" 'BEGIN { printf "%.0f", s * 1000 }')
	m=$(awk -v h="$victim" -v c="$cls" '$1 == h && $2 == c { print $3, $4; exit }' "$MM_TMP/mm-starts.txt")
	f=$(awk -v h="$victim" '$1 == h { print $2; exit }' "$MM_TMP/fnm-bans.txt")
	ma=${m%% *}
	mc=${m#* }
	[ -n "$m" ] || { ma=-; mc=-; }
	d() { if [ "$1" = - ] || [ -z "$1" ]; then echo -; else echo $(($1 - st)); fi; }
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cls" "$victim" "$pps" "$st" "$(d "$ma")" "$(d "$mc")" "$(d "${f:--}")"
done >>"$tsv"
echo
echo "Delay from the flood's first packet, ms ($FORMAT, live, both at 20 000 pps per host; $(date -u +%Y-%m-%d)):"
awk -F'\t' 'NR == 1 { printf "%-14s %-10s %6s %14s %14s %16s\n", "class", "victim", "kpps", "mamori start", "mamori check", "fastnetmon ban"; next }
	{ printf "%-14s %-10s %6s %14s %14s %16s\n", $1, $2, $3, $5, $6, $7 }' "$tsv"
mm=$(awk -F'\t' 'NR > 1 && $5 != "-" { print $5 }' "$tsv" | median)
mc=$(awk -F'\t' 'NR > 1 && $6 != "-" { print $6 }' "$tsv" | median)
fn=$(awk -F'\t' 'NR > 1 && $7 != "-" { print $7 }' "$tsv" | median)
nm=$(awk -F'\t' 'NR > 1 && $5 != "-"' "$tsv" | wc -l)
nf=$(awk -F'\t' 'NR > 1 && $7 != "-"' "$tsv" | wc -l)
echo "median: mamori start ${mm} ms ($nm of $FLOODS floods raised), its collector's check ${mc} ms; fastnetmon ban ${fn} ms ($nf of $FLOODS banned)"
# what else each raised at the same threshold: busy background hosts over 20 kpps
victims=$(awk -F'\t' 'NR > 1 { print $2 }' "$tsv" | tr '\n' ' ')
mo=$(awk -v v=" $victims" '{ if (index(v, " " $1 " ") == 0) n++ } END { print n + 0 }' "$MM_TMP/mm-starts.txt")
fo=$(awk -v v=" $victims" '{ if (index(v, " " $1 " ") == 0) n++ } END { print n + 0 }' "$MM_TMP/fnm-bans.txt")
echo "other hosts raised at the same threshold (busy background hosts): mamori $mo incidents, fastnetmon $fo bans"
echo "(per flood: $tsv; mamori's detector: $(grep 'fast path:' "$MM_TMP/det.log" | tail -n 1 | sed 's/^[^:]*: //'))"
