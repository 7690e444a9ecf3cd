#!/bin/sh
# ingest.sh - end-to-end ingest benchmark over loopback, mamori-collector
# and nfcapd side by side in the same run.
#
#   BUILD=build sh bench/ingest.sh
#
# For each format (v5, v9, IPFIX), offered rate (1 M/s, 3 M/s, max) and
# collector, mamori-gen sends a fixed number of records to 127.0.0.1:PORT:
#   mamori   mamori-collector --dump --listen 127.0.0.1:PORT --stats-json F
#   mamori-redis  mamori-collector as deployed: per-host windows into a
#            private redis-server (BENCH_COLLECTORS="mamori-redis nfcapd")
#            (dump to /dev/null; received = "records" of the totals in F)
#   mamori-redis-nofast  the same with [fastpath] enabled = no (the fast
#            path's cost: bench/fastpath.sh runs both)
#   nfcapd   nfcapd -b 127.0.0.1 -p PORT -w DIR -t 3600 -I bench
#            (received = sum of "Flows:" of `nfdump -R DIR -I`)
# Once the sender is done and the collector's socket queue is empty (ss
# Recv-Q 0, then no more CPU used for 200 ms, bounded), the collector's CPU
# time is read from /proc/PID/stat and it is stopped by PID (SIGTERM).
#
# Per measurement: records offered (as mamori-gen reports sending them) and
# received, loss %, achieved rate (received / the sender's elapsed time), collector CPU seconds -> % of one core
# over the sender's time and ns per received record, kernel drops (delta of
# Udp RcvbufErrors in /proc/net/snmp; system-wide, so run on a quiet
# machine), and the socket's receive buffer (ss skmem rb).  Every
# measurement runs BENCH_REPEAT times, the collectors alternating order;
# the table shows the median of each figure.  The raw runs carry the 1-min
# load average at the end of each (other work on the machine skews loss).  Raw runs:
# $BUILD/bench/ingest-runs.tsv; medians: $BUILD/bench/ingest.tsv.
#
# The sender and the collector share the machine's cores (nothing pinned)
# unless BENCH_PIN=1 (collector on CPU 0, sender on CPU 1).
#
# Environment (defaults):
#   BENCH_FORMATS="v5 v9 ipfix"  BENCH_RATES="1000000 3000000 max"
#   BENCH_RECORDS=10000000 (per measurement: 10 s at 1 M/s)
#   BENCH_REPEAT=3  BENCH_COLLECTORS="mamori nfcapd"  BENCH_PIN=0
#   BENCH_GEN_ARGS="--pool 1024" (mamori-gen's benchmark mode: datagrams
#     encoded once and re-sent, so the sender costs little CPU)
#   BENCH_RCVBUF=""  unset: each collector's own default socket buffer
#     (mamori asks 32 MiB with SO_RCVBUFFORCE as root -> 64 MiB; nfcapd
#     leaves the system default, 208 KiB on Debian 12).  N: both ask N bytes
#     (mamori: rcvbuf in a generated config; nfcapd: -B N, which the kernel
#     caps at net.core.rmem_max, so keep N <= rmem_max for equal buffers).
#   MAMORI_ARGS="" (extra collector options)  NFCAPD_ARGS="" (extra nfcapd options)
#   BENCH_NAME=ingest (the TSV files' names: $BUILD/bench/NAME-runs.tsv, NAME.tsv)
#   BENCH_PSEUDONYMISE=0  1: mamori runs with [privacy] pseudonymise = yes (a
#     fresh key) and BENCH_PSEUDONYM_CACHE entries (default 1048576; 0 = no
#     cache); each run's cache hits and misses are noted on stderr
# With the defaults it takes about 6 minutes.
set -eu
. tests/integration/lib.sh
mm_tmpdir

formats=${BENCH_FORMATS:-v5 v9 ipfix}
rates=${BENCH_RATES:-1000000 3000000 max}
records=${BENCH_RECORDS:-10000000}
repeat=${BENCH_REPEAT:-3}
collectors=${BENCH_COLLECTORS:-mamori nfcapd}
pin=${BENCH_PIN:-0}
gen_args=${BENCH_GEN_ARGS:---pool 1024}
hz=$(getconf CLK_TCK)
gen=$BUILD/bin/mamori-gen
collector=$BUILD/bin/mamori-collector
outdir=$BUILD/bench
runs_tsv=$outdir/${BENCH_NAME:-ingest}-runs.tsv
tsv=$outdir/${BENCH_NAME:-ingest}.tsv
mkdir -p "$outdir"

[ -x "$gen" ] || fail "$gen not built"
for c in $collectors; do
	case $c in
	mamori | mamori-redis | mamori-redis-nofast) [ -x "$collector" ] || fail "$collector not built" ;;
	nfcapd) command -v nfcapd >/dev/null || fail "nfdump (nfcapd) not installed" ;;
	*) fail "unknown collector $c" ;;
	esac
done

now() { date +%s.%N; }

recvq() { ss -Hnlu "sport = :$1" 2>/dev/null | awk '{ print $2; exit }'; }
rcvbuf() {
	ss -Hnlum "sport = :$1" 2>/dev/null | grep -o 'rb[0-9]*' | head -n 1 | tr -d rb
}
_drained() { [ "$(recvq "$1")" = 0 ]; }
# true once the process used no CPU for the last 200 ms
_cpu_idle() {
	_c0=$(proc_cpu_ticks "$1")
	sleep 0.2
	[ "$(proc_cpu_ticks "$1")" = "$_c0" ]
}

# Run copies, so a rebuild during the benchmark cannot change or break it.
mkdir -p "$MM_TMP/bin"
cp "$gen" "$MM_TMP/bin/mamori-gen"
gen=$MM_TMP/bin/mamori-gen
if [ -x "$collector" ]; then
	cp "$collector" "$MM_TMP/bin/mamori-collector"
	collector=$MM_TMP/bin/mamori-collector
fi

rcvbuf_req=${BENCH_RCVBUF:-}
mamori_cfg=""
nfcapd_buf=""
: >"$MM_TMP/mamori.conf"
if [ -n "$rcvbuf_req" ]; then
	mamori_cfg="-c $MM_TMP/mamori.conf"
	printf '[collector]\nrcvbuf = %s\n' "$rcvbuf_req" >"$MM_TMP/mamori.conf"
	nfcapd_buf="-B $rcvbuf_req"
	[ "$rcvbuf_req" -le "$(cat /proc/sys/net/core/rmem_max)" ] ||
	    note "BENCH_RCVBUF=$rcvbuf_req > net.core.rmem_max: nfcapd gets less than mamori"
fi
privacy_cfg=""
if [ "${BENCH_PSEUDONYMISE:-0}" = 1 ]; then
	( umask 077 && head -c 32 /dev/urandom >"$MM_TMP/pseudonym.key" )
	privacy_cfg=$(printf '[privacy]\npseudonymise = yes\nkey_file = %s\ncache_entries = %s\n' \
	    "$MM_TMP/pseudonym.key" "${BENCH_PSEUDONYM_CACHE:-1048576}")
	printf '%s\n' "$privacy_cfg" >>"$MM_TMP/mamori.conf"
	mamori_cfg="-c $MM_TMP/mamori.conf"
fi

# mamori-redis: the collector as deployed - aggregation into per-host
# windows of 10.0.0.0/16 (mamori-gen's default prefix) flushed to a private
# redis-server every 10 s step - instead of --dump.
case " $collectors " in
*" mamori-redis "* | *" mamori-redis-nofast "*)
	start_redis "$MM_TMP/redis"
	printf '[collector]\nid = bench\n%s[redis]\nhost = 127.0.0.1\nport = %s\n[window]\nstep = 10\n[group lan]\nprefix = 10.0.0.0/16\n%s\n' \
	    "${rcvbuf_req:+rcvbuf = $rcvbuf_req
}" "$REDIS_PORT" "$privacy_cfg" >"$MM_TMP/mamori-redis.conf"
	{ cat "$MM_TMP/mamori-redis.conf"; printf '[fastpath]\nenabled = no\n'; } >"$MM_TMP/mamori-redis-nofast.conf"
	;;
esac

pin_collector=""
pin_sender=""
if [ "$pin" = 1 ]; then
	pin_collector="taskset -c 0"
	pin_sender="taskset -c 1"
fi

# One measurement: prints the raw TSV row.  Called with its output
# redirected, not in $(...), so the collector it starts stays tracked by
# the exit trap of this shell.
measure() {
	c=$1
	fmt=$2
	rate=$3
	rep=$4
	d=$MM_TMP/$c-$fmt-$rate-$rep
	mkdir -p "$d"
	port=$(free_port)
	case $c in
	mamori)
		# shellcheck disable=SC2086
		$pin_collector "$collector" --allow-root $mamori_cfg --dump --listen "127.0.0.1:$port" \
		    --stats-json "$d/stats.json" ${MAMORI_ARGS:-} >/dev/null 2>"$d/collector.err" &
		;;
	mamori-redis | mamori-redis-nofast)
		# shellcheck disable=SC2086
		$pin_collector "$collector" --allow-root -f -c "$MM_TMP/$c.conf" --listen "127.0.0.1:$port" \
		    --stats-json "$d/stats.json" ${MAMORI_ARGS:-} 2>"$d/collector.err" &
		;;
	nfcapd)
		mkdir -p "$d/nf"
		# shellcheck disable=SC2086
		$pin_collector nfcapd -b 127.0.0.1 -p "$port" -w "$d/nf" -t 3600 -I bench \
		    $nfcapd_buf ${NFCAPD_ARGS:-} >"$d/collector.err" 2>&1 &
		;;
	esac
	cpid=$!
	track_pid "$cpid"
	wait_udp_bound "$port" 10 || fail "$c did not bind 127.0.0.1:$port: $(tail -n 3 "$d/collector.err")"
	rb=$(rcvbuf "$port")

	drops0=$(udp_rcvbuf_errors)
	cpu0=$(proc_cpu_ticks "$cpid")
	t0=$(now)
	# shellcheck disable=SC2086
	$pin_sender "$gen" -f "$fmt" --send "127.0.0.1:$port" --rate "$rate" --count "$records" \
	    $gen_args >/dev/null 2>"$d/gen.err" || fail "mamori-gen failed: $(tail -n 3 "$d/gen.err")"
	t1=$(now)
	# the sender's own account: "... records=N ... elapsed=S ..."
	sent=$(sed -n 's/.* records=\([0-9]*\) .*/\1/p' "$d/gen.err" | tail -n 1)
	el=$(sed -n 's/.* elapsed=\([0-9.]*\)s.*/\1/p' "$d/gen.err" | tail -n 1)
	[ -n "$sent" ] || sent=$records
	[ -n "$el" ] || el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	wait_for 60 _drained "$port" || note "$c: socket queue not empty 60 s after the sender finished"
	t2=$(now)
	wait_for 10 _cpu_idle "$cpid" || :
	cpu1=$(proc_cpu_ticks "$cpid")
	drops1=$(udp_rcvbuf_errors)
	stop_pid "$cpid" 30 || note "$c exit status $? after SIGTERM"

	case $c in
	mamori | mamori-redis | mamori-redis-nofast)
		got=$(json_get "$d/stats.json" totals records)
		own=$(json_get "$d/stats.json" "" kernel_drops)
		[ -z "$privacy_cfg" ] ||
		    note "  $c: pseudonym cache hits $(json_get "$d/stats.json" privacy cache_hits) misses $(json_get "$d/stats.json" privacy cache_misses)"
		;;
	nfcapd)
		got=$(nfdump -R "$d/nf" -I 2>/dev/null | awk '/^Flows:/ { s += $2 } END { print s + 0 }')
		own=-
		;;
	esac
	[ -n "$got" ] || got=0
	rm -rf "$d"
	awk -v c="$c" -v fmt="$fmt" -v rate="$rate" -v rep="$rep" -v off="$sent" \
	    -v got="$got" -v t0="$t0" -v t2="$t2" -v el="$el" -v c0="$cpu0" -v c1="$cpu1" \
	    -v hz="$hz" -v d0="$drops0" -v d1="$drops1" -v own="$own" -v rb="${rb:-?}" \
	    -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
		busy = t2 - t0
		cpu = (c1 - c0) / hz
		printf "%s\t%s\t%s\t%d\t%d\t%d\t%.4f\t%.0f\t%.0f\t%.2f\t%.1f\t%.1f\t%d\t%s\t%s\t%.3f\t%.3f\t%s\n",
		    c, fmt, rate, rep, off, got, 100 * (off - got) / off, off / el, got / busy,
		    cpu, 100 * cpu / busy, (got > 0 ? 1e9 * cpu / got : 0), d1 - d0, own, rb,
		    el, busy, load
	}'
}

header="collector	format	offered_rate	run	offered	received	loss_pct	send_rps	rate_rps	cpu_s	cpu_pct	ns_per_rec	kernel_drops	own_drops	rcvbuf	send_s	busy_s	load1"
echo "$header" >"$runs_tsv"
note "ingest: $records records per run, formats: $formats, rates: $rates, $repeat runs each, collectors: $collectors, pin=$pin, rcvbuf ${rcvbuf_req:-default}, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (should be near 0)"
t_start=$(date +%s)
for fmt in $formats; do
	for rate in $rates; do
		i=1
		while [ "$i" -le "$repeat" ]; do
			order=$collectors
			# alternate which collector goes first
			[ $((i % 2)) -eq 0 ] && order=$(echo "$collectors" | awk '{ for (j = NF; j > 0; j--) printf "%s ", $j }')
			for c in $order; do
				measure "$c" "$fmt" "$rate" "$i" >"$MM_TMP/row"
				cat "$MM_TMP/row" >>"$runs_tsv"
				awk -F'\t' '{ printf "  %-7s %-5s %-8s run %s: %s of %s received (%.3f%% lost), sent at %.0f/s, taken at %.0f/s, %.1f%% CPU, %.0f ns/rec, kernel drops %s\n", $1, $2, $3, $4, $6, $5, $7, $8, $9, $11, $12, $13 }' "$MM_TMP/row" >&2
			done
			i=$((i + 1))
		done
	done
done

# Medians per (collector, format, rate), in the order measured.
awk -F'\t' -v OFS='\t' '
function median(s,    a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
NR == 1 { next }
{
	k = $1 OFS $2 OFS $3
	if (!(k in seen)) { seen[k] = 1; order[++nk] = k; rb[k] = $15 }
	n[k]++
	for (f = 5; f <= 14; f++)
		v[k, f] = v[k, f] " " $f
}
END {
	print "collector", "format", "offered_rate", "runs", "offered", "received", "loss_pct", "send_rps", "rate_rps", "cpu_s", "cpu_pct", "ns_per_rec", "kernel_drops", "own_drops", "rcvbuf"
	for (i = 1; i <= nk; i++) {
		k = order[i]
		line = k OFS n[k]
		for (f = 5; f <= 14; f++)
			line = line OFS (v[k, f] ~ /-/ ? "-" : median(v[k, f]))
		print line OFS rb[k]
	}
}' "$runs_tsv" >"$tsv"

echo
echo "Ingest over loopback, medians of $repeat runs, $records records per run ($(nproc) cores, pin=$pin, socket buffer ${rcvbuf_req:-per-collector default}; $(date -u +%Y-%m-%d)):"
awk -F'\t' 'NR == 1 {
	printf "%-7s %-6s %8s %10s %10s %8s %10s %10s %6s %6s %7s %8s %9s\n", "", "format", "offered", "sent", "received", "loss%", "sent/s", "taken/s", "CPU s", "CPU%", "ns/rec", "k.drops", "rcvbuf"
	next
}
{
	r = ($3 == "max") ? "max" : sprintf("%gM/s", $3 / 1e6)
	printf "%-7s %-6s %8s %10d %10d %8.3f %10.0f %10.0f %6.2f %6.1f %7.0f %8d %9s\n", $1, $2, r, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15
}' "$tsv"
echo "(raw runs: $runs_tsv; medians: $tsv; $(($(date +%s) - t_start)) s)"
