#!/bin/sh
# Install the Debian 12 packages mamori builds, tests and benchmarks with.
# As root: apt-get installs what is missing.  Otherwise: print the exact
# apt-get line and fail, so `make check` never half-runs.
PKGS="gcc make pkg-config clang libclang-rt-14-dev libevent-dev libhiredis-dev
libnetfilter-log-dev check libpcap-dev redis-server softflowd tshark nfdump
iproute2 nftables libssl-dev valgrind gnuplot-nox tcpdump xxd curl man-db systemd"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "mamori: missing Debian packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "mamori: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || exit 1
apt-get install -y -qq --no-install-recommends $missing >/dev/null || exit 1
