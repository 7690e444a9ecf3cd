#!/bin/sh
# An operable daemon, end to end with a real redis-server:
#  1. -t: a config with errors is refused, each at its file:line (both
#     daemons); -t -v prints it normalised and that output loads again;
#  2. the collector under load (a generator sending v9 all along) is sent
#     SIGHUP three times - a good reload that adds a listener and moves the
#     metrics port, a bad file (refused, the old config kept), another good
#     one that removes the listener again: every record sent is decoded and
#     aggregated, none is lost by the kernel, and the Redis windows of the
#     busiest hosts hold exactly what the generator sent;
#  3. the allowlist: datagrams from an unlisted exporter are dropped and
#     counted before decoding; a reload that lists it admits it;
#  4. /metrics of both daemons scraped and every line checked as Prometheus
#     text (prom_check.awk), /healthz answers, the detector survives a bad
#     reload;
#  5. as root: both daemons drop to nobody (every uid and gid, no
#     supplementary group), and refuse to run as root unasked.
set -eu
. tests/integration/lib.sh
mm_tmpdir
GEN=$BUILD/bin/mamori-gen
COL=$BUILD/bin/mamori-collector
DET=$BUILD/bin/mamori-detector
CLI=$BUILD/bin/mamori
for b in "$GEN" "$COL" "$DET" "$CLI"; do [ -x "$b" ] || fail "$b not built"; done
command -v curl >/dev/null || fail "curl is not installed (tools/deps.sh)"
start_redis "$MM_TMP/redis"

scrape() { curl -sf --max-time 5 "http://127.0.0.1:$1/metrics"; }
metric() { # metric PORT NAME_WITH_LABELS -> its value (empty: none)
	scrape "$1" | awk -v n="$2" 'index($0, n " ") == 1 { print $2 }'
}

note "== 1. -t: every error at its file:line"
cat >"$MM_TMP/bad.conf" <<EOF
[collector]
metrics = localhost:9551
batch = 0
[daemon]
user = no body
[exabgp]
classes = flood,vertical_scan
EOF
for d in "$COL" "$DET"; do
	st=0
	"$d" -t -c "$MM_TMP/bad.conf" 2>"$MM_TMP/t.err" >/dev/null || st=$?
	[ "$st" -ne 0 ] || fail "$d -t accepted a bad file"
	cat >"$MM_TMP/t.want" <<EOF
$MM_TMP/bad.conf:2: metrics: bad address 'localhost:9551': not a numeric IPv4 address (host names are not looked up)
$MM_TMP/bad.conf:3: batch: 0 out of range (1..1024)
$MM_TMP/bad.conf:5: user: bad value 'no body': not a user or group name (letters, digits, '.', '_' and '-')
$MM_TMP/bad.conf:7: classes: bad value 'flood,vertical_scan': vertical_scan names a source, not a victim to protect
EOF
	diff "$MM_TMP/t.want" "$MM_TMP/t.err" >&2 || fail "$d -t: not the errors expected"
done
"$DET" -t -v -c config/mamori.conf >"$MM_TMP/norm.conf" || fail "-t -v"
"$COL" -t -c "$MM_TMP/norm.conf" 2>/dev/null || fail "the normalised config does not load"

note "== 2. SIGHUP under load: nothing lost"
P1=$(free_port)
P2=$(free_port)
M1=$(free_port)
M2=$(free_port)
conf() { # conf FILE LISTEN... (metrics ports from $MPORT and $DPORT, extra lines from $EXTRA)
	f=$1
	shift
	{
		echo "[collector]"
		echo "id = ops"
		for l in "$@"; do echo "listen = $l"; done
		echo "metrics = 127.0.0.1:$MPORT"
		echo "[redis]"
		echo "port = $REDIS_PORT"
		echo "[window]"
		echo "step = 1"
		echo "late_steps = 2"
		echo "retention = 3600"
		echo "[group lan]"
		echo "prefix = 10.0.0.0/16"
		echo "[detector]"
		echo "metrics = 127.0.0.1:$DPORT"
		printf '%s\n' "${EXTRA:-}"
	} >"$f"
}
MPORT=$M1 DPORT=$(free_port) EXTRA="" conf "$MM_TMP/live.conf" "127.0.0.1:$P1"
"$COL" --allow-root -f -c "$MM_TMP/live.conf" 2>"$MM_TMP/live.log" &
col=$!
track_pid "$col"
wait_udp_bound "$P1" 10 || fail "collector did not bind $P1"
wait_for 10 scrape "$M1" >/dev/null || fail "no metrics on $M1"
"$GEN" -f v9 -s 7 --hosts 300 --prefix 10.0.0.0/16 --step-rate 4000 --duration 6 \
	--send "127.0.0.1:$P1" --dump "$MM_TMP/live.tsv" 2>"$MM_TMP/send.log" &
gen=$!
track_pid "$gen"
arriving() { [ "$(metric "$M1" mamori_records_total)" -gt 2000 ] 2>/dev/null; }
wait_for 10 arriving || fail "no records arriving"
before=$(metric "$M1" mamori_records_total)
# good: a second listener, the metrics moved to M2
cp "$MM_TMP/live.conf" "$MM_TMP/live.1"
MPORT=$M2 DPORT=$(free_port) EXTRA="" conf "$MM_TMP/live.conf" "127.0.0.1:$P1" "127.0.0.1:$P2"
kill -HUP "$col"
wait_udp_bound "$P2" 10 || fail "the reload did not add $P2"
wait_for 10 scrape "$M2" >/dev/null || fail "the reload did not move the metrics to $M2"
[ "$(metric "$M2" 'mamori_config_reloads_total{result="ok"}')" = 1 ] || fail "reload not counted"
# bad: refused, the running config stays (P2 still bound, metrics on M2)
echo "bogus = 1" >>"$MM_TMP/live.conf"
kill -HUP "$col"
wait_for 10 grep -q "live.conf:[0-9]*: unknown key 'bogus'" "$MM_TMP/live.log" || fail "bad file: no file:line in the log"
failed_one() { [ "$(metric "$M2" 'mamori_config_reloads_total{result="failed"}')" = 1 ]; }
wait_for 5 failed_one || fail "bad reload not counted"
[ "$(metric "$M2" mamori_config_last_reload_successful)" = 0 ] || fail "last reload not marked failed"
_udp_bound "$P2" || fail "a refused reload changed the listeners"
# good again: back to P1 only
MPORT=$M2 DPORT=$(free_port) EXTRA="" conf "$MM_TMP/live.conf" "127.0.0.1:$P1"
kill -HUP "$col"
p2_gone() { ! _udp_bound "$P2"; }
wait_for 10 p2_gone || fail "the reload did not remove $P2"
[ "$(metric "$M2" 'mamori_config_reloads_total{result="ok"}')" = 2 ] || fail "second reload not counted"
wait "$gen" || fail "generator failed"
sent=$(sed -n 's/.* records=\([0-9]*\) .*/\1/p' "$MM_TMP/send.log" | tail -n 1)
[ -n "$sent" ] && [ "$sent" -gt 10000 ] || fail "generator sent '$sent' records"
all_in() { [ "$(metric "$M2" mamori_aggregated_records_total)" = "$sent" ]; }
wait_for 15 all_in || fail "aggregated $(metric "$M2" mamori_aggregated_records_total) of $sent records"
after=$(metric "$M2" mamori_records_total)
drops=$(metric "$M2" mamori_kernel_drops_total)
lost=$(metric "$M2" mamori_exporters_lost_packets_total)
note "  sent $sent records; decoded $before before the first SIGHUP, $after in all; kernel drops $drops, lost packets $lost"
[ "$after" = "$sent" ] && [ "$drops" = 0 ] && [ "$lost" = 0 ] || fail "records lost across the reloads"
st=0
stop_pid "$col" 20 >/dev/null || st=$?
[ "$st" = 0 ] || fail "the collector exited with status $st after the reloads"
grep -q "steps_dropped 0" "$MM_TMP/live.log" || fail "steps dropped"
expect() { # DUMP HOST -> "bytes_in pkts_in flows_in bytes_out pkts_out flows_out" (x sampling)
	awk -F'\t' -v h="$2" 'NR > 1 {
		if ($5 == h) { bi += $10 * $11; pi += $9 * $11; fi += $11 }
		if ($3 == h) { bo += $10 * $11; po += $9 * $11; fo += $11 }
	} END { printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", bi, pi, fi, bo, po, fo }' "$1"
}
got() { # CONF HOST -> the same from Redis, every step
	"$CLI" -c "$1" host "$2" --all --json |
		json_fields bytes_in pkts_in flows_in bytes_out pkts_out flows_out | tr '\t' ' ' |
		awk '{ for (i = 1; i <= 6; i++) if ($i == "") $i = 0; print }'
}
for h in $(awk -F'\t' 'NR > 1 && $5 ~ /^10\.0\./ { n[$5]++ } END { for (h in n) print n[h], h }' "$MM_TMP/live.tsv" |
	sort -rn | head -n 5 | awk '{ print $2 }'); do
	e=$(expect "$MM_TMP/live.tsv" "$h")
	g=$(got "$MM_TMP/live.conf" "$h")
	[ "$e" = "$g" ] || fail "$h across the reloads: expected '$e', Redis has '$g'"
done

note "== 3. allowlist: unlisted exporters dropped and counted, admitted by a reload"
M3=$(free_port)
P3=$(free_port)
D3=$(free_port)
MPORT=$M3 DPORT=$D3 EXTRA="[exporter elsewhere]
address = 192.0.2.0/24" conf "$MM_TMP/allow.conf" "127.0.0.1:$P3"
sed -i 's/^\[collector\]$/[collector]\nallow_unlisted_exporters = no/' "$MM_TMP/allow.conf"
"$COL" --allow-root -f -c "$MM_TMP/allow.conf" 2>"$MM_TMP/allow.log" &
col=$!
track_pid "$col"
wait_udp_bound "$P3" 10 || fail "collector did not bind $P3"
"$GEN" -f ipfix -s 3 --hosts 50 --prefix 10.0.0.0/16 --count 3000 --rate 30k --send "127.0.0.1:$P3" 2>"$MM_TMP/a1.log" ||
	fail "generator"
# every datagram that arrived was refused, before decoding
arrived() { metric "$M3" mamori_datagrams_total; }
denied_all() { [ "$(arrived)" -gt 50 ] && [ "$(metric "$M3" mamori_exporter_denied_datagrams_total)" = "$(arrived)" ]; }
wait_for 10 denied_all || fail "denied $(metric "$M3" mamori_exporter_denied_datagrams_total) of $(arrived) datagrams"
dgrams=$(arrived)
[ "$(metric "$M3" mamori_records_total)" = 0 ] || fail "an unlisted exporter's records were decoded"
grep -q "127.0.0.1 port [0-9]*: not an allowed exporter .*: dropped a [0-9]*-byte datagram starting 000a" "$MM_TMP/allow.log" ||
	fail "no warning with a sample for the denied datagrams"
[ "$(grep -c 'not an allowed exporter' "$MM_TMP/allow.log")" -le 11 ] || fail "denied warnings not rate-limited"
sed -i 's|^address = 192.0.2.0/24$|address = 127.0.0.1|' "$MM_TMP/allow.conf"
kill -HUP "$col"
wait_for 10 grep -q "allow.conf applied" "$MM_TMP/allow.log" || fail "allowlist reload not applied"
"$GEN" -f ipfix -s 3 --hosts 50 --prefix 10.0.0.0/16 --count 3000 --rate 30k --send "127.0.0.1:$P3" 2>"$MM_TMP/a2.log" ||
	fail "generator"
sent=$(sed -n 's/.* records=\([0-9]*\) .*/\1/p' "$MM_TMP/a2.log")
admitted() { [ "$(metric "$M3" mamori_records_total)" = "$sent" ]; }
wait_for 10 admitted || fail "admitted exporter: $(metric "$M3" mamori_records_total) of $sent records"
[ "$(metric "$M3" mamori_exporter_denied_datagrams_total)" = "$dgrams" ] || fail "denied after the reload"

note "== 4. /metrics of both daemons: valid Prometheus text; /healthz"
scrape "$M3" >"$MM_TMP/col.prom" || fail "scrape"
awk -f tests/integration/prom_check.awk "$MM_TMP/col.prom" || fail "collector /metrics is not valid exposition text"
grep -q "^mamori_exporter_records_total{exporter=\"127.0.0.1\",name=\"elsewhere\",site=\"\"} $sent\$" "$MM_TMP/col.prom" ||
	fail "per-exporter records missing"
for f in datagrams malformed lost_packets lost_records unknown_template unknown_sampling; do
	grep -q "^mamori_exporter_${f}_total{exporter=\"127.0.0.1\"" "$MM_TMP/col.prom" || fail "no mamori_exporter_${f}_total"
done
for m in mamori_kernel_drops_total mamori_hosts_tracked mamori_redis_flush_seconds mamori_redis_errors_total; do
	grep -q "^$m " "$MM_TMP/col.prom" || fail "no $m"
done
[ "$(curl -s "http://127.0.0.1:$M3/healthz")" = ok ] || fail "collector /healthz"
stop_pid "$col" 20 >/dev/null || :
"$DET" --allow-root -f -c "$MM_TMP/allow.conf" 2>"$MM_TMP/det.log" &
det=$!
track_pid "$det"
wait_for 10 scrape "$D3" >/dev/null || fail "no detector metrics on $D3"
scrape "$D3" >"$MM_TMP/det.prom"
awk -f tests/integration/prom_check.awk "$MM_TMP/det.prom" || fail "detector /metrics is not valid exposition text"
for m in 'mamori_alerts_total{class="flood",event="start"}' 'mamori_incidents_open{class="amplification"}' \
	mamori_detector_step_seconds_count mamori_redis_errors_total; do
	grep -qF "$m " "$MM_TMP/det.prom" || fail "no $m in the detector's metrics"
done
echo "bogus" >>"$MM_TMP/allow.conf"
kill -HUP "$det"
wait_for 10 grep -q "allow.conf:[0-9]*: missing '='" "$MM_TMP/det.log" || fail "detector: bad reload not reported at file:line"
det_failed() { [ "$(metric "$D3" 'mamori_config_reloads_total{result="failed"}')" = 1 ]; }
wait_for 5 det_failed || fail "detector: bad reload not counted"
kill -0 "$det" || fail "the detector died of a bad reload"
st=0
stop_pid "$det" 10 >/dev/null || st=$?
[ "$st" = 0 ] || fail "the detector exited with status $st"

note "== 5. privileges"
if [ "$(id -u)" != 0 ]; then
	note "  SKIP: not root, nothing to drop (CI runs as root)"
else
	st=0
	"$COL" -f -c "$MM_TMP/live.1" 2>"$MM_TMP/root.log" || st=$?
	[ "$st" -ne 0 ] && grep -q "refusing to run as root" "$MM_TMP/root.log" || fail "the collector ran as root unasked"
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	for d in "$COL" "$DET"; do
		M=$(free_port)
		MPORT=$M DPORT=$M EXTRA="[daemon]
user = nobody" conf "$MM_TMP/nobody.conf" "127.0.0.1:$(free_port)"
		"$d" -f -c "$MM_TMP/nobody.conf" 2>"$MM_TMP/nobody.log" &
		pid=$!
		track_pid "$pid"
		wait_for 10 scrape "$M" >/dev/null || { cat "$MM_TMP/nobody.log" >&2; fail "$d: no metrics"; }
		ids=$(awk '/^Uid:|^Gid:/ { printf "%s %s %s %s;", $2, $3, $4, $5 } /^Groups:/ { printf "groups=%s", $2 }' "/proc/$pid/status")
		[ "$ids" = "$uid $uid $uid $uid;$gid $gid $gid $gid;groups=" ] || fail "$d after the drop: $ids"
		grep -q "running as nobody (uid $uid" "$MM_TMP/nobody.log" || fail "$d: drop not logged"
		stop_pid "$pid" 10 >/dev/null || :
	done
fi
! grep -l "Sanitizer\|runtime error" "$MM_TMP"/*.log >&2 || fail "a sanitizer report in the logs above"
note "ok"
