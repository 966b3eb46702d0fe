#!/bin/sh
# tests/deb-install.sh: build the Debian package from this work tree,
# install it with apt, use it, then remove and purge it, checking what
# each step leaves behind.
#
# It changes the machine it runs on (a package, a system user, /etc/ms,
# /var/lib/ms): run it as root in a throwaway Debian 12 or 13 root only,
# after make check (whose make deps installed the build dependencies,
# debhelper, man-db and systemd), from the project's root:
#   ../shared/fresh-debian 'make check' 'sh tests/deb-install.sh'
# It is not a *.t file, so prove (make check) never runs it.  Prints one
# "ok N - ..." line a check, then "deb-install: N passed, M failed", and
# exits 1 if anything failed.
set -u
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
top=$(cd "$(dirname "$0")/.." && pwd)
n=0
failed=0

ok() {	# ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
is() {	# is GOT EXPECTED DESCRIPTION
	[ "$1" = "$2" ]
	ok $? "$3"
	[ "$1" = "$2" ] || printf '# got:      %s\n# expected: %s\n' "$1" "$2"
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
finish() {
	echo "deb-install: $((n - failed)) passed, $failed failed"
	[ "$failed" = 0 ]
	exit
}
bail() {
	ok 1 "$1"
	finish
}
mode() { stat -c '%U:%G %a' "$1" 2>&1; }

[ "$(id -u)" = 0 ] || { echo "deb-install: run it as root, in a throwaway root" >&2; exit 2; }
# Refuse a machine where ms has been: its user, ledger or keys are not ours.
for p in /var/lib/ms /etc/ms; do
	[ ! -e "$p" ] || { echo "deb-install: $p exists; run it in a throwaway root" >&2; exit 2; }
done
! getent passwd ms >/dev/null || { echo "deb-install: user ms exists; run it in a throwaway root" >&2; exit 2; }

# A root unpacked from a tarball of a mktemp -d directory has / mode 0700,
# where no user but root can run anything; a Debian root is 0755.
if [ "$(stat -c %a /)" != 755 ]; then
	diag "/ is mode $(stat -c %a /) in this root, not 0755: setting 0755 so that ms can run"
	chmod 755 /
fi

T=$(mktemp -d /tmp/deb-install.XXXXXX)
trap 'rm -rf "$T"' EXIT

# Build: the files git knows of, as they are in the work tree, in a copy;
# a clean environment, as for any package build (make deps has installed
# the Build-Depends and build-essential).
mkdir "$T/ms"
git -C "$top" ls-files -z --cached --others --exclude-standard |
	(cd "$top" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
	tar -C "$top" --null -T - -cf - | tar -C "$T/ms" -xf -
ok $? "copy of the work tree"
(cd "$T/ms" && env -i PATH="$PATH" HOME="$T" LC_ALL=C DEB_BUILD_OPTIONS="parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1 ||
	{ diag "$(tail -n 30 "$T/build.log")"; bail "dpkg-buildpackage -us -uc -b"; }
ok 0 "dpkg-buildpackage -us -uc -b"
set -- "$T"/ms_*_*.deb
[ -f "$1" ] || bail "ms_*.deb is built"
deb=$1

# Install with apt, which brings in the dependencies.
ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update -qq
(cd "$T" && apt-get install -y "./${deb##*/}") >"$T/install.log" 2>&1
r=$?
is "$r" 0 "apt-get install ./${deb##*/}"
[ "$r" = 0 ] || { diag "$(tail -n 20 "$T/install.log")"; finish; }
is "$(dpkg-query -W -f '${db:Status-Abbrev}' ms)" "ii " "ms is installed"
dpkg -L ms >"$T/owned"
while read -r f; do [ -f "$f" ] && [ ! -L "$f" ] && echo "$f"; done <"$T/owned" >"$T/files"

for p in msid msdetect mscart mspay msscreen; do
	[ -x "/usr/bin/$p" ]
	ok $? "/usr/bin/$p"
done
out=$(MANPAGER=cat MANWIDTH=80 man -P cat mscart 2>&1)
r=$?
is "$r" 0 "man mscart exits 0"
printf '%s\n' "$out" | grep -q 'mscart' && [ "$(printf '%s\n' "$out" | wc -l)" -gt 20 ]
ok $? "man mscart shows the page"
/usr/bin/mscart -h >/dev/null 2>&1
ok $? "mscart -h exits 0"

# The user and its directories.
pw=$(getent passwd ms)
ok $? "user ms exists"
is "$(echo "$pw" | cut -d: -f6)" /var/lib/ms "ms's home is /var/lib/ms"
case $(echo "$pw" | cut -d: -f7) in */nologin|/bin/false) r=0 ;; *) r=1 ;; esac
ok $r "ms has no login shell"
getent group ms >/dev/null
ok $? "group ms exists"
pw=$(getent passwd ms-robot)
ok $? "user ms-robot exists"
is "$(echo "$pw" | cut -d: -f6)" /var/lib/ms/robot "ms-robot's home is its outbox"
for g in dialout gpio ms; do
	id -nG ms-robot | tr ' ' '\n' | grep -qx "$g"
	ok $? "ms-robot is in group $g"
done
is "$(mode /var/lib/ms)" "ms:ms 750" "/var/lib/ms is ms:ms 0750"
is "$(mode /etc/ms)" "root:ms 750" "/etc/ms is root:ms 0750"
runuser -u ms -- /usr/bin/mscart init -d /var/lib/ms/server </dev/null >/dev/null
ok $? "ms can make its ledger in /var/lib/ms"
is "$(mode /var/lib/ms/server)" "ms:ms 700" "the ledger is ms's alone"

# The units: installed, not enabled (no symlink anywhere under
# /etc/systemd), and clean for systemd-analyze verify.
units=$(grep -E '/systemd/system/[^/]+\.(service|socket|timer)$' "$T/files")
is "$(echo "$units" | wc -l)" "$(ls "$top"/contrib/*.service "$top"/contrib/*.socket \
    "$top"/contrib/*.timer | wc -l)" "every unit from contrib/ is installed"
is "$(find /etc/systemd -name 'ms-*' -o -name 'mscart-*' | tr '\n' ' ')" "" \
    "no unit is enabled"
for u in $units; do
	out=$(systemd-analyze verify "$u" 2>&1)
	r=$?
	is "$r:$out" "0:" "systemd-analyze verify ${u##*/}"
done

# Remove: the programs and units go, the configuration and state stay.
cp /usr/share/doc/ms/examples/planogram.example /etc/ms/planogram
apt-get remove -y ms >"$T/remove.log" 2>&1
ok $? "apt-get remove ms"
is "$(dpkg-query -W -f '${db:Status-Abbrev}' ms)" "rc " "ms is removed, its configuration kept"
left=$(while read -r f; do [ -e "$f" ] && echo "$f"; done <"$T/files")
is "$left" "" "every file of the package is gone"
[ -f /etc/ms/planogram ] && [ -d /var/lib/ms/server ]
ok $? "/etc/ms/planogram and the ledger are kept"
is "$(mode /var/lib/ms) $(mode /etc/ms)" "ms:ms 750 root:ms 750" "/var/lib/ms and /etc/ms keep owner and mode"
getent passwd ms >/dev/null
ok $? "user ms is kept"

# Purge: empty directories go, anything in them stays, and so does the
# user (files may still be its).
rm /etc/ms/planogram
apt-get purge -y ms >"$T/purge.log" 2>&1
ok $? "apt-get purge ms"
case $(dpkg-query -W -f '${db:Status-Abbrev}' ms 2>/dev/null) in ""|"un ") r=0 ;; *) r=1 ;; esac
ok $r "ms is purged"
[ ! -e /etc/ms ]
ok $? "the empty /etc/ms is gone"
[ -d /var/lib/ms/server ]
ok $? "/var/lib/ms with the ledger in it is kept"
is "$(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled \
    /var/lib/systemd/deb-systemd-helper-masked -name 'ms-*' -o -name 'mscart-*' 2>/dev/null)" "" \
    "no unit state is left (deb-systemd-helper, /etc/systemd)"
getent passwd ms >/dev/null
ok $? "user ms is kept"

# Again, with the ledger gone: purge leaves nothing of ms but its user.
rm -r /var/lib/ms/server
(cd "$T" && apt-get install -y "./${deb##*/}") >"$T/install2.log" 2>&1
ok $? "apt-get install again, user ms already there"
is "$(mode /var/lib/ms) $(mode /etc/ms)" "ms:ms 750 root:ms 750" "the directories are set up again"
apt-get purge -y ms >"$T/purge2.log" 2>&1
ok $? "apt-get purge ms"
[ ! -e /var/lib/ms ] && [ ! -e /etc/ms ]
ok $? "the empty /var/lib/ms and /etc/ms are gone"

finish
