#!/bin/sh
# mscart due -n (issue 17, point 8): prints the charges a run would print
# now, and the users it would leave alone, but opens no settlement,
# counts no attempt and writes no audit record; a later due does all
# that, with the same settlements.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
seq=0
take() {	# take USER: one cola, 1.50 EUR
	seq=$((seq + 1))
	printf '{"type":"take","ts":"2026-11-28T10:00:%02d.000Z","robot":"r1","seq":%d,"slot":"A1","sku":"cola","card":"line:%s"}\n' \
	    $((seq % 60)) "$seq" "$1" | mscart apply >/dev/null
}
{
	printf '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}\n'
	printf '{"type":"user","user":"alice","name":"Alice","cards":["line:alice"],"currency":"EUR","payment":"cus_a"}\n'
	printf '{"type":"user","user":"bob","name":"Bob","cards":["line:bob"],"currency":"EUR","payment":"cus_b"}\n'
	printf '{"type":"user","user":"carol","name":"Carol","cards":["line:carol"],"currency":"EUR"}\n'
} | mscart import -c
take alice; take alice; take bob; take carol

state() {	# everything a reader of the ledger sees
	mscart list settlements
	mscart report -b user
	mscart show -a alice; mscart show -a bob; mscart show -a carol
	mscart log | wc -l
}
# the charge lines without their times (a new settlement's key has the
# time it opens): type, settlement, user, amount, currency, attempt, key
charges() {
	python3 -c 'import json,sys
for l in sys.stdin:
    c = json.loads(l)
    print(c["type"], c["settlement"], c["user"], c["amount"], c["currency"], c["attempt"], c["key"])'
}
state >before
run mscart due -n
is "$RC" 0 "due -n exits 0"
printf '%s\n' "$OUT" | charges >dry1
is "$(cut -d' ' -f1,3,4,5,6 dry1 | sort | tr '\n' '|')" \
    "charge alice 300 EUR 1|charge bob 150 EUR 1|" \
    "due -n prints a charge for Alice (2 x 150) and Bob (150), first attempts"
like "$ERR" "carol" "due -n says Carol is left alone (no payment reference)"
state >after
cmp -s before after
ok $? "due -n changes nothing: settlements, report, carts and log as before"
run mscart due --dry-run
printf '%s\n' "$OUT" | charges >dry2
is "$(cut -d' ' -f1-6 dry2)" "$(cut -d' ' -f1-6 dry1)" "--dry-run again: the same charges, the same settlement ids"

run mscart due
is "$RC" 0 "a real due exits 0"
printf '%s\n' "$OUT" | charges >real
is "$(cut -d' ' -f1-6 real)" "$(cut -d' ' -f1-6 dry1)" "the real due prints what due -n said it would"
is "$(mscart list settlements | jget state | sort | tr '\n' ' ')" "open open " \
    "and opens the two settlements"
state >opened
run mscart due -n
printf '%s\n' "$OUT" | charges >dry3
is "$(cut -d' ' -f2,6,7 dry3 | tr '\n' '|')" "$(awk '{ print $2, 2, $7 }' real | tr '\n' '|')" \
    "due -n on open settlements: the same ones and keys, as their second attempt"
state >after
cmp -s opened after
ok $? "and counts no attempt"
run mscart due
is "$(printf '%s\n' "$OUT" | charges | cut -d' ' -f6 | tr '\n' ' ')" "2 2 " "the next real due sends attempt 2"

run mscart due -n -f
is "$RC" 2 "due -n -f: a usage error"
like "$ERR" "-n and -f" "saying why"
done_testing
