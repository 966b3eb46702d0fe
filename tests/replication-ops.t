#!/bin/sh
# Replication, operations: status shows the group (sites, master, log
# position, lag, last election); reads on a client say it is one; a
# backup taken on a client restores into a single-site ledger with the
# master's report; verify works on a client; a site is added to a
# running group (it catches up by internal initialisation) and removed
# from it (replicate -r on the master).
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/replication.sh"

plan 39

A=iso14443a:04A1B2C3
P1=$(free_port) P2=$(free_port) P3=$(free_port)

take() {
	printf '{"type":"take","ts":"2026-11-28T10:%02d:%02d.000Z","robot":"r7","seq":%d,"slot":"A1","sku":"cola","card":"%s"}\n' \
	    $(($1 / 60 % 60)) $(($1 % 60)) "$1" "$A"
}
# same_report SITE: SITE's report is the master's, or becomes it within
# 20 s (nothing tells when a client applied the last commit)
report_of() { mscart report -d "$1" 2>/dev/null; }
same_report() {
	poll 100 "$(cat master.report)" report_of "$1" >/dev/null
}
# gjget SITE EXPR: a figure of SITE's status, by a Python expression on g
# (the group object) and s (the whole status)
gjget() {
	mscart status -d "$1" 2>/dev/null | python3 -c 'import json,sys
s=json.load(sys.stdin); g=s.get("group")
print(eval(sys.argv[1]))' "$2"
}

# ----- a group of two, then the catalogue and 30 takes -----
mscart init -d a -s 127.0.0.1:$P1 -c &&
    mscart init -d b -s 127.0.0.1:$P2 -p 127.0.0.1:$P1
ok $? "init two sites"
replicate a
wait_line group.err "a: this site is the master" 60
replicate b
wait_line group.err "b: in step with the master" 60
ok $? "a is master, b a client in step"

printf '%s\n' \
    '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' \
    "{\"type\":\"user\",\"user\":\"alice\",\"name\":\"Alice\",\"cards\":[\"$A\"],\"currency\":\"EUR\"}" >setup
IN=setup until_acked 2 mscart apply -d a
ok $? "the master takes the catalogue"
i=1; while [ $i -le 30 ]; do take $i; i=$((i + 1)); done >takes
IN=takes until_acked 30 mscart serve -d a --role robot:r7
ok $? "the master acknowledges 30 takes"
mscart report -d a >master.report 2>master.report.err
is "$?/$(cat master.report.err)" "0/" "report on the master says nothing of the group"

# ----- status -----
is "$(gjget a 'g["site"],g["role"],g["master"],g["lag_bytes"],g["in_step"]')" \
    "('127.0.0.1:$P1', 'master', '127.0.0.1:$P1', 0, True)" \
    "status on the master: this site is the master"
# connections settle within a heartbeat or two after a join (repmgr may
# drop one of two made at once): polled, the figure that ended it kept
poll 100 "[('127.0.0.1:$P2', True)]" \
    gjget a '[(x["site"],x["connected"]) for x in g["sites"]]' >listed
is "$(cat listed)" "[('127.0.0.1:$P2', True)]" "it lists the other site, connected"
is "$(gjget a 'g["last_election"]["master"]')" "127.0.0.1:$P1" \
    "and the last election it saw"
is "$(gjget b 'g["role"],g["master"],g["in_step"],sorted(g["log_lsn"])')" \
    "('client', '127.0.0.1:$P1', True, ['file', 'offset'])" \
    "status on the client: a client of a, with its log position"
same_report b
ok $? "the client has the master's report"
# caught up: at most a few records behind, those the master logged when
# its commands opened the databases (sent with its next commit)
CAUGHT="g['lag_bytes']<65536 and g['log_lsn']['file']==$(mscart status -d a 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["group"]["log_lsn"]["file"])') and not [p for p in g['problems'] if 'behind' in p]"
poll 100 True gjget b "$CAUGHT" >caught
is "$(cat caught)" True "caught up, it is at most a few records behind the master"
[ "$(cat caught)" = True ] || diag "$(mscart status -d a) $(mscart status -d b)"
mscart status -d a -p a.prom >/dev/null 2>&1
grep -Eq '^ms_replication_is_master 1$' a.prom &&
    grep -Eq '^ms_replication_sites 1$' a.prom &&
    grep -Eq '^ms_replication_sites_connected [01]$' a.prom &&
    grep -Eq "^ms_replication_site_connected\\{site=\"127.0.0.1:$P2\"\\} [01]\$" a.prom &&
    grep -Eq '^ms_replication_lag_bytes 0$' a.prom &&
    grep -Eq '^ms_replication_last_election_timestamp_seconds [0-9.]+$' a.prom
ok $? "the textfile has the group's figures"
mscart status -d b -H >b.table 2>&1
grep -Eq "^SITE +127.0.0.1:$P2, client, priority" b.table &&
    grep -Eq "^MASTER +127.0.0.1:$P1$" b.table &&
    grep -Eq "^LOG +[0-9]+/[0-9]+, [0-9]+ bytes behind$" b.table
ok $? "and the table"

# ----- reads on a client -----
run mscart report -d b
is "$RC/$OUT" "0/$(cat master.report)" "report works on a client"
like "$ERR" "^mscart: report: read on a client of the group \\(master 127.0.0.1:$P1\\), [0-9]+ bytes of log behind the master at [0-9]{2}:[0-9]{2}:[0-9]{2}$" \
    "and says it read on a client, how far behind"
run mscart show -d b alice
like "$RC/$ERR" "^0/mscart: show: read on a client" "show works on a client, and says so"
run mscart log -d b -n 1
like "$RC/$ERR" "^0/mscart: log: read on a client" "log works on a client, and says so"
printf '{"type":"query","user":"alice"}\n' >q
run -i q mscart serve -d b --role admin
like "$RC/$OUT" '^0/.*cola' "query through serve works on a client"
like "$ERR" "^mscart: query: read on a client" "and serve says so once on stderr"

# ----- writes that read lines are refused at once on a client -----
NOTMASTER="this site is not the master; the master is 127.0.0.1:$P1; run it there"
mscart show -d b alice >b.show 2>/dev/null
# stdin a FIFO held open and never written: a command that read it would
# wait until timeout stopped it (status 124)
mkfifo held
exec 4<>held
run -i held timeout 20 mscart settle -d b
is "$RC/$OUT/$ERR" "75//mscart: settle: b: $NOTMASTER" \
    "settle on a client says at once, before reading, that the master is elsewhere"
run -i held timeout 20 mscart import -d b
is "$RC/$OUT/$ERR" "75//mscart: import: b: $NOTMASTER" "so does import"
exec 4>&-
printf '{"type":"charged","settlement":"S1","key":"k1","status":"succeeded","amount":150,"currency":"EUR"}\n' >charged
run -i charged mscart settle -d b
is "$RC/$OUT/$ERR" "75//mscart: settle: b: $NOTMASTER" "with a charged line too"
printf '{"type":"user","user":"bob","name":"Bob","cards":["iso14443a:0B0B0B0B"]}\n' >bob
run -i bob mscart import -d b
is "$RC/$OUT/$ERR" "75//mscart: import: b: $NOTMASTER" "and with a user record"
run mscart restock -d b r7 A1 10
is "$RC/$OUT/$ERR" "75//mscart: restock: b: $NOTMASTER" "restock is refused on a client"
is "$(mscart report -d b 2>/dev/null)/$(mscart show -d b alice 2>/dev/null)" \
    "$(cat master.report)/$(cat b.show)" "the client's ledger is as it was"
run mscart show -d a bob
is "$RC/$OUT" "1/" "and nothing reached the master (no user bob)"

# ----- backup and verify on a client -----
run mscart verify -d b
is "$RC/$ERR" "0/mscart: verify: 30 lines, 0 settlements, 0 problems" \
    "verify works on a client"
run mscart backup -d b bk
is "$RC/$ERR" "0/" "backup works on a client"
grep -q repmgr bk/DB_CONFIG
is "$?" 1 "its DB_CONFIG has no replication lines"
run mscart restore bk single
is "$RC/$ERR" "0/mscart: verify: 30 lines, 0 settlements, 0 problems" \
    "the client's backup restores"
is "$(mscart report -d single 2>&1)" "$(cat master.report)" \
    "into a single-site ledger with the master's report"

# ----- adding a site to the running group -----
mscart init -d c -s 127.0.0.1:$P3 -p 127.0.0.1:$P1
replicate c
wait_line group.err "c: in step with the master 127.0.0.1:$P1" 60
ok $? "a new site joins the running group and catches up"
same_report c
ok $? "it serves the master's report (internal initialisation)"
# both connected: a connection comes up within a heartbeat or two
LISTED="sorted(x['site'] for x in g['sites'] if x['connected'])==sorted(['127.0.0.1:$P2','127.0.0.1:$P3'])"
# (repmgr may drop one of two connections made at once, so a site can
# show unconnected for a moment: the figure that ended the wait is kept)
poll 100 True gjget a "$LISTED" >listed
is "$(cat listed)" True "the master lists it, connected"
[ "$(cat listed)" = True ] || diag "$(mscart status -d a)"

# ----- removing one -----
run mscart replicate -d b -r 127.0.0.1:$P3
like "$RC/$ERR" "^1/.*not the master; the master is 127.0.0.1:$P1" "replicate -r on a client is refused"
kill -TERM "$PID_c"
wait "$PID_c"
run mscart replicate -d a -r 127.0.0.1:$P3
is "$RC/$ERR" "0/mscart: replicate: a: site 127.0.0.1:$P3 removed from the group" \
    "replicate -r on the master removes a stopped site"
is "$(gjget a '[x["site"] for x in g["sites"]], s["problems"].count("site 127.0.0.1:'$P3' is not connected")')" \
    "(['127.0.0.1:$P2'], 0)" "status no longer lists it"
take 31 >t31
IN=t31 until_acked 1 mscart serve -d a --role robot:r7
ok $? "the master and b still make a quorum of the two left"

kill -TERM "$PID_a" "$PID_b"
wait "$PID_a" "$PID_b"
ok $? "the replication processes stop"
done_testing
