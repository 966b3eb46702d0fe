#!/bin/sh
# Replication: a site that has been down for a while catches up by
# internal initialisation and serves reads.  Site c of three is stopped;
# the master takes enough events to write several log files; once
# Berkeley DB lets it (a master that loses a client holds its old log for
# 30 s, DB_REGENV_TIMEOUT) the old files are removed as an admin's log
# cleanup does (db5.3_archive -d), so the master no longer has the log c
# would need.  Restarted, c finds itself outdated, gets the databases
# page by page, says it is in step, and has every take.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/replication.sh"

plan 13

command -v db5.3_archive >/dev/null && command -v db5.3_stat >/dev/null ||
    missing "db5.3_archive and db5.3_stat (Debian package db5.3-util)"

A=iso14443a:04A1B2C3
P1=$(free_port) P2=$(free_port) P3=$(free_port)
TAKES=20000	# about 1.1 KB of log each: 20 MB, two 10 MB log files

# since LINE ERE [SECONDS]: group.err gets a line matching ERE after its
# first LINE lines (event-driven, like wait_line)
since() {
	timeout "${3:-60}" sh -c 'tail -n +"$1" -F group.err 2>/dev/null | grep -Eq -m1 -- "$2"' \
	    sh "$(($1 + 1))" "$2"
}
# stat SITE TEXT: the figure db5.3_stat -r gives on the line naming TEXT
stat() {
	db5.3_stat -r -h "$1" 2>/dev/null | awk -v t="$2" 'index($0, t) { print $1; exit }'
}
# log_files SITE: the numbers of SITE's log files, lowest first
log_files() {
	ls "$1" | sed -n 's/^log\.0*\([0-9][0-9]*\)$/\1/p' | sort -n
}

mscart init -d a -s 127.0.0.1:$P1 -c &&
    mscart init -d b -s 127.0.0.1:$P2 -p 127.0.0.1:$P1 -p 127.0.0.1:$P3 &&
    mscart init -d c -s 127.0.0.1:$P3 -p 127.0.0.1:$P1 -p 127.0.0.1:$P2
replicate a
wait_line group.err "a: this site is the master" 60
replicate b
replicate c
wait_line group.err "b: in step with the master" 60 &&
    wait_line group.err "c: in step with the master" 60
ok $? "three sites, a the master, b and c in step"

python3 - "$A" $TAKES <<'PY'
import json, sys
card, n = sys.argv[1], int(sys.argv[2])
with open("setup", "w") as o:
    o.write('{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}\n')
    o.write(json.dumps({"type": "user", "user": "alice", "name": "Alice",
        "cards": [card], "currency": "EUR"}, separators=(",", ":")) + "\n")
    for u in range(100):
        o.write(json.dumps({"type": "user", "user": "u%d" % u, "name": "User %d" % u,
            "cards": ["iso14443a:%08X" % (0x20000000 + u)]}, separators=(",", ":")) + "\n")
with open("first", "w") as o:
    for i in range(1, 11):
        o.write(json.dumps({"type": "take", "ts": "2026-11-28T10:00:%02d.000Z" % i,
            "robot": "r7", "seq": i, "slot": "A1", "sku": "cola", "card": card},
            separators=(",", ":")) + "\n")
# while c is down: every 100th take is alice's, the others the users'
with open("later", "w") as o:
    for i in range(1, n + 1):
        c = card if i % 100 == 0 else "iso14443a:%08X" % (0x20000000 + i % 100)
        o.write(json.dumps({"type": "take", "ts": "2026-11-28T11:00:00.000Z",
            "robot": "r8", "seq": i, "slot": "A%d" % (i % 20), "sku": "cola",
            "card": c}, separators=(",", ":")) + "\n")
PY
IN=setup until_acked 102 mscart apply -d a &&
    IN=first until_acked 10 mscart serve -d a --role robot:r7
ok $? "the master takes the catalogue and alice's first 10 takes"

# ----- c goes down -----
# an outdated client is what this is about: none yet
outdated=$(stat c "outdated conditions detected")
is "$outdated" 0 "c has not been outdated (its first join was no such thing)"
kill -TERM "$PID_c"
wait "$PID_c"
ok $? "c stops"
c_last=$(log_files c | tail -n 1)

IN=later until_acked $TAKES mscart apply -d a
ok $? "the master takes $TAKES more while c is down"
diag "master's log files: $(log_files a | tr '\n' ' ')"

# Berkeley DB holds a master's log for 30 s after a client's connection
# breaks; then what is before the last checkpoint and what every
# connected site has acknowledged may go.  Polled: nothing says when.
_i=0
while [ -z "$(db5.3_archive -h a 2>/dev/null)" ] && [ $_i -lt 90 ]; do
	sleep 0.5
	_i=$((_i + 1))
done
db5.3_archive -d -h a
ok $? "the admin's log cleanup removes the master's old log files"
a_first=$(log_files a | head -n 1)
[ "$a_first" -gt "$c_last" ]
ok $? "the master's first log file ($a_first) is after c's last ($c_last)"
mscart report -d a >master.report 2>/dev/null
mscart show -d a -a alice >master.alice 2>/dev/null

# ----- c comes back -----
lines=$(grep -c . group.err)
replicate c
since "$lines" "c: in step with the master 127.0.0.1:$P1" 60
ok $? "c comes back and says it is in step"
[ "$(stat c "outdated conditions detected")" -gt "$outdated" ] &&
    [ "$(log_files c | head -n 1)" -ge "$a_first" ]
ok $? "by internal initialisation: outdated, its log now starts where the master's does"
[ "$(stat c "outdated conditions detected")" -gt "$outdated" ] ||
    diag "$(db5.3_stat -r -h c)"

# the last commits may still be on their way: looked at every 0.2 s
poll 100 "$(cat master.report)" mscart report -d c >/dev/null 2>&1
run mscart report -d c
is "$RC/$OUT" "0/$(cat master.report)" "c's report is the master's"
run mscart show -d c -a alice
is "$OUT" "$(cat master.alice)" "a read on c shows alice's takes made while it was down"
printf '%s\n' "$OUT" | python3 -c 'import json,sys
print(len(json.loads(sys.stdin.readline())["items"]))' >alice.items
is "$(cat alice.items)" $((10 + TAKES / 100)) "all $((10 + TAKES / 100)) of them"
run mscart verify -d c
like "$RC/$ERR" "^0/mscart: verify: [0-9]+ lines, 0 settlements, 0 problems$" \
    "c verifies clean"

kill -TERM "$PID_a" "$PID_b" "$PID_c"
wait "$PID_a" "$PID_b" "$PID_c"
done_testing
