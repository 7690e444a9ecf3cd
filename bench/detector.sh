#!/bin/sh
# detector.sh - mamori-detector's time per step with N active hosts, Redis
# included: bench_redis writes K steps of N hosts through the collector's
# Redis writer into a private redis-server, then mamori-detector scores
# them (--replay-all: read the index, the fast and slow windows and the
# baselines, score, write the baselines back), once whole and once as two
# shards side by side.  Reports ms per step, the share of a 10 s step, and
# the detector's peak memory.
#   BENCH_DET_HOSTS (100000)  BENCH_DET_STEPS (8)
set -eu
cd "$(dirname -- "$0")/.."
BUILD=${BUILD:-build}
N=${BENCH_DET_HOSTS:-100000}
K=${BENCH_DET_STEPS:-8}
DET=$BUILD/bin/mamori-detector
command -v redis-server >/dev/null || { echo "detector.sh: SKIP: no redis-server"; exit 0; }
[ -x "$BUILD/bench/bench_redis" ] && [ -x "$DET" ] || { echo "detector.sh: SKIP: not built"; exit 0; }

tmp=$(mktemp -d)
redis-server --port 0 --unixsocket "$tmp/r.sock" --save '' --appendonly no --dir "$tmp" \
	--logfile "$tmp/redis.log" &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
i=0
while [ ! -S "$tmp/r.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$tmp/r.sock" ] || { echo "detector.sh: redis-server did not start"; exit 1; }

"$BUILD/bench/bench_redis" -s "$tmp/r.sock" -n "$N" -k "$K" -K >"$tmp/fill.txt" ||
	{ cat "$tmp/fill.txt"; exit 1; }
cat >"$tmp/m.conf" <<EOC
[redis]
socket = $tmp/r.sock
[window]
step = 10
steps = 6
[group bench]
prefix = 10.0.0.0/8
EOC

now_ms() { date +%s%3N; }
timed() { # timed LABEL CMD...: wall ms and peak RSS KiB into $ms, $rss
	if [ -x /usr/bin/time ]; then
		t0=$(now_ms)
		/usr/bin/time -f %M -o "$tmp/rss" "$@" >/dev/null 2>"$tmp/det.log" || { cat "$tmp/det.log"; exit 1; }
		ms=$(($(now_ms) - t0))
		rss=$(cat "$tmp/rss")
	else
		t0=$(now_ms)
		"$@" >/dev/null 2>"$tmp/det.log" || { cat "$tmp/det.log"; exit 1; }
		ms=$(($(now_ms) - t0))
		rss=-
	fi
}

printf '%-28s %8s %10s %10s %12s\n' "run" "hosts" "ms/step" "% of 10 s" "peak RSS MiB"
report() {
	awk -v l="$1" -v n="$N" -v ms="$2" -v k="$K" -v rss="$3" 'BEGIN {
		printf "%-28s %8d %10.0f %10.1f %12s\n", l, n, ms / k, ms / k / 100,
		       rss == "-" ? "-" : sprintf("%.0f", rss / 1024) }'
}
# the baselines of a first run would be loaded by the next: drop them
redis-cli -s "$tmp/r.sock" --scan --pattern 'mm:b:*' | xargs -r -n 1000 redis-cli -s "$tmp/r.sock" del >/dev/null
timed "$DET" -c "$tmp/m.conf" --replay-all
report "whole (1 detector)" "$ms" "$rss"
redis-cli -s "$tmp/r.sock" --scan --pattern 'mm:b:*' | xargs -r -n 1000 redis-cli -s "$tmp/r.sock" del >/dev/null
t0=$(now_ms)
"$DET" -c "$tmp/m.conf" --replay-all --shard 0/2 >/dev/null 2>"$tmp/s0.log" &
p0=$!
"$DET" -c "$tmp/m.conf" --replay-all --shard 1/2 >/dev/null 2>"$tmp/s1.log" || { cat "$tmp/s1.log"; exit 1; }
wait $p0 || { cat "$tmp/s0.log"; exit 1; }
report "2 shards side by side" "$(($(now_ms) - t0))" -
