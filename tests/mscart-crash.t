#!/bin/sh
# mscart: SIGKILL apply at 20 moments while it ingests.  Every event it
# acknowledged is there exactly once afterwards, replaying the input adds
# nothing, and mscart verify and db5.3_verify pass.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
GEN=$MS_TOP/tests/mscart/gen.py
N=4000
python3 "$GEN" setup 30 10 >setup
run -i setup mscart import -c
is "$RC" 0 "setup"
python3 "$GEN" takes r1 1 $N 30 10 7 >takes 2>sum
expect=$(cat sum)

# A long-lived serve stays attached through all the kills: the recovery
# the next opener runs makes it reopen the environment and carry on.
mkfifo serve.in
bg sh -c 'exec mscart serve --role admin <serve.in >serve.out 2>serve.err'
exec 3>serve.in
printf '%s\n' '{"type":"query","id":"before","user":"u1"}' >&3
wait_line serve.out '"id":"before"' 20
ok $? "a long-lived serve answers before the kills"

# Each round replays the whole input (what a robot's forwarder does after
# a crash), waits until a random event further on is acknowledged, and
# kills at once; the kill lands in whatever the process is doing then.
acked=0
lost=0
for i in $(seq 1 20); do
	target=$(( (i * N) / 22 + $(python3 -c "import random; print(random.randrange(150))") ))
	mscart apply -b 25 <takes >acks.$i 2>err.$i &
	pid=$!
	wait_line acks.$i "\"event\":\"r1:$target\"" 60 || diag "round $i: no ack for $target"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	grep -o '"event":"r1:[0-9]*"' acks.$i >>acked.all
done
sort -u acked.all | sed 's/.*r1:\([0-9]*\)"/\1/' | sort -n >acked.seqs
is "$(grep -c . acked.seqs)" "$(tail -1 acked.seqs)" "acks came for a prefix of the input"

printf '%s\n' '{"type":"query","id":"after","user":"u1"}' >&3
wait_line serve.out '"id":"after"' 30
ok $? "and after them (it reopened the recovered environment)"
exec 3>&-

# every acknowledged event is in the ledger, exactly once
run mscart log
printf '%s\n' "$OUT" | grep '"what":"take"' | grep -o '"event":"r1:[0-9]*"' |
    sed 's/.*r1:\([0-9]*\)"/\1/' | sort -n >ledger.seqs
is "$(sort -n ledger.seqs | uniq -d | grep -c .)" 0 "no event was applied twice"
is "$(comm -23 acked.seqs ledger.seqs | grep -c .)" 0 "every acknowledged event survived the kills"

# finish the input, then replay it: nothing more is added
run -i takes mscart apply
is "$RC" 0 "the last round completes"
run mscart report -b robot
is "$(printf '%s\n' "$OUT" | jget count)/$(printf '%s\n' "$OUT" | jget amount)" "$N/$expect" \
    "all $N takes once, totals exact"
run -i takes mscart apply
is "$(printf '%s\n' "$OUT" | grep -c '"status":"duplicate"')" $N "replaying the input: all duplicates"
run mscart report -b robot
is "$(printf '%s\n' "$OUT" | jget count)" $N "and nothing was added"
run mscart verify
is "$RC" 0 "mscart verify passes"
bad=0
for f in "$MSCART_DB"/*.db; do
	db5.3_verify -h "$MSCART_DB" "${f##*/}" >/dev/null 2>&1 || { bad=1; diag "db5.3_verify ${f##*/} failed"; }
done
is "$bad" 0 "db5.3_verify passes on every database"
done_testing
