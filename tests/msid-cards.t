#!/bin/sh
# msid against libnfc's real pn532_uart driver and an emulated PN532:
# every card technology, depart, the hold time, cards in sequence.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/pn532emu/emu.sh"

[ -x "$MS_BUILD/tests/pn532emu" ] || missing "$MS_BUILD/tests/pn532emu (make check builds it)"
emu_start || { echo "Bail out! pn532emu did not start"; exit 1; }

# One card at a time: identify, then depart once it has gone for -H.
msid_start -H 0.2 -p 0.05
ok $? "msid says its reader is ready"
like "$(cat "$T/id.err")" '^msid: reader ready: .*\(pn532_uart:'"$EMU_LINK"'\)$' \
    "readiness line names the connstring"

n=0
for c in "iso14443a 04A1B2C3|iso14443a:04A1B2C3|4-byte UID (MIFARE Classic)" \
    "iso14443a 04112233445566|iso14443a:04112233445566|7-byte UID (Ultralight)" \
    "iso14443a 04112233445566778899|iso14443a:04112233445566778899|10-byte UID, ISO14443-4" \
    "iso14443a 04C0FFEE123456 iso14443-4|iso14443a:04C0FFEE123456|ISO14443-4 card (DESFire-like)" \
    "felica 0123456789ABCDEF|felica:0123456789ABCDEF|FeliCa at 212 and 424 kbps" \
    "felica 0123456789ABCDE0 424|felica:0123456789ABCDE0|FeliCa at 424 kbps only" \
    "iso14443b 11223344|iso14443b:11223344|ISO14443-B"; do
	card=${c%%|*}; rest=${c#*|}; tok=${rest%%|*}; what=${rest#*|}
	n=$((n + 1))
	emu card $card
	wait_count "$T/id.out" '"identify"' $n 10
	ok $? "$what: identify written"
	got=$(grep '"identify"' "$T/id.out" | sed -n "${n}p")
	is "$(printf '%s\n' "$got" | jget card)" "$tok" "$what: token $tok"
	# still there after some presence checks: nothing more written
	emu wait 8
	wait_count "$T/emu.out" '^waited' $n 10
	is "$(lines "$T/id.out")" $((2 * n - 1)) "$what: nothing more while it stays"
	emu remove
	wait_count "$T/id.out" '"depart"' $n 10
	ok $? "$what: depart after removal"
	last=$(tail -n 1 "$T/id.out")
	is "$(printf '%s\n' "$last" | jget card)" "$tok" "$what: depart names the card"
done
is "$(lines "$T/id.out")" $((2 * n)) "one identify and one depart per card"
is "$(grep -cv '^{"type":"\(identify\|depart\)","ts":"[0-9T:.-]*Z","card":"[a-z0-9]*:[0-9A-F]*"}$' "$T/id.out")" \
    0 "every line is a compact identify or depart"
unlike "$(sed 1d "$T/id.err")" . "nothing else on stderr"
kill -TERM "$MSID_PID"; wait "$MSID_PID"
is $? 0 "SIGTERM: exit status 0"

# A card that stays is identified once, however long it stays.
msid_start -H 0.2 -p 0.02
emu card iso14443a 04AABBCC
wait_line "$T/id.out" '"identify"' 10
emu wait 60
wait_line "$T/emu.out" '^waited' 10
emu remove
wait_line "$T/id.out" '"depart"' 10
is "$(jget type <"$T/id.out" | tr '\n' ' ')" "identify depart " \
    "a card in the field for 60 commands is identified once"
kill -TERM "$MSID_PID"; wait "$MSID_PID"

# Re-tap within the hold time: the same visit, no new identify.
msid_start -H 1.5 -p 0.02
emu card felica 00112233445566FF
wait_line "$T/id.out" '"identify"' 10
emu remove
s0=$(grep -c '^select felica:00112233445566FF' "$T/emu.out")
emu card felica 00112233445566FF
wait_count "$T/emu.out" '^select felica:00112233445566FF' $((s0 + 1)) 10
emu remove
wait_line "$T/id.out" '"depart"' 10
ok $? "depart once the card stays away for the hold time"
is "$(jget type <"$T/id.out" | tr '\n' ' ')" "identify depart " \
    "re-tap within the hold time: no second identify, no early depart"

# Re-tap after the hold time: a new visit.
emu card felica 00112233445566FF
wait_count "$T/id.out" '"identify"' 2 10
is "$(jget type <"$T/id.out" | tr '\n' ' ')" "identify depart identify " \
    "re-tap after the hold time: a new identify"

# Another card replaces it at once: depart for the first, identify the second.
emu card iso14443a 04DDEEFF
wait_count "$T/id.out" '"identify"' 3 10
is "$(jget type <"$T/id.out" | tail -n 3 | tr '\n' ' ')" "identify depart identify " \
    "a second card: depart the first at once, then identify the second"
is "$(tail -n 2 "$T/id.out" | jget card | tr '\n' ' ')" \
    "felica:00112233445566FF iso14443a:04DDEEFF " "tokens of both cards in order"
kill -TERM "$MSID_PID"; wait "$MSID_PID"
is $? 0 "exit 0 on SIGTERM with a card in the field"

# -t: only the technologies asked for.
msid_start -t f -H 0.1 -p 0.02 -n 1
emu card iso14443a 04010203
emu card felica 0A0B0C0D0E0F1011
wait "$MSID_PID"
is $? 0 "-n 1: exits 0 after one identity"
is "$(jget card <"$T/id.out")" "felica:0A0B0C0D0E0F1011" "-t f: type A card not polled"

done_testing
