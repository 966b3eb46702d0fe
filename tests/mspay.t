#!/bin/sh
# mspay: the ledger gateway, bad input, options, the key's handling.
. "$(dirname "$0")/lib.sh"

charge() {	# charge SETTLEMENT AMOUNT [CURRENCY [KEY]]
	printf '{"type":"charge","settlement":"%s","user":"ann","customer":"cus_ann","amount":%s,"currency":"%s","key":"%s"}\n' \
	    "$1" "$2" "${3:-EUR}" "${4:-key-$1}"
}

# --- ledger: appended, fsynced, answered; replays answered from the file
{ charge s1 250; charge s2 300 JPY; } >in
run -i in mspay -f ledger.csv
is "$RC" 0 "ledger: exit 0 when every charge is answered"
is "$ERR" "" "ledger: nothing on stderr"
is "$(printf '%s\n' "$OUT" | jget status | sort | uniq -c | tr -s ' ')" " 2 succeeded" \
    "ledger: two charged lines, both succeeded"
is "$(printf '%s\n' "$OUT" | grep '"s2"' | jget amount)/$(printf '%s\n' "$OUT" | grep '"s2"' | jget currency)" \
    "300/JPY" "ledger: amount and currency echoed (JPY as it is)"
is "$(printf '%s\n' "$OUT" | grep '"s1"' | jget key)" "key-s1" "ledger: key echoed"
is "$(sed -n 1p ledger.csv)" "settlement,key,user,customer,amount,currency,description,ts" \
    "ledger: CSV header"
is "$(wc -l <ledger.csv | tr -d ' ')" 3 "ledger: one record per settlement"
id1=$(printf '%s\n' "$OUT" | grep '"s1"' | jget gateway_id)

{ charge s1 250; charge s3 100; } >in2
run -i in2 mspay -f ledger.csv
is "$RC" 0 "ledger rerun: exit 0"
is "$(wc -l <ledger.csv | tr -d ' ')" 4 "ledger rerun: the same key is not appended twice"
is "$(printf '%s\n' "$OUT" | grep '"s1"' | jget gateway_id)" "$id1" \
    "ledger rerun: a replay answers with the first record's id"

charge s1 999 >in3
run -i in3 mspay -f ledger.csv
is "$RC" 1 "ledger: same key, other amount: exit 1"
is "$(printf '%s\n' "$OUT" | jget status)/$(printf '%s\n' "$OUT" | jget code)" \
    "failed/idempotency_error" "ledger: same key, other amount is refused"
is "$(wc -l <ledger.csv | tr -d ' ')" 4 "ledger: the refused charge is not appended"

printf '{"type":"charge","settlement":"d1","user":"ann","customer":"cus_ann","amount":5,"currency":"EUR","key":"k,\\"q","description":"tab, \\"nov\\""}\n' >in4
run -i in4 mspay -f ledger.csv
run -i in4 mspay -f ledger.csv
is "$(grep -c '^"d1"' ledger.csv)" 1 "ledger: keys and descriptions with commas and quotes survive a reload"

# --- bad input: a failed line or an error line, a message naming the line
printf '%s\n' "$(charge ok1 10)" 'not json' \
    '{"type":"charge","settlement":"b1","user":"ann","customer":"c","amount":1.5,"currency":"EUR","key":"kb1"}' \
    '{"type":"charge","settlement":"b2","user":"ann","customer":"c","amount":10,"currency":"EUR","key":"kb2","ammount":1}' \
    '{"type":"settlement","settlement":"b3"}' \
    '{"type":"charge","settlement":"b4","user":"ann","customer":"c","amount":10,"currency":"ZZZ","key":"kb4"}' \
    "$(charge ok2 20)" >bad
run -i bad mspay -f bad.csv
is "$RC" 1 "bad lines: exit 1"
is "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 7 "bad lines: one output line per input line"
like "$ERR" '^mspay: -:2: invalid JSON' "bad lines: stderr names line 2"
like "$ERR" 'mspay: -:3: charge: field "amount" must be an integer' "bad lines: stderr names line 3"
like "$ERR" 'mspay: -:4: charge: unknown field "ammount"' "bad lines: stderr names line 4"
is "$(printf '%s\n' "$OUT" | grep '"b1"' | jget status)/$(printf '%s\n' "$OUT" | grep '"b1"' | jget code)" \
    "failed/invalid" "bad lines: usable settlement and key get a failed charged line"
is "$(printf '%s\n' "$OUT" | grep '"line":2' | jget type)/$(printf '%s\n' "$OUT" | grep '"line":2' | jget code)" \
    "error/invalid" "bad lines: unparseable line gets an error line with its number"
is "$(printf '%s\n' "$OUT" | grep -c '"type":"error"')" 3 \
    "bad lines: no settlement/key/currency to echo: error lines"
is "$(grep -c '"ok[12]"' bad.csv)/$(grep -c '"b[0-9]"' bad.csv)" "2/0" \
    "bad lines: good lines charged, nothing from bad lines"
# every output line is valid wire format (ms-events(5))
printf '%s\n' "$OUT" >bad.out
python3 - bad.out <<'PY'
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    assert o["type"] in ("charged", "error"), o
    if o["type"] == "charged":
        assert set(o) <= {"type","settlement","key","status","amount","currency","gateway_id","code","message","ts"}, o
        assert o["status"] in ("succeeded","declined","failed","unknown")
PY
ok $? "bad lines: output is charged/error lines with known fields"

# --- usage
run mspay -g paypal
is "$RC" 2 "unknown gateway: exit 2"
like "$ERR" "usage: mspay" "unknown gateway: usage"
run mspay -P 0
is "$RC" 2 "-P 0: exit 2"
run mspay -g webhook
is "$RC" 2 "webhook without -u: exit 2"
run mspay -g stripe -u http://pay.example.com
is "$RC" 2 "plain http to another host: refused"
like "$ERR" "https" "plain http: says why"

# --- the key: never from argv, a private file only
secret=sk_test_SECRET_$$_abcdef
printf '%s\n' "$secret" >key
chmod 644 key
charge k1 100 >kin
run -i kin mspay -g stripe -u http://127.0.0.1:9 -K key
is "$RC" 1 "key file readable by others: exit 1"
like "$ERR" "readable by group or others" "key file readable by others: refused"
unlike "$ERR" "$secret" "key file refused: the key is not shown"
chmod 600 key
run -i kin mspay -g stripe -u http://127.0.0.1:9 -K key --connect-timeout 0.5 --retries 0
is "$RC" 75 "gateway down: exit 75 (unknown)"
is "$(printf '%s\n' "$OUT" | jget status)" unknown "gateway down: status unknown"
unlike "$OUT$ERR" "$secret" "gateway down: the key is nowhere in stdout or stderr"
MSPAY_KEY=$secret run -i kin mspay -g stripe -u http://127.0.0.1:9 --retries 0
is "$(printf '%s\n' "$OUT" | jget status)" unknown "MSPAY_KEY works"
unset MSPAY_KEY
run -i kin mspay -g stripe -u http://127.0.0.1:9
is "$RC" 2 "no key at all: exit 2"
like "$ERR" "MSPAY_KEY" "no key at all: says where a key comes from"

# --- progress on stderr when it is a terminal, and only then
i=0
while [ $i -lt 50 ]; do charge g$i 10; i=$((i + 1)); done >prog.in
python3 - <<'PY' >prog.err
import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.Popen(["mspay", "-f", "prog.csv"], stdin=open("prog.in"),
                     stdout=open("prog.out", "w"), stderr=s)
os.close(s)
out = b""
while True:
    try:
        b = os.read(m, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
p.wait()
sys.stdout.write(out.decode(errors="replace").replace("\r", "\n"))
PY
like "$(cat prog.err)" '^mspay: 50/50 done, [0-9]+/s, 0 declined, 0 failed, 0 unknown' \
    "progress on a terminal: done/total, rate, failures"
run -i prog.in mspay -f prog2.csv
is "$ERR" "" "no progress when stderr is not a terminal"

# --- SIGPIPE-free: a closed stdout stops the run and changes the status
{ charge p1 1; charge p2 2; } >pin
python3 -c '
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run(["mspay", "-f", "pipe.csv"], stdin=open("pin"), stdout=w,
                   stderr=open("perr", "w"))
sys.exit(p.returncode)'
is "$?" 1 "closed stdout: exit 1"
like "$(cat perr)" "mspay: nobody reads standard output" "closed stdout: reported"
is "$(grep -c '"p[12]"' pipe.csv 2>/dev/null || echo 0)" 0 "closed stdout: nothing deducted"

done_testing
