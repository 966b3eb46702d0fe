#!/bin/sh
# The two indexes of an owner's lines (mscart(1), FILES): open.db holds
# the open lines, owners.db the lines that are no longer open; a take
# writes only open.db, and a line goes into owners.db when it closes.  A
# ledger written by an earlier mscart has every line in owners.db, open
# or not: every line must still be listed once, in order, and the ledger
# verify clean.  The expected lines come from what the test did, not
# from mscart's output.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
seq=0
take() {	# take USER: robot r1's next take of a cola by USER's card
	seq=$((seq + 1))
	printf '{"type":"take","ts":"2026-11-01T10:00:%02d.000Z","robot":"r1","seq":%d,"slot":"A1","sku":"cola","card":"line:%s"}\n' \
	    "$((seq % 60))" "$seq" "$1" | mscart apply >/dev/null
}
ids() {	# ids USER: the line ids of show -a USER, in the order printed
	mscart show -a "$1" | python3 -c 'import json,sys
print(" ".join(i["id"] for i in json.load(sys.stdin)["items"]))'
}
# index DB OWNER: the line numbers owner has in DB (owners.db or open.db)
index() {
	db5.3_dump -p -h db "$1" | python3 -c 'import re, sys
owner = sys.argv[1]
lines = sys.stdin.read().split("HEADER=END\n", 1)[1].split("DATA=END")[0].splitlines()
def unesc(s):
    return re.sub(rb"\\([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), s[1:].encode())
out = []
for k, d in zip(lines[0::2], lines[1::2]):
    if unesc(k) == owner.encode():
        out.append("L%d" % int.from_bytes(unesc(d), "big"))
print(" ".join(out))' "$2"
}

{
	printf '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}\n'
	for u in alice bob; do
		printf '{"type":"user","user":"%s","name":"%s","cards":["line:%s"],"currency":"EUR","payment":"cus_%s"}\n' \
		    "$u" "$u" "$u" "$u"
	done
} | mscart import -c

# L1-L4 alice, L5 bob: all paid.  Then L6 and L7 alice (L6 voided), L8
# bob, and a refund of L2 gives alice a credit line, L9.
take alice; take alice; take alice; take alice; take bob
pay_all
take alice; take alice; take bob
mscart void -m "test" L6 >/dev/null
mscart refund -m "warm" L2 >/dev/null

is "$(index owners.db u:alice)" "L1 L2 L3 L4 L6 L9" \
    "owners.db: alice's paid and void lines (and her credit line)"
is "$(index open.db u:alice)" "L7 L9" "open.db: alice's unpaid line and her credit"
is "$(index owners.db u:bob) / $(index open.db u:bob)" "L5 / L8" \
    "bob: the paid line in owners.db, the new take only in open.db"
is "$(ids alice)" "L1 L2 L3 L4 L6 L7 L9" "show -a: every line of alice once, in order"
is "$(ids bob)" "L5 L8" "show -a: every line of bob once, in order"
run mscart verify
is "$RC" 0 "verify: clean"

# What an earlier mscart wrote: every line in owners.db, open ones too.
{
	printf 'VERSION=3\nformat=print\ntype=btree\nduplicates=1\ndupsort=1\nHEADER=END\n'
	for n in 7 8; do
		o=alice
		[ $n = 8 ] && o=bob
		printf ' u:%s\n %s\n' "$o" "$(printf '\\00\\00\\00\\00\\00\\00\\00\\%02x' "$n")"
	done
	printf 'DATA=END\n'
} >legacy.txt
run db5.3_load -h db -f legacy.txt owners.db
is "$RC:$ERR" "0:" "the open lines put into owners.db as an earlier mscart had them"
is "$(index owners.db u:alice) / $(index owners.db u:bob)" "L1 L2 L3 L4 L6 L7 L9 / L5 L8" \
    "owners.db now names the open lines too"
is "$(ids alice)" "L1 L2 L3 L4 L6 L7 L9" "show -a on the old layout: each line once, in order"
is "$(ids bob)" "L5 L8" "show -a on the old layout: bob's lines once"
is "$(mscart show alice | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["count"], c["total"])')" \
    "2 0" "the cart: alice's unpaid cola and her credit for L2, nothing owed"
run mscart verify
is "$RC" 0 "verify: clean on the old layout"
pay_all
is "$(ids alice)" "L1 L2 L3 L4 L6 L7 L9" "after paying: still each line once"
is "$(mscart show -a alice | python3 -c 'import json,sys
print(" ".join(i["state"] for i in json.load(sys.stdin)["items"]))')" \
    "paid paid paid paid void paid paid" "L7 and the credit settled together, at no charge"
run mscart verify
is "$RC" 0 "verify: clean after paying"
done_testing
