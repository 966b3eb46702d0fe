#!/bin/sh
# Replication: a ledger as one of three sites of a Berkeley DB group on
# 127.0.0.1.  Events go through serve on the master; the master is
# SIGKILLed; a new one is elected and has every event that was answered
# "applied"; the old master rejoins and catches up.  With both clients
# stopped the master answers "retry", never "applied".
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/replication.sh"

plan 37

A=iso14443a:04A1B2C3
P1=$(free_port) P2=$(free_port) P3=$(free_port)

# take SEQ: robot r7's take number SEQ
take() {
	printf '{"type":"take","ts":"2026-11-28T10:%02d:%02d.000Z","robot":"r7","seq":%d,"slot":"A1","sku":"cola","card":"%s"}\n' \
	    $(($1 / 60 % 60)) $(($1 % 60)) "$1" "$A"
}
# events_acked FILE: the events FILE's replies acknowledge (applied or
# duplicate: both say the event is in the ledger), sorted
events_acked() {
	python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if not l.strip(): continue
    j=json.loads(l)
    if j.get("type")=="ack" and j.get("status") in ("applied","duplicate"):
        print(j["event"])' "$1" | sort
}
# events_in SITE: the events in alice's cart on SITE, sorted
events_in() {
	mscart show -d "$1" -a alice 2>/dev/null | python3 -c 'import json,sys
l=sys.stdin.readline()
for i in (json.loads(l)["items"] if l else []):
    print(i["event"])' | sort
}
# converge SITE N: SITE has N of alice's takes, or gets them within 20 s.
# Nothing tells when a client has applied the last commit (the quorum is
# the others), so its cart is looked at every 0.2 s.
converge() {
	_i=0
	while [ "$(events_in "$1" | grep -c .)" != "$2" ] && [ $_i -lt 100 ]; do
		sleep 0.2
		_i=$((_i + 1))
	done
	[ "$(events_in "$1" | grep -c .)" = "$2" ]
}
# ----- a group of three -----
mscart init -d a -s 127.0.0.1:$P1 -c
ok $? "init -c makes the group's first site"
grep -q "^repmgr_site 127.0.0.1 $P1 db_local_site on db_group_creator on" a/DB_CONFIG
ok $? "its DB_CONFIG names the local site"
mscart init -d b -s 127.0.0.1:$P2 -p 127.0.0.1:$P1 -p 127.0.0.1:$P3 &&
    mscart init -d c -s 127.0.0.1:$P3 -p 127.0.0.1:$P1 -p 127.0.0.1:$P2
ok $? "init -s -p makes the others"
grep -q "^repmgr_site 127.0.0.1 $P1 db_bootstrap_helper on" b/DB_CONFIG
ok $? "a joining site's DB_CONFIG names its helpers"

# the examples in contrib are what init writes (comments aside); s1
# starts the group, so init listens: it is made on 127.0.0.1 and its
# address put back in the file
PX=$(free_port)
mscart init -d ex1 -s 127.0.0.1:$PX -c -P 100 -p 10.0.0.2:7300 -p 10.0.0.3:7300 &&
    mscart init -d ex2 -s 10.0.0.2:7300 -P 90 -p 10.0.0.1:7300 -p 10.0.0.3:7300 &&
    mscart init -d ex3 -s 10.0.0.3:7300 -P 80 -p 10.0.0.1:7300 -p 10.0.0.2:7300
ok $? "init makes the three example sites"
sed -i "s/^repmgr_site 127.0.0.1 $PX /repmgr_site 10.0.0.1 7300 /" ex1/DB_CONFIG
for n in 1 2 3; do
	grep -v '^#' "$MS_TOP/contrib/DB_CONFIG.s$n.example" >ex.want
	grep -v '^#' ex$n/DB_CONFIG >ex.got
	cmp -s ex.want ex.got
	ok $? "contrib/DB_CONFIG.s$n.example is what init writes for s$n"
	grep -q "^#   mscart init -d /var/lib/ms/server -s 10.0.0.$n:7300 " \
	    "$MS_TOP/contrib/DB_CONFIG.s$n.example"
	ok $? "and names the command line that writes it"
done
run mscart init -d bad -s 10.0.0.2 -c
is "$RC/$ERR" "1/mscart: init: 10.0.0.2: not a site address like host:port" \
    "init -s refuses an address without a port"
run mscart init -d bad -s 10.0.0.2:7300
like "$RC/$ERR" "^2/.*needs a peer" "a site that does not start the group needs -p"
mscart init -d single && mscart init -d single -s 127.0.0.1:$P1 -c 2>single.err
is "$?/$(cat single.err)" "1/mscart: init: single: a single-site ledger already; a site of a group starts empty and gets the ledger from the master" \
    "an existing single-site ledger is not made a site"
grep -q repmgr_site single/DB_CONFIG
ok "$([ $? = 1 ] && echo 0 || echo 1)" "and its DB_CONFIG is left as it was"

replicate a
wait_line group.err "a: this site is the master" 60
ok $? "the first site is elected master"
replicate b
replicate c
wait_line group.err "b: a client; the master is 127.0.0.1:$P1" 60 &&
    wait_line group.err "c: a client; the master is 127.0.0.1:$P1" 60 &&
    wait_line group.err "b: in step with the master" 60 &&
    wait_line group.err "c: in step with the master" 60
ok $? "the other two join as clients of it and catch up"

printf '%s\n' \
    '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' \
    "{\"type\":\"user\",\"user\":\"alice\",\"name\":\"Alice\",\"cards\":[\"$A\"],\"currency\":\"EUR\"}" >setup
IN=setup REPLIES=setup.out until_acked 2 mscart apply -d a
ok $? "the master takes the catalogue"

# ----- writes on a client are refused, naming the master -----
take 1 >one
run -i one mscart serve -d b --role robot:r7
is "$(printf '%s\n' "$OUT" | jget code)/$(printf '%s\n' "$OUT" | jget master)" \
    "not-master/127.0.0.1:$P1" "a client answers a take with not-master and the master"
[ -z "$ERR" ] || diag "$ERR"

# ----- events through serve on the master, then SIGKILL it -----
i=1; while [ $i -le 40 ]; do take $i; i=$((i + 1)); done >first
IN=first REPLIES=replies until_acked 40 mscart serve -d a --role robot:r7
ok $? "the master acknowledges 40 takes"

mkfifo feed
spawn feed served serve.err mscart serve -d a --role robot:r7
PID_serve=$BG_PID
exec 3>feed
i=41; while [ $i -le 60 ]; do take $i >&3; i=$((i + 1)); done
wait_line served '"r7:60"|"line":20[,}]' 30
ok $? "serve answers 20 more takes on a held-open pipe"
i=61; while [ $i -le 80 ]; do take $i >&3; i=$((i + 1)); done
kill -KILL "$PID_serve" "$PID_a"
exec 3>&-
wait "$PID_serve" "$PID_a" 2>/dev/null
cat served >>replies
events_acked replies >acked
diag "$(grep -c . acked) takes acknowledged before the kill"

wait_line group.err "(b|c): this site is the master" 30
ok $? "a new master is elected"
if grep -q "b: this site is the master" group.err; then new=b other=c; else new=c other=b; fi
events_in $new >on_new
comm -23 acked on_new >lost
is "$(cat lost)" "" "every take acknowledged before the kill is on the new master"

# the robot sends again from its first unacknowledged take
i=1; while [ $i -le 80 ]; do take $i; i=$((i + 1)); done >all
IN=all REPLIES=again until_acked 80 mscart serve -d $new --role robot:r7
ok $? "the new master acknowledges all 80 takes sent again"
IN=all REPLIES=third until_acked 80 mscart serve -d $new --role robot:r7
is "$(grep -c '"duplicate"' attempt)" 80 "and knows them all when sent a third time"
is "$(mscart list -d $new robots)" '{"robot":"r7","events":80,"last_seq":80,"runs":1}' \
    "each take is in the ledger once"

# ----- the old master rejoins -----
replicate a
wait_line group.err "a: a client; the master is 127.0.0.1:" 60
ok $? "the old master rejoins as a client"
converge a 80
ok $? "and catches up: all 80 takes"
is "$(events_in $other | grep -c .)" 80 "the third site has them too (it made the quorum)"

# ----- push with several servers finds the master -----
i=1
while [ $i -le 10 ]; do
	printf '{"type":"take","ts":"2026-11-28T11:00:%02d.000Z","slot":"A1","sku":"cola","card":"%s"}\n' $i "$A"
	i=$((i + 1))
done | mscart record -r r9 -d robot >/dev/null
run mscart push -r r9 -d robot -s "mscart serve -d $other --role robot:r9" \
    -s "mscart serve -d $new --role robot:r9"
# each take acknowledged once: applied, or duplicate when a first answer
# was retry (a commit the quorum did not acknowledge within 2 s on a
# loaded machine, kept by the master) and push sent it again
is "$RC/$(printf '%s\n' "$OUT" | grep -Ec '"status":"(applied|duplicate)"')" "0/10" \
    "push -s goes past a client to the master and delivers all 10 takes"
like "$ERR" "not-master.*trying the next server" "push says why it moved on"
is "$(mscart list -d $new robots | grep r9)" '{"robot":"r9","events":10,"last_seq":10,"runs":1}' \
    "the master has robot r9's 10 takes once"

# ----- the settlement run belongs to the master -----
run mscart due -d $other
is "$RC/$OUT" "0/" "due on a client does nothing and exits 0"
like "$ERR" "due: $other: this site is not the master; the master is 127.0.0.1:[0-9]+; nothing done" \
    "and says why"

# ----- a partition: both clients stopped -----
if [ $new = b ]; then PID_other=$PID_c; else PID_other=$PID_b; fi
kill -STOP "$PID_a" "$PID_other"
take 81 >t81
run -i t81 mscart serve -d $new --role robot:r7
kill -CONT "$PID_a" "$PID_other"
is "$(printf '%s\n' "$OUT" | jget code)" retry \
    "with both clients stopped the master answers retry, not applied"
# woken, the clients may hold an election (they missed the heartbeats):
# the robot sends again after its backoff until a master takes it
_i=0
while :; do
	for s in a b c; do
		run -i t81 mscart serve -d $s --role robot:r7
		case $OUT in *'"status":"'*) break 2;; esac
	done
	[ $_i -lt 50 ] || break
	sleep 0.2
	_i=$((_i + 1))
done
like "$(printf '%s\n' "$OUT" | jget status)" '^(applied|duplicate)$' \
    "sent again with the group whole, the take is acknowledged"

kill -TERM "$PID_a" "$PID_b" "$PID_c"
wait "$PID_a" "$PID_b" "$PID_c"
ok $? "the replication processes stop cleanly on SIGTERM"
done_testing
