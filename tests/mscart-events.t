#!/bin/sh
# mscart: exactly once, whatever order the events come in.  events.db
# keeps runs of applied seqs per robot; these tests send seqs out of
# order, with gaps that fill later, duplicates in the same batch and in
# later batches, more robots than a batch holds runs for, and events
# refused (which must not count as applied).
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB

cat >catalog.ndjson <<EOF
{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}
{"type":"user","user":"alice","name":"Alice","cards":["line:alice"],"currency":"EUR"}
EOF
run mscart import -c catalog.ndjson
is "$RC" 0 "catalogue imported"

# tk ROBOT SEQ [SKU]: one take line
tk() {
	printf '{"type":"take","ts":"2026-11-28T10:00:00.000Z","robot":"%s","seq":%s,"slot":"A1","sku":"%s","card":"line:alice"}\n' \
	    "$1" "$2" "${3:-cola}"
}
# statuses of a run, one letter per line: a (applied), d (duplicate), e (error)
st() {
	printf '%s\n' "$OUT" | sed -n 's/.*"status":"\([ad]\)[a-z]*".*/\1/p; s/.*"type":"error".*/e/p' |
	    tr -d '\n'
}
lines() { mscart show -a alice | jget items | grep -o '"id"' | wc -l | tr -d ' '; }
runs() { db5.3_dump -p -h "$MSCART_DB" events.db | grep -c "^ $1\\\\00"; }

# a gap, filled later; seqs out of order; duplicates inside one batch
{ tk r1 1; tk r1 2; tk r1 5; tk r1 4; tk r1 2; tk r1 5; } >b1
run -i b1 mscart apply
is "$(st)" "aaaadd" "in order, a gap, out of order, duplicates in the batch"
is "$(runs r1)" 2 "two runs: 1-2 and 4-5"
{ tk r1 3; tk r1 1; tk r1 4; tk r1 5; tk r1 6; } >b2
run -i b2 mscart apply
is "$(st)" "addda" "the gap fills; what came before is a duplicate"
is "$(lines)" 6 "six lines for six distinct events"
is "$(runs r1)" 1 "the filled gap merged the runs into one record"

# one line per batch (-b 1): the runs are written and read back each time
: >b3
for s in 10 8 9 7 10 8; do tk r1 $s >>b3; done
run -i b3 mscart apply -b 1
is "$(st)" "aaaadd" "batches of one: a gap on each side, then filled"
{ tk r1 7; tk r1 11; } >b4
run -i b4 mscart apply
is "$(st)" "da" "after them, only the new seq applies"
is "$(runs r1)" 1 "r1: still one run"

# more robots in one batch than runs are held (8): interleaved seqs
: >b5
for s in 1 2 3; do
	for r in 1 2 3 4 5 6 7 8 9 10 11 12; do tk "x$r" $s >>b5; done
done
cat b5 b5 >b6
run -i b6 mscart apply
is "$(printf '%s\n' "$OUT" | grep -c '"applied"')" 36 "twelve robots: each event applied once"
is "$(printf '%s\n' "$OUT" | grep -c '"duplicate"')" 36 "and each repeat a duplicate"
run -i b5 mscart apply
is "$(printf '%s\n' "$OUT" | grep -c '"duplicate"')" 36 "in a later run too"
is "$(runs x7)" 1 "x7: one run"

# a refused take is not applied: sent again where it may be, it applies
{ tk r2 1; tk r2 3; } >b7
run -i b7 mscart apply
tk r2 2 >b7r
run -i b7r mscart serve --role terminal:alice
is "$(st)" "e" "the take is refused to a terminal"
is "$RC" 0 "serve exits 0 after a refusal"
{ tk r2 2; tk r2 2; } >b8
run -i b8 mscart apply
is "$(st)" "ad" "the refused seq applies when it comes right, once"
is "$(runs r2)" 1 "r2: one run"

# the largest seq (2^53) and a robot id that is a prefix of another
{ tk r3 9007199254740992; tk r 1; tk r3 9007199254740992; tk r 1; } >b9
run -i b9 mscart apply
is "$(st)" "aadd" "the largest seq; a robot id that prefixes another"

# against a model: random robots and seqs, repeats, in random batch sizes
python3 - "$T" <<'PY'
import json, random, sys
rnd = random.Random(7)
seen = set()
for part in range(4):
    with open("%s/rand%d" % (sys.argv[1], part), "w") as f, \
         open("%s/want%d" % (sys.argv[1], part), "w") as w:
        for i in range(600):
            r = "m%d" % rnd.randrange(3)
            s = rnd.randrange(1, 200)
            f.write(json.dumps({"type": "take", "ts": "2026-11-28T10:00:00.000Z",
                "robot": r, "seq": s, "slot": "A1", "sku": "cola",
                "card": "line:alice"}) + "\n")
            w.write("d" if (r, s) in seen else "a")
            seen.add((r, s))
PY
for part in 0 1 2 3; do
	run -i "$T/rand$part" mscart apply -b $((part * 40 + 1))
	is "$(st)" "$(cat "$T/want$part")" "random seqs, batches of $((part * 40 + 1)): as the model says"
done

# the audit trail: one entry per take, numbered one by one
run mscart log
is "$(printf '%s\n' "$OUT" | grep -c '"what":"take"')" "$(lines)" \
    "mscart log shows one take entry per cart line"
is "$(printf '%s\n' "$OUT" | grep -c '"takes":')" 0 \
    "each as an entry of its own, a batch of one take too"
printf '%s\n' "$OUT" | jget n >ns
seq 1 "$(wc -l <ns)" >want
is "$(cmp -s ns want && echo same)" same "entries are numbered 1, 2, 3... without a gap"
run mscart log -n 5
is "$(printf '%s\n' "$OUT" | jget n | tr '\n' ' ')" "$(tail -n 5 want | tr '\n' ' ')" \
    "log -n 5: the last five entries, even inside a batch's record"
run mscart verify
is "$RC" 0 "verify passes"
done_testing
