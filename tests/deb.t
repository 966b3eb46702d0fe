#!/bin/sh
# The Debian package: dpkg-buildpackage builds ms_*.deb from a copy of the
# work tree (uncommitted edits included), lintian finds no error in it,
# and it holds the programs, every man page, the systemd units and the
# notifier they start on failure, the ms and ms-robot users and their
# directories, the GPIO udev rule, and the examples, with maintainer scripts
# that neither enable nor start a unit.  Nothing is installed here:
# tests/deb-install.sh installs the package in a throwaway root.
. "$(dirname "$0")/lib.sh"

for t in dpkg-buildpackage dh lintian fakeroot; do
	command -v $t >/dev/null 2>&1 || missing "$t (make deps installs it)"
done
git -C "$MS_TOP" rev-parse --git-dir >/dev/null 2>&1 ||
	missing "a git checkout of ms in $MS_TOP (the test copies the files git knows)"

# Copy the files git knows of (tracked, and new ones it does not ignore)
# as they are now in the work tree, leaving out any deleted ones.
mkdir "$T/ms"
git -C "$MS_TOP" ls-files -z --cached --others --exclude-standard |
	(cd "$MS_TOP" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
	tar -C "$MS_TOP" --null -T - -cf - | tar -C "$T/ms" -xf -
ok $? "copy of the work tree"

# A clean environment, as a package build has: make check's own
# variables (MAKEFLAGS, SANITIZE, TESTS...) must not reach debian/rules.
(cd "$T/ms" && env -i PATH="$PATH" HOME="$T" LC_ALL=C TMPDIR="${TMPDIR:-/tmp}" \
    DEB_BUILD_OPTIONS="parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
RC=$?
is "$RC" 0 "dpkg-buildpackage -us -uc -b exits 0"
[ "$RC" = 0 ] || diag "$(tail -n 30 "$T/build.log")"

set -- "$T"/ms_*_*.deb
[ -f "$1" ]
ok $? "ms_*.deb is built beside the tree"
deb=$1

run lintian "$deb"
unlike "$OUT" '^E: ' "lintian reports no error"
is "$RC" 0 "lintian exits 0 (it fails on errors, and when it cannot check)"
[ -z "$OUT" ] || diag "$OUT"

run dpkg-deb -I "$deb" control
like "$OUT" '^Package: ms$' "the package is called ms"
like "$OUT" '^Depends: .*libdb5\.3' "Depends come from the libraries (shlibs)"

dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's,^\./,,' >"$T/files"
has() { grep -qx -- "$1" "$T/files"; }
for p in msid msdetect mscart mspay msscreen; do
	has "usr/bin/$p"
	ok $? "/usr/bin/$p"
done
for m in "$MS_TOP"/man/*.[1-8]; do
	n=${m##*/}
	has "usr/share/man/man${n##*.}/$n.gz"
	ok $? "man page $n, compressed"
done
for u in "$MS_TOP"/contrib/*.service "$MS_TOP"/contrib/*.socket "$MS_TOP"/contrib/*.timer; do
	n=${u##*/}
	has "usr/lib/systemd/system/$n" || has "lib/systemd/system/$n"
	ok $? "unit $n"
done
has usr/lib/sysusers.d/ms.conf
ok $? "sysusers.d file for the ms user"
has usr/lib/tmpfiles.d/ms.conf
ok $? "tmpfiles.d file for /var/lib/ms and /etc/ms"
for e in authorized_keys.example planogram.example ms.conf.example \
    DB_CONFIG.s1.example DB_CONFIG.s2.example DB_CONFIG.s3.example; do
	has "usr/share/doc/ms/examples/$e"
	ok $? "example $e"
done
unlike "$(cat "$T/files")" '^etc/systemd/' "no unit is enabled by a shipped symlink"

has usr/libexec/ms/ms-notify
ok $? "ms-notify, which ms-notify@.service runs"
has usr/lib/udev/rules.d/60-ms-gpio.rules || has lib/udev/rules.d/60-ms-gpio.rules
ok $? "udev rule giving the GPIO chips to group gpio"

# The units as shipped: the robot's run as ms-robot, the others as ms;
# no program under /usr/local.
dpkg-deb -x "$deb" "$T/root"
for u in "$T"/root/lib/systemd/system/*.service "$T"/root/usr/lib/systemd/system/*.service; do
	[ -f "$u" ] || continue
	case ${u##*/} in
	ms-robot.service|ms-push.service) user=ms-robot ;;
	*) user=ms ;;
	esac
	grep -qx "User=$user" "$u"
	ok $? "${u##*/} runs as $user"
done
run cat "$T/root/usr/lib/sysusers.d/ms.conf"
like "$OUT" '^u ms-robot ' "sysusers.d makes the robot's user, ms-robot"
like "$OUT" '^m ms-robot dialout' "ms-robot may use the reader's tty (dialout)"
run grep -l '^[^#]*/usr/local' -r "$T/root/lib" "$T/root/usr/lib"
is "$OUT" "" "no unit names a program under /usr/local"
run cat "$T/root/usr/lib/tmpfiles.d/ms.conf"
like "$OUT" '^d /var/lib/ms 0750 ms ms' "/var/lib/ms is ms:ms 0750"
like "$OUT" '^d /etc/ms 0750 root ms' "/etc/ms is root:ms 0750"

# Maintainer scripts: the units are registered but not enabled (the
# enable runs only for a unit already installed and enabled before, that
# is on an upgrade) and never started; the user comes before its dirs.
dpkg-deb -e "$deb" "$T/ctl"
post=$(cat "$T/ctl/postinst")
unlike "$post" 'deb-systemd-invoke (start|restart)|systemctl.* (start|enable)' \
    "postinst starts no unit"
is "$(grep -c 'deb-systemd-helper enable' "$T/ctl/postinst")" \
   "$(grep -c 'deb-systemd-helper debian-installed' "$T/ctl/postinst")" \
   "postinst enables a unit only if it was installed and enabled before"
like "$post" 'deb-systemd-helper debian-installed .ms-robot\.service' "postinst knows ms-robot.service"
like "$post" 'systemd-sysusers .*ms\.conf' "postinst creates the ms user"
like "$post" 'systemd-tmpfiles .*--create ms\.conf' "postinst creates the directories"
is "$(grep -n -e systemd-sysusers -e 'systemd-tmpfiles .*--create' "$T/ctl/postinst" |
	cut -d: -f2 | sed 's/^[[:space:]]*//; s/ .*//' | tr '\n' ' ')" \
   "systemd-sysusers systemd-tmpfiles " "the user is made before its directories"
like "$(cat "$T/ctl/prerm")" 'deb-systemd-invoke stop ms-robot\.service' "prerm stops the units on remove"
run cat "$T/ctl/postrm"
like "$OUT" 'rmdir /var/lib/ms' "purge takes away /var/lib/ms if empty"
unlike "$OUT" 'rm -r|userdel|deluser' "purge deletes neither state nor the user"

done_testing
