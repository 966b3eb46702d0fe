#!/bin/sh
# mscart record's watchdog: another process on the outbox is SIGKILLed
# while it holds Berkeley DB's log mutex (tests/lib/diewrite.c kills it
# inside its first log write), so record's next commit blocks for good.
# The watchdog starts record again with what it held in memory: every
# line comes out once, stamped with the next seq, nothing lost.
. "$(dirname "$0")/lib.sh"

SHIM=$MS_BUILD/tests/diewrite.so
need_preload "$SHIM"
OB=$T/ob

ev() {
	printf '{"type":"take","ts":"2026-11-28T10:00:00.000Z","slot":"A1","sku":"s%d","card":"line:x"}\n' "$1"
}

mkfifo in
spawn in out err mscart record -d "$OB" -r r1 -w 1
rec=$BG_PID
exec 3>in
{ ev 1; ev 2; ev 3; } >&3
wait_line out '"seq":3' 20
ok $? "record stamps the first three events"

# the killer: a second writer that dies holding the log mutex
ev 99 | env DIEWRITE_ON=/log. LD_PRELOAD="$SHIM" mscart record -d "$OB" -r r1 >/dev/null 2>&1
is $? 137 "the other writer was SIGKILLed inside a log write"

# five lines and the start of a sixth, in one write: record's commit of
# them blocks; its watchdog must carry the half line over too
{ ev 4; ev 5; ev 6; ev 7; ev 8; printf '{"type":"take","ts":"2026-11-28T10:00:00.000Z",'; } >&3
wait_line err 'stuck behind a killed process; starting again' 20
ok $? "the watchdog fired"
wait_line out '"seq":8' 30
ok $? "after the restart the five events are stored and written"
printf '"slot":"A1","sku":"s9","card":"line:x"}\n' >&3
ev 10 >&3
wait_line out '"seq":10' 20
ok $? "the half line, completed later, and one more follow"
exec 3>&-
wait $rec
is $? 0 "record exits 0 at the end of its input"
is "$(sed -n 's/.*"sku":"s\([0-9]*\)".*"seq":\([0-9]*\).*/\1=\2/p' out | tr '\n' ' ')" \
    "1=1 2=2 3=3 4=4 5=5 6=6 7=7 8=8 9=9 10=10 " \
    "every line once, in order, seqs 1 to 10 with none skipped or repeated"
is "$(grep -c 's99' out)" 0 "the killed writer's event is not there"

# push: its link is held at a gate, so the ten events are sent but not
# yet acknowledged when another writer dies holding the log mutex; the
# acks then make push write to the outbox, which blocks until its own
# watchdog starts it again.
SRV=$T/server
for i in 1 2 3 4 5 6 7 8 9 10; do
	printf '{"type":"product","sku":"s%d","name":"S%d","price":100,"currency":"JPY"}\n' $i $i
done >catalog
run mscart import -c -d "$SRV" catalog
is "$RC" 0 "the server's catalogue"
mkfifo gate
printf '%s\n' "if [ -p '$T/gate' ]; then echo started >'$T/link.up'" \
    "cat '$T/gate' >/dev/null; rm -f '$T/gate'; fi" \
    "exec mscart serve --role robot:r1 -d '$SRV'" >link.sh
spawn /dev/null push.out push.err mscart push -f -w 1 -r r1 -d "$OB" -- sh link.sh
push=$BG_PID
wait_line link.up started 20
ok $? "push has the outbox open and starts its link"
ev 98 | env DIEWRITE_ON=/log. LD_PRELOAD="$SHIM" mscart record -d "$OB" -r r1 >/dev/null 2>&1
is $? 137 "another writer dies inside a log write"
echo open >gate
wait_line push.err 'push: the outbox is stuck behind a killed process; starting again' 20
ok $? "push's watchdog fired"
wait_line push.err 'push: up to date at r1:10' 30
ok $? "the push started again is up to date"
kill -TERM $push
wait $push
is $? 0 "push stops cleanly on SIGTERM, through the process it started"
run mscart report -b robot -d "$SRV"
is "$(printf '%s\n' "$OUT" | jget count) $(printf '%s\n' "$OUT" | jget amount)" "10 1000" \
    "the server holds each of the ten takes once"
done_testing
