#!/bin/sh
# The manual pages: every page in the tree renders without a single
# warning from man --warnings (mdoc and troff), at 80 columns and at 60;
# the installed set is complete; and mamori.conf(5) names every section
# and key the parser knows (from the normalised default configuration).
set -eu
. tests/integration/lib.sh
mm_tmpdir
command -v man >/dev/null || fail "man is not installed (tools/deps.sh installs man-db)"
pages=$(find cli collector config detector tools -name '*.[158]' | sort)
for want in cli/mamori.1 config/mamori.conf.5 collector/mamori-collector.8 detector/mamori-detector.8 \
	tools/gen/mamori-gen.1; do
	echo "$pages" | grep -qx "$want" || fail "$want is missing"
done
for p in $pages; do
	for w in 80 60; do
		MANWIDTH=$w man --warnings -l -Tutf8 "$p" >"$MM_TMP/out" 2>"$MM_TMP/err" || fail "$p: man failed"
		[ ! -s "$MM_TMP/err" ] || { cat "$MM_TMP/err" >&2; fail "$p: warnings at $w columns"; }
		[ -s "$MM_TMP/out" ] || fail "$p: nothing rendered"
	done
done
printf '[exporter e]\naddress = 192.0.2.1\n[group g]\nprefix = 10.0.0.0/8\n' >"$MM_TMP/one.conf"
"$BUILD/bin/mamori-collector" -t -v -c "$MM_TMP/one.conf" 2>/dev/null >"$MM_TMP/norm" || fail "-t -v"
sed -n 's/^\[\([a-z]*\).*/\1/p' "$MM_TMP/norm" | sort -u >"$MM_TMP/sections"
sed -n 's/^\([a-z_0-9]*\) =.*/\1/p' "$MM_TMP/norm" | sort -u >"$MM_TMP/keys"
for s in $(cat "$MM_TMP/sections"); do
	grep -q "^\.Ss \[$s" config/mamori.conf.5 || fail "mamori.conf.5 has no [$s] section"
done
for k in $(cat "$MM_TMP/keys"); do
	grep -q "Cm $k\b" config/mamori.conf.5 || fail "mamori.conf.5 does not name the key $k"
done
note "ok: $(echo "$pages" | wc -l) pages"
