#!/bin/sh
# run_unit.sh - run Check unit-test binaries and add up their results.
#
#   sh tests/run_unit.sh build/tests/test_config build/tests/test_log ...
#
# One line per binary, then a last line "N passed, N failed" counting Check
# checks (from each binary's "NN%: Checks: C, Failures: F, Errors: E"
# line).  A binary that fails without a Check failure to show for it
# (crash, missing summary, valgrind error) adds one to "failed".  Exits 1
# if anything failed.
#
# CK_DEFAULT_TIMEOUT defaults to 60 s: Check's own 4 s default is too short
# for the tests that replay captures or run under the sanitizers.
# VALGRIND=1 runs each binary under valgrind with CK_FORK=no, so that
# valgrind sees the tests themselves rather than Check's forked children.

if [ $# -eq 0 ]; then
	echo "usage: sh tests/run_unit.sh TEST_BINARY..." >&2
	exit 2
fi

CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}
export CK_DEFAULT_TIMEOUT

out=$(mktemp "${TMPDIR:-/tmp}/mamori-unit.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT INT TERM

passed=0
failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	if [ ! -x "$bin" ]; then
		echo "FAIL $name: not an executable file"
		failed=$((failed + 1))
		continue
	fi
	if [ "${VALGRIND:-0}" = 1 ]; then
		CK_FORK=no valgrind --error-exitcode=1 --leak-check=full -q "$bin" >"$out" 2>&1
	else
		"$bin" >"$out" 2>&1
	fi
	rc=$?

	# Sum every summary line (a binary may run more than one SRunner).
	sums=$(sed -n 's/^[0-9]*%: Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' "$out" |
		awk '{ c += $1; f += $2; e += $3; n++ } END { printf "%d %d %d %d\n", n, c, f, e }')
	read -r nsum checks fails errs <<EOF
$sums
EOF
	bad=$((fails + errs))
	passed=$((passed + checks - bad))
	failed=$((failed + bad))

	if [ "$rc" -eq 0 ] && [ "$bad" -eq 0 ] && [ "$nsum" -gt 0 ]; then
		echo "PASS $name: $checks checks"
		continue
	fi
	if [ "$nsum" -eq 0 ]; then
		why="no Check summary (exit status $rc)"
		failed=$((failed + 1))
	elif [ "$bad" -eq 0 ]; then
		# Every check passed yet the binary failed: valgrind or a
		# sanitizer complained, or main() returned non-zero.
		why="all $checks checks passed but exit status $rc"
		failed=$((failed + 1))
	else
		why="$checks checks, $fails failures, $errs errors"
	fi
	echo "FAIL $name: $why"
	grep -v '^Running suite' "$out" | sed 's/^/    /'
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
