# lib.sh - helpers for the integration tests and the benchmark (POSIX sh).
# Source it from the repo root:  . tests/integration/lib.sh
# (run.sh runs every test from the repo root; BUILD defaults to build,
# CAPTURES to ../shared/captures).
#
# Everything here is loopback only and bounded in time.  Processes are
# started by the caller in the background and registered with track_pid, so
# the exit trap set by mm_tmpdir stops exactly those PIDs (never by name).
#
#   mm_tmpdir            make $MM_TMP (a fresh temp dir) and install the
#                        cleanup trap: tracked PIDs stopped, dir removed
#                        (kept when MM_KEEP_TMP=1, for debugging)
#   track_pid PID        stop PID at exit unless stop_pid already did
#   stop_pid PID [S]     SIGTERM, wait up to S seconds (default 10), then
#                        SIGKILL; returns the process's exit status when it
#                        is our child (143 = died of the SIGTERM)
#   wait_for S CMD...    run CMD every 50 ms until it succeeds; fail after S s
#   wait_lines FILE N S  wait until FILE holds at least N lines
#   wait_udp_bound PORT S  wait until something listens on 127.0.0.1:PORT/udp
#   free_port            print a port free for both TCP and UDP on 127.0.0.1
#   start_redis DIR      redis-server on 127.0.0.1:free port, no persistence,
#                        files in DIR; sets REDIS_PORT and REDIS_PID once it
#                        answers PING (bounded); tracked for cleanup
#   cflow_port_args F    "-d udp.port==P,cflow" for every UDP dst port in F
#   tshark_flow_count F  "<flow records> <options data records>" TShark
#                        decodes in capture F (two-pass; cflow_records.awk)
#   json_fields K1 K2..  stdin: flat JSON objects, one a line; stdout: the
#                        values of those keys, tab-separated (strings
#                        unquoted, missing keys empty)
#   json_get FILE OBJ KEY  number KEY of the object "OBJ":{...} in the JSON
#                        file FILE (e.g. the collector's --stats-json
#                        "totals"); OBJ "" = the first KEY in the file (the
#                        top-level one when top-level counters come first)
#   proc_cpu_ticks PID   utime+stime of PID in clock ticks
#   udp_rcvbuf_errors    the Udp RcvbufErrors counter of /proc/net/snmp
#   fail MSG             print "FAIL: MSG" on stderr and exit 1
#   note MSG             print MSG on stderr

MM_LIB_DIR=${MM_LIB_DIR:-tests/integration}
BUILD=${BUILD:-build}
CAPTURES=${CAPTURES:-../shared/captures}
MM_PIDS=""
MM_TMP=""

note() { printf '%s\n' "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

track_pid() { MM_PIDS="$MM_PIDS $1"; }

_untrack_pid() {
	_rest=""
	for _u in $MM_PIDS; do
		[ "$_u" = "$1" ] || _rest="$_rest $_u"
	done
	MM_PIDS=$_rest
}

stop_pid() {
	_pid=$1
	_secs=${2:-10}
	_untrack_pid "$_pid"
	if kill -0 "$_pid" 2>/dev/null; then
		kill -TERM "$_pid" 2>/dev/null || :
		_i=0
		while kill -0 "$_pid" 2>/dev/null && [ "$_i" -lt $((_secs * 20)) ]; do
			# a zombie child still answers kill -0: stop polling once it is one
			case $(awk '{print $3}' "/proc/$_pid/stat" 2>/dev/null) in Z|"") break ;; esac
			sleep 0.05
			_i=$((_i + 1))
		done
		if kill -0 "$_pid" 2>/dev/null &&
		    [ "$(awk '{print $3}' "/proc/$_pid/stat" 2>/dev/null)" != Z ]; then
			note "pid $_pid did not stop in ${_secs}s after SIGTERM: SIGKILL"
			kill -KILL "$_pid" 2>/dev/null || :
		fi
	fi
	# reap it (works only for our own children; others return 127)
	_st=0
	wait "$_pid" 2>/dev/null || _st=$?
	return "$_st"
}

_mm_cleanup() {
	for _p in $MM_PIDS; do
		kill -TERM "$_p" 2>/dev/null || :
	done
	for _p in $MM_PIDS; do
		stop_pid "$_p" 5 || :
	done
	if [ -n "$MM_TMP" ] && [ -d "$MM_TMP" ]; then
		if [ "${MM_KEEP_TMP:-0}" = 1 ]; then
			note "kept $MM_TMP"
		else
			rm -rf "$MM_TMP"
		fi
	fi
}

mm_tmpdir() {
	MM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mamori-test.XXXXXX") || fail "mktemp"
	trap '_mm_cleanup' EXIT
	trap '_mm_cleanup; trap - EXIT; exit 130' INT
	trap '_mm_cleanup; trap - EXIT; exit 143' TERM
}

wait_for() {
	_secs=$1
	shift
	_i=0
	while ! "$@" 2>/dev/null; do
		_i=$((_i + 1))
		[ "$_i" -ge $((_secs * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

_has_lines() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
wait_lines() { wait_for "$3" _has_lines "$1" "$2"; }

_udp_bound() { [ -n "$(ss -Hnlu "sport = :$1" 2>/dev/null)" ]; }
wait_udp_bound() { wait_for "$2" _udp_bound "$1"; }

_rand16() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }

# Ports come from 10000-32767: below Linux's ephemeral range (32768-60999),
# so a client socket cannot take one between our check and the bind.
free_port() {
	_n=0
	while [ "$_n" -lt 200 ]; do
		_p=$((10000 + $(_rand16) % 22768))
		if [ -z "$(ss -Hntul "sport = :$_p" 2>/dev/null)" ]; then
			echo "$_p"
			return 0
		fi
		_n=$((_n + 1))
	done
	fail "no free port found"
}

_redis_pong() {
	[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

start_redis() {
	_dir=$1
	mkdir -p "$_dir"
	REDIS_PORT=$(free_port)
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$_dir" \
	    --save '' --appendonly no --daemonize no --protected-mode yes \
	    --logfile "$_dir/redis.log" >/dev/null 2>&1 &
	REDIS_PID=$!
	track_pid "$REDIS_PID"
	if ! wait_for 10 _redis_pong "$REDIS_PORT"; then
		tail -n 20 "$_dir/redis.log" >&2 2>/dev/null || :
		fail "redis-server on 127.0.0.1:$REDIS_PORT did not answer PING in 10 s"
	fi
	export REDIS_PORT REDIS_PID
}

cflow_port_args() {
	for _p in $(tshark -r "$1" -T fields -e udp.dstport 2>/dev/null | sort -u); do
		printf ' -d udp.port==%s,cflow' "$_p"
	done
}

# Two-pass (-2) so a data set that precedes its template in the same file is
# decoded, as the collector does with its pending queue.
tshark_flow_count() {
	# shellcheck disable=SC2046  # word splitting of the -d options is wanted
	tshark -2 -r "$1" $(cflow_port_args "$1") -T pdml 2>/dev/null |
	    awk -f "$MM_LIB_DIR/cflow_records.awk"
}

json_fields() {
	awk -v keys="$*" '
	BEGIN { n = split(keys, k, " ") }
	{
		out = ""
		for (i = 1; i <= n; i++) {
			v = ""
			pat = "\"" k[i] "\"[ \t]*:[ \t]*"
			if (match($0, pat)) {
				rest = substr($0, RSTART + RLENGTH)
				if (substr(rest, 1, 1) == "\"") {
					rest = substr(rest, 2)
					v = substr(rest, 1, index(rest, "\"") - 1)
				} else if (match(rest, /^[^,}]*/)) {
					v = substr(rest, 1, RLENGTH)
					gsub(/[ \t]+$/, "", v)
				}
			}
			out = (i == 1) ? v : out "\t" v
		}
		print out
	}'
}

json_get() {
	tr -d '\n' <"$1" | awk -v obj="$2" -v key="$3" '{
		s = $0
		if (obj != "") {
			if (!match(s, "\"" obj "\"[ \t]*:[ \t]*[{][^}]*[}]"))
				exit
			s = substr(s, RSTART, RLENGTH)
		}
		if (match(s, "\"" key "\"[ \t]*:[ \t]*-?[0-9.]+")) {
			s = substr(s, RSTART, RLENGTH)
			sub(/^.*:[ \t]*/, "", s)
			print s
		}
	}'
}

proc_cpu_ticks() {
	# fields after the ")" that closes comm: state is $1, utime $12, stime $13
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'
}

udp_rcvbuf_errors() {
	awk '$1 == "Udp:" { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 }
	     else print $(c["RcvbufErrors"]) }' /proc/net/snmp
}
