#!/bin/sh
# msdetect: planogram errors, the -r replay source (paced and -f), stdin
# passed through, debounce, sessions, a planogram with CRLF line ends;
# once with msdetect built for each libgpiod API.  The GPIO path is
# msdetect-gpio.t and msdetect-chips.t.
. "$(dirname "$0")/lib.sh"

. "$MS_TOP/tests/msdetect.sh"
msdetect_need_apis

replay_suite() {
cat >plan <<'X'
# a test robot
chip gpiochip0
default pull-up active-low
line 3 A1 cola presence
line 4 A2 water presence debounce=10
line 5 B1 crisps pulse debounce=5
door 7
X
ALICE='{"type":"identify","ts":"2026-11-28T11:00:00.000Z","card":"felica:0102030405060708"}'

# --- planogram errors: refused at start, FILE:LINE: reason, exit 1
bad() {	# bad DESC EXPECTED_STDERR  (the file is bad.plan)
	check "$1" "" "" "$2" 1 msdetect -c bad.plan -r /dev/null
}
printf 'chip g\nline 3 A1 a presence\nline 3 A2 b presence\n' >bad.plan
bad "duplicate offset" "msdetect: bad.plan:3: offset 3 is already used on line 2"
printf 'chip g\nline 3 A1 a presence\nline 4 A1 b presence\n' >bad.plan
bad "duplicate slot" "msdetect: bad.plan:3: slot A1 is already on line 2"
printf 'chip g\nline 3 A1 a weight\n' >bad.plan
bad "unknown kind" 'msdetect: bad.plan:2: unknown sensor kind "weight" (presence or pulse)'
printf 'chip g\nline 3 A1 presence\n' >bad.plan
bad "missing sku" "msdetect: bad.plan:2: missing sku"
printf 'chip g\nline x3 A1 a presence\n' >bad.plan
bad "bad offset" 'msdetect: bad.plan:2: bad line offset "x3"'
printf 'chip g\nline 3 A1 a presence debounce=2x\n' >bad.plan
bad "bad debounce" 'msdetect: bad.plan:2: debounce "2x" must be 0 to 10000 milliseconds'
printf 'chip g\nline 3 A1 a presence pullup\n' >bad.plan
bad "unknown option" 'msdetect: bad.plan:2: unknown option "pullup"'
printf 'line 3 A1 a presence\n' >bad.plan
bad "no chip" 'msdetect: bad.plan:1: no chip line (e.g. "chip gpiochip0")'
printf 'chip g\ndoor 1\ndoor 2\n' >bad.plan
bad "two doors" 'msdetect: bad.plan:3: a second door (the first is on line 2)'
printf 'chip g\nline 1 A1 a presence\nline 2 A1 b pulse\nline 3 C3 c spiral\n' >bad.plan
bad "every bad line is named" 'msdetect: bad.plan:3: slot A1 is already on line 2
msdetect: bad.plan:4: unknown sensor kind "spiral" (presence or pulse)'
check "missing planogram file" "" "" \
    "msdetect: nosuch: No such file or directory" 1 msdetect -c nosuch -r /dev/null
run msdetect -t soon -c plan -r /dev/null
is "$RC" 2 "a bad -t is a usage error"
like "$ERR" '^msdetect: -t: bad number of seconds "soon"' "a bad -t is named"
run msdetect -r /dev/null
is "$RC" 2 "no -c is a usage error"
like "$ERR" "usage: msdetect" "no -c prints usage"

# --- presence take and return in a session, paced replay
cat >e1 <<'X'
level 3 low
level 4 low
0.00 7 falling
0.05 3 rising
0.10 4 rising
0.15 4 falling
0.20 7 rising
X
echo "$ALICE" >in1
run -i in1 msdetect -c plan -r e1
is "$RC" 0 "replay exits 0 at the end of both inputs"
is "$(printf '%s\n' "$OUT" | summ)" "identify card=felica:0102030405060708
door state=open
take slot=A1 sku=cola card=felica:0102030405060708
take slot=A2 sku=water card=felica:0102030405060708
return slot=A2 sku=water card=felica:0102030405060708
door state=closed
session-end card=felica:0102030405060708 reason=door takes=2 returns=1" \
    "presence: take, take, return in a session; door close ends it"
is "$ERR" "" "nothing on stderr"
# the events are what the wire format wants: a take's ts is its edge's
ts0=$(printf '%s\n' "$OUT" | sed -n 2p | jget ts)
ts1=$(printf '%s\n' "$OUT" | sed -n 3p | jget ts)
like "$ts0" '^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]{8}\.[0-9]{3}Z$' "ts is RFC 3339 UTC with ms"
python3 -c 'import sys,datetime as d
f=lambda s: d.datetime.strptime(s,"%Y-%m-%dT%H:%M:%S.%fZ")
ms=(f(sys.argv[2])-f(sys.argv[1])).total_seconds()*1000
sys.exit(0 if 45 <= ms <= 55 else 1)' "$ts0" "$ts1"
ok $? "ts follow the replayed times (50 ms apart)"

# --- the same, as fast as it can be read (-f): the same events
run -i in1 msdetect -f -c plan -r e1
is "$(printf '%s\n' "$OUT" | summ | tr '\n' ' ')" "identify card=felica:0102030405060708 door state=open take slot=A1 sku=cola card=felica:0102030405060708 take slot=A2 sku=water card=felica:0102030405060708 return slot=A2 sku=water card=felica:0102030405060708 door state=closed session-end card=felica:0102030405060708 reason=door takes=2 returns=1 " \
    "-f gives the same events"

# --- take outside a session: no card, then an alarm
printf 'level 3 low\n0 3 rising\n' >e2
run msdetect -f -c plan -r e2
is "$(printf '%s\n' "$OUT" | summ)" "take slot=A1 sku=cola
alarm slot=A1 sku=cola reason=take-without-identify" "a take with no session has no card and an alarm"

# --- a card token that needs JSON escaping is carried over exactly
printf '%s\n' '{"type":"identify","ts":"2026-11-28T11:00:00.000Z","card":"line:Zo\u00eb \"Z\" \\ x"}' >inq
run -i inq msdetect -f -c plan -r e2
is "$(printf '%s\n' "$OUT" | summ | sed -n 2p)" 'take slot=A1 sku=cola card=line:Zoë "Z" \ x' \
    "the card is escaped in our events as it was in identify"

# --- pulse: each active pulse is one take; no returns
{ echo "0.00 5 falling"; echo "0.01 5 rising"; echo "0.10 5 falling"
  echo "0.11 5 rising"; echo "0.20 5 falling"; echo "0.21 5 rising"; } >e3
run -i in1 msdetect -f -c plan -r e3
is "$(printf '%s\n' "$OUT" | summ | grep -c '^take slot=B1 sku=crisps card=')" 3 "pulse: three pulses, three takes"
is "$(printf '%s\n' "$OUT" | summ | grep -c '^return')" 0 "pulse: no returns"
is "$(printf '%s\n' "$OUT" | tail -n 1 | summ)" \
    "session-end card=felica:0102030405060708 reason=eof takes=3 returns=0" \
    "at the end the open session ends with reason eof"

# --- a bounce storm: 400 edges within 8 ms are one take
python3 -c '
print("level 3 low")
for i in range(400):
    print("%.6f 3 %s" % (1 + i * 0.00002, "rising" if i % 2 == 0 else "falling"))
print("1.009 3 rising")' >storm
for f in "" -f; do
	run -i in1 msdetect $f -c plan -r storm
	is "$(printf '%s\n' "$OUT" | summ | grep -c '^take slot=A1')" 1 "bounce storm is one take ${f:-paced}"
	is "$(printf '%s\n' "$OUT" | grep -c '"type":"return"')" 0 "bounce storm makes no return ${f:-paced}"
done
# a bounce that comes back to where it was is nothing at all
python3 -c '
print("level 3 low")
for i in range(200):
    print("%.6f 3 %s" % (1 + i * 0.00002, "rising" if i % 2 == 0 else "falling"))' >storm2
run -i in1 msdetect -f -c plan -r storm2
is "$(printf '%s\n' "$OUT" | summ | tr '\n' ' ')" "identify card=felica:0102030405060708 session-end card=felica:0102030405060708 reason=eof takes=0 returns=0 " \
    "a bounce that settles back makes no event"

# --- simultaneous takes: every slot reported once
cat >plan8 <<'X'
chip gpiochip0
default pull-up active-low
line 10 S0 p0 presence
line 11 S1 p1 presence
line 12 S2 p2 presence
line 13 S3 p3 presence
line 14 S4 p4 presence
line 15 S5 p5 presence
line 16 S6 p6 presence
line 17 S7 p7 presence
X
{ for o in 10 11 12 13 14 15 16 17; do echo "level $o low"; done
  for o in 10 11 12 13 14 15 16 17; do echo "0.5 $o rising"; done; } >e8
run -i in1 msdetect -f -c plan8 -r e8
is "$(printf '%s\n' "$OUT" | summ | grep '^take' | sort | uniq | wc -l | tr -d ' ')" 8 "8 simultaneous takes, 8 slots"
is "$(printf '%s\n' "$OUT" | grep -c '"type":"take"')" 8 "each reported once"

# --- session timeout (-t): the late take has no card
printf 'level 3 low\nlevel 4 low\n0.1 3 rising\n5.0 4 rising\n' >e4
run -i in1 msdetect -f -t 2 -c plan -r e4
is "$(printf '%s\n' "$OUT" | summ)" "identify card=felica:0102030405060708
take slot=A1 sku=cola card=felica:0102030405060708
session-end card=felica:0102030405060708 reason=timeout takes=1 returns=0
take slot=A2 sku=water
alarm slot=A2 sku=water reason=take-without-identify" "-t: the session times out; a later take is anonymous"

# --- stdin is passed through unchanged and in order, even lines it cannot use
cat >in5 <<'X'
{"type":"identify","ts":"2026-11-28T11:00:00.000Z","card":"felica:0102030405060708"}
{"type":"depart","ts":"2026-11-28T11:00:01.000Z","card":"felica:0102030405060708"}
{ "type" : "anything", "x": [1, 2] }
not json at all
{"type":"identify","card":"felica:0102030405060708"}

{"type":"depart","ts":"2026-11-28T11:00:02.000Z","card":"felica:0102030405060708"}
X
run -i in5 msdetect -c plan -r /dev/null
is "$(printf '%s\n' "$OUT" | grep -v '"session-end"')" "$(cat in5)" "stdin lines passed on unchanged, in order"
is "$RC" 1 "unusable input lines make the exit status 1"
like "$(printf '%s\n' "$ERR" | head -n 1)" '^msdetect: -:4: invalid JSON at column [0-9]+: .* \(passed on, not used\)$' "an unparsable line is named"
is "$(printf '%s\n' "$ERR" | tail -n +2)" 'msdetect: -:5: identify: missing field "ts" (passed on, not used)
msdetect: -:6: empty line (passed on, not used)' "each unusable line is named"

# --- depart ends the session, only for the card in session, unless -D
printf '%s\n' "$ALICE" '{"type":"depart","ts":"2026-11-28T11:00:01.000Z","card":"felica:0000000000000001"}' \
    '{"type":"depart","ts":"2026-11-28T11:00:01.000Z","card":"felica:0102030405060708"}' >in6
run -i in6 msdetect -c plan -r /dev/null
is "$(printf '%s\n' "$OUT" | summ | cut -d' ' -f1,3 | tr '\n' ' ')" "identify depart session-end reason=depart depart " \
    "the card's depart ends its session"
run -i in6 msdetect -d -c plan -r /dev/null
is "$(printf '%s\n' "$OUT" | summ | cut -d' ' -f1,3 | tr '\n' ' ')" "identify depart session-end reason=depart depart " \
    "-d (the default) is still accepted"
run -i in6 msdetect -D -c plan -r /dev/null
is "$(printf '%s\n' "$OUT" | summ | tail -n 1 | cut -d' ' -f1,3)" "session-end reason=eof" \
    "-D: a depart does not end the session"

# --- bad replay lines are named and skipped; the rest is applied
printf 'level 3 low\n0.1 3 up\n0.2 99 rising\n0.3 3 rising\nabc 3 rising\n0.1 3 falling\n' >e6
run msdetect -f -c plan -r e6
is "$ERR" 'msdetect: e6:2: edge must be rising or falling
msdetect: e6:3: line offset 99 is not in the planogram
msdetect: e6:5: bad time "abc" (seconds, like 1.250)
msdetect: e6:6: time goes backwards' "bad replay lines are named"
is "$(printf '%s\n' "$OUT" | summ | head -n 1)" "take slot=A1 sku=cola" "good replay lines still apply"
is "$RC" 1 "bad replay lines make the exit status 1"

# --- a planogram saved with CR LF line ends reads as the same planogram
sed 's/$/\r/' plan >plan.crlf
run -i in1 msdetect -f -c plan.crlf -r e1
is "$(printf '%s\n' "$OUT" | summ | tr '\n' ' ')" "identify card=felica:0102030405060708 door state=open take slot=A1 sku=cola card=felica:0102030405060708 take slot=A2 sku=water card=felica:0102030405060708 return slot=A2 sku=water card=felica:0102030405060708 door state=closed session-end card=felica:0102030405060708 reason=door takes=2 returns=1 " \
    "CR LF planogram: the same events as with LF"
is "$ERR" "" "CR LF planogram: nothing on stderr"
printf 'chip g\r\nline 3 A1 a presence debounce=5\r\nline 4 A2 b weight\r\n' >bad.plan
bad "CR LF planogram: an error names its line, without the CR" \
    'msdetect: bad.plan:3: unknown sensor kind "weight" (presence or pulse)'
printf 'chip g\nline 3 A1 a presence\rline 4 A2 b presence\n' >bad.plan
bad "a CR inside a line is not a line end" \
    'msdetect: bad.plan:2: a carriage return (CR) inside the line: lines end in LF or CR LF'

# --- the demonstration in msdetect(1), on contrib/planogram.example
printf 'level 3 low\nlevel 7 low\n0.0 7 rising\n0.5 3 rising\n2.0 7 falling\n' >demo.edges
echo '{"type":"identify","ts":"2026-11-28T11:00:00.000Z","card":"felica:0123456789ABCDEF"}' >demo.in
run -i demo.in msdetect -f -c "$MS_TOP/contrib/planogram.example" -r demo.edges
is "$(printf '%s\n' "$OUT" | summ)" "identify card=felica:0123456789ABCDEF
door state=open
take slot=A1 sku=cola-350 card=felica:0123456789ABCDEF
door state=closed
session-end card=felica:0123456789ABCDEF reason=door takes=1 returns=0" \
    "the msdetect(1) demonstration works on the example planogram"

# --- a live replay from a FIFO (sensors read elsewhere), with a reload
cp plan plan.r
mkfifo rin sin
bg sh -c 'exec msdetect -v -c plan.r -r rin <sin >r.out 2>r.err'
pid=$BG_PID
exec 4>sin
exec 5>rin
wait_line r.err 'ready: 4 lines, rin'
ok $? "replay from a FIFO: ready"
printf 'level 3 low\n0.0 3 rising\n' >&5
wait_line r.out '"take".*"cola"'
ok $? "replay from a FIFO: an edge as it comes"
sed 's/A1 cola/A1 lemonade/' plan >plan.r
kill -HUP "$pid"
wait_line r.err 'reloaded, 4 lines'
ok $? "replay: SIGHUP reloads"
printf '0.1 3 falling\n' >&5
wait_line r.out '"return".*"lemonade"'
ok $? "replay: the reloaded planogram is used"
exec 4>&- 5>&-
wait "$pid"
is "$?" 0 "replay: both inputs at their end, exit 0"

# --- a closed stdout is a failure
printf 'level 3 low\n0 3 rising\n' >e7
msdetect -f -c plan -r e7 </dev/null 2>err7 >&-
is "$?" 1 "a failed write exits 1"
}

for api in $GPIOD_APIS; do
	msdetect_api "$api"
	replay_suite
done
done_testing
