#!/bin/sh
# mscart(1), archive (issue 15): settled history moves to a gzip'd NDJSON
# file and out of the ledger.  A ledger with paid, void, open, declined,
# credited and review lines is archived before a time taken between its
# two phases; an independent model of the scenario says what the file
# must hold.  report and every cart stay the same, the audit entry
# checks the file (archive -t), a tampered file fails, the .db files
# shrink, a run killed midway is finished by the next one, and a client
# of a replication group refuses.
. "$(dirname "$0")/lib.sh"
# summary FILE: an archive's lines (their events) and settlements (their
# users), as the model prints them
summary() {
	zcat "$1" | python3 -c 'import json, sys
recs = [json.loads(l) for l in sys.stdin]
lines = sorted(r["line"]["event"] for r in recs if r["type"] == "line")
print("lines", len(lines))
print("events", " ".join(lines))
print("settlements", " ".join(sorted(r["settlement"]["user"] for r in recs if r["type"] == "settlement")))'
}
export USER=tester

# build DIR N: phase 1 (N takes in January, by bo, cy, dee, ed and an
# unknown card; one of bo's voided; bo and cy paid, ed declined, dee has
# no payment reference; one of cy's paid lines refunded), the time B,
# then phase 2 (takes in February, cy's paid after B, bo's left open).
build() {
	d=$1 n=$2
	mscart init -d "$d" >/dev/null 2>&1
	python3 - "$n" >"$d.p1" <<'PY'
import json, sys
n = int(sys.argv[1])
def out(o): print(json.dumps(o, separators=(",", ":")))
out({"type": "product", "sku": "cola", "name": "Cola", "price": 150, "currency": "EUR"})
out({"type": "product", "sku": "chips", "name": "Chips", "price": 90, "currency": "EUR"})
for u, pay in (("bo", "cus_bo"), ("cy", "cus_cy"), ("dee", None), ("ed", "cus_ed")):
    r = {"type": "user", "user": u, "name": u.title(), "cards": ["line:" + u], "currency": "EUR"}
    if pay: r["payment"] = pay
    out(r)
users = ["bo", "cy", "dee", "ed", "stranger"]
for i in range(1, n + 1):
    out({"type": "take", "ts": "2026-01-%02dT10:%02d:%02d.000Z" % (1 + i % 28, i // 60 % 60, i % 60),
         "robot": "r%d" % (1 + i % 2), "seq": i, "slot": "A1",
         "sku": "cola" if i % 3 else "chips", "card": "line:" + users[i % 5]})
PY
	mscart apply -d "$d" -b 500 <"$d.p1" >/dev/null
	# the first of bo's lines is voided (bo's takes: i % 5 == 0)
	mscart void -d "$d" -m test L5 >/dev/null 2>&1 || echo "void failed" >&2
	mscart due -d "$d" >"$d.due" 2>/dev/null
	python3 - "$d.due" >"$d.charged" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    c = json.loads(l)
    st = "declined" if c["user"] == "ed" else "succeeded"
    print(json.dumps({"type": "charged", "settlement": c["settlement"], "key": c["key"],
                      "amount": c["amount"], "currency": c["currency"], "status": st,
                      "gateway_id": "ch_" + c["settlement"], "code": None, "message": None}))
PY
	mscart settle -d "$d" <"$d.charged" >/dev/null
	# cy's first take (i = 1) is paid; its refund credits it
	mscart refund -d "$d" -m test L1 >/dev/null 2>&1 || echo "refund failed" >&2
	python3 -c 'import datetime; t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(milliseconds=2); print(t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000))' >"$d.B"
	python3 - "$n" >"$d.p2" <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n + 1, n + 21):
    u = "bo" if i % 2 else "cy"
    print(json.dumps({"type": "take", "ts": "2026-02-10T10:00:%02d.000Z" % (i % 60),
                      "robot": "r1", "seq": i, "slot": "A1", "sku": "cola", "card": "line:" + u}))
PY
	mscart apply -d "$d" <"$d.p2" >/dev/null
	mscart due -d "$d" -u cy >"$d.due2" 2>/dev/null
	python3 - "$d.due2" <<'PY' | mscart settle -d "$d" >/dev/null
import json, sys
for l in open(sys.argv[1]):
    c = json.loads(l)
    print(json.dumps({"type": "charged", "settlement": c["settlement"], "key": c["key"],
                      "amount": c["amount"], "currency": c["currency"], "status": "succeeded",
                      "gateway_id": "ch_" + c["settlement"], "code": None, "message": None}))
PY
}

# state DIR: what must not change: every report, every cart
state() {
	for by in product robot user day month; do
		mscart report -d "$1" -b "$by"
	done
	mscart report -d "$1" -c -b user
	for u in bo cy dee ed; do mscart show -d "$1" "$u"; echo; done
	mscart show -d "$1" line:stranger; echo
}
dbsize() { cat "$1"/lines.db "$1"/owners.db "$1"/settlements.db "$1"/audit.db | wc -c; }

N=3000
build db $N
B=$(cat db.B)
state db >before
mscart report -d db -b day --from 2026-02-01 >feb.before
mscart log -d db >log.before
size0=$(dbsize db)

run mscart archive -d db -n -b "$B" -o a.ndjson.gz
is "$RC" 0 "archive -n exits 0"
ok "$([ ! -e a.ndjson.gz ] && echo 0 || echo 1)" "archive -n writes no file"
dry=$OUT
run mscart archive -d db -b "$B" -o a.ndjson.gz
is "$RC" 0 "archive exits 0"
like "$ERR" "taking it out of the ledger" "archive says what it does on stderr"
printf '%s\n' "$OUT" >record
is "$(jget what <record)" archive "archive prints its audit entry"

# the model: the scenario's takes alone say what moves
python3 - $N "$B" <<'PY' >model
import json, sys
n = int(sys.argv[1])
users = ["bo", "cy", "dee", "ed", "stranger"]
# phase 1: bo's and cy's lines were paid in settlements ended before B,
# bo's L5 voided (it was in no settlement); dee (no payment), ed
# (declined) and the stranger (no user) stay open; cy's refunded L1 is
# still paid (its credit is a new open line).  Phase 2 is after B or
# settled after it.
lines = sorted("r%d:%d" % (1 + i % 2, i) for i in range(1, n + 1) if users[i % 5] in ("bo", "cy"))
print("lines", len(lines))
print("events", " ".join(lines))
print("settlements", "bo cy")
PY
zcat a.ndjson.gz >a.ndjson
summary a.ndjson.gz >file
is "$(cat file)" "$(cat model)" "the file holds exactly the paid and void lines of phase 1 and their settlements"
python3 - <<'PY' >states
import json
recs = [json.loads(l) for l in open("a.ndjson")]
print(" ".join(sorted(set(r["line"]["state"] for r in recs if r["type"] == "line"))),
      " ".join(sorted(set(r["settlement"]["state"] for r in recs if r["type"] == "settlement"))),
      recs[0]["type"], recs[-1]["type"])
PY
is "$(cat states)" "paid void paid archive end" "only paid and void lines, paid settlements; a header and an end"
is "$(jget lines <<EOF
$dry
EOF
)" "$(sed -n 's/^lines //p' model)" "archive -n counted the same lines"

# the audit entries: those made before B, as log printed them
python3 - "$B" <<'PY' >audit.model
import json, sys
B = sys.argv[1]
print(" ".join(str(json.loads(l)["n"]) for l in open("log.before") if json.loads(l)["ts"] < B))
PY
python3 - <<'PY' >audit.file
import json
ns = []
for l in open("a.ndjson"):
    r = json.loads(l)
    if r["type"] == "audit":
        c = r["record"].get("count", 1) if r["record"]["what"] == "take" else 1
        ns += range(r["n"], r["n"] + c)
print(" ".join(map(str, ns)))
PY
is "$(cat audit.file)" "$(cat audit.model)" "the file holds the audit entries made before B, in order"

state db >after
is "$(cat after)" "$(cat before)" "every report and every cart is the same after the archive"
mscart log -d db >log.after
last=$(tail -n 1 log.after)
is "$(printf '%s\n' "$last" | jget what)" archive "the audit trail ends with the archive entry"
is "$(printf '%s\n' "$last" | jget sha256)" "$(sha256sum <a.ndjson | cut -d' ' -f1)" \
    "which records the sha256 of the uncompressed NDJSON"
is "$(printf '%s\n' "$last" | jget n)" "$(($(tail -n 1 log.before | jget n) + 1))" \
    "and the audit numbers run on"
is "$(head -n 1 log.after | jget n)" "$(($(awk '{print $NF}' audit.model) + 1))" \
    "the log starts after the entries moved"
is "$(mscart report -d db -b day --from 2026-02-01)" "$(cat feb.before)" \
    "a report of a period after the archived lines is the same"
run mscart report -d db --from 2026-01-15
like "$ERR" "cuts into archived lines" "a period that cuts into an archive says so"
run mscart archive -d db -t a.ndjson.gz
is "$RC" 0 "archive -t passes"
like "$ERR" "verified" "and says so"
run mscart verify -d db
is "$RC" 0 "mscart verify finds no problem"
size1=$(dbsize db)
ok "$([ "$size1" -lt $((size0 * 2 / 3)) ] && echo 0 || echo 1)" \
    "the .db files shrank ($size0 to $size1 bytes)"
run mscart archive -d db -b "$B" -o a.ndjson.gz
is "$RC" 1 "an archive is never written over"

# a tampered file: one byte of the NDJSON changed
sed '2s/"price":150/"price":151/' a.ndjson | gzip >t.ndjson.gz
run mscart archive -d db -t t.ndjson.gz
is "$RC" 1 "archive -t fails on a changed byte"
like "$ERR" "sha256" "naming the sha256"
head -c 300 a.ndjson.gz >cut.ndjson.gz
run mscart archive -d db -t cut.ndjson.gz
is "$RC" 1 "archive -t fails on a file cut short"
run mscart archive -d db -t a.ndjson
is "$RC" 1 "archive -t fails on a file that is not gzip"
# archive -t parses what it is given: 300 damaged copies of the file
# (bytes flipped, lines dropped, doubled, swapped, cut, garbage, huge
# numbers, strings for numbers, a 300 KB line, the gzip stream itself
# damaged) are each refused with a message, exit 1, never a crash
mkdir mut
python3 - a.ndjson a.ndjson.gz mut <<'PY'
import gzip, random, sys
src = open(sys.argv[1], "rb").read()
gz = open(sys.argv[2], "rb").read()
lines = src.split(b"\n")[:-1]
rnd = random.Random(7)
def flip(b):
    i = rnd.randrange(len(b)); return b[:i] + bytes([b[i] ^ (1 << rnd.randrange(8))]) + b[i + 1:]
def ls(l): return b"\n".join(l) + b"\n"
def pick(): return rnd.randrange(len(lines))
muts = [
    lambda: flip(src),
    lambda: ls(lines[:pick()] + lines[pick() + 1:]),
    lambda: ls(lines + [lines[pick()]]),
    lambda: ls(sorted(lines, key=lambda _: rnd.random())),
    lambda: src[:rnd.randrange(len(src))],
    lambda: ls(lines[:pick()] + [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 80)))] + lines[pick():]),
    lambda: src.replace(b'"n":', b'"n":99999999999999999999', 1 + rnd.randrange(3)),
    lambda: src.replace(b'"count":', b'"count":-', 1),
    lambda: src.replace(b'"type":"line"', b'"type":7', 1),
    lambda: ls(lines[:1] + [b'{"type":"line","n":1,"line":"' + b"x" * 300000 + b'"}'] + lines[1:]),
    lambda: ls([b"{}"] + lines[1:]),
    lambda: b"",
]
for i in range(300):
    m = muts[i % len(muts)]()
    if m == src:
        m = src + b"{}\n"
    if i % 25 == 24:
        # a damaged stream; a flip of a bit deflate never reads is no damage
        while True:
            d = gz[:10] + flip(gz[10:-8]) + gz[-8:]
            try:
                if gzip.decompress(d) != src:
                    break
            except Exception:
                break
        open("%s/%d.gz" % (sys.argv[3], i), "wb").write(d)
    else:
        open("%s/%d.gz" % (sys.argv[3], i), "wb").write(gzip.compress(m))
PY
: >mut.rc
for f in mut/*.gz; do
	mscart archive -d db -t "$f" >/dev/null 2>mut.err
	echo "$? $(head -c 16 mut.err)" >>mut.rc
done
is "$(sort mut.rc | uniq -c | awk '{print $1, $2, $3, $4}')" "300 1 mscart: archive:" \
    "300 damaged files: each refused, exit 1, with a message"

# a second archive later moves nothing twice: the phase-2 lines were paid
# after B, so with a time after that, cy's phase 2 moves
run mscart archive -d db -b 0s -o b.ndjson.gz
is "$RC" 0 "a second archive"
state db >after2
is "$(cat after2)" "$(cat before)" "the reports and carts are still the same"
run mscart archive -d db -t b.ndjson.gz
is "$RC" 0 "the second file checks"
# the credit of cy's refund went into the phase-2 settlement, paid too
is "$(zcat b.ndjson.gz | grep -c '"type":"line"')" 11 \
    "it holds cy's ten phase-2 lines and the credit they were paid with"
run mscart archive -d db -t a.ndjson.gz
is "$RC" 0 "the first still checks"

# killed midway: the next run finishes it, and the end is the same
build k $N
state k >k.before
# one record a transaction, so the kill lands among them
MSCART_ARCHIVE_TXN=1
export MSCART_ARCHIVE_TXN
spawn /dev/null k.out k.err mscart archive -d k -b "$(cat k.B)" -o k.ndjson.gz
kpid=$BG_PID
unset MSCART_ARCHIVE_TXN
wait_line k.err "taking it out of the ledger"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null
ok "$(grep -q 'done' k.err && echo 1 || echo 0)" "the first run was killed before it was done"
state k >k.mid
is "$(cat k.mid)" "$(cat k.before)" "halfway, reports and carts are as before"
# meanwhile the file's last line (out of the ledger last) is refunded:
# it changed, so it stays, and so does its settlement
zcat k.ndjson.gz | grep '"type":"line"' | tail -n 1 >k.last
lastid=$(jget line.id <k.last)
lastsett=$(jget line.settlement <k.last)
run mscart refund -d k -m late "$lastid"
is "$RC" 0 "a line in the file but not yet out of the ledger is refunded"
state k >k.refunded
run mscart archive -d k -b "$(cat k.B)" -o k.ndjson.gz
is "$RC" 0 "the same command again exits 0"
like "$ERR" "finishing A1" "it finishes the unfinished archive from its file"
state k >k.after
is "$(cat k.after)" "$(cat k.refunded)" "reports and carts are the same at the end"
rec=$(mscart log -d k | grep '"what":"archive"')
is "$(printf '%s\n' "$rec" | jget kept)" "[$(printf '%s' "$lastid" | tr -dc 0-9)]" \
    "the archive entry lists the refunded line as kept"
is "$(printf '%s\n' "$rec" | jget kept_settlements)" "[\"$lastsett\"]" \
    "and its settlement"
is "$(mscart show -d k -a "$(jget line.owner <k.last | sed 's/^u://')" |
    python3 -c 'import json,sys; print(sum(1 for i in json.load(sys.stdin)["items"] if i["id"] == sys.argv[1]))' "$lastid")" \
    1 "the kept line is still in the ledger"
run mscart archive -d k -t k.ndjson.gz
is "$RC" 0 "the file checks"
run mscart verify -d k
is "$RC" 0 "mscart verify finds no problem"
is "$(mscart log -d k | grep -c '"what":"archive"')" 1 "one archive entry"
summary k.ndjson.gz >file
is "$(cat file)" "$(cat model)" "the file holds what the model says"
is "$(mscart show -d k -a cy | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" \
    11 "cy keeps only the ten phase-2 lines and the credit, paid after B"

# on a site of a replication group only the master archives
P1=$(free_port) P2=$(free_port)
mscart init -d ra -s 127.0.0.1:$P1 -c >/dev/null 2>&1 &&
    mscart init -d rb -s 127.0.0.1:$P2 -p 127.0.0.1:$P1 >/dev/null 2>&1
spawn /dev/null ra.out group.err mscart replicate -d ra
wait_line group.err "ra: this site is the master" 60
spawn /dev/null rb.out group.err mscart replicate -d rb
wait_line group.err "rb: in step with the master" 60
ok $? "a group of two: ra master, rb a client in step"
run mscart archive -d rb -b 1d -o rb.ndjson.gz
like "$RC/$ERR" "^75/mscart: archive: rb: this site is not the master; the master is 127.0.0.1:$P1" \
    "archive on a client is refused, naming the master"
ok "$([ ! -e rb.ndjson.gz ] && echo 0 || echo 1)" "and writes no file"
done_testing
