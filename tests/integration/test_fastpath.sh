#!/bin/sh
# The fast path end to end (docs/fastpath.md): a real redis-server,
# mamori-collector and mamori-detector, mamori-gen.  One host of 10.0.0.0/16
# is flooded at 400 kpps (400 sampled packets/s at 1:1000) for 3 s, four
# times its group's ceiling_pps of 100 kpps; steps of 1 s, windows of 3.
#
# 1. Live, on the wall clock (the generator in real time from a whole
#    second T0, so record times are the wall clock): exactly one incident
#    on the victim (start ... end, one id, no second start when the step
#    scoring confirms the flood), its start adopted from the fast path and
#    naming the collector.  Timing, asserted on clocks that do not depend
#    on how fast this machine is: the interval that crossed ends within
#    2 s of the flood's first packets on the flows' own clock; the check
#    that saw it ran within 2 s of them (at most 8 of the collector's
#    250 ms timer ticks); and the start was in the alert stream before the
#    detector could have scored the crossing's step at all (the step
#    scoring did not raise it).  The end-to-end delay is printed.
# 2. Replayed (the same scenario as a pcap, the capture's clock): the same
#    single incident, the crossing at a fixed time within 2 s of the
#    flood, the same alerts from a second replay; and with the fast path
#    off the step scoring alone raises the flood (so the live run's
#    confirmation was a real one), a step or more later.
set -eu
. tests/integration/lib.sh
mm_tmpdir
GEN=$BUILD/bin/mamori-gen
COL=$BUILD/bin/mamori-collector
DET=$BUILD/bin/mamori-detector
for b in "$GEN" "$COL" "$DET"; do [ -x "$b" ] || fail "$b not built"; done

VICTIM=10.0.1.10
start_redis "$MM_TMP/redis"
UDP=$(free_port)
conf() { # conf FILE DB FASTPATH
	cat >"$1" <<EOC
[collector]
id = edge-1
listen = 127.0.0.1:$UDP
[redis]
host = 127.0.0.1
port = $REDIS_PORT
db = $2
[window]
step = 1
steps = 3
late_steps = 1
retention = 600
[detector]
calm_steps = 3
update_steps = 2
slow_window_steps = 3
[group lan]
prefix = 10.0.0.0/16
sampling_rate = 1000
warmup_steps = 2
ceiling_pps = 100000
[fastpath]
enabled = $3
EOC
}
conf "$MM_TMP/live.conf" 0 yes
"$COL" -t -c "$MM_TMP/live.conf" 2>/dev/null || fail "collector -t rejected the config"

# 300 hosts at 300 records/s; the flood from 3 s to 6 s.
GENARGS="-f v9 -s 3 --hosts 300 --prefix 10.0.0.0/16 --sampling 1000 --step-rate 300
	--attack flood:victim=$VICTIM,proto=udp,start=3,end=6,pps=400"

# events of the victim: event id adopted fast.collector fast.time_ms
# fast.data_end_ms first_step
victim_events() {
	grep -F "\"host\":\"$VICTIM\"" "$1" | while IFS= read -r line; do
		ev=$(printf '%s\n' "$line" | json_fields event id adopted class)
		fc=$(printf '%s\n' "$line" | sed -n 's/.*"fast":{\(.*\)}}$/\1/p' | json_fields collector time_ms)
		fs=$(printf '%s\n' "$line" | json_fields first_step)
		printf '%s\t%s\t%s\n' "$ev" "${fc:-	}" "$fs"
	done
}

# one_incident FILE: exactly one start and one end on the victim, one id,
# the start adopted from the fast path of edge-1; prints the start's line.
one_incident() {
	victim_events "$1" >"$MM_TMP/v.tsv"
	n=$(awk -F'\t' '$1 == "start"' "$MM_TMP/v.tsv" | wc -l)
	[ "$n" -eq 1 ] || { cat "$MM_TMP/v.tsv" >&2; fail "$1: $n starts on $VICTIM, want 1"; }
	n=$(awk -F'\t' '$1 == "end"' "$MM_TMP/v.tsv" | wc -l)
	[ "$n" -eq 1 ] || { cat "$MM_TMP/v.tsv" >&2; fail "$1: $n ends on $VICTIM, want 1"; }
	n=$(cut -f2 "$MM_TMP/v.tsv" | sort -u | wc -l)
	[ "$n" -eq 1 ] || fail "$1: $n incident ids on $VICTIM"
	awk -F'\t' '$1 == "start" && $3 == "true" && $4 == "flood" && $5 == "edge-1"' "$MM_TMP/v.tsv" | grep -q . ||
		{ cat "$MM_TMP/v.tsv" >&2; fail "$1: the start is not the fast path's flood from edge-1"; }
	awk -F'\t' '$1 == "start"' "$MM_TMP/v.tsv"
}

# ---- 1. live ----
"$COL" --allow-root -f -c "$MM_TMP/live.conf" 2>"$MM_TMP/col.log" &
CPID=$!
track_pid "$CPID"
wait_udp_bound "$UDP" 10 || fail "collector did not bind 127.0.0.1:$UDP"
"$DET" --allow-root -f -c "$MM_TMP/live.conf" --json >"$MM_TMP/live.json" 2>"$MM_TMP/det.log" &
DPID=$!
track_pid "$DPID"
# T0 on a whole second: record times are then the wall clock
T0=$(($(date +%s) + 1))
while [ "$(date +%s)" -lt "$T0" ]; do sleep 0.02; done
# shellcheck disable=SC2086  # one word per option
"$GEN" $GENARGS --duration 8 --start "$T0" --send "127.0.0.1:$UDP" --truth "$MM_TMP/truth.tsv" 2>"$MM_TMP/gen.log" ||
	{ cat "$MM_TMP/gen.log" >&2; fail "mamori-gen --send"; }
FLOOD_MS=$(awk -F'\t' '$1 == "flood" { printf "%d000\n", $5; exit }' "$MM_TMP/truth.tsv")
[ "$FLOOD_MS" = $(((T0 + 3) * 1000)) ] || fail "ground truth: the flood starts at $FLOOD_MS"
_ended() { grep -F "\"host\":\"$VICTIM\"" "$MM_TMP/live.json" | grep -q '"event":"end"'; }
wait_for 15 _ended || { cat "$MM_TMP/live.json" "$MM_TMP/det.log" >&2; fail "no end of the incident 15 s after the run"; }
sleep 1.5 # a duplicate would come by now: the step scoring is a step behind
stop_pid "$DPID" 10 || :
stop_pid "$CPID" 10 || :
grep -q "crossings started 1 incidents" "$MM_TMP/det.log" || { cat "$MM_TMP/det.log" >&2; fail "detector: not one fast start"; }

start=$(one_incident "$MM_TMP/live.json")
check_ms=$(printf '%s\n' "$start" | cut -f6)
first_step=$(printf '%s\n' "$start" | cut -f7)
data_end=$(redis-cli -p "$REDIS_PORT" xrange mm:fast - + | awk -v h="$VICTIM" '
	$0 == "host" { getline; hv = $0 } $0 == "data_end_ms" { getline; if (hv == h) { print; exit } }')
[ -n "$data_end" ] || fail "no crossing of $VICTIM in mm:fast"
# when the start reached the alert stream (Redis' clock, ms)
added=$(redis-cli -p "$REDIS_PORT" xrange mm:alerts - + | awk -v h="$VICTIM" '
	/^[0-9]+-[0-9]+$/ { id = $0 } index($0, "\"event\":\"start\"") && index($0, "\"host\":\"" h "\"") { sub(/-.*/, "", id); print id; exit }')
[ -n "$added" ] || fail "the start is not in mm:alerts"
note "live: flood at $FLOOD_MS; interval crossed ends $((data_end - FLOOD_MS)) ms after (flows' clock), check $((check_ms - FLOOD_MS)) ms after, start in mm:alerts $((added - FLOOD_MS)) ms after"
[ $((data_end - FLOOD_MS)) -le 2000 ] || fail "the crossing took $((data_end - FLOOD_MS)) ms of the flood's own time"
[ $((check_ms - FLOOD_MS)) -le 2000 ] || fail "the check saw it $((check_ms - FLOOD_MS)) ms after the flood began (> 8 ticks)"
# the detector scores step s at (s + 1 + late_steps) s + 0.5 s at the earliest
[ "$added" -lt $(((first_step + 2) * 1000 + 500)) ] ||
	fail "the start came at $added, not before step $first_step could be scored"
n=$(grep -F "\"host\":\"$VICTIM\"" "$MM_TMP/live.json" | grep -c '"event":"update"' || :)
[ "$n" -ge 1 ] || fail "no update: the step scoring did not carry the incident"
other=$(grep -v -F "\"host\":\"$VICTIM\"" "$MM_TMP/live.json" | grep '"event":"start"' | json_fields class host || :)
[ -z "$other" ] || { printf '%s\n' "$other" >&2; fail "starts on the clean background"; }

# ---- 2. replayed ----
# 6 s more than live: the capture's clock must run on for the end
# shellcheck disable=SC2086
"$GEN" $GENARGS --duration 14 --start "$T0" --pcap "$MM_TMP/s.pcap" 2>/dev/null || fail "mamori-gen --pcap"
replay() { # replay CONF OUT: collector replay, detector replay
	"$COL" -c "$1" --replay "$MM_TMP/s.pcap" 2>"$MM_TMP/rcol.log" || { cat "$MM_TMP/rcol.log" >&2; fail "collector replay"; }
	"$DET" -c "$1" --replay-all --json >"$2" 2>"$MM_TMP/rdet.log" || { cat "$MM_TMP/rdet.log" >&2; fail "detector replay"; }
}
conf "$MM_TMP/r.conf" 1 yes
replay "$MM_TMP/r.conf" "$MM_TMP/r1.json"
start=$(one_incident "$MM_TMP/r1.json")
check_ms=$(printf '%s\n' "$start" | cut -f6)
fast_step=$(printf '%s\n' "$start" | cut -f7)
note "replay: crossing seen $((check_ms - FLOOD_MS)) ms after the flood began (capture clock)"
[ $((check_ms - FLOOD_MS)) -le 2000 ] || fail "replay: the crossing came $((check_ms - FLOOD_MS)) ms after the flood"
redis-cli -p "$REDIS_PORT" -n 1 --scan --pattern 'mm:b:*' | xargs -r redis-cli -p "$REDIS_PORT" -n 1 del >/dev/null
"$DET" -c "$MM_TMP/r.conf" --replay-all --json >"$MM_TMP/r2.json" 2>/dev/null || fail "second detector replay"
cmp -s "$MM_TMP/r1.json" "$MM_TMP/r2.json" || fail "a second replay of the same content differs"

# The fast path off: the step scoring alone raises the same flood, later.
conf "$MM_TMP/off.conf" 2 no
replay "$MM_TMP/off.conf" "$MM_TMP/off.json"
victim_events "$MM_TMP/off.json" >"$MM_TMP/off.tsv"
n=$(awk -F'\t' '$1 == "start" && $3 == "false" && $4 == "flood"' "$MM_TMP/off.tsv" | wc -l)
[ "$n" -eq 1 ] || { cat "$MM_TMP/off.tsv" >&2; fail "fast path off: $n step-scored flood starts, want 1"; }
[ "$(redis-cli -p "$REDIS_PORT" -n 2 exists mm:fast)" = 0 ] || fail "fast path off, yet mm:fast was written"
slow_step=$(awk -F'\t' '$1 == "start" { print $7 }' "$MM_TMP/off.tsv")
note "replay: fast start at step $fast_step, the step scoring's own at step $slow_step"
[ "$slow_step" -gt "$fast_step" ] || fail "the step scoring ($slow_step) was not later than the fast path ($fast_step)"
note "fastpath: ok"
