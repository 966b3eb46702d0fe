#!/bin/sh
# msid: line scanner input (-l), keyed tokens (-k), options and exits.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/pn532emu/emu.sh"

ids() { jget card <"$T/.out" | tr '\n' ' '; }

# A file of scanned lines: good ones become identify, bad ones are
# reported by path and line and skipped; exit 1 because lines were bad.
long=$(printf '%0200d' 7)
printf 'ABC-123\nABC-123\n\nQR:42 x\r\nbad\001line\n%s\n ab\nZZ9\nABC-123\n' "$long" >scan.txt
run msid -l scan.txt
is "$RC" 1 "bad lines: exit 1"
is "$(ids)" "line:ABC-123 line:QR:42 x line:ZZ9 line:ABC-123 " \
    "good lines in order; CR LF accepted; an immediate repeat within the hold dropped"
is "$(jget type <"$T/.out" | sort -u)" "identify" "only identify lines"
is "$ERR" "msid: scan.txt:3: empty line; skipped
msid: scan.txt:5: not printable ASCII; skipped
msid: scan.txt:6: line longer than 128 bytes; skipped
msid: scan.txt:7: leading or trailing blank; skipped" "each bad line named by file and line"
is "$(grep -cv '^{"type":"identify","ts":"[0-9T:.-]*Z","card":"line:[^"]*"}$' "$T/.out")" 0 \
    "compact identify lines"

printf 'ABC-123\nABC-123\n' >twice.txt
run msid -H 0 -l twice.txt
is "$(ids)" "line:ABC-123 line:ABC-123 " "-H 0: every scan counts"
is "$RC" 0 "all lines good: exit 0"

check "-n stops after COUNT identities" "" "" "" 0 sh -c \
    'printf "A1\nB2\nC3\n" >n.txt; msid -n 2 -l n.txt | wc -l | grep -qx 2'

# A fifo, as a kiosk would write to it: writers come and go.
mkfifo kiosk
bg msid -l kiosk -n 2 >kiosk.out
MSID_PID=$BG_PID
# (written after msid opened it: a fifo open does not block the writer
# once msid holds the other end; before that the writer waits)
printf 'kiosk-1\n' >kiosk
printf 'kiosk-2\n' >kiosk
wait "$MSID_PID"
is $? 0 "fifo: two writers, -n 2, exit 0"
is "$(jget card <kiosk.out | tr '\n' ' ')" "line:kiosk-1 line:kiosk-2 " "fifo: both identities"

# Keyed tokens: HMAC-SHA256 over "tech:UID" with the site key.
printf 'site-secret\n' >key
chmod 600 key
want=$(printf '%s' 'line:ABC-123' | openssl dgst -sha256 -hmac site-secret |
    sed 's/.*= *//' | tr a-f A-F)
run msid -k key -l twice.txt -n 1
is "$(ids)" "hmac:$want " "-k: line token keyed (HMAC-SHA256 with the key file)"
chmod 640 key
run msid -k key -l twice.txt
is "$RC" 1 "-k with a group-readable key file: exit 1"
like "$ERR" '^msid: key: readable by group or others \(mode 640\); chmod 600 it$' \
    "-k: a clear message about the key file mode"
is "$OUT" "" "-k refused: nothing written"
run msid -k nonexistent -l twice.txt
is "$RC" 1 "-k with a missing key file: exit 1"

# Usage errors.
for a in "-n 0" "-n x" "-H -1" "-p 0" "-T abc" "-t a,x" "-t ''" "extra"; do
	eval "run msid $a"
	is "$RC" 2 "msid $a: usage error, exit 2"
done
like "$ERR" '^usage: msid ' "usage on stderr"
run msid -l /nonexistent/scanner
is "$RC" 1 "-l with a missing path: exit 1"
like "$ERR" '^msid: /nonexistent/scanner: No such file' "the path is named"

# Keyed NFC tokens, and -T: exit after the idle time.
if [ -x "$MS_BUILD/tests/pn532emu" ]; then
	emu_start
	chmod 600 key
	msid_start -k key -H 0.1 -p 0.02 -T 1
	emu card iso14443a 04A1B2C3
	wait_line "$T/id.out" '"identify"' 10
	want=$(printf '%s' 'iso14443a:04A1B2C3' | openssl dgst -sha256 -hmac site-secret |
	    sed 's/.*= *//' | tr a-f A-F)
	is "$(jget card <"$T/id.out")" "hmac:$want" "-k: card token keyed over tech:UID"
	unlike "$(cat "$T/id.out")" '04A1B2C3' "the raw UID does not leave msid"
	emu remove
	wait "$MSID_PID"
	is $? 0 "-T: exits 0 after the idle time"
	is "$(jget type <"$T/id.out" | tr '\n' ' ')" "identify depart " \
	    "-T waits while a card is there, exits once idle"
else
	for i in 1 2 3 4; do ok 1 "missing: $MS_BUILD/tests/pn532emu (make check builds it)"; done
fi

# A failed write to stdout is an error; so is a closed stdout.
run sh -c 'msid -H 0 -l twice.txt >/dev/full'
is "$RC" 1 "a failed write to stdout: exit 1"
like "$ERR" 'msid: stdout: No space left' "the failed write is reported"
run sh -c 'msid -H 0 -l twice.txt >&-'
is "$RC" 1 "stdout closed: exit 1"

done_testing
