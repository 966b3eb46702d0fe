#!/bin/sh
# Every program answers -h with usage and exits 2 on a bad option.
. "$(dirname "$0")/lib.sh"

for p in msid msdetect mscart mspay; do
	run "$p" -h
	is "$RC" 0 "$p -h exits 0"
	like "$ERR" "^usage: $p" "$p -h prints usage on stderr"
	is "$OUT" "" "$p -h prints nothing on stdout"
	run "$p" -@
	is "$RC" 2 "$p with a bad option exits 2"
	like "$ERR" "usage: $p" "$p with a bad option prints usage"
done
done_testing
