#!/bin/sh
# make install into a scratch prefix: binaries, the four daemon and
# command pages plus the generator's, the example config (an operator's
# config is never overwritten by a second install), and the systemd units
# with their paths filled in, which systemd-analyze verify accepts without
# a word and rates at an exposure of 3.0 or better (its 0-10 scale).
set -eu
. tests/integration/lib.sh
mm_tmpdir
P=$MM_TMP/usr
E=$MM_TMP/etc
U=$MM_TMP/units
inst() { make -s install BUILD="$BUILD" PREFIX="$P" SYSCONFDIR="$E" UNITDIR="$U" >"$MM_TMP/make.log" 2>&1 ||
	{ cat "$MM_TMP/make.log" >&2; fail "make install"; }; }
inst
for f in bin/mamori bin/mamori-collector bin/mamori-detector bin/mamori-gen bin/mamori-import \
	share/man/man1/mamori.1 share/man/man1/mamori-gen.1 share/man/man5/mamori.conf.5 \
	share/man/man8/mamori-collector.8 share/man/man8/mamori-detector.8; do
	[ -f "$P/$f" ] || fail "$f not installed"
done
[ -f "$E/mamori/mamori.conf" ] && [ -f "$E/mamori/mamori.conf.example" ] || fail "config not installed"
echo "# the operator's" >>"$E/mamori/mamori.conf"
inst
grep -q "^# the operator's" "$E/mamori/mamori.conf" || fail "a second install overwrote the config"
"$P/bin/mamori-collector" -t -c "$E/mamori/mamori.conf" 2>/dev/null || fail "installed config does not load"
for u in mamori-collector mamori-detector; do
	f=$U/$u.service
	[ -f "$f" ] || fail "$u.service not installed"
	grep -q "^ExecStart=$P/bin/$u -f -c $E/mamori/mamori.conf$" "$f" || fail "$u.service: paths not filled in"
	! grep -q "@[A-Z]*@" "$f" || fail "$u.service: a placeholder is left"
	if command -v systemd-analyze >/dev/null; then
		MANPATH=$P/share/man systemd-analyze verify "$f" >"$MM_TMP/v.out" 2>&1 || :
		[ ! -s "$MM_TMP/v.out" ] || { cat "$MM_TMP/v.out" >&2; fail "$u.service: systemd-analyze verify complained"; }
		x=$(MANPATH=$P/share/man systemd-analyze security --offline=yes "$f" 2>&1 |
			sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
		[ -n "$x" ] && awk -v x="$x" 'BEGIN { exit !(x <= 3.0) }' || fail "$u.service: exposure '$x'"
		note "  $u.service: verified, exposure $x"
	else
		fail "systemd-analyze not found (package systemd)"
	fi
done
note "ok"
