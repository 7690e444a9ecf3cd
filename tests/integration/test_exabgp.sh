#!/bin/sh
# mamori exabgp against a real redis-server, as ExaBGP runs it (a pipe on
# stdin for its answers, the lines on stdout): incident events added to
# the alert stream become announce / withdraw lines, each one exactly what
# ExaBGP's text API expects (the grammar itself: tests/unit/test_exabgp.c);
# an "error" answer is logged with the line it answers; a restart rebuilds
# the routes still due from the stream's history and announces them; a
# forged entry is ignored; "shutdown" ends it; dry-run prints nothing; and
# with [exabgp] off it refuses to start.
set -eu
. tests/integration/lib.sh
mm_tmpdir
CLI=$BUILD/bin/mamori
[ -x "$CLI" ] || fail "$CLI not built"
start_redis "$MM_TMP/redis"
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

cat >"$MM_TMP/x.conf" <<EOF
[redis]
port = $REDIS_PORT
[exabgp]
enabled = yes
action = flowspec
classes = flood,amplification
EOF
ev() { # ev EVENT ID CLASS VECTOR TIER HOST FEATURE
	rcli xadd mm:alerts '*' json "{\"schema\":1,\"event\":\"$1\",\"id\":\"$2\",\"class\":\"$3\",\"class_text\":\"t\",\"vector\":$4,\"tier\":\"$5\",\"severity\":\"high\",\"host\":\"$6\",\"role\":\"victim\",\"step_s\":10,\"first_step\":1,\"first_time\":10,\"last_step\":1,\"last_time\":10,\"feature\":\"$7\",\"detector\":\"d\"}" >/dev/null
}

# ExaBGP's side: a fifo we write answers into, held open by a sleeper.
mkfifo "$MM_TMP/in"
start_feed() { # start_feed OUT ERR [ARGS...]
	out=$1
	err=$2
	shift 2
	sleep 60 >"$MM_TMP/in" &
	holder=$!
	track_pid "$holder"
	"$CLI" -c "$MM_TMP/x.conf" exabgp "$@" <"$MM_TMP/in" >"$out" 2>"$err" &
	feed=$!
	track_pid "$feed"
	exec 3>"$MM_TMP/in"
}

note "== 1. starts and ends, line by line"
ev start 00000000000000a1 amplification '"dns"' act 203.0.113.5 amp_pkts_in  # before it starts: history
start_feed "$MM_TMP/o1" "$MM_TMP/e1"
wait_lines "$MM_TMP/o1" 1 10 || fail "the history's route was not announced"
ev start 00000000000000a2 flood null act 2001:db8::7 udp_pkts_in
ev start 00000000000000a3 flood null investigate 203.0.113.9 udp_pkts_in     # below min_tier
ev start 00000000000000a4 horizontal_scan null act 203.0.113.10 syn_flows_out # not a chosen class
rcli xadd mm:alerts '*' json '{"schema":1,"event":"start","id":"00000000000000a5","class":"flood","tier":"act","host":"1.2.3.4; announce route 0.0.0.0/0"}' >/dev/null
ev end 00000000000000a1 amplification '"dns"' act 203.0.113.5 amp_pkts_in
wait_lines "$MM_TMP/o1" 3 10 || fail "lines missing: $(cat "$MM_TMP/o1")"
echo done >&3
echo error >&3
wait_for 10 grep -q "ExaBGP refused: announce flow route { match { destination 2001:db8::7/128/0;" "$MM_TMP/e1" ||
	fail "an error answer was not logged with its line"
grep -q "stream entry .* ignored: host is not an address" "$MM_TMP/e1" || fail "the forged entry was not refused"
echo shutdown >&3
wait "$feed" || fail "exit status $? after shutdown"
exec 3>&-
stop_pid "$holder" 5 >/dev/null || :
cat >"$MM_TMP/want1" <<'EOF'
announce flow route { match { destination 203.0.113.5/32; protocol udp; source-port =53; } then { discard; } }
announce flow route { match { destination 2001:db8::7/128/0; next-header udp; } then { discard; } }
withdraw flow route { match { destination 203.0.113.5/32; protocol udp; source-port =53; } }
EOF
diff "$MM_TMP/want1" "$MM_TMP/o1" >&2 || fail "not the lines expected"

note "== 2. a restart announces what is still due; blackhole lines"
sed -i 's/^action = flowspec$/action = blackhole/' "$MM_TMP/x.conf"
start_feed "$MM_TMP/o2" "$MM_TMP/e2"
wait_lines "$MM_TMP/o2" 1 10 || fail "nothing announced after the restart"
ev end 00000000000000a2 flood null act 2001:db8::7 udp_pkts_in
wait_lines "$MM_TMP/o2" 2 10 || fail "no withdraw"
exec 3>&-
stop_pid "$holder" 5 >/dev/null || :
wait "$feed" || fail "exit status $? when ExaBGP's pipe closed"
printf '%s\n' "announce route 2001:db8::7/128 next-hop self community [65535:666]" \
	"withdraw route 2001:db8::7/128" >"$MM_TMP/want2"
diff "$MM_TMP/want2" "$MM_TMP/o2" >&2 || fail "not the lines expected after the restart"

note "== 3. dry-run prints nothing; off refuses"
ev start 00000000000000b1 flood null act 198.51.100.1 udp_pkts_in
start_feed "$MM_TMP/o3" "$MM_TMP/e3" --dry-run
wait_for 10 grep -q "dry-run: announce route 198.51.100.1/32 next-hop self community \[65535:666\]" "$MM_TMP/e3" ||
	fail "dry-run did not log the line"
exec 3>&-
stop_pid "$holder" 5 >/dev/null || :
wait "$feed" || :
[ ! -s "$MM_TMP/o3" ] || fail "dry-run wrote to ExaBGP: $(cat "$MM_TMP/o3")"
sed -i 's/^enabled = yes$/enabled = no/' "$MM_TMP/x.conf"
st=0
"$CLI" -c "$MM_TMP/x.conf" exabgp </dev/null >"$MM_TMP/o4" 2>"$MM_TMP/e4" || st=$?
[ "$st" = 1 ] && grep -q "enabled = no" "$MM_TMP/e4" && [ ! -s "$MM_TMP/o4" ] || fail "ran with [exabgp] off"
! grep -l "Sanitizer\|runtime error" "$MM_TMP"/e* >&2 || fail "a sanitizer report in the logs above"
note "ok"
