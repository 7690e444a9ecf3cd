#!/bin/sh
# run.sh - the benchmarks (`make bench`), from the repo root:
#   1. decoder throughput: $BUILD/bench/bench_decode over the large
#      generated captures (one per format), when built;
#   2. every other C benchmark in $BUILD/bench/ (run without arguments);
#   3. end-to-end ingest over loopback, mamori-collector and nfcapd side
#      by side: bench/ingest.sh (table on stdout, TSV in
#      $BUILD/bench/ingest.tsv; its environment knobs are listed there);
#   4. NFLOG packets/s through the collector, in a network namespace:
#      bench/nflog.sh (root only; TSV in $BUILD/bench/nflog.tsv);
#   5. the fast path: ingest with it on and off, and the detection delay
#      beside fastnetmon, live: bench/fastpath.sh (TSVs in $BUILD/bench/
#      fastpath-*.tsv; docs/fastpath.md).
# BENCH_ONLY=decode|ingest|nflog|fastpath runs one part.
set -eu
cd "$(dirname -- "$0")/.."
BUILD=${BUILD:-build}
CAPTURES=${CAPTURES:-../shared/captures}
export BUILD CAPTURES
only=${BENCH_ONLY:-}

if [ -z "$only" ] || [ "$only" = decode ]; then
	for b in "$BUILD"/bench/*; do
		if [ ! -f "$b" ] || [ ! -x "$b" ]; then continue; fi
		case $(basename "$b") in
		bench_decode)
			echo "== decoder throughput (one core): $b"
			"$b" "$CAPTURES"/generated/softflowd_v5_synflood.pcap \
			    "$CAPTURES"/generated/softflowd_v9_synflood.pcap \
			    "$CAPTURES"/generated/softflowd_ipfix_synflood.pcap \
			    "$CAPTURES"/generated/pmacct-nfprobe_ipfix_synscan.pcap |
			    tee "$BUILD/bench/decode.txt"
			;;
		*)
			echo "== $b"
			"$b"
			;;
		esac
	done
fi
if [ -z "$only" ] || [ "$only" = ingest ]; then
	echo "== ingest over loopback (bench/ingest.sh)"
	sh bench/ingest.sh
fi
if [ -z "$only" ] || [ "$only" = nflog ]; then
	echo "== NFLOG packets/s through the collector (bench/nflog.sh)"
	sh bench/nflog.sh
fi
if [ -z "$only" ] || [ "$only" = fastpath ]; then
	echo "== the fast path: ingest on/off, delay beside fastnetmon (bench/fastpath.sh)"
	BENCH_ONLY= sh bench/fastpath.sh
fi
