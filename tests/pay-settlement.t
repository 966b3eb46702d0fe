#!/bin/sh
# Settlements end and never charge twice (issue 13, mscart's side of
# points 2-5): what is charged is frozen when the settlement opens, failed
# and declined settlements end with their lines unpaid, a decline follows
# a retry schedule, a user with no payment reference is never sent.  The
# pipeline cases count charges at the gateway double.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

MSCART_DB=$T/db
export MSCART_DB
KEY=sk_test_settlement_9876543210
export MSPAY_KEY=$KEY
seq=0
ev() {	# ev TYPE FIELDS: an event from robot r1 with the next seq
	seq=$((seq + 1))
	printf '{"type":"%s","ts":"2026-11-28T10:00:%02d.000Z","robot":"r1","seq":%d%s}\n' \
	    "$1" $((seq % 60)) "$seq" "$2"
}
take() {	# take USER: one cola (not in a pipeline: seq must count up)
	ev take ",\"slot\":\"A1\",\"sku\":\"cola\",\"card\":\"line:$1\"" >take.in
	mscart apply <take.in >/dev/null
}
user() {	# user NAME [EXTRA]
	printf '{"type":"user","user":"%s","name":"%s","cards":["line:%s"],"currency":"EUR"%s}\n' \
	    "$1" "$1" "$1" "${2:-}" | mscart apply >/dev/null
}
charged() {	# charged SETTLEMENT KEY STATUS [EXTRA]: 150 EUR
	printf '{"type":"charged","settlement":"%s","key":"%s","status":"%s","amount":150,"currency":"EUR"%s}\n' \
	    "$1" "$2" "$3" "${4:-}"
}
get() { printf '%s\n' "$1" | jget "$2"; }

printf '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}\n' | mscart import -c

# --- point 2: frozen when the settlement opens
user ann ',"payment":"cus_ann1","payment_method":"pm_ann1"'
take ann
run mscart due -u ann
c1=$OUT
is "$(get "$c1" customer)/$(get "$c1" payment_method)/$(get "$c1" attempt)" "cus_ann1/pm_ann1/1" \
    "due: the charge names the payment reference and method, attempt 1"
like "$(get "$c1" first_attempt)" '^20[0-9-]+T' "due: first_attempt is set"
is "$(get "$c1" last_attempt)" null "due: a first attempt has no last_attempt"
user ann ',"payment":"cus_ann2","payment_method":"pm_ann2"'
run mscart due -u ann
c2=$OUT
is "$(get "$c2" key)" "$(get "$c1" key)" "due again: the same key"
is "$(get "$c2" customer)/$(get "$c2" payment_method)/$(get "$c2" description)" \
    "cus_ann1/pm_ann1/$(get "$c1" description)" \
    "due again after the payment reference changed: the same customer, method and description"
is "$(get "$c2" first_attempt)/$(get "$c2" attempt)" "$(get "$c1" first_attempt)/2" \
    "due again: the same first_attempt, attempt 2"
is "$(get "$c2" last_attempt)" "$(get "$c1" first_attempt)" "due again: last_attempt is when it was last printed"

# the pipeline: the answer is lost, the user's reference changes, the next
# run sends the same body under the same key: one charge, no mismatch
gwdouble_start --faults 1 --only drop --key "$KEY" || exit 1
user bea ',"payment":"cus_bea1"'
take bea
mscart due -u bea | mspay -g stripe -u "$GW_URL" --retries 0 | mscart settle >s1.out 2>s1.err
is "$(jget state <s1.out)" open "pipeline: the answer was lost, the settlement stays open"
user bea ',"payment":"cus_bea2"'
mscart due -u bea | mspay -g stripe -u "$GW_URL" --retries 0 | mscart settle >s2.out 2>s2.err
sb=$(jget settlement <s2.out)
is "$(jget state <s2.out)" paid "pipeline: the next run is paid"
is "$(gwdouble_charges "$sb")/$(gwdouble_stats | jget mismatch)" "1/0" \
    "pipeline: one charge at the gateway, no idempotency mismatch"

# --- point 3: failed settlements end; their lines are unpaid and voidable
user cid ',"payment":"cus_cid"'
take cid
run mscart due -u cid
sc=$(get "$OUT" settlement)
kc=$(get "$OUT" key)
charged "$sc" "$kc" failed ',"code":"resource_missing","message":"No such customer"' >cf
run -i cf mscart settle
is "$RC/$(get "$OUT" state)/$(get "$OUT" code)" "0/failed/resource_missing" \
    "settle failed: the settlement ends failed, with the gateway's code"
run mscart show cid
is "$(get "$OUT" status)/$(get "$OUT" items.0.state)" "attention/unpaid" \
    "settle failed: the user is marked, the line is unpaid again"
line=$(get "$OUT" items.0.id)
run mscart void -m "never paid" "$line"
is "$RC" 0 "settle failed: the line can be voided"
run mscart due -u cid
is "$OUT" "" "nothing is due once it is voided"

# an answer that may have charged something waits for an admin
user dan ',"payment":"cus_dan"'
take dan
run mscart due -u dan
sd=$(get "$OUT" settlement)
kd=$(get "$OUT" key)
charged "$sd" "$kd" failed ',"code":"gateway_mismatch","gateway_id":"ch_x"' >cm
run -i cm mscart settle
is "$(get "$OUT" state)/$(get "$OUT" gateway_id)" "review/ch_x" "a mismatched answer: held for review"
run mscart show dan
is "$(get "$OUT" status)/$(get "$OUT" items.0.state)" "attention/settling" "review: the user is marked, the line still settling"
run mscart due -u dan
is "$OUT" "" "review: due does not print it again"
charged "$sd" "$kd" succeeded ',"gateway_id":"ch_x"' >cr
run -i cr mscart settle
is "$RC/$(get "$OUT" state)" "0/paid" "review: an admin ends it with a charged line"

# --- point 4: after a decline, the retry schedule
user eli ',"payment":"cus_eli"'
take eli
decline() {	# decline: due (waiting 0), then a decline for what it printed
	run mscart due -u eli -w 0s
	charged "$(get "$OUT" settlement)" "$(get "$OUT" key)" declined ',"code":"card_declined"' |
	    mscart settle >/dev/null
}
decline
run mscart due -u eli
is "$OUT" "" "declined once: not charged again at once"
like "$ERR" "^mscart: due: eli: declined 1 time: next attempt after 20" "declined once: due says when"
run mscart show eli
is "$(get "$OUT" status)" attention "declined: the user is marked"
decline
decline
run mscart due -u eli -w 0s
is "$OUT" "" "declined three times: not charged again, even after the wait"
like "$ERR" "declined 3 times in a row: not charged again until the payment reference changes" \
    "declined three times: due says so"
user eli ',"payment":"cus_eli_new"'
run mscart due -u eli
is "$(get "$OUT" customer)" cus_eli_new "a new payment reference: charged again at once"

# the pipeline: a declined card is not charged every night
gwdouble_start --key "$KEY" || exit 1
user fay ',"payment":"cus_decline_fay"'
take fay
for night in 1 2 3; do
	mscart due -u fay 2>>nights.err | mspay -g stripe -u "$GW_URL" | mscart settle >/dev/null
done
n=$(gwdouble_stats | python3 -c 'import json,sys; print(sum(1 for k in json.load(sys.stdin)["attempts"] if k))')
is "$n" 1 "three nights in a row: the declined card was tried once"

# --- point 5: no payment reference: never sent, said clearly
user gus
take gus
run mscart due -u gus
is "$OUT" "" "no payment reference: no charge line"
like "$ERR" "^mscart: due: gus: no payment reference" "no payment reference: due says so"
printf '{"type":"pay","user":"gus"}\n' | mscart apply >pay.out
sg=$(jget settlement <pay.out)
run mscart due -u gus
is "$OUT" "" "a settlement opened by pay, no payment reference: not printed"
like "$ERR" "$sg: user gus has no payment reference: failed" "... ended failed, with the reason"
run mscart show gus
is "$(get "$OUT" items.0.state)/$(get "$OUT" status)" "unpaid/attention" "... its line is unpaid again, the user marked"

done_testing
