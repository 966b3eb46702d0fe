#!/bin/sh
# What the server does not apply stays on the robot.  A key whose forced
# role is another robot's stops push and leaves the outbox as it was
# (issue 12, point 8); an event the server refuses for good, or answers
# with a reply push cannot read, is kept in the outbox's held database,
# listed by "mscart held" and sent again on request, never dropped
# (point 7).  The expected ledger comes from a model of the events sent
# (tests/mscart/model.py), counted at the far end.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/sshd.sh"

MODEL="python3 $MS_TOP/tests/mscart/model.py"
S="$MS_BIN/mscart serve -d $T/server --role"
sshd_key r1 "$S robot:r1"
sshd_key r2 "$S robot:r2"
sshd_start || { fail "sshd starts"; done_testing; exit 1; }

printf '%s\n' \
    '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' \
    '{"type":"product","sku":"gum","name":"Gum","price":90,"currency":"EUR"}' \
    '{"type":"user","user":"bob","name":"Bob","cards":["iso14443a:0B0B0B0B"],"currency":"EUR"}' \
    >catalog
mscart import -c -d server catalog
ok $? "catalogue and users imported"

# takes N SKU...: N take events by bob's card, one per sku given in turn
takes() {
	i=0
	n=$1
	shift
	while [ "$i" -lt "$n" ]; do
		for sku in "$@"; do
			printf '{"type":"take","ts":"2026-11-28T11:00:%02d.000Z","slot":"a1","sku":"%s","card":"iso14443a:0B0B0B0B"}\n' \
			    $((i % 60)) "$sku"
			i=$((i + 1))
		done
	done
}
# the model's view of the server: the events robot r2 recorded
model() { $MODEL -c catalog "$@"; }
server_cart() {
	mscart show -d server bob | python3 -c 'import json,sys
c = json.load(sys.stdin)
print(len(c["items"]), c["total"])'
}

# --- point 8: the wrong key ---
takes 5 cola | mscart record -r r2 -d robot >recorded
is "$(wc -l <recorded | tr -d ' ')" 5 "five takes recorded as r2"
run timeout -k 5 60 mscart push -r r2 -d robot -- $(sshd_cmd r1)
is "$RC" 1 "push through robot r1's key stops with status 1"
like "$ERR" "the server refuses r2:1 on this link: forbidden" \
    "and says the server refuses the link"
like "$ERR" "nothing is removed from the outbox" "and that the outbox is kept"
unlike "$ERR" "retrying" "it does not retry for ever"
is "$(mscart held -r r2 -d robot)" "" "nothing was moved aside as held"
is "$(server_cart)" "0 0" "the server has no line of bob"

run mscart push -r r2 -d robot -- $(sshd_cmd r2)
is "$RC" 0 "push with r2's own key"
is "$(printf '%s\n' "$OUT" | jget status | sort | uniq -c | tr -s ' ')" " 5 applied" \
    "sends the five takes, all applied"
is "$(server_cart)" "$(model recorded)" "the server's cart is the model's"

# --- point 7: what the server refuses for good is kept ---
# A server double: refuses the seqs in $REFUSE with unknown-type, answers
# those in $LONG with a reply longer than the line limit, acks the rest
# and push's hello; it logs the events it was sent.
cat >double.py <<'PY'
import json, os, sys
refuse = set(os.environ.get("REFUSE", "").split())
long_ = set(os.environ.get("LONG", "").split())
log = open(os.environ["LOG"], "a")
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] == "hello":
        sys.stdout.write('{"type":"ack","status":"applied","of":"hello"}\n')
        sys.stdout.flush()
        continue
    ev = "%s:%s" % (m["robot"], m["seq"])
    log.write(ev + "\n"); log.flush()
    if str(m["seq"]) in refuse:
        r = {"type": "error", "code": "unknown-type", "message": "no such type",
             "event": ev}
    elif str(m["seq"]) in long_:
        r = {"type": "ack", "status": "applied", "of": m["type"], "event": ev,
             "pad": "x" * 70000}
    else:
        r = {"type": "ack", "status": "applied", "of": m["type"], "event": ev}
    sys.stdout.write(json.dumps(r, separators=(",", ":")) + "\n")
    sys.stdout.flush()
PY
door='{"type":"door","ts":"2026-11-28T11:00:01.000Z","state":"open"}'
printf '%s\n' "$door" "$door" "$door" "$door" | mscart record -r r3 -d robot >/dev/null
export LOG=$T/sent
REFUSE=2 LONG=3 run timeout -k 5 60 mscart push -r r3 -d robot -- python3 double.py
is "$RC" 0 "push goes on past a refused event and an unreadable reply"
like "$ERR" "server did not apply r3:2: unknown-type: no such type; kept" \
    "it says the refused event is kept"
like "$ERR" "server did not apply r3:3: too-long" "and the one it could not read"
is "$(tr '\n' ' ' <sent)" "r3:1 r3:2 r3:3 r3:4 " "each event was sent once"
run mscart held -r r3 -d robot
is "$(printf '%s\n' "$OUT" | jget seq | tr '\n' ' ')" "2 3 " "mscart held lists the two"
is "$(printf '%s\n' "$OUT" | jget code | tr '\n' ' ')" "unknown-type too-long " \
    "with the server's reasons"
is "$(printf '%s\n' "$OUT" | sed -n 1p | jget event.seq)" 2 "and the event itself"

: >sent
run timeout -k 5 60 mscart push -r r3 -d robot -- python3 double.py
is "$RC:$(cat sent)" "0:" "a held event is not sent again unasked"
run mscart held -r r3 -d robot -s 2
is "$RC" 0 "held -s 2 asks for r3:2 again"
run timeout -k 5 60 mscart push -r r3 -d robot -- python3 double.py
is "$RC:$(tr '\n' ' ' <sent)" "0:r3:2 " "the next push sends it with its own seq"
is "$(mscart held -r r3 -d robot | jget seq)" 3 "applied this time, it is no longer held"
run mscart held -r r3 -d robot -s 9
is "$RC" 1 "held -s of a seq that is not held fails"
: >sent
mscart held -r r3 -d robot -a 2>/dev/null
REFUSE=3 run timeout -k 5 60 mscart push -r r3 -d robot -- python3 double.py
is "$(cat sent)" "r3:3" "held -a: every held event is sent again"
is "$(mscart held -r r3 -d robot | jget code)" unknown-type \
    "refused again, it stays held with the new reason"

done_testing
