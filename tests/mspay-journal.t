#!/bin/sh
# The ledger gateway knows every settlement it ever wrote, whatever the
# file (issue 13, point 8): one file a month must not deduct a settlement
# twice when November's answers were lost.
. "$(dirname "$0")/lib.sh"

charge() {	# charge SETTLEMENT [KEY]
	printf '{"type":"charge","settlement":"%s","user":"ann","customer":"emp-7","amount":250,"currency":"EUR","key":"%s"}\n' \
	    "$1" "${2:-key-$1}"
}
field() { printf '%s\n' "$OUT" | grep "\"settlement\":\"$1\"" | jget "$2"; }
in_file() { grep -c "^\"$1\"," "$2"; }

mkdir ledger
{ charge s1; charge s2; } >nov.in
run -i nov.in mspay -f ledger/nov.csv
is "$RC/$(field s1 status)" "0/succeeded" "november: deducted (and then the answers are lost)"
is "$(stat -c %a ledger/mspay-ledger.journal)" 600 "the journal is beside the files, mode 600"

{ charge s1; charge s3; } >dec.in
run -i dec.in mspay -f ledger/dec.csv
is "$RC" 0 "december: exit 0"
is "$(field s1 status)/$(field s1 gateway_id)" "succeeded/ledger:nov.csv:1" \
    "december: s1 is answered from november's record"
is "$(in_file s1 ledger/dec.csv)/$(in_file s3 ledger/dec.csv)" "0/1" \
    "december: s1 is not deducted again, s3 is"
is "$(in_file s1 ledger/nov.csv)" 1 "november still holds s1 once"

charge s2 other-key >k.in
run -i k.in mspay -f ledger/dec.csv
is "$RC/$(field s2 status)/$(field s2 code)" "1/failed/idempotency_error" \
    "the same settlement under another key: refused"
is "$(in_file s2 ledger/dec.csv)" 0 "... and not written"

charge s3 other-key3 >k3.in
run -i k3.in mspay -f ledger/dec.csv
is "$(field s3 status)/$(field s3 code)/$(in_file s3 ledger/dec.csv)" "failed/idempotency_error/1" \
    "the same settlement under another key in the same file: refused too"

# a crash between the journal's intent and the record: the intent alone
# proves nothing; an intent whose record made it into its file does
nov=$(cd ledger && pwd)/nov.csv
printf 'I\tkey-s4\ts4\t250\tEUR\t%s\t9\n' "$nov" >>ledger/mspay-ledger.journal
printf '"s5","key-s5","ann","emp-7","250","EUR","","2026-11-30T23:59:00.000Z"\n' >>ledger/nov.csv
printf 'I\tkey-s5\ts5\t250\tEUR\t%s\t4\n' "$nov" >>ledger/mspay-ledger.journal
{ charge s4; charge s5; } >crash.in
run -i crash.in mspay -f ledger/dec.csv
is "$(field s4 status)/$(in_file s4 ledger/dec.csv)" "succeeded/1" \
    "an intent whose record never reached its file: written now"
is "$(field s5 status)/$(in_file s5 ledger/dec.csv)" "succeeded/0" \
    "an intent whose record is in its file: answered from it"

# one mspay at a time over the journal, whatever the file
exec 9<ledger/mspay-ledger.journal
flock -x 9
charge s6 >s6.in
run -i s6.in mspay -f ledger/jan.csv
is "$RC" 1 "a journal in use: exit 1"
like "$ERR" "mspay-ledger.journal: in use by another mspay" "a journal in use: refused"
exec 9<&-

# --journal puts it elsewhere
run -i s6.in mspay -f ledger/jan.csv --journal other.journal
is "$RC/$(grep -c 'key-s6' other.journal)" "0/2" "--journal: the intent and its done line go there"

done_testing
