#!/bin/sh
# mscart list and the admin's edits (issue 17, point 2): users, products,
# cards, robots, the review queue and settlements as NDJSON or a table;
# card add|remove, price, block|unblock do what they say, each audited.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
MS_CONF=/dev/null
export MSCART_DB MS_CONF
A=iso14443a:04A1B2C3
B=iso14443a:04B0B0B0
C=iso14443a:04C0C0C0
cat >setup <<EOF
{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}
{"type":"user","user":"alice","name":"Alice","cards":["$A"],"payment":"cus_a","limit":5000,"currency":"EUR"}
{"type":"user","user":"bob","name":"Bob","cards":["$B"],"currency":"EUR"}
EOF
mscart init
run mscart import setup
is "$RC" 0 "users and products imported"
tk() { printf '{"type":"take","ts":"%s","robot":"%s","seq":%s,"slot":"A1","sku":"cola"%s}\n' "$@"; }
{
	tk 2026-11-30T16:00:00.000Z r7 1 ",\"card\":\"$A\""
	tk 2026-11-28T10:00:00.000Z r7 2 ""
	tk 2026-11-28T10:00:01.000Z r8 5 ",\"card\":\"$C\""
} >takes
run -i takes mscart apply
is "$RC" 0 "takes applied: one of alice, one without a card, one of an unknown card"

check "list users: the stored records, NDJSON" "" \
'{"user":"alice","name":"Alice","cards":["iso14443a:04A1B2C3"],"payment":"cus_a","limit":5000,"currency":"EUR","status":"active"}
{"user":"bob","name":"Bob","cards":["iso14443a:04B0B0B0"],"currency":"EUR","status":"active"}' \
"" 0 mscart list users
check "list products" "" \
'{"sku":"cola","name":"Cola","price":150,"currency":"EUR","active":true}' "" 0 mscart list products
check "list cards: each card and its user" "" \
'{"card":"iso14443a:04A1B2C3","user":"alice"}
{"card":"iso14443a:04B0B0B0","user":"bob"}' "" 0 mscart list cards
check "list robots: events applied, the last seq and the runs" "" \
'{"robot":"r7","events":2,"last_seq":2,"runs":1}
{"robot":"r8","events":1,"last_seq":5,"runs":1}' "" 0 mscart list robots
run mscart list review
is "$RC:$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" "0:1" "list review: one take without a card"
like "$OUT" '"id":"L2".*"event":"r7:2".*"state":"unpaid".*"owner":"r:"' "the take, its event and state"
check "list -H review: a table with the shop's time" "" \
"LINE     WHEN                     EVENT        SLOT   SKU                     PRICE STATE    WHY
L2       2026-11-28 19:00:00 JST  r7:2         A1     cola                 1.50 EUR unpaid   no card" \
"" 0 env TZ=Asia/Tokyo mscart list -H review
check "list -H users" "" \
"USER             NAME                     STATUS    CARDS              LIMIT
alice            Alice                    active        1          50.00 EUR
bob              Bob                      active        1                  -" "" 0 mscart list -H users
mscart due >due.out 2>/dev/null
run mscart list settlements
like "$OUT" '^\{"type":"settlement","settlement":"[^"]*","user":"alice","amount":150,"currency":"EUR".*"state":"open"' \
    "list settlements: alice's open settlement"
check "list of something else is a usage error" "" "" \
"mscart: list lines: want users, products, cards, robots, review, settlements or credits
usage: mscart list [-Hh] [-d dir] users | products | cards | robots | review | settlements | credits" \
2 mscart list lines

# --- edits ---
check "card add: bob gets a second card" "" "" "" 0 mscart card add bob "$C"
is "$(mscart list users | grep bob)" \
'{"user":"bob","name":"Bob","cards":["iso14443a:04B0B0B0","iso14443a:04C0C0C0"],"currency":"EUR","status":"active"}' \
    "bob keeps his old card and has the new one"
like "$(mscart show bob)" '"event":"r8:5"' "the new card's earlier take is now bob's"
like "$(mscart log | tail -n 2 | head -n 1)" '"what":"card-claim","card":"iso14443a:04C0C0C0","user":"bob","lines":1' \
    "the claim is audited"
like "$(mscart log | tail -n 1)" '"who":"admin:card-add.*"what":"card-add","user":"bob","card":"iso14443a:04C0C0C0"' \
    "card add is audited"
check "card add of alice's card to bob is refused" "" "" \
"mscart: card iso14443a:04A1B2C3 belongs to user alice: remove it there first" \
1 mscart card add bob "$A"
check "card add again changes nothing" "" "" "" 0 mscart card add bob "$C"
check "card remove: only that card" "" "" "" 0 mscart card remove bob "$B"
like "$(mscart list users | grep bob)" '"cards":\["iso14443a:04C0C0C0"\]' "bob has the other card left"
is "$(mscart list cards | grep -c 04B0B0B0)" 0 "the removed card is nobody's"
like "$(mscart log | tail -n 1)" '"what":"card-remove","user":"bob","card":"iso14443a:04B0B0B0"' "card remove is audited"
check "card remove of a card not the user's" "" "" \
"mscart: card iso14443a:04A1B2C3 is not bob's" 1 mscart card remove bob "$A"
check "card add for an unknown user" "" "" "mscart: carl: no such user" 1 mscart card add carl "$B"
run mscart card add bob nonsense
is "$RC" 2 "a bad card token is a usage error"

check "price: only the amount, in the product's currency" "" "" "" 0 mscart price cola 1.75
is "$(mscart list products)" '{"sku":"cola","name":"Cola","price":175,"currency":"EUR","active":true}' \
    "the name and currency are kept"
like "$(mscart log | tail -n 1)" '"what":"price","sku":"cola","price":175,"currency":"EUR","was":150,"was_currency":"EUR"' \
    "the price change is audited, with the old price"
check "price with too many decimals" "" "" \
"mscart: 1.755: not an amount in EUR (at most 2 decimals)" 1 mscart price cola 1.755
check "price of an unknown product" "" "" \
"mscart: tea: no such product (import it first)" 1 mscart price tea 2
check "price with a new currency" "" "" "" 0 mscart price cola 200 JPY
is "$(mscart list products)" '{"sku":"cola","name":"Cola","price":200,"currency":"JPY","active":true}' \
    "both changed"

check "block" "" "" "" 0 mscart block bob
like "$(mscart list users | grep bob)" '"status":"blocked"' "bob is blocked"
like "$(mscart log | tail -n 1)" '"what":"block","user":"bob","from":"active","to":"blocked"' "block is audited"
n=$(mscart log | wc -l)
check "block again changes nothing" "" "" "" 0 mscart block bob
is "$(mscart log | wc -l)" "$n" "and writes no audit record"
check "unblock" "" "" "" 0 mscart unblock bob
like "$(mscart list users | grep bob)" '"status":"active"' "bob is active again"
check "block of an unknown user" "" "" "mscart: carl: no such user" 1 mscart block carl
run mscart verify
is "$RC" 0 "the ledger verifies after the edits"
done_testing
