#!/bin/sh
# msdetect: who is charged for each take, by the time things happened and
# not by the order msdetect read them; once for each libgpiod API against
# its fake libgpiod.  Each case is a timeline: the sensors' edges in the
# fake's script (FAKEGPIOD_SCRIPT, stamped with their scripted times), the
# cards on stdin with a ts on the same time line (the fake logs the wall
# clock at the script's time 0).  An independent model (model.py below,
# written from msdetect(1), Sessions) says who should be charged for each
# take, and msdetect's output must say the same, with every line in time
# order.  Cases: msdetect stopped (SIGSTOP) while user A identifies and
# takes and user B identifies and takes, then continued; a stranger's take
# after A's card left (depart, written late) or after A's idle time; takes
# too close to a change of card; a pulse line's take, reported first,
# written after an older presence take.
. "$(dirname "$0")/lib.sh"

. "$MS_TOP/tests/msdetect.sh"
msdetect_need_apis

A=felica:0102030405060708
B=iso14443a:04A1B2C3D4E5F6

cat >"$T/model.py" <<'PY'
# model.py SCRIPT STDIN BASE MARGIN IDLE DEPART: what msdetect should
# write, one summ line per event (tests/msdetect.sh), from msdetect(1):
# a take belongs to the session open at its own time; a session ends at
# another card's identify, its card's depart (DEPART=1), or IDLE seconds
# after its last activity; a take within MARGIN of an identify that ends
# another card's session is nobody's.  Presence lines are pulled up and
# active low: rising is a take, falling a return; on the pulse line B1 a
# falling edge is a take.  Lines the planogram does not have (markers)
# are ignored.  At the end the session ends eof.
import datetime as d, json, sys
script, stdin, base, margin, idle, depart = sys.argv[1:7]
margin, idle = float(margin), float(idle)
base_s, base_ns = base.split(".")
base = int(base_s) + int(base_ns) / 1e9
slots = {3: ("A1", "cola"), 4: ("A2", "water"), 5: ("A3", "tea"),
         6: ("B1", "crisps")}
tl = []		# (time, order, what, data)
for n, l in enumerate(open(stdin)):
    o = json.loads(l)
    t = d.datetime.strptime(o["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=d.timezone.utc).timestamp()
    tl.append((t, n, o["type"], o))
for n, l in enumerate(open(script)):
    w = l.split()
    if not w or w[0] in ("level", "#") or int(w[1]) not in slots:
        continue
    if int(w[1]) == 6 and w[2] == "rising":
        continue	# the end of a pulse
    tl.append((base + float(w[0]), 1000 + n, "take" if w[2] == "rising" or
               int(w[1]) == 6 else "return", slots[int(w[1])]))
tl.sort()
out, cur, takes, returns, last, change = [], None, 0, 0, 0, None
def end(reason):
    global cur
    out.append("session-end card=%s reason=%s takes=%d returns=%d"
               % (cur, reason, takes, returns))
    cur = None
for i, (t, _, what, o) in enumerate(tl):
    if cur is not None and t - last >= idle:
        end("timeout")
    if what == "identify":
        if cur is not None and cur != o["card"]:
            end("identify")
            change = t
        elif cur is None:
            change = None
        if cur is None:
            cur, takes, returns = o["card"], 0, 0
        last = t
        out.append("identify card=" + o["card"])
    elif what == "depart":
        if depart == "1" and cur == o["card"]:
            end("depart")
        out.append("depart card=" + o["card"])
    else:
        slot, sku = o
        near = [u for (u, _, w, p) in tl if w == "identify" and
                p["card"] != cur and t < u <= t + margin]
        who = cur
        if cur is not None and (near or (change is not None and
                                        t - change <= margin)):
            who = "ambiguous"
        if who is None or who == "ambiguous":
            out.append("%s slot=%s sku=%s" % (what, slot, sku))
            if what == "take":
                out.append("alarm slot=%s sku=%s reason=%s" % (slot, sku,
                    "take-ambiguous" if who else "take-without-identify"))
        else:
            out.append("%s slot=%s sku=%s card=%s" % (what, slot, sku, who))
            if what == "take":
                takes += 1
            else:
                returns += 1
            last = t
if cur is not None:
    end("eof")
print("\n".join(out))
PY

# in_order FILE: every line's ts no earlier than the one before
in_order() {
	python3 -c 'import json,sys
ts=[json.loads(l)["ts"] for l in open(sys.argv[1])]
sys.exit(0 if ts == sorted(ts) else 1)' "$1"
}

# ts_at SECONDS: the ts of that moment of the script's time line
ts_at() {
	python3 -c 'import sys,datetime as d
s,ns=sys.argv[1].split(".")
t=int(s)*10**9+int(ns)+round(float(sys.argv[2])*1e9)
print(d.datetime.fromtimestamp(t//10**9,d.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")+"%03dZ"%(t%10**9//10**6))' \
	    "$BASE" "$1"
}
identify_at() {	# identify_at SECONDS CARD: the line, also kept in stdin.log
	printf '{"type":"identify","ts":"%s","card":"%s"}\n' "$(ts_at "$1")" "$2" |
	    tee -a stdin.log >&3
}
depart_at() {
	printf '{"type":"depart","ts":"%s","card":"%s"}\n' "$(ts_at "$1")" "$2" |
	    tee -a stdin.log >&3
}
# until_script SECONDS: wait for the script's time line to pass SECONDS.
# Not a synchronisation: a stall is a length of time, and how much longer
# it lasts changes nothing (the fake's kernel queues edges with their own
# times however late msdetect looks).
until_script() {
	python3 -c 'import sys,time
s,ns=sys.argv[1].split(".")
time.sleep(max(0, int(s)+int(ns)/1e9+float(sys.argv[2])-time.time()))' "$BASE" "$1"
}
# wait_stopped PID: until the kernel says PID is stopped
wait_stopped() {
	timeout 20 sh -c 'until [ "$(cut -d" " -f3 "/proc/$1/stat")" = T ]; do :; done' sh "$1"
}

# start SCRIPT OPTION...: msdetect -v -T 1 on plan with the fake and
# SCRIPT, stdin the FIFO sin on fd 3; waits until the lines are requested
# (the script's time 0 is in gpio.log as BASE).
start() {
	_s=$1
	shift
	rm -f sin out err gpio.log stdin.log
	mkfifo sin
	: >out
	: >err
	: >stdin.log
	spawn sin out err env LD_PRELOAD="$FAKE" FAKEGPIOD_LOG="$PWD/gpio.log" \
	    FAKEGPIOD_SCRIPT="$PWD/$_s" msdetect -v -T 1 "$@" -c plan
	PID=$BG_PID
	exec 3>sin
	wait_line err 'ready: '
	BASE=$(sed -n 's/^script start //p' gpio.log)
}
# finish: end of stdin; msdetect exits once the lines are idle (-T 1)
finish() {
	exec 3>&-
	wait "$PID"
	RC=$?
}
# expect SCRIPT MARGIN IDLE DEPART DESC: msdetect's output is the model's
expect() {
	is "$(summ <out)" "$(python3 "$T/model.py" "$1" stdin.log "$BASE" "$2" \
	    "$3" "$4")" "$5: as the model says"
	in_order out
	ok $? "$5: every line in time order"
	is "$(grep -v -e ': ready: ' -e ' edges, .* events; ' err)" "" \
	    "$5: nothing else on stderr"
	is "$RC" 0 "$5: exit 0"
}

attribution_suite() {
cat >plan <<'X'
chip gpiochip0
default pull-up active-low
line 3 A1 cola presence
line 4 A2 water presence
line 5 A3 tea presence
line 6 B1 crisps pulse debounce=5
X

# --- the stall: A is identified and takes from A1, then B taps and takes
# from A2, all while msdetect is stopped; then it goes on and finds both
# cards and both edges waiting
cat >stall <<'X'
level 3 low
level 4 low
level 5 low
1.300 3 rising
1.900 4 rising
X
start stall
kill -STOP "$PID"
wait_stopped "$PID"
ok $? "stall: msdetect stopped"
identify_at 1.0 "$A"
identify_at 1.6 "$B"
until_script 2.1
kill -CONT "$PID"
finish
is "$(summ <out)" "identify card=$A
take slot=A1 sku=cola card=$A
session-end card=$A reason=identify takes=1 returns=0
identify card=$B
take slot=A2 sku=water card=$B
session-end card=$B reason=eof takes=1 returns=0" \
    "stall: A1's take is A's, A2's is B's, A's session-end says takes:1"
expect stall 0.25 20 1 "stall"

# --- a card is passed on as soon as every edge before it is read, not the
# window later: with a window of 30 s the identify still comes out within
# seconds (the person at the robot sees the cart), and a take just after
# it waits
cat >soon <<'X'
level 3 low
level 4 low
level 5 low
0.100 60 rising
X
start soon -w 30
wait_line gpio.log '^script 0\.100000000 60 '
identify_at 0.1 "$A"
wait_line out '"type":"identify"' 10
ok $? "soon: the identify is written long before the 30 s window"
finish
expect soon 0.25 20 1 "soon"

# --- a pulse line with a shorter debounce: its take, 5 ms after A1's,
# comes out after it (the kernel reports it first where it debounces)
cat >pulse <<'X'
level 3 low
level 4 low
level 5 low
0.500 60 rising
1.300 3 rising
1.305 6 falling
1.315 6 rising
X
start pulse
wait_line gpio.log '^script 0\.500000000 60 '
identify_at 1.0 "$A"
wait_line gpio.log '^script 1\.315000000 6 '
finish
is "$(summ <out | grep '^take' | cut -d' ' -f2)" "slot=A1
slot=B1" "pulse: the takes in the order they happened"
expect pulse 0.25 20 1 "pulse"

# --- a stranger after A's card left: the depart is written late (msid
# writes it its hold time after the card left), after the stranger's
# take; a window of 5 s waits for it
cat >depart <<'X'
level 3 low
level 4 low
level 5 low
0.500 60 rising
1.300 3 rising
1.900 4 rising
2.200 61 rising
X
start depart -w 5
wait_line gpio.log '^script 0\.500000000 60 '
identify_at 1.0 "$A"
wait_line gpio.log '^script 2\.200000000 61 '
depart_at 1.6 "$A"
finish
like "$(summ <out | tr '\n' ' ')" "take slot=A1 sku=cola card=$A session-end card=$A reason=depart takes=1 returns=0 depart card=$A take slot=A2 sku=water alarm slot=A2 sku=water reason=take-without-identify" \
    "depart: the take after A's card left is not A's, and raises the alarm"
expect depart 0.25 20 1 "depart"

# --- the same with -D (a reader the customer taps): the depart does not
# end the session, the idle time (-t 1) does
cat >idle <<'X'
level 3 low
level 4 low
level 5 low
0.500 60 rising
1.300 3 rising
2.600 4 rising
2.800 61 rising
X
start idle -D -t 1
wait_line gpio.log '^script 0\.500000000 60 '
identify_at 1.0 "$A"
depart_at 1.1 "$A"
wait_line gpio.log '^script 2\.800000000 61 '
finish
like "$(summ <out | tr '\n' ' ')" "take slot=A1 sku=cola card=$A session-end card=$A reason=timeout takes=1 returns=0 take slot=A2 sku=water alarm slot=A2 sku=water reason=take-without-identify" \
    "idle: a take after A's idle time is not A's, and raises the alarm"
expect idle 0.25 1 0 "idle"

# --- a change of card: a take 150 ms before B's identify and one 150 ms
# after it could be A's or B's: nobody's, an alarm each; a take well after
# is B's, one well before A's
cat >change <<'X'
level 3 low
level 4 low
level 5 low
1.200 4 rising
1.550 3 rising
1.850 3 falling
1.850 5 rising
2.400 4 falling
X
start change
kill -STOP "$PID"
wait_stopped "$PID"
identify_at 1.0 "$A"
identify_at 1.7 "$B"
until_script 2.5
kill -CONT "$PID"
finish
is "$(summ <out)" "identify card=$A
take slot=A2 sku=water card=$A
take slot=A1 sku=cola
alarm slot=A1 sku=cola reason=take-ambiguous
session-end card=$A reason=identify takes=1 returns=0
identify card=$B
return slot=A1 sku=cola
take slot=A3 sku=tea
alarm slot=A3 sku=tea reason=take-ambiguous
return slot=A2 sku=water card=$B
session-end card=$B reason=eof takes=0 returns=1" \
    "change: takes within 250 ms of the change of card are nobody's"
expect change 0.25 20 1 "change"
# a wider margin (-a 0.6) takes in the A2 take before as well
start change -a 0.6
kill -STOP "$PID"
wait_stopped "$PID"
identify_at 1.0 "$A"
identify_at 1.7 "$B"
until_script 2.5
kill -CONT "$PID"
finish
expect change 0.6 20 1 "-a 0.6"
}

for api in $GPIOD_APIS; do
	msdetect_api "$api"
	attribution_suite
done
done_testing
