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
states() { states_of alice; }
states_of() {
	mscart show -a "$1" | python3 -c 'import json,sys
for i in json.load(sys.stdin)["items"]: print(i["id"][1:], i["state"], i["price"], i["sku"])'
}
apply_all() { cat "$@" >>applied; run -i "$1" mscart apply; }

cat >catalog <<EOF
{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}
{"type":"user","user":"alice","name":"Alice","cards":["$A"],"currency":"EUR"}
EOF
mscart import -c catalog
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

# --- point 4: a cart is exact, whatever the history ---
D=iso14443a:0D0D0D0D
printf '{"type":"user","user":"dan","name":"Dan","cards":["%s"],"currency":"EUR"}\n' "$D" >u4
printf '%s\n' '{"type":"product","sku":"gum","name":"Gum","price":90,"currency":"EUR"}' >>u4
apply_all u4
python3 -c 'import sys
card = sys.argv[1]
ev = lambda s, t, sku: "{\"type\":\"%s\",\"ts\":\"2026-11-28T12:00:00.000Z\",\"robot\":\"r4\",\"seq\":%d,\"slot\":\"B1\",\"sku\":\"%s\",\"card\":\"%s\"}" % (t, s, sku, card)
print(ev(1, "take", "cola"))
for i in range(10000):
    print(ev(2 + 2 * i, "take", "gum"))
    print(ev(3 + 2 * i, "return", "gum"))' "$D" >e4
apply_all e4
is "$(printf '%s\n' "$OUT" | grep -c '"applied"')" 20001 "one take, then 10,000 take/return pairs"
is "$(mscart show dan | jget count) $(mscart show dan | jget total)" "$($MODEL -u dan applied)" \
    "the cart still has the first take: the model's count and total"
echo '{"type":"query","user":"dan"}' >q4
run -i q4 mscart apply
is "$(printf '%s\n' "$OUT" | jget count) $(printf '%s\n' "$OUT" | jget total)" "$($MODEL -u dan applied)" \
    "so does a query"
echo '{"type":"pay","user":"dan"}' >p4
apply_all p4
is "$(printf '%s\n' "$OUT" | jget amount)" "$($MODEL -u dan applied | cut -d' ' -f2)" \
    "and pay charges what the cart shows"

# --- point 10: which lines a return matches ---
C=iso14443a:0C0C0C0C
printf '{"type":"user","user":"carol","name":"Carol","cards":["%s"],"currency":"EUR"}\n' "$C" >u10
apply_all u10
# gen10 SEED FIRSTSEQ START: random takes and returns of carol at two
# robots, two slots, two skus; the clock moves on by up to 40 minutes
gen10() {
	python3 -c 'import random, sys
rnd = random.Random(int(sys.argv[1])); seq = int(sys.argv[2]); t = int(sys.argv[3])
for i in range(400):
    t += rnd.choice([1, 5, 60, 600, 2400])
    seq += 1
    h, r = divmod(t, 3600); m, s = divmod(r, 60)
    print("{\"type\":\"%s\",\"ts\":\"2026-11-%02dT%02d:%02d:%02d.000Z\",\"robot\":\"%s\",\"seq\":%d,\"slot\":\"%s\",\"sku\":\"%s\",\"card\":\"%s\"}" % (
        rnd.choice(["take", "take", "return"]), 1 + h // 24, h % 24, m, s,
        rnd.choice(["ra", "rb"]), seq, rnd.choice(["S1", "S2"]),
        rnd.choice(["cola", "gum"]), sys.argv[4]))' "$@" "$C"
}
gen10 1 0 0 >e10a
apply_all e10a
is "$(states_of carol)" "$($MODEL -a -u carol applied)" \
    "random takes and returns: every line's state as the model has it"
echo '{"type":"pay","user":"carol"}' >p10
apply_all p10
printf '{"type":"charged","settlement":"%s","key":"%s","status":"succeeded","amount":%s,"currency":"EUR"}\n' \
    "$(printf '%s\n' "$OUT" | jget settlement)" "$(printf '%s\n' "$OUT" | jget key)" \
    "$(printf '%s\n' "$OUT" | jget amount)" >c10
run -i c10 mscart settle
echo '{"type":"paid","user":"carol"}' >>applied
gen10 2 1000 200000 >e10b
apply_all e10b
is "$(states_of carol)" "$($MODEL -a -u carol applied)" \
    "after a settlement: voids and credits as the model has them"
is "$(mscart show carol | jget count) $(mscart show carol | jget total)" \
    "$($MODEL -u carol applied)" "and the cart's count and total"
like "$(mscart log | grep -c return-credit)" '^[1-9]' "some returns were credits"
like "$(mscart log | grep -c return-unmatched)" '^[1-9]' "some matched nothing (review)"

# --- point 5: a tab past the money limit says overflow ---
E=iso14443a:0E0E0E0E
printf '{"type":"user","user":"erin","name":"Erin","cards":["%s"],"currency":"JPY","limit":5000}\n' "$E" >u5
printf '%s\n' '{"type":"product","sku":"gold","name":"Gold","price":999999999999999,"currency":"JPY"}' \
    '{"type":"product","sku":"tea-jp","name":"Tea","price":150,"currency":"JPY"}' >>u5
apply_all u5
{ ev r5 2026-11-28T13:00:00.000Z take ",\"slot\":\"G1\",\"sku\":\"gold\",\"card\":\"$E\""
  ev r5 2026-11-28T13:00:01.000Z take ",\"slot\":\"G1\",\"sku\":\"gold\",\"card\":\"$E\""
  ev r5 2026-11-28T13:00:02.000Z take ",\"slot\":\"G2\",\"sku\":\"tea-jp\",\"card\":\"$E\""
} >e5
apply_all e5
echo '{"type":"query","user":"erin"}' >q5
run -i q5 mscart apply
is "$(printf '%s\n' "$OUT" | jget count) $(printf '%s\n' "$OUT" | jget overflow)" \
    "$($MODEL -u erin applied | sed 's/overflow/true/')" \
    "query: the model's count, and overflow instead of a total"
is "$(printf '%s\n' "$OUT" | jget total)/$(printf '%s\n' "$OUT" | jget totals.0.amount)/$(printf '%s\n' "$OUT" | jget limit)" \
    "null/null/over" "no number that is not the sum, and over the limit"
printf '%s\n' "$OUT" | $MS_BUILD/tests/msvalidate >/dev/null 2>&1
ok $? "the overflowing cart is a valid ms-events(5) message"
run mscart show -H erin
like "$OUT" "due +overflow JPY" "show -H says overflow"
unlike "$OUT" "999,999,999,999,999 JPY *$" "and no smaller number as what is due"

# --- point 12: stopped is not done ---
mkfifo fifo12
spawn fifo12 out12 err12 mscart apply
pid12=$BG_PID
exec 3>fifo12
ev r12 2026-11-28T14:00:00.000Z door ',"state":"open"' >&3
wait_line out12 '"applied"' 20
ok $? "apply answers the first line of an open input"
kill -TERM "$pid12"
wait "$pid12"
is "$?" 143 "SIGTERM with input still open: apply exits 143 (128 + SIGTERM), not 0"
exec 3>&-
echo '{"type":"query","user":"alice"}' >q12
run -i q12 mscart apply
is "$RC" 0 "apply that reaches the end of its input exits 0"

# --- point 13: limits count characters, not bytes ---
jp() { python3 -c 'import sys; print("\u3042" * int(sys.argv[1]), end="")' "$1"; }
{ printf '{"type":"product","sku":"jp67","name":"%s","price":100,"currency":"JPY"}\n' "$(jp 67)"
  printf '{"type":"product","sku":"jp200","name":"%s","price":100,"currency":"JPY"}\n' "$(jp 200)"
  printf '{"type":"product","sku":"jp201","name":"%s","price":100,"currency":"JPY"}\n' "$(jp 201)"
  printf '{"type":"product","sku":"a201","name":"%s","price":100,"currency":"JPY"}\n' "$(python3 -c 'print("a" * 201, end="")')"
  printf '{"type":"user","user":"jun","name":"%s"}\n' "$(jp 200)"
} >n13
run -i n13 mscart apply
is "$(printf '%s\n' "$OUT" | jget type | tr '\n' ' ')" "ack ack error error ack " \
    "names of 67 and 200 Japanese characters pass, 201 characters do not, in any script"
printf '%s\n' "$OUT" | $MS_BUILD/tests/msvalidate >/dev/null 2>&1
ok $? "every reply is valid"

# --- point 9: due --older-than longer than since 1970 ---
F=iso14443a:0F0F0F0F
printf '{"type":"user","user":"fay","name":"Fay","cards":["%s"],"currency":"EUR","payment":"cus_fay"}\n' "$F" >u9
apply_all u9
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
ev r9 "$now" take ",\"slot\":\"A1\",\"sku\":\"cola\",\"card\":\"$F\"" >e9
apply_all e9
run mscart due --older-than 30000d --user fay
is "$RC:$OUT" "0:" "due --older-than 30000d opens nothing for a take seconds old"
run mscart due -o 1d -u fay
is "$RC:$OUT" "0:" "nor does -o 1d"
run mscart due -u fay
is "$(printf '%s\n' "$OUT" | jget amount)" 150 "without -o the take is due"

# --- point 11: forbidden lines are recorded bounded ---
python3 -c 'import json
for i in range(400):
    cards = ["line:%02d%s" % (c, "x" * 150) for c in range(16)]
    print(json.dumps({"type": "user", "user": "u%d" % i, "name": "\u3042" * 200,
                      "cards": cards}, ensure_ascii=False))' >f11
before=$(mscart log | wc -c)
run -i f11 mscart serve --role terminal:alice
is "$(printf '%s\n' "$OUT" | jget code | sort -u)" forbidden "400 long user records from a terminal: forbidden"
after=$(mscart log | wc -c)
n=$(mscart log | grep -c '"what":"forbidden"')
ok $(( n >= 1 && n <= 102 ? 0 : 1 )) "at most a burst of them is recorded ($n)"
ok $(( after - before < 200000 ? 0 : 1 )) "the audit trail grew by $((after - before)) bytes, not the 1.3 MB sent"
like "$(mscart log | grep '"what":"forbidden"' | tail -n 1)" '"excerpt":"\{\\"type\\":\\"user\\".*"bytes":3[0-9]{3}' \
    "each record keeps an excerpt and the line's size"

# --- after a SIGKILL: Berkeley DB's alarms are said once, in our words ---
mkfifo endless
spawn /dev/null endless gen.err python3 -c 'import sys
i = 0
while True:
    i += 1
    sys.stdout.write("{\"type\":\"door\",\"ts\":\"2026-11-28T15:00:00.000Z\",\"robot\":\"rk\",\"seq\":%d,\"state\":\"open\"}\n" % i)'
spawn endless kill.out kill.err mscart apply
kpid=$BG_PID
wait_line kill.out '"applied"' 20
kill -KILL "$kpid"
{ wait "$kpid"; } 2>/dev/null
echo '{"type":"query","user":"alice"}' >qk
run -i qk mscart apply
is "$RC" 0 "the next process after a SIGKILL carries on"
unlike "$ERR" "BDB[0-9]|PANIC|mmap" "without Berkeley DB's own alarms"
ok $(( $(printf '%s' "$ERR" | grep -c .) <= 1 ? 0 : 1 )) "what happened is said at most once"

done_testing
