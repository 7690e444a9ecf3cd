#!/bin/sh
# sFlow and IPFIX raise the same incidents (issue 6: "An attack scenario
# sent as sFlow raises the same incidents as the same scenario sent as
# IPFIX"), end to end on the replay clock, once per format:
#   mamori-gen -f ipfix|sflow (same seed, hosts, duration, rate, attacks;
#   1:1000 sampling, 2000 hosts, 15 min = 91 steps of 10 s)
#   -> mamori-collector --replay -> its own Redis
#   -> mamori-detector --replay-all --json.
# Attacks: a UDP flood, a SYN flood, an NTP amplification, a horizontal
# scan from outside and an outbound scan from one of our hosts.
#
# Asserts, per format: the collector decoded every record (sFlow: every
# sample) with nothing malformed, lost or of unknown sampling; each attack of
# the ground truth raised exactly one start of its class on its host, at
# most one end; no other start anywhere (the clean background).
# Across the formats: the same ground truth; the same set of starts
# (class, host, vector); start steps at most MM_SFLOW_MAX_DSTEP (1) apart;
# the same sampling-scaled packets, bytes and SYN-only packets, summed over
# the run, on the monitored hosts and on each attack's own feature.
#
# Why the two can differ at all (they did not in any run so far):
# - sFlow sends sampled packets, IPFIX flows.  The generator turns a flow of
#   N sampled packets into N samples of 1/N of its bytes, each carrying the
#   sample's rate (1000); the collector makes one record per sample
#   (packets 1, bytes = IP length, x the rate).  Packets, bytes and SYN-only
#   packets are the same; "flows" are not: under sFlow a flow is a sampled
#   packet, so flows_* and small_flows_* are a little higher (+0.3-0.6 % here,
#   at 1:1000 almost every sampled flow has one sampled packet).  No class
#   used here reads flow counts at 1:1000 (scans read SYN-only flows, and a
#   SYN-only sampled flow is a single packet; small_flows only at <= 1:10).
# - Time: an IPFIX record carries its flow's start and end (attack records
#   end up to 1 s before their time; background flows last up to 60 s and
#   are spread over the open steps); an sFlow sample has no time and is
#   counted at the datagram's arrival, up to 1 s after (the generator flushes
#   each second).  So at most ~2 s of a step's traffic moves to the next
#   one: a start can move by one step at most, and only for a detection on
#   the edge.  (Live, sFlow would be earlier than an exporter with a long
#   active timeout; the generator's IPFIX attack records have no such delay.)
#
# Prints per format the starts "class host vector step", the start step
# difference per attack, the aggregate totals compared, and the times.
#   MM_SFLOW_MAX_DSTEP=N   allowed start step difference (default 1)
set -eu
. tests/integration/lib.sh
t_begin=$(date +%s)
mm_tmpdir
GEN=$BUILD/bin/mamori-gen
COL=$BUILD/bin/mamori-collector
DET=$BUILD/bin/mamori-detector
[ -x "$DET" ] || fail "$DET not built"
MAXD=${MM_SFLOW_MAX_DSTEP:-1}

STEP=10
WARMUP=12
DURATION=900
# Hosts are 10.0.0.1 .. 10.0.7.210; sources from outside in
# 198.51.100.0/24 (reserved space: never a background peer).  Strengths in
# sampled packets/s at 1:1000 (as in test_classes.sh): floods 20 (20 kpps),
# scans 1 probe/s sampled (1000 probes/s).  Floods last 150 s, scans
# 300 s; all are over 5.5 min before the end.
set -- \
	flood:victim=10.0.1.10,proto=udp,start=300,end=450,pps=20 \
	syn_flood:victim=10.0.3.7,start=330,end=480,pps=20 \
	amplification:victim=10.0.5.9,vector=ntp,start=360,end=510,pps=20,reflectors=50 \
	horizontal_scan:source=198.51.100.10,prefix=10.0.0.0/16,start=240,end=540,pps=1 \
	outbound_scan:source=10.0.6.44,start=270,end=570,pps=1
attacks=""
for a in "$@"; do attacks="$attacks --attack $a"; done

# Sum of some counters of collector c1 over the monitored hosts'
# (10.0.0.0/16) steps, "name value" per line; or, with a host, over that
# host's steps.
SUM_LUA='
local pat, out, sum = ARGV[1], {}, {}
for i = 2, #ARGV do sum[i] = 0 end
for _, k in ipairs(redis.call("KEYS", pat)) do
	for i = 2, #ARGV do
		local v = redis.call("HGET", k, "c1:" .. ARGV[i])
		if v then sum[i] = sum[i] + tonumber(v) end
	end
end
for i = 2, #ARGV do out[#out + 1] = ARGV[i] .. " " .. string.format("%.0f", sum[i]) end
return out'
TOTALS="pkts_in pkts_out bytes_in bytes_out syn_pkts_in syn_pkts_out flows_in flows_out small_flows_in"
sums() { # sums PATTERN FIELD...
	_pat=$1
	shift
	redis-cli -p "$REDIS_PORT" --raw eval "$SUM_LUA" 0 "$_pat" "$@"
}
# the counter that carries each attack class (sampled packets or SYN-only
# flows, scaled)
feature_of() {
	case $1 in
	flood) echo udp_pkts_in ;;
	syn_flood) echo syn_pkts_in ;;
	amplification) echo amp_ntp_pkts_in ;;
	horizontal_scan | outbound_scan) echo syn_flows_out ;;
	*) fail "no feature for class $1" ;;
	esac
}
log_num() { # log_num FILE LINE_PREFIX KEY: the number after "KEY " on the line
	sed -n "s/^mamori-[a-z]*: $2.* $3 \([0-9]*\).*/\1/p" "$1" | head -n 1
}

run_format() { # run_format FMT: everything in $MM_TMP/FMT
	fmt=$1
	d=$MM_TMP/$fmt
	mkdir -p "$d"
	t0=$(date +%s)
	start_redis "$d/redis"
	cat >"$d/m.conf" <<EOC
[collector]
id = c1
[redis]
host = 127.0.0.1
port = $REDIS_PORT
[window]
step = $STEP
late_steps = 1
retention = 3600
[group lan]
prefix = 10.0.0.0/16
sampling_rate = 1000
warmup_steps = $WARMUP
EOC
	"$DET" -c "$d/m.conf" -t >/dev/null || fail "$fmt: -t rejected the config"
	# shellcheck disable=SC2086  # one word per --attack and spec
	"$GEN" -f "$fmt" -s 7 --hosts 2000 --prefix 10.0.0.0/16 --duration $DURATION \
		--step-rate 300 $attacks \
		--truth "$d/truth.tsv" --pcap "$d/s.pcap" 2>"$d/gen.log" || {
		cat "$d/gen.log" >&2
		fail "$fmt: mamori-gen"
	}
	"$COL" -c "$d/m.conf" --replay "$d/s.pcap" --stats-json "$d/stats.json" 2>"$d/col.log" || {
		cat "$d/col.log" >&2
		fail "$fmt: collector replay"
	}
	# --stats-json names the replayed capture (it once crashed on --replay)
	grep -q "\"capture\":{\"file\":\"$d/s.pcap\"" "$d/stats.json" || fail "$fmt: --stats-json without the capture"
	t1=$(date +%s)
	timeout 300 "$DET" -c "$d/m.conf" --replay-all --json >"$d/a.json" 2>"$d/det.log" || {
		cat "$d/det.log" >&2
		fail "$fmt: detector replay"
	}
	t2=$(date +%s)

	# the collector took every record (sFlow: every sample) of the generator
	if [ "$fmt" = sflow ]; then
		want=$(sed -n 's/.* samples=\([0-9]*\).*/\1/p' "$d/gen.log")
		fs=$(log_num "$d/col.log" total flow_samples)
		[ "$fs" = "$want" ] || fail "sflow: flow_samples $fs, the generator sent $want samples"
	else
		want=$(sed -n 's/.* records=\([0-9]*\).*/\1/p' "$d/gen.log")
	fi
	got=$(log_num "$d/col.log" total records)
	if [ -z "$want" ] || [ "$got" != "$want" ]; then
		fail "$fmt: collector records $got, want $want"
	fi
	for k in malformed lost_packets lost_records unknown_sampling; do
		v=$(log_num "$d/col.log" total $k)
		[ "$v" = 0 ] || fail "$fmt: collector $k = $v"
	done

	# events: event class key(host or prefix) vector first_step
	json_fields event class host prefix vector first_step <"$d/a.json" |
		awk -F'\t' -v OFS='\t' '{ print $1, $2, ($3 != "" ? $3 : $4), $5, $6 }' >"$d/ev.tsv"
	awk -F'\t' -v OFS='\t' '$1 == "start" { print $2, $3, $4, $5 }' "$d/ev.tsv" | sort >"$d/starts.tsv"

	# one verdict per attack: class, key, attack's first step, starts, ends, start step
	awk -F'\t' -v OFS='\t' -v step=$STEP '
		NR == FNR { if (FNR > 1) { n++; c[n] = $1; k[n] = $4; s0[n] = int($5 / step) } next }
		{ for (i = 1; i <= n; i++) if ($2 == c[i] && $3 == k[i]) {
			if ($1 == "start") { ns[i]++; if (!(i in st)) st[i] = $5 }
			else if ($1 == "end") ne[i]++
		} }
		END { for (i = 1; i <= n; i++)
			print c[i], k[i], s0[i], ns[i] + 0, ne[i] + 0, (i in st ? st[i] : "-") }
	' "$d/truth.tsv" "$d/ev.tsv" >"$d/verdict.tsv"
	# starts that match no attack
	awk -F'\t' '
		NR == FNR { if (FNR > 1) want[$1 SUBSEP $4] = 1; next }
		$1 == "start" && !(($2 SUBSEP $3) in want)
	' "$d/truth.tsv" "$d/ev.tsv" >"$d/other.tsv"

	# what the collector aggregated: the monitored hosts' totals, and each
	# attack's own counter on its host
	# shellcheck disable=SC2086  # one word per counter
	sums 'mm:h:{10.0.*' $TOTALS >"$d/totals.txt"
	: >"$d/feature.tsv"
	# shellcheck disable=SC2034  # v: the vector column, unused
	while IFS='	' read -r cls v role key rest; do
		[ "$cls" = class ] && continue
		f=$(feature_of "$cls")
		printf '%s\t%s\t%s\t%s\n' "$cls" "$key" "$f" \
			"$(sums "mm:h:{$key}:*" "$f" | cut -d' ' -f2)" >>"$d/feature.tsv"
	done <"$d/truth.tsv"
	stop_pid "$REDIS_PID" || :

	note "$fmt: $(cat "$d/gen.log")"
	note "$fmt: starts (class, key, vector, step):"
	sed 's/^/  /' "$d/starts.tsv" >&2
	note "$fmt: time: generator+collector $((t1 - t0))s, detector $((t2 - t1))s"
}

run_format ipfix
run_format sflow

I=$MM_TMP/ipfix
S=$MM_TMP/sflow
cmp -s "$I/truth.tsv" "$S/truth.tsv" || fail "the two formats' ground truths differ"
n=$(($(wc -l <"$I/truth.tsv") - 1))
[ "$n" -eq 5 ] || fail "ground truth holds $n attacks, want 5"

# per attack: class, key, first attack step, ipfix starts/ends/step, sflow starts/ends/step, difference
join_v() {
	awk -F'\t' -v OFS='\t' '
		NR == FNR { a[FNR] = $4 "\t" $5 "\t" $6; next }
		{ split(a[FNR], x, "\t"); d = (x[3] == "-" || $6 == "-") ? "-" : $6 - x[3]
		  print $1, $2, $3, a[FNR], $4, $5, $6, d }
	' "$I/verdict.tsv" "$S/verdict.tsv"
}
join_v >"$MM_TMP/verdict.tsv"
note "attacks (class, key, attack from step, ipfix: starts ends start step, sflow: starts ends start step, sflow - ipfix):"
sed 's/^/  /' "$MM_TMP/verdict.tsv" >&2
note "aggregates, monitored hosts (counter ipfix sflow):"
paste -d' ' "$I/totals.txt" "$S/totals.txt" | awk '{ printf "  %s %s %s%s\n", $1, $2, $4, ($2 != $4 && $2 > 0 ? sprintf(" (x%.4f)", $4 / $2) : "") }' >&2
note "each attack's counter on its host over the run (class key counter ipfix sflow):"
paste "$I/feature.tsv" "$S/feature.tsv" | cut -f1-4,8 | sed 's/^/  /' >&2

msg=""
add() { msg="${msg:+$msg; }$*"; }
for fmt in ipfix sflow; do
	bad=$(awk -F'\t' '$4 != 1 || $5 > 1 { printf "%s%s on %s: %d starts, %d ends", (n++ ? ", " : ""), $1, $2, $4, $5 }' "$MM_TMP/$fmt/verdict.tsv")
	[ -z "$bad" ] || add "$fmt: $bad"
	if [ -s "$MM_TMP/$fmt/other.tsv" ]; then
		note "$fmt: other starts (event, class, key, vector, step):"
		sed 's/^/  /' "$MM_TMP/$fmt/other.tsv" >&2
		add "$fmt: $(wc -l <"$MM_TMP/$fmt/other.tsv") starts on the clean background or of the wrong class"
	fi
done
# the same incidents: (class, key, vector) of every start
cut -f1-3 "$I/starts.tsv" >"$MM_TMP/i.set"
cut -f1-3 "$S/starts.tsv" >"$MM_TMP/s.set"
if ! cmp -s "$MM_TMP/i.set" "$MM_TMP/s.set"; then
	diff "$MM_TMP/i.set" "$MM_TMP/s.set" | sed 's/^/  /' >&2 || :
	add "the formats raise different incidents (< ipfix, > sflow)"
fi
far=$(awk -F'\t' -v m="$MAXD" '$10 != "-" && ($10 > m || $10 < -m) { printf "%s%s on %s: %+d", (n++ ? ", " : ""), $1, $2, $10 }' "$MM_TMP/verdict.tsv")
[ -z "$far" ] || add "start steps more than $MAXD apart: $far"
# the same packets, bytes and SYN-only packets (flows differ: see the top)
for k in pkts_in pkts_out bytes_in bytes_out syn_pkts_in syn_pkts_out; do
	a=$(awk -v k=$k '$1 == k { print $2 }' "$I/totals.txt")
	b=$(awk -v k=$k '$1 == k { print $2 }' "$S/totals.txt")
	if [ -z "$a" ] || [ "$a" = 0 ] || [ "$a" != "$b" ]; then
		add "monitored $k: ipfix $a, sflow $b"
	fi
done
a=$(awk '$1 == "flows_in" { print $2 }' "$I/totals.txt")
b=$(awk '$1 == "flows_in" { print $2 }' "$S/totals.txt")
[ "$b" -ge "$a" ] || add "sflow flows_in $b below ipfix $a (a sample is a flow: never fewer)"
fd=$(paste "$I/feature.tsv" "$S/feature.tsv" | awk -F'\t' '$4 != $8 || $4 == 0 { printf "%s%s %s: %s vs %s", (n++ ? ", " : ""), $2, $3, $4, $8 }')
[ -z "$fd" ] || add "attack counters differ: $fd"

note "delay steps ipfix/sflow: $(awk -F'\t' '{ printf "%s%s=%s/%s", (NR > 1 ? " " : ""), $1, ($6 == "-" ? "-" : $6 - $3), ($9 == "-" ? "-" : $9 - $3) }' "$MM_TMP/verdict.tsv")"
note "time: total $(($(date +%s) - t_begin))s"
[ -z "$msg" ] || fail "$msg"
note "sflow incidents: ok"
