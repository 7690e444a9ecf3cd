#!/bin/sh
# demo.sh - `make demo`: the main job end to end on one machine, loopback only.
#
# The whole job on recorded and live traffic:
#  1. mamori-gen writes a labelled scenario (10 000 hosts at 1:1000 sampling,
#     a SYN flood and an NTP amplification) as IPFIX into a pcap, with its
#     ground truth, on a virtual clock;
#  2. mamori-collector --read decodes it: a few flow records as JSON, then
#     what the attacks look like in the decoded flows;
#  3. the same collector listens on 127.0.0.1 and mamori-gen sends it NetFlow
#     v9 live for a few seconds; the collector's per-exporter statistics
#     (records, loss, sampling provenance, kernel drops);
#  4. a private redis-server: the scenario replayed into per-host sliding
#     windows on its own clock, and the SYN-flood victim's window as an
#     analyst sees it with `mamori host`;
#  5. mamori-detector scores those windows and `mamori alerts` shows the
#     alert stream.
set -eu
BUILD=${BUILD:-build}
. tests/integration/lib.sh
mm_tmpdir
GEN=$BUILD/bin/mamori-gen
COL=$BUILD/bin/mamori-collector

echo "== 1. a labelled scenario: 120 s, 10 000 hosts in 10.0.0.0/16, sampling 1:1000"
"$GEN" -f ipfix -s 7 --hosts 10000 --prefix 10.0.0.0/16 --sampling 1000 --duration 120 \
	--attack syn_flood:victim=10.0.1.3,start=30,end=90,pps=200 \
	--attack amplification:vector=ntp,victim=10.0.2.9,start=60,end=110,mbps=50,reflectors=40 \
	--pcap "$MM_TMP/scenario.pcap" --truth "$MM_TMP/truth.tsv" 2>"$MM_TMP/gen.log"
echo "ground truth:"
sed 's/^/    /' "$MM_TMP/truth.tsv"

echo
echo "== 2. decoded by mamori-collector --read (one JSON line per flow record)"
"$COL" --read "$MM_TMP/scenario.pcap" --stats-json "$MM_TMP/read.json" >"$MM_TMP/flows.json" 2>"$MM_TMP/read.log"
head -n 2 "$MM_TMP/flows.json" | sed 's/^/    /'
total=$(wc -l <"$MM_TMP/flows.json")
syn=$(grep -c '"dst":"10.0.1.3".*"proto":6.*"tcp_flags":2,' "$MM_TMP/flows.json" || true)
ntp=$(grep -c '"dst":"10.0.2.9".*"proto":17,"sport":123,' "$MM_TMP/flows.json" || true)
echo "    ... $total flow records; $syn SYN-only records to 10.0.1.3, $ntp NTP (sport 123) records to 10.0.2.9"
echo "    sampling: $(grep -o '"sampling_source":"[a-z]*"' "$MM_TMP/flows.json" | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"

echo
echo "== 3. live over UDP: mamori-gen -> 127.0.0.1 -> mamori-collector (NetFlow v9, 200 k records at 100 k/s)"
port=$(free_port)
"$COL" --allow-root --dump --listen "127.0.0.1:$port" --stats-json "$MM_TMP/live.json" >/dev/null 2>"$MM_TMP/live.log" &
col=$!
track_pid "$col"
wait_udp_bound "$port" 10 || fail "collector did not bind 127.0.0.1:$port"
"$GEN" -f v9 -s 3 --hosts 10000 --send "127.0.0.1:$port" --rate 100k --count 200k 2>"$MM_TMP/send.log"
sed 's/^/    sender: /' "$MM_TMP/send.log" | tail -n 1
# wait until every record arrived (bounded), then stop the collector
i=0
while [ $i -lt 100 ]; do
	kill -USR1 "$col" 2>/dev/null || break
	grep -q "records 200000 " "$MM_TMP/live.log" 2>/dev/null && break
	sleep 0.1
	i=$((i + 1))
done
stop_pid "$col" 10 >/dev/null || true
grep -E "^mamori-collector: (exporter|total)" "$MM_TMP/live.log" | tail -n 2 | sed 's/^mamori-collector: /    /'

echo
echo "== 4. per-host windows in Redis (a private redis-server on 127.0.0.1)"
start_redis "$MM_TMP/redis"
printf '[collector]\nid = demo\n[redis]\nhost = 127.0.0.1\nport = %s\n[window]\nstep = 10\n[group lan]\nprefix = 10.0.0.0/16\n' \
	"$REDIS_PORT" >"$MM_TMP/demo.conf"
"$COL" -c "$MM_TMP/demo.conf" --replay "$MM_TMP/scenario.pcap" 2>"$MM_TMP/replay.log"
grep -E "windows:" "$MM_TMP/replay.log" | sed 's/^mamori-collector: /    /'
echo "    keys in Redis: $(redis-cli -p "$REDIS_PORT" dbsize)"
echo
echo "    \$ mamori host 10.0.1.3 --all     (the SYN flood's victim)"
"$BUILD/bin/mamori" -c "$MM_TMP/demo.conf" host 10.0.1.3 --all |
	grep -E "^host|syn_flows_in|pkts_in |distinct peers_in|dports_in" | sed 's/^/    /'

echo
echo "== 5. mamori-detector scores every active host's window, step by step (replay clock)"
echo "    (a 2-minute scenario is too short to learn baselines: the hard ceilings decide here)"
"$BUILD/bin/mamori-detector" -c "$MM_TMP/demo.conf" --replay-all 2>"$MM_TMP/det.log" >/dev/null
sed 's/^mamori-detector: /    /' "$MM_TMP/det.log" | tail -n 2
echo
echo "    \$ mamori alerts"
"$BUILD/bin/mamori" -c "$MM_TMP/demo.conf" alerts --count 10 | sed 's/^/    /'
echo
echo "demo done: export -> decode -> per-host windows in Redis -> detector -> alert stream."
