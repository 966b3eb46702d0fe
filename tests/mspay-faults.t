#!/bin/sh
# mspay against the fault-injecting gateway double (tests/gwdouble.py):
# every settlement charged exactly once, every output line right.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

# verdicts FILE: "STATUS<TAB>description" lines (0 = pass) from a
# python check, "#<TAB>detail" lines as diagnostics.
verdicts() {
	while IFS='	' read -r _s _d; do
		if [ "$_s" = "#" ]; then diag "$_d"; else ok "$_s" "$_d"; fi
	done <"$1"
}

KEY=sk_test_faults_0123456789
export MSPAY_KEY=$KEY

# --- 1000 charges, 20% of keys meet a fault
gwdouble_start --faults 0.2 --seed faults-t --late 0.8 --retry-after 1 \
    --key "$KEY" --log req.log || exit 1
python3 - <<'PY' >in.ndjson
import json
for i in range(1000):
    cust = "cus_decline%d" % i if i % 97 == 5 else \
        "cus_nocard%d" % i if i % 211 == 3 else "cus_%d" % i
    print(json.dumps({"type": "charge", "settlement": "s%04d" % i, "user": "u%d" % i,
                      "customer": cust, "amount": 100 + i,
                      "currency": "JPY" if i % 10 == 0 else "EUR",
                      "key": "settle-s%04d-1" % i, "description": "tab %d" % i}))
PY
run -i in.ndjson mspay -g stripe -u "$GW_URL" -P 16 -T 0.5 --backoff 0.02 --retries 6
is "$RC" 0 "1000 charges with faults: exit 0 (every charge answered)"
is "$ERR" "" "1000 charges with faults: nothing on stderr"
printf '%s\n' "$OUT" >out.ndjson
gwdouble_stats >stats.json
python3 - in.ndjson out.ndjson stats.json req.log >verdicts <<'PY' || fail "analysis ran"
import json, sys
inp = [json.loads(l) for l in open(sys.argv[1])]
out = [json.loads(l) for l in open(sys.argv[2])]
st = json.load(open(sys.argv[3]))
log = [json.loads(l) for l in open(sys.argv[4])]
n = 0
def t(cond, desc, extra=""):
    print("%d\t%s" % (0 if cond else 1, desc))
    if not cond and extra:
        print("#\t" + str(extra)[:2000])
bys = {}
for o in out:
    bys.setdefault(o["settlement"], []).append(o)
t(len(out) == 1000 and all(len(v) == 1 for v in bys.values()),
  "one charged line per settlement", len(out))
bad = []
for c in inp:
    o = bys.get(c["settlement"], [None])[0]
    charged = st["charges"].get(c["settlement"], [])
    want = "declined" if c["customer"].startswith(("cus_decline", "cus_nocard")) else "succeeded"
    if o is None or o["status"] != want or o["key"] != c["key"] or \
       o["amount"] != c["amount"] or o["currency"] != c["currency"] or \
       o["type"] != "charged":
        bad.append(("line", c, o))
    if want == "succeeded" and (len(charged) != 1 or o["gateway_id"] != charged[0]):
        bad.append(("charges", c["settlement"], charged, o))
    if want == "declined" and charged:
        bad.append(("declined but charged", c["settlement"], charged))
t(not [b for b in bad if b[0] == "line"], "every output line has the right status, key, amount, currency",
  [b for b in bad if b[0] == "line"][:3])
t(not [b for b in bad if b[0] != "line"], "every settlement charged exactly once at the double, id echoed",
  [b for b in bad if b[0] != "line"][:3])
t(all(v > 0 for v in st["faults"].values()) and len(st["faults"]) == 7,
  "all seven kinds of fault were injected", st["faults"])
t(sum(st["faults"].values()) >= 200, "at least 200 faults over the run", st["faults"])
t(st["mismatch"] == 0 and st["nokey"] == 0, "same key and same parameters on every retry", st)
t(st["retry_after_violations"] == 0, "Retry-After honoured", st)
bodies = {}
for r in log:
    bodies.setdefault(r["key"], set()).add(r["body"])
t(all(len(b) == 1 for b in bodies.values()), "every attempt for a key sent the same body")
t(all(r["auth"] == "Bearer ok" for r in log), "every request carries the Bearer key")
first = next(r for r in log if r["key"] == "settle-s0001-1")
t(first["path"] == "/v1/charges" and
  first["content_type"] == "application/x-www-form-urlencoded" and
  first["body"] == "amount=101&currency=eur&customer=cus_1&description=tab%201"
  "&metadata[settlement]=s0001&metadata[user]=u1",
  "request bytes: path, content type and form body exactly as expected", first)
j = next(r for r in log if r["key"] == "settle-s0010-1")
t(j["body"].startswith("amount=110&currency=jpy&"), "zero-decimal JPY sent as it is", j["body"])
PY
verdicts verdicts

done_testing
