#!/bin/sh
# Install what ms needs to build, test, package and demo: Debian packages
# with apt-get, the other libgpiod API unpacked into build/gpiod-other
# (mk/gpiod-other.sh), and the pinned stripe-stateful-mock from npm into
# ~/.cache/ms (tests/stripe-mock.sh).  Works on Debian 12 and 13.  Quiet
# and quick when everything is already there; exits non-zero, saying
# what is missing, when something cannot be had.
quiet=0
[ "$1" = -q ] && quiet=1
top=$(cd "$(dirname "$0")/.." && pwd)

# Build: the compiler, the libraries (zlib for mscart archive's files)
# and pkg-config.  Tests: everything a test runs (sshd for the robot
# links, python3 for the gateway doubles, curl and openssl for the TLS
# and Stripe tests, sqlite3 for the bench peer, time for its peak
# memory figures, clang for the fuzzers).
# Packaging: dpkg-buildpackage, debhelper, lintian, man and
# systemd-analyze for the .deb test (build-essential, which
# dpkg-buildpackage checks for, brings g++ too).
pkgs="make gcc libc6-dev pkg-config libnfc-dev libnfc-bin libjansson-dev
libdb-dev db5.3-util zlib1g-dev libcurl4-openssl-dev libgpiod-dev libssl-dev openssl
libsqlite3-dev sqlite3 mandoc man-db perl openssh-server openssh-client
python3 clang curl procps psmisc iproute2 ca-certificates util-linux
build-essential dpkg-dev debhelper fakeroot lintian systemd apt-utils tzdata tmux
time"

missing() {
	m=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			m="$m $p"
	done
	echo "$m"
}

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
updated=0
install() {
	echo "deps: installing:$*"
	if [ $updated = 0 ]; then
		$sudo apt-get update -qq || exit 1
		updated=1
	fi
	$sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null || {
		echo "deps: apt-get install$* failed" >&2
		exit 1
	}
}

m=$(missing $pkgs)
# Node.js and npm for the Stripe mock: only when npm is not on PATH (a
# NodeSource nodejs already carries npm and conflicts with Debian's).
command -v npm >/dev/null 2>&1 || m="$m nodejs npm"
[ -n "$m" ] && install $m

# The sanitizer and libFuzzer runtime of the default clang: its package
# carries clang's major version (libclang-rt-14-dev on Debian 12,
# libclang-rt-19-dev on Debian 13).
v=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\)\..*/\1/p' | head -1)
[ -n "$v" ] || { echo "deps: clang --version says no version" >&2; exit 1; }
m=$(missing "libclang-rt-$v-dev")
[ -n "$m" ] && install $m

# msdetect's other GPIO backend is built and tested against the libgpiod
# API that this Debian does not ship.
sh "$top/mk/gpiod-other.sh" "$top/build/gpiod-other" || exit 1

# stripe-stateful-mock, the Stripe implementation the tests and the demo
# charge at (pinned; installed once into ~/.cache/ms/stripe-mock).
. "$top/tests/stripe-mock.sh"
stripe_mock_install || {
	echo "deps: cannot install stripe-stateful-mock@$STRIPE_MOCK_VERSION from npm" >&2
	exit 1
}

[ $quiet = 1 ] || echo "deps: all installed"
exit 0
