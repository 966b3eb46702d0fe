#!/bin/sh
# bench/sync.sh: the robot side of sync.  Rows: figure, ours, peer, ratio,
# target, met (see bench/run).  No peer is named for these, so "-".
#  - record, streamed: 100k take events into mscart record, committed
#    with full sync in group commits of the lines already waiting.
#  - record, one at a time: a driver writes one event and waits for it
#    to come out (after its own synchronous commit): median latency.
#  - backlog drain: the 100k recorded events pushed over ssh on loopback
#    (a throwaway sshd, tests/sshd.sh) to mscart serve, from the start of
#    push (ssh login included) to its exit after the last ack.
set -u
top=${MS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
MS_TOP=$top
export MS_TOP
say() { echo "bench sync: $*" >&2; }

# tests/lib.sh gives the temp dir ($T, the cwd), bg and wait_line that
# tests/sshd.sh needs; it prints nothing by itself.
. "$top/tests/lib.sh"
missing() { say "cannot run, missing: $*"; exit 1; }
. "$top/tests/sshd.sh"

N=100000
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
            "slot": "a%d" % (i % 20), "sku": "cola",
            "card": "iso14443a:%08X" % (0x20000000 + i % users)},
            separators=(",", ":")) + "\n")
PY
mscart import -c -d server <setup >/dev/null || { say "import failed"; exit 1; }

rate() {	# rate COUNT START END
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%d", (b > a ? n / (b - a) : 0) }'
}
met() {	# met VALUE MIN
	awk -v v="$1" -v m="$2" 'BEGIN { print (v >= m ? "yes" : "no") }'
}
now() { date +%s.%N; }

say "record: $N events, streamed"
t0=$(now)
mscart record -r r1 -d robot <events >/dev/null || { say "record failed"; exit 1; }
t1=$(now)
r=$(rate $N "$t0" "$t1")
printf 'sync: record, streamed, full sync (events/s)\t%s\t-\t-\t>= 20000\t%s\n' \
    "$r" "$(met "$r" 20000)"

say "record: 1000 events one at a time"
lat=$(python3 - <<'PY'
import subprocess, time
p = subprocess.Popen(["mscart", "record", "-r", "r2", "-d", "robot"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
line = b'{"type":"door","ts":"2026-11-28T10:00:00.000Z","state":"open"}\n'
t = []
for i in range(1000):
    a = time.monotonic()
    p.stdin.write(line)
    p.stdin.flush()
    p.stdout.readline()
    t.append(time.monotonic() - a)
p.stdin.close()
p.wait()
t.sort()
print("%.2f" % (t[len(t) // 2] * 1000))
PY
)
printf 'sync: record, one event per commit, median (ms)\t%s\t-\t-\t<= 10\t%s\n' \
    "$lat" "$(awk -v v="$lat" 'BEGIN { print (v <= 10 ? "yes" : "no") }')"

say "backlog drain: $N events over ssh"
sshd_key robot "$MS_BIN/mscart serve --role robot:r1 -d $T/server"
sshd_start || { say "sshd did not start"; exit 1; }
t0=$(now)
mscart push -r r1 -d robot -- $(sshd_cmd robot) </dev/null >acks 2>push.err ||
    { say "push failed: $(cat push.err)"; exit 1; }
t1=$(now)
got=$(grep -c '"status":"applied"' acks)
[ "$got" = $N ] || say "only $got of $N applied"
r=$(rate "$got" "$t0" "$t1")
printf 'sync: backlog drain over ssh (events/s)\t%s\t-\t-\t>= 20000\t%s\n' \
    "$r" "$(met "$r" 20000)"
sshd_stop
