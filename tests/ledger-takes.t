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

# --- point 6: replies within the line limit, however long the tab ---
B=iso14443a:0B0B0B0B
printf '{"type":"user","user":"bob","name":"Bob","cards":["%s"],"currency":"EUR"}\n' "$B" >u
printf '%s\n' '{"type":"product","sku":"long","name":"A product whose name is long enough to fill a display line and then some more, for the test of a long tab: ninety and more","price":120,"currency":"EUR"}' >>u
apply_all u
python3 -c 'import sys
for i in range(400):
    print("{\"type\":\"take\",\"ts\":\"2026-11-28T10:10:00.000Z\",\"robot\":\"r6\",\"seq\":%d,\"slot\":\"A1\",\"sku\":\"long\",\"card\":\"%s\"}" % (i + 1, sys.argv[1]))' "$B" >e6
apply_all e6
printf '{"type":"identify","ts":"2026-11-28T10:11:00.000Z","robot":"r6","seq":401,"card":"%s"}\n' "$B" >i6
apply_all i6
is "$(printf '%s\n' "$OUT" | wc -c | tr -d ' ')" "$(printf '%s\n' "$OUT" | head -c 65537 | wc -c | tr -d ' ')" \
    "the identify ack of a 400-item tab is within 65536 bytes"
is "$(printf '%s\n' "$OUT" | python3 -c 'import json,sys
c = json.load(sys.stdin)["cart"]
print(c["count"], c["total"])')" "$($MODEL -u bob applied)" \
    "its cart has the model's count and total"
is "$(printf '%s\n' "$OUT" | python3 -c 'import json,sys
c = json.load(sys.stdin)["cart"]
print(len(c["items"]), c["more"])')" "20 True" "and the first 20 items, with more to come"
# page through the query's replies
python3 - "$MS_BIN/mscart" >pages <<'PY'
import json, subprocess, sys
off, ids, longest = 0, [], 0
while True:
    q = json.dumps({"type": "query", "user": "bob", "offset": off})
    out = subprocess.run([sys.argv[1], "apply"], input=q + "\n", capture_output=True,
                         text=True).stdout
    longest = max(longest, len(out.encode()))
    c = json.loads(out)
    ids += [int(i["id"][1:]) for i in c["items"]]
    off += len(c["items"])
    if not c["more"]:
        break
print(longest <= 65537, len(ids), ids == sorted(ids), c["count"], c["total"])
PY
bobmodel=$($MODEL -u bob applied)
is "$(cat pages)" "True 400 True $bobmodel" \
    "query pages: each reply within the limit, 400 items in order, the model's count and total"

# the same through record and push: the identify's ack does not wedge
# the outbox, and the take recorded after it is billed
printf '%s\n' "{\"type\":\"identify\",\"ts\":\"2026-11-28T10:12:00.000Z\",\"card\":\"$B\"}" \
    "{\"type\":\"take\",\"ts\":\"2026-11-28T10:12:01.000Z\",\"slot\":\"A1\",\"sku\":\"long\",\"card\":\"$B\"}" |
    mscart record -r r7 -d robot | tee -a applied >/dev/null
run timeout -k 5 60 mscart push -r r7 -d robot -- mscart serve --role robot:r7
is "$RC" 0 "push delivers an identify of a long tab and what follows, and ends"
is "$(printf '%s\n' "$OUT" | jget status | tr '\n' ' ')" "applied applied " "both applied"
is "$(mscart show bob | jget count)" "$($MODEL -u bob applied | cut -d' ' -f1)" \
    "the take after the identify is on the tab"

done_testing
