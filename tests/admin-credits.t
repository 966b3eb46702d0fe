#!/bin/sh
# mscart list credits (issue 17, point 8): the credit users have not used
# (returns of paid takes, refunds), per user and currency, with since
# when, the user's last take and status, oldest first, so that credit
# nobody will use -- a user who stopped buying, or was blocked -- shows.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
seq=0
ev() {	# ev TS TYPE FIELDS: robot r1's next event
	seq=$((seq + 1))
	printf '{"type":"%s","ts":"%s","robot":"r1","seq":%d%s}\n' "$2" "$1" "$seq" "$3" |
	    mscart apply >/dev/null
}
take() { ev "$1" take ",\"slot\":\"A1\",\"sku\":\"cola\",\"card\":\"line:$2\""; }
{
	printf '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}\n'
	for u in alice bob carol; do
		printf '{"type":"user","user":"%s","name":"%s","cards":["line:%s"],"currency":"EUR","payment":"cus_%s"}\n' \
		    "$u" "$u" "$u" "$u"
	done
} | mscart import -c

run mscart list credits
is "$RC:$OUT:$ERR" "0::" "no credit yet: nothing listed, exit 0"

# Bob buys once in October and returns it after paying: a credit; he is
# then blocked.  Alice buys twice on November 1st, is refunded one, and
# buys again on the 20th.  Carol's tab is paid, no credit.
take 2026-10-01T10:00:00.000Z bob
take 2026-11-01T09:00:00.000Z alice
take 2026-11-01T09:05:00.000Z alice
take 2026-11-02T12:00:00.000Z carol
pay_all
ev 2026-10-01T10:30:00.000Z return ',"slot":"A1","sku":"cola","card":"line:bob"'
mscart block bob
line=$(mscart show -a alice | python3 -c 'import json,sys
print([i["id"] for i in json.load(sys.stdin)["items"] if i["state"] == "paid"][0])')
mscart refund -m "warm cola" "$line"
take 2026-11-20T08:00:00.000Z alice

run mscart list credits
is "$RC" 0 "list credits exits 0"
is "$(printf '%s\n' "$OUT" | python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["user"], r["currency"], r["credit"], r["lines"], r["since"], r["last_take"], r["status"])')" \
"bob EUR 150 1 2026-10-01T10:30:00.000Z 2026-10-01T10:00:00.000Z blocked
alice EUR 150 1 2026-11-01T09:00:00.000Z 2026-11-20T08:00:00.000Z active" \
    "Bob's credit from his return, oldest first, his last take in October, blocked; Alice's refund"
run env TZ=UTC mscart list -H credits
like "$(printf '%s\n' "$OUT" | sed -n 1p)" '^USER +CREDIT +LINES +SINCE +LAST TAKE +STATUS$' "-H: a table"
like "$(printf '%s\n' "$OUT" | sed -n 2p)" '^bob +1\.50 EUR +1 +2026-10-01 10:30.* blocked$' "-H: Bob's row"

# Alice's next settlement uses her credit: 150 unpaid less 150 credit is
# zero, closed at once; Bob's stays
pay_all
run mscart list credits
is "$(printf '%s\n' "$OUT" | jget user | tr '\n' ' ')" "bob " "a credit a settlement used is no longer listed"
run mscart list -x credits
is "$RC" 2 "a bad option: usage, exit 2"
run mscart list credit
is "$RC" 2 "an unknown kind: usage, exit 2"
like "$ERR" "credits" "naming credits among the kinds"
done_testing
