#!/bin/sh
# One long-running "mscart apply" (its input a FIFO this test holds open,
# its replies on its stdout) sees every change other mscart processes
# commit meanwhile: a card given to another user (by import, by "card
# remove" and "card add", by another apply's user records), an unknown
# card enrolled (by "card add", by a new user's record), a card taken
# away, a slot counted for the first time, counted again, emptied, and
# a product's price changed (by "price", by an import).
# And the same process applies a user record or a restock and, in the
# same write of input, a take that must follow it.  This guards any
# in-process cache of card -> user, of products or of "this slot is not
# counted":
# each answer below must be the ledger's, never a remembered one.
#
# Expected owners, counts, totals and stock levels are worked out here
# from mscart(1) and ms-events(5), not taken from mscart's output.
# Nothing sleeps to synchronise: the test waits for the long-running
# process's reply to the last line it sent before any other process
# runs, and for the reply to the next line before it checks.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
MS_CONF=/dev/null
export MSCART_DB MS_CONF

COLA=150 TEA=130 GUM=90
CA=iso14443a:0A000001	# alice's, then bob's (import)
CE=iso14443a:0E000002	# erin's, then frank's (card remove/add), then erin's (apply)
U9=iso14443a:0F000009	# nobody's, then carol's (card add)
U8=iso14443a:0F000008	# nobody's, then heidi's (a new user's record)
CD5=iso14443a:0D000005	# dave's, then nobody's (card remove)
CD6=iso14443a:0D000006	# dave's, then nobody's (import of dave without it)
CI=iso14443a:01000003	# ivan's: the stock cases
CJ=iso14443a:0B000007	# judy's, then kim's, within one write
U4=iso14443a:0F000004	# nobody's, then lee's, within one write
CP=iso14443a:0C000010	# pam's: the price cases

cat >setup <<EOF
{"type":"product","sku":"cola","name":"Cola","price":$COLA,"currency":"EUR"}
{"type":"product","sku":"tea","name":"Green tea","price":$TEA,"currency":"EUR"}
{"type":"product","sku":"gum","name":"Mint gum","price":$GUM,"currency":"EUR"}
{"type":"user","user":"alice","name":"Alice","cards":["$CA"],"currency":"EUR"}
{"type":"user","user":"bob","name":"Bob","cards":[],"currency":"EUR"}
{"type":"user","user":"carol","name":"Carol","cards":[],"currency":"EUR"}
{"type":"user","user":"dave","name":"Dave","cards":["$CD5","$CD6"],"currency":"EUR"}
{"type":"user","user":"erin","name":"Erin","cards":["$CE"],"currency":"EUR"}
{"type":"user","user":"frank","name":"Frank","cards":[],"currency":"EUR"}
{"type":"user","user":"ivan","name":"Ivan","cards":["$CI"],"currency":"EUR"}
{"type":"user","user":"judy","name":"Judy","cards":["$CJ"],"currency":"EUR"}
{"type":"user","user":"kim","name":"Kim","cards":[],"currency":"EUR"}
{"type":"user","user":"lee","name":"Lee","cards":[],"currency":"EUR"}
{"type":"user","user":"pam","name":"Pam","cards":["$CP"],"currency":"EUR"}
EOF
run mscart import -c setup
is "$RC" 0 "catalogue and users imported into a new ledger"

# ----- helpers -----
# One seq counter for every robot, so "robot:seq" names one event and one
# reply; times go up with it.
seq=0
burst=
nburst=0
nsent=0
last=
# ev ROBOT TYPE FIELDS: add one event of ROBOT to the burst; E is its
# "robot:seq".
ev() {
	seq=$((seq + 1))
	E=$1:$seq
	burst=$burst$(printf '{"type":"%s","ts":"2026-11-28T10:%02d:%02d.000Z","robot":"%s","seq":%d%s}' \
	    "$2" $((seq / 60)) $((seq % 60)) "$1" "$seq" "$3")'
'
	nburst=$((nburst + 1))
	last=$E
}
# take ROBOT SLOT SKU CARD; identify ROBOT CARD; restock_ev ROBOT SLOT SKU COUNT
take() { ev "$1" take ",\"slot\":\"$2\",\"sku\":\"$3\",\"card\":\"$4\""; }
identify() { ev "$1" identify ",\"card\":\"$2\""; }
restock_ev() { ev "$1" restock ",\"slot\":\"$2\",\"sku\":\"$3\",\"count\":$4"; }
# rec LINE: add a record (user, product, query) to the burst as it is
rec() {
	burst=$burst$1'
'
	nburst=$((nburst + 1))
}
# send: write the burst to the long-running apply in one write, wait
# for the reply to its last line (an event: every burst ends with one),
# and put the replies to the burst, in order, in R.
send() {
	_first=$((nsent + 1))
	nsent=$((nsent + nburst))
	printf '%s' "$burst" >&3
	burst= nburst=0
	wait_line apply.out "^[^[]*\"event\":\"$last\"" 15 ||
	    diag "no reply to $last from the long-running apply"
	R=$(sed -n "${_first},${nsent}p" apply.out)
	[ "$(wc -l <apply.out | tr -d ' ')" = "$nsent" ] ||
	    diag "apply.out has $(wc -l <apply.out) replies, $nsent lines were sent"
}
# reply K: the K-th reply to the last burst
reply() { printf '%s\n' "$R" | sed -n "${1}p"; }
# statuses: the status (or error code) of each reply to the last burst
statuses() {
	printf '%s\n' "$R" | python3 -c 'import json,sys
print(" ".join(j.get("status") or ("error:%s" % j.get("code")) if j["type"] in ("ack", "error") else j["type"]
               for j in map(json.loads, sys.stdin)))'
}
# cartsum: one cart (a cart message, or the ack of an identify with its
# cart) as "USER STATUS COUNT TOTAL EVENTS": EVENTS are the "robot:seq"
# of its items, in order, or - for none.
cartsum() {
	python3 -c 'import json,sys
j = json.loads(sys.stdin.readline())
c = j["cart"] if j.get("type") == "ack" else j
u = c["user"]
if j.get("type") == "ack" and j.get("user") != u:
    u = "ack-user-%s-but-cart-user-%s" % (j.get("user"), u)
print("null" if u is None else u, c["status"], c["count"], c["total"],
      ",".join(i["event"] for i in c["items"]) or "-")'
}
# shown [-a] WHO: cartsum of "mscart show" in a separate process
shown() { mscart show "$@" | cartsum; }
# stock ROBOT: "SLOT:SKU:COUNT ..." of mscart stock ROBOT, or - for none
stock() {
	mscart stock "$1" | python3 -c 'import json,sys
print(" ".join("%s:%s:%s" % (s["slot"], s["sku"], s["count"]) for s in map(json.loads, sys.stdin)) or "-")'
}
# review: "EVENT:WHY ..." of mscart list review, or - for none
review() {
	mscart list review | python3 -c 'import json,sys
print(" ".join("%s:%s" % (i["event"], i.get("review")) for i in map(json.loads, sys.stdin)) or "-")'
}
# cardof CARD: the user mscart list cards gives CARD, or - for none
cardof() {
	mscart list cards | python3 -c 'import json,sys
print(([c["user"] for c in map(json.loads, sys.stdin) if c["card"] == sys.argv[1]] or ["-"])[0])' "$1"
}

# ----- the long-running apply -----
mkfifo in.fifo
: >apply.out
spawn in.fifo apply.out apply.err mscart apply
APPLY=$BG_PID
exec 3>in.fifo

# ===== 1a. a card given to another user by a separate "mscart import" =====
take r1 A1 cola "$CA"; a1=$E
identify r1 "$CA"
send
is "$(statuses)" "applied applied" "1a: take and identify by alice's card applied"
is "$(reply 2 | cartsum)" "alice active 1 $COLA $a1" \
    "1a: the identify answers alice, with the take on her cart"
printf '%s\n' "{\"type\":\"user\",\"user\":\"alice\",\"name\":\"Alice\",\"cards\":[]}" \
    "{\"type\":\"user\",\"user\":\"bob\",\"name\":\"Bob\",\"cards\":[\"$CA\"]}" >move-ca
run mscart import move-ca
is "$RC" 0 "1a: a separate import takes the card from alice and gives it to bob"
take r1 A1 tea "$CA"; a2=$E
identify r1 "$CA"
rec '{"type":"query","id":"q1a","user":"alice"}'
take r1 A2 gum "$CA"; a3=$E
send
is "$(statuses)" "applied applied cart applied" "1a: the next take, identify, query and take are answered"
is "$(reply 2 | cartsum)" "bob active 1 $TEA $a2" \
    "1a: the same process's identify now answers bob, with the new take on his cart"
is "$(reply 3 | cartsum)" "alice active 1 $COLA $a1" \
    "1a: its query of alice: only the take made while the card was hers"
is "$(shown alice)" "alice active 1 $COLA $a1" "1a: show alice (separate process): her one take"
is "$(shown bob)" "bob active 2 $((TEA + GUM)) $a2,$a3" "1a: show bob: the two takes after the move"
is "$(shown "$CA")" "bob active 2 $((TEA + GUM)) $a2,$a3" "1a: show by the card: bob's cart"
is "$(cardof "$CA")" bob "1a: list cards: the card is bob's"

# ===== 1b. a card moved by "mscart card remove" and "card add" =====
take r1 B1 cola "$CE"; e1=$E
identify r1 "$CE"
send
is "$(reply 2 | cartsum)" "erin active 1 $COLA $e1" "1b: a take by erin's card is erin's"
run mscart card remove erin "$CE"
is "$RC" 0 "1b: a separate card remove takes it from erin"
run mscart card add frank "$CE"
is "$RC" 0 "1b: a separate card add gives it to frank"
take r1 B1 tea "$CE"; e2=$E
identify r1 "$CE"
send
is "$(statuses)" "applied applied" "1b: the next take and identify applied"
is "$(reply 2 | cartsum)" "frank active 1 $TEA $e2" "1b: the same process charges frank now"
is "$(shown erin)" "erin active 1 $COLA $e1" "1b: show erin: only her take"
is "$(shown frank)" "frank active 1 $TEA $e2" "1b: show frank: the take after the move"

# ===== 1c. moved back by user records through another "mscart apply" =====
printf '%s\n' "{\"type\":\"user\",\"user\":\"frank\",\"name\":\"Frank\",\"cards\":[]}" \
    "{\"type\":\"user\",\"user\":\"erin\",\"name\":\"Erin\",\"cards\":[\"$CE\"]}" >back-ce
run -i back-ce mscart apply
is "$RC $(printf '%s\n' "$OUT" | jget status | tr '\n' ' ')" "0 applied applied " \
    "1c: another apply process gives the card back to erin"
take r1 B2 gum "$CE"; e3=$E
identify r1 "$CE"
send
is "$(reply 2 | cartsum)" "erin active 2 $((COLA + GUM)) $e1,$e3" \
    "1c: the long-running process charges erin again"
is "$(shown frank)" "frank active 1 $TEA $e2" "1c: frank keeps his one take"

# ===== 2a. an unknown card enrolled by "mscart card add" =====
take r1 C1 tea "$U9"; u1=$E
identify r1 "$U9"
send
is "$(statuses)" "applied applied" "2a: a take by a card nobody has is applied"
is "$(reply 2 | cartsum)" "null unknown 1 $TEA $u1" \
    "2a: the identify: no user, status unknown, the take kept under the card"
is "$(shown "$U9")" "null unknown 1 $TEA $u1" "2a: show by the card (separate process): the same"
is "$(shown carol)" "carol active 0 0 -" "2a: carol has nothing yet"
run mscart card add carol "$U9"
is "$RC" 0 "2a: a separate card add enrols the card to carol"
is "$(shown carol)" "carol active 1 $TEA $u1" "2a: the card's earlier take moved to carol"
take r1 C1 cola "$U9"; u2=$E
identify r1 "$U9"
send
is "$(statuses)" "applied applied" "2a: the next take by the card applied"
is "$(reply 2 | cartsum)" "carol active 2 $((TEA + COLA)) $u1,$u2" \
    "2a: the same process now answers carol, both takes on her cart"
is "$(shown carol)" "carol active 2 $((TEA + COLA)) $u1,$u2" "2a: show carol: both takes"
is "$(cardof "$U9")" carol "2a: list cards: the card is carol's"

# ===== 2b. an unknown card enrolled by a new user's record (import) =====
take r1 C2 gum "$U8"; v1=$E
identify r1 "$U8"
send
is "$(reply 2 | cartsum)" "null unknown 1 $GUM $v1" "2b: a second unknown card, its take kept under it"
run mscart show heidi
is "$RC" 1 "2b: heidi is not a user yet"
printf '%s\n' "{\"type\":\"user\",\"user\":\"heidi\",\"name\":\"Heidi\",\"cards\":[\"$U8\"],\"currency\":\"EUR\"}" >heidi
run mscart import heidi
is "$RC" 0 "2b: a separate import adds heidi with that card"
take r1 C2 tea "$U8"; v2=$E
identify r1 "$U8"
send
is "$(reply 2 | cartsum)" "heidi active 2 $((GUM + TEA)) $v1,$v2" \
    "2b: the same process now answers heidi, with both takes"
is "$(shown heidi)" "heidi active 2 $((GUM + TEA)) $v1,$v2" "2b: show heidi: both takes"

# ===== 3a. a card taken away by "mscart card remove" =====
take r1 D1 cola "$CD5"; d1=$E
identify r1 "$CD5"
send
is "$(reply 2 | cartsum)" "dave active 1 $COLA $d1" "3a: a take by dave's card is dave's"
run mscart card remove dave "$CD5"
is "$RC" 0 "3a: a separate card remove takes the card from dave"
take r1 D1 tea "$CD5"; d2=$E
identify r1 "$CD5"
take r1 D2 gum "$CD6"; d3=$E
identify r1 "$CD6"
send
is "$(statuses)" "applied applied applied applied" "3a: takes by the removed card and dave's other one applied"
is "$(reply 2 | cartsum)" "null unknown 1 $TEA $d2" \
    "3a: the same process no longer charges dave: the take is kept under the card"
is "$(reply 4 | cartsum)" "dave active 2 $((COLA + GUM)) $d1,$d3" \
    "3a: dave's other card is still his"
is "$(shown dave)" "dave active 2 $((COLA + GUM)) $d1,$d3" "3a: show dave: not the take after the removal"
is "$(shown "$CD5")" "null unknown 1 $TEA $d2" "3a: show by the card: nobody's, that take only"
is "$(cardof "$CD5")" - "3a: list cards: nobody has the card"

# ===== 3b. a card taken away by importing the user without it =====
printf '%s\n' '{"type":"user","user":"dave","name":"Dave","cards":[]}' >dave-nocards
run mscart import dave-nocards
is "$RC" 0 "3b: a separate import leaves dave no card"
take r1 D2 cola "$CD6"; d4=$E
identify r1 "$CD6"
send
is "$(reply 2 | cartsum)" "null unknown 1 $COLA $d4" "3b: the same process no longer charges dave"
is "$(shown dave)" "dave active 2 $((COLA + GUM)) $d1,$d3" "3b: show dave: unchanged"
is "$(shown "$CD6")" "null unknown 1 $COLA $d4" "3b: show by the card: that take only"

# ===== 4a. a robot nobody has counted gets its first count by hand =====
take r2 A1 cola "$CI"; s1=$E
take r2 A1 cola "$CI"; s2=$E
send
is "$(statuses)" "applied applied" "4a: two takes from r2 A1, never counted, applied"
is "$(stock r2)" - "4a: mscart stock r2: nothing counted"
is "$(review)" - "4a: nothing for review"
run mscart restock r2 A1 5
is "$RC" 1 "4a: a first restock without -s is refused (mscart(1): a slot never restocked needs it)"
run mscart restock -s cola r2 A1 5
is "$RC" 0 "4a: a separate process counts r2 A1: 5 cola"
is "$(stock r2)" "A1:cola:5" "4a: mscart stock r2: 5"
take r2 A1 cola "$CI"; s3=$E
send
is "$(statuses)" applied "4a: the next take from r2 A1 through the same process applied"
is "$(stock r2)" "A1:cola:4" "4a: it counted one out: 4"
take r2 A2 tea "$CI"; s4=$E
send
is "$(stock r2)" "A1:cola:4" "4a: a take from r2 A2, still not counted, counts nothing"
run mscart restock r2 A1 0
is "$RC" 0 "4a: a separate process counts r2 A1 empty"
take r2 A1 cola "$CI"; s5=$E
send
is "$(statuses)" applied "4a: a take from the empty slot is applied all the same"
is "$(stock r2)" "A1:cola:0" "4a: the count stays 0"
is "$(review)" "$s5:beyond-stock" "4a: list review: that take, beyond stock"
is "$(shown ivan)" "ivan active 5 $((4 * COLA + TEA)) $s1,$s2,$s3,$s4,$s5" \
    "4a: show ivan: every take charged, the one beyond stock too"
run mscart restock r2 A1 2
is "$RC" 0 "4a: a separate process counts r2 A1 again: 2"
is "$(review)" - "4a: the take beyond stock leaves the review list"
take r2 A1 cola "$CI"; s6=$E
send
is "$(stock r2)" "A1:cola:1" "4a: the next take through the same process: 1"
is "$(review)" - "4a: and nothing for review"

# ===== 4b. a robot counting another slot: first count by its own event =====
run mscart restock -s gum r3 B2 3
is "$RC" 0 "4b: r3 B2 counted (3 gum) before the long-running process sees r3"
take r3 B1 tea "$CI"; t1=$E
take r3 B2 gum "$CI"; t2=$E
send
is "$(statuses)" "applied applied" "4b: takes from r3 B1 (not counted) and B2 (counted) applied"
is "$(stock r3)" "B2:gum:2" "4b: only B2 counts one out"
seq=$((seq + 1))
printf '{"type":"restock","ts":"2026-11-28T11:00:00.000Z","robot":"r3","seq":%d,"slot":"B1","sku":"tea","added":4}\n' "$seq" >r3-added
run -i r3-added mscart apply
is "$RC $(printf '%s\n' "$OUT" | jget status)" "0 applied" \
    "4b: another apply process: r3's restock adding 4 to B1"
is "$(stock r3)" "B2:gum:2" "4b: B1, never counted, stays uncounted (ms-events(5))"
take r3 B1 tea "$CI"; t3=$E
send
is "$(stock r3)" "B2:gum:2" "4b: a take from B1 through the same process counts nothing"
seq=$((seq + 1))
printf '{"type":"restock","ts":"2026-11-28T11:00:01.000Z","robot":"r3","seq":%d,"slot":"B1","sku":"tea","count":2}\n' "$seq" >r3-count
run -i r3-count mscart apply
is "$RC $(printf '%s\n' "$OUT" | jget status)" "0 applied" \
    "4b: another apply process: r3's restock counting B1 (2 tea)"
take r3 B1 tea "$CI"; t4=$E
send
is "$(stock r3)" "B1:tea:1 B2:gum:2" "4b: the next take from B1 through the same process: 1"
take r3 B1 tea "$CI"; t5=$E
take r3 B1 tea "$CI"; t6=$E
send
is "$(stock r3)" "B1:tea:0 B2:gum:2" "4b: two more: 0, not below"
is "$(review)" "$t6:beyond-stock" "4b: the second of them is beyond stock"

# ===== 5. the long-running process itself moves a card or counts a slot,
# and a take follows in the same write =====
take r4 E1 cola "$CJ"; j1=$E
send
is "$(statuses)" applied "5: a take by judy's card"
take r4 E1 gum "$CJ"; j2=$E
rec '{"type":"user","user":"judy","name":"Judy","cards":[]}'
rec "{\"type\":\"user\",\"user\":\"kim\",\"name\":\"Kim\",\"cards\":[\"$CJ\"]}"
take r4 E1 tea "$CJ"; j3=$E
identify r4 "$CJ"
send
is "$(statuses)" "applied applied applied applied applied" \
    "5: one write: a take, user records moving the card to kim, a take, an identify"
is "$(reply 5 | cartsum)" "kim active 1 $TEA $j3" "5: the take after the records is kim's"
is "$(shown judy)" "judy active 2 $((COLA + GUM)) $j1,$j2" "5: show judy: the takes before the records"
is "$(shown kim)" "kim active 1 $TEA $j3" "5: show kim: the take after them"

take r4 E2 tea "$U4"; w1=$E
rec "{\"type\":\"user\",\"user\":\"lee\",\"name\":\"Lee\",\"cards\":[\"$U4\"]}"
take r4 E2 cola "$U4"; w2=$E
identify r4 "$U4"
send
is "$(statuses)" "applied applied applied applied" \
    "5: one write: a take by an unknown card, a record enrolling it to lee, a take, an identify"
is "$(reply 4 | cartsum)" "lee active 2 $((TEA + COLA)) $w1,$w2" \
    "5: lee has both: the one kept under the card, and the one after"
is "$(shown lee)" "lee active 2 $((TEA + COLA)) $w1,$w2" "5: show lee: the same"

take r5 F1 cola "$CI"; x1=$E
restock_ev r5 F1 cola 3
take r5 F1 cola "$CI"; x2=$E
send
is "$(statuses)" "applied applied applied" \
    "5: one write: a take from r5 F1 (never counted), r5's count of 3, a take"
is "$(stock r5)" "F1:cola:2" "5: the take after the count counted one out: 2"
restock_ev r5 F1 cola 0
take r5 F1 cola "$CI"; x3=$E
send
is "$(statuses)" "applied applied" "5: one write: r5 counts F1 empty, a take"
is "$(stock r5)" "F1:cola:0" "5: the count stays 0"
is "$(review)" "$t6:beyond-stock $x3:beyond-stock" "5: the take is listed beyond stock"

# ===== 6. a product's price changed by another process, then by this one =====
# Lines keep the price at their take (mscart(1), price): each take below
# is charged what the catalogue said when it was applied.
take r6 A1 gum "$CP"; p1=$E
identify r6 "$CP"
send
is "$(reply 2 | cartsum)" "pam active 1 $GUM $p1" "6: a gum at $GUM"
run mscart price gum 0.95
is "$RC" 0 "6: a separate mscart price sets gum to 0.95"
take r6 A1 gum "$CP"; p2=$E
identify r6 "$CP"
send
is "$(reply 2 | cartsum)" "pam active 2 $((GUM + 95)) $p1,$p2" \
    "6: the next gum through the long-running process costs 95"
printf '{"type":"product","sku":"gum","name":"Mint gum","price":85,"currency":"EUR"}\n' >gum85
run mscart import gum85
is "$RC" 0 "6: a separate import prices gum at 85"
take r6 A1 gum "$CP"; p3=$E
identify r6 "$CP"
send
is "$(reply 2 | cartsum)" "pam active 3 $((GUM + 95 + 85)) $p1,$p2,$p3" \
    "6: the next gum costs 85"
rec '{"type":"product","sku":"gum","name":"Mint gum","price":80,"currency":"EUR"}'
take r6 A1 gum "$CP"; p4=$E
identify r6 "$CP"
send
is "$(statuses)" "applied applied applied" "6: one write: gum at 80, a take, an identify"
is "$(reply 3 | cartsum)" "pam active 4 $((GUM + 95 + 85 + 80)) $p1,$p2,$p3,$p4" \
    "6: the take after the product record in the same write costs 80"
is "$(shown pam)" "pam active 4 $((GUM + 95 + 85 + 80)) $p1,$p2,$p3,$p4" "6: show pam: the same"

# ===== the end =====
is "$(shown ivan)" \
    "ivan active 15 $((5 * COLA + TEA + 5 * TEA + GUM + 3 * COLA)) $s1,$s2,$s3,$s4,$s5,$s6,$t1,$t2,$t3,$t4,$t5,$t6,$x1,$x2,$x3" \
    "ivan's cart: every stock case's take, in order"
is "$(mscart show -a alice | cartsum)" "alice active 1 $COLA $a1" "show -a alice: nothing voided or paid besides"
is "$(mscart show -a bob | cartsum)" "bob active 2 $((TEA + GUM)) $a2,$a3" "show -a bob: the same two"
exec 3>&-
wait "$APPLY"
is "$?" 0 "the long-running apply exits 0 at the end of its input"
is "$(wc -l <apply.out | tr -d ' ')" "$nsent" "it answered each of the $nsent lines once"
is "$(cat apply.err)" "" "and said nothing on stderr"
run mscart verify
is "$RC" 0 "mscart verify: the ledger checks clean"
done_testing
