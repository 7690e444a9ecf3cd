#!/bin/sh
# mamori vs FastNetMon (community 1.2.4, Debian 12) on one scenario
# (docs/compare.md).  Not part of CI: it runs in real time.
#
#   tools/compare-fastnetmon.sh [OUTDIR]        (make compare; root for apt-get)
#
# 1. fastnetmon, our own config (loopback only, its default thresholds:
#    20 000 pps, 1000 Mbit/s, 3500 flows/s per host; 1:1000 sampling), its
#    detections through notify_script_path into fnm-notify.log;
# 2. mamori-gen --send to its NetFlow port in real time (no --rate: scenario
#    second s goes out in wall second s, T0 = now), then fastnetmon stopped
#    by its PID;
# 3. the same scenario (same arguments, --start T0) into a pcap, replayed
#    through mamori-collector --replay and mamori-detector --replay-all --json;
# 4. fastnetmon's bans turned into alert JSON lines (a ban is a start, its
#    unban an end; incoming: class flood, outgoing: outbound_flood; tier act)
#    and both scored by `mamori eval` against the same ground truth, the
#    FastNetMon one with --any-class (it does not classify: a ban on the
#    attacked host in the attack's time counts as a detection of that attack).
#
# Environment: MM_CMP_DURATION (scenario seconds, default 540),
# MM_CMP_HOSTS (2000), MM_CMP_FORMAT (v9 or ipfix, default v9),
# MM_CMP_BAN_TIME (fastnetmon ban_time, default 60), MM_CMP_THRESHOLD_PPS
# (fastnetmon threshold_pps, default its own 20000), MM_KEEP_TMP=1,
# MM_CMP_SCENARIO (a scenario file instead of the built-in scenario).
# Everything lands in OUTDIR (default build/compare): the configs, both
# alert files, both tables (eval-mamori.txt, eval-fastnetmon.txt).
set -eu
. tests/integration/lib.sh
. tools/fastnetmon.sh
OUT=${1:-$BUILD/compare}
DURATION=${MM_CMP_DURATION:-540}
HOSTS=${MM_CMP_HOSTS:-2000}
FORMAT=${MM_CMP_FORMAT:-v9}
BAN_TIME=${MM_CMP_BAN_TIME:-60}
THRESHOLD_PPS=${MM_CMP_THRESHOLD_PPS:-20000}
STEP=10
WARMUP=12
GEN=$BUILD/bin/mamori-gen
COL=$BUILD/bin/mamori-collector
DET=$BUILD/bin/mamori-detector
MAMORI=$BUILD/bin/mamori
for b in "$GEN" "$COL" "$DET" "$MAMORI"; do [ -x "$b" ] || fail "$b not built (make)"; done

fnm_find
command -v redis-server >/dev/null || fail "redis-server missing: apt-get install -y redis-server"

mm_tmpdir
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/fnm-notify.log "$OUT"/fnm-details.log "$OUT"/*.jsonl

# The scenario.  Hosts 10.0.0.1 .. 10.0.7.210 (2000 over the /16).  A
# warm-up of 12 steps for mamori's baselines, then the attacks from 150 s,
# all over by 450 s.  Strengths are sampled packets/s at 1:1000, i.e.
# kpps on the wire: the floods at 30 kpps (above fastnetmon's 20 000 pps),
# NTP reflection 30 kpps of 468 B from 50 reflectors (112 Mbit/s), carpet
# bombing 15 kpps over a /24 (60 pps a host), a horizontal SSH scan of 1000
# probes/s, SSH brute force at 80 attempts/s.
set -- \
	flood:victim=10.0.1.10,proto=udp,start=150,end=300,pps=30 \
	syn_flood:victim=10.0.3.7,start=180,end=330,pps=30 \
	amplification:victim=10.0.5.9,vector=ntp,start=210,end=360,pps=30,reflectors=50 \
	carpet_bombing:prefix=10.0.6.0/24,proto=udp,start=240,end=390,pps=15 \
	horizontal_scan:source=198.51.100.10,prefix=10.0.0.0/16,start=150,end=450,pps=1 \
	bruteforce:source=198.51.100.30,target=10.0.2.33,service=ssh,start=150,end=450,attempts=80
GENARGS="-f $FORMAT -s 7 --hosts $HOSTS --prefix 10.0.0.0/16 --sampling 1000 --duration $DURATION"
for a in "$@"; do GENARGS="$GENARGS --attack $a"; done
# MM_CMP_SCENARIO=FILE: a scenario file (docs/scenarios.md) instead, e.g.
# tests/scenarios/mixed_day.scn (its duration in real time: an hour)
if [ -n "${MM_CMP_SCENARIO:-}" ]; then
	[ -r "$MM_CMP_SCENARIO" ] || fail "$MM_CMP_SCENARIO: cannot read"
	scn_val() { awk -v k="$1" '$1 == k { print $2; exit }' "$MM_CMP_SCENARIO"; }
	DURATION=$(scn_val duration)
	HOSTS=$(scn_val hosts)
	[ -n "$DURATION" ] && [ -n "$HOSTS" ] || fail "$MM_CMP_SCENARIO: no duration or hosts line"
	GENARGS="--scenario $MM_CMP_SCENARIO"
	# MM_CMP_FORMAT, when given, wins over the file's format (fastnetmon
	# 1.2.4 raised nothing on the mixed day's IPFIX)
	[ -n "${MM_CMP_FORMAT:-}" ] && GENARGS="-f $FORMAT $GENARGS"
fi

# ---- fastnetmon ----
FPORT=$(free_port)
fnm_setup "$OUT" "$MM_TMP" "$FPORT" "$THRESHOLD_PPS" "$BAN_TIME"
"$FNM" --configuration_file "$OUT/fastnetmon.conf" --log_file "$OUT/fastnetmon.log" \
	--disable_pid_logic >"$OUT/fastnetmon.out" 2>&1 &
FNM_PID=$!
track_pid "$FNM_PID"
wait_udp_bound "$FPORT" 20 || { tail -20 "$OUT/fastnetmon.log" >&2; fail "fastnetmon did not bind 127.0.0.1:$FPORT"; }
sleep 3 # let it finish starting its threads

# T0 on a whole second: the live run starts then, the pcap says it
T0=$(($(date +%s) + 2))
while [ "$(date +%s)" -lt "$T0" ]; do sleep 0.05; done
note "live: $DURATION s of scenario to fastnetmon (pid $FNM_PID) on 127.0.0.1:$FPORT from $T0 ..."
# shellcheck disable=SC2086  # one word per option
"$GEN" $GENARGS --start "$T0" --send "127.0.0.1:$FPORT" --truth "$OUT/truth-live.tsv" \
	2>"$OUT/gen-live.log" || { cat "$OUT/gen-live.log" >&2; fail "mamori-gen --send"; }
cat "$OUT/gen-live.log" >&2
# its bans run ban_time after the attack; wait for the unbans
sleep $((BAN_TIME + 15))
stop_pid "$FNM_PID" 10 || :
T_END=$(date +%s)

# ---- mamori on the replay clock ----
# shellcheck disable=SC2086
"$GEN" $GENARGS --start "$T0" --pcap "$MM_TMP/s.pcap" --truth "$OUT/truth.tsv" \
	2>"$OUT/gen-pcap.log" || { cat "$OUT/gen-pcap.log" >&2; fail "mamori-gen --pcap"; }
cmp -s "$OUT/truth.tsv" "$OUT/truth-live.tsv" || note "warning: the live and the pcap ground truths differ"
start_redis "$MM_TMP/redis"
cat >"$OUT/mamori.conf" <<EOC
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
"$COL" -c "$OUT/mamori.conf" --replay "$MM_TMP/s.pcap" 2>"$OUT/collector.log" ||
	{ cat "$OUT/collector.log" >&2; fail "collector replay"; }
"$DET" -c "$OUT/mamori.conf" --replay-all --json >"$OUT/mamori-alerts.jsonl" 2>"$OUT/detector.log" ||
	{ cat "$OUT/detector.log" >&2; fail "detector replay"; }

# ---- fastnetmon's bans as alert JSON lines ----
# fnm-notify.log: time IP direction pps action.  A ban opens an incident
# on IP (class flood when incoming, outbound_flood when outgoing), its
# unban ends it; one still banned at the end stays open.
touch "$OUT/fnm-notify.log"
awk -v step=$STEP '
	function js(ev, i) {
		printf "{\"schema\":1,\"event\":\"%s\",\"id\":\"fnm-%d\",\"class\":\"%s\",\"vector\":null,\"tier\":\"act\",\"host\":\"%s\",\"step_s\":%d,\"first_step\":%d,\"last_step\":%d",
			ev, i, cls[i], ip[i], step, fs[i], (ev == "end" ? es[i] : fs[i])
		if (ev == "end") printf ",\"end_step\":%d", es[i]
		printf ",\"detector\":\"fastnetmon\",\"pps\":%s}\n", pps[i]
	}
	$5 == "ban" { n++; ip[n] = $2; cls[n] = ($3 == "outgoing" ? "outbound_flood" : "flood")
		fs[n] = int($1 / step); pps[n] = $4 + 0; open[$2] = n; js("start", n); next }
	$5 == "unban" && ($2 in open) { i = open[$2]; delete open[$2]; es[i] = int($1 / step); js("end", i) }
' "$OUT/fnm-notify.log" >"$OUT/fnm-alerts.jsonl"

# ---- both tables ----
# host-windows, the same for both: every monitored host, every step (the
# detector's own count, which adds the outside hosts it scored, is in
# detector.log)
steps=$((DURATION / STEP))
st=0
"$MAMORI" eval --truth "$OUT/truth.tsv" --alerts "$OUT/mamori-alerts.jsonl" \
	--hosts "$HOSTS" --steps "$steps" -v >"$OUT/eval-mamori.txt" 2>&1 || st=$?
"$MAMORI" eval --truth "$OUT/truth.tsv" --alerts "$OUT/fnm-alerts.jsonl" --any-class \
	--hosts "$HOSTS" --steps "$steps" -v >"$OUT/eval-fastnetmon.txt" 2>&1 || st=$?
echo "== mamori (replay of the same scenario, $(wc -l <"$OUT/mamori-alerts.jsonl") alert lines)"
cat "$OUT/eval-mamori.txt"
echo
echo "== fastnetmon $($FNM --version 2>/dev/null | head -1) (live, $(grep -c ' ban$' "$OUT/fnm-notify.log" || :) bans; eval --any-class)"
cat "$OUT/eval-fastnetmon.txt"
echo
echo "fastnetmon notifications (time IP direction pps action):"
sed 's/^/  /' "$OUT/fnm-notify.log"
note "live run $T0..$T_END; files in $OUT"
exit "$st"
