#!/bin/sh
# Install the Debian packages ms needs to build, test and demo.
# Quiet and quick when everything is already there.
quiet=0
[ "$1" = -q ] && quiet=1

pkgs="make gcc libc6-dev pkg-config libnfc-dev libnfc-bin libjansson-dev libdb-dev
db5.3-util libcurl4-openssl-dev libgpiod-dev libssl-dev openssl mandoc perl
openssh-server openssh-client sqlite3 python3 clang libclang-rt-14-dev
procps psmisc iproute2 ca-certificates"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
# Node.js and npm for the Stripe mock: only when npm is not on PATH (a
# NodeSource nodejs already carries npm and conflicts with Debian's).
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"

[ -z "$missing" ] && { [ $quiet = 1 ] || echo "deps: all installed"; exit 0; }

echo "deps: installing:$missing"
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || exit 1
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null || exit 1
echo "deps: done"
