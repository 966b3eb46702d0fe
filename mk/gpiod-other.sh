#!/bin/sh
# mk/gpiod-other.sh DIR: put the libgpiod API this machine does not have
# into DIR, so that msdetect's two backends (gpio_v1.c, gpio_v2.c) are
# both built and tested on every machine.
#
# Debian 12 ships libgpiod 1.6 (the v1 API), Debian 13 libgpiod 2.2 (v2).
# On a v1 machine this fetches Debian 13's libgpiod-dev and libgpiod3; on
# a v2 machine, Debian 12's libgpiod-dev and libgpiod2.  The packages are
# downloaded with apt-get from the same mirror this machine's own apt
# sources name, through a sources list in a temporary directory (nothing
# is written to the machine's apt configuration), and unpacked with
# dpkg-deb -x into DIR.  Nothing is installed.
#
# DIR ends up with usr/include/gpiod.h, usr/lib/<multiarch>/libgpiod.so*
# and a file "version" holding the library's version (e.g. 2.2.1).
# Quick and silent when DIR is already complete.
set -u
dir=${1:?usage: gpiod-other.sh DIR}
[ -s "$dir/version" ] && exit 0

mine=$(pkg-config --modversion libgpiod 2>/dev/null) || {
	echo "gpiod-other: pkg-config finds no libgpiod (run: make deps)" >&2
	exit 1
}
case $mine in
1.*) suite=trixie; pkgs="libgpiod-dev libgpiod3" ;;
*) suite=bookworm; pkgs="libgpiod-dev libgpiod2" ;;
esac

# The mirror: deb822 sources first (Debian 12's default and 13's), then
# the one-line format (what debootstrap writes).
mirror=
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	mirror=$(sed -n 's/^URIs:[[:space:]]*//p' "$f" | awk '$1 !~ /security/ {print $1; exit}')
	[ -n "$mirror" ] && break
done
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ {
	for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; exit } }' \
	/etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || {
	echo "gpiod-other: no Debian mirror found in /etc/apt/sources.list{,.d}" >&2
	exit 1
}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/lists/partial" "$tmp/archives/partial" "$tmp/parts" "$tmp/deb"
echo "deb $mirror $suite main" >"$tmp/sources.list"
# An empty dpkg status, so that what this machine has installed (its own
# libgpiod-dev) is not taken for the version to download.
: >"$tmp/status"
apt="-o Dir::Etc::SourceList=$tmp/sources.list -o Dir::Etc::SourceParts=$tmp/parts
 -o Dir::State::Lists=$tmp/lists -o Dir::Cache::Archives=$tmp/archives
 -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Dir::State::status=$tmp/status
 -o APT::Sandbox::User=root"

echo "gpiod-other: fetching $pkgs from Debian $suite ($mirror) into $dir" >&2
# shellcheck disable=SC2086
apt-get $apt -qq update >"$tmp/log" 2>&1 &&
	(cd "$tmp/deb" && apt-get $apt -qq download $pkgs) >>"$tmp/log" 2>&1 || {
	cat "$tmp/log" >&2
	echo "gpiod-other: could not download $pkgs from $suite" >&2
	exit 1
}
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
for d in "$tmp"/deb/*.deb; do
	dpkg-deb -x "$d" "$dir.tmp" || exit 1
done
ver=$(dpkg-deb -f "$tmp"/deb/libgpiod-dev_*.deb Version | sed 's/-[^-]*$//')
echo "$ver" >"$dir.tmp/version"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "gpiod-other: libgpiod $ver in $dir" >&2
