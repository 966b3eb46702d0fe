#!/bin/sh
# mscart(1), archive: what moves when settlements and lines disagree.
# archive decides in passes over the databases; a paid line whose own
# settlement does not name it is only found out when the file is being
# written, and must then stay with that settlement, and so must every
# settlement naming it.  The ledger is changed by hand (db5.3_dump and
# db5.3_load) to make such a line; the file and archive -n must hold
# what the model says.
. "$(dirname "$0")/lib.sh"
export USER=tester
command -v db5.3_load >/dev/null && command -v db5.3_dump >/dev/null ||
    missing "db5.3_dump, db5.3_load (db5.3-util)"

# 30 takes in January by bo, cy and dee (i % 3: bo, cy, dee); bo's L3
# voided; bo and cy paid, dee (no payment reference) failed.
mscart init -d db >/dev/null 2>&1
python3 - >p1 <<'PY'
import json
def out(o): print(json.dumps(o, separators=(",", ":")))
out({"type": "product", "sku": "cola", "name": "Cola", "price": 150, "currency": "EUR"})
for u in ("bo", "cy", "dee"):
    r = {"type": "user", "user": u, "name": u.title(), "cards": ["line:" + u], "currency": "EUR"}
    if u != "dee": r["payment"] = "cus_" + u
    out(r)
for i in range(1, 31):
    out({"type": "take", "ts": "2026-01-%02dT10:00:00.000Z" % (1 + i % 28), "robot": "r1",
         "seq": i, "slot": "A1", "sku": "cola", "card": "line:" + ("bo", "cy", "dee")[i % 3]})
PY
mscart apply -d db <p1 >/dev/null
mscart void -d db -m test L3 >/dev/null 2>&1 || echo "void failed" >&2
mscart due -d db 2>/dev/null | python3 -c '
import json, sys
for l in sys.stdin:
    c = json.loads(l)
    print(json.dumps({"type": "charged", "settlement": c["settlement"], "key": c["key"],
                      "amount": c["amount"], "currency": c["currency"], "status": "succeeded",
                      "gateway_id": "ch_" + c["settlement"], "code": None, "message": None}))
' | mscart settle -d db >/dev/null
db5.3_dump -h db -p settlements.db >sett.dump
sid() { grep "\"user\":\"$1\"" sett.dump | sed 's/.*"settlement":"\([^"]*\)".*/\1/'; }
bo=$(sid bo) cy=$(sid cy)
ok "$([ -n "$bo" ] && [ -n "$cy" ] && echo 0 || echo 1)" "bo's and cy's settlements ($bo, $cy)"

# moved DIR FILE: the line numbers and settlements the file holds
moved() {
	zcat "$1" | python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
print(" ".join(str(r["n"]) for r in recs if r["type"] == "line"), "/",
      " ".join(sorted(r["settlement"]["user"] for r in recs if r["type"] == "settlement")))'
}
# case NAME SED: a copy of the ledger, its settlements edited with SED,
# archived: sets DRY and GOT
case_of() {
	cp -a db "$1"
	sed "$2" sett.dump >"$1.dump"
	db5.3_load -h "$1" settlements.db <"$1.dump"
	DRY=$(mscart archive -d "$1" -n -b 0s -o "$T/$1.gz" |
	    python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["lines"], o["settlements"])')
	run mscart archive -d "$1" -b 0s -o "$T/$1.gz"
	is "$RC" 0 "$1: archive exits 0"
	GOT=$(moved "$1.gz")
	run mscart archive -d "$1" -t "$T/$1.gz"
	is "$RC" 0 "$1: the file checks"
}

# as it is: bo's and cy's lines, the void L3, both settlements
case_of plain ''
is "$GOT" "1 3 4 6 7 9 10 12 13 15 16 18 19 21 22 24 25 27 28 30 / bo cy" \
    "as settled: bo's and cy's lines (L3 void) and their settlements"
is "$DRY" "20 2" "archive -n says 20 lines, 2 settlements"

# bo's settlement names dee's unpaid L2 instead of its own L6: it stays,
# and L6, which names it, stays with it; the void L3 and cy's move
case_of one "/\"settlement\":\"$bo\"/s/\"line_ids\":\[6,/\"line_ids\":[2,/"
is "$GOT" "1 3 4 7 10 13 16 19 22 25 28 / cy" \
    "a settlement that does not name its paid line keeps it"
is "$DRY" "11 1" "archive -n counts the same"

# and cy's settlement names L6 too: it stays as well, only L3 moves
case_of two "/\"settlement\":\"$bo\"/s/\"line_ids\":\[6,/\"line_ids\":[2,/;/\"settlement\":\"$cy\"/s/\"line_ids\":\[1,/\"line_ids\":[1,6,/"
is "$GOT" "3 / " "a settlement naming a line that stays, stays"
is "$DRY" "1 0" "archive -n counts the same"
done_testing
