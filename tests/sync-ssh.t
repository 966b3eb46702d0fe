#!/bin/sh
# mscart record | push over a real OpenSSH server (tests/sshd.sh): the
# link cut at random moments, the server down for a while, push killed
# mid-push, record killed mid-batch.  Afterwards the server must hold
# every event exactly once, in seq order.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/sshd.sh"

sshd_key robot "$MS_BIN/mscart serve --role robot:r7 -d $T/server"
sshd_start || { fail "sshd starts"; done_testing; exit 1; }
SSH=$(sshd_cmd robot)

printf '%s\n' \
    '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' \
    '{"type":"user","user":"bob","name":"Bob","cards":["iso14443a:04A1B2C3"]}' |
    mscart import -c -d server >/dev/null 2>&1
ok $? "server database set up"

python3 -c '
import sys
for i in range(int(sys.argv[1])):
    print("{\"type\":\"take\",\"ts\":\"2026-11-28T11:00:00.000Z\",\"slot\":\"a%d\",\"sku\":\"cola\",\"card\":\"iso14443a:04A1B2C3\"}" % (i % 10))
' 500 >chunk

# in_order LAST: the server's audit trail has r7:1 .. r7:LAST (or, with
# "-", any last seq) as takes, each once, in order.
in_order() {
	mscart log -d server | python3 -c '
import json, sys
want = sys.argv[1]
seqs = []
for l in sys.stdin:
    e = json.loads(l)
    if e.get("what") == "take" and str(e.get("event", "")).startswith("r7:"):
        seqs.append(int(e["event"].split(":")[1]))
n = len(seqs) if want == "-" else int(want)
if seqs == list(range(1, n + 1)):
    print("ok %d" % n)
else:
    dup = len(seqs) - len(set(seqs))
    miss = len(set(range(1, n + 1)) - set(seqs))
    bad = sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
    print("bad: %d takes, %d duplicated, %d missing, %d out of order" %
        (len(seqs), dup, miss, bad))
' "$1"
}

# --- 10k events, the link cut at 20 random moments ---
mkfifo ev rp
bg sh -c 'exec mscart record -r r7 -d robot <ev >rp'
RECORD=$BG_PID
bg sh -c "exec mscart push -r r7 -d robot -b 0.2 -t 20 -- $SSH <rp >acks 2>push.err"
PUSH=$BG_PID
exec 3>ev
# Each cut lands right after the ack of a random event of the chunk in
# flight, so the rest of the chunk is on the wire when the link dies.
i=0
while [ $i -lt 20 ]; do
	cat chunk >&3
	k=$((i * 500 + 1 + $(od -An -N2 -tu2 /dev/urandom) % 450))
	i=$((i + 1))
	wait_line acks "\"event\":\"r7:$k\"" 60 || break
	if [ $((i % 2)) = 0 ]; then
		# the robot's side: its ssh dies
		kill -KILL $(ps -o pid= --ppid "$PUSH") 2>/dev/null
	else
		# the server's side: sshd's session and mscart serve die
		kill -KILL $(sshd_sessions) 2>/dev/null
	fi
done
is "$i" 20 "push reconnected after each of 20 cuts"
exec 3>&-
wait "$RECORD"
is "$?" 0 "record took all 10000 events"
wait "$PUSH"
is "$?" 0 "push delivered the backlog and ended with its input"
is "$(grep -c 'link down' push.err)" 20 "each cut is reported once"
is "$(in_order 10000)" "ok 10000" "the server has the 10000 events exactly once, in order"

# --- the server is down for a while: record goes on, push catches up ---
sshd_stop
bg sh -c 'exec mscart record -r r7 -d robot <ev >rp'
RECORD=$BG_PID
bg sh -c "exec mscart push -r r7 -d robot -b 0.3 -- $SSH <rp >acks2 2>push2.err"
PUSH=$BG_PID
exec 3>ev
cat chunk chunk >&3
wait_line push2.err 'push: offline: ssh exited with status 255' 30
ok $? "push says once that the server cannot be reached"
printf '%s\n' '{"type":"query","id":"q9","user":"bob"}' >&3
wait_line acks2 '"code":"offline"' 30
ok $? "a query while the server is down is answered offline"
cat chunk >&3
sshd_start || fail "sshd comes back"
wait_line push2.err 'push: connected; [0-9]+ events to send' 60
ok $? "push reconnects when the server is back"
exec 3>&-
wait "$RECORD"
wait "$PUSH"
is "$?" 0 "push drained the backlog"
is "$(grep -c 'offline' push2.err)" 1 "the outage is reported once"
is "$(in_order 11500)" "ok 11500" "nothing lost or repeated across the outage"

# --- push killed with SIGKILL mid-push, then started again ---
cat chunk chunk chunk chunk chunk chunk chunk chunk | mscart record -r r7 -d robot >/dev/null
bg sh -c "exec mscart push -r r7 -d robot -- $SSH </dev/null >acks3 2>push3.err"
PUSH=$BG_PID
k=$((11500 + 1 + $(od -An -N2 -tu2 /dev/urandom) % 3500))
wait_line acks3 "\"event\":\"r7:$k\"" 30
ok $? "push is under way (r7:$k acknowledged)"
kill -KILL "$PUSH"
wait "$PUSH" 2>/dev/null
run mscart push -r r7 -d robot -- $SSH
is "$RC" 0 "a new push after the crash delivers the rest"
is "$(in_order 15500)" "ok 15500" "nothing lost or repeated across the crash"

# --- record killed with SIGKILL mid-batch: no seq is handed out twice ---
for i in $(seq 40); do cat chunk; done >big
bg sh -c 'exec mscart record -r r7 -d robot <big >rec.out'
wait_line rec.out '"seq"' 30
kill -KILL "$BG_PID"
wait "$BG_PID" 2>/dev/null
cat chunk | mscart record -r r7 -d robot >rec2.out
first=$(head -n 1 rec2.out | jget seq)
last=$(grep "}$" rec.out | tail -n 1 | jget seq)	# killed mid-line, maybe
ok $([ "$first" -gt "$last" ]; echo $?) "after the crash seq goes on ($last, then $first)"
run mscart push -r r7 -d robot -- $SSH
is "$RC" 0 "push delivers what record stored"
like "$(in_order -)" "^ok [0-9]+$" "seqs are contiguous and each is applied once"

done_testing
