#!/bin/sh
# Stock and restock (issue 17, point 4): per-slot counts kept from restocks,
# takes and matched returns; a take beyond the counted stock is charged and
# listed for review; restock events are applied once and only from their
# robot; mscart restock by hand; mscart stock and its low-stock list.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
MS_CONF=/dev/null
export MSCART_DB MS_CONF
A=iso14443a:04A1B2C3
B=iso14443a:04B0B0B0
mscart init
cat >setup <<EOF
{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"JPY"}
{"type":"product","sku":"tea","name":"Green tea","price":130,"currency":"JPY"}
{"type":"product","sku":"gum","name":"Mint gum","price":100,"currency":"JPY"}
{"type":"user","user":"alice","name":"Alice","cards":["$A"]}
{"type":"user","user":"bob","name":"Bob","cards":["$B"]}
EOF
run mscart import setup
is "$RC" 0 "catalogue and users imported"

# ----- a take from a slot nobody restocked: not counted, not flagged -----
printf '%s\n' '{"type":"take","ts":"2026-11-28T09:00:00.000Z","robot":"r9","seq":1,"slot":"Z1","sku":"gum","card":"'$A'"}' >t0
run -i t0 mscart apply
is "$RC" 0 "a take from a slot never restocked is applied"
run mscart stock
is "$OUT" "" "it leaves no stock record: the slot is not counted"
is "$(mscart list review)" "" "and nothing for review"

# ----- the random sequence against an independent model -----
# Two robots, three slots each; restocks set a level, takes count one out
# (none below 0: beyond that they go to review), returns by the same card
# shortly after a take of theirs count one back in, other returns match
# nothing and change nothing.  The model knows nothing of how mscart
# stores it: it counts.
SEED=${STOCK_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
diag "seed $SEED (STOCK_SEED=$SEED to repeat)"
python3 - "$SEED" "$A" "$B" <<'PY' || fail "the model failed"
import json, random, sys
seed, A, B = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(seed)
skus = {"A1": "cola", "A2": "tea", "B1": "gum"}
robots = ["r1", "r2"]
seq = {r: 0 for r in robots}
count = {}              # (robot, slot) -> level, for counted slots
after = {}              # (robot, slot) -> first line number after its restock
open_takes = {}         # (card, robot, slot) -> open line numbers, oldest first
beyond = set()          # line numbers of takes beyond stock, still open
line = 1                # t0 above took L1
t = 0
ev = []
def ts():
    global t
    t += 1
    return "2026-11-28T10:%02d:%02d.000Z" % (t // 60, t % 60)
for _ in range(400):
    r = rnd.choice(robots)
    slot = rnd.choice(sorted(skus))
    seq[r] += 1
    e = {"ts": ts(), "robot": r, "seq": seq[r], "slot": slot, "sku": skus[slot]}
    k = (r, slot)
    x = rnd.random()
    if x < 0.12:
        e["type"] = "restock"
        e["count"] = rnd.randint(0, 4)
        count[k] = e["count"]
        after[k] = line + 1
    elif x < 0.70:
        card = rnd.choice([A, B])
        e["type"] = "take"
        e["card"] = card
        line += 1
        if k in count:
            if count[k] > 0:
                count[k] -= 1
            else:
                beyond.add(line)
        open_takes.setdefault((card, r, slot), []).append(line)
    else:
        card = rnd.choice([A, B])
        e["type"] = "return"
        e["card"] = card
        o = open_takes.get((card, r, slot), [])
        if o:
            voided = o.pop()    # the newest open take is voided
            beyond.discard(voided)
            if k in count:
                count[k] += 1
    ev.append(e)
with open("events", "w") as f:
    for e in ev:
        f.write(json.dumps(e, separators=(",", ":")) + "\n")
with open("want-stock", "w") as f:
    for r, slot in sorted(count):
        f.write("%s %s %s %d\n" % (r, slot, skus[slot], count[(r, slot)]))
with open("want-review", "w") as f:
    for l in sorted(beyond):
        f.write("L%d\n" % l)
with open("want-after", "w") as f:
    for (r, slot), a in sorted(after.items()):
        f.write("%s %s %d\n" % (r, slot, a))
PY
run -i events mscart apply
is "$RC" 0 "400 restocks, takes and returns applied"
is "$(grep -c '"status":"applied"' .out)" 400 "each once"
stock_view() {
	mscart stock | python3 -c 'import json,sys
for l in sys.stdin:
    s=json.loads(l)
    print(s["robot"], s["slot"], s["sku"], s["count"])'
}
stock_view >got-stock
is "$(cat got-stock)" "$(cat want-stock)" "mscart stock: every slot's count is the model's"
# the review list: the model's beyond-stock takes still open, less those
# whose slot was restocked after them
mscart list review >review.ndjson
python3 - <<'PY' >want-review2
import json
after = {}
for l in open("want-after"):
    r, s, a = l.split()
    after[(r, s)] = int(a)
lines = {}
# line number -> (robot, slot): takes in order, L1 was t0's
n = 1
for l in open("events"):
    e = json.loads(l)
    if e["type"] == "take":
        n += 1
        lines[n] = (e["robot"], e["slot"])
for l in open("want-review"):
    i = int(l.strip()[1:])
    if i >= after[lines[i]]:
        print("L%d" % i)
PY
jget id <review.ndjson >got-review
is "$(cat got-review)" "$(cat want-review2)" "list review: the takes beyond stock still open, not yet counted again"
is "$(jget review <review.ndjson | sort -u)" "$(if [ -s want-review2 ]; then echo beyond-stock; fi)" \
    "each says why (review: beyond-stock)"

run -i events mscart apply
is "$(grep -c '"status":"duplicate"' .out)" 400 "the same events again: all duplicates"
stock_view >got-stock2
is "$(cat got-stock2)" "$(cat want-stock)" "and the counts do not change"

# ----- a take beyond stock: charged, listed for review, count stays 0 -----
ev() { printf '{"type":"%s","ts":"2026-11-29T10:00:%02d.000Z","robot":"r5","seq":%d,"slot":"A1","sku":"cola"%s}\n' "$@"; }
{
	ev restock 1 1 ',"count":1'
	ev take 2 2 ",\"card\":\"$A\""
	ev take 3 3 ",\"card\":\"$B\""
} >beyond
before=$(mscart show bob | jget total)
run -i beyond mscart apply
is "$RC" 0 "restock 1, then two takes"
is "$(mscart stock r5 | jget count)" 0 "the count stops at 0"
is "$(mscart show bob | jget total)" "$((before + 150))" "the take beyond stock is charged as any take"
mscart list review >rv
bl=$(grep '"event":"r5:3"' rv | jget id)
like "$bl" '^L[0-9]+$' "the take beyond stock is listed for review"
is "$(grep '"event":"r5:3"' rv | jget review)" beyond-stock "as beyond-stock"
is "$(grep -c '"event":"r5:2"' rv)" 0 "the take within stock is not"
like "$(mscart log | grep '"event":"r5:3"')" '"what":"take".*"review":"beyond-stock"' \
    "the audit trail says so"
run mscart void "$bl"
is "$(mscart list review | grep -c '"event":"r5:3"')" 0 "a void takes it off the list"
ev take 4 4 ",\"card\":\"$B\"" >beyond2
mscart apply beyond2 >/dev/null
is "$(mscart list review | grep -c '"event":"r5:4"')" 1 "another take beyond stock is listed"
run mscart restock r5 A1 6
is "$RC:$ERR" "0:" "mscart restock r5 A1 6"
is "$(mscart list review | grep -c '"event":"r5:4"')" 0 "a restock of its slot (counted again) takes it off"
is "$(mscart stock r5 | jget count)" 6 "the slot now counts 6"

# ----- refusals of bad restock lines: source, line, nothing applied -----
rs() { printf '{"type":"restock","ts":"2026-11-29T11:00:00.000Z","robot":"r6","seq":%d%s}\n' "$@"; }
{
	rs 1 ',"slot":"A1","sku":"cola","count":-1}'
	rs 2 ',"slot":"A1","sku":"cola","count":1.5}'
	rs 3 ',"slot":"A1","sku":"cola","count":100001}'
	rs 4 ',"slot":"A1","sku":"cola","count":"3"}'
	rs 5 ',"sku":"cola","count":3}'
	rs 6 ',"slot":"A1","count":3}'
	rs 7 ',"slot":"A 1","sku":"cola","count":3}'
	rs 8 ',"slot":"A1","sku":"cola","count":3,"level":3}'
	rs 9 ',"slot":"A1","sku":"cola","count":3}'
} | sed 's/}}$/}/' >bad
run mscart apply bad
is "$RC" 1 "bad restock lines: exit 1"
is "$ERR" 'mscart: bad:1: restock: field "count" must be a whole number of items from 0 to 100000
mscart: bad:2: restock: field "count" must be a whole number of items from 0 to 100000
mscart: bad:3: restock: field "count" must be a whole number of items from 0 to 100000
mscart: bad:4: restock: field "count" must be a whole number of items from 0 to 100000
mscart: bad:5: restock: missing field "slot"
mscart: bad:6: restock: missing field "sku"
mscart: bad:7: restock: field "slot" must be 1 to 64 letters, digits or . _ - @
mscart: bad:8: restock: unknown field "level"' "each named with its source, line and reason"
is "$(grep -c '"type":"error"' .out)/$(tail -n 1 .out | jget status)" "8/applied" \
    "eight errors, and the good line after them is applied"
is "$(mscart stock r6 | jget count)" 3 "only the good line set the count"

# ----- a robot's restock by difference (added): only a counted slot moves
{
	rs 30 ',"slot":"A1","sku":"cola","added":5'
	rs 31 ',"slot":"C9","sku":"gum","added":5'
	rs 32 ',"slot":"A1","sku":"cola","added":-20'
	rs 33 ',"slot":"A1","sku":"cola","added":2'
	rs 34 ',"slot":"A1","sku":"cola","count":1,"added":2'
	rs 35 ',"slot":"A1","sku":"cola"'
} >added
run mscart apply added
is "$(jget status <.out | head -n 4 | tr '\n' ' ')" "applied applied applied applied " \
    "four restocks by difference applied"
is "$ERR" 'mscart: added:5: restock: exactly one of "count" and "added" is needed
mscart: added:6: restock: exactly one of "count" and "added" is needed' \
    "count and added together, or neither, refused with source and line"
is "$(mscart stock r6 | jget count)" 2 "3 + 5, then at most all out (0), then + 2: 2"
is "$(mscart stock r6 | grep -c '"slot":"C9"')" 0 "a slot never counted is not counted from a difference"
like "$(mscart log | grep '"event":"r6:31"')" '"what":"restock".*"was":null,"added":5,"count":null' \
    "but the restock is audited"
rs 36 ',"slot":"A1","sku":"cola","count":3' >r6c
mscart apply r6c >/dev/null

# ----- who may restock: a robot its own slots, never a terminal -----
rs 20 ',"slot":"A1","sku":"cola","count":9' >r6
run -i r6 mscart serve --role terminal:alice
is "$(jget code <.out)" forbidden "a terminal may not restock"
run -i r6 mscart serve --role robot:r7
is "$(jget code <.out)" forbidden "another robot may not restock r6"
is "$(mscart stock r6 | jget count)" 3 "neither changed the count"
run -i r6 mscart serve --role robot:r6
is "$(jget status <.out)" applied "the robot itself may"
is "$(mscart stock r6 | jget count)" 9 "its restock sets the level"
like "$(mscart log | grep '"what":"restock"' | grep '"event":"r6:20"')" \
    '"who":"robot:r6".*"was":3,"count":9' "audited with who, the level and what it was"

# ----- on the robot, record stamps a restock like any event -----
printf '%s\n' '{"type":"restock","ts":"2026-11-29T12:00:00.000Z","slot":"A3","sku":"gum","count":5}' >r7in
run -i r7in mscart record -r r7 -d "$T/robot"
is "$RC:$(jget robot <.out):$(jget seq <.out)" "0:r7:1" "mscart record stamps it with robot and seq"
cp .out stamped
run -i stamped mscart serve --role robot:r7
is "$(jget status <.out)" applied "and the server applies it from that robot"
is "$(mscart stock r7 | jget count)" 5 "r7 A3 counts 5"

# ----- mscart restock by hand -----
check "restock a slot never counted needs its sku" "" "" \
"mscart: r6 B2: never restocked: say which sku it holds (-s sku)" 1 mscart restock r6 B2 4
check "restock with an sku not in the catalogue" "" "" \
"mscart: soda: no such product (import it first)" 1 mscart restock -s soda r6 B2 4
check "restock -s sku of a new slot" "" "" "" 0 mscart restock -s tea r6 B2 4
check "restock a bad count: usage" "" "" \
"mscart: 4x: want a number of items from 0 to 100000
usage: mscart restock [-h] [-d dir] [-s sku] robot slot count" 2 mscart restock r6 B2 4x
check "restock a bad slot id: usage" "" "" \
"mscart: B/2: not an id (1 to 64 letters, digits or . _ - @)
usage: mscart restock [-h] [-d dir] [-s sku] robot slot count" 2 mscart restock r6 B/2 1
like "$(mscart log -n 1)" '"who":"admin:restock.*"what":"restock","robot":"r6","slot":"B2","sku":"tea","was":null,"count":4' \
    "a restock by hand is audited"

# ----- the report and the low-stock list -----
run mscart stock r6
is "$(printf '%s\n' "$OUT" | sed -n 1p)" \
'{"robot":"r6","slot":"A1","sku":"cola","name":"Cola","count":9,"restocked":"2026-11-29T11:00:00.000Z","by":"robot:r6"}' \
    "stock ROBOT: its slots in order, NDJSON, with the product's name"
is "$(printf '%s\n' "$OUT" | sed -n 2p | jget slot)/$(printf '%s\n' "$OUT" | sed -n 2p | jget count)/$(printf '%s\n' "$OUT" | sed -n 2p | jget name)" \
    "B2/4/Green tea" "then the slot restocked by hand"
like "$(printf '%s\n' "$OUT" | sed -n 2p | jget by)" '^admin:restock' "by whom"
is "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 2 "and no other robot's"
mscart restock r6 A1 1
run mscart stock -l 1
is "$(printf '%s\n' "$OUT" | jget robot | sort -u | tr '\n' ' ')" \
    "$(mscart stock | python3 -c 'import json,sys
print(" ".join(sorted({json.loads(l)["robot"] for l in sys.stdin if json.loads(l)["count"] <= 1})))') " \
    "stock -l 1: the robots with a slot at 1 or less"
is "$(printf '%s\n' "$OUT" | python3 -c 'import json,sys; print(all(json.loads(l)["count"] <= 1 for l in sys.stdin))')" \
    True "and only slots at 1 or less"
is "$(mscart stock -l 1 r6)" "$(mscart stock r6 | grep '"slot":"A1"')" "stock -l 1 r6: r6's low slot only"
check "stock -H of a robot event: its ts, in the shop's time" "" \
"ROBOT            SLOT     SKU              NAME                      COUNT RESTOCKED
r1               A1       cola             Cola                          0 2026-11-29 20:00:00 JST" \
"" 0 sh -c 'printf "%s\n" "{\"type\":\"restock\",\"ts\":\"2026-11-29T11:00:00.000Z\",\"robot\":\"r1\",\"seq\":9999,\"slot\":\"A1\",\"sku\":\"cola\",\"count\":0}" |
    mscart apply >/dev/null && TZ=Asia/Tokyo mscart stock -H -l 0 r1 | sed -n "1p;/ A1 /p"'
check "stock -l with a bad level: usage" "" "" \
"mscart: -l x: want a number of items from 0 to 100000
usage: mscart stock [-Hh] [-d dir] [-l level] [robot]" 2 mscart stock -l x
check "stock with two robots: usage" "" "" \
"usage: mscart stock [-Hh] [-d dir] [-l level] [robot]" 2 mscart stock r1 r2
run mscart stock -h
is "$RC:$OUT" "0:" "stock -h exits 0, nothing on stdout"
like "$ERR" '^usage: mscart stock' "stock -h prints its usage"
run mscart restock -h
is "$RC" 0 "restock -h exits 0"
like "$ERR" '^usage: mscart restock' "restock -h prints its usage"
is "$(mscart verify >/dev/null 2>&1; echo $?)" 0 "mscart verify"
done_testing
