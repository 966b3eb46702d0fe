#!/bin/sh
# bench/mscart.sh: the ledger's speed against SQLite.
# Rows: figure, ours, peer, ratio, target, met (see bench/run).
#  - durable ingest: 100k take events (10k users, 50 products) through
#    mscart apply, 1000 lines per transaction, acks after commit.  The
#    peer is bench/sqlite_peer (built by make bench from
#    bench/sqlite_peer.c): the same NDJSON parsed with jansson, prepared
#    statements, WAL and synchronous=FULL, the same rows (event, cart
#    line with its owner index, audit record), the same 1000-event
#    transactions, duplicates refused, prices looked up, an ack per line
#    after COMMIT.  A second row gives the sqlite3 command-line program
#    doing the same rows from SQL text, for reference.
#  - mscart show USER as a whole process on a 100k-user database, median.
#  - queries per second through one mscart apply.
#  - database size per million cart lines.
set -u
top=${MS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${MS_BIN:-$top/bin}
PATH=$bin:$PATH
export LC_ALL=C
gen=$top/tests/mscart/gen.py
w=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench.XXXXXX")
trap 'rm -rf "$w"' EXIT
cd "$w" || exit 1
say() { echo "bench mscart: $*" >&2; }

build=${MS_BUILD:-$top/build}
peer_bin=$build/bench/sqlite_peer
command -v sqlite3 >/dev/null || { say "sqlite3 missing"; exit 1; }
[ -x "$peer_bin" ] || { say "$peer_bin missing (make bench builds it)"; exit 1; }
say "generating 100k users, 50 products, 100k takes"
python3 "$gen" setup 100000 50 >setup.nd
python3 "$gen" takes r1 1 100000 10000 50 42 >takes.nd 2>/dev/null
python3 "$gen" queries 100000 10000 >queries.nd
# the same work as SQL, in the same batches
python3 - setup.nd takes.nd queries.nd <<'PY'
import json, sys
def q(s): return "'" + s.replace("'", "''") + "'"
with open("schema.sql", "w") as o:
    o.write("""PRAGMA journal_mode=WAL;
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
BEGIN;
""")
    for l in open(sys.argv[1]):
        m = json.loads(l)
        if m["type"] == "product":
            o.write("INSERT INTO products VALUES(%s,%s,%d,%s);\n" % (q(m["sku"]), q(m["name"]), m["price"], q(m["currency"])))
        else:
            o.write("INSERT INTO users VALUES(%s,%s,%s);\n" % (q(m["user"]), q(m["name"]), q(m["currency"])))
            for c in m["cards"]:
                o.write("INSERT INTO cards VALUES(%s,%s);\n" % (q(c), q(m["user"])))
    o.write("COMMIT;\n")
with open("takes.sql", "w") as o:
    o.write("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=FULL;\n")
    for i, l in enumerate(open(sys.argv[2])):
        m = json.loads(l)
        ev = "%s:%d" % (m["robot"], m["seq"])
        if i % 1000 == 0: o.write("BEGIN;\n")
        o.write("INSERT INTO events VALUES(%s,'take');" % q(ev))
        o.write("INSERT INTO lines(owner,sku,name,price,currency,ts,robot,slot,event,state,card) "
                "SELECT 'u:'||c.user,p.sku,p.name,p.price,p.currency,%s,%s,%s,%s,'unpaid',%s "
                "FROM products p, cards c WHERE p.sku=%s AND c.card=%s;"
                % (q(m["ts"]), q(m["robot"]), q(m["slot"]), q(ev), q(m["card"]), q(m["sku"]), q(m["card"])))
        o.write("INSERT INTO audit(ts,who,what,event,line,owner,price,currency) "
                "SELECT strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ','now'),'admin','take',%s,id,owner,price,currency "
                "FROM lines WHERE id=last_insert_rowid();\n" % q(ev))
        if i % 1000 == 999: o.write("COMMIT;\n")
with open("queries.sql", "w") as o:
    for l in open(sys.argv[3]):
        m = json.loads(l)
        o.write("SELECT id,sku,name,price,currency,ts,robot,slot,event,state "
                "FROM lines WHERE owner=%s AND state IN ('unpaid','settling');\n" % q("u:" + m["user"]))
PY

now() { python3 -c 'import time; print(time.monotonic())'; }
rate() { python3 -c "import sys; n,a,b=float(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); print('%.0f' % (n/(b-a)))" "$@"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b) if b else '-')" "$@"; }
ge() { python3 -c "import sys; print('yes' if float(sys.argv[1]) >= float(sys.argv[2]) else 'no')" "$@"; }
le() { python3 -c "import sys; print('yes' if float(sys.argv[1]) <= float(sys.argv[2]) else 'no')" "$@"; }

# data files only (not the log or the shared regions)
dbsize() { mscart verify -d db 2>/dev/null; cat db/*.db | wc -c; }
sqsize() { sqlite3 s.db 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null; wc -c <s.db; }
applied() { n=$(grep -c '"status":"applied"' "$1"); [ "$n" = 100000 ] || say "$2: only $n of 100000 applied"; }
median() { python3 -c "import statistics, sys; print('%.0f' % statistics.median(float(a) for a in sys.argv[1:]))" "$@"; }

# Three rounds, each on freshly set-up databases, mscart, the C peer and
# the sqlite3 CLI in turn; the medians go in the table (the machine is
# shared and noisy, so each round measures all three side by side), and
# the ratio is the median of the rounds' ratios, each of two runs a
# moment apart.
rates=
prates=
crates=
for round in 1 2 3; do
	say "round $round: setting up the databases"
	rm -rf db s.db s.db-wal s.db-shm c.db c.db-wal c.db-shm
	mscart import -c -d db setup.nd || { say "import failed"; exit 1; }
	"$peer_bin" import s.db <setup.nd || { say "sqlite_peer import failed"; exit 1; }
	sqlite3 c.db <schema.sql >/dev/null || { say "sqlite setup failed"; exit 1; }
	ours0=$(dbsize)
	peer0=$(sqsize)
	sync
	say "round $round: durable ingest: mscart apply"
	t0=$(now)
	mscart apply -d db <takes.nd >acks.nd
	t1=$(now)
	applied acks.nd mscart
	rates="$rates $(rate 100000 "$t0" "$t1")"
	say "round $round: durable ingest: sqlite_peer apply"
	t0=$(now)
	"$peer_bin" apply s.db <takes.nd >packs.nd
	t1=$(now)
	applied packs.nd sqlite_peer
	prates="$prates $(rate 100000 "$t0" "$t1")"
	say "round $round: durable ingest: sqlite3 CLI"
	t0=$(now)
	sqlite3 c.db <takes.sql >/dev/null
	t1=$(now)
	crates="$crates $(rate 100000 "$t0" "$t1")"
done
say "ingest rates: mscart$rates; sqlite_peer$prates; sqlite3 CLI$crates"
ours=$(median $rates)
peer=$(median $prates)
cli=$(median $crates)
# median of per-round ratios: RATES PEER_RATES
paired() {
	python3 -c "import statistics, sys
a, b = sys.argv[1].split(), sys.argv[2].split()
print('%.2f' % statistics.median(float(x) / float(y) for x, y in zip(a, b)))" "$1" "$2"
}
r=$(paired "$rates" "$prates")
met=no
[ "$(ge "$ours" 50000)" = yes ] && [ "$(ge "$r" 1.5)" = yes ] && met=yes
printf 'mscart ingest vs C sqlite peer (ev/s, median of 3)\t%s\t%s\t%s\t>=50000, ratio>=1.5\t%s\n' "$ours" "$peer" "$r" "$met"
printf 'mscart ingest vs sqlite3 CLI (ev/s, median of 3)\t%s\t%s\t%s\t-\t-\n' "$ours" "$cli" "$(paired "$rates" "$crates")"

say "show latency, 300 processes each"
python3 - <<'PY' >lat
import os, random, statistics, subprocess, time
def med(cmd):
    ts = []
    rnd = random.Random(3)
    for i in range(300):
        u = "u%d" % rnd.randrange(10000)
        c = [a.replace("USER", u) for a in cmd]
        t = time.monotonic()
        subprocess.run(c, stdout=subprocess.DEVNULL, check=True)
        ts.append(time.monotonic() - t)
    return statistics.median(ts) * 1000
print("%.2f %.2f" % (med(["mscart", "show", "-d", "db", "USER"]),
    med(["sqlite3", "s.db", "SELECT id,sku,name,price,currency,ts,robot,slot,event,state FROM lines WHERE owner='u:USER' AND state IN ('unpaid','settling');"])))
PY
read -r ours peer <lat
printf 'mscart show USER, 100k users (median ms)\t%s\t%s\t%s\t<=10\t%s\n' "$ours" "$peer" "$(ratio "$peer" "$ours")" "$(le "$ours" 10)"

say "queries through one mscart apply"
t0=$(now)
mscart apply -d db <queries.nd >carts.nd
t1=$(now)
ours=$(rate 100000 "$t0" "$t1")
t0=$(now)
sqlite3 s.db <queries.sql >/dev/null
t1=$(now)
peer=$(rate 100000 "$t0" "$t1")
printf 'mscart queries through apply (queries/s)\t%s\t%s\t%s\t>=20000\t%s\n' "$ours" "$peer" "$(ratio "$ours" "$peer")" "$(ge "$ours" 20000)"

# what the 100k takes added, scaled to 1M lines
ours=$(( $(dbsize) - ours0 ))
peer=$(( $(sqsize) - peer0 ))
printf 'mscart database size per 1M cart lines (MB)\t%s\t%s\t%s\t-\t-\n' \
    "$(python3 -c "print('%.0f' % ($ours * 10 / 1e6))")" \
    "$(python3 -c "print('%.0f' % ($peer * 10 / 1e6))")" "$(ratio "$peer" "$ours")"
