#!/bin/sh
# bench/replication.sh: the ledger replicated over three sites on
# 127.0.0.1.  Rows: figure, ours, peer, ratio, target, met (see bench/run).
#  - ingest: 20k take events through mscart apply (1000 a transaction,
#    full sync) on the master of a three-site group whose commits wait
#    for a quorum, against the same on a single-site ledger (the peer);
#    the ratio is the group's rate over the single site's.
#  - failover: the master's replication process is SIGKILLed; the time
#    until another site says it is the master, and until a take sent to
#    it is acknowledged (its commit acknowledged by a quorum).
# No target is set for these: they are measurements ("-").
set -u
top=${MS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
MS_TOP=$top
export MS_TOP
say() { echo "bench replication: $*" >&2; }

# tests/lib.sh: the temp dir ($T, the cwd), spawn, wait_line, free_port
. "$top/tests/lib.sh"

N=${BENCH_N:-20000}
USERS=1000
python3 - $N $USERS <<'PY'
import json, sys
n, users = int(sys.argv[1]), int(sys.argv[2])
with open("setup", "w") as o:
    o.write('{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}\n')
    for u in range(users):
        o.write(json.dumps({"type": "user", "user": "u%d" % u, "name": "User %d" % u,
            "cards": ["iso14443a:%08X" % (0x20000000 + u)]}, separators=(",", ":")) + "\n")
with open("events", "w") as o:
    for i in range(n):
        o.write(json.dumps({"type": "take", "ts": "2026-11-28T10:00:00.000Z",
            "robot": "r1", "seq": i + 1, "slot": "a%d" % (i % 20), "sku": "cola",
            "card": "iso14443a:%08X" % (0x20000000 + i % users)},
            separators=(",", ":")) + "\n")
PY

now() { date +%s.%N; }
rate() {	# rate COUNT START END
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%d", (b > a ? n / (b - a) : 0) }'
}
ms_between() {	# ms_between START END
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'
}
applied() {	# applied FILE: how many replies say applied
	grep -c '"status":"applied"' "$1"
}

say "single site: $N takes"
mscart init -d single && mscart apply -d single <setup >/dev/null ||
    { say "single-site setup failed"; exit 1; }
t0=$(now)
mscart apply -d single <events >single.out
t1=$(now)
[ "$(applied single.out)" = $N ] || { say "single site: not all applied"; exit 1; }
single=$(rate $N "$t0" "$t1")

say "three sites"
P1=$(free_port) P2=$(free_port) P3=$(free_port)
mscart init -d a -s 127.0.0.1:$P1 -c &&
    mscart init -d b -s 127.0.0.1:$P2 -p 127.0.0.1:$P1 -p 127.0.0.1:$P3 &&
    mscart init -d c -s 127.0.0.1:$P3 -p 127.0.0.1:$P1 -p 127.0.0.1:$P2 ||
    { say "init failed"; exit 1; }
for s in a b c; do
	spawn /dev/null /dev/null group.err mscart replicate -d $s
	eval "PID_$s=\$BG_PID"
done
wait_line group.err "a: this site is the master" 60 &&
    wait_line group.err "b: in step with the master" 60 &&
    wait_line group.err "c: in step with the master" 60 ||
    { say "the group did not form"; exit 1; }
mscart apply -d a <setup >/dev/null || { say "group setup failed"; exit 1; }

say "group: $N takes through the master"
t0=$(now)
mscart apply -d a <events >group.out
t1=$(now)
[ "$(applied group.out)" = $N ] || { say "group: not all applied"; exit 1; }
group=$(rate $N "$t0" "$t1")
ratio=$(awk -v a="$group" -v b="$single" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
printf 'replication: ingest, 3-site quorum vs single (events/s)\t%s\t%s\t%s\t-\t-\n' \
    "$group" "$single" "$ratio"

say "failover: SIGKILL the master"
printf '{"type":"take","ts":"2026-11-28T10:00:00.000Z","robot":"r2","seq":1,"slot":"a1","sku":"cola","card":"iso14443a:20000000"}\n' >one
t0=$(now)
kill -KILL "$PID_a"
wait_line group.err "(b|c): this site is the master" 60 ||
    { say "no new master"; exit 1; }
t1=$(now)
if grep -q "b: this site is the master" group.err; then new=b; else new=c; fi
# a take sent after the election until it is acknowledged (a first try
# may be answered "retry" while the third site catches up with the new
# master, and then "duplicate": on a quorum either way)
while :; do
	mscart serve -d $new --role robot:r2 <one >one.out 2>/dev/null
	grep -Eq '"status":"(applied|duplicate)"' one.out && break
	[ "$(ms_between "$t0" "$(now)")" -lt 60000 ] ||
	    { say "no take applied: $(cat one.out)"; exit 1; }
	sleep 0.05
done
t2=$(now)
printf 'replication: failover, SIGKILL to new master elected (ms)\t%s\t-\t-\t-\t-\n' \
    "$(ms_between "$t0" "$t1")"
printf 'replication: failover, SIGKILL to a take acknowledged (ms)\t%s\t-\t-\t-\t-\n' \
    "$(ms_between "$t0" "$t2")"
kill -TERM "$PID_b" "$PID_c"
wait "$PID_b" "$PID_c" 2>/dev/null
exit 0
