#!/bin/sh
# msdetect on its real libgpiod code path, once for each libgpiod API (v1:
# src/msdetect/gpio_v1.c, v2: gpio_v2.c), against the fake libgpiod for
# that API (tests/fakegpiod.c, tests/fakegpiod2.c, LD_PRELOADed): request
# flags, presence, pulse and door lines, a bounce storm, simultaneous
# edges, sessions (identify, second card, door, timeout), SIGHUP reload
# (good and bad), stdin EOF, SIGTERM and -T.  Chips, errors, debounce
# and timestamps are msdetect-chips.t.
. "$(dirname "$0")/lib.sh"

. "$MS_TOP/tests/msdetect.sh"
msdetect_need_apis
fake() { env LD_PRELOAD="$FAKE" FAKEGPIOD_LOG="$PWD/gpio.log" "$@"; }

ALICE='{"type":"identify","ts":"2026-11-28T11:00:00.000Z","card":"felica:0102030405060708"}'
BOB='{"type":"identify","ts":"2026-11-28T11:00:09.000Z","card":"iso14443a:04A1B2C3D4E5F6"}'
A=felica:0102030405060708
B=iso14443a:04A1B2C3D4E5F6

gpio_suite() {
cat >plan <<'X'
chip gpiochip0
default pull-up active-low
line 3 A1 cola presence
line 4 A2 water presence
line 5 B1 crisps pulse debounce=5
line 8 C1 gum presence pull-down active-high
door 7
X

# --- without the fake there is no chip on this machine
run msdetect -c plan
is "$RC" 1 "no GPIO chip: exit 1"
like "$ERR" '^msdetect: plan:1: gpiochip0: ' "no GPIO chip: the chip is named"

# --- a timed script: flags, kinds, a bounce storm, simultaneous edges
python3 - >script <<'X'
print("level 3 low\nlevel 4 low\nlevel 8 high")
print("0.30 7 falling")			# door opens
print("0.40 3 rising")			# A1 taken
for i in range(301):			# A2 taken, with 300 bounces in 6 ms
    print("%.6f 4 %s" % (0.5 + i * 0.00002, "rising" if i % 2 == 0 else "falling"))
print("0.80 3 falling")			# A1 put back and C1 taken at once
print("0.80 8 falling")
print("1.00 5 falling\n1.01 5 rising")	# one item drops past B1
print("1.20 7 rising")			# door closes
X
echo "$ALICE" >in
fake FAKEGPIOD_SCRIPT=script msdetect -T 1 -c plan <in >out 2>err
is "$?" 0 "-T: exits 0 once stdin is over and the lines are idle"
is "$(cat err)" "" "nothing on stderr"
is "$(grep '^request' gpio.log | sort)" "request 3,4,5,7 flags=active-low,pull-up consumer=msdetect chip=gpiochip0
request 8 flags=pull-down consumer=msdetect chip=gpiochip0" "lines requested with the planogram's bias and active-low"
is "$(grep -c '^release' gpio.log)" 1 "lines released at exit"
is "$(summ <out)" "identify card=$A
door state=open
take slot=A1 sku=cola card=$A
take slot=A2 sku=water card=$A
return slot=A1 sku=cola card=$A
take slot=C1 sku=gum card=$A
take slot=B1 sku=crisps card=$A
door state=closed
session-end card=$A reason=door takes=4 returns=1" \
    "presence, pulse and door; the bounce storm is one take; simultaneous edges each once"

# --- session timeout
printf 'level 3 low\nlevel 4 low\n0.10 3 rising\n0.90 4 rising\n' >script2
fake FAKEGPIOD_SCRIPT=script2 msdetect -t 0.4 -T 1 -c plan <in >out2 2>err2
is "$(summ <out2)" "identify card=$A
take slot=A1 sku=cola card=$A
session-end card=$A reason=timeout takes=1 returns=0
take slot=A2 sku=water
alarm slot=A2 sku=water reason=take-without-identify" \
    "-t: the session times out; the later take has no card and an alarm"

# --- live: stdin and edges at moments the test chooses
mkfifo sin gin
printf 'level 3 low\nlevel 4 low\nlevel 8 high\n' >levels
# the child opens the FIFO itself (a redirection on bg would block here)
bg sh -c 'exec env LD_PRELOAD="$1" FAKEGPIOD_LOG="$PWD/gpio.log" \
    FAKEGPIOD_FIFO="$PWD/gin" FAKEGPIOD_SCRIPT=levels msdetect -v -c plan \
    <sin >live.out 2>live.err' sh "$FAKE"
pid=$BG_PID
exec 3>sin
if [ "$API" = 1 ]; then
	ready='ready: 5 lines, libgpiod 1\.6\.3-fakegpiod \(v1 API\), debounced by the kernel: 0, by msdetect: 5$'
else
	ready='ready: 5 lines, libgpiod 2\.2\.1-fakegpiod \(v2 API\), debounced by the kernel: 5, by msdetect: 0$'
fi
wait_line live.err "$ready"
ok $? "readiness line on stderr (-v) names the API and the kernel's debounce"
echo "$ALICE" >&3
wait_line live.out '"identify"'
ok $? "identify passed through at once"
echo "3 rising" >gin
wait_line live.out '"take".*"A1"'
ok $? "live edge: take"
echo "$BOB" >&3
wait_line live.out '"session-end".*"identify"'
ok $? "another card's identify ends the session"
echo "4 rising" >gin
wait_line live.out '"take".*"A2"'
ok $? "take in the second session"

# SIGHUP with a good file: a new sku for A2, a new line 9
sed 's/A2 water/A2 water-big/' plan >plan.new
echo "line 9 D1 mints presence" >>plan.new
cp plan plan.orig
mv plan.new plan
kill -HUP "$pid"
wait_line live.err 'reloaded, 6 lines'
ok $? "SIGHUP reloads a good planogram"
echo "4 falling" >gin
wait_line live.out '"return".*"water-big"'
ok $? "after the reload the new sku is used"
echo "9 falling" >gin
wait_line live.out '"return".*"D1"'
ok $? "after the reload a new line is watched"
is "$(grep -c '^request.*9' gpio.log)" 1 "the new line was requested"

# SIGHUP with a bad file: the old one stays
cp plan plan.good
echo "line 12 E1 x weight" >>plan
kill -HUP "$pid"
wait_line live.err 'plan:9: unknown sensor kind "weight"'
ok $? "a bad planogram is refused with FILE:LINE"
wait_line live.err 'not reloaded, keeping the planogram in use'
ok $? "and the one in use is kept"
echo "4 rising" >gin
wait_line live.out '"take".*"water-big"'
ok $? "edges still use the kept planogram"

echo "7 falling" >gin
wait_line live.out '"state":"open"'
ok $? "door open"
echo "7 rising" >gin
wait_line live.out '"session-end".*"door"'
ok $? "door close ends the session"

# EOF on stdin: sensors are still watched
exec 3>&-
wait_line live.out '"type":"door","ts":"[^"]*","state":"closed"'
echo "3 falling" >gin
wait_line live.out '"return".*"A1"'
ok $? "after EOF on stdin the sensors are still watched"
kill -TERM "$pid"
wait "$pid"
is "$?" 0 "SIGTERM: exit 0"
is "$(summ <live.out)" "identify card=$A
take slot=A1 sku=cola card=$A
session-end card=$A reason=identify takes=1 returns=0
identify card=$B
take slot=A2 sku=water card=$B
return slot=A2 sku=water-big card=$B
return slot=D1 sku=mints card=$B
take slot=A2 sku=water-big card=$B
door state=open
door state=closed
session-end card=$B reason=door takes=2 returns=2
return slot=A1 sku=cola" "the whole live session, each event once, in order"
}

for api in $GPIOD_APIS; do
	msdetect_api "$api"
	gpio_suite
done
done_testing
