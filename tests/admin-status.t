#!/bin/sh
# mscart status (issue 17, point 5): what a monitor reads: each robot's
# events and last contact, settlements by state, the review queue, the
# last settlement run and its results, the ledger's size and the last
# backup; -H a table, -p a node_exporter textfile written atomically;
# exit 1 while there is a problem.  Expected figures come from what the
# test sent, counted here.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
MS_CONF=/dev/null
export MSCART_DB MS_CONF
mscart init
printf '%s\n' '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' \
    '{"type":"user","user":"al","name":"Al","cards":["line:al"],"currency":"EUR","payment":"cus_al"}' \
    '{"type":"user","user":"bo","name":"Bo","cards":["line:bo"],"currency":"EUR","payment":"cus_bo"}' \
    '{"type":"user","user":"cy","name":"Cy","cards":["line:cy"],"currency":"EUR","payment":"cus_cy"}' >setup
mscart import setup

# ----- a fresh ledger -----
run mscart status
is "$RC" 1 "a ledger never backed up: exit 1"
is "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 1 "one NDJSON object"
is "$(printf '%s\n' "$OUT" | jget problems)" '["no backup was made"]' "the problem is named"
is "$(printf '%s\n' "$OUT" | jget robots)" '[]' "no robot yet"
is "$(printf '%s\n' "$OUT" | jget review_queue)" 0 "an empty review queue"
is "$(printf '%s\n' "$OUT" | jget settlement_run)" null "no settlement run yet"
is "$(printf '%s\n' "$OUT" | jget ledger)" "$T/db" "the ledger's directory"

# ----- takes: r1 over its link (serve), r2 from a file (apply) -----
tk() {	# tk ROBOT SEQ CARD-or-null
	c=null
	[ "$3" = null ] || c="\"line:$3\""
	printf '{"type":"take","ts":"2026-11-28T10:00:00.000Z","robot":"%s","seq":%s,"slot":"A1","sku":"cola","card":%s}\n' \
	    "$1" "$2" "$c"
}
{ tk r1 1 al; tk r1 2 bo; tk r1 3 cy; tk r1 4 null; } >r1.nd
{ tk r2 7 al; tk r2 8 null; tk r2 9 null; } >r2.nd
before=$(date -u +%s)
run -i r1.nd mscart serve --role robot:r1
is "$RC" 0 "r1's takes through its link"
after=$(date -u +%s)
run -i r2.nd mscart apply
is "$RC" 0 "r2's takes from a file"
run mscart status
is "$(printf '%s\n' "$OUT" | jget robots.0.robot):$(printf '%s\n' "$OUT" | jget robots.0.events):$(printf '%s\n' "$OUT" | jget robots.0.last_seq)" \
    "r1:4:4" "r1: 4 events, the last seq 4"
is "$(printf '%s\n' "$OUT" | jget robots.1.robot):$(printf '%s\n' "$OUT" | jget robots.1.events):$(printf '%s\n' "$OUT" | jget robots.1.last_seq)" \
    "r2:3:9" "r2: 3 events, the last seq 9"
contact=$(printf '%s\n' "$OUT" | jget robots.0.last_contact)
cs=$(python3 -c 'import sys,datetime; print(int(datetime.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()))' "$contact")
ok "$([ "$cs" -ge "$before" ] && [ "$cs" -le "$after" ]; echo $?)" \
    "r1's last contact is the time its link was served ($contact)"
is "$(printf '%s\n' "$OUT" | jget robots.1.last_contact)" null \
    "r2 never had a link: no contact"
is "$(printf '%s\n' "$OUT" | jget review_queue)" 3 "3 takes without a card wait for review"

# ----- a robot's push reports its outbox backlog in a hello -----
door='{"type":"door","ts":"2026-11-28T11:00:00.000Z","state":"open"}'
for i in 1 2 3 4 5; do echo "$door"; done | mscart record -r r3 -d "$T/robot" >/dev/null
run mscart push -r r3 -d "$T/robot" -- mscart serve --role robot:r3
is "$RC" 0 "push delivers r3's five events"
is "$(printf '%s\n' "$OUT" | grep -c '"status":"applied"'):$(printf '%s\n' "$OUT" | grep -c hello)" "5:0" \
    "its stdout has the five acks, not the hello's"
run mscart status
r3() { printf '%s\n' "$OUT" | python3 -c 'import json,sys; print([r for r in json.load(sys.stdin)["robots"] if r["robot"]=="r3"][0].get(sys.argv[1]))' "$1"; }
is "$(r3 events):$(r3 backlog)" "5:5" "r3: 5 events; its hello said 5 were waiting"
for i in 1 2; do echo "$door"; done | mscart record -r r3 -d "$T/robot" >/dev/null
run mscart push -r r3 -d "$T/robot" -- mscart serve --role robot:r3
run mscart status
is "$(r3 events):$(r3 backlog)" "7:2" "the next link: 2 were waiting"
# a server from before hello refuses it as unknown-type: push goes on
cat >old.py <<'PY'
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] == "hello":
        r = {"type": "error", "code": "unknown-type", "message": "unknown message type \"hello\"", "source": "-", "line": 1}
    else:
        r = {"type": "ack", "status": "applied", "of": m["type"], "event": "%s:%s" % (m["robot"], m["seq"])}
    sys.stdout.write(json.dumps(r, separators=(",", ":")) + "\n")
    sys.stdout.flush()
PY
for i in 1 2 3; do echo "$door"; done | mscart record -r r3 -d "$T/robot" >/dev/null
run mscart push -r r3 -d "$T/robot" -- python3 old.py
is "$RC" 0 "push to a server that does not know hello: exit 0"
unlike "$ERR" 'hello|unexpected|refuse|link' "and no complaint about it"
is "$(printf '%s\n' "$OUT" | grep -c '"status":"applied"'):$(printf '%s\n' "$OUT" | grep -c 'unknown-type')" "3:0" \
    "the three events delivered, the refusal of the hello not passed on"

# ----- a settlement run: al paid, bo declined, cy's refused line -----
mscart due >due.out
is "$(wc -l <due.out | tr -d ' ')" 3 "due: a charge for each of al, bo, cy"
charged() {	# charged USER STATUS
	l=$(grep "\"$1\"" due.out)
	printf '{"type":"charged","settlement":"%s","key":"%s","status":"%s","amount":%s,"currency":"EUR"}\n' \
	    "$(printf '%s\n' "$l" | jget settlement)" "$(printf '%s\n' "$l" | jget key)" \
	    "$2" "$(printf '%s\n' "$l" | jget amount)"
}
{ charged al succeeded; charged bo declined; charged al succeeded; } >run1
run -i run1 mscart settle
is "$RC" 0 "settle: one paid, one declined, al's result again"
run mscart status
is "$(printf '%s\n' "$OUT" | jget settlements)" \
    '{"open": 1, "review": 0, "declined": 1, "failed": 0, "paid": 1, "closed": 0}' \
    "settlements by state: cy's open, bo's declined, al's paid"
is "$(printf '%s\n' "$OUT" | jget settlement_run.result)/$(printf '%s\n' "$OUT" | jget settlement_run.paid)/$(printf '%s\n' "$OUT" | jget settlement_run.declined)/$(printf '%s\n' "$OUT" | jget settlement_run.failed)/$(printf '%s\n' "$OUT" | jget settlement_run.unknown)" \
    "ok/1/1/0/0" "the last run: ended well, 1 paid, 1 declined (the repeat changed nothing)"
is "$RC:$(printf '%s\n' "$OUT" | jget problems)" '1:["no backup was made"]' "still no backup"

# ----- a backup clears the last problem -----
run mscart backup "$T/bk"
is "$RC" 0 "backup"
run mscart status
is "$RC:$(printf '%s\n' "$OUT" | jget problems)" "0:[]" "nothing wrong: exit 0"
is "$(printf '%s\n' "$OUT" | jget backup.target):$(printf '%s\n' "$OUT" | jget backup.kind)" \
    "$T/bk:full" "the last backup: where, and a full one"
bytes=$(printf '%s\n' "$OUT" | jget ledger_bytes)
model=$(find "$T/db" -maxdepth 1 -type f ! -name '__db.*' -printf '%s\n' | awk '{ n += $1 } END { print n }')
is "$bytes" "$model" "ledger_bytes: the databases and logs, not the regions"

# ----- the textfile exporter -----
run mscart status -p "$T/ms.prom"
is "$RC:$OUT" "0:" "-p: exit 0, nothing on stdout"
ok "$([ -f "$T/ms.prom" ] && [ ! -e "$T/ms.prom.tmp" ]; echo $?)" "the file is there, its .tmp renamed"
is "$(stat -c %a "$T/ms.prom")" 644 "readable by the collector's user"
prom() { grep -E "^$1 " "$T/ms.prom" | awk '{ print $2 }'; }
is "$(prom 'ms_settlements\{state="open"\}'):$(prom 'ms_settlements\{state="paid"\}'):$(prom 'ms_settlements\{state="declined"\}')" \
    "1:1:1" "ms_settlements by state"
is "$(prom ms_review_queue_items)" 3 "ms_review_queue_items"
is "$(prom 'ms_robot_events\{robot="r1"\}'):$(prom 'ms_robot_events\{robot="r2"\}')" "4:3" "ms_robot_events"
is "$(prom 'ms_robot_last_contact_timestamp_seconds\{robot="r1"\}' | cut -d. -f1)" "$cs" \
    "ms_robot_last_contact_timestamp_seconds of r1, in seconds"
is "$(grep -c 'robot="r2"' "$T/ms.prom")" 2 "r2 has events and a seq but no contact time nor backlog"
is "$(prom 'ms_robot_outbox_backlog_events\{robot="r3"\}')" 2 "ms_robot_outbox_backlog_events of r3"
is "$(prom 'ms_settlement_run_last_results\{result="paid"\}'):$(prom ms_settlement_run_last_success)" "1:1" \
    "the last run's results and success"
is "$(prom ms_ledger_bytes)" "$model" "ms_ledger_bytes"
like "$(prom ms_backup_last_timestamp_seconds)" '^[0-9]+\.[0-9]{3}$' "ms_backup_last_timestamp_seconds"
is "$(prom ms_status_problems)" 0 "ms_status_problems"
is "$(grep -c '^# TYPE ms_[a-z_]* gauge$' "$T/ms.prom")" "$(grep -c '^# HELP ms_' "$T/ms.prom")" \
    "every metric has HELP and TYPE"
unlike "$(grep -v '^#' "$T/ms.prom" | grep -vE '^ms_[a-z_]+(\{[a-z]+="[A-Za-z0-9._@-]+"\})? -?[0-9.]+$')" '.' \
    "every sample line is in the exposition format"

# ----- the table -----
run env TZ=Asia/Tokyo mscart status -H
is "$RC" 0 "-H exits 0"
like "$OUT" 'REVIEW QUEUE +3' "-H: the review queue"
like "$OUT" 'SETTLEMENT RUN +[0-9-]+ [0-9:]+ JST, ok: 1 paid, 1 declined, 0 failed, 0 unknown' \
    "-H: the last run in the shop's time"
like "$OUT" 'r1 +4 +4 +- [0-9-]+ [0-9:]+ JST' "-H: r1 with its contact in the shop's time"

# ----- a run that did not end well -----
{ charged cy unknown; echo '{"type":"charged","settlement":"nope"}'; } >run2
run -i run2 mscart settle
is "$RC" 1 "settle with a refused line exits 1"
run mscart status
is "$RC" 1 "status exits 1 after a bad run"
is "$(printf '%s\n' "$OUT" | jget settlement_run.result):$(printf '%s\n' "$OUT" | jget settlement_run.unknown)" \
    "failed:1" "the run failed; its unknown result counted"
is "$(printf '%s\n' "$OUT" | jget problems)" '["the last settlement run did not end well"]' "and named"

# ----- usage -----
run mscart status -x
is "$RC" 2 "a bad option: usage, exit 2"
like "$ERR" 'usage: mscart status \[-Hh\] \[-d dir\] \[-p file\]' "the usage line"
run mscart status -p "$T/nodir/ms.prom"
is "$RC" 1 "-p into a missing directory: exit 1"
like "$ERR" "mscart: $T/nodir/ms.prom.tmp: " "the file is named"
done_testing
