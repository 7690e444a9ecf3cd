#!/bin/sh
# test_privacy.sh - privacy by design, end to end (issue 8, docs/privacy.md).
#
# One sFlow scenario whose sampled packets carry a marker string as payload
# (mamori-gen --sflow-payload: raw headers of up to 128 bytes, as agents
# send), 10 min at 1:1000, 600 hosts in 10.0.0.0/16, a flood, an NTP
# reflection, a carpet bombing and a horizontal scan from outside, plus a
# flood on 10.0.1.30 inside the protected prefix 10.0.1.0/24.  It runs
# twice through mamori-collector --replay -> Redis -> mamori-detector
# --replay-all -> mamori eval, into two databases of one redis-server:
#   OFF  [privacy] protect = 10.0.1.0/24
#   ON   the same, and pseudonymise = yes with a key file (mode 0600)
# and once more with --read (the dump) under ON.  Asserts:
#   1. metadata only: the marker (as text and as hex) is in the capture but
#      nowhere the collector or detector wrote: every key's value in both
#      databases read by type (HGETALL, SMEMBERS, GET, XRANGE, ...), the
#      RDB (rdbcompression off), the dump, the alerts (stdout and the
#      [alerts] file), --stats-json and every log;
#   2. protected: records dropped and counted (the same number in both
#      runs); no key, alert or dump line for 10.0.1.0/24 or its pseudonym
#      prefix (mamori anon);
#   3. pseudonyms: under ON, no key, alert, dump line or log names a
#      monitored real address (10.0.x.x); the detection table of `mamori
#      eval --key` is the table of OFF, line for line, at recall 1;
#      `mamori deanon` gives the flood's victim back from its alert, logs
#      the use (and not the answer) to [privacy] deanon_log, and refuses
#      without --reason or when its log cannot be written;
#   4. retention: every key in both databases has a TTL, at most the
#      configured retention ([window] retention, the fast path's stream
#      included; the alert stream: [alerts] stream_retention), except
#      mm:schema, the one key documented as configuration
#      (docs/redis-schema.md);
#   5. the key file: group- or world-readable, the collector and the
#      detector refuse to start (-t too), naming the file and line;
#   6. SIGHUP with pseudonyms on (a live collector fed by mamori-gen): a
#      group prefix added is mapped through the running key, so its hosts
#      turn up as monitored pseudonyms; a protected prefix added is dropped
#      from then on; the detector accepts the same file.
set -eu
. tests/integration/lib.sh
t_begin=$(date +%s)
mm_tmpdir
GEN=$BUILD/bin/mamori-gen
COL=$BUILD/bin/mamori-collector
DET=$BUILD/bin/mamori-detector
CLI=$BUILD/bin/mamori
for f in "$GEN" "$COL" "$DET" "$CLI"; do
	[ -x "$f" ] || fail "$f not built"
done
MARK=MMSECRETPAYLOAD
MARK_HEX=4d4d534543524554 # "MMSECRET" as a hex dump would show it
RETENTION=7200
STREAM_RETENTION=86400

start_redis "$MM_TMP/redis"
R() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
# a fixed key, so that a failure reproduces
KEY=$MM_TMP/pseudonym.key
( umask 077 && printf '%s\n' 8009ab3a605435bea0c385bea18485d8b0a1103d6590bdf48c968be5de53836e >"$KEY" )

conf() { # conf FILE DB PSEUDONYMISE
	cat >"$1" <<EOF
[collector]
id = c1
[redis]
host = 127.0.0.1
port = $REDIS_PORT
db = $2
[window]
step = 10
retention = $RETENTION
[group lan]
prefix = 10.0.0.0/16
sampling_rate = 1000
warmup_steps = 12
# the reflection (20 000 packets/s) crosses it: the fast path writes its
# stream too, on pseudonyms, and its TTL is checked with the rest
ceiling_amp_pps = 10000
[alerts]
stream_retention = $STREAM_RETENTION
file = $MM_TMP/alerts-file-$2.jsonl
[privacy]
protect = 10.0.1.0/24
pseudonymise = $3
key_file = $KEY
deanon_log = $MM_TMP/deanon.log
EOF
}
conf "$MM_TMP/off.conf" 0 no
conf "$MM_TMP/on.conf" 1 yes
KEY_LINE=$(grep -n '^key_file' "$MM_TMP/on.conf" | cut -d: -f1)

"$GEN" -f sflow -s 5 --hosts 600 --prefix 10.0.0.0/16 --duration 600 --step-rate 200 \
	--sflow-payload "$MARK" \
	--attack flood:victim=10.0.0.10,proto=udp,start=120,end=270,pps=20 \
	--attack amplification:victim=10.0.0.20,vector=ntp,start=150,end=300,pps=20,reflectors=50 \
	--attack carpet_bombing:prefix=10.0.2.0/24,proto=udp,start=360,end=510,pps=15 \
	--attack horizontal_scan:source=198.51.100.10,prefix=10.0.0.0/16,start=120,end=420,pps=1 \
	--attack flood:victim=10.0.1.30,proto=udp,start=150,end=300,pps=20 \
	--pcap "$MM_TMP/s.pcap" --truth "$MM_TMP/truth-all.tsv" 2>"$MM_TMP/gen.log" ||
	{ cat "$MM_TMP/gen.log" >&2; fail "mamori-gen"; }
grep -aq "$MARK" "$MM_TMP/s.pcap" || fail "the capture carries no marker: nothing to test"
# the protected victim's flood is dropped by design: not an attack to find
awk -F'\t' '$4 != "10.0.1.30"' "$MM_TMP/truth-all.tsv" >"$MM_TMP/truth.tsv"
t_gen=$(date +%s)

run() { # run NAME: replay, detect, score
	n=$1
	"$COL" -c "$MM_TMP/$n.conf" --replay "$MM_TMP/s.pcap" --stats-json "$MM_TMP/$n.stats.json" \
		2>"$MM_TMP/$n.col.log" || { cat "$MM_TMP/$n.col.log" >&2; fail "$n: collector replay"; }
	timeout 300 "$DET" -c "$MM_TMP/$n.conf" --replay-all --json >"$MM_TMP/$n.alerts.jsonl" \
		2>"$MM_TMP/$n.det.log" || { cat "$MM_TMP/$n.det.log" >&2; fail "$n: detector replay"; }
	key_arg=""
	[ "$n" = off ] || key_arg="--key $KEY"
	st=0
	# shellcheck disable=SC2086  # key_arg: two words or none
	"$CLI" eval --truth "$MM_TMP/truth.tsv" --alerts "$MM_TMP/$n.alerts.jsonl" --det-log "$MM_TMP/$n.det.log" \
		--strict --min-recall 1 $key_arg >"$MM_TMP/$n.eval.txt" 2>"$MM_TMP/$n.eval.err" || st=$?
	note "$n: mamori eval:"
	sed 's/^/  /' "$MM_TMP/$n.eval.txt" "$MM_TMP/$n.eval.err" >&2
	[ "$st" -eq 0 ] || fail "$n: mamori eval: exit $st (recall below 1?)"
}
run off
t_off=$(date +%s)
run on
t_on=$(date +%s)
"$COL" -c "$MM_TMP/on.conf" --read "$MM_TMP/s.pcap" --stats-json "$MM_TMP/dump.stats.json" \
	>"$MM_TMP/dump.jsonl" 2>"$MM_TMP/dump.log" || { cat "$MM_TMP/dump.log" >&2; fail "collector --read"; }
[ -s "$MM_TMP/dump.jsonl" ] || fail "empty dump"

note "== 1. no payload anywhere"
# Server-side (one EVAL each, not a round trip per key): every key with its
# type and TTL, and every key's value read by its type, flattened.
KEYS_LUA='
local out, cur = {}, "0"
repeat
	local r = redis.call("SCAN", cur, "COUNT", 1000)
	cur = r[1]
	for _, k in ipairs(r[2]) do
		out[#out + 1] = k .. " " .. redis.call("TYPE", k)["ok"] .. " " .. redis.call("TTL", k)
	end
until cur == "0"
return out'
VALUES_LUA='
local out, cur = {}, "0"
local function add(v)
	if type(v) == "table" then for _, x in ipairs(v) do add(x) end else out[#out + 1] = v end
end
repeat
	local r = redis.call("SCAN", cur, "COUNT", 1000)
	cur = r[1]
	for _, k in ipairs(r[2]) do
		local t = redis.call("TYPE", k)["ok"]
		out[#out + 1] = k
		if t == "hash" then add(redis.call("HGETALL", k))
		elseif t == "set" then add(redis.call("SMEMBERS", k))
		elseif t == "string" then add(redis.call("GET", k))
		elseif t == "stream" then add(redis.call("XRANGE", k, "-", "+"))
		elseif t == "list" then add(redis.call("LRANGE", k, 0, -1))
		elseif t == "zset" then add(redis.call("ZRANGE", k, 0, -1, "WITHSCORES"))
		else return redis.error_reply("unexpected type " .. t .. " of " .. k) end
	end
until cur == "0"
return out'
values() { # values DB OUT: keys-DB.txt (key type ttl) and every value into OUT
	R -n "$1" --raw eval "$KEYS_LUA" 0 >"$MM_TMP/keys-$1.txt" || fail "db $1: listing keys"
	[ -s "$MM_TMP/keys-$1.txt" ] || fail "db $1: no keys"
	R -n "$1" --raw eval "$VALUES_LUA" 0 >"$2" || fail "db $1: reading values"
	head -n 1 "$2" | grep -aq "^ERR" && fail "db $1: $(head -c 200 "$2")"
	[ "$(wc -l <"$2")" -gt "$(wc -l <"$MM_TMP/keys-$1.txt")" ] || fail "db $1: no values read"
}
values 0 "$MM_TMP/values-off.bin"
values 1 "$MM_TMP/values-on.bin"
R config set rdbcompression no >/dev/null
R save >/dev/null || fail "redis SAVE"
for f in "$MM_TMP"/values-*.bin "$MM_TMP/redis/dump.rdb" "$MM_TMP"/*.log "$MM_TMP"/*.jsonl \
	"$MM_TMP"/*.stats.json "$MM_TMP"/*.eval.txt; do
	[ -f "$f" ] || fail "$f missing"
	if grep -aq -e "$MARK" -e MMSECRET "$f" || grep -aqi "$MARK_HEX" "$f"; then
		fail "payload bytes in $f"
	fi
done
note "  ok: marker in the capture, in none of $(wc -l <"$MM_TMP/keys-0.txt") + $(wc -l <"$MM_TMP/keys-1.txt") keys, the RDB, the dump, alerts, logs"

note "== 2. protected prefix: dropped, counted, never stored"
d_off=$(json_get "$MM_TMP/off.stats.json" privacy privacy_dropped)
d_on=$(json_get "$MM_TMP/on.stats.json" privacy privacy_dropped)
d_dump=$(json_get "$MM_TMP/dump.stats.json" privacy privacy_dropped)
[ -n "$d_off" ] && [ "$d_off" -gt 1000 ] || fail "privacy_dropped $d_off in the OFF run: the protected /24 had traffic"
[ "$d_on" = "$d_off" ] && [ "$d_dump" = "$d_off" ] || fail "privacy_dropped differs: off $d_off, on $d_on, dump $d_dump"
grep -q "privacy: records [0-9]* privacy_dropped $d_off " "$MM_TMP/on.col.log" || fail "the collector's report lacks privacy_dropped"
grep -q 'mm:h:{10\.0\.1\.' "$MM_TMP/keys-0.txt" && fail "OFF: a host key inside the protected prefix"
grep -q '10\.0\.1\.' "$MM_TMP/off.alerts.jsonl" && fail "OFF: an alert inside the protected prefix"
PROT=$("$CLI" -c "$MM_TMP/on.conf" anon --reason "test_privacy: protected prefix" 10.0.1.0/24 | cut -d' ' -f2)
PROT3=$(printf '%s\n' "$PROT" | sed -n 's|^\([0-9]*\.[0-9]*\.[0-9]*\)\.0/24$|\1|p')
[ -n "$PROT3" ] || fail "mamori anon 10.0.1.0/24 gave '$PROT'"
pat=$(printf '%s.' "$PROT3" | sed 's/\./\\./g')
for f in "$MM_TMP/keys-1.txt" "$MM_TMP/on.alerts.jsonl" "$MM_TMP/dump.jsonl"; do
	grep -q "[{\"]$pat" "$f" && fail "ON: $f names the protected prefix's pseudonym $PROT"
done
note "  ok: $d_off records dropped in every run; nothing of 10.0.1.0/24 (pseudonym $PROT) stored"

note "== 3. pseudonyms: the same detections, no real address out"
sed -n '/^class/,/^$/p' "$MM_TMP/off.eval.txt" >"$MM_TMP/off.table"
sed -n '/^class/,/^$/p' "$MM_TMP/on.eval.txt" >"$MM_TMP/on.table"
[ "$(wc -l <"$MM_TMP/off.table")" -ge 6 ] || fail "no eval table"
cmp -s "$MM_TMP/off.table" "$MM_TMP/on.table" || {
	diff "$MM_TMP/off.table" "$MM_TMP/on.table" >&2 || :
	fail "the detection table differs with pseudonyms (< off, > on)"
}
[ "$(json_get "$MM_TMP/on.stats.json" privacy errors)" = 0 ] || fail "pseudonymisation errors"
hits=$(json_get "$MM_TMP/on.stats.json" privacy cache_hits)
misses=$(json_get "$MM_TMP/on.stats.json" privacy cache_misses)
[ "$hits" -gt "$misses" ] || fail "cache: $hits hits, $misses misses"
# the monitored hosts' real addresses, as the OFF run stored them: none in
# anything the ON run wrote (a pseudonym may fall anywhere, even in
# 10.0.0.0/16, but it is one of these with a chance of about 1 in 10^6)
sed -n 's/^mm:h:{\(10\.0\.[0-9.]*\)}:.*/\1/p' "$MM_TMP/keys-0.txt" | sort -u >"$MM_TMP/real.txt"
[ "$(wc -l <"$MM_TMP/real.txt")" -gt 400 ] || fail "only $(wc -l <"$MM_TMP/real.txt") monitored hosts in the OFF run"
for f in "$MM_TMP/keys-1.txt" "$MM_TMP/on.alerts.jsonl" "$MM_TMP/alerts-file-1.jsonl" "$MM_TMP/on.col.log" \
	"$MM_TMP/on.det.log" "$MM_TMP/dump.log" "$MM_TMP/dump.jsonl"; do
	if grep -qwF -f "$MM_TMP/real.txt" "$f"; then
		fail "ON: a real monitored address in $f: $(grep -m1 -owF -f "$MM_TMP/real.txt" "$f")"
	fi
done
grep -q '"exporter":"127.0.0.1"' "$MM_TMP/dump.jsonl" || fail "the exporter address should stay real"
[ -s "$MM_TMP/alerts-file-1.jsonl" ] || fail "no [alerts] file written"
# the flood's victim, back from its pseudonym
V=$("$CLI" -c "$MM_TMP/on.conf" anon --reason "test_privacy: find the flood" 10.0.0.10 | cut -d' ' -f2)
grep -q "\"class\":\"flood\".*\"host\":\"$V\"" "$MM_TMP/on.alerts.jsonl" || fail "no flood alert on $V (10.0.0.10's pseudonym)"
host=$(grep '"event":"start"' "$MM_TMP/on.alerts.jsonl" | grep '"class":"flood"' | json_fields host | head -n 1)
got=$("$CLI" -c "$MM_TMP/on.conf" deanon --reason "ticket 42: flood" "$host") || fail "mamori deanon"
[ "$got" = "$host 10.0.0.10" ] || fail "deanon $host: '$got'"
grep -q "deanon user=[^ ]* uid=[0-9]* sudo_user=[^ ]* addr=$host reason=ticket 42: flood\$" "$MM_TMP/deanon.log" ||
	fail "deanon not logged: $(cat "$MM_TMP/deanon.log")"
grep "deanon .* addr=$host " "$MM_TMP/deanon.log" | grep -q '10\.0\.0\.10' && fail "the deanon log holds the answer"
st=0
"$CLI" -c "$MM_TMP/on.conf" deanon "$host" >"$MM_TMP/noreason.out" 2>&1 || st=$?
[ "$st" = 2 ] && grep -q -- '--reason is required' "$MM_TMP/noreason.out" || fail "deanon without --reason: exit $st"
sed 's|^deanon_log = .*|deanon_log = /nonexistent/dir/deanon.log|' "$MM_TMP/on.conf" >"$MM_TMP/badlog.conf"
st=0
"$CLI" -c "$MM_TMP/badlog.conf" deanon --reason x "$host" >"$MM_TMP/badlog.out" 2>"$MM_TMP/badlog.err" || st=$?
[ "$st" = 1 ] && [ ! -s "$MM_TMP/badlog.out" ] && grep -q 'refusing to run unlogged' "$MM_TMP/badlog.err" ||
	fail "deanon with an unwritable log: exit $st, $(cat "$MM_TMP/badlog.out" "$MM_TMP/badlog.err")"
note "  ok: tables equal; flood victim 10.0.0.10 alerted as $V; cache $hits hits / $misses misses"

note "== 4. every key expires within its retention"
ttls() { # ttls DB
	awk -v r="$RETENTION" -v sr="$STREAM_RETENTION" -v db="$1" '
		$1 == "mm:schema" { next }  # configuration (docs/redis-schema.md)
		{ max = ($1 == "mm:alerts") ? sr : r
		  if ($3 <= 0 || $3 > max) { printf "db %s: %s (%s) has TTL %s (max %s)\n", db, $1, $2, $3, max; bad++ } }
		END { exit bad > 0 }' "$MM_TMP/keys-$1.txt"
}
ttls 0 >&2 || fail "OFF: keys without a retention TTL"
ttls 1 >&2 || fail "ON: keys without a retention TTL"
grep -q '^mm:alerts stream ' "$MM_TMP/keys-1.txt" || fail "no alert stream to check"
grep -q '^mm:b:{' "$MM_TMP/keys-1.txt" || fail "no baselines to check"
grep -q '^mm:fast stream ' "$MM_TMP/keys-1.txt" || fail "no fast-path stream to check"
note "  ok: every key but mm:schema expires (hosts, indexes, stats, decoder state, baselines, fast path, alerts)"

note "== 5. a key file others can read: refused"
chmod 644 "$KEY"
for p in "$COL" "$DET"; do
	st=0
	"$p" -t -c "$MM_TMP/on.conf" >/dev/null 2>"$MM_TMP/perm.err" || st=$?
	[ "$st" -ne 0 ] || fail "$(basename "$p") -t accepted a key file of mode 0644"
	grep -q "on.conf:$KEY_LINE: key_file $KEY: mode 0644 lets group or others in (chmod 600 $KEY)" "$MM_TMP/perm.err" ||
		fail "$(basename "$p"): $(cat "$MM_TMP/perm.err")"
done
st=0
"$COL" -c "$MM_TMP/on.conf" --replay "$MM_TMP/s.pcap" 2>"$MM_TMP/perm.err" || st=$?
[ "$st" -ne 0 ] && grep -q 'mode 0644' "$MM_TMP/perm.err" || fail "collector started with a key file of mode 0644"
chmod 600 "$KEY"
note "  ok: $(head -n 1 "$MM_TMP/perm.err")"

note "== 6. SIGHUP: new groups mapped, new protected prefixes dropped"
P=$(free_port)
live() { # live EXTRA_GROUP_PREFIX EXTRA_PROTECT
	cat >"$MM_TMP/live.conf" <<EOF
[collector]
id = c1
listen = 127.0.0.1:$P
[redis]
host = 127.0.0.1
port = $REDIS_PORT
db = 2
[window]
step = 1
late_steps = 1
retention = 60
max_external = 0
[group lan]
prefix = 10.0.0.0/24
$1
[privacy]
pseudonymise = yes
key_file = $KEY
$2
EOF
}
live "" ""
"$COL" --allow-root -f -c "$MM_TMP/live.conf" 2>"$MM_TMP/live.log" &
col=$!
track_pid "$col"
wait_udp_bound "$P" 10 || fail "live collector did not bind $P: $(tail -n 3 "$MM_TMP/live.log")"
# 10.0.1.0/24's hosts and 10.0.0.128/25's, as pseudonyms
G1=$("$CLI" -c "$MM_TMP/on.conf" anon --reason "test_privacy: reload" 10.0.1.0/24 | cut -d' ' -f2 | sed 's|0/24$||')
H25=$("$CLI" -c "$MM_TMP/on.conf" anon --reason "test_privacy: reload" 10.0.0.128/25 | cut -d' ' -f2)
send() { "$GEN" -f v9 -s "$1" --hosts 300 --prefix 10.0.0.0/16 --step-rate 3000 --duration 2 \
	--send "127.0.0.1:$P" 2>>"$MM_TMP/send.log" || fail "mamori-gen --send"; }
hostkeys() { R -n 2 --scan --pattern 'mm:h:{*' | sed 's/^mm:h:{\([^}]*\)}.*/\1/' | sort -u; }
send 1
seen() { hostkeys | grep -q .; }
wait_for 15 seen || fail "no host windows from the live collector"
hostkeys | grep -qF "$G1" && fail "10.0.1.0/24 (as $G1*) monitored before it was a group"
# every step of the first traffic closed and written (no host in an open step)
idle() {
	kill -USR1 "$col"
	sleep 0.2
	grep 'windows:' "$MM_TMP/live.log" | tail -n 1 | grep -q 'windows: hosts 0 external 0 .* steps_pending 0 '
}
wait_for 15 idle || fail "the first traffic's steps were not written: $(grep 'windows:' "$MM_TMP/live.log" | tail -n 1)"
live "prefix = 10.0.1.0/24" "protect = 10.0.0.128/25"
"$DET" --allow-root -t -c "$MM_TMP/live.conf" >/dev/null 2>&1 || fail "the detector refuses the reloaded file"
kill -HUP "$col"
wait_for 10 grep -q "reload: $MM_TMP/live.conf applied" "$MM_TMP/live.log" ||
	fail "reload not applied: $(grep reload "$MM_TMP/live.log")"
R -n 2 flushdb >/dev/null
send 2
g1() { hostkeys | grep -qF "$G1"; }
wait_for 15 g1 || fail "after the reload, no host of the new group 10.0.1.0/24 (as $G1*) is monitored"
kill -USR1 "$col"
dropped() { grep 'privacy: records' "$MM_TMP/live.log" | tail -n 1 | grep -qv 'privacy_dropped 0 '; }
wait_for 10 dropped || fail "the protected prefix added by the reload drops nothing"
# nothing of 10.0.0.128/25 (as $H25) written since
in25=$(hostkeys | awk -v p="$H25" 'BEGIN { split(p, a, "[./]"); lo = a[4] } { split($0, b, ".") }
	b[1] "." b[2] "." b[3] == a[1] "." a[2] "." a[3] && b[4] >= lo && b[4] < lo + 128' | head -n 3)
[ -z "$in25" ] || fail "hosts of the protected 10.0.0.128/25 ($H25) stored after the reload: $in25"
st=0
stop_pid "$col" 20 || st=$?
[ "$st" = 0 ] || fail "live collector exit status $st"
grep -q 'could not be applied' "$MM_TMP/live.log" && fail "a reload was refused: $(grep reload "$MM_TMP/live.log")"
note "  ok: after SIGHUP 10.0.1.0/24 is monitored as ${G1}x, $H25 dropped"
# under build-san: a sanitizer report anywhere fails the test
if grep -l -e 'runtime error' -e 'Sanitizer' "$MM_TMP"/*.log "$MM_TMP"/*.err 2>/dev/null; then
	fail "sanitizer reports in the logs above"
fi
note "time: generator $((t_gen - t_begin))s, off $((t_off - t_gen))s, on $((t_on - t_off))s, total $(($(date +%s) - t_begin))s"
note "ok"
