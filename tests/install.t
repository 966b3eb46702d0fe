#!/bin/sh
# make install / uninstall with DESTDIR and PREFIX put the five programs,
# ms-notify and every man page in place, and take them away again.
. "$(dirname "$0")/lib.sh"

run make -C "$MS_TOP" -s install DESTDIR="$T/root" PREFIX=/usr
is "$RC" 0 "make install exits 0"
for p in msid msdetect mscart mspay msscreen; do
	[ -x "$T/root/usr/bin/$p" ]
	ok $? "/usr/bin/$p installed"
done
for m in "$MS_TOP"/man/*.[1-8]; do
	n=${m##*/}
	cmp -s "$m" "$T/root/usr/share/man/man${n##*.}/$n"
	ok $? "man page $n installed"
done
[ -x "$T/root/usr/libexec/ms/ms-notify" ]
ok $? "/usr/libexec/ms/ms-notify installed (contrib/ms-notify@.service runs it)"
run "$T/root/usr/bin/mscart" -h
is "$RC" 0 "the installed mscart runs"
run make -C "$MS_TOP" -s uninstall DESTDIR="$T/root" PREFIX=/usr
is "$RC" 0 "make uninstall exits 0"
is "$(find "$T/root" -type f | wc -l | tr -d ' ')" 0 "nothing is left after uninstall"
[ ! -e "$T/root/usr/libexec/ms" ]
ok $? "nor /usr/libexec/ms"
done_testing
