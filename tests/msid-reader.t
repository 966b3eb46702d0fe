#!/bin/sh
# msid and reader trouble: unplugged, silent, corrupted frames.  It logs
# each state change once, reconnects with backoff and never exits.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/pn532emu/emu.sh"

[ -x "$MS_BUILD/tests/pn532emu" ] || missing "$MS_BUILD/tests/pn532emu (make check builds it)"
emu_start || { echo "Bail out! pn532emu did not start"; exit 1; }

# No reader yet: msid waits for it.
emu vanish
wait_line "$T/emu.out" '^vanished' 10
LIBNFC_AUTO_SCAN=false LIBNFC_INTRUSIVE_SCAN=false \
    bg msid -d "$EMU_CONN" -H 0.3 -p 0.05 >"$T/id.out" 2>"$T/id.err"
MSID_PID=$BG_PID
wait_line "$T/id.err" 'retrying' 10
ok $? "no reader at start: says so and retries"
emu back
wait_line "$T/id.err" 'reader ready' 10
ok $? "reader plugged in later: msid opens it"
is "$(grep -c 'retrying' "$T/id.err")" 1 "the missing reader was reported once"

# Unplugged with no card, plugged back: reconnect, then cards work.
emu vanish
wait_line "$T/id.err" 'reader lost' 10
ok $? "reader unplugged: logged"
like "$(grep 'reader lost' "$T/id.err")" "^msid: reader lost: $EMU_CONN: " \
    "the message names the reader"
emu back
wait_count "$T/id.err" 'reader ready' 2 10
ok $? "reader back: reconnected"
kill -0 "$MSID_PID"
ok $? "msid still running"
emu card iso14443a 04A1B2C3
wait_line "$T/id.out" '"identify"' 10
ok $? "a card after the reconnect is identified"

# Unplugged while the card stays, back within the hold time: the same visit.
kill -TERM "$MSID_PID"; wait "$MSID_PID"
msid_start -H 3 -p 0.05
wait_line "$T/id.out" '"identify"' 10
emu vanish
wait_line "$T/id.err" 'reader lost' 10
emu back
wait_count "$T/id.err" 'reader ready' 2 10
emu wait 10
wait_count "$T/emu.out" '^waited' 1 10
is "$(jget type <"$T/id.out" | tr '\n' ' ')" "identify " \
    "reader back within the hold time, card still there: no depart, no identify"
emu remove
wait_line "$T/id.out" '"depart"' 10
ok $? "then the card leaves: depart"

# The chip stops answering: lost, then back when it answers again.
emu mute
wait_count "$T/id.err" 'reader lost' 2 10
ok $? "silent reader: logged as lost"
n_retry=$(grep -c 'retrying' "$T/id.err")
emu unmute
wait_count "$T/id.err" 'reader ready' 3 15
ok $? "reader answers again: reconnected"
is "$(grep -c 'retrying' "$T/id.err")" "$n_retry" \
    "reconnect attempts in between are not logged one by one"

# Corrupted answers: an error is logged, msid resynchronises, no crash.
emu corrupt 1
wait_line "$T/emu.out" '^corrupted' 10
wait_count "$T/id.err" 'reader lost' 3 10
ok $? "corrupted frame: error logged"
wait_count "$T/id.err" 'reader ready' 4 10
ok $? "corrupted frame: reader reopened"
emu corrupt 3
wait_count "$T/emu.out" '^corrupted' 4 10
emu card felica 0123456789ABCDEF
wait_count "$T/id.out" '"identify"' 2 15
ok $? "after corrupted frames a card is identified"
kill -0 "$MSID_PID"
ok $? "msid still running after all that"
kill -TERM "$MSID_PID"; wait "$MSID_PID"
is $? 0 "SIGTERM: exit 0"
unlike "$(cat "$T/id.err")" 'AddressSanitizer|runtime error' "no sanitizer reports"

done_testing
