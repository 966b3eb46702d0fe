#!/bin/sh
# msdetect and the GPIO chip, once for each libgpiod API against the fake
# libgpiod for it: a chip named by name, path, number or label; the chips
# there are when none matches; a busy line and an offset the chip does not
# have, named with the planogram's file and line; the kernel's debounce
# taken (v2), refused or ignored (msdetect's own then filters the
# bounces), and never both; event timestamps on CLOCK_MONOTONIC turned
# into the wall-clock ts.
. "$(dirname "$0")/lib.sh"

. "$MS_TOP/tests/msdetect.sh"
msdetect_need_apis

# Three chips, as on a Raspberry Pi 5 whose header pins are on the RP1.
CHIPS="FAKEGPIOD_CHIP=gpiochip0 FAKEGPIOD_LABEL=pinctrl-bcm2711 FAKEGPIOD_LINES=58"
MORE="gpiochip4:pinctrl-rp1:54 gpiochip10:raspberrypi-exp-gpio:8"
# fake CMD...: CMD with the fake libgpiod and its three chips.
# shellcheck disable=SC2086
fake() { env LD_PRELOAD="$FAKE" FAKEGPIOD_LOG="$PWD/gpio.log" $CHIPS \
    FAKEGPIOD_MORE_CHIPS="$MORE" "$@"; }

# now_ms: the wall clock in milliseconds.
now_ms() { date +%s%3N; }
# ts_ms TS: an event's ts (RFC 3339 UTC with ms) in milliseconds.
ts_ms() { python3 -c 'import sys,datetime as d
t=d.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=d.timezone.utc)
print(int(t.timestamp()*1000+0.5))' "$1"; }

# live PLAN [VAR=VALUE...]: msdetect -v on PLAN in the background, edges
# written to the FIFO gin, stdin the FIFO sin (kept open on fd 3), its
# output in live.out and live.err; waits for the readiness line.  No
# reorder window and no margin (-w 0 -a 0): these tests time the
# debounce, and there is no card to attribute to.
live() {
	_plan=$1
	shift
	rm -f sin gin live.out live.err gpio.log
	mkfifo sin gin
	: >live.out
	: >live.err
	bg sh -c 'p=$1; shift; exec env "$@" msdetect -v -T 60 -w 0 -a 0 -c "$p" \
	    <sin >live.out 2>live.err' sh "$_plan" LD_PRELOAD="$FAKE" \
	    FAKEGPIOD_LOG="$PWD/gpio.log" FAKEGPIOD_FIFO="$PWD/gin" $CHIPS \
	    FAKEGPIOD_MORE_CHIPS="$MORE" "$@"
	LIVE_PID=$BG_PID
	exec 3>sin
	wait_line live.err 'ready: '
}
live_stop() {
	exec 3>&-
	kill -TERM "$LIVE_PID"
	wait "$LIVE_PID"
}

chips_suite() {
# --- the chip, named four ways; the lines of the one found are requested
for name in gpiochip4 /dev/gpiochip4 4 pinctrl-rp1; do
	printf 'chip %s\nline 3 A1 cola presence\n' "$name" >plan
	rm -f gpio.log
	check "chip \"$name\" is found" "" "" "" 0 fake msdetect -T 0 -c plan
	is "$(grep '^request' gpio.log)" \
	    "request 3 flags=none consumer=msdetect chip=gpiochip4" \
	    "chip \"$name\": the lines of gpiochip4 are requested"
done
printf 'chip raspberrypi-exp-gpio\nline 7 A1 cola presence\n' >plan
rm -f gpio.log
fake msdetect -T 0 -c plan </dev/null
like "$(grep '^request' gpio.log)" ' chip=gpiochip10$' \
    "a label finds gpiochip10, not gpiochip1"

# --- no chip answers: the chips there are, by name and label
printf '# the robot\nchip gpiochip5\nline 3 A1 cola presence\n' >plan
check "no such chip: the planogram's line and the chips there are" "" "" \
    "msdetect: plan:2: gpiochip5: no such GPIO chip (there are gpiochip0 [pinctrl-bcm2711], gpiochip4 [pinctrl-rp1], gpiochip10 [raspberrypi-exp-gpio])" \
    1 fake msdetect -T 0 -c plan
printf 'chip pinctrl-rp2\nline 3 A1 cola presence\n' >plan
run fake msdetect -T 0 -c plan
like "$ERR" '^msdetect: plan:1: pinctrl-rp2: no such GPIO chip \(there are .*gpiochip4 \[pinctrl-rp1\]' \
    "an unknown label: the chips there are"
printf 'chip /dev/gpiochip9\nline 3 A1 cola presence\n' >plan
run fake msdetect -T 0 -c plan
like "$ERR" '^msdetect: plan:1: /dev/gpiochip9: no such GPIO chip \(there are gpiochip0 ' \
    "an unknown path: the chips there are"
printf 'chip gpiochip0\nline 3 A1 cola presence\n' >plan
check "no chips at all (no fake): said so" "" "" \
    "msdetect: plan:1: gpiochip0: no such GPIO chip (there are no GPIO chips here)" \
    1 msdetect -T 0 -c plan

# --- a request that fails names the planogram's file and line, the chip
# and the offset
cat >plan <<'X'
chip pinctrl-rp1
default pull-up active-low
line 3 A1 cola presence

line 53 A2 water presence
line 70 A3 gum presence
X
: >gpio.log
check "an offset beyond the chip's lines" "" "" \
    "msdetect: plan:6: gpiochip4 line 70: the chip has 54 lines (0-53)" \
    1 fake msdetect -T 0 -c plan
is "$(grep -c '^request' gpio.log)" 0 "an offset beyond the chip's lines: nothing is requested"
printf 'chip gpiochip0\nline 3 A1 cola presence\ndoor 17\nline 4 A2 water presence\n' >plan
: >gpio.log
check "a line another driver holds" "" "" \
    "msdetect: plan:3: gpiochip0 line 17 is busy (held by another driver or process)" \
    1 fake FAKEGPIOD_BUSY=17 msdetect -T 0 -c plan
is "$(grep -c '^request' gpio.log)" 0 "a busy line: nothing is left requested"
run fake FAKEGPIOD_BUSY=40 msdetect -T 0 -c plan
is "$RC" 0 "a busy line the planogram does not use is no matter"

# --- debounce: applied once, by the kernel where it offers it (v2), else
# by msdetect; an event comes debounce after its edge, not twice that
# (the slots start empty: a pulled-up active-low line floats inactive)
cat >plan <<'X'
chip gpiochip0
line 3 A1 cola presence pull-up active-low debounce=1000
X
live plan
ok $? "live: ready"
if [ "$API" = 2 ]; then
	like "$(cat live.err)" ', debounced by the kernel: 1, by msdetect: 0$' \
	    "v2: the kernel takes the debounce, and msdetect adds none"
	is "$(grep -E '^(debounce|clock)' gpio.log)" "debounce 3 1000000us
clock 3 monotonic" "v2: debounce and the monotonic clock are asked for"
else
	like "$(cat live.err)" ', debounced by the kernel: 0, by msdetect: 1$' \
	    "v1: no kernel debounce: msdetect's own"
	is "$(grep -cE '^(debounce|clock)' gpio.log)" 0 "v1: neither debounce nor clock asked for"
fi
w0=$(now_ms)
echo "3 falling" >gin
wait_line live.out '"type":"return"'
ok $? "live: the return comes"
w1=$(now_ms)
took=$((w1 - w0))
[ "$took" -ge 990 ] && [ "$took" -lt 1900 ]
ok $? "the return comes once 1000 ms of debounce are over, not 2000 (took $took ms)"
ts=$(ts_ms "$(grep '"type":"return"' live.out | jget ts)")
[ "$ts" -ge $((w0 - 2)) ] && [ "$ts" -le $((w0 + 300)) ]
ok $? "its ts is when the edge came (ts $ts, edge written at $w0)"
live_stop
is "$?" 0 "live: SIGTERM, exit 0"

# --- timestamps: CLOCK_MONOTONIC, written as the wall clock, in order
printf 'chip gpiochip0\ndefault pull-up active-low debounce=5\nline 3 A1 cola presence\nline 4 A2 water presence\n' >plan
live plan
ok $? "live: ready"
w0=$(now_ms)
for e in "3 falling" "4 falling" "3 rising" "4 rising"; do
	echo "$e" >gin
	# one edge at a time: each settles before the next
	wait_line live.out "$(printf '"%s".*"%s"' \
	    "$(case $e in *falling) echo return ;; *) echo take ;; esac)" \
	    "$(case $e in 3*) echo A1 ;; *) echo A2 ;; esac)")"
done
w1=$(now_ms)
live_stop
is "$(summ <live.out | grep -v '^alarm')" "return slot=A1 sku=cola
return slot=A2 sku=water
take slot=A1 sku=cola
take slot=A2 sku=water" "four edges, four events"
grep -v '"alarm"' live.out | jget ts >ts.list
python3 - "$w0" "$w1" ts.list <<'X'
import sys, datetime as d
lo, hi = int(sys.argv[1]) - 2, int(sys.argv[2])
ms = [int(d.datetime.strptime(l.strip(), "%Y-%m-%dT%H:%M:%S.%fZ")
      .replace(tzinfo=d.timezone.utc).timestamp() * 1000 + 0.5)
      for l in open(sys.argv[3])]
sys.exit(0 if len(ms) == 4 and ms == sorted(ms) and lo <= ms[0] and ms[-1] <= hi else 1)
X
ok $? "each ts is between the first edge and the last event, in order"

# --- the kernel refuses the debounce, or takes it and does not do it:
# msdetect's own debounce filters the bounces
python3 - >storm <<'X'
print("level 3 low")		# active-low: an item in the slot
for i in range(101):		# 100 bounces in 2 ms, ending high: one take
    print("%.6f 3 %s" % (0.2 + i * 0.00002, "rising" if i % 2 == 0 else "falling"))
X
printf 'chip gpiochip0\nline 3 A1 cola presence pull-up active-low debounce=20\n' >plan
for mode in einval ignore; do
	rm -f gpio.log
	fake FAKEGPIOD_DEBOUNCE=$mode FAKEGPIOD_SCRIPT=storm msdetect -v -T 0.5 \
	    -c plan </dev/null >out 2>err
	is "$?" 0 "FAKEGPIOD_DEBOUNCE=$mode: exit 0"
	like "$(head -n 1 err)" ', debounced by the kernel: 0, by msdetect: 1$' \
	    "FAKEGPIOD_DEBOUNCE=$mode: msdetect debounces the line itself"
	is "$(summ <out | tr '\n' ' ')" "take slot=A1 sku=cola alarm slot=A1 sku=cola reason=take-without-identify " \
	    "FAKEGPIOD_DEBOUNCE=$mode: 100 bounces are one take"
	is "$(grep -c '^request' gpio.log)" 1 "FAKEGPIOD_DEBOUNCE=$mode: the lines are requested once"
done
# and with the kernel's debounce (v2), or msdetect's (v1): the same
rm -f gpio.log
fake FAKEGPIOD_SCRIPT=storm msdetect -T 0.5 -c plan </dev/null >out 2>err
is "$(summ <out | tr '\n' ' ')" "take slot=A1 sku=cola alarm slot=A1 sku=cola reason=take-without-identify " \
    "debounce as offered: 100 bounces are one take"
}

for api in $GPIOD_APIS; do
	msdetect_api "$api"
	chips_suite
done
done_testing
