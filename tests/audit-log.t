#!/bin/sh
# The audit trail (issue 17, point 8): every "what" the code can write is
# documented in mscart(1), "The audit trail" (a grep of the source, as
# man.t greps the pages, for this one check), and a day's changes, one of
# each kind, come out of mscart log with a documented "what" and a "who"
# of the documented scheme: robot:ID, terminal:USER, admin:COMMAND@LOGIN.
. "$(dirname "$0")/lib.sh"

# the values documented: the .It Ql items of the section
sed -n '/^\.Ss The audit trail/,/^\.Ss Roles/p' "$MS_TOP/man/mscart.1" |
    sed -n '/^\.Bl -tag -width return-unmatched/,/^\.El/p' |
    sed -n 's/^\.It Ql //p' | tr ',' '\n' | sed 's/^ *//; s/ *$//' | sort -u >documented
[ "$(wc -l <documented)" -ge 20 ]
ok $? "mscart(1) documents $(wc -l <documented | tr -d ' ') what values"

# the values the code writes: the literal "what" argument of every
# audit_add/audit_add_raw call, what cmd_edit.c's edits set or hand to
# their helper, the take records' tag, and the event types apply_event
# records by name
python3 - "$MS_TOP/src/mscart" >written <<'PY'
import glob, re, sys
def args(text, i):
    # the arguments of the call whose "(" is at i, split at top-level commas
    depth, cur, out, j, q = 0, "", [], i + 1, None
    while j < len(text):
        ch = text[j]
        if q:
            cur += ch
            if ch == "\\":
                cur += text[j + 1]; j += 1
            elif ch == q:
                q = None
        elif ch in "\"'":
            q = ch; cur += ch
        elif ch == "(":
            depth += 1; cur += ch
        elif ch == ")":
            if depth == 0:
                out.append(cur); return out
            depth -= 1; cur += ch
        elif ch == "," and depth == 0:
            out.append(cur); cur = ""
        else:
            cur += ch
        j += 1
    return out
found = set()
for f in glob.glob(sys.argv[1] + "/*.c"):
    text = open(f).read()
    for m in re.finditer(r"\baudit_add(_raw)?\(", text):
        a = args(text, m.end() - 1)
        if len(a) < 4:
            continue
        lits = re.findall(r'"([a-z][a-z-]*)"', a[3])
        found.update(lits)
    for m in re.finditer(r'\bwhat\s*=\s*([^;]*);', text):
        expr = re.sub(r'strn?cmp\([^)]*\)', '', m.group(1))
        found.update(re.findall(r'"([a-z][a-z-]*)"', expr))
    for m in re.finditer(r'AUDIT_TAKES_TAG\s+"\\"what\\":\\"([a-z-]+)', text):
        found.add(m.group(1))
    if f.endswith("/cmd_edit.c"):
        # an edit command hands its what to a helper: x_cmd(argc, argv, "what")
        found.update(re.findall(r'\w+\(argc, argv, "([a-z][a-z-]*)"\)', text))
for f in glob.glob(sys.argv[1] + "/*.h"):
    for m in re.finditer(r'AUDIT_TAKES_TAG\s+"\\"what\\":\\"([a-z-]+)', open(f).read()):
        found.add(m.group(1))
for w in sorted(found):
    print(w)
PY
for w in identify depart door alarm session-end; do echo "$w"; done >>written
sort -u written -o written
grep -qx take written && grep -qx settlement-open written && grep -qx card-add written
ok $? "the source's what values are found ($(wc -l <written | tr -d ' '))"
is "$(comm -23 written documented | tr '\n' ' ')" "" "every what the code writes is documented"

# --- a day of changes, one of each kind
MSCART_DB=$T/db
export MSCART_DB
USER=tester
export USER
seq=0
ev() {	# ev TYPE FIELDS: robot r1's next event
	seq=$((seq + 1))
	printf '{"type":"%s","ts":"2026-11-28T10:%02d:00.000Z","robot":"r1","seq":%d%s}\n' \
	    "$1" "$seq" "$seq" "$2"
}
{
	printf '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}\n'
	printf '{"type":"user","user":"alice","name":"Alice","cards":["line:alice"],"currency":"EUR","payment":"cus_a"}\n'
} | mscart import -c
{
	ev identify ',"card":"line:alice"'
	ev take ',"slot":"A1","sku":"cola","card":"line:alice"'
	ev take ',"slot":"A1","sku":"cola","card":"line:alice"'
	ev take ',"slot":"A2","sku":"gum","card":"line:alice"'
	ev take ',"slot":"A1","sku":"cola"'
	ev take ',"slot":"B1","sku":"cola","card":"line:bob"'
	ev return ',"slot":"A1","sku":"cola","card":"line:alice"'
	ev return ',"slot":"C9","sku":"cola","card":"line:alice"'
	ev depart ',"card":"line:alice"'
	ev door ',"state":"open"'
	ev alarm ',"reason":"take-without-identify","slot":"A1","sku":"cola"'
	ev session-end ',"card":"line:alice","takes":1,"returns":1,"reason":"door"'
} >events
mscart serve --role robot:r1 <events >/dev/null
printf '{"type":"product","sku":"gum","name":"Gum","price":50,"currency":"EUR"}\n' |
    mscart serve --role admin >/dev/null
printf '{"type":"product","sku":"tea","name":"Tea","price":90,"currency":"EUR"}\n' |
    mscart serve --role terminal:alice >/dev/null
mscart card add alice line:bob
mscart price cola 1.60
mscart block alice
mscart unblock alice
mscart due >charges
s=$(jget settlement <charges)
printf '{"type":"charged","settlement":"%s","key":"%s","status":"succeeded","amount":%s,"currency":"EUR","gateway_id":"ch_1"}\n' \
    "$s" "$(jget key <charges)" "$(jget amount <charges)" | mscart settle >/dev/null
paid=$(mscart show -a alice | python3 -c 'import json,sys
c = json.load(sys.stdin)
print([i["line"] if "line" in i else i["id"] for i in c["items"] if i["state"] == "paid"][0])')
mscart refund -m "stale" "$paid"
mscart void -m "no card" "$(mscart list review | jget id | head -n 1)"
mscart card remove alice line:bob

mscart log >log
whats=$(jget what <log | sort -u)
is "$(printf '%s\n' "$whats" | comm -23 - documented | tr '\n' ' ')" "" \
    "every what in the log is documented"
for w in take return-void return-unmatched identify depart door alarm session-end \
    forbidden product-add user-add held-priced card-claim card-add card-remove \
    price block unblock settlement-open charge charged settlement-end refund void; do
	printf '%s\n' "$whats" | grep -qx -- "$w"
	ok $? "the day's log has a $w entry"
done
run python3 -c 'import json,re,sys
pat = re.compile(r"^(robot:[^:@]+|terminal:[^:@]+|admin:[a-z-]+@tester)$")
bad = [e["who"] for e in map(json.loads, open("log")) if not pat.match(e["who"])]
print(" ".join(sorted(set(bad))))'
is "$OUT" "" "every who is robot:ID, terminal:USER or admin:COMMAND@LOGIN"
who_of() {	# who_of WHAT: the who values of its entries
	python3 -c 'import json,sys
print(" ".join(sorted({e["who"] for e in map(json.loads, open("log")) if e["what"] == sys.argv[1]})))' "$1"
}
is "$(who_of user-add)" "admin:import@tester" "import: admin:import@LOGIN"
is "$(who_of product-add)" "admin:import@tester admin:serve@tester" \
    "import and serve --role admin: admin:import@LOGIN, admin:serve@LOGIN"
is "$(who_of take)" "robot:r1" "a robot's takes: robot:r1"
is "$(who_of forbidden)" "terminal:alice" "a terminal's refused line: terminal:alice"
is "$(who_of charge)" "admin:due@tester" "due: admin:due@LOGIN"
is "$(who_of settlement-open)" "admin:due@tester" "the settlement due opened: admin:due@LOGIN"
is "$(who_of charged)" "admin:settle@tester" "settle: admin:settle@LOGIN"
is "$(who_of refund)/$(who_of void)" "admin:refund@tester/admin:void@tester" "refund and void name their command"
is "$(who_of price)/$(who_of block)" "admin:price@tester/admin:block@tester" "so do the edits"
run env -u USER mscart price cola 1.70
is "$(mscart log -n 1 | jget who)" "admin:price" "without USER: admin:COMMAND"
done_testing
