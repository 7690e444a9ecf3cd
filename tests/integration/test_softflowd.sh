#!/bin/sh
# test_softflowd.sh - live cross-check against a real exporter.
#
# softflowd 1.1.0 reads a traffic capture (../shared/captures/traffic) and
# exports NetFlow v5, v9 or IPFIX over loopback to `mamori-collector --dump
# --listen 127.0.0.1:PORT`, while tcpdump captures the same datagrams on lo.
# Then, per run:
#   - softflowd's own "Flows exported: F (R records) in P packets" line,
#     the collector's dump, and TShark's decode of the captured datagrams all
#     give R records; tcpdump holds P datagrams and the collector's
#     --stats-json counts P datagrams and no malformed ones;
#   - the records as a sorted multiset of (src, dst, sport, dport, proto,
#     bytes, packets) are exactly equal between the collector and TShark;
#   - no lost packets/records on loopback, for every version.  Note IPFIX:
#     softflowd 1.1.0 puts in the header the record count *including* the
#     current message (RFC 7011: records sent before it), so a naive check
#     sees a gap wherever the message size changes (nfcapd counts them as
#     sequence errors); the collector must not.
#
# Synchronisation is on events: the collector's socket is bound (ss),
# tcpdump says "listening", softflowd exits (it is poked with `softflowctl
# statistics` until then: in -r mode it reads only when woken), tcpdump
# (-U, packet-buffered) holds P packets, the dump holds R lines.  Only then
# is the collector stopped (SIGTERM, by PID) and its exit status checked.
set -eu
. tests/integration/lib.sh
mm_tmpdir

collector=$BUILD/bin/mamori-collector
traffic=$CAPTURES/traffic
[ -x "$collector" ] || fail "$collector not built"
for t in softflowd softflowctl tcpdump tshark ss; do
	command -v "$t" >/dev/null || fail "$t not installed"
done

# traffic capture : export versions
runs="slips_test-cc-capture-2.pcap:5,9,10
ndpi_http_ipv6.pcap:9,10
slips_test12-icmp-portscan.pcap:5,9
ndpi_iphone.pcap:10
ndpi_synscan.pcap:10"

errors=0
bad() {
	note "  $*"
	errors=$((errors + 1))
}

_sf_poke() {
	# true once softflowd has exited; otherwise wake it and report false
	kill -0 "$1" 2>/dev/null || return 0
	softflowctl -c "$2" statistics >/dev/null 2>&1 || :
	return 1
}

_pcap_has() { [ "$(tcpdump -r "$1" 2>/dev/null | wc -l)" -ge "$2" ]; }


one_run() {
	pcap=$1
	ver=$2
	name=$(basename "$pcap" .pcap)-v$ver
	d=$MM_TMP/$name
	mkdir -p "$d"
	port=$(free_port)

	"$collector" --allow-root --dump --listen "127.0.0.1:$port" --stats-json "$d/stats.json" \
	    >"$d/dump.jsonl" 2>"$d/collector.err" &
	cpid=$!
	track_pid "$cpid"
	wait_udp_bound "$port" 10 || { bad "$name: collector not bound to 127.0.0.1:$port in 10 s: $(head -c 300 "$d/collector.err")"; stop_pid "$cpid" || :; return; }

	tcpdump -i lo -U -n -w "$d/export.pcap" "udp and dst host 127.0.0.1 and dst port $port" \
	    2>"$d/tcpdump.err" &
	tpid=$!
	track_pid "$tpid"
	wait_for 10 grep -q 'listening on' "$d/tcpdump.err" || { bad "$name: tcpdump did not start"; stop_pid "$tpid" || :; stop_pid "$cpid" || :; return; }

	softflowd -d -r "$pcap" -n "127.0.0.1:$port" -v "$ver" \
	    -c "$d/softflowd.ctl" -p "$d/softflowd.pid" >"$d/softflowd.out" 2>"$d/softflowd.err" &
	spid=$!
	track_pid "$spid"
	if ! wait_for 60 _sf_poke "$spid" "$d/softflowd.ctl"; then
		bad "$name: softflowd still running after 60 s"
		stop_pid "$spid" || :
		stop_pid "$tpid" || :
		stop_pid "$cpid" || :
		return
	fi
	sst=0
	stop_pid "$spid" || sst=$?
	# "Flows exported: 261 (521 records) in 17 packets (0 failures)"
	line=$(grep 'Flows exported:' "$d/softflowd.out" || :)
	recs=$(echo "$line" | sed -n 's/.*(\([0-9]*\) records) in \([0-9]*\) packets.*/\1/p')
	pkts=$(echo "$line" | sed -n 's/.*(\([0-9]*\) records) in \([0-9]*\) packets.*/\2/p')
	if [ "$sst" -ne 0 ] || [ -z "$recs" ] || [ -z "$pkts" ]; then
		bad "$name: softflowd exit $sst, no export summary: $(tail -n 3 "$d/softflowd.err")"
		stop_pid "$tpid" || :
		stop_pid "$cpid" || :
		return
	fi

	# all datagrams are on the wire once softflowd has exited
	wait_for 10 _pcap_has "$d/export.pcap" "$pkts" || bad "$name: tcpdump holds $(tcpdump -r "$d/export.pcap" 2>/dev/null | wc -l) of $pkts datagrams after 10 s"
	stop_pid "$tpid" || :
	# and the collector has decoded them once its dump holds every record
	wait_lines "$d/dump.jsonl" "$recs" 10 || note "  $name: dump holds $(wc -l <"$d/dump.jsonl") of $recs lines after 10 s (stopping it anyway)"
	cst=0
	stop_pid "$cpid" 10 || cst=$?
	[ "$cst" -eq 0 ] || bad "$name: collector exit status $cst after SIGTERM: $(tail -n 3 "$d/collector.err")"

	# shellcheck disable=SC2046
	tshark -r "$d/export.pcap" -d "udp.port==$port,cflow" -T pdml 2>/dev/null |
	    awk -v mode=tuples -f tests/integration/cflow_records.awk | sort >"$d/tshark.txt"
	json_fields src dst sport dport proto bytes packets <"$d/dump.jsonl" |
	    tr '\t' ' ' | sort >"$d/collector.txt"
	got=$(wc -l <"$d/collector.txt")
	ts=$(wc -l <"$d/tshark.txt")
	summary="$name: softflowd $recs records in $pkts datagrams, collector $got, tshark $ts"
	if [ "$got" != "$recs" ] || [ "$ts" != "$recs" ]; then
		bad "$summary"
	elif ! cmp -s "$d/collector.txt" "$d/tshark.txt"; then
		bad "$summary; records differ (< collector, > tshark):"
		diff "$d/collector.txt" "$d/tshark.txt" | grep '^[<>]' | head -n 10 >&2 || :
	else
		note "  ok $summary"
	fi

	if [ ! -s "$d/stats.json" ]; then
		bad "$name: no --stats-json written"
		return
	fi
	sd=$(json_get "$d/stats.json" totals datagrams)
	sm=$(json_get "$d/stats.json" totals malformed)
	lp=$(json_get "$d/stats.json" totals lost_packets)
	lr=$(json_get "$d/stats.json" totals lost_records)
	[ "$sd" = "$pkts" ] || bad "$name: stats datagrams $sd, softflowd sent $pkts"
	[ "$sm" = 0 ] || bad "$name: stats malformed $sm"
	if [ "$lp" != 0 ] || [ "$lr" != 0 ]; then
		bad "$name: lost_packets $lp lost_records $lr on loopback"
	fi
}

for r in $runs; do
	pcap=$traffic/${r%%:*}
	[ -f "$pcap" ] || fail "missing $pcap"
	for v in $(echo "${r#*:}" | tr ',' ' '); do
		one_run "$pcap" "$v"
	done
done

[ "$errors" -eq 0 ] || fail "$errors problem(s)"
note "all softflowd runs agree"
