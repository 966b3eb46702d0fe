#!/bin/sh
# mspay makes no charge whose answer nobody can read (issue 13, point 9):
# standard output is checked before the first charge and before each one.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

KEY=sk_test_stdout_9876543210
export MSPAY_KEY=$KEY
gwdouble_start --key "$KEY" || exit 1
{
	printf '{"type":"charge","settlement":"o1","user":"ann","customer":"cus_1","amount":250,"currency":"EUR","key":"k-o1"}\n'
	printf '{"type":"charge","settlement":"o2","user":"ann","customer":"cus_2","amount":250,"currency":"EUR","key":"k-o2"}\n'
} >in

# closed_run FILE ARGS...: mspay with a pipe whose reader is gone
closed_run() {
	python3 -c '
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run(sys.argv[1:], stdin=open("in"), stdout=w,
                   stderr=open("closed.err", "w"))
sys.exit(p.returncode)' "$@"
}

mspay -g stripe -u "$GW_URL" <in >/dev/full 2>full.err
is "$?" 1 "stripe, stdout /dev/full: exit 1"
like "$(cat full.err)" "^mspay: standard output is /dev/full: nothing charged" "stripe, /dev/full: says so"
is "$(gwdouble_stats | jget requests)" 0 "stripe, /dev/full: no request reached the gateway"

closed_run mspay -g stripe -u "$GW_URL"
is "$?" 1 "stripe, nobody reads stdout: exit 1"
like "$(cat closed.err)" "nobody reads standard output" "stripe, closed pipe: says so"
is "$(gwdouble_stats | jget requests)" 0 "stripe, closed pipe: no request reached the gateway"

mspay -f full.csv <in >/dev/full 2>lfull.err
is "$?" 1 "ledger, stdout /dev/full: exit 1"
is "$(grep -c '"o[12]"' full.csv 2>/dev/null || echo 0)" 0 "ledger, /dev/full: nothing deducted"

closed_run mspay -f closed.csv
is "$?" 1 "ledger, nobody reads stdout: exit 1"
is "$(grep -c '"o[12]"' closed.csv 2>/dev/null || echo 0)" 0 "ledger, closed pipe: nothing deducted"

# the reader goes away in the middle: no charge is started after that
python3 - "$GW_URL" <<'PY' >mid.out 2>mid.err
import json, os, subprocess, sys
with open("mid.in", "w") as f:
    for i in range(40):
        f.write(json.dumps({"type": "charge", "settlement": "m%d" % i, "user": "ann",
                            "customer": "cus_%d" % i, "amount": 100, "currency": "EUR",
                            "key": "k-m%d" % i}) + "\n")
p = subprocess.Popen(["mspay", "-g", "stripe", "-u", sys.argv[1], "-P", "1", "--rate", "20"],
                     stdin=open("mid.in"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
p.stdout.readline()
p.stdout.close()
print(p.wait())
PY
is "$(cat mid.out)" 1 "the reader leaves after one answer: exit 1"
n=$(gwdouble_stats | jget requests)
is "$(( n <= 3 ))" 1 "the reader leaves after one answer: at most the charges in flight went on ($n)"

done_testing
