#!/bin/sh
# --version (issue 17, point 3): every program says its name and the one
# version, debian/changelog's.
. "$(dirname "$0")/lib.sh"

v=$(sed -n '1s/^ms (\([^)]*\)).*/\1/p' "$MS_TOP/debian/changelog")
like "$v" '^[0-9]+\.[0-9]+\.[0-9]+' "debian/changelog has a version"
for p in msid msdetect mscart mspay; do
	check "$p --version: its name and debian/changelog's version" "" \
	    "$p $v" "" 0 "$p" --version
done
run sh -c 'mscart --version >/dev/full'
is "$RC" 1 "a failed write of --version exits 1"
done_testing
