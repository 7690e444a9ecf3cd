#!/bin/sh
# nflog.sh - NFLOG packets/s through mamori-collector (`make bench` runs it;
# root only: it needs a network namespace, nftables and NFLOG).
#
#   BUILD=build sh bench/nflog.sh
#
# In a network namespace of its own (mm-nflog-bench-PID, removed on exit),
# an nftables rule logs every UDP datagram to 127.0.0.1:7001 to NFLOG group
# 7 on the input hook; `mamori-collector --dump -c CONF` (dump to
# /dev/null: the decode + format path, no Redis) reads the group, and
# tools/pktsend sends BENCH_NFLOG_PACKETS datagrams of BENCH_NFLOG_SIZE
# payload bytes as fast as the kernel takes them (sendmmsg, 64 a call).
# Once the sender is done and the collector has used no CPU for 300 ms
# (bounded), it is stopped and its --stats-json read.  Per run: packets
# sent, records the collector made, the kernel's NFLOG drops (sequence
# gaps), ENOBUFS events, loss %, the sender's rate, the collector's rate
# (records / the sender's elapsed time), collector CPU % of one core and ns
# per record.  BENCH_REPEAT runs; the last line is the median collector
# rate.  TSV: $BUILD/bench/nflog.tsv.  Nothing is pinned: the sender, the
# kernel's logging (in the sender's softirq) and the collector share the
# machine's cores.
#
# Environment (defaults): BENCH_NFLOG_PACKETS=2000000 BENCH_NFLOG_SIZE=64
#   BENCH_REPEAT=3 BENCH_NFLOG_RATE=1 (nflog_sampling_rate in the config)
set -eu
. tests/integration/lib.sh

if [ "$(id -u)" != 0 ]; then
	note "nflog bench: skipped (needs root: network namespace, nftables, NFLOG)"
	exit 0
fi
packets=${BENCH_NFLOG_PACKETS:-2000000}
size=${BENCH_NFLOG_SIZE:-64}
repeat=${BENCH_REPEAT:-3}
rate=${BENCH_NFLOG_RATE:-1}
NFT=${NFT:-/usr/sbin/nft}
COL=$BUILD/bin/mamori-collector
SEND=$BUILD/tools/pktsend
hz=$(getconf CLK_TCK)
for f in "$COL" "$SEND" "$NFT"; do
	[ -x "$f" ] || fail "$f missing"
done

mm_tmpdir
NS=mm-nflog-bench-$$
cleanup() {
	_mm_cleanup
	ip netns del "$NS" 2>/dev/null || :
}
trap 'cleanup' EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM
ip netns add "$NS" || fail "cannot create network namespace $NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" "$NFT" -f - <<'EOF' || fail "nft rules"
table inet mmbench {
	chain in {
		type filter hook input priority 0; policy accept;
		udp dport 7001 log group 7
	}
}
EOF
cat >"$MM_TMP/c.conf" <<EOF
[collector]
listen = 127.0.0.1:0
nflog_group = 7
nflog_sampling_rate = $rate
EOF

_cpu_idle() { # true once PID used no CPU over 300 ms
	_a=$(proc_cpu_ticks "$1")
	sleep 0.3
	[ "$_a" = "$(proc_cpu_ticks "$1")" ]
}

mkdir -p "$BUILD/bench"
tsv=$BUILD/bench/nflog.tsv
printf 'run\tsent\trecords\tkernel_drops\tenobufs\tloss_pct\tsend_pps\tcollector_pps\tcpu_pct\tns_per_record\n' >"$tsv"
printf '%-4s %10s %10s %10s %8s %7s %12s %14s %7s %9s\n' run sent records k_drops enobufs loss% send/s collector/s cpu% ns/rec
i=1
while [ "$i" -le "$repeat" ]; do
	ip netns exec "$NS" "$COL" --allow-root --dump -c "$MM_TMP/c.conf" --stats-json "$MM_TMP/s$i.json" \
		>/dev/null 2>"$MM_TMP/c$i.err" &
	cpid=$!
	track_pid "$cpid"
	wait_for 10 grep -q 'nflog group 7: copy range' "$MM_TMP/c$i.err" ||
		fail "collector did not open group 7: $(head -c 300 "$MM_TMP/c$i.err")"
	t0=$(proc_cpu_ticks "$cpid")
	out=$(ip netns exec "$NS" "$SEND" udp 127.0.0.1 7001 "$packets" "$size" bench) || fail "pktsend"
	sent=$(echo "$out" | awk '{ print $2 }')
	secs=$(echo "$out" | awk '{ print $3 }')
	wait_for 30 _cpu_idle "$cpid" || note "collector still busy 30 s after the sender"
	t1=$(proc_cpu_ticks "$cpid")
	stop_pid "$cpid" 10 || :
	j=$MM_TMP/s$i.json
	recs=$(tr -d '\n' <"$j" | sed -n 's/.*"groups":.*"records":\([0-9]*\).*/\1/p')
	drops=$(tr -d '\n' <"$j" | sed -n 's/.*"kernel_drops":\([0-9]*\)}].*/\1/p')
	enobufs=$(json_get "$j" nflog enobufs)
	awk -v r="$i" -v s="$sent" -v n="${recs:-0}" -v d="${drops:-0}" -v e="${enobufs:-0}" -v t="$secs" \
	    -v c="$((t1 - t0))" -v hz="$hz" 'BEGIN {
		loss = s > 0 ? 100 * (s - n) / s : 0
		sp = t > 0 ? s / t : 0; cp = t > 0 ? n / t : 0
		cpu = t > 0 ? 100 * (c / hz) / t : 0
		ns = n > 0 ? 1e9 * (c / hz) / n : 0
		printf "%-4s %10d %10d %10d %8d %7.2f %12.0f %14.0f %7.1f %9.0f\n", r, s, n, d, e, loss, sp, cp, cpu, ns
		printf "%s\t%d\t%d\t%d\t%d\t%.2f\t%.0f\t%.0f\t%.1f\t%.0f\n", r, s, n, d, e, loss, sp, cp, cpu, ns >> "/dev/stderr"
	}' 2>>"$tsv"
	i=$((i + 1))
done
awk -F'\t' 'NR > 1 { v[NR - 1] = $8 } END {
	n = NR - 1
	for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++) if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
	printf "nflog: median %.0f records/s through the collector over %d runs\n", v[int((n + 1) / 2)], n
}' "$tsv"
