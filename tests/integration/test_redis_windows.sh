#!/bin/sh
# Per-host windows in a real redis-server, end to end:
#  1. a generated capture replayed on its own clock (--replay): every host's
#     counters in Redis equal the sums of the generator's own records
#     (bytes, packets and flows, scaled by the sampling rate, in and out);
#  2. a second collector replaying the same export adds up; a collector that
#     writes the same steps again (a retried flush) changes nothing;
#  3. every key carries a TTL except the documented mm:schema;
#  4. live UDP intake on a 1 s step while Redis is killed and restarted:
#     what was counted is all there afterwards, exactly once;
#  5. the collector's template state is in Redis and loaded at the next start
#     (that it then decodes without templates: tests/unit/test_persist.c).
set -eu
. tests/integration/lib.sh
mm_tmpdir
GEN=$BUILD/bin/mamori-gen
COL=$BUILD/bin/mamori-collector
CLI=$BUILD/bin/mamori

# redis-server with an append-only file, so a SIGKILL loses nothing that was
# acknowledged (the outage test restarts it on the same port).
redis_up() {
	redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$MM_TMP/redis" --save '' \
		--appendonly yes --appendfsync always --daemonize no \
		--logfile "$MM_TMP/redis/redis.log" >/dev/null 2>&1 &
	RPID=$!
	track_pid "$RPID"
	wait_for 10 _redis_pong "$RPORT" || fail "redis-server did not answer on $RPORT"
}
mkdir -p "$MM_TMP/redis"
RPORT=$(free_port)
redis_up
rcli() { redis-cli -p "$RPORT" "$@"; }

conf() { # conf FILE ID STEP
	cat >"$1" <<EOF
[collector]
id = $2
[redis]
host = 127.0.0.1
port = $RPORT
stall_timeout = 2
backoff_max = 1
[window]
step = $3
late_steps = 1
retention = 3600
[group lan]
prefix = 10.0.0.0/16
EOF
}
conf "$MM_TMP/c1.conf" c1 10
conf "$MM_TMP/c2.conf" c2 10

# Expected per-host totals from the generator's record dump: in = host is the
# destination, out = the source; counters x sampling.
expect() { # expect DUMP HOST -> "bytes_in pkts_in flows_in bytes_out pkts_out flows_out"
	awk -F'\t' -v h="$2" 'NR > 1 {
		if ($5 == h) { bi += $10 * $11; pi += $9 * $11; fi += $11 }
		if ($3 == h) { bo += $10 * $11; po += $9 * $11; fo += $11 }
	} END { printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", bi, pi, fi, bo, po, fo }' "$1"
}
got() { # got CONF HOST -> the same six numbers from Redis, all steps
	"$CLI" -c "$1" host "$2" --all --json |
		json_fields bytes_in pkts_in flows_in bytes_out pkts_out flows_out | tr '\t' ' ' |
		awk '{ for (i = 1; i <= 6; i++) if ($i == "") $i = 0; print }'
}

note "== 1. replay: exact per-host counters"
"$GEN" -f ipfix -s 11 --hosts 300 --prefix 10.0.0.0/16 --duration 45 --step-rate 300 \
	--attack syn_flood:victim=10.0.1.3,start=10,end=30,pps=50 \
	--pcap "$MM_TMP/s.pcap" --dump "$MM_TMP/d.tsv" 2>/dev/null
"$COL" -c "$MM_TMP/c1.conf" --replay "$MM_TMP/s.pcap" 2>"$MM_TMP/r1.log" || {
	cat "$MM_TMP/r1.log" >&2
	fail "replay c1"
}
# the victim, the busiest inside host, and a few others
hosts=$(awk -F'\t' 'NR > 1 && $5 ~ /^10\.0\./ { n[$5]++ } END { for (h in n) print n[h], h }' "$MM_TMP/d.tsv" |
	sort -rn | awk '$2 != "10.0.1.3"' | head -n 3 | awk '{ print $2 }')
hosts="10.0.1.3 $hosts"
for h in $hosts; do
	e=$(expect "$MM_TMP/d.tsv" "$h")
	g=$(got "$MM_TMP/c1.conf" "$h")
	[ "$e" = "$g" ] || fail "host $h: expected '$e', Redis has '$g'"
	note "  $h: $g"
done
steps=$(rcli --scan --pattern 'mm:done:*' | wc -l)
[ "$steps" -ge 5 ] || fail "only $steps steps marked done"

note "== 2. two collectors add up; writing a step again changes nothing"
"$COL" -c "$MM_TMP/c2.conf" --replay "$MM_TMP/s.pcap" 2>"$MM_TMP/r2.log" || fail "replay c2"
"$COL" -c "$MM_TMP/c1.conf" --replay "$MM_TMP/s.pcap" 2>"$MM_TMP/r3.log" || fail "replay c1 again"
for h in $hosts; do
	e=$(expect "$MM_TMP/d.tsv" "$h" | awk '{ printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", 2 * $1, 2 * $2, 2 * $3, 2 * $4, 2 * $5, 2 * $6 }')
	g=$(got "$MM_TMP/c1.conf" "$h")
	[ "$e" = "$g" ] || fail "host $h with two collectors: expected '$e', Redis has '$g'"
done
"$CLI" -c "$MM_TMP/c1.conf" host 10.0.1.3 --all --json | grep -q '"collectors":\["c1","c2"\]' ||
	"$CLI" -c "$MM_TMP/c1.conf" host 10.0.1.3 --all --json | grep -q '"collectors":\["c2","c1"\]' ||
	fail "both collectors should be listed"

note "== 3. every key expires (but mm:schema)"
nottl=$(rcli --scan | while read -r k; do
	t=$(rcli ttl "$k")
	[ "$t" -gt 0 ] || echo "$k"
done)
[ "$nottl" = "mm:schema" ] || fail "keys without a TTL: $nottl"

note "== 4. live intake, Redis killed and restarted mid-run"
rcli flushall >/dev/null
conf "$MM_TMP/live.conf" live 1
port=$(free_port)
"$COL" --allow-root -f -c "$MM_TMP/live.conf" --listen "127.0.0.1:$port" 2>"$MM_TMP/live.log" &
col=$!
track_pid "$col"
wait_udp_bound "$port" 10 || fail "collector did not bind"
# 8 s of export at 2000 records/s, in the background; Redis dies at ~2 s and
# comes back at ~5 s
"$GEN" -f v9 -s 5 --hosts 200 --prefix 10.0.0.0/16 --step-rate 2000 --duration 8 \
	--send "127.0.0.1:$port" --dump "$MM_TMP/live.tsv" 2>"$MM_TMP/send.log" &
gen=$!
track_pid "$gen"
wait_for 10 grep -q 'steps_flushed [1-9]' "$MM_TMP/live.log" 2>/dev/null || {
	kill -USR1 "$col"
	wait_for 5 grep -q 'steps_flushed [1-9]' "$MM_TMP/live.log" || note "no flush seen yet"
}
kill -9 "$RPID"
note "  redis killed"
sleep 3
redis_up
note "  redis back"
wait "$gen" || fail "generator failed"
# every record sent has been decoded (the report lists the total), then
# SIGTERM: the collector closes its open steps and writes them before exiting
sent=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$MM_TMP/send.log" | tail -n 1)
decoded() {
	kill -USR1 "$col"
	grep -q "total: .* records $sent " "$MM_TMP/live.log"
}
wait_for 20 decoded || fail "the collector did not decode all $sent records"
stop_pid "$col" 20 >/dev/null || :
grep -q "reconnects [1-9]\|connects" "$MM_TMP/live.log" || note "(no reconnect line)"
grep -E "windows:" "$MM_TMP/live.log" | tail -n 1 >&2 || :
grep -q "steps_dropped 0" "$MM_TMP/live.log" || fail "steps were dropped: $(grep windows: "$MM_TMP/live.log" | tail -n 1)"
lhosts=$(awk -F'\t' 'NR > 1 && $5 ~ /^10\.0\./ { n[$5]++ } END { for (h in n) print n[h], h }' "$MM_TMP/live.tsv" |
	sort -rn | head -n 3 | awk '{ print $2 }')
for h in $lhosts; do
	e=$(expect "$MM_TMP/live.tsv" "$h")
	g=$(got "$MM_TMP/live.conf" "$h")
	[ "$e" = "$g" ] || fail "live host $h across the outage: expected '$e', Redis has '$g'"
	note "  $h: $g"
done

note "== 5. template and sampling state is stored, and loaded by the next start"
rcli hlen 'mm:tpl:{127.0.0.1}' | grep -qv '^0$' || fail "no template state stored"
"$COL" -c "$MM_TMP/live.conf" --replay "$MM_TMP/s.pcap" 2>"$MM_TMP/r5.log" || fail "replay for state"
grep -q "loaded [1-9][0-9]* stored template" "$MM_TMP/r5.log" || fail "stored templates were not loaded"
note "ok"
