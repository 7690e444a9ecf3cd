#!/bin/sh
# run.sh - run every tests/integration/test_*.sh (or the ones named as
# arguments), each under a time limit, from the repo root.
#
#   BUILD=build sh tests/integration/run.sh [test_x.sh ...]
#
# Prints "ok NAME (Ns)" or "FAIL NAME (Ns)" per test (with the tail of a
# failed test's log), then "N passed, N failed" (", N skipped" with SKIP);
# exits 1 when any failed.  Full logs: $BUILD/integration/NAME.log.  Environment:
#   BUILD             build tree holding bin/ (default build)
#   CAPTURES          shared captures (default ../shared/captures)
#   TEST_TIMEOUT      seconds per test before it is killed (default 300)
#   SKIP              test names (test_x, without .sh) not to run; each is
#                     listed as "skip NAME" and counted apart
set -u
cd "$(dirname -- "$0")/../.." || exit 1
BUILD=${BUILD:-build}
CAPTURES=${CAPTURES:-../shared/captures}
export BUILD CAPTURES
timeout_s=${TEST_TIMEOUT:-300}
logdir=$BUILD/integration
mkdir -p "$logdir"

if [ $# -gt 0 ]; then
	tests=$*
else
	tests=$(ls tests/integration/test_*.sh 2>/dev/null)
fi

passed=0
failed=0
skipped=0
for t in $tests; do
	[ -f "$t" ] || t=tests/integration/$t
	name=$(basename "$t" .sh)
	case " ${SKIP:-} " in
	*" $name "*)
		echo "skip $name"
		skipped=$((skipped + 1))
		continue
		;;
	esac
	log=$logdir/$name.log
	t0=$(date +%s)
	# timeout sends SIGTERM (the test's trap stops its children), then
	# SIGKILL 10 s later if it still runs.
	if timeout -k 10 "$timeout_s" sh "$t" >"$log" 2>&1; then
		st=0
	else
		st=$?
	fi
	dt=$(($(date +%s) - t0))
	if [ "$st" -eq 0 ]; then
		echo "ok   $name (${dt}s)"
		passed=$((passed + 1))
	else
		[ "$st" -eq 124 ] && echo "timed out after ${timeout_s}s" >>"$log"
		echo "FAIL $name (${dt}s, exit $st; log $log)"
		tail -n 25 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed${SKIP:+, $skipped skipped}"
[ "$failed" -eq 0 ]
