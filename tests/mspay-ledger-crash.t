#!/bin/sh
# The ledger gateway under SIGKILL: killed mid-batch, then rerun with the
# same input.  No record twice, no acknowledged record lost.
. "$(dirname "$0")/lib.sh"

N=50000
python3 - $N <<'PY' >in.ndjson
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"type": "charge", "settlement": "s%05d" % i, "user": "u%d" % (i % 50),
                      "customer": "emp-%d" % (i % 50), "amount": 100 + i % 900,
                      "currency": "EUR", "key": "settle-s%05d" % i,
                      "description": "tab, week %d" % (i % 4)}))
PY

# kill_run N: feed mspay the input a line per write(2), so it works in
# many small batches (each written and fsynced), and SIGKILL it as soon as
# it has acknowledged something: it is then somewhere in the middle of the
# stream -- reading, appending, in fsync or printing.
kill_run() {
	python3 -c 'import os
for l in open("in.ndjson", "rb"): os.write(1, l)' 2>/dev/null |
	    mspay -f payroll.csv >out.$1 2>err.$1 &
	_p=$!
	wait_line out.$1 '"status":"succeeded"' 20
	# $! is the pipeline's last process: mspay
	kill -KILL $_p
	wait $_p 2>/dev/null
	[ "$(wc -l <out.$1)" -lt $N ]
}

kill_run 1
ok $? "first run killed mid-stream"
kill_run 2
ok $? "second run killed mid-stream"

python3 - out.1 out.2 payroll.csv <<'PY'
import csv, json, sys
acked = {}
for f in sys.argv[1:3]:
    for l in open(f):
        if not l.endswith("\n"):
            continue	# a line cut by the kill is not an acknowledgement
        o = json.loads(l)
        acked[o["key"]] = o["gateway_id"]
rows = list(csv.reader(open(sys.argv[3])))
keys = [r[1] for r in rows[1:] if len(r) == 8]
missing = [k for k in acked if k not in keys]
dups = len(keys) - len(set(keys))
print("# acked %d, in file %d, missing %d, dups %d" % (len(acked), len(keys), len(missing), dups))
sys.exit(0 if acked and not missing and not dups else 1)
PY
ok $? "after two SIGKILLs: every acknowledged charge is in the file, none twice"

# a torn last record (as a kill during write(2) leaves it) is cut off
printf '"s99999","settle-s99' >>payroll.csv
run -i in.ndjson mspay -f payroll.csv
is "$RC" 0 "rerun: exit 0"
like "$ERR" "dropping an unfinished last record" "rerun: the torn record is reported and dropped"
printf '%s\n' "$OUT" >out.3
python3 - out.1 out.2 out.3 payroll.csv $N <<'PY'
import csv, json, sys
first = {}
for f in sys.argv[1:3]:
    for l in open(f):
        if l.endswith("\n"):
            o = json.loads(l)
            first[o["key"]] = o["gateway_id"]
final = [json.loads(l) for l in open(sys.argv[3])]
rows = list(csv.reader(open(sys.argv[4])))
n = int(sys.argv[5])
keys = [r[1] for r in rows[1:]]
ok = rows[0] == ["settlement", "key", "user", "customer", "amount", "currency", "description", "ts"]
ok = ok and len(keys) == n and len(set(keys)) == n
ok = ok and len(final) == n and all(o["status"] == "succeeded" for o in final)
ok = ok and all(first[o["key"]] == o["gateway_id"] for o in final if o["key"] in first)
sys.exit(0 if ok else 1)
PY
ok $? "rerun: $N records, each once; every charge succeeded; replays keep their first id"

# two at once: the second is refused, not interleaved
exec 9<payroll.csv
flock -x 9
run -i in.ndjson mspay -f payroll.csv
is "$RC" 1 "a ledger locked by another process: exit 1"
like "$ERR" "in use by another mspay" "a ledger locked by another process: refused"
exec 9<&-

done_testing
