#!/bin/sh
# test_nflog.sh - the NFLOG source end to end, in a network namespace of
# its own (mm-nflog-PID, removed on exit) with an nftables rule that logs to
# NFLOG group 5 on the input hook:
#   udp dport 7001 (IPv4 and IPv6) and tcp dport 7002 (the SYNs only: the
#   refusing RSTs come from 7002).
# Known traffic from tools/pktsend inside the namespace: 25 UDP datagrams
# of 100 payload bytes to 127.0.0.1:7001, 5 of 40 bytes to [::1]:7001, 10
# TCP connection attempts to 127.0.0.1:7002 (a SYN each), every payload
# made of a marker string.
#   1. `mamori-collector --dump` inside the namespace prints exactly those
#      40 records: addresses, ports, protocol, flags, bytes (the IP length:
#      128, 88, and 60 for a SYN with Linux's default options, pinned by
#      sysctl), one packet each, sampling "configured", direction ingress;
#      its counters say 40 records and no kernel drops.
#   2. The same traffic with `nflog_sampling_rate = 4` into a redis-server
#      in the root namespace, reached over a Unix socket in the test's temp
#      dir: 127.0.0.1 (group 127.0.0.0/8) has the per-host counters, in and
#      out (it is both ends), scaled by 4.
#   3. The marker appears nowhere: not in the dump, the logs, or Redis
#      (SAVE with rdbcompression off, then grep the RDB file).
#   4. Without CAP_NET_ADMIN (setpriv drops it from the bounding set) the
#      collector refuses to start and names the capability.
# Needs root (namespaces, nftables, NFLOG): skipped with a message otherwise,
# or when even root may not create a network namespace (some containers).
# Synchronisation is on events: the collector's "nflog group 5" start-up
# line, the dump's line count, the report's record count (SIGUSR1), Redis
# answering PING.  Every wait is bounded.
set -eu
. tests/integration/lib.sh

if [ "$(id -u)" != 0 ]; then
	note "SKIP test_nflog: needs root (network namespace, nftables, NFLOG)"
	exit 0
fi
NFT=${NFT:-/usr/sbin/nft}
COL=$BUILD/bin/mamori-collector
CLI=$BUILD/bin/mamori
SEND=$BUILD/tools/pktsend
for f in "$COL" "$CLI" "$SEND"; do
	[ -x "$f" ] || fail "$f not built"
done
[ -x "$NFT" ] || fail "$NFT missing (apt-get install nftables)"
for t in ip redis-server redis-cli setpriv; do
	command -v "$t" >/dev/null || fail "$t not installed"
done

mm_tmpdir
NS=mm-nflog-$$
cleanup() {
	_mm_cleanup
	ip netns del "$NS" 2>/dev/null || :
}
trap 'cleanup' EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM

# Root in a container may be refused namespaces (no CAP_SYS_ADMIN over the
# host's network stack): that is the machine, not mamori; say so loudly.
if ! err=$(ip netns add "$NS" 2>&1); then
	case $err in
	*"not permitted"* | *"Permission denied"*)
		note "SKIP test_nflog: root, but this machine refuses network namespaces ($err)"
		exit 0
		;;
	esac
	fail "cannot create network namespace $NS: $err"
fi
# (a function run in the background would be a subshell with its own PID:
# background commands below call ip netns exec directly, which execs)
nsx() { ip netns exec "$NS" "$@"; }
nsx ip link set lo up
# The SYN's length depends on its options: pin the (default) ones.
nsx sysctl -qw net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1 >/dev/null
nsx "$NFT" -f - <<'EOF' || fail "nft rules"
table inet mmtest {
	chain in {
		type filter hook input priority 0; policy accept;
		udp dport 7001 log group 5
		tcp dport 7002 log group 5
	}
}
EOF

MARK=MMSECRETPAYLOAD
send_all() {
	nsx "$SEND" udp 127.0.0.1 7001 25 100 "$MARK" >/dev/null || fail "pktsend udp v4"
	nsx "$SEND" udp ::1 7001 5 40 "$MARK" >/dev/null || fail "pktsend udp v6"
	nsx "$SEND" syn 127.0.0.1 7002 10 >/dev/null || fail "pktsend syn"
}

# redis-server in the root namespace, on a Unix socket only
mkdir -p "$MM_TMP/redis"
SOCK=$MM_TMP/redis/redis.sock
redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$MM_TMP/redis" \
	--save '' --appendonly no --rdbcompression no --daemonize no \
	--logfile "$MM_TMP/redis/redis.log" >/dev/null 2>&1 &
RPID=$!
track_pid "$RPID"
_pong() { [ "$(redis-cli -s "$SOCK" ping 2>/dev/null)" = PONG ]; }
wait_for 10 _pong || fail "redis-server did not answer on $SOCK"

conf() { # conf FILE RATE
	cat >"$1" <<EOF
[collector]
id = nflogtest
listen = 127.0.0.1:0
nflog_group = 5
nflog_sampling_rate = $2
[redis]
socket = $SOCK
stall_timeout = 2
backoff_max = 1
[group lo]
prefix = 127.0.0.0/8
EOF
}
conf "$MM_TMP/dump.conf" 1
conf "$MM_TMP/redis.conf" 4

note "== 1. --dump shows exactly the packets sent"
ip netns exec "$NS" "$COL" --allow-root --dump -c "$MM_TMP/dump.conf" --stats-json "$MM_TMP/dump.json" \
	>"$MM_TMP/dump.jsonl" 2>"$MM_TMP/dump.err" &
cpid=$!
track_pid "$cpid"
wait_for 10 grep -q 'nflog group 5: copy range 128' "$MM_TMP/dump.err" ||
	fail "collector did not open NFLOG group 5: $(head -c 400 "$MM_TMP/dump.err")"
send_all
wait_lines "$MM_TMP/dump.jsonl" 40 15 || note "dump holds $(wc -l <"$MM_TMP/dump.jsonl") of 40 lines after 15 s"
st=0
stop_pid "$cpid" 10 || st=$?
[ "$st" -eq 0 ] || fail "collector exit status $st: $(tail -n 3 "$MM_TMP/dump.err")"
json_fields format src dst proto dport tcp_flags bytes packets sampling_rate sampling_source direction <"$MM_TMP/dump.jsonl" |
	tr '\t' ' ' | LC_ALL=C sort | uniq -c | sed 's/^ *//' | LC_ALL=C sort >"$MM_TMP/got.txt"
LC_ALL=C sort >"$MM_TMP/want.txt" <<'EOF'
10 nflog 127.0.0.1 127.0.0.1 6 7002 2 60 1 1 configured ingress
25 nflog 127.0.0.1 127.0.0.1 17 7001 0 128 1 1 configured ingress
5 nflog ::1 ::1 17 7001 0 88 1 1 configured ingress
EOF
if ! cmp -s "$MM_TMP/got.txt" "$MM_TMP/want.txt"; then
	note "dump (count format src dst proto dport flags bytes packets rate source direction):"
	cat "$MM_TMP/got.txt" >&2
	fail "the dump is not the 40 packets sent"
fi
[ "$(wc -l <"$MM_TMP/dump.jsonl")" -eq 40 ] || fail "$(wc -l <"$MM_TMP/dump.jsonl") dump lines, want 40"
# every source port is an ephemeral one (the sender's), never 0
json_fields sport <"$MM_TMP/dump.jsonl" | grep -qx 0 && fail "a record without its source port"
[ "$(json_get "$MM_TMP/dump.json" "" records)" = 40 ] || fail "stats: records $(json_get "$MM_TMP/dump.json" "" records)"
tr -d '\n' <"$MM_TMP/dump.json" | grep -q '"group":5,"packets":40,"records":40,"not_ip":0,"truncated":0,"malformed":0,"kernel_drops":0' ||
	fail "nflog group counters: $(tr -d '\n' <"$MM_TMP/dump.json" | sed -n 's/.*"groups":\(.*\)/\1/p')"
note "  ok: 40 records, 25 UDP + 10 SYN (60 bytes) on IPv4, 5 UDP on IPv6"

note "== 2. per-host windows in Redis, scaled by nflog_sampling_rate = 4"
ip netns exec "$NS" "$COL" --allow-root -f -c "$MM_TMP/redis.conf" 2>"$MM_TMP/redis.err" &
cpid=$!
track_pid "$cpid"
wait_for 10 grep -q 'nflog group 5: copy range 128 bytes, sampling 1:4' "$MM_TMP/redis.err" ||
	fail "collector did not open NFLOG group 5: $(head -c 400 "$MM_TMP/redis.err")"
send_all
counted() {
	kill -USR1 "$cpid"
	sleep 0.1
	grep -q 'nflog group 5: packets 40 records 40 ' "$MM_TMP/redis.err"
}
wait_for 15 counted || fail "the collector did not count the 40 packets: $(grep 'nflog group' "$MM_TMP/redis.err" | tail -n 1)"
st=0
stop_pid "$cpid" 20 || st=$?
[ "$st" -eq 0 ] || fail "collector exit status $st: $(tail -n 3 "$MM_TMP/redis.err")"
grep -q "steps_dropped 0" "$MM_TMP/redis.err" || fail "steps dropped: $(grep windows: "$MM_TMP/redis.err" | tail -n 1)"
keys="pkts_in bytes_in flows_in udp_pkts_in udp_bytes_in tcp_pkts_in syn_pkts_in syn_flows_in small_flows_in"
keys="$keys pkts_out bytes_out flows_out udp_pkts_out tcp_pkts_out syn_pkts_out"
got=$("$CLI" -c "$MM_TMP/redis.conf" host 127.0.0.1 --all --json | json_fields $keys | tr '\t' ' ')
# 25 x 128 + 10 x 60 bytes, 35 packets (the IPv6 ones are outside the group), x 4
want="140 15200 140 100 12800 40 40 40 140 140 15200 140 100 40 40"
[ "$got" = "$want" ] || fail "127.0.0.1 in Redis: $keys
  got  $got
  want $want"
note "  ok: 127.0.0.1 $got"

note "== 3. no payload anywhere"
redis-cli -s "$SOCK" save >/dev/null || fail "redis SAVE"
[ -s "$MM_TMP/redis/dump.rdb" ] || fail "no RDB written"
for f in "$MM_TMP/dump.jsonl" "$MM_TMP/dump.err" "$MM_TMP/dump.json" "$MM_TMP/redis.err" "$MM_TMP/redis/dump.rdb"; do
	if grep -aq "$MARK" "$f" || grep -aq "MMSECRET" "$f"; then
		fail "payload bytes found in $f"
	fi
done
note "  ok: marker in no output, log or Redis"

note "== 4. without CAP_NET_ADMIN: a clear refusal"
st=0
nsx setpriv --bounding-set=-net_admin "$COL" --allow-root --dump -c "$MM_TMP/dump.conf" \
	>/dev/null 2>"$MM_TMP/eperm.err" </dev/null || st=$?
[ "$st" -ne 0 ] || fail "collector started without CAP_NET_ADMIN"
grep -q 'nflog group 5: .*CAP_NET_ADMIN' "$MM_TMP/eperm.err" || fail "no CAP_NET_ADMIN message: $(cat "$MM_TMP/eperm.err")"
note "  ok: $(head -n 1 "$MM_TMP/eperm.err")"
note "ok"
