#!/bin/sh
# mscart: 4 writers and 2 readers on one environment at once.  Totals add
# up exactly and nobody hangs (deadlocks are detected and retried).
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
GEN=$MS_TOP/tests/mscart/gen.py
N=800	# takes per writer
python3 "$GEN" setup 40 10 >setup
run -i setup mscart import -c
is "$RC" 0 "setup"

expect=0
for w in 1 2 3 4; do
	python3 "$GEN" takes "w$w" 1 $N 40 10 "$w" >takes.$w 2>sum.$w
	expect=$((expect + $(cat sum.$w)))
done
python3 "$GEN" queries 1500 40 >queries

# small batches so that the writers interleave many transactions
pids=
for w in 1 2 3 4; do
	timeout 120 mscart apply -b 7 <takes.$w >acks.$w 2>err.$w &
	pids="$pids $!"
done
for r in 1 2; do
	timeout 120 mscart serve --role admin -b 5 <queries >carts.$r 2>rerr.$r &
	pids="$pids $!"
done
# a 5th writer opens settlements meanwhile (a user with nothing unpaid
# yet gets a refusal, so its exit status is not checked)
for i in 1 2 3 4 5 6 7 8 9 10; do
	printf '{"type":"pay","user":"u%d"}\n' "$i"
done >paylines
timeout 120 mscart apply -b 1 <paylines >pays 2>perr &
paypid=$!
st=0
for p in $pids; do
	wait "$p" || st=$?
done
is "$st" 0 "every process finished in time with status 0"
wait "$paypid"
prc=$?
[ "$prc" -le 1 ] && [ "$(grep -c . pays)" = 10 ]
ok $? "the paying writer answered its 10 lines in time"

for w in 1 2 3 4; do
	is "$(grep -c '"status":"applied"' acks.$w)" $N "writer $w: $N takes applied"
done
for r in 1 2; do
	is "$(grep -c '"type":"cart"' carts.$r)" 1500 "reader $r: every query answered"
done
run mscart report -b robot
count=$(printf '%s\n' "$OUT" | python3 -c 'import json,sys
rows=[json.loads(l) for l in sys.stdin if l.strip()]
print(sum(r["count"] for r in rows), sum(r["amount"] for r in rows))')
is "$count" "$((4 * N)) $expect" "the ledger holds every take once, totals add up exactly"
run mscart log
is "$(printf '%s\n' "$OUT" | grep -c '"what":"take"')" $((4 * N)) "one audit record per take"

# Two writers racing on the same robot's events, one in seq order and
# one backwards: every event is applied by exactly one of them.
python3 "$GEN" takes same 1 400 40 10 9 >same.fwd 2>/dev/null
sed '1!G;h;$!d' same.fwd >same.back
timeout 120 mscart apply -b 3 <same.fwd >same.1 2>same.e1 &
p1=$!
timeout 120 mscart apply -b 5 <same.back >same.2 2>same.e2 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
is "$r1 $r2" "0 0" "both racing writers finished with status 0"
is "$(cat same.1 same.2 | grep -c '"status":"applied"')" 400 \
    "the same 400 events from two writers: each applied once"
is "$(cat same.1 same.2 | grep -c '"status":"duplicate"')" 400 \
    "and once a duplicate"
run mscart verify
is "$RC" 0 "verify passes"
done_testing
