#!/bin/sh
# msdetect's operator sessions (issue 17, point 4): while a card the
# planogram lists as an operator's is identified, items going in and out
# are a refill, not takes and returns: nothing is charged, and the session
# ends with one restock event per slot whose contents changed, carrying
# the difference; mscart adds it to the slot's counted stock.
. "$(dirname "$0")/lib.sh"
V=$MS_BUILD/tests/msvalidate
OP=felica:00000000000000FF
ALICE=felica:0102030405060708

cat >plan <<X
chip gpiochip0
default pull-up active-low
line 3 A1 cola presence
line 4 A2 water presence
line 5 B1 crisps pulse debounce=5
door 7
operator $OP
X
idf() { printf '{"type":"identify","ts":"2026-11-28T11:00:0%s.000Z","card":"%s"}\n' "$1" "$2"; }
# one line per event: type and the fields that say what happened
summ() {
	python3 -c 'import json,sys
for l in sys.stdin:
    o=json.loads(l); f=[o["type"]]
    for k in ("slot","sku","added","card","takes","returns","reason","state"):
        if k in o: f.append("%s=%s"%(k,o[k]))
    print(" ".join(f))'
}

# ----- an operator refills: A1 gets two items, A2 loses one, B1 none -----
# (presence, active-low: falling = an item is there, rising = it left;
# the door is open while low)
idf 0 "$OP" >in-op
cat >e-op <<'X'
level 3 high
level 4 low
level 7 high
0.00 7 falling
0.10 3 falling
0.20 3 rising
0.30 3 falling
0.40 4 rising
0.50 3 rising
0.60 3 falling
0.70 7 rising
X
run -i in-op msdetect -f -c plan -r e-op
is "$RC:$ERR" "0:" "an operator's session replays cleanly"
is "$(printf '%s\n' "$OUT" | summ)" "identify card=$OP
door state=open
door state=closed
restock slot=A1 sku=cola added=1 card=$OP
restock slot=A2 sku=water added=-1 card=$OP
session-end card=$OP takes=3 returns=3 reason=door" \
    "no take or return: at its end a restock per slot changed, with the difference"
printf '%s\n' "$OUT" >op.ndjson
run -i op.ndjson "$V"
is "$RC:$(grep -c '^ok' .out)" "0:6" "every line is valid ms-events(5)"
is "$(grep '"type":"restock"' op.ndjson | jget ts | sort -u)" \
    "$(grep '"type":"session-end"' op.ndjson | jget ts)" "the restocks carry the session's end"

# ----- put back what was taken out: nothing to restock -----
cat >e-same <<'X'
level 3 low
level 7 high
0.00 7 falling
0.10 3 rising
0.20 3 falling
0.30 7 rising
X
run -i in-op msdetect -f -c plan -r e-same
is "$(printf '%s\n' "$OUT" | summ | grep -c '^restock')" 0 "out and back in: no restock"
is "$(printf '%s\n' "$OUT" | summ | tail -n 1)" "session-end card=$OP takes=1 returns=1 reason=door" \
    "the session-end still counts them"

# ----- a customer's session, with the same planogram, is charged -----
idf 0 "$ALICE" >in-alice
printf 'level 3 low\nlevel 4 low\n0.10 3 rising\n0.20 4 rising\n0.30 4 falling\n' >e-cust
run -i in-alice msdetect -f -c plan -r e-cust
is "$(printf '%s\n' "$OUT" | summ)" "identify card=$ALICE
take slot=A1 sku=cola card=$ALICE
take slot=A2 sku=water card=$ALICE
return slot=A2 sku=water card=$ALICE
session-end card=$ALICE takes=2 returns=1 reason=eof" \
    "Alice's takes and return are hers; no restock"

# ----- an operator's session that ends with the input still restocks -----
printf 'level 4 high\n0.10 4 falling\n0.20 5 falling\n0.21 5 rising\n' >e-eof
run -i in-op msdetect -f -c plan -r e-eof
is "$(printf '%s\n' "$OUT" | summ | sed 1d)" "restock slot=A2 sku=water added=1 card=$OP
restock slot=B1 sku=crisps added=-1 card=$OP
session-end card=$OP takes=1 returns=1 reason=eof" \
    "at the end of input: A2 one more, B1 (a pulse: one out) one less"

# ----- the planogram's operator lines are checked -----
printf 'chip g\nline 3 A1 a presence\noperator felica:0123\n' >bad.plan
check "a bad operator card is named with its line" "" "" \
    "msdetect: bad.plan:3: operator: felica: token has a bad length (4 hex digits)" 1 \
    msdetect -c bad.plan -r /dev/null
printf 'chip g\nline 3 A1 a presence\noperator\n' >bad.plan
check "operator without a card" "" "" "msdetect: bad.plan:3: usage: operator CARD" 1 \
    msdetect -c bad.plan -r /dev/null
printf 'chip g\nline 3 A1 a presence\nsupervisor x\n' >bad.plan
check "an unknown keyword lists operator" "" "" \
    'msdetect: bad.plan:3: unknown keyword "supervisor" (chip, default, line, door or operator)' 1 \
    msdetect -c bad.plan -r /dev/null

# ----- to the ledger: a count, then the operator's difference -----
MSCART_DB=$T/db
MS_CONF=/dev/null
export MSCART_DB MS_CONF
mscart init
printf '%s\n' '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"JPY"}' \
    '{"type":"product","sku":"water","name":"Water","price":100,"currency":"JPY"}' >cat.ndjson
mscart import cat.ndjson
mscart restock -s cola r7 A1 3
grep -v '"type":"door"' op.ndjson >op-events
run -i op-events mscart record -r r7 -d "$T/robot"
cp .out stamped
run -i stamped mscart serve --role robot:r7
is "$(grep -c '"status":"applied"' .out)" 4 "the robot's identify, restocks and session-end are applied"
is "$(mscart stock r7 | jget count | tr '\n' ' ')" "4 " \
    "A1, counted 3, now 4; A2, never counted, is not counted from a difference"
like "$(mscart log | grep '"slot":"A2"')" '"what":"restock".*"was":null,"added":-1,"count":null.*"card":"'$OP'"' \
    "the A2 restock is audited with the operator's card"
done_testing
