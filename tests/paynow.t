#!/bin/sh
# Pay at the device, now (issue 16): the settlement service
# (mscart due -f | mspay | mscart settle) charges a terminal's pay within
# seconds, exactly once, and serve tells the terminal the outcome on the
# same connection.  Charges are counted at the gateway double.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

MSCART_DB=$T/db
export MSCART_DB
KEY=sk_test_paynow_0123456789
export MSPAY_KEY=$KEY
get() { printf '%s\n' "$1" | jget "$2"; }
seq=0
take() {	# take USER...: one cola each
	for u in "$@"; do
		seq=$((seq + 1))
		printf '{"type":"take","ts":"2026-11-28T10:00:%02d.000Z","robot":"r1","seq":%d,"slot":"A1","sku":"cola","card":"line:%s"}\n' \
		    $((seq % 60)) "$seq" "$u"
	done >take.in
	mscart apply <take.in >/dev/null
}
user() {	# user NAME PAYMENT
	printf '{"type":"user","user":"%s","name":"%s","cards":["line:%s"],"currency":"JPY","payment":"%s"}\n' \
	    "$1" "$1" "$1" "$2"
}
# the settlement service, as contrib/ms-settle-now.service runs it,
# each program its own background job joined by FIFOs (and without the
# terminal's fd 3, so that its end reaches serve): svc_start URL N
svc_start() {
	rm -f c1.$2 c2.$2
	mkfifo c1.$2 c2.$2
	: >due.$2.err
	spawn /dev/null c1.$2 due.$2.err sh -c 'exec "$@" 3>&-' sh mscart due -f
	DUE_PID=$BG_PID
	spawn c1.$2 c2.$2 pay.$2.err sh -c 'exec "$@" 3>&-' sh mspay -g stripe -u "$1"
	spawn c2.$2 settle.$2.out settle.$2.err sh -c 'exec "$@" 3>&-' sh mscart settle
	SETTLE_PID=$BG_PID
	wait_line due.$2.err 'following settlements' 10
}
svc_stop() {	# SIGTERM to due -f; the rest drain and end
	kill -TERM "$DUE_PID"
	wait "$DUE_PID"
	_due=$?
	wait "$SETTLE_PID"
	SVC_RC=$_due/$?
}
attempts() {	# attempts KEY: requests the double saw under KEY
	gwdouble_stats | python3 -c 'import json, sys
print(json.load(sys.stdin)["attempts"].get(sys.argv[1], 0))' "$1"
}

mscart init
printf '{"type":"product","sku":"cola","name":"Cola","names":{"ja":"コーラ"},"price":150,"currency":"JPY"}\n' |
    mscart import
{
	user alice cus_alice
	user bob cus_decline_bob
	user carol cus_carol
	user dave cus_dave
	user erin cus_erin
	printf '{"type":"user","user":"nopay","name":"nopay","cards":["line:nopay"],"currency":"JPY"}\n'
	i=1
	while [ $i -le 50 ]; do
		user t$i cus_t$i
		i=$((i + 1))
	done
} | mscart apply >/dev/null
take alice bob carol dave nopay
gwdouble_start --latency 0.05 --key "$KEY" || exit 1

# --- a serve waiting for an outcome answers other lines meanwhile
mkfifo a.in
spawn a.in a.out a.err mscart serve --role terminal:alice
SERVE_PID=$BG_PID
exec 3>a.in
printf '{"type":"pay","id":"p1","user":"alice","wait":60}\n' >&3
wait_line a.out '"type":"settlement"' 10
sa=$(jget settlement <a.out)
printf '{"type":"query","id":"q1","user":"alice"}\n' >&3
wait_line a.out '"type":"cart"' 10
is "$(sed -n 2p a.out | jget type)/$(grep -c outcome a.out)" "cart/0" \
    "serve: with no settlement service, the pay waits and a query is answered meanwhile"

# --- the service starts: the waiting terminal hears "paid"
svc_start "$GW_URL" 1 || fail "due -f says it is following"
wait_line a.out '"type":"outcome"' 10
o=$(grep outcome a.out)
is "$(get "$o" id)/$(get "$o" settlement)/$(get "$o" state)" "p1/$sa/paid" \
    "serve: the outcome comes on the same connection, with the pay's id"
is "$(gwdouble_charges "$sa")" 1 "gateway: alice's settlement charged once"
exec 3>&-
wait "$SERVE_PID"
is "$?" 0 "serve: ends at the end of its input"

# --- a declined card: the reason a person can act on
run sh -c 'printf "{\"type\":\"pay\",\"user\":\"bob\",\"wait\":20}\n" |
    mscart serve --role terminal:bob'
o=$(printf '%s\n' "$OUT" | grep outcome)
is "$RC/$(get "$o" state)/$(get "$o" code)" "0/declined/insufficient_funds" \
    "pay, then end of input: serve waits for the outcome: declined"
is "$(get "$o" reason)" "not enough money on the card, see the office" \
    "declined: a reason a person can act on"

# --- no card on file: due -f ends it unsent, and rings for the device
start=$(date +%s)
run sh -c 'printf "{\"type\":\"pay\",\"user\":\"nopay\",\"wait\":60}\n" |
    mscart serve --role terminal:nopay'
o=$(printf '%s\n' "$OUT" | grep outcome)
is "$(get "$o" state)/$(get "$o" code)/$(get "$o" reason)" \
    "failed/no-payment/no card on file, see the office" \
    "no payment reference: failed, with what to do"
ok $([ $(($(date +%s) - start)) -lt 30 ] && echo 0 || echo 1) \
    "no payment reference: told at once, not at the end of the wait"

# --- a device that goes away before the outcome asks again
run sh -c 'printf "{\"type\":\"pay\",\"user\":\"carol\",\"wait\":0}\n" |
    mscart serve --role terminal:carol'
sc=$(printf '%s\n' "$OUT" | head -1 | jget settlement)
is "$(printf '%s\n' "$OUT" | grep outcome | jget state)" pending \
    "wait 0: the outcome is pending at once"
wait_line settle.1.out "\"settlement\":\"$sc\".*\"state\":\"paid\"" 10
run sh -c "printf '{\"type\":\"query\",\"id\":\"q2\",\"settlement\":\"$sc\"}\n' |
    mscart serve --role terminal:carol"
is "$(get "$OUT" type)/$(get "$OUT" id)/$(get "$OUT" state)" "outcome/q2/paid" \
    "query by settlement, later: paid"
run sh -c "printf '{\"type\":\"query\",\"settlement\":\"$sc\"}\n' |
    mscart serve --role terminal:bob"
is "$(get "$OUT" type)/$(get "$OUT" code)" "error/invalid" \
    "query by settlement: another user's terminal hears of no such settlement"

# --- SIGTERM ends due -f; the pipeline drains
svc_stop
is "$SVC_RC" "0/0" "due -f: SIGTERM ends it with 0, settle sees the end"

# --- the nightly batch and the service print the same settlement at once
run sh -c 'printf "{\"type\":\"pay\",\"user\":\"dave\"}\n" |
    mscart serve --role terminal:dave'
sd=$(get "$OUT" settlement)
kd=$(get "$OUT" key)
# The batch's due prints it first, while it is surely open (started after
# the service, a slow start under load found it already paid); the
# service then prints and charges it, and the batch sends its copy after.
mscart due >batch.due 2>batch.err
svc_start "$GW_URL" 2
wait_line settle.2.out "\"settlement\":\"$sd\"" 10
mspay -g stripe -u "$GW_URL" <batch.due 2>>batch.err | mscart settle >batch.out 2>>batch.err
is "$(attempts "$kd")" 2 "batch and service both sent dave's settlement"
is "$(gwdouble_charges "$sd")" 1 "batch and service: dave charged once at the gateway"
is "$(grep "\"$sd\"" batch.out | jget state)/$(grep "\"$sd\"" settle.2.out | jget state)" "paid/paid" \
    "batch and service: both record paid"
svc_stop

# --- the gateway's answer is lost: mspay asks again under the same key
GW1=$GW_URL
gwdouble_start --latency 0.05 --key "$KEY" --faults 1 --only drop || exit 1
svc_start "$GW_URL" 3
take erin	# after the batch, which would have charged it
run sh -c 'printf "{\"type\":\"pay\",\"user\":\"erin\",\"wait\":30}\n" |
    mscart serve --role terminal:erin'
se=$(printf '%s\n' "$OUT" | head -1 | jget settlement)
ke=$(printf '%s\n' "$OUT" | head -1 | jget key)
is "$(printf '%s\n' "$OUT" | grep outcome | jget state)" paid \
    "answer lost: the terminal still hears paid"
is "$(gwdouble_charges "$se")/$(attempts "$ke")" "1/2" \
    "answer lost: charged once, the second attempt a replay"
svc_stop

# --- 50 terminals pay at once: each charged once, each told
GW_URL=$GW1
i=1
while [ $i -le 50 ]; do take t$i; i=$((i + 1)); done
svc_start "$GW_URL" 4
pids=
i=1
while [ $i -le 50 ]; do
	printf '{"type":"pay","user":"t%d","wait":60}\n' $i >t$i.in
	mscart serve --role terminal:t$i <t$i.in >t$i.out 2>t$i.err &
	pids="$pids $!"
	i=$((i + 1))
done
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
is "$bad" 0 "50 terminals: every serve ends with 0"
told=$(cat t*.out | grep -c '"type":"outcome".*"state":"paid"')
is "$told" 50 "50 terminals: each told paid"
once=$(gwdouble_stats | python3 -c 'import json, sys
c = json.load(sys.stdin)["charges"]
print(sum(1 for k, v in c.items() if len(v) == 1), sum(1 for v in c.values() if len(v) > 1))')
is "$once" "53 0" "gateway: each of the 50 settlements (and the 3 before) charged once, none twice"
svc_stop

done_testing
