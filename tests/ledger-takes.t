#!/bin/sh
# The right person, every take, every time (issue 12): takes of products
# the catalogue does not have yet, which lines a return may match, carts
# with a long history and sums past the money limit.  Each case feeds
# events to "mscart apply" and compares what the ledger shows with
# tests/mscart/model.py, a model written from mscart(1) and ms-events(5).
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
MODEL="python3 $MS_TOP/tests/mscart/model.py"
A=iso14443a:04A1B2C3
seq=0

# ev ROBOT TS TYPE FIELDS: one event line, the next seq of ROBOT
ev() {
	seq=$((seq + 1))
	printf '{"type":"%s","ts":"%s","robot":"%s","seq":%d%s}\n' "$3" "$2" "$1" \
	    "$seq" "$4"
}
take() { ev "$1" "$2" take ",\"slot\":\"$3\",\"sku\":\"$4\",\"card\":\"$A\""; }
ret() { ev "$1" "$2" return ",\"slot\":\"$3\",\"sku\":\"$4\",\"card\":\"$A\""; }
# the ledger's cart of alice as "ITEMS TOTAL" (or overflow)
cart() {
	mscart show alice | python3 -c 'import json,sys
c = json.load(sys.stdin)
print(c.get("count", len(c["items"])), "overflow" if c.get("overflow") else c["total"])'
}
states() {
	mscart show -a alice | python3 -c 'import json,sys
for i in json.load(sys.stdin)["items"]: print(i["id"][1:], i["state"], i["price"], i["sku"])'
}
apply_all() { cat "$@" >>applied; run -i "$1" mscart apply; }

cat >catalog <<EOF
{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}
{"type":"user","user":"alice","name":"Alice","cards":["$A"],"currency":"EUR"}
EOF
mscart import catalog
ok $? "catalogue imported"
cp catalog applied

# --- point 7: a take of a product the catalogue does not have yet ---
{ take r1 2026-11-28T10:00:00.000Z A1 tea
  take r1 2026-11-28T10:00:01.000Z A2 cola
  ret r1 2026-11-28T10:00:02.000Z A3 mint
  take r1 2026-11-28T10:00:03.000Z A1 tea
  take r1 2026-11-28T10:00:04.000Z A1 tea
  ret r1 2026-11-28T10:00:05.000Z A1 tea
} >e1
apply_all e1
is "$RC" 0 "apply of takes and returns of unknown skus exits 0"
is "$(printf '%s\n' "$OUT" | jget status | tr '\n' ' ')" \
    "applied applied applied applied applied applied " \
    "takes and returns of an unknown sku are all applied, alike"
is "$(cart)" "$($MODEL applied)" "the cart holds the unknown takes: the model's count and total"
is "$(states)" "$($MODEL -a applied)" "held, voided and unpaid lines as the model has them"
like "$(mscart log)" '"what":"take".*"held":"unknown sku"' "the audit trail says the take is held"
like "$(mscart log)" '"what":"return-unmatched".*"sku":"mint"' \
    "the return that matched nothing is kept for review"
echo '{"type":"product","sku":"tea","name":"Green tea","price":200,"currency":"EUR"}' >p
apply_all p
is "$(cart)" "$($MODEL applied)" "adding the product prices the held takes"
is "$(states)" "$($MODEL -a applied)" "each held line is unpaid at the new price"
like "$(mscart log)" '"what":"held-priced","sku":"tea","lines":2' "the audit trail says so"

done_testing
