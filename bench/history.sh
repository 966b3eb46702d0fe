#!/bin/sh
# bench/history.sh: costs on a ledger with years of settled history
# (issue 15), each beside the same figure on a fresh ledger.
# Rows: figure, ours, peer, ratio, target, met (see bench/run).
#
# The ledger is built through mscart itself: products and users are
# imported, take events applied in big batches (apply -n: the build is
# not what is measured), and each "month" settled with
#     mscart due | (a "succeeded" charged line per charge) | mscart settle
# so most lines end paid.  A few heavy users (u0...) get 20,000 settled
# lines each.  On the way, at a tenth of HISTORY_LINES (or after the
# first settled month and one open month, when those are more), there is
# a checkpoint: an open month (1-2 takes per user, 5 per heavy user) is
# applied, due and report are timed, and that month is settled too.
# At the end a last open month stays open and everything is measured:
#  - show (whole process) and query (one apply, one line at a time) of
#    u0, with 5 open items and 20,000+ paid lines: median and p95, and
#    the cart checked against the model (exactly the 5 items, total,
#    and show -a every line of the user);
#  - due for all users, report over everything (seconds), and both at
#    the checkpoint, for how they scale;
#  - durable ingest (100k takes, full sync, 1000 a transaction, three
#    rounds alternating with the fresh ledger), measured after the
#    archive below, as a shop that archives runs;
#  - bytes per cart line: the environment's .db files over the lines,
#    against the same lines (with their event and audit rows, the
#    schema of bench/sqlite_peer.c) loaded into SQLite by the sqlite3
#    CLI, on a sample of at most 1M lines; then again after mscart
#    archive moved what was settled before the open month to a file
#    (the .db files and the file over the lines), with the archive's
#    time and peak RSS, report checked the same before and after, and
#    report timed again (the archived lines are summed in meta.db, not
#    read).
# The fresh ledger is the same import and the same last open month.
# HISTORY_LINES (default 10000000), HISTORY_USERS (default 100000, at
# most a tenth of the lines), HISTORY_MONTHS (settled months, default 6),
# HISTORY_KEEP=1 to keep the ledgers.
set -u
top=${MS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${MS_BIN:-$top/bin}
PATH=$bin:$PATH
export LC_ALL=C
N=${HISTORY_LINES:-10000000}
U=${HISTORY_USERS:-100000}
[ "$U" -gt $((N / 10)) ] && U=$((N / 10))
M=${HISTORY_MONTHS:-6}
if [ "$N" -ge 1000000 ]; then H=5; else H=1; fi
HEAVY=20000
w=$(mktemp -d "${TMPDIR:-/tmp}/ms-history.XXXXXX")
# HISTORY_KEEP=1 keeps the directory, to look at the ledger afterwards
[ "${HISTORY_KEEP:-0}" = 1 ] || trap 'rm -rf "$w"' EXIT
cd "$w" || exit 1
say() { echo "bench history: $(date +%T) $*" >&2; }
command -v sqlite3 >/dev/null || { say "sqlite3 missing"; exit 1; }

cat >h.py <<'PY'
"""The bench's input and its model.  Prices are 100 + product number."""
import json, os, random, sys, time

P = 50
def card(u): return "iso14443a:%08X" % (0x10000000 + u)
def out(o): sys.stdout.write(json.dumps(o, separators=(",", ":")) + "\n")

def setup(users):
    for p in range(P):
        out({"type": "product", "sku": "p%d" % p, "name": "Product %d" % p,
             "price": 100 + p, "currency": "EUR"})
    for u in range(users):
        out({"type": "user", "user": "u%d" % u, "name": "User %d" % u,
             "cards": [card(u)], "payment": "cus_%d" % u, "currency": "EUR"})

class Takes:
    """Takes by robot ROBOT from seq FIRST; counts the lines per user
    and, for a sample, writes them as SQLite rows (state paid unless
    open)."""
    def __init__(s, robot, first, ts, seed, sample):
        s.robot, s.seq, s.ts = robot, first, ts
        s.rnd = random.Random(seed)
        s.sample = sample
    def take(s, u, p):
        out({"type": "take", "ts": s.ts, "robot": s.robot, "seq": s.seq,
             "slot": "A1", "sku": "p%d" % p, "card": card(u)})
        s.seq += 1

def month(robot, first, regular, users, heavy, per_heavy, ts, seed):
    """regular takes by random users u<heavy>..., per_heavy by each heavy
    user, in a random order."""
    rnd = random.Random(seed)
    t = Takes(robot, first, ts, seed, None)
    left = [per_heavy] * heavy
    nheavy = per_heavy * heavy
    total = regular + nheavy
    for i in range(total):
        if nheavy and rnd.randrange(total - i) < nheavy:
            u = rnd.choice([h for h in range(heavy) if left[h]])
            left[u] -= 1
            nheavy -= 1
        else:
            u = rnd.randrange(heavy, users)
        t.take(u, rnd.randrange(P))

def openmonth(robot, first, users, heavy, ts, seed):
    """1-2 takes per user, exactly 5 per heavy user (p0, p1, ..., p4)."""
    rnd = random.Random(seed)
    t = Takes(robot, first, ts, seed, None)
    for u in range(users):
        if u < heavy:
            for p in range(5):
                t.take(u, p)
        else:
            for k in range(1 + rnd.randrange(2)):
                t.take(u, rnd.randrange(P))

def ingest(robot, count, users, heavy, ts, seed):
    rnd = random.Random(seed)
    t = Takes(robot, 1, ts, seed, None)
    for i in range(count):
        t.take(rnd.randrange(heavy, users), rnd.randrange(P))

def paid():
    """mspay's answer to each charge: succeeded."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    for l in sys.stdin:
        c = json.loads(l)
        if c.get("type") != "charge":
            continue
        out({"type": "charged", "settlement": c["settlement"], "key": c["key"],
             "amount": c["amount"], "currency": c["currency"],
             "status": "succeeded", "gateway_id": "ch_" + c["settlement"],
             "code": None, "message": None, "ts": now})

def sqlite_rows(files):
    """The takes in files as the peer's rows: events, lines, audit
    (CSV for sqlite3 .import); lines of robot "open*" stay unpaid."""
    import csv
    ev = csv.writer(open("ev.csv", "w"))
    li = csv.writer(open("li.csv", "w"))
    au = csv.writer(open("au.csv", "w"))
    n = 0
    sett = {}
    now = "2026-11-29T10:00:00.000Z"
    for f in files:
        for l in open(f):
            m = json.loads(l)
            n += 1
            e = "%s:%d" % (m["robot"], m["seq"])
            u = int(m["card"][10:], 16) - 0x10000000
            p = int(m["sku"][1:])
            st, s = "unpaid", ""
            if not m["robot"].startswith("open"):
                st = "paid"
                s = sett.setdefault((m["robot"], u), "S%d" % (len(sett) + 1))
            ev.writerow([e, "take"])
            li.writerow([n, "u:u%d" % u, m["sku"], "Product %d" % p, 100 + p,
                         "EUR", m["ts"], m["robot"], m["slot"], e, st, s, m["card"]])
            au.writerow([n, now, "admin", "take", e, n, "u:u%d" % u, 100 + p, "EUR"])
    print(n)

def cart_check(reply, heavy_total):
    c = json.loads(reply)
    ok = (c.get("count") == 5 and len(c.get("items", [])) == 5 and
          c.get("total") == heavy_total and not c.get("more") and
          sorted(i["sku"] for i in c["items"]) == ["p%d" % p for p in range(5)])
    return ok

def latency(dbs, user, runs):
    """show as whole processes, then query lines through one apply per
    ledger, the ledgers in turn (the machine's load sways both alike);
    for each ledger: medians and p95 in ms, and whether every cart was
    exact."""
    import statistics, subprocess
    total = sum(100 + p for p in range(5))
    exact = {d: True for d in dbs}
    ts = {d: [] for d in dbs}
    tq = {d: [] for d in dbs}
    for i in range(runs):
        for d in dbs:
            t = time.monotonic()
            r = subprocess.run(["mscart", "show", "-d", d, user],
                               stdout=subprocess.PIPE, check=True)
            ts[d].append(time.monotonic() - t)
            exact[d] = exact[d] and cart_check(r.stdout, total)
    ap = {d: subprocess.Popen(["mscart", "apply", "-d", d], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE) for d in dbs}
    for i in range(runs * 3):
        for d in dbs:
            q = json.dumps({"type": "query", "id": "q%d" % i, "user": user}) + "\n"
            t = time.monotonic()
            ap[d].stdin.write(q.encode()); ap[d].stdin.flush()
            r = ap[d].stdout.readline()
            tq[d].append(time.monotonic() - t)
            exact[d] = exact[d] and cart_check(r, total)
    for d in dbs:
        ap[d].stdin.close(); ap[d].wait()
    def q95(v): return sorted(v)[int(len(v) * 0.95)] * 1000
    for d in dbs:
        print("%.2f %.2f %.3f %.3f %s" % (statistics.median(ts[d]) * 1000,
              q95(ts[d]), statistics.median(tq[d]) * 1000, q95(tq[d]),
              "yes" if exact[d] else "no"))

def count_all(f, user):
    """show -a of user: how many items."""
    print(len(json.load(open(f))["items"]))

def report_count(f):
    """Takes counted by a report, all groups."""
    print(sum(json.loads(l)["count"] for l in open(f)))

def median(*a):
    import statistics
    print("%.0f" % statistics.median(float(x) for x in a))

cmd = sys.argv[1]
a = sys.argv[2:]
if cmd == "setup": setup(int(a[0]))
elif cmd == "month": month(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]), a[6], int(a[7]))
elif cmd == "open": openmonth(a[0], int(a[1]), int(a[2]), int(a[3]), a[4], int(a[5]))
elif cmd == "ingest": ingest(a[0], int(a[1]), int(a[2]), int(a[3]), a[4], int(a[5]))
elif cmd == "paid": paid()
elif cmd == "sqlite": sqlite_rows(a)
elif cmd == "latency": latency(a[:-2], a[-2], int(a[-1]))
elif cmd == "countall": count_all(a[0], a[1])
elif cmd == "reportcount": report_count(a[0])
elif cmd == "median": median(*a)
PY

now() { python3 -c 'import time; print(time.monotonic())'; }
secs() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$@"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b) if b else '-')" "$@"; }
ge() { python3 -c "import sys; print('yes' if float(sys.argv[1]) >= float(sys.argv[2]) else 'no')" "$@"; }
le() { python3 -c "import sys; print('yes' if float(sys.argv[1]) <= float(sys.argv[2]) else 'no')" "$@"; }
applied() { grep -c '"status":"applied"'; }

# build: apply FILE-or-stdin to DB without waiting for the disk
build() {
	n=$(mscart apply -n -b 10000 -d "$1" | applied)
	say "$1: $n takes applied"
}
# settle everything due in DB; prints the seconds due took
settle_all() {
	t0=$(now)
	mscart due -d "$1" >due.nd || say "due failed"
	t1=$(now)
	python3 h.py paid <due.nd | mscart settle -d "$1" >settled.nd ||
	    say "settle failed"
	say "$1: $(wc -l <due.nd) charges, $(grep -c '"state":"paid"' settled.nd) paid"
	secs "$t0" "$t1" >due.secs
}
report_secs() {
	t0=$(now)
	mscart report -d "$1" >report.nd || say "report failed"
	t1=$(now)
	c=$(python3 h.py reportcount report.nd)
	[ "$c" = "$2" ] || say "$1: report counts $c takes, the model $2"
	secs "$t0" "$t1"
}

say "$N lines, $U users, $H heavy, $M settled months (in $w)"
python3 h.py setup "$U" >setup.nd
mscart import -c -d db setup.nd || { say "import failed"; exit 1; }
mscart import -c -d fresh setup.nd || { say "import failed"; exit 1; }
# The build does not wait for the disk (it is not what is measured):
# the environment's DB_CONFIG says so until the measurements begin.
cp db/DB_CONFIG DB_CONFIG.orig
echo "set_flags DB_TXN_WRITE_NOSYNC" >>db/DB_CONFIG

opn=$((U + U / 2 + H * 5))	# about: the lines of an open month
first=$(( N / 10 ))		# lines at the checkpoint
seq=1
lines=0
heavy_lines=0
# history up to the checkpoint, then an open month, then the rest
# months: NAME REGULAR PER_HEAVY TS
months() {
	a=$(( first - opn ))
	ha=$(( HEAVY / 10 ))
	ra=$(( a - H * ha )); [ $ra -lt 0 ] && ra=0
	echo "hist0 $ra $ha 2025-01-15T10:00:00.000Z"
	echo "open-checkpoint - - 2025-06-30T10:00:00.000Z"
	b=$(( N - first - opn ))
	hb=$(( (HEAVY - ha) / M ))
	rb=$(( (b - H * hb * M) / M )); [ $rb -lt 0 ] && rb=0
	i=1
	while [ $i -le $M ]; do
		echo "hist$i $rb $hb 2025-$(printf %02d $((6 + i)))-15T10:00:00.000Z"
		i=$((i + 1))
	done
}
: >files
months >plan
while read -r name reg ph ts; do
	f=$name.nd
	if [ "$name" = open-checkpoint ]; then
		python3 h.py open "open-cp" "$seq" "$U" "$H" "$ts" 7 >"$f"
	else
		python3 h.py month "$name" "$seq" "$reg" "$U" "$H" "$ph" "$ts" "$seq" >"$f"
		heavy_lines=$((heavy_lines + ph))
	fi
	k=$(wc -l <"$f")
	seq=$((seq + k))
	lines=$((lines + k))
	say "$name: $k takes ($lines in all)"
	build db <"$f"
	echo "$f" >>files
	if [ "$name" = open-checkpoint ]; then
		heavy_lines=$((heavy_lines + 5))
		cp DB_CONFIG.orig db/DB_CONFIG	# measured: durable
		settle_all db
		echo "set_flags DB_TXN_WRITE_NOSYNC" >>db/DB_CONFIG
		cp_due=$(cat due.secs)
		cp_report=$(report_secs db "$lines")
		cp_lines=$lines
		say "checkpoint at $lines lines: due ${cp_due}s, report ${cp_report}s"
		# open-cp is settled: history for the sample
		mv "$f" "hist-cp.nd"; sed -i "s/^$f\$/hist-cp.nd/" files
		sed -i 's/"robot":"open-cp"/"robot":"hist-cp"/' hist-cp.nd
	else
		settle_all db
	fi
done <plan

cp DB_CONFIG.orig db/DB_CONFIG
# the archive below moves what was settled before the last open month
B=$(python3 -c 'import datetime; t = datetime.datetime.now(datetime.timezone.utc); print(t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000))')
say "the open month"
python3 h.py open open "$seq" "$U" "$H" 2026-11-28T10:00:00.000Z 11 >open.nd
lines=$((lines + $(wc -l <open.nd)))
build db <open.nd
build fresh <open.nd
echo open.nd >>files
fresh_lines=$(wc -l <open.nd)

say "show and query of u0 ($heavy_lines paid lines, 5 open)"
mscart show -a -d db u0 >all.json
c=$(python3 h.py countall all.json u0)
[ "$c" = $((heavy_lines + 5)) ] && all_ok=yes || all_ok=no
say "show -a u0: $c items, the model $((heavy_lines + 5))"
python3 h.py latency db fresh u0 200 >lat
{ read -r bs bs95 bq bq95 bex; read -r fs fs95 fq fq95 fex; } <lat
exact=no
[ "$bex" = yes ] && [ "$fex" = yes ] && [ "$all_ok" = yes ] && exact=yes
met() { [ "$(le "$1" 10)" = yes ] && [ $exact = yes ] && echo yes || echo no; }
printf 'history: show u0, %s lines vs fresh (median ms)\t%s\t%s\t%s\t<=10, exact\t%s\n' \
    "$lines" "$bs" "$fs" "$(ratio "$bs" "$fs")" "$(met "$bs")"
printf 'history: show u0, %s lines vs fresh (p95 ms)\t%s\t%s\t%s\t-\t-\n' \
    "$lines" "$bs95" "$fs95" "$(ratio "$bs95" "$fs95")"
printf 'history: query u0 through apply vs fresh (median ms)\t%s\t%s\t%s\t<=10, exact\t%s\n' \
    "$bq" "$fq" "$(ratio "$bq" "$fq")" "$(met "$bq")"
printf 'history: query u0 through apply vs fresh (p95 ms)\t%s\t%s\t%s\t-\t-\n' \
    "$bq95" "$fq95" "$(ratio "$bq95" "$fq95")"
printf 'history: u0 cart exact (5 open, total, show -a)\t%s\t-\t-\tyes\t%s\n' \
    "$exact" "$exact"

say "due for all users"
settle_all fresh
fresh_due=$(cat due.secs)
settle_all db
big_due=$(cat due.secs)
printf 'history: due all %s users, %s lines vs fresh (s)\t%s\t%s\t%s\t-\t-\n' \
    "$U" "$lines" "$big_due" "$fresh_due" "$(ratio "$big_due" "$fresh_due")"
printf 'history: due all users, %s vs %s lines (s)\t%s\t%s\t%s\t-\t-\n' \
    "$lines" "$cp_lines" "$big_due" "$cp_due" "$(ratio "$big_due" "$cp_due")"

say "report over everything"
fresh_report=$(report_secs fresh "$fresh_lines")
big_report=$(report_secs db "$lines")
printf 'history: report, %s lines vs fresh (s)\t%s\t%s\t%s\t-\t-\n' \
    "$lines" "$big_report" "$fresh_report" "$(ratio "$big_report" "$fresh_report")"
printf 'history: report, %s vs %s lines (s)\t%s\t%s\t%s\t-\t-\n' \
    "$lines" "$cp_lines" "$big_report" "$cp_report" "$(ratio "$big_report" "$cp_report")"

# bytes per line before the ingest adds its own
dbbytes() { mscart verify -d "$1" >/dev/null 2>&1; cat "$1"/*.db | wc -c; }
ours_bytes=$(dbbytes db)
ours_l=$(cat db/lines.db db/owners.db db/open.db | wc -c)
for f in db/*.db; do say "$f: $(wc -c <"$f") bytes"; done

# mscart archive: the history settled before the open month out to a
# file; report must print the same before and after
say "archive: what was settled before $B"
reports() { for by in product user month; do mscart report -d db -b $by; done; }
reports >rep.before
t0=$(now)
# its peak RSS (kB) too: what it holds must not grow with the lines
/usr/bin/time -f %M -o archive.rss \
    mscart archive -d db -b "$B" -o "$w/history.ndjson.gz" >archive.out 2>archive.err ||
    { say "archive failed"; cat archive.err >&2; }
t1=$(now)
arch_rss=$(python3 -c "print('%.1f' % ($(tail -n 1 archive.rss) / 1024))" 2>/dev/null || echo -)
arch_secs=$(secs "$t0" "$t1")
reports >rep.after
if cmp -s rep.before rep.after; then
	arch_same=yes
	say "archive: report before and after: the same"
else
	arch_same=no
	say "archive: report before and after DIFFER"
fi
mscart archive -d db -t "$w/history.ndjson.gz" || say "archive -t failed"
arch_file=$(wc -c <"$w/history.ndjson.gz")
ours_after=$(( $(dbbytes db) + arch_file ))
say "archive: ${arch_secs}s, $(zcat "$w/history.ndjson.gz" | grep -c '"type":"line"') lines, file $arch_file bytes"
for f in db/*.db; do say "$f after the archive: $(wc -c <"$f") bytes"; done
say "report over everything, the history archived"
arch_report=$(report_secs db "$lines")
printf 'history: report, %s lines, history archived, vs fresh (s)\t%s\t%s\t%s\t-\t-\n' \
    "$lines" "$arch_report" "$fresh_report" "$(ratio "$arch_report" "$fresh_report")"

say "durable ingest, 3 rounds of 100k takes, the big ledger and the fresh one in turn"
brates=
frates=
for r in 1 2 3; do
	python3 h.py ingest "ing$r" 100000 "$U" "$H" 2026-11-29T10:00:00.000Z "$r" >ing.nd
	for d in db fresh; do
		sync
		t0=$(now)
		n=$(mscart apply -d "$d" <ing.nd | applied)
		t1=$(now)
		[ "$n" = 100000 ] || say "$d: only $n of 100000 applied"
		rt=$(python3 -c "import sys; print('%.0f' % (100000 / (float(sys.argv[2]) - float(sys.argv[1]))))" "$t0" "$t1")
		if [ $d = db ]; then brates="$brates $rt"; else frates="$frates $rt"; fi
	done
done
say "ingest: big$brates; fresh$frates"
b=$(python3 h.py median $brates)
f=$(python3 h.py median $frates)
r=$(python3 -c "import statistics, sys
a, b = sys.argv[1].split(), sys.argv[2].split()
print('%.2f' % statistics.median(float(x) / float(y) for x, y in zip(a, b)))" "$brates" "$frates")
printf 'history: durable ingest, %s lines, history archived, vs fresh (ev/s)\t%s\t%s\t%s\t>=0.80\t%s\n' \
    "$lines" "$b" "$f" "$r" "$(ge "$r" 0.8)"

say "the same lines in SQLite (the peer's schema), a sample of at most 1M"
# the open month and the newest history months up to 1M lines
: >sample
tot=0
for f in $(tac files); do
	k=$(wc -l <"$f")
	[ $tot -gt 0 ] && [ $((tot + k)) -gt 1000000 ] && break
	echo "$f" >>sample
	tot=$((tot + k))
done
sn=$(python3 h.py sqlite $(cat sample))
sqlite3 s.db <<'SQL' >/dev/null
PRAGMA journal_mode=WAL;
CREATE TABLE products(sku TEXT PRIMARY KEY, name TEXT, price INTEGER, currency TEXT);
CREATE TABLE users(user TEXT PRIMARY KEY, name TEXT, currency TEXT);
CREATE TABLE cards(card TEXT PRIMARY KEY, user TEXT);
CREATE TABLE events(id TEXT PRIMARY KEY, type TEXT);
CREATE TABLE lines(id INTEGER PRIMARY KEY, owner TEXT, sku TEXT, name TEXT,
  price INTEGER, currency TEXT, ts TEXT, robot TEXT, slot TEXT, event TEXT,
  state TEXT, settlement TEXT, card TEXT);
CREATE INDEX lines_owner ON lines(owner, id);
CREATE TABLE audit(n INTEGER PRIMARY KEY, ts TEXT, who TEXT, what TEXT,
  event TEXT, line INTEGER, owner TEXT, price INTEGER, currency TEXT);
SQL
s0=$(wc -c <s.db)
sqlite3 s.db <<'SQL' >/dev/null
PRAGMA synchronous=OFF;
.mode csv
.import ev.csv events
.import li.csv lines
.import au.csv audit
PRAGMA wal_checkpoint(TRUNCATE);
SQL
s1=$(wc -c <s.db)
peer=$(python3 -c "print('%.0f' % (($s1 - $s0) / $sn))")
ours=$(python3 -c "print('%.0f' % ($ours_bytes / $lines))")
say "sqlite: $sn lines, $((s1 - s0)) bytes; ours: $lines lines, $ours_bytes bytes"
printf 'history: bytes per cart line, %s lines, before archive\t%s\t%s\t%s\t-\t-\n' \
    "$lines" "$ours" "$peer" "$(ratio "$ours" "$peer")"
ours_a=$(python3 -c "print('%.0f' % ($ours_after / $lines))")
met_a=$(le "$ours_a" "$peer")
[ "$arch_same" = yes ] || met_a=no
printf 'history: bytes per cart line, %s lines, after archive (.db files + archive file)\t%s\t%s\t%s\t<=peer, report same\t%s\n' \
    "$lines" "$ours_a" "$peer" "$(ratio "$ours_a" "$peer")" "$met_a"
printf 'history: archive before the open month (s)\t%s\t-\t-\t-\t-\n' "$arch_secs"
printf 'history: archive before the open month, peak RSS (MB)\t%s\t-\t-\t-\t-\n' "$arch_rss"
# where the bytes are: the lines and their owner indexes alone, against
# the lines table and its index (SQLite's dbstat)
peer_l=$(sqlite3 s.db "SELECT sum(pgsize) FROM dbstat WHERE name IN ('lines', 'lines_owner');")
printf 'history: bytes per cart line, lines and owner index only\t%s\t%s\t%s\t-\t-\n' \
    "$(python3 -c "print('%.0f' % ($ours_l / $lines))")" \
    "$(python3 -c "print('%.0f' % ($peer_l / $sn))")" \
    "$(python3 -c "print('%.2f' % (($ours_l / $lines) / ($peer_l / $sn)))")"
