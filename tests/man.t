#!/bin/sh
# Every man page passes mandoc -Tlint and has EXIT STATUS and EXAMPLES.
. "$(dirname "$0")/lib.sh"

for m in "$MS_TOP"/man/*.[1-8]; do
	n=${m##*/}
	run mandoc -Tlint -W warning "$m"
	is "$OUT$ERR" "" "$n: mandoc -Tlint is clean"
	case $n in
	*.1|*.7)
		grep -q '^\.Sh EXAMPLES' "$m"; ok $? "$n: has EXAMPLES"
		;;
	esac
	case $n in
	*.1) grep -q '^\.Sh EXIT STATUS' "$m"; ok $? "$n: has EXIT STATUS" ;;
	esac
done
done_testing
