#!/bin/sh
# run.sh - run libFuzzer targets, each seeded from the shared captures.
#
#   FUZZ_SECONDS=30 sh tests/fuzz/run.sh build/fuzz/fuzz_netflow5 ...
#
# Seeds: the UDP payloads of the captures in ../shared/captures/export and
# generated (TShark `-e udp.payload` -> xxd -r -p), sorted by content into
# netflow5 / netflow9 / ipfix / sflow by the version field: single
# datagrams (at most FUZZ_SEEDS_PER_FILE per capture, default 64: the big
# generated captures repeat themselves) and one multi-datagram series per
# capture and format.  A target gets the seeds of its format by name
# (fuzz_netflow5, fuzz_netflow9, fuzz_ipfix, fuzz_sflow*); fuzz_nflog gets
# the hand-made packets of tests/fuzz/seeds/nflog/*.hex (NFLOG metadata and
# a copied packet, one hex string per file); any other target gets them
# all.  Seeds go to BIN_DIR/seeds/FORMAT (rebuilt each run); what
# a target finds is kept in BIN_DIR/corpus/TARGET across runs.
#
# Each target runs FUZZ_SECONDS (default 30) with -timeout=10
# -rss_limit_mb=2048.  A crash, leak, timeout or OOM fails the run; the
# reproducer is BIN_DIR/artifacts/TARGET-crash-... (replay it with
# `BIN ARTIFACT`).  One line per target, exit status 1 if any failed.
set -u
cd "$(dirname -- "$0")/../.." || exit 1
CAPTURES=${CAPTURES:-../shared/captures}
secs=${FUZZ_SECONDS:-30}
per_file=${FUZZ_SEEDS_PER_FILE:-64}

[ $# -gt 0 ] || { echo "usage: FUZZ_SECONDS=N sh tests/fuzz/run.sh BINARY..." >&2; exit 2; }
for t in tshark xxd; do
	command -v "$t" >/dev/null || { echo "fuzz: $t not installed (sh tools/deps.sh)" >&2; exit 1; }
done

bindir=$(dirname -- "$1")
seeds=$bindir/seeds
rm -rf "$seeds"
mkdir -p "$seeds/netflow5" "$seeds/netflow9" "$seeds/ipfix" "$seeds/sflow" "$seeds/nflog" "$seeds/other" \
    "$bindir/corpus" "$bindir/artifacts"

# Per capture: each of its first FUZZ_SEEDS_PER_FILE datagrams is a seed,
# and so is the series of its first datagrams of each format in the
# harness's multi-datagram form (tests/fuzz/fuzz_common.h: "MMFZ", then a
# 2-byte big-endian length before each datagram, at most 8 datagrams or
# 8 KiB), so templates meet their data.  awk sorts the payloads by version
# field and prints "FORMAT NAME HEX"; xxd -r -p writes the bytes.
n=0
for cap in "$CAPTURES"/export/*.pcap "$CAPTURES"/generated/*.pcap; do
	[ -f "$cap" ] || continue
	base=$(basename "$cap" .pcap)
	tshark -r "$cap" -T fields -e udp.payload 2>/dev/null |
	awk -v base="$base" -v per="$per_file" '
	function fmt(h) {
		if (h ~ /^0005/) return "netflow5"
		if (h ~ /^0009/) return "netflow9"
		if (h ~ /^000a/) return "ipfix"
		if (h ~ /^00000005/) return "sflow"
		return "other"
	}
	NF == 1 {
		h = tolower($1)
		f = fmt(h)
		if (NR <= per)
			print f, base "-" NR, h
		if (nser[f] < 8 && length(ser[f]) + length(h) + 4 <= 16384) {
			ser[f] = ser[f] sprintf("%04x", length(h) / 2) h
			nser[f]++
		}
	}
	END {
		for (f in ser)
			if (nser[f] > 1)
				print f, base "-series", "4d4d465a" ser[f]
	}' | while read -r fmt name hex; do
		printf '%s' "$hex" | xxd -r -p >"$seeds/$fmt/$name"
	done
	n=$((n + 1))
done
for hex in tests/fuzz/seeds/nflog/*.hex; do
	[ -f "$hex" ] || continue
	xxd -r -p "$hex" >"$seeds/nflog/$(basename "$hex" .hex)"
done
summary=""
for f in netflow5 netflow9 ipfix sflow nflog; do
	summary="$summary $f=$(find "$seeds/$f" -type f | wc -l)"
done
echo "fuzz: seeds from $n captures:$summary"
[ "$n" -gt 0 ] || { echo "fuzz: no captures under $CAPTURES" >&2; exit 1; }

failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	case $name in
	*netflow5* | *nfv5*) fmts=netflow5 ;;
	*netflow9* | *nfv9*) fmts=netflow9 ;;
	*ipfix*) fmts=ipfix ;;
	*sflow*) fmts=sflow ;;
	*nflog*) fmts=nflog ;;
	*) fmts="netflow5 netflow9 ipfix sflow other" ;;
	esac
	dirs=""
	for f in $fmts; do
		dirs="$dirs $seeds/$f"
	done
	corpus=$bindir/corpus/$name
	mkdir -p "$corpus"
	log=$bindir/$name.log
	t0=$(date +%s)
	# libFuzzer writes new units into the first directory only.
	# shellcheck disable=SC2086  # $dirs is a list of directories
	timeout -k 10 $((secs + 120)) "$bin" -max_total_time="$secs" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$bindir/artifacts/$name-" "$corpus" $dirs >"$log" 2>&1
	st=$?
	dt=$(($(date +%s) - t0))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	units=$(find "$corpus" -type f | wc -l)
	if [ "$st" -eq 0 ]; then
		echo "ok   $name: ${execs:-?} runs in ${dt}s, cov ${cov:-?}, corpus $units"
	else
		failed=$((failed + 1))
		echo "FAIL $name: exit $st after ${dt}s (log $log)"
		grep -E 'ERROR: |SUMMARY: |Test unit written to|runtime error' "$log" | head -n 8 | sed 's/^/    /'
	fi
done
[ "$failed" -eq 0 ]
